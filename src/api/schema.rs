//! The API schema a PVE server describes itself with: the `apiSchema` array of the API viewer's
//! `apidoc.js` (`/pve-docs/api-viewer/apidoc.js`), parsed into a tree of path nodes with their
//! methods, parameters and return types.
//!
//! Pure parsing and lookup: no IO, no async. Fetching and caching the file belong to the caller
//! (`commands::usage`); completion and `usage PATH` read the parsed [`ApiSchema`]. A concrete
//! path (`/nodes/pve1/qemu/101`) is matched against templated segments (`{node}`, `{vmid}`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::Value as Json;

/// What went wrong reading a schema file; the message names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError(pub String);

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SchemaError {}

/// One parameter of a method.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    /// `string`, `integer`, `boolean`, `number`, `array`, `object`.
    pub ptype: String,
    pub optional: bool,
    /// The format name (`pve-node`, `pve-vmid`) or, for property strings, their keys.
    pub format: Option<String>,
    pub enumeration: Vec<String>,
    pub default: Option<String>,
    pub description: String,
}

impl Param {
    /// The type as one word for a table: `integer(pve-vmid)`, `enum(qemu|lxc)`.
    pub fn type_label(&self) -> String {
        if !self.enumeration.is_empty() {
            return format!("enum({})", self.enumeration.join("|"));
        }
        match &self.format {
            Some(f) => format!("{}({f})", self.ptype),
            None => self.ptype.clone(),
        }
    }

    /// The first line of the description.
    pub fn summary(&self) -> &str {
        self.description.lines().next().unwrap_or("").trim()
    }
}

/// One method of a path: `GET /nodes/{node}/qemu`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodInfo {
    pub method: String,
    /// PVE's internal name (`vmlist`).
    pub name: String,
    pub description: String,
    /// Parameters sorted by required first, then by name.
    pub params: Vec<Param>,
    /// The return type: `array`, `object`, `string`, `null`.
    pub returns: String,
    /// For arrays of objects or objects: the property names of what is returned.
    pub returns_fields: Vec<String>,
    pub protected: bool,
}

/// One path of the API tree.
#[derive(Debug, Clone, PartialEq)]
pub struct PathNode {
    /// The full templated path: `/nodes/{node}/qemu`.
    pub path: String,
    /// The last segment: `qemu`, `{vmid}`.
    pub text: String,
    pub methods: BTreeMap<String, MethodInfo>,
    pub children: Vec<PathNode>,
}

impl PathNode {
    /// Whether the segment is a template (`{node}`) rather than a fixed word.
    pub fn is_template(&self) -> bool {
        self.text.starts_with('{') && self.text.ends_with('}')
    }

    /// The template's name without braces: `node` for `{node}`.
    pub fn template_name(&self) -> Option<&str> {
        self.text.strip_prefix('{')?.strip_suffix('}')
    }
}

/// The whole schema: the root's children (`/access`, `/cluster`, `/nodes`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApiSchema {
    pub roots: Vec<PathNode>,
}

impl ApiSchema {
    /// Parses an `apidoc.js` file (`const apiSchema = [...];` followed perhaps by more script),
    /// or a bare JSON array as stored in the cache.
    pub fn from_apidoc_js(text: &str) -> Result<ApiSchema, SchemaError> {
        let array = schema_json(text)?;
        ApiSchema::from_json(&array)
    }

    /// Parses the `apiSchema` array itself.
    pub fn from_json(array: &Json) -> Result<ApiSchema, SchemaError> {
        let items = array
            .as_array()
            .ok_or_else(|| SchemaError("the API schema is not an array of path nodes".into()))?;
        let roots = items
            .iter()
            .map(parse_node)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ApiSchema { roots })
    }

    /// The node of a path: fixed segments match by name, anything else fills a template
    /// (`/nodes/pve1/qemu/101` → `/nodes/{node}/qemu/{vmid}`). `/` has no node.
    pub fn find(&self, path: &str) -> Option<&PathNode> {
        let mut level: &[PathNode] = &self.roots;
        let mut found: Option<&PathNode> = None;
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            let node = level
                .iter()
                .find(|n| n.text == seg)
                .or_else(|| level.iter().find(|n| n.is_template()))?;
            found = Some(node);
            level = &node.children;
        }
        found
    }

    /// The children of a path (`/` lists the roots), or `None` when the path is unknown.
    pub fn children(&self, path: &str) -> Option<&[PathNode]> {
        if path.split('/').all(str::is_empty) {
            return Some(&self.roots);
        }
        self.find(path).map(|n| n.children.as_slice())
    }

    /// How many paths the schema has, for messages.
    pub fn path_count(&self) -> usize {
        fn count(nodes: &[PathNode]) -> usize {
            nodes.iter().map(|n| 1 + count(&n.children)).sum()
        }
        count(&self.roots)
    }
}

/// Cuts the JSON array out of `apidoc.js`: after `apiSchema =`, the first JSON value; trailing
/// script is ignored. A text that starts with `[` is taken as the array itself.
pub fn schema_json(text: &str) -> Result<Json, SchemaError> {
    let trimmed = text.trim_start();
    let body = if trimmed.starts_with('[') {
        trimmed
    } else {
        let at = text.find("apiSchema").ok_or_else(|| {
            SchemaError("the file has no `apiSchema` (is it the API viewer's apidoc.js?)".into())
        })?;
        let rest = &text[at + "apiSchema".len()..];
        let eq = rest
            .find('=')
            .ok_or_else(|| SchemaError("`apiSchema` is not assigned".into()))?;
        rest[eq + 1..].trim_start()
    };
    let mut stream = serde_json::Deserializer::from_str(body).into_iter::<Json>();
    match stream.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(SchemaError(format!(
            "the API schema is not valid JSON: {e}"
        ))),
        None => Err(SchemaError("the API schema is empty".into())),
    }
}

fn parse_node(v: &Json) -> Result<PathNode, SchemaError> {
    let path = v
        .get("path")
        .and_then(Json::as_str)
        .ok_or_else(|| SchemaError("a path node has no `path`".into()))?
        .to_string();
    let text = v
        .get("text")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| path.rsplit('/').next().unwrap_or("").to_string());
    let mut methods = BTreeMap::new();
    if let Some(info) = v.get("info").and_then(Json::as_object) {
        for (method, m) in info {
            methods.insert(method.clone(), parse_method(method, m));
        }
    }
    let children = match v.get("children").and_then(Json::as_array) {
        Some(items) => items.iter().map(parse_node).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(PathNode {
        path,
        text,
        methods,
        children,
    })
}

fn parse_method(method: &str, m: &Json) -> MethodInfo {
    let text = |k: &str| m.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let mut params: Vec<Param> = m
        .pointer("/parameters/properties")
        .and_then(Json::as_object)
        .map(|props| props.iter().map(|(k, p)| parse_param(k, p)).collect())
        .unwrap_or_default();
    params.sort_by(|a, b| a.optional.cmp(&b.optional).then(a.name.cmp(&b.name)));
    let returns = m.get("returns");
    let returns_type = returns
        .and_then(|r| r.get("type"))
        .and_then(Json::as_str)
        .unwrap_or("null")
        .to_string();
    let fields_obj = returns
        .and_then(|r| r.pointer("/items/properties"))
        .or_else(|| returns.and_then(|r| r.get("properties")));
    let returns_fields = fields_obj
        .and_then(Json::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    MethodInfo {
        method: method.to_string(),
        name: text("name"),
        description: text("description"),
        params,
        returns: returns_type,
        returns_fields,
        protected: flag(m.get("protected")),
    }
}

fn parse_param(name: &str, p: &Json) -> Param {
    let format = match p.get("format") {
        Some(Json::String(s)) => Some(s.clone()),
        Some(Json::Object(keys)) => Some(keys.keys().cloned().collect::<Vec<_>>().join(",")),
        _ => None,
    };
    let enumeration = p
        .get("enum")
        .and_then(Json::as_array)
        .map(|items| items.iter().map(scalar_text).collect())
        .unwrap_or_default();
    Param {
        name: name.to_string(),
        ptype: p
            .get("type")
            .and_then(Json::as_str)
            .unwrap_or("string")
            .to_string(),
        optional: flag(p.get("optional")),
        format,
        enumeration,
        default: p.get("default").map(scalar_text),
        description: p
            .get("description")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string(),
    }
}

fn scalar_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// PVE's flags: `1`, `"1"`, `true`.
fn flag(v: Option<&Json>) -> bool {
    match v {
        Some(Json::Bool(b)) => *b,
        Some(Json::Number(n)) => n.as_i64().unwrap_or(0) != 0,
        Some(Json::String(s)) => s == "1",
        _ => false,
    }
}

/// The schema shared between the session (which loads it in the background) and the line
/// editor (which completes from it without waiting).
#[derive(Debug, Clone, Default)]
pub struct SharedSchema {
    slot: Arc<RwLock<Option<Arc<ApiSchema>>>>,
    /// Set when the server answered that it does not serve the schema.
    unavailable: Arc<AtomicBool>,
}

impl SharedSchema {
    /// The schema, once loaded.
    pub fn get(&self) -> Option<Arc<ApiSchema>> {
        match self.slot.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set(&self, schema: Arc<ApiSchema>) {
        match self.slot.write() {
            Ok(mut guard) => *guard = Some(schema),
            Err(poisoned) => *poisoned.into_inner() = Some(schema),
        }
    }

    /// Records that the server does not serve the schema, so nobody asks again this session.
    pub fn mark_unavailable(&self) {
        self.unavailable.store(true, Ordering::Relaxed);
    }

    pub fn is_unavailable(&self) -> bool {
        self.unavailable.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APIDOC: &str = r#"const apiSchema = [
 {"path":"/nodes","text":"nodes","leaf":0,"info":{"GET":{"name":"index","method":"GET",
   "description":"Cluster node index.","parameters":{"additionalProperties":0},
   "returns":{"type":"array","items":{"type":"object","properties":{"node":{"type":"string"}}}}}},
  "children":[{"path":"/nodes/{node}","text":"{node}","leaf":0,"info":{},
   "children":[{"path":"/nodes/{node}/qemu","text":"qemu","leaf":0,"info":{},
    "children":[{"path":"/nodes/{node}/qemu/{vmid}","text":"{vmid}","leaf":0,"info":{},
     "children":[{"path":"/nodes/{node}/qemu/{vmid}/status","text":"status","leaf":0,"info":{},
      "children":[{"path":"/nodes/{node}/qemu/{vmid}/status/start","text":"start","leaf":1,
       "info":{"POST":{"name":"vm_start","method":"POST","protected":1,
        "description":"Start virtual machine.\nMore text.",
        "parameters":{"properties":{
          "node":{"type":"string","format":"pve-node","description":"The cluster node name."},
          "vmid":{"type":"integer","format":"pve-vmid","description":"The (unique) ID of the VM."},
          "skiplock":{"type":"boolean","optional":1,"description":"Ignore locks - only root is allowed to use this option."},
          "machine":{"type":"string","optional":1,"format":{"type":{"default_key":1}}},
          "migration_type":{"type":"string","optional":1,"enum":["secure","insecure"]}}},
        "returns":{"type":"string"}}}}]}]}]}]}]},
 {"path":"/version","text":"version","leaf":1,"info":{"GET":{"name":"version","returns":{"type":"object","properties":{"release":{},"version":{}}}}}}
];
var otherScript = function() { return 1; };
"#;

    fn schema() -> ApiSchema {
        ApiSchema::from_apidoc_js(APIDOC).unwrap()
    }

    fn check_find(path: &str, expected: Option<&str>) {
        let s = schema();
        assert_eq!(s.find(path).map(|n| n.path.as_str()), expected, "{path}");
    }

    #[test]
    fn finds_paths_through_templates() {
        check_find("/nodes", Some("/nodes"));
        check_find("/nodes/", Some("/nodes"));
        check_find("/nodes/pve1", Some("/nodes/{node}"));
        check_find("/nodes/pve1/qemu/101", Some("/nodes/{node}/qemu/{vmid}"));
        check_find(
            "/nodes/{node}/qemu/{vmid}/status/start",
            Some("/nodes/{node}/qemu/{vmid}/status/start"),
        );
        check_find("/nodes/pve1/nope", None);
        check_find("/version", Some("/version"));
        check_find("/versions", None);
        check_find("/", None);
    }

    #[test]
    fn reads_methods_params_and_returns() {
        let s = schema();
        let start = s.find("/nodes/pve1/qemu/101/status/start").unwrap();
        let post = &start.methods["POST"];
        assert!(post.protected);
        assert_eq!(post.returns, "string");
        let names: Vec<&str> = post.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["node", "vmid", "machine", "migration_type", "skiplock"],
            "required first, then by name"
        );
        let skiplock = post.params.iter().find(|p| p.name == "skiplock").unwrap();
        assert!(skiplock.optional);
        assert_eq!(skiplock.type_label(), "boolean");
        let vmid = &post.params[1];
        assert_eq!(vmid.type_label(), "integer(pve-vmid)");
        assert_eq!(post.params[3].type_label(), "enum(secure|insecure)");
        assert_eq!(post.params[2].format.as_deref(), Some("type"));
        let nodes = &s.find("/nodes").unwrap().methods["GET"];
        assert_eq!(nodes.returns_fields, ["node"]);
        assert_eq!(
            s.find("/version").unwrap().methods["GET"].returns_fields,
            ["release", "version"]
        );
        assert_eq!(s.path_count(), 7);
    }

    #[test]
    fn children_of_root_and_paths() {
        let s = schema();
        let roots: Vec<&str> = s
            .children("/")
            .unwrap()
            .iter()
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(roots, ["nodes", "version"]);
        let under: Vec<&str> = s
            .children("/nodes/pve1")
            .unwrap()
            .iter()
            .map(|n| n.text.as_str())
            .collect();
        assert_eq!(under, ["qemu"]);
        assert!(s.children("/nope").is_none());
    }

    #[test]
    fn accepts_the_bare_array_and_rejects_junk() {
        let bare = schema_json(APIDOC).unwrap();
        let again = ApiSchema::from_apidoc_js(&bare.to_string()).unwrap();
        assert_eq!(again, schema());
        for (text, want) in [
            ("<html>not found</html>", "the file has no `apiSchema`"),
            ("const apiSchema = {\"a\":1};", "not an array"),
            ("const apiSchema = [ {\"path\": ", "not valid JSON"),
            ("const apiSchema = [{\"text\":\"x\"}];", "has no `path`"),
            ("apiSchema", "not assigned"),
        ] {
            let err = ApiSchema::from_apidoc_js(text).unwrap_err();
            assert!(err.0.contains(want), "{text}: {err}");
        }
    }
}
