//! Running one line and printing what it gives: its output in the session's format on stdout,
//! its error (with hints) on stderr, and the exit code. Used by `cli` (`-c`, `-f`, stdin) and by
//! `shell` (each line of the interactive session), so neither imports the other for it.
//!
//! Formatting is pure ([`format_output`]); only [`run_and_print`] and [`print_error`] write to
//! the terminal.

use crate::commands::{Output, check_confirm_window, run_line};
use crate::error::{Error, ErrorKind, exit};
use crate::lang::Value;
use crate::render::{Style, render_value};
use crate::session::{Ctx, OutputFormat};

/// Runs one line, prints its output or its error, and returns the exit code. A line of several
/// pipelines (`ls; nodes`, see [`crate::lang::statements`]) runs them in turn and stops at the
/// first that fails, returning its code. Ctrl-C cancels the line: its requests and task waits
/// are dropped, and the code is 130.
pub async fn run_and_print(ctx: &mut Ctx, line: &str, style: Style, location: Option<&str>) -> i32 {
    let statements = crate::lang::statements(line);
    if statements.len() <= 1 {
        let one = statements.first().map_or(line, |s| &line[s.start..s.end]);
        return run_one(ctx, one, style, location).await;
    }
    for span in statements {
        let code = run_one(ctx, line[span.start..span.end].trim(), style, location).await;
        if code != exit::OK {
            return code;
        }
    }
    exit::OK
}

async fn run_one(ctx: &mut Ctx, line: &str, style: Style, location: Option<&str>) -> i32 {
    check_confirm_window(ctx).await;
    // A command that stops gracefully (commit) sets `graceful`: the first Ctrl-C then only
    // cancels its token (no new actions start) and the second one drops the line.
    let cancel = tokio_util::sync::CancellationToken::new();
    ctx.staging.cancel = cancel.clone();
    let graceful = ctx.staging.graceful.clone();
    graceful.store(false, std::sync::atomic::Ordering::Relaxed);
    let result = {
        let work = run_line(ctx, line);
        tokio::pin!(work);
        loop {
            tokio::select! {
                r = &mut work => break r,
                _ = tokio::signal::ctrl_c() => {
                    if graceful.load(std::sync::atomic::Ordering::Relaxed) && !cancel.is_cancelled() {
                        eprintln!("interrupt: no new actions will start; waiting for the running ones (Ctrl-C again to stop waiting)");
                        cancel.cancel();
                        continue;
                    }
                    break Err(Error::new(ErrorKind::Interrupted, "interrupted"));
                }
            }
        }
    };
    let format = ctx.format;
    match result {
        Ok(out) if out.live.is_some() && live_terminal() => match run_live(ctx).await {
            Ok(()) => exit::OK,
            Err(e) => {
                print_error_as(&e, location, format);
                e.exit_code()
            }
        },
        Ok(out) if out.handoff.is_some() => {
            let argv = out.handoff.unwrap_or_default();
            hand_off(&argv, location)
        }
        Ok(out) => {
            if streams_json(&out, ctx.format, style) {
                use std::io::Write;
                let mut stdout =
                    std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
                let _ = write_json(&out, &mut stdout);
                let _ = stdout.flush();
            } else {
                let text = format_output(&out, ctx.format, style);
                crate::render::pager::show(&text, style.pager);
            }
            if let Some(e) = &out.failure {
                print_error_as(e, location, format);
            }
            match &out.failure {
                _ if cancel.is_cancelled() => exit::INTERRUPTED,
                Some(e) => e.exit_code(),
                None => exit::OK,
            }
        }
        Err(e) => {
            print_error_as(&e, location, format);
            e.exit_code()
        }
    }
}

/// True when a live screen can run: stdin and stdout are both a terminal.
fn live_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// How often the live dashboard refreshes its inventory and redraws.
const LIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The terminal of a live screen: raw mode and the alternate screen while this lives, restored
/// on every way out (its `Drop` runs on errors, Ctrl-C and panics too).
struct LiveScreen;

impl LiveScreen {
    fn enter() -> Result<LiveScreen, Error> {
        let fail = |e: std::io::Error| {
            Error::new(
                ErrorKind::Usage,
                format!("cannot take over the terminal: {e}"),
            )
        };
        crossterm::terminal::enable_raw_mode().map_err(fail)?;
        let screen = LiveScreen;
        crossterm::execute!(
            std::io::stdout(),
            crossterm::terminal::EnterAlternateScreen,
            crossterm::cursor::Hide
        )
        .map_err(fail)?;
        Ok(screen)
    }
}

impl Drop for LiveScreen {
    fn drop(&mut self) {
        let _ = crossterm::execute!(
            std::io::stdout(),
            crossterm::cursor::Show,
            crossterm::terminal::LeaveAlternateScreen
        );
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// What the keyboard asked for while the screen waits.
enum Key {
    Quit,
    Redraw,
    Refresh,
    Nothing,
}

/// Waits up to `slice` for a key: `q`, Esc or Ctrl-C quit; `r` refreshes now; a resize redraws.
fn read_key(slice: std::time::Duration) -> Key {
    use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, poll, read};
    if !poll(slice).unwrap_or(false) {
        return Key::Nothing;
    }
    match read() {
        Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => match k.code {
            KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc => Key::Quit,
            KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::Quit,
            KeyCode::Char('r') | KeyCode::Char('R') => Key::Refresh,
            _ => Key::Nothing,
        },
        Ok(Event::Resize(..)) => Key::Redraw,
        Ok(_) => Key::Nothing,
        Err(_) => Key::Quit,
    }
}

/// The live dashboard: a fresh inventory and a redraw every [`LIVE_EVERY`] until `q` or Esc.
/// A failed refresh keeps the last numbers and says why on the last row.
async fn run_live(ctx: &mut Ctx) -> Result<(), Error> {
    use ratatui::widgets::Widget;
    let _screen = LiveScreen::enter()?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut terminal = ratatui::Terminal::new(backend)
        .map_err(|e| Error::new(ErrorKind::Usage, format!("cannot draw: {e}")))?;
    let mut last = None;
    loop {
        let problem = match crate::commands::dashboard_numbers(ctx).await {
            Ok(d) => {
                last = Some(d);
                None
            }
            Err(e) => Some(e.message),
        };
        loop {
            let drawn = terminal.draw(|f| {
                let area = f.area();
                if let Some(d) = &last {
                    crate::render::dashboard::draw(d, area, f.buffer_mut());
                }
                let status = match &problem {
                    Some(p) => format!("refresh failed: {p}"),
                    None => "q or Esc quits; r refreshes (and every 2 s)".to_string(),
                };
                if area.height > 0 {
                    let row = ratatui::layout::Rect::new(area.x, area.bottom() - 1, area.width, 1);
                    ratatui::widgets::Paragraph::new(status).render(row, f.buffer_mut());
                }
            });
            drawn.map_err(|e| Error::new(ErrorKind::Usage, format!("cannot draw: {e}")))?;
            let deadline = std::time::Instant::now() + LIVE_EVERY;
            let mut redraw = false;
            while std::time::Instant::now() < deadline {
                // A short blocking poll: the runtime's other workers serve the requests meanwhile.
                match read_key(std::time::Duration::from_millis(50)) {
                    Key::Quit => return Ok(()),
                    Key::Redraw => {
                        redraw = true;
                        break;
                    }
                    Key::Refresh => break,
                    Key::Nothing => {}
                }
            }
            if !redraw {
                break;
            }
        }
    }
}

/// Runs `argv` on the terminal (stdin, stdout and stderr inherited) and returns its exit code:
/// `ssh` hands the session to the system's ssh client this way, and comes back after.
fn hand_off(argv: &[String], location: Option<&str>) -> i32 {
    let Some((program, args)) = argv.split_first() else {
        return exit::OK;
    };
    match std::process::Command::new(program).args(args).status() {
        Ok(status) => status.code().unwrap_or(exit::INTERRUPTED),
        Err(e) => {
            let err = Error::new(ErrorKind::Usage, format!("cannot run {program}: {e}"))
                .hinted("is it installed and on PATH? (ssh: `apt install openssh-client`)");
            print_error(&err, location);
            err.exit_code()
        }
    }
}

/// Prints an error to stderr: `LOCATION: error: first line`, the other lines, then its hints.
/// On a terminal, lines wider than it are wrapped at words, unless a caret points into the
/// source line.
pub fn print_error(e: &Error, location: Option<&str>) {
    let text = error_text(e, location);
    match crate::render::wrap::stderr_width() {
        Some(w) if !e.message.lines().any(|l| l.trim_start().starts_with('^')) => {
            eprint!("{}", crate::render::wrap::lines(&text, w));
        }
        _ => eprint!("{text}"),
    }
}

/// Prints an error the way the session's format wants it: with `--json` (`-o json`) one JSON
/// object on stdout ([`Error::to_json`], one line), else the text on stderr.
pub fn print_error_as(e: &Error, location: Option<&str>, format: OutputFormat) {
    if format == OutputFormat::Json {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{}", e.to_json(location));
        let _ = out.flush();
    } else {
        print_error(e, location);
    }
}

/// The text [`print_error`] prints. An error with a caret (parse errors, unknown commands and
/// flags) has the source line and a caret line under it as its message
/// (`lang::ParseError::render`); the source line follows the `LOCATION: error: ` prefix, so the
/// caret line is indented by that prefix's width to stay under the bad spot.
pub fn error_text(e: &Error, location: Option<&str>) -> String {
    let prefix = match location {
        Some(l) => format!("{l}: error: "),
        None => "error: ".to_string(),
    };
    let mut lines = e.message.lines();
    let first = lines.next().unwrap_or_default();
    let mut text = format!("{prefix}{first}\n");
    for (i, line) in lines.enumerate() {
        if i == 0 && line.trim_start().starts_with('^') {
            let width = unicode_width::UnicodeWidthStr::width(prefix.as_str());
            text.push_str(&" ".repeat(width));
        }
        text.push_str(line);
        text.push('\n');
    }
    for hint in &e.hints {
        text.push_str(&format!("  hint: {hint}\n"));
    }
    text
}

/// The text for a line's output in the chosen format.
pub fn format_output(out: &Output, format: OutputFormat, style: Style) -> String {
    if out.raw {
        return out.value.display();
    }
    if let Some(guests) = &out.guests {
        return match format {
            OutputFormat::Table => {
                let columns: Vec<String> = match &out.columns {
                    Some(cols) => cols.clone(),
                    None => crate::inventory::Guest::FIELDS
                        .iter()
                        .map(|f| f.to_string())
                        .collect(),
                };
                crate::render::render_guests(guests, &columns, style, out.empty)
            }
            OutputFormat::Json => {
                let mut text = Vec::new();
                let _ = write_json(out, &mut text);
                String::from_utf8(text).unwrap_or_default()
            }
            _ => {
                let mut records = out.clone();
                records.value = records.take_value();
                format_output(&records, format, style)
            }
        };
    }
    if matches!(out.value, Value::Null) {
        return String::new();
    }
    let as_list = || match &out.value {
        Value::List(items) => items.clone(),
        other => vec![other.clone()],
    };
    match format {
        OutputFormat::Json => {
            let mut text = Vec::new();
            let _ = write_json(out, &mut text);
            String::from_utf8(text).unwrap_or_default()
        }
        OutputFormat::Yaml => crate::lang::to_yaml(&as_list()).unwrap_or_else(|e| format!("{e}\n")),
        OutputFormat::Csv => crate::lang::to_csv(&as_list()),
        OutputFormat::Md => crate::lang::to_md(&as_list()),
        OutputFormat::Table => {
            let shown = match (&out.columns, &out.value) {
                (Some(cols), Value::List(items)) => Value::List(
                    items
                        .iter()
                        .map(|item| match item {
                            Value::Record(r) => Value::Record(
                                cols.iter()
                                    .filter_map(|c| r.get(c).map(|v| (c.clone(), v.clone())))
                                    .collect(),
                            ),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                (_, Value::Record(r)) if !out.hidden.is_empty() => Value::Record(
                    r.iter()
                        .filter(|(k, _)| !out.hidden.iter().any(|h| h == k))
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect(),
                ),
                _ => out.value.clone(),
            };
            render_value(&shown, style, out.empty)
        }
    }
}

/// Writes the output as pretty JSON and a newline, streaming: records and guests are written
/// as they are read, never built into a JSON tree or a string first.
pub fn write_json(out: &Output, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    match &out.guests {
        Some(guests) => serde_json::to_writer_pretty(&mut *w, guests)?,
        None => serde_json::to_writer_pretty(&mut *w, &out.value)?,
    }
    w.write_all(b"\n")
}

/// True when the output goes to standard output as JSON written as it is produced: `--json`,
/// and no pager to fill first.
fn streams_json(out: &Output, format: OutputFormat, style: Style) -> bool {
    format == OutputFormat::Json
        && !style.pager
        && !out.raw
        && (out.guests.is_some() || !matches!(out.value, Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_carets_stay_under_the_bad_spot_after_the_prefix() {
        let line = "ls | where mem >";
        let e = crate::lang::parse_filter_in(line, crate::lang::Span::new(11, 16)).unwrap_err();
        let err = Error::new(ErrorKind::Parse, e.render(line));
        for location in [None, Some("script.pve:1")] {
            let text = error_text(&err, location);
            let mut lines = text.lines();
            let source = lines.next().unwrap();
            let caret = lines.next().unwrap();
            let at = |s: &str, needle: char| s.find(needle).unwrap();
            // The caret sits under the '>' that lacks its value.
            assert_eq!(at(caret, '^'), at(source, '>'), "{text}");
        }
    }
}
