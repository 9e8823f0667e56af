//! Spans and the language's parse error.
//!
//! Owns [`Span`] (a byte range into the line the user typed) and [`ParseError`], the error every
//! parsing step in `lang` returns, with [`ParseError::render`] to print the line and a caret under
//! the bad part. It must not know about the crate's user-facing `Error`: the command layer wraps
//! a `ParseError` into one, keeping the rendered caret as the message.

use std::fmt;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A half-open byte range `start..end` into the source line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }

    /// An empty span at one position, e.g. the end of the line where something is missing.
    pub fn at(pos: usize) -> Self {
        Span {
            start: pos,
            end: pos,
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span moved right by `offset` bytes (used when a sub-string is parsed on its own).
    pub fn shift(self, offset: usize) -> Span {
        Span {
            start: self.start + offset,
            end: self.end + offset,
        }
    }

    /// Whether a byte position lies inside the span or touches its end (for completion).
    pub fn contains(&self, pos: usize) -> bool {
        self.start <= pos && pos <= self.end
    }
}

/// A syntax error with the place it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// A sentence naming what is wrong, e.g. `expected a value after '>'`.
    pub message: String,
    /// Where in the line; may be empty (a point, e.g. the end of the line).
    pub span: Span,
    /// A short description of what would have been valid here, for hints and completion.
    pub expected: Option<String>,
    /// True when the line is merely unfinished (open quote, trailing `|` or `\`): an interactive
    /// validator should let the user continue on the next line instead of reporting an error.
    pub incomplete: bool,
}

impl ParseError {
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        ParseError {
            message: message.into(),
            span,
            expected: None,
            incomplete: false,
        }
    }

    pub fn expected(mut self, what: impl Into<String>) -> Self {
        self.expected = Some(what.into());
        self
    }

    pub fn incomplete(mut self) -> Self {
        self.incomplete = true;
        self
    }

    /// Moves the span right by `offset` bytes.
    pub fn shift(mut self, offset: usize) -> Self {
        self.span = self.span.shift(offset);
        self
    }

    /// Prints the source line holding the error and a caret line under the bad span:
    ///
    /// ```text
    /// ls | where mem >
    ///                ^ expected a value after '>'
    /// ```
    ///
    /// Columns count display width, so wide characters and tabs line up. Only the physical line
    /// that contains the start of the span is shown; a span running past it is cut at its end.
    pub fn render(&self, line: &str) -> String {
        let start = clamp_to_char(line, self.span.start);
        let end = clamp_to_char(line, self.span.end.max(start));
        let line_start = line[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = line[start..].find('\n').map_or(line.len(), |i| start + i);
        let shown = line[line_start..line_end].trim_end_matches('\r');
        let end = end.min(line_start + shown.len()).max(start);

        let mut pad = String::new();
        for ch in line[line_start..start].chars() {
            if ch == '\t' {
                pad.push('\t');
            } else {
                pad.extend(std::iter::repeat_n(' ', ch.width().unwrap_or(0)));
            }
        }
        let carets = UnicodeWidthStr::width(&line[start..end]).max(1);
        format!("{shown}\n{pad}{} {}", "^".repeat(carets), self.message)
    }
}

/// The largest char boundary in `line` that is not after `pos`.
fn clamp_to_char(line: &str, pos: usize) -> usize {
    let mut pos = pos.min(line.len());
    while !line.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at column {})", self.message, self.span.start + 1)
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, span: (usize, usize), expected: &str) {
        let err = ParseError::new("boom", Span::new(span.0, span.1));
        assert_eq!(err.render(line), expected, "line {line:?} span {span:?}");
    }

    #[test]
    fn render_puts_carets_under_the_span() {
        check(
            "ls | where mem >",
            (15, 16),
            "ls | where mem >\n               ^ boom",
        );
        check("ls | x", (5, 6), "ls | x\n     ^ boom");
        check("abc", (3, 3), "abc\n   ^ boom");
        check("abc", (0, 3), "abc\n^^^ boom");
        check("abc", (10, 12), "abc\n   ^ boom");
        check("名前 = x", (7, 8), "名前 = x\n     ^ boom");
        check("\tab", (1, 2), "\tab\n\t^ boom");
        check("one\ntwo three", (8, 13), "two three\n    ^^^^^ boom");
        check("a 'bc\nde", (2, 8), "a 'bc\n  ^^^ boom");
    }
}
