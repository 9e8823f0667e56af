//! A guest's config as the simulator keeps it: the keys in file order, plus what
//! `/cluster/resources` reads from them, worked out once per change rather than once per
//! request (with 10 000 guests, scanning every config for every listing was most of the
//! answer's time: a config's keys are a few dozen separate allocations).

use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use indexmap::IndexMap;

use super::state::{disk_size, is_disk_key};

/// The config keys of one guest. Reads go through `Deref` to the map; any mutable access
/// (`insert`, `shift_remove`, `get_mut`, iterating mutably) goes through `DerefMut`, which
/// forgets the summary, so it can never describe an older config.
#[derive(Debug, Clone, Default)]
pub struct GuestConfig {
    map: IndexMap<String, String>,
    summary: OnceLock<Summary>,
}

/// What listings show of a config (FACTS §5 `/cluster/resources` fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `name` (a VM) or `hostname` (a container), else empty.
    pub name: String,
    pub template: bool,
    pub tags: Option<String>,
    pub lock: Option<String>,
    /// `cores` × `sockets` (each 1 when unset).
    pub maxcpu: u64,
    /// `memory` in bytes (512 MiB when unset).
    pub maxmem: u64,
    /// The size of the first disk that is not a CD-ROM and has `size=`, in bytes.
    pub maxdisk: u64,
}

impl GuestConfig {
    /// The summary of the current keys (computed on the first read after a change).
    pub fn summary(&self) -> &Summary {
        self.summary.get_or_init(|| Summary::of(&self.map))
    }

    /// The keys as a plain map (for snapshots, which keep a copy).
    pub fn to_map(&self) -> IndexMap<String, String> {
        self.map.clone()
    }
}

impl Summary {
    fn of(map: &IndexMap<String, String>) -> Summary {
        let get = |k: &str| map.get(k).map(String::as_str);
        let count = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(1);
        let mib: u64 = get("memory")
            .and_then(|v| v.trim_start_matches("current=").parse().ok())
            .unwrap_or(512);
        Summary {
            name: get("name")
                .or_else(|| get("hostname"))
                .unwrap_or("")
                .to_string(),
            template: get("template") == Some("1"),
            tags: get("tags").map(str::to_string),
            lock: get("lock").map(str::to_string),
            maxcpu: count("cores") * count("sockets"),
            maxmem: mib * 1024 * 1024,
            maxdisk: map
                .iter()
                .filter(|(k, v)| is_disk_key(k) && !v.contains("media=cdrom"))
                .find_map(|(_, v)| disk_size(v))
                .unwrap_or(0),
        }
    }
}

impl Deref for GuestConfig {
    type Target = IndexMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl DerefMut for GuestConfig {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.summary = OnceLock::new();
        &mut self.map
    }
}

impl From<IndexMap<String, String>> for GuestConfig {
    fn from(map: IndexMap<String, String>) -> Self {
        GuestConfig {
            map,
            summary: OnceLock::new(),
        }
    }
}

impl FromIterator<(String, String)> for GuestConfig {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        IndexMap::from_iter(iter).into()
    }
}

impl<'a> IntoIterator for &'a GuestConfig {
    type Item = (&'a String, &'a String);
    type IntoIter = indexmap::map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> GuestConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn summary_reads_the_keys_listings_show() {
        let c = config(&[
            ("ide2", "none,media=cdrom"),
            ("scsi0", "local-lvm:vm-100-disk-0,size=16G"),
            ("scsi1", "local-lvm:vm-100-disk-1,size=4G"),
            ("cores", "2"),
            ("sockets", "2"),
            ("memory", "current=2048"),
            ("name", "web1"),
            ("tags", "a;b"),
        ]);
        let s = c.summary();
        assert_eq!(s.name, "web1");
        assert_eq!((s.maxcpu, s.maxmem, s.maxdisk), (4, 2 << 30, 16 << 30));
        assert_eq!(s.tags.as_deref(), Some("a;b"));
        assert_eq!((s.template, s.lock.as_deref()), (false, None));
    }

    #[test]
    fn a_container_is_named_by_its_hostname_and_defaults_apply() {
        let c = config(&[("hostname", "ct1"), ("rootfs", "local:subvol-1,size=8G")]);
        let s = c.summary();
        assert_eq!(s.name, "ct1");
        assert_eq!((s.maxcpu, s.maxmem, s.maxdisk), (1, 512 << 20, 8 << 30));
    }

    #[test]
    fn every_mutable_access_forgets_the_summary() {
        let mut c = config(&[("name", "old"), ("memory", "1024")]);
        assert_eq!(c.summary().name, "old");
        c.insert("name".into(), "new".into());
        assert_eq!(c.summary().name, "new");
        if let Some(v) = c.get_mut("memory") {
            *v = "2048".into();
        }
        assert_eq!(c.summary().maxmem, 2 << 30);
        c.insert("lock".into(), "backup".into());
        assert_eq!(c.summary().lock.as_deref(), Some("backup"));
        c.shift_remove("lock");
        assert_eq!(c.summary().lock, None);
        for (_, v) in c.iter_mut() {
            v.clear();
        }
        assert_eq!(c.summary().name, "");
    }
}
