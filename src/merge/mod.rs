//! Shards of one run (`surge run --shard K/N`) made into one run directory: the shards checked to
//! be the whole of one run, their intervals added on the shared clock ([`intervals`]), their
//! applicants and failures joined ([`files`]), and the summary recomputed from the added
//! measurements — never an average of the shards' percentiles.

pub mod files;
pub mod intervals;

use std::path::{Path, PathBuf};

use crate::measure::summarize::{snapshot_of, summarize, RunFacts};
use crate::rundir::summary::{MergedShard, OpenFiles, ShardOf, Summary};
use crate::rundir::{enrollments, exemplars, failures, hlog, timeline, RunDirError, SCENARIO_FILE};

/// Why shards cannot be merged; nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The shards given are not exactly the shards of one finished run.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    RunDir(#[from] RunDirError),
}

/// One shard's run directory and its summary.
pub struct ShardRun {
    pub dir: PathBuf,
    pub summary: Summary,
}

impl ShardRun {
    fn label(&self) -> String {
        self.summary
            .shard
            .as_ref()
            .map_or_else(String::new, |s| format!("{}/{}", s.index, s.count))
    }
}

/// Read the shards and check they are every shard of one run, each once: same scenario (the
/// same file), seed, shard count, schedule and clock. A shard stopped part-way is refused unless
/// `allow_partial`. Returned in shard order.
pub fn check(dirs: &[PathBuf], allow_partial: bool) -> Result<Vec<ShardRun>, MergeError> {
    let mut shards: Vec<ShardRun> = Vec::new();
    let mut headers: Vec<(PathBuf, Option<String>)> = Vec::new();
    for dir in dirs {
        let refused = |why: String| MergeError::Refused(format!("{}: {why}", dir.display()));
        if !dir.join(crate::rundir::summary::FILE_NAME).exists() {
            return Err(refused(format!(
                "no {} — not a run directory, or the shard was killed before it could write \
                 one (SIGKILL, out of memory); run that shard again",
                crate::rundir::summary::FILE_NAME
            )));
        }
        let summary = Summary::read(dir)?;
        let Some(shard) = summary.shard.clone() else {
            return Err(refused(
                "not a shard: it was run without --shard K/N, so it holds its whole schedule"
                    .into(),
            ));
        };
        if summary.replay.is_some() {
            return Err(refused(
                "a replay (surge replay) of part of a shard, not a shard of the run".into(),
            ));
        }
        let expected = crate::plan::Shard::new(shard.index, shard.count)
            .map_err(|e| refused(format!("summary.json: shard {e}")))?
            .share_of(shard.visits_total);
        if summary.visits.planned != expected {
            return Err(refused(format!(
                "shard {}/{} planned {} visits, not {expected} of the {}: its summary.json was \
                 changed, or it ran only part of its schedule",
                shard.index, shard.count, summary.visits.planned, shard.visits_total
            )));
        }
        // Every file of it readable and of this shard, before anything is written.
        let header = check_files(dir, &summary, &shard)?;
        if let Some((first, first_header)) = headers.first() {
            if let (Some(a), Some(b)) = (first_header, &header) {
                if a != b {
                    return Err(refused(format!(
                        "{}'s columns are {b}, not {a} as in {}",
                        enrollments::FILE_NAME,
                        first.display()
                    )));
                }
            }
        }
        headers.push((dir.clone(), header));
        if summary.partial && !allow_partial {
            return Err(refused(format!(
                "shard {}/{} was stopped part-way ({}): its schedule was not all sent; run it \
                 again, or pass --allow-partial to merge what it measured",
                shard.index, shard.count, summary.ending
            )));
        }
        if summary.histograms.is_none() {
            return Err(refused(format!(
                "its summary.json has no histograms (written by surge {}); shards must be run \
                 with this surge",
                summary.surge_version
            )));
        }
        if let Some(first) = shards.first() {
            if let Some(why) = differs(&first.summary, &summary) {
                return Err(refused(format!(
                    "a shard of another run than {}: {why}",
                    first.dir.display()
                )));
            }
            let scenario = |run: &Path| std::fs::read(run.join(SCENARIO_FILE)).ok();
            if scenario(&first.dir) != scenario(dir) {
                return Err(refused(format!(
                    "a shard of another run than {}: its {SCENARIO_FILE} differs",
                    first.dir.display()
                )));
            }
        }
        if let Some(twin) = shards
            .iter()
            .find(|s| s.summary.shard.as_ref().map(|o| o.index) == Some(shard.index))
        {
            return Err(refused(format!(
                "shard {}/{} twice: {} is the same shard",
                shard.index,
                shard.count,
                twin.dir.display()
            )));
        }
        shards.push(ShardRun {
            dir: dir.clone(),
            summary,
        });
    }
    let count = shards
        .first()
        .and_then(|s| s.summary.shard.as_ref())
        .map_or(0, |s| s.count);
    let missing: Vec<String> = (0..count)
        .filter(|k| {
            !shards
                .iter()
                .any(|s| s.summary.shard.as_ref().map(|o| o.index) == Some(*k))
        })
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Refused(format!(
            "shard {} missing: give the run directory of every shard, 0 to {} (a merge of part of \
             a run would not be the run)",
            missing.join(", "),
            count.saturating_sub(1)
        )));
    }
    shards.sort_by_key(|s| s.summary.shard.as_ref().map_or(0, |o| o.index));
    Ok(shards)
}

/// Every file a merge reads from one shard, read through before anything is written: its
/// intervals (as many in `latency.hlog` as rows in `timeline.csv`, and some at all when it sent
/// requests), its applicants and failed visits (every row well-formed, of a visit of this shard,
/// at a step of the run), and its exemplars. A problem names the shard's file. Returns the
/// header of its `enrollments.csv`, if it has one.
fn check_files(
    dir: &Path,
    summary: &Summary,
    shard: &ShardOf,
) -> Result<Option<String>, MergeError> {
    let steps = summary.step_names();
    let interval = summary.interval_s;
    if !(interval > 0.0 && is_duration(interval)) {
        return Err(MergeError::Refused(format!(
            "{}: interval_s is {interval}, not an interval of a run",
            dir.join(crate::rundir::summary::FILE_NAME).display()
        )));
    }
    let intervals = crate::rundir::for_each_interval(dir, &steps, |_| {})?;
    let timeline_path = dir.join(timeline::FILE_NAME);
    let rows = timeline::read(&timeline_path, &steps)?;
    if let Some((i, row)) = rows
        .iter()
        .enumerate()
        .find(|(_, row)| !is_duration(row.elapsed_s))
    {
        return Err(MergeError::Refused(format!(
            "{} line {}: elapsed_s is {}, not a time since the run's start",
            timeline_path.display(),
            i + 2,
            row.elapsed_s
        )));
    }
    let rows = rows.len();
    let hlog_path = dir.join(hlog::FILE_NAME);
    let requests: u64 = summary.steps.values().map(|s| s.requests).sum();
    if intervals < rows || (intervals == 0 && requests > 0) {
        return Err(MergeError::Refused(format!(
            "{}: {intervals} intervals for the {rows} of {} and the {requests} requests of its \
             summary.json: the log was emptied or cut short (a full volume?); run that shard \
             again",
            hlog_path.display(),
            timeline::FILE_NAME
        )));
    }
    let foreign = |path: &Path, line: usize, visit: u64| {
        let owner = visit % shard.count.max(1);
        (owner != shard.index || visit >= shard.visits_total).then(|| {
            MergeError::Refused(format!(
                "{} line {line}: visit {visit} is not one of shard {}/{}'s visits (its ids are \
                 {} modulo {} below {}): the file was changed or mixed up with another shard's",
                path.display(),
                shard.index,
                shard.count,
                shard.index,
                shard.count,
                shard.visits_total
            ))
        })
    };
    let mut header = None;
    let path = dir.join(enrollments::FILE_NAME);
    if path.exists() {
        header = Some(csv_header(&path)?);
        for (i, row) in enrollments::read(&path)?.iter().enumerate() {
            if let Some(refused) = foreign(&path, i + 2, row.visit) {
                return Err(refused);
            }
        }
    }
    let path = dir.join(failures::FILE_NAME);
    if path.exists() {
        for (i, row) in failures::read(&path)?.iter().enumerate() {
            let line = i + 2;
            if let Some(refused) = foreign(&path, line, row.visit) {
                return Err(refused);
            }
            let bad = |what: String| {
                MergeError::Refused(format!("{} line {line}: {what}", path.display()))
            };
            if !row.clock.is_empty() && crate::units::parse_clock(&row.clock).is_err() {
                return Err(bad(format!(
                    "`{}` is not a clock time (HH:MM:SS)",
                    row.clock
                )));
            }
            if !steps.contains(&row.step.as_str()) {
                return Err(bad(format!(
                    "`{}` is not a step of the run ({})",
                    row.step,
                    steps.join(", ")
                )));
            }
        }
    }
    exemplars::read(dir)?;
    Ok(header)
}

/// Whether `seconds` can be a duration (0 or more, not too large for one).
fn is_duration(seconds: f64) -> bool {
    std::time::Duration::try_from_secs_f64(seconds).is_ok()
}

/// The header of a CSV file, for messages.
fn csv_header(path: &Path) -> Result<String, RunDirError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| RunDirError::csv(path, e))?;
    let header = reader.headers().map_err(|e| RunDirError::csv(path, e))?;
    Ok(header.iter().collect::<Vec<_>>().join(","))
}

/// How `other` is not a shard of the same run as `first`, if it is not.
fn differs(first: &Summary, other: &Summary) -> Option<String> {
    let (a, b) = (first.shard.as_ref()?, other.shard.as_ref()?);
    let checks = [
        ("scenario", first.scenario.clone(), other.scenario.clone()),
        ("seed", first.seed.to_string(), other.seed.to_string()),
        ("shard count", a.count.to_string(), b.count.to_string()),
        (
            "visits in the whole schedule",
            a.visits_total.to_string(),
            b.visits_total.to_string(),
        ),
        (
            "time scale",
            first.time_scale.to_string(),
            other.time_scale.to_string(),
        ),
        (
            "interval",
            format!("{} s", first.interval_s),
            format!("{} s", other.interval_s),
        ),
        (
            "clock start",
            first.clock_start.clone(),
            other.clock_start.clone(),
        ),
        (
            "steps",
            first.step_order.join(","),
            other.step_order.join(","),
        ),
        (
            "surge version",
            first.surge_version.clone(),
            other.surge_version.clone(),
        ),
        (
            "shared start (--start-at)",
            a.start_at.clone().unwrap_or_else(|| "none".into()),
            b.start_at.clone().unwrap_or_else(|| "none".into()),
        ),
        ("target", first.target.clone(), other.target.clone()),
    ];
    checks
        .into_iter()
        .find(|(_, x, y)| x != y)
        .map(|(what, x, y)| format!("its {what} is {y}, not {x}"))
}

/// The merged run's summary, recomputed from the shards' added measurements. The generator is
/// valid only if it was on every shard; the shards are listed with their verdicts.
pub fn summary(shards: &[ShardRun]) -> Result<Summary, MergeError> {
    let mut snapshots = shards.iter().map(|s| {
        snapshot_of(&s.summary)
            .map_err(|e| MergeError::Refused(format!("{}: {e}", s.dir.display())))
    });
    let Some(first) = snapshots.next() else {
        return Err(MergeError::Refused("no shard to merge".into()));
    };
    let mut snapshot = first?;
    for other in snapshots {
        snapshot.add(&other?);
    }
    let head = &shards[0].summary;
    let stopped = shards.iter().find(|s| s.summary.ending != "completed");
    let mut summary = summarize(
        RunFacts {
            scenario: head.scenario.clone(),
            scenario_path: head.scenario_path.clone(),
            target: head.target.clone(),
            seed: head.seed,
            started_at: shards
                .iter()
                .map(|s| s.summary.started_at.clone())
                .min()
                .unwrap_or_default(),
            duration_s: shards
                .iter()
                .map(|s| s.summary.duration_s)
                .fold(0.0, f64::max),
            // Each shard's summary says why it was late; the merged one judges the sum.
            started_behind_s: 0.0,
            ending: stopped.map_or_else(
                || "completed".to_string(),
                |s| format!("shard {} {}", s.label(), s.summary.ending),
            ),
            completed: stopped.is_none(),
            planned: shards.iter().map(|s| s.summary.visits.planned).sum(),
            time_scale: head.time_scale,
            span_s: head.span_s,
            clock_start: head.clock_start.clone(),
            interval_s: head.interval_s,
            late_after_ms: head.generator.late_after_ms,
            pool: shards.iter().map(|s| s.summary.generator.pool).sum(),
            shard: None,
            partial: shards.iter().any(|s| s.summary.partial),
        },
        &snapshot,
    );
    if let Some(invalid) = shards.iter().find(|s| !s.summary.generator.valid) {
        summary.generator.valid = false;
        summary.generator.reason = format!(
            "shard {} ({}): {}",
            invalid.label(),
            invalid.dir.display(),
            invalid.summary.generator.reason
        );
    }
    // What any shard said of itself that the whole run must say too.
    summary.run_error = summary.run_error.take().or_else(|| {
        shards.iter().find_map(|s| {
            s.summary
                .run_error
                .as_ref()
                .map(|e| format!("shard {}: {e}", s.label()))
        })
    });
    summary.open_files = shards
        .iter()
        .filter_map(|s| s.summary.open_files.clone())
        .reduce(|a, b| OpenFiles {
            limit: a.limit.min(b.limit),
            // Each shard holds its own.
            connections: a.connections.zip(b.connections).map(|(a, b)| a + b),
            bounded: a.bounded || b.bounded,
        });
    summary.shards = shards
        .iter()
        .map(|s| MergedShard {
            shard: s.label(),
            run_dir: s.dir.display().to_string(),
            visits_planned: s.summary.visits.planned,
            visits_started: s.summary.visits.started,
            generator_valid: s.summary.generator.valid,
            generator_reason: s.summary.generator.reason.clone(),
            partial: s.summary.partial,
            ending: s.summary.ending.clone(),
        })
        .collect();
    Ok(summary)
}
