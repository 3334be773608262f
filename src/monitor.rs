//! While a run goes: every interval, take what was measured and write it to `latency.hlog` and
//! `timeline.csv`, and redraw the progress line. The files grow by a few kilobytes an interval and
//! memory not at all, whatever the run's length.
//!
//! Rules that stop the run (`abort`) are judged by the gate, which sits above this module: the
//! command hands the monitor a [`Watch`] made by `gate::watch`, and the monitor feeds it each
//! interval.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine::{Ending, RunControl};
use crate::histogram::percentile_ms;
use crate::measure::{Interval, Recorder};
use crate::plan::RunPlan;
use crate::rundir::exemplars::{self, ExemplarsWriter};
use crate::rundir::failures::{self, FailuresWriter};
use crate::rundir::timeline::{self, TimelineWriter};
use crate::rundir::{hlog, IntervalData, RunDirError};
use crate::units::format_clock;

/// Judges each interval as it is written: given the interval and the wall seconds since the run's
/// start, why the run must stop now, if it must.
pub type Watch = Box<dyn FnMut(&IntervalData, f64) -> Option<String> + Send>;

pub struct MonitorConfig {
    pub run_dir: PathBuf,
    pub run_name: String,
    pub interval: Duration,
    pub plan: Arc<RunPlan>,
    pub recorder: Arc<Recorder>,
    /// The scenario clock's zero, and where to pull the brake when a rule aborts the run.
    pub control: Arc<RunControl>,
    /// The rules with `abort`, judged as the run goes; `None` when no rule can stop the run.
    pub abort: Option<Watch>,
    /// Draw the live progress line (a terminal, not `--quiet`).
    pub progress: bool,
    /// The most visits in flight at once, for the progress line (`None`: no cap).
    pub concurrency: Option<usize>,
}

/// A running monitor; `finish` writes the last interval and closes the files.
pub struct Monitor {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), RunDirError>>,
}

impl Monitor {
    /// Create the files (so a bad run directory fails before any traffic) and start writing.
    pub fn start(config: MonitorConfig) -> Result<Monitor, RunDirError> {
        let hlog_path = config.run_dir.join(hlog::FILE_NAME);
        let hlog_file =
            std::fs::File::create(&hlog_path).map_err(|e| RunDirError::write(&hlog_path, e))?;
        let timeline = TimelineWriter::create(
            &config.run_dir.join(timeline::FILE_NAME),
            &config.recorder.step_names(),
        )?;
        let failures = FailuresWriter::create(&config.run_dir.join(failures::FILE_NAME))?;
        let exemplars = ExemplarsWriter::create(&config.run_dir.join(exemplars::FILE_NAME))?;
        let (stop, stopped) = watch::channel(false);
        let writers = Writers {
            hlog_file,
            timeline,
            failures,
            exemplars,
        };
        let control = config.control.clone();
        let task = tokio::spawn(async move {
            let written = run(config, writers, stopped).await;
            // Nothing more it measures could be kept: the run ends now, and says why.
            if let Err(e) = &written {
                control.stop.trigger(Ending::WriteFailed(e.to_string()));
            }
            written
        });
        Ok(Monitor { stop, task })
    }

    pub async fn finish(self) -> Result<(), RunDirError> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_else(|e| {
            Err(RunDirError::write(
                std::path::Path::new(hlog::FILE_NAME),
                std::io::Error::other(e),
            ))
        })
    }
}

/// Whether stderr, where the progress line goes, is a terminal someone is watching.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// The files written interval by interval, created before any traffic.
struct Writers {
    hlog_file: std::fs::File,
    timeline: TimelineWriter,
    failures: FailuresWriter,
    exemplars: ExemplarsWriter,
}

async fn run(
    mut config: MonitorConfig,
    writers: Writers,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), RunDirError> {
    let Writers {
        mut hlog_file,
        mut timeline,
        mut failures,
        mut exemplars,
    } = writers;
    let hlog_path = config.run_dir.join(hlog::FILE_NAME);
    let hlog_error = |e| RunDirError::write(&hlog_path, e);
    let mut serializer = V2DeflateSerializer::new();
    // Intervals count from the scenario clock's zero when it is already set (`--start-at`), so
    // shards that share it cut their intervals at the same instants and merge interval by interval.
    let now = Instant::now();
    let started = config
        .control
        .origin
        .get()
        .copied()
        .filter(|origin| *origin <= now)
        .unwrap_or(now);
    let started_wall = SystemTime::now() - (now - started);
    let mut log = hlog::begin(
        &mut hlog_file,
        &mut serializer,
        &config.run_name,
        started_wall,
    )
    .map_err(hlog_error)?;
    let progress = progress_bar(&config);

    let passed = ((now - started).as_secs_f64() / config.interval.as_secs_f64()).floor() as u32;
    let first_tick = started + config.interval * (passed + 1);
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::from_std(first_tick), config.interval);
    // A stall skips to the next cut of the grid instead of moving every later cut.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // A run that starts after its shared zero (`--start-at` in the past) begins at the last cut
    // before now: nothing was measured before it.
    let mut interval_start = started + config.interval * passed;
    let mut intended_counter = config.plan.intended_counter();
    loop {
        let last = tokio::select! {
            _ = ticker.tick() => false,
            _ = stopped.changed() => true,
        };
        let now = Instant::now();
        let mut interval = config.recorder.take_interval();
        hlog::write_interval(
            &mut log,
            interval.latencies.iter().map(|(tag, h)| (tag.as_str(), h)),
            interval_start - started,
            now - interval_start,
        )
        .map_err(hlog_error)?;
        let origin = config.control.origin.get().copied();
        let clock = origin.map_or(String::new(), |o| {
            format_clock(config.plan.clock_at(now.saturating_duration_since(o)))
        });
        let intended = origin.and_then(|o| {
            let scenario_seconds =
                now.saturating_duration_since(o).as_secs_f64() * config.plan.time_scale;
            intended_counter
                .as_mut()
                .map(|counter| counter.count_until(scenario_seconds))
        });
        let row = interval.row(now - started, clock.clone(), intended);
        timeline.write(&row)?;
        for failed in &mut interval.failed {
            failed.clock.clone_from(&clock);
        }
        failures.write(&interval.failed)?;
        for example in &mut interval.exemplars {
            example.clock.clone_from(&clock);
            example.elapsed_s = (now - started).as_secs_f64();
        }
        exemplars.write(&interval.exemplars)?;
        if let Some(watch) = &mut config.abort {
            let data = interval.data(interval_start - started, row);
            if let Some(reason) = watch(&data, (now - started).as_secs_f64()) {
                config.control.abort(reason);
            }
        }
        show_progress(&progress, &config, &clock, &interval, now - interval_start);
        interval_start = now;
        if last {
            break;
        }
    }
    progress.finish_and_clear();
    Ok(())
}

fn progress_bar(config: &MonitorConfig) -> ProgressBar {
    let target = if config.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(config.plan.visits), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:24} {pos}/{len} visits started  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn show_progress(
    bar: &ProgressBar,
    config: &MonitorConfig,
    clock: &str,
    interval: &Interval,
    length: Duration,
) {
    let snapshot_started = bar.position() + interval.started;
    bar.set_position(snapshot_started);
    let rate = interval.started as f64 / length.as_secs_f64().max(1e-3);
    let errors = if interval.requests == 0 {
        0.0
    } else {
        100.0 * interval.failures as f64 / interval.requests as f64
    };
    let p95 = interval
        .latencies
        .last()
        .filter(|(_, h)| !h.is_empty())
        .map_or(0.0, |(_, h)| percentile_ms(h, 95.0));
    bar.set_message(format!(
        "clock {clock}  {rate:.0}/s  errors {errors:.2}%  visit p95 {p95:.0} ms  in flight {}{}",
        interval.in_flight,
        config
            .concurrency
            .map_or(String::new(), |limit| format!("/{limit}"))
    ));
}
