//! `runbook ls | show NAME | run NAME k=v... [--dry-run] [--from STEP]`: the runbooks of
//! `crate::runbook`, whose lines run here through the same engine as typed lines (so they
//! stage, commit and audit as always).

use super::{Arg, ArgKind, Call, Category, Command, Ctx, Output, Signature, ex, flag_text};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{Record, Value};
use crate::runbook::runner::{self, LineRunner, Start, Values};
use crate::runbook::{self, Dirs, Runbook};
use crate::session::BoxFuture;
use crate::wizard::DialoguerPrompter;

pub static RUNBOOK: Command = Command {
    sig: Signature {
        name: "runbook",
        category: Category::Runbook,
        about: "Runbooks: markdown files of parameters and steps of pvesh+ lines (runbooks/ here, ~/.config/pvesh-plus/runbooks/, and the built-in ones). `ls` lists them, `show NAME` shows one, `run NAME k=v...` shows its plan and runs it step by step; destructive lines stage as always, and only a `commit` line of the runbook applies them. It stops at the first failing step and says how to resume.",
        args: &[
            Arg::pos(
                "action",
                ArgKind::Choice(&["ls", "show", "run"]),
                "ls, show or run",
            ),
            Arg::opt("name", ArgKind::Text, "the runbook"),
            Arg::opt(
                "params",
                ArgKind::ApiParam,
                "key=value parameters (missing ones are asked on a terminal)",
            ),
            Arg::switch("--dry-run", "show the plan; run nothing"),
            Arg::flag(
                "--from",
                ArgKind::Text,
                "start at this step (STEP, or STEP.BATCH in a repeated step)",
            ),
        ],
        action: None,
        fields: &[
            "name",
            "description",
            "params",
            "source",
            "step",
            "title",
            "status",
        ],
        examples: &[
            ex("runbook ls", "the runbooks there are"),
            ex("runbook show rolling-restart", "its parameters and steps"),
            ex(
                "runbook run create-cloudinit-template url=https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2 name=debian-12-gc",
                "build a cloud-init template, step by step",
            ),
            ex(
                "runbook run rolling-restart tag=ci --dry-run",
                "the plan, with the values in; nothing runs",
            ),
            ex(
                "runbook run patch-window batch=4",
                "in a script, a parameter without a default must be given",
            ),
        ],
    },
    run: |ctx, call| Box::pin(runbook_run(ctx, call)),
};

/// Lines of a runbook run through the commands' engine, as typed ones.
struct Engine;

impl LineRunner for Engine {
    fn run<'a>(&'a self, ctx: &'a mut Ctx, line: &'a str) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let mut shown = Vec::new();
            for span in crate::lang::statements(line) {
                let one = line[span.start..span.end].trim();
                let mut out = super::engine::run_line(ctx, one).await?;
                if out.handoff.is_some() || out.live.is_some() {
                    return Err(Error::usage(format!(
                        "`{one}` takes over the terminal: a runbook cannot run it"
                    ))
                    .hinted("wait for a guest with `wait-ssh`; run `ssh` after the runbook"));
                }
                let text = summary(&mut out);
                if let Some(e) = out.failure.take() {
                    // What it gave (a commit's outcome table) before the error refers to it.
                    for t in text.lines() {
                        ctx.note(&format!("    {t}"));
                    }
                    return Err(e);
                }
                shown.push(text);
            }
            Ok(shown.join("\n"))
        })
    }

    fn vmids<'a>(&'a self, ctx: &'a mut Ctx, line: &'a str) -> BoxFuture<'a, Result<Vec<u32>>> {
        Box::pin(async move {
            let value = super::engine::run_line(ctx, line).await?.take_value();
            let vmids = super::read::piped_vmids(&value);
            vmids
                .iter()
                .map(|v| {
                    v.parse::<u32>().map_err(|_| {
                        Error::usage(format!("`each=\"{line}\"` gave '{v}', which is no VMID"))
                    })
                })
                .collect()
        })
    }
}

/// What a line gave, in a few short lines: a record's or each row's leading fields.
fn summary(out: &mut Output) -> String {
    const ROWS: usize = 8;
    const WIDTH: usize = 74;
    let columns = out.columns.clone();
    let value = out.take_value();
    let one = |v: &Value| -> String {
        let text = match v {
            Value::Record(r) => {
                let fields: Vec<String> = match &columns {
                    Some(cols) => cols
                        .iter()
                        .filter_map(|c| r.get(c).map(|v| format!("{c}={v}")))
                        .collect(),
                    None => r.iter().take(6).map(|(k, v)| format!("{k}={v}")).collect(),
                };
                fields.join(" ")
            }
            other => other.to_string(),
        };
        if text.chars().count() > WIDTH {
            let cut: String = text.chars().take(WIDTH - 1).collect();
            format!("{cut}…")
        } else {
            text
        }
    };
    match &value {
        Value::Null => String::new(),
        Value::List(items) => {
            let mut lines: Vec<String> = items.iter().take(ROWS).map(one).collect();
            if items.len() > ROWS {
                lines.push(format!("… {} more", items.len() - ROWS));
            }
            lines.join("\n")
        }
        v => one(v),
    }
}

async fn runbook_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let words: Vec<&str> = call
        .args
        .positionals
        .iter()
        .map(|w| w.text.as_str())
        .collect();
    let usage = "usage: runbook ls | runbook show NAME | runbook run NAME [key=value...] [--dry-run] [--from STEP]";
    let dirs = Dirs::from_env();
    match words.as_slice() {
        ["ls"] => Ok(list(ctx, &dirs)),
        ["show", name] => show(ctx, &dirs, name),
        ["run", name] => run(ctx, &dirs, name, &call).await,
        ["ls", extra, ..] => {
            Err(Error::usage(format!("runbook ls takes no '{extra}'")).hinted(usage))
        }
        ["show" | "run"] => Err(Error::usage(format!(
            "runbook {} needs the runbook's name",
            words[0]
        ))
        .hinted("`runbook ls` lists them")
        .hinted(usage)),
        ["show" | "run", _, extra, ..] => {
            Err(Error::usage(format!("'{extra}' is not a key=value parameter")).hinted(usage))
        }
        [] => Err(Error::usage("runbook needs ls, show or run").hinted(usage)),
        [other, ..] => Err(Error::usage(format!(
            "runbook has no action '{other}': ls, show or run"
        ))
        .hinted(usage)),
    }
}

fn list(ctx: &mut Ctx, dirs: &Dirs) -> Output {
    let mut rows = Vec::new();
    for e in runbook::discover(dirs) {
        if let Some(r) = &e.replaces {
            ctx.note(&format!("runbook {}: {} replaces {r}", e.name, e.source));
        }
        let mut r = Record::new();
        r.insert("name", Value::String(e.name.clone()));
        match &e.loaded {
            Ok(rb) => {
                r.insert("description", Value::String(rb.description.clone()));
                let names: Vec<String> = rb.params.iter().map(|p| p.name.clone()).collect();
                r.insert("params", Value::String(names.join(" ")));
            }
            Err(err) => {
                ctx.note(&format!(
                    "runbook {} cannot be used: {}",
                    e.name, err.message
                ));
                r.insert(
                    "description",
                    Value::String("(broken: see the note)".into()),
                );
                r.insert("params", Value::String(String::new()));
            }
        }
        r.insert("source", Value::String(e.source.clone()));
        rows.push(Value::Record(r));
    }
    Output::value(Value::List(rows))
        .with_columns(&["name", "description", "source"])
        .with_empty("no runbooks")
}

/// Every line's commands exist (and none is `runbook`), and so do the ones `requires` names.
fn check_commands(rb: &Runbook) -> Result<()> {
    for name in &rb.requires.commands {
        if super::find(name).is_none() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "{}: `requires.commands` names '{name}', which is no pvesh+ command",
                    rb.source
                ),
            )
            .hinted("`help` lists the commands"));
        }
    }
    for s in &rb.steps {
        // An `each="LINE"` is a line too (a selector or VMIDs is not).
        let each = s
            .each
            .iter()
            .filter(|e| {
                !e.split_whitespace()
                    .all(|w| w.starts_with('@') || w.starts_with("{{") || w.parse::<u32>().is_ok())
            })
            .map(|e| (s.line, e.clone()));
        let reads_only = each.clone().map(|(_, l)| l);
        for l in reads_only {
            let writes = l.split('|').find_map(|stage| {
                let first = stage.split_whitespace().next()?;
                let cmd = super::find(first)?;
                let reads = matches!(cmd.sig.category, Category::Read | Category::Records)
                    && cmd.sig.action.is_none();
                (!reads).then_some(first)
            });
            if let Some(w) = writes {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{}:{}: `each=\"{l}\"` uses '{w}': the line that selects the guests may only read (ls, status, where ...)",
                        rb.source, s.line
                    ),
                ));
            }
        }
        for (n, l) in s.lines.iter().cloned().chain(each) {
            let (n, l) = (&n, &l);
            for span in crate::lang::statements(l) {
                for stage in l[span.start..span.end].split('|') {
                    let Some(first) = stage.split_whitespace().next() else {
                        continue;
                    };
                    let why = if first == "runbook" {
                        Some("a runbook cannot run runbooks".to_string())
                    } else if first.contains("{{") {
                        Some("a line starts with a command, not a {{parameter}}".to_string())
                    } else if super::find(first).is_none() {
                        Some(format!("'{first}' is no pvesh+ command"))
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        return Err(Error::new(
                            ErrorKind::Config,
                            format!("{}:{n}: {why}", rb.source),
                        )
                        .hinted("`help` lists the commands"));
                    }
                }
            }
        }
    }
    Ok(())
}

fn show(ctx: &mut Ctx, dirs: &Dirs, name: &str) -> Result<Output> {
    let (rb, note) = runbook::find(dirs, name)?;
    if let Some(n) = note {
        ctx.note(&n);
    }
    check_commands(&rb)?;
    if ctx.format != crate::session::OutputFormat::Table {
        let mut r = Record::new();
        r.insert("name", Value::String(rb.name.clone()));
        r.insert("description", Value::String(rb.description.clone()));
        r.insert("source", Value::String(rb.source.clone()));
        let params = rb
            .params
            .iter()
            .map(|p| {
                let mut q = Record::new();
                q.insert("name", Value::String(p.name.clone()));
                q.insert("rule", Value::String(p.rule()));
                q.insert(
                    "default",
                    p.default.clone().map_or(Value::Null, Value::String),
                );
                q.insert("description", Value::String(p.description.clone()));
                Value::Record(q)
            })
            .collect();
        r.insert("params", Value::List(params));
        let steps = rb
            .steps
            .iter()
            .map(|s| {
                let mut q = Record::new();
                q.insert("title", Value::String(s.title.clone()));
                q.insert("each", s.each.clone().map_or(Value::Null, Value::String));
                q.insert("batch", s.batch.clone().map_or(Value::Null, Value::String));
                let lines = s.lines.iter().map(|(_, l)| Value::String(l.clone()));
                q.insert("lines", Value::List(lines.collect()));
                Value::Record(q)
            })
            .collect();
        r.insert("steps", Value::List(steps));
        return Ok(Output::value(Value::Record(r)));
    }
    let mut text = format!("{}: {}\nsource: {}\n", rb.name, rb.description, rb.source);
    text.push_str("\nparameters:\n");
    if rb.params.is_empty() {
        text.push_str("  none\n");
    }
    for p in &rb.params {
        let default = match &p.default {
            Some(d) => format!("default {}", crate::runbook::format::word(d)),
            None => "required".to_string(),
        };
        text.push_str(&format!("  {} ({default}): {}\n", p.name, p.rule()));
        if !p.description.is_empty() {
            text.push_str(&format!("      {}\n", p.description));
        }
    }
    if !rb.requires.commands.is_empty() || !rb.requires.content.is_empty() {
        text.push_str("\nrequires:\n");
        if !rb.requires.commands.is_empty() {
            text.push_str(&format!(
                "  commands: {}\n",
                rb.requires.commands.join(", ")
            ));
        }
        if !rb.requires.content.is_empty() {
            text.push_str(&format!(
                "  a storage with content: {}\n",
                rb.requires.content.join(", ")
            ));
        }
    }
    text.push_str("\nsteps:\n");
    for (i, s) in rb.steps.iter().enumerate() {
        text.push_str(&format!("  {}. {}\n", i + 1, s.title));
        if let Some(e) = &s.each {
            let b = s.batch.as_deref().unwrap_or("1");
            text.push_str(&format!("     for each guest of {e}, batch={b}:\n"));
        }
        for (_, l) in &s.lines {
            text.push_str(&format!("       {l}\n"));
        }
    }
    Ok(Output::value(Value::String(text)).raw())
}

/// Some active storage offers each content type `requires.content` names.
async fn check_content(ctx: &mut Ctx, rb: &Runbook) -> Result<()> {
    if rb.requires.content.is_empty() {
        return Ok(());
    }
    let inv = ctx.inventory().await?;
    for c in &rb.requires.content {
        let found = inv
            .storages()
            .iter()
            .any(|s| s.content.iter().any(|x| x == c) && s.status == "available");
        if !found {
            return Err(Error::usage(format!(
                "runbook {} needs a storage with content '{c}', and no available storage has it",
                rb.name
            ))
            .hinted(format!(
                "add '{c}' to a storage's content (Datacenter → Storage), or run another runbook"
            )));
        }
    }
    Ok(())
}

/// `runbook run NAME k=v... --from STEP`: the command that resumes at `at`, with the values
/// the user gave or was asked for.
fn resume_line(rb: &Runbook, values: &Values, at: Start) -> String {
    let mut out = format!("runbook run {}", rb.name);
    for (k, v) in values {
        if v.given {
            out.push_str(&format!(" {k}={}", crate::runbook::format::word(&v.value)));
        }
    }
    out.push_str(&format!(" --from {}", at.text()));
    out
}

async fn run(ctx: &mut Ctx, dirs: &Dirs, name: &str, call: &Call) -> Result<Output> {
    let (rb, note) = runbook::find(dirs, name)?;
    if let Some(n) = note {
        ctx.note(&n);
    }
    check_commands(&rb)?;
    let given: Vec<(String, String)> = call
        .args
        .pairs
        .iter()
        .map(|p| (p.key.clone(), p.value.text.clone()))
        .collect();
    let from = match flag_text(call, "from") {
        Some(f) => Start::parse(&f, &rb)?,
        None => Start::default(),
    };
    let mut terminal = DialoguerPrompter::if_terminal();
    let prompter: Option<&mut dyn crate::wizard::Prompter> = terminal
        .as_mut()
        .map(|t| t as &mut dyn crate::wizard::Prompter);
    let values = runner::resolve(&rb, &given, prompter)?;
    let steps = runner::plan(&rb, &values)?;
    check_content(ctx, &rb).await?;
    let now = runner::selections_now(ctx, &steps, &Engine).await;
    let text = runner::plan_text(&rb, &values, &steps, from, &now);
    if call.args.has_flag("dry-run") {
        for l in text.lines() {
            ctx.note(l);
        }
        ctx.note("dry run: nothing ran");
        return Ok(Output::value(runner::plan_rows(&steps)).with_columns(&["step", "line"]));
    }
    if rb.commits_from(from.step) && !ctx.staging.buffer.is_empty() {
        return Err(Error::usage(format!(
            "{} change(s) are pending from before, and runbook {} has a `commit` line that would apply them too",
            ctx.staging.buffer.len(),
            rb.name
        ))
        .hinted("`pending` lists them: `commit` or `discard` them first"));
    }
    for l in text.lines() {
        ctx.note(l);
    }
    let resume = |at: Start| resume_line(&rb, &values, at);
    let outcome = runner::run(ctx, &rb, &steps, from, &Engine, &resume).await;
    Ok(Output::value(Value::List(outcome.rows))
        .with_columns(&["step", "title", "status", "detail"])
        .with_failure(outcome.failure))
}
