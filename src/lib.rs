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
//! output.rs      run one line and print its output (stdout) or error (stderr): for cli and shell
//! commands/      Command trait + Signature + examples; one registry list
//! inventory.rs   cached cluster inventory (one GET /cluster/resources)
//! api/           Client (auth, TLS, envelope, errors, retries), endpoint builders, UPID, tasks
//! staging/       actions, the pending buffer, policy, audit log, commit engine, confirm window
//! sim/           the embedded PVE API simulator: server, state, routes, scenarios, faults
//! render/        tables and styles
//! shell/         the interactive line editor: completion, highlighting, prompt, history
//! wizard/        guided creation: prompts/*.yaml wizards over a Prompter, plans, provisioning
//! ```
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
//!   - `staging` and `wizard` import no `commands`, `cli` or `shell`; `shell` imports no `cli`.
//! - Only the staging executor calls mutating endpoints: outside `staging/`, `api/` (login) and
//!   `sim/`, no file names a POST/PUT/DELETE builder of `api::endpoints` or builds such an
//!   `ApiRequest` by hand. The same test enforces it, with an allowlist of files not yet moved
//!   over (`MUTATION_ALLOWLIST`) that only shrinks.
//! - Only `cli`, `output`, `shell`, `render` and the wizard's dialoguer prompter touch the
//!   terminal.
//! - Completion, highlighting and validation never wait on the network: they read `inventory`.
//! - Destructive changes to existing guests go through `staging` (staged, re-checked at commit,
//!   audited); creation (`wizard`) only ever destroys what its own failed run created.
//! - Secrets live in [`secret::Secret`], whose `Debug` and `Display` print `<redacted>`.
//! - No `unwrap` on user or remote input (`clippy::unwrap_used` is denied outside tests).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod inventory;
pub mod lang;
pub mod output;
pub mod render;
pub mod secret;
pub mod session;
pub mod shell;
pub mod sim;
pub mod staging;
pub mod wizard;
