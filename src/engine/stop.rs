//! How a run stops: one signal that every waiting visit hears at once. Nothing polls: a visit waiting
//! for its intended start sleeps until then or until the stop, whichever comes first, and the
//! reasons (a signal, `max_duration`, an `abort` rule) each trigger the stop when they happen.
//!
//! SIGINT and SIGTERM (how Ctrl-C, Kubernetes, systemd and CI runners stop a process) both stop the
//! run so that it writes everything it measured; a second signal exits at once. They are caught
//! with `ctrlc` (the crate Goose itself uses), installed before Goose can install its own, so
//! Goose's handler — SIGINT only, and `exit(1)` on the second — never takes over.
//!
//! Why not `tokio::signal`, as `surge exchange` uses: Goose 0.19 calls `ctrlc::set_handler` as its
//! attack starts (`GooseAttack::initialize_attack`, `util::setup_ctrlc_handler`). ctrlc allows one
//! handler per process and refuses the next (Goose logs that and carries on); without one of ours,
//! Goose's would be installed, replacing whatever handled SIGINT before. So ctrlc stays in the tree
//! through Goose either way, and surge uses it too.

use std::sync::OnceLock;

use tokio::sync::watch;

use super::Ending;

/// The exit code of a second signal: the run is abandoned at once, as the shell's convention for
/// SIGINT says.
const SECOND_SIGNAL_EXIT: i32 = 130;

/// The run's stop: set once, with the reason; every waiter wakes.
#[derive(Debug)]
pub struct Stop {
    reason: OnceLock<Ending>,
    stopped: watch::Sender<bool>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            reason: OnceLock::new(),
            stopped: watch::channel(false).0,
        }
    }
}

impl Stop {
    /// Stop the run for `reason`; only the first reason is kept. Goose stops launching users too.
    pub fn trigger(&self, reason: Ending) {
        if self.reason.set(reason.clone()).is_ok() {
            goose::trigger_killswitch(&reason.describe());
            self.stopped.send_replace(true);
        }
    }

    /// Why the run stopped, once it has.
    pub fn reason(&self) -> Option<&Ending> {
        self.reason.get()
    }

    /// Wait until the run is stopped (at once if it already is).
    pub async fn stopped(&self) {
        let mut stopped = self.stopped.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    /// Wait until the run is stopped in a way that abandons the visits in flight (never, if it
    /// stops for another reason): a signal, so SIGTERM ends a run within its grace period, or a
    /// capacity step's time running out.
    pub async fn interrupted(&self) {
        self.stopped().await;
        if !matches!(self.reason(), Some(Ending::Interrupted | Ending::TimeUp)) {
            std::future::pending::<()>().await;
        }
    }

    /// Sleep until `when`; false (at once) if the run stops first.
    pub async fn sleep_until(&self, when: tokio::time::Instant) -> bool {
        tokio::select! {
            _ = tokio::time::sleep_until(when) => self.reason().is_none(),
            _ = self.stopped() => false,
        }
    }

    /// Sleep until `when`, outside the run's visits (waiting for a shared start, serving the final
    /// metrics): a signal — one already received, or the next — stops the run and ends the sleep.
    /// False when it ended early.
    pub async fn sleep_until_or_signal(&self, when: tokio::time::Instant) -> bool {
        tokio::select! {
            slept = self.sleep_until(when) => slept,
            _ = self.on_signal() => false,
        }
    }

    /// Stop the run on SIGINT or SIGTERM: one already received since `catch_signals`, or the next.
    pub async fn on_signal(&self) {
        let mut signals = signals().subscribe();
        if signals.wait_for(|count| *count > 0).await.is_ok() {
            self.trigger(Ending::Interrupted);
        }
    }
}

/// Signals received by the process, counted; installed once, on first use.
fn signals() -> &'static watch::Sender<u32> {
    static SIGNALS: OnceLock<watch::Sender<u32>> = OnceLock::new();
    SIGNALS.get_or_init(|| {
        let (sender, _) = watch::channel(0);
        let handler = sender.clone();
        // Runs on ctrlc's own thread, for SIGINT, SIGTERM and SIGHUP.
        let installed = ctrlc::set_handler(move || {
            handler.send_modify(|count| *count += 1);
            if *handler.borrow() > 1 {
                eprintln!("surge: second signal, exiting at once");
                std::process::exit(SECOND_SIGNAL_EXIT);
            }
        });
        if let Err(e) = installed {
            // surge's logger prints errors only (src/logging.rs): say it on stderr, as surge does.
            eprintln!("surge: cannot catch SIGINT/SIGTERM: {e}");
        }
        sender
    })
}

/// Catch SIGINT and SIGTERM from now on (before Goose starts, so its own handler is refused).
pub fn catch_signals() {
    signals();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_stop_reaches_every_waiting_visit_at_once() {
        let stop = Arc::new(Stop::default());
        let start = tokio::time::Instant::now();
        let waiting: Vec<_> = (0..100)
            .map(|i| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    stop.sleep_until(start + Duration::from_secs(3600 + i))
                        .await
                })
            })
            .collect();
        tokio::task::yield_now().await;
        stop.trigger(Ending::Interrupted);
        for task in waiting {
            assert!(!task.await.unwrap(), "a stopped wait reports the stop");
        }
        // The clock is paused and only moves when every task sleeps: the waits ended by the stop,
        // not by any timer (a poll every 200 ms would have moved it).
        assert_eq!(tokio::time::Instant::now(), start);
        assert_eq!(stop.reason(), Some(&Ending::Interrupted));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_with_no_stop_ends_at_its_time_and_only_the_first_reason_is_kept() {
        let stop = Stop::default();
        let start = tokio::time::Instant::now();
        assert!(stop.sleep_until(start + Duration::from_secs(5)).await);
        assert_eq!(tokio::time::Instant::now(), start + Duration::from_secs(5));
        stop.trigger(Ending::Aborted("rule".into()));
        stop.trigger(Ending::Interrupted);
        assert_eq!(stop.reason(), Some(&Ending::Aborted("rule".into())));
        // Already stopped: waiting returns at once.
        assert!(!stop.sleep_until(start + Duration::from_secs(3600)).await);
    }
}
