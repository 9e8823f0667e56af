//! Progress of long work (a download, a migration, a backup, an upload): a bar on a terminal,
//! plain lines elsewhere. The one place that draws progress.
//!
//! A [`Bar`] has a label and counts in bytes or in percent ([`Unit`]): set its total and
//! position (or a percentage, or a task log line's progress with [`Bar::update`]), then
//! [`Bar::finish`] it with a message. On a terminal (stderr, once the CLI has called
//! [`use_terminal`]) it is an `indicatif` bar; otherwise it writes a plain line at each tenth of
//! the way (`download x.qcow2: 30% (101.4 MiB of 338.0 MiB)`) and its message at the end, to
//! the sink given (standard error by default), so logs and tests read the same words.
//!
//! Everything else written to standard error while bars are drawn goes through [`note`], which
//! prints above them. [`task_bars`] gives the staging executor a sink for its tasks' progress:
//! a bar per task while it copies data, removed when the task ends.
//!
//! ```no_run
//! use pvesh_plus::render::progress::{Bar, Unit};
//! let mut bar = Bar::new("upload debian.iso", Unit::Bytes);
//! bar.set_total(4 << 30);
//! bar.set_position(1 << 30);
//! bar.finish("uploaded debian.iso (4.0 GiB)");
//! ```

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::api::LogProgress;
use crate::lang::format_size;

/// What a bar counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes: positions and totals are byte counts (an upload, a download).
    Bytes,
    /// A percentage (0 to 100), with the bytes shown when known (a task's log says).
    Percent,
}

/// Plain lines come at each tenth of the way.
const PLAIN_STEP: f64 = 10.0;
/// The resolution of a percentage bar: hundredths of a percent.
const PERCENT_SCALE: u64 = 10_000;
/// The longest label a terminal bar shows (it keeps the bar itself on one 80-column line).
const LABEL_MAX: usize = 36;

static TERMINAL: AtomicBool = AtomicBool::new(false);

/// Lets bars draw on standard error when it is a terminal (the CLI calls this once); returns
/// whether they will. Without it (the library, tests) every bar writes plain lines.
pub fn use_terminal() -> bool {
    let on = std::io::stderr().is_terminal();
    TERMINAL.store(on, Ordering::Relaxed);
    on
}

/// Whether bars draw on the terminal.
pub fn on_terminal() -> bool {
    TERMINAL.load(Ordering::Relaxed)
}

fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// Prints a line on standard error, above any bars being drawn.
/// On a terminal, a line wider than it is wrapped at words.
pub fn note(msg: &str) {
    let msg = super::wrap::for_stderr(msg);
    if on_terminal() {
        multi().suspend(|| eprintln!("{msg}"));
    } else {
        eprintln!("{msg}");
    }
}

type LineSink = Box<dyn FnMut(&str) + Send>;

enum Draw {
    Terminal(ProgressBar),
    Lines {
        out: LineSink,
        /// The last tenth a line was written for.
        printed: Option<u64>,
    },
}

/// A progress bar with a label; see the module docs.
pub struct Bar {
    label: String,
    unit: Unit,
    total: Option<u64>,
    position: u64,
    /// Of a [`Unit::Percent`] bar.
    percent: f64,
    draw: Draw,
}

impl Bar {
    /// A bar on the terminal when bars draw there ([`on_terminal`]), else plain lines on
    /// standard error.
    pub fn new(label: &str, unit: Unit) -> Bar {
        Bar::with_lines(label, unit, note)
    }

    /// A bar on the terminal when bars draw there, else plain lines given to `out`.
    pub fn with_lines(label: &str, unit: Unit, out: impl FnMut(&str) + Send + 'static) -> Bar {
        if on_terminal() {
            Bar::terminal(label, unit)
        } else {
            Bar::lines(label, unit, out)
        }
    }

    /// Always plain lines, given to `out`.
    pub fn lines(label: &str, unit: Unit, out: impl FnMut(&str) + Send + 'static) -> Bar {
        Bar::build(
            label,
            unit,
            Draw::Lines {
                out: Box::new(out),
                printed: None,
            },
        )
    }

    fn terminal(label: &str, unit: Unit) -> Bar {
        let pb = multi().add(ProgressBar::new(PERCENT_SCALE));
        pb.set_prefix(short_label(label));
        pb.set_style(style(unit, false));
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        Bar::build(label, unit, Draw::Terminal(pb))
    }

    fn build(label: &str, unit: Unit, draw: Draw) -> Bar {
        Bar {
            label: label.to_string(),
            unit,
            total: None,
            position: 0,
            percent: 0.0,
            draw,
        }
    }

    /// The total, in bytes.
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
        if let (Draw::Terminal(pb), Unit::Bytes) = (&self.draw, self.unit) {
            pb.set_style(style(Unit::Bytes, true));
            pb.set_length(total);
        }
        self.redraw();
    }

    /// How far it is, in bytes.
    pub fn set_position(&mut self, position: u64) {
        self.position = position;
        if let Some(t) = self.total.filter(|t| *t > 0) {
            self.percent = (position as f64 * 100.0 / t as f64).min(100.0);
        }
        self.redraw();
    }

    /// How far it is, in percent (0 to 100).
    pub fn set_percent(&mut self, percent: f64) {
        self.percent = percent.clamp(0.0, 100.0);
        if let Some(t) = self.total {
            self.position = (t as f64 * self.percent / 100.0).round() as u64;
        }
        self.redraw();
    }

    /// Takes the progress a task log line reports (see [`crate::api::log_progress`]).
    pub fn update(&mut self, p: &LogProgress) {
        if let Some(t) = p.total {
            self.total = Some(t);
        }
        if let Some(d) = p.done {
            self.position = d;
        }
        self.set_percent(p.percent);
    }

    /// The percentage, as shown.
    pub fn percent(&self) -> f64 {
        self.percent
    }

    /// `25% (8.0 GiB of 32.0 GiB)`, or `25%`.
    fn progress_text(&self) -> String {
        let pct = format!("{:.0}%", self.percent.floor());
        match self.total {
            Some(t) => format!(
                "{pct} ({} of {})",
                format_size(self.position),
                format_size(t)
            ),
            None if self.unit == Unit::Bytes => {
                format!("{} so far", format_size(self.position))
            }
            None => pct,
        }
    }

    fn redraw(&mut self) {
        let text = self.progress_text();
        let tenth = (self.percent / PLAIN_STEP).floor() as u64;
        let label = &self.label;
        match &mut self.draw {
            Draw::Terminal(pb) => match (self.unit, self.total) {
                (Unit::Bytes, Some(_)) => pb.set_position(self.position),
                _ => {
                    pb.set_position((self.percent * (PERCENT_SCALE as f64 / 100.0)) as u64);
                    pb.set_message(text);
                }
            },
            Draw::Lines { out, printed } => {
                if printed.is_none_or(|p| tenth > p) {
                    *printed = Some(tenth);
                    out(&format!("{label}: {text}"));
                }
            }
        }
    }

    /// Ends the bar: on a terminal the bar gives way to `msg`; as lines, `msg` is the last one.
    pub fn finish(mut self, msg: &str) {
        match &mut self.draw {
            Draw::Terminal(pb) => {
                pb.finish_and_clear();
                multi().remove(pb);
                note(msg);
            }
            Draw::Lines { out, .. } => out(msg),
        }
    }

    /// Ends the bar without a message (the work stopped; its caller says why).
    pub fn clear(mut self) {
        if let Draw::Terminal(pb) = &mut self.draw {
            pb.finish_and_clear();
            multi().remove(pb);
        }
    }
}

fn short_label(label: &str) -> String {
    let label = label.trim();
    if label.chars().count() <= LABEL_MAX {
        return label.to_string();
    }
    let cut: String = label.chars().take(LABEL_MAX - 1).collect();
    format!("{cut}…")
}

fn style(unit: Unit, total: bool) -> ProgressStyle {
    let template = match (unit, total) {
        (Unit::Bytes, true) => "{prefix} {wide_bar} {percent}% ({bytes} of {total_bytes}) {eta}",
        _ => "{prefix} {wide_bar} {msg}",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Where the staging executor sends its tasks' progress: the task's key (unique among those
/// running: `[2/5]`), its label (`[2/5] web01 (101): migrate to pve2`), and the progress its
/// log reported, or `None` when it ended.
pub type TaskSink = Arc<dyn Fn(&str, &str, Option<LogProgress>) + Send + Sync>;

/// A sink that keeps a terminal bar per running task: made at its first progress, removed when
/// the task ends.
pub fn task_bars() -> TaskSink {
    let bars: Arc<Mutex<HashMap<String, Bar>>> = Arc::default();
    Arc::new(
        move |key: &str, label: &str, progress: Option<LogProgress>| {
            let mut bars = match bars.lock() {
                Ok(b) => b,
                Err(poisoned) => poisoned.into_inner(),
            };
            match progress {
                Some(lp) => bars
                    .entry(key.to_string())
                    .or_insert_with(|| Bar::terminal(label, Unit::Percent))
                    .update(&lp),
                None => {
                    if let Some(bar) = bars.remove(key) {
                        bar.clear();
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collected(unit: Unit) -> (Bar, Arc<Mutex<Vec<String>>>) {
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = lines.clone();
        let bar = Bar::lines("download x.qcow2", unit, move |l| {
            sink.lock().unwrap().push(l.to_string());
        });
        (bar, lines)
    }

    #[test]
    fn plain_lines_at_each_tenth_and_the_message_at_the_end() {
        let (mut bar, lines) = collected(Unit::Bytes);
        bar.set_total(100 << 20);
        for mib in [1u64, 5, 12, 19, 20, 55, 100] {
            bar.set_position(mib << 20);
        }
        bar.finish("downloaded x.qcow2 (100.0 MiB)");
        assert_eq!(
            *lines.lock().unwrap(),
            [
                "download x.qcow2: 0% (0 B of 100.0 MiB)",
                "download x.qcow2: 12% (12.0 MiB of 100.0 MiB)",
                "download x.qcow2: 20% (20.0 MiB of 100.0 MiB)",
                "download x.qcow2: 55% (55.0 MiB of 100.0 MiB)",
                "download x.qcow2: 100% (100.0 MiB of 100.0 MiB)",
                "downloaded x.qcow2 (100.0 MiB)",
            ]
        );
    }

    #[test]
    fn a_task_log_line_reads_once() {
        let (mut bar, lines) = collected(Unit::Percent);
        let line = "transferred 84.5 MiB of 338.0 MiB (25.00%)";
        bar.update(&crate::api::log_progress(line).unwrap());
        bar.set_percent(26.0);
        bar.update(
            &crate::api::log_progress("transferred 169.0 MiB of 338.0 MiB (50.00%)").unwrap(),
        );
        assert_eq!(
            *lines.lock().unwrap(),
            [
                "download x.qcow2: 25% (84.5 MiB of 338.0 MiB)",
                "download x.qcow2: 50% (169.0 MiB of 338.0 MiB)",
            ]
        );
        assert_eq!(bar.percent(), 50.0);
    }

    #[test]
    fn percent_without_sizes_and_long_labels() {
        let (mut bar, lines) = collected(Unit::Percent);
        bar.set_percent(140.0);
        assert_eq!(*lines.lock().unwrap(), ["download x.qcow2: 100%"]);
        let long = "[12/40] a-very-long-guest-name (1234): migrate to pve2 --online";
        let short = short_label(long);
        assert!(
            short.chars().count() <= LABEL_MAX && short.ends_with('…'),
            "{short}"
        );
    }
}
