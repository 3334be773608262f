//! Throughput of the embedded exchange alone: whole enrollment journeys (9 requests each: county,
//! plan search, plan, application, selection, Pay Now, the insurer's page, payment) sent over
//! loopback HTTP by 32 workers, then the time to read one insurer's 834 inbox.
//!
//! `cargo bench --bench exchange_journeys` (harness = false). `BENCH_JOURNEYS` journeys (default
//! 4000). Prints requests/s and the inbox's size; it judges nothing.

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::{json, Value};
use surge::exchange::{self, catalog, ExchangeConfig};

const WORKERS: usize = 32;

/// One applicant, from ZIP code to payment.
async fn journey(client: &reqwest::Client, base: &str, i: usize) {
    let zips = catalog::zips();
    let zip = zips[i % zips.len()];
    let get = |path: String| client.get(format!("{base}{path}")).send();
    let counties: Value = json_of(get(format!("/api/v1/counties/by/zip/{zip}")).await).await;
    let county = &counties["counties"][0];
    let place = json!({"countyfips": county["fips"], "state": county["state"], "zipcode": zip});
    let household = json!({"income": 20000 + (i % 40) * 1000, "people": [{"age": 20 + i % 40}]});
    let search =
        json!({"household": household, "place": place, "market": "Individual", "offset": 10});
    let post = |path: &str, body: &Value| client.post(format!("{base}{path}")).json(body).send();
    let found = json_of(post("/api/v1/plans/search", &search).await).await;
    let plan = found["plans"][i % 10]["id"].as_str().unwrap().to_string();
    let _ = get(format!("/api/v1/plans/{plan}")).await;
    let application = json!({"household": household, "place": place});
    let app = json_of(post("/api/v1/enrollment/applications", &application).await).await;
    let app = app["application"]["id"].as_str().unwrap();
    let selection = json!({"plan_id": plan});
    let path = format!("/api/v1/enrollment/applications/{app}/selection");
    let e = json_of(post(&path, &selection).await).await;
    let ptid = e["enrollment"]["payment_transaction_id"].as_str().unwrap();
    let issuer = e["enrollment"]["issuer_id"].as_str().unwrap();
    let html = text_of(get(format!("/api/v1/enrollment/{ptid}/pay-now")).await).await;
    let saml = html_attr(&html, "name=\"SAMLResponse\"", "value");
    let form = |path: String, fields: &[(&str, String)]| {
        client.post(format!("{base}{path}")).form(fields).send()
    };
    let page = form(
        format!("/issuers/{issuer}/pay-now"),
        &[("SAMLResponse", saml)],
    )
    .await;
    let page = text_of(page).await;
    let payment = [
        ("payment_transaction_id", ptid.to_string()),
        ("amount", html_attr(&page, "name=\"amount\"", "value")),
        (
            "payment_token",
            html_attr(&page, "name=\"payment_token\"", "value"),
        ),
    ];
    let paid = form(format!("/issuers/{issuer}/payments"), &payment)
        .await
        .unwrap();
    assert!(paid.status().is_success(), "payment: {}", paid.status());
}

async fn json_of(reply: reqwest::Result<reqwest::Response>) -> Value {
    reply.unwrap().json().await.unwrap()
}

async fn text_of(reply: reqwest::Result<reqwest::Response>) -> String {
    reply.unwrap().text().await.unwrap()
}

/// The value of `attr` in the tag that holds `anchor`.
fn html_attr(html: &str, anchor: &str, attr: &str) -> String {
    let at = html.find(anchor).expect("anchor");
    let tag_start = html[..at].rfind('<').expect("tag start");
    let tag_end = at + html[at..].find('>').expect("tag end");
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key).expect("attribute") + key.len();
    tag[v..v + tag[v..].find('"').expect("closing quote")].to_string()
}

fn main() {
    let journeys: usize = std::env::var("BENCH_JOURNEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let config = ExchangeConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Default::default()
        };
        let running = exchange::start(config).await.expect("the exchange starts");
        let base = running.url().to_string();
        let client = reqwest::Client::new();
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..WORKERS {
            let (client, base) = (client.clone(), base.clone());
            tasks.spawn(async move {
                for i in (w..journeys).step_by(WORKERS) {
                    journey(&client, &base, i).await;
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{journeys} journeys (9 requests each) in {secs:.2}s: {:.0} req/s",
            (journeys * 9) as f64 / secs
        );
        let t = Instant::now();
        let inbox = text_of(client.get(format!("{base}/issuers/11512/834")).send().await).await;
        println!(
            "inbox of {} interchanges, {} bytes, in {:?}",
            inbox.matches("ISA*").count(),
            inbox.len(),
            t.elapsed()
        );
        running.shutdown().await;
    });
}
