//! The pages drawn from fixed summaries, byte for byte: `testdata/NAME.summary.json` through the
//! model and the three templates must give `testdata/NAME.{html,md,txt}`. The golden files were
//! checked against the pages surge drew before templates (`write!` in html.rs, markdown.rs and
//! text.rs), so a change that alters a page — a column, a space, an escape — fails here and is made
//! on purpose: `SURGE_BLESS=1 cargo test --lib report::golden` writes the new pages to review.

use std::path::{Path, PathBuf};

use super::model::Report;
use super::pages;
use crate::rundir::summary::Summary;

/// Spikes, a knee, failures and thresholds (`scenarios/ci.toml`); cracks
/// (`scenarios/broken-redirect.toml`); a replay; baseline comparisons; and every rare branch with
/// text to escape.
const FIXTURES: [&str; 5] = ["spikes", "cracks", "replay", "baseline", "odd"];

fn testdata(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/report/testdata")
        .join(file)
}

/// One chart, as plotters writes it (with an XML declaration the page drops).
fn chart() -> Vec<(String, String)> {
    vec![(
        "Latency <p99>".to_string(),
        "<?xml version=\"1.0\" standalone=\"no\"?>\n<svg width=\"2\" height=\"1\"><text>a &amp; b</text></svg>\n"
            .to_string(),
    )]
}

#[test]
fn pages_match_the_golden_files() {
    let bless = std::env::var_os("SURGE_BLESS").is_some();
    let mut differ = Vec::new();
    for name in FIXTURES {
        let summary = Summary::read(&testdata(&format!("{name}.summary.json"))).unwrap();
        let report = Report::of(&summary, &[]);
        for (ext, page) in [
            ("html", pages::html(&report, &chart()).unwrap()),
            ("md", pages::markdown(&report).unwrap()),
            ("txt", pages::text(&report).unwrap()),
        ] {
            let golden = testdata(&format!("{name}.{ext}"));
            if bless {
                std::fs::write(&golden, &page).unwrap();
            } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(page.as_str()) {
                differ.push(golden.display().to_string());
            }
        }
    }
    assert!(
        differ.is_empty(),
        "pages differ from their golden files (SURGE_BLESS=1 rewrites them): {differ:?}"
    );
}

#[test]
fn the_console_tables_are_the_model_through_the_text_template() {
    let summary = Summary::read(&testdata("cracks.summary.json")).unwrap();
    let text = super::text::tables(&summary);
    let golden = std::fs::read_to_string(testdata("cracks.txt")).unwrap();
    assert_eq!(text, golden);
}
