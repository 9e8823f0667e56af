//! The safety policy: which actions stage, which guests are protected, the quotas on `set`, and
//! whether a config change applies live or waits for a reboot (PVE's hotplug rules).
//!
//! Pure functions over the config and a guest's config map: no IO, so every rule is a table
//! test. The callers decide what to do with a refusal (exit 4, no request sent).

use std::collections::BTreeMap;

use crate::config::{Config, StagingPolicy};
use crate::error::{Error, ErrorKind, Result};

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
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "{label} would get {total} cores; the quota `quotas.max_cores` allows {max}"
                ),
            )
            .hinted("ask for fewer cores, or raise the quota in cluster-config.yaml"));
        }
    }
    if let Some(max) = config.quotas.max_memory
        && changes.contains_key("memory")
    {
        let mib = value("memory", 0);
        let bytes = mib.saturating_mul(1 << 20);
        if bytes > max.bytes() {
            return Err(Error::new(
                ErrorKind::Policy,
                format!(
                    "{label} would get {} of memory; the quota `quotas.max_memory` allows {}",
                    crate::lang::format_size(bytes),
                    crate::lang::format_size(max.bytes())
                ),
            )
            .hinted("ask for less memory, or raise the quota in cluster-config.yaml"));
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
        .hinted("pick a VMID inside the range, or widen it in cluster-config.yaml"));
    }
    if let Some(max) = config.quotas.max_vms
        && kind != NewGuest::Template
        && guests >= max as usize
    {
        return Err(Error::new(
            ErrorKind::Policy,
            format!("the cluster has {guests} guests, the quota is {max} (quotas.max_vms)"),
        )
        .hinted("remove a guest first, or raise the quota in cluster-config.yaml"));
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
