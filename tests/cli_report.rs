//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! The report as a reader meets it: five charts as valid SVG and PNG of the expected size with
//! the expected series, an index.html that needs no network, a summary.md, and `surge report`
//! drawing the same again from the run directory alone.

use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use quick_xml::Reader;

mod common;
use common::{surge, tolerant_smoke};
use surge::rundir::summary::FORMAT_VERSION;

fn recorded_run(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scenario = tolerant_smoke(&dir.with_extension("in"));
    let out = surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--visits",
        "150",
        "--quiet",
        "--threshold",
        "error_rate < 1%",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The text of an SVG's elements, checking on the way that it is well-formed XML.
fn svg_texts(path: &Path) -> Vec<String> {
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = Reader::from_str(&xml);
    let mut texts = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if root.is_none() => {
                root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            Ok(Event::Text(t)) => texts.push(t.decode().unwrap().into_owned()),
            // `&lt;` and friends come as their own events: put the character back in its text.
            Ok(Event::GeneralRef(r)) => {
                let name: &[u8] = r.as_ref();
                let c = match name {
                    b"lt" => "<",
                    b"gt" => ">",
                    b"amp" => "&",
                    _ => "?",
                };
                match texts.last_mut() {
                    Some(last) => last.push_str(c),
                    None => texts.push(c.to_string()),
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("{} is not well-formed: {e}", path.display()),
        }
    }
    assert_eq!(root.as_deref(), Some("svg"), "{}", path.display());
    texts
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn every_chart_is_drawn_with_its_series_and_the_pages_stand_alone() {
    let dir = recorded_run("charts");
    let charts = dir.join("charts");
    for (name, size, series) in [
        (
            "latency-percentiles",
            (1200, 700),
            &["browse", "eligibility", "confirm", "visit", "percentile"][..],
        ),
        (
            "latency-over-time",
            (1400, 900),
            &["browse", "pay", "p50", "p95", "p99", "arrivals/s"][..],
        ),
        (
            "throughput-errors",
            (1200, 700),
            &[
                "success",
                "5xx",
                "timeout",
                "error rate (%)",
                "limit: error_rate < 1%",
            ][..],
        ),
        (
            "arrivals",
            (1200, 700),
            &["intended", "started", "visits per second (wall time)"][..],
        ),
        (
            "funnel",
            (1200, 900),
            &[
                "visits",
                "effectuated",
                "per insurer, from plan selection on (the twelve busiest)",
            ][..],
        ),
    ] {
        let texts = svg_texts(&charts.join(format!("{name}.svg")));
        // Axes read as people write: counts without ".0".
        for label in &texts {
            let whole = label.trim().strip_suffix(".0");
            assert!(
                !whole.is_some_and(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit())),
                "{name}.svg labels a count `{label}`"
            );
        }
        let text = texts.concat();
        for wanted in series {
            assert!(
                text.contains(wanted),
                "{name}.svg has no `{wanted}`: {text}"
            );
        }
        assert_eq!(
            png_size(&charts.join(format!("{name}.png"))),
            size,
            "{name}.png"
        );
    }

    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 5, "all five charts inline");
    for forbidden in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(http",
    ] {
        assert!(
            !html.contains(forbidden),
            "index.html reaches outside: {forbidden}"
        );
    }
    assert!(
        html.contains("COMPLETED") || html.contains("PASSED"),
        "headline verdict"
    );
    assert!(html.contains("error_rate &lt; 1%"), "thresholds table");

    let markdown = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(markdown.contains("**PASSED"), "{markdown}");
    assert!(
        markdown.contains("charts/funnel.svg") && markdown.contains("| effectuated |"),
        "{markdown}"
    );
}

#[test]
fn surge_report_draws_the_same_from_the_saved_files() {
    let dir = recorded_run("again");
    let first = std::fs::read_to_string(dir.join("charts/latency-over-time.svg")).unwrap();
    std::fs::remove_dir_all(dir.join("charts")).unwrap();
    std::fs::remove_file(dir.join("index.html")).unwrap();

    let out = surge(&["report", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("charts/latency-over-time.svg")).unwrap(),
        first
    );
    assert!(dir.join("index.html").exists() && dir.join("charts/funnel.png").exists());
}

#[test]
fn a_run_from_an_older_version_is_refused_with_a_message() {
    let dir = recorded_run("old");
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    std::fs::write(
        dir.join("summary.json"),
        summary.replace(
            &format!("\"format_version\": {FORMAT_VERSION}"),
            "\"format_version\": 0",
        ),
    )
    .unwrap();
    let out = surge(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("summary format 0")
            && stderr.contains(&format!("reads format {FORMAT_VERSION}")),
        "{stderr}"
    );

    // A timeline from before the per-step columns is refused naming the column, not misread.
    std::fs::write(dir.join("summary.json"), &summary).unwrap();
    let timeline = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    std::fs::write(
        dir.join("timeline.csv"),
        timeline.replace("browse_requests", "old_column"),
    )
    .unwrap();
    let out = surge(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column `browse_requests`"));
}
