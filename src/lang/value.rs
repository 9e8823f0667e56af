//! Typed values that flow between pipeline stages, and records with ordered fields.
//!
//! Owns [`Value`], [`Record`], equality and ordering across numeric kinds (an `Int` of bytes equals
//! the same `Size`), conversion from and to JSON, literal inference and the human display. It must
//! not format tables or know about terminals: `render` does that with [`Value::display`].

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value as Json;

use super::units;

/// A value in a pipeline.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A share held as a fraction, as PVE sends it (`cpu` 0.17), shown as a percentage (`17.0%`).
    Percent(f64),
    String(String),
    /// Bytes.
    Size(u64),
    /// Seconds.
    Duration(u64),
    /// Unix seconds, UTC.
    Time(i64),
    List(Vec<Value>),
    Record(Record),
}

/// A record: named fields in insertion order (the order PVE sent them, or the order `select` asked).
///
/// Field names are interned: thousands of guest records share one copy of `maxmem`, so building
/// and dropping records costs no allocation per field name. Fields are a plain vector searched in
/// order: records have tens of fields, where a scan beats hashing and saves a table per record.
#[derive(Clone, Debug, Default)]
pub struct Record {
    fields: Vec<(Arc<str>, Value)>,
}

impl PartialEq for Record {
    /// Two records are equal when they have the same fields with equal values, in any order.
    fn eq(&self, other: &Record) -> bool {
        self.fields.len() == other.fields.len()
            && self.fields.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

/// The one shared copy of a field name.
fn intern(name: &str) -> Arc<str> {
    static NAMES: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let mut set = match names.lock() {
        Ok(set) => set,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(existing) = set.get(name) {
        return existing.clone();
    }
    let shared: Arc<str> = Arc::from(name);
    set.insert(shared.clone());
    shared
}

impl Record {
    pub fn new() -> Self {
        Record::default()
    }

    pub fn from_pairs<K: AsRef<str>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Self {
        Record {
            fields: {
                let mut r = Record::new();
                for (k, v) in pairs {
                    r.insert(k, v);
                }
                r.fields
            },
        }
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.position(field).map(|i| &self.fields[i].1)
    }

    fn position(&self, field: &str) -> Option<usize> {
        self.fields.iter().position(|(k, _)| &**k == field)
    }

    /// Looks a field up, following `a.b` into nested records when no field is literally named so.
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        if let Some(v) = self.get(path) {
            return Some(v);
        }
        let mut parts = path.split('.');
        let mut current = self.get(parts.next()?)?;
        for part in parts {
            match current {
                Value::Record(r) => current = r.get(part)?,
                _ => return None,
            }
        }
        Some(current)
    }

    /// Sets a field; a new field goes last, an existing one keeps its place.
    pub fn insert(&mut self, field: impl AsRef<str>, value: Value) -> Option<Value> {
        let field = field.as_ref();
        match self.position(field) {
            Some(i) => Some(std::mem::replace(&mut self.fields[i].1, value)),
            None => {
                self.fields.push((intern(field), value));
                None
            }
        }
    }

    pub fn remove(&mut self, field: &str) -> Option<Value> {
        let i = self.position(field)?;
        Some(self.fields.remove(i).1)
    }

    pub fn contains(&self, field: &str) -> bool {
        self.position(field).is_some()
    }

    /// The field names in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| &**k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields.iter().map(|(k, v)| (&**k, v))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl FromIterator<(String, Value)> for Record {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut r = Record::new();
        for (k, v) in iter {
            r.insert(k, v);
        }
        r
    }
}

impl Value {
    /// Converts JSON as it is: numbers become `Int` (or `Float`), objects become records.
    pub fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.as_f64().map_or(Value::Null, Value::Float),
            },
            Json::String(s) => Value::String(s.clone()),
            Json::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            Json::Object(map) => Value::Record(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Like [`Value::from_json`] but types PVE's well-known fields (`mem` as a size, `uptime`
    /// as a duration, `ctime` as a time, ...) as most endpoints use them; see
    /// [`super::fields`] for the types per record kind.
    pub fn from_pve_json(json: &Json) -> Value {
        super::fields::typed(super::fields::RecordKind::Any, json)
    }

    /// Machine-readable JSON: sizes in bytes, durations in seconds, times in unix seconds.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) | Value::Percent(f) => {
                serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
            }
            Value::String(s) => Json::String(s.clone()),
            Value::Size(n) | Value::Duration(n) => Json::from(*n),
            Value::Time(t) => Json::from(*t),
            Value::List(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Record(r) => Json::Object(
                r.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Infers a literal's type: booleans, integers, floats, sizes (`4G`, upper-case `M`),
    /// durations (`2h`, lower-case `m` is minutes), else a string. A filter coerces literals to the
    /// field's type instead, so `uptime > 5m` and `mem > 512m` both mean what they say.
    pub fn parse_literal(text: &str) -> Value {
        if let Some(b) = units::parse_bool(text) {
            return Value::Bool(b);
        }
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
        if let Some(f) = looks_numeric(text)
            .then(|| text.parse::<f64>().ok())
            .flatten()
        {
            return Value::Float(f);
        }
        if let Some(p) = units::parse_percent(text) {
            return Value::Percent(p);
        }
        if let Some(d) = text
            .ends_with('m')
            .then(|| units::parse_duration(text))
            .flatten()
        {
            return Value::Duration(d);
        }
        if let Some(s) = units::parse_size(text) {
            return Value::Size(s);
        }
        if let Some(d) = units::parse_duration(text) {
            return Value::Duration(d);
        }
        Value::String(text.to_string())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_record(&self) -> Option<&Record> {
        match self {
            Value::Record(r) => Some(r),
            _ => None,
        }
    }

    /// The value as a number, for the numeric kinds (booleans count as 0 and 1, as PVE sends them).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) | Value::Percent(f) => Some(*f),
            Value::Size(n) | Value::Duration(n) => Some(*n as f64),
            Value::Time(t) => Some(*t as f64),
            _ => None,
        }
    }

    /// Integers of any numeric kind as `i128`, so comparisons between them are exact.
    fn as_i128(&self) -> Option<i128> {
        match self {
            Value::Bool(b) => Some(i128::from(*b)),
            Value::Int(i) => Some(i128::from(*i)),
            Value::Size(n) | Value::Duration(n) => Some(i128::from(*n)),
            Value::Time(t) => Some(i128::from(*t)),
            _ => None,
        }
    }

    /// A name for the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Percent(_) => "percentage",
            Value::String(_) => "string",
            Value::Size(_) => "size",
            Value::Duration(_) => "duration",
            Value::Time(_) => "time",
            Value::List(_) => "list",
            Value::Record(_) => "record",
        }
    }

    /// Compares values where that makes sense: all numeric kinds with each other (exactly for
    /// integers), strings with strings, lists element by element, null with null. `None` for
    /// anything else (a string and a number, records, NaN).
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Null, Value::Null) => Some(Ordering::Equal),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::List(a), Value::List(b)) => {
                for (x, y) in a.iter().zip(b) {
                    match x.compare(y)? {
                        Ordering::Equal => {}
                        unequal => return Some(unequal),
                    }
                }
                Some(a.len().cmp(&b.len()))
            }
            (Value::Record(a), Value::Record(b)) => (a == b).then_some(Ordering::Equal),
            (a, b) => match (a.as_i128(), b.as_i128()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
            },
        }
    }

    /// A total order for sorting: numbers (booleans, sizes, durations and times among them), then
    /// strings in natural order (`web2` before `web10`), then lists, then records, nulls last.
    /// Values that do not compare (NaN) still get a fixed place, so sorting is deterministic.
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        let rank = |v: &Value| match v {
            Value::Bool(_)
            | Value::Int(_)
            | Value::Float(_)
            | Value::Percent(_)
            | Value::Size(_)
            | Value::Duration(_)
            | Value::Time(_) => 0,
            Value::String(_) => 1,
            Value::List(_) => 2,
            Value::Record(_) => 3,
            Value::Null => 4,
        };
        match rank(self).cmp(&rank(other)) {
            Ordering::Equal if rank(self) == 1 => match (self, other) {
                (Value::String(a), Value::String(b)) => natural_cmp(a, b),
                _ => Ordering::Equal,
            },
            Ordering::Equal => {
                self.compare(other)
                    .unwrap_or_else(|| match (self.as_f64(), other.as_f64()) {
                        (Some(a), Some(b)) => a.total_cmp(&b),
                        _ => Ordering::Equal,
                    })
            }
            unequal => unequal,
        }
    }

    /// The human form: sizes `4.0 GiB`, durations `3d 4h`, times ISO-8601 UTC, lists `a, b`,
    /// records `{a: 1, b: x}`, null as the empty string.
    pub fn display(&self) -> String {
        self.to_string()
    }
}

/// Compares strings with runs of ASCII digits taken as numbers, so `web2` sorts before `web10`;
/// ties (such as `a01` and `a1`) fall back to byte order.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let (m, rest_x) = split_digits(x);
                let (n, rest_y) = split_digits(y);
                let (m, n) = (trim_zeros(m), trim_zeros(n));
                match m.len().cmp(&n.len()).then_with(|| m.cmp(n)) {
                    Ordering::Equal => (x, y) = (rest_x, rest_y),
                    unequal => return unequal,
                }
            }
            (Some(c), Some(d)) => match c.cmp(d) {
                Ordering::Equal => (x, y) = (&x[1..], &y[1..]),
                unequal => return unequal,
            },
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|c| *c != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

fn looks_numeric(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && body.starts_with(|c: char| c.is_ascii_digit())
}

impl PartialEq for Value {
    /// Equality follows [`Value::compare`]: `Int(1024) == Size(1024)`, `Int(1) == Float(1.0)`.
    fn eq(&self, other: &Value) -> bool {
        self.compare(other) == Some(Ordering::Equal)
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        self.compare(other)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Percent(x) => {
                units::write_one_decimal(f, x * 100.0)?;
                f.write_str("%")
            }
            Value::String(s) => f.write_str(s),
            Value::Size(n) => units::write_size(f, *n),
            Value::Duration(n) => units::write_duration(f, *n),
            Value::Time(t) => f.write_str(&units::format_time(*t)),
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
            Value::Record(r) => {
                f.write_str("{")?;
                for (i, (k, v)) in r.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl serde::Serialize for Value {
    /// The same JSON as [`Value::to_json`], written without building it (`--json` of 10 000
    /// records streams).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) | Value::Percent(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(_) | Value::Percent(_) => s.serialize_unit(),
            Value::String(text) => s.serialize_str(text),
            Value::Size(n) | Value::Duration(n) => s.serialize_u64(*n),
            Value::Time(t) => s.serialize_i64(*t),
            Value::List(items) => s.collect_seq(items),
            Value::Record(r) => s.collect_map(r.iter()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<Record> for Value {
    fn from(r: Record) -> Self {
        Value::Record(r)
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
