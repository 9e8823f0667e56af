//! The simulated cluster: nodes, guests, storages and volumes, pools, users, ACLs and tasks.
//!
//! `State` is plain data behind the server's lock; handlers mutate it, tests inspect it through
//! `SimHandle::with_state`. The JSON views that several routes share (`/cluster/resources`
//! rows, guest status) live here so they stay consistent. No IO, no HTTP.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

pub use super::guest_config::GuestConfig;
use super::perms::AclEntry;
use super::tasks::Task as TaskRecord;
use crate::secret::Secret;

pub use super::tasks::Task;

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub online: bool,
    pub cpu: f64,
    pub maxcpu: u32,
    /// Memory the host itself uses; [`State::node_mem`] adds its running guests'.
    pub mem: u64,
    pub maxmem: u64,
    pub disk: u64,
    pub maxdisk: u64,
    pub uptime: u64,
    pub ssl_fingerprint: String,
    /// In HA maintenance (`ha-manager crm-command node-maintenance enable`): the LRM says
    /// `maintenance mode` and the CRM moves its HA-managed guests away.
    pub maintenance: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestKind {
    Qemu,
    Lxc,
}

impl GuestKind {
    /// `qemu` or `lxc`, as in `/cluster/resources` and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }

    /// `VM` or `CT`, as in PVE's lock messages.
    pub fn short(self) -> &'static str {
        match self {
            GuestKind::Qemu => "VM",
            GuestKind::Lxc => "CT",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub name: String,
    pub parent: Option<String>,
    pub snaptime: i64,
    pub vmstate: bool,
    pub description: String,
    pub config: IndexMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Guest {
    pub vmid: u32,
    pub kind: GuestKind,
    pub node: String,
    /// `running`, `stopped` (a suspended VM is `running` with qmpstatus `paused`).
    pub status: &'static str,
    pub paused: bool,
    /// The live config, in file order (`name`, `tags`, `lock`, `template`, `protection` included).
    pub config: GuestConfig,
    /// Pending changes: `Some(value)` to set, `None` to delete at the next start.
    pub pending: IndexMap<String, Option<String>>,
    pub snapshots: Vec<Snapshot>,
    /// The snapshot the current state derives from.
    pub parent: Option<String>,
    pub pool: Option<String>,
    /// Guest-agent interfaces (already in the agent's JSON shape).
    pub agent_ifaces: Vec<Value>,
    /// Simulated time the guest started (for uptime).
    pub started_at: Option<i64>,
    pub cpu: f64,
    pub mem: u64,
    pub netin: u64,
    pub netout: u64,
}

impl Guest {
    /// A guest just created (or cloned): stopped, no pending changes, snapshots or agent.
    pub fn new_stopped(
        vmid: u32,
        kind: GuestKind,
        node: String,
        config: IndexMap<String, String>,
        pool: Option<String>,
    ) -> Guest {
        Guest {
            vmid,
            kind,
            node,
            status: "stopped",
            paused: false,
            config: config.into(),
            pending: IndexMap::new(),
            snapshots: Vec::new(),
            parent: None,
            pool,
            agent_ifaces: Vec::new(),
            started_at: None,
            cpu: 0.0,
            mem: 0,
            netin: 0,
            netout: 0,
        }
    }

    pub fn cfg(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(String::as_str)
    }

    pub fn name(&self) -> &str {
        &self.config.summary().name
    }

    pub fn is_template(&self) -> bool {
        self.config.summary().template
    }

    pub fn lock(&self) -> Option<&str> {
        self.config.summary().lock.as_deref()
    }

    pub fn is_running(&self) -> bool {
        self.status == "running"
    }

    pub fn maxcpu(&self) -> u64 {
        self.config.summary().maxcpu
    }

    pub fn maxmem(&self) -> u64 {
        self.config.summary().maxmem
    }

    /// The size of the boot disk (first disk key with `size=`), in bytes.
    pub fn maxdisk(&self) -> u64 {
        self.config.summary().maxdisk
    }

    /// The config file text as PVE writes it (keys sorted, `digest` excluded), pending last.
    pub fn config_text(&self) -> String {
        let mut out = String::new();
        let mut keys: Vec<&String> = self.config.keys().collect();
        keys.sort();
        for k in keys {
            out.push_str(&format!("{k}: {}\n", self.config[k]));
        }
        if !self.pending.is_empty() {
            out.push_str("\n[PENDING]\n");
            for (k, v) in &self.pending {
                match v {
                    Some(v) => out.push_str(&format!("{k}: {v}\n")),
                    None => out.push_str(&format!("delete: {k}\n")),
                }
            }
        }
        out
    }

    /// SHA1 of the config text: changes whenever the config or pending changes.
    pub fn digest(&self) -> String {
        hex::encode(Sha1::digest(self.config_text().as_bytes()))
    }

    pub fn uptime(&self, now: i64) -> i64 {
        match (self.is_running(), self.started_at) {
            (true, Some(t)) => (now - t).max(0),
            _ => 0,
        }
    }
}

/// `scsi0`, `virtio3`, `ide2`, `sata1`, `efidisk0`, `tpmstate0`, `mp0`.
pub fn is_disk_key(k: &str) -> bool {
    k == "rootfs"
        || ["scsi", "virtio", "ide", "sata", "efidisk", "tpmstate", "mp"]
            .iter()
            .any(|p| {
                k.strip_prefix(p)
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            })
}

/// The storage of a disk value (`local-lvm:vm-100-disk-0,...` → `local-lvm`); `None` for
/// `none,media=cdrom` and other values without a volume.
pub fn disk_storage(v: &str) -> Option<&str> {
    let first = v.split(',').next()?;
    let first = first
        .strip_prefix("file=")
        .or_else(|| first.strip_prefix("volume="))
        .unwrap_or(first);
    first
        .split_once(':')
        .map(|(s, _)| s)
        .filter(|s| !s.is_empty() && !s.starts_with('/'))
}

/// Parses `size=32G` out of a disk property string into bytes.
pub fn disk_size(v: &str) -> Option<u64> {
    v.split(',')
        .find_map(|p| p.strip_prefix("size="))
        .and_then(parse_size)
}

/// `32G`, `512M`, `4096K`, `1T`, or a byte count → bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        'T' | 't' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    num.parse::<f64>().ok().map(|n| (n * mult as f64) as u64)
}

/// Bytes → PVE's size text (`32G`, `512M`, else K).
pub fn format_size(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 40) && bytes > 0 {
        format!("{}T", bytes >> 40)
    } else if bytes.is_multiple_of(1 << 30) {
        format!("{}G", bytes >> 30)
    } else if bytes.is_multiple_of(1 << 20) {
        format!("{}M", bytes >> 20)
    } else {
        format!("{}K", bytes.div_ceil(1024))
    }
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub id: String,
    /// Plugin type: `dir`, `lvmthin`, `nfs`, `pbs`.
    pub stype: String,
    pub content: Vec<String>,
    pub shared: bool,
    /// Nodes it is available on; `None` = all.
    pub nodes: Option<Vec<String>>,
    pub total: u64,
    /// Space used by things the simulator does not model.
    pub base_used: u64,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub storage: String,
    /// The node holding the volume for local storages; `None` for shared ones.
    pub node: Option<String>,
    pub volid: String,
    pub content: String,
    pub format: String,
    pub size: u64,
    pub ctime: i64,
    pub vmid: Option<u32>,
    pub notes: Option<String>,
    pub protected: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Pool {
    pub poolid: String,
    pub comment: String,
    pub vms: Vec<u32>,
    pub storages: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: String,
    pub secret: Secret,
    pub comment: String,
    pub expire: i64,
    pub privsep: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub userid: String,
    pub password: Option<Secret>,
    /// Base32 TOTP secret when the user has TFA.
    pub totp: Option<String>,
    pub enable: bool,
    pub comment: String,
    pub email: String,
    pub tokens: Vec<ApiToken>,
}

/// A network interface of a node (`/etc/network/interfaces`, as `GET /nodes/{node}/network`
/// lists it).
#[derive(Debug, Clone)]
pub struct NetIface {
    pub node: String,
    pub iface: String,
    /// `eth`, `bridge`, `bond`, `vlan`, ...
    pub kind: String,
    /// `static`, `manual`, `dhcp`.
    pub method: String,
    /// IPv4 CIDR for a static interface (`10.0.0.11/24`).
    pub cidr: Option<String>,
    pub gateway: Option<String>,
    /// The ports of a bridge (`eno1`).
    pub bridge_ports: Option<String>,
    pub autostart: bool,
    pub active: bool,
    pub comments: Option<String>,
}

/// An HA resource (`/etc/pve/ha/resources.cfg`): `vm:103` or `ct:200`.
#[derive(Debug, Clone)]
pub struct HaResource {
    pub sid: String,
    /// The requested state: `started`, `stopped`, `disabled`, `ignored`.
    pub state: String,
    pub comment: Option<String>,
}

/// An HA rule (`/etc/pve/ha/rules.cfg`, PVE 9.x), node or resource affinity.
#[derive(Debug, Clone)]
pub struct HaRule {
    pub rule: String,
    /// `node-affinity` or `resource-affinity`.
    pub kind: String,
    /// `vm:103,vm:104`.
    pub resources: String,
    /// For node affinity: `pve1:2,pve2:1`.
    pub nodes: Option<String>,
    /// For resource affinity: `positive` or `negative`.
    pub affinity: Option<String>,
    pub strict: bool,
    pub comment: Option<String>,
}

/// An HA group (deprecated in PVE 9.x, where groups are migrated to node-affinity rules).
#[derive(Debug, Clone)]
pub struct HaGroup {
    pub group: String,
    pub nodes: String,
    pub restricted: bool,
    pub nofailback: bool,
    pub comment: Option<String>,
}

/// A user group (`/etc/pve/user.cfg`).
#[derive(Debug, Clone)]
pub struct Group {
    pub groupid: String,
    pub comment: String,
    pub users: Vec<String>,
}

/// A scheduled backup job (`/etc/pve/jobs.cfg`, type `vzdump`).
#[derive(Debug, Clone)]
pub struct BackupJob {
    pub id: String,
    /// A calendar event: `21:00`, `sat 02:30`, `mon..fri 22:00`.
    pub schedule: String,
    pub storage: String,
    pub enabled: bool,
    /// Guest selection: all guests (minus `exclude`), a VMID list, or a pool.
    pub all: bool,
    pub vmid: Option<String>,
    pub exclude: Option<String>,
    pub pool: Option<String>,
    /// Only guests on this node.
    pub node: Option<String>,
    pub mode: String,
    pub compress: String,
    /// Retention (`prune-backups`), in PVE's key order: `keep-last`, `keep-daily`, ...
    pub prune: Vec<(String, u32)>,
    pub notes_template: Option<String>,
    pub comment: Option<String>,
}

/// The whole simulated cluster.
#[derive(Debug, Default)]
pub struct State {
    pub cluster_name: String,
    pub nodes: Vec<Node>,
    pub guests: BTreeMap<u32, Guest>,
    pub storages: Vec<Storage>,
    pub volumes: Vec<Volume>,
    pub pools: BTreeMap<String, Pool>,
    pub users: BTreeMap<String, User>,
    pub acl: Vec<AclEntry>,
    /// The roles made through the API (the built-in ones are [`super::perms::ROLES`]).
    pub roles: super::perms::Roles,
    pub groups: Vec<Group>,
    pub networks: Vec<NetIface>,
    pub ha_resources: Vec<HaResource>,
    pub ha_rules: Vec<HaRule>,
    pub ha_groups: Vec<HaGroup>,
    pub backup_jobs: Vec<BackupJob>,
    pub tasks: Vec<TaskRecord>,
    /// The guest config each backup (by volid) holds, for restore; backups of the scenario
    /// that are not here restore the config their guest has now.
    pub backup_configs: BTreeMap<String, IndexMap<String, String>>,
    /// The next task PID (deterministic sequence).
    pub next_pid: u32,
    /// Deterministic pseudo-random state (MACs, fault dice).
    pub rng: u64,
    pub(crate) fail_tasks: Option<regex::Regex>,
    /// The termproxy sessions handed out (`POST .../termproxy`), open or ended.
    pub consoles: Vec<super::console::ConsoleSession>,
    /// The HA-managed guests maintenance moved away, and the node they go back to.
    pub maintenance_moved: BTreeMap<u32, String>,
    /// Files the REST handler received and no upload call has taken yet, by temporary path.
    pub uploads: BTreeMap<String, super::upload::TmpUpload>,
}

impl State {
    /// splitmix64 on the state's seed.
    pub fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A Proxmox-style MAC (`BC:24:11:xx:xx:xx`).
    pub fn random_mac(&mut self) -> String {
        let r = self.next_random();
        format!(
            "BC:24:11:{:02X}:{:02X}:{:02X}",
            (r >> 16) as u8,
            (r >> 8) as u8,
            r as u8
        )
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn storage(&self, id: &str) -> Option<&Storage> {
        self.storages.iter().find(|s| s.id == id)
    }

    pub fn storage_on(&self, id: &str, node: &str) -> bool {
        self.storage(id).is_some_and(|s| {
            s.nodes
                .as_ref()
                .is_none_or(|ns| ns.iter().any(|n| n == node))
        })
    }

    /// Bytes used on `storage` as seen from `node`.
    pub fn storage_used(&self, s: &Storage, node: &str) -> u64 {
        s.base_used
            + self
                .volumes
                .iter()
                .filter(|v| v.storage == s.id && (s.shared || v.node.as_deref() == Some(node)))
                .map(|v| v.size)
                .sum::<u64>()
    }

    pub fn set_password(&mut self, userid: &str, password: Secret) {
        self.users
            .entry(userid.to_string())
            .or_insert_with(|| User {
                userid: userid.to_string(),
                password: None,
                totp: None,
                enable: true,
                comment: String::new(),
                email: String::new(),
                tokens: Vec::new(),
            })
            .password = Some(password);
    }

    /// Adds `user@realm!name` with `secret` (privilege separation off).
    pub fn add_api_token(&mut self, full: &str, secret: Secret) -> Result<(), String> {
        let (user, id) = full
            .split_once('!')
            .ok_or_else(|| format!("token '{full}' must look like user@realm!name"))?;
        let u = self
            .users
            .get_mut(user)
            .ok_or_else(|| format!("token '{full}': user '{user}' does not exist"))?;
        u.tokens.retain(|t| t.id != id);
        u.tokens.push(ApiToken {
            id: id.to_string(),
            secret,
            comment: String::new(),
            expire: 0,
            privsep: false,
        });
        Ok(())
    }

    /// Users with a password, `root@pam` first.
    pub fn password_credentials(&self) -> Vec<(String, Secret)> {
        let mut out: Vec<(String, Secret)> = self
            .users
            .values()
            .filter_map(|u| u.password.clone().map(|p| (u.userid.clone(), p)))
            .collect();
        out.sort_by_key(|(u, _)| u != "root@pam");
        out
    }

    /// A `/cluster/resources` row for a guest (FACTS §5 fields and types).
    pub fn guest_resource(&self, g: &Guest, now: i64) -> Value {
        serde_json::to_value(self.guest_row(g, now)).unwrap_or(Value::Null)
    }

    /// A guest's `/cluster/resources` row as a borrowed, directly serializable struct: 10 000 of
    /// them serialize without building a JSON tree first. What the row takes from the config
    /// comes from its [`GuestConfig::summary`], worked out once per config change.
    pub fn guest_row<'a>(&self, g: &'a Guest, now: i64) -> GuestRow<'a> {
        let running = g.is_running();
        let c = g.config.summary();
        GuestRow {
            id: GuestId(g.kind.as_str(), g.vmid),
            kind: g.kind.as_str(),
            vmid: g.vmid,
            node: &g.node,
            name: &c.name,
            status: g.status,
            template: u8::from(c.template),
            maxcpu: c.maxcpu,
            cpu: if running { g.cpu } else { 0.0 },
            maxmem: c.maxmem,
            mem: if running { g.mem } else { 0 },
            maxdisk: c.maxdisk,
            disk: 0,
            netin: if running { g.netin } else { 0 },
            netout: if running { g.netout } else { 0 },
            diskread: 0,
            diskwrite: 0,
            uptime: g.uptime(now),
            tags: c.tags.as_deref(),
            pool: g.pool.as_deref(),
            lock: c.lock.as_deref(),
        }
    }

    /// Memory in use on a node: the host's own plus its running guests', at most all of it.
    pub fn node_mem(&self, n: &Node) -> u64 {
        let guests: u64 = self
            .guests
            .values()
            .filter(|g| g.node == n.name && g.is_running())
            .map(|g| g.mem)
            .sum();
        (n.mem + guests).min(n.maxmem)
    }

    /// Memory in use on every node ([`State::node_mem`] for all at once: one pass over the
    /// guests, for `/cluster/resources` of a big cluster).
    pub fn nodes_mem(&self) -> std::collections::HashMap<&str, u64> {
        let mut tally = NodeMemTally::new(self);
        self.guests.values().for_each(|g| tally.add(g));
        tally.finish()
    }

    /// Bytes used on every storage, per node it is seen from ([`State::storage_used`] for all
    /// at once: one pass over the volumes).
    pub fn storages_used(&self) -> std::collections::HashMap<(&str, &str), u64> {
        // A handful of storages and nodes: scans beat hashing every volume's names.
        let mut shared: Vec<u64> = vec![0; self.storages.len()];
        let mut local: Vec<u64> = vec![0; self.storages.len() * self.nodes.len()];
        for v in &self.volumes {
            let Some(si) = self.storages.iter().position(|st| st.id == v.storage) else {
                continue;
            };
            shared[si] += v.size;
            if let Some(ni) = v
                .node
                .as_deref()
                .and_then(|node| self.nodes.iter().position(|n| n.name == node))
            {
                local[si * self.nodes.len() + ni] += v.size;
            }
        }
        let mut out = std::collections::HashMap::new();
        for (si, st) in self.storages.iter().enumerate() {
            for (ni, n) in self.nodes.iter().enumerate() {
                let volumes = if st.shared {
                    shared[si]
                } else {
                    local[si * self.nodes.len() + ni]
                };
                out.insert((st.id.as_str(), n.name.as_str()), st.base_used + volumes);
            }
        }
        out
    }

    pub fn node_resource(&self, n: &Node) -> Value {
        self.node_resource_with(n, self.node_mem(n))
    }

    /// [`State::node_resource`] with the node's memory in use given.
    pub fn node_resource_with(&self, n: &Node, mem: u64) -> Value {
        json!({
            "id": format!("node/{}", n.name),
            "type": "node",
            "node": n.name,
            "status": if n.online { "online" } else { "offline" },
            "cpu": if n.online { n.cpu } else { 0.0 },
            "maxcpu": n.maxcpu,
            "mem": mem,
            "maxmem": n.maxmem,
            "disk": n.disk,
            "maxdisk": n.maxdisk,
            "uptime": if n.online { n.uptime } else { 0 },
            "level": "",
            "cgroup-mode": 2,
        })
    }

    pub fn storage_resource(&self, s: &Storage, node: &str) -> Value {
        self.storage_resource_with(s, node, self.storage_used(s, node))
    }

    /// [`State::storage_resource`] with the bytes used given.
    pub fn storage_resource_with(&self, s: &Storage, node: &str, used: u64) -> Value {
        json!({
            "id": format!("storage/{node}/{}", s.id),
            "type": "storage",
            "storage": s.id,
            "node": node,
            "plugintype": s.stype,
            "content": s.content.join(","),
            "status": "available",
            "shared": u8::from(s.shared),
            "disk": used,
            "maxdisk": s.total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest() -> Guest {
        Guest {
            vmid: 100,
            kind: GuestKind::Qemu,
            node: "pve1".into(),
            status: "stopped",
            paused: false,
            config: [
                ("cores", "2"),
                ("memory", "2048"),
                ("scsi0", "local-lvm:vm-100-disk-0,size=32G"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            pending: IndexMap::new(),
            snapshots: Vec::new(),
            parent: None,
            pool: None,
            agent_ifaces: Vec::new(),
            started_at: None,
            cpu: 0.0,
            mem: 0,
            netin: 0,
            netout: 0,
        }
    }

    #[test]
    fn digest_changes_with_config_and_pending() {
        let mut g = guest();
        let d0 = g.digest();
        assert_eq!(d0.len(), 40);
        assert_eq!(d0, guest().digest(), "digest is stable");
        g.config.insert("cores".into(), "4".into());
        let d1 = g.digest();
        assert_ne!(d0, d1);
        g.pending.insert("memory".into(), Some("4096".into()));
        assert_ne!(d1, g.digest());
    }

    #[test]
    fn a_resources_row_and_node_and_storage_use_match_the_one_at_a_time_reads() {
        for scenario in [
            crate::sim::Scenario::Demo,
            crate::sim::Scenario::Generated {
                guests: 60,
                nodes: 4,
            },
        ] {
            let s = crate::sim::scenario::build(&scenario, 7).unwrap();
            for g in s.guests.values() {
                let row = s.guest_row(g, 1000);
                assert_eq!(
                    (row.name, row.maxcpu, row.maxmem, row.maxdisk),
                    (g.name(), g.maxcpu(), g.maxmem(), g.maxdisk()),
                    "{}",
                    g.vmid
                );
                assert_eq!(
                    (row.template == 1, row.tags, row.lock),
                    (g.is_template(), g.cfg("tags"), g.lock())
                );
                assert_eq!(
                    serde_json::to_value(row).unwrap()["id"],
                    format!("{}/{}", g.kind.as_str(), g.vmid)
                );
            }
            let mem = s.nodes_mem();
            let used = s.storages_used();
            for n in &s.nodes {
                assert_eq!(mem[n.name.as_str()], s.node_mem(n), "{}", n.name);
                for st in &s.storages {
                    assert_eq!(
                        used[&(st.id.as_str(), n.name.as_str())],
                        s.storage_used(st, &n.name),
                        "{} on {}",
                        st.id,
                        n.name
                    );
                }
            }
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32G"), Some(32 << 30));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(format_size(42 << 30), "42G");
        assert_eq!(format_size(512 << 20), "512M");
        let g = guest();
        assert_eq!(
            (g.maxcpu(), g.maxmem(), g.maxdisk()),
            (2, 2048 << 20, 32 << 30)
        );
    }
}

/// A guest's resource id, `qemu/100`, written without a string of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestId(pub &'static str, pub u32);

impl serde::Serialize for GuestId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}/{}", self.0, self.1))
    }
}

/// Memory in use per node, added up one guest at a time (so that a pass over the guests made
/// for something else, such as writing their rows, can count it too).
pub struct NodeMemTally<'a> {
    state: &'a State,
    /// Running guests' memory, per node in `state.nodes` order.
    used: Vec<u64>,
}

impl<'a> NodeMemTally<'a> {
    pub fn new(state: &'a State) -> Self {
        NodeMemTally {
            state,
            used: vec![0; state.nodes.len()],
        }
    }

    pub fn add(&mut self, g: &Guest) {
        if !g.is_running() {
            return;
        }
        // A handful of nodes: a scan beats hashing every guest's node name.
        if let Some(i) = self.state.nodes.iter().position(|n| n.name == g.node) {
            self.used[i] += g.mem;
        }
    }

    /// The host's own memory plus its running guests', at most all of it, by node name.
    pub fn finish(self) -> std::collections::HashMap<&'a str, u64> {
        self.state
            .nodes
            .iter()
            .zip(self.used)
            .map(|(n, guests)| (n.name.as_str(), (n.mem + guests).min(n.maxmem)))
            .collect()
    }
}

/// One guest row of `/cluster/resources` (FACTS §5), in PVE's field order.
#[derive(Debug, serde::Serialize)]
pub struct GuestRow<'a> {
    pub id: GuestId,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub vmid: u32,
    pub node: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    pub template: u8,
    pub maxcpu: u64,
    pub cpu: f64,
    pub maxmem: u64,
    pub mem: u64,
    pub maxdisk: u64,
    pub disk: u64,
    pub netin: u64,
    pub netout: u64,
    pub diskread: u64,
    pub diskwrite: u64,
    pub uptime: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<&'a str>,
}
