//! Several clusters in one session: `context ls`, `context use NAME`, and lines that run on
//! several clusters at once.
//!
//! Each cluster keeps a whole session of its own ([`Ctx`]: client, inventory, pending buffer,
//! current VM), parked in [`crate::session::Contexts`] while another one is current. A read with
//! `--cluster a,b` (or `--all-clusters`) runs on each cluster's session at once and merges the
//! records, each with a `cluster` field; a cluster that does not answer gets a row saying why.
//! A later stage that gets records of several clusters (an action on a merged set) runs once
//! per cluster, on that cluster's session: so it stages into that cluster's plan, and `commit`
//! commits each cluster's plan in turn.

use futures_util::future::join_all;

use super::{Call, Category, Command, Ctx, Output};
use crate::error::{Error, Result};
use crate::lang::{Record, Value};

/// The plan commands that, with changes pending on several clusters, run on each of them.
const PLAN_ACROSS: &[&str] = &["pending", "diff", "commit", "discard", "approvals"];

/// Whether a command can run on several clusters at once as the first stage of a line: the
/// reads (but the live screen and the waits) and the plan commands.
pub fn can_fan_out(cmd: &Command) -> bool {
    match cmd.sig.category {
        // `export` writes one document of every cluster's guests itself.
        Category::Read => !matches!(cmd.sig.name, "dashboard" | "wait-ssh" | "export"),
        Category::Plan => PLAN_ACROSS.contains(&cmd.sig.name),
        _ => false,
    }
}

/// Whether a command works on the records themselves (`where`, `sort-by`, ...) or on the session
/// (`use`, `help`): those never need a cluster's session of their own; nor `export`, which
/// looks each record up in its own cluster's session.
fn cluster_free(cmd: &Command) -> bool {
    matches!(cmd.sig.category, Category::Records | Category::Session) || cmd.sig.name == "export"
}

/// The clusters a session can name: the config's, then any it is connected to that the config
/// does not name (the demo's).
pub fn known(ctx: &Ctx) -> Vec<String> {
    let mut names: Vec<String> = ctx.config.clusters.keys().cloned().collect();
    for name in std::iter::once(&ctx.cluster).chain(ctx.contexts.parked.keys()) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn unknown(ctx: &Ctx, name: &str) -> Error {
    let names = known(ctx);
    let close: Vec<&String> = names
        .iter()
        .filter(|n| strsim::osa_distance(n, name) <= 2)
        .collect();
    let err = Error::usage(format!("no cluster '{name}' in the config"));
    let err = match close.first() {
        Some(c) => err.hinted(format!("did you mean {c}?")),
        None => err,
    };
    err.hinted(format!(
        "clusters: {} (`context ls` shows them)",
        names.join(", ")
    ))
}

/// The clusters of `--cluster a,b` (or all of them for `--all-clusters`), checked against the
/// config, in the order given, each once.
pub fn parse_set(ctx: &Ctx, list: Option<&str>, all: bool) -> Result<Vec<String>> {
    if all {
        let mut names = known(ctx);
        // The current cluster first, so its rows come first.
        names.retain(|n| *n != ctx.cluster);
        names.insert(0, ctx.cluster.clone());
        return Ok(names);
    }
    let mut names: Vec<String> = Vec::new();
    for name in list.unwrap_or_default().split(',').map(str::trim) {
        if name.is_empty() || names.iter().any(|n| n == name) {
            continue;
        }
        if !known(ctx).iter().any(|n| n == name) {
            return Err(unknown(ctx, name));
        }
        names.push(name.to_string());
    }
    if names.is_empty() {
        return Err(
            Error::usage("--cluster needs the names of clusters: --cluster a,b")
                .hinted("`context ls` lists them; --all-clusters takes every one"),
        );
    }
    Ok(names)
}

/// Connects, at once, to the clusters of `names` this session is not connected to yet, and
/// parks their sessions. Returns the clusters that could not be reached, with why.
pub async fn connect_all(ctx: &mut Ctx, names: &[String]) -> Result<Vec<(String, Error)>> {
    let missing: Vec<String> = names
        .iter()
        .filter(|n| **n != ctx.cluster && !ctx.contexts.parked.contains_key(*n))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let Some(connector) = ctx.contexts.connector.clone() else {
        return Err(Error::usage(format!(
            "this session cannot connect to {}: it has one cluster",
            missing.join(", ")
        ))
        .hinted("a --demo session is one simulated cluster; name several in the config and start without --demo"));
    };
    let results = join_all(missing.iter().map(|name| connector(name.clone()))).await;
    let mut failed = Vec::new();
    for (name, result) in missing.into_iter().zip(results) {
        match result {
            Ok(session) => {
                ctx.contexts.parked.insert(name, session);
            }
            Err(e) => failed.push((name, e)),
        }
    }
    Ok(failed)
}

/// Runs a stage on each cluster of `names`: reads at once, plan commands one cluster after
/// the other (their progress stays readable, and a refused commit is not hidden by another's).
pub async fn run_across(
    ctx: &mut Ctx,
    cmd: &'static Command,
    call: Call,
    names: &[String],
) -> Result<Output> {
    let unreachable = connect_all(ctx, names).await?;
    let mut others: Vec<Ctx> = names
        .iter()
        .filter_map(|n| ctx.contexts.parked.shift_remove(n))
        .collect();
    let include_self = names.contains(&ctx.cluster);
    let plan = cmd.sig.category == Category::Plan;
    let several = names.len() > 1;
    if several {
        ctx.note_prefix = Some(format!("{}: ", ctx.cluster));
        for other in &mut others {
            other.note_prefix = Some(format!("{}: ", other.cluster));
        }
    }
    let mut results: Vec<(String, Result<Output>)> = Vec::new();
    if plan {
        if include_self {
            let cluster = ctx.cluster.clone();
            results.push((cluster, (cmd.run)(ctx, call.clone()).await));
        }
        for other in &mut others {
            let cluster = other.cluster.clone();
            results.push((cluster, (cmd.run)(other, call.clone()).await));
        }
    } else {
        let mut clusters: Vec<String> = Vec::new();
        let mut runs = Vec::new();
        if include_self {
            clusters.push(ctx.cluster.clone());
            runs.push((cmd.run)(ctx, call.clone()));
        }
        for other in &mut others {
            clusters.push(other.cluster.clone());
            runs.push((cmd.run)(other, call.clone()));
        }
        results = clusters.into_iter().zip(join_all(runs).await).collect();
    }
    ctx.note_prefix = None;
    for mut other in others {
        other.note_prefix = None;
        ctx.contexts.parked.insert(other.cluster.clone(), other);
    }
    for (name, e) in unreachable {
        results.push((name, Err(e)));
    }
    // In the order the clusters were named.
    results.sort_by_key(|(c, _)| names.iter().position(|n| n == c));
    for (cluster, result) in &results {
        if let Err(e) = result {
            ctx.note(&format!("cluster {cluster}: {}", e.message));
        }
    }
    merge(results, plan)
}

/// The distinct `cluster` fields of the records flowing in, in order of appearance; records
/// without one are the current cluster's.
fn clusters_of(input: &Value, current: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let items: &[Value] = match input {
        Value::List(items) => items,
        Value::Record(_) => std::slice::from_ref(input),
        _ => &[],
    };
    for item in items {
        let cluster = item
            .as_record()
            .and_then(|r| r.get("cluster"))
            .and_then(Value::as_str)
            .unwrap_or(current);
        if !out.iter().any(|c| c == cluster) {
            out.push(cluster.to_string());
        }
    }
    out
}

/// Whether a stage gets records of other clusters than the current one, and so must run on
/// each cluster's session ([`run_split`]).
pub fn needs_split(ctx: &Ctx, cmd: &Command, input: &Value) -> bool {
    if cluster_free(cmd) {
        return false;
    }
    let clusters = clusters_of(input, &ctx.cluster);
    clusters.len() > 1 || clusters.first().is_some_and(|c| *c != ctx.cluster)
}

/// Runs a stage once per cluster of its input records, each time on that cluster's session with
/// that cluster's records only: `ls --all-clusters | where tags has prod | stop` stages each
/// stop in its own cluster's plan.
pub async fn run_split(ctx: &mut Ctx, cmd: &'static Command, call: Call) -> Result<Output> {
    let current = ctx.cluster.clone();
    let clusters = clusters_of(&call.input, &current);
    let items = match &call.input {
        Value::List(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut results: Vec<(String, Result<Output>)> = Vec::new();
    for cluster in clusters {
        let mine: Vec<Value> = items
            .iter()
            .filter(|item| {
                item.as_record()
                    .and_then(|r| r.get("cluster"))
                    .and_then(Value::as_str)
                    .unwrap_or(&current)
                    == cluster
            })
            .cloned()
            .collect();
        let Some(session) = ctx.on_cluster(&cluster) else {
            return Err(Error::usage(format!(
                "{}: these records are of cluster {cluster}, which this session is not connected to",
                cmd.sig.name
            ))
            .hinted(format!("read them in this session: ls --cluster {cluster} | ...")));
        };
        let input = if matches!(call.input, Value::List(_)) {
            Value::List(mine)
        } else {
            mine.into_iter().next().unwrap_or_default()
        };
        let part = Call {
            input,
            ..call.clone()
        };
        session.note_prefix = Some(format!("{cluster}: "));
        let result = (cmd.run)(session, part).await;
        session.note_prefix = None;
        match result {
            Ok(out) => results.push((cluster, Ok(out))),
            Err(e) => {
                let label = format!("on cluster {cluster}");
                return Err(e.hinted(label));
            }
        }
    }
    merge(results, true)
}

/// One output of the outputs of several clusters: records gain a `cluster` field first; a
/// cluster that failed gets a row with its error. With `strict` (plan commands and actions), a
/// failure also fails the line; a read still answers with the clusters that did.
fn merge(results: Vec<(String, Result<Output>)>, strict: bool) -> Result<Output> {
    if results.iter().all(|(_, r)| r.is_err()) {
        let mut errors = results
            .into_iter()
            .filter_map(|(c, r)| r.err().map(|e| (c, e)));
        let Some((cluster, first)) = errors.next() else {
            return Ok(Output::none());
        };
        let others: Vec<String> = errors.map(|(c, _)| c).collect();
        if others.is_empty() {
            return Err(first);
        }
        return Err(first.hinted(format!(
            "on cluster {cluster}; the others did not answer either ({})",
            others.join(", ")
        )));
    }
    let mut rows: Vec<Value> = Vec::new();
    let mut columns: Option<Vec<String>> = None;
    let mut empty = "no results";
    let mut failure: Option<Error> = None;
    let mut errors = false;
    for (cluster, result) in results {
        match result {
            Ok(mut out) => {
                if columns.is_none() {
                    columns = out.columns.clone();
                    empty = out.empty;
                }
                if failure.is_none() {
                    failure = out.failure.take();
                }
                match out.take_value() {
                    Value::List(items) => {
                        rows.extend(items.into_iter().map(|v| tagged(&cluster, v)));
                    }
                    Value::Null => {}
                    v => rows.push(tagged(&cluster, v)),
                }
            }
            Err(e) => {
                errors = true;
                rows.push(Value::Record(Record::from_pairs([
                    ("cluster", Value::String(cluster.clone())),
                    ("error", Value::String(e.message.clone())),
                ])));
                if strict && failure.is_none() {
                    failure = Some(e.hinted(format!("on cluster {cluster}")));
                }
            }
        }
    }
    let columns = columns.map(|cols| {
        let mut all = vec!["cluster".to_string()];
        all.extend(cols.into_iter().filter(|c| c != "cluster"));
        if errors {
            all.push("error".to_string());
        }
        all
    });
    let mut out = Output::value(Value::List(rows))
        .with_empty(empty)
        .with_failure(failure);
    out.columns = columns;
    Ok(out)
}

/// `v` with `cluster` as its first field (a value that is not a record becomes `value`).
fn tagged(cluster: &str, v: Value) -> Value {
    let cluster = ("cluster", Value::String(cluster.to_string()));
    match v {
        Value::Record(r) => Value::Record(Record::from_pairs(
            std::iter::once(cluster).chain(
                r.iter()
                    .filter(|(k, _)| *k != "cluster")
                    .map(|(k, v)| (k, v.clone())),
            ),
        )),
        other => Value::Record(Record::from_pairs([cluster, ("value", other)])),
    }
}

/// The plan commands' clusters when no `--cluster` is given: every cluster with changes
/// pending, when that is more than the current one alone (then `commit` commits each).
pub fn pending_set(ctx: &Ctx, cmd: &Command) -> Option<Vec<String>> {
    if !PLAN_ACROSS.contains(&cmd.sig.name) {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    if !ctx.staging.buffer.is_empty() {
        names.push(ctx.cluster.clone());
    }
    names.extend(
        ctx.contexts
            .parked
            .iter()
            .filter(|(_, c)| !c.staging.buffer.is_empty())
            .map(|(n, _)| n.clone()),
    );
    let only_current = names.len() == 1 && names[0] == ctx.cluster;
    (!names.is_empty() && !only_current).then_some(names)
}

/// `context ls`: every cluster of the config, which one is current, and whether it answers now
/// (a cluster not connected yet is connected to find out, and then stays connected).
pub async fn list(ctx: &mut Ctx) -> Result<Output> {
    let names = known(ctx);
    let unreachable = connect_all(ctx, &names).await?;
    let mut checks = Vec::new();
    for name in &names {
        let Some(session) = ctx.on_cluster(name) else {
            continue;
        };
        let client = session.client.clone();
        let pending = session.staging.buffer.len();
        let vm = session.current;
        let name = name.clone();
        checks.push(async move {
            let request = crate::api::endpoints::version();
            let answer =
                tokio::time::timeout(std::time::Duration::from_secs(10), client.get(&request))
                    .await;
            let error = match answer {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(Error::from(e).message),
                Err(_) => Some("no answer within 10 s".to_string()),
            };
            (name, client, pending, vm, error)
        });
    }
    let checked = join_all(checks).await;
    let mut rows = Vec::new();
    for name in &names {
        let row = if let Some((_, client, pending, vm, error)) =
            checked.iter().find(|(n, ..)| n == name)
        {
            Record::from_pairs([
                ("current", Value::Bool(*name == ctx.cluster)),
                ("cluster", Value::String(name.clone())),
                ("server", Value::String(client.base_url().to_string())),
                ("user", Value::String(client.username().to_string())),
                ("reachable", Value::Bool(error.is_none())),
                ("pending", Value::Int(*pending as i64)),
                ("vm", vm.map_or(Value::Null, |v| Value::Int(i64::from(v)))),
                ("error", error.clone().map_or(Value::Null, Value::String)),
            ])
        } else {
            let error = unreachable
                .iter()
                .find(|(n, _)| n == name)
                .map_or_else(|| "not connected".to_string(), |(_, e)| e.message.clone());
            Record::from_pairs([
                ("current", Value::Bool(false)),
                ("cluster", Value::String(name.clone())),
                ("server", Value::Null),
                ("user", Value::Null),
                ("reachable", Value::Bool(false)),
                ("pending", Value::Null),
                ("vm", Value::Null),
                ("error", Value::String(error)),
            ])
        };
        rows.push(Value::Record(row));
    }
    // Why a cluster does not answer is too long for the table's row: it is said below it
    // (and kept in the record's `error`).
    for row in &rows {
        if let Some(r) = row.as_record()
            && let (Some(name), Some(error)) = (
                r.get("cluster").and_then(Value::as_str),
                r.get("error").and_then(Value::as_str),
            )
        {
            ctx.note(&format!("cluster {name} does not answer: {error}"));
        }
    }
    Ok(Output::value(Value::List(rows)).with_columns(&[
        "current",
        "cluster",
        "server",
        "user",
        "reachable",
        "pending",
    ]))
}

/// `context use NAME`: makes another cluster current (connecting to it the first time); the
/// one left keeps its pending changes, inventory and current VM for when you come back.
pub async fn use_cluster(ctx: &mut Ctx, name: &str) -> Result<Output> {
    if name == ctx.cluster {
        ctx.note(&format!("already on cluster {name}"));
        return Ok(Output::none());
    }
    if !known(ctx).iter().any(|n| n == name) {
        return Err(unknown(ctx, name));
    }
    let names = [name.to_string()];
    if let Some((_, e)) = connect_all(ctx, &names).await?.into_iter().next() {
        return Err(e.hinted(format!(
            "still on cluster {}; `context ls` shows which clusters answer",
            ctx.cluster
        )));
    }
    let Some(session) = ctx.contexts.parked.shift_remove(name) else {
        return Err(unknown(ctx, name));
    };
    let left = ctx.cluster.clone();
    ctx.switch_to(session);
    let pending = ctx.staging.buffer.len();
    let pending = if pending > 0 {
        format!("; {pending} change(s) pending here (`pending` lists them)")
    } else {
        String::new()
    };
    ctx.note(&format!(
        "now on cluster {name} ({}){pending}; `context use {left}` goes back",
        ctx.client.base_url()
    ));
    Ok(Output::none())
}

/// `context`, `context ls`, `context use NAME`.
pub fn run<'a>(
    ctx: &'a mut Ctx,
    call: Call,
    record: fn(&Ctx) -> Value,
) -> super::BoxFuture<'a, Result<Output>> {
    Box::pin(async move {
        let words: Vec<String> = call
            .args
            .positionals
            .iter()
            .map(|w| w.text.clone())
            .collect();
        match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [] => Ok(Output::value(record(ctx))),
            ["ls"] => list(ctx).await,
            ["use", name] => use_cluster(ctx, name).await,
            ["use"] => Err(Error::usage("context use: which cluster?").hinted(format!(
                "context use NAME; clusters: {}",
                known(ctx).join(", ")
            ))),
            _ => Err(
                Error::usage(format!("context: unknown use '{}'", words.join(" ")))
                    .hinted("usage: context | context ls | context use NAME"),
            ),
        }
    })
}
