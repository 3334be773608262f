//! A recorded browser session becomes a journey file (`surge journey from-har`), as k6's HAR
//! converter, Gatling's recorder and Locust's har2locust make scripts: the user clicks through
//! their exchange once with the browser's network panel recording, and gets the requests written
//! for them instead of typing forty by hand.
//!
//! The conversion is a pipeline, a module per stage:
//! [`har`] reads the file (HAR 1.2, with located errors) → [`recorded`] makes each entry usable
//! (URL parsed, body decoded, cookies read, in start order) → [`select`] keeps the visitor's own
//! requests (no assets, preflights or third-party hosts; redirect hops folded) → [`steps`] names
//! them and suggests their steps and stages → [`build`] writes every value a request sends as a
//! capture's reference ([`correlate`], from what [`sources`] says a reply offers), an
//! `${env:NAME}` ([`secrets`]) or the recorded text, into a [`draft`] → [`write`] renders it as
//! TOML with an opening comment that says what the user must still do.
//!
//! Two guarantees: no secret of the recording is written (the finished text is searched for each
//! in every encoding surge's redaction knows, and nothing is written if one is found), and bad
//! input is a message naming the file and the place in it, never a panic.

mod build;
mod correlate;
mod draft;
pub mod har;
mod recorded;
mod secrets;
mod select;
mod sources;
mod steps;
mod write;

use std::path::{Path, PathBuf};

pub use select::Options;

/// Why a recording cannot be converted.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(transparent)]
    Har(#[from] har::HarError),
    #[error("--base-url {given}: {reason}")]
    BaseUrl { given: String, reason: String },
    #[error("{}: no page or API call to take the exchange's address from: give --base-url", path.display())]
    NoBase { path: PathBuf },
    #[error("{}: no request of the recording is under the base URL {base} (its requests went to {seen}): give --base-url with the exchange's address", path.display())]
    NothingUnderBase {
        path: PathBuf,
        base: String,
        seen: String,
    },
    /// The last guard: a secret survived the conversion somewhere in the text.
    #[error("{}: a secret of the recording would be written into the journey file; nothing was written (please report this recording's shape)", path.display())]
    SecretLeft { path: PathBuf },
}

/// A converted recording.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// The journey file.
    pub text: String,
    /// The journey's name.
    pub journey: String,
    /// Requests in the recording, and kept in the journey.
    pub entries: usize,
    pub requests: usize,
    pub captures: usize,
    /// The environment variables the journey reads its secrets from.
    pub variables: Vec<String>,
}

/// Convert the HAR file at `path` into a journey file's text.
pub fn convert(path: &Path, options: &Options) -> Result<Conversion, RecordingError> {
    convert_har(path, &har::read(path)?, options)
}

/// [`convert`] on a HAR already read; `path` names it in messages and the journey after it.
fn convert_har(
    path: &Path,
    har: &har::Har,
    options: &Options,
) -> Result<Conversion, RecordingError> {
    let entries = har.log.entries.len();
    let recorded = recorded::entries(path, har)?;
    let selection = select::choose(path, recorded, options)?;
    let journey = journey_name(path);
    let draft = build::build(path, har, selection, &journey);
    let text = write::render(&draft);
    if draft.redactor.appear_in(&text) {
        return Err(RecordingError::SecretLeft {
            path: path.to_owned(),
        });
    }
    Ok(Conversion {
        journey,
        entries,
        requests: draft.requests.len(),
        captures: draft.requests.iter().map(|r| r.captures.len()).sum(),
        variables: draft.secrets.iter().map(|s| s.env.clone()).collect(),
        text,
    })
}

/// The journey is named after the file: `enrollment.har` is `enrollment`.
fn journey_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_matches('_').to_string();
    if name.is_empty() {
        "recording".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "K1234567890";
    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";

    fn entry(
        second: u32,
        method: &str,
        url: &str,
        headers: &str,
        post: &str,
        reply: &str,
    ) -> String {
        format!(
            r#"{{"startedDateTime": "2026-01-01T00:00:0{second}Z", "time": 5, "_resourceType": "fetch",
                "request": {{"method": "{method}", "url": "{url}", "headers": [{headers}] {post}}},
                "response": {reply}}}"#
        )
    }

    fn json_reply(body: &str, extra_headers: &str) -> String {
        format!(
            r#"{{"status": 200, "headers": [{extra_headers}], "content": {{"mimeType": "application/json", "text": {}}}}}"#,
            serde_json::to_string(body).unwrap()
        )
    }

    /// A login (password, a session cookie from before, the key in query and header), a list
    /// fetched with the token the login gave, an item fetched with a static token, the CSRF cookie
    /// and a value nobody gave.
    fn recording() -> String {
        let key_header = format!(r#"{{"name": "X-Api-Key", "value": "{KEY}"}}"#);
        let login = entry(
            0,
            "POST",
            &format!("http://ex:1/login?apikey={KEY}"),
            &format!(r#"{key_header}, {{"name": "Cookie", "value": "SESSIONID=sess-abc-123456"}}"#),
            r#", "postData": {"mimeType": "application/x-www-form-urlencoded", "text": "username=jane&password=hunter2-pass"}"#,
            &json_reply(
                &format!(r#"{{"token": "{JWT}"}}"#),
                r#"{"name": "Set-Cookie", "value": "csrf=CSRF-998877; Path=/"}"#,
            ),
        );
        let list = entry(
            1,
            "GET",
            &format!("http://ex:1/api/items?apikey={KEY}"),
            &format!(r#"{key_header}, {{"name": "Authorization", "value": "Bearer {JWT}"}}"#),
            "",
            &json_reply(r#"{"items": [{"id": "ITEM-000123"}]}"#, ""),
        );
        let item = entry(
            2,
            "GET",
            &format!("http://ex:1/api/items/ITEM-000123?apikey={KEY}&trace=TRACE-55aa77&back=%2Fapp%3Fapikey%3D{KEY}"),
            &format!(
                r#"{key_header}, {{"name": "Authorization", "value": "Bearer static-token-0001"}},
                   {{"name": "X-CSRF-Token", "value": "CSRF-998877"}}, {{"name": "User-Agent", "value": "Chrome"}}"#
            ),
            "",
            &json_reply("{}", ""),
        );
        format!(r#"{{"log": {{"version": "1.2", "entries": [{login}, {list}, {item}]}}}}"#)
    }

    fn converted() -> Conversion {
        let har = har::parse(Path::new("t.har"), &recording()).unwrap();
        convert_har(Path::new("t.har"), &har, &Options::default()).unwrap()
    }

    #[test]
    fn secrets_become_variables_and_none_is_written() {
        let conversion = converted();
        let text = &conversion.text;
        let values = [KEY, "hunter2-pass", "sess-abc-123456", "static-token-0001"];
        assert!(
            !crate::access::secrets::Secrets::new(values.map(String::from)).appear_in(text),
            "{text}"
        );
        assert_eq!(
            conversion.variables,
            ["T_APIKEY", "T_AUTHORIZATION", "T_PASSWORD", "T_SESSIONID"]
        );
        // The key went to every request, in the query and a header: the scenario sends it.
        assert!(
            text.contains("#   query = { apikey = \"${env:T_APIKEY}\" }"),
            "{text}"
        );
        assert!(
            text.contains("#   headers = { X-Api-Key = \"${env:T_APIKEY}\" }"),
            "{text}"
        );
        assert!(!text.contains("apikey = \"${env:T_APIKEY}\", "), "{text}");
        assert!(
            text.contains(r#"form = { username = "jane", password = "${env:T_PASSWORD}" }"#),
            "{text}"
        );
        assert!(
            text.contains(r#"headers = { Cookie = "SESSIONID=${env:T_SESSIONID}" }"#),
            "the cookie the browser had before the recording: {text}"
        );
        assert!(
            text.contains(r#"Authorization = "Bearer ${env:T_AUTHORIZATION}""#),
            "a token no reply gave keeps its scheme: {text}"
        );
        assert!(
            text.contains(r#"back = "/app?apikey=${env:T_APIKEY}""#),
            "a secret inside another value is replaced too: {text}"
        );
        assert!(!text.contains("User-Agent"), "{text}");
    }

    #[test]
    fn values_from_replies_are_captured_and_the_rest_is_listed() {
        let text = converted().text;
        for line in [
            r#"capture.token = { pointer = "/token" }"#,
            r#"capture.csrf = { cookie = "csrf" }"#,
            r#"capture.item_id = { pointer = "/items/0/id" }"#,
            r#"Authorization = "Bearer {{ token }}""#,
            r#"url = "/api/items/{{ item_id }}""#,
            r#"X-CSRF-Token = "{{ csrf }}""#,
            "#   requests.items_2 (query trace): TRACE-55aa77",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
    }

    #[test]
    fn the_journey_is_named_after_the_file() {
        assert_eq!(journey_name(Path::new("/x/Enrollment.har")), "enrollment");
        assert_eq!(journey_name(Path::new("my session.har")), "my_session");
        assert_eq!(journey_name(Path::new(".har")), "har");
        assert_eq!(journey_name(Path::new("...")), "recording");
    }
}
