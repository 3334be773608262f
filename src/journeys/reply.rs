//! A reply as checks and captures see it: status, headers, body, the URL it came from, and the body
//! as JSON (parsed once, only if something asks).

use std::cell::OnceCell;
use std::sync::Arc;

use minijinja::Value;
use reqwest::header::HeaderMap;

use super::error::RequestError;
use super::form::first_form;
use crate::journey_file::program::{
    Capture, CaptureSource, Check, CheckKind, PointerTest, ReplyKeys,
};
use crate::journey_file::template::Templates;

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// Shared with the body's JSON document, which templates may keep after the reply is gone.
    pub body: Arc<String>,
    pub url: url::Url,
    /// What the journey file could read of the body as JSON.
    keys: Arc<ReplyKeys>,
    json: OnceCell<Value>,
}

impl Reply {
    pub fn new(
        status: u16,
        headers: HeaderMap,
        body: String,
        url: url::Url,
        keys: Arc<ReplyKeys>,
    ) -> Self {
        Self {
            status,
            headers,
            body: crate::journey_file::json::document_text(body),
            url,
            keys,
            json: OnceCell::new(),
        }
    }

    /// The body as JSON, read only as far as templates look; undefined when it is not JSON.
    pub fn json(&self) -> &Value {
        self.json.get_or_init(|| {
            crate::journey_file::json::shared_document(&self.body, &self.keys)
                .unwrap_or(Value::UNDEFINED)
        })
    }

    /// The value at a JSON pointer (RFC 6901), if the body has it (and it is not null).
    pub fn at(&self, pointer: &str) -> Option<Value> {
        crate::journey_file::json::pointer(self.json(), pointer)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The value a capture takes from this reply, if its source is there (expressions are evaluated
    /// by the caller, which holds the scope).
    pub fn capture(&self, capture: &Capture) -> Option<Value> {
        match &capture.source {
            CaptureSource::Pointer(pointer) => self.at(pointer),
            CaptureSource::Header(name) => self.header(name).map(Value::from),
            // The last Set-Cookie of that name wins, as in a browser; quotes around a value go.
            CaptureSource::Cookie(name) => self
                .headers
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .rev()
                .filter_map(|h| cookie::Cookie::parse(h.to_str().ok()?).ok())
                .find(|c| c.name() == name)
                .map(|c| Value::from(c.value_trimmed())),
            CaptureSource::Regex(regex) => regex.captures(&self.body).map(|found| {
                let m = found.get(1).or_else(|| found.get(0));
                Value::from(m.map_or("", |m| m.as_str()))
            }),
            CaptureSource::Form => {
                let form = first_form(&self.body)?;
                let action = self
                    .url
                    .join(&form.action)
                    .map_or(form.action.clone(), |u| u.to_string());
                Some(Value::from_iter([
                    ("action".to_string(), Value::from(action)),
                    ("method".to_string(), Value::from(form.method)),
                    ("fields".to_string(), Value::from_iter(form.fields)),
                ]))
            }
            CaptureSource::Url => Some(Value::from(self.url.as_str())),
            CaptureSource::Expr(_) => None,
        }
    }

    /// Whether the reply passes `check`; `Err` carries the check's reason.
    pub fn check(
        &self,
        check: &Check,
        templates: &Templates,
        scope: &Value,
    ) -> Result<(), RequestError> {
        let passed = match &check.kind {
            CheckKind::Pointer { pointer, test } => {
                let found = self.at(pointer);
                match test {
                    PointerTest::Exists(wanted) => found.is_some() == *wanted,
                    PointerTest::Equals(value) => found.as_ref() == Some(value),
                    PointerTest::Matches(regex) => found.is_some_and(|v| match v.as_str() {
                        Some(text) => regex.is_match(text),
                        None => regex.is_match(&v.to_string()),
                    }),
                }
            }
            CheckKind::Contains(text) => self.body.contains(text.as_str()),
            CheckKind::Header(name) => self.headers.contains_key(name.as_str()),
            CheckKind::That(id) => templates.eval(*id, scope)?.is_true(),
        };
        if passed {
            Ok(())
        } else {
            Err(RequestError::Check(check.reason.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::call::tests::headers;
    use super::*;

    fn reply_setting(cookies: &[&str]) -> Reply {
        let url = url::Url::parse("http://127.0.0.1/login").unwrap();
        Reply::new(
            200,
            headers(cookies),
            String::new(),
            url,
            Arc::new(ReplyKeys::everything()),
        )
    }

    fn cookie(name: &str) -> Capture {
        Capture {
            name: "c".into(),
            source: CaptureSource::Cookie(name.into()),
            append: false,
            default: None,
        }
    }

    #[test]
    fn a_cookie_is_read_as_a_browser_reads_set_cookie() {
        let reply = reply_setting(&[
            "session=first; Path=/",
            "other=x",
            "session=\"second\"; Path=/; HttpOnly; Max-Age=60",
        ]);
        assert_eq!(
            reply.capture(&cookie("session")),
            Some(Value::from("second"))
        );
        assert_eq!(reply.capture(&cookie("other")), Some(Value::from("x")));
        assert_eq!(reply.capture(&cookie("sess")), None, "names match whole");
        assert_eq!(reply_setting(&["broken"]).capture(&cookie("broken")), None);
    }
}
