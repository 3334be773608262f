//! The words every layer shares: the steps every request belongs to,
//! the funnel stages a visit reaches, and how a request ended. A leaf: it imports nothing of the
//! crate. Tables sized by these (`[u64; Step::COUNT]`) follow the vocabulary, not hand-written sizes.

/// A step of a journey: every HTTP request belongs to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Browse,
    Eligibility,
    Select,
    Redirect,
    Pay,
    Confirm,
}

impl Step {
    pub const COUNT: usize = 6;

    pub const ALL: [Step; Step::COUNT] = [
        Step::Browse,
        Step::Eligibility,
        Step::Select,
        Step::Redirect,
        Step::Pay,
        Step::Confirm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Browse => "browse",
            Step::Eligibility => "eligibility",
            Step::Select => "select",
            Step::Redirect => "redirect",
            Step::Pay => "pay",
            Step::Confirm => "confirm",
        }
    }

    /// The step with this name, if any.
    pub fn named(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.name() == name)
    }
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
}

/// How a request ended, by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP status; the class is its hundreds digit.
    Status(u16),
    Timeout,
    Connect,
    /// Any other transport error (reset, body cut short, …).
    Transport,
}

impl Outcome {
    /// Outcome classes counted per step and interval (`OUTCOME_CLASSES`).
    pub const CLASS_COUNT: usize = 6;

    /// Index into `OUTCOME_CLASSES`.
    pub fn class_index(self) -> usize {
        match self {
            Outcome::Status(s) if (200..300).contains(&s) => 0,
            Outcome::Status(s) if (300..400).contains(&s) => 1,
            Outcome::Status(s) if (400..500).contains(&s) => 2,
            Outcome::Status(_) => 3,
            Outcome::Timeout => 4,
            Outcome::Connect | Outcome::Transport => 5,
        }
    }
}

/// Names of the outcome classes, in `Outcome::class_index` order.
pub const OUTCOME_CLASSES: [&str; Outcome::CLASS_COUNT] =
    ["2xx", "3xx", "4xx", "5xx", "timeout", "connect"];
