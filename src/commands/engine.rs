//! The pipeline engine: parse a line, check every stage names a known command with known flags,
//! then run the stages in order, each receiving the value of the one before.
//!
//! Nothing runs until the whole line has been checked, so a typo in the last stage never leaves
//! the first one half done.

use super::{Call, Command, Ctx, contexts, find, suggest};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{Args, ParseError, Span, Value, parse_pipeline, split_args};

/// What a line produced: a value, and how to show it as a table.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub value: Value,
    /// The columns a table shows by default (records keep all their fields for pipes and JSON).
    pub columns: Option<Vec<String>>,
    /// What an empty list says: "no guests".
    pub empty: &'static str,
    /// The value is text to print exactly as it is (`to json`).
    pub raw: bool,
    /// Printed after the value, and the line still fails with it (a commit with failed items
    /// shows its outcome table and exits 3).
    pub failure: Option<Error>,
    /// A program to hand the terminal to once the line is done (`ssh`): its argv. The caller
    /// (cli or shell) runs it with the terminal instead of printing the value, and the line
    /// exits with its code; the value (what would run) is for tests and pipelines.
    pub handoff: Option<Vec<String>>,
    /// A live screen to run on the terminal instead of printing the value (`dashboard`); the
    /// caller runs it only when stdout is a terminal, and prints the value (one frame) otherwise.
    pub live: Option<super::dashboard::Live>,
    /// Fields a single record's `key: value` view leaves out (the record keeps them for pipes
    /// and JSON): `config` shows each property string once, through its sub-fields.
    pub hidden: Vec<String>,
    /// Guests still in the inventory (`ls`), standing for `value`: a table and JSON read them
    /// in place, the next stage gets them as records ([`Output::take_value`]).
    pub guests: Option<crate::inventory::GuestList>,
}

impl Output {
    pub fn value(value: Value) -> Output {
        Output {
            value,
            columns: None,
            empty: "no results",
            raw: false,
            failure: None,
            handoff: None,
            live: None,
            hidden: Vec::new(),
            guests: None,
        }
    }

    /// Guests of the inventory as the output, without making records of them.
    pub fn guests(guests: crate::inventory::GuestList) -> Output {
        Output {
            guests: Some(guests),
            ..Output::none()
        }
    }

    /// The value, with guests still in the inventory made into records.
    pub fn take_value(&mut self) -> Value {
        match self.guests.take() {
            Some(guests) => guests.records(),
            None => std::mem::take(&mut self.value),
        }
    }

    pub fn none() -> Output {
        Output::value(Value::Null)
    }

    /// Leaves `fields` out of a single record's `key: value` view (see [`Output::hidden`]).
    pub fn with_hidden(mut self, fields: Vec<String>) -> Output {
        self.hidden = fields;
        self
    }

    pub fn with_columns(mut self, columns: &[&str]) -> Output {
        self.columns = Some(columns.iter().map(|c| c.to_string()).collect());
        self
    }

    pub fn raw(mut self) -> Output {
        self.raw = true;
        self
    }

    pub fn with_failure(mut self, failure: Option<Error>) -> Output {
        self.failure = failure;
        self
    }

    pub fn with_empty(mut self, empty: &'static str) -> Output {
        self.empty = empty;
        self
    }
}

/// Turns a language error into the user-facing one, with the caret under the bad spot.
pub fn parse_error(e: &ParseError, line: &str) -> Error {
    Error::new(ErrorKind::Parse, e.render(line))
}

fn caret_error(line: &str, span: Span, message: String) -> Error {
    parse_error(&ParseError::new(message, span), line)
}

/// Parses and runs one line.
pub async fn run_line(ctx: &mut Ctx, line: &str) -> Result<Output> {
    run_pipeline(ctx, line)
        .await
        .map_err(|e| super::apischema::refine_not_implemented(ctx, e))
}

async fn run_pipeline(ctx: &mut Ctx, line: &str) -> Result<Output> {
    let pipeline = parse_pipeline(line).map_err(|e| parse_error(&e, line))?;
    let mut planned: Vec<(&'static Command, Args, Option<Span>)> = Vec::new();
    let mut clusters: Option<Vec<String>> = None;
    let shared_line: std::rc::Rc<str> = line.into();
    for stage in &pipeline.stages {
        let name = stage.name();
        let Some(cmd) = find(name) else {
            let mut err = caret_error(line, stage.name_span(), format!("unknown command '{name}'"));
            let close = suggest(name);
            err.kind = ErrorKind::Usage;
            err = if name.contains(';') {
                err.hinted("to run two pipelines, put a space after the ';': `ls; nodes`")
            } else if close.is_empty() {
                err.hinted("`help` lists the commands")
            } else {
                err.hinted(format!("did you mean {}?", close.join(", ")))
            };
            return Err(err);
        };
        // A line's first read may run on several clusters (`ls --cluster a,b`).
        let fans_out = planned.is_empty() && contexts::can_fan_out(cmd);
        let mut value_flags = cmd.sig.value_flags();
        if fans_out {
            value_flags.push("cluster");
        }
        let mut args = split_args(stage.args(), &value_flags).map_err(|e| {
            let mut err = parse_error(&e, line);
            err.kind = ErrorKind::Usage;
            err
        })?;
        if fans_out {
            let list = args
                .flag("cluster")
                .map(|f| f.value.as_ref().map(|w| w.text.clone()).unwrap_or_default());
            let all = args.has_flag("all-clusters");
            if list.is_some() || all {
                clusters = Some(contexts::parse_set(ctx, list.as_deref(), all)?);
            }
            args.flags
                .retain(|f| f.name != "cluster" && f.name != "all-clusters");
        }
        for flag in &args.flags {
            let known = cmd
                .sig
                .args
                .iter()
                .any(|a| a.is_flag() && a.flag_name() == flag.name);
            if !known {
                let mut err = caret_error(
                    line,
                    flag.span,
                    format!(
                        "{} has no flag '{}'",
                        name,
                        flag_text(&flag.name, flag.long)
                    ),
                )
                .hinted(format!("usage: {}", cmd.sig.usage()));
                if flag.name == "cluster" || flag.name == "all-clusters" {
                    err = err.hinted(
                        "--cluster goes on a line's first read: pick guests with it, then act: \
                         `ls --cluster a,b | where name=web01 | stop`",
                    );
                }
                err.kind = ErrorKind::Usage;
                return Err(err);
            }
        }
        planned.push((cmd, args, stage.args_span()));
    }
    let mut out = Output::none();
    let mut first = true;
    for (cmd, args, args_span) in planned {
        let call = Call {
            args,
            line: shared_line.clone(),
            args_span,
            input: out.take_value(),
            first,
        };
        let inherited = out.columns.take();
        let across = if first && contexts::can_fan_out(cmd) {
            clusters
                .take()
                .or_else(|| {
                    let set = &ctx.contexts.default_set;
                    (!set.is_empty()).then(|| set.clone())
                })
                .or_else(|| contexts::pending_set(ctx, cmd))
        } else {
            None
        };
        let next = match across {
            Some(names) => {
                if cmd.sig.name == "discard" && !call.args.positionals.is_empty() && names.len() > 1
                {
                    return Err(Error::usage(
                        "discard N: changes are pending on several clusters, so which one's N?",
                    )
                    .hinted(format!("name it: discard N --cluster {}", names[0])));
                }
                contexts::run_across(ctx, cmd, call, &names).await?
            }
            None if contexts::needs_split(ctx, cmd, &call.input) => {
                contexts::run_split(ctx, cmd, call).await?
            }
            None => (cmd.run)(ctx, call).await?,
        };
        let keeps_columns = matches!(
            cmd.sig.name,
            "where" | "sort-by" | "first" | "last" | "uniq"
        );
        out = Output {
            columns: if keeps_columns {
                next.columns.or(inherited)
            } else {
                next.columns
            },
            ..next
        };
        first = false;
    }
    Ok(out)
}

fn flag_text(name: &str, long: bool) -> String {
    if long {
        format!("--{name}")
    } else {
        format!("-{name}")
    }
}
