//! The sample configuration, for the wizards' tests: profiles, defaults, cloud-init, quotas,
//! VMID ranges.
//!
//! In a session the wizards read the session's config (the user's `cluster-config.yaml`, its
//! `--config`, or for the demo its built-in policy, `config/demo-policy.yaml`), whose profiles
//! add to the built-in ones. Must not: talk to the network or the terminal.

use std::path::Path;

use crate::config::{Config, SshKey};
use crate::error::Result;

/// The sample config, as shipped at the repository root.
pub const SAMPLE: &str = include_str!("../../cluster-config.yaml");

/// The embedded sample, with only the SSH keys written out inline.
pub fn sample() -> Result<Config> {
    let mut config = Config::from_str(SAMPLE, Path::new("cluster-config.yaml (sample)"))?;
    config
        .cloudinit
        .ssh_keys
        .retain(|k| matches!(k, SshKey::Inline(_)));
    Ok(config)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_has_the_profiles_the_demo_uses() {
        let c = super::sample().unwrap();
        for p in ["webserver", "development", "monitoring", "media-server"] {
            assert!(c.profiles.contains_key(p), "{p}");
        }
        assert_eq!(c.cloudinit.ssh_keys.len(), 1);
    }
}
