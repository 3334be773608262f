//! Which requests of a recording become the journey. A browser session holds far more than the
//! visitor's own requests: scripts, styles, images and fonts, CORS preflights, beacons, calls to
//! analytics and font hosts, and the hops of redirects the browser followed. A journey keeps the
//! requests to the exchange (under the base URL, or on its host), and those to hosts the flow itself
//! led to — the insurer whose address came in a Pay Now form or a redirect — in the order they were
//! made. A redirect's hop is folded into the request that was redirected, because surge follows
//! redirects as the browser did. Everything left out is counted, so the file can say what was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use url::Url;

use super::recorded::{is_json, Recorded};
use super::sources;
use super::RecordingError;

/// What to keep.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The exchange's base URL; by default the origin of the first API call (else the first page).
    pub base_url: Option<String>,
    /// Keep static assets and requests to third-party hosts.
    pub keep_assets: bool,
}

/// The requests a journey is made of.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Without query or fragment, without a trailing `/`.
    pub base: Url,
    pub kept: Vec<Recorded>,
    pub left_out: LeftOut,
}

/// What was left out, counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeftOut {
    /// Scripts, styles, images, fonts, media.
    pub assets: usize,
    /// Requests to hosts neither the exchange's nor reached by the flow, by host.
    pub other_hosts: BTreeMap<String, usize>,
    /// Requests the browser made on its own: CORS preflights, beacons, web sockets.
    pub browser: usize,
    /// Requests that got no reply (blocked or cancelled).
    pub no_reply: usize,
    /// Requests with a method a journey cannot send (`CONNECT`, `TRACE`, a made-up one).
    pub other_methods: usize,
    /// Redirect hops folded into the request that was redirected.
    pub redirect_hops: usize,
}

impl Selection {
    /// Whether a URL is the base URL or below it.
    pub fn under_base(&self, url: &Url) -> bool {
        under(&self.base, url)
    }

    /// The hosts of kept requests other than the base URL's.
    pub fn other_hosts(&self) -> BTreeSet<String> {
        let base_host = self.base.host_str().unwrap_or_default();
        self.kept
            .iter()
            .filter_map(|r| r.url.host_str())
            .filter(|host| *host != base_host)
            .map(str::to_string)
            .collect()
    }
}

/// Choose the requests of the journey.
pub fn choose(
    path: &Path,
    all: Vec<Recorded>,
    options: &Options,
) -> Result<Selection, RecordingError> {
    let base = match &options.base_url {
        Some(given) => given_base(given)?,
        None => inferred_base(&all).ok_or_else(|| RecordingError::NoBase {
            path: path.to_owned(),
        })?,
    };
    let mut left_out = LeftOut::default();
    let mut kept: Vec<Recorded> = Vec::new();
    // Origins the flow led to: a kept reply offered a URL there.
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut offered: BTreeSet<String> = BTreeSet::new();
    for recorded in all {
        if let Some(previous) = kept.last_mut() {
            if is_hop_of(previous, &recorded) {
                reached.insert(recorded.url.origin().ascii_serialization());
                fold_hop(previous, recorded);
                left_out.redirect_hops += 1;
                offered.extend(sources::offered_urls(&previous.reply));
                continue;
            }
        }
        if is_browser_machinery(&recorded) {
            left_out.browser += 1;
            continue;
        }
        if recorded.reply.status == 0 {
            left_out.no_reply += 1;
            continue;
        }
        if !SENDABLE.contains(&recorded.method.as_str()) {
            left_out.other_methods += 1;
            continue;
        }
        if !options.keep_assets && is_asset(&recorded) {
            left_out.assets += 1;
            continue;
        }
        let origin = recorded.url.origin().ascii_serialization();
        let led_there = offered.contains(&without_query(&recorded.url));
        let ours = under(&base, &recorded.url)
            || origin == base.origin().ascii_serialization()
            || reached.contains(&origin)
            || led_there;
        if !ours && !options.keep_assets {
            *left_out
                .other_hosts
                .entry(recorded.url.host_str().unwrap_or("?").to_string())
                .or_default() += 1;
            continue;
        }
        reached.insert(origin);
        offered.extend(sources::offered_urls(&recorded.reply));
        kept.push(recorded);
    }
    if !kept.iter().any(|r| under(&base, &r.url)) {
        let mut hosts: BTreeSet<String> = kept
            .iter()
            .map(|r| r.url.origin().ascii_serialization())
            .collect();
        hosts.extend(left_out.other_hosts.keys().cloned());
        return Err(RecordingError::NothingUnderBase {
            path: path.to_owned(),
            base: base.to_string(),
            seen: hosts.into_iter().collect::<Vec<_>>().join(", "),
        });
    }
    Ok(Selection {
        base,
        kept,
        left_out,
    })
}

fn given_base(given: &str) -> Result<Url, RecordingError> {
    let bad = |reason: String| RecordingError::BaseUrl {
        given: given.to_string(),
        reason,
    };
    let mut url = Url::parse(given).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("it must be an http:// or https:// URL".to_string()));
    }
    url.set_query(None);
    url.set_fragment(None);
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

/// The origin of the first API call (a fetch, or a JSON reply), else of the first page.
fn inferred_base(all: &[Recorded]) -> Option<Url> {
    let api = all.iter().find(|r| {
        matches!(r.resource_type.as_deref(), Some("xhr" | "fetch")) || is_json(&r.reply.mime)
    });
    let page = || {
        all.iter()
            .find(|r| r.resource_type.as_deref() == Some("document") || r.reply.mime == "text/html")
    };
    let chosen = api.or_else(page)?;
    Url::parse(&chosen.url.origin().ascii_serialization()).ok()
}

fn under(base: &Url, url: &Url) -> bool {
    if url.origin() != base.origin() {
        return false;
    }
    let prefix = base.path().trim_end_matches('/');
    let path = url.path();
    prefix.is_empty()
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

pub fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// Whether `next` is the browser following `previous`'s redirect.
fn is_hop_of(previous: &Recorded, next: &Recorded) -> bool {
    let Some(location) = previous
        .reply
        .location
        .as_ref()
        .filter(|_| previous.reply.is_redirect())
    else {
        return false;
    };
    let mut location = location.clone();
    location.set_fragment(None);
    let mut url = next.url.clone();
    url.set_fragment(None);
    // 307 and 308 repeat the method; the others turn it into a GET.
    let method_fits = match previous.reply.status {
        307 | 308 => next.method == previous.method,
        _ => next.method == "GET",
    };
    url == location && method_fits
}

/// `previous` now ends where the redirect led: its reply is the last hop's.
fn fold_hop(previous: &mut Recorded, hop: Recorded) {
    previous.duration_ms = match (previous.started, hop.ended()) {
        (Some(start), Some(end)) => (end - start).num_microseconds().unwrap_or(0) as f64 / 1000.0,
        _ => previous.duration_ms + hop.duration_ms,
    };
    previous.reply = hop.reply;
}

/// The methods a journey file sends.
const SENDABLE: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

fn is_browser_machinery(recorded: &Recorded) -> bool {
    recorded.method == "OPTIONS"
        || matches!(
            recorded.resource_type.as_deref(),
            Some("preflight" | "ping" | "websocket" | "eventsource" | "cspviolationreport")
        )
}

const ASSET_TYPES: [&str; 7] = [
    "script",
    "stylesheet",
    "image",
    "font",
    "media",
    "manifest",
    "texttrack",
];

const ASSET_EXTENSIONS: [&str; 20] = [
    "js", "mjs", "css", "map", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif", "woff",
    "woff2", "ttf", "otf", "eot", "mp4", "webm", "wasm",
];

fn is_asset(recorded: &Recorded) -> bool {
    if let Some(kind) = recorded.resource_type.as_deref() {
        if ASSET_TYPES.contains(&kind) {
            return true;
        }
        if matches!(kind, "document" | "xhr" | "fetch") {
            return false;
        }
    }
    let mime = recorded.reply.mime.as_str();
    let asset_mime = ["image/", "font/", "audio/", "video/"]
        .iter()
        .any(|p| mime.starts_with(p))
        || matches!(
            mime,
            "text/css" | "text/javascript" | "application/javascript" | "application/wasm"
        );
    let extension = recorded
        .url
        .path()
        .rsplit('/')
        .next()
        .and_then(|last| last.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase());
    asset_mime || extension.is_some_and(|ext| ASSET_EXTENSIONS.contains(&ext.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, status: u16, mime: &str) -> Recorded {
        let mut recorded = Recorded::fixture(method, url);
        recorded.duration_ms = 1.0;
        recorded.reply.status = status;
        recorded.reply.mime = mime.to_string();
        recorded
    }

    fn paths(selection: &Selection) -> Vec<String> {
        selection.kept.iter().map(|r| r.url.to_string()).collect()
    }

    #[test]
    fn assets_preflights_and_third_parties_are_left_out_and_counted() {
        let mut pay_now = request("GET", "http://ex:1/api/pay-now", 200, "text/html");
        pay_now.reply.body =
            Some(r#"<form method="post" action="http://insurer:2/landing"></form>"#.into());
        let all = vec![
            request("GET", "http://ex:1/app", 200, "text/html"),
            request("GET", "http://ex:1/app.js", 200, "text/javascript"),
            request("GET", "http://fonts.example/f.woff2", 200, "font/woff2"),
            request("GET", "http://analytics.example/collect", 204, ""),
            request("OPTIONS", "http://ex:1/api/plans", 204, ""),
            request("GET", "http://ex:1/api/plans", 200, "application/json"),
            request("GET", "http://ex:1/api/gone", 0, ""),
            request("TRACE", "http://ex:1/api/plans", 200, ""),
            pay_now,
            request("POST", "http://insurer:2/landing", 200, "text/html"),
            request("GET", "http://insurer:2/logo.png", 200, "image/png"),
        ];
        let selection = choose(Path::new("t.har"), all.clone(), &Options::default()).unwrap();
        assert_eq!(selection.base.as_str(), "http://ex:1/");
        assert_eq!(
            paths(&selection),
            [
                "http://ex:1/app",
                "http://ex:1/api/plans",
                "http://ex:1/api/pay-now",
                "http://insurer:2/landing"
            ],
            "the insurer is kept: the Pay Now form led there"
        );
        assert_eq!(
            selection.left_out,
            LeftOut {
                assets: 3,
                other_hosts: BTreeMap::from([("analytics.example".to_string(), 1)]),
                browser: 1,
                no_reply: 1,
                other_methods: 1,
                redirect_hops: 0,
            }
        );
        let everything = choose(
            Path::new("t.har"),
            all,
            &Options {
                keep_assets: true,
                ..Options::default()
            },
        )
        .unwrap();
        assert_eq!(
            everything.kept.len(),
            8,
            "assets and other hosts, not the rest"
        );
    }

    #[test]
    fn a_redirect_hop_is_folded_into_the_redirected_request() {
        let mut post = request("POST", "http://ex:1/login", 302, "text/html");
        post.reply.location = Some(Url::parse("http://ex:1/home").unwrap());
        let mut home = request("GET", "http://ex:1/home", 200, "application/json");
        home.reply.body = Some("{\"ok\": true}".into());
        let selection = choose(Path::new("t.har"), vec![post, home], &Options::default()).unwrap();
        assert_eq!(paths(&selection), ["http://ex:1/login"]);
        let reply = &selection.kept[0].reply;
        assert_eq!(
            (reply.status, reply.url.as_str()),
            (200, "http://ex:1/home")
        );
        assert_eq!(selection.left_out.redirect_hops, 1);
    }

    #[test]
    fn a_base_url_with_a_path_keeps_what_is_under_it_and_nothing_under_it_is_an_error() {
        let all = vec![
            request(
                "GET",
                "http://ex:1/marketplace/api/a",
                200,
                "application/json",
            ),
            request("GET", "http://elsewhere/x", 200, "application/json"),
        ];
        let options = |base: &str| Options {
            base_url: Some(base.to_string()),
            keep_assets: false,
        };
        let selection = choose(
            Path::new("t.har"),
            all.clone(),
            &options("http://ex:1/marketplace/"),
        )
        .unwrap();
        assert_eq!(selection.base.as_str(), "http://ex:1/marketplace");
        assert!(selection.under_base(&Url::parse("http://ex:1/marketplace/api/a").unwrap()));
        assert!(!selection.under_base(&Url::parse("http://ex:1/marketplaces").unwrap()));
        let e = choose(Path::new("t.har"), all.clone(), &options("http://other:9"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.har: no request of the recording") && e.contains("http://other:9/"),
            "{e}"
        );
        let e = choose(Path::new("t.har"), all, &options("ftp://x")).unwrap_err();
        assert!(matches!(e, RecordingError::BaseUrl { .. }), "{e}");
    }
}
