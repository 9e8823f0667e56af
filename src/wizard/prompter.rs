//! The [`Prompter`] trait the wizard engine asks its questions through, and
//! [`ScriptedPrompter`], which answers from a list (tests, and anything that drives a wizard
//! without a person).
//!
//! A prompter only asks: it never decides defaults, never validates by itself (the engine hands
//! it the check) and never talks to the cluster. The terminal implementation lives in
//! `dialoguer.rs`, the only file of this module that touches the terminal.

use std::collections::VecDeque;

use crate::error::{Error, ErrorKind, Result};

/// One entry of a `select`: the value the wizard records and the text shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Choice {
        Choice {
            value: value.into(),
            label: label.into(),
        }
    }
}

/// The choice `answer` names: by value, by label, or by the label's first word (a template's
/// name in "debian-12-cloud (9000 on pve1)").
pub fn find_choice(choices: &[Choice], answer: &str) -> Option<usize> {
    choices.iter().position(|c| {
        c.value == answer || c.label == answer || c.label.split_whitespace().next() == Some(answer)
    })
}

/// The choices' names for an error message.
pub fn choice_names(choices: &[Choice]) -> String {
    let names: Vec<&str> = choices
        .iter()
        .filter(|c| !c.value.is_empty())
        .map(|c| c.label.split_whitespace().next().unwrap_or(&c.value))
        .collect();
    names.join(", ")
}

/// A check for typed text: `Err` holds the sentence shown to the user.
pub type Check<'a> = &'a dyn Fn(&str) -> std::result::Result<(), String>;

/// Asks questions. Implementations: the terminal ([`super::DialoguerPrompter`]) and a script
/// ([`ScriptedPrompter`]).
pub trait Prompter {
    /// Picks one of `choices` (never empty); returns its index. `default` is the choice
    /// offered first, if any.
    fn select(&mut self, prompt: &str, choices: &[Choice], default: Option<usize>)
    -> Result<usize>;
    /// Reads text that passes `check`; an empty answer takes `default` when there is one.
    fn input(&mut self, prompt: &str, default: Option<&str>, check: Check<'_>) -> Result<String>;
    /// A yes/no question.
    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool>;
    /// Shows text that needs no answer (the preview).
    fn show(&mut self, text: &str);
}

/// The error a person gets when they leave a wizard (Esc, Ctrl-C, or "no" at the preview).
pub fn cancelled() -> Error {
    Error::new(ErrorKind::Interrupted, "cancelled: nothing was created")
}

/// Answers questions from a list, in order. A `select` answer names a choice by value or label;
/// an `input` answer is text (empty takes the default) and must pass the check, else the run
/// fails with the check's message, just as a person would be told; a `confirm` answer is
/// `y`/`yes`/`n`/`no` (empty takes the default). Running out of answers is an error naming the
/// question. Everything asked and shown is kept in [`ScriptedPrompter::transcript`].
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    answers: VecDeque<String>,
    pub transcript: Vec<String>,
}

impl ScriptedPrompter {
    pub fn new<I, S>(answers: I) -> ScriptedPrompter
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScriptedPrompter {
            answers: answers.into_iter().map(Into::into).collect(),
            transcript: Vec::new(),
        }
    }

    /// Answers not used yet.
    pub fn remaining(&self) -> usize {
        self.answers.len()
    }

    fn next(&mut self, prompt: &str) -> Result<String> {
        self.transcript.push(format!("? {prompt}"));
        self.answers.pop_front().ok_or_else(|| {
            Error::usage(format!("the script has no answer for '{prompt}'"))
                .hinted("add one more answer to the script")
        })
    }
}

impl Prompter for ScriptedPrompter {
    fn select(
        &mut self,
        prompt: &str,
        choices: &[Choice],
        default: Option<usize>,
    ) -> Result<usize> {
        let answer = self.next(prompt)?;
        if answer.is_empty() {
            return Ok(default.unwrap_or(0).min(choices.len().saturating_sub(1)));
        }
        find_choice(choices, &answer).ok_or_else(|| {
            Error::usage(format!(
                "'{answer}' is not a choice for '{prompt}'; choices: {}",
                choice_names(choices)
            ))
        })
    }

    fn input(&mut self, prompt: &str, default: Option<&str>, check: Check<'_>) -> Result<String> {
        let answer = self.next(prompt)?;
        let answer = match (answer.is_empty(), default) {
            (true, Some(d)) => d.to_string(),
            _ => answer,
        };
        check(&answer).map_err(|msg| Error::usage(format!("{prompt}: {msg}")))?;
        Ok(answer)
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool> {
        let answer = self.next(prompt)?;
        match answer.to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "y" | "yes" => Ok(true),
            "n" | "no" => Ok(false),
            other => Err(Error::usage(format!(
                "'{other}' is not yes or no (for '{prompt}')"
            ))),
        }
    }

    fn show(&mut self, text: &str) {
        self.transcript.push(text.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices() -> Vec<Choice> {
        vec![
            Choice::new("pve1", "pve1 (12G free)"),
            Choice::new("pve2", "pve2"),
        ]
    }

    #[test]
    fn answers_in_order() {
        let mut p = ScriptedPrompter::new(["pve2", "", "yes", "web03"]);
        assert_eq!(p.select("node", &choices(), None).unwrap(), 1);
        assert_eq!(p.select("node", &choices(), None).unwrap(), 0);
        assert!(p.confirm("go?", false).unwrap());
        let ok: Check = &|_| Ok(());
        assert_eq!(p.input("name", None, ok).unwrap(), "web03");
        let err = p.input("more", None, ok).unwrap_err();
        assert!(err.message.contains("no answer for 'more'"));
    }

    #[test]
    fn inputs_are_checked_and_defaulted() {
        let check: Check = &|s| {
            if s.starts_with('w') {
                Ok(())
            } else {
                Err("must start with w".into())
            }
        };
        let mut p = ScriptedPrompter::new(["", "db01"]);
        assert_eq!(p.input("name", Some("web"), check).unwrap(), "web");
        let err = p.input("name", Some("web"), check).unwrap_err();
        assert_eq!(err.message, "name: must start with w");
    }

    #[test]
    fn unknown_choice_lists_the_choices() {
        let mut p = ScriptedPrompter::new(["pve9"]);
        let err = p.select("node", &choices(), None).unwrap_err();
        assert!(
            err.message.contains("choices: pve1, pve2"),
            "{}",
            err.message
        );
    }
}
