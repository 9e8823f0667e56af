//! The sections of `cluster-config.yaml` other than clusters: defaults, VMID ranges, tags,
//! cloud-init, protection, read-only guests, quotas, profiles, staging, audit and the dashboard's thresholds.
//!
//! Each type is the parsed and validated form of its section: a value that made it into one of
//! these structs is well-formed (sizes parsed, ranges ordered, tags in PVE's tag syntax). Unknown
//! keys are refused so a typo never silently turns a policy off. This file does no IO except
//! reading SSH public key files on request.

use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};

use super::error::ConfigError;
use super::size::Size;
use super::{expand_tilde, or_default};

/// Creation defaults used by `create` and the wizards when a value is not given.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub storage: Option<String>,
    pub bridge: Option<String>,
    pub bios: Option<Bios>,
    pub machine: Option<String>,
    pub cpu: Option<String>,
    pub scsihw: Option<ScsiHw>,
    pub agent: Option<bool>,
    pub ostype: Option<OsType>,
}

/// QEMU `bios` (enum in the PVE schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bios {
    Seabios,
    Ovmf,
}

impl Bios {
    pub fn as_str(self) -> &'static str {
        match self {
            Bios::Seabios => "seabios",
            Bios::Ovmf => "ovmf",
        }
    }
}

/// QEMU `scsihw` (enum in the PVE schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScsiHw {
    Lsi,
    Lsi53c810,
    VirtioScsiPci,
    VirtioScsiSingle,
    Megasas,
    Pvscsi,
}

impl ScsiHw {
    pub fn as_str(self) -> &'static str {
        match self {
            ScsiHw::Lsi => "lsi",
            ScsiHw::Lsi53c810 => "lsi53c810",
            ScsiHw::VirtioScsiPci => "virtio-scsi-pci",
            ScsiHw::VirtioScsiSingle => "virtio-scsi-single",
            ScsiHw::Megasas => "megasas",
            ScsiHw::Pvscsi => "pvscsi",
        }
    }
}

/// QEMU `ostype` (enum in the PVE schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsType {
    Other,
    Wxp,
    W2k,
    W2k3,
    W2k8,
    Wvista,
    Win7,
    Win8,
    Win10,
    Win11,
    L24,
    L26,
    Solaris,
}

impl OsType {
    pub fn as_str(self) -> &'static str {
        match self {
            OsType::Other => "other",
            OsType::Wxp => "wxp",
            OsType::W2k => "w2k",
            OsType::W2k3 => "w2k3",
            OsType::W2k8 => "w2k8",
            OsType::Wvista => "wvista",
            OsType::Win7 => "win7",
            OsType::Win8 => "win8",
            OsType::Win10 => "win10",
            OsType::Win11 => "win11",
            OsType::L24 => "l24",
            OsType::L26 => "l26",
            OsType::Solaris => "solaris",
        }
    }
}

/// Where new VMIDs are taken from, per kind of guest. Unset kinds are unrestricted.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmidRanges {
    pub vm: Option<VmidRange>,
    pub template: Option<VmidRange>,
    pub ct: Option<VmidRange>,
}

/// An inclusive VMID range, written `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<u64>")]
pub struct VmidRange {
    min: u32,
    max: u32,
}

/// PVE's VMID bounds (`pve-vmid`: 100 ..= 999999999).
pub const VMID_MIN: u32 = 100;
pub const VMID_MAX: u32 = 999_999_999;

impl VmidRange {
    pub fn new(min: u32, max: u32) -> Result<Self, String> {
        if min < VMID_MIN || max > VMID_MAX {
            return Err(format!(
                "VMIDs must be between {VMID_MIN} and {VMID_MAX}, got [{min}, {max}]"
            ));
        }
        if min > max {
            return Err(format!(
                "range [{min}, {max}] is empty: the first number must not exceed the second"
            ));
        }
        Ok(VmidRange { min, max })
    }

    pub fn min(self) -> u32 {
        self.min
    }

    pub fn max(self) -> u32 {
        self.max
    }

    pub fn contains(self, vmid: u32) -> bool {
        (self.min..=self.max).contains(&vmid)
    }
}

impl TryFrom<Vec<u64>> for VmidRange {
    type Error = String;

    fn try_from(value: Vec<u64>) -> Result<Self, String> {
        match value[..] {
            [min, max] => {
                let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
                VmidRange::new(clamp(min), clamp(max))
            }
            _ => Err(format!(
                "a VMID range is two numbers, [min, max]; got {} numbers",
                value.len()
            )),
        }
    }
}

impl fmt::Display for VmidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// Tags people use, for completion and validation, and their colors in the web UI.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsConfig {
    #[serde(default, deserialize_with = "or_default")]
    pub known: Vec<Tag>,
    #[serde(default, deserialize_with = "or_default")]
    pub colors: IndexMap<Tag, Color>,
}

/// A tag in PVE's `pve-tag` syntax: `[a-z0-9_][a-z0-9_+.-]*`, case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct Tag(String);

impl Tag {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Tag {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let mut chars = value.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_-+.".contains(c));
        if first_ok && rest_ok {
            Ok(Tag(value))
        } else {
            Err(format!(
                "`{value}` is not a valid PVE tag: use letters, digits and _ + - . (not first)"
            ))
        }
    }
}

/// A color as six hex digits, written `"#1e90ff"` or `"1e90ff"`; stored without `#`, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Color(String);

impl Color {
    /// Six lower-case hex digits, as PVE's `tag-style` color map wants them.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Color {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let hex = value.strip_prefix('#').unwrap_or(&value);
        if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Color(hex.to_ascii_lowercase()))
        } else {
            Err(format!(
                "`{value}` is not a color: write six hex digits, e.g. \"#1e90ff\""
            ))
        }
    }
}

/// Cloud-init values the create wizard fills in.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudInit {
    pub user: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub ssh_keys: Vec<SshKey>,
    pub nameserver: Option<String>,
    pub searchdomain: Option<String>,
    /// `ipconfig0` for new guests, e.g. `ip=dhcp`.
    pub ipconfig: Option<String>,
    /// Run a package upgrade on first boot (`ciupgrade`).
    pub upgrade: Option<bool>,
}

/// An SSH public key: a `.pub` file (`~` expanded) or the key itself (`ssh-ed25519 AAAA...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshKey {
    File(PathBuf),
    Inline(String),
}

impl<'de> Deserialize<'de> for SshKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let is_key = ["ssh-", "ecdsa-", "sk-"]
            .iter()
            .any(|p| text.starts_with(p));
        Ok(if is_key {
            SshKey::Inline(text)
        } else {
            SshKey::File(expand_tilde(Path::new(&text)))
        })
    }
}

impl CloudInit {
    /// All public keys, one per line, reading the files. An unreadable file is an error.
    pub fn read_ssh_keys(&self) -> Result<String, ConfigError> {
        let mut keys = Vec::new();
        for key in &self.ssh_keys {
            match key {
                SshKey::Inline(text) => keys.push(text.trim().to_string()),
                SshKey::File(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                        path: path.clone(),
                        reason: format!("{e} (listed in `cloudinit.ssh_keys`)"),
                    })?;
                    keys.extend(
                        text.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_string),
                    );
                }
            }
        }
        Ok(keys.join("\n"))
    }
}

/// Guests that destructive actions must refuse, by VMID, name or tag (in addition to PVE's own
/// `protection` flag, which the staging code checks on the guest itself).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protected {
    #[serde(default, deserialize_with = "or_default")]
    pub vmids: Vec<u32>,
    #[serde(default, deserialize_with = "or_default")]
    pub names: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub tags: Vec<Tag>,
}

impl Protected {
    /// Why the guest is protected by this config, or `None` if it is not.
    pub fn reason(&self, vmid: u32, name: Option<&str>, tags: &[&str]) -> Option<String> {
        list_reason(
            "protected",
            &self.vmids,
            &self.names,
            &self.tags,
            vmid,
            name,
            tags,
        )
    }
}

/// Guests that refuse every change, not only destructive ones (start, set, snapshot, tag,
/// migrate, a console, a raw write...), by VMID, name or tag; reads stay allowed.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readonly {
    #[serde(default, deserialize_with = "or_default")]
    pub vmids: Vec<u32>,
    #[serde(default, deserialize_with = "or_default")]
    pub names: Vec<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub tags: Vec<Tag>,
}

impl Readonly {
    /// Why the guest is read-only by this config, or `None` if it is not.
    pub fn reason(&self, vmid: u32, name: Option<&str>, tags: &[&str]) -> Option<String> {
        list_reason(
            "readonly",
            &self.vmids,
            &self.names,
            &self.tags,
            vmid,
            name,
            tags,
        )
    }
}

/// The rule of a guest list (`protected`, `readonly`) that names this guest, if one does.
fn list_reason(
    section: &str,
    vmids: &[u32],
    names: &[String],
    tags: &[Tag],
    vmid: u32,
    name: Option<&str>,
    guest_tags: &[&str],
) -> Option<String> {
    if vmids.contains(&vmid) {
        return Some(format!("VMID {vmid} is listed in `{section}.vmids`"));
    }
    if let Some(name) = name.filter(|n| names.iter().any(|p| p == n)) {
        return Some(format!("name `{name}` is listed in `{section}.names`"));
    }
    let tag = tags.iter().find(|t| {
        guest_tags
            .iter()
            .any(|g| g.eq_ignore_ascii_case(t.as_str()))
    })?;
    Some(format!(
        "tag `{}` is listed in `{section}.tags`",
        tag.as_str()
    ))
}

/// Limits checked before creating or growing a guest. `None` means no limit.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Cores per guest (sockets x cores).
    pub max_cores: Option<u32>,
    /// Memory per guest.
    pub max_memory: Option<Size>,
    /// Total disk per guest.
    pub max_disk: Option<Size>,
    /// Guests in the cluster.
    pub max_vms: Option<u32>,
    /// The quotas set by the environment (`PROXMOX_MAX_CPU`, `PROXMOX_MAX_RAM_MB`,
    /// `PROXMOX_MAX_DISK_GB`, `PROXMOX_MAX_VMS`), which override the file's: for each, the
    /// `VAR=value` that set it, so a refusal names it.
    #[serde(skip)]
    pub from_env: QuotaEnv,
}

/// Which quotas came from the environment, as `VAR=value`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaEnv {
    pub cores: Option<String>,
    pub memory: Option<String>,
    pub disk: Option<String>,
    pub vms: Option<String>,
}

/// One of the quotas, for naming it in a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKey {
    Cores,
    Memory,
    Disk,
    Vms,
}

impl QuotaKey {
    /// The key in the file: `quotas.max_cores`.
    pub fn config_key(self) -> &'static str {
        match self {
            QuotaKey::Cores => "quotas.max_cores",
            QuotaKey::Memory => "quotas.max_memory",
            QuotaKey::Disk => "quotas.max_disk",
            QuotaKey::Vms => "quotas.max_vms",
        }
    }

    /// The environment variable that overrides it, and its unit.
    pub fn env_var(self) -> (&'static str, &'static str) {
        match self {
            QuotaKey::Cores => ("PROXMOX_MAX_CPU", "cores per guest"),
            QuotaKey::Memory => ("PROXMOX_MAX_RAM_MB", "MiB of memory per guest"),
            QuotaKey::Disk => ("PROXMOX_MAX_DISK_GB", "GiB of disk per guest"),
            QuotaKey::Vms => ("PROXMOX_MAX_VMS", "guests in the cluster"),
        }
    }
}

impl Quotas {
    /// What set the quota `key`, for a refusal: `PROXMOX_MAX_RAM_MB=4096` or
    /// `` `quotas.max_memory` ``.
    pub fn rule(&self, key: QuotaKey) -> String {
        let env = match key {
            QuotaKey::Cores => &self.from_env.cores,
            QuotaKey::Memory => &self.from_env.memory,
            QuotaKey::Disk => &self.from_env.disk,
            QuotaKey::Vms => &self.from_env.vms,
        };
        match env {
            Some(set) => set.clone(),
            None => format!("`{}`", key.config_key()),
        }
    }

    /// [`Quotas::rule`] without the backticks: `PROXMOX_MAX_CPU=8` or `quotas.max_cores`.
    pub fn source(&self, key: QuotaKey) -> String {
        self.rule(key).trim_matches('`').to_string()
    }

    /// The start of a refusal's limit: "the quota `quotas.max_memory` allows" or, set by the
    /// environment, "PROXMOX_MAX_RAM_MB=4096 allows at most".
    pub fn allows(&self, key: QuotaKey) -> String {
        let rule = self.rule(key);
        if rule.starts_with('`') {
            format!("the quota {rule} allows")
        } else {
            format!("{rule} allows at most")
        }
    }

    /// Where to raise the quota `key`: the variable when the environment set it, else the file.
    pub fn where_to_change(&self, key: QuotaKey, file: &str) -> String {
        let rule = self.rule(key);
        if rule.starts_with('`') {
            format!("raise the quota in {file}")
        } else {
            let (var, _) = key.env_var();
            format!("raise or unset {var} (it overrides the config file)")
        }
    }

    /// Applies the environment's quotas over the file's. A value that is not a whole number
    /// is an error naming the variable.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for key in [
            QuotaKey::Cores,
            QuotaKey::Memory,
            QuotaKey::Disk,
            QuotaKey::Vms,
        ] {
            let (var, unit) = key.env_var();
            let Some(raw) = env(var).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let n: u32 =
                raw.trim()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::Env {
                        var: var.to_string(),
                        message: format!("'{raw}' is not a whole number ≥ 1 ({unit})"),
                        hint: Some(format!(
                            "e.g. {var}={}; unset it to use the config file's quota",
                            match key {
                                QuotaKey::Cores => "8",
                                QuotaKey::Memory => "4096",
                                QuotaKey::Disk => "100",
                                QuotaKey::Vms => "50",
                            }
                        )),
                    })?;
            let set = Some(format!("{var}={n}"));
            match key {
                QuotaKey::Cores => {
                    self.max_cores = Some(n);
                    self.from_env.cores = set;
                }
                QuotaKey::Memory => {
                    self.max_memory = Some(Size::from_bytes(u64::from(n) << 20));
                    self.from_env.memory = set;
                }
                QuotaKey::Disk => {
                    self.max_disk = Some(Size::from_bytes(u64::from(n) << 30));
                    self.from_env.disk = set;
                }
                QuotaKey::Vms => {
                    self.max_vms = Some(n);
                    self.from_env.vms = set;
                }
            }
        }
        Ok(())
    }
}

/// A VM preset for `new --profile NAME` and the wizard.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub description: Option<String>,
    pub cores: Option<u32>,
    pub sockets: Option<u32>,
    pub memory: Option<Size>,
    pub disk: Option<Size>,
    #[serde(default, deserialize_with = "or_default")]
    pub tags: Vec<Tag>,
    /// Clone from this template (name or VMID) instead of creating an empty VM.
    pub template: Option<String>,
    pub storage: Option<String>,
    pub bridge: Option<String>,
    pub ostype: Option<OsType>,
    pub cpu: Option<String>,
}

/// Which commands stage instead of running at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StagingPolicy {
    /// Destructive commands stage; the rest run at once.
    #[default]
    Destructive,
    /// Every mutating command stages.
    All,
    /// Nothing stages: destructive commands run at once (scripts that know what they do).
    None,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staging {
    #[serde(default, deserialize_with = "or_default")]
    pub policy: StagingPolicy,
}

/// Which changes a non-interactive caller (`-c`, `-f`, standard input, an agent) must have
/// approved by a human before they apply (`agent.require_approval`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequireApproval {
    /// None: a script commits as a person at the shell does.
    #[default]
    None,
    /// Destructive changes (everything that stages) need an approval.
    Destructive,
    /// Every change needs an approval.
    All,
}

impl RequireApproval {
    pub fn as_str(self) -> &'static str {
        match self {
            RequireApproval::None => "none",
            RequireApproval::Destructive => "destructive",
            RequireApproval::All => "all",
        }
    }
}

/// How scripts and AI agents are treated (`agent:`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    #[serde(default, deserialize_with = "or_default")]
    pub require_approval: RequireApproval,
    /// How long an approval request stays valid, in seconds (`1h`, `30m`, `3600`; default 1 h).
    #[serde(default = "default_approval_ttl", deserialize_with = "duration_secs")]
    pub approval_ttl: u64,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            require_approval: RequireApproval::None,
            approval_ttl: default_approval_ttl(),
        }
    }
}

fn default_approval_ttl() -> u64 {
    3600
}

/// A duration as `1h`, `30m`, `90s` or a number of seconds; at least one second.
fn duration_secs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    let secs = match Raw::deserialize(deserializer)? {
        Raw::Secs(s) => Some(s),
        Raw::Text(t) => crate::lang::parse_duration(&t),
    };
    secs.filter(|s| *s > 0).ok_or_else(|| {
        serde::de::Error::custom("expected a duration such as 1h, 30m or 90s (at least 1s)")
    })
}

/// The `dashboard` screen: above which overcommit ratio a node is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Allocated vCPUs (the sum of the node's guests' `maxcpu`) per physical core; default 4.0.
    #[serde(default = "default_cpu_overcommit")]
    pub cpu_overcommit: f64,
    /// Allocated memory (the sum of the guests' `maxmem`) per byte of physical memory; default
    /// 1.0 (any overcommit is flagged).
    #[serde(default = "default_memory_overcommit")]
    pub memory_overcommit: f64,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            cpu_overcommit: default_cpu_overcommit(),
            memory_overcommit: default_memory_overcommit(),
        }
    }
}

fn default_cpu_overcommit() -> f64 {
    4.0
}

fn default_memory_overcommit() -> f64 {
    1.0
}

/// The audit log of mutating API calls (JSON lines).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_audit_path", deserialize_with = "tilde_path")]
    pub path: PathBuf,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            enabled: true,
            path: default_audit_path(),
        }
    }
}

fn yes() -> bool {
    true
}

/// `$XDG_STATE_HOME/pvesh-plus/audit.jsonl`, else `~/.local/state/pvesh-plus/audit.jsonl`.
fn default_audit_path() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| expand_tilde(Path::new("~/.local/state")));
    state.join("pvesh-plus").join("audit.jsonl")
}

pub(crate) fn tilde_path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PathBuf, D::Error> {
    let text = String::deserialize(deserializer)?;
    Ok(expand_tilde(Path::new(&text)))
}
