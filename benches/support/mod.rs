//! What the benches share: the embedded exchange, started on a free loopback port.

use surge::exchange::{self, ExchangeConfig, RunningExchange};

/// The embedded exchange on 127.0.0.1 (port 0: a free one), and its base URL.
pub async fn loopback_exchange() -> (RunningExchange, String) {
    let running = exchange::start(ExchangeConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .expect("start the exchange");
    let host = running.url().to_string();
    assert!(host.starts_with("http://127.0.0.1:"), "loopback only");
    (running, host)
}
