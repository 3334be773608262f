//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! SIGTERM (how Kubernetes, systemd and CI runners stop a process) is Ctrl-C: the run stops, writes
//! every file of its run directory, says it was interrupted, and exits 130.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wait (bounded) until the run has written at least `rows` intervals to its timeline.
fn wait_for_intervals(run_dir: &Path, rows: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let written = std::fs::read_to_string(run_dir.join("timeline.csv"))
            .map(|t| t.lines().count().saturating_sub(1))
            .unwrap_or(0);
        if written >= rows {
            return;
        }
        assert!(Instant::now() < deadline, "the run never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

fn interrupted_run_is_complete(name: &str, signal_name: &str) {
    let dir = std::env::temp_dir().join(format!("surge-signal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A minute of arrivals against the embedded exchange: long enough to be stopped part-way.
    let scenario = dir.join("long.toml");
    std::fs::write(
        &scenario,
        "[traffic]\nvisits = 600\nspan = \"60s\"\nlate_after = \"5s\"\n[traffic.mix]\nbrowse = 1\n",
    )
    .unwrap();
    let run_dir = dir.join("run");
    let child = Command::new(env!("CARGO_BIN_EXE_surge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", scenario.to_str().unwrap(), "--quiet", "--out"])
        .arg(&run_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("surge starts");
    wait_for_intervals(&run_dir, 2);
    signal(child.id(), signal_name);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    let ending = summary["ending"].as_str().unwrap();
    assert!(ending.starts_with("stopped: interrupted"), "{summary}");
    let started = summary["visits"]["started"].as_u64().unwrap();
    assert!(started > 0 && started < 600, "stopped part-way: {started}");
    assert_eq!(summary["generator"]["valid"], false);
    for file in [
        "latency.hlog",
        "enrollments.csv",
        "junit.xml",
        "gate.md",
        "index.html",
    ] {
        assert!(run_dir.join(file).exists(), "{file} is written");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_stops_the_run_and_keeps_everything_it_measured() {
    interrupted_run_is_complete("term", "TERM");
}

#[test]
fn sigint_does_the_same() {
    interrupted_run_is_complete("int", "INT");
}

#[test]
fn sigterm_abandons_visits_in_flight_instead_of_waiting_for_them() {
    let dir = std::env::temp_dir().join(format!("surge-signal-think-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Every visitor browses, then reads for ten minutes before checking eligibility.
    let scenario = dir.join("readers.toml");
    std::fs::write(
        &scenario,
        "[traffic]\nvisits = 40\nspan = \"2s\"\nlate_after = \"5s\"\n[traffic.mix]\neligibility = 1\n\
         [traffic.think_time]\nmin_ms = 600000\nmax_ms = 600000\n",
    )
    .unwrap();
    let run_dir = dir.join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_surge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", scenario.to_str().unwrap(), "--quiet", "--out"])
        .arg(&run_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("surge starts");
    wait_for_intervals(&run_dir, 3);
    signal(child.id(), "TERM");
    // The visits in flight would read for ten more minutes; the run must not wait for them.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run waited for its visits in flight after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(130));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["visits"]["completed"], 0, "{}", summary["visits"]);
    assert_eq!(summary["ending"], "stopped: interrupted");
    std::fs::remove_dir_all(&dir).unwrap();
}
