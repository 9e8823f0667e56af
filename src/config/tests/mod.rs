//! Tests for loading, validation errors, environment overrides and secret handling.

mod connection;
mod errors;

use std::collections::HashMap;
use std::path::Path;

use super::*;

pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Path::new("c.yaml"))
}

/// A fake environment from `NAME=value` pairs.
pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn dashboard_thresholds_default_and_parse() {
    let c = Config::from_str("dashboard: {cpu_overcommit: 2.5}\n", Path::new("c.yaml")).unwrap();
    assert_eq!(c.dashboard.cpu_overcommit, 2.5);
    assert_eq!(c.dashboard.memory_overcommit, 1.0);
    assert_eq!(Config::default().dashboard.cpu_overcommit, 4.0);
    assert!(Config::from_str("dashboard: {cpu: 2}\n", Path::new("c.yaml")).is_err());
}

#[test]
fn the_repo_sample_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE_NAME);
    let config = Config::load(Some(&path)).unwrap();
    assert_eq!(config.source.as_deref(), Some(path.as_path()));
    assert_eq!(config.default_cluster.as_deref(), Some("homelab"));
    assert_eq!(config.dashboard, DashboardConfig::default());
    assert_eq!(
        config.clusters.keys().collect::<Vec<_>>(),
        ["homelab", "lab"]
    );
    let homelab = &config.clusters["homelab"];
    assert_eq!(
        homelab.nodes[0],
        NodeEndpoint {
            name: Some("pve1".into()),
            host: "192.168.1.10".into(),
            port: 8006
        }
    );
    assert!(
        matches!(&homelab.auth, AuthConfig::Token { token_id, secret: SecretSource::Env(var) }
        if token_id == "pvesh@pve!cli" && var == "PVE_TOKEN_SECRET")
    );
    assert!(matches!(homelab.tls, TlsConfig::Fingerprint(_)));
    assert!(matches!(
        &config.clusters["lab"].auth,
        AuthConfig::Password {
            totp: Some(SecretSource::Command(_)),
            ..
        }
    ));
    assert_eq!(config.defaults.scsihw, Some(ScsiHw::VirtioScsiSingle));
    assert_eq!(config.defaults.ostype.map(OsType::as_str), Some("l26"));
    assert_eq!(
        config.vmid_ranges.template,
        Some(VmidRange::new(9000, 9099).unwrap())
    );
    assert_eq!(
        config.tags.colors.values().next().map(Color::hex),
        Some("c0392b")
    );
    assert!(matches!(
        config.cloudinit.ssh_keys[..],
        [SshKey::File(_), SshKey::Inline(_)]
    ));
    assert_eq!(config.quotas.max_memory, Some(Size::from_bytes(64 << 30)));
    assert_eq!(
        config.profiles.keys().collect::<Vec<_>>(),
        ["webserver", "development", "monitoring", "media-server"]
    );
    assert_eq!(
        config.profiles["webserver"].memory.map(Size::mib),
        Some(2048)
    );
    assert_eq!(config.staging.policy, StagingPolicy::Destructive);
    assert!(
        config
            .audit
            .path
            .ends_with(".local/state/pvesh-plus/audit.jsonl")
    );
    assert!(!config.audit.path.starts_with("~"));
}

#[test]
fn empty_and_comment_only_files_are_the_default() {
    for text in ["", "\n", "# nothing yet\n"] {
        let config = parse(text).unwrap();
        assert!(config.clusters.is_empty());
        assert_eq!(config.staging.policy, StagingPolicy::Destructive);
    }
}

#[test]
fn load_reports_a_missing_explicit_file() {
    let err = Config::load(Some(Path::new("/nonexistent/pvesh.yaml"))).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read config file /nonexistent/pvesh.yaml: "),
        "{err}"
    );
}

#[test]
fn default_path_follows_xdg() {
    let path = default_path(&env_of(&[("XDG_CONFIG_HOME", "/xdg")])).unwrap();
    assert_eq!(path, Path::new("/xdg/pvesh-plus/cluster-config.yaml"));
    let relative = default_path(&env_of(&[("XDG_CONFIG_HOME", "rel")]));
    assert!(relative.is_none_or(|p| p.ends_with(".config/pvesh-plus/cluster-config.yaml")));
}

#[test]
fn protected_reasons() {
    let config = parse("protected: { vmids: [103], names: [db01], tags: [prod-db] }\n").unwrap();
    let p = &config.protected;
    assert_eq!(
        p.reason(103, None, &[]).as_deref(),
        Some("VMID 103 is listed in `protected.vmids`")
    );
    assert_eq!(
        p.reason(1, Some("db01"), &[]).as_deref(),
        Some("name `db01` is listed in `protected.names`")
    );
    assert_eq!(
        p.reason(1, Some("x"), &["web", "PROD-DB"]).as_deref(),
        Some("tag `prod-db` is listed in `protected.tags`")
    );
    assert_eq!(p.reason(1, Some("x"), &["web"]), None);
}

#[test]
fn profile_lookup_suggests() {
    let config = parse("profiles:\n  webserver: { cores: 2 }\n  big: {}\n").unwrap();
    assert_eq!(config.profile("webserver").unwrap().cores, Some(2));
    assert_eq!(
        config.profile("webservr").unwrap_err().to_string(),
        "no profile named `webservr` (did you mean `webserver`?)\n  hint: profiles: webserver, \
         development, monitoring, media-server, big; add more under `profiles` in the config"
    );
}

#[test]
fn builtin_profiles_are_there_without_a_config_and_a_config_overrides_or_adds() {
    let names = ["webserver", "development", "monitoring", "media-server"];
    assert_eq!(builtin_profiles().keys().collect::<Vec<_>>(), names);
    let none = Config::default();
    assert_eq!(none.profile_names(), names);
    let web = none.profile("webserver").unwrap();
    assert_eq!(
        (web.cores, web.memory.map(Size::mib)),
        (Some(2), Some(2048))
    );
    assert_eq!(web.template.as_deref(), Some("debian-12-cloud"));
    let mine = parse("profiles:\n  webserver: { cores: 8 }\n  db: { memory: 16G }\n").unwrap();
    assert_eq!(mine.profile("webserver").unwrap().cores, Some(8));
    assert_eq!(
        mine.profile("webserver").unwrap().memory,
        None,
        "replaced, not merged"
    );
    assert!(mine.profile("db").is_ok());
    assert_eq!(mine.profile("monitoring").unwrap().cores, Some(2));
    assert_eq!(
        mine.profile_names(),
        [
            "webserver",
            "development",
            "monitoring",
            "media-server",
            "db"
        ]
    );
    // The built-in ones are not checked against the file's quotas when it loads (`new`
    // checks the one it uses).
    assert!(parse("quotas: { max_memory: 1G }\n").is_ok());
}

#[test]
fn the_demo_policy_parses_and_fits_the_demo() {
    let c = Config::demo_policy().unwrap();
    assert!(c.is_demo_policy());
    assert!(c.clusters.is_empty());
    assert_eq!(c.quotas.max_cores, Some(16));
    assert_eq!(c.quotas.max_memory, Some(Size::from_bytes(64 << 30)));
    assert!(c.protected.reason(103, Some("db01"), &[]).is_some());
    assert_eq!(
        c.readonly
            .reason(9001, Some("ubuntu-24.04-cloud"), &[])
            .as_deref(),
        Some("name `ubuntu-24.04-cloud` is listed in `readonly.names`")
    );
    assert!(c.describe_source().starts_with(DEMO_POLICY_NAME));
    assert!(c.where_to_change().contains("--demo --config FILE"));
    assert!(c.cloudinit.read_ssh_keys().is_ok(), "no key files to read");
}

#[test]
fn readonly_reasons() {
    let config =
        parse("readonly: { vmids: [104], names: [ubuntu-24.04-cloud], tags: [frozen] }\n").unwrap();
    let r = &config.readonly;
    assert_eq!(
        r.reason(104, None, &[]).as_deref(),
        Some("VMID 104 is listed in `readonly.vmids`")
    );
    assert_eq!(
        r.reason(1, Some("x"), &["Frozen"]).as_deref(),
        Some("tag `frozen` is listed in `readonly.tags`")
    );
    assert_eq!(r.reason(1, Some("x"), &["web"]), None);
    assert!(
        parse("readonly: { vmid: [104] }\n").is_err(),
        "a typo is an error"
    );
}

#[test]
fn tilde_expansion() {
    let home = dirs::home_dir().unwrap();
    assert_eq!(expand_tilde(Path::new("~/a/b")), home.join("a/b"));
    assert_eq!(expand_tilde(Path::new("~")), home);
    assert_eq!(expand_tilde(Path::new("/abs/~x")), Path::new("/abs/~x"));
    assert_eq!(expand_tilde(Path::new("~other/x")), Path::new("~other/x"));
}

#[test]
fn empty_sections_are_defaults() {
    let texts = [
        "clusters:\n",
        "defaults:\n",
        "profiles:\n",
        "defaults: {}\nquotas: {}\n",
        "tags:\n  known:\n  colors:\nprotected:\n  vmids:\nstaging:\n  policy:\n",
    ];
    for text in texts {
        let config = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(
            config.clusters.is_empty() && config.profiles.is_empty(),
            "{text:?}"
        );
        assert_eq!(config.defaults, Defaults::default(), "{text:?}");
    }
    // A cluster whose `tls:` has every line commented out trusts the system store.
    let config = parse(
        "clusters:\n  c:\n    nodes: [{ host: h }]\n    auth:\n    tls:\n      # insecure: true\n",
    )
    .unwrap();
    assert_eq!(config.clusters["c"].tls, TlsConfig::System);
    assert_eq!(config.clusters["c"].auth, AuthConfig::None);
    let config = parse("audit:\n  path: ~/audit.jsonl\n").unwrap();
    assert_eq!(
        config.audit.path,
        dirs::home_dir().unwrap().join("audit.jsonl")
    );
    assert!(config.audit.enabled);
}
