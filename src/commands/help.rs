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
  6    needs a person's approval (agent.require_approval), or the approval asked
       for is expired, changed or unknown: `help agents`
  130  interrupted (Ctrl-C)
";

/// `help agents`: the rules a script or an AI agent should follow (also in the README).
pub const AGENTS: &str = r#"Scripts and AI agents: pvesh+ is the safer tool to call than qm or pvesh over
SSH. The rules:

1. Read with --json (or -o json): stdout then holds JSON only, one document per
   line run; notes and progress stay text on stderr.
2. With --json, a failing line prints one JSON object on stdout (and nothing
   else for the error), whatever failed: the command line, a parse error, an
   unknown command, a policy refusal, the server, a missing guest:
     {"error": {"kind": "api", "message": "POST /pools failed: ...",
      "hints": ["..."], "exit_code": 1, "params": {"bogus": "property is
      not defined in schema ..."}, "http_status": 400, "location": null}}
   kind: usage parse config connection api task not_found policy
   approval_required partial interrupted internal. params: per-parameter
   errors (PVE's 400 `errors`); http_status, location (script.pve:3): null
   when they do not apply. Branch on exit_code and kind, not on the message.
3. Look first: every action takes --dry-run (the plan and the requests it
   would send; nothing staged, nothing sent), and so does `commit --dry-run`.
4. Destructive changes stage. Do not commit them yourself: ask a person with
   --request-approval (pvesh-plus -c 'stop web01' --request-approval) or
   `commit --request-approval`. It prints the approval id with the plan and
   exits 0; nothing is applied. A person then runs `pvesh-plus approve ID` in
   a terminal (`approvals` lists the requests, `reject ID` refuses one): it
   shows the plan and the diff, re-checks that the pending plan is exactly
   the one requested and that no guest's config changed, asks, then applies;
   the audit log records who asked and who approved. An approval binds to the
   exact plan (stage anything more and it is refused: ask again), is used
   once, and expires (agent.approval_ttl, default 1h). approve refuses
   without a terminal: an agent cannot approve its own request.
5. With agent.require_approval: destructive (or all) in the config, a commit
   from -c, -f or standard input is refused with exit 6 (kind
   approval_required) and changes that need an approval stage instead of
   running; nothing is sent. A person at the interactive shell is not asked.
6. Create idempotently: `new NAME ... --if-exists return` returns the guest
   of that name (existed: true) instead of failing; the default is fail.
7. Quotas from the environment override the config's: PROXMOX_MAX_CPU
   (cores per guest), PROXMOX_MAX_RAM_MB and PROXMOX_MAX_DISK_GB (per guest),
   PROXMOX_MAX_VMS (guests in the cluster). A refusal names the variable.
8. Give the agent its own narrow API token (PROXMOX_TOKEN_ID,
   PROXMOX_TOKEN_SECRET in its environment, never on a command line or in a
   prompt); pvesh+ never prints a secret. The rules say what to do; the
   token decides what it can do.
9. Nothing waits for an answer without a terminal: give `new` a NAME and
   flags; `approve` refuses.
10. MCP: `pvesh-plus mcp` (with --demo, --cluster NAME, ...) serves the
   Model Context Protocol on stdio: list_guests, run (one read-only
   pipeline), a tool per read command and per action. Destructive calls
   stage and return an approval request (id, actions, diff, expiry) that a
   person approves with `pvesh-plus approve ID` (on the demo cluster of
   `mcp --demo`: `pvesh-plus --join-demo approve ID`). Client config:
     {"mcpServers": {"pvesh-plus": {"command": "pvesh-plus",
       "args": ["mcp", "--cluster", "lab"]}}}

Exit codes: 0 ok, 1 failed, 2 usage, 3 partly failed, 4 refused by policy,
5 a batch left changes pending, 6 needs approval (or the approval is
expired, changed or unknown), 130 interrupted.
"#;

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
         prefix, or @tag:X @pool:X @node:X @all. A line's first read runs on several\n\
         clusters with --cluster a,b or --all-clusters (`context ls` lists them).\n",
    );
    for (cat, title) in [
        (Category::Read, "Reading the cluster"),
        (Category::Change, "Changing guests (destructive ones stage)"),
        (Category::Plan, "The pending plan"),
        (Category::Records, "Working on records"),
        (Category::Session, "The session"),
        (Category::Create, "Creating guests"),
        (Category::Runbook, "Runbooks"),
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
        "\n`help COMMAND` shows its usage and examples; `help where` the filter language;\n\
         `help agents` the rules for scripts and AI agents.\n\n",
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
            "a command name, `where` for the filter language, or `agents`",
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
            Example {
                line: "help agents",
                about: "the rules for scripts and AI agents",
            },
        ],
    },
    run: |_ctx, call| {
        Box::pin(async move {
            let text = match call.args.positionals.first().map(|w| w.text.as_str()) {
                None => overview(),
                Some("exit-codes") => EXIT_CODES.to_string(),
                Some("agents") => AGENTS.to_string(),
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

    #[test]
    fn help_agents_names_every_error_kind_and_exit_code() {
        for kind in crate::error::ErrorKind::ALL {
            assert!(super::AGENTS.contains(kind.as_str()), "{kind:?}");
        }
        for code in [
            "0 ok",
            "4 refused by policy",
            "6 needs approval",
            "130 interrupted",
        ] {
            assert!(super::AGENTS.contains(code), "{code}");
        }
        for line in super::AGENTS.lines() {
            assert!(line.chars().count() <= super::HELP_WIDTH, "{line}");
        }
    }
}
