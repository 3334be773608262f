//! `summary.md`: the headline, the tables and the chart file names, short enough for a pull request.

use std::fmt::Write as _;

use super::charts;
use super::tables::{
    cracked_classes, funnel, headline, knee_line, replay_headline, share, spikes, steps,
    two_meanings,
};
use crate::rundir::exemplars::Exemplar;
use crate::rundir::summary::Summary;
use crate::rundir::CHARTS_DIR;

pub fn page(summary: &Summary, spike_examples: &[Vec<Exemplar>]) -> String {
    let s = summary;
    let mut out = String::new();
    let _ = writeln!(out, "## surge: {}\n", s.scenario);
    let _ = writeln!(out, "**{}**\n", headline(s));
    let _ =
        writeln!(
        out,
        "Seed {} · {}× · {} visits against `{}` · {:.0} s · lateness p99 {:.1} ms · generator {}\n",
        s.seed,
        s.time_scale,
        s.visits.planned,
        s.target,
        s.duration_s,
        s.visits.lateness_p99_ms,
        if s.generator.valid { "valid" } else { "NOT valid" }
    );
    if let Some(line) = knee_line(s) {
        let _ = writeln!(out, "{line}\n");
    }
    if !s.thresholds.is_empty() {
        let _ = writeln!(out, "| | threshold | limit | observed |\n|---|---|---|---|");
        for t in &s.thresholds {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                if t.pass { "✅" } else { "❌" },
                t.name.replace('|', "\\|"),
                t.limit,
                t.observed_text
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "| step | requests | errors | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|");
    for (name, st) in steps(s) {
        let _ = writeln!(
            out,
            "| {name} | {} | {:.2}% | {:.1} | {:.1} | {:.1} | {:.1} |",
            st.requests,
            st.error_rate * 100.0,
            st.p50_ms,
            st.p95_ms,
            st.p99_ms,
            st.max_ms
        );
    }
    let _ = writeln!(
        out,
        "\n| funnel | visits | tried | conversion |\n|---|---:|---:|---:|"
    );
    for row in funnel(s) {
        let tried = row.tried.map_or(String::new(), |t| t.to_string());
        let conversion = row.tried.map_or(String::new(), |t| share(row.count, t));
        let _ = writeln!(
            out,
            "| {} | {} | {tried} | {conversion} |",
            row.stage, row.count
        );
    }
    let cracked = cracked_classes(s);
    let cracks = &s.cracks;
    if !cracks.insurers.is_empty() {
        if let Some(why) = cracks.unreconciled() {
            let _ = writeln!(
                out,
                "\n**Cracks not reconciled with the insurers**: {why}. Only what the harness saw \
                 itself is counted (never redirected, broken redirect)."
            );
        }
        if let Some(problem) = cracks.mismatch() {
            let _ = writeln!(out, "\n**Ids did not match**: {problem}.");
        }
    }
    if !cracked.is_empty() {
        // With the records, what they hold; without, what the insurers' API said.
        let covered = match cracks.insurer_records {
            true => "covered (834 + payment)",
            false => "active at the insurer",
        };
        let _ = write!(
            out,
            "\n| insurer | applications | redirected | paid | {covered} | fell through |"
        );
        for class in &cracked {
            let _ = write!(out, " {} |", class.replace('_', " "));
        }
        let _ = write!(out, "\n|---|---:|---:|---:|---:|---:|");
        for _ in &cracked {
            let _ = write!(out, "---:|");
        }
        let _ = writeln!(out);
        for (id, i) in &cracks.insurers {
            let _ = write!(
                out,
                "| {id} {} | {} | {} | {} | {} | {} |",
                i.name, i.applications, i.redirected, i.paid, i.effectuated, i.fell_through
            );
            for class in &cracked {
                let _ = write!(out, " {} |", i.classes.get(*class).copied().unwrap_or(0));
            }
            let _ = writeln!(out);
        }
    } else if cracks.insurer_records && cracks.mismatch().is_none() {
        let _ = writeln!(out, "\nCracks: none — every applicant who selected a plan is accounted for by the insurers' records.");
    }
    if let Some(gap) = two_meanings(s) {
        let _ = writeln!(out, "\n{gap}");
    }
    for warning in &cracks.warnings {
        let _ = writeln!(out, "\n**Warning**: {warning}");
    }
    if let (Some(line), Some(replay)) = (replay_headline(s), &s.replay) {
        let _ = writeln!(
            out,
            "\n## Replay\n\n{line}\n\n| step | reason | failed in both | only in the original | only in the replay |\n|---|---|---:|---:|---:|"
        );
        for row in &replay.comparison.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.step,
                row.reason.replace('|', "\\|"),
                row.both,
                row.only_original,
                row.only_replay
            );
        }
    }
    let spike_rows = spikes(s, spike_examples);
    if !spike_rows.is_empty() {
        let _ = writeln!(
            out,
            "\n## Spikes\n\n| window | step | kind | size | top reasons | example visits |\n|---|---|---|---|---|---|"
        );
        for row in &spike_rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.window,
                row.step,
                row.kind,
                row.size,
                row.reasons.join("; ").replace('|', "\\|"),
                row.visits
            );
        }
        for row in spike_rows.iter().filter(|r| !r.examples.is_empty()) {
            let _ = writeln!(
                out,
                "\nExamples, {} {} {}:\n",
                row.step, row.kind, row.window
            );
            for example in &row.examples {
                let _ = writeln!(out, "- `{}`", example.replace('`', "'"));
            }
        }
    }
    let names: Vec<String> = charts::CHARTS
        .iter()
        .map(|(name, _)| format!("`{CHARTS_DIR}/{name}.svg`"))
        .collect();
    let _ = writeln!(
        out,
        "\nCharts (SVG and PNG): {}; the whole report: `index.html`.",
        names.join(", ")
    );
    out
}
