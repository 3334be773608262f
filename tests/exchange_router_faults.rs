//! The exchange's deliberate faults and capacity limits, over loopback: a real server on
//! 127.0.0.1:0 driven with reqwest. No sleeps are used to synchronise.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use surge::exchange::behaviour::{
    Behaviour, Capacity, EndpointClass, ErrorWindow, InsurerFaults, ScenarioClock, WaitingRoom,
};
use surge::exchange::faults::{defect_834, Defect834};
use surge::exchange::{self, ExchangeConfig, RunningExchange};

mod common;
use common::html_attr;

async fn start(behaviour: Behaviour, clock: ScenarioClock) -> (RunningExchange, Client) {
    behaviour.check().expect("a valid behaviour");
    let config = ExchangeConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        behaviour,
        clock,
        ..Default::default()
    };
    let ex = exchange::start(config).await.expect("exchange starts");
    (ex, Client::new())
}

fn every_insurer(seed: u64, faults: InsurerFaults) -> Behaviour {
    Behaviour {
        seed: Some(seed),
        insurers: BTreeMap::from([("*".to_string(), faults)]),
        ..Default::default()
    }
}

async fn get(c: &Client, url: String) -> (StatusCode, Value) {
    let r = c.get(url).send().await.expect("GET");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

async fn status_of(c: &Client, url: String) -> StatusCode {
    c.get(url).send().await.expect("GET").status()
}

async fn post(c: &Client, url: String, body: &Value) -> (StatusCode, Value) {
    let r = c.post(url).json(body).send().await.expect("POST");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

fn assert_error(body: &Value, status: StatusCode, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_str(), "{body}");
    assert!(
        body["message"].is_string() && body["error"].is_string(),
        "{body}"
    );
}

const NC: (&str, &str, &str) = ("37183", "NC", "27601");

fn nc() -> Value {
    json!({"countyfips": NC.0, "state": NC.1, "zipcode": NC.2})
}

/// Plans offered in Wake County, NC: (plan id, issuer id), cheapest first.
async fn nc_plans(c: &Client, base: &str) -> Vec<(String, String)> {
    let (s, b) = post(
        c,
        format!("{base}/api/v1/plans/search"),
        &json!({"place": nc(), "market": "Individual"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["issuer"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Apply and select `plan`; the payment transaction id.
async fn enroll(c: &Client, base: &str, plan: &str) -> String {
    let household = json!({"income": 32000, "people": [{"age": 34, "uses_tobacco": false, "aptc_eligible": true}]});
    let (s, b) = post(
        c,
        format!("{base}/api/v1/enrollment/applications"),
        &json!({"household": household, "place": nc(), "year": 2014}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let app = b["application"]["id"].as_str().unwrap().to_string();
    let (s, b) = post(
        c,
        format!("{base}/api/v1/enrollment/applications/{app}/selection"),
        &json!({"plan_id": plan}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["enrollment"]["payment_transaction_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The Pay Now page's form: (action, SAMLResponse).
async fn pay_now_form(c: &Client, base: &str, ptid: &str) -> (String, String) {
    let r = c
        .get(format!("{base}/api/v1/enrollment/{ptid}/pay-now"))
        .send()
        .await
        .expect("pay-now");
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    (
        html_attr(&html, "<form", "action"),
        html_attr(&html, "name=\"SAMLResponse\"", "value"),
    )
}

/// Post the SAML Response to `action`: the status, and the payment page when 200.
async fn post_saml(c: &Client, action: &str, saml: &str, ptid: &str) -> (StatusCode, String) {
    let r = c
        .post(action)
        .form(&[("SAMLResponse", saml), ("RelayState", ptid)])
        .send()
        .await
        .expect("post SAML");
    (r.status(), r.text().await.unwrap())
}

/// Pay from the insurer's payment page: the status and body of the payment.
async fn pay(c: &Client, base: &str, page: &str) -> (StatusCode, Value) {
    let action = html_attr(page, "<form", "action");
    let fields = ["payment_transaction_id", "amount", "payment_token"]
        .map(|name| (name, html_attr(page, &format!("name=\"{name}\""), "value")));
    let r = c
        .post(format!("{base}{action}"))
        .form(&fields)
        .send()
        .await
        .expect("payment");
    let status = r.status();
    (status, r.json().await.expect("JSON body"))
}

/// The whole way from Pay Now to the payment, which must work.
async fn pay_for(c: &Client, base: &str, ptid: &str) {
    let (action, saml) = pay_now_form(c, base, ptid).await;
    let (s, page) = post_saml(c, &action, &saml, ptid).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let (s, b) = pay(c, base, &page).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn metrics(c: &Client, base: &str) -> String {
    c.get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of one series in a Prometheus text exposition.
fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} in\n{text}"))
        .parse()
        .unwrap()
}

/// Within `k` standard deviations of a binomial(n, p) count.
fn within(count: usize, n: usize, p: f64, k: f64) -> bool {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= k * sd + 1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Working,
    Broken,
    Dead,
}

fn link_of(base: &str, action: &str) -> Link {
    if action.starts_with("http://127.0.0.1:1/") {
        Link::Dead
    } else if action.starts_with(base) && action.ends_with("/pay-now-broken") {
        Link::Broken
    } else {
        assert!(
            action.starts_with(base) && action.ends_with("/pay-now"),
            "{action}"
        );
        Link::Working
    }
}

#[tokio::test]
async fn broken_and_dead_links_hit_their_share_of_enrollments() {
    let (ex, c) = start(
        every_insurer(
            42,
            InsurerFaults {
                broken_link: 0.25,
                dead_link: 0.15,
                ..Default::default()
            },
        ),
        ScenarioClock::default(),
    )
    .await;
    let base = ex.url().to_string();
    let plans = nc_plans(&c, &base).await;
    let n = 200;
    let mut links = Vec::new();
    for i in 0..n {
        let ptid = enroll(&c, &base, &plans[i % plans.len()].0).await;
        let (action, saml) = pay_now_form(&c, &base, &ptid).await;
        let link = link_of(&base, &action);
        // The same enrollment always gets the same link.
        assert_eq!(
            link,
            link_of(&base, &pay_now_form(&c, &base, &ptid).await.0)
        );
        links.push((link, action, saml, ptid));
    }
    let broken = links.iter().filter(|l| l.0 == Link::Broken).count();
    let dead = links.iter().filter(|l| l.0 == Link::Dead).count();
    assert!(within(broken, n, 0.25, 3.5), "{broken} broken of {n}");
    assert!(within(dead, n, 0.15, 3.5), "{dead} dead of {n}");

    // A broken link is a 404 in the Marketplace shape, a dead one refuses the connection, a
    // working one shows the payment page.
    let (_, action, saml, ptid) = links.iter().find(|l| l.0 == Link::Broken).unwrap();
    let r = c
        .post(action)
        .form(&[("SAMLResponse", saml), ("RelayState", ptid)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_error(&r.json().await.unwrap(), StatusCode::NOT_FOUND, "1003");
    let (_, action, saml, ptid) = links.iter().find(|l| l.0 == Link::Dead).unwrap();
    let err = c
        .post(action)
        .form(&[("SAMLResponse", saml), ("RelayState", ptid)])
        .send()
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_connect(), "{err:?}");
    let (_, action, saml, ptid) = links.iter().find(|l| l.0 == Link::Working).unwrap();
    assert_eq!(post_saml(&c, action, saml, ptid).await.0, StatusCode::OK);

    // Each Pay Now page served with a faulty link counts (every page was fetched twice).
    let m = metrics(&c, &base).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"broken_link\"}"),
        (2 * broken) as f64
    );
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"dead_link\"}"),
        (2 * dead) as f64
    );
    ex.shutdown().await;
}

#[tokio::test]
async fn saml_rejected_refuses_a_valid_response_for_its_share() {
    let (ex, c) = start(
        every_insurer(
            7,
            InsurerFaults {
                saml_rejected: 0.5,
                ..Default::default()
            },
        ),
        ScenarioClock::default(),
    )
    .await;
    let base = ex.url().to_string();
    let plan = nc_plans(&c, &base).await[0].0.clone();
    let n = 60;
    let mut refused = 0;
    for _ in 0..n {
        let ptid = enroll(&c, &base, &plan).await;
        let (action, saml) = pay_now_form(&c, &base, &ptid).await;
        let (s, body) = post_saml(&c, &action, &saml, &ptid).await;
        match s {
            StatusCode::OK => assert!(body.contains("/payments")),
            StatusCode::FORBIDDEN => {
                assert_error(
                    &serde_json::from_str(&body).unwrap(),
                    StatusCode::FORBIDDEN,
                    "2003",
                );
                // Refused again on retry: the fault belongs to the enrollment.
                assert_eq!(
                    post_saml(&c, &action, &saml, &ptid).await.0,
                    StatusCode::FORBIDDEN
                );
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(within(refused, n, 0.5, 3.5), "{refused} refused of {n}");
    let m = metrics(&c, &base).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"saml_rejected\"}"),
        (2 * refused) as f64
    );
    ex.shutdown().await;
}

#[tokio::test]
async fn payment_fails_only_at_the_faulty_insurer_and_records_nothing() {
    let (ex, c) = start(Behaviour::default(), ScenarioClock::default()).await;
    let base = ex.url().to_string();
    let plans = nc_plans(&c, &base).await;
    ex.shutdown().await;
    let (bad_plan, bad_issuer) = plans[0].clone();
    let (good_plan, good_issuer) = plans
        .iter()
        .find(|p| p.1 != bad_issuer)
        .expect("two insurers in Wake County")
        .clone();

    let behaviour = Behaviour {
        insurers: BTreeMap::from([(
            bad_issuer.clone(),
            InsurerFaults {
                payment_fails: 1.0,
                ..Default::default()
            },
        )]),
        ..Default::default()
    };
    let (ex, c) = start(behaviour, ScenarioClock::default()).await;
    let base = ex.url().to_string();

    let ptid = enroll(&c, &base, &bad_plan).await;
    let (action, saml) = pay_now_form(&c, &base, &ptid).await;
    let (s, page) = post_saml(&c, &action, &saml, &ptid).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = pay(&c, &base, &page).await;
    assert_error(&b, StatusCode::INTERNAL_SERVER_ERROR, "1000");
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let (s, st) = get(
        &c,
        format!("{base}/issuers/{bad_issuer}/enrollments/{ptid}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["enrollment"]["paid"], false, "{st}");
    assert_eq!(st["enrollment"]["status"], "awaiting_payment");

    let ptid = enroll(&c, &base, &good_plan).await;
    pay_for(&c, &base, &ptid).await;
    let (_, st) = get(
        &c,
        format!("{base}/issuers/{good_issuer}/enrollments/{ptid}"),
    )
    .await;
    assert_eq!(st["enrollment"]["status"], "effectuated", "{st}");
    ex.shutdown().await;
}

/// Interchanges of an inbox: (REF*1L value, whole text).
fn interchanges(inbox: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in inbox.lines() {
        if line.starts_with("ISA*") {
            out.push((String::new(), String::new()));
        }
        let last = out.last_mut().expect("an ISA first");
        if let Some(v) = line.strip_prefix("REF*1L*") {
            last.0 = v.trim_end_matches('~').to_string();
        }
        last.1.push_str(line);
        last.1.push('\n');
    }
    out
}

/// SE01 equals the number of segments from ST to SE.
fn se_count_ok(interchange: &str) -> bool {
    let segs: Vec<&str> = interchange.lines().collect();
    let st = segs.iter().position(|s| s.starts_with("ST*")).unwrap();
    let se = segs.iter().position(|s| s.starts_with("SE*")).unwrap();
    segs[se].split('*').nth(1) == Some((se - st + 1).to_string().as_str())
}

async fn inbox(c: &Client, base: &str, issuer: &str) -> Vec<(String, String)> {
    let r = c
        .get(format!("{base}/issuers/{issuer}/834"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    interchanges(&r.text().await.unwrap())
}

#[tokio::test]
async fn defective_834s_show_in_the_inboxes_and_the_status() {
    let seed = 99;
    let faults = InsurerFaults {
        missing_834: 0.2,
        duplicate_834: 0.2,
        no_premium_834: 0.2,
        wrong_insurer_834: 0.2,
        ..Default::default()
    };
    let (ex, c) = start(
        every_insurer(seed, faults.clone()),
        ScenarioClock::default(),
    )
    .await;
    let base = ex.url().to_string();
    let (plan, issuer) = nc_plans(&c, &base).await[0].clone();
    let catalog = &ex.state().catalog;
    let ii = catalog.issuers.iter().position(|i| i.id == issuer).unwrap();
    let other = catalog.issuers[ex.state().misrouted_to(ii)].id;
    assert_ne!(other, issuer);

    let n = 50;
    let mut ptids = Vec::new();
    for _ in 0..n {
        ptids.push(enroll(&c, &base, &plan).await);
    }
    let own = inbox(&c, &base, &issuer).await;
    let misrouted = inbox(&c, &base, other).await;
    let mut seen = BTreeMap::new();
    for ptid in &ptids {
        let mine: Vec<&(String, String)> = own.iter().filter(|x| &x.0 == ptid).collect();
        let theirs = misrouted.iter().filter(|x| &x.0 == ptid).count();
        let observed = match (mine.len(), theirs) {
            (0, 0) => Defect834::Missing,
            (2, 0) => {
                // Two identical interchanges but for their control numbers.
                let isa13 = |x: &str| {
                    x.lines()
                        .next()
                        .unwrap()
                        .split('*')
                        .nth(13)
                        .unwrap()
                        .to_string()
                };
                assert_ne!(isa13(&mine[0].1), isa13(&mine[1].1));
                let body = |x: &str| {
                    x.lines()
                        .filter(|l| {
                            !l.starts_with("ISA")
                                && !l.starts_with("GS")
                                && !l.starts_with("BGN")
                                && !l.starts_with("GE")
                                && !l.starts_with("IEA")
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                assert_eq!(body(&mine[0].1), body(&mine[1].1));
                Defect834::Duplicate
            }
            (1, 0) if !mine[0].1.contains("N1*75*PRE AMT TOT") => Defect834::NoPremium,
            (1, 0) => Defect834::None,
            (0, 1) => Defect834::WrongInsurer,
            other => panic!("{ptid}: {other:?}"),
        };
        for x in &mine {
            assert!(se_count_ok(&x.1), "{}", x.1);
        }
        // Exactly the defect the deterministic draw gives this enrollment.
        let number: u64 = ptid.parse().unwrap();
        assert_eq!(observed, defect_834(seed, Some(&faults), number), "{ptid}");
        *seen.entry(format!("{observed:?}")).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 5, "every class shows up: {seen:?}");
    let m = metrics(&c, &base).await;
    for (kind, defect) in [
        ("missing_834", "Missing"),
        ("duplicate_834", "Duplicate"),
        ("no_premium_834", "NoPremium"),
        ("wrong_insurer_834", "WrongInsurer"),
    ] {
        assert_eq!(
            series(&m, &format!("exchange_faults_total{{kind=\"{kind}\"}}")),
            f64::from(seen[defect])
        );
    }

    // Before payment: an insurer with neither the 834 nor the payment has never heard of it.
    let status = |issuer: String, ptid: String| {
        let c = c.clone();
        let base = base.clone();
        async move { get(&c, format!("{base}/issuers/{issuer}/enrollments/{ptid}")).await }
    };
    let defect_of = |ptid: &str| defect_834(seed, Some(&faults), ptid.parse().unwrap());
    for ptid in &ptids {
        let (s, b) = status(issuer.clone(), ptid.clone()).await;
        match defect_of(ptid) {
            Defect834::Missing | Defect834::WrongInsurer => {
                assert_error(&b, StatusCode::NOT_FOUND, "2001");
                assert_eq!(s, StatusCode::NOT_FOUND);
            }
            _ => {
                assert_eq!(s, StatusCode::OK);
                assert_eq!(b["enrollment"]["status"], "awaiting_payment", "{b}");
                assert_eq!(b["enrollment"]["enrollment_834_received"], true);
            }
        }
    }

    // After payment.
    for ptid in &ptids {
        pay_for(&c, &base, ptid).await;
    }
    for ptid in &ptids {
        let (s, b) = status(issuer.clone(), ptid.clone()).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let e = &b["enrollment"];
        assert_eq!(e["paid"], true);
        match defect_of(ptid) {
            Defect834::None | Defect834::Duplicate => {
                assert_eq!(e["status"], "effectuated", "{b}");
                assert_eq!(e["effectuated"], true);
            }
            Defect834::Missing | Defect834::WrongInsurer => {
                assert_eq!(e["status"], "awaiting_834", "{b}");
                assert_eq!(e["effectuated"], false);
                assert_eq!(e["enrollment_834_received"], false);
            }
            Defect834::NoPremium => {
                assert_eq!(e["status"], "awaiting_834", "{b}");
                assert_eq!(e["effectuated"], false);
                assert_eq!(e["enrollment_834_received"], true);
                assert!(e["reason"].as_str().unwrap().contains("premium"), "{b}");
            }
        }
        if defect_of(ptid) == Defect834::WrongInsurer {
            // The insurer that got it holds the 834 and nothing else.
            let (s, b) = status(other.to_string(), ptid.clone()).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["enrollment"]["enrollment_834_received"], true);
            assert_eq!(b["enrollment"]["paid"], false);
            assert_eq!(b["enrollment"]["effectuated"], false);
        }
    }
    ex.shutdown().await;
}

/// What an exchange does to enrollments 1..=n: (link, 834 count in the insurer's inbox).
async fn fingerprint(seed: u64, n: usize) -> Vec<(Link, usize)> {
    let faults = InsurerFaults {
        broken_link: 0.3,
        dead_link: 0.2,
        missing_834: 0.2,
        duplicate_834: 0.2,
        ..Default::default()
    };
    let (ex, c) = start(every_insurer(seed, faults), ScenarioClock::default()).await;
    let base = ex.url().to_string();
    let (plan, issuer) = nc_plans(&c, &base).await[0].clone();
    let mut ptids = Vec::new();
    for _ in 0..n {
        ptids.push(enroll(&c, &base, &plan).await);
    }
    let own = inbox(&c, &base, &issuer).await;
    let mut out = Vec::new();
    for ptid in &ptids {
        let link = link_of(&base, &pay_now_form(&c, &base, ptid).await.0);
        out.push((link, own.iter().filter(|x| &x.0 == ptid).count()));
    }
    ex.shutdown().await;
    out
}

#[tokio::test]
async fn the_same_seed_faults_the_same_enrollments() {
    let a = fingerprint(1234, 60).await;
    let b = fingerprint(1234, 60).await;
    let other = fingerprint(4321, 60).await;
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert!(a.iter().any(|x| x.0 != Link::Working) && a.iter().any(|x| x.1 != 1));
}

fn window(at: &str, paths: &[&str], share: f64, status: u16, code: &str) -> ErrorWindow {
    ErrorWindow {
        at: at.into(),
        lasting: Duration::from_secs(3600),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        share,
        status,
        code: code.into(),
        delay: None,
    }
}

#[tokio::test]
async fn error_windows_follow_the_scenario_clock() {
    let clock = ScenarioClock {
        clock_start: 8.0 * 3600.0,
        ..Default::default()
    };
    clock.origin.set(Instant::now()).unwrap();
    let mut delayed = window("07:30", &["/api/v1/households"], 1.0, 500, "1007");
    delayed.delay = Some(Duration::from_millis(300));
    let behaviour = Behaviour {
        errors: vec![
            // Active now (08:00 is within 07:59 + 1 h).
            window("07:59", &["/api/v1/plans/"], 1.0, 500, "1007"),
            window("08:00", &["/api/v1/counties"], 0.5, 503, "1012"),
            // Not yet (09:00).
            window("09:00", &["/api/v1/issuers"], 1.0, 503, "1012"),
            // Over (06:00-07:00).
            window("06:00", &["/issuers/"], 1.0, 500, "1000"),
            delayed,
        ],
        ..Default::default()
    };
    let (ex, c) = start(behaviour, clock).await;
    let base = ex.url().to_string();

    let (s, b) = get(&c, format!("{base}/api/v1/plans/11512NC0100031")).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error(&b, s, "1007");
    assert_eq!(b["message"], "request timed-out, try again");

    let n = 200;
    let mut failed = 0;
    for _ in 0..n {
        let (s, b) = get(&c, format!("{base}/api/v1/counties/by/zip/27601")).await;
        if s == StatusCode::SERVICE_UNAVAILABLE {
            assert_error(&b, s, "1012");
            assert_eq!(b["message"], "coverage data temporarily unavailable");
            failed += 1;
        } else {
            assert_eq!(s, StatusCode::OK, "{b}");
        }
    }
    assert!(within(failed, n, 0.5, 3.5), "{failed} of {n}");

    let (s, _) = get(&c, format!("{base}/api/v1/issuers?state=NC")).await;
    assert_eq!(s, StatusCode::OK, "not yet");
    let s = status_of(&c, format!("{base}/issuers/11512/834")).await;
    assert_eq!(s, StatusCode::OK, "over");

    let t = Instant::now();
    let (s, b) = post(
        &c,
        format!("{base}/api/v1/households/eligibility/estimates"),
        &json!({"household": {"income": 32000, "people": [{"age": 34}]}, "place": nc(), "year": 2014}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    let r = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let m = metrics(&c, &base).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"error_window\"}"),
        (1 + failed) as f64
    );
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"error_window_delay\"}"),
        1.0
    );
    ex.shutdown().await;
}

fn capacity(ms: u64, concurrency: u32, queue: u32, queue_timeout: Duration) -> Capacity {
    Capacity {
        median: Duration::from_millis(ms),
        p99: Duration::from_millis(ms),
        concurrency,
        queue,
        queue_timeout,
    }
}

#[tokio::test]
async fn a_full_queue_answers_503_right_away() {
    let behaviour = Behaviour {
        capacity: BTreeMap::from([(
            EndpointClass::Browse,
            capacity(200, 1, 0, Duration::from_secs(30)),
        )]),
        ..Default::default()
    };
    let (ex, c) = start(behaviour, ScenarioClock::default()).await;
    let base = ex.url().to_string();
    let url = format!("{base}/api/v1/issuers?state=NC");
    let (a, b) = tokio::join!(get(&c, url.clone()), get(&c, url.clone()));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE]);
    let refused = if a.0 == StatusCode::OK { b.1 } else { a.1 };
    assert_error(&refused, StatusCode::SERVICE_UNAVAILABLE, "1012");
    // Other classes are not limited.
    let s = status_of(&c, format!("{base}/issuers/11512/834")).await;
    assert_eq!(s, StatusCode::OK);
    let m = metrics(&c, &base).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"capacity_queue_full\"}"),
        1.0
    );
    ex.shutdown().await;
}

#[tokio::test]
async fn past_capacity_requests_queue_then_time_out() {
    // One at a time, 100 ms each; two may wait, for at most 150 ms.
    let behaviour = Behaviour {
        capacity: BTreeMap::from([(
            EndpointClass::Insurer,
            capacity(100, 1, 2, Duration::from_millis(150)),
        )]),
        ..Default::default()
    };
    let (ex, c) = start(behaviour, ScenarioClock::default()).await;
    let base = ex.url().to_string();
    let url = format!("{base}/issuers/11512/834");
    let timed = |c: Client, url: String| async move {
        let t = Instant::now();
        let s = c.get(url).send().await.unwrap().status();
        (s, t.elapsed())
    };
    let results = futures_join4(
        timed(c.clone(), url.clone()),
        timed(c.clone(), url.clone()),
        timed(c.clone(), url.clone()),
        timed(c.clone(), url.clone()),
    )
    .await;
    let ok: Vec<Duration> = results
        .iter()
        .filter(|r| r.0 == StatusCode::OK)
        .map(|r| r.1)
        .collect();
    let refused = results
        .iter()
        .filter(|r| r.0 == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    // One served at once, one after queueing (~200 ms), one refused at once, one timed out.
    assert_eq!(ok.len(), 2, "{results:?}");
    assert_eq!(refused, 2, "{results:?}");
    assert!(
        ok.iter().any(|d| *d >= Duration::from_millis(190)),
        "{ok:?}"
    );
    let m = metrics(&c, &base).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"capacity_queue_full\"}")
            + series(&m, "exchange_faults_total{kind=\"capacity_queue_timeout\"}"),
        2.0
    );
    ex.shutdown().await;
}

async fn futures_join4<A, B, C, D>(a: A, b: B, c: C, d: D) -> [A::Output; 4]
where
    A: std::future::Future,
    B: std::future::Future<Output = A::Output>,
    C: std::future::Future<Output = A::Output>,
    D: std::future::Future<Output = A::Output>,
{
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    [a, b, c, d]
}

fn session_cookie(r: &reqwest::Response) -> Option<String> {
    let v = r.headers().get("set-cookie")?.to_str().ok()?;
    assert!(v.contains("Path=/"), "{v}");
    Some(v.split(';').next()?.to_string())
}

#[tokio::test]
async fn the_waiting_room_holds_new_visitors_when_full() {
    let behaviour = Behaviour {
        waiting_room: Some(WaitingRoom {
            at: 1,
            session_idle: Duration::from_secs(300),
            retry_after: Duration::from_secs(120),
        }),
        ..Default::default()
    };
    let clock = ScenarioClock {
        time_scale: 60.0,
        ..Default::default()
    };
    let (ex, c) = start(behaviour, clock).await;
    let base = ex.url().to_string();
    let url = format!("{base}/api/v1/issuers?state=NC");

    let first = c.get(&url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let cookie = session_cookie(&first).expect("a session cookie");
    assert!(cookie.starts_with("exchange_session="), "{cookie}");

    let second = c.get(&url).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["x-waiting-room"], "1");
    // 120 s of scenario time at 60x is 2 s of wall time.
    assert_eq!(second.headers()["retry-after"], "2");
    assert!(session_cookie(&second).is_none());
    let page = second.text().await.unwrap();
    assert!(page.contains("HealthCare.gov has a lot of visitors right now"));

    let again = c
        .get(&url)
        .header("cookie", format!("other=1; {cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert!(session_cookie(&again).is_none());

    // An unknown token is a new visitor.
    let forged = c
        .get(&url)
        .header("cookie", "exchange_session=ffffffffffffffff")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Operations are never held.
    let m = metrics(&c, &base).await;
    assert_eq!(series(&m, "exchange_waiting_room_holding_pages_total"), 2.0);
    assert_eq!(series(&m, "exchange_waiting_room_active_sessions"), 1.0);
    ex.shutdown().await;
}

#[tokio::test]
async fn idle_sessions_free_their_place() {
    // 1 ms of scenario idleness is a few microseconds of wall time at this scale.
    let behaviour = Behaviour {
        waiting_room: Some(WaitingRoom {
            at: 1,
            session_idle: Duration::from_millis(1),
            retry_after: Duration::from_secs(1),
        }),
        ..Default::default()
    };
    let clock = ScenarioClock {
        time_scale: 1000.0,
        ..Default::default()
    };
    let (ex, c) = start(behaviour, clock).await;
    let url = format!("{}/api/v1/issuers?state=NC", ex.url());
    let first = c.get(&url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let cookie = session_cookie(&first).unwrap();
    // The first session is idle by the time the next visitor's request arrives.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = c.get(&url).send().await.unwrap();
        if r.status() == StatusCode::OK {
            assert!(session_cookie(&r).is_some());
            break;
        }
        assert!(Instant::now() < deadline, "the idle session never expired");
    }
    // The expired token no longer admits.
    let r = c
        .get(&url)
        .header("cookie", cookie.as_str())
        .send()
        .await
        .unwrap();
    assert!(r.status() == StatusCode::SERVICE_UNAVAILABLE || session_cookie(&r).is_some());
    ex.shutdown().await;
}

/// `n` concurrent GETs: (status, latency) of each.
async fn burst(c: &Client, url: &str, n: usize) -> Vec<(StatusCode, Duration)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (c, url) = (c.clone(), url.to_string());
        tasks.spawn(async move {
            let t = Instant::now();
            let s = c.get(url).send().await.expect("GET").status();
            (s, t.elapsed())
        });
    }
    tasks.join_all().await
}

#[tokio::test]
async fn latency_grows_then_requests_fail_past_capacity() {
    // Four servers, 200 ms each, eight places in the queue.
    let behaviour = Behaviour {
        capacity: BTreeMap::from([(
            EndpointClass::Browse,
            capacity(200, 4, 8, Duration::from_secs(10)),
        )]),
        ..Default::default()
    };
    let (ex, c) = start(behaviour, ScenarioClock::default()).await;
    let url = format!("{}/api/v1/issuers?state=NC", ex.url());
    let ok = |r: &[(StatusCode, Duration)]| r.iter().filter(|x| x.0 == StatusCode::OK).count();
    let slowest = |r: &[(StatusCode, Duration)]| r.iter().map(|x| x.1).max().unwrap();

    // At capacity: one round of service.
    let r = burst(&c, &url, 4).await;
    assert_eq!(ok(&r), 4, "{r:?}");
    assert!(slowest(&r) < Duration::from_millis(390), "{r:?}");
    // Three times capacity: everyone is served, the last after three rounds.
    let r = burst(&c, &url, 12).await;
    assert_eq!(ok(&r), 12, "{r:?}");
    assert!(slowest(&r) >= Duration::from_millis(590), "{r:?}");
    // Five times: the queue is full, the rest is refused at once.
    let r = burst(&c, &url, 20).await;
    assert_eq!(ok(&r), 12, "{r:?}");
    for (s, d) in &r {
        if *s != StatusCode::OK {
            assert_eq!(*s, StatusCode::SERVICE_UNAVAILABLE);
            assert!(*d < Duration::from_millis(190), "refused at once: {d:?}");
        }
    }
    ex.shutdown().await;
}
