//! Conformance of the simulator's route table with the official PVE API schema
//! (`../shared/pve-api/apidata.json`): every served route and method exists with the same
//! handler name, `allowtoken` and `protected` flags, and every declared parameter exists there
//! with the same type, optional-ness, enum and range.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
