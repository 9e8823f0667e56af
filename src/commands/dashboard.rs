//! `dashboard`: one screen of the cluster's load and allocation (one `/cluster/resources`
//! request, then one `rrddata` per node): per node CPU, memory and root-disk bars, network and
//! IO-wait rates, guest counts and overcommit ratios (flagged above `dashboard:` in the
//! config), per storage a usage bar, and the busiest guests.
//!
//! The numbers and the frame are [`crate::render::dashboard`]. `--json` prints the numbers,
//! `--once` (and any run whose stdout is not a terminal) one text frame 80 columns wide;
//! otherwise the output layer runs the live screen ([`Live::Dashboard`]), redrawn every 2 s.

use super::{Arg, Call, Category, Command, Ctx, Example, Output, OutputFormat, Signature};
use crate::api::ApiRequest;
use crate::error::Result;
use crate::lang::Value;
use crate::render::dashboard::{Dashboard, Rates, Thresholds, frame_text};

/// A live screen the output layer runs on the terminal instead of printing the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// `dashboard` without `--once`: redrawn every 2 s from a fresh inventory until `q`/Esc.
    Dashboard,
}

pub static DASHBOARD: Command = Command {
    sig: Signature {
        name: "dashboard",
        category: Category::Read,
        about: "One screen of the cluster: node load and overcommit, storage use, the busiest guests (live on a terminal, q quits).",
        args: &[
            Arg::switch(
                "--once",
                "print one frame (80 columns) and return; the default off a terminal",
            ),
            Arg::switch("--json", "print the numbers as JSON"),
        ],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "dashboard --once",
            about: "one frame of the demo cluster",
        }],
    },
    run: |ctx, call| Box::pin(run(ctx, call)),
};

/// The numbers from a fresh inventory, with the configured thresholds, and each online node's
/// rates from its `rrddata` (one request per node, in turn; a node that does not answer shows
/// none).
pub async fn numbers(ctx: &mut Ctx) -> Result<Dashboard> {
    let inv = ctx.refresh().await?;
    let mut d = Dashboard::build(&inv, Thresholds::from(&ctx.config.dashboard));
    let maintenance = super::cluster_ops::maintenance_nodes(ctx).await;
    for n in d.nodes.iter_mut() {
        n.maintenance = maintenance.contains(&n.node);
    }
    for n in d.nodes.iter_mut().filter(|n| n.status == "online") {
        let req = ApiRequest::get(format!("/nodes/{}/rrddata", n.node))
            .param("timeframe", "hour")
            .param("cf", "AVERAGE");
        n.rates = ctx.get(&req).await.ok().as_ref().and_then(Rates::from_rrd);
    }
    Ok(d)
}

async fn run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let d = numbers(ctx).await?;
    let json = serde_json::to_value(&d).unwrap_or_default();
    if call.args.has_flag("json") {
        let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
        text.push('\n');
        return Ok(Output::value(Value::String(text)).raw());
    }
    if ctx.format != OutputFormat::Table {
        return Ok(Output::value(Value::from_json(&json)));
    }
    let mut out = Output::value(Value::String(frame_text(&d))).raw();
    if !call.args.has_flag("once") {
        out.live = Some(Live::Dashboard);
    }
    Ok(out)
}
