//! A plain Goose 0.19 attack on the embedded exchange: the baseline surge's per-request CPU is measured
//! against (`bench/run.sh goose-baseline` and `goose-saturation`). Nothing of surge is used here but the
//! exchange it is pointed at, so the figure is what Goose itself costs.
//!
//! Goose's own command line (`--host`, `--users`, `--increase-rate` — Goose 0.19's name for the hatch
//! rate, `-r` —, `--run-time`, `--quiet`, `--no-print-metrics`, …), plus, from the environment:
//!
//! - `PLAIN_GOOSE_PATH` (default `/api/v1/counties/by/zip/27601`): the GET of each iteration;
//! - `PLAIN_GOOSE_WAIT_MS` (default `0`): the wait after each iteration, `N` or `MIN-MAX` milliseconds
//!   (Goose draws it uniformly from the range); `0` is no wait (saturation);
//! - `PLAIN_GOOSE_JOURNEY=browse`: instead of one GET, each iteration is the browse journey's requests
//!   with one result page (counties by ZIP, one plan search, the first plan's details), each answer
//!   parsed into the fields surge's browse journey reads, to compare with a browse-only surge run
//!   (surge cannot send one endpoint alone);
//! - `PLAIN_GOOSE_JOURNEY=mix`: instead, each iteration is one visit of `scenarios/ci.toml`'s four
//!   journeys, with `PLAIN_GOOSE_THINK_MS` (default `0-20`) before the steps that think (`mix.rs`).
//!
//! Every response body is read in full (as surge does), so connections are kept alive. At the end it
//! prints one line, `RESULT {json}`: requests, failures and Goose's measured duration.
//!
//! ```sh
//! cargo build --release --example plain_goose
//! PLAIN_GOOSE_WAIT_MS=20-30 target/release/examples/plain_goose --host http://127.0.0.1:8080 \
//!     --users 20 --increase-rate 1000 --run-time 50s --quiet --no-print-metrics
//! ```

use std::sync::Arc;
use std::time::Duration;

use goose::prelude::*;
use serde::Deserialize;

mod mix;

/// A wait read from the environment variable `name`: (min, max) from `N` or `MIN-MAX` milliseconds.
fn wait_ms(name: &str, default: &str) -> Result<(u64, u64), String> {
    let spec = std::env::var(name).unwrap_or_else(|_| default.into());
    let bad = || format!("{name}={spec:?}: write N or MIN-MAX milliseconds");
    let (min, max) = match spec.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (spec.trim(), spec.trim()),
    };
    let (min, max) = (
        min.parse::<u64>().map_err(|_| bad())?,
        max.parse::<u64>().map_err(|_| bad())?,
    );
    if min > max {
        return Err(bad());
    }
    Ok((min, max))
}

/// One GET, its body read in full.
fn one_get(path: Arc<str>) -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let path = path.clone();
        Box::pin(async move {
            let goose = user.get(&path).await?;
            if let Ok(response) = goose.response {
                let _ = response.bytes().await;
            }
            Ok(())
        })
    }))
    .set_name("get")
}

/// What the browse journey reads of its answers, as surge's journey reads them (typed, the rest skipped).
#[derive(Deserialize)]
struct Counties {
    counties: Vec<County>,
}

#[derive(Deserialize)]
struct County {
    fips: String,
    state: String,
}

#[derive(Deserialize)]
struct SearchPage {
    plans: Vec<PlanSeen>,
    total: usize,
}

/// A plan of a search page: what the journey's `chosen` and checks read of it.
#[derive(Deserialize)]
struct PlanSeen {
    id: String,
    premium_w_credit: f64,
    issuer: IssuerRef,
}

#[derive(Deserialize)]
struct IssuerRef {
    id: String,
}

#[derive(Deserialize)]
struct PlanDetails {
    plan: PlanId,
}

#[derive(Deserialize)]
struct PlanId {
    id: String,
}

/// The browse journey with one page of results: its three requests, each answer parsed into the
/// fields surge's journey reads; a request or answer that fails ends the iteration.
fn browse() -> Transaction {
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        Box::pin(async move {
            let goose = user.get("/api/v1/counties/by/zip/27601").await?;
            let Ok(response) = goose.response else {
                return Ok(());
            };
            let Ok(counties) = response.json::<Counties>().await else {
                return Ok(());
            };
            let Some(county) = counties.counties.first() else {
                return Ok(());
            };
            let query = serde_json::json!({
                "household": {"income": 30000, "people": [{"age": 40, "uses_tobacco": false, "aptc_eligible": true}]},
                "market": "Individual", "place": {"countyfips": county.fips, "state": county.state, "zipcode": "27601"},
                "year": 2014, "offset": 0, "order": "asc", "sort": "premium",
            });
            let goose = user.post_json("/api/v1/plans/search", &query).await?;
            let Ok(response) = goose.response else {
                return Ok(());
            };
            let Ok(page) = response.json::<SearchPage>().await else {
                return Ok(());
            };
            let Some(plan) = page.plans.first() else {
                return Ok(());
            };
            let goose = user
                .get_named(&format!("/api/v1/plans/{}", plan.id), "/api/v1/plans/{plan_id}")
                .await?;
            if let Ok(response) = goose.response {
                let _ = response.json::<PlanDetails>().await.map(|d| d.plan.id);
            }
            Ok(())
        })
    }))
    .set_name("browse")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: Arc<str> = std::env::var("PLAIN_GOOSE_PATH")
        .unwrap_or_else(|_| "/api/v1/counties/by/zip/27601".into())
        .into();
    let (min, max) = wait_ms("PLAIN_GOOSE_WAIT_MS", "0")?;
    let transaction = match std::env::var("PLAIN_GOOSE_JOURNEY").as_deref() {
        Ok("browse") => browse(),
        Ok("mix") => mix::transaction(wait_ms("PLAIN_GOOSE_THINK_MS", "0-20")?),
        Ok("") | Err(_) => one_get(path),
        Ok(other) => return Err(format!("PLAIN_GOOSE_JOURNEY={other:?}: browse or mix").into()),
    };
    let mut scenario = scenario!("plain").register_transaction(transaction);
    if max > 0 {
        scenario =
            scenario.set_wait_time(Duration::from_millis(min), Duration::from_millis(max))?;
    }
    let metrics = GooseAttack::initialize()?
        .register_scenario(scenario)
        .execute()
        .await?;
    let (requests, failures) = metrics.requests.values().fold((0, 0), |(n, f), r| {
        (n + r.success_count + r.fail_count, f + r.fail_count)
    });
    println!(
        "RESULT {}",
        serde_json::json!({
            "requests": requests,
            "failures": failures,
            "duration_s": metrics.duration,
            "users": metrics.maximum_users,
        })
    );
    Ok(())
}
