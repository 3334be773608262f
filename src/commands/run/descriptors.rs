//! Connections and file descriptors. Every connection the run holds is a file descriptor — two
//! with the embedded exchange, which holds the other end in the same process — and the soft limit
//! is often 1,024. surge raises it to the hard limit at start, and a scenario whose
//! `http.max_connections` needs more than that is refused before any traffic, rather than found
//! out by visits failing with "Too many open files" at the peak.

use crate::scenario::locate::KeyPath;
use crate::scenario::Scenario;

use crate::commands::Error;

/// Descriptors kept for everything but connections: the run directory's files, the standard
/// streams, the runtime's epoll and wake-ups, the live-metrics listener.
const SPARE: u64 = 64;

/// What the process can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// The soft open-file limit, raised to the hard limit.
    pub open_files: u64,
    /// Connections it leaves room for at once.
    pub holds: u64,
}

impl Connections {
    /// With the open-file limit `open_files`: each connection takes one descriptor, two when the
    /// exchange runs in the same process.
    pub fn with_limit(open_files: u64, embedded: bool) -> Self {
        let per_connection = if embedded { 2 } else { 1 };
        Self {
            open_files,
            holds: open_files.saturating_sub(SPARE) / per_connection,
        }
    }

    /// For a run of `scenario` against `target`: the soft open-file limit raised to the hard limit
    /// and what that holds, or `None` where the platform has no such limit to read; a scenario
    /// asking for more connections at once than that is refused.
    pub fn for_run(scenario: &Scenario, target: Option<&str>) -> Result<Option<Self>, Error> {
        let embedded = scenario.targets_embedded(target);
        let Ok(limit) = rlimit::increase_nofile_limit(u64::MAX) else {
            return Ok(None);
        };
        let connections = Self::with_limit(limit, embedded);
        connections.check(scenario, embedded)?;
        Ok(Some(connections))
    }

    /// Refuse a scenario that asks for more connections at once than this holds.
    fn check(&self, scenario: &Scenario, embedded: bool) -> Result<(), Error> {
        let asked = scenario.http.max_connections.0;
        if asked <= self.holds {
            return Ok(());
        }
        let each = match embedded {
            true => "two with the embedded exchange, which holds the other end",
            false => "one each",
        };
        let message = format!(
            "http.max_connections = {asked}, but this process can hold {} connections: its \
             open-file limit is {} (raised to the hard limit; {each}, and {SPARE} kept for files). \
             Lower max_connections (requests past it wait for a connection, and the wait counts \
             in their latency), raise the hard limit (ulimit -Hn, or the container runtime's \
             nofile), or spread the visits over shards (--shard)",
            self.holds, self.open_files
        );
        let key = KeyPath::of(&["http", "max_connections"]);
        Err(Error::Scenario(scenario.source.error_at(&key, message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn asking(connections: u64) -> Scenario {
        let text = format!("[traffic]\nvisits = 10\n\n[http]\nmax_connections = {connections}\n");
        Scenario::parse(Path::new("scenarios/big.toml"), &text).unwrap()
    }

    #[test]
    fn the_embedded_exchange_halves_what_a_limit_holds() {
        assert_eq!(Connections::with_limit(20_000, false).holds, 19_936);
        assert_eq!(Connections::with_limit(20_000, true).holds, 9_968);
        assert_eq!(Connections::with_limit(10, true).holds, 0);
    }

    #[test]
    fn asking_for_more_than_it_holds_is_refused_at_the_line() {
        let holds = Connections::with_limit(1024, false);
        assert!(holds.check(&asking(960), false).is_ok());
        let refused = holds.check(&asking(961), false).unwrap_err();
        assert_eq!(refused.exit_code(), 2);
        let message = refused.to_string();
        assert!(
            message.starts_with("scenarios/big.toml:5:"),
            "names the file and line: {message}"
        );
        assert!(message.contains("can hold 960 connections"), "{message}");
        assert!(
            Connections::with_limit(1024, true)
                .check(&asking(481), true)
                .is_err(),
            "two descriptors a connection with the exchange inside"
        );
    }
}
