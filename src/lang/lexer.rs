//! The lexer: a command line into words, pipes and comments, with byte spans.
//!
//! Owns POSIX-like word splitting: single quotes are literal, double quotes honour the escapes
//! `\"` `\\` `\$` `` \` `` (any other backslash stays), a backslash outside quotes escapes the next
//! character, a backslash before a newline joins lines, `|` outside quotes separates stages and
//! `#` at the start of a word begins a comment to the end of the line. There is no expansion of
//! any kind (`$`, `*`, `~` are ordinary characters): the shell never runs a system shell.
//!
//! Every token keeps its raw span (highlighting and completion work on the raw line) and a word
//! keeps its unquoted text. [`lex`] reports unfinished input with `incomplete` set; [`lex_partial`]
//! never fails, for half-typed lines. The filter language reuses [`scan_word`] with its own
//! delimiters, so quoting means the same thing everywhere.

use std::borrow::Cow;

use super::error::{ParseError, Span};

/// One word of the line, after quote removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The text with quotes and escapes removed.
    pub text: String,
    /// The raw span in the line, quotes included.
    pub span: Span,
    /// True when any part of the word was quoted or escaped (`'4G'` is a string, `-x` after `\`
    /// is not a flag).
    pub quoted: bool,
    /// How many leading bytes of `text` came from plain (unquoted, unescaped) characters. Flags and
    /// `key=value` pairs are recognised only within this prefix, so `name='a=b'` is a pair whose
    /// value is `a=b`, while `'a=b'` is a positional.
    pub plain_prefix: usize,
}

impl Word {
    /// A plain, unquoted word (handy for tests and for synthesised commands).
    pub fn plain(text: &str, start: usize) -> Self {
        Word {
            text: text.to_string(),
            span: Span::new(start, start + text.len()),
            quoted: false,
            plain_prefix: text.len(),
        }
    }

    /// The plain (unquoted) leading part of the text.
    pub fn plain_text(&self) -> &str {
        self.text.get(..self.plain_prefix).unwrap_or("")
    }
}

/// A lexical token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Word(Word),
    /// A `|` outside quotes.
    Pipe(Span),
    /// A comment, from `#` to the end of the physical line (the newline is not included).
    Comment(Span),
    /// A `;` outside quotes at a word boundary: it separates pipelines (`ls; nodes`). A `;`
    /// inside a word (`tags=prod;web`) or quoted (`';'`) is text.
    Semi(Span),
}

impl Token {
    pub fn span(&self) -> Span {
        match self {
            Token::Word(w) => w.span,
            Token::Pipe(s) | Token::Comment(s) | Token::Semi(s) => *s,
        }
    }
}

/// Quotes a word so that [`lex`] (and the filter language) read it back as exactly `text`: plain
/// when it holds nothing special, else in single quotes with `'` written as `'\''`. For
/// completion inserting names and for printing commands back.
pub fn quote(text: &str) -> Cow<'_, str> {
    const SPECIAL: &str = "'\"\\|#()[],=<>!~$`;&*?{}";
    let plain = !text.is_empty()
        && !text.contains(|c: char| c.is_whitespace() || c.is_control() || SPECIAL.contains(c));
    if plain {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("'{}'", text.replace('\'', "'\\''")))
    }
}

/// Splits a line into tokens; an unterminated quote or a trailing backslash is an error with
/// `incomplete` set.
pub fn lex(line: &str) -> Result<Vec<Token>, ParseError> {
    lex_with(line, false)
}

/// Like [`lex`] but never fails: an unterminated quote runs to the end of the line and a trailing
/// backslash is dropped. For completion and highlighting of half-typed lines.
pub fn lex_partial(line: &str) -> Vec<Token> {
    // In tolerant mode `scan_word` has no error path; an empty list is the safe fallback anyway.
    lex_with(line, true).unwrap_or_default()
}

fn lex_with(line: &str, tolerant: bool) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(c) = line[pos..].chars().next() {
        if c.is_whitespace() {
            pos += c.len_utf8();
        } else if c == '|' {
            tokens.push(Token::Pipe(Span::new(pos, pos + 1)));
            pos += 1;
        } else if c == ';' {
            tokens.push(Token::Semi(Span::new(pos, pos + 1)));
            pos += 1;
        } else if c == '#' {
            let end = line[pos..].find('\n').map_or(line.len(), |i| pos + i);
            tokens.push(Token::Comment(Span::new(pos, end)));
            pos = end;
        } else if c == '\\' && line[pos + 1..].starts_with('\n') {
            // A line continuation between words is just whitespace.
            pos += 2;
        } else {
            let is_delim = |rest: &str| {
                rest.starts_with(|c: char| c.is_whitespace() || c == '|') || ends_statement(rest)
            };
            let word = scan_word(line, pos, is_delim, tolerant)?;
            pos = word.span.end;
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

/// Whether `rest` starts with a `;` that ends a word: one followed by whitespace, `|`, `;` or
/// the end of the line (`ls; nodes`, `count;`), not one inside a word (`prod;web`).
fn ends_statement(rest: &str) -> bool {
    rest.strip_prefix(';').is_some_and(|after| {
        after.is_empty() || after.starts_with(|c: char| c.is_whitespace() || c == '|' || c == ';')
    })
}

/// Scans one word starting at byte `start` up to the first unquoted position where `is_delim`
/// (given the rest of the source from there) is true. Whitespace must be among the delimiters.
pub(crate) fn scan_word(
    src: &str,
    start: usize,
    is_delim: impl Fn(&str) -> bool,
    tolerant: bool,
) -> Result<Word, ParseError> {
    let mut text = String::new();
    let mut quoted = false;
    let mut plain_prefix = 0;
    let mut pos = start;

    while let Some(c) = src[pos..].chars().next() {
        match c {
            '\'' => {
                quoted = true;
                let body = pos + 1;
                match src[body..].find('\'') {
                    Some(i) => {
                        text.push_str(&src[body..body + i]);
                        pos = body + i + 1;
                    }
                    None if tolerant => {
                        text.push_str(&src[body..]);
                        pos = src.len();
                    }
                    None => {
                        return Err(ParseError::new(
                            "unterminated single quote: add a closing '",
                            Span::new(pos, src.len()),
                        )
                        .expected("a closing '")
                        .incomplete());
                    }
                }
            }
            '"' => {
                quoted = true;
                pos = scan_double_quoted(src, pos, &mut text, tolerant)?;
            }
            '\\' => {
                quoted = true;
                let next = src[pos + 1..].chars().next();
                match next {
                    Some('\n') => pos += 2,
                    Some(n) => {
                        text.push(n);
                        pos += 1 + n.len_utf8();
                    }
                    None if tolerant => pos += 1,
                    None => {
                        return Err(ParseError::new(
                            "the line ends with a backslash: add the character it escapes",
                            Span::new(pos, pos + 1),
                        )
                        .expected("a character after '\\'")
                        .incomplete());
                    }
                }
            }
            _ if is_delim(&src[pos..]) => break,
            c => {
                text.push(c);
                pos += c.len_utf8();
                if !quoted {
                    plain_prefix = text.len();
                }
            }
        }
    }
    Ok(Word {
        text,
        span: Span::new(start, pos),
        quoted,
        plain_prefix,
    })
}

/// Scans a double-quoted part starting at the opening quote; returns the position after the
/// closing quote.
fn scan_double_quoted(
    src: &str,
    open: usize,
    text: &mut String,
    tolerant: bool,
) -> Result<usize, ParseError> {
    let mut pos = open + 1;
    while let Some(c) = src[pos..].chars().next() {
        match c {
            '"' => return Ok(pos + 1),
            '\\' => match src[pos + 1..].chars().next() {
                Some(e @ ('"' | '\\' | '$' | '`')) => {
                    text.push(e);
                    pos += 2;
                }
                Some('\n') => pos += 2,
                Some(_) | None => {
                    text.push('\\');
                    pos += 1;
                }
            },
            c => {
                text.push(c);
                pos += c.len_utf8();
            }
        }
    }
    if tolerant {
        Ok(src.len())
    } else {
        Err(ParseError::new(
            "unterminated double quote: add a closing \"",
            Span::new(open, src.len()),
        )
        .expected("a closing \"")
        .incomplete())
    }
}

#[cfg(test)]
#[path = "lexer_tests.rs"]
mod tests;
