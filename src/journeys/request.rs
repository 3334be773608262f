//! One request of a journey file, performed: `let`, `before`, then (once, or page by page) build the
//! request from its templates, send it, take the captures and judge the checks.

use bytes::Bytes;
use minijinja::Value;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::call::{self, Body, Outgoing, StepFailed};
use super::error::RequestError;
use super::reply::Reply;
use super::scratch;
use super::VisitState;
use crate::journey_file::json;
use crate::journey_file::program::{
    Address, BodyTemplate, CaptureSource, Check, CheckKind, JsonTemplate, Repeat, Request,
};
use crate::journey_file::template::{TemplateId, Templates};

/// The most times one request repeats, whatever `repeat.times` says.
const MAX_REPEAT: i64 = 1000;

pub async fn perform(state: &mut VisitState<'_>, request: &Request) -> Result<(), StepFailed> {
    let program = state.run.program.clone();
    let templates = &program.templates;
    let fail = |why: RequestError| StepFailed {
        step: request.step,
        reason: format!("{}: {why}", request.label),
    };
    for (name, id) in &request.bindings {
        let value = templates.eval(*id, &state.scope()).map_err(|source| {
            fail(RequestError::Let {
                name: name.clone(),
                source,
            })
        })?;
        super::trace::note(state.run, || format!("let {name} = {}", short(&value)));
        state.bindings.insert(name.clone(), json::detach(value));
    }
    // A scope holds the bindings: let it go before anything is bound, or each binding copies them.
    let times = {
        let scope = state.scope();
        for check in &request.before {
            let Some(id) = that_of(check) else { continue };
            let holds = templates
                .eval(id, &scope)
                .map_err(|e| fail(e.into()))?
                .is_true();
            if !holds {
                return Err(fail(RequestError::Check(check.reason.clone())));
            }
        }
        match &request.repeat {
            None => Ok(1),
            Some(repeat) => templates
                .eval(repeat.times, &scope)
                .map_err(|e| fail(RequestError::Repeat(e)))
                .and_then(|value| {
                    i64::try_from(value).map_err(|_| fail(RequestError::RepeatNotWhole))
                })
                .map(|times| times.clamp(0, MAX_REPEAT)),
        }
    };
    // Captures with a default have it as soon as the request is attempted.
    for capture in request.captures.iter().filter(|c| c.default.is_some()) {
        if !capture.append {
            state.bindings.insert(
                capture.name.clone(),
                capture.default.clone().unwrap_or_default(),
            );
        }
    }
    let times = times?;
    let mut collected: Vec<(String, Vec<Value>)> = request
        .captures
        .iter()
        .filter(|c| c.append)
        .map(|c| (c.name.clone(), Vec::new()))
        .collect();
    for page in 0..times {
        if request.repeat.is_some() {
            state.bindings.insert("page", Value::from(page));
        }
        let outgoing = build(state, request, templates).map_err(&fail)?;
        let sent = call::send(state, outgoing).await?;
        let mut verdict = judge(state, request, templates, &sent.reply, &mut collected);
        let mut stop = false;
        if let (
            Ok(()),
            Some(Repeat {
                until: Some(until), ..
            }),
        ) = (&verdict, &request.repeat)
        {
            match templates.eval(*until, &reply_scope(state, &sent.reply)) {
                Ok(value) => stop = value.is_true(),
                Err(e) => verdict = Err(RequestError::Until(e)),
            }
        }
        call::settle(state, sent, &request.label, verdict)?;
        if stop {
            break;
        }
    }
    state.bindings.remove("page");
    for (name, values) in collected {
        state.bindings.insert(name, Value::from(values));
    }
    Ok(())
}

fn that_of(check: &Check) -> Option<TemplateId> {
    match check.kind {
        CheckKind::That(id) => Some(id),
        _ => None,
    }
}

/// The request's URL, headers, query and body, from its templates.
fn build<'r>(
    state: &VisitState<'_>,
    request: &'r Request,
    templates: &Templates,
) -> Result<Outgoing<'r>, RequestError> {
    let scope = state.scope();
    // The URL's text is written into the thread's buffer and parsed from there.
    let url = scratch::with_text(|written| match request.address {
        Address::Target(id) => {
            templates.render_into(id, &scope, written)?;
            state.run.target.resolve(written)
        }
        Address::Follow(id) => {
            templates.render_into(id, &scope, written)?;
            match &state.page {
                Some(page) => page.join(written),
                None => url::Url::parse(written),
            }
            .map_err(|source| RequestError::Follow {
                written: written.clone(),
                source,
            })
        }
    })?;
    // The scenario's headers and query go to the target only, never to another host.
    let access = &state.run.program.access;
    let to_target = url.as_str().starts_with(&state.run.target.base);
    let pairs = |defaults: &[(String, String)], own: &[(String, TemplateId)]| {
        let defaults = defaults.iter().filter(|_| to_target).cloned().map(Ok);
        defaults
            .chain(
                own.iter()
                    .map(|(name, id)| Ok((name.clone(), templates.render(*id, &scope)?))),
            )
            .collect::<Result<Vec<_>, RequestError>>()
    };
    let headers = pairs(&access.headers, &request.headers)?;
    let query = pairs(&access.query, &request.query)?;
    let body = match &request.body {
        BodyTemplate::None => Body::None,
        // Written into the thread's buffer, then copied once at its size.
        BodyTemplate::Json(json) => Body::Json(scratch::with_bytes(|written| {
            let body = JsonBody {
                json,
                templates,
                scope: &scope,
            };
            serde_json::to_writer(&mut *written, &body).map_err(RequestError::JsonBody)?;
            Ok::<_, RequestError>(Bytes::copy_from_slice(written))
        })?),
        BodyTemplate::Fields(fields) => Body::Form(
            fields
                .iter()
                .map(|(name, id)| Ok((name.clone(), templates.render(*id, &scope)?)))
                .collect::<Result<_, RequestError>>()?,
        ),
        BodyTemplate::FieldsFrom(id) => {
            let table = templates.eval(*id, &scope)?;
            let mut fields = Vec::new();
            for key in table.try_iter().map_err(|_| RequestError::NotFields)? {
                let value = table.get_item(&key).map_err(RequestError::Field)?;
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), String::from);
                fields.push((key.to_string(), text));
            }
            Body::Form(fields)
        }
    };
    Ok(Outgoing {
        step: request.step,
        label: &request.label,
        method: request.method,
        url,
        headers,
        query,
        body,
    })
}

/// A JSON body template, serialised straight from the values its templates give.
struct JsonBody<'a> {
    json: &'a JsonTemplate,
    templates: &'a Templates,
    scope: &'a Value,
}

impl JsonBody<'_> {
    fn of<'b>(&'b self, json: &'b JsonTemplate) -> JsonBody<'b> {
        JsonBody {
            json,
            templates: self.templates,
            scope: self.scope,
        }
    }
}

impl Serialize for JsonBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.json {
            JsonTemplate::Literal(value) => value.serialize(serializer),
            JsonTemplate::Value(id) => {
                let value = self
                    .templates
                    .eval(*id, self.scope)
                    .map_err(S::Error::custom)?;
                if value.is_undefined() {
                    return Err(S::Error::custom("undefined value in the JSON body"));
                }
                value.serialize(serializer)
            }
            JsonTemplate::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&self.of(item))?;
                }
                seq.end()
            }
            JsonTemplate::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, &self.of(value))?;
                }
                map.end()
            }
        }
    }
}

/// The scope after a reply: everything so far, plus `reply` (the JSON body) and `status`.
fn reply_scope(state: &VisitState<'_>, reply: &Reply) -> Value {
    state
        .bindings
        .reply_scope(reply.json().clone(), reply.status)
}

/// Status, then captures (kept even when a check fails: the cracks report wants the insurer's
/// answer), then checks.
fn judge(
    state: &mut VisitState<'_>,
    request: &Request,
    templates: &Templates,
    reply: &Reply,
    collected: &mut [(String, Vec<Value>)],
) -> Result<(), RequestError> {
    if !request.expect.contains(&reply.status) {
        return Err(call::status_reason(reply, &request.expect));
    }
    for capture in &request.captures {
        let value = match capture.source {
            CaptureSource::Expr(id) => {
                Some(templates.eval(id, &reply_scope(state, reply))?).filter(|v| !v.is_undefined())
            }
            _ => reply.capture(capture),
        };
        let value = match (value, &capture.default) {
            (Some(value), _) => value,
            (None, Some(default)) => default.clone(),
            (None, None) => {
                // A form looked for in JSON is a journey written for another reply shape.
                let hint = match capture.source {
                    CaptureSource::Form if !reply.json().is_undefined() => {
                        " (no HTML form: the reply is JSON; capture it with a pointer)"
                    }
                    _ => "",
                };
                return Err(RequestError::NotCaptured {
                    name: capture.name.clone(),
                    hint,
                });
            }
        };
        super::trace::note(state.run, || {
            format!("captured {} = {}", capture.name, short(&value))
        });
        if capture.append {
            if let Some((_, list)) = collected.iter_mut().find(|(n, _)| *n == capture.name) {
                match value.try_iter() {
                    Ok(items) if value.kind() == minijinja::value::ValueKind::Seq => {
                        list.extend(items)
                    }
                    _ => list.push(value),
                }
                // Later templates of the same request (the next page, `until`) see the list so far.
                state
                    .bindings
                    .insert(capture.name.clone(), Value::from(list.clone()));
            }
        } else {
            state
                .bindings
                .insert(capture.name.clone(), json::detach(value));
        }
    }
    let scope = reply_scope(state, reply);
    for check in &request.checks {
        reply.check(check, templates, &scope)?;
    }
    Ok(())
}

/// A value in one line, cut short, for `surge trace`.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}
