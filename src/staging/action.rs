//! The typed action model: one planned change, what it does ([`Op`], a typed payload per kind),
//! which guest (or node) it was resolved to, and what that guest looked like when planned.
//!
//! Everything about a change derives from its [`Op`] alone: its [`ActionKind`], whether it is
//! destructive and why ([`Op::risk`]), whether and how it can be undone ([`Op::undo`]), the PVE
//! request that carries it out ([`Action::request`]), its one-line summary and its diff rows.
//! An [`Action`] is plain data (saved as JSON in the pending buffer) and does no IO.
//!
//! Adding an action: one [`Op`] variant with its arm in each method below (the compiler lists
//! them), one [`ActionKind`] with its risk, one command definition, one registry line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::endpoints::{self, encode_segment};
use crate::api::{ApiRequest, GuestKind, Method, PowerAction};

/// The kind of an action: the fieldless discriminant of [`Op`], for signatures and tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    Start,
    Stop,
    Shutdown,
    Reboot,
    Reset,
    Suspend,
    Resume,
    Destroy,
    Snapshot,
    Rollback,
    Delsnapshot,
    Set,
    Tag,
    Template,
    Raw,
    Clone,
    Resize,
    Create,
    Download,
    Upload,
    DeleteVolume,
    Migrate,
    DiskAdd,
    DiskMove,
    DiskDetach,
    Backup,
    Restore,
    Console,
}

/// Whether a kind of action is destructive (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    /// Never: it runs at once.
    Never,
    /// Always, for this reason: it stages.
    Always(&'static str),
    /// It depends on the payload (a `set` that reduces resources, a raw write below a guest).
    Depends,
}

/// How a change can be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// A snapshot taken before it brings the guest back (confirmed commits rely on this).
    Snapshot,
    /// It creates something; destroying what it created undoes it (a failed wizard run).
    Remove,
    /// Nothing undoes it, for this reason.
    Never(&'static str),
}

impl ActionKind {
    /// Every kind, for tables and tests.
    pub const ALL: &'static [ActionKind] = &[
        ActionKind::Start,
        ActionKind::Stop,
        ActionKind::Shutdown,
        ActionKind::Reboot,
        ActionKind::Reset,
        ActionKind::Suspend,
        ActionKind::Resume,
        ActionKind::Destroy,
        ActionKind::Snapshot,
        ActionKind::Rollback,
        ActionKind::Delsnapshot,
        ActionKind::Set,
        ActionKind::Tag,
        ActionKind::Template,
        ActionKind::Raw,
        ActionKind::Clone,
        ActionKind::Resize,
        ActionKind::Create,
        ActionKind::Download,
        ActionKind::Upload,
        ActionKind::DeleteVolume,
        ActionKind::Migrate,
        ActionKind::DiskAdd,
        ActionKind::DiskMove,
        ActionKind::DiskDetach,
        ActionKind::Backup,
        ActionKind::Restore,
        ActionKind::Console,
    ];

    /// The word for it: the command that plans it, and the `action` field of the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Start => "start",
            ActionKind::Stop => "stop",
            ActionKind::Shutdown => "shutdown",
            ActionKind::Reboot => "reboot",
            ActionKind::Reset => "reset",
            ActionKind::Suspend => "suspend",
            ActionKind::Resume => "resume",
            ActionKind::Destroy => "destroy",
            ActionKind::Snapshot => "snapshot",
            ActionKind::Rollback => "rollback",
            ActionKind::Delsnapshot => "delsnapshot",
            ActionKind::Set => "set",
            ActionKind::Tag => "tag",
            ActionKind::Template => "template",
            ActionKind::Raw => "raw",
            ActionKind::Clone => "clone",
            ActionKind::Resize => "resize",
            ActionKind::Create => "create",
            ActionKind::Download => "download",
            ActionKind::Upload => "upload",
            ActionKind::DeleteVolume => "delete-volume",
            ActionKind::Migrate => "migrate",
            ActionKind::DiskAdd => "disk-add",
            ActionKind::DiskMove => "disk-move",
            ActionKind::DiskDetach => "disk-detach",
            ActionKind::Backup => "backup",
            ActionKind::Restore => "restore",
            ActionKind::Console => "console",
        }
    }

    /// Whether this kind is destructive, and why.
    pub fn risk(self) -> Risk {
        match self {
            ActionKind::Stop => Risk::Always("stops the guest at once, like pulling the plug"),
            ActionKind::Shutdown => Risk::Always("shuts the guest down: its services go away"),
            ActionKind::Reboot => Risk::Always("reboots the guest: its services are interrupted"),
            ActionKind::Reset => Risk::Always("resets the guest: unsaved data in it is lost"),
            ActionKind::Suspend => Risk::Always("suspends the guest: its services pause"),
            ActionKind::Destroy => {
                Risk::Always("destroys the guest and its disks: cannot be undone")
            }
            ActionKind::Rollback => {
                Risk::Always("rolls back to a snapshot: changes since are lost")
            }
            ActionKind::Delsnapshot => Risk::Always("deletes a snapshot"),
            ActionKind::Template => {
                Risk::Always("converts the guest to a template: it can no longer run")
            }
            ActionKind::Resize => Risk::Always("grows a disk: a disk can never shrink again"),
            ActionKind::DeleteVolume => Risk::Always("deletes a volume from a storage"),
            ActionKind::Migrate => {
                Risk::Always("moves the guest to another node: its disks and state are copied")
            }
            ActionKind::DiskMove => Risk::Always("moves a disk to another storage"),
            ActionKind::DiskDetach => {
                Risk::Always("detaches a disk: the guest loses it (it stays as an unused disk)")
            }
            ActionKind::Set | ActionKind::Raw | ActionKind::Restore => Risk::Depends,
            ActionKind::Start
            | ActionKind::Resume
            | ActionKind::Snapshot
            | ActionKind::Tag
            | ActionKind::Clone
            | ActionKind::Create
            | ActionKind::Download
            | ActionKind::Upload
            | ActionKind::DiskAdd
            | ActionKind::Backup
            | ActionKind::Console => Risk::Never,
        }
    }

    /// True when its task copies data for a while (a migration, a backup, a restore, a clone,
    /// a disk move, a download), so its log's progress lines are worth showing as it runs.
    pub fn copies_data(self) -> bool {
        matches!(
            self,
            ActionKind::Download
                | ActionKind::Migrate
                | ActionKind::Backup
                | ActionKind::Restore
                | ActionKind::Clone
                | ActionKind::DiskMove
        )
    }

    /// True when this kind always stages (its command's signature says "staged").
    pub fn always_destructive(self) -> bool {
        matches!(self.risk(), Risk::Always(_))
    }

    /// The power action behind a lifecycle kind.
    pub fn power(self) -> Option<PowerAction> {
        Some(match self {
            ActionKind::Start => PowerAction::Start,
            ActionKind::Stop => PowerAction::Stop,
            ActionKind::Shutdown => PowerAction::Shutdown,
            ActionKind::Reboot => PowerAction::Reboot,
            ActionKind::Reset => PowerAction::Reset,
            ActionKind::Suspend => PowerAction::Suspend,
            ActionKind::Resume => PowerAction::Resume,
            _ => return None,
        })
    }
}

/// A change to a guest's config (`set`, `tag`): the new values, and for the plan the values
/// they replace, when each takes effect and why it is destructive (a reduction), if it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// Config key → new value, in PVE's form.
    pub changes: BTreeMap<String, String>,
    /// Config key → value when planned (for `diff`).
    #[serde(default)]
    pub before: BTreeMap<String, String>,
    /// Config key → `applies live` / `pending until reboot`.
    #[serde(default)]
    pub effect: BTreeMap<String, String>,
    /// Why it is destructive (fewer cores, less memory), found when it was planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<String>,
}

impl ConfigChange {
    /// Just the new values (the creation wizards' configuration steps).
    pub fn of(changes: impl IntoIterator<Item = (String, String)>) -> ConfigChange {
        ConfigChange {
            changes: changes.into_iter().collect(),
            ..ConfigChange::default()
        }
    }
}

/// What an action does, with its typed payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Op {
    Start,
    Stop,
    Shutdown {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<u64>,
        #[serde(default)]
        force_stop: bool,
    },
    Reboot,
    Reset,
    Suspend,
    Resume,
    Destroy {
        #[serde(default)]
        purge: bool,
        /// Also destroy disks with its VMID that its config does not reference (a wizard's
        /// rollback after a half-done clone).
        #[serde(default)]
        unreferenced_disks: bool,
    },
    Snapshot {
        name: String,
        #[serde(default)]
        vmstate: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    Rollback {
        name: String,
        #[serde(default)]
        start: bool,
    },
    Delsnapshot {
        name: String,
    },
    Set(ConfigChange),
    Tag(ConfigChange),
    Template,
    /// A pvesh-style `set`/`create`/`delete` on an API path.
    Raw {
        /// `PUT`, `POST` or `DELETE`.
        method: String,
        /// Absolute, below `/api2/json`: `/nodes/pve1/qemu/101/config`.
        path: String,
        #[serde(default)]
        params: BTreeMap<String, String>,
    },
    /// `POST .../clone` of the target guest to `newid`.
    Clone {
        newid: u32,
        name: String,
        #[serde(default)]
        full: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_node: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        storage: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pool: Option<String>,
    },
    /// `PUT .../resize`: `size` is `+10G` (grow by) or `40G` (grow to); `from` and `to` are
    /// the sizes before and after, as read when it was planned (for the plan).
    Resize {
        disk: String,
        size: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// `POST .../migrate` to the node `target`: live (`online`; a container restarts) or
    /// offline, with local disks copied, onto `target_storage` when given.
    Migrate {
        target: String,
        #[serde(default)]
        online: bool,
        #[serde(default)]
        with_local_disks: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_storage: Option<String>,
    },
    /// A new disk `disk` (`scsi1`) of `size_gib` GiB on `storage`: a config update with PVE's
    /// `STORAGE:SIZE` allocation syntax.
    DiskAdd {
        disk: String,
        storage: String,
        size_gib: u64,
    },
    /// `POST .../move_disk` of `disk` to `storage`; `delete` drops the old volume, else it
    /// stays as `unusedN`. `from` is the storage it was on when planned.
    DiskMove {
        disk: String,
        storage: String,
        #[serde(default)]
        delete: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// `PUT .../unlink` of `disk` without `force`: the volume stays, as `unusedN`. `volume` is
    /// what the disk pointed at when planned.
    DiskDetach {
        disk: String,
        #[serde(default)]
        volume: String,
    },
    /// `POST /nodes/{node}/vzdump` of the target guest.
    Backup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        storage: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        compress: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
        #[serde(default)]
        protected: bool,
    },
    /// `POST /nodes/{node}/qemu` with `archive` (a container: `/lxc` with `ostemplate` and
    /// `restore`): the target's VMID from a backup; `force` overwrites an existing guest.
    Restore {
        archive: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        storage: Option<String>,
        #[serde(default)]
        force: bool,
        #[serde(default)]
        unique: bool,
    },
    /// `POST /nodes/{node}/qemu|lxc` with `vmid` = the target's: a new guest.
    Create {
        params: Vec<(String, String)>,
    },
    /// `POST /nodes/{node}/storage/{storage}/download-url`.
    Download {
        storage: String,
        params: Vec<(String, String)>,
    },
    /// `POST /nodes/{node}/storage/{storage}/upload` (multipart): the local file `source`
    /// into the storage as `filename` (an `imgcopy` task); PVE checks `checksum` when given.
    Upload {
        storage: String,
        content: String,
        filename: String,
        source: std::path::PathBuf,
        size: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checksum: Option<Checksum>,
    },
    /// `DELETE /nodes/{node}/storage/{storage}/content/{volume}`.
    DeleteVolume {
        storage: String,
        volume: String,
    },
    /// `POST .../termproxy`: opens a console session (a `vncproxy` task that lasts while it is
    /// open); `serial` (`serial0`..`serial3`) picks a VM's serial port.
    Console {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serial: Option<String>,
    },
}

/// An expected checksum: PVE's `checksum-algorithm` and `checksum`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: String,
    pub value: String,
}

/// A builder for the parameter lists of [`Op::Create`] and [`Op::Download`], in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn param(mut self, key: &str, value: impl ToString) -> Params {
        self.0.push((key.to_string(), value.to_string()));
        self
    }

    /// `key=1` or `key=0`, as PVE's booleans.
    pub fn flag(self, key: &str, on: bool) -> Params {
        self.param(key, if on { "1" } else { "0" })
    }

    pub fn opt(self, key: &str, value: Option<impl ToString>) -> Params {
        match value {
            Some(v) => self.param(key, v),
            None => self,
        }
    }
}

pub use crate::secret::is_secret_param;

/// `text` with the values of the secret parameters among `params` replaced by `<redacted>`.
pub fn scrub_secrets<'a>(
    text: &str,
    params: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> String {
    let mut out = text.to_string();
    for (k, v) in params {
        if is_secret_param(k) && !v.is_empty() {
            out = out.replace(v.as_str(), "<redacted>");
        }
    }
    out
}

/// `value`, or `<redacted>` when `key` names a secret.
fn shown(key: &str, value: &str) -> String {
    if is_secret_param(key) {
        "<redacted>".to_string()
    } else {
        value.to_string()
    }
}

/// The guest (`/nodes/N/qemu|lxc/VMID...`) an API path is below, if any.
pub fn guest_of_path(path: &str) -> Option<(String, GuestKind, u32)> {
    let mut parts = path.trim_start_matches('/').split('/');
    if parts.next() != Some("nodes") {
        return None;
    }
    let node = parts.next().filter(|n| !n.is_empty())?;
    let kind = GuestKind::from_type(parts.next()?)?;
    let vmid = parts.next()?.parse().ok()?;
    let node = percent_encoding::percent_decode_str(node)
        .decode_utf8_lossy()
        .into_owned();
    Some((node, kind, vmid))
}

impl Op {
    pub fn kind(&self) -> ActionKind {
        match self {
            Op::Start => ActionKind::Start,
            Op::Stop => ActionKind::Stop,
            Op::Shutdown { .. } => ActionKind::Shutdown,
            Op::Reboot => ActionKind::Reboot,
            Op::Reset => ActionKind::Reset,
            Op::Suspend => ActionKind::Suspend,
            Op::Resume => ActionKind::Resume,
            Op::Destroy { .. } => ActionKind::Destroy,
            Op::Snapshot { .. } => ActionKind::Snapshot,
            Op::Rollback { .. } => ActionKind::Rollback,
            Op::Delsnapshot { .. } => ActionKind::Delsnapshot,
            Op::Set(_) => ActionKind::Set,
            Op::Tag(_) => ActionKind::Tag,
            Op::Template => ActionKind::Template,
            Op::Raw { .. } => ActionKind::Raw,
            Op::Clone { .. } => ActionKind::Clone,
            Op::Resize { .. } => ActionKind::Resize,
            Op::Create { .. } => ActionKind::Create,
            Op::Download { .. } => ActionKind::Download,
            Op::Upload { .. } => ActionKind::Upload,
            Op::DeleteVolume { .. } => ActionKind::DeleteVolume,
            Op::Migrate { .. } => ActionKind::Migrate,
            Op::DiskAdd { .. } => ActionKind::DiskAdd,
            Op::DiskMove { .. } => ActionKind::DiskMove,
            Op::DiskDetach { .. } => ActionKind::DiskDetach,
            Op::Backup { .. } => ActionKind::Backup,
            Op::Restore { .. } => ActionKind::Restore,
            Op::Console { .. } => ActionKind::Console,
        }
    }

    /// The op of a lifecycle kind (`stop`, `reboot`...) with no options.
    pub fn power(kind: ActionKind) -> Option<Op> {
        Some(match kind {
            ActionKind::Start => Op::Start,
            ActionKind::Stop => Op::Stop,
            ActionKind::Shutdown => Op::Shutdown {
                timeout: None,
                force_stop: false,
            },
            ActionKind::Reboot => Op::Reboot,
            ActionKind::Reset => Op::Reset,
            ActionKind::Suspend => Op::Suspend,
            ActionKind::Resume => Op::Resume,
            _ => return None,
        })
    }

    /// Why it is destructive, or `None` when it is not (it then runs at once).
    pub fn risk(&self) -> Option<String> {
        match self.kind().risk() {
            Risk::Never => None,
            Risk::Always(why) => Some(why.to_string()),
            Risk::Depends => match self {
                Op::Set(c) | Op::Tag(c) => c.risk.clone(),
                Op::Raw { path, .. } => guest_of_path(path).map(|_| {
                    "a raw API write on a guest: pvesh+ cannot tell what it changes".to_string()
                }),
                Op::Restore { force: true, .. } => Some(
                    "restores over an existing guest: its disks and config are replaced"
                        .to_string(),
                ),
                _ => None,
            },
        }
    }

    /// How it can be undone.
    pub fn undo(&self) -> Undo {
        match self.kind() {
            ActionKind::Destroy => Undo::Never("a destroyed guest is gone with its disks"),
            ActionKind::Template => Undo::Never("a template cannot become a VM again"),
            ActionKind::Raw => Undo::Never("pvesh+ cannot tell what a raw write changes"),
            ActionKind::Resize => Undo::Never("a disk cannot shrink"),
            ActionKind::DeleteVolume => Undo::Never("a deleted volume is gone"),
            ActionKind::Migrate => Undo::Never("a migration is undone by migrating back"),
            ActionKind::DiskAdd => Undo::Never("detach the new disk, then delete it"),
            ActionKind::DiskMove => Undo::Never("move the disk back"),
            ActionKind::DiskDetach => Undo::Never("attach the unused disk again"),
            ActionKind::Restore => Undo::Never("a restore replaces the guest's disks"),
            ActionKind::Clone
            | ActionKind::Create
            | ActionKind::Download
            | ActionKind::Upload
            | ActionKind::Backup => Undo::Remove,
            ActionKind::Console => Undo::Never("a console session is not undone"),
            _ => Undo::Snapshot,
        }
    }

    /// True when a snapshot taken before can undo it (`commit --confirm` needs that).
    pub fn undoable_by_snapshot(&self) -> bool {
        self.undo() == Undo::Snapshot
    }

    /// The parameters it sends that a reader of the plan or the audit log should see, with
    /// secret values redacted.
    pub fn shown_params(&self) -> Vec<(String, String)> {
        let pairs: Vec<(String, String)> = match self {
            Op::Set(c) | Op::Tag(c) => c
                .changes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Op::Raw { params, .. } => params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Op::Create { params } | Op::Download { params, .. } => params.clone(),
            _ => Vec::new(),
        };
        pairs
            .into_iter()
            .map(|(k, v)| {
                let v = shown(&k, &v);
                (k, v)
            })
            .collect()
    }

    /// The secret values it carries (to scrub them out of server errors).
    fn secret_values(&self) -> Vec<&str> {
        let pairs: Vec<(&String, &String)> = match self {
            Op::Set(c) | Op::Tag(c) => c.changes.iter().collect(),
            Op::Raw { params, .. } => params.iter().collect(),
            Op::Create { params } | Op::Download { params, .. } => {
                params.iter().map(|(k, v)| (k, v)).collect()
            }
            _ => Vec::new(),
        };
        pairs
            .into_iter()
            .filter(|(k, v)| is_secret_param(k) && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The guest (or node) an action was resolved to when it was planned. A node-level action
/// (a download, a raw write outside any guest) has `vmid` 0 and an empty name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub vmid: u32,
    pub node: String,
    pub guest_kind: GuestKind,
    pub name: String,
}

impl Target {
    /// A node-level target (no guest); `node` may be empty for the cluster as a whole.
    pub fn node(node: &str) -> Target {
        Target {
            vmid: 0,
            node: node.to_string(),
            guest_kind: GuestKind::Qemu,
            name: String::new(),
        }
    }

    pub fn is_guest(&self) -> bool {
        self.vmid != 0
    }

    /// The `vmid` field of a plan or outcome row: empty for a node-level action.
    pub fn vmid_value(&self) -> crate::lang::Value {
        if self.is_guest() {
            crate::lang::Value::Int(i64::from(self.vmid))
        } else {
            crate::lang::Value::Null
        }
    }

    /// `web01 (101)`, `node pve1`, or `the cluster`.
    pub fn label(&self) -> String {
        if self.is_guest() && self.name.is_empty() {
            format!("guest {}", self.vmid)
        } else if self.is_guest() {
            format!("{} ({})", self.name, self.vmid)
        } else if self.node.is_empty() {
            "the cluster".to_string()
        } else {
            format!("node {}", self.node)
        }
    }
}

/// What the guest looked like when the action was planned; re-checked at commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    /// The config `digest`; `None` when it was not read (actions that run at once).
    pub digest: Option<String>,
    pub node: String,
    pub status: String,
}

impl Precondition {
    /// Nothing read: the guest is where the target says, in `status`.
    pub fn unchecked(target: &Target, status: &str) -> Precondition {
        Precondition {
            digest: None,
            node: target.node.clone(),
            status: status.to_string(),
        }
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Its journal id in the pending buffer (0 for an action that is not in a buffer).
    #[serde(default)]
    pub id: u64,
    pub op: Op,
    pub target: Target,
    pub precondition: Precondition,
    /// The all-or-nothing unit it was planned in (`apply guests.yaml`): when a commit leaves
    /// any action of a unit undone, the guests the unit created are destroyed again (see
    /// `commit.rs`). `None` for a change staged on its own. Buffers saved before the field
    /// existed load as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl Action {
    pub fn new(op: Op, target: Target, precondition: Precondition) -> Action {
        Action {
            id: 0,
            op,
            target,
            precondition,
            unit: None,
        }
    }

    /// The same action, planned in `unit` (see [`Action::unit`]).
    pub fn in_unit(mut self, unit: &str) -> Action {
        self.unit = Some(unit.to_string());
        self
    }

    /// The guest this action creates, when it creates one: a clone's new VMID (on the node it
    /// is cloned to, of the template's kind, with its new name), or a creation's target.
    pub fn creates(&self) -> Option<Target> {
        match &self.op {
            Op::Clone {
                newid,
                name,
                target_node,
                ..
            } => Some(Target {
                vmid: *newid,
                node: target_node
                    .clone()
                    .unwrap_or_else(|| self.target.node.clone()),
                guest_kind: self.target.guest_kind,
                name: name.clone(),
            }),
            Op::Create { .. } => Some(self.target.clone()),
            _ => None,
        }
    }

    /// An action on `target` planned without reading its config (status as given).
    pub fn on(op: Op, target: Target, status: &str) -> Action {
        let pre = Precondition::unchecked(&target, status);
        Action::new(op, target, pre)
    }

    pub fn kind(&self) -> ActionKind {
        self.op.kind()
    }

    /// Why it is destructive, when it is.
    pub fn risk(&self) -> Option<String> {
        self.op.risk()
    }

    /// For `set` and `tag`: the config change.
    pub fn config_change(&self) -> Option<&ConfigChange> {
        match &self.op {
            Op::Set(c) | Op::Tag(c) => Some(c),
            _ => None,
        }
    }

    /// `stop`, `snapshot pre-upgrade`, `set cores=4 memory=8192`, `clone 9000 → web03 (123)`,
    /// and for raw writes `PUT /nodes/pve1/qemu/101/config description=x` (secrets redacted).
    pub fn summary(&self) -> String {
        let mut out = self.kind().as_str().to_string();
        let mut push = |s: &str| {
            out.push(' ');
            out.push_str(s);
        };
        match &self.op {
            Op::Shutdown {
                timeout,
                force_stop,
            } => {
                if *force_stop {
                    push("--force-stop");
                }
                if let Some(t) = timeout {
                    push(&format!("--timeout {t}"));
                }
            }
            Op::Destroy {
                purge,
                unreferenced_disks,
            } => {
                if *purge {
                    push("--purge");
                }
                if *unreferenced_disks {
                    push("--unreferenced-disks");
                }
            }
            Op::Snapshot { name, vmstate, .. } => {
                push(name);
                if *vmstate {
                    push("--vmstate");
                }
            }
            Op::Rollback { name, start } => {
                push(name);
                if *start {
                    push("--start");
                }
            }
            Op::Delsnapshot { name } => push(name),
            Op::Raw { method, path, .. } => {
                out = format!("{method} {path}");
                for (k, v) in self.op.shown_params() {
                    out.push_str(&format!(" {k}={v}"));
                }
            }
            Op::Clone {
                newid, name, full, ..
            } => {
                push(&format!("to {name} ({newid})"));
                if *full {
                    push("--full");
                }
            }
            Op::Resize { disk, size, .. } => push(&format!("{disk} {size}")),
            Op::Migrate {
                target,
                online,
                with_local_disks,
                target_storage,
            } => {
                push(&format!("to {target}"));
                if *online {
                    push("--online");
                }
                if *with_local_disks {
                    push("--with-local-disks");
                }
                if let Some(s) = target_storage {
                    push(&format!("--target-storage {s}"));
                }
            }
            Op::DiskAdd {
                disk,
                storage,
                size_gib,
            } => push(&format!("{disk} {size_gib}G on {storage}")),
            Op::DiskMove {
                disk,
                storage,
                delete,
                ..
            } => {
                push(&format!("{disk} to {storage}"));
                if *delete {
                    push("--delete");
                }
            }
            Op::DiskDetach { disk, .. } => push(disk),
            Op::Backup {
                storage,
                mode,
                protected,
                ..
            } => {
                if let Some(s) = storage {
                    push(&format!("to {s}"));
                }
                if let Some(m) = mode {
                    push(&format!("--mode {m}"));
                }
                if *protected {
                    push("--protected");
                }
            }
            Op::Restore { archive, force, .. } => {
                // The file name says what it is; `diff` shows the whole volid.
                push(archive.rsplit('/').next().unwrap_or(archive));
                if *force {
                    push("--force");
                }
            }
            Op::DeleteVolume { volume, .. } => push(volume),
            Op::Upload {
                filename,
                storage,
                size,
                checksum,
                ..
            } => {
                let checked = checksum
                    .as_ref()
                    .map(|c| format!(", {} checked", c.algorithm))
                    .unwrap_or_default();
                push(&format!(
                    "{filename} to {storage} ({}{checked})",
                    crate::lang::format_size(*size)
                ));
            }
            Op::Console { serial: Some(s) } => push(s),
            Op::Download { storage, params } => {
                let file = params.iter().find(|(k, _)| k == "filename");
                let file = file.map_or("a file", |(_, v)| v.as_str());
                let checked = params
                    .iter()
                    .find(|(k, _)| k == "checksum-algorithm")
                    .map(|(_, a)| format!(" ({a} checked)"))
                    .unwrap_or_default();
                push(&format!("{file} to {storage}{checked}"));
            }
            Op::Set(_) | Op::Tag(_) | Op::Create { .. } => {
                for (k, v) in self.op.shown_params() {
                    push(&format!("{k}={v}"));
                }
            }
            _ => {}
        }
        out
    }

    /// The request that carries it out. For config changes the planned `digest` guards against
    /// edits made in between (PVE answers "detected modified configuration" on a mismatch).
    pub fn request(&self) -> ApiRequest {
        let t = &self.target;
        let (kind, node, vmid) = (t.guest_kind, t.node.as_str(), t.vmid);
        let digest = self.precondition.digest.as_deref();
        let power = |p: PowerAction| endpoints::guest_power(kind, node, vmid, p);
        match &self.op {
            Op::Start => power(PowerAction::Start),
            Op::Stop => power(PowerAction::Stop),
            Op::Shutdown {
                timeout,
                force_stop,
            } => power(PowerAction::Shutdown)
                .opt("timeout", *timeout)
                .flag_if("forceStop", *force_stop),
            Op::Reboot => power(PowerAction::Reboot),
            Op::Reset => power(PowerAction::Reset),
            Op::Suspend => power(PowerAction::Suspend),
            Op::Resume => power(PowerAction::Resume),
            Op::Destroy {
                purge,
                unreferenced_disks,
            } => endpoints::guest_destroy(kind, node, vmid)
                .flag_if("purge", *purge)
                .flag_if("destroy-unreferenced-disks", *unreferenced_disks),
            Op::Snapshot {
                name,
                vmstate,
                description,
            } => {
                let req =
                    endpoints::snapshot_create(kind, node, vmid, name, description.as_deref());
                if kind == GuestKind::Qemu {
                    req.flag_if("vmstate", *vmstate)
                } else {
                    req
                }
            }
            Op::Rollback { name, start } => {
                endpoints::snapshot_rollback(kind, node, vmid, name, *start)
            }
            Op::Delsnapshot { name } => endpoints::snapshot_delete(kind, node, vmid, name, false),
            Op::Template => endpoints::template(kind, node, vmid),
            Op::Set(c) | Op::Tag(c) => {
                let changes: Vec<(String, String)> = c
                    .changes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                match kind {
                    GuestKind::Qemu => {
                        endpoints::qemu_config_update_async(node, vmid, &changes, digest)
                    }
                    GuestKind::Lxc => endpoints::lxc_config_update(node, vmid, &changes, digest),
                }
            }
            Op::Raw {
                method,
                path,
                params,
            } => {
                // A method word that is not PUT/POST/DELETE cannot come from `set`/`create`/
                // `delete`; a hand-edited buffer gets a GET, which changes nothing and fails
                // loudly at the server if the path does not take it.
                let method = [Method::Put, Method::Post, Method::Delete]
                    .into_iter()
                    .find(|m| m.as_str() == method)
                    .unwrap_or(Method::Get);
                let mut req = ApiRequest::new(method, path.as_str());
                for (k, v) in params {
                    req = req.param(k, v);
                }
                req
            }
            Op::Clone {
                newid,
                name,
                full,
                target_node,
                storage,
                pool,
            } => {
                let name_key = match kind {
                    GuestKind::Qemu => "name",
                    GuestKind::Lxc => "hostname",
                };
                endpoints::clone(kind, node, vmid, *newid)
                    .param(name_key, name)
                    .flag_if("full", *full)
                    .opt("target", target_node.as_deref())
                    .opt("storage", storage.as_deref())
                    .opt("pool", pool.as_deref())
            }
            Op::Resize { disk, size, .. } => {
                endpoints::resize(kind, node, vmid, disk, size, digest)
            }
            Op::Migrate {
                target,
                online,
                with_local_disks,
                target_storage,
            } => {
                let req = endpoints::migrate(kind, node, vmid, target);
                match kind {
                    GuestKind::Qemu => req
                        .flag_if("online", *online)
                        .flag_if("with-local-disks", *with_local_disks)
                        .opt("targetstorage", target_storage.as_deref()),
                    // A running container cannot move live: `restart` stops it, moves it and
                    // starts it again on the target.
                    GuestKind::Lxc => req
                        .flag_if("restart", *online)
                        .opt("target-storage", target_storage.as_deref()),
                }
            }
            Op::DiskAdd {
                disk,
                storage,
                size_gib,
            } => {
                let change = vec![(disk.clone(), format!("{storage}:{size_gib}"))];
                match kind {
                    GuestKind::Qemu => {
                        endpoints::qemu_config_update_async(node, vmid, &change, digest)
                    }
                    GuestKind::Lxc => endpoints::lxc_config_update(node, vmid, &change, digest),
                }
            }
            Op::DiskMove {
                disk,
                storage,
                delete,
                ..
            } => endpoints::move_disk(kind, node, vmid, disk, storage, digest)
                .flag_if("delete", *delete),
            Op::DiskDetach { disk, .. } => endpoints::unlink(node, vmid, disk),
            Op::Backup {
                storage,
                mode,
                compress,
                notes,
                protected,
            } => endpoints::vzdump(node, vmid)
                .opt("storage", storage.as_deref())
                .opt("mode", mode.as_deref())
                .opt("compress", compress.as_deref())
                .opt("notes-template", notes.as_deref())
                .flag_if("protected", *protected),
            Op::Restore {
                archive,
                storage,
                force,
                unique,
            } => {
                let base = ApiRequest::post(format!("/nodes/{}/{kind}", encode_segment(node)))
                    .param("vmid", vmid);
                let req = match kind {
                    GuestKind::Qemu => base.param("archive", archive),
                    GuestKind::Lxc => base.param("ostemplate", archive).param("restore", 1),
                };
                req.opt("storage", storage.as_deref())
                    .flag_if("force", *force)
                    .flag_if("unique", *unique)
            }
            Op::Create { params } => {
                let mut req = ApiRequest::post(format!("/nodes/{}/{kind}", encode_segment(node)))
                    .param("vmid", vmid);
                for (k, v) in params {
                    req = req.param(k, v);
                }
                req
            }
            Op::Download { storage, params } => {
                let mut req = ApiRequest::post(format!(
                    "/nodes/{}/storage/{}/download-url",
                    encode_segment(node),
                    encode_segment(storage)
                ));
                for (k, v) in params {
                    req = req.param(k, v);
                }
                req
            }
            Op::Upload {
                storage,
                content,
                filename,
                checksum,
                ..
            } => {
                let req = ApiRequest::post(format!(
                    "/nodes/{}/storage/{}/upload",
                    encode_segment(node),
                    encode_segment(storage)
                ))
                .param("content", content)
                .param("filename", filename);
                match checksum {
                    Some(c) => req
                        .param("checksum-algorithm", &c.algorithm)
                        .param("checksum", &c.value),
                    None => req,
                }
            }
            Op::DeleteVolume { storage, volume } => ApiRequest::delete(format!(
                "/nodes/{}/storage/{}/content/{}",
                encode_segment(node),
                encode_segment(storage),
                encode_segment(volume)
            )),
            Op::Console { serial } => endpoints::termproxy(kind, node, vmid, serial.as_deref()),
        }
    }

    /// What it changes, as (field, before, after) rows for `diff`.
    pub fn diff(&self) -> Vec<(String, String, String)> {
        let status = self.precondition.status.clone();
        let row = |f: &str, b: &str, a: &str| (f.to_string(), b.to_string(), a.to_string());
        match &self.op {
            Op::Set(c) | Op::Tag(c) => c
                .changes
                .iter()
                .map(|(k, v)| {
                    let before = c.before.get(k).cloned().unwrap_or_default();
                    (k.clone(), shown(k, &before), shown(k, v))
                })
                .collect(),
            Op::Stop | Op::Shutdown { .. } => vec![row("status", &status, "stopped")],
            Op::Start | Op::Resume => vec![row("status", &status, "running")],
            Op::Suspend => vec![row("status", &status, "paused")],
            Op::Reboot | Op::Reset => vec![row("status", &status, "running (restarted)")],
            Op::Destroy { .. } => vec![row("guest", "exists", "destroyed")],
            Op::Template => vec![row("template", "0", "1")],
            Op::Snapshot { name, .. } => vec![row(&format!("snapshot {name}"), "-", "taken")],
            Op::Rollback { name, .. } => {
                vec![row("state", "current", &format!("as at snapshot {name}"))]
            }
            Op::Delsnapshot { name } => {
                vec![row(&format!("snapshot {name}"), "exists", "deleted")]
            }
            // A raw write says what it sends; pvesh+ does not guess its effect.
            Op::Raw { method, path, .. } => {
                let params: Vec<String> = self
                    .op
                    .shown_params()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                vec![row(&format!("{method} {path}"), "-", &params.join(" "))]
            }
            Op::Clone { newid, name, .. } => {
                vec![row(
                    &format!("guest {newid}"),
                    "-",
                    &format!("clone {name}"),
                )]
            }
            Op::Resize {
                disk,
                size,
                from,
                to,
            } => {
                let after = match (to, size.starts_with('+')) {
                    (Some(to), true) => format!("{to} ({size})"),
                    (Some(to), false) => to.clone(),
                    (None, _) => size.clone(),
                };
                let before = from.as_deref().unwrap_or("current");
                vec![row(&format!("{disk} size"), before, &after)]
            }
            Op::Migrate {
                target,
                online,
                with_local_disks,
                ..
            } => {
                let mut how = match (online, self.target.guest_kind) {
                    (true, GuestKind::Qemu) => "online (live)".to_string(),
                    (true, GuestKind::Lxc) => "restart (stop, move, start)".to_string(),
                    (false, _) => "offline".to_string(),
                };
                if *with_local_disks {
                    how.push_str(", local disks copied");
                }
                vec![
                    row("node", &self.precondition.node, target),
                    row("migration", "-", &how),
                ]
            }
            Op::DiskAdd {
                disk,
                storage,
                size_gib,
            } => vec![row(
                disk,
                "-",
                &format!("new {size_gib}G disk on {storage}"),
            )],
            Op::DiskMove {
                disk,
                storage,
                delete,
                from,
            } => {
                let before = from.as_deref().unwrap_or("current");
                let old = if *delete {
                    "deleted"
                } else {
                    "kept as an unused disk"
                };
                vec![
                    row(&format!("{disk} storage"), before, storage),
                    row("old volume", "in use", old),
                ]
            }
            Op::DiskDetach { disk, volume } => {
                vec![row(disk, volume, "detached (kept as an unused disk)")]
            }
            Op::Backup { storage, .. } => {
                let on = storage.as_deref().unwrap_or("the default storage");
                vec![row(&format!("{on} content"), "-", "new backup")]
            }
            Op::Restore { archive, force, .. } => {
                let before = if *force { "replaced" } else { "-" };
                vec![row("guest", before, &format!("restored from {archive}"))]
            }
            Op::Create { .. } => vec![row("guest", "-", "created")],
            Op::Download { storage, params } => {
                let url = params.iter().find(|(k, _)| k == "url");
                let url = url.map_or("its URL", |(_, v)| v.as_str());
                vec![row(
                    &format!("{storage} content"),
                    "-",
                    &format!("downloaded from {url}"),
                )]
            }
            Op::Upload {
                storage,
                content,
                filename,
                ..
            } => vec![row(
                &format!("{storage}:{content}/{filename}"),
                "-",
                "uploaded",
            )],
            Op::DeleteVolume { volume, .. } => vec![row(volume, "exists", "deleted")],
            Op::Console { serial } => vec![row(
                "console",
                "-",
                &format!(
                    "opened{}",
                    serial
                        .as_ref()
                        .map(|s| format!(" on {s}"))
                        .unwrap_or_default()
                ),
            )],
        }
    }

    /// `text` (an error from the server, which may quote a value it refused) with the values of
    /// secret parameters replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in self.op.secret_values() {
            out = out.replace(v, "<redacted>");
        }
        out
    }

    /// The parameters as written to the audit log: anything that looks like a secret is
    /// replaced, and the request's own (digest, flags) are included.
    pub fn audit_params(&self) -> BTreeMap<String, String> {
        self.request()
            .params
            .iter()
            .map(|(k, v)| (k.clone(), shown(k, v)))
            .collect()
    }
}

#[cfg(test)]
#[path = "action_tests.rs"]
mod tests;
