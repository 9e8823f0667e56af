//! Declared guests: the definitions file (`guests.yaml`, see `runbooks/_definitions.md`), the
//! plan that compares it with the live cluster ([`plan`]), and the `machines.md` table of a
//! cluster profile ([`machines_md`]).
//!
//! This module only parses and compares: it reads no network and prints nothing. The commands
//! (`plan`, `apply`, `profile`) in `crate::commands::definitions` read the cluster, call
//! [`plan::diff`], and stage the actions it returns through the executor.

mod format;
mod machines;
pub mod plan;

pub use format::{
    CloudInit, DefinitionsFile, GuestDef, Hook, Mode, Nic, Profile, Resources, Scope, VmidSpec,
    disk_spec, load, parse,
};
pub use machines::{MachineRow, machines_md};
