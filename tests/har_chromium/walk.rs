//! One enrollment walked in Chromium and recorded: open the exchange's front-end page, let its
//! script call the API and hand the browser to the insurer, submit the insurer's payment page, and
//! stop when the payment's confirmation has arrived.
//!
//! Bodies are taken while the browser holds the response (`Fetch.requestPaused` at the response
//! stage, then `Fetch.getResponseBody`, then `Fetch.continueRequest`): a page that navigates away
//! at once — the Pay Now page submits itself while it is parsed — drops its resources, and
//! `Network.getResponseBody` asked a moment later would find nothing. `Network.getResponseBody`
//! is the fallback for a response that was never paused. Any error on the way (an error status
//! from the exchange, a failed load, an exception or console error on the page) ends the walk with
//! what went wrong; so does the deadline.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cdp::{Cdp, CdpError, Event};
use super::har::{Body, HarLog};

/// Why the walk did not reach the payment's confirmation.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error(transparent)]
    Cdp(#[from] CdpError),
    #[error("the exchange answered {status} to {method} {url}")]
    ErrorStatus {
        status: i64,
        method: String,
        url: String,
    },
    #[error("{method} {url} failed to load: {error}")]
    LoadFailed {
        method: String,
        url: String,
        error: String,
    },
    #[error("the page reported an error: {0}")]
    Page(String),
    #[error("the insurer's payment page at {0} has no button to pay with")]
    NoPayButton(String),
}

/// The insurer's Pay Now landing: `…/issuers/{id}/pay-now`, which shows the payment page.
fn is_insurer_landing(url: &str) -> bool {
    url.contains("/issuers/")
        && url
            .split('?')
            .next()
            .is_some_and(|path| path.ends_with("/pay-now"))
}

/// The insurer's binder payment: `POST …/issuers/{id}/payments`.
fn is_payment(method: &str, url: &str) -> bool {
    method == "POST" && url.contains("/issuers/") && url.ends_with("/payments")
}

/// A document, or a call of the page's script: what the walk is made of (a browser's own requests,
/// such as a favicon, may fail without harm).
fn walked(p: &Value) -> bool {
    matches!(p["type"].as_str(), Some("Document" | "Fetch" | "XHR"))
}

/// The recording of one walk: the HAR and the browser that made it.
pub struct Walk<'a> {
    cdp: &'a mut Cdp,
    session: String,
    log: HarLog,
    landing_loader: Option<String>,
    paid: bool,
}

/// Walk one enrollment from `start` (the front-end page's URL) to the paid confirmation, within
/// `wait`; the HAR of everything the page sent.
pub fn record_enrollment(devtools: &str, start: &str, wait: Duration) -> Result<Value, WalkError> {
    let mut cdp = Cdp::connect(devtools, Instant::now() + wait)?;
    let browser = cdp.call(None, "Browser.getVersion", json!({}))?;
    let target = cdp.call(None, "Target.createTarget", json!({ "url": "about:blank" }))?;
    let target_id = target["targetId"].as_str().unwrap_or_default().to_string();
    let attached = cdp.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target_id, "flatten": true }),
    )?;
    let session = attached["sessionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut walk = Walk {
        cdp: &mut cdp,
        log: HarLog::new(&target_id),
        session,
        landing_loader: None,
        paid: false,
    };
    walk.start(start)?;
    while !walk.paid {
        let event = walk
            .cdp
            .next_event("waiting for the insurer's payment confirmation")?;
        if event.session.as_deref() == Some(walk.session.as_str()) {
            walk.handle(event)?;
        }
    }
    let creator =
        json!({ "name": "surge tests/har_chromium", "version": env!("CARGO_PKG_VERSION") });
    let browser = json!({
        "name": "Chromium",
        "version": browser["product"].as_str().unwrap_or_default(),
    });
    let har = walk.log.build(creator, browser);
    // Closing lets the browser take its renderers down itself; its answer may not come.
    let _ = cdp.call(None, "Browser.close", json!({}));
    Ok(har)
}

impl Walk<'_> {
    fn call(&mut self, method: &str, params: Value) -> Result<Value, CdpError> {
        self.cdp.call(Some(&self.session), method, params)
    }

    fn start(&mut self, url: &str) -> Result<(), WalkError> {
        self.call("Page.enable", json!({}))?;
        self.call("Page.setLifecycleEventsEnabled", json!({ "enabled": true }))?;
        self.call("Runtime.enable", json!({}))?;
        self.call("Network.enable", json!({ "maxPostDataSize": 1 << 20 }))?;
        self.call(
            "Fetch.enable",
            json!({ "patterns": [{ "urlPattern": "*", "requestStage": "Response" }] }),
        )?;
        // Answered only once the page's response, paused for its body, is let go: not awaited.
        self.cdp
            .send(Some(&self.session), "Page.navigate", json!({ "url": url }))?;
        Ok(())
    }

    fn handle(&mut self, event: Event) -> Result<(), WalkError> {
        let p = &event.params;
        self.log.observe(&event.method, p);
        match event.method.as_str() {
            "Fetch.requestPaused" => self.take_body(p)?,
            "Network.requestWillBeSent" => {
                let id = p["requestId"].as_str().unwrap_or_default();
                let request = &p["request"];
                if request["hasPostData"] == true && request.get("postData").is_none() {
                    let posted =
                        self.call("Network.getRequestPostData", json!({ "requestId": id }))?;
                    let text = posted["postData"].as_str().unwrap_or_default().to_string();
                    self.log.set_post_data(id, text);
                }
                if p["type"] == "Document"
                    && is_insurer_landing(request["url"].as_str().unwrap_or(""))
                {
                    self.landing_loader = p["loaderId"].as_str().map(str::to_string);
                }
            }
            "Network.responseReceived" if walked(p) => {
                let status = p["response"]["status"].as_i64().unwrap_or(0);
                if status >= 400 {
                    let (method, url) = self.request_of(p);
                    return Err(WalkError::ErrorStatus {
                        status,
                        method,
                        url,
                    });
                }
            }
            "Network.loadingFailed" if walked(p) => {
                let (method, url) = self.request_of(p);
                let error = p["errorText"].as_str().unwrap_or_default().to_string();
                return Err(WalkError::LoadFailed { method, url, error });
            }
            "Network.loadingFinished" => {
                let id = p["requestId"].as_str().unwrap_or_default().to_string();
                if !self.log.has_body(&id) {
                    // Never paused (or paused before its body could be read): ask Network.
                    if let Ok(body) =
                        self.call("Network.getResponseBody", json!({ "requestId": id }))
                    {
                        self.log.set_body(&id, body_of(&body));
                    }
                }
                let (method, url) = self.request_of(p);
                self.paid = is_payment(&method, &url);
            }
            // The insurer's payment page has loaded: pay.
            "Page.lifecycleEvent"
                if p["name"] == "load"
                    && self.landing_loader.is_some()
                    && p["loaderId"].as_str() == self.landing_loader.as_deref() =>
            {
                self.landing_loader = None;
                self.pay()?;
            }
            "Runtime.exceptionThrown" => {
                let details = &p["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or_default();
                return Err(WalkError::Page(text.to_string()));
            }
            "Runtime.consoleAPICalled" if p["type"] == "error" => {
                let text = p["args"][0]["value"].as_str().unwrap_or_default();
                return Err(WalkError::Page(text.to_string()));
            }
            _ => {}
        }
        Ok(())
    }

    /// Read a paused response's body, then let it go on to the page.
    fn take_body(&mut self, p: &Value) -> Result<(), WalkError> {
        let paused = p["requestId"].as_str().unwrap_or_default().to_string();
        let status = p["responseStatusCode"].as_i64().unwrap_or(0);
        // Redirects have no body to read, nor do responses that failed.
        if p.get("responseErrorReason").is_none() && !(300..400).contains(&status) {
            let body = self.call("Fetch.getResponseBody", json!({ "requestId": paused }))?;
            if let Some(id) = p["networkId"].as_str() {
                self.log.set_body(id, body_of(&body));
            }
        }
        self.call("Fetch.continueRequest", json!({ "requestId": paused }))?;
        Ok(())
    }

    /// Pay on the insurer's page, as its visitor does: click its button.
    fn pay(&mut self) -> Result<(), WalkError> {
        let clicked = self.call(
            "Runtime.evaluate",
            json!({
                "expression": "(() => { const pay = document.querySelector('form button'); \
                                if (!pay) return location.href; pay.click(); return ''; })()",
                "returnByValue": true,
            }),
        )?;
        match clicked["result"]["value"].as_str() {
            Some("") => Ok(()),
            other => Err(WalkError::NoPayButton(
                other.unwrap_or_default().to_string(),
            )),
        }
    }

    fn request_of(&self, p: &Value) -> (String, String) {
        let id = p["requestId"].as_str().unwrap_or_default();
        let (method, url) = self.log.request_of(id).unwrap_or_default();
        (method.to_string(), url.to_string())
    }
}

fn body_of(answer: &Value) -> Body {
    Body::from_devtools(
        answer["body"].as_str().unwrap_or_default(),
        answer["base64Encoded"] == true,
    )
}
