//! `PLAIN_GOOSE_JOURNEY=mix`: the four journeys of `scenarios/ci.toml`, written by hand as a Goose
//! user would write them, so that surge's CPU per request on ci.toml is compared with plain Goose
//! sending the same requests (`bench/run.sh goose-baseline`), not one GET of a 90-byte reply.
//!
//! Each iteration is one visit: a journey drawn with ci.toml's shares (browse 40, eligibility 25,
//! enroll 15, confirm 20) and a household drawn as surge draws one (a ZIP of the exchange's catalog,
//! 1 to 4 people, an income, 1 to 3 result pages, how far down the list the plan is). The requests
//! are those of `journeys/embedded.toml`, each answer read into the fields the journey reads and
//! checked as it checks them; a think time (`PLAIN_GOOSE_THINK_MS`, default `0-20`, ci.toml's)
//! comes before the steps the journey file marks `think`. A request, answer or check that fails
//! ends the visit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goose::prelude::*;
use rand::Rng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

// The answers browse() reads too.
use super::{Counties, PlanDetails, SearchPage};

/// The ZIP codes of the embedded exchange's catalog (surge's default households).
const ZIPS: &[&str] = &[
    "27601", "27603", "27604", "28202", "28203", "28205", "27401", "27403", "77002", "77003",
    "77004", "78701", "78702", "78704", "75201", "75202", "75204", "33101", "33125", "33130",
    "33602", "33603", "33606", "32801", "32803", "43215", "43201", "43205", "44113", "44114",
    "44115", "45202", "45203", "48201", "48202", "48226", "49503", "49504", "48103", "48104",
    "85003", "85004", "85006", "85701", "85705", "86001",
];
const PAGE_SIZE: usize = 10;
const YEAR: u32 = 2014;

/// How far into the funnel a visit goes: each journey is the one before and one more stretch.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Journey {
    Browse,
    Eligibility,
    Enroll,
    Confirm,
}

#[derive(Serialize)]
struct Person {
    age: u32,
    uses_tobacco: bool,
}

#[derive(Serialize)]
struct Household {
    zip: &'static str,
    income: u32,
    people: Vec<Person>,
}

/// One visit's draws, made before its first request (the thread's generator is not `Send`).
struct Visit {
    id: u64,
    journey: Journey,
    household: Household,
    pages: usize,
    pick: f64,
}

impl Visit {
    fn draw(id: u64) -> Visit {
        let mut rng = rand::rng();
        let journey = match rng.random_range(0..100) {
            0..40 => Journey::Browse,
            40..65 => Journey::Eligibility,
            65..80 => Journey::Enroll,
            _ => Journey::Confirm,
        };
        let size = rng.random_range(1..=4);
        let people = (0..size)
            .map(|index| {
                let age = if index < 2 {
                    rng.random_range(21..=64)
                } else {
                    rng.random_range(0..=20)
                };
                Person {
                    age,
                    uses_tobacco: age >= 18 && rng.random_bool(0.15),
                }
            })
            .collect();
        Visit {
            id,
            journey,
            household: Household {
                zip: ZIPS[rng.random_range(0..ZIPS.len())],
                income: rng.random_range(12_000..=110_000),
                people,
            },
            pages: rng.random_range(1..=3),
            pick: rng.random(),
        }
    }
}

#[derive(Deserialize)]
struct Estimates {
    estimates: Vec<Estimate>,
}

#[derive(Deserialize)]
struct Estimate {
    aptc: Option<f64>,
    #[allow(dead_code)]
    is_medicaid_chip: bool,
}

#[derive(Deserialize)]
struct Application {
    application: Id,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Selection {
    enrollment: Enrollment,
}

#[derive(Deserialize)]
struct Enrollment {
    payment_transaction_id: String,
    pay_now_url: String,
    issuer_id: String,
    total_amount_owed: f64,
}

#[derive(Deserialize)]
struct Payment {
    payment: PaymentStatus,
}

#[derive(Deserialize)]
struct PaymentStatus {
    status: String,
}

#[derive(Deserialize)]
struct Coverage {
    enrollment: Effectuation,
}

#[derive(Deserialize)]
struct Effectuation {
    effectuated: bool,
    #[allow(dead_code)]
    status: String,
}

/// An HTML form: where it posts, and its inputs' names and values.
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

impl Form {
    /// The first form of `html` (the pages of the embedded exchange have one).
    fn parse(html: &str) -> Option<Form> {
        let form = &html[html.find("<form")?..];
        let action = attribute(&form[..form.find('>')?], "action")?;
        let fields = form
            .split("<input")
            .skip(1)
            .filter_map(|input| {
                let tag = &input[..input.find('>')?];
                Some((attribute(tag, "name")?, attribute(tag, "value")?))
            })
            .collect();
        Some(Form { action, fields })
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The value of `name="…"` in a tag, its entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let value = &tag[start..start + tag[start..].find('"')?];
    // Most values (a 5.5 KB SAMLResponse among them) have no entity: copied once, not five times,
    // so the baseline does not pay for work a Goose user would not write.
    if !value.contains('&') {
        return Some(value.to_string());
    }
    Some(
        value
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Send one request under a fixed name (so Goose's metrics keep one row per step), with an
/// optional JSON or form body, and expecting `status`.
async fn send(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    body: Body<'_>,
    status: u16,
) -> Option<reqwest::Response> {
    let builder = user.get_request_builder(&method, path).ok()?;
    let builder = match body {
        Body::None => builder,
        Body::Json(value) => builder.json(value),
        Body::Form(fields) => builder.form(fields),
    };
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .expect_status_code(status)
        .set_request_builder(builder)
        .build();
    let response = user.request(request).await.ok()?.response.ok()?;
    (response.status().as_u16() == status).then_some(response)
}

enum Body<'a> {
    None,
    Json(&'a serde_json::Value),
    Form(&'a [(String, String)]),
}

async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Option<T> {
    response.json::<T>().await.ok()
}

async fn think((min, max): (u64, u64)) {
    if max > 0 {
        let ms = rand::rng().random_range(min..=max);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// One visit, as far as its journey goes; `None` when a request, answer or check failed.
async fn visit(user: &mut GooseUser, visit: Visit, pause: (u64, u64)) -> Option<()> {
    use GooseMethod::{Get, Post};
    let zip = visit.household.zip;
    let response = send(
        user,
        Get,
        &format!("/api/v1/counties/by/zip/{zip}"),
        "browse: county by zip",
        Body::None,
        200,
    )
    .await?;
    let counties: Counties = json(response).await?;
    let county = counties.counties.into_iter().next()?;
    let place = json!({"countyfips": county.fips, "state": county.state, "zipcode": zip});
    let mut plans = Vec::new();
    for page in 0..visit.pages {
        let query = json!({
            "household": visit.household, "market": "Individual", "place": place, "year": YEAR,
            "offset": page * PAGE_SIZE, "order": "asc", "sort": "premium",
        });
        let response = send(
            user,
            Post,
            "/api/v1/plans/search",
            "browse: plan search",
            Body::Json(&query),
            200,
        )
        .await?;
        let found: SearchPage = json(response).await?;
        if found.plans.len() > PAGE_SIZE || found.plans.iter().any(|p| p.issuer.id.is_empty()) {
            return None;
        }
        plans.extend(found.plans);
        if (page + 1) * PAGE_SIZE >= found.total {
            break;
        }
    }
    plans.sort_by(|a, b| a.premium_w_credit.total_cmp(&b.premium_w_credit));
    let index = ((visit.pick * plans.len() as f64) as usize).min(plans.len().checked_sub(1)?);
    let chosen = &plans[index];
    let response = send(
        user,
        Get,
        &format!("/api/v1/plans/{}", chosen.id),
        "browse: plan details",
        Body::None,
        200,
    )
    .await?;
    let details: PlanDetails = json(response).await?;
    if details.plan.id != chosen.id || visit.journey == Journey::Browse {
        return Some(());
    }

    think(pause).await;
    let asked = json!({"household": visit.household, "place": place, "year": YEAR});
    let response = send(
        user,
        Post,
        "/api/v1/households/eligibility/estimates",
        "eligibility: estimate",
        Body::Json(&asked),
        200,
    )
    .await?;
    let estimated: Estimates = json(response).await?;
    let estimates = &estimated.estimates;
    if estimates.len() != visit.household.people.len()
        || estimates.iter().any(|e| !e.aptc.is_some_and(|a| a >= 0.0))
        || visit.journey == Journey::Eligibility
    {
        return Some(());
    }

    think(pause).await;
    let id = visit.id;
    let application = json!({
        "household": visit.household, "place": place, "year": YEAR,
        "applicant": {"first_name": "SURGE", "last_name": format!("VISITOR{id}"),
                      "email": format!("visitor{id}@example.com")},
    });
    let response = send(
        user,
        Post,
        "/api/v1/enrollment/applications",
        "select: application",
        Body::Json(&application),
        201,
    )
    .await?;
    let filed: Application = json(response).await?;
    let response = send(
        user,
        Post,
        &format!(
            "/api/v1/enrollment/applications/{}/selection",
            filed.application.id
        ),
        "select: plan",
        Body::Json(&json!({"plan_id": chosen.id})),
        201,
    )
    .await?;
    let selected: Selection = json(response).await?;
    let enrollment = selected.enrollment;
    if enrollment.payment_transaction_id.is_empty()
        || enrollment.pay_now_url.is_empty()
        || enrollment.issuer_id != chosen.issuer.id
    {
        return None;
    }

    think(pause).await;
    let response = send(
        user,
        Get,
        &enrollment.pay_now_url,
        "redirect: pay now",
        Body::None,
        200,
    )
    .await?;
    let saml = Form::parse(&response.text().await.ok()?)?;
    if saml.field("SAMLResponse").is_none_or(str::is_empty) {
        return None;
    }
    let response = send(
        user,
        Post,
        &saml.action,
        "redirect: insurer landing",
        Body::Form(&saml.fields),
        200,
    )
    .await?;
    let landing = response.url().clone();
    let payment_form = Form::parse(&response.text().await.ok()?)?;
    payment_form.field("payment_token")?;
    let amount: f64 = payment_form.field("amount")?.parse().ok()?;
    if (amount - enrollment.total_amount_owed).abs() > 0.005 {
        return None;
    }

    think(pause).await;
    let action = landing.join(&payment_form.action).ok()?;
    let response = send(
        user,
        Post,
        action.as_str(),
        "pay: binder payment",
        Body::Form(&payment_form.fields),
        200,
    )
    .await?;
    let paid: Payment = json(response).await?;
    if paid.payment.status != "paid" || visit.journey == Journey::Enroll {
        return Some(());
    }

    think(pause).await;
    let status = landing
        .join(&format!(
            "enrollments/{}",
            enrollment.payment_transaction_id
        ))
        .ok()?;
    let response = send(
        user,
        Get,
        status.as_str(),
        "confirm: enrollment status",
        Body::None,
        200,
    )
    .await?;
    let coverage: Coverage = json(response).await?;
    coverage.enrollment.effectuated.then_some(())
}

/// The mix's transaction: one visit per iteration, think times drawn from `pause` (ms).
pub fn transaction(pause: (u64, u64)) -> Transaction {
    static VISITS: AtomicU64 = AtomicU64::new(0);
    Transaction::new(Arc::new(move |user: &mut GooseUser| {
        Box::pin(async move {
            let drawn = Visit::draw(VISITS.fetch_add(1, Ordering::Relaxed));
            let _ = visit(user, drawn, pause).await;
            Ok(())
        })
    }))
    .set_name("mix")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_read_with_its_entities() {
        let html = r#"<p>x</p><form method="post" action="/a?b=1&amp;c=2">
  <input type="hidden" name="SAMLResponse" value="PD9&quot;x"/>
  <input type="hidden" name="RelayState" value="0001"/>
  <button type="submit">Pay</button></form>"#;
        let form = Form::parse(html).unwrap();
        assert_eq!(form.action, "/a?b=1&c=2");
        assert_eq!(form.field("SAMLResponse"), Some("PD9\"x"));
        assert_eq!(form.field("RelayState"), Some("0001"));
        assert_eq!(form.field("missing"), None);
    }
}
