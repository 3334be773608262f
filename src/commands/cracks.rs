//! `surge cracks RUN_DIR --834 DIR|FILE|URL`: reconcile a finished run's applicants with the
//! insurers' 834s as they were delivered — batch files, hours later — and rewrite the run's cracks
//! report, verdicts and pages from them.

use std::path::Path;

use crate::cli::CracksArgs;
use crate::cracks::{self, Matching, RecordsError};
use crate::gate::{self, parse_rules};
use crate::journey_file::program::Access;
use crate::report;
use crate::rundir::enrollments;
use crate::rundir::summary::Summary;

use super::{Error, Outcome};

pub async fn cracks(args: CracksArgs) -> Result<Outcome, Error> {
    let mut summary = Summary::read_run_dir(&args.run_dir).map_err(Error::Input)?;
    let applicants =
        enrollments::read(&args.run_dir.join(enrollments::FILE_NAME)).map_err(Error::Input)?;
    let matching = Matching {
        reference: args.reference.clone(),
        ignore_leading_zeros: args.ignore_leading_zeros,
    };
    let unusable = |e: RecordsError| Error::Usage(format!("--834: {e}"));
    let records = if args.edi.starts_with("http://") || args.edi.starts_with("https://") {
        let target = args.edi.trim_end_matches('/');
        cracks::fetch_records(target, &Access::default(), &matching)
            .await
            .map_err(unusable)?
            .ok_or_else(|| Error::Usage(format!("--834: {target} serves no insurers' inboxes")))?
    } else {
        let path = Path::new(&args.edi);
        if !path.exists() {
            return Err(Error::Usage(format!(
                "--834: {} does not exist",
                path.display()
            )));
        }
        cracks::read_files(path, matching).map_err(unusable)?
    };
    summary.cracks = cracks::reconcile(&applicants, Some(&records));
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
    Ok(Outcome::Judged(outcome.status()))
}
