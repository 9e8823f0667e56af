//! Running a runbook: its parameters resolved (given `k=v`, defaults, asked through the
//! wizard's [`Prompter`] on a terminal, else an error naming the missing ones), its plan (the
//! steps with the values in), then the steps in order, each line through a [`LineRunner`] (the
//! commands' engine: the same language, staging and executor as typed lines). The first failing
//! line stops the run; the error names the step and the `--from` that resumes it.
//!
//! A block with `each=SELECTOR` runs once per batch of the selection's guests (resolved when the
//! step starts, in VMID order), `batch=N` at a time (default 1), with `{{guests}}` the batch's
//! VMIDs and, one at a time, `{{guest}}` the guest's VMID. `--from 3.2` resumes step 3 at its
//! second batch.
//!
//! Must not: touch the terminal (progress goes through `ctx.note`; asking through the prompter).

use indexmap::IndexMap;

use super::format::{self, GUEST, GUESTS, ParamType, Runbook};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{Record, Value};
use crate::session::{BoxFuture, Ctx};
use crate::wizard::{Choice, Prompter};

/// Runs one runbook line as if typed (`;` separating pipelines allowed); `Ok` is a short text
/// of what it gave, shown as progress.
pub trait LineRunner {
    fn run<'a>(&'a self, ctx: &'a mut Ctx, line: &'a str) -> BoxFuture<'a, Result<String>>;
    /// Runs a line that produces guests (`ls | where ...`) and returns their VMIDs.
    fn vmids<'a>(&'a self, ctx: &'a mut Ctx, line: &'a str) -> BoxFuture<'a, Result<Vec<u32>>>;
}

/// A parameter's value, and whether the user gave it (given and asked ones go into the
/// resume command; defaults need not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamValue {
    pub value: String,
    pub given: bool,
}

/// The parameters' values, in declaration order.
pub type Values = IndexMap<String, ParamValue>;

fn bad_param(rb: &Runbook, name: &str, why: &str) -> Error {
    Error::usage(format!("runbook {}: parameter '{name}' {why}", rb.name))
        .with_param(name, why)
        .hinted(format!(
            "`runbook show {}` lists its parameters and their rules",
            rb.name
        ))
}

/// Resolves every parameter: given `k=v` (checked), else its default, else asked through
/// `prompter`; without one, the missing parameters are an error naming them (exit 2).
pub fn resolve(
    rb: &Runbook,
    given: &[(String, String)],
    mut prompter: Option<&mut dyn Prompter>,
) -> Result<Values> {
    for (i, (k, _)) in given.iter().enumerate() {
        if rb.param(k).is_none() {
            let names: Vec<&str> = rb.params.iter().map(|p| p.name.as_str()).collect();
            return Err(
                Error::usage(format!("runbook {} has no parameter '{k}'", rb.name))
                    .with_param(k, "unknown parameter")
                    .hinted(if names.is_empty() {
                        "it takes no parameters".to_string()
                    } else {
                        format!("its parameters: {}", names.join(", "))
                    }),
            );
        }
        if given[..i].iter().any(|(j, _)| j == k) {
            return Err(bad_param(rb, k, "is given twice"));
        }
    }
    let mut values = Values::new();
    let missing: Vec<&str> = rb
        .params
        .iter()
        .filter(|p| p.default.is_none() && !given.iter().any(|(k, _)| *k == p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() && prompter.is_none() {
        let example: Vec<String> = missing.iter().map(|m| format!("{m}=...")).collect();
        let mut err = Error::usage(format!(
            "runbook {} needs {} {} (no default): {}",
            rb.name,
            if missing.len() == 1 {
                "a value for"
            } else {
                "values for"
            },
            if missing.len() == 1 {
                "parameter"
            } else {
                "parameters"
            },
            missing.join(", ")
        ))
        .hinted(format!(
            "give them as key=value: `runbook run {} {}`",
            rb.name,
            example.join(" ")
        ));
        for m in &missing {
            err = err.with_param(*m, "missing");
        }
        return Err(err);
    }
    for p in &rb.params {
        if let Some((_, v)) = given.iter().find(|(k, _)| *k == p.name) {
            let v = p.check(v).map_err(|why| bad_param(rb, &p.name, &why))?;
            values.insert(
                p.name.clone(),
                ParamValue {
                    value: v,
                    given: true,
                },
            );
            continue;
        }
        if let Some(d) = &p.default {
            let d = format::substitute(d, &|n| values.get(n).map(|v| v.value.clone()))
                .map_err(|m| bad_param(rb, &p.name, &m))?;
            let v = p
                .check(&d)
                .map_err(|why| bad_param(rb, &p.name, &format!("(its default) {why}")))?;
            values.insert(
                p.name.clone(),
                ParamValue {
                    value: v,
                    given: false,
                },
            );
            continue;
        }
        let Some(ask) = prompter.as_deref_mut() else {
            return Err(bad_param(rb, &p.name, "is missing"));
        };
        let prompt = if p.description.is_empty() {
            p.name.clone()
        } else {
            format!("{} ({})", p.name, p.description)
        };
        let v = match p.ty {
            ParamType::Enum => {
                let choices: Vec<Choice> = p.choices.iter().map(|c| Choice::new(c, c)).collect();
                p.choices[ask.select(&prompt, &choices, None)?].clone()
            }
            ParamType::Bool => {
                if ask.confirm(&prompt, false)? {
                    "1".into()
                } else {
                    "0".into()
                }
            }
            _ => {
                let check = |s: &str| p.check(s).map(|_| ());
                let text = ask.input(&prompt, None, &check)?;
                p.check(&text).map_err(|why| bad_param(rb, &p.name, &why))?
            }
        };
        values.insert(
            p.name.clone(),
            ParamValue {
                value: v,
                given: true,
            },
        );
    }
    Ok(values)
}

/// Where a run starts: a step, and within a repeated step a batch (both 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    pub step: usize,
    pub batch: usize,
}

impl Default for Start {
    fn default() -> Self {
        Start { step: 1, batch: 1 }
    }
}

impl Start {
    /// `3` or `3.2`, checked against the runbook's steps.
    pub fn parse(text: &str, rb: &Runbook) -> Result<Start> {
        let bad = || {
            Error::usage(format!(
                "--from takes a step number from 1 to {} (or STEP.BATCH in a repeated step), got '{text}'",
                rb.steps.len()
            ))
            .hinted(format!("`runbook show {}` numbers the steps", rb.name))
        };
        let (s, b) = text.split_once('.').unwrap_or((text, "1"));
        let step: usize = s.parse().map_err(|_| bad())?;
        let batch: usize = b.parse().map_err(|_| bad())?;
        if step == 0 || step > rb.steps.len() || batch == 0 {
            return Err(bad());
        }
        if batch > 1 && rb.steps[step - 1].each.is_none() {
            return Err(bad());
        }
        Ok(Start { step, batch })
    }

    pub fn text(&self) -> String {
        if self.batch > 1 {
            format!("{}.{}", self.step, self.batch)
        } else {
            self.step.to_string()
        }
    }
}

/// A step with the parameters' values in (`{{guest}}` and `{{guests}}` stay until it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub number: usize,
    pub title: String,
    pub lines: Vec<String>,
    pub each: Option<String>,
    pub batch: usize,
}

/// The steps with the values substituted (each value one word of the line).
pub fn plan(rb: &Runbook, values: &Values) -> Result<Vec<Planned>> {
    let lookup = |quote: bool| {
        move |n: &str| -> Option<String> {
            if n == GUEST || n == GUESTS {
                return Some(format!("{{{{{n}}}}}"));
            }
            values.get(n).map(|v| {
                if quote {
                    format::word(&v.value)
                } else {
                    v.value.clone()
                }
            })
        }
    };
    let quoted = lookup(true);
    let plain = lookup(false);
    let fail = |m: String| Error::internal(format!("runbook {}: {m}", rb.name));
    let mut out = Vec::new();
    for (i, s) in rb.steps.iter().enumerate() {
        let lines = s
            .lines
            .iter()
            .map(|(_, l)| format::substitute(l, &quoted).map_err(fail))
            .collect::<Result<Vec<_>>>()?;
        let each = match &s.each {
            Some(e) => Some(format::substitute(e, &plain).map_err(fail)?),
            None => None,
        };
        let batch = match &s.batch {
            None => 1,
            Some(b) => {
                let b = format::substitute(b, &plain).map_err(fail)?;
                b.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    Error::usage(format!(
                        "runbook {}: step {} has `batch={b}`: a number ≥ 1 is needed",
                        rb.name,
                        i + 1
                    ))
                })?
            }
        };
        out.push(Planned {
            number: i + 1,
            title: s.title.clone(),
            lines,
            each,
            batch,
        });
    }
    Ok(out)
}

/// The plan as text: one numbered step per line, its command lines indented below; `now` is
/// what [`selections_now`] found.
pub fn plan_text(
    rb: &Runbook,
    values: &Values,
    steps: &[Planned],
    from: Start,
    now: &[Option<Vec<String>>],
) -> String {
    let mut out = format!("runbook {}: {} steps\n", rb.name, steps.len());
    // The values, wrapped at 80 columns.
    let mut line = String::from("  with");
    for (k, v) in values {
        let pair = format!(" {k}={}", format::word(&v.value));
        if line.len() > 6 && line.len() + pair.len() > 80 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("      ");
        }
        line.push_str(&pair);
    }
    if !values.is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    for s in steps {
        let skipped = if s.number < from.step {
            " (skipped: --from)"
        } else {
            ""
        };
        out.push_str(&format!("{}. {}{skipped}\n", s.number, s.title));
        if let Some(e) = &s.each {
            let how = if s.batch == 1 {
                "one guest at a time".to_string()
            } else {
                format!("{} guests at a time", s.batch)
            };
            let now = match now.get(s.number - 1) {
                Some(Some(ids)) if ids.is_empty() => "; none now".to_string(),
                Some(Some(ids)) => format!("; now {}", ids.join(" ")),
                _ => String::new(),
            };
            out.push_str(&format!("   for each guest of: {e}\n   {how}{now}:\n"));
        }
        for l in &s.lines {
            out.push_str(&format!("     {l}\n"));
        }
    }
    out
}

/// The rows `runbook run --dry-run` returns: one per command line.
pub fn plan_rows(steps: &[Planned]) -> Value {
    let mut rows = Vec::new();
    for s in steps {
        for l in &s.lines {
            let mut r = Record::new();
            r.insert("step", Value::Int(s.number as i64));
            r.insert("title", Value::String(s.title.clone()));
            r.insert("each", s.each.clone().map_or(Value::Null, Value::String));
            r.insert("line", Value::String(l.clone()));
            rows.push(Value::Record(r));
        }
    }
    Value::List(rows)
}

/// What a run did: one row per step, and the error that stopped it.
pub struct Outcome {
    pub rows: Vec<Value>,
    pub failure: Option<Error>,
}

fn row(s: &Planned, status: &str, detail: String) -> Value {
    let mut r = Record::new();
    r.insert("step", Value::Int(s.number as i64));
    r.insert("title", Value::String(s.title.clone()));
    r.insert("status", Value::String(status.into()));
    r.insert("detail", Value::String(detail));
    Value::Record(r)
}

/// The guests each repeated step would run for now (reads only), for the plan: `None` for a
/// step without `each=`, or whose selection cannot be resolved yet (an earlier step makes it).
pub async fn selections_now(
    ctx: &mut Ctx,
    steps: &[Planned],
    lines: &dyn LineRunner,
) -> Vec<Option<Vec<String>>> {
    let mut out = Vec::new();
    for s in steps {
        let ids = match &s.each {
            None => None,
            Some(e) => selection(ctx, e, lines)
                .await
                .ok()
                .map(|v| v.iter().map(u32::to_string).collect()),
        };
        out.push(ids);
    }
    out
}

/// The guests of `each=`, in VMID order: of a selector or VMIDs (`@tag:web`, `101 102`), or
/// of the records a line gives (`ls | where tags has web`).
async fn selection(ctx: &mut Ctx, each: &str, lines: &dyn LineRunner) -> Result<Vec<u32>> {
    let words: Vec<String> = each.split_whitespace().map(str::to_string).collect();
    let targets = words
        .iter()
        .all(|w| w.starts_with('@') || w.parse::<u32>().is_ok());
    let mut vmids: Vec<u32> = if targets {
        ctx.refresh().await?;
        ctx.targets(&words).await?.iter().map(|g| g.vmid).collect()
    } else {
        lines.vmids(ctx, each).await?
    };
    vmids.sort_unstable();
    vmids.dedup();
    Ok(vmids)
}

/// Runs the steps from `from` on; `resume(from)` is the command that resumes at a step.
pub async fn run(
    ctx: &mut Ctx,
    rb: &Runbook,
    steps: &[Planned],
    from: Start,
    lines: &dyn LineRunner,
    resume: &dyn Fn(Start) -> String,
) -> Outcome {
    let total = steps.len();
    let mut rows = Vec::new();
    let mut failure = None;
    for s in steps {
        if failure.is_some() {
            rows.push(row(s, "not run", String::new()));
            continue;
        }
        if s.number < from.step {
            rows.push(row(s, "skipped", "before --from".into()));
            continue;
        }
        ctx.note(&format!("step {}/{total}: {}", s.number, s.title));
        // The runs of the block: one with no guests bound, or one per batch of the selection.
        let batches: Vec<Option<Vec<u32>>> = match &s.each {
            None => vec![None],
            Some(sel) => match selection(ctx, sel, lines).await {
                Ok(vmids) => vmids.chunks(s.batch).map(|c| Some(c.to_vec())).collect(),
                Err(e) => {
                    failure = Some(stopped(
                        rb,
                        s,
                        total,
                        &format!("each={sel}"),
                        e,
                        from_here(s, 1),
                        resume,
                    ));
                    rows.push(row(s, "failed", format!("selection {sel}")));
                    continue;
                }
            },
        };
        let first_batch = if s.number == from.step { from.batch } else { 1 };
        if s.each.is_some() && first_batch > batches.len().max(1) {
            let e = Error::usage(format!(
                "--from {}: step {} has {} batch(es) now",
                from.text(),
                s.number,
                batches.len()
            ));
            failure = Some(e);
            rows.push(row(s, "failed", "no such batch".into()));
            continue;
        }
        let mut done_lines = 0;
        let count = batches.len();
        'batches: for (bi, batch) in batches.iter().enumerate() {
            if bi + 1 < first_batch {
                continue;
            }
            if let Some(b) = batch {
                let ids: Vec<String> = b.iter().map(u32::to_string).collect();
                let what = if s.batch == 1 { "guest" } else { "batch" };
                ctx.note(&format!(
                    "step {}/{total} {what} {}/{count}: {}",
                    s.number,
                    bi + 1,
                    ids.join(" ")
                ));
            }
            let bound = |n: &str| -> Option<String> {
                let b = batch.as_ref()?;
                match n {
                    GUESTS => Some(b.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")),
                    GUEST if b.len() == 1 => Some(b[0].to_string()),
                    _ => None,
                }
            };
            for l in &s.lines {
                let line = match format::substitute(l, &bound) {
                    Ok(line) => line,
                    Err(m) => {
                        failure = Some(Error::internal(format!("runbook {}: {m}", rb.name)));
                        break 'batches;
                    }
                };
                let at = Start {
                    step: s.number,
                    batch: if batch.is_some() { bi + 1 } else { 1 },
                };
                // A first Ctrl-C during a commit only stops new actions (`graceful`): the
                // runbook stops too, before its next line.
                if ctx.staging.cancel.is_cancelled() {
                    let e = Error::new(ErrorKind::Interrupted, "interrupted");
                    failure = Some(stopped(rb, s, total, &line, e, at, resume));
                    break 'batches;
                }
                ctx.note(&format!("  > {line}"));
                let result = lines.run(ctx, &line).await;
                // The next line is not a commit being stopped gracefully (until it says so).
                ctx.staging
                    .graceful
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                match result {
                    Ok(text) => {
                        for t in text.lines() {
                            ctx.note(&format!("    {t}"));
                        }
                        done_lines += 1;
                    }
                    Err(e) => {
                        failure = Some(stopped(rb, s, total, &line, e, at, resume));
                        break 'batches;
                    }
                }
            }
        }
        if failure.is_some() {
            rows.push(row(s, "failed", format!("{done_lines} line(s) ran before")));
        } else {
            let detail = match &s.each {
                Some(_) => format!("{count} run(s), {done_lines} line(s)"),
                None => format!("{done_lines} line(s)"),
            };
            rows.push(row(s, "done", detail));
        }
    }
    if failure.is_none() {
        ctx.note(&format!("runbook {}: all {total} steps done", rb.name));
    }
    Outcome { rows, failure }
}

fn from_here(s: &Planned, batch: usize) -> Start {
    Start {
        step: s.number,
        batch,
    }
}

/// The error of a failed line, named by its step, with the command that resumes there.
fn stopped(
    rb: &Runbook,
    s: &Planned,
    total: usize,
    line: &str,
    e: Error,
    at: Start,
    resume: &dyn Fn(Start) -> String,
) -> Error {
    // The line's own kind, so the exit code is the line's (3 for a partly failed commit).
    let mut err = Error::new(
        e.kind,
        format!(
            "runbook {}: step {}/{total} ({}) failed at `{line}`: {}",
            rb.name, s.number, s.title, e.message
        ),
    );
    err.hints = e.hints;
    err.params = e.params;
    err.http_status = e.http_status;
    err.hints.push(format!(
        "the later steps did not run; `pending` shows what is staged; fix the cause, then resume: `{}`",
        resume(at)
    ));
    err
}
