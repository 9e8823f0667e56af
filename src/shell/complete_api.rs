//! Completion of API paths (`cd`, `ls PATH`, `get PATH`, `usage PATH`) and of the `k=` parameter
//! names after `get PATH`, `create PATH`, `set PATH` and `delete PATH` (those of GET, POST, PUT
//! and DELETE), from the schema the session loaded in the background.
//!
//! Pure like the rest of completion: it reads the cached schema and inventory and never waits on
//! the network. Templated segments are filled from the inventory (`{node}` → node names,
//! `{vmid}` → the VMIDs of that node and guest type, `{storage}` → storages, `{poolid}` → pools);
//! `usage` also offers the template itself. A directory candidate ends with `/` so the next Tab
//! goes on into it.

use std::ops::Range;

use crate::api::schema::{ApiSchema, PathNode};
use crate::inventory::Inventory;

use super::complete::Candidate;

/// Candidates for an API path being typed: absolute, or relative to `cwd` (the session's
/// `pwd`). `templates` offers `{node}`-style segments literally (for `usage`); otherwise only
/// concrete names from the inventory. With nothing typed, the children of `cwd`.
pub fn paths(
    schema: &ApiSchema,
    inv: Option<&Inventory>,
    cwd: &str,
    partial: &str,
    span: Range<usize>,
    templates: bool,
) -> Vec<Candidate> {
    let partial = if partial.is_empty() && cwd == "/" {
        "/"
    } else {
        partial
    };
    let cut = partial.rfind('/').map_or(0, |i| i + 1);
    let (dir, typed) = partial.split_at(cut);
    let absolute = join(cwd, dir);
    let Some(children) = schema.children(&absolute) else {
        return Vec::new();
    };
    let segments: Vec<&str> = absolute.split('/').filter(|s| !s.is_empty()).collect();
    let mut options: Vec<(String, String, bool)> = Vec::new();
    for child in children {
        let has_children = !child.children.is_empty();
        if let Some(name) = child.template_name() {
            for (value, description) in fill_template(name, &segments, inv) {
                options.push((value, description, has_children));
            }
            if templates {
                options.push((child.text.clone(), describe(child), has_children));
            }
        } else {
            options.push((child.text.clone(), describe(child), has_children));
        }
    }
    let mut out: Vec<Candidate> = options
        .into_iter()
        .filter(|(value, _, _)| value.starts_with(typed))
        .map(|(value, description, has_children)| Candidate {
            value: format!("{dir}{value}{}", if has_children { "/" } else { "" }),
            description,
            span: span.clone(),
        })
        .collect();
    out.dedup_by(|a, b| a.value == b.value);
    out
}

/// `dir` (absolute, or relative to `cwd`, with `.` and `..`) as an absolute path.
fn join(cwd: &str, dir: &str) -> String {
    let mut parts: Vec<&str> = if dir.starts_with('/') {
        Vec::new()
    } else {
        cwd.split('/').filter(|s| !s.is_empty()).collect()
    };
    for seg in dir.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

fn describe(node: &PathNode) -> String {
    let methods: Vec<&str> = node.methods.keys().map(String::as_str).collect();
    methods.join(" ")
}

/// The values a template takes here, from the inventory: `segments` is the path typed so far.
fn fill_template(name: &str, segments: &[&str], inv: Option<&Inventory>) -> Vec<(String, String)> {
    let Some(inv) = inv else {
        return Vec::new();
    };
    // The node named earlier in the path (`/nodes/pve1/...`), if any.
    let node = segments
        .iter()
        .position(|s| *s == "nodes")
        .and_then(|i| segments.get(i + 1))
        .copied();
    match name {
        "node" => inv
            .nodes()
            .iter()
            .map(|n| (n.node.clone(), n.status.clone()))
            .collect(),
        "vmid" => {
            let kind = segments.last().copied();
            inv.guests()
                .iter()
                .filter(|g| node.is_none_or(|n| g.node == n))
                .filter(|g| kind.is_none_or(|k| k != "qemu" && k != "lxc" || g.kind.as_str() == k))
                .map(|g| (g.vmid.to_string(), format!("{} · {}", g.name, g.status)))
                .collect()
        }
        "storage" => {
            let mut names: Vec<(String, String)> = inv
                .storages()
                .iter()
                .filter(|s| node.is_none_or(|n| s.node == n))
                .map(|s| (s.storage.clone(), s.plugintype.clone()))
                .collect();
            names.sort();
            names.dedup_by(|a, b| a.0 == b.0);
            names
        }
        "poolid" => inv
            .pools()
            .into_iter()
            .map(|p| (p, "pool".into()))
            .collect(),
        _ => Vec::new(),
    }
}

/// `name=` candidates for the parameters of `method` (`GET`, `POST`, `PUT`, `DELETE`) on
/// `path` (those the path itself does not fill), or `name=value` for an enumerated parameter
/// once `name=` is typed.
pub fn params(
    schema: &ApiSchema,
    cwd: &str,
    path: &str,
    method: &str,
    used: &[&str],
    partial: &str,
    span: Range<usize>,
) -> Vec<Candidate> {
    let Some(node) = schema.find(&join(cwd, path)) else {
        return Vec::new();
    };
    let Some(get) = node.methods.get(method) else {
        return Vec::new();
    };
    let in_path: Vec<&str> = node
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect();
    if let Some((name, typed)) = partial.split_once('=') {
        let Some(p) = get.params.iter().find(|p| p.name == name) else {
            return Vec::new();
        };
        let mut values = p.enumeration.clone();
        if p.ptype == "boolean" {
            values = vec!["1".into(), "0".into()];
        }
        return values
            .into_iter()
            .filter(|v| v.starts_with(typed))
            .map(|v| Candidate {
                value: format!("{name}={v}"),
                description: p.type_label(),
                span: span.clone(),
            })
            .collect();
    }
    get.params
        .iter()
        .filter(|p| !in_path.contains(&p.name.as_str()))
        .filter(|p| {
            !used
                .iter()
                .any(|u| u.split('=').next() == Some(p.name.as_str()))
        })
        .filter(|p| p.name.starts_with(partial))
        .map(|p| Candidate {
            value: format!("{}=", p.name),
            description: format!("{} · {}", p.type_label(), p.summary()),
            span: span.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::complete::complete_with;
    use super::*;
    use serde_json::json;

    fn schema() -> ApiSchema {
        let node = |path: &str, methods: serde_json::Value, children: Vec<serde_json::Value>| {
            let text = path.rsplit('/').next().unwrap_or("");
            json!({"path": path, "text": text, "info": methods, "children": children})
        };
        let get =
            |params: serde_json::Value| json!({"GET": {"parameters": {"properties": params}}});
        let vmid = node(
            "/nodes/{node}/qemu/{vmid}",
            get(json!({})),
            vec![
                node(
                    "/nodes/{node}/qemu/{vmid}/config",
                    json!({
                        "GET": {"parameters": {"properties": {
                            "node": {"type": "string"}, "vmid": {"type": "integer"},
                            "current": {"type": "boolean", "optional": 1, "description": "Current values only."},
                            "snapshot": {"type": "string", "optional": 1}
                        }}},
                        "PUT": {"parameters": {"properties": {
                            "node": {"type": "string"}, "vmid": {"type": "integer"},
                            "description": {"type": "string", "optional": 1},
                            "delete": {"type": "string", "optional": 1}
                        }}}
                    }),
                    vec![],
                ),
                node(
                    "/nodes/{node}/qemu/{vmid}/snapshot",
                    json!({
                        "GET": {"parameters": {"properties": {"node": {"type": "string"}, "vmid": {"type": "integer"}}}},
                        "POST": {"parameters": {"properties": {
                            "node": {"type": "string"}, "vmid": {"type": "integer"},
                            "snapname": {"type": "string", "description": "The name of the snapshot."},
                            "vmstate": {"type": "boolean", "optional": 1},
                            "description": {"type": "string", "optional": 1}
                        }}}
                    }),
                    vec![],
                ),
                node(
                    "/nodes/{node}/qemu/{vmid}/status",
                    get(json!({})),
                    vec![node(
                        "/nodes/{node}/qemu/{vmid}/status/start",
                        json!({"POST": {}}),
                        vec![],
                    )],
                ),
            ],
        );
        let tree = json!([
            node(
                "/cluster",
                get(json!({})),
                vec![node(
                    "/cluster/resources",
                    get(json!({
                        "type": {"type": "string", "optional": 1, "enum": ["vm", "storage", "node", "sdn"]}
                    })),
                    vec![]
                ),]
            ),
            node(
                "/nodes",
                get(json!({})),
                vec![node(
                    "/nodes/{node}",
                    get(json!({})),
                    vec![
                        node("/nodes/{node}/qemu", get(json!({})), vec![vmid]),
                        node(
                            "/nodes/{node}/lxc",
                            get(json!({})),
                            vec![node("/nodes/{node}/lxc/{vmid}", get(json!({})), vec![]),]
                        ),
                        node(
                            "/nodes/{node}/storage",
                            get(json!({})),
                            vec![node(
                                "/nodes/{node}/storage/{storage}",
                                get(json!({})),
                                vec![]
                            ),]
                        ),
                    ]
                ),]
            ),
            node("/version", get(json!({})), vec![]),
        ]);
        ApiSchema::from_json(&tree).unwrap()
    }

    fn inventory() -> Inventory {
        Inventory::from_resources(&json!([
            {"type": "node", "node": "pve1", "status": "online"},
            {"type": "node", "node": "pve2", "status": "online"},
            {"type": "qemu", "vmid": 101, "name": "web01", "node": "pve1", "status": "running"},
            {"type": "qemu", "vmid": 102, "name": "web02", "node": "pve2", "status": "running"},
            {"type": "lxc", "vmid": 200, "name": "dns01", "node": "pve1", "status": "running"},
            {"type": "storage", "storage": "local", "node": "pve1", "plugintype": "dir"},
            {"type": "storage", "storage": "nas", "node": "pve2", "plugintype": "nfs"},
        ]))
        .unwrap()
    }

    /// `‸` marks the cursor.
    fn check(line: &str, expected: &[&str]) {
        check_in("/", line, expected);
    }

    /// Completes `line` with the session in API directory `cwd`.
    fn check_in(cwd: &str, line: &str, expected: &[&str]) {
        let pos = line.find('‸').unwrap();
        let text = line.replace('‸', "");
        let (schema, inv) = (schema(), inventory());
        let got: Vec<String> = complete_with(&text, pos, Some(&inv), Some(&schema), cwd)
            .into_iter()
            .map(|c| c.value)
            .collect();
        assert_eq!(got, expected, "completing {line:?}");
    }

    #[test]
    fn api_paths() {
        check("cd ‸", &["/cluster/", "/nodes/", "/version"]);
        check("cd /‸", &["/cluster/", "/nodes/", "/version"]);
        check("ls /n‸", &["/nodes/"]);
        check("ls /nodes/‸", &["/nodes/pve1/", "/nodes/pve2/"]);
        check(
            "ls /nodes/pve1/‸",
            &[
                "/nodes/pve1/qemu/",
                "/nodes/pve1/lxc/",
                "/nodes/pve1/storage/",
            ],
        );
        check("get /nodes/pve1/qemu/‸", &["/nodes/pve1/qemu/101/"]);
        check("get /nodes/pve1/lxc/‸", &["/nodes/pve1/lxc/200"]);
        check("get /nodes/pve2/storage/‸", &["/nodes/pve2/storage/nas"]);
        check(
            "get /nodes/pve1/qemu/101/c‸",
            &["/nodes/pve1/qemu/101/config"],
        );
        check("cd /nodes/pve9/q‸", &["/nodes/pve9/qemu/"]);
        check("cd /nope/‸", &[]);
        check("cd web‸", &["web01", "web02"]);
        check("ls we‸", &[]);
        check("ls nod‸", &["nodes/"]);
        check("get /ver‸", &["/version"]);
    }

    #[test]
    fn relative_paths_from_the_current_directory() {
        check_in("/nodes", "ls ‸", &["pve1/", "pve2/"]);
        check_in(
            "/nodes",
            "cd pve2/‸",
            &["pve2/qemu/", "pve2/lxc/", "pve2/storage/"],
        );
        check_in("/nodes/pve1/qemu", "get ../lxc/‸", &["../lxc/200"]);
        check_in("/nodes/pve1/qemu", "get ./1‸", &["./101/"]);
        check_in("/nodes/pve1", "cd /v‸", &["/version"]);
        check_in(
            "/nodes/pve1/qemu/101",
            "get config ‸",
            &["current=", "snapshot="],
        );
        check_in("/nodes", "cd web‸", &["web01", "web02"]);
    }

    #[test]
    fn usage_also_offers_templates() {
        check(
            "usage /nodes/‸",
            &["/nodes/pve1/", "/nodes/pve2/", "/nodes/{node}/"],
        );
        check(
            "usage /nodes/{node}/qemu/{‸",
            &["/nodes/{node}/qemu/{vmid}/"],
        );
        check(
            "usage /nodes/{node}/qemu/{vmid}/status/‸",
            &["/nodes/{node}/qemu/{vmid}/status/start"],
        );
    }

    #[test]
    fn get_parameter_names_and_values() {
        check(
            "get /nodes/pve1/qemu/101/config ‸",
            &["current=", "snapshot="],
        );
        check("get /nodes/pve1/qemu/101/config cur‸", &["current="]);
        check(
            "get /nodes/pve1/qemu/101/config current=1 ‸",
            &["snapshot="],
        );
        check(
            "get /nodes/pve1/qemu/101/config current=‸",
            &["current=1", "current=0"],
        );
        check(
            "get /cluster/resources type=s‸",
            &["type=storage", "type=sdn"],
        );
        check("get /nope ‸", &[]);
        check("ls | get na‸", &["name"]);
    }

    #[test]
    fn write_parameters_follow_the_method() {
        check("create /nodes/pve1/qemu/101/snapshot sn‸", &["snapname="]);
        check(
            "create /nodes/pve1/qemu/101/snapshot snapname=a ‸",
            &["description=", "vmstate="],
        );
        check(
            "create /nodes/pve1/qemu/101/snapshot vmstate=‸",
            &["vmstate=1", "vmstate=0"],
        );
        check(
            "create /nodes/pve1/qemu/101/sn‸",
            &["/nodes/pve1/qemu/101/snapshot"],
        );
        check(
            "set /nodes/pve1/qemu/101/c‸",
            &["/nodes/pve1/qemu/101/config"],
        );
        check(
            "set /nodes/pve1/qemu/101/config de‸",
            &["delete=", "description="],
        );
        check_in(
            "/nodes/pve1/qemu/101",
            "set config desc‸",
            &["description="],
        );
        // GET's parameters are not POST's.
        check("create /nodes/pve1/qemu/101/config cur‸", &[]);
        check("get /nodes/pve1/qemu/101/snapshot sn‸", &[]);
    }

    #[test]
    fn no_schema_no_paths() {
        let inv = inventory();
        assert!(complete_with("cd /no", 6, Some(&inv), None, "/").is_empty());
        assert_eq!(complete_with("cd web0", 7, Some(&inv), None, "/").len(), 2);
    }
}
