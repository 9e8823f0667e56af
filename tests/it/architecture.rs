//! The architecture, checked: which module may import which (a table of [`RULES`]), and that
//! only the staging executor calls mutating endpoints.
//!
//! Every `.rs` file under `src/` is read with its comments and string literals blanked out; every
//! `crate::…` path in it — `use` trees (`use crate::{api::{client::X, Y}, commands}`) and inline
//! paths (`crate::cli::run(…)`) alike — is one reference, checked against the rules of the file's
//! top-level module (`src/shell/complete.rs` → `shell`). A violation names the file, the line,
//! the path and the rule.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One import rule: code in module `from` must not reference any of `forbidden`.
struct Rule {
    from: &'static str,
    /// Module paths below `crate::` (`"commands"`, `"api::client"`); `"*"` is every module but
    /// `from` itself. Naming `X::Y` also forbids what `src/X/mod.rs` re-exports from `Y`
    /// (`api::Client`, re-exported from `api::client`).
    forbidden: &'static [&'static str],
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        from: "lang",
        forbidden: &["*"],
        why: "the language is pure: it depends on nothing else in the crate",
    },
    Rule {
        from: "api",
        forbidden: &[
            "shell", "render", "commands", "cli", "staging", "wizard", "sim",
        ],
        why: "the API client sits below everything that uses it, and apart from the simulator",
    },
    Rule {
        from: "sim",
        forbidden: &[
            "api::client",
            "commands",
            "cli",
            "shell",
            "staging",
            "wizard",
            "inventory",
        ],
        why: "the simulator never imports the client side, so the two cannot drift together",
    },
    Rule {
        from: "shell",
        forbidden: &["cli"],
        why: "the interactive shell does not depend on the command-line front end",
    },
    Rule {
        from: "session",
        forbidden: &["commands", "wizard", "shell", "cli"],
        why: "the session context sits below the commands, the wizard and the front ends",
    },
    Rule {
        from: "staging",
        forbidden: &["commands", "cli", "shell"],
        why: "staging sits below the commands and the front ends",
    },
    Rule {
        from: "console",
        forbidden: &[
            "commands",
            "cli",
            "shell",
            "staging",
            "wizard",
            "sim",
            "session",
            "inventory",
            "render",
            "output",
            "config",
            "lang",
        ],
        why: "a console session joins the terminal to an API websocket and knows nothing else",
    },
    Rule {
        from: "wizard",
        forbidden: &["commands", "cli", "shell"],
        why: "the wizard sits below the commands and the front ends",
    },
    Rule {
        from: "runbook",
        forbidden: &["commands", "cli", "shell", "output"],
        why: "runbooks sit below the commands: the runner runs lines through the LineRunner it is given",
    },
];

/// Where mutating endpoints may be called from: the staging executor, the client itself (login)
/// and the simulator.
const MUTATION_ALLOWED_UNDER: &[&str] = &["src/staging/", "src/api/", "src/sim/"];

/// Files that still call mutating endpoints themselves, outside the staging executor. Empty:
/// the commands and the wizards plan actions and hand them to the executor. A file on it that
/// no longer calls one makes the test fail until it is removed.
const MUTATION_ALLOWLIST: &[&str] = &[];

struct Source {
    /// Relative to the crate root, with `/` separators: `src/shell/mod.rs`.
    path: String,
    /// The top-level module: `shell`; `""` for `lib.rs` and `main.rs`.
    module: String,
    /// The text with comments and string/char literals replaced by spaces (newlines kept).
    code: Vec<char>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sources() -> Vec<Source> {
    let root = root();
    let mut files = Vec::new();
    collect(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(&root).unwrap_or(&file);
            let path = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let first = path
                .trim_start_matches("src/")
                .split('/')
                .next()
                .unwrap_or("");
            let module = match first.strip_suffix(".rs") {
                Some("lib" | "main") => String::new(),
                Some(m) => m.to_string(),
                None => first.to_string(),
            };
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            Source {
                path,
                module,
                code: blank_comments_and_literals(&text),
            }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Replaces comments (line, nested block, doc) and the contents of string, raw string and char
/// literals by spaces, keeping newlines, so that what remains is code with its line numbers.
fn blank_comments_and_literals(text: &str) -> Vec<char> {
    let src: Vec<char> = text.chars().collect();
    let mut out = src.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(src.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let at = |i: usize| src.get(i).copied().unwrap_or('\0');
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        let prev = if i > 0 { src[i - 1] } else { ' ' };
        if c == '/' && at(i + 1) == '/' {
            let end = (i..src.len())
                .find(|&j| src[j] == '\n')
                .unwrap_or(src.len());
            blank(&mut out, i, end);
            i = end;
        } else if c == '/' && at(i + 1) == '*' {
            let (mut depth, mut j) = (1, i + 2);
            while j < src.len() && depth > 0 {
                if src[j] == '/' && at(j + 1) == '*' {
                    depth += 1;
                    j += 2;
                } else if src[j] == '*' && at(j + 1) == '/' {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (c == 'r' || (c == 'b' && at(i + 1) == 'r')) && !is_ident(prev) && {
            let k = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = (k..src.len()).take_while(|&j| src[j] == '#').count();
            at(k + hashes) == '"'
        } {
            let k = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = (k..src.len()).take_while(|&j| src[j] == '#').count();
            let body = k + hashes + 1;
            let closing: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            let closing: Vec<char> = closing.chars().collect();
            let end = (body..src.len())
                .find(|&j| src[j..].starts_with(&closing))
                .map_or(src.len(), |j| j + closing.len());
            blank(&mut out, body, end.saturating_sub(closing.len()));
            i = end;
        } else if c == '"' {
            let mut j = i + 1;
            while j < src.len() && src[j] != '"' {
                j += if src[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if c == '\'' && !is_ident(prev) {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): only the former closes.
            let end = if at(i + 1) == '\\' {
                (i + 2..src.len()).find(|&j| src[j] == '\'')
            } else if at(i + 2) == '\'' {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    blank(&mut out, i + 1, end);
                    i = end + 1;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

fn line_of(code: &[char], pos: usize) -> usize {
    code[..pos].iter().filter(|&&c| c == '\n').count() + 1
}

fn skip_ws(code: &[char], mut i: usize) -> usize {
    while i < code.len() && code[i].is_whitespace() {
        i += 1;
    }
    i
}

fn ident_at(code: &[char], i: usize) -> Option<(String, usize)> {
    let end = (i..code.len())
        .find(|&j| !is_ident(code[j]))
        .unwrap_or(code.len());
    (end > i).then(|| (code[i..end].iter().collect(), end))
}

/// A path below `crate::` and the line it starts on.
struct Ref {
    segments: Vec<String>,
    line: usize,
}

/// Parses the path tree starting at `i` (just after a `::`): `a::b`, `a::{b, c::{d}}`, `*`.
fn parse_tree(code: &[char], i: usize, prefix: &[String], out: &mut Vec<Ref>) -> usize {
    let i = skip_ws(code, i);
    if code.get(i) == Some(&'{') {
        let mut j = i + 1;
        loop {
            j = skip_ws(code, j);
            match code.get(j) {
                None => return j,
                Some('}') => return j + 1,
                Some(',') => j += 1,
                Some(_) => {
                    let next = parse_tree(code, j, prefix, out);
                    j = if next == j { j + 1 } else { next };
                }
            }
        }
    }
    if code.get(i) == Some(&'*') {
        let mut segments = prefix.to_vec();
        segments.push("*".into());
        out.push(Ref {
            segments,
            line: line_of(code, i),
        });
        return i + 1;
    }
    let Some((name, end)) = ident_at(code, i) else {
        return i;
    };
    let mut segments = prefix.to_vec();
    segments.push(name);
    let after = skip_ws(code, end);
    if code.get(after) == Some(&':') && code.get(after + 1) == Some(&':') {
        return parse_tree(code, after + 2, &segments, out);
    }
    out.push(Ref {
        segments,
        line: line_of(code, i),
    });
    end
}

/// Every `crate::…` path in a file (not `$crate::`, not `foo_crate::`).
fn crate_refs(code: &[char]) -> Vec<Ref> {
    let pat: Vec<char> = "crate::".chars().collect();
    let mut refs = Vec::new();
    let mut i = 0;
    while i + pat.len() <= code.len() {
        if code[i..].starts_with(&pat) && (i == 0 || !(is_ident(code[i - 1]) || code[i - 1] == '$'))
        {
            i = parse_tree(code, i + pat.len(), &[], &mut refs).max(i + pat.len());
        } else {
            i += 1;
        }
    }
    refs
}

/// The names `src/{module}/mod.rs` re-exports from its submodule `sub` (`pub use sub::{A, B}`).
fn reexports(module: &str, sub: &str) -> BTreeSet<String> {
    let path = root().join("src").join(module).join("mod.rs");
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeSet::new();
    };
    let code = blank_comments_and_literals(&text);
    let pat: Vec<char> = "pub use ".chars().collect();
    let mut names = BTreeSet::new();
    for i in 0..code.len() {
        if code[i..].starts_with(&pat) {
            let mut refs = Vec::new();
            // `pub use sub::{A, B}` parses like a tree below `crate::`.
            parse_tree(&code, i + pat.len(), &[], &mut refs);
            for r in refs {
                if r.segments.first().map(String::as_str) == Some(sub)
                    && let Some(last) = r.segments.last()
                    && r.segments.len() == 2
                    && last != "self"
                {
                    names.insert(last.clone());
                }
            }
        }
    }
    names
}

/// Whether a path (`["api", "client", "Client"]`) falls under a forbidden module path.
fn forbidden_by(segments: &[String], rule: &Rule) -> Option<&'static str> {
    let first = segments.first()?;
    for &f in rule.forbidden {
        if f == "*" {
            if first != rule.from {
                return Some(f);
            }
            continue;
        }
        let parts: Vec<&str> = f.split("::").collect();
        if segments.len() >= parts.len() && segments.iter().zip(&parts).all(|(s, p)| s == p) {
            return Some(f);
        }
        if let [module, sub] = parts[..]
            && first == module
            && let Some(second) = segments.get(1)
            && reexports(module, sub).contains(second)
        {
            return Some(f);
        }
    }
    None
}

fn import_violations(sources: &[Source]) -> Vec<String> {
    let mut found = Vec::new();
    for src in sources {
        for rule in RULES.iter().filter(|r| r.from == src.module) {
            for r in crate_refs(&src.code) {
                if let Some(f) = forbidden_by(&r.segments, rule) {
                    found.push(format!(
                        "{}:{}: `crate::{}` breaks the rule \"{} imports no {}\": {}",
                        src.path,
                        r.line,
                        r.segments.join("::"),
                        rule.from,
                        if f == "*" { "other module" } else { f },
                        rule.why,
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn modules_import_only_what_the_layers_allow() {
    let sources = sources();
    assert!(
        sources.iter().any(|s| s.module == "session"),
        "no src/session.rs: the rules name modules that no longer exist"
    );
    for rule in RULES {
        assert!(
            sources.iter().any(|s| s.module == rule.from),
            "a rule names module `{}`, which src/ does not have",
            rule.from
        );
    }
    let found = import_violations(&sources);
    assert!(
        found.is_empty(),
        "{} import(s) break the architecture rules (tests/it/architecture.rs, src/lib.rs):\n{}",
        found.len(),
        found.join("\n")
    );
}

/// The top-level functions of `src/api/endpoints.rs` that build a POST, PUT or DELETE request,
/// directly (`ApiRequest::post(…)`, `Method::Delete`) or by calling another such function.
fn mutating_builders() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("src/api/endpoints.rs"))
        .unwrap_or_else(|e| panic!("cannot read src/api/endpoints.rs: {e}"));
    let code = blank_comments_and_literals(&text);
    // (name, body) of each function at brace depth 0.
    let mut fns: Vec<(String, String)> = Vec::new();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < code.len() {
        match code[i] {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            'f' if depth == 0
                && code[i..].starts_with(&['f', 'n', ' '])
                && (i == 0 || !is_ident(code[i - 1])) =>
            {
                if let Some((name, end)) = ident_at(&code, skip_ws(&code, i + 3))
                    && let Some(open) =
                        (end..code.len()).find(|&j| code[j] == '{' || code[j] == ';')
                    && code[open] == '{'
                {
                    let mut d = 0usize;
                    let close = (open..code.len())
                        .find(|&j| {
                            match code[j] {
                                '{' => d += 1,
                                '}' => d -= 1,
                                _ => {}
                            }
                            d == 0
                        })
                        .unwrap_or(code.len() - 1);
                    fns.push((name, code[open..=close].iter().collect()));
                    i = close + 1;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let direct = [
        "ApiRequest::post(",
        "ApiRequest::put(",
        "ApiRequest::delete(",
        "Method::Post",
        "Method::Put",
        "Method::Delete",
    ];
    let mut mutating: BTreeSet<String> = fns
        .iter()
        .filter(|(_, body)| direct.iter().any(|d| body.contains(d)))
        .map(|(name, _)| name.clone())
        .collect();
    loop {
        let more: Vec<String> = fns
            .iter()
            .filter(|(name, body)| {
                !mutating.contains(name) && mutating.iter().any(|m| calls(body, m))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        mutating.extend(more);
    }
    mutating
}

/// Whether `code` calls the function `name` (`name(`, not `other_name(` or `.name(`).
fn calls(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + name.len()..].trim_start().chars().next();
        !before.is_some_and(|c| is_ident(c) || c == '.') && after == Some('(')
    })
}

/// What in one file calls a mutating endpoint: `(line, what)`.
fn mutations_in(code: &[char], mutating: &BTreeSet<String>) -> Vec<(usize, String)> {
    let text: String = code.iter().collect();
    let mut found = Vec::new();
    // Byte offsets in `text` → line numbers.
    let line_at = |byte: usize| text[..byte].matches('\n').count() + 1;
    for (i, _) in text.match_indices("endpoints::") {
        if text[..i].ends_with(|c: char| is_ident(c)) {
            continue;
        }
        let rest = &text[i + "endpoints::".len()..];
        let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
        if mutating.contains(&name) {
            found.push((
                line_at(i),
                format!("names the mutating builder `endpoints::{name}`"),
            ));
        }
    }
    for r in crate_refs(code) {
        if let [api, endpoints, name] = &r.segments[..]
            && api == "api"
            && endpoints == "endpoints"
            && (mutating.contains(name) || name == "*")
        {
            found.push((
                r.line,
                format!("imports the mutating builder `endpoints::{name}`"),
            ));
        }
    }
    for (i, _) in text.match_indices("ApiRequest") {
        if text[..i].ends_with(|c: char| is_ident(c)) {
            continue;
        }
        let rest = text[i + "ApiRequest".len()..].trim_start();
        let hand_built = if let Some(args) = rest.strip_prefix("::new(") {
            !args.trim_start().starts_with("Method::Get")
        } else if let Some(body) = rest.strip_prefix('{') {
            let body = body.trim_start();
            body.starts_with("method") && !body.contains("Method::Get")
        } else {
            ["::post(", "::put(", "::delete("]
                .iter()
                .any(|m| rest.starts_with(m))
        };
        if hand_built {
            let shown: String = text[i..]
                .chars()
                .take_while(|&c| c != '(' && c != '\n')
                .collect();
            found.push((
                line_at(i),
                format!("builds a non-GET request by hand (`{shown}`)"),
            ));
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn only_the_staging_executor_calls_mutating_endpoints() {
    let mutating = mutating_builders();
    for expected in ["guest_power", "guest_destroy", "snapshot_create", "resize"] {
        assert!(
            mutating.contains(expected),
            "the scan of src/api/endpoints.rs misses the mutating builder `{expected}` \
             (found: {mutating:?})"
        );
    }
    for read in [
        "version",
        "cluster_resources",
        "guest_config",
        "snapshot_list",
    ] {
        assert!(
            !mutating.contains(read),
            "the scan of src/api/endpoints.rs takes the GET builder `{read}` for a mutating one"
        );
    }
    let mut report = String::new();
    let mut offenders = BTreeSet::new();
    for src in sources() {
        if MUTATION_ALLOWED_UNDER
            .iter()
            .any(|d| src.path.starts_with(d))
        {
            continue;
        }
        let found = mutations_in(&src.code, &mutating);
        if found.is_empty() {
            continue;
        }
        offenders.insert(src.path.clone());
        if MUTATION_ALLOWLIST.contains(&src.path.as_str()) {
            continue;
        }
        for (line, what) in found {
            let _ = writeln!(
                report,
                "{}:{line}: {what}: breaks the rule \"only the staging executor calls mutating \
                 endpoints\" (stage an action instead)",
                src.path
            );
        }
    }
    for &allowed in MUTATION_ALLOWLIST {
        if !offenders.contains(allowed) {
            let _ = writeln!(
                report,
                "{allowed} is on MUTATION_ALLOWLIST but no longer calls a mutating endpoint: \
                 remove it from the list"
            );
        }
    }
    assert!(report.is_empty(), "{report}");
}

mod scanner {
    use super::*;

    fn refs(text: &str) -> Vec<(String, usize)> {
        crate_refs(&blank_comments_and_literals(text))
            .into_iter()
            .map(|r| (r.segments.join("::"), r.line))
            .collect()
    }

    #[test]
    fn reads_use_trees_and_inline_paths_but_not_comments_or_strings() {
        let text = "use crate::{api::{client::X, Y}, commands};\n\
                    // crate::cli::nope\n\
                    /* crate::cli::nope /* nested */ crate::cli::nope */\n\
                    let s = \"crate::cli::nope // \"; let c = '\"'; let l: &'a str;\n\
                    let r = r#\"crate::cli::\"nope\"#;\n\
                    crate::cli::run(x);\n\
                    $crate::cli::nope; my_crate::cli::nope;\n\
                    use crate::render::*;\n";
        assert_eq!(
            refs(text),
            [
                ("api::client::X".to_string(), 1),
                ("api::Y".to_string(), 1),
                ("commands".to_string(), 1),
                ("cli::run".to_string(), 6),
                ("render::*".to_string(), 8),
            ]
        );
    }

    #[test]
    fn a_forbidden_import_names_file_line_and_rule() {
        let src = Source {
            path: "src/shell/x.rs".into(),
            module: "shell".into(),
            code: blank_comments_and_literals("fn f() {}\nuse crate::cli::main;\n"),
        };
        assert_eq!(
            import_violations(&[src]),
            [
                "src/shell/x.rs:2: `crate::cli::main` breaks the rule \"shell imports no cli\": \
              the interactive shell does not depend on the command-line front end"
            ]
        );
    }

    #[test]
    fn a_reexport_counts_as_its_submodule() {
        let rule = &RULES[2];
        assert_eq!(rule.from, "sim");
        assert_eq!(
            forbidden_by(&["api".into(), "Client".into()], rule),
            Some("api::client")
        );
        assert_eq!(forbidden_by(&["api".into(), "Upid".into()], rule), None);
    }

    #[test]
    fn finds_hand_built_and_builder_mutations() {
        let mutating: BTreeSet<String> = ["guest_power".to_string()].into();
        let code = blank_comments_and_literals(
            "let a = endpoints::guest_power(k);\n\
             let b = endpoints::guest_config(k);\n\
             let c = ApiRequest::post(p);\n\
             let d = ApiRequest::new(Method::Get, p);\n\
             let e = ApiRequest::new(method, p);\n\
             use crate::api::endpoints::{guest_power, version};\n\
             fn f() -> ApiRequest { ApiRequest::get(p) }\n",
        );
        let lines: Vec<usize> = mutations_in(&code, &mutating).iter().map(|f| f.0).collect();
        assert_eq!(lines, [1, 3, 5, 6]);
    }
}
