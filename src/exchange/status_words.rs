//! What an insurer calls the state of an enrollment. The embedded insurers answer in surge's own
//! words (`effectuated`, `awaiting_payment`, `awaiting_834`); a real insurer has its own (`ACTIVE`,
//! `PENDING_PAYMENT`, …), and a journey file must translate them (`[enrollment] status_map`) or
//! count nobody covered. `surge exchange --status-words effectuated=ACTIVE,…` makes the embedded
//! insurers answer in other words, so that translation can be rehearsed.

use std::str::FromStr;

/// What an insurer holds for an enrollment, in surge's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It holds the 834 and the binder payment: the applicant is covered.
    Effectuated,
    /// It holds the 834, not the payment.
    AwaitingPayment,
    /// It holds the payment (or an 834 it cannot use), not a usable 834.
    Awaiting834,
}

impl Status {
    pub const ALL: [Status; 3] = [
        Status::Effectuated,
        Status::AwaitingPayment,
        Status::Awaiting834,
    ];

    /// surge's word for it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Effectuated => "effectuated",
            Status::AwaitingPayment => "awaiting_payment",
            Status::Awaiting834 => "awaiting_834",
        }
    }
}

/// The word the insurers answer for each [`Status`]; surge's own unless told otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusWords([String; 3]);

impl Default for StatusWords {
    fn default() -> Self {
        StatusWords(Status::ALL.map(|status| status.label().to_string()))
    }
}

impl StatusWords {
    /// The insurers' word for `status`.
    pub fn word(&self, status: Status) -> &str {
        &self.0[status as usize]
    }
}

/// A `--status-words` list that cannot be used; each message quotes the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusWordsError {
    #[error("`{0}` is not STATUS=WORD (e.g. effectuated=ACTIVE)")]
    NotAPair(String),
    #[error("`{0}` is not a status: the statuses are effectuated, awaiting_payment, awaiting_834")]
    UnknownStatus(String),
    #[error("`{0}` is given twice")]
    StatusTwice(String),
    #[error("`{status}={word}`: a word is letters, digits, `_` or `-` (no spaces)")]
    BadWord { status: String, word: String },
    #[error("`{word}` names both {first} and {second}: an insurer's word must name one status")]
    WordTwice {
        word: String,
        first: &'static str,
        second: &'static str,
    },
}

impl FromStr for StatusWords {
    type Err = StatusWordsError;

    /// `effectuated=ACTIVE,awaiting_payment=PENDING_PAYMENT`; a status left out keeps surge's word.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut words = StatusWords::default();
        let mut given = [false; 3];
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, word) = pair
                .split_once('=')
                .map(|(n, w)| (n.trim(), w.trim()))
                .ok_or_else(|| StatusWordsError::NotAPair(pair.to_string()))?;
            let status = Status::ALL
                .into_iter()
                .find(|s| s.label() == name)
                .ok_or_else(|| StatusWordsError::UnknownStatus(name.to_string()))?;
            if std::mem::replace(&mut given[status as usize], true) {
                return Err(StatusWordsError::StatusTwice(name.to_string()));
            }
            let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if word.is_empty() || !word.chars().all(plain) {
                return Err(StatusWordsError::BadWord {
                    status: name.to_string(),
                    word: word.to_string(),
                });
            }
            words.0[status as usize] = word.to_string();
        }
        for (i, first) in Status::ALL.into_iter().enumerate() {
            for second in Status::ALL.into_iter().skip(i + 1) {
                if words.word(first) == words.word(second) {
                    return Err(StatusWordsError::WordTwice {
                        word: words.word(first).to_string(),
                        first: first.label(),
                        second: second.label(),
                    });
                }
            }
        }
        Ok(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insurer_answers_in_its_own_words() {
        let words: StatusWords =
            "effectuated=ACTIVE, awaiting_payment=PENDING_PAYMENT,awaiting_834=PENDING_834"
                .parse()
                .unwrap();
        assert_eq!(words.word(Status::Effectuated), "ACTIVE");
        assert_eq!(words.word(Status::AwaitingPayment), "PENDING_PAYMENT");
        assert_eq!(words.word(Status::Awaiting834), "PENDING_834");
        let some: StatusWords = "effectuated=ACTIVE".parse().unwrap();
        assert_eq!(some.word(Status::Effectuated), "ACTIVE");
        assert_eq!(
            some.word(Status::Awaiting834),
            "awaiting_834",
            "a status left out keeps surge's word"
        );
        assert_eq!(
            StatusWords::default().word(Status::AwaitingPayment),
            "awaiting_payment"
        );
    }

    #[test]
    fn a_list_that_cannot_be_used_says_which_part() {
        for (text, message) in [
            (
                "effectuated",
                "`effectuated` is not STATUS=WORD (e.g. effectuated=ACTIVE)",
            ),
            (
                "active=ACTIVE",
                "`active` is not a status: the statuses are effectuated, awaiting_payment, awaiting_834",
            ),
            (
                "effectuated=A,effectuated=B",
                "`effectuated` is given twice",
            ),
            (
                "effectuated=IN FORCE",
                "`effectuated=IN FORCE`: a word is letters, digits, `_` or `-` (no spaces)",
            ),
            (
                "effectuated=",
                "`effectuated=`: a word is letters, digits, `_` or `-` (no spaces)",
            ),
            (
                "effectuated=PENDING,awaiting_834=PENDING",
                "`PENDING` names both effectuated and awaiting_834: an insurer's word must name one status",
            ),
            (
                "awaiting_payment=awaiting_834",
                "`awaiting_834` names both awaiting_payment and awaiting_834: an insurer's word must name one status",
            ),
        ] {
            let e = text.parse::<StatusWords>().expect_err(text);
            assert_eq!(e.to_string(), message, "{text}");
        }
    }
}
