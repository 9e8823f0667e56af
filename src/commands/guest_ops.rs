//! Guest operations beyond power and snapshots: `clone`, `migrate`, `resize`, `disk add|move|
//! detach`, `backup` and `restore`.
//!
//! Each reads what it needs (the guest's config, PVE's migration precondition, the storages),
//! refuses what cannot work with the reason and a way out, plans typed [`Action`]s and hands
//! them to staging: the destructive ones stage, the rest run at once through the executor.
//! `--dry-run` shows the plan and sends nothing. Nothing here prints.

use serde_json::{Map, Value as Json};

use super::actions::{run_now, stage, target_of};
use super::{
    Arg, ArgKind, Call, Category, Command, Ctx, Example, Output, Signature, ex, flag_text,
};
use crate::api::{GuestKind, endpoints};
use crate::error::{Error, ErrorKind, Result};
use crate::inventory::{Guest, Inventory};
use crate::lang::{Value, parse_size};
use crate::staging::{
    Action, ActionKind, OUTCOME_COLUMNS, Op, Precondition, Target,
    policy::{self, NewGuest},
};

const GIB: u64 = 1 << 30;

const VM: Arg = Arg::opt(
    "vm",
    ArgKind::Vm,
    "VMID, name, prefix or @selector (default: piped guests or the current VM)",
);
const DRY_RUN: Arg = Arg::switch("--dry-run", "show the plan; stage and send nothing");

const fn sig(
    name: &'static str,
    about: &'static str,
    args: &'static [Arg],
    action: Option<ActionKind>,
    examples: &'static [Example],
) -> Signature {
    Signature {
        name,
        category: Category::Change,
        about,
        args,
        action,
        fields: OUTCOME_COLUMNS,
        examples,
    }
}

/// Splits positional words (after `skip`) into the guest words before and the `n` trailing
/// parameters (`migrate web01 pve2`: `[web01]`, `[pve2]`; `migrate pve2` on piped guests:
/// `[]`, `[pve2]`).
fn split_words(
    call: &Call,
    skip: usize,
    n: usize,
    usage: &str,
) -> Result<(Vec<String>, Vec<String>)> {
    let words: Vec<String> = call
        .args
        .positionals
        .iter()
        .skip(skip)
        .map(|w| w.text.clone())
        .collect();
    if words.len() < n {
        return Err(
            Error::usage(format!("{} argument(s) missing", n - words.len()))
                .hinted(format!("usage: {usage}")),
        );
    }
    let (vms, params) = words.split_at(words.len() - n);
    Ok((vms.to_vec(), params.to_vec()))
}

/// The guests `words` name, else the guests piped in, else the current VM.
async fn guests_of(ctx: &mut Ctx, call: &Call, words: &[String]) -> Result<Vec<Guest>> {
    let mut words = words.to_vec();
    if words.is_empty() {
        words = super::read::piped_vmids(&call.input);
        if words.is_empty() && !call.input.is_null() {
            return Ok(Vec::new());
        }
    }
    ctx.targets(&words).await
}

/// Exactly one guest (`clone` copies one).
pub(super) async fn one_guest(
    ctx: &mut Ctx,
    call: &Call,
    words: &[String],
    what: &str,
) -> Result<Guest> {
    let mut guests = guests_of(ctx, call, words).await?;
    match guests.len() {
        1 => Ok(guests.remove(0)),
        0 => Err(Error::usage(format!("no guest to {what}"))),
        n => Err(
            Error::usage(format!("{what} takes one guest; that names {n}"))
                .hinted("name the guest by VMID or full name"),
        ),
    }
}

async fn read_config(ctx: &Ctx, g: &Guest) -> Result<Map<String, Json>> {
    let data = ctx
        .get(&endpoints::guest_config(g.kind, &g.node, g.vmid))
        .await?;
    Ok(data.as_object().cloned().unwrap_or_default())
}

fn precondition(g: &Guest, cfg: &Map<String, Json>) -> Precondition {
    Precondition {
        digest: policy::config_text(cfg, "digest"),
        node: g.node.clone(),
        status: g.status.clone(),
    }
}

/// Refuses a destructive `action` on a protected guest.
fn check_protected(ctx: &Ctx, g: &Guest, cfg: &Map<String, Json>, action: &str) -> Result<()> {
    match policy::protection_reason(&ctx.config, g.vmid, &g.name, &g.tags, Some(cfg)) {
        Some(reason) => Err(policy::protected_error(&g.label(), action, &reason)),
        None => Ok(()),
    }
}

/// Stages what must stage and runs the rest at once; with `--dry-run` only shows the plan.
pub(super) async fn finish(ctx: &mut Ctx, call: &Call, actions: Vec<Action>) -> Result<Output> {
    if actions.is_empty() {
        return Ok(Output::value(Value::List(Vec::new())).with_empty("nothing to do"));
    }
    if call.args.has_flag("dry-run") {
        let records = super::pending::pending_records(&actions, 1);
        ctx.note("dry run: nothing staged, nothing sent");
        return Ok(Output::value(records).with_columns(super::pending::PENDING_COLUMNS));
    }
    // A read-only guest among them refuses the whole line, staged part and all.
    ctx.staging.guard.admit(&actions)?;
    let policy_now = ctx.config.staging.policy;
    let (staged, now): (Vec<Action>, Vec<Action>) = actions.into_iter().partition(|a| {
        // A change that needs a person's approval stages, whatever the staging policy.
        policy::stages(policy_now, a.risk().is_some()) || ctx.staging.needs_approval(a)
    });
    let mut out = Output::value(Value::List(Vec::new()));
    if !staged.is_empty() {
        out = stage(ctx, staged)?;
    }
    if !now.is_empty() {
        out = run_now(ctx, now).await;
    }
    Ok(out)
}

// ---- Disks in a config --------------------------------------------------------------------

/// A config key that holds a disk (`scsi0`, `virtio1`, `efidisk0`, `rootfs`, `mp0`, `unused0`).
pub(super) fn is_disk_key(k: &str) -> bool {
    let num = |p: &str| {
        k.strip_prefix(p)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    ["ide", "scsi", "virtio", "sata", "mp", "unused"]
        .iter()
        .any(|p| num(p))
        || matches!(k, "efidisk0" | "tpmstate0" | "rootfs")
}

fn cfg_str<'a>(cfg: &'a Map<String, Json>, key: &str) -> Option<&'a str> {
    cfg.get(key).and_then(Json::as_str)
}

/// The guest's disks (no CD-ROMs), in config order.
fn disks(cfg: &Map<String, Json>) -> Vec<String> {
    cfg.iter()
        .filter(|(k, v)| {
            is_disk_key(k)
                && !k.starts_with("unused")
                && !v.as_str().unwrap_or("").contains("media=cdrom")
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// The value of `disk`, or an error naming the disks there are.
fn disk_value<'a>(g: &Guest, cfg: &'a Map<String, Json>, disk: &str) -> Result<&'a str> {
    cfg_str(cfg, disk).ok_or_else(|| {
        let have = disks(cfg);
        Error::not_found(format!("{} has no disk {disk}", g.label())).hinted(if have.is_empty() {
            "it has no disks".to_string()
        } else {
            format!("its disks: {}", have.join(", "))
        })
    })
}

/// The storages of the guest's disks (a cloud-init drive included) that are not shared, once
/// each: what ties it to its node.
pub(super) fn local_storages(inv: &Inventory, cfg: &Map<String, Json>) -> Vec<String> {
    let shared = |id: &str| inv.storages().iter().any(|s| s.storage == id && s.shared);
    let mut out: Vec<String> = cfg
        .iter()
        .filter(|(k, _)| is_disk_key(k) && !k.starts_with("unused"))
        .filter_map(|(_, v)| v.as_str())
        .filter(|v| !v.contains("media=cdrom") || v.contains("cloudinit"))
        .map(|v| storage_of(v).to_string())
        .filter(|s| !s.is_empty() && !shared(s))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn volume_of(value: &str) -> &str {
    value.split(',').next().unwrap_or(value)
}

fn storage_of(value: &str) -> &str {
    volume_of(value).split(':').next().unwrap_or("")
}

fn size_of(value: &str) -> Option<u64> {
    value
        .split(',')
        .find_map(|p| p.strip_prefix("size="))
        .and_then(parse_size)
}

/// A size in PVE's short form: `42G`, `512M`, `100K`.
fn pve_size(bytes: u64) -> String {
    if bytes.is_multiple_of(GIB) {
        format!("{}G", bytes / GIB)
    } else if bytes.is_multiple_of(1 << 20) {
        format!("{}M", bytes >> 20)
    } else {
        format!("{}K", bytes.div_ceil(1024))
    }
}

/// Checks that `storage` exists on `node` and holds `content`.
fn check_storage(inv: &Inventory, storage: &str, node: &str, content: &str) -> Result<()> {
    let here: Vec<&str> = inv
        .storages()
        .iter()
        .filter(|s| s.node == node && s.content.iter().any(|c| c == content))
        .map(|s| s.storage.as_str())
        .collect();
    if here.contains(&storage) {
        return Ok(());
    }
    let what = match content {
        "images" => "disks",
        "backup" => "backups",
        other => other,
    };
    let known = inv.storages().iter().any(|s| s.storage == storage);
    let msg = if known {
        format!("storage '{storage}' does not hold {what} on node {node}")
    } else {
        format!("no storage '{storage}'")
    };
    let mut names: Vec<&str> = here;
    names.sort_unstable();
    names.dedup();
    Err(Error::not_found(msg).hinted(format!(
        "storages for {what} on {node}: {}",
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )))
}

fn check_node(inv: &Inventory, node: &str) -> Result<()> {
    match inv.nodes().iter().find(|n| n.node == node) {
        Some(n) if n.status == "online" => Ok(()),
        Some(n) => Err(Error::usage(format!(
            "node {node} is {}: nothing can move there",
            n.status
        ))),
        None => {
            let names: Vec<&str> = inv.nodes().iter().map(|n| n.node.as_str()).collect();
            Err(Error::not_found(format!("no node {node}"))
                .hinted(format!("the nodes: {}", names.join(", "))))
        }
    }
}

fn word(g: &Guest) -> String {
    if g.name.is_empty() {
        g.vmid.to_string()
    } else {
        g.name.clone()
    }
}

// ---- clone ------------------------------------------------------------------------------------

/// PVE's `dns-name` format for a guest name: labels of letters, digits and `-`, joined by `.`.
fn check_guest_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!("'{name}' is not a valid guest name")).hinted(
            "letters, digits and -, in labels joined by dots (a DNS name), at most 63 characters",
        ))
    }
}

async fn clone_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let usage = "clone VM NAME [--full] [--target NODE] [--storage S] [--vmid N] [--pool P]";
    let (words, params) = split_words(&call, 0, 1, usage)?;
    let name = params[0].clone();
    check_guest_name(&name)?;
    let inv = ctx.refresh().await?;
    let src = one_guest(ctx, &call, &words, "clone").await?;
    if let Some(other) = inv.guests().iter().find(|g| g.name == name) {
        return Err(Error::usage(format!(
            "a guest named {name} already exists: {}",
            other.label()
        ))
        .hinted("pick another name for the clone"));
    }
    let full = call.args.has_flag("full") || !src.template;
    if !src.template && !call.args.has_flag("full") {
        ctx.note(&format!(
            "{} is not a template: PVE makes a full clone (linked clones need a template)",
            src.label()
        ));
    }
    if src.status == "running" {
        ctx.note(&format!(
            "{} is running: PVE copies its disks live; the clone gets them as they are at the end of the copy, without the memory (as after a power cut)",
            src.label()
        ));
    }
    let storage = flag_text(&call, "storage");
    if storage.is_some() && !full {
        return Err(Error::usage(
            "--storage needs --full: a linked clone keeps its disks on the template's storage",
        ));
    }
    let target_node = flag_text(&call, "target");
    let on = target_node.clone().unwrap_or_else(|| src.node.clone());
    if let Some(t) = &target_node {
        check_node(&inv, t)?;
    }
    if let Some(s) = &storage {
        check_storage(&inv, s, &on, "images")?;
    }
    let src_cfg = read_config(ctx, &src).await?;
    if on != src.node {
        // PVE clones to another node only what it can reach from there: shared storage.
        let shared = |id: &str| inv.storages().iter().any(|s| s.storage == id && s.shared);
        let local = local_storages(&inv, &src_cfg);
        let onto_shared = storage.as_deref().is_some_and(shared);
        if !local.is_empty() && !onto_shared {
            return Err(Error::usage(format!(
                "{} uses local storage ({}): PVE clones to another node only from shared storage",
                src.label(),
                local.join(", ")
            ))
            .hinted(format!(
                "clone it on {}, then `migrate` the clone to {on}",
                src.node
            )));
        }
    }
    let pool = flag_text(&call, "pool");
    if let Some(p) = &pool
        && !inv.pools().contains(p)
    {
        return Err(Error::not_found(format!("no pool '{p}'"))
            .hinted(format!("the pools: {}", inv.pools().join(", "))));
    }
    let asked = match flag_text(&call, "vmid") {
        None => None,
        Some(t) => Some(t.parse::<u32>().map_err(|_| {
            Error::usage(format!(
                "--vmid takes a VMID (a number from 100), got '{t}'"
            ))
        })?),
    };
    let kind = match src.kind {
        GuestKind::Qemu => NewGuest::Vm,
        GuestKind::Lxc => NewGuest::Container,
    };
    let guests = inv.guests().iter().filter(|g| !g.template).count();
    policy::check_new_guest(&ctx.config, kind, asked, guests)?;
    // The clone gets the source's cores and memory: the per-guest quotas apply to them.
    let inherited: std::collections::BTreeMap<String, String> = ["cores", "sockets", "memory"]
        .iter()
        .filter_map(|k| {
            let v = src_cfg.get(*k)?;
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            Some((k.to_string(), text))
        })
        .collect();
    policy::check_quotas(
        &ctx.config,
        &format!("the clone {name}"),
        &inherited,
        &src_cfg,
    )?;
    let config = ctx.config.clone();
    let newid = crate::wizard::provision::allocate_vmid(ctx, &config, &inv, asked, None).await?;
    policy::check_new_guest(&ctx.config, kind, Some(newid), guests)?;
    let op = Op::Clone {
        newid,
        name: name.clone(),
        full,
        target_node,
        storage,
        pool,
    };
    let action = Action::on(op, target_of(&src), &src.status);
    let dry = call.args.has_flag("dry-run");
    let out = finish(ctx, &call, vec![action]).await?;
    if !dry && out.failure.is_none() {
        ctx.note(&format!(
            "{name} ({newid}) is ready on {on}, stopped: `start {name}` boots it"
        ));
    }
    Ok(out)
}

pub static CLONE: Command = Command {
    sig: sig(
        "clone",
        "Copy a guest or template to a new guest (runs at once; linked from templates unless --full).",
        &[
            Arg::pos("vm", ArgKind::Vm, "the guest or template to copy"),
            Arg::pos("name", ArgKind::Text, "the new guest's name"),
            Arg::switch(
                "--full",
                "copy every disk (always so from a guest that is no template)",
            ),
            Arg::flag("--target", ArgKind::Node, "the node of the new guest"),
            Arg::flag(
                "--storage",
                ArgKind::Storage,
                "the storage of its disks (with --full)",
            ),
            Arg::flag(
                "--vmid",
                ArgKind::Count,
                "its VMID (default: the next free one)",
            ),
            Arg::flag("--pool", ArgKind::Text, "a pool to put it in"),
            DRY_RUN,
        ],
        Some(ActionKind::Clone),
        &[
            ex(
                "clone debian-12-cloud web03",
                "a linked clone of a template",
            ),
            ex(
                "clone debian-12-cloud web04 --full --storage local-lvm --vmid 160",
                "a full copy with a chosen VMID",
            ),
            ex(
                "clone web01 web01-test --dry-run",
                "what a copy of a running VM would do",
            ),
        ],
    ),
    run: |ctx, call| Box::pin(clone_run(ctx, call)),
};

// ---- migrate ----------------------------------------------------------------------------------

fn json_strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .map(|x| match x {
                    Json::String(s) => s.clone(),
                    Json::Object(o) => o
                        .get("volid")
                        .and_then(Json::as_str)
                        .unwrap_or("")
                        .to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What PVE's `GET .../migrate` says about the target: local resources (passthrough) and
/// storages the target lacks refuse the move, with the reason.
fn check_target(g: &Guest, node: &str, pre: &Json, target_storage: Option<&str>) -> Result<()> {
    let local_res = json_strings(pre.get("local_resources"));
    if !local_res.is_empty() {
        return Err(Error::new(
            ErrorKind::Policy,
            format!(
                "{} cannot migrate: it uses local resources ({}) that only {} has",
                g.label(),
                local_res.join(", "),
                g.node
            ),
        )
        .hinted("remove the passthrough devices from its config first"));
    }
    let Some(why) = pre.pointer(&format!("/not_allowed_nodes/{node}")) else {
        return Ok(());
    };
    let missing = json_strings(why.get("unavailable_storages"));
    if missing.is_empty() {
        return Err(Error::new(
            ErrorKind::Policy,
            format!("PVE does not allow migrating {} to {node}", g.label()),
        ));
    }
    if target_storage.is_none() {
        return Err(Error::new(
            ErrorKind::Policy,
            format!(
                "{} cannot migrate to {node}: storage {} is not available there",
                g.label(),
                missing.join(", ")
            ),
        )
        .hinted(format!(
            "`--target-storage S` puts its disks on a storage {node} has"
        )));
    }
    Ok(())
}

/// Local disks: a live migration copies them only when asked; either way, say so.
fn check_local_disks(
    ctx: &mut Ctx,
    g: &Guest,
    node: &str,
    pre: &Json,
    online: bool,
    with_local_disks: bool,
) -> Result<()> {
    let local_disks = json_strings(pre.get("local_disks"));
    if local_disks.is_empty() {
        return Ok(());
    }
    if online && !with_local_disks {
        return Err(Error::usage(format!(
            "{} runs on local disks ({}): a live migration copies them only with --with-local-disks",
            g.label(),
            local_disks.join(", ")
        ))
        .hinted("add --with-local-disks, or shut it down and migrate offline"));
    }
    ctx.note(&format!(
        "{}: local disks {} are copied to {node}",
        g.label(),
        local_disks.join(", ")
    ));
    Ok(())
}

async fn migrate_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let usage = "migrate [VM] NODE [--online] [--with-local-disks] [--target-storage S]";
    let (words, params) = split_words(&call, 0, 1, usage)?;
    let node = params[0].clone();
    let inv = ctx.refresh().await?;
    check_node(&inv, &node)?;
    let target_storage = flag_text(&call, "target-storage");
    if let Some(s) = &target_storage {
        check_storage(&inv, s, &node, "images")?;
    }
    let with_local_disks = call.args.has_flag("with-local-disks");
    let guests = guests_of(ctx, &call, &words).await?;
    let mut actions = Vec::new();
    for g in &guests {
        if g.node == node {
            ctx.note(&format!("{}: already on {node}, nothing to do", g.label()));
            continue;
        }
        let cfg = read_config(ctx, g).await?;
        check_protected(ctx, g, &cfg, "migrate")?;
        // What PVE reports comes first: a target that cannot work is refused whatever the
        // guest's state.
        let pre = match g.kind {
            GuestKind::Qemu => Some(
                ctx.get(&endpoints::migrate_precondition(
                    &g.node,
                    g.vmid,
                    Some(&node),
                ))
                .await?,
            ),
            GuestKind::Lxc => None,
        };
        if let Some(pre) = &pre {
            check_target(g, &node, pre, target_storage.as_deref())?;
        }
        let running = g.status == "running";
        let mut online = call.args.has_flag("online");
        if running && !online {
            let how = match g.kind {
                GuestKind::Qemu => "`--online` migrates it live",
                GuestKind::Lxc => {
                    "`--online` restarts it on the target (containers cannot move live)"
                }
            };
            return Err(
                Error::usage(format!("{} is running", g.label())).hinted(format!(
                    "{how}; or shut it down first (`shutdown {}`)",
                    word(g)
                )),
            );
        }
        if !running && online {
            ctx.note(&format!(
                "{} is {}: it migrates offline",
                g.label(),
                g.status
            ));
            online = false;
        }
        if let Some(pre) = &pre {
            check_local_disks(ctx, g, &node, pre, online, with_local_disks)?;
        }
        let op = Op::Migrate {
            target: node.clone(),
            online,
            with_local_disks,
            target_storage: target_storage.clone(),
        };
        actions.push(Action::new(op, target_of(g), precondition(g, &cfg)));
    }
    finish(ctx, &call, actions).await
}

pub static MIGRATE: Command = Command {
    sig: sig(
        "migrate",
        "Move guests to another node (staged); PVE's migration precondition is checked when staging.",
        &[
            VM,
            Arg::pos("node", ArgKind::Node, "the node to move to"),
            Arg::switch(
                "--online",
                "move a running VM live (a running container restarts)",
            ),
            Arg::switch(
                "--with-local-disks",
                "copy local disks during a live migration",
            ),
            Arg::flag(
                "--target-storage",
                ArgKind::Storage,
                "put the disks on this storage of the target",
            ),
            DRY_RUN,
        ],
        Some(ActionKind::Migrate),
        &[
            ex("migrate dev-box pve1", "stage an offline migration"),
            ex(
                "migrate web01 pve2 --online --with-local-disks",
                "stage a live migration, copying its local disks",
            ),
            ex(
                "migrate monitoring pve3",
                "refused: its fast-zfs disk cannot go there",
            ),
            ex(
                "ls | where node=pve3 and status=stopped | migrate pve1",
                "stage one migration per guest piped in",
            ),
        ],
    ),
    run: |ctx, call| Box::pin(migrate_run(ctx, call)),
};

// ---- resize -----------------------------------------------------------------------------------

/// `+10G` (grow by) or `50G` (grow to): PVE's `\+?\d+(\.\d+)?[KMGT]?`, with a unit required
/// (a bare number is bytes to PVE, never what anyone means).
fn parse_resize(size: &str) -> Result<(bool, u64)> {
    let (relative, amount) = match size.strip_prefix('+') {
        Some(a) => (true, a),
        None => (false, size),
    };
    let unit_ok = amount
        .chars()
        .last()
        .is_some_and(|c| matches!(c, 'K' | 'M' | 'G' | 'T'));
    let bytes = parse_size(amount).filter(|_| unit_ok && !amount.starts_with('.'));
    match bytes {
        Some(b) if b > 0 => Ok((relative, b)),
        _ => Err(Error::usage(format!("'{size}' is not a disk size"))
            .hinted("`+10G` grows by 10 GiB, `50G` grows to 50 GiB (units K, M, G, T)")),
    }
}

async fn resize_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let (words, params) = split_words(&call, 0, 2, "resize [VM] DISK SIZE")?;
    let (disk, size) = (params[0].clone(), params[1].clone());
    let (relative, amount) = parse_resize(&size)?;
    ctx.refresh().await?;
    let guests = guests_of(ctx, &call, &words).await?;
    let mut actions = Vec::new();
    for g in &guests {
        let cfg = read_config(ctx, g).await?;
        let value = disk_value(g, &cfg, &disk)?;
        if value.contains("media=cdrom") {
            return Err(Error::usage(format!(
                "{disk} of {} is a CD-ROM drive: it has no size to grow",
                g.label()
            )));
        }
        let current = size_of(value).unwrap_or(0);
        let new = if relative { current + amount } else { amount };
        if new < current {
            return Err(Error::usage(format!(
                "a disk can only grow: {disk} of {} is {}, {size} is smaller",
                g.label(),
                pve_size(current)
            ))
            .hinted(format!(
                "PVE cannot shrink a disk; ask for +N or a size above {}",
                pve_size(current)
            )));
        }
        if new == current {
            ctx.note(&format!(
                "{}: {disk} is already {}, nothing to do",
                g.label(),
                pve_size(current)
            ));
            continue;
        }
        check_protected(ctx, g, &cfg, "resize")?;
        let op = Op::Resize {
            disk: disk.clone(),
            size: size.clone(),
            from: Some(pve_size(current)),
            to: Some(pve_size(new)),
        };
        actions.push(Action::new(op, target_of(g), precondition(g, &cfg)));
    }
    finish(ctx, &call, actions).await
}

pub static RESIZE: Command = Command {
    sig: sig(
        "resize",
        "Grow a disk of guests (staged: a disk can only grow, never shrink again).",
        &[
            VM,
            Arg::pos(
                "disk",
                ArgKind::Text,
                "the disk: scsi0, virtio1, rootfs, mp0...",
            ),
            Arg::pos(
                "size",
                ArgKind::Text,
                "+10G grows by 10 GiB; 50G grows to 50 GiB",
            ),
            DRY_RUN,
        ],
        Some(ActionKind::Resize),
        &[
            ex("resize web01 scsi0 +10G", "stage 10 GiB more"),
            ex("resize web02 scsi0 20G", "refused: a disk cannot shrink"),
        ],
    ),
    run: |ctx, call| Box::pin(resize_run(ctx, call)),
};

// ---- disk add | move | detach -----------------------------------------------------------------

/// The first free slot of `bus` (`scsi1`), in PVE's ranges.
fn free_slot(cfg: &Map<String, Json>, bus: &str) -> Result<String> {
    let max = match bus {
        "scsi" => 30,
        "virtio" => 15,
        "sata" => 5,
        "ide" => 3,
        other => {
            return Err(Error::usage(format!("unknown bus '{other}'"))
                .hinted("--bus scsi, virtio, sata or ide"));
        }
    };
    (0..=max)
        .map(|n| format!("{bus}{n}"))
        .find(|k| !cfg.contains_key(k))
        .ok_or_else(|| Error::usage(format!("every {bus} slot (0-{max}) is taken")))
}

async fn disk_add(ctx: &mut Ctx, call: &Call) -> Result<Vec<Action>> {
    let usage = "disk add [VM] SIZE [--storage S] [--bus scsi|virtio|sata|ide]";
    let (words, params) = split_words(call, 1, 1, usage)?;
    let size = &params[0];
    let bytes = parse_size(size)
        .filter(|b| *b >= GIB && b % GIB == 0)
        .ok_or_else(|| {
            Error::usage(format!("'{size}' is not a size in whole GiB"))
                .hinted("a new disk is 1G or more, in whole GiB: 10G, 1T")
        })?;
    let inv = ctx.refresh().await?;
    let guests = guests_of(ctx, call, &words).await?;
    let bus = flag_text(call, "bus").unwrap_or_else(|| "scsi".into());
    let mut actions = Vec::new();
    for g in &guests {
        if g.kind == GuestKind::Lxc {
            return Err(Error::usage(format!(
                "{} is a container: containers take mount points, not disks",
                g.label()
            ))
            .hinted(format!(
                "`set /nodes/{}/lxc/{}/config mp0=STORAGE:SIZE_GIB,mp=/PATH` adds one",
                g.node, g.vmid
            )));
        }
        let cfg = read_config(ctx, g).await?;
        let storage = match flag_text(call, "storage") {
            Some(s) => s,
            None => disks(&cfg)
                .first()
                .and_then(|d| cfg_str(&cfg, d))
                .map(|v| storage_of(v).to_string())
                .ok_or_else(|| {
                    Error::usage(format!("{} has no disk to take a storage from", g.label()))
                        .hinted("name one with --storage")
                })?,
        };
        check_storage(&inv, &storage, &g.node, "images")?;
        let disk = free_slot(&cfg, &bus)?;
        let op = Op::DiskAdd {
            disk,
            storage,
            size_gib: bytes / GIB,
        };
        actions.push(Action::new(op, target_of(g), precondition(g, &cfg)));
    }
    Ok(actions)
}

async fn disk_move(ctx: &mut Ctx, call: &Call) -> Result<Vec<Action>> {
    let (words, params) = split_words(call, 1, 2, "disk move [VM] DISK STORAGE [--delete]")?;
    let (disk, storage) = (params[0].clone(), params[1].clone());
    let inv = ctx.refresh().await?;
    let guests = guests_of(ctx, call, &words).await?;
    let mut actions = Vec::new();
    for g in &guests {
        let cfg = read_config(ctx, g).await?;
        let value = disk_value(g, &cfg, &disk)?;
        if value.contains("media=cdrom") {
            return Err(Error::usage(format!(
                "{disk} of {} is a CD-ROM drive, not a disk",
                g.label()
            )));
        }
        let from = storage_of(value).to_string();
        if from == storage {
            ctx.note(&format!(
                "{}: {disk} is already on {storage}, nothing to do",
                g.label()
            ));
            continue;
        }
        check_storage(&inv, &storage, &g.node, "images")?;
        check_protected(ctx, g, &cfg, "move a disk of")?;
        let op = Op::DiskMove {
            disk: disk.clone(),
            storage: storage.clone(),
            delete: call.args.has_flag("delete"),
            from: Some(from),
        };
        actions.push(Action::new(op, target_of(g), precondition(g, &cfg)));
    }
    Ok(actions)
}

async fn disk_detach(ctx: &mut Ctx, call: &Call) -> Result<Vec<Action>> {
    let (words, params) = split_words(call, 1, 1, "disk detach [VM] DISK")?;
    let disk = params[0].clone();
    ctx.refresh().await?;
    let guests = guests_of(ctx, call, &words).await?;
    let mut actions = Vec::new();
    for g in &guests {
        if g.kind == GuestKind::Lxc {
            return Err(Error::usage(format!(
                "{} is a container: detach a mount point with `set /nodes/{}/lxc/{}/config delete={disk}`",
                g.label(),
                g.node,
                g.vmid
            )));
        }
        let cfg = read_config(ctx, g).await?;
        let value = disk_value(g, &cfg, &disk)?;
        if disk.starts_with("unused") {
            return Err(Error::usage(format!(
                "{disk} of {} is already detached",
                g.label()
            )));
        }
        check_protected(ctx, g, &cfg, "detach a disk of")?;
        let op = Op::DiskDetach {
            disk: disk.clone(),
            volume: volume_of(value).to_string(),
        };
        actions.push(Action::new(op, target_of(g), precondition(g, &cfg)));
    }
    Ok(actions)
}

async fn disk_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let sub = call.args.positionals.first().map(|w| w.text.clone());
    let actions = match sub.as_deref() {
        Some("add") => disk_add(ctx, &call).await?,
        Some("move") => disk_move(ctx, &call).await?,
        Some("detach") => disk_detach(ctx, &call).await?,
        Some(other) => {
            return Err(Error::usage(format!("unknown disk operation '{other}'"))
                .hinted("disk add, disk move or disk detach"));
        }
        None => {
            return Err(Error::usage("disk needs an operation")
                .hinted("disk add [VM] SIZE, disk move [VM] DISK STORAGE, disk detach [VM] DISK"));
        }
    };
    finish(ctx, &call, actions).await
}

pub static DISK: Command = Command {
    sig: sig(
        "disk",
        "Disks of VMs: `add` a new one in the next free slot (runs at once), `move` one to another storage or `detach` one (staged; it stays as unusedN).",
        &[
            Arg::pos(
                "op",
                ArgKind::Choice(&["add", "move", "detach"]),
                "add, move or detach",
            ),
            VM,
            Arg::pos(
                "args",
                ArgKind::Text,
                "add: SIZE; move: DISK STORAGE; detach: DISK",
            ),
            Arg::flag(
                "--storage",
                ArgKind::Storage,
                "add: the storage (default: the first disk's)",
            ),
            Arg::flag(
                "--bus",
                ArgKind::Choice(&["scsi", "virtio", "sata", "ide"]),
                "add: the bus (default scsi)",
            ),
            Arg::switch(
                "--delete",
                "move: delete the old volume (else kept as unusedN)",
            ),
            DRY_RUN,
        ],
        None,
        &[
            ex(
                "disk add web01 50G",
                "a new 50 GiB disk in the next free SCSI slot",
            ),
            ex(
                "disk move web01 scsi0 fast-zfs --delete",
                "stage moving a disk",
            ),
            ex("disk detach monitoring scsi1", "stage detaching a disk"),
        ],
    ),
    run: |ctx, call| Box::pin(disk_run(ctx, call)),
};

// ---- backup -----------------------------------------------------------------------------------

async fn backup_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let choice = |flag: &str, allowed: &[&str]| -> Result<Option<String>> {
        match flag_text(&call, flag) {
            Some(v) if !allowed.contains(&v.as_str()) => Err(Error::usage(format!(
                "--{flag} {v}: not one of {}",
                allowed.join(", ")
            ))),
            other => Ok(other),
        }
    };
    let mode = choice("mode", &["snapshot", "suspend", "stop"])?;
    let compress = choice("compress", &["zstd", "lzo", "gzip", "0"])?;
    let storage = flag_text(&call, "storage");
    let words: Vec<String> = call
        .args
        .positionals
        .iter()
        .map(|w| w.text.clone())
        .collect();
    let inv = ctx.refresh().await?;
    let guests = guests_of(ctx, &call, &words).await?;
    let mut actions = Vec::new();
    for g in &guests {
        if let Some(s) = &storage {
            check_storage(&inv, s, &g.node, "backup")?;
        }
        let op = Op::Backup {
            storage: storage.clone(),
            mode: mode.clone(),
            compress: compress.clone(),
            notes: flag_text(&call, "notes"),
            protected: call.args.has_flag("protected"),
        };
        actions.push(Action::on(op, target_of(g), &g.status));
    }
    let dry = call.args.has_flag("dry-run");
    let out = finish(ctx, &call, actions).await?;
    if !dry && out.failure.is_none() && !guests.is_empty() {
        ctx.note("`backups` lists them");
    }
    Ok(out)
}

pub static BACKUP: Command = Command {
    sig: sig(
        "backup",
        "Back guests up with vzdump (runs at once, following each task).",
        &[
            VM,
            Arg::flag(
                "--mode",
                ArgKind::Choice(&["snapshot", "suspend", "stop"]),
                "how the guest is held while it is read (default snapshot)",
            ),
            Arg::flag(
                "--storage",
                ArgKind::Storage,
                "a storage for backups (default: PVE's, `local`)",
            ),
            Arg::flag(
                "--compress",
                ArgKind::Choice(&["zstd", "lzo", "gzip", "0"]),
                "compression (0: none)",
            ),
            Arg::flag(
                "--notes",
                ArgKind::Text,
                "notes; {{guestname}} and {{vmid}} are filled in",
            ),
            Arg::switch("--protected", "protect it from pruning and removal"),
            DRY_RUN,
        ],
        Some(ActionKind::Backup),
        &[
            ex(
                "backup web01 --storage backup --notes '{{guestname}} before upgrade'",
                "one guest",
            ),
            ex(
                "ls | where tags has db | backup --storage backup --protected",
                "the guests piped in",
            ),
        ],
    ),
    run: |ctx, call| Box::pin(backup_run(ctx, call)),
};

// ---- restore ----------------------------------------------------------------------------------

/// The guest type and VMID a vzdump archive name carries: `vzdump-qemu-101-...`.
fn archive_origin(volid: &str) -> Result<(GuestKind, u32)> {
    let file = volid.rsplit('/').next().unwrap_or(volid);
    let parse = |prefix: &str| {
        file.strip_prefix(prefix)
            .and_then(|r| r.split('-').next())
            .and_then(|n| n.parse::<u32>().ok())
    };
    if let Some(id) = parse("vzdump-qemu-") {
        return Ok((GuestKind::Qemu, id));
    }
    if let Some(id) = parse("vzdump-lxc-") {
        return Ok((GuestKind::Lxc, id));
    }
    Err(Error::usage(format!("'{volid}' is not a vzdump backup"))
        .hinted("`backups` lists them; pass its volid (STORAGE:backup/vzdump-...)"))
}

/// The node that can read `volid`: the guest's own first, then any online node whose storage
/// lists it.
async fn archive_node(
    ctx: &Ctx,
    inv: &Inventory,
    volid: &str,
    prefer: Option<&str>,
) -> Result<String> {
    let store = volid.split(':').next().unwrap_or("");
    let mut nodes: Vec<&str> = inv
        .storages()
        .iter()
        .filter(|s| s.storage == store)
        .map(|s| s.node.as_str())
        .filter(|n| {
            inv.nodes()
                .iter()
                .any(|e| e.node == *n && e.status == "online")
        })
        .collect();
    nodes.sort_by_key(|n| Some(*n) != prefer);
    nodes.dedup();
    if nodes.is_empty() {
        return Err(Error::not_found(format!(
            "no online node has storage '{store}'"
        )));
    }
    for n in &nodes {
        let list = ctx
            .get(&endpoints::storage_content(n, store, Some("backup"), None))
            .await?;
        let found = list.as_array().is_some_and(|a| {
            a.iter()
                .any(|v| v.get("volid").and_then(Json::as_str) == Some(volid))
        });
        if found {
            return Ok(n.to_string());
        }
    }
    Err(Error::not_found(format!("no backup {volid}"))
        .hinted("`backups` lists the backups there are"))
}

/// The archive: the positional, else the `volid` of the backup record piped in.
fn archive_arg(call: &Call) -> Result<String> {
    if let Some(w) = call.args.positionals.first() {
        return Ok(w.text.clone());
    }
    let piped = match &call.input {
        Value::Record(r) => r.get("volid").map(|v| v.to_string()),
        Value::List(items) if items.len() == 1 => match &items[0] {
            Value::Record(r) => r.get("volid").map(|v| v.to_string()),
            _ => None,
        },
        _ => None,
    };
    piped.ok_or_else(|| {
        Error::usage("restore needs a backup").hinted(
            "restore VOLID, or pipe one backup in: `backups web01 | first | restore --vmid 300`",
        )
    })
}

async fn restore_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let archive = archive_arg(&call)?;
    let (kind, origin) = archive_origin(&archive)?;
    let vmid = match flag_text(&call, "vmid") {
        None => origin,
        Some(t) => t.parse::<u32>().map_err(|_| {
            Error::usage(format!(
                "--vmid takes a VMID (a number from 100), got '{t}'"
            ))
        })?,
    };
    let inv = ctx.refresh().await?;
    let existing = inv.guest(vmid).cloned();
    let prefer = existing.as_ref().map(|g| g.node.clone());
    let node = archive_node(ctx, &inv, &archive, prefer.as_deref()).await?;
    let storage = flag_text(&call, "storage");
    let force = call.args.has_flag("force");
    let op = Op::Restore {
        archive: archive.clone(),
        storage: storage.clone(),
        force,
        unique: call.args.has_flag("unique"),
    };
    let action = match existing {
        Some(g) => {
            if !force {
                return Err(Error::usage(format!("{} exists", g.label())).hinted(
                    "`--force` restores over it (staged), or `--vmid N` restores to a new guest",
                ));
            }
            if g.kind != kind {
                return Err(Error::usage(format!(
                    "{} is a {}, the backup is of a {}",
                    g.label(),
                    g.kind.as_str(),
                    kind.as_str()
                )));
            }
            if g.status == "running" {
                return Err(Error::usage(format!(
                    "{} is running: PVE restores only over a stopped guest",
                    g.label()
                ))
                .hinted(format!("stage a stop first: `stop {}`", word(&g))));
            }
            if g.node != node {
                return Err(Error::usage(format!(
                    "{} is on {}, and {} cannot read {archive}",
                    g.label(),
                    g.node,
                    g.node
                )));
            }
            if let Some(s) = &storage {
                check_storage(&inv, s, &node, "images")?;
            }
            let cfg = read_config(ctx, &g).await?;
            check_protected(ctx, &g, &cfg, "restore over")?;
            Action::new(op, target_of(&g), precondition(&g, &cfg))
        }
        None => {
            if let Some(s) = &storage {
                check_storage(&inv, s, &node, "images")?;
            }
            let what = match kind {
                GuestKind::Qemu => NewGuest::Vm,
                GuestKind::Lxc => NewGuest::Container,
            };
            let guests = inv.guests().iter().filter(|g| !g.template).count();
            policy::check_new_guest(&ctx.config, what, Some(vmid), guests)?;
            if vmid != origin
                && let Some(o) = inv.guest(origin)
            {
                ctx.note(&format!(
                    "guest {vmid} gets the config of {}, its name too: `set name=NEW {vmid}` renames it",
                    o.label()
                ));
            }
            let target = Target {
                vmid,
                node: node.clone(),
                guest_kind: kind,
                name: String::new(),
            };
            Action::on(op, target, "absent")
        }
    };
    finish(ctx, &call, vec![action]).await
}

pub static RESTORE: Command = Command {
    sig: sig(
        "restore",
        "Restore a backup: to a new VMID at once; over an existing guest (--force) staged, as it replaces its disks.",
        &[
            Arg::opt(
                "volid",
                ArgKind::Text,
                "the backup (`backups` lists them), or one piped in",
            ),
            Arg::flag(
                "--vmid",
                ArgKind::Count,
                "the VMID to restore to (default: the backup's)",
            ),
            Arg::flag(
                "--storage",
                ArgKind::Storage,
                "put the disks on this storage",
            ),
            Arg::switch(
                "--force",
                "overwrite the existing guest with that VMID (staged)",
            ),
            Arg::switch("--unique", "give it new MAC addresses"),
            DRY_RUN,
        ],
        Some(ActionKind::Restore),
        &[
            ex(
                "backups web01 | first | restore --vmid 300 --unique",
                "the newest backup of web01 as a new guest",
            ),
            ex(
                "restore backup:backup/vzdump-lxc-200-2025_12_29-02_00_00.tar.zst --vmid 201",
                "refused: 201 exists",
            ),
        ],
    ),
    run: |ctx, call| Box::pin(restore_run(ctx, call)),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_sizes() {
        assert_eq!(parse_resize("+10G").unwrap(), (true, 10 * GIB));
        assert_eq!(parse_resize("50G").unwrap(), (false, 50 * GIB));
        assert_eq!(parse_resize("1.5T").unwrap(), (false, 1536 * GIB));
        for bad in ["10", "+", "-5G", "10X", "G", "+.5G"] {
            assert!(parse_resize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pve_sizes() {
        assert_eq!(pve_size(42 * GIB), "42G");
        assert_eq!(pve_size(512 << 20), "512M");
        assert_eq!(pve_size(1536), "2K");
    }

    #[test]
    fn archive_names() {
        let (k, id) =
            archive_origin("backup:backup/vzdump-qemu-101-2025_12_31-02_00_00.vma.zst").unwrap();
        assert_eq!((k, id), (GuestKind::Qemu, 101));
        let (k, id) = archive_origin("local:backup/vzdump-lxc-200-2025_12_29.tar.zst").unwrap();
        assert_eq!((k, id), (GuestKind::Lxc, 200));
        assert!(archive_origin("local:iso/debian.iso").is_err());
    }

    #[test]
    fn disk_keys() {
        for k in [
            "scsi0", "virtio15", "sata5", "ide2", "efidisk0", "rootfs", "mp3", "unused0",
        ] {
            assert!(is_disk_key(k), "{k}");
        }
        for k in ["scsihw", "net0", "memory", "scsi"] {
            assert!(!is_disk_key(k), "{k}");
        }
    }

    #[test]
    fn guest_names() {
        assert!(check_guest_name("web03").is_ok());
        assert!(check_guest_name("web03.lab").is_ok());
        for bad in ["", "-web", "web_03", "a..b", "web-"] {
            assert!(check_guest_name(bad).is_err(), "{bad}");
        }
    }
}
