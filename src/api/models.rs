//! Typed views of a few PVE answers: `GET /nodes`, `GET /version`, a task's status and log.
//!
//! Every optional field is an `Option`, unknown fields are ignored, and every number is decoded
//! leniently (see `de`): PVE sends `pid` as `1234` or `"1234"`. Field names are PVE's (renamed
//! where Rust needs it, e.g. `type` → `kind`). Commands read the raw `serde_json::Value`
//! (records), so only what the client decodes itself is modelled here.

use serde::Deserialize;

use super::de;

/// Splits PVE's tag string (`a;b`, older versions also `,` or spaces) into tags.
pub fn split_tags(tags: &str) -> Vec<String> {
    tags.split([';', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
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

#[cfg(test)]
#[path = "models_tests.rs"]
mod tests;
