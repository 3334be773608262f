//! The embedded staging exchange: Marketplace API, enrollment, Pay Now SAML, insurers and their 834 inboxes.
//! See `docs/exchange-api.md` for the HTTP contract.
//!
//! It imports nothing of the crate but the leaves `units`, `vocab` and `behaviour` (its
//! configuration, which a scenario's `[exchange]` section holds too): the harness and the exchange
//! meet only over HTTP, so either can change without the other, and `surge exchange` serves it
//! alone. Its state is split by part (see `state`): the handlers share the records, while capacity,
//! error windows, the waiting room and the metrics each own theirs.

use std::net::SocketAddr;

use axum::http::{header, Method, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub mod capacity;
pub mod catalog;
pub mod edi834;
pub mod eligibility;
pub mod enrollment;
pub mod error;
pub mod faults;
pub mod frontend;
pub mod issuers;
pub mod marketplace;
pub mod metrics;
pub mod saml;
pub mod serve;
pub mod shape;
pub mod state;
pub mod status_words;
pub mod threads;
pub mod truth;
pub mod waiting_room;
pub mod windows;

/// The exchange's capacity and faults, and the scenario clock: a leaf, which the scenario reads too.
pub use crate::behaviour;
pub use error::{ApiError, MAX_BODY};
pub use serve::{Stopped, Timeouts};
pub use state::AppState;

/// The HTTP contract, served at `/api/v1/docs`.
pub const API_DOC: &str = include_str!("../../docs/exchange-api.md");

/// How to start the exchange.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// Address to bind; port 0 picks a free port.
    pub bind: SocketAddr,
    /// HMAC-SHA256 key shared by the exchange and its insurers to sign SAML Responses.
    pub saml_key: Vec<u8>,
    /// Capacity, waiting room and faults (see `behaviour`); the default behaves perfectly.
    pub behaviour: behaviour::Behaviour,
    /// The scenario clock that error windows and the waiting room follow.
    pub clock: behaviour::ScenarioClock,
    /// How the API looks from outside: API key, base path, Pay Now answer.
    pub shape: shape::Shape,
    /// The base URL other machines reach this exchange by (without the base path), written into
    /// Pay Now forms and insurer links. `None`: the bound address (loopback for a wildcard bind).
    pub public_url: Option<String>,
    /// How long it waits for a request's headers and body, and for requests in flight on a stop.
    pub timeouts: Timeouts,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            saml_key: b"surge-staging-development-key".to_vec(),
            behaviour: behaviour::Behaviour::default(),
            clock: behaviour::ScenarioClock::default(),
            shape: shape::Shape::default(),
            public_url: None,
            timeouts: Timeouts::default(),
        }
    }
}

/// A running exchange, served on a tokio task. It keeps serving until [`RunningExchange::shutdown`]
/// (or the end of the runtime), even if this handle is dropped; on threads of its own
/// ([`threads`]), until the handle is dropped.
pub struct RunningExchange {
    url: String,
    addr: SocketAddr,
    state: AppState,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Stopped>,
    /// The runtime it is served on, when it has one of its own ([`threads`]).
    threads: Option<threads::OwnThreads>,
}

impl RunningExchange {
    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The live state (catalog, enrollments), e.g. for in-process checks.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stop accepting connections and wait for the requests in flight to finish, for at most the
    /// shutdown grace (`timeouts.shutdown_grace`); connections still busy then are closed.
    pub async fn shutdown(self) -> Stopped {
        let _ = self.stop.send(());
        let stopped = self.task.await.unwrap_or_default();
        drop(self.threads);
        stopped
    }
}

/// Every route of the exchange, with metrics.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/counties/by/zip/{zipcode}",
            get(marketplace::counties_by_zip),
        )
        .route("/api/v1/plans/search", post(marketplace::search))
        .route("/api/v1/plans/{plan_id}", get(marketplace::plan))
        .route("/api/v1/issuers", get(marketplace::issuers))
        .route("/api/v1/issuers/{issuer_id}", get(marketplace::issuer))
        .route(
            "/api/v1/households/eligibility/estimates",
            post(eligibility::estimates),
        )
        .route(
            "/api/v1/enrollment/applications",
            post(enrollment::create_application),
        )
        .route(
            "/api/v1/enrollment/applications/{application_id}/selection",
            post(enrollment::select_plan),
        )
        .route(
            "/api/v1/enrollment/{payment_transaction_id}/pay-now",
            get(enrollment::pay_now),
        );
    // The Marketplace API's key, when this exchange wants one (its API only, not the insurers').
    let api = match state.shape.api_key {
        Some(_) => api.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            shape::require_api_key,
        )),
        None => api,
    };
    let insurers = Router::new()
        .route(
            "/issuers/{issuer_id}/pay-now",
            post(issuers::pay_now_landing),
        )
        .route("/issuers/{issuer_id}/payments", post(issuers::payment))
        .route("/issuers/{issuer_id}/834", get(issuers::inbox))
        .route(
            "/issuers/{issuer_id}/enrollments/{payment_transaction_id}",
            get(issuers::status),
        );
    let ops = Router::new()
        .route("/metrics", get(metrics::handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/staging/enrollments", get(truth::handler))
        .route("/api/v1/docs", get(docs))
        .route("/app", get(frontend::page));
    // Outermost first: metrics, waiting room, error windows, capacity, then the handler. A part the
    // behaviour leaves out (no capacity, no error window, no waiting room) would only pass every
    // request on, so its layer is left out: each layer costs every request a boxed future and a
    // clone of the service behind it.
    let behaviour = &state.behaviour;
    let mut app = api.merge(insurers).merge(ops);
    if !behaviour.capacity.is_empty() {
        app = app.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            capacity::gate,
        ));
    }
    if !behaviour.errors.is_empty() {
        app = app.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            windows::inject,
        ));
    }
    if behaviour.waiting_room.is_some() {
        app = app.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            waiting_room::admit,
        ));
    }
    app.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        metrics::track,
    ))
    .fallback(no_route)
    .method_not_allowed_fallback(method_not_allowed)
    .with_state(state)
}

async fn docs() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        API_DOC,
    )
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::no_route(format!("no route {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(format!("{method} is not allowed on {}", uri.path()))
}

/// Bind and serve the exchange in the background of the current tokio runtime.
pub async fn start(config: ExchangeConfig) -> std::io::Result<RunningExchange> {
    let listener = TcpListener::bind(config.bind).await?;
    let addr = listener.local_addr()?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    // Pay Now forms and SAML Destinations use this URL; a wildcard bind is reached over loopback
    // unless the exchange is told the address others reach it by.
    let url = match config.public_url.as_deref() {
        Some(public) => format!("{}{}", public.trim_end_matches('/'), config.shape.base_path),
        None => format!("http://{host}:{}{}", addr.port(), config.shape.base_path),
    };
    // Scenario time, like every time of the exchange's behaviour.
    let service_time = config
        .clock
        .to_wall(config.behaviour.service_time.unwrap_or_default());
    let base_path = config.shape.base_path.clone();
    let state = AppState::with_shape(
        config.saml_key,
        url.clone(),
        config.behaviour,
        config.clock,
        config.shape,
    );
    let mut app = capacity::with_service_time(router(state.clone()), service_time);
    if !base_path.is_empty() {
        app = Router::new().nest(&base_path, app).fallback(no_route);
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve::serve(listener, app, config.timeouts, stopped));
    Ok(RunningExchange {
        url,
        addr,
        state,
        stop,
        task,
        threads: None,
    })
}
