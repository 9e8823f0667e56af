//! The `new` flow, shared by the interactive wizard and the non-interactive command: load the
//! wizard, ask (or take the given answers and defaults), resolve a plan, preview it, and build
//! it unless it is a dry run or the user says no.
//!
//! Must not: touch the terminal itself (the prompter does), or change anything before the plan
//! is accepted.

use crate::config::Config;
use crate::error::Result;
use crate::session::Ctx;

use super::engine::{self, Answers};
use super::facts::NewFacts;
use super::plan::VmPlan;
use super::prompter::{Prompter, cancelled};
use super::provision::{self, BuildOptions, Built};
use super::spec::{self, WizardSpec};

/// Which flag of `new` answers which question of `prompts/new.yaml`.
pub const FLAGS: &[(&str, &str)] = &[
    ("profile", "--profile"),
    ("template", "--template"),
    ("name", "NAME"),
    ("node", "--node"),
    ("cores", "--cores"),
    ("memory", "--memory"),
    ("disk", "--disk"),
    ("ip", "--ip"),
    ("gw", "--gw"),
    ("nameserver", "--nameserver"),
    ("ciuser", "--user"),
    ("sshkeys", "--ssh-keys"),
    ("iso", "--image"),
];

/// How `new` runs.
#[derive(Debug, Clone, Default)]
pub struct NewOptions {
    /// Use this VMID (it must be free and inside `vmid_ranges.vm`).
    pub vmid: Option<u32>,
    /// Resolve and show the plan; change nothing.
    pub dry_run: bool,
    /// Show the preview through the prompter and ask before building (a person is there).
    pub confirm: bool,
    pub build: BuildOptions,
}

/// What `new` did.
#[derive(Debug, Clone)]
pub enum NewOutcome {
    /// A dry run: the plan, nothing changed.
    Planned(VmPlan),
    Built(VmPlan, Built),
}

/// Runs `new`: asks through `prompter` (questions answered by `given` are not asked), then
/// plans and builds. With [`engine::DefaultsOnly`] as the prompter nothing is asked.
pub async fn run(
    ctx: &mut Ctx,
    spec: &WizardSpec,
    config: &Config,
    prompter: &mut dyn Prompter,
    given: &Answers,
    opts: &NewOptions,
) -> Result<NewOutcome> {
    let inv = ctx.refresh().await?;
    let answers = {
        let facts = NewFacts::new(config, &inv);
        engine::run(spec, prompter, &facts, given)?
    };
    let plan = provision::resolve(ctx, config, &inv, &answers, opts.vmid).await?;
    if opts.confirm {
        prompter.show(&plan.preview());
    } else {
        for line in plan.preview().lines() {
            ctx.note(line);
        }
    }
    if opts.dry_run {
        return Ok(NewOutcome::Planned(plan));
    }
    if opts.confirm && !prompter.confirm("Build it?", true)? {
        return Err(cancelled());
    }
    let built = provision::build(ctx, config, &plan, &opts.build).await?;
    Ok(NewOutcome::Built(plan, built))
}

/// The `new` wizard: the user's override if there is one, else the embedded one.
pub fn load_spec() -> Result<WizardSpec> {
    WizardSpec::load("new", spec::override_dir().as_deref())
}

/// The `new --iso` wizard, likewise.
pub fn load_iso_spec() -> Result<WizardSpec> {
    WizardSpec::load("new-iso", spec::override_dir().as_deref())
}

/// The flag that answers the question with this prompt, for "give it with --template".
pub fn flag_for_prompt(spec: &WizardSpec, prompt: &str) -> Option<String> {
    let key = &spec.steps.iter().find(|s| s.prompt == prompt)?.key;
    FLAGS
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, f)| f.to_string())
}
