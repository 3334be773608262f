//! Example requests, kept within caps so memory and `exemplars.jsonl` stay bounded whatever the
//! run's length: per interval, the first [`FAILURES_PER_REASON`] failed requests of each (step,
//! reason) for at most [`REASONS_PER_INTERVAL`] reasons, and the slowest request of each step; per
//! run, at most [`MAX_PER_RUN`] in all. A reply's first [`BODY_BYTES`] bytes are kept.
//!
//! The slowest request costs one atomic comparison per request: an example is built only when a
//! request beats the interval's slowest so far.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::lock;
use crate::rundir::exemplars::Exemplar;
use crate::vocab::StepId;

/// Failed requests kept per (step, reason) per interval.
pub const FAILURES_PER_REASON: usize = 3;
/// Distinct (step, reason) pairs with examples per interval.
pub const REASONS_PER_INTERVAL: usize = 20;
/// Examples kept over a whole run: beyond it, none are kept (about 1 KB each at most).
pub const MAX_PER_RUN: u64 = 50_000;
/// Bytes of a reply's body kept.
pub const BODY_BYTES: usize = 256;

/// Examples of the interval in progress.
#[derive(Default)]
struct IntervalExamples {
    slowest: BTreeMap<StepId, Exemplar>,
    failures: BTreeMap<(StepId, String), Vec<Exemplar>>,
}

/// Collects the examples of a run, interval by interval.
pub struct Collector {
    /// Per step, the slowest latency of the interval so far, in µs.
    slowest_micros: Vec<AtomicU64>,
    interval: Mutex<IntervalExamples>,
    kept: AtomicU64,
}

impl Collector {
    pub fn new(steps: usize) -> Self {
        Self {
            slowest_micros: (0..steps).map(|_| AtomicU64::new(0)).collect(),
            interval: Mutex::new(IntervalExamples::default()),
            kept: AtomicU64::new(0),
        }
    }

    fn full(&self) -> bool {
        self.kept.load(Ordering::Relaxed) >= MAX_PER_RUN
    }

    /// A request of `step` took `latency`: if it is the interval's slowest so far, keep the
    /// example `build` makes.
    pub fn offer_slowest(&self, step: StepId, latency: Duration, build: impl FnOnce() -> Exemplar) {
        let micros = latency.as_micros() as u64;
        let slowest = &self.slowest_micros[step.index()];
        if micros <= slowest.load(Ordering::Relaxed) || self.full() {
            return;
        }
        let mut interval = lock(&self.interval);
        // Checked again under the lock: another request may have been slower meanwhile.
        if slowest.fetch_max(micros, Ordering::Relaxed) < micros {
            interval.slowest.insert(step, build());
        }
    }

    /// A request of `step` failed for `reason`: keep the example `build` makes, within the caps.
    pub fn offer_failure(&self, step: StepId, reason: &str, build: impl FnOnce() -> Exemplar) {
        if self.full() {
            return;
        }
        let mut interval = lock(&self.interval);
        let key = (step, reason.to_string());
        let room = interval.failures.len() < REASONS_PER_INTERVAL;
        let kept = match interval.failures.get_mut(&key) {
            Some(kept) => kept,
            None if room => interval.failures.entry(key).or_default(),
            None => return,
        };
        if kept.len() < FAILURES_PER_REASON {
            kept.push(build());
        }
    }

    /// The interval's examples (failures, then the slowest of each step); the next interval
    /// starts empty.
    pub fn take(&self) -> Vec<Exemplar> {
        let taken = std::mem::take(&mut *lock(&self.interval));
        for slowest in &self.slowest_micros {
            slowest.store(0, Ordering::Relaxed);
        }
        let mut examples: Vec<Exemplar> = taken.failures.into_values().flatten().collect();
        examples.extend(taken.slowest.into_values());
        let room = MAX_PER_RUN.saturating_sub(self.kept.load(Ordering::Relaxed));
        examples.truncate(room as usize);
        self.kept
            .fetch_add(examples.len() as u64, Ordering::Relaxed);
        examples
    }
}

/// `body`'s first [`BODY_BYTES`] bytes, cut at a character boundary.
pub fn excerpt(body: &str) -> String {
    head(body, BODY_BYTES).to_string()
}

/// `text`'s first `bytes` bytes (fewer, to end on a character boundary).
pub fn head(text: &str, bytes: usize) -> &str {
    let mut end = text.len().min(bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Steps;

    fn example(visit: u64, latency_ms: f64) -> Exemplar {
        Exemplar {
            clock: String::new(),
            elapsed_s: 0.0,
            kind: "failure".into(),
            step: "pay".into(),
            reason: String::new(),
            visit,
            label: "pay".into(),
            method: "POST".into(),
            url: "http://127.0.0.1/pay".into(),
            status: Some(500),
            outcome: "5xx".into(),
            latency_ms,
            headers: BTreeMap::new(),
            body: String::new(),
        }
    }

    #[test]
    fn each_interval_keeps_the_slowest_and_a_few_failures_per_reason() {
        let steps = Steps::of(["pay"]);
        let pay = steps.named("pay").unwrap();
        let collector = Collector::new(steps.len());
        for (visit, ms) in [(1, 5), (2, 50), (3, 20)] {
            collector.offer_slowest(pay, Duration::from_millis(ms), || example(visit, ms as f64));
        }
        for visit in 0..10 {
            collector.offer_failure(pay, "pay: HTTP 500", || example(visit, 1.0));
        }
        for reason in 0..100 {
            collector.offer_failure(pay, &format!("reason {reason}"), || example(99, 1.0));
        }
        let first = collector.take();
        let slowest: Vec<u64> = first
            .iter()
            .filter(|e| e.latency_ms > 1.0)
            .map(|e| e.visit)
            .collect();
        assert_eq!(slowest, [2], "only the slowest");
        let same_reason = first
            .iter()
            .filter(|e| e.visit < 10 && e.latency_ms == 1.0)
            .count();
        assert_eq!(same_reason, FAILURES_PER_REASON);
        assert_eq!(
            first.len(),
            1 + FAILURES_PER_REASON + (REASONS_PER_INTERVAL - 1),
            "at most {REASONS_PER_INTERVAL} reasons an interval"
        );

        // The next interval starts afresh: a fast request is its slowest.
        collector.offer_slowest(pay, Duration::from_millis(1), || example(7, 1.5));
        assert_eq!(
            collector.take().iter().map(|e| e.visit).collect::<Vec<_>>(),
            [7]
        );
    }

    #[test]
    fn an_excerpt_is_cut_at_a_character_boundary() {
        let body = "é".repeat(BODY_BYTES);
        let cut = excerpt(&body);
        assert!(cut.len() <= BODY_BYTES && cut.len() >= BODY_BYTES - 1);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(excerpt("short"), "short");
    }
}
