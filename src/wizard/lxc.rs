//! `new --lxc`: a container from a template archive (a `vztmpl` volume). This file plans the
//! container ([`LxcPlan`]: the archive, a node that has it and the root-disk storage, a VMID
//! from the range, the network, SSH keys) and builds it (create → start → read its address from
//! `GET /nodes/{node}/lxc/{vmid}/interfaces`), destroying the container it created when a step
//! fails.
//!
//! It takes its answers from flags (`new NAME --lxc ...`) or from the wizard
//! `prompts/new-lxc.yaml` ([`run_wizard`], which offers the cluster's archives). Must not: touch the terminal, or change anything before the plan is built
//! (`--dry-run` only reads).

use std::time::Duration;

use serde_json::Value as Json;

use crate::api::{ApiRequest, GuestKind};
use crate::config::{Config, Size};
use crate::error::{Error, ErrorKind, Result};
use crate::inventory::Inventory;
use crate::lang::{Record, Value};
use crate::session::Ctx;
use crate::staging::{Action, Op, Params};

use super::engine::{self, Answers};
use super::facts::{DEFAULT_BRIDGE, IsoImage, NewFacts};
use super::iso::list_volumes;
use super::plan::{self, Network};
use super::prompter::{Prompter, cancelled};
use super::provision::{
    self, BuildOptions, Built, Cleanup, Guard, Target, failed, rollback, run_step,
};
use super::spec::WizardSpec;
use super::validate;

/// The storage for root disks when neither `--storage` nor the config names one.
const DEFAULT_STORAGE: &str = "local-lvm";
/// The archive taken when none is asked for: the first whose file name starts with this.
const DEFAULT_ARCHIVE: &str = "debian-12-standard";

/// What the flags of `new NAME --lxc` say; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct LxcArgs {
    pub name: String,
    /// A volid (`local:vztmpl/...`), a file name, or the start of one (`ubuntu-24.04`).
    pub template: Option<String>,
    pub cores: Option<String>,
    pub memory: Option<String>,
    pub disk: Option<String>,
    pub node: Option<String>,
    pub storage: Option<String>,
    pub ip: Option<String>,
    pub gw: Option<String>,
    pub nameserver: Option<String>,
    /// A file of public keys; without it, the config's `cloudinit.ssh_keys`.
    pub ssh_keys: Option<String>,
    pub vmid: Option<u32>,
    pub privileged: bool,
    pub start: bool,
}

/// A container to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LxcPlan {
    pub name: String,
    pub vmid: u32,
    pub node: String,
    pub placement: String,
    pub template: String,
    pub cores: u32,
    pub memory: Size,
    /// The root disk, in whole GiB.
    pub disk_gib: u64,
    pub storage: String,
    pub bridge: String,
    pub network: Network,
    pub nameserver: Option<String>,
    pub sshkeys: Option<String>,
    pub unprivileged: bool,
    pub start: bool,
    /// What the preview warns of (more memory than the node has free).
    pub warnings: Vec<String>,
}

impl LxcPlan {
    /// The `net0` value: `name=eth0,bridge=vmbr0,ip=dhcp` or with a static address and gateway.
    pub fn net0(&self) -> String {
        format!(
            "name=eth0,bridge={},{}",
            self.bridge,
            self.network.ipconfig()
        )
    }

    /// `POST /nodes/{node}/lxc`: the container, unpacked from the archive onto a new root disk.
    pub fn create_action(&self) -> Action {
        let mut params = Params::default()
            .param("ostemplate", &self.template)
            .param("hostname", &self.name)
            .param("cores", self.cores)
            .param("memory", self.memory.mib())
            .param("rootfs", format!("{}:{}", self.storage, self.disk_gib))
            .param("net0", self.net0())
            .flag("unprivileged", self.unprivileged);
        if let Some(ns) = &self.nameserver {
            params = params.param("nameserver", ns);
        }
        if let Some(keys) = &self.sshkeys {
            params = params.param("ssh-public-keys", keys);
        }
        Action::on(Op::Create { params: params.0 }, self.target().staging(), "")
    }

    pub fn steps(&self) -> Vec<String> {
        let kind = if self.unprivileged {
            "unprivileged"
        } else {
            "privileged"
        };
        let mut steps = vec![format!(
            "create {kind} container {} ({}) on {} ({}) from {}: {} core(s), {} memory, {}G root disk on {}, {}",
            self.name,
            self.vmid,
            self.node,
            self.placement,
            self.template,
            self.cores,
            self.memory,
            self.disk_gib,
            self.storage,
            self.net0()
        )];
        if self.start {
            steps.push("start it and read its address".to_string());
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
        r.insert("template", Value::String(self.template.clone()));
        r.insert("cores", Value::Int(i64::from(self.cores)));
        r.insert("memory", Value::Size(self.memory.bytes()));
        r.insert("disk", Value::Size(self.disk_gib << 30));
        r.insert("storage", Value::String(self.storage.clone()));
        r.insert("net0", Value::String(self.net0()));
        r.insert("unprivileged", Value::Bool(self.unprivileged));
        r.insert("start", Value::Bool(self.start));
        Value::Record(r)
    }

    fn target(&self) -> Target {
        Target {
            node: self.node.clone(),
            vmid: self.vmid,
            name: self.name.clone(),
            kind: GuestKind::Lxc,
        }
    }
}

/// The archives that match the answer: the volid, the file name, or the start of the file name.
pub fn archives_named<'a>(all: &'a [IsoImage], answer: &str) -> Vec<&'a IsoImage> {
    let exact: Vec<&IsoImage> = all
        .iter()
        .filter(|a| a.volid == answer || a.file() == answer)
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    all.iter()
        .filter(|a| a.file().starts_with(answer))
        .collect()
}

/// The node: the one asked for (it must have the archive and the storage), else the online
/// node with the most free memory among those that have both.
fn place(
    inv: &Inventory,
    archives: &[&IsoImage],
    storage: &str,
    asked: Option<&str>,
) -> Result<(String, String, String)> {
    let has_storage = |node: &str| {
        inv.storages()
            .iter()
            .any(|s| s.storage == storage && (s.shared || s.node == node))
    };
    let archive_on = |node: &str| {
        archives
            .iter()
            .find(|a| a.node.as_deref().is_none_or(|n| n == node))
            .map(|a| a.volid.clone())
    };
    if let Some(node) = asked {
        let archive = archive_on(node).ok_or_else(|| {
            Error::usage(format!("node {node} does not have that template archive"))
                .hinted("leave --node out to pick one that has it")
        })?;
        if !has_storage(node) {
            return Err(Error::usage(format!(
                "node {node} has no storage {storage} for the root disk"
            ))
            .hinted("name another one with --storage"));
        }
        return Ok((node.to_string(), archive, "asked for".to_string()));
    }
    inv.nodes()
        .iter()
        .filter(|n| n.status == "online" && has_storage(&n.node))
        .filter_map(|n| archive_on(&n.node).map(|a| (n, a)))
        .max_by_key(|(n, _)| {
            (
                n.maxmem.saturating_sub(n.mem),
                std::cmp::Reverse(n.node.clone()),
            )
        })
        .map(|(n, a)| (n.node.clone(), a, "most free memory".to_string()))
        .ok_or_else(|| {
            Error::not_found(format!(
                "no online node has both the template archive and the storage {storage}"
            ))
        })
}

fn network(args: &LxcArgs) -> Result<Network> {
    let bad = |m: String| Error::usage(m);
    match (&args.ip, &args.gw) {
        (None, None) => Ok(Network::Dhcp),
        (None, Some(_)) => Err(Error::usage("--gw needs --ip")
            .hinted("new ct01 --lxc --ip 10.0.5.30/24 --gw 10.0.5.1")),
        (Some(ip), gw) => {
            let ip = validate::cidr(ip).map_err(bad)?;
            let gw = match gw {
                Some(g) => Some(validate::gateway(g, ip).map_err(bad)?),
                None => None,
            };
            Ok(Network::Static { ip, gw })
        }
    }
}

fn ssh_keys(config: &Config, file: Option<&str>) -> Result<Option<String>> {
    if let Some(file) = file.filter(|f| !f.trim().is_empty()) {
        return super::facts::read_key_file(file)
            .map(Some)
            .map_err(Error::usage);
    }
    let keys = config.cloudinit.read_ssh_keys().map_err(|e| {
        Error::new(ErrorKind::Config, e.to_string())
            .hinted("fix or remove the entry under cloudinit.ssh_keys")
    })?;
    Ok((!keys.trim().is_empty()).then_some(keys))
}

/// Plans the container: checks the flags, finds the archive and a node. Reads only.
pub async fn resolve(ctx: &mut Ctx, config: &Config, args: &LxcArgs) -> Result<LxcPlan> {
    let bad = |m: String| Error::usage(m);
    let name = validate::name(&args.name).map_err(bad)?;
    let cores = validate::cores(args.cores.as_deref().unwrap_or("1")).map_err(bad)?;
    let memory = validate::memory(args.memory.as_deref().unwrap_or("1G")).map_err(bad)?;
    let disk = validate::size(args.disk.as_deref().unwrap_or("8G")).map_err(bad)?;
    let network = network(args)?;
    let nameserver = match &args.nameserver {
        Some(ns) => Some(validate::nameservers(ns).map_err(bad)?),
        None => None,
    };
    let sshkeys = ssh_keys(config, args.ssh_keys.as_deref())?;
    let inv = ctx.refresh().await?;
    if let Some(g) = inv.guests().iter().find(|g| g.name == name) {
        return Err(Error::usage(format!(
            "a guest named {name} already exists ({} on {})",
            g.vmid, g.node
        ))
        .hinted("choose another name"));
    }
    plan::check_vm_count(config, &inv)?;
    let all = list_volumes(ctx, &inv, "vztmpl").await?;
    let wanted = args.template.as_deref().unwrap_or(DEFAULT_ARCHIVE);
    let archives = archives_named(&all, wanted);
    if archives.is_empty() {
        let mut names: Vec<&str> = all.iter().map(IsoImage::file).collect();
        names.sort_unstable();
        names.dedup();
        return Err(
            Error::not_found(format!("no container template archive '{wanted}'")).hinted(
                if names.is_empty() {
                    "download one first (pveam download local debian-12-standard...)".to_string()
                } else {
                    format!("the cluster has: {}", names.join(", "))
                },
            ),
        );
    }
    let storage = args
        .storage
        .clone()
        .or_else(|| config.defaults.storage.clone())
        .unwrap_or_else(|| DEFAULT_STORAGE.to_string());
    let (node, template, placement) = place(&inv, &archives, &storage, args.node.as_deref())?;
    let vmid = provision::allocate_vmid(ctx, config, &inv, args.vmid, None).await?;
    let warnings = super::plan::memory_warnings(&inv, &node, memory);
    Ok(LxcPlan {
        name,
        vmid,
        node,
        placement,
        template,
        cores,
        memory,
        disk_gib: disk.bytes().div_ceil(1 << 30).max(1),
        storage,
        bridge: config
            .defaults
            .bridge
            .clone()
            .unwrap_or_else(|| DEFAULT_BRIDGE.to_string()),
        network,
        nameserver,
        sshkeys,
        unprivileged: !args.privileged,
        start: args.start,
        warnings,
    })
}

/// The `new --lxc` wizard: the user's override if there is one, else the embedded one.
pub fn load_spec() -> Result<WizardSpec> {
    WizardSpec::load("new-lxc", super::spec::override_dir().as_deref())
}

/// The flags a wizard's answers stand for (keys as in `prompts/new-lxc.yaml`).
pub fn args_from_answers(answers: &Answers, vmid: Option<u32>) -> LxcArgs {
    let get = |k: &str| answers.get(k).filter(|v| !v.trim().is_empty()).cloned();
    let static_net = answers.get("network").is_some_and(|n| n == "static");
    LxcArgs {
        name: get("name").unwrap_or_default(),
        template: get("template"),
        cores: get("cores"),
        memory: get("memory"),
        disk: get("disk"),
        node: get("node"),
        ip: get("ip").filter(|_| static_net),
        gw: get("gw").filter(|_| static_net),
        ssh_keys: get("sshkeys"),
        vmid,
        start: answers.get("start").is_none_or(|s| s == "yes"),
        ..LxcArgs::default()
    }
}

/// What the `new --lxc` wizard did.
#[derive(Debug, Clone)]
pub enum LxcOutcome {
    Planned(LxcPlan),
    Built(LxcPlan, Built),
}

/// The interactive `new --lxc`: offer the cluster's archives, ask, show the plan, build on yes.
pub async fn run_wizard(
    ctx: &mut Ctx,
    spec: &WizardSpec,
    config: &Config,
    prompter: &mut dyn Prompter,
    dry_run: bool,
    opts: &BuildOptions,
) -> Result<LxcOutcome> {
    let inv = ctx.refresh().await?;
    let mut facts = NewFacts::new(config, &inv);
    facts.archives = list_volumes(ctx, &inv, "vztmpl").await?;
    if facts.archives.is_empty() {
        return Err(
            Error::not_found("the cluster has no container template archives").hinted(
                "download one first: pveam download local debian-12-standard_12.7-1_amd64.tar.zst",
            ),
        );
    }
    let answers = engine::run(spec, prompter, &facts, &Answers::new())?;
    let plan = resolve(ctx, config, &args_from_answers(&answers, None)).await?;
    prompter.show(&plan.preview());
    if dry_run {
        return Ok(LxcOutcome::Planned(plan));
    }
    if !prompter.confirm("Build it?", true)? {
        return Err(cancelled());
    }
    let built = build(ctx, &plan, opts).await?;
    Ok(LxcOutcome::Built(plan, built))
}

/// The first IPv4 address (not loopback) of a container's interface list.
pub fn first_inet(ifaces: &Json) -> Option<String> {
    ifaces
        .as_array()?
        .iter()
        .filter(|i| i.get("name").and_then(Json::as_str) != Some("lo"))
        .filter_map(|i| i.get("inet").and_then(Json::as_str))
        .map(|cidr| cidr.split('/').next().unwrap_or(cidr))
        .find(|ip| !ip.starts_with("127.") && !ip.starts_with("169.254."))
        .map(str::to_string)
}

/// Polls the container's interfaces until one has an address or `timeout` passes.
async fn wait_for_ip(ctx: &Ctx, node: &str, vmid: u32, timeout: Duration) -> Option<String> {
    let path = format!(
        "/nodes/{}/lxc/{vmid}/interfaces",
        crate::api::request::encode_segment(node)
    );
    let req = ApiRequest::get(path);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    loop {
        if let Ok(v) = ctx.client.get(&req).await
            && let Some(ip) = first_inet(&v)
        {
            return Some(ip);
        }
        if tokio::time::Instant::now() + pause > deadline {
            return None;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Builds the container of `plan`: create, start, read its address. On failure destroys the
/// container this run created and says which step failed.
pub async fn build(ctx: &mut Ctx, plan: &LxcPlan, opts: &BuildOptions) -> Result<Built> {
    let target = plan.target();
    let mut work = vec![("create", plan.create_action())];
    if plan.start {
        work.push(("start", Action::on(Op::Start, target.staging(), "stopped")));
    }
    let total = work.len();
    // From here until the container is built, an interrupted run destroys it (see `Guard`).
    let exec = ctx.staging.executor(&ctx.client);
    let mut guard = Guard::new(&exec, opts);
    guard.arm(target.clone());
    for (i, (what, req)) in work.iter().enumerate() {
        ctx.note(&format!(
            "[{}/{total}] {what} {} ({})…",
            i + 1,
            plan.name,
            plan.vmid
        ));
        if let Err(e) = run_step(&exec, req, opts).await {
            let cleanup = if i == 0 && !matches!(e, crate::api::ApiError::TaskFailed { .. }) {
                // The create call itself was refused: nothing exists that this run made.
                Cleanup::Nothing
            } else {
                rollback(ctx, &target, opts).await
            };
            guard.disarm();
            return Err(failed(&target, what, e, cleanup));
        }
    }
    guard.disarm();
    let _ = ctx.refresh().await;
    let mut built = Built {
        vmid: plan.vmid,
        name: plan.name.clone(),
        node: plan.node.clone(),
        started: plan.start,
        ip: None,
        user: Some("root".to_string()),
    };
    if plan.start {
        built.ip = wait_for_ip(ctx, &plan.node, plan.vmid, opts.agent_timeout).await;
        if built.ip.is_none() {
            ctx.note(&format!(
                "{} is running, but reported no address within {} s: check `status {}` later",
                plan.name,
                opts.agent_timeout.as_secs(),
                plan.name
            ));
        }
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> LxcPlan {
        LxcPlan {
            name: "ct01".into(),
            vmid: 150,
            node: "pve1".into(),
            placement: "asked for".into(),
            template: "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst".into(),
            cores: 2,
            memory: "2G".parse().unwrap(),
            disk_gib: 8,
            storage: "local-lvm".into(),
            bridge: "vmbr0".into(),
            network: Network::Dhcp,
            nameserver: None,
            sshkeys: Some("ssh-ed25519 AAAA me@host".into()),
            unprivileged: true,
            start: true,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn the_create_request_carries_the_plan() {
        let req = plan().create_action().request();
        assert_eq!(req.path, "/nodes/pve1/lxc");
        let get = |k: &str| req.value(k).map(str::to_string);
        let check = |k: &str, want: &str| assert_eq!(get(k).as_deref(), Some(want), "{k}");
        check("rootfs", "local-lvm:8");
        check("net0", "name=eth0,bridge=vmbr0,ip=dhcp");
        check("memory", "2048");
        check("hostname", "ct01");
        check("unprivileged", "1");
        check("ssh-public-keys", "ssh-ed25519 AAAA me@host");
        assert_eq!(get("start"), None, "started by its own step");
    }

    #[test]
    fn static_network() {
        let mut p = plan();
        p.network = Network::Static {
            ip: validate::cidr("10.0.5.30/24").unwrap(),
            gw: Some("10.0.5.1".parse().unwrap()),
        };
        assert_eq!(
            p.net0(),
            "name=eth0,bridge=vmbr0,ip=10.0.5.30/24,gw=10.0.5.1"
        );
    }

    #[test]
    fn archive_names() {
        let all: Vec<IsoImage> = [
            "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
        ]
        .iter()
        .map(|v| IsoImage {
            volid: (*v).into(),
            storage: "local".into(),
            node: Some("pve1".into()),
        })
        .collect();
        let check = |answer: &str, want: usize| {
            assert_eq!(archives_named(&all, answer).len(), want, "{answer}");
        };
        check("debian-12", 1);
        check("ubuntu-24.04-standard_24.04-2_amd64.tar.zst", 1);
        check("local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", 1);
        check("alpine", 0);
    }

    #[test]
    fn container_addresses() {
        let check = |v: Json, want: Option<&str>| assert_eq!(first_inet(&v).as_deref(), want);
        check(
            json!([{"name": "lo", "inet": "127.0.0.1/8"}, {"name": "eth0", "inet": "10.0.0.9/24"}]),
            Some("10.0.0.9"),
        );
        check(json!([{"name": "lo", "inet": "127.0.0.1/8"}]), None);
        check(json!({}), None);
    }
}
