//! The exchange embedded in a run, served on threads of its own that run below the load generator's
//! CPU priority.
//!
//! On one machine the two share the cores. Sharing one runtime, an exchange busy at a morning's peak
//! queues its work in front of the generator's, and visits start late: the run is judged invalid
//! for what is the exchange's load. On threads of its own at a lower priority, the exchange gets
//! every cycle the generator does not need, and when the machine is short of CPU it answers slower,
//! as an overloaded exchange would, which the run then measures.

use std::io;

use tokio::runtime::Runtime;

use super::{start, ExchangeConfig, RunningExchange};

/// How much below the generator the exchange's threads run, as a nice value. At 5 the kernel
/// gives a busy generator thread three times the share of a busy exchange thread, and the exchange
/// all the time the generator leaves.
pub const NICENESS: i32 = 5;

/// The exchange's own runtime. Shut down without waiting when dropped: dropping a runtime inside
/// async code would panic.
pub struct OwnThreads(Option<Runtime>);

impl OwnThreads {
    fn runtime(&self) -> &Runtime {
        self.0.as_ref().expect("taken only when dropped")
    }
}

impl Drop for OwnThreads {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Start the exchange on a runtime of its own, its worker threads at [`NICENESS`].
pub async fn start_on_own_threads(config: ExchangeConfig) -> io::Result<RunningExchange> {
    // Owned by the guard from the start, so that a failed start (an address in use) drops it
    // without a panic.
    let threads = OwnThreads(Some(
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("surge-exchange")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?,
    ));
    let mut running = threads
        .runtime()
        .spawn(start(config))
        .await
        .map_err(io::Error::other)??;
    running.threads = Some(threads);
    Ok(running)
}

/// Lower the calling thread's priority (on Linux a nice value is a thread's own). Lowering needs
/// no privilege; should it fail anyway, the exchange runs at the generator's priority, as before.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority reads no memory of ours; the id is this thread's own.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, NICENESS);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of thread `tid`, from /proc (field 19 of its stat line).
    fn nice_of(tid: i32) -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        // The command name may hold spaces: count fields after its closing parenthesis.
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn the_exchange_serves_from_threads_below_the_generators_priority() {
        let config = ExchangeConfig {
            bind: ([127, 0, 0, 1], 0).into(),
            ..ExchangeConfig::default()
        };
        let running = start_on_own_threads(config).await.unwrap();
        let own = nice_of(unsafe { libc::gettid() });
        // A thread of the exchange's runtime answers with its own id.
        let exchange_tid = running
            .threads
            .as_ref()
            .unwrap()
            .runtime()
            .spawn(async { unsafe { libc::gettid() } })
            .await
            .unwrap();
        assert_eq!(nice_of(exchange_tid), (own + NICENESS).min(19));
        let healthz = format!("{}/healthz", running.url());
        let body = reqwest::get(&healthz).await.unwrap().text().await.unwrap();
        assert_eq!(body, "ok");
        running.shutdown().await;
    }

    #[tokio::test]
    async fn an_exchange_that_cannot_start_says_why_and_leaves_no_threads_to_panic() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = ExchangeConfig {
            bind: taken.local_addr().unwrap(),
            ..ExchangeConfig::default()
        };
        let error = start_on_own_threads(config).await.err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
    }
}
