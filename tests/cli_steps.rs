//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! Steps are the journey file's words: a request measured under `step = "lookup"` gets its own
//! latency, error rate, timeline columns, interval-log tag, report panel and threshold rules,
//! exactly as the shipped funnel steps do; a rule naming a step no journey has is refused.

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{run_quietly, surge};

/// Two steps the shipped journeys do not have, in an order alphabetical order would swap.
const JOURNEYS: &str = "[[journeys]]\nname = \"look\"\nrequests = [\"county\", \"plans\"]\n\
[requests.county]\nstep = \"zip_lookup\"\nurl = \"/api/v1/counties/by/zip/{{ household.zip }}\"\n\
capture.county = { pointer = \"/counties/0\" }\n\
[requests.plans]\nstep = \"compare\"\nmethod = \"POST\"\nurl = \"/api/v1/plans/search\"\n\
stage = \"browsed\"\n\
[requests.plans.json]\nhousehold = \"{{ household }}\"\nmarket = \"Individual\"\nyear = 2014\n\
place = { countyfips = \"{{ county.fips }}\", state = \"{{ county.state }}\", zipcode = \"{{ household.zip }}\" }\n";

fn setup(name: &str, thresholds: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("surge-steps-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("j.toml"), JOURNEYS).unwrap();
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "journeys = \"j.toml\"\nthresholds = [{thresholds}]\n\
             [traffic]\nvisits = 6\nspan = \"1s\"\nlate_after = \"5s\"\n"
        ),
    )
    .unwrap();
    (dir, scenario)
}

#[test]
fn a_step_the_user_names_is_measured_judged_and_drawn_like_the_shipped_ones() {
    let (dir, scenario) = setup(
        "named",
        "\"p95(zip_lookup) < 30s\", \"error_rate(compare) < 1%\"",
    );
    let run = dir.join("run");
    let out = run_quietly(&scenario, &run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["steps"]["zip_lookup"]["requests"], 6, "{summary}");
    assert_eq!(summary["steps"]["compare"]["requests"], 6, "{summary}");
    assert!(
        summary["steps"].get("browse").is_none(),
        "only the journey file's steps: {}",
        summary["steps"]
    );
    assert_eq!(
        summary["step_order"],
        serde_json::json!(["zip_lookup", "compare"])
    );
    let verdicts = summary["thresholds"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2);
    assert!(verdicts.iter().all(|v| v["pass"] == true), "{verdicts:?}");

    let timeline = std::fs::read_to_string(run.join("timeline.csv")).unwrap();
    let header = timeline.lines().next().unwrap();
    assert!(
        header.contains(
            ",zip_lookup_requests,zip_lookup_failures,compare_requests,compare_failures,"
        ),
        "{header}"
    );
    let hlog = std::fs::read_to_string(run.join("latency.hlog")).unwrap();
    assert!(
        hlog.contains("Tag=zip_lookup,"),
        "the interval log tags the step"
    );

    // The saved run is judged again by a rule about a user-named step, and drawn with its panel.
    let run_arg = run.to_str().unwrap();
    let out = surge(&["gate", run_arg, "--threshold", "max(compare) < 30s"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = surge(&["gate", run_arg, "--threshold", "p95(browse) < 1s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown step `browse`: the journeys' steps are zip_lookup, compare"),
        "{stderr}"
    );
    let markdown = std::fs::read_to_string(run.join("summary.md")).unwrap();
    let lookup = markdown
        .find("| zip_lookup ")
        .expect("a row for zip_lookup");
    let compare = markdown.find("| compare ").expect("a row for compare");
    assert!(lookup < compare, "the journey file's order:\n{markdown}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_rule_about_a_step_no_journey_has_is_refused_at_its_line() {
    let (dir, scenario) = setup("unknown", "\"p95(zip_lookup) < 1s\", \"p95(brwse) < 1s\"");
    let out = surge(&["check", scenario.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("s.toml:2:"), "{stderr}");
    assert!(
        stderr.contains("unknown step `brwse`: the journeys' steps are zip_lookup, compare"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
