//! The MCP tools: which there are, their JSON-schema'd inputs, and the pvesh+ line each call
//! becomes. Pure: nothing here talks to a server.
//!
//! A tool is a thin layer over the language, so an agent gets exactly what the shell does
//! (policy, staging, the executor and its audit log): the read commands and every action
//! command of the registry become tools with an input schema made from their [`Signature`],
//! plus `list_guests` (`ls | where ...`) and `run` (one read-only pipeline). A call's arguments
//! are turned into a line whose words are quoted ([`word`]) and which is parsed back and
//! checked to be exactly the one command asked for, so no argument can smuggle in a `|` or `;`.

use serde_json::{Map, Value as Json, json};

use crate::commands::{Arg, ArgKind, COMMANDS, Category, Signature};
use crate::error::{Error, Result};

/// What a tool call runs.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A read command of the registry (`status`, `config`, ...).
    Read(&'static Signature),
    /// An action command: non-destructive ones run at once within the policy, destructive ones
    /// stage and come back as an approval request.
    Action(&'static Signature),
    /// `ls`, filtered, sorted and cut.
    ListGuests,
    /// One pipeline given as text, read-only unless the server was started with writes allowed.
    Run,
}

/// One tool.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: String,
    pub description: String,
    pub input_schema: Json,
    pub kind: Kind,
}

impl Tool {
    pub fn read_only(&self) -> bool {
        !matches!(self.kind, Kind::Action(_))
    }

    pub fn destructive(&self) -> bool {
        matches!(self.kind, Kind::Action(sig) if sig.destructive())
    }

    /// The tool as `tools/list` shows it, with the MCP annotations clients use to decide on
    /// confirmation.
    pub fn to_json(&self) -> Json {
        json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": {
                "type": "object",
                "properties": {
                    "ok": {"type": "boolean"},
                    "line": {"type": "string"},
                },
                "required": ["ok"],
            },
            "annotations": {
                "readOnlyHint": self.read_only(),
                "destructiveHint": self.destructive(),
                "idempotentHint": self.read_only(),
                "openWorldHint": false,
            },
        })
    }
}

/// Commands that are neither tools nor allowed in `run`: live screens and terminals, a wait on
/// the network, ssh to a node, a file of the machine the server runs on, and the making of
/// credentials (`rbac bootstrap`).
const NEVER: &[&str] = &[
    "rbac",
    "dashboard",
    "wait-ssh",
    "console",
    "maintenance",
    "upload",
    "ssh",
];

/// Commands that are no tool of their own: `list_guests` is `ls` with its arguments named.
const NOT_TOOLS: &[&str] = &["ls"];

/// Commands a read-only `run` may use besides the Read and Records ones.
const RUN_ALSO: &[&str] = &["help", "context", "get", "usage", "pending", "diff"];

/// Every tool, in a stable order: the fixed ones first, then the registry's read commands and
/// its action commands.
pub fn catalogue() -> Vec<Tool> {
    let mut out = vec![list_guests(), run()];
    for cmd in COMMANDS {
        let sig = &cmd.sig;
        if NEVER.contains(&sig.name) || NOT_TOOLS.contains(&sig.name) {
            continue;
        }
        let kind = match (sig.category, sig.action) {
            (_, Some(_)) | (Category::Create, None) => Kind::Action(sig),
            (Category::Read, None) => Kind::Read(sig),
            _ => continue,
        };
        out.push(from_signature(sig, kind));
    }
    out
}

fn list_guests() -> Tool {
    Tool {
        name: "list_guests".into(),
        description: "List guests (VMs and containers) across the cluster, from one request. \
                      `where` filters with the pvesh+ filter language (`status=running and \
                      tags has prod`, `mem > 4G`, `name =~ '^web'`)."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "where": {"type": "string", "description": "a filter expression, as after `where`"},
                "sort_by": {"type": "string", "description": "a field to sort by"},
                "reverse": {"type": "boolean", "description": "with sort_by: largest first"},
                "limit": {"type": "integer", "minimum": 1, "description": "at most this many"},
                "fields": {"type": "array", "items": {"type": "string"}, "description": "only these fields"},
            },
            "additionalProperties": false,
        }),
        kind: Kind::ListGuests,
    }
}

fn run() -> Tool {
    Tool {
        name: "run".into(),
        description: "Run one pvesh+ pipeline (`ls | where status=stopped | count`) and return \
                      its records. Read-only: only reading commands and record commands (where, \
                      select, sort-by, ...) unless the server allows writes. `help` and \
                      `help COMMAND` describe the language."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "line": {"type": "string", "description": "one pipeline, without `;`"},
            },
            "required": ["line"],
            "additionalProperties": false,
        }),
        kind: Kind::Run,
    }
}

/// The property name of an argument: `vm`, `limit` for `--limit`, `with_local_disks` for
/// `--with-local-disks`, `key_value` for `key=value`.
fn property(arg: &Arg) -> String {
    arg.flag_name()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn from_signature(sig: &'static Signature, kind: Kind) -> Tool {
    let mut props = Map::new();
    let mut required = Vec::new();
    for arg in sig.args {
        let mut schema = match (arg.is_flag(), arg.takes_value, arg.kind) {
            (true, false, _) => json!({"type": "boolean"}),
            (_, _, ArgKind::Count) => json!({"type": "integer", "minimum": 0}),
            (_, _, ArgKind::Choice(words)) => json!({"type": "string", "enum": words}),
            // A positional may hold several words (`set web01 cores=2 memory=4G`).
            (false, _, _) => json!({"oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
            ]}),
            _ => json!({"type": "string"}),
        };
        schema["description"] = Json::String(arg.help.to_string());
        props.insert(property(arg), schema);
        if !arg.optional && !arg.is_flag() {
            required.push(property(arg));
        }
    }
    let mut description = sig.about.to_string();
    if let Kind::Action(_) = kind {
        description.push_str(if sig.destructive() {
            " Destructive: it is staged and comes back as an approval request (id, plan, \
             diff, expiry); a human approves it out of band (`pvesh-plus approve ID`)."
        } else {
            " Runs at once within the policy (quotas, protected and read-only guests)."
        });
    }
    Tool {
        name: sig.name.replace('-', "_"),
        description,
        input_schema: json!({
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false,
        }),
        kind,
    }
}

/// `text` as one word of a line: plain when it is a plain word (`web01`, `cores=2`,
/// `local-lvm:vm-101-disk-0`), else quoted so the lexer reads it back as exactly `text`. A
/// quoted word never counts as a flag, so a value starting with `-` stays a value.
pub fn word(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:/@=,+%-".contains(c));
    if plain {
        text.to_string()
    } else {
        crate::lang::quote(text).into_owned()
    }
}

fn bad(tool: &str, message: impl std::fmt::Display) -> Error {
    Error::usage(format!("{tool}: {message}")).hinted("`tools/list` gives each tool's input schema")
}

fn text_of(tool: &str, name: &str, v: &Json) -> Result<String> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        _ => Err(bad(tool, format!("`{name}` must be a string"))),
    }
}

/// The line a call of `tool` with `args` runs. Unknown or mistyped arguments are an error
/// naming them.
pub fn line_for(tool: &Tool, args: &Map<String, Json>) -> Result<String> {
    let line = match tool.kind {
        Kind::Run => {
            let line = args
                .get("line")
                .and_then(Json::as_str)
                .ok_or_else(|| bad("run", "`line` (a string) is required"))?;
            if let Some(other) = args.keys().find(|k| *k != "line") {
                return Err(bad("run", format!("no argument `{other}`")));
            }
            return Ok(line.to_string());
        }
        Kind::ListGuests => list_line(args)?,
        Kind::Read(sig) | Kind::Action(sig) => signature_line(&tool.name, sig, args)?,
    };
    Ok(line)
}

fn list_line(args: &Map<String, Json>) -> Result<String> {
    let tool = "list_guests";
    let mut line = String::from("ls");
    let known = ["where", "sort_by", "reverse", "limit", "fields"];
    if let Some(other) = args.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(
            tool,
            format!("no argument `{other}`; it takes: {}", known.join(", ")),
        ));
    }
    if let Some(expr) = args.get("where") {
        let expr = text_of(tool, "where", expr)?;
        // The expression is the language's own: it is parsed as a filter, and must not end
        // the stage.
        if crate::lang::statements(&expr).len() > 1 || has_pipe(&expr) {
            return Err(bad(
                tool,
                "`where` is one filter expression, without `|` or `;`",
            ));
        }
        line.push_str(" | where ");
        line.push_str(&expr);
    }
    if let Some(field) = args.get("sort_by") {
        line.push_str(" | sort-by ");
        line.push_str(&word(&text_of(tool, "sort_by", field)?));
        if args.get("reverse").and_then(Json::as_bool) == Some(true) {
            line.push_str(" --reverse");
        }
    }
    if let Some(n) = args.get("limit") {
        let n = n
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(tool, "`limit` must be a whole number above 0"))?;
        line.push_str(&format!(" | first {n}"));
    }
    if let Some(fields) = args.get("fields") {
        let list = fields
            .as_array()
            .ok_or_else(|| bad(tool, "`fields` must be a list of field names"))?;
        line.push_str(" | select");
        for f in list {
            line.push(' ');
            line.push_str(&word(&text_of(tool, "fields", f)?));
        }
    }
    Ok(line)
}

/// True when `text` has a `|` outside quotes.
fn has_pipe(text: &str) -> bool {
    crate::lang::lex(text).map_or(true, |tokens| {
        tokens
            .iter()
            .any(|t| matches!(t, crate::lang::Token::Pipe(_)))
    })
}

fn signature_line(tool: &str, sig: &Signature, args: &Map<String, Json>) -> Result<String> {
    for key in args.keys() {
        if !sig.args.iter().any(|a| property(a) == *key) {
            let known: Vec<String> = sig.args.iter().map(property).collect();
            return Err(bad(
                tool,
                format!("no argument `{key}`; it takes: {}", known.join(", ")),
            ));
        }
    }
    let mut line = sig.name.to_string();
    // Positionals first, in the signature's order, then the flags.
    for arg in sig.args.iter().filter(|a| !a.is_flag()) {
        let Some(v) = args.get(&property(arg)) else {
            if !arg.optional {
                return Err(bad(tool, format!("`{}` is required", property(arg))));
            }
            continue;
        };
        let words = match v {
            Json::Array(items) => items
                .iter()
                .map(|i| text_of(tool, &property(arg), i))
                .collect::<Result<Vec<_>>>()?,
            other => vec![text_of(tool, &property(arg), other)?],
        };
        for w in words {
            line.push(' ');
            line.push_str(&word(&w));
        }
    }
    for arg in sig.args.iter().filter(|a| a.is_flag()) {
        let Some(v) = args.get(&property(arg)) else {
            continue;
        };
        if arg.takes_value {
            line.push_str(&format!(
                " {} {}",
                arg.name,
                word(&text_of(tool, &property(arg), v)?)
            ));
        } else {
            match v.as_bool() {
                Some(true) => line.push_str(&format!(" {}", arg.name)),
                Some(false) => {}
                None => {
                    return Err(bad(
                        tool,
                        format!("`{}` must be true or false", property(arg)),
                    ));
                }
            }
        }
    }
    Ok(line)
}

/// Commands `run` never runs, writes allowed or not: applying a plan is a human's decision
/// (`pvesh-plus approve`, or `commit` in their own shell).
const HUMAN_ONLY: &[&str] = &["commit", "confirm", "approve", "reject", "discard"];

/// Checks that `line`, with writes allowed, holds no command that applies or drops a plan.
pub fn check_writes(line: &str) -> Result<()> {
    for span in crate::lang::statements(line) {
        let pipeline = crate::lang::parse_pipeline(&line[span.start..span.end])
            .map_err(|e| Error::new(crate::error::ErrorKind::Parse, e.render(line)))?;
        for stage in &pipeline.stages {
            let name = stage.name();
            if HUMAN_ONLY.contains(&name) || NEVER.contains(&name) {
                return Err(Error::new(
                    crate::error::ErrorKind::Policy,
                    format!("run does not run `{name}`: a human applies or drops the plan"),
                )
                .hinted("destructive changes come back as an approval request; a human approves it with `pvesh-plus approve ID`"));
            }
        }
    }
    Ok(())
}

/// Checks that `line` is one pipeline whose commands `run` may use read-only: the reading
/// commands, the record commands and [`RUN_ALSO`]. The error names the command that is not.
pub fn check_read_only(line: &str) -> Result<()> {
    if crate::lang::statements(line).len() > 1 {
        return Err(Error::usage("run takes one pipeline per call, without `;`")
            .hinted("call run once for each pipeline"));
    }
    let pipeline = crate::lang::parse_pipeline(line)
        .map_err(|e| Error::new(crate::error::ErrorKind::Parse, e.render(line)))?;
    for stage in &pipeline.stages {
        let name = stage.name();
        let Some(cmd) = crate::commands::find(name) else {
            return Err(
                Error::usage(format!("no command '{name}'")).hinted("`help` lists the commands")
            );
        };
        let reads = matches!(cmd.sig.category, Category::Read | Category::Records)
            && cmd.sig.action.is_none()
            && !NEVER.contains(&name);
        if !reads && !RUN_ALSO.contains(&name) {
            return Err(Error::new(
                crate::error::ErrorKind::Policy,
                format!("run is read-only: `{name}` changes or controls the cluster"),
            )
            .hinted(format!(
                "use the `{}` tool (destructive changes come back as an approval request)",
                name.replace('-', "_")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
