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
confirm_failures";

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
        writeln!(self.out)?;
        self.out.flush()
    }
}
