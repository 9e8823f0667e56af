//! The simulator's route table: every served endpoint as data (path template, method, PVE handler
//! name, parameter specs, permission, `allowtoken`, `protected`, return type) plus its handler.
//!
//! Parameter specs use the mini-language of `sim::params`, written by hand from
//! `pve-api-lookup` output. The conformance test checks this table against the official
//! schema. Handlers are plain synchronous functions on a [`Ctx`]; they never see HTTP.

mod access;
mod backup;
mod cluster;
mod console;
mod guest;
mod ha;
mod lxc;
mod lxc_create;
mod nodes;
mod qemu;
mod qemu_ops;
mod rrd;
mod snapshot;
mod storage_ops;

use std::sync::OnceLock;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::crypto::Keys;
use super::params::{ParamSpec, Params, parse_spec};
use super::state::State;
use super::tasks::{Effect, TaskSpec};

/// Who may call a route (the schema's `permissions`).
#[derive(Debug, Clone, Copy)]
pub enum Perm {
    /// No authentication (`user: world`).
    World,
    /// Any authenticated user (`user: all`); the handler filters.
    All,
    /// `["perm", path, [privs], "any", 1?]`.
    Privs {
        path: &'static str,
        privs: &'static [&'static str],
        any: bool,
    },
    /// A check the handler does itself; the text is the schema's check for apidoc.
    Custom(&'static str),
}

pub type Handler = fn(&mut Ctx) -> Result<Reply, ApiError>;

/// One endpoint.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub params: &'static [&'static str],
    pub perm: Perm,
    pub allowtoken: bool,
    pub protected: bool,
    /// The JSON type of `data`: `array`, `object`, `string`, `integer`, `null`.
    pub returns: &'static str,
    pub handler: Handler,
}

/// Builds a route; `allowtoken` on, `protected` off, no description.
#[allow(clippy::too_many_arguments)]
pub fn route(
    method: &'static str,
    path: &'static str,
    name: &'static str,
    returns: &'static str,
    perm: Perm,
    params: &'static [&'static str],
    handler: Handler,
) -> Route {
    Route {
        method,
        path,
        name,
        description: "",
        params,
        perm,
        allowtoken: true,
        protected: false,
        returns,
        handler,
    }
}

impl Route {
    pub fn protected(mut self) -> Self {
        self.protected = true;
        self
    }
    pub fn no_token(mut self) -> Self {
        self.allowtoken = false;
        self
    }
    pub fn desc(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }
}

/// Common parameter specs.
pub const NODE: &str = "node:string fmt=pve-node";
pub const VMID: &str = "vmid:integer fmt=pve-vmid min=100 max=999999999";
pub const SNAPNAME: &str = "snapname:string fmt=pve-configid maxlen=40";
pub const USERID: &str = "userid:string fmt=pve-userid maxlen=64";
pub const TOKENID: &str = "tokenid:string pattern=[A-Za-z][A-Za-z0-9\\.\\-_]+";

/// A route with its parsed parameters and path segments.
pub struct Compiled {
    pub route: Route,
    pub specs: Vec<ParamSpec>,
    pub segs: Vec<Seg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Lit(&'static str),
    Var(&'static str),
}

fn all_routes() -> Vec<Route> {
    let mut v = Vec::new();
    v.extend(access::routes());
    v.extend(cluster::routes());
    v.extend(ha::routes());
    v.extend(backup::routes());
    v.extend(nodes::routes());
    v.extend(qemu::routes());
    v.extend(qemu_ops::routes());
    v.extend(snapshot::routes());
    v.extend(lxc::routes());
    v.extend(lxc_create::routes());
    v.extend(storage_ops::routes());
    v.extend(rrd::routes());
    v.extend(console::routes());
    v
}

/// The compiled table, parsed once. `Err` names the spec that did not parse.
pub fn table() -> Result<&'static [Compiled], String> {
    static TABLE: OnceLock<Result<Vec<Compiled>, String>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            all_routes()
                .into_iter()
                .map(|route| {
                    let specs = route
                        .params
                        .iter()
                        .map(|s| {
                            parse_spec(s)
                                .map_err(|e| format!("{} {}: {e}", route.method, route.path))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let segs = route
                        .path
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(
                            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                                Some(var) => Seg::Var(var),
                                None => Seg::Lit(s),
                            },
                        )
                        .collect();
                    Ok(Compiled { route, specs, segs })
                })
                .collect()
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// Path variables of a matched route, in path order.
pub type PathVars = Vec<(&'static str, String)>;

/// The outcome of matching a path: routes whose template fits (any method), with the path
/// variables. Literal segments win over variables, as in PVE's router.
pub fn lookup<'t>(table: &'t [Compiled], segments: &[String]) -> Vec<(&'t Compiled, PathVars)> {
    let mut best: Vec<(&Compiled, PathVars, usize)> = Vec::new();
    for c in table {
        if c.segs.len() != segments.len() {
            continue;
        }
        let mut vars = Vec::new();
        let mut lits = 0;
        let ok = c.segs.iter().zip(segments).all(|(s, v)| match s {
            Seg::Lit(l) => {
                lits += 1;
                l == v
            }
            Seg::Var(n) => {
                vars.push((*n, v.clone()));
                !v.is_empty()
            }
        });
        if ok {
            best.push((c, vars, lits));
        }
    }
    let max = best.iter().map(|b| b.2).max().unwrap_or(0);
    best.into_iter()
        .filter(|b| b.2 == max)
        .map(|(c, v, _)| (c, v))
        .collect()
}

/// The child segments of a template, for directory indexes.
pub fn children_of(template: &str) -> Vec<&'static str> {
    let Ok(table) = table() else {
        return Vec::new();
    };
    let depth = template.split('/').filter(|s| !s.is_empty()).count();
    let mut out: Vec<&'static str> = Vec::new();
    for c in table {
        if c.segs.len() == depth + 1
            && c.route.path.starts_with(template)
            && c.route.path[template.len()..].starts_with('/')
            && let Some(Seg::Lit(l)) = c.segs.last()
            && !out.contains(l)
        {
            out.push(l);
        }
    }
    out
}

/// What a handler returns on success.
#[derive(Debug)]
pub struct Reply {
    pub data: Value,
    pub total: Option<usize>,
    /// The body already serialized up to and including `data` (for large answers such as
    /// `/cluster/resources`): it starts with [`RAW_PREFIX`], and the server closes it in place.
    /// When set it is sent instead of `data`.
    pub raw: Option<Vec<u8>>,
}

impl Reply {
    pub fn data(data: Value) -> Self {
        Reply {
            data,
            total: None,
            raw: None,
        }
    }
    pub fn null() -> Self {
        Reply::data(Value::Null)
    }
    /// A page of a longer list: PVE adds `total` next to `data`.
    pub fn page(data: Value, total: usize) -> Self {
        Reply {
            data,
            total: Some(total),
            raw: None,
        }
    }
    /// A buffer for [`Reply::raw_json`] of about `capacity` bytes, [`RAW_PREFIX`] written.
    pub fn raw_buffer(capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity + RAW_PREFIX.len() + 32);
        out.extend_from_slice(RAW_PREFIX);
        out
    }
    /// `data` given as JSON, written after [`RAW_PREFIX`] in a [`Reply::raw_buffer`] (so
    /// the megabytes of a big answer are never copied again).
    pub fn raw_json(body: Vec<u8>) -> Self {
        debug_assert!(body.starts_with(RAW_PREFIX));
        Reply {
            data: Value::Null,
            total: None,
            raw: Some(body),
        }
    }
}

/// How a [`Reply::raw_json`] body starts.
pub const RAW_PREFIX: &[u8] = b"{\"data\":";

/// A PVE error: status, message (the reason phrase) and the optional `errors` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub errors: Option<IndexMap<String, String>>,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: None,
        }
    }
    /// A plain `die` in a PVE handler: HTTP 500 with the text.
    pub fn fail(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }
    /// `raise_param_exc`: 400 "Parameter verification failed." with one error.
    pub fn param(key: &str, msg: impl Into<String>) -> Self {
        Self::params([(key.to_string(), msg.into())].into_iter().collect())
    }
    pub fn params(errors: IndexMap<String, String>) -> Self {
        ApiError {
            status: 400,
            message: "Parameter verification failed.".into(),
            errors: Some(errors),
        }
    }
    pub fn perm(detail: Option<String>) -> Self {
        match detail {
            Some(d) => Self::new(403, format!("Permission check failed ({d})")),
            None => Self::new(403, "Permission check failed"),
        }
    }
}

/// Everything a handler may use.
pub struct Ctx<'a> {
    pub state: &'a mut State,
    pub params: Params,
    /// The authenticated user (for a token: its user); empty for `world` routes.
    pub user: String,
    /// The user or `user@realm!token`, as it appears in UPIDs.
    pub auth_id: String,
    /// Whose privileges count (the token id for privilege-separated tokens).
    pub perm_id: String,
    pub now: f64,
    pub keys: &'a Keys,
    pub ticket_lifetime: i64,
    /// The template of the matched route.
    pub template: &'static str,
}

impl Ctx<'_> {
    pub fn now(&self) -> i64 {
        self.now.floor() as i64
    }
    pub fn str(&self, k: &str) -> Option<&str> {
        self.params.get(k).map(String::as_str)
    }
    pub fn req(&self, k: &str) -> Result<&str, ApiError> {
        self.str(k)
            .ok_or_else(|| ApiError::param(k, "property is missing and it is not optional"))
    }
    pub fn int(&self, k: &str) -> Option<i64> {
        self.str(k).and_then(|v| v.parse().ok())
    }
    pub fn flag(&self, k: &str) -> bool {
        self.str(k) == Some("1")
    }
    pub fn node(&self) -> &str {
        self.str("node").unwrap_or("")
    }
    pub fn vmid(&self) -> u32 {
        self.int("vmid")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    }
    /// PVE proxies `/nodes/{node}/...` to the node; an unknown node fails the lookup.
    pub fn check_node(&self) -> Result<(), ApiError> {
        let node = self.node();
        if self.state.node(node).is_some() {
            Ok(())
        } else {
            Err(ApiError::fail(format!(
                "hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
            )))
        }
    }

    pub fn is_root(&self) -> bool {
        self.user == "root@pam"
    }

    /// Checks `privs` on `path` for the caller; 403 with PVE's detail otherwise.
    pub fn check(&self, path: &str, privs: &[&str], any: bool) -> Result<(), ApiError> {
        if super::perms::has(
            &self.state.acl,
            &self.state.roles,
            &self.perm_id,
            path,
            privs,
            any,
        ) {
            Ok(())
        } else {
            Err(ApiError::perm(Some(format!(
                "{path}, {}",
                privs.join(if any { "|" } else { ", " })
            ))))
        }
    }

    pub fn can(&self, path: &str, privs: &[&str]) -> bool {
        super::perms::has(
            &self.state.acl,
            &self.state.roles,
            &self.perm_id,
            path,
            privs,
            true,
        )
    }

    /// Starts a task on the request's node and returns its UPID as the reply.
    pub fn spawn(
        &mut self,
        kind: &'static str,
        id: String,
        lines: Vec<String>,
        outcome: Result<(), String>,
        effect: Effect,
        lock: Option<(u32, &'static str)>,
    ) -> Reply {
        let spec = TaskSpec {
            node: self.node().to_string(),
            kind,
            id,
            user: self.auth_id.clone(),
            lines,
            outcome,
            effect,
            lock,
        };
        let upid = self.state.spawn_task(spec, self.now);
        Reply::data(json!(upid))
    }
}

/// Answers a directory index: one object per child, keyed by `key` (`name`, `subdir`, `cmd`).
pub fn index(ctx: &Ctx, key: &str) -> Reply {
    let rows: Vec<Value> = children_of(ctx.template)
        .into_iter()
        .map(|c| json!({ key: c }))
        .collect();
    Reply::data(Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_compiles_and_is_unique() {
        let t = table().unwrap();
        let mut seen = std::collections::HashSet::new();
        for c in t {
            assert!(
                seen.insert((c.route.method, c.route.path)),
                "duplicate {} {}",
                c.route.method,
                c.route.path
            );
            for var in c
                .segs
                .iter()
                .filter_map(|s| if let Seg::Var(v) = s { Some(*v) } else { None })
            {
                assert!(
                    c.specs.iter().any(|s| s.name == var),
                    "{} {} lacks a spec for {{{var}}}",
                    c.route.method,
                    c.route.path
                );
            }
        }
    }

    #[test]
    fn literal_segments_win() {
        let t = table().unwrap();
        let segs: Vec<String> = ["nodes", "pve1", "qemu", "101", "status", "current"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = lookup(t, &segs);
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].0.route.path,
            "/nodes/{node}/qemu/{vmid}/status/current"
        );
        assert_eq!(
            m[0].1,
            vec![("node", "pve1".to_string()), ("vmid", "101".to_string())]
        );
        assert!(children_of("/nodes/{node}/qemu/{vmid}/status").contains(&"start"));
    }
}
