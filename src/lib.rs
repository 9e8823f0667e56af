//! pvesh+ — an interactive shell for Proxmox VE clusters.
//!
//! # Codemap
//!
//! ```text
//! main.rs        thin: calls cli::main and exits with its code
//! cli.rs         argv, runtime, interactive vs -c vs -f, exit codes
//! config/        cluster-config.yaml + environment → Config
//! error.rs       the one user-facing Error { kind, message, hints } and exit codes
//! secret.rs      Secret: a string that never prints
//! lang/          lexer, parser, values, filters — pure: no IO, no async, no terminal
//! session.rs     Ctx: the session a command runs in (client, inventory, current VM, format,
//!                staging state, notes); OutputFormat; BoxFuture
//! output.rs      run one line and print its output (stdout) or error (stderr): for cli and shell;
//!                runs a live screen (`dashboard`) when the output asks for one on a terminal
//! commands/      Command trait + Signature + examples; one registry list
//! inventory.rs   cached cluster inventory (one GET /cluster/resources)
//! api/           Client (auth, TLS, envelope, errors, retries), endpoint builders, UPID, tasks
//! staging/       the typed action model, the one executor, the pending buffer and its commit
//!                journal, commit orchestration, policy, audit log, confirm window, approvals
//! sim/           the embedded PVE API simulator: server, state, routes, scenarios, faults
//! render/        tables and styles; the dashboard's numbers and its ratatui frame
//! shell/         the interactive line editor: completion, highlighting, prompt, history
//! wizard/        guided creation: prompts/*.yaml wizards over a Prompter, plans, provisioning
//! console.rs     a console session on the terminal (raw mode, Ctrl-] to leave) over a termproxy
//!                websocket (`api::termproxy`, `api::Client::websocket`)
//! ```
//!
//! # Adding an action
//!
//! 1. One `staging::Op` variant with its typed payload, and its `ActionKind` with a `Risk`
//!    (`staging/action.rs`); the compiler then lists every method that needs its arm:
//!    `kind`, `risk` (only for `Risk::Depends`), `undo`, `summary`, `request`, `diff`, and
//!    `shown_params`/`secret_values` if it carries parameters. Add its case to
//!    `staging/action_tests.rs` (request, summary).
//! 2. One command definition that plans it (e.g. `change_command!` in `commands/actions.rs`,
//!    whose signature takes the `ActionKind`, and with it whether the command stages).
//! 3. One line in the registry (`commands/mod.rs`). Its help examples are run as tests.
//!
//! The command plans `Action`s and hands them to `staging` (stage, or `Executor::run` at once);
//! it never sends a mutating request itself.
//!
//! # Invariants
//!
//! - Layers, bottom up: `lang`, `api`, `inventory`, `staging`, `session`, then `wizard`, then
//!   `commands`, then `output`, `shell`, `cli`; no module cycles. `tests/it/architecture.rs`
//!   reads every `crate::` path in `src/` and enforces, as a table of rules:
//!   - `lang` depends on nothing else in the crate;
//!   - `api` imports no `shell`, `render`, `commands`, `cli`, `staging`, `wizard` or `sim`;
//!   - `sim` imports no client side (`api::client`, `commands`, `cli`, `shell`, `staging`,
//!     `wizard`, `inventory`): the simulator and the client are checked against the official
//!     schema separately, so they cannot drift together;
//!   - `session` imports no `commands`, `wizard`, `shell` or `cli`;
//!   - `staging` and `wizard` import no `commands`, `cli` or `shell`; `shell` imports no `cli`;
//!   - `console` imports only `api` and `secret` (it sits beside `api`, below the commands).
//! - Only the staging executor calls mutating endpoints: outside `staging/`, `api/` (login) and
//!   `sim/`, no file names a POST/PUT/DELETE builder of `api::endpoints` or builds such an
//!   `ApiRequest` by hand. The same test enforces it (its `MUTATION_ALLOWLIST` is empty and
//!   only shrinks). Every call the executor sends is journaled before it is sent (for actions
//!   of the pending buffer) and audited after, whoever asked: commands, commit, confirm
//!   windows, raw writes, the creation wizards and their rollbacks.
//! - An action kind carries a typed payload (`staging::Op`); destructiveness, undo, request,
//!   summary and diff derive from it, and a command's signature takes destructiveness from the
//!   kind it plans (`Signature::action`): one source of truth.
//! - Only `cli`, `output`, `shell`, `render`, `console` (a console session in raw mode) and the
//!   wizard's dialoguer prompter touch the terminal.
//! - Completion, highlighting and validation never wait on the network: they read `inventory`.
//! - A read-only guest (`readonly:` in the config, a `readonly` tag) gets no change at all: one
//!   `staging::policy::Guard` is checked by `StagingState::stage` (the only way into the pending
//!   buffer) and by the executor before it sends anything, whoever planned the action.
//! - Under `agent.require_approval`, a non-interactive caller never applies a change that
//!   needs a person's yes: `StagingState::{commit, check_approval_gate}` refuse it (exit 6) and
//!   the commands stage it instead; only `StagingState::approve` (a request bound to the exact
//!   plan, unexpired, digests re-checked) commits it, and `approve` needs a terminal.
//! - Destructive changes to existing guests are staged, re-checked at commit and audited;
//!   creation (`wizard`) only ever destroys what its own failed run created.
//! - Secrets live in [`secret::Secret`], whose `Debug` and `Display` print `<redacted>`.
//! - No `unwrap` on user or remote input (`clippy::unwrap_used` is denied outside tests).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod console;
pub mod error;
pub mod inventory;
pub mod lang;
pub mod mcp;
pub mod output;
pub mod render;
pub mod runbook;
pub mod secret;
pub mod session;
pub mod shell;
pub mod sim;
pub mod staging;
pub mod wizard;
