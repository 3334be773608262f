//! `enrollments.csv`: one row for every visit that selected a plan — which insurer, its Payment
//! Transaction ID, and how far it got — written as visits finish. It is what the cracks report
//! reconciles with the insurers' own records after the run.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

pub const FILE_NAME: &str = "enrollments.csv";

const HEADER: &str =
    "visit,issuer_id,issuer_name,payment_transaction_id,pay_now,reached_payment,paid,confirmed";

/// What one applicant who selected a plan got to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// The insurer's answer when asked (confirm journeys): `effectuated`, or its status; empty when
    /// the visit did not ask.
    pub confirmed: String,
}

/// Appends rows from every pool user.
pub struct EnrollmentLog {
    out: Mutex<BufWriter<File>>,
}

impl EnrollmentLog {
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        writeln!(out, "{HEADER}")?;
        Ok(Self {
            out: Mutex::new(out),
        })
    }

    pub fn record(&self, e: &Enrollment) {
        let clean = |text: &str| text.replace([',', '\n', '\r'], " ");
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // A failed write shows up at `flush`, which the run checks.
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            e.visit,
            clean(&e.issuer_id),
            clean(&e.issuer_name),
            clean(&e.payment_transaction_id),
            e.pay_now,
            e.reached_payment,
            e.paid,
            clean(&e.confirmed)
        );
    }

    pub fn flush(&self) -> io::Result<()> {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// Read a run's `enrollments.csv` back.
pub fn read(path: &Path) -> Result<Vec<Enrollment>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate().skip(1) {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let fields: Vec<&str> = line.split(',').collect();
        let bad = || {
            format!(
                "{} line {}: not an enrollment row",
                path.display(),
                index + 1
            )
        };
        if fields.len() != 8 {
            return Err(bad());
        }
        rows.push(Enrollment {
            visit: fields[0].parse().map_err(|_| bad())?,
            issuer_id: fields[1].to_string(),
            issuer_name: fields[2].to_string(),
            payment_transaction_id: fields[3].to_string(),
            pay_now: fields[4] == "true",
            reached_payment: fields[5] == "true",
            paid: fields[6] == "true",
            confirmed: fields[7].to_string(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let path =
            std::env::temp_dir().join(format!("surge-enrollments-{}.csv", std::process::id()));
        let log = EnrollmentLog::create(&path).unwrap();
        let row = Enrollment {
            visit: 7,
            issuer_id: "11512".into(),
            issuer_name: "Tar Heel, Mutual".into(),
            payment_transaction_id: "0000000000007".into(),
            pay_now: true,
            reached_payment: false,
            paid: false,
            confirmed: String::new(),
        };
        log.record(&row);
        log.flush().unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].issuer_name, "Tar Heel  Mutual");
        assert_eq!(
            Enrollment {
                issuer_name: row.issuer_name.replace(',', " "),
                ..row
            },
            back[0]
        );
        std::fs::remove_file(path).unwrap();
    }
}
