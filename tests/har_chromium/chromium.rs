//! Headless Chromium, started for one recording and stopped with it.
//!
//! It is started on `about:blank` with `--remote-debugging-port=0`: the port it picked is read from
//! the `DevTools listening on ws://…` line it prints on stderr. Its profile is a directory of its
//! own, removed when it stops. Stderr keeps being read to its end on a thread of its own, so that a
//! chatty browser never blocks on a full pipe, and its last lines explain a failed start.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The browser's command: `SURGE_CHROMIUM` (another Chromium), else `chromium`, as Debian's package
/// and CI install it.
fn command() -> std::ffi::OsString {
    std::env::var_os("SURGE_CHROMIUM").unwrap_or_else(|| "chromium".into())
}

/// Why Chromium could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("Chromium is not installed: install it (Debian: apt-get install chromium) or point SURGE_CHROMIUM at one, or set SURGE_SKIP_BROWSER_TESTS=1 to skip the browser tests")]
    NotInstalled,
    #[error("Chromium could not be started: {0}")]
    Spawn(std::io::Error),
    #[error(
        "Chromium printed no `DevTools listening on` line within {waited:?}; its stderr:\n{stderr}"
    )]
    NoDevTools { waited: Duration, stderr: String },
}

/// A running headless Chromium; killed (by its own pid) and its profile removed when dropped.
pub struct Chromium {
    child: Child,
    profile: PathBuf,
    /// The browser's DevTools websocket, `ws://127.0.0.1:PORT/devtools/browser/…`.
    pub devtools: String,
}

impl Chromium {
    /// Start Chromium with a fresh profile under `profile`; wait at most `wait` for its DevTools URL.
    pub fn launch(profile: PathBuf, wait: Duration) -> Result<Chromium, LaunchError> {
        let _ = std::fs::remove_dir_all(&profile);
        let mut child = Command::new(command())
            .arg("--headless=new")
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--no-first-run", "--no-default-browser-check"])
            // Nothing but the test's own pages: no update checks, sync or other background traffic.
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .args([
                "--disable-sync",
                "--disable-extensions",
                "--disable-default-apps",
            ])
            // Containers (CI among them) run as root, where Chromium refuses its sandbox, and give
            // /dev/shm a few megabytes. The browser loads only the test's loopback pages.
            .args(["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => LaunchError::NotInstalled,
                _ => LaunchError::Spawn(e),
            })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (lines, found) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The receiver is gone once the URL was found or the wait given up: keep draining.
                let _ = lines.send(line);
            }
        });
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        let devtools = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match found.recv_timeout(left) {
                Ok(line) => match line.split_once("DevTools listening on ") {
                    Some((_, url)) => break url.trim().to_string(),
                    None => seen.push(line),
                },
                // Timed out, or stderr closed because the browser exited.
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(LaunchError::NoDevTools {
                        waited: wait,
                        stderr: seen.join("\n"),
                    });
                }
            }
        };
        Ok(Chromium {
            child,
            profile,
            devtools,
        })
    }
}

impl Chromium {
    /// Wait at most `wait` for the browser to exit (after `Browser.close`), so that it takes its
    /// renderers down itself; whatever is left is killed on drop.
    pub fn wait_for_exit(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
