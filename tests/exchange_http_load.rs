//! Level: a real exchange on 127.0.0.1:0 driven over loopback HTTP with reqwest. A rough
//! throughput check of whole journeys (ignored by default):
//! `cargo test --release --test exchange_http_load -- --ignored --nocapture`

use std::time::Instant;

use serde_json::json;
use surge::exchange::behaviour::{Behaviour, ScenarioClock};
use surge::exchange::catalog;

mod common;
use common::{html_attr, Exchange};

async fn journey(ex: &Exchange, i: usize) {
    let zips = catalog::zips();
    let zip = zips[i % zips.len()];
    let counties = ex
        .get(&format!("/api/v1/counties/by/zip/{zip}"))
        .await
        .json();
    let county = &counties["counties"][0];
    let place = json!({"countyfips": county["fips"], "state": county["state"], "zipcode": zip});
    let household = json!({"income": 20000 + (i % 40) * 1000, "people": [{"age": 20 + i % 40}]});
    let search =
        json!({"household": household, "place": place, "market": "Individual", "offset": 10});
    let res = ex.post_json("/api/v1/plans/search", &search).await.json();
    let plan = res["plans"][i % 10]["id"].as_str().unwrap().to_string();
    let _ = ex.get(&format!("/api/v1/plans/{plan}")).await;
    let app = ex
        .post_json(
            "/api/v1/enrollment/applications",
            &json!({"household": household, "place": place}),
        )
        .await
        .json();
    let app = app["application"]["id"].as_str().unwrap();
    let e = ex
        .post_json(
            &format!("/api/v1/enrollment/applications/{app}/selection"),
            &json!({"plan_id": plan}),
        )
        .await
        .json();
    let ptid = e["enrollment"]["payment_transaction_id"].as_str().unwrap();
    let issuer = e["enrollment"]["issuer_id"].as_str().unwrap();
    let html = ex
        .get(&format!("/api/v1/enrollment/{ptid}/pay-now"))
        .await
        .text();
    let saml = html_attr(&html, "name=\"SAMLResponse\"", "value");
    let page = ex
        .post_form(
            &format!("/issuers/{issuer}/pay-now"),
            &[("SAMLResponse", saml)],
        )
        .await
        .text();
    let form = [
        ("payment_transaction_id", ptid.to_string()),
        ("amount", html_attr(&page, "name=\"amount\"", "value")),
        (
            "payment_token",
            html_attr(&page, "name=\"payment_token\"", "value"),
        ),
    ];
    let r = ex
        .post_form(&format!("/issuers/{issuer}/payments"), &form)
        .await;
    assert!(r.status.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn journeys_per_second() {
    let (running, ex) = Exchange::serve(Behaviour::default(), ScenarioClock::default()).await;
    let n = 4000;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..32 {
        let ex = ex.clone();
        tasks.spawn(async move {
            for i in (w..n).step_by(32) {
                journey(&ex, i).await;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} journeys (9 requests each) in {secs:.2}s: {:.0} req/s",
        (n * 9) as f64 / secs
    );
    let t = Instant::now();
    let inbox = ex.get("/issuers/11512/834").await.text();
    println!(
        "inbox of {} interchanges, {} bytes, in {:?}",
        inbox.matches("ISA*").count(),
        inbox.len(),
        t.elapsed()
    );
    running.shutdown().await;
}
