//! The runbook format (documented in `runbooks/README.md`): YAML front matter between `---`
//! lines (`name`, `description`, `params`, `requires`), then markdown. Every fenced block whose
//! info string starts with `pvesh` is one step; its title is the heading or numbered item
//! before it. Lines may use `{{param}}`; a block may repeat per guest of a selection
//! (```` ```pvesh each=@tag:web batch=2 ````), binding `{{guests}}` (and, one at a time,
//! `{{guest}}`).
//!
//! Pure: parses text and checks values; no IO beyond what the caller read, no cluster.

use indexmap::IndexMap;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};
use serde::Deserialize;

use crate::config::Size;
use crate::error::{Error, ErrorKind, Result};

/// The names a repeated block binds: the batch's VMIDs, and the one guest of a batch of one.
pub const GUESTS: &str = "guests";
pub const GUEST: &str = "guest";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Bool,
    Size,
    Enum,
}

/// One parameter, as the front matter declares it.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    pub description: String,
    /// May use `{{param}}` of parameters declared before it.
    pub default: Option<String>,
    pub pattern: Option<regex::Regex>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub choices: Vec<String>,
    /// The line of its key in the file.
    pub line: usize,
}

/// What a runbook needs before it can run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// pvesh+ commands its steps use (checked against the registry).
    #[serde(default)]
    pub commands: Vec<String>,
    /// Storage content types some active storage must offer (`import`, `iso`).
    #[serde(default)]
    pub content: Vec<String>,
}

/// One step: a fenced `pvesh` block and the title before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub title: String,
    /// The line of its opening fence.
    pub line: usize,
    /// Its command lines with their line numbers (blank lines and `#` comments left out).
    pub lines: Vec<(usize, String)>,
    /// `each=SELECTOR` or `each="LINE"` (a line whose records are guests): the block runs
    /// once per batch of those guests.
    pub each: Option<String>,
    /// `batch=N` (or `{{param}}`): guests per run of the block; default 1.
    pub batch: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Runbook {
    pub name: String,
    pub description: String,
    pub params: Vec<Param>,
    pub requires: Requires,
    pub steps: Vec<Step>,
    /// Where it was read from (`runbooks/x.md`), for errors.
    pub source: String,
}

/// A scalar of the front matter, kept as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Text(s) => s.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    #[serde(rename = "type")]
    ty: ParamType,
    #[serde(default)]
    description: String,
    default: Option<Scalar>,
    pattern: Option<String>,
    min: Option<Scalar>,
    max: Option<Scalar>,
    #[serde(default)]
    choices: Vec<Scalar>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Front {
    name: String,
    description: String,
    #[serde(default)]
    params: IndexMap<String, RawParam>,
    #[serde(default)]
    requires: Requires,
}

fn at(source: &str, line: usize, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Config, format!("{source}:{line}: {message}"))
        .hinted("runbooks/README.md describes the format; runbooks/_template.md is a start")
}

/// The `{{name}}` placeholders of `text`, in order; `Err` says what is malformed.
pub fn placeholders(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("`{{{{` without a closing `}}}}` in `{text}`"))?;
        let name = after[..end].trim();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "`{{{{{}}}}}` is not a parameter name",
                &after[..end]
            ));
        }
        out.push(name.to_string());
        rest = &after[end + 2..];
    }
    Ok(out)
}

/// Replaces every `{{name}}` by `value(name)`; a name it has no value for is an error.
pub fn substitute(
    text: &str,
    value: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("`{{{{` without a closing `}}}}` in `{text}`"))?;
        let name = after[..end].trim();
        let v = value(name).ok_or_else(|| format!("no value for `{{{{{name}}}}}`"))?;
        out.push_str(&v);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A value as one word of a pvesh+ line: quoted when it holds blanks or characters the
/// language reads (`|`, `;`, quotes, `#`, `\`).
pub fn word(value: &str) -> String {
    let special = |c: char| c.is_whitespace() || "|;'\"\\#".contains(c);
    if value.is_empty() {
        return "''".into();
    }
    if !value.chars().any(special) {
        return value.to_string();
    }
    if !value.contains('\'') {
        return format!("'{value}'");
    }
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Param {
    /// The rule a value must follow, in words: "a whole number from 1 to 64".
    pub fn rule(&self) -> String {
        let range = match (&self.min, &self.max) {
            (Some(a), Some(b)) => format!(" from {a} to {b}"),
            (Some(a), None) => format!(" of at least {a}"),
            (None, Some(b)) => format!(" of at most {b}"),
            (None, None) => String::new(),
        };
        match self.ty {
            ParamType::String => match &self.pattern {
                Some(p) => format!("text matching /{}/", p.as_str()),
                None => "text".into(),
            },
            ParamType::Int => format!("a whole number{range}"),
            ParamType::Bool => "true or false (yes/no, 1/0)".into(),
            ParamType::Size => format!("a size such as 512M or 32G{range}"),
            ParamType::Enum => format!("one of {}", self.choices.join(", ")),
        }
    }

    /// Checks `value`; `Ok` is the value as the lines get it (a bool becomes `1` or `0`).
    pub fn check(&self, value: &str) -> std::result::Result<String, String> {
        let bad = || format!("must be {}, got '{value}'", self.rule());
        match self.ty {
            ParamType::String => match &self.pattern {
                Some(p) if !p.is_match(value) => Err(bad()),
                _ => Ok(value.to_string()),
            },
            ParamType::Int => {
                let n: i64 = value.trim().parse().map_err(|_| bad())?;
                let bound = |b: &Option<String>| b.as_ref().and_then(|b| b.parse::<i64>().ok());
                if bound(&self.min).is_some_and(|m| n < m)
                    || bound(&self.max).is_some_and(|m| n > m)
                {
                    return Err(bad());
                }
                Ok(n.to_string())
            }
            ParamType::Bool => match value.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => Ok("1".into()),
                "false" | "no" | "0" | "off" => Ok("0".into()),
                _ => Err(bad()),
            },
            ParamType::Size => {
                let s: Size = value.parse().map_err(|_| bad())?;
                let bound = |b: &Option<String>| b.as_ref().and_then(|b| b.parse::<Size>().ok());
                if bound(&self.min).is_some_and(|m| s.bytes() < m.bytes())
                    || bound(&self.max).is_some_and(|m| s.bytes() > m.bytes())
                {
                    return Err(bad());
                }
                Ok(value.trim().to_string())
            }
            ParamType::Enum => {
                if self.choices.iter().any(|c| c == value) {
                    Ok(value.to_string())
                } else {
                    Err(bad())
                }
            }
        }
    }

    fn build(name: &str, raw: RawParam, line: usize, source: &str) -> Result<Param> {
        let err = |m: String| at(source, line, format!("parameter `{name}`: {m}"));
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name || name == GUEST || name == GUESTS {
            return Err(err(format!(
                "`{name}` cannot be a parameter name: use letters, digits, `_` and `-`, \
                 and not `{GUEST}` or `{GUESTS}` (the runner binds those)"
            )));
        }
        let pattern = match &raw.pattern {
            None => None,
            Some(_) if raw.ty != ParamType::String => {
                return Err(err("`pattern` is for `type: string`".into()));
            }
            Some(p) => {
                Some(regex::Regex::new(p).map_err(|e| err(format!("`pattern` is no regex: {e}")))?)
            }
        };
        if (raw.min.is_some() || raw.max.is_some())
            && !matches!(raw.ty, ParamType::Int | ParamType::Size)
        {
            return Err(err(
                "`min` and `max` are for `type: int` and `type: size`".into()
            ));
        }
        for b in [&raw.min, &raw.max].into_iter().flatten() {
            let text = b.text();
            let ok = match raw.ty {
                ParamType::Int => text.parse::<i64>().is_ok(),
                _ => text.parse::<Size>().is_ok(),
            };
            if !ok {
                return Err(err(
                    format!("bound `{text}` is not a {:?}", raw.ty).to_lowercase()
                ));
            }
        }
        let choices: Vec<String> = raw.choices.iter().map(Scalar::text).collect();
        match (raw.ty, choices.is_empty()) {
            (ParamType::Enum, true) => {
                return Err(err("`type: enum` needs `choices: [a, b, ...]`".into()));
            }
            (ParamType::Enum, false) => {}
            (_, false) => return Err(err("`choices` is for `type: enum`".into())),
            _ => {}
        }
        let param = Param {
            name: name.to_string(),
            ty: raw.ty,
            description: raw.description,
            default: raw.default.as_ref().map(Scalar::text),
            pattern,
            min: raw.min.as_ref().map(Scalar::text),
            max: raw.max.as_ref().map(Scalar::text),
            choices,
            line,
        };
        if let Some(d) = &param.default
            && !d.contains("{{")
        {
            param
                .check(d)
                .map_err(|m| err(format!("its default {m}")))?;
        }
        Ok(param)
    }
}

/// The line (1-based, in the file) of `  key:` inside the front matter that starts at line 2.
fn key_line(front: &str, key: &str) -> usize {
    front
        .lines()
        .position(|l| {
            let t = l.trim_start();
            l.len() != t.len()
                && (t.strip_prefix(key).is_some_and(|r| r.starts_with(':'))
                    || t.strip_prefix(&format!("'{key}'")).is_some()
                    || t.strip_prefix(&format!("\"{key}\"")).is_some())
        })
        .map_or(1, |i| i + 2)
}

/// A heading without its own numbering: `2. Reboot` → `Reboot` (the runner numbers steps).
fn unnumbered(title: &str) -> String {
    let digits = title.chars().take_while(char::is_ascii_digit).count();
    let rest = &title[digits..];
    match rest.strip_prefix(['.', ')']) {
        Some(r) if digits > 0 && r.starts_with(' ') => r.trim().to_string(),
        _ => title.to_string(),
    }
}

/// The line number of byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Runbook {
    /// Parses a runbook file's text; `source` names it in errors (`runbooks/x.md`).
    pub fn parse(text: &str, source: &str) -> Result<Runbook> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let Some(after) = text
            .strip_prefix("---\n")
            .or_else(|| text.strip_prefix("---\r\n"))
        else {
            return Err(at(
                source,
                1,
                "a runbook starts with YAML front matter: a `---` line, `name:`, \
                 `description:`, `params:`, then `---`",
            ));
        };
        // The closing `---` line: its byte offset in `after`, and where the body starts.
        let mut offset = 0;
        let mut close = None;
        for l in after.split_inclusive('\n') {
            if l.trim_end_matches(['\n', '\r']) == "---" {
                close = Some((offset, offset + l.len()));
                break;
            }
            offset += l.len();
        }
        let Some((close, body_at)) = close else {
            return Err(at(source, 1, "the front matter has no closing `---` line"));
        };
        let front = &after[..close];
        let body_start = text.len() - after.len() + body_at;
        let body = &text[body_start..];
        let body_first_line = line_at(text, body_start);

        let parsed: Front = serde_saphyr::from_str(front).map_err(|e| {
            let line = e.location().map_or(1, |l| l.line() as usize + 1);
            at(
                source,
                line,
                format!("front matter: {}", e.without_snippet()).trim_end(),
            )
        })?;
        let valid_name = !parsed.name.is_empty()
            && parsed
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_name {
            return Err(at(
                source,
                front
                    .lines()
                    .position(|l| l.starts_with("name:"))
                    .map_or(2, |i| i + 2),
                format!(
                    "`name: {}`: use letters, digits, `-` and `_` (it is what `runbook run` takes)",
                    parsed.name
                ),
            ));
        }
        let mut params: Vec<Param> = Vec::new();
        for (name, raw) in parsed.params {
            let line = key_line(front, &name);
            let p = Param::build(&name, raw, line, source)?;
            if let Some(d) = &p.default {
                let used =
                    placeholders(d).map_err(|m| at(source, line, format!("`{name}`: {m}")))?;
                for u in used {
                    if !params.iter().any(|q| q.name == u) {
                        return Err(at(
                            source,
                            line,
                            format!(
                                "the default of `{name}` uses `{{{{{u}}}}}`, which is not a \
                                 parameter declared before it"
                            ),
                        ));
                    }
                }
            }
            params.push(p);
        }
        let steps = parse_steps(body, body_first_line, source, &params)?;
        if steps.is_empty() {
            return Err(at(
                source,
                body_first_line,
                "no steps: a step is a heading or numbered item followed by a ```pvesh block",
            ));
        }
        Ok(Runbook {
            name: parsed.name,
            description: parsed.description,
            params,
            requires: parsed.requires,
            steps,
            source: source.to_string(),
        })
    }

    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether a step from `from` (1-based) on has a `commit` line.
    pub fn commits_from(&self, from: usize) -> bool {
        self.steps.iter().skip(from.saturating_sub(1)).any(|s| {
            s.lines.iter().any(|(_, l)| {
                l.split([';', '|'])
                    .any(|part| part.split_whitespace().next() == Some("commit"))
            })
        })
    }
}

/// The steps of the markdown body: each ```pvesh block, titled by the heading or numbered item
/// before it.
fn parse_steps(body: &str, first_line: usize, source: &str, params: &[Param]) -> Result<Vec<Step>> {
    let line_of = |offset: usize| first_line + line_at(body, offset) - 1;
    let mut steps = Vec::new();
    let mut title = String::new();
    let mut collecting: Option<String> = None;
    let mut heading = false;
    let mut in_item_text = false;
    let mut block: Option<(String, usize, String)> = None;
    for (event, range) in Parser::new(body).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                heading = level != HeadingLevel::H1 || steps.is_empty();
                collecting = Some(String::new());
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(t) = collecting.take()
                    && heading
                {
                    title = unnumbered(t.trim());
                }
            }
            Event::Start(Tag::Item) => {
                in_item_text = true;
                collecting = Some(String::new());
            }
            Event::End(TagEnd::Paragraph) | Event::End(TagEnd::Item) if in_item_text => {
                in_item_text = false;
                if let Some(t) = collecting.take()
                    && !t.trim().is_empty()
                {
                    title = t.trim().to_string();
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                if in_item_text {
                    in_item_text = false;
                    if let Some(t) = collecting.take()
                        && !t.trim().is_empty()
                    {
                        title = t.trim().to_string();
                    }
                }
                let info = info.to_string();
                if info.split_whitespace().next() == Some("pvesh") {
                    block = Some((info, line_of(range.start), String::new()));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, text)) = block.as_mut() {
                    text.push_str(&t);
                } else if let Some(c) = collecting.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(c) = collecting.as_mut() {
                    c.push(' ');
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((info, line, text)) = block.take() {
                    let n = steps.len() + 1;
                    let title = if title.is_empty() {
                        format!("step {n}")
                    } else {
                        title.clone()
                    };
                    steps.push(step(&info, line, &text, title, source, params)?);
                }
            }
            _ => {}
        }
    }
    Ok(steps)
}

/// The `key=value` options of a block's info string; a value may be double-quoted
/// (`each="ls | where tags has web"`).
fn options(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .filter(|&i| rest[i..].starts_with('='))
            .ok_or_else(|| {
                let word = rest.split_whitespace().next().unwrap_or(rest);
                format!("block option `{word}` is not key=value")
            })?;
        let key = rest[..eq].to_string();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q
                .find('"')
                .ok_or_else(|| format!("block option `{key}`: the `\"` is not closed"))?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        out.push((key, value));
        rest = next.trim_start();
    }
    Ok(out)
}

fn step(
    info: &str,
    line: usize,
    text: &str,
    title: String,
    source: &str,
    params: &[Param],
) -> Result<Step> {
    let mut each = None;
    let mut batch = None;
    let opts =
        options(info.trim_start().trim_start_matches("pvesh")).map_err(|m| at(source, line, m))?;
    for (key, value) in opts {
        match key.as_str() {
            "each" if !value.is_empty() => each = Some(value),
            "batch" if !value.is_empty() => batch = Some(value),
            _ => {
                return Err(at(
                    source,
                    line,
                    format!(
                        "unknown block option `{key}={value}`: a ```pvesh block takes \
                         `each=SELECTOR` (or `each=\"LINE\"`) and `batch=N`"
                    ),
                ));
            }
        }
    }
    if batch.is_some() && each.is_none() {
        return Err(at(source, line, "`batch=` needs `each=SELECTOR` too"));
    }
    if let Some(b) = &batch
        && !b.contains("{{")
        && b.parse::<usize>().ok().filter(|n| *n > 0).is_none()
    {
        return Err(at(
            source,
            line,
            format!("`batch={b}`: a number ≥ 1, or a `{{{{param}}}}`"),
        ));
    }
    let mut lines = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        lines.push((line + 1 + i, t.to_string()));
    }
    if lines.is_empty() {
        return Err(at(source, line, "this ```pvesh block has no command line"));
    }
    let one_at_a_time = batch.as_deref().is_none_or(|b| b == "1");
    let known = |name: &str, at_line: usize| -> Result<()> {
        if params.iter().any(|p| p.name == name) {
            return Ok(());
        }
        let bound = each.is_some() && (name == GUESTS || (name == GUEST && one_at_a_time));
        if bound {
            return Ok(());
        }
        let why = if name == GUEST && each.is_some() {
            "`{{guest}}` is bound only one guest at a time (no `batch=` above 1); use `{{guests}}`"
                .to_string()
        } else if name == GUEST || name == GUESTS {
            format!("`{{{{{name}}}}}` is bound only in a block with `each=SELECTOR`")
        } else {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            format!(
                "`{{{{{name}}}}}` is not a parameter (declared: {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        };
        Err(at(source, at_line, why))
    };
    for (n, l) in &lines {
        for name in placeholders(l).map_err(|m| at(source, *n, m))? {
            known(&name, *n)?;
        }
    }
    for opt in [&each, &batch].into_iter().flatten() {
        for name in placeholders(opt).map_err(|m| at(source, line, m))? {
            if !params.iter().any(|p| p.name == name) {
                return Err(at(
                    source,
                    line,
                    format!("`{{{{{name}}}}}` in the block options is not a parameter"),
                ));
            }
        }
    }
    Ok(Step {
        title,
        line,
        lines,
        each,
        batch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "---\nname: t\ndescription: a test\nparams:\n  vm:\n    type: string\n  \
                        n:\n    type: int\n    default: 2\n    min: 1\n    max: 5\n---\n\n# T\n\n\
                        ## 1. First\n\n```pvesh\nstatus {{vm}}\n# a comment\n\nsnapshot s {{vm}}\n```\n\n\
                        1. Second, in a list\n\n   ```pvesh each=@tag:web batch={{n}}\n   reboot {{guests}}\n   ```\n";

    #[test]
    fn a_good_runbook_parses_with_titles_lines_and_options() {
        let rb = Runbook::parse(GOOD, "t.md").unwrap();
        assert_eq!(rb.name, "t");
        assert_eq!(rb.params.len(), 2);
        assert_eq!(rb.params[0].line, 5);
        assert_eq!(rb.params[1].line, 7);
        assert_eq!(rb.steps.len(), 2);
        assert_eq!(rb.steps[0].title, "First");
        assert_eq!(rb.steps[0].line, 18);
        assert_eq!(
            rb.steps[0].lines,
            vec![
                (19, "status {{vm}}".to_string()),
                (22, "snapshot s {{vm}}".to_string())
            ]
        );
        assert_eq!(rb.steps[1].title, "Second, in a list");
        assert_eq!(rb.steps[1].each.as_deref(), Some("@tag:web"));
        assert_eq!(rb.steps[1].batch.as_deref(), Some("{{n}}"));
    }

    /// (what the file holds, the error it gets: file and line first).
    const BAD: &[(&str, &str)] = &[
        (
            "# no front matter\n",
            "t.md:1: a runbook starts with YAML front matter",
        ),
        (
            "---\nname: t\n",
            "t.md:1: the front matter has no closing `---` line",
        ),
        (
            "---\nname: t\ndescription: d\nsteps: 3\n---\n",
            "t.md:4: front matter: unknown field `steps`",
        ),
        (
            "---\nname: t\n---\n",
            "t.md:2: front matter: missing field `description`",
        ),
        (
            "---\nname: t\ndescription: d\nparams:\n  a:\n    type: float\n---\n",
            "t.md:6: front matter: unknown variant `float`",
        ),
        (
            "---\nname: t\ndescription: d\nparams:\n  a:\n    type: enum\n---\n",
            "t.md:5: parameter `a`: `type: enum` needs `choices",
        ),
        (
            "---\nname: t\ndescription: d\nparams:\n  a:\n    type: int\n    default: x\n---\n",
            "t.md:5: parameter `a`: its default must be a whole number, got 'x'",
        ),
        (
            "---\nname: t\ndescription: d\nparams:\n  a:\n    type: string\n    pattern: '('\n---\n",
            "t.md:5: parameter `a`: `pattern` is no regex",
        ),
        (
            "---\nname: t\ndescription: d\nparams:\n  a:\n    type: bool\n    min: 1\n---\n",
            "t.md:5: parameter `a`: `min` and `max` are for",
        ),
        (
            "---\nname: t\ndescription: d\nparams:\n  guest:\n    type: string\n---\n",
            "t.md:5: parameter `guest`: `guest` cannot be a parameter name",
        ),
        (
            "---\nname: t\ndescription: d\nparams:\n  a:\n    type: string\n    default: '{{b}}'\n---\n",
            "t.md:5: the default of `a` uses `{{b}}`",
        ),
        (
            "---\nname: 'a b'\ndescription: d\n---\n",
            "t.md:2: `name: a b`",
        ),
        (
            "---\nname: t\ndescription: d\n---\n\n# Nothing\n",
            "t.md:5: no steps",
        ),
        (
            "---\nname: t\ndescription: d\n---\n## A\n```pvesh\nstatus {{vm}}\n```\n",
            "t.md:7: `{{vm}}` is not a parameter (declared: none)",
        ),
        (
            "---\nname: t\ndescription: d\n---\n## A\n```pvesh\nreboot {{guest}}\n```\n",
            "t.md:7: `{{guest}}` is bound only in a block with `each=SELECTOR`",
        ),
        (
            "---\nname: t\ndescription: d\n---\n## A\n```pvesh each=@all batch=2\nreboot {{guest}}\n```\n",
            "t.md:7: `{{guest}}` is bound only one guest at a time",
        ),
        (
            "---\nname: t\ndescription: d\n---\n## A\n```pvesh when=x\nstatus\n```\n",
            "t.md:6: unknown block option `when=x`",
        ),
        (
            "---\nname: t\ndescription: d\n---\n## A\n```pvesh batch=2\nstatus\n```\n",
            "t.md:6: `batch=` needs `each=SELECTOR` too",
        ),
        (
            "---\nname: t\ndescription: d\n---\n## A\n```pvesh each=\"ls\nstatus\n```\n",
            "t.md:6: block option `each`: the `\"` is not closed",
        ),
        (
            "---\nname: t\ndescription: d\n---\n## A\n```pvesh\n# only a comment\n```\n",
            "t.md:6: this ```pvesh block has no command line",
        ),
        (
            "---\nname: t\ndescription: d\n---\n## A\n```pvesh\nstatus {{vm\n```\n",
            "t.md:7: `{{` without a closing `}}`",
        ),
    ];

    #[test]
    fn bad_runbooks_are_refused_naming_file_and_line() {
        for (text, expected) in BAD {
            let err = Runbook::parse(text, "t.md").unwrap_err();
            assert!(
                err.message.starts_with(expected),
                "for {text:?}\n  expected: {expected}\n  got:      {}",
                err.message
            );
            assert_eq!(err.exit_code(), crate::error::exit::USAGE);
        }
    }

    #[test]
    fn values_are_checked_by_type_and_rule() {
        let rb = Runbook::parse(
            "---\nname: t\ndescription: d\nparams:\n  n: {type: int, min: 1, max: 5}\n  \
             s: {type: size, min: 1G}\n  b: {type: bool}\n  e: {type: enum, choices: [a, b]}\n  \
             p: {type: string, pattern: '^w'}\n---\n## A\n```pvesh\nstatus\n```\n",
            "t.md",
        )
        .unwrap();
        let check = |name: &str, v: &str| rb.param(name).unwrap().check(v);
        assert_eq!(check("n", "3"), Ok("3".into()));
        assert_eq!(
            check("n", "9"),
            Err("must be a whole number from 1 to 5, got '9'".into())
        );
        assert_eq!(check("s", "2G"), Ok("2G".into()));
        assert!(check("s", "512M").unwrap_err().contains("of at least 1G"));
        assert_eq!(check("b", "yes"), Ok("1".into()));
        assert!(check("b", "maybe").is_err());
        assert_eq!(check("e", "b"), Ok("b".into()));
        assert!(check("e", "c").unwrap_err().contains("one of a, b"));
        assert!(check("p", "db").unwrap_err().contains("matching /^w/"));
    }

    #[test]
    fn placeholders_and_words() {
        assert_eq!(
            placeholders("a {{x}} b {{ y }}").unwrap(),
            vec!["x".to_string(), "y".to_string()]
        );
        let v = |n: &str| (n == "x").then(|| "1".to_string());
        assert_eq!(substitute("a={{x}}", &v).unwrap(), "a=1");
        assert!(substitute("{{z}}", &v).unwrap_err().contains("{{z}}"));
        assert_eq!(word("web01"), "web01");
        assert_eq!(word("two words"), "'two words'");
        assert_eq!(word("it's"), "\"it's\"");
        assert_eq!(word(""), "''");
        // Each quoted value reads back as one word of the language, unchanged.
        for v in ["two words", "it's", "a|b;c", "back\\slash \"q\"", "x#y", ""] {
            let line = format!("status {}", word(v));
            let p = crate::lang::parse_pipeline(&line).unwrap();
            let args = crate::lang::split_args(p.stages[0].args(), &[]).unwrap();
            assert_eq!(args.positionals.len(), 1, "{line}");
            assert_eq!(args.positionals[0].text, v, "{line}");
        }
    }

    #[test]
    fn shipped_runbooks_parse() {
        for (name, text) in crate::runbook::EMBEDDED {
            let rb = Runbook::parse(text, name).unwrap();
            assert_eq!(&rb.name, name);
        }
        let template = include_str!("../../runbooks/_template.md");
        let rb = Runbook::parse(template, "_template.md").unwrap();
        assert_eq!(rb.steps.len(), 3);
    }
}
