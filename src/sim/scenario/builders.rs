//! Building blocks of the scenarios: nodes, the standard storages with ISOs and templates,
//! realistic QEMU and LXC guests (configs, disks, agent interfaces) and the demo users/ACLs.
//! Deterministic from the state's seed.

use indexmap::IndexMap;
use serde_json::json;

use super::{DEMO_TFA_SECRET, GIB, MIB};
use crate::secret::Secret;
use crate::sim::clock::EPOCH;
use crate::sim::perms::AclEntry;
use crate::sim::state::{Guest, GuestKind, NetIface, Node, State, Storage, User, Volume};
use crate::sim::tasks::uuid_like;

pub(super) fn node(name: &str, maxcpu: u32, mem_gib: u64, uptime: u64) -> Node {
    Node {
        name: name.to_string(),
        online: true,
        cpu: 0.08,
        maxcpu,
        // The host's own use; guests' memory is added when it is read (`State::node_mem`).
        mem: 2 * GIB + mem_gib * GIB / 32,
        maxmem: mem_gib * GIB,
        disk: 12 * GIB,
        maxdisk: 100 * GIB,
        uptime,
        ssl_fingerprint: String::new(),
        maintenance: false,
    }
}

pub(super) fn storages(s: &mut State) {
    s.storages = vec![
        Storage {
            id: "local".into(),
            stype: "dir".into(),
            content: vec![
                "iso".into(),
                "vztmpl".into(),
                "backup".into(),
                "import".into(),
            ],
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
        // Fast local disks on the two big nodes only: a guest with a disk here cannot
        // migrate to pve3.
        Storage {
            id: "fast-zfs".into(),
            stype: "zfspool".into(),
            content: vec!["images".into(), "rootdir".into()],
            shared: false,
            nodes: Some(vec!["pve1".into(), "pve2".into()]),
            total: 1024 * GIB,
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
            (
                "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
                "vztmpl",
                141 * MIB,
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

pub(super) struct Spec<'a> {
    pub(super) vmid: u32,
    pub(super) node: &'a str,
    pub(super) name: &'a str,
    pub(super) running: bool,
    pub(super) tags: &'a str,
    pub(super) cores: u32,
    pub(super) mem_mib: u64,
    pub(super) disk_gib: u64,
    pub(super) agent: bool,
}

pub(super) fn qemu(s: &mut State, p: Spec) -> Guest {
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
        status: if p.running { "running" } else { "stopped" },
        paused: false,
        config: c.into(),
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

pub(super) fn lxc(
    s: &mut State,
    vmid: u32,
    node: &str,
    name: &str,
    running: bool,
    tags: &str,
) -> Guest {
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
        status: if running { "running" } else { "stopped" },
        paused: false,
        config: c.into(),
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

pub(super) fn users(s: &mut State) {
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

/// Every node's network: `eno1` (the physical port) enslaved to `vmbr0` (the bridge guests
/// attach to, with the node's address `10.0.0.(11+i)/24`, the same as in `/cluster/status`),
/// and an unused second port `eno2`.
pub(super) fn networks(s: &mut State) {
    let names: Vec<String> = s.nodes.iter().map(|n| n.name.clone()).collect();
    for (i, node) in names.into_iter().enumerate() {
        let iface = |name: &str, kind: &str, method: &str, active: bool| NetIface {
            node: node.clone(),
            iface: name.to_string(),
            kind: kind.to_string(),
            method: method.to_string(),
            cidr: None,
            gateway: None,
            bridge_ports: None,
            autostart: false,
            active,
            comments: None,
        };
        s.networks.push(iface("eno1", "eth", "manual", true));
        s.networks.push(iface("eno2", "eth", "manual", false));
        s.networks.push(NetIface {
            cidr: Some(format!("10.0.0.{}/24", i + 11)),
            gateway: Some("10.0.0.1".into()),
            bridge_ports: Some("eno1".into()),
            autostart: true,
            ..iface("vmbr0", "bridge", "static", true)
        });
    }
}
