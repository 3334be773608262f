//! `enrollments.csv`: one row for every visit that selected a plan — which insurer, its Payment
//! Transaction ID, and how far it got — written as visits finish. It is what the cracks report
//! reconciles with the insurers' own records after the run. Written and read with serde and the
//! csv crate, so an insurer named "Tar Heel, Mutual" reads back as it was written.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::RunDirError;

pub const FILE_NAME: &str = "enrollments.csv";

/// What one applicant who selected a plan got to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub visit: u64,
    pub issuer_id: String,
    pub issuer_name: String,
    pub payment_transaction_id: String,
    /// The exchange's Pay Now page came with its SAML form.
    pub pay_now: bool,
    /// The insurer's payment page was reached.
    pub reached_payment: bool,
    pub paid: bool,
    /// The insurer's answer when asked (confirm journeys), in surge's words ([`STATUS_WORDS`],
    /// through the journey file's `status_map`); empty when the visit did not ask.
    pub confirmed: String,
}

/// surge's words for what an insurer's policy API answers about an applicant, the embedded
/// exchange's own: `effectuated` (the policy is active), `awaiting_payment`, `awaiting_834`, and
/// `unknown` (the shipped journeys' word when the insurer has no record). A journey file's
/// `[enrollment] confirmed` must produce one of them, or an insurer's word its `status_map` maps.
pub const STATUS_WORDS: [&str; 4] = ["effectuated", "awaiting_payment", "awaiting_834", "unknown"];

/// Whether `confirmed` is a word of surge's (or empty: the visit did not ask).
pub fn is_status_word(confirmed: &str) -> bool {
    confirmed.is_empty() || STATUS_WORDS.contains(&confirmed)
}

/// Appends rows from every visit.
pub struct EnrollmentLog {
    path: PathBuf,
    out: Mutex<Log>,
}

struct Log {
    writer: csv::Writer<BufWriter<File>>,
    /// The first write that failed: every later call reports it, so no row is lost unseen.
    failed: Option<String>,
}

impl EnrollmentLog {
    pub fn create(path: &Path) -> Result<Self, RunDirError> {
        let file = File::create(path).map_err(|e| RunDirError::write(path, e))?;
        // Headers by hand: serde's would come only with the first row, and an empty run needs them.
        let mut out = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(BufWriter::new(file));
        out.write_record([
            "visit",
            "issuer_id",
            "issuer_name",
            "payment_transaction_id",
            "pay_now",
            "reached_payment",
            "paid",
            "confirmed",
        ])
        .map_err(|e| RunDirError::csv(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            out: Mutex::new(Log {
                writer: out,
                failed: None,
            }),
        })
    }

    /// Append a row (buffered: a failed write may show here or at `flush`).
    pub fn record(&self, e: &Enrollment) -> Result<(), RunDirError> {
        let mut log = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if log.failed.is_none() {
            if let Err(error) = log.writer.serialize(e) {
                log.failed = Some(error.to_string());
            }
        }
        log.result(&self.path)
    }

    pub fn flush(&self) -> Result<(), RunDirError> {
        let mut log = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if log.failed.is_none() {
            if let Err(error) = log.writer.flush() {
                log.failed = Some(error.to_string());
            }
        }
        log.result(&self.path)
    }
}

impl Log {
    fn result(&self, path: &Path) -> Result<(), RunDirError> {
        match &self.failed {
            None => Ok(()),
            Some(why) => Err(RunDirError::write(path, std::io::Error::other(why.clone()))),
        }
    }
}

/// Read a run's `enrollments.csv` back.
pub fn read(path: &Path) -> Result<Vec<Enrollment>, RunDirError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| RunDirError::csv(path, e))?;
    reader
        .deserialize()
        .map(|row| row.map_err(|e| RunDirError::csv(path, e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_with_commas_and_quotes() {
        let path =
            std::env::temp_dir().join(format!("surge-enrollments-{}.csv", std::process::id()));
        let log = EnrollmentLog::create(&path).unwrap();
        let row = Enrollment {
            visit: 7,
            issuer_id: "11512".into(),
            issuer_name: "Tar Heel, \"Mutual\"".into(),
            payment_transaction_id: "0000000000007".into(),
            pay_now: true,
            reached_payment: false,
            paid: false,
            confirmed: String::new(),
        };
        log.record(&row).unwrap();
        log.flush().unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back, vec![row]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn an_empty_run_has_the_header() {
        let path = std::env::temp_dir().join(format!(
            "surge-enrollments-empty-{}.csv",
            std::process::id()
        ));
        EnrollmentLog::create(&path).unwrap().flush().unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("visit,issuer_id,"));
        assert!(read(&path).unwrap().is_empty());
        std::fs::remove_file(path).unwrap();
    }
}
