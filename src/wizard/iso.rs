//! `new --iso`: an empty VM that boots an installer ISO. The wizard is `prompts/new-iso.yaml`;
//! this file lists the cluster's ISOs, plans the VM ([`IsoPlan`]: the ISO, a node that has it
//! and the disk storage, a VMID from the range) and builds it (create → start), destroying what
//! it created when a step fails.
//!
//! There is no address to wait for: the installer runs on the VM's console. Must not: touch the
//! terminal (the prompter does) or change anything before the plan is accepted.

use serde_json::Value as Json;

use crate::api::{GuestKind, endpoints};
use crate::config::{Config, Size};
use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::lang::{Record, Value};
use crate::session::Ctx;
use crate::staging::{Action, Op, Params};

use super::engine::{self, Answers};
use super::facts::{DEFAULT_BRIDGE, IsoImage, NewFacts};
use super::new::NewOptions;
use super::plan;
use super::prompter::{Prompter, cancelled};
use super::provision::{self, Built, Guard, Target, failed, rollback, run_step};
use super::spec::WizardSpec;
use super::validate;

/// The storage for new disks when the config names none.
const DEFAULT_STORAGE: &str = "local-lvm";

/// An ISO VM to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoPlan {
    pub name: String,
    pub vmid: u32,
    pub node: String,
    pub placement: String,
    pub iso: String,
    pub cores: u32,
    pub sockets: u32,
    pub memory: Size,
    /// The new disk, in whole GiB.
    pub disk_gib: u64,
    pub storage: String,
    pub bridge: String,
    pub ostype: String,
    pub scsihw: String,
    pub agent: bool,
    pub start: bool,
    /// What the preview warns of (more memory than the node has free).
    pub warnings: Vec<String>,
}

impl IsoPlan {
    /// `POST /nodes/{node}/qemu`: the VM with a new disk, the ISO in the CD drive, one NIC.
    pub fn create_action(&self) -> Action {
        let params = Params::default()
            .param("name", &self.name)
            .param("cores", self.cores)
            .param("sockets", self.sockets)
            .param("memory", self.memory.mib())
            .param("scsihw", &self.scsihw)
            .param("scsi0", format!("{}:{}", self.storage, self.disk_gib))
            .param("ide2", format!("{},media=cdrom", self.iso))
            .param("net0", format!("virtio,bridge={}", self.bridge))
            .param("boot", "order=scsi0;ide2;net0")
            .param("ostype", &self.ostype)
            .flag("agent", self.agent);
        let target = Target {
            node: self.node.clone(),
            vmid: self.vmid,
            name: self.name.clone(),
            kind: GuestKind::Qemu,
        };
        Action::on(Op::Create { params: params.0 }, target.staging(), "")
    }

    pub fn steps(&self) -> Vec<String> {
        let mut steps = vec![format!(
            "create {} ({}) on {} ({}): {} core(s) × {} socket(s), {} memory, {}G disk on {}, {} in the CD drive",
            self.name,
            self.vmid,
            self.node,
            self.placement,
            self.cores,
            self.sockets,
            self.memory,
            self.disk_gib,
            self.storage,
            self.iso
        )];
        if self.start {
            steps.push("start it: the installer runs on its console".to_string());
        }
        steps
    }

    pub fn preview(&self) -> String {
        super::plan::numbered_with(
            &format!("Plan for {}", self.name),
            &self.steps(),
            &self.warnings,
        )
    }

    pub fn to_value(&self) -> Value {
        let mut r = Record::new();
        r.insert("vmid", Value::Int(i64::from(self.vmid)));
        r.insert("name", Value::String(self.name.clone()));
        r.insert("node", Value::String(self.node.clone()));
        r.insert("iso", Value::String(self.iso.clone()));
        r.insert("cores", Value::Int(i64::from(self.cores)));
        r.insert("memory", Value::Size(self.memory.bytes()));
        r.insert("disk", Value::Size(self.disk_gib << 30));
        r.insert("storage", Value::String(self.storage.clone()));
        r.insert("start", Value::Bool(self.start));
        Value::Record(r)
    }
}

/// Every ISO on the cluster's storages that hold ISOs (one read per node and storage; shared
/// storages once).
pub async fn list_isos(ctx: &Ctx, inv: &Inventory) -> Result<Vec<IsoImage>> {
    list_volumes(ctx, inv, "iso").await
}

/// Every volume of one content type (`iso`, `vztmpl`) on the storages that hold it (one read
/// per node and storage; shared storages once).
pub async fn list_volumes(ctx: &Ctx, inv: &Inventory, content: &str) -> Result<Vec<IsoImage>> {
    let mut out = Vec::new();
    let mut seen_shared: Vec<&str> = Vec::new();
    for s in inv.storages() {
        if !s.content.iter().any(|c| c == content) {
            continue;
        }
        if s.shared {
            if seen_shared.contains(&s.storage.as_str()) {
                continue;
            }
            seen_shared.push(&s.storage);
        }
        let req = endpoints::storage_content(&s.node, &s.storage, Some(content), None);
        let items = ctx.get(&req).await?;
        for item in items.as_array().into_iter().flatten() {
            if let Some(volid) = item.get("volid").and_then(Json::as_str) {
                out.push(IsoImage {
                    volid: volid.to_string(),
                    storage: s.storage.clone(),
                    node: (!s.shared).then(|| s.node.clone()),
                });
            }
        }
    }
    Ok(out)
}

fn answer<'a>(answers: &'a Answers, key: &str) -> Result<&'a str> {
    answers
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| Error::internal(format!("the wizard gave no '{key}'")))
}

/// The node: the one asked for (it must have the ISO and the disk storage), else the online
/// node with the most free memory among those that have both.
fn place(
    inv: &Inventory,
    isos: &[&IsoImage],
    storage: &str,
    asked: Option<&str>,
) -> Result<(String, IsoImage, String)> {
    let has_storage = |node: &str| {
        inv.storages()
            .iter()
            .any(|s| s.storage == storage && (s.shared || s.node == node))
    };
    let iso_on = |node: &str| {
        isos.iter()
            .find(|i| i.node.as_deref().is_none_or(|n| n == node))
            .map(|i| (*i).clone())
    };
    if let Some(node) = asked {
        let iso = iso_on(node).ok_or_else(|| {
            Error::usage(format!("node {node} does not have that ISO"))
                .hinted("leave the node out to pick one that has it")
        })?;
        if !has_storage(node) {
            return Err(Error::usage(format!(
                "node {node} has no storage {storage} for the disk"
            )));
        }
        return Ok((node.to_string(), iso, "asked for".to_string()));
    }
    inv.nodes()
        .iter()
        .filter(|n| n.status == "online" && has_storage(&n.node))
        .filter_map(|n| iso_on(&n.node).map(|iso| (n, iso)))
        .max_by_key(|(n, _)| {
            (
                n.maxmem.saturating_sub(n.mem),
                std::cmp::Reverse(n.node.clone()),
            )
        })
        .map(|(n, iso)| (n.node.clone(), iso, "most free memory".to_string()))
        .ok_or_else(|| {
            Error::not_found(format!(
                "no online node has both the ISO and the storage {storage}"
            ))
        })
}

/// Plans the VM from checked answers. Reads only (`/cluster/nextid`).
pub async fn resolve(
    ctx: &Ctx,
    config: &Config,
    facts: &NewFacts<'_>,
    answers: &Answers,
    vmid: Option<u32>,
) -> Result<IsoPlan> {
    let inv = facts.inventory;
    plan::check_vm_count(config, inv)?;
    let iso_answer = answer(answers, "iso")?;
    let isos = facts.isos_named(iso_answer);
    if isos.is_empty() {
        return Err(Error::not_found(format!(
            "no ISO '{iso_answer}' on the cluster"
        )));
    }
    let storage = config
        .defaults
        .storage
        .clone()
        .unwrap_or_else(|| DEFAULT_STORAGE.to_string());
    let asked = answers.get("node").filter(|n| !n.is_empty());
    let (node, iso, placement) = place(inv, &isos, &storage, asked.map(String::as_str))?;
    let bad = |m: String| Error::usage(m);
    let disk = validate::size(answer(answers, "disk")?).map_err(bad)?;
    let vmid = provision::allocate_vmid(ctx, config, inv, vmid, None).await?;
    let d = &config.defaults;
    let memory = validate::memory(answer(answers, "memory")?).map_err(bad)?;
    let warnings = super::plan::memory_warnings(inv, &node, memory);
    Ok(IsoPlan {
        name: validate::name(answer(answers, "name")?).map_err(bad)?,
        vmid,
        node,
        placement,
        iso: iso.volid,
        cores: validate::cores(answer(answers, "cores")?).map_err(bad)?,
        sockets: facts.sockets(answers),
        memory,
        disk_gib: disk.bytes().div_ceil(1 << 30).max(1),
        storage,
        bridge: d
            .bridge
            .clone()
            .unwrap_or_else(|| DEFAULT_BRIDGE.to_string()),
        ostype: d.ostype.map_or("l26", |o| o.as_str()).to_string(),
        scsihw: d
            .scsihw
            .map_or("virtio-scsi-single", |s| s.as_str())
            .to_string(),
        agent: d.agent.unwrap_or(true),
        start: answers.get("start").is_none_or(|s| s == "yes"),
        warnings,
    })
}

/// What `new --iso` did.
#[derive(Debug, Clone)]
pub enum IsoOutcome {
    Planned(IsoPlan),
    Built(IsoPlan, Built),
}

/// The `new --iso` flow: ask, plan, preview, build.
pub async fn run(
    ctx: &mut Ctx,
    spec: &WizardSpec,
    config: &Config,
    prompter: &mut dyn Prompter,
    given: &Answers,
    opts: &NewOptions,
) -> Result<IsoOutcome> {
    let inv = ctx.refresh().await?;
    let mut facts = NewFacts::new(config, &inv);
    facts.isos = list_isos(ctx, &inv).await?;
    let answers = engine::run(spec, prompter, &facts, given)?;
    let plan = resolve(ctx, config, &facts, &answers, opts.vmid).await?;
    if opts.confirm {
        prompter.show(&plan.preview());
    } else {
        for line in plan.preview().lines() {
            ctx.note(line);
        }
    }
    if opts.dry_run {
        return Ok(IsoOutcome::Planned(plan));
    }
    if opts.confirm && !prompter.confirm("Build it?", true)? {
        return Err(cancelled());
    }
    let built = build(ctx, &plan, opts).await?;
    Ok(IsoOutcome::Built(plan, built))
}

async fn build(ctx: &mut Ctx, plan: &IsoPlan, opts: &NewOptions) -> Result<Built> {
    let target = Target {
        node: plan.node.clone(),
        vmid: plan.vmid,
        name: plan.name.clone(),
        kind: GuestKind::Qemu,
    };
    let mut work = vec![("create", plan.create_action())];
    if plan.start {
        work.push(("start", Action::on(Op::Start, target.staging(), "stopped")));
    }
    let total = work.len();
    let exec = ctx.staging.executor(&ctx.client);
    let mut guard = Guard::new(&exec, &opts.build);
    guard.arm(target.clone());
    for (i, (what, req)) in work.iter().enumerate() {
        ctx.note(&format!(
            "[{}/{total}] {what} {} ({})…",
            i + 1,
            plan.name,
            plan.vmid
        ));
        if let Err(e) = run_step(&exec, req, &opts.build).await {
            let cleanup = rollback(ctx, &target, &opts.build).await;
            guard.disarm();
            return Err(failed(&target, what, e, cleanup));
        }
    }
    guard.disarm();
    let _ = ctx.refresh().await;
    if plan.start {
        ctx.note(&format!(
            "{} is running the installer from {}: open its console in the PVE web UI",
            plan.name, plan.iso
        ));
    }
    Ok(Built {
        vmid: plan.vmid,
        name: plan.name.clone(),
        node: plan.node.clone(),
        started: plan.start,
        ip: None,
        user: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_request_carries_the_plan() {
        let plan = IsoPlan {
            name: "inst01".into(),
            vmid: 150,
            node: "pve2".into(),
            placement: "asked for".into(),
            iso: "local:iso/debian.iso".into(),
            cores: 2,
            sockets: 1,
            memory: "4G".parse().unwrap(),
            disk_gib: 32,
            storage: "local-lvm".into(),
            bridge: "vmbr0".into(),
            ostype: "l26".into(),
            scsihw: "virtio-scsi-single".into(),
            agent: true,
            start: true,
            warnings: Vec::new(),
        };
        let req = plan.create_action().request();
        assert_eq!(req.path, "/nodes/pve2/qemu");
        let get = |k: &str| req.value(k).map(str::to_string);
        assert_eq!(get("scsi0").as_deref(), Some("local-lvm:32"));
        assert_eq!(
            get("ide2").as_deref(),
            Some("local:iso/debian.iso,media=cdrom")
        );
        assert_eq!(get("memory").as_deref(), Some("4096"));
        assert_eq!(get("agent").as_deref(), Some("1"));
        assert_eq!(plan.steps().len(), 2);
    }
}
