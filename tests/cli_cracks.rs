//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! `surge cracks` reconciles a finished run with the insurers' 834s delivered later as files, as
//! real 834s arrive (batch files through the hub, separators declared in each ISA): the North
//! Carolina case read from a directory gives the numbers the run saw in the insurers' inboxes.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::{surge, ExchangeProcess};

fn summary(run: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}

/// Every insurer's 834 inbox, written to `dir` as one file each. Every other file is rewritten
/// with `|` between elements and one segment per line (its ISA says so).
async fn deliver(exchange: &str, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let issuers: Value = reqwest::get(format!("{exchange}/api/v1/issuers?limit=100"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (n, issuer) in issuers["issuers"].as_array().unwrap().iter().enumerate() {
        let id = issuer["id"].as_str().unwrap();
        let x12 = reqwest::get(format!("{exchange}/issuers/{id}/834"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let x12 = match n % 2 {
            0 => x12,
            _ => x12.replace('*', "|").replace('~', "\n"),
        };
        std::fs::write(dir.join(format!("{id}.x12")), x12).unwrap();
    }
}

fn cracks(run: &Path, edi: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "cracks",
        run.to_str().unwrap(),
        "--834",
        edi.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = surge(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    summary(run)["cracks"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_north_carolina_numbers_come_back_from_834_files() {
    let dir = std::env::temp_dir().join(format!("surge-cracks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // scenarios/broken-redirect.toml's [exchange] section, served by a separate exchange.
    let faults = dir.join("nc.toml");
    std::fs::write(
        &faults,
        "seed = 2013\n[insurers.\"54332\"]\nbroken_link = 0.82\npayment_fails = 1.0\n",
    )
    .unwrap();
    let exchange = ExchangeProcess::start(&["--faults", faults.to_str().unwrap()]);
    let run: PathBuf = dir.join("run");
    let out = surge(&[
        "run",
        "scenarios/broken-redirect.toml",
        "--target",
        &exchange.url,
        "--ignore-exchange-section",
        "--time-scale",
        "4",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the rehearsal fails its thresholds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen_in_inboxes = summary(&run)["cracks"].clone();
    let carolina = &seen_in_inboxes["insurers"]["54332"];
    let applications = carolina["applications"].as_u64().unwrap();
    assert!(
        (480..=660).contains(&applications),
        "about 570 applications: {carolina}"
    );
    assert!(
        (60..=150).contains(&carolina["redirected"].as_u64().unwrap()),
        "about 100 reach the payment page: {carolina}"
    );
    assert_eq!(carolina["paid"], 0, "none pays");

    let files = dir.join("834");
    deliver(&exchange.url, &files).await;
    drop(exchange);

    // The run's own cracks are forgotten, then read back from the files alone.
    let mut blank = summary(&run);
    blank["cracks"] = serde_json::json!({ "insurer_records": false, "insurers": {} });
    std::fs::write(run.join("summary.json"), blank.to_string()).unwrap();
    assert_eq!(cracks(&run, &files, &[]), seen_in_inboxes);
    let page = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(page.contains("Carolina Cooperative"), "the page is redrawn");

    // Ids written without their zero padding match only when told to ignore it.
    let unpadded = dir.join("834-unpadded");
    std::fs::create_dir_all(&unpadded).unwrap();
    for entry in std::fs::read_dir(&files).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let text = unpad_policy_ids(&text);
        std::fs::write(unpadded.join(entry.file_name()), text).unwrap();
    }
    let strict = cracks(&run, &unpadded, &[]);
    assert_ne!(
        strict, seen_in_inboxes,
        "padded ids do not match unpadded ones"
    );
    let lenient = cracks(&run, &unpadded, &["--ignore-leading-zeros"]);
    assert_eq!(lenient, seen_in_inboxes);

    // Nothing usable: a clear error, exit 2.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = surge(&[
        "cracks",
        run.to_str().unwrap(),
        "--834",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no X12 interchange"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `REF*1L*0000000000042` → `REF*1L*42`, whatever the element separator.
fn unpad_policy_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, piece) in text.split("REF").enumerate() {
        if i > 0 {
            out.push_str("REF");
        }
        let mut chars = piece.chars();
        let sep = chars.next();
        match (sep, piece.get(1..3)) {
            (Some(sep), Some("1L")) if piece[3..].starts_with(sep) => {
                let rest = &piece[4..];
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                let trimmed = rest[..digits].trim_start_matches('0');
                out.push(sep);
                out.push_str("1L");
                out.push(sep);
                out.push_str(trimmed);
                out.push_str(&rest[digits..]);
            }
            _ => out.push_str(piece),
        }
    }
    out
}
