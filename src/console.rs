//! A console session on this terminal: the keyboard and screen joined to a termproxy websocket
//! (`api::termproxy` has the protocol), until Ctrl-] or the far end closes.
//!
//! The terminal is put in raw mode for the session and restored on every way out (a guard
//! whose `Drop` runs on errors and panics too). Keyboard bytes are read on a thread that polls
//! stdin and stops when the session ends, so it never takes a key meant for the shell after
//! it. Window changes (SIGWINCH) are sent as resize frames, and a keepalive every 30 s.
//!
//! Besides `cli`, `output`, `shell`, `render` and the wizard's prompter, this is the one module
//! that touches the terminal. It imports only `api` and `secret`, and never prints the ticket.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::api::WebSocket;
use crate::api::termproxy::{
    KEEPALIVE, KEEPALIVE_EVERY, auth_line, input_frame, is_ok_answer, resize_frame, split_escape,
};
use crate::secret::Secret;

/// True when stdin and stdout are both a terminal: a console needs one.
pub fn has_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The user pressed Ctrl-].
    Left,
    /// The far end closed the connection (the guest's console went away, or it never attached).
    Closed,
    /// The keyboard reached end of file.
    InputClosed,
}

/// The terminal in raw mode while this lives.
struct RawMode;

impl RawMode {
    fn enable() -> Result<RawMode, String> {
        crossterm::terminal::enable_raw_mode()
            .map(|()| RawMode)
            .map_err(|e| format!("cannot put the terminal in raw mode: {e}"))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Reads the keyboard on a thread until told to stop; chunks arrive on the channel, an empty
/// one at end of file.
struct Keyboard {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    rx: mpsc::Receiver<Vec<u8>>,
}

impl Keyboard {
    fn start() -> Keyboard {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel(64);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let stdin = std::io::stdin();
            let tick = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            let mut buf = [0u8; 4096];
            while !flag.load(Ordering::Relaxed) {
                let fd = stdin.as_fd();
                let mut fds = [rustix::event::PollFd::new(
                    &fd,
                    rustix::event::PollFlags::IN,
                )];
                match rustix::event::poll(&mut fds, Some(&tick)) {
                    Ok(0) => continue,
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(_) => break,
                }
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                // Straight from the descriptor: std's buffered stdin could keep bytes back from
                // the poll, or hold them past the session, away from the shell.
                match rustix::io::read(fd, &mut buf) {
                    Ok(0) => {
                        let _ = tx.blocking_send(Vec::new());
                        break;
                    }
                    Ok(n) => {
                        if tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
                    Err(_) => break,
                }
            }
        });
        Keyboard {
            stop,
            thread: Some(thread),
            rx,
        }
    }
}

impl Drop for Keyboard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.rx.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn size() -> Option<(u16, u16)> {
    crossterm::terminal::size()
        .ok()
        .filter(|(c, r)| *c > 0 && *r > 0)
}

fn show(out: &mut impl Write, bytes: &[u8]) -> Result<(), String> {
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to the terminal: {e}"))
}

fn send_err(e: tokio_tungstenite::tungstenite::Error) -> String {
    format!("the console connection failed: {e}")
}

/// Logs in to the termproxy on `ws` as `user` with `ticket`, then joins it to the terminal
/// until the session ends. `Err` says what failed (never with the ticket in it).
pub async fn attach(mut ws: WebSocket, user: &str, ticket: &Secret) -> Result<Ended, String> {
    ws.send(Message::binary(auth_line(user, ticket)))
        .await
        .map_err(send_err)?;
    let first = match ws.next().await {
        Some(Ok(Message::Binary(b))) => b.to_vec(),
        Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
        Some(Ok(_)) | None => Vec::new(),
        Some(Err(e)) => return Err(send_err(e)),
    };
    if !is_ok_answer(&first) {
        return Err(
            "the console refused the ticket (it may have expired: termproxy waits only 10 s)"
                .into(),
        );
    }
    let mut stdout = std::io::stdout();
    let raw = RawMode::enable()?;
    let result = session(&mut ws, &mut stdout, &first[2..]).await;
    drop(raw);
    let _ = ws.close(None).await;
    result
}

async fn session(
    ws: &mut WebSocket,
    stdout: &mut std::io::Stdout,
    pending: &[u8],
) -> Result<Ended, String> {
    if !pending.is_empty() {
        show(stdout, pending)?;
    }
    let mut keyboard = Keyboard::start();
    if let Some((cols, rows)) = size() {
        ws.send(Message::binary(resize_frame(cols, rows)))
            .await
            .map_err(send_err)?;
    }
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .map_err(|e| format!("cannot watch the window size: {e}"))?;
    let mut keepalive = tokio::time::interval_at(
        tokio::time::Instant::now() + KEEPALIVE_EVERY,
        KEEPALIVE_EVERY,
    );
    loop {
        tokio::select! {
            chunk = keyboard.rx.recv() => {
                let Some(chunk) = chunk.filter(|c| !c.is_empty()) else {
                    return Ok(Ended::InputClosed);
                };
                let (send, leave) = split_escape(&chunk);
                if !send.is_empty() {
                    ws.send(Message::binary(input_frame(send))).await.map_err(send_err)?;
                }
                if leave {
                    return Ok(Ended::Left);
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(b))) => show(stdout, &b)?,
                Some(Ok(Message::Text(t))) => show(stdout, t.as_bytes())?,
                Some(Ok(Message::Close(_))) | None => return Ok(Ended::Closed),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(send_err(e)),
            },
            _ = winch.recv() => {
                if let Some((cols, rows)) = size() {
                    ws.send(Message::binary(resize_frame(cols, rows))).await.map_err(send_err)?;
                }
            }
            _ = keepalive.tick() => {
                ws.send(Message::binary(KEEPALIVE.to_vec())).await.map_err(send_err)?;
            }
        }
    }
}
