//! The insurers' own systems, all served from this process under `/issuers/{issuer_id}/`:
//! Pay Now landing, binder payments, the 834 inbox and enrollment status.

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use chrono::{DateTime, Datelike, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::Sha256;

use super::catalog::Catalog;
use super::edi834::{self, Enrollment834, Member834};
use super::enrollment::{made_up_first, names, parse_ptid, pay_now_url};
use super::error::{ApiError, FormOrJson};
use super::faults::{hits, Defect834, Kind};
use super::marketplace::lookup_issuer;
use super::saml::{self, SamlError};
use super::state::{payment_transaction_id, AppState, Enrollment};

/// The payment token the insurer's payment page hands out for an enrollment: HMAC of its id.
pub fn payment_token(key: &[u8], ptid: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(b"payment-token:");
    mac.update(ptid.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The enrollment `n` if it belongs to issuer `ii`; 404/2001 otherwise.
fn enrollment_for(state: &AppState, ii: usize, n: u64, ptid: &str) -> Result<Enrollment, ApiError> {
    state
        .enrollment(n)
        .filter(|e| e.issuer as usize == ii)
        .ok_or_else(|| ApiError::enrollment_not_found(format!("issuer has no enrollment {ptid}")))
}

#[derive(Debug, Deserialize)]
pub struct PayNowForm {
    #[serde(rename = "SAMLResponse")]
    pub saml_response: String,
    #[serde(rename = "RelayState")]
    pub relay_state: Option<String>,
}

/// `POST /issuers/{issuer_id}/pay-now`: check the SAML Response and show the payment page.
pub async fn pay_now_landing(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<PayNowForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Path(issuer_id) = path?;
    let ii = lookup_issuer(&state.catalog, &issuer_id)?;
    let Form(form) = form?;
    let destination = pay_now_url(&state.base_url, &issuer_id);
    let attrs = saml::verify(
        &form.saml_response,
        &state.saml_key,
        &issuer_id,
        &destination,
        Utc::now(),
    )
    .map_err(|e| match e {
        SamlError::Malformed(m) => ApiError::invalid(m),
        SamlError::Refused(m) => ApiError::saml_refused(m),
    })?;
    let ptid = attrs.payment_transaction_id;
    let n = parse_ptid(&ptid)
        .map_err(|_| ApiError::saml_refused("ill-formed Payment Transaction ID"))?;
    let key = enrollment_for(&state, ii, n, &ptid)?.fault_key;
    let share = state.insurer_faults(ii).map_or(0.0, |f| f.saml_rejected);
    if hits(state.seed, "saml_rejected", key, share) {
        state.fault(Kind::SamlRejected);
        return Err(ApiError::saml_refused(
            "the insurer could not process the SAML Response",
        ));
    }
    let token = payment_token(&state.saml_key, &ptid);
    let issuer = &state.catalog.issuers[ii];
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let html = format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{name}: pay your first premium</title></head>
<body>
<h1>{name}</h1>
<p>{first} {last}, your first monthly premium for plan {qhp} is ${owed} (premium ${total}, tax credit ${aptc}), coverage from {eff}.</p>
<form method="post" action="{base_path}/issuers/{id}/payments">
  <input type="hidden" name="payment_transaction_id" value="{ptid}"/>
  <input type="hidden" name="amount" value="{owed}"/>
  <input type="hidden" name="payment_token" value="{token}"/>
  <button type="submit">Pay ${owed}</button>
</form>
</body></html>
"#,
        name = esc(issuer.name),
        id = issuer.id,
        base_path = state.shape.base_path,
        first = esc(&attrs.first_name),
        last = esc(&attrs.last_name),
        qhp = esc(&attrs.assigned_qhp_identifier),
        owed = esc(&attrs.total_amount_owed),
        total = esc(&attrs.premium_amount_total),
        aptc = esc(&attrs.aptc_amount),
        eff = esc(&attrs.proposed_coverage_effective_date),
        ptid = esc(&ptid),
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

/// An amount sent as a JSON number or as a string (forms always send strings).
fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(f64),
        Str(String),
    }
    match NumOrStr::deserialize(d)? {
        NumOrStr::Num(n) => Ok(n),
        NumOrStr::Str(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Deserialize)]
pub struct PaymentRequest {
    pub payment_transaction_id: String,
    #[serde(deserialize_with = "amount")]
    pub amount: f64,
    pub payment_token: String,
}

#[derive(Debug, Serialize)]
pub struct PaymentView {
    pub payment_transaction_id: String,
    pub amount: f64,
    pub status: &'static str,
    pub confirmation: String,
}

/// `POST /issuers/{issuer_id}/payments`: the binder payment.
pub async fn payment(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    FormOrJson(req): FormOrJson<PaymentRequest>,
) -> Result<Response, ApiError> {
    let Path(issuer_id) = path?;
    let ii = lookup_issuer(&state.catalog, &issuer_id)?;
    let ptid = req.payment_transaction_id;
    let n = parse_ptid(&ptid)?;
    if req.payment_token != payment_token(&state.saml_key, &ptid) {
        enrollment_for(&state, ii, n, &ptid)?;
        return Err(ApiError::payment_refused(
            "payment token does not match the enrollment",
        ));
    }
    let share = state.insurer_faults(ii).map_or(0.0, |f| f.payment_fails);
    let key = enrollment_for(&state, ii, n, &ptid)?.fault_key;
    if hits(state.seed, "payment_fails", key, share) {
        state.fault(Kind::PaymentFails);
        return Err(ApiError::internal(
            "the payment system failed; no payment was taken",
        ));
    }
    let amount_cents = if req.amount.is_finite() {
        (req.amount * 100.0).round() as i64
    } else {
        -1
    };
    {
        let mut shard = state.enrollments.shard(n);
        let e = shard
            .get_mut(&n)
            .filter(|e| e.issuer as usize == ii)
            .ok_or_else(|| {
                ApiError::enrollment_not_found(format!("issuer has no enrollment {ptid}"))
            })?;
        if e.paid {
            return Err(ApiError::conflict(format!(
                "enrollment {ptid} is already paid"
            )));
        }
        if amount_cents != i64::from(e.owed_cents()) {
            return Err(ApiError::payment_refused(format!(
                "amount {:.2} does not match the {:.2} owed",
                req.amount,
                f64::from(e.owed_cents()) / 100.0
            )));
        }
        e.paid = true;
    }
    #[derive(Serialize)]
    struct Body {
        payment: PaymentView,
    }
    let view = PaymentView {
        confirmation: format!("P{issuer_id}-{ptid}"),
        payment_transaction_id: ptid,
        amount: amount_cents as f64 / 100.0,
        status: "paid",
    };
    Ok(Json(Body { payment: view }).into_response())
}

#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    pub since: Option<u64>,
}

/// The 834 contents for enrollment `n` with control number `ctrl`, built from the compact records.
pub fn enrollment_834(state: &AppState, n: u64, ctrl: u32) -> Option<Enrollment834> {
    let e = state.enrollment(n)?;
    let app = state.application(e.application)?;
    let catalog: &Catalog = &state.catalog;
    let plan = catalog.plans.get(e.plan as usize)?;
    let issuer = catalog.issuers.get(e.issuer as usize)?;
    let county = catalog.counties.get(app.county as usize)?;
    let st = catalog.states.get(county.state)?.abbrev;
    let when: DateTime<Utc> = DateTime::from_timestamp(e.selected_at, 0).unwrap_or_default();
    let (first, last, email) = names(e.application, &app);
    let premiums =
        super::catalog::member_premiums_cents(plan.base_cents, county.area_factor, &app.people);
    let members = app
        .people
        .iter()
        .zip(premiums)
        .enumerate()
        .map(|(i, (m, premium_cents))| {
            let relationship = match i {
                0 => "18",
                1 if m.age >= 18 => "01",
                _ => "19",
            };
            // A stable birth date that gives the member's age on 1 January 2014.
            let seed = e.application as u32 + i as u32;
            let year = 2013 - i32::from(m.age);
            let birth_date = format!("{year:04}{:02}{:02}", 1 + seed % 12, 2 + seed % 27);
            Member834 {
                first_name: if i == 0 {
                    first.clone()
                } else {
                    made_up_first(e.application, i).to_string()
                },
                last_name: last.clone(),
                relationship,
                member_id: format!("{:010}", e.application * 100 + i as u64),
                birth_date,
                premium_cents,
            }
        })
        .collect();
    Some(Enrollment834 {
        control_number: ctrl,
        issuer_id: issuer.id.to_string(),
        issuer_name: issuer.name.to_string(),
        issuer_tin: issuer.tin.to_string(),
        date: format!("{:04}{:02}{:02}", when.year(), when.month(), when.day()),
        time: when.format("%H%M%S").to_string(),
        policy_id: payment_transaction_id(n),
        subscriber_id: format!("{:010}", e.application * 100),
        members,
        email,
        street: format!("{} MAIN ST", 100 + e.application % 900),
        city: county.city.to_string(),
        state: st.to_string(),
        zip: county.zips.first().copied().unwrap_or("00000").to_string(),
        county_fips: county.fips.to_string(),
        plan_variant_id: format!("{}-{}", plan.id, app.csr.variant()),
        premium_total_cents: e.premium_cents,
        aptc_cents: e.aptc_cents,
        rating_area: format!("R-{st}{:03}", county.rating_area),
        source_exchange_id: format!("{st}0"),
        effective_date: "20140101".to_string(),
        with_premiums: e.defect != Defect834::NoPremium,
    })
}

/// `GET /issuers/{issuer_id}/834[?since=N]`
pub async fn inbox(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(issuer_id) = path?;
    let ii = lookup_issuer(&state.catalog, &issuer_id)?;
    let Query(q) = query?;
    let queued = state.inbox_since(ii, q.since.unwrap_or(0));
    let mut out = String::with_capacity(queued.len() * 1600);
    for (ctrl, n) in queued {
        if let Some(x) = enrollment_834(&state, n, ctrl) {
            edi834::write(&mut out, &x);
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub payment_transaction_id: String,
    pub issuer_id: &'static str,
    pub plan_id: String,
    pub enrollment_834_received: bool,
    pub paid: bool,
    pub effectuated: bool,
    pub status: &'static str,
    /// Why the enrollment is not effectuated although the 834 and the payment seem to be there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// `GET /issuers/{issuer_id}/enrollments/{payment_transaction_id}`: what this insurer really holds.
///
/// The insurer holds the 834 unless it was never sent or went to another insurer; it holds the
/// payment once paid. An insurer that holds neither answers 404/2001. An 834 without premium
/// amounts counts as received, but the insurer cannot effectuate without them: `awaiting_834`
/// with a `reason`. The insurer that got a misrouted 834 holds it (and nothing else).
pub async fn status(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((issuer_id, ptid)) = path?;
    let ii = lookup_issuer(&state.catalog, &issuer_id)?;
    let n = parse_ptid(&ptid)?;
    let unknown = || ApiError::enrollment_not_found(format!("issuer has no enrollment {ptid}"));
    let e = state.enrollment(n).ok_or_else(unknown)?;
    let own = e.issuer as usize == ii;
    let misrouted_here =
        !own && e.defect == Defect834::WrongInsurer && state.misrouted_to(e.issuer as usize) == ii;
    if !own && !misrouted_here {
        return Err(unknown());
    }
    let received = !own || !matches!(e.defect, Defect834::Missing | Defect834::WrongInsurer);
    let paid = own && e.paid;
    if !received && !paid {
        return Err(unknown());
    }
    let premiums = !(own && e.defect == Defect834::NoPremium);
    let (status, reason) = match (received, paid) {
        (true, true) if premiums => ("effectuated", None),
        (true, true) => (
            "awaiting_834",
            Some("the 834 carries no premium amounts (no 2750 loops)"),
        ),
        (true, false) if !premiums => (
            "awaiting_payment",
            Some("the 834 carries no premium amounts (no 2750 loops)"),
        ),
        (true, false) if misrouted_here => (
            "awaiting_payment",
            Some("the 834 is for another insurer's plan"),
        ),
        (true, false) => ("awaiting_payment", None),
        (false, _) => ("awaiting_834", Some("no 834 received")),
    };
    let view = StatusView {
        payment_transaction_id: ptid,
        issuer_id: state.catalog.issuers[ii].id,
        plan_id: state.catalog.plans[e.plan as usize].id.clone(),
        enrollment_834_received: received,
        paid,
        effectuated: received && paid && premiums,
        status,
        reason,
    };
    #[derive(Serialize)]
    struct Body {
        enrollment: StatusView,
    }
    Ok(Json(Body { enrollment: view }).into_response())
}
