//! A HAR entry made usable: its URL parsed, its body decoded (JSON, form fields, or other bytes),
//! the cookies it sent and the ones its reply set read the way a browser reads them, and the
//! entries put in the order the browser started them. The rest of the conversion works on these.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use url::Url;

use super::har::{Entry, Har, HarError};

/// One request of the recording and its reply.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub started: Option<DateTime<FixedOffset>>,
    /// Milliseconds from start to the end of the reply (0 when the file does not say).
    pub duration_ms: f64,
    /// Upper case.
    pub method: String,
    pub url: Url,
    /// Chrome's `_resourceType`, lower case.
    pub resource_type: Option<String>,
    /// Headers as sent (names as written), cookies apart.
    pub headers: Vec<(String, String)>,
    /// Cookies sent.
    pub cookies: Vec<(String, String)>,
    pub body: SentBody,
    pub reply: Reply,
}

/// A request's body.
#[derive(Debug, Clone, PartialEq)]
pub enum SentBody {
    None,
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
    /// A body a journey file cannot send (XML, multipart, text that is no JSON).
    Other {
        mime: String,
        bytes: usize,
    },
}

/// A reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// 0 when no reply came.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Cookies the reply set.
    pub set_cookies: Vec<(String, String)>,
    /// The body's media type, lower case, without parameters.
    pub mime: String,
    pub body: Option<String>,
    /// The URL the body came from: the request's, or the last hop's when redirects were merged.
    pub url: Url,
    /// Where a 3xx sends the browser, resolved against the request's URL.
    pub location: Option<Url>,
}

impl Recorded {
    /// When the reply ended, if the file says when the request started.
    pub fn ended(&self) -> Option<DateTime<FixedOffset>> {
        let started = self.started?;
        started.checked_add_signed(chrono::Duration::microseconds(
            (self.duration_ms * 1000.0) as i64,
        ))
    }
}

#[cfg(test)]
impl Recorded {
    /// A bodiless `method` request to `url`, answered 200 with nothing, at no time: what the unit
    /// tests start from and change.
    pub(crate) fn fixture(method: &str, url: &str) -> Recorded {
        let url = Url::parse(url).unwrap();
        Recorded {
            started: None,
            duration_ms: 0.0,
            method: method.into(),
            url: url.clone(),
            resource_type: None,
            headers: vec![],
            cookies: vec![],
            body: SentBody::None,
            reply: Reply {
                status: 200,
                headers: vec![],
                set_cookies: vec![],
                mime: String::new(),
                body: None,
                url,
                location: None,
            },
        }
    }
}

impl Reply {
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status) && self.location.is_some()
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every entry of the file, in the order the browser started them.
pub fn entries(path: &Path, har: &Har) -> Result<Vec<Recorded>, HarError> {
    let mut all = har
        .log
        .entries
        .iter()
        .enumerate()
        .filter(|(_, entry)| is_http(&entry.request.url))
        .map(|(index, entry)| recorded(path, index, entry))
        .collect::<Result<Vec<_>, _>>()?;
    // Browsers write them in order already; a stable sort keeps ties (and missing times) as written.
    all.sort_by_key(|r| r.started);
    Ok(all)
}

/// `data:`, `blob:`, `chrome-extension:` and the like were never sent over the network.
fn is_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn recorded(path: &Path, index: usize, entry: &Entry) -> Result<Recorded, HarError> {
    let bad = |field: &str, message: String| HarError::Entry {
        path: path.to_owned(),
        place: format!("log.entries[{index}].{field}"),
        message,
    };
    let url = Url::parse(&entry.request.url).map_err(|e| {
        bad(
            "request.url",
            format!("`{}` is not a URL ({e})", entry.request.url),
        )
    })?;
    let started = DateTime::parse_from_rfc3339(&entry.started)
        .map(Some)
        .map_err(|e| {
            bad(
                "startedDateTime",
                format!("`{}` is not an ISO 8601 time ({e})", entry.started),
            )
        })?;
    let request = &entry.request;
    let pairs = |list: &[super::har::NameValue]| {
        list.iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect::<Vec<_>>()
    };
    let all_headers = pairs(&request.headers);
    let cookies = if request.cookies.is_empty() {
        all_headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("cookie"))
            .flat_map(|(_, value)| cookie::Cookie::split_parse(value.clone()).flatten())
            .map(|c| (c.name().to_string(), c.value().to_string()))
            .collect()
    } else {
        pairs(&request.cookies)
    };
    let headers = all_headers
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("cookie"))
        .collect();
    let response = &entry.response;
    let reply_headers = pairs(&response.headers);
    let set_cookies = if response.cookies.is_empty() {
        reply_headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
            // Some recorders fold several Set-Cookie headers into one value, a line each.
            .flat_map(|(_, value)| value.lines().map(str::to_string).collect::<Vec<_>>())
            .filter_map(|line| cookie::Cookie::parse(line).ok())
            .map(|c| (c.name().to_string(), c.value().to_string()))
            .collect()
    } else {
        pairs(&response.cookies)
    };
    let location = find(&reply_headers, "location")
        .map(str::to_string)
        .or_else(|| (!response.redirect_url.is_empty()).then(|| response.redirect_url.clone()))
        .and_then(|to| url.join(&to).ok());
    let mime = media_type(if response.content.mime_type.is_empty() {
        find(&reply_headers, "content-type").unwrap_or("")
    } else {
        &response.content.mime_type
    });
    Ok(Recorded {
        started,
        duration_ms: entry.time.filter(|t| *t > 0.0).unwrap_or(0.0),
        method: request.method.to_ascii_uppercase(),
        resource_type: entry.resource_type.as_ref().map(|t| t.to_ascii_lowercase()),
        headers,
        cookies,
        body: body(request),
        reply: Reply {
            status: u16::try_from(response.status).unwrap_or(0),
            headers: reply_headers,
            set_cookies,
            mime,
            body: response.content.body(),
            url: url.clone(),
            location,
        },
        url,
    })
}

/// `application/json` of `application/json; charset=utf-8`.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is JSON (`application/json`, `application/problem+json`, …).
pub fn is_json(mime: &str) -> bool {
    mime == "application/json" || mime.ends_with("+json") || mime == "text/json"
}

fn body(request: &super::har::Request) -> SentBody {
    let Some(post) = &request.post_data else {
        return SentBody::None;
    };
    let mime = media_type(&post.mime_type);
    let text = post.text.clone().unwrap_or_default();
    if mime == "application/x-www-form-urlencoded" {
        if text.is_empty() && !post.params.is_empty() {
            return SentBody::Form(
                post.params
                    .iter()
                    .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
                    .collect(),
            );
        }
        return SentBody::Form(
            url::form_urlencoded::parse(text.as_bytes())
                .into_owned()
                .collect(),
        );
    }
    if text.is_empty() {
        return SentBody::None;
    }
    // A fetch() without a content type sends text/plain; what parses as JSON is sent as JSON.
    if is_json(&mime) || mime.is_empty() || mime == "text/plain" {
        if let Ok(json) = serde_json::from_str(&text) {
            return SentBody::Json(json);
        }
    }
    SentBody::Other {
        mime: if mime.is_empty() {
            "no media type".to_string()
        } else {
            mime
        },
        bytes: text.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn har(entries: &str) -> Har {
        super::super::har::parse(
            Path::new("t.har"),
            &format!(r#"{{"log": {{"version": "1.2", "entries": [{entries}]}}}}"#),
        )
        .unwrap()
    }

    fn entry(started: &str, url: &str, extra: &str) -> String {
        format!(
            r#"{{"startedDateTime": "{started}", "time": 12.5,
                "request": {{"method": "post", "url": "{url}", "headers": [{{"name": "Cookie", "value": "a=1; sid=xyz"}}] {extra}}},
                "response": {{"status": 302, "headers": [{{"name": "Location", "value": "/next"}},
                    {{"name": "Set-Cookie", "value": "token=t1; Path=/; HttpOnly"}}],
                    "content": {{"mimeType": "text/html; charset=utf-8", "text": "<p>"}}}}}}"#
        )
    }

    #[test]
    fn entries_are_read_in_the_order_they_started() {
        let har = har(&[
            entry("2026-01-01T00:00:02Z", "http://a/two", ""),
            entry("2026-01-01T00:00:01Z", "http://a/one", ""),
            entry("2026-01-01T00:00:00Z", "data:text/plain,x", ""),
        ]
        .join(","));
        let all = entries(Path::new("t.har"), &har).unwrap();
        let paths: Vec<_> = all.iter().map(|r| r.url.path().to_string()).collect();
        assert_eq!(paths, ["/one", "/two"], "data: URLs are no requests");
        let one = &all[0];
        assert_eq!(one.method, "POST");
        assert_eq!(
            one.cookies,
            [("a".into(), "1".into()), ("sid".into(), "xyz".into())]
        );
        assert!(
            one.headers.is_empty(),
            "the Cookie header is read as cookies"
        );
        assert_eq!(one.reply.set_cookies, [("token".into(), "t1".into())]);
        assert_eq!(
            one.reply.location.as_ref().unwrap().as_str(),
            "http://a/next"
        );
        assert_eq!(one.reply.mime, "text/html");
        assert!(one.reply.is_redirect());
    }

    #[test]
    fn bodies_are_json_form_or_other() {
        let post = |mime: &str, text: &str| {
            let extra = format!(
                r#", "postData": {{"mimeType": "{mime}", "text": {}}}"#,
                serde_json::to_string(text).unwrap()
            );
            let har = har(&entry("2026-01-01T00:00:00Z", "http://a/", &extra));
            entries(Path::new("t.har"), &har).unwrap()[0].body.clone()
        };
        assert_eq!(
            post("application/json", r#"{"a": [1]}"#),
            SentBody::Json(serde_json::json!({"a": [1]}))
        );
        assert_eq!(
            post("text/plain;charset=UTF-8", r#"{"a": 1}"#),
            SentBody::Json(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            post("application/x-www-form-urlencoded", "a=1+2&b=%2F"),
            SentBody::Form(vec![("a".into(), "1 2".into()), ("b".into(), "/".into())])
        );
        assert_eq!(
            post("application/xml", "<a/>"),
            SentBody::Other {
                mime: "application/xml".into(),
                bytes: 4
            }
        );
    }

    #[test]
    fn a_bad_url_or_time_is_located() {
        let late = har(&entry("yesterday", "http://a/", ""));
        let e = entries(Path::new("t.har"), &late).unwrap_err().to_string();
        assert!(
            e.starts_with("t.har: log.entries[0].startedDateTime: `yesterday`"),
            "{e}"
        );
        let lost = har(&entry("2026-01-01T00:00:00Z", "http://[oops/", ""));
        let e = entries(Path::new("t.har"), &lost).unwrap_err().to_string();
        assert!(e.starts_with("t.har: log.entries[0].request.url:"), "{e}");
    }
}
