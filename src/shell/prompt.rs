//! The prompt: the cluster, the current VM, and a mark when the last command failed.
//!
//! `demo web01> `, `homelab> `, `demo! ` after a failure, and the staged changes waiting for
//! `commit`: `demo web01 [2 pending]> `.

use std::borrow::Cow;

use reedline::{Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus};

use crate::session::Ctx;

pub struct ShellPrompt {
    left: String,
    failed: bool,
    color: bool,
}

impl ShellPrompt {
    pub fn new(ctx: &Ctx, failed: bool, color: bool) -> ShellPrompt {
        ShellPrompt {
            left: prompt_text(ctx),
            failed,
            color,
        }
    }
}

/// The words before the `>`: cluster, then the current VM's name if one is set.
pub fn prompt_text(ctx: &Ctx) -> String {
    let mut text = ctx.cluster.clone();
    if let Some(vmid) = ctx.current {
        let name = ctx
            .cached_inventory()
            .and_then(|inv| inv.guest(vmid).map(|g| g.name.clone()))
            .unwrap_or_else(|| vmid.to_string());
        text.push(' ');
        text.push_str(&name);
    }
    let pending = ctx.staging.buffer.len();
    if pending > 0 {
        text.push_str(&format!(" [{pending} pending]"));
    }
    if crate::staging::peek(&ctx.staging.confirm).is_some() {
        text.push_str(" [confirm?]");
    }
    text
}

impl Prompt for ShellPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.left)
    }

    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
    }

    fn render_prompt_indicator(&self, _mode: PromptEditMode) -> Cow<'_, str> {
        match (self.failed, self.color) {
            (true, true) => Cow::Owned(format!("{}> ", nu_ansi_term::Color::Red.paint("!"))),
            (true, false) => Cow::Borrowed("!> "),
            (false, _) => Cow::Borrowed("> "),
        }
    }

    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("... ")
    }

    fn render_prompt_history_search_indicator(&self, search: PromptHistorySearch) -> Cow<'_, str> {
        let failing = match search.status {
            PromptHistorySearchStatus::Passing => "",
            PromptHistorySearchStatus::Failing => "failing ",
        };
        Cow::Owned(format!("({failing}search: {}) ", search.term))
    }

    fn get_prompt_color(&self) -> reedline::Color {
        reedline::Color::Cyan
    }
}
