//! `surge replay RUN_DIR --from --to`: run again the visits of a finished run whose intended start
//! fell in a window, then compare their failures with the original's. The replay is an ordinary
//! run (its own run directory, tables, verdicts and report) whose plan keeps only those visits and
//! whose clock starts at the window, so the embedded exchange's faults meet them at the same clock
//! times; its summary names its source and holds the comparison.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::ReplayArgs;
use crate::engine;
use crate::plan::{Shard, Window};
use crate::replay::compare;
use crate::report;
use crate::rundir::failures;
use crate::rundir::summary::{Replay, ReplayComparison, Summary};
use crate::rundir::SCENARIO_FILE;
use crate::units::{format_clock, parse_clock};

use super::run::{load, run_configured, LoadRequest, RunConfig};
use super::{Error, Outcome};

pub async fn replay(args: ReplayArgs) -> Result<Outcome, Error> {
    let source = &args.run_dir;
    let summary = Summary::read_run_dir(source).map_err(Error::Input)?;
    let original_failures = source.join(failures::FILE_NAME);
    if !original_failures.exists() {
        return Err(Error::Usage(format!(
            "{}: no {} (written by surge {}): replay compares failures visit by visit and needs it; \
             run the scenario again with this surge",
            source.display(),
            failures::FILE_NAME,
            summary.surge_version
        )));
    }
    let (from, to) = window_of(&args, &summary)?;
    let scenario = scenario_of(source, &summary)?;
    // A summary is a file anyone may have edited: what the replay takes from it is checked.
    let unusable = |key: &str, value: f64| {
        Error::Usage(format!(
            "{}: {key} is {value}, which surge cannot replay; pass --time-scale or run again",
            source.join(crate::rundir::summary::FILE_NAME).display()
        ))
    };
    if args.time_scale.is_none() && !(summary.time_scale.is_finite() && summary.time_scale >= 0.001)
    {
        return Err(unusable("time_scale", summary.time_scale));
    }
    let interval = crate::units::duration_of_seconds(summary.interval_s.max(0.1), "interval_s")
        .map_err(|_| unusable("interval_s", summary.interval_s))?;
    engine::catch_signals();
    let loaded = load(LoadRequest {
        scenario: &scenario,
        target: args.target.clone(),
        visits: Some(
            summary
                .shard
                .as_ref()
                .map_or(summary.visits.planned, |s| s.visits_total),
        ),
        time_scale: args.time_scale.or(Some(summary.time_scale)),
        seed: Some(summary.seed),
        thresholds: &[],
        ignore_exchange_section: args.target.is_some(),
    })?;
    let run_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&summary.scenario));
    // A shard's visits are kept below, like the window's: the replay is one process.
    let mut config = RunConfig {
        interval,
        quiet: args.quiet,
        ..RunConfig::new(loaded, run_dir)?
    };
    config.make_run_dir(args.force)?;
    let lead_in = args.lead_in.as_secs_f64();
    let (window_from, window_to) = (from - summary.clock_start_s(), to - summary.clock_start_s());
    let plan = Arc::get_mut(&mut config.plan)
        .ok_or_else(|| Error::Usage("the plan is shared before the replay starts".into()))?;
    if let Some(of) = &summary.shard {
        // A shard's run replays the same shard's visits.
        let shard = Shard::new(of.index, of.count)
            .map_err(|e| Error::Usage(format!("{}: summary.json: shard {e}", source.display())))?;
        plan.shard(shard);
    }
    let lead_in_from = (window_from - lead_in).max(0.0);
    let restricted = plan.restrict(Window {
        from: lead_in_from,
        to: window_to,
    });
    // The visits of the window itself, without the lead-in's: the ones compared.
    let compared: BTreeSet<u64> = plan.planned().map_or_else(BTreeSet::new, |visits| {
        visits
            .filter(|(_, t)| lead_in_from + t >= window_from)
            .map(|(id, _)| id)
            .collect()
    });
    if !restricted {
        return Err(Error::Usage(format!(
            "{}: a closed run (no arrival curve) has no scenario clock to replay a window of",
            source.display()
        )));
    }

    let concluded = run_configured(&config).await?;
    let mut summary_out = concluded.summary;
    let replayed =
        failures::read(&config.run_dir.join(failures::FILE_NAME)).map_err(Error::Output)?;
    let original = failures::read(&original_failures).map_err(Error::Input)?;
    let comparison = compare(&compared, &original, &replayed);
    summary_out.replay = Some(Replay {
        source: source.display().to_string(),
        from: format_clock(from),
        to: format_clock(to),
        lead_in_s: lead_in,
        comparison: comparison.clone(),
    });
    summary_out.write(&config.run_dir).map_err(Error::Output)?;
    report::render(&config.run_dir).map_err(Error::Report)?;
    say!("{}", report::text::tables(&summary_out));
    sayln!("\n{}", describe(&summary_out, &comparison));
    sayln!("\nrun directory: {}", config.run_dir.display());
    concluded.result
}

/// The window as seconds since midnight, checked against the run's clock.
fn window_of(args: &ReplayArgs, summary: &Summary) -> Result<(f64, f64), Error> {
    let clock = |flag: &str, text: &str| {
        parse_clock(text).map_err(|e| Error::Usage(format!("{flag} {text}: {e}")))
    };
    let (from, to) = (clock("--from", &args.from)?, clock("--to", &args.to)?);
    if from >= to {
        return Err(Error::Usage(format!(
            "--from {} is not before --to {}: the window is empty",
            args.from, args.to
        )));
    }
    let start = summary.clock_start_s();
    let end = start + summary.span_s;
    if summary.span_s <= 0.0 {
        return Err(Error::Usage(format!(
            "{}: a closed run (no arrival curve) has no scenario clock to replay a window of",
            args.run_dir.display()
        )));
    }
    if from < start || to > end {
        return Err(Error::Usage(format!(
            "the window {}–{} is not within the run's scenario clock, {}–{}",
            format_clock(from),
            format_clock(to),
            format_clock(start),
            format_clock(end)
        )));
    }
    Ok((from, to))
}

/// The scenario to replay: the file the run was started with, when it is still the one copied
/// into the run directory (it may name a journey file or data beside it); else the copy.
pub(super) fn scenario_of(source: &Path, summary: &Summary) -> Result<PathBuf, Error> {
    let copy = source.join(SCENARIO_FILE);
    let copied = std::fs::read(&copy).map_err(|e| {
        Error::Usage(format!(
            "{}: cannot read the scenario the run copied there ({e})",
            copy.display()
        ))
    })?;
    let original = PathBuf::from(&summary.scenario_path);
    if !summary.scenario_path.is_empty() && std::fs::read(&original).is_ok_and(|t| t == copied) {
        return Ok(original);
    }
    Ok(copy)
}

fn default_out(scenario: &str) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    PathBuf::from("reports").join(format!("{scenario}-replay-{stamp}"))
}

/// The comparison, for people: the pages' sentence, then the table by step and reason.
fn describe(summary: &Summary, c: &ReplayComparison) -> String {
    let mut out = report::tables::replay_headline(summary).unwrap_or_default();
    if !c.rows.is_empty() {
        out.push_str(&format!(
            "\n{:<14} {:>6} {:>9} {:>7}  reason",
            "step", "both", "original", "replay"
        ));
        for row in &c.rows {
            out.push_str(&format!(
                "\n{:<14} {:>6} {:>9} {:>7}  {}",
                row.step, row.both, row.only_original, row.only_replay, row.reason
            ));
        }
    }
    out
}
