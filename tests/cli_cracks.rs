//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! `surge cracks` reconciles a finished run with the insurers' 834s delivered later as files, as
//! real 834s arrive (batch files through the hub, separators declared in each ISA): the North
//! Carolina case read from a directory gives the numbers the run saw in the insurers' inboxes.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{
    cracks, cracks_out, deliver_inboxes, forget_cracks, rehearse_failing, run_quietly, summary,
    surge, ExchangeProcess,
};

/// Every insurer's 834 inbox, one file each; every other file rewritten with `|` between elements
/// and one segment per line (its ISA says so).
async fn deliver(exchange: &str, dir: &Path) {
    deliver_inboxes(exchange, dir, |n, x12| match n % 2 {
        0 => x12,
        _ => x12.replace('*', "|").replace('~', "\n"),
    })
    .await;
}

/// What the insurers hold, per insurer and class: what must come back whatever the 834s' form.
fn counts(cracks: &Value) -> Value {
    serde_json::json!({
        "insurer_records": cracks["insurer_records"],
        "insurers": cracks["insurers"],
    })
}

/// Every file of `from` rewritten by `change` into `to`.
fn rewrite(from: &Path, to: &Path, change: impl Fn(&str) -> String) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        std::fs::write(to.join(entry.file_name()), change(&text)).unwrap();
    }
}

/// The run's scenario copy with `[cracks]` keys added: what `surge cracks` reads without flags.
fn with_cracks_keys(run: &Path, original: &str, keys: &str) {
    std::fs::write(
        run.join("scenario.toml"),
        format!("{original}\n[cracks]\n{keys}\n"),
    )
    .unwrap();
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
    rehearse_failing(
        "scenarios/broken-redirect.toml",
        &exchange.url,
        &["--ignore-exchange-section"],
        &run,
        "the rehearsal fails its thresholds",
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
    let matching = &seen_in_inboxes["matching"];
    let paid = matching["paid"].as_u64().unwrap();
    assert!(paid > 100, "Tar Heel's applicants pay: {matching}");
    assert_eq!(matching["matched"], paid, "{matching}");
    assert!(matching.get("problem").is_none(), "{matching}");

    let files = dir.join("834");
    deliver(&exchange.url, &files).await;
    drop(exchange);

    // The run's own cracks are forgotten, then read back from the files alone.
    forget_cracks(&run);
    let from_files = cracks(&run, Some(&files), &[]);
    assert_eq!(counts(&from_files), counts(&seen_in_inboxes));
    assert_eq!(from_files["matching"]["matched"], paid);
    let page = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(page.contains("Carolina Cooperative"), "the page is redrawn");
    assert!(
        page.contains("covered (834 + payment)"),
        "one word per meaning"
    );

    // Ids written without their zero padding match none: said in words, with an id of each side
    // and the key that would fix it, and exit 2 — the report is written all the same.
    let unpadded = dir.join("834-unpadded");
    rewrite(&files, &unpadded, unpad_policy_ids);
    let out = cracks_out(&run, Some(&unpadded), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("0 of {paid} matched")), "{stderr}");
    let sides = regex::Regex::new(r"the 834s say (\d+), the visits (\d+)").unwrap();
    let ids = sides.captures(&stderr).expect("an id of each side");
    assert_eq!(
        format!("{:0>13}", &ids[1]),
        ids[2],
        "the same applicant, padded and not: {stderr}"
    );
    assert!(
        stderr.contains("ignore_leading_zeros = true (or --ignore-leading-zeros)"),
        "{stderr}"
    );
    let written = summary(&run)["cracks"].clone();
    assert_eq!(written["matching"]["matched"], 0);
    assert_eq!(written["matching"]["examples"]["834"], ids[1]);
    assert_eq!(written["matching"]["examples"]["visits"], ids[2]);
    for page in ["index.html", "summary.md"] {
        let text = std::fs::read_to_string(run.join(page)).unwrap();
        assert!(text.contains("Ids did not match"), "{page}");
        assert!(!text.contains("accounted for"), "{page}");
    }
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ids did not match"),
        "the console says so too"
    );

    // Told to ignore the padding — by the flag, or by the run's scenario — they all match.
    let lenient = cracks(&run, Some(&unpadded), &["--ignore-leading-zeros"]);
    assert_eq!(counts(&lenient), counts(&seen_in_inboxes));
    let original = std::fs::read_to_string(run.join("scenario.toml")).unwrap();
    with_cracks_keys(
        &run,
        &original,
        "source = \"../834-unpadded\"\nignore_leading_zeros = true",
    );
    let from_scenario = cracks(&run, None, &[]);
    assert_eq!(counts(&from_scenario), counts(&seen_in_inboxes));
    assert!(
        from_scenario["source"]
            .as_str()
            .unwrap()
            .ends_with("834-unpadded"),
        "{from_scenario}"
    );
    assert_eq!(
        from_scenario["matching"]["rule"],
        "REF*1L, leading zeros ignored"
    );

    // 834s without premium loops: each is a defect, unless this exchange's carry none.
    let bare = dir.join("834-bare");
    rewrite(&files, &bare, |text| {
        text.replace("PRE AMT TOT", "NO AMOUNTS")
    });
    let flagged = cracks(&run, Some(&bare), &[]);
    assert_eq!(flagged["insurers"]["11512"]["effectuated"], 0);
    assert_eq!(
        flagged["insurers"]["11512"]["classes"]["834_without_premium"],
        flagged["insurers"]["11512"]["applications"]
    );
    let no_premiums = cracks(&run, Some(&bare), &["--no-premiums"]);
    assert_eq!(counts(&no_premiums), counts(&seen_in_inboxes));
    with_cracks_keys(
        &run,
        &original,
        "source = \"../834-bare\"\npremiums = false",
    );
    assert_eq!(counts(&cracks(&run, None, &[])), counts(&seen_in_inboxes));

    // Ids inside a longer reference: the pattern takes them out of both sides.
    let prefixed = dir.join("834-prefixed");
    rewrite(&files, &prefixed, |text| {
        let pattern = regex::Regex::new(r"REF(.)1L(.)(\d+)").unwrap();
        pattern
            .replace_all(text, "REF${1}1L${2}PT-${3}/2026")
            .into_owned()
    });
    let out = cracks_out(&run, Some(&prefixed), &["--id-pattern", "(("]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--id-pattern: id_pattern: `((`"),
        "{stderr}"
    );
    let extracted = cracks(&run, Some(&prefixed), &["--id-pattern", r"PT-(\d+)"]);
    assert_eq!(counts(&extracted), counts(&seen_in_inboxes));
    with_cracks_keys(&run, &original, "id_pattern = 'PT-(\\d+'");
    let out = cracks_out(&run, Some(&prefixed), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let line = original.lines().count() + 3;
    assert!(
        stderr.contains(&format!("scenario.toml:{line}:")) && stderr.contains("cracks.id_pattern"),
        "a bad key is named at its line: {stderr}"
    );

    // Ids whose case differs: the visits wrote `PT-…`, the 834s `pt-…`.
    let enrollments = run.join("enrollments.csv");
    let mut rows = csv::Reader::from_path(&enrollments).unwrap();
    let header = rows.headers().unwrap().clone();
    let mut out = csv::Writer::from_path(dir.join("enrollments.csv")).unwrap();
    out.write_record(&header).unwrap();
    for row in rows.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(String::from).collect();
        row[3] = format!("PT-{}", row[3]);
        out.write_record(&row).unwrap();
    }
    out.flush().unwrap();
    std::fs::rename(dir.join("enrollments.csv"), &enrollments).unwrap();
    let lower = dir.join("834-lower");
    rewrite(&files, &lower, |text| {
        let pattern = regex::Regex::new(r"REF(.)1L(.)(\d+)").unwrap();
        pattern
            .replace_all(text, "REF${1}1L${2}pt-${3}")
            .into_owned()
    });
    with_cracks_keys(&run, &original, "source = \"../834-lower\"");
    let out = cracks_out(&run, None, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ignore_case = true (or --ignore-case)"),
        "{stderr}"
    );
    with_cracks_keys(
        &run,
        &original,
        "source = \"../834-lower\"\nignore_case = true",
    );
    assert_eq!(counts(&cracks(&run, None, &[])), counts(&seen_in_inboxes));

    // Nothing usable: a clear error, exit 2.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = cracks_out(&run, Some(&empty), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no X12 interchange"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One 834 interchange for `ptid`, addressed to insurer `to`, with its premium.
fn interchange(to: &str, ptid: &str) -> String {
    format!(
        "ISA*00*          *00*          *ZZ*CMSFFM         *ZZ*{to:<15}*261127*2008*^*00501*000000001*0*T*:~\
         GS*BE*CMSFFM*{to}*20261127*2008*1*X*005010X220A1~ST*834*0001*005010X220A1~BGN*00~\
         REF*1L*{ptid}~LX*1~N1*75*PRE AMT TOT~REF*9X*100.00~SE*7*0001~GE*1*1~IEA*1*1~\n"
    )
}

#[test]
fn surge_run_reads_the_834s_where_the_scenario_says() {
    let dir = std::env::temp_dir().join(format!("surge-cracks-source-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("834")).unwrap();
    // Every id the embedded exchange can give this run, held by an insurer it does not have: read
    // from here, and not from the exchange's inboxes, every applicant's 834 went astray.
    let batch: String = (0..=400)
        .map(|n| interchange("99999", &format!("{n:013}")))
        .collect();
    std::fs::write(dir.join("834").join("batch.x12"), batch).unwrap();
    let scenario = dir.join("astray.toml");
    std::fs::write(
        &scenario,
        "name = \"astray\"\n[traffic]\nvisits = 60\nspan = \"2s\"\nseed = 7\nlate_after = \"3s\"\n\
         [traffic.mix]\nenroll = 1\nconfirm = 1\n[traffic.think_time]\nmax_ms = 0\n\
         [cracks]\nsource = \"834\"\n",
    )
    .unwrap();

    let check = surge(&["check", scenario.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "cracks: reads the 834 files in {}; ids matched by REF*1L",
            dir.join("834").display()
        )),
        "{said}"
    );

    let run = dir.join("run");
    let out = run_quietly(&scenario, &run);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cracks = summary(&run)["cracks"].clone();
    assert_eq!(cracks["insurer_records"], true, "{cracks}");
    assert!(
        cracks["source"].as_str().unwrap().ends_with("834"),
        "{cracks}"
    );
    let insurers = cracks["insurers"].as_object().unwrap();
    let applications: u64 = insurers
        .values()
        .map(|i| i["applications"].as_u64().unwrap())
        .sum();
    assert!(applications > 20, "{cracks}");
    for (id, insurer) in insurers {
        assert_eq!(
            insurer["classes"]["wrong_insurer_834"], insurer["applications"],
            "insurer {id}: every 834 in the directory is another insurer's"
        );
        assert_eq!(insurer["effectuated"], 0, "insurer {id}");
    }
    assert_eq!(cracks["matching"]["matched"], cracks["matching"]["paid"]);

    // A directory that is not there is said, not taken for "no cracks".
    std::fs::remove_dir_all(dir.join("834")).unwrap();
    let again = dir.join("again");
    let out = run_quietly(&scenario, &again);
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let cracks = summary(&again)["cracks"].clone();
    assert_eq!(cracks["insurer_records"], false);
    assert!(
        cracks["records_error"]
            .as_str()
            .unwrap()
            .contains("no such file or directory"),
        "{cracks}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cracks: NOT reconciled with the insurers"),
        "{stdout}"
    );
    assert!(!stdout.contains("accounted for"), "{stdout}");
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
