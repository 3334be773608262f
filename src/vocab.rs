//! The words every layer shares: the steps every request belongs to (named by the journey file),
//! the funnel stages a visit reaches, and how a request ended. A leaf: it imports nothing of the
//! crate. Tables sized by these (`[u64; Stage::COUNT]`, one entry per step) follow the vocabulary,
//! not hand-written sizes.

/// A step of a journey, by its place in the run's [`Steps`]: every HTTP request belongs to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId(u16);

impl StepId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The most steps a run may have: each is a pair of columns in `timeline.csv` and a panel per chart.
pub const MAX_STEPS: usize = 64;

/// The steps of a run, named by its journey file (`step = "browse"`, `step = "login"`), in the order
/// they first appear there. They size the recorder's tables, name the timeline's step columns and the
/// interval log's tags, and order the report's panels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steps {
    names: Vec<String>,
}

impl Steps {
    /// Steps with these names, in this order (duplicates kept once).
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> Steps {
        let mut steps = Steps::default();
        for name in names {
            steps.add(name);
        }
        steps
    }

    /// The step called `name`, added at the end if new. Names are checked by [`Steps::check_name`]
    /// before they get here.
    pub fn add(&mut self, name: &str) -> StepId {
        let index = match self.names.iter().position(|n| n == name) {
            Some(index) => index,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        };
        StepId(index as u16)
    }

    pub fn named(&self, name: &str) -> Option<StepId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| StepId(i as u16))
    }

    pub fn name(&self, step: StepId) -> &str {
        &self.names[step.index()]
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every step with its name, in order.
    pub fn iter(&self) -> impl Iterator<Item = (StepId, &str)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, name)| (StepId(i as u16), name.as_str()))
    }

    /// Why `name` cannot name a step, if it cannot: a step name becomes CSV column names
    /// (`NAME_requests`), an interval-log tag and a threshold's argument (`p95(NAME)`), so it is a
    /// lowercase word: letters, digits, `_` and `-`, starting with a letter, at most 40 characters.
    /// `visit` and `all` mean something else in those places.
    pub fn check_name(name: &str) -> Result<(), StepNameError> {
        let word = name.len() <= 40
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !word {
            return Err(StepNameError::NotAWord(name.to_string()));
        }
        if matches!(name, "visit" | "all") {
            return Err(StepNameError::Reserved(name.to_string()));
        }
        Ok(())
    }
}

/// Why a name cannot name a step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepNameError {
    #[error(
        "`{0}` is not a step name: use a lowercase word (letters, digits, `_`, `-`; \
         starting with a letter; at most 40 characters), e.g. `browse` or `login`"
    )]
    NotAWord(String),
    #[error(
        "`{0}` cannot name a step: `visit` is the whole visit and `all` every step \
         in thresholds and the interval log"
    )]
    Reserved(String),
}

/// Stages of the enrollment funnel, in order; a visit that reaches a stage reached every earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Visits,
    Browsed,
    Eligibility,
    Selected,
    Redirected,
    Paid,
    Effectuated,
}

impl Stage {
    pub const COUNT: usize = 7;

    pub const ALL: [Stage; Stage::COUNT] = [
        Stage::Visits,
        Stage::Browsed,
        Stage::Eligibility,
        Stage::Selected,
        Stage::Redirected,
        Stage::Paid,
        Stage::Effectuated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Visits => "visits",
            Stage::Browsed => "browsed",
            Stage::Eligibility => "eligibility",
            Stage::Selected => "selected",
            Stage::Redirected => "redirected",
            Stage::Paid => "paid",
            Stage::Effectuated => "effectuated",
        }
    }

    /// The stage with this name, if any.
    pub fn named(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.name() == name)
    }

    /// Stages' names for a message: `browsed, eligibility, selected`.
    pub fn list(stages: &[Stage]) -> String {
        stages
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How a request ended, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP status; the class is its hundreds digit.
    Status(u16),
    Timeout,
    Connect,
    /// The connection failed after it was made: reset, a body cut short, a reply too large, a
    /// redirect refused.
    Transport,
}

impl Outcome {
    /// Outcome classes counted per step and interval (`OUTCOME_CLASSES`).
    pub const CLASS_COUNT: usize = 7;

    /// Index into `OUTCOME_CLASSES`.
    pub fn class_index(self) -> usize {
        match self {
            Outcome::Status(s) if (200..300).contains(&s) => 0,
            Outcome::Status(s) if (300..400).contains(&s) => 1,
            Outcome::Status(s) if (400..500).contains(&s) => 2,
            Outcome::Status(_) => 3,
            Outcome::Timeout => 4,
            Outcome::Connect => 5,
            Outcome::Transport => 6,
        }
    }
}

/// The header every request of a surge visit carries: the visit's id (so an exchange's logs, and
/// the embedded exchange's fault draws, can tell visits apart).
pub const VISIT_HEADER: &str = "x-surge-visit";
/// The header every request of a surge visit carries: its place in the visit (0, 1, …; a request
/// re-sent after a waiting room's hold keeps its number).
pub const REQUEST_HEADER: &str = "x-surge-request";

/// Names of the outcome classes, in `Outcome::class_index` order.
pub const OUTCOME_CLASSES: [&str; Outcome::CLASS_COUNT] = [
    "2xx",
    "3xx",
    "4xx",
    "5xx",
    "timeout",
    "connect",
    "transport",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_the_order_they_are_first_named_in() {
        let mut steps = Steps::default();
        let login = steps.add("login");
        let browse = steps.add("browse");
        assert_eq!(
            steps.add("login"),
            login,
            "a name already there is the same step"
        );
        assert_eq!(steps.names(), ["login", "browse"]);
        assert_eq!(
            (steps.name(browse), steps.named("browse")),
            ("browse", Some(browse))
        );
        assert_eq!(steps.named("pay"), None);
    }

    #[test]
    fn a_step_name_is_a_word_a_column_and_a_tag_can_carry() {
        for good in ["browse", "login", "upload-2", "step_9"] {
            assert_eq!(Steps::check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Login",
            "2fa",
            "log in",
            "a,b",
            "pay=1",
            &"x".repeat(41),
        ] {
            assert!(Steps::check_name(bad).is_err(), "{bad:?} was accepted");
        }
        for reserved in ["visit", "all"] {
            let err = Steps::check_name(reserved).unwrap_err();
            assert!(err.to_string().contains("cannot name a step"), "{err}");
        }
    }
}
