//! Secrets, and every form they take on their way to a file: a key sent as a query parameter is
//! percent-encoded, a password in Basic auth is base64, a token in a JSON body may have its `/`
//! escaped, a page escapes `&`. Redaction matches all of them, so no output holds a secret in any
//! encoding a person (or a grep) would recognise.

use base64::Engine;
use regex::Regex;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Values never written anywhere: `${env:…}` values and the values of `[http]` headers and query
/// parameters that carry credentials.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: Vec<String>,
    /// Every encoding of every value, longest first; None when there are no secrets.
    pattern: Option<Regex>,
}

impl Secrets {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        values.sort();
        values.dedup();
        let mut forms: Vec<String> = values.iter().flat_map(|v| forms(v)).collect();
        // Longest first, so a secret inside a longer one's encoding cannot leave a remainder.
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        let pattern = (!forms.is_empty()).then(|| {
            Regex::new(&format!("(?i:{})", forms.join("|")))
                .expect("secret patterns are escaped literals")
        });
        Self { values, pattern }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// How many secrets there are (never what they are).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// `text` with every secret, in every encoding, replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        match &self.pattern {
            Some(pattern) => pattern.replace_all(text, REDACTED).into_owned(),
            None => text.to_string(),
        }
    }

    /// Whether `text` holds a secret in any encoding.
    pub fn appear_in(&self, text: &str) -> bool {
        self.pattern.as_ref().is_some_and(|p| p.is_match(text))
    }
}

/// Regex alternatives matching `secret` raw or escaped character by character (percent, form,
/// JSON and HTML escapes, mixed as encoders mix them), and its base64 forms.
fn forms(secret: &str) -> Vec<String> {
    let escaped: String = secret.chars().map(char_forms).collect();
    let mut forms = vec![escaped];
    forms.extend(base64_forms(secret.as_bytes()).map(|f| regex::escape(&f)));
    forms
}

/// One character of a secret, as it may be written: itself, percent-encoded (its UTF-8 bytes),
/// `+` for a space (forms), backslash-escaped (JSON), or as an HTML character reference.
fn char_forms(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        return regex::escape(&c.to_string());
    }
    let mut utf8 = [0; 4];
    let percent: String = c
        .encode_utf8(&mut utf8)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let code = u32::from(c);
    let mut alternatives = vec![
        format!(r"\\?{}", regex::escape(&c.to_string())),
        percent,
        format!("&#x0*{code:X};"),
        format!("&#0*{code};"),
    ];
    match c {
        ' ' => alternatives.push(r"\+".to_string()),
        '&' => alternatives.push("&amp;".to_string()),
        '<' => alternatives.push("&lt;".to_string()),
        '>' => alternatives.push("&gt;".to_string()),
        '"' => alternatives.push("&quot;".to_string()),
        '\'' => alternatives.push("&apos;".to_string()),
        _ => {}
    }
    format!("(?:{})", alternatives.join("|"))
}

/// `secret` in base64 (standard and URL-safe, padded or not), and the part of its encoding that
/// stays the same wherever it sits in a longer encoded value (`user:secret` in Basic auth): at each
/// of the three byte offsets, the characters made of the secret's bits alone.
fn base64_forms(secret: &[u8]) -> impl Iterator<Item = String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let mut forms = Vec::new();
    for engine in [STANDARD, URL_SAFE] {
        forms.push(engine.encode(secret));
        for offset in 0..3 {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(secret);
            let encoded = engine.encode(&shifted);
            let start = (offset * 8).div_ceil(6);
            let end = shifted.len() * 8 / 6;
            // Too short a piece would match ordinary text.
            if end >= start + 6 {
                forms.push(encoded[start..end].to_string());
            }
        }
    }
    forms.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

    const KEY: &str = "k+y/Tz=9 &ab\"c";

    fn secrets() -> Secrets {
        Secrets::new([KEY.to_string()])
    }

    fn assert_gone(text: &str) {
        let redacted = secrets().redact(text);
        assert!(
            redacted.contains(REDACTED) && !secrets().appear_in(&redacted),
            "{text} -> {redacted}"
        );
        for piece in ["Tz", "k+y", "k%2By"] {
            assert!(!redacted.contains(piece), "{piece} left in {redacted}");
        }
    }

    #[test]
    fn raw_percent_and_form_encodings_are_redacted() {
        assert_gone(&format!("GET /x?apikey={KEY}"));
        let form: String = url::form_urlencoded::byte_serialize(KEY.as_bytes()).collect();
        assert_gone(&format!("/plans?apikey={form}&year=2014"));
        assert_gone(&format!("/plans?apikey={}", form.to_lowercase()));
        let path = KEY.replace(' ', "%20").replace('/', "%2f");
        assert_gone(&format!("/x/{path}/y"));
    }

    #[test]
    fn json_and_html_escapes_are_redacted() {
        let json = serde_json::to_string(&serde_json::json!({ "key": KEY })).unwrap();
        assert_gone(&json);
        assert_gone(&KEY.replace('/', "\\/"));
        assert_gone(&KEY.replace('&', "&amp;").replace('"', "&quot;"));
        assert_gone(&KEY.replace('/', "&#x2F;").replace('+', "&#43;"));
    }

    #[test]
    fn base64_forms_are_redacted_alone_and_inside_longer_values() {
        assert_gone(&STANDARD.encode(KEY));
        assert_gone(&STANDARD_NO_PAD.encode(KEY));
        assert_gone(&URL_SAFE_NO_PAD.encode(KEY));
        for user in ["a", "ab", "abc"] {
            let basic = STANDARD.encode(format!("{user}:{KEY}"));
            let redacted = secrets().redact(&format!("Authorization: Basic {basic}"));
            assert!(redacted.contains(REDACTED), "{user}: {redacted}");
            // What is left can no longer be decoded into the key.
            let left = redacted.trim_start_matches("Authorization: Basic ");
            assert!(!left.contains(&STANDARD.encode(KEY)[2..10]), "{redacted}");
        }
    }

    #[test]
    fn other_text_is_left_alone_and_no_secrets_redact_nothing() {
        let text = "GET /plans?year=2014 HTTP/1.1 {\"a\": \"b/c\"}";
        assert_eq!(secrets().redact(text), text);
        assert_eq!(Secrets::default().redact(text), text);
        assert!(!Secrets::new([String::new()]).appear_in(text));
    }
}
