//! Scenarios: the demo cluster (the default) and generated clusters for scale tests.
//!
//! Everything is deterministic from the seed: MACs, UUIDs, generated names, statuses and tags.
//! This module only builds a [`State`]; it never serves requests.

mod builders;

use builders::{Spec, lxc, networks, node, qemu, storages, users};

use super::clock::EPOCH;
use super::state::{
    BackupJob, Group, GuestKind, HaResource, HaRule, Pool, Snapshot, State, Volume,
};

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

fn demo(s: &mut State) {
    s.cluster_name = "demo".into();
    s.nodes = vec![
        node("pve1", 16, 64, 1_209_600),
        node("pve2", 16, 64, 1_123_200),
        node("pve3", 8, 32, 604_800),
    ];
    storages(s);
    users(s);
    networks(s);
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
        (
            104,
            "pve2",
            "db-replica",
            true,
            "prod;db",
            4,
            16384,
            200,
            true,
        ),
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
    // monitoring keeps its metrics on fast-zfs, which pve3 does not have.
    if let Some(g) = s.guests.get_mut(&130) {
        g.config.insert(
            "scsi1".into(),
            "fast-zfs:vm-130-disk-0,iothread=1,size=100G".into(),
        );
        s.volumes.push(Volume {
            storage: "fast-zfs".into(),
            node: Some("pve1".into()),
            volid: "fast-zfs:vm-130-disk-0".into(),
            content: "images".into(),
            format: "raw".into(),
            size: 100 * GIB,
            ctime: EPOCH - 30 * 86400,
            vmid: Some(130),
            notes: None,
            protected: false,
        });
    }
    // Storage hygiene (`orphans`): a disk left behind by a deleted guest 999 on pve2, a disk of
    // cache01 its config no longer references, and backup-proxy's detached second disk.
    if let Some(g) = s.guests.get_mut(&131) {
        g.config
            .insert("unused0".into(), "local-lvm:vm-131-disk-1".into());
    }
    for (node, volid, vmid, gib) in [
        ("pve2", "local-lvm:vm-999-disk-0", 999, 8),
        ("pve3", "local-lvm:vm-105-disk-1", 105, 4),
        ("pve2", "local-lvm:vm-131-disk-1", 131, 10),
    ] {
        s.volumes.push(Volume {
            storage: "local-lvm".into(),
            node: Some(node.into()),
            volid: volid.into(),
            content: "images".into(),
            format: "raw".into(),
            size: gib * GIB,
            ctime: EPOCH - 90 * 86400,
            vmid: Some(vmid),
            notes: None,
            protected: false,
        });
    }
    if let Some(g) = s.guests.get_mut(&121) {
        g.config.insert("ostype".into(), "win11".into());
        g.config.insert("bios".into(), "ovmf".into());
    }
    if let Some(g) = s.guests.get_mut(&101) {
        // A serial port, for `console web01`.
        g.config.insert("serial0".into(), "socket".into());
        let base = g.config.to_map();
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
        (202, "build-cache", false, "cache", "pve3"),
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
        (104, "qemu", 1, "db-replica nightly"),
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
    demo_cluster_config(s);
}

/// The demo's cluster-wide configuration: user groups, HA (db01 managed, kept on pve1 when it
/// can be) and two scheduled backup jobs.
fn demo_cluster_config(s: &mut State) {
    s.groups = vec![
        Group {
            groupid: "admins".into(),
            comment: "Cluster administrators".into(),
            users: vec!["tfa@pve".into()],
        },
        Group {
            groupid: "auditors".into(),
            comment: "Read-only access".into(),
            users: vec!["auditor@pve".into()],
        },
    ];
    s.ha_resources = vec![HaResource {
        sid: "vm:103".into(),
        state: "started".into(),
        comment: Some("primary database".into()),
    }];
    s.ha_rules = vec![HaRule {
        rule: "db-on-pve1".into(),
        kind: "node-affinity".into(),
        resources: "vm:103".into(),
        nodes: Some("pve1:2,pve2:1".into()),
        affinity: None,
        strict: false,
        comment: Some("keep the database on pve1, fall back to pve2".into()),
    }];
    let job = |id: &str, schedule: &str| BackupJob {
        id: id.to_string(),
        schedule: schedule.to_string(),
        storage: "backup".into(),
        enabled: true,
        all: false,
        vmid: None,
        exclude: None,
        pool: None,
        node: None,
        mode: "snapshot".into(),
        compress: "zstd".into(),
        prune: Vec::new(),
        notes_template: Some("{{guestname}}".into()),
        comment: None,
    };
    s.backup_jobs = vec![
        BackupJob {
            vmid: Some("101,102,103,104".into()),
            prune: vec![("keep-last".into(), 3), ("keep-daily".into(), 7)],
            comment: Some("production nightly".into()),
            ..job("backup-prod-nightly", "21:00")
        },
        BackupJob {
            all: true,
            exclude: Some("9000,9001".into()),
            mode: "stop".into(),
            enabled: false,
            prune: vec![("keep-weekly".into(), 4), ("keep-monthly".into(), 6)],
            comment: Some("everything, weekly (paused)".into()),
            ..job("backup-weekly-all", "sat 02:30")
        },
    ];
}

fn generated(s: &mut State, guests: usize, nodes: usize) {
    s.cluster_name = "generated".into();
    s.nodes = (1..=nodes)
        .map(|i| {
            // Nodes of four sizes in turn, as clusters grow by buying what is current.
            let (cores, mem_gib) = [(64, 512), (32, 256), (48, 384), (96, 768)][(i - 1) % 4];
            node(
                &format!("pve{i}"),
                cores,
                mem_gib,
                1_000_000 + i as u64 * 3600,
            )
        })
        .collect();
    storages(s);
    users(s);
    networks(s);
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
    fn generated_nodes_differ_in_size_and_use() {
        let s = build(
            &Scenario::Generated {
                guests: 400,
                nodes: 4,
            },
            7,
        )
        .unwrap();
        let sizes: std::collections::BTreeSet<(u32, u64)> =
            s.nodes.iter().map(|n| (n.maxcpu, n.maxmem)).collect();
        assert_eq!(sizes.len(), 4, "four node sizes");
        let used: std::collections::BTreeSet<u64> = s
            .nodes
            .iter()
            .map(|n| s.node_mem(n) * 1000 / n.maxmem)
            .collect();
        assert!(used.len() > 1, "every node at the same fraction: {used:?}");
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
