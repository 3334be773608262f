//! A reply's JSON as templates see it. A page of ten plans is 15 KB of JSON, and a journey reads a
//! handful of its fields: building template values for all of it (every benefit of every plan) on
//! every reply cost more CPU than sending the request. So the body is parsed once into a document
//! that borrows its strings from the body (serde_json_borrow: one pass, one allocation per object
//! or array), and templates see it through objects that convert only the scalars they read.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value;
use serde_json_borrow::{OwnedValue, Value as Json};

/// One step from a node to its child.
#[derive(Debug, Clone)]
enum Segment {
    Key(Arc<str>),
    Index(usize),
}

/// A node of a parsed reply: the document, and the path to the node.
#[derive(Debug)]
struct Node {
    document: Arc<OwnedValue>,
    path: Vec<Segment>,
}

impl Node {
    fn get(&self) -> Option<&Json<'_>> {
        self.path
            .iter()
            .try_fold(self.document.get_value(), |node, segment| {
                match (node, segment) {
                    (Json::Object(map), Segment::Key(key)) => map.get(key),
                    (Json::Array(items), Segment::Index(index)) => items.get(*index),
                    _ => None,
                }
            })
    }

    /// A child's value: a scalar at once, a container as a node of its own (only containers
    /// need their path).
    fn child(&self, json: &Json<'_>, segment: impl FnOnce() -> Segment) -> Value {
        match scalar(json) {
            Some(value) => value,
            None => {
                let mut path = Vec::with_capacity(self.path.len() + 1);
                path.extend_from_slice(&self.path);
                path.push(segment());
                Value::from_object(Node {
                    document: self.document.clone(),
                    path,
                })
            }
        }
    }
}

/// The body as a template value; `None` when it is not JSON.
pub fn document(body: &str) -> Option<Value> {
    let document = OwnedValue::from_str(body).ok()?;
    Some(value_at(&Arc::new(document), Vec::new()))
}

/// The value at a JSON pointer (RFC 6901) of a document; `None` when absent or null.
pub fn pointer(document: &Value, pointer: &str) -> Option<Value> {
    let Some(node) = document.downcast_object_ref::<Node>() else {
        // A body that is one scalar: only the whole of it.
        return (pointer.is_empty() && !document.is_undefined() && !document.is_none())
            .then(|| document.clone());
    };
    let mut path = node.path.clone();
    let mut current = node.get()?;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let (segment, next) = match current {
            Json::Array(items) => {
                let index: usize = token.parse().ok()?;
                (Segment::Index(index), items.get(index)?)
            }
            Json::Object(map) => {
                let next = map.get(&token)?;
                (Segment::Key(token.into()), next)
            }
            _ => return None,
        };
        path.push(segment);
        current = next;
    }
    if matches!(current, Json::Null) {
        return None;
    }
    Some(value_at(&node.document, path))
}

/// Scalars become values; arrays and objects stay in the document, read as they are looked at.
fn value_at(document: &Arc<OwnedValue>, path: Vec<Segment>) -> Value {
    let node = Node {
        document: document.clone(),
        path,
    };
    match node.get().map(scalar) {
        None => Value::UNDEFINED,
        Some(Some(value)) => value,
        Some(None) => Value::from_object(node),
    }
}

/// A scalar's value; `None` for an object or array.
fn scalar(json: &Json<'_>) -> Option<Value> {
    Some(match json {
        Json::Null => Value::from(()),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::Str(s) => Value::from(s.as_ref()),
        Json::Array(_) | Json::Object(_) => return None,
    })
}

impl Object for Node {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.get() {
            Some(Json::Array(_)) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let child = match self.get()? {
            Json::Object(map) => {
                let key = key.as_str()?;
                self.child(map.get(key)?, || Segment::Key(key.into()))
            }
            Json::Array(items) => {
                let index = usize::try_from(key.clone()).ok()?;
                self.child(items.get(index)?, || Segment::Index(index))
            }
            _ => return None,
        };
        Some(child)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.get() {
            Some(Json::Array(items)) => Enumerator::Seq(items.len()),
            Some(Json::Object(map)) => Enumerator::Values(map.keys().map(Value::from).collect()),
            _ => Enumerator::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        document(
            r#"{"plans": [{"id": "A", "premium": 300.5, "issuer": {"id": "11512"}},
                          {"id": "B", "premium": 120, "na\"me": "quoted key"}],
                "total": 2, "none": null}"#,
        )
        .unwrap()
    }

    #[test]
    fn reads_only_what_is_asked_and_behaves_like_values() {
        let d = doc();
        assert_eq!(pointer(&d, "/total"), Some(Value::from(2)));
        assert_eq!(
            pointer(&d, "/plans/0/issuer/id"),
            Some(Value::from("11512"))
        );
        assert_eq!(
            pointer(&d, "/plans/1/na\"me"),
            Some(Value::from("quoted key"))
        );
        assert_eq!(pointer(&d, "/plans/5"), None);
        assert_eq!(pointer(&d, "/none"), None);
        assert!(pointer(&d, "").is_some(), "the whole document");
        let plans = pointer(&d, "/plans").unwrap();
        assert_eq!(plans.len(), Some(2));
        let env = minijinja::Environment::new();
        let expr = env
            .compile_expression(
                "(plans | sort(attribute='premium') | first).id ~ '-' ~ (plans | map(attribute='id') | join(','))",
            )
            .unwrap();
        let out = expr.eval(minijinja::context! { plans }).unwrap();
        assert_eq!(out.as_str(), Some("B-A,B"));
        let json = serde_json::to_value(pointer(&d, "/plans/0/issuer").unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"id": "11512"}));
    }

    #[test]
    fn a_body_that_is_not_json_is_no_document() {
        assert!(document("<html>").is_none());
        assert!(document("{\"broken\": ").is_none());
        assert_eq!(document("42").unwrap(), Value::from(42));
    }
}
