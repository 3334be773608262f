//! Comparing a run with a baseline run: per-step p50/p95/p99 and error rates, and the funnel's
//! conversion at every stage. A comparison fails only when the change is both beyond the relative
//! tolerance and beyond an absolute floor, so 0.2 ms → 0.3 ms does not fail a build.

use crate::rundir::summary::{Comparison, Summary};
use crate::vocab::Stage;

/// How much worse is still acceptable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Relative change allowed, as a fraction (0.10 = 10%).
    pub relative: f64,
    /// Latency changes smaller than this many milliseconds never fail.
    pub latency_floor_ms: f64,
    /// Error-rate and conversion changes smaller than this (a fraction: 0.005 = half a percentage
    /// point) never fail.
    pub rate_floor: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            relative: 0.10,
            latency_floor_ms: 2.0,
            rate_floor: 0.005,
        }
    }
}

/// Compare `current` with `baseline`.
pub fn compare(current: &Summary, baseline: &Summary, tolerance: Tolerance) -> Vec<Comparison> {
    let mut comparisons = Vec::new();
    for (step, now) in &current.steps {
        let Some(before) = baseline.steps.get(step) else {
            continue;
        };
        if now.requests == 0 || before.requests == 0 {
            continue;
        }
        for (name, b, o) in [
            ("p50", before.p50_ms, now.p50_ms),
            ("p95", before.p95_ms, now.p95_ms),
            ("p99", before.p99_ms, now.p99_ms),
        ] {
            let worse = o > b * (1.0 + tolerance.relative) && o - b > tolerance.latency_floor_ms;
            comparisons.push(Comparison {
                name: format!("{name}({step})"),
                baseline: b,
                observed: o,
                unit: "ms".into(),
                pass: !worse,
            });
        }
        let (b, o) = (before.error_rate, now.error_rate);
        let worse = o > b * (1.0 + tolerance.relative) && o - b > tolerance.rate_floor;
        comparisons.push(Comparison {
            name: format!("error_rate({step})"),
            baseline: b,
            observed: o,
            unit: "rate".into(),
            pass: !worse,
        });
    }
    for pair in Stage::ALL.windows(2) {
        let (over, stage) = (pair[0], pair[1]);
        let conversion = |s: &Summary| {
            let whole = s.funnel.get(over.name()).copied().unwrap_or(0);
            let part = s.funnel.get(stage.name()).copied().unwrap_or(0);
            (whole > 0).then(|| part as f64 / whole as f64)
        };
        let (Some(b), Some(o)) = (conversion(baseline), conversion(current)) else {
            continue;
        };
        let worse = o < b * (1.0 - tolerance.relative) && b - o > tolerance.rate_floor;
        comparisons.push(Comparison {
            name: format!("conversion({}/{})", stage.name(), over.name()),
            baseline: b,
            observed: o,
            unit: "rate".into(),
            pass: !worse,
        });
    }
    comparisons
}
