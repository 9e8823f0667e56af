//! Behaviour shared by QEMU VMs and LXC containers: finding a guest on a node, lock checks, the
//! status object, power actions (failures happen inside the task, FACTS §4) and config updates
//! with PVE's hotplug-vs-pending rules and digest check (FACTS §7).

use serde_json::{Value, json};

use super::{ApiError, Ctx, Reply};
use crate::sim::state::{Guest, GuestKind, Volume, format_size};
use crate::sim::tasks::Effect;

/// The guest `{vmid}` of `kind` on `{node}`, or PVE's "does not exist" error.
pub fn find<'a>(c: &'a Ctx, kind: GuestKind) -> Result<&'a Guest, ApiError> {
    c.check_node()?;
    let vmid = c.vmid();
    let node = c.node();
    match c.state.guests.get(&vmid) {
        Some(g) if g.kind == kind && g.node == node => Ok(g),
        _ => {
            let dir = if kind == GuestKind::Qemu {
                "qemu-server"
            } else {
                "lxc"
            };
            Err(ApiError::fail(format!(
                "Configuration file 'nodes/{node}/{dir}/{vmid}.conf' does not exist"
            )))
        }
    }
}

/// PVE's `check_lock` text: "VM is locked (snapshot)". Root may pass `skiplock`.
pub fn lock_error(c: &Ctx, g: &Guest) -> Option<String> {
    let lock = g.lock()?;
    if c.flag("skiplock") && c.is_root() {
        return None;
    }
    Some(format!("{} is locked ({lock})", g.kind.short()))
}

/// `GET .../status/current`.
pub fn status_current(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let now = c.now();
    let running = g.is_running();
    let mut v = json!({
        "vmid": g.vmid, "name": g.name(), "status": g.status,
        "cpus": g.maxcpu(), "cpu": if running { g.cpu } else { 0.0 },
        "maxmem": g.maxmem(), "mem": if running { g.mem } else { 0 },
        "maxdisk": g.maxdisk(), "disk": 0, "uptime": g.uptime(now),
        "netin": if running { g.netin } else { 0 }, "netout": if running { g.netout } else { 0 },
        "diskread": 0, "diskwrite": 0, "ha": { "managed": 0 },
    });
    if let Some(o) = v.as_object_mut() {
        if kind == GuestKind::Qemu {
            let qmp = if !running {
                "stopped"
            } else if g.paused {
                "paused"
            } else {
                "running"
            };
            o.insert("qmpstatus".into(), json!(qmp));
            o.insert("agent".into(), json!(u8::from(agent_enabled(g))));
            if running {
                o.insert("pid".into(), json!(10_000 + g.vmid));
                o.insert("running-machine".into(), json!("pc-i440fx-9.2+pve1"));
                o.insert("running-qemu".into(), json!("9.2.0"));
            }
        } else {
            o.insert("type".into(), json!("lxc"));
            o.insert("maxswap".into(), json!(512u64 << 20));
            o.insert("swap".into(), json!(0));
        }
        if g.is_template() {
            o.insert("template".into(), json!(1));
        }
        if let Some(t) = g.cfg("tags") {
            o.insert("tags".into(), json!(t));
        }
        if let Some(l) = g.lock() {
            o.insert("lock".into(), json!(l));
        }
    }
    Ok(Reply::data(v))
}

pub fn agent_enabled(g: &Guest) -> bool {
    g.cfg("agent")
        .is_some_and(|a| a == "1" || a.starts_with("1,") || a.contains("enabled=1"))
}

/// A power action as a task; the precondition failures end the task with PVE's text.
pub fn power(c: &mut Ctx, kind: GuestKind, action: &'static str) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let vmid = g.vmid;
    let who = g.kind.short();
    let running = g.is_running();
    let task_kind: &'static str = match (kind, action) {
        (GuestKind::Qemu, "start") => "qmstart",
        (GuestKind::Qemu, "stop") => "qmstop",
        (GuestKind::Qemu, "shutdown") => "qmshutdown",
        (GuestKind::Qemu, "reboot") => "qmreboot",
        (GuestKind::Qemu, "reset") => "qmreset",
        (GuestKind::Qemu, "suspend") => "qmsuspend",
        (GuestKind::Qemu, "resume") => "qmresume",
        (GuestKind::Lxc, "start") => "vzstart",
        (GuestKind::Lxc, "stop") => "vzstop",
        (GuestKind::Lxc, "shutdown") => "vzshutdown",
        _ => "vzreboot",
    };
    let mut outcome = match lock_error(c, g) {
        Some(e) => Err(e),
        None => Ok(()),
    };
    if outcome.is_ok() {
        outcome = match action {
            "start" if g.is_template() => {
                Err("you can't start a vm if it's a template".to_string())
            }
            "start" if running => Err(format!("{who} {vmid} already running")),
            "shutdown" | "reboot" | "reset" | "suspend" if !running => {
                Err(format!("{who} {vmid} not running"))
            }
            "resume" if !running => Err(format!("{who} {vmid} not running")),
            _ => Ok(()),
        };
    }
    let effect = match action {
        "start" => Effect::Start { vmid },
        "stop" | "shutdown" => Effect::Stop { vmid },
        "suspend" => Effect::Suspend { vmid },
        "resume" => Effect::Resume { vmid },
        "reboot" | "reset" => Effect::Reboot { vmid },
        _ => Effect::None,
    };
    let mut lines = Vec::new();
    if action == "start"
        && kind == GuestKind::Qemu
        && g.config.values().any(|v| v.contains("cloudinit"))
    {
        lines.push("generating cloud-init ISO".to_string());
    }
    Ok(c.spawn(task_kind, vmid.to_string(), lines, outcome, effect, None))
}

/// `DELETE /nodes/{node}/{qemu|lxc}/{vmid}`: refused for protected, running or locked guests.
pub fn destroy(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let vmid = g.vmid;
    let who = kind.short();
    if let Some(e) = lock_error(c, g) {
        return Err(ApiError::fail(e));
    }
    if g.cfg("protection") == Some("1") {
        return Err(ApiError::fail(format!(
            "can't remove {who} {vmid} - protection mode enabled"
        )));
    }
    if g.is_running() {
        return Err(ApiError::fail(format!(
            "{who} {vmid} is running - destroy failed"
        )));
    }
    if c.flag("purge") {
        c.state.acl.retain(|e| e.path != format!("/vms/{vmid}"));
    }
    let task = if kind == GuestKind::Qemu {
        "qmdestroy"
    } else {
        "vzdestroy"
    };
    let lines = vec!["Removing image: 100% complete...done.".to_string()];
    Ok(c.spawn(
        task,
        vmid.to_string(),
        lines,
        Ok(()),
        Effect::Destroy { vmid },
        None,
    ))
}

/// Parameters that are not config keys.
const NON_CONFIG: &[&str] = &[
    "node",
    "vmid",
    "digest",
    "delete",
    "revert",
    "skiplock",
    "force",
    "background_delay",
    "start",
    "pool",
    "storage",
    "archive",
    "unique",
    "live-restore",
    "bwlimit",
    "import-working-storage",
    "ha-managed",
];

/// Options PVE changes on a running VM without hotplug support ("fast plug").
const FAST_PLUG: &[&str] = &[
    "name",
    "description",
    "onboot",
    "protection",
    "tags",
    "startup",
    "shares",
    "hookscript",
    "hotplug",
    "lock",
    "vmstatestorage",
];

/// Whether changing `key` on a running VM applies live (else it goes pending), from the VM's
/// `hotplug` option (default `network,disk,usb`).
pub fn hotpluggable(hotplug: Option<&str>, key: &str) -> bool {
    if FAST_PLUG.contains(&key) {
        return true;
    }
    let features: Vec<&str> = match hotplug.unwrap_or("network,disk,usb") {
        "0" => Vec::new(),
        "1" => vec!["network", "disk", "usb", "cpu", "memory"],
        list => list.split(',').collect(),
    };
    let family = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let indexed = family.len() < key.len();
    let needed = match family {
        "net" if indexed => "network",
        "scsi" | "virtio" | "sata" if indexed => "disk",
        "usb" if indexed => "usb",
        "cores" | "sockets" | "vcpus" => "cpu",
        "memory" | "balloon" => "memory",
        _ => return false,
    };
    features.contains(&needed)
}

/// Applies a config change set (sync PUT, async POST, create). Disk allocation syntax
/// `STORAGE:SIZE_GIB` creates a volume; a NIC without a MAC gets one.
pub fn update_config(c: &mut Ctx, kind: GuestKind) -> Result<(), ApiError> {
    let g = find(c, kind)?;
    let vmid = g.vmid;
    if let Some(want) = c.str("digest")
        && want != g.digest()
    {
        return Err(ApiError::fail(
            "detected modified configuration - file changed by other user? Try again.",
        ));
    }
    if let Some(e) = lock_error(c, g) {
        return Err(ApiError::fail(e));
    }
    let running = g.is_running();
    let force = c.flag("force");
    let hotplug = g.cfg("hotplug").map(str::to_string);
    let split = |v: Option<&str>| -> Vec<String> {
        v.unwrap_or("")
            .split([',', ';', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let deletes = split(c.str("delete"));
    let reverts = split(c.str("revert"));
    // PVE's check_protection: no drive (other than a CD-ROM) or unused disk may be removed.
    if g.cfg("protection") == Some("1")
        && let Some(k) = deletes.iter().find(|k| {
            let is_drive = crate::sim::state::is_disk_key(k)
                && g.cfg(k).is_some_and(|v| !v.contains("media=cdrom"));
            is_drive || k.starts_with("unused")
        })
    {
        let what = if k.starts_with("unused") {
            format!("can't remove unused disk '{}'", g.cfg(k).unwrap_or(""))
        } else {
            format!("can't remove drive '{k}'")
        };
        return Err(ApiError::fail(format!("{what} - protection mode enabled")));
    }
    let changes: Vec<(String, String)> = c
        .params
        .iter()
        .filter(|(k, _)| !NON_CONFIG.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for k in &deletes {
        if changes.iter().any(|(ck, _)| ck == k) {
            return Err(ApiError::param(
                k,
                "unable to delete parameter that is set in the same request",
            ));
        }
    }
    let node = c.node().to_string();
    let mut new_vols = Vec::new();
    let mut resolved = Vec::new();
    for (k, v) in changes {
        let v = if crate::sim::state::is_disk_key(&k) {
            allocate_disk(c, vmid, &node, &k, &v, &mut new_vols)?
        } else if k.starts_with("net") && kind == GuestKind::Qemu {
            with_mac(c, &v)
        } else {
            v
        };
        resolved.push((k, v));
    }
    c.state.volumes.extend(new_vols);
    let Some(g) = c.state.guests.get_mut(&vmid) else {
        return Ok(());
    };
    for k in reverts {
        g.pending.shift_remove(&k);
    }
    for (k, v) in resolved {
        if running && kind == GuestKind::Qemu && !hotpluggable(hotplug.as_deref(), &k) {
            g.pending.insert(k, Some(v));
        } else {
            g.pending.shift_remove(&k);
            g.config.insert(k, v);
        }
    }
    for k in deletes {
        if running && kind == GuestKind::Qemu && !hotpluggable(hotplug.as_deref(), &k) {
            g.pending.insert(k, None);
        } else {
            g.pending.shift_remove(&k);
            let old = g.config.shift_remove(&k);
            // A removed disk stays as `unusedN` unless `force` destroys it, as in PVE.
            if let Some(volid) = old
                .as_deref()
                .filter(|v| crate::sim::state::is_disk_key(&k) && !v.contains("media=cdrom"))
                .and_then(|v| v.split(',').next())
                .filter(|_| !force)
            {
                let n = (0..)
                    .find(|n| !g.config.contains_key(&format!("unused{n}")))
                    .unwrap_or(0);
                g.config.insert(format!("unused{n}"), volid.to_string());
            }
        }
    }
    // Volumes no longer referenced (a deleted `unusedN`, or a drive removed with `force`) go.
    let guests = &c.state.guests;
    c.state.volumes.retain(|v| {
        v.vmid != Some(vmid) || v.content == "backup" || still_used(guests, vmid, &v.volid)
    });
    Ok(())
}

/// Whether the guest still references the volume (in its config, pending values or snapshots).
fn still_used(guests: &std::collections::BTreeMap<u32, Guest>, vmid: u32, volid: &str) -> bool {
    guests.get(&vmid).is_some_and(|g| {
        let refers = |v: &str| v.split(',').next() == Some(volid);
        g.config.values().any(|v| refers(v))
            || g.pending.values().flatten().any(|v| refers(v))
            || g.snapshots
                .iter()
                .any(|s| s.config.values().any(|v| refers(v)))
    })
}

/// `local-lvm:32` → a new 32 GiB volume `local-lvm:vm-VMID-disk-N,size=32G` (other options kept).
pub fn allocate_disk(
    c: &mut Ctx,
    vmid: u32,
    node: &str,
    key: &str,
    value: &str,
    new_vols: &mut Vec<Volume>,
) -> Result<String, ApiError> {
    let (first, rest) = value.split_once(',').unwrap_or((value, ""));
    let first = first
        .strip_prefix("file=")
        .or_else(|| first.strip_prefix("volume="))
        .unwrap_or(first);
    let Some((store, size)) = first.split_once(':') else {
        return Ok(value.to_string());
    };
    let Ok(gib) = size.parse::<f64>() else {
        return Ok(value.to_string());
    };
    if !c.state.storage_on(store, node) {
        return Err(ApiError::param(
            key,
            format!("storage '{store}' does not exist"),
        ));
    }
    let taken = |n: usize, vols: &[Volume]| {
        vols.iter()
            .any(|v| v.volid == format!("{store}:vm-{vmid}-disk-{n}"))
    };
    let n = (0..)
        .find(|n| !taken(*n, &c.state.volumes) && !taken(*n, new_vols))
        .unwrap_or(0);
    // `import-from=VOLID`: the new disk is a copy of that volume, as big as it.
    let source = rest.split(',').find_map(|p| p.strip_prefix("import-from="));
    let bytes = match source {
        Some(src) => c
            .state
            .volumes
            .iter()
            .find(|v| v.volid == src && v.node.as_deref().is_none_or(|n| n == node))
            .map(|v| v.size)
            .ok_or_else(|| ApiError::param(key, format!("volume '{src}' does not exist")))?,
        None => (gib * (1u64 << 30) as f64) as u64,
    };
    let volid = format!("{store}:vm-{vmid}-disk-{n}");
    let shared = c.state.storage(store).is_some_and(|s| s.shared);
    new_vols.push(Volume {
        storage: store.to_string(),
        node: if shared { None } else { Some(node.to_string()) },
        volid: volid.clone(),
        content: "images".into(),
        format: "raw".into(),
        size: bytes,
        ctime: c.now(),
        vmid: Some(vmid),
        notes: None,
        protected: false,
    });
    let opts: Vec<&str> = rest
        .split(',')
        .filter(|p| !p.is_empty() && !p.starts_with("size=") && !p.starts_with("import-from="))
        .collect();
    let mut out = volid;
    for o in opts {
        out.push(',');
        out.push_str(o);
    }
    out.push_str(&format!(",size={}", format_size(bytes)));
    Ok(out)
}

/// `virtio,bridge=vmbr0` → `virtio=BC:24:11:..,bridge=vmbr0`.
fn with_mac(c: &mut Ctx, v: &str) -> String {
    let (first, rest) = v.split_once(',').unwrap_or((v, ""));
    let model = first.strip_prefix("model=").unwrap_or(first);
    if model.contains('=') || first.starts_with("bridge=") {
        return v.to_string();
    }
    let mac = c.state.random_mac();
    if rest.is_empty() {
        format!("{model}={mac}")
    } else {
        format!("{model}={mac},{rest}")
    }
}

/// Config with pending values applied (PVE's default for `GET .../config`).
pub fn config_json(g: &Guest, current: bool) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in &g.config {
        m.insert(k.clone(), config_value(g.kind, k, v));
    }
    if !current {
        for (k, v) in &g.pending {
            match v {
                Some(v) => {
                    m.insert(k.clone(), config_value(g.kind, k, v));
                }
                None => {
                    m.remove(k);
                }
            }
        }
    }
    if let Some(p) = &g.parent {
        m.insert("parent".into(), json!(p));
    }
    m.insert("digest".into(), json!(g.digest()));
    Value::Object(m)
}

/// Integer and boolean keys come back as JSON numbers, like PVE's encoding of its parsed config
/// (for containers `memory` and `swap` are integers too; for VMs `memory` is a property string).
fn config_value(kind: GuestKind, k: &str, v: &str) -> Value {
    const NUMERIC: &[&str] = &[
        "cores",
        "sockets",
        "vcpus",
        "balloon",
        "cpuunits",
        "shares",
        "onboot",
        "protection",
        "template",
        "numa",
        "acpi",
        "kvm",
        "tablet",
        "localtime",
        "cpulimit",
        "unprivileged",
        "tty",
        "console",
        "debug",
    ];
    let lxc_numeric = kind == GuestKind::Lxc && matches!(k, "memory" | "swap");
    if (NUMERIC.contains(&k) || lxc_numeric)
        && let Ok(n) = v.parse::<i64>()
    {
        return json!(n);
    }
    if k == "cpulimit"
        && let Ok(n) = v.parse::<f64>()
    {
        return json!(n);
    }
    json!(v)
}

/// `GET .../pending`.
pub fn pending_json(g: &Guest) -> Value {
    let mut rows = Vec::new();
    for (k, v) in &g.config {
        let mut row = json!({ "key": k, "value": config_value(g.kind, k, v) });
        if let (Some(p), Some(o)) = (g.pending.get(k), row.as_object_mut()) {
            match p {
                Some(p) => o.insert("pending".into(), config_value(g.kind, k, p)),
                None => o.insert("delete".into(), json!(1)),
            };
        }
        rows.push(row);
    }
    for (k, v) in &g.pending {
        if !g.config.contains_key(k)
            && let Some(v) = v
        {
            rows.push(json!({ "key": k, "pending": config_value(g.kind, k, v) }));
        }
    }
    rows.push(json!({ "key": "digest", "value": g.digest() }));
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotplug_rules() {
        let cases = [
            (None, "net0", true),
            (None, "scsi1", true),
            (None, "ide2", false),
            (None, "usb0", true),
            (None, "cores", false),
            (None, "memory", false),
            (None, "name", true),
            (None, "tags", true),
            (None, "ostype", false),
            (Some("network,disk,cpu,memory"), "cores", true),
            (Some("network,disk,cpu,memory"), "memory", true),
            (Some("0"), "net0", false),
            (Some("0"), "description", true),
            (Some("1"), "sockets", true),
            (None, "network", false),
        ];
        for (hotplug, key, want) in cases {
            assert_eq!(hotpluggable(hotplug, key), want, "{hotplug:?} {key}");
        }
    }
}
