//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! A differently shaped exchange — its 834s separated by `|`, with unpadded ids and no premium
//! loops, its insurers answering in their own words — is served by `surge exchange` with planted
//! cracks (broken and dead links, refused SAML, failed payments, missing, duplicate and misrouted
//! 834s). `scenarios/shaped.toml`, with only its `[cracks]` keys and the journey file's
//! `status_map`, must count the true cracks: the report is compared, insurer by insurer and class
//! by class, with what the exchange itself says it did (`GET /staging/enrollments`), and
//! `surge cracks` on the same 834s delivered as files gives the same numbers.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::{self, forget_cracks, rehearse_failing, summary, ExchangeProcess};

/// `surge exchange` flags for the exchange `scenarios/shaped.toml` is written for.
const SHAPE: [&str; 12] = [
    "--base-path",
    "/shaped",
    "--pay-now",
    "json",
    "--834-ids",
    "unpadded",
    "--834-separator",
    "|",
    "--834-premiums",
    "none",
    "--status-words",
    "effectuated=ACTIVE,awaiting_payment=PENDING_PAYMENT,awaiting_834=PENDING_834",
];

/// Drops at every stage, for every insurer; the 834 defects are one draw (at most one each).
const FAULTS: &str = r#"seed = 23
[insurers."*"]
broken_link = 0.08
dead_link = 0.04
saml_rejected = 0.05
payment_fails = 0.08
missing_834 = 0.08
duplicate_834 = 0.08
wrong_insurer_834 = 0.08
"#;

/// The classes the cracks report can count, as `summary.json` names them.
const CLASSES: [&str; 8] = [
    "never_redirected",
    "broken_redirect",
    "paid_no_834",
    "834_no_payment",
    "unknown_to_insurer",
    "duplicate_834",
    "834_without_premium",
    "wrong_insurer_834",
];

async fn get_json(url: &str) -> Value {
    let reply = reqwest::get(url).await.unwrap();
    assert!(reply.status().is_success(), "{url}: {}", reply.status());
    reply.json().await.unwrap()
}

/// One insurer's applicants and cracks as the exchange's own records make them.
#[derive(Debug, Default, PartialEq)]
struct Truth {
    applications: u64,
    pay_now: u64,
    redirected: u64,
    paid: u64,
    effectuated: u64,
    fell_through: u64,
    classes: BTreeMap<String, u64>,
}

/// The cracks the exchange planted, per insurer, from `GET /staging/enrollments`: what became of
/// each enrollment's 834 and how far its applicant got on the exchange's side. Also checks that
/// each applicant got exactly as far as the planted faults let them (the journeys lost nobody else).
fn truth(enrollments: &[Value]) -> BTreeMap<String, Truth> {
    let mut insurers: BTreeMap<String, Truth> = BTreeMap::new();
    for e in enrollments {
        let flag = |key: &str| e[key].as_bool().unwrap_or_else(|| panic!("{key}: {e}"));
        let (served, landed, paid) = (flag("pay_now_served"), flag("landed"), flag("paid"));
        assert!(served, "every applicant gets the Pay Now page: {e}");
        assert_eq!(
            landed,
            e["pay_now_link"] == "working" && !flag("saml_rejected"),
            "{e}"
        );
        assert_eq!(paid, landed && !flag("payment_fails"), "{e}");
        let initial_834 = e["initial_834"].as_str().unwrap();
        let own_834 = matches!(initial_834, "sent" | "duplicate" | "no_premium");
        let mut classes = Vec::new();
        if !served {
            classes.push("never_redirected");
        } else if !landed {
            classes.push("broken_redirect");
        }
        match (paid, own_834) {
            (true, false) => classes.push("paid_no_834"),
            (false, true) => classes.push("834_no_payment"),
            (false, false) => classes.push("unknown_to_insurer"),
            (true, true) => {}
        }
        match initial_834 {
            "duplicate" => classes.push("duplicate_834"),
            "no_premium" => classes.push("834_without_premium"),
            "wrong_insurer" => classes.push("wrong_insurer_834"),
            _ => {}
        }
        let insurer = insurers
            .entry(e["issuer_id"].as_str().unwrap().to_string())
            .or_insert_with(|| Truth {
                classes: CLASSES.iter().map(|c| (c.to_string(), 0)).collect(),
                ..Truth::default()
            });
        insurer.applications += 1;
        insurer.pay_now += u64::from(served);
        insurer.redirected += u64::from(landed);
        insurer.paid += u64::from(paid);
        insurer.effectuated += u64::from(e["insurer_status"] == "effectuated");
        insurer.fell_through += u64::from(!classes.is_empty());
        for class in classes {
            *insurer.classes.get_mut(class).unwrap() += 1;
        }
    }
    insurers
}

/// The same numbers as a cracks report's insurers.
fn reported(cracks: &Value) -> BTreeMap<String, Truth> {
    let count = |v: &Value, key: &str| v[key].as_u64().unwrap_or_else(|| panic!("{key}: {v}"));
    cracks["insurers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, i)| {
            let truth = Truth {
                applications: count(i, "applications"),
                pay_now: count(i, "pay_now"),
                redirected: count(i, "redirected"),
                paid: count(i, "paid"),
                effectuated: count(i, "effectuated"),
                fell_through: count(i, "fell_through"),
                classes: CLASSES
                    .iter()
                    .map(|c| (c.to_string(), count(&i["classes"], c)))
                    .collect(),
            };
            (id.clone(), truth)
        })
        .collect()
}

/// The insurers' answers to the confirm journeys (ACTIVE, PENDING_834, …) are written down in
/// surge's words, through the journey file's `status_map`, and are what the insurer really holds;
/// the funnel's `effectuated` counts those that said ACTIVE.
fn confirmed_in_surges_words(run: &Path, enrollments: &[Value]) {
    let holds: BTreeMap<&str, &Value> = enrollments
        .iter()
        .map(|e| {
            (
                e["payment_transaction_id"].as_str().unwrap(),
                &e["insurer_status"],
            )
        })
        .collect();
    let mut asked: BTreeMap<String, u64> = BTreeMap::new();
    let mut rows = csv::Reader::from_path(run.join("enrollments.csv")).unwrap();
    for row in rows.deserialize::<BTreeMap<String, String>>() {
        let row = row.unwrap();
        let confirmed = &row["confirmed"];
        if confirmed.is_empty() {
            continue;
        }
        let held = holds[row["payment_transaction_id"].as_str()];
        assert_eq!(held.as_str(), Some(confirmed.as_str()), "{row:?}");
        *asked.entry(confirmed.clone()).or_default() += 1;
    }
    assert!(
        asked.get("awaiting_834").copied().unwrap_or(0) > 0,
        "{asked:?}"
    );
    assert_eq!(
        summary(run)["funnel"]["effectuated"].as_u64(),
        asked.get("effectuated").copied(),
        "{asked:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shaped_exchange_gets_its_true_cracks_from_the_scenario_alone() {
    let dir = std::env::temp_dir().join(format!("surge-cracks-shaped-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let faults = dir.join("faults.toml");
    std::fs::write(&faults, FAULTS).unwrap();
    let mut args = vec!["--faults", faults.to_str().unwrap()];
    args.extend(SHAPE);
    let exchange = ExchangeProcess::start(&args);
    assert!(exchange.url.ends_with("/shaped"), "{}", exchange.url);

    let run = dir.join("run");
    rehearse_failing(
        "scenarios/shaped.toml",
        &exchange.url,
        &[],
        &run,
        "the planted cracks fail the rehearsal's thresholds",
    );

    // The exchange's own account, and the shape it was in.
    let staged = get_json(&format!("{}/staging/enrollments", exchange.url)).await;
    let enrollments = staged["enrollments"].as_array().unwrap().clone();
    let expected = truth(&enrollments);
    let files = dir.join("834");
    // Every insurer's inbox, as delivered: one file each, in the exchange's own shape.
    util::deliver_inboxes(&exchange.url, &files, |_, x12| x12).await;
    let sample = std::fs::read_to_string(files.join(format!(
        "{}.x12",
        enrollments[0]["issuer_id"].as_str().unwrap()
    )))
    .unwrap();
    assert!(
        sample.starts_with("ISA|") && !sample.contains("LS|2700"),
        "{sample}"
    );
    drop(exchange);

    let cracks = summary(&run)["cracks"].clone();
    assert_eq!(cracks["insurer_records"], true, "{cracks}");
    let got = reported(&cracks);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same insurers"
    );
    for (id, truth) in &expected {
        assert_eq!(
            &got[id], truth,
            "insurer {id}: the report (left) against the truth (right)"
        );
    }
    // Every paid applicant's id was found in the 834s, but for those whose 834 was never sent; and
    // every insurer's word was translated.
    let paid = |e: &&Value| e["paid"] == true;
    let missing = enrollments
        .iter()
        .filter(paid)
        .filter(|e| e["initial_834"] == "missing")
        .count() as u64;
    let paid = enrollments.iter().filter(paid).count() as u64;
    assert_eq!(cracks["matching"]["paid"], paid, "{cracks}");
    assert_eq!(cracks["matching"]["matched"], paid - missing, "{cracks}");
    assert_eq!(cracks.get("unmapped_status"), None, "{cracks}");
    assert_eq!(cracks.get("warnings"), None, "{cracks}");
    confirmed_in_surges_words(&run, &enrollments);

    // Every planted drop was there to be found, and nothing else was.
    let total = |class: &str| expected.values().map(|t| t.classes[class]).sum::<u64>();
    for class in [
        "broken_redirect",
        "paid_no_834",
        "834_no_payment",
        "unknown_to_insurer",
        "duplicate_834",
        "wrong_insurer_834",
    ] {
        assert!(total(class) >= 3, "too few {class} to tell: {expected:?}");
    }
    assert_eq!(total("834_without_premium"), 0);
    assert_eq!(total("never_redirected"), 0);
    assert!(expected.values().map(|t| t.effectuated).sum::<u64>() >= 100);

    // The same 834s read as files give the same numbers, the scenario's keys still saying how.
    forget_cracks(&run);
    let from_files = util::cracks(&run, Some(&files), &[]);
    assert_eq!(from_files["insurers"], cracks["insurers"]);
    assert_eq!(from_files["matching"], cracks["matching"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
