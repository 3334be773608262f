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
    let har = har::read(path)?;
    let entries = har.log.entries.len();
    let recorded = recorded::entries(path, &har)?;
    let selection = select::choose(path, recorded, options)?;
    let journey = journey_name(path);
    let draft = build::build(path, &har, selection, &journey);
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

    #[test]
    fn the_journey_is_named_after_the_file() {
        assert_eq!(journey_name(Path::new("/x/Enrollment.har")), "enrollment");
        assert_eq!(journey_name(Path::new("my session.har")), "my_session");
        assert_eq!(journey_name(Path::new(".har")), "har");
        assert_eq!(journey_name(Path::new("...")), "recording");
    }
}
