//! Turning answers into a plan with the reads it needs ([`resolve`]: the template's config, a
//! free VMID in the configured range, the node), and a plan into a VM ([`build`]: clone →
//! configure → resize → cloud-init → start → wait for the agent's IP).
//!
//! Each step is an [`Action`] that the staging [`Executor`] sends (audited like every other
//! change) and follows to its end; progress goes through `ctx.note`. When a step fails, `build` destroys the VM this run created (and only that one)
//! and reports what failed and what was cleaned up. `resolve` only reads, so `--dry-run` changes
//! nothing. Must not: ask questions or touch the terminal.

use std::time::Duration;

use serde_json::Value as Json;

use crate::api::{ApiError, GuestKind, TaskLog, WaitOptions, endpoints};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::inventory::Inventory;
use crate::session::Ctx;
use crate::staging::{self, Action, ConfigChange, Executor, Op};

use super::engine::Answers;
use super::facts::NewFacts;
use super::plan::{self, Resolved, VmPlan};

/// How many VMIDs are tried when other clients take them first.
const VMID_ATTEMPTS: usize = 20;
/// How many times the rollback of an interrupted build tries (about two minutes in all).
const GUARD_ATTEMPTS: usize = 30;
/// How many times a clone is retried with a new VMID after "already exists".
const CLONE_ATTEMPTS: usize = 3;

fn taken(e: &ApiError) -> bool {
    match e {
        ApiError::Http {
            message, errors, ..
        } => {
            message.contains("already exists")
                || errors.values().any(|v| v.contains("already exists"))
        }
        _ => false,
    }
}

fn parse_vmid(v: &Json) -> Option<u32> {
    match v {
        Json::String(s) => s.parse().ok(),
        Json::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    }
}

/// A free VMID: the one asked for (inside the range, and free), else the first free one of
/// `vmid_ranges.vm` above `after`, confirmed with `GET /cluster/nextid?vmid=N` and skipping
/// ids another client took meanwhile; without a range, PVE's next free id.
pub async fn allocate_vmid(
    ctx: &Ctx,
    config: &Config,
    inv: &Inventory,
    asked: Option<u32>,
    after: Option<u32>,
) -> Result<u32> {
    if let Some(vmid) = asked {
        plan::check_vmid(config, vmid)?;
        return match ctx.client.get(&endpoints::cluster_nextid(Some(vmid))).await {
            Ok(_) => Ok(vmid),
            Err(e) if taken(&e) => Err(Error::usage(format!("VMID {vmid} is already taken"))
                .hinted("leave --vmid out to take the next free one")),
            Err(e) => Err(e.into()),
        };
    }
    let Some(range) = plan::vm_range(config) else {
        let v = ctx.get(&endpoints::cluster_nextid(None)).await?;
        return parse_vmid(&v).ok_or_else(|| {
            Error::new(
                ErrorKind::Api,
                format!("/cluster/nextid answered {v}, not a VMID"),
            )
        });
    };
    let start = after.map_or(range.min(), |a| a.saturating_add(1).max(range.min()));
    let mut tried = 0;
    for vmid in start..=range.max() {
        if inv.guest(vmid).is_some() {
            continue;
        }
        match ctx.client.get(&endpoints::cluster_nextid(Some(vmid))).await {
            Ok(_) => return Ok(vmid),
            Err(e) if taken(&e) => {
                tried += 1;
                if tried >= VMID_ATTEMPTS {
                    break;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::new(
        ErrorKind::Policy,
        format!(
            "no free VMID in the range for VMs, {}-{} (vmid_ranges.vm)",
            range.min(),
            range.max()
        ),
    )
    .hinted(format!(
        "widen vmid_ranges.vm in {}",
        config.where_to_change()
    )))
}

/// The SSH keys of the config, one per line; `None` when there are none.
fn ssh_keys(config: &Config) -> Result<Option<String>> {
    let keys = config.cloudinit.read_ssh_keys().map_err(|e| {
        Error::new(ErrorKind::Config, e.to_string())
            .hinted("fix or remove the entry under cloudinit.ssh_keys")
    })?;
    Ok((!keys.trim().is_empty()).then_some(keys))
}

/// Reads what the plan needs (the template's config, a VMID) and builds it. Only reads.
pub async fn resolve(
    ctx: &mut Ctx,
    config: &Config,
    inv: &Inventory,
    answers: &Answers,
    vmid: Option<u32>,
) -> Result<VmPlan> {
    let facts = NewFacts::new(config, inv);
    plan::check_vm_count(config, inv)?;
    let template_answer = answers
        .get("template")
        .ok_or_else(|| Error::internal("the wizard gave no template"))?;
    let template = facts
        .template(template_answer)
        .ok_or_else(|| Error::not_found(format!("no template '{template_answer}'")))?;
    let tconfig = ctx
        .get(&endpoints::qemu_config(&template.node, template.vmid))
        .await?;
    let disk = plan::boot_disk(&tconfig).ok_or_else(|| {
        Error::usage(format!(
            "template {} ({}) has no disk to boot from",
            template.name, template.vmid
        ))
    })?;
    let asked_node = answers.get("node").filter(|n| !n.is_empty());
    let (node, placement) =
        plan::place(inv, template, &disk.storage, asked_node.map(String::as_str))?;
    let vmid = allocate_vmid(ctx, config, inv, vmid, None).await?;
    let r = Resolved {
        template,
        disk,
        vmid,
        node,
        placement,
        sshkeys: match answers.get("sshkeys").filter(|f| !f.trim().is_empty()) {
            Some(file) => Some(super::facts::read_key_file(file).map_err(Error::usage)?),
            None => ssh_keys(config)?,
        },
    };
    VmPlan::from_answers(answers, &facts, r)
}

/// How long to wait, and how.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Longest wait for one task.
    pub task_timeout: Duration,
    /// Longest wait for the guest agent to report an address.
    pub agent_timeout: Duration,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            task_timeout: Duration::from_secs(600),
            agent_timeout: Duration::from_secs(120),
        }
    }
}

/// A VM that was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub vmid: u32,
    pub name: String,
    pub node: String,
    pub started: bool,
    /// The first IPv4 address the guest agent reported, if it did in time.
    pub ip: Option<String>,
    pub user: Option<String>,
}

impl Built {
    /// `ssh USER@IP`, when there is an address.
    pub fn ssh(&self) -> Option<String> {
        let ip = self.ip.as_ref()?;
        Some(match &self.user {
            Some(u) => format!("ssh {u}@{ip}"),
            None => format!("ssh {ip}"),
        })
    }
}

/// Runs one step of a build through the executor and follows its task.
pub(super) async fn run_step(
    exec: &Executor,
    action: &Action,
    opts: &BuildOptions,
) -> std::result::Result<(), ApiError> {
    let wait = WaitOptions {
        timeout: Some(opts.task_timeout),
        log: TaskLog::Skip,
        ..WaitOptions::default()
    };
    exec.call(action, &wait, &mut |_| {}).await.map(|_| ())
}

/// Builds the VM of `plan`. On failure, destroys what this run created and returns an error
/// saying which step failed and what was cleaned up.
pub async fn build(
    ctx: &mut Ctx,
    config: &Config,
    plan: &VmPlan,
    opts: &BuildOptions,
) -> Result<Built> {
    let mut plan = plan.clone();
    let steps = plan.steps().len();
    let mut n = 1;
    let t = plan.template.clone();
    // 1. Clone, with a fresh VMID if another client took ours meanwhile. From here until the
    // VM is built, an interrupted run destroys it (see `Guard`).
    let exec = ctx.staging.executor(&ctx.client);
    let mut guard = Guard::new(&exec, opts);
    let mut attempt = 0;
    loop {
        guard.arm(plan.target());
        ctx.note(&format!(
            "[{n}/{steps}] cloning {} ({}) to {} ({}) on {}…",
            t.name, t.vmid, plan.name, plan.vmid, plan.node
        ));
        let clone = Op::Clone {
            newid: plan.vmid,
            name: plan.name.clone(),
            full: false,
            target_node: (plan.node != t.node).then(|| plan.node.clone()),
            storage: None,
            pool: None,
        };
        let source = staging::Target {
            vmid: t.vmid,
            node: t.node.clone(),
            guest_kind: GuestKind::Qemu,
            name: t.name.clone(),
        };
        match run_step(&exec, &Action::on(clone, source, "stopped"), opts).await {
            Ok(()) => break,
            Err(e) if taken(&e) && attempt + 1 < CLONE_ATTEMPTS => {
                attempt += 1;
                let inv = ctx.refresh().await?;
                let next = allocate_vmid(ctx, config, &inv, None, Some(plan.vmid)).await?;
                ctx.note(&format!(
                    "VMID {} was taken meanwhile; trying {next}",
                    plan.vmid
                ));
                plan.vmid = next;
            }
            Err(e) => {
                let cleanup = rollback(ctx, &plan.target(), opts).await;
                guard.disarm();
                return Err(failed(&plan.target(), "clone", e, cleanup));
            }
        }
    }
    n += 1;
    let vmid = plan.vmid;
    let node = plan.node.clone();
    let on_vm = |op: Op| Action::on(op, plan.target().staging(), "stopped");
    let mut work: Vec<(&str, Action)> = vec![(
        "configure",
        on_vm(Op::Set(ConfigChange::of(plan.hardware_changes()))),
    )];
    if let Some(size) = plan.grow_to {
        work.push((
            "resize",
            on_vm(Op::Resize {
                disk: plan.disk.key.clone(),
                size: size.to_string(),
                from: None,
                to: None,
            }),
        ));
    }
    work.push((
        "cloud-init",
        on_vm(Op::Set(ConfigChange::of(plan.cloudinit_changes()))),
    ));
    if plan.start {
        work.push(("start", on_vm(Op::Start)));
    }
    for (what, action) in &work {
        ctx.note(&format!("[{n}/{steps}] {what} {} ({vmid})…", plan.name));
        if let Err(e) = run_step(&exec, action, opts).await {
            let cleanup = rollback(ctx, &plan.target(), opts).await;
            guard.disarm();
            return Err(failed(&plan.target(), what, e, cleanup));
        }
        n += 1;
    }
    guard.disarm();
    let _ = ctx.refresh().await;
    let mut built = Built {
        vmid,
        name: plan.name.clone(),
        node: node.clone(),
        started: plan.start,
        ip: None,
        user: plan.ciuser.clone(),
    };
    if plan.start {
        ctx.note(&format!(
            "waiting up to {} s for the guest agent of {} to report an address…",
            opts.agent_timeout.as_secs(),
            plan.name
        ));
        built.ip = wait_for_ip(ctx, &node, vmid, opts.agent_timeout).await;
        if built.ip.is_none() {
            ctx.note(&format!(
                "{} is running, but its guest agent gave no address within {} s: check `status {}` later",
                plan.name,
                opts.agent_timeout.as_secs(),
                plan.name
            ));
        }
    }
    Ok(built)
}

/// The first IPv4 address (not loopback or link-local) in an agent's interface list.
pub fn first_ipv4(result: &Json) -> Option<String> {
    let ifaces = result.get("result").and_then(Json::as_array)?;
    ifaces
        .iter()
        .filter(|i| i.get("name").and_then(Json::as_str) != Some("lo"))
        .filter_map(|i| i.get("ip-addresses").and_then(Json::as_array))
        .flatten()
        .filter(|a| a.get("ip-address-type").and_then(Json::as_str) == Some("ipv4"))
        .filter_map(|a| a.get("ip-address").and_then(Json::as_str))
        .find(|ip| !ip.starts_with("127.") && !ip.starts_with("169.254."))
        .map(str::to_string)
}

/// Polls the guest agent until it reports an address or `timeout` passes.
async fn wait_for_ip(ctx: &Ctx, node: &str, vmid: u32, timeout: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    loop {
        if let Ok(v) = ctx.client.get(&endpoints::agent_network(node, vmid)).await
            && let Some(ip) = first_ipv4(&v)
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

/// What the cleanup did, for the report.
pub(super) enum Cleanup {
    Nothing,
    Destroyed,
    Failed(String),
}

/// The status of the VM this run created, if it exists and still carries this run's name (only
/// such a VM is ours to destroy).
async fn ours(exec: &Executor, target: &Target) -> Option<Json> {
    let req = endpoints::guest_status_current(target.kind, &target.node, target.vmid);
    let status = exec.client().get(&req).await.ok()?;
    let name = status.get("name").and_then(Json::as_str);
    name.is_none_or(|n| n == target.name).then_some(status)
}

/// Stops the VM when it runs, then deletes it with its disks.
async fn destroy(exec: &Executor, target: &Target, status: &Json, opts: &BuildOptions) -> Cleanup {
    let running = status.get("status").and_then(Json::as_str) == Some("running");
    let on = |op: Op| {
        Action::on(
            op,
            target.staging(),
            if running { "running" } else { "stopped" },
        )
    };
    if running && let Err(e) = run_step(exec, &on(Op::Stop), opts).await {
        return Cleanup::Failed(e.to_string());
    }
    let remove = on(Op::Destroy {
        purge: true,
        unreferenced_disks: true,
    });
    match run_step(exec, &remove, opts).await {
        Ok(()) => Cleanup::Destroyed,
        Err(e) => Cleanup::Failed(e.to_string()),
    }
}

/// Destroys the VM this run created, if it exists.
pub(super) async fn rollback(ctx: &mut Ctx, target: &Target, opts: &BuildOptions) -> Cleanup {
    let exec = ctx.staging.executor(&ctx.client);
    let Some(status) = ours(&exec, target).await else {
        return Cleanup::Nothing;
    };
    ctx.note(&format!(
        "rolling back: destroying {} {} ({})…",
        target.noun(),
        target.name,
        target.vmid
    ));
    let cleanup = destroy(&exec, target, &status, opts).await;
    let _ = ctx.refresh().await;
    cleanup
}

/// Destroys the VM of an interrupted build: armed once the VM exists, disarmed when the build
/// ends (well, or through [`rollback`]). When the build's future is dropped while armed (Ctrl-C
/// cancels the line), the rollback is spawned on the runtime, best effort: a process that
/// exits at once (`-c`) may not finish it.
pub(super) struct Guard {
    exec: Executor,
    target: Option<Target>,
    opts: BuildOptions,
}

impl Guard {
    pub(super) fn new(exec: &Executor, opts: &BuildOptions) -> Guard {
        Guard {
            exec: exec.clone(),
            target: None,
            opts: opts.clone(),
        }
    }

    pub(super) fn arm(&mut self, target: Target) {
        self.target = Some(target);
    }

    pub(super) fn disarm(&mut self) {
        self.target = None;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(target) = self.target.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let exec = self.exec.clone();
        let opts = self.opts.clone();
        runtime.spawn(async move {
            // The interrupted step's task may still hold the VM's lock (a clone does until it
            // ends): wait for it to go, then destroy.
            let mut pause = Duration::from_millis(250);
            for _ in 0..GUARD_ATTEMPTS {
                let Some(status) = ours(&exec, &target).await else {
                    return;
                };
                if status.get("lock").is_none_or(Json::is_null)
                    && matches!(
                        destroy(&exec, &target, &status, &opts).await,
                        Cleanup::Destroyed
                    )
                {
                    return;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        });
    }
}

/// The VM a build creates: what a rollback may destroy.
#[derive(Debug, Clone)]
pub struct Target {
    pub node: String,
    pub vmid: u32,
    pub name: String,
    /// A VM or a container: what the report calls it and the path to remove it by hand.
    pub kind: GuestKind,
}

impl Target {
    /// The same guest as the executor's actions name it.
    pub(super) fn staging(&self) -> staging::Target {
        staging::Target {
            vmid: self.vmid,
            node: self.node.clone(),
            guest_kind: self.kind,
            name: self.name.clone(),
        }
    }

    fn noun(&self) -> &'static str {
        match self.kind {
            GuestKind::Qemu => "VM",
            GuestKind::Lxc => "container",
        }
    }
}

impl VmPlan {
    fn target(&self) -> Target {
        Target {
            node: self.node.clone(),
            vmid: self.vmid,
            name: self.name.clone(),
            kind: GuestKind::Qemu,
        }
    }
}

pub(super) fn failed(plan: &Target, step: &str, e: ApiError, cleanup: Cleanup) -> Error {
    let kind = match e {
        ApiError::TaskFailed { .. } => ErrorKind::Task,
        _ => ErrorKind::Api,
    };
    let (what, hint) = match cleanup {
        Cleanup::Nothing => (
            "nothing was left behind".to_string(),
            "fix the cause and run the command again".to_string(),
        ),
        Cleanup::Destroyed => (
            format!(
                "rolled back: {} {} was destroyed, nothing was left behind",
                plan.noun(),
                plan.vmid
            ),
            "fix the cause and run the command again".to_string(),
        ),
        Cleanup::Failed(why) => (
            format!(
                "the rollback failed too ({why}): {} {} ({}) on {} is left behind",
                plan.noun(),
                plan.vmid,
                plan.name,
                plan.node
            ),
            format!(
                "remove it with `delete /nodes/{}/{}/{}`",
                plan.node,
                plan.kind.as_str(),
                plan.vmid
            ),
        ),
    };
    Error::new(
        kind,
        format!(
            "building {} failed at step '{step}': {e}; {what}",
            plan.name
        ),
    )
    .hinted(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agent_addresses() {
        let check =
            |v: Json, want: Option<&str>| assert_eq!(first_ipv4(&v).as_deref(), want, "{v}");
        check(
            json!({"result": [
                {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4"}]},
                {"name": "eth0", "ip-addresses": [{"ip-address": "fe80::1", "ip-address-type": "ipv6"}, {"ip-address": "10.0.0.7", "ip-address-type": "ipv4"}]}
            ]}),
            Some("10.0.0.7"),
        );
        check(json!({"result": [{"name": "eth0"}]}), None);
        check(
            json!({"result": [{"name": "eth0", "ip-addresses": [{"ip-address": "169.254.1.1", "ip-address-type": "ipv4"}]}]}),
            None,
        );
        check(json!({}), None);
    }

    #[test]
    fn vmids_as_string_or_number() {
        assert_eq!(parse_vmid(&json!("100")), Some(100));
        assert_eq!(parse_vmid(&json!(101)), Some(101));
        assert_eq!(parse_vmid(&json!("x")), None);
    }
}
