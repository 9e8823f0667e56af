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
    vec![
        route("GET", "/nodes/{node}/lxc", "vmlist", "array", Perm::All, &[NODE], list).protected().desc("LXC container index (per node)."),
        route("GET", "/nodes/{node}/lxc/{vmid}", "vmdiridx", "array", Perm::All, &[NODE, VMID], |c| {
            find(c, GuestKind::Lxc)?;
            Ok(index(c, "subdir"))
        }).desc("Directory index"),
        route("GET", "/nodes/{node}/lxc/{vmid}/config", "vm_config", "object", super::qemu::AUDIT, &[NODE, VMID, "current?:boolean", "snapshot?:string fmt=pve-configid maxlen=40"], |c| {
            let g = find(c, GuestKind::Lxc)?;
            Ok(Reply::data(guest::config_json(g, c.flag("current"))))
        }).desc("Get container configuration."),
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
