//! `/cluster/ha`: HA resources, groups (deprecated in PVE 9.x), rules, and the manager status
//! (pve-ha-manager `PVE/API2/HA/*.pm`). The simulated CRM is always quorate and idle: every
//! resource sits where its guest is, in its requested state; the master is the first node.

use serde_json::{Map, Value, json};

use super::{ApiError, Ctx, Perm, Reply, Route, index, route};

const AUDIT: Perm = Perm::Privs {
    path: "/",
    privs: &["Sys.Audit"],
    any: false,
};

pub fn routes() -> Vec<Route> {
    vec![
        route("GET", "/cluster/ha", "index", "array", AUDIT, &[], |c| {
            Ok(index(c, "id"))
        })
        .desc("Directory index."),
        route(
            "GET",
            "/cluster/ha/resources",
            "index",
            "array",
            AUDIT,
            &["type?:string enum=ct|vm"],
            resources,
        )
        .desc("List HA resources."),
        route(
            "GET",
            "/cluster/ha/groups",
            "index",
            "array",
            AUDIT,
            &[],
            groups,
        )
        .desc("Get HA groups. (deprecated in favor of HA rules)"),
        route(
            "GET",
            "/cluster/ha/rules",
            "index",
            "array",
            AUDIT,
            &[
                "resource?:string",
                "type?:string enum=node-affinity|resource-affinity",
            ],
            rules,
        )
        .desc("Get HA rules."),
        route(
            "GET",
            "/cluster/ha/status",
            "index",
            "array",
            Perm::All,
            &[],
            |c| Ok(index(c, "name")),
        )
        .desc("Directory index."),
        route(
            "GET",
            "/cluster/ha/status/current",
            "status",
            "array",
            AUDIT,
            &[],
            current,
        )
        .desc("Get HA manager status."),
        route(
            "GET",
            "/cluster/ha/status/manager_status",
            "manager_status",
            "object",
            AUDIT,
            &[],
            manager_status,
        )
        .desc("Get full HA manager status, including LRM status."),
    ]
}

/// The digest of a section config file: SHA1 of its text, as PVE's `SectionConfig` computes.
fn digest(text: &str) -> String {
    use sha1::{Digest, Sha1};
    hex::encode(Sha1::digest(text.as_bytes()))
}

fn resources_cfg(c: &Ctx) -> String {
    c.state
        .ha_resources
        .iter()
        .map(|r| format!("{}\n\tstate {}\n\n", r.sid.replacen(':', ": ", 1), r.state))
        .collect()
}

fn rules_cfg(c: &Ctx) -> String {
    c.state
        .ha_rules
        .iter()
        .map(|r| format!("{}: {}\n\tresources {}\n\n", r.kind, r.rule, r.resources))
        .collect()
}

/// `vm:103` → (`vm`, 103).
fn split_sid(sid: &str) -> (&str, u32) {
    let (kind, id) = sid.split_once(':').unwrap_or(("vm", sid));
    (kind, id.parse().unwrap_or(0))
}

/// The node an HA resource's guest is on.
fn sid_node(c: &Ctx, sid: &str) -> Option<String> {
    c.state
        .guests
        .get(&split_sid(sid).1)
        .map(|g| g.node.clone())
}

fn resources(c: &mut Ctx) -> Result<Reply, ApiError> {
    let want = c.str("type").map(str::to_string);
    let digest = digest(&resources_cfg(c));
    let rows: Vec<Value> = c
        .state
        .ha_resources
        .iter()
        .filter(|r| want.as_deref().is_none_or(|t| t == split_sid(&r.sid).0))
        .map(|r| {
            let mut row = json!({
                "sid": r.sid, "type": split_sid(&r.sid).0, "state": r.state, "digest": digest,
            });
            if let (Some(cm), Some(o)) = (&r.comment, row.as_object_mut()) {
                o.insert("comment".into(), json!(cm));
            }
            row
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn groups(c: &mut Ctx) -> Result<Reply, ApiError> {
    let rows: Vec<Value> = c
        .state
        .ha_groups
        .iter()
        .map(|g| {
            let mut row = json!({
                "group": g.group, "type": "group", "nodes": g.nodes,
                "restricted": u8::from(g.restricted), "nofailback": u8::from(g.nofailback),
            });
            if let (Some(cm), Some(o)) = (&g.comment, row.as_object_mut()) {
                o.insert("comment".into(), json!(cm));
            }
            row
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

/// Rules in file order; `strict` only when set (PVE fills in defaults that are true only).
fn rules(c: &mut Ctx) -> Result<Reply, ApiError> {
    let want = c.str("type").map(str::to_string);
    let resource = c.str("resource").map(str::to_string);
    let digest = digest(&rules_cfg(c));
    let rows: Vec<Value> = c
        .state
        .ha_rules
        .iter()
        .enumerate()
        .filter(|(_, r)| want.as_deref().is_none_or(|t| t == r.kind))
        .filter(|(_, r)| {
            resource
                .as_deref()
                .is_none_or(|s| r.resources.split(',').any(|x| x == s))
        })
        .map(|(i, r)| {
            let mut o = Map::new();
            o.insert("rule".into(), json!(r.rule));
            o.insert("type".into(), json!(r.kind));
            o.insert("resources".into(), json!(r.resources));
            if let Some(n) = &r.nodes {
                o.insert("nodes".into(), json!(n));
            }
            if let Some(a) = &r.affinity {
                o.insert("affinity".into(), json!(a));
            }
            if r.strict {
                o.insert("strict".into(), json!(1));
            }
            if let Some(cm) = &r.comment {
                o.insert("comment".into(), json!(cm));
            }
            o.insert("order".into(), json!(i + 1));
            o.insert("digest".into(), json!(digest));
            Value::Object(o)
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

/// Perl's `scalar localtime($t)` in UTC: `Thu Jan  1 00:00:00 2026`.
fn localtime(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_default()
}

/// The CRM's view of a resource: `started` for a running guest, else `stopped` (or the
/// requested `disabled`/`ignored`), and where it is.
fn service_state(c: &Ctx, sid: &str, requested: &str) -> (String, String) {
    let (_, vmid) = split_sid(sid);
    let node = sid_node(c, sid).unwrap_or_else(|| "---".into());
    let running = c.state.guests.get(&vmid).is_some_and(|g| g.is_running());
    let state = match requested {
        "disabled" | "ignored" => requested.to_string(),
        _ if running => "started".into(),
        _ => "stopped".into(),
    };
    (node, state)
}

fn master(c: &Ctx) -> String {
    c.state
        .nodes
        .iter()
        .find(|n| n.online)
        .map(|n| n.name.clone())
        .unwrap_or_default()
}

fn quorate(c: &Ctx) -> bool {
    let online = c.state.nodes.iter().filter(|n| n.online).count();
    online * 2 > c.state.nodes.len()
}

fn current(c: &mut Ctx) -> Result<Reply, ApiError> {
    let now = c.now();
    let local = c
        .state
        .nodes
        .first()
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let quorate = quorate(c);
    let mut rows = vec![json!({
        "id": "quorum", "type": "quorum", "node": local,
        "status": if quorate { "OK".to_string() } else { format!("No quorum on node '{local}'!") },
        "quorate": u8::from(quorate),
    })];
    let master = master(c);
    rows.push(json!({
        "id": "master", "type": "master", "node": master,
        "status": format!("{master} (active, {})", localtime(now)), "timestamp": now,
    }));
    let mut nodes: Vec<&crate::sim::state::Node> = c.state.nodes.iter().collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    for n in nodes {
        let active = c
            .state
            .ha_resources
            .iter()
            .any(|r| sid_node(c, &r.sid).as_deref() == Some(n.name.as_str()));
        let row = if n.online {
            let st = if n.maintenance {
                "maintenance mode"
            } else if active {
                "active"
            } else {
                "idle"
            };
            json!({
                "id": format!("lrm:{}", n.name), "type": "lrm", "node": n.name,
                "status": format!("{} ({st}, {})", n.name, localtime(now)), "timestamp": now,
            })
        } else {
            json!({
                "id": format!("lrm:{}", n.name), "type": "lrm", "node": n.name,
                "status": format!("{} (old timestamp - dead?, {})", n.name, localtime(now - 120)),
                "timestamp": now - 120,
            })
        };
        rows.push(row);
    }
    let mut services: Vec<&crate::sim::state::HaResource> = c.state.ha_resources.iter().collect();
    services.sort_by(|a, b| a.sid.cmp(&b.sid));
    for r in services {
        let (node, state) = service_state(c, &r.sid, &r.state);
        let mut row = json!({
            "id": format!("service:{}", r.sid), "type": "service", "sid": r.sid, "node": node,
            "crm_state": state, "state": state, "status": format!("{} ({node}, {state})", r.sid),
            "request_state": r.state,
        });
        if let (Some(cm), Some(o)) = (&r.comment, row.as_object_mut()) {
            o.insert("comment".into(), json!(cm));
        }
        rows.push(row);
    }
    Ok(Reply::data(Value::Array(rows)))
}

fn manager_status(c: &mut Ctx) -> Result<Reply, ApiError> {
    let now = c.now();
    let local = c
        .state
        .nodes
        .first()
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let mut node_status = Map::new();
    let mut lrm_status = Map::new();
    for n in &c.state.nodes {
        let status = match (n.online, n.maintenance) {
            (false, _) => "unknown",
            (true, true) => "maintenance",
            (true, false) => "online",
        };
        node_status.insert(n.name.clone(), json!(status));
        let active = c
            .state
            .ha_resources
            .iter()
            .any(|r| sid_node(c, &r.sid).as_deref() == Some(n.name.as_str()));
        lrm_status.insert(
            n.name.clone(),
            json!({
                "mode": if n.maintenance { "maintenance" } else { "active" }, "results": {},
                "state": if active { "active" } else { "wait_for_agent_lock" },
                "timestamp": if n.online { now } else { now - 120 },
            }),
        );
    }
    let mut service_status = Map::new();
    for r in &c.state.ha_resources {
        let (node, state) = service_state(c, &r.sid, &r.state);
        let running = state == "started";
        service_status.insert(
            r.sid.clone(),
            json!({ "node": node, "state": state, "running": u8::from(running), "uid": digest(&r.sid)[..22].to_string() }),
        );
    }
    Ok(Reply::data(json!({
        "manager_status": {
            "master_node": master(c), "node_status": node_status,
            "service_status": service_status, "timestamp": now,
        },
        "quorum": { "node": local, "quorate": if quorate(c) { "1" } else { "0" } },
        "lrm_status": lrm_status,
    })))
}
