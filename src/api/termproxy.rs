//! PVE's termproxy: the answer of `POST .../termproxy` and the wire protocol spoken on the
//! `vncwebsocket` that follows (xterm.js's client side, as PVE's web UI speaks it).
//!
//! After the websocket opens, the client sends `USER:TICKET\n` once; termproxy answers `OK`
//! and from then on sends the terminal's output as raw bytes. The client sends input as
//! `0:<byte length>:<bytes>`, a window size as `1:<cols>:<rows>:` and a keepalive as `2`.
//! Pure: no IO. The ticket lives in a [`Secret`] and only [`auth_line`] exposes it.

use serde_json::Value;

use super::error::ApiError;
use crate::secret::Secret;

/// What `POST .../termproxy` answered.
#[derive(Debug, Clone)]
pub struct TermproxyTicket {
    /// The termproxy's port on the node (5900..5999), for `vncwebsocket?port=`.
    pub port: u16,
    /// The `PVEVNC:` ticket, for `vncticket=` and the first message.
    pub ticket: Secret,
    /// Whom the ticket is for (`root@pam`, `user@pve!token`).
    pub user: String,
    /// The `vncproxy` worker's UPID.
    pub upid: Option<String>,
}

impl TermproxyTicket {
    /// Reads the `data` of the answer; `path` names the request in errors.
    pub fn from_data(path: &str, data: &Value) -> Result<TermproxyTicket, ApiError> {
        let bad = |detail: &str| ApiError::Decode {
            path: path.to_string(),
            detail: detail.to_string(),
        };
        // PVE's schema says integer; older servers sent the port as a string.
        let port = match data.get("port") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| bad("the answer has no port"))?;
        let ticket = data
            .get("ticket")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("the answer has no ticket"))?;
        let user = data
            .get("user")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("the answer has no user"))?;
        Ok(TermproxyTicket {
            port,
            ticket: Secret::new(ticket),
            user: user.to_string(),
            upid: data.get("upid").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// The first message: `USER:TICKET\n`. It holds the ticket: send it, never show it.
pub fn auth_line(user: &str, ticket: &Secret) -> Vec<u8> {
    format!("{user}:{}\n", ticket.expose()).into_bytes()
}

/// Keyboard input: `0:<byte length>:<bytes>`.
pub fn input_frame(data: &[u8]) -> Vec<u8> {
    let mut out = format!("0:{}:", data.len()).into_bytes();
    out.extend_from_slice(data);
    out
}

/// A window size: `1:<cols>:<rows>:`.
pub fn resize_frame(cols: u16, rows: u16) -> Vec<u8> {
    format!("1:{cols}:{rows}:").into_bytes()
}

/// The keepalive PVE's web console sends every 30 s.
pub const KEEPALIVE: &[u8] = b"2";

/// How often to send [`KEEPALIVE`].
pub const KEEPALIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The byte of Ctrl-] (0x1d), which leaves the console, as telnet's escape does.
pub const ESCAPE: u8 = 0x1d;

/// termproxy's answer to a good ticket line.
pub fn is_ok_answer(msg: &[u8]) -> bool {
    msg.starts_with(b"OK")
}

/// One chunk of keyboard input, split at the escape byte: what to send before it, and whether
/// the escape was typed (the rest is dropped: the user is leaving).
pub fn split_escape(chunk: &[u8]) -> (&[u8], bool) {
    match chunk.iter().position(|&b| b == ESCAPE) {
        Some(i) => (&chunk[..i], true),
        None => (chunk, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_are_as_termproxy_reads_them() {
        assert_eq!(input_frame(b"ls\r"), b"0:3:ls\r");
        assert_eq!(input_frame(b""), b"0:0:");
        // The length counts bytes, not characters.
        assert_eq!(input_frame("é".as_bytes()), b"0:2:\xc3\xa9");
        assert_eq!(input_frame(b"a:b"), b"0:3:a:b");
        assert_eq!(resize_frame(80, 24), b"1:80:24:");
        assert_eq!(resize_frame(0, 65535), b"1:0:65535:");
        assert_eq!(KEEPALIVE, b"2");
        let t = Secret::new("PVEVNC:6500::sig");
        assert_eq!(auth_line("root@pam", &t), b"root@pam:PVEVNC:6500::sig\n");
    }

    #[test]
    fn ctrl_bracket_splits_the_input() {
        assert_eq!(split_escape(b"abc"), (&b"abc"[..], false));
        assert_eq!(split_escape(b"ab\x1dcd"), (&b"ab"[..], true));
        assert_eq!(split_escape(b"\x1d"), (&b""[..], true));
        assert_eq!(split_escape(b""), (&b""[..], false));
    }

    #[test]
    fn ok_answer() {
        assert!(is_ok_answer(b"OK"));
        assert!(!is_ok_answer(b"NO"));
        assert!(!is_ok_answer(b""));
    }

    #[test]
    fn reads_the_answer_and_keeps_the_ticket_secret() {
        let data = json!({"port": 5900, "ticket": "PVEVNC:ABC::sig", "user": "root@pam",
            "upid": "UPID:pve1:00001234:01000000:65000000:vncproxy:101:root@pam:"});
        let t = TermproxyTicket::from_data("/p", &data).unwrap();
        assert_eq!(t.port, 5900);
        assert_eq!(t.user, "root@pam");
        assert_eq!(t.ticket.expose(), "PVEVNC:ABC::sig");
        assert!(t.upid.as_deref().unwrap().contains("vncproxy"));
        assert!(!format!("{t:?}").contains("sig"));
        let s =
            TermproxyTicket::from_data("/p", &json!({"port": "5901", "ticket": "T", "user": "u"}))
                .unwrap();
        assert_eq!(s.port, 5901);
        for bad in [
            json!({"ticket": "T", "user": "u"}),
            json!({"port": 70000, "ticket": "T", "user": "u"}),
            json!({"port": 5900, "user": "u"}),
            json!({"port": 5900, "ticket": "", "user": "u"}),
            json!({"port": 5900, "ticket": "T"}),
            json!(null),
        ] {
            let e = TermproxyTicket::from_data("/p", &bad).unwrap_err();
            assert!(matches!(e, ApiError::Decode { .. }), "{bad}: {e}");
        }
    }
}
