//! Helpers shared by the integration tests: the `surge` binary, the exchange reached in-process or
//! over loopback, its requests and shapes, the 834 and Prometheus texts it serves, and pyx12. Each test
//! file uses some of them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use surge::exchange::behaviour::{Behaviour, InsurerFaults, ScenarioClock};
use surge::exchange::shape::Shape;
use surge::exchange::{self, AppState, ExchangeConfig, RunningExchange};
use tower::ServiceExt as _;

// ---- The surge binary ----------------------------------------------------------------------

/// Run the `surge` binary from the crate's root, to its end.
pub fn surge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_surge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the surge binary runs")
}

/// `surge run SCENARIO --quiet --out RUN_DIR`, to its end.
pub fn run_quietly(scenario: &Path, run_dir: &Path) -> Output {
    surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        run_dir.to_str().unwrap(),
    ])
}

/// `surge run SCENARIO --quiet --out RUN_DIR`, which must succeed (exit 0; its stderr if not).
pub fn run_ok(scenario: &Path, run_dir: &Path) {
    let out = run_quietly(scenario, run_dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `surge run SCENARIO --target URL EXTRA… --time-scale 4 --quiet --out RUN_DIR`: a rehearsal
/// against a separate exchange with planted cracks, which must fail its thresholds (exit 1; `why`
/// and its stderr if not).
pub fn rehearse_failing(scenario: &str, target: &str, extra: &[&str], run_dir: &Path, why: &str) {
    let mut args = vec!["run", scenario, "--target", target];
    args.extend_from_slice(extra);
    args.extend([
        "--time-scale",
        "4",
        "--quiet",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    let out = surge(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{why}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A run directory's `summary.json`.
pub fn summary(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap()).unwrap()
}

/// `surge cracks RUN [--834 EDI] EXTRA…`, to its end.
pub fn cracks_out(run: &Path, edi: Option<&Path>, extra: &[&str]) -> Output {
    let mut args = vec!["cracks", run.to_str().unwrap()];
    if let Some(edi) = edi {
        args.extend(["--834", edi.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    surge(&args)
}

/// `surge cracks`, which must judge the run (exit 0 or 1), and the cracks it wrote.
pub fn cracks(run: &Path, edi: Option<&Path>, extra: &[&str]) -> Value {
    let out = cracks_out(run, edi, extra);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    summary(run)["cracks"].clone()
}

/// The run's own cracks forgotten in its `summary.json`, to be read back by `surge cracks`.
pub fn forget_cracks(run: &Path) {
    let mut blank = summary(run);
    blank["cracks"] = json!({ "insurer_records": false, "insurers": {} });
    std::fs::write(run.join("summary.json"), blank.to_string()).unwrap();
}

/// `surge check SCENARIO`, then `surge run SCENARIO --quiet --out RUN_DIR`, each with `env` set
/// (a recording's API key): both exit 0, and each of the 100 visits completes, sending every one
/// of the journey's `requests` requests without a failure. The run's summary.
pub fn hundred_clean_visits(
    scenario: &Path,
    run_dir: &Path,
    env: &[(&str, &str)],
    requests: usize,
) -> Value {
    let with_env = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_surge"))
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("surge runs")
    };
    let check = with_env(&["check", scenario.to_str().unwrap()]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let run = with_env(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary = summary(run_dir);
    assert_eq!(summary["visits"]["completed"], 100, "{}", summary["visits"]);
    assert_eq!(summary["failures"], json!([]), "{}", summary["failures"]);
    let sent: u64 = summary["steps"]
        .as_object()
        .unwrap()
        .values()
        .map(|step| {
            assert_eq!(step["failures"], 0, "{step}");
            step["requests"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(
        sent,
        100 * requests as u64,
        "every visit made every request of the recording: {}",
        summary["steps"]
    );
    summary
}

/// The shipped smoke scenario, with lateness judged loosely: tests run side by side on a small
/// machine, and these are not about the generator's validity.
pub fn tolerant_smoke(dir: &Path) -> PathBuf {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml"))
            .unwrap();
    let path = dir.join("smoke-tolerant.toml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        &path,
        text.replacen("[traffic]\n", "[traffic]\nlate_after = \"3s\"\n", 1),
    )
    .unwrap();
    path
}

/// `surge exchange ARGS…` on a free loopback port, as a process of its own; killed when dropped.
pub struct ExchangeProcess {
    child: std::process::Child,
    pub url: String,
}

impl ExchangeProcess {
    pub fn start(args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_surge"))
            .args(["exchange", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("surge exchange starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("surge exchange listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "loopback only: {url}");
        Self { child, url }
    }
}

impl Drop for ExchangeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- The exchange, in-process or over loopback ---------------------------------------------

/// The base URL an in-process exchange writes into its pages. `.invalid` never resolves: nothing
/// is ever sent to it, requests to it go to the router.
pub const IN_PROCESS_BASE: &str = "http://exchange.invalid";

/// An exchange to send requests to, the same way whichever the level: its router driven
/// in-process (tower's `oneshot`, no socket), or a real server on loopback driven with reqwest.
/// Paths are joined to the base URL; absolute URLs on the exchange are taken as they are.
#[derive(Clone)]
pub struct Exchange {
    base: String,
    state: AppState,
    via: Via,
}

#[derive(Clone)]
enum Via {
    Router(axum::Router),
    Http(reqwest::Client),
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    /// The value of header `name`; panics when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("header {name}"))
            .to_str()
            .unwrap()
    }
}

impl Exchange {
    /// The exchange's router, in-process, with `behaviour` on `clock`.
    pub fn in_process(behaviour: Behaviour, clock: ScenarioClock) -> Exchange {
        Exchange::in_process_shaped(behaviour, clock, Shape::default())
    }

    /// The exchange's router, in-process, with `behaviour` on `clock`, shaped as `shape`.
    pub fn in_process_shaped(behaviour: Behaviour, clock: ScenarioClock, shape: Shape) -> Exchange {
        behaviour.check().expect("a valid behaviour");
        let state = AppState::with_shape(
            ExchangeConfig::default().saml_key,
            IN_PROCESS_BASE,
            behaviour,
            clock,
            shape,
        );
        Exchange {
            base: IN_PROCESS_BASE.to_string(),
            via: Via::Router(exchange::router(state.clone())),
            state,
        }
    }

    /// The exchange's router, in-process, behaving perfectly.
    pub fn perfect() -> Exchange {
        Exchange::in_process(Behaviour::default(), ScenarioClock::default())
    }

    /// A real exchange on 127.0.0.1:0 with `behaviour` on `clock`, and the way to reach it.
    pub async fn serve(behaviour: Behaviour, clock: ScenarioClock) -> (RunningExchange, Exchange) {
        behaviour.check().expect("a valid behaviour");
        let config = ExchangeConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            behaviour,
            clock,
            ..Default::default()
        };
        let running = exchange::start(config).await.expect("exchange starts");
        let ex = Exchange {
            base: running.url().to_string(),
            state: running.state().clone(),
            via: Via::Http(reqwest::Client::new()),
        };
        (running, ex)
    }

    /// The base URL the exchange writes into its pages, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The exchange's live state (catalog, records).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// `path` on this exchange, or `url` as it is.
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with('/') {
            format!("{}{path_or_url}", self.base)
        } else {
            path_or_url.to_string()
        }
    }

    /// Send one request and read the whole response.
    pub async fn send(
        &self,
        method: Method,
        path_or_url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let url = self.url(path_or_url);
        match &self.via {
            Via::Router(router) => {
                let uri = url.strip_prefix(&self.base).unwrap_or_else(|| {
                    panic!("{url} is not on the in-process exchange {}", self.base)
                });
                let mut request = Request::builder().method(method).uri(uri);
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                let request = request.body(Body::from(body)).expect("a valid request");
                let response = router.clone().oneshot(request).await.expect("infallible");
                let (parts, body) = response.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .expect("the whole body");
                Reply {
                    status: parts.status,
                    headers: parts.headers,
                    body: body.to_vec(),
                }
            }
            Via::Http(client) => {
                let mut request = client.request(method, &url);
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                let response = request.body(body).send().await.expect("a response");
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await.expect("the whole body").to_vec();
                Reply {
                    status,
                    headers,
                    body,
                }
            }
        }
    }

    pub async fn get(&self, path_or_url: &str) -> Reply {
        self.send(Method::GET, path_or_url, &[], Vec::new()).await
    }

    pub async fn get_with(&self, path_or_url: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path_or_url, headers, Vec::new())
            .await
    }

    /// POST a body of the given Content-Type.
    pub async fn post_raw(&self, path_or_url: &str, content_type: &str, body: &str) -> Reply {
        let headers = [(header::CONTENT_TYPE.as_str(), content_type)];
        self.send(Method::POST, path_or_url, &headers, body.into())
            .await
    }

    /// POST a JSON body, as reqwest's `.json()` does.
    pub async fn post_json(&self, path_or_url: &str, body: &Value) -> Reply {
        let body = serde_json::to_string(body).unwrap();
        self.post_raw(path_or_url, "application/json", &body).await
    }

    /// POST an urlencoded form, as a browser (and reqwest's `.form()`) does.
    pub async fn post_form<V: AsRef<str>>(&self, path_or_url: &str, fields: &[(&str, V)]) -> Reply {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.post_raw(path_or_url, "application/x-www-form-urlencoded", &body)
            .await
    }
}

/// GET: the status and the JSON body.
pub async fn get(ex: &Exchange, path_or_url: &str) -> (StatusCode, Value) {
    let r = ex.get(path_or_url).await;
    (r.status, r.json())
}

/// GET: the status alone.
pub async fn status_of(ex: &Exchange, path_or_url: &str) -> StatusCode {
    ex.get(path_or_url).await.status
}

/// POST a JSON body: the status and the JSON body.
pub async fn post(ex: &Exchange, path_or_url: &str, body: &Value) -> (StatusCode, Value) {
    let r = ex.post_json(path_or_url, body).await;
    (r.status, r.json())
}

/// A body in the Marketplace error shape, with this status and code.
pub fn assert_error(body: &Value, status: StatusCode, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_str(), "{body}");
    assert!(
        body["message"].is_string() && body["error"].is_string(),
        "{body}"
    );
}

// ---- Households, plans and enrollments -----------------------------------------------------

pub fn household(income: f64, ages: &[u32]) -> Value {
    let people: Vec<Value> = ages
        .iter()
        .map(|a| json!({"age": a, "uses_tobacco": false, "aptc_eligible": true}))
        .collect();
    json!({"income": income, "people": people})
}

pub fn place(fips: &str, state: &str, zip: &str) -> Value {
    json!({"countyfips": fips, "state": state, "zipcode": zip})
}

/// Wake County, NC.
pub fn nc() -> Value {
    place("37183", "NC", "27601")
}

/// Apply: the application id.
pub async fn apply(ex: &Exchange, h: Value, p: Value) -> String {
    let (s, b) = post(
        ex,
        "/api/v1/enrollment/applications",
        &json!({"household": h, "place": p, "year": 2014}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["application"]["id"]
        .as_str()
        .expect("application id")
        .to_string()
}

/// Select `plan` for application `app`: the enrollment.
pub async fn select(ex: &Exchange, app: &str, plan: &str) -> Value {
    let (s, b) = post(
        ex,
        &format!("/api/v1/enrollment/applications/{app}/selection"),
        &json!({"plan_id": plan}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["enrollment"].clone()
}

/// Plans offered in Wake County, NC: (plan id, issuer id), cheapest first.
pub async fn nc_plans(ex: &Exchange) -> Vec<(String, String)> {
    let (s, b) = post(
        ex,
        "/api/v1/plans/search",
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

/// Apply in Wake County, NC, and select `plan`: the payment transaction id.
pub async fn enroll(ex: &Exchange, plan: &str) -> String {
    let app = apply(ex, household(32000.0, &[34]), nc()).await;
    select(ex, &app, plan).await["payment_transaction_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The value of attribute `attr` in the first tag containing `anchor` (enough for our own pages).
pub fn html_attr(html: &str, anchor: &str, attr: &str) -> String {
    let at = html
        .find(anchor)
        .unwrap_or_else(|| panic!("{anchor} in {html}"));
    let tag_start = html[..at].rfind('<').expect("tag start");
    let tag_end = at + html[at..].find('>').expect("tag end");
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key).unwrap_or_else(|| panic!("{attr} in {tag}")) + key.len();
    tag[v..v + tag[v..].find('"').expect("closing quote")].to_string()
}

/// The exchange's auto-submitting Pay Now form.
pub struct PayNowForm {
    pub action: String,
    pub saml_response: String,
    pub relay_state: String,
}

/// The Pay Now page of enrollment `ptid`: an HTML form that also works without JavaScript.
pub async fn pay_now_form(ex: &Exchange, ptid: &str) -> PayNowForm {
    let r = ex.get(&format!("/api/v1/enrollment/{ptid}/pay-now")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").starts_with("text/html"));
    let html = r.text();
    assert!(html.contains("<noscript>"));
    PayNowForm {
        action: html_attr(&html, "<form", "action"),
        saml_response: html_attr(&html, "name=\"SAMLResponse\"", "value"),
        relay_state: html_attr(&html, "name=\"RelayState\"", "value"),
    }
}

/// Post the SAML Response to `action`: the status, and the payment page when 200.
pub async fn post_saml(
    ex: &Exchange,
    action: &str,
    saml: &str,
    ptid: &str,
) -> (StatusCode, String) {
    let r = ex
        .post_form(action, &[("SAMLResponse", saml), ("RelayState", ptid)])
        .await;
    (r.status, r.text())
}

/// Pay from the insurer's payment page: the status and body of the payment.
pub async fn pay(ex: &Exchange, page: &str) -> (StatusCode, Value) {
    let action = html_attr(page, "<form", "action");
    let fields = ["payment_transaction_id", "amount", "payment_token"]
        .map(|name| (name, html_attr(page, &format!("name=\"{name}\""), "value")));
    let r = ex.post_form(&action, &fields).await;
    (r.status, r.json())
}

/// The whole way from Pay Now to the payment, which must work.
pub async fn pay_for(ex: &Exchange, ptid: &str) {
    let form = pay_now_form(ex, ptid).await;
    let (s, page) = post_saml(ex, &form.action, &form.saml_response, ptid).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let (s, b) = pay(ex, &page).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

// ---- Faults --------------------------------------------------------------------------------

/// The same faults at every insurer, drawn from `seed`.
pub fn every_insurer(seed: u64, faults: InsurerFaults) -> Behaviour {
    Behaviour {
        seed: Some(seed),
        insurers: std::collections::BTreeMap::from([("*".to_string(), faults)]),
        ..Default::default()
    }
}

/// Where a Pay Now form points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Working,
    Broken,
    Dead,
}

pub fn link_of(base: &str, action: &str) -> Link {
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

/// Within `k` standard deviations of a binomial(n, p) count.
pub fn within(count: usize, n: usize, p: f64, k: f64) -> bool {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (count as f64 - mean).abs() <= k * sd + 1.0
}

// ---- Prometheus text -----------------------------------------------------------------------

pub async fn metrics(ex: &Exchange) -> String {
    ex.get("/metrics").await.text()
}

/// The value of one series in a Prometheus text exposition.
pub fn series(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} in\n{text}"))
        .parse()
        .unwrap()
}

// ---- X12 834 -------------------------------------------------------------------------------

/// An insurer's inbox, as interchanges: (REF*1L value, whole text).
pub async fn inbox(ex: &Exchange, issuer: &str) -> Vec<(String, String)> {
    let r = ex.get(&format!("/issuers/{issuer}/834")).await;
    assert_eq!(r.status, StatusCode::OK);
    interchanges(&r.text())
}

/// Interchanges of an inbox: (REF*1L value, whole text).
pub fn interchanges(inbox: &str) -> Vec<(String, String)> {
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

/// Segments of one interchange, without terminators.
pub fn segments(interchange: &str) -> Vec<&str> {
    interchange
        .lines()
        .map(|l| l.trim_end_matches('~'))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Element `n` of a segment (0 is the segment's id).
pub fn element(seg: &str, n: usize) -> &str {
    seg.split('*')
        .nth(n)
        .unwrap_or_else(|| panic!("element {n} of {seg}"))
}

/// SE01 equals the number of segments from ST to SE.
pub fn se_count_ok(interchange: &str) -> bool {
    let segs = segments(interchange);
    let st = segs.iter().position(|s| s.starts_with("ST*")).unwrap();
    let se = segs.iter().position(|s| s.starts_with("SE*")).unwrap();
    element(segs[se], 1) == (se - st + 1).to_string()
}

/// The amount of a 2750 reporting category (`N1*75*{name}` then `REF*9X*{amount}`).
pub fn category_value(segs: &[&str], name: &str) -> f64 {
    let at = segs
        .iter()
        .position(|s| *s == format!("N1*75*{name}"))
        .unwrap_or_else(|| panic!("{name}"));
    element(segs[at + 1], 2).parse().unwrap()
}

// ---- pyx12 ---------------------------------------------------------------------------------

/// Whether pyx12's `x12valid` is here to validate 834s. Without it the test fails (CI installs
/// pyx12), unless `SURGE_SKIP_X12VALID=1` says to skip the validation: then false, said on stdout
/// with `note` after it.
pub fn x12valid_here(note: &str) -> bool {
    let installed = Command::new("x12valid")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(
            std::env::var("SURGE_SKIP_X12VALID").as_deref() == Ok("1"),
            "x12valid is not installed: install pyx12 (python3 -m pip install pyx12), or set \
             SURGE_SKIP_X12VALID=1 to skip this test"
        );
        println!("skipped: SURGE_SKIP_X12VALID=1 (no x12valid here){note}");
    }
    installed
}

/// pyx12 (`scripts/validate-834.sh`) accepts `file`. x12valid reads one interchange per file.
pub fn assert_pyx12_accepts(file: &Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/validate-834.sh");
    let out = Command::new(script).arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "pyx12 rejects {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every insurer's 834 inbox of the exchange at `exchange`, written to `dir` as one file each
/// (`ID.x12`), as insurers receive them in batches; `reshape(n, text)` makes the n-th file's text.
pub async fn deliver_inboxes(
    exchange: &str,
    dir: &Path,
    reshape: impl Fn(usize, String) -> String,
) {
    std::fs::create_dir_all(dir).unwrap();
    let list = reqwest::get(format!("{exchange}/api/v1/issuers?limit=100"))
        .await
        .unwrap();
    assert!(list.status().is_success(), "{exchange}: {}", list.status());
    let issuers: Value = list.json().await.unwrap();
    for (n, issuer) in issuers["issuers"].as_array().unwrap().iter().enumerate() {
        let id = issuer["id"].as_str().unwrap();
        let x12 = reqwest::get(format!("{exchange}/issuers/{id}/834"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        std::fs::write(dir.join(format!("{id}.x12")), reshape(n, x12)).unwrap();
    }
}
