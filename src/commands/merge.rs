//! `surge merge OUT RUN_DIR...`: the shards of one run made into one run directory that every other
//! command reads — checked first (nothing is written if a shard is missing, twice, or of another
//! run), then the intervals, applicants and failures joined, the summary recomputed, the cracks
//! reconciled once with the insurers, and the run judged and drawn as `surge run` does.

use std::time::{Duration, SystemTime};

use crate::cli::MergeArgs;
use crate::cracks;
use crate::gate::{self, parse_rules};
use crate::merge::{self, intervals::MergedLog, MergeError};
use crate::report;
use crate::rundir::{self, enrollments, exemplars, failures, SCENARIO_FILE};
use crate::scenario::Scenario;

use super::replay::scenario_of;
use super::run::{confirmed_at, load, LoadRequest};
use super::{Error, Outcome};

pub async fn merge(args: MergeArgs) -> Result<Outcome, Error> {
    let refused = |e: MergeError| match e {
        MergeError::Refused(why) => Error::Usage(why),
        MergeError::RunDir(e) => Error::Input(e),
    };
    let same_dir = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if let Some(shard) = args.shards.iter().find(|s| same_dir(s, &args.out)) {
        return Err(Error::Usage(format!(
            "{}: the merged run cannot be written into one of its shards; choose another OUT_DIR",
            shard.display()
        )));
    }
    let shards = merge::check(&args.shards, args.allow_partial).map_err(refused)?;
    let mut summary = merge::summary(&shards).map_err(refused)?;
    let dirs: Vec<_> = shards.iter().map(|s| s.dir.clone()).collect();
    let head = &shards[0];

    rundir::prepare(&args.out, &head.dir.join(SCENARIO_FILE), args.force).map_err(Error::Output)?;
    let step_names: Vec<String> = summary.step_names().iter().map(|s| s.to_string()).collect();
    let steps: Vec<&str> = step_names.iter().map(String::as_str).collect();
    let started = head
        .summary
        .shard
        .as_ref()
        .and_then(|s| s.start_at.as_deref())
        .or(Some(summary.started_at.as_str()))
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map_or_else(SystemTime::now, SystemTime::from);
    merge::intervals::merge(
        &dirs,
        &args.out,
        &MergedLog {
            run_name: &summary.scenario,
            started,
            interval: Duration::from_secs_f64(summary.interval_s.max(0.001)),
            steps: &steps,
        },
    )
    .map_err(Error::Output)?;
    for name in [enrollments::FILE_NAME, failures::FILE_NAME] {
        merge::files::join_csv(&dirs, name, &args.out).map_err(Error::Output)?;
    }
    merge::files::join_lines(&dirs, exemplars::FILE_NAME, &args.out).map_err(Error::Output)?;

    // Once, for every shard's applicants together: each shard alone saw only its own.
    let scenario = scenario_of(&head.dir, &head.summary);
    let (access, spec, confirmed) =
        match scenario
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|path| {
                load(LoadRequest::as_written(
                    path,
                    Some(summary.target.clone()),
                    true,
                ))
                .map_err(|e| e.to_string())
            }) {
            Ok(loaded) => (
                loaded.program.access.clone(),
                loaded.scenario.cracks.clone(),
                confirmed_at(&loaded.program),
            ),
            Err(e) => {
                eprintln!(
                "warning: cannot load the shards' scenario and journey file ({e}); the insurers' \
                 834s are fetched without the journey file's headers and certificates (give the \
                 merge the scenario at {}, or run `surge cracks` afterwards)",
                head.summary.scenario_path
            );
                // Its [cracks] alone may still be read: where the 834s are, and how ids match.
                let spec = scenario
                    .as_ref()
                    .ok()
                    .and_then(|path| Scenario::read_cracks(path).ok())
                    .unwrap_or_default();
                (
                    Default::default(),
                    spec,
                    head.summary.cracks.confirmed_at.clone(),
                )
            }
        };
    let scenario_path = scenario.unwrap_or_else(|_| head.dir.join(SCENARIO_FILE));
    let how = cracks::Reconciling {
        target: &summary.target,
        access: &access,
        spec: &spec,
        scenario_path: &scenario_path,
        confirmed_at: confirmed,
    };
    match cracks::report(&args.out, &how).await {
        Ok(reconciled) => summary.cracks = reconciled,
        Err(e) => eprintln!("error: cannot reconcile the applicants: {e}"),
    }

    // The rules the shards were run with.
    let mut texts: Vec<String> = Vec::new();
    for rule in shards.iter().flat_map(|shard| shard.summary.own_rules()) {
        if !texts.contains(&rule) {
            texts.push(rule);
        }
    }
    let rules = parse_rules(texts.iter().map(String::as_str), &steps)?;
    summary.write(&args.out).map_err(Error::Output)?;
    let outcome = gate::judge_run(&args.out, &summary, rules, None).map_err(Error::Output)?;
    gate::write(&args.out, &mut summary, &outcome).map_err(Error::Output)?;
    report::render(&args.out).map_err(Error::Report)?;
    if !args.quiet {
        say!("{}", report::text::tables(&summary));
        sayln!(
            "\nmerged {} shards into {}",
            shards.len(),
            args.out.display()
        );
    }
    Ok(Outcome::Judged(outcome.status()))
}
