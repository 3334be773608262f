//! Secrets in a recording, and the `${env:NAME}` that stands for each in the journey file. A
//! recording holds the visitor's credentials as the browser sent them: an API key in every query,
//! an `Authorization` header, a password field, a session cookie the browser had before the
//! recording began. None of them may be written into a file that goes into git; each becomes an
//! environment variable, named after the journey and where the value was sent
//! (`ENROLLMENT_APIKEY`), read when the journey is loaded (docs/journeys.md §2).
//!
//! A value is a secret by the name it is sent under (the words surge's own redaction uses for
//! `[http]` entries) or by its look (a JWT). A value an earlier reply gave is not one: it is
//! correlated instead, and taken from the reply on every visit.

use std::collections::BTreeMap;

use crate::access::secrets::{Secrets as Redactor, REDACTED};

/// Where a value was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    Query,
    Header,
    Cookie,
    /// A field of a JSON or form body.
    Field,
}

impl Place {
    pub fn describe(self, name: &str) -> String {
        match self {
            Place::Query => format!("the `{name}` query parameter"),
            Place::Header => format!("the `{name}` header"),
            Place::Cookie => format!("the `{name}` cookie the browser had before the recording"),
            Place::Field => format!("the `{name}` field of a body"),
        }
    }
}

/// Name words that mark a query parameter or header as a credential (as `[http]` redaction has it).
const CREDENTIAL_WORDS: [&str; 6] = ["key", "token", "secret", "passw", "auth", "session"];
/// Body fields are ordinary data unless their name says credential outright.
const FIELD_WORDS: [&str; 7] = [
    "passw",
    "secret",
    "token",
    "apikey",
    "api_key",
    "private_key",
    "credential",
];
/// Cookies a login leaves behind.
const SESSION_COOKIE_WORDS: [&str; 8] = [
    "sess", "sid", "auth", "token", "jwt", "login", "remember", "key",
];

/// Whether a value sent at `place` under `name` is a secret.
pub fn is_secret(place: Place, name: &str, value: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let by_name = match place {
        Place::Query => has(&CREDENTIAL_WORDS) || matches!(lower.as_str(), "sig" | "signature"),
        Place::Header => {
            has(&CREDENTIAL_WORDS) || matches!(lower.as_str(), "cookie" | "proxy-authorization")
        }
        Place::Cookie => has(&SESSION_COOKIE_WORDS),
        Place::Field => has(&FIELD_WORDS),
    };
    by_name || looks_like_jwt(value)
}

/// `eyJ….….…`: a JSON Web Token, whatever it is sent as.
pub fn looks_like_jwt(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 3
        && value.starts_with("eyJ")
        && parts.iter().all(|p| {
            p.len() >= 4
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '=')
        })
}

/// `Bearer abc` as (`Bearer `, `abc`): the scheme is kept, the credential is the secret.
pub fn split_scheme(value: &str) -> (&str, &str) {
    match value.split_once(' ') {
        Some((scheme, rest))
            if !rest.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            (&value[..scheme.len() + 1], rest)
        }
        _ => ("", value),
    }
}

/// One secret: the variable that holds it, and where the recording sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub env: String,
    pub place: Place,
    pub name: String,
    /// How many kept requests sent it.
    pub requests: usize,
    /// Sent by every request to the exchange: it belongs in the scenario's `[http]`.
    pub shared: bool,
}

/// The secrets of one recording and their variables.
#[derive(Debug, Clone, Default)]
pub struct Vault {
    prefix: String,
    /// Value → its secret.
    by_value: BTreeMap<String, Secret>,
    /// Each secret's finder in every encoding, with its variable, longest secret first; made
    /// again after a secret is added.
    finders: Option<Vec<(Redactor, String)>>,
}

impl Vault {
    /// Variables are named `PREFIX_NAME` (the journey's name, upper case).
    pub fn new(journey: &str) -> Self {
        Self {
            prefix: env_word(journey),
            by_value: BTreeMap::new(),
            finders: None,
        }
    }

    /// The variable for a secret value (the same value keeps one variable wherever it is sent).
    pub fn env_for(&mut self, place: Place, name: &str, value: &str) -> String {
        if let Some(secret) = self.by_value.get(value) {
            return secret.env.clone();
        }
        let stem = format!("{}_{}", self.prefix, env_word(name));
        let taken = |env: &str| self.by_value.values().any(|s| s.env == env);
        let mut env = stem.clone();
        let mut n = 2;
        while taken(&env) {
            env = format!("{stem}_{n}");
            n += 1;
        }
        self.finders = None;
        self.by_value.insert(
            value.to_string(),
            Secret {
                env: env.clone(),
                place,
                name: name.to_string(),
                requests: 0,
                shared: false,
            },
        );
        env
    }

    /// The variable of a secret value, if it is one.
    pub fn env_of(&self, value: &str) -> Option<&str> {
        self.by_value.get(value).map(|s| s.env.as_str())
    }

    /// Count one more request that sent the value.
    pub fn sent(&mut self, value: &str) {
        if let Some(secret) = self.by_value.get_mut(value) {
            secret.requests += 1;
        }
    }

    /// Mark the value as one every request to the exchange sends.
    pub fn share(&mut self, value: &str) {
        if let Some(secret) = self.by_value.get_mut(value) {
            secret.shared = true;
        }
    }

    /// `text` with every secret value in it replaced by its `${env:NAME}`, raw or encoded (a key
    /// percent-encoded inside a return URL, base64 in a Basic credential).
    pub fn scrub(&mut self, text: &str) -> String {
        let finders = self.finders.get_or_insert_with(|| {
            let mut secrets: Vec<(&String, &Secret)> = self.by_value.iter().collect();
            // Longest first, so a secret inside another cannot leave part of it behind.
            secrets.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
            // A short value's encodings would match ordinary text: it is replaced only as it is.
            secrets
                .into_iter()
                .filter(|(value, _)| value.chars().count() >= 6)
                .map(|(value, secret)| (Redactor::new([value.clone()]), secret.env.clone()))
                .collect()
        });
        let mut out = text.to_string();
        let mut raw: Vec<(&String, &Secret)> = self.by_value.iter().collect();
        raw.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        for (value, secret) in raw {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("${{env:{}}}", secret.env));
            }
        }
        for (finder, env) in finders.iter() {
            if finder.appear_in(&out) && !out.contains(REDACTED) {
                out = finder
                    .redact(&out)
                    .replace(REDACTED, &format!("${{env:{env}}}"));
            }
        }
        out
    }

    /// The secrets, by variable name.
    pub fn secrets(&self) -> Vec<&Secret> {
        let mut all: Vec<&Secret> = self.by_value.values().collect();
        all.sort_by(|a, b| a.env.cmp(&b.env));
        all
    }

    /// A redactor that finds any of the secrets in any encoding (surge's own, used on every file
    /// a run writes). Values under 6 characters are left out: they would match ordinary text.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(
            self.by_value
                .keys()
                .filter(|v| v.chars().count() >= 6)
                .cloned(),
        )
    }
}

/// `x-api-key` as `X_API_KEY`.
fn env_word(name: &str) -> String {
    let word: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let word = word.trim_matches('_').to_string();
    match word.chars().next() {
        None => "SECRET".to_string(),
        Some(c) if c.is_ascii_digit() => format!("S{word}"),
        Some(_) => word,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_known_by_name_and_place() {
        for name in [
            "apikey",
            "api_key",
            "key",
            "token",
            "access_token",
            "x-api-key",
        ] {
            assert!(is_secret(Place::Query, name, "v"), "{name}");
        }
        for name in ["Authorization", "X-Api-Key", "X-Auth-Token", "Cookie"] {
            assert!(is_secret(Place::Header, name, "v"), "{name}");
        }
        assert!(is_secret(Place::Cookie, "JSESSIONID", "v"));
        assert!(is_secret(Place::Field, "password", "hunter2"));
        for (place, name) in [
            (Place::Query, "zip"),
            (Place::Header, "Accept"),
            (Place::Cookie, "consent"),
            (Place::Field, "sort_key"),
            (Place::Field, "plan_id"),
        ] {
            assert!(!is_secret(place, name, "v"), "{name}");
        }
        assert!(!is_secret(Place::Query, "apikey", ""), "nothing to hide");
    }

    #[test]
    fn a_jwt_is_a_secret_under_any_name() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert!(is_secret(Place::Field, "state", jwt));
        assert!(!looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("eyJ.b"));
    }

    #[test]
    fn the_scheme_of_an_authorization_is_kept() {
        assert_eq!(split_scheme("Bearer abc.def"), ("Bearer ", "abc.def"));
        assert_eq!(split_scheme("abc"), ("", "abc"));
        assert_eq!(split_scheme("a1 b"), ("", "a1 b"));
    }

    #[test]
    fn each_value_gets_one_variable_and_is_scrubbed_from_text() {
        let mut vault = Vault::new("my-journey");
        let key = vault.env_for(Place::Query, "apikey", "s3cr3t-key");
        assert_eq!(key, "MY_JOURNEY_APIKEY");
        assert_eq!(vault.env_for(Place::Header, "x-api-key", "s3cr3t-key"), key);
        assert_eq!(
            vault.env_for(Place::Query, "apikey", "other-key"),
            "MY_JOURNEY_APIKEY_2"
        );
        assert_eq!(vault.env_for(Place::Cookie, "1x", "zzz"), "MY_JOURNEY_S1X");
        vault.sent("s3cr3t-key");
        vault.sent("s3cr3t-key");
        vault.share("s3cr3t-key");
        let secret = vault.secrets()[0].clone();
        assert_eq!((secret.requests, secret.shared), (2, true));
        assert_eq!(
            vault.scrub("/app?apikey=s3cr3t-key&x=other-key"),
            "/app?apikey=${env:MY_JOURNEY_APIKEY}&x=${env:MY_JOURNEY_APIKEY_2}"
        );
        assert_eq!(
            vault.scrub("/login?next=%2Fapp%3Fapikey%3Ds3cr3t%2Dkey"),
            "/login?next=%2Fapp%3Fapikey%3D${env:MY_JOURNEY_APIKEY}",
            "encoded, too"
        );
        let redactor = vault.redactor();
        assert!(redactor.appear_in("k=s3cr3t%2Dkey"), "any encoding");
        assert!(!redactor.appear_in("zzz"), "too short to look for");
    }
}
