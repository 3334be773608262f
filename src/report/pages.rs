//! The report's three pages — `index.html`, `summary.md` and the console tables — drawn from one
//! [`Report`] by the templates in `templates/`, compiled into the binary and loaded into one
//! minijinja environment. HTML is autoescaped (only `& < > "`, as the page always escaped); the
//! filters give the console and Markdown what Rust's `format!` gave them, so the pages read as
//! they did before templates.

use std::sync::LazyLock;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Output, State};

use super::charts::CHARTS;
use super::model::Report;
use crate::rundir::CHARTS_DIR;

const HTML: &str = "page.html.j2";
const MARKDOWN: &str = "summary.md.j2";
const TEXT: &str = "tables.txt.j2";

/// A page that could not be drawn: a template that does not fit the model, a bug of surge.
pub type PageError = minijinja::Error;

static PAGES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A block tag on a line of its own leaves no trace; the last newline of a page stays.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_formatter(escape_html);
    env.add_filter("pad", pad);
    env.add_filter("clip", clip);
    env.add_filter("fixed", fixed);
    env.add_filter("md", markdown_cell);
    for (name, source) in [
        (HTML, include_str!("templates/page.html.j2")),
        (MARKDOWN, include_str!("templates/summary.md.j2")),
        (TEXT, include_str!("templates/tables.txt.j2")),
    ] {
        // The templates are part of the binary; the golden tests draw each one.
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("report template {name}: {e:#}"));
    }
    env
});

/// `index.html`, with the charts (caption, SVG) inline.
pub fn html(report: &Report, charts: &[(String, String)]) -> Result<String, PageError> {
    let charts: Vec<Value> = charts
        .iter()
        .map(|(caption, svg)| {
            // The SVG is plotters' own output; drop its XML declaration to inline it.
            let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
            Value::from(vec![
                Value::from(caption.as_str()),
                Value::from_safe_string(body.to_string()),
            ])
        })
        .collect();
    draw(HTML, report, Value::from(charts))
}

/// `summary.md`, naming the chart files (`charts/latency-percentiles.svg`, …).
pub fn markdown(report: &Report) -> Result<String, PageError> {
    let files: Vec<String> = CHARTS
        .iter()
        .map(|(name, _)| format!("{CHARTS_DIR}/{name}.svg"))
        .collect();
    draw(MARKDOWN, report, Value::from(files))
}

/// The tables printed at the end of a run.
pub fn text(report: &Report) -> Result<String, PageError> {
    draw(TEXT, report, Value::from(()))
}

fn draw(name: &str, report: &Report, charts: Value) -> Result<String, PageError> {
    let report = Value::from_serialize(report);
    let context = minijinja::context! { charts => charts, ..report };
    PAGES.get_template(name)?.render(context)
}

/// HTML escaping as the page has always done it: `& < > "`, not `'` or `/`, so a URL reads as
/// itself in the source.
fn escape_html(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    if state.auto_escape() == AutoEscape::Html
        && !value.is_safe()
        && !value.is_none()
        && !value.is_undefined()
    {
        let text = value.to_string();
        let escaped = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        return out.write_str(&escaped).map_err(minijinja::Error::from);
    }
    minijinja::escape_formatter(out, state, value)
}

/// `{:<width$}` (left) or `{:>width$}`: padded with spaces to `width` characters.
fn pad(value: Value, width: usize, left: Option<bool>) -> String {
    let text = value.to_string();
    if left.unwrap_or(false) {
        format!("{text:<width$}")
    } else {
        format!("{text:>width$}")
    }
}

/// The first `width` characters (all of them for 0).
fn clip(value: String, width: usize) -> String {
    match width {
        0 => value,
        _ => value.chars().take(width).collect(),
    }
}

/// `{:.digits$}`: a number with that many decimals.
fn fixed(value: f64, digits: usize) -> String {
    format!("{value:.digits$}")
}

/// A Markdown table cell: a `|` would end it.
fn markdown_cell(value: Value) -> String {
    value.to_string().replace('|', "\\|")
}
