//! Credentials and the ticket session: what goes into each request's auth headers, and the
//! pure decisions about tickets (their age, when to renew, how to read a login answer).
//!
//! FACTS §3: tickets are `PVE:<user>:<8 hex unix time>::<sig>`, live 2 h and are renewed by
//! posting the ticket as the password; non-GET requests need the `CSRFPreventionToken` header;
//! API tokens go in `Authorization: PVEAPIToken=USER@REALM!ID=SECRET`. TFA answers `NeedTFA: 1`
//! with a half ticket that is sent back as `tfa-challenge` with `password=totp:<code>`.
//! No IO here; `client` does the requests. Secrets stay in [`Secret`].

use serde_json::Value;

use super::error::ApiError;
use crate::secret::Secret;

/// How to log in.
#[derive(Debug, Clone)]
pub enum Auth {
    /// An API token: `tokenid` is `user@realm!name`.
    Token { tokenid: String, secret: Secret },
    /// A user and password (PAM, PVE, LDAP... realms), with an optional TOTP code.
    Password {
        username: String,
        password: Secret,
        otp: Option<Secret>,
    },
}

impl Auth {
    /// The user as PVE names it: `root@pam` or `root@pam!ci`.
    pub fn username(&self) -> &str {
        match self {
            Auth::Token { tokenid, .. } => tokenid,
            Auth::Password { username, .. } => username,
        }
    }
}

/// Asked for a second factor when the server answers `NeedTFA` and no `otp` was given.
pub trait TfaPrompt: Send + Sync {
    fn totp_code(&self) -> Result<Secret, ApiError>;
}

/// Renew a ticket older than this (the server accepts them for 2 h).
pub const RENEW_AFTER_SECS: i64 = 105 * 60;

/// A logged-in ticket session.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub ticket: Secret,
    pub csrf: Secret,
    pub username: String,
    /// When the server issued the ticket, in the server's clock (unix seconds).
    pub issued: i64,
    /// Server clock minus local clock, measured at login (seconds).
    pub clock_offset: i64,
}

impl Ticket {
    /// The ticket's age at local time `now_local`, in the server's clock.
    pub fn age(&self, now_local: i64) -> i64 {
        now_local + self.clock_offset - self.issued
    }

    pub fn needs_renewal(&self, now_local: i64) -> bool {
        self.age(now_local) >= RENEW_AFTER_SECS
    }

    /// The `Cookie` header value: `PVEAuthCookie=<ticket>`. PVE URI-unescapes the cookie, but
    /// other servers (fakepve, aiohttp) take it verbatim, so the ticket goes as it is, as
    /// proxmoxer sends it; only bytes a cookie value cannot hold are percent-encoded.
    pub fn cookie(&self) -> String {
        let mut value = String::new();
        for c in self.ticket.expose().chars() {
            match c {
                ' ' | '"' | ',' | ';' | '\\' | '%' => value.push_str(&format!("%{:02X}", c as u32)),
                c if c.is_ascii_graphic() => value.push(c),
                c => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        value.push_str(&format!("%{b:02X}"));
                    }
                }
            }
        }
        format!("PVEAuthCookie={value}")
    }
}

/// The issue time inside a ticket (`PVE:user@realm:4EEC61E2::sig`), if it has one.
pub fn ticket_time(ticket: &str) -> Option<i64> {
    let mut parts = ticket.split(':');
    let _prefix = parts.next()?;
    let _user = parts.next()?;
    let hex = parts.next()?;
    if hex.len() != 8 {
        return None;
    }
    i64::from_str_radix(hex, 16).ok()
}

/// What a `POST /access/ticket` answer means.
#[derive(Debug)]
pub enum LoginAnswer {
    Ticket(Ticket),
    /// A second factor is needed: send this half ticket back as `tfa-challenge`.
    NeedTfa {
        challenge: Secret,
        username: String,
    },
}

/// Reads a login answer's `data`. `now_local` is used for the clock offset.
pub fn read_login(
    data: &Value,
    fallback_user: &str,
    now_local: i64,
) -> Result<LoginAnswer, ApiError> {
    let field = |k: &str| data.get(k).and_then(Value::as_str);
    let username = field("username").unwrap_or(fallback_user).to_string();
    let Some(ticket) = field("ticket") else {
        return Err(ApiError::Auth {
            message: "the server answered the login without a ticket".into(),
        });
    };
    let need_tfa = match data.get("NeedTFA") {
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "1",
        _ => false,
    };
    if need_tfa {
        return Ok(LoginAnswer::NeedTfa {
            challenge: Secret::new(ticket),
            username,
        });
    }
    let Some(csrf) = field("CSRFPreventionToken") else {
        return Err(ApiError::Auth {
            message: "the server answered the login without a CSRF token".into(),
        });
    };
    let (issued, clock_offset) = match ticket_time(ticket) {
        Some(t) => (t, t - now_local),
        None => (now_local, 0),
    };
    Ok(LoginAnswer::Ticket(Ticket {
        ticket: Secret::new(ticket),
        csrf: Secret::new(csrf),
        username,
        issued,
        clock_offset,
    }))
}

/// The TFA response PVE expects in `password`: `totp:<code>`, or the code as given when it
/// already names its kind (`recovery:...`, `totp:...`).
pub fn tfa_response(code: &str) -> String {
    let code = code.trim();
    if code.contains(':') {
        code.to_string()
    } else {
        format!("totp:{code}")
    }
}

/// The `Authorization` header value for an API token.
pub fn token_header(tokenid: &str, secret: &Secret) -> String {
    format!("PVEAPIToken={tokenid}={}", secret.expose())
}

/// Checks a token id's shape (`user@realm!name`) before any request, with a fixable message.
pub fn check_tokenid(tokenid: &str) -> Result<(), ApiError> {
    let ok = tokenid
        .split_once('!')
        .is_some_and(|(user, name)| user.contains('@') && !name.is_empty() && !name.contains('='));
    if ok {
        Ok(())
    } else {
        Err(ApiError::Options {
            message: format!(
                "'{tokenid}' is not an API token id: expected USER@REALM!TOKENNAME, e.g. root@pam!ci"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ticket_at(issued: i64, offset: i64) -> Ticket {
        Ticket {
            ticket: Secret::new("PVE:root@pam:4EEC61E2::SIGSECRET"),
            csrf: Secret::new("4EEC61E2:CSRFSECRET"),
            username: "root@pam".into(),
            issued,
            clock_offset: offset,
        }
    }

    #[test]
    fn reads_ticket_time() {
        assert_eq!(
            ticket_time("PVE:root@pam:4EEC61E2::c2lnbmF0dXJl"),
            Some(0x4EEC61E2)
        );
        assert_eq!(
            ticket_time("PVE:alice@pve!x:6541F0A2::sig"),
            Some(0x6541F0A2)
        );
        assert_eq!(ticket_time("PVE:!tfa!x"), None);
        assert_eq!(ticket_time("garbage"), None);
    }

    #[test]
    fn renewal_decision() {
        // (issued, offset, now_local, renew?)
        let cases = [
            (1000, 0, 1000, false),
            (1000, 0, 1000 + RENEW_AFTER_SECS - 1, false),
            (1000, 0, 1000 + RENEW_AFTER_SECS, true),
            // The server clock is 10 min ahead: the ticket is older than the local clock says.
            (1000, 600, 1000 + RENEW_AFTER_SECS - 600, true),
            (1000, 600, 1000 + RENEW_AFTER_SECS - 601, false),
            // The server clock is behind.
            (1000, -600, 1000 + RENEW_AFTER_SECS, false),
        ];
        for (issued, offset, now, want) in cases {
            assert_eq!(
                ticket_at(issued, offset).needs_renewal(now),
                want,
                "{issued} {offset} {now}"
            );
        }
    }

    #[test]
    fn reads_login_answers() {
        let data = json!({"username":"root@pam","ticket":"PVE:root@pam:00001000::sig","CSRFPreventionToken":"00001000:tok","cap":{}});
        let LoginAnswer::Ticket(t) = read_login(&data, "x", 0x1000 - 30).unwrap() else {
            panic!("expected a ticket")
        };
        assert_eq!(
            (t.issued, t.clock_offset, t.username.as_str()),
            (0x1000, 30, "root@pam")
        );
        assert_eq!(t.csrf.expose(), "00001000:tok");
        assert_eq!(t.cookie(), "PVEAuthCookie=PVE:root@pam:00001000::sig");

        let tfa = json!({"username":"root@pam","ticket":"PVE:!tfa!abc","NeedTFA":1});
        assert!(matches!(
            read_login(&tfa, "x", 0).unwrap(),
            LoginAnswer::NeedTfa { .. }
        ));

        let e = read_login(&json!({"username":"root@pam"}), "x", 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "login failed: the server answered the login without a ticket"
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let t = ticket_at(1, 0);
        let auth = Auth::Password {
            username: "root@pam".into(),
            password: Secret::new("hunter2"),
            otp: None,
        };
        let dbg = format!("{t:?} {auth:?}");
        assert!(
            !dbg.contains("SIGSECRET") && !dbg.contains("CSRFSECRET") && !dbg.contains("hunter2"),
            "{dbg}"
        );
    }

    #[test]
    fn tfa_and_token_formats() {
        assert_eq!(tfa_response("123456"), "totp:123456");
        assert_eq!(tfa_response(" 123456\n"), "totp:123456");
        assert_eq!(tfa_response("recovery:abcd-efgh"), "recovery:abcd-efgh");
        assert_eq!(
            token_header("root@pam!ci", &Secret::new("uuid")),
            "PVEAPIToken=root@pam!ci=uuid"
        );
        assert!(check_tokenid("root@pam!ci").is_ok());
        assert!(check_tokenid("root@pam").is_err());
        assert!(check_tokenid("root!ci").is_err());
        assert!(check_tokenid("root@pam!").is_err());
    }
}
