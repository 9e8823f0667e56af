//! `help`: the command list, one command's signature and examples, the filter language, and
//! the exit codes — all generated from the signatures, so help cannot drift from the commands.

use super::{COMMANDS, Category, Command, Example, Output, Signature, find, suggest};
use crate::error::Error;
use crate::lang::Value;

const FILTER_LANGUAGE: &str = "\
Filter language (`where EXPR`):
  comparisons  field = value   != < <= > >=       status=running   mem > 4G
  regex        field =~ 'pattern'   !~ 'pattern'  name =~ '^web'
  membership   field has value (tag, list member) tags has prod
               field in [a,b,c]                   node in [pve1,pve2]
  logic        and, or, not, ( )  — not binds tightest, then and, then or
  literals     sizes 512M 4G 1.5T (binary units, as PVE), durations 90s 2h 3d
               1w, numbers, true/false, 'quoted strings'
  A record without the field does not match. Values are compared as the
  field's type: `mem > 4G` compares bytes, `uptime > 2h` compares seconds.
";

const EXIT_CODES: &str = "\
Exit codes:
  0    ok
  1    a command failed (API error, failed task, unknown guest)
  2    usage or parse error
  3    a commit partly failed
  4    refused by policy (protected guest, quota, VMID range)
  5    a batch (-f or standard input) ended with changes still pending: they are
       kept, not applied
  130  interrupted (Ctrl-C)
";

/// Help is laid out for this many columns (a terminal's default; tables are cut to it too).
pub const HELP_WIDTH: usize = 80;

/// `text` wrapped at word boundaries to [`HELP_WIDTH`] ([`wrap::words`]).
fn wrap(first: &str, text: &str, indent: usize) -> String {
    crate::render::wrap::words(first, text, indent, HELP_WIDTH)
}

/// The help text of one command.
pub fn command_help(sig: &Signature) -> String {
    let mut out = wrap("", sig.about, 0);
    out.push('\n');
    // A bracketed flag and its value stay on one line: `[--limit LIMIT]`.
    let mut usage = String::new();
    let mut depth = 0usize;
    for c in sig.usage().chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        usage.push(if c == ' ' && depth > 0 { '\u{a0}' } else { c });
    }
    out.push_str(&wrap("  ", &usage, 4).replace('\u{a0}', " "));
    if !sig.args.is_empty() {
        out.push('\n');
        let width = sig.args.iter().map(|a| a.name.len()).max().unwrap_or(0);
        for a in sig.args {
            out.push_str(&wrap(&format!("  {:width$}  ", a.name), a.help, width + 4));
        }
    }
    if sig.destructive() {
        out.push_str("\n  Destructive: staged in the pending buffer; `commit` applies it.\n");
    }
    out.push_str("\nExamples:\n");
    out.push_str(&examples(sig.examples));
    if sig.name == "where" {
        out.push('\n');
        out.push_str(FILTER_LANGUAGE);
    }
    if sig.name == "group-by" {
        out.push('\n');
        out.push_str(super::records::GROUP_BY_NOTES);
    }
    if sig.name == "commit" {
        out.push('\n');
        out.push_str(super::pending::COMMIT_NOTES);
    }
    out
}

/// Examples with their notes aligned after them, or, where a line leaves no room, on the line
/// below it.
fn examples(list: &[Example]) -> String {
    let fits = |e: &&Example| e.line.len() + e.about.len() + 7 <= HELP_WIDTH;
    let width = list
        .iter()
        .filter(fits)
        .map(|e| e.line.len())
        .max()
        .unwrap_or(0);
    list.iter()
        .map(|e| {
            if fits(&e) && width + e.about.len() + 7 <= HELP_WIDTH {
                format!("  {:width$}   # {}\n", e.line, e.about)
            } else if fits(&e) {
                format!("  {}   # {}\n", e.line, e.about)
            } else {
                format!("  {}\n{}", e.line, wrap("      # ", e.about, 8))
            }
        })
        .collect()
}

/// The overview: every command by category, then the exit codes.
pub fn overview() -> String {
    let mut out = String::from(
        "pvesh+ — a shell for Proxmox VE. A line is a pipeline:\n\
         `ls | where status=running | count`; `;` runs several in turn, stopping at the\n\
         first error: `ls | count; nodes`. Guests are named by VMID, name, unique\n\
         prefix, or @tag:X @pool:X @node:X @all.\n",
    );
    for (cat, title) in [
        (Category::Read, "Reading the cluster"),
        (Category::Change, "Changing guests (destructive ones stage)"),
        (Category::Plan, "The pending plan"),
        (Category::Records, "Working on records"),
        (Category::Session, "The session"),
        (Category::Create, "Creating guests"),
    ] {
        let cmds: Vec<&Command> = COMMANDS
            .iter()
            .copied()
            .filter(|c| c.sig.category == cat)
            .collect();
        if cmds.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{title}:\n"));
        let width = cmds.iter().map(|c| c.sig.name.len()).max().unwrap_or(0);
        for c in cmds {
            let head = format!("  {:width$}  ", c.sig.name);
            out.push_str(&wrap(&head, c.sig.about, width + 4));
        }
    }
    out.push_str(
        "\n`help COMMAND` shows its usage and examples; `help where` the filter language.\n\n",
    );
    out.push_str(EXIT_CODES);
    out
}

pub static HELP: Command = Command {
    sig: Signature {
        name: "help",
        category: Category::Session,
        about: "Show the commands, or one command's usage and examples.",
        args: &[super::Arg::opt(
            "command",
            super::ArgKind::Text,
            "a command name, or `where` for the filter language",
        )],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "help",
                about: "all commands and the exit codes",
            },
            Example {
                line: "help ls",
                about: "usage and examples of ls",
            },
        ],
    },
    run: |_ctx, call| {
        Box::pin(async move {
            let text = match call.args.positionals.first().map(|w| w.text.as_str()) {
                None => overview(),
                Some("exit-codes") => EXIT_CODES.to_string(),
                Some(name) => match find(name) {
                    Some(cmd) => command_help(&cmd.sig),
                    None => return Err(unknown(name)),
                },
            };
            Ok(Output::value(Value::String(text)).raw())
        })
    },
};

fn unknown(name: &str) -> Error {
    let close = suggest(name);
    let err = Error::usage(format!("no command '{name}'"));
    if close.is_empty() {
        err.hinted("`help` lists the commands")
    } else {
        err.hinted(format!("did you mean {}?", close.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    /// Every line of every help text fits [`HELP_WIDTH`], except a line whose longest word (a
    /// URL) could not fit on any line once indented.
    #[test]
    fn every_help_text_fits_the_width() {
        let mut texts = vec![
            ("help".to_string(), overview()),
            ("exit-codes".into(), EXIT_CODES.into()),
        ];
        texts.extend(
            COMMANDS
                .iter()
                .map(|c| (c.sig.name.to_string(), command_help(&c.sig))),
        );
        let mut wide = Vec::new();
        for (name, text) in &texts {
            for line in text.lines() {
                let longest = line
                    .split(' ')
                    .map(UnicodeWidthStr::width)
                    .max()
                    .unwrap_or(0);
                if line.width() > HELP_WIDTH && longest + 8 <= HELP_WIDTH {
                    wide.push(format!("{name}: {line}"));
                }
            }
        }
        assert!(
            wide.is_empty(),
            "lines wider than {HELP_WIDTH}:\n{}",
            wide.join("\n")
        );
    }
}
