//! Eligibility: the household's tax-credit (APTC) and cost-sharing estimate.

use serde::Deserialize;
use serde_json::{json, Value};

use super::browse::household_json;
use super::call::{call, Body, Method, StepFailed};
use super::VisitState;
use crate::vocab::Step;

#[derive(Deserialize)]
struct Estimates {
    estimates: Vec<Estimate>,
}

#[derive(Deserialize)]
struct Estimate {
    aptc: f64,
    #[allow(dead_code)] // checked for presence: a wrong body must fail
    is_medicaid_chip: bool,
}

pub async fn estimate(state: &mut VisitState<'_>, place: &Value) -> Result<(), StepFailed> {
    let people = state.visit.household.people.len();
    let body =
        json!({"household": household_json(&state.visit.household), "place": place, "year": 2014});
    call(
        state,
        Step::Eligibility,
        "eligibility: estimate",
        Method::Post,
        "/api/v1/households/eligibility/estimates",
        Body::Json(&body),
        200,
        |reply| {
            let answer: Estimates = reply.json()?;
            if answer.estimates.len() != people {
                return Err(
                    format!("{} estimates for {people} people", answer.estimates.len()).into(),
                );
            }
            if answer
                .estimates
                .iter()
                .any(|e| e.aptc.is_nan() || e.aptc < 0.0)
            {
                return Err("negative or missing aptc".into());
            }
            Ok(())
        },
    )
    .await
}
