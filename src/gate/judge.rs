//! Judging rules over a run's intervals: over the whole run, or in every window of a rule's length.
//! Intervals are fed one at a time, so a 12-hour run is judged in constant memory, and the same
//! judge can watch a live run for rules that abort it.

use std::collections::BTreeMap;

use super::rule::{Metric, Op, Rule, Target};
use crate::histogram::{new_histogram, percentile};
use crate::rundir::hlog::VISIT_TAG;
use crate::rundir::summary::Verdict;
use crate::rundir::IntervalData;
use crate::vocab::Stage;
use hdrhistogram::Histogram;

/// Sums of one stretch of intervals.
#[derive(Debug, Clone, Default)]
struct Totals {
    latencies: BTreeMap<String, Histogram<u64>>,
    /// Requests and failures per step name.
    steps: BTreeMap<String, (u64, u64)>,
    funnel: [u64; Stage::COUNT],
    started: u64,
    late: u64,
    intervals: usize,
}

impl Totals {
    fn add(&mut self, data: &IntervalData) {
        for (tag, histogram) in &data.latencies {
            let total = self
                .latencies
                .entry(tag.clone())
                .or_insert_with(new_histogram);
            // Same bounds on both sides, so adding cannot fail.
            let _ = total.add(histogram);
        }
        let row = &data.row;
        for count in &row.steps {
            let total = self.steps.entry(count.step.clone()).or_default();
            total.0 += count.requests;
            total.1 += count.failures;
        }
        for (total, n) in self.funnel.iter_mut().zip(row.funnel()) {
            *total += n;
        }
        self.started += row.started;
        self.late += row.late;
        self.intervals += 1;
    }

    /// The metric over these intervals; `None` when nothing was measured.
    fn observe(&self, metric: &Metric) -> Option<f64> {
        let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        match metric {
            Metric::Latency { percentile: p, of } => {
                let histogram = match of {
                    Target::Step(step) => self.latencies.get(step).cloned()?,
                    Target::Visit => self.latencies.get(VISIT_TAG).cloned()?,
                    Target::AllSteps => {
                        let mut all = new_histogram();
                        for (_, h) in self.latencies.iter().filter(|(tag, _)| *tag != VISIT_TAG) {
                            let _ = all.add(h);
                        }
                        all
                    }
                };
                (!histogram.is_empty()).then(|| percentile(&histogram, *p) as f64 / 1000.0)
            }
            Metric::ErrorRate { of } => match of {
                Target::Step(step) => {
                    let (requests, failures) = self.steps.get(step).copied()?;
                    ratio(failures, requests)
                }
                _ => ratio(
                    self.steps.values().map(|(_, failures)| failures).sum(),
                    self.steps.values().map(|(requests, _)| requests).sum(),
                ),
            },
            Metric::Conversion { stage, over } => {
                ratio(self.funnel[*stage as usize], self.funnel[*over as usize])
            }
            Metric::LateArrivals => ratio(self.late, self.started),
        }
    }
}

/// Windowed judging of one rule.
#[derive(Debug, Clone)]
struct WindowState {
    intervals_per_window: usize,
    current: Totals,
    /// The worst window so far: its value and the clock at its end.
    worst: Option<(f64, String)>,
    failed: bool,
    /// Whether the last window to close failed (for live abort).
    last_closed_failed: Option<f64>,
}

/// Judges a list of rules over intervals fed in order.
pub struct Judge {
    rules: Vec<Rule>,
    windows: Vec<Option<WindowState>>,
    totals: Totals,
}

impl Judge {
    /// `interval_s` is the wall time per interval and `time_scale` the run's, so that windows,
    /// written in scenario time, cover whole intervals (at least one).
    pub fn new(rules: Vec<Rule>, interval_s: f64, time_scale: f64) -> Judge {
        let windows = rules
            .iter()
            .map(|rule| {
                rule.window.map(|window| WindowState {
                    intervals_per_window: ((window.as_secs_f64() / time_scale / interval_s).round()
                        as usize)
                        .max(1),
                    current: Totals::default(),
                    worst: None,
                    failed: false,
                    last_closed_failed: None,
                })
            })
            .collect();
        Judge {
            rules,
            windows,
            totals: Totals::default(),
        }
    }

    pub fn add(&mut self, data: &IntervalData) {
        self.totals.add(data);
        for (rule, state) in self.rules.iter().zip(&mut self.windows) {
            let Some(state) = state else { continue };
            state.current.add(data);
            state.last_closed_failed = None;
            if state.current.intervals >= state.intervals_per_window {
                close_window(rule, state, &data.row.clock);
            }
        }
    }

    /// Verdicts over everything fed so far (closing any partial window).
    pub fn verdicts(&mut self) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        for (rule, state) in self.rules.iter().zip(&mut self.windows) {
            let verdict = match state {
                Some(state) => {
                    if state.current.intervals > 0 {
                        close_window(rule, state, "the end");
                    }
                    match &state.worst {
                        Some((worst, clock)) => Verdict {
                            observed: Some(*worst),
                            observed_text: format!(
                                "{} (worst window, ending {clock})",
                                rule.format_value(*worst)
                            ),
                            pass: !state.failed,
                            ..unjudged(rule)
                        },
                        None => unjudged(rule),
                    }
                }
                None => match self.totals.observe(&rule.metric) {
                    Some(observed) => Verdict {
                        observed: Some(observed),
                        observed_text: rule.format_value(observed),
                        pass: rule.op.holds(observed, rule.limit),
                        ..unjudged(rule)
                    },
                    None => unjudged(rule),
                },
            };
            verdicts.push(verdict);
        }
        verdicts
    }

    /// For a live run: the first `abort` rule failing now, once `elapsed_s` is past its grace
    /// period. Whole-run rules are judged on everything so far, windowed rules on the window that
    /// just closed.
    pub fn abort_now(&self, elapsed_s: f64) -> Option<String> {
        for (rule, state) in self.rules.iter().zip(&self.windows) {
            let Some(grace) = rule.abort else { continue };
            if elapsed_s < grace.as_secs_f64() {
                continue;
            }
            let failing = match state {
                Some(state) => state.last_closed_failed,
                None => self
                    .totals
                    .observe(&rule.metric)
                    .filter(|observed| !rule.op.holds(*observed, rule.limit)),
            };
            if let Some(observed) = failing {
                return Some(format!(
                    "threshold \"{}\" failed: observed {}",
                    rule.text,
                    rule.format_value(observed)
                ));
            }
        }
        None
    }
}

fn close_window(rule: &Rule, state: &mut WindowState, clock: &str) {
    if let Some(observed) = state.current.observe(&rule.metric) {
        let holds = rule.op.holds(observed, rule.limit);
        if !holds {
            state.failed = true;
            state.last_closed_failed = Some(observed);
        }
        // The worst window is the one furthest on the wrong side of the limit.
        let worse = match rule.op {
            Op::Lt | Op::Le => |a: f64, b: f64| a > b,
            Op::Gt | Op::Ge => |a: f64, b: f64| a < b,
        };
        if state
            .worst
            .as_ref()
            .is_none_or(|(w, _)| worse(observed, *w))
        {
            state.worst = Some((observed, clock.to_string()));
        }
    }
    state.current = Totals::default();
}

/// A rule's verdict with nothing to judge: what it measures and its limit, nothing observed, and
/// failed (a rule that could not be judged must not pass a gate).
fn unjudged(rule: &Rule) -> Verdict {
    Verdict {
        name: rule.text.clone(),
        limit: rule.limit_text(),
        metric: rule.metric.to_string(),
        limit_value: Some(rule.limit),
        observed: None,
        observed_text: "no data".into(),
        pass: false,
        added: false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::rule::parse;
    use super::*;

    fn interval(browse_ms: &[u64], requests: u64, failures: u64, clock: &str) -> IntervalData {
        let mut histogram = new_histogram();
        for ms in browse_ms {
            histogram.record(ms * 1000).unwrap();
        }
        let mut data = IntervalData::default();
        data.row.clock = clock.into();
        data.latencies.insert("browse".into(), histogram);
        data.row.steps = vec![crate::rundir::timeline::StepCount {
            step: "browse".into(),
            requests,
            failures,
        }];
        data.row.completed = 10;
        data.row.stages = [10, 8, 6, 6, 5, 5];
        data.row.started = 10;
        data
    }

    fn judge(rules: &[&str], intervals: &[IntervalData]) -> Vec<Verdict> {
        let rules = rules.iter().map(|r| parse(r).unwrap()).collect();
        let mut judge = Judge::new(rules, 1.0, 1.0);
        for data in intervals {
            judge.add(data);
        }
        judge.verdicts()
    }

    #[test]
    fn whole_run_rules_judge_the_sum_of_intervals() {
        let intervals = [
            interval(&[10, 20], 100, 0, "00:00:01"),
            interval(&[30, 900], 100, 3, "00:00:02"),
        ];
        let verdicts = judge(
            &[
                "max(browse) < 1s",
                "error_rate(browse) < 1%",
                "conversion(paid/redirected) >= 80%",
                "p50(browse) < 25ms",
            ],
            &intervals,
        );
        assert!(verdicts[0].pass, "{:?}", verdicts[0]);
        assert!(!verdicts[1].pass, "3 failures in 200 is 1.5%");
        assert!((verdicts[1].observed.unwrap() - 0.015).abs() < 1e-12);
        assert!(verdicts[2].pass);
        assert!(verdicts[3].pass, "{:?}", verdicts[3]);
    }

    #[test]
    fn a_windowed_rule_fails_on_its_worst_window_even_when_the_whole_run_passes() {
        let mut intervals: Vec<IntervalData> = (0..9)
            .map(|i| interval(&[10; 50], 50, 0, &format!("00:00:{i:02}")))
            .collect();
        intervals.push(interval(&[5000, 5000], 2, 0, "00:00:10"));
        let verdicts = judge(
            &["p95(browse) < 1s", "p95(browse) < 1s in every 1s"],
            &intervals,
        );
        assert!(verdicts[0].pass, "overall p95 is 10 ms");
        assert!(!verdicts[1].pass);
        assert!(
            verdicts[1].observed_text.contains("00:00:10"),
            "{}",
            verdicts[1].observed_text
        );
    }

    #[test]
    fn verdicts_carry_their_metric_and_limit() {
        let verdicts = judge(
            &[
                "error_rate < 2%",
                "p95(browse) < 1s in every 1s",
                "p99(pay) < 300ms",
            ],
            &[interval(&[10], 100, 1, "00:00:01")],
        );
        let fields: Vec<(&str, Option<f64>)> = verdicts
            .iter()
            .map(|v| (v.metric.as_str(), v.limit_value))
            .collect();
        assert_eq!(
            fields,
            [
                ("error_rate", Some(0.02)),
                ("p95(browse)", Some(1000.0)),
                ("p99(pay)", Some(300.0)),
            ]
        );
    }

    #[test]
    fn a_rule_without_data_fails() {
        let verdicts = judge(
            &["p99(pay) < 1s", "error_rate(confirm) < 1%"],
            &[interval(&[10], 1, 0, "")],
        );
        assert!(verdicts.iter().all(|v| !v.pass && v.observed.is_none()));
    }

    #[test]
    fn abort_waits_for_the_grace_period() {
        let rules = vec![parse("error_rate < 1% abort after 5s").unwrap()];
        let mut judge = Judge::new(rules, 1.0, 1.0);
        judge.add(&interval(&[10], 10, 5, ""));
        assert_eq!(judge.abort_now(2.0), None);
        assert!(judge.abort_now(6.0).unwrap().contains("error_rate < 1%"));
    }
}
