//! QEMU VM routes: list, create, destroy, config (GET/POST/PUT, pending), status and power
//! actions, and the guest agent's `network-get-interfaces` (FACTS §7-9).

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::guest::{self, find};
use super::{ApiError, Ctx, NODE, Perm, Reply, Route, VMID, index, route};
use crate::sim::state::{Guest, GuestKind};
use crate::sim::tasks::Effect;

pub const AUDIT: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Audit"],
    any: false,
};
const POWER: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.PowerMgmt"],
    any: false,
};
const CONFIG: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &[
        "VM.Config.Disk",
        "VM.Config.CDROM",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.HWType",
        "VM.Config.Options",
        "VM.Config.Cloudinit",
    ],
    any: true,
};

/// The VM options shared by create and config updates (from `pve-api-lookup`).
macro_rules! qemu_options {
    ($($extra:expr),* $(,)?) => {
        &[
            NODE, $($extra,)*
            "acpi?:boolean", "affinity?:string fmt=pve-cpuset", "agent?:string props=agent", "allow-ksm?:boolean",
            "amd-sev?:string fmt=pve-qemu-sev-fmt", "arch?:string enum=x86_64|aarch64", "args?:string", "audio0?:string",
            "autostart?:boolean", "balloon?:integer min=0", "bios?:string enum=seabios|ovmf", "boot?:string fmt=pve-qm-boot",
            "bootdisk?:string fmt=pve-qm-bootdisk pattern=(ide|sata|scsi|virtio)\\d+", "cdrom?:string fmt=pve-qm-ide",
            "cicustom?:string fmt=pve-qm-cicustom", "cipassword?:string", "citype?:string enum=configdrive2|nocloud|opennebula",
            "ciupgrade?:boolean", "ciuser?:string", "cores?:integer min=1", "cpu?:string fmt=pve-vm-cpu-conf",
            "cpulimit?:number min=0 max=128", "cpuunits?:integer min=1 max=262144", "description?:string maxlen=8192",
            "efidisk0?:string", "freeze?:boolean", "hookscript?:string fmt=pve-volume-id", "hostpci[n]?:string idx=0..15 fmt=pve-qm-hostpci",
            "hotplug?:string fmt=pve-hotplug-features", "hugepages?:string enum=any|2|1024",
            "ide[n]?:string idx=0..3 props=disk", "intel-tdx?:string fmt=pve-qemu-tdx-fmt", "ipconfig[n]?:string idx=0..31 props=ipconfig",
            "ivshmem?:string", "keephugepages?:boolean",
            "keyboard?:string enum=de|de-ch|da|en-gb|en-us|es|fi|fr|fr-be|fr-ca|fr-ch|hu|is|it|ja|lt|mk|nl|no|pl|pt|pt-br|sv|sl|tr",
            "kvm?:boolean", "localtime?:boolean", "lock?:string enum=backup|clone|create|migrate|rollback|snapshot|snapshot-delete|suspending|suspended",
            "machine?:string", "memory?:string props=memory", "migrate_downtime?:number min=0", "migrate_speed?:integer min=0",
            "name?:string fmt=dns-name", "nameserver?:string fmt=address-list", "net[n]?:string idx=0..31 props=net",
            "numa?:boolean", "numa[n]?:string idx=0..7", "onboot?:boolean",
            "ostype?:string enum=other|wxp|w2k|w2k3|w2k8|wvista|win7|win8|win10|win11|l24|l26|solaris",
            "parallel[n]?:string idx=0..2 pattern=/dev/parport\\d+|/dev/usb/lp\\d+", "protection?:boolean", "reboot?:boolean",
            "rng0?:string fmt=pve-qm-rng", "sata[n]?:string idx=0..5 props=disk", "scsi[n]?:string idx=0..30 props=disk",
            "scsihw?:string enum=lsi|lsi53c810|virtio-scsi-pci|virtio-scsi-single|megasas|pvscsi", "searchdomain?:string",
            "serial[n]?:string idx=0..3 pattern=(/dev/.+|socket)", "shares?:integer min=0 max=50000",
            "smbios1?:string fmt=pve-qm-smbios1 maxlen=512", "smp?:integer min=1", "sockets?:integer min=1",
            "spice_enhancements?:string", "sshkeys?:string fmt=urlencoded",
            "startdate?:string pattern=(now|\\d{4}-\\d{1,2}-\\d{1,2}(T\\d{1,2}:\\d{1,2}:\\d{1,2})?)",
            "startup?:string fmt=pve-startup-order", "tablet?:boolean", "tags?:string fmt=pve-tag-list", "tdf?:boolean",
            "template?:boolean", "tpmstate0?:string", "unused[n]?:string idx=0..255", "usb[n]?:string idx=0..4",
            "vcpus?:integer min=1", "vga?:string", "virtio[n]?:string idx=0..15 props=disk", "virtiofs[n]?:string idx=0..9",
            "vmgenid?:string pattern=(?:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}|[01])",
            "vmstatestorage?:string fmt=pve-storage-id", "watchdog?:string fmt=pve-qm-watchdog",
        ]
    };
}

pub fn routes() -> Vec<Route> {
    let power = |action: &'static str,
                 name: &'static str,
                 params: &'static [&'static str],
                 handler: super::Handler| {
        let path: &'static str = match action {
            "start" => "/nodes/{node}/qemu/{vmid}/status/start",
            "stop" => "/nodes/{node}/qemu/{vmid}/status/stop",
            "shutdown" => "/nodes/{node}/qemu/{vmid}/status/shutdown",
            "reboot" => "/nodes/{node}/qemu/{vmid}/status/reboot",
            "reset" => "/nodes/{node}/qemu/{vmid}/status/reset",
            "suspend" => "/nodes/{node}/qemu/{vmid}/status/suspend",
            _ => "/nodes/{node}/qemu/{vmid}/status/resume",
        };
        route("POST", path, name, "string", POWER, params, handler).protected()
    };
    vec![
        route("GET", "/nodes/{node}/qemu", "vmlist", "array", Perm::All, &[NODE, "full?:boolean"], vmlist).protected().desc("Virtual machine index (per node)."),
        route("POST", "/nodes/{node}/qemu", "create_vm", "string", Perm::All, qemu_options!(
            VMID, "archive?:string maxlen=255", "bwlimit?:integer min=0", "force?:boolean", "ha-managed?:boolean",
            "import-working-storage?:string fmt=pve-storage-id", "live-restore?:boolean", "pool?:string fmt=pve-poolid",
            "start?:boolean", "storage?:string fmt=pve-storage-id", "unique?:boolean",
        ), create_vm).protected().desc("Create or restore a virtual machine."),
        route("GET", "/nodes/{node}/qemu/{vmid}", "vmdiridx", "array", Perm::All, &[NODE, VMID], |c| {
            find(c, GuestKind::Qemu)?;
            Ok(index(c, "subdir"))
        }).desc("Directory index"),
        route("DELETE", "/nodes/{node}/qemu/{vmid}", "destroy_vm", "string", Perm::Privs { path: "/vms/{vmid}", privs: &["VM.Allocate"], any: false }, &[
            NODE, VMID, "destroy-unreferenced-disks?:boolean", "purge?:boolean", "skiplock?:boolean",
        ], |c| guest::destroy(c, GuestKind::Qemu)).protected().desc("Destroy the VM and  all used/owned volumes. Removes any VM specific permissions and firewall rules"),
        route("GET", "/nodes/{node}/qemu/{vmid}/config", "vm_config", "object", AUDIT, &[NODE, VMID, "current?:boolean", "snapshot?:string fmt=pve-configid maxlen=40"], get_config).desc("Get the virtual machine configuration with pending configuration changes applied. Set the 'current' parameter to get the current configuration instead."),
        route("POST", "/nodes/{node}/qemu/{vmid}/config", "update_vm_async", "string", CONFIG, qemu_options!(
            VMID, "background_delay?:integer min=1 max=30", "delete?:string fmt=pve-configid-list", "digest?:string maxlen=40",
            "force?:boolean", "import-working-storage?:string fmt=pve-storage-id", "revert?:string fmt=pve-configid-list", "skiplock?:boolean",
        ), post_config).protected().desc("Set virtual machine options (asynchrounous API)."),
        route("PUT", "/nodes/{node}/qemu/{vmid}/config", "update_vm", "null", CONFIG, qemu_options!(
            VMID, "delete?:string fmt=pve-configid-list", "digest?:string maxlen=40", "force?:boolean",
            "revert?:string fmt=pve-configid-list", "skiplock?:boolean",
        ), put_config).protected().desc("Set virtual machine options (synchronous API) - You should consider using the POST method instead for any actions involving hotplug or storage allocation."),
        route("GET", "/nodes/{node}/qemu/{vmid}/pending", "vm_pending", "array", AUDIT, &[NODE, VMID], |c| {
            Ok(Reply::data(guest::pending_json(find(c, GuestKind::Qemu)?)))
        }).desc("Get the virtual machine configuration with both current and pending values."),
        route("GET", "/nodes/{node}/qemu/{vmid}/status", "vmcmdidx", "array", Perm::All, &[NODE, VMID], |c| {
            find(c, GuestKind::Qemu)?;
            Ok(index(c, "subdir"))
        }).desc("Directory index"),
        route("GET", "/nodes/{node}/qemu/{vmid}/status/current", "vm_status", "object", AUDIT, &[NODE, VMID], |c| guest::status_current(c, GuestKind::Qemu)).protected().desc("Get virtual machine status."),
        power("start", "vm_start", &[
            NODE, VMID, "force-cpu?:string", "machine?:string", "migratedfrom?:string fmt=pve-node", "migration_network?:string fmt=CIDR",
            "migration_type?:string enum=secure|insecure", "nets-host-mtu?:string pattern=net\\d+=\\d+(,net\\d+=\\d+)*",
            "skiplock?:boolean", "stateuri?:string maxlen=128", "targetstorage?:string fmt=storage-pair-list",
            "timeout?:integer min=0", "with-conntrack-state?:boolean",
        ], |c| guest::power(c, GuestKind::Qemu, "start")),
        power("stop", "vm_stop", &[NODE, VMID, "keepActive?:boolean", "migratedfrom?:string fmt=pve-node", "overrule-shutdown?:boolean", "skiplock?:boolean", "timeout?:integer min=0"], |c| guest::power(c, GuestKind::Qemu, "stop")),
        power("shutdown", "vm_shutdown", &[NODE, VMID, "forceStop?:boolean", "keepActive?:boolean", "skiplock?:boolean", "timeout?:integer min=0"], |c| guest::power(c, GuestKind::Qemu, "shutdown")),
        power("reboot", "vm_reboot", &[NODE, VMID, "timeout?:integer min=0"], |c| guest::power(c, GuestKind::Qemu, "reboot")),
        power("reset", "vm_reset", &[NODE, VMID, "skiplock?:boolean"], |c| guest::power(c, GuestKind::Qemu, "reset")),
        power("suspend", "vm_suspend", &[NODE, VMID, "skiplock?:boolean", "statestorage?:string fmt=pve-storage-id", "todisk?:boolean"], |c| guest::power(c, GuestKind::Qemu, "suspend")),
        power("resume", "vm_resume", &[NODE, VMID, "nocheck?:boolean", "skiplock?:boolean"], |c| guest::power(c, GuestKind::Qemu, "resume")),
        route("GET", "/nodes/{node}/qemu/{vmid}/agent", "index", "array", Perm::All, &[NODE, VMID], |c| {
            find(c, GuestKind::Qemu)?;
            Ok(index(c, "name"))
        }).desc("QEMU Guest Agent command index."),
        route("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", "network-get-interfaces", "object",
            Perm::Privs { path: "/vms/{vmid}", privs: &["VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"], any: true },
            &[NODE, VMID], agent_interfaces).protected().desc("Execute network-get-interfaces."),
    ]
}

fn vm_row(g: &Guest, now: i64, full: bool) -> Value {
    let running = g.is_running();
    let mut v = json!({
        "vmid": g.vmid, "name": g.name(), "status": g.status, "cpus": g.maxcpu(),
        "cpu": if running { g.cpu } else { 0.0 }, "maxmem": g.maxmem(), "mem": if running { g.mem } else { 0 },
        "maxdisk": g.maxdisk(), "disk": 0, "uptime": g.uptime(now),
        "netin": if running { g.netin } else { 0 }, "netout": if running { g.netout } else { 0 },
        "diskread": 0, "diskwrite": 0,
    });
    if let Some(o) = v.as_object_mut() {
        if running {
            o.insert("pid".into(), json!(10_000 + g.vmid));
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
        if full {
            let qmp = if !running {
                "stopped"
            } else if g.paused {
                "paused"
            } else {
                "running"
            };
            o.insert("qmpstatus".into(), json!(qmp));
        }
    }
    v
}

fn vmlist(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let full = c.flag("full");
    let now = c.now();
    let rows: Vec<Value> = c
        .state
        .guests
        .values()
        .filter(|g| g.kind == GuestKind::Qemu && g.node == node)
        .filter(|g| c.can(&format!("/vms/{}", g.vmid), &["VM.Audit"]))
        .map(|g| vm_row(g, now, full))
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn create_vm(c: &mut Ctx) -> Result<Reply, ApiError> {
    if let Some(archive) = c.str("archive").map(str::to_string) {
        return super::qemu_ops::restore(c, &archive, GuestKind::Qemu);
    }
    c.check_node()?;
    let vmid = c.vmid();
    let pool = c.str("pool").map(str::to_string);
    match &pool {
        Some(p) => c.check(&format!("/pool/{p}"), &["VM.Allocate"], false)?,
        None => c.check(&format!("/vms/{vmid}"), &["VM.Allocate"], false)?,
    }
    if c.state.guests.contains_key(&vmid) {
        return Err(ApiError::fail(format!(
            "unable to create VM {vmid} - VM {vmid} already exists on node '{}'",
            c.state.guests[&vmid].node
        )));
    }
    if let Some(p) = &pool
        && !c.state.pools.contains_key(p)
    {
        return Err(ApiError::fail(format!("pool '{p}' does not exist")));
    }
    let node = c.node().to_string();
    let r = c.state.next_random();
    let mut config: IndexMap<String, String> = IndexMap::new();
    config.insert(
        "smbios1".into(),
        format!("uuid={}", crate::sim::tasks::uuid_like(r, vmid)),
    );
    config.insert(
        "vmgenid".into(),
        crate::sim::tasks::uuid_like(r.rotate_left(17), vmid),
    );
    config.insert(
        "meta".into(),
        format!("creation-qemu=9.2.0,ctime={}", c.now()),
    );
    c.state.guests.insert(
        vmid,
        Guest::new_stopped(vmid, GuestKind::Qemu, node.clone(), config, pool.clone()),
    );
    // The task below holds the `create` lock until it ends, as PVE's creation does.
    let result = guest::update_config(c, GuestKind::Qemu);
    if let Err(e) = result {
        c.state.guests.remove(&vmid);
        return Err(e);
    }
    if let Some(p) = pool.and_then(|p| c.state.pools.get_mut(&p)) {
        p.vms.push(vmid);
    }
    let effect = if c.flag("start") {
        Effect::Start { vmid }
    } else {
        Effect::None
    };
    Ok(c.spawn(
        "qmcreate",
        vmid.to_string(),
        Vec::new(),
        Ok(()),
        effect,
        Some((vmid, "create")),
    ))
}

fn get_config(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
    if let Some(name) = c.str("snapshot") {
        let s = g
            .snapshots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ApiError::fail(format!("snapshot '{name}' does not exist")))?;
        let mut m: serde_json::Map<String, Value> = s
            .config
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        m.insert("digest".into(), json!(g.digest()));
        return Ok(Reply::data(Value::Object(m)));
    }
    Ok(Reply::data(guest::config_json(g, c.flag("current"))))
}

fn put_config(c: &mut Ctx) -> Result<Reply, ApiError> {
    guest::update_config(c, GuestKind::Qemu)?;
    Ok(Reply::null())
}

fn post_config(c: &mut Ctx) -> Result<Reply, ApiError> {
    guest::update_config(c, GuestKind::Qemu)?;
    let vmid = c.vmid();
    Ok(c.spawn(
        "qmconfig",
        vmid.to_string(),
        Vec::new(),
        Ok(()),
        Effect::None,
        None,
    ))
}

fn agent_interfaces(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
    if !g.is_running() {
        return Err(ApiError::fail(format!("VM {} is not running", g.vmid)));
    }
    if !guest::agent_enabled(g) {
        return Err(ApiError::fail("No QEMU guest agent configured"));
    }
    let (ifaces, boot_secs) = if g.agent_ifaces.is_empty() {
        (booted_interfaces(g), BOOT_SECS)
    } else {
        (g.agent_ifaces.clone(), 5)
    };
    if ifaces.is_empty() || g.uptime(c.now()) < boot_secs {
        return Err(ApiError::fail("QEMU guest agent is not running"));
    }
    Ok(Reply::data(json!({ "result": ifaces })))
}

/// Simulated seconds a guest without scenario interfaces takes to boot and start its agent.
const BOOT_SECS: i64 = 15;

/// The interfaces the agent of a guest created in the simulator reports once booted: `eth0`
/// with the MAC of `net0` and the address of `ipconfig0` (a static `ip=`, else a DHCP lease
/// from the same 10.0.x.y scheme as the demo's guests). Nothing without a `net0`.
fn booted_interfaces(g: &Guest) -> Vec<Value> {
    let Some(net0) = g.cfg("net0") else {
        return Vec::new();
    };
    let mac = net0
        .split(',')
        .next()
        .and_then(|p| p.split_once('='))
        .map_or("", |(_, m)| m)
        .to_lowercase();
    let static_ip = g.cfg("ipconfig0").and_then(|c| {
        c.split(',')
            .find_map(|p| p.strip_prefix("ip="))
            .filter(|ip| *ip != "dhcp")
            .and_then(|ip| ip.split_once('/'))
            .map(|(a, p)| (a.to_string(), p.parse::<u8>().unwrap_or(24)))
    });
    let (ip, prefix) =
        static_ip.unwrap_or_else(|| (format!("10.0.{}.{}", g.vmid / 250, g.vmid % 250 + 2), 24));
    vec![
        json!({ "name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [{ "ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8 }] }),
        json!({ "name": "eth0", "hardware-address": mac, "ip-addresses": [{ "ip-address": ip, "ip-address-type": "ipv4", "prefix": prefix }] }),
    ]
}
