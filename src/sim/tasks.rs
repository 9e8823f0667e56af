//! Tasks: UPIDs, simulated durations, logs with progress lines, guest locks, and the effects a
//! task has on the state when it ends (FACTS §4).
//!
//! There are no background threads: every request (and `advance`) first calls
//! [`State::run_due_tasks`], which finishes, in order, the tasks whose end time has passed. So
//! the clock alone decides what has happened, and tests are deterministic.

use serde_json::{Value, json};

use super::state::{GuestKind, State, Volume, format_size};

/// What a task does to the state when it ends successfully.
#[derive(Debug, Clone)]
pub enum Effect {
    None,
    Start {
        vmid: u32,
    },
    Stop {
        vmid: u32,
    },
    Suspend {
        vmid: u32,
    },
    Resume {
        vmid: u32,
    },
    Reboot {
        vmid: u32,
    },
    Snapshot {
        vmid: u32,
        name: String,
        description: String,
        vmstate: bool,
    },
    DeleteSnapshot {
        vmid: u32,
        name: String,
    },
    Rollback {
        vmid: u32,
        name: String,
        start: bool,
    },
    /// The clone was created at the start (locked); success unlocks it, failure removes it.
    Clone {
        newid: u32,
    },
    Destroy {
        vmid: u32,
    },
    Migrate {
        vmid: u32,
        target: String,
    },
    Template {
        vmid: u32,
    },
    Resize {
        vmid: u32,
        disk: String,
        bytes: u64,
    },
    Backup {
        vmids: Vec<u32>,
        storage: String,
        node: String,
        notes: Option<String>,
        protected: bool,
        compress: String,
    },
}

#[derive(Debug, Clone)]
pub struct Task {
    pub upid: String,
    pub node: String,
    pub pid: u32,
    pub pstart: u32,
    pub starttime: i64,
    pub kind: String,
    pub id: String,
    pub user: String,
    /// Simulated start and planned end (fractional seconds).
    pub start_f: f64,
    pub end_f: f64,
    /// Log lines with their offset from the start.
    pub lines: Vec<(f64, String)>,
    /// The planned result: `Err(text)` ends with `TASK ERROR: text`.
    pub outcome: Result<(), String>,
    pub effect: Effect,
    /// The guest whose lock this task holds.
    pub locked: Option<u32>,
    /// `(endtime, exitstatus)` once stopped.
    pub finished: Option<(i64, String)>,
}

/// Options of a clone.
#[derive(Debug, Clone)]
pub struct CloneOpts {
    pub name: Option<String>,
    pub description: Option<String>,
    pub target: String,
    pub storage: Option<String>,
    pub full: bool,
    pub pool: Option<String>,
    pub snapshot: Option<String>,
}

/// What a handler asks for when it starts a task.
pub struct TaskSpec {
    pub node: String,
    pub kind: &'static str,
    pub id: String,
    pub user: String,
    pub lines: Vec<String>,
    pub outcome: Result<(), String>,
    pub effect: Effect,
    /// Take this guest's lock (`snapshot`, `clone`, `backup`, ...) while running.
    pub lock: Option<(u32, &'static str)>,
}

/// Simulated duration of each task type, in seconds.
pub fn duration_of(kind: &str) -> f64 {
    match kind {
        "qmstart" | "vzstart" => 2.0,
        "qmstop" | "vzstop" | "qmreset" | "qmsuspend" | "qmresume" | "qmresize" => 1.0,
        "qmshutdown" | "vzshutdown" | "qmsnapshot" | "qmrollback" | "vzrollback" => 3.0,
        "qmreboot" | "vzreboot" => 4.0,
        "qmclone" | "vzclone" => 5.0,
        "qmigrate" | "vzmigrate" => 6.0,
        "vzdump" => 8.0,
        "qmdelsnapshot" | "qmdestroy" | "vzdestroy" | "qmtemplate" | "qmcreate" => 2.0,
        _ => 1.0,
    }
}

/// `UPID:node:PID8:PSTART8:STARTTIME8:type:id:user:` (upper-case hex, as PVE prints it).
pub fn format_upid(
    node: &str,
    pid: u32,
    pstart: u32,
    starttime: i64,
    kind: &str,
    id: &str,
    user: &str,
) -> String {
    format!("UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{id}:{user}:")
}

/// Progress lines like `transferred 1.0 GiB of 4.0 GiB (25.00%)`.
pub fn progress_lines(total: u64, steps: u32) -> Vec<String> {
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    (1..=steps)
        .map(|i| {
            let done = total / u64::from(steps) * u64::from(i);
            let pct = f64::from(i) * 100.0 / f64::from(steps);
            format!("transferred {} of {} ({pct:.2}%)", gib(done), gib(total))
        })
        .collect()
}

impl State {
    /// Starts a task now; returns its UPID. A `fail_tasks` fault turns the outcome into
    /// "simulated task failure".
    pub fn spawn_task(&mut self, spec: TaskSpec, now: f64) -> String {
        let pid = self.next_pid;
        self.next_pid += 1;
        let starttime = now.floor() as i64;
        let pstart = 0x0100_0000u32.wrapping_add(pid.wrapping_mul(7));
        let upid = format_upid(
            &spec.node, pid, pstart, starttime, spec.kind, &spec.id, &spec.user,
        );
        let mut outcome = spec.outcome;
        if outcome.is_ok()
            && self
                .fail_tasks
                .as_ref()
                .is_some_and(|re| re.is_match(spec.kind))
        {
            outcome = Err("simulated task failure".to_string());
        }
        let duration = if outcome.is_ok() {
            duration_of(spec.kind)
        } else {
            0.5
        };
        let n = spec.lines.len().max(1) as f64;
        let lines = spec
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| (duration * i as f64 / n, l))
            .collect();
        let mut locked = None;
        if outcome.is_ok()
            && let Some((vmid, lock)) = spec.lock
            && let Some(g) = self.guests.get_mut(&vmid)
        {
            g.config.insert("lock".into(), lock.to_string());
            locked = Some(vmid);
        }
        self.tasks.push(Task {
            upid: upid.clone(),
            node: spec.node,
            pid,
            pstart,
            starttime,
            kind: spec.kind.to_string(),
            id: spec.id,
            user: spec.user,
            start_f: now,
            end_f: now + duration,
            lines,
            outcome,
            effect: spec.effect,
            locked,
            finished: None,
        });
        upid
    }

    /// Finishes, in order of end time, every running task that is due by `now`.
    pub fn run_due_tasks(&mut self, now: f64) {
        loop {
            let next = self
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| t.finished.is_none() && t.end_f <= now)
                .min_by(|a, b| a.1.end_f.total_cmp(&b.1.end_f).then(a.1.pid.cmp(&b.1.pid)))
                .map(|(i, _)| i);
            let Some(i) = next else { break };
            self.finish_task(i, None);
        }
    }

    /// Ends task `i`; `interrupt` stops it early with that exit status and no effect.
    pub fn finish_task(&mut self, i: usize, interrupt: Option<&str>) {
        let Some(task) = self.tasks.get(i).cloned() else {
            return;
        };
        if let Some(vmid) = task.locked
            && let Some(g) = self.guests.get_mut(&vmid)
        {
            g.config.shift_remove("lock");
        }
        let end = if interrupt.is_some() {
            task.start_f.max(task.end_f.min(f64::MAX))
        } else {
            task.end_f
        };
        let exit = match (interrupt, &task.outcome) {
            (Some(why), _) => why.to_string(),
            (None, Err(e)) => {
                if let Effect::Clone { newid } = task.effect {
                    self.remove_guest(newid);
                }
                e.clone()
            }
            (None, Ok(())) => {
                self.apply(task.effect.clone(), task.end_f.floor() as i64);
                "OK".to_string()
            }
        };
        if let Some(t) = self.tasks.get_mut(i) {
            t.finished = Some((end.floor() as i64, exit));
        }
    }

    fn apply(&mut self, effect: Effect, now: i64) {
        match effect {
            Effect::None => {}
            Effect::Start { vmid } => {
                if let Some(g) = self.guests.get_mut(&vmid) {
                    g.status = "running".into();
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
                    g.status = "stopped".into();
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
                    let mut config = g.config.clone();
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
                    g.config = s.config;
                    g.pending.clear();
                    g.parent = Some(name);
                    if s.vmstate || start {
                        g.status = "running".into();
                        g.started_at = Some(now);
                    } else {
                        g.status = "stopped".into();
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
                    self.volumes.push(Volume {
                        storage: storage.clone(),
                        node: if shared { None } else { Some(node.clone()) },
                        volid: format!("{storage}:backup/vzdump-{kind}-{vmid}-{stamp}.{ext}"),
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
            src.config = snap.config;
        }
        let mut g = src.clone();
        g.vmid = newid;
        g.node = target.clone();
        g.status = "stopped".into();
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
        g.config.insert(
            "name".into(),
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

    /// The task-list entry (running tasks lack `status` and `endtime`).
    pub fn task_entry(&self, t: &Task) -> Value {
        let mut v = json!({
            "upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
            "starttime": t.starttime, "type": t.kind, "id": t.id, "user": t.user,
        });
        if let (Some((end, status)), Some(o)) = (&t.finished, v.as_object_mut()) {
            o.insert("endtime".into(), json!(end));
            o.insert("status".into(), json!(status));
        }
        v
    }

    /// `GET .../tasks/{upid}/status`.
    pub fn task_status(&self, t: &Task) -> Value {
        let mut v = json!({
            "upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
            "starttime": t.starttime, "type": t.kind, "id": t.id, "user": t.user,
            "status": if t.finished.is_some() { "stopped" } else { "running" },
        });
        if let (Some((_, exit)), Some(o)) = (&t.finished, v.as_object_mut()) {
            o.insert("exitstatus".into(), json!(exit));
        }
        v
    }

    /// The log lines written so far, ending with `TASK OK` / `TASK ERROR: ...` when stopped.
    pub fn task_log(&self, t: &Task, now: f64) -> Vec<String> {
        let elapsed = now - t.start_f;
        let mut out: Vec<String> = t
            .lines
            .iter()
            .filter(|(at, _)| t.finished.is_some() || *at <= elapsed)
            .map(|(_, l)| l.clone())
            .collect();
        if let Some((_, exit)) = &t.finished {
            if exit == "OK" {
                out.push("TASK OK".into());
            } else {
                out.push(format!("TASK ERROR: {exit}"));
            }
        }
        out
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

/// A UUID-shaped string derived from `r` (for `vmgenid`).
pub fn uuid_like(r: u64, salt: u32) -> String {
    let h = format!("{r:016x}{:08x}{:08x}", salt, (r >> 7) as u32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upid_format() {
        let cases = [
            (
                ("pve1", 1, 2, 0x6955B900, "qmstart", "101", "root@pam"),
                "UPID:pve1:00000001:00000002:6955B900:qmstart:101:root@pam:",
            ),
            (
                ("n", 0xABCDEF, 0, 1, "aptupdate", "", "root@pam!ci"),
                "UPID:n:00ABCDEF:00000000:00000001:aptupdate::root@pam!ci:",
            ),
        ];
        for ((node, pid, pstart, start, kind, id, user), want) in cases {
            assert_eq!(format_upid(node, pid, pstart, start, kind, id, user), want);
        }
    }

    #[test]
    fn progress() {
        let l = progress_lines(4 << 30, 4);
        assert_eq!(l[0], "transferred 1.0 GiB of 4.0 GiB (25.00%)");
        assert_eq!(l[3], "transferred 4.0 GiB of 4.0 GiB (100.00%)");
    }

    #[test]
    fn tasks_finish_in_order_and_release_locks() {
        let mut s = State {
            next_pid: 1,
            ..State::default()
        };
        let spec = |kind: &'static str| TaskSpec {
            node: "pve1".into(),
            kind,
            id: "100".into(),
            user: "root@pam".into(),
            lines: vec!["a".into()],
            outcome: Ok(()),
            effect: Effect::None,
            lock: None,
        };
        let slow = s.spawn_task(spec("vzdump"), 0.0);
        let fast = s.spawn_task(
            TaskSpec {
                outcome: Err("VM 100 already running".into()),
                ..spec("qmstart")
            },
            0.0,
        );
        s.run_due_tasks(1.0);
        let st = |s: &State, u: &str| {
            s.tasks
                .iter()
                .find(|t| t.upid == u)
                .and_then(|t| t.finished.clone())
                .map(|f| f.1)
        };
        assert_eq!(st(&s, &fast).as_deref(), Some("VM 100 already running"));
        assert_eq!(st(&s, &slow), None);
        s.run_due_tasks(8.0);
        assert_eq!(st(&s, &slow).as_deref(), Some("OK"));
        let t = s.tasks.iter().find(|t| t.upid == fast).unwrap();
        assert_eq!(
            s.task_log(t, 9.0).last().unwrap(),
            "TASK ERROR: VM 100 already running"
        );
    }
}
