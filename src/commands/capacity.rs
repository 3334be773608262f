//! `surge capacity`: offer the scenario's journey mix at constant arrival rates, step by step as
//! [`crate::capacity::search`] asks, each step a whole `surge run` into a run directory of its own
//! (so `report`, `gate` and `replay` work on any step), measured over its hold; then write the answer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::capacity::answer::{self, Answer};
use crate::capacity::search::{Found, Next, Search, Verdict};
use crate::capacity::step::{self, Hold};
use crate::capacity::{charts, headroom, usl, Step};
use crate::cli::CapacityArgs;
use crate::engine;
use crate::exchange;
use crate::gate::{self, GateStatus, Rule};
use crate::plan::RunPlan;
use crate::rundir;
use crate::scenario::{Scenario, Source};
use crate::units::Positive;

use super::run::{self, LoadRequest, Loaded, RunConfig};
use super::{Error, Outcome};

/// Bisection stops when the last rate that held and the first that failed are this close.
const PRECISION: f64 = 0.05;
/// Samples of the scenario's curve for the headroom.
const FORECAST_SAMPLES: usize = 600;

pub async fn capacity(args: CapacityArgs) -> Result<Outcome, Error> {
    engine::catch_signals();
    let loaded = run::load(LoadRequest {
        scenario: &args.scenario,
        target: args.target.clone(),
        visits: None,
        time_scale: args.time_scale,
        seed: None,
        thresholds: &[],
        ignore_exchange_section: args.ignore_exchange_section,
    })?;
    let rules = slo_rules(&args, &loaded)?;
    let forecast = forecast(&loaded.plan);
    let peak = forecast.iter().map(|(_, rate)| *rate).fold(0.0, f64::max);
    let embedded = loaded.scenario.targets_embedded(args.target.as_deref());
    let max_rate =
        match (args.max_rate, embedded) {
            (Some(max), _) => max,
            (None, true) if peak > 0.0 => 10.0 * peak,
            (None, true) => {
                return Err(Error::Usage(format!(
                    "{}: no arrival curve to take 10× the peak of; give --max-rate",
                    args.scenario.display()
                )))
            }
            (None, false) => return Err(Error::Usage(
                "--max-rate is required with a --target: a capacity search pushes its target past \
                 what it holds, and surge never offers it more than you allow"
                    .into(),
            )),
        };
    let start = args.start_rate.unwrap_or(max_rate / 20.0).min(max_rate);
    let hold = args.step;
    let settle = args
        .settle
        .unwrap_or_else(|| (hold / 6).max(Duration::from_secs(1)));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(loaded.scenario.name()));
    prepare_out(&out, args.force)?;
    if !args.quiet {
        sayln!(
            "surge capacity: {} against {}, rates from {} to at most {} visits/s, {:.0} s steps \
             after {:.1} s of settle, SLOs {} → {}",
            loaded.scenario.name(),
            loaded.target.as_deref().unwrap_or("the embedded exchange"),
            answer::rate(start),
            answer::rate(max_rate),
            hold.as_secs_f64(),
            settle.as_secs_f64(),
            rules
                .iter()
                .map(|r| r.text.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            out.display()
        );
    }

    let search = Capacity {
        args: &args,
        loaded: &loaded,
        forecast,
        rules,
        out,
        max_rate,
        settle,
    };
    let mut steps: Vec<Step> = Vec::new();
    let stopped = search.run(start, &mut steps).await?;
    let answer = search.write_answer(&stopped, &steps)?;
    sayln!("\n{}", answer.sentence);
    if let Some(headroom) = &answer.headroom {
        sayln!("against the forecast: {}", headroom.sentence());
    }
    if let Some(note) = &answer.usl_note {
        sayln!("{note}");
    }
    sayln!("capacity directory: {}", search.out.display());
    Ok(match stopped {
        Stopped::Interrupted => Outcome::Interrupted,
        Stopped::Unreachable(why) => return Err(Error::NothingReached(why)),
        Stopped::Found(Found::Capacity(_) | Found::AtLeastMaxRate(_)) => {
            Outcome::Judged(GateStatus::Passed)
        }
        Stopped::Found(Found::SurgeWasTheLimit { .. }) => {
            Outcome::Judged(GateStatus::GeneratorInvalid)
        }
        Stopped::Found(Found::BelowLowest(_) | Found::Unfinished { .. }) => {
            Outcome::Judged(GateStatus::Failed)
        }
    })
}

/// Why the search stopped.
enum Stopped {
    Found(Found),
    /// A signal: the steps so far are written.
    Interrupted,
    /// Not one request of a step reached the target.
    Unreachable(String),
}

/// One search: what every step shares.
struct Capacity<'a> {
    args: &'a CapacityArgs,
    loaded: &'a Loaded,
    /// The scenario's own curve, (clock, visits/s): what the capacity is compared with.
    forecast: Vec<(f64, f64)>,
    rules: Vec<Rule>,
    out: PathBuf,
    max_rate: f64,
    settle: Duration,
}

impl Capacity<'_> {
    /// Step after step as the search asks, each measured into `steps`, until it has its answer.
    async fn run(&self, start: f64, steps: &mut Vec<Step>) -> Result<Stopped, Error> {
        let mut search = Search::new(start, self.max_rate, PRECISION);
        loop {
            let rate = match search.next_step() {
                Next::Try(rate) | Next::Confirm(rate) => rate,
                Next::Done(found) => return Ok(Stopped::Found(found)),
            };
            let index = steps.len();
            let run_dir = self.out.join(format!("step-{index:02}"));
            match self.run_step(rate, &run_dir).await?.result {
                Ok(Outcome::Interrupted) => return Ok(Stopped::Interrupted),
                Err(Error::NothingReached(why)) => {
                    let rate = answer::rate(rate);
                    return Ok(Stopped::Unreachable(format!(
                        "step {index} at {rate} visits/s: {why}"
                    )));
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            let hold = Hold {
                from: self.settle,
                until: self.settle + self.args.step,
            };
            let measured =
                step::measure(&run_dir, index, rate, hold, &self.rules).map_err(Error::Output)?;
            let verdict = if !measured.generator_valid {
                Verdict::GeneratorLimit
            } else if measured.holds {
                Verdict::Holds
            } else {
                Verdict::Fails
            };
            if !self.args.quiet {
                sayln!("{}", step_line(&measured));
            }
            search.record(rate, verdict);
            steps.push(measured);
        }
    }
    /// One step: the scenario at a constant `rate` (visits per scenario second) for settle + hold
    /// of wall time, cut a second after, into `run_dir`.
    async fn run_step(&self, rate: f64, run_dir: &Path) -> Result<run::Concluded, Error> {
        let loaded = self.loaded;
        let mut scenario = loaded.scenario.clone();
        let wall = self.settle + self.args.step;
        let time_scale = scenario.traffic.time_scale.0;
        let traffic = &mut scenario.traffic;
        traffic.span = Some(wall.mul_f64(time_scale));
        traffic.profile = None;
        traffic.stages = None;
        traffic.max_duration = None;
        let visits = (rate * wall.as_secs_f64() * time_scale).ceil().max(1.0) as u64;
        traffic.visits = Some(Positive(visits));
        let mut plan = RunPlan::new(
            &scenario,
            &loaded.program.weights(),
            &exchange::catalog::zips(),
        )?;
        // The hold's last interval ends inside the step; what is still in flight then is the tail.
        plan.cut_after = Some(wall + Duration::from_secs(1));
        rundir::prepare(run_dir, &self.args.scenario, false).map_err(Error::Output)?;
        // The step's own scenario, in its directory: `surge replay` and `surge gate` read it.
        let path = run_dir.join(rundir::SCENARIO_FILE);
        let text = step_scenario(&scenario, &self.rules);
        rundir::write_whole(&path, text.as_bytes()).map_err(Error::Output)?;
        scenario.source = Source { path, text };
        let step = Loaded {
            scenario,
            program: loaded.program.clone(),
            rules: self.rules.clone(),
            plan: Arc::new(plan),
            target: loaded.target.clone(),
        };
        // Quiet, and nothing besides the run directory: the search prints one line per step.
        let config = RunConfig {
            quiet: true,
            ..RunConfig::new(step, run_dir.to_path_buf())?
        };
        run::run_configured(&config).await
    }

    /// Build the answer from the steps; write it, and the charts, into the capacity directory.
    fn write_answer(&self, stopped: &Stopped, steps: &[Step]) -> Result<Answer, Error> {
        let (result, sentence) = match stopped {
            Stopped::Found(found) => answer::describe(found, steps),
            Stopped::Interrupted => (
                "interrupted",
                format!(
                    "interrupted after {} step(s): no capacity yet; every step so far is written",
                    steps.len()
                ),
            ),
            Stopped::Unreachable(why) => {
                ("unreachable", format!("the target was not reached: {why}"))
            }
        };
        let capacity = match stopped {
            Stopped::Found(Found::Capacity(rate)) => Some(*rate),
            _ => None,
        };
        let valid: Vec<(f64, f64)> = steps
            .iter()
            .filter(|s| s.generator_valid)
            .map(|s| (s.in_flight, s.served))
            .collect();
        let usl = usl::fit(&valid);
        let usl_note = match &usl {
            Some(fit) => fit.poor(),
            None => Some(format!(
                "the USL is not fitted: {} step(s) with a valid generator, 3 needed",
                valid.len()
            )),
        };
        let loaded = self.loaded;
        let headroom = capacity.and_then(|c| headroom::against(&self.forecast, c));
        let knee = answer::knee(steps);
        let answer = Answer {
            scenario: loaded.scenario.name().to_string(),
            target: loaded.target.clone().unwrap_or_else(|| "embedded".into()),
            time_scale: loaded.scenario.traffic.time_scale.0,
            slo: self.rules.iter().map(|r| r.text.clone()).collect(),
            max_rate: self.max_rate,
            step_s: self.args.step.as_secs_f64(),
            settle_s: self.settle.as_secs_f64(),
            result: result.to_string(),
            capacity,
            capacity_requests_per_s: capacity
                .and_then(|c| steps.iter().rev().find(|s| s.offered == c && s.holds))
                .map(|s| s.requests_per_s.clone())
                .unwrap_or_default(),
            failed_above: capacity.and_then(|c| answer::failed_above(c, steps)),
            sentence,
            knee,
            usl,
            usl_note,
            headroom,
            steps: steps.to_vec(),
        };
        answer.write(&self.out).map_err(Error::Output)?;
        if !steps.is_empty() {
            let dir = self.out.join(rundir::CHARTS_DIR);
            if let Err(e) = charts::draw(steps, capacity, knee, &dir) {
                eprintln!("error: cannot draw the capacity charts: {e}");
            }
        }
        Ok(answer)
    }
}

/// The rules a step must hold: `--slo`, else the scenario's thresholds; each checked against the
/// journey file's steps and stages as `surge run` checks thresholds.
fn slo_rules(args: &CapacityArgs, loaded: &Loaded) -> Result<Vec<Rule>, Error> {
    if args.slo.is_empty() {
        if loaded.rules.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no SLO to hold: give --slo RULE (e.g. --slo \"p95(visit) < 2s\" --slo \
                 \"error_rate < 1%\"), or thresholds in the scenario",
                args.scenario.display()
            )));
        }
        return Ok(loaded.rules.clone());
    }
    let steps: Vec<&str> = loaded
        .program
        .steps
        .names()
        .iter()
        .map(String::as_str)
        .collect();
    let proved = loaded.program.proved_stages();
    args.slo
        .iter()
        .map(|text| {
            let rule = gate::parse(text)?;
            rule.check_step(&steps)?;
            rule.check_stages(&proved)?;
            Ok(rule)
        })
        .collect()
}

/// `scenario` (its traffic already the step's) as a file that reads the same from the step's
/// directory: the step's traffic, the SLOs as its thresholds, its file paths made absolute.
fn step_scenario(scenario: &Scenario, rules: &[Rule]) -> String {
    let mut table: toml::Table = toml::from_str(&scenario.source.text).unwrap_or_default();
    // A name taken from the file's stem would become "scenario".
    table.insert("name".into(), scenario.name().into());
    let traffic = &scenario.traffic;
    let mut written = table
        .remove("traffic")
        .and_then(|t| t.as_table().cloned())
        .unwrap_or_default();
    for key in ["profile", "stages", "start_rate", "max_duration"] {
        written.remove(key);
    }
    let span = traffic.span.unwrap_or_default().as_secs_f64();
    written.insert("span".into(), format!("{span:.3}s").into());
    let visits = traffic.visits.map_or(1, |v| v.0);
    written.insert("visits".into(), (visits as i64).into());
    written.insert("time_scale".into(), traffic.time_scale.0.into());
    table.insert("traffic".into(), written.into());
    let slo: Vec<toml::Value> = rules.iter().map(|r| r.text.clone().into()).collect();
    table.insert("thresholds".into(), slo.into());
    let absolute = |written: &str| {
        crate::scenario::resolve(&scenario.source.path, Path::new(written))
            .display()
            .to_string()
    };
    if let Some(toml::Value::String(path)) = table.get_mut("journeys") {
        *path = absolute(path);
    }
    for (section, key) in [("data", "households"), ("http", "ca_file")] {
        let value = table
            .get_mut(section)
            .and_then(|s| s.as_table_mut())
            .and_then(|s| s.get_mut(key));
        if let Some(toml::Value::String(path)) = value {
            *path = absolute(path);
        }
    }
    format!(
        "# Written by surge capacity: {}, one step at a constant rate.\n{}",
        scenario.source.path.display(),
        toml::to_string(&table).unwrap_or_default()
    )
}

/// The scenario's own curve as (clock, visits per scenario second): the forecast.
fn forecast(plan: &RunPlan) -> Vec<(f64, f64)> {
    let Some(curve) = &plan.curve else {
        return Vec::new();
    };
    let scale = plan.visits_total as f64 / curve.area();
    (0..=FORECAST_SAMPLES)
        .map(|i| {
            let t = curve.span() * i as f64 / FORECAST_SAMPLES as f64;
            (plan.clock_start + t, curve.rate_at(t) * scale)
        })
        .collect()
}

/// One line per step on the console.
fn step_line(step: &Step) -> String {
    format!(
        "  step {:>2}: {:>8} visits/s offered, {:>8} served, p95(visit) {:.0} ms, errors {:.2} % — {}",
        step.index,
        answer::rate(step.offered),
        answer::rate(step.served),
        step.visit_p95_ms(),
        step.error_rate * 100.0,
        step.verdict()
    )
}

/// A capacity directory: new, or one this command wrote (replaced only with --force).
fn prepare_out(out: &Path, force: bool) -> Result<(), Error> {
    let holds = out.join(answer::JSON_FILE).exists() || out.join("step-00").exists();
    if holds && !force {
        return Err(Error::Usage(format!(
            "{} already holds a capacity search; choose another --out, or pass --force to replace it",
            out.display()
        )));
    }
    if holds {
        for entry in
            std::fs::read_dir(out).map_err(|e| Error::Output(rundir::RunDirError::read(out, e)))?
        {
            let path = entry
                .map_err(|e| Error::Output(rundir::RunDirError::read(out, e)))?
                .path();
            let ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("step-") || n == rundir::CHARTS_DIR || n.starts_with("capacity.")
            });
            if ours {
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(|e| Error::Output(rundir::RunDirError::write(&path, e)))?;
            }
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::Output(rundir::RunDirError::write(out, e)))
}

fn default_out(scenario: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("reports").join(format!("{scenario}-capacity-{stamp}"))
}
