//! Completion: a line and a cursor in, candidates out — a pure function of the line, the command
//! signatures and the cached inventory. It never waits on the network.
//!
//! What is completed follows the command's signature: command names first, then flags, flag
//! values, guests (VMIDs by prefix, names by prefix, then fuzzy), nodes, storages, selectors
//! (`@tag:`, `@pool:`, `@node:`), field names after `where`/`select`/`sort-by`, and values after
//! `status=` or `node=` inside a filter.

use std::ops::Range;

use super::complete_api;
use crate::api::schema::ApiSchema;
use crate::commands::{self, ArgKind, Command};
use crate::inventory::Inventory;
use crate::lang::{Token, lex_partial};

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
    /// The snapshot names of the current VM, as last fetched in the background.
    pub snapshots: &'a [String],
    /// The profile names (`new --profile`): the config's and the built-in ones.
    pub profiles: &'a [String],
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
        },
    )
}

/// Candidates for the word at `pos` in `line`, from everything in `src`.
pub fn complete_in(line: &str, pos: usize, src: &Sources<'_>) -> Vec<Candidate> {
    let (inv, schema, cwd) = (
        src.inv,
        src.schema,
        if src.cwd.is_empty() { "/" } else { src.cwd },
    );
    let pos = floor_char_boundary(line, pos.min(line.len()));
    let before = &line[..pos];
    let tokens = lex_partial(before);
    // The stage the cursor is in: the words after the last pipe.
    let mut stage: Vec<(String, Range<usize>)> = Vec::new();
    let mut first_stage_name: Option<String> = None;
    let mut seen_pipe = false;
    for t in &tokens {
        match t {
            Token::Pipe(_) => {
                if first_stage_name.is_none() {
                    first_stage_name = stage.first().map(|(w, _)| w.clone());
                }
                seen_pipe = true;
                stage.clear();
            }
            Token::Semi(_) => {
                // A new pipeline starts: nothing before it matters.
                first_stage_name = None;
                seen_pipe = false;
                stage.clear();
            }
            Token::Word(w) => stage.push((w.text.clone(), w.span.start..w.span.end)),
            Token::Comment(_) => return Vec::new(),
        }
    }
    if !seen_pipe {
        first_stage_name = None;
    }
    // The word under the cursor: the last word if it touches the cursor, else a new empty word.
    let (partial, span) = match stage.last() {
        Some((text, range)) if range.end == pos => (text.clone(), range.clone()),
        _ => (String::new(), pos..pos),
    };
    let index = if span.start == pos && partial.is_empty() {
        stage.len()
    } else {
        stage.len() - 1
    };
    if index == 0 {
        return command_names(&partial, span);
    }
    let Some(cmd) = commands::find(&stage[0].0) else {
        return Vec::new();
    };
    let words: Vec<&str> = stage[1..index].iter().map(|(w, _)| w.as_str()).collect();
    let ctx = Context {
        inv,
        schema,
        cwd,
        snapshots: src.snapshots,
        profiles: src.profiles,
        cmd,
        source: first_stage_name.as_deref(),
    };
    ctx.argument(&words, &partial, span)
}

struct Context<'a> {
    inv: Option<&'a Inventory>,
    schema: Option<&'a ApiSchema>,
    /// The session's current API directory, for relative paths.
    cwd: &'a str,
    snapshots: &'a [String],
    profiles: &'a [String],
    cmd: &'static Command,
    /// The first command of the pipeline, when the cursor is in a later stage (its fields flow in).
    source: Option<&'a str>,
}

impl Context<'_> {
    fn argument(&self, words: &[&str], partial: &str, span: Range<usize>) -> Vec<Candidate> {
        let sig = &self.cmd.sig;
        // A value for the flag just before?
        if let Some(prev) = words.last()
            && let Some(flag) = sig
                .args
                .iter()
                .find(|a| a.is_flag() && a.takes_value && a.name == *prev)
        {
            return self.of_kind(flag.kind, partial, span);
        }
        if partial.starts_with('-') {
            return sig
                .args
                .iter()
                .filter(|a| a.is_flag() && a.name.starts_with(partial))
                .filter(|a| !words.contains(&a.name))
                .map(|a| cand(a.name, a.help, &span))
                .collect();
        }
        // Which positional is this? Count earlier positionals, skipping flags and their values.
        let mut n = 0;
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
            n += 1;
        }
        let positionals: Vec<_> = sig.args.iter().filter(|a| !a.is_flag()).collect();
        let mut kind = match positionals.get(n).or(positionals.last()) {
            Some(arg) => arg.kind,
            None => return Vec::new(),
        };
        // `get` first in a line takes an API path, not a field.
        if sig.name == "get" && self.source.is_none() && kind == ArgKind::Field {
            kind = ArgKind::ApiPath;
        }
        if kind == ArgKind::ApiParam {
            let (Some(schema), Some(path)) = (self.schema, words.first()) else {
                return Vec::new();
            };
            return complete_api::params(schema, self.cwd, path, &words[1..], partial, span);
        }
        // Filters and field lists take many words: every word is completed the same way.
        self.of_kind(kind, partial, span)
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
            ArgKind::Node => self.nodes(partial, span),
            ArgKind::Storage => self.storages(partial, span),
            ArgKind::Field => self.fields(partial, span),
            ArgKind::Filter => self.filter_word(partial, span),
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

    /// The fields of the records flowing in: those of the pipeline's first command.
    fn field_names(&self) -> &'static [&'static str] {
        self.source
            .and_then(commands::find)
            .map(|c| c.sig.fields)
            .filter(|f| !f.is_empty())
            .unwrap_or(crate::commands::GUEST_FIELDS)
    }

    fn fields(&self, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        ranked(
            self.field_names()
                .iter()
                .map(|f| (f.to_string(), "field".to_string())),
            partial,
            span,
        )
    }

    /// Inside a filter: `field=value` completes the value; otherwise field names and keywords.
    fn filter_word(&self, partial: &str, span: Range<usize>) -> Vec<Candidate> {
        for op in ["!=", "<=", ">=", "=~", "!~", "=", "<", ">"] {
            if let Some(i) = partial.find(op) {
                let field = &partial[..i];
                let value_start = span.start + i + op.len();
                let typed = &partial[i + op.len()..];
                return self.field_values(field, typed, value_start..span.end);
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
        let profiles = pvesh_plus_profiles();
        let src = Sources {
            inv: Some(&inv),
            schema: None,
            cwd: "/",
            snapshots: &snaps,
            profiles: &profiles,
        };
        let values = |line: &str| -> Vec<String> {
            complete_in(line, line.len(), &src)
                .into_iter()
                .map(|c| c.value)
                .collect()
        };
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
