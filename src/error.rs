//! The one user-facing error: `Error { kind, message, hints }`, and the exit codes.
//!
//! Every layer has its own typed errors (`api::ApiError`, `config::ConfigError`,
//! `lang::ParseError`); they convert into this one at the edge, where hints are added. Exit
//! codes are decided here and nowhere else.

use std::collections::BTreeMap;
use std::fmt;

/// Process exit codes, documented in `help` and the README.
pub mod exit {
    pub const OK: i32 = 0;
    /// A command failed (API error, task failure, bad target...).
    pub const FAILED: i32 = 1;
    /// Usage or parse error: the line or the arguments are wrong.
    pub const USAGE: i32 = 2;
    /// A commit partly failed.
    pub const PARTIAL: i32 = 3;
    /// Refused by policy (protected guest, quota, VMID range).
    pub const POLICY: i32 = 4;
    /// A `-f` or standard-input batch ended with changes still pending (kept, not applied).
    pub const PENDING_LEFT: i32 = 5;
    /// The change needs a human's approval first (`agent.require_approval`): request one
    /// with `commit --request-approval`; or the approval asked for is expired, changed or gone.
    pub const APPROVAL: i32 = 6;
    /// Interrupted by Ctrl-C.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad arguments, unknown command, bad config value.
    Usage,
    /// The command line did not parse.
    Parse,
    /// The configuration is wrong.
    Config,
    /// Could not reach or trust the server.
    Connection,
    /// The server refused or failed the request.
    Api,
    /// A task ran and failed inside PVE.
    Task,
    /// A named guest, node, storage... does not exist.
    NotFound,
    /// Refused by the safety policy.
    Policy,
    /// Needs a human's approval (or the approval is expired, changed or unknown).
    Approval,
    /// Some items of a bulk operation failed.
    Partial,
    /// Ctrl-C.
    Interrupted,
    /// Anything else that went wrong on our side.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hints: Vec<String>,
    /// Per-parameter errors (PVE's 400 `errors` object, or our own checks), by parameter name.
    pub params: BTreeMap<String, String>,
    /// The HTTP status of the server's answer, for errors the server gave.
    pub http_status: Option<u16>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hints: Vec::new(),
            params: BTreeMap::new(),
            http_status: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Adds a hint: a sentence that says how to fix it.
    pub fn hinted(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Adds a per-parameter error (shown in the message too by whoever builds it).
    pub fn with_param(mut self, param: impl Into<String>, why: impl Into<String>) -> Self {
        self.params.insert(param.into(), why.into());
        self
    }

    /// The error as the one JSON object `--json` prints (see `help agents`):
    /// `{"error": {"kind", "message", "hints", "exit_code", "params", "http_status", "location"}}`.
    pub fn to_json(&self, location: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "kind": self.kind.as_str(),
                "message": self.message,
                "hints": self.hints,
                "exit_code": self.exit_code(),
                "params": self.params,
                "http_status": self.http_status,
                "location": location,
            }
        })
    }

    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Usage | ErrorKind::Parse | ErrorKind::Config => exit::USAGE,
            ErrorKind::Policy => exit::POLICY,
            ErrorKind::Approval => exit::APPROVAL,
            ErrorKind::Partial => exit::PARTIAL,
            ErrorKind::Interrupted => exit::INTERRUPTED,
            ErrorKind::Connection
            | ErrorKind::Api
            | ErrorKind::Task
            | ErrorKind::NotFound
            | ErrorKind::Internal => exit::FAILED,
        }
    }
}

impl ErrorKind {
    /// Every kind, for documentation checks.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Usage,
        ErrorKind::Parse,
        ErrorKind::Config,
        ErrorKind::Connection,
        ErrorKind::Api,
        ErrorKind::Task,
        ErrorKind::NotFound,
        ErrorKind::Policy,
        ErrorKind::Approval,
        ErrorKind::Partial,
        ErrorKind::Interrupted,
        ErrorKind::Internal,
    ];

    /// The `kind` field of a JSON error (`--json`): stable words scripts can match on.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Parse => "parse",
            ErrorKind::Config => "config",
            ErrorKind::Connection => "connection",
            ErrorKind::Api => "api",
            ErrorKind::Task => "task",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Policy => "policy",
            ErrorKind::Approval => "approval_required",
            ErrorKind::Partial => "partial",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for hint in &self.hints {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_per_kind() {
        assert_eq!(Error::usage("x").exit_code(), 2);
        assert_eq!(Error::new(ErrorKind::Policy, "x").exit_code(), 4);
        assert_eq!(Error::new(ErrorKind::Partial, "x").exit_code(), 3);
        assert_eq!(Error::new(ErrorKind::Api, "x").exit_code(), 1);
        assert_eq!(Error::new(ErrorKind::Interrupted, "x").exit_code(), 130);
    }

    #[test]
    fn the_json_error_has_one_shape() {
        let e = Error::new(ErrorKind::Api, "POST /pools failed")
            .hinted("check it")
            .with_param("poolid", "invalid format");
        let j = e.to_json(Some("s.pve:3"));
        assert_eq!(j["error"]["kind"], "api");
        assert_eq!(j["error"]["exit_code"], 1);
        assert_eq!(j["error"]["params"]["poolid"], "invalid format");
        assert_eq!(j["error"]["hints"][0], "check it");
        assert_eq!(j["error"]["location"], "s.pve:3");
        assert!(j["error"]["http_status"].is_null());
        assert_eq!(Error::new(ErrorKind::Approval, "x").exit_code(), 6);
    }

    #[test]
    fn display_shows_hints() {
        let e = Error::not_found("no guest 'webb'").hinted("did you mean web01, web02?");
        assert_eq!(
            e.to_string(),
            "no guest 'webb'\n  hint: did you mean web01, web02?"
        );
    }
}
