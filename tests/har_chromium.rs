//! Level: a real browser. Headless Chromium, driven over the DevTools protocol, walks one
//! enrollment through the embedded exchange's own front-end page (`/app`: fetch calls to the API
//! with the key in their query, then the Pay Now hand-off and the insurer's pages), and the walk is
//! recorded as a HAR 1.2 — what a user records of their own exchange for `surge journey from-har`.
//!
//! The browser tests need `chromium` on the PATH (CI installs Debian's); where it cannot be had,
//! `SURGE_SKIP_BROWSER_TESTS=1` skips them, and only then: a missing browser otherwise fails.
//! `SURGE_RECORD_HAR=1` writes the recording to `tests/data/enrollment.har`, the kept recording
//! that the conversion tests read everywhere, browser or not; otherwise it goes to a directory of
//! the test's own. The recorder itself is in `tests/har_chromium/`.

mod cdp;
mod chromium;
mod har;
mod walk;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::util::{hundred_clean_visits, surge, ExchangeProcess};
use chromium::Chromium;
use walk::record_enrollment;

/// The exchange's API key in the recording: a fake one, planted for the converter to hide.
const KEY: &str = "har-fake-key-5b21c7";
/// The kept recording.
const KEPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/enrollment.har");

fn browser_tests_skipped() -> bool {
    std::env::var("SURGE_SKIP_BROWSER_TESTS").as_deref() == Ok("1")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-har-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn chromium_walking_the_exchange_front_end_records_one_enrollment_as_a_har() {
    if browser_tests_skipped() {
        println!("skipped: SURGE_SKIP_BROWSER_TESTS=1 (no browser here)");
        return;
    }
    let exchange = ExchangeProcess::start(&["--api-key", KEY]);
    let dir = scratch("chromium");
    let mut chromium = Chromium::launch(dir.join("profile"), Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let start = format!("{}/app?zip=27601&apikey={KEY}", exchange.url);
    let har = record_enrollment(&chromium.devtools, &start, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("recording the enrollment from {start}: {e}"));
    chromium.wait_for_exit(Duration::from_secs(10));
    drop(chromium);

    let path = if std::env::var("SURGE_RECORD_HAR").as_deref() == Ok("1") {
        PathBuf::from(KEPT)
    } else {
        dir.join("enrollment.har")
    };
    // Written whole, then renamed: the kept recording's test may be reading it meanwhile.
    let partial = path.with_extension("har.partial");
    std::fs::write(&partial, serde_json::to_string_pretty(&har).unwrap() + "\n").unwrap();
    std::fs::rename(&partial, &path).unwrap();

    assert_is_har_1_2(&har);
    assert_records_one_enrollment(&har, &exchange.url);
    assert_no_secret_but_the_key(&std::fs::read_to_string(&path).unwrap());

    the_conversion_runs_100_visits_without_a_failure(&path, &exchange, &dir);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_kept_recording_holds_one_enrollment_and_no_secret_but_the_fake_key() {
    let text = std::fs::read_to_string(KEPT).unwrap();
    let har: Value = serde_json::from_str(&text).unwrap();
    let first = har["log"]["entries"][0]["request"]["url"].as_str().unwrap();
    let base = first.strip_suffix(&format!("/app?zip=27601&apikey={KEY}"));
    let base =
        base.unwrap_or_else(|| panic!("the recording starts on the front-end page: {first}"));
    assert_is_har_1_2(&har);
    assert_records_one_enrollment(&har, base);
    assert_no_secret_but_the_key(&text);
}

// ---- What a recording must hold -------------------------------------------------------------

/// The fields HAR 1.2 requires, of the types it says.
fn assert_is_har_1_2(har: &Value) {
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert!(log["creator"]["name"].is_string() && log["creator"]["version"].is_string());
    let pages = log["pages"].as_array().expect("pages");
    assert!(!pages.is_empty(), "no page recorded");
    for page in pages {
        for field in ["startedDateTime", "id", "title"] {
            assert!(page[field].is_string(), "page.{field} in {page}");
        }
        assert!(page["pageTimings"].is_object(), "{page}");
    }
    let entries = log["entries"].as_array().expect("entries");
    for e in entries {
        let at = e["request"]["url"].as_str().unwrap_or("?");
        assert!(
            e["startedDateTime"].is_string() && e["time"].is_number(),
            "{at}"
        );
        assert!(e["cache"].is_object(), "{at}");
        let request = &e["request"];
        for field in ["method", "url", "httpVersion"] {
            assert!(request[field].is_string(), "request.{field} of {at}");
        }
        for field in ["headers", "queryString", "cookies"] {
            assert!(request[field].is_array(), "request.{field} of {at}");
        }
        let response = &e["response"];
        assert!(
            response["status"].is_i64() && response["statusText"].is_string(),
            "{at}"
        );
        for field in ["headers", "cookies"] {
            assert!(response[field].is_array(), "response.{field} of {at}");
        }
        assert!(response["redirectURL"].is_string(), "{at}");
        assert!(response["content"]["size"].is_i64(), "{at}");
        assert!(response["content"]["mimeType"].is_string(), "{at}");
        for field in ["headersSize", "bodySize"] {
            assert!(
                request[field].is_i64() && response[field].is_i64(),
                "{field} of {at}"
            );
        }
        for phase in ["send", "wait", "receive"] {
            let ms = e["timings"][phase].as_f64().unwrap_or(-1.0);
            assert!(ms >= 0.0, "timings.{phase} of {at}: {}", e["timings"]);
        }
    }
}

/// One recorded request: its entry, found after `after` by method and path under `base`.
struct Found<'a> {
    at: usize,
    entry: &'a Value,
}

impl Found<'_> {
    fn status(&self) -> i64 {
        self.entry["response"]["status"].as_i64().unwrap()
    }

    fn text(&self) -> &str {
        self.entry["response"]["content"]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("a body for {}", self.entry["request"]["url"]))
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.text()).expect("a JSON reply")
    }

    fn sent_json(&self) -> Value {
        let text = self.entry["request"]["postData"]["text"].as_str().unwrap();
        serde_json::from_str(text).expect("a JSON request body")
    }

    fn param(&self, list: &str, name: &str) -> String {
        let list = match list {
            "query" => &self.entry["request"]["queryString"],
            _ => &self.entry["request"]["postData"]["params"],
        };
        list.as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .and_then(|p| p["value"].as_str())
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .to_string()
    }
}

fn find<'a>(entries: &'a [Value], base: &str, after: usize, method: &str, path: &str) -> Found<'a> {
    let pattern = regex::Regex::new(&format!("^{path}$")).unwrap();
    entries
        .iter()
        .enumerate()
        .skip(after)
        .find(|(_, e)| {
            let url = e["request"]["url"].as_str().unwrap_or_default();
            let Some(rest) = url.strip_prefix(base) else {
                return false;
            };
            e["request"]["method"] == method && pattern.is_match(rest.split('?').next().unwrap())
        })
        .map(|(at, entry)| Found { at, entry })
        .unwrap_or_else(|| {
            let seen: Vec<String> = entries
                .iter()
                .map(|e| format!("{} {}", e["request"]["method"], e["request"]["url"]))
                .collect();
            panic!(
                "no {method} {path} after entry {after}; recorded:\n{}",
                seen.join("\n")
            )
        })
}

/// The walk's requests in order, each answered as the exchange answers it, the values of one
/// carried into the next as a front end carries them, and the key on every API call.
fn assert_records_one_enrollment(har: &Value, base: &str) {
    let entries = har["log"]["entries"].as_array().unwrap();
    let page = find(entries, base, 0, "GET", "/app");
    assert_eq!(page.entry["_resourceType"], "document");
    let county = find(
        entries,
        base,
        page.at,
        "GET",
        "/api/v1/counties/by/zip/27601",
    );
    assert_eq!(
        county.entry["_resourceType"], "fetch",
        "the page's script calls the API"
    );
    let search = find(entries, base, county.at, "POST", "/api/v1/plans/search");
    let details = find(
        entries,
        base,
        search.at,
        "GET",
        "/api/v1/plans/[0-9A-Z]{14}",
    );
    let estimate = find(
        entries,
        base,
        details.at,
        "POST",
        "/api/v1/households/eligibility/estimates",
    );
    let application = find(
        entries,
        base,
        estimate.at,
        "POST",
        "/api/v1/enrollment/applications",
    );
    let app_id = application.json()["application"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let selection = find(
        entries,
        base,
        application.at,
        "POST",
        &format!("/api/v1/enrollment/applications/{app_id}/selection"),
    );
    let enrollment = selection.json()["enrollment"].clone();
    let ptid = enrollment["payment_transaction_id"].as_str().unwrap();
    let pay_now = find(
        entries,
        base,
        selection.at,
        "GET",
        &format!("/api/v1/enrollment/{ptid}/pay-now"),
    );
    let issuer = enrollment["issuer_id"].as_str().unwrap();
    let landing = find(
        entries,
        base,
        pay_now.at,
        "POST",
        &format!("/issuers/{issuer}/pay-now"),
    );
    let payment = find(
        entries,
        base,
        landing.at,
        "POST",
        &format!("/issuers/{issuer}/payments"),
    );

    for (call, status) in [
        (&county, 200),
        (&search, 200),
        (&details, 200),
        (&estimate, 200),
    ]
    .into_iter()
    .chain([(&application, 201), (&selection, 201), (&pay_now, 200)])
    {
        let url = &call.entry["request"]["url"];
        assert_eq!(call.status(), status, "{url}");
        assert_eq!(call.param("query", "apikey"), KEY, "the key rides on {url}");
    }
    // The plan chosen from the search is the one whose details were read, and the one selected.
    let plan_id = details.json()["plan"]["id"].as_str().unwrap().to_string();
    assert!(search.json()["plans"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == plan_id.as_str()));
    assert_eq!(selection.sent_json()["plan_id"], plan_id.as_str());
    assert_eq!(
        enrollment["pay_now_url"].as_str(),
        Some(&*format!("/api/v1/enrollment/{ptid}/pay-now"))
    );

    // Pay Now: the browser posted the page's SAML Response to the insurer.
    assert_eq!(pay_now.entry["_resourceType"], "document");
    let saml = landing.param("post", "SAMLResponse");
    assert!(
        pay_now.text().contains(&format!("value=\"{saml}\"")),
        "the SAML Response posted is the page's"
    );
    assert_eq!(landing.param("post", "RelayState"), ptid);
    let xml = base64::engine::general_purpose::STANDARD
        .decode(&saml)
        .expect("base64");
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains("<samlp:Response") && xml.contains(ptid),
        "{xml}"
    );
    assert_eq!(landing.status(), 200, "{}", landing.text());

    // The payment: the insurer's form, as its page gave it, and the insurer's confirmation.
    let token = payment.param("post", "payment_token");
    assert!(
        landing.text().contains(&format!("value=\"{token}\"")),
        "the token is the page's"
    );
    let owed: f64 = payment.param("post", "amount").parse().unwrap();
    assert!((owed - enrollment["total_amount_owed"].as_f64().unwrap()).abs() < 0.005);
    assert_eq!(payment.status(), 200);
    let paid = payment.json();
    assert_eq!(paid["payment"]["status"], "paid", "{paid}");
    assert_eq!(paid["payment"]["payment_transaction_id"], ptid);
}

/// The only secret a recording holds is the exchange's key, the fake one the test planted: no
/// other key, no credentials, no session cookie.
fn assert_no_secret_but_the_key(text: &str) {
    let keys = regex::Regex::new(r"apikey=([^&\s\x22\\]*)").unwrap();
    let found: Vec<&str> = keys
        .captures_iter(text)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert!(
        !found.is_empty(),
        "the recording carries the key on its API calls"
    );
    assert!(
        found.iter().all(|k| *k == KEY),
        "only the fake key: {found:?}"
    );
    let lower = text.to_ascii_lowercase();
    for credential in [
        "\"authorization\"",
        "\"cookie\"",
        "\"set-cookie\"",
        "\"x-api-key\"",
    ] {
        assert!(!lower.contains(credential), "{credential} in the recording");
    }
}

// ---- From the recording to a load test -------------------------------------------------------

/// `surge journey from-har` turns the fresh recording into a journey file that holds no secret,
/// carries the plan, the application and the SAML hand-off from reply to request, passes `surge
/// check`, and runs 100 visits against the same exchange without a failure.
fn the_conversion_runs_100_visits_without_a_failure(
    har: &Path,
    exchange: &ExchangeProcess,
    dir: &Path,
) {
    let journey = dir.join("journey.toml");
    let out = surge(&[
        "journey",
        "from-har",
        har.to_str().unwrap(),
        "--base-url",
        &exchange.url,
        "-o",
        journey.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    let text = std::fs::read_to_string(&journey).unwrap();
    assert!(
        !text.contains(KEY),
        "the key is written in the journey file:\n{text}"
    );

    // The key becomes a variable to set, named in the file.
    let variables: Vec<String> = regex::Regex::new(r"\$\{env:([A-Za-z0-9_]+)\}")
        .unwrap()
        .captures_iter(&text)
        .map(|c| c[1].to_string())
        .collect();
    assert!(
        !variables.is_empty(),
        "the key is read from the environment:\n{text}"
    );

    // What each visit must carry from a reply into a later request: its plan, its application, the
    // SAML Response of its Pay Now page.
    let requests = toml::from_str::<toml::Table>(&text).unwrap()["requests"].clone();
    let requests = requests.as_table().unwrap();
    let sent = |name_part: &str| -> String {
        let (_, request) = requests
            .iter()
            .find(|(name, _)| name.contains(name_part))
            .unwrap_or_else(|| panic!("a request named *{name_part}* in\n{text}"));
        request.to_string()
    };
    let selection = sent("selection");
    assert!(
        regex::Regex::new(r"url = .*/applications/\{\{ \w+ \}\}/selection")
            .unwrap()
            .is_match(&selection),
        "the application is captured: {selection}"
    );
    assert!(
        regex::Regex::new(r"plan_id = .\{\{ \w+ \}\}")
            .unwrap()
            .is_match(&selection),
        "the plan is captured: {selection}"
    );
    let landing = requests
        .values()
        .map(toml::Value::to_string)
        .find(|r| r.contains("SAMLResponse"))
        .unwrap_or_else(|| panic!("a request posting the SAML Response in\n{text}"));
    assert!(
        regex::Regex::new(r"SAMLResponse = .\{\{ [\w.]+ \}\}")
            .unwrap()
            .is_match(&landing),
        "the SAML Response is captured from the Pay Now page: {landing}"
    );

    let scenario = dir.join("recorded.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "recorded"
journeys = "journey.toml"
target = "{url}"

[traffic]
visits = 100
span = "2s"
seed = 23
max_duration = "60s"
"#,
            url = exchange.url
        ),
    )
    .unwrap();
    let env: Vec<(&str, &str)> = variables.iter().map(|v| (v.as_str(), KEY)).collect();
    let summary = hundred_clean_visits(&scenario, &dir.join("run"), &env, requests.len());
    // Every visit sent every request of the journey, none failed, and each reached the payment.
    let steps = summary["steps"].as_object().unwrap();
    assert_eq!(
        steps["pay"]["requests"], 100,
        "every visit paid: {}",
        summary["steps"]
    );
}
