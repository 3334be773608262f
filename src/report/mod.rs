//! The report of a run, drawn from its run directory alone: five charts (SVG and PNG, with
//! plotters), a self-contained `index.html` that works offline, `summary.md` for a pull request,
//! and the tables printed at the end of a run. `surge run` draws it at the end; `surge report RUN_DIR`
//! draws it again from the saved files.

pub mod charts;
pub mod data;
mod html;
mod markdown;
pub mod text;

use std::path::Path;

pub use data::RunData;

use crate::rundir::summary::Summary;
use crate::rundir::{RunDirError, CHARTS_DIR, HTML_FILE, MARKDOWN_FILE};
use crate::vocab::Stage;

/// A report that could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    #[error("cannot draw the charts in {dir}: {source}")]
    Chart {
        dir: std::path::PathBuf,
        source: charts::ChartError,
    },
}

/// Draw every chart and page of the run in `run_dir`.
pub fn render(run_dir: &Path) -> Result<(), ReportError> {
    let data = RunData::read(run_dir)?;
    let charts_dir = run_dir.join(CHARTS_DIR);
    charts::draw_all(&data, &charts_dir).map_err(|source| ReportError::Chart {
        dir: charts_dir.clone(),
        source,
    })?;
    let svgs: Vec<(String, String)> = charts::CHARTS
        .iter()
        .map(|(name, caption)| {
            let path = charts_dir.join(format!("{name}.svg"));
            std::fs::read_to_string(&path)
                .map(|svg| (caption.to_string(), svg))
                .map_err(|e| RunDirError::read(&path, e))
        })
        .collect::<Result<_, _>>()?;
    let write = |file: &str, text: String| {
        let path = run_dir.join(file);
        std::fs::write(&path, text).map_err(|e| RunDirError::write(&path, e))
    };
    write(HTML_FILE, html::page(&data.summary, &svgs))?;
    write(MARKDOWN_FILE, markdown::page(&data.summary))?;
    Ok(())
}

/// The one-line verdict both pages open with.
pub fn headline(summary: &Summary) -> String {
    let failed = summary.thresholds.iter().filter(|t| !t.pass).count()
        + summary.baseline.iter().filter(|c| !c.pass).count();
    let effectuated = summary
        .funnel
        .get(Stage::Effectuated.name())
        .copied()
        .unwrap_or(0);
    let verdict = if failed > 0 {
        format!("FAILED — {failed} threshold(s) or comparison(s) failed")
    } else if !summary.generator.valid {
        format!("NOT VALID — {}", summary.generator.reason)
    } else if summary.thresholds.is_empty() {
        "COMPLETED (no thresholds set)".to_string()
    } else {
        "PASSED".to_string()
    };
    format!(
        "{verdict}. {} of {} visits completed; {effectuated} applicants effectuated.",
        summary.visits.completed, summary.visits.planned
    )
}

/// Percentage of `part` in `whole`, or a dash.
fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}
