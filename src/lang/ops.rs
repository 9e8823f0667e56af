//! Record operations behind the pipeline commands `where select sort-by first last count get
//! uniq group-by`.
//!
//! Pure functions from values to values; they take the stream by value where they reorder or
//! drop items so nothing is cloned needlessly. They must not print or decide output formats. A
//! field that no record has is an error naming the fields that exist; a field that only some
//! records lack reads as null.

use std::collections::HashSet;

use indexmap::IndexMap;

use super::aggregate::{Aggregate, add_aggregates};
use super::filter::Expr;
use super::value::{Record, Value};

/// An error from a record operation, e.g. an unknown field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OpError {
    pub message: String,
}

impl OpError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        OpError {
            message: message.into(),
        }
    }
}

/// Keeps the records the filter accepts; non-record items never pass. A field the filter reads
/// that no record has is an error, as in [`select`] (a typo would otherwise match nothing).
pub fn filter(items: Vec<Value>, expr: &Expr) -> Result<Vec<Value>, OpError> {
    for (field, _) in expr.fields() {
        check_field(&items, field)?;
    }
    Ok(items
        .into_iter()
        .filter(|v| v.as_record().is_some_and(|r| expr.eval(r)))
        .collect())
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo: at most one
/// edit (a swap of two neighbours counts as one) per three characters, and at least one.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Keeps only the named fields, in the order given. Records lacking one get null there.
pub fn select(items: Vec<Value>, fields: &[&str]) -> Result<Vec<Value>, OpError> {
    if fields.is_empty() {
        return Err(OpError::new(
            "select needs at least one field name, e.g. select vmid name",
        ));
    }
    for field in fields {
        check_field(&items, field)?;
    }
    Ok(items
        .into_iter()
        .map(|item| match item {
            Value::Record(r) => Value::Record(
                fields
                    .iter()
                    .map(|f| (f.to_string(), r.get_path(f).cloned().unwrap_or_default()))
                    .collect(),
            ),
            other => other,
        })
        .collect())
}

/// Sorts by a field: stable, typed (numbers as numbers, sizes as bytes, strings in natural order
/// so `web2` precedes `web10`), nulls and missing fields last in both directions.
pub fn sort_by(mut items: Vec<Value>, field: &str, reverse: bool) -> Result<Vec<Value>, OpError> {
    check_field(&items, field)?;
    let null = Value::Null;
    items.sort_by(|a, b| {
        let x = field_of(a, field).unwrap_or(&null);
        let y = field_of(b, field).unwrap_or(&null);
        match (x.is_null(), y.is_null(), reverse) {
            (false, false, true) => y.sort_cmp(x),
            _ => x.sort_cmp(y),
        }
    });
    Ok(items)
}

/// The first `n` items.
pub fn first(mut items: Vec<Value>, n: usize) -> Vec<Value> {
    items.truncate(n);
    items
}

/// The last `n` items, in their original order.
pub fn last(mut items: Vec<Value>, n: usize) -> Vec<Value> {
    let skip = items.len().saturating_sub(n);
    items.drain(..skip);
    items
}

/// The number of items.
pub fn count(items: &[Value]) -> Value {
    Value::Int(i64::try_from(items.len()).unwrap_or(i64::MAX))
}

/// The values of one field, one per record (null where a record lacks it).
pub fn get(items: &[Value], field: &str) -> Result<Vec<Value>, OpError> {
    check_field(items, field)?;
    Ok(items
        .iter()
        .map(|item| field_of(item, field).cloned().unwrap_or_default())
        .collect())
}

/// Drops repeated items, keeping the first of each. Equality is by value across numeric kinds
/// (as in JSON output), so `Int(1)` and `Size(1)` count as the same.
pub fn uniq(items: Vec<Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.to_json().to_string()))
        .collect()
}

/// Groups records by a field's value, in order of first appearance. Each group is a record
/// `{<field>: value, count: n, items: [...]}`; records lacking the field form a group with a
/// null key.
pub fn group_by(items: Vec<Value>, field: &str) -> Result<Vec<Value>, OpError> {
    group_by_with(items, field, &[])
}

/// Like [`group_by`], with aggregates of each group's members between `count` and `items`:
/// `(Sum, "maxmem")` adds the field `sum.maxmem` (see [`super::aggregate::aggregate`]). Every
/// aggregated field is checked against the whole stream first, so a typo is an error even
/// where one group lacks it.
pub fn group_by_with(
    items: Vec<Value>,
    field: &str,
    aggregates: &[(Aggregate, String)],
) -> Result<Vec<Value>, OpError> {
    check_field(&items, field)?;
    for (_, name) in aggregates {
        check_field(&items, name)?;
    }
    let mut groups: IndexMap<String, (Value, Vec<Value>)> = IndexMap::new();
    for item in items {
        let key = field_of(&item, field).cloned().unwrap_or_default();
        let entry = groups
            .entry(key.to_json().to_string())
            .or_insert_with(|| (key, Vec::new()));
        entry.1.push(item);
    }
    groups
        .into_values()
        .map(|(key, members)| {
            let mut group = Record::new();
            group.insert(field, key);
            group.insert("count", count(&members));
            add_aggregates(&mut group, &members, aggregates)?;
            group.insert("items", Value::List(members));
            Ok(Value::Record(group))
        })
        .collect()
}

pub(super) fn field_of<'a>(item: &'a Value, field: &str) -> Option<&'a Value> {
    item.as_record()?.get_path(field)
}

/// Errors unless some record has the field (an empty stream has every field). Items that are
/// not records make it an error too: these operations need records.
pub(super) fn check_field(items: &[Value], field: &str) -> Result<(), OpError> {
    if items.is_empty() {
        return Ok(());
    }
    if items.iter().any(|item| field_of(item, field).is_some()) {
        return Ok(());
    }
    if !items.iter().any(|item| item.as_record().is_some()) {
        let kind = items.first().map_or("value", Value::type_name);
        return Err(OpError::new(format!(
            "no field '{field}': the input is a list of {kind} values, not records"
        )));
    }
    let mut available: Vec<&str> = Vec::new();
    for record in items.iter().filter_map(Value::as_record) {
        for name in record.fields() {
            if !available.contains(&name) {
                available.push(name);
            }
        }
    }
    let mut message = format!("no field '{field}'");
    if let Some(best) = did_you_mean(field, available.iter().copied()) {
        message.push_str(&format!(" (did you mean {best}?)"));
    }
    message.push_str(&format!("; available fields: {}", available.join(", ")));
    Err(OpError::new(message))
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
