//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! Gates as CI relies on them: a broken rule stops before any traffic (exit 2), a healthy run
//! passes (0), a slow or failing exchange fails its rules (1) with the failing rules named in
//! junit.xml and gate.md, an invalid generator never passes (3), a run compared with itself passes
//! and with a much faster baseline fails, and an `abort` rule stops a run early.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::util::surge;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("surge-gate-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn scenario(&self, text: &str) -> PathBuf {
        let path = self.0.join("scenario-in.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run_dir(&self) -> PathBuf {
        self.0.join("run")
    }
}

fn run(scratch: &Scratch, scenario: &str, extra: &[&str]) -> Output {
    let file = scratch.scenario(scenario);
    let out_dir = scratch.run_dir();
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--quiet",
        "--interval",
        "500ms",
        "--out",
    ];
    args.push(out_dir.to_str().unwrap());
    args.extend_from_slice(extra);
    surge(&args)
}

/// A browse-only scenario. Lateness is judged loosely (`late_after` 3 s), so that tests running
/// side by side on a small machine do not make each other's generators invalid; the starved-pool
/// test tightens it.
fn browse(visits: u32, span: &str, pool: u32, service_time: &str, thresholds: &[&str]) -> String {
    let rules: Vec<String> = thresholds.iter().map(|t| format!("{t:?}")).collect();
    format!(
        "thresholds = [{}]\n[traffic]\nvisits = {visits}\nspan = \"{span}\"\narrivals = \"uniform\"\n\
         pool = {pool}\nlate_after = \"3s\"\n[traffic.mix]\nbrowse = 1\n[households]\nmax_pages = 1\n\
         [exchange]\nservice_time = \"{service_time}\"\n",
        rules.join(", ")
    )
}

/// An error window that fails every request of the embedded exchange for the whole run.
const FAIL_EVERYTHING: &str =
    "[[exchange.errors]]\nat = \"00:00\"\nlasting = \"24h\"\nshare = 1.0\nstatus = 503\ncode = \"1012\"\n";

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn a_misspelled_rule_exits_2_before_any_traffic() {
    let scratch = Scratch::new("typo");
    let out = run(
        &scratch,
        &browse(50, "1s", 8, "0ms", &[]),
        &["--threshold", "p95(brwose) < 1s"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("p95(brwose) < 1s") && stderr.contains("unknown step"),
        "{stderr}"
    );
    assert!(!scratch.run_dir().exists(), "nothing ran");

    // The same rule in the scenario file is refused with its line.
    let out = run(
        &scratch,
        &browse(50, "1s", 8, "0ms", &["error_rat < 1%"]),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("scenario-in.toml:1:") && stderr.contains("error_rat"),
        "{stderr}"
    );
}

#[test]
fn a_healthy_run_passes_and_writes_its_verdicts_three_ways() {
    let scratch = Scratch::new("pass");
    let rules = [
        "p95(browse) < 500ms",
        "error_rate < 1%",
        "late_arrivals < 1%",
        "p99(visit) < 2s in every 1s",
    ];
    let out = run(&scratch, &browse(100, "1s", 16, "0ms", &rules), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dir = scratch.run_dir();
    let thresholds = summary(&dir)["thresholds"].as_array().unwrap().clone();
    assert_eq!(thresholds.len(), 4);
    assert!(thresholds
        .iter()
        .all(|t| t["pass"] == true && t["observed"].is_number()));
    let junit = read(&dir, "junit.xml");
    assert!(junit.contains(r#"tests="5" failures="0""#), "{junit}");
    assert!(read(&dir, "gate.md").contains("surge gate: PASSED"));

    // A rule added at gate time is judged and written by that call only.
    let dir_arg = dir.to_str().unwrap();
    let stricter = surge(&["gate", dir_arg, "--threshold", "p95(browse) < 1us"]);
    assert_eq!(stricter.status.code(), Some(1));
    let added = summary(&dir)["thresholds"].as_array().unwrap().clone();
    assert_eq!(added.len(), 5);
    assert_eq!(added[4]["added"], true, "{added:?}");
    assert!(read(&dir, "gate.md").contains("surge gate: FAILED"));
    let again = surge(&["gate", dir_arg]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert_eq!(summary(&dir)["thresholds"], Value::from(thresholds));
    assert!(read(&dir, "gate.md").contains("surge gate: PASSED"));
}

#[test]
fn a_slow_exchange_fails_the_rules_that_name_it() {
    let scratch = Scratch::new("slow");
    let rules = ["p95(browse) < 20ms", "error_rate(browse) < 1%"];
    let out = run(&scratch, &browse(60, "1s", 60, "30ms", &rules), &[]);
    assert_eq!(out.status.code(), Some(1));
    let dir = scratch.run_dir();
    let junit = read(&dir, "junit.xml");
    assert!(junit.contains(r#"failures="1""#), "{junit}");
    // A test case with a <failure> child opens with `>`; a passing one closes with `/>`.
    assert!(
        junit.contains(r#"name="p95(browse) &lt; 20ms" time="0">"#),
        "{junit}"
    );
    assert!(
        junit.contains(r#"name="error_rate(browse) &lt; 1%" time="0"/>"#),
        "{junit}"
    );
    let gate = read(&dir, "gate.md");
    assert!(gate.contains("| ❌ | `p95(browse) < 20ms`"), "{gate}");
    assert!(gate.contains("| ✅ | `error_rate(browse) < 1%`"), "{gate}");
}

#[test]
fn a_failing_exchange_fails_its_error_rate_rule() {
    let scratch = Scratch::new("failing");
    // The embedded exchange answers every request with a 503 (an error window all run long). A
    // target that answers nothing at all is a run error instead (exit 4; tests/cli_run_dir.rs).
    let scenario = browse(20, "1s", 8, "0ms", &["error_rate < 1%"]) + FAIL_EVERYTHING;
    let out = run(&scratch, &scenario, &[]);
    assert_eq!(out.status.code(), Some(1));
    let verdict = &summary(&scratch.run_dir())["thresholds"][0];
    assert_eq!(verdict["pass"], false);
    assert_eq!(verdict["observed"], 1.0);
}

#[test]
fn an_invalid_generator_never_passes() {
    let scratch = Scratch::new("starved");
    // 40 visits a second for 2 pool users at ~90 ms a visit: most visits start late.
    let scenario = browse(60, "1500ms", 2, "30ms", &["error_rate < 1%"])
        .replace("late_after = \"3s\"", "late_after = \"100ms\"");
    let out = run(&scratch, &scenario, &[]);
    assert_eq!(out.status.code(), Some(3));
    let junit = read(&scratch.run_dir(), "junit.xml");
    assert!(
        junit.contains("generator delivered the planned load\" time=\"0\">"),
        "{junit}"
    );
}

#[test]
fn a_run_passes_against_itself_and_fails_against_a_much_faster_baseline() {
    let fast = Scratch::new("baseline-fast");
    assert_eq!(
        run(&fast, &browse(60, "1s", 30, "0ms", &[]), &[])
            .status
            .code(),
        Some(0)
    );
    let slow = Scratch::new("baseline-slow");
    assert_eq!(
        run(&slow, &browse(60, "1s", 60, "25ms", &[]), &[])
            .status
            .code(),
        Some(0)
    );
    let (fast_dir, slow_dir) = (fast.run_dir(), slow.run_dir());

    let itself = surge(&[
        "gate",
        slow_dir.to_str().unwrap(),
        "--baseline",
        slow_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        itself.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&itself.stdout)
    );

    let against_fast = surge(&[
        "gate",
        slow_dir.to_str().unwrap(),
        "--baseline",
        fast_dir.join("summary.json").to_str().unwrap(),
    ]);
    assert_eq!(against_fast.status.code(), Some(1));
    let gate = String::from_utf8_lossy(&against_fast.stdout);
    assert!(gate.contains("| ❌ | `p50(browse)`"), "{gate}");
    let junit = read(&slow_dir, "junit.xml");
    assert!(
        junit.contains(r#"name="p95(browse) vs baseline" time="0">"#),
        "{junit}"
    );
    assert!(summary(&slow_dir)["baseline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["pass"] == false));

    // A generous tolerance and floor let the same change pass.
    let lenient = surge(&[
        "gate",
        slow_dir.to_str().unwrap(),
        "--baseline",
        fast_dir.to_str().unwrap(),
        "--latency-floor",
        "1s",
    ]);
    assert_eq!(lenient.status.code(), Some(0));
}

#[test]
fn an_abort_rule_stops_the_run_early() {
    let scratch = Scratch::new("abort");
    let scenario =
        browse(200, "20s", 8, "0ms", &["error_rate < 1% abort after 1s"]) + FAIL_EVERYTHING;
    let out = run(&scratch, &scenario, &[]);
    assert_eq!(out.status.code(), Some(1));
    let summary = summary(&scratch.run_dir());
    assert!(
        summary["ending"]
            .as_str()
            .unwrap()
            .contains("error_rate < 1%"),
        "{}",
        summary["ending"]
    );
    assert!(
        summary["visits"]["started"].as_u64().unwrap() < 100,
        "stopped long before its 20 s"
    );
    assert_eq!(summary["generator"]["valid"], false);
}

#[test]
fn a_summary_from_another_version_is_refused_clearly() {
    let scratch = Scratch::new("old");
    std::fs::write(
        scratch.0.join("summary.json"),
        r#"{"scenario": "x", "visits": {}}"#,
    )
    .unwrap();
    let out = surge(&["gate", scratch.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("summary format"));
}
