//! What finished tasks do to the cluster state: power changes, snapshots, clones, destroy,
//! migration, template conversion, resize and backups. Called only by the task engine
//! (`tasks.rs`) when a task ends successfully, and by the clone handler to reserve the new VM.

use super::state::{GuestKind, State, Volume, format_size};
use super::tasks::{CloneOpts, Effect, uuid_like};

impl State {
    pub(super) fn apply(&mut self, effect: Effect, now: i64) {
        match effect {
            Effect::None => {}
            Effect::Start { vmid } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    g.status = "running";
                    g.paused = false;
                    g.started_at = Some(now);
                    // Pending changes apply at start.
                    let pending = std::mem::take(&mut g.pending);
                    for (k, v) in pending {
                        match v {
                            Some(v) => {
                                g.config.insert(k, v);
                            }
                            None => {
                                g.config.shift_remove(&k);
                            }
                        }
                    }
                    g.cpu = 0.05;
                    g.mem = g.maxmem() / 3;
                }
            }
            Effect::Stop { vmid } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    g.status = "stopped";
                    g.paused = false;
                    g.started_at = None;
                }
            }
            Effect::Suspend { vmid } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    g.paused = true;
                }
            }
            Effect::Resume { vmid } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    g.paused = false;
                }
            }
            Effect::Reboot { vmid } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    g.started_at = Some(now);
                    let pending = std::mem::take(&mut g.pending);
                    for (k, v) in pending {
                        match v {
                            Some(v) => {
                                g.config.insert(k, v);
                            }
                            None => {
                                g.config.shift_remove(&k);
                            }
                        }
                    }
                }
            }
            Effect::Snapshot {
                vmid,
                name,
                description,
                vmstate,
            } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    let mut config = g.config.to_map();
                    config.shift_remove("lock");
                    g.snapshots.push(super::state::Snapshot {
                        name: name.clone(),
                        parent: g.parent.clone(),
                        snaptime: now,
                        vmstate: vmstate && g.is_running(),
                        description,
                        config,
                    });
                    g.parent = Some(name);
                }
            }
            Effect::DeleteSnapshot { vmid, name } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    let parent = g
                        .snapshots
                        .iter()
                        .find(|s| s.name == name)
                        .and_then(|s| s.parent.clone());
                    g.snapshots.retain(|s| s.name != name);
                    for s in &mut g.snapshots {
                        if s.parent.as_deref() == Some(name.as_str()) {
                            s.parent = parent.clone();
                        }
                    }
                    if g.parent.as_deref() == Some(name.as_str()) {
                        g.parent = parent;
                    }
                }
            }
            Effect::Rollback { vmid, name, start } => {
                if let Some(g) = self.guests.get_mut(&vmid)
                    && let Some(s) = g.snapshots.iter().find(|s| s.name == name).cloned()
                {
                    g.config = s.config.into();
                    g.pending.clear();
                    g.parent = Some(name);
                    if s.vmstate || start {
                        g.status = "running";
                        g.started_at = Some(now);
                    } else {
                        g.status = "stopped";
                        g.started_at = None;
                    }
                }
            }
            Effect::Clone { newid } => {
                if let Some(g) = self.guests.get_mut(&newid) {
                    g.config.shift_remove("lock");
                }
            }
            Effect::Destroy { vmid } => self.remove_guest(vmid),
            Effect::Migrate { vmid, target } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    g.node = target.clone();
                }
                for v in &mut self.volumes {
                    if v.vmid == Some(vmid) && v.node.is_some() && v.content != "backup" {
                        v.node = Some(target.clone());
                    }
                }
            }
            Effect::Template { vmid } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    g.config.insert("template".into(), "1".into());
                    let renamed: Vec<(String, String)> = g
                        .config
                        .iter()
                        .filter(|(k, v)| {
                            super::state::is_disk_key(k) && v.contains(&format!("vm-{vmid}-disk-"))
                        })
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.replace(
                                    &format!("vm-{vmid}-disk-"),
                                    &format!("base-{vmid}-disk-"),
                                ),
                            )
                        })
                        .collect();
                    for (k, v) in renamed {
                        g.config.insert(k, v);
                    }
                }
                for v in &mut self.volumes {
                    if v.vmid == Some(vmid) && v.content == "images" {
                        v.volid = v
                            .volid
                            .replace(&format!("vm-{vmid}-disk-"), &format!("base-{vmid}-disk-"));
                    }
                }
            }
            Effect::Resize { vmid, disk, bytes } => {
                if let Some(g) = self.guests.get_mut(&vmid)
                    && let Some(v) = g.config.get(&disk).cloned()
                {
                    let parts: Vec<String> = v
                        .split(',')
                        .map(|p| {
                            if p.starts_with("size=") {
                                format!("size={}", format_size(bytes))
                            } else {
                                p.to_string()
                            }
                        })
                        .collect();
                    let volid = parts.first().cloned().unwrap_or_default();
                    g.config.insert(disk, parts.join(","));
                    if let Some(vol) = self.volumes.iter_mut().find(|x| x.volid == volid) {
                        vol.size = bytes;
                    }
                }
            }
            Effect::MoveDisk {
                vmid,
                disk,
                storage,
                delete,
            } => self.move_disk(vmid, &disk, &storage, delete, now),
            Effect::Backup {
                vmids,
                storage,
                node,
                notes,
                protected,
                compress,
            } => {
                for vmid in vmids {
                    let Some(g) = self.guests.get(&vmid) else {
                        continue;
                    };
                    let (ext, format) = backup_format(g.kind, &compress);
                    let stamp = chrono::DateTime::from_timestamp(now, 0)
                        .map(|t| t.format("%Y_%m_%d-%H_%M_%S").to_string())
                        .unwrap_or_default();
                    let kind = if g.kind == GuestKind::Qemu {
                        "qemu"
                    } else {
                        "lxc"
                    };
                    let shared = self.storage(&storage).is_some_and(|s| s.shared);
                    let notes = notes.as_ref().map(|n| {
                        n.replace("{{guestname}}", g.name())
                            .replace("{{vmid}}", &vmid.to_string())
                    });
                    let size = g.maxdisk() / 4 + 1024;
                    let volid = format!("{storage}:backup/vzdump-{kind}-{vmid}-{stamp}.{ext}");
                    self.backup_configs.insert(volid.clone(), g.config.to_map());
                    self.volumes.push(Volume {
                        storage: storage.clone(),
                        node: if shared { None } else { Some(node.clone()) },
                        volid,
                        content: "backup".into(),
                        format,
                        size,
                        ctime: now,
                        vmid: Some(vmid),
                        notes,
                        protected,
                    });
                }
            }
        }
    }

    /// The first `STORE:vm-VMID-disk-N` no volume has.
    pub fn free_disk_volid(&self, store: &str, vmid: u32) -> String {
        (0..)
            .map(|n| format!("{store}:vm-{vmid}-disk-{n}"))
            .find(|id| !self.volumes.iter().any(|v| &v.volid == id))
            .unwrap_or_default()
    }

    /// A new volume for a disk of `vmid` on `node`, in the state's list.
    fn add_disk_volume(
        &mut self,
        store: &str,
        vmid: u32,
        node: &str,
        size: u64,
        now: i64,
    ) -> String {
        let volid = self.free_disk_volid(store, vmid);
        let shared = self.storage(store).is_some_and(|s| s.shared);
        self.volumes.push(Volume {
            storage: store.to_string(),
            node: if shared { None } else { Some(node.to_string()) },
            volid: volid.clone(),
            content: "images".into(),
            format: "raw".into(),
            size,
            ctime: now,
            vmid: Some(vmid),
            notes: None,
            protected: false,
        });
        volid
    }

    /// The first `unusedN` key the guest's config does not have.
    fn free_unused_key(config: &indexmap::IndexMap<String, String>) -> String {
        (0..256)
            .map(|n| format!("unused{n}"))
            .find(|k| !config.contains_key(k))
            .unwrap_or_else(|| "unused255".into())
    }

    /// `move_disk`: `disk` of `vmid` gets a copy on `storage`; the old volume is deleted or
    /// stays as `unusedN`.
    pub fn move_disk(&mut self, vmid: u32, disk: &str, storage: &str, delete: bool, now: i64) {
        let Some(g) = self.guests.get(&vmid) else {
            return;
        };
        let Some(value) = g.config.get(disk).cloned() else {
            return;
        };
        let node = g.node.clone();
        let (old, rest) = value.split_once(',').unwrap_or((&value, ""));
        let size = self
            .volumes
            .iter()
            .find(|v| v.volid == old)
            .map(|v| v.size)
            .or_else(|| super::state::disk_size(&value))
            .unwrap_or(0);
        let new = self.add_disk_volume(storage, vmid, &node, size, now);
        if delete {
            self.volumes.retain(|v| v.volid != old);
        }
        if let Some(g) = self.guests.get_mut(&vmid) {
            let joined = if rest.is_empty() {
                new
            } else {
                format!("{new},{rest}")
            };
            g.config.insert(disk.to_string(), joined);
            if !delete {
                let key = Self::free_unused_key(&g.config);
                g.config.insert(key, old.to_string());
            }
        }
    }

    /// `unlink`: the disks leave the config; without `force` each volume stays as `unusedN`
    /// (a CD-ROM just goes), with `force` it is deleted.
    pub fn unlink_disks(&mut self, vmid: u32, disks: &[String], force: bool) {
        let mut freed = Vec::new();
        if let Some(g) = self.guests.get_mut(&vmid) {
            for disk in disks {
                let Some(value) = g.config.shift_remove(disk) else {
                    continue;
                };
                let volid = value.split(',').next().unwrap_or("").to_string();
                let cdrom = value.contains("media=cdrom");
                if force && !cdrom {
                    freed.push(volid);
                } else if !cdrom && !disk.starts_with("unused") {
                    let key = Self::free_unused_key(&g.config);
                    g.config.insert(key, volid);
                }
            }
        }
        self.volumes.retain(|v| !freed.contains(&v.volid));
    }

    /// A restore: guest `vmid` on `node` with `config` (from the backup), its disks new volumes
    /// on `storage` (else each on the storage it was on), locked `create` until the task ends.
    pub fn restore_guest(
        &mut self,
        vmid: u32,
        node: &str,
        mut config: indexmap::IndexMap<String, String>,
        storage: Option<&str>,
        now: i64,
    ) {
        let keys: Vec<String> = config.keys().cloned().collect();
        for k in keys {
            if !super::state::is_disk_key(&k) || k.starts_with("unused") {
                if k.starts_with("unused") {
                    config.shift_remove(&k);
                }
                continue;
            }
            let Some(v) = config.get(&k).cloned() else {
                continue;
            };
            if v.contains("media=cdrom") && !v.contains("cloudinit") {
                continue;
            }
            let (volid, rest) = v.split_once(',').unwrap_or((&v, ""));
            let src_store = volid.split_once(':').map_or(volid, |x| x.0);
            let store = storage.unwrap_or(src_store).to_string();
            let size = super::state::disk_size(&v).unwrap_or(4 << 20);
            let new = if v.contains("cloudinit") {
                format!("{store}:vm-{vmid}-cloudinit")
            } else {
                self.add_disk_volume(&store, vmid, node, size, now)
            };
            let joined = if rest.is_empty() {
                new
            } else {
                format!("{new},{rest}")
            };
            config.insert(k, joined);
        }
        config.shift_remove("lock");
        config.insert("lock".into(), "create".into());
        let kind = if config.contains_key("hostname") || config.contains_key("rootfs") {
            GuestKind::Lxc
        } else {
            GuestKind::Qemu
        };
        self.guests.insert(
            vmid,
            super::state::Guest::new_stopped(vmid, kind, node.to_string(), config, None),
        );
    }

    /// Removes a guest, its disks and its pool membership (backups stay).
    pub fn remove_guest(&mut self, vmid: u32) {
        self.guests.remove(&vmid);
        self.volumes
            .retain(|v| v.vmid != Some(vmid) || v.content == "backup");
        for p in self.pools.values_mut() {
            p.vms.retain(|v| *v != vmid);
        }
    }

    /// Creates the clone `newid` of `vmid` (from `src_config`) now, locked with `clone`.
    pub fn create_clone(&mut self, vmid: u32, newid: u32, opts: CloneOpts, now: i64) {
        let CloneOpts {
            name,
            description,
            target,
            storage,
            full,
            pool,
            snapshot,
        } = opts;
        let Some(mut src) = self.guests.get(&vmid).cloned() else {
            return;
        };
        if let Some(snap) =
            snapshot.and_then(|n| src.snapshots.iter().find(|s| s.name == n).cloned())
        {
            src.config = snap.config.into();
        }
        let mut g = src.clone();
        g.vmid = newid;
        g.node = target.clone();
        g.status = "stopped";
        g.paused = false;
        g.started_at = None;
        g.snapshots.clear();
        g.parent = None;
        g.pending.clear();
        g.agent_ifaces.clear();
        g.pool = pool.clone();
        g.config.insert("lock".into(), "clone".into());
        g.config.shift_remove("template");
        g.config.shift_remove("protection");
        let name_key = if g.kind == GuestKind::Lxc {
            "hostname"
        } else {
            "name"
        };
        g.config.insert(
            name_key.into(),
            name.unwrap_or_else(|| format!("Copy-of-VM-{}", src.name())),
        );
        if let Some(d) = description {
            g.config.insert("description".into(), d);
        }
        let mut new_vols = Vec::new();
        let keys: Vec<String> = g.config.keys().cloned().collect();
        let mut disk_no = 0;
        for k in keys {
            if k.starts_with("net") {
                if let Some(v) = g.config.get(&k).cloned() {
                    let mac = self.random_mac();
                    let v = v
                        .split(',')
                        .enumerate()
                        .map(|(i, p)| match p.split_once('=') {
                            Some((m, _)) if i == 0 && m != "bridge" => format!("{m}={mac}"),
                            _ => p.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(",");
                    g.config.insert(k.clone(), v);
                }
                continue;
            }
            if !super::state::is_disk_key(&k) {
                continue;
            }
            let Some(v) = g.config.get(&k).cloned() else {
                continue;
            };
            if v.contains("media=cdrom") && !v.contains("cloudinit") {
                continue;
            }
            let (volid, rest) = v.split_once(',').unwrap_or((&v, ""));
            let (src_store, _) = volid.split_once(':').unwrap_or((volid, ""));
            let store = if full {
                storage.clone().unwrap_or_else(|| src_store.to_string())
            } else {
                src_store.to_string()
            };
            let new_volid = if v.contains("cloudinit") {
                format!("{store}:vm-{newid}-cloudinit")
            } else if full {
                let id = format!("{store}:vm-{newid}-disk-{disk_no}");
                disk_no += 1;
                id
            } else {
                let base = volid.split_once(':').map(|x| x.1).unwrap_or(volid);
                let id = format!("{store}:{base}/vm-{newid}-disk-{disk_no}");
                disk_no += 1;
                id
            };
            let size = super::state::disk_size(&v).unwrap_or(4 << 20);
            new_vols.push(Volume {
                storage: store.clone(),
                node: if self.storage(&store).is_some_and(|s| s.shared) {
                    None
                } else {
                    Some(target.clone())
                },
                volid: new_volid.clone(),
                content: "images".into(),
                format: "raw".into(),
                size,
                ctime: now,
                vmid: Some(newid),
                notes: None,
                protected: false,
            });
            let joined = if rest.is_empty() {
                new_volid
            } else {
                format!("{new_volid},{rest}")
            };
            g.config.insert(k, joined);
        }
        if g.config.contains_key("vmgenid") {
            let r = self.next_random();
            g.config.insert("vmgenid".into(), uuid_like(r, newid));
        }
        if let Some(p) = pool.and_then(|p| self.pools.get_mut(&p)) {
            p.vms.push(newid);
        }
        self.volumes.extend(new_vols);
        self.guests.insert(newid, g);
    }
}

fn backup_format(kind: GuestKind, compress: &str) -> (String, String) {
    let base = if kind == GuestKind::Qemu {
        "vma"
    } else {
        "tar"
    };
    let ext = match compress {
        "gzip" | "1" => format!("{base}.gz"),
        "lzo" => format!("{base}.lzo"),
        "zstd" => format!("{base}.zst"),
        _ => base.to_string(),
    };
    (ext.clone(), ext)
}
