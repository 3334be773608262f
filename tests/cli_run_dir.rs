//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! The run directory never mixes two runs: `--out DIR` into a directory that holds a run is refused
//! (exit 2, nothing sent) unless `--force`, which replaces that run's files and keeps the user's own.

use std::path::PathBuf;

use crate::util::surge;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-rundir-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A run of a few visits, closed (no curve), against the embedded exchange.
fn tiny_scenario(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("tiny.toml");
    std::fs::write(
        &path,
        "[traffic]\nvisits = 3\nlate_after = \"5s\"\n[traffic.mix]\nbrowse = 1\n",
    )
    .unwrap();
    path
}

#[test]
fn a_directory_holding_a_run_is_refused_then_replaced_with_force() {
    let dir = scratch("force");
    let scenario = tiny_scenario(&dir);
    let out = dir.join("run");
    let first = surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();

    let again = surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(again.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("already holds a run") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(again.stdout.is_empty(), "nothing ran");
    assert_eq!(
        std::fs::read_to_string(out.join("summary.json")).unwrap(),
        summary,
        "the first run is untouched"
    );

    // A stale file of the old run (a verdict from `surge gate`) must not survive the new run.
    std::fs::write(out.join("charts").join("stale.svg"), "<svg/>").unwrap();
    let forced = surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--force",
    ]);
    assert_eq!(
        forced.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert!(
        !out.join("charts").join("stale.svg").exists(),
        "the old run's files are cleared"
    );
    assert!(out.join("summary.json").exists() && out.join("index.html").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Run a scenario file with `text` that must be refused before any traffic; its stderr.
fn refused(name: &str, file: &str, text: &str) -> String {
    let dir = scratch(name);
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    let out = surge(&[
        "run",
        path.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
    std::fs::remove_dir_all(&dir).unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_check_error_points_at_the_key_in_its_own_table() {
    // The key is found by the TOML parser's spans: inside an inline table too, where no line
    // starts with `max_ms =`.
    let stderr = refused(
        "locate",
        "think.toml",
        "[traffic]\nvisits = 5\nseed = 1\nthink_time = { min_ms = 50, max_ms = 10 }\n\
         [traffic.mix]\nbrowse = 1\n",
    );
    assert!(stderr.contains("think.toml:4:"), "{stderr}");
    assert!(stderr.contains("max_ms"), "{stderr}");
}

#[test]
fn a_bad_threshold_rule_points_at_its_own_line() {
    let stderr = refused(
        "rule",
        "rules.toml",
        "# was \"p95(brwose) < 800ms\" once\nthresholds = [\n  \"p95(browse) < 800ms\",\n  \
         \"p95(brwose) < 800ms\",\n]\n[traffic]\nvisits = 5\n[traffic.mix]\nbrowse = 1\n",
    );
    // The rule itself, not the comment that mentions it first.
    assert!(stderr.contains("rules.toml:4:"), "{stderr}");
    assert!(stderr.contains("brwose"), "{stderr}");
}

#[test]
fn a_dead_target_is_a_run_error_not_a_pass() {
    let dir = scratch("dead");
    let scenario = tiny_scenario(&dir);
    let out = dir.join("run");
    // Port 1 on loopback: nothing listens, every connection is refused.
    let run = surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:1",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(
        run.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no request reached the target"), "{stderr}");
    assert!(
        stderr.contains("cannot connect"),
        "the cause is named: {stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["run_error"]
            .as_str()
            .unwrap()
            .contains("no request reached"),
        "{summary}"
    );
    assert!(
        out.join("index.html").exists(),
        "the run's files are still written"
    );
    // CI reads the verdict files, not only the exit code: neither may say the run passed.
    let gate_md = std::fs::read_to_string(out.join("gate.md")).unwrap();
    assert!(
        gate_md.contains("FAILED") && gate_md.contains("run error: no request reached"),
        "{gate_md}"
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#"name="the run was carried out""#) && junit.contains("<failure"),
        "{junit}"
    );
    let gate = surge(&["gate", out.to_str().unwrap()]);
    assert_eq!(
        gate.status.code(),
        Some(4),
        "surge gate judges it the same way"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
