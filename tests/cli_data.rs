//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! Test data from a file: a real staging exchange knows only its pre-registered consumers, so
//! `[data]` feeds CSV rows to the visits (their households, and every column to the templates),
//! the same row to the same visit for the same seed, and a `unique` feeder that runs dry ends
//! the run with the reason and exit 4.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{run_ok, run_quietly, surge};

const CONSUMERS: &str = "consumer_id,zip,income,ages,tobacco\n\
C-101,27601,30000,47;44;12,n;y;n\n\
C-102,33101,52000,30,n\n\
C-103,28202,18000,61;59,n;n\n";

const JOURNEYS: &str = "[[journeys]]\nname = \"look\"\nrequests = [\"county\"]\n\
[requests.county]\nstep = \"browse\"\nurl = \"/api/v1/counties/by/zip/{{ household.zip }}\"\n\
headers = { X-Consumer = \"{{ data.consumer_id }}\" }\nstage = \"browsed\"\n";

fn setup(name: &str, order: &str, visits: u64) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("surge-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("consumers.csv"), CONSUMERS).unwrap();
    std::fs::write(dir.join("j.toml"), JOURNEYS).unwrap();
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "journeys = \"j.toml\"\n[traffic]\nvisits = {visits}\nspan = \"1s\"\nlate_after = \"5s\"\n\
             [data]\nhouseholds = \"consumers.csv\"\norder = \"{order}\"\n"
        ),
    )
    .unwrap();
    (dir, scenario)
}

fn summary(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn each_visit_gets_its_row_household_and_columns() {
    let (dir, scenario) = setup("rows", "sequential", 6);
    // Visit 4 of a sequential feeder over 3 rows is row 2 (C-102, Miami).
    let out = surge(&["trace", scenario.to_str().unwrap(), "--visit", "4"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("/counties/by/zip/33101"), "{stdout}");
    assert!(stdout.contains("X-Consumer: C-102"), "{stdout}");

    let run = dir.join("run");
    run_ok(&scenario, &run);
    assert_eq!(summary(&run)["funnel"]["browsed"], 6);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_unique_feeder_that_runs_dry_ends_the_run_with_exit_4() {
    let (dir, scenario) = setup("dry", "unique", 5);
    let run = dir.join("run");
    let out = run_quietly(&scenario, &run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("ran dry") && stderr.contains("3 rows"),
        "{stderr}"
    );
    let s = summary(&run);
    assert_eq!(
        s["visits"]["started"], 3,
        "the three rows were used: {}",
        s["visits"]
    );
    assert!(s["run_error"].as_str().unwrap().contains("ran dry"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_row_is_refused_before_any_traffic() {
    let (dir, scenario) = setup("bad", "random", 3);
    std::fs::write(
        dir.join("consumers.csv"),
        "consumer_id,zip,ages\nC-1,27601,40\nC-2,27601,forty\n",
    )
    .unwrap();
    let out = surge(&["check", scenario.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("consumers.csv:3: ages: `forty`"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
