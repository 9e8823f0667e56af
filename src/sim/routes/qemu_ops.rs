//! QEMU lifecycle operations beyond power: clone, template conversion, disk resize and
//! migration (precondition and action), FACTS §8.

use serde_json::{Value, json};

use super::guest::{self, find};
use super::{ApiError, Ctx, NODE, Perm, Reply, Route, VMID, route};
use crate::sim::state::{GuestKind, disk_size, disk_storage, format_size, is_disk_key, parse_size};
use crate::sim::tasks::{CloneOpts, Effect, progress_lines};

pub fn routes() -> Vec<Route> {
    let migrate = Perm::Privs {
        path: "/vms/{vmid}",
        privs: &["VM.Migrate"],
        any: false,
    };
    vec![
        route("POST", "/nodes/{node}/qemu/{vmid}/clone", "clone_vm", "string",
            Perm::Custom(r#"["and",["perm","/vms/{vmid}",["VM.Clone"]],["or",["perm","/vms/{newid}",["VM.Allocate"]],["perm","/pool/{pool}",["VM.Allocate"],"require_param","pool"]]]"#),
            &[
                NODE, VMID, "newid:integer fmt=pve-vmid min=100 max=999999999", "bwlimit?:integer min=0",
                "description?:string", "format?:string enum=raw|qcow2|vmdk", "full?:boolean", "name?:string fmt=dns-name",
                "pool?:string fmt=pve-poolid", "snapname?:string fmt=pve-configid maxlen=40", "storage?:string fmt=pve-storage-id",
                "target?:string fmt=pve-node",
            ], clone).protected().desc("Create a copy of virtual machine/template."),
        route("POST", "/nodes/{node}/qemu/{vmid}/template", "template", "string", Perm::Privs { path: "/vms/{vmid}", privs: &["VM.Allocate"], any: false },
            &[NODE, VMID, TEMPLATE_DISK], template).protected().desc("Create a Template."),
        route("PUT", "/nodes/{node}/qemu/{vmid}/resize", "resize_vm", "string", Perm::Privs { path: "/vms/{vmid}", privs: &["VM.Config.Disk"], any: false },
            &[NODE, VMID, RESIZE_DISK, "size:string pattern=\\+?\\d+(\\.\\d+)?[KMGT]?", "digest?:string maxlen=40", "skiplock?:boolean"], resize).protected().desc("Extend volume size."),
        route("GET", "/nodes/{node}/qemu/{vmid}/migrate", "migrate_vm_precondition", "object", migrate, &[NODE, VMID, "target?:string fmt=pve-node"], precondition).protected().desc("Get preconditions for migration."),
        route("POST", "/nodes/{node}/qemu/{vmid}/migrate", "migrate_vm", "string", migrate, &[
            NODE, VMID, "target:string fmt=pve-node", "bwlimit?:integer min=0", "force?:boolean", "migration_network?:string fmt=CIDR",
            "migration_type?:string enum=secure|insecure", "online?:boolean", "targetstorage?:string fmt=storage-pair-list",
            "with-conntrack-state?:boolean", "with-local-disks?:boolean",
        ], migrate_vm).protected().desc("Migrate virtual machine. Creates a new migration task."),
        route("POST", "/nodes/{node}/qemu/{vmid}/move_disk", "move_vm_disk", "string",
            Perm::Custom("You need 'VM.Config.Disk' permissions on /vms/{vmid}, and 'Datastore.AllocateSpace' permissions on the storage."),
            &[NODE, VMID, MOVE_DISK, "bwlimit?:integer min=0", "delete?:boolean", "digest?:string maxlen=40",
              "format?:string enum=raw|qcow2|vmdk", "storage?:string fmt=pve-storage-id", "target-digest?:string maxlen=40",
              "target-disk?:string", "target-vmid?:integer fmt=pve-vmid min=100 max=999999999"],
            move_disk).protected().desc("Move volume to different storage or to a different VM."),
        route("PUT", "/nodes/{node}/qemu/{vmid}/unlink", "unlink", "null", Perm::Privs { path: "/vms/{vmid}", privs: &["VM.Config.Disk"], any: false },
            &[NODE, VMID, "idlist:string fmt=pve-configid-list", "force?:boolean"], unlink).protected().desc("Unlink/delete disk images."),
    ]
}

/// The disks `template` may convert (schema enum).
const TEMPLATE_DISK: &str = "disk?:string enum=ide0|ide1|ide2|ide3|scsi0|scsi1|scsi2|scsi3|scsi4|scsi5|scsi6|scsi7|scsi8|scsi9|scsi10|scsi11|scsi12|scsi13|scsi14|scsi15|scsi16|scsi17|scsi18|scsi19|scsi20|scsi21|scsi22|scsi23|scsi24|scsi25|scsi26|scsi27|scsi28|scsi29|scsi30|virtio0|virtio1|virtio2|virtio3|virtio4|virtio5|virtio6|virtio7|virtio8|virtio9|virtio10|virtio11|virtio12|virtio13|virtio14|virtio15|sata0|sata1|sata2|sata3|sata4|sata5|efidisk0|tpmstate0";

/// The disks `resize` accepts (schema enum).
const RESIZE_DISK: &str = "disk:string enum=ide0|ide1|ide2|ide3|scsi0|scsi1|scsi2|scsi3|scsi4|scsi5|scsi6|scsi7|scsi8|scsi9|scsi10|scsi11|scsi12|scsi13|scsi14|scsi15|scsi16|scsi17|scsi18|scsi19|scsi20|scsi21|scsi22|scsi23|scsi24|scsi25|scsi26|scsi27|scsi28|scsi29|scsi30|virtio0|virtio1|virtio2|virtio3|virtio4|virtio5|virtio6|virtio7|virtio8|virtio9|virtio10|virtio11|virtio12|virtio13|virtio14|virtio15|sata0|sata1|sata2|sata3|sata4|sata5|efidisk0|tpmstate0";

/// The disks `move_disk` accepts: the drives of `resize` and the unused ones.
const MOVE_DISK: &str = "disk:string pattern=(ide[0-3]|scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|sata[0-5]|efidisk0|tpmstate0|unused([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))";

/// Storages holding the guest's disks that are not shared.
fn local_storages(c: &Ctx, vmid: u32) -> Vec<String> {
    let Some(g) = c.state.guests.get(&vmid) else {
        return Vec::new();
    };
    let mut out: Vec<String> = g
        .config
        .iter()
        .filter(|(k, v)| is_disk_key(k) && (v.contains("cloudinit") || !v.contains("media=cdrom")))
        .filter_map(|(_, v)| disk_storage(v).map(str::to_string))
        .filter(|s| c.state.storage(s).is_some_and(|st| !st.shared))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn clone(c: &mut Ctx) -> Result<Reply, ApiError> {
    clone_guest(c, GuestKind::Qemu)
}

/// `POST .../qemu|lxc/{vmid}/clone`: the same checks for both; a container's name is its
/// `hostname` and its task `vzclone`.
pub(super) fn clone_guest(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let src = find(c, kind)?;
    let vmid = src.vmid;
    let is_template = src.is_template();
    let newid = u32::try_from(c.int("newid").unwrap_or(0)).unwrap_or(0);
    let pool = c.str("pool").map(str::to_string);
    c.check(&format!("/vms/{vmid}"), &["VM.Clone"], false)?;
    if !c.can(&format!("/vms/{newid}"), &["VM.Allocate"])
        && !pool
            .as_ref()
            .is_some_and(|p| c.can(&format!("/pool/{p}"), &["VM.Allocate"]))
    {
        return Err(ApiError::perm(Some(format!("/vms/{newid}, VM.Allocate"))));
    }
    let full = if is_template { c.flag("full") } else { true };
    if !full {
        for p in ["storage", "format"] {
            if c.str(p).is_some() {
                return Err(ApiError::param(
                    p,
                    format!("parameter '{p}' not allowed for linked clones"),
                ));
            }
        }
    }
    if c.state.guests.contains_key(&newid) {
        return Err(ApiError::fail(format!(
            "unable to create VM {newid}: config file already exists"
        )));
    }
    if let Some(p) = &pool
        && !c.state.pools.contains_key(p)
    {
        return Err(ApiError::fail(format!("pool '{p}' does not exist")));
    }
    let node = c.node().to_string();
    let target = c.str("target").unwrap_or(&node).to_string();
    if c.state.node(&target).is_none() {
        return Err(ApiError::fail(format!("no such cluster node '{target}'")));
    }
    if target != node
        && !local_storages(c, vmid).is_empty()
        && c.str("storage")
            .is_none_or(|s| c.state.storage(s).is_some_and(|st| !st.shared))
    {
        return Err(ApiError::fail(format!(
            "can't clone VM to node '{target}' (VM uses local storage)"
        )));
    }
    if let Some(s) = c.str("storage")
        && !c.state.storage_on(s, &target)
    {
        return Err(ApiError::fail(format!(
            "storage '{s}' is not available on node '{target}'"
        )));
    }
    let snapshot = c.str("snapname").map(str::to_string);
    if let Some(s) = &snapshot
        && !src.snapshots.iter().any(|x| &x.name == s)
    {
        return Err(ApiError::fail(format!("snapshot '{s}' does not exist")));
    }
    let outcome = match guest::lock_error(c, src) {
        Some(e) => return Err(ApiError::fail(e)),
        None => Ok(()),
    };
    let total = src.maxdisk().max(1 << 30);
    let opts = CloneOpts {
        name: c
            .str(if kind == GuestKind::Lxc {
                "hostname"
            } else {
                "name"
            })
            .map(str::to_string),
        description: c.str("description").map(str::to_string),
        target,
        storage: c.str("storage").map(str::to_string),
        full,
        pool,
        snapshot,
    };
    let now = c.now();
    c.state.create_clone(vmid, newid, opts, now);
    let mut lines = vec![format!(
        "create {} clone of drive scsi0",
        if full { "full" } else { "linked" }
    )];
    if full {
        lines.extend(progress_lines(total, 4));
    }
    let lock = if is_template {
        None
    } else {
        Some((vmid, "clone"))
    };
    Ok(c.spawn(
        if kind == GuestKind::Lxc {
            "vzclone"
        } else {
            "qmclone"
        },
        vmid.to_string(),
        lines,
        outcome,
        Effect::Clone { newid },
        lock,
    ))
}

fn template(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
    let vmid = g.vmid;
    if let Some(e) = guest::lock_error(c, g) {
        return Err(ApiError::fail(e));
    }
    if g.is_template() {
        return Err(ApiError::fail("you can't convert a template to a template"));
    }
    if g.is_running() {
        return Err(ApiError::fail(
            "you can't convert a VM to template if VM is running",
        ));
    }
    Ok(c.spawn(
        "qmtemplate",
        vmid.to_string(),
        Vec::new(),
        Ok(()),
        Effect::Template { vmid },
        None,
    ))
}

fn resize(c: &mut Ctx) -> Result<Reply, ApiError> {
    resize_guest(c, GuestKind::Qemu)
}

/// `PUT .../qemu|lxc/{vmid}/resize` (a container's task is `resize`).
pub(super) fn resize_guest(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let vmid = g.vmid;
    if let Some(want) = c.str("digest")
        && want != g.digest()
    {
        return Err(ApiError::fail(
            "detected modified configuration - file changed by other user? Try again.",
        ));
    }
    if let Some(e) = guest::lock_error(c, g) {
        return Err(ApiError::fail(e));
    }
    let disk = c.req("disk")?.to_string();
    let value = g
        .cfg(&disk)
        .ok_or_else(|| ApiError::fail(format!("disk '{disk}' does not exist")))?;
    if value.contains("media=cdrom") {
        return Err(ApiError::fail("you can't resize a cdrom"));
    }
    let current = disk_size(value).unwrap_or(0);
    let size = c.req("size")?;
    let (relative, amount) = match size.strip_prefix('+') {
        Some(s) => (true, s),
        None => (false, size),
    };
    let bytes = parse_size(amount)
        .ok_or_else(|| ApiError::param("size", "value does not match the regex pattern"))?;
    let new = if relative { current + bytes } else { bytes };
    if new < current {
        return Err(ApiError::fail("shrinking disks is not supported"));
    }
    let line = format!(
        "Size of logical volume changed from {} to {}.",
        format_size(current),
        format_size(new)
    );
    Ok(c.spawn(
        if kind == GuestKind::Lxc {
            "resize"
        } else {
            "qmresize"
        },
        vmid.to_string(),
        vec![line],
        Ok(()),
        Effect::Resize {
            vmid,
            disk,
            bytes: new,
        },
        None,
    ))
}

fn precondition(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
    let running = g.is_running();
    let node = c.node().to_string();
    let used: Vec<String> = g
        .config
        .iter()
        .filter(|(k, _)| is_disk_key(k))
        .filter_map(|(_, v)| disk_storage(v).map(str::to_string))
        .collect();
    let mut allowed = Vec::new();
    let mut not_allowed = serde_json::Map::new();
    for n in c.state.nodes.iter().filter(|n| n.name != node) {
        let missing: Vec<&String> = used
            .iter()
            .filter(|s| !c.state.storage_on(s, &n.name))
            .collect();
        if !n.online {
            not_allowed.insert(n.name.clone(), json!({ "unavailable_storages": [] }));
        } else if missing.is_empty() {
            allowed.push(n.name.clone());
        } else {
            not_allowed.insert(n.name.clone(), json!({ "unavailable_storages": missing }));
        }
    }
    let local: Vec<Value> = g
        .config
        .iter()
        .filter(|(k, v)| is_disk_key(k) && !v.contains("media=cdrom"))
        .filter(|(_, v)| disk_storage(v).is_some_and(|s| c.state.storage(s).is_some_and(|st| !st.shared)))
        .map(|(k, v)| {
            let volid = v.split(',').next().unwrap_or("");
            json!({ "volid": volid, "drivename": k, "size": disk_size(v).unwrap_or(0), "is_attached": 1, "is_vmstate": 0, "is_unused": 0, "replicate": 1, "cdrom": false, "is_tpmstate": 0 })
        })
        .collect();
    Ok(Reply::data(json!({
        "running": u8::from(running), "allowed_nodes": allowed, "not_allowed_nodes": not_allowed,
        "local_disks": local, "local_resources": [], "mapped-resources": [], "mapped-resource-info": {},
        "has-dbus-vmstate": false,
    })))
}

fn migrate_vm(c: &mut Ctx) -> Result<Reply, ApiError> {
    migrate_guest(c, GuestKind::Qemu)
}

/// `POST .../qemu|lxc/{vmid}/migrate`: a running container moves only with `restart`
/// (pve-container has no live migration).
pub(super) fn migrate_guest(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let vmid = g.vmid;
    let node = c.node().to_string();
    let target = c.req("target")?.to_string();
    if target == node {
        return Err(ApiError::fail("target is local node."));
    }
    match c.state.node(&target) {
        None => return Err(ApiError::fail(format!("no such cluster node '{target}'"))),
        Some(n) if !n.online => {
            return Err(ApiError::fail(format!(
                "target node '{target}' is not online"
            )));
        }
        _ => {}
    }
    match kind {
        GuestKind::Qemu if g.is_running() && !c.flag("online") => {
            return Err(ApiError::fail("can't migrate running VM without --online"));
        }
        GuestKind::Lxc if g.is_running() && c.flag("online") => {
            return Err(ApiError::fail(
                "lxc live migration is currently not implemented",
            ));
        }
        GuestKind::Lxc if g.is_running() && !c.flag("restart") => {
            return Err(ApiError::fail(
                "can't migrate running container without --online or --restart",
            ));
        }
        _ => {}
    }
    if let Some(e) = guest::lock_error(c, g) {
        return Err(ApiError::fail(e));
    }
    let missing: Vec<String> = g
        .config
        .iter()
        .filter(|(k, _)| is_disk_key(k))
        .filter_map(|(_, v)| disk_storage(v).map(str::to_string))
        .filter(|s| !c.state.storage_on(s, &target))
        .collect();
    if let Some(s) = missing.first() {
        return Err(ApiError::fail(format!(
            "storage '{s}' is not available on node '{target}'"
        )));
    }
    let mut lines = vec![format!(
        "starting migration of {} {vmid} to node '{target}'",
        g.kind.short()
    )];
    if !local_storages(c, vmid).is_empty() {
        lines.extend(
            progress_lines(g.maxdisk().max(1 << 30), 4)
                .into_iter()
                .map(|l| format!("drive-scsi0: {l}")),
        );
    }
    lines.push("migration finished successfully".to_string());
    Ok(c.spawn(
        if kind == GuestKind::Lxc {
            "vzmigrate"
        } else {
            "qmigrate"
        },
        vmid.to_string(),
        lines,
        Ok(()),
        Effect::Migrate { vmid, target },
        Some((vmid, "migrate")),
    ))
}

fn move_disk(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
    let vmid = g.vmid;
    c.check(&format!("/vms/{vmid}"), &["VM.Config.Disk"], false)?;
    if let Some(want) = c.str("digest")
        && want != g.digest()
    {
        return Err(ApiError::fail(
            "detected modified configuration - file changed by other user? Try again.",
        ));
    }
    if c.str("target-vmid").is_some() {
        return Err(ApiError::fail(
            "moving a disk to another VM is not supported by the simulator",
        ));
    }
    if let Some(e) = guest::lock_error(c, g) {
        return Err(ApiError::fail(e));
    }
    let disk = c.req("disk")?.to_string();
    let value = g
        .cfg(&disk)
        .ok_or_else(|| ApiError::fail(format!("disk '{disk}' does not exist")))?
        .to_string();
    if value.contains("media=cdrom") {
        return Err(ApiError::fail("you can't move a cdrom drive"));
    }
    let storage = c
        .str("storage")
        .ok_or_else(|| ApiError::param("storage", "property is missing and it is not optional"))?
        .to_string();
    let node = c.node().to_string();
    c.check(
        &format!("/storage/{storage}"),
        &["Datastore.AllocateSpace"],
        false,
    )?;
    if !c.state.storage_on(&storage, &node) {
        return Err(ApiError::fail(format!(
            "storage '{storage}' is not available on node '{node}'"
        )));
    }
    if !c
        .state
        .storage(&storage)
        .is_some_and(|s| s.content.iter().any(|x| x == "images"))
    {
        return Err(ApiError::fail(format!(
            "storage '{storage}' does not support vm images"
        )));
    }
    if disk_storage(&value) == Some(storage.as_str()) {
        return Err(ApiError::fail(
            "you can't move to the same storage with same format",
        ));
    }
    let size = disk_size(&value).unwrap_or(1 << 30);
    let mut lines = vec![format!("moving disk '{disk}' to storage '{storage}'")];
    lines.extend(
        progress_lines(size, 4)
            .into_iter()
            .map(|l| format!("drive-{disk}: {l}")),
    );
    let delete = c.flag("delete");
    Ok(c.spawn(
        "qmmove",
        vmid.to_string(),
        lines,
        Ok(()),
        Effect::MoveDisk {
            vmid,
            disk,
            storage,
            delete,
        },
        None,
    ))
}

fn unlink(c: &mut Ctx) -> Result<Reply, ApiError> {
    let g = find(c, GuestKind::Qemu)?;
    let vmid = g.vmid;
    if let Some(e) = guest::lock_error(c, g) {
        return Err(ApiError::fail(e));
    }
    let disks: Vec<String> = c
        .req("idlist")?
        .split([',', ';', ' '])
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect();
    for d in &disks {
        if !is_disk_key(d) {
            return Err(ApiError::param("idlist", format!("invalid disk '{d}'")));
        }
    }
    let force = c.flag("force");
    c.state.unlink_disks(vmid, &disks, force);
    Ok(Reply::null())
}

/// `POST /nodes/{node}/qemu` with `archive`, or `/lxc` with `restore` and the archive as
/// `ostemplate`: a restore, as qemu-server's and pve-container's `create_vm` do it (the checks
/// and their wording follow them).
pub(super) fn restore(c: &mut Ctx, archive: &str, kind: GuestKind) -> Result<Reply, ApiError> {
    c.check_node()?;
    let vmid = c.vmid();
    let node = c.node().to_string();
    let force = c.flag("force");
    let existing = c.state.guests.get(&vmid);
    let allowed = c.can(&format!("/vms/{vmid}"), &["VM.Allocate"])
        || (force && existing.is_some() && c.can(&format!("/vms/{vmid}"), &["VM.Backup"]));
    if !allowed {
        return Err(ApiError::perm(Some(format!("/vms/{vmid}, VM.Allocate"))));
    }
    let Some(vol) = c
        .state
        .volumes
        .iter()
        .find(|v| v.volid == archive && v.content == "backup")
        .filter(|v| v.node.as_deref().is_none_or(|n| n == node))
    else {
        return Err(ApiError::fail(format!("volume '{archive}' does not exist")));
    };
    let (prefix, short) = match kind {
        GuestKind::Qemu => ("vzdump-qemu-", "VM"),
        GuestKind::Lxc => ("vzdump-lxc-", "CT"),
    };
    if !archive.contains(prefix) {
        return Err(ApiError::fail(format!(
            "unable to restore '{archive}': not a {short} backup"
        )));
    }
    if let Some(g) = existing {
        let same_kind = g.kind == kind;
        match kind {
            GuestKind::Qemu if g.node != node => {
                return Err(ApiError::fail(format!(
                    "unable to restore vm {vmid} - already existing on cluster node '{}'",
                    g.node
                )));
            }
            GuestKind::Lxc if !(force && same_kind && g.node == node) => {
                return Err(ApiError::fail(format!(
                    "{} {vmid} already exists on node '{}'",
                    g.kind.short(),
                    g.node
                )));
            }
            _ => {}
        }
        if kind == GuestKind::Lxc && g.is_running() {
            return Err(ApiError::fail("can't overwrite running container"));
        }
        if g.cfg("protection") == Some("1") {
            return Err(ApiError::fail(format!(
                "unable to restore {short} {vmid} - protection mode enabled"
            )));
        }
        if !force {
            return Err(ApiError::fail(format!(
                "unable to restore vm {vmid} - config file already exists"
            )));
        }
        if g.is_running() {
            return Err(ApiError::fail(format!(
                "unable to restore vm {vmid} - vm is running"
            )));
        }
        if g.is_template() {
            return Err(ApiError::fail(format!(
                "unable to restore vm {vmid} - vm is a template"
            )));
        }
    }
    let source_vmid = vol.vmid;
    let storage = c.str("storage").map(str::to_string);
    if let Some(s) = &storage {
        c.check(
            &format!("/storage/{s}"),
            &["Datastore.AllocateSpace"],
            false,
        )?;
        if !c.state.storage_on(s, &node) {
            return Err(ApiError::fail(format!(
                "storage '{s}' is not available on node '{node}'"
            )));
        }
    }
    let config = c
        .state
        .backup_configs
        .get(archive)
        .cloned()
        .or_else(|| {
            source_vmid
                .and_then(|id| c.state.guests.get(&id))
                .map(|g| g.config.to_map())
        })
        .unwrap_or_else(|| {
            let name_key = match kind {
                GuestKind::Qemu => "name",
                GuestKind::Lxc => "hostname",
            };
            let disk = match kind {
                GuestKind::Qemu => ("scsi0", "local-lvm:vm-0-disk-0,size=32G"),
                GuestKind::Lxc => ("rootfs", "local-lvm:vm-0-disk-0,size=8G"),
            };
            [
                (name_key, format!("restored-{vmid}")),
                ("memory", "2048".to_string()),
                ("cores", "2".to_string()),
                (disk.0, disk.1.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        });
    for (k, v) in &config {
        if is_disk_key(k) && !k.starts_with("unused") && !v.contains("media=cdrom") {
            let store = storage
                .clone()
                .or_else(|| disk_storage(v).map(str::to_string))
                .unwrap_or_default();
            if !c.state.storage_on(&store, &node) {
                return Err(ApiError::fail(format!(
                    "storage '{store}' is not available on node '{node}'"
                )));
            }
        }
    }
    if existing.is_some() {
        c.state.remove_guest(vmid);
    }
    let now = c.now();
    let total = config
        .iter()
        .filter(|(k, _)| is_disk_key(k))
        .filter_map(|(_, v)| disk_size(v))
        .sum::<u64>()
        .max(1 << 30);
    c.state
        .restore_guest(vmid, &node, config, storage.as_deref(), now);
    let (first, task) = match kind {
        GuestKind::Qemu => (format!("restore vma archive: {archive}"), "qmrestore"),
        GuestKind::Lxc => (format!("extracting archive '{archive}'"), "vzrestore"),
    };
    let mut lines = vec![first];
    lines.extend(progress_lines(total, 4));
    lines.push("rescan volumes...".to_string());
    Ok(c.spawn(
        task,
        vmid.to_string(),
        lines,
        Ok(()),
        Effect::Clone { newid: vmid },
        None,
    ))
}
