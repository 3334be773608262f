//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! Explaining a spike: a run whose embedded exchange fails plan searches for five seconds at a known
//! clock time lists that window in `spikes` with its step and reason, keeps example requests with
//! what the exchange answered, and marks the window on the charts and pages; `surge replay` of the
//! window fails the same visits again, and says so.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{run_ok, surge};

/// 30 s of steady arrivals; from 00:00:15 for 5 s, half the plan searches fail with 503/1012.
const SCENARIO: &str = "name = \"spiky\"\n\
[traffic]\nseed = 2013\nstages = [{ duration = \"30s\", rate = 40 }]\nlate_after = \"5s\"\n\
[traffic.mix]\nbrowse = 1\n[households]\nmax_pages = 1\n\
[[exchange.errors]]\nat = \"00:00:15\"\nlasting = \"5s\"\npaths = [\"/api/v1/plans/search\"]\n\
share = 0.5\nstatus = 503\ncode = \"1012\"\n";

fn setup(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("surge-spikes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("spiky.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    (dir, scenario)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn seconds(clock: &str) -> i64 {
    let parts: Vec<i64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 3600 + parts[1] * 60 + parts[2]
}

#[test]
fn an_error_window_is_found_shown_and_kept_with_examples() {
    let (dir, scenario) = setup("window");
    let run = dir.join("run");
    run_ok(&scenario, &run);
    let summary = json(&run.join("summary.json"));
    let spikes = summary["spikes"].as_array().unwrap();
    // The exchange's fault makes one error window; a machine busy with other tests may add a
    // latency window of its own, which is the detector doing its job, not this test's subject.
    let errors: Vec<&Value> = spikes.iter().filter(|s| s["kind"] == "errors").collect();
    assert_eq!(errors.len(), 1, "one error window: {spikes:?}");
    let spike = errors[0];
    assert_eq!(
        (spike["step"].as_str(), spike["kind"].as_str()),
        (Some("browse"), Some("errors"))
    );
    // The exchange's window is [15 s, 20 s) of scenario time; one 1 s interval either way.
    let (start, end) = (
        seconds(spike["start"].as_str().unwrap()),
        seconds(spike["end"].as_str().unwrap()),
    );
    assert!((14..=16).contains(&start), "{spike}");
    assert!((19..=21).contains(&end), "{spike}");
    let top = &spike["top_reasons"][0];
    assert_eq!(
        top["reason"], "browse: plan search: HTTP 503 (code 1012)",
        "{spike}"
    );
    assert!(spike["peak"].as_f64().unwrap() > 0.2, "{spike}");
    assert!(!spike["example_visits"].as_array().unwrap().is_empty());

    // The examples show what the exchange answered, at the window's clock times.
    let examples = std::fs::read_to_string(run.join("exemplars.jsonl")).unwrap();
    let failures: Vec<Value> = examples
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|e| e["kind"] == "failure")
        .collect();
    assert!(!failures.is_empty(), "{examples}");
    for example in &failures {
        assert_eq!(example["status"], 503, "{example}");
        assert!(
            example["body"].as_str().unwrap().contains("1012"),
            "{example}"
        );
        let at = seconds(example["clock"].as_str().unwrap());
        assert!((15..=21).contains(&at), "{example}");
    }

    // The pages list the window; the charts shade it.
    let markdown = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert!(markdown.contains("## Spikes"), "{markdown}");
    assert!(markdown.contains("browse: plan search: HTTP 503 (code 1012)"));
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(
        html.contains("id=\"spikes\""),
        "the page has a spikes section"
    );
    let chart = std::fs::read_to_string(run.join("charts/latency-over-time.svg")).unwrap();
    assert!(
        chart.contains("spike"),
        "the chart labels the shaded window"
    );

    // Replay the window: the same visits, on the same clock, against the same faults.
    let replay = dir.join("replay");
    let (from, to) = (
        spike["start"].as_str().unwrap(),
        spike["end"].as_str().unwrap(),
    );
    let out = surge(&[
        "replay",
        run.to_str().unwrap(),
        "--from",
        from,
        "--to",
        to,
        "--quiet",
        "--out",
        replay.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed = json(&replay.join("summary.json"));
    let comparison = &replayed["replay"]["comparison"];
    assert_eq!(replayed["replay"]["source"], run.to_str().unwrap());
    let (original, both) = (
        comparison["failed_original"].as_u64().unwrap(),
        comparison["failed_both"].as_u64().unwrap(),
    );
    assert!(original > 20, "{comparison}");
    assert!(
        both as f64 >= 0.95 * original as f64,
        "the replay failed {both} of the {original} visits that failed: {comparison}"
    );
    let visits = comparison["visits"].as_u64().unwrap();
    assert_eq!(
        replayed["visits"]["planned"].as_u64().unwrap(),
        visits,
        "only the window's visits ran"
    );
    assert!(
        stdout.contains(&format!("{both} in both")) && stdout.contains("failed again"),
        "the comparison is printed: {stdout}"
    );
    let markdown = std::fs::read_to_string(replay.join("summary.md")).unwrap();
    assert!(markdown.contains("## Replay"), "{markdown}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_replay_that_cannot_be_done_is_refused_before_any_traffic() {
    let (dir, scenario) = setup("refused");
    let run = dir.join("run");
    // A tiny run to replay: 3 s of arrivals.
    std::fs::write(
        &scenario,
        "name = \"tiny\"\n[traffic]\nstages = [{ duration = \"3s\", rate = 5 }]\nlate_after = \"5s\"\n",
    )
    .unwrap();
    run_ok(&scenario, &run);
    let run_arg = run.to_str().unwrap();
    for (from, to, wanted) in [
        ("00:00:02", "00:00:01", "is not before --to"),
        (
            "00:10:00",
            "00:11:00",
            "not within the run's scenario clock, 00:00:00–00:00:03",
        ),
        ("9:99", "00:00:01", "--from 9:99"),
    ] {
        let out_dir = dir.join("never");
        let out = surge(&[
            "replay",
            run_arg,
            "--from",
            from,
            "--to",
            to,
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{from}–{to}: {stderr}");
        assert!(stderr.contains(wanted), "{from}–{to}: {stderr}");
        assert!(!out_dir.exists(), "nothing written");
    }
    // A run directory without the files a replay compares.
    std::fs::remove_file(run.join("failures.csv")).unwrap();
    let out = surge(&["replay", run_arg, "--from", "00:00:00", "--to", "00:00:01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no failures.csv"));
    let nowhere = dir.join("nowhere");
    let out = surge(&[
        "replay",
        nowhere.to_str().unwrap(),
        "--from",
        "00:00:00",
        "--to",
        "00:00:01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
