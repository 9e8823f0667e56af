//! The API viewer's `apidoc.js`, generated from the route table: `const apiSchema = [...];` with
//! nested `{path, text, leaf, info: {METHOD: {...}}, children}` nodes, like the file pve-docs
//! installs on a real node (see shared/pve-api/README.md "Structure").

use serde_json::{Map, Value, json};

use super::params::ParamSpec;
use super::routes::{self, Compiled, Perm};

/// The whole file.
pub fn render() -> String {
    let tree = schema_tree();
    format!("const apiSchema = {};\n", Value::Array(tree))
}

/// The nested schema nodes for every path the simulator serves (intermediate paths included).
pub fn schema_tree() -> Vec<Value> {
    let Ok(table) = routes::table() else {
        return Vec::new();
    };
    let mut paths: Vec<String> = Vec::new();
    for c in table {
        let mut acc = String::new();
        for seg in c.route.path.split('/').filter(|s| !s.is_empty()) {
            acc.push('/');
            acc.push_str(seg);
            if !paths.contains(&acc) {
                paths.push(acc.clone());
            }
        }
    }
    build_children("", &paths, table)
}

fn build_children(parent: &str, paths: &[String], table: &[Compiled]) -> Vec<Value> {
    let depth = parent.split('/').filter(|s| !s.is_empty()).count() + 1;
    let mut out = Vec::new();
    let mut own: Vec<&str> = paths
        .iter()
        .map(String::as_str)
        .filter(|p| {
            p.starts_with(parent)
                && p[parent.len()..].starts_with('/')
                && p.split('/').filter(|s| !s.is_empty()).count() == depth
        })
        .collect();
    own.sort();
    for path in own {
        let children = build_children(path, paths, table);
        let mut info = Map::new();
        for c in table.iter().filter(|c| c.route.path == path) {
            info.insert(c.route.method.to_string(), method_info(c));
        }
        let text = path.rsplit('/').next().unwrap_or(path);
        let mut node = json!({ "path": path, "text": text, "leaf": u8::from(children.is_empty()), "info": info });
        if !children.is_empty()
            && let Some(o) = node.as_object_mut()
        {
            o.insert("children".into(), Value::Array(children));
        }
        out.push(node);
    }
    out
}

fn method_info(c: &Compiled) -> Value {
    let r = &c.route;
    let props: Map<String, Value> = c
        .specs
        .iter()
        .map(|s| (s.name.clone(), param_json(s)))
        .collect();
    let permissions = match r.perm {
        Perm::World => json!({ "user": "world" }),
        Perm::All => json!({ "user": "all" }),
        Perm::Privs { path, privs, any } => {
            let mut check = vec![json!("perm"), json!(path), json!(privs)];
            if any {
                check.push(json!("any"));
                check.push(json!(1));
            }
            json!({ "check": check })
        }
        Perm::Custom(text) => {
            json!({ "check": serde_json::from_str::<Value>(text).unwrap_or(Value::Null) })
        }
    };
    let mut v = json!({
        "name": r.name,
        "method": r.method,
        "description": r.description,
        "parameters": { "additionalProperties": 0, "properties": props },
        "returns": { "type": r.returns },
        "permissions": permissions,
        "allowtoken": u8::from(r.allowtoken),
    });
    if let Some(o) = v.as_object_mut() {
        if r.protected {
            o.insert("protected".into(), json!(1));
        }
        if r.path.starts_with("/nodes/{node}/") {
            o.insert("proxyto".into(), json!("node"));
        }
    }
    v
}

fn param_json(s: &ParamSpec) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(s.ptype.as_str()));
    if s.optional {
        m.insert("optional".into(), json!(1));
    }
    if let Some(f) = &s.format {
        m.insert("format".into(), json!(f));
    }
    if let Some(p) = s.props {
        let keys: Map<String, Value> = p
            .keys
            .iter()
            .map(|k| {
                let mut sub = json!({ "type": "string", "optional": 1 });
                if p.default_key == Some(*k)
                    && let Some(o) = sub.as_object_mut()
                {
                    o.insert("default_key".into(), json!(1));
                }
                (k.to_string(), sub)
            })
            .collect();
        m.insert("format".into(), Value::Object(keys));
    }
    if let Some(x) = s.minimum {
        m.insert("minimum".into(), json!(x));
    }
    if let Some(x) = s.maximum {
        m.insert("maximum".into(), json!(x));
    }
    if let Some(x) = s.max_length {
        m.insert("maxLength".into(), json!(x));
    }
    if let Some(x) = s.min_length {
        m.insert("minLength".into(), json!(x));
    }
    if !s.enumeration.is_empty() {
        m.insert("enum".into(), json!(s.enumeration));
    }
    if let Some((p, _)) = &s.pattern {
        m.insert("pattern".into(), json!(p));
    }
    if let Some((_, lo, hi)) = &s.indexed {
        m.insert(
            "description".into(),
            json!(format!("Indexed: {lo} to {hi}.")),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apidoc_is_json_after_the_wrapper() {
        let js = render();
        let body = js
            .strip_prefix("const apiSchema = ")
            .unwrap()
            .trim_end()
            .strip_suffix(';')
            .unwrap();
        let v: Value = serde_json::from_str(body).unwrap();
        let roots: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["path"].as_str().unwrap())
            .collect();
        for want in [
            "/access", "/cluster", "/nodes", "/pools", "/storage", "/version",
        ] {
            assert!(roots.contains(&want), "missing root {want} in {roots:?}");
        }
        let nodes = v
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["path"] == "/nodes")
            .unwrap();
        let node = &nodes["children"][0];
        assert_eq!(node["path"], "/nodes/{node}");
        assert_eq!(node["info"]["GET"]["name"], "index");
    }
}
