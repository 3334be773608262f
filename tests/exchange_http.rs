//! Level: a real exchange on 127.0.0.1:0 driven over loopback HTTP with reqwest. What needs real
//! connections: the whole journey following the Pay Now form's URL to the insurer, Pay Now links
//! that are broken or refuse the connection, and capacity limits under concurrent connections.
//! No sleeps are used to synchronise.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use surge::exchange::behaviour::{
    Behaviour, Capacity, EndpointClass, InsurerFaults, ScenarioClock,
};

use crate::util::{
    apply, assert_error, enroll, every_insurer, get, household, html_attr, link_of, metrics,
    nc_plans, pay_now_form, place, post, post_saml, select, series, status_of, within, Exchange,
    Link,
};

#[tokio::test]
async fn full_journey_by_hand() {
    let (running, ex) = Exchange::serve(Behaviour::default(), ScenarioClock::default()).await;
    let base = ex.base().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    // County by ZIP.
    let (s, b) = get(&ex, "/api/v1/counties/by/zip/27601?apikey=x&year=2014").await;
    assert_eq!(s, StatusCode::OK);
    let county = &b["counties"][0];
    assert_eq!(county["fips"], "37183");
    assert_eq!(county["state"], "NC");
    let nc = place("37183", "NC", "27601");

    // Plan search, page 1 and page 2.
    let search = |offset: usize| {
        json!({"household": household(32000.0, &[34]), "market": "Individual", "place": nc, "year": 2014,
               "offset": offset, "order": "asc", "sort": "premium"})
    };
    let (s, p1) = post(&ex, "/api/v1/plans/search", &search(0)).await;
    assert_eq!(s, StatusCode::OK, "{p1}");
    let (_, p2) = post(&ex, "/api/v1/plans/search", &search(10)).await;
    let total = p1["total"].as_u64().unwrap();
    assert!(total > 20);
    assert_eq!(p2["total"], p1["total"], "total is stable across pages");
    assert_eq!(p1["plans"].as_array().unwrap().len(), 10);
    assert_eq!(p2["plans"].as_array().unwrap().len(), 10);
    assert_ne!(p1["plans"][0]["id"], p2["plans"][0]["id"]);
    let premiums: Vec<f64> = p1["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["premium"].as_f64().unwrap())
        .collect();
    assert!(
        premiums.windows(2).all(|w| w[0] <= w[1]),
        "ascending premiums {premiums:?}"
    );
    assert!(p1["plans"][9]["premium"].as_f64() <= p2["plans"][0]["premium"].as_f64());
    assert_eq!(p1["facet_groups"][0]["name"], "metalLevels");
    let facet_total: u64 = p1["facet_groups"][0]["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .sum();
    assert_eq!(facet_total, total);
    assert_eq!(p1["rate_area"]["area"], 4);
    assert!(p1["ranges"]["premiums"]["min"].as_f64() <= p1["ranges"]["premiums"]["max"].as_f64());

    // Silver filter and plan details.
    let mut silver = search(0);
    silver["filter"] = json!({"metal_levels": ["Silver"]});
    let (_, sb) = post(&ex, "/api/v1/plans/search", &silver).await;
    let plan = sb["plans"][0].clone();
    assert_eq!(plan["metal_level"], "Silver");
    assert!(
        plan["premium_w_credit"].as_f64().unwrap() < plan["premium"].as_f64().unwrap(),
        "{plan}"
    );
    let plan_id = plan["id"].as_str().unwrap().to_string();
    let (s, d) = get(&ex, &format!("/api/v1/plans/{plan_id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["plan"]["id"], plan_id.as_str());
    assert!(d["plan"].get("premium").is_none());
    let issuer_id = d["plan"]["issuer"]["id"].as_str().unwrap().to_string();

    // Eligibility estimates.
    let estimate = |h: Value, p: Value| json!({"household": h, "place": p, "year": 2014});
    let url = "/api/v1/households/eligibility/estimates";
    let (_, low) = post(
        &ex,
        url,
        &estimate(household(12000.0, &[34]), place("26163", "MI", "48201")),
    )
    .await;
    assert_eq!(
        low["estimates"][0]["is_medicaid_chip"], true,
        "Medicaid in an expansion state: {low}"
    );
    assert_eq!(low["estimates"][0]["aptc"], 0.0);
    let (_, gap) = post(&ex, url, &estimate(household(9000.0, &[34]), nc.clone())).await;
    assert_eq!(
        gap["estimates"][0]["is_medicaid_chip"], false,
        "coverage gap in a non-expansion state"
    );
    let (_, mid) = post(&ex, url, &estimate(household(23000.0, &[34]), nc.clone())).await;
    assert!(
        mid["estimates"][0]["aptc"].as_f64().unwrap() > 0.0,
        "APTC at 200% FPL: {mid}"
    );
    let (_, high) = post(&ex, url, &estimate(household(50000.0, &[34]), nc.clone())).await;
    assert_eq!(high["estimates"][0]["aptc"], 0.0, "no APTC above 400% FPL");
    let (_, fam) = post(
        &ex,
        url,
        &estimate(household(40000.0, &[40, 38, 10]), nc.clone()),
    )
    .await;
    assert_eq!(fam["estimates"].as_array().unwrap().len(), 3);

    // Application and selection.
    let app = apply(&ex, household(32000.0, &[34]), nc.clone()).await;
    assert!(app.starts_with('A') && app.len() == 13);
    let e = select(&ex, &app, &plan_id).await;
    let ptid = e["payment_transaction_id"].as_str().unwrap().to_string();
    assert_eq!(ptid.len(), 13);
    assert_eq!(e["issuer_id"], issuer_id.as_str());
    let (premium, aptc, owed) = (
        e["premium"].as_f64().unwrap(),
        e["aptc"].as_f64().unwrap(),
        e["total_amount_owed"].as_f64().unwrap(),
    );
    assert!((premium - aptc - owed).abs() < 0.005);
    assert_eq!(
        e["pay_now_url"],
        format!("/api/v1/enrollment/{ptid}/pay-now")
    );

    // Before payment: the insurer holds the 834 and waits for the binder payment.
    let status_url = format!("/issuers/{issuer_id}/enrollments/{ptid}");
    let (s, st) = get(&ex, &status_url).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["enrollment"]["status"], "awaiting_payment");
    assert_eq!(st["enrollment"]["effectuated"], false);
    assert_eq!(st["enrollment"]["enrollment_834_received"], true);

    // Pay Now: the exchange's auto-submitting form, posted to the insurer's URL.
    let form = pay_now_form(&ex, &ptid).await;
    let (action, saml_response, relay) = (form.action, form.saml_response, form.relay_state);
    assert_eq!(action, format!("{base}/issuers/{issuer_id}/pay-now"));
    assert_eq!(relay, ptid);
    let xml = String::from_utf8(B64.decode(&saml_response).unwrap()).unwrap();
    for name in [
        "Payment Transaction ID",
        "Assigned QHP Identifier",
        "Total Amount Owed",
        "APTC Amount",
        "Subscriber Identifier",
    ] {
        assert!(xml.contains(&format!("Name=\"{name}\"")), "{name}");
    }
    let r = ex
        .post_form(
            &action,
            &[
                ("SAMLResponse", saml_response.as_str()),
                ("RelayState", relay.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.text();
    let pay_action = html_attr(&page, "<form", "action");
    assert_eq!(pay_action, format!("/issuers/{issuer_id}/payments"));
    let amount = html_attr(&page, "name=\"amount\"", "value");
    assert_eq!(amount, format!("{owed:.2}"));
    let token = html_attr(&page, "name=\"payment_token\"", "value");
    let form_ptid = html_attr(&page, "name=\"payment_transaction_id\"", "value");
    assert_eq!(form_ptid, ptid);

    // The binder payment, as the browser would send it.
    let r = ex
        .post_form(
            &pay_action,
            &[
                ("payment_transaction_id", ptid.as_str()),
                ("amount", amount.as_str()),
                ("payment_token", token.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let paid = r.json();
    assert_eq!(paid["payment"]["status"], "paid");
    assert_eq!(
        paid["payment"]["confirmation"],
        format!("P{issuer_id}-{ptid}")
    );

    let (_, st) = get(&ex, &status_url).await;
    assert_eq!(st["enrollment"]["status"], "effectuated");
    assert_eq!(st["enrollment"]["effectuated"], true);
    assert_eq!(st["enrollment"]["paid"], true);

    // Paying twice is a conflict (JSON body this time).
    let (s, b) = post(
        &ex,
        &pay_action,
        &json!({"payment_transaction_id": ptid, "amount": owed, "payment_token": token}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, s, "2002");
    running.shutdown().await;
}

#[tokio::test]
async fn broken_and_dead_links_hit_their_share_of_enrollments() {
    let (running, ex) = Exchange::serve(
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
    let base = ex.base().to_string();
    let plans = nc_plans(&ex).await;
    let n = 200;
    let mut links = Vec::new();
    for i in 0..n {
        let ptid = enroll(&ex, &plans[i % plans.len()].0).await;
        let form = pay_now_form(&ex, &ptid).await;
        let link = link_of(&base, &form.action);
        // The same enrollment always gets the same link.
        assert_eq!(link, link_of(&base, &pay_now_form(&ex, &ptid).await.action));
        links.push((link, form.action, form.saml_response, ptid));
    }
    let broken = links.iter().filter(|l| l.0 == Link::Broken).count();
    let dead = links.iter().filter(|l| l.0 == Link::Dead).count();
    assert!(within(broken, n, 0.25, 3.5), "{broken} broken of {n}");
    assert!(within(dead, n, 0.15, 3.5), "{dead} dead of {n}");

    // A broken link is a 404 in the Marketplace shape, a dead one refuses the connection, a
    // working one shows the payment page.
    let (_, action, saml, ptid) = links.iter().find(|l| l.0 == Link::Broken).unwrap();
    let r = ex
        .post_form(action, &[("SAMLResponse", saml), ("RelayState", ptid)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_error(&r.json(), StatusCode::NOT_FOUND, "1003");
    let (_, action, saml, ptid) = links.iter().find(|l| l.0 == Link::Dead).unwrap();
    let err = reqwest::Client::new()
        .post(action)
        .form(&[("SAMLResponse", saml), ("RelayState", ptid)])
        .send()
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_connect(), "{err:?}");
    let (_, action, saml, ptid) = links.iter().find(|l| l.0 == Link::Working).unwrap();
    assert_eq!(post_saml(&ex, action, saml, ptid).await.0, StatusCode::OK);

    // Each Pay Now page served with a faulty link counts (every page was fetched twice).
    let m = metrics(&ex).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"broken_link\"}"),
        (2 * broken) as f64
    );
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"dead_link\"}"),
        (2 * dead) as f64
    );
    running.shutdown().await;
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
    let (running, ex) = Exchange::serve(behaviour, ScenarioClock::default()).await;
    let url = "/api/v1/issuers?state=NC";
    let (a, b) = tokio::join!(get(&ex, url), get(&ex, url));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE]);
    let refused = if a.0 == StatusCode::OK { b.1 } else { a.1 };
    assert_error(&refused, StatusCode::SERVICE_UNAVAILABLE, "1012");
    // Other classes are not limited.
    let s = status_of(&ex, "/issuers/11512/834").await;
    assert_eq!(s, StatusCode::OK);
    let m = metrics(&ex).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"capacity_queue_full\"}"),
        1.0
    );
    running.shutdown().await;
}

/// GET `path`: its status and how long it took.
async fn timed(ex: Exchange, path: &str) -> (StatusCode, Duration) {
    let t = Instant::now();
    let s = status_of(&ex, path).await;
    (s, t.elapsed())
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
    let (running, ex) = Exchange::serve(behaviour, ScenarioClock::default()).await;
    let url = "/issuers/11512/834";
    let (a, b, c, d) = tokio::join!(
        timed(ex.clone(), url),
        timed(ex.clone(), url),
        timed(ex.clone(), url),
        timed(ex.clone(), url),
    );
    let results = [a, b, c, d];
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
    let m = metrics(&ex).await;
    assert_eq!(
        series(&m, "exchange_faults_total{kind=\"capacity_queue_full\"}")
            + series(&m, "exchange_faults_total{kind=\"capacity_queue_timeout\"}"),
        2.0
    );
    running.shutdown().await;
}

/// `n` concurrent GETs: (status, latency) of each.
async fn burst(ex: &Exchange, path: &'static str, n: usize) -> Vec<(StatusCode, Duration)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        tasks.spawn(timed(ex.clone(), path));
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
    let (running, ex) = Exchange::serve(behaviour, ScenarioClock::default()).await;
    let url = "/api/v1/issuers?state=NC";
    let ok = |r: &[(StatusCode, Duration)]| r.iter().filter(|x| x.0 == StatusCode::OK).count();
    let slowest = |r: &[(StatusCode, Duration)]| r.iter().map(|x| x.1).max().unwrap();

    // At capacity: one round of service.
    let r = burst(&ex, url, 4).await;
    assert_eq!(ok(&r), 4, "{r:?}");
    assert!(slowest(&r) < Duration::from_millis(390), "{r:?}");
    // Three times capacity: everyone is served, the last after three rounds.
    let r = burst(&ex, url, 12).await;
    assert_eq!(ok(&r), 12, "{r:?}");
    assert!(slowest(&r) >= Duration::from_millis(590), "{r:?}");
    // Five times: the queue is full, the rest is refused at once.
    let r = burst(&ex, url, 20).await;
    assert_eq!(ok(&r), 12, "{r:?}");
    for (s, d) in &r {
        if *s != StatusCode::OK {
            assert_eq!(*s, StatusCode::SERVICE_UNAVAILABLE);
            assert!(*d < Duration::from_millis(190), "refused at once: {d:?}");
        }
    }
    running.shutdown().await;
}

/// `surge exchange --public-url`: behind a Service, the pages must send browsers to the address the
/// other machines reach, not to the wildcard bind's loopback.
#[tokio::test]
async fn a_public_url_is_where_the_pages_send_visitors() {
    let config = surge::exchange::ExchangeConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        public_url: Some("http://surge-exchange.surge.svc:8080/".into()),
        shape: surge::exchange::shape::Shape {
            base_path: "/marketplace".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let running = surge::exchange::start(config).await.unwrap();
    assert_eq!(
        running.url(),
        "http://surge-exchange.surge.svc:8080/marketplace"
    );
    assert_eq!(
        running.state().base_url,
        "http://surge-exchange.surge.svc:8080/marketplace",
        "Pay Now forms and insurer links are built on it"
    );
    running.shutdown().await;

    let refused = crate::util::surge(&["exchange", "--public-url", "http://host:8080/some/path"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--base-path"));
}
