//! A name, a step and a funnel stage for each kept request, suggested from its route. The names
//! come from the path's words (`/api/v1/plans/search` is `plans_search`); the steps are the ones
//! the shipped journeys use (`browse`, `eligibility`, `select`, `redirect`, `pay`, `confirm`, and
//! `login`), chosen by the words an exchange's routes are made of; a stage is suggested where the
//! route matches the funnel's words (docs/journeys.md §3), for the user to confirm, since only they
//! know which request proves it.

use super::recorded::{Recorded, SentBody};
use crate::vocab::Stage;

/// What the conversion suggests for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub name: String,
    pub step: &'static str,
    pub stage: Option<Stage>,
}

/// Words a path is made of that name nothing.
const FILLER: [&str; 6] = ["api", "by", "of", "for", "rest", "the"];

/// Names, steps and stages for the kept requests, in order.
pub fn suggest(kept: &[Recorded]) -> Vec<Suggestion> {
    let mut paid_before = false;
    let mut taken: Vec<String> = Vec::new();
    let mut out: Vec<Suggestion> = kept
        .iter()
        .map(|recorded| {
            let step = step_of(recorded, paid_before);
            paid_before |= step == "pay";
            let name = unique(name_of(recorded), &taken);
            taken.push(name.clone());
            Suggestion {
                name,
                step,
                stage: None,
            }
        })
        .collect();
    suggest_stages(kept, &mut out);
    out
}

/// The route's words: path segments in lower case, split at anything but letters and digits.
fn words(recorded: &Recorded) -> Vec<String> {
    recorded
        .url
        .path()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn step_of(recorded: &Recorded, paid_before: bool) -> &'static str {
    let words = words(recorded);
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let pay_now = words
        .windows(2)
        .any(|pair| pair[0] == "pay" && pair[1] == "now");
    let posts_saml = match &recorded.body {
        SentBody::Form(fields) => fields
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("SAMLResponse")),
        _ => false,
    };
    if pay_now || posts_saml || has(&["paynow", "saml", "sso", "landing", "handoff"]) {
        "redirect"
    } else if has(&["payment", "payments", "pay", "checkout", "binder"]) {
        "pay"
    } else if has(&[
        "status",
        "effectuation",
        "effectuated",
        "coverage",
        "confirm",
        "confirmation",
    ]) || (paid_before
        && recorded.method == "GET"
        && has(&["enrollment", "enrollments", "policy", "policies"]))
    {
        "confirm"
    } else if has(&["eligibility", "estimate", "estimates", "aptc", "csr"]) {
        "eligibility"
    } else if has(&[
        "selection",
        "select",
        "application",
        "applications",
        "enroll",
        "enrollment",
        "enrollments",
        "cart",
    ]) {
        "select"
    } else if has(&[
        "login", "signin", "logon", "oauth", "auth", "session", "token",
    ]) {
        "login"
    } else {
        "browse"
    }
}

/// Whether a path segment is a value (an id, a ZIP code, a version) rather than a word.
fn is_value(segment: &str) -> bool {
    segment.chars().any(|c| c.is_ascii_digit()) || segment.len() > 24
}

/// The last two words of the path that are not values (`plans_search`), `home` for `/`.
fn name_of(recorded: &Recorded) -> String {
    let segments: Vec<String> = recorded
        .url
        .path()
        .split('/')
        .filter(|s| !s.is_empty() && !is_value(s))
        .map(|s| {
            let stem = s.rsplit_once('.').map_or(s, |(stem, _)| stem);
            stem.to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
                .trim_matches('_')
                .to_string()
        })
        .filter(|s| !s.is_empty() && !FILLER.contains(&s.as_str()))
        .collect();
    let last_two = &segments[segments.len().saturating_sub(2)..];
    if last_two.is_empty() {
        return if recorded.url.path() == "/" {
            "home".to_string()
        } else {
            recorded.method.to_ascii_lowercase()
        };
    }
    last_two.join("_")
}

fn unique(name: String, taken: &[String]) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    candidate
}

/// Each funnel stage on the request that most likely proves it, once, in funnel order.
fn suggest_stages(kept: &[Recorded], out: &mut [Suggestion]) {
    let first = |step: &str| out.iter().position(|s| s.step == step);
    let last = |step: &str| out.iter().rposition(|s| s.step == step);
    let mut chosen: Vec<(usize, Stage)> = Vec::new();
    // Browsed: the last look around before the visitor did anything else.
    let first_other = out
        .iter()
        .position(|s| s.step != "browse" && s.step != "login");
    let browsed = match first_other {
        Some(end) => out[..end].iter().rposition(|s| s.step == "browse"),
        None => last("browse"),
    };
    chosen.extend(browsed.map(|i| (i, Stage::Browsed)));
    chosen.extend(first("eligibility").map(|i| (i, Stage::Eligibility)));
    let selection = out.iter().position(|s| {
        s.step == "select" && s.name.split('_').any(|w| w == "selection" || w == "select")
    });
    chosen.extend(
        selection
            .or_else(|| last("select"))
            .map(|i| (i, Stage::Selected)),
    );
    let landing = out
        .iter()
        .zip(kept)
        .position(|(s, r)| s.step == "redirect" && r.method == "POST");
    chosen.extend(
        landing
            .or_else(|| last("redirect"))
            .map(|i| (i, Stage::Redirected)),
    );
    chosen.extend(first("pay").map(|i| (i, Stage::Paid)));
    chosen.extend(first("confirm").map(|i| (i, Stage::Effectuated)));
    // Funnel order: a stage suggested before an earlier stage's request is dropped.
    let mut at = 0;
    for (index, stage) in chosen {
        if index >= at {
            out[index].stage = Some(stage);
            at = index + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, body: SentBody) -> Recorded {
        Recorded {
            body,
            ..Recorded::fixture(method, &format!("http://ex{path}"))
        }
    }

    #[test]
    fn the_embedded_exchanges_routes_get_the_shipped_steps_and_stages() {
        let saml = SentBody::Form(vec![("SAMLResponse".into(), "x".into())]);
        let kept = [
            request("GET", "/app", SentBody::None),
            request("GET", "/api/v1/counties/by/zip/27601", SentBody::None),
            request("POST", "/api/v1/plans/search", SentBody::None),
            request("GET", "/api/v1/plans/12345NC0010001", SentBody::None),
            request(
                "POST",
                "/api/v1/households/eligibility/estimates",
                SentBody::None,
            ),
            request("POST", "/api/v1/enrollment/applications", SentBody::None),
            request(
                "POST",
                "/api/v1/enrollment/applications/A0001/selection",
                SentBody::None,
            ),
            request(
                "GET",
                "/api/v1/enrollment/0000000000001/pay-now",
                SentBody::None,
            ),
            request("POST", "/issuers/12345/pay-now", saml),
            request("POST", "/issuers/12345/payments", SentBody::None),
            request(
                "GET",
                "/issuers/12345/enrollments/0000000000001",
                SentBody::None,
            ),
            request("GET", "/api/v1/plans/12345NC0010002", SentBody::None),
        ];
        let got: Vec<(String, &str, Option<&str>)> = suggest(&kept)
            .into_iter()
            .map(|s| (s.name, s.step, s.stage.map(Stage::name)))
            .collect();
        let want = [
            ("app", "browse", None),
            ("counties_zip", "browse", None),
            ("plans_search", "browse", None),
            ("plans", "browse", Some("browsed")),
            ("eligibility_estimates", "eligibility", Some("eligibility")),
            ("enrollment_applications", "select", None),
            ("applications_selection", "select", Some("selected")),
            ("enrollment_pay_now", "redirect", None),
            ("issuers_pay_now", "redirect", Some("redirected")),
            ("issuers_payments", "pay", Some("paid")),
            ("issuers_enrollments", "confirm", Some("effectuated")),
            ("plans_2", "browse", None),
        ];
        let want: Vec<(String, &str, Option<&str>)> = want
            .into_iter()
            .map(|(n, s, st)| (n.to_string(), s, st))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn login_and_root_are_named_and_browsing_alone_is_browsed_at_its_end() {
        let kept = [
            request("GET", "/", SentBody::None),
            request("POST", "/oauth/token", SentBody::None),
            request("GET", "/v2/1234", SentBody::None),
        ];
        let got: Vec<_> = suggest(&kept)
            .into_iter()
            .map(|s| (s.name, s.step, s.stage))
            .collect();
        assert_eq!(
            got,
            [
                ("home".to_string(), "browse", None),
                ("oauth_token".to_string(), "login", None),
                ("get".to_string(), "browse", Some(Stage::Browsed)),
            ]
        );
    }
}
