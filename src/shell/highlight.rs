//! Highlighting from the same lexer the shell runs: known and unknown commands, guest references
//! that resolve and those that do not, flags, quoted strings, filter operators and pipes.
//!
//! [`classify`] is pure (tested as data); [`LineHighlighter`] paints its classes for reedline.

use nu_ansi_term::{Color, Style};
use reedline::{Highlighter, StyledText};

use crate::commands::{self, ArgKind};
use crate::inventory::{Inventory, SharedInventory};
use crate::lang::{Token, lex_partial};

/// What a piece of the line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Command,
    UnknownCommand,
    Flag,
    Guest,
    UnknownGuest,
    String,
    Operator,
    Pipe,
    Comment,
    Plain,
}

const OPERATORS: &[&str] = &[
    "=", "!=", "<", "<=", ">", ">=", "=~", "!~", "has", "in", "and", "or", "not",
];

/// Classifies every token of the line: `(start, end, class)` with byte offsets, in order.
pub fn classify(line: &str, inv: Option<&Inventory>) -> Vec<(usize, usize, Class)> {
    let mut out = Vec::new();
    let mut position = 0;
    let mut cmd: Option<&'static commands::Command> = None;
    for token in lex_partial(line) {
        match token {
            Token::Pipe(s) | Token::Semi(s) => {
                out.push((s.start, s.end, Class::Pipe));
                position = 0;
                cmd = None;
            }
            Token::Comment(s) => out.push((s.start, s.end, Class::Comment)),
            Token::Word(w) => {
                let class = if position == 0 {
                    cmd = commands::find(&w.text);
                    if cmd.is_some() {
                        Class::Command
                    } else {
                        Class::UnknownCommand
                    }
                } else if !w.quoted && w.text.starts_with('-') && w.text.len() > 1 {
                    Class::Flag
                } else if w.quoted {
                    Class::String
                } else if OPERATORS.contains(&w.text.as_str()) {
                    Class::Operator
                } else if takes_guest(cmd) {
                    match inv {
                        Some(inv) if inv.resolve(&w.text).is_ok() => Class::Guest,
                        Some(_) => Class::UnknownGuest,
                        None => Class::Plain,
                    }
                } else {
                    Class::Plain
                };
                out.push((w.span.start, w.span.end, class));
                position += 1;
            }
        }
    }
    out
}

fn takes_guest(cmd: Option<&'static commands::Command>) -> bool {
    cmd.is_some_and(|c| {
        c.sig
            .args
            .iter()
            .any(|a| !a.is_flag() && a.kind == ArgKind::Vm)
    })
}

fn style_of(class: Class) -> Style {
    match class {
        Class::Command => Style::new().fg(Color::Green).bold(),
        Class::UnknownCommand => Style::new().fg(Color::Red),
        Class::Flag => Style::new().fg(Color::Blue),
        Class::Guest => Style::new().fg(Color::Cyan),
        Class::UnknownGuest => Style::new().fg(Color::Red).underline(),
        Class::String => Style::new().fg(Color::Yellow),
        Class::Operator => Style::new().fg(Color::Magenta),
        Class::Pipe => Style::new().fg(Color::Purple).bold(),
        Class::Comment => Style::new().fg(Color::DarkGray),
        Class::Plain => Style::new(),
    }
}

pub struct LineHighlighter {
    inventory: SharedInventory,
    color: bool,
}

impl LineHighlighter {
    pub fn new(inventory: SharedInventory, color: bool) -> LineHighlighter {
        LineHighlighter { inventory, color }
    }
}

impl Highlighter for LineHighlighter {
    fn highlight(&self, line: &str, _cursor: usize) -> StyledText {
        let mut styled = StyledText::new();
        if !self.color {
            styled.push((Style::new(), line.to_string()));
            return styled;
        }
        let inv = self.inventory.get();
        let mut at = 0;
        for (start, end, class) in classify(line, inv.as_deref()) {
            if start > at {
                styled.push((Style::new(), line[at..start].to_string()));
            }
            styled.push((style_of(class), line[start..end].to_string()));
            at = end;
        }
        if at < line.len() {
            styled.push((Style::new(), line[at..].to_string()));
        }
        styled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(line: &str, expected: &[(&str, Class)]) {
        let inv = Inventory::from_resources(&json!([
            {"type":"qemu","vmid":101,"name":"web01","node":"pve1","status":"running"},
        ]))
        .unwrap();
        let got: Vec<(&str, Class)> = classify(line, Some(&inv))
            .into_iter()
            .map(|(s, e, c)| (&line[s..e], c))
            .collect();
        assert_eq!(got, expected, "{line}");
    }

    #[test]
    fn a_semicolon_separates_pipelines() {
        use Class::*;
        check(
            "ls; status web01",
            &[
                ("ls", Command),
                (";", Pipe),
                ("status", Command),
                ("web01", Guest),
            ],
        );
        check("status 'a;b'", &[("status", Command), ("'a;b'", String)]);
    }

    #[test]
    fn classes() {
        use Class::*;
        check("status web01", &[("status", Command), ("web01", Guest)]);
        check(
            "status webx",
            &[("status", Command), ("webx", UnknownGuest)],
        );
        check(
            "stauts web01",
            &[("stauts", UnknownCommand), ("web01", Plain)],
        );
        check(
            "ls --type qemu | where name = 'web 01'",
            &[
                ("ls", Command),
                ("--type", Flag),
                ("qemu", Plain),
                ("|", Pipe),
                ("where", Command),
                ("name", Plain),
                ("=", Operator),
                ("'web 01'", String),
            ],
        );
        check(
            "status 101 # note",
            &[("status", Command), ("101", Guest), ("# note", Comment)],
        );
    }
}
