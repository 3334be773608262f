//! `surge check`: load and check a scenario, its journey file and its threshold rules, and say what
//! a run would do, without sending anything. Every problem is an error naming file:line and key.

use crate::cli::CheckArgs;
use crate::cracks::{EdiSource, Matching};
use crate::journey_file::program::Address;
use crate::journeys::Target;
use crate::scenario::Scenario;

use super::run::{load, Connections, LoadRequest, Loaded};
use super::{Error, Outcome};

pub fn check(args: CheckArgs) -> Result<Outcome, Error> {
    let Loaded {
        scenario,
        program,
        rules,
        plan,
        target,
    } = load(LoadRequest::as_written(
        &args.scenario,
        args.target.clone(),
        args.ignore_exchange_section,
    ))?;
    // As `surge run` would: a scenario asking for more connections than this process holds.
    let connections = Connections::for_run(&scenario, target.as_deref())?;
    sayln!("{}: ok", args.scenario.display());
    let shares = plan.visitors.shares();
    let journeys: Vec<String> = program
        .journeys
        .iter()
        .zip(&shares)
        .map(|(journey, share)| {
            format!(
                "{} {:.0}% ({} requests)",
                journey.name,
                share * 100.0,
                journey.requests.len()
            )
        })
        .collect();
    sayln!(
        "  journeys: {} from {}",
        journeys.join(", "),
        program.path.display()
    );
    sayln!("  steps: {}", program.steps.names().join(", "));
    let timing = match &plan.curve {
        Some(curve) => format!(
            "over {:.0} s of scenario time at {}x (peak {:.0} visits/s of wall time)",
            curve.span(),
            plan.time_scale,
            plan.peak_wall_rate
        ),
        None => "as fast as they finish (a closed run)".to_string(),
    };
    sayln!(
        "  visits: {} {timing}, seed {}",
        plan.visits,
        scenario.traffic.seed
    );
    sayln!(
        "  target: {}",
        match target.as_deref().filter(|t| *t != "embedded") {
            Some(url) => url.to_string(),
            None => "the embedded exchange".to_string(),
        }
    );
    if let Some(connections) = connections {
        sayln!(
            "  connections: at most {} at once; a run here holds {} (open-file limit {})",
            scenario.http.max_connections.0,
            connections.holds,
            connections.open_files
        );
    }
    if !scenario.http.allowed_hosts.is_empty() {
        sayln!(
            "  other hosts allowed: {}",
            scenario.http.allowed_hosts.join(", ")
        );
    }
    // A request written with an absolute URL to a host the run may not reach would be refused.
    let target_url = match target.as_deref().filter(|t| *t != "embedded") {
        Some(url) => url.to_string(),
        None => "http://127.0.0.1".to_string(),
    };
    let reach = Target::new(&target_url, scenario.http.allowed_hosts.clone());
    for request in &program.requests {
        let Address::Target(id) = request.address else {
            continue;
        };
        let Some(url) = program.templates.literal(id) else {
            continue;
        };
        if let Ok(url) = url::Url::parse(url) {
            if !reach.allows(&url) {
                return Err(Error::Usage(format!(
                    "{}: requests.{}.url: host {} is neither the target's nor in [http] allowed_hosts \
                     of {}: every such request would be refused",
                    program.path.display(),
                    request.name,
                    url.host_str().unwrap_or("(none)"),
                    args.scenario.display()
                )));
            }
        }
    }
    sayln!("  thresholds: {} rule(s)", rules.len());
    let selects = program
        .proved_stages()
        .contains(&crate::vocab::Stage::Selected);
    if selects && program.enrollment.is_none() {
        sayln!(
            "  note: no [enrollment] section in {}: applicants who select a plan are not written \
             to enrollments.csv, so there will be no cracks report (docs/journeys.md, \"For the \
             cracks report\")",
            program.path.display()
        );
    }
    if program.enrollment.is_some() {
        sayln!("  cracks: {}", cracks_plan(&scenario, target.as_deref()));
    }
    if let Some(warning) = program.access.insecure_warning() {
        eprintln!("{warning}");
    }
    let secrets = program.access.secrets.len();
    if secrets > 0 {
        sayln!("  values from the environment (never written): {secrets}");
    }
    Ok(Outcome::Done)
}

/// Where the cracks report will read the insurers' 834s, and how it will match their ids with the
/// visits'.
fn cracks_plan(scenario: &Scenario, target: Option<&str>) -> String {
    let spec = &scenario.cracks;
    let target = target
        .filter(|t| *t != "embedded")
        .unwrap_or("the embedded exchange");
    let source = EdiSource::of(spec.source.as_deref(), &scenario.source.path, target);
    let from = match &source {
        EdiSource::Target(_) => format!(
            "the target's 834 inboxes (GET /issuers/ID/834 of {target}) when it serves them; \
             [cracks] source names a directory or another exchange"
        ),
        EdiSource::Files(path) if path.exists() => source.describe(),
        EdiSource::Files(_) => format!(
            "{} (not there yet: read at the end of the run)",
            source.describe()
        ),
        EdiSource::Exchange(_) => source.describe(),
    };
    // Checked with the scenario: a pattern that does not compile never gets here.
    let how = Matching::from_spec(spec).map_or_else(|e| e.to_string(), |m| m.describe());
    format!("reads {from}; ids matched by {how}")
}
