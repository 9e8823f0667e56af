//! Completion: a line and a cursor in, candidates out — a pure function of the line, the command
//! signatures and the cached inventory. It never waits on the network.
//!
//! What is completed follows the command's signature: command names first, then flags, flag
//! values, guests (VMIDs by prefix, names by prefix, then fuzzy), nodes, storages, selectors
//! (`@tag:`, `@pool:`, `@node:`), field names after `where`/`select`/`sort-by`/`sum` (those of
//! the records flowing in: after `group-by node --sum maxmem`, `node count sum.maxmem items`),
//! and values inside a filter (`status=r`, `node = `, `tags has p`, `node in [pv`). Some
//! commands read their earlier words: `use node p` wants a node, `set web01 co` a config key
//! (`cores=`), `rollback web01 ` that guest's snapshot names, and `create PATH`, `set PATH`,
//! `delete PATH` and `get PATH` the parameters of that method of PATH in the schema.

use std::ops::Range;

use super::complete_api;
use crate::api::schema::ApiSchema;
use crate::commands::{self, ArgKind, Command};
use crate::inventory::Inventory;
use crate::lang::{Aggregate, Token, lex_partial};

/// One completion candidate: the text that replaces `span`, and a short description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub description: String,
    pub span: Range<usize>,
}

/// The most candidates offered at once; more would only scroll.
const MAX: usize = 200;

/// Candidates for the word at `pos` in `line`.
pub fn complete(line: &str, pos: usize, inv: Option<&Inventory>) -> Vec<Candidate> {
    complete_with(line, pos, inv, None, "/")
}

/// What completion may read besides the line: all of it cached, none of it behind the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    pub inv: Option<&'a Inventory>,
    pub schema: Option<&'a ApiSchema>,
    /// The session's current API directory, for relative paths (`/` when empty).
    pub cwd: &'a str,
    /// The snapshot names of the guest whose snapshots the cursor wants ([`snapshot_owner`]),
    /// as last fetched.
    pub snapshots: &'a [String],
    /// The profile names (`new --profile`): the config's and the built-in ones.
    pub profiles: &'a [String],
    /// The clusters of the config (`context use`).
    pub clusters: &'a [String],
}

/// Like [`complete`], with the API schema for path and parameter completion and the session's
/// current API directory `cwd` for relative paths.
pub fn complete_with(
    line: &str,
    pos: usize,
    inv: Option<&Inventory>,
    schema: Option<&ApiSchema>,
    cwd: &str,
) -> Vec<Candidate> {
    complete_in(
        line,
        pos,
        &Sources {
            inv,
            schema,
            cwd,
            snapshots: &[],
            profiles: &[],
            clusters: &[],
        },
    )
}

/// The words of the line up to the cursor, cut where the cursor's stage starts.
struct Located {
    /// The earlier stages of the cursor's pipeline, each as its words.
    before: Vec<Vec<String>>,
    /// The cursor's stage: its words before the one under the cursor.
    stage: Vec<String>,
    /// The word under the cursor (empty for a new word) and the span it replaces.
    partial: String,
    span: Range<usize>,
}

fn locate(line: &str, pos: usize) -> Option<Located> {
    let pos = floor_char_boundary(line, pos.min(line.len()));
    let mut before: Vec<Vec<String>> = Vec::new();
    let mut stage: Vec<(String, Range<usize>)> = Vec::new();
    for t in lex_partial(&line[..pos]) {
        match t {
            Token::Pipe(_) => before.push(stage.drain(..).map(|(w, _)| w).collect()),
            Token::Semi(_) => {
                // A new pipeline starts: nothing before it matters.
                before.clear();
                stage.clear();
            }
            Token::Word(w) => stage.push((w.text, w.span.start..w.span.end)),
            Token::Comment(_) => return None,
        }
    }
    // The word under the cursor: the last word if it touches the cursor, else a new empty word.
    let (partial, span) = match stage.last() {
        Some((text, range)) if range.end == pos => {
            let (text, range) = (text.clone(), range.clone());
            stage.pop();
            (text, range)
        }
        _ => (String::new(), pos..pos),
    };
    Some(Located {
        before,
        stage: stage.into_iter().map(|(w, _)| w).collect(),
        partial,
        span,
    })
}

/// Candidates for the word at `pos` in `line`, from everything in `src`.
pub fn complete_in(line: &str, pos: usize, src: &Sources<'_>) -> Vec<Candidate> {
    let Some(at) = locate(line, pos) else {
        return Vec::new();
    };
    if at.stage.is_empty() {
        return command_names(&at.partial, at.span);
    }
    let Some(ctx) = Context::new(src, &at) else {
        return Vec::new();
    };
    let words: Vec<&str> = at.stage[1..].iter().map(String::as_str).collect();
    let want = ctx.want(&words, &at.partial);
    ctx.offer(want, &words, &at.partial, at.span)
}

/// Whose snapshot names completing at `pos` needs: the guest the line names (`rollback web01 `),
/// else `current` (`rollback ` with a current VM); `None` when the cursor wants no snapshot name.
pub fn snapshot_owner(
    line: &str,
    pos: usize,
    inv: Option<&Inventory>,
    current: Option<u32>,
) -> Option<u32> {
    let at = locate(line, pos)?;
    if at.stage.is_empty() {
        return None;
    }
    let src = Sources {
        inv,
        ..Sources::default()
    };
    let ctx = Context::new(&src, &at)?;
    let words: Vec<&str> = at.stage[1..].iter().map(String::as_str).collect();
    match ctx.want(&words, &at.partial) {
        Want::Snapshots(Some(vmid)) => Some(vmid),
        Want::Snapshots(None) => current,
        _ => None,
    }
}

/// What the word under the cursor is, decided from the signature and the words before it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Kind(ArgKind),
    /// Snapshot names of this guest; `None`: of the current VM.
    Snapshots(Option<u32>),
    /// The `name=` parameters of `method` on the API path that is the first word.
    ApiParams(&'static str),
    /// `set`: a config key (`cores=`), and a guest while none is named yet.
    SetWord {
        guest_named: bool,
    },
    /// `use`: a guest, or the words `node` and `..`.
    UseWord,
    /// A flag of the command.
    Flags,
    Nothing,
}

struct Context<'a> {
    inv: Option<&'a Inventory>,
    schema: Option<&'a ApiSchema>,
    /// The session's current API directory, for relative paths.
    cwd: &'a str,
    snapshots: &'a [String],
    profiles: &'a [String],
    clusters: &'a [String],
    cmd: &'static Command,
    /// The fields of the records flowing into this stage.
    fields: Vec<String>,
    /// Whether this stage is the first of its pipeline.
    first: bool,
}

/// Whether `word` is an API path (`/nodes`, `./config`, `../lxc`) rather than a setting or guest.
fn is_api_path(word: &str) -> bool {
    word.starts_with('/')
        || word == "."
        || word == ".."
        || word.starts_with("./")
        || word.starts_with("../")
}

/// The fields of the records that the stages `before` (the first one a command) pass on:
/// the first command's fields, then what `select` keeps and `group-by` makes.
fn flowing_fields(before: &[Vec<String>]) -> Vec<String> {
    let mut fields: Vec<String> = before
        .first()
        .and_then(|s| s.first())
        .and_then(|name| commands::find(name))
        .map(|c| c.sig.fields)
        .filter(|f| !f.is_empty())
        .unwrap_or(crate::commands::GUEST_FIELDS)
        .iter()
        .map(|f| f.to_string())
        .collect();
    for stage in before.iter().skip(1) {
        let Some((name, args)) = stage.split_first() else {
            continue;
        };
        match name.as_str() {
            "select" => {
                fields = args
                    .iter()
                    .filter(|a| !a.starts_with('-'))
                    .cloned()
                    .collect()
            }
            "group-by" => {
                let mut out = Vec::new();
                let mut args = args.iter();
                let mut key = None;
                while let Some(a) = args.next() {
                    match a.strip_prefix("--").and_then(Aggregate::from_name) {
                        Some(op) => {
                            for f in args.next().into_iter().flat_map(|v| v.split(',')) {
                                let f = f.trim();
                                if !f.is_empty() {
                                    out.push(op.field_name(f));
                                }
                            }
                        }
                        None if key.is_none() && !a.starts_with('-') => key = Some(a.clone()),
                        None => {}
                    }
                }
                let mut grouped: Vec<String> = key.into_iter().collect();
                grouped.push("count".into());
                grouped.extend(out);
                grouped.push("items".into());
                fields = grouped;
            }
            _ => {}
        }
    }
    fields
}

impl<'a> Context<'a> {
    fn new(src: &Sources<'a>, at: &Located) -> Option<Context<'a>> {
        let cmd = commands::find(&at.stage[0])?;
        Some(Context {
            inv: src.inv,
            schema: src.schema,
            cwd: if src.cwd.is_empty() { "/" } else { src.cwd },
            snapshots: src.snapshots,
            profiles: src.profiles,
            clusters: src.clusters,
            cmd,
            fields: if at.before.is_empty() {
                Vec::new()
            } else {
                flowing_fields(&at.before)
            },
            first: at.before.is_empty(),
        })
    }

    /// Whether `word` names exactly one guest of the inventory.
    fn guest_of(&self, word: &str) -> Option<u32> {
        self.inv?.resolve_one(word).ok().map(|g| g.vmid)
    }

    /// What the word under the cursor is, after `words` (the stage's words before it).
    fn want(&self, words: &[&str], partial: &str) -> Want {
        let sig = &self.cmd.sig;
        // A value for the flag just before?
        if let Some(prev) = words.last()
            && let Some(flag) = sig
                .args
                .iter()
                .find(|a| a.is_flag() && a.takes_value && a.name == *prev)
        {
            return Want::Kind(flag.kind);
        }
        if partial.starts_with('-') {
            return Want::Flags;
        }
        // The positional words so far, skipping flags and their values.
        let mut positional: Vec<&str> = Vec::new();
        let mut skip_next = false;
        for w in words {
            if skip_next {
                skip_next = false;
                continue;
            }
            if let Some(flag) = sig.args.iter().find(|a| a.is_flag() && a.name == *w) {
                skip_next = flag.takes_value;
                continue;
            }
            positional.push(w);
        }
        let n = positional.len();
        match sig.name {
            "use" => {
                return match positional.as_slice() {
                    [] => Want::UseWord,
                    ["node"] => Want::Kind(ArgKind::Node),
                    _ => Want::Nothing,
                };
            }
            "set" if positional.first().is_some_and(|w| is_api_path(w)) => {
                return Want::ApiParams("PUT");
            }
            "set" if positional.is_empty() && is_api_path(partial) => {
                return Want::Kind(ArgKind::ApiPath);
            }
            "set" => {
                let guest_named = positional
                    .iter()
                    .any(|w| !w.contains('=') && self.guest_of(w).is_some());
                return Want::SetWord { guest_named };
            }
            "create" => return self.api_params_after_path(n, "POST"),
            "delete" => return self.api_params_after_path(n, "DELETE"),
            _ => {}
        }
        let positionals: Vec<_> = sig.args.iter().filter(|a| !a.is_flag()).collect();
        // `rollback web01 NAME`: the guest first, then the snapshot name (of that guest).
        let guest_first = positionals.len() >= 2
            && positionals[0].name == "name"
            && positionals[1].kind == ArgKind::Vm;
        if guest_first
            && n == 1
            && let Some(vmid) = self.guest_of(positional[0])
        {
            return match positionals[0].kind {
                ArgKind::Snapshot => Want::Snapshots(Some(vmid)),
                kind => Want::Kind(kind),
            };
        }
        let mut kind = match positionals.get(n).or(positionals.last()) {
            Some(arg) => arg.kind,
            None => return Want::Nothing,
        };
        // `get` first in a line takes an API path, not a field.
        if sig.name == "get" && self.first && kind == ArgKind::Field {
            kind = ArgKind::ApiPath;
        }
        match kind {
            ArgKind::ApiParam => Want::ApiParams("GET"),
            ArgKind::Snapshot => Want::Snapshots(None),
            kind => Want::Kind(kind),
        }
    }

    /// `create PATH k=v...`: the path, then its parameters for `method`.
    fn api_params_after_path(&self, n: usize, method: &'static str) -> Want {
        if n == 0 {
            Want::Kind(ArgKind::ApiPath)
        } else {
            Want::ApiParams(method)
        }
    }

    fn offer(
        &self,
        want: Want,
        words: &[&str],
        partial: &str,
        span: Range<usize>,
    ) -> Vec<Candidate> {
        let sig = &self.cmd.sig;
        match want {
            Want::Flags => sig
                .args
                .iter()
                .filter(|a| a.is_flag() && a.name.starts_with(partial))
                .filter(|a| !words.contains(&a.name))
                .map(|a| cand(a.name, a.help, &span))
                .collect(),
            Want::Kind(ArgKind::Filter) => self.filter_word(words, partial, span),
            Want::Kind(ArgKind::Field)
                if sig.name == "group-by" && words.last().is_some_and(|w| w.starts_with("--")) =>
            {
                // `--sum maxmem,ma`: one field of a comma list.
                let cut = partial.rfind(',').map_or(0, |i| i + 1);
                self.fields(&partial[cut..], span.start + cut..span.end)
            }
            Want::Kind(kind) => self.of_kind(kind, partial, span),
            Want::Snapshots(_) => ranked_by(
                self.snapshots,
                |s| s.as_str(),
                |_| "snapshot".to_string(),
                partial,
                span,
            ),
            Want::ApiParams(method) => {
                let (Some(schema), Some(path)) = (self.schema, words.first()) else {
                    return Vec::new();
                };
                complete_api::params(schema, self.cwd, path, method, &words[1..], partial, span)
            }
            Want::SetWord { guest_named } => {
                if partial.contains('=') {
                    return Vec::new();
                }
                let used = |k: &str| {
                    words
                        .iter()
                        .any(|w| w.split_once('=').is_some_and(|(key, _)| key == k))
                };
                let mut out = ranked(
                    crate::staging::policy::SET_KEYS
                        .iter()
                        .filter(|k| !used(k))
                        .map(|k| (format!("{k}="), "setting".to_string())),
                    partial,
                    span.clone(),
                );
                if !guest_named {
                    out.extend(self.guests(partial, span));
                }
                out
            }
            Want::UseWord => {
                let mut out: Vec<Candidate> = [
                    ("node", "use node NAME: the current node"),
                    ("..", "no current VM or node"),
                ]
                .into_iter()
                .filter(|(word, _)| !partial.is_empty() && word.starts_with(partial))
                .map(|(word, about)| cand(word, about, &span))
                .collect();
                let keyword = !out.is_empty();
                let needle = partial.to_lowercase();
                // Next to a keyword that matches, only guests that match as directly.
                out.extend(
                    self.guests(partial, span).into_iter().filter(|c| {
                        !keyword || match_rank(&c.value, &needle).is_some_and(|r| r < 2)
                    }),
                );
                out
            }
            Want::Nothing => Vec::new(),
        }
    }

    fn of_kind(&self, kind: ArgKind, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        match kind {
            ArgKind::Vm => self.guests(partial, span),
            ArgKind::Template => self.templates(partial, span),
            ArgKind::Snapshot => ranked_by(
                self.snapshots,
                |s| s.as_str(),
                |_| "snapshot".to_string(),
                partial,
                span,
            ),
            ArgKind::Profile => ranked_by(
                self.profiles,
                |p| p.as_str(),
                |_| "profile".to_string(),
                partial,
                span,
            ),
            ArgKind::Cluster => ranked_by(
                self.clusters,
                |c| c.as_str(),
                |_| "cluster".to_string(),
                partial,
                span,
            ),
            ArgKind::Node => self.nodes(partial, span),
            ArgKind::Storage => self.storages(partial, span),
            ArgKind::Field => self.fields(partial, span),
            ArgKind::Filter => self.filter_word(&[], partial, span),
            ArgKind::Choice(values) => ranked(
                values.iter().map(|v| (v.to_string(), String::new())),
                partial,
                span,
            ),
            ArgKind::ApiPath => self.api_path(partial, span),
            ArgKind::Count | ArgKind::Text | ArgKind::ApiParam => Vec::new(),
        }
    }

    /// An API path from the schema, absolute or relative; `cd` also takes a guest name.
    fn api_path(&self, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        let mut out = match self.schema {
            Some(schema) => {
                let templates = self.cmd.sig.name == "usage";
                complete_api::paths(schema, self.inv, self.cwd, partial, span.clone(), templates)
            }
            None => Vec::new(),
        };
        if self.cmd.sig.name == "cd" && !partial.is_empty() && !partial.contains('/') {
            out.extend(self.guests(partial, span));
        }
        out
    }

    fn guests(&self, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        let Some(inv) = self.inv else {
            return Vec::new();
        };
        if partial.starts_with('@') {
            return self.selectors(inv, partial, span);
        }
        let describe = |g: &crate::inventory::Guest| {
            format!(
                "{} {} · {} · {}",
                g.vmid,
                g.name,
                g.node,
                if g.template { "template" } else { &g.status }
            )
        };
        if !partial.is_empty() && partial.bytes().all(|b| b.is_ascii_digit()) {
            return inv
                .guests()
                .iter()
                .filter(|g| starts_with_digits(g.vmid, partial))
                .take(MAX)
                .map(|g| Candidate {
                    value: g.vmid.to_string(),
                    description: describe(g),
                    span: span.clone(),
                })
                .collect();
        }
        ranked_by(inv.guests(), |g| g.name.as_str(), describe, partial, span)
    }

    /// Templates only, where a template is wanted (`new --template`).
    fn templates(&self, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        let Some(inv) = self.inv else {
            return Vec::new();
        };
        let templates: Vec<&crate::inventory::Guest> =
            inv.guests().iter().filter(|g| g.template).collect();
        ranked_by(
            &templates,
            |g| g.name.as_str(),
            |g| format!("{} template · {}", g.vmid, g.node),
            partial,
            span,
        )
    }

    fn selectors(&self, inv: &Inventory, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        let mut options: Vec<(String, String)> = vec![
            ("@all".into(), "every guest".into()),
            ("@type:qemu".into(), "all VMs".into()),
            ("@type:lxc".into(), "all containers".into()),
        ];
        options.extend(
            inv.tags()
                .into_iter()
                .map(|t| (format!("@tag:{t}"), "guests with this tag".into())),
        );
        options.extend(
            inv.pools()
                .into_iter()
                .map(|p| (format!("@pool:{p}"), "guests in this pool".into())),
        );
        options.extend(
            inv.nodes()
                .iter()
                .map(|n| (format!("@node:{}", n.node), "guests on this node".into())),
        );
        ranked(options.into_iter(), partial, span)
    }

    fn nodes(&self, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        let Some(inv) = self.inv else {
            return Vec::new();
        };
        ranked(
            inv.nodes()
                .iter()
                .map(|n| (n.node.clone(), n.status.clone())),
            partial,
            span,
        )
    }

    fn storages(&self, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        let Some(inv) = self.inv else {
            return Vec::new();
        };
        let mut names: Vec<(String, String)> = inv
            .storages()
            .iter()
            .map(|s| (s.storage.clone(), s.plugintype.clone()))
            .collect();
        names.sort();
        names.dedup_by(|a, b| a.0 == b.0);
        ranked(names.into_iter(), partial, span)
    }

    fn fields(&self, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        let describe = |_: &&str| "field".to_string();
        if self.fields.is_empty() {
            return ranked_by(
                crate::commands::GUEST_FIELDS,
                |f| f,
                describe,
                partial,
                span,
            );
        }
        let names: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        ranked_by(&names, |f| f, describe, partial, span)
    }

    /// Inside a filter: a value after a field and an operator (`status=r`, `node = `, `node =p`,
    /// `tags has p`, `node in [pve1,p`); otherwise field names and keywords.
    fn filter_word(&self, words: &[&str], partial: &str, span: Range<usize>) -> Vec<Candidate> {
        const OPS: [&str; 8] = ["!=", "<=", ">=", "=~", "!~", "=", "<", ">"];
        // An operator inside the word (`status=r`), or starting it after the field (`node =p`).
        for op in OPS {
            if let Some(i) = partial.find(op) {
                let field = if i == 0 {
                    words.last().copied().unwrap_or_default()
                } else {
                    &partial[..i]
                };
                let start = i + op.len();
                return self.field_values(field, &partial[start..], span.start + start..span.end);
            }
        }
        if let Some((prev, earlier)) = words.split_last() {
            // `node = `, `tags has p`: the operator is a word of its own.
            if (OPS.contains(prev) || *prev == "has")
                && let Some(field) = earlier.last()
            {
                return self.field_values(field, partial, span);
            }
            // `node= p`: the operator ends the word before.
            if let Some(op) = OPS
                .iter()
                .find(|op| prev.len() > op.len() && prev.ends_with(**op))
            {
                let field = &prev[..prev.len() - op.len()];
                if !OPS.iter().any(|o| field.ends_with(o)) {
                    return self.field_values(field, partial, span);
                }
            }
            // `node in [pve1,p`: a member of a list still open.
            if let Some(j) = words.iter().rposition(|w| *w == "in")
                && j > 0
            {
                let list: String = words[j + 1..].concat() + partial;
                if !list.contains(']')
                    && (j + 1 == words.len() && partial.is_empty() || list.starts_with('['))
                {
                    let cut = partial.rfind([',', '[']).map_or(0, |i| i + 1);
                    return self.field_values(
                        words[j - 1],
                        &partial[cut..],
                        span.start + cut..span.end,
                    );
                }
            }
        }
        let mut out = self.fields(partial, span.clone());
        for kw in ["and", "or", "not", "has", "in"] {
            if kw.starts_with(partial) && !partial.is_empty() {
                out.push(cand(kw, "keyword", &span));
            }
        }
        out
    }

    /// Values a field takes in the inventory (for `status=`, `node=`, `tags has`, ...).
    fn field_values(&self, field: &str, typed: &str, span: Range<usize>) -> Vec<Candidate> {
        let Some(inv) = self.inv else {
            return Vec::new();
        };
        let owned: Vec<String>;
        let values: std::collections::BTreeSet<&str> = match field {
            "status" => inv.guests().iter().map(|g| g.status.as_str()).collect(),
            "node" => inv.nodes().iter().map(|n| n.node.as_str()).collect(),
            "type" => ["qemu", "lxc"].into_iter().collect(),
            "name" => inv.guests().iter().map(|g| g.name.as_str()).collect(),
            "pool" | "tags" => {
                owned = if field == "pool" {
                    inv.pools()
                } else {
                    inv.tags()
                };
                owned.iter().map(String::as_str).collect()
            }
            "template" => ["true", "false"].into_iter().collect(),
            _ => Default::default(),
        };
        let values: Vec<&str> = values.into_iter().collect();
        ranked_by(&values, |v| v, |_| String::new(), typed, span)
    }
}

fn command_names(partial: &str, span: Range<usize>) -> Vec<Candidate> {
    ranked(
        commands::COMMANDS
            .iter()
            .map(|c| (c.sig.name.to_string(), c.sig.about.to_string())),
        partial,
        span,
    )
}

fn cand(value: &str, description: &str, span: &Range<usize>) -> Candidate {
    Candidate {
        value: value.to_string(),
        description: description.to_string(),
        span: span.clone(),
    }
}

/// Ranks options against what was typed: prefix matches first (in their order), then substring
/// matches, then subsequence ("fuzzy") matches; case-insensitive.
fn ranked(
    options: impl Iterator<Item = (String, String)>,
    partial: &str,
    span: Range<usize>,
) -> Vec<Candidate> {
    let options: Vec<(String, String)> = options.collect();
    ranked_by(&options, |o| o.0.as_str(), |o| o.1.clone(), partial, span)
}

/// [`ranked`] over any items: ranks by `key` without allocating, and builds candidates (and their
/// descriptions) only for the ones offered — with 10 000 guests that is what keeps Tab instant.
fn ranked_by<T>(
    items: &[T],
    key: impl Fn(&T) -> &str,
    describe: impl Fn(&T) -> String,
    partial: &str,
    span: Range<usize>,
) -> Vec<Candidate> {
    let needle = partial.to_lowercase();
    let mut scored: Vec<(u8, usize)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match_rank(key(item), &needle).map(|rank| (rank, i)))
        .collect();
    // Stable: equal ranks keep the items' order.
    scored.sort_by_key(|(rank, _)| *rank);
    // Fuzzy matches only when nothing matches more directly: with thousands of guests they are noise.
    let direct = scored.first().is_some_and(|(rank, _)| *rank < 2);
    scored
        .into_iter()
        .filter(|(rank, _)| !direct || *rank < 2)
        .take(MAX)
        .map(|(_, i)| Candidate {
            value: key(&items[i]).to_string(),
            description: describe(&items[i]),
            span: span.clone(),
        })
        .collect()
}

/// 0 for a prefix match, 1 for a substring, 2 for a subsequence, `None` for no match; ASCII
/// letters compare without case. `needle` is already lower case.
fn match_rank(hay: &str, needle: &str) -> Option<u8> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if h.len() >= n.len() && h[..n.len()].eq_ignore_ascii_case(n) {
        Some(0)
    } else if n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)) {
        Some(1)
    } else if is_subsequence(needle, hay) {
        Some(2)
    } else {
        None
    }
}

/// Whether the decimal digits of `vmid` start with `prefix`, without formatting it.
fn starts_with_digits(vmid: u32, prefix: &str) -> bool {
    let mut buf = [0u8; 10];
    let mut n = vmid;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf[i..].starts_with(prefix.as_bytes())
}

fn is_subsequence(needle: &str, hay: &str) -> bool {
    let mut chars = hay.chars().map(|c| c.to_ascii_lowercase());
    needle.chars().all(|n| chars.any(|h| h == n))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn demo() -> Inventory {
        let mut rows = vec![
            json!({"type":"node","node":"pve1","status":"online"}),
            json!({"type":"node","node":"pve2","status":"online"}),
            json!({"type":"storage","storage":"local-lvm","node":"pve1","plugintype":"lvmthin"}),
        ];
        for (vmid, name, status, tags) in [
            (100, "dns-old", "stopped", ""),
            (101, "web01", "running", "prod;web"),
            (102, "web02", "running", "prod;web"),
            (103, "db01", "running", "prod;db"),
            (110, "ci-runner-01", "running", "ci"),
            (9000, "debian-12-cloud", "stopped", ""),
        ] {
            rows.push(json!({"type":"qemu","vmid":vmid,"name":name,"node":"pve1","status":status,"tags":tags,"pool":"lab","template":u8::from(vmid == 9000)}));
        }
        Inventory::from_resources(&serde_json::Value::Array(rows)).unwrap()
    }

    /// `‸` in `line` marks the cursor.
    fn check(line: &str, expected: &[&str]) {
        let pos = line.find('‸').expect("cursor mark");
        let text = format!("{}{}", &line[..pos], &line[pos + '‸'.len_utf8()..]);
        let inv = demo();
        let got: Vec<String> = complete(&text, pos, Some(&inv))
            .into_iter()
            .map(|c| c.value)
            .collect();
        let got: Vec<&str> = got.iter().map(String::as_str).collect();
        assert_eq!(got, expected, "completing {line:?}");
    }

    /// The values offered at the end of `line`, with `snaps` as the wanted snapshot names.
    fn with_snapshots(inv: &Inventory, snaps: &[String], line: &str) -> Vec<String> {
        let profiles = pvesh_plus_profiles();
        let clusters = ["home".to_string(), "lab".to_string()];
        let src = Sources {
            inv: Some(inv),
            schema: None,
            cwd: "/",
            snapshots: snaps,
            profiles: &profiles,
            clusters: &clusters,
        };
        complete_in(line, line.len(), &src)
            .into_iter()
            .map(|c| c.value)
            .collect()
    }

    #[test]
    fn context_use_completes_the_config_s_clusters() {
        let inv = demo();
        assert_eq!(with_snapshots(&inv, &[], "context use l"), ["lab"]);
        assert_eq!(with_snapshots(&inv, &[], "context use "), ["home", "lab"]);
        assert_eq!(with_snapshots(&inv, &[], "context u"), ["use"]);
    }

    #[test]
    fn commands() {
        check("sta‸", &["status", "start"]);
        check("sort‸", &["sort-by"]);
        check("ls | whe‸", &["where"]);
        // Prefix matches first, then substrings (con*so*le).
        check("ls | so‸", &["sort-by", "console"]);
    }

    #[test]
    fn a_semicolon_starts_a_new_pipeline() {
        check("ls | count; sta‸", &["status", "start"]);
        check("ls; status web‸", &["web01", "web02"]);
    }

    #[test]
    fn guests_by_name_prefix_and_fuzzy() {
        check("status web‸", &["web01", "web02"]);
        check("use db0‸", &["db01"]);
        check("status w01‸", &["web01"]);
        check("status runner‸", &["ci-runner-01"]);
        check("status 10‸", &["100", "101", "102", "103"]);
        check("status 11‸", &["110"]);
        check("status zzz‸", &[]);
    }

    #[test]
    fn selectors() {
        check("status @tag:p‸", &["@tag:prod"]);
        check("status @node:‸", &["@node:pve1", "@node:pve2"]);
        check("status @pool‸", &["@pool:lab"]);
    }

    #[test]
    fn flags_and_their_values() {
        check("ls --t‸", &["--type", "--templates"]);
        check("ls --type ‸", &["qemu", "lxc"]);
        check("sort-by mem --r‸", &["--reverse"]);
        check("to ‸", &["json", "yaml", "csv", "md", "table"]);
    }

    #[test]
    fn fields_and_filter_values() {
        check("ls | select vm‸", &["vmid"]);
        check("ls | sort-by ma‸", &["maxcpu", "maxmem", "maxdisk"]);
        check("ls | where status=r‸", &["running"]);
        check("ls | where node=‸", &["pve1", "pve2"]);
        check("ls | where tags has prod and na‸", &["name"]);
        check("nodes | where sta‸", &["status"]);
    }

    #[test]
    fn filter_values_after_an_operator_word() {
        check("ls | where tags has p‸", &["prod"]);
        check("ls | where tags has ‸", &["ci", "db", "prod", "web"]);
        check("ls | where node = ‸", &["pve1", "pve2"]);
        check("ls | where node != p‸", &["pve1", "pve2"]);
        check("ls | where node =p‸", &["pve1", "pve2"]);
        check("ls | where node= p‸", &["pve1", "pve2"]);
        check("ls | where status = r‸", &["running"]);
        check("ls | where node in [‸", &["pve1", "pve2"]);
        check("ls | where node in [pve1,p‸", &["pve1", "pve2"]);
        // After a complete comparison, fields again.
        check("ls | where node = pve1 and sta‸", &["status", "hastate"]);
    }

    #[test]
    fn use_node_completes_nodes() {
        check("use node p‸", &["pve1", "pve2"]);
        check("use node ‸", &["pve1", "pve2"]);
        check("use db‸", &["db01"]);
        check("use nod‸", &["node"]);
    }

    #[test]
    fn set_completes_config_keys() {
        check("set web01 co‸", &["cores="]);
        check("set web01 mem‸", &["memory="]);
        check(
            "set cores=2 web01 ‸",
            &[
                "sockets=",
                "memory=",
                "balloon=",
                "name=",
                "description=",
                "onboot=",
                "tags=",
                "serial0=",
                "serial1=",
                "serial2=",
                "serial3=",
            ],
        );
        // No guest named yet: a guest is wanted too.
        check("set memory=8G web‸", &["web01", "web02"]);
        check("set memory=8G db‸", &["db01"]);
    }

    #[test]
    fn fields_of_sum_and_after_group_by() {
        check("ls | sum maxm‸", &["maxmem"]);
        check("ls | group-by node --sum maxm‸", &["maxmem"]);
        check("ls | group-by node --avg maxmem,maxc‸", &["maxcpu"]);
        check("ls | group-by no‸", &["node"]);
        check(
            "ls | group-by node --sum maxmem --max cpu | select ‸",
            &["node", "count", "sum.maxmem", "max.cpu", "items"],
        );
        check(
            "ls | group-by node --sum maxmem | select su‸",
            &["sum.maxmem"],
        );
        check("ls | group-by node | where cou‸", &["count"]);
        check("ls | select vmid name | sort-by na‸", &["name"]);
        let inv = demo();
        let c = complete("ls | group-by node --sum vmid,ma", 32, Some(&inv));
        assert_eq!(
            c[0].span,
            30..32,
            "only the field after the comma is replaced"
        );
    }

    #[test]
    fn snapshot_names_of_the_guest_the_line_names() {
        let inv = demo();
        let snaps = vec!["before-patch".to_string()];
        let values = |line: &str| with_snapshots(&inv, &snaps, line);
        assert_eq!(values("rollback web01 "), ["before-patch"]);
        assert_eq!(values("delsnapshot db01 bef"), ["before-patch"]);
        let owner = |line: &str, current| snapshot_owner(line, line.len(), Some(&inv), current);
        assert_eq!(owner("rollback web01 ", None), Some(101));
        assert_eq!(owner("rollback web01 be", Some(103)), Some(101));
        assert_eq!(owner("delsnapshot 102 ", None), Some(102));
        // Without a guest named, the current VM's.
        assert_eq!(owner("rollback ", Some(103)), Some(103));
        assert_eq!(owner("rollback pre", None), None);
        // The guest after the name, or a word that wants no snapshot: nobody's.
        assert_eq!(owner("rollback pre-upgrade web", Some(103)), None);
        assert_eq!(owner("status web01 ", Some(103)), None);
        assert_eq!(owner("snapshot web01 ", Some(103)), None);
    }

    #[test]
    fn replacement_span_covers_the_partial_word() {
        let inv = demo();
        let c = complete("ls | where status=ru", 20, Some(&inv));
        assert_eq!(c[0].span, 18..20);
        let c = complete("status we", 9, Some(&inv));
        assert_eq!(c[0].span, 7..9);
    }

    #[test]
    fn templates_and_snapshots_where_they_are_wanted() {
        let inv = demo();
        let snaps = vec!["pre-upgrade".to_string(), "after-upgrade".to_string()];
        let values = |line: &str| with_snapshots(&inv, &snaps, line);
        assert_eq!(values("new web09 --template "), ["debian-12-cloud"]);
        assert_eq!(values("new web09 --template deb"), ["debian-12-cloud"]);
        assert_eq!(values("rollback pre"), ["pre-upgrade"]);
        assert_eq!(values("delsnapshot "), ["pre-upgrade", "after-upgrade"]);
        assert_eq!(values("delsnapshot upg"), ["pre-upgrade", "after-upgrade"]);
        // The guest after the snapshot name is a guest again.
        assert_eq!(values("rollback pre-upgrade web0"), ["web01", "web02"]);
        assert_eq!(
            values("new web09 --profile "),
            ["webserver", "development", "monitoring", "media-server"]
        );
        assert_eq!(values("new web09 --profile med"), ["media-server"]);
        assert_eq!(values("new web09 --profile web"), ["webserver"]);
    }

    /// The built-in profiles, as a session without a config offers them.
    fn pvesh_plus_profiles() -> Vec<String> {
        crate::config::Config::default().profile_names()
    }

    #[test]
    fn empty_inventory_still_completes_commands() {
        assert!(complete("status web", 10, None).is_empty());
        let empty = Inventory::default();
        assert!(complete("status web", 10, Some(&empty)).is_empty());
        assert!(!complete("st", 2, None).is_empty());
    }

    #[test]
    fn ten_thousand_guests() {
        let rows: Vec<serde_json::Value> = (0..10_000)
            .map(|i| json!({"type":"qemu","vmid":1000 + i,"name":format!("gen-{i:05}"),"node":"pve1","status":"running"}))
            .collect();
        let inv = Inventory::from_resources(&serde_json::Value::Array(rows)).unwrap();
        let got = complete("status gen-0999", 15, Some(&inv));
        assert_eq!(got.len(), 10, "gen-09990..gen-09999");
        assert_eq!(got[0].value, "gen-09990");
        let many = complete("status gen", 10, Some(&inv));
        assert_eq!(many.len(), MAX);
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inv = demo();
        for line in [
            "",
            "|",
            "| |",
            "'",
            "\"web",
            "status 'we",
            "ls | where (",
            "ünï | cödé",
            "@",
            "status @",
        ] {
            for pos in 0..=line.len() {
                let _ = complete(line, pos, Some(&inv));
            }
        }
    }
}
