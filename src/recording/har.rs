//! The HAR 1.2 file as browsers write it (Chrome, Firefox, Playwright), read with serde: only the
//! parts a journey needs — each entry's time, request (method, URL, headers, body) and reply
//! (status, headers, cookies, body) — and Chrome's `_resourceType`, which says what a request was
//! for better than its URL does. Everything else in the file is ignored.
//!
//! A file that is not JSON, or not a HAR, is refused with the line and column serde_json gives and
//! the place in the document (`log.entries[3].request`), so the message points into the file.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::Deserialize;

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HarError {
    #[error("{}: cannot read it: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: not JSON: {message}", path.display())]
    NotJson {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}:{line}:{column}: not a HAR 1.2 recording: {place}: {message}", path.display())]
    NotHar {
        path: PathBuf,
        line: usize,
        column: usize,
        place: String,
        message: String,
    },
    #[error("{}: log.version is {version:?}: surge reads HAR 1.2 (and 1.1), as browsers save it", path.display())]
    Version { path: PathBuf, version: String },
    #[error("{}: log.entries is empty: the recording holds no request (was the browser's network panel recording?)", path.display())]
    NoEntries { path: PathBuf },
    /// A value of an entry that cannot be used (a URL that does not parse, a time that is no time).
    #[error("{}: {place}: {message}", path.display())]
    Entry {
        path: PathBuf,
        place: String,
        message: String,
    },
}

/// A whole HAR file.
#[derive(Debug, Clone, Deserialize)]
pub struct Har {
    pub log: Log,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Log {
    pub version: String,
    #[serde(default)]
    pub creator: Option<Creator>,
    pub entries: Vec<Entry>,
}

/// The program that wrote the file.
#[derive(Debug, Clone, Deserialize)]
pub struct Creator {
    pub name: String,
    #[serde(default)]
    pub version: String,
}

/// One request and its reply.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    #[serde(rename = "startedDateTime")]
    pub started: String,
    /// Milliseconds from the request's start to the reply's end (-1 or absent when unknown).
    #[serde(default)]
    pub time: Option<f64>,
    pub request: Request,
    pub response: Response,
    /// Chrome's: `document`, `xhr`, `fetch`, `script`, `stylesheet`, `image`, `font`, …
    #[serde(rename = "_resourceType", default)]
    pub resource_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Request {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<NameValue>,
    #[serde(default)]
    pub cookies: Vec<NameValue>,
    #[serde(rename = "postData", default)]
    pub post_data: Option<PostData>,
}

/// A header, a cookie or a query parameter.
#[derive(Debug, Clone, Deserialize)]
pub struct NameValue {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// A request's body.
#[derive(Debug, Clone, Deserialize)]
pub struct PostData {
    #[serde(rename = "mimeType", default)]
    pub mime_type: String,
    #[serde(default)]
    pub text: Option<String>,
    /// Form fields, when the browser parsed them (the text says the same).
    #[serde(default)]
    pub params: Vec<Param>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Response {
    /// 0 when the request got no reply (blocked, cancelled).
    pub status: i64,
    #[serde(default)]
    pub headers: Vec<NameValue>,
    #[serde(default)]
    pub cookies: Vec<NameValue>,
    #[serde(default)]
    pub content: Content,
    #[serde(rename = "redirectURL", default)]
    pub redirect_url: String,
}

/// A reply's body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Content {
    #[serde(rename = "mimeType", default)]
    pub mime_type: String,
    #[serde(default)]
    pub text: Option<String>,
    /// `base64` when `text` is base64-encoded.
    #[serde(default)]
    pub encoding: Option<String>,
}

impl Content {
    /// The body as text (decoded from base64 when it was saved so), if the file kept it.
    pub fn body(&self) -> Option<String> {
        let text = self.text.as_ref()?;
        if self.encoding.as_deref() == Some("base64") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()?;
            return Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        Some(text.clone())
    }
}

/// Read and check a HAR file: JSON, shaped as HAR, version 1.2 (or 1.1), with entries.
pub fn read(path: &Path) -> Result<Har, HarError> {
    let text = std::fs::read_to_string(path).map_err(|source| HarError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// [`read`] on text already read; `path` names the file in messages.
pub fn parse(path: &Path, text: &str) -> Result<Har, HarError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let har: Har = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let place = e.path().to_string();
        let inner = e.into_inner();
        let (line, column) = (inner.line(), inner.column());
        let message = without_location(&inner);
        match inner.classify() {
            serde_json::error::Category::Data => HarError::NotHar {
                path: path.to_owned(),
                line,
                column,
                place: if place == "." {
                    "the document".to_string()
                } else {
                    place
                },
                message,
            },
            _ => HarError::NotJson {
                path: path.to_owned(),
                line,
                column,
                message,
            },
        }
    })?;
    deserializer.end().map_err(|e| HarError::NotJson {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: without_location(&e),
    })?;
    if !matches!(har.log.version.as_str(), "1.2" | "1.1") {
        return Err(HarError::Version {
            path: path.to_owned(),
            version: har.log.version,
        });
    }
    if har.log.entries.is_empty() {
        return Err(HarError::NoEntries {
            path: path.to_owned(),
        });
    }
    Ok(har)
}

/// serde_json's message without its " at line L column C" (the error says where on its own).
fn without_location(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Har, HarError> {
        parse(Path::new("x.har"), text)
    }

    #[test]
    fn a_minimal_har_is_read() {
        let har = parsed(
            r#"{"log": {"version": "1.2", "entries": [{"startedDateTime": "2026-01-01T00:00:00Z",
               "request": {"method": "GET", "url": "http://a/"}, "response": {"status": 200}}]}}"#,
        )
        .unwrap();
        assert_eq!(har.log.entries[0].request.url, "http://a/");
    }

    #[test]
    fn not_json_is_located() {
        let e = parsed("{\"log\": \n  {,}").unwrap_err().to_string();
        assert!(e.starts_with("x.har:2:4: not JSON: "), "{e}");
    }

    #[test]
    fn json_that_is_not_har_says_where() {
        let e = parsed("{\"log\": {\"version\": \"1.2\", \"entries\": [{\"request\": 3}]}}")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("x.har:1:") && e.contains("not a HAR 1.2 recording: log.entries[0]"),
            "{e}"
        );
        let e = parsed("{\"entries\": []}").unwrap_err().to_string();
        assert!(
            e.contains("not a HAR 1.2 recording: the document: missing field `log`"),
            "{e}"
        );
    }

    #[test]
    fn other_versions_and_empty_recordings_are_refused() {
        let e = parsed(r#"{"log": {"version": "2.0", "entries": []}}"#).unwrap_err();
        assert!(matches!(e, HarError::Version { .. }), "{e}");
        let e = parsed(r#"{"log": {"version": "1.2", "entries": []}}"#).unwrap_err();
        assert!(matches!(e, HarError::NoEntries { .. }), "{e}");
    }

    #[test]
    fn base64_bodies_are_decoded() {
        let content = Content {
            mime_type: "application/json".into(),
            text: Some("eyJhIjoxfQ==".into()),
            encoding: Some("base64".into()),
        };
        assert_eq!(content.body().as_deref(), Some("{\"a\":1}"));
    }
}
