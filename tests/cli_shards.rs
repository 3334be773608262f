//! Level: the `surge` binary run end to end, as a user or a Kubernetes Job runs it.
//! Shards of one run against one standalone exchange, merged, give the single run's counts
//! exactly; a merge refuses shards that are not the whole of one run; the live metrics end equal to
//! summary.json.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{surge, tolerant_smoke, ExchangeProcess};
use serde_json::Value;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-shards-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn summary(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap()).unwrap()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `surge run SCENARIO --target URL --out DIR --quiet EXTRA…`, started (not waited for).
fn start_run(scenario: &Path, target: &str, out: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_surge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--quiet",
            "--target",
            target,
            "--out",
        ])
        .arg(out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("surge starts")
}

fn finish(child: std::process::Child) -> Output {
    child.wait_with_output().unwrap()
}

/// The wall-clock time `seconds` from now (negative: ago), RFC 3339, as `--start-at` takes it.
fn rfc3339_from_now(seconds: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", now + seconds),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The counts a merge must reproduce exactly.
fn counts(s: &Value) -> Value {
    let steps: serde_json::Map<String, Value> = s["steps"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, step)| {
            let kept = serde_json::json!({
                "requests": step["requests"],
                "failures": step["failures"],
                "outcomes": step["outcomes"],
            });
            (name.clone(), kept)
        })
        .collect();
    serde_json::json!({
        "visits": [s["visits"]["planned"], s["visits"]["started"], s["visits"]["completed"]],
        "funnel": s["funnel"],
        "funnel_attempted": s["funnel_attempted"],
        "funnel_by_insurer": s["funnel_by_insurer"],
        "steps": steps,
        "visit_latency_count": s["visit_latency"]["count"],
    })
}

fn rows(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .count()
        .saturating_sub(1)
}

#[test]
fn two_shards_merged_are_the_single_run_and_a_merge_refuses_what_is_not_one_run() {
    let dir = temp_dir("merge");
    let scenario = tolerant_smoke(&dir);
    let exchange = ExchangeProcess::start(&[]);

    let whole = dir.join("whole");
    let out = finish(start_run(&scenario, &exchange.url, &whole, &[]));
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));

    // A few seconds ahead, for shards started one after the other.
    let start_at = rfc3339_from_now(2);
    let shards: Vec<PathBuf> = (0..2).map(|k| dir.join(format!("shard-{k}"))).collect();
    let children: Vec<_> = shards
        .iter()
        .enumerate()
        .map(|(k, out)| {
            let shard = format!("{k}/2");
            start_run(
                &scenario,
                &exchange.url,
                out,
                &["--shard", &shard, "--start-at", &start_at],
            )
        })
        .collect();
    for child in children {
        let out = finish(child);
        assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    }
    let (s0, s1) = (summary(&shards[0]), summary(&shards[1]));
    assert_eq!(s0["shard"]["index"], 0);
    assert_eq!(s1["shard"]["count"], 2);
    assert_eq!(
        s0["visits"]["planned"].as_u64().unwrap() + s1["visits"]["planned"].as_u64().unwrap(),
        300,
        "the shards split the schedule"
    );

    let merged = dir.join("merged");
    let out = surge(&[
        "merge",
        merged.to_str().unwrap(),
        shards[1].to_str().unwrap(),
        shards[0].to_str().unwrap(),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let m = summary(&merged);
    let w = summary(&whole);
    assert_eq!(
        counts(&m),
        counts(&w),
        "the merge is the single run, count for count"
    );
    assert_eq!(m["generator"]["valid"], true, "{}", m["generator"]);
    assert_eq!(m["shards"].as_array().unwrap().len(), 2);
    assert!(m.get("shard").is_none(), "a merged run is not a shard");
    // Every shard's applicants, reconciled once against the insurers.
    assert_eq!(
        rows(&merged.join("enrollments.csv")),
        rows(&whole.join("enrollments.csv"))
    );
    assert_eq!(
        m["cracks"]["applicants"], w["cracks"]["applicants"],
        "{}",
        m["cracks"]
    );
    // The timeline's columns add up to the summary; the rules were judged on the merged data.
    let timeline = std::fs::read_to_string(merged.join("timeline.csv")).unwrap();
    let header: Vec<&str> = timeline.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "browse_requests").unwrap();
    let browse: u64 = timeline
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(column).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(browse, w["steps"]["browse"]["requests"].as_u64().unwrap());
    assert!(merged.join("index.html").exists() && merged.join("junit.xml").exists());
    // Interval by interval on the shared clock: as many intervals as the longest shard, not one
    // lump; and each step's latencies all of the shards' requests: the slowest is the slower
    // shard's, the p99 no higher.
    let longest = shards
        .iter()
        .map(|s| rows(&s.join("timeline.csv")))
        .max()
        .unwrap();
    let merged_rows = rows(&merged.join("timeline.csv"));
    assert!(
        (longest..=longest + 2).contains(&merged_rows),
        "{merged_rows} merged intervals for shards of at most {longest}"
    );
    for step in m["step_order"].as_array().unwrap() {
        let step = step.as_str().unwrap();
        let of = |s: &Value, key: &str| s["steps"][step][key].as_f64().unwrap();
        let slowest = of(&s0, "max_ms").max(of(&s1, "max_ms"));
        assert_eq!(of(&m, "max_ms"), slowest, "{step}");
        assert!(
            0.0 < of(&m, "p99_ms") && of(&m, "p99_ms") <= slowest,
            "{step}: merged p99 {} against the slowest {slowest}",
            of(&m, "p99_ms")
        );
    }
    // Every other command takes the merged directory.
    let gated = surge(&[
        "gate",
        merged.to_str().unwrap(),
        "--threshold",
        "p99(browse) < 5s",
    ]);
    assert_eq!(code(&gated), Some(0), "{}", stderr(&gated));
    let reported = surge(&["report", merged.to_str().unwrap()]);
    assert_eq!(code(&reported), Some(0), "{}", stderr(&reported));

    // Refusals: exit 2, naming the culprit, nothing written.
    let refused = |args: &[&Path], culprit: &str| {
        let out_dir = dir.join("refused");
        let mut argv = vec!["merge".to_string(), out_dir.display().to_string()];
        argv.extend(args.iter().map(|p| p.display().to_string()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = surge(&argv);
        assert_eq!(code(&out), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(culprit),
            "{culprit} in {}",
            stderr(&out)
        );
        assert!(!out_dir.exists(), "nothing written");
    };
    refused(&[&shards[0]], "shard 1/2 missing");
    refused(&[&shards[0], &shards[0]], "twice");
    refused(
        &[&shards[0], &whole],
        &format!("{}: not a shard", whole.display()),
    );
    refused(
        &[&shards[0], &dir.join("nowhere")],
        "nowhere: no summary.json",
    );
    // A shard whose interval log is damaged (a full volume): refused before anything is written.
    let damaged = dir.join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    for entry in std::fs::read_dir(&shards[1]).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, damaged.join(path.file_name().unwrap())).unwrap();
        }
    }
    let log = std::fs::read_to_string(damaged.join("latency.hlog")).unwrap();
    let broken = format!("{log}Tag=browse,1.0,1.0,1.0,!!!\n");
    std::fs::write(damaged.join("latency.hlog"), broken).unwrap();
    refused(&[&shards[0], &damaged], "latency.hlog");
    // Every other file of a shard is read through first too, and the message names the shard's
    // file, never the merge's output: a corrupt enrollments.csv, garbage or foreign rows in
    // failures.csv, an emptied latency.hlog of a shard that sent requests.
    let original = std::fs::read_to_string(shards[1].join("latency.hlog")).unwrap();
    std::fs::write(damaged.join("latency.hlog"), &original).unwrap();
    let damage = |file: &str, change: &dyn Fn(&str) -> String, culprit: &str| {
        let path = damaged.join(file);
        let before = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, change(&before)).unwrap();
        refused(
            &[&shards[0], &damaged],
            &format!("{}{culprit}", path.display()),
        );
        std::fs::write(&path, before).unwrap();
    };
    let enrolled = rows(&shards[1].join("enrollments.csv"));
    assert!(enrolled > 0, "the shard selected plans");
    damage(
        "enrollments.csv",
        &|text| format!("{text}12345,a cut-off row\n"),
        ": CSV",
    );
    damage(
        "enrollments.csv",
        &|text| format!("{text}abc,11512,Tar Heel,0000000000001,true,true,true,\n"),
        ": CSV",
    );
    damage(
        "failures.csv",
        &|text| format!("{text}garbage,09:00:00,browse,a reason\n"),
        " line ",
    );
    damage(
        "failures.csv",
        &|text| format!("{text}4,09:00:00,browse,a visit of shard 0/2\n"),
        " line ",
    );
    damage(
        "failures.csv",
        &|text| format!("{text}5,09:00:00,no-such-step,a reason\n"),
        " line ",
    );
    damage("latency.hlog", &|_| String::new(), ": 0 intervals");
    // Put right again, the copy merges: the refusals were about the damage alone.
    let out = surge(&[
        "merge",
        dir.join("repaired").to_str().unwrap(),
        shards[0].to_str().unwrap(),
        damaged.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    // A shard of another run: another seed.
    let foreign = dir.join("foreign");
    let out = finish(start_run(
        &scenario,
        &exchange.url,
        &foreign,
        &["--shard", "1/2", "--seed", "7"],
    ));
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    refused(
        &[&shards[0], &foreign],
        &format!("{}: a shard of another run", foreign.display()),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_shard_stopped_part_way_is_merged_only_when_allowed_and_said() {
    let dir = temp_dir("partial");
    let exchange = ExchangeProcess::start(&[]);
    // 40 s of scenario time at 4x: 10 s a shard, long enough to stop one part-way.
    let scenario = dir.join("long.toml");
    std::fs::write(
        &scenario,
        "[traffic]\nvisits = 200\nspan = \"40s\"\ntime_scale = 4\nlate_after = \"5s\"\n\
         [traffic.mix]\nbrowse = 1\n",
    )
    .unwrap();
    let shards: Vec<PathBuf> = (0..2).map(|k| dir.join(format!("shard-{k}"))).collect();
    let whole_shard = start_run(&scenario, &exchange.url, &shards[0], &["--shard", "0/2"]);
    let stopped = start_run(&scenario, &exchange.url, &shards[1], &["--shard", "1/2"]);
    // SIGTERM (how Kubernetes stops a pod) once the shard has written two intervals.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(shards[1].join("timeline.csv"))
        .is_ok_and(|t| t.lines().count() > 2)
    {
        assert!(Instant::now() < deadline, "the shard never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Command::new("kill")
        .args(["-TERM", &stopped.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = finish(stopped);
    assert_eq!(code(&out), Some(130), "{}", stderr(&out));
    assert_eq!(summary(&shards[1])["partial"], true);
    let out = finish(whole_shard);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(summary(&shards[0])["partial"], false);

    let merged = dir.join("merged");
    let merge = |extra: &[&str]| {
        let mut args = vec!["merge", merged.to_str().unwrap()];
        args.extend(shards.iter().map(|s| s.to_str().unwrap()));
        args.extend(extra);
        surge(&args)
    };
    let out = merge(&[]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{}: shard 1/2 was stopped part-way",
            shards[1].display()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!merged.exists(), "nothing written");

    // Allowed: merged, and the merged run says which shard, and proves nothing (exit 3).
    let out = merge(&["--allow-partial"]);
    assert_eq!(code(&out), Some(3), "{}", stderr(&out));
    let m = summary(&merged);
    assert_eq!(m["partial"], true);
    assert_eq!(m["generator"]["valid"], false);
    assert!(
        m["generator"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("shard 1/2"),
        "{}",
        m["generator"]
    );
    assert_eq!(m["shards"][1]["partial"], true);
    assert_eq!(m["shards"][0]["partial"], false);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_shard_needs_a_shared_target_and_a_well_formed_k_of_n() {
    let dir = temp_dir("usage");
    let scenario = tolerant_smoke(&dir);
    let s = scenario.to_str().unwrap();
    let out = surge(&[
        "run",
        s,
        "--shard",
        "0/2",
        "--out",
        dir.join("r").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--target"), "{}", stderr(&out));
    assert!(!dir.join("r").join("summary.json").exists());
    for bad in ["5/4", "0/0", "4/4", "two/4", "1", "-1/4"] {
        let flag = format!("--shard={bad}");
        let out = surge(&["run", s, &flag, "--target", "http://127.0.0.1:9"]);
        assert_eq!(code(&out), Some(2), "--shard {bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("--shard"), "{}", stderr(&out));
    }
    let out = surge(&[
        "run",
        s,
        "--start-at",
        "tomorrow",
        "--target",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("RFC 3339"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_run_flag_comes_from_a_surge_variable_too() {
    let help = surge(&["run", "--help"]);
    // Words joined again where --help wraps its lines.
    let text = String::from_utf8_lossy(&help.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for variable in [
        "SURGE_SCENARIO",
        "SURGE_TARGET",
        "SURGE_OUT",
        "SURGE_FORCE",
        "SURGE_VISITS",
        "SURGE_TIME_SCALE",
        "SURGE_SEED",
        "SURGE_SHARD",
        "SURGE_START_AT",
        "SURGE_METRICS_BIND",
        "SURGE_METRICS_LINGER",
        "SURGE_INTERVAL",
        "SURGE_GOOSE_REPORT",
        "SURGE_THRESHOLD",
        "SURGE_IGNORE_EXCHANGE_SECTION",
        "SURGE_QUIET",
    ] {
        assert!(
            text.contains(&format!("env: {variable}")),
            "{variable} in\n{text}"
        );
    }

    // A Job template sets them: the shard, its target and its run directory from the environment.
    let dir = temp_dir("env");
    let scenario = tolerant_smoke(&dir);
    let exchange = ExchangeProcess::start(&[]);
    let run_dir = dir.join("from-env");
    let out = Command::new(env!("CARGO_BIN_EXE_surge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run"])
        .env("SURGE_SCENARIO", &scenario)
        .env("SURGE_SHARD", "1/3")
        .env("SURGE_TARGET", &exchange.url)
        .env("SURGE_OUT", &run_dir)
        .env("SURGE_QUIET", "true")
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let s = summary(&run_dir);
    assert_eq!(
        (s["shard"]["index"].as_u64(), s["shard"]["count"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(s["visits"]["planned"], 100);
    assert_eq!(s["target"], exchange.url.as_str());
    let _ = std::fs::remove_dir_all(&dir);
}

/// One series of an OpenMetrics text, by its name and labels as written.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// GET http://ADDR/metrics, or `None` while nothing listens.
fn scrape(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .write_all(
            format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    Some(reply.split_once("\r\n\r\n")?.1.to_string())
}

#[test]
fn the_metrics_endpoint_ends_equal_to_the_summary() {
    let dir = temp_dir("metrics");
    let scenario = tolerant_smoke(&dir);
    let run_dir = dir.join("run");
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_surge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--quiet",
            "--metrics-bind",
            &addr,
        ])
        .args(["--metrics-linger", "60s", "--out"])
        .arg(&run_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Scrape (bounded) until the run says its counters are final.
    let deadline = Instant::now() + Duration::from_secs(90);
    let text = loop {
        if let Some(text) = scrape(&addr) {
            if text.contains("surge_run_finished{scenario=\"smoke\",shard=\"0/1\"} 1") {
                break text;
            }
        }
        assert!(Instant::now() < deadline, "the run never finished");
        std::thread::sleep(Duration::from_millis(100));
    };
    // A signal ends the wait for the last scrape at once (not after the 60 s linger), with the
    // run's own exit code.
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let signalled = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "the linger ignored SIGTERM: {:?}",
        signalled.elapsed()
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let s = summary(&run_dir);
    let labels = "scenario=\"smoke\",shard=\"0/1\"";
    let m = |name: &str, extra: &str| metric(&text, &format!("{name}{{{labels}{extra}}}"));
    assert_eq!(
        m("surge_visits_planned", ""),
        s["visits"]["planned"].as_f64().unwrap()
    );
    assert_eq!(
        m("surge_visits_started_total", ""),
        s["visits"]["started"].as_f64().unwrap()
    );
    assert_eq!(
        m("surge_visits_completed_total", ""),
        s["visits"]["completed"].as_f64().unwrap()
    );
    assert_eq!(
        m("surge_visits_late_total", ""),
        s["visits"]["late"].as_f64().unwrap()
    );
    for (stage, count) in s["funnel"].as_object().unwrap() {
        let series = format!(",stage=\"{stage}\"");
        assert_eq!(
            m("surge_funnel_total", &series),
            count.as_f64().unwrap(),
            "{stage}"
        );
    }
    for (step, numbers) in s["steps"].as_object().unwrap() {
        for (class, count) in numbers["outcomes"].as_object().unwrap() {
            let series = format!(",step=\"{step}\",outcome=\"{class}\"");
            assert_eq!(
                m("surge_requests_total", &series),
                count.as_f64().unwrap(),
                "{step} {class}"
            );
        }
        let series = format!(",step=\"{step}\"");
        assert_eq!(
            m("surge_request_failures_total", &series),
            numbers["failures"].as_f64().unwrap()
        );
        assert_eq!(
            m("surge_step_latency_seconds_count", &series),
            numbers["requests"].as_f64().unwrap(),
            "{step}: one latency per request"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_started_after_its_shared_start_counts_the_visits_already_due_as_late() {
    let dir = temp_dir("late-start");
    let scenario = crate::util::tolerant_smoke(&dir);
    // The whole 5-s schedule was due before the process started: every visit starts late.
    let at = rfc3339_from_now(-60);
    let run_dir = dir.join("run");
    let out = surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--start-at",
        &at,
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), Some(3), "{}", stderr(&out));
    let s = summary(&run_dir);
    assert_eq!(s["visits"]["started"], 300);
    assert_eq!(s["visits"]["late"], 300, "{}", s["visits"]);
    assert!(s["visits"]["lateness_p99_ms"].as_f64().unwrap() > 50_000.0);
    assert_eq!(s["generator"]["valid"], false);
    let reason = s["generator"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("after its --start-at"),
        "the late start is blamed, not the machine: {reason}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_shard_replays_its_own_visits_of_a_window() {
    let dir = temp_dir("replay");
    let scenario = tolerant_smoke(&dir);
    let exchange = ExchangeProcess::start(&[]);
    let shard = dir.join("shard-1");
    let out = finish(start_run(
        &scenario,
        &exchange.url,
        &shard,
        &["--shard", "1/2"],
    ));
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    // Without --target the replay is one process against the embedded exchange: no shard to share.
    let replay = dir.join("replay");
    let out = surge(&[
        "replay",
        shard.to_str().unwrap(),
        "--from",
        "00:00:01",
        "--to",
        "00:00:04",
        "--quiet",
        "--out",
        replay.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let planned = summary(&replay)["visits"]["planned"].as_u64().unwrap();
    assert!(
        (30..150).contains(&planned),
        "shard 1/2's visits of 3 s of 5: {planned}"
    );
    let enrollments = std::fs::read_to_string(replay.join("enrollments.csv")).unwrap();
    let ids: Vec<u64> = enrollments
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|id| id % 2 == 1),
        "only shard 1's visits: {ids:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
