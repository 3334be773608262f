//! Checks and `let`s: minijinja's VM against surge's native evaluation, in one process.
//!
//! `cargo bench --bench templates` (harness = false). Starts the embedded exchange on 127.0.0.1:0,
//! takes one page of plan search (the browse journey's reply, about 15 KB), and times each
//! expression of the embedded journeys' browse requests `BENCH_ITERATIONS` times (default 20,000),
//! alternating minijinja (`Environment::compile_expression`, strict) and surge's `Templates::eval`
//! on the same scope. Also times reading the page into a document, every member against only the
//! members the embedded journeys name. Prints µs per evaluation and the ratio surge / minijinja,
//! and one machine-readable line per expression: `RESULT {json}`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use minijinja::{Environment, UndefinedBehavior, Value};
use surge::journey_file::program::ReplyKeys;
use surge::journey_file::template::{self, Builder};
use surge::journey_file::{self, json};
use surge::scenario::Scenario;

mod support;

/// The browse requests' expressions, as journeys/embedded.toml writes them.
const EXPRESSIONS: [&str; 7] = [
    "reply.plans | length <= vars.page_size",
    "reply.plans | map(attribute='issuer.id') | select('eq', '') | list | length == 0",
    "(page + 1) * vars.page_size >= reply.total",
    "page * vars.page_size",
    "{'countyfips': county.fips, 'state': county.state, 'zipcode': household.zip}",
    "plans | sort(attribute='premium_w_credit') | pick(visit.pick)",
    "reply.plans[0].id == chosen.id",
];

fn per_call_us(iterations: u32, mut eval: impl FnMut() -> Value) -> f64 {
    for _ in 0..iterations / 10 {
        std::hint::black_box(eval());
    }
    let started = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(eval());
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let iterations = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (_running, host) = support::loopback_exchange().await;
    let search = serde_json::json!({
        "household": {"income": 30000, "people": [{"age": 30, "aptc_eligible": true, "gender": "Female", "uses_tobacco": false}]},
        "market": "Individual", "place": {"countyfips": "37183", "state": "NC", "zipcode": "27601"},
        "year": 2014, "offset": 0, "order": "asc", "sort": "premium",
    });
    let page = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/plans/search",
            host.trim_end_matches('/')
        ))
        .json(&search)
        .send()
        .await
        .expect("search")
        .text()
        .await
        .expect("search page");
    println!("one page of plan search: {} bytes", page.len());

    let everything = ReplyKeys::everything();
    // What the embedded journeys' templates and pointers name, as a run reads its replies.
    let scenario = Scenario::parse(Path::new("bench.toml"), "[traffic]\nvisits = 1\n");
    let program = journey_file::load(&scenario.expect("scenario")).expect("embedded journeys");
    let named = &program.reply_keys;
    let mut full = Vec::new();
    let mut lazy = Vec::new();
    for _ in 0..3 {
        full.push(per_call_us(iterations, || {
            json::document(&page, &everything).unwrap()
        }));
        lazy.push(per_call_us(iterations, || {
            json::document(&page, named).unwrap()
        }));
    }
    let (full, lazy) = (median(full), median(lazy));
    println!("read the page, every member: {full:6.2} µs; only what the journeys name: {lazy:6.2} µs ({:.2}x)", lazy / full);

    let reply = json::document(&page, named).unwrap();
    let plans = json::pointer(&reply, "/plans").unwrap();
    let chosen = json::pointer(&reply, "/plans/0").unwrap();
    let county = Value::from_iter([("fips", "37183"), ("state", "NC")]);
    let scope = template::scope(&BTreeMap::from([
        ("reply".to_string(), reply),
        ("plans".to_string(), plans),
        ("chosen".to_string(), chosen),
        ("county".to_string(), county),
        (
            "household".to_string(),
            Value::from_iter([("zip", "27601")]),
        ),
        ("page".to_string(), Value::from(0)),
        ("vars".to_string(), Value::from_iter([("page_size", 10)])),
        ("visit".to_string(), Value::from_iter([("pick", 0.3)])),
    ]));
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let mut builder = Builder::default();
    let ids: Vec<_> = EXPRESSIONS
        .iter()
        .map(|e| builder.add(&format!("{{{{ {e} }}}}")).unwrap())
        .collect();
    let templates = builder.finish().unwrap();
    env.add_filter("pick", template::pick);
    for (expression, id) in EXPRESSIONS.iter().zip(ids) {
        let compiled = env.compile_expression(expression).unwrap();
        assert_eq!(
            templates.eval(id, &scope).unwrap(),
            compiled.eval(&scope).unwrap(),
            "{expression}"
        );
        let (mut vm, mut surge) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            vm.push(per_call_us(iterations, || compiled.eval(&scope).unwrap()));
            surge.push(per_call_us(iterations, || {
                templates.eval(id, &scope).unwrap()
            }));
        }
        let (vm, surge) = (median(vm), median(surge));
        println!(
            "{vm:6.2} µs minijinja, {surge:6.2} µs surge ({:.2}x)  {expression}",
            surge / vm
        );
        println!(
            "RESULT {}",
            serde_json::json!({"expression": expression, "minijinja_us": vm, "surge_us": surge, "ratio": surge / vm})
        );
    }
}
