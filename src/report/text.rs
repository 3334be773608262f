//! The tables printed at the end of a run: visits and the generator, steps, the funnel, the cracks,
//! the thresholds and the failures.

use std::fmt::Write as _;

use super::tables::{cracked_classes, funnel, steps, two_meanings};
use crate::rundir::summary::Summary;

/// The tables printed at the end of a run.
pub fn tables(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "surge: {} against {} — {} ({:.1} s, seed {})",
        summary.scenario, summary.target, summary.ending, summary.duration_s, summary.seed
    );
    let _ = writeln!(
        out,
        "visits: {} planned, {} started, {} completed, {} late (lateness p99 {:.1} ms)",
        summary.visits.planned,
        summary.visits.started,
        summary.visits.completed,
        summary.visits.late,
        summary.visits.lateness_p99_ms
    );
    if let Some(error) = &summary.run_error {
        let _ = writeln!(out, "run error: {error}");
    }
    if summary.generator.valid {
        let _ = writeln!(out, "generator: valid\n");
    } else {
        let _ = writeln!(out, "generator: NOT VALID — {}\n", summary.generator.reason);
    }
    let _ = writeln!(
        out,
        "{:<12} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "step", "requests", "failures", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for (name, s) in steps(summary) {
        let _ = writeln!(
            out,
            "{:<12} {:>9} {:>9} {:>7.2}% {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            name,
            s.requests,
            s.failures,
            s.error_rate * 100.0,
            s.p50_ms,
            s.p95_ms,
            s.p99_ms,
            s.max_ms
        );
    }
    let v = &summary.visit_latency;
    let _ = writeln!(
        out,
        "{:<12} {:>9} {:>9} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        "(visit)", v.count, "", "", v.p50_ms, v.p95_ms, v.p99_ms, v.max_ms
    );

    let w = &summary.waiting_room;
    if w.waits > 0 {
        let _ = writeln!(
            out,
            "(waiting)    {:>9} waits in the waiting room, {} gave up; wait p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
            w.waits, w.gave_up, w.wait_p50_ms, w.wait_p95_ms, w.wait_max_ms
        );
    }

    let _ = writeln!(out, "\nfunnel");
    for row in funnel(summary) {
        let conversion = match row.tried {
            None => String::new(),
            Some(0) => "  (no visit tried it)".to_string(),
            Some(tried) => format!(
                "{:>6.1}% of {tried} who tried",
                100.0 * row.count as f64 / tried as f64
            ),
        };
        let _ = writeln!(out, "  {:<12} {:>9}  {}", row.stage, row.count, conversion);
    }

    let cracked = cracked_classes(summary);
    let cracks = &summary.cracks;
    if !cracks.insurers.is_empty() {
        match cracks.unreconciled() {
            None => {
                let source = cracks
                    .source
                    .clone()
                    .unwrap_or_else(|| "the insurers' 834 inboxes".to_string());
                let _ = writeln!(out, "\ncracks (reconciled with {source})");
            }
            Some(why) => {
                let _ = writeln!(
                    out,
                    "\ncracks: NOT reconciled with the insurers — {why}; only what the harness \
                     saw itself is counted (never_redirected, broken_redirect)"
                );
            }
        }
        if let Some(problem) = cracks.mismatch() {
            let _ = writeln!(out, "  ids did not match: {problem}");
        }
        if cracked.is_empty() {
            let none = match (cracks.insurer_records, cracks.mismatch()) {
                (true, None) => {
                    "none: every applicant who selected a plan is accounted for by \
                                 the insurers' records"
                }
                _ => "none seen by the harness itself",
            };
            let _ = writeln!(out, "  {none}");
        } else {
            let _ = writeln!(
                out,
                "  {} of {} applicants who selected a plan fell through (fell: each once; \
                 an applicant can be in several classes)",
                cracks.fell_through(),
                cracks.applications()
            );
            // With the records: covered (834 + payment); without: what the insurers' API said.
            let covered = match cracks.insurer_records {
                true => "covered",
                false => "active",
            };
            let _ = write!(
                out,
                "  {:<28} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6}",
                "insurer", "apps", "paynow", "redir", "paid", covered, "fell"
            );
            for class in &cracked {
                let _ = write!(out, " {class:>18}");
            }
            let _ = writeln!(out);
            for (id, i) in &cracks.insurers {
                let name: String = format!("{id} {}", i.name).chars().take(28).collect();
                let _ = write!(
                    out,
                    "  {name:<28} {:>6} {:>6} {:>6} {:>6} {:>7} {:>6}",
                    i.applications, i.pay_now, i.redirected, i.paid, i.effectuated, i.fell_through
                );
                for class in &cracked {
                    let _ = write!(out, " {:>18}", i.classes.get(*class).copied().unwrap_or(0));
                }
                let _ = writeln!(out);
            }
        }
        if let Some(gap) = two_meanings(summary) {
            let _ = writeln!(out, "  {gap}");
        }
        for warning in &cracks.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
    }

    if !summary.thresholds.is_empty() {
        let _ = writeln!(out, "\nthresholds");
        for v in &summary.thresholds {
            let mark = if v.pass { "pass" } else { "FAIL" };
            let _ = writeln!(
                out,
                "  {mark}  {:<40} limit {:<12} observed {}",
                v.name, v.limit, v.observed_text
            );
        }
    }

    if !summary.failures.is_empty() {
        let _ = writeln!(out, "\nfailures");
        for row in &summary.failures {
            let _ = writeln!(
                out,
                "  {:>7}  {:<12} {}  (e.g. visits {:?})",
                row.count, row.step, row.reason, row.example_visits
            );
        }
    }
    out
}
