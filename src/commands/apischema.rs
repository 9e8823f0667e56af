//! Getting the server's API schema: from the session's memory, from the disk cache
//! (`$XDG_CACHE_HOME/pvesh-plus/apidoc-<version>-<repoid>.json`: one file per server build, so
//! two servers that call themselves 9.1.1 but differ never share one), or from the server's API
//! viewer file
//! (`/pve-docs/api-viewer/apidoc.js`), in that order; and the `usage PATH` command that shows it.
//!
//! Loading never fails a command because the server does not serve the file (a proxy may hide
//! `/pve-docs`): the schema is then marked unavailable and `usage` says so; it never calls the
//! path it describes. Parsing is `api::schema`'s job; this module only does the IO around it.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Arg, ArgKind, Category, Command, Ctx, Example, Output, Signature};
use crate::api::schema::{ApiSchema, MethodInfo, PathNode, SharedSchema};
use crate::api::{ApiError, Client, endpoints};
use crate::error::{Error, Result};
use crate::lang::{Record, Value};

/// Where the API viewer's schema lives on a PVE node.
pub const APIDOC_PATH: &str = "/pve-docs/api-viewer/apidoc.js";

/// The cache file for one server build (`version` and `repoid` of `GET /version`), or `None`
/// without a home directory.
pub fn cache_path(version: &str, repoid: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))?;
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let name = if repoid.is_empty() {
        format!("apidoc-{}.json", safe(version))
    } else {
        format!("apidoc-{}-{}.json", safe(version), safe(repoid))
    };
    Some(base.join("pvesh-plus").join(name))
}

/// Loads the schema from the disk cache or the server. `Ok(None)`: the server does not serve it.
pub async fn load(client: &Client) -> Result<Option<ApiSchema>> {
    let about = client.get(&endpoints::version()).await?;
    let field = |k: &str| about.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let cache = field("version").and_then(|v| cache_path(&v, &field("repoid").unwrap_or_default()));
    if let Some(path) = &cache
        && let Ok(text) = std::fs::read_to_string(path)
        && let Ok(schema) = ApiSchema::from_apidoc_js(&text)
    {
        return Ok(Some(schema));
    }
    let text = match client.fetch_text(APIDOC_PATH).await {
        Ok(t) => t,
        Err(ApiError::Http { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Ok(json) = crate::api::schema::schema_json(&text) else {
        return Ok(None);
    };
    let Ok(schema) = ApiSchema::from_json(&json) else {
        return Ok(None);
    };
    if let Some(path) = cache {
        // A cache that cannot be written only costs a download next time.
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&path, json.to_string());
    }
    Ok(Some(schema))
}

/// Loads the schema into `slot` unless it is there already; used by the background task the
/// interactive session starts, so that completion never waits for it.
pub async fn load_into(client: Client, slot: SharedSchema) {
    if slot.get().is_some() || slot.is_unavailable() {
        return;
    }
    match load(&client).await {
        Ok(Some(schema)) => slot.set(Arc::new(schema)),
        Ok(None) => slot.mark_unavailable(),
        // A network error now is not a verdict on the server: `usage` will try again.
        Err(_) => {}
    }
}

/// The session's schema, loading it on first use; `None` when the server does not serve it.
pub async fn session_schema(ctx: &mut Ctx) -> Result<Option<Arc<ApiSchema>>> {
    let slot = ctx.shared_schema();
    if let Some(s) = slot.get() {
        return Ok(Some(s));
    }
    if slot.is_unavailable() {
        return Ok(None);
    }
    match load(&ctx.client).await? {
        Some(schema) => {
            let schema = Arc::new(schema);
            slot.set(schema.clone());
            Ok(Some(schema))
        }
        None => {
            slot.mark_unavailable();
            Ok(None)
        }
    }
}

const USAGE_FIELDS: &[&str] = &[
    "method",
    "name",
    "type",
    "optional",
    "default",
    "description",
];

fn param_rows(m: &MethodInfo) -> Vec<Value> {
    m.params
        .iter()
        .map(|p| {
            Value::Record(Record::from_pairs([
                ("method", Value::String(m.method.clone())),
                ("name", Value::String(p.name.clone())),
                ("type", Value::String(p.type_label())),
                ("optional", Value::Bool(p.optional)),
                (
                    "default",
                    p.default.clone().map_or(Value::Null, Value::String),
                ),
                ("description", Value::String(p.summary().to_string())),
            ]))
        })
        .collect()
}

fn method_summary(path: &str, m: &MethodInfo) -> String {
    let first = m.description.lines().next().unwrap_or("").trim();
    let mut returns = m.returns.clone();
    if !m.returns_fields.is_empty() {
        returns.push_str(&format!(" of {{{}}}", m.returns_fields.join(", ")));
    }
    format!("{} {path} — {first}\n  returns: {returns}", m.method)
}

fn unknown_path(schema: &ApiSchema, path: &str) -> Error {
    let parent = super::session::join_path(path, "..");
    let near: Vec<String> = schema
        .children(&parent)
        .map(|kids| kids.iter().map(|k| k.text.clone()).collect())
        .unwrap_or_default();
    let err = Error::not_found(format!("the API has no path {path}"));
    if near.is_empty() {
        err.hinted("`ls /` lists the top of the API tree")
    } else {
        err.hinted(format!("under {parent}: {}", near.join(", ")))
    }
}

/// A 501 (`METHOD PATH failed: ... (HTTP 501)`: PVE's answer for any path or method it does
/// not have) with the hint made precise by the server's schema, when it is loaded: no such
/// path, or no such method on it. Without a schema the error keeps its neutral hint.
pub fn refine_not_implemented(ctx: &Ctx, mut err: Error) -> Error {
    let first = err.message.lines().next().unwrap_or_default();
    if !first.ends_with("(HTTP 501)") {
        return err;
    }
    let Some((method, rest)) = first.split_once(' ') else {
        return err;
    };
    let Some((path, _)) = rest.split_once(" failed:") else {
        return err;
    };
    let Some(schema) = ctx.shared_schema().get() else {
        return err;
    };
    let hint = match schema.find(path) {
        None => format!(
            "no such API path: {path} is not in this server's API schema (`usage /` lists its paths)"
        ),
        Some(node) if !node.methods.contains_key(method) => {
            let have: Vec<&str> = node.methods.keys().map(String::as_str).collect();
            if have.is_empty() {
                format!("{} has no methods of its own", node.path)
            } else {
                format!(
                    "{} has no {method} method; it has: {}",
                    node.path,
                    have.join(", ")
                )
            }
        }
        Some(_) => return err,
    };
    err.hints = vec![hint];
    err
}

/// The error of `usage` when the server serves no API schema.
fn schema_unavailable(path: &str) -> Error {
    Error::not_found(format!(
        "cannot show the usage of {path}: this server does not serve the API schema ({APIDOC_PATH})"
    ))
    .hinted(
        "a PVE node serves it with its API viewer; if a proxy in front of the API hides \
         /pve-docs/, let that path through, then `usage` loads it",
    )
    .hinted("`ls PATH` lists what is below a path without the schema")
}

fn children_rows(node_path: &str, kids: &[PathNode]) -> Vec<Value> {
    kids.iter()
        .map(|k| {
            Value::Record(Record::from_pairs([
                ("name", Value::String(k.text.clone())),
                (
                    "path",
                    Value::String(format!("{}/{}", node_path.trim_end_matches('/'), k.text)),
                ),
                (
                    "methods",
                    Value::String(k.methods.keys().cloned().collect::<Vec<_>>().join(" ")),
                ),
            ]))
        })
        .collect()
}

pub static USAGE: Command = Command {
    sig: Signature {
        name: "usage",
        category: Category::Session,
        about: "The parameters and return type of an API path, from the server's own schema.",
        args: &[
            Arg::opt(
                "path",
                ArgKind::ApiPath,
                "an API path, templated or concrete",
            ),
            Arg::flag(
                "--method",
                ArgKind::Choice(&["GET", "POST", "PUT", "DELETE"]),
                "only this method",
            ),
        ],
        action: None,
        fields: USAGE_FIELDS,
        examples: &[
            Example {
                line: "usage /nodes/{node}/qemu/{vmid}/status/start",
                about: "what starting a VM accepts (skiplock, timeout, ...)",
            },
            Example {
                line: "usage /nodes/pve1/qemu --method POST | where optional=false",
                about: "the required parameters for creating a VM",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let given = call.args.positionals.first().map(|w| w.text.clone());
            let path = super::session::join_path(&ctx.cwd, given.as_deref().unwrap_or("."));
            let method = call
                .args
                .flag("method")
                .and_then(|f| f.value.as_ref())
                .map(|w| w.text.to_uppercase());
            if let Some(m) = &method
                && !["GET", "POST", "PUT", "DELETE"].contains(&m.as_str())
            {
                return Err(Error::usage(format!(
                    "--method must be GET, POST, PUT or DELETE, got '{m}'"
                )));
            }
            let Some(schema) = session_schema(ctx).await? else {
                // Never call the path itself: `usage` describes, it does not run (a GET of
                // `/cluster/nextid` is not its usage, and a templated path is no real one).
                return Err(schema_unavailable(&path));
            };
            let node = if path == "/" {
                None
            } else {
                Some(
                    schema
                        .find(&path)
                        .ok_or_else(|| unknown_path(&schema, &path))?,
                )
            };
            let Some(node) = node.filter(|n| !n.methods.is_empty()) else {
                let kids = schema.children(&path).unwrap_or_default();
                ctx.note(&format!("{path} has no methods of its own; below it:"));
                return Ok(Output::value(Value::List(children_rows(&path, kids)))
                    .with_columns(&["name", "methods"])
                    .with_empty("nothing below"));
            };
            let methods: Vec<&MethodInfo> = node
                .methods
                .values()
                .filter(|m| method.as_deref().is_none_or(|want| m.method == want))
                .collect();
            if methods.is_empty() {
                let have: Vec<&str> = node.methods.keys().map(String::as_str).collect();
                return Err(Error::not_found(format!(
                    "{} has no {} method",
                    node.path,
                    method.unwrap_or_default()
                ))
                .hinted(format!("it has: {}", have.join(", "))));
            }
            let mut rows = Vec::new();
            for m in methods {
                let summary = method_summary(&node.path, m);
                ctx.note(&summary);
                rows.extend(param_rows(m));
            }
            Ok(Output::value(Value::List(rows))
                .with_columns(&["method", "name", "type", "optional", "description"])
                .with_empty("no parameters"))
        })
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    /// A server with no `/pve-docs` (as behind a proxy that hides it): `usage` says the schema
    /// is unavailable and never calls the path it was asked about, templated or not.
    #[tokio::test]
    async fn usage_without_a_schema_never_calls_the_path() {
        use crate::api::test_server::{self, Seen, ok};
        let server = test_server::start(std::sync::Arc::new(|req: &Seen| {
            match req.target.as_str() {
                "/api2/json/version" => ok(serde_json::json!({
                    "version": "0.0-usage-test", "release": "0.0", "repoid": "usagetest"
                })),
                "/api2/json/cluster/nextid" => ok(serde_json::json!("100")),
                _ => (404, "Not Found".into(), String::new()),
            }
        }))
        .await;
        let client = Client::connect(crate::api::ConnectOptions {
            url: server.url(),
            auth: crate::api::Auth::Token {
                tokenid: "root@pam!t".into(),
                secret: crate::secret::Secret::new("s"),
            },
            tls: crate::api::TlsMode::Fingerprint(server.fingerprint.clone()),
            timeout: std::time::Duration::from_secs(5),
            tfa: None,
        })
        .await
        .unwrap();
        let mut ctx = Ctx::new(client, "t");
        for path in ["/cluster/nextid", "/nodes/{node}/qemu"] {
            let err = match super::super::run_line(&mut ctx, &format!("usage {path}")).await {
                Ok(out) => panic!("usage {path} gave {:?}", out.value),
                Err(e) => e,
            };
            assert!(
                err.message.contains("does not serve the API schema"),
                "{}",
                err.message
            );
        }
        let called: Vec<String> = server
            .requests()
            .into_iter()
            .map(|r| r.target)
            .filter(|t| t.contains("nextid") || t.contains("/nodes"))
            .collect();
        assert!(called.is_empty(), "usage called {called:?}");
    }

    #[test]
    fn cache_file_names_are_safe_and_per_build() {
        let name = |v: &str, r: &str| {
            cache_path(v, r)
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default()
        };
        assert_eq!(name("9.1.1", "5b2c5e4d"), "apidoc-9.1.1-5b2c5e4d.json");
        assert_eq!(name("9.1.1", ""), "apidoc-9.1.1.json");
        assert_eq!(name("../../etc", "a/b"), "apidoc-.._.._etc-a_b.json");
    }

    #[test]
    fn method_summary_names_returns() {
        let m = MethodInfo {
            method: "GET".into(),
            name: "index".into(),
            description: "Cluster node index.\nMore.".into(),
            params: Vec::new(),
            returns: "array".into(),
            returns_fields: vec!["node".into(), "status".into()],
            protected: false,
        };
        assert_eq!(
            method_summary("/nodes", &m),
            "GET /nodes — Cluster node index.\n  returns: array of {node, status}"
        );
    }
}
