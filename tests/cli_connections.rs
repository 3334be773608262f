//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! Connections and the open-file limit: `surge run` raises its soft limit to the hard limit, says
//! how many connections that holds, and refuses a scenario asking for more before any traffic
//! (exit 2, at the line of `max_connections`) instead of failing visits at the peak.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-conns-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `surge run` under a hard open-file limit of `hard` (its soft limit 64).
fn run_with_hard_limit(hard: u64, scenario: &Path, out: &Path) -> Output {
    let run = [
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    surge_with_hard_limit(hard, &run)
}

fn surge_with_hard_limit(hard: u64, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_surge"));
    command.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    // SAFETY: setrlimit is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            rlimit::setrlimit(rlimit::Resource::NOFILE, 64, hard)?;
            Ok(())
        });
    }
    command.output().expect("the surge binary runs")
}

fn scenario_asking(dir: &Path, connections: u64) -> PathBuf {
    let path = dir.join("asking.toml");
    let text = format!(
        "[traffic]\nvisits = 20\nlate_after = \"5s\"\n[traffic.mix]\nbrowse = 1\n\n\
         [http]\nmax_connections = {connections}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_scenario_asking_for_more_connections_than_the_process_holds_is_refused_before_traffic() {
    let dir = scratch("refused");
    // 512 descriptors, 64 kept for files, two a connection with the exchange inside: 224.
    let out = dir.join("run");
    let refused = run_with_hard_limit(512, &scenario_asking(&dir, 225), &out);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("asking.toml:8:") && stderr.contains("can hold 224 connections"),
        "names the line and what the process holds: {stderr}"
    );
    assert!(!out.exists(), "refused before the run directory is made");
    let checked = surge_with_hard_limit(512, &["check", dir.join("asking.toml").to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(2), "surge check says so too");
}

#[test]
fn a_run_raises_its_soft_limit_and_says_how_many_connections_it_holds() {
    let dir = scratch("held");
    let out = dir.join("run");
    let ran = run_with_hard_limit(512, &scenario_asking(&dir, 224), &out);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert_eq!(
        ran.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(
        stdout.contains("224 connections at once (this process holds 224: open-file limit 512)"),
        "{stdout}"
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["open_files"]["limit"], 512, "raised from 64");
    assert_eq!(summary["open_files"]["connections"], 224);
    assert_eq!(summary["visits"]["completed"], 20);
}
