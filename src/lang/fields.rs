//! Field types per record kind: the one place that says what a PVE field holds, so `ls`,
//! `status`, `config`, `snapshots`, `backups`, raw `get` and `--json` all show a field the same way.
//!
//! PVE reuses names with other meanings: `cpu` is a load fraction in a guest's status and a CPU
//! model in its config; `swap` is bytes in a container's status and MiB in its config. So the
//! type of a field depends on the kind of record it is in ([`RecordKind`]), and [`typed`] turns a
//! JSON object of that kind into a record. A value of an unexpected shape stays as it came, and
//! numbers that PVE serves as strings (`"disk": "34359738368"`) are read as numbers.
//!
//! The rules every kind shares: an epoch of 0 is no time (null, shown as nothing); tags are a
//! list (`prod;web` → `[prod, web]`); sizes are bytes, durations seconds, times unix seconds.

use serde_json::Value as Json;

use super::units;
use super::value::Value;

/// The kinds of record pvesh+ reads from PVE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A guest: `/cluster/resources` rows, `status/current`, the records of `ls` and `ps`.
    Guest,
    /// A node: `/nodes`, `/nodes/{node}/status`.
    Node,
    /// A storage: `/storage`, `/nodes/{node}/storage`.
    Storage,
    /// A volume on a storage, backups among them: `.../storage/{storage}/content`.
    Content,
    /// A snapshot: `.../snapshot`.
    Snapshot,
    /// A task: `/cluster/tasks`, `/nodes/{node}/tasks`.
    Task,
    /// A guest config (`.../config`, `.../pending`): `memory`, `swap` and `balloon` are MiB,
    /// `cpu` is a model, disk `size` sub-fields are size strings (`32G`).
    Config,
    /// Anything else: the well-known names typed as most endpoints use them.
    Any,
}

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Bytes.
    Size,
    /// Mebibytes (config `memory`, `swap`), held as bytes.
    Mebibytes,
    /// A size string with a unit as PVE writes it in configs (`32G`), or bytes.
    SizeText,
    /// Seconds.
    Duration,
    /// Unix seconds; 0 is no time.
    Time,
    /// A fraction shown as a percentage (`cpu` 0.17 → 17.0%).
    Percent,
    /// A list of tags (`prod;web`).
    Tags,
    /// A comma-separated list (`content` `images,rootdir`).
    List,
    /// A 0/1 flag as a boolean.
    Flag,
}

/// The type of `field` in a record of `kind`, or `None` when it is taken as it comes.
pub fn field_type(kind: RecordKind, field: &str) -> Option<FieldType> {
    use FieldType::*;
    use RecordKind as K;
    let common = match field {
        "tags" => Some(Tags),
        "ctime" | "starttime" | "endtime" | "snaptime" | "time" | "expire" => Some(Time),
        "uptime" => Some(Duration),
        _ => None,
    };
    let specific = match kind {
        K::Guest | K::Node | K::Any => match field {
            "mem" | "maxmem" | "disk" | "maxdisk" | "swap" | "maxswap" | "netin" | "netout"
            | "diskread" | "diskwrite" | "freemem" => Some(Size),
            "cpu" => Some(Percent),
            "template" if kind == K::Guest => Some(Flag),
            "size" | "used" | "avail" | "total" | "free" if kind == K::Any => Some(Size),
            _ => None,
        },
        K::Storage => match field {
            "disk" | "maxdisk" | "used" | "avail" | "total" => Some(Size),
            "used_fraction" => Some(Percent),
            "shared" | "active" | "enabled" => Some(Flag),
            "content" => Some(List),
            _ => None,
        },
        K::Content => match field {
            "size" | "used" => Some(Size),
            "protected" => Some(Flag),
            _ => None,
        },
        K::Snapshot => match field {
            "vmstate" => Some(Flag),
            _ => None,
        },
        K::Task => None,
        K::Config => match field {
            "memory" | "memory.current" | "swap" | "balloon" => Some(Mebibytes),
            "meta.ctime" => Some(Time),
            _ if field.ends_with(".size") => Some(SizeText),
            _ => None,
        },
    };
    specific.or(match kind {
        // Config keys are not status fields: only `tags` is shared (`uptime` is no key there).
        K::Config => common.filter(|t| *t == Tags),
        _ => common,
    })
}

/// One field's JSON value as a value of its type in a record of `kind`.
pub fn typed_field(kind: RecordKind, field: &str, json: &Json) -> Value {
    match field_type(kind, field) {
        Some(t) => convert(t, json).unwrap_or_else(|| plain(kind, json)),
        None => plain(kind, json),
    }
}

/// A JSON object (or a list of them, or anything) as records of `kind`.
pub fn typed(kind: RecordKind, json: &Json) -> Value {
    match json {
        Json::Array(items) => Value::List(items.iter().map(|i| typed(kind, i)).collect()),
        Json::Object(map) => Value::Record(
            map.iter()
                .map(|(k, v)| (k.clone(), typed_field(kind, k, v)))
                .collect(),
        ),
        other => plain(kind, other),
    }
}

/// Converts an already built value (a config sub-field, a number from a struct) to `field`'s
/// type in `kind`; values that do not fit stay as they are.
pub fn retype(kind: RecordKind, field: &str, value: Value) -> Value {
    let Some(t) = field_type(kind, field) else {
        return value;
    };
    let json = match &value {
        Value::Null => return value,
        Value::String(s) => Json::String(s.clone()),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Bool(b) => Json::Bool(*b),
        _ => return value,
    };
    convert(t, &json).unwrap_or(value)
}

/// A value with no field type: config values that are whole numbers written as strings become
/// numbers (leading zeros stay text: `0x1` and ids must not change); the rest as it comes.
fn plain(kind: RecordKind, json: &Json) -> Value {
    match json {
        Json::String(s) if kind == RecordKind::Config => match s.parse::<i64>() {
            Ok(i) if !s.starts_with('0') || s == "0" => Value::Int(i),
            _ => Value::String(s.clone()),
        },
        Json::Array(_) | Json::Object(_) => typed(kind, json),
        other => Value::from_json(other),
    }
}

/// A number, also when PVE sends it as a string.
fn number(json: &Json) -> Option<f64> {
    match json {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix('-').unwrap_or(t);
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
                .then(|| t.parse().ok())
                .flatten()
        }
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

fn whole(json: &Json) -> Option<u64> {
    match json {
        Json::Number(n) if n.as_u64().is_some() => n.as_u64(),
        _ => number(json).filter(|f| *f >= 0.0).map(|f| f.round() as u64),
    }
}

fn convert(t: FieldType, json: &Json) -> Option<Value> {
    match t {
        FieldType::Size => whole(json).map(Value::Size),
        FieldType::Mebibytes => whole(json).map(|m| Value::Size(m.saturating_mul(1 << 20))),
        FieldType::SizeText => match json {
            Json::String(s) => units::parse_size(s).map(Value::Size),
            other => whole(other).map(Value::Size),
        },
        FieldType::Duration => whole(json).map(Value::Duration),
        FieldType::Time => match number(json)? {
            0.0 => Some(Value::Null),
            t => Some(Value::Time(t.round() as i64)),
        },
        FieldType::Percent => number(json).map(Value::Percent),
        FieldType::Tags => match json {
            Json::String(s) => Some(Value::List(
                s.split([';', ',', ' '])
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_string()))
                    .collect(),
            )),
            Json::Array(items) => Some(Value::List(items.iter().map(Value::from_json).collect())),
            _ => None,
        },
        FieldType::List => match json {
            Json::String(s) => Some(Value::List(
                s.split(',')
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_string()))
                    .collect(),
            )),
            _ => None,
        },
        FieldType::Flag => match json {
            Json::Bool(b) => Some(Value::Bool(*b)),
            other => number(other).map(|n| Value::Bool(n != 0.0)),
        },
    }
}

/// The record kind of what an API path returns, for raw `get PATH`.
pub fn kind_of_path(path: &str) -> RecordKind {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["cluster", "resources"] => RecordKind::Guest,
        ["nodes"] | ["nodes", _, "status"] => RecordKind::Node,
        ["nodes", _, "qemu" | "lxc", _, "status", "current"] => RecordKind::Guest,
        ["nodes", _, "qemu" | "lxc", _, "config" | "pending"] => RecordKind::Config,
        ["nodes", _, "qemu" | "lxc", _, "snapshot"] => RecordKind::Snapshot,
        ["nodes", _, "qemu" | "lxc", _, "snapshot", _, "config"] => RecordKind::Config,
        ["nodes", _, "storage", _, "content", ..] => RecordKind::Content,
        ["storage"] | ["nodes", _, "storage"] | ["nodes", _, "storage", _, "status"] => {
            RecordKind::Storage
        }
        ["cluster", "tasks"] | ["nodes", _, "tasks"] => RecordKind::Task,
        _ => RecordKind::Any,
    }
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
