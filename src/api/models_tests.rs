use super::*;
use serde_json::json;

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[test]
fn numbers_in_both_forms() {
    let rows: Vec<NodeInfo> = parse(json!([
        {"node":"pve1","status":"online","cpu":0.0123,"maxcpu":2,"mem":1073741824,
         "maxmem":2147483648u64,"uptime":3600,"extra":"ignored"},
        {"node":"pve2","status":"online","cpu":"0.5","maxcpu":"8","mem":"5","level":"","cgroup-mode":2},
        {"node":"pve3","status":"offline"}
    ]));
    assert_eq!(rows[0].maxmem, Some(2147483648));
    assert_eq!(rows[0].maxcpu, Some(2.0));
    assert_eq!(
        (rows[1].cpu, rows[1].maxcpu, rows[1].mem),
        (Some(0.5), Some(8.0), Some(5))
    );
    assert_eq!(rows[2].mem, None);
}

#[test]
fn bad_values_are_refused_with_a_reason() {
    let e =
        serde_json::from_value::<TaskStatus>(json!({"status":"stopped","pid":"abc"})).unwrap_err();
    assert!(
        e.to_string().contains("expected a non-negative integer"),
        "{e}"
    );
    let e = serde_json::from_value::<NodeInfo>(json!({"node":"pve1","cpu":"fast"})).unwrap_err();
    assert!(e.to_string().contains("expected a number"), "{e}");
    let e = serde_json::from_value::<TaskLogLine>(json!({"n":null,"t":"x"})).unwrap_err();
    assert!(e.to_string().contains("got null"), "{e}");
}

#[test]
fn tasks() {
    let st: TaskStatus = parse(
        json!({"status":"stopped","exitstatus":"OK","upid":"UPID:x","node":"pve1","pid":"1234",
        "pstart":555,"starttime":1700000000,"type":"qmstart","id":100,"user":"root@pam"}),
    );
    assert_eq!(
        (st.status.as_str(), st.exitstatus.as_deref(), st.pid),
        ("stopped", Some("OK"), Some(1234))
    );
    assert_eq!(st.id.as_deref(), Some("100"));
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
}

#[test]
fn version_and_nodes() {
    let v: VersionInfo = parse(json!({"version":"9.1.1","release":"9.1","repoid":"abc"}));
    assert_eq!(v.version, "9.1.1");
    let v: VersionInfo = parse(json!({"version":"8.4.1","release":8.4}));
    assert_eq!(v.release.as_deref(), Some("8.4"));
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
