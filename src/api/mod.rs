//! api — the PVE REST API client.
//!
//! Owns everything about talking to Proxmox VE over HTTPS: TLS trust (`tls`), the server
//! address (`url`), login and ticket renewal (`auth`), the one place that decodes answers and
//! maps errors (`envelope`, `error`), pure request builders (`request`, `endpoints`), typed
//! models (`models`, with lenient decoders in `de`), task ids (`upid`) and following tasks to
//! their end (`task`). Only `client` does network IO.
//!
//! Must not: import `shell`, `render`, `commands`, `cli`, `staging`, `wizard` or `sim`; touch the
//! terminal; print.
//! Secrets (passwords, token secrets, tickets, CSRF tokens) stay in `Secret` and never reach a
//! message or `Debug` output.

pub mod auth;
pub mod client;
pub mod de;
pub mod endpoints;
pub mod envelope;
pub mod error;
pub mod models;
pub mod request;
pub mod schema;
pub mod task;
pub mod termproxy;
pub mod tls;
pub mod upid;
pub mod upload;
pub mod url;

pub use client::{Auth, Client, ConnectOptions, TfaPrompt, WebSocket};
pub use endpoints::{ApiRequest, GuestKind, Method, PowerAction};
pub use envelope::ApiResponse;
pub use error::ApiError;
pub use task::{
    LogProgress, TaskLog, TaskOutcome, TaskTimes, WaitOptions, log_length, log_progress,
};
pub use tls::TlsMode;
pub use upid::Upid;

/// The boxed future that async trait methods return (a clock asking the server for the time, a
/// command's run function): `Send`-free, borrowing for `'a`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tls_server_tests;
