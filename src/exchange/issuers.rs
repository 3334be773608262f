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
use super::edi834::{self, Enrollment834, Member834, Premiums};
use super::enrollment::{made_up_first, names, parse_ptid, pay_now_url};
use super::error::{ApiError, FormOrJson};
use super::faults::{hits, Defect834, Kind};
use super::marketplace::lookup_issuer;
use super::saml::{self, SamlError};
use super::state::{AppState, Enrollment};
use super::status_words::Status;

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
    if let Some(e) = state.enrollments.shard(n).get_mut(&n) {
        e.landed = true;
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

/// The 834 contents for enrollment `n` with control number `ctrl`, built from the compact records
/// and written in this exchange's style (its ids padded or not, its premium loops or none).
pub fn enrollment_834(state: &AppState, n: u64, ctrl: u32) -> Option<Enrollment834> {
    let style = state.shape.edi834;
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
                member_id: style.ids.write(e.application * 100 + i as u64, 10),
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
        policy_id: style.ids.write(n, 13),
        subscriber_id: style.ids.write(e.application * 100, 10),
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
        with_premiums: style.premiums == Premiums::Loops && e.defect != Defect834::NoPremium,
    })
}

/// Insurer `ii`'s inbox after control number `since`, as X12 text in this exchange's style.
pub fn inbox_text(state: &AppState, ii: usize, since: u64) -> String {
    let queued = state.inbox_since(ii, since);
    let mut out = String::with_capacity(queued.len() * 1600);
    for (ctrl, n) in queued {
        if let Some(mut x) = enrollment_834(state, n, ctrl) {
            // A misrouted 834 went to this insurer because the exchange addressed it here (ISA08,
            // GS03); what it says (N1*IN, the plan) is still the plan's insurer's.
            x.issuer_id = state.catalog.issuers[ii].id.to_string();
            edi834::write(&mut out, &x, state.shape.edi834.separator);
        }
    }
    out
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
    let out = inbox_text(&state, ii, q.since.unwrap_or(0));
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
}

#[derive(Debug, Serialize)]
pub struct StatusView<'a> {
    pub payment_transaction_id: String,
    pub issuer_id: &'static str,
    pub plan_id: String,
    pub enrollment_834_received: bool,
    pub paid: bool,
    pub effectuated: bool,
    /// The insurer's word for [`Holding::status`] (`--status-words`).
    pub status: &'a str,
    /// Why the enrollment is not effectuated although the 834 and the payment seem to be there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// What insurer `ii` really holds for an enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    pub received_834: bool,
    pub paid: bool,
    pub status: Status,
    pub reason: Option<&'static str>,
}

/// What insurer `ii` holds for enrollment `e`; `None` when it has never heard of it.
///
/// The insurer holds the 834 unless it was never sent or went to another insurer; it holds the
/// payment once paid. An 834 without premium amounts counts as received, but the insurer cannot
/// effectuate without them (`Awaiting834` with a reason) — unless this exchange's 834s carry no
/// premium at all (`--834-premiums none`): then its insurers effectuate on the payment. The insurer
/// that got a misrouted 834 holds it (and nothing else).
pub fn holding(state: &AppState, e: &Enrollment, ii: usize) -> Option<Holding> {
    let own = e.issuer as usize == ii;
    let misrouted_here =
        !own && e.defect == Defect834::WrongInsurer && state.misrouted_to(e.issuer as usize) == ii;
    if !own && !misrouted_here {
        return None;
    }
    let received = !own || !matches!(e.defect, Defect834::Missing | Defect834::WrongInsurer);
    let paid = own && e.paid;
    if !received && !paid {
        return None;
    }
    let premiums_lacking =
        own && e.defect == Defect834::NoPremium && state.shape.edi834.premiums == Premiums::Loops;
    const NO_PREMIUM: &str = "the 834 carries no premium amounts (no 2750 loops)";
    let (status, reason) = match (received, paid) {
        (true, true) if !premiums_lacking => (Status::Effectuated, None),
        (true, true) => (Status::Awaiting834, Some(NO_PREMIUM)),
        (true, false) if premiums_lacking => (Status::AwaitingPayment, Some(NO_PREMIUM)),
        (true, false) if misrouted_here => (
            Status::AwaitingPayment,
            Some("the 834 is for another insurer's plan"),
        ),
        (true, false) => (Status::AwaitingPayment, None),
        (false, _) => (Status::Awaiting834, Some("no 834 received")),
    };
    Some(Holding {
        received_834: received,
        paid,
        status,
        reason,
    })
}

/// `GET /issuers/{issuer_id}/enrollments/{payment_transaction_id}`: what this insurer really holds
/// (see [`holding`]), in its own words; 404/2001 when it holds neither an 834 nor a payment.
pub async fn status(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((issuer_id, ptid)) = path?;
    let ii = lookup_issuer(&state.catalog, &issuer_id)?;
    let n = parse_ptid(&ptid)?;
    let unknown = || ApiError::enrollment_not_found(format!("issuer has no enrollment {ptid}"));
    let e = state.enrollment(n).ok_or_else(unknown)?;
    let held = holding(&state, &e, ii).ok_or_else(unknown)?;
    let view = StatusView {
        payment_transaction_id: ptid,
        issuer_id: state.catalog.issuers[ii].id,
        plan_id: state.catalog.plans[e.plan as usize].id.clone(),
        enrollment_834_received: held.received_834,
        paid: held.paid,
        effectuated: held.status == Status::Effectuated,
        status: state.shape.status_words.word(held.status),
        reason: held.reason,
    };
    #[derive(Serialize)]
    struct Body<'a> {
        enrollment: StatusView<'a>,
    }
    Ok(Json(Body { enrollment: view }).into_response())
}

#[cfg(test)]
mod tests {
    //! The insurer side, through the exchange's router in-process: where a misrouted 834 goes.
    //! (A differently shaped insurer's 834s and words are tested in tests/exchange_router_api.rs,
    //! where pyx12 validates them.)

    use axum::body::Body;
    use axum::http::{Method, Request};
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;
    use crate::exchange::behaviour::{Behaviour, ScenarioClock};

    async fn call(
        state: &AppState,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut request = Request::builder().method(method).uri(path);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let reply = crate::exchange::router(state.clone())
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let bytes = axum::body::to_bytes(reply.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn json_call(state: &AppState, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, text) = call(state, method, path, body).await;
        assert!(status < 300, "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// One household's application and selection of the first plan found in Wake County:
    /// (issuer id, enrollment view).
    async fn enrol(state: &AppState, ages: &[u8]) -> (String, Value) {
        let place = json!({"countyfips": "37183", "state": "NC", "zipcode": "27601"});
        let people: Vec<Value> = ages
            .iter()
            .map(|age| json!({"age": age, "uses_tobacco": false, "aptc_eligible": true}))
            .collect();
        let household = json!({"income": 40000, "people": people});
        let search = json_call(
            state,
            Method::POST,
            "/api/v1/plans/search",
            Some(json!({"place": place})),
        )
        .await;
        let plan = &search["plans"][0];
        let application = json_call(
            state,
            Method::POST,
            "/api/v1/enrollment/applications",
            Some(json!({"household": household, "place": place})),
        )
        .await;
        let id = application["application"]["id"].as_str().unwrap();
        let selection = json_call(
            state,
            Method::POST,
            &format!("/api/v1/enrollment/applications/{id}/selection"),
            Some(json!({"plan_id": plan["id"]})),
        )
        .await;
        (
            plan["issuer"]["id"].as_str().unwrap().to_string(),
            selection["enrollment"].clone(),
        )
    }

    #[tokio::test]
    async fn a_misrouted_834_is_addressed_to_the_insurer_that_gets_it() {
        let misroute = Behaviour {
            insurers: [(
                "*".to_string(),
                crate::exchange::behaviour::InsurerFaults {
                    wrong_insurer_834: 1.0,
                    ..Default::default()
                },
            )]
            .into(),
            ..Behaviour::default()
        };
        let state = AppState::with_behaviour(
            b"test-key".to_vec(),
            "http://exchange.invalid",
            misroute,
            ScenarioClock::default(),
        );
        let (issuer, _) = enrol(&state, &[34]).await;
        let ii = state
            .catalog
            .issuers
            .iter()
            .position(|i| i.id == issuer)
            .unwrap();
        let other = state.catalog.issuers[state.misrouted_to(ii)].id;
        assert_eq!(
            inbox_text(&state, ii, 0),
            "",
            "nothing reached the plan's insurer"
        );
        let astray = inbox_text(&state, state.misrouted_to(ii), 0);
        let gs = astray.lines().nth(1).unwrap();
        assert!(gs.starts_with(&format!("GS*BE*CMSFFM*{other}*")), "{gs}");
        let isa08 = astray.lines().next().unwrap().split('*').nth(8).unwrap();
        assert_eq!(isa08.trim(), other);
        let name = state.catalog.issuers[ii].name.to_ascii_uppercase();
        assert!(astray.contains(&format!("N1*IN*{name}*")), "{astray}");
    }
}
