//! Scenarios: the demo cluster (the default) and generated clusters for scale tests.
//!
//! Everything is deterministic from the seed: MACs, UUIDs, generated names, statuses and tags.
//! This module only builds a [`State`]; it never serves requests.

use indexmap::IndexMap;
use serde_json::json;

use super::clock::EPOCH;
use super::perms::AclEntry;
use super::state::{Guest, GuestKind, Node, Pool, Snapshot, State, Storage, User, Volume};
use super::tasks::uuid_like;
use crate::secret::Secret;

/// The TOTP secret (base32) of the demo user `tfa@pve` (password `tfa`).
pub const DEMO_TFA_SECRET: &str = "JBSWY3DPEHPK3PXP";

/// Which cluster to simulate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scenario {
    /// Cluster `demo`: 3 nodes, 22 guests, pools, storages with ISOs and backups.
    #[default]
    Demo,
    /// `guests` guests spread over `nodes` nodes (up to 10 000 and 64).
    Generated { guests: usize, nodes: usize },
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Builds the scenario's state; errors say which limit was exceeded.
pub fn build(scenario: &Scenario, seed: u64) -> Result<State, String> {
    let mut s = State {
        next_pid: 0x0001_2000,
        rng: seed,
        ..State::default()
    };
    match scenario {
        Scenario::Demo => demo(&mut s),
        Scenario::Generated { guests, nodes } => {
            if *nodes == 0 || *nodes > 64 {
                return Err(format!(
                    "generated scenario: nodes must be 1..=64, got {nodes}"
                ));
            }
            if *guests > 10_000 {
                return Err(format!(
                    "generated scenario: guests must be at most 10000, got {guests}"
                ));
            }
            generated(&mut s, *guests, *nodes);
        }
    }
    Ok(s)
}

fn node(name: &str, maxcpu: u32, mem_gib: u64, uptime: u64) -> Node {
    Node {
        name: name.to_string(),
        online: true,
        cpu: 0.08,
        maxcpu,
        mem: mem_gib * GIB / 3,
        maxmem: mem_gib * GIB,
        disk: 12 * GIB,
        maxdisk: 100 * GIB,
        uptime,
        ssl_fingerprint: String::new(),
    }
}

fn storages(s: &mut State) {
    s.storages = vec![
        Storage {
            id: "local".into(),
            stype: "dir".into(),
            content: vec!["iso".into(), "vztmpl".into(), "backup".into()],
            shared: false,
            nodes: None,
            total: 100 * GIB,
            base_used: 8 * GIB,
        },
        Storage {
            id: "local-lvm".into(),
            stype: "lvmthin".into(),
            content: vec!["images".into(), "rootdir".into()],
            shared: false,
            nodes: None,
            total: 800 * GIB,
            base_used: 0,
        },
        Storage {
            id: "backup".into(),
            stype: "nfs".into(),
            content: vec!["backup".into(), "iso".into()],
            shared: true,
            nodes: None,
            total: 4096 * GIB,
            base_used: 200 * GIB,
        },
    ];
    for n in s.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>() {
        for (volid, content, size) in [
            (
                "local:iso/debian-12.9.0-amd64-netinst.iso",
                "iso",
                632 * MIB,
            ),
            (
                "local:iso/ubuntu-24.04.1-live-server-amd64.iso",
                "iso",
                2662 * MIB,
            ),
            (
                "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
                "vztmpl",
                126 * MIB,
            ),
        ] {
            s.volumes.push(Volume {
                storage: "local".into(),
                node: Some(n.clone()),
                volid: volid.into(),
                content: content.into(),
                format: if content == "iso" {
                    "iso".into()
                } else {
                    "tzst".into()
                },
                size,
                ctime: EPOCH - 90 * 86400,
                vmid: None,
                notes: None,
                protected: false,
            });
        }
    }
}

struct Spec<'a> {
    vmid: u32,
    node: &'a str,
    name: &'a str,
    running: bool,
    tags: &'a str,
    cores: u32,
    mem_mib: u64,
    disk_gib: u64,
    agent: bool,
}

fn qemu(s: &mut State, p: Spec) -> Guest {
    let mac = s.random_mac();
    let r = s.next_random();
    let vmid = p.vmid;
    let mut c: IndexMap<String, String> = IndexMap::new();
    let mut set = |k: &str, v: String| {
        c.insert(k.to_string(), v);
    };
    if p.agent {
        set("agent", "1".into());
    }
    set("boot", "order=scsi0;ide2;net0".into());
    set("cores", p.cores.to_string());
    set("cpu", "x86-64-v2-AES".into());
    set("ide2", "none,media=cdrom".into());
    set("memory", p.mem_mib.to_string());
    set(
        "meta",
        format!(
            "creation-qemu=9.2.0,ctime={}",
            EPOCH - 30 * 86400 - i64::from(vmid) * 3600
        ),
    );
    set("name", p.name.to_string());
    set("net0", format!("virtio={mac},bridge=vmbr0,firewall=1"));
    set("numa", "0".into());
    set("onboot", u8::from(p.running).to_string());
    set("ostype", "l26".into());
    set(
        "scsi0",
        format!("local-lvm:vm-{vmid}-disk-0,iothread=1,size={}G", p.disk_gib),
    );
    set("scsihw", "virtio-scsi-single".into());
    set("smbios1", format!("uuid={}", uuid_like(r, vmid)));
    set("sockets", "1".into());
    if !p.tags.is_empty() {
        set("tags", p.tags.to_string());
    }
    set(
        "vmgenid",
        uuid_like(r.rotate_left(21), vmid.wrapping_mul(7)),
    );
    s.volumes.push(Volume {
        storage: "local-lvm".into(),
        node: Some(p.node.to_string()),
        volid: format!("local-lvm:vm-{vmid}-disk-0"),
        content: "images".into(),
        format: "raw".into(),
        size: p.disk_gib * GIB,
        ctime: EPOCH - 30 * 86400,
        vmid: Some(vmid),
        notes: None,
        protected: false,
    });
    let ifaces = if p.agent && p.running {
        let ip = format!("10.0.{}.{}", vmid / 250, vmid % 250 + 2);
        vec![
            json!({ "name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [{ "ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8 }, { "ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128 }] }),
            json!({ "name": "eth0", "hardware-address": mac.to_lowercase(), "ip-addresses": [{ "ip-address": ip, "ip-address-type": "ipv4", "prefix": 24 }, { "ip-address": format!("fe80::be24:11ff:fe{:02x}:{:04x}", vmid % 256, vmid), "ip-address-type": "ipv6", "prefix": 64 }],
                "statistics": { "rx-bytes": 1_234_567u64 * u64::from(vmid % 7 + 1), "rx-packets": 9_876, "rx-errs": 0, "rx-dropped": 0, "tx-bytes": 765_432u64 * u64::from(vmid % 5 + 1), "tx-packets": 5_432, "tx-errs": 0, "tx-dropped": 0 } }),
        ]
    } else {
        Vec::new()
    };
    Guest {
        vmid,
        kind: GuestKind::Qemu,
        node: p.node.to_string(),
        status: if p.running { "running" } else { "stopped" }.into(),
        paused: false,
        config: c,
        pending: IndexMap::new(),
        snapshots: Vec::new(),
        parent: None,
        pool: None,
        agent_ifaces: ifaces,
        started_at: p
            .running
            .then_some(EPOCH - 3 * 86400 - i64::from(vmid) * 60),
        cpu: if p.running {
            0.01 + f64::from(vmid % 17) / 100.0
        } else {
            0.0
        },
        mem: if p.running {
            p.mem_mib * MIB * (30 + u64::from(vmid % 50)) / 100
        } else {
            0
        },
        netin: if p.running {
            50_000_000 + u64::from(vmid) * 12_345
        } else {
            0
        },
        netout: if p.running {
            20_000_000 + u64::from(vmid) * 6_789
        } else {
            0
        },
    }
}

fn lxc(s: &mut State, vmid: u32, node: &str, name: &str, running: bool, tags: &str) -> Guest {
    let mac = s.random_mac();
    let mut c: IndexMap<String, String> = IndexMap::new();
    for (k, v) in [
        ("arch", "amd64".to_string()),
        ("cores", "1".to_string()),
        ("hostname", name.to_string()),
        ("memory", "512".to_string()),
        (
            "net0",
            format!("name=eth0,bridge=vmbr0,firewall=1,hwaddr={mac},ip=dhcp,type=veth"),
        ),
        ("onboot", u8::from(running).to_string()),
        ("ostype", "debian".to_string()),
        ("rootfs", format!("local-lvm:vm-{vmid}-disk-0,size=8G")),
        ("swap", "512".to_string()),
        ("tags", tags.to_string()),
        ("unprivileged", "1".to_string()),
    ] {
        c.insert(k.to_string(), v);
    }
    s.volumes.push(Volume {
        storage: "local-lvm".into(),
        node: Some(node.to_string()),
        volid: format!("local-lvm:vm-{vmid}-disk-0"),
        content: "rootdir".into(),
        format: "raw".into(),
        size: 8 * GIB,
        ctime: EPOCH - 20 * 86400,
        vmid: Some(vmid),
        notes: None,
        protected: false,
    });
    Guest {
        vmid,
        kind: GuestKind::Lxc,
        node: node.to_string(),
        status: if running { "running" } else { "stopped" }.into(),
        paused: false,
        config: c,
        pending: IndexMap::new(),
        snapshots: Vec::new(),
        parent: None,
        pool: None,
        agent_ifaces: Vec::new(),
        started_at: running.then_some(EPOCH - 5 * 86400),
        cpu: if running { 0.004 } else { 0.0 },
        mem: if running { 90 * MIB } else { 0 },
        netin: if running { 8_000_000 } else { 0 },
        netout: if running { 3_000_000 } else { 0 },
    }
}

fn users(s: &mut State) {
    let user = |id: &str, pw: &str, totp: Option<&str>, comment: &str| User {
        userid: id.to_string(),
        password: Some(Secret::new(pw)),
        totp: totp.map(str::to_string),
        enable: true,
        comment: comment.to_string(),
        email: String::new(),
        tokens: Vec::new(),
    };
    s.users.insert(
        "root@pam".into(),
        User {
            password: None,
            ..user("root@pam", "", None, "")
        },
    );
    s.users.insert(
        "auditor@pve".into(),
        user("auditor@pve", "auditor", None, "read-only auditor"),
    );
    s.users.insert(
        "tfa@pve".into(),
        user(
            "tfa@pve",
            "tfa",
            Some(DEMO_TFA_SECRET),
            "VM admin with TOTP",
        ),
    );
    s.acl.push(AclEntry {
        path: "/".into(),
        ugid: "auditor@pve".into(),
        role: "PVEAuditor".into(),
        propagate: true,
        is_token: false,
    });
    s.acl.push(AclEntry {
        path: "/vms".into(),
        ugid: "tfa@pve".into(),
        role: "PVEVMAdmin".into(),
        propagate: true,
        is_token: false,
    });
}

fn demo(s: &mut State) {
    s.cluster_name = "demo".into();
    s.nodes = vec![
        node("pve1", 16, 64, 1_209_600),
        node("pve2", 16, 64, 1_123_200),
        node("pve3", 8, 32, 604_800),
    ];
    storages(s);
    users(s);
    // vmid, node, name, running, tags, cores, memory MiB, disk GiB, agent.
    type Row = (
        u32,
        &'static str,
        &'static str,
        bool,
        &'static str,
        u32,
        u64,
        u64,
        bool,
    );
    let vms: &[Row] = &[
        (101, "pve1", "web01", true, "prod;web", 2, 4096, 32, true),
        (102, "pve2", "web02", true, "prod;web", 2, 4096, 32, true),
        (103, "pve1", "db01", true, "prod;db", 4, 16384, 200, true),
        (104, "pve2", "db02", true, "prod;db", 4, 16384, 200, true),
        (105, "pve3", "cache01", true, "prod", 2, 8192, 16, true),
        (106, "pve1", "lb01", true, "prod;web", 1, 1024, 8, false),
        (110, "pve2", "ci-runner-01", true, "ci", 4, 8192, 64, true),
        (111, "pve3", "ci-runner-02", true, "ci", 4, 8192, 64, true),
        (112, "pve2", "ci-runner-03", true, "ci", 4, 8192, 64, true),
        (120, "pve3", "dev-box", false, "dev", 4, 8192, 64, true),
        (121, "pve3", "dev-win11", false, "dev", 4, 8192, 80, false),
        (130, "pve1", "monitoring", true, "ops", 2, 4096, 50, true),
        (
            131,
            "pve2",
            "backup-proxy",
            false,
            "ops",
            2,
            2048,
            16,
            false,
        ),
        (
            140,
            "pve1",
            "lab-k8s-01",
            true,
            "lab;k8s",
            2,
            4096,
            32,
            true,
        ),
        (
            141,
            "pve2",
            "lab-k8s-02",
            true,
            "lab;k8s",
            2,
            4096,
            32,
            true,
        ),
        (
            142,
            "pve3",
            "lab-k8s-03",
            false,
            "lab;k8s",
            2,
            4096,
            32,
            false,
        ),
        (150, "pve2", "old-app", false, "legacy", 1, 2048, 20, false),
    ];
    for &(vmid, node, name, running, tags, cores, mem_mib, disk_gib, agent) in vms {
        let g = qemu(
            s,
            Spec {
                vmid,
                node,
                name,
                running,
                tags,
                cores,
                mem_mib,
                disk_gib,
                agent,
            },
        );
        s.guests.insert(vmid, g);
    }
    if let Some(g) = s.guests.get_mut(&103) {
        g.config.insert("protection".into(), "1".into());
    }
    if let Some(g) = s.guests.get_mut(&121) {
        g.config.insert("ostype".into(), "win11".into());
        g.config.insert("bios".into(), "ovmf".into());
    }
    if let Some(g) = s.guests.get_mut(&101) {
        let base = g.config.clone();
        g.snapshots.push(Snapshot {
            name: "pre-upgrade".into(),
            parent: None,
            snaptime: EPOCH - 7 * 86400,
            vmstate: false,
            description: "before apt full-upgrade".into(),
            config: base.clone(),
        });
        g.snapshots.push(Snapshot {
            name: "after-upgrade".into(),
            parent: Some("pre-upgrade".into()),
            snaptime: EPOCH - 6 * 86400,
            vmstate: false,
            description: "upgrade done, all checks green".into(),
            config: base,
        });
        g.parent = Some("after-upgrade".into());
    }
    for (vmid, name, running, tags, node) in [
        (200, "dns01", true, "infra", "pve1"),
        (201, "proxy01", true, "infra;web", "pve2"),
        (202, "build-cache", false, "ci", "pve3"),
    ] {
        let g = lxc(s, vmid, node, name, running, tags);
        s.guests.insert(vmid, g);
    }
    for (vmid, name) in [(9000, "debian-12-cloud"), (9001, "ubuntu-24.04-cloud")] {
        let mut g = qemu(
            s,
            Spec {
                vmid,
                node: "pve1",
                name,
                running: false,
                tags: "template",
                cores: 2,
                mem_mib: 2048,
                disk_gib: 4,
                agent: true,
            },
        );
        let disk = format!("local-lvm:base-{vmid}-disk-0,size=4G");
        g.config.insert("scsi0".into(), disk);
        g.config.insert(
            "ide2".into(),
            format!("local-lvm:vm-{vmid}-cloudinit,media=cdrom"),
        );
        g.config.insert("ciuser".into(), "admin".into());
        g.config.insert("ipconfig0".into(), "ip=dhcp".into());
        g.config.insert("serial0".into(), "socket".into());
        g.config.insert("vga".into(), "serial0".into());
        g.config.insert("template".into(), "1".into());
        for v in &mut s.volumes {
            if v.volid == format!("local-lvm:vm-{vmid}-disk-0") {
                v.volid = format!("local-lvm:base-{vmid}-disk-0");
            }
        }
        s.guests.insert(vmid, g);
    }
    let lab = Pool {
        poolid: "lab".into(),
        comment: "Lab and experiments".into(),
        vms: vec![140, 141, 142],
        storages: Vec::new(),
    };
    for id in &lab.vms {
        if let Some(g) = s.guests.get_mut(id) {
            g.pool = Some("lab".into());
        }
    }
    s.pools.insert("lab".into(), lab);
    let backups: &[(u32, &str, i64, &str)] = &[
        (101, "qemu", 2, "web01 nightly"),
        (101, "qemu", 1, "web01 nightly"),
        (103, "qemu", 1, "db01 before schema migration"),
        (104, "qemu", 1, "db02 nightly"),
        (200, "lxc", 3, "dns01 weekly"),
    ];
    for &(vmid, kind, days_ago, notes) in backups {
        let ctime = EPOCH - days_ago * 86400 + 7200;
        let stamp = chrono::DateTime::from_timestamp(ctime, 0)
            .map(|t| t.format("%Y_%m_%d-%H_%M_%S").to_string())
            .unwrap_or_default();
        let ext = if kind == "qemu" { "vma.zst" } else { "tar.zst" };
        let size = s.guests.get(&vmid).map(|g| g.maxdisk() / 5).unwrap_or(GIB);
        s.volumes.push(Volume {
            storage: "backup".into(),
            node: None,
            volid: format!("backup:backup/vzdump-{kind}-{vmid}-{stamp}.{ext}"),
            content: "backup".into(),
            format: ext.into(),
            size,
            ctime,
            vmid: Some(vmid),
            notes: Some(notes.into()),
            protected: vmid == 103,
        });
    }
}

fn generated(s: &mut State, guests: usize, nodes: usize) {
    s.cluster_name = "generated".into();
    s.nodes = (1..=nodes)
        .map(|i| node(&format!("pve{i}"), 64, 512, 1_000_000 + i as u64 * 3600))
        .collect();
    storages(s);
    users(s);
    let tags = ["prod", "dev", "ci", "web", "db", "lab", "ops"];
    for p in ["alpha", "beta", "gamma"] {
        s.pools.insert(
            p.into(),
            Pool {
                poolid: p.into(),
                comment: format!("generated pool {p}"),
                vms: Vec::new(),
                storages: Vec::new(),
            },
        );
    }
    for i in 0..guests {
        let r = s.next_random();
        let vmid = 100 + i as u32;
        let node = format!("pve{}", (r as usize % nodes) + 1);
        let name = format!("gen-{i:05}");
        let running = r % 10 < 7;
        let tag = format!(
            "{};{}",
            tags[(r >> 8) as usize % tags.len()],
            tags[(r >> 16) as usize % tags.len()]
        );
        let template = i % 500 == 250;
        let mut g = if i % 10 == 9 {
            lxc(s, vmid, &node, &name, running, &tag)
        } else {
            qemu(
                s,
                Spec {
                    vmid,
                    node: &node,
                    name: &name,
                    running: running && !template,
                    tags: &tag,
                    cores: 1 + (r >> 24) as u32 % 8,
                    mem_mib: 1024 << ((r >> 32) % 4),
                    disk_gib: 8 << ((r >> 40) % 4),
                    agent: r.is_multiple_of(3),
                },
            )
        };
        if template && g.kind == GuestKind::Qemu {
            g.config.insert("template".into(), "1".into());
        }
        if r.is_multiple_of(7) {
            let pool = ["alpha", "beta", "gamma"][(r >> 48) as usize % 3];
            g.pool = Some(pool.into());
            if let Some(p) = s.pools.get_mut(pool) {
                p.vms.push(vmid);
            }
        }
        s.guests.insert(vmid, g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_has_the_promised_guests() {
        let s = build(&Scenario::Demo, 1).unwrap();
        assert_eq!(s.cluster_name, "demo");
        assert!(s.guests.len() >= 20);
        let by_name = |n: &str| s.guests.values().find(|g| g.name() == n).unwrap();
        assert_eq!(by_name("web01").vmid, 101);
        assert_eq!(by_name("web01").cfg("tags"), Some("prod;web"));
        assert_eq!(by_name("db01").cfg("protection"), Some("1"));
        assert!(by_name("debian-12-cloud").is_template());
        assert_eq!(by_name("dns01").kind, GuestKind::Lxc);
        assert_eq!(by_name("dev-box").status, "stopped");
        assert_eq!(by_name("web01").snapshots.len(), 2);
    }

    #[test]
    fn generated_is_deterministic_and_bounded() {
        let a = build(
            &Scenario::Generated {
                guests: 500,
                nodes: 4,
            },
            7,
        )
        .unwrap();
        let b = build(
            &Scenario::Generated {
                guests: 500,
                nodes: 4,
            },
            7,
        )
        .unwrap();
        assert_eq!(a.guests.len(), 500);
        let sig = |s: &State| {
            s.guests
                .values()
                .map(|g| format!("{}{}{}{:?}", g.vmid, g.node, g.status, g.cfg("tags")))
                .collect::<String>()
        };
        assert_eq!(sig(&a), sig(&b));
        assert!(a.guests.values().any(|g| g.kind == GuestKind::Lxc));
        assert!(a.guests.values().any(|g| g.is_template()));
        assert!(
            build(
                &Scenario::Generated {
                    guests: 10_001,
                    nodes: 4
                },
                7
            )
            .is_err()
        );
        assert!(
            build(
                &Scenario::Generated {
                    guests: 1,
                    nodes: 65
                },
                7
            )
            .is_err()
        );
    }
}
