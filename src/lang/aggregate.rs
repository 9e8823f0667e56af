//! Aggregates over one field of a stream of records: `sum avg min max`, for the pipeline
//! commands of the same names and for `group-by --sum FIELD ...`.
//!
//! Pure functions. The result keeps the field's kind: the sum or average of sizes is a size, of
//! durations a duration, of integers an integer (an average of integers a float); min and max
//! return one of the values as it is, so they work on strings and times too. Records lacking the
//! field, or holding null there, are skipped; a field that no record has is the same error as in
//! `select` and `where`.

use super::ops::{OpError, check_field, field_of};
use super::value::{Record, Value};

/// One aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Avg,
    Min,
    Max,
}

impl Aggregate {
    /// Every aggregate, in the order `group-by` documents its flags.
    pub const ALL: [Aggregate; 4] = [
        Aggregate::Sum,
        Aggregate::Avg,
        Aggregate::Min,
        Aggregate::Max,
    ];

    /// Its name: the command, the `group-by` flag, and the prefix of the field it makes.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
        }
    }

    pub fn from_name(name: &str) -> Option<Aggregate> {
        Aggregate::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The field `group-by` gives its result: `sum.maxmem`.
    pub fn field_name(self, field: &str) -> String {
        format!("{}.{field}", self.name())
    }
}

/// The kind a sum or average keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Integers (and booleans, as 0 and 1).
    Int,
    Float,
    /// Shares (`cpu`): their sum and mean stay shares.
    Percent,
    Size,
    Duration,
    Time,
}

impl Kind {
    fn of(value: &Value) -> Option<Kind> {
        match value {
            Value::Bool(_) | Value::Int(_) => Some(Kind::Int),
            Value::Float(_) => Some(Kind::Float),
            Value::Percent(_) => Some(Kind::Percent),
            Value::Size(_) => Some(Kind::Size),
            Value::Duration(_) => Some(Kind::Duration),
            Value::Time(_) => Some(Kind::Time),
            _ => None,
        }
    }

    /// The kind of a mix: plain numbers join a unit (an `Int` of bytes added to sizes is bytes),
    /// two different units do not.
    fn join(self, other: Kind) -> Option<Kind> {
        use Kind::*;
        match (self, other) {
            (a, b) if a == b => Some(a),
            (Int, Float) | (Float, Int) => Some(Float),
            (Int | Float, unit) | (unit, Int | Float) => Some(unit),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Int | Kind::Float => "numbers",
            Kind::Percent => "percentages",
            Kind::Size => "sizes",
            Kind::Duration => "durations",
            Kind::Time => "times",
        }
    }
}

/// Aggregates one field over the items: see the module docs. With no values to aggregate (an
/// empty stream, or only nulls) a sum is `0` and the others are null.
pub fn aggregate(items: &[Value], field: &str, op: Aggregate) -> Result<Value, OpError> {
    check_field(items, field)?;
    let values: Vec<&Value> = items
        .iter()
        .filter_map(|item| field_of(item, field))
        .filter(|v| !v.is_null())
        .collect();
    match op {
        Aggregate::Sum | Aggregate::Avg => sum_or_avg(&values, field, op),
        Aggregate::Min | Aggregate::Max => extreme(&values, field, op),
    }
}

fn sum_or_avg(values: &[&Value], field: &str, op: Aggregate) -> Result<Value, OpError> {
    let mut kind: Option<Kind> = None;
    for value in values {
        let Some(k) = Kind::of(value) else {
            return Err(OpError::new(format!(
                "{} needs numbers, but field '{field}' holds {} '{value}' (min and max also work \
                 on strings)",
                op.name(),
                article(value.type_name()),
            )));
        };
        kind = match kind {
            None => Some(k),
            Some(prev) => Some(prev.join(k).ok_or_else(|| {
                OpError::new(format!(
                    "{} cannot add {} and {} (field '{field}')",
                    op.name(),
                    prev.name(),
                    k.name()
                ))
            })?),
        };
    }
    if kind == Some(Kind::Time) && op == Aggregate::Sum {
        return Err(OpError::new(format!(
            "sum cannot add times (field '{field}'); try min, max or avg"
        )));
    }
    let Some(kind) = kind else {
        return Ok(match op {
            Aggregate::Sum => Value::Int(0),
            _ => Value::Null,
        });
    };
    // Integers of every kind add exactly; a float anywhere makes the sum a float.
    let exact: Option<i128> = values.iter().try_fold(0i128, |acc, v| match v {
        Value::Float(_) | Value::Percent(_) => None,
        Value::Bool(b) => Some(acc + i128::from(*b)),
        Value::Int(i) => Some(acc + i128::from(*i)),
        Value::Size(n) | Value::Duration(n) => Some(acc + i128::from(*n)),
        Value::Time(t) => Some(acc + i128::from(*t)),
        _ => None,
    });
    let float_sum: f64 = values.iter().filter_map(|v| v.as_f64()).sum();
    let n = values.len();
    Ok(match op {
        Aggregate::Sum => match (kind, exact) {
            (Kind::Int, Some(s)) => i64::try_from(s).map_or(Value::Float(s as f64), Value::Int),
            (Kind::Int | Kind::Float, _) => Value::Float(float_sum),
            (unit, exact) => typed(unit, exact.map_or(float_sum, |s| s as f64)),
        },
        _ => {
            let mean = exact.map_or(float_sum, |s| s as f64) / n as f64;
            match kind {
                Kind::Int | Kind::Float => Value::Float(mean),
                unit => typed(unit, mean),
            }
        }
    })
}

/// A number as a value of a unit kind, rounded to whole bytes or seconds.
fn typed(kind: Kind, x: f64) -> Value {
    let whole = x.round();
    match kind {
        Kind::Size => Value::Size(whole.max(0.0) as u64),
        Kind::Duration => Value::Duration(whole.max(0.0) as u64),
        Kind::Time => Value::Time(whole as i64),
        Kind::Int => Value::Int(whole as i64),
        Kind::Float => Value::Float(x),
        Kind::Percent => Value::Percent(x),
    }
}

fn extreme(values: &[&Value], field: &str, op: Aggregate) -> Result<Value, OpError> {
    let mut best: Option<&Value> = None;
    for value in values {
        let Some(current) = best else {
            best = Some(value);
            continue;
        };
        let order = value.compare(current).ok_or_else(|| {
            OpError::new(format!(
                "{} cannot compare {} '{value}' with {} '{current}' (field '{field}')",
                op.name(),
                article(value.type_name()),
                article(current.type_name()),
            ))
        })?;
        let better = match op {
            Aggregate::Max => order.is_gt(),
            _ => order.is_lt(),
        };
        if better {
            best = Some(value);
        }
    }
    Ok(best.cloned().unwrap_or_default())
}

fn article(type_name: &str) -> String {
    match type_name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

/// Adds each aggregate of a group's members to its record, as `sum.maxmem` and so on.
pub fn add_aggregates(
    group: &mut Record,
    members: &[Value],
    aggregates: &[(Aggregate, String)],
) -> Result<(), OpError> {
    for (op, field) in aggregates {
        group.insert(op.field_name(field), aggregate(members, field, *op)?);
    }
    Ok(())
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
