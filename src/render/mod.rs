//! Rendering values for people: tables sized to the terminal, key/value views, colours.
//!
//! Owns how a [`Value`](crate::lang::Value) looks on a terminal. It never decides *what* to show
//! (commands do) and never does IO: it returns strings; `cli` and `shell` write them. Colours are
//! used only when [`Style::color`] is set, which `cli` decides from the terminal and `NO_COLOR`.

pub mod dashboard;
mod table;
pub mod transfer;

pub use table::{render_records, render_value};

/// How to render: the terminal width and whether colours are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub width: usize,
    pub color: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            width: 120,
            color: false,
        }
    }
}

impl Style {
    /// The style for standard output: colours only on a terminal and without `NO_COLOR`; width
    /// from the terminal, else `COLUMNS`, else 120.
    pub fn detect() -> Style {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let width = terminal_width().unwrap_or(120).max(40);
        Style {
            width,
            color: tty && !no_color,
        }
    }
}

fn terminal_width() -> Option<usize> {
    if let Some((w, _)) = crossterm_size() {
        return Some(w);
    }
    std::env::var("COLUMNS").ok()?.trim().parse().ok()
}

fn crossterm_size() -> Option<(usize, usize)> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(w, h)| (w as usize, h as usize))
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
