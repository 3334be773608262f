//! A reply's JSON as templates see it. A page of ten plans is 15 KB of JSON, and a journey reads a
//! handful of its fields: building template values for all of it (every benefit of every plan) on
//! every reply cost more CPU than sending the request, and so did one allocation per object. So the
//! body is read once by serde_json into a flat tape (one entry per value, one allocation for the
//! whole document; strings stay in the body's text), and templates see it through nodes that
//! convert only the scalars they read. Members under a name nothing in the journey file reads (a
//! plan's deductibles and benefits) are only skipped over, and parsed if something reaches them
//! after all.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::program::ReplyKeys;

/// A parsed reply: its text, one entry per value in document order, and the few strings that had
/// escapes, unescaped. Documents live as long as the visits that captured from them, thousands at
/// once at a morning's peak: an entry is 32 bytes (offsets are `u32`; a body over 4 GiB is not read).
struct Document {
    /// The reply's own text, shared with it rather than copied.
    text: Arc<String>,
    tape: Vec<Entry>,
    unescaped: Vec<Box<str>>,
    skipped: Vec<Skipped>,
}

/// A member skipped unread: where its JSON lies in the text, and its value once something asks.
struct Skipped {
    start: u32,
    len: u32,
    value: OnceLock<Value>,
}

/// One value of the document, with its key when it is an object's member. A container's members
/// follow it; `end` is the index after its last descendant, so the next sibling of entry `i` is at
/// `tape[i].end`.
struct Entry {
    item: Item,
    key: Text,
    end: u32,
}

#[derive(Clone, Copy)]
enum Item {
    Null,
    Bool(bool),
    Int(i64),
    Unsigned(u64),
    Float(f64),
    Str(Text),
    Object,
    Array,
    /// Index into the document's skipped members.
    Skipped(u32),
}

// Thousands of visits hold documents at a morning's peak: keep entries small.
const _: () = assert!(std::mem::size_of::<Entry>() <= 32);

/// A string of the document: where it lies in the text, or which unescaped copy it is.
#[derive(Clone, Copy)]
enum Text {
    /// An array's item has no key.
    None,
    Span {
        start: u32,
        len: u32,
    },
    Unescaped(u32),
}

impl Document {
    fn text(&self, text: Text) -> Option<&str> {
        match text {
            Text::None => None,
            Text::Span { start, len } => Some(&self.text[start as usize..(start + len) as usize]),
            Text::Unescaped(i) => Some(&self.unescaped[i as usize]),
        }
    }

    fn skipped_text(&self, at: u32) -> Text {
        let Skipped { start, len, .. } = self.skipped[at as usize];
        Text::Span { start, len }
    }

    /// The indices of entry `at`'s members.
    fn members(&self, at: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.tape[at].end as usize;
        let next = move |&i: &usize| Some(self.tape[i].end as usize).filter(|&next| next < end);
        std::iter::successors(Some(at + 1).filter(|&first| first < end), next)
    }
}

/// An object or array of a reply, as templates see it.
struct Node {
    document: Arc<Document>,
    at: usize,
    /// An array's items, found once when first indexed.
    items: OnceLock<Vec<usize>>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<JSON node {}>", self.at)
    }
}

/// The body as a template value, its members under names not in `keys` skipped until read;
/// `None` when it is not JSON.
pub fn document(body: &str, keys: &ReplyKeys) -> Option<Value> {
    shared_document(&Arc::new(body.to_string()), keys)
}

/// A text for a document to hold without copying it. A document can outlive its reply in a visit's
/// captures, thousands at once: it keeps no more than an eighth of spare room (a body read to its
/// declared length has none; a part copied out grew as it was written).
pub fn document_text(mut text: String) -> Arc<String> {
    if text.capacity() - text.len() > text.len() / 8 {
        text.shrink_to_fit();
    }
    Arc::new(text)
}

/// As [`document`], the document holding the body itself (a reply's, from [`document_text`])
/// rather than a copy.
pub fn shared_document(shared: &Arc<String>, keys: &ReplyKeys) -> Option<Value> {
    let body = shared.as_str();
    u32::try_from(body.len()).ok()?;
    let mut tape = Vec::with_capacity(body.len() / 24);
    let mut unescaped = Vec::new();
    let mut skipped = Vec::new();
    let mut de = serde_json::Deserializer::from_str(body);
    Record {
        body,
        keys,
        tape: &mut tape,
        unescaped: &mut unescaped,
        skipped: &mut skipped,
        key: Text::None,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    let document = Arc::new(Document {
        text: shared.clone(),
        tape,
        unescaped,
        skipped,
    });
    Some(value_at(&document, 0))
}

/// The value without the rest of its reply: a part less than half the reply it came from (one
/// plan of a page of plans) is copied into a document of its own, so that keeping it does not keep
/// the whole page; anything else is returned as it is.
pub fn detach(value: Value) -> Value {
    let Some(node) = value.downcast_object_ref::<Node>() else {
        return value;
    };
    let document = &node.document;
    let part = node.at..document.tape[node.at].end as usize;
    if part.len() * 2 > document.tape.len() {
        return value;
    }
    let mut text = String::new();
    let mut unescaped = Vec::new();
    let mut skipped = Vec::new();
    let mut copy = |written: Text| match (written, document.text(written)) {
        (Text::Unescaped(_), Some(s)) => {
            unescaped.push(Box::from(s));
            Text::Unescaped(unescaped.len() as u32 - 1)
        }
        (Text::Span { len, .. }, Some(s)) => {
            let start = text.len() as u32;
            text.push_str(s);
            Text::Span { start, len }
        }
        _ => Text::None,
    };
    let offset = part.start as u32;
    let tape: Vec<Entry> = document.tape[part]
        .iter()
        .enumerate()
        .map(|(i, entry)| Entry {
            item: match entry.item {
                Item::Str(s) => Item::Str(copy(s)),
                Item::Skipped(at) => {
                    let Text::Span { start, len } = copy(document.skipped_text(at)) else {
                        unreachable!("a span copies to a span")
                    };
                    skipped.push(Skipped::new(start, len));
                    Item::Skipped(skipped.len() as u32 - 1)
                }
                item => item,
            },
            // The part's own key belongs to the document it was taken from.
            key: if i == 0 { Text::None } else { copy(entry.key) },
            end: entry.end - offset,
        })
        .collect();
    let document = Arc::new(Document {
        text: document_text(text),
        tape,
        unescaped,
        skipped,
    });
    value_at(&document, 0)
}

/// The reference tokens of a JSON pointer (RFC 6901), unescaped: `/a~1b/0` is `a/b`, `0`. A token
/// without escapes is borrowed: captures look pointers up on every reply.
pub fn pointer_tokens(pointer: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    let tokens = pointer.split('/').skip(1);
    tokens.map(|token| match token.contains('~') {
        true => Cow::Owned(token.replace("~1", "/").replace("~0", "~")),
        false => Cow::Borrowed(token),
    })
}

/// The value at a JSON pointer (RFC 6901) of a document; `None` when absent or null.
pub fn pointer(document: &Value, pointer: &str) -> Option<Value> {
    let mut current = document.clone();
    for token in pointer_tokens(pointer) {
        let node = current.downcast_object::<Node>()?;
        let key = match node.is_array() {
            true => Value::from(token.parse::<usize>().ok()?),
            false => Value::from(token.as_ref()),
        };
        current = node.get_value(&key)?;
    }
    (!current.is_undefined() && !current.is_none()).then_some(current)
}

/// The value at a path of member names (`["issuer", "id"]`) when `value` is a reply's JSON, found
/// on the tape without making a value of each step; `None` when it is not JSON or a step finds
/// nothing (the caller then walks it step by step, to meet what is missing as minijinja would).
pub fn at_path(value: &Value, path: &[String]) -> Option<Value> {
    let node = value.downcast_object_ref::<Node>()?;
    let document = &node.document;
    let mut at = node.at;
    for (step, name) in path.iter().enumerate() {
        match document.tape[at].item {
            Item::Object => {}
            Item::Skipped(_) => return at_path(&value_at(document, at), &path[step..]),
            _ => return None,
        }
        let key = |&member: &usize| document.text(document.tape[member].key) == Some(name);
        at = document.members(at).find(key)?;
    }
    Some(value_at(document, at))
}

/// Entry `at` as a value: a scalar at once, a container as a node read on demand.
fn value_at(document: &Arc<Document>, at: usize) -> Value {
    match &document.tape[at].item {
        Item::Null => Value::from(()),
        Item::Bool(b) => Value::from(*b),
        Item::Int(i) => Value::from(*i),
        Item::Unsigned(u) => Value::from(*u),
        Item::Float(f) => Value::from(*f),
        Item::Str(text) => Value::from(document.text(*text).unwrap_or_default()),
        Item::Object | Item::Array => Value::from_object(Node {
            document: document.clone(),
            at,
            items: OnceLock::new(),
        }),
        Item::Skipped(i) => {
            let skipped = &document.skipped[*i as usize];
            let read = || {
                let text = document.text(document.skipped_text(*i)).unwrap_or_default();
                document_of(text).unwrap_or(Value::UNDEFINED)
            };
            skipped.value.get_or_init(read).clone()
        }
    }
}

/// A skipped member's JSON, read in full now that something asks for it.
fn document_of(text: &str) -> Option<Value> {
    document(text, &ReplyKeys::everything())
}

impl Skipped {
    fn new(start: u32, len: u32) -> Self {
        Skipped {
            start,
            len,
            value: OnceLock::new(),
        }
    }
}

impl Node {
    fn is_array(&self) -> bool {
        matches!(self.document.tape[self.at].item, Item::Array)
    }

    fn items(&self) -> &[usize] {
        self.items
            .get_or_init(|| self.document.members(self.at).collect())
    }
}

impl Object for Node {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.is_array() {
            true => ObjectRepr::Seq,
            false => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let document = &self.document;
        let at = match self.is_array() {
            true => *self.items().get(usize::try_from(key.clone()).ok()?)?,
            false => {
                let key = key.as_str()?;
                document
                    .members(self.at)
                    .find(|&i| document.text(document.tape[i].key) == Some(key))?
            }
        };
        Some(value_at(document, at))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let document = &self.document;
        match self.is_array() {
            true => Enumerator::Seq(self.items().len()),
            false => Enumerator::Values(
                document
                    .members(self.at)
                    .filter_map(|i| document.text(document.tape[i].key))
                    .map(Value::from)
                    .collect(),
            ),
        }
    }
}

/// Reads one value into the tape (and its members after it, recursively).
struct Record<'t, 'b> {
    body: &'b str,
    keys: &'b ReplyKeys,
    tape: &'t mut Vec<Entry>,
    unescaped: &'t mut Vec<Box<str>>,
    skipped: &'t mut Vec<Skipped>,
    key: Text,
}

impl Record<'_, '_> {
    fn scalar<E>(self, item: Item) -> Result<(), E> {
        let end = self.tape.len() as u32 + 1;
        self.tape.push(Entry {
            key: self.key,
            item,
            end,
        });
        Ok(())
    }

    /// Where a string the parser borrowed from the body lies in it (the body is under 4 GiB).
    fn span(body: &str, borrowed: &str) -> Text {
        let start = borrowed.as_ptr() as usize - body.as_ptr() as usize;
        Text::Span {
            start: start as u32,
            len: borrowed.len() as u32,
        }
    }

    /// Keeps a string that had escapes.
    fn keep(unescaped: &mut Vec<Box<str>>, text: &str) -> Text {
        unescaped.push(text.into());
        Text::Unescaped(unescaped.len() as u32 - 1)
    }

    /// Opens a container; returns where its entry is, to close it when its members are read.
    fn open(&mut self, item: Item) -> usize {
        self.tape.push(Entry {
            key: std::mem::replace(&mut self.key, Text::None),
            item,
            end: 0,
        });
        self.tape.len() - 1
    }

    fn member(&mut self, key: Text) -> Record<'_, '_> {
        Record {
            body: self.body,
            keys: self.keys,
            tape: &mut *self.tape,
            unescaped: &mut *self.unescaped,
            skipped: &mut *self.skipped,
            key,
        }
    }

    /// Whether the member under `key` is read now or skipped. Only objects and arrays are worth
    /// skipping, and looking the name up costs more than reading a scalar: the body is peeked at
    /// first (a key without escapes lies in it, so its value is just after its closing quote).
    fn wanted(&self, key: Text) -> bool {
        let Text::Span { start, len } = key else {
            return true;
        };
        let after = &self.body.as_bytes()[(start + len) as usize..];
        let mut value = after.iter().skip(1).filter(|b| !b.is_ascii_whitespace());
        if value.next() != Some(&b':') || !matches!(value.next(), Some(b'{' | b'[')) {
            return true;
        }
        self.keys
            .contains(&self.body[start as usize..(start + len) as usize])
    }

    /// A member skipped: its JSON's place in the body, to read if something asks.
    fn skip(&mut self, key: Text, json: &str) {
        let Text::Span { start, len } = Self::span(self.body, json) else {
            unreachable!("a span is a span")
        };
        self.skipped.push(Skipped::new(start, len));
        self.tape.push(Entry {
            key,
            item: Item::Skipped(self.skipped.len() as u32 - 1),
            end: self.tape.len() as u32 + 1,
        });
    }
}

impl<'de> DeserializeSeed<'de> for Record<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Record<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.scalar(Item::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.scalar(Item::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        self.scalar(Item::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        match i64::try_from(u) {
            Ok(i) => self.scalar(Item::Int(i)),
            Err(_) => self.scalar(Item::Unsigned(u)),
        }
    }

    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        self.scalar(Item::Float(f))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<(), E> {
        let text = Self::span(self.body, s);
        self.scalar(Item::Str(text))
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        let text = Self::keep(self.unescaped, s);
        self.scalar(Item::Str(text))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let at = self.open(Item::Object);
        while let Some(key) = map.next_key_seed(KeySeed {
            body: self.body,
            unescaped: &mut *self.unescaped,
        })? {
            if self.wanted(key) {
                map.next_value_seed(self.member(key))?;
            } else {
                let json: &'de serde_json::value::RawValue = map.next_value()?;
                self.skip(key, json.get());
            }
        }
        self.tape[at].end = self.tape.len() as u32;
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let at = self.open(Item::Array);
        while seq.next_element_seed(self.member(Text::None))?.is_some() {}
        self.tape[at].end = self.tape.len() as u32;
        Ok(())
    }
}

/// A key, borrowed from the body when it has no escapes (serde's own `Cow<str>` always copies).
struct KeySeed<'t, 'b> {
    body: &'b str,
    unescaped: &'t mut Vec<Box<str>>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = Text;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Text, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Text, E> {
        Ok(Record::span(self.body, key))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Text, E> {
        Ok(Record::keep(self.unescaped, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        document_of(
            r#"{"plans": [{"id": "A", "premium": 300.5, "issuer": {"id": "11512"}},
                          {"id": "B", "premium": 120, "na\"me": "quoted key", "say": "a\"b"}],
                "total": 2, "none": null, "big": 18446744073709551615, "neg": -3e2}"#,
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
        assert_eq!(pointer(&d, "/plans/1/say"), Some(Value::from("a\"b")));
        assert_eq!(pointer(&d, "/big"), Some(Value::from(u64::MAX)));
        assert_eq!(pointer(&d, "/neg"), Some(Value::from(-300.0)));
        assert_eq!(pointer(&d, "/plans/5"), None);
        assert_eq!(pointer(&d, "/total/0"), None, "no path through a scalar");
        assert_eq!(pointer(&d, "/none"), None);
        assert!(pointer(&d, "").is_some(), "the whole document");
        let escaped = document_of(r#"{"a/b": {"~x": 1, "x": 2}}"#).unwrap();
        assert_eq!(pointer(&escaped, "/a~1b/~0x"), Some(Value::from(1)));
        assert_eq!(pointer(&escaped, "/a~1b/x"), Some(Value::from(2)));
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
        let keys: Vec<String> = d.try_iter().unwrap().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["plans", "total", "none", "big", "neg"]);
    }

    #[test]
    fn a_small_part_detached_reads_the_same_and_holds_only_itself() {
        let d = doc();
        let plan = pointer(&d, "/plans/1").unwrap();
        let detached = detach(plan.clone());
        let whole = |v: &Value| serde_json::to_value(v).unwrap();
        assert_eq!(whole(&detached), whole(&plan));
        assert_eq!(pointer(&detached, "/say"), Some(Value::from("a\"b")));
        let own = detached.downcast_object_ref::<Node>().unwrap();
        assert_eq!(own.document.tape.len(), 5, "the plan's own values only");
        assert!(own.document.text.len() < 40, "{:?}", own.document.text);
        assert_eq!(
            own.document.text.capacity(),
            own.document.text.len(),
            "no spare room kept"
        );
        // Most of the document: kept as a view, not copied.
        let plans = pointer(&d, "/plans").unwrap();
        let kept = detach(plans.clone());
        let view = kept.downcast_object_ref::<Node>().unwrap();
        assert!(Arc::ptr_eq(
            &view.document,
            &plans.downcast_object_ref::<Node>().unwrap().document
        ));
        assert_eq!(detach(Value::from(3)), Value::from(3));
    }

    #[test]
    fn members_no_one_reads_are_skipped_yet_read_the_same_when_reached() {
        let body = r#"{"plans": [{"id": "A", "benefits": [{"name": "x\"y", "covered": true}],
                       "issuer": {"id": "1", "na\u006de": "Tar Heel"}, "premium": 2.5},
                                 {"id": "B", "premium": 1}],
                       "ranges": {"premiums": {"min": 1, "max": 9}}, "total": 1}"#;
        let keys = ReplyKeys::of(["plans", "id", "premium", "total"].map(String::from));
        let lazy = document(body, &keys).unwrap();
        let full = document_of(body).unwrap();
        let node = |v: &Value| v.downcast_object_ref::<Node>().unwrap().document.clone();
        // Read: plans, its plans, ids, premiums, total; skipped: benefits, issuer, ranges.
        assert_eq!(
            node(&lazy).tape.len(),
            12,
            "skipped members are one entry each"
        );
        assert_eq!(node(&lazy).skipped.len(), 3);
        let whole = |v: &Value| serde_json::to_value(v).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            whole(&lazy),
            parsed,
            "a skipped member is read when the whole is"
        );
        assert_eq!(whole(&lazy), whole(&full));
        for path in [
            "/plans/0/issuer/name",
            "/plans/0/benefits/0/name",
            "/ranges/premiums/max",
            "/total",
        ] {
            assert_eq!(pointer(&lazy, path), pointer(&full, path), "{path}");
        }
        assert_eq!(
            pointer(&lazy, "/plans/0/benefits/0/name"),
            Some(Value::from("x\"y"))
        );
        let plan = detach(pointer(&lazy, "/plans/0").unwrap());
        assert!(!Arc::ptr_eq(&node(&plan), &node(&lazy)), "copied out");
        assert_eq!(
            whole(&plan),
            parsed["plans"][0],
            "a detached part keeps its skipped members"
        );
        assert_eq!(pointer(&plan, "/issuer/id"), Some(Value::from("1")));
    }

    #[test]
    fn a_body_that_is_not_json_is_no_document() {
        assert!(document_of("<html>").is_none());
        assert!(document_of("{\"broken\": ").is_none());
        assert!(document_of("{\"a\": 1} trailing").is_none());
        assert_eq!(document_of(" 42 ").unwrap(), Value::from(42));
        assert_eq!(
            pointer(&document_of("\"x\"").unwrap(), ""),
            Some(Value::from("x"))
        );
    }
}
