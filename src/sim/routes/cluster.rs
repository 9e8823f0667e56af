//! `/cluster` and `/pools` routes: the resource list (FACTS §5), cluster status, next free VMID
//! (FACTS §6), the cluster task list, and pools.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{ApiError, Ctx, Perm, Reply, Route, index, route};
use crate::sim::state::{NodeMemTally, Pool};

pub fn routes() -> Vec<Route> {
    vec![
        route("GET", "/cluster", "index", "array", Perm::All, &[], |c| Ok(index(c, "name"))).desc("Cluster index."),
        route("GET", "/cluster/resources", "resources", "array", Perm::All, &["type?:string enum=vm|storage|node|sdn"], resources).desc("Resources index (cluster wide)."),
        route("GET", "/cluster/status", "get_status", "array", Perm::Privs { path: "/", privs: &["Sys.Audit"], any: false }, &[], status).protected().desc("Get cluster status information."),
        route("GET", "/cluster/nextid", "nextid", "integer", Perm::All, &["vmid?:integer fmt=pve-vmid min=100 max=999999999"], nextid).desc("Get next free VMID. Pass a VMID to assert that its free (at time of check)."),
        route("GET", "/cluster/tasks", "tasks", "array", Perm::All, &[], cluster_tasks).desc("List recent tasks (cluster wide)."),
        route("GET", "/pools", "index", "array", Perm::All, &["poolid?:string fmt=pve-poolid", "type?:string enum=qemu|lxc|storage"], pools).desc("List pools or get pool configuration."),
        route("POST", "/pools", "create_pool", "null", Perm::Privs { path: "/pool/{poolid}", privs: &["Pool.Allocate"], any: false }, &["poolid:string fmt=pve-poolid", "comment?:string"], create_pool).protected().desc("Create new pool."),
        route("PUT", "/pools", "update_pool", "null", Perm::Privs { path: "/pool/{poolid}", privs: &["Pool.Allocate"], any: false }, &[
            "poolid:string fmt=pve-poolid", "comment?:string", "vms?:string fmt=pve-vmid-list",
            "storage?:string fmt=pve-storage-id-list", "delete?:boolean", "allow-move?:boolean",
        ], update_pool).protected().desc("Update pool."),
        route("DELETE", "/pools", "delete_pool", "null", Perm::Privs { path: "/pool/{poolid}", privs: &["Pool.Allocate"], any: false }, &["poolid:string fmt=pve-poolid"], delete_pool).protected().desc("Delete pool."),
        route("GET", "/pools/{poolid}", "read_pool", "object", Perm::Privs { path: "/pool/{poolid}", privs: &["Pool.Audit"], any: false }, &["poolid:string fmt=pve-poolid", "type?:string enum=qemu|lxc|storage"], read_pool).desc("Get pool configuration (deprecated, no support for nested pools, use 'GET /pools/?poolid={poolid}')."),
    ]
}

fn resources(c: &mut Ctx) -> Result<Reply, ApiError> {
    let filter = c.str("type").map(str::to_string);
    let want = |t: &str| filter.as_deref().is_none_or(|f| f == t);
    let now = c.now();
    let s = &*c.state;
    // Guests are written straight to JSON text (no tree of values): with 10 000 guests this
    // answer is megabytes, and it is the one every client asks for first.
    // A row is about 300 bytes: sized so that the buffer never grows (and copies) on the way.
    let mut out = Reply::raw_buffer(320 * (s.guests.len() + 16));
    out.push(b'[');
    let mut first = true;
    let mut push = |out: &mut Vec<u8>, row: &dyn erased::Row| {
        if !first {
            out.push(b',');
        }
        first = false;
        row.write(out);
    };
    let mut node_mem = NodeMemTally::new(s);
    let counted = want("vm");
    if counted {
        // root@pam sees everything: no path to build for each of 10 000 guests.
        let everything = c.perm_id == "root@pam";
        let mut path = String::new();
        for g in s.guests.values() {
            let visible = everything || {
                path.clear();
                let _ = write!(path, "/vms/{}", g.vmid);
                c.can(&path, &["VM.Audit"])
            };
            if visible {
                push(&mut out, &s.guest_row(g, now));
            }
            // Every guest counts towards its node's memory, visible or not. Counted here,
            // while its node name is still in cache, rather than in a second pass.
            node_mem.add(g);
        }
    }
    if want("node") {
        let mem = if counted {
            node_mem.finish()
        } else {
            s.nodes_mem()
        };
        for n in &s.nodes {
            if c.can(&format!("/nodes/{}", n.name), &["Sys.Audit"]) {
                let used = mem.get(n.name.as_str()).copied().unwrap_or(0);
                push(&mut out, &s.node_resource_with(n, used));
            }
        }
    }
    if want("storage") {
        let used = s.storages_used();
        for n in &s.nodes {
            for st in &s.storages {
                if s.storage_on(&st.id, &n.name)
                    && c.can(
                        &format!("/storage/{}", st.id),
                        &["Datastore.Audit", "Datastore.AllocateSpace"],
                    )
                {
                    let bytes = used
                        .get(&(st.id.as_str(), n.name.as_str()))
                        .copied()
                        .unwrap_or(st.base_used);
                    push(&mut out, &s.storage_resource_with(st, &n.name, bytes));
                }
            }
        }
    }
    if filter.is_none() {
        for p in s.pools.keys() {
            if c.can(&format!("/pool/{p}"), &["Pool.Audit"]) {
                push(
                    &mut out,
                    &json!({ "id": format!("/pool/{p}"), "type": "pool", "pool": p }),
                );
            }
        }
    }
    out.push(b']');
    Ok(Reply::raw_json(out))
}

/// Rows of different shapes written into one JSON array.
mod erased {
    pub trait Row {
        fn write(&self, out: &mut Vec<u8>);
    }

    impl<T: serde::Serialize> Row for T {
        fn write(&self, out: &mut Vec<u8>) {
            // Serializing plain structs and JSON values into memory cannot fail.
            let _ = serde_json::to_writer(&mut *out, self);
        }
    }
}

fn status(c: &mut Ctx) -> Result<Reply, ApiError> {
    let s = &c.state;
    let online = s.nodes.iter().filter(|n| n.online).count();
    let mut rows = vec![json!({
        "type": "cluster", "id": "cluster", "name": s.cluster_name, "version": 3,
        "nodes": s.nodes.len(), "quorate": u8::from(online * 2 > s.nodes.len()),
    })];
    for (i, n) in s.nodes.iter().enumerate() {
        rows.push(json!({
            "type": "node", "id": format!("node/{}", n.name), "name": n.name, "nodeid": i + 1,
            "ip": format!("10.0.0.{}", i + 11), "online": u8::from(n.online), "local": u8::from(i == 0), "level": "",
        }));
    }
    Ok(Reply::data(Value::Array(rows)))
}

fn nextid(c: &mut Ctx) -> Result<Reply, ApiError> {
    if let Some(v) = c.int("vmid") {
        let id = u32::try_from(v).unwrap_or(0);
        if c.state.guests.contains_key(&id) {
            return Err(ApiError::param("vmid", format!("VM {v} already exists")));
        }
        return Ok(Reply::data(json!(v.to_string())));
    }
    let free = (100u32..=999_999)
        .find(|id| !c.state.guests.contains_key(id))
        .ok_or_else(|| ApiError::fail("unable to get any free VMID in range [100, 999999]"))?;
    Ok(Reply::data(json!(free.to_string())))
}

fn cluster_tasks(c: &mut Ctx) -> Result<Reply, ApiError> {
    let mut rows: Vec<&crate::sim::state::Task> = c.state.tasks.iter().collect();
    rows.sort_by(|a, b| b.starttime.cmp(&a.starttime).then(b.pid.cmp(&a.pid)));
    let visible = |t: &&crate::sim::state::Task| {
        c.user == t.user.split('!').next().unwrap_or("") || c.can("/", &["Sys.Audit"])
    };
    let data: Vec<Value> = rows
        .into_iter()
        .filter(visible)
        .map(|t| {
            let mut v = c.state.task_entry(t);
            if let Some(o) = v.as_object_mut() {
                o.insert("saved".into(), json!("1"));
            }
            v
        })
        .collect();
    Ok(Reply::data(Value::Array(data)))
}

fn pool_json(c: &Ctx, p: &Pool, kind: Option<&str>) -> Value {
    let now = c.now();
    let mut members: Vec<Value> = p
        .vms
        .iter()
        .filter_map(|id| c.state.guests.get(id))
        .filter(|g| kind.is_none_or(|k| k == g.kind.as_str()))
        .map(|g| c.state.guest_resource(g, now))
        .collect();
    if kind.is_none_or(|k| k == "storage") {
        for sid in &p.storages {
            if let (Some(st), Some(n)) = (c.state.storage(sid), c.state.nodes.first()) {
                members.push(c.state.storage_resource(st, &n.name));
            }
        }
    }
    json!({ "poolid": p.poolid, "comment": p.comment, "members": members })
}

fn pools(c: &mut Ctx) -> Result<Reply, ApiError> {
    let only = c.str("poolid").map(str::to_string);
    let kind = c.str("type").map(str::to_string);
    let rows: Vec<Value> = c
        .state
        .pools
        .values()
        .filter(|p| only.as_deref().is_none_or(|o| o == p.poolid))
        .filter(|p| c.can(&format!("/pool/{}", p.poolid), &["Pool.Audit"]))
        .map(|p| {
            if only.is_some() {
                pool_json(c, p, kind.as_deref())
            } else {
                json!({ "poolid": p.poolid, "comment": p.comment })
            }
        })
        .collect();
    if let Some(o) = &only
        && rows.is_empty()
    {
        return Err(ApiError::fail(format!("pool '{o}' does not exist")));
    }
    Ok(Reply::data(Value::Array(rows)))
}

fn read_pool(c: &mut Ctx) -> Result<Reply, ApiError> {
    let id = c.req("poolid")?.to_string();
    let p = c
        .state
        .pools
        .get(&id)
        .ok_or_else(|| ApiError::fail(format!("pool '{id}' does not exist")))?;
    let v = pool_json(c, p, c.str("type"));
    Ok(Reply::data(v))
}

fn create_pool(c: &mut Ctx) -> Result<Reply, ApiError> {
    let id = c.req("poolid")?.to_string();
    if c.state.pools.contains_key(&id) {
        return Err(ApiError::fail(format!(
            "create pool failed: pool '{id}' already exists"
        )));
    }
    let comment = c.str("comment").unwrap_or("").to_string();
    c.state.pools.insert(
        id.clone(),
        Pool {
            poolid: id,
            comment,
            vms: Vec::new(),
            storages: Vec::new(),
        },
    );
    Ok(Reply::null())
}

/// PVE refuses to delete a pool that still holds guests (destroyed ones are ignored) or
/// storages, naming the first member (PVE/API2/Pool.pm).
fn delete_pool(c: &mut Ctx) -> Result<Reply, ApiError> {
    let id = c.req("poolid")?.to_string();
    let failed = |why: String| ApiError::fail(format!("delete pool failed: {why}"));
    let Some(pool) = c.state.pools.get(&id) else {
        return Err(failed(format!("pool '{id}' does not exist")));
    };
    let mut vms = pool.vms.clone();
    vms.sort_unstable();
    if let Some(vmid) = vms.iter().find(|v| c.state.guests.contains_key(v)) {
        return Err(failed(format!(
            "pool '{id}' is not empty (contains VM {vmid})"
        )));
    }
    let mut storages = pool.storages.clone();
    storages.sort();
    if let Some(s) = storages.first() {
        return Err(failed(format!(
            "pool '{id}' is not empty (contains storage '{s}')"
        )));
    }
    c.state.pools.remove(&id);
    Ok(Reply::null())
}

fn update_pool(c: &mut Ctx) -> Result<Reply, ApiError> {
    let id = c.req("poolid")?.to_string();
    if !c.state.pools.contains_key(&id) {
        return Err(ApiError::fail(format!("pool '{id}' does not exist")));
    }
    let delete = c.flag("delete");
    let allow_move = c.flag("allow-move");
    let vms: Vec<u32> = c
        .str("vms")
        .unwrap_or("")
        .split([',', ';', ' '])
        .filter_map(|v| v.parse().ok())
        .collect();
    let storages: Vec<String> = c
        .str("storage")
        .unwrap_or("")
        .split([',', ';', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    for vmid in &vms {
        let g = c
            .state
            .guests
            .get(vmid)
            .ok_or_else(|| ApiError::fail(format!("no such VMID '{vmid}'")))?;
        if !delete
            && let Some(other) = &g.pool
            && *other != id
            && !allow_move
        {
            return Err(ApiError::fail(format!(
                "VM {vmid} belongs already to pool '{other}' and 'allow-move' is not set"
            )));
        }
    }
    let comment = c.str("comment").map(str::to_string);
    for vmid in &vms {
        if let Some(old) = c.state.guests.get(vmid).and_then(|g| g.pool.clone())
            && let Some(p) = c.state.pools.get_mut(&old)
        {
            p.vms.retain(|v| v != vmid);
        }
        if let Some(g) = c.state.guests.get_mut(vmid) {
            g.pool = if delete { None } else { Some(id.clone()) };
        }
    }
    if let Some(p) = c.state.pools.get_mut(&id) {
        if let Some(cm) = comment {
            p.comment = cm;
        }
        if !delete {
            p.vms.extend(vms.iter().copied());
            p.storages.extend(storages.iter().cloned());
        } else {
            p.storages.retain(|s| !storages.contains(s));
        }
        p.storages.dedup();
    }
    Ok(Reply::null())
}
