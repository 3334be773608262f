//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! The open model as a user relies on it: arrivals keep their schedule whatever the exchange does,
//! a slow exchange shows up as latency (from each visit's intended start), a pool too small for the
//! load makes the run invalid instead of quietly sending less, and latency.hlog holds the same
//! numbers as summary.json.

use std::path::{Path, PathBuf};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde_json::Value;

use crate::util::surge;

struct Run {
    code: i32,
    summary: Value,
    dir: PathBuf,
}

fn run(name: &str, scenario: &str) -> Run {
    let dir = std::env::temp_dir().join(format!("surge-open-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario-in.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = surge(&[
        "run",
        file.to_str().unwrap(),
        "--quiet",
        "--interval",
        "500ms",
        "--out",
        dir.join("run").to_str().unwrap(),
    ]);
    let summary = std::fs::read_to_string(dir.join("run/summary.json"))
        .unwrap_or_else(|e| panic!("no summary ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    Run {
        code: out.status.code().unwrap_or(-1),
        summary: serde_json::from_str(&summary).unwrap(),
        dir: dir.join("run"),
    }
}

/// A browse-only scenario. `late_after` is loose unless a test is about lateness, so that tests
/// running side by side on a small machine do not make each other's generators invalid.
fn browse_scenario(
    visits: u32,
    span: &str,
    pool: u32,
    service_time: &str,
    late_after: &str,
) -> String {
    format!(
        "[traffic]\nvisits = {visits}\nspan = \"{span}\"\narrivals = \"uniform\"\npool = {pool}\n\
         late_after = \"{late_after}\"\n[traffic.mix]\nbrowse = 1\n[households]\nmax_pages = 1\n\
         [exchange]\nservice_time = \"{service_time}\"\n"
    )
}

fn f(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

/// Arrivals intended per timeline row, summed.
fn intended_arrivals(dir: &Path) -> u64 {
    let text = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "intended").unwrap();
    lines
        .map(|l| {
            l.split(',')
                .nth(column)
                .unwrap()
                .parse::<u64>()
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn a_slow_exchange_shows_as_latency_with_the_same_arrivals() {
    let fast = run("fast", &browse_scenario(120, "2s", 100, "0ms", "3s"));
    let slow = run("slow", &browse_scenario(120, "2s", 100, "60ms", "3s"));
    for r in [&fast, &slow] {
        assert_eq!(r.code, 0);
        assert_eq!(r.summary["visits"]["started"], 120);
        assert_eq!(r.summary["visits"]["completed"], 120);
        assert_eq!(
            r.summary["generator"]["valid"], true,
            "{}",
            r.summary["generator"]
        );
        assert_eq!(intended_arrivals(&r.dir), 120);
    }
    let fast_p50 = f(&fast.summary["steps"]["browse"]["p50_ms"]);
    let slow_p50 = f(&slow.summary["steps"]["browse"]["p50_ms"]);
    assert!(fast_p50 < 30.0, "fast exchange p50 {fast_p50} ms");
    assert!(slow_p50 >= 60.0, "slow exchange p50 {slow_p50} ms");
    // Three requests a visit (county, one page, details) at 60 ms each.
    assert!(f(&slow.summary["visit_latency"]["p50_ms"]) >= 180.0);
}

#[test]
fn a_pool_too_small_queues_visits_into_latency_and_invalidates_the_run() {
    // 40 visits a second, but 2 pool users at ~180 ms a visit serve about 11 a second.
    let starved = run(
        "starved",
        &browse_scenario(60, "1500ms", 2, "60ms", "100ms"),
    );
    let summary = &starved.summary;
    assert_eq!(
        summary["visits"]["started"], 60,
        "every visit starts, none is dropped"
    );
    assert_eq!(summary["generator"]["valid"], false);
    assert!(summary["generator"]["reason"]
        .as_str()
        .unwrap()
        .contains("late"));
    assert!(summary["visits"]["late"].as_u64().unwrap() > 30);
    // Coordinated omission would report ~180 ms; from the intended start the queue shows.
    assert!(
        f(&summary["visit_latency"]["p99_ms"]) > 2000.0,
        "{}",
        summary["visit_latency"]
    );
    assert!(f(&summary["steps"]["browse"]["p99_ms"]) > 1000.0);
}

#[test]
fn the_interval_log_holds_the_summary_percentiles() {
    let r = run("hlog", &browse_scenario(150, "1500ms", 50, "2ms", "3s"));
    let bytes = std::fs::read(r.dir.join("latency.hlog")).unwrap();
    let mut merged: std::collections::BTreeMap<String, Histogram<u64>> = Default::default();
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(interval) = entry.expect("a well-formed log") {
            let tag = interval.tag().unwrap().as_str().to_string();
            let decoded: Histogram<u64> = Deserializer::new()
                .deserialize(&mut base64_decode(interval.encoded_histogram()).as_slice())
                .unwrap();
            merged
                .entry(tag)
                .or_insert_with(|| Histogram::new(3).unwrap())
                .add(decoded)
                .unwrap();
        }
    }
    for (tag, summary) in [
        ("browse", &r.summary["steps"]["browse"]),
        ("visit", &r.summary["visit_latency"]),
    ] {
        let histogram = &merged[tag];
        let count = summary
            .get("requests")
            .or_else(|| summary.get("count"))
            .unwrap();
        assert_eq!(histogram.len(), count.as_u64().unwrap(), "{tag}");
        for (p, key) in [(50.0, "p50_ms"), (99.0, "p99_ms")] {
            let from_log = surge::histogram::percentile(histogram, p) as f64 / 1000.0;
            assert_eq!(from_log, f(&summary[key]), "{tag} {key}");
        }
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[test]
fn without_a_pool_concurrency_follows_the_visits_in_flight() {
    // 400 visits in 2 s against an exchange that takes 2 s a request (browse with one page is
    // four requests): every visit is in flight at once near the end, and no pool was sized for it.
    let scenario = browse_scenario(400, "2s", 1, "2s", "3s").replace("pool = 1\n", "");
    let run = run("elastic", &scenario);
    assert_eq!(run.code, 0, "{}", run.summary["generator"]);
    let generator = &run.summary["generator"];
    assert_eq!(generator["pool"], 50_000, "the default cap: {generator}");
    assert!(f(&generator["max_in_flight"]) >= 300.0, "{generator}");
    assert_eq!(run.summary["visits"]["started"], 400);
    assert_eq!(run.summary["visits"]["late"], 0);
}
