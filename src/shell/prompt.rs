//! The prompt: the cluster, where you are, the current VM, and a mark when the last command
//! failed.
//!
//! `demo> `, `demo web01> ` (the current VM), `demo@pve2> ` (the current node, shown when it is
//! not simply the current VM's), `demo:/nodes/pve1> ` (the `cd` path), `demo! ` after a
//! failure, the staged changes waiting for `commit` (`demo web01 [2 pending]> `) and an open
//! confirm window (`[confirm?]`). The confirm mark is read each time the prompt is drawn, so a
//! window that the background timer rolls back stops showing it as soon as the line editor
//! repaints (the timer asks it to).

use std::borrow::Cow;

use reedline::{Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus};

use crate::session::Ctx;
use crate::staging::ConfirmSlot;

pub struct ShellPrompt {
    /// Everything before the confirm mark.
    left: String,
    confirm: ConfirmSlot,
    failed: bool,
    color: bool,
}

impl ShellPrompt {
    pub fn new(ctx: &Ctx, failed: bool, color: bool) -> ShellPrompt {
        ShellPrompt {
            left: base_text(ctx),
            confirm: ctx.staging.confirm.clone(),
            failed,
            color,
        }
    }
}

/// What the prompt says about where you are; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place<'a> {
    pub cluster: &'a str,
    /// The current node, if set.
    pub node: Option<&'a str>,
    /// The current VM's name (or VMID) and node, if one is set.
    pub vm: Option<(String, Option<&'a str>)>,
    /// The `cd` path; `/` is not shown.
    pub cwd: &'a str,
    pub pending: usize,
}

/// The prompt's words for `place`, without the confirm mark.
pub fn place_text(place: &Place<'_>) -> String {
    let mut text = place.cluster.to_string();
    let vm_node = place.vm.as_ref().and_then(|(_, node)| *node);
    if let Some(node) = place.node
        && vm_node != Some(node)
    {
        text.push('@');
        text.push_str(node);
    }
    if !place.cwd.is_empty() && place.cwd != "/" {
        text.push(':');
        text.push_str(place.cwd);
    }
    if let Some((name, _)) = &place.vm {
        text.push(' ');
        text.push_str(name);
    }
    if place.pending > 0 {
        text.push_str(&format!(" [{} pending]", place.pending));
    }
    text
}

fn base_text(ctx: &Ctx) -> String {
    let inv = ctx.cached_inventory();
    let vm = ctx.current.map(|vmid| {
        let guest = inv.as_deref().and_then(|inv| inv.guest(vmid));
        (
            guest.map_or_else(|| vmid.to_string(), |g| g.name.clone()),
            guest.map(|g| g.node.as_str()),
        )
    });
    place_text(&Place {
        cluster: &ctx.cluster,
        node: ctx.current_node.as_deref(),
        vm,
        cwd: &ctx.cwd,
        pending: ctx.staging.buffer.len(),
    })
}

/// ` [confirm?]` while a confirmed commit waits for `confirm`.
fn confirm_mark(slot: &ConfirmSlot) -> &'static str {
    if crate::staging::peek(slot).is_some() {
        " [confirm?]"
    } else {
        ""
    }
}

impl Prompt for ShellPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        Cow::Owned(format!("{}{}", self.left, confirm_mark(&self.confirm)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GuestKind;
    use crate::staging::{ConfirmPlan, ConfirmWindow, Target};
    use std::sync::Arc;

    #[test]
    fn the_prompt_says_where_you_are() {
        let place = |node, vm: Option<(&str, &'static str)>, cwd, pending| {
            place_text(&Place {
                cluster: "demo",
                node,
                vm: vm.map(|(n, node)| (n.to_string(), Some(node))),
                cwd,
                pending,
            })
        };
        assert_eq!(place(None, None, "/", 0), "demo");
        assert_eq!(place(Some("pve2"), None, "/", 0), "demo@pve2");
        // `use web01` sets web01's node too: the VM says enough.
        assert_eq!(
            place(Some("pve1"), Some(("web01", "pve1")), "/", 0),
            "demo web01"
        );
        assert_eq!(
            place(Some("pve2"), Some(("web01", "pve1")), "/", 0),
            "demo@pve2 web01"
        );
        assert_eq!(place(None, None, "/nodes/pve1", 0), "demo:/nodes/pve1");
        assert_eq!(
            place(Some("pve3"), Some(("db01", "pve1")), "/cluster", 2),
            "demo@pve3:/cluster db01 [2 pending]"
        );
    }

    #[test]
    fn the_confirm_mark_follows_the_window_while_the_prompt_is_shown() {
        let slot: ConfirmSlot = Arc::new(ConfirmWindow::restore(None));
        let target = Target {
            vmid: 101,
            node: "pve1".into(),
            guest_kind: GuestKind::Qemu,
            name: "web01".into(),
        };
        slot.open(ConfirmPlan {
            deadline: 100,
            snapname: "pvesh-confirm-1".into(),
            guests: vec![(target, true)],
        })
        .unwrap();
        let prompt = ShellPrompt {
            left: "demo web01".into(),
            confirm: slot.clone(),
            failed: false,
            color: false,
        };
        assert_eq!(prompt.render_prompt_left(), "demo web01 [confirm?]");
        // The background timer takes the window and rolls back: the next repaint drops the mark.
        assert!(crate::staging::take(&slot).is_some());
        assert_eq!(prompt.render_prompt_left(), "demo web01");
    }
}
