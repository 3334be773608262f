//! How an 834 names the applicant a visit wrote down, and whether the two sides' ids met at all.
//!
//! An exchange's 834 carries the Payment Transaction ID under a `REF` qualifier (`1L` by default),
//! in its own form: padded to 13 digits or not, upper or lower case, inside a longer reference
//! (`PT-123/2026`). The scenario's `[cracks]` says how to read both sides alike; an id is reduced
//! to its key (the pattern's first group, leading zeros dropped, lower case) before comparing.
//!
//! Ids of two different forms do not fail loudly: every applicant would land in `paid_no_834`
//! and the report would blame the insurers. So a reconciliation that matches under half of the
//! paid applicants says so in words, with an id of each side and the key that would match them.

use std::collections::HashSet;

use regex::Regex;

use crate::rundir::enrollments::Enrollment;
use crate::rundir::summary::{MatchExamples, MatchReport};
use crate::scenario::{CracksKeyError, CracksSpec};

use super::InsurerRecords;

/// How an 834's ids are read and compared with the visits', and what an 834 must carry.
#[derive(Debug, Clone)]
pub struct Matching {
    /// The `REF` qualifier carrying the Payment Transaction ID (`1L` the exchange's policy id,
    /// `17`, `0F`, …).
    pub reference: String,
    /// `0000000012345` is `12345` (ideacrew pads the id to 13 digits; others do not).
    pub ignore_leading_zeros: bool,
    /// `pt-123` is `PT-123`.
    pub ignore_case: bool,
    /// The id is this pattern's first capture group, on both sides; an id it does not match is
    /// kept whole.
    pub id_pattern: Option<Regex>,
    /// Whether this exchange's 834s carry premium loops (`N1*75*PRE AMT TOT`). Without them an
    /// 834 is complete as it is.
    pub premiums: bool,
}

impl Default for Matching {
    fn default() -> Self {
        Self {
            reference: "1L".into(),
            ignore_leading_zeros: false,
            ignore_case: false,
            id_pattern: None,
            premiums: true,
        }
    }
}

impl Matching {
    /// The scenario's `[cracks]` (or the command line's flags over it), checked.
    pub fn from_spec(spec: &CracksSpec) -> Result<Matching, CracksKeyError> {
        let id_pattern = spec.check()?;
        Ok(Matching {
            reference: spec.reference.clone(),
            ignore_leading_zeros: spec.ignore_leading_zeros,
            ignore_case: spec.ignore_case,
            id_pattern,
            premiums: spec.premiums,
        })
    }

    /// The form both sides' ids are compared in.
    pub fn key(&self, id: &str) -> String {
        let id = id.trim();
        let id = self
            .id_pattern
            .as_ref()
            .and_then(|pattern| pattern.captures(id))
            .and_then(|found| found.get(1))
            .map_or(id, |group| group.as_str());
        let id = match self.ignore_leading_zeros {
            true => match id.trim_start_matches('0') {
                "" if !id.is_empty() => "0",
                trimmed => trimmed,
            },
            false => id,
        };
        match self.ignore_case {
            true => id.to_lowercase(),
            false => id.to_string(),
        }
    }

    /// How ids are matched, for people: `REF*1L, leading zeros ignored`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("REF*{}", self.reference)];
        if let Some(pattern) = &self.id_pattern {
            parts.push(format!("the id taken by '{}'", pattern.as_str()));
        }
        if self.ignore_leading_zeros {
            parts.push("leading zeros ignored".into());
        }
        if self.ignore_case {
            parts.push("case ignored".into());
        }
        if !self.premiums {
            parts.push("834s without premium loops".into());
        }
        parts.join(", ")
    }
}

/// How many paid applicants (`applicants` in visit order) an 834 holds, and, when under half, the
/// sentence saying so with an id of each side and the `[cracks]` key that would match them.
pub(super) fn report(applicants: &[&Enrollment], records: &InsurerRecords) -> MatchReport {
    let matching = &records.matching;
    let paid: Vec<&Enrollment> = applicants.iter().copied().filter(|a| a.paid).collect();
    let holds = |a: &Enrollment| !records.held(&a.payment_transaction_id).is_empty();
    let matched = paid.iter().filter(|a| holds(a)).count();
    let mut report = MatchReport {
        rule: matching.describe(),
        paid: paid.len() as u64,
        matched: matched as u64,
        ids_834: records.written.len() as u64,
        ..MatchReport::default()
    };
    if paid.is_empty() || matched * 2 >= paid.len() {
        return report;
    }

    // Would the ids match read another way? The keys not set, alone then together.
    let alternatives = [(true, false), (false, true), (true, true)]
        .into_iter()
        .map(|(zeros, case)| Matching {
            ignore_leading_zeros: matching.ignore_leading_zeros || zeros,
            ignore_case: matching.ignore_case || case,
            ..matching.clone()
        })
        .filter(|other| {
            other.ignore_leading_zeros != matching.ignore_leading_zeros
                || other.ignore_case != matching.ignore_case
        });
    let mut better: Option<(Matching, HashSet<String>, usize)> = None;
    for other in alternatives {
        let keys: HashSet<String> = records.written.iter().map(|id| other.key(id)).collect();
        let count = paid
            .iter()
            .filter(|a| keys.contains(&other.key(&a.payment_transaction_id)))
            .count();
        if count * 2 >= paid.len() && better.as_ref().is_none_or(|b| count > b.2) {
            better = Some((other, keys, count));
        }
    }

    let (edi, visits) = match &better {
        // The pair the other reading matches: the clearest example of the difference.
        Some((other, _, _)) => paid
            .iter()
            .filter(|a| !holds(a))
            .find_map(|a| {
                let key = other.key(&a.payment_transaction_id);
                let edi = records.written.iter().find(|id| other.key(id) == key)?;
                Some((Some(edi.clone()), a.payment_transaction_id.clone()))
            })
            .unwrap_or_default(),
        None => {
            let visit_keys: HashSet<String> = applicants
                .iter()
                .map(|a| matching.key(&a.payment_transaction_id))
                .collect();
            let unmatched_834 = records
                .written
                .iter()
                .find(|id| !visit_keys.contains(&matching.key(id)))
                .or(records.written.first());
            let unmatched_visit = paid.iter().find(|a| !holds(a));
            (
                unmatched_834.cloned(),
                unmatched_visit
                    .map(|a| a.payment_transaction_id.clone())
                    .unwrap_or_default(),
            )
        }
    };
    report.suggestion = better.map(|(other, _, count)| {
        let mut keys = Vec::new();
        if other.ignore_leading_zeros && !matching.ignore_leading_zeros {
            keys.push(("ignore_leading_zeros", "--ignore-leading-zeros"));
        }
        if other.ignore_case && !matching.ignore_case {
            keys.push(("ignore_case", "--ignore-case"));
        }
        format!(
            "with [cracks] {} (or {}), {count} of {} would match",
            keys.iter()
                .map(|(key, _)| format!("{key} = true"))
                .collect::<Vec<_>>()
                .join(" and "),
            keys.iter()
                .map(|(_, flag)| *flag)
                .collect::<Vec<_>>()
                .join(" "),
            paid.len()
        )
    });
    let sides = match &edi {
        Some(edi) => format!("the 834s say {edi}, the visits {visits}"),
        None => format!(
            "the visits say {visits}, and no 834 carries a REF*{}",
            matching.reference
        ),
    };
    let advice = match (&report.suggestion, &edi) {
        (Some(suggestion), _) => suggestion.clone(),
        (None, None) => format!(
            "set [cracks] reference (or --reference) to the REF qualifier that carries the \
             Payment Transaction ID (now {})",
            matching.reference
        ),
        (None, Some(_)) => "if the ids differ in form, [cracks] id_pattern (or --id-pattern) \
                            takes the id out of each side: a regular expression whose first \
                            group is the id"
            .to_string(),
    };
    report.problem = Some(format!(
        "{matched} of {} matched: {sides} (paid applicants whose Payment Transaction ID an 834 \
         carries, read as {}); {advice}. The cracks below compare ids of two different forms",
        paid.len(),
        matching.describe()
    ));
    report.examples = MatchExamples {
        edi,
        visits: Some(visits).filter(|v| !v.is_empty()),
    };
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matching(zeros: bool, case: bool, pattern: Option<&str>) -> Matching {
        Matching {
            ignore_leading_zeros: zeros,
            ignore_case: case,
            id_pattern: pattern.map(|p| Regex::new(p).unwrap()),
            ..Matching::default()
        }
    }

    #[test]
    fn ids_are_reduced_to_the_same_key_on_both_sides() {
        let strict = Matching::default();
        assert_ne!(strict.key("0000123"), strict.key("123"));
        let zeros = matching(true, false, None);
        assert_eq!(zeros.key("0000123"), zeros.key("123"));
        assert_eq!(zeros.key("0000"), "0", "all zeros is the id 0");
        let case = matching(false, true, None);
        assert_eq!(case.key("PT-12a"), case.key("pt-12A"));
        assert_ne!(strict.key("PT-12a"), strict.key("pt-12A"));
        let pattern = matching(true, false, Some(r"PT-(\d+)"));
        assert_eq!(pattern.key("PT-000042/2026"), "42");
        assert_eq!(pattern.key("0000000000042"), "42", "no match: kept whole");
    }

    #[test]
    fn describe_names_every_way_of_matching() {
        assert_eq!(Matching::default().describe(), "REF*1L");
        let all = Matching {
            premiums: false,
            ..matching(true, true, Some(r"PT-(\d+)"))
        };
        assert_eq!(
            all.describe(),
            "REF*1L, the id taken by 'PT-(\\d+)', leading zeros ignored, case ignored, 834s \
             without premium loops"
        );
    }
}
