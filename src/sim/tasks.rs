//! Tasks: UPIDs, simulated durations, logs with progress lines, guest locks, and the effects a
//! task has on the state when it ends (FACTS §4).
//!
//! There are no background threads: every request (and `advance`) first calls
//! [`State::run_due_tasks`], which finishes, in order, the tasks whose end time has passed. So
//! the clock alone decides what has happened, and tests are deterministic.

use serde_json::{Value, json};

use super::state::State;

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
    /// `move_disk`: the disk gets a new volume on `storage`; the old one is deleted or kept
    /// as `unusedN`.
    MoveDisk {
        vmid: u32,
        disk: String,
        storage: String,
        delete: bool,
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
        // termproxy waits 10 s for its client; a connected console lasts until it leaves.
        "vncproxy" => 10.0,
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

/// How many tasks the simulator remembers: beyond it the oldest finished ones are forgotten
/// (their status and log answer "no such task"), so a long run stays the same size.
pub const TASK_HISTORY_CAP: usize = 2_000;

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
        self.forget_old_tasks();
    }

    /// Drops the oldest finished tasks beyond [`TASK_HISTORY_CAP`] (PVE too keeps a bounded
    /// task history); running tasks are always kept. Called where no task index is held.
    fn forget_old_tasks(&mut self) {
        let mut excess = self.tasks.len().saturating_sub(TASK_HISTORY_CAP);
        if excess == 0 {
            return;
        }
        self.tasks.retain(|t| {
            if excess > 0 && t.finished.is_some() {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }

    /// Ends task `i`: as planned, or, with `interrupt = Some((reason, now))`, stopped early at
    /// `now` with that exit status and without its effect.
    pub fn finish_task(&mut self, i: usize, interrupt: Option<(&str, f64)>) {
        let Some(task) = self.tasks.get(i).cloned() else {
            return;
        };
        if let Some(vmid) = task.locked
            && let Some(g) = self.guests.get_mut(&vmid)
        {
            g.config.shift_remove("lock");
        }
        let failed = interrupt.is_some() || task.outcome.is_err();
        if failed && let Effect::Clone { newid } = task.effect {
            // A failed clone removes the VM it reserved.
            self.remove_guest(newid);
        }
        let (end, exit) = match (interrupt, &task.outcome) {
            (Some((why, now)), _) => (now, why.to_string()),
            (None, Err(e)) => (task.end_f, e.clone()),
            (None, Ok(())) => {
                self.apply(task.effect.clone(), task.end_f.floor() as i64);
                (task.end_f, "OK".to_string())
            }
        };
        if let Some(t) = self.tasks.get_mut(i) {
            if interrupt.is_some() {
                let elapsed = end - t.start_f;
                t.lines.retain(|(at, _)| *at <= elapsed);
            }
            t.finished = Some((end.floor() as i64, exit));
        }
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

    fn fresh_state() -> State {
        State {
            next_pid: 1,
            ..State::default()
        }
    }

    /// A one-line task of `kind` on pve1 that succeeds and changes nothing.
    fn spec(kind: &'static str) -> TaskSpec {
        TaskSpec {
            node: "pve1".into(),
            kind,
            id: "100".into(),
            user: "root@pam".into(),
            lines: vec!["a".into()],
            outcome: Ok(()),
            effect: Effect::None,
            lock: None,
        }
    }

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
    fn the_task_list_is_bounded_and_keeps_running_tasks() {
        let mut s = fresh_state();
        // A long task started first stays, however many finish after it.
        let long = s.spawn_task(spec("vncproxy"), 0.0);
        s.tasks[0].end_f = f64::MAX;
        for i in 0..3 * TASK_HISTORY_CAP {
            let now = i as f64 * 10.0;
            s.spawn_task(spec("qmstart"), now);
            s.run_due_tasks(now + 5.0);
            assert!(s.tasks.len() <= TASK_HISTORY_CAP + 1, "{}", s.tasks.len());
        }
        assert_eq!(s.tasks.len(), TASK_HISTORY_CAP);
        assert!(
            s.tasks
                .iter()
                .any(|t| t.upid == long && t.finished.is_none())
        );
        let newest = s.tasks.last().unwrap();
        assert_eq!(
            newest.pid as usize,
            3 * TASK_HISTORY_CAP + 1,
            "the latest are kept"
        );
    }

    #[test]
    fn tasks_finish_in_order_and_release_locks() {
        let mut s = fresh_state();
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
