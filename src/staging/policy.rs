//! The safety policy: which actions stage, which guests are protected, which are read-only, the
//! quotas on `set`, and whether a config change applies live or waits for a reboot (PVE's
//! hotplug rules).
//!
//! Pure functions over the config and a guest's config map: no IO, so every rule is a table
//! test. The callers decide what to do with a refusal (exit 4, no request sent), except for
//! read-only guests: their [`Guard`] is enforced by the staging module itself, when an action
//! is staged and when the executor is about to send one, whoever planned it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::action::{Action, Op};
use crate::config::{Config, QuotaKey, Readonly, StagingPolicy};
use crate::error::{Error, ErrorKind, Result};
use crate::inventory::SharedInventory;

/// Whether an action of this kind stages under `policy`: `destructive` stages what is
/// destructive, `all` stages every change, `none` runs everything at once.
pub fn stages(policy: StagingPolicy, destructive: bool) -> bool {
    match policy {
        StagingPolicy::Destructive => destructive,
        StagingPolicy::All => true,
        StagingPolicy::None => false,
    }
}

/// The tag that protects a guest even without a config file.
pub const PROTECTED_TAG: &str = "protected";

/// Why a guest must not be touched by a destructive action, naming the rule; `None` if it may.
/// `pve_config` is the guest's config as `GET .../config` returned it (for `protection`).
pub fn protection_reason(
    config: &Config,
    vmid: u32,
    name: &str,
    tags: &[String],
    pve_config: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<String> {
    let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    if let Some(reason) = config.protected.reason(vmid, Some(name), &tag_refs) {
        return Some(reason);
    }
    if tags.iter().any(|t| t.eq_ignore_ascii_case(PROTECTED_TAG)) {
        return Some(format!("it carries the `{PROTECTED_TAG}` tag"));
    }
    let flag = pve_config.and_then(|c| c.get("protection"));
    let on = match flag {
        Some(serde_json::Value::String(s)) => s == "1",
        Some(serde_json::Value::Number(n)) => n.as_i64() == Some(1),
        Some(serde_json::Value::Bool(b)) => *b,
        _ => false,
    };
    on.then(|| "PVE's `protection` flag is set on it (protection: 1)".to_string())
}

/// The tag that makes a guest read-only even without a config file.
pub const READONLY_TAG: &str = "readonly";

/// Why a guest refuses every change, naming the rule (`readonly` in the config, or the
/// `readonly` tag); `None` if it does not.
pub fn readonly_reason(rules: &Readonly, vmid: u32, name: &str, tags: &[String]) -> Option<String> {
    let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    if let Some(reason) = rules.reason(vmid, Some(name), &tag_refs) {
        return Some(reason);
    }
    tags.iter()
        .any(|t| t.eq_ignore_ascii_case(READONLY_TAG))
        .then(|| format!("it carries the `{READONLY_TAG}` tag"))
}

/// Whether an action changes the guest it targets. Every kind does, except a clone (it reads
/// its source; the change is the new guest) and a creation (the guest is new).
fn changes_its_guest(op: &Op) -> bool {
    !matches!(op, Op::Clone { .. } | Op::Create { .. })
}

/// The refusal for a change to a read-only guest: exit 4, naming the rule.
pub fn readonly_error(action: &Action, label: &str, reason: &str) -> Error {
    let way_out = if reason.contains("`readonly.") {
        "remove it from `readonly` in the config if this is really meant"
    } else {
        "remove the tag in the PVE web interface if this is really meant (pvesh+ refuses that \
         change too)"
    };
    Error::new(
        ErrorKind::Policy,
        format!(
            "refusing `{}` on {label}: the guest is read-only — {reason}",
            action.summary(),
        ),
    )
    .hinted("nothing was sent; a read-only guest refuses every change, reads still work")
    .hinted(way_out)
}

/// The read-only rule, enforced in one place: [`super::StagingState::stage`] checks every
/// action it puts in the pending buffer, and the executor every action before it sends its
/// request ([`super::Executor::send`], [`super::Executor::run`]), so no command, wizard, raw
/// write or commit can change a read-only guest. A guest's name and tags come from the
/// session's inventory as last loaded (the commands refresh it before they plan).
#[derive(Clone, Default)]
pub struct Guard {
    readonly: Arc<Readonly>,
    inventory: SharedInventory,
}

impl Guard {
    pub fn new(config: &Config, inventory: SharedInventory) -> Guard {
        Guard {
            readonly: Arc::new(config.readonly.clone()),
            inventory,
        }
    }

    /// Refuses an action that would change a read-only guest.
    pub fn check(&self, action: &Action) -> Result<()> {
        if !action.target.is_guest() || !changes_its_guest(&action.op) {
            return Ok(());
        }
        let inv = self.inventory.get();
        let guest = inv.as_deref().and_then(|i| i.guest(action.target.vmid));
        let name = guest.map_or(action.target.name.as_str(), |g| g.name.as_str());
        let tags = guest.map_or(&[][..], |g| g.tags.as_slice());
        let Some(reason) = readonly_reason(&self.readonly, action.target.vmid, name, tags) else {
            return Ok(());
        };
        let label = match guest {
            Some(g) if action.target.name.is_empty() => g.label(),
            _ => action.target.label(),
        };
        Err(readonly_error(action, &label, &reason))
    }

    /// Refuses the whole list when one of its actions would change a read-only guest.
    pub fn admit(&self, actions: &[Action]) -> Result<()> {
        actions.iter().try_for_each(|a| self.check(a))
    }
}

/// The policy in effect, in words, for `context`: (field, text) for the staging policy, the
/// protected and read-only guests, and the quotas.
pub fn describe(config: &Config) -> Vec<(&'static str, String)> {
    let list = |vmids: &[u32], names: &[String], tags: Vec<String>, builtin: &str| {
        let mut tags = tags;
        if !tags.iter().any(|t| t.eq_ignore_ascii_case(builtin)) {
            tags.push(builtin.to_string());
        }
        let mut parts = Vec::new();
        if !vmids.is_empty() {
            let ids: Vec<String> = vmids.iter().map(u32::to_string).collect();
            parts.push(format!("VMIDs {}", ids.join(", ")));
        }
        if !names.is_empty() {
            parts.push(format!("names {}", names.join(", ")));
        }
        parts.push(format!("tags {}", tags.join(", ")));
        parts
    };
    let tags_of = |tags: &[crate::config::Tag]| -> Vec<String> {
        tags.iter().map(|t| t.as_str().to_string()).collect()
    };
    let p = &config.protected;
    let mut protected = list(&p.vmids, &p.names, tags_of(&p.tags), PROTECTED_TAG);
    protected.push("PVE's protection flag".to_string());
    let r = &config.readonly;
    let readonly = list(&r.vmids, &r.names, tags_of(&r.tags), READONLY_TAG);
    let q = &config.quotas;
    let mut per_guest = Vec::new();
    if let Some(c) = q.max_cores {
        per_guest.push(format!("{c} cores"));
    }
    if let Some(m) = q.max_memory {
        per_guest.push(format!("{m} memory"));
    }
    if let Some(d) = q.max_disk {
        per_guest.push(format!("{d} disk"));
    }
    let mut quotas = Vec::new();
    if !per_guest.is_empty() {
        quotas.push(format!("{} per guest", per_guest.join(", ")));
    }
    if let Some(n) = q.max_vms {
        quotas.push(format!("{n} guests"));
    }
    let e = &q.from_env;
    let from_env: Vec<&str> = [&e.cores, &e.memory, &e.disk, &e.vms]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect();
    if !from_env.is_empty() {
        quotas.push(format!("env {}", from_env.join(", ")));
    }
    // `none`: scripts commit as people do; `destructive`, `all`: what needs a person's yes.
    let approvals = format!(
        "{} (agent.require_approval); requests valid {}",
        config.agent.require_approval.as_str(),
        crate::lang::format_duration(config.agent.approval_ttl)
    );
    let staging = match config.staging.policy {
        StagingPolicy::Destructive => "destructive changes stage",
        StagingPolicy::All => "every change stages",
        StagingPolicy::None => "nothing stages",
    };
    vec![
        ("staging", staging.to_string()),
        ("protected", protected.join("; ")),
        ("readonly", readonly.join("; ")),
        (
            "quotas",
            if quotas.is_empty() {
                "none".to_string()
            } else {
                quotas.join("; ")
            },
        ),
        ("approvals", approvals),
    ]
}

/// The refusal for a protected guest: exit 4, with the rule and the way out.
pub fn protected_error(label: &str, action: &str, reason: &str) -> Error {
    Error::new(
        ErrorKind::Policy,
        format!("refusing to {action} {label}: the guest is protected — {reason}"),
    )
    .hinted("nothing was sent; lift the protection first if this is really meant")
}

/// A config value as text (`GET .../config` returns numbers for some keys).
pub fn config_text(cfg: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<String> {
    match cfg.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A number in a config value; `memory` may be a property string (`current=4096`) on PVE 8.1+.
fn config_number(cfg: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<u64> {
    let text = config_text(cfg, key)?;
    let first = text.split(',').next()?;
    first.trim_start_matches("current=").parse().ok()
}

/// Checks the quotas on the resulting cores (sockets × cores) and memory.
pub fn check_quotas(
    config: &Config,
    label: &str,
    changes: &BTreeMap<String, String>,
    cfg: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    let value = |key: &str, default: u64| -> u64 {
        changes
            .get(key)
            .and_then(|v| v.parse().ok())
            .or_else(|| config_number(cfg, key))
            .unwrap_or(default)
    };
    if let Some(max) = config.quotas.max_cores {
        let total = value("cores", 1) * value("sockets", 1);
        if total > u64::from(max)
            && (changes.contains_key("cores") || changes.contains_key("sockets"))
        {
            let q = &config.quotas;
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "{label} would get {total} cores; {} {max}",
                    q.allows(QuotaKey::Cores)
                ),
            )
            .hinted(format!(
                "ask for fewer cores, or {}",
                q.where_to_change(QuotaKey::Cores, &config.where_to_change())
            )));
        }
    }
    if let Some(max) = config.quotas.max_memory
        && changes.contains_key("memory")
    {
        let mib = value("memory", 0);
        let bytes = mib.saturating_mul(1 << 20);
        if bytes > max.bytes() {
            let q = &config.quotas;
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "{label} would get {} of memory; {} {}",
                    crate::lang::format_size(bytes),
                    q.allows(QuotaKey::Memory),
                    crate::lang::format_size(max.bytes())
                ),
            )
            .hinted(format!(
                "ask for less memory, or {}",
                q.where_to_change(QuotaKey::Memory, &config.where_to_change())
            )));
        }
    }
    Ok(())
}

/// What a creation request makes: which `vmid_ranges` entry its VMID must fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewGuest {
    Vm,
    Template,
    Container,
}

impl NewGuest {
    fn range_key(self) -> (&'static str, &'static str) {
        match self {
            NewGuest::Vm => ("vm", "VMs"),
            NewGuest::Template => ("template", "templates"),
            NewGuest::Container => ("ct", "containers"),
        }
    }
}

/// Checks a guest about to be created: its VMID against `vmid_ranges` (when both are known)
/// and the guest count against `quotas.max_vms` (`guests` counts the cluster's guests that are
/// not templates; a new template does not count, as the wizard does).
pub fn check_new_guest(
    config: &Config,
    kind: NewGuest,
    vmid: Option<u32>,
    guests: usize,
) -> Result<()> {
    let range = match kind {
        NewGuest::Vm => config.vmid_ranges.vm,
        NewGuest::Template => config.vmid_ranges.template,
        NewGuest::Container => config.vmid_ranges.ct,
    };
    let (key, what) = kind.range_key();
    if let (Some(r), Some(vmid)) = (range, vmid)
        && !r.contains(vmid)
    {
        return Err(Error::new(
            ErrorKind::Policy,
            format!(
                "VMID {vmid} is outside the range for {what}, {}-{} (vmid_ranges.{key})",
                r.min(),
                r.max()
            ),
        )
        .hinted(format!(
            "pick a VMID inside the range, or widen it in {}",
            config.where_to_change()
        )));
    }
    if let Some(max) = config.quotas.max_vms
        && kind != NewGuest::Template
        && guests >= max as usize
    {
        let q = &config.quotas;
        return Err(Error::new(
            ErrorKind::Policy,
            format!(
                "the cluster has {guests} guests, the quota is {max} ({})",
                q.source(QuotaKey::Vms)
            ),
        )
        .hinted(format!(
            "remove a guest first, or {}",
            q.where_to_change(QuotaKey::Vms, &config.where_to_change())
        )));
    }
    Ok(())
}

/// The keys `set` accepts, with what PVE expects.
pub const SET_KEYS: &[&str] = &[
    "cores",
    "sockets",
    "memory",
    "balloon",
    "name",
    "description",
    "onboot",
    "tags",
    "serial0",
    "serial1",
    "serial2",
    "serial3",
];

/// When a changed key takes effect on a running QEMU guest, following qemu-server's
/// `vmconfig_hotplug_pending`: name, description, onboot and tags are "fast plug" options that
/// apply at once; `memory` needs `memory` in `hotplug`; `balloon` is set live unless ballooning
/// is switched on or off; `cores` and `sockets` have no hotplug path (only `vcpus` has) and wait
/// for a reboot. A stopped guest, and any container key here, applies at once.
pub fn effect(
    key: &str,
    new: &str,
    running: bool,
    is_qemu: bool,
    cfg: &serde_json::Map<String, serde_json::Value>,
) -> &'static str {
    const LIVE: &str = "applies now";
    const REBOOT: &str = "waits for a reboot";
    if !running || !is_qemu {
        return LIVE;
    }
    let hotplug = config_text(cfg, "hotplug").unwrap_or_else(|| "network,disk,usb".to_string());
    let has = |feature: &str| hotplug == "1" || hotplug.split(',').any(|f| f.trim() == feature);
    match key {
        "name" | "description" | "onboot" | "tags" => LIVE,
        "memory" if has("memory") => LIVE,
        "balloon" => {
            let old = config_number(cfg, "balloon");
            if old == Some(0) || new == "0" {
                REBOOT
            } else {
                LIVE
            }
        }
        _ => REBOOT,
    }
}

/// Why a `set` is destructive: it lowers cores, sockets, memory or balloon.
pub fn set_risk(
    changes: &BTreeMap<String, String>,
    cfg: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let defaults = [
        ("cores", 1u64),
        ("sockets", 1),
        ("memory", 512),
        ("balloon", 0),
    ];
    let lowered: Vec<String> = defaults
        .iter()
        .filter_map(|(key, default)| {
            let new: u64 = changes.get(*key)?.parse().ok()?;
            let old = config_number(cfg, key).unwrap_or(*default);
            (new < old).then(|| format!("{key} {old} → {new}"))
        })
        .collect();
    (!lowered.is_empty()).then(|| format!("reduces resources ({})", lowered.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn staging_policy() {
        use StagingPolicy::*;
        for (policy, destructive, expected) in [
            (Destructive, true, true),
            (Destructive, false, false),
            (All, false, true),
            (None, true, false),
        ] {
            assert_eq!(
                stages(policy, destructive),
                expected,
                "{policy:?} {destructive}"
            );
        }
    }

    #[test]
    fn protection_rules() {
        let mut config = Config::default();
        config.protected.vmids.push(105);
        let check = |vmid: u32, tags: &[&str], pve: serde_json::Value, expected: Option<&str>| {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            let got = protection_reason(&config, vmid, "x", &tags, Some(&cfg(pve)));
            match expected {
                Option::None => assert_eq!(got, Option::None, "{vmid}"),
                Some(part) => assert!(got.as_deref().unwrap_or("").contains(part), "{got:?}"),
            }
        };
        check(101, &[], json!({}), Option::None);
        check(105, &[], json!({}), Some("protected.vmids"));
        check(101, &["Protected"], json!({}), Some("`protected` tag"));
        check(101, &[], json!({"protection": 1}), Some("protection: 1"));
        check(101, &[], json!({"protection": "1"}), Some("protection: 1"));
        check(101, &[], json!({"protection": 0}), Option::None);
    }

    #[test]
    fn readonly_rules() {
        let mut rules = Readonly::default();
        rules.vmids.push(104);
        rules.names.push("db-replica".into());
        let check = |vmid: u32, name: &str, tags: &[&str], expected: Option<&str>| {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            let got = readonly_reason(&rules, vmid, name, &tags);
            match expected {
                Option::None => assert_eq!(got, Option::None, "{vmid}"),
                Some(part) => assert!(got.as_deref().unwrap_or("").contains(part), "{got:?}"),
            }
        };
        check(101, "web01", &[], Option::None);
        check(104, "x", &[], Some("`readonly.vmids`"));
        check(105, "db-replica", &[], Some("`readonly.names`"));
        check(101, "web01", &["ReadOnly"], Some("`readonly` tag"));
        // `protected` is another rule: it does not make a guest read-only.
        check(101, "web01", &["protected"], Option::None);
    }

    /// The guard reads names and tags from the inventory, refuses every kind of change to a
    /// read-only guest, and lets through a clone of it, a creation and node-level actions.
    #[test]
    fn the_guard_refuses_every_change_to_a_readonly_guest() {
        use crate::api::GuestKind;
        use crate::staging::{Action, ConfigChange, Target};
        let inventory = SharedInventory::default();
        inventory.set(
            crate::inventory::Inventory::from_resources(&json!([
                {"type": "qemu", "vmid": 101, "name": "web01", "node": "pve1", "status": "running"},
                {"type": "qemu", "vmid": 104, "name": "db-replica", "node": "pve2",
                 "status": "running", "tags": "db;readonly"},
            ]))
            .unwrap(),
        );
        let guard = Guard::new(&Config::default(), inventory);
        let on = |vmid: u32, op: Op| {
            let target = Target {
                vmid,
                node: "pve2".into(),
                guest_kind: GuestKind::Qemu,
                name: String::new(),
            };
            Action::on(op, target, "running")
        };
        let set = Op::Set(ConfigChange::of([(
            "memory".to_string(),
            "8192".to_string(),
        )]));
        for op in [
            Op::Start,
            Op::Stop,
            set.clone(),
            Op::Console { serial: None },
        ] {
            let e = guard.check(&on(104, op.clone())).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Policy, "{op:?}");
            assert!(e.message.contains("db-replica (104)"), "{e}");
            assert!(e.message.contains("`readonly` tag"), "{e}");
        }
        assert!(guard.check(&on(101, set.clone())).is_ok());
        let clone = Op::Clone {
            newid: 150,
            name: "copy".into(),
            full: false,
            target_node: None,
            storage: None,
            pool: None,
        };
        assert!(guard.check(&on(104, clone)).is_ok());
        assert!(guard.check(&on(104, Op::Create { params: vec![] })).is_ok());
        let mut node = on(0, Op::Start);
        node.target = Target::node("pve2");
        assert!(guard.check(&node).is_ok());
        let e = guard
            .admit(&[on(101, Op::Start), on(104, Op::Start)])
            .unwrap_err();
        assert!(
            e.message
                .starts_with("refusing `start` on db-replica (104)"),
            "{e}"
        );
    }

    #[test]
    fn the_policy_in_words() {
        let words = |c: &Config| -> Vec<String> {
            describe(c)
                .into_iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect()
        };
        assert_eq!(
            words(&Config::default()),
            [
                "staging: destructive changes stage",
                "protected: tags protected; PVE's protection flag",
                "readonly: tags readonly",
                "quotas: none",
                "approvals: none (agent.require_approval); requests valid 1h",
            ]
        );
        assert_eq!(
            words(&Config::demo_policy().unwrap()),
            [
                "staging: destructive changes stage",
                "protected: VMIDs 103; names db01; tags protected, prod-db; PVE's protection flag",
                "readonly: names ubuntu-24.04-cloud; tags readonly",
                "quotas: 16 cores, 64G memory, 500G disk per guest; 200 guests",
                "approvals: none (agent.require_approval); requests valid 1h",
            ]
        );
        let mut env = Config::demo_policy().unwrap();
        env.agent.require_approval = crate::config::RequireApproval::Destructive;
        env.quotas
            .apply_env(&|v| (v == "PROXMOX_MAX_CPU").then(|| "4".to_string()))
            .unwrap();
        let w = words(&env);
        assert_eq!(
            w[3],
            "quotas: 4 cores, 64G memory, 500G disk per guest; 200 guests; env PROXMOX_MAX_CPU=4"
        );
        assert_eq!(
            w[4],
            "approvals: destructive (agent.require_approval); requests valid 1h"
        );
    }

    #[test]
    fn hotplug_effects() {
        let check = |key: &str, new: &str, running: bool, c: serde_json::Value, expected: &str| {
            assert_eq!(
                effect(key, new, running, true, &cfg(c)),
                expected,
                "{key}={new}"
            );
        };
        check("cores", "4", true, json!({}), "waits for a reboot");
        check("cores", "4", false, json!({}), "applies now");
        check("memory", "4096", true, json!({}), "waits for a reboot");
        check(
            "memory",
            "4096",
            true,
            json!({"hotplug": "network,disk,memory"}),
            "applies now",
        );
        check(
            "balloon",
            "1024",
            true,
            json!({"balloon": 2048}),
            "applies now",
        );
        check(
            "balloon",
            "0",
            true,
            json!({"balloon": 2048}),
            "waits for a reboot",
        );
        check("name", "x", true, json!({}), "applies now");
        check("tags", "a;b", true, json!({}), "applies now");
    }

    #[test]
    fn reductions_are_destructive() {
        let changes = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let c = cfg(json!({"cores": 4, "memory": "8192"}));
        assert!(
            set_risk(&changes(&[("cores", "2")]), &c)
                .unwrap()
                .contains("cores 4 → 2")
        );
        assert!(set_risk(&changes(&[("cores", "8")]), &c).is_none());
        assert!(set_risk(&changes(&[("memory", "4096")]), &c).is_some());
        assert!(set_risk(&changes(&[("name", "x")]), &c).is_none());
    }

    #[test]
    fn new_guests() {
        let mut config = Config::default();
        config.vmid_ranges.vm = Some(crate::config::VmidRange::new(100, 199).unwrap());
        config.vmid_ranges.ct = Some(crate::config::VmidRange::new(200, 299).unwrap());
        config.quotas.max_vms = Some(5);
        let check = |kind: NewGuest, vmid: Option<u32>, guests: usize, rule: Option<&str>| {
            let got = check_new_guest(&config, kind, vmid, guests);
            match rule {
                Option::None => assert!(got.is_ok(), "{kind:?} {vmid:?}: {got:?}"),
                Some(rule) => {
                    let e = got.unwrap_err();
                    assert_eq!(e.kind, ErrorKind::Policy);
                    assert!(e.message.contains(rule), "{e}");
                }
            }
        };
        check(NewGuest::Vm, Some(150), 1, Option::None);
        check(NewGuest::Vm, Some(250), 1, Some("vmid_ranges.vm"));
        check(NewGuest::Container, Some(250), 1, Option::None);
        check(NewGuest::Container, Some(150), 1, Some("vmid_ranges.ct"));
        check(NewGuest::Template, Some(9000), 1, Option::None);
        check(NewGuest::Vm, Option::None, 1, Option::None);
        check(NewGuest::Vm, Some(150), 5, Some("quotas.max_vms"));
        check(NewGuest::Container, Some(250), 6, Some("quotas.max_vms"));
        check(NewGuest::Template, Some(9000), 5, Option::None);
    }

    #[test]
    fn quotas() {
        let mut config = Config::default();
        config.quotas.max_cores = Some(8);
        config.quotas.max_memory = Some(crate::config::Size::from_bytes(16 << 30));
        let c = cfg(json!({"cores": 2, "sockets": 2}));
        let ch = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(check_quotas(&config, "x", &ch("cores", "4"), &c).is_ok());
        let e = check_quotas(&config, "x", &ch("cores", "6"), &c).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Policy);
        assert!(e.message.contains("max_cores"), "{e}");
        assert!(check_quotas(&config, "x", &ch("memory", "32768"), &c).is_err());
        assert!(check_quotas(&config, "x", &ch("memory", "8192"), &c).is_ok());
    }
}
