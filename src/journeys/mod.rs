//! The four journeys an applicant can take through the exchange, each deeper than the last:
//!
//! - **browse**: ZIP → county → plan search (a few pages) → plan details;
//! - **eligibility**: browse, then an eligibility estimate for the household;
//! - **enroll**: eligibility, then application and plan selection, the Pay Now redirect followed by
//!   hand to the insurer, and the binder payment;
//! - **confirm**: enroll, then ask the insurer whether the applicant is effectuated.
//!
//! A visit's success is business success: a visit that paid but is unknown to the insurer failed.

mod browse;
mod call;
mod confirm;
mod eligibility;
mod form;
mod pay;
mod select;

pub use call::{call, Body, Method, Reply, StepFailed};
pub use form::{first_form, Form};

use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::prelude::GooseUser;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::measure::Recorder;
use crate::plan::Visit;
use crate::rundir::enrollments::{Enrollment, EnrollmentLog};
use crate::scenario::ThinkTime;
use crate::vocab::Journey;
use crate::vocab::Stage;

/// What every visit of a run shares.
pub struct JourneyEnv {
    pub recorder: Arc<Recorder>,
    /// Where applicants who selected a plan are written down (`enrollments.csv`).
    pub enrollments: Option<Arc<EnrollmentLog>>,
    /// How long (wall time) a visitor waits in a waiting room before giving up.
    pub patience: Duration,
    /// One permit per request in flight: the bound on open connections.
    pub connections: tokio::sync::Semaphore,
    /// Real-world think times; divided by `time_scale` when slept.
    pub think_time: ThinkTime,
    pub time_scale: f64,
}

/// One visit in progress.
pub struct VisitState<'a> {
    /// The Goose user the visit's requests go through (only the request call touches it).
    pub(crate) user: &'a mut GooseUser,
    pub run: &'a JourneyEnv,
    pub visit: &'a Visit,
    intended_start: Instant,
    first_request_sent: bool,
    think_rng: ChaCha8Rng,
    /// The insurer (id, name) of the plan chosen while browsing.
    pub insurer: Option<(String, String)>,
    /// The visit's own cookies (a waiting room's session, say); none carry over between visits.
    pub cookies: CookieJar,
    /// Once a plan is selected: how far this applicant got, for the cracks report.
    pub enrollment: Option<Enrollment>,
}

/// The cookies one visit has been given, sent back on its later requests (to every host: the
/// exchange and its insurers are one site to a visitor here).
#[derive(Debug, Default, Clone)]
pub struct CookieJar(Vec<(String, String)>);

impl CookieJar {
    /// Keep the `name=value` of every `Set-Cookie` in `headers`.
    pub fn store(&mut self, headers: &reqwest::header::HeaderMap) {
        for header in headers.get_all(reqwest::header::SET_COOKIE) {
            let Some((name, value)) = header
                .to_str()
                .ok()
                .and_then(|h| h.split(';').next())
                .and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            match self.0.iter_mut().find(|(n, _)| *n == name) {
                Some(existing) => existing.1 = value,
                None => self.0.push((name, value)),
            }
        }
    }

    /// The `Cookie` header to send, if there is anything to send.
    pub fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

impl<'a> VisitState<'a> {
    pub fn new(
        user: &'a mut GooseUser,
        run: &'a JourneyEnv,
        visit: &'a Visit,
        intended_start: Instant,
    ) -> Self {
        Self {
            user,
            run,
            visit,
            intended_start,
            first_request_sent: false,
            think_rng: ChaCha8Rng::seed_from_u64(visit.think_seed),
            insurer: None,
            cookies: CookieJar::default(),
            enrollment: None,
        }
    }

    /// When the next request's latency starts: the visit's intended start for its first request (so a
    /// visit that could not start on time shows the wait as latency), the send time after that.
    fn request_start(&mut self) -> Instant {
        if self.first_request_sent {
            Instant::now()
        } else {
            self.first_request_sent = true;
            self.intended_start
        }
    }

    /// A person reads the page before the next step.
    async fn think(&mut self) {
        let ThinkTime { min_ms, max_ms } = self.run.think_time;
        if max_ms == 0 {
            return;
        }
        let pause = self.think_rng.random_range(min_ms..=max_ms);
        tokio::time::sleep(Duration::from_secs_f64(
            pause as f64 / 1000.0 / self.run.time_scale,
        ))
        .await;
    }
}

/// Run one visit to the end of its journey (or its first failure). Returns the funnel stage reached
/// and, if it stopped early, why.
pub async fn run_visit(state: &mut VisitState<'_>) -> (Stage, Option<StepFailed>) {
    let mut reached = Stage::Visits;
    let result = walk(state, &mut reached).await;
    (reached, result.err())
}

async fn walk(state: &mut VisitState<'_>, reached: &mut Stage) -> Result<(), StepFailed> {
    let journey = state.visit.journey;
    let browsed = browse::browse(state).await?;
    *reached = Stage::Browsed;
    if journey == Journey::Browse {
        return Ok(());
    }
    state.think().await;
    eligibility::estimate(state, &browsed.place).await?;
    *reached = Stage::Eligibility;
    if journey == Journey::Eligibility {
        return Ok(());
    }
    state.think().await;
    let enrollment = select::select(state, &browsed).await?;
    *reached = Stage::Selected;
    let (issuer_id, issuer_name) = state.insurer.clone().unwrap_or_default();
    state.enrollment = Some(Enrollment {
        visit: state.visit.id,
        issuer_id,
        issuer_name,
        payment_transaction_id: enrollment.payment_transaction_id.clone(),
        ..Enrollment::default()
    });
    state.think().await;
    let payment_page = pay::follow_redirect(state, &enrollment).await?;
    *reached = Stage::Redirected;
    if let Some(e) = state.enrollment.as_mut() {
        e.reached_payment = true;
    }
    state.think().await;
    pay::pay(state, &payment_page).await?;
    *reached = Stage::Paid;
    if let Some(e) = state.enrollment.as_mut() {
        e.paid = true;
    }
    if journey == Journey::Enroll {
        return Ok(());
    }
    state.think().await;
    confirm::confirm(state, &enrollment, &payment_page).await?;
    *reached = Stage::Effectuated;
    Ok(())
}
