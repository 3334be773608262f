//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! `--goose-report` still writes Goose's own report with every request by step, though Goose keeps
//! its per-request metrics only when a report is asked for.

use crate::util::surge;

#[test]
fn a_goose_report_names_the_requests_by_step_and_the_whole_visits() {
    let dir = std::env::temp_dir().join(format!("surge-goose-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("tiny.toml");
    std::fs::write(
        &scenario,
        "[traffic]\nvisits = 6\nlate_after = \"5s\"\n[traffic.mix]\nbrowse = 1\n",
    )
    .unwrap();
    let report = dir.join("goose.json");
    let out = surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        dir.join("run").to_str().unwrap(),
        "--goose-report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read_to_string(&report).expect("Goose wrote its report");
    assert!(json.contains("browse: county by zip"), "requests by step");
    assert!(json.contains("VISIT"), "whole visits");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_goose_report_of_an_unknown_kind_is_refused_before_any_traffic() {
    let dir = std::env::temp_dir().join(format!("surge-goose-kind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let report = dir.join("goose.txt");
    let out = surge(&[
        "run",
        "scenarios/smoke.toml",
        "--goose-report",
        report.to_str().unwrap(),
        "--out",
        dir.join("run").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".html, .json or .md"), "{stderr}");
    assert!(!dir.join("run").exists(), "nothing ran");
}
