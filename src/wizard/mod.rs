//! Guided creation: wizards defined as data (`prompts/*.yaml`), asked through a [`Prompter`],
//! turned into a [`VmPlan`], and built with rollback.
//!
//! Files: `spec.rs` (the YAML definitions), `engine.rs` (walks a definition → answers),
//! `prompter.rs` (the trait and the scripted prompter), `terminal.rs` (dialoguer: the only
//! file here that touches the terminal), `validate.rs` (pure checks), `facts.rs` (what the
//! `new` wizard knows: config, profiles, inventory), `plan.rs` (answers → a checked plan, pure),
//! `provision.rs` (the plan → API calls, undoing what it created when a step fails),
//! `new.rs` (the `new` flow: ask → plan → preview → build), `iso.rs` (the same for `new --iso`),
//! `lxc.rs` (`new --lxc`: a container from a template archive, from flags), `template.rs`
//! (`new-template`: a cloud-init template from an image URL),
//! `settings.rs` (which config the wizards read).
//!
//! A wizard's result is a plan, never a side effect: nothing changes on the cluster until
//! [`provision::build`] runs a plan that the user (or the script) accepted. Creating runs at
//! once (DESIGN §2: create and clone are not destructive); the one destructive call made here,
//! the destroy of a rollback, only ever targets the VM this run created, checked by VMID and
//! name. The flows run on the session's `session::Ctx` (its client, inventory and notes).

pub mod engine;
pub mod facts;
pub mod iso;
pub mod lxc;
pub mod new;
pub mod plan;
pub mod prompter;
pub mod provision;
pub mod settings;
pub mod spec;
pub mod template;
pub mod terminal;
pub mod validate;

pub use engine::{Answers, DefaultsOnly, Facts};
pub use facts::NewFacts;
pub use plan::VmPlan;
pub use prompter::{Choice, Prompter, ScriptedPrompter};
pub use spec::WizardSpec;
pub use terminal::DialoguerPrompter;
