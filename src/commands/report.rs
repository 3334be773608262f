//! `surge report RUN_DIR`: draw a run's charts and pages again from its saved files.

use crate::cli::ReportArgs;
use crate::report::{self, ReportError};
use crate::rundir::HTML_FILE;

use super::{Error, Outcome};

pub fn report(args: ReportArgs) -> Result<Outcome, Error> {
    report::render(&args.run_dir).map_err(|e| match e {
        // The directory given cannot be read as a run: the user's input is at fault.
        ReportError::RunDir(e) => Error::Input(e),
        e => Error::Report(e),
    })?;
    sayln!("report: {}", args.run_dir.join(HTML_FILE).display());
    Ok(Outcome::Done)
}
