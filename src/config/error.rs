//! `ConfigError`: what went wrong with the configuration, where, and how to fix it.
//!
//! This file owns turning a YAML/serde failure into a message that names the file, the line and
//! column, and the dotted key (`clusters.homelab.auth.token_secret`), with a "did you mean"
//! suggestion for misspelt keys. It never includes a secret value in a message: secret sources
//! are named by their key and program, never by what they produced.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};

/// A configuration problem. `Display` gives the message and, on a second line, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read.
    Read { path: PathBuf, reason: String },
    /// The file is not valid YAML or does not fit the schema.
    Invalid {
        path: PathBuf,
        line: Option<u32>,
        column: Option<u32>,
        /// Dotted key path, e.g. `defaults.storage`; empty for the document itself.
        key: String,
        message: String,
        hint: Option<String>,
    },
    /// An environment variable override has a bad value.
    Env {
        var: String,
        message: String,
        hint: Option<String>,
    },
    /// No cluster could be chosen, or the one asked for does not exist.
    Cluster {
        message: String,
        hint: Option<String>,
    },
    /// A secret could not be resolved (missing variable, unreadable file, failing command).
    Secret {
        key: String,
        message: String,
        hint: Option<String>,
    },
}

impl ConfigError {
    /// The one-line message, without the hint.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Read { path, reason } => {
                format!("cannot read config file {}: {reason}", path.display())
            }
            ConfigError::Invalid {
                path,
                line,
                column,
                key,
                message,
                ..
            } => {
                let mut at = path.display().to_string();
                if let Some(line) = line {
                    at.push_str(&format!(":{line}"));
                    if let Some(column) = column {
                        at.push_str(&format!(":{column}"));
                    }
                }
                if key.is_empty() {
                    format!("{at}: {message}")
                } else {
                    format!("{at}: `{key}`: {message}")
                }
            }
            ConfigError::Env { var, message, .. } => {
                format!("environment variable {var}: {message}")
            }
            ConfigError::Cluster { message, .. } => message.clone(),
            ConfigError::Secret { key, message, .. } => format!("secret `{key}`: {message}"),
        }
    }

    /// How to fix it, when there is something more useful to say than the message.
    pub fn hint(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Invalid { hint, .. }
            | ConfigError::Env { hint, .. }
            | ConfigError::Cluster { hint, .. }
            | ConfigError::Secret { hint, .. } => hint.as_deref(),
        }
    }

    /// Builds an `Invalid` error for a key whose location is not known (checks across keys).
    pub(crate) fn invalid(
        path: &Path,
        line: Option<u32>,
        key: &str,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column: None,
            key: key.to_string(),
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, text: impl Into<String>) -> Self {
        let text = Some(text.into());
        match &mut self {
            ConfigError::Read { .. } => {}
            ConfigError::Invalid { hint, .. }
            | ConfigError::Env { hint, .. }
            | ConfigError::Cluster { hint, .. }
            | ConfigError::Secret { hint, .. } => *hint = text,
        }
        self
    }

    /// Converts a serde-saphyr error plus the key path that serde_path_to_error tracked.
    pub(crate) fn from_yaml(path: &Path, key_path: &str, err: &serde_saphyr::Error) -> Self {
        let location = err.location();
        let (key, message, hint) = describe(key_path, err);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line: location
                .and_then(|l| u32::try_from(l.line()).ok())
                .filter(|&l| l > 0),
            column: location
                .and_then(|l| u32::try_from(l.column()).ok())
                .filter(|&c| c > 0),
            key,
            message,
            hint,
        }
    }
}

/// Splits a saphyr error into (key, message, hint).
fn describe(key_path: &str, err: &serde_saphyr::Error) -> (String, String, Option<String>) {
    // serde_path_to_error writes `.` for the root and `?` for a segment it could not name.
    let key_path = clean_path(key_path);
    match err.without_snippet() {
        serde_saphyr::Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let parent = parent_of(&key_path);
            let place = if parent.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in `{parent}`")
            };
            let mut message = format!("unknown key `{field}` {place}");
            if let Some(best) = did_you_mean(field, expected.iter().copied()) {
                message.push_str(&format!(" (did you mean `{best}`?)"));
            }
            let hint = format!("valid keys here: {}", expected.join(", "));
            // The message already names the mapping, so no key prefix.
            (String::new(), message, Some(hint))
        }
        serde_saphyr::Error::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let mut message = format!("unknown value `{variant}`");
            if let Some(best) = did_you_mean(variant, expected.iter().copied()) {
                message.push_str(&format!(" (did you mean `{best}`?)"));
            }
            (
                key_path,
                message,
                Some(format!("valid values: {}", expected.join(", "))),
            )
        }
        serde_saphyr::Error::SerdeMissingField { field, .. } => {
            let message = format!("missing required key `{field}`");
            (key_path, message, None)
        }
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => {
            let message = match key {
                Some(k) => format!("key `{k}` appears twice"),
                None => "a key appears twice".to_string(),
            };
            // The tracked path ends in an unnamed segment (`?`), so the cleaned path names the mapping.
            (key_path, message, Some("keep one of them".to_string()))
        }
        serde_saphyr::Error::Unexpected { expected, .. } if expected.contains("mapping") => (
            key_path,
            "expected a mapping: `key: value` lines or `{ key: value }`".to_string(),
            None,
        ),
        serde_saphyr::Error::Unexpected { expected, .. } if expected.contains("sequence") => (
            key_path,
            "expected a list: `- item` lines or `[a, b]`".to_string(),
            None,
        ),
        serde_saphyr::Error::InvalidScalar { ty, .. } => {
            let message = match *ty {
                "bool" | "boolean" => "expected true or false".to_string(),
                t if t.starts_with('u') || t.starts_with('i') => {
                    format!("expected a whole number ({t})")
                }
                t => format!("expected a value of type {t}"),
            };
            (key_path, message, None)
        }
        other => (key_path, strip_location(&other.to_string()), None),
    }
}

/// Removes serde_path_to_error's placeholder segments.
fn clean_path(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    path.split('.')
        .filter(|s| *s != "?")
        .collect::<Vec<_>>()
        .join(".")
}

fn parent_of(path: &str) -> String {
    match path.rfind('.') {
        Some(i) => path[..i].to_string(),
        None => String::new(),
    }
}

/// saphyr appends " at line N, column M" to its Display; we print the location ourselves.
fn strip_location(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

pub(crate) use crate::lang::did_you_mean;

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())?;
        if let Some(hint) = self.hint() {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for Error {
    fn from(err: ConfigError) -> Self {
        let mut out = Error::new(ErrorKind::Config, err.message());
        if let Some(hint) = err.hint() {
            out = out.hinted(hint);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = ["storage", "bridge", "bios", "machine"];
        let check =
            |word: &str, want: Option<&str>| assert_eq!(did_you_mean(word, keys), want, "{word}");
        check("strage", Some("storage"));
        check("brdge", Some("bridge"));
        check("bois", Some("bios"));
        check("zzz", None);
        check("stor", None);
        check("machien", Some("machine"));
    }

    #[test]
    fn converts_to_user_error_with_hint() {
        let err = ConfigError::invalid(Path::new("c.yaml"), Some(3), "defaults.memory", "bad size")
            .with_hint("use 2G");
        assert_eq!(
            err.to_string(),
            "c.yaml:3: `defaults.memory`: bad size\n  hint: use 2G"
        );
        let user: Error = err.into();
        assert_eq!(user.kind, ErrorKind::Config);
        assert_eq!(user.message, "c.yaml:3: `defaults.memory`: bad size");
        assert_eq!(user.hints, vec!["use 2G".to_string()]);
    }
}
