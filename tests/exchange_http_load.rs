//! A rough throughput check of whole journeys against the exchange (ignored by default):
//! `cargo test --release --test exchange_load -- --ignored --nocapture`

use std::net::SocketAddr;
use std::time::Instant;

use reqwest::Client;
use serde_json::{json, Value};
use surge::exchange::{self, ExchangeConfig};

fn attr(html: &str, anchor: &str) -> String {
    let at = html.find(anchor).expect("anchor");
    let v = at + html[at..].find("value=\"").expect("value") + 7;
    html[v..v + html[v..].find('"').expect("quote")].to_string()
}

async fn journey(c: &Client, base: &str, i: usize) {
    let zips = exchange::catalog::zips();
    let zip = zips[i % zips.len()];
    let counties: Value = c
        .get(format!("{base}/api/v1/counties/by/zip/{zip}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let county = &counties["counties"][0];
    let place = json!({"countyfips": county["fips"], "state": county["state"], "zipcode": zip});
    let household = json!({"income": 20000 + (i % 40) * 1000, "people": [{"age": 20 + i % 40}]});
    let search =
        json!({"household": household, "place": place, "market": "Individual", "offset": 10});
    let res: Value = c
        .post(format!("{base}/api/v1/plans/search"))
        .json(&search)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plan = res["plans"][i % 10]["id"].as_str().unwrap().to_string();
    let _ = c
        .get(format!("{base}/api/v1/plans/{plan}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await;
    let app: Value = c
        .post(format!("{base}/api/v1/enrollment/applications"))
        .json(&json!({"household": household, "place": place}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app = app["application"]["id"].as_str().unwrap();
    let e: Value = c
        .post(format!(
            "{base}/api/v1/enrollment/applications/{app}/selection"
        ))
        .json(&json!({"plan_id": plan}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ptid = e["enrollment"]["payment_transaction_id"].as_str().unwrap();
    let issuer = e["enrollment"]["issuer_id"].as_str().unwrap();
    let html = c
        .get(format!("{base}/api/v1/enrollment/{ptid}/pay-now"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let saml = attr(&html, "name=\"SAMLResponse\"");
    let page = c
        .post(format!("{base}/issuers/{issuer}/pay-now"))
        .form(&[("SAMLResponse", saml)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [
        ("payment_transaction_id", ptid.to_string()),
        ("amount", attr(&page, "name=\"amount\"")),
        ("payment_token", attr(&page, "name=\"payment_token\"")),
    ];
    let r = c
        .post(format!("{base}/issuers/{issuer}/payments"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn journeys_per_second() {
    let ex = exchange::start(ExchangeConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    })
    .await
    .unwrap();
    let base = ex.url().to_string();
    let c = Client::new();
    let n = 4000;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..32 {
        let (c, base) = (c.clone(), base.clone());
        tasks.spawn(async move {
            for i in (w..n).step_by(32) {
                journey(&c, &base, i).await;
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
    let inbox = c
        .get(format!("{base}/issuers/11512/834"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    println!(
        "inbox of {} interchanges, {} bytes, in {:?}",
        inbox.matches("ISA*").count(),
        inbox.len(),
        t.elapsed()
    );
    ex.shutdown().await;
}
