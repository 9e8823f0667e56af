//! [`VmPlan`]: everything `new` will do, decided before anything is done — the VMID, the node,
//! the template and its disk, the sizes, the cloud-init settings — and the pure decisions that
//! lead to it: placement, the template's boot disk, the VMID range, the config changes sent.
//!
//! A plan is data. It is shown as the preview (and as the output of `--dry-run`), and only
//! `provision` turns it into API calls. Must not: do IO or touch the terminal.

use std::net::Ipv4Addr;

use serde_json::Value as Json;

use crate::config::{Config, Size, VmidRange};
use crate::error::{Error, ErrorKind, Result};
use crate::inventory::{Guest, Inventory};
use crate::lang::{Record, Value};

use super::engine::Answers;
use super::facts::NewFacts;
use super::validate::{self, Cidr};

/// The network setup of the first card, as cloud-init gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    Dhcp,
    Static { ip: Cidr, gw: Option<Ipv4Addr> },
}

impl Network {
    /// The `ipconfig0` value.
    pub fn ipconfig(&self) -> String {
        match self {
            Network::Dhcp => "ip=dhcp".to_string(),
            Network::Static { ip, gw: Some(gw) } => format!("ip={ip},gw={gw}"),
            Network::Static { ip, gw: None } => format!("ip={ip}"),
        }
    }
}

/// The template a plan clones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRef {
    pub vmid: u32,
    pub name: String,
    pub node: String,
}

/// The template's boot disk: its config key, storage and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootDisk {
    pub key: String,
    pub storage: String,
    pub size: Option<Size>,
}

/// A VM to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmPlan {
    pub name: String,
    pub vmid: u32,
    pub template: TemplateRef,
    pub node: String,
    /// Why this node: "asked for" or "most free memory".
    pub placement: String,
    pub cores: u32,
    pub sockets: u32,
    pub memory: Size,
    pub disk: BootDisk,
    /// The size to grow the boot disk to, when bigger than the template's.
    pub grow_to: Option<Size>,
    pub tags: Vec<String>,
    pub ciuser: Option<String>,
    /// Public keys, one per line (sent URL-encoded).
    pub sshkeys: Option<String>,
    pub network: Network,
    pub nameserver: Option<String>,
    pub searchdomain: Option<String>,
    pub start: bool,
    /// What the preview warns of (more memory than the node has free).
    pub warnings: Vec<String>,
}

/// The boot disk of a template config: the first disk in `boot: order=...`, else the first
/// of scsi0, virtio0, sata0, ide0 that is not a CD-ROM.
pub fn boot_disk(config: &Json) -> Option<BootDisk> {
    let is_disk = |key: &str| {
        config
            .get(key)
            .and_then(Json::as_str)
            .is_some_and(|v| !v.contains("media=cdrom"))
    };
    let from_boot = config
        .get("boot")
        .and_then(Json::as_str)
        .and_then(|b| b.strip_prefix("order="))
        .and_then(|order| order.split(';').find(|k| is_disk(k)).map(str::to_string));
    let key = from_boot.or_else(|| {
        ["scsi0", "virtio0", "sata0", "ide0"]
            .into_iter()
            .find(|k| is_disk(k))
            .map(str::to_string)
    })?;
    let value = config.get(&key)?.as_str()?;
    let volid = value.split(',').next()?;
    let storage = volid.split_once(':')?.0.to_string();
    let size = value
        .split(',')
        .find_map(|p| p.strip_prefix("size="))
        .and_then(|s| s.parse::<Size>().ok());
    Some(BootDisk { key, storage, size })
}

/// Where the VM goes: the node asked for (if it can hold the template's disk), else the online
/// node with the most free memory among those that can. A template on node-local storage can
/// only be cloned on its own node; on shared storage, on any node that has that storage.
pub fn place(
    inv: &Inventory,
    template: &Guest,
    storage: &str,
    asked: Option<&str>,
) -> Result<(String, String)> {
    let shared = inv
        .storages()
        .iter()
        .any(|s| s.storage == storage && s.shared);
    let can_hold = |node: &str| {
        if shared {
            inv.storages()
                .iter()
                .any(|s| s.storage == storage && s.node == node)
        } else {
            node == template.node
        }
    };
    if let Some(node) = asked {
        if !inv
            .nodes()
            .iter()
            .any(|n| n.node == node && n.status == "online")
        {
            return Err(
                Error::not_found(format!("no online node '{node}'")).hinted("`nodes` lists them")
            );
        }
        if !can_hold(node) {
            let err = if shared {
                Error::usage(format!(
                    "{} keeps its disk on {storage}, which {node} does not have",
                    template.name
                ))
                .hinted("leave the node out to pick one that has it")
            } else {
                Error::usage(format!(
                    "{} keeps its disk on {storage}, which is local to {}: a VM cloned from it must be on {}, not {node}",
                    template.name, template.node, template.node
                ))
                .hinted(format!("leave the node out, or ask for --node {}", template.node))
            };
            return Err(err);
        }
        return Ok((node.to_string(), "asked for".to_string()));
    }
    inv.nodes()
        .iter()
        .filter(|n| n.status == "online" && can_hold(&n.node))
        .max_by_key(|n| {
            (
                n.maxmem.saturating_sub(n.mem),
                std::cmp::Reverse(n.node.clone()),
            )
        })
        .map(|n| {
            let why = if shared {
                "most free memory".to_string()
            } else {
                format!("the template's disk is local to {}", template.node)
            };
            (n.node.clone(), why)
        })
        .ok_or_else(|| {
            Error::not_found(format!(
                "no online node can hold a clone of {} (its disk is on {storage})",
                template.name
            ))
        })
}

/// The VMID range for new VMs (`vmid_ranges.vm`), if the config sets one.
pub fn vm_range(config: &Config) -> Option<VmidRange> {
    config.vmid_ranges.vm
}

/// Refuses a VMID outside the configured range.
pub fn check_vmid(config: &Config, vmid: u32) -> Result<()> {
    match vm_range(config) {
        Some(r) if !r.contains(vmid) => Err(Error::new(
            ErrorKind::Policy,
            format!(
                "VMID {vmid} is outside the range for VMs, {}-{} (vmid_ranges.vm)",
                r.min(),
                r.max()
            ),
        )
        .hinted("leave --vmid out to take the next free one in the range")),
        _ => Ok(()),
    }
}

/// Refuses one VM too many (`quotas.max_vms`).
pub fn check_vm_count(config: &Config, inv: &Inventory) -> Result<()> {
    let count = inv.guests().iter().filter(|g| !g.template).count();
    match config.quotas.max_vms {
        Some(max) if count >= max as usize => Err(Error::new(
            ErrorKind::Policy,
            format!(
                "the cluster has {count} guests, the quota is {max} ({})",
                config.quotas.source(crate::config::QuotaKey::Vms)
            ),
        )),
        _ => Ok(()),
    }
}

fn answer<'a>(answers: &'a Answers, key: &str) -> Result<&'a str> {
    answers
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| Error::internal(format!("the wizard gave no '{key}'")))
}

/// What the plan needs besides the answers: read from the cluster and the config by the caller.
pub struct Resolved<'a> {
    pub template: &'a Guest,
    pub disk: BootDisk,
    pub vmid: u32,
    pub node: String,
    pub placement: String,
    pub sshkeys: Option<String>,
}

impl VmPlan {
    /// Builds the plan from checked answers (see `prompts/new.yaml` for the keys).
    pub fn from_answers(answers: &Answers, facts: &NewFacts, r: Resolved) -> Result<VmPlan> {
        let bad = |m: String| Error::usage(m);
        let name = validate::name(answer(answers, "name")?).map_err(bad)?;
        let cores = validate::cores(answer(answers, "cores")?).map_err(bad)?;
        let memory = validate::memory(answer(answers, "memory")?).map_err(bad)?;
        let disk = validate::size(answer(answers, "disk")?).map_err(bad)?;
        let network = match answers.get("network").map(String::as_str) {
            Some("static") => {
                let ip = validate::cidr(answer(answers, "ip")?).map_err(bad)?;
                let gw = match answers.get("gw").filter(|g| !g.is_empty()) {
                    Some(g) => Some(validate::gateway(g, ip).map_err(bad)?),
                    None => None,
                };
                Network::Static { ip, gw }
            }
            _ => Network::Dhcp,
        };
        let grow_to = match r.disk.size {
            Some(current) if disk <= current => None,
            _ => Some(disk),
        };
        let mut tags: Vec<String> = facts
            .profile(answers)
            .map(|p| p.tags.iter().map(|t| t.as_str().to_string()).collect())
            .unwrap_or_default();
        tags.sort();
        tags.dedup();
        let non_empty = |k: &str| answers.get(k).filter(|v| !v.is_empty()).cloned();
        let warnings = memory_warnings(facts.inventory, &r.node, memory);
        Ok(VmPlan {
            name,
            vmid: r.vmid,
            template: TemplateRef {
                vmid: r.template.vmid,
                name: r.template.name.clone(),
                node: r.template.node.clone(),
            },
            node: r.node,
            placement: r.placement,
            cores,
            sockets: facts.sockets(answers),
            memory,
            disk: r.disk,
            grow_to,
            tags,
            ciuser: non_empty("ciuser"),
            sshkeys: r.sshkeys,
            network,
            nameserver: non_empty("nameserver"),
            searchdomain: facts.config.cloudinit.searchdomain.clone(),
            start: answers.get("start").is_none_or(|s| s == "yes"),
            warnings,
        })
    }

    /// The hardware changes sent after the clone (`POST .../config`).
    pub fn hardware_changes(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("cores".to_string(), self.cores.to_string()),
            ("sockets".to_string(), self.sockets.to_string()),
            ("memory".to_string(), self.memory.mib().to_string()),
            ("agent".to_string(), "1".to_string()),
        ];
        if !self.tags.is_empty() {
            out.push(("tags".to_string(), self.tags.join(";")));
        }
        out
    }

    /// The cloud-init changes (`POST .../config`); `sshkeys` URL-encoded as PVE wants it.
    pub fn cloudinit_changes(&self) -> Vec<(String, String)> {
        let mut out = vec![("ipconfig0".to_string(), self.network.ipconfig())];
        if let Some(u) = &self.ciuser {
            out.push(("ciuser".to_string(), u.clone()));
        }
        if let Some(k) = &self.sshkeys {
            out.push(("sshkeys".to_string(), encode_sshkeys(k)));
        }
        if let Some(n) = &self.nameserver {
            out.push(("nameserver".to_string(), n.clone()));
        }
        if let Some(s) = &self.searchdomain {
            out.push(("searchdomain".to_string(), s.clone()));
        }
        out
    }

    /// The steps, in order, as the preview lists them.
    pub fn steps(&self) -> Vec<String> {
        let mut steps = vec![format!(
            "clone {} ({}) on {} → {} ({}) on {} ({})",
            self.template.name,
            self.template.vmid,
            self.template.node,
            self.name,
            self.vmid,
            self.node,
            self.placement
        )];
        steps.push(format!(
            "configure: {} core(s) × {} socket(s), {} memory, guest agent on{}",
            self.cores,
            self.sockets,
            self.memory,
            if self.tags.is_empty() {
                String::new()
            } else {
                format!(", tags {}", self.tags.join(";"))
            }
        ));
        if let Some(size) = self.grow_to {
            let from = self.disk.size.map_or("?".to_string(), |s| s.to_string());
            steps.push(format!("resize {} from {from} to {size}", self.disk.key));
        }
        let keys = self
            .sshkeys
            .as_ref()
            .map_or(0, |k| k.lines().filter(|l| !l.trim().is_empty()).count());
        steps.push(format!(
            "cloud-init: user {}, {} ssh key(s), {}{}",
            self.ciuser.as_deref().unwrap_or("(template's)"),
            keys,
            self.network.ipconfig(),
            self.nameserver
                .as_ref()
                .map_or(String::new(), |n| format!(", nameserver {n}"))
        ));
        if self.start {
            steps.push("start, then wait for the guest agent's IP address".to_string());
        }
        steps
    }

    /// The preview text.
    pub fn preview(&self) -> String {
        numbered_with(
            &format!("Plan for {}", self.name),
            &self.steps(),
            &self.warnings,
        )
    }

    /// The plan as a record (the output of `new --dry-run`).
    pub fn to_value(&self) -> Value {
        let mut r = Record::new();
        r.insert("vmid", Value::Int(i64::from(self.vmid)));
        r.insert("name", Value::String(self.name.clone()));
        r.insert("node", Value::String(self.node.clone()));
        r.insert("template", Value::String(self.template.name.clone()));
        r.insert("cores", Value::Int(i64::from(self.cores)));
        r.insert("sockets", Value::Int(i64::from(self.sockets)));
        r.insert("memory", Value::Size(self.memory.bytes()));
        let disk = self.grow_to.or(self.disk.size).map_or(0, Size::bytes);
        r.insert("disk", Value::Size(disk));
        r.insert(
            "tags",
            Value::List(self.tags.iter().cloned().map(Value::String).collect()),
        );
        r.insert("ipconfig0", Value::String(self.network.ipconfig()));
        r.insert(
            "ciuser",
            self.ciuser.clone().map_or(Value::Null, Value::String),
        );
        r.insert("start", Value::Bool(self.start));
        Value::Record(r)
    }
}

/// `sshkeys` as PVE stores it: percent-encoded like JavaScript's `encodeURIComponent`
/// (spaces as `%20`, newlines as `%0A`), which is what the web UI sends.
pub fn encode_sshkeys(keys: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    utf8_percent_encode(keys.trim(), COMPONENT).to_string()
}

/// A plan as people read it: `Plan for NAME:` and the numbered steps.
pub fn numbered(title: &str, steps: &[String]) -> String {
    let mut out = format!("{title}:\n");
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!("  {}. {s}\n", i + 1));
    }
    out
}

/// [`numbered`], then a `warning: ...` line for each warning.
pub fn numbered_with(title: &str, steps: &[String], warnings: &[String]) -> String {
    let mut out = numbered(title, steps);
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The warnings of placing a guest with `memory` on `node`: more memory than the node has free.
/// A warning, not a refusal: PVE lets memory be overcommitted (ballooning, guests that are not
/// all busy at once); the quotas are the policy.
pub fn memory_warnings(inv: &Inventory, node: &str, memory: Size) -> Vec<String> {
    let Some(n) = inv.nodes().iter().find(|n| n.node == node) else {
        return Vec::new();
    };
    let free = n.maxmem.saturating_sub(n.mem);
    if n.maxmem == 0 || memory.bytes() <= free {
        return Vec::new();
    }
    vec![format!(
        "{} of memory is more than {node} has free ({} of {});\n  it may not start, or may \
         crowd the guests running there",
        crate::lang::format_size(memory.bytes()),
        crate::lang::format_size(free),
        crate::lang::format_size(n.maxmem)
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn boot_disks() {
        let check = |cfg: Json, want: Option<(&str, &str, Option<&str>)>| {
            let got = boot_disk(&cfg);
            let want = want.map(|(k, s, size)| BootDisk {
                key: k.into(),
                storage: s.into(),
                size: size.map(|z| z.parse().unwrap()),
            });
            assert_eq!(got, want, "{cfg}");
        };
        check(
            json!({"boot": "order=scsi0;ide2;net0", "scsi0": "local-lvm:base-9000-disk-0,size=4G", "ide2": "local-lvm:vm-9000-cloudinit,media=cdrom"}),
            Some(("scsi0", "local-lvm", Some("4G"))),
        );
        check(
            json!({"boot": "order=ide2;virtio0", "ide2": "none,media=cdrom", "virtio0": "ceph:vm-1-disk-0,size=10G"}),
            Some(("virtio0", "ceph", Some("10G"))),
        );
        check(
            json!({"sata0": "local:100/vm-100-disk-0.qcow2"}),
            Some(("sata0", "local", None)),
        );
        check(json!({"ide2": "none,media=cdrom"}), None);
    }

    fn cluster() -> Inventory {
        let g = 1u64 << 30;
        let node = |n: &str, status: &str, used: u64| json!({"id": format!("node/{n}"), "type": "node", "node": n, "status": status, "mem": used * g, "maxmem": 64 * g});
        let store = |n: &str, s: &str, shared: u8| json!({"id": format!("storage/{n}/{s}"), "type": "storage", "node": n, "storage": s, "shared": shared, "content": "images", "status": "available"});
        let tpl = |vmid: u32, name: &str, n: &str| json!({"id": format!("qemu/{vmid}"), "type": "qemu", "vmid": vmid, "name": name, "node": n, "template": 1, "status": "stopped"});
        Inventory::from_resources(&json!([
            node("pve1", "online", 40),
            node("pve2", "online", 10),
            node("pve3", "online", 20),
            node("pve4", "offline", 0),
            store("pve1", "local-lvm", 0),
            store("pve2", "local-lvm", 0),
            store("pve3", "local-lvm", 0),
            store("pve1", "ceph", 1),
            store("pve3", "ceph", 1),
            store("pve4", "ceph", 1),
            tpl(9000, "local-tpl", "pve1"),
            tpl(9001, "ceph-tpl", "pve1"),
        ]))
        .unwrap()
    }

    #[test]
    fn placement() {
        let inv = cluster();
        let check = |tpl: u32,
                     storage: &str,
                     asked: Option<&str>,
                     expected: std::result::Result<&str, &str>| {
            let t = inv.guest(tpl).unwrap();
            match (place(&inv, t, storage, asked), expected) {
                (Ok((node, _)), Ok(want)) => assert_eq!(node, want),
                (Err(e), Err(want)) => {
                    assert!(e.message.contains(want), "'{}' lacks '{want}'", e.message)
                }
                (got, want) => panic!("{tpl} {asked:?}: got {got:?}, want {want:?}"),
            }
        };
        // Local storage: only the template's node, whatever has more free memory.
        check(9000, "local-lvm", None, Ok("pve1"));
        check(9000, "local-lvm", Some("pve2"), Err("local to pve1"));
        // Shared storage: the online node with it and the most free memory (pve3: 44G free).
        check(9001, "ceph", None, Ok("pve3"));
        check(9001, "ceph", Some("pve1"), Ok("pve1"));
        check(9001, "ceph", Some("pve2"), Err("which pve2 does not have"));
        check(9001, "ceph", Some("pve4"), Err("no online node 'pve4'"));
        check(9001, "ceph", Some("pve9"), Err("no online node 'pve9'"));
    }

    #[test]
    fn ssh_keys_are_encoded_like_the_web_ui() {
        assert_eq!(
            encode_sshkeys("ssh-ed25519 AAAA+b/c= me@host\nssh-rsa BBBB x\n"),
            "ssh-ed25519%20AAAA%2Bb%2Fc%3D%20me%40host%0Assh-rsa%20BBBB%20x"
        );
    }

    #[test]
    fn ipconfig() {
        let ip = validate::cidr("10.0.0.5/24").unwrap();
        assert_eq!(Network::Dhcp.ipconfig(), "ip=dhcp");
        let gw = Some("10.0.0.1".parse().unwrap());
        assert_eq!(
            Network::Static { ip, gw }.ipconfig(),
            "ip=10.0.0.5/24,gw=10.0.0.1"
        );
        assert_eq!(
            Network::Static { ip, gw: None }.ipconfig(),
            "ip=10.0.0.5/24"
        );
    }
}
