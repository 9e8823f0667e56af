//! Resolving one cluster into [`ConnectionSettings`]: the file's settings, then the `PROXMOX_*`
//! environment variables on top, then the secrets of that cluster only.
//!
//! Precedence, field by field: `PROXMOX_HOST`/`PROXMOX_PORT` replace the endpoints; a token from
//! the environment (`PROXMOX_TOKEN_ID`, `PROXMOX_TOKEN_SECRET`) beats a password from the
//! environment, which beats the file; `PROXMOX_FINGERPRINT` beats `PROXMOX_VERIFY_SSL`, which
//! beats the file's `tls`. The environment is read through a lookup function so tests never
//! touch the process environment. Nothing here opens a connection.

use std::path::PathBuf;

use super::cluster::{
    AuthConfig, ClusterConfig, DEFAULT_PORT, TlsConfig, check_host, check_user, full_token_id,
    normalize_fingerprint,
};
use super::error::{ConfigError, did_you_mean};
use super::secret_source::SecretSource;
use super::{Config, FILE_NAME};
use crate::secret::Secret;

/// Everything the API client needs to log in to one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSettings {
    /// The cluster's name, for the prompt and the audit log.
    pub cluster: String,
    /// The first endpoint's host and port.
    pub host: String,
    pub port: u16,
    /// The node to address node-scoped calls to by default: `PROXMOX_NODE`, else the first
    /// endpoint's node name.
    pub node: Option<String>,
    /// All endpoints in order of preference (the first is `host`/`port`), for failover.
    pub endpoints: Vec<Endpoint>,
    pub auth: AuthSettings,
    pub tls: TlsSettings,
    /// Things the user should hear about (literal secrets, loose file modes, TLS off).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: Option<String>,
    pub host: String,
    pub port: u16,
}

/// Resolved credentials. `Debug` shows `<redacted>` for every secret.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthSettings {
    Token {
        token_id: String,
        secret: Secret,
    },
    Password {
        user: String,
        password: Secret,
        totp: Option<Secret>,
    },
    /// No credentials configured: the CLI may prompt for them.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSettings {
    System,
    CaFile(PathBuf),
    Fingerprint(String),
    Insecure,
}

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads a variable, treating an empty value as unset.
fn var(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

fn env_error(var: &str, message: impl Into<String>, hint: &str) -> ConfigError {
    ConfigError::Env {
        var: var.to_string(),
        message: message.into(),
        hint: Some(hint.to_string()),
    }
}

impl Config {
    /// The connection for `cluster` (or the default one), with environment overrides applied
    /// and that cluster's secrets resolved.
    pub fn connection(
        &self,
        cluster: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ConnectionSettings, ConfigError> {
        let env_host = var(env, "PROXMOX_HOST");
        let (name, file) = self.choose_cluster(cluster, env_host.as_deref())?;
        let mut warnings = Vec::new();

        let port = match var(env, "PROXMOX_PORT") {
            Some(text) => Some(
                text.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| {
                        env_error(
                            "PROXMOX_PORT",
                            format!("`{text}` is not a port number"),
                            "use a number from 1 to 65535, e.g. 8006",
                        )
                    })?,
            ),
            None => None,
        };
        let mut endpoints: Vec<Endpoint> = match (&env_host, file) {
            (Some(host), _) => {
                check_host(host)
                    .map_err(|e| env_error("PROXMOX_HOST", e, "e.g. PROXMOX_HOST=192.168.1.10"))?;
                vec![Endpoint {
                    name: None,
                    host: host.clone(),
                    port: DEFAULT_PORT,
                }]
            }
            (None, Some(file)) => file
                .nodes
                .iter()
                .map(|n| Endpoint {
                    name: n.name.clone(),
                    host: n.host.clone(),
                    port: n.port,
                })
                .collect(),
            (None, None) => Vec::new(),
        };
        if let Some(port) = port {
            endpoints.iter_mut().for_each(|e| e.port = port);
        }
        let Some(first) = endpoints.first().cloned() else {
            return Err(ConfigError::Cluster {
                message: format!("cluster `{name}` has no endpoints"),
                hint: Some("add nodes to it, or set PROXMOX_HOST".into()),
            });
        };
        let node = var(env, "PROXMOX_NODE").or(first.name.clone());

        let file_auth = file.map(|f| &f.auth).unwrap_or(&AuthConfig::None);
        let auth = resolve_auth(
            file_auth,
            &format!("clusters.{name}.auth"),
            env,
            &mut warnings,
        )?;

        let file_tls = file.map(|f| f.tls.clone()).unwrap_or_default();
        let tls = resolve_tls(file_tls, env)?;
        if tls == TlsSettings::Insecure {
            warnings.push(format!(
                "TLS certificate verification is off for cluster `{name}`: anyone on the network path can pose as \
                 the server and capture your credentials; pin its certificate instead (tls.fingerprint, shown as \
                 ssl_fingerprint in GET /nodes)"
            ));
        }

        Ok(ConnectionSettings {
            cluster: name,
            host: first.host,
            port: first.port,
            node,
            endpoints,
            auth,
            tls,
            warnings,
        })
    }

    /// Picks the cluster by name, default, or the environment alone.
    fn choose_cluster(
        &self,
        wanted: Option<&str>,
        env_host: Option<&str>,
    ) -> Result<(String, Option<&ClusterConfig>), ConfigError> {
        let known = || {
            self.clusters
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(wanted) = wanted {
            return match self.clusters.get(wanted) {
                Some(c) => Ok((wanted.to_string(), Some(c))),
                None if self.clusters.is_empty() && env_host.is_some() => {
                    Ok((wanted.to_string(), None))
                }
                None => {
                    let mut message = format!("no cluster named `{wanted}`");
                    if let Some(best) =
                        did_you_mean(wanted, self.clusters.keys().map(String::as_str))
                    {
                        message.push_str(&format!(" (did you mean `{best}`?)"));
                    }
                    let hint = if self.clusters.is_empty() {
                        format!("no clusters are configured; {}", self.where_to_configure())
                    } else {
                        format!("configured clusters: {}", known())
                    };
                    Err(ConfigError::Cluster {
                        message,
                        hint: Some(hint),
                    })
                }
            };
        }
        if let Some((name, c)) = self
            .default_cluster_name()
            .and_then(|n| self.clusters.get_key_value(n))
        {
            return Ok((name.clone(), Some(c)));
        }
        if let Some(host) = env_host {
            return Ok((host.to_string(), None));
        }
        if self.clusters.is_empty() {
            return Err(ConfigError::Cluster {
                message: "no cluster is configured".into(),
                hint: Some(format!("{}; or try --demo", self.where_to_configure())),
            });
        }
        Err(ConfigError::Cluster {
            message: format!(
                "several clusters are configured ({}) and no default_cluster",
                known()
            ),
            hint: Some("name one with --cluster NAME, or set default_cluster in the config".into()),
        })
    }

    fn where_to_configure(&self) -> String {
        let file = match &self.source {
            Some(path) => path.display().to_string(),
            None => format!("~/.config/pvesh-plus/{FILE_NAME}"),
        };
        format!(
            "add one to {file} (see the sample {FILE_NAME}), or set PROXMOX_HOST and PROXMOX_TOKEN_ID/PROXMOX_TOKEN_SECRET"
        )
    }
}

fn resolve(
    source: &SecretSource,
    key: &str,
    env: Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<Secret, ConfigError> {
    let resolved = source.resolve(key, env)?;
    warnings.extend(resolved.warning);
    Ok(resolved.secret)
}

fn resolve_auth(
    file: &AuthConfig,
    key: &str,
    env: Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<AuthSettings, ConfigError> {
    let env_user = var(env, "PROXMOX_USER");
    if let Some(user) = &env_user {
        check_user(user).map_err(|e| env_error("PROXMOX_USER", e, "e.g. PROXMOX_USER=root@pam"))?;
    }
    let file_totp = |warnings: &mut Vec<String>| match file {
        AuthConfig::Password {
            totp: Some(totp), ..
        } => resolve(totp, &format!("{key}.totp"), env, warnings).map(Some),
        _ => Ok(None),
    };

    if let Some(id) = var(env, "PROXMOX_TOKEN_ID") {
        let token_id = full_token_id(id.trim(), env_user.as_deref()).map_err(|e| {
            env_error(
                "PROXMOX_TOKEN_ID",
                e,
                "write user@realm!name, or set PROXMOX_USER too",
            )
        })?;
        let secret = match (var(env, "PROXMOX_TOKEN_SECRET"), file) {
            (Some(secret), _) => Secret::new(secret.trim()),
            (None, AuthConfig::Token { secret, .. }) => {
                resolve(secret, &format!("{key}.token_secret"), env, warnings)?
            }
            (None, _) => {
                return Err(env_error(
                    "PROXMOX_TOKEN_ID",
                    "is set but there is no token secret",
                    "set PROXMOX_TOKEN_SECRET",
                ));
            }
        };
        return Ok(AuthSettings::Token { token_id, secret });
    }
    if let Some(secret) = var(env, "PROXMOX_TOKEN_SECRET") {
        return match file {
            AuthConfig::Token { token_id, .. } => Ok(AuthSettings::Token {
                token_id: token_id.clone(),
                secret: Secret::new(secret.trim()),
            }),
            _ => Err(env_error(
                "PROXMOX_TOKEN_SECRET",
                "is set but there is no token ID",
                "set PROXMOX_TOKEN_ID=user@realm!name",
            )),
        };
    }
    if let Some(password) = var(env, "PROXMOX_PASSWORD") {
        let user = match (env_user, file) {
            (Some(user), _) => user,
            (None, AuthConfig::Password { user, .. }) => user.clone(),
            (None, _) => {
                return Err(env_error(
                    "PROXMOX_PASSWORD",
                    "is set but there is no user",
                    "set PROXMOX_USER=root@pam",
                ));
            }
        };
        return Ok(AuthSettings::Password {
            user,
            password: Secret::new(password),
            totp: file_totp(warnings)?,
        });
    }
    match file {
        AuthConfig::Token { token_id, secret } => Ok(AuthSettings::Token {
            token_id: token_id.clone(),
            secret: resolve(secret, &format!("{key}.token_secret"), env, warnings)?,
        }),
        AuthConfig::Password { user, password, .. } => Ok(AuthSettings::Password {
            user: env_user.unwrap_or_else(|| user.clone()),
            password: resolve(password, &format!("{key}.password"), env, warnings)?,
            totp: file_totp(warnings)?,
        }),
        AuthConfig::None => match env_user {
            Some(_) => Err(env_error(
                "PROXMOX_USER",
                "is set but there is no password",
                "set PROXMOX_PASSWORD, or PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET",
            )),
            None => Ok(AuthSettings::None),
        },
    }
}

fn resolve_tls(file: TlsConfig, env: Env<'_>) -> Result<TlsSettings, ConfigError> {
    if let Some(fp) = var(env, "PROXMOX_FINGERPRINT") {
        let fp = normalize_fingerprint(fp.trim())
            .map_err(|e| env_error("PROXMOX_FINGERPRINT", e, "copy it from `pvenode cert info`"))?;
        return Ok(TlsSettings::Fingerprint(fp));
    }
    let verify = match var(env, "PROXMOX_VERIFY_SSL").map(|v| v.trim().to_ascii_lowercase()) {
        None => None,
        Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Some(false),
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Some(true),
        Some(v) => {
            return Err(env_error(
                "PROXMOX_VERIFY_SSL",
                format!("`{v}` is not a boolean"),
                "use true or false",
            ));
        }
    };
    Ok(match (verify, file) {
        (Some(false), _) => TlsSettings::Insecure,
        (Some(true), TlsConfig::Insecure) => TlsSettings::System,
        (_, TlsConfig::System) => TlsSettings::System,
        (_, TlsConfig::CaFile(path)) => TlsSettings::CaFile(path),
        (_, TlsConfig::Fingerprint(fp)) => TlsSettings::Fingerprint(fp),
        (_, TlsConfig::Insecure) => TlsSettings::Insecure,
    })
}
