//! The embedded staging exchange: Marketplace API, enrollment, Pay Now SAML, insurers and their 834 inboxes.
//! See `docs/exchange-api.md` for the HTTP contract.

use std::net::SocketAddr;

pub mod catalog;

/// How to start the exchange.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// Address to bind; port 0 picks a free port.
    pub bind: SocketAddr,
    /// HMAC-SHA256 key shared by the exchange and its insurers to sign SAML Responses.
    pub saml_key: Vec<u8>,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            saml_key: b"surge-staging-development-key".to_vec(),
        }
    }
}

/// A running exchange, served on a tokio task.
pub struct RunningExchange {
    url: String,
}

impl RunningExchange {
    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stop serving and wait for in-flight requests to finish.
    pub async fn shutdown(self) {}
}

/// Bind and serve the exchange in the background of the current tokio runtime.
pub async fn start(config: ExchangeConfig) -> std::io::Result<RunningExchange> {
    let _ = config;
    unimplemented!("the exchange is being written")
}
