//! The parser: tokens into a pipeline of stages, and the generic split of a stage's arguments.
//!
//! Owns the shape of a line (`stage | stage | ...`) and the syntactic split of arguments into
//! flags, `key=value` pairs and positionals. It must not decide what a command or a flag means:
//! the command layer's signatures do that. Comments are dropped here.

use super::error::{ParseError, Span};
use super::lexer::{Token, Word, lex, lex_partial};

/// One stage of a pipeline: a command name followed by its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Never empty.
    pub words: Vec<Word>,
    /// From the start of the first word to the end of the last.
    pub span: Span,
}

impl Stage {
    /// The command name (the unquoted first word).
    pub fn name(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// The span of the command name.
    pub fn name_span(&self) -> Span {
        self.words.first().map_or(self.span, |w| w.span)
    }

    /// The words after the command name.
    pub fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// The raw span covering all arguments, or `None` when there are none. The filter language
    /// re-reads this part of the line with its own tokens (see [`super::filter::parse_filter_in`]).
    pub fn args_span(&self) -> Option<Span> {
        let args = self.args();
        Some(args.first()?.span.to(args.last()?.span))
    }
}

/// A parsed line: zero or more stages (an empty or comment-only line has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
    pub span: Span,
}

/// Parses a line into stages. An empty stage (`| ls`, `ls | | x`) is an error with a caret at the
/// pipe; a trailing `|` is an error marked `incomplete`, so an interactive shell can continue the
/// pipeline on the next line.
pub fn parse_pipeline(line: &str) -> Result<Pipeline, ParseError> {
    let tokens = lex(line)?;
    let mut stages = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut last_pipe: Option<Span> = None;

    for token in tokens {
        match token {
            Token::Comment(_) => {}
            Token::Semi(semi) => {
                return Err(ParseError::new(
                    "unexpected ';': it separates pipelines, each parsed on its own",
                    semi,
                ));
            }
            Token::Word(w) => words.push(w),
            Token::Pipe(pipe) => {
                if words.is_empty() {
                    let message = match last_pipe {
                        Some(_) => "empty stage: expected a command between the two '|'",
                        None => "expected a command before '|'",
                    };
                    return Err(ParseError::new(message, pipe).expected("a command"));
                }
                stages.push(stage_of(std::mem::take(&mut words)));
                last_pipe = Some(pipe);
            }
        }
    }
    if words.is_empty() {
        if let Some(pipe) = last_pipe {
            return Err(ParseError::new("expected a command after '|'", pipe)
                .expected("a command")
                .incomplete());
        }
    } else {
        stages.push(stage_of(words));
    }
    let span = match (stages.first(), stages.last()) {
        (Some(first), Some(last)) => first.span.to(last.span),
        _ => Span::at(0),
    };
    Ok(Pipeline { stages, span })
}

/// The spans of the pipelines of a line, in order: `ls; nodes | count` has two. A `;` outside
/// quotes at a word boundary separates them (`tags=prod;web` and `';'` do not); empty
/// statements (`ls;;`, a trailing `;`) are left out. Never fails: a bad statement fails when it
/// is parsed, and an unterminated quote runs to the end of the line (no `;` after it counts).
pub fn statements(line: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut push = |start: usize, end: usize| {
        if !line[start..end].trim().is_empty() {
            out.push(Span::new(start, end));
        }
    };
    for token in lex_partial(line) {
        if let Token::Semi(semi) = token {
            push(start, semi.start);
            start = semi.end;
        }
    }
    push(start, line.len());
    out
}

fn stage_of(words: Vec<Word>) -> Stage {
    let span = match (words.first(), words.last()) {
        (Some(first), Some(last)) => first.span.to(last.span),
        _ => Span::default(),
    };
    Stage { words, span }
}

/// A flag: `--reverse`, `--limit 5`, `--limit=5`, `-o json`, `-r`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    /// The name without dashes: `limit`, `o`.
    pub name: String,
    /// True for `--name`, false for `-n`.
    pub long: bool,
    pub value: Option<Word>,
    /// From the dashes to the end of the value, if any.
    pub span: Span,
}

/// A `key=value` argument. The key is always plain text; the value may have been quoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub key: String,
    pub key_span: Span,
    pub value: Word,
}

/// A stage's arguments split by syntax only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub positionals: Vec<Word>,
    pub flags: Vec<Flag>,
    pub pairs: Vec<Pair>,
    /// The words after a plain `--`, verbatim and in order (`ssh web01 -- uptime -p`); they
    /// are also in `positionals` or `pairs` as before.
    pub rest: Vec<Word>,
}

impl Args {
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }

    pub fn has_flag(&self, name: &str) -> bool {
        self.flag(name).is_some()
    }

    pub fn pair(&self, key: &str) -> Option<&Pair> {
        self.pairs.iter().find(|p| p.key == key)
    }
}

/// Splits arguments into flags, `key=value` pairs and positionals.
///
/// `takes_value` names the flags (without dashes, long or short) that consume a value: for those,
/// `--limit 5` and `--limit=5` both give the value `5`, and a missing value is an error. Other
/// flags are switches; `--switch=x` is then an error, and so is a value-taking flag followed by
/// another flag (`--limit --reverse`). Only plain (unquoted) dashes make a flag,
/// and `--` ends flag parsing. A word is a pair when its plain prefix is `key=` with a key of
/// letters, digits, `_`, `-` or `.` starting with a letter or `_`. A negative number such as
/// `-5` is a positional.
pub fn split_args(words: &[Word], takes_value: &[&str]) -> Result<Args, ParseError> {
    let mut args = Args::default();
    let mut iter = words.iter();
    let mut flags_done = false;
    while let Some(word) = iter.next() {
        let plain = word.plain_text();
        if flags_done {
            args.rest.push(word.clone());
        }
        if !flags_done && plain == "--" && word.text == "--" {
            flags_done = true;
        } else if !flags_done && is_flag(plain) {
            let flag = read_flag(word, takes_value, || iter.next())?;
            args.flags.push(flag);
        } else if let Some(key) = pair_key(plain) {
            args.pairs.push(read_pair(word, key));
        } else {
            args.positionals.push(word.clone());
        }
    }
    Ok(args)
}

/// Reads a flag word (its plain text starts with `-`), taking its value from the word itself
/// (`--limit=5`) or from `next` (`--limit 5`) when the flag is one of `takes_value`.
fn read_flag<'a>(
    word: &Word,
    takes_value: &[&str],
    next: impl FnOnce() -> Option<&'a Word>,
) -> Result<Flag, ParseError> {
    let long = word.plain_text().starts_with("--");
    let dashes = if long { "--" } else { "-" };
    let body = &word.text[dashes.len()..];
    // An `=` counts only in the plain part: in `--x'=y'` it belongs to the name.
    let (name, inline) = match body.split_once('=') {
        Some((n, v)) if dashes.len() + n.len() < word.plain_prefix => (n, Some(v)),
        _ => (body, None),
    };
    let value = match (inline, takes_value.contains(&name)) {
        (None, false) => None,
        (Some(_), false) => {
            return Err(ParseError::new(
                format!("flag '{dashes}{name}' takes no value"),
                word.span,
            ));
        }
        (Some(v), true) => {
            let cut = dashes.len() + name.len() + 1;
            Some(Word {
                text: v.to_string(),
                span: Span::new((word.span.start + cut).min(word.span.end), word.span.end),
                quoted: word.quoted,
                plain_prefix: word.plain_prefix.saturating_sub(cut),
            })
        }
        (None, true) => match next() {
            Some(v) if !is_flag(v.plain_text()) => Some(v.clone()),
            Some(v) => {
                return Err(ParseError::new(
                    format!(
                        "flag '{dashes}{name}' needs a value, not the flag '{}'",
                        v.text
                    ),
                    v.span,
                )
                .expected("a value"));
            }
            None => {
                return Err(ParseError::new(
                    format!("flag '{dashes}{name}' needs a value"),
                    Span::at(word.span.end),
                )
                .expected("a value"));
            }
        },
    };
    let span = value.as_ref().map_or(word.span, |v| word.span.to(v.span));
    Ok(Flag {
        name: name.to_string(),
        long,
        value,
        span,
    })
}

/// Splits `key=value` at the first `=` (which lies in the word's plain prefix).
fn read_pair(word: &Word, key: &str) -> Pair {
    let cut = key.len() + 1;
    let key_end = word.span.start + key.len();
    Pair {
        key: key.to_string(),
        key_span: Span::new(word.span.start, key_end),
        value: Word {
            text: word.text.get(cut..).unwrap_or("").to_string(),
            span: Span::new(key_end + 1, word.span.end),
            quoted: word.quoted,
            plain_prefix: word.plain_prefix.saturating_sub(cut),
        },
    }
}

/// `-x`, `--name`, but not `-`, `--`, `-5` or `-1.5`.
fn is_flag(plain: &str) -> bool {
    let body = plain.strip_prefix("--").or_else(|| plain.strip_prefix('-'));
    match body.and_then(|b| b.chars().next()) {
        Some(c) => c.is_alphabetic() || (c == '_'),
        None => false,
    }
}

/// The key of a `key=value` word, if its plain prefix starts like one.
fn pair_key(plain: &str) -> Option<&str> {
    let (key, _) = plain.split_once('=')?;
    let mut chars = key.chars();
    let first = chars.next()?;
    let ok = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    ok.then_some(key)
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
