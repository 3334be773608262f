//! `surge gate RUN_DIR`: judge a finished run again — by the rules it was run with, any added on
//! the command line, and optionally against a baseline run.

use crate::cli::GateArgs;
use crate::gate::{self, parse_rules, Tolerance};
use crate::rundir::summary::Summary;

use super::{Error, Outcome};

/// Judge, write the verdicts into the run directory, print the Markdown.
pub fn gate(args: GateArgs) -> Result<Outcome, Error> {
    let mut summary = Summary::read_run_dir(&args.run_dir).map_err(Error::Input)?;
    let baseline = args
        .baseline
        .as_deref()
        .map(Summary::read)
        .transpose()
        .map_err(Error::Baseline)?;
    // The run's own rules (as its summary lists them, less any an earlier gate call added), then
    // the command line's, which hold for this call only.
    let mut texts = summary.own_rules();
    let own = texts.len();
    for text in &args.thresholds {
        if !texts.contains(text) {
            texts.push(text.clone());
        }
    }
    let rules = parse_rules(texts.iter().map(String::as_str), &summary.step_names())?;
    let tolerance = Tolerance {
        relative: args.tolerance,
        latency_floor_ms: args.latency_floor.as_secs_f64() * 1000.0,
        rate_floor: args.rate_floor,
    };
    let mut outcome = gate::judge_run(
        &args.run_dir,
        &summary,
        rules,
        baseline.as_ref().map(|b| (b, tolerance)),
    )
    .map_err(Error::Input)?;
    for verdict in outcome.verdicts.iter_mut().skip(own) {
        verdict.added = true;
    }
    gate::write(&args.run_dir, &mut summary, &outcome).map_err(Error::Output)?;
    say!("{}", gate::report::markdown(&outcome, &summary.scenario));
    Ok(Outcome::Judged(outcome.status()))
}
