//! The report of a run, drawn from its run directory alone: five charts (SVG and PNG, with
//! plotters), a self-contained `index.html` that works offline, `summary.md` for a pull request,
//! and the tables printed at the end of a run — the three pages one model (`model.rs`) through
//! three templates (`pages.rs`, `templates/`). `surge run` draws it at the end; `surge report RUN_DIR`
//! draws it again from the saved files.

mod axis;
pub mod charts;
pub mod data;
#[cfg(test)]
mod golden;
pub mod model;
mod pages;
pub mod tables;
pub mod text;

use std::path::Path;

pub use data::RunData;

use crate::rundir::{RunDirError, CHARTS_DIR, HTML_FILE, MARKDOWN_FILE};

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
    #[error("cannot draw {file}: {source:#}")]
    Page {
        file: &'static str,
        source: pages::PageError,
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
    let report = model::Report::of(&data.summary, &data.spike_examples);
    for (file, page) in [
        (HTML_FILE, pages::html(&report, &svgs)),
        (MARKDOWN_FILE, pages::markdown(&report)),
    ] {
        let page = page.map_err(|source| ReportError::Page { file, source })?;
        crate::rundir::write_whole(&run_dir.join(file), page.as_bytes())?;
    }
    Ok(())
}
