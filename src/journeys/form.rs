//! Just enough HTML to follow a form, as a browser does for the Pay Now redirect: find the first
//! `<form>`, its `action`, and its `<input name=… value=…>` fields.
//!
//! The pages involved are small machine-made forms, so a tag scanner is enough; a full HTML5 parser
//! would cost build time and CPU per visit for nothing.

/// A form as a browser would submit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub action: String,
    pub method: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The value of the first field with this name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The first form of an HTML page, or `None` when the page has no form with an action.
pub fn first_form(html: &str) -> Option<Form> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<form")?;
    let end = lower[start..]
        .find("</form")
        .map_or(html.len(), |i| start + i);
    let (open_tag, _) = tag_at(html, start)?;
    let form_attributes = attributes(open_tag);
    let action = attribute(&form_attributes, "action")?.to_string();
    let method = attribute(&form_attributes, "method")
        .unwrap_or("get")
        .to_ascii_lowercase();
    let mut fields = Vec::new();
    let mut cursor = start;
    while let Some(offset) = lower[cursor..end].find("<input") {
        let at = cursor + offset;
        let Some((tag, next)) = tag_at(html, at) else {
            break;
        };
        let input = attributes(tag);
        if let Some(name) = attribute(&input, "name") {
            let value = attribute(&input, "value").unwrap_or("");
            fields.push((name.to_string(), value.to_string()));
        }
        cursor = next;
    }
    Some(Form {
        action,
        method,
        fields,
    })
}

/// The text of the tag starting at `at` (without `<` and `>`), and the offset just past it.
fn tag_at(html: &str, at: usize) -> Option<(&str, usize)> {
    let close = html[at..].find('>')?;
    Some((&html[at + 1..at + close], at + close + 1))
}

/// `name="value"` pairs of a tag; names lower-cased, values unescaped.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            break;
        }
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let Some(after_eq) = rest.strip_prefix('=') else {
            out.push((name, String::new()));
            continue;
        };
        let after_eq = after_eq.trim_start();
        let (value, remaining) = match after_eq.chars().next() {
            Some(quote @ ('"' | '\'')) => match after_eq[1..].find(quote) {
                Some(close) => (&after_eq[1..1 + close], &after_eq[close + 2..]),
                None => (&after_eq[1..], ""),
            },
            _ => {
                let stop = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
                (&after_eq[..stop], &after_eq[stop..])
            }
        };
        out.push((name, unescape(value)));
        rest = remaining;
    }
    out
}

fn attribute<'a>(attributes: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn unescape(value: &str) -> String {
    if !value.contains('&') {
        return value.to_string();
    }
    value
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_auto_submit_form() {
        let html = r#"<html><body onload="document.forms[0].submit()">
            <FORM method="POST" action="http://127.0.0.1:9/issuers/11512/pay-now?a=1&amp;b=2">
              <input type="hidden" name="SAMLResponse" value="PHNhbWw+"/>
              <input type='hidden' name='RelayState' value='0000000000123'>
              <noscript><input type="submit" value="Continue"></noscript>
            </form></body></html>"#;
        let form = first_form(html).unwrap();
        assert_eq!(
            form.action,
            "http://127.0.0.1:9/issuers/11512/pay-now?a=1&b=2"
        );
        assert_eq!(form.method, "post");
        assert_eq!(form.field("SAMLResponse"), Some("PHNhbWw+"));
        assert_eq!(form.field("RelayState"), Some("0000000000123"));
        assert_eq!(form.fields.len(), 2, "unnamed submit button is not a field");
    }

    #[test]
    fn page_without_form_is_none() {
        assert_eq!(
            first_form("<html><p>Sorry, the system is down.</p></html>"),
            None
        );
        assert_eq!(first_form("<form method=post><input name=a></form>"), None);
    }

    #[test]
    fn truncated_page_does_not_panic() {
        assert!(first_form("<form action=\"/x\"><input name=\"a\" value=\"").is_some());
        assert_eq!(first_form("<form action="), None);
    }
}
