//! Select: file an application for the household, then select the plan chosen while browsing.

use serde::Deserialize;
use serde_json::json;

use super::browse::{household_json, Browsed};
use super::call::{call, Body, Method, StepFailed};
use super::VisitState;
use crate::vocab::Step;

#[derive(Deserialize)]
struct ApplicationCreated {
    application: Application,
}

#[derive(Deserialize)]
struct Application {
    id: String,
}

#[derive(Deserialize)]
struct EnrollmentCreated {
    enrollment: Enrollment,
}

/// The exchange's record of a selection, as the rest of the journey needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct Enrollment {
    pub payment_transaction_id: String,
    pub issuer_id: String,
    pub pay_now_url: String,
    pub total_amount_owed: f64,
}

pub async fn select(
    state: &mut VisitState<'_>,
    browsed: &Browsed,
) -> Result<Enrollment, StepFailed> {
    let visit = state.visit.id;
    let body = json!({
        "household": household_json(&state.visit.household),
        "place": browsed.place,
        "year": 2014,
        "applicant": {"first_name": "SURGE", "last_name": format!("VISITOR{visit}"),
                      "email": format!("visitor{visit}@example.com")},
    });
    let application = call(
        state,
        Step::Select,
        "select: application",
        Method::Post,
        "/api/v1/enrollment/applications",
        Body::Json(&body),
        201,
        |reply| Ok(reply.json::<ApplicationCreated>()?.application),
    )
    .await?;

    let plan_id = browsed.chosen.id.clone();
    let issuer_id = browsed.chosen.issuer.id.clone();
    let body = json!({"plan_id": plan_id});
    call(
        state,
        Step::Select,
        "select: plan",
        Method::Post,
        &format!(
            "/api/v1/enrollment/applications/{}/selection",
            application.id
        ),
        Body::Json(&body),
        201,
        |reply| {
            let enrollment = reply.json::<EnrollmentCreated>()?.enrollment;
            if enrollment.payment_transaction_id.is_empty() || enrollment.pay_now_url.is_empty() {
                return Err("enrollment without payment transaction id or pay-now URL".into());
            }
            if enrollment.issuer_id != issuer_id {
                return Err(format!(
                    "plan of issuer {issuer_id} enrolled with issuer {}",
                    enrollment.issuer_id
                )
                .into());
            }
            Ok(enrollment)
        },
    )
    .await
}
