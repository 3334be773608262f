//! The exchange's own front end: one small page, `GET {base_path}/app`, whose script enrolls one
//! household by calling the API with `fetch` (ZIP → county, plan search, the plan's details, the
//! eligibility estimate, the application, the plan selection) and then hands the browser to the
//! insurer through Pay Now, as a real exchange's page does.
//!
//! It exists so that a real browser can walk the funnel and be recorded (tests/har_chromium.rs
//! records a HAR of it for `surge journey from-har`): the recording then holds what a recording of
//! any exchange holds — fetch calls with the API key in their query, a document navigation to the
//! Pay Now hand-off, form posts to the insurer. The page itself is not under `/api`, so it needs no
//! key; it carries the one in its own URL (`/app?apikey=…`) to every API call.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::shape::PayNow;
use super::state::AppState;

/// The page, with `{{pay_now}}` standing for the exchange's Pay Now answer (`html` or `json`).
const PAGE: &str = include_str!("frontend.html");

/// `GET /app`: the page, told how this exchange answers Pay Now (a page to go to, or JSON to post).
pub async fn page(State(state): State<AppState>) -> impl IntoResponse {
    let pay_now = match state.shape.pay_now {
        PayNow::Html => "html",
        PayNow::Json => "json",
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE.replace("{{pay_now}}", pay_now),
    )
}
