//! LXC container routes: list, directory indexes, config, status and power actions.

use serde_json::{Value, json};

use super::guest::{self, find};
use super::{ApiError, Ctx, NODE, Perm, Reply, Route, VMID, index, route};
use crate::sim::state::GuestKind;

pub fn routes() -> Vec<Route> {
    let power = Perm::Privs {
        path: "/vms/{vmid}",
        privs: &["VM.PowerMgmt"],
        any: false,
    };
    let migrate = Perm::Privs {
        path: "/vms/{vmid}",
        privs: &["VM.Migrate"],
        any: false,
    };
    vec![
        route("POST", "/nodes/{node}/lxc/{vmid}/clone", "clone_vm", "string",
            Perm::Custom("You need 'VM.Clone' permissions on /vms/{vmid}, and 'VM.Allocate' permissions on /vms/{newid} (or on the VM pool /pool/{pool})."),
            &[NODE, VMID, "newid:integer fmt=pve-vmid min=100 max=999999999", "bwlimit?:number min=0", "description?:string",
              "full?:boolean", "hostname?:string fmt=dns-name", "pool?:string fmt=pve-poolid",
              "snapname?:string fmt=pve-configid maxlen=40", "storage?:string fmt=pve-storage-id", "target?:string fmt=pve-node"],
            |c| super::qemu_ops::clone_guest(c, GuestKind::Lxc)).protected().desc("Create a container clone/copy"),
        route("PUT", "/nodes/{node}/lxc/{vmid}/resize", "resize_vm", "string", Perm::Privs { path: "/vms/{vmid}", privs: &["VM.Config.Disk"], any: true },
            &[NODE, VMID, "disk:string pattern=(rootfs|mp([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))", "size:string pattern=\\+?\\d+(\\.\\d+)?[KMGT]?", "digest?:string maxlen=40"],
            |c| super::qemu_ops::resize_guest(c, GuestKind::Lxc)).protected().desc("Resize a container mount point."),
        route("POST", "/nodes/{node}/lxc/{vmid}/migrate", "migrate_vm", "string", migrate,
            &[NODE, VMID, "target:string fmt=pve-node", "bwlimit?:number min=0", "online?:boolean", "restart?:boolean",
              "target-storage?:string fmt=storage-pair-list", "timeout?:integer"],
            |c| super::qemu_ops::migrate_guest(c, GuestKind::Lxc)).protected().desc("Migrate the container to another node. Creates a new migration task."),
        route("GET", "/nodes/{node}/lxc", "vmlist", "array", Perm::All, &[NODE], list).protected().desc("LXC container index (per node)."),
        route("GET", "/nodes/{node}/lxc/{vmid}", "vmdiridx", "array", Perm::All, &[NODE, VMID], |c| {
            find(c, GuestKind::Lxc)?;
            Ok(index(c, "subdir"))
        }).desc("Directory index"),
        route("GET", "/nodes/{node}/lxc/{vmid}/config", "vm_config", "object", super::qemu::AUDIT, &[NODE, VMID, "current?:boolean", "snapshot?:string fmt=pve-configid maxlen=40"], |c| {
            let g = find(c, GuestKind::Lxc)?;
            Ok(Reply::data(guest::config_json(g, c.flag("current"))))
        }).desc("Get container configuration."),
        route(
            "PUT",
            "/nodes/{node}/lxc/{vmid}/config",
            "update_vm",
            "null",
            Perm::Privs {
                path: "/vms/{vmid}",
                privs: &["VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options"],
                any: true,
            },
            &[
                NODE, VMID,
                "arch?:string enum=amd64|i386|arm64|armhf|riscv32|riscv64", "cmode?:string enum=shell|console|tty",
                "console?:boolean", "cores?:integer min=1 max=8192", "cpulimit?:number min=0 max=8192",
                "cpuunits?:integer min=0 max=500000", "debug?:boolean", "delete?:string fmt=pve-configid-list",
                "description?:string maxlen=8192", "dev[n]?:string idx=0..255", "digest?:string maxlen=40",
                "features?:string", "hookscript?:string fmt=pve-volume-id", "hostname?:string fmt=dns-name maxlen=255",
                "lock?:string enum=backup|create|destroyed|disk|fstrim|migrate|mounted|rollback|snapshot|snapshot-delete",
                "memory?:integer min=16", "mp[n]?:string idx=0..255 props=lxcdisk", "nameserver?:string fmt=lxc-ip-with-ll-iface-list",
                "net[n]?:string idx=0..31 props=lxcnet", "onboot?:boolean",
                "ostype?:string enum=debian|devuan|ubuntu|centos|fedora|opensuse|archlinux|alpine|gentoo|nixos|unmanaged",
                "protection?:boolean", "revert?:string fmt=pve-configid-list", "rootfs?:string props=lxcdisk",
                "searchdomain?:string fmt=dns-name-list", "startup?:string fmt=pve-startup-order", "swap?:integer min=0",
                "tags?:string fmt=pve-tag-list", "template?:boolean", "timezone?:string fmt=pve-ct-timezone",
                "tty?:integer min=0 max=6", "unprivileged?:boolean", "unused[n]?:string idx=0..255",
            ],
            |c| {
                guest::update_config(c, GuestKind::Lxc)?;
                Ok(Reply::null())
            },
        )
        .protected()
        .desc("Set container options."),
        route(
            "DELETE",
            "/nodes/{node}/lxc/{vmid}",
            "destroy_vm",
            "string",
            Perm::Privs { path: "/vms/{vmid}", privs: &["VM.Allocate"], any: false },
            &[NODE, VMID, "destroy-unreferenced-disks?:boolean", "force?:boolean", "purge?:boolean"],
            |c| guest::destroy(c, GuestKind::Lxc),
        )
        .protected()
        .desc("Destroy the container (also delete all uses files)."),
        route("GET", "/nodes/{node}/lxc/{vmid}/pending", "vm_pending", "array", super::qemu::AUDIT, &[NODE, VMID], |c| {
            Ok(Reply::data(guest::pending_json(find(c, GuestKind::Lxc)?)))
        }).desc("Get container configuration, including pending changes."),
        route("GET", "/nodes/{node}/lxc/{vmid}/interfaces", "ip", "array", super::qemu::AUDIT, &[NODE, VMID], interfaces)
            .protected()
            .desc("Get IP addresses of the specified container interface."),
        route("GET", "/nodes/{node}/lxc/{vmid}/status", "vmcmdidx", "array", Perm::All, &[NODE, VMID], |c| {
            find(c, GuestKind::Lxc)?;
            Ok(index(c, "subdir"))
        }).desc("Directory index"),
        route("GET", "/nodes/{node}/lxc/{vmid}/status/current", "vm_status", "object", super::qemu::AUDIT, &[NODE, VMID], |c| guest::status_current(c, GuestKind::Lxc)).protected().desc("Get virtual machine status."),
        route("POST", "/nodes/{node}/lxc/{vmid}/status/start", "vm_start", "string", power, &[NODE, VMID, "debug?:boolean", "skiplock?:boolean"], |c| guest::power(c, GuestKind::Lxc, "start")).protected().desc("Start the container."),
        route("POST", "/nodes/{node}/lxc/{vmid}/status/stop", "vm_stop", "string", power, &[NODE, VMID, "overrule-shutdown?:boolean", "skiplock?:boolean"], |c| guest::power(c, GuestKind::Lxc, "stop")).protected().desc("Stop the container. This will abruptly stop all processes running in the container."),
        route("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown", "vm_shutdown", "string", power, &[NODE, VMID, "forceStop?:boolean", "timeout?:integer min=0"], |c| guest::power(c, GuestKind::Lxc, "shutdown")).protected().desc("Shutdown the container. This will trigger a clean shutdown of the container, see lxc-stop(1) for details."),
        route("POST", "/nodes/{node}/lxc/{vmid}/status/reboot", "vm_reboot", "string", power, &[NODE, VMID, "timeout?:integer min=0"], |c| guest::power(c, GuestKind::Lxc, "reboot")).protected().desc("Reboot the container by shutting it down, and starting it again. Applies pending changes."),
    ]
}

fn list(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let now = c.now();
    let rows: Vec<Value> = c
        .state
        .guests
        .values()
        .filter(|g| g.kind == GuestKind::Lxc && g.node == node)
        .filter(|g| c.can(&format!("/vms/{}", g.vmid), &["VM.Audit"]))
        .map(|g| {
            let running = g.is_running();
            let mut v = json!({
                "vmid": g.vmid, "name": g.name(), "status": g.status, "type": "lxc", "cpus": g.maxcpu(),
                "cpu": if running { g.cpu } else { 0.0 }, "maxmem": g.maxmem(), "mem": if running { g.mem } else { 0 },
                "maxswap": 512u64 << 20, "swap": 0, "maxdisk": g.maxdisk(), "disk": 0, "uptime": g.uptime(now),
                "netin": if running { g.netin } else { 0 }, "netout": if running { g.netout } else { 0 },
                "diskread": 0, "diskwrite": 0,
            });
            if let Some(o) = v.as_object_mut() {
                if let Some(t) = g.cfg("tags") {
                    o.insert("tags".into(), json!(t));
                }
                if let Some(l) = g.lock() {
                    o.insert("lock".into(), json!(l));
                }
                if g.is_template() {
                    o.insert("template".into(), json!(1));
                }
            }
            v
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

/// The container's interfaces as its network namespace reports them: `lo` and one entry per
/// `netN` of the config, with the static address or, for `ip=dhcp`, a lease derived from the VMID.
fn interfaces(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Lxc)?;
    if !g.is_running() {
        return Err(ApiError::fail(format!("CT {} not running", g.vmid)));
    }
    let mut out = vec![
        json!({ "name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8",
        "hardware-address": "00:00:00:00:00:00",
        "ip-addresses": [{ "ip-address": "127.0.0.1", "ip-address-type": "inet", "prefix": 8 }] }),
    ];
    for (key, value) in g.config.iter().filter(|(k, _)| k.starts_with("net")) {
        let field = |name: &str| {
            value
                .split(',')
                .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_string)
        };
        let name = field("name").unwrap_or_else(|| key.replace("net", "eth"));
        let mac = field("hwaddr").unwrap_or_default().to_lowercase();
        let cidr = match field("ip") {
            Some(ip) if ip.contains('/') => ip,
            Some(ip) if ip == "manual" => continue,
            _ => format!("10.0.{}.{}/24", g.vmid / 250, g.vmid % 250 + 2),
        };
        let (addr, prefix) = cidr.split_once('/').unwrap_or((cidr.as_str(), "24"));
        let prefix: u8 = prefix.parse().unwrap_or(24);
        out.push(json!({ "name": name, "hwaddr": mac, "inet": cidr, "hardware-address": mac,
            "ip-addresses": [{ "ip-address": addr, "ip-address-type": "inet", "prefix": prefix }] }));
    }
    Ok(Reply::data(Value::Array(out)))
}
