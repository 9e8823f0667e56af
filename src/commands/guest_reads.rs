//! Guest-scoped read commands: `snapshots`, `backups`, `config` (`ip` is in `guest_ip.rs`).
//!
//! A target is a VMID, a name, a selector, the guests piped in, or the current VM. Per-guest
//! trouble that is normal operation (a stopped guest, no guest agent) is reported in that guest's
//! record, never as a failure of the whole batch. These commands only read.

use std::collections::BTreeMap;

use super::read::target_guests;
use super::reads::list_records;
use super::{Arg, ArgKind, Category, Command, Ctx, Example, Output, Signature, propstring};
use crate::api::{ApiError, ApiRequest, GuestKind, endpoints};
use crate::error::Result;
use crate::inventory::Guest;
use crate::lang::fields::{self, RecordKind};
use crate::lang::{Record, Value};

const SNAPSHOT_FIELDS: &[&str] = &[
    "vmid",
    "guest",
    "name",
    "tree",
    "depth",
    "current",
    "snaptime",
    "description",
    "parent",
    "vmstate",
];
const BACKUP_FIELDS: &[&str] = &[
    "vmid",
    "guest",
    "volid",
    "ctime",
    "size",
    "format",
    "subtype",
    "storage",
    "node",
    "notes",
    "protected",
];

fn guest_head(g: &Guest) -> Record {
    Record::from_pairs([
        ("vmid", Value::Int(i64::from(g.vmid))),
        ("guest", Value::String(g.name.clone())),
    ])
}

fn field_text(v: &Value, field: &str) -> String {
    v.as_record()
        .and_then(|r| r.get(field))
        .map(Value::display)
        .unwrap_or_default()
}

/// Orders snapshots as a tree (each after its parent, siblings by time) and marks the depth.
fn snapshot_tree(items: Vec<Value>) -> Vec<(usize, Value)> {
    let mut children: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let names: Vec<String> = items.iter().map(|v| field_text(v, "name")).collect();
    for item in items {
        let parent = field_text(&item, "parent");
        let key = if names.contains(&parent) {
            parent
        } else {
            String::new()
        };
        children.entry(key).or_default().push(item);
    }
    for list in children.values_mut() {
        // `current` has no snaptime and goes last among its siblings.
        list.sort_by(|a, b| {
            let t = |v: &Value| v.as_record().and_then(|r| r.get("snaptime")).cloned();
            let (ta, tb) = (t(a), t(b));
            match (ta, tb) {
                (Some(x), Some(y)) => x.sort_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        });
    }
    let mut out = Vec::new();
    let mut stack: Vec<(usize, Value)> = children
        .remove("")
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|v| (0, v))
        .collect();
    while let Some((depth, item)) = stack.pop() {
        let name = field_text(&item, "name");
        if let Some(kids) = children.remove(&name) {
            stack.extend(kids.into_iter().rev().map(|v| (depth + 1, v)));
        }
        out.push((depth, item));
    }
    out
}

pub static SNAPSHOTS: Command = Command {
    sig: Signature {
        name: "snapshots",
        category: Category::Read,
        about: "A guest's snapshots in tree order; `current` marks where the guest is now.",
        args: &[Arg::opt(
            "vm",
            ArgKind::Vm,
            "VMID, name, unique prefix or @selector",
        )],
        action: None,
        fields: SNAPSHOT_FIELDS,
        examples: &[
            Example {
                line: "snapshots web01",
                about: "web01's snapshot tree",
            },
            Example {
                line: "snapshots @tag:prod | where current=false | count",
                about: "how many snapshots the prod guests keep",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let guests = target_guests(ctx, &call).await?;
            let mut out = Vec::new();
            for g in &guests {
                let data = ctx
                    .get(&endpoints::snapshot_list(g.kind, &g.node, g.vmid))
                    .await?;
                for (depth, item) in snapshot_tree(list_records(RecordKind::Snapshot, &data)) {
                    let Value::Record(snap) = item else { continue };
                    let name = snap.get("name").map(Value::display).unwrap_or_default();
                    let current = name == "current";
                    let mut r = guest_head(g);
                    let label = if current {
                        "current (you are here)".to_string()
                    } else {
                        name
                    };
                    let tree = if depth == 0 {
                        label
                    } else {
                        format!("{}└ {label}", "  ".repeat(depth - 1))
                    };
                    r.insert("tree", Value::String(tree));
                    r.insert("depth", Value::Int(depth as i64));
                    r.insert("current", Value::Bool(current));
                    for (k, v) in snap.iter() {
                        if k != "running" && k != "digest" {
                            r.insert(k, v.clone());
                        }
                    }
                    out.push(Value::Record(r));
                }
            }
            Ok(Output::value(Value::List(out))
                .with_columns(&["vmid", "guest", "tree", "snaptime", "description"])
                .with_empty("no snapshots"))
        })
    },
};

/// One request per storage holding backups: shared storages once, local ones once per node.
fn backup_sources(ctx: &Ctx, inv: &crate::inventory::Inventory) -> Vec<(String, String)> {
    let mut shared_done: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let online = |node: &str| {
        inv.nodes()
            .iter()
            .find(|n| n.node == node)
            .is_none_or(|n| n.status == "online")
    };
    let mut storages: Vec<_> = inv
        .storages()
        .iter()
        .filter(|s| s.content.iter().any(|c| c == "backup"))
        .filter(|s| s.status.is_empty() || s.status == "available")
        .filter(|s| online(&s.node))
        .collect();
    // Prefer the current node for shared storages, so a session's node does the reading.
    storages.sort_by_key(|s| ctx.current_node.as_deref() != Some(s.node.as_str()));
    for s in storages {
        if s.shared {
            if shared_done.contains(&s.storage.as_str()) {
                continue;
            }
            shared_done.push(&s.storage);
        }
        out.push((s.node.clone(), s.storage.clone()));
    }
    out.sort();
    out
}

pub static BACKUPS: Command = Command {
    sig: Signature {
        name: "backups",
        category: Category::Read,
        about: "Backups on every backup storage (shared ones read once), newest first.",
        args: &[Arg::opt(
            "vm",
            ArgKind::Vm,
            "only this guest's backups (default: the current VM, else all)",
        )],
        action: None,
        fields: BACKUP_FIELDS,
        examples: &[
            Example {
                line: "backups",
                about: "every backup in the cluster",
            },
            Example {
                line: "backups web01",
                about: "web01's backups",
            },
            Example {
                line: "backups | where protected=true",
                about: "backups that are protected from pruning",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let has_target =
                !call.args.positionals.is_empty() || !call.input.is_null() || ctx.current.is_some();
            let wanted: Option<Vec<u32>> = if has_target {
                Some(
                    target_guests(ctx, &call)
                        .await?
                        .iter()
                        .map(|g| g.vmid)
                        .collect(),
                )
            } else {
                None
            };
            let inv = ctx.inventory().await?;
            let only = match wanted.as_deref() {
                Some([one]) => Some(*one),
                _ => None,
            };
            let mut out = Vec::new();
            for (node, storage) in backup_sources(ctx, &inv) {
                let req = endpoints::storage_content(&node, &storage, Some("backup"), only);
                let data = match ctx.get(&req).await {
                    Ok(d) => d,
                    Err(e) => {
                        ctx.note(&format!(
                            "warning: skipped {storage} on {node}: {}",
                            e.message
                        ));
                        continue;
                    }
                };
                for item in list_records(RecordKind::Content, &data) {
                    let Value::Record(b) = item else { continue };
                    let vmid = b.get("vmid").and_then(Value::as_f64).map(|v| v as u32);
                    if let (Some(w), Some(v)) = (&wanted, vmid)
                        && !w.contains(&v)
                    {
                        continue;
                    }
                    let mut r = Record::new();
                    r.insert(
                        "vmid",
                        vmid.map_or(Value::Null, |v| Value::Int(i64::from(v))),
                    );
                    let name = vmid.and_then(|v| inv.guest(v)).map(|g| g.name.clone());
                    r.insert("guest", name.map_or(Value::Null, Value::String));
                    for (k, v) in b.iter() {
                        if k != "vmid" {
                            r.insert(k, v.clone());
                        }
                    }
                    r.insert("storage", Value::String(storage.clone()));
                    r.insert("node", Value::String(node.clone()));
                    out.push(Value::Record(r));
                }
            }
            out.sort_by(|a, b| {
                let t = |v: &Value| {
                    v.as_record()
                        .and_then(|r| r.get("ctime"))
                        .cloned()
                        .unwrap_or_default()
                };
                t(b).sort_cmp(&t(a))
                    .then(field_text(a, "volid").cmp(&field_text(b, "volid")))
            });
            Ok(Output::value(Value::List(out))
                .with_columns(&[
                    "vmid",
                    "guest",
                    "ctime",
                    "size",
                    "format",
                    "storage",
                    "notes",
                    "protected",
                ])
                .with_empty("no backups"))
        })
    },
};

/// One guest's config from its pending list: values with pending changes applied, every property
/// string expanded, and a `pending` record naming each change (`4096 → 8192`, `delete`).
fn config_record(g: &Guest, rows: &serde_json::Value) -> Value {
    let mut r = Record::from_pairs([
        ("vmid", Value::Int(i64::from(g.vmid))),
        ("node", Value::String(g.node.clone())),
        ("type", Value::String(g.kind.as_str().to_string())),
    ]);
    let mut pending = Record::new();
    for row in rows.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(key) = row.get("key").and_then(|k| k.as_str()) else {
            continue;
        };
        let current = row
            .get("value")
            .map(|v| fields::typed_field(RecordKind::Config, key, v));
        let new = row
            .get("pending")
            .map(|v| fields::typed_field(RecordKind::Config, key, v));
        let delete = row
            .get("delete")
            .is_some_and(|d| d.as_i64().unwrap_or(1) != 0);
        let raw = row.get("pending").or_else(|| row.get("value"));
        let text = match raw {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let shown = new.clone().or_else(|| current.clone()).unwrap_or_default();
        r.insert(key, shown);
        if key != "digest" {
            for (sub, v) in propstring::expand(key, &text) {
                let v = fields::retype(RecordKind::Config, &sub, v);
                r.insert(sub, v);
            }
        }
        let was = current
            .as_ref()
            .map_or("(unset)".to_string(), Value::display);
        if delete {
            pending.insert(key, Value::String(format!("delete (now {was})")));
        } else if let Some(n) = new {
            pending.insert(key, Value::String(format!("{was} → {}", n.display())));
        }
    }
    r.insert(
        "pending",
        if pending.is_empty() {
            Value::Null
        } else {
            Value::Record(pending)
        },
    );
    Value::Record(r)
}

/// The fields a config's `key: value` view leaves out, so it shows each property string once,
/// through its typed sub-fields (`boot.order`, `meta.ctime` as a time) rather than also as its
/// raw text (`boot: order=...`), and no `pending` line when nothing is pending. The record keeps
/// them all, for pipes and JSON.
fn view_hidden(r: &Record) -> Vec<String> {
    let expanded = |k: &str| {
        r.fields()
            .any(|f| f.len() > k.len() + 1 && f.starts_with(k) && f.as_bytes()[k.len()] == b'.')
    };
    r.iter()
        .filter(|(k, v)| expanded(k) || (*k == "pending" && v.is_null()))
        .map(|(k, _)| k.to_string())
        .collect()
}

fn pending_request(g: &Guest) -> ApiRequest {
    match g.kind {
        GuestKind::Qemu => endpoints::qemu_pending(&g.node, g.vmid),
        GuestKind::Lxc => ApiRequest::get(format!("{}/pending", g.api_path())),
    }
}

/// A guest's config as `GET .../pending` rows. A server without that call (it answers 501, or
/// 404) gets `GET .../config` instead, read as rows without pending values; `said` makes the
/// note about it come once per command.
async fn config_rows(ctx: &mut Ctx, g: &Guest, said: &mut bool) -> Result<serde_json::Value> {
    match ctx.get_or_api_error(&pending_request(g)).await {
        Ok(rows) => Ok(rows),
        Err(ApiError::Http {
            status: 501 | 404, ..
        }) => {
            if !std::mem::replace(said, true) {
                ctx.note(&format!(
                    "this server has no GET {}/pending: showing the config without pending changes",
                    g.api_path()
                ));
            }
            let config = ctx
                .get(&endpoints::guest_config(g.kind, &g.node, g.vmid))
                .await?;
            Ok(config_as_rows(&config))
        }
        Err(e) => Err(e.into()),
    }
}

/// `{key: value, ...}` (`GET .../config`) as the rows `GET .../pending` gives: `[{key, value}]`.
fn config_as_rows(config: &serde_json::Value) -> serde_json::Value {
    let rows = config
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                .collect()
        })
        .unwrap_or_default();
    serde_json::Value::Array(rows)
}

pub static CONFIG: Command = Command {
    sig: Signature {
        name: "config",
        category: Category::Read,
        about: "A guest's configuration: pending changes applied and listed, net0 & co. expanded.",
        args: &[Arg::opt(
            "vm",
            ArgKind::Vm,
            "VMID, name, unique prefix or @selector",
        )],
        action: None,
        fields: &[
            "vmid",
            "node",
            "type",
            "name",
            "cores",
            "memory",
            "net0",
            "net0.bridge",
            "net0.macaddr",
            "scsi0",
            "scsi0.size",
            "tags",
            "pending",
        ],
        examples: &[
            Example {
                line: "config web01",
                about: "web01's configuration",
            },
            Example {
                line: "config @all | where net0.bridge=vmbr0 | get vmid",
                about: "the guests on bridge vmbr0",
            },
            Example {
                line: "config web01 | get pending",
                about: "what changes on the next restart",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let guests = target_guests(ctx, &call).await?;
            let mut out = Vec::with_capacity(guests.len());
            let mut said = false;
            for g in &guests {
                let rows = config_rows(ctx, g, &mut said).await?;
                out.push(config_record(g, &rows));
            }
            if out.len() == 1 && call.input.is_null() {
                let one = out.remove(0);
                let hidden = one.as_record().map(view_hidden).unwrap_or_default();
                return Ok(Output::value(one).with_hidden(hidden));
            }
            Ok(Output::value(Value::List(out))
                .with_columns(&["vmid", "name", "node", "type", "cores", "memory", "pending"])
                .with_empty("no guests"))
        })
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snapshots_come_in_tree_order() {
        let items = list_records(
            RecordKind::Snapshot,
            &json!([
                {"name": "current", "parent": "b2", "description": "You are here!"},
                {"name": "b2", "parent": "a", "snaptime": 300},
                {"name": "a", "snaptime": 100},
                {"name": "b1", "parent": "a", "snaptime": 200},
                {"name": "c", "parent": "b1", "snaptime": 250},
            ]),
        );
        let got: Vec<(usize, String)> = snapshot_tree(items)
            .into_iter()
            .map(|(d, v)| (d, field_text(&v, "name")))
            .collect();
        let want: Vec<(usize, String)> = [(0, "a"), (1, "b1"), (2, "c"), (1, "b2"), (2, "current")]
            .iter()
            .map(|(d, n)| (*d, n.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
