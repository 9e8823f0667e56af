//! The byte-progress bar of a file transfer (`upload`), drawn with indicatif on standard error
//! when it is a terminal. Each transfer starts with a report of 0 bytes sent, which opens a
//! fresh bar; the last report (all bytes sent) clears it. Off a terminal there is no bar: the
//! executor's progress lines say each quarter instead.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::api::upload::ByteProgress;

/// `sending ━━━━━━━━━━━━━━━━━━━━━━━━ 1.2 GiB/4.0 GiB 48.0 MiB/s 1m`: fits 80 columns.
const TEMPLATE: &str = "{prefix} {wide_bar} {binary_bytes}/{binary_total_bytes} \
                        {binary_bytes_per_sec} {eta}";

/// A bar on standard error when it is a terminal, else `None`.
pub fn terminal_bar() -> Option<ByteProgress> {
    std::io::stderr()
        .is_terminal()
        .then(|| bar_on(ProgressDrawTarget::stderr()))
}

/// A bar drawing to `target` (tests draw to a hidden one).
pub fn bar_on(target: ProgressDrawTarget) -> ByteProgress {
    let target = Mutex::new(Some(target));
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    ByteProgress::new(move |sent, total| {
        let Ok(mut slot) = bar.lock() else { return };
        if sent == 0 || slot.is_none() {
            let draw = target
                .lock()
                .ok()
                .and_then(|mut t| t.take())
                .unwrap_or_else(ProgressDrawTarget::stderr);
            let b = ProgressBar::with_draw_target(Some(total), draw);
            if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
                b.set_style(style.progress_chars("━╸─"));
            }
            b.set_prefix("sending");
            *slot = Some(b);
        }
        if let Some(b) = slot.as_ref() {
            b.set_length(total);
            b.set_position(sent);
            if sent >= total {
                b.finish_and_clear();
                *slot = None;
            }
        }
    })
}
