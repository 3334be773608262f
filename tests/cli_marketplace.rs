//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! One binary drives two differently shaped exchanges from files alone: the embedded exchange
//! served in the shape of the CMS Marketplace API (`--api-key`, `--base-path`, `--pay-now json`),
//! walked through the whole funnel by `journeys/marketplace.toml`, with the key from the
//! environment and never written anywhere.

use crate::util::ExchangeProcess;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const KEY: &str = "planted-secret-4f9c2e";

/// `surge exchange` in the Marketplace shape.
fn shaped_exchange() -> ExchangeProcess {
    let exchange = ExchangeProcess::start(&[
        "--api-key",
        KEY,
        "--base-path",
        "/marketplace",
        "--pay-now",
        "json",
    ]);
    assert!(
        exchange.url.ends_with("/marketplace"),
        "the base path is part of its URL: {}",
        exchange.url
    );
    exchange
}

fn run(target: &str, out: &Path, key: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_surge"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "scenarios/marketplace.toml", "--quiet", "--force"])
        .args(["--target", target, "--out", out.to_str().unwrap()])
        .args(["--visits", "60"]);
    match key {
        Some(key) => command.env("MARKETPLACE_API_KEY", key),
        None => command.env_remove("MARKETPLACE_API_KEY"),
    };
    command.output().expect("surge runs")
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// Every file of a run directory, as text where it is text.
fn every_text(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(every_text(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    found
}

#[test]
fn the_marketplace_journeys_walk_the_whole_funnel_and_never_write_the_key() {
    let exchange = shaped_exchange();
    let dir = std::env::temp_dir().join(format!("surge-marketplace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let good = dir.join("good");
    let out = run(&exchange.url, &good, Some(KEY));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&good);
    let funnel = &s["funnel"];
    assert!(funnel["effectuated"].as_u64().unwrap() > 0, "{funnel}");
    assert!(funnel["paid"].as_u64().unwrap() >= funnel["effectuated"].as_u64().unwrap());
    assert_eq!(
        s["failures"].as_array().unwrap().len(),
        0,
        "a healthy exchange: {}",
        s["failures"]
    );
    assert!(
        s["cracks"]["records_error"].is_null(),
        "the insurers' records are fetched with the key too: {}",
        s["cracks"]
    );
    for (path, text) in every_text(&good) {
        assert!(!text.contains(KEY), "the key is written in {path}");
    }
    let exemplars = std::fs::read_to_string(good.join("exemplars.jsonl")).unwrap();
    assert!(
        exemplars.contains("apikey=[redacted]"),
        "the examples keep the URL, less the key: {exemplars}"
    );

    // The same run with a wrong key fails at the very first request, saying why.
    let wrong = dir.join("wrong");
    run(&exchange.url, &wrong, Some("not-the-key"));
    let failures = summary(&wrong)["failures"].clone();
    let first = &failures[0];
    assert_eq!(first["step"], "browse", "{failures}");
    assert_eq!(
        first["reason"], "browse: county by zip: HTTP 401 (code API_KEY_INVALID)",
        "{failures}"
    );
    assert_eq!(summary(&wrong)["funnel"]["browsed"], 0);

    // Without the variable nothing is sent: the scenario line that reads it is named.
    let unset = run(&exchange.url, &dir.join("unset"), None);
    assert_eq!(unset.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unset.stderr);
    assert!(
        stderr.contains("scenarios/marketplace.toml:")
            && stderr.contains("MARKETPLACE_API_KEY is not set"),
        "{stderr}"
    );
    assert!(!dir.join("unset").join("summary.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
