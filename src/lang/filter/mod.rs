//! The `where` filter language: parse an expression once, evaluate it against many records.
//!
//! Owns the expression tree ([`Expr`]), the operators `= != < <= > >= =~ !~ has in` and their
//! evaluation; `parse.rs` owns the grammar (`not` binds tighter than `and`, `and` tighter than
//! `or`; parentheses). Literals are typed when parsed and regexes compiled then, so
//! [`Expr::eval`] does not allocate for the common comparisons. It must not know about particular commands or fields: any field name is
//! accepted and a field a record lacks makes the comparison false.
//!
//! Evaluation rules, field value against literal:
//! - the literal is coerced to the field's type: `mem > 4G` compares bytes, `uptime > 2h`
//!   seconds, `starttime > 2026-11-01` unix time, `template = 1` a flag, `cpu > 50%` a share
//!   (a bare number is the fraction: `cpu > 0.5`);
//! - a missing or null field makes every comparison false (`not` still inverts the result);
//! - on a list field an operator holds if it holds for any element; the negated operators
//!   `!=` and `!~` hold if no element matches;
//! - `has` tests membership in a list or in PVE's `;`-separated tag strings (`,` and spaces also
//!   separate), and a key in a record;
//! - `=~` and `!~` match the field's human text against the regex;
//! - a string field holding a plain number compares numerically with a numeric literal
//!   (`memory > 1024` on a config value `"2048"`), otherwise strings compare as text;
//! - a bare field (`where template`) tests truthiness.

use std::cmp::Ordering;

use regex::Regex;

use super::error::Span;
use super::units;
use super::value::{Record, Value};

mod display;
mod parse;

pub use parse::{FilterPart, classify_filter, parse_filter, parse_filter_in};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    NotMatch,
    Has,
    In,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Match => "=~",
            CmpOp::NotMatch => "!~",
            CmpOp::Has => "has",
            CmpOp::In => "in",
        }
    }
}

/// A parsed filter expression.
#[derive(Clone, Debug)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Comparison),
    /// A bare field name: true when the field is present and truthy.
    Truthy {
        field: String,
        span: Span,
    },
}

/// `field op value`.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub field: String,
    pub field_span: Span,
    pub op: CmpOp,
    /// From the field to the end of the value.
    pub span: Span,
    rhs: Rhs,
}

#[derive(Clone, Debug)]
enum Rhs {
    Literal(Literal),
    List(Vec<Literal>),
    Regex(Regex),
}

/// A literal with every reading of it worked out at parse time.
#[derive(Clone, Debug)]
struct Literal {
    text: String,
    int: Option<i64>,
    float: Option<f64>,
    size: Option<u64>,
    duration: Option<u64>,
    time: Option<i64>,
    /// `50%` as the fraction 0.5 (a bare number compares with a percentage as a fraction).
    percent: Option<f64>,
    boolean: Option<bool>,
}

impl Literal {
    fn new(text: String) -> Self {
        let int = text.parse::<i64>().ok();
        let float = int.map(|i| i as f64).or_else(|| {
            let numeric = text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.');
            numeric
                .then(|| text.parse::<f64>().ok())
                .flatten()
                .filter(|f| f.is_finite())
        });
        let boolean = units::parse_bool(&text).or(match int {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        });
        Literal {
            int,
            float,
            size: units::parse_size(&text),
            duration: units::parse_duration(&text),
            time: units::parse_time(&text),
            percent: units::parse_percent(&text).or(float),
            boolean,
            text,
        }
    }

    /// Compares a scalar field value with this literal read as the field's type.
    fn compare(&self, value: &Value) -> Option<Ordering> {
        match value {
            Value::Null | Value::List(_) | Value::Record(_) => None,
            Value::Bool(b) => Some(b.cmp(&self.boolean?)),
            Value::Int(i) => {
                if let Some(n) = self.int {
                    Some(i.cmp(&n))
                } else if let Some(f) = self.float {
                    (*i as f64).partial_cmp(&f)
                } else {
                    let n = self.size.or(self.duration)?;
                    Some(i128::from(*i).cmp(&i128::from(n)))
                }
            }
            Value::Float(x) => {
                let f = self
                    .float
                    .or_else(|| self.size.or(self.duration).map(|n| n as f64))?;
                x.partial_cmp(&f)
            }
            Value::Percent(x) => x.partial_cmp(&self.percent?),
            Value::Size(n) => Some(n.cmp(&self.size?)),
            Value::Duration(n) => Some(n.cmp(&self.duration?)),
            Value::Time(t) => Some(t.cmp(&self.time?)),
            Value::String(s) => match (self.float, numeric_text(s)) {
                (Some(lit), Some(field)) => field.partial_cmp(&lit),
                _ => Some(s.as_str().cmp(self.text.as_str())),
            },
        }
    }

    fn equals(&self, value: &Value) -> bool {
        self.compare(value) == Some(Ordering::Equal)
    }
}

impl Expr {
    /// Whether the record passes the filter.
    pub fn eval(&self, record: &Record) -> bool {
        match self {
            Expr::And(a, b) => a.eval(record) && b.eval(record),
            Expr::Or(a, b) => a.eval(record) || b.eval(record),
            Expr::Not(e) => !e.eval(record),
            Expr::Truthy { field, .. } => record.get_path(field).is_some_and(truthy),
            Expr::Compare(c) => match record.get_path(&c.field) {
                None | Some(Value::Null) => false,
                Some(value) => c.holds(value),
            },
        }
    }

    /// Every field the expression reads, with its span, in order (for completion and checks).
    pub fn fields(&self) -> Vec<(&str, Span)> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<(&'a str, Span)>) {
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_fields(out);
                b.collect_fields(out);
            }
            Expr::Not(e) => e.collect_fields(out),
            Expr::Truthy { field, span } => out.push((field, *span)),
            Expr::Compare(c) => out.push((&c.field, c.field_span)),
        }
    }
}

/// A string field holding a plain decimal number (PVE sends some numbers as strings, e.g. config
/// values), so `memory > 1024` compares numbers rather than text.
fn numeric_text(s: &str) -> Option<f64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    s.parse().ok()
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) | Value::Percent(f) => *f != 0.0,
        Value::Size(n) | Value::Duration(n) => *n != 0,
        Value::Time(t) => *t != 0,
        Value::String(s) => !s.is_empty() && s != "0",
        Value::List(items) => !items.is_empty(),
        Value::Record(_) => true,
    }
}

impl Comparison {
    fn holds(&self, value: &Value) -> bool {
        match (self.op, value) {
            (CmpOp::Ne | CmpOp::NotMatch, Value::List(items)) => {
                let positive = if self.op == CmpOp::Ne {
                    CmpOp::Eq
                } else {
                    CmpOp::Match
                };
                !items.iter().any(|item| self.scalar(positive, item))
            }
            (CmpOp::Ne, v) => !self.scalar(CmpOp::Eq, v),
            (CmpOp::NotMatch, v) => !self.scalar(CmpOp::Match, v),
            (CmpOp::Has, Value::Record(r)) => match &self.rhs {
                Rhs::Literal(lit) => r.contains(&lit.text),
                _ => false,
            },
            (op, Value::List(items)) => items.iter().any(|item| self.scalar(op, item)),
            (op, v) => self.scalar(op, v),
        }
    }

    /// A positive operator applied to one non-list value.
    fn scalar(&self, op: CmpOp, value: &Value) -> bool {
        match (&self.rhs, op) {
            (Rhs::Regex(re), _) => match value {
                Value::String(s) => re.is_match(s),
                Value::Null => false,
                other => re.is_match(&other.display()),
            },
            (Rhs::List(items), _) => items.iter().any(|lit| lit.equals(value)),
            (Rhs::Literal(lit), CmpOp::Has) => match value {
                Value::String(s) => s
                    .split(|c: char| c == ';' || c == ',' || c.is_whitespace())
                    .any(|tag| tag == lit.text),
                other => lit.equals(other),
            },
            (Rhs::Literal(lit), op) => {
                let Some(ord) = lit.compare(value) else {
                    return false;
                };
                match op {
                    CmpOp::Lt => ord == Ordering::Less,
                    CmpOp::Le => ord != Ordering::Greater,
                    CmpOp::Gt => ord == Ordering::Greater,
                    CmpOp::Ge => ord != Ordering::Less,
                    _ => ord == Ordering::Equal,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
