//! Level: the exchange on 127.0.0.1 driven with raw TCP, as a hostile or careless client would: it
//! is safe to leave open to a network. Slow headers and slow bodies are cut off after their
//! timeouts, a body over the limit is refused with 413, and SIGTERM or Ctrl-C stop `surge exchange`
//! gracefully (in-flight requests finish, within a bounded grace) with exit 0.
//! No sleeps are used to synchronise: every wait is on a socket or a process, under a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use surge::exchange::{self, ExchangeConfig, Timeouts, MAX_BODY};

/// `surge exchange --bind 127.0.0.1:0 ARGS…`, its address (read from its first line), and the rest
/// of its stdout.
struct Process {
    child: Child,
    addr: SocketAddr,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Process {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_surge"))
            .args(["exchange", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("surge exchange starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("surge exchange listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        let addr: SocketAddr = url.parse().unwrap();
        assert!(addr.ip().is_loopback(), "loopback only: {addr}");
        Self {
            child,
            addr,
            stdout,
        }
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    /// Wait (bounded) for the process to end; its exit code and the rest of its stdout.
    fn wait(mut self, within: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("surge exchange still running {within:?} after the signal");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (status.code(), rest)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connects");
    // The bound on every wait below: past it the read fails and the test with it.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Everything the server sends until it closes the connection, and how long that took. Panics if it
/// is still open after the read timeout.
fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    match stream.read_to_end(&mut got) {
        Ok(_) => {}
        // A reset after the answer still closes it.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!(
            "the connection was still open after {:?} ({e}); read so far: {}",
            start.elapsed(),
            String::from_utf8_lossy(&got)
        ),
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

/// The JSON body of a raw HTTP/1.1 response.
fn json_body(response: &str) -> serde_json::Value {
    let (_, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no body in {response}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn slow_headers_are_cut_off_after_the_header_timeout() {
    let exchange = Process::start(&["--header-timeout", "500ms"]);
    // Half a request header that never ends, on a handful of connections, and one that sends nothing.
    let mut slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut stream = connect(exchange.addr);
            stream
                .write_all(b"POST /api/v1/plans/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
                .unwrap();
            stream
        })
        .collect();
    slow.push(connect(exchange.addr));
    for stream in &mut slow {
        let (answer, after) = read_until_closed(stream);
        assert_eq!(answer, "", "nothing is answered to half a request");
        assert!(after < Duration::from_secs(10), "closed after {after:?}");
    }
    // Cut off at the timeout, not before.
    let mut late = connect(exchange.addr);
    let start = Instant::now();
    late.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let (_, _) = read_until_closed(&mut late);
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "not before the timeout: {:?}",
        start.elapsed()
    );

    // The exchange still serves whoever sends a whole request.
    let mut ok = connect(exchange.addr);
    ok.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (answer, _) = read_until_closed(&mut ok);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let help = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args(["exchange", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for shown in [
        "--header-timeout <DURATION>",
        "[default: 10s]",
        "--body-timeout <DURATION>",
        "[default: 30s]",
        "--shutdown-grace <DURATION>",
    ] {
        assert!(help.contains(shown), "{shown} in --help:\n{help}");
    }
    let zero = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args([
            "exchange",
            "--bind",
            "127.0.0.1:0",
            "--header-timeout",
            "0s",
        ])
        .output()
        .unwrap();
    assert_eq!(zero.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--header-timeout"));
}

#[test]
fn a_body_that_never_arrives_is_answered_408_after_the_body_timeout() {
    let exchange = Process::start(&["--body-timeout", "500ms"]);
    let mut stream = connect(exchange.addr);
    let start = Instant::now();
    stream
        .write_all(
            b"POST /api/v1/plans/search HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"market\":",
        )
        .unwrap();
    let (answer, _) = read_until_closed(&mut stream);
    let elapsed = start.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = json_body(&answer);
    assert_eq!(body["status"], "408", "{body}");
    assert_eq!(body["code"], "1003", "{body}");
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(10),
        "answered after {elapsed:?}"
    );
}

/// An exchange served in-process on loopback, with the default limits.
async fn exchange_with_defaults() -> exchange::RunningExchange {
    exchange::start(ExchangeConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        ..ExchangeConfig::default()
    })
    .await
    .expect("exchange starts")
}

/// Send `head` then `body` on a fresh connection (from a blocking thread), and read the answer.
async fn exchange_raw(addr: SocketAddr, head: String, body: Vec<u8>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut stream = connect(addr);
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer and close before reading a body it refuses.
        let _ = stream.write_all(&body);
        read_until_closed(&mut stream).0
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_answered_413() {
    let running = exchange_with_defaults().await;
    let addr = running.local_addr();
    let post = |framing: &str| {
        format!(
            "POST /api/v1/plans/search HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\n{framing}\r\n\r\n"
        )
    };

    // 64 MiB declared: refused at once, before a byte of it is sent.
    let answer = exchange_raw(addr, post("Content-Length: 67108864"), Vec::new()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = json_body(&answer);
    assert_eq!(body["status"], "413", "{body}");
    assert_eq!(body["message"], "Request body too large", "{body}");

    // One byte over the limit, with no length declared (chunked): refused once read that far.
    let chunked = |len: usize| {
        let mut body = format!("{len:x}\r\n").into_bytes();
        body.extend(std::iter::repeat_n(b' ', len));
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        body
    };
    let answer = exchange_raw(
        addr,
        post("Transfer-Encoding: chunked"),
        chunked(MAX_BODY + 1),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(json_body(&answer)["status"], "413");

    // At the limit the body is read (and, being only spaces, refused as malformed JSON).
    let answer = exchange_raw(addr, post("Transfer-Encoding: chunked"), chunked(MAX_BODY)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(json_body(&answer)["status"], "400");

    // The insurers' urlencoded forms have the same limit.
    let answer = exchange_raw(
        addr,
        "POST /issuers/11512/payments HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 67108864\r\n\r\n"
            .to_string(),
        Vec::new(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_stop_waits_for_requests_in_flight_only_as_long_as_the_grace() {
    let running = exchange::start(ExchangeConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        timeouts: Timeouts {
            shutdown_grace: Duration::from_millis(300),
            ..Timeouts::default()
        },
        ..ExchangeConfig::default()
    })
    .await
    .unwrap();
    // A connection that sent half a header is in flight; the stop does not wait for its 10 s.
    let mut half = tokio::net::TcpStream::connect(running.local_addr())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut half, b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    // Accepted and being read: a whole request on a second connection is answered after it.
    let mut whole = tokio::net::TcpStream::connect(running.local_addr())
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut whole, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut whole, &mut answer)
        .await
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let start = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(5), running.shutdown())
        .await
        .expect("the stop is bounded by the grace");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(stopped.cut <= 1, "{stopped:?}");
}

/// A faults file making every browse request take `service` (one at a time), so a request can be
/// seen in flight on /metrics.
fn slow_browse(name: &str, service: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "surge-hardening-{name}-{}.toml",
        std::process::id()
    ));
    std::fs::write(
        &path,
        format!(
            "[capacity.browse]\nmedian = \"{service}\"\np99 = \"{service}\"\nconcurrency = 1\n"
        ),
    )
    .unwrap();
    path
}

/// Send a browse request on its own thread; its answer (empty if the connection closed unanswered).
fn browse_in_background(addr: SocketAddr) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut stream = connect(addr);
        stream
            .write_all(
                b"GET /api/v1/counties/by/zip/27601?year=2014 HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                  Connection: close\r\n\r\n",
            )
            .unwrap();
        read_until_closed(&mut stream).0
    })
}

/// Wait (bounded) until /metrics shows a browse request being served.
fn wait_for_browse_in_service(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut stream = connect(addr);
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (metrics, _) = read_until_closed(&mut stream);
        if metrics.contains("exchange_capacity_in_service{class=\"browse\"} 1") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the request never got in: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let faults = slow_browse("term", "3s");
    let exchange = Process::start(&["--faults", faults.to_str().unwrap()]);
    let addr = exchange.addr;
    let request = browse_in_background(addr);
    wait_for_browse_in_service(addr);
    exchange.signal("TERM");
    let answer = request.join().unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight is answered: {answer}"
    );
    let (code, stdout) = exchange.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("SIGTERM, stopping"), "{stdout}");
    assert!(stdout.contains("surge exchange stopped\n"), "{stdout}");
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens any more"
    );
    std::fs::remove_file(faults).unwrap();
}

#[test]
fn ctrl_c_past_the_grace_closes_what_is_left_and_exits_0() {
    let faults = slow_browse("int", "60s");
    let exchange = Process::start(&[
        "--faults",
        faults.to_str().unwrap(),
        "--shutdown-grace",
        "500ms",
    ]);
    let request = browse_in_background(exchange.addr);
    wait_for_browse_in_service(exchange.addr);
    let start = Instant::now();
    exchange.signal("INT");
    let (code, stdout) = exchange.wait(Duration::from_secs(20));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert!(stdout.contains("SIGINT, stopping"), "{stdout}");
    assert!(
        stdout.contains("1 connection(s) still busy after 0.5 s closed"),
        "{stdout}"
    );
    assert_eq!(
        request.join().unwrap(),
        "",
        "closed unanswered, not left hanging"
    );
    std::fs::remove_file(faults).unwrap();
}
