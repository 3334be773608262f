//! Level: the `surge` binary run end to end, as a user or CI runs it.
//! The report as a reader meets it: five charts as valid SVG and PNG of the expected size with
//! the expected series, an index.html that needs no network, a summary.md, and `surge report`
//! drawing the same again from the run directory alone.

use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::util::{surge, tolerant_smoke};
use surge::rundir::summary::FORMAT_VERSION;

fn recorded_run(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let scenario = tolerant_smoke(&dir.with_extension("in"));
    let out = surge(&[
        "run",
        scenario.to_str().unwrap(),
        "--visits",
        "150",
        "--quiet",
        "--threshold",
        "error_rate < 1%",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The text of an SVG's elements, checking on the way that it is well-formed XML.
fn svg_texts(path: &Path) -> Vec<String> {
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = Reader::from_str(&xml);
    let mut texts = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if root.is_none() => {
                root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            Ok(Event::Text(t)) => texts.push(t.decode().unwrap().into_owned()),
            // `&lt;` and friends come as their own events: put the character back in its text.
            Ok(Event::GeneralRef(r)) => {
                let name: &[u8] = r.as_ref();
                let c = match name {
                    b"lt" => "<",
                    b"gt" => ">",
                    b"amp" => "&",
                    _ => "?",
                };
                match texts.last_mut() {
                    Some(last) => last.push_str(c),
                    None => texts.push(c.to_string()),
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("{} is not well-formed: {e}", path.display()),
        }
    }
    assert_eq!(root.as_deref(), Some("svg"), "{}", path.display());
    texts
}

fn png_size(path: &Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn every_chart_is_drawn_with_its_series_and_the_pages_stand_alone() {
    let dir = recorded_run("charts");
    let charts = dir.join("charts");
    for (name, size, series) in [
        (
            "latency-percentiles",
            (1200, 700),
            &["browse", "eligibility", "confirm", "visit", "percentile"][..],
        ),
        (
            "latency-over-time",
            (1400, 900),
            &["browse", "pay", "p50", "p95", "p99", "arrivals/s"][..],
        ),
        (
            "throughput-errors",
            (1200, 700),
            &[
                "success",
                "5xx",
                "timeout",
                "error rate (%)",
                "limit: error_rate < 1%",
            ][..],
        ),
        (
            "arrivals",
            (1200, 700),
            &["intended", "started", "visits per second (wall time)"][..],
        ),
        (
            "funnel",
            (1200, 900),
            &[
                "visits",
                "effectuated",
                "per insurer, from plan selection on (the twelve busiest)",
            ][..],
        ),
    ] {
        let texts = svg_texts(&charts.join(format!("{name}.svg")));
        // Axes read as people write: counts without ".0".
        for label in &texts {
            let whole = label.trim().strip_suffix(".0");
            assert!(
                !whole.is_some_and(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit())),
                "{name}.svg labels a count `{label}`"
            );
        }
        let text = texts.concat();
        for wanted in series {
            assert!(
                text.contains(wanted),
                "{name}.svg has no `{wanted}`: {text}"
            );
        }
        assert_eq!(
            png_size(&charts.join(format!("{name}.png"))),
            size,
            "{name}.png"
        );
    }

    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_eq!(
        html.matches("<div class=\"chart\"><svg").count(),
        5,
        "all five charts inline"
    );
    for forbidden in [
        "<script",
        "<link",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(http",
    ] {
        assert!(
            !html.contains(forbidden),
            "index.html reaches outside: {forbidden}"
        );
    }
    assert!(
        html.contains("COMPLETED") || html.contains("PASSED"),
        "headline verdict"
    );
    assert!(html.contains("error_rate &lt; 1%"), "thresholds table");

    let markdown = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(markdown.contains("**PASSED"), "{markdown}");
    assert!(
        markdown.contains("charts/funnel.svg") && markdown.contains("| effectuated |"),
        "{markdown}"
    );
}

#[test]
fn surge_report_draws_the_same_from_the_saved_files() {
    let dir = recorded_run("again");
    let first = std::fs::read_to_string(dir.join("charts/latency-over-time.svg")).unwrap();
    std::fs::remove_dir_all(dir.join("charts")).unwrap();
    std::fs::remove_file(dir.join("index.html")).unwrap();

    let out = surge(&["report", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("charts/latency-over-time.svg")).unwrap(),
        first
    );
    assert!(dir.join("index.html").exists() && dir.join("charts/funnel.png").exists());
}

#[test]
fn a_run_from_an_older_version_is_refused_with_a_message() {
    let dir = recorded_run("old");
    let summary = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    std::fs::write(
        dir.join("summary.json"),
        summary.replace(
            &format!("\"format_version\": {FORMAT_VERSION}"),
            "\"format_version\": 0",
        ),
    )
    .unwrap();
    let out = surge(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("summary format 0")
            && stderr.contains(&format!("reads format {FORMAT_VERSION}")),
        "{stderr}"
    );

    // A timeline from before the per-step columns is refused naming the column, not misread.
    std::fs::write(dir.join("summary.json"), &summary).unwrap();
    let timeline = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    std::fs::write(
        dir.join("timeline.csv"),
        timeline.replace("browse_requests", "old_column"),
    )
    .unwrap();
    let out = surge(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column `browse_requests`"));

    // What is not a run directory is named as such, by report and gate alike.
    let not_runs = [
        (
            dir.join("summary.json"),
            "is a file; give the run directory",
        ),
        (dir.join("charts"), "not a run directory"),
    ];
    for (path, wanted) in not_runs {
        for command in ["report", "gate"] {
            let out = surge(&[command, path.to_str().unwrap()]);
            assert_eq!(out.status.code(), Some(2), "{command}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(wanted), "{command}: {stderr}");
        }
    }
}

/// The browser the page test opens: `SURGE_CHROMIUM`, else Debian's `chromium`.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("SURGE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.exists().then_some(path)
}

#[test]
fn index_html_fits_a_1400_px_browser_window_and_draws_its_own_marks() {
    let Some(browser) = chromium() else {
        // Skipped only when asked: a missing browser must not pass for a page that fits.
        assert!(
            std::env::var_os("SURGE_SKIP_BROWSER_TESTS").is_some(),
            "this test opens index.html in headless Chromium: `apt-get install chromium` \
             (or SURGE_CHROMIUM=PATH), or set SURGE_SKIP_BROWSER_TESTS=1 to skip it"
        );
        return;
    };
    let dir = recorded_run("browser");
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        !page.contains('✅') && !page.contains('❌'),
        "pass/fail marks need no emoji font"
    );
    assert!(
        page.contains("aria-label=\"pass\""),
        "the threshold's mark is drawn"
    );
    // The page with a probe that writes, once laid out, how wide it is against the window.
    let probe = "<script>addEventListener('load',()=>{const d=document.documentElement;\
        document.body.dataset.overflow=d.scrollWidth-d.clientWidth;});</script></body>";
    let probed = dir.join("probe.html");
    std::fs::write(&probed, page.replace("</body>", probe)).unwrap();
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,900",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", dir.join("browser").display()))
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let overflow: i64 = dom
        .split("data-overflow=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "the page was not laid out: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        overflow <= 0,
        "index.html is {overflow} px wider than a 1400 px window: it scrolls sideways"
    );
}
