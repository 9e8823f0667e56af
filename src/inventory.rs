//! The cached cluster inventory, and how a word the user typed becomes a guest.
//!
//! The inventory is built from one `GET /cluster/resources` (never one request per node) and is
//! what name resolution, completion and highlighting read: none of them waits on the network.
//! This module owns the typed view of guests, nodes, storages and pools, and the rules that turn
//! a target word (`101`, `web01`, `web`, `@tag:prod`) into guests, with "did you mean"
//! suggestions on a miss. It does no IO itself.
//!
//! Scale: the answer's bytes are decoded straight into [`Inventory`] (its `Deserialize`: rows
//! borrow their strings from the answer, no JSON tree), each guest is held once, and `ls` hands
//! a [`GuestList`] on (indices into the inventory) that a table or JSON reads in place through
//! [`Guest::field`]; only a next pipeline stage makes records ([`Guest::record`]).

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use serde::Deserialize;
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::lang::Value;

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

    /// Every field of a guest record, in the order records, tables and JSON show them.
    pub const FIELDS: &'static [&'static str] = &[
        "vmid", "name", "node", "type", "status", "cpu", "maxcpu", "mem", "maxmem", "disk",
        "maxdisk", "uptime", "tags", "template", "pool", "lock", "hastate", "netin", "netout",
    ];

    /// One field of the guest's record, borrowed: the one mapping from a guest to its record
    /// (`ls | ...`), its table row and its JSON object. `None` for a field guests lack.
    pub fn field(&self, name: &str) -> Option<Field<'_>> {
        fn opt(v: &Option<String>) -> Field<'_> {
            v.as_deref().map_or(Field::Value(Value::Null), Field::Str)
        }
        Some(match name {
            "vmid" => Field::Value(Value::Int(i64::from(self.vmid))),
            "name" => Field::Str(&self.name),
            "node" => Field::Str(&self.node),
            "type" => Field::Str(self.kind.as_str()),
            "status" => Field::Str(&self.status),
            "cpu" => Field::Value(Value::Percent(self.cpu)),
            "maxcpu" => Field::Value(Value::Int(self.maxcpu as i64)),
            "mem" => Field::Value(Value::Size(self.mem)),
            "maxmem" => Field::Value(Value::Size(self.maxmem)),
            "disk" => Field::Value(Value::Size(self.disk)),
            "maxdisk" => Field::Value(Value::Size(self.maxdisk)),
            "uptime" => Field::Value(Value::Duration(self.uptime)),
            "tags" => Field::Tags(&self.tags),
            "template" => Field::Value(Value::Bool(self.template)),
            "pool" => opt(&self.pool),
            "lock" => opt(&self.lock),
            "hastate" => opt(&self.hastate),
            "netin" => Field::Value(Value::Size(self.netin)),
            "netout" => Field::Value(Value::Size(self.netout)),
            _ => return None,
        })
    }

    /// The guest as a record with PVE's field names ([`Guest::FIELDS`]).
    pub fn record(&self) -> Value {
        let mut r = crate::lang::Record::new();
        for name in Guest::FIELDS {
            if let Some(f) = self.field(name) {
                r.insert(name, f.to_value());
            }
        }
        Value::Record(r)
    }
}

/// A field of a guest, borrowed from it (see [`Guest::field`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    Str(&'a str),
    Tags(&'a [String]),
    /// A scalar (no text of the guest's in it).
    Value(Value),
}

impl Field<'_> {
    pub fn to_value(&self) -> Value {
        match self {
            Field::Str(s) => Value::String(s.to_string()),
            Field::Tags(tags) => Value::List(tags.iter().cloned().map(Value::String).collect()),
            Field::Value(v) => v.clone(),
        }
    }
}

impl serde::Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Field::Str(text) => s.serialize_str(text),
            Field::Tags(tags) => s.collect_seq(tags.iter()),
            Field::Value(v) => v.serialize(s),
        }
    }
}

impl serde::Serialize for Guest {
    /// The guest's record as JSON ([`Guest::FIELDS`] in order), written without building it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(Guest::FIELDS.len()))?;
        for name in Guest::FIELDS {
            if let Some(f) = self.field(name) {
                map.serialize_entry(name, &f)?;
            }
        }
        map.end()
    }
}

/// Some guests of an inventory, in its order, without a copy of any: what `ls` hands on. A
/// table or JSON reads them in place; the next stage of a pipeline gets them as records.
#[derive(Clone)]
pub struct GuestList {
    inventory: Arc<Inventory>,
    picked: Vec<u32>,
}

impl std::fmt::Debug for GuestList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GuestList({} guests)", self.picked.len())
    }
}

impl GuestList {
    /// The guests of `inventory` for which `keep` holds.
    pub fn new(inventory: Arc<Inventory>, keep: impl Fn(&Guest) -> bool) -> GuestList {
        let picked = (0..inventory.guests.len() as u32)
            .filter(|&i| keep(&inventory.guests[i as usize]))
            .collect();
        GuestList { inventory, picked }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Guest> {
        self.picked
            .iter()
            .map(|&i| &self.inventory.guests[i as usize])
    }

    pub fn len(&self) -> usize {
        self.picked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.picked.is_empty()
    }

    /// The guests as records, for the next stage of a pipeline.
    pub fn records(&self) -> Value {
        Value::List(self.iter().map(Guest::record).collect())
    }
}

impl serde::Serialize for GuestList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
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

/// PVE separates tags with `;` (also accepting `,` and spaces on input).
pub fn split_tags(tags: &str) -> Vec<String> {
    tags.split([';', ',', ' '])
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

impl Inventory {
    /// Builds the inventory from the `data` of `GET /cluster/resources` as a JSON tree (the
    /// session decodes the answer's bytes straight into an `Inventory` instead: see its
    /// `Deserialize`).
    pub fn from_resources(data: &Json) -> Result<Inventory> {
        Inventory::deserialize(data).map_err(|e| {
            Error::new(
                crate::error::ErrorKind::Api,
                format!("unexpected answer from /cluster/resources: {e}"),
            )
        })
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

/// A field of `/cluster/resources` read leniently, without allocating: PVE sends numbers as
/// strings on some versions and flags as 0/1 (FACTS §1, §6).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Lenient {
    #[default]
    Absent,
    Bool(bool),
    U(u64),
    I(i64),
    F(f64),
    /// A numeric string, already parsed (`None`: not a number).
    Text(Option<f64>, bool),
}

impl Lenient {
    fn u64(self) -> u64 {
        match self {
            Lenient::U(n) => n,
            Lenient::I(n) => n.max(0) as u64,
            Lenient::F(f) | Lenient::Text(Some(f), _) => f.max(0.0) as u64,
            _ => 0,
        }
    }

    fn f64(self) -> f64 {
        match self {
            Lenient::U(n) => n as f64,
            Lenient::I(n) => n as f64,
            Lenient::F(f) | Lenient::Text(Some(f), _) => f,
            _ => 0.0,
        }
    }

    /// A PVE flag: 1, "1", true.
    fn flag(self) -> bool {
        match self {
            Lenient::Bool(b) => b,
            Lenient::U(n) => n != 0,
            Lenient::I(n) => n != 0,
            Lenient::F(f) => f.trunc() != 0.0,
            Lenient::Text(_, truthy) => truthy,
            Lenient::Absent => false,
        }
    }
}

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, a numeric string or a flag")
            }
            fn visit_bool<E>(self, b: bool) -> std::result::Result<Lenient, E> {
                Ok(Lenient::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> std::result::Result<Lenient, E> {
                Ok(Lenient::U(n))
            }
            fn visit_i64<E>(self, n: i64) -> std::result::Result<Lenient, E> {
                Ok(Lenient::I(n))
            }
            fn visit_f64<E>(self, f: f64) -> std::result::Result<Lenient, E> {
                Ok(Lenient::F(f))
            }
            fn visit_str<E>(self, s: &str) -> std::result::Result<Lenient, E> {
                Ok(Lenient::Text(
                    s.trim().parse::<f64>().ok(),
                    s == "1" || s.eq_ignore_ascii_case("true"),
                ))
            }
            fn visit_unit<E>(self) -> std::result::Result<Lenient, E> {
                Ok(Lenient::Absent)
            }
            fn visit_none<E>(self) -> std::result::Result<Lenient, E> {
                Ok(Lenient::Absent)
            }
            fn visit_some<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> std::result::Result<Lenient, D::Error> {
                Lenient::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Lenient, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Lenient::Absent)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Lenient, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Lenient::Absent)
            }
        }
        d.deserialize_any(V)
    }
}

/// One row of `/cluster/resources`, borrowing its strings from the answer where it can (a
/// string with escapes is copied); fields the inventory does not keep are skipped unread.
#[derive(Debug, Deserialize)]
struct Row<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(default)]
    vmid: Lenient,
    #[serde(default, borrow)]
    name: Option<Str<'a>>,
    #[serde(default, borrow)]
    node: Option<Str<'a>>,
    #[serde(default, borrow)]
    status: Option<Str<'a>>,
    #[serde(default)]
    template: Lenient,
    #[serde(default, borrow)]
    tags: Option<Str<'a>>,
    #[serde(default, borrow)]
    pool: Option<Str<'a>>,
    #[serde(default, borrow)]
    lock: Option<Str<'a>>,
    #[serde(default, borrow)]
    hastate: Option<Str<'a>>,
    #[serde(default, borrow)]
    storage: Option<Str<'a>>,
    #[serde(default, borrow)]
    plugintype: Option<Str<'a>>,
    #[serde(default, borrow)]
    content: Option<Str<'a>>,
    #[serde(default)]
    shared: Lenient,
    #[serde(default)]
    cpu: Lenient,
    #[serde(default)]
    maxcpu: Lenient,
    #[serde(default)]
    mem: Lenient,
    #[serde(default)]
    maxmem: Lenient,
    #[serde(default)]
    disk: Lenient,
    #[serde(default)]
    maxdisk: Lenient,
    #[serde(default)]
    uptime: Lenient,
    #[serde(default)]
    netin: Lenient,
    #[serde(default)]
    netout: Lenient,
}

/// A string of the answer: borrowed when it has no escapes, else copied. (serde borrows a
/// `Cow` only as a bare field, not inside an `Option`.) Numbers are taken as their text.
#[derive(Debug)]
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> std::result::Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> std::result::Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> std::result::Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(s)))
            }
            fn visit_u64<E>(self, n: u64) -> std::result::Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(n.to_string())))
            }
            fn visit_i64<E>(self, n: i64) -> std::result::Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(n.to_string())))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl Str<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

fn owned(s: &Option<Str<'_>>) -> Option<String> {
    s.as_ref().map(|s| s.as_str().to_string())
}

impl<'de> Deserialize<'de> for Inventory {
    /// The `data` of `GET /cluster/resources`, row by row into the inventory's own form.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Inventory;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of resources")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Inventory, A::Error> {
                let mut inv = Inventory::default();
                inv.guests.reserve(seq.size_hint().unwrap_or(0));
                while let Some(row) = seq.next_element::<Row<'de>>()? {
                    inv.add(row);
                }
                inv.finish();
                Ok(inv)
            }
        }
        d.deserialize_seq(V)
    }
}

impl Inventory {
    /// Adds one row of `/cluster/resources`; rows of other types (sdn, ...) are skipped.
    fn add(&mut self, row: Row<'_>) {
        match row.kind.as_str() {
            kind @ ("qemu" | "lxc") => {
                let vmid = row.vmid.u64() as u32;
                if vmid == 0 {
                    return;
                }
                self.guests.push(Guest {
                    vmid,
                    name: owned(&row.name).unwrap_or_else(|| format!("VM {vmid}")),
                    node: owned(&row.node).unwrap_or_default(),
                    kind: if kind == "lxc" {
                        GuestKind::Lxc
                    } else {
                        GuestKind::Qemu
                    },
                    status: owned(&row.status).unwrap_or_else(|| "unknown".into()),
                    template: row.template.flag(),
                    tags: row
                        .tags
                        .as_ref()
                        .map(|t| split_tags(t.as_str()))
                        .unwrap_or_default(),
                    pool: owned(&row.pool),
                    lock: owned(&row.lock),
                    hastate: owned(&row.hastate),
                    cpu: row.cpu.f64(),
                    maxcpu: row.maxcpu.u64(),
                    mem: row.mem.u64(),
                    maxmem: row.maxmem.u64(),
                    disk: row.disk.u64(),
                    maxdisk: row.maxdisk.u64(),
                    uptime: row.uptime.u64(),
                    netin: row.netin.u64(),
                    netout: row.netout.u64(),
                });
            }
            "node" => self.nodes.push(NodeEntry {
                node: owned(&row.node).unwrap_or_default(),
                status: owned(&row.status).unwrap_or_else(|| "unknown".into()),
                cpu: row.cpu.f64(),
                maxcpu: row.maxcpu.u64(),
                mem: row.mem.u64(),
                maxmem: row.maxmem.u64(),
                disk: row.disk.u64(),
                maxdisk: row.maxdisk.u64(),
                uptime: row.uptime.u64(),
            }),
            "storage" => self.storages.push(StorageEntry {
                storage: owned(&row.storage).unwrap_or_default(),
                node: owned(&row.node).unwrap_or_default(),
                plugintype: owned(&row.plugintype).unwrap_or_default(),
                content: row
                    .content
                    .as_ref()
                    .map(|c| c.as_str().split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
                shared: row.shared.flag(),
                status: owned(&row.status).unwrap_or_default(),
                disk: row.disk.u64(),
                maxdisk: row.maxdisk.u64(),
            }),
            "pool" => {
                if let Some(p) = owned(&row.pool) {
                    self.pools.push(p);
                }
            }
            _ => {}
        }
    }

    /// Sorts what [`Inventory::add`] collected: guests by VMID, nodes by name.
    fn finish(&mut self) {
        self.guests.sort_by_key(|g| g.vmid);
        self.guests.shrink_to_fit();
        self.nodes.sort_by(|a, b| a.node.cmp(&b.node));
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
    fn decodes_the_answer_bytes_leniently_like_the_json_tree() {
        let body = br#"{"data":[
            {"id":"qemu/101","type":"qemu","vmid":"101","name":"we\"b01","node":"pve1","status":"running",
             "tags":"prod;web","template":"0","cpu":"0.25","mem":1.5e9,"maxmem":"2147483648","uptime":-5,
             "diskread":7,"extra":{"nested":[1,2]},"lock":null},
            {"type":"lxc","vmid":200,"node":"pve2","template":true,"shared":1},
            {"type":"qemu","vmid":0,"name":"no id"},
            {"type":"storage","storage":"local","node":"pve1","content":"iso,backup","shared":"1","disk":"10","maxdisk":100},
            {"type":"node","node":"pve1","status":"online","maxcpu":"16"},
            {"type":"pool","pool":"lab"},
            {"type":"sdn","sdn":"zone1"}
        ],"total":7}"#;
        let inv: Inventory = crate::api::envelope::decode_data(
            crate::api::Method::Get,
            "/cluster/resources",
            200,
            "OK",
            body,
        )
        .unwrap();
        let tree: Json = serde_json::from_slice::<Json>(body).unwrap()["data"].clone();
        let from_tree = Inventory::from_resources(&tree).unwrap();
        assert_eq!(inv.guests(), from_tree.guests());
        assert_eq!(inv.nodes(), from_tree.nodes());
        assert_eq!(inv.storages(), from_tree.storages());
        assert_eq!(inv.pools(), from_tree.pools());
        let web = inv.guest(101).unwrap();
        assert_eq!(web.name, "we\"b01", "an escaped string is copied");
        assert_eq!(
            (web.cpu, web.mem, web.maxmem, web.uptime),
            (0.25, 1_500_000_000, 2 << 30, 0)
        );
        assert!(!web.template && web.lock.is_none());
        let ct = inv.guest(200).unwrap();
        assert_eq!(
            (ct.name.as_str(), ct.status.as_str(), ct.template),
            ("VM 200", "unknown", true)
        );
        assert_eq!(inv.guests().len(), 2, "a row without a VMID is skipped");
        assert!(inv.storages()[0].shared);
        assert_eq!(inv.storages()[0].disk, 10);
        assert_eq!(inv.nodes()[0].maxcpu, 16);
        let err = Inventory::from_resources(&serde_json::json!({"not": "a list"})).unwrap_err();
        assert!(err.to_string().contains("/cluster/resources"), "{err}");
    }

    #[test]
    fn a_guest_writes_the_json_of_its_record() {
        let inv = demo();
        for g in inv.guests() {
            assert_eq!(
                serde_json::to_value(g).unwrap(),
                g.record().to_json(),
                "{}",
                g.name
            );
            let Value::Record(r) = g.record() else {
                panic!("not a record")
            };
            assert_eq!(r.fields().collect::<Vec<_>>(), Guest::FIELDS);
        }
        let list = GuestList::new(Arc::new(inv), |g| g.tags.iter().any(|t| t == "web"));
        assert_eq!(list.len(), 2);
        assert_eq!(
            serde_json::to_string_pretty(&list).unwrap(),
            serde_json::to_string_pretty(&list.records().to_json()).unwrap()
        );
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
