//! Comparing a replay with its original: of the visits whose intended start fell in the window,
//! which failed in both runs, only in the original, only in the replay — by step and reason.
//! Read from the two runs' `failures.csv` alone.

use std::collections::{BTreeMap, BTreeSet};

use crate::rundir::failures::FailedVisit;
use crate::rundir::summary::{ReplayComparison, ReplayRow};

/// Compare the failures of `original` and `replay` among `window` (the visit ids compared).
pub fn compare(
    window: &BTreeSet<u64>,
    original: &[FailedVisit],
    replay: &[FailedVisit],
) -> ReplayComparison {
    let in_window = |failed: &[FailedVisit]| -> BTreeMap<u64, (String, String)> {
        failed
            .iter()
            .filter(|f| window.contains(&f.visit))
            .map(|f| (f.visit, (f.step.clone(), f.reason.clone())))
            .collect()
    };
    let (before, again) = (in_window(original), in_window(replay));
    let mut comparison = ReplayComparison {
        visits: window.len() as u64,
        failed_original: before.len() as u64,
        failed_replay: again.len() as u64,
        failed_both: 0,
        same_failure: 0,
        rows: Vec::new(),
    };
    // Per (step, reason) — the original's for a visit that failed in both — the visits that failed
    // in both runs, only in the original, only in the replay.
    let mut counts: BTreeMap<(String, String), [u64; 3]> = BTreeMap::new();
    for (visit, failure) in &before {
        match again.get(visit) {
            Some(replayed) => {
                comparison.failed_both += 1;
                comparison.same_failure += u64::from(replayed == failure);
                counts.entry(failure.clone()).or_default()[0] += 1;
            }
            None => counts.entry(failure.clone()).or_default()[1] += 1,
        }
    }
    for (visit, failure) in &again {
        if !before.contains_key(visit) {
            counts.entry(failure.clone()).or_default()[2] += 1;
        }
    }
    comparison.rows = counts
        .into_iter()
        .map(
            |((step, reason), [both, only_original, only_replay])| ReplayRow {
                step,
                reason,
                both,
                only_original,
                only_replay,
            },
        )
        .collect();
    comparison
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(visit: u64, reason: &str) -> FailedVisit {
        FailedVisit {
            visit,
            clock: "09:40:00".into(),
            step: "redirect".into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn visits_are_sorted_into_both_only_original_and_only_replay() {
        let window: BTreeSet<u64> = (10..20).collect();
        let original = [
            failed(5, "404"),
            failed(11, "404"),
            failed(12, "404"),
            failed(13, "503"),
        ];
        let replay = [
            failed(11, "404"),
            failed(12, "503"),
            failed(14, "404"),
            failed(25, "404"),
        ];
        let c = compare(&window, &original, &replay);
        assert_eq!(c.visits, 10);
        assert_eq!(
            (c.failed_original, c.failed_replay),
            (3, 3),
            "visits 5 and 25 are outside"
        );
        assert_eq!(
            (c.failed_both, c.same_failure),
            (2, 1),
            "12 failed again, for another reason"
        );
        let counts: Vec<(&str, [u64; 3])> = c
            .rows
            .iter()
            .map(|r| (r.reason.as_str(), [r.both, r.only_original, r.only_replay]))
            .collect();
        assert_eq!(counts, [("404", [2, 0, 1]), ("503", [0, 1, 0])]);
    }
}
