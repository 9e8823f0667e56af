use super::*;
use serde_json::json;

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[test]
fn cluster_resources_accept_both_vmid_forms() {
    let rows: Vec<ClusterResource> = parse(json!([
        {"id":"qemu/100","type":"qemu","vmid":100,"node":"pve1","name":"web01","status":"running","template":0,
         "cpu":0.0123,"maxcpu":2,"mem":1073741824,"maxmem":2147483648u64,"tags":"prod;web","uptime":3600,"extra":"ignored"},
        {"id":"lxc/101","type":"lxc","vmid":"101","node":"pve1","status":"unknown"},
        {"id":"node/pve1","type":"node","node":"pve1","status":"online","cpu":"0.5","maxcpu":8,"level":"","cgroup-mode":2},
        {"id":"storage/pve1/local","type":"storage","node":"pve1","storage":"local","shared":0,"disk":10,"maxdisk":100,
         "content":"iso,backup","plugintype":"dir","status":"available"},
        {"id":"/pool/lab","type":"pool","pool":"lab"}
    ]));
    assert_eq!(rows[0].vmid, Some(100));
    assert_eq!(rows[0].template, Some(false));
    assert_eq!(rows[0].maxmem, Some(2147483648));
    assert_eq!(rows[0].tag_list(), ["prod", "web"]);
    assert_eq!(rows[0].guest_kind(), Some(GuestKind::Qemu));
    assert_eq!(rows[1].vmid, Some(101));
    assert_eq!(rows[1].guest_kind(), Some(GuestKind::Lxc));
    assert_eq!(rows[1].mem, None);
    assert_eq!(rows[2].cpu, Some(0.5));
    assert_eq!(rows[2].guest_kind(), None);
    assert_eq!(rows[3].shared, Some(false));
    assert_eq!(rows[4].pool.as_deref(), Some("lab"));
}

#[test]
fn bad_values_are_refused_with_a_reason() {
    let e = serde_json::from_value::<ClusterResource>(
        json!({"id":"qemu/1","type":"qemu","vmid":"abc"}),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("expected a non-negative integer"),
        "{e}"
    );
    let e = serde_json::from_value::<ClusterResource>(
        json!({"id":"qemu/1","type":"qemu","template":2}),
    )
    .unwrap_err();
    assert!(e.to_string().contains("0/1"), "{e}");
}

#[test]
fn flags_in_every_form() {
    for (v, want) in [
        (json!(1), true),
        (json!(0), false),
        (json!(true), true),
        (json!("1"), true),
        (json!("false"), false),
    ] {
        let s: Snapshot = parse(json!({"name":"s1","vmstate":v}));
        assert_eq!(s.vmstate, Some(want));
    }
    let s: Snapshot =
        parse(json!({"name":"current","description":"You are here!","running":1,"parent":"s1"}));
    assert!(s.is_current());
    assert_eq!(s.vmstate, None);
}

#[test]
fn tasks() {
    let st: TaskStatus = parse(
        json!({"status":"stopped","exitstatus":"OK","upid":"UPID:x","node":"pve1","pid":"1234",
        "pstart":555,"starttime":1700000000,"type":"qmstart","id":"100","user":"root@pam"}),
    );
    assert_eq!(
        (st.status.as_str(), st.exitstatus.as_deref(), st.pid),
        ("stopped", Some("OK"), Some(1234))
    );
    let running: TaskStatus = parse(json!({"status":"running"}));
    assert_eq!(running.exitstatus, None);
    let lines: Vec<TaskLogLine> = parse(json!([{"n":1,"t":"starting"},{"n":"2","t":"TASK OK"}]));
    assert_eq!(
        lines[1],
        TaskLogLine {
            n: 2,
            t: "TASK OK".into()
        }
    );
    let list: Vec<TaskListEntry> = parse(
        json!([{"upid":"UPID:a","type":"vzdump","id":"","status":"OK","endtime":5},{"upid":"UPID:b"}]),
    );
    assert_eq!(list[0].status.as_deref(), Some("OK"));
    assert_eq!(list[1].endtime, None);
}

#[test]
fn storage_and_guests() {
    let s: StorageInfo = parse(
        json!({"storage":"local","type":"dir","active":1,"enabled":1,"shared":0,"used":5,"total":10,"avail":5,"used_fraction":0.5}),
    );
    assert_eq!(
        (s.active, s.total, s.used_fraction),
        (Some(true), Some(10), Some(0.5))
    );
    let c: StorageContent = parse(
        json!({"volid":"pbs:backup/vm/100/2024-01-01T00:00:00Z","content":"backup","format":"pbs-vm","size":123,"ctime":1700000000,"vmid":"100","protected":true}),
    );
    assert_eq!((c.vmid, c.protected), (Some(100), Some(true)));
    let g: GuestStatus = parse(
        json!({"status":"running","qmpstatus":"running","vmid":100,"cpus":2,"mem":5,"maxmem":10,"ha":{"managed":0},"agent":1,"pid":"42"}),
    );
    assert_eq!((g.cpus, g.agent, g.pid), (Some(2.0), Some(true), Some(42)));
    let v: VersionInfo = parse(json!({"version":"9.1.1","release":"9.1","repoid":"abc"}));
    assert_eq!(v.version, "9.1.1");
    let n: NodeInfo =
        parse(json!({"node":"pve1","status":"online","ssl_fingerprint":"AA:BB","maxcpu":4}));
    assert_eq!(n.ssl_fingerprint.as_deref(), Some("AA:BB"));
}

#[test]
fn tag_separators() {
    assert_eq!(split_tags("a;b"), ["a", "b"]);
    assert_eq!(split_tags("a,b c"), ["a", "b", "c"]);
    assert!(split_tags("").is_empty());
}
