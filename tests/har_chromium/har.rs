//! A HAR 1.2 log built from the DevTools protocol's Network and Page events, as Chrome's own
//! "Save all as HAR" builds it.
//!
//! Each request the page sends is a hop: `Network.requestWillBeSent` starts it (and, with a
//! `redirectResponse`, ends the hop before it under the same request id), `responseReceived` gives
//! its response, `loadingFinished` or `loadingFailed` ends it. The `…ExtraInfo` events carry the
//! headers really sent and received (cookies included); they may arrive before or after their
//! hop's other events, so they are matched to hops by order only when the log is built. Bodies
//! and post data are not in the events: the recorder asks for them and hands them in. Every main
//! frame document starts a page, and a hop belongs to the page open when it was sent.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Map, Value};

/// A response body: text as it is, anything else in base64.
#[derive(Debug, Clone)]
pub struct Body {
    text: String,
    base64: bool,
}

impl Body {
    /// The body as DevTools gives it. `Fetch.getResponseBody` gives every body in base64: one that
    /// is UTF-8 is kept as text, as Chrome's own HAR export keeps HTML and JSON.
    pub fn from_devtools(text: &str, base64: bool) -> Body {
        let decoded = base64
            .then(|| B64.decode(text).ok())
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        match decoded {
            Some(text) => Body {
                text,
                base64: false,
            },
            None => Body {
                text: text.to_string(),
                base64,
            },
        }
    }
}

/// One request and what became of it.
#[derive(Debug, Default)]
struct Hop {
    /// The DevTools `Network.Request`.
    request: Value,
    /// Seconds since the epoch, and on the browser's monotonic clock, when it was sent.
    wall_time: f64,
    sent: f64,
    resource_type: String,
    page: Option<usize>,
    post_data: Option<String>,
    /// The DevTools `Network.Response`, once answered.
    response: Option<Value>,
    ended: Option<f64>,
    encoded_length: Option<f64>,
    failed: Option<String>,
    body: Option<Body>,
}

/// A main-frame document and its load times (monotonic seconds).
#[derive(Debug)]
struct Page {
    loader_id: String,
    url: String,
    wall_time: f64,
    started: f64,
    content_loaded: Option<f64>,
    loaded: Option<f64>,
}

/// The HAR being recorded.
#[derive(Debug)]
pub struct HarLog {
    main_frame: String,
    hops: Vec<Hop>,
    /// Request id → its hops (more than one after redirects), in order.
    by_request: HashMap<String, Vec<usize>>,
    /// Request id → the ExtraInfo events' headers, in arrival order.
    sent_headers: HashMap<String, Vec<Value>>,
    received: HashMap<String, Vec<Value>>,
    pages: Vec<Page>,
}

impl HarLog {
    /// A log of the page whose main frame has id `main_frame` (its target id).
    pub fn new(main_frame: &str) -> HarLog {
        HarLog {
            main_frame: main_frame.to_string(),
            hops: Vec::new(),
            by_request: HashMap::new(),
            sent_headers: HashMap::new(),
            received: HashMap::new(),
            pages: Vec::new(),
        }
    }

    /// Take in one Network or Page event; any other is ignored.
    pub fn observe(&mut self, method: &str, p: &Value) {
        let id = p["requestId"].as_str().unwrap_or_default();
        match method {
            "Network.requestWillBeSent" => self.sent(id, p),
            "Network.requestWillBeSentExtraInfo" => {
                let headers = p["headers"].clone();
                self.sent_headers
                    .entry(id.into())
                    .or_default()
                    .push(headers);
            }
            "Network.responseReceived" => {
                if let Some(hop) = self.last_mut(id) {
                    hop.response = Some(p["response"].clone());
                    hop.resource_type = p["type"].as_str().unwrap_or_default().to_string();
                }
            }
            "Network.responseReceivedExtraInfo" => {
                let extra = json!({ "headers": p["headers"], "headersText": p["headersText"] });
                self.received.entry(id.into()).or_default().push(extra);
            }
            "Network.loadingFinished" => {
                if let Some(hop) = self.last_mut(id) {
                    hop.ended = p["timestamp"].as_f64();
                    hop.encoded_length = p["encodedDataLength"].as_f64();
                }
            }
            "Network.loadingFailed" => {
                if let Some(hop) = self.last_mut(id) {
                    hop.ended = p["timestamp"].as_f64();
                    hop.failed = p["errorText"].as_str().map(str::to_string);
                }
            }
            "Page.lifecycleEvent" if p["frameId"] == self.main_frame.as_str() => {
                let loader = p["loaderId"].as_str().unwrap_or_default();
                if let Some(page) = self.pages.iter_mut().rev().find(|g| g.loader_id == loader) {
                    match p["name"].as_str() {
                        Some("DOMContentLoaded") => page.content_loaded = p["timestamp"].as_f64(),
                        Some("load") => page.loaded = p["timestamp"].as_f64(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn sent(&mut self, id: &str, p: &Value) {
        if let Some(redirect) = p.get("redirectResponse") {
            if let Some(hop) = self.last_mut(id) {
                hop.response = Some(redirect.clone());
                hop.ended = p["timestamp"].as_f64();
            }
        }
        let resource_type = p["type"].as_str().unwrap_or_default().to_string();
        let wall_time = p["wallTime"].as_f64().unwrap_or_default();
        let sent = p["timestamp"].as_f64().unwrap_or_default();
        // A navigation's request id is its loader id: the page's lifecycle events name it.
        if resource_type == "Document" && p["frameId"] == self.main_frame.as_str() {
            self.pages.push(Page {
                loader_id: p["loaderId"].as_str().unwrap_or_default().to_string(),
                url: p["request"]["url"].as_str().unwrap_or_default().to_string(),
                wall_time,
                started: sent,
                content_loaded: None,
                loaded: None,
            });
        }
        self.by_request
            .entry(id.to_string())
            .or_default()
            .push(self.hops.len());
        self.hops.push(Hop {
            request: p["request"].clone(),
            wall_time,
            sent,
            resource_type,
            page: self.pages.len().checked_sub(1),
            ..Hop::default()
        });
    }

    fn last(&self, id: &str) -> Option<&Hop> {
        let at = *self.by_request.get(id)?.last()?;
        self.hops.get(at)
    }

    fn last_mut(&mut self, id: &str) -> Option<&mut Hop> {
        let at = *self.by_request.get(id)?.last()?;
        self.hops.get_mut(at)
    }

    /// The method and URL of the request's latest hop.
    pub fn request_of(&self, id: &str) -> Option<(&str, &str)> {
        let request = &self.last(id)?.request;
        Some((request["method"].as_str()?, request["url"].as_str()?))
    }

    /// Whether the request's latest hop already has its body.
    pub fn has_body(&self, id: &str) -> bool {
        self.last(id).is_some_and(|hop| hop.body.is_some())
    }

    /// The body of the request's latest hop, as the recorder fetched it.
    pub fn set_body(&mut self, id: &str, body: Body) {
        if let Some(hop) = self.last_mut(id) {
            hop.body = Some(body);
        }
    }

    /// The body the request's latest hop sent, when the event did not carry it.
    pub fn set_post_data(&mut self, id: &str, text: String) {
        if let Some(hop) = self.last_mut(id) {
            hop.post_data = Some(text);
        }
    }

    /// The HAR: `{"log": {version, creator, browser, pages, entries}}`.
    pub fn build(&self, creator: Value, browser: Value) -> Value {
        let pages: Vec<Value> = self
            .pages
            .iter()
            .enumerate()
            .map(|(n, page)| {
                let since = |t: Option<f64>| t.map_or(-1.0, |t| ms(t - page.started));
                json!({
                    "startedDateTime": date_time(page.wall_time),
                    "id": page_id(n),
                    "title": page.url,
                    "pageTimings": {
                        "onContentLoad": since(page.content_loaded),
                        "onLoad": since(page.loaded),
                    },
                })
            })
            .collect();
        let mut entries = Vec::new();
        for (id, hops) in &self.by_request {
            for (n, &at) in hops.iter().enumerate() {
                let sent = self.sent_headers.get(id).and_then(|all| all.get(n));
                let received = self.received.get(id).and_then(|all| all.get(n));
                entries.push((at, entry(&self.hops[at], sent, received)));
            }
        }
        // In the order the requests were sent.
        entries.sort_by_key(|(at, _)| *at);
        json!({
            "log": {
                "version": "1.2",
                "creator": creator,
                "browser": browser,
                "pages": pages,
                "entries": entries.into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
            }
        })
    }
}

fn page_id(n: usize) -> String {
    format!("page_{}", n + 1)
}

/// Seconds to milliseconds, rounded to the microsecond as Chrome writes them.
fn ms(seconds: f64) -> f64 {
    (seconds * 1_000_000.0).round() / 1000.0
}

fn date_time(wall_time: f64) -> String {
    DateTime::from_timestamp_micros((wall_time * 1e6) as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// DevTools headers (`{name: "v1\nv2"}`) as HAR's list of name/value pairs.
fn headers(object: &Value) -> Vec<(String, String)> {
    let Some(object) = object.as_object() else {
        return Vec::new();
    };
    let mut list = Vec::new();
    for (name, values) in object {
        for value in values.as_str().unwrap_or_default().split('\n') {
            list.push((name.clone(), value.to_string()));
        }
    }
    list
}

fn pairs(list: &[(String, String)]) -> Vec<Value> {
    list.iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

fn header<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn request_cookies(list: &[(String, String)]) -> Vec<Value> {
    let Some(line) = header(list, "cookie") else {
        return Vec::new();
    };
    cookie::Cookie::split_parse(line)
        .flatten()
        .map(|c| json!({ "name": c.name(), "value": c.value() }))
        .collect()
}

fn response_cookies(list: &[(String, String)]) -> Vec<Value> {
    list.iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, line)| cookie::Cookie::parse(line.as_str()).ok())
        .map(|c| {
            let mut v = Map::new();
            v.insert("name".into(), json!(c.name()));
            v.insert("value".into(), json!(c.value()));
            if let Some(path) = c.path() {
                v.insert("path".into(), json!(path));
            }
            if let Some(domain) = c.domain() {
                v.insert("domain".into(), json!(domain));
            }
            v.insert("httpOnly".into(), json!(c.http_only().unwrap_or(false)));
            v.insert("secure".into(), json!(c.secure().unwrap_or(false)));
            Value::Object(v)
        })
        .collect()
}

fn http_version(protocol: Option<&str>) -> String {
    match protocol {
        Some("h2") => "HTTP/2".to_string(),
        Some(p) if !p.is_empty() => p.to_ascii_uppercase(),
        _ => "HTTP/1.1".to_string(),
    }
}

fn post_data(hop: &Hop, headers: &[(String, String)]) -> Option<Value> {
    let text = hop
        .post_data
        .as_deref()
        .or(hop.request["postData"].as_str())?;
    let mime = header(headers, "content-type").unwrap_or_default();
    let params: Vec<Value> = if mime.starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(text.as_bytes())
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect()
    } else {
        Vec::new()
    };
    Some(json!({ "mimeType": mime, "text": text, "params": params }))
}

/// HAR's timings from the response's DevTools `ResourceTiming`: milliseconds, -1 where a phase did
/// not happen (no DNS on a reused connection), and the whole `time` as their sum.
fn timings(hop: &Hop) -> (Value, f64) {
    let ended = hop.ended.unwrap_or(hop.sent);
    let Some(t) = hop
        .response
        .as_ref()
        .map(|r| &r["timing"])
        .filter(|t| t.is_object())
    else {
        let total = ms(ended - hop.sent).max(0.0);
        let timings = json!({ "blocked": -1, "dns": -1, "connect": -1, "ssl": -1,
                               "send": 0, "wait": total, "receive": 0 });
        return (timings, total);
    };
    let at = |name: &str| t[name].as_f64().unwrap_or(-1.0);
    let span = |start: &str, end: &str| {
        if at(start) >= 0.0 && at(end) >= 0.0 {
            at(end) - at(start)
        } else {
            -1.0
        }
    };
    let request_time = t["requestTime"].as_f64().unwrap_or(hop.sent);
    let first_phase = ["dnsStart", "connectStart", "sendStart"]
        .iter()
        .map(|name| at(name))
        .find(|v| *v >= 0.0)
        .unwrap_or(0.0);
    let blocked = (ms(request_time - hop.sent) + first_phase).max(0.0);
    let (dns, connect, ssl) = (
        span("dnsStart", "dnsEnd"),
        span("connectStart", "connectEnd"),
        span("sslStart", "sslEnd"),
    );
    let send = span("sendStart", "sendEnd").max(0.0);
    let wait = (at("receiveHeadersEnd") - at("sendEnd")).max(0.0);
    let receive = (ms(ended - request_time) - at("receiveHeadersEnd")).max(0.0);
    let total = blocked + dns.max(0.0) + connect.max(0.0) + send + wait + receive;
    let timings = json!({ "blocked": blocked, "dns": dns, "connect": connect, "ssl": ssl,
                           "send": send, "wait": wait, "receive": receive });
    (timings, total)
}

fn entry(hop: &Hop, sent: Option<&Value>, received: Option<&Value>) -> Value {
    let request = &hop.request;
    let url = request["url"].as_str().unwrap_or_default();
    let request_headers = headers(sent.unwrap_or(&request["headers"]));
    let query: Vec<Value> = url::Url::parse(url)
        .map(|u| {
            u.query_pairs()
                .map(|(name, value)| json!({ "name": name, "value": value }))
                .collect()
        })
        .unwrap_or_default();
    let posted = post_data(hop, &request_headers);
    let request_body_size = posted
        .as_ref()
        .map_or(0, |p| p["text"].as_str().unwrap_or_default().len());
    let response = hop.response.as_ref();
    let version = http_version(response.and_then(|r| r["protocol"].as_str()));

    let mut har_request = json!({
        "method": request["method"],
        "url": url,
        "httpVersion": version,
        "headers": pairs(&request_headers),
        "queryString": query,
        "cookies": request_cookies(&request_headers),
        "headersSize": -1,
        "bodySize": request_body_size,
    });
    if let Some(posted) = posted {
        har_request["postData"] = posted;
    }

    let response_headers = headers(
        received
            .map(|r| &r["headers"])
            .or(response.map(|r| &r["headers"]))
            .unwrap_or(&Value::Null),
    );
    let headers_size = received
        .and_then(|r| r["headersText"].as_str())
        .map_or(-1, |text| text.len() as i64);
    let body_size = match (hop.encoded_length, headers_size) {
        (Some(all), size) if size >= 0 => (all as i64 - size).max(0),
        _ => -1,
    };
    let mut content = json!({
        "size": 0,
        "mimeType": response.and_then(|r| r["mimeType"].as_str()).unwrap_or("x-unknown"),
    });
    if let Some(body) = &hop.body {
        let size = if body.base64 {
            B64.decode(&body.text).map_or(0, |bytes| bytes.len())
        } else {
            body.text.len()
        };
        content["size"] = json!(size);
        content["text"] = json!(body.text);
        if body.base64 {
            content["encoding"] = json!("base64");
        }
    }
    let har_response = json!({
        "status": response.and_then(|r| r["status"].as_i64()).unwrap_or(0),
        "statusText": response.and_then(|r| r["statusText"].as_str()).unwrap_or_default(),
        "httpVersion": version,
        "headers": pairs(&response_headers),
        "cookies": response_cookies(&response_headers),
        "content": content,
        "redirectURL": header(&response_headers, "location").unwrap_or_default(),
        "headersSize": headers_size,
        "bodySize": body_size,
    });

    let (timings, time) = timings(hop);
    let mut entry = json!({
        "startedDateTime": date_time(hop.wall_time),
        "time": time,
        "request": har_request,
        "response": har_response,
        "cache": {},
        "timings": timings,
        "_resourceType": hop.resource_type.to_ascii_lowercase(),
    });
    if let Some(page) = hop.page {
        entry["pageref"] = json!(page_id(page));
    }
    if let Some(ip) = response.and_then(|r| r["remoteIPAddress"].as_str()) {
        entry["serverIPAddress"] = json!(ip);
    }
    if let Some(error) = &hop.failed {
        entry["_error"] = json!(error);
    }
    entry
}
