//! `timeline.csv`: one row per interval — arrivals intended and started, requests and failures by
//! outcome class, funnel stages reached — written as the run goes, so an interrupted run keeps it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use super::Interval;

pub const FILE_NAME: &str = "timeline.csv";

pub const HEADER: &str = "elapsed_s,clock,intended,started,completed,in_flight,requests,failures,\
2xx,3xx,4xx,5xx,timeout,connect,browsed,eligibility,selected,redirected,paid,effectuated,visit_p95_ms,\
late,browse_requests,browse_failures,eligibility_requests,eligibility_failures,select_requests,\
select_failures,redirect_requests,redirect_failures,pay_requests,pay_failures,confirm_requests,\
confirm_failures,held";

/// Writes the timeline row by row.
pub struct TimelineWriter {
    out: BufWriter<File>,
}

impl TimelineWriter {
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        writeln!(out, "{HEADER}")?;
        out.flush()?;
        Ok(Self { out })
    }

    /// One interval ending `elapsed` after the run started; `clock` is the scenario clock then
    /// (empty before the first arrival), `intended` the arrivals scheduled in it.
    pub fn write(
        &mut self,
        elapsed: Duration,
        clock: &str,
        intended: Option<u64>,
        interval: &Interval,
    ) -> io::Result<()> {
        let visit = interval.latencies.last().map(|(_, h)| h);
        let p95 = visit
            .filter(|h| !h.is_empty())
            .map_or(0.0, |h| crate::measure::percentile(h, 95.0) as f64 / 1000.0);
        write!(
            self.out,
            "{:.3},{clock},{},{},{},{},{},{}",
            elapsed.as_secs_f64(),
            intended.map_or(String::new(), |n| n.to_string()),
            interval.started,
            interval.completed,
            interval.in_flight,
            interval.requests,
            interval.failures
        )?;
        for n in interval.outcomes {
            write!(self.out, ",{n}")?;
        }
        // The funnel's first stage (visits) is `completed`; the rest follow.
        for n in &interval.funnel[1..] {
            write!(self.out, ",{n}")?;
        }
        write!(self.out, ",{p95:.3},{}", interval.late)?;
        for (requests, failures) in interval.step_requests.iter().zip(&interval.step_failures) {
            write!(self.out, ",{requests},{failures}")?;
        }
        writeln!(self.out, ",{}", interval.held)?;
        self.out.flush()
    }
}

/// One row of `timeline.csv`, read back.
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
    pub outcomes: [u64; 6],
    /// Visits finishing in the interval having reached each stage after `visits`.
    pub stages: [u64; 6],
    pub visit_p95_ms: f64,
    pub late: u64,
    pub step_requests: [u64; 6],
    pub step_failures: [u64; 6],
    /// Waits in a waiting room that ended in the interval.
    pub held: u64,
}

/// Read a run's `timeline.csv`. A file from another version of surge (columns missing) is refused
/// with a message naming the column.
pub fn read(path: &Path) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{} is empty", path.display()))?
        .split(',')
        .collect();
    let column = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            format!(
                "{} has no column `{name}`: it was written by another version of surge",
                path.display()
            )
        })
    };
    let columns = |names: &[&str]| {
        names
            .iter()
            .map(|n| column(n))
            .collect::<Result<Vec<_>, _>>()
    };
    let fixed = columns(&[
        "elapsed_s",
        "clock",
        "intended",
        "started",
        "completed",
        "in_flight",
        "requests",
        "failures",
        "visit_p95_ms",
        "late",
        "held",
    ])?;
    let outcomes = columns(&crate::vocab::OUTCOME_CLASSES)?;
    let stages = columns(&[
        "browsed",
        "eligibility",
        "selected",
        "redirected",
        "paid",
        "effectuated",
    ])?;
    let step_names: Vec<String> = crate::vocab::Step::ALL
        .iter()
        .flat_map(|s| {
            [
                format!("{}_requests", s.name()),
                format!("{}_failures", s.name()),
            ]
        })
        .collect();
    let steps = columns(&step_names.iter().map(String::as_str).collect::<Vec<_>>())?;

    let mut rows = Vec::new();
    for (index, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let bad = |i: usize| {
            format!(
                "{} line {}: `{}` is not a number",
                path.display(),
                index + 2,
                header.get(i).unwrap_or(&"?")
            )
        };
        let count = |i: usize| -> Result<u64, String> {
            fields
                .get(i)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| bad(i))
        };
        let real = |i: usize| -> Result<f64, String> {
            fields
                .get(i)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| bad(i))
        };
        let mut row = Row {
            elapsed_s: real(fixed[0])?,
            clock: fields.get(fixed[1]).unwrap_or(&"").to_string(),
            intended: fields.get(fixed[2]).and_then(|f| f.parse().ok()),
            started: count(fixed[3])?,
            completed: count(fixed[4])?,
            in_flight: count(fixed[5])?,
            requests: count(fixed[6])?,
            failures: count(fixed[7])?,
            visit_p95_ms: real(fixed[8])?,
            late: count(fixed[9])?,
            held: count(fixed[10])?,
            ..Row::default()
        };
        for (i, c) in outcomes.iter().enumerate() {
            row.outcomes[i] = count(*c)?;
        }
        for (i, c) in stages.iter().enumerate() {
            row.stages[i] = count(*c)?;
        }
        for i in 0..6 {
            row.step_requests[i] = count(steps[2 * i])?;
            row.step_failures[i] = count(steps[2 * i + 1])?;
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Recorder;
    use crate::vocab::{Outcome, Stage, Step};
    use std::time::Duration as D;

    #[test]
    fn rows_read_back_as_written() {
        let recorder = Recorder::new();
        recorder.visit_started(D::from_millis(300), D::from_millis(100));
        recorder.request(Step::Pay, D::from_millis(4), Outcome::Status(503), false);
        recorder.visit_finished(D::from_millis(9), Stage::Redirected);
        let interval = recorder.take_interval();
        let path = std::env::temp_dir().join(format!("surge-timeline-{}.csv", std::process::id()));
        let mut writer = TimelineWriter::create(&path).unwrap();
        writer
            .write(D::from_millis(1500), "08:00:00", Some(3), &interval)
            .unwrap();
        writer
            .write(D::from_millis(2500), "", None, &recorder.take_interval())
            .unwrap();
        drop(writer);
        let rows = read(&path).unwrap();
        assert_eq!(rows.len(), 2);
        let row = &rows[0];
        assert_eq!(
            (row.elapsed_s, row.clock.as_str(), row.intended),
            (1.5, "08:00:00", Some(3))
        );
        assert_eq!(
            (
                row.started,
                row.late,
                row.completed,
                row.requests,
                row.failures
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(row.outcomes[3], 1);
        assert_eq!(row.stages, [1, 1, 1, 1, 0, 0]);
        assert_eq!(
            (
                row.step_requests[Step::Pay as usize],
                row.step_failures[Step::Pay as usize]
            ),
            (1, 1)
        );
        assert_eq!(rows[1].intended, None);
        std::fs::remove_file(path).unwrap();
    }
}
