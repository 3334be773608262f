//! Level: the `surge` binary run end to end, as a user runs it on a recording of their exchange.
//! `surge journey from-har` turns a browser's HAR into a journey file that `surge check` accepts
//! and that runs a hundred visits without a failure against the exchange the recording was made
//! on — every id, form and token taken from each visit's own replies, the API key read from the
//! environment and written nowhere — and refuses bad input with exit 2 and a located message.
//!
//! Recordings: `tests/data/handmade.har` (the `/app` front end's walk, written as Chromium writes
//! HARs, with a stylesheet, a favicon and a beacon to leave out), and `tests/data/enrollment.har`
//! (real headless Chromium, recorded by tests/har_chromium.rs) when it is there.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{hundred_clean_visits, surge, ExchangeProcess};
use surge::access::secrets::Secrets;

/// The API key the hand-made recording was made with.
const HANDMADE_KEY: &str = "hand-made-key-8d41";
/// The API key tests/har_chromium.rs records with.
const CHROMIUM_KEY: &str = "har-fake-key-5b21c7";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-from-har-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn from_har(args: &[&str]) -> Output {
    let mut all = vec!["journey", "from-har"];
    all.extend_from_slice(args);
    surge(&all)
}

/// `${env:NAME}` names the text reads.
fn variables(journey: &str) -> Vec<String> {
    let mut names: Vec<String> = journey
        .split("${env:")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The requests of the converted file, in journey order, as TOML tables.
fn requests(journey: &toml::Table) -> Vec<(String, toml::Table)> {
    let order = journey["journeys"][0]["requests"].as_array().unwrap();
    order
        .iter()
        .map(|name| {
            let name = name.as_str().unwrap().to_string();
            let table = journey["requests"][&name].as_table().unwrap().clone();
            (name, table)
        })
        .collect()
}

/// The first capture that `matches`, by name, and the requests after the one it is on.
fn capture(
    requests: &[(String, toml::Table)],
    matches: impl Fn(&str, &toml::Table) -> bool,
) -> (String, &[(String, toml::Table)]) {
    for (at, (_, request)) in requests.iter().enumerate() {
        let Some(captures) = request.get("capture").and_then(|c| c.as_table()) else {
            continue;
        };
        for (name, spec) in captures {
            if matches(name, spec.as_table().unwrap()) {
                return (name.clone(), &requests[at + 1..]);
            }
        }
    }
    panic!("no such capture in {requests:#?}");
}

/// Whether any later request's text mentions `{{ expr…`.
fn used_later(later: &[(String, toml::Table)], expr: &str) -> bool {
    later.iter().any(|(_, request)| {
        toml::to_string(request)
            .unwrap()
            .contains(&format!("{{{{ {expr}"))
    })
}

/// Convert `har`, check what was made of it, then run 100 visits of it against an exchange
/// started with the recording's key.
fn converts_and_runs(har: &Path, key: &str, variable: &str) {
    let dir = scratch(har.file_stem().unwrap().to_str().unwrap());
    let journey_path = dir.join("journey.toml");
    let out = from_har(&[har.to_str().unwrap(), "-o", journey_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let journey_text = std::fs::read_to_string(&journey_path).unwrap();

    // No secret value, in any encoding surge's redaction knows (raw, percent, JSON, HTML, base64).
    assert!(
        !Secrets::new([key.to_string()]).appear_in(&journey_text),
        "the key is written in the journey:\n{journey_text}"
    );
    assert_eq!(variables(&journey_text), [variable], "{journey_text}");
    assert!(
        journey_text.contains(&format!("#   {variable}  the `apikey` query parameter")),
        "the opening comment says what to set:\n{journey_text}"
    );

    // The values each visit must take from its own replies are captured, and sent back.
    let journey: toml::Table = toml::from_str(&journey_text).unwrap();
    let requests = requests(&journey);
    let pointer = |wanted: &'static str| {
        move |_: &str, spec: &toml::Table| {
            spec.get("pointer")
                .and_then(|p| p.as_str())
                .is_some_and(|p| regex::Regex::new(wanted).unwrap().is_match(p))
        }
    };
    let (plan, later) = capture(&requests, pointer(r"^/plans/\d+/id$"));
    assert!(
        used_later(later, &plan),
        "plan id {plan} is captured and used"
    );
    let (application, later) = capture(&requests, pointer(r"^/application/id$"));
    assert!(
        used_later(later, &application),
        "application id {application} is captured and used"
    );
    let (saml, later) = capture(&requests, |_, spec| {
        spec.get("form").and_then(|f| f.as_bool()) == Some(true)
    });
    for field in ["SAMLResponse", "RelayState"] {
        assert!(
            used_later(later, &format!("{saml}.fields.{field}")),
            "the Pay Now form's {field} is posted to the insurer:\n{journey_text}"
        );
    }
    let (payment_page, later) = capture(later, |_, spec| {
        spec.get("form").and_then(|f| f.as_bool()) == Some(true)
    });
    for field in ["payment_token", "amount"] {
        assert!(
            used_later(later, &format!("{payment_page}.fields.{field}")),
            "the insurer's payment form is posted as the page gave it:\n{journey_text}"
        );
    }

    // Runs: 100 visits against an exchange with the same key, not one failure.
    let exchange = ExchangeProcess::start(&["--api-key", key]);
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"from-har\"\njourneys = \"journey.toml\"\ntarget = \"{}\"\n\n[traffic]\nvisits = 100\nspan = \"2s\"\nlate_after = \"5s\"\n",
            exchange.url
        ),
    )
    .unwrap();
    hundred_clean_visits(
        &scenario,
        &dir.join("run"),
        &[(variable, key)],
        requests.len(),
    );
    let unset = surge(&["check", scenario.to_str().unwrap()]);
    assert_eq!(unset.status.code(), Some(2), "without {variable}");
    assert!(
        text(&unset.stderr).contains(&format!("{variable} is not set")),
        "{}",
        text(&unset.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_hand_made_recording_becomes_a_journey_that_runs_100_visits_without_a_failure() {
    converts_and_runs(&data("handmade.har"), HANDMADE_KEY, "HANDMADE_APIKEY");
}

#[test]
fn the_chromium_recording_becomes_a_journey_that_runs_100_visits_without_a_failure() {
    converts_and_runs(&data("enrollment.har"), CHROMIUM_KEY, "ENROLLMENT_APIKEY");
}

#[test]
fn without_an_output_file_the_journey_goes_to_standard_output_and_what_was_left_out_is_said() {
    let out = from_har(&[data("handmade.har").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let journey = text(&out.stdout);
    let parsed: toml::Table = toml::from_str(&journey).unwrap();
    assert_eq!(parsed["journeys"][0]["name"].as_str(), Some("handmade"));
    assert_eq!(parsed["journeys"][0]["weight"].as_integer(), Some(1));
    assert!(
        journey.contains("# Left out: 2 static assets, 1 request the browser made on its own"),
        "the stylesheet and favicon, and the beacon:\n{journey}"
    );
    assert!(
        !journey.contains("fonts.example") && !journey.contains("analytics.example"),
        "{journey}"
    );
    assert!(
        text(&out.stderr).contains("journey `handmade` of 11 requests (of 14 recorded)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_recordings_exit_2_with_the_file_and_where_it_is_wrong() {
    let dir = scratch("bad");
    let cases = [
        (
            "broken.har",
            "{\"log\": {\n  \"version\": \"1.2\",,\n}}",
            ":2:",
            "not JSON",
        ),
        (
            "other.har",
            "{\"log\": {\"version\": \"1.2\", \"entries\": [{\"request\": {}}]}}",
            ":1:",
            "not a HAR 1.2 recording: log.entries[0]",
        ),
        (
            "empty.har",
            "{\"log\": {\"version\": \"1.2\", \"entries\": []}}",
            ": log.entries is empty",
            "holds no request",
        ),
    ];
    for (name, content, place, what) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let out = from_har(&[path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("{}{place}", path.display())) && stderr.contains(what),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let missing = from_har(&[dir.join("missing.har").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("missing.har: cannot read it"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_recording_with_nothing_under_the_base_url_exits_2_saying_so() {
    let har = data("handmade.har");
    let out = from_har(&[
        har.to_str().unwrap(),
        "--base-url",
        "http://127.0.0.1:1/elsewhere",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: no request of the recording is under the base URL http://127.0.0.1:1/elsewhere",
            har.display()
        )),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing is written");
}
