//! Typed views of the PVE answers that commands read.
//!
//! Every optional field is an `Option`, unknown fields are ignored, and every number or flag
//! is decoded leniently (see `de`): PVE sends `vmid` as `100` or `"100"`, flags as `0`/`1` or
//! `true`/`false`. Field names are PVE's (renamed where Rust needs it, e.g. `type` → `kind`).
//! Commands that need a field not modelled here read the raw `serde_json::Value`.

use serde::Deserialize;
use serde_json::Value;

use super::de;
use super::endpoints::GuestKind;

/// One row of `GET /cluster/resources` (FACTS §5): a guest, node, storage, sdn or pool.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClusterResource {
    pub id: String,
    /// `qemu`, `lxc`, `node`, `storage`, `sdn`, `pool`, `network`...
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub vmid: Option<u32>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub template: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub memhost: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netin: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub netout: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub diskread: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub diskwrite: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    #[serde(default)]
    pub pool: Option<String>,
    /// Semicolon-separated, as PVE sends it; see [`ClusterResource::tag_list`].
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tags: Option<String>,
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default)]
    pub hastate: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    #[serde(default)]
    pub plugintype: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub shared: Option<bool>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub sdn: Option<String>,
}

/// Splits PVE's tag string (`a;b`, older versions also `,` or spaces) into tags.
pub fn split_tags(tags: &str) -> Vec<String> {
    tags.split([';', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

impl ClusterResource {
    /// `Some` for QEMU VMs and LXC containers.
    pub fn guest_kind(&self) -> Option<GuestKind> {
        GuestKind::from_type(&self.kind)
    }

    pub fn tag_list(&self) -> Vec<String> {
        self.tags.as_deref().map(split_tags).unwrap_or_default()
    }
}

/// One row of `GET /nodes`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NodeInfo {
    pub node: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    #[serde(default)]
    pub level: Option<String>,
    /// SHA-256 of the node's certificate, `AA:BB:...`.
    #[serde(default)]
    pub ssl_fingerprint: Option<String>,
}

/// `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VersionInfo {
    pub version: String,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub release: Option<String>,
    #[serde(default)]
    pub repoid: Option<String>,
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskStatus {
    /// `running` or `stopped`.
    pub status: String,
    /// Only when stopped: "OK", "WARNINGS: n" or the error text.
    #[serde(default)]
    pub exitstatus: Option<String>,
    #[serde(default)]
    pub upid: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub pid: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub pstart: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub starttime: Option<i64>,
}

/// One line of `GET .../tasks/{upid}/log`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskLogLine {
    #[serde(deserialize_with = "de::u64_lenient")]
    pub n: u64,
    #[serde(deserialize_with = "de::string_lenient")]
    pub t: String,
}

/// One row of `GET /nodes/{node}/tasks` or `GET /cluster/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskListEntry {
    pub upid: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub id: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub starttime: Option<i64>,
    /// Absent while running.
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub endtime: Option<i64>,
    /// The final exit status ("OK" or the error text); absent while running.
    #[serde(default)]
    pub status: Option<String>,
}

/// One row of `GET /nodes/{node}/storage`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StorageInfo {
    pub storage: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub shared: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub avail: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub used_fraction: Option<f64>,
}

/// One row of `GET /nodes/{node}/storage/{storage}/content`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StorageContent {
    pub volid: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub size: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub ctime: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub vmid: Option<u32>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub protected: Option<bool>,
    #[serde(default)]
    pub parent: Option<String>,
}

/// One row of `GET .../snapshot`; the pseudo entry `current` ("You are here!") included.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Snapshot {
    #[serde(deserialize_with = "de::string_lenient")]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub snaptime: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub vmstate: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub running: Option<bool>,
}

impl Snapshot {
    /// True for the `current` pseudo entry, which is not a snapshot.
    pub fn is_current(&self) -> bool {
        self.name == "current"
    }
}

/// `GET .../status/current` of a guest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GuestStatus {
    /// `running` or `stopped`.
    pub status: String,
    #[serde(default)]
    pub qmpstatus: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u32")]
    pub vmid: Option<u32>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub template: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub tags: Option<String>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpus: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub pid: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub agent: Option<bool>,
    /// `{"managed": 0|1, ...}`.
    #[serde(default)]
    pub ha: Option<Value>,
}

#[cfg(test)]
#[path = "models_tests.rs"]
mod tests;
