//! `surge exchange`: serve the staging exchange and its insurers until Ctrl-C.

use crate::cli::ExchangeArgs;
use crate::exchange::behaviour::{Behaviour, ScenarioClock};
use crate::exchange::shape::Shape;
use crate::exchange::{self, ExchangeConfig};

use super::{Error, Outcome};

pub async fn serve(args: ExchangeArgs) -> Result<Outcome, Error> {
    let mut behaviour = match args.faults.as_deref() {
        Some(path) => Behaviour::load(path).map_err(|e| Error::Usage(e.to_string()))?,
        None => Behaviour::default(),
    };
    if args.service_time.is_some() {
        behaviour.service_time = args.service_time;
    }
    let clock = ScenarioClock {
        time_scale: args.time_scale,
        clock_start: args.clock_start,
        ..ScenarioClock::default()
    };
    let _ = clock.origin.set(std::time::Instant::now());
    if let Some(url) = args.public_url.as_deref() {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| Error::Usage(format!("--public-url `{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.path() != "/" {
            return Err(Error::Usage(format!(
                "--public-url `{url}`: give the scheme, host and port only (http://HOST:PORT); \
                 a path goes in --base-path"
            )));
        }
    }
    let mut config = ExchangeConfig {
        bind: args.bind,
        behaviour,
        clock,
        public_url: args.public_url.clone(),
        ..ExchangeConfig::default()
    };
    config.shape = Shape {
        api_key: args.api_key,
        base_path: Shape::normalized_base_path(&args.base_path).map_err(Error::Usage)?,
        pay_now: args.pay_now,
    };
    if let Some(key) = args.saml_key {
        config.saml_key = key.into_bytes();
    }
    let running = exchange::start(config)
        .await
        .map_err(|source| Error::Listen {
            addr: args.bind,
            source,
        })?;
    sayln!("surge exchange listening on {}", running.url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {e}");
    }
    running.shutdown().await;
    Ok(Outcome::Done)
}
