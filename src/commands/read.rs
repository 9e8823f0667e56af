//! Read commands that produce records: `ls`, `status`, `nodes`, `tasks`, `version`.
//!
//! Fields keep PVE's names and get proper types (sizes, durations, times) so that `where`,
//! `sort-by` and `to json` work on them. `ls` costs exactly one request
//! (`GET /cluster/resources`), whatever the number of nodes.

use super::{Arg, ArgKind, Call, Category, Command, Ctx, Example, Output, Signature, flag_text};
use crate::api::ApiError;
use crate::api::endpoints::{self, TaskSource};
use crate::error::{Error, Result};
use crate::inventory::{Guest, GuestList};
use crate::lang::fields::{self, RecordKind};
use crate::lang::{Record, Value};

/// The columns `ls` shows in a table; the records carry every field.
const GUEST_COLUMNS: &[&str] = &[
    "vmid", "name", "node", "type", "status", "cpu", "mem", "maxmem", "uptime", "tags",
];

/// Every field of a guest record.
pub const GUEST_FIELDS: &[&str] = Guest::FIELDS;
const NODE_FIELDS: &[&str] = &[
    "node",
    "status",
    "cpu",
    "maxcpu",
    "mem",
    "maxmem",
    "disk",
    "maxdisk",
    "uptime",
    "level",
    "ssl_fingerprint",
];
const TASK_FIELDS: &[&str] = &[
    "upid",
    "node",
    "type",
    "id",
    "user",
    "status",
    "starttime",
    "endtime",
    "pid",
    "pstart",
];
const VERSION_FIELDS: &[&str] = &["release", "version", "repoid"];

/// A guest as a record with PVE's field names.
pub fn guest_record(g: &Guest) -> Value {
    g.record()
}

/// The VMIDs of guest records piped in (anything with a `vmid` field).
pub(super) fn piped_vmids(input: &Value) -> Vec<String> {
    let items: Vec<&Value> = match input {
        Value::List(items) => items.iter().collect(),
        Value::Record(_) => vec![input],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|v| v.as_record()?.get("vmid").map(|id| id.display()))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The guests a VM command acts on: its arguments, else the records piped in, else the current VM.
pub(super) async fn target_guests(ctx: &mut Ctx, call: &Call) -> Result<Vec<Guest>> {
    let mut words: Vec<String> = call
        .args
        .positionals
        .iter()
        .map(|w| w.text.clone())
        .collect();
    if words.is_empty() {
        words = piped_vmids(&call.input);
        if words.is_empty() && !matches!(call.input, Value::Null) {
            return Ok(Vec::new());
        }
    }
    ctx.targets(&words).await
}

pub static LS: Command = Command {
    sig: Signature {
        name: "ls",
        category: Category::Read,
        about: "List guests (VMs and containers) across the cluster, from one request.",
        args: &[
            Arg::opt(
                "path",
                ArgKind::ApiPath,
                "an API path to list instead (`ls /nodes`, `ls .`)",
            ),
            Arg::flag(
                "--type",
                ArgKind::Choice(&["qemu", "lxc"]),
                "only VMs or only containers",
            ),
            Arg::switch("--templates", "only templates"),
        ],
        action: None,
        fields: GUEST_FIELDS,
        examples: &[
            Example {
                line: "ls",
                about: "every guest",
            },
            Example {
                line: "ls --type lxc",
                about: "containers only",
            },
            Example {
                line: "ls /nodes/pve1",
                about: "an API directory, as pvesh lists it",
            },
            Example {
                line: "ls | where status=running | select vmid name node mem",
                about: "a filtered view",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            if let Some(p) = call.args.positionals.first() {
                if p.text.starts_with('/') || p.text.starts_with('.') {
                    let value = super::session::get_path(ctx, &p.text, &[]).await?;
                    return Ok(Output::value(value).with_empty("empty directory"));
                }
                return Err(Error::usage(format!("ls takes an API path or nothing, got '{}'", p.text))
                    .hinted("filter guests with a pipe: ls | where name =~ web; list an API path: ls /nodes"));
            }
            let kind = match call.args.flag("type").and_then(|f| f.value.as_ref()) {
                None => None,
                Some(w) if w.text == "qemu" || w.text == "lxc" => Some(w.text.clone()),
                Some(w) => {
                    return Err(Error::usage(format!(
                        "--type must be qemu or lxc, got '{}'",
                        w.text
                    )));
                }
            };
            let templates = call.args.has_flag("templates");
            let inv = ctx.refresh().await?;
            // The guests stay in the inventory: a table or JSON reads them there, and only a
            // next stage makes records of them.
            let guests = GuestList::new(inv, |g| {
                kind.as_deref().is_none_or(|k| g.kind.as_str() == k) && (!templates || g.template)
            });
            Ok(Output::guests(guests)
                .with_columns(GUEST_COLUMNS)
                .with_empty("no guests"))
        })
    },
};

pub static STATUS: Command = Command {
    sig: Signature {
        name: "status",
        category: Category::Read,
        about: "The live status of a guest (or of the current VM, or of the guests piped in).",
        args: &[Arg::opt(
            "vm",
            ArgKind::Vm,
            "VMID, name, unique prefix or @selector",
        )],
        action: None,
        fields: GUEST_FIELDS,
        examples: &[
            Example {
                line: "status web01",
                about: "one guest by name",
            },
            Example {
                line: "status 101",
                about: "by VMID",
            },
            Example {
                line: "ls | where tags has ci | status",
                about: "the guests piped in",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let guests = target_guests(ctx, &call).await?;
            let mut out = Vec::with_capacity(guests.len());
            for g in &guests {
                let data = ctx
                    .get(&endpoints::guest_status_current(g.kind, &g.node, g.vmid))
                    .await?;
                let mut r = Record::new();
                r.insert("vmid", Value::Int(i64::from(g.vmid)));
                r.insert("name", Value::String(g.name.clone()));
                r.insert("node", Value::String(g.node.clone()));
                r.insert("type", Value::String(g.kind.as_str().to_string()));
                if let Value::Record(live) = fields::typed(RecordKind::Guest, &data) {
                    for (k, v) in live.iter() {
                        if !r.contains(k) {
                            r.insert(k, v.clone());
                        }
                    }
                }
                out.push(Value::Record(r));
            }
            if out.len() == 1 && call.input.is_null() {
                return Ok(Output::value(out.remove(0)));
            }
            Ok(Output::value(Value::List(out))
                .with_columns(&[
                    "vmid",
                    "name",
                    "node",
                    "status",
                    "qmpstatus",
                    "cpu",
                    "mem",
                    "maxmem",
                    "uptime",
                ])
                .with_empty("no guests"))
        })
    },
};

pub static NODES: Command = Command {
    sig: Signature {
        name: "nodes",
        category: Category::Read,
        about: "The cluster's nodes with their load and their TLS fingerprints.",
        args: &[],
        action: None,
        fields: NODE_FIELDS,
        examples: &[
            Example {
                line: "nodes",
                about: "all nodes",
            },
            Example {
                line: "nodes | where status=online | get node",
                about: "names of the online nodes",
            },
        ],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let data = ctx.get(&endpoints::nodes()).await?;
            let mut items = match fields::typed(RecordKind::Node, &data) {
                Value::List(items) => items,
                other => vec![other],
            };
            items.sort_by(|a, b| {
                let key = |v: &Value| {
                    v.as_record()
                        .and_then(|r| r.get("node"))
                        .map(Value::display)
                };
                key(a).cmp(&key(b))
            });
            Ok(Output::value(Value::List(items))
                .with_columns(&[
                    "node",
                    "status",
                    "cpu",
                    "maxcpu",
                    "mem",
                    "maxmem",
                    "uptime",
                    "ssl_fingerprint",
                ])
                .with_empty("no nodes"))
        })
    },
};

pub static TASKS: Command = Command {
    sig: Signature {
        name: "tasks",
        category: Category::Read,
        about: "Recent tasks across the cluster (or of one node), newest first.",
        args: &[
            Arg::opt("vm", ArgKind::Vm, "only the tasks of this guest"),
            Arg::switch("--running", "only tasks still running"),
            Arg::flag("--limit", ArgKind::Count, "at most this many (default 20)"),
            Arg::flag(
                "--node",
                ArgKind::Node,
                "only this node's tasks, from its own task list (also where a server has no \
                 /cluster/tasks: then every node's list is read)",
            ),
        ],
        action: None,
        fields: TASK_FIELDS,
        examples: &[
            Example {
                line: "tasks",
                about: "the last 20 tasks",
            },
            Example {
                line: "tasks web01 --limit 5",
                about: "a guest's last five tasks",
            },
            Example {
                line: "tasks --running",
                about: "what is running now",
            },
            Example {
                line: "tasks --node pve1 --limit 1",
                about: "the last task of pve1, and how many it has",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let limit = match call.args.flag("limit").and_then(|f| f.value.as_ref()) {
                None => 20,
                Some(w) => w.text.parse::<usize>().map_err(|_| {
                    Error::usage(format!("--limit needs a whole number, got '{}'", w.text))
                })?,
            };
            let vmid = match call.args.positionals.first() {
                Some(w) => Some(ctx.inventory().await?.resolve_one(&w.text)?.vmid),
                None => None,
            };
            let running = call.args.has_flag("running");
            let (mut items, total) = match flag_text(&call, "node") {
                Some(node) => {
                    let inv = ctx.inventory().await?;
                    if !inv.has_node(&node) {
                        let nodes: Vec<&str> =
                            inv.nodes().iter().map(|n| n.node.as_str()).collect();
                        return Err(Error::not_found(format!("no node '{node}'"))
                            .hinted(format!("nodes: {}", nodes.join(", "))));
                    }
                    node_tasks(ctx, &[node], vmid, running, limit).await?
                }
                None => match ctx.get_or_api_error(&endpoints::cluster_tasks()).await {
                    Ok(data) => {
                        let Value::List(items) = fields::typed(RecordKind::Task, &data) else {
                            return Err(Error::internal("/cluster/tasks did not return a list"));
                        };
                        (items, None)
                    }
                    Err(ApiError::Http {
                        status: 501 | 404, ..
                    }) => {
                        ctx.note(
                            "this server has no GET /cluster/tasks: reading each node's task list",
                        );
                        let inv = ctx.inventory().await?;
                        let nodes: Vec<String> = inv
                            .nodes()
                            .iter()
                            .filter(|n| n.status == "online")
                            .map(|n| n.node.clone())
                            .collect();
                        node_tasks(ctx, &nodes, vmid, running, limit).await?
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            items.retain(|t| {
                let Some(r) = t.as_record() else { return false };
                let id_ok = vmid.is_none_or(|v| {
                    r.get("id").map(Value::display).as_deref() == Some(&v.to_string())
                });
                let run_ok = !running || r.get("endtime").is_none_or(Value::is_null);
                id_ok && run_ok
            });
            items.sort_by(|a, b| {
                let t = |v: &Value| {
                    v.as_record()
                        .and_then(|r| r.get("starttime"))
                        .cloned()
                        .unwrap_or_default()
                };
                t(b).sort_cmp(&t(a))
            });
            items.truncate(limit);
            if let Some(total) = total.filter(|t| *t > items.len() as u64) {
                ctx.note(&format!(
                    "{} of {total} tasks; --limit {total} lists them all",
                    items.len()
                ));
            }
            Ok(Output::value(Value::List(items))
                .with_columns(&[
                    "starttime",
                    "node",
                    "type",
                    "id",
                    "user",
                    "status",
                    "endtime",
                ])
                .with_empty("no tasks"))
        })
    },
};

/// The newest `limit` tasks of each of `nodes` from their own task lists (running ones too),
/// and the total the nodes count (PVE's `total` beside `data`: all matches, not just the page).
async fn node_tasks(
    ctx: &mut Ctx,
    nodes: &[String],
    vmid: Option<u32>,
    running: bool,
    limit: usize,
) -> Result<(Vec<Value>, Option<u64>)> {
    let source = if running {
        TaskSource::Active
    } else {
        TaskSource::All
    };
    let mut items = Vec::new();
    let mut total: Option<u64> = None;
    for node in nodes {
        let page = ctx
            .client
            .call(&endpoints::node_tasks(node, limit, source, vmid))
            .await?;
        let Value::List(rows) = fields::typed(RecordKind::Task, &page.data) else {
            return Err(Error::internal(format!(
                "/nodes/{node}/tasks did not return a list"
            )));
        };
        let counted = page.total.unwrap_or(rows.len() as u64);
        total = Some(total.unwrap_or(0) + counted);
        items.extend(rows);
    }
    Ok((items, total))
}

pub static VERSION: Command = Command {
    sig: Signature {
        name: "version",
        category: Category::Read,
        about: "The Proxmox VE version of the server.",
        args: &[],
        action: None,
        fields: VERSION_FIELDS,
        examples: &[Example {
            line: "version",
            about: "release, version and repository id",
        }],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let data = ctx.get(&endpoints::version()).await?;
            Ok(Output::value(Value::from_pve_json(&data)))
        })
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::fields::{FieldType, field_type};

    /// `ls` builds its records from the inventory: each field must have the type that
    /// `status` and raw reads give the same field (one set of types per record kind).
    #[test]
    fn guest_records_have_the_guest_kinds_field_types() {
        let g = Guest {
            vmid: 101,
            name: "web01".into(),
            node: "pve1".into(),
            kind: crate::api::GuestKind::Qemu,
            status: "running".into(),
            template: false,
            tags: vec!["prod".into(), "web".into()],
            pool: None,
            lock: None,
            hastate: None,
            cpu: 0.17,
            maxcpu: 2,
            mem: 1 << 30,
            maxmem: 4 << 30,
            disk: 0,
            maxdisk: 32 << 30,
            uptime: 3600,
            netin: 1,
            netout: 2,
        };
        let Value::Record(r) = guest_record(&g) else {
            panic!("not a record")
        };
        let mut typed = 0;
        for (k, v) in r.iter() {
            let Some(t) = field_type(RecordKind::Guest, k) else {
                continue;
            };
            let want = match t {
                FieldType::Size | FieldType::Mebibytes | FieldType::SizeText => "size",
                FieldType::Duration => "duration",
                FieldType::Time => "time",
                FieldType::Percent => "percentage",
                FieldType::Tags | FieldType::List => "list",
                FieldType::Flag => "bool",
            };
            assert_eq!(v.type_name(), want, "ls field {k}");
            typed += 1;
        }
        assert!(typed >= 10, "only {typed} typed fields");
        assert_eq!(r.get("cpu").map(Value::display).as_deref(), Some("17.0%"));
    }
}
