//! `SecretSource`: where a password, token secret or TOTP code comes from, and resolving it.
//!
//! In YAML a secret is `{env: NAME}`, `{file: PATH}`, `{command: "pass show pve/token"}`, or a
//! literal string (allowed, with a warning). Sources are resolved only when a connection needs
//! them, and the value goes straight into a [`Secret`]. This file must never put a secret value
//! in an error, a warning or a `Debug` string; for commands it shows only the program name,
//! because people do put seeds in command lines (`oathtool --totp -b SEED`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::error::{ConfigError, did_you_mean};
use super::expand_tilde;
use crate::secret::Secret;

/// Where a secret comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file; a trailing newline is dropped.
    File(PathBuf),
    /// A shell command (`sh -c`); the first line of its stdout, trimmed, is the secret.
    Command(String),
    /// The value itself, written in the config file.
    Literal(Secret),
}

/// A resolved secret and, for literals and loose file permissions, a warning to show.
#[derive(Debug)]
pub struct Resolved {
    pub secret: Secret,
    pub warning: Option<String>,
}

impl SecretSource {
    /// Reads the secret. `key` names it in errors (`clusters.lab.auth.password`).
    pub fn resolve(
        &self,
        key: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Resolved, ConfigError> {
        let fail = |message: String, hint: &str| ConfigError::Secret {
            key: key.to_string(),
            message,
            hint: Some(hint.to_string()),
        };
        let (secret, warning) = match self {
            SecretSource::Literal(secret) => (
                secret.clone(),
                Some(format!(
                    "literal secret in config file (`{key}`); use {{env: NAME}}, {{file: PATH}} or {{command: ...}}"
                )),
            ),
            SecretSource::Env(name) => match env(name) {
                Some(value) => (Secret::new(value), None),
                None => {
                    return Err(fail(
                        format!("environment variable {name} is not set"),
                        "export it, or change the source",
                    ));
                }
            },
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    fail(
                        format!("cannot read {}: {e}", path.display()),
                        "check the path and its permissions",
                    )
                })?;
                let value = text
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text);
                (Secret::new(value), loose_permissions(path, key))
            }
            SecretSource::Command(command) => (
                run(command).map_err(|message| {
                    fail(message, "run the command yourself to see why it failed")
                })?,
                None,
            ),
        };
        if secret.is_empty() {
            return Err(fail(
                format!("{} gave an empty value", self.describe()),
                "check that the source holds the secret",
            ));
        }
        Ok(Resolved { secret, warning })
    }

    /// A printable description of the source, never of the value.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env(name) => format!("environment variable {name}"),
            SecretSource::File(path) => format!("file {}", path.display()),
            SecretSource::Command(command) => format!("command `{}`", program_of(command)),
            SecretSource::Literal(_) => "literal value".to_string(),
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, SecretSource::Literal(_))
    }
}

/// The first word of a command, and `…` if it has arguments (which may hold a seed).
fn program_of(command: &str) -> String {
    let mut words = command.split_whitespace();
    let first = words.next().unwrap_or("");
    if words.next().is_some() {
        format!("{first} …")
    } else {
        first.to_string()
    }
}

/// Runs `sh -c command`; stdin and stderr stay on the terminal so `pass` can ask for a passphrase.
fn run(command: &str) -> Result<Secret, String> {
    let what = format!("command `{}`", program_of(command));
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if !output.status.success() {
        // The output is deliberately not shown: it could be a partial secret.
        return Err(format!("{what} failed ({})", output.status));
    }
    let text = String::from_utf8(output.stdout)
        .map_err(|_| format!("{what} printed something that is not UTF-8"))?;
    // The first line, as `pass show` keeps it: more lines (`login: ...`) may follow.
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    Ok(Secret::new(first))
}

#[cfg(unix)]
fn loose_permissions(path: &Path, key: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "secret file {} (`{key}`) is readable by group or others (mode {:o}); run chmod 600 on it",
            path.display(),
            mode & 0o777
        )
    })
}

#[cfg(not(unix))]
fn loose_permissions(_path: &Path, _key: &str) -> Option<String> {
    None
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => f.debug_tuple("Env").field(name).finish(),
            SecretSource::File(path) => f.debug_tuple("File").field(path).finish(),
            SecretSource::Command(command) => f
                .debug_tuple("Command")
                .field(&program_of(command))
                .finish(),
            SecretSource::Literal(secret) => f.debug_tuple("Literal").field(secret).finish(),
        }
    }
}

const SOURCES: &[&str] = &["env", "file", "command"];

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor;

        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = SecretSource;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret: {env: NAME}, {file: PATH}, {command: \"...\"} or a string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretSource, E> {
                Ok(SecretSource::Literal(Secret::new(v)))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SecretSource, E> {
                Ok(SecretSource::Literal(Secret::new(v.to_string())))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SecretSource, E> {
                Ok(SecretSource::Literal(Secret::new(v.to_string())))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretSource, A::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "empty secret source: write {env: NAME}, {file: PATH} or {command: ...}",
                    ));
                };
                let value: String = map.next_value()?;
                let source = match kind.as_str() {
                    "env" => SecretSource::Env(value),
                    "file" => SecretSource::File(expand_tilde(Path::new(&value))),
                    "command" => SecretSource::Command(value),
                    other => {
                        let mut msg = format!("unknown secret source `{other}`");
                        if let Some(best) = did_you_mean(other, SOURCES.iter().copied()) {
                            msg.push_str(&format!(" (did you mean `{best}`?)"));
                        }
                        msg.push_str("; use env, file or command");
                        return Err(de::Error::custom(msg));
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom(
                        "a secret source has exactly one of env, file or command",
                    ));
                }
                Ok(source)
            }
        }

        deserializer.deserialize_any(SourceVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn resolves_each_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let env = |name: &str| (name == "TOKEN").then(|| "from-env".to_string());
        let cases: Vec<(SecretSource, &str)> = vec![
            (SecretSource::Env("TOKEN".into()), "from-env"),
            (SecretSource::File(file.clone()), "from-file"),
            (SecretSource::Command("echo s3cret".into()), "s3cret"),
            (
                SecretSource::Command("printf '\\n s3cret \\ntoken_id: a@pve!x\\n'".into()),
                "s3cret",
            ),
            (SecretSource::Literal(Secret::new("lit")), "lit"),
        ];
        for (source, want) in cases {
            let got = source.resolve("k", &env).unwrap();
            assert_eq!(got.secret.expose(), want, "{source:?}");
            assert_eq!(got.warning.is_some(), source.is_literal(), "{source:?}");
        }
    }

    #[test]
    fn failures_name_the_key_and_source_but_not_output() {
        let check = |source: SecretSource, want: &str| {
            let err = source
                .resolve("clusters.lab.auth.password", &no_env)
                .unwrap_err();
            assert_eq!(err.message(), want);
        };
        check(
            SecretSource::Env("NOPE".into()),
            "secret `clusters.lab.auth.password`: environment variable NOPE is not set",
        );
        check(
            SecretSource::Command("echo leaked-output; exit 3".into()),
            "secret `clusters.lab.auth.password`: command `echo …` failed (exit status: 3)",
        );
        check(
            SecretSource::Command("printf ''".into()),
            "secret `clusters.lab.auth.password`: command `printf …` gave an empty value",
        );
        let missing = SecretSource::File("/nonexistent/pvesh-secret".into())
            .resolve("k", &no_env)
            .unwrap_err();
        assert!(
            missing
                .message()
                .starts_with("secret `k`: cannot read /nonexistent/pvesh-secret: "),
            "{missing}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn warns_about_a_world_readable_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "pw").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let got = SecretSource::File(file).resolve("k", &no_env).unwrap();
        assert_eq!(got.secret.expose(), "pw");
        assert!(
            got.warning
                .unwrap()
                .contains("readable by group or others (mode 644)")
        );
    }

    #[test]
    fn debug_hides_values_and_command_arguments() {
        let text = format!(
            "{:?} {:?}",
            SecretSource::Literal(Secret::new("hunter2")),
            SecretSource::Command("oathtool --totp -b JBSWY3DPEHPK3PXP".into())
        );
        assert_eq!(text, "Literal(<redacted>) Command(\"oathtool …\")");
    }
}
