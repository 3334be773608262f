//! Threshold rules: one readable line each, k6-style.
//!
//! ```text
//! p95(browse) < 800ms                    latency percentile of a step (or `visit`, or all steps)
//! p95(login) < 300ms                     any step the journey file names
//! max(pay) <= 5s                         the slowest request
//! error_rate(eligibility) < 1%           failed requests / requests, of a step or all steps
//! conversion(paid/redirected) >= 95%     funnel stage over an earlier stage
//! late_arrivals < 0.5%                   visits started late / visits started
//! p99(eligibility) < 2s in every 1m      must hold in every window (scenario time), not just overall
//! error_rate < 5% abort after 30s        stop the run as soon as it fails, after a grace period
//! ```

use std::fmt;
use std::time::Duration;

use crate::units::{duration_of_seconds, parse_duration, parse_percent, UnitError};
use crate::vocab::{Stage, Steps};

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule as written, trimmed: its name in every report.
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    /// Limit in the metric's unit: milliseconds for latency, a fraction (0–1) for rates.
    pub limit: f64,
    /// `in every D`: the rule must hold in every window of this much scenario time.
    pub window: Option<Duration>,
    /// `abort [after D]`: stop the run when the rule fails, once the grace period has passed.
    pub abort: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// Percentile 0–100 (100 = max) of a latency distribution.
    Latency {
        percentile: f64,
        of: Target,
    },
    ErrorRate {
        of: Target,
    },
    /// Visits reaching `stage` over visits reaching `over`.
    Conversion {
        stage: Stage,
        over: Stage,
    },
    LateArrivals,
}

/// Whose latency or errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A step, by the name the journey file gives it.
    Step(String),
    /// Whole visits, from intended start to outcome (latency only).
    Visit,
    AllSteps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A rule that cannot be used, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub rule: String,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "threshold \"{}\": {}", self.rule, self.message)
    }
}

impl std::error::Error for RuleError {}

impl RuleError {
    /// The same problem, naming the whole rule it was found in.
    fn in_rule(self, rule: &str) -> RuleError {
        RuleError {
            rule: rule.to_string(),
            message: self.message,
        }
    }
}

/// A problem found in a part of a rule; `parse` names the whole rule.
impl From<String> for RuleError {
    fn from(message: String) -> Self {
        RuleError {
            rule: String::new(),
            message,
        }
    }
}

impl From<&str> for RuleError {
    fn from(message: &str) -> Self {
        message.to_string().into()
    }
}

impl From<UnitError> for RuleError {
    fn from(e: UnitError) -> Self {
        e.to_string().into()
    }
}

impl Metric {
    pub fn is_latency(&self) -> bool {
        matches!(self, Metric::Latency { .. })
    }
}

/// The metric as rules write it, in one spelling: `p95(browse)`, `max(visit)`, `p99` and
/// `error_rate` for all steps, `error_rate(pay)`, `conversion(paid/redirected)`, `late_arrivals`.
/// A verdict carries it as `metric`; [`parse`] reads it back.
impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let of = |target: &Target| match target {
            Target::Step(step) => format!("({step})"),
            Target::Visit => "(visit)".to_string(),
            Target::AllSteps => String::new(),
        };
        match self {
            Metric::Latency {
                percentile,
                of: target,
            } if *percentile == 100.0 => {
                write!(f, "max{}", of(target))
            }
            Metric::Latency {
                percentile,
                of: target,
            } => write!(f, "p{percentile}{}", of(target)),
            Metric::ErrorRate { of: target } => write!(f, "error_rate{}", of(target)),
            Metric::Conversion { stage, over } => {
                write!(f, "conversion({}/{})", stage.name(), over.name())
            }
            Metric::LateArrivals => f.write_str("late_arrivals"),
        }
    }
}

impl Rule {
    /// The step the rule is about, if it names one.
    pub fn step(&self) -> Option<&str> {
        match &self.metric {
            Metric::Latency {
                of: Target::Step(step),
                ..
            }
            | Metric::ErrorRate {
                of: Target::Step(step),
            } => Some(step),
            _ => None,
        }
    }

    /// Refuse a rule about a step the run does not have (`steps`, the journey file's), so that a
    /// typo is an error rather than a rule with nothing to judge.
    pub fn check_step(&self, steps: &[&str]) -> Result<(), RuleError> {
        match self.step() {
            Some(step) if !steps.contains(&step) => Err(RuleError {
                rule: self.text.clone(),
                message: format!(
                    "unknown step `{step}`: the journeys' steps are {}; or use visit or all",
                    steps.join(", ")
                ),
            }),
            _ => Ok(()),
        }
    }

    /// A conversion between stages no journey proves would judge nothing but zeros.
    pub fn check_stages(&self, proved: &[Stage]) -> Result<(), RuleError> {
        let Metric::Conversion { stage, over } = &self.metric else {
            return Ok(());
        };
        match [over, stage]
            .into_iter()
            .find(|s| **s != Stage::Visits && !proved.contains(s))
        {
            Some(missing) => Err(RuleError {
                rule: self.text.clone(),
                message: format!(
                    "no journey proves stage `{}`: the journeys prove {}",
                    missing.name(),
                    Stage::list(proved)
                ),
            }),
            None => Ok(()),
        }
    }

    /// The limit as written for people: `< 800 ms`, `>= 95%`.
    pub fn limit_text(&self) -> String {
        format!("{} {}", self.op.symbol(), self.format_value(self.limit))
    }

    /// A value of this rule's metric, for people.
    pub fn format_value(&self, value: f64) -> String {
        if self.metric.is_latency() {
            format!("{value:.1} ms")
        } else {
            format!("{:.2}%", value * 100.0)
        }
    }
}

const GRAMMAR: &str = "write e.g. \"p95(browse) < 800ms\", \"error_rate(eligibility) < 1%\", \
\"conversion(paid/redirected) >= 95%\", \"late_arrivals < 0.5%\" or \"p99(eligibility) < 2s in every 1m\"";

/// Parse one rule.
pub fn parse(text: &str) -> Result<Rule, RuleError> {
    let text = text.trim();
    let fail = |message: String| RuleError {
        rule: text.to_string(),
        message,
    };
    let op_at = text
        .find(['<', '>'])
        .ok_or_else(|| fail(format!("no comparison (<, <=, > or >=); {GRAMMAR}")))?;
    let (left, right) = text.split_at(op_at);
    let (op, right) = if let Some(rest) = right.strip_prefix("<=") {
        (Op::Le, rest)
    } else if let Some(rest) = right.strip_prefix(">=") {
        (Op::Ge, rest)
    } else if let Some(rest) = right.strip_prefix('<') {
        (Op::Lt, rest)
    } else {
        (Op::Gt, &right[1..])
    };
    let metric = parse_metric(left.trim()).map_err(|e| e.in_rule(text))?;

    let mut words = right.split_whitespace();
    let value = words
        .next()
        .ok_or_else(|| fail("no limit after the comparison".into()))?;
    let limit = parse_limit(&metric, value).map_err(|e| e.in_rule(text))?;
    let (mut window, mut abort) = (None, None);
    let rest: Vec<&str> = words.collect();
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            "in" if rest.get(i + 1) == Some(&"every") => {
                let length = rest.get(i + 2).ok_or_else(|| {
                    fail("`in every` needs a window length, e.g. `in every 1m`".into())
                })?;
                let length = parse_duration(length).map_err(|e| fail(e.to_string()))?;
                if length.is_zero() {
                    return Err(fail("the window must be longer than 0".into()));
                }
                window = Some(length);
                i += 3;
            }
            "abort" => {
                abort = Some(Duration::ZERO);
                i += 1;
                if rest.get(i) == Some(&"after") {
                    let grace = rest.get(i + 1).ok_or_else(|| {
                        fail("`abort after` needs a grace period, e.g. `abort after 30s`".into())
                    })?;
                    abort = Some(parse_duration(grace).map_err(|e| fail(e.to_string()))?);
                    i += 2;
                }
            }
            other => return Err(fail(format!("unexpected `{other}`; {GRAMMAR}"))),
        }
    }
    Ok(Rule {
        text: text.to_string(),
        metric,
        op,
        limit,
        window,
        abort,
    })
}

fn parse_metric(text: &str) -> Result<Metric, RuleError> {
    let (name, argument) = match text.split_once('(') {
        Some((name, rest)) => {
            let argument = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("`{text}` has no closing parenthesis"))?;
            (name.trim(), Some(argument.trim()))
        }
        None => (text, None),
    };
    match name {
        "error_rate" => Ok(Metric::ErrorRate {
            of: parse_target(argument, false)?,
        }),
        "conversion" => {
            let argument =
                argument.ok_or("conversion needs two stages, e.g. conversion(paid/redirected)")?;
            let (stage, over) = argument
                .split_once('/')
                .ok_or("conversion needs two stages, e.g. conversion(paid/redirected)")?;
            let (stage, over) = (parse_stage(stage.trim())?, parse_stage(over.trim())?);
            if stage <= over {
                return Err(format!(
                    "conversion({}/{}): the first stage must come after the second in the funnel",
                    stage.name(),
                    over.name()
                )
                .into());
            }
            Ok(Metric::Conversion { stage, over })
        }
        "late_arrivals" => match argument {
            None => Ok(Metric::LateArrivals),
            Some(_) => Err("late_arrivals takes no step".into()),
        },
        "max" => Ok(Metric::Latency {
            percentile: 100.0,
            of: parse_target(argument, true)?,
        }),
        _ => {
            let percentile = name
                .strip_prefix('p')
                .and_then(|p| p.parse::<f64>().ok())
                .filter(|p| *p > 0.0 && *p <= 100.0)
                .ok_or_else(|| {
                    format!(
                        "unknown metric `{name}`: use p50 … p99.9, max, error_rate, conversion or late_arrivals"
                    )
                })?;
            Ok(Metric::Latency {
                percentile,
                of: parse_target(argument, true)?,
            })
        }
    }
}

fn parse_target(argument: Option<&str>, latency: bool) -> Result<Target, RuleError> {
    match argument {
        None | Some("all") => Ok(Target::AllSteps),
        Some("visit") if latency => Ok(Target::Visit),
        Some("visit") => Err("unknown step `visit`: error rates are per step, or all".into()),
        Some(name) => Steps::check_name(name)
            .map(|()| Target::Step(name.to_string()))
            .map_err(|message| format!("unknown step: {message}").into()),
    }
}

fn parse_stage(name: &str) -> Result<Stage, RuleError> {
    Stage::named(name).ok_or_else(|| {
        RuleError::from(format!(
            "unknown funnel stage `{name}`: use {}",
            Stage::list(&Stage::ALL)
        ))
    })
}

fn parse_limit(metric: &Metric, value: &str) -> Result<f64, RuleError> {
    if metric.is_latency() {
        let duration = if value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            // A bare number is milliseconds, as in Goose's thresholds.
            parse_duration(&format!("{value}ms"))?
        } else if let Some(micros) = value.strip_suffix("us") {
            let micros: f64 = micros
                .parse()
                .map_err(|_| format!("`{value}` is not a duration"))?;
            duration_of_seconds(micros / 1e6, value)?
        } else {
            parse_duration(value)?
        };
        return Ok(duration.as_secs_f64() * 1000.0);
    }
    // `error_rate < 1` would read as 100 %, a rule that never fails: a bare number is refused
    // from 1 up.
    let rate = parse_percent(value).map_err(|e| match e {
        UnitError::NotAPercentage(_) => format!("`{value}` is not a rate; write e.g. 1% or 0.01"),
        e => e.to_string(),
    })?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!("`{value}` is not a rate between 0% and 100%").into());
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_is_written_in_one_spelling_that_parses_back() {
        for (rule, metric) in [
            ("p95(browse) < 800ms", "p95(browse)"),
            ("p99.9( visit ) < 2s", "p99.9(visit)"),
            ("max(pay) <= 5s", "max(pay)"),
            ("p50(all) < 1s", "p50"),
            ("error_rate < 1%", "error_rate"),
            ("error_rate(eligibility) < 1%", "error_rate(eligibility)"),
            (
                "conversion(paid/redirected) >= 95%",
                "conversion(paid/redirected)",
            ),
            ("late_arrivals < 0.5%", "late_arrivals"),
        ] {
            let parsed = parse(rule).unwrap();
            assert_eq!(parsed.metric.to_string(), metric, "{rule}");
            let again =
                parse(&format!("{metric} < 1%")).or_else(|_| parse(&format!("{metric} < 1s")));
            assert_eq!(again.unwrap().metric, parsed.metric, "{rule}");
        }
    }

    #[test]
    fn the_documented_examples_parse() {
        let rule = parse("p95(browse) < 800ms").unwrap();
        assert_eq!(
            rule.metric,
            Metric::Latency {
                percentile: 95.0,
                of: Target::Step("browse".into())
            }
        );
        assert_eq!((rule.op, rule.limit, rule.window), (Op::Lt, 800.0, None));

        let rule = parse("error_rate(eligibility) < 1%").unwrap();
        assert_eq!(
            rule.metric,
            Metric::ErrorRate {
                of: Target::Step("eligibility".into())
            }
        );
        assert!((rule.limit - 0.01).abs() < 1e-12);

        let rule = parse("conversion(paid/redirected) >= 95%").unwrap();
        assert_eq!(
            rule.metric,
            Metric::Conversion {
                stage: Stage::Paid,
                over: Stage::Redirected
            }
        );
        assert_eq!(rule.op, Op::Ge);

        assert_eq!(
            parse("late_arrivals < 0.5%").unwrap().metric,
            Metric::LateArrivals
        );

        let rule = parse("p99(eligibility) < 2s in every 1m").unwrap();
        assert_eq!(
            (rule.limit, rule.window),
            (2000.0, Some(Duration::from_secs(60)))
        );

        let rule = parse("p99.9 <= 250 abort after 30s").unwrap();
        assert_eq!(
            rule.metric,
            Metric::Latency {
                percentile: 99.9,
                of: Target::AllSteps
            }
        );
        assert_eq!(
            (rule.limit, rule.abort),
            (250.0, Some(Duration::from_secs(30)))
        );

        assert_eq!(
            parse("max(visit) < 10s").unwrap().metric,
            Metric::Latency {
                percentile: 100.0,
                of: Target::Visit
            }
        );
    }

    #[test]
    fn broken_rules_are_refused_naming_the_problem() {
        for (text, wanted) in [
            ("p95(Browse!) < 800ms", "not a step name"),
            ("p95(browse) 800ms", "no comparison"),
            ("latency(browse) < 800ms", "unknown metric `latency`"),
            ("error_rate(browse) < lots", "not a rate"),
            ("error_rate(browse) < 150%", "between 0% and 100%"),
            ("error_rate < 1", "write 1% for 1 percent"),
            ("p95(browse) < 800ms in every", "window length"),
            ("conversion(redirected/paid) > 50%", "must come after"),
            (
                "conversion(payed/redirected) > 50%",
                "unknown funnel stage `payed`",
            ),
            ("p95(browse) < 800ms please", "unexpected `please`"),
            ("error_rate(visit) < 1%", "unknown step `visit`"),
            // Durations too long to wait, or not durations: refused, never a panic.
            ("p95(browse) < 1e20s", "at most 8760h"),
            ("p95(browse) < 1e30us", "at most 8760h"),
            ("p95(browse) < infus", "at most 8760h"),
            ("p95(browse) < -5us", "not a duration"),
            ("p95(browse) < NaNus", "not a duration"),
            ("p95(browse) < 100000000000000000000", "at most 8760h"),
            ("p95(browse) < 2s in every 1e20s", "at most 8760h"),
            ("p95(browse) < 2s abort after 1e20s", "at most 8760h"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.message.contains(wanted), "{text}: {err}");
            assert_eq!(err.rule, text);
        }
    }

    #[test]
    fn a_rule_may_name_any_step_of_the_journey_file_and_no_other() {
        let steps = ["login", "browse", "pay"];
        let login = parse("p95(login) < 300ms").unwrap();
        assert_eq!(login.step(), Some("login"));
        assert!(login.check_step(&steps).is_ok());
        assert!(parse("error_rate < 1%").unwrap().check_step(&steps).is_ok());
        assert!(parse("p99(visit) < 9s").unwrap().check_step(&steps).is_ok());

        let err = parse("p95(brwse) < 800ms")
            .unwrap()
            .check_step(&steps)
            .unwrap_err();
        assert!(
            err.message
                .contains("unknown step `brwse`: the journeys' steps are login, browse, pay"),
            "{err}"
        );
        assert_eq!(err.rule, "p95(brwse) < 800ms");
    }
}
