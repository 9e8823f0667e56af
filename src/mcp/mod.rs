//! `pvesh-plus mcp`: a Model Context Protocol server over stdio, on the same session, config and
//! policy as the shell.
//!
//! The protocol side (the `rmcp` SDK, pinned) runs on the runtime's worker threads; the session
//! ([`Ctx`], not `Send`) stays on the thread that called [`serve`] and takes one call at a time
//! from a channel, as the shell takes one line at a time. Every tool call becomes a pvesh+ line
//! ([`tools::line_for`]) run by the same engine, so policy, staging, the executor and the audit
//! log apply to an agent exactly as to a person; nothing here sends a request of its own.
//!
//! Results are JSON: `structuredContent` is `{"ok": true, "line": ..., "result": ...,
//! "notes": [...]}` or `{"ok": false, "line": ..., "error": {...}}` (then `isError`), and the
//! text content holds the same object. Standard output is the protocol's: nothing else may
//! print there, so notes are collected into the result and progress goes nowhere.

pub mod share;
pub mod tools;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value as Json, json};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, ErrorKind, Result};
use crate::render::Style;
use crate::session::{Ctx, OutputFormat};

/// How the server was started.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `run` may use commands that change the cluster (they still obey policy and staging).
    pub allow_run_writes: bool,
}

/// The pending plan.
pub const PENDING_URI: &str = "pvesh://pending";
/// The newest lines of the audit log.
pub const AUDIT_URI: &str = "pvesh://audit";
/// How many audit lines the resource holds.
const AUDIT_TAIL: usize = 50;

/// What the protocol side asks the session for.
enum Ask {
    Tool {
        name: String,
        args: Map<String, Json>,
    },
    Resource {
        uri: String,
    },
}

struct Job {
    ask: Ask,
    reply: oneshot::Sender<Reply>,
}

enum Reply {
    Tool { ok: bool, body: Json },
    Resource(std::result::Result<String, String>),
}

/// The protocol side: the tool list and a channel to the session.
#[derive(Clone)]
struct Server {
    tools: Arc<Vec<tools::Tool>>,
    jobs: mpsc::Sender<Job>,
}

impl Server {
    async fn ask(&self, ask: Ask) -> std::result::Result<Reply, ErrorData> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { ask, reply })
            .await
            .map_err(|_| ErrorData::internal_error("the session has ended", None))?;
        answer
            .await
            .map_err(|_| ErrorData::internal_error("the session dropped the call", None))
    }
}

/// A value of an rmcp type from its wire form (the SDK's structs change between versions;
/// the protocol's JSON does not).
fn wire<T: serde::de::DeserializeOwned>(v: Json) -> std::result::Result<T, ErrorData> {
    serde_json::from_value(v).map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("pvesh-plus", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        let list: Vec<Json> = self.tools.iter().map(tools::Tool::to_json).collect();
        wire(json!({ "tools": list }))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if !self.tools.iter().any(|t| t.name == name) {
            return Err(ErrorData::invalid_params(
                format!("no tool '{name}'; tools/list lists them"),
                None,
            ));
        }
        let args = request.arguments.unwrap_or_default();
        let Reply::Tool { ok, body } = self.ask(Ask::Tool { name, args }).await? else {
            return Err(ErrorData::internal_error(
                "a resource answer to a tool call",
                None,
            ));
        };
        let text = serde_json::to_string_pretty(&body).unwrap_or_default();
        let mut result = if ok {
            CallToolResult::success(vec![ContentBlock::text(text)])
        } else {
            CallToolResult::error(vec![ContentBlock::text(text)])
        };
        result.structured_content = Some(body);
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourcesResult, ErrorData> {
        wire(json!({ "resources": [
            {"uri": PENDING_URI, "name": "pending",
             "description": "The pending plan: staged changes waiting for commit or approval",
             "mimeType": "application/json"},
            {"uri": AUDIT_URI, "name": "audit",
             "description": "The newest lines of the audit log (one JSON object per mutating call)",
             "mimeType": "application/x-ndjson"},
        ]}))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.clone();
        let Reply::Resource(text) = self.ask(Ask::Resource { uri: uri.clone() }).await? else {
            return Err(ErrorData::internal_error(
                "a tool answer to a resource read",
                None,
            ));
        };
        let text = text.map_err(|m| ErrorData::resource_not_found(m, None))?;
        let result: ReadResourceResult = wire(json!({
            "contents": [{"uri": uri, "mimeType": "application/json", "text": text}],
        }))?;
        Ok(result.into())
    }
}

const INSTRUCTIONS: &str = "pvesh+ on a Proxmox VE cluster. Read with list_guests, status, \
config, nodes, storage, tasks, snapshots, backups, or `run` (one read-only pipeline). Change \
with the action tools: non-destructive ones (start, snapshot, clone, ...) run at once within \
the policy's quotas; destructive ones (stop, destroy, rollback, migrate, ...) are staged and \
come back as an approval request that a human approves out of band. Never try to get around a \
refusal: it names the rule.";

/// Serves MCP on standard input and output until the client closes it; returns the exit code.
pub async fn serve(ctx: &mut Ctx, options: Options) -> Result<i32> {
    let (jobs, mut inbox) = mpsc::channel::<Job>(8);
    let server = Server {
        tools: Arc::new(tools::catalogue()),
        jobs,
    };
    let notes = Rc::new(RefCell::new(Vec::<String>::new()));
    let sink = notes.clone();
    ctx.set_note_sink(move |msg| sink.borrow_mut().push(msg.to_string()));
    ctx.staging.progress = None;
    ctx.format = OutputFormat::Json;
    let catalogue = server.tools.clone();
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::new(ErrorKind::Connection, format!("MCP start-up failed: {e}")))?;
    let waiting = running.waiting();
    tokio::pin!(waiting);
    loop {
        tokio::select! {
            _ = &mut waiting => break,
            job = inbox.recv() => {
                let Some(job) = job else { break };
                let reply = match job.ask {
                    Ask::Tool { name, args } => {
                        let (ok, body) = call(ctx, &catalogue, &notes, options, &name, &args).await;
                        Reply::Tool { ok, body }
                    }
                    Ask::Resource { uri } => Reply::Resource(resource(ctx, &uri).await),
                };
                let _ = job.reply.send(reply);
            }
        }
    }
    Ok(crate::commands::finish_run(ctx, false, crate::error::exit::OK).await)
}

/// The style results are formatted in: JSON, whole values.
const STYLE: Style = Style {
    width: Style::UNLIMITED,
    color: false,
    shorten: false,
    pager: false,
};

/// Runs one tool call on the session; returns whether it succeeded and its result object.
async fn call(
    ctx: &mut Ctx,
    catalogue: &[tools::Tool],
    notes: &RefCell<Vec<String>>,
    options: Options,
    name: &str,
    args: &Map<String, Json>,
) -> (bool, Json) {
    notes.borrow_mut().clear();
    let Some(tool) = catalogue.iter().find(|t| t.name == name) else {
        return failed(None, &Error::usage(format!("no tool '{name}'")), notes);
    };
    let line = match tools::line_for(tool, args) {
        Ok(line) => line,
        Err(e) => return failed(None, &e, notes),
    };
    if matches!(tool.kind, tools::Kind::Run) {
        let checked = if options.allow_run_writes {
            tools::check_writes(&line)
        } else {
            tools::check_read_only(&line)
        };
        if let Err(e) = checked {
            return failed(Some(&line), &e, notes);
        }
    }
    // A person may have approved (and so applied) or discarded the plan from another
    // terminal since the last call: read it again.
    if let Err(e) = ctx.staging.buffer.reload() {
        return failed(Some(&line), &e, notes);
    }
    let staged_before = ctx.staging.buffer.len();
    crate::commands::check_confirm_window(ctx).await;
    let result = crate::commands::run_line(ctx, &line).await;
    let out = match result {
        Ok(out) => out,
        Err(e) => return failed(Some(&line), &e, notes),
    };
    let text = crate::output::format_output(&out, OutputFormat::Json, STYLE);
    let value: Json = serde_json::from_str(&text).unwrap_or(Json::String(text));
    if let Some(e) = &out.failure {
        let (_, mut body) = failed(Some(&line), e, notes);
        body["result"] = value;
        return (false, body);
    }
    let mut body = json!({ "ok": true, "line": line, "result": value });
    // What was staged is never applied by the agent: it comes back as an approval request
    // for the whole pending plan, which a person approves out of band.
    let staged = ctx.staging.buffer.len().saturating_sub(staged_before);
    if staged > 0 {
        body["staged"] = json!(staged);
        match crate::commands::request_approval(ctx).await {
            Ok(req) => {
                let text = crate::output::format_output(&req, OutputFormat::Json, STYLE);
                let record: Json = serde_json::from_str(&text).unwrap_or(Json::String(text));
                body["status"] = json!("waiting_for_approval");
                body["approval"] = record;
            }
            Err(e) => {
                body["status"] = json!("staged");
                body["approval_error"] = error_json(&e);
            }
        }
    }
    body["notes"] = json!(notes.borrow().clone());
    (true, body)
}

/// A failed call's result object: the error in the machine contract's shape.
fn failed(line: Option<&str>, e: &Error, notes: &RefCell<Vec<String>>) -> (bool, Json) {
    let mut body = json!({ "ok": false, "error": error_json(e) });
    if let Some(line) = line {
        body["line"] = json!(line);
    }
    body["notes"] = json!(notes.borrow().clone());
    (false, body)
}

/// An error as JSON: the object under `error` that `--json` prints ([`Error::to_json`]).
fn error_json(e: &Error) -> Json {
    e.to_json(None)["error"].take()
}

async fn resource(ctx: &mut Ctx, uri: &str) -> std::result::Result<String, String> {
    match uri {
        PENDING_URI => {
            let out = crate::commands::run_line(ctx, "pending")
                .await
                .map_err(|e| e.message)?;
            Ok(crate::output::format_output(
                &out,
                OutputFormat::Json,
                STYLE,
            ))
        }
        AUDIT_URI => {
            let Some(path) = ctx.staging.audit.path() else {
                return Ok("[]".into());
            };
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(AUDIT_TAIL)..];
            let entries: Vec<Json> = tail
                .iter()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            Ok(serde_json::to_string(&entries).unwrap_or_default())
        }
        other => Err(format!(
            "no resource '{other}'; there are {PENDING_URI} and {AUDIT_URI}"
        )),
    }
}
