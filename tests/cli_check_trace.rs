//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! Writing a journey must be easy: `surge check` finds what is wrong in a scenario and its journey
//! file before any traffic, naming file:line, and `surge trace` walks one visit, printing every
//! request and reply with secrets redacted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{run_quietly, surge};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-check-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scenario in `dir` running `journeys` (the text of a journey file).
fn scenario_with(dir: &Path, journeys: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("j.toml"), journeys).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        format!("journeys = \"j.toml\"\n{extra}[traffic]\nvisits = 5\nspan = \"1s\"\n"),
    )
    .unwrap();
    path
}

const LOOK: &str = "[[journeys]]\nname = \"look\"\nrequests = [\"county\", \"plan\"]\n\n\
[requests.county]\nstep = \"browse\"\nurl = \"/api/v1/counties/by/zip/{{ household.zip }}\"\n\
capture.county = { pointer = \"/counties/0\" }\n\n\
[requests.plan]\nstep = \"browse\"\nurl = \"/api/v1/counties/by/zip/{{ household.zip }}\"\n\
checks = [{ pointer = \"/counties/0/state\", equals = \"ZZ\", reason = \"not in ZZ\" }]\n\
stage = \"browsed\"\n";

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_shipped_scenario_checks_out() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scenarios: Vec<String> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .map(|name| format!("scenarios/{name}"))
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 6, "{scenarios:?}");
    for scenario in &scenarios {
        let out = Command::new(env!("CARGO_BIN_EXE_surge"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("MARKETPLACE_API_KEY", "x")
            .args(["check", scenario])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{scenario}: {stderr}");
        assert!(stdout.contains(&format!("{scenario}: ok")), "{stdout}");
        assert!(
            stdout.contains("confirm"),
            "the journeys are listed: {stdout}"
        );
    }
}

#[test]
fn check_names_the_journey_file_line_and_key_of_each_mistake() {
    let dir = temp_dir("bad");
    let cases = [
        (
            LOOK.replace("step = \"browse\"\nurl = \"/api/v1/counties/by/zip/{{ household.zip }}\"\ncapture", "step = \"Browsing\"\nurl = \"/api/v1/counties/by/zip/{{ household.zip }}\"\ncapture"),
            "j.toml:6:",
            "`Browsing` is not a step name",
        ),
        (
            LOOK.replace("{{ household.zip }}\"\nchecks", "{{ county.fipz }}/{{ plan.id }}\"\nchecks"),
            "j.toml:12:",
            "`plan` is not defined",
        ),
        (
            LOOK.replace("stage = \"browsed\"", "stage = \"enrolled\""),
            "j.toml:14:",
            "`enrolled` is not a funnel stage",
        ),
        (
            LOOK.replace("pointer = \"/counties/0\"", "pointer = \"counties/0\""),
            "j.toml:8:",
            "not a JSON pointer",
        ),
        (
            LOOK.replace("{{ household.zip }}\"\ncapture", "{{ household.zip \"\ncapture"),
            "j.toml:7:",
            "template",
        ),
        // A stage proved twice in a journey would count its visits twice.
        (
            LOOK.replace(
                "capture.county = { pointer = \"/counties/0\" }\n",
                "capture.county = { pointer = \"/counties/0\" }\nstage = \"browsed\"\n",
            ),
            "j.toml:3:",
            "`plan` proves stage `browsed` after this journey has proved `browsed`",
        ),
        // `that` is an expression, `until` a template: each mistaken for the other is said.
        (
            LOOK.replace(
                "checks = [{ pointer = \"/counties/0/state\", equals = \"ZZ\", reason = \"not in ZZ\" }]",
                "checks = [{ that = \"{{ county.state == 'ZZ' }}\" }]",
            ),
            "j.toml:13:",
            "that: a bare expression, without {{ }}: write \"county.state == 'ZZ'\"",
        ),
        (
            LOOK.replace(
                "stage = \"browsed\"",
                "stage = \"browsed\"\nrepeat = { times = 2, until = \"page > 0\" }",
            ),
            "j.toml:15:",
            "until: a template: write \"{{ page > 0 }}\"",
        ),
    ];
    for (journeys, at, what) in cases {
        let scenario = scenario_with(&dir, &journeys, "");
        let out = surge(&["check", scenario.to_str().unwrap()]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains(at), "{what}: expected {at} in {stderr}");
        assert!(stderr.contains(what), "{what}: {stderr}");
    }
    // A mix naming a journey the file does not have is located in the scenario.
    let scenario = scenario_with(&dir, LOOK, "");
    std::fs::write(
        &scenario,
        "journeys = \"j.toml\"\n[traffic]\nvisits = 5\n[traffic.mix]\nlok = 1\n",
    )
    .unwrap();
    let out = surge(&["check", scenario.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("s.toml:5:") && stderr.contains("no journey `lok`"),
        "{stderr}"
    );
    // A conversion between stages no journey proves would only ever judge zeros.
    let scenario = scenario_with(
        &dir,
        LOOK,
        "thresholds = [\"conversion(paid/browsed) >= 50%\"]\n",
    );
    let out = surge(&["check", scenario.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("s.toml:2:")
            && stderr.contains("no journey proves stage `paid`: the journeys prove browsed"),
        "{stderr}"
    );
    // A journey that selects a plan without an [enrollment] section is told it gets no cracks.
    let selecting = LOOK.replace("stage = \"browsed\"", "stage = \"selected\"");
    let scenario = scenario_with(&dir, &selecting, "");
    let out = surge(&["check", scenario.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("no [enrollment] section"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_prints_each_request_and_reply_and_where_the_visit_broke() {
    let out = surge(&["trace", "scenarios/smoke.toml", "--visit", "3"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("→ GET http://127.0.0.1:") && stdout.contains("[browse: county by zip]"),
        "{stdout}"
    );
    assert!(stdout.contains("← 200 in"), "{stdout}");
    assert!(stdout.contains("captured county = "), "{stdout}");
    assert!(stdout.contains("visit 3: reached"), "{stdout}");
    // --journey picks the first visit that takes it.
    let out = surge(&["trace", "scenarios/smoke.toml", "--journey", "confirm"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("(confirm journey,"), "{stdout}");
    let out = surge(&["trace", "scenarios/smoke.toml", "--journey", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out)
        .1
        .contains("the journeys are browse, eligibility, enroll, confirm"));
    // A visit the run does not have is refused, not traced.
    let out = surge(&["trace", "scenarios/smoke.toml", "--visit", "300"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("visits 0 to 299"), "{}", text(&out).1);

    // A journey whose check fails: the trace shows the reply and the reason, and exits 1.
    let dir = temp_dir("trace");
    let scenario = scenario_with(
        &dir,
        LOOK,
        "[http]\nquery = { token = \"${env:SURGE_TEST_TOKEN}\" }\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_surge"))
        .env("SURGE_TEST_TOKEN", "tok-7f3a91")
        .args(["trace", scenario.to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("✗ browse: plan: not in ZZ"), "{stdout}");
    assert!(
        stdout.contains("failed at browse: browse: plan: not in ZZ"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("tok-7f3a91"),
        "the secret is printed: {stdout}"
    );
    assert!(stdout.contains("token=[redacted]"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tls_options_are_checked_and_insecure_is_loud() {
    let dir = temp_dir("tls");
    let scenario = scenario_with(&dir, LOOK, "[http]\nca_file = \"missing-ca.pem\"\n");
    let out = surge(&["check", scenario.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("s.toml:3:") && stderr.contains("ca_file: cannot read"),
        "{stderr}"
    );

    std::fs::write(dir.join("not-a-ca.pem"), "hello").unwrap();
    let scenario = scenario_with(&dir, LOOK, "[http]\nca_file = \"not-a-ca.pem\"\n");
    let (_, stderr) = text(&surge(&["check", scenario.to_str().unwrap()]));
    assert!(stderr.contains("holds no PEM certificate"), "{stderr}");

    let scenario = scenario_with(&dir, LOOK, "[http]\ninsecure = true\n");
    let out = surge(&["check", scenario.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("WARNING") && stderr.contains("NOT checked"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_finds_a_request_to_a_host_the_run_may_not_reach() {
    let dir = temp_dir("hosts");
    let journeys = LOOK.replace(
        "url = \"/api/v1/counties/by/zip/{{ household.zip }}\"\ncapture",
        "url = \"https://pay.other-insurer.example/start\"\ncapture",
    );
    let scenario = scenario_with(&dir, &journeys, "");
    let (_, stderr) = text(&surge(&["check", scenario.to_str().unwrap()]));
    assert!(
        stderr.contains("requests.county.url: host pay.other-insurer.example"),
        "{stderr}"
    );
    let allowed = scenario_with(
        &dir,
        &journeys,
        "[http]\nallowed_hosts = [\"pay.other-insurer.example\"]\n",
    );
    let out = surge(&["check", allowed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_request_to_another_host_is_refused_and_counted_never_sent() {
    let dir = temp_dir("refused");
    // The second request goes to another loopback address, where nothing listens: were it sent,
    // it would fail with "cannot connect", not be refused.
    let journeys = LOOK.replace(
        "url = \"/api/v1/counties/by/zip/{{ household.zip }}\"\nchecks",
        "follow = \"http://127.0.0.2:9/steal?fips={{ county.fips }}\"\nchecks",
    );
    let scenario = scenario_with(&dir, &journeys, "");
    let run = dir.join("run");
    let out = run_quietly(&scenario, &run);
    let (_, stderr) = text(&out);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap())
            .unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let failures = &summary["failures"];
    assert_eq!(failures[0]["count"], 5, "{failures}");
    assert_eq!(
        failures[0]["reason"], "browse: plan: refused: host 127.0.0.2 is not in http.allowed_hosts",
        "{failures}"
    );
    assert_eq!(
        summary["steps"]["browse"]["requests"], 5,
        "only the first request of each visit was sent"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reader_that_goes_away_ends_the_printing_not_the_program() {
    // `surge check … | head -1`: the pipe is closed before surge writes, so every write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_surge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "scenarios/smoke.toml"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `repeat = { times = 3 }`, the documented form: check accepts it and a visit sends it three
/// times (it used to fail every request: "repeat.times is not a whole number").
#[test]
fn what_check_accepts_runs_as_written_and_what_a_run_cannot_keep_is_refused_at_its_line() {
    let dir = temp_dir("check-run");
    let thrice = "[[journeys]]\nname = \"look\"\nrequests = [\"county\"]\n\n\
[requests.county]\nstep = \"browse\"\nurl = \"/api/v1/counties/by/zip/{{ household.zip }}\"\n\
repeat = { times = 3 }\nstage = \"browsed\"\n";
    let scenario = scenario_with(&dir, thrice, "");
    let out = surge(&["check", scenario.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let out = surge(&["trace", scenario.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.matches("→ GET http://127.0.0.1:").count(),
        3,
        "{stdout}"
    );
    assert!(!stdout.contains("not a whole number"), "{stdout}");

    // What check refuses, at the line that says it.
    for (times, wanted) in [
        ("0", "`0` is not a whole number of 1 or more"),
        ("2.5", "`2.5` is not a whole number of 1 or more"),
        ("-1", "`-1` is not a whole number of 1 or more"),
    ] {
        let journeys = thrice.replace("times = 3", &format!("times = {times}"));
        let scenario = scenario_with(&dir, &journeys, "");
        let out = surge(&["check", scenario.to_str().unwrap()]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{times}: {stderr}");
        assert!(stderr.contains("j.toml:8:"), "{times}: {stderr}");
        assert!(stderr.contains(wanted), "{times}: {stderr}");
    }
    // The scenario: `extra` goes above [traffic], so its lines are counted from the top.
    for (extra, at, wanted) in [
        (
            "[http]\ntimeout = \"0s\"\n",
            "s.toml:3:",
            "http.timeout: must be longer than 0",
        ),
        (
            "[http]\ntimeout = \"1e20s\"\n",
            "s.toml:3:",
            "at most 8760h",
        ),
        (
            "thresholds = [\"p95(browse) < 1e20s\"]\n",
            "s.toml:2:",
            "at most 8760h",
        ),
    ] {
        let scenario = scenario_with(&dir, thrice, extra);
        let out = surge(&["check", scenario.to_str().unwrap()]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{extra}: {stderr}");
        assert!(stderr.contains(at), "{extra}: expected {at} in {stderr}");
        assert!(stderr.contains(wanted), "{extra}: {stderr}");
        assert!(!stderr.contains("panicked"), "{extra}: {stderr}");
    }
    for (key, value) in [("max_duration", "0s"), ("max_duration", "1e20s")] {
        let scenario = scenario_with(&dir, thrice, "");
        let written = std::fs::read_to_string(&scenario).unwrap();
        std::fs::write(&scenario, format!("{written}{key} = \"{value}\"\n")).unwrap();
        let out = surge(&["check", scenario.to_str().unwrap()]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{value}: {stderr}");
        assert!(stderr.contains("s.toml:5:"), "{value}: {stderr}");
        assert!(stderr.contains("traffic.max_duration"), "{value}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
