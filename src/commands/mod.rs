//! Commands: one declarative [`Signature`] per command, one registry list, and the pipeline
//! engine that runs a parsed line stage by stage.
//!
//! A signature feeds the runner, `help`, completion and highlighting; its examples are run as
//! tests. Commands never print: they return an [`Output`] (a value plus a hint for how to show it)
//! and report progress through [`Ctx::note`]. Which command is destructive follows from the action
//! kind in its signature, not a decision made at the call site.
//!
//! The session a command runs in ([`Ctx`]) is [`crate::session`]. Files: `engine.rs` (parse → run stages),
//! `read.rs` (version, nodes, ls, status, tasks), `reads.rs` (ps, storage, content, pools, tags,
//! templates, backup-jobs), `guest_reads.rs` (snapshots, backups, config), `guest_ip.rs` (ip), `propstring.rs`
//! (config property strings), `apischema.rs` (usage, the server's API schema), `records.rs` (where,
//! select, sort-by, ..., sum, avg, min, max), `actions.rs` (start, stop, snapshot, set, ...: plan, stage or run),
//! `changes.rs` (set and tag values), `console.rs` (console: termproxy via the executor), `dashboard.rs` (dashboard: the numbers and frame are
//! `crate::render::dashboard`), `rawapi.rs` (set/create/delete on API paths), `pending.rs` (pending, diff, discard, commit, confirm), `new.rs`
//! (new, new-template: over `crate::wizard`), `session.rs` (use, cd, ...), `transfer.rs` (upload, download-url), `runbook.rs`
//! (runbook ls/show/run: over `crate::runbook`, its lines through this engine), `help.rs`.

mod actions;
mod apischema;
mod approvals;
pub use approvals::request as request_approval;
mod changes;
mod cluster_ops;
mod console;
pub(crate) mod contexts;
mod dashboard;
mod definitions;
mod engine;
mod export;
mod guest_ip;
mod guest_ops;
mod guest_reads;
mod help;
mod hygiene;
mod new;
mod pending;
mod propstring;
mod rawapi;
mod rbac;
mod read;
mod reads;
mod records;
mod remote;
mod runbook;
mod session;
mod transfer;

pub use crate::session::{BoxFuture, Ctx, OutputFormat};
pub use apischema::{APIDOC_PATH, load_into as load_schema_into};
pub use approvals::plan_text as approval_plan_text;
pub use dashboard::{Live, numbers as dashboard_numbers};
pub use engine::{Output, run_line};
pub use pending::{check_confirm_window, finish_run, restore_notice};
pub use rbac::{FEATURES as RBAC_FEATURES, Feature};
pub use read::{GUEST_FIELDS, guest_record};

use crate::error::Result;
use crate::lang::{Args, Value};
use crate::staging::ActionKind;

/// What kind of thing an argument is: drives completion and highlighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A guest: VMID, name, prefix or selector.
    Vm,
    /// A guest that is a template (`new --template`).
    Template,
    /// A snapshot name of the target guest (`rollback`, `delsnapshot`).
    Snapshot,
    /// A VM profile: the config's and the built-in ones (`new --profile`).
    Profile,
    /// A cluster of the config (`context use`).
    Cluster,
    Node,
    Storage,
    /// A field name of the records flowing in.
    Field,
    /// A `where` expression.
    Filter,
    /// A number.
    Count,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A path in the API tree (`/nodes/pve1/qemu`): completed from the server's schema.
    ApiPath,
    /// A `name=value` parameter of the API path before it, named from the schema.
    ApiParam,
    /// Free text.
    Text,
}

/// One positional argument or flag of a command.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    /// `vm`, `field`, or a flag such as `--reverse` / `--limit`.
    pub name: &'static str,
    pub kind: ArgKind,
    /// For flags: whether it takes a value (`--limit 5`).
    pub takes_value: bool,
    pub optional: bool,
    pub help: &'static str,
}

impl Arg {
    pub const fn pos(name: &'static str, kind: ArgKind, help: &'static str) -> Arg {
        Arg {
            name,
            kind,
            takes_value: false,
            optional: false,
            help,
        }
    }

    pub const fn opt(name: &'static str, kind: ArgKind, help: &'static str) -> Arg {
        Arg {
            name,
            kind,
            takes_value: false,
            optional: true,
            help,
        }
    }

    pub const fn switch(name: &'static str, help: &'static str) -> Arg {
        Arg {
            name,
            kind: ArgKind::Text,
            takes_value: false,
            optional: true,
            help,
        }
    }

    pub const fn flag(name: &'static str, kind: ArgKind, help: &'static str) -> Arg {
        Arg {
            name,
            kind,
            takes_value: true,
            optional: true,
            help,
        }
    }

    pub fn is_flag(&self) -> bool {
        self.name.starts_with('-')
    }

    /// The flag name without dashes.
    pub fn flag_name(&self) -> &'static str {
        self.name.trim_start_matches('-')
    }
}

/// An example: a line and what it does. `help` prints them and the tests run them.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    pub line: &'static str,
    pub about: &'static str,
}

/// An example line and what it does, for signatures.
pub(crate) const fn ex(line: &'static str, about: &'static str) -> Example {
    Example { line, about }
}

/// The value of flag `--name`, if given with one.
pub(crate) fn flag_text(call: &Call, name: &str) -> Option<String> {
    call.args
        .flag(name)
        .and_then(|f| f.value.as_ref())
        .map(|w| w.text.clone())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Reads from the cluster and produces records.
    Read,
    /// Works on the records flowing in.
    Records,
    /// The session itself: help, context.
    Session,
    /// Changes guests: lifecycle, snapshots, config (destructive ones stage).
    Change,
    /// Works on the pending plan: pending, diff, discard, commit, confirm.
    Plan,
    /// Creates guests (`new`).
    Create,
    /// Runs runbooks: files of steps of lines (`runbook`).
    Runbook,
}

/// The declarative description of a command.
#[derive(Debug)]
pub struct Signature {
    pub name: &'static str,
    pub category: Category,
    pub about: &'static str,
    pub args: &'static [Arg],
    /// The kind of action it plans, if it plans one: whether it is destructive (and so stages,
    /// DESIGN §2) comes from the kind alone ([`ActionKind::risk`]).
    pub action: Option<ActionKind>,
    /// The fields of the records it produces (completion offers them after `where`/`select`).
    pub fields: &'static [&'static str],
    pub examples: &'static [Example],
}

impl Signature {
    /// True when the action it plans is always destructive (it stages).
    pub fn destructive(&self) -> bool {
        self.action.is_some_and(ActionKind::always_destructive)
    }

    /// `status [vm]`, `sort-by field [--reverse]`; a flag whose value is a field shows `FIELD`.
    pub fn usage(&self) -> String {
        let mut out = self.name.to_string();
        for a in self.args {
            let word = if a.is_flag() && a.takes_value && a.kind == ArgKind::Field {
                format!("{} FIELD", a.name)
            } else if a.is_flag() && a.takes_value {
                format!("{} {}", a.name, a.flag_name().to_uppercase())
            } else if a.is_flag() {
                a.name.to_string()
            } else {
                a.name.to_uppercase()
            };
            if a.optional {
                out.push_str(&format!(" [{word}]"));
            } else {
                out.push_str(&format!(" {word}"));
            }
        }
        out
    }

    /// The names of the flags that take a value, for [`crate::lang::split_args`].
    pub fn value_flags(&self) -> Vec<&'static str> {
        self.args
            .iter()
            .filter(|a| a.is_flag() && a.takes_value)
            .map(|a| a.flag_name())
            .collect()
    }
}

/// What a stage receives: its parsed arguments and the value from the stage before.
#[derive(Clone)]
pub struct Call {
    pub args: Args,
    /// The whole line and the span of this stage's arguments (`where` parses its own text).
    pub line: std::rc::Rc<str>,
    pub args_span: Option<crate::lang::Span>,
    /// The output of the previous stage; `Value::Null` for the first.
    pub input: Value,
    /// Whether this stage is the first of its pipeline.
    pub first: bool,
}

pub type RunFn = for<'a> fn(&'a mut Ctx, Call) -> BoxFuture<'a, Result<Output>>;

/// A command: its signature and what runs it.
pub struct Command {
    pub sig: Signature,
    pub run: RunFn,
}

/// Every command, in the order `help` lists them. No registration macros: add a line here.
pub static COMMANDS: &[&Command] = &[
    &read::LS,
    &read::STATUS,
    &read::NODES,
    &read::TASKS,
    &read::VERSION,
    // Reads: cluster-wide and per-guest records (reads.rs, guest_reads.rs, guest_ip.rs).
    &reads::PS,
    &reads::STORAGE,
    &reads::CONTENT,
    &reads::POOLS,
    &reads::TAGS,
    &reads::TEMPLATES,
    &reads::BACKUP_JOBS,
    &dashboard::DASHBOARD,
    &guest_reads::SNAPSHOTS,
    &guest_reads::BACKUPS,
    &guest_reads::CONFIG,
    &guest_ip::IP,
    &export::EXPORT,
    &apischema::USAGE,
    // Changes: actions on guests (run at once or staged), then the pending plan.
    &actions::START,
    &actions::STOP,
    &actions::SHUTDOWN,
    &actions::REBOOT,
    &actions::RESET,
    &actions::SUSPEND,
    &actions::RESUME,
    &actions::DESTROY,
    &actions::SNAPSHOT,
    &actions::ROLLBACK,
    &actions::DELSNAPSHOT,
    &actions::SET,
    &actions::TAG,
    &actions::TEMPLATE,
    // Guest operations: copies, moves, disks, backups (guest_ops.rs).
    &guest_ops::CLONE,
    &guest_ops::MIGRATE,
    &guest_ops::RESIZE,
    &guest_ops::DISK,
    &guest_ops::BACKUP,
    &guest_ops::RESTORE,
    // The cluster as a whole: evacuation and balancing plans (cluster_ops.rs).
    &cluster_ops::EVACUATE,
    &cluster_ops::BALANCE,
    &cluster_ops::MAINTENANCE,
    // Storage hygiene: orphaned volumes and their deletion (hygiene.rs).
    &hygiene::ORPHANS,
    &hygiene::DELETE_VOLUME,
    // Files into storages (transfer.rs).
    &transfer::UPLOAD,
    &transfer::DOWNLOAD_URL,
    // Reaching guests over the network (remote.rs).
    &remote::SSH,
    &remote::WAIT_SSH,
    &console::CONSOLE,
    &pending::PENDING,
    &pending::DIFF,
    &pending::DISCARD,
    &pending::COMMIT,
    &pending::CONFIRM,
    &approvals::APPROVALS,
    &approvals::APPROVE,
    &approvals::REJECT,
    // Declared guests: definitions files and cluster profiles (definitions.rs).
    &definitions::PLAN,
    &definitions::APPLY,
    &definitions::PROFILE,
    // Raw API writes, pvesh-compatible (rawapi.rs; raw `set PATH` dispatches from actions::SET).
    &rawapi::CREATE,
    &rawapi::DELETE,
    &records::WHERE,
    &records::SELECT,
    &records::SORT_BY,
    &records::FIRST,
    &records::LAST,
    &records::COUNT,
    &records::GET,
    &records::UNIQ,
    &records::GROUP_BY,
    &records::SUM,
    &records::AVG,
    &records::MIN,
    &records::MAX,
    &records::TO,
    &session::USE,
    &session::CONTEXT,
    &session::WHOAMI,
    &rbac::RBAC,
    &session::REFRESH,
    &session::CD,
    &session::PWD,
    // Guided creation (wizard): new.rs, over crate::wizard.
    &new::NEW,
    &new::NEW_TEMPLATE,
    // Runbooks: steps of lines from runbooks/*.md, run through this engine (runbook.rs).
    &runbook::RUNBOOK,
    &help::HELP,
];

/// Looks a command up by name.
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().copied().find(|c| c.sig.name == name)
}

/// Command names close to `word`, for "did you mean".
pub fn suggest(word: &str) -> Vec<&'static str> {
    let mut scored: Vec<(usize, &'static str)> = COMMANDS
        .iter()
        .map(|c| (strsim::osa_distance(word, c.sig.name), c.sig.name))
        .filter(|(d, name)| *d <= 2 || name.starts_with(word))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, n)| n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_command_has_an_example() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.sig.name).collect();
        let total = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), total, "duplicate command names");
        for c in COMMANDS {
            assert!(!c.sig.examples.is_empty(), "{} has no example", c.sig.name);
            assert!(!c.sig.about.is_empty(), "{} has no description", c.sig.name);
            for e in c.sig.examples {
                assert!(
                    e.line.contains(c.sig.name),
                    "example '{}' of {} does not use it",
                    e.line,
                    c.sig.name
                );
            }
        }
    }

    #[test]
    fn usage_lines() {
        assert_eq!(read::STATUS.sig.usage(), "status [VM]");
        assert_eq!(records::SORT_BY.sig.usage(), "sort-by FIELD [--reverse]");
        assert_eq!(
            records::GROUP_BY.sig.usage(),
            "group-by FIELD [--sum FIELD] [--avg FIELD] [--min FIELD] [--max FIELD]"
        );
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(suggest("stauts").first(), Some(&"status"));
        assert!(suggest("sort").contains(&"sort-by"));
    }
}
