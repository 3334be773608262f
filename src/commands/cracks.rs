//! `surge cracks RUN_DIR [--834 DIR|FILE|URL]`: reconcile a finished run's applicants with the
//! insurers' 834s as they were delivered — batch files, hours later — and rewrite the run's cracks
//! report, verdicts and pages from them. Where the 834s are and how their ids are matched is the
//! run's own scenario's `[cracks]` (its copy in the run directory); the flags override it. Ids
//! that matched under half of the paid applicants are an error (exit 2) once the report is
//! written: the report is then about the ids' forms, not the insurers.

use std::path::{Path, PathBuf};

use crate::access::Access;
use crate::cli::CracksArgs;
use crate::cracks::{self, EdiSource, Matching};
use crate::gate::{self, parse_rules};
use crate::report;
use crate::rundir::summary::Summary;
use crate::rundir::{enrollments, SCENARIO_FILE};
use crate::scenario::{CracksSpec, Scenario};

use super::{Error, Outcome};

pub async fn cracks(args: CracksArgs) -> Result<Outcome, Error> {
    let mut summary = Summary::read_run_dir(&args.run_dir).map_err(Error::Input)?;
    let applicants =
        enrollments::read(&args.run_dir.join(enrollments::FILE_NAME)).map_err(Error::Input)?;
    let (written, scenario_path) = scenario_keys(&args.run_dir, &summary)?;
    let spec = with_flags(written, &args);
    // The file's keys were checked as it was read: what is wrong now came from a flag.
    let matching = Matching::from_spec(&spec)
        .map_err(|e| Error::Usage(format!("--{}: {e}", e.key().replace('_', "-"))))?;
    let source = match &args.edi {
        // A path on the command line is the user's, relative to where they are.
        Some(flag) => EdiSource::of(Some(flag), Path::new(""), &summary.target),
        None => match &spec.source {
            Some(_) => EdiSource::of(spec.source.as_deref(), &scenario_path, &summary.target),
            None => {
                return Err(Error::Usage(format!(
                    "say where the insurers' 834s are: --834 DIR|FILE|URL, or [cracks] source \
                     in {}",
                    scenario_path.display()
                )))
            }
        },
    };
    let unusable = |e: cracks::RecordsError| match &args.edi {
        Some(_) => Error::Usage(format!("--834: {e}")),
        None => Error::Usage(format!(
            "[cracks] source of {}: {e}",
            scenario_path.display()
        )),
    };
    let records = source
        .read(&Access::default(), &matching)
        .await
        .map_err(unusable)?
        .ok_or_else(|| {
            Error::Usage(format!("{} serves no insurers' inboxes", source.describe()))
        })?;
    let confirmed_at = summary.cracks.confirmed_at.clone();
    summary.cracks = cracks::reconcile(&applicants, Some(&records));
    summary.cracks.source = Some(source.describe());
    cracks::locate_unmapped(&mut summary.cracks, confirmed_at);
    summary.write(&args.run_dir).map_err(Error::Output)?;

    // The verdicts and pages are drawn from the summary: judge and draw them again.
    let texts = summary.own_rules();
    let rules = parse_rules(texts.iter().map(String::as_str), &summary.step_names())?;
    let mut outcome =
        gate::judge_run(&args.run_dir, &summary, rules, None).map_err(Error::Input)?;
    // A baseline comparison made earlier (`surge gate --baseline`) does not read the cracks: keep it.
    outcome.comparisons = summary.baseline.clone();
    gate::write(&args.run_dir, &mut summary, &outcome).map_err(Error::Output)?;
    report::render(&args.run_dir).map_err(|e| match e {
        report::ReportError::RunDir(e) => Error::Input(e),
        e => Error::Report(e),
    })?;
    say!("{}", report::text::tables(&summary));
    sayln!("\nrun directory: {}", args.run_dir.display());
    if let Some(problem) = summary.cracks.mismatch() {
        return Err(Error::Usage(format!(
            "the insurers' 834s and the visits name applicants differently: {problem}"
        )));
    }
    Ok(Outcome::Judged(outcome.status()))
}

/// The `[cracks]` of the run's scenario, and the file a relative `source` is relative to: the
/// scenario the run was started with when it is still as the run copied it, else the copy.
/// A run directory without its copy has the defaults.
fn scenario_keys(run_dir: &Path, summary: &Summary) -> Result<(CracksSpec, PathBuf), Error> {
    let copy = run_dir.join(SCENARIO_FILE);
    let Ok(copied) = std::fs::read(&copy) else {
        return Ok((CracksSpec::default(), copy));
    };
    let spec = Scenario::read_cracks(&copy)?;
    let original = PathBuf::from(&summary.scenario_path);
    let path = match !summary.scenario_path.is_empty()
        && std::fs::read(&original).is_ok_and(|text| text == copied)
    {
        true => original,
        false => copy,
    };
    Ok((spec, path))
}

/// The scenario's keys with the command line's flags over them.
fn with_flags(mut spec: CracksSpec, args: &CracksArgs) -> CracksSpec {
    if let Some(reference) = &args.reference {
        spec.reference = reference.clone();
    }
    if let Some(pattern) = &args.id_pattern {
        spec.id_pattern = Some(pattern.clone());
    }
    spec.ignore_leading_zeros |= args.ignore_leading_zeros;
    spec.ignore_case |= args.ignore_case;
    spec.premiums &= !args.no_premiums;
    spec
}
