//! The definitions file: its serde types, and [`parse`], which names the file, the line and the
//! key of every error (with a "did you mean" for a misspelt key, as the config does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::lang::parse_size;

/// A whole `guests.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionsFile {
    /// Which live guests count as "not declared" (default: every guest but templates).
    #[serde(default)]
    pub scope: Option<Scope>,
    #[serde(default)]
    pub guests: Vec<GuestDef>,
    /// Cluster profiles: named groups of the guests above.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// The file it came from, for messages.
    #[serde(skip)]
    pub source: String,
    /// The line each guest entry starts on, by index.
    #[serde(skip)]
    pub lines: Vec<u32>,
}

/// The live guests a file speaks for: those in the VMID range or with one of the tags.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub vmids: Option<Number>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A number or a text (`300`, `300-309`, `4G`), checked after parsing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Number {
    Int(u64),
    Text(String),
}

impl Number {
    fn text(&self) -> String {
        match self {
            Number::Int(n) => n.to_string(),
            Number::Text(t) => t.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// pvesh+ creates and changes it to match the file.
    #[default]
    Managed,
    /// It exists and is only watched: any change to it is refused.
    Imported,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Managed => "managed",
            Mode::Imported => "imported",
        }
    }
}

/// One declared guest (a VM).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestDef {
    pub name: String,
    /// `300`, or a range `300-309` (the first free one when it is created).
    #[serde(default, rename = "vmid")]
    pub vmid_raw: Option<Number>,
    #[serde(default)]
    pub node: Option<String>,
    /// The template to clone, by name or VMID; none: an empty VM.
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub resources: Resources,
    /// `scsi0: 32G`, `scsi1: local-lvm:10G` (sizes only grow).
    #[serde(default)]
    pub disks: BTreeMap<String, String>,
    /// `net0: {bridge: vmbr0, model: virtio, vlan: 10, firewall: true}`.
    #[serde(default)]
    pub network: BTreeMap<String, Nic>,
    #[serde(default)]
    pub cloudinit: Option<CloudInit>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub onboot: Option<bool>,
    #[serde(skip)]
    pub vmid: Option<VmidSpec>,
}

/// A declared VMID: one, or the first free one of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmidSpec {
    One(u32),
    Range(u32, u32),
}

impl VmidSpec {
    pub fn contains(self, vmid: u32) -> bool {
        match self {
            VmidSpec::One(v) => v == vmid,
            VmidSpec::Range(a, b) => (a..=b).contains(&vmid),
        }
    }

    pub(crate) fn parse(text: &str) -> Option<VmidSpec> {
        let num = |t: &str| t.trim().parse::<u32>().ok().filter(|n| *n >= 100);
        match text.split_once('-') {
            None => num(text).map(VmidSpec::One),
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                (a <= b).then_some(VmidSpec::Range(a, b))
            }
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub cores: Option<u64>,
    #[serde(default)]
    pub sockets: Option<u64>,
    /// MiB, or a size such as `4G`.
    #[serde(default)]
    pub memory: Option<Number>,
    #[serde(default)]
    pub balloon: Option<Number>,
}

/// A network device.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nic {
    #[serde(default)]
    pub bridge: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub vlan: Option<u32>,
    #[serde(default)]
    pub firewall: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudInit {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub ssh_keys: Vec<String>,
    /// PVE's `ipconfig0`: `ip=dhcp`, `ip=10.0.0.5/24,gw=10.0.0.1`.
    #[serde(default)]
    pub ipconfig: Option<String>,
    #[serde(default)]
    pub nameserver: Option<String>,
}

/// A cluster profile: guests of the file handled as one unit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub description: Option<String>,
    pub guests: Vec<String>,
    /// Commands run once each new guest answers SSH; `{{name}}`, `{{vmid}}`, `{{ip}}`.
    #[serde(default)]
    pub hooks: Vec<Hook>,
    /// Where `profile up` writes the table of its guests (default `machines.md`).
    #[serde(default)]
    pub machines: Option<String>,
    /// The SSH port the hooks wait for (default 22).
    #[serde(default)]
    pub ssh_port: Option<u16>,
}

/// A post-provision hook: a shell command line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Hook(pub String);

impl GuestDef {
    /// Memory in MiB, as PVE's config holds it.
    pub fn memory_mib(&self) -> Option<u64> {
        self.resources.memory.as_ref().and_then(mib)
    }

    pub fn balloon_mib(&self) -> Option<u64> {
        self.resources.balloon.as_ref().and_then(mib)
    }
}

fn mib(n: &Number) -> Option<u64> {
    match n {
        Number::Int(n) => Some(*n),
        Number::Text(t) => match t.trim().parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => parse_size(t).map(|b| b >> 20),
        },
    }
}

/// A disk's declared size in GiB, and its storage when given (`local-lvm:10G`).
pub fn disk_spec(text: &str) -> Option<(Option<String>, u64)> {
    let (storage, size) = match text.rsplit_once(':') {
        Some((s, z)) => (Some(s.trim().to_string()), z),
        None => (None, text),
    };
    let bytes = match size.trim().parse::<u64>() {
        Ok(n) => n << 30,
        Err(_) => parse_size(size.trim())?,
    };
    let gib = bytes >> 30;
    (gib > 0 && gib << 30 == bytes).then_some((storage, gib))
}

/// Reads and parses a definitions file.
pub fn load(path: &Path) -> Result<DefinitionsFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse(&text, path)
}

/// Parses a definitions file's text; `source` names it in errors.
pub fn parse(text: &str, source: &Path) -> Result<DefinitionsFile, ConfigError> {
    let mut track = serde_path_to_error::Track::new();
    let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
        DefinitionsFile::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
    });
    let mut file =
        parsed.map_err(|e| ConfigError::from_yaml(source, &track.path().to_string(), &e))?;
    file.source = source.display().to_string();
    file.lines = entry_lines(text);
    check(&mut file, text, source)?;
    Ok(file)
}

/// The line of each `- name:` entry under `guests:`, in order.
fn entry_lines(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut inside = false;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        if indent == 0 && !t.is_empty() && !t.starts_with('#') {
            inside = t.starts_with("guests:");
            continue;
        }
        if inside && t.starts_with("- ") {
            out.push(u32::try_from(n + 1).unwrap_or(0));
        }
    }
    out
}

/// The line of `key:` inside guest entry `i`, else the entry's first line.
fn key_line(file: &DefinitionsFile, text: &str, i: usize, key: &str) -> Option<u32> {
    let start = *file.lines.get(i)?;
    let end = file.lines.get(i + 1).copied().unwrap_or(u32::MAX);
    for (n, line) in text.lines().enumerate() {
        let n = u32::try_from(n + 1).ok()?;
        if n < start || n >= end {
            continue;
        }
        let t = line.trim_start().trim_start_matches("- ").trim_start();
        let flow = [
            format!("{{{key}:"),
            format!("{{ {key}:"),
            format!(", {key}:"),
        ];
        if t.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
            || flow.iter().any(|f| t.contains(f.as_str()))
        {
            return Some(n);
        }
    }
    Some(start)
}

const MODELS: &[&str] = &["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"];

/// Checks across keys: values, names, and profiles naming declared guests.
fn check(file: &mut DefinitionsFile, text: &str, source: &Path) -> Result<(), ConfigError> {
    let bad = |file: &DefinitionsFile, i: usize, key: &str, msg: String| {
        let name = &file.guests[i].name;
        ConfigError::invalid(
            source,
            key_line(file, text, i, key.rsplit('.').next().unwrap_or(key)),
            &format!("guests.{name}.{key}"),
            msg,
        )
    };
    if let Some(scope) = &file.scope
        && let Some(v) = &scope.vmids
        && VmidSpec::parse(&v.text()).is_none()
    {
        return Err(ConfigError::invalid(
            source,
            None,
            "scope.vmids",
            format!("`{}` is not a VMID or a range such as 300-399", v.text()),
        ));
    }
    for i in 0..file.guests.len() {
        let g = file.guests[i].clone();
        if g.name.is_empty()
            || !g
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(bad(
                file,
                i,
                "name",
                format!("`{}` is not a valid guest name", g.name),
            )
            .with_hint("letters, digits, - and . (a DNS name)"));
        }
        if let Some(raw) = &g.vmid_raw {
            match VmidSpec::parse(&raw.text()) {
                Some(spec) => file.guests[i].vmid = Some(spec),
                None => {
                    return Err(bad(
                        file,
                        i,
                        "vmid",
                        format!("`{}` is not a VMID or a range", raw.text()),
                    )
                    .with_hint("a number from 100, or a range such as 300-309"));
                }
            }
        }
        if g.mode == Mode::Imported && g.template.is_some() {
            return Err(bad(
                file,
                i,
                "template",
                "an imported guest exists already: it has no template".into(),
            )
            .with_hint("remove `template`, or make it `mode: managed`"));
        }
        for (key, n) in [
            ("resources.memory", &g.resources.memory),
            ("resources.balloon", &g.resources.balloon),
        ] {
            if let Some(n) = n
                && mib(n).is_none()
            {
                return Err(bad(
                    file,
                    i,
                    key,
                    format!("`{}` is not MiB or a size such as 4G", n.text()),
                ));
            }
        }
        for (key, n) in [
            ("resources.cores", g.resources.cores),
            ("resources.sockets", g.resources.sockets),
        ] {
            if n == Some(0) {
                return Err(bad(file, i, key, "must be at least 1".into()));
            }
        }
        for (disk, spec) in &g.disks {
            let valid_key = ["scsi", "virtio", "sata", "ide"].iter().any(|p| {
                disk.strip_prefix(p)
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            });
            if !valid_key {
                return Err(bad(
                    file,
                    i,
                    &format!("disks.{disk}"),
                    format!("`{disk}` is not a disk key"),
                )
                .with_hint("scsi0, virtio1, sata0, ide0, ..."));
            }
            if disk_spec(spec).is_none() {
                return Err(bad(
                    file,
                    i,
                    &format!("disks.{disk}"),
                    format!("`{spec}` is not a size in whole GiB"),
                )
                .with_hint("32G, or STORAGE:SIZE such as local-lvm:10G"));
            }
        }
        for (nic, def) in &g.network {
            let valid = nic
                .strip_prefix("net")
                .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n < 32));
            if !valid {
                return Err(bad(
                    file,
                    i,
                    &format!("network.{nic}"),
                    format!("`{nic}` is not a network device"),
                )
                .with_hint("net0 ... net31"));
            }
            if let Some(m) = &def.model
                && !MODELS.contains(&m.as_str())
            {
                return Err(bad(
                    file,
                    i,
                    &format!("network.{nic}.model"),
                    format!("unknown model `{m}`"),
                )
                .with_hint(format!("one of {}", MODELS.join(", "))));
            }
        }
    }
    let names: BTreeSet<&str> = file.guests.iter().map(|g| g.name.as_str()).collect();
    for (pname, p) in &file.profiles {
        for member in &p.guests {
            if !names.contains(member.as_str()) {
                let mut err = ConfigError::invalid(
                    source,
                    None,
                    &format!("profiles.{pname}.guests"),
                    format!("`{member}` is not a guest of this file"),
                );
                if let Some(best) = names
                    .iter()
                    .map(|n| (strsim::osa_distance(member, n), *n))
                    .filter(|(d, _)| *d <= 2)
                    .min()
                {
                    err = err.with_hint(format!("did you mean `{}`?", best.1));
                }
                return Err(err);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse(text, Path::new("guests.yaml")) {
            Ok(_) => panic!("parsed: {text}"),
            Err(e) => format!("{} | {}", e.message(), e.hint().unwrap_or("")),
        }
    }

    #[test]
    fn parses_a_guest() {
        let f = parse(
            "guests:\n  - name: k8s-cp-1\n    vmid: 300-302\n    template: debian-12-cloud\n    resources: {cores: 2, memory: 4G}\n    disks: {scsi0: 32G, scsi1: local-lvm:10G}\n    network: {net0: {bridge: vmbr0}}\n    tags: [k8s]\n",
            Path::new("g.yaml"),
        )
        .unwrap();
        let g = &f.guests[0];
        assert_eq!(g.vmid, Some(VmidSpec::Range(300, 302)));
        assert_eq!(g.memory_mib(), Some(4096));
        assert_eq!(g.mode, Mode::Managed);
        assert_eq!(
            disk_spec("local-lvm:10G"),
            Some((Some("local-lvm".into()), 10))
        );
        assert_eq!(f.lines, vec![2]);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        for (text, want) in [
            (
                "guests:\n  - name: a\n    tgas: [x]\n",
                "guests.yaml:3:5: unknown key `tgas` in `guests[0]` (did you mean `tags`?)",
            ),
            (
                "guests:\n  - name: a\n    resources:\n      cors: 2\n",
                "guests.yaml:4:7: unknown key `cors` in `guests[0].resources` (did you mean `cores`?)",
            ),
            (
                "guests:\n  - name: a\n  - name: b\n    vmid: 12\n",
                "guests.yaml:4: `guests.b.vmid`: `12` is not a VMID or a range",
            ),
            (
                "guests:\n  - name: a\n    resources: {memory: lots}\n",
                "guests.yaml:3: `guests.a.resources.memory`: `lots` is not MiB",
            ),
            (
                "guests:\n  - name: a\n    mode: imprted\n",
                "unknown value `imprted` (did you mean `imported`?)",
            ),
            (
                "guests:\n  - name: a\n    disks: {scsi0: 1.5G}\n",
                "guests.yaml:3: `guests.a.disks.scsi0`: `1.5G` is not a size in whole GiB",
            ),
            (
                "guests:\n  - name: web\nprofiles:\n  p: {guests: [wbe]}\n",
                "`profiles.p.guests`: `wbe` is not a guest of this file | did you mean `web`?",
            ),
        ] {
            let got = err(text);
            assert!(got.contains(want), "{text}\nwant: {want}\ngot:  {got}");
        }
    }
}
