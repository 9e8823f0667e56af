//! `ApiError`: everything that can go wrong talking to PVE, and its mapping to the one
//! user-facing [`crate::error::Error`] with hints.
//!
//! Messages are sentences that say what failed; hints (added only in the `From` conversion)
//! say how to fix it. No variant ever holds a secret: the client never formats passwords,
//! tickets, CSRF tokens or token secrets into an error.

use std::collections::BTreeMap;

use crate::error::{Error, ErrorKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The server answered with a non-2xx status. `message` is PVE's message (body `message`,
    /// else the reason phrase, else a plain-text body); `errors` the per-parameter errors.
    #[error("{method} {path}: {message} (HTTP {status}){}", fmt_errors(errors))]
    Http {
        status: u16,
        message: String,
        errors: BTreeMap<String, String>,
        method: &'static str,
        path: String,
    },
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("TLS handshake with {url} failed: {detail}")]
    Tls { url: String, detail: String },
    #[error(
        "the server's certificate fingerprint {presented} does not match the pinned fingerprint {expected}"
    )]
    FingerprintMismatch { expected: String, presented: String },
    #[error("{what} timed out after {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error("unexpected response from {path}: {detail}")]
    Decode { path: String, detail: String },
    #[error("login failed: {message}")]
    Auth { message: String },
    #[error("task {upid} failed: {exitstatus}")]
    TaskFailed { upid: String, exitstatus: String },
    #[error("cancelled")]
    Cancelled,
    /// The connection options are unusable (bad URL, unreadable CA file, bad fingerprint).
    #[error("{message}")]
    Options { message: String },
    /// Refused before it was sent by the caller's own policy (the staging executor's
    /// read-only guard): nothing reached the server.
    #[error("{message}")]
    Refused { message: String, hints: Vec<String> },
}

/// A duration in whole seconds, rounded up, for messages ("after 1 s", never "after 0 s").
pub fn whole_secs(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn fmt_errors(errors: &BTreeMap<String, String>) -> String {
    errors.iter().map(|(k, v)| format!("; {k}: {v}")).collect()
}

impl ApiError {
    /// The HTTP status for `Http` errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for a 400 whose `errors` map has `param` (e.g. `vmid` "VM 200 already exists").
    pub fn has_param_error(&self, param: &str) -> bool {
        matches!(self, ApiError::Http { status: 400, errors, .. } if errors.contains_key(param))
    }
}

/// How the message of an [`ApiError::Auth`] for a refused API token starts.
pub(crate) const TOKEN_REFUSED: &str = "the API token was refused";

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Http { status, message, errors, method, path } => http_error(status, message, errors, method, &path),
            ApiError::Connect { .. } => Error::new(ErrorKind::Connection, e.to_string())
                .hinted("check the host and port (PVE listens on 8006) and that the node is up"),
            ApiError::Tls { .. } => Error::new(ErrorKind::Connection, e.to_string()).hinted(
                "PVE uses a self-signed certificate by default: pin it with --fingerprint, \
                 trust its CA with --ca /etc/pve/pve-root-ca.pem, or (unsafe) use --insecure",
            ),
            ApiError::FingerprintMismatch { .. } => Error::new(ErrorKind::Connection, e.to_string()).hinted(
                "if the node's certificate was renewed, pin the new fingerprint (shown in the web UI \
                 under Node > System > Certificates); otherwise someone may be intercepting the connection",
            ),
            ApiError::Timeout { ref what, .. } if what.starts_with("waiting for task") => {
                Error::new(ErrorKind::Task, e.to_string())
                    .hinted("the task keeps running on the server; only the wait was given up")
            }
            ApiError::Timeout { .. } => Error::new(ErrorKind::Connection, e.to_string())
                .hinted("the server is slow or unreachable; raise the timeout or try again"),
            ApiError::Decode { .. } => Error::new(ErrorKind::Api, e.to_string())
                .hinted("the server's answer did not have the expected shape; is this a Proxmox VE server?"),
            ApiError::Auth { ref message } if message.starts_with(TOKEN_REFUSED) => {
                Error::new(ErrorKind::Api, e.to_string()).hinted(
                    "check the token id (user@realm!name, e.g. root@pam!ci) and its secret (shown \
                     once, when the token was made), and that the token and its user are enabled \
                     and not expired; privilege separation limits what an accepted token may do \
                     (a 403 per call), it does not refuse the login",
                )
            }
            ApiError::Auth { .. } => Error::new(ErrorKind::Api, e.to_string())
                .hinted("check the user name (user@realm, e.g. root@pam), the password and the TOTP code"),
            ApiError::TaskFailed { .. } => Error::new(ErrorKind::Task, e.to_string()),
            ApiError::Cancelled => Error::new(ErrorKind::Interrupted, "cancelled"),
            ApiError::Options { message } => Error::new(ErrorKind::Config, message),
            ApiError::Refused { message, hints } => Error {
                hints,
                ..Error::new(ErrorKind::Policy, message)
            },
        }
    }
}

fn http_error(
    status: u16,
    message: String,
    errors: BTreeMap<String, String>,
    method: &str,
    path: &str,
) -> Error {
    let mut text = format!("{method} {path} failed: {message} (HTTP {status})");
    for (param, why) in &errors {
        text.push_str(&format!("\n  {param}: {why}"));
    }
    let mut err = Error::new(ErrorKind::Api, text);
    err.http_status = Some(status);
    err.params = errors;
    match status {
        400 => err.hinted(format!(
            "`usage {path}` lists the parameters this call accepts"
        )),
        401 => err
            .hinted("the login was refused or has expired: check the credentials, or log in again"),
        403 if message.contains("API token") => {
            err.hinted("this call is not available to API tokens; log in with a user and password")
        }
        403 => err.hinted(
            "the user or token lacks the privilege; for tokens with privilege separation, \
             grant the ACL to the token itself",
        ),
        // PVE answers 501 for any path or method it does not have, misspelt or from another
        // version alike; the command layer refines this when it has the server's schema.
        501 => err.hinted(format!(
            "the server has no {method} {path}: check the path (`ls` its parent) and the method"
        )),
        595 | 596 => err.hinted(
            "the request was proxied to another node that did not answer; is that node online?",
        ),
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, message: &str, errors: &[(&str, &str)]) -> ApiError {
        ApiError::Http {
            status,
            message: message.into(),
            errors: errors
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            method: "POST",
            path: "/nodes/pve1/qemu".into(),
        }
    }

    fn check(e: ApiError, kind: ErrorKind, text: &str) {
        let err: Error = e.into();
        assert_eq!(err.kind, kind);
        assert_eq!(err.to_string(), text);
    }

    #[test]
    fn user_facing_texts() {
        check(
            http(
                400,
                "Parameter verification failed.",
                &[
                    ("vmid", "VM 200 already exists"),
                    ("name", "invalid format"),
                ],
            ),
            ErrorKind::Api,
            "POST /nodes/pve1/qemu failed: Parameter verification failed. (HTTP 400)\n  name: invalid format\n  vmid: VM 200 already exists\n  hint: `usage /nodes/pve1/qemu` lists the parameters this call accepts",
        );
        check(
            http(500, "VM 100 already running", &[]),
            ErrorKind::Api,
            "POST /nodes/pve1/qemu failed: VM 100 already running (HTTP 500)",
        );
        check(
            http(
                403,
                "Permission check failed (URI '/x' not available with API token, need proper ticket.)",
                &[],
            ),
            ErrorKind::Api,
            "POST /nodes/pve1/qemu failed: Permission check failed (URI '/x' not available with API token, need proper ticket.) (HTTP 403)\n  hint: this call is not available to API tokens; log in with a user and password",
        );
        check(
            ApiError::TaskFailed {
                upid: "UPID:n:1:2:3:qmstart:100:root@pam:".into(),
                exitstatus: "VM 100 already running".into(),
            },
            ErrorKind::Task,
            "task UPID:n:1:2:3:qmstart:100:root@pam: failed: VM 100 already running",
        );
        check(ApiError::Cancelled, ErrorKind::Interrupted, "cancelled");
    }

    #[test]
    fn hints_per_kind() {
        let hint_of = |e: ApiError| Error::from(e).hints.join(" ");
        assert!(hint_of(http(401, "authentication failure", &[])).contains("credentials"));
        assert!(hint_of(http(403, "Permission check failed", &[])).contains("privilege"));
        let hint = hint_of(http(501, "Method 'GET /foo' not implemented", &[]));
        assert!(
            hint.contains("the server has no") && !hint.contains("version"),
            "{hint}"
        );
        let hint = hint_of(ApiError::Auth {
            message: format!("{TOKEN_REFUSED} (Authentication failed!)"),
        });
        assert!(
            hint.contains("token id") && !hint.contains("TOTP"),
            "{hint}"
        );
        assert!(
            hint_of(ApiError::Tls {
                url: "u".into(),
                detail: "d".into()
            })
            .contains("--fingerprint")
        );
        assert!(
            hint_of(ApiError::Connect {
                url: "u".into(),
                detail: "d".into()
            })
            .contains("8006")
        );
        let mismatch = ApiError::FingerprintMismatch {
            expected: "AA:BB".into(),
            presented: "CC:DD".into(),
        };
        assert_eq!(
            mismatch.to_string(),
            "the server's certificate fingerprint CC:DD does not match the pinned fingerprint AA:BB"
        );
        assert_eq!(Error::from(mismatch).kind, ErrorKind::Connection);
    }

    #[test]
    fn seconds_round_up() {
        use std::time::Duration;
        assert_eq!(whole_secs(Duration::from_millis(100)), 1);
        assert_eq!(whole_secs(Duration::from_secs(30)), 30);
        assert_eq!(whole_secs(Duration::from_millis(30_001)), 31);
    }

    #[test]
    fn display_lists_param_errors() {
        let e = http(
            400,
            "Parameter verification failed.",
            &[("vmid", "VM 200 already exists")],
        );
        assert_eq!(
            e.to_string(),
            "POST /nodes/pve1/qemu: Parameter verification failed. (HTTP 400); vmid: VM 200 already exists"
        );
        assert!(e.has_param_error("vmid"));
        assert!(!e.has_param_error("name"));
    }
}
