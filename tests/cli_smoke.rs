//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! A small run against the embedded exchange over loopback: the journeys really walk the funnel,
//! and what the summary says adds up.

use serde_json::Value;

use crate::util::{surge, tolerant_smoke};

fn run_scenario(visits: &str, extra: &[&str]) -> (i32, Value, String) {
    let out_dir =
        std::env::temp_dir().join(format!("surge-run-test-{}-{visits}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let scenario = tolerant_smoke(&out_dir.with_extension("in"));
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--visits",
        visits,
        "--quiet",
        "--out",
        out_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = surge(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary = std::fs::read_to_string(out_dir.join("summary.json")).unwrap_or_else(|e| {
        panic!(
            "no summary.json ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&summary).unwrap(),
        stdout,
    )
}

#[test]
fn smoke_run_walks_the_whole_funnel_without_failures() {
    let (code, summary, stdout) = run_scenario("120", &[]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(summary["visits"]["planned"], 120);
    assert_eq!(summary["visits"]["completed"], 120);

    let funnel = &summary["funnel"];
    let stages = [
        "visits",
        "browsed",
        "eligibility",
        "selected",
        "redirected",
        "paid",
        "effectuated",
    ];
    let counts: Vec<u64> = stages.iter().map(|s| funnel[s].as_u64().unwrap()).collect();
    assert_eq!(counts[0], 120);
    for pair in counts.windows(2) {
        assert!(pair[1] <= pair[0], "funnel grows: {funnel}");
    }
    assert!(funnel["paid"].as_u64().unwrap() > 0, "{funnel}");
    assert!(funnel["effectuated"].as_u64().unwrap() > 0, "{funnel}");
    // A healthy exchange converts every visit that tried a stage, whatever the journey mix:
    // half the visits never ask the insurer, and that is not a 50% conversion.
    let tried = &summary["funnel_attempted"];
    for stage in &stages[1..] {
        assert_eq!(funnel[stage], tried[stage], "{stage}: {funnel} of {tried}");
        let funnel_table = stdout.split("\nfunnel\n").nth(1).expect("a funnel table");
        let line = funnel_table
            .lines()
            .find(|l| l.trim_start().starts_with(stage))
            .unwrap_or_else(|| panic!("no funnel line for {stage}: {stdout}"));
        assert!(line.contains("100.0% of"), "{line}");
    }
    assert!(
        tried["effectuated"].as_u64().unwrap() < tried["paid"].as_u64().unwrap(),
        "only confirm visits ask the insurer: {tried}"
    );

    for (step, stats) in summary["steps"].as_object().unwrap() {
        assert_eq!(
            stats["failures"], 0,
            "step {step} failed on a healthy exchange: {}",
            summary["failures"]
        );
        assert!(
            stats["requests"].as_u64().unwrap() > 0,
            "step {step} never ran"
        );
        let p50 = stats["p50_ms"].as_f64().unwrap();
        let p99 = stats["p99_ms"].as_f64().unwrap();
        let max = stats["max_ms"].as_f64().unwrap();
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{step}: {stats}");
    }
    assert!(stdout.contains("effectuated"), "{stdout}");
    // Only surge speaks: Goose's own "N users launched." line does not reach the terminal.
    assert!(!stdout.contains("launched"), "{stdout}");
    assert!(stdout.trim_start().starts_with("surge: "), "{stdout}");

    // Every applicant who selected a plan is accounted for by the insurers' own records.
    let cracks = &summary["cracks"];
    assert_eq!(cracks["insurer_records"], true);
    let insurers = cracks["insurers"].as_object().unwrap();
    let applications: u64 = insurers
        .values()
        .map(|i| i["applications"].as_u64().unwrap())
        .sum();
    assert_eq!(applications, funnel["selected"].as_u64().unwrap());
    for (id, insurer) in insurers {
        for (class, count) in insurer["classes"].as_object().unwrap() {
            assert_eq!(count, 0, "insurer {id}: {class} on a healthy exchange");
        }
        assert_eq!(insurer["effectuated"], insurer["paid"], "insurer {id}");
    }
}

#[test]
fn same_seed_gives_the_same_funnel() {
    let (_, first, _) = run_scenario("60", &["--seed", "99"]);
    let (_, second, _) = run_scenario("61", &["--seed", "99"]);
    // 61 visits are the 60 of the first run plus one more: every stage grows by at most one.
    for (stage, count) in first["funnel"].as_object().unwrap() {
        let again = second["funnel"][stage].as_u64().unwrap();
        let count = count.as_u64().unwrap();
        assert!(
            again == count || again == count + 1,
            "{stage}: {count} then {again}"
        );
    }
}
