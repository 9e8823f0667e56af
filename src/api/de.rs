//! Lenient field decoders for PVE answers.
//!
//! PVE (Perl) is loose about JSON types (FACTS §1, §6): numbers arrive as strings (`"100"`),
//! strings as numbers (a name of digits). Each function here accepts both for one target type,
//! and `null`/absent as `None`.
//! Use with `#[serde(default, deserialize_with = "de::opt_u64")]`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

fn to_i128(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e18)
                    .map(|f| f as i128)
            }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn opt_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.filter(|v| !v.is_null()))
}

fn int<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
    d: D,
    what: &str,
) -> Result<Option<T>, D::Error> {
    match opt_value(d)? {
        None => Ok(None),
        Some(v) => to_i128(&v)
            .and_then(|i| T::try_from(i).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected {what}, got {v}"))),
    }
}

pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    int(d, "a non-negative integer")
}

pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    int(d, "an integer")
}

/// A required integer that may come as a string.
pub fn u64_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    opt_u64(d)?.ok_or_else(|| D::Error::custom("expected an integer, got null"))
}

pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    match opt_value(d)? {
        None => Ok(None),
        Some(v) => to_f64(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a number, got {v}"))),
    }
}

/// A string that may come as a number (e.g. a name or id of digits).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match opt_value(d)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(v) => Err(D::Error::custom(format!("expected a string, got {v}"))),
    }
}

/// A required string that may come as a number.
pub fn string_lenient<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_string(d)?.ok_or_else(|| D::Error::custom("expected a string, got null"))
}
