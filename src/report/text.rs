//! The tables printed at the end of a run: visits and the generator, steps, the funnel, the cracks,
//! the thresholds and the failures — the report's model through `templates/tables.txt.j2`.

use super::model::Report;
use super::pages;
use crate::rundir::summary::Summary;

/// The tables printed at the end of a run.
pub fn tables(summary: &Summary) -> String {
    let report = Report::of(summary, &[]);
    // The template is part of the binary and drawn by the golden tests: failing here is a bug.
    pages::text(&report).unwrap_or_else(|e| panic!("the console tables: {e:#}"))
}
