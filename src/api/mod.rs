//! api — the PVE REST API client.
//!
//! Owns everything about talking to Proxmox VE over HTTPS: TLS trust (`tls`), login and ticket
//! renewal (`auth`), the one place that decodes answers and maps errors (`envelope`, `error`),
//! pure request builders (`request`, `endpoints`), typed models (`models`), task ids (`upid`)
//! and following tasks to their end (`task`).
//!
//! Must not: import `shell`, `render`, `commands`, `cli` or `sim`; touch the terminal; print.
//! Secrets (passwords, token secrets, tickets, CSRF tokens) stay in `Secret` and never reach a
//! message.

pub mod endpoints;
pub mod envelope;
pub mod error;
pub mod request;
pub mod tls;
pub mod upid;

pub use endpoints::{ApiRequest, GuestKind, Method, PowerAction};
pub use envelope::ApiResponse;
pub use error::ApiError;
pub use tls::TlsMode;
pub use upid::Upid;
