//! Session commands: the current VM and node (`use`), `context`, `refresh`, and browsing the API
//! tree as the old pvesh did (`cd`, `pwd`, `ls PATH`, `get PATH`).

use super::{Arg, ArgKind, Category, Command, Ctx, Example, Output, Signature};
use crate::api::ApiRequest;
use crate::error::{Error, Result};
use crate::lang::{Record, Value};

pub static USE: Command = Command {
    sig: Signature {
        name: "use",
        category: Category::Session,
        about: "Set the current VM (`use web01`), the current node (`use node pve2`), or clear them (`use ..`).",
        args: &[Arg::pos(
            "vm",
            ArgKind::Vm,
            "VMID, name or unique prefix; `node NAME`; or `..`",
        )],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "use web01",
                about: "VM commands without a target now act on web01",
            },
            Example {
                line: "use node pve2",
                about: "the current node",
            },
            Example {
                line: "use ..",
                about: "no current VM or node",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let words: Vec<&str> = call
                .args
                .positionals
                .iter()
                .map(|w| w.text.as_str())
                .collect();
            match words.as_slice() {
                [".."] => {
                    if ctx.current.take().is_none() {
                        ctx.current_node = None;
                    }
                }
                ["node", name] => {
                    let inv = ctx.inventory().await?;
                    if !inv.has_node(name) {
                        let nodes: Vec<String> =
                            inv.nodes().iter().map(|n| n.node.clone()).collect();
                        return Err(Error::not_found(format!("no node '{name}'"))
                            .hinted(format!("nodes: {}", nodes.join(", "))));
                    }
                    ctx.current_node = Some(name.to_string());
                }
                [word] => {
                    let inv = ctx.inventory().await?;
                    let guest = inv.resolve_one(word)?;
                    ctx.current = Some(guest.vmid);
                    ctx.current_node = Some(guest.node.clone());
                }
                [] => {
                    return Err(Error::usage("use needs a guest, `node NAME` or `..`")
                        .hinted("for example: use web01"));
                }
                _ => {
                    return Err(
                        Error::usage("use takes one guest").hinted("for example: use web01")
                    );
                }
            }
            Ok(Output::none())
        })
    },
};

pub static CONTEXT: Command = Command {
    sig: Signature {
        name: "context",
        category: Category::Session,
        about: "Who and where you are: cluster, server, user, current VM and node, API path; and the config and policy in effect (staging, protected and read-only guests, quotas). `context ls` lists the config's clusters, `context use NAME` switches to one.",
        args: &[
            Arg::opt(
                "op",
                ArgKind::Choice(&["ls", "use"]),
                "ls: the clusters; use: switch to one",
            ),
            Arg::opt(
                "cluster",
                ArgKind::Cluster,
                "the cluster to switch to (`context use lab`)",
            ),
        ],
        action: None,
        fields: CONTEXT_FIELDS,
        examples: &[
            Example {
                line: "context",
                about: "the session's context",
            },
            Example {
                line: "context ls",
                about: "the clusters of the config: which is current, which answer",
            },
        ],
    },
    run: |ctx, call| super::contexts::run(ctx, call, context_record),
};

pub static WHOAMI: Command = Command {
    sig: Signature {
        name: "whoami",
        category: Category::Session,
        about: "The same as `context`; `whoami --privs` lists the session's effective privileges (GET /access/permissions) and which pvesh+ features they allow.",
        args: &[Arg::switch(
            "--privs",
            "the privileges held, and the features they allow",
        )],
        action: None,
        fields: CONTEXT_FIELDS,
        examples: &[
            Example {
                line: "whoami",
                about: "the session's user and context",
            },
            Example {
                line: "whoami --privs",
                about: "what this user or token may do",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            if call.args.has_flag("privs") {
                return super::rbac::privileges(ctx).await;
            }
            Ok(Output::value(context_record(ctx)))
        })
    },
};

const CONTEXT_FIELDS: &[&str] = &[
    "cluster",
    "server",
    "user",
    "vm",
    "node",
    "path",
    "config",
    "staging",
    "protected",
    "readonly",
    "quotas",
];

fn context_record(ctx: &Ctx) -> Value {
    let vm = ctx.current.map_or(Value::Null, |vmid| {
        let label = ctx
            .cached_inventory()
            .and_then(|inv| inv.guest(vmid).map(|g| g.label()))
            .unwrap_or_else(|| vmid.to_string());
        Value::String(label)
    });
    Value::Record(Record::from_pairs(
        [
            ("cluster", Value::String(ctx.cluster.clone())),
            ("server", Value::String(ctx.client.base_url().to_string())),
            ("user", Value::String(ctx.client.username().to_string())),
            ("vm", vm),
            (
                "node",
                ctx.current_node.clone().map_or(Value::Null, Value::String),
            ),
            ("path", Value::String(ctx.cwd.clone())),
            ("config", Value::String(ctx.config.describe_source())),
        ]
        .into_iter()
        .chain(
            crate::staging::policy::describe(&ctx.config)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v))),
        ),
    ))
}

pub static REFRESH: Command = Command {
    sig: Signature {
        name: "refresh",
        category: Category::Session,
        about: "Reload the cached inventory (guests, nodes, storages) that completion reads.",
        args: &[],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "refresh",
            about: "reload now",
        }],
    },
    run: |ctx, _call| {
        Box::pin(async move {
            let inv = ctx.refresh().await?;
            let msg = format!(
                "inventory: {} guests on {} nodes",
                inv.guests().len(),
                inv.nodes().len()
            );
            ctx.note(&msg);
            Ok(Output::none())
        })
    },
};

/// Joins `path` onto `cwd`, resolving `.` and `..`; the result is absolute, without a trailing `/`.
pub fn join_path(cwd: &str, path: &str) -> String {
    let mut parts: Vec<&str> = if path.starts_with('/') {
        Vec::new()
    } else {
        cwd.split('/').collect()
    };
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let joined: Vec<&str> = parts.into_iter().filter(|s| !s.is_empty()).collect();
    format!("/{}", joined.join("/"))
}

pub static CD: Command = Command {
    sig: Signature {
        name: "cd",
        category: Category::Session,
        about: "Change the current API path (`cd /nodes/pve1`, `cd ..`); `cd VM` goes to that guest's path.",
        args: &[Arg::opt(
            "path",
            ArgKind::ApiPath,
            "an API path, relative or absolute, or a guest",
        )],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "cd /nodes",
                about: "into the nodes directory",
            },
            Example {
                line: "cd web01",
                about: "into /nodes/pve1/qemu/101",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let target = match call.args.positionals.first() {
                None => "/".to_string(),
                Some(w) if w.text.starts_with('/') || w.text.starts_with('.') => {
                    join_path(&ctx.cwd, &w.text)
                }
                Some(w) => {
                    // A guest name wins over a relative path segment when it resolves.
                    let inv = ctx.inventory().await?;
                    match inv.resolve_one(&w.text) {
                        Ok(g) if ctx.cwd == "/" || w.text.parse::<u32>().is_err() => g.api_path(),
                        _ => join_path(&ctx.cwd, &w.text),
                    }
                }
            };
            if target != "/" {
                ctx.get(&ApiRequest::get(target.clone()))
                    .await
                    .map_err(|e| {
                        Error::not_found(format!("cannot cd to {target}: {}", e.message))
                            .hinted("`ls .` lists where you are")
                    })?;
            }
            ctx.cwd = target;
            Ok(Output::none())
        })
    },
};

pub static PWD: Command = Command {
    sig: Signature {
        name: "pwd",
        category: Category::Session,
        about: "Print the current API path.",
        args: &[],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "pwd",
            about: "where `cd` took you",
        }],
    },
    run: |ctx, _call| Box::pin(async move { Ok(Output::value(Value::String(ctx.cwd.clone()))) }),
};

/// `GET` an API path (relative to the current one) and return its data as records.
pub async fn get_path(ctx: &mut Ctx, path: &str, params: &[(String, String)]) -> Result<Value> {
    let full = join_path(&ctx.cwd, path);
    let mut req = ApiRequest::get(full.clone());
    for (k, v) in params {
        req = req.param(k, v);
    }
    let data = ctx.get(&req).await?;
    let kind = crate::lang::fields::kind_of_path(&full);
    Ok(crate::lang::fields::typed(kind, &data))
}
