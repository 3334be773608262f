//! Running a visit: the journey the visitor takes, request by request, as its journey file says
//! ([`crate::journey_file`]). Nothing here knows any particular exchange: the shipped journeys of
//! the embedded exchange are `journeys/embedded.toml`, and a user's own are a file they write.
//!
//! A visit's success is business success: each request's checks decide whether its answer was the
//! right one, and the funnel stage a request proves is reached only when it succeeded.

mod call;
mod error;
mod form;
mod reply;
mod request;
mod scope;
mod scratch;
mod target;
mod trace;
mod users;

pub use call::{Body, StepFailed};
pub use error::RequestError;
pub use form::{first_form, Form};
pub use target::Target;
pub use users::{UserStock, Users};

use std::sync::Arc;
use std::time::{Duration, Instant};

use minijinja::Value;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::journey_file::Program;
use crate::measure::Recorder;
use crate::plan::Visit;
use crate::rundir::enrollments::{Enrollment, EnrollmentLog};
use crate::scenario::ThinkTime;
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
    /// The journeys, compiled from their file.
    pub program: Arc<Program>,
    pub target: Target,
    /// What one request may cost: redirects followed, bytes read, time.
    pub limits: HttpLimits,
    /// Print every request and reply (`surge trace`).
    pub trace: Option<Trace>,
}

/// How `surge trace` prints a visit.
#[derive(Debug, Clone, Copy)]
pub struct Trace {
    /// Bytes of each body to print.
    pub body_bytes: usize,
}

/// What one request may cost, from the scenario's `[http]`.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Redirects followed for one request (`max_redirects`).
    pub max_redirects: u32,
    /// Bytes a reply may bring once decoded (`max_reply`).
    pub max_reply: u64,
    /// The whole request, body included (`timeout`).
    pub timeout: Duration,
}

/// One visit in progress.
pub struct VisitState<'a> {
    /// The Goose user the visit's requests go through (only the request call touches it).
    pub(crate) users: Users<'a>,
    pub run: &'a JourneyEnv,
    pub visit: &'a Visit,
    intended_start: Instant,
    first_request_sent: bool,
    think_rng: ChaCha8Rng,
    /// The visit's own cookies, kept by the rules browsers use (domain, path, expiry).
    cookies: cookie_store::CookieStore,
    /// What templates see: `visit`, `household`, `vars`, and everything captured so far.
    bindings: scope::Bindings,
    /// The page the visitor is on: the last request's URL (`follow` resolves against it).
    page: Option<url::Url>,
    /// Requests sent so far (a re-send after a waiting room's hold is the same request).
    sent: u64,
}

/// How a visit ended.
pub struct VisitEnd {
    /// The deepest funnel stage reached.
    pub reached: Stage,
    /// Why it stopped early, if it did.
    pub failure: Option<StepFailed>,
    /// The insurer (id, name) of the plan chosen, once known.
    pub insurer: Option<(String, String)>,
    /// For visits that selected a plan: how far the applicant got (the cracks report).
    pub enrollment: Option<Enrollment>,
}

impl<'a> VisitState<'a> {
    pub fn new(
        users: Users<'a>,
        run: &'a JourneyEnv,
        visit: &'a Visit,
        intended_start: Instant,
    ) -> Self {
        let mut bindings = scope::Bindings::default();
        bindings.insert(
            "visit",
            Value::from_iter([
                ("id".to_string(), Value::from(visit.id)),
                ("pages".to_string(), Value::from(visit.pages)),
                ("pick".to_string(), Value::from(visit.pick)),
            ]),
        );
        bindings.insert("household", Value::from_serialize(&visit.household));
        bindings.insert("vars", run.program.vars.clone());
        if let Some(row) = &visit.data {
            bindings.insert("data", Value::from_serialize(row.as_ref()));
        }
        Self {
            users,
            run,
            visit,
            intended_start,
            first_request_sent: false,
            think_rng: ChaCha8Rng::seed_from_u64(visit.think_seed),
            cookies: cookie_store::CookieStore::default(),
            bindings,
            page: None,
            sent: 0,
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

    /// Everything templates can see now.
    fn scope(&self) -> Value {
        self.bindings.scope()
    }
}

/// Run one visit to the end of its journey (or its first failure).
pub async fn run_visit(state: &mut VisitState<'_>) -> VisitEnd {
    let program = state.run.program.clone();
    let journey = &program.journeys[state.visit.journey];
    let mut reached = Stage::Visits;
    let mut failure = None;
    for (&index, live) in journey.requests.iter().zip(&journey.live_after) {
        let request = &program.requests[index];
        if request.think {
            state.think().await;
        }
        // Boxed: a request's future (hyper's, the reply's reading) is kilobytes, and held inline
        // it would size every visit's task, thousands of which are only thinking at once.
        if let Err(failed) = Box::pin(request::perform(state, request)).await {
            failure = Some(failed);
            break;
        }
        if let Some(stage) = request.stage {
            reached = reached.max(stage);
        }
        state.bindings.keep_only(live);
    }
    let (insurer, enrollment) = enrollment_of(state, &program, reached);
    VisitEnd {
        reached,
        failure,
        insurer,
        enrollment,
    }
}

/// The visit's insurer, and its row in `enrollments.csv` if it selected a plan, from the journey
/// file's `[enrollment]` templates.
fn enrollment_of(
    state: &VisitState<'_>,
    program: &Program,
    reached: Stage,
) -> (Option<(String, String)>, Option<Enrollment>) {
    let Some(templates) = &program.enrollment else {
        return (None, None);
    };
    let scope = state.scope();
    // Written to enrollments.csv and from there to every report: never a secret.
    let text = |id| {
        let rendered = program.templates.render(id, &scope).ok()?;
        Some(program.access.redact(&rendered))
    };
    let optional = |id: Option<_>| id.and_then(text).unwrap_or_default();
    let insurer = text(templates.issuer_id)
        .filter(|id| !id.is_empty())
        .map(|id| (id, optional(templates.issuer_name)));
    if reached < Stage::Selected {
        return (insurer, None);
    }
    let (issuer_id, issuer_name) = insurer.clone().unwrap_or_default();
    let enrollment = Enrollment {
        visit: state.visit.id,
        issuer_id,
        issuer_name,
        payment_transaction_id: text(templates.payment_transaction_id).unwrap_or_default(),
        pay_now: templates
            .pay_now
            .and_then(|id| program.templates.eval(id, &scope).ok())
            .is_some_and(|v| v.is_true()),
        reached_payment: reached >= Stage::Redirected,
        paid: reached >= Stage::Paid,
        // In surge's words: the insurer's own go through the journey file's `status_map`.
        confirmed: templates.status(optional(templates.confirmed)),
    };
    (insurer, Some(enrollment))
}
