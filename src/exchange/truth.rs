//! `GET /staging/enrollments`: what the staging exchange did to every enrollment — the faults it
//! planted, how far the applicant got on its side (Pay Now served, landed at the insurer, paid),
//! and what the plan's insurer holds. A real exchange has no such route. This one has it so that
//! a rehearsal's cracks report can be checked against the truth, class by class, instead of
//! against another reading of the same 834s (tests/cli_cracks_shaped.rs does).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::faults::{hits, link_fault};
use super::issuers::holding;
use super::state::{payment_transaction_id, AppState};

/// One enrollment as the exchange knows it.
#[derive(Debug, Serialize)]
pub struct EnrollmentTruth {
    /// As the API says it (padded), whatever the 834s write.
    pub payment_transaction_id: String,
    pub issuer_id: &'static str,
    pub plan_id: String,
    /// Where its Pay Now form points, as planted: `working`, `broken` or `dead`.
    pub pay_now_link: &'static str,
    /// The insurer refuses its SAML Response (planted; it bites only if the applicant gets there).
    pub saml_rejected: bool,
    /// The insurer's payment page fails for it (planted, likewise).
    pub payment_fails: bool,
    /// What became of its initial 834: `sent`, `missing`, `duplicate`, `no_premium` or
    /// `wrong_insurer`.
    pub initial_834: &'static str,
    /// The exchange served its Pay Now page.
    pub pay_now_served: bool,
    /// The insurer's landing page accepted its SAML Response.
    pub landed: bool,
    pub paid: bool,
    /// What the plan's insurer says, in surge's words (`effectuated`, `awaiting_payment`,
    /// `awaiting_834`), whatever `--status-words` makes it answer; `None` when it holds nothing.
    pub insurer_status: Option<&'static str>,
}

/// Every enrollment so far, by Payment Transaction ID.
pub fn enrollments(state: &AppState) -> Vec<EnrollmentTruth> {
    state
        .all_enrollments()
        .into_iter()
        .map(|(n, e)| {
            let ii = e.issuer as usize;
            let faults = state.insurer_faults(ii);
            let planted = |name: &str, share: f64| hits(state.seed, name, e.fault_key, share);
            EnrollmentTruth {
                payment_transaction_id: payment_transaction_id(n),
                issuer_id: state.catalog.issuers[ii].id,
                plan_id: state.catalog.plans[e.plan as usize].id.clone(),
                pay_now_link: link_fault(state.seed, faults, e.fault_key).label(),
                saml_rejected: planted("saml_rejected", faults.map_or(0.0, |f| f.saml_rejected)),
                payment_fails: planted("payment_fails", faults.map_or(0.0, |f| f.payment_fails)),
                initial_834: e.defect.label(),
                pay_now_served: e.pay_now_served,
                landed: e.landed,
                paid: e.paid,
                insurer_status: holding(state, &e, ii).map(|h| h.status.label()),
            }
        })
        .collect()
}

/// `GET /staging/enrollments` → `200 {"enrollments": [EnrollmentTruth, …]}`.
pub async fn handler(State(state): State<AppState>) -> Response {
    #[derive(Serialize)]
    struct Body {
        enrollments: Vec<EnrollmentTruth>,
    }
    Json(Body {
        enrollments: enrollments(&state),
    })
    .into_response()
}
