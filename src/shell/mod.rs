//! The interactive shell: a reedline session with a context prompt, completion, highlighting,
//! hints from history, multi-line input for open quotes, persistent history without secrets, and
//! Ctrl-C that cancels the running command.
//!
//! Everything the editor shows while typing reads the cached inventory and the parser — never the
//! network. The logic lives in pure functions (`complete`, `highlight`) with thin reedline
//! adapters here, so it is tested without a terminal.

pub mod complete;
mod complete_api;
pub mod highlight;
mod history;
mod prompt;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, RwLock};

use reedline::{
    ColumnarMenu, Completer, DefaultHinter, Emacs, ExternalPrinter, KeyCode, KeyModifiers,
    MenuBuilder, Reedline, ReedlineEvent, ReedlineMenu, Signal, Span, Suggestion, ValidationResult,
    Validator, default_emacs_keybindings,
};

use crate::api::schema::SharedSchema;
use crate::error::exit;
use crate::inventory::{Guest, SharedInventory};
use crate::render::Style;
use crate::session::Ctx;

pub use history::is_secret_line;

/// Where history is kept: `$XDG_STATE_HOME/pvesh-plus/history` (`~/.local/state/...`).
pub fn history_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))?;
    Some(base.join("pvesh-plus").join("history"))
}

struct LineCompleter {
    inventory: SharedInventory,
    schema: SharedSchema,
    /// The session's `pwd` and current VM, copied in before each prompt.
    cwd: Arc<RwLock<String>>,
    current: Arc<RwLock<Option<u32>>>,
    /// For fetching the snapshot names a line wants (`rollback web01 `) in the background.
    client: crate::api::Client,
    runtime: tokio::runtime::Handle,
    fetching: Option<tokio::task::JoinHandle<()>>,
    /// The profile names of the session's config (built-in ones included).
    profiles: Vec<String>,
    clusters: Vec<String>,
}

impl Completer for LineCompleter {
    fn complete(&mut self, line: &str, pos: usize) -> reedline::CompletionResult {
        let inv = self.inventory.get();
        let schema = self.schema.get();
        let cwd = match self.cwd.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let current = match self.current.read() {
            Ok(guard) => *guard,
            Err(poisoned) => *poisoned.into_inner(),
        };
        // Snapshot names not fetched yet: fetch them in the background and answer when they
        // are there (reedline polls [`Completer::poll_completion`]); Tab never waits.
        let owner = complete::snapshot_owner(line, pos, inv.as_deref(), current);
        let snapshots = match owner.map(|vmid| (vmid, self.inventory.cached_snapshots(vmid))) {
            Some((_, Some(names))) => names,
            Some((vmid, None)) => {
                if let Some(guest) = inv.as_deref().and_then(|i| i.guest(vmid)).cloned() {
                    if self.fetching.is_none() {
                        let fetch =
                            fetch_snapshots(self.client.clone(), self.inventory.clone(), guest);
                        self.fetching = Some(self.runtime.spawn(fetch));
                    }
                    return reedline::CompletionResult::Pending;
                }
                Vec::new()
            }
            None => Vec::new(),
        };
        let sources = complete::Sources {
            inv: inv.as_deref(),
            schema: schema.as_deref(),
            cwd: &cwd,
            snapshots: &snapshots,
            profiles: &self.profiles,
            clusters: &self.clusters,
        };
        let candidates = complete::complete_in(line, pos, &sources);
        let suggestions: Vec<Suggestion> = candidates
            .into_iter()
            .map(|c| Suggestion {
                // An API directory (`/nodes/`) or a parameter name (`full=`) goes on without a space.
                append_whitespace: !c.value.ends_with('/') && !c.value.ends_with('='),
                value: c.value,
                description: (!c.description.is_empty()).then_some(c.description),
                span: Span::new(c.span.start, c.span.end),
                ..Suggestion::default()
            })
            .collect();
        reedline::CompletionResult::fresh(suggestions)
    }

    fn poll_completion(&mut self) -> reedline::CompletionStatus {
        match &self.fetching {
            None => reedline::CompletionStatus::Idle,
            Some(task) if task.is_finished() => {
                self.fetching = None;
                reedline::CompletionStatus::Ready
            }
            Some(_) => reedline::CompletionStatus::Pending,
        }
    }
}

/// How long completion lets a snapshot list take before it offers none.
const SNAPSHOT_FETCH_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Fetches a guest's snapshot names into the inventory's side cache; a failure caches none, so
/// completion does not ask again until the next command.
async fn fetch_snapshots(client: crate::api::Client, shared: SharedInventory, guest: Guest) {
    let request = crate::api::endpoints::snapshot_list(guest.kind, &guest.node, guest.vmid);
    let names = match tokio::time::timeout(SNAPSHOT_FETCH_LIMIT, client.get(&request)).await {
        Ok(Ok(data)) => data
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|s| s["name"].as_str())
                    .filter(|n| *n != "current")
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    shared.set_snapshots(guest.vmid, names);
}

/// Keeps a line with an open quote going on the next line.
struct LineValidator;

impl Validator for LineValidator {
    fn validate(&self, line: &str) -> ValidationResult {
        match crate::lang::lex(line) {
            Err(e) if e.incomplete => ValidationResult::Incomplete,
            _ => ValidationResult::Complete,
        }
    }
}

fn editor(
    ctx: &Ctx,
    style: Style,
    cwd: Arc<RwLock<String>>,
    current: Arc<RwLock<Option<u32>>>,
) -> Reedline {
    let menu = ColumnarMenu::default().with_name("completion_menu");
    let mut keybindings = default_emacs_keybindings();
    keybindings.add_binding(
        KeyModifiers::NONE,
        KeyCode::Tab,
        ReedlineEvent::UntilFound(vec![
            ReedlineEvent::Menu("completion_menu".to_string()),
            ReedlineEvent::MenuNext,
        ]),
    );
    let mut editor = Reedline::create()
        .with_completer(Box::new(LineCompleter {
            inventory: ctx.shared_inventory(),
            schema: ctx.shared_schema(),
            cwd,
            current,
            client: ctx.client.clone(),
            runtime: tokio::runtime::Handle::current(),
            fetching: None,
            profiles: ctx.config.profile_names(),
            clusters: crate::commands::contexts::known(ctx),
        }))
        .with_menu(ReedlineMenu::EngineCompleter(Box::new(menu)))
        .with_edit_mode(Box::new(Emacs::new(keybindings)))
        .with_highlighter(Box::new(highlight::LineHighlighter::new(
            ctx.shared_inventory(),
            style.color,
        )))
        .with_validator(Box::new(LineValidator))
        .with_partial_completions(true)
        .with_quick_completions(true)
        .with_ansi_colors(style.color)
        .with_history_exclusion_prefix(Some(" ".to_string()));
    if style.color {
        editor = editor
            .with_hinter(Box::new(DefaultHinter::default().with_style(
                nu_ansi_term::Style::new().fg(nu_ansi_term::Color::DarkGray),
            )));
    }
    if let Some(path) = history_path() {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match history::SecretFreeHistory::open(path) {
            Ok(h) => editor = editor.with_history(Box::new(h)),
            Err(e) => eprintln!("warning: history is not saved: {e}"),
        }
    }
    editor
}

/// How often the inventory is refreshed in the background while the shell is open.
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Keeps the shared inventory fresh on a timer, so completion stays current without ever waiting
/// on the network itself. A failed refresh keeps the old snapshot.
fn spawn_refresher(ctx: &Ctx) -> tokio::task::JoinHandle<()> {
    let client = ctx.client.clone();
    let shared = ctx.shared_inventory();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let request = crate::api::endpoints::cluster_resources(None);
            // Decoded from the answer's bytes straight into the inventory, as `refresh` does.
            if let Ok(inv) = client
                .get_data::<crate::inventory::Inventory>(&request)
                .await
            {
                shared.set(inv);
            }
        }
    })
}

/// Keeps the current VM's snapshot names in the inventory's side cache, so `rollback` and
/// `delsnapshot` complete them without waiting: one request after a command, only when there is
/// a current VM. When the current VM has just changed (`use`), the names are fetched before the
/// next prompt (bounded by a short timeout); otherwise in the background. Names fetched for
/// other guests are forgotten: the command may have changed them.
async fn refresh_snapshots(ctx: &Ctx, changed: bool) {
    ctx.shared_inventory().forget_snapshots_except(ctx.current);
    let (Some(vmid), Some(inv)) = (ctx.current, ctx.cached_inventory()) else {
        return;
    };
    let Some(guest) = inv.guest(vmid).cloned() else {
        return;
    };
    let fetch = fetch_snapshots(ctx.client.clone(), ctx.shared_inventory(), guest);
    if changed {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), fetch).await;
    } else {
        tokio::spawn(fetch);
    }
}

/// How many timer lines wait for the editor before they go straight to the terminal.
const TIMER_LINES: usize = 64;

/// Sends what the confirm window's background timer says (the rollback banner and progress)
/// through the line editor while it waits for input: printed above the prompt, which is then
/// drawn afresh, so `[confirm?]` goes the moment the window rolls back. While a command runs,
/// or when the editor's queue is full, the lines go straight to the terminal as before.
fn route_timer_notes(ctx: &mut Ctx, printer: SyncSender<String>, editing: Arc<AtomicBool>) {
    let Some(plain) = ctx.staging.timer_notify.clone() else {
        return;
    };
    ctx.staging.timer_notify = Some(Arc::new(move |msg: &str| {
        if editing.load(Ordering::SeqCst)
            && printer
                .try_send(crate::render::wrap::for_stderr(msg).into_owned())
                .is_ok()
        {
            return;
        }
        plain(msg);
    }));
}

/// Runs the interactive session until `exit` or Ctrl-D; returns the exit code.
pub async fn run(ctx: &mut Ctx, style: Style) -> i32 {
    loop {
        // Completion needs the inventory from the first Tab on: load it before the first prompt.
        if ctx.cached_inventory().is_none()
            && let Err(e) = ctx.refresh().await
        {
            crate::render::progress::note(&format!(
                "warning: the inventory could not be loaded ({}); names will not complete until `refresh`",
                e.message
            ));
        }
        // The API schema loads in the background: path completion uses it once it is there and
        // never waits for it.
        let schema = tokio::spawn(crate::commands::load_schema_into(
            ctx.client.clone(),
            ctx.shared_schema(),
        ));
        let refresher = spawn_refresher(ctx);
        let ended = repl(ctx, style).await;
        refresher.abort();
        schema.abort();
        match ended {
            // `context use`: the line editor, its completion and the refresher start again on
            // the new cluster's session.
            Ended::Switched => continue,
            Ended::Exit(code) => return code,
        }
    }
}

/// How a run of the line editor ended.
enum Ended {
    Exit(i32),
    /// The current cluster changed (`context use`).
    Switched,
}

async fn repl(ctx: &mut Ctx, style: Style) -> Ended {
    let cwd = Arc::new(RwLock::new(ctx.cwd.clone()));
    let current = Arc::new(RwLock::new(ctx.current));
    let printer = ExternalPrinter::new(TIMER_LINES);
    let editing = Arc::new(AtomicBool::new(false));
    route_timer_notes(ctx, printer.sender(), editing.clone());
    let mut editor =
        editor(ctx, style, cwd.clone(), current.clone()).with_external_printer(printer);
    let mut last_failed = false;
    let mut warned_pending = false;
    loop {
        if let Ok(mut shown) = cwd.write() {
            shown.clone_from(&ctx.cwd);
        }
        if let Ok(mut vm) = current.write() {
            *vm = ctx.current;
        }
        let prompt = prompt::ShellPrompt::new(ctx, last_failed, style.color);
        editing.store(true, Ordering::SeqCst);
        let read = tokio::task::block_in_place(|| editor.read_line(&prompt));
        editing.store(false, Ordering::SeqCst);
        let signal = match read {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: the terminal failed: {e}");
                return Ended::Exit(exit::FAILED);
            }
        };
        let line = match signal {
            Signal::Success(line) => line,
            Signal::CtrlC => continue,
            Signal::CtrlD => "exit".to_string(),
            _ => continue,
        };
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed == "exit" || trimmed == "quit" {
            // Pending changes are kept on disk (a demo's are not); say so once before leaving.
            let pending = ctx.staging.buffer.len()
                + ctx
                    .contexts
                    .parked
                    .values()
                    .map(|c| c.staging.buffer.len())
                    .sum::<usize>();
            if pending > 0 && !warned_pending {
                warned_pending = true;
                let fate = if ctx.staging.buffer.path().is_some() {
                    "They stay saved for the next session"
                } else {
                    "They are lost on leaving (this buffer is kept in memory only)"
                };
                crate::render::progress::note(&format!(
                    "{pending} change(s) are pending and not applied: `pending` lists them, \
                     `commit` applies them. {fate}; Ctrl-D or `exit` again leaves."
                ));
                continue;
            }
            return Ended::Exit(exit::OK);
        }
        let before = ctx.current;
        let cluster = ctx.cluster.clone();
        let code = crate::output::run_and_print(ctx, trimmed, style.refreshed(), None).await;
        last_failed = code != exit::OK;
        if ctx.cluster != cluster {
            return Ended::Switched;
        }
        refresh_snapshots(ctx, ctx.current != before).await;
    }
}
