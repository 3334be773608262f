//! Confirm: ask the insurer whether the applicant is covered. A visit that paid but is not
//! effectuated fell through the cracks, and fails here even though every HTTP answer was 200.

use serde::Deserialize;

use super::call::{call, Body, Method, StepFailed};
use super::pay::PaymentPage;
use super::select::Enrollment;
use super::VisitState;
use crate::vocab::Step;

#[derive(Deserialize)]
struct StatusAnswer {
    enrollment: Status,
}

#[derive(Deserialize)]
struct Status {
    effectuated: bool,
    status: String,
}

pub async fn confirm(
    state: &mut VisitState<'_>,
    enrollment: &Enrollment,
    page: &PaymentPage,
) -> Result<(), StepFailed> {
    // The insurer's routes sit beside its Pay Now landing page: …/issuers/{id}/enrollments/{ptid}.
    let url = page
        .landing
        .join(&format!(
            "enrollments/{}",
            enrollment.payment_transaction_id
        ))
        .map_err(|_| StepFailed {
            step: Step::Confirm,
            reason: "confirm: cannot build the insurer's status URL".into(),
        })?;
    // The judge runs inside `call`; it leaves the insurer's status here for the cracks report.
    let answered = std::sync::Mutex::new(String::new());
    let verdict = call(
        state,
        Step::Confirm,
        "confirm: enrollment status",
        Method::Get,
        url.as_str(),
        Body::None,
        200,
        |reply| {
            let answer: StatusAnswer = reply.json()?;
            if let Ok(mut slot) = answered.lock() {
                slot.clone_from(&answer.enrollment.status);
            }
            if answer.enrollment.effectuated {
                Ok(())
            } else {
                Err(format!("paid but not effectuated ({})", answer.enrollment.status).into())
            }
        },
    )
    .await;
    if let Some(e) = state.enrollment.as_mut() {
        e.confirmed = match answered.into_inner().unwrap_or_default() {
            status if status.is_empty() => "unknown".to_string(),
            status => status,
        };
    }
    verdict
}
