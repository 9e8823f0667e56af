//! Cluster-wide read commands: `ps`, `storage`, `content`, `pools`, `tags`, `templates`,
//! `backup-jobs`.
//!
//! Each produces records with PVE's field names, typed through [`Value::from_pve_json`]. The
//! guest-scoped reads (`snapshots`, `backups`, `config`, `ip`) live in `guest_reads.rs`. These
//! commands only read; they never change the cluster.

use super::read::{GUEST_FIELDS, guest_record};
use super::{Arg, ArgKind, Category, Command, Ctx, Example, Output, Signature, flag_text};
use crate::api::endpoints;
use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::lang::fields::{self, RecordKind};
use crate::lang::{Record, Value};

const PS_COLUMNS: &[&str] = &[
    "vmid", "name", "node", "type", "cpu", "mem", "maxmem", "uptime", "tags",
];
const TEMPLATE_COLUMNS: &[&str] = &["vmid", "name", "node", "type", "maxmem", "maxdisk", "tags"];
const STORAGE_FIELDS: &[&str] = &[
    "storage",
    "node",
    "plugintype",
    "type",
    "content",
    "status",
    "shared",
    "disk",
    "maxdisk",
    "used",
    "avail",
    "total",
    "used_fraction",
    "active",
    "enabled",
];
const CONTENT_FIELDS: &[&str] = &[
    "volid",
    "content",
    "format",
    "size",
    "used",
    "ctime",
    "vmid",
    "notes",
    "protected",
    "verification",
    "storage",
    "node",
];
const POOL_FIELDS: &[&str] = &["poolid", "comment", "guests"];
const TAG_FIELDS: &[&str] = &["tag", "count"];
const BACKUP_JOB_FIELDS: &[&str] = &[
    "id",
    "schedule",
    "storage",
    "guests",
    "mode",
    "retention",
    "next_run",
    "enabled",
];
/// `prune-backups` keys in the order PVE documents them.
const KEEP_KEYS: &[&str] = &[
    "keep-all",
    "keep-last",
    "keep-hourly",
    "keep-daily",
    "keep-weekly",
    "keep-monthly",
    "keep-yearly",
];

/// The `data` of a list endpoint as records of `kind` (see [`crate::lang::fields`]).
pub(super) fn list_records(kind: RecordKind, data: &serde_json::Value) -> Vec<Value> {
    match fields::typed(kind, data) {
        Value::List(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Checks a node name against the inventory, with the known names as the hint.
pub(super) fn known_node(inv: &Inventory, node: &str) -> Result<()> {
    if inv.has_node(node) || inv.nodes().is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = inv.nodes().iter().map(|n| n.node.as_str()).collect();
    Err(Error::not_found(format!("no node '{node}'"))
        .hinted(format!("nodes: {}", names.join(", "))))
}

pub static PS: Command = Command {
    sig: Signature {
        name: "ps",
        category: Category::Read,
        about: "Running guests across the cluster (one request), busiest first.",
        args: &[],
        action: None,
        fields: GUEST_FIELDS,
        examples: &[
            Example {
                line: "ps",
                about: "what is running, by CPU load",
            },
            Example {
                line: "ps | where node=pve1 | count",
                about: "how many guests run on pve1",
            },
        ],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let inv = ctx.refresh().await?;
            let mut running: Vec<_> = inv
                .guests()
                .iter()
                .filter(|g| g.status == "running")
                .collect();
            running.sort_by(|a, b| b.cpu.total_cmp(&a.cpu).then(a.vmid.cmp(&b.vmid)));
            let items = running.into_iter().map(guest_record).collect();
            Ok(Output::value(Value::List(items))
                .with_columns(PS_COLUMNS)
                .with_empty("no running guests"))
        })
    },
};

pub static TEMPLATES: Command = Command {
    sig: Signature {
        name: "templates",
        category: Category::Read,
        about: "Guest templates (the sources for `clone`).",
        args: &[],
        action: None,
        fields: GUEST_FIELDS,
        examples: &[
            Example {
                line: "templates",
                about: "every template",
            },
            Example {
                line: "templates | where type=qemu | get name",
                about: "the names of the VM templates",
            },
        ],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let inv = ctx.refresh().await?;
            let items = inv
                .guests()
                .iter()
                .filter(|g| g.template)
                .map(guest_record)
                .collect();
            Ok(Output::value(Value::List(items))
                .with_columns(TEMPLATE_COLUMNS)
                .with_empty("no templates"))
        })
    },
};

pub static TAGS: Command = Command {
    sig: Signature {
        name: "tags",
        category: Category::Read,
        about: "The tags in use and how many guests carry each.",
        args: &[],
        action: None,
        fields: TAG_FIELDS,
        examples: &[
            Example {
                line: "tags",
                about: "every tag with its guest count",
            },
            Example {
                line: "tags | sort-by count --reverse | first 3",
                about: "the three most used tags",
            },
        ],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let inv = ctx.refresh().await?;
            let items = inv
                .tags()
                .into_iter()
                .map(|tag| {
                    let count = inv
                        .guests()
                        .iter()
                        .filter(|g| g.tags.contains(&tag))
                        .count();
                    Value::Record(Record::from_pairs([
                        ("tag", Value::String(tag)),
                        ("count", Value::Int(count as i64)),
                    ]))
                })
                .collect();
            Ok(Output::value(Value::List(items))
                .with_columns(TAG_FIELDS)
                .with_empty("no tags"))
        })
    },
};

pub static POOLS: Command = Command {
    sig: Signature {
        name: "pools",
        category: Category::Read,
        about: "Resource pools, with how many guests each holds.",
        args: &[],
        action: None,
        fields: POOL_FIELDS,
        examples: &[
            Example {
                line: "pools",
                about: "every pool",
            },
            Example {
                line: "pools | get poolid",
                about: "the pool names",
            },
        ],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let data = ctx.get(&endpoints::pools()).await?;
            let inv = ctx.inventory().await?;
            let mut items = list_records(RecordKind::Any, &data);
            for item in &mut items {
                if let Value::Record(r) = item {
                    let id = r.get("poolid").map(Value::display).unwrap_or_default();
                    let n = inv
                        .guests()
                        .iter()
                        .filter(|g| g.pool.as_deref() == Some(id.as_str()))
                        .count();
                    r.insert("guests", Value::Int(n as i64));
                }
            }
            Ok(Output::value(Value::List(items))
                .with_columns(POOL_FIELDS)
                .with_empty("no pools"))
        })
    },
};

pub static STORAGE: Command = Command {
    sig: Signature {
        name: "storage",
        category: Category::Read,
        about: "Storages and their usage: cluster-wide (one request), or as one node sees them.",
        args: &[Arg::opt(
            "node",
            ArgKind::Node,
            "only this node's view (`/nodes/NODE/storage`)",
        )],
        action: None,
        fields: STORAGE_FIELDS,
        examples: &[
            Example {
                line: "storage",
                about: "every storage on every node",
            },
            Example {
                line: "storage pve1",
                about: "the storages pve1 sees, with used/avail/total",
            },
            Example {
                line: "storage | where content has backup and shared=true",
                about: "shared backup targets",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let node = call.args.positionals.first().map(|w| w.text.clone());
            let (items, columns): (Vec<Value>, &[&str]) = match node {
                Some(node) => {
                    known_node(&*ctx.inventory().await?, &node)?;
                    let data = ctx.get(&endpoints::storage_list(&node)).await?;
                    let mut items = list_records(RecordKind::Storage, &data);
                    for item in &mut items {
                        if let Value::Record(r) = item {
                            r.insert("node", Value::String(node.clone()));
                        }
                    }
                    (
                        items,
                        &[
                            "storage", "node", "type", "content", "active", "shared", "used",
                            "avail", "total",
                        ],
                    )
                }
                None => {
                    let data = ctx
                        .get(&endpoints::cluster_resources(Some("storage")))
                        .await?;
                    let mut items = list_records(RecordKind::Storage, &data);
                    for item in &mut items {
                        if let Value::Record(r) = item {
                            r.remove("id");
                            r.remove("type");
                        }
                    }
                    (
                        items,
                        &[
                            "storage",
                            "node",
                            "plugintype",
                            "content",
                            "status",
                            "shared",
                            "disk",
                            "maxdisk",
                        ],
                    )
                }
            };
            Ok(Output::value(Value::List(items))
                .with_columns(columns)
                .with_empty("no storages"))
        })
    },
};

/// The node to read a storage through: `--node`, else the current node when it has the
/// storage, else the first node that has it.
pub(super) fn storage_node(
    ctx: &Ctx,
    inv: &Inventory,
    storage: &str,
    flag: Option<String>,
) -> Result<String> {
    if let Some(node) = flag {
        known_node(inv, &node)?;
        return Ok(node);
    }
    let holders: Vec<&str> = inv
        .storages()
        .iter()
        .filter(|s| s.storage == storage)
        .map(|s| s.node.as_str())
        .collect();
    if let Some(current) = &ctx.current_node
        && holders.contains(&current.as_str())
    {
        return Ok(current.clone());
    }
    if let Some(first) = holders.first() {
        return Ok(first.to_string());
    }
    let mut names: Vec<&str> = inv.storages().iter().map(|s| s.storage.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Err(Error::not_found(format!("no storage '{storage}'"))
        .hinted(format!("storages: {}", names.join(", "))))
}

pub static CONTENT: Command = Command {
    sig: Signature {
        name: "content",
        category: Category::Read,
        about: "What a storage holds: disk images, ISOs, container templates, backups.",
        args: &[
            Arg::pos("storage", ArgKind::Storage, "the storage to list"),
            Arg::flag(
                "--type",
                ArgKind::Choice(&[
                    "iso", "backup", "images", "vztmpl", "rootdir", "snippets", "import",
                ]),
                "only this content type",
            ),
            Arg::flag("--node", ArgKind::Node, "read it through this node"),
        ],
        action: None,
        fields: CONTENT_FIELDS,
        examples: &[
            Example {
                line: "content local --type iso",
                about: "the ISO images on local",
            },
            Example {
                line: "content backup --node pve2 | where vmid=101",
                about: "web01's backups on the shared backup storage",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let Some(storage) = call.args.positionals.first().map(|w| w.text.clone()) else {
                return Err(
                    Error::usage("content needs a storage").hinted("for example: content local")
                );
            };
            let kind = flag_text(&call, "type");
            let inv = ctx.inventory().await?;
            let node = storage_node(ctx, &inv, &storage, flag_text(&call, "node"))?;
            let data = ctx
                .get(&endpoints::storage_content(
                    &node,
                    &storage,
                    kind.as_deref(),
                    None,
                ))
                .await?;
            let mut items = list_records(RecordKind::Content, &data);
            for item in &mut items {
                if let Value::Record(r) = item {
                    r.insert("storage", Value::String(storage.clone()));
                    r.insert("node", Value::String(node.clone()));
                }
            }
            Ok(Output::value(Value::List(items))
                .with_columns(&["volid", "content", "format", "size", "ctime", "vmid"])
                .with_empty("the storage holds nothing of that type"))
        })
    },
};

/// `prune-backups` as text: `keep-last=3,keep-daily=7`. PVE 9 sends an object, older servers
/// the property string itself; `None` when the job keeps the storage's retention.
fn retention_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by_key(|k| KEEP_KEYS.iter().position(|x| x == k).unwrap_or(usize::MAX));
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    let v = &o[k];
                    format!(
                        "{k}={}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_string)
                    )
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join(","))
        }
        _ => None,
    }
}

/// Which guests a job backs up: `all`, `all except 9000,9001`, `pool lab`, or the VMIDs; with
/// ` on NODE` when the job is limited to one node.
fn job_guests(job: &serde_json::Map<String, serde_json::Value>) -> String {
    let text = |k: &str| {
        job.get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let all = job
        .get("all")
        .is_some_and(|v| v.as_i64() == Some(1) || v.as_bool() == Some(true) || v == "1");
    let mut out = if let Some(pool) = text("pool") {
        format!("pool {pool}")
    } else if all {
        match text("exclude") {
            Some(ex) => format!("all except {ex}"),
            None => "all".to_string(),
        }
    } else {
        text("vmid").unwrap_or("").to_string()
    };
    if let Some(node) = text("node") {
        out.push_str(&format!(" on {node}"));
    }
    out
}

pub static BACKUP_JOBS: Command = Command {
    sig: Signature {
        name: "backup-jobs",
        category: Category::Read,
        about: "Scheduled backup jobs: guests, storage, retention, next run.",
        args: &[],
        action: None,
        fields: BACKUP_JOB_FIELDS,
        examples: &[
            Example {
                line: "backup-jobs",
                about: "every scheduled backup job",
            },
            Example {
                line: "backup-jobs | where enabled = false | get id",
                about: "the jobs that are switched off",
            },
        ],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let data = ctx.get(&endpoints::cluster_backup_jobs()).await?;
            let Some(jobs) = data.as_array() else {
                return Err(Error::internal("/cluster/backup did not return a list"));
            };
            let items = jobs
                .iter()
                .filter_map(serde_json::Value::as_object)
                .map(|job| {
                    let text = |k: &str| {
                        job.get(k)
                            .and_then(|v| v.as_str())
                            .map_or(Value::Null, |s| Value::String(s.to_string()))
                    };
                    // `enabled` defaults to on; PVE sends 0/1 (or, from some servers, a string).
                    let enabled = job.get("enabled").is_none_or(|v| {
                        v.as_i64() != Some(0) && v.as_bool() != Some(false) && v != "0"
                    });
                    let next = job
                        .get("next-run")
                        .and_then(serde_json::Value::as_i64)
                        .map_or(Value::Null, Value::Time);
                    Value::Record(Record::from_pairs([
                        ("id", text("id")),
                        ("schedule", text("schedule")),
                        ("storage", text("storage")),
                        ("guests", Value::String(job_guests(job))),
                        ("mode", text("mode")),
                        (
                            "retention",
                            retention_text(job.get("prune-backups"))
                                .map_or(Value::String("(storage)".into()), Value::String),
                        ),
                        ("next_run", next),
                        ("enabled", Value::Bool(enabled)),
                    ]))
                })
                .collect();
            Ok(Output::value(Value::List(items))
                .with_columns(BACKUP_JOB_FIELDS)
                .with_empty("no backup jobs"))
        })
    },
};
