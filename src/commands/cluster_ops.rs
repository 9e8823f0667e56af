//! The cluster as a whole: `evacuate NODE` and `balance`. Both read the inventory and each
//! affected guest's config, hand the facts to the pure planners of
//! [`crate::staging::placement`], show the plan as a table (guest, from, to, mode, why) and
//! stage one migrate action per move; nothing moves before `commit`.

use serde_json::{Map, Value as Json};

use super::actions::{stage, target_of};
use super::{Arg, ArgKind, Call, Category, Command, Ctx, Output, Signature, ex};
use crate::api::endpoints;
use crate::error::{Error, Result};
use crate::inventory::{Guest, Inventory};
use crate::lang::{Record, Value, format_size};
use crate::staging::placement::{self, EvacuateOptions, GuestFacts, NodeCap, Placement};
use crate::staging::{Action, ActionKind, Op, Precondition, policy};

const PLAN_COLUMNS: &[&str] = &["vmid", "name", "from", "to", "mode", "why"];

/// Config keys of passthrough devices: a guest with one cannot move.
fn local_resources(cfg: &Map<String, Json>) -> Vec<String> {
    let mut out: Vec<String> = cfg
        .keys()
        .filter(|k| {
            ["hostpci", "usb"].iter().any(|p| {
                k.strip_prefix(p)
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            })
        })
        .cloned()
        .collect();
    out.sort();
    out
}

fn node_caps(inv: &Inventory, maintenance: &[String]) -> Vec<NodeCap> {
    inv.nodes()
        .iter()
        .map(|n| NodeCap {
            name: n.node.clone(),
            online: n.status == "online",
            maintenance: maintenance.contains(&n.node),
            maxmem: n.maxmem,
            mem: n.mem,
            maxcpu: n.maxcpu,
            cpu: n.cpu,
            storages: inv
                .storages()
                .iter()
                .filter(|s| s.node == n.node)
                .map(|s| s.storage.clone())
                .collect(),
        })
        .collect()
}

/// The nodes in HA maintenance: the LRM rows of `GET /cluster/ha/status/current` that say
/// `pve2 (maintenance mode, <time>)` (pve-ha-manager `API2/HA/Status.pm`). A cluster without
/// HA, or a server that does not answer, has none.
pub(super) async fn maintenance_nodes(ctx: &Ctx) -> Vec<String> {
    let rows = ctx
        .get(&crate::api::ApiRequest::get("/cluster/ha/status/current"))
        .await
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    rows.iter()
        .filter(|r| r.get("type").and_then(Json::as_str) == Some("lrm"))
        .filter(|r| {
            r.get("status")
                .and_then(Json::as_str)
                .is_some_and(|s| s.contains("(maintenance mode"))
        })
        .filter_map(|r| r.get("node").and_then(Json::as_str).map(str::to_string))
        .collect()
}

/// Says which nodes take no guests because they are in maintenance.
fn note_maintenance(ctx: &mut Ctx, nodes: &[String]) {
    if !nodes.is_empty() {
        ctx.note(&format!(
            "in HA maintenance, so not a target: {}",
            nodes.join(", ")
        ));
    }
}

/// The planner's facts for `guests`, reading each one's config; the configs are kept for the
/// actions' preconditions.
async fn facts(
    ctx: &Ctx,
    inv: &Inventory,
    guests: &[&Guest],
) -> Result<Vec<(GuestFacts, Map<String, Json>)>> {
    let mut out = Vec::new();
    for g in guests {
        let data = ctx
            .get(&endpoints::guest_config(g.kind, &g.node, g.vmid))
            .await?;
        let cfg = data.as_object().cloned().unwrap_or_default();
        let f = GuestFacts {
            vmid: g.vmid,
            name: g.name.clone(),
            kind: g.kind,
            node: g.node.clone(),
            running: g.status == "running",
            maxmem: g.maxmem,
            mem: g.mem,
            template: g.template,
            hold: if g.has_tag("pinned") {
                Some("tagged pinned".to_string())
            } else {
                policy::readonly_reason(&ctx.config.readonly, g.vmid, &g.name, &g.tags)
                    .map(|r| format!("read-only: {r}"))
                    .or_else(|| {
                        policy::protection_reason(&ctx.config, g.vmid, &g.name, &g.tags, Some(&cfg))
                            .map(|r| format!("protected: {r}"))
                    })
            },
            ha: g.hastate.as_deref().is_some_and(|s| !s.is_empty()),
            local_storages: super::guest_ops::local_storages(inv, &cfg),
            local_resources: local_resources(&cfg),
        };
        out.push((f, cfg));
    }
    Ok(out)
}

fn plan_records(plan: &[Placement]) -> Value {
    Value::List(
        plan.iter()
            .map(|p| {
                let mut r = Record::new();
                r.insert("vmid", Value::Int(i64::from(p.vmid)));
                r.insert("name", Value::String(p.name.clone()));
                r.insert("from", Value::String(p.from.clone()));
                r.insert("to", p.to.clone().map_or(Value::Null, Value::String));
                let mode = p.mode.map(|m| {
                    let mut s = m.as_str().to_string();
                    if p.with_local_disks {
                        s.push_str(" +disks");
                    }
                    s
                });
                r.insert("mode", mode.map_or(Value::Null, Value::String));
                r.insert("why", Value::String(p.why.clone()));
                Value::Record(r)
            })
            .collect(),
    )
}

/// Stages one migrate action per move (or, with `--dry-run`, only shows the plan).
fn stage_moves(
    ctx: &mut Ctx,
    call: &Call,
    inv: &Inventory,
    plan: &[Placement],
    configs: &[(GuestFacts, Map<String, Json>)],
) -> Result<Output> {
    let mut actions = Vec::new();
    for p in plan {
        let (Some(to), Some(mode)) = (&p.to, p.mode) else {
            continue;
        };
        let Some(g) = inv.guest(p.vmid) else {
            continue;
        };
        let cfg = configs
            .iter()
            .find(|(f, _)| f.vmid == p.vmid)
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        let op = Op::Migrate {
            target: to.clone(),
            online: mode != placement::Mode::Offline,
            with_local_disks: p.with_local_disks,
            target_storage: None,
        };
        let pre = Precondition {
            digest: policy::config_text(&cfg, "digest"),
            node: g.node.clone(),
            status: g.status.clone(),
        };
        actions.push(Action::new(op, target_of(g), pre));
    }
    let table = Output::value(plan_records(plan)).with_columns(PLAN_COLUMNS);
    if call.args.has_flag("dry-run") {
        ctx.note(&format!(
            "dry run: {} migration(s) planned; nothing staged, nothing sent",
            actions.len()
        ));
        return Ok(table);
    }
    if actions.is_empty() {
        ctx.note("nothing to move");
        return Ok(table);
    }
    stage(ctx, actions)?;
    Ok(table)
}

async fn evacuate_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let node = super::changes::positional(&call, 0, "the node to empty", "evacuate NODE")?;
    let inv = ctx.refresh().await?;
    if !inv.has_node(&node) {
        let names: Vec<&str> = inv.nodes().iter().map(|n| n.node.as_str()).collect();
        return Err(Error::not_found(format!("no node {node}"))
            .hinted(format!("the nodes: {}", names.join(", "))));
    }
    let targets: Vec<String> = call
        .args
        .flags
        .iter()
        .filter(|f| f.name == "to")
        .filter_map(|f| f.value.as_ref())
        .flat_map(|w| w.text.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|t| !t.is_empty())
        .collect();
    for t in &targets {
        if !inv.has_node(t) {
            return Err(Error::not_found(format!("no node {t} (--to)")));
        }
        if t == &node {
            return Err(Error::usage(format!(
                "--to {t}: that is the node being emptied"
            )));
        }
    }
    let on_node: Vec<&Guest> = inv.guests().iter().filter(|g| g.node == node).collect();
    if on_node.is_empty() {
        ctx.note(&format!("{node} has no guests: nothing to move"));
        return Ok(Output::value(Value::List(Vec::new())).with_columns(PLAN_COLUMNS));
    }
    let facts = facts(ctx, &inv, &on_node).await?;
    let guests: Vec<GuestFacts> = facts.iter().map(|(f, _)| f.clone()).collect();
    let opts = EvacuateOptions {
        with_local_disks: call.args.has_flag("with-local-disks"),
        include_templates: call.args.has_flag("templates"),
    };
    let maintenance = maintenance_nodes(ctx).await;
    note_maintenance(ctx, &maintenance);
    let caps = node_caps(&inv, &maintenance);
    let plan = placement::evacuate(&node, &guests, &caps, &targets, opts);
    let moving = plan.placements.iter().filter(|p| p.to.is_some()).count();
    let staying = plan.placements.len() - moving;
    ctx.note(&format!(
        "{node}: {moving} of {} guest(s) can move{}",
        plan.placements.len(),
        if staying > 0 {
            format!(", {staying} stay (see why)")
        } else {
            String::new()
        }
    ));
    if plan.missing_memory > 0 {
        ctx.note(&format!(
            "the rest of the cluster is short of {} of memory for {node}'s running guests",
            format_size(plan.missing_memory)
        ));
    }
    stage_moves(ctx, &call, &inv, &plan.placements, &facts)
}

pub static EVACUATE: Command = Command {
    sig: Signature {
        name: "evacuate",
        category: Category::Change,
        about: "Plan moving every guest off a node (most free memory first, then CPU) and stage the migrations; says what cannot move and why.",
        args: &[
            Arg::pos("node", ArgKind::Node, "the node to empty"),
            Arg::flag(
                "--to",
                ArgKind::Node,
                "only onto these nodes (repeat, or a,b)",
            ),
            Arg::switch(
                "--with-local-disks",
                "move running VMs on local disks live, copying them",
            ),
            Arg::switch("--templates", "move templates too"),
            Arg::switch("--dry-run", "show the plan; stage and send nothing"),
        ],
        action: Some(ActionKind::Migrate),
        fields: PLAN_COLUMNS,
        examples: &[
            ex("evacuate pve3 --dry-run", "what emptying pve3 would do"),
            ex(
                "evacuate pve1 --with-local-disks --to pve2",
                "stage moving pve1's guests to pve2",
            ),
        ],
    },
    run: |ctx, call| Box::pin(evacuate_run(ctx, call)),
};

async fn balance_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let max_moves = match call.args.flag("max-moves").and_then(|f| f.value.as_ref()) {
        None => 5,
        Some(w) => w
            .text
            .parse::<usize>()
            .map_err(|_| Error::usage(format!("--max-moves takes a number, got '{}'", w.text)))?,
    };
    let inv = ctx.refresh().await?;
    let running: Vec<&Guest> = inv
        .guests()
        .iter()
        .filter(|g| g.status == "running" && !g.template)
        .collect();
    let facts = facts(ctx, &inv, &running).await?;
    let guests: Vec<GuestFacts> = facts.iter().map(|(f, _)| f.clone()).collect();
    let with_local_disks = call.args.has_flag("with-local-disks");
    let maintenance = maintenance_nodes(ctx).await;
    note_maintenance(ctx, &maintenance);
    let caps = node_caps(&inv, &maintenance);
    let moves = placement::balance(&guests, &caps, max_moves, with_local_disks);
    if moves.is_empty() {
        let pct = |n: &crate::inventory::NodeEntry| n.mem as f64 * 100.0 / n.maxmem.max(1) as f64;
        let online: Vec<_> = inv
            .nodes()
            .iter()
            .filter(|n| n.status == "online")
            .collect();
        let hi = online
            .iter()
            .copied()
            .max_by(|a, b| pct(a).total_cmp(&pct(b)));
        let lo = online
            .iter()
            .copied()
            .min_by(|a, b| pct(a).total_cmp(&pct(b)));
        match (hi, lo) {
            (Some(hi), Some(lo)) if pct(hi) - pct(lo) > placement::BALANCE_GAP => {
                ctx.note(&format!(
                    "{} is at {:.0}% memory, {} at {:.0}%, but no running guest can move to narrow the gap{}",
                    hi.node,
                    pct(hi),
                    lo.node,
                    pct(lo),
                    if with_local_disks {
                        ""
                    } else {
                        " (--with-local-disks lets VMs on local disks move)"
                    }
                ));
            }
            _ => ctx.note(&format!(
                "memory use is within {:.0} points across the nodes: nothing to do",
                placement::BALANCE_GAP
            )),
        }
    }
    stage_moves(ctx, &call, &inv, &moves, &facts)
}

pub static BALANCE: Command = Command {
    sig: Signature {
        name: "balance",
        category: Category::Change,
        about: "Plan migrations that even out memory use: from the fullest node to the emptiest, the running guest that narrows the gap most, until it is under 10 points (staged).",
        args: &[
            Arg::flag(
                "--max-moves",
                ArgKind::Count,
                "at most this many migrations (default 5)",
            ),
            Arg::switch(
                "--with-local-disks",
                "also move running VMs on local disks, copying them live",
            ),
            Arg::switch("--dry-run", "show the plan; stage and send nothing"),
        ],
        action: Some(ActionKind::Migrate),
        fields: PLAN_COLUMNS,
        examples: &[
            ex(
                "balance --dry-run",
                "the demo cluster is even: nothing to do",
            ),
            ex(
                "balance --with-local-disks --max-moves 2",
                "pve3 is full (three guests started): stage the best moves",
            ),
        ],
    },
    run: |ctx, call| Box::pin(balance_run(ctx, call)),
};

async fn maintenance_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let usage = "maintenance NODE on|off";
    let node = super::changes::positional(&call, 0, "the node", usage)?;
    let state = super::changes::positional(&call, 1, "on or off", usage)?;
    let verb = match state.as_str() {
        "on" => "enable",
        "off" => "disable",
        other => {
            return Err(
                Error::usage(format!("maintenance {node} {other}: say on or off"))
                    .hinted(format!("usage: {usage}")),
            );
        }
    };
    let inv = ctx.refresh().await?;
    if !inv.has_node(&node) {
        let names: Vec<&str> = inv.nodes().iter().map(|n| n.node.as_str()).collect();
        return Err(Error::not_found(format!("no node {node}"))
            .hinted(format!("the nodes: {}", names.join(", "))));
    }
    let status = ctx.get(&endpoints::cluster_status()).await?;
    let ip = status
        .as_array()
        .and_then(|rows| {
            rows.iter().find(|r| {
                r.get("type").and_then(Json::as_str) == Some("node")
                    && r.get("name").and_then(Json::as_str) == Some(node.as_str())
            })
        })
        .and_then(|r| r.get("ip").and_then(Json::as_str))
        .map(str::to_string)
        .ok_or_else(|| {
            Error::not_found(format!("the cluster status lists no address for {node}"))
        })?;
    let resources = ctx
        .get(&crate::api::ApiRequest::get("/cluster/ha/resources"))
        .await
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    // `vm:103` / `ct:200`: the HA-managed guests that are on this node now.
    let here = resources
        .iter()
        .filter_map(|r| r.get("sid").and_then(Json::as_str))
        .filter_map(|sid| sid.split_once(':')?.1.parse::<u32>().ok())
        .filter(|id| inv.guest(*id).is_some_and(|g| g.node == node))
        .count();
    if resources.is_empty() {
        ctx.note(
            "the cluster has no HA resources: maintenance mode moves only HA-managed guests; `evacuate` moves the others",
        );
    } else if verb == "enable" && here == 0 {
        ctx.note(&format!(
            "no HA-managed guest is on {node}: HA moves nothing; `evacuate {node}` plans the others"
        ));
    } else if verb == "enable" {
        ctx.note(&format!(
            "HA moves the {here} HA-managed guest(s) on {node}; `evacuate {node}` plans the others"
        ));
    }
    // PVE 9.1 has no API for it: `ha-manager crm-command node-maintenance` on a node is the way.
    let argv: Vec<String> = [
        "ssh",
        "-l",
        "root",
        &ip,
        "ha-manager",
        "crm-command",
        "node-maintenance",
        verb,
        &node,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let dry = call.args.has_flag("dry-run");
    let how = if ctx.node_shell.is_some() {
        "on the simulated node".to_string()
    } else {
        format!("on {node} ({ip}) over ssh")
    };
    ctx.note(&format!(
        "{} {how}: PVE has no API for maintenance mode",
        if dry { "would run" } else { "running" }
    ));
    let mut r = Record::new();
    r.insert("node", Value::String(node.clone()));
    r.insert("maintenance", Value::String(state));
    r.insert("command", Value::String(argv.join(" ")));
    let mut out = Output::value(Value::Record(r));
    if dry {
        return Ok(out);
    }
    match ctx.node_shell.clone() {
        // The demo's nodes are simulated: their shell runs in the simulator.
        Some(shell) => {
            let said = shell(&argv[4..])
                .map_err(|e| Error::new(crate::error::ErrorKind::Api, format!("{node}: {e}")))?;
            for line in said.lines() {
                ctx.note(line);
            }
            let _ = ctx.refresh().await;
        }
        None => out.handoff = Some(argv),
    }
    Ok(out)
}

pub static MAINTENANCE: Command = Command {
    sig: Signature {
        name: "maintenance",
        category: Category::Change,
        about: "Put a node into HA maintenance (or take it out): HA moves its managed guests away. PVE has no API for it, so this runs `ha-manager` on the node over the system's ssh.",
        args: &[
            Arg::pos("node", ArgKind::Node, "the node"),
            Arg::pos("state", ArgKind::Choice(&["on", "off"]), "on or off"),
            Arg::switch("--dry-run", "show the command; run nothing"),
        ],
        action: None,
        fields: &["node", "maintenance", "command"],
        examples: &[ex(
            "maintenance pve1 on --dry-run",
            "the ha-manager command it would run on pve1",
        )],
    },
    run: |ctx, call| Box::pin(maintenance_run(ctx, call)),
};
