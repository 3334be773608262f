//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! Each fault class of the embedded exchange, switched on from a scenario file, shows up where a
//! user looks — the cracks report, the steps' failures, the waiting-room figures — at the
//! configured rate, the same way for the same seed; and faults are refused against a real target.

use std::path::PathBuf;

use serde_json::Value;

use crate::util::surge;

/// An empty scratch directory for one test (a process id can repeat across runs: what an earlier
/// run left there is removed).
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-faults-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `exchange` (the body of an `[exchange]` section) under a scenario of `visits` applicants
/// who all go as far as confirming their coverage.
fn run_with(name: &str, visits: u32, exchange: &str) -> (i32, Value, PathBuf) {
    let dir = fresh_dir(name);
    let scenario = format!(
        "[traffic]\nvisits = {visits}\nspan = \"2s\"\npool = 200\nlate_after = \"5s\"\nseed = 7\n\
         [traffic.mix]\nconfirm = 1\n[households]\nmax_pages = 1\n{exchange}\n"
    );
    let file = dir.join("scenario-in.toml");
    std::fs::write(&file, scenario).unwrap();
    let run_dir = dir.join("run");
    let out = surge(&[
        "run",
        file.to_str().unwrap(),
        "--quiet",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    let summary = std::fs::read_to_string(run_dir.join("summary.json"))
        .unwrap_or_else(|e| panic!("no summary ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&summary).unwrap(),
        run_dir,
    )
}

/// Sum of a number over every insurer of the cracks report.
fn cracks_total(summary: &Value, path: &[&str]) -> u64 {
    summary["cracks"]["insurers"]
        .as_object()
        .unwrap()
        .values()
        .map(|insurer| {
            path.iter()
                .fold(insurer, |v, key| &v[*key])
                .as_u64()
                .unwrap()
        })
        .sum()
}

/// `count` is within four standard deviations of `share` of `n`.
fn near(count: u64, share: f64, n: u64) -> bool {
    let expected = share * n as f64;
    let sigma = (n as f64 * share * (1.0 - share)).sqrt().max(1.0);
    (count as f64 - expected).abs() <= 4.0 * sigma
}

#[test]
fn broken_and_dead_payment_links_are_broken_redirects_at_their_rate() {
    let (_, summary, _) = run_with(
        "links",
        300,
        "[exchange.insurers.\"*\"]\nbroken_link = 0.3\ndead_link = 0.2\n",
    );
    assert_eq!(summary["cracks"]["insurer_records"], true);
    let applications = cracks_total(&summary, &["applications"]);
    assert!(applications > 250, "{applications} applications");
    let broken = cracks_total(&summary, &["classes", "broken_redirect"]);
    assert!(
        near(broken, 0.5, applications),
        "{broken} of {applications} broken redirects"
    );
    // They never paid, so each is also an 834 without a payment at the insurer.
    assert_eq!(
        cracks_total(&summary, &["classes", "834_no_payment"]),
        broken
    );
    let reasons: Vec<String> = summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("insurer landing: HTTP 404")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("insurer landing: cannot connect (Connection refused")),
        "{reasons:?}"
    );
}

#[test]
fn refused_saml_and_failing_payments_leave_834s_without_payment() {
    let (_, summary, _) = run_with(
        "saml-pay",
        300,
        "[exchange.insurers.\"*\"]\nsaml_rejected = 0.25\npayment_fails = 0.2\n",
    );
    let applications = cracks_total(&summary, &["applications"]);
    let broken = cracks_total(&summary, &["classes", "broken_redirect"]);
    assert!(
        near(broken, 0.25, applications),
        "{broken} of {applications} refused"
    );
    let reached = cracks_total(&summary, &["redirected"]);
    let paid = cracks_total(&summary, &["paid"]);
    assert!(
        near(reached - paid, 0.2, reached),
        "{paid} of {reached} paid"
    );
    assert_eq!(
        cracks_total(&summary, &["classes", "834_no_payment"]),
        applications - paid
    );
    assert_eq!(
        summary["steps"]["pay"]["outcomes"]["5xx"].as_u64().unwrap(),
        reached - paid
    );
}

#[test]
fn each_834_defect_is_found_in_the_insurers_inboxes() {
    let (_, summary, _) = run_with(
        "834",
        400,
        "[exchange.insurers.\"*\"]\nmissing_834 = 0.2\nduplicate_834 = 0.15\nno_premium_834 = 0.1\nwrong_insurer_834 = 0.1\n",
    );
    let applications = cracks_total(&summary, &["applications"]);
    let class = |c: &str| cracks_total(&summary, &["classes", c]);
    assert!(
        near(class("duplicate_834"), 0.15, applications),
        "duplicates {}",
        class("duplicate_834")
    );
    assert!(
        near(class("834_without_premium"), 0.1, applications),
        "bare {}",
        class("834_without_premium")
    );
    assert!(
        near(class("wrong_insurer_834"), 0.1, applications),
        "misrouted {}",
        class("wrong_insurer_834")
    );
    // Paid, but the insurer holds no 834: the missing ones and the misrouted ones.
    assert!(
        near(class("paid_no_834"), 0.3, applications),
        "paid, no 834: {}",
        class("paid_no_834")
    );
    // Only applicants whose insurer holds a full 834 and their payment are covered.
    let effectuated = cracks_total(&summary, &["effectuated"]);
    assert_eq!(
        effectuated,
        applications - class("paid_no_834") - class("834_without_premium")
    );
    // The confirm journey asked the insurers too, and failed those not covered.
    assert_eq!(
        summary["funnel"]["effectuated"].as_u64().unwrap(),
        effectuated
    );
}

#[test]
fn an_error_window_fails_the_requests_it_covers() {
    let (code, summary, _) = run_with(
        "window",
        200,
        "[[exchange.errors]]\nat = \"00:00\"\nlasting = \"1h\"\npaths = [\"/api/v1/households/eligibility\"]\nshare = 0.4\nstatus = 500\ncode = \"1007\"\n",
    );
    assert_eq!(code, 0, "no thresholds: the run itself completes");
    let eligibility = &summary["steps"]["eligibility"];
    let requests = eligibility["requests"].as_u64().unwrap();
    let failures = eligibility["failures"].as_u64().unwrap();
    assert!(near(failures, 0.4, requests), "{failures} of {requests}");
    assert_eq!(eligibility["outcomes"]["5xx"].as_u64().unwrap(), failures);
    assert_eq!(
        summary["steps"]["browse"]["failures"], 0,
        "other paths untouched"
    );
    let reasons = summary["failures"].to_string();
    assert!(reasons.contains("HTTP 500 (code 1007)"), "{reasons}");
}

#[test]
fn a_full_exchange_refuses_with_503_and_a_waiting_room_holds_visitors() {
    let (_, summary, _) = run_with(
        "capacity",
        200,
        "[exchange.capacity.browse]\nmedian = \"40ms\"\np99 = \"80ms\"\nconcurrency = 2\nqueue = 4\nqueue_timeout = \"100ms\"\n",
    );
    assert!(
        summary["steps"]["browse"]["outcomes"]["5xx"]
            .as_u64()
            .unwrap()
            > 0,
        "{}",
        summary["steps"]["browse"]
    );
    assert!(summary["failures"].to_string().contains("(code 1012)"));

    let (_, summary, _) = run_with(
        "waiting-room",
        150,
        "[exchange.waiting_room]\nat = 15\nsession_idle = \"300ms\"\nretry_after = \"250ms\"\n",
    );
    let waiting = &summary["waiting_room"];
    assert!(waiting["waits"].as_u64().unwrap() > 0, "{waiting}");
    assert!(
        waiting["wait_p50_ms"].as_f64().unwrap() >= 250.0,
        "{waiting}"
    );
    // Held visitors wait and get in: nobody fails.
    for (step, stats) in summary["steps"].as_object().unwrap() {
        assert_eq!(stats["failures"], 0, "{step}");
    }
    assert_eq!(summary["funnel"]["effectuated"], 150);
}

#[test]
fn the_same_seed_fails_the_same_applicants() {
    // Every injected fault class at once. Insurer faults are drawn per applicant, error windows per
    // request of a visit: neither by the order requests happen to arrive in.
    let faults = "[exchange.insurers.\"*\"]\nbroken_link = 0.15\ndead_link = 0.05\n\
                  saml_rejected = 0.1\npayment_fails = 0.1\nmissing_834 = 0.05\n\
                  duplicate_834 = 0.05\nno_premium_834 = 0.05\nwrong_insurer_834 = 0.05\n\
                  [[exchange.errors]]\nat = \"00:00:00\"\nlasting = \"1h\"\n\
                  paths = [\"/api/v1/plans\"]\nshare = 0.2\nstatus = 503\ncode = \"1012\"\n";
    let (_, first, first_dir) = run_with("seed-a", 120, faults);
    let (_, second, second_dir) = run_with("seed-b", 120, faults);
    assert_eq!(first["cracks"], second["cracks"]);
    let failed = |dir: &std::path::Path| {
        let text = std::fs::read_to_string(dir.join("failures.csv")).unwrap();
        // visit,clock,step,reason: the clock is when it failed, which timing may shift.
        let mut rows: Vec<String> = text
            .lines()
            .skip(1)
            .map(|row| {
                let fields: Vec<&str> = row.splitn(3, ',').collect();
                format!("{},{}", fields[0], fields[2])
            })
            .collect();
        rows.sort();
        rows
    };
    let (first_failed, second_failed) = (failed(&first_dir), failed(&second_dir));
    let in_window = first_failed.iter().filter(|r| r.contains("503")).count();
    assert!(in_window > 10, "the window failed visits: {first_failed:?}");
    let reasons: std::collections::BTreeSet<&str> = first_failed
        .iter()
        .filter_map(|row| row.split_once(',').map(|(_, failure)| failure))
        .collect();
    assert!(
        reasons.len() >= 4,
        "the window, broken and dead links, refused SAML and failed payments each fail visits: {reasons:?}"
    );
    assert_eq!(
        first_failed, second_failed,
        "the same visits failed at the same step for the same reason"
    );
}

#[test]
fn faults_are_refused_against_a_real_target_unless_ignored() {
    let dir = fresh_dir("refuse");
    let file = dir.join("scenario-in.toml");
    std::fs::write(&file, "[traffic]\nvisits = 3\n[traffic.mix]\nbrowse = 1\n[exchange.insurers.\"*\"]\nbroken_link = 0.5\n").unwrap();
    let out = surge(&[
        "run",
        file.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:9",
        "--quiet",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ignore-exchange-section"));
    let run_dir = dir.join("run");
    let out = surge(&[
        "run",
        file.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:9",
        "--quiet",
        "--ignore-exchange-section",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    // Ran without the section: nothing listens there, so exit 4, not a refusal (2).
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run_dir.join("summary.json").exists());
}

#[test]
fn a_bad_share_is_refused_naming_the_key() {
    let dir = fresh_dir("bad");
    let file = dir.join("scenario-in.toml");
    std::fs::write(&file, "[traffic]\nvisits = 3\n[traffic.mix]\nbrowse = 1\n[exchange.insurers.\"11512\"]\nbroken_link = 1.5\n").unwrap();
    let out = surge(&["run", file.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken_link") && stderr.contains("scenario-in.toml"),
        "{stderr}"
    );
}
