//! Redirect and pay: follow the exchange's Pay Now page to the insurer as a browser would (the page
//! auto-submits a SAML Response), then pay the first premium on the insurer's payment page.
//!
//! Anything that keeps the applicant from reaching the payment page — a page without the form, a dead
//! or broken insurer link, a refused SAML Response — is a failure of the `redirect` step.

use reqwest::Url;
use serde::Deserialize;

use super::call::{call, Body, Method, StepFailed};
use super::form::{first_form, Form};
use super::select::Enrollment;
use super::VisitState;
use crate::vocab::Step;

/// The insurer's payment page, as reached through the redirect.
pub struct PaymentPage {
    /// Where the insurer's landing page was (its Pay Now URL); the insurer's other routes sit beside it.
    pub landing: Url,
    /// The payment form, with its action made absolute.
    pub form: Form,
}

#[derive(Deserialize)]
struct PaymentMade {
    payment: Payment,
}

#[derive(Deserialize)]
struct Payment {
    status: String,
}

pub async fn follow_redirect(
    state: &mut VisitState<'_>,
    enrollment: &Enrollment,
) -> Result<PaymentPage, StepFailed> {
    let fail = |reason: &str| StepFailed {
        step: Step::Redirect,
        reason: reason.to_string(),
    };
    let pay_now_url = state
        .absolute_url(&enrollment.pay_now_url)
        .and_then(|u| Url::parse(&u).ok())
        .ok_or_else(|| fail("redirect: pay-now URL is not a URL"))?;
    let redirect = call(
        state,
        Step::Redirect,
        "redirect: pay now",
        Method::Get,
        pay_now_url.as_str(),
        Body::None,
        200,
        |reply| {
            let form = first_form(&reply.body).ok_or("no auto-submit form on the Pay Now page")?;
            if form.field("SAMLResponse").is_none_or(str::is_empty) {
                return Err("the Pay Now form carries no SAMLResponse".into());
            }
            Ok(form)
        },
    )
    .await?;
    if let Some(e) = state.enrollment.as_mut() {
        e.pay_now = true;
    }
    let landing = pay_now_url
        .join(&redirect.action)
        .map_err(|_| fail("redirect: the Pay Now form's action is not a URL"))?;

    let owed = enrollment.total_amount_owed;
    let payment_form = call(
        state,
        Step::Redirect,
        "redirect: insurer landing",
        Method::Post,
        landing.as_str(),
        Body::Form(&redirect.fields),
        200,
        |reply| {
            let form = first_form(&reply.body).ok_or("the insurer's page has no payment form")?;
            for field in ["payment_transaction_id", "amount", "payment_token"] {
                if form.field(field).is_none() {
                    return Err(format!("the payment form has no {field}").into());
                }
            }
            let amount: f64 = form
                .field("amount")
                .and_then(|a| a.parse().ok())
                .ok_or("the payment form's amount is not a number")?;
            if (amount - owed).abs() > 0.005 {
                return Err(
                    format!("the insurer asks {amount:.2}, the exchange said {owed:.2}").into(),
                );
            }
            Ok(form)
        },
    )
    .await?;
    let action = landing
        .join(&payment_form.action)
        .map_err(|_| fail("redirect: the payment form's action is not a URL"))?;
    Ok(PaymentPage {
        landing,
        form: Form {
            action: action.to_string(),
            ..payment_form
        },
    })
}

pub async fn pay(state: &mut VisitState<'_>, page: &PaymentPage) -> Result<(), StepFailed> {
    call(
        state,
        Step::Pay,
        "pay: binder payment",
        Method::Post,
        &page.form.action,
        Body::Form(&page.form.fields),
        200,
        |reply| {
            let made: PaymentMade = reply.json()?;
            if made.payment.status == "paid" {
                Ok(())
            } else {
                Err(format!("payment status `{}`", made.payment.status).into())
            }
        },
    )
    .await
}
