//! `surge exchange`: serve the staging exchange and its insurers until SIGTERM or Ctrl-C (SIGINT),
//! then stop gracefully: no new connections, the requests in flight finish (for at most
//! `--shutdown-grace`), exit 0.

use std::time::Duration;

use crate::cli::ExchangeArgs;
use crate::exchange::behaviour::{Behaviour, ScenarioClock};
use crate::exchange::edi834;
use crate::exchange::shape::Shape;
use crate::exchange::{self, ExchangeConfig, Timeouts};

use super::{Error, Outcome};

pub async fn serve(args: ExchangeArgs) -> Result<Outcome, Error> {
    let mut behaviour = match args.faults.as_deref() {
        Some(path) => Behaviour::load(path)?,
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
        let parsed = reqwest::Url::parse(url).map_err(|source| Error::PublicUrl {
            url: url.to_string(),
            source,
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.path() != "/" {
            return Err(Error::Usage(format!(
                "--public-url `{url}`: give the scheme, host and port only (http://HOST:PORT); \
                 a path goes in --base-path"
            )));
        }
    }
    for (flag, value) in [
        ("--header-timeout", args.header_timeout),
        ("--body-timeout", args.body_timeout),
    ] {
        if value.is_zero() {
            return Err(Error::Usage(format!(
                "{flag} must be longer than 0s (a request would never be read)"
            )));
        }
    }
    let timeouts = Timeouts {
        header: args.header_timeout,
        body: args.body_timeout,
        shutdown_grace: args.shutdown_grace,
    };
    let mut config = ExchangeConfig {
        bind: args.bind,
        behaviour,
        clock,
        public_url: args.public_url.clone(),
        timeouts,
        ..ExchangeConfig::default()
    };
    config.shape = Shape {
        api_key: args.api_key,
        base_path: Shape::normalized_base_path(&args.base_path)?,
        pay_now: args.pay_now,
        edi834: edi834::Style {
            separator: args.separator_834,
            ids: args.ids_834,
            premiums: args.premiums_834,
        },
        status_words: args.status_words.unwrap_or_default(),
    };
    // A fault the shape makes meaningless is the faults file's mistake: name the file.
    config
        .shape
        .check(&config.behaviour)
        .map_err(|source| Error::FaultsShape {
            file: args.faults.clone().unwrap_or_else(|| "--faults".into()),
            source,
        })?;
    if let Some(key) = args.saml_key {
        config.saml_key = key.into_bytes();
    }
    let running = exchange::start(config)
        .await
        .map_err(|source| Error::Listen {
            addr: args.bind,
            source,
        })?;
    // Listen for the signals before saying we listen: whoever reads that line may stop us at once.
    let signals = Signals::new().map_err(Error::Signals)?;
    sayln!("surge exchange listening on {}", running.url());
    let signal = signals.first().await;
    sayln!(
        "surge exchange: {signal}, stopping (no new connections; requests in flight have {})",
        seconds(timeouts.shutdown_grace)
    );
    let stopped = running.shutdown().await;
    if stopped.cut == 0 {
        sayln!("surge exchange stopped");
    } else {
        sayln!(
            "surge exchange stopped: {} connection(s) still busy after {} closed",
            stopped.cut,
            seconds(timeouts.shutdown_grace)
        );
    }
    Ok(Outcome::Done)
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// SIGTERM (how Kubernetes, systemd and CI runners stop a process) and SIGINT (Ctrl-C), listened
/// for from creation on.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The name of the first signal to arrive.
    async fn first(self) -> &'static str {
        #[cfg(unix)]
        {
            let Self { mut term, mut int } = self;
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = self;
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        }
    }
}
