//! The cached cluster inventory, and how a word the user typed becomes a guest.
//!
//! The inventory is built from one `GET /cluster/resources` (never one request per node) and is
//! what name resolution, completion and highlighting read: none of them waits on the network.
//! This module owns the typed view of guests, nodes, storages and pools, and the rules that turn
//! a target word (`101`, `web01`, `web`, `@tag:prod`) into guests, with "did you mean"
//! suggestions on a miss. It does no IO itself.

use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::{Error, Result};

pub use crate::api::GuestKind;

/// A guest as `/cluster/resources` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Guest {
    pub vmid: u32,
    pub name: String,
    pub node: String,
    pub kind: GuestKind,
    pub status: String,
    pub template: bool,
    pub tags: Vec<String>,
    pub pool: Option<String>,
    pub lock: Option<String>,
    pub hastate: Option<String>,
    pub cpu: f64,
    pub maxcpu: u64,
    pub mem: u64,
    pub maxmem: u64,
    pub disk: u64,
    pub maxdisk: u64,
    pub uptime: u64,
    pub netin: u64,
    pub netout: u64,
}

impl Guest {
    /// `name (vmid)`, the way messages name a guest.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.vmid)
    }

    /// The API path of this guest: `/nodes/pve1/qemu/101`.
    pub fn api_path(&self) -> String {
        format!("/nodes/{}/{}/{}", self.node, self.kind.as_str(), self.vmid)
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeEntry {
    pub node: String,
    pub status: String,
    pub cpu: f64,
    pub maxcpu: u64,
    pub mem: u64,
    pub maxmem: u64,
    pub disk: u64,
    pub maxdisk: u64,
    pub uptime: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageEntry {
    pub storage: String,
    pub node: String,
    pub plugintype: String,
    pub content: Vec<String>,
    pub shared: bool,
    pub status: String,
    pub disk: u64,
    pub maxdisk: u64,
}

/// Everything one `GET /cluster/resources` says, typed.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    guests: Vec<Guest>,
    nodes: Vec<NodeEntry>,
    storages: Vec<StorageEntry>,
    pools: Vec<String>,
}

/// One row of `/cluster/resources`, read leniently: PVE sends numbers as strings on some
/// versions and flags as 0/1 (FACTS §1, §6).
#[derive(Debug, Deserialize)]
struct Row {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    vmid: Option<Json>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    template: Option<Json>,
    #[serde(default)]
    tags: Option<String>,
    #[serde(default)]
    pool: Option<String>,
    #[serde(default)]
    lock: Option<String>,
    #[serde(default)]
    hastate: Option<String>,
    #[serde(default)]
    storage: Option<String>,
    #[serde(default)]
    plugintype: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    shared: Option<Json>,
    #[serde(default)]
    cpu: Option<Json>,
    #[serde(default)]
    maxcpu: Option<Json>,
    #[serde(default)]
    mem: Option<Json>,
    #[serde(default)]
    maxmem: Option<Json>,
    #[serde(default)]
    disk: Option<Json>,
    #[serde(default)]
    maxdisk: Option<Json>,
    #[serde(default)]
    uptime: Option<Json>,
    #[serde(default)]
    netin: Option<Json>,
    #[serde(default)]
    netout: Option<Json>,
}

/// A number that may arrive as a JSON number or a numeric string.
pub fn json_u64(v: &Option<Json>) -> u64 {
    match v {
        Some(Json::Number(n)) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Some(Json::String(s)) => s.trim().parse::<f64>().ok().map(|f| f.max(0.0) as u64),
        _ => None,
    }
    .unwrap_or(0)
}

pub fn json_f64(v: &Option<Json>) -> f64 {
    match v {
        Some(Json::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Json::String(s)) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// A PVE flag: 1, "1", true.
pub fn json_flag(v: &Option<Json>) -> bool {
    match v {
        Some(Json::Bool(b)) => *b,
        Some(Json::Number(n)) => n.as_i64().unwrap_or(0) != 0,
        Some(Json::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// PVE separates tags with `;` (also accepting `,` and spaces on input).
pub fn split_tags(tags: &str) -> Vec<String> {
    tags.split([';', ',', ' '])
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

impl Inventory {
    /// Builds the inventory from the `data` of `GET /cluster/resources`.
    pub fn from_resources(data: &Json) -> Result<Inventory> {
        let rows: Vec<Row> = Vec::<Row>::deserialize(data).map_err(|e| {
            Error::new(
                crate::error::ErrorKind::Api,
                format!("unexpected answer from /cluster/resources: {e}"),
            )
        })?;
        let mut inv = Inventory::default();
        for row in rows {
            match row.kind.as_str() {
                "qemu" | "lxc" => {
                    let vmid = json_u64(&row.vmid) as u32;
                    if vmid == 0 {
                        continue;
                    }
                    inv.guests.push(Guest {
                        vmid,
                        name: row.name.clone().unwrap_or_else(|| format!("VM {vmid}")),
                        node: row.node.clone().unwrap_or_default(),
                        kind: if row.kind == "lxc" {
                            GuestKind::Lxc
                        } else {
                            GuestKind::Qemu
                        },
                        status: row.status.clone().unwrap_or_else(|| "unknown".into()),
                        template: json_flag(&row.template),
                        tags: row.tags.as_deref().map(split_tags).unwrap_or_default(),
                        pool: row.pool.clone(),
                        lock: row.lock.clone(),
                        hastate: row.hastate.clone(),
                        cpu: json_f64(&row.cpu),
                        maxcpu: json_u64(&row.maxcpu),
                        mem: json_u64(&row.mem),
                        maxmem: json_u64(&row.maxmem),
                        disk: json_u64(&row.disk),
                        maxdisk: json_u64(&row.maxdisk),
                        uptime: json_u64(&row.uptime),
                        netin: json_u64(&row.netin),
                        netout: json_u64(&row.netout),
                    });
                }
                "node" => inv.nodes.push(NodeEntry {
                    node: row.node.clone().unwrap_or_default(),
                    status: row.status.clone().unwrap_or_else(|| "unknown".into()),
                    cpu: json_f64(&row.cpu),
                    maxcpu: json_u64(&row.maxcpu),
                    mem: json_u64(&row.mem),
                    maxmem: json_u64(&row.maxmem),
                    disk: json_u64(&row.disk),
                    maxdisk: json_u64(&row.maxdisk),
                    uptime: json_u64(&row.uptime),
                }),
                "storage" => inv.storages.push(StorageEntry {
                    storage: row.storage.clone().unwrap_or_default(),
                    node: row.node.clone().unwrap_or_default(),
                    plugintype: row.plugintype.clone().unwrap_or_default(),
                    content: row
                        .content
                        .as_deref()
                        .map(|c| c.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                    shared: json_flag(&row.shared),
                    status: row.status.clone().unwrap_or_default(),
                    disk: json_u64(&row.disk),
                    maxdisk: json_u64(&row.maxdisk),
                }),
                "pool" => {
                    if let Some(p) = row.pool.clone() {
                        inv.pools.push(p);
                    }
                }
                _ => {}
            }
        }
        inv.guests.sort_by_key(|g| g.vmid);
        inv.nodes.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(inv)
    }

    pub fn guests(&self) -> &[Guest] {
        &self.guests
    }

    pub fn nodes(&self) -> &[NodeEntry] {
        &self.nodes
    }

    pub fn storages(&self) -> &[StorageEntry] {
        &self.storages
    }

    /// All pools (declared, or holding a guest), sorted and unique.
    pub fn pools(&self) -> Vec<String> {
        let names: std::collections::BTreeSet<&str> = self
            .pools
            .iter()
            .map(String::as_str)
            .chain(self.guests.iter().filter_map(|g| g.pool.as_deref()))
            .collect();
        names.into_iter().map(str::to_string).collect()
    }

    /// All tags in use, sorted and unique.
    pub fn tags(&self) -> Vec<String> {
        let names: std::collections::BTreeSet<&str> = self
            .guests
            .iter()
            .flat_map(|g| g.tags.iter().map(String::as_str))
            .collect();
        names.into_iter().map(str::to_string).collect()
    }

    pub fn guest(&self, vmid: u32) -> Option<&Guest> {
        self.guests
            .binary_search_by_key(&vmid, |g| g.vmid)
            .ok()
            .map(|i| &self.guests[i])
    }

    pub fn has_node(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n.node == node)
    }

    /// Resolves one target word to guests: a VMID, a name, a unique name prefix, or a
    /// selector (`@all`, `@tag:X`, `@pool:X`, `@node:X`, `@type:qemu|lxc`).
    pub fn resolve(&self, word: &str) -> Result<Vec<&Guest>> {
        if let Some(sel) = word.strip_prefix('@') {
            return self.select(sel);
        }
        self.resolve_one(word).map(|g| vec![g])
    }

    /// Resolves a word that must name exactly one guest.
    pub fn resolve_one(&self, word: &str) -> Result<&Guest> {
        if word.is_empty() {
            return Err(Error::usage("empty guest name"));
        }
        if let Ok(vmid) = word.parse::<u32>() {
            return self.guest(vmid).ok_or_else(|| {
                Error::not_found(format!("no guest with VMID {vmid}"))
                    .hinted("`ls` lists the guests; `refresh` reloads the inventory")
            });
        }
        let exact: Vec<&Guest> = self.guests.iter().filter(|g| g.name == word).collect();
        match exact.len() {
            1 => return Ok(exact[0]),
            n if n > 1 => {
                return Err(Error::usage(format!(
                    "{n} guests are named '{word}': {}",
                    list_labels(&exact)
                ))
                .hinted("use the VMID instead"));
            }
            _ => {}
        }
        let prefixed: Vec<&Guest> = self
            .guests
            .iter()
            .filter(|g| g.name.starts_with(word))
            .collect();
        match prefixed.len() {
            1 => Ok(prefixed[0]),
            0 => {
                let suggestions = self.suggest(word, 3);
                let err = Error::not_found(format!("no guest '{word}'"));
                Err(if suggestions.is_empty() {
                    err.hinted("`ls` lists the guests; `refresh` reloads the inventory")
                } else {
                    err.hinted(format!("did you mean {}?", suggestions.join(", ")))
                })
            }
            _ => Err(Error::usage(format!(
                "'{word}' matches {} guests: {}",
                prefixed.len(),
                list_labels(&prefixed)
            ))
            .hinted("type more of the name, or use the VMID")),
        }
    }

    fn select(&self, sel: &str) -> Result<Vec<&Guest>> {
        let (key, value) = sel.split_once(':').unwrap_or((sel, ""));
        let picked: Vec<&Guest> = match (key, value) {
            ("all", "") => self.guests.iter().collect(),
            ("tag", t) if !t.is_empty() => self.guests.iter().filter(|g| g.has_tag(t)).collect(),
            ("pool", p) if !p.is_empty() => self
                .guests
                .iter()
                .filter(|g| g.pool.as_deref() == Some(p))
                .collect(),
            ("node", n) if !n.is_empty() => {
                if !self.has_node(n) && !self.nodes.is_empty() {
                    let names: Vec<String> = self.nodes.iter().map(|n| n.node.clone()).collect();
                    return Err(Error::not_found(format!("no node '{n}'"))
                        .hinted(format!("nodes: {}", names.join(", "))));
                }
                self.guests.iter().filter(|g| g.node == n).collect()
            }
            ("type", "qemu") => self
                .guests
                .iter()
                .filter(|g| g.kind == GuestKind::Qemu)
                .collect(),
            ("type", "lxc") => self
                .guests
                .iter()
                .filter(|g| g.kind == GuestKind::Lxc)
                .collect(),
            _ => {
                return Err(Error::usage(format!("unknown selector '@{sel}'"))
                    .hinted("selectors: @all, @tag:NAME, @pool:NAME, @node:NAME, @type:qemu|lxc"));
            }
        };
        if picked.is_empty() {
            return Err(Error::not_found(format!(
                "selector '@{sel}' matches no guest"
            )));
        }
        Ok(picked)
    }

    /// Up to `max` guest names close to `word`, best first.
    pub fn suggest(&self, word: &str, max: usize) -> Vec<String> {
        let word_lc = word.to_lowercase();
        let mut scored: Vec<(usize, &str)> = self
            .guests
            .iter()
            .filter_map(|g| {
                let name = g.name.to_lowercase();
                let limit = (word.len() / 3).max(1) + 1;
                let d = strsim::osa_distance(&word_lc, &name);
                let prefix_d =
                    strsim::osa_distance(&word_lc, name.get(..word_lc.len().min(name.len()))?);
                let best = d.min(prefix_d + 1);
                (best <= limit || name.contains(&word_lc)).then_some((best, g.name.as_str()))
            })
            .collect();
        scored.sort();
        scored.dedup_by(|a, b| a.1 == b.1);
        scored
            .into_iter()
            .take(max)
            .map(|(_, n)| n.to_string())
            .collect()
    }
}

/// The inventory shared between the session and its line editor: the session replaces it after a
/// refresh, the completer and highlighter read the latest snapshot without waiting. Beside it, a
/// small cache of snapshot names per guest (filled in the background for the current VM, and
/// for the guest a `rollback` or `delsnapshot` line names when Tab asks for its names).
#[derive(Debug, Clone, Default)]
pub struct SharedInventory(
    Arc<RwLock<Option<Arc<Inventory>>>>,
    Arc<RwLock<SnapshotNames>>,
);

type SnapshotNames = std::collections::HashMap<u32, Vec<String>>;

impl SharedInventory {
    /// The snapshot names last seen for a guest (empty when never fetched).
    pub fn snapshots(&self, vmid: u32) -> Vec<String> {
        self.cached_snapshots(vmid).unwrap_or_default()
    }

    /// The snapshot names of a guest if they were fetched (`None`: never, or forgotten since).
    pub fn cached_snapshots(&self, vmid: u32) -> Option<Vec<String>> {
        match self.1.read() {
            Ok(guard) => guard.get(&vmid).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&vmid).cloned(),
        }
    }

    /// Forgets the snapshot names of every guest but `keep`, so that names fetched for
    /// completing `rollback web01 ` are fetched afresh after the next command.
    pub fn forget_snapshots_except(&self, keep: Option<u32>) {
        match self.1.write() {
            Ok(mut guard) => guard.retain(|vmid, _| Some(*vmid) == keep),
            Err(poisoned) => poisoned.into_inner().retain(|vmid, _| Some(*vmid) == keep),
        }
    }

    pub fn set_snapshots(&self, vmid: u32, names: Vec<String>) {
        match self.1.write() {
            Ok(mut guard) => guard.insert(vmid, names),
            Err(poisoned) => poisoned.into_inner().insert(vmid, names),
        };
    }

    /// The latest snapshot, if any has been loaded.
    pub fn get(&self) -> Option<Arc<Inventory>> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, inventory: Inventory) -> Arc<Inventory> {
        let snapshot = Arc::new(inventory);
        match self.0.write() {
            Ok(mut guard) => *guard = Some(snapshot.clone()),
            Err(poisoned) => *poisoned.into_inner() = Some(snapshot.clone()),
        }
        snapshot
    }
}

fn list_labels(guests: &[&Guest]) -> String {
    let mut labels: Vec<String> = guests.iter().take(8).map(|g| g.label()).collect();
    if guests.len() > 8 {
        labels.push(format!("and {} more", guests.len() - 8));
    }
    labels.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn demo() -> Inventory {
        let rows = json!([
            {"id":"node/pve1","type":"node","node":"pve1","status":"online","maxmem":1000},
            {"id":"node/pve2","type":"node","node":"pve2","status":"online"},
            {"id":"qemu/101","type":"qemu","vmid":101,"name":"web01","node":"pve1","status":"running","tags":"prod;web","template":0},
            {"id":"qemu/102","type":"qemu","vmid":"102","name":"web02","node":"pve2","status":"running","tags":"prod;web"},
            {"id":"qemu/103","type":"qemu","vmid":103,"name":"db01","node":"pve1","status":"running","tags":"prod;db","pool":"lab"},
            {"id":"lxc/200","type":"lxc","vmid":200,"name":"dns01","node":"pve2","status":"running"},
            {"id":"qemu/9000","type":"qemu","vmid":9000,"name":"debian-12-cloud","node":"pve1","status":"stopped","template":1},
            {"id":"storage/pve1/local","type":"storage","storage":"local","node":"pve1","content":"iso,backup","shared":0},
        ]);
        Inventory::from_resources(&rows).unwrap()
    }

    fn check(word: &str, expected: Result<&[u32], &str>) {
        let inv = demo();
        let got = inv.resolve(word);
        match (got, expected) {
            (Ok(gs), Ok(ids)) => {
                assert_eq!(gs.iter().map(|g| g.vmid).collect::<Vec<_>>(), ids, "{word}")
            }
            (Err(e), Err(msg)) => assert_eq!(e.to_string(), msg, "{word}"),
            (got, want) => panic!("{word}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn resolves_targets() {
        check("101", Ok(&[101]));
        check("102", Ok(&[102]));
        check("web01", Ok(&[101]));
        check("db", Ok(&[103]));
        check("dns01", Ok(&[200]));
        check("@tag:prod", Ok(&[101, 102, 103]));
        check("@pool:lab", Ok(&[103]));
        check("@node:pve2", Ok(&[102, 200]));
        check("@type:lxc", Ok(&[200]));
        check("@all", Ok(&[101, 102, 103, 200, 9000]));
        check(
            "999",
            Err(
                "no guest with VMID 999\n  hint: `ls` lists the guests; `refresh` reloads the inventory",
            ),
        );
        check(
            "webb",
            Err("no guest 'webb'\n  hint: did you mean web01, web02?"),
        );
        check(
            "web",
            Err(
                "'web' matches 2 guests: web01 (101), web02 (102)\n  hint: type more of the name, or use the VMID",
            ),
        );
        check(
            "@node:pve9",
            Err("no node 'pve9'\n  hint: nodes: pve1, pve2"),
        );
        check("@tag:nope", Err("selector '@tag:nope' matches no guest"));
        check(
            "@color:red",
            Err(
                "unknown selector '@color:red'\n  hint: selectors: @all, @tag:NAME, @pool:NAME, @node:NAME, @type:qemu|lxc",
            ),
        );
    }

    #[test]
    fn reads_lenient_rows() {
        let inv = demo();
        assert_eq!(inv.guest(102).map(|g| g.name.as_str()), Some("web02"));
        assert!(inv.guest(9000).unwrap().template);
        assert_eq!(inv.guest(101).unwrap().tags, vec!["prod", "web"]);
        assert_eq!(inv.tags(), vec!["db", "prod", "web"]);
        assert_eq!(inv.pools(), vec!["lab"]);
        assert_eq!(inv.storages()[0].content, vec!["iso", "backup"]);
        assert_eq!(inv.guest(200).unwrap().kind, GuestKind::Lxc);
        assert_eq!(inv.guest(101).unwrap().api_path(), "/nodes/pve1/qemu/101");
    }

    #[test]
    fn suggestions_count_a_transposition_as_one_edit() {
        // `suggest` relies on the optimal string alignment distance.
        assert_eq!(strsim::osa_distance("webb", "web01"), 2);
        assert_eq!(strsim::osa_distance("ab", "ba"), 1);
        assert_eq!(strsim::osa_distance("", "abc"), 3);
        assert_eq!(strsim::osa_distance("same", "same"), 0);
    }
}
