//! QEMU snapshot routes: list (with the `current` pseudo entry), create, delete, rollback and the
//! snapshot config (FACTS §8). The work happens in tasks that hold the guest's lock.

use serde_json::{Value, json};

use super::guest::{self, find};
use super::{ApiError, Ctx, NODE, Perm, Reply, Route, SNAPNAME, VMID, index, route};
use crate::sim::state::GuestKind;
use crate::sim::tasks::Effect;

const SNAP: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Snapshot"],
    any: false,
};

pub fn routes() -> Vec<Route> {
    vec![
        route(
            "GET",
            "/nodes/{node}/qemu/{vmid}/snapshot",
            "snapshot_list",
            "array",
            super::qemu::AUDIT,
            &[NODE, VMID],
            list,
        )
        .protected()
        .desc("List all snapshots."),
        route(
            "POST",
            "/nodes/{node}/qemu/{vmid}/snapshot",
            "snapshot",
            "string",
            SNAP,
            &[
                NODE,
                VMID,
                SNAPNAME,
                "description?:string",
                "vmstate?:boolean",
            ],
            create,
        )
        .protected()
        .desc("Snapshot a VM."),
        route(
            "GET",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
            "snapshot_cmd_idx",
            "array",
            Perm::All,
            &[NODE, VMID, SNAPNAME],
            |c| {
                snapshot_exists(c)?;
                Ok(index(c, "cmd"))
            },
        ),
        route(
            "DELETE",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
            "delsnapshot",
            "string",
            SNAP,
            &[NODE, VMID, SNAPNAME, "force?:boolean"],
            delete,
        )
        .protected()
        .desc("Delete a VM snapshot."),
        route(
            "POST",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback",
            "rollback",
            "string",
            Perm::Privs {
                path: "/vms/{vmid}",
                privs: &["VM.Snapshot", "VM.Snapshot.Rollback"],
                any: true,
            },
            &[NODE, VMID, SNAPNAME, "start?:boolean"],
            rollback,
        )
        .protected()
        .desc("Rollback VM state to specified snapshot."),
        route(
            "GET",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
            "get_snapshot_config",
            "object",
            Perm::Privs {
                path: "/vms/{vmid}",
                privs: &["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"],
                any: true,
            },
            &[NODE, VMID, SNAPNAME],
            get_config,
        )
        .desc("Get snapshot configuration"),
        route(
            "PUT",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
            "update_snapshot_config",
            "null",
            SNAP,
            &[NODE, VMID, SNAPNAME, "description?:string"],
            put_config,
        )
        .protected()
        .desc("Update snapshot metadata."),
    ]
}

fn snapshot_exists(c: &Ctx) -> Result<(), ApiError> {
    let g = find(c, GuestKind::Qemu)?;
    let name = c.str("snapname").unwrap_or("");
    if g.snapshots.iter().any(|s| s.name == name) {
        Ok(())
    } else {
        Err(ApiError::fail(format!("snapshot '{name}' does not exist")))
    }
}

fn list(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
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

fn create(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
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
    lines.push(format!(
        "snapshotting 'drive-scsi0' (local-lvm:vm-{vmid}-disk-0)"
    ));
    let effect = Effect::Snapshot {
        vmid,
        name,
        description: c.str("description").unwrap_or("").to_string(),
        vmstate,
    };
    let lock = outcome.is_ok().then_some((vmid, "snapshot"));
    Ok(c.spawn("qmsnapshot", vmid.to_string(), lines, outcome, effect, lock))
}

fn delete(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
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
        "qmdelsnapshot",
        vmid.to_string(),
        Vec::new(),
        outcome,
        effect,
        Some((vmid, "snapshot-delete")),
    ))
}

fn rollback(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
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
        "qmrollback",
        vmid.to_string(),
        lines,
        outcome,
        effect,
        Some((vmid, "rollback")),
    ))
}

fn get_config(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
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

fn put_config(c: &mut Ctx) -> Result<Reply, ApiError> {
    snapshot_exists(c)?;
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
