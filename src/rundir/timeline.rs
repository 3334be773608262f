//! `timeline.csv`: one row per interval — arrivals intended and started, requests and failures by
//! outcome class, funnel stages reached — written as the run goes, so an interrupted run keeps it.
//! Columns are read by name, so a column added later does not shift the others. Each of the run's
//! steps (named by its journey file) has a pair of columns, `NAME_requests` and `NAME_failures`:
//! a reader finds the steps from the header.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::vocab::{Outcome, Stage, OUTCOME_CLASSES};

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
    /// Requests and failures per step, in the run's step order.
    pub steps: Vec<StepCount>,
    /// Waits in a waiting room that ended in the interval.
    pub held: u64,
}

/// One step's requests and failures in one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepCount {
    pub step: String,
    pub requests: u64,
    pub failures: u64,
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

/// The columns every timeline has, in file order, before the steps' and `held`.
const FIXED_COLUMNS: usize = 8 + Outcome::CLASS_COUNT + (Stage::COUNT - 1) + 2;

/// The column names, in file order, for a run with these steps.
fn header(steps: &[String]) -> Vec<String> {
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
    for step in steps {
        names.push(format!("{step}_requests"));
        names.push(format!("{step}_failures"));
    }
    names.push("held".into());
    names
}

/// Writes the timeline row by row, flushing each so an interrupted run keeps every interval.
pub struct TimelineWriter {
    out: csv::Writer<BufWriter<File>>,
    steps: Vec<String>,
    /// The file's whole path, for the message when a write fails.
    path: PathBuf,
}

impl TimelineWriter {
    /// A timeline for a run with these steps (one pair of columns each).
    pub fn create(path: &Path, steps: &[String]) -> Result<Self, RunDirError> {
        let file = File::create(path).map_err(|e| RunDirError::write(path, e))?;
        let mut out = csv::Writer::from_writer(BufWriter::new(file));
        out.write_record(header(steps))
            .and_then(|_| out.flush().map_err(csv::Error::from))
            .map_err(|e| RunDirError::csv(path, e))?;
        Ok(Self {
            out,
            steps: steps.to_vec(),
            path: path.to_owned(),
        })
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
        for step in &self.steps {
            let count = row.steps.iter().find(|c| &c.step == step);
            record.push(count.map_or(0, |c| c.requests).to_string());
            record.push(count.map_or(0, |c| c.failures).to_string());
        }
        record.push(row.held.to_string());
        self.out
            .write_record(&record)
            .and_then(|_| self.out.flush().map_err(csv::Error::from))
            .map_err(|e| RunDirError::csv(&self.path, e))
    }
}

/// The steps a timeline's header has columns for: every `NAME_requests` with its `NAME_failures`.
fn steps_in(headers: &csv::StringRecord) -> Vec<String> {
    headers
        .iter()
        .filter_map(|h| h.strip_suffix("_requests"))
        .filter(|step| headers.iter().any(|h| h == format!("{step}_failures")))
        .map(str::to_string)
        .collect()
}

/// Read a run's `timeline.csv`, which must have the columns of `steps` (the run's, from its summary)
/// and may have more. A file from another version of surge (columns missing) is refused with a
/// message naming the column.
pub fn read(path: &Path, steps: &[&str]) -> Result<Vec<Row>, RunDirError> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| RunDirError::csv(path, e))?;
    let headers = reader
        .headers()
        .map_err(|e| RunDirError::csv(path, e))?
        .clone();
    // The header's steps in its order, and the run's steps whether the header has them or not (a
    // missing one is then named below).
    let mut found = steps_in(&headers);
    for step in steps {
        if !found.iter().any(|f| f == step) {
            found.push(step.to_string());
        }
    }
    let steps = found;
    let names = header(&steps);
    // `transport` came after the other outcome classes: a timeline from before it counted those
    // requests under `connect`, and reads as none.
    let index: Vec<Option<usize>> = names
        .iter()
        .map(|name| match headers.iter().position(|h| h == name) {
            Some(at) => Ok(Some(at)),
            None if name == "transport" => Ok(None),
            None => Err(RunDirError::MissingColumn {
                path: path.to_owned(),
                column: name.clone(),
            }),
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for (number, record) in reader.records().enumerate() {
        let record = record.map_err(|e| RunDirError::csv(path, e))?;
        let line = number + 2;
        let field = |column: usize| match index[column] {
            Some(at) => record.get(at).unwrap_or(""),
            None => "0",
        };
        let bad = |column: usize| RunDirError::NotANumber {
            path: path.to_owned(),
            line,
            column: names[column].clone(),
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
        debug_assert_eq!(column, FIXED_COLUMNS);
        for step in &steps {
            row.steps.push(StepCount {
                step: step.clone(),
                requests: count(column)?,
                failures: count(column + 1)?,
            });
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
        let count = |step: &str, requests, failures| StepCount {
            step: step.into(),
            requests,
            failures,
        };
        row.steps = vec![count("login", 2, 0), count("pay", 1, 1)];
        let later = Row {
            elapsed_s: 2.5,
            steps: vec![count("login", 0, 0), count("pay", 0, 0)],
            ..Row::default()
        };
        let path = std::env::temp_dir().join(format!("surge-timeline-{}.csv", std::process::id()));
        let steps = ["login".to_string(), "pay".to_string()];
        let mut writer = TimelineWriter::create(&path, &steps).unwrap();
        writer.write(&row).unwrap();
        writer.write(&later).unwrap();
        drop(writer);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("elapsed_s,clock,intended,started,"),
            "{text}"
        );
        assert!(
            text.lines()
                .next()
                .unwrap()
                .ends_with(",late,login_requests,login_failures,pay_requests,pay_failures,held"),
            "a pair of columns per step, named by the journey file: {text}"
        );
        let rows = read(&path, &["pay"]).unwrap();
        assert_eq!(rows, vec![row, later]);
        assert_eq!(rows[1].intended, None);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_missing_column_is_named() {
        let path =
            std::env::temp_dir().join(format!("surge-timeline-old-{}.csv", std::process::id()));
        std::fs::write(&path, "elapsed_s,clock\n1.000,\n").unwrap();
        let err = read(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("`intended`"), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}
