//! Verdicts written for CI: `junit.xml` (one test case per rule, per baseline comparison, and for
//! the generator's validity) and `gate.md` (Markdown for a pull request or a CI step summary).

use std::fmt::Write as _;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::GateOutcome;

/// One JUnit test case.
struct Case {
    class: &'static str,
    name: String,
    failure: Option<String>,
}

fn cases(outcome: &GateOutcome) -> Vec<Case> {
    // A run that reached nobody fails its own case first.
    let mut cases: Vec<Case> = outcome
        .run_error
        .iter()
        .map(|error| Case {
            class: "surge.run",
            name: "the run was carried out".into(),
            failure: Some(error.clone()),
        })
        .collect();
    cases.push(Case {
        class: "surge.generator",
        name: "generator delivered the planned load".into(),
        failure: (!outcome.generator_valid).then(|| outcome.generator_reason.clone()),
    });
    for verdict in &outcome.verdicts {
        cases.push(Case {
            class: "surge.thresholds",
            name: verdict.name.clone(),
            failure: (!verdict.pass).then(|| {
                format!(
                    "observed {}, limit {}",
                    verdict.observed_text, verdict.limit
                )
            }),
        });
    }
    for comparison in &outcome.comparisons {
        cases.push(Case {
            class: "surge.baseline",
            name: format!("{} vs baseline", comparison.name),
            failure: (!comparison.pass).then(|| {
                format!(
                    "worse than the baseline beyond tolerance: {}",
                    comparison.describe()
                )
            }),
        });
    }
    cases
}

/// The JUnit XML report.
pub fn junit(outcome: &GateOutcome, suite: &str) -> String {
    let cases = cases(outcome);
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail.
    let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let tests = cases.len().to_string();
    let failed = failures.to_string();
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("name", "surge"));
    suites.push_attribute(("tests", tests.as_str()));
    suites.push_attribute(("failures", failed.as_str()));
    let _ = writer.write_event(Event::Start(suites));
    let mut suite_start = BytesStart::new("testsuite");
    suite_start.push_attribute(("name", suite));
    suite_start.push_attribute(("tests", tests.as_str()));
    suite_start.push_attribute(("failures", failed.as_str()));
    suite_start.push_attribute(("errors", "0"));
    let _ = writer.write_event(Event::Start(suite_start));
    for case in &cases {
        let mut start = BytesStart::new("testcase");
        start.push_attribute(("classname", case.class));
        start.push_attribute(("name", case.name.as_str()));
        start.push_attribute(("time", "0"));
        match &case.failure {
            None => {
                let _ = writer.write_event(Event::Empty(start));
            }
            Some(message) => {
                let _ = writer.write_event(Event::Start(start));
                let mut failure = BytesStart::new("failure");
                failure.push_attribute(("message", message.as_str()));
                failure.push_attribute(("type", "threshold"));
                let _ = writer.write_event(Event::Start(failure));
                let _ = writer.write_event(Event::Text(BytesText::new(message)));
                let _ = writer.write_event(Event::End(BytesEnd::new("failure")));
                let _ = writer.write_event(Event::End(BytesEnd::new("testcase")));
            }
        }
    }
    let _ = writer.write_event(Event::End(BytesEnd::new("testsuite")));
    let _ = writer.write_event(Event::End(BytesEnd::new("testsuites")));
    String::from_utf8_lossy(&writer.into_inner()).into_owned() + "\n"
}

/// The Markdown report.
pub fn markdown(outcome: &GateOutcome, run: &str) -> String {
    let mut out = String::new();
    let verdict = if outcome.passed() { "PASSED" } else { "FAILED" };
    let _ = writeln!(out, "## surge gate: {verdict}\n");
    let _ = writeln!(out, "Run `{run}`.\n");
    if let Some(error) = &outcome.run_error {
        let _ = writeln!(out, "- ❌ run error: {error}");
    }
    if outcome.generator_valid {
        let _ = writeln!(out, "- ✅ generator delivered the planned load");
    } else {
        let _ = writeln!(
            out,
            "- ❌ generator not valid: {}",
            outcome.generator_reason
        );
    }
    let failed_rules = outcome.verdicts.iter().filter(|v| !v.pass).count();
    let _ = writeln!(
        out,
        "- {} threshold(s), {failed_rules} failed",
        outcome.verdicts.len()
    );
    if !outcome.comparisons.is_empty() {
        let failed = outcome.comparisons.iter().filter(|c| !c.pass).count();
        let _ = writeln!(
            out,
            "- {} baseline comparison(s), {failed} failed",
            outcome.comparisons.len()
        );
    }
    if !outcome.verdicts.is_empty() {
        let _ = writeln!(
            out,
            "\n| | threshold | limit | observed |\n|---|---|---|---|"
        );
        for v in &outcome.verdicts {
            let mark = if v.pass { "✅" } else { "❌" };
            let _ = writeln!(
                out,
                "| {mark} | `{}` | {} | {} |",
                v.name.replace('|', "\\|"),
                v.limit,
                v.observed_text
            );
        }
    }
    if !outcome.comparisons.is_empty() {
        let _ = writeln!(
            out,
            "\n| | compared with baseline | baseline → now |\n|---|---|---|"
        );
        // Failures first: they are what a reviewer needs to see.
        let mut rows: Vec<_> = outcome.comparisons.iter().collect();
        rows.sort_by_key(|c| c.pass);
        for c in rows {
            let mark = if c.pass { "✅" } else { "❌" };
            let _ = writeln!(out, "| {mark} | `{}` | {} |", c.name, c.describe());
        }
    }
    out
}
