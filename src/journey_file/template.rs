//! Templates of a journey file, compiled once with minijinja.
//!
//! A string that is exactly one `{{ expression }}` is an expression and keeps its value's type (a
//! number stays a number in a JSON body, a captured form stays a table); any other string with
//! `{{ }}` is rendered as text; a string without is a literal. `${env:NAME}` is replaced at load by
//! the environment variable's value, which is then a secret: [`Templates::secrets`] lists them so
//! every output can redact them. Undefined values are errors (minijinja's strict mode), so a typo
//! fails the step instead of sending an empty string.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{Environment, Error, ErrorKind, Expression, Template, UndefinedBehavior, Value};

use super::native::Native;
use crate::scenario::env::{self, EnvError};

/// Why a template cannot be compiled or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// minijinja's error in one line, without its debug dump.
    #[error("{}", describe(.0))]
    Minijinja(#[from] Error),
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("undefined value")]
    Undefined,
}

/// Index of a template in its [`Templates`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateId(usize);

enum Pending {
    Literal(String),
    Text(String),
    Expr(String),
}

enum Compiled {
    Literal(Value),
    Text(Template<'static, 'static>),
    Expr(Expression<'static, 'static>),
    /// An expression evaluated natively (paths, comparisons, arithmetic, the common filters: see
    /// `native`); anything it leaves (an undefined name, a global, an error) goes to the expression.
    Native(Native, Expression<'static, 'static>),
    /// Text with only dotted paths in it (`/plans/{{ chosen.id }}`), printed by lookups; anything
    /// the lookups do not find goes to the template.
    Pieces(Vec<Piece>, Template<'static, 'static>),
}

enum Piece {
    Text(String),
    /// A dotted path, looked up as native expressions look paths up.
    Path(Native),
}

/// Collects the templates of a file, checking each as it comes.
pub struct Builder {
    env: Environment<'static>,
    pending: Vec<Pending>,
    secrets: BTreeSet<String>,
    words: BTreeSet<String>,
    read_env: fn(&str) -> Option<String>,
}

/// Every template of a journey file, compiled.
pub struct Templates {
    compiled: Vec<Compiled>,
    secrets: Vec<String>,
    words: Vec<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Templates({})", self.compiled.len())
    }
}

/// The environment every template is compiled in: strict about undefined values, with two filters
/// journeys need (`pick`, `join_url`).
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("pick", pick);
    env.add_filter("join_url", join_url);
    env
}

/// `plans | pick(visit.pick)`: the item at a fraction in [0, 1) of the list (how far down a
/// visitor goes), clamped to the list.
pub fn pick(list: Value, fraction: f64) -> Result<Value, Error> {
    let len = list
        .len()
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "pick needs a list"))?;
    if len == 0 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "pick from an empty list",
        ));
    }
    let index = ((fraction.clamp(0.0, 1.0) * len as f64) as usize).min(len - 1);
    list.get_item(&Value::from(index))
}

/// `landing | join_url("enrollments/" ~ id)`: a URL resolved against another, as a browser would.
fn join_url(base: String, relative: String) -> Result<String, Error> {
    let base = url::Url::parse(&base).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("join_url: {base} ({e})"),
        )
    })?;
    base.join(&relative).map(|u| u.to_string()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("join_url: {relative} ({e})"),
        )
    })
}

fn std_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Default for Builder {
    fn default() -> Self {
        Self::new(std_env)
    }
}

impl Builder {
    /// `read_env` reads environment variables (tests pass their own).
    pub fn new(read_env: fn(&str) -> Option<String>) -> Self {
        Self {
            env: environment(),
            pending: Vec::new(),
            secrets: BTreeSet::new(),
            words: BTreeSet::new(),
            read_env,
        }
    }

    /// Check and keep one template; the error says what is wrong with it.
    pub fn add(&mut self, source: &str) -> Result<TemplateId, TemplateError> {
        words(source, &mut self.words);
        let source = self.substitute_env(source)?;
        let pending = match native_expression(&source) {
            Some(expr) => {
                self.env
                    .compile_expression(expr)
                    .map_err(TemplateError::from)?;
                Pending::Expr(expr.to_string())
            }
            None if source.contains("{{") || source.contains("{%") => {
                self.env
                    .template_from_str(&source)
                    .map_err(TemplateError::from)?;
                Pending::Text(source)
            }
            None => Pending::Literal(source),
        };
        self.pending.push(pending);
        Ok(TemplateId(self.pending.len() - 1))
    }

    /// Replace each `${env:NAME}` by the variable's value, remembered as a secret.
    fn substitute_env(&mut self, source: &str) -> Result<String, TemplateError> {
        let (read_env, secrets) = (self.read_env, &mut self.secrets);
        Ok(env::expand(source, |name| {
            let value = read_env(name)?;
            if !value.is_empty() {
                secrets.insert(value.clone());
            }
            Some(value)
        })?)
    }

    /// Compile everything kept. The environment lives as long as the process: a journey file is
    /// loaded once per run.
    pub fn finish(self) -> Result<Templates, TemplateError> {
        let env: &'static Environment<'static> = Box::leak(Box::new(self.env));
        let compiled = self
            .pending
            .into_iter()
            .map(|pending| {
                Ok(match pending {
                    Pending::Literal(text) => Compiled::Literal(Value::from(text)),
                    Pending::Text(source) => {
                        let pieces = pieces(&source);
                        let template = env
                            .template_from_str(leak(source))
                            .map_err(TemplateError::from)?;
                        match pieces {
                            Some(pieces) => Compiled::Pieces(pieces, template),
                            None => Compiled::Text(template),
                        }
                    }
                    Pending::Expr(source) => {
                        let native = Native::compile(&source);
                        let expr = env
                            .compile_expression(leak(source))
                            .map_err(TemplateError::from)?;
                        match native {
                            Some(native) => Compiled::Native(native, expr),
                            None => Compiled::Expr(expr),
                        }
                    }
                })
            })
            .collect::<Result<_, TemplateError>>()?;
        Ok(Templates {
            compiled,
            secrets: self.secrets.into_iter().collect(),
            words: self.words.into_iter().collect(),
        })
    }
}

/// Every word of a template (`plans`, `issuer` and `id` in `plans | map(attribute='issuer.id')`),
/// and every quoted literal whole (`reply['x-total']`): the names it could read of a reply.
fn words(source: &str, into: &mut BTreeSet<String>) {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    into.extend(
        source
            .split(|c: char| !is_word(c))
            .filter(|word| !word.is_empty())
            .map(str::to_string),
    );
    for quote in ['\'', '"'] {
        let quoted = source.split(quote).skip(1).step_by(2);
        into.extend(quoted.map(str::to_string));
    }
}

fn leak(source: String) -> &'static str {
    Box::leak(source.into_boxed_str())
}

/// Whether `source` is names joined by dots (`household.zip`).
fn dotted_path(source: &str) -> bool {
    let name = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    source.split('.').all(name)
}

/// `a/{{ b.c }}/d` as text, path, text; `None` when anything but dotted paths is inside `{{ }}`
/// (or there are statements or comments).
fn pieces(source: &str) -> Option<Vec<Piece>> {
    if source.contains("{%") || source.contains("{#") {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        let end = rest[start..].find("}}")? + start;
        let inner = rest[start + 2..end].trim();
        if !dotted_path(inner) {
            return None;
        }
        pieces.push(Piece::Path(Native::compile(inner)?));
        rest = &rest[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Some(pieces)
}

/// The pieces printed onto `out`, if every path finds a value that prints as itself (not none).
fn print(scope: &Value, pieces: &[Piece], out: &mut String) -> Option<()> {
    use std::fmt::Write;
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Path(path) => {
                let value = path.eval(scope).filter(|value| !value.is_none())?;
                match value.as_str() {
                    Some(text) => out.push_str(text),
                    None => write!(out, "{value}").ok()?,
                }
            }
        }
    }
    Some(())
}

/// The expression of a string that is exactly one `{{ … }}`.
fn native_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

/// A minijinja error in one line, without its debug dump.
fn describe(error: &Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

impl Templates {
    /// The template's value: an expression's value, or the rendered text as a string.
    pub fn eval(&self, id: TemplateId, scope: &Value) -> Result<Value, TemplateError> {
        match &self.compiled[id.0] {
            Compiled::Literal(value) => Ok(value.clone()),
            Compiled::Text(template) => template
                .render(scope)
                .map(Value::from)
                .map_err(TemplateError::from),
            Compiled::Expr(expr) => expr.eval(scope).map_err(TemplateError::from),
            Compiled::Native(native, expr) => match native.eval(scope) {
                Some(value) => Ok(value),
                None => expr.eval(scope).map_err(TemplateError::from),
            },
            Compiled::Pieces(..) => self.render(id, scope).map(Value::from),
        }
    }

    /// The template as text (an expression's value printed).
    pub fn render(&self, id: TemplateId, scope: &Value) -> Result<String, TemplateError> {
        let mut text = String::new();
        self.render_into(id, scope, &mut text)?;
        Ok(text)
    }

    /// The template as text, written onto `out` (a buffer reused from request to request); on an
    /// error, `out` may hold part of it.
    pub fn render_into(
        &self,
        id: TemplateId,
        scope: &Value,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        let rendered = match &self.compiled[id.0] {
            Compiled::Text(template) => template.render(scope),
            Compiled::Pieces(pieces, template) => {
                let start = out.len();
                if print(scope, pieces, out).is_some() {
                    return Ok(());
                }
                // A lookup found nothing printable: minijinja says what, as it would have.
                out.truncate(start);
                template.render(scope)
            }
            _ => {
                let value = self.eval(id, scope)?;
                if value.is_undefined() {
                    return Err(TemplateError::Undefined);
                }
                match value.as_str() {
                    Some(text) => out.push_str(text),
                    None => {
                        use std::fmt::Write;
                        let _ = write!(out, "{value}");
                    }
                }
                return Ok(());
            }
        };
        let rendered = rendered.map_err(TemplateError::from)?;
        match out.is_empty() {
            true => *out = rendered,
            false => out.push_str(&rendered),
        }
        Ok(())
    }

    /// The template's text when it is a literal (no `{{ }}`).
    pub fn literal(&self, id: TemplateId) -> Option<&str> {
        match &self.compiled[id.0] {
            Compiled::Literal(value) => value.as_str(),
            _ => None,
        }
    }

    /// The names a template reads at its top level (`county` for `{{ county.fips }}`).
    pub fn reads(&self, id: TemplateId) -> BTreeSet<String> {
        match &self.compiled[id.0] {
            Compiled::Literal(_) => BTreeSet::new(),
            Compiled::Text(t) | Compiled::Pieces(_, t) => {
                t.undeclared_variables(false).into_iter().collect()
            }
            Compiled::Expr(e) | Compiled::Native(_, e) => {
                e.undeclared_variables(false).into_iter().collect()
            }
        }
    }

    /// The words and quoted literals of every template, as written (before `${env:…}`).
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// Values read from the environment with `${env:…}`: never written anywhere.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }
}

/// A scope for templates: names to values.
pub fn scope(bindings: &BTreeMap<String, Value>) -> Value {
    Value::from_iter(bindings.iter().map(|(k, v)| (k.clone(), v.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_env(name: &str) -> Option<String> {
        (name == "API_KEY").then(|| "s3cret".to_string())
    }

    fn templates(sources: &[&str]) -> (Templates, Vec<TemplateId>) {
        let mut builder = Builder::new(fake_env);
        let ids = sources.iter().map(|s| builder.add(s).unwrap()).collect();
        (builder.finish().unwrap(), ids)
    }

    fn scope_of(pairs: &[(&str, Value)]) -> Value {
        scope(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn one_expression_keeps_its_type_and_text_is_rendered() {
        let (t, ids) = templates(&["{{ vars.year }}", "year {{ vars.year }}", "plain"]);
        let vars = Value::from_iter([("year".to_string(), Value::from(2014))]);
        let scope = scope_of(&[("vars", vars)]);
        assert_eq!(t.eval(ids[0], &scope).unwrap(), Value::from(2014));
        assert_eq!(t.eval(ids[1], &scope).unwrap(), Value::from("year 2014"));
        assert_eq!(t.render(ids[2], &scope).unwrap(), "plain");
    }

    #[test]
    fn undefined_values_are_errors_not_empty_strings() {
        let (t, ids) = templates(&["/plans/{{ plan.id }}"]);
        assert!(t.eval(ids[0], &scope_of(&[])).is_err());
    }

    #[test]
    fn environment_values_are_substituted_and_kept_secret() {
        let (t, ids) = templates(&["key=${env:API_KEY}"]);
        assert_eq!(t.render(ids[0], &scope_of(&[])).unwrap(), "key=s3cret");
        assert_eq!(t.secrets(), ["s3cret".to_string()]);
        let secrets = crate::access::secrets::Secrets::new(t.secrets().to_vec());
        assert_eq!(
            secrets.redact("GET /x?apikey=s3cret"),
            "GET /x?apikey=[redacted]"
        );
        let err = Builder::new(fake_env).add("${env:MISSING}").unwrap_err();
        assert!(err.to_string().contains("MISSING is not set"), "{err}");
    }

    #[test]
    fn syntax_errors_are_found_at_load() {
        let err = Builder::new(fake_env).add("{{ plans | }}").unwrap_err();
        assert!(err.to_string().contains("syntax"), "{err}");
    }

    #[test]
    fn dotted_paths_read_like_the_expressions_they_are() {
        let (t, ids) = templates(&[
            "{{ a.b }}",
            "{{ a.missing }}",
            "{{ nobody.b }}",
            "{{ none }}",
            "{{ a.b.c }}",
            "{{ range(2) | list | length }}",
        ]);
        let a = Value::from_iter([("b".to_string(), Value::from(7))]);
        let scope = scope_of(&[("a", a)]);
        assert_eq!(t.eval(ids[0], &scope).unwrap(), Value::from(7));
        assert!(t.eval(ids[1], &scope).unwrap().is_undefined());
        assert!(t.render(ids[1], &scope).is_err());
        assert!(
            t.eval(ids[2], &scope).is_err(),
            "strict: no attribute of nothing"
        );
        assert!(t.eval(ids[3], &scope).unwrap().is_none());
        assert!(t.eval(ids[4], &scope).unwrap().is_undefined());
        assert_eq!(t.eval(ids[5], &scope).unwrap(), Value::from(2));
        assert_eq!(
            t.reads(ids[0]),
            BTreeSet::from(["a".to_string()]),
            "checks still see what a path reads"
        );
    }

    #[test]
    fn text_with_paths_prints_like_the_template() {
        let sources = [
            "/plans/{{ a.b }}/x{{a.f}}",
            "/x/{{ a.missing }}",
            "/x/{{ a.n }}/{{ none }}",
            "{{ a.b }}{{ a.b | string }}",
            "/x/{{ a.b }}/{{ a.n }}",
        ];
        let (t, ids) = templates(&sources);
        let a = Value::from_iter([
            ("b".to_string(), Value::from("P1")),
            ("f".to_string(), Value::from(1.5)),
            ("n".to_string(), Value::from(())),
        ]);
        let scope = scope_of(&[("a", a)]);
        assert_eq!(t.render(ids[0], &scope).unwrap(), "/plans/P1/x1.5");
        assert_eq!(
            t.eval(ids[0], &scope).unwrap(),
            Value::from("/plans/P1/x1.5")
        );
        assert!(
            t.render(ids[1], &scope).is_err(),
            "strict: undefined is an error"
        );
        let env = environment();
        for (source, id) in sources.iter().zip(&ids) {
            let by_minijinja = env.render_str(source, &scope).map_err(|e| describe(&e));
            let by_surge = t.render(*id, &scope).map_err(|e| e.to_string());
            assert_eq!(by_surge, by_minijinja, "{source}");
            // Onto a buffer in use, a lookup that falls back to minijinja leaves nothing behind.
            if let Ok(alone) = by_surge {
                let mut out = "kept:".to_string();
                t.render_into(*id, &scope, &mut out).unwrap();
                assert_eq!(out, format!("kept:{alone}"), "{source}");
            }
        }
    }

    #[test]
    fn pick_and_join_url() {
        let (t, ids) = templates(&[
            "{{ [10, 20, 30, 40] | pick(0.5) }}",
            "{{ [10, 20] | pick(0.9999) }}",
            "{{ 'http://h/a/b/landing' | join_url('enrollments/7') }}",
        ]);
        let s = scope_of(&[]);
        assert_eq!(t.eval(ids[0], &s).unwrap(), Value::from(30));
        assert_eq!(t.eval(ids[1], &s).unwrap(), Value::from(20));
        assert_eq!(t.render(ids[2], &s).unwrap(), "http://h/a/b/enrollments/7");
    }

    #[test]
    fn reads_lists_top_level_names() {
        let (t, ids) = templates(&["{{ county.fips }}-{{ vars.year }}"]);
        let reads = t.reads(ids[0]);
        assert!(
            reads.contains("county") && reads.contains("vars"),
            "{reads:?}"
        );
    }
}
