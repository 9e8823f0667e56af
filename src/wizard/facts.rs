//! [`NewFacts`]: what the `new` wizard knows — the config (profiles, defaults, cloud-init,
//! quotas) and the live inventory (templates, nodes, storages, names in use) — and the checks
//! its answers must pass.
//!
//! The same checks run for typed answers and for the flags of the non-interactive `new`, so a
//! script is held to exactly what a person is. Must not: talk to the cluster (the inventory and
//! the ISO list are read by the caller) or touch the terminal; the one IO here is reading a
//! local SSH key file that an answer names.

use crate::api::GuestKind;
use crate::config::{Config, Profile, Size};
use crate::inventory::{Guest, Inventory};

use super::engine::{Answers, Facts};
use super::prompter::Choice;
use super::spec::Rule;
use super::validate;

/// The bridge used when the config names none.
pub const DEFAULT_BRIDGE: &str = "vmbr0";

/// The SSH public keys in a file (`~` expanded), one per line. The one read of a local file
/// the wizard does, so a typo in the path is caught while the question is still open.
pub fn read_key_file(path: &str) -> Result<String, String> {
    let path = crate::config::expand_tilde(std::path::Path::new(path.trim()));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    validate::ssh_keys(&text, &path.display().to_string())
}

/// An installer ISO on a storage: `local:iso/debian-12.iso` on `pve1` (or on every node that
/// has the storage, when it is shared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoImage {
    pub volid: String,
    pub storage: String,
    /// The node holding it; `None` for shared storage.
    pub node: Option<String>,
}

impl IsoImage {
    /// The file name: `debian-12.iso`.
    pub fn file(&self) -> &str {
        self.volid.rsplit('/').next().unwrap_or(&self.volid)
    }
}

pub struct NewFacts<'a> {
    pub config: &'a Config,
    pub inventory: &'a Inventory,
    /// The ISOs found on the cluster's storages (read by the caller for `new --iso`).
    pub isos: Vec<IsoImage>,
    /// The container template archives (`vztmpl`), read by the caller for `new --lxc`.
    pub archives: Vec<IsoImage>,
}

fn size_text(bytes: u64) -> Option<String> {
    (bytes > 0).then(|| Size::from_bytes(bytes).to_string())
}

impl<'a> NewFacts<'a> {
    pub fn new(config: &'a Config, inventory: &'a Inventory) -> NewFacts<'a> {
        NewFacts {
            config,
            inventory,
            isos: Vec::new(),
            archives: Vec::new(),
        }
    }

    /// The ISOs an answer names (volid or file name), one per place it is found.
    pub fn isos_named(&self, answer: &str) -> Vec<&IsoImage> {
        self.isos
            .iter()
            .filter(|i| i.volid == answer || i.file() == answer)
            .collect()
    }

    /// The templates a VM can be cloned from (QEMU templates), by name.
    pub fn templates(&self) -> Vec<&'a Guest> {
        let mut out: Vec<&Guest> = self
            .inventory
            .guests()
            .iter()
            .filter(|g| g.template && g.kind == GuestKind::Qemu)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.vmid.cmp(&b.vmid)));
        out
    }

    /// The template an answer names (VMID or name).
    pub fn template(&self, answer: &str) -> Option<&'a Guest> {
        let templates = self.templates();
        templates
            .iter()
            .find(|g| g.vmid.to_string() == answer)
            .or_else(|| templates.iter().find(|g| g.name == answer))
            .copied()
    }

    /// The profile chosen in the answers, if any.
    pub fn profile(&self, answers: &Answers) -> Option<&'a Profile> {
        let name = answers.get("profile").filter(|p| !p.is_empty())?;
        self.config.find_profile(name)
    }

    fn chosen_template(&self, answers: &Answers) -> Option<&'a Guest> {
        answers.get("template").and_then(|t| self.template(t))
    }

    /// Sockets from the profile (1 when it says nothing).
    pub fn sockets(&self, answers: &Answers) -> u32 {
        self.profile(answers).and_then(|p| p.sockets).unwrap_or(1)
    }

    fn profile_value(&self, key: &str, answers: &Answers) -> Option<String> {
        let p = self.profile(answers)?;
        match key {
            "cores" => p.cores.map(|c| c.to_string()),
            "sockets" => p.sockets.map(|c| c.to_string()),
            "memory" => p.memory.map(|s| s.to_string()),
            "disk" => p.disk.map(|s| s.to_string()),
            "template" => p.template.clone(),
            "storage" => p.storage.clone(),
            "bridge" => p.bridge.clone(),
            "cpu" => p.cpu.clone(),
            _ => None,
        }
    }

    fn config_value(&self, path: &str) -> Option<String> {
        let c = self.config;
        match path {
            "cloudinit.user" => c.cloudinit.user.clone(),
            "cloudinit.nameserver" => c.cloudinit.nameserver.clone(),
            "cloudinit.searchdomain" => c.cloudinit.searchdomain.clone(),
            "defaults.storage" => c.defaults.storage.clone(),
            "defaults.bridge" => c.defaults.bridge.clone(),
            "defaults.cpu" => c.defaults.cpu.clone(),
            _ => None,
        }
    }

    fn check_name(&self, text: &str) -> Result<(), String> {
        let name = validate::name(text)?;
        match self.inventory.guests().iter().find(|g| g.name == name) {
            Some(g) => Err(format!(
                "a guest named '{name}' already exists (VMID {} on {}): pick another name, or work with that one (`use {name}`)",
                g.vmid, g.node
            )),
            None => Ok(()),
        }
    }

    fn check_cores(&self, text: &str, answers: &Answers) -> Result<(), String> {
        validate::cores(text)?;
        self.quota_refusal(Rule::Cores, text, answers)
            .map_or(Ok(()), Err)
    }

    fn check_memory(&self, text: &str, answers: &Answers) -> Result<(), String> {
        validate::memory(text)?;
        self.quota_refusal(Rule::Memory, text, answers)
            .map_or(Ok(()), Err)
    }

    fn check_disk(&self, text: &str, answers: &Answers) -> Result<(), String> {
        let disk = validate::size(text)?;
        if let Some(t) = self.chosen_template(answers)
            && disk.bytes() < t.maxdisk
        {
            return Err(format!(
                "disk {disk} is smaller than the template's {}: disks only grow",
                Size::from_bytes(t.maxdisk)
            ));
        }
        self.quota_refusal(Rule::Disk, text, answers)
            .map_or(Ok(()), Err)
    }

    /// The quota (`quotas.max_cores`, `max_memory`, `max_disk`) a well-formed value breaks.
    fn quota_refusal(&self, rule: Rule, text: &str, answers: &Answers) -> Option<String> {
        let q = &self.config.quotas;
        match rule {
            Rule::Cores => {
                let total = validate::cores(text)
                    .ok()?
                    .saturating_mul(self.sockets(answers));
                let max = q.max_cores.filter(|max| total > *max)?;
                Some(format!(
                    "{total} cores is over the quota of {max} per VM ({})",
                    q.source(crate::config::QuotaKey::Cores)
                ))
            }
            Rule::Memory => {
                let mem = validate::memory(text).ok()?;
                let max = q.max_memory.filter(|max| mem > *max)?;
                Some(format!(
                    "memory {mem} is over the quota of {max} per VM ({})",
                    q.source(crate::config::QuotaKey::Memory)
                ))
            }
            Rule::Disk => {
                let disk = validate::size(text).ok()?;
                let max = q.max_disk.filter(|max| disk > *max)?;
                Some(format!(
                    "disk {disk} is over the quota of {max} per VM ({})",
                    q.source(crate::config::QuotaKey::Disk)
                ))
            }
            _ => None,
        }
    }
}

impl Facts for NewFacts<'_> {
    fn lookup(&self, name: &str, answers: &Answers) -> Option<String> {
        if let Some(key) = name.strip_prefix("profile.") {
            return self.profile_value(key, answers);
        }
        if let Some(path) = name.strip_prefix("config.") {
            return self.config_value(path);
        }
        let t = self.chosen_template(answers)?;
        match name {
            "template.cores" => (t.maxcpu > 0).then(|| t.maxcpu.to_string()),
            "template.memory" => size_text(t.maxmem),
            "template.disk" => size_text(t.maxdisk),
            _ => None,
        }
    }

    fn choices(&self, source: &str, _: &Answers) -> Vec<Choice> {
        match source {
            "profiles" => self
                .config
                .all_profiles()
                .into_iter()
                .map(|(name, p)| {
                    let about = p.description.as_deref().unwrap_or("");
                    let label = format!("{name} — {about}");
                    Choice::new(name, label)
                })
                .collect(),
            "templates" => self
                .templates()
                .into_iter()
                .map(|g| {
                    Choice::new(
                        g.vmid.to_string(),
                        format!("{} ({} on {})", g.name, g.vmid, g.node),
                    )
                })
                .collect(),
            "isos" | "archives" => {
                let all = if source == "isos" {
                    &self.isos
                } else {
                    &self.archives
                };
                let mut files: Vec<&str> = all.iter().map(IsoImage::file).collect();
                files.sort();
                files.dedup();
                files
                    .into_iter()
                    .map(|f| Choice::new(f.to_string(), f.to_string()))
                    .collect()
            }
            "nodes" => {
                let mut nodes: Vec<_> = self
                    .inventory
                    .nodes()
                    .iter()
                    .filter(|n| n.status == "online")
                    .collect();
                nodes.sort_by(|a, b| a.node.cmp(&b.node));
                nodes
                    .into_iter()
                    .map(|n| {
                        let free = n.maxmem.saturating_sub(n.mem);
                        Choice::new(
                            n.node.clone(),
                            format!(
                                "{} ({} free memory)",
                                n.node,
                                crate::lang::format_size(free)
                            ),
                        )
                    })
                    .collect()
            }
            "storages" => {
                let mut names: Vec<String> = self
                    .inventory
                    .storages()
                    .iter()
                    .filter(|s| s.content.iter().any(|c| c == "images"))
                    .map(|s| s.storage.clone())
                    .collect();
                names.sort();
                names.dedup();
                names
                    .into_iter()
                    .map(|s| Choice::new(s.clone(), s))
                    .collect()
            }
            "bridges" => {
                let bridge = self
                    .config
                    .defaults
                    .bridge
                    .clone()
                    .unwrap_or_else(|| DEFAULT_BRIDGE.to_string());
                vec![Choice::new(bridge.clone(), bridge)]
            }
            _ => Vec::new(),
        }
    }

    fn quota(&self, rule: Rule, text: &str, answers: &Answers) -> Option<String> {
        self.quota_refusal(rule, text, answers)
    }

    fn where_to_change(&self) -> String {
        self.config.where_to_change()
    }

    fn check(&self, rule: Rule, text: &str, answers: &Answers) -> Result<(), String> {
        match rule {
            Rule::Name => self.check_name(text),
            Rule::User => validate::user(text).map(|_| ()),
            Rule::Cores => self.check_cores(text, answers),
            Rule::Memory => self.check_memory(text, answers),
            Rule::Disk => self.check_disk(text, answers),
            Rule::Cidr => validate::cidr(text).map(|_| ()),
            Rule::Gateway if text.trim().is_empty() => Ok(()),
            Rule::Gateway => {
                let ip = answers
                    .get("ip")
                    .ok_or("a gateway needs an address first")
                    .and_then(|ip| validate::cidr(ip).map_err(|_| "the address is not valid"))?;
                validate::gateway(text, ip).map(|_| ())
            }
            Rule::Nameservers if text.trim().is_empty() => Ok(()),
            Rule::Nameservers => validate::nameservers(text).map(|_| ()),
            Rule::Keyfile if text.trim().is_empty() => Ok(()),
            Rule::Keyfile => read_key_file(text).map(|_| ()),
            Rule::Text => Ok(()),
        }
    }
}
