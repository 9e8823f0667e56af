//! The `clusters:` section: endpoints, authentication and TLS trust for each cluster.
//!
//! Parsing checks the shape (one auth method, one TLS mode, hosts without a scheme, well-formed
//! token IDs and fingerprints) so that `Config::connection` only has to merge the environment
//! and resolve secrets. Secrets stay as [`SecretSource`]s here: nothing is read or run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::secret_source::SecretSource;
use super::{expand_tilde, or_default};

/// PVE's API port.
pub const DEFAULT_PORT: u16 = 8006;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// API endpoints in order of preference; the first reachable one is used.
    #[serde(deserialize_with = "non_empty_nodes")]
    pub nodes: Vec<NodeEndpoint>,
    #[serde(default, deserialize_with = "or_default")]
    pub auth: AuthConfig,
    #[serde(default, deserialize_with = "or_default")]
    pub tls: TlsConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEndpoint {
    /// The PVE node name, when known (it may differ from the host name).
    #[serde(default, deserialize_with = "or_default")]
    pub name: Option<String>,
    #[serde(deserialize_with = "host")]
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
}

fn default_port() -> u16 {
    DEFAULT_PORT
}

fn non_empty_nodes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<NodeEndpoint>, D::Error> {
    let nodes = Vec::<NodeEndpoint>::deserialize(deserializer)?;
    if nodes.is_empty() {
        return Err(serde::de::Error::custom(
            "a cluster needs at least one node: - { host: 192.168.1.10 }",
        ));
    }
    Ok(nodes)
}

fn host<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    check_host(&text).map_err(serde::de::Error::custom)?;
    Ok(text)
}

/// A host name or IP address, without scheme, port or path.
pub(crate) fn check_host(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("the host is empty".into());
    }
    if text.contains("://") || text.contains('/') {
        return Err(format!(
            "`{text}` is a URL: write only the host name or address; the port goes in `port`"
        ));
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!("`{text}` contains a space"));
    }
    Ok(())
}

/// How to log in. Exactly one method, or none (then the environment must provide one).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "RawAuth")]
pub enum AuthConfig {
    #[default]
    None,
    /// An API token: `user@realm!name` and its secret (UUID).
    Token {
        token_id: String,
        secret: SecretSource,
    },
    /// A user with password, and a TOTP code source for second factor.
    Password {
        user: String,
        password: SecretSource,
        totp: Option<SecretSource>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    token_id: Option<String>,
    token_secret: Option<SecretSource>,
    user: Option<String>,
    password: Option<SecretSource>,
    totp: Option<SecretSource>,
}

impl TryFrom<RawAuth> for AuthConfig {
    type Error = String;

    fn try_from(raw: RawAuth) -> Result<Self, String> {
        let RawAuth {
            token_id,
            token_secret,
            user,
            password,
            totp,
        } = raw;
        if let Some(user) = &user {
            check_user(user)?;
        }
        match (token_id, token_secret) {
            (Some(_), _) if password.is_some() || totp.is_some() => Err(
                "choose one login method: an API token (token_id + token_secret) or user + password, not both".into(),
            ),
            (Some(id), Some(secret)) => Ok(AuthConfig::Token { token_id: full_token_id(&id, user.as_deref())?, secret }),
            (Some(_), None) => Err("`token_id` needs `token_secret` (e.g. token_secret: { env: PVE_TOKEN_SECRET })".into()),
            (None, Some(_)) => Err("`token_secret` needs `token_id` (e.g. token_id: \"root@pam!cli\")".into()),
            (None, None) => match (user, password) {
                (Some(user), Some(password)) => Ok(AuthConfig::Password { user, password, totp }),
                (Some(_), None) => Err("`user` needs `password` (e.g. password: { command: \"pass show pve\" })".into()),
                (None, Some(_)) => Err("`password` needs `user` (e.g. user: root@pam)".into()),
                (None, None) if totp.is_some() => Err("`totp` needs `user` and `password`".into()),
                (None, None) => Ok(AuthConfig::None),
            },
        }
    }
}

/// `user@realm`: PVE always needs the realm.
pub(crate) fn check_user(user: &str) -> Result<(), String> {
    match user.split_once('@') {
        Some((name, realm)) if !name.is_empty() && !realm.is_empty() && !realm.contains('!') => {
            Ok(())
        }
        _ => Err(format!(
            "user `{user}` needs a realm: write e.g. root@pam or alice@pve"
        )),
    }
}

/// Completes a token ID: `user@realm!name` as is, or `name` joined to `user`.
pub(crate) fn full_token_id(id: &str, user: Option<&str>) -> Result<String, String> {
    let (owner, name) = match id.split_once('!') {
        Some((owner, name)) => {
            if let Some(user) = user.filter(|u| *u != owner) {
                return Err(format!(
                    "token `{id}` belongs to `{owner}` but `user` is `{user}`"
                ));
            }
            (owner.to_string(), name)
        }
        None => match user {
            Some(user) => (user.to_string(), id),
            None => {
                return Err(format!(
                    "token ID `{id}` needs its user: write `user@realm!{id}`"
                ));
            }
        },
    };
    check_user(&owner).map_err(|e| format!("in token ID `{id}`: {e}"))?;
    let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !name_ok {
        return Err(format!(
            "token name `{name}` must start with a letter and use letters, digits, . _ -"
        ));
    }
    Ok(format!("{owner}!{name}"))
}

/// How the server certificate is trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawTls")]
pub enum TlsConfig {
    /// The system's CA store.
    #[default]
    System,
    /// A CA certificate (PEM), e.g. the cluster's `/etc/pve/pve-root-ca.pem`.
    CaFile(PathBuf),
    /// Pin the server certificate's SHA-256 fingerprint (`AA:BB:...`, upper case).
    Fingerprint(String),
    /// No verification at all (warned about).
    Insecure,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    fingerprint: Option<String>,
    ca_file: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    insecure: bool,
}

impl TryFrom<RawTls> for TlsConfig {
    type Error = String;

    fn try_from(raw: RawTls) -> Result<Self, String> {
        match (raw.fingerprint, raw.ca_file, raw.insecure) {
            (None, None, false) => Ok(TlsConfig::System),
            (Some(fp), None, false) => Ok(TlsConfig::Fingerprint(normalize_fingerprint(&fp)?)),
            (None, Some(path), false) => Ok(TlsConfig::CaFile(expand_tilde(Path::new(&path)))),
            (None, None, true) => Ok(TlsConfig::Insecure),
            _ => Err("choose one of `fingerprint`, `ca_file` or `insecure: true`".into()),
        }
    }
}

/// A SHA-256 fingerprint as colon-separated upper-case hex (how PVE shows `ssl_fingerprint`).
/// Accepts any case, with or without colons.
pub fn normalize_fingerprint(text: &str) -> Result<String, String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "`{text}` is not a SHA-256 fingerprint: expected 32 hex pairs like AA:BB:..., \
             as shown by `pvenode cert info` or in GET /nodes (ssl_fingerprint)"
        ));
    }
    let upper = hex.to_ascii_uppercase();
    let pairs: Vec<&str> = (0..32)
        .filter_map(|i| upper.get(2 * i..2 * i + 2))
        .collect();
    Ok(pairs.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids() {
        let check = |id: &str, user: Option<&str>, want: Result<&str, &str>| {
            assert_eq!(
                full_token_id(id, user),
                want.map(str::to_string).map_err(str::to_string),
                "{id}"
            );
        };
        check("root@pam!cli", None, Ok("root@pam!cli"));
        check("cli", Some("root@pam"), Ok("root@pam!cli"));
        check("root@pam!cli", Some("root@pam"), Ok("root@pam!cli"));
        check(
            "cli",
            None,
            Err("token ID `cli` needs its user: write `user@realm!cli`"),
        );
        check(
            "root@pam!cli",
            Some("bob@pve"),
            Err("token `root@pam!cli` belongs to `root@pam` but `user` is `bob@pve`"),
        );
        check(
            "root!cli",
            None,
            Err(
                "in token ID `root!cli`: user `root` needs a realm: write e.g. root@pam or alice@pve",
            ),
        );
        check(
            "root@pam!9x",
            None,
            Err("token name `9x` must start with a letter and use letters, digits, . _ -"),
        );
    }

    #[test]
    fn fingerprints() {
        let colons = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99";
        assert_eq!(normalize_fingerprint(colons).as_deref(), Ok(colons));
        assert_eq!(
            normalize_fingerprint(&colons.replace(':', "").to_lowercase()).as_deref(),
            Ok(colons)
        );
        assert!(normalize_fingerprint("AA:BB").is_err());
        assert!(normalize_fingerprint(&colons.replace('A', "G")).is_err());
    }

    #[test]
    fn hosts() {
        assert!(check_host("pve1.lan").is_ok());
        assert!(check_host("fd00::10").is_ok());
        assert!(check_host("https://pve1:8006").is_err());
        assert!(check_host("").is_err());
    }
}
