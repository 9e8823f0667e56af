//! Snapshot routes for VMs and containers: list (with the `current` pseudo entry), create,
//! delete, rollback and the snapshot config (FACTS §8). The work happens in tasks that hold the
//! guest's lock.

use serde_json::{Value, json};

use super::guest::{self, find};
use super::{ApiError, Ctx, Handler, NODE, Perm, Reply, Route, SNAPNAME, VMID, index, route};
use crate::sim::state::GuestKind;
use crate::sim::tasks::Effect;

const SNAP: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Snapshot"],
    any: false,
};
const ROLLBACK: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Snapshot", "VM.Snapshot.Rollback"],
    any: true,
};
const READ: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"],
    any: true,
};

/// A handler for one guest kind (handlers are plain fn pointers, so one closure per kind).
macro_rules! per_kind {
    ($kind:expr, $f:ident) => {
        match $kind {
            GuestKind::Qemu => (|c: &mut Ctx| $f(c, GuestKind::Qemu)) as Handler,
            GuestKind::Lxc => (|c: &mut Ctx| $f(c, GuestKind::Lxc)) as Handler,
        }
    };
}

/// PVE's task types: `qmsnapshot`, `vzsnapshot`, ...
fn task_type(kind: GuestKind, what: &str) -> &'static str {
    match (kind, what) {
        (GuestKind::Qemu, "snapshot") => "qmsnapshot",
        (GuestKind::Qemu, "delsnapshot") => "qmdelsnapshot",
        (GuestKind::Qemu, _) => "qmrollback",
        (GuestKind::Lxc, "snapshot") => "vzsnapshot",
        (GuestKind::Lxc, "delsnapshot") => "vzdelsnapshot",
        (GuestKind::Lxc, _) => "vzrollback",
    }
}

pub fn routes() -> Vec<Route> {
    let mut v = kind_routes(GuestKind::Qemu);
    v.extend(kind_routes(GuestKind::Lxc));
    v
}

fn kind_routes(kind: GuestKind) -> Vec<Route> {
    let qemu = kind == GuestKind::Qemu;
    let p = |q: &'static str, l: &'static str| if qemu { q } else { l };
    let create_params: &'static [&'static str] = if qemu {
        &[
            NODE,
            VMID,
            SNAPNAME,
            "description?:string",
            "vmstate?:boolean",
        ]
    } else {
        &[NODE, VMID, SNAPNAME, "description?:string"]
    };
    let cmd_idx: Handler = match kind {
        GuestKind::Qemu => |c| {
            snapshot_exists(c, GuestKind::Qemu)?;
            Ok(index(c, "cmd"))
        },
        GuestKind::Lxc => |c| {
            snapshot_exists(c, GuestKind::Lxc)?;
            Ok(index(c, "cmd"))
        },
    };
    vec![
        route(
            "GET",
            p(
                "/nodes/{node}/qemu/{vmid}/snapshot",
                "/nodes/{node}/lxc/{vmid}/snapshot",
            ),
            p("snapshot_list", "list"),
            "array",
            super::qemu::AUDIT,
            &[NODE, VMID],
            per_kind!(kind, list),
        )
        .protected()
        .desc("List all snapshots."),
        route(
            "POST",
            p(
                "/nodes/{node}/qemu/{vmid}/snapshot",
                "/nodes/{node}/lxc/{vmid}/snapshot",
            ),
            "snapshot",
            "string",
            SNAP,
            create_params,
            per_kind!(kind, create),
        )
        .protected()
        .desc(p("Snapshot a VM.", "Snapshot a container.")),
        route(
            "GET",
            p(
                "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
                "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
            ),
            "snapshot_cmd_idx",
            "array",
            Perm::All,
            &[NODE, VMID, SNAPNAME],
            cmd_idx,
        ),
        route(
            "DELETE",
            p(
                "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
                "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
            ),
            "delsnapshot",
            "string",
            SNAP,
            &[NODE, VMID, SNAPNAME, "force?:boolean"],
            per_kind!(kind, delete),
        )
        .protected()
        .desc(p("Delete a VM snapshot.", "Delete a LXC snapshot.")),
        route(
            "POST",
            p(
                "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback",
                "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback",
            ),
            "rollback",
            "string",
            ROLLBACK,
            &[NODE, VMID, SNAPNAME, "start?:boolean"],
            per_kind!(kind, rollback),
        )
        .protected()
        .desc(p(
            "Rollback VM state to specified snapshot.",
            "Rollback LXC state to specified snapshot.",
        )),
        route(
            "GET",
            p(
                "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
                "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
            ),
            "get_snapshot_config",
            "object",
            READ,
            &[NODE, VMID, SNAPNAME],
            per_kind!(kind, get_config),
        )
        .desc("Get snapshot configuration"),
        route(
            "PUT",
            p(
                "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
                "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
            ),
            "update_snapshot_config",
            "null",
            SNAP,
            &[NODE, VMID, SNAPNAME, "description?:string"],
            per_kind!(kind, put_config),
        )
        .protected()
        .desc("Update snapshot metadata."),
    ]
}

fn snapshot_exists(c: &Ctx, kind: GuestKind) -> Result<(), ApiError> {
    let g = find(c, kind)?;
    let name = c.str("snapname").unwrap_or("");
    if g.snapshots.iter().any(|s| s.name == name) {
        Ok(())
    } else {
        Err(ApiError::fail(format!("snapshot '{name}' does not exist")))
    }
}

fn list(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let mut rows: Vec<Value> = g
        .snapshots
        .iter()
        .map(|s| {
            let mut v =
                json!({ "name": s.name, "snaptime": s.snaptime, "description": s.description });
            if let Some(o) = v.as_object_mut() {
                if s.vmstate {
                    o.insert("vmstate".into(), json!(1));
                }
                if let Some(p) = &s.parent {
                    o.insert("parent".into(), json!(p));
                }
            }
            v
        })
        .collect();
    let mut current = json!({ "name": "current", "description": "You are here!", "running": u8::from(g.is_running()), "digest": g.digest() });
    if let (Some(p), Some(o)) = (&g.parent, current.as_object_mut()) {
        o.insert("parent".into(), json!(p));
    }
    rows.push(current);
    Ok(Reply::data(Value::Array(rows)))
}

fn create(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let vmid = g.vmid;
    let name = c.req("snapname")?.to_string();
    if name == "current" {
        return Err(ApiError::param(
            "snapname",
            "invalid snapshot name 'current'",
        ));
    }
    let mut outcome = match guest::lock_error(c, g) {
        Some(e) => Err(e),
        None => Ok(()),
    };
    if outcome.is_ok() && g.snapshots.iter().any(|s| s.name == name) {
        outcome = Err(format!("snapshot name '{name}' already used"));
    }
    let vmstate = c.flag("vmstate");
    let mut lines = Vec::new();
    if vmstate && g.is_running() {
        lines.push("saving VM state and RAM using storage 'local-lvm'".to_string());
        lines.extend(
            crate::sim::tasks::progress_lines(g.maxmem(), 2)
                .into_iter()
                .map(|l| l.replace("transferred", "saving")),
        );
    }
    for (key, value) in g.config.iter().filter(|(k, v)| {
        (crate::sim::state::is_disk_key(k) || k.as_str() == "rootfs") && !v.contains("media=cdrom")
    }) {
        let volid = value.split(',').next().unwrap_or("");
        lines.push(match kind {
            GuestKind::Qemu => format!("snapshotting 'drive-{key}' ({volid})"),
            GuestKind::Lxc => format!("create snapshot of {key} ({volid})"),
        });
    }
    let effect = Effect::Snapshot {
        vmid,
        name,
        description: c.str("description").unwrap_or("").to_string(),
        vmstate,
    };
    let lock = outcome.is_ok().then_some((vmid, "snapshot"));
    Ok(c.spawn(
        task_type(kind, "snapshot"),
        vmid.to_string(),
        lines,
        outcome,
        effect,
        lock,
    ))
}

fn delete(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let vmid = g.vmid;
    let name = c.req("snapname")?.to_string();
    let mut outcome = match guest::lock_error(c, g) {
        Some(e) if !c.flag("force") => Err(e),
        _ => Ok(()),
    };
    if outcome.is_ok() && !g.snapshots.iter().any(|s| s.name == name) {
        outcome = Err(format!("snapshot '{name}' does not exist"));
    }
    let effect = Effect::DeleteSnapshot { vmid, name };
    Ok(c.spawn(
        task_type(kind, "delsnapshot"),
        vmid.to_string(),
        Vec::new(),
        outcome,
        effect,
        Some((vmid, "snapshot-delete")),
    ))
}

fn rollback(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let vmid = g.vmid;
    let name = c.req("snapname")?.to_string();
    let mut outcome = match guest::lock_error(c, g) {
        Some(e) => Err(e),
        None => Ok(()),
    };
    if outcome.is_ok() && !g.snapshots.iter().any(|s| s.name == name) {
        outcome = Err(format!("snapshot '{name}' does not exist"));
    }
    let lines = vec![format!(
        "Logical volume \"vm-{vmid}-disk-0\" successfully rolled back."
    )];
    let effect = Effect::Rollback {
        vmid,
        name,
        start: c.flag("start"),
    };
    Ok(c.spawn(
        task_type(kind, "rollback"),
        vmid.to_string(),
        lines,
        outcome,
        effect,
        Some((vmid, "rollback")),
    ))
}

fn get_config(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let name = c.req("snapname")?;
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
    m.insert("snaptime".into(), json!(s.snaptime));
    m.insert("description".into(), json!(s.description));
    if let Some(p) = &s.parent {
        m.insert("parent".into(), json!(p));
    }
    if s.vmstate {
        m.insert(
            "vmstate".into(),
            json!(format!("local-lvm:vm-{}-state-{}", g.vmid, s.name)),
        );
    }
    Ok(Reply::data(Value::Object(m)))
}

fn put_config(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    snapshot_exists(c, kind)?;
    let vmid = c.vmid();
    let name = c.req("snapname")?.to_string();
    if let Some(d) = c.str("description").map(str::to_string)
        && let Some(s) = c
            .state
            .guests
            .get_mut(&vmid)
            .and_then(|g| g.snapshots.iter_mut().find(|s| s.name == name))
    {
        s.description = d;
    }
    Ok(Reply::null())
}
