//! Rendering values for people: tables sized to the terminal, key/value views, colours.
//!
//! Owns how a [`Value`](crate::lang::Value) looks on a terminal. It never decides *what* to show
//! (commands do) and never does IO: it returns strings; `cli` and `shell` write them. Colours are
//! used only when [`Style::color`] is set, which `cli` decides from the terminal and `NO_COLOR`.

pub mod dashboard;
pub mod pager;
pub mod progress;
mod table;
pub mod transfer;
pub mod wrap;

pub use table::{render_guests, render_records, render_value};

/// How to render: the width tables fit, whether a value may be shortened to fit, and whether
/// colours are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// The width tables fit; [`Style::UNLIMITED`] when nothing asks for one (output that is not
    /// a terminal, without `COLUMNS`).
    pub width: usize,
    pub color: bool,
    /// Whether a cell may be shortened with `…` to fit (on a terminal). Output that is not a
    /// terminal keeps every value whole: a table fitted to `COLUMNS` there only drops columns.
    pub shorten: bool,
    /// Whether output taller than the screen may go through a pager ([`pager`]): standard output
    /// is a terminal and `--no-pager` was not given.
    pub pager: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            width: 120,
            color: false,
            shorten: true,
            pager: false,
        }
    }
}

/// The narrowest width a table is fitted to.
const MIN_WIDTH: usize = 20;

impl Style {
    /// No width limit: tables keep every column and every value whole.
    pub const UNLIMITED: usize = usize::MAX;

    /// The style for standard output: colours only on a terminal and without `NO_COLOR`; the
    /// width as [`fit_width`] decides it from the terminal and `COLUMNS`.
    pub fn detect() -> Style {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let size = if tty {
            terminal_size().map(|(w, _)| w)
        } else {
            None
        };
        let (width, shorten) = fit_width(tty, size, std::env::var("COLUMNS").ok().as_deref());
        Style {
            width,
            color: tty && !no_color,
            shorten,
            pager: tty,
        }
    }

    /// The same style with the width read again (the terminal may have been resized).
    pub fn refreshed(self) -> Style {
        Style {
            color: self.color,
            pager: self.pager,
            ..Style::detect()
        }
    }
}

/// The width tables fit, and whether values may be shortened, from where output goes: on a
/// terminal its width (else `COLUMNS`, else 80), shortening allowed; elsewhere `COLUMNS` when
/// set, else no limit, and values are never shortened.
pub fn fit_width(tty: bool, terminal: Option<usize>, columns: Option<&str>) -> (usize, bool) {
    let env = columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0);
    if tty {
        let w = terminal.filter(|w| *w > 0).or(env).unwrap_or(80);
        (w.max(MIN_WIDTH), true)
    } else {
        (env.map_or(Style::UNLIMITED, |w| w.max(MIN_WIDTH)), false)
    }
}

/// The terminal's size (columns, rows) when standard output is one.
pub fn terminal_size() -> Option<(usize, usize)> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(w, h)| (w as usize, h as usize))
        .filter(|(w, h)| *w > 0 && *h > 0)
}

/// Paints a status word: running green, stopped/offline red, paused/suspended yellow.
pub fn paint_status(text: &str, style: Style) -> String {
    if !style.color {
        return text.to_string();
    }
    use nu_ansi_term::Color;
    match text {
        "running" | "online" | "available" | "OK" | "active" => {
            Color::Green.paint(text).to_string()
        }
        "stopped" | "offline" | "error" | "unknown" => Color::Red.paint(text).to_string(),
        "paused" | "suspended" | "prelaunch" => Color::Yellow.paint(text).to_string(),
        _ => text.to_string(),
    }
}
