//! Browse: ZIP → county → a few pages of plan search → the chosen plan's details.

use serde::Deserialize;
use serde_json::{json, Value};

use super::call::{call, Body, Method, StepFailed};
use super::VisitState;
use crate::plan::Household;
use crate::vocab::Step;

/// Plan results shown per page by the Marketplace API.
const PAGE_SIZE: u64 = 10;

/// Where the household lives, as the Marketplace API's `place`.
#[derive(Debug, Clone, Deserialize)]
pub struct County {
    pub fips: String,
    pub state: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlanSeen {
    pub id: String,
    pub premium: f64,
    pub premium_w_credit: f64,
    pub issuer: IssuerRef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IssuerRef {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// What a browse leaves the rest of the journey.
pub struct Browsed {
    pub place: Value,
    pub chosen: PlanSeen,
}

#[derive(Deserialize)]
struct Counties {
    counties: Vec<County>,
}

#[derive(Deserialize)]
struct SearchPage {
    plans: Vec<PlanSeen>,
    total: u64,
}

#[derive(Deserialize)]
struct PlanDetails {
    plan: PlanId,
}

#[derive(Deserialize)]
struct PlanId {
    id: String,
}

/// The household as the Marketplace API takes it.
pub fn household_json(household: &Household) -> Value {
    let people: Vec<Value> = household
        .people
        .iter()
        .map(|p| json!({"age": p.age, "uses_tobacco": p.uses_tobacco, "aptc_eligible": true}))
        .collect();
    json!({"income": household.income, "people": people})
}

pub async fn browse(state: &mut VisitState<'_>) -> Result<Browsed, StepFailed> {
    let zip = state.visit.household.zip.clone();
    let county = call(
        state,
        Step::Browse,
        "browse: county by zip",
        Method::Get,
        &format!("/api/v1/counties/by/zip/{zip}"),
        Body::None,
        200,
        |reply| {
            let counties: Counties = reply.json()?;
            counties
                .counties
                .into_iter()
                .next()
                .ok_or_else(|| "no county in the answer".into())
        },
    )
    .await?;
    let place = json!({"countyfips": county.fips, "state": county.state, "zipcode": zip});
    let household = household_json(&state.visit.household);

    let mut seen: Vec<PlanSeen> = Vec::new();
    for page in 0..u64::from(state.visit.pages) {
        let query = json!({
            "household": household, "market": "Individual", "place": place, "year": 2014,
            "offset": page * PAGE_SIZE, "order": "asc", "sort": "premium",
        });
        let result = call(
            state,
            Step::Browse,
            "browse: plan search",
            Method::Post,
            "/api/v1/plans/search",
            Body::Json(&query),
            200,
            |reply| {
                let page: SearchPage = reply.json()?;
                if page.plans.len() as u64 > PAGE_SIZE {
                    return Err(format!("{} plans on one page", page.plans.len()).into());
                }
                if let Some(plan) = page
                    .plans
                    .iter()
                    .find(|p| p.premium_w_credit > p.premium + 0.005 || p.issuer.id.is_empty())
                {
                    return Err(format!(
                        "plan {} priced above its premium or without issuer",
                        plan.id
                    )
                    .into());
                }
                Ok(page)
            },
        )
        .await?;
        let last_page = (page + 1) * PAGE_SIZE >= result.total;
        seen.extend(result.plans);
        if last_page {
            break;
        }
    }
    if seen.is_empty() {
        return Err(StepFailed {
            step: Step::Browse,
            reason: "browse: plan search: no plans offered".into(),
        });
    }

    // People compare what they pay after the credit; the visit's `pick` says how far down the list it goes.
    seen.sort_by(|a, b| a.premium_w_credit.total_cmp(&b.premium_w_credit));
    let index = ((state.visit.pick * seen.len() as f64) as usize).min(seen.len() - 1);
    let chosen = seen.swap_remove(index);
    state.insurer = Some((chosen.issuer.id.clone(), chosen.issuer.name.clone()));

    let wanted = chosen.id.clone();
    call(
        state,
        Step::Browse,
        "browse: plan details",
        Method::Get,
        &format!("/api/v1/plans/{wanted}"),
        Body::None,
        200,
        |reply| {
            let details: PlanDetails = reply.json()?;
            if details.plan.id == wanted {
                Ok(())
            } else {
                Err(format!("asked for plan {wanted}, got {}", details.plan.id).into())
            }
        },
    )
    .await?;
    Ok(Browsed { place, chosen })
}
