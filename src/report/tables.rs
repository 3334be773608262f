//! The report's tables, computed once from the summary — the verdict, the steps in journey order, the
//! funnel with each stage's predecessor, the cracks classes that occurred — and rendered by the
//! console text, `summary.md` and `index.html` alike, each in its own layout.

use crate::rundir::exemplars::Exemplar;
use crate::rundir::summary::{Spike, StepSummary, Summary, CRACK_CLASSES};
use crate::vocab::Stage;

/// What a run came to, in one word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunVerdict {
    /// Not one request got an answer: the run proves nothing (the cause).
    RunError(String),
    /// This many threshold rules or baseline comparisons failed.
    Failed(usize),
    /// The generator did not deliver its load (the reason).
    NotValid(String),
    /// It ran and was not judged: no thresholds.
    Completed,
    Passed,
}

impl RunVerdict {
    pub fn of(summary: &Summary) -> RunVerdict {
        let failed = summary.thresholds.iter().filter(|t| !t.pass).count()
            + summary.baseline.iter().filter(|c| !c.pass).count();
        if let Some(error) = &summary.run_error {
            RunVerdict::RunError(error.clone())
        } else if failed > 0 {
            RunVerdict::Failed(failed)
        } else if !summary.generator.valid {
            RunVerdict::NotValid(summary.generator.reason.clone())
        } else if summary.thresholds.is_empty() {
            RunVerdict::Completed
        } else {
            RunVerdict::Passed
        }
    }

    /// Nothing failed and the run is valid.
    pub fn is_good(&self) -> bool {
        matches!(self, RunVerdict::Completed | RunVerdict::Passed)
    }

    fn describe(&self) -> String {
        match self {
            RunVerdict::RunError(error) => format!("RUN ERROR — {error}"),
            RunVerdict::Failed(n) => format!("FAILED — {n} threshold(s) or comparison(s) failed"),
            RunVerdict::NotValid(reason) => format!("NOT VALID — {reason}"),
            RunVerdict::Completed => "COMPLETED (no thresholds set)".to_string(),
            RunVerdict::Passed => "PASSED".to_string(),
        }
    }
}

/// The one-line verdict the pages open with: did it pass, and — reconciled with the insurers when
/// their records could be read — how many applicants are covered (834 + payment) and how many fell
/// through. Without the records it says the cracks were not reconciled, never that nobody fell.
pub fn headline(summary: &Summary) -> String {
    let visits = format!(
        "{}. {} of {} visits completed",
        RunVerdict::of(summary).describe(),
        summary.visits.completed,
        summary.visits.planned
    );
    let cracks = &summary.cracks;
    if let Some(m) = cracks.matching.as_ref().filter(|m| m.problem.is_some()) {
        return format!(
            "{visits}; the cracks could not be reconciled: {} of {} paid applicants' ids matched \
             an insurer's 834.",
            m.matched, m.paid
        );
    }
    if cracks.insurer_records && !cracks.insurers.is_empty() {
        return format!(
            "{visits}; of {} applicants who selected a plan, the insurers' records hold {} as \
             covered (834 + payment) and {} fell through the cracks.",
            cracks.applications(),
            cracks.effectuated(),
            cracks.fell_through()
        );
    }
    let active = summary
        .funnel
        .get(Stage::Effectuated.name())
        .copied()
        .unwrap_or(0);
    let unreconciled = match cracks
        .unreconciled()
        .filter(|_| !cracks.insurers.is_empty())
    {
        Some(why) => format!("; the cracks could not be reconciled: {why}"),
        None => String::new(),
    };
    format!(
        "{visits}; {active} applicants found their policy active at the insurer (effectuated, \
         by its policy API){unreconciled}."
    )
}

/// The one sentence that tells the funnel's `effectuated` (the insurer's policy API said active)
/// from the cracks' covered (the insurer's records hold the 834 and the payment), when a page
/// shows both.
pub fn two_meanings(summary: &Summary) -> Option<String> {
    let asked = summary
        .funnel_attempted
        .get(Stage::Effectuated.name())
        .copied()
        .unwrap_or(0);
    let cracks = &summary.cracks;
    if asked == 0 || !cracks.insurer_records || cracks.insurers.is_empty() {
        return None;
    }
    let active = summary
        .funnel
        .get(Stage::Effectuated.name())
        .copied()
        .unwrap_or(0);
    Some(format!(
        "The funnel's effectuated ({active}) counts visits whose insurer's policy API said \
         active when asked; covered (834 + payment, {}) counts applicants whose insurer holds \
         their 834 and their payment — an insurer may call a policy active before its 834 \
         arrives, and only some visits ask, so the two can differ.",
        cracks.effectuated()
    ))
}

/// The steps the run measured, in the journey file's order.
pub fn steps(summary: &Summary) -> Vec<(&str, &StepSummary)> {
    summary
        .step_names()
        .into_iter()
        .filter_map(|name| summary.steps.get(name).map(|s| (name, s)))
        .collect()
}

/// One stage of the funnel: the visits that reached it, and the visits that tried it (whose
/// journey has the stage and who reached the stage before it); `None` for `visits`.
pub struct FunnelRow {
    pub stage: &'static str,
    pub count: u64,
    pub tried: Option<u64>,
}

/// The funnel, each stage's conversion counted among the visits that tried it. A run written
/// before `funnel_attempted` existed compares each stage with the one before, as it did then.
pub fn funnel(summary: &Summary) -> Vec<FunnelRow> {
    let mut previous = None;
    Stage::ALL
        .iter()
        .map(|stage| {
            let count = summary.funnel.get(stage.name()).copied().unwrap_or(0);
            let tried = match summary.funnel_attempted.get(stage.name()) {
                _ if *stage == Stage::Visits => None,
                Some(tried) => Some(*tried),
                None => previous,
            };
            previous = Some(count);
            FunnelRow {
                stage: stage.name(),
                count,
                tried,
            }
        })
        .collect()
}

/// The cracks classes that have at least one applicant, in report order.
pub fn cracked_classes(summary: &Summary) -> Vec<&'static str> {
    CRACK_CLASSES
        .iter()
        .copied()
        .filter(|c| summary.cracks.total(c) > 0)
        .collect()
}

/// One spike window, for people.
pub struct SpikeRow {
    /// `00:00:15–00:00:20`.
    pub window: String,
    pub step: String,
    pub kind: String,
    /// `error rate 41.0% (before: 0.0%)`, `p99 420 ms, 21× (before: 20 ms)`.
    pub size: String,
    /// `reason (count)`, most frequent first.
    pub reasons: Vec<String>,
    pub visits: String,
    /// Example requests of the window: what the exchange answered.
    pub examples: Vec<String>,
}

/// The spike windows with their examples (`examples[i]` are the `i`th spike's).
pub fn spikes(summary: &Summary, examples: &[Vec<Exemplar>]) -> Vec<SpikeRow> {
    summary
        .spikes
        .iter()
        .enumerate()
        .map(|(i, spike)| SpikeRow {
            window: format!("{}–{}", spike.start, spike.end),
            step: spike.step.clone(),
            kind: spike.kind.clone(),
            size: spike_size(spike),
            reasons: spike
                .top_reasons
                .iter()
                .map(|r| format!("{} ({})", r.reason, r.count))
                .collect(),
            visits: spike
                .example_visits
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            examples: examples
                .get(i)
                .map(|list| list.iter().map(example).collect())
                .unwrap_or_default(),
        })
        .collect()
}

fn spike_size(spike: &Spike) -> String {
    let times = spike.size.map_or(String::new(), |x| format!(", {x:.0}×"));
    if spike.kind == "latency" {
        format!(
            "p99 {:.0} ms{times} (before: {:.0} ms)",
            spike.peak, spike.level_before
        )
    } else {
        format!(
            "error rate {:.1}%{times} (before: {:.1}%)",
            spike.peak * 100.0,
            spike.level_before * 100.0
        )
    }
}

/// `visit 812 · POST …/plans/search → 503 in 2.1 ms: {"code":"1012",…}`
fn example(e: &Exemplar) -> String {
    let status = e.status.map_or(e.outcome.clone(), |s| s.to_string());
    let path = e
        .url
        .find("://")
        .and_then(|i| e.url[i + 3..].find('/').map(|j| &e.url[i + 3 + j..]))
        .unwrap_or(&e.url);
    let body: String = e.body.chars().take(120).collect();
    let body = if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    };
    format!(
        "{} · visit {} · {} {path} → {status} in {:.1} ms{body}",
        e.clock, e.visit, e.method, e.latency_ms
    )
}

/// A replay's comparison with its original, in one sentence, for the pages.
pub fn replay_headline(summary: &Summary) -> Option<String> {
    let replay = summary.replay.as_ref()?;
    let c = &replay.comparison;
    let lead_in = if replay.lead_in_s > 0.0 {
        format!(" (after a lead-in of {:.0} s)", replay.lead_in_s)
    } else {
        String::new()
    };
    Some(format!(
        "Replay of {} from {} to {}{lead_in}: {} visits; {} failed in the original, {} in the replay, \
         {} in both ({} of the original's failures failed again, {} of them the same way).",
        replay.source,
        replay.from,
        replay.to,
        c.visits,
        c.failed_original,
        c.failed_replay,
        c.failed_both,
        share(c.failed_both, c.failed_original),
        share(c.same_failure, c.failed_both)
    ))
}

/// Percentage of `part` in `whole`, or a dash.
pub fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The knee in one line, `Knee at 08:31:00: browse p50 2.4× its base of 31 ms.`; `None` when the run
/// has none.
pub fn knee_line(summary: &Summary) -> Option<String> {
    summary
        .knee
        .as_ref()
        .map(|k| format!("Knee at {}: {}.", k.clock, k.why))
}
