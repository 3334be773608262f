//! `index.html`: one page, no JavaScript, no external URL, script or stylesheet — the charts are
//! inline SVG, so it opens anywhere, offline, and can be mailed as one file.

use std::fmt::Write as _;

use super::tables::{
    funnel, headline, knee_line, replay_headline, share, spikes, steps, two_meanings, RunVerdict,
};
use crate::rundir::exemplars::Exemplar;
use crate::rundir::summary::{Summary, CRACK_CLASSES};

const STYLE: &str = "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:2em auto;max-width:1450px;color:#222;padding:0 1em}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}\
th{background:#f5f5f5;vertical-align:bottom}.wide{overflow-x:auto}.wide table{font-size:.92em}.wide td,.wide th{padding:.25em .45em}td.who{white-space:nowrap}.mark{vertical-align:-3px}td:first-child,th:first-child{text-align:left}\
.verdict{font-size:1.15em;padding:.6em 1em;border-radius:4px;background:#eef6ee;border-left:6px solid #009E73}\
.bad{background:#fbeeea;border-left-color:#D55E00}.chart svg{max-width:100%;height:auto}code{background:#f3f3f3;padding:0 .2em}\
td.examples{text-align:left;font-size:.85em;white-space:normal;word-break:break-all}";

/// A pass or fail mark, drawn (emoji need a font the reader may not have).
fn mark(pass: bool) -> &'static str {
    if pass {
        "<svg class=\"mark\" width=\"16\" height=\"16\" viewBox=\"0 0 16 16\" role=\"img\" aria-label=\"pass\"><circle cx=\"8\" cy=\"8\" r=\"8\" fill=\"#009E73\"/><path d=\"M4 8.5l2.5 2.5L12 5.5\" stroke=\"#fff\" stroke-width=\"2\" fill=\"none\"/></svg>"
    } else {
        "<svg class=\"mark\" width=\"16\" height=\"16\" viewBox=\"0 0 16 16\" role=\"img\" aria-label=\"fail\"><circle cx=\"8\" cy=\"8\" r=\"8\" fill=\"#D55E00\"/><path d=\"M5 5l6 6M11 5l-6 6\" stroke=\"#fff\" stroke-width=\"2\"/></svg>"
    }
}

/// An insurer as a table shows it: id and name, the name cut where a word ends (in full on hover).
fn insurer(id: &str, name: &str) -> String {
    format!(
        "<td class=\"who\" title=\"{}\">{} {}</td>",
        esc(name),
        esc(id),
        esc(&super::axis::short_name(name, 24))
    )
}

/// Escape text for HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn page(
    summary: &Summary,
    spike_examples: &[Vec<Exemplar>],
    charts: &[(String, String)],
) -> String {
    let mut out = String::new();
    let s = summary;
    let headline = headline(s);
    let bad = !RunVerdict::of(s).is_good();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>surge: {}</title><style>{STYLE}</style></head><body>",
        esc(&s.scenario)
    );
    let _ = write!(out, "<h1>surge: {}</h1>", esc(&s.scenario));
    let _ = write!(
        out,
        "<p class=\"verdict{}\">{}</p>",
        if bad { " bad" } else { "" },
        esc(&headline)
    );
    if let Some(line) = knee_line(s) {
        let _ = write!(
            out,
            "<p id=\"knee\">{} (Where the target stopped keeping up; dashed on the charts.)</p>",
            esc(&line)
        );
    }

    let _ = write!(out, "<h2>Run</h2><table>");
    let facts = [
        ("scenario", s.scenario.clone()),
        ("target", s.target.clone()),
        ("started", s.started_at.clone()),
        ("seed", s.seed.to_string()),
        ("time scale", format!("{}×", s.time_scale)),
        (
            "scenario clock",
            format!(
                "from {} over {:.0} s of scenario time",
                s.clock_start, s.span_s
            ),
        ),
        ("duration", format!("{:.1} s", s.duration_s)),
        ("ending", s.ending.clone()),
        (
            "visits",
            format!(
                "{} planned, {} started, {} completed, {} late (lateness p99 {:.1} ms)",
                s.visits.planned,
                s.visits.started,
                s.visits.completed,
                s.visits.late,
                s.visits.lateness_p99_ms
            ),
        ),
        (
            "generator",
            if s.generator.valid {
                format!(
                    "valid (pool {}, peak {} in flight)",
                    s.generator.pool, s.generator.max_in_flight
                )
            } else {
                format!("NOT valid: {}", s.generator.reason)
            },
        ),
    ];
    for (name, value) in facts {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td style=\"text-align:left\">{}</td></tr>",
            esc(&value)
        );
    }
    let _ = write!(out, "</table>");

    if !s.thresholds.is_empty() || !s.baseline.is_empty() {
        let _ = write!(out, "<h2>Thresholds</h2><table><tr><th></th><th>rule</th><th>limit</th><th>observed</th></tr>");
        for t in &s.thresholds {
            let _ = write!(
                out,
                "<tr><td>{}</td><td style=\"text-align:left\"><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                mark(t.pass),
                esc(&t.name),
                esc(&t.limit),
                esc(&t.observed_text)
            );
        }
        for c in &s.baseline {
            let _ = write!(
                out,
                "<tr><td>{}</td><td style=\"text-align:left\"><code>{}</code> vs baseline</td><td></td><td>{}</td></tr>",
                mark(c.pass),
                esc(&c.name),
                esc(&c.describe())
            );
        }
        let _ = write!(out, "</table>");
    }

    let _ = write!(
        out,
        "<h2>Steps</h2><table><tr><th>step</th><th>requests</th><th>failures</th><th>error rate</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>"
    );
    for (name, st) in steps(s) {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{:.2}%</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
            st.requests, st.failures, st.error_rate * 100.0, st.p50_ms, st.p95_ms, st.p99_ms, st.p999_ms, st.max_ms
        );
    }
    let v = &s.visit_latency;
    let _ = write!(
        out,
        "<tr><td>(whole visits)</td><td>{}</td><td></td><td></td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td></td><td>{:.1}</td></tr></table>",
        v.count, v.p50_ms, v.p95_ms, v.p99_ms, v.max_ms
    );

    let _ = write!(
        out,
        "<h2>Funnel</h2><table><tr><th>stage</th><th>visits</th><th>tried</th><th>conversion</th></tr>"
    );
    for row in funnel(s) {
        let tried = row.tried.map_or(String::new(), |t| t.to_string());
        let conversion = row.tried.map_or(String::new(), |t| share(row.count, t));
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{tried}</td><td>{conversion}</td></tr>",
            row.stage, row.count
        );
    }
    let _ = write!(out, "</table>");
    if !s.funnel_by_insurer.is_empty() {
        let _ = write!(out, "<table><tr><th>insurer</th><th>selected</th><th>redirected</th><th>paid</th><th>paid of selected</th><th title=\"visits whose journey asks the insurer's policy API, and that it said active; the cracks table below counts what the insurers' records hold (834 + payment)\">effectuated (active at the insurer)</th></tr>");
        for (id, r) in &s.funnel_by_insurer {
            let _ = write!(
                out,
                "<tr>{}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                insurer(id, &r.name),
                r.selected,
                r.redirected,
                r.paid,
                share(r.paid, r.selected),
                r.effectuated
            );
        }
        let _ = write!(out, "</table>");
    }

    if !s.cracks.insurers.is_empty() {
        let cracks = &s.cracks;
        let records = match cracks.unreconciled() {
            None => format!(
                "reconciled with {}",
                esc(cracks
                    .source
                    .as_deref()
                    .unwrap_or("the insurers' 834 inboxes"))
            ),
            Some(why) => format!(
                "<strong>not reconciled with the insurers</strong>: {}. Only what the harness \
                 saw itself is counted (never redirected, broken redirect)",
                esc(&why)
            ),
        };
        let _ = write!(
            out,
            "<h2>Cracks</h2><p>Every applicant who selected a plan, {records}.</p>"
        );
        if let Some(problem) = cracks.mismatch() {
            let _ = write!(
                out,
                "<p class=\"verdict bad\"><strong>Ids did not match</strong>: {}.</p>",
                esc(problem)
            );
        }
        if let Some(gap) = two_meanings(s) {
            let _ = write!(out, "<p>{}</p>", esc(&gap));
        }
        for warning in &cracks.warnings {
            let _ = write!(
                out,
                "<p class=\"verdict bad\"><strong>Warning</strong>: {}</p>",
                esc(warning)
            );
        }
        // With the records, what they hold; without, what the insurers' API said.
        let covered = match cracks.insurer_records {
            true => "covered (834 + payment)",
            false => "active at the insurer",
        };
        let _ = write!(
            out,
            "<div class=\"wide\"><table><tr><th>insurer</th><th>applications</th><th>given Pay Now</th><th>redirected</th><th>paid</th><th>{covered}</th><th>fell through</th>"
        );
        for class in CRACK_CLASSES {
            let _ = write!(out, "<th>{}</th>", class.replace('_', " "));
        }
        let _ = write!(out, "</tr>");
        for (id, i) in &s.cracks.insurers {
            let _ = write!(
                out,
                "<tr>{}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                insurer(id, &i.name),
                i.applications,
                i.pay_now,
                i.redirected,
                i.paid,
                i.effectuated,
                i.fell_through
            );
            for class in CRACK_CLASSES {
                let n = i.classes.get(class).copied().unwrap_or(0);
                let examples = i
                    .examples
                    .get(class)
                    .map_or(String::new(), |v| format!("{v:?}"));
                let _ = write!(out, "<td title=\"first visits: {examples}\">{n}</td>");
            }
            let _ = write!(out, "</tr>");
        }
        let _ = write!(out, "</table></div>");
    }

    if !s.failures.is_empty() {
        let _ = write!(out, "<h2>Failures</h2><div class=\"wide\"><table><tr><th>step</th><th>reason</th><th>count</th><th>first visits</th></tr>");
        for f in &s.failures {
            let _ =
                write!(
                out,
                "<tr><td>{}</td><td style=\"text-align:left\">{}</td><td>{}</td><td>{:?}</td></tr>",
                esc(&f.step), esc(&f.reason), f.count, f.example_visits
            );
        }
        let _ = write!(out, "</table></div>");
    }

    if let (Some(line), Some(replay)) = (replay_headline(s), &s.replay) {
        let _ = write!(
            out,
            "<h2 id=\"replay\">Replay</h2><p>{}</p><div class=\"wide\"><table><tr><th>step</th><th>reason</th>\
             <th>failed in both</th><th>only in the original</th><th>only in the replay</th></tr>",
            esc(&line)
        );
        for row in &replay.comparison.rows {
            let _ = write!(
                out,
                "<tr><td>{}</td><td style=\"text-align:left\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&row.step),
                esc(&row.reason),
                row.both,
                row.only_original,
                row.only_replay
            );
        }
        let _ = write!(out, "</table></div>");
    }
    let spike_rows = spikes(s, spike_examples);
    if !spike_rows.is_empty() {
        let _ = write!(
            out,
            "<h2 id=\"spikes\">Spikes</h2><p>Windows where a step's error rate or p99 rose well above its \
             recent level (shaded on the charts).</p><div class=\"wide\"><table><tr><th>window</th><th>step</th>\
             <th>kind</th><th>size</th><th>top reasons</th><th>example visits</th></tr>"
        );
        for row in &spike_rows {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td><td>{}</td></tr>",
                esc(&row.window),
                esc(&row.step),
                esc(&row.kind),
                esc(&row.size),
                row.reasons.iter().map(|r| esc(r)).collect::<Vec<_>>().join("<br>"),
                esc(&row.visits)
            );
            if !row.examples.is_empty() {
                let examples: Vec<String> = row
                    .examples
                    .iter()
                    .map(|e| format!("<code>{}</code>", esc(e)))
                    .collect();
                let _ = write!(
                    out,
                    "<tr><td colspan=\"6\" class=\"examples\">{}</td></tr>",
                    examples.join("<br>")
                );
            }
        }
        let _ = write!(out, "</table></div>");
    }

    for (caption, svg) in charts {
        // The SVG is plotters' own output; drop its XML declaration to inline it.
        let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
        let _ = write!(
            out,
            "<h2>{}</h2><div class=\"chart\">{body}</div>",
            esc(caption)
        );
    }

    let _ = write!(
        out,
        "<h2>Files</h2><p><a href=\"summary.json\">summary.json</a> · <a href=\"latency.hlog\">latency.hlog</a> · \
         <a href=\"timeline.csv\">timeline.csv</a> · <a href=\"junit.xml\">junit.xml</a> · <a href=\"gate.md\">gate.md</a> · \
         <a href=\"summary.md\">summary.md</a> · <a href=\"scenario.toml\">scenario.toml</a> · <a href=\"charts/\">charts/</a> (SVG and PNG)</p>"
    );
    let _ = writeln!(out, "<p>surge {}</p></body></html>", esc(&s.surge_version));
    out
}
