//! Level: the library's parsers and readers, fed what a user (or a damaged disk) may give them.
//! No input panics: arbitrary text — and valid files with a few of their characters replaced by
//! the values that break parsers (huge numbers, negatives, NaN, quotes, brackets, templates) — given
//! to the duration, clock and rate parsers, the threshold rules, the scenario and journey files and
//! every reader of a run directory ends in `Ok` or an error naming the file (and the line, where
//! the file has lines), never a panic. Bounded so the whole suite takes seconds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::{select, Index};

use surge::gate::rule;
use surge::journey_file;
use surge::rundir::{self, enrollments, exemplars, failures, hlog, timeline, Summary};
use surge::scenario::{Scenario, Source};
use surge::units;

/// Cases per property: enough to find the slips of a parser, few enough to run in seconds
/// (`PROPTEST_CASES=20000` for a longer hunt).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Pieces that break parsers: numbers out of every range, signs, NaN, unbalanced quotes and
/// brackets, templates, units, clock times, separators, multi-byte characters.
const TRICKY: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e20",
    "1e400",
    "1e-300",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "18446744073709551616",
    "9223372036854775808",
    "99999999999999999999999999",
    "0.0000001",
    "1e20s",
    "0s",
    "8761h",
    "1e30us",
    "-5us",
    "ms",
    "us",
    "h",
    "\"",
    "'",
    "\"\"\"",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "{{",
    "}}",
    "{%",
    "%}",
    "${env:",
    "${env:HOME}",
    "=",
    "\n",
    "\r\n",
    ",",
    ".",
    ":",
    "/",
    "%",
    "<",
    ">=",
    "(",
    ")",
    "\\",
    "\u{0}",
    "é",
    "🙂",
    "24:00",
    "99:99",
    "25:00:00",
    "p0",
    "p100",
    "p1e9",
    "visit",
    "all",
    "in every",
    "abort after",
    "true",
    "[]",
    "{}",
    "#",
    "times = 0",
    "times = 2.5",
    "repeat",
    "stage",
    "expect = 0",
    "expect = 99999",
];

/// `seed` with a few edits: at some character, some characters replaced by a tricky piece or by
/// arbitrary text.
fn mutated(seed: &'static str) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => select(TRICKY).prop_map(String::from),
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ];
    prop::collection::vec((any::<Index>(), 0usize..6, piece), 1..5).prop_map(move |edits| {
        let mut chars: Vec<char> = seed.chars().collect();
        for (at, cut, piece) in edits {
            let start = at.index(chars.len() + 1);
            let end = (start + cut).min(chars.len());
            chars.splice(start..end, piece.chars());
        }
        chars.into_iter().collect()
    })
}

/// Text of any kind: arbitrary, or made of tricky pieces.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(select(TRICKY), 0..8).prop_map(|pieces| pieces.concat()),
    ]
}

/// A 1-based line and column that lie in `text`.
fn within(text: &str, location: Option<(usize, usize)>) -> bool {
    location
        .is_none_or(|(line, column)| line >= 1 && line <= text.split('\n').count() && column >= 1)
}

const SCENARIO: &str = "name = \"p\"\nthresholds = [\"p95(browse) < 800ms\", \"error_rate < 1%\"]\n\
[traffic]\nvisits = 30\nstages = [{ duration = \"10s\", rate = 5 }, { duration = \"1m\", rate = 2 }]\n\
time_scale = 2.0\npool = 10\nseed = 7\nlate_after = \"100ms\"\npatience = \"5m\"\n\
max_duration = \"10m\"\n[traffic.mix]\nbrowse = 1\n[traffic.think_time]\nmin_ms = 10\nmax_ms = 20\n\
[households]\nincome = [1000, 2000]\nsize = [1, 3]\ntobacco_share = 0.2\nmax_pages = 2\n\
zips = [\"27601\"]\n[http]\ntimeout = \"5s\"\nmax_connections = 100\nallowed_hosts = [\"pay.example\"]\n\
[exchange]\nservice_time = \"5ms\"\n";

const PROFILE: &str =
    "[traffic]\nprofile = [{ at = \"08:00\", rate = 1 }, { at = \"09:30:15\", rate = 4 }]\n\
span = \"1h\"\n[traffic.mix]\nbrowse = 1\n";

const RULES: &[&str] = &[
    "p95(browse) < 800ms",
    "p99(visit) < 2s in every 1m abort after 30s",
    "max(eligibility) <= 1500us",
    "error_rate(eligibility) < 1%",
    "conversion(paid/redirected) >= 95%",
    "late_arrivals < 0.5%",
    "p50 < 250",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn units_parse_anything_to_a_value_or_an_error(text in any_text()) {
        if let Ok(duration) = units::parse_duration(&text) {
            prop_assert!(duration <= units::MAX_DURATION, "{text}: {duration:?}");
        }
        if let Ok(seconds) = units::parse_clock(&text) {
            prop_assert!((0.0..=86_400.0).contains(&seconds));
        }
        if let Ok(rate) = units::parse_percent(&text) {
            prop_assert!(rate.is_finite() && rate >= 0.0);
        }
        if let Ok(n) = units::parse_positive(&text) {
            prop_assert!(n.is_finite() && n > 0.0);
        }
    }

    #[test]
    fn a_duration_of_any_number_and_unit_is_a_duration_or_an_error(
        number in prop_oneof![any::<f64>().prop_map(|n| n.to_string()), select(TRICKY).prop_map(String::from)],
        unit in select(&["ms", "s", "m", "h", "us", "", " s"][..]),
    ) {
        let text = format!("{number}{unit}");
        if let Ok(duration) = units::parse_duration(&text) {
            prop_assert!(duration <= units::MAX_DURATION, "{text}");
        }
        let _ = rule::parse(&format!("p95(browse) < {text}"));
    }

    #[test]
    fn a_threshold_rule_parses_or_is_refused_naming_itself(
        text in prop_oneof![
            any_text(),
            select(RULES).prop_flat_map(mutated),
        ]
    ) {
        match rule::parse(&text) {
            Ok(parsed) => {
                let _ = (parsed.limit_text(), parsed.check_step(&["browse", "eligibility"]));
            }
            Err(e) => {
                prop_assert_eq!(e.rule.as_str(), text.trim());
                prop_assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn a_scenario_file_loads_or_is_refused_at_a_place_in_it(
        text in prop_oneof![any_text(), mutated(SCENARIO), mutated(PROFILE)]
    ) {
        let path = Path::new("scenarios/p.toml");
        match Scenario::parse(path, &text) {
            Ok(scenario) => {
                let _ = scenario.traffic.curve_points();
            }
            Err(e) => {
                prop_assert_eq!(e.path.as_path(), path);
                prop_assert!(!e.message.is_empty());
                prop_assert!(within(&text, e.location), "{e}");
            }
        }
    }

    #[test]
    fn a_journey_file_compiles_or_is_refused_at_a_place_in_it(
        text in prop_oneof![1 => any_text(), 4 => mutated(journey_file::EMBEDDED)]
    ) {
        let path = PathBuf::from("journeys/p.toml");
        let source = Source { path: path.clone(), text: text.clone() };
        if let Err(e) = journey_file::compile(&source, scenario()) {
            prop_assert!(!e.message.is_empty());
            if e.path == path {
                prop_assert!(within(&text, e.location), "{e}");
            }
        }
    }
}

fn scenario() -> &'static Scenario {
    static SCENARIO: std::sync::OnceLock<Scenario> = std::sync::OnceLock::new();
    SCENARIO.get_or_init(|| {
        Scenario::parse(
            Path::new("scenarios/p.toml"),
            "[traffic]\nvisits = 10\nspan = \"10s\"\n",
        )
        .unwrap()
    })
}

// --- The run directory's readers -------------------------------------------------------------

/// A fresh directory for one case.
fn case_dir() -> PathBuf {
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "surge-props-{}-{}",
        std::process::id(),
        CASE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const STEPS: [&str; 2] = ["browse", "pay"];

/// A run's `timeline.csv` and `latency.hlog` as surge writes them: three intervals.
fn written_intervals() -> &'static (String, String) {
    static WRITTEN: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    WRITTEN.get_or_init(|| {
        let dir = case_dir();
        let steps: Vec<String> = STEPS.iter().map(|s| s.to_string()).collect();
        let mut writer =
            timeline::TimelineWriter::create(&dir.join(timeline::FILE_NAME), &steps).unwrap();
        let mut log = Vec::new();
        let mut serializer = hdrhistogram::serialization::V2DeflateSerializer::new();
        {
            let mut hlog =
                hlog::begin(&mut log, &mut serializer, "p", std::time::UNIX_EPOCH).unwrap();
            let mut histogram = surge::histogram::new_histogram();
            for k in 0..3u64 {
                histogram.record(1_000 * (k + 1)).unwrap();
                let tagged = STEPS
                    .iter()
                    .chain(&[hlog::VISIT_TAG])
                    .map(|t| (*t, &histogram));
                hlog::write_interval(
                    &mut hlog,
                    tagged,
                    std::time::Duration::from_secs(k),
                    std::time::Duration::from_secs(1),
                )
                .unwrap();
                let row = timeline::Row {
                    elapsed_s: (k + 1) as f64,
                    clock: format!("00:00:0{}", k + 1),
                    requests: 1,
                    steps: STEPS
                        .iter()
                        .map(|s| timeline::StepCount {
                            step: s.to_string(),
                            requests: 1,
                            failures: 0,
                        })
                        .collect(),
                    ..Default::default()
                };
                writer.write(&row).unwrap();
            }
        }
        drop(writer);
        let timeline = std::fs::read_to_string(dir.join(timeline::FILE_NAME)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        (timeline, String::from_utf8(log).unwrap())
    })
}

const ENROLLMENTS: &str = "visit,issuer_id,issuer_name,payment_transaction_id,pay_now,reached_payment,paid,confirmed\n\
1,11512,\"Tar Heel, Mutual\",0000000000001,true,true,false,\n3,22444,Blue,0000000000003,true,true,true,effectuated\n";

const FAILURES: &str =
    "visit,clock,step,reason\n7,09:40:00,pay,\"pay: status 500, twice\"\n9,,browse,timeout\n";

const EXEMPLARS: &str = "{\"visit\":1,\"step\":\"browse\"}\n\n{\"visit\":2}\n";

const SUMMARY: &str =
    "{\"format_version\": 2, \"surge_version\": \"0.1.0\", \"scenario\": \"p\", \"seed\": 1,\
 \"steps\": {\"browse\": {\"requests\": 3, \"failures\": 1}}, \"step_order\": [\"browse\"],\
 \"interval_s\": 1.0, \"visits\": {\"planned\": 3}}\n";

/// Read every file of a run directory the way the commands do; none may panic.
fn read_everything(dir: &Path) {
    let _ = timeline::read(&dir.join(timeline::FILE_NAME), &STEPS);
    let _ = rundir::for_each_interval(dir, &STEPS, |interval| {
        let _ = interval.latencies.len();
    });
    let _ = enrollments::read(&dir.join(enrollments::FILE_NAME));
    let _ = failures::read(&dir.join(failures::FILE_NAME));
    let _ = exemplars::read(dir);
    if let Ok(summary) = Summary::read(dir) {
        let _ = surge::measure::summarize::snapshot_of(&summary);
    }
}

/// An error reading `file` names it.
fn names(error: &impl std::fmt::Display, file: &str) -> bool {
    error.to_string().contains(file)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_damaged_timeline_and_interval_log_read_or_are_refused_naming_the_file(
        timeline_edits in prop::option::of(prop::collection::vec((any::<Index>(), 0usize..6, select(TRICKY)), 1..4)),
        hlog_edits in prop::option::of(prop::collection::vec((any::<Index>(), 0usize..6, select(TRICKY)), 1..4)),
    ) {
        let (timeline_text, hlog_text) = written_intervals();
        let edit = |text: &str, edits: &Option<Vec<(Index, usize, &str)>>| {
            let mut chars: Vec<char> = text.chars().collect();
            for (at, cut, piece) in edits.iter().flatten() {
                let start = at.index(chars.len() + 1);
                let end = (start + cut).min(chars.len());
                chars.splice(start..end, piece.chars());
            }
            chars.into_iter().collect::<String>()
        };
        let dir = case_dir();
        std::fs::write(dir.join(timeline::FILE_NAME), edit(timeline_text, &timeline_edits)).unwrap();
        std::fs::write(dir.join(hlog::FILE_NAME), edit(hlog_text, &hlog_edits)).unwrap();
        if let Err(e) = timeline::read(&dir.join(timeline::FILE_NAME), &STEPS) {
            prop_assert!(names(&e, timeline::FILE_NAME), "{e}");
        }
        match rundir::for_each_interval(&dir, &STEPS, |_| {}) {
            Ok(count) => prop_assert!(count <= 3 || hlog_edits.is_some()),
            Err(e) => prop_assert!(
                names(&e, timeline::FILE_NAME) || names(&e, hlog::FILE_NAME),
                "{e}"
            ),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_file_of_a_run_directory_is_read_or_refused_naming_it(
        enrollments_text in prop_oneof![any_text(), mutated(ENROLLMENTS)],
        failures_text in prop_oneof![any_text(), mutated(FAILURES)],
        exemplars_text in prop_oneof![any_text(), mutated(EXEMPLARS)],
        summary_text in prop_oneof![any_text(), mutated(SUMMARY)],
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let dir = case_dir();
        let files = [
            (enrollments::FILE_NAME, enrollments_text.into_bytes()),
            (failures::FILE_NAME, failures_text.into_bytes()),
            (exemplars::FILE_NAME, exemplars_text.into_bytes()),
            (rundir::summary::FILE_NAME, summary_text.into_bytes()),
            (timeline::FILE_NAME, bytes.clone()),
            (hlog::FILE_NAME, bytes),
        ];
        for (name, content) in &files {
            std::fs::write(dir.join(name), content).unwrap();
        }
        read_everything(&dir);
        if let Err(e) = enrollments::read(&dir.join(enrollments::FILE_NAME)) {
            prop_assert!(names(&e, enrollments::FILE_NAME), "{e}");
        }
        if let Err(e) = failures::read(&dir.join(failures::FILE_NAME)) {
            prop_assert!(names(&e, failures::FILE_NAME), "{e}");
        }
        if let Err(e) = exemplars::read(&dir) {
            prop_assert!(names(&e, exemplars::FILE_NAME), "{e}");
        }
        if let Err(e) = Summary::read(&dir) {
            prop_assert!(names(&e, rundir::summary::FILE_NAME), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

proptest! {
    // A damaged header may claim the widest range: each case then allocates tens of MB, so this
    // property runs a quarter of the cases.
    #![proptest_config(ProptestConfig { cases: config().cases / 4, ..config() })]
    #[test]
    fn a_damaged_histogram_in_the_interval_log_is_refused_naming_the_log(
        edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..6),
        deflated in any::<bool>(),
    ) {
        // A histogram's own bytes damaged (a header claiming any length or range), re-encoded.
        let mut histogram = surge::histogram::new_histogram();
        histogram.record(1_500).unwrap();
        use hdrhistogram::serialization::Serializer as _;
        let mut bytes = Vec::new();
        if deflated {
            hdrhistogram::serialization::V2DeflateSerializer::new()
                .serialize(&histogram, &mut bytes)
                .unwrap();
        } else {
            hdrhistogram::serialization::V2Serializer::new()
                .serialize(&histogram, &mut bytes)
                .unwrap();
        }
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let (timeline_text, _) = written_intervals();
        let dir = case_dir();
        std::fs::write(dir.join(timeline::FILE_NAME), timeline_text).unwrap();
        let log = format!("#[StartTime: 0.000 (seconds since epoch)]\n\
                           Tag=browse,0.000,1.000,1.500,{encoded}\n");
        std::fs::write(dir.join(hlog::FILE_NAME), log).unwrap();
        if let Err(e) = rundir::for_each_interval(&dir, &STEPS, |_| {}) {
            prop_assert!(names(&e, hlog::FILE_NAME), "{e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
