//! The run directory: the contract every command shares. This module owns every file name and
//! format in it — `summary.json`, `timeline.csv`, `latency.hlog`, `enrollments.csv`, the copy of
//! the scenario, and the files the report and the gate write — and reads them back. Everything after
//! a run (report, gate, cracks) reads only the run directory, so it works on a run made yesterday or
//! on another machine. A directory never mixes two runs.

pub mod enrollments;
pub mod exemplars;
pub mod failures;
pub mod hlog;
pub mod intervals;
pub mod summary;
pub mod timeline;

use std::path::{Path, PathBuf};

pub use intervals::{for_each_interval, IntervalData};
pub use summary::Summary;

/// The scenario as run, copied beside the results.
pub const SCENARIO_FILE: &str = "scenario.toml";
/// The report's pages and charts.
pub const HTML_FILE: &str = "index.html";
pub const MARKDOWN_FILE: &str = "summary.md";
pub const CHARTS_DIR: &str = "charts";
/// The gate's verdicts.
pub const JUNIT_FILE: &str = "junit.xml";
pub const GATE_FILE: &str = "gate.md";

/// Every file (and the one folder) a run writes: what `--force` clears, and what marks a directory
/// as holding a run.
pub const RUN_FILES: [&str; 12] = [
    summary::FILE_NAME,
    timeline::FILE_NAME,
    hlog::FILE_NAME,
    enrollments::FILE_NAME,
    failures::FILE_NAME,
    exemplars::FILE_NAME,
    SCENARIO_FILE,
    HTML_FILE,
    MARKDOWN_FILE,
    CHARTS_DIR,
    JUNIT_FILE,
    GATE_FILE,
];

/// A run directory that cannot be used, or a file in it that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("{path} already holds a run ({file}); choose another --out, or pass --force to replace that run")]
    HoldsARun { path: PathBuf, file: &'static str },
    #[error("{path}: {why}")]
    NotARunDir { path: PathBuf, why: &'static str },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("{path} is not a surge summary: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path} has no column `{column}`: it was written by another version of surge")]
    MissingColumn { path: PathBuf, column: String },
    #[error("{path} line {line}: `{column}` is not a number")]
    NotANumber {
        path: PathBuf,
        line: usize,
        column: String,
    },
    #[error("{path}: {what}")]
    BadIntervalLog { path: PathBuf, what: String },
    #[error("{path} was written by surge {written_by} (summary format {format}); this surge {} reads format {}", env!("CARGO_PKG_VERSION"), summary::FORMAT_VERSION)]
    OtherVersion {
        path: PathBuf,
        written_by: String,
        format: String,
    },
}

/// Write a whole file so that a reader never sees part of it: into a hidden file beside it, then
/// renamed over it. A write that fails (a full disk, a size limit) leaves the old file, or none.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), RunDirError> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let partial = path.with_file_name(format!(".{name}.partial"));
    let written = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        RunDirError::write(path, e)
    })
}

impl RunDirError {
    pub fn read(path: &Path, source: std::io::Error) -> Self {
        RunDirError::Read {
            path: path.to_owned(),
            source,
        }
    }

    pub fn write(path: &Path, source: std::io::Error) -> Self {
        RunDirError::Write {
            path: path.to_owned(),
            source,
        }
    }

    pub fn csv(path: &Path, source: csv::Error) -> Self {
        RunDirError::Csv {
            path: path.to_owned(),
            source,
        }
    }

    pub fn json(path: &Path, source: serde_json::Error) -> Self {
        RunDirError::Json {
            path: path.to_owned(),
            source,
        }
    }

    /// The directory itself is the problem (it holds another run): a usage error, not a failed run.
    pub fn is_usage(&self) -> bool {
        matches!(self, RunDirError::HoldsARun { .. })
    }
}

/// Make `path` ready for a new run: create it, refuse it if it already holds a run (unless `force`,
/// which first removes that run's files — and only those), and copy the scenario into it.
pub fn prepare(path: &Path, scenario: &Path, force: bool) -> Result<(), RunDirError> {
    if let Some(file) = RUN_FILES.iter().find(|f| path.join(f).exists()) {
        if !force {
            return Err(RunDirError::HoldsARun {
                path: path.to_owned(),
                file,
            });
        }
        for file in RUN_FILES {
            let old = path.join(file);
            let removed = if old.is_dir() {
                std::fs::remove_dir_all(&old)
            } else {
                std::fs::remove_file(&old)
            };
            match removed {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(RunDirError::write(&old, e))
                }
                _ => {}
            }
        }
    }
    std::fs::create_dir_all(path).map_err(|e| RunDirError::write(path, e))?;
    let copy = path.join(SCENARIO_FILE);
    std::fs::copy(scenario, &copy).map_err(|e| RunDirError::write(&copy, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("surge-rundir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_directory_holding_a_run_is_refused_unless_forced() {
        let dir = temp("refuse");
        let scenario = dir.with_extension("toml");
        std::fs::write(&scenario, "[traffic]\n").unwrap();
        prepare(&dir, &scenario, false).unwrap();
        std::fs::write(dir.join(JUNIT_FILE), "old verdicts").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let err = prepare(&dir, &scenario, false).unwrap_err();
        assert!(err.is_usage(), "{err}");
        assert!(err.to_string().contains("--force"), "{err}");
        assert!(dir.join(JUNIT_FILE).exists(), "a refusal changes nothing");

        prepare(&dir, &scenario, true).unwrap();
        assert!(
            !dir.join(JUNIT_FILE).exists(),
            "the old run's files are gone"
        );
        assert!(dir.join(SCENARIO_FILE).exists());
        assert!(
            dir.join("notes.txt").exists(),
            "files that are not a run's stay"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(&scenario).unwrap();
    }

    #[test]
    fn an_empty_or_new_directory_is_used() {
        let dir = temp("new");
        let scenario = dir.with_extension("toml");
        std::fs::write(&scenario, "[traffic]\n").unwrap();
        prepare(&dir, &scenario, false).unwrap();
        assert!(dir.join(SCENARIO_FILE).exists());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(&scenario).unwrap();
    }
}
