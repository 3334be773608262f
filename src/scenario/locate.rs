//! Where a key sits in a TOML file, from the TOML parser's spans: `traffic.think_time.max_ms` is found
//! in its own table even when another table has a key of the same name.

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step of a path into a TOML document: a key, or an index into an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path into a TOML document, e.g. `traffic.profile[1].at`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// A path of keys only.
    pub fn of(keys: &[&str]) -> KeyPath {
        KeyPath(keys.iter().map(|k| Segment::Key(k.to_string())).collect())
    }

    /// Read a dotted path as people write it: `errors[0].at`, `insurers."11512".dead_link`.
    pub fn parse(text: &str) -> KeyPath {
        let mut segments = Vec::new();
        let mut chars = text.chars().peekable();
        let mut key = String::new();
        let flush = |key: &mut String, segments: &mut Vec<Segment>| {
            if !key.is_empty() {
                segments.push(Segment::Key(std::mem::take(key)));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '.' => flush(&mut key, &mut segments),
                '"' => {
                    for c in chars.by_ref() {
                        if c == '"' {
                            break;
                        }
                        key.push(c);
                    }
                }
                '[' => {
                    flush(&mut key, &mut segments);
                    let index: String = chars.by_ref().take_while(|c| *c != ']').collect();
                    if let Ok(index) = index.trim().parse() {
                        segments.push(Segment::Index(index));
                    }
                }
                c => key.push(c),
            }
        }
        flush(&mut key, &mut segments);
        KeyPath(segments)
    }

    /// The same path under `parent`.
    pub fn under(mut self, parent: &[&str]) -> KeyPath {
        let mut segments: Vec<Segment> =
            parent.iter().map(|k| Segment::Key(k.to_string())).collect();
        segments.append(&mut self.0);
        KeyPath(segments)
    }

    /// Byte offset of the deepest part of the path that the document has (the key itself when it is
    /// there, else the nearest table or array that holds it); `None` if the document does not parse
    /// or has none of it.
    pub fn offset_in(&self, text: &str) -> Option<usize> {
        let document = DeTable::parse(text).ok()?;
        let mut table: &DeTable = document.get_ref();
        let mut value: Option<&DeValue> = None;
        let mut found = None;
        for segment in &self.0 {
            let next = match (segment, value) {
                (Segment::Key(key), None | Some(DeValue::Table(_))) => {
                    if let Some(DeValue::Table(t)) = value {
                        table = t;
                    }
                    table
                        .iter()
                        .find(|(k, _)| k.get_ref().as_ref() == key.as_str())
                        .map(|(k, v)| (k.span().start, v))
                }
                (Segment::Index(i), Some(DeValue::Array(items))) => {
                    items.get(*i).map(|v| (v.span().start, v))
                }
                _ => None,
            };
            let Some((at, next)) = next else { break };
            found = Some(at);
            value = Some(next.get_ref());
        }
        found
    }

    /// The path of the innermost key whose value holds byte `offset` of the document (where a
    /// type error points), e.g. `traffic.visits` for the `"300"` of `visits = "300"`.
    pub fn holding(text: &str, offset: usize) -> Option<KeyPath> {
        let document = DeTable::parse(text).ok()?;
        let mut segments = Vec::new();
        // A table's own span is its header at most: only keys and values say where they are.
        found_in_table(document.get_ref(), offset, &mut segments).then_some(KeyPath(segments))
    }
}

fn found_in_table(table: &DeTable, offset: usize, path: &mut Vec<Segment>) -> bool {
    for (key, value) in table.iter() {
        path.push(Segment::Key(key.get_ref().to_string()));
        if key.span().contains(&offset) || found_in_value(value, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn found_in_value(value: &Spanned<DeValue>, offset: usize, path: &mut Vec<Segment>) -> bool {
    match value.get_ref() {
        DeValue::Table(table) => found_in_table(table, offset, path),
        DeValue::Array(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(Segment::Index(i));
            let found = found_in_value(item, offset, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => value.span().contains(&offset),
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "seed = 1\n[traffic]\nseed = 2\nprofile = [{at = \"08:00\", rate = 1}, {at = \"09:00\", rate = 2}]\n\
[traffic.think_time]\nmax_ms = 3\n[exchange.insurers.\"11512\"]\ndead_link = 0.5\n";

    fn line(path: &str) -> Option<usize> {
        KeyPath::parse(path)
            .offset_in(TEXT)
            .map(|o| line_and_column(TEXT, o).0)
    }

    #[test]
    fn keys_are_found_in_their_own_table() {
        assert_eq!(line("seed"), Some(1));
        assert_eq!(line("traffic.seed"), Some(3));
        assert_eq!(line("traffic.think_time.max_ms"), Some(6));
        assert_eq!(line("exchange.insurers.\"11512\".dead_link"), Some(8));
    }

    #[test]
    fn array_elements_and_missing_keys() {
        assert_eq!(line("traffic.profile[1].at"), Some(4));
        // Missing: the nearest thing the document has.
        assert_eq!(line("traffic.think_time.min_ms"), Some(5));
        assert_eq!(line("nothing.here"), None);
    }

    #[test]
    fn the_key_holding_a_place_is_found() {
        let at = |needle: &str| {
            let offset = TEXT.find(needle).unwrap();
            KeyPath::holding(TEXT, offset).map(|p| p.to_string())
        };
        assert_eq!(at("1\n[traffic]").as_deref(), Some("seed"));
        assert_eq!(at("2\nprofile").as_deref(), Some("traffic.seed"));
        assert_eq!(at("\"09:00\"").as_deref(), Some("traffic.profile[1].at"));
        assert_eq!(
            at("3\n[exchange").as_deref(),
            Some("traffic.think_time.max_ms")
        );
        assert_eq!(
            at("0.5").as_deref(),
            Some("exchange.insurers.11512.dead_link")
        );
    }

    #[test]
    fn paths_print_as_written() {
        assert_eq!(KeyPath::parse("errors[0].at").to_string(), "errors[0].at");
        assert_eq!(
            KeyPath::parse("insurers.\"11512\".dead_link").0,
            KeyPath::of(&["insurers", "11512", "dead_link"]).0
        );
    }
}
