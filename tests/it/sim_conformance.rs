//! Conformance of the simulator's route table with the official PVE API schema
//! (`../shared/pve-api/apidata.json`): every served route and method exists with the same
//! handler name, `allowtoken` and `protected` flags, and every declared parameter exists there
//! with the same type, optional-ness, enum and range.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

fn schema() -> Option<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/pve-api/apidata.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("apidata.json is JSON")),
        Err(e) if std::env::var("PVESH_SCHEMA_OPTIONAL").as_deref() == Ok("1") => {
            eprintln!(
                "skipping: {} not readable ({e}) and PVESH_SCHEMA_OPTIONAL=1",
                path.display()
            );
            None
        }
        Err(e) => panic!(
            "the PVE API schema was expected at {} ({e}); check out shared/ next to the crate or set PVESH_SCHEMA_OPTIONAL=1",
            path.display()
        ),
    }
}

fn index(nodes: &Value, out: &mut HashMap<(String, String), Value>) {
    for n in nodes.as_array().into_iter().flatten() {
        let path = n["path"].as_str().unwrap_or_default().to_string();
        if let Some(info) = n["info"].as_object() {
            for (m, i) in info {
                out.insert((path.clone(), m.clone()), i.clone());
            }
        }
        index(&n["children"], out);
    }
}

fn flag(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_i64() == Some(1),
        Value::Bool(b) => *b,
        Value::String(s) => s == "1",
        _ => false,
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[test]
fn routes_match_the_official_schema() {
    let Some(schema) = schema() else { return };
    let mut idx = HashMap::new();
    index(&schema, &mut idx);
    let table = pvesh_plus::sim::routes::table().expect("route table compiles");
    let mut problems = Vec::new();
    for c in table {
        let r = &c.route;
        let key = (r.path.to_string(), r.method.to_string());
        let Some(info) = idx.get(&key) else {
            problems.push(format!("{} {}: not in the schema", r.method, r.path));
            continue;
        };
        let here = format!("{} {}", r.method, r.path);
        if info["name"].as_str() != Some(r.name) {
            problems.push(format!(
                "{here}: handler name {} != schema {}",
                r.name, info["name"]
            ));
        }
        if flag(&info["allowtoken"]) != r.allowtoken {
            problems.push(format!("{here}: allowtoken {} != schema", r.allowtoken));
        }
        if flag(&info["protected"]) != r.protected {
            problems.push(format!("{here}: protected {} != schema", r.protected));
        }
        let props = info["parameters"]["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for spec in &c.specs {
            let Some(p) = props.get(&spec.name) else {
                problems.push(format!(
                    "{here}: parameter '{}' not in the schema",
                    spec.name
                ));
                continue;
            };
            let ty = p["type"].as_str().unwrap_or("string");
            if ty != spec.ptype.as_str() {
                problems.push(format!(
                    "{here}: '{}' type {} != schema {ty}",
                    spec.name,
                    spec.ptype.as_str()
                ));
            }
            if flag(&p["optional"]) != spec.optional {
                problems.push(format!(
                    "{here}: '{}' optional {} != schema",
                    spec.name, spec.optional
                ));
            }
            if let Some(e) = p["enum"].as_array() {
                let want: Vec<String> = e
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect();
                if !spec.enumeration.is_empty() && spec.enumeration != want {
                    problems.push(format!(
                        "{here}: '{}' enum {:?} != schema {want:?}",
                        spec.name, spec.enumeration
                    ));
                }
            }
            for (ours, theirs) in [(spec.minimum, "minimum"), (spec.maximum, "maximum")] {
                if let Some(o) = ours
                    && num(&p[theirs]) != Some(o)
                {
                    problems.push(format!(
                        "{here}: '{}' {theirs} {o} != schema {}",
                        spec.name, p[theirs]
                    ));
                }
            }
            if let (Some(ml), Some(theirs)) = (spec.max_length, num(&p["maxLength"]))
                && ml as f64 != theirs
            {
                problems.push(format!(
                    "{here}: '{}' maxLength {ml} != schema {theirs}",
                    spec.name
                ));
            }
            if let (Some(f), Some(theirs)) = (&spec.format, p["format"].as_str())
                && f != theirs
            {
                problems.push(format!(
                    "{here}: '{}' format {f} != schema {theirs}",
                    spec.name
                ));
            }
        }
        for (name, p) in &props {
            if !flag(&p["optional"]) && !c.specs.iter().any(|s| &s.name == name) {
                problems.push(format!(
                    "{here}: required schema parameter '{name}' not declared"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} conformance problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Whether `v` fits the schema `type` (booleans may be 0/1, numbers may be integers, and
/// numeric strings pass for numbers, as PVE's Perl encoding produces them).
fn fits(ty: &str, v: &Value) -> bool {
    match (ty, v) {
        (_, Value::Null) => ty == "null",
        ("string", Value::String(_)) => true,
        ("string", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("integer" | "number", Value::String(s)) => s.parse::<f64>().is_ok(),
        ("number", Value::Number(_)) => true,
        ("boolean", Value::Bool(_)) => true,
        ("boolean", Value::Number(n)) => matches!(n.as_i64(), Some(0 | 1)),
        ("array", Value::Array(_)) => true,
        ("object", Value::Object(_)) => true,
        ("any", _) => true,
        _ => false,
    }
}

fn check_object(here: &str, schema: &Value, v: &Value, problems: &mut Vec<String>) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    let Some(obj) = v.as_object() else { return };
    for (name, p) in props {
        match obj.get(name) {
            None if !flag(&p["optional"]) => {
                problems.push(format!("{here}: required property '{name}' missing"))
            }
            Some(val) => {
                let ty = p["type"].as_str().unwrap_or("any");
                if !fits(ty, val) {
                    problems.push(format!("{here}: property '{name}' = {val} is not a {ty}"));
                }
            }
            None => {}
        }
    }
}

#[tokio::test]
async fn responses_match_the_schema_returns() {
    let Some(schema) = schema() else { return };
    let mut idx = HashMap::new();
    index(&schema, &mut idx);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let h = pvesh_plus::sim::start(pvesh_plus::sim::SimOptions {
        speed: 0.0,
        users: vec![("root@pam".into(), pvesh_plus::secret::Secret::new("pw"))],
        tokens: vec![("root@pam!ci".into(), pvesh_plus::secret::Secret::new("t"))],
        ..Default::default()
    })
    .await
    .unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(h.cert_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let base = format!("{}/api2/json", h.url());
    let login: Value = client
        .post(format!("{base}/access/ticket"))
        .form(&[("username", "root@pam"), ("password", "pw")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = login["data"]["ticket"].as_str().unwrap().to_string();
    let cookie = format!(
        "PVEAuthCookie={}",
        percent_encoding::utf8_percent_encode(&ticket, percent_encoding::NON_ALPHANUMERIC)
    );
    let upid: String = {
        let csrf = login["data"]["CSRFPreventionToken"].as_str().unwrap();
        let r: Value = client
            .post(format!("{base}/nodes/pve1/qemu/101/status/reboot"))
            .header("Cookie", &cookie)
            .header("CSRFPreventionToken", csrf)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["data"].as_str().unwrap().to_string()
    };
    h.advance(10.0);
    let upid_enc = percent_encoding::utf8_percent_encode(&upid, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let cases: Vec<(String, &str)> = [
        ("/version", "/version"),
        ("/cluster/resources", "/cluster/resources"),
        ("/cluster/status", "/cluster/status"),
        ("/cluster/tasks", "/cluster/tasks"),
        ("/nodes", "/nodes"),
        ("/nodes/pve1/status", "/nodes/{node}/status"),
        ("/storage", "/storage"),
        ("/nodes/pve1/storage", "/nodes/{node}/storage"),
        (
            "/nodes/pve2/storage/backup/content",
            "/nodes/{node}/storage/{storage}/content",
        ),
        (
            "/nodes/pve1/storage/local/content",
            "/nodes/{node}/storage/{storage}/content",
        ),
        (
            "/nodes/pve1/storage/local-lvm/status",
            "/nodes/{node}/storage/{storage}/status",
        ),
        ("/nodes/pve1/qemu", "/nodes/{node}/qemu"),
        (
            "/nodes/pve1/qemu/101/config",
            "/nodes/{node}/qemu/{vmid}/config",
        ),
        (
            "/nodes/pve1/qemu/101/pending",
            "/nodes/{node}/qemu/{vmid}/pending",
        ),
        (
            "/nodes/pve1/qemu/101/status/current",
            "/nodes/{node}/qemu/{vmid}/status/current",
        ),
        (
            "/nodes/pve1/qemu/101/snapshot",
            "/nodes/{node}/qemu/{vmid}/snapshot",
        ),
        (
            "/nodes/pve1/qemu/101/migrate",
            "/nodes/{node}/qemu/{vmid}/migrate",
        ),
        (
            "/nodes/pve1/qemu/101/agent/network-get-interfaces",
            "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces",
        ),
        ("/nodes/pve1/lxc", "/nodes/{node}/lxc"),
        (
            "/nodes/pve1/lxc/200/status/current",
            "/nodes/{node}/lxc/{vmid}/status/current",
        ),
        ("/pools", "/pools"),
        ("/pools/lab", "/pools/{poolid}"),
        ("/access/domains", "/access/domains"),
        ("/access/users", "/access/users"),
        ("/access/users/tfa@pve", "/access/users/{userid}"),
        ("/access/roles", "/access/roles"),
        ("/access/acl", "/access/acl"),
        ("/access/groups", "/access/groups"),
        ("/nodes/pve1/version", "/nodes/{node}/version"),
        ("/nodes/pve1/network", "/nodes/{node}/network"),
        (
            "/nodes/pve1/network?type=any_bridge",
            "/nodes/{node}/network",
        ),
        ("/cluster/ha", "/cluster/ha"),
        ("/cluster/ha/resources", "/cluster/ha/resources"),
        ("/cluster/ha/groups", "/cluster/ha/groups"),
        ("/cluster/ha/rules", "/cluster/ha/rules"),
        ("/cluster/ha/status", "/cluster/ha/status"),
        ("/cluster/ha/status/current", "/cluster/ha/status/current"),
        (
            "/cluster/ha/status/manager_status",
            "/cluster/ha/status/manager_status",
        ),
        ("/cluster/backup", "/cluster/backup"),
        (
            "/cluster/backup/backup-prod-nightly",
            "/cluster/backup/{id}",
        ),
        (
            "/nodes/pve1/rrddata?timeframe=hour",
            "/nodes/{node}/rrddata",
        ),
        (
            "/nodes/pve1/qemu/101/rrddata?timeframe=day&cf=MAX",
            "/nodes/{node}/qemu/{vmid}/rrddata",
        ),
        (
            "/nodes/pve1/lxc/200/rrddata?timeframe=week",
            "/nodes/{node}/lxc/{vmid}/rrddata",
        ),
        ("/nodes/pve1/tasks", "/nodes/{node}/tasks"),
        ("/cluster/nextid", "/cluster/nextid"),
        (
            "/nodes/pve1/qemu/101/snapshot/pre-upgrade/config",
            "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
        ),
        (
            "/nodes/pve1/lxc/200/config",
            "/nodes/{node}/lxc/{vmid}/config",
        ),
        (
            "/access/users/root@pam/token",
            "/access/users/{userid}/token",
        ),
        (
            "/access/users/root@pam/token/ci",
            "/access/users/{userid}/token/{tokenid}",
        ),
        ("/pools?poolid=lab", "/pools"),
    ]
    .iter()
    .map(|(p, t)| (p.to_string(), *t))
    .chain([
        (
            format!("/nodes/pve1/tasks/{upid_enc}/status"),
            "/nodes/{node}/tasks/{upid}/status",
        ),
        (
            format!("/nodes/pve1/tasks/{upid_enc}/log"),
            "/nodes/{node}/tasks/{upid}/log",
        ),
    ])
    .collect();
    let mut problems = Vec::new();
    for (path, template) in cases {
        let r = client
            .get(format!("{base}{path}"))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status != 200 {
            problems.push(format!("GET {path}: status {status}"));
            continue;
        }
        let returns = &idx[&(template.to_string(), "GET".to_string())]["returns"];
        let data = &body["data"];
        let ty = returns["type"].as_str().unwrap_or("any");
        if !fits(ty, data) {
            problems.push(format!("GET {path}: data is not a {ty}"));
            continue;
        }
        match data {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_object(
                        &format!("GET {path} [{i}]"),
                        &returns["items"],
                        item,
                        &mut problems,
                    );
                }
            }
            Value::Object(_) => check_object(&format!("GET {path}"), returns, data, &mut problems),
            _ => {}
        }
    }
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} response problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The privileges `rbac bootstrap` puts in its role are PVE 9's (the properties of a role in
/// the schema), and so are the simulator's.
#[test]
fn rbac_privileges_are_pve_9s() {
    let Some(schema) = schema() else { return };
    let mut idx = HashMap::new();
    index(&schema, &mut idx);
    let role = &idx[&("/access/roles/{roleid}".to_string(), "GET".to_string())];
    let known: Vec<&String> = role["returns"]["properties"]
        .as_object()
        .expect("a role's privileges")
        .keys()
        .collect();
    assert!(known.len() > 40, "{known:?}");
    for f in pvesh_plus::commands::RBAC_FEATURES {
        for p in f.privs {
            assert!(
                known.iter().any(|k| k == p),
                "{}: {p} is not a PVE 9 privilege",
                f.name
            );
        }
    }
    let ours = pvesh_plus::sim::ROLES[0].1;
    for k in &known {
        assert!(ours.contains(&k.as_str()), "the simulator lacks {k}");
    }
    assert_eq!(ours.len(), known.len());
}
