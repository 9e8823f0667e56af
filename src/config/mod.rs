//! Configuration: `cluster-config.yaml` plus `PROXMOX_*` environment overrides → [`Config`] and,
//! for the chosen cluster, [`ConnectionSettings`].
//!
//! Owns the file format (documented by the sample `cluster-config.yaml` at the repo root, which a
//! test loads), where the file is looked for, validation with located errors, and secret sources.
//! It must not talk to the network or the terminal: the CLI prints the warnings it returns, and
//! the API client decides which endpoint is reachable.
//!
//! Where the file is looked for ([`Config::load`]): an explicit `--config PATH` (which must
//! exist), else `$XDG_CONFIG_HOME/pvesh-plus/cluster-config.yaml` (`~/.config/...` when unset),
//! else nothing: an empty config, so `PROXMOX_*` variables alone are enough. The current
//! directory is deliberately not searched: a config can run commands (`{command: ...}` secrets),
//! and cloning a repository that holds a `cluster-config.yaml` must not make `pvesh-plus` run them.

mod cluster;
mod connection;
mod error;
mod schema;
mod secret_source;
mod size;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

pub use cluster::{
    AuthConfig, ClusterConfig, DEFAULT_PORT, NodeEndpoint, TlsConfig, normalize_fingerprint,
};
pub use connection::{AuthSettings, ConnectionSettings, Endpoint, TlsSettings};
pub use error::ConfigError;
pub use schema::{
    Agent, Audit, Bios, CloudInit, Color, DashboardConfig, Defaults, OsType, Profile, Protected,
    QuotaEnv, QuotaKey, Quotas, Readonly, RequireApproval, ScsiHw, SshKey, Staging, StagingPolicy,
    Tag, TagsConfig, VMID_MAX, VMID_MIN, VmidRange, VmidRanges,
};
pub use secret_source::{Resolved, SecretSource};
pub use size::Size;

/// The file name, in the config directory.
pub const FILE_NAME: &str = "cluster-config.yaml";

/// The policy `--demo` runs with when no `--config` is given (quotas, protected and read-only
/// guests fitted to the demo cluster), built into the binary.
pub const DEMO_POLICY: &str = include_str!("demo-policy.yaml");

/// The built-in profiles (webserver, development, monitoring, media-server), used where the
/// config has none of that name.
pub const BUILTIN_PROFILES: &str = include_str!("profiles.yaml");

/// How the built-in demo policy is named as a [`Config::source`] (and in messages).
pub const DEMO_POLICY_NAME: &str = "built-in demo policy";

/// The whole configuration. `Default` is the empty config (no clusters, default policy).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The cluster used when none is named on the command line.
    pub default_cluster: Option<String>,
    #[serde(default, deserialize_with = "or_default")]
    pub clusters: IndexMap<String, ClusterConfig>,
    #[serde(default, deserialize_with = "or_default")]
    pub defaults: Defaults,
    #[serde(default, deserialize_with = "or_default")]
    pub vmid_ranges: VmidRanges,
    #[serde(default, deserialize_with = "or_default")]
    pub tags: TagsConfig,
    #[serde(default, deserialize_with = "or_default")]
    pub cloudinit: CloudInit,
    #[serde(default, deserialize_with = "or_default")]
    pub protected: Protected,
    #[serde(default, deserialize_with = "or_default")]
    pub readonly: Readonly,
    #[serde(default, deserialize_with = "or_default")]
    pub quotas: Quotas,
    #[serde(default, deserialize_with = "or_default")]
    pub profiles: IndexMap<String, Profile>,
    #[serde(default, deserialize_with = "or_default")]
    pub staging: Staging,
    #[serde(default, deserialize_with = "or_default")]
    pub audit: Audit,
    #[serde(default, deserialize_with = "or_default")]
    pub dashboard: DashboardConfig,
    #[serde(default, deserialize_with = "or_default")]
    pub agent: Agent,
    /// The file this was read from; `None` for the empty default.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Config {
    /// Loads the config file (see the module docs for where it is looked for).
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(path) => expand_tilde(path),
            None => match default_path(&|name| std::env::var(name).ok()) {
                Some(path) if path.is_file() => path,
                _ => return Ok(Config::default()),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Config::from_str(&text, &path)
    }

    /// The built-in demo policy ([`DEMO_POLICY`]).
    pub fn demo_policy() -> Result<Config, ConfigError> {
        Config::from_str(DEMO_POLICY, Path::new(DEMO_POLICY_NAME))
    }

    /// True for the built-in demo policy.
    pub fn is_demo_policy(&self) -> bool {
        self.source.as_deref() == Some(Path::new(DEMO_POLICY_NAME))
    }

    /// Where this config came from, for `context`: a file's path, the built-in demo policy, or
    /// none (the defaults).
    pub fn describe_source(&self) -> String {
        match &self.source {
            _ if self.is_demo_policy() => {
                format!("{DEMO_POLICY_NAME} (pvesh-plus --demo --config FILE for your own)")
            }
            Some(path) => path.display().to_string(),
            None => format!("none: the defaults (no {FILE_NAME} was found)"),
        }
    }

    /// Where a policy rule (a quota, a range) is changed, for the hints of its refusals.
    pub fn where_to_change(&self) -> String {
        match &self.source {
            _ if self.is_demo_policy() => {
                "your own config (pvesh-plus --demo --config FILE)".to_string()
            }
            Some(path) => path.display().to_string(),
            None => FILE_NAME.to_string(),
        }
    }

    /// Parses and validates config text; `source` names the file in errors.
    #[allow(clippy::should_implement_trait)] // FromStr cannot take the source path.
    pub fn from_str(text: &str, source: &Path) -> Result<Config, ConfigError> {
        let only_comments = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        let mut config = if only_comments {
            Config::default()
        } else {
            let mut track = serde_path_to_error::Track::new();
            let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
                Config::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
            });
            parsed.map_err(|e| ConfigError::from_yaml(source, &track.path().to_string(), &e))?
        };
        config.source = Some(source.to_path_buf());
        config.check(text, source)?;
        Ok(config)
    }

    /// Checks that span sections, after each section parsed on its own.
    fn check(&self, text: &str, source: &Path) -> Result<(), ConfigError> {
        if let Some(name) = self
            .default_cluster
            .as_ref()
            .filter(|n| !self.clusters.contains_key(*n))
        {
            let mut err = ConfigError::invalid(
                source,
                line_of(text, &["default_cluster"]),
                "default_cluster",
                format!("no cluster named `{name}` under `clusters`"),
            );
            if let Some(best) = error::did_you_mean(name, self.clusters.keys().map(String::as_str))
            {
                err = err.with_hint(format!("did you mean `{best}`?"));
            }
            return Err(err);
        }
        for (name, profile) in &self.profiles {
            let over = |what: &str, value: String, limit: String| {
                ConfigError::invalid(
                    source,
                    line_of(text, &["profiles", name, what]),
                    &format!("profiles.{name}.{what}"),
                    format!("{value} is over the quota `quotas.max_{what}` ({limit})"),
                )
                .with_hint("lower the profile or raise the quota")
            };
            let cores = profile.cores.unwrap_or(1) * profile.sockets.unwrap_or(1);
            if let Some(max) = self.quotas.max_cores.filter(|max| cores > *max) {
                return Err(over("cores", cores.to_string(), max.to_string()));
            }
            if let (Some(v), Some(max)) = (
                profile.memory,
                self.quotas.max_memory.filter(|m| profile.memory > Some(*m)),
            ) {
                return Err(over("memory", v.to_string(), max.to_string()));
            }
            if let (Some(v), Some(max)) = (
                profile.disk,
                self.quotas.max_disk.filter(|m| profile.disk > Some(*m)),
            ) {
                return Err(over("disk", v.to_string(), max.to_string()));
            }
        }
        Ok(())
    }

    /// A profile by name (the config's, else a built-in one); a miss suggests the closest name.
    pub fn profile(&self, name: &str) -> Result<&Profile, ConfigError> {
        self.find_profile(name).ok_or_else(|| {
            let names = self.profile_names();
            let mut message = format!("no profile named `{name}`");
            if let Some(best) = error::did_you_mean(name, names.iter().map(String::as_str)) {
                message.push_str(&format!(" (did you mean `{best}`?)"));
            }
            let hint = format!(
                "profiles: {}; add more under `profiles` in the config",
                names.join(", ")
            );
            ConfigError::Cluster {
                message,
                hint: Some(hint),
            }
        })
    }

    /// A profile by name: the config's, else the built-in one; `None` when neither has it.
    pub fn find_profile(&self, name: &str) -> Option<&Profile> {
        self.profiles
            .get(name)
            .or_else(|| builtin_profiles().get(name))
    }

    /// Every profile's name: the built-in ones (a config's profile of the same name takes
    /// their place), then the config's others, in file order.
    pub fn profile_names(&self) -> Vec<String> {
        let builtin = builtin_profiles();
        builtin
            .keys()
            .chain(self.profiles.keys().filter(|n| !builtin.contains_key(*n)))
            .cloned()
            .collect()
    }

    /// Every profile, in [`Config::profile_names`] order.
    pub fn all_profiles(&self) -> Vec<(String, &Profile)> {
        self.profile_names()
            .into_iter()
            .filter_map(|n| self.find_profile(&n).map(|p| (n, p)))
            .collect()
    }

    /// The name of the cluster to use when `--cluster` is not given: `default_cluster`, else the
    /// only cluster. `None` when there are none, or several and no default.
    pub fn default_cluster_name(&self) -> Option<&str> {
        match &self.default_cluster {
            Some(name) => Some(name),
            None if self.clusters.len() == 1 => self.clusters.keys().next().map(String::as_str),
            None => None,
        }
    }
}

/// The built-in profiles ([`BUILTIN_PROFILES`]), parsed once.
pub fn builtin_profiles() -> &'static IndexMap<String, Profile> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Builtin {
        profiles: IndexMap<String, Profile>,
    }
    static PARSED: std::sync::OnceLock<IndexMap<String, Profile>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        // The file is part of the binary and a unit test parses it: it cannot fail here.
        serde_saphyr::from_str::<Builtin>(BUILTIN_PROFILES)
            .map(|b| b.profiles)
            .unwrap_or_default()
    })
}

/// Where the user's config lives: `$XDG_CONFIG_HOME/pvesh-plus/cluster-config.yaml`, else
/// `~/.config/pvesh-plus/cluster-config.yaml`. `None` without a home directory.
pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = match env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        Some(dir) => dir,
        None => dirs::home_dir()?.join(".config"),
    };
    Some(base.join("pvesh-plus").join(FILE_NAME))
}

/// Reads an empty value (`tls:` with every line below commented out) as the default.
pub(crate) fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Expands a leading `~` or `~/` to the home directory; other paths are returned unchanged.
pub fn expand_tilde(path: &Path) -> PathBuf {
    let Ok(rest) = path.strip_prefix("~") else {
        return path.to_path_buf();
    };
    match dirs::home_dir() {
        Some(home) => home.join(rest),
        None => path.to_path_buf(),
    }
}

/// The line of a nested block-style key (`["profiles", "web", "cores"]`), found by indentation.
/// Used for errors found after parsing; `None` if the key is written in flow style.
fn line_of(text: &str, keys: &[&str]) -> Option<u32> {
    let mut depth = 0;
    let mut min_indent = 0;
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent < min_indent {
            return None; // Left the enclosing block without finding the key.
        }
        let key = keys.get(depth)?;
        let Some(rest) = trimmed.strip_prefix(key).and_then(|r| r.strip_prefix(':')) else {
            continue;
        };
        depth += 1;
        // At the last key, or at a flow mapping that holds the rest on this line.
        if depth == keys.len() || rest.trim_start().starts_with('{') {
            return u32::try_from(number + 1).ok();
        }
        min_indent = indent + 1;
    }
    None
}

#[cfg(test)]
mod tests;
