//! Pure endpoint builders: one function per PVE API call pvesh+ makes.
//!
//! Each returns an [`ApiRequest`] (method, encoded path, parameters) and does no IO, so it is
//! tested as strings. Paths and parameter names are taken verbatim from the PVE 9.1 schema
//! (`shared/pve-api/apidata.json`). Path segments are percent-encoded (UPIDs hold `:`, `@`, `!`).
//! Optional parameters that only some callers need are added by chaining
//! [`ApiRequest::param`]/[`ApiRequest::flag`] on the result.

use std::fmt;

pub use super::request::{ApiRequest, Method, encode_segment};
use super::upid::Upid;

/// QEMU VM or LXC container: the path segment under `/nodes/{node}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    Qemu,
    Lxc,
}

impl GuestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }

    /// `qemu` or `lxc` as in `/cluster/resources` `type`; anything else is not a guest.
    pub fn from_type(s: &str) -> Option<GuestKind> {
        match s {
            "qemu" => Some(GuestKind::Qemu),
            "lxc" => Some(GuestKind::Lxc),
            _ => None,
        }
    }
}

impl fmt::Display for GuestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST .../status/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerAction {
    Start,
    Stop,
    Shutdown,
    Reboot,
    Reset,
    Suspend,
    Resume,
}

impl PowerAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerAction::Start => "start",
            PowerAction::Stop => "stop",
            PowerAction::Shutdown => "shutdown",
            PowerAction::Reboot => "reboot",
            PowerAction::Reset => "reset",
            PowerAction::Suspend => "suspend",
            PowerAction::Resume => "resume",
        }
    }

    /// Containers have no `reset` (the schema has no `/lxc/{vmid}/status/reset`).
    pub fn supported_by(self, kind: GuestKind) -> bool {
        !(kind == GuestKind::Lxc && self == PowerAction::Reset)
    }
}

impl fmt::Display for PowerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn seg(s: &str) -> String {
    encode_segment(s)
}

fn node_path(node: &str, rest: &str) -> String {
    format!("/nodes/{}{rest}", seg(node))
}

fn guest_path(kind: GuestKind, node: &str, vmid: u32, rest: &str) -> String {
    format!("/nodes/{}/{kind}/{vmid}{rest}", seg(node))
}

// ---- Cluster and nodes -------------------------------------------------------------------

pub fn version() -> ApiRequest {
    ApiRequest::get("/version")
}

/// `GET /cluster/resources[?type=vm|storage|node|sdn]`.
pub fn cluster_resources(kind: Option<&str>) -> ApiRequest {
    ApiRequest::get("/cluster/resources").opt("type", kind)
}

pub fn cluster_status() -> ApiRequest {
    ApiRequest::get("/cluster/status")
}

/// `GET /cluster/nextid[?vmid=N]`; with a VMID it asserts that the id is free.
pub fn cluster_nextid(vmid: Option<u32>) -> ApiRequest {
    ApiRequest::get("/cluster/nextid").opt("vmid", vmid)
}

pub fn cluster_tasks() -> ApiRequest {
    ApiRequest::get("/cluster/tasks")
}

/// `GET /cluster/backup`: the scheduled backup jobs.
pub fn cluster_backup_jobs() -> ApiRequest {
    ApiRequest::get("/cluster/backup")
}

pub fn nodes() -> ApiRequest {
    ApiRequest::get("/nodes")
}

pub fn pools() -> ApiRequest {
    ApiRequest::get("/pools")
}

// ---- Tasks -------------------------------------------------------------------------------

pub fn task_status(node: &str, upid: &Upid) -> ApiRequest {
    ApiRequest::get(node_path(
        node,
        &format!("/tasks/{}/status", seg(&upid.to_string())),
    ))
}

/// Which tasks `GET /nodes/{node}/tasks` lists (its `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSource {
    /// Finished tasks (PVE's default).
    Archive,
    /// Running tasks.
    Active,
    All,
}

/// `GET /nodes/{node}/tasks?start=0&limit=N&source=...[&vmid=V]`: one node's tasks, newest
/// first; the answer's `total` counts all that match, not only the page.
pub fn node_tasks(node: &str, limit: usize, source: TaskSource, vmid: Option<u32>) -> ApiRequest {
    let source = match source {
        TaskSource::Archive => "archive",
        TaskSource::Active => "active",
        TaskSource::All => "all",
    };
    ApiRequest::get(node_path(node, "/tasks"))
        .param("start", 0)
        .param("limit", limit)
        .param("source", source)
        .opt("vmid", vmid)
}

/// `GET .../tasks/{upid}/log?start=N&limit=M` (lines are numbered from 1; `start` skips lines).
pub fn task_log(node: &str, upid: &Upid, start: u64, limit: u64) -> ApiRequest {
    ApiRequest::get(node_path(
        node,
        &format!("/tasks/{}/log", seg(&upid.to_string())),
    ))
    .param("start", start)
    .param("limit", limit)
}

// ---- Storage -----------------------------------------------------------------------------

pub fn storage_list(node: &str) -> ApiRequest {
    ApiRequest::get(node_path(node, "/storage"))
}

pub fn storage_content(
    node: &str,
    storage: &str,
    content: Option<&str>,
    vmid: Option<u32>,
) -> ApiRequest {
    ApiRequest::get(node_path(
        node,
        &format!("/storage/{}/content", seg(storage)),
    ))
    .opt("content", content)
    .opt("vmid", vmid)
}

// ---- Guests ------------------------------------------------------------------------------

pub fn guest_status_current(kind: GuestKind, node: &str, vmid: u32) -> ApiRequest {
    ApiRequest::get(guest_path(kind, node, vmid, "/status/current"))
}

/// `POST .../status/{action}` → UPID. Extra parameters (`skiplock`, `timeout`, `forceStop`...)
/// are chained by the caller.
pub fn guest_power(kind: GuestKind, node: &str, vmid: u32, action: PowerAction) -> ApiRequest {
    ApiRequest::post(guest_path(kind, node, vmid, &format!("/status/{action}")))
}

/// `POST .../termproxy` → `{port, ticket, user, upid}`: PVE starts a `vncproxy` worker running
/// termproxy, which waits 10 s for the websocket. `serial` (`serial0`..`serial3`) is QEMU-only.
pub fn termproxy(kind: GuestKind, node: &str, vmid: u32, serial: Option<&str>) -> ApiRequest {
    let req = ApiRequest::post(guest_path(kind, node, vmid, "/termproxy"));
    match kind {
        GuestKind::Qemu => req.opt("serial", serial),
        GuestKind::Lxc => req,
    }
}

/// The path and query of `GET .../vncwebsocket?port=&vncticket=`, the websocket to a termproxy
/// (below `/api2/json`). The ticket is in it: never show or log the result.
pub fn vncwebsocket_path(
    kind: GuestKind,
    node: &str,
    vmid: u32,
    port: u16,
    ticket: &str,
) -> String {
    let ticket = percent_encoding::utf8_percent_encode(ticket, percent_encoding::NON_ALPHANUMERIC);
    format!(
        "{}?port={port}&vncticket={ticket}",
        guest_path(kind, node, vmid, "/vncwebsocket")
    )
}

/// `GET .../config` (pending changes applied; chain `.flag("current", true)` for the running one).
pub fn guest_config(kind: GuestKind, node: &str, vmid: u32) -> ApiRequest {
    ApiRequest::get(guest_path(kind, node, vmid, "/config"))
}

pub fn qemu_config(node: &str, vmid: u32) -> ApiRequest {
    guest_config(GuestKind::Qemu, node, vmid)
}

fn with_changes(
    mut req: ApiRequest,
    changes: &[(String, String)],
    digest: Option<&str>,
) -> ApiRequest {
    req.params.extend(changes.iter().cloned());
    req.opt("digest", digest)
}

/// `POST .../qemu/{vmid}/config`: asynchronous, answers a UPID (or `null` when done quickly).
pub fn qemu_config_update_async(
    node: &str,
    vmid: u32,
    changes: &[(String, String)],
    digest: Option<&str>,
) -> ApiRequest {
    with_changes(
        ApiRequest::post(guest_path(GuestKind::Qemu, node, vmid, "/config")),
        changes,
        digest,
    )
}

/// `PUT .../lxc/{vmid}/config` (containers have only the synchronous form).
pub fn lxc_config_update(
    node: &str,
    vmid: u32,
    changes: &[(String, String)],
    digest: Option<&str>,
) -> ApiRequest {
    with_changes(
        ApiRequest::put(guest_path(GuestKind::Lxc, node, vmid, "/config")),
        changes,
        digest,
    )
}

pub fn qemu_pending(node: &str, vmid: u32) -> ApiRequest {
    ApiRequest::get(guest_path(GuestKind::Qemu, node, vmid, "/pending"))
}

/// `DELETE /nodes/{node}/{kind}/{vmid}` → UPID. Chain `purge`, `destroy-unreferenced-disks`.
pub fn guest_destroy(kind: GuestKind, node: &str, vmid: u32) -> ApiRequest {
    ApiRequest::delete(guest_path(kind, node, vmid, ""))
}

// ---- Snapshots ---------------------------------------------------------------------------

pub fn snapshot_list(kind: GuestKind, node: &str, vmid: u32) -> ApiRequest {
    ApiRequest::get(guest_path(kind, node, vmid, "/snapshot"))
}

/// `POST .../snapshot` → UPID. For QEMU chain `.flag("vmstate", true)` to save RAM.
pub fn snapshot_create(
    kind: GuestKind,
    node: &str,
    vmid: u32,
    snapname: &str,
    description: Option<&str>,
) -> ApiRequest {
    ApiRequest::post(guest_path(kind, node, vmid, "/snapshot"))
        .param("snapname", snapname)
        .opt("description", description)
}

pub fn snapshot_delete(
    kind: GuestKind,
    node: &str,
    vmid: u32,
    snapname: &str,
    force: bool,
) -> ApiRequest {
    ApiRequest::delete(guest_path(
        kind,
        node,
        vmid,
        &format!("/snapshot/{}", seg(snapname)),
    ))
    .flag_if("force", force)
}

/// `POST .../snapshot/{name}/rollback` → UPID; `start` starts the guest afterwards.
pub fn snapshot_rollback(
    kind: GuestKind,
    node: &str,
    vmid: u32,
    snapname: &str,
    start: bool,
) -> ApiRequest {
    ApiRequest::post(guest_path(
        kind,
        node,
        vmid,
        &format!("/snapshot/{}/rollback", seg(snapname)),
    ))
    .flag_if("start", start)
}

// ---- Lifecycle ---------------------------------------------------------------------------

/// `POST .../clone` → UPID. Chain `name` (QEMU) / `hostname` (LXC), `full`, `target`,
/// `storage`, `pool`, `snapname`.
pub fn clone(kind: GuestKind, node: &str, vmid: u32, newid: u32) -> ApiRequest {
    ApiRequest::post(guest_path(kind, node, vmid, "/clone")).param("newid", newid)
}

pub fn template(kind: GuestKind, node: &str, vmid: u32) -> ApiRequest {
    ApiRequest::post(guest_path(kind, node, vmid, "/template"))
}

/// `PUT .../resize`: `size` is `+10G` (grow by) or `40G` (grow to).
pub fn resize(
    kind: GuestKind,
    node: &str,
    vmid: u32,
    disk: &str,
    size: &str,
    digest: Option<&str>,
) -> ApiRequest {
    ApiRequest::put(guest_path(kind, node, vmid, "/resize"))
        .param("disk", disk)
        .param("size", size)
        .opt("digest", digest)
}

/// `POST .../migrate` → UPID. Chain `online` / `restart`, `with-local-disks`, the storage map.
pub fn migrate(kind: GuestKind, node: &str, vmid: u32, target: &str) -> ApiRequest {
    ApiRequest::post(guest_path(kind, node, vmid, "/migrate")).param("target", target)
}

/// `GET .../migrate`: what PVE reports before a migration (QEMU only: local disks, local
/// resources, allowed nodes).
pub fn migrate_precondition(node: &str, vmid: u32, target: Option<&str>) -> ApiRequest {
    ApiRequest::get(guest_path(GuestKind::Qemu, node, vmid, "/migrate")).opt("target", target)
}

/// `POST .../move_disk` (QEMU) or `.../move_volume` (LXC) to `storage` → UPID.
pub fn move_disk(
    kind: GuestKind,
    node: &str,
    vmid: u32,
    disk: &str,
    storage: &str,
    digest: Option<&str>,
) -> ApiRequest {
    let (sub, key) = match kind {
        GuestKind::Qemu => ("/move_disk", "disk"),
        GuestKind::Lxc => ("/move_volume", "volume"),
    };
    ApiRequest::post(guest_path(kind, node, vmid, sub))
        .param(key, disk)
        .param("storage", storage)
        .opt("digest", digest)
}

/// `PUT /nodes/{node}/qemu/{vmid}/unlink`: without `force` the disks become `unusedN`.
pub fn unlink(node: &str, vmid: u32, disks: &str) -> ApiRequest {
    ApiRequest::put(guest_path(GuestKind::Qemu, node, vmid, "/unlink")).param("idlist", disks)
}

/// `POST /nodes/{node}/vzdump` of one guest → UPID.
pub fn vzdump(node: &str, vmid: u32) -> ApiRequest {
    ApiRequest::post(format!("/nodes/{}/vzdump", seg(node))).param("vmid", vmid)
}

pub fn agent_network(node: &str, vmid: u32) -> ApiRequest {
    ApiRequest::get(guest_path(
        GuestKind::Qemu,
        node,
        vmid,
        "/agent/network-get-interfaces",
    ))
}

// ---- Access ------------------------------------------------------------------------------

/// `POST /access/ticket` with a password (or a still valid ticket, to renew it) and an
/// optional TOTP code.
pub fn access_ticket(username: &str, password: &str, otp: Option<&str>) -> ApiRequest {
    ApiRequest::post("/access/ticket")
        .param("username", username)
        .param("password", password)
        .opt("otp", otp)
}

/// `POST /access/ticket` answering a TFA challenge: the half ticket and the code.
pub fn access_ticket_tfa(username: &str, challenge: &str, code: &str) -> ApiRequest {
    ApiRequest::post("/access/ticket")
        .param("username", username)
        .param("tfa-challenge", challenge)
        .param("password", code)
}

#[cfg(test)]
#[path = "endpoints_tests.rs"]
mod tests;
