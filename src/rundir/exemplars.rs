//! `exemplars.jsonl`: example requests, one JSON object per line, written interval by interval —
//! for every (step, failure reason, interval) the first few failed requests, and for every (step,
//! interval) the slowest request — with what the exchange answered (status, the reply's first bytes,
//! its interesting headers). They answer "what happened at 09:40" where counts cannot. Secrets from
//! the environment are redacted; cookies are never kept. The caps are in `measure::exemplars`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RunDirError;

pub const FILE_NAME: &str = "exemplars.jsonl";

/// One example request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exemplar {
    /// Scenario clock at the end of the interval it was seen in (`HH:MM:SS`; empty before the
    /// first arrival), and run time then.
    pub clock: String,
    pub elapsed_s: f64,
    /// `failure` (a failed request of this step and reason) or `slowest` (the interval's slowest
    /// request of this step).
    pub kind: String,
    pub step: String,
    /// The failure reason, as in `summary.json`; empty for `slowest`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub visit: u64,
    pub label: String,
    pub method: String,
    pub url: String,
    /// The HTTP status; `None` when no reply came (see `outcome`).
    pub status: Option<u16>,
    /// `2xx` … `5xx`, `timeout` or `connect`.
    pub outcome: String,
    pub latency_ms: f64,
    /// `retry-after`, `x-waiting-room`, `content-type`, when the reply had them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The reply's first bytes (lossy UTF-8).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// Appends exemplars, flushing after each interval's batch.
pub struct ExemplarsWriter {
    out: BufWriter<File>,
    /// The file's whole path, for the message when a write fails.
    path: PathBuf,
}

impl ExemplarsWriter {
    pub fn create(path: &Path) -> Result<Self, RunDirError> {
        let file = File::create(path).map_err(|e| RunDirError::write(path, e))?;
        Ok(Self {
            out: BufWriter::new(file),
            path: path.to_owned(),
        })
    }

    pub fn write(&mut self, exemplars: &[Exemplar]) -> Result<(), RunDirError> {
        let failed = |e| RunDirError::write(&self.path, e);
        for exemplar in exemplars {
            // Serialised whole first: a failed write is then a write error, never a JSON one.
            let mut line =
                serde_json::to_vec(exemplar).map_err(|e| RunDirError::json(&self.path, e))?;
            line.push(b'\n');
            self.out.write_all(&line).map_err(failed)?;
        }
        self.out.flush().map_err(failed)
    }
}

/// Every exemplar of a run directory, in the order written; a run without the file has none.
pub fn read(run_dir: &Path) -> Result<Vec<Exemplar>, RunDirError> {
    let path = run_dir.join(FILE_NAME);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RunDirError::read(&path, e)),
    };
    let mut exemplars = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| RunDirError::read(&path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        exemplars.push(serde_json::from_str(&line).map_err(|e| RunDirError::json(&path, e))?);
    }
    Ok(exemplars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exemplar() -> Exemplar {
        Exemplar {
            clock: "09:40:05".into(),
            elapsed_s: 12.0,
            kind: "failure".into(),
            step: "redirect".into(),
            reason: "redirect: insurer landing: HTTP 503".into(),
            visit: 42,
            label: "redirect: insurer landing".into(),
            method: "POST".into(),
            url: "http://127.0.0.1:1/issuers/11512/pay-now".into(),
            status: Some(503),
            outcome: "5xx".into(),
            latency_ms: 3.5,
            headers: BTreeMap::from([("retry-after".to_string(), "60".to_string())]),
            body: "{\"code\":\"1012\"}".into(),
        }
    }

    #[test]
    fn exemplars_read_back_as_written() {
        let dir = std::env::temp_dir().join(format!("surge-exemplars-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exemplar = exemplar();
        let mut writer = ExemplarsWriter::create(&dir.join(FILE_NAME)).unwrap();
        writer.write(std::slice::from_ref(&exemplar)).unwrap();
        writer.write(&[]).unwrap();
        drop(writer);
        assert_eq!(read(&dir).unwrap(), vec![exemplar]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A failed write names the file by its whole path, as every other file of the run does.
    #[test]
    fn a_failed_write_names_the_whole_path() {
        let full = Path::new("/dev/full");
        if !full.exists() {
            return; // Linux's always-full device; nothing to write into elsewhere.
        }
        let mut writer = ExemplarsWriter::create(full).unwrap();
        let many = vec![exemplar(); 200];
        let error = writer.write(&many).unwrap_err().to_string();
        assert!(error.starts_with("cannot write /dev/full: "), "{error}");
    }
}
