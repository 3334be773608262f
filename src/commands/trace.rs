//! `surge trace`: walk one visit against the target and print every request and reply, secrets
//! redacted, so a user writing a journey file sees where it breaks and why.

use std::sync::Arc;

use crate::cli::TraceArgs;
use crate::engine::{self, RunControl};
use crate::gate::GateStatus;

use super::run::{load, start_target, LoadRequest, Loaded};
use super::{Error, Outcome};

pub async fn trace(args: TraceArgs) -> Result<Outcome, Error> {
    let Loaded {
        scenario,
        program,
        plan,
        target,
        ..
    } = load(LoadRequest {
        seed: args.seed,
        ..LoadRequest::as_written(
            &args.scenario,
            args.target.clone(),
            args.ignore_exchange_section,
        )
    })?;
    if args.visit >= plan.visits_total {
        return Err(Error::Usage(format!(
            "--visit {}: the scenario's run has visits 0 to {}",
            args.visit,
            plan.visits_total.saturating_sub(1)
        )));
    }
    let visit_id = match &args.journey {
        None => args.visit,
        Some(name) => {
            let names = program.names();
            let Some(wanted) = names.iter().position(|n| n == name) else {
                return Err(Error::Usage(format!(
                    "--journey {name}: no such journey; the journeys are {}",
                    names.join(", ")
                )));
            };
            // A journey with a share of the mix comes up within a few visits; the search is bounded
            // all the same (a share of one in a billion would take a while to find).
            let last = plan.visits_total.min(args.visit.saturating_add(1_000_000));
            (program.journeys[wanted].weight > 0.0)
                .then(|| (args.visit..last).find(|id| plan.visitors.visit(*id).journey == wanted))
                .flatten()
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--journey {name}: no visit from {} to {} takes it (its share of the mix \
                         is 0, or too small)",
                        args.visit,
                        last.saturating_sub(1)
                    ))
                })?
        }
    };
    if let Some(warning) = program.access.insecure_warning() {
        eprintln!("{warning}");
    }
    let control = Arc::new(RunControl::default());
    let _ = control.origin.set(std::time::Instant::now());
    let started = start_target(target.as_deref(), &scenario, &plan, &control).await?;
    let visit = plan.visitors.visit(visit_id);
    sayln!(
        "surge trace: visit {} ({} journey, household in {}) against {}",
        visit.id,
        program.journeys[visit.journey].name,
        visit.household.zip,
        program.access.redact(&started.url)
    );
    let end = engine::trace_visit(
        &plan,
        program.clone(),
        &started.url,
        &scenario,
        visit_id,
        args.body_bytes,
    )
    .await
    .map_err(Error::Visit)?;
    if let Some(running) = started.embedded {
        running.shutdown().await;
    }
    match end.failure {
        None => {
            sayln!("\nvisit {}: reached {}: ok", visit.id, end.reached.name());
            Ok(Outcome::Done)
        }
        Some(failure) => {
            sayln!(
                "\nvisit {}: reached {}, failed at {}: {}",
                visit.id,
                end.reached.name(),
                program.steps.name(failure.step),
                failure.reason
            );
            Ok(Outcome::Judged(GateStatus::Failed))
        }
    }
}
