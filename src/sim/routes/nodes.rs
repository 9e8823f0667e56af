//! `/nodes`, `/storage`, node storage and content, node tasks (FACTS §4) and `vzdump` routes.

use serde_json::{Value, json};

use super::{ApiError, Ctx, NODE, Perm, Reply, Route, index, route};
use crate::sim::state::{GuestKind, Task};
use crate::sim::tasks::Effect;

const UPID: &str = "upid:string";
/// The pve-manager version every simulated node runs (also in `/version`).
pub const PVE_VERSION: &str = "9.1.1";
pub const PVE_RELEASE: &str = "9.1";
pub const PVE_REPOID: &str = "5b2c5e4d";
const STORAGE: &str = "storage:string fmt=pve-storage-id";
const STORAGE_AUDIT: Perm = Perm::Privs {
    path: "/storage/{storage}",
    privs: &["Datastore.Audit", "Datastore.AllocateSpace"],
    any: true,
};

pub fn routes() -> Vec<Route> {
    vec![
        route("GET", "/nodes", "index", "array", Perm::All, &[], nodes).desc("Cluster node index."),
        route("GET", "/nodes/{node}", "index", "array", Perm::All, &[NODE], |c| {
            c.check_node()?;
            Ok(index(c, "name"))
        }).desc("Node index."),
        route("GET", "/nodes/{node}/status", "status", "object", Perm::Privs { path: "/nodes/{node}", privs: &["Sys.Audit"], any: false }, &[NODE], node_status).desc("Read node status"),
        route("GET", "/nodes/{node}/time", "time", "object", Perm::Privs { path: "/nodes/{node}", privs: &["Sys.Audit"], any: false }, &[NODE], node_time).desc("Read server time and time zone settings."),
        route("GET", "/nodes/{node}/version", "version", "object", Perm::All, &[NODE], |c| {
            c.check_node()?;
            Ok(Reply::data(json!({ "version": PVE_VERSION, "release": PVE_RELEASE, "repoid": PVE_REPOID })))
        }).desc("API version details"),
        route("GET", "/nodes/{node}/network", "index", "array", Perm::All, &[
            NODE, "type?:string enum=bridge|bond|eth|alias|vlan|fabric|OVSBridge|OVSBond|OVSPort|OVSIntPort|vnet|any_bridge|any_local_bridge|include_sdn",
        ], network).desc("List available networks"),
        route("GET", "/storage", "index", "array", Perm::All, &["type?:string enum=btrfs|cephfs|cifs|dir|esxi|iscsi|iscsidirect|lvm|lvmthin|nfs|pbs|rbd|zfs|zfspool"], storage_index).desc("Storage index."),
        route("GET", "/nodes/{node}/storage", "index", "array", Perm::All, &[
            NODE, "content?:string fmt=pve-storage-content-list", "enabled?:boolean", "format?:boolean",
            "storage?:string fmt=pve-storage-id", "target?:string fmt=pve-node",
        ], node_storage).protected().desc("Get status for all datastores."),
        route("GET", "/nodes/{node}/storage/{storage}", "diridx", "array", STORAGE_AUDIT, &[NODE, STORAGE], |c| {
            check_storage(c)?;
            Ok(index(c, "subdir"))
        }),
        route("GET", "/nodes/{node}/storage/{storage}/content", "index", "array", STORAGE_AUDIT, &[
            NODE, STORAGE, "content?:string fmt=pve-storage-content", "vmid?:integer fmt=pve-vmid min=100 max=999999999",
        ], content).protected().desc("List storage content."),
        route("GET", "/nodes/{node}/storage/{storage}/status", "read_status", "object", STORAGE_AUDIT, &[NODE, STORAGE], storage_status).protected().desc("Read storage status."),
        route("GET", "/nodes/{node}/tasks", "node_tasks", "array", Perm::All, &[
            NODE, "errors?:boolean", "limit?:integer min=0", "since?:integer", "source?:string enum=archive|active|all",
            "start?:integer min=0", "statusfilter?:string fmt=pve-task-status-type-list", "typefilter?:string",
            "until?:integer", "userfilter?:string", "vmid?:integer fmt=pve-vmid min=100 max=999999999",
        ], node_tasks).desc("Read task list for one node (finished tasks)."),
        route("GET", "/nodes/{node}/tasks/{upid}", "upid_index", "array", Perm::All, &[NODE, UPID], |c| {
            find_task(c)?;
            Ok(index(c, "name"))
        }),
        route("DELETE", "/nodes/{node}/tasks/{upid}", "stop_task", "null", Perm::All, &[NODE, UPID], stop_task).protected().desc("Stop a task."),
        route("GET", "/nodes/{node}/tasks/{upid}/status", "read_task_status", "object", Perm::All, &[NODE, UPID], |c| {
            let i = find_task(c)?;
            Ok(Reply::data(c.state.task_status(&c.state.tasks[i])))
        }).protected().desc("Read task status."),
        route("GET", "/nodes/{node}/tasks/{upid}/log", "read_task_log", "array", Perm::All, &[
            NODE, UPID, "download?:boolean", "limit?:integer min=0", "start?:integer min=0",
        ], task_log).protected().desc("Read task log."),
        route("POST", "/nodes/{node}/vzdump", "vzdump", "string", Perm::All, &[
            "node?:string fmt=pve-node", // optional in the schema, though always in the path
 "all?:boolean", "bwlimit?:integer min=0", "compress?:string enum=0|1|gzip|lzo|zstd", "dumpdir?:string",
            "exclude?:string fmt=pve-vmid-list", "exclude-path?:array", "fleecing?:string fmt=backup-fleecing",
            "ionice?:integer min=0 max=8", "job-id?:string maxlen=50 pattern=\\S+", "lockwait?:integer min=0",
            "mailnotification?:string enum=always|failure", "mailto?:string fmt=email-or-username-list",
            "maxfiles?:integer min=1", "mode?:string enum=snapshot|suspend|stop", "notes-template?:string maxlen=1024",
            "notification-mode?:string enum=auto|legacy-sendmail|notification-system",
            "pbs-change-detection-mode?:string enum=legacy|data|metadata", "performance?:string fmt=backup-performance",
            "pigz?:integer", "pool?:string", "protected?:boolean", "prune-backups?:string fmt=prune-backups",
            "quiet?:boolean", "remove?:boolean", "script?:string", "stdexcludes?:boolean", "stdout?:boolean",
            "stop?:boolean", "stopwait?:integer min=0", "storage?:string fmt=pve-storage-id", "tmpdir?:string",
            "vmid?:string fmt=pve-vmid-list", "zstd?:integer",
        ], vzdump).protected().desc("Create backup."),
    ]
}

fn nodes(c: &mut Ctx) -> Result<Reply, ApiError> {
    let rows: Vec<Value> = c
        .state
        .nodes
        .iter()
        .map(|n| {
            json!({
                "node": n.name, "id": format!("node/{}", n.name), "type": "node",
                "status": if n.online { "online" } else { "offline" },
                "cpu": n.cpu, "maxcpu": n.maxcpu, "mem": c.state.node_mem(n), "maxmem": n.maxmem,
                "disk": n.disk, "maxdisk": n.maxdisk, "uptime": n.uptime, "level": "",
                "ssl_fingerprint": n.ssl_fingerprint,
            })
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

/// The simulated clock as PVE reports it; the zone is always UTC, so `localtime` equals `time`.
fn node_time(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let now = c.now();
    Ok(Reply::data(
        json!({ "time": now, "localtime": now, "timezone": "UTC" }),
    ))
}

fn node_status(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let Some(n) = c.state.node(c.node()) else {
        return Err(ApiError::fail("node vanished"));
    };
    Ok(Reply::data(json!({
        "cpu": n.cpu, "uptime": n.uptime, "loadavg": ["0.42", "0.37", "0.30"], "wait": 0.001,
        "kversion": "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 x86_64",
        "pveversion": "pve-manager/9.1.1/5b2c5e4d",
        "cpuinfo": { "cpus": n.maxcpu, "cores": n.maxcpu / 2, "sockets": 1, "model": "AMD EPYC 7302P 16-Core Processor", "mhz": "3000.000", "hvm": "1", "user_hz": 100, "flags": "" },
        "memory": { "total": n.maxmem, "used": c.state.node_mem(n), "free": n.maxmem.saturating_sub(c.state.node_mem(n)) },
        "swap": { "total": 8u64 << 30, "used": 0, "free": 8u64 << 30 },
        "rootfs": { "total": n.maxdisk, "used": n.disk, "free": n.maxdisk.saturating_sub(n.disk), "avail": n.maxdisk.saturating_sub(n.disk) },
        "ksm": { "shared": 0 },
        "boot-info": { "mode": "efi", "secureboot": 0 },
        "current-kernel": { "sysname": "Linux", "release": "6.14.8-2-pve", "machine": "x86_64", "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2" },
        "idle": 0,
    })))
}

/// The node's interfaces, sorted by name; `type` filters, `any_bridge` and `any_local_bridge`
/// meaning Linux or OVS bridges (the loopback is never listed).
fn network(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let want = c.str("type").map(str::to_string);
    let keep = |kind: &str| match want.as_deref() {
        None | Some("include_sdn") => true,
        Some("any_bridge" | "any_local_bridge") => kind == "bridge" || kind == "OVSBridge",
        Some(t) => t == kind,
    };
    let mut ifaces: Vec<&crate::sim::state::NetIface> = c
        .state
        .networks
        .iter()
        .filter(|i| i.node == node && keep(&i.kind))
        .collect();
    ifaces.sort_by(|a, b| a.iface.cmp(&b.iface));
    let rows: Vec<Value> = ifaces
        .into_iter()
        .enumerate()
        .map(|(n, i)| {
            let mut o = serde_json::Map::new();
            o.insert("iface".into(), json!(i.iface));
            o.insert("type".into(), json!(i.kind));
            o.insert("method".into(), json!(i.method));
            o.insert("method6".into(), json!("manual"));
            o.insert("families".into(), json!(["inet"]));
            o.insert("priority".into(), json!(n + 2));
            if i.active {
                o.insert("active".into(), json!(1));
            }
            if i.autostart {
                o.insert("autostart".into(), json!(1));
            }
            if i.kind == "eth" {
                o.insert("exists".into(), json!(1));
            }
            if let Some((addr, bits)) = i.cidr.as_deref().and_then(|c| c.split_once('/')) {
                o.insert("cidr".into(), json!(i.cidr));
                o.insert("address".into(), json!(addr));
                o.insert("netmask".into(), json!(bits));
            }
            if let Some(gw) = &i.gateway {
                o.insert("gateway".into(), json!(gw));
            }
            if let Some(ports) = &i.bridge_ports {
                o.insert("bridge_ports".into(), json!(ports));
                o.insert("bridge_stp".into(), json!("off"));
                o.insert("bridge_fd".into(), json!("0"));
            }
            if let Some(cm) = &i.comments {
                o.insert("comments".into(), json!(cm));
            }
            Value::Object(o)
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn storage_index(c: &mut Ctx) -> Result<Reply, ApiError> {
    let t = c.str("type").map(str::to_string);
    let rows: Vec<Value> = c
        .state
        .storages
        .iter()
        .filter(|s| t.as_deref().is_none_or(|t| t == s.stype))
        .filter(|s| c.can(&format!("/storage/{}", s.id), &["Datastore.Audit", "Datastore.AllocateSpace"]))
        .map(|s| {
            let mut v = json!({ "storage": s.id, "type": s.stype, "content": s.content.join(","), "shared": u8::from(s.shared), "digest": "0" });
            if let (Some(nodes), Some(o)) = (&s.nodes, v.as_object_mut()) {
                o.insert("nodes".into(), json!(nodes.join(",")));
            }
            v
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn storage_row(c: &Ctx, s: &crate::sim::state::Storage, node: &str) -> Value {
    let used = c.state.storage_used(s, node);
    json!({
        "storage": s.id, "type": s.stype, "content": s.content.join(","), "shared": u8::from(s.shared),
        "active": 1, "enabled": 1, "total": s.total, "used": used, "avail": s.total.saturating_sub(used),
        "used_fraction": if s.total > 0 { used as f64 / s.total as f64 } else { 0.0 },
    })
}

fn node_storage(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let content = c
        .str("content")
        .map(|s| s.split(',').map(str::to_string).collect::<Vec<_>>());
    let only = c.str("storage").map(str::to_string);
    let rows: Vec<Value> = c
        .state
        .storages
        .iter()
        .filter(|s| c.state.storage_on(&s.id, &node))
        .filter(|s| only.as_deref().is_none_or(|o| o == s.id))
        .filter(|s| {
            content
                .as_ref()
                .is_none_or(|want| want.iter().any(|w| s.content.contains(w)))
        })
        .filter(|s| {
            c.can(
                &format!("/storage/{}", s.id),
                &["Datastore.Audit", "Datastore.AllocateSpace"],
            )
        })
        .map(|s| storage_row(c, s, &node))
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn check_storage(c: &Ctx) -> Result<String, ApiError> {
    c.check_node()?;
    let id = c.req("storage")?.to_string();
    if !c.state.storage_on(&id, c.node()) {
        return Err(ApiError::fail(format!("storage '{id}' does not exist")));
    }
    Ok(id)
}

fn content(c: &mut Ctx) -> Result<Reply, ApiError> {
    let id = check_storage(c)?;
    let node = c.node().to_string();
    let kind = c.str("content").map(str::to_string);
    let vmid = c.int("vmid").and_then(|v| u32::try_from(v).ok());
    let rows: Vec<Value> = c
        .state
        .volumes
        .iter()
        .filter(|v| v.storage == id && v.node.as_deref().is_none_or(|n| n == node))
        .filter(|v| kind.as_deref().is_none_or(|k| k == v.content))
        .filter(|v| vmid.is_none_or(|id| v.vmid == Some(id)))
        .map(|v| {
            let mut row = json!({ "volid": v.volid, "content": v.content, "format": v.format, "size": v.size, "ctime": v.ctime });
            if let Some(o) = row.as_object_mut() {
                if let Some(id) = v.vmid {
                    o.insert("vmid".into(), json!(id));
                }
                if v.content == "backup" {
                    let sub = if v.volid.contains("vzdump-qemu") { "qemu" } else { "lxc" };
                    o.insert("subtype".into(), json!(sub));
                    o.insert("protected".into(), json!(u8::from(v.protected)));
                    if let Some(n) = &v.notes {
                        o.insert("notes".into(), json!(n));
                    }
                }
            }
            row
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn storage_status(c: &mut Ctx) -> Result<Reply, ApiError> {
    let id = check_storage(c)?;
    let node = c.node().to_string();
    let Some(s) = c.state.storage(&id) else {
        return Err(ApiError::fail(format!("storage '{id}' does not exist")));
    };
    Ok(Reply::data(storage_row(c, s, &node)))
}

fn node_tasks(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let start = c.int("start").unwrap_or(0).max(0) as usize;
    let limit = c.int("limit").unwrap_or(50).max(0) as usize;
    let vmid = c.str("vmid").map(str::to_string);
    let typefilter = c.str("typefilter").map(str::to_string);
    let userfilter = c.str("userfilter").map(str::to_string);
    let errors_only = c.flag("errors");
    let source = c.str("source").unwrap_or("archive").to_string();
    let mut list: Vec<&Task> = c
        .state
        .tasks
        .iter()
        .filter(|t| t.node == node)
        .filter(|t| match source.as_str() {
            "active" => t.finished.is_none(),
            "all" => true,
            _ => t.finished.is_some(),
        })
        .filter(|t| vmid.as_deref().is_none_or(|v| v == t.id))
        .filter(|t| typefilter.as_deref().is_none_or(|f| t.kind.contains(f)))
        .filter(|t| userfilter.as_deref().is_none_or(|f| t.user.contains(f)))
        .filter(|t| !errors_only || t.finished.as_ref().is_some_and(|f| f.1 != "OK"))
        .filter(|t| {
            c.user == t.user.split('!').next().unwrap_or("") || c.can("/nodes", &["Sys.Audit"])
        })
        .collect();
    list.sort_by(|a, b| b.starttime.cmp(&a.starttime).then(b.pid.cmp(&a.pid)));
    let total = list.len();
    let rows: Vec<Value> = list
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|t| c.state.task_entry(t))
        .collect();
    Ok(Reply::page(Value::Array(rows), total))
}

fn find_task(c: &Ctx) -> Result<usize, ApiError> {
    c.check_node()?;
    let upid = c.req("upid")?;
    let parts: Vec<&str> = upid.split(':').collect();
    if parts.len() != 9 || parts[0] != "UPID" {
        return Err(ApiError::fail(format!(
            "unable to parse worker upid '{upid}'"
        )));
    }
    c.state
        .tasks
        .iter()
        .position(|t| t.upid == upid)
        .ok_or_else(|| ApiError::fail(format!("no such task '{upid}'")))
}

fn stop_task(c: &mut Ctx) -> Result<Reply, ApiError> {
    let i = find_task(c)?;
    let t = &c.state.tasks[i];
    if c.user != t.user.split('!').next().unwrap_or("")
        && !c.can(&format!("/nodes/{}", t.node), &["Sys.Modify"])
    {
        return Err(ApiError::perm(None));
    }
    if t.finished.is_none() {
        let now = c.now;
        c.state.finish_task(i, Some(("interrupted by signal", now)));
    }
    Ok(Reply::null())
}

fn task_log(c: &mut Ctx) -> Result<Reply, ApiError> {
    let i = find_task(c)?;
    let start = c.int("start").unwrap_or(0).max(0) as usize;
    // `limit=0` reads to the end (PVE::Tools::dump_logfile_by_filehandle).
    let limit = match c.int("limit").unwrap_or(50).max(0) as usize {
        0 => usize::MAX,
        n => n,
    };
    let lines = c.state.task_log(&c.state.tasks[i], c.now);
    let total = lines.len();
    let rows: Vec<Value> = lines
        .into_iter()
        .enumerate()
        .skip(start)
        .take(limit)
        .map(|(n, t)| json!({ "n": n + 1, "t": t }))
        .collect();
    Ok(Reply::page(Value::Array(rows), total))
}

fn vzdump(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let mut vmids: Vec<u32> = if c.flag("all") {
        c.state
            .guests
            .values()
            .filter(|g| g.node == node)
            .map(|g| g.vmid)
            .collect()
    } else {
        c.str("vmid")
            .unwrap_or("")
            .split([',', ';', ' '])
            .filter_map(|v| v.parse().ok())
            .collect()
    };
    if let Some(pool) = c.str("pool") {
        vmids.extend(
            c.state
                .pools
                .get(pool)
                .map(|p| p.vms.clone())
                .unwrap_or_default(),
        );
    }
    let excluded: Vec<u32> = c
        .str("exclude")
        .unwrap_or("")
        .split([',', ';', ' '])
        .filter_map(|v| v.parse().ok())
        .collect();
    vmids.retain(|v| !excluded.contains(v));
    if vmids.is_empty() {
        return Err(ApiError::param(
            "vmid",
            "property is missing and it is not optional",
        ));
    }
    for id in &vmids {
        c.check(&format!("/vms/{id}"), &["VM.Backup"], false)?;
    }
    let storage = c.str("storage").unwrap_or("local").to_string();
    if !c
        .state
        .storage(&storage)
        .is_some_and(|s| s.content.iter().any(|x| x == "backup"))
    {
        return Err(ApiError::fail(format!(
            "storage '{storage}' does not support backups"
        )));
    }
    c.check(
        &format!("/storage/{storage}"),
        &["Datastore.AllocateSpace"],
        false,
    )?;
    let mode = c.str("mode").unwrap_or("snapshot").to_string();
    let compress = c.str("compress").unwrap_or("zstd").to_string();
    let mut lines = vec![format!(
        "INFO: starting new backup job: vzdump {} --storage {storage} --mode {mode} --compress {compress}",
        vmids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    )];
    let mut outcome = Ok(());
    for id in &vmids {
        match c.state.guests.get(id) {
            None => {
                outcome = Err(format!("guest {id}: backup failed - no such guest"));
            }
            Some(g) if g.node != node => {
                lines.push(format!("INFO: skip external VMs: {id}"));
            }
            Some(g) => {
                let kind = if g.kind == GuestKind::Qemu {
                    "qemu"
                } else {
                    "lxc"
                };
                lines.push(format!("INFO: Starting Backup of VM {id} ({kind})"));
                lines.push(format!("INFO: VM Name: {}", g.name()));
                if let Some(l) = g.lock() {
                    lines.push(format!(
                        "ERROR: Backup of VM {id} failed - {} is locked ({l})",
                        g.kind.short()
                    ));
                    outcome = Err("job errors".to_string());
                    continue;
                }
                lines.extend(
                    crate::sim::tasks::progress_lines(g.maxdisk().max(1 << 30), 4)
                        .into_iter()
                        .map(|l| format!("INFO: {l}")),
                );
                lines.push(format!("INFO: Finished Backup of VM {id}"));
            }
        }
    }
    lines.push("INFO: Backup job finished".to_string());
    let ids: Vec<u32> = vmids
        .iter()
        .copied()
        .filter(|id| {
            c.state
                .guests
                .get(id)
                .is_some_and(|g| g.node == node && g.lock().is_none())
        })
        .collect();
    let effect = Effect::Backup {
        vmids: ids,
        storage,
        node,
        notes: c.str("notes-template").map(str::to_string),
        protected: c.flag("protected"),
        compress,
    };
    let id = if vmids.len() == 1 {
        vmids[0].to_string()
    } else {
        String::new()
    };
    let lock = if vmids.len() == 1 {
        Some((vmids[0], "backup"))
    } else {
        None
    };
    Ok(c.spawn("vzdump", id, lines, outcome, effect, lock))
}
