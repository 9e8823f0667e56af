//! Prose wrapped at word boundaries: help text, and notes and errors on a terminal.

use unicode_width::UnicodeWidthStr;

/// `text` wrapped at word boundaries to `width` columns: the first line starts with `first`,
/// the others with `indent` spaces. A word longer than a line stays whole.
pub fn words(first: &str, text: &str, indent: usize, width: usize) -> String {
    let mut out = first.to_string();
    let mut col = first.width();
    let mut at_start = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = word.width();
        if !at_start && col + 1 + w > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
            at_start = true;
        }
        if !at_start {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
        at_start = false;
    }
    out.push('\n');
    out
}

/// Each line of `text` that is wider than `width` wrapped at words; its continuation lines are
/// indented like the line, two more after a leading `hint: `, so a wrapped hint still reads as
/// one. Lines that fit are kept as they are, spaces included.
pub fn lines(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.lines() {
        if line.width() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let body = line.trim_start();
        let lead = line.len() - body.len();
        let (first, rest, indent) = match body.strip_prefix("hint: ") {
            Some(rest) => (format!("{}hint: ", &line[..lead]), rest, lead + 6),
            None => (line[..lead].to_string(), body, lead + 2),
        };
        out.push_str(&words(&first, rest, indent, width));
    }
    out
}

/// The width to wrap standard error's prose at: the terminal's, when standard error is one.
pub fn stderr_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(w, _)| w as usize)
        .filter(|w| *w >= 20)
}

/// `msg` as standard error shows it: on a terminal, lines wider than it wrapped ([`lines`]),
/// without a final newline; elsewhere as it is.
pub fn for_stderr(msg: &str) -> std::borrow::Cow<'_, str> {
    match stderr_width() {
        Some(w) => {
            let mut text = lines(msg, w);
            text.truncate(text.trim_end_matches('\n').len());
            std::borrow::Cow::Owned(text)
        }
        None => std::borrow::Cow::Borrowed(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_break_between_words_and_keep_a_long_word_whole() {
        assert_eq!(words("", "aa bb cc", 2, 5), "aa bb\n  cc\n");
        assert_eq!(words("> ", "abcdefgh ij", 0, 6), "> abcdefgh\nij\n");
    }

    #[test]
    fn lines_wrap_only_what_is_too_wide_and_indent_hints() {
        let text = "short\nerror: one two three four\n  hint: five six seven eight\n";
        assert_eq!(
            lines(text, 20),
            "short\nerror: one two three\n  four\n  hint: five six\n        seven eight\n"
        );
        assert_eq!(
            lines("a  b\n", 20),
            "a  b\n",
            "a line that fits keeps its spaces"
        );
    }
}
