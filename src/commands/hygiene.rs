//! Storage hygiene: `orphans` finds the disk volumes no guest config uses (and the detached
//! `unusedN` disks), `delete-volume` stages their deletion.
//!
//! `orphans` only reads: the content of each storage holding disk images (a shared storage
//! once, a local one per node) and the configs of the guests owning a volume found there.
//! `delete-volume` refuses a volume a guest still uses as a disk, with the wording of PVE's
//! web interface; an `unusedN` disk is removed through its guest's config (`delete=unusedN`),
//! which drops the key and the volume together, as PVE does.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::actions::{stage, target_of};
use super::reads::{known_node, list_records};
use super::{Arg, ArgKind, Call, Category, Command, Ctx, Example, Output, Signature};
use crate::api::endpoints;
use crate::error::{Error, Result};
use crate::inventory::{Guest, Inventory};
use crate::lang::{Record, Value};
use crate::staging::{Action, ActionKind, ConfigChange, Op, Precondition, Target, policy};

const ORPHAN_COLUMNS: &[&str] = &["storage", "node", "volid", "size", "vmid", "why"];
const ORPHAN_FIELDS: &[&str] = &["storage", "node", "volid", "size", "vmid", "why", "key"];
/// The content types that hold guest disks.
const DISK_CONTENT: &[&str] = &["images", "rootdir"];

/// The owner VMID in a disk volume's name: `vm-105-disk-1`, `base-9000-disk-0`,
/// `subvol-200-disk-0` (a linked clone `base-9000-disk-0/vm-123-disk-0` belongs to 123).
fn owner_of(volid: &str) -> Option<u32> {
    let name = volid.split_once(':').map_or(volid, |(_, n)| n);
    let name = name.rsplit('/').next().unwrap_or(name);
    let rest = ["vm-", "base-", "subvol-"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    rest.split('-').next()?.parse().ok()
}

/// The volid a config value points at: the part before the first comma.
fn volid_of_value(v: &str) -> &str {
    v.split(',').next().unwrap_or(v)
}

/// How a guest's config uses `volid`: `Some("scsi1")`, `Some("unused0")`, or `None`.
fn use_in(cfg: &Map<String, Json>, volid: &str) -> Option<String> {
    cfg.iter()
        .find(|(_, v)| v.as_str().is_some_and(|s| volid_of_value(s) == volid))
        .map(|(k, _)| k.clone())
}

async fn read_config(ctx: &Ctx, g: &Guest) -> Result<Map<String, Json>> {
    let data = ctx
        .get(&endpoints::guest_config(g.kind, &g.node, g.vmid))
        .await?;
    Ok(data.as_object().cloned().unwrap_or_default())
}

/// The (storage, node) pairs to read: a shared storage once, a local one per node.
fn places(inv: &Inventory, only: Option<&str>) -> Vec<(String, String, bool)> {
    let mut out: Vec<(String, String, bool)> = Vec::new();
    for s in inv.storages() {
        if only.is_some_and(|o| o != s.storage)
            || s.status != "available"
            || !s.content.iter().any(|c| DISK_CONTENT.contains(&c.as_str()))
        {
            continue;
        }
        if s.shared && out.iter().any(|(id, _, _)| *id == s.storage) {
            continue;
        }
        out.push((s.storage.clone(), s.node.clone(), s.shared));
    }
    out.sort();
    out
}

async fn orphans(ctx: &mut Ctx, call: &Call) -> Result<Output> {
    let only = call.args.positionals.first().map(|w| w.text.clone());
    let inv = ctx.inventory().await?;
    if let Some(o) = &only
        && !inv.storages().iter().any(|s| s.storage == *o)
    {
        let mut names: Vec<&str> = inv.storages().iter().map(|s| s.storage.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        return Err(Error::not_found(format!("no storage '{o}'"))
            .hinted(format!("storages: {}", names.join(", "))));
    }
    // (storage, node, shared, volid, size, owner)
    let mut found: Vec<(String, String, bool, String, Value, Option<u32>)> = Vec::new();
    for (storage, node, shared) in places(&inv, only.as_deref()) {
        let data = ctx
            .get(&endpoints::storage_content(&node, &storage, None, None))
            .await?;
        for item in list_records(crate::lang::fields::RecordKind::Content, &data) {
            let Some(r) = item.as_record() else { continue };
            let content = r.get("content").map(Value::display).unwrap_or_default();
            if !DISK_CONTENT.contains(&content.as_str()) {
                continue;
            }
            let volid = r.get("volid").map(Value::display).unwrap_or_default();
            let size = r.get("size").cloned().unwrap_or(Value::Null);
            let owner = match r.get("vmid") {
                Some(Value::Int(i)) => u32::try_from(*i).ok(),
                _ => owner_of(&volid),
            };
            found.push((storage.clone(), node.clone(), shared, volid, size, owner));
        }
    }
    let mut configs: BTreeMap<u32, Map<String, Json>> = BTreeMap::new();
    let mut rows = Vec::new();
    for (storage, node, shared, volid, size, owner) in found {
        let guest = owner.and_then(|id| inv.guest(id));
        let why = match (owner, guest) {
            (None, _) => continue,
            (Some(id), None) => (format!("no guest {id}"), None),
            // A local volume on another node than its guest's is not the guest's disk.
            (Some(_), Some(g)) if !shared && g.node != node => {
                (format!("not on {}'s node ({})", g.label(), g.node), None)
            }
            (Some(id), Some(g)) => {
                let cfg = match configs.get(&id) {
                    Some(cfg) => cfg.clone(),
                    None => {
                        let cfg = read_config(ctx, g).await?;
                        configs.insert(id, cfg.clone());
                        cfg
                    }
                };
                match use_in(&cfg, &volid) {
                    Some(k) if k.starts_with("unused") => (format!("{k} of {}", g.name), Some(k)),
                    Some(_) => continue,
                    None => (format!("not in {id}'s config"), None),
                }
            }
        };
        let mut r = Record::new();
        r.insert("storage", Value::String(storage));
        r.insert("node", Value::String(node));
        r.insert("volid", Value::String(volid));
        r.insert("size", size);
        r.insert(
            "vmid",
            owner.map_or(Value::Null, |v| Value::Int(i64::from(v))),
        );
        r.insert("why", Value::String(why.0));
        r.insert("key", why.1.map_or(Value::Null, Value::String));
        rows.push(Value::Record(r));
    }
    Ok(Output::value(Value::List(rows))
        .with_columns(ORPHAN_COLUMNS)
        .with_empty("no orphaned volumes: every disk volume is in a guest's config"))
}

pub static ORPHANS: Command = Command {
    sig: Signature {
        name: "orphans",
        category: Category::Read,
        about: "Disk volumes no guest config uses, and the guests' unused (detached) disks.",
        args: &[Arg::opt(
            "storage",
            ArgKind::Storage,
            "only this storage (default: every storage holding disk images)",
        )],
        action: None,
        fields: ORPHAN_FIELDS,
        examples: &[
            Example {
                line: "orphans",
                about: "every volume left behind, with why it counts as orphaned",
            },
            Example {
                line: "orphans local-lvm | where why =~ 'no guest'",
                about: "the volumes whose guest is gone",
            },
        ],
    },
    run: |ctx, call| Box::pin(async move { orphans(ctx, &call).await }),
};

// ---- delete-volume ---------------------------------------------------------------------------

/// One volume to delete: its volid, and the node to delete it through when known.
struct Wanted {
    volid: String,
    node: Option<String>,
}

fn wanted(call: &Call) -> Vec<Wanted> {
    let node = super::flag_text(call, "node");
    let words: Vec<Wanted> = call
        .args
        .positionals
        .iter()
        .map(|w| Wanted {
            volid: w.text.clone(),
            node: node.clone(),
        })
        .collect();
    if !words.is_empty() {
        return words;
    }
    let items: Vec<&Value> = match &call.input {
        Value::List(items) => items.iter().collect(),
        v @ Value::Record(_) => vec![v],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|v| {
            let r = v.as_record()?;
            let volid = r.get("volid")?.display();
            let node = node
                .clone()
                .or_else(|| r.get("node").map(Value::display))
                .filter(|n| !n.is_empty());
            Some(Wanted { volid, node })
        })
        .collect()
}

/// The node holding `volid` on its storage: the given one, the only node with the storage (or
/// any, for a shared one), else the one whose content lists it.
async fn node_of(ctx: &Ctx, inv: &Inventory, w: &Wanted, storage: &str) -> Result<String> {
    let holders: Vec<&crate::inventory::StorageEntry> = inv
        .storages()
        .iter()
        .filter(|s| s.storage == storage)
        .collect();
    if holders.is_empty() {
        return Err(Error::not_found(format!("no storage '{storage}'")));
    }
    if let Some(n) = &w.node {
        known_node(inv, n)?;
        return Ok(n.clone());
    }
    if holders.len() == 1 || holders[0].shared {
        return Ok(holders[0].node.clone());
    }
    let mut on = Vec::new();
    for h in holders {
        let data = ctx
            .get(&endpoints::storage_content(&h.node, storage, None, None))
            .await?;
        let has = list_records(crate::lang::fields::RecordKind::Content, &data)
            .iter()
            .any(|v| {
                v.as_record()
                    .and_then(|r| r.get("volid"))
                    .is_some_and(|id| id.display() == w.volid)
            });
        if has {
            on.push(h.node.clone());
        }
    }
    match on.len() {
        0 => Err(Error::not_found(format!("no volume '{}'", w.volid))
            .hinted(format!("see `content {storage}` or `orphans {storage}`"))),
        1 => Ok(on.remove(0)),
        _ => Err(Error::usage(format!(
            "'{}' exists on {}: say which with --node",
            w.volid,
            on.join(", ")
        ))),
    }
}

async fn plan_delete(ctx: &mut Ctx, call: &Call) -> Result<Vec<Action>> {
    let list = wanted(call);
    if list.is_empty() && call.input.is_null() {
        return Err(Error::usage("delete-volume needs a volume").hinted(
            "for example: delete-volume local-lvm:vm-999-disk-0, or orphans | delete-volume",
        ));
    }
    let inv = ctx.inventory().await?;
    let mut actions = Vec::new();
    for w in list {
        let Some((storage, _)) = w.volid.split_once(':') else {
            return Err(Error::usage(format!(
                "'{}' is not a volume id (STORAGE:NAME)",
                w.volid
            )));
        };
        let storage = storage.to_string();
        let node = node_of(ctx, &inv, &w, &storage).await?;
        let shared = inv
            .storages()
            .iter()
            .any(|s| s.storage == storage && s.shared);
        let guest = owner_of(&w.volid)
            .and_then(|id| inv.guest(id))
            .filter(|g| shared || g.node == node)
            .cloned();
        if let Some(g) = guest {
            let cfg = read_config(ctx, &g).await?;
            match use_in(&cfg, &w.volid) {
                Some(k) if k.starts_with("unused") => {
                    if let Some(reason) =
                        policy::protection_reason(&ctx.config, g.vmid, &g.name, &g.tags, Some(&cfg))
                    {
                        return Err(policy::protected_error(
                            &g.label(),
                            "delete a disk of",
                            &reason,
                        ));
                    }
                    let mut change = ConfigChange::of([("delete".to_string(), k.clone())]);
                    change.before.insert("delete".into(), w.volid.clone());
                    change.risk = Some(format!("deletes the unused disk {k} ({})", w.volid));
                    let pre = Precondition {
                        digest: policy::config_text(&cfg, "digest"),
                        node: g.node.clone(),
                        status: g.status.clone(),
                    };
                    actions.push(Action::new(Op::Set(change), target_of(&g), pre));
                    continue;
                }
                Some(k) => {
                    return Err(Error::usage(format!(
                        "Cannot remove image, a guest with VMID '{}' exists!",
                        g.vmid
                    ))
                    .hinted(format!(
                        "{} uses it as {k}: detach it first (`disk detach {} {k}`), then delete the unused disk",
                        g.label(),
                        g.vmid
                    )));
                }
                None => {}
            }
        }
        actions.push(Action::on(
            Op::DeleteVolume {
                storage,
                volume: w.volid.clone(),
            },
            Target::node(&node),
            "",
        ));
    }
    Ok(actions)
}

pub static DELETE_VOLUME: Command = Command {
    sig: Signature {
        name: "delete-volume",
        category: Category::Change,
        about: "Delete volumes from their storage (staged); an unused disk leaves its guest's config too.",
        args: &[
            Arg::opt(
                "volid",
                ArgKind::Text,
                "volume ids (STORAGE:NAME), or the records piped in (`orphans | delete-volume`)",
            ),
            Arg::flag(
                "--node",
                ArgKind::Node,
                "the node holding the volumes (local storages)",
            ),
            Arg::switch("--dry-run", "show the plan; stage and send nothing"),
        ],
        action: Some(ActionKind::DeleteVolume),
        fields: crate::staging::OUTCOME_COLUMNS,
        examples: &[
            Example {
                line: "delete-volume local-lvm:vm-999-disk-0 --node pve2",
                about: "stage deleting the disk guest 999 left behind",
            },
            Example {
                line: "orphans local-lvm | delete-volume --dry-run",
                about: "the plan for removing every orphan on local-lvm",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let actions = plan_delete(ctx, &call).await?;
            if actions.is_empty() {
                return Ok(Output::value(Value::List(Vec::new())).with_empty("nothing to delete"));
            }
            if call.args.has_flag("dry-run") {
                let records = super::pending::pending_records(&actions, 1);
                ctx.note("dry run: nothing staged, nothing sent");
                return Ok(Output::value(records).with_columns(super::pending::PENDING_COLUMNS));
            }
            stage(ctx, actions)
        })
    },
};
