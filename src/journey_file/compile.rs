//! From the file as written ([`spec`](super::spec)) to a [`Program`]: names resolved, templates
//! compiled, and every template checked for names nothing defines before it runs. Each problem is
//! located at its key in the file it came from (the journey file, or the scenario for `[vars]`,
//! `[http]` and `[traffic.mix]`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use minijinja::Value;
use regex::Regex;

use super::json;
use super::program::*;
use super::spec::*;
use super::template::{Builder, TemplateId, Templates};
use crate::access::secrets::Secrets;
use crate::access::{names_a_credential, Access};
use crate::rundir::enrollments::STATUS_WORDS;
use crate::scenario::{locate, KeyPath, Scenario, ScenarioError, Source};
use crate::vocab::{Stage, Steps, MAX_STEPS};

/// A problem at a key of one of the two files.
struct Problem {
    in_scenario: bool,
    key: KeyPath,
    message: String,
}

fn at(key: KeyPath, message: impl Into<String>) -> Problem {
    Problem {
        in_scenario: false,
        key,
        message: message.into(),
    }
}

fn key(parts: &[&str]) -> KeyPath {
    KeyPath::of(parts)
}

/// Names with their templates, in order.
type Pairs = Vec<(String, TemplateId)>;

/// Names minijinja provides itself.
const GLOBALS: [&str; 4] = ["range", "dict", "namespace", "debug"];

pub fn compile(source: &Source, scenario: &Scenario) -> Result<Program, ScenarioError> {
    let spec: JourneyFileSpec = toml::from_str(&source.text).map_err(|e| ScenarioError {
        path: source.path.clone(),
        location: e
            .span()
            .map(|span| locate::line_and_column(&source.text, span.start)),
        message: with_hint(e.message().trim()),
    })?;
    compile_spec(spec, source, scenario).map_err(|problem| {
        let file = if problem.in_scenario {
            &scenario.source
        } else {
            source
        };
        file.error_at(&problem.key, problem.message)
    })
}

fn compile_spec(
    spec: JourneyFileSpec,
    source: &Source,
    scenario: &Scenario,
) -> Result<Program, Problem> {
    let mut builder = Builder::default();
    let mut add = |source_text: &str, key: KeyPath| {
        builder
            .add(source_text)
            .map_err(|message| at(key, format!("template: {message}")))
    };
    if spec.journeys.is_empty() {
        return Err(at(
            key(&["journeys"]),
            "journeys: the file declares no journey",
        ));
    }

    // Requests by name, compiled once each.
    let mut index = BTreeMap::new();
    let steps = step_order(&spec)?;
    let mut requests = Vec::new();
    for (name, request) in &spec.requests {
        index.insert(name.clone(), requests.len());
        requests.push(compile_request(name, request, &steps, &mut add)?);
    }

    let mut journeys = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, journey) in spec.journeys.iter().enumerate() {
        let here = |field: &str| KeyPath::parse(&format!("journeys[{i}].{field}"));
        if !seen.insert(journey.name.clone()) {
            return Err(at(
                here("name"),
                format!("name: journey `{}` is declared twice", journey.name),
            ));
        }
        if !journey.weight.is_finite() || journey.weight < 0.0 {
            return Err(at(here("weight"), "weight: must be a number of at least 0"));
        }
        if journey.requests.is_empty() {
            return Err(at(
                here("requests"),
                "requests: a journey needs at least one request",
            ));
        }
        let mut order = Vec::new();
        for (j, name) in journey.requests.iter().enumerate() {
            let Some(&request) = index.get(name) else {
                return Err(at(
                    KeyPath::parse(&format!("journeys[{i}].requests[{j}]")),
                    format!("requests: no [requests.{name}] in the file"),
                ));
            };
            order.push(request);
        }
        // A stage counts a visit once: proved twice, or against the funnel's order, it would
        // count a visit twice or put more visits past a stage than reached the one before.
        let mut stages: Vec<Stage> = Vec::new();
        for (j, request) in order.iter().map(|r| &requests[*r]).enumerate() {
            let Some(stage) = request.stage else { continue };
            if let Some(last) = stages.last().filter(|last| **last >= stage) {
                return Err(at(
                    KeyPath::parse(&format!("journeys[{i}].requests[{j}]")),
                    format!(
                        "requests: `{}` proves stage `{}` after this journey has proved `{}`: \
                         each stage is proved once per journey, in funnel order ({})",
                        request.name,
                        stage.name(),
                        last.name(),
                        Stage::list(&Stage::ALL[1..])
                    ),
                ));
            }
            stages.push(stage);
        }
        journeys.push(Journey {
            name: journey.name.clone(),
            weight: journey.weight,
            requests: order,
            stages,
            live_after: Vec::new(),
        });
    }
    apply_mix(&mut journeys, scenario)?;

    let (default_headers, default_query) = scenario_defaults(scenario, &mut add)?;
    let enrollment = match &spec.enrollment {
        None => None,
        Some(e) => Some(compile_enrollment(e, source, &mut add)?),
    };
    let vars = merge_vars(&spec.vars, &scenario.vars);
    let templates = builder
        .finish()
        .map_err(|message| at(KeyPath::default(), format!("template: {message}")))?;
    let mut access = render_access(&templates, &vars, &default_headers, &default_query)?;
    access.secrets = secrets_of(&templates, &access, scenario);
    access.ca_pem = read_ca_file(scenario)?;
    access.insecure = scenario.http.insecure;
    let reply_keys = std::sync::Arc::new(reply_keys(&requests, &templates));
    let mut program = Program {
        path: source.path.clone(),
        steps,
        journeys,
        requests,
        templates,
        vars,
        access,
        enrollment,
        reply_keys,
    };
    check_names(&program, &spec, scenario.data.is_some())?;
    find_live_names(&mut program);
    Ok(program)
}

/// For each journey, after each request, the names later templates read (`Journey::live_after`).
fn find_live_names(program: &mut Program) {
    let t = &program.templates;
    let reads = |ids: Vec<TemplateId>| ids.into_iter().flat_map(|id| t.reads(id));
    let at_the_end: BTreeSet<String> = program
        .enrollment
        .as_ref()
        .map(|e| reads(e.templates().collect()).collect())
        .unwrap_or_default();
    for journey in &mut program.journeys {
        let mut live = at_the_end.clone();
        let mut live_after = Vec::with_capacity(journey.requests.len());
        for &r in journey.requests.iter().rev() {
            live_after.push(live.iter().cloned().collect());
            live.extend(reads(program.requests[r].templates()));
        }
        live_after.reverse();
        journey.live_after = live_after;
    }
}

/// The file's steps, named by its requests, in the order the journeys first use them (then those
/// of requests no journey uses): the order of the report's tables and panels.
fn step_order(spec: &JourneyFileSpec) -> Result<Steps, Problem> {
    let used = spec.journeys.iter().flat_map(|j| &j.requests);
    let named = used
        .filter_map(|name| spec.requests.get_key_value(name))
        .chain(&spec.requests);
    let mut steps = Steps::default();
    for (name, request) in named {
        let here = || key(&["requests", name, "step"]);
        Steps::check_name(&request.step)
            .map_err(|message| at(here(), format!("step: {message}")))?;
        steps.add(&request.step);
        if steps.len() > MAX_STEPS {
            return Err(at(
                here(),
                format!("step: more than {MAX_STEPS} different steps; group requests under fewer"),
            ));
        }
    }
    Ok(steps)
}

fn compile_request(
    name: &str,
    spec: &RequestSpec,
    steps: &Steps,
    add: &mut impl FnMut(&str, KeyPath) -> Result<TemplateId, Problem>,
) -> Result<Request, Problem> {
    let here = |field: &str| key(&["requests", name, field]);
    let step = steps
        .named(&spec.step)
        .ok_or_else(|| at(here("step"), format!("step: `{}` is not a step", spec.step)))?;
    let stage = match &spec.stage {
        None => None,
        Some(word) => Some(
            Stage::named(word)
                .filter(|s| *s != Stage::Visits)
                .ok_or_else(|| {
                    at(
                        here("stage"),
                        format!(
                            "stage: `{word}` is not a funnel stage (one of {})",
                            Stage::list(&Stage::ALL[1..])
                        ),
                    )
                })?,
        ),
    };
    let method = match &spec.method {
        None => Method::Get,
        Some(m) => Method::named(m).ok_or_else(|| {
            at(
                here("method"),
                format!("method: `{m}` is not an HTTP method"),
            )
        })?,
    };
    let address = match (&spec.url, &spec.follow) {
        (Some(url), None) => Address::Target(add(url, here("url"))?),
        (None, Some(follow)) => Address::Follow(add(follow, here("follow"))?),
        (Some(_), Some(_)) => {
            return Err(at(
                here("follow"),
                "follow: give `url` or `follow`, not both",
            ))
        }
        (None, None) => {
            return Err(at(
                key(&["requests", name]),
                format!("requests.{name}: needs a `url` (or `follow`)"),
            ))
        }
    };
    let headers = templated_pairs(&spec.headers, &["requests", name, "headers"], add)?;
    let query = templated_pairs(&spec.query, &["requests", name, "query"], add)?;
    let body = match (&spec.json, &spec.form) {
        (Some(_), Some(_)) => {
            return Err(at(here("form"), "form: give `json` or `form`, not both"))
        }
        (Some(json), None) => BodyTemplate::Json(json_template(json, here("json"), add)?),
        (None, Some(toml::Value::String(expr))) => {
            BodyTemplate::FieldsFrom(add(expr, here("form"))?)
        }
        (None, Some(toml::Value::Table(fields))) => {
            let mut pairs = Vec::new();
            for (field, value) in fields {
                let key = key(&["requests", name, "form", field]);
                let text = scalar_text(value)
                    .ok_or_else(|| at(key.clone(), format!("{field}: a form field is text")))?;
                pairs.push((field.clone(), add(&text, key)?));
            }
            BodyTemplate::Fields(pairs)
        }
        (None, Some(_)) => {
            return Err(at(
                here("form"),
                "form: a table of fields, or one `{{ expression }}` giving one",
            ))
        }
        (None, None) => BodyTemplate::None,
    };
    let expect = match &spec.expect {
        None => vec![200],
        Some(Expect::One(s)) => vec![*s],
        Some(Expect::Any(list)) => list.clone(),
    };
    if expect.is_empty() || expect.iter().any(|s| !(100..=599).contains(s)) {
        return Err(at(
            here("expect"),
            "expect: HTTP statuses between 100 and 599",
        ));
    }
    let mut bindings = Vec::new();
    for (binding, expr) in &spec.bindings {
        reserved(binding, key(&["requests", name, "let", binding]))?;
        bindings.push((
            binding.clone(),
            add(expr, key(&["requests", name, "let", binding]))?,
        ));
    }
    let before = compile_checks(&spec.before, name, "before", add)?;
    let checks = compile_checks(&spec.checks, name, "checks", add)?;
    let mut captures = Vec::new();
    for (capture, source) in &spec.capture {
        captures.push(compile_capture(name, capture, source, add)?);
    }
    let repeat = match &spec.repeat {
        None => None,
        Some(repeat) => {
            let times_key = key(&["requests", name, "repeat", "times"]);
            let times = match &repeat.times {
                // An expression, so the run reads a number (a literal would read as text).
                toml::Value::Integer(n) if *n >= 1 => add(&format!("{{{{ {n} }}}}"), times_key)?,
                toml::Value::String(expr) => add(templated(expr, "times", &times_key)?, times_key)?,
                written => {
                    return Err(at(
                        times_key,
                        format!(
                            "repeat.times: `{written}` is not a whole number of 1 or more; write a count \
                             such as 3, or an expression giving one (\"{{{{ visit.pages }}}}\")"
                        ),
                    ))
                }
            };
            let until = match &repeat.until {
                None => None,
                Some(expr) => {
                    let until_key = key(&["requests", name, "repeat", "until"]);
                    Some(add(templated(expr, "until", &until_key)?, until_key)?)
                }
            };
            Some(Repeat { times, until })
        }
    };
    Ok(Request {
        name: name.to_string(),
        step,
        label: spec
            .label
            .clone()
            .unwrap_or_else(|| format!("{}: {name}", spec.step)),
        method,
        address,
        headers,
        query,
        body,
        expect,
        bindings,
        before,
        checks,
        captures,
        repeat,
        think: spec.think,
        stage,
    })
}

fn reserved(name: &str, key: KeyPath) -> Result<(), Problem> {
    if RESERVED.contains(&name) {
        return Err(at(
            key,
            format!(
                "{name}: a name templates already use (one of {})",
                RESERVED.join(", ")
            ),
        ));
    }
    Ok(())
}

fn templated_pairs(
    table: &BTreeMap<String, String>,
    parent: &[&str],
    add: &mut impl FnMut(&str, KeyPath) -> Result<TemplateId, Problem>,
) -> Result<Vec<(String, TemplateId)>, Problem> {
    table
        .iter()
        .map(|(name, text)| {
            let key = KeyPath::of(parent).join(name);
            Ok((name.clone(), add(text, key)?))
        })
        .collect()
}

trait Join {
    fn join(self, key: &str) -> KeyPath;
}

impl Join for KeyPath {
    fn join(mut self, key: &str) -> KeyPath {
        self.0.push(locate::Segment::Key(key.to_string()));
        self
    }
}

/// A TOML scalar as template text.
fn scalar_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn json_template(
    value: &toml::Value,
    here: KeyPath,
    add: &mut impl FnMut(&str, KeyPath) -> Result<TemplateId, Problem>,
) -> Result<JsonTemplate, Problem> {
    Ok(match value {
        toml::Value::String(text) if text.contains("{{") || text.contains("${env:") => {
            JsonTemplate::Value(add(text, here)?)
        }
        toml::Value::Array(items) => JsonTemplate::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut key = here.clone();
                    key.0.push(locate::Segment::Index(i));
                    json_template(item, key, add)
                })
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => JsonTemplate::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone(), json_template(v, here.clone().join(k), add)?)))
                .collect::<Result<_, _>>()?,
        ),
        other => JsonTemplate::Literal(
            serde_json::to_value(other).map_err(|e| at(here, format!("json: {e}")))?,
        ),
    })
}

fn compile_checks(
    specs: &[CheckSpec],
    request: &str,
    field: &str,
    add: &mut impl FnMut(&str, KeyPath) -> Result<TemplateId, Problem>,
) -> Result<Vec<Check>, Problem> {
    let mut checks = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let here = KeyPath::parse(&format!("requests.\"{request}\".{field}[{i}]"));
        let kinds = [
            spec.pointer.is_some(),
            spec.contains.is_some(),
            spec.header.is_some(),
            spec.that.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(at(
                here,
                format!(
                    "{field}[{i}]: give exactly one of `pointer`, `contains`, `header` or `that`"
                ),
            ));
        }
        if field == "before" && spec.that.is_none() {
            return Err(at(here, "before: only `that` checks run before a request"));
        }
        let (kind, default_reason) = if let Some(pointer) = &spec.pointer {
            check_pointer(pointer, here.clone().join("pointer"))?;
            let tests = [
                spec.exists.is_some(),
                spec.equals.is_some(),
                spec.matches.is_some(),
            ];
            if tests.iter().filter(|t| **t).count() > 1 {
                return Err(at(here, "give one of `exists`, `equals` or `matches`"));
            }
            let (test, reason) = if let Some(value) = &spec.equals {
                (
                    PointerTest::Equals(Value::from_serialize(value)),
                    format!("{pointer} is not {value}"),
                )
            } else if let Some(pattern) = &spec.matches {
                let regex = Regex::new(pattern).map_err(|e| {
                    at(
                        here.clone().join("matches"),
                        format!("matches: not a regular expression ({e})"),
                    )
                })?;
                (
                    PointerTest::Matches(regex),
                    format!("{pointer} does not match {pattern}"),
                )
            } else if spec.exists == Some(false) {
                (
                    PointerTest::Exists(false),
                    format!("{pointer} should not be in the reply"),
                )
            } else {
                (
                    PointerTest::Exists(true),
                    format!("no {pointer} in the reply"),
                )
            };
            (
                CheckKind::Pointer {
                    pointer: pointer.clone(),
                    test,
                },
                reason,
            )
        } else if let Some(text) = &spec.contains {
            (
                CheckKind::Contains(text.clone()),
                format!("the reply does not contain `{text}`"),
            )
        } else if let Some(header) = &spec.header {
            (
                CheckKind::Header(header.to_ascii_lowercase()),
                format!("no {header} header"),
            )
        } else {
            let expr = spec.that.as_deref().unwrap_or_default();
            let that_key = here.clone().join("that");
            bare(expr, "that", &that_key)?;
            let id = add(&format!("{{{{ {expr} }}}}"), that_key)?;
            (CheckKind::That(id), format!("`{expr}` is false"))
        };
        checks.push(Check {
            kind,
            reason: spec.reason.clone().unwrap_or(default_reason),
        });
    }
    Ok(checks)
}

/// What the requests' templates and pointers could read of a reply.
fn reply_keys(requests: &[Request], templates: &Templates) -> ReplyKeys {
    let pointers = requests.iter().flat_map(|request| {
        let checks = request.checks.iter().chain(&request.before);
        let checked = checks.filter_map(|check| match &check.kind {
            CheckKind::Pointer { pointer, .. } => Some(pointer),
            _ => None,
        });
        let captured = request
            .captures
            .iter()
            .filter_map(|capture| match &capture.source {
                CaptureSource::Pointer(pointer) => Some(pointer),
                _ => None,
            });
        checked.chain(captured)
    });
    let tokens = pointers.flat_map(|pointer| json::pointer_tokens(pointer).map(Cow::into_owned));
    ReplyKeys::of(templates.words().iter().cloned().chain(tokens))
}

/// A JSON pointer (RFC 6901): empty, or `/` then tokens.
fn check_pointer(pointer: &str, key: KeyPath) -> Result<(), Problem> {
    if pointer.is_empty() || pointer.starts_with('/') {
        Ok(())
    } else {
        Err(at(
            key,
            format!("pointer: `{pointer}` is not a JSON pointer: it must start with `/` (or be \"\" for the whole reply)"),
        ))
    }
}

fn compile_capture(
    request: &str,
    name: &str,
    spec: &CaptureSpec,
    add: &mut impl FnMut(&str, KeyPath) -> Result<TemplateId, Problem>,
) -> Result<Capture, Problem> {
    let here = key(&["requests", request, "capture", name]);
    reserved(name, here.clone())?;
    let sources = [
        spec.pointer.is_some(),
        spec.header.is_some(),
        spec.cookie.is_some(),
        spec.regex.is_some(),
        spec.form,
        spec.url,
        spec.expr.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(at(
            here,
            format!("{name}: give exactly one of `pointer`, `header`, `cookie`, `regex`, `form`, `url` or `expr`"),
        ));
    }
    let source = if let Some(pointer) = &spec.pointer {
        check_pointer(pointer, here.clone().join("pointer"))?;
        CaptureSource::Pointer(pointer.clone())
    } else if let Some(header) = &spec.header {
        CaptureSource::Header(header.to_ascii_lowercase())
    } else if let Some(cookie) = &spec.cookie {
        CaptureSource::Cookie(cookie.clone())
    } else if let Some(pattern) = &spec.regex {
        CaptureSource::Regex(Regex::new(pattern).map_err(|e| {
            at(
                here.clone().join("regex"),
                format!("regex: not a regular expression ({e})"),
            )
        })?)
    } else if spec.form {
        CaptureSource::Form
    } else if spec.url {
        CaptureSource::Url
    } else {
        let expr = spec.expr.as_deref().unwrap_or_default();
        let expr_key = here.clone().join("expr");
        bare(expr, "expr", &expr_key)?;
        CaptureSource::Expr(add(&format!("{{{{ {expr} }}}}"), expr_key)?)
    };
    Ok(Capture {
        name: name.to_string(),
        source,
        append: spec.append,
        default: spec.default.as_ref().map(Value::from_serialize),
    })
}

fn compile_enrollment(
    spec: &EnrollmentSpec,
    source: &Source,
    add: &mut impl FnMut(&str, KeyPath) -> Result<TemplateId, Problem>,
) -> Result<EnrollmentTemplates, Problem> {
    let here = |field: &str| key(&["enrollment", field]);
    // An insurer's word mapped to anything but surge's would count as nothing, silently.
    for (word, surge) in &spec.status_map {
        if !STATUS_WORDS.contains(&surge.as_str()) {
            return Err(at(
                key(&["enrollment", "status_map", word]),
                format!(
                    "status_map.{word}: `{surge}` is not one of surge's words ({})",
                    STATUS_WORDS.join(", ")
                ),
            ));
        }
    }
    let confirmed_at = spec.confirmed.as_ref().and_then(|_| {
        let offset = here("confirmed").offset_in(&source.text)?;
        let (line, _) = locate::line_and_column(&source.text, offset);
        Some(format!("{}:{line}", source.path.display()))
    });
    let mut optional = |text: &Option<String>, field: &str| match text {
        None => Ok(None),
        Some(text) => add(text, here(field)).map(Some),
    };
    Ok(EnrollmentTemplates {
        issuer_name: optional(&spec.issuer_name, "issuer_name")?,
        pay_now: optional(&spec.pay_now, "pay_now")?,
        confirmed: optional(&spec.confirmed, "confirmed")?,
        issuer_id: add(&spec.issuer_id, here("issuer_id"))?,
        payment_transaction_id: add(&spec.payment_transaction_id, here("payment_transaction_id"))?,
        status_map: spec
            .status_map
            .iter()
            .map(|(word, surge)| (word.clone(), surge.clone()))
            .collect(),
        confirmed_at,
    })
}

/// A scenario's `[traffic.mix]`, when it has one, sets every journey's weight by name.
fn apply_mix(journeys: &mut [Journey], scenario: &Scenario) -> Result<(), Problem> {
    if let Some(mix) = &scenario.traffic.mix {
        for name in mix.keys() {
            if !journeys.iter().any(|j| &j.name == name) {
                return Err(Problem {
                    in_scenario: true,
                    key: key(&["traffic", "mix", name]),
                    message: format!(
                        "mix: no journey `{name}` in the journey file (it has {})",
                        journeys
                            .iter()
                            .map(|j| j.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        for journey in journeys.iter_mut() {
            journey.weight = mix.get(&journey.name).map_or(0.0, |share| share.0);
        }
    }
    if journeys.iter().map(|j| j.weight).sum::<f64>() <= 0.0 {
        return Err(Problem {
            in_scenario: scenario.traffic.mix.is_some(),
            key: match scenario.traffic.mix {
                Some(_) => key(&["traffic", "mix"]),
                None => key(&["journeys"]),
            },
            message: "mix: at least one journey needs a weight above 0".into(),
        });
    }
    Ok(())
}

fn scenario_defaults(
    scenario: &Scenario,
    add: &mut impl FnMut(&str, KeyPath) -> Result<TemplateId, Problem>,
) -> Result<(Pairs, Pairs), Problem> {
    let mut pairs = |table: &BTreeMap<String, String>, field: &str| {
        table
            .iter()
            .map(|(name, text)| {
                let key = key(&["http", field, name]);
                add(text, key.clone())
                    .map(|id| (name.clone(), id))
                    .map_err(|p| Problem {
                        in_scenario: true,
                        key,
                        message: p.message,
                    })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok((
        pairs(&scenario.http.headers, "headers")?,
        pairs(&scenario.http.query, "query")?,
    ))
}

/// The scenario's `[http]` headers and query, rendered once: they may read only `vars`.
fn render_access(
    templates: &super::template::Templates,
    vars: &Value,
    headers: &[(String, TemplateId)],
    query: &[(String, TemplateId)],
) -> Result<Access, Problem> {
    let scope = Value::from_iter([("vars".to_string(), vars.clone())]);
    let render = |pairs: &[(String, TemplateId)], field: &str| {
        pairs
            .iter()
            .map(|(name, id)| {
                templates
                    .render(*id, &scope)
                    .map(|text| (name.clone(), text))
                    .map_err(|e| Problem {
                        in_scenario: true,
                        key: key(&["http", field, name]),
                        message: format!(
                            "{name}: {e} (these templates see only `vars` and `${{env:…}}`)"
                        ),
                    })
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Access {
        headers: render(headers, "headers")?,
        query: render(query, "query")?,
        ..Access::default()
    })
}

/// What is never written: every `${env:…}` value, and the values of the scenario's headers and
/// query parameters that carry credentials (by name, or named in `[http] secrets`).
fn secrets_of(
    templates: &super::template::Templates,
    access: &Access,
    scenario: &Scenario,
) -> Secrets {
    let marked = |name: &str| {
        names_a_credential(name)
            || scenario
                .http
                .secrets
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
    };
    let credentials = access
        .headers
        .iter()
        .chain(&access.query)
        .filter(|(name, _)| marked(name))
        .map(|(_, value)| value.clone());
    Secrets::new(templates.secrets().iter().cloned().chain(credentials))
}

/// `[http] ca_file`, read and checked: PEM certificates.
fn read_ca_file(scenario: &Scenario) -> Result<Option<Vec<u8>>, Problem> {
    let Some(written) = &scenario.http.ca_file else {
        return Ok(None);
    };
    let problem = |message: String| Problem {
        in_scenario: true,
        key: key(&["http", "ca_file"]),
        message,
    };
    let path = crate::scenario::resolve(&scenario.source.path, written);
    let pem = std::fs::read(&path)
        .map_err(|e| problem(format!("ca_file: cannot read {}: {e}", path.display())))?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certificates) if !certificates.is_empty() => Ok(Some(pem)),
        _ => Err(problem(format!(
            "ca_file: {} holds no PEM certificate",
            path.display()
        ))),
    }
}

/// The journey file's `[vars]`, each overridden by the scenario's.
fn merge_vars(file: &toml::Table, scenario: &toml::Table) -> Value {
    let mut merged = file.clone();
    for (k, v) in scenario {
        merged.insert(k.clone(), v.clone());
    }
    Value::from_serialize(&merged)
}

/// Every template reads only names defined before it runs: `visit`, `household`, `vars`, what
/// earlier requests of the journey captured, and, after the reply, `reply`, `status` and the
/// request's own captures (`page` inside a repetition).
fn check_names(program: &Program, spec: &JourneyFileSpec, has_data: bool) -> Result<(), Problem> {
    let t = &program.templates;
    let mut everything: BTreeSet<String> = BTreeSet::new();
    for (j, journey) in program.journeys.iter().enumerate() {
        let mut defined: BTreeSet<String> = ["visit", "household", "vars"].map(String::from).into();
        if has_data {
            defined.insert("data".into());
        }
        for &r in &journey.requests {
            let request = &program.requests[r];
            let fail = |name: &str, field: &str| {
                at(
                    key(&["requests", &request.name, field]),
                    format!(
                        "{field}: `{name}` is not defined when this runs in journey `{}` (defined: {})",
                        program.journeys[j].name,
                        defined.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            };
            let check =
                |id: TemplateId, extra: &[&str], field: &str, defined: &BTreeSet<String>| {
                    for name in t.reads(id) {
                        if !defined.contains(&name)
                            && !extra.contains(&name.as_str())
                            && !GLOBALS.contains(&name.as_str())
                        {
                            return Err(fail(&name, field));
                        }
                    }
                    Ok(())
                };
            let page: &[&str] = if request.repeat.is_some() {
                &["page"]
            } else {
                &[]
            };
            let mut local = defined.clone();
            for (name, id) in &request.bindings {
                check(*id, page, "let", &local)?;
                local.insert(name.clone());
            }
            for c in &request.before {
                if let CheckKind::That(id) = c.kind {
                    check(id, page, "before", &local)?;
                }
            }
            if let Some(repeat) = &request.repeat {
                check(repeat.times, &[], "repeat", &local)?;
            }
            let address = match request.address {
                Address::Target(id) => ("url", id),
                Address::Follow(id) => ("follow", id),
            };
            check(address.1, page, address.0, &local)?;
            for (_, id) in request.headers.iter() {
                check(*id, page, "headers", &local)?;
            }
            for (_, id) in request.query.iter() {
                check(*id, page, "query", &local)?;
            }
            match &request.body {
                BodyTemplate::Json(json) => {
                    for id in json.templates() {
                        check(id, page, "json", &local)?;
                    }
                }
                BodyTemplate::Fields(fields) => {
                    for (_, id) in fields {
                        check(*id, page, "form", &local)?;
                    }
                }
                BodyTemplate::FieldsFrom(id) => check(*id, page, "form", &local)?,
                BodyTemplate::None => {}
            }
            let mut after: Vec<&str> = vec!["reply", "status"];
            after.extend(page);
            for capture in &request.captures {
                if let CaptureSource::Expr(id) = capture.source {
                    check(id, &after, "capture", &local)?;
                }
                local.insert(capture.name.clone());
            }
            for c in &request.checks {
                if let CheckKind::That(id) = c.kind {
                    check(id, &after, "checks", &local)?;
                }
            }
            if let Some(Repeat {
                until: Some(id), ..
            }) = &request.repeat
            {
                check(*id, &after, "repeat", &local)?;
            }
            defined = local;
        }
        everything.extend(defined);
    }
    if let (Some(e), Some(_)) = (&program.enrollment, &spec.enrollment) {
        let fields = [
            ("issuer_id", Some(e.issuer_id)),
            ("issuer_name", e.issuer_name),
            ("payment_transaction_id", Some(e.payment_transaction_id)),
            ("pay_now", e.pay_now),
            ("confirmed", e.confirmed),
        ];
        for (field, id) in fields {
            let Some(id) = id else { continue };
            if let Some(name) = t.reads(id).into_iter().find(|n| !everything.contains(n)) {
                return Err(at(
                    key(&["enrollment", field]),
                    format!("{field}: no request captures `{name}`"),
                ));
            }
        }
    }
    Ok(())
}

/// A scenario file's section written in the journey file is a common slip: say where it goes.
fn with_hint(message: &str) -> String {
    let scenario_keys = [
        "http",
        "traffic",
        "thresholds",
        "households",
        "exchange",
        "target",
    ];
    match scenario_keys
        .iter()
        .find(|key| message.starts_with(&format!("unknown field `{key}`")))
    {
        Some(key) => {
            format!("{message}; `{key}` belongs in the scenario file, not the journey file")
        }
        None => message.to_string(),
    }
}

/// A field whose value is a template (`until`, `times`): without `{{ }}` it would be constant
/// text, always true (or never a number) — a silent mistake, so it is refused.
fn templated<'t>(text: &'t str, field: &str, key: &KeyPath) -> Result<&'t str, Problem> {
    match text.contains("{{") {
        true => Ok(text),
        false => Err(at(
            key.clone(),
            format!("{field}: a template: write \"{{{{ {} }}}}\"", text.trim()),
        )),
    }
}

/// A field whose value is a bare expression (`that`, `expr`): `{{ }}` around it is refused with
/// what to write instead (minijinja's own message would be a syntax error).
fn bare(text: &str, field: &str, key: &KeyPath) -> Result<(), Problem> {
    let trimmed = text.trim();
    match trimmed
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
    {
        Some(inner) => Err(at(
            key.clone(),
            format!(
                "{field}: a bare expression, without {{{{ }}}}: write \"{}\"",
                inner.trim()
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(extra: &str) -> Scenario {
        let text = format!("[traffic]\nvisits = 10\n{extra}");
        Scenario::parse(Path::new("scenarios/s.toml"), &text).unwrap()
    }

    fn compile_text(text: &str, scenario: &Scenario) -> Result<Program, ScenarioError> {
        let source = Source {
            path: "journeys/j.toml".into(),
            text: text.to_string(),
        };
        compile(&source, scenario)
    }

    const ONE: &str = "[[journeys]]\nname = \"look\"\nrequests = [\"county\"]\n\
                       [requests.county]\nstep = \"browse\"\nurl = \"/c/{{ household.zip }}\"\n";

    #[test]
    fn a_visit_lets_go_of_each_name_after_the_last_request_that_reads_it() {
        let scenario = scenario("");
        let source = Source {
            path: "journeys/embedded.toml".into(),
            text: crate::journey_file::EMBEDDED.to_string(),
        };
        let program = compile(&source, &scenario).unwrap_or_else(|e| panic!("{e}"));
        let confirm = program
            .journeys
            .iter()
            .find(|j| j.name == "confirm")
            .unwrap();
        let live = |request: &str| {
            let at = confirm
                .requests
                .iter()
                .position(|&r| program.requests[r].name == request)
                .unwrap();
            confirm.live_after[at].clone()
        };
        // The pages of plans are read only to choose one; the choice is read until the payment.
        assert!(live("search").contains(&"plans".to_string()));
        assert!(!live("details").contains(&"plans".to_string()));
        assert!(live("details").contains(&"chosen".to_string()));
        // The enrollment row reads the selection when the visit ends.
        assert!(live("status").contains(&"selection".to_string()));
        assert!(!live("status").contains(&"payment_form".to_string()));
        for names in &confirm.live_after {
            assert!(names.is_sorted(), "{names:?}");
        }
    }

    #[test]
    fn a_reply_is_read_only_under_names_the_file_could_read() {
        let text = format!(
            "{ONE}capture.fips = {{ pointer = \"/counties/0/fips~1code\" }}\n\
             checks = [{{ that = \"reply['x-total'] >= vars.min | int\" }}]\n"
        );
        let scenario = scenario("[vars]\nmin = 1\n");
        let program = compile_text(&text, &scenario).unwrap_or_else(|e| panic!("{e}"));
        let keys = &program.reply_keys;
        for read in [
            "counties",
            "fips/code",
            "x-total",
            "min",
            "household",
            "zip",
        ] {
            assert!(keys.contains(read), "{read}");
        }
        for unread in ["benefits", "fips", "code", "", "premium"] {
            assert!(!keys.contains(unread), "{unread}");
        }
    }

    #[test]
    fn a_repeat_count_written_as_a_number_runs_as_that_number() {
        let text = format!("{ONE}repeat = {{ times = 3 }}\n");
        let program = compile_text(&text, &scenario("")).unwrap_or_else(|e| panic!("{e}"));
        let repeat = program.requests[0].repeat.as_ref().unwrap();
        // What the run does with it: a whole number, not the text "3".
        let times = program
            .templates
            .eval(repeat.times, &minijinja::context! {})
            .unwrap();
        assert_eq!(i64::try_from(times).ok(), Some(3));
    }

    #[test]
    fn a_repeat_count_that_is_not_a_whole_number_above_zero_is_refused_at_its_line() {
        for (bad, wanted) in [
            ("0", "`0` is not a whole number of 1 or more"),
            ("-2", "`-2` is not a whole number of 1 or more"),
            ("2.5", "`2.5` is not a whole number of 1 or more"),
            ("\"3\"", "write \"{{ 3 }}\""),
        ] {
            let text = format!("{ONE}repeat = {{ times = {bad} }}\n");
            let err = compile_text(&text, &scenario("")).unwrap_err();
            assert_eq!(err.location.map(|l| l.0), Some(7), "{bad}: {err}");
            assert!(err.message.contains(wanted), "{bad}: {err}");
            assert!(err.message.contains("times: "), "{bad}: {err}");
        }
    }

    #[test]
    fn the_shipped_journey_files_compile() {
        for file in ["journeys/embedded.toml", "journeys/marketplace.toml"] {
            let text = std::fs::read_to_string(file).unwrap();
            let program = compile_text(&text, &scenario("")).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                program.names(),
                ["browse", "eligibility", "enroll", "confirm"],
                "{file}"
            );
            assert_eq!(
                program.steps.names(),
                [
                    "browse",
                    "eligibility",
                    "select",
                    "redirect",
                    "pay",
                    "confirm"
                ],
                "{file}: the funnel's order, as the journeys first use the steps"
            );
        }
    }

    #[test]
    fn steps_take_any_name_the_user_chooses_in_the_order_journeys_use_them() {
        // `zz_login` sorts after `browse` but the journey uses it first.
        let text = "[[journeys]]\nname = \"look\"\nrequests = [\"sign_in\", \"county\"]\n\
                    [requests.county]\nstep = \"browse\"\nurl = \"/c\"\n\
                    [requests.sign_in]\nstep = \"zz_login\"\nurl = \"/login\"\n";
        let program = compile_text(text, &scenario("")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(program.steps.names(), ["zz_login", "browse"]);
        let sign_in = program
            .requests
            .iter()
            .find(|r| r.name == "sign_in")
            .unwrap();
        assert_eq!(program.steps.name(sign_in.step), "zz_login");
        assert_eq!(sign_in.label, "zz_login: sign_in");
    }

    #[test]
    fn a_step_name_that_cannot_be_a_column_or_tag_is_named_at_its_line() {
        for (name, wanted) in [
            ("Log In", "`Log In` is not a step name"),
            ("visit", "`visit` cannot name a step"),
        ] {
            let text = ONE.replace("step = \"browse\"", &format!("step = \"{name}\""));
            let err = compile_text(&text, &scenario("")).unwrap_err();
            assert_eq!(err.location.map(|l| l.0), Some(5), "{err}");
            assert!(err.to_string().starts_with("journeys/j.toml:5:"), "{err}");
            assert!(err.message.contains(wanted), "{err}");
        }
    }

    /// ONE with an `[enrollment]` whose `confirmed` is the insurer's raw status.
    fn enrolling(status_map: &str) -> String {
        format!(
            "{ONE}capture.answer = {{ pointer = \"/status\" }}\n[enrollment]\nissuer_id = \"1\"\n\
             payment_transaction_id = \"2\"\nconfirmed = \"{{{{ answer }}}}\"\n{status_map}"
        )
    }

    #[test]
    fn an_insurers_status_words_map_to_surges() {
        let text = enrolling(
            "status_map = { ACTIVE = \"effectuated\", PENDING = \"awaiting_payment\" }\n",
        );
        let program = compile_text(&text, &scenario("")).unwrap_or_else(|e| panic!("{e}"));
        let enrollment = program.enrollment.as_ref().unwrap();
        assert_eq!(
            enrollment.confirmed_at.as_deref(),
            Some("journeys/j.toml:11")
        );
        let status = |word: &str| enrollment.status(word.to_string());
        assert_eq!(status("ACTIVE"), "effectuated");
        assert_eq!(
            status("active"),
            "effectuated",
            "an insurer's case may vary"
        );
        assert_eq!(status("PENDING"), "awaiting_payment");
        assert_eq!(
            status("Awaiting_834"),
            "awaiting_834",
            "surge's own words pass"
        );
        assert_eq!(
            status("TERMINATED"),
            "TERMINATED",
            "kept, for the report to count"
        );
        assert_eq!(status(""), "");
    }

    #[test]
    fn a_status_mapped_to_a_word_surge_does_not_know_is_refused_at_its_line() {
        let text = enrolling("status_map = { ACTIVE = \"active\" }\n");
        let err = compile_text(&text, &scenario("")).unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(12), "{err}");
        assert!(
            err.message.contains("status_map.ACTIVE: `active` is not one of surge's words (effectuated, awaiting_payment, awaiting_834, unknown)"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_request_is_named_in_the_journey() {
        let text = ONE.replace("[\"county\"]", "[\"county\", \"serach\"]");
        let err = compile_text(&text, &scenario("")).unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(3), "{err}");
        assert!(err.message.contains("no [requests.serach]"), "{err}");
    }

    #[test]
    fn a_capture_used_before_it_is_set_is_refused() {
        let text = ONE.replace("/c/{{ household.zip }}", "/c/{{ county.fips }}");
        let err = compile_text(&text, &scenario("")).unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(6), "{err}");
        assert!(err.message.contains("`county` is not defined"), "{err}");
    }

    #[test]
    fn template_syntax_errors_are_found_at_load() {
        let text = ONE.replace("{{ household.zip }}", "{{ household.zip ");
        let err = compile_text(&text, &scenario("")).unwrap_err();
        assert_eq!(err.location.map(|l| l.0), Some(6), "{err}");
        assert!(err.message.contains("template"), "{err}");
    }

    #[test]
    fn a_bad_pointer_is_refused() {
        let text = format!("{ONE}capture.c = {{ pointer = \"counties/0\" }}\n");
        let err = compile_text(&text, &scenario("")).unwrap_err();
        assert!(err.message.contains("not a JSON pointer"), "{err}");
    }

    #[test]
    fn a_mix_naming_an_unknown_journey_is_located_in_the_scenario() {
        let s = scenario("[traffic.mix]\nlook = 1\nbrowse = 2\n");
        let err = compile_text(ONE, &s).unwrap_err();
        assert!(err.to_string().starts_with("scenarios/s.toml:5:"), "{err}");
        assert!(err.message.contains("no journey `browse`"), "{err}");
    }

    #[test]
    fn the_mix_sets_weights_by_name_and_scenario_vars_win() {
        let text = format!("[vars]\nyear = 2014\n{ONE}");
        let s = scenario("[vars]\nyear = 2026\n[traffic.mix]\nlook = 3\n");
        let program = compile_text(&text, &s).unwrap();
        assert_eq!(program.weights(), [3.0]);
        assert_eq!(program.vars.get_attr("year").unwrap(), Value::from(2026));
    }

    #[test]
    fn a_mix_without_any_weight_is_refused() {
        let err = compile_text(ONE, &scenario("[traffic.mix]\nlook = 0\n")).unwrap_err();
        assert!(err.message.starts_with("mix:"), "{err}");
    }
}
