use serde_json::json;

use super::*;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

/// Each row: a kind, a field, the JSON PVE sends, the value it becomes and how it shows.
#[test]
fn each_kind_types_its_fields() {
    use RecordKind::*;
    let cases: Vec<(RecordKind, &str, Json, Value, &str)> = vec![
        // A guest's load is a fraction shown as a percentage, as `ls` shows it.
        (Guest, "cpu", json!(0.17), Value::Percent(0.17), "17.0%"),
        (Guest, "cpu", json!("0.5"), Value::Percent(0.5), "50.0%"),
        (Node, "cpu", json!(0.031), Value::Percent(0.031), "3.1%"),
        // Tags are a list whatever the separator.
        (
            Guest,
            "tags",
            json!("prod;web"),
            list(&["prod", "web"]),
            "prod, web",
        ),
        (Guest, "tags", json!(""), list(&[]), ""),
        (
            Config,
            "tags",
            json!("prod;web"),
            list(&["prod", "web"]),
            "prod, web",
        ),
        // A container's status swap is bytes; its config swap is MiB.
        (Guest, "swap", json!(0), Value::Size(0), "0 B"),
        (
            Guest,
            "maxswap",
            json!(512 * MIB),
            Value::Size(512 * MIB),
            "512.0 MiB",
        ),
        (
            Config,
            "swap",
            json!(512),
            Value::Size(512 * MIB),
            "512.0 MiB",
        ),
        (
            Config,
            "memory",
            json!("4096"),
            Value::Size(4 * GIB),
            "4.0 GiB",
        ),
        (
            Config,
            "memory.current",
            json!(2048),
            Value::Size(2 * GIB),
            "2.0 GiB",
        ),
        // A size served as a string still is a size.
        (
            Guest,
            "disk",
            json!("34359738368"),
            Value::Size(32 * GIB),
            "32.0 GiB",
        ),
        (
            Guest,
            "maxdisk",
            json!(3.4359738368e10),
            Value::Size(32 * GIB),
            "32.0 GiB",
        ),
        (
            Config,
            "scsi0.size",
            json!("32G"),
            Value::Size(32 * GIB),
            "32.0 GiB",
        ),
        (
            Content,
            "size",
            json!(6871947673u64),
            Value::Size(6871947673),
            "6.4 GiB",
        ),
        // A config's cpu is the CPU model, not a load.
        (
            Config,
            "cpu",
            json!("x86-64-v2-AES"),
            Value::from("x86-64-v2-AES"),
            "x86-64-v2-AES",
        ),
        (Config, "cores", json!("2"), Value::Int(2), "2"),
        (Config, "uptime", json!("5"), Value::Int(5), "5"),
        // Times: unix seconds; 0 is no time.
        (
            Config,
            "meta.ctime",
            json!("1764270000"),
            Value::Time(1764270000),
            "2025-11-27T19:00:00Z",
        ),
        (Snapshot, "snaptime", json!(0), Value::Null, ""),
        (Content, "ctime", json!(0), Value::Null, ""),
        (
            Content,
            "ctime",
            json!(1767139200),
            Value::Time(1767139200),
            "2025-12-31T00:00:00Z",
        ),
        (
            Task,
            "starttime",
            json!(1767139200),
            Value::Time(1767139200),
            "2025-12-31T00:00:00Z",
        ),
        (
            Guest,
            "uptime",
            json!(90000),
            Value::Duration(90000),
            "1d 1h",
        ),
        // Flags and lists.
        (Content, "protected", json!(1), Value::Bool(true), "true"),
        (Storage, "shared", json!(0), Value::Bool(false), "false"),
        (
            Storage,
            "content",
            json!("images,rootdir"),
            list(&["images", "rootdir"]),
            "images, rootdir",
        ),
        (
            Storage,
            "used_fraction",
            json!(0.25),
            Value::Percent(0.25),
            "25.0%",
        ),
        (Guest, "template", json!(1), Value::Bool(true), "true"),
        // Unknown shapes stay as they came.
        (Guest, "mem", json!("n/a"), Value::from("n/a"), "n/a"),
        (Any, "name", json!("web01"), Value::from("web01"), "web01"),
    ];
    for (kind, field, json, want, shown) in cases {
        let got = typed_field(kind, field, &json);
        assert_eq!(got.type_name(), want.type_name(), "{kind:?} {field} {json}");
        assert_eq!(got, want, "{kind:?} {field} {json}");
        assert_eq!(got.display(), shown, "{kind:?} {field} {json}");
    }
}

#[test]
fn json_keeps_machine_units() {
    let status = typed(
        RecordKind::Guest,
        &json!({"cpu": 0.17, "tags": "prod;web", "mem": "1024", "ctime": 0}),
    );
    assert_eq!(
        status.to_json(),
        json!({"cpu": 0.17, "tags": ["prod", "web"], "mem": 1024, "ctime": null})
    );
    let config = typed(
        RecordKind::Config,
        &json!({"swap": 512, "hostname": "dns01"}),
    );
    assert_eq!(
        config.to_json(),
        json!({"swap": 512 * MIB, "hostname": "dns01"})
    );
}

#[test]
fn retype_types_built_values() {
    assert_eq!(
        retype(RecordKind::Config, "meta.ctime", Value::Int(1764270000)),
        Value::Time(1764270000)
    );
    assert_eq!(
        retype(RecordKind::Config, "boot.order", Value::from("scsi0;net0")),
        Value::from("scsi0;net0")
    );
    assert_eq!(
        retype(RecordKind::Guest, "cpu", Value::Float(0.5)),
        Value::Percent(0.5)
    );
}

#[test]
fn paths_name_their_kind() {
    use RecordKind::*;
    let cases = [
        ("/cluster/resources", Guest),
        ("/nodes", Node),
        ("/nodes/pve1/lxc/200/config", Config),
        ("/nodes/pve1/qemu/101/pending", Config),
        ("/nodes/pve1/qemu/101/status/current", Guest),
        ("/nodes/pve1/qemu/101/snapshot", Snapshot),
        ("/nodes/pve1/storage/local/content", Content),
        ("/nodes/pve1/storage", Storage),
        ("/cluster/tasks", Task),
        ("/version", Any),
    ];
    for (path, kind) in cases {
        assert_eq!(kind_of_path(path), kind, "{path}");
    }
}
