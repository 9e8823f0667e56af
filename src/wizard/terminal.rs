//! [`DialoguerPrompter`]: the wizard's questions on the terminal, through dialoguer (arrow keys
//! and Enter for choices, line editing with inline validation for text).
//!
//! This is the only file of the wizard that touches the terminal. It draws on stderr, so the
//! command's result on stdout stays clean for pipes. Esc or Ctrl-C in a question cancels the
//! wizard with nothing created.

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Select};
use std::io::IsTerminal;

use super::prompter::{Check, Choice, Prompter, cancelled};
use crate::error::{Error, ErrorKind, Result};

/// Asks on the terminal.
pub struct DialoguerPrompter {
    theme: ColorfulTheme,
}

impl DialoguerPrompter {
    /// A prompter when both stdin and stderr are terminals; `None` in scripts and pipes, where
    /// a wizard cannot ask.
    pub fn if_terminal() -> Option<DialoguerPrompter> {
        let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        tty.then(|| DialoguerPrompter {
            theme: ColorfulTheme::default(),
        })
    }
}

fn term_error(e: dialoguer::Error) -> Error {
    match e {
        dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => cancelled(),
        dialoguer::Error::IO(io) => {
            Error::new(ErrorKind::Internal, format!("the terminal failed: {io}"))
        }
    }
}

impl Prompter for DialoguerPrompter {
    fn select(
        &mut self,
        prompt: &str,
        choices: &[Choice],
        default: Option<usize>,
    ) -> Result<usize> {
        let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
        Select::with_theme(&self.theme)
            .with_prompt(prompt)
            .items(&labels)
            .default(default.unwrap_or(0).min(choices.len().saturating_sub(1)))
            .interact_opt()
            .map_err(term_error)?
            .ok_or_else(cancelled)
    }

    fn input(&mut self, prompt: &str, default: Option<&str>, check: Check<'_>) -> Result<String> {
        let mut input = Input::<String>::with_theme(&self.theme)
            .with_prompt(prompt)
            .validate_with(|text: &String| check(text));
        if let Some(d) = default {
            input = input.default(d.to_string());
        }
        input.interact_text().map_err(term_error)
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool> {
        Confirm::with_theme(&self.theme)
            .with_prompt(prompt)
            .default(default)
            .interact_opt()
            .map_err(term_error)?
            .ok_or_else(cancelled)
    }

    fn show(&mut self, text: &str) {
        eprintln!("{text}");
    }
}
