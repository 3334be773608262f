//! `timeline.csv`: one row per interval — arrivals intended and started, requests and failures by
//! outcome class, funnel stages reached — written as the run goes, so an interrupted run keeps it.
//! Columns are read by name, so a column added later does not shift the others.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::vocab::{Outcome, Stage, Step, OUTCOME_CLASSES};

use super::RunDirError;

pub const FILE_NAME: &str = "timeline.csv";

/// Funnel stages after `visits`, as columns (a row's `completed` is the `visits` stage).
const STAGE_COLUMNS: [&str; Stage::COUNT - 1] = [
    "browsed",
    "eligibility",
    "selected",
    "redirected",
    "paid",
    "effectuated",
];

/// One row of `timeline.csv`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Run time at the interval's end, in seconds.
    pub elapsed_s: f64,
    /// Scenario clock at the interval's end (`HH:MM:SS`), empty before the first arrival.
    pub clock: String,
    /// Arrivals scheduled in the interval (none for a closed run).
    pub intended: Option<u64>,
    pub started: u64,
    pub completed: u64,
    pub in_flight: u64,
    pub requests: u64,
    pub failures: u64,
    /// Requests by outcome class, in `OUTCOME_CLASSES` order.
    pub outcomes: [u64; Outcome::CLASS_COUNT],
    /// Visits finishing in the interval having reached each stage after `visits`.
    pub stages: [u64; Stage::COUNT - 1],
    pub visit_p95_ms: f64,
    pub late: u64,
    pub step_requests: [u64; Step::COUNT],
    pub step_failures: [u64; Step::COUNT],
    /// Waits in a waiting room that ended in the interval.
    pub held: u64,
}

impl Row {
    /// Visits finishing in the interval having reached each funnel stage (`visits` first).
    pub fn funnel(&self) -> [u64; Stage::COUNT] {
        let mut funnel = [0; Stage::COUNT];
        funnel[0] = self.completed;
        funnel[1..].copy_from_slice(&self.stages);
        funnel
    }
}

/// The column names, in file order.
fn header() -> Vec<String> {
    let mut names: Vec<String> = [
        "elapsed_s",
        "clock",
        "intended",
        "started",
        "completed",
        "in_flight",
        "requests",
        "failures",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend(OUTCOME_CLASSES.iter().map(|s| s.to_string()));
    names.extend(STAGE_COLUMNS.iter().map(|s| s.to_string()));
    names.push("visit_p95_ms".into());
    names.push("late".into());
    for step in Step::ALL {
        names.push(format!("{}_requests", step.name()));
        names.push(format!("{}_failures", step.name()));
    }
    names.push("held".into());
    names
}

/// Writes the timeline row by row, flushing each so an interrupted run keeps every interval.
pub struct TimelineWriter {
    out: csv::Writer<BufWriter<File>>,
}

impl TimelineWriter {
    pub fn create(path: &Path) -> Result<Self, RunDirError> {
        let file = File::create(path).map_err(|e| RunDirError::write(path, e))?;
        let mut out = csv::Writer::from_writer(BufWriter::new(file));
        out.write_record(header())
            .and_then(|_| out.flush().map_err(csv::Error::from))
            .map_err(|e| RunDirError::csv(path, e))?;
        Ok(Self { out })
    }

    pub fn write(&mut self, row: &Row) -> Result<(), RunDirError> {
        let mut record: Vec<String> = vec![
            format!("{:.3}", row.elapsed_s),
            row.clock.clone(),
            row.intended.map_or(String::new(), |n| n.to_string()),
            row.started.to_string(),
            row.completed.to_string(),
            row.in_flight.to_string(),
            row.requests.to_string(),
            row.failures.to_string(),
        ];
        record.extend(row.outcomes.iter().map(u64::to_string));
        record.extend(row.stages.iter().map(u64::to_string));
        record.push(format!("{:.3}", row.visit_p95_ms));
        record.push(row.late.to_string());
        for (requests, failures) in row.step_requests.iter().zip(&row.step_failures) {
            record.push(requests.to_string());
            record.push(failures.to_string());
        }
        record.push(row.held.to_string());
        self.out
            .write_record(&record)
            .and_then(|_| self.out.flush().map_err(csv::Error::from))
            .map_err(|e| RunDirError::csv(Path::new(FILE_NAME), e))
    }
}

/// Read a run's `timeline.csv`. A file from another version of surge (columns missing) is refused
/// with a message naming the column.
pub fn read(path: &Path) -> Result<Vec<Row>, RunDirError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| RunDirError::csv(path, e))?;
    let headers = reader
        .headers()
        .map_err(|e| RunDirError::csv(path, e))?
        .clone();
    let index: Vec<usize> = header()
        .iter()
        .map(|name| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| RunDirError::MissingColumn {
                    path: path.to_owned(),
                    column: name.clone(),
                })
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for (number, record) in reader.records().enumerate() {
        let record = record.map_err(|e| RunDirError::csv(path, e))?;
        let line = number + 2;
        let field = |column: usize| record.get(index[column]).unwrap_or("");
        let bad = |column: usize| RunDirError::NotANumber {
            path: path.to_owned(),
            line,
            column: header()[column].clone(),
        };
        let count = |column: usize| field(column).parse::<u64>().map_err(|_| bad(column));
        let real = |column: usize| field(column).parse::<f64>().map_err(|_| bad(column));
        let mut row = Row {
            elapsed_s: real(0)?,
            clock: field(1).to_string(),
            intended: field(2).parse().ok(),
            started: count(3)?,
            completed: count(4)?,
            in_flight: count(5)?,
            requests: count(6)?,
            failures: count(7)?,
            ..Row::default()
        };
        let mut column = 8;
        for n in row.outcomes.iter_mut().chain(row.stages.iter_mut()) {
            *n = count(column)?;
            column += 1;
        }
        row.visit_p95_ms = real(column)?;
        row.late = count(column + 1)?;
        column += 2;
        for step in 0..Step::COUNT {
            row.step_requests[step] = count(column)?;
            row.step_failures[step] = count(column + 1)?;
            column += 2;
        }
        row.held = count(column)?;
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_as_written() {
        let mut row = Row {
            elapsed_s: 1.5,
            clock: "08:00:00".into(),
            intended: Some(3),
            started: 1,
            late: 1,
            completed: 1,
            requests: 1,
            failures: 1,
            ..Row::default()
        };
        row.outcomes[3] = 1;
        row.stages = [1, 1, 1, 1, 0, 0];
        row.step_requests[Step::Pay as usize] = 1;
        row.step_failures[Step::Pay as usize] = 1;
        let later = Row {
            elapsed_s: 2.5,
            ..Row::default()
        };
        let path = std::env::temp_dir().join(format!("surge-timeline-{}.csv", std::process::id()));
        let mut writer = TimelineWriter::create(&path).unwrap();
        writer.write(&row).unwrap();
        writer.write(&later).unwrap();
        drop(writer);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("elapsed_s,clock,intended,started,"),
            "{text}"
        );
        let rows = read(&path).unwrap();
        assert_eq!(rows, vec![row, later]);
        assert_eq!(rows[1].intended, None);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_missing_column_is_named() {
        let path =
            std::env::temp_dir().join(format!("surge-timeline-old-{}.csv", std::process::id()));
        std::fs::write(&path, "elapsed_s,clock\n1.000,\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("`intended`"), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}
