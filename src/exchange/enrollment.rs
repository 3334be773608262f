//! surge's stand-in for the exchange's application flow: applications, plan selection, Pay Now redirect.

use super::shape::PayNow;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::catalog::{household_premium_cents, Metal};
use super::eligibility;
use super::error::{ApiError, JsonBody};
use super::faults::{defect_834, link_fault, Defect834, Kind, LinkFault};
use super::marketplace::{cents, lookup_plan, Household, Place};
use super::saml;
use super::state::{
    application_id, enrollment_id, parse_id, payment_transaction_id, AppState, Application,
    Enrollment,
};

/// Every enrollment starts on the first day of the 2014 plan year.
pub const EFFECTIVE_DATE: &str = "2014-01-01";

#[derive(Debug, Default, Deserialize)]
pub struct Applicant {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ApplicationRequest {
    pub household: Household,
    pub place: Place,
    #[serde(default)]
    pub applicant: Option<Applicant>,
}

#[derive(Debug, Serialize)]
pub struct ApplicationView {
    pub id: String,
    pub status: &'static str,
    pub aptc: f64,
    pub csr: &'static str,
    pub is_medicaid_chip: bool,
    pub household_size: usize,
}

const FIRST_NAMES: [&str; 16] = [
    "JANE",
    "JOHN",
    "MARIA",
    "JAMES",
    "LINDA",
    "ROBERT",
    "PATRICIA",
    "MICHAEL",
    "BARBARA",
    "DAVID",
    "ELIZABETH",
    "WILLIAM",
    "JENNIFER",
    "RICHARD",
    "SUSAN",
    "JOSEPH",
];
const LAST_NAMES: [&str; 12] = [
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "LEE",
    "WALKER",
];

/// The identity faults are drawn for: the applicant's e-mail (or name) and the plan chosen; the
/// enrollment number `e` only when the applicant gave neither.
fn applicant_key(app: &Application, plan: usize, e: u64) -> u64 {
    let who = app.email.as_deref().or(app.last_name.as_deref());
    match who {
        Some(who) => super::faults::hash(plan as u64, who, 0),
        None => e,
    }
}

/// A made-up but stable name for application `n` (member `m`) when the applicant gave none.
pub fn made_up_first(n: u64, m: usize) -> &'static str {
    FIRST_NAMES[((n as usize).wrapping_mul(7).wrapping_add(m * 5)) % FIRST_NAMES.len()]
}

pub fn made_up_last(n: u64) -> &'static str {
    LAST_NAMES[(n as usize).wrapping_mul(5) % LAST_NAMES.len()]
}

/// Applicant names and email, made up where missing.
pub fn names(n: u64, app: &Application) -> (String, String, String) {
    let first = app
        .first_name
        .as_deref()
        .unwrap_or_else(|| made_up_first(n, 0))
        .to_string();
    let last = app
        .last_name
        .as_deref()
        .unwrap_or_else(|| made_up_last(n))
        .to_string();
    let email = match app.email.as_deref() {
        Some(e) => e.to_string(),
        None => format!(
            "{}.{}{}@example.com",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            n
        ),
    };
    (first, last, email)
}

fn non_empty(s: Option<String>, max: usize) -> Option<Box<str>> {
    s.map(|s| s.trim().chars().take(max).collect::<String>())
        .filter(|s| !s.is_empty())
        .map(String::into_boxed_str)
}

/// `POST /api/v1/enrollment/applications`
pub async fn create_application(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ApplicationRequest>,
) -> Result<Response, ApiError> {
    let ci = req.place.county(&state.catalog)?;
    let h = req.household.check()?;
    let e = eligibility::estimate(&state.catalog, ci, h.income, &h.people, h.aptc_eligible);
    let applicant = req.applicant.unwrap_or_default();
    let n = state.new_application_id();
    let app = Application {
        county: ci as u16,
        people: h.people.into_boxed_slice(),
        income: h.income,
        aptc_cents: e.aptc_cents,
        csr: e.csr,
        medicaid: e.medicaid,
        first_name: non_empty(applicant.first_name, 35),
        last_name: non_empty(applicant.last_name, 60),
        email: non_empty(applicant.email, 80),
        enrollment: None,
    };
    let view = ApplicationView {
        id: application_id(n),
        status: "eligible",
        aptc: cents(app.aptc_cents),
        csr: app.csr.label(),
        is_medicaid_chip: app.medicaid,
        household_size: app.people.len(),
    };
    state.applications.shard(n).insert(n, app);
    #[derive(Serialize)]
    struct Body {
        application: ApplicationView,
    }
    Ok((StatusCode::CREATED, Json(Body { application: view })).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SelectionRequest {
    pub plan_id: String,
}

#[derive(Debug, Serialize)]
pub struct EnrollmentView {
    pub id: String,
    pub application_id: String,
    pub plan_id: String,
    pub issuer_id: &'static str,
    pub payment_transaction_id: String,
    pub premium: f64,
    pub aptc: f64,
    pub total_amount_owed: f64,
    pub effective_date: &'static str,
    pub pay_now_url: String,
}

/// `POST /api/v1/enrollment/applications/{application_id}/selection`
pub async fn select_plan(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(req): JsonBody<SelectionRequest>,
) -> Result<Response, ApiError> {
    let Path(app_id) = path?;
    let a = parse_id(&app_id, "A", 12)
        .ok_or_else(|| ApiError::invalid(format!("invalid application ID format: {app_id:?}")))?;
    let pi = lookup_plan(&state.catalog, &req.plan_id)?;
    let plan = &state.catalog.plans[pi];

    // Claim the application under its lock so two concurrent selections cannot both win.
    let e = state.new_enrollment_id();
    let app = {
        let mut shard = state.applications.shard(a);
        let app = shard
            .get_mut(&a)
            .ok_or_else(|| ApiError::enrollment_not_found(format!("no application {app_id}")))?;
        if !state.catalog.offered_in(pi, app.county as usize) {
            let fips = state
                .catalog
                .counties
                .get(app.county as usize)
                .map_or("?", |c| c.fips);
            return Err(ApiError::invalid(format!(
                "plan {} is not offered in county {fips}",
                plan.id
            )));
        }
        if let Some(prev) = app.enrollment {
            return Err(ApiError::conflict(format!(
                "application {app_id} already selected a plan (enrollment {})",
                enrollment_id(prev)
            )));
        }
        app.enrollment = Some(e);
        app.clone()
    };

    let county = &state.catalog.counties[app.county as usize];
    let premium = household_premium_cents(plan.base_cents, county.area_factor, &app.people);
    // The credit cannot exceed the premium, and does not apply to catastrophic plans.
    let aptc = if plan.metal == Metal::Catastrophic {
        0
    } else {
        app.aptc_cents.min(premium)
    };
    let fault_key = applicant_key(&app, pi, e);
    let enrollment = Enrollment {
        fault_key,
        application: a,
        plan: pi as u16,
        issuer: plan.issuer as u16,
        premium_cents: premium,
        aptc_cents: aptc,
        selected_at: Utc::now().timestamp(),
        pay_now_served: false,
        landed: false,
        paid: false,
        defect: defect_834(state.seed, state.insurer_faults(plan.issuer), fault_key),
    };
    let owed = enrollment.owed_cents();
    let defect = enrollment.defect;
    state.enrollments.shard(e).insert(e, enrollment);
    // Selection queues the initial 834 for the plan's insurer, unless a fault says otherwise.
    match defect {
        Defect834::None => {
            state.queue_834(plan.issuer, e);
        }
        Defect834::Missing => state.fault(Kind::Missing834),
        Defect834::Duplicate => {
            state.queue_834(plan.issuer, e);
            state.queue_834(plan.issuer, e);
            state.fault(Kind::Duplicate834);
        }
        Defect834::NoPremium => {
            state.queue_834(plan.issuer, e);
            state.fault(Kind::NoPremium834);
        }
        Defect834::WrongInsurer => {
            state.queue_834(state.misrouted_to(plan.issuer), e);
            state.fault(Kind::WrongInsurer834);
        }
    }

    let ptid = payment_transaction_id(e);
    let view = EnrollmentView {
        id: enrollment_id(e),
        application_id: app_id,
        plan_id: plan.id.clone(),
        issuer_id: state.catalog.issuers[plan.issuer].id,
        pay_now_url: format!("{}/api/v1/enrollment/{ptid}/pay-now", state.shape.base_path),
        payment_transaction_id: ptid,
        premium: cents(premium),
        aptc: cents(aptc),
        total_amount_owed: cents(owed),
        effective_date: EFFECTIVE_DATE,
    };
    #[derive(Serialize)]
    struct Body {
        enrollment: EnrollmentView,
    }
    Ok((StatusCode::CREATED, Json(Body { enrollment: view })).into_response())
}

/// Enrollment number for a Payment Transaction ID: 400/1003 when ill-formed.
pub fn parse_ptid(ptid: &str) -> Result<u64, ApiError> {
    parse_id(ptid, "", 13).ok_or_else(|| {
        ApiError::invalid(format!("invalid payment transaction ID format: {ptid:?}"))
    })
}

/// Where a dead Pay Now link points: nothing listens on port 1 of loopback.
pub const DEAD_HOST: &str = "http://127.0.0.1:1";

/// The issuer's pay-now URL, which is also the SAML Destination.
pub fn pay_now_url(base_url: &str, issuer_id: &str) -> String {
    format!("{base_url}/issuers/{issuer_id}/pay-now")
}

/// `GET /api/v1/enrollment/{payment_transaction_id}/pay-now`: the auto-submitting SAML form.
pub async fn pay_now(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(ptid) = path?;
    let n = parse_ptid(&ptid)?;
    let enrollment = state
        .enrollment(n)
        .ok_or_else(|| ApiError::enrollment_not_found(format!("no enrollment {ptid}")))?;
    let app = state
        .application(enrollment.application)
        .ok_or_else(|| ApiError::internal(format!("enrollment {ptid} has no application")))?;
    let catalog = &state.catalog;
    let plan = &catalog.plans[enrollment.plan as usize];
    let issuer = &catalog.issuers[enrollment.issuer as usize];
    let (first, last, email) = names(enrollment.application, &app);
    let attrs = saml::PayNow {
        payment_transaction_id: ptid.clone(),
        market_indicator: "Individual".into(),
        assigned_qhp_identifier: format!("{}{}", plan.id, app.csr.variant()),
        total_amount_owed: format!("{:.2}", cents(enrollment.owed_cents())),
        premium_amount_total: format!("{:.2}", cents(enrollment.premium_cents)),
        aptc_amount: format!("{:.2}", cents(enrollment.aptc_cents)),
        proposed_coverage_effective_date: "01/01/2014".into(),
        first_name: first,
        last_name: last,
        contact_email_address: email,
        subscriber_identifier: format!("{:010}", enrollment.application),
    };
    let destination = pay_now_url(&state.base_url, issuer.id);
    let xml = saml::build_response(&attrs, issuer.id, &destination, &state.saml_key, Utc::now());
    // The form posts to the Destination, unless this insurer's link is broken or dead.
    let action = match link_fault(
        state.seed,
        state.insurer_faults(enrollment.issuer as usize),
        enrollment.fault_key,
    ) {
        LinkFault::Working => destination,
        LinkFault::Broken => {
            state.fault(Kind::BrokenLink);
            format!("{}/issuers/{}/pay-now-broken", state.base_url, issuer.id)
        }
        LinkFault::Dead => {
            state.fault(Kind::DeadLink);
            format!("{DEAD_HOST}/issuers/{}/pay-now", issuer.id)
        }
    };
    let saml_b64 = saml::encode(&xml);
    if let Some(e) = state.enrollments.shard(n).get_mut(&n) {
        e.pay_now_served = true;
    }
    if state.shape.pay_now == PayNow::Json {
        // As some state platforms do: the exchange's own page script builds the post.
        return Ok(Json(serde_json::json!({
            "SAMLResponse": saml_b64,
            "RelayState": ptid,
            "action": action,
        }))
        .into_response());
    }
    let html = format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Pay your first premium</title></head>
<body>
<p>Taking you to {name} to pay your first premium…</p>
<form method="post" action="{action}">
  <input type="hidden" name="SAMLResponse" value="{saml_b64}"/>
  <input type="hidden" name="RelayState" value="{ptid}"/>
  <noscript><button type="submit">Continue to {name}</button></noscript>
</form>
<script>document.forms[0].submit();</script>
</body></html>
"#,
        name = quick_xml::escape::escape(issuer.name),
        action = quick_xml::escape::escape(action.as_str()),
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}
