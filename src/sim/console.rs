//! The far end of a console: what termproxy and `qm terminal` (or the container's console) do
//! once `sim::server` has upgraded a `vncwebsocket` request (FEATURE-FACTS §4(b)).
//!
//! The first message must be `USER:TICKET\n` for the session's user and ticket; termproxy
//! answers `OK`, or closes the connection. Then a fake serial console: a stopped guest, or a VM
//! without the serial port, gets `qm terminal`'s error and the end of the session; otherwise a
//! Debian login banner, and every input byte echoed back (CR as CRLF). Client frames are
//! decoded here from their bytes (`0:LEN:DATA`, `1:COLS:ROWS:`, `2`), independently of the
//! client's encoder. The `vncproxy` task runs while a client is connected and ends with it.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::clock::Clock;
use super::state::{GuestKind, State};
use super::{Shared, lock_shared};

/// The ports termproxy may listen on.
pub const FIRST_PORT: u16 = 5900;
pub const LAST_PORT: u16 = 5999;

/// One `termproxy` handed out by `POST .../termproxy`.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub port: u16,
    pub ticket: String,
    /// The user (or token) the ticket is for.
    pub user: String,
    pub vmid: u32,
    pub node: String,
    pub kind: GuestKind,
    /// The serial port asked for (or taken from `vga`), QEMU only.
    pub serial: Option<String>,
    /// Its `vncproxy` task.
    pub upid: String,
    /// A client got through the ticket check.
    pub connected: bool,
    /// The bytes typed (decoded from input frames), for tests.
    pub input: Vec<u8>,
    /// The window sizes received, `(cols, rows)`.
    pub sizes: Vec<(u16, u16)>,
    pub keepalives: u32,
}

impl ConsoleSession {
    /// True while its `vncproxy` task runs (termproxy waits 10 s for a client, then exits).
    pub fn open(&self, state: &State) -> bool {
        state
            .tasks
            .iter()
            .any(|t| t.upid == self.upid && t.finished.is_none())
    }
}

/// A frame a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Input(Vec<u8>),
    Resize(u16, u16),
    Keepalive,
}

/// Takes the complete frames off the front of `buf`; `Err` on bytes that are no frame.
pub fn decode_frames(buf: &mut Vec<u8>) -> Result<Vec<Frame>, String> {
    let mut out = Vec::new();
    loop {
        let Some(&first) = buf.first() else {
            return Ok(out);
        };
        let field = |from: usize| -> Option<(usize, usize)> {
            let end = buf[from..].iter().position(|&b| b == b':')? + from;
            Some((from, end))
        };
        let number = |(from, end): (usize, usize)| -> Result<u64, String> {
            std::str::from_utf8(&buf[from..end])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| "a frame has a bad number".to_string())
        };
        match first {
            b'2' => {
                buf.remove(0);
                out.push(Frame::Keepalive);
            }
            b'0' | b'1' if buf.len() < 2 => return Ok(out),
            b'0' | b'1' if buf[1] != b':' => return Err("a frame lacks its ':'".into()),
            b'0' => {
                let Some(len) = field(2) else { return Ok(out) };
                let n = usize::try_from(number(len)?).map_err(|e| e.to_string())?;
                let start = len.1 + 1;
                if buf.len() < start + n {
                    return Ok(out);
                }
                let data: Vec<u8> = buf.drain(..start + n).skip(start).collect();
                out.push(Frame::Input(data));
            }
            b'1' => {
                let Some(cols) = field(2) else { return Ok(out) };
                let Some(rows) = field(cols.1 + 1) else {
                    return Ok(out);
                };
                let c = u16::try_from(number(cols)?).map_err(|e| e.to_string())?;
                let r = u16::try_from(number(rows)?).map_err(|e| e.to_string())?;
                buf.drain(..=rows.1);
                out.push(Frame::Resize(c, r));
            }
            other => return Err(format!("unknown frame type {:?}", char::from(other))),
        }
    }
}

/// Echoes typed bytes the way a tty in cooked mode shows them: CR as CRLF.
pub fn echo(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        if b == b'\r' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b);
        }
    }
    out
}

/// Handles to the simulator that a session needs.
pub(crate) struct Env {
    pub(crate) shared: Arc<Mutex<Shared>>,
    pub(crate) clock: Arc<Clock>,
    pub(crate) answered: Arc<tokio::sync::watch::Sender<usize>>,
}

impl Env {
    /// Runs `f` on the session on `port` (open or not) and wakes the state waiters.
    fn update<R>(
        &self,
        port: u16,
        upid: &str,
        f: impl FnOnce(&mut State, usize) -> R,
    ) -> Option<R> {
        let r = {
            let mut shared = lock_shared(&self.shared);
            let state = &mut shared.state;
            let i = state
                .consoles
                .iter()
                .position(|s| s.port == port && s.upid == upid)?;
            Some(f(state, i))
        };
        self.answered.send_modify(|_| {});
        r
    }

    /// Ends the session's `vncproxy` task now.
    fn end_task(&self, upid: &str, error: Option<&str>) {
        let now = self.clock.now_f64();
        let mut shared = lock_shared(&self.shared);
        let state = &mut shared.state;
        if let Some(i) = state
            .tasks
            .iter()
            .position(|t| t.upid == upid && t.finished.is_none())
        {
            match error {
                Some(e) => state.finish_task(i, Some((e, now))),
                None => {
                    if let Some(t) = state.tasks.get_mut(i) {
                        t.end_f = now.max(t.start_f);
                    }
                    state.finish_task(i, None);
                }
            }
        }
        drop(shared);
        self.answered.send_modify(|_| {});
    }
}

/// Serves one upgraded `vncwebsocket` connection for the session on `port`.
pub(crate) async fn serve<S>(mut ws: WebSocketStream<S>, env: Env, port: u16)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let found = {
        let shared = lock_shared(&env.shared);
        shared
            .state
            .consoles
            .iter()
            .rev()
            .find(|s| s.port == port && s.open(&shared.state))
            .cloned()
    };
    let Some(session) = found else {
        let _ = ws.close(None).await;
        return;
    };
    let upid = session.upid.clone();
    // termproxy reads the ticket line first; a wrong one ends it.
    let expected = format!("{}:{}\n", session.user, session.ticket);
    let first = match ws.next().await {
        Some(Ok(Message::Binary(b))) => b.to_vec(),
        Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
        _ => Vec::new(),
    };
    if first != expected.as_bytes() {
        let _ = ws.close(None).await;
        env.end_task(&upid, Some("authentication failed"));
        return;
    }
    // Connected: the task now lasts until the client leaves.
    let ok = env.update(port, &upid, |state, i| {
        state.consoles[i].connected = true;
        if let Some(t) = state.tasks.iter_mut().find(|t| t.upid == upid) {
            t.end_f = f64::INFINITY;
        }
    });
    if ok.is_none() || ws.send(Message::binary(b"OK".to_vec())).await.is_err() {
        env.end_task(&upid, None);
        return;
    }
    let greeting = {
        let shared = lock_shared(&env.shared);
        greeting(&shared.state, &session)
    };
    match greeting {
        Err(text) => {
            let _ = ws.send(Message::binary(text.into_bytes())).await;
            let _ = ws.close(None).await;
            env.end_task(&upid, None);
            return;
        }
        Ok(banner) => {
            if ws.send(Message::binary(banner.into_bytes())).await.is_err() {
                env.end_task(&upid, None);
                return;
            }
        }
    }
    let mut buf = Vec::new();
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Binary(b) => buf.extend_from_slice(&b),
            Message::Text(t) => buf.extend_from_slice(t.as_bytes()),
            Message::Close(_) => break,
            _ => continue,
        }
        let frames = match decode_frames(&mut buf) {
            Ok(f) => f,
            Err(_) => break,
        };
        let mut reply = Vec::new();
        for f in frames {
            if let Frame::Input(data) = &f {
                reply.extend(echo(data));
            }
            env.update(port, &upid, |state, i| {
                let s = &mut state.consoles[i];
                match f {
                    Frame::Input(data) => s.input.extend(data),
                    Frame::Resize(c, r) => s.sizes.push((c, r)),
                    Frame::Keepalive => s.keepalives += 1,
                }
            });
        }
        if !reply.is_empty() && ws.send(Message::binary(reply)).await.is_err() {
            break;
        }
    }
    env.end_task(&upid, None);
}

/// The login banner, or what `qm terminal` says when it cannot attach (FEATURE-FACTS §4(b)).
fn greeting(state: &State, s: &ConsoleSession) -> Result<String, String> {
    let Some(g) = state.guests.get(&s.vmid) else {
        return Err(format!("{} {} does not exist\r\n", s.kind.short(), s.vmid));
    };
    if !g.is_running() {
        return Err(format!("{} {} not running\r\n", s.kind.short(), s.vmid));
    }
    let tty = match s.kind {
        GuestKind::Lxc => "tty1",
        GuestKind::Qemu => {
            let socket = |k: &str| g.cfg(k) == Some("socket");
            match &s.serial {
                Some(iface) if g.cfg(iface).is_none() => {
                    return Err(format!("serial interface '{iface}' is not configured\r\n"));
                }
                Some(iface) if !socket(iface) => {
                    return Err(format!("wrong serial type on interface '{iface}'\r\n"));
                }
                Some(_) => "ttyS0",
                None if (0..4).any(|n| socket(&format!("serial{n}"))) => "ttyS0",
                None => return Err("unable to find a serial interface\r\n".into()),
            }
        }
    };
    let name = g.name();
    Ok(format!(
        "\r\nDebian GNU/Linux 12 {name} {tty}\r\n\r\n{name} login: "
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_across_messages() {
        let mut buf = b"0:3:ab".to_vec();
        assert_eq!(decode_frames(&mut buf).unwrap(), []);
        buf.extend_from_slice(b"c21:80:2");
        assert_eq!(
            decode_frames(&mut buf).unwrap(),
            [Frame::Input(b"abc".to_vec()), Frame::Keepalive]
        );
        buf.extend_from_slice(b"4:0:2:\xc3\xa9");
        assert_eq!(
            decode_frames(&mut buf).unwrap(),
            [Frame::Resize(80, 24), Frame::Input("é".as_bytes().to_vec())]
        );
        assert!(buf.is_empty());
        // Colons inside the data are data.
        let mut buf = b"0:3:a:b".to_vec();
        assert_eq!(
            decode_frames(&mut buf).unwrap(),
            [Frame::Input(b"a:b".to_vec())]
        );
    }

    #[test]
    fn refuses_what_is_no_frame() {
        for bad in [&b"x"[..], b"0x", b"0:zz:", b"1:80:99999:", b"1:-1:2:"] {
            let mut buf = bad.to_vec();
            assert!(decode_frames(&mut buf).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn echoes_cr_as_crlf() {
        assert_eq!(echo(b"root\r"), b"root\r\n");
        assert_eq!(echo(b"a\nb"), b"a\nb");
    }
}
