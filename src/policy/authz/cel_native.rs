//! A native evaluator for the CEL shapes authorization rules mostly use,
//! compiled at load from the parsed expression: comparisons (`==`, `!=`,
//! `<`, `<=`, `>`, `>=`), `in` (a literal list, or a list or map value),
//! `has()`, `matches()` with the regex compiled once, `startsWith`,
//! `endsWith`, `contains`, over fields of `request`, `source` and
//! `principal` and literals, combined with `&&`, `||` and `!`.
//!
//! It reads the request and the principal where they are (the principal's
//! CEL value is built once per principal), so an evaluation allocates
//! nothing and builds no scope. Any other shape compiles to nothing, and a
//! value the evaluator does not handle at run time (two containers
//! compared, a non-string map key) answers [`Unsupported`]: the caller then
//! runs the `cel` interpreter. The semantics are the interpreter's,
//! including its errors (a missing key, a type mismatch in `<`, a non-bool
//! operand of `&&` absorbed by a `false` on the other side); a
//! differential test checks the two agree.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use cel::Value;
use cel::common::ast::{CallExpr, Expr, LiteralValue, operators};
use cel::objects::KeyRef;

use crate::policy::PolicyInput;

/// The evaluator met a value it does not handle: use the interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

/// A result as the interpreter would give it: a boolean, or an error (which
/// includes a non-boolean where a boolean is needed).
pub type Truth = Result<bool, ()>;

type Eval<T> = Result<T, Unsupported>;

#[derive(Debug, Clone)]
enum Lit {
    Str(Arc<str>),
    Int(i64),
    UInt(u64),
    Double(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Request,
    Source,
    Principal,
}

#[derive(Debug, Clone)]
enum Step {
    /// `.name` or `['name']`.
    Key(Arc<str>),
    /// `[3]`.
    Index(i64),
}

#[derive(Debug, Clone)]
struct Path {
    root: Root,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Operand {
    Lit(Lit),
    Path(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrTest {
    StartsWith,
    EndsWith,
    Contains,
}

#[derive(Debug, Clone)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Eq(Operand, Operand),
    Ne(Operand, Operand),
    Cmp(Operand, Cmp, Operand),
    InList(Operand, Vec<Lit>),
    In(Operand, Operand),
    Has(Path, Arc<str>),
    Matches(Operand, Arc<regex::Regex>),
    Str(Operand, StrTest, Arc<str>),
    /// A bare operand, which must be a boolean.
    Value(Operand),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Native {
    root: Node,
}

/// What an operand evaluates to, borrowed from the request or the
/// principal where possible.
#[derive(Debug)]
enum V<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Double(f64),
    Bool(bool),
    Null,
    /// A list or map from the principal.
    Cel(&'a Value),
    /// The `request`, `source` or `request.headers` maps themselves.
    Request,
    Source,
    Headers,
}

impl Native {
    /// The native form of `expr`, or `None` when it uses anything outside
    /// the subset (the interpreter then evaluates it).
    pub fn compile(expr: &cel::IdedExpr) -> Option<Self> {
        Some(Self { root: node(expr)? })
    }

    /// Evaluates against the request; `principal` is the principal's CEL
    /// value (the anonymous one when nobody is authenticated).
    pub fn evaluate<'a>(&'a self, input: &'a PolicyInput<'_>, principal: &'a Value) -> Eval<Truth> {
        let env = Env { input, principal };
        env.node(&self.root)
    }
}

fn node(expr: &cel::IdedExpr) -> Option<Node> {
    match &expr.expr {
        Expr::Call(call) => call_node(call),
        Expr::Select(select) if select.test => {
            let Operand::Path(parent) = operand(&select.operand)? else {
                return None;
            };
            Some(Node::Has(parent, Arc::from(select.field.as_str())))
        }
        Expr::Select(_) | Expr::Ident(_) | Expr::Literal(_) => Some(Node::Value(operand(expr)?)),
        _ => None,
    }
}

fn call_node(call: &CallExpr) -> Option<Node> {
    let args = &call.args;
    let binary = |f: fn(Operand, Operand) -> Node| -> Option<Node> {
        Some(f(operand(&args[0])?, operand(&args[1])?))
    };
    let cmp =
        |c: Cmp| -> Option<Node> { Some(Node::Cmp(operand(&args[0])?, c, operand(&args[1])?)) };
    match (call.target.as_deref(), call.func_name.as_str(), args.len()) {
        (None, operators::LOGICAL_AND, 2) => Some(Node::And(
            Box::new(node(&args[0])?),
            Box::new(node(&args[1])?),
        )),
        (None, operators::LOGICAL_OR, 2) => Some(Node::Or(
            Box::new(node(&args[0])?),
            Box::new(node(&args[1])?),
        )),
        (None, operators::LOGICAL_NOT, 1) => Some(Node::Not(Box::new(node(&args[0])?))),
        (None, operators::EQUALS, 2) => binary(Node::Eq),
        (None, operators::NOT_EQUALS, 2) => binary(Node::Ne),
        (None, operators::LESS, 2) => cmp(Cmp::Lt),
        (None, operators::LESS_EQUALS, 2) => cmp(Cmp::Le),
        (None, operators::GREATER, 2) => cmp(Cmp::Gt),
        (None, operators::GREATER_EQUALS, 2) => cmp(Cmp::Ge),
        (None, operators::IN, 2) => {
            let needle = operand(&args[0])?;
            match &args[1].expr {
                Expr::List(list) if list.optional_indices.is_empty() => {
                    let items = list
                        .elements
                        .iter()
                        .map(|e| match &e.expr {
                            Expr::Literal(l) => literal(l),
                            _ => None,
                        })
                        .collect::<Option<Vec<_>>>()?;
                    Some(Node::InList(needle, items))
                }
                _ => Some(Node::In(needle, operand(&args[1])?)),
            }
        }
        (None, operators::INDEX, 2) => Some(Node::Value(operand_call(call)?)),
        // `text.matches('re')` and `matches(text, 're')`, the pattern a literal.
        (Some(target), "matches", 1) => matches_node(target, &args[0]),
        (None, "matches", 2) => matches_node(&args[0], &args[1]),
        (Some(target), name @ ("startsWith" | "endsWith" | "contains"), 1) => {
            let test = match name {
                "startsWith" => StrTest::StartsWith,
                "endsWith" => StrTest::EndsWith,
                _ => StrTest::Contains,
            };
            let Expr::Literal(LiteralValue::String(s)) = &args[0].expr else {
                return None;
            };
            Some(Node::Str(operand(target)?, test, Arc::from(s.inner())))
        }
        _ => None,
    }
}

fn matches_node(text: &cel::IdedExpr, pattern: &cel::IdedExpr) -> Option<Node> {
    let Expr::Literal(LiteralValue::String(p)) = &pattern.expr else {
        return None;
    };
    // An invalid pattern is the interpreter's run-time error: leave it to it.
    let re = regex::Regex::new(p.inner()).ok()?;
    Some(Node::Matches(operand(text)?, Arc::new(re)))
}

fn literal(l: &LiteralValue) -> Option<Lit> {
    Some(match l {
        LiteralValue::String(s) => Lit::Str(Arc::from(s.inner())),
        LiteralValue::Int(i) => Lit::Int(*i.inner()),
        LiteralValue::UInt(u) => Lit::UInt(*u.inner()),
        LiteralValue::Double(d) => Lit::Double(*d.inner()),
        LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
        LiteralValue::Null => Lit::Null,
        LiteralValue::Bytes(_) => return None,
    })
}

fn operand(expr: &cel::IdedExpr) -> Option<Operand> {
    match &expr.expr {
        Expr::Literal(l) => Some(Operand::Lit(literal(l)?)),
        Expr::Call(call) if call.target.is_none() && call.func_name == operators::INDEX => {
            operand_call(call)
        }
        Expr::Ident(_) | Expr::Select(_) => path(expr).map(Operand::Path),
        _ => None,
    }
}

fn operand_call(call: &CallExpr) -> Option<Operand> {
    path_of_index(call).map(Operand::Path)
}

fn path_of_index(call: &CallExpr) -> Option<Path> {
    if call.args.len() != 2 {
        return None;
    }
    let mut base = path(&call.args[0])?;
    let step = match &call.args[1].expr {
        Expr::Literal(LiteralValue::String(s)) => Step::Key(Arc::from(s.inner())),
        Expr::Literal(LiteralValue::Int(i)) => Step::Index(*i.inner()),
        _ => return None,
    };
    base.steps.push(step);
    Some(base)
}

fn path(expr: &cel::IdedExpr) -> Option<Path> {
    match &expr.expr {
        Expr::Ident(name) => Some(Path {
            root: match name.as_str() {
                "request" => Root::Request,
                "source" => Root::Source,
                "principal" => Root::Principal,
                _ => return None,
            },
            steps: Vec::new(),
        }),
        Expr::Select(select) if !select.test => {
            let mut base = path(&select.operand)?;
            base.steps.push(Step::Key(Arc::from(select.field.as_str())));
            Some(base)
        }
        Expr::Call(call) if call.target.is_none() && call.func_name == operators::INDEX => {
            path_of_index(call)
        }
        _ => None,
    }
}

struct Env<'a, 'i> {
    input: &'a PolicyInput<'i>,
    principal: &'a Value,
}

impl<'a> Env<'a, '_> {
    fn node(&self, n: &'a Node) -> Eval<Truth> {
        Ok(match n {
            Node::And(l, r) => {
                let left = self.node(l)?;
                if left == Ok(false) {
                    return Ok(Ok(false));
                }
                match (left, self.node(r)?) {
                    (Ok(true), right) => right,
                    (Err(()), Ok(false)) => Ok(false),
                    _ => Err(()),
                }
            }
            Node::Or(l, r) => {
                let left = self.node(l)?;
                if left == Ok(true) {
                    return Ok(Ok(true));
                }
                match (left, self.node(r)?) {
                    (Ok(false), right) => right,
                    (Err(()), Ok(true)) => Ok(true),
                    _ => Err(()),
                }
            }
            Node::Not(inner) => self.node(inner)?.map(|b| !b),
            Node::Eq(l, r) => self.pair(l, r, |a, b| eq(&a, &b).map(Ok))?,
            Node::Ne(l, r) => self.pair(l, r, |a, b| eq(&a, &b).map(|e| Ok(!e)))?,
            Node::Cmp(l, op, r) => self.pair(l, r, |a, b| {
                Ok(compare(&a, &b).map(|o| match op {
                    Cmp::Lt => o == Ordering::Less,
                    Cmp::Le => o != Ordering::Greater,
                    Cmp::Gt => o == Ordering::Greater,
                    Cmp::Ge => o != Ordering::Less,
                }))
            })?,
            Node::InList(needle, items) => match self.operand(needle)? {
                Err(()) => Err(()),
                Ok(v) => {
                    let mut found = false;
                    for item in items {
                        if eq(&lit_value(item), &v)? {
                            found = true;
                            break;
                        }
                    }
                    Ok(found)
                }
            },
            Node::In(needle, haystack) => {
                let needle = match self.operand(needle)? {
                    Ok(v) => v,
                    Err(()) => return Ok(Err(())),
                };
                match self.operand(haystack)? {
                    Ok(hay) => self.contains(&hay, &needle)?,
                    Err(()) => Err(()),
                }
            }
            Node::Has(parent, key) => match self.path(parent)? {
                Ok(v) => self.has(&v, key)?,
                Err(()) => Err(()),
            },
            Node::Matches(text, re) => match self.operand(text)? {
                Ok(V::Str(s)) => Ok(re.is_match(&s)),
                _ => Err(()),
            },
            Node::Str(text, test, arg) => match self.operand(text)? {
                Ok(V::Str(s)) => Ok(match test {
                    StrTest::StartsWith => s.starts_with(&**arg),
                    StrTest::EndsWith => s.ends_with(&**arg),
                    StrTest::Contains => s.contains(&**arg),
                }),
                _ => Err(()),
            },
            Node::Value(op) => match self.operand(op)? {
                Ok(V::Bool(b)) => Ok(b),
                _ => Err(()),
            },
        })
    }

    /// Both operands (an error in either is the result), then `f`.
    fn pair(
        &self,
        l: &'a Operand,
        r: &'a Operand,
        f: impl FnOnce(V<'a>, V<'a>) -> Eval<Truth>,
    ) -> Eval<Truth> {
        let Ok(a) = self.operand(l)? else {
            return Ok(Err(()));
        };
        let Ok(b) = self.operand(r)? else {
            return Ok(Err(()));
        };
        f(a, b)
    }

    fn operand(&self, op: &'a Operand) -> Eval<Result<V<'a>, ()>> {
        match op {
            Operand::Lit(l) => Ok(Ok(lit_value(l))),
            Operand::Path(p) => self.path(p),
        }
    }

    fn path(&self, p: &'a Path) -> Eval<Result<V<'a>, ()>> {
        let mut v = match p.root {
            Root::Request => V::Request,
            Root::Source => V::Source,
            Root::Principal => cel_value(self.principal)?,
        };
        for step in &p.steps {
            v = match self.step(v, step)? {
                Ok(next) => next,
                Err(()) => return Ok(Err(())),
            };
        }
        Ok(Ok(v))
    }

    /// One field or index step; a missing key or a step into a value that
    /// has no fields is an error, as in the interpreter.
    fn step(&self, v: V<'a>, step: &Step) -> Eval<Result<V<'a>, ()>> {
        let input = self.input;
        Ok(match (v, step) {
            (V::Request, Step::Key(k)) => match &**k {
                "method" => Ok(V::Str(Cow::Borrowed(input.method.as_str()))),
                "path" => Ok(V::Str(Cow::Borrowed(input.path))),
                "host" => Ok(V::Str(Cow::Borrowed(input.host))),
                "query" => Ok(V::Str(Cow::Borrowed(input.query.unwrap_or("")))),
                "headers" => Ok(V::Headers),
                _ => Err(()),
            },
            (V::Source, Step::Key(k)) => match &**k {
                "ip" => Ok(V::Str(Cow::Owned(input.client_ip.to_string()))),
                _ => Err(()),
            },
            (V::Headers, Step::Key(k)) => match header(input, k) {
                Some(value) => Ok(V::Str(value)),
                None => Err(()),
            },
            (V::Cel(Value::Map(map)), Step::Key(k)) => match map.get(&KeyRef::String(k)) {
                Some(value) => Ok(cel_value(value)?),
                None => Err(()),
            },
            (V::Cel(Value::List(list)), Step::Index(i)) => {
                match usize::try_from(*i).ok().and_then(|i| list.get(i)) {
                    Some(value) => Ok(cel_value(value)?),
                    None => Err(()),
                }
            }
            // A map indexed by a number: the interpreter's numeric key
            // rules; not worth repeating.
            (V::Cel(Value::Map(_)) | V::Request | V::Source | V::Headers, Step::Index(_)) => {
                return Err(Unsupported);
            }
            _ => Err(()),
        })
    }

    fn has(&self, parent: &V<'a>, name: &str) -> Eval<Truth> {
        Ok(match parent {
            V::Request => Ok(matches!(
                name,
                "method" | "path" | "host" | "query" | "headers"
            )),
            V::Source => Ok(name == "ip"),
            V::Headers => Ok(header(self.input, name).is_some()),
            V::Cel(Value::Map(map)) => Ok(map.get(&KeyRef::String(name)).is_some()),
            // A list's indexer refuses a string key with an error that is
            // not "no such key"; anything else has no fields.
            _ => Err(()),
        })
    }

    fn contains(&self, hay: &V<'a>, needle: &V<'a>) -> Eval<Truth> {
        match hay {
            V::Cel(Value::List(items)) => {
                for item in items.iter() {
                    if eq(&cel_value(item)?, needle)? {
                        return Ok(Ok(true));
                    }
                }
                Ok(Ok(false))
            }
            V::Cel(Value::Map(_)) | V::Request | V::Source | V::Headers => {
                let V::Str(name) = needle else {
                    return Err(Unsupported);
                };
                self.has(hay, name)
            }
            _ => Ok(Err(())),
        }
    }
}

/// The header's values joined as the interpreter's `request.headers` map
/// has them (names are lower-case there; values that are not text skipped).
fn header<'a>(input: &PolicyInput<'a>, name: &str) -> Option<Cow<'a, str>> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
    if !input.headers.contains_key(&name) {
        return None;
    }
    let mut texts = input
        .headers
        .get_all(&name)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let Some(first) = texts.next() else {
        return Some(Cow::Borrowed(""));
    };
    let Some(second) = texts.next() else {
        return Some(Cow::Borrowed(first));
    };
    let mut joined = format!("{first}, {second}");
    for t in texts {
        joined.push_str(", ");
        joined.push_str(t);
    }
    Some(Cow::Owned(joined))
}

fn lit_value(l: &Lit) -> V<'_> {
    match l {
        Lit::Str(s) => V::Str(Cow::Borrowed(&**s)),
        Lit::Int(i) => V::Int(*i),
        Lit::UInt(u) => V::UInt(*u),
        Lit::Double(d) => V::Double(*d),
        Lit::Bool(b) => V::Bool(*b),
        Lit::Null => V::Null,
    }
}

fn cel_value(v: &Value) -> Eval<V<'_>> {
    Ok(match v {
        Value::String(s) => V::Str(Cow::Borrowed(s.as_str())),
        Value::Int(i) => V::Int(*i),
        Value::UInt(u) => V::UInt(*u),
        Value::Float(f) => V::Double(*f),
        Value::Bool(b) => V::Bool(*b),
        Value::Null => V::Null,
        Value::List(_) | Value::Map(_) => V::Cel(v),
        _ => return Err(Unsupported),
    })
}

fn is_container(v: &V<'_>) -> bool {
    matches!(v, V::Cel(_) | V::Request | V::Source | V::Headers)
}

/// CEL equality of two values, at least one a scalar.
fn eq(a: &V<'_>, b: &V<'_>) -> Eval<bool> {
    if is_container(a) && is_container(b) {
        return Err(Unsupported);
    }
    Ok(match (a, b) {
        (V::Str(x), V::Str(y)) => x == y,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Null, V::Null) => true,
        _ => numeric(a, b) == Some(Ordering::Equal),
    })
}

/// CEL ordering: strings, booleans and numbers (across int, uint and
/// double); anything else, or NaN, is an error.
fn compare(a: &V<'_>, b: &V<'_>) -> Result<Ordering, ()> {
    match (a, b) {
        (V::Str(x), V::Str(y)) => Ok(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Ok(x.cmp(y)),
        _ => numeric(a, b).ok_or(()),
    }
}

fn numeric(a: &V<'_>, b: &V<'_>) -> Option<Ordering> {
    match (num(a)?, num(b)?) {
        (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
        (Num::U(x), Num::U(y)) => Some(x.cmp(&y)),
        (Num::I(x), Num::U(y)) => Some(u64::try_from(x).map_or(Ordering::Less, |x| x.cmp(&y))),
        (Num::U(x), Num::I(y)) => Some(i64::try_from(x).map_or(Ordering::Greater, |x| x.cmp(&y))),
        (Num::D(x), Num::D(y)) => x.partial_cmp(&y),
        (Num::D(x), Num::I(y)) => x.partial_cmp(&(y as f64)),
        (Num::D(x), Num::U(y)) => x.partial_cmp(&(y as f64)),
        (Num::I(x), Num::D(y)) => (x as f64).partial_cmp(&y),
        (Num::U(x), Num::D(y)) => (x as f64).partial_cmp(&y),
    }
}

#[derive(Clone, Copy)]
enum Num {
    I(i64),
    U(u64),
    D(f64),
}

fn num(v: &V<'_>) -> Option<Num> {
    match v {
        V::Int(i) => Some(Num::I(*i)),
        V::UInt(u) => Some(Num::U(*u)),
        V::Double(d) => Some(Num::D(*d)),
        _ => None,
    }
}

#[cfg(test)]
#[path = "cel_native_tests.rs"]
mod tests;
