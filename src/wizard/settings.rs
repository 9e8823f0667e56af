//! The configuration the wizards read: profiles, defaults, cloud-init, quotas, VMID ranges.
//!
//! For a real cluster that is the user's `cluster-config.yaml`. The demo uses it too when it
//! loads and has profiles; otherwise the sample shipped with pvesh+ (embedded), without its SSH
//! key files, which need not exist on this machine. Must not: talk to the network or the
//! terminal.

use std::path::Path;

use crate::config::{Config, SshKey};
use crate::error::Result;

/// The sample config, as shipped at the repository root.
pub const SAMPLE: &str = include_str!("../../cluster-config.yaml");

/// The config the wizards use in a session: the session's own (its `--config` or the user's
/// file), except that the demo without profiles of its own gets the embedded sample's.
pub fn for_session(cluster: &str, session: &Config) -> Result<Config> {
    if cluster == "demo" && session.profiles.is_empty() {
        return match Config::load(None) {
            Ok(c) if !c.profiles.is_empty() => Ok(c),
            _ => sample(),
        };
    }
    Ok(session.clone())
}

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
