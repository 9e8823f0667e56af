use super::*;

fn target() -> Target {
    Target {
        vmid: 101,
        node: "pve1".into(),
        guest_kind: GuestKind::Qemu,
        name: "web01".into(),
    }
}

fn action(op: Op) -> Action {
    Action::new(
        op,
        target(),
        Precondition {
            digest: Some("abc".into()),
            node: "pve1".into(),
            status: "running".into(),
        },
    )
}

fn set(pairs: &[(&str, &str)]) -> Op {
    Op::Set(ConfigChange::of(
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    ))
}

fn check(a: Action, method: &str, path: &str, params: &[(&str, &str)]) {
    let req = a.request();
    assert_eq!(req.method.as_str(), method, "{}", a.summary());
    assert_eq!(req.path, path, "{}", a.summary());
    let got: Vec<(&str, &str)> = req
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, params, "{}", a.summary());
}

#[test]
fn requests() {
    let base = "/nodes/pve1/qemu/101";
    check(
        action(Op::Stop),
        "POST",
        &format!("{base}/status/stop"),
        &[],
    );
    check(
        action(Op::Shutdown {
            timeout: Some(60),
            force_stop: true,
        }),
        "POST",
        &format!("{base}/status/shutdown"),
        &[("timeout", "60"), ("forceStop", "1")],
    );
    check(
        action(Op::Destroy {
            purge: true,
            unreferenced_disks: false,
        }),
        "DELETE",
        base,
        &[("purge", "1")],
    );
    check(
        action(Op::Snapshot {
            name: "pre".into(),
            vmstate: false,
            description: None,
        }),
        "POST",
        &format!("{base}/snapshot"),
        &[("snapname", "pre")],
    );
    check(
        action(Op::Rollback {
            name: "pre".into(),
            start: true,
        }),
        "POST",
        &format!("{base}/snapshot/pre/rollback"),
        &[("start", "1")],
    );
    check(
        action(Op::Delsnapshot { name: "pre".into() }),
        "DELETE",
        &format!("{base}/snapshot/pre"),
        &[],
    );
    check(
        action(set(&[("cores", "4")])),
        "POST",
        &format!("{base}/config"),
        &[("cores", "4"), ("digest", "abc")],
    );
    check(
        action(Op::Template),
        "POST",
        &format!("{base}/template"),
        &[],
    );
    check(
        action(Op::Clone {
            newid: 120,
            name: "web03".into(),
            full: true,
            target_node: Some("pve2".into()),
            storage: None,
            pool: None,
        }),
        "POST",
        &format!("{base}/clone"),
        &[
            ("newid", "120"),
            ("name", "web03"),
            ("full", "1"),
            ("target", "pve2"),
        ],
    );
    check(
        action(Op::Resize {
            disk: "scsi0".into(),
            size: "+10G".into(),
            from: None,
            to: None,
        }),
        "PUT",
        &format!("{base}/resize"),
        &[("disk", "scsi0"), ("size", "+10G"), ("digest", "abc")],
    );
    check(
        action(Op::Create {
            params: vec![("name".into(), "x".into())],
        }),
        "POST",
        "/nodes/pve1/qemu",
        &[("vmid", "101"), ("name", "x")],
    );
    check(
        Action::on(
            Op::DeleteVolume {
                storage: "local".into(),
                volume: "local:import/a.qcow2".into(),
            },
            Target::node("pve1"),
            "",
        ),
        "DELETE",
        "/nodes/pve1/storage/local/content/local%3Aimport%2Fa.qcow2",
        &[],
    );
    check(
        action(Op::Console {
            serial: Some("serial0".into()),
        }),
        "POST",
        &format!("{base}/termproxy"),
        &[("serial", "serial0")],
    );
    let mut ct = action(Op::Console {
        serial: Some("serial0".into()),
    });
    ct.target.guest_kind = GuestKind::Lxc;
    ct.target.vmid = 200;
    // A container's termproxy takes no serial port.
    check(ct, "POST", "/nodes/pve1/lxc/200/termproxy", &[]);
}

#[test]
fn a_console_runs_at_once_and_is_never_undone() {
    let a = action(Op::Console {
        serial: Some("serial0".into()),
    });
    assert_eq!(a.kind(), ActionKind::Console);
    assert_eq!(a.kind().as_str(), "console");
    assert!(a.risk().is_none());
    assert!(!a.op.undoable_by_snapshot());
    assert!(matches!(a.op.undo(), Undo::Never(_)));
    assert_eq!(a.summary(), "console serial0");
    assert_eq!(action(Op::Console { serial: None }).summary(), "console");
    assert_eq!(
        a.audit_params().get("serial").map(String::as_str),
        Some("serial0")
    );
    // It survives a round trip through the buffer's JSON.
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), a);
}

#[test]
fn every_kind_has_a_word_and_a_risk_rule() {
    let mut words = std::collections::HashSet::new();
    for k in ActionKind::ALL {
        assert!(words.insert(k.as_str()), "{k:?} repeats a word");
    }
    assert!(ActionKind::Stop.always_destructive());
    assert!(!ActionKind::Start.always_destructive());
    assert_eq!(ActionKind::Set.risk(), Risk::Depends);
}

#[test]
fn summaries_risk_and_undo() {
    assert_eq!(action(set(&[("cores", "4")])).summary(), "set cores=4");
    assert_eq!(
        action(Op::Destroy {
            purge: true,
            unreferenced_disks: false,
        })
        .summary(),
        "destroy --purge"
    );
    assert!(action(Op::Stop).risk().is_some());
    assert!(action(Op::Start).risk().is_none());
    assert!(action(set(&[("cores", "4")])).risk().is_none());
    let reduction = Op::Set(ConfigChange {
        risk: Some("fewer cores".into()),
        ..ConfigChange::of([("cores".to_string(), "1".to_string())])
    });
    assert_eq!(action(reduction).risk().as_deref(), Some("fewer cores"));
    assert!(
        !Op::Destroy {
            purge: false,
            unreferenced_disks: false,
        }
        .undoable_by_snapshot()
    );
    assert!(Op::Stop.undoable_by_snapshot());
    assert_eq!(
        Op::Create { params: vec![] }.undo(),
        Undo::Remove,
        "what a creation made is removed to undo it"
    );
}

#[test]
fn audit_params_hide_secrets() {
    let a = action(set(&[("cipassword", "hunter2"), ("name", "x")]));
    let p = a.audit_params();
    assert_eq!(p["cipassword"], "<redacted>");
    assert_eq!(p["name"], "x");
    assert_eq!(p["digest"], "abc");
    assert!(!a.summary().contains("hunter2"), "{}", a.summary());
    let diff = format!("{:?}", a.diff());
    assert!(!diff.contains("hunter2"), "{diff}");
}

#[test]
fn raw_actions() {
    let a = action(Op::Raw {
        method: "PUT".into(),
        path: "/nodes/pve1/qemu/101/config".into(),
        params: BTreeMap::from([
            ("cipassword".to_string(), "hunter2".to_string()),
            ("description".to_string(), "x".to_string()),
        ]),
    });
    check(
        a.clone(),
        "PUT",
        "/nodes/pve1/qemu/101/config",
        &[("cipassword", "hunter2"), ("description", "x")],
    );
    assert_eq!(
        a.summary(),
        "PUT /nodes/pve1/qemu/101/config cipassword=<redacted> description=x"
    );
    assert_eq!(
        a.scrub("cipassword: value 'hunter2' is too short"),
        "cipassword: value '<redacted>' is too short"
    );
    assert!(a.risk().is_some(), "below a guest it is destructive");
    let pools = Op::Raw {
        method: "POST".into(),
        path: "/pools".into(),
        params: BTreeMap::new(),
    };
    assert!(pools.risk().is_none(), "outside any guest it runs at once");
    assert!(!a.op.undoable_by_snapshot());
    let text = serde_json::to_string(&a).unwrap();
    assert!(text.contains(r#""kind":"raw""#), "{text}");
    let back: Action = serde_json::from_str(&text).unwrap();
    assert_eq!(a, back);
}

#[test]
fn round_trips_as_json() {
    for op in [
        Op::Snapshot {
            name: "x".into(),
            vmstate: true,
            description: Some("d".into()),
        },
        Op::Shutdown {
            timeout: None,
            force_stop: false,
        },
        set(&[("memory", "4096")]),
        Op::Clone {
            newid: 5,
            name: "n".into(),
            full: false,
            target_node: None,
            storage: None,
            pool: None,
        },
    ] {
        let a = action(op);
        let text = serde_json::to_string(&a).unwrap();
        let back: Action = serde_json::from_str(&text).unwrap();
        assert_eq!(a, back, "{text}");
    }
}

#[test]
fn guest_paths() {
    assert_eq!(
        guest_of_path("/nodes/pve1/qemu/101/config"),
        Some(("pve1".into(), GuestKind::Qemu, 101))
    );
    assert_eq!(guest_of_path("/nodes/pve1/storage"), None);
    assert_eq!(guest_of_path("/pools"), None);
}

#[test]
fn guest_operations_request_what_pve_takes() {
    let base = "/nodes/pve1/qemu/101";
    let migrate = |online| Op::Migrate {
        target: "pve2".into(),
        online,
        with_local_disks: true,
        target_storage: Some("fast-zfs".into()),
    };
    check(
        action(migrate(true)),
        "POST",
        &format!("{base}/migrate"),
        &[
            ("target", "pve2"),
            ("online", "1"),
            ("with-local-disks", "1"),
            ("targetstorage", "fast-zfs"),
        ],
    );
    // A container has no live migration: `online` becomes a restart.
    let mut ct = action(migrate(true));
    ct.target.guest_kind = GuestKind::Lxc;
    check(
        ct,
        "POST",
        "/nodes/pve1/lxc/101/migrate",
        &[
            ("target", "pve2"),
            ("restart", "1"),
            ("target-storage", "fast-zfs"),
        ],
    );
    check(
        action(Op::DiskAdd {
            disk: "scsi1".into(),
            storage: "local-lvm".into(),
            size_gib: 50,
        }),
        "POST",
        &format!("{base}/config"),
        &[("scsi1", "local-lvm:50"), ("digest", "abc")],
    );
    check(
        action(Op::DiskMove {
            disk: "scsi0".into(),
            storage: "fast-zfs".into(),
            delete: true,
            from: Some("local-lvm".into()),
        }),
        "POST",
        &format!("{base}/move_disk"),
        &[
            ("disk", "scsi0"),
            ("storage", "fast-zfs"),
            ("digest", "abc"),
            ("delete", "1"),
        ],
    );
    check(
        action(Op::DiskDetach {
            disk: "scsi1".into(),
            volume: "local-lvm:vm-101-disk-1".into(),
        }),
        "PUT",
        &format!("{base}/unlink"),
        &[("idlist", "scsi1")],
    );
    check(
        action(Op::Backup {
            storage: Some("backup".into()),
            mode: Some("stop".into()),
            compress: None,
            notes: Some("{{guestname}}".into()),
            protected: true,
        }),
        "POST",
        "/nodes/pve1/vzdump",
        &[
            ("vmid", "101"),
            ("storage", "backup"),
            ("mode", "stop"),
            ("notes-template", "{{guestname}}"),
            ("protected", "1"),
        ],
    );
    let restore = Op::Restore {
        archive: "backup:backup/vzdump-lxc-101-x.tar.zst".into(),
        storage: None,
        force: true,
        unique: false,
    };
    let mut ct = action(restore.clone());
    ct.target.guest_kind = GuestKind::Lxc;
    check(
        ct,
        "POST",
        "/nodes/pve1/lxc",
        &[
            ("vmid", "101"),
            ("ostemplate", "backup:backup/vzdump-lxc-101-x.tar.zst"),
            ("restore", "1"),
            ("force", "1"),
        ],
    );
    assert!(action(restore).risk().is_some(), "over a guest: staged");
    let fresh = Op::Restore {
        archive: "a".into(),
        storage: None,
        force: false,
        unique: false,
    };
    assert!(action(fresh).risk().is_none(), "to a new VMID: at once");
}

#[test]
fn guest_operations_diff_in_words() {
    let rows = action(Op::Resize {
        disk: "scsi0".into(),
        size: "+10G".into(),
        from: Some("32G".into()),
        to: Some("42G".into()),
    })
    .diff();
    assert_eq!(
        rows,
        [("scsi0 size".into(), "32G".into(), "42G (+10G)".into())]
    );
    let rows = action(Op::Migrate {
        target: "pve2".into(),
        online: false,
        with_local_disks: false,
        target_storage: None,
    })
    .diff();
    assert_eq!(rows[0], ("node".into(), "pve1".into(), "pve2".into()));
    assert_eq!(rows[1].2, "offline");
}
