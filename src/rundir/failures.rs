//! `failures.csv`: every visit that failed, with the step and reason it failed at, written interval
//! by interval as the run goes. `summary.json` keeps the first few visits per reason; this file keeps
//! them all, so a replay can say which visits failed in both runs, and a user can pick any of them
//! to `surge trace --visit`. It grows with failed visits only (a healthy run writes the header).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::RunDirError;

pub const FILE_NAME: &str = "failures.csv";

const HEADER: [&str; 4] = ["visit", "clock", "step", "reason"];

/// One failed visit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FailedVisit {
    pub visit: u64,
    /// Scenario clock at the end of the interval it failed in (`HH:MM:SS`).
    pub clock: String,
    pub step: String,
    pub reason: String,
}

/// Appends failed visits, flushing after each interval's batch.
pub struct FailuresWriter {
    out: csv::Writer<BufWriter<File>>,
    /// The file's whole path, for the message when a write fails.
    path: PathBuf,
}

impl FailuresWriter {
    pub fn create(path: &Path) -> Result<Self, RunDirError> {
        let file = File::create(path).map_err(|e| RunDirError::write(path, e))?;
        let mut out = csv::Writer::from_writer(BufWriter::new(file));
        out.write_record(HEADER)
            .and_then(|_| out.flush().map_err(csv::Error::from))
            .map_err(|e| RunDirError::csv(path, e))?;
        Ok(Self {
            out,
            path: path.to_owned(),
        })
    }

    pub fn write(&mut self, failed: &[FailedVisit]) -> Result<(), RunDirError> {
        let error = |e| RunDirError::csv(&self.path, e);
        for f in failed {
            self.out
                .write_record([f.visit.to_string().as_str(), &f.clock, &f.step, &f.reason])
                .map_err(error)?;
        }
        self.out.flush().map_err(|e| error(csv::Error::from(e)))
    }
}

/// Every failed visit of a run directory, in the order they failed.
pub fn read(path: &Path) -> Result<Vec<FailedVisit>, RunDirError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| RunDirError::csv(path, e))?;
    let headers = reader
        .headers()
        .map_err(|e| RunDirError::csv(path, e))?
        .clone();
    if headers.iter().ne(HEADER) {
        return Err(RunDirError::MissingColumn {
            path: path.to_owned(),
            column: HEADER.join(","),
        });
    }
    let mut visits = Vec::new();
    for (number, record) in reader.records().enumerate() {
        let record = record.map_err(|e| RunDirError::csv(path, e))?;
        let visit = record
            .get(0)
            .and_then(|v| v.parse().ok())
            .ok_or(RunDirError::NotANumber {
                path: path.to_owned(),
                line: number + 2,
                column: "visit".into(),
            })?;
        let field = |i: usize| record.get(i).unwrap_or_default().to_string();
        visits.push(FailedVisit {
            visit,
            clock: field(1),
            step: field(2),
            reason: field(3),
        });
    }
    Ok(visits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_visits_read_back_as_written_reasons_with_commas_included() {
        let path = std::env::temp_dir().join(format!("surge-failures-{}.csv", std::process::id()));
        let failed = |visit, reason: &str| FailedVisit {
            visit,
            clock: "09:40:00".into(),
            step: "redirect".into(),
            reason: reason.into(),
        };
        let batches = [
            vec![failed(7, "insurer landing: status 404")],
            vec![],
            vec![failed(3, "pay: \"quoted\", with a comma")],
        ];
        let mut writer = FailuresWriter::create(&path).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        drop(writer);
        assert_eq!(read(&path).unwrap(), batches.concat());
        std::fs::remove_file(path).unwrap();
    }
}
