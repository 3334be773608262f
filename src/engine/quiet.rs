//! Only surge speaks on stdout. Goose 0.19 prints "630 users launched." there whatever its quiet
//! settings say (`GooseAttack::reset_metrics`, reached with `iterations` set, as surge sets it), and
//! no setting stops it. Nothing of surge's goes to stdout while Goose runs (the progress line is on
//! stderr), so file descriptor 1 — which Goose's `println!` reaches — points at /dev/null for that
//! time, and back at stdout after.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;

/// Stdout held shut while alive; reopened when dropped.
pub struct StdoutShut {
    saved: OwnedFd,
}

impl StdoutShut {
    /// `None` if stdout cannot be shut: then Goose's line shows, and nothing else is lost.
    pub fn new() -> Option<StdoutShut> {
        let _ = std::io::stdout().flush();
        let saved = nix::unistd::dup(std::io::stdout()).ok()?;
        let null = File::options().write(true).open("/dev/null").ok()?;
        nix::unistd::dup2_stdout(&null).ok()?;
        Some(StdoutShut { saved })
    }
}

impl Drop for StdoutShut {
    fn drop(&mut self) {
        // Goose's line, still in the buffer, goes to /dev/null too.
        let _ = std::io::stdout().flush();
        let _ = nix::unistd::dup2_stdout(&self.saved);
    }
}
