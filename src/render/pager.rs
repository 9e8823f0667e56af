//! Long output through a pager: on a terminal, a result taller than the screen goes to
//! `$PVESH_PLUS_PAGER`, else `$PAGER`, else `less -FRX`; piped output never does.
//!
//! [`pager_command`] is the pure choice (tested as a table); [`show`] writes the text, through
//! the pager when one is chosen, and falls back to printing it when the pager cannot start.
//! `--no-pager`, `PVESH_PLUS_PAGER=cat` or an empty `PVESH_PLUS_PAGER` turn paging off.

use std::io::Write;

/// The pager used when neither `PVESH_PLUS_PAGER` nor `PAGER` names one.
pub const DEFAULT_PAGER: &[&str] = &["less", "-FRX"];

/// The pager to run for `lines` lines of output on a screen of `rows` rows, or `None` to print
/// directly: when paging is not `allowed` (standard output is not a terminal, `--no-pager`),
/// when the text fits the screen (a line is kept for the prompt), or when the pager is set to
/// nothing or to `cat`. `own` is `PVESH_PLUS_PAGER`, which wins over `pager` (`PAGER`).
pub fn pager_command(
    allowed: bool,
    lines: usize,
    rows: usize,
    own: Option<&str>,
    pager: Option<&str>,
) -> Option<Vec<String>> {
    if !allowed || lines < rows.max(2) {
        return None;
    }
    let chosen = own.or(pager.filter(|p| !p.trim().is_empty()));
    let words: Vec<String> = match chosen {
        Some(text) => text.split_whitespace().map(str::to_string).collect(),
        None => DEFAULT_PAGER.iter().map(|w| w.to_string()).collect(),
    };
    match words.first().map(String::as_str) {
        None | Some("cat") => None,
        Some(_) => Some(words),
    }
}

/// Writes `text` to standard output, through the pager when [`pager_command`] picks one for
/// it (`allowed` says whether standard output is a terminal that may page).
pub fn show(text: &str, allowed: bool) {
    let rows = super::terminal_size().map_or(24, |(_, h)| h);
    let own = std::env::var("PVESH_PLUS_PAGER").ok();
    let pager = std::env::var("PAGER").ok();
    let argv = pager_command(
        allowed,
        text.lines().count(),
        rows,
        own.as_deref(),
        pager.as_deref(),
    );
    if let Some(argv) = argv
        && page(&argv, text)
    {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Runs the pager on `text` and waits for it; false when it could not start.
fn page(argv: &[String], text: &str) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).stdin(std::process::Stdio::piped());
    // `less` without options of its own gets the ones that make it behave as a pager should here:
    // quit at once when the text fits, keep colours, leave the text on the screen.
    if std::env::var_os("LESS").is_none() {
        cmd.env("LESS", "FRX");
    }
    let Ok(mut child) = cmd.spawn() else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // The reader may quit before reading everything (`q` in less): that is not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    let _ = child.wait();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_is_chosen_only_for_long_output_on_a_terminal() {
        let less = Some(vec!["less".to_string(), "-FRX".to_string()]);
        let words = |w: &[&str]| Some(w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        // (allowed, lines, rows, PVESH_PLUS_PAGER, PAGER) → the pager's argv
        type Case<'a> = (bool, usize, usize, Option<&'a str>, Option<&'a str>);
        let cases: Vec<(Case, Option<Vec<String>>)> = vec![
            ((true, 100, 24, None, None), less.clone()),
            // It fits the screen (one row stays for the prompt): no pager.
            ((true, 23, 24, None, None), None),
            ((true, 24, 24, None, None), less.clone()),
            // Not a terminal, or --no-pager.
            ((false, 100, 24, None, None), None),
            ((false, 100, 24, Some("most"), Some("more")), None),
            // PAGER, with its options; an empty PAGER means the default.
            (
                (true, 100, 24, None, Some("more -d")),
                words(&["more", "-d"]),
            ),
            ((true, 100, 24, None, Some("  ")), less.clone()),
            // PVESH_PLUS_PAGER wins; empty or cat turns paging off.
            (
                (true, 100, 24, Some("most"), Some("more")),
                words(&["most"]),
            ),
            ((true, 100, 24, Some(""), Some("more")), None),
            ((true, 100, 24, Some("cat"), None), None),
            ((true, 100, 24, None, Some("cat")), None),
        ];
        for ((allowed, lines, rows, own, pager), want) in cases {
            assert_eq!(
                pager_command(allowed, lines, rows, own, pager),
                want,
                "{allowed} {lines} {rows} {own:?} {pager:?}"
            );
        }
    }
}
