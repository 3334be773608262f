//! How fast the exchange answers. For now a fixed service time added to every API and insurer
//! request, so a run can be pointed at a deliberately slow exchange; the service is simulated by
//! sleeping, so a slow exchange costs no CPU.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

/// Wrap `app` so that every request except the operational routes waits `service_time` first.
pub fn with_service_time(app: Router, service_time: Duration) -> Router {
    if service_time.is_zero() {
        return app;
    }
    app.layer(middleware::from_fn(move |request: Request, next: Next| {
        slow(service_time, request, next)
    }))
}

async fn slow(service_time: Duration, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !(path == "/metrics" || path == "/healthz") {
        tokio::time::sleep(service_time).await;
    }
    next.run(request).await
}
