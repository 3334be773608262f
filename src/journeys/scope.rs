//! What a visit's templates see: its bindings (`visit`, `household`, `vars`, `data`, captures),
//! and after a reply `reply` and `status`. A scope is a minijinja object over the visit's bindings,
//! shared, not copied: making one costs a reference count, however much the visit has captured.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object};
use minijinja::Value;

/// A visit's names and their values, copied only when changed while a scope still holds them.
#[derive(Debug, Clone, Default)]
pub struct Bindings(Arc<BTreeMap<String, Value>>);

impl Bindings {
    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        Arc::make_mut(&mut self.0).insert(name.into(), value);
    }

    pub fn remove(&mut self, name: &str) {
        if self.0.contains_key(name) {
            Arc::make_mut(&mut self.0).remove(name);
        }
    }

    /// Let go of every name not in `live` (sorted).
    pub fn keep_only(&mut self, live: &[String]) {
        let is_live = |name: &String| live.binary_search(name).is_ok();
        if !self.0.keys().all(is_live) {
            Arc::make_mut(&mut self.0).retain(|name, _| is_live(name));
        }
    }

    /// The scope templates evaluate in before a reply.
    pub fn scope(&self) -> Value {
        Value::from_object(Scope {
            bindings: self.0.clone(),
            reply: None,
        })
    }

    /// The scope after a reply: `reply` (its JSON) and `status` besides the bindings.
    pub fn reply_scope(&self, reply: Value, status: u16) -> Value {
        Value::from_object(Scope {
            bindings: self.0.clone(),
            reply: Some((reply, Value::from(status))),
        })
    }
}

#[derive(Debug)]
struct Scope {
    bindings: Arc<BTreeMap<String, Value>>,
    reply: Option<(Value, Value)>,
}

impl Object for Scope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        match (&self.reply, key) {
            (Some((reply, _)), "reply") => Some(reply.clone()),
            (Some((_, status)), "status") => Some(status.clone()),
            _ => self.bindings.get(key).cloned(),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self
            .bindings
            .keys()
            .map(|k| Value::from(k.as_str()))
            .collect();
        if self.reply.is_some() {
            keys.extend([Value::from("reply"), Value::from("status")]);
        }
        Enumerator::Values(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_no_longer_read_are_let_go_and_a_scope_taken_before_keeps_them() {
        let mut bindings = Bindings::default();
        for name in ["chosen", "plans", "visit"] {
            bindings.insert(name, Value::from(name));
        }
        let before = bindings.scope();
        bindings.keep_only(&["chosen".to_string(), "visit".to_string()]);
        let after = bindings.scope();
        assert!(after.get_attr("plans").unwrap().is_undefined());
        assert_eq!(after.get_attr("chosen").unwrap(), Value::from("chosen"));
        assert_eq!(before.get_attr("plans").unwrap(), Value::from("plans"));
    }
}
