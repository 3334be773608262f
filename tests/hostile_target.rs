//! Level: the `surge` binary run end to end against hostile targets, as a user would point it at a
//! staging exchange they do not control. Loopback mocks (127.0.0.1, and 127.0.0.2 as "another
//! host") send a 1 GiB reply, a gzip bomb, an endless reply, redirects out and in loops, replies
//! that echo the run's secrets, slow headers, and connections reset or cut mid-body. Each run
//! asserts what docs/security.md promises: nothing sent to a host the scenario does not allow,
//! memory bounded, no secret written in any encoding, each failure with its own reason.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The key every scenario here sends, as a header and as a query parameter: `+`, `/`, `=` and a
/// space, so its percent, form and base64 encodings all differ from it.
const SECRET: &str = "s3cr3t+K/y=Q9 zeta";

/// The longest any mock keeps a connection open or streams: every loop here is bounded.
const MOCK_LIMIT: Duration = Duration::from_secs(60);

/// Requests each mock received, by path, and every request head it saw.
#[derive(Default)]
struct Seen {
    by_path: Mutex<BTreeMap<String, u64>>,
    heads: Mutex<Vec<String>>,
    total: AtomicU64,
}

impl Seen {
    fn count(&self, path: &str) -> u64 {
        self.by_path.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// The target (127.0.0.1) and another host (127.0.0.2) that its redirects point at.
struct Mocks {
    target: String,
    target_seen: Arc<Seen>,
    other_seen: Arc<Seen>,
}

/// One pair of mocks for the whole test binary, served on their own runtime thread.
fn mocks() -> &'static Mocks {
    static MOCKS: OnceLock<Mocks> = OnceLock::new();
    MOCKS.get_or_init(|| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let other = TcpListener::bind("127.0.0.2:0").await.unwrap();
                let other_url = format!("http://{}", other.local_addr().unwrap());
                let (target_seen, other_seen) = (Arc::<Seen>::default(), Arc::<Seen>::default());
                ready_tx
                    .send(Mocks {
                        target: format!("http://{}", target.local_addr().unwrap()),
                        target_seen: target_seen.clone(),
                        other_seen: other_seen.clone(),
                    })
                    .unwrap();
                tokio::spawn(serve(other, other_seen, other_url.clone()));
                serve(target, target_seen, other_url).await;
            });
        });
        ready_rx.recv().unwrap()
    })
}

async fn serve(listener: TcpListener, seen: Arc<Seen>, other: String) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (seen, other) = (seen.clone(), other.clone());
        tokio::spawn(async move {
            let _ = tokio::time::timeout(MOCK_LIMIT, answer(stream, &seen, &other)).await;
        });
    }
}

/// Read one request head (and any body), count it, and answer as its path says.
async fn answer(mut stream: TcpStream, seen: &Seen, other: &str) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65_536 {
        if stream.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap_or("/").to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(1 << 20)];
    stream.read_exact(&mut body).await?;
    *seen
        .by_path
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default() += 1;
    seen.heads.lock().unwrap().push(head.clone());
    seen.total.fetch_add(1, Ordering::SeqCst);

    let send = |status: &str, headers: &str, body: &[u8]| {
        let mut reply = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        reply.extend_from_slice(body);
        reply
    };
    match path.as_str() {
        "/ok" => {
            stream
                .write_all(&send(
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    b"{\"ok\": true}",
                ))
                .await?
        }
        // 1 GiB, chunked (no length to refuse it by), in 64 KiB chunks until surge hangs up.
        "/huge" => stream_chunks(&mut stream, 1 << 30).await?,
        // Endless: chunks until surge hangs up (or the mock's own bound).
        "/endless" => stream_chunks(&mut stream, u64::MAX).await?,
        "/bomb" => {
            let bomb = gzip_bomb();
            let headers = "Content-Type: text/plain\r\nContent-Encoding: gzip\r\n";
            stream.write_all(&send("200 OK", headers, bomb)).await?
        }
        // To the other host, at a path of each test's own: /away/NAME → /landing/NAME.
        away if away.starts_with("/away/") => {
            let name = &away["/away/".len()..];
            let headers = format!("Location: {other}/landing/{name}?from=away\r\n");
            stream.write_all(&send("302 Found", &headers, b"")).await?
        }
        landing if landing.starts_with("/landing/") => {
            stream
                .write_all(&send(
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    b"{\"landed\": true}",
                ))
                .await?
        }
        "/loop" => {
            stream
                .write_all(&send("302 Found", "Location: /loop\r\n", b""))
                .await?
        }
        "/echo" => {
            let body = echo_body(&head);
            stream
                .write_all(&send(
                    "200 OK",
                    "Content-Type: application/json\r\n",
                    body.as_bytes(),
                ))
                .await?
        }
        // Headers a byte at a time, a byte every 200 ms: a status line takes seconds.
        "/slow-headers" => {
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
                stream.write_all(&[*byte]).await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // Headers at once, then the body a byte every 200 ms: it outlasts any timeout here.
        "/slow-body" => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                .await?;
            for _ in 0..1000 {
                stream.write_all(b"x").await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        // Never answers: the request hangs until surge gives up or is stopped.
        "/hang" => tokio::time::sleep(MOCK_LIMIT).await,
        // A promised body, 1,000 bytes of it, then a reset (RST).
        "/reset" => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                .await?;
            stream.write_all(&[b'x'; 1000]).await?;
            stream.flush().await?;
            // A zero linger is what makes the close a reset; it is also the one that never blocks.
            #[allow(deprecated)]
            stream.set_linger(Some(Duration::ZERO))?;
            drop(stream);
        }
        // A promised body, 1,000 bytes of it, then an orderly close (FIN).
        "/cut" => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                .await?;
            stream.write_all(&[b'x'; 1000]).await?;
            stream.shutdown().await?;
        }
        _ => stream.write_all(&send("404 Not Found", "", b"")).await?,
    }
    Ok(())
}

/// `limit` bytes (or until the client hangs up) as 64 KiB chunks.
async fn stream_chunks(stream: &mut TcpStream, limit: u64) -> std::io::Result<()> {
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .await?;
    let chunk = [b'a'; 65_536];
    let mut sent = 0u64;
    while sent < limit {
        stream.write_all(b"10000\r\n").await?;
        stream.write_all(&chunk).await?;
        stream.write_all(b"\r\n").await?;
        sent += chunk.len() as u64;
    }
    stream.write_all(b"0\r\n\r\n").await
}

/// 1 GiB of zeros, gzipped: about 1 MiB on the wire.
fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            encoder.write_all(&zeros).unwrap();
        }
        encoder.finish().unwrap()
    })
}

/// A reply that echoes the request head (the key in its header and in its query, form-encoded)
/// past byte 256, and the key itself raw, percent-encoded and in base64, for captures.
fn echo_body(head: &str) -> String {
    serde_json::json!({
        "padding": "p".repeat(300),
        "head": head,
        "token": SECRET,
        "percent": percent(SECRET),
        "b64": base64::engine::general_purpose::STANDARD.encode(SECRET),
    })
    .to_string()
}

fn percent(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Every encoding of the secret a reader would recognise.
fn secret_forms() -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    vec![
        SECRET.to_string(),
        percent(SECRET),
        SECRET
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
            .replace(' ', "%20"),
        STANDARD.encode(SECRET),
        STANDARD_NO_PAD.encode(SECRET),
        URL_SAFE.encode(SECRET),
        URL_SAFE_NO_PAD.encode(SECRET),
        // A piece of it: what truncating before redacting used to leave.
        SECRET[..10].to_string(),
    ]
}

/// A scratch directory for one test, empty.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("surge-hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scenario of `visits` visits each making the one request `request` (a `[requests.probe]`
/// body), with the key as header and query, `http` added to its `[http]`, and `extra` appended to
/// the journey file.
fn write_scenario(dir: &Path, visits: u32, request: &str, http: &str, extra: &str) -> PathBuf {
    std::fs::write(
        dir.join("journeys.toml"),
        format!(
            "[[journeys]]\nname = \"probe\"\nweight = 1\nrequests = [\"probe\"]\n\n\
             [requests.probe]\nstep = \"browse\"\nlabel = \"probe\"\n{request}\n{extra}\n"
        ),
    )
    .unwrap();
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"hostile\"\njourneys = \"journeys.toml\"\ntarget = \"{}\"\n\
             thresholds = [\"error_rate < 1%\"]\n\
             [traffic]\nvisits = {visits}\nspan = \"1s\"\nmax_duration = \"60s\"\n\
             [traffic.mix]\nprobe = 1\n\
             [http]\ntimeout = \"3s\"\nheaders = {{ \"X-Api-Key\" = \"${{env:HOSTILE_KEY}}\" }}\n\
             query = {{ apikey = \"${{env:HOSTILE_KEY}}\" }}\n{http}\n",
            mocks().target
        ),
    )
    .unwrap();
    scenario
}

/// `surge run SCENARIO --out RUN_DIR` with the key in its environment, its output captured.
fn surge_command(scenario: &Path, run_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_surge"));
    command
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            run_dir.to_str().unwrap(),
        ])
        .env("HOSTILE_KEY", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn surge_run(scenario: &Path, run_dir: &Path) -> Output {
    let out = surge_command(scenario, run_dir)
        .output()
        .expect("surge runs");
    // Whatever happened, the secret went nowhere a person or a grep would find it.
    assert_no_secret(run_dir, &out);
    out
}

fn summary(run_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run_dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("summary.json is whole JSON")
}

/// The failure reasons of the run, as its summary lists them.
fn reasons(summary: &serde_json::Value) -> Vec<String> {
    summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap().to_string())
        .collect()
}

fn assert_no_secret(run_dir: &Path, out: &Output) {
    let mut texts = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    let mut pending = vec![run_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().unwrap() != "scenario.toml" {
                texts.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    for (name, bytes) in texts {
        let text = String::from_utf8_lossy(&bytes);
        for form in secret_forms() {
            assert!(!text.contains(&form), "{name} holds the secret as `{form}`");
        }
    }
}

/// The run's peak memory, as the surge process read it from its own /proc/self/status.
fn peak_rss_mib(summary: &serde_json::Value) -> f64 {
    summary["generator"]["peak_rss_mib"]
        .as_f64()
        .expect("generator.peak_rss_mib on Linux")
}

/// `visits` visits asking `path` with `http` in `[http]`: each fails with `too_large` past
/// `limit`, counted as a transport failure, and the process's peak memory stays under 200 MiB.
fn too_large_and_bounded(path: &str, visits: u64, http: &str, limit: &str) {
    let dir = scratch(path.trim_start_matches('/'));
    let scenario = write_scenario(&dir, visits as u32, &format!("url = \"{path}\""), http, "");
    let run_dir = dir.join("run");
    let out = surge_run(&scenario, &run_dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{path}: {stderr}");
    let summary = summary(&run_dir);
    assert_eq!(
        reasons(&summary),
        [format!(
            "probe: too_large: reply larger than {limit} (http.max_reply)"
        )]
    );
    assert_eq!(summary["steps"]["browse"]["outcomes"]["transport"], visits);
    let rss = peak_rss_mib(&summary);
    assert!(rss < 200.0, "{path}: peak RSS {rss} MiB");
}

#[test]
fn a_1_gib_reply_fails_too_large_and_memory_stays_bounded() {
    too_large_and_bounded("/huge", 6, "", "10 MiB");
}

#[test]
fn a_gzip_bomb_is_measured_by_what_it_inflates_to() {
    // Deflated before the run (it takes a few seconds), so the mock answers at once: 1 GiB in
    // about 1 MiB.
    assert!(gzip_bomb().len() < 2 << 20);
    too_large_and_bounded("/bomb", 4, "max_reply = \"1 MiB\"", "1 MiB");
}

#[test]
fn an_endless_reply_ends_at_the_bound() {
    too_large_and_bounded("/endless", 4, "", "10 MiB");
}

#[test]
fn a_redirect_to_a_host_not_allowed_sends_nothing_there() {
    let dir = scratch("away");
    let scenario = write_scenario(&dir, 6, "url = \"/away/refused\"", "", "");
    let run_dir = dir.join("run");
    let out = surge_run(&scenario, &run_dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mocks().target_seen.count("/away/refused"), 6);
    assert_eq!(
        mocks().other_seen.count("/landing/refused"),
        0,
        "nothing reached 127.0.0.2"
    );
    let summary = summary(&run_dir);
    assert_eq!(
        reasons(&summary),
        ["probe: redirect_refused: redirect to 127.0.0.2, not in http.allowed_hosts"]
    );
    assert_eq!(summary["steps"]["browse"]["outcomes"]["3xx"], 6);
}

#[test]
fn an_allowed_redirect_is_a_measured_hop_and_carries_no_credentials() {
    let dir = scratch("allowed");
    let scenario = write_scenario(
        &dir,
        4,
        "url = \"/away/allowed\"",
        "allowed_hosts = [\"127.0.0.2\"]",
        "",
    );
    let run_dir = dir.join("run");
    let before = mocks().other_seen.heads.lock().unwrap().len();
    let out = surge_run(&scenario, &run_dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = summary(&run_dir);
    // Each hop is a request of its step: the 302 and the landing page.
    assert_eq!(summary["steps"]["browse"]["requests"], 8);
    assert_eq!(summary["steps"]["browse"]["outcomes"]["3xx"], 4);
    let heads = mocks().other_seen.heads.lock().unwrap()[before..].to_vec();
    assert_eq!(heads.len(), 4, "{heads:?}");
    for head in heads {
        let lower = head.to_ascii_lowercase();
        assert!(
            !lower.contains("x-api-key"),
            "the key header crossed: {head}"
        );
        assert!(
            !lower.contains("authorization") && !lower.contains("cookie:"),
            "{head}"
        );
        for form in secret_forms() {
            assert!(!head.contains(&form), "the key crossed as `{form}`: {head}");
        }
        let referer = lower.lines().find(|l| l.starts_with("referer:"));
        assert!(referer.is_none_or(|r| !r.contains('?')), "{head}");
    }
}

#[test]
fn a_redirect_loop_stops_at_max_redirects_and_counts_every_hop() {
    let dir = scratch("loop");
    let scenario = write_scenario(&dir, 3, "url = \"/loop\"", "max_redirects = 4", "");
    let run_dir = dir.join("run");
    let before = mocks().target_seen.count("/loop");
    let out = surge_run(&scenario, &run_dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = mocks().target_seen.count("/loop") - before;
    let summary = summary(&run_dir);
    assert_eq!(sent, 3 * 5, "the first request and 4 redirects, per visit");
    assert_eq!(
        summary["steps"]["browse"]["requests"], sent,
        "every request sent is counted"
    );
    assert_eq!(
        reasons(&summary),
        ["probe: redirect_refused: more than 4 redirects (http.max_redirects)"]
    );
}

#[test]
fn secrets_echoed_back_are_written_nowhere_in_any_encoding() {
    let dir = scratch("echo");
    // The first echo succeeds and proves `selected`, so the captured key forms go to
    // enrollments.csv and from there to the reports; the second is judged a failure, so its reason
    // and body are kept as examples.
    let request = "url = \"/echo\"\nstage = \"selected\"\n\
                   capture.token = { pointer = \"/token\" }\n\
                   capture.pct = { pointer = \"/percent\" }\n\
                   capture.b64 = { pointer = \"/b64\" }";
    let judged = "[requests.judge]\nstep = \"pay\"\nlabel = \"judge\"\nurl = \"/echo\"\n\
                  checks = [{ pointer = \"/missing\", reason = \"no /missing\" }]\n\
                  [enrollment]\nissuer_id = \"{{ token }}\"\nissuer_name = \"{{ b64 }}\"\n\
                  payment_transaction_id = \"{{ pct }}\"\nconfirmed = \"{{ token }}\"";
    let scenario = write_scenario(&dir, 4, request, "", judged);
    let journeys = dir.join("journeys.toml");
    let text = std::fs::read_to_string(&journeys).unwrap();
    std::fs::write(
        &journeys,
        text.replace("[\"probe\"]", "[\"probe\", \"judge\"]"),
    )
    .unwrap();
    let run_dir = dir.join("run");
    // surge_run greps the run directory, stdout and stderr for every form of the key.
    let out = surge_run(&scenario, &run_dir);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exemplars = std::fs::read_to_string(run_dir.join("exemplars.jsonl")).unwrap();
    assert!(
        exemplars.contains("[redacted]"),
        "the examples kept the echo: {exemplars}"
    );
    let enrollments = std::fs::read_to_string(run_dir.join("enrollments.csv")).unwrap();
    assert!(enrollments.contains("[redacted]"), "{enrollments}");

    // `surge trace` prints every request and reply: redacted too.
    let traced = Command::new(env!("CARGO_BIN_EXE_surge"))
        .args(["trace", scenario.to_str().unwrap(), "--body-bytes", "4096"])
        .env("HOSTILE_KEY", SECRET)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&traced.stdout).contains("[redacted]"));
    assert_no_secret(&dir.join("no-such-dir"), &traced);
}

#[test]
fn slow_headers_and_bodies_time_out_and_resets_and_cut_bodies_say_so() {
    for (path, reason) in [
        ("/slow-headers", "probe: timed out"),
        (
            "/slow-body",
            "probe: body_timeout: the body was still arriving after 3s",
        ),
        ("/reset", "probe: reset: the connection was reset"),
        (
            "/cut",
            "probe: body_cut: the reply ended before its body did",
        ),
    ] {
        let dir = scratch(path.trim_start_matches('/'));
        let scenario = write_scenario(&dir, 2, &format!("url = \"{path}\""), "", "");
        let run_dir = dir.join("run");
        let out = surge_run(&scenario, &run_dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {stderr}");
        assert!(
            !stderr.contains("no request reached the target"),
            "{path}: {stderr}"
        );
        let reasons = reasons(&summary(&run_dir));
        assert_eq!(reasons.len(), 1, "{path}: {reasons:?}");
        assert!(reasons[0].starts_with(reason), "{path}: {reasons:?}");
    }
}

#[test]
fn sigterm_against_a_hung_target_exits_130_and_counts_what_it_abandoned() {
    let dir = scratch("hang");
    let scenario = write_scenario(&dir, 2, "url = \"/hang\"", "timeout = \"50s\"", "");
    // The scenario's own timeout is the later one: it overrides the 3 s above.
    let text = std::fs::read_to_string(&scenario)
        .unwrap()
        .replace("timeout = \"3s\"\n", "");
    std::fs::write(&scenario, text).unwrap();
    let run_dir = dir.join("run");
    let before = mocks().target_seen.count("/hang");
    let child = surge_command(&scenario, &run_dir).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while mocks().target_seen.count("/hang") < before + 2 {
        assert!(Instant::now() < deadline, "both requests reach the target");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_no_secret(&run_dir, &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(!stderr.contains("no request"), "{stderr}");
    assert_eq!(
        summary(&run_dir)["ending"],
        "stopped: interrupted (2 requests abandoned in flight)"
    );
}

#[test]
fn a_file_size_cap_ends_the_run_with_exit_4_naming_the_file() {
    let dir = scratch("fsize");
    // Six seconds of arrivals, written every 100 ms: the interval files pass 4 KiB within the
    // first seconds, while the run goes.
    let scenario = write_scenario(&dir, 600, "url = \"/ok\"", "", "");
    let text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(&scenario, text.replace("span = \"1s\"", "span = \"6s\"")).unwrap();
    let run_dir = dir.join("run");
    // 4 KiB per file; SIGXFSZ ignored, so a write past it fails with EFBIG instead of killing.
    let out = Command::new("bash")
        .arg("-c")
        .arg("ulimit -f 4; trap '' XFSZ; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_surge"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--quiet",
            "--interval",
            "100ms",
            "--out",
            run_dir.to_str().unwrap(),
        ])
        .env("HOSTILE_KEY", SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let interval_files = ["latency.hlog", "timeline.csv", "exemplars.jsonl"];
    let named = interval_files
        .iter()
        .any(|f| stderr.contains(&format!("cannot write {}", run_dir.join(f).display())));
    assert!(named && stderr.contains("File too large"), "{stderr}");
    // summary.json is there whole, or not at all; nothing half-written is left beside it. When
    // there, it says the run stopped at the lost write, long before its 600 visits.
    if run_dir.join("summary.json").exists() {
        let summary = summary(&run_dir);
        let ending = summary["ending"].as_str().unwrap();
        assert!(ending.starts_with("stopped: cannot write"), "{ending}");
        assert!(summary["visits"]["started"].as_u64().unwrap() < 600);
    }
    for entry in std::fs::read_dir(&run_dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".partial"), "{name} left behind");
    }
}

#[test]
fn a_target_url_with_a_password_is_refused_without_echoing_it() {
    let dir = scratch("userinfo");
    let scenario = write_scenario(&dir, 1, "url = \"/ok\"", "", "");
    let target = mocks().target.replace("http://", "http://ops:hunter2pw@");
    let before = mocks().target_seen.count("/ok");
    for command in ["run", "trace", "check"] {
        let out = Command::new(env!("CARGO_BIN_EXE_surge"))
            .args([command, scenario.to_str().unwrap(), "--target", &target])
            .env("HOSTILE_KEY", SECRET)
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("user name or password"),
            "{command}: {stderr}"
        );
        assert!(
            !format!("{stdout}{stderr}").contains("hunter2pw"),
            "{command}: {stderr}"
        );
    }
    assert_eq!(mocks().target_seen.count("/ok"), before, "nothing was sent");
    assert!(!dir.join("reports").exists(), "nothing was written");
}
