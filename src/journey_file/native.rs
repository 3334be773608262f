//! Expressions evaluated natively, without minijinja's VM: the checks and `let`s journeys write most
//! (paths, literals, comparisons, `and`/`or`/`not`, `+ - *`, `length`, `abs`, `float`, `sort`,
//! `map(attribute=…)`, `select`/`reject`, `pick`). Each eval in the VM sets up a state and a stack
//! frame, and at saturation that was most of what a check cost.
//!
//! The tree is built from minijinja's own parse of the expression, so precedence and literals are
//! minijinja's. Where the VM would do anything this code does not copy exactly (an undefined value,
//! a type it would coerce, an error), evaluation gives up with `None` and the caller asks minijinja,
//! whose answer is then the only one: native evaluation is a shortcut, never a second dialect.

use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, UnaryOpKind};
use minijinja::Value;

use super::json;

/// An expression compiled for native evaluation.
#[derive(Debug)]
pub(super) enum Native {
    Const(Value),
    Var(String),
    /// `a.b.c`: attributes of a value, one or more.
    Attr(Box<Native>, Vec<String>),
    Item(Box<Native>, Box<Native>),
    Compare(Comparison, Box<Native>, Box<Native>),
    Arith(Arith, Box<Native>, Box<Native>),
    And(Box<Native>, Box<Native>),
    Or(Box<Native>, Box<Native>),
    Not(Box<Native>),
    Neg(Box<Native>),
    List(Vec<Native>),
    Map(Vec<(Native, Native)>),
    Filter(Box<Native>, Filter),
    /// `x is defined` (true) or `x is undefined` (false).
    Defined(Box<Native>, bool),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Comparison {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
}

#[derive(Debug)]
pub(super) enum Filter {
    Length,
    Abs,
    Float,
    List,
    /// `sort(attribute='a.b')`, or `sort` when the path is empty.
    SortBy(Vec<String>),
    /// `map(attribute='a.b')`.
    MapAttribute(Vec<String>),
    /// `select`, `reject`, `selectattr`, `rejectattr`: keep the items whose (attribute's) value
    /// passes the test, or fails it when `reject`.
    Select {
        attribute: Vec<String>,
        test: Option<Test>,
        reject: bool,
    },
    Pick(Box<Native>),
}

/// A comparison test of `select` and its kin, with its argument (`select('eq', '')`).
type Test = (Comparison, Box<Native>);

impl Native {
    /// The native form of `source`, if every part of it has one.
    pub(super) fn compile(source: &str) -> Option<Native> {
        let expr = minijinja::machinery::parse_expr(source).ok()?;
        Native::of(&expr)
    }

    fn of(expr: &Expr<'_>) -> Option<Native> {
        let boxed = |expr: &Expr<'_>| Native::of(expr).map(Box::new);
        Some(match expr {
            Expr::Const(c) => Native::Const(c.value.clone()),
            Expr::Var(v) => Native::Var(v.id.to_string()),
            Expr::GetAttr(g) => match Native::of(&g.expr)? {
                Native::Attr(of, mut names) => {
                    names.push(g.name.to_string());
                    Native::Attr(of, names)
                }
                of => Native::Attr(Box::new(of), vec![g.name.to_string()]),
            },
            Expr::GetItem(g) => Native::Item(boxed(&g.expr)?, boxed(&g.subscript_expr)?),
            Expr::UnaryOp(u) => match u.op {
                UnaryOpKind::Not => Native::Not(boxed(&u.expr)?),
                UnaryOpKind::Neg => Native::Neg(boxed(&u.expr)?),
            },
            Expr::BinOp(b) => {
                let (left, right) = (boxed(&b.left)?, boxed(&b.right)?);
                match b.op {
                    BinOpKind::Eq => Native::Compare(Comparison::Eq, left, right),
                    BinOpKind::Ne => Native::Compare(Comparison::Ne, left, right),
                    BinOpKind::Lt => Native::Compare(Comparison::Lt, left, right),
                    BinOpKind::Lte => Native::Compare(Comparison::Lte, left, right),
                    BinOpKind::Gt => Native::Compare(Comparison::Gt, left, right),
                    BinOpKind::Gte => Native::Compare(Comparison::Gte, left, right),
                    BinOpKind::Add => Native::Arith(Arith::Add, left, right),
                    BinOpKind::Sub => Native::Arith(Arith::Sub, left, right),
                    BinOpKind::Mul => Native::Arith(Arith::Mul, left, right),
                    BinOpKind::ScAnd => Native::And(left, right),
                    BinOpKind::ScOr => Native::Or(left, right),
                    _ => return None,
                }
            }
            Expr::List(l) => Native::List(l.items.iter().map(Native::of).collect::<Option<_>>()?),
            Expr::Map(m) => Native::Map(
                m.keys
                    .iter()
                    .zip(&m.values)
                    .map(|(k, v)| Some((Native::of(k)?, Native::of(v)?)))
                    .collect::<Option<_>>()?,
            ),
            Expr::Filter(f) => Native::Filter(boxed(f.expr.as_ref()?)?, filter(f)?),
            Expr::Test(t) if t.args.is_empty() => match t.name {
                "defined" => Native::Defined(boxed(&t.expr)?, true),
                "undefined" => Native::Defined(boxed(&t.expr)?, false),
                _ => return None,
            },
            _ => return None,
        })
    }

    /// The expression's value in `scope`; `None` when minijinja must be asked (see the module doc).
    pub(super) fn eval(&self, scope: &Value) -> Option<Value> {
        let value = self.reach(scope)?;
        (!value.is_undefined()).then_some(value)
    }

    /// As `eval`, but the last lookup may find nothing (undefined), for `is defined`.
    fn reach(&self, scope: &Value) -> Option<Value> {
        match self {
            Native::Const(value) => Some(value.clone()),
            Native::Var(name) => scope.get_attr(name).ok(),
            Native::Attr(of, names) => {
                let of = container(of.eval(scope)?)?;
                json::at_path(&of, names).or_else(|| walk(of, names))
            }
            Native::Item(of, key) => container(of.eval(scope)?)?.get_item(&key.eval(scope)?).ok(),
            Native::Compare(op, left, right) => Some(Value::from(
                op.holds(&left.eval(scope)?, &right.eval(scope)?),
            )),
            Native::Arith(op, left, right) => op.apply(&left.eval(scope)?, &right.eval(scope)?),
            Native::And(left, right) => {
                let left = left.eval(scope)?;
                match left.is_true() {
                    true => right.eval(scope),
                    false => Some(left),
                }
            }
            Native::Or(left, right) => {
                let left = left.eval(scope)?;
                match left.is_true() {
                    true => Some(left),
                    false => right.eval(scope),
                }
            }
            Native::Not(of) => Some(Value::from(!of.eval(scope)?.is_true())),
            Native::Neg(of) => match of.eval(scope)? {
                float if float.is_number() && !float.is_integer() => {
                    Some(Value::from(-f64::try_from(float).ok()?))
                }
                integer => Arith::Sub.apply(&Value::from(0), &integer),
            },
            Native::List(items) => Some(Value::from(
                items
                    .iter()
                    .map(|item| item.eval(scope))
                    .collect::<Option<Vec<_>>>()?,
            )),
            Native::Map(pairs) => pairs
                .iter()
                .map(|(k, v)| Some((k.eval(scope)?, v.eval(scope)?)))
                .collect::<Option<Vec<_>>>()
                .map(Value::from_iter),
            Native::Filter(of, filter) => filter.apply(of.eval(scope)?, scope),
            Native::Defined(of, defined) => {
                Some(Value::from(of.reach(scope)?.is_undefined() != *defined))
            }
        }
    }
}

/// A value attributes and items are looked up in: none and undefined are left to minijinja (its
/// strict mode makes some of those lookups errors).
fn container(value: Value) -> Option<Value> {
    (!value.is_none() && !value.is_undefined()).then_some(value)
}

/// The filter's native form; `None` for filters, arguments or keywords it does not have.
fn filter(f: &ast::Filter<'_>) -> Option<Filter> {
    let mut positional = Vec::new();
    let mut attribute = None;
    for arg in &f.args {
        match arg {
            CallArg::Pos(expr) => positional.push(expr),
            CallArg::Kwarg("attribute", Expr::Const(c)) => {
                attribute = Some(path(c.value.as_str()?))
            }
            _ => return None,
        }
    }
    let constant = |expr: &Expr<'_>| match expr {
        Expr::Const(c) => c.value.as_str().map(str::to_string),
        _ => None,
    };
    let no_args = positional.is_empty() && attribute.is_none();
    Some(match (f.name, positional.as_slice()) {
        ("length" | "count", []) if no_args => Filter::Length,
        ("abs", []) if no_args => Filter::Abs,
        ("float", []) if no_args => Filter::Float,
        ("list", []) if no_args => Filter::List,
        ("sort", []) => Filter::SortBy(attribute.unwrap_or_default()),
        ("map", []) => Filter::MapAttribute(attribute?),
        ("pick", [fraction]) if attribute.is_none() => {
            Filter::Pick(Box::new(Native::of(fraction)?))
        }
        (name @ ("select" | "reject"), rest) if attribute.is_none() => Filter::Select {
            attribute: Vec::new(),
            test: test(rest)?,
            reject: name == "reject",
        },
        (name @ ("selectattr" | "rejectattr"), [attr, rest @ ..]) if attribute.is_none() => {
            Filter::Select {
                attribute: path(&constant(attr)?),
                test: test(rest)?,
                reject: name == "rejectattr",
            }
        }
        _ => return None,
    })
}

/// A test of `select` and its kin: none (truthiness), or a comparison with one argument.
fn test(args: &[&Expr<'_>]) -> Option<Option<Test>> {
    let [name, rest @ ..] = args else {
        return Some(None);
    };
    let Expr::Const(name) = name else { return None };
    let comparison = match name.value.as_str()? {
        "eq" | "equalto" | "==" => Comparison::Eq,
        "ne" | "!=" => Comparison::Ne,
        "lt" | "lessthan" | "<" => Comparison::Lt,
        "le" | "<=" => Comparison::Lte,
        "gt" | "greaterthan" | ">" => Comparison::Gt,
        "ge" | ">=" => Comparison::Gte,
        _ => return None,
    };
    let [other] = rest else { return None };
    Some(Some((comparison, Box::new(Native::of(other)?))))
}

/// The attributes at `names` of `value`, one by one: every step but the last must find a value
/// (not undefined, not none); the last may find nothing (undefined).
fn walk(value: Value, names: &[String]) -> Option<Value> {
    let (last, steps) = names.split_last()?;
    let parent = steps.iter().try_fold(value, |value, name| {
        let next = container(value)?.get_attr(name).ok()?;
        (!next.is_undefined()).then_some(next)
    })?;
    container(parent)?.get_attr(last).ok()
}

/// `'a.b'` as `["a", "b"]`; minijinja's attribute paths also take item indices, left to it.
fn path(attribute: &str) -> Vec<String> {
    attribute.split('.').map(str::to_string).collect()
}

/// The value at a dotted attribute path; `None` when a step finds nothing.
fn at_path(value: &Value, path: &[String]) -> Option<Value> {
    if path
        .iter()
        .any(|name| name.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if path.is_empty() {
        return Some(value.clone());
    }
    let found = json::at_path(value, path).or_else(|| walk(value.clone(), path))?;
    (!found.is_undefined()).then_some(found)
}

impl Comparison {
    fn holds(self, left: &Value, right: &Value) -> bool {
        match self {
            Comparison::Eq => left == right,
            Comparison::Ne => left != right,
            Comparison::Lt => left < right,
            Comparison::Lte => left <= right,
            Comparison::Gt => left > right,
            Comparison::Gte => left >= right,
        }
    }
}

impl Arith {
    /// Numbers only, as minijinja computes them: two integers exactly (in i128, checked), a float
    /// on either side in floats. Anything else (strings, lists, bools, overflow) is minijinja's.
    fn apply(self, left: &Value, right: &Value) -> Option<Value> {
        if !left.is_number() || !right.is_number() {
            return None;
        }
        if left.is_integer() && right.is_integer() {
            let (a, b) = (
                i128::try_from(left.clone()).ok()?,
                i128::try_from(right.clone()).ok()?,
            );
            let result = match self {
                Arith::Add => a.checked_add(b),
                Arith::Sub => a.checked_sub(b),
                Arith::Mul => a.checked_mul(b),
            }?;
            return i64::try_from(result).ok().map(Value::from);
        }
        let (a, b) = (
            f64::try_from(left.clone()).ok()?,
            f64::try_from(right.clone()).ok()?,
        );
        Some(Value::from(match self {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
        }))
    }
}

impl Filter {
    fn apply(&self, value: Value, scope: &Value) -> Option<Value> {
        match self {
            Filter::Length => minijinja::filters::length(&value).ok().map(Value::from),
            Filter::Abs => minijinja::filters::abs(value).ok(),
            Filter::Float => match value.as_str() {
                Some(text) => text.parse::<f64>().ok().map(Value::from),
                None if value.is_number() => f64::try_from(value).ok().map(Value::from),
                None => None,
            },
            Filter::List => Some(Value::from(items(&value)?)),
            Filter::SortBy(path) => {
                let mut keyed = items(&value)?
                    .into_iter()
                    .map(|item| Some((at_path(&item, path)?, item)))
                    .collect::<Option<Vec<_>>>()?;
                // minijinja compares strings ignoring case: only numbers are sorted here.
                if !keyed.iter().all(|(key, _)| key.is_number()) {
                    return None;
                }
                keyed.sort_by(|(a, _), (b, _)| a.cmp(b));
                Some(Value::from(
                    keyed.into_iter().map(|(_, item)| item).collect::<Vec<_>>(),
                ))
            }
            Filter::MapAttribute(path) => Some(Value::from(
                items(&value)?
                    .iter()
                    .map(|item| at_path(item, path))
                    .collect::<Option<Vec<_>>>()?,
            )),
            Filter::Select {
                attribute,
                test,
                reject,
            } => {
                let other = match test {
                    Some((_, other)) => Some(other.eval(scope)?),
                    None => None,
                };
                let mut kept = Vec::new();
                for item in items(&value)? {
                    let tested = at_path(&item, attribute)?;
                    let passed = match (test, &other) {
                        (Some((comparison, _)), Some(other)) => comparison.holds(&tested, other),
                        _ => tested.is_true(),
                    };
                    if passed != *reject {
                        kept.push(item);
                    }
                }
                Some(Value::from(kept))
            }
            Filter::Pick(fraction) => {
                let fraction = f64::try_from(fraction.eval(scope)?).ok()?;
                super::template::pick(value, fraction).ok()
            }
        }
    }
}

/// A sequence's items; `None` for anything else (minijinja iterates maps and strings too, its way).
fn items(value: &Value) -> Option<Vec<Value>> {
    match value.kind() {
        minijinja::value::ValueKind::Seq => Some(value.try_iter().ok()?.collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use minijinja::{Environment, UndefinedBehavior};

    use super::*;
    use crate::journey_file::program::ReplyKeys;

    fn scope() -> Value {
        let plan = |id: &str, premium: f64, issuer: &str| {
            Value::from_iter([
                ("id".to_string(), Value::from(id)),
                ("premium".to_string(), Value::from(premium)),
                (
                    "issuer".to_string(),
                    Value::from_iter([("id".to_string(), Value::from(issuer))]),
                ),
            ])
        };
        let plans = vec![
            plan("B", 310.5, "2"),
            plan("A", 120.0, "1"),
            plan("C", 120.0, ""),
        ];
        Value::from_iter([
            ("plans".to_string(), Value::from(plans)),
            ("page".to_string(), Value::from(2)),
            ("size".to_string(), Value::from(10)),
            ("amount".to_string(), Value::from("100.25")),
            ("owed".to_string(), Value::from(100.25)),
            ("nothing".to_string(), Value::from(())),
            ("big".to_string(), Value::from(i64::MAX)),
            ("words".to_string(), Value::from(vec!["b", "A", "c"])),
        ])
    }

    fn minijinja(source: &str, scope: &Value) -> Result<Value, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("pick", crate::journey_file::template::pick);
        env.compile_expression(source)?.eval(scope)
    }

    /// The same scope, its values a reply's JSON: read in full, and with `issuer` skipped unread.
    fn json_scopes() -> [Value; 2] {
        let text = serde_json::to_string(&scope()).unwrap();
        let read = |keys: &ReplyKeys| json::document(&text, keys).unwrap();
        let without_issuer = ["plans", "id", "premium", "words"].map(String::from);
        [
            read(&ReplyKeys::everything()),
            read(&ReplyKeys::of(without_issuer)),
        ]
    }

    #[test]
    fn native_values_are_minijinjas() {
        let [json, lazy] = json_scopes();
        for scope in [scope(), json, lazy] {
            native_values_are_minijinjas_in(&scope);
        }
    }

    fn native_values_are_minijinjas_in(scope: &Value) {
        for source in [
            "page",
            "plans[1].issuer.id",
            "plans[-1].id",
            "-page + -(1.5)",
            "-(0.0)",
            "(page + 1) * size >= 30",
            "page * size - 1",
            "page * 1.5",
            "plans | length <= size",
            "plans | count",
            "plans | map(attribute='issuer.id') | select('eq', '') | list | length == 0",
            "plans | rejectattr('premium', 'ge', 200) | list | length",
            "plans | selectattr('issuer.id') | map(attribute='id') | list",
            "plans | reject('eq', plans[0]) | length",
            "plans | sort(attribute='premium') | map(attribute='id') | list",
            "plans | sort(attribute='premium') | pick(0.5)",
            "[3, 1, 2] | sort",
            "(amount | float - owed) | abs <= 0.005",
            "(page - 7) | abs",
            "nothing is defined and nothing",
            "plans[0].missing is defined",
            "plans[0].id is defined and plans[0].id",
            "missing is undefined",
            "not plans or page",
            "page != 2 or size",
            "{'zip': plans[0].id, 'n': page, 'list': [1, 'two', none]}",
            "nothing == none",
            "'a' < 'b'",
        ] {
            let native = Native::compile(source).unwrap_or_else(|| panic!("not native: {source}"));
            let want = minijinja(source, scope).unwrap();
            let got = native
                .eval(scope)
                .unwrap_or_else(|| panic!("deferred: {source}"));
            assert_eq!(got, want, "{source}");
            assert_eq!(got.to_string(), want.to_string(), "{source}");
            assert_eq!(got.kind(), want.kind(), "{source}");
        }
    }

    #[test]
    fn what_minijinja_would_do_differently_is_left_to_it() {
        let [json, lazy] = json_scopes();
        for scope in [scope(), json, lazy] {
            what_minijinja_would_do_differently_is_left_to_it_in(&scope);
        }
        for source in ["range(3) | list", "plans | first", "page / 2", "page ~ 'x'"] {
            assert!(Native::compile(source).is_none(), "{source}");
        }
    }

    fn what_minijinja_would_do_differently_is_left_to_it_in(scope: &Value) {
        for source in [
            // Undefined names and attributes: errors or undefined, minijinja's to say.
            "missing",
            "plans[0].missing",
            "nothing.id",
            "missing.id == 1",
            // Overflow, strings, and case-insensitive sorting.
            "big + 1",
            "amount + 'x'",
            "words | sort",
            "plans | sort(attribute='id') | first",
            "plans | map(attribute='missing') | list",
        ] {
            let native = Native::compile(source);
            let deferred = native.as_ref().is_none_or(|n| n.eval(scope).is_none());
            assert!(deferred, "{source} was answered natively");
        }
    }
}
