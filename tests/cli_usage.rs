//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! The command line as a user meets it: bad input gets a located message and exit code 2, before
//! any traffic.

use std::path::PathBuf;

use crate::util::surge;

fn scratch_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn misspelled_key_exits_2_naming_file_line_and_key() {
    let path = scratch_file(
        "typo.toml",
        "[traffic]\nvisits = 5\n[traffic.mix]\nbrowse = 1\nconfrim = 1\n",
    );
    let out = surge(&[
        "run",
        path.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("typo.toml:5:"), "{stderr}");
    assert!(stderr.contains("confrim"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn missing_scenario_file_exits_2() {
    let out = surge(&["run", "/nonexistent/surge.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/surge.toml"));
}

#[test]
fn bad_target_url_exits_2() {
    let path = scratch_file(
        "ok.toml",
        "[traffic]\nvisits = 5\n[traffic.mix]\nbrowse = 1\n",
    );
    let out = surge(&["run", path.to_str().unwrap(), "--target", "http//nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--target"));
}

#[test]
fn a_target_without_its_scheme_is_refused_with_the_url_to_write() {
    for target in ["127.0.0.1:9", "localhost:8080"] {
        let out = surge(&["run", "scenarios/smoke.toml", "--target", target]);
        assert_eq!(out.status.code(), Some(2), "{target}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("write e.g. http://{target}")),
            "{stderr}"
        );
    }
}

#[test]
fn version_is_printed() {
    let out = surge(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!("surge {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}"
    );
}

#[test]
fn unknown_flag_exits_2() {
    let out = surge(&["run", "scenarios/smoke.toml", "--vists", "3"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_explains_exit_codes() {
    let out = surge(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit codes"), "{help}");
    assert!(help.contains("--target"), "{help}");
}

#[test]
fn shipped_scenarios_parse() {
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            surge::scenario::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// A duration or time scale no run could keep, in a flag or a rule: exit 2 naming it, never a
/// panic (exit 101), and nothing sent.
#[test]
fn durations_too_long_in_flags_and_rules_exit_2_not_a_panic() {
    let path = scratch_file(
        "long.toml",
        "[traffic]\nvisits = 5\n[traffic.mix]\nbrowse = 1\n",
    );
    let scenario = path.to_str().unwrap();
    for (args, wanted) in [
        (
            vec!["run", scenario, "--metrics-linger", "1e20s"],
            "at most 8760h",
        ),
        (
            vec!["run", scenario, "--interval", "1e20s"],
            "at most 8760h",
        ),
        (
            vec!["run", scenario, "--time-scale", "1e-300"],
            "the smallest time scale is 0.001",
        ),
        (
            vec!["run", scenario, "--threshold", "p95(browse) < 1e20s"],
            "at most 8760h",
        ),
        (
            vec!["run", scenario, "--threshold", "p95(browse) < 1e30us"],
            "at most 8760h",
        ),
        (
            vec!["gate", "nowhere", "--latency-floor", "1e20s"],
            "at most 8760h",
        ),
        (
            vec![
                "replay",
                "nowhere",
                "--from",
                "09:00",
                "--to",
                "09:05",
                "--lead-in",
                "1e20s",
            ],
            "at most 8760h",
        ),
    ] {
        let out = surge(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing ran");
    }
}
