//! `Secret`: a string that never prints.
//!
//! Passwords, API token secrets, tickets and TOTP codes are held in a `Secret`. Its `Debug` and
//! `Display` print `<redacted>`; the only way to read it is [`Secret::expose`], which call sites
//! use at the moment they put it on the wire.
//!
//! [`is_secret_param`] is the one place that decides which parameter names hold secrets: the
//! staging layer redacts their values in summaries, diffs and the audit log, and the shell's
//! history refuses lines that carry one ([`is_secret_line`]).

use std::fmt;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for putting on the wire. Never format it into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// Parameter names whose values are secrets, compared after unquoting and lower-casing. From
/// PVE's API schema (`apidata.json`):
///
/// - `password` (users, storages, realms' bind password, SMTP, `scan/cifs`, `scan/pbs`, cluster
///   join, guest agent, container root), `confirmation-password` (`PUT /access/password`),
///   `cipassword` (cloud-init);
/// - `token` (Gotify, InfluxDB, SDN IPAM), `secret` (webhook secrets);
/// - `key` (SDN DNS API key, a custom certificate's private key, the subscription key), `keys`
///   (yubico keys of a user), `keyring` (an external Ceph cluster), `encryption-key` (PBS
///   storage), `client-key` (OpenID realm), `eab-hmac-key` (ACME external account binding);
/// - `ticket`, `vncticket` (session tickets), `otp`, `totp` (one-time codes);
/// - our own login options: `token_secret`, `tokensecret`.
///
/// Besides, any name ending in `password`, `secret`, `passphrase` or `hmac-key` counts. Public
/// keys (`sshkeys`, `ssh-public-keys`, `master-pubkey`) are not secrets.
pub const SECRET_PARAMS: &[&str] = &[
    "password",
    "confirmation-password",
    "cipassword",
    "token",
    "secret",
    "key",
    "keys",
    "keyring",
    "encryption-key",
    "client-key",
    "eab-hmac-key",
    "ticket",
    "vncticket",
    "otp",
    "totp",
    "token_secret",
    "tokensecret",
];

const SECRET_SUFFIXES: &[&str] = &["password", "secret", "passphrase", "hmac-key"];

/// Whether a parameter name (already unquoted) holds a secret: see [`SECRET_PARAMS`].
pub fn is_secret_param(name: &str) -> bool {
    let name = name.trim().trim_start_matches('-').to_ascii_lowercase();
    SECRET_PARAMS.contains(&name.as_str()) || SECRET_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Whether a command line carries a secret value: a `key=value` word or a `--key value` /
/// `--key=value` flag whose key is a secret parameter (quotes and escapes removed first, so
/// `"password"=x` counts), or a `PVEAPIToken=` header value anywhere.
pub fn is_secret_line(line: &str) -> bool {
    if line.to_ascii_lowercase().contains("pveapitoken=") {
        return true;
    }
    let words: Vec<String> = crate::lang::lex_partial(line)
        .into_iter()
        .filter_map(|t| match t {
            crate::lang::Token::Word(w) => Some(w.text),
            _ => None,
        })
        .collect();
    words.iter().enumerate().any(|(i, word)| {
        if let Some((key, value)) = word.split_once('=')
            && is_secret_param(key)
            && !value.is_empty()
        {
            return true;
        }
        word.starts_with("--") && is_secret_param(word) && words.get(i + 1).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_params_cover_pve_names() {
        for name in [
            "password",
            "cipassword",
            "confirmation-password",
            "token",
            "secret",
            "key",
            "keys",
            "encryption-key",
            "eab-hmac-key",
            "keyring",
            "client-key",
            "otp",
            "PASSWORD",
            "--password",
            "bind-passphrase",
        ] {
            assert!(is_secret_param(name), "{name}");
        }
        for name in [
            "keyboard",
            "sshkeys",
            "master-pubkey",
            "tokenid",
            "hotplug",
            "name",
        ] {
            assert!(!is_secret_param(name), "{name}");
        }
    }

    #[test]
    fn secret_lines() {
        for (line, secret) in [
            ("set cipassword=hunter2", true),
            ("create /access/users userid=x@pve password=abc", true),
            ("login --password abc", true),
            ("login --password=abc", true),
            (
                "create /cluster/notifications/endpoints/gotify name=g server=https://g token=T",
                true,
            ),
            (
                "create /storage storage=pbs type=pbs encryption-key=K",
                true,
            ),
            (
                "create /cluster/acme/account contact=a@b eab-kid=x eab-hmac-key=H",
                true,
            ),
            ("set /access/password userid=root@pam \"password\"=P", true),
            ("set /access/password userid=root@pam 'password=P'", true),
            ("set /access/users/root@pam keys=Y", true),
            ("ls | where status=running", false),
            ("status web01", false),
            ("get /access/users/root@pam/token", false),
            ("set keyboard=de", false),
        ] {
            assert_eq!(is_secret_line(line), secret, "{line}");
        }
    }
}
