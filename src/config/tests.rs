//! Tests for loading, validation errors, environment overrides and secret handling.

use std::collections::HashMap;
use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Path::new("c.yaml"))
}

/// A fake environment from `NAME=value` pairs.
fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn the_repo_sample_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE_NAME);
    let config = Config::load(Some(&path)).unwrap();
    assert_eq!(config.source.as_deref(), Some(path.as_path()));
    assert_eq!(config.default_cluster.as_deref(), Some("homelab"));
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
fn errors_name_file_line_and_key() {
    let check = |text: &str, want: &str| {
        let err = parse(text).map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), want, "for:\n{text}");
    };
    let cluster = "clusters:\n  lab:\n    nodes: [{ host: h }]\n";
    check(
        "defaults:\n  storage: local\n  strage: x\n",
        "c.yaml:3:3: `defaults`: unknown key `strage` in `defaults` (did you mean `storage`?)\n  \
         hint: valid keys here: storage, bridge, bios, machine, cpu, scsihw, agent, ostype",
    );
    check(
        "defautls: {}\n",
        "c.yaml:1:1: unknown key `defautls` at the top level (did you mean `defaults`?)\n  hint: valid keys here: \
         default_cluster, clusters, defaults, vmid_ranges, tags, cloudinit, protected, quotas, profiles, staging, audit",
    );
    check(
        "profiles:\n  web:\n    memory: 2X\n",
        "c.yaml:3:13: `profiles.web.memory`: invalid size `2X`: write a number and a unit, e.g. 512M, 2G, 1.5T",
    );
    check(
        "quotas:\n  max_disk: 500\n",
        "c.yaml:2:13: `quotas.max_disk`: size `500` has no unit: write e.g. 500M or 500G",
    );
    check(
        "vmid_ranges:\n  vm: [900, 100]\n",
        "c.yaml:2:7: `vmid_ranges.vm`: range [900, 100] is empty: the first number must not exceed the second",
    );
    check(
        "vmid_ranges:\n  ct: [5, 10]\n",
        "c.yaml:2:7: `vmid_ranges.ct`: VMIDs must be between 100 and 999999999, got [5, 10]",
    );
    check(
        "defaults:\n  bios: uefi\n",
        "c.yaml:2:9: `defaults.bios`: unknown value `uefi`\n  hint: valid values: seabios, ovmf",
    );
    check(
        "staging:\n  policy: destructiv\n",
        "c.yaml:2:11: `staging.policy`: unknown value `destructiv` (did you mean `destructive`?)\n  \
         hint: valid values: destructive, all, none",
    );
    check(
        &format!("{cluster}    auth:\n      token_id: \"a@pam!t\"\n"),
        "c.yaml:5:7: `clusters.lab.auth`: `token_id` needs `token_secret` (e.g. token_secret: { env: PVE_TOKEN_SECRET })",
    );
    check(
        &format!("{cluster}    auth:\n      user: root\n      password: {{ env: P }}\n"),
        "c.yaml:5:7: `clusters.lab.auth`: user `root` needs a realm: write e.g. root@pam or alice@pve",
    );
    check(
        &format!("{cluster}    auth:\n      user: root@pam\n      password: {{ enf: P }}\n"),
        "c.yaml:6:17: `clusters.lab.auth.password`: unknown secret source `enf` (did you mean `env`?); use env, file or command",
    );
    check(
        &format!("{cluster}    tls: {{ insecure: true, fingerprint: \"AA\" }}\n"),
        "c.yaml:4:10: `clusters.lab.tls`: choose one of `fingerprint`, `ca_file` or `insecure: true`",
    );
    check(
        "clusters:\n  lab:\n    nodes:\n      - { host: \"https://pve:8006\" }\n",
        "c.yaml:4:17: `clusters.lab.nodes[0].host`: `https://pve:8006` is a URL: write only the host name or address; \
         the port goes in `port`",
    );
    check(
        "clusters:\n  lab:\n    nodes: []\n",
        "c.yaml:3:12: `clusters.lab.nodes`: a cluster needs at least one node: - { host: 192.168.1.10 }",
    );
    check(
        &format!("default_cluster: lba\n{cluster}"),
        "c.yaml:1: `default_cluster`: no cluster named `lba` under `clusters`\n  hint: did you mean `lab`?",
    );
    check(
        "quotas: { max_cores: 4 }\nprofiles:\n  big:\n    cores: 8\n",
        "c.yaml:4: `profiles.big.cores`: 8 is over the quota `quotas.max_cores` (4)\n  hint: lower the profile or raise the quota",
    );
    check(
        "tags:\n  known: [\"bad tag\"]\n",
        "c.yaml:2:11: `tags.known[0]`: `bad tag` is not a valid PVE tag: use letters, digits and _ + - . (not first)",
    );
    check(
        "defaults:\n  storage: a\n  storage: b\n",
        "c.yaml:3:3: `defaults`: key `storage` appears twice\n  hint: keep one of them",
    );
    check(
        "defaults: {\n",
        "c.yaml:1:11: `defaults`: unclosed bracket '{'",
    );
    check(
        "defaults: [1]\n",
        "c.yaml:1:11: `defaults`: expected a mapping: `key: value` lines or `{ key: value }`",
    );
    check(
        "protected:\n  vmids: 103\n",
        "c.yaml:2:10: `protected.vmids`: expected a list: `- item` lines or `[a, b]`",
    );
    check(
        "quotas:\n  max_vms: lots\n",
        "c.yaml:2:12: `quotas.max_vms`: expected a whole number (u32)",
    );
    check(
        "defaults:\n  agent: maybe\n",
        "c.yaml:2:10: `defaults.agent`: expected true or false",
    );
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

const TWO_CLUSTERS: &str = r#"
clusters:
  home:
    nodes:
      - { name: pve1, host: 10.0.0.1 }
      - { name: pve2, host: 10.0.0.2, port: 8443 }
    auth: { token_id: "root@pam!cli", token_secret: { env: HOME_SECRET } }
  lab:
    nodes: [{ host: lab.lan }]
    auth: { user: alice@pve, password: { command: "echo s3cret" }, totp: "123456" }
    tls: { insecure: true }
"#;

fn connect(
    text: &str,
    cluster: Option<&str>,
    env: &[(&str, &str)],
) -> Result<ConnectionSettings, ConfigError> {
    parse(text).unwrap().connection(cluster, &env_of(env))
}

#[test]
fn connection_from_the_file() {
    let home = connect(TWO_CLUSTERS, Some("home"), &[("HOME_SECRET", "uuid-1")]).unwrap();
    assert_eq!(
        (home.cluster.as_str(), home.host.as_str(), home.port),
        ("home", "10.0.0.1", 8006)
    );
    assert_eq!(home.node.as_deref(), Some("pve1"));
    assert_eq!(
        home.endpoints[1],
        Endpoint {
            name: Some("pve2".into()),
            host: "10.0.0.2".into(),
            port: 8443
        }
    );
    assert_eq!(
        home.auth,
        AuthSettings::Token {
            token_id: "root@pam!cli".into(),
            secret: "uuid-1".into()
        }
    );
    assert_eq!(home.tls, TlsSettings::System);
    assert!(home.warnings.is_empty());

    // Only the chosen cluster's secrets are resolved: `lab` runs its command, `home`'s env is not needed.
    let lab = connect(TWO_CLUSTERS, Some("lab"), &[]).unwrap();
    assert_eq!(
        lab.auth,
        AuthSettings::Password {
            user: "alice@pve".into(),
            password: "s3cret".into(),
            totp: Some("123456".into())
        }
    );
    assert_eq!(lab.tls, TlsSettings::Insecure);
    assert_eq!(lab.warnings.len(), 2, "{:?}", lab.warnings);
    assert!(
        lab.warnings[0].starts_with("literal secret in config file (`clusters.lab.auth.totp`)")
    );
    assert!(lab.warnings[1].contains("verification is off for cluster `lab`"));
}

#[test]
fn choosing_a_cluster() {
    let check =
        |text: &str, cluster: Option<&str>, env: &[(&str, &str)], want: Result<&str, &str>| {
            let got = connect(text, cluster, env)
                .map(|c| c.cluster)
                .map_err(|e| e.to_string());
            assert_eq!(
                got,
                want.map(str::to_string).map_err(str::to_string),
                "{cluster:?} {env:?}"
            );
        };
    let secret = [("HOME_SECRET", "x")];
    check(
        TWO_CLUSTERS,
        Some("hme"),
        &[],
        Err(
            "no cluster named `hme` (did you mean `home`?)\n  hint: configured clusters: home, lab",
        ),
    );
    check(
        TWO_CLUSTERS,
        None,
        &[],
        Err(
            "several clusters are configured (home, lab) and no default_cluster\n  \
             hint: name one with --cluster NAME, or set default_cluster in the config",
        ),
    );
    check(
        &format!("default_cluster: home\n{TWO_CLUSTERS}"),
        None,
        &secret,
        Ok("home"),
    );
    check(
        "clusters:\n  only:\n    nodes: [{ host: h }]\n",
        None,
        &[],
        Ok("only"),
    );
    check("", None, &[("PROXMOX_HOST", "10.1.1.1")], Ok("10.1.1.1"));
    check(
        "",
        Some("adhoc"),
        &[("PROXMOX_HOST", "10.1.1.1")],
        Ok("adhoc"),
    );
    check(
        "",
        None,
        &[],
        Err(
            "no cluster is configured\n  hint: add one to c.yaml (see the sample cluster-config.yaml), or set \
             PROXMOX_HOST and PROXMOX_TOKEN_ID/PROXMOX_TOKEN_SECRET; or try --demo",
        ),
    );
}

#[test]
fn environment_overrides() {
    type Check = fn(&ConnectionSettings) -> bool;
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, Check);
    let cases: &[Case<'_>] = &[
        (
            &[
                ("HOME_SECRET", "x"),
                ("PROXMOX_HOST", "other"),
                ("PROXMOX_PORT", "9000"),
            ],
            Some("home"),
            |c| c.host == "other" && c.port == 9000 && c.endpoints.len() == 1 && c.node.is_none(),
        ),
        (
            &[("HOME_SECRET", "x"), ("PROXMOX_PORT", "9000")],
            Some("home"),
            |c| c.endpoints.iter().all(|e| e.port == 9000),
        ),
        (
            &[("HOME_SECRET", "x"), ("PROXMOX_NODE", "pve9")],
            Some("home"),
            |c| c.node.as_deref() == Some("pve9"),
        ),
        (&[("PROXMOX_TOKEN_SECRET", "from-env")], Some("home"), |c| {
            c.auth
                == AuthSettings::Token {
                    token_id: "root@pam!cli".into(),
                    secret: "from-env".into(),
                }
        }),
        (
            &[
                ("PROXMOX_TOKEN_ID", "ci"),
                ("PROXMOX_USER", "bot@pve"),
                ("PROXMOX_TOKEN_SECRET", "t"),
            ],
            Some("lab"),
            |c| {
                c.auth
                    == AuthSettings::Token {
                        token_id: "bot@pve!ci".into(),
                        secret: "t".into(),
                    }
            },
        ),
        (
            &[("HOME_SECRET", "x"), ("PROXMOX_TOKEN_ID", "root@pam!other")],
            Some("home"),
            |c| {
                // The file's secret source still applies when only the ID comes from the environment.
                matches!(&c.auth, AuthSettings::Token { token_id, .. } if token_id == "root@pam!other")
            },
        ),
        (
            &[("PROXMOX_PASSWORD", "pw"), ("PROXMOX_USER", "root@pam")],
            Some("home"),
            |c| {
                c.auth
                    == AuthSettings::Password {
                        user: "root@pam".into(),
                        password: "pw".into(),
                        totp: None,
                    }
            },
        ),
        (
            &[("PROXMOX_PASSWORD", "pw")],
            Some("lab"),
            |c| matches!(&c.auth, AuthSettings::Password { user, password, totp: Some(_) } if user == "alice@pve" && password.expose() == "pw"),
        ),
        (
            &[("HOME_SECRET", "x"), ("PROXMOX_VERIFY_SSL", "no")],
            Some("home"),
            |c| c.tls == TlsSettings::Insecure,
        ),
        (&[("PROXMOX_VERIFY_SSL", "TRUE")], Some("lab"), |c| {
            c.tls == TlsSettings::System && c.warnings.len() == 1
        }),
        (
            &[
                ("PROXMOX_VERIFY_SSL", "0"),
                ("PROXMOX_FINGERPRINT", &"ab".repeat(32)),
            ],
            Some("lab"),
            |c| matches!(&c.tls, TlsSettings::Fingerprint(fp) if fp.starts_with("AB:AB:") && fp.len() == 95),
        ),
        (
            &[
                ("PROXMOX_HOST", "h"),
                ("PROXMOX_TOKEN_ID", "a@pam!t"),
                ("PROXMOX_TOKEN_SECRET", "s"),
            ],
            None,
            |c| c.cluster == "h" && c.port == 8006 && matches!(c.auth, AuthSettings::Token { .. }),
        ),
        (&[("PROXMOX_HOST", "h"), ("PROXMOX_USER", "")], None, |c| {
            c.auth == AuthSettings::None
        }),
    ];
    for (env, cluster, check) in cases {
        let text = if env.iter().any(|(k, _)| *k == "PROXMOX_HOST") && cluster.is_none() {
            ""
        } else {
            TWO_CLUSTERS
        };
        let got = connect(text, *cluster, env).unwrap();
        assert!(check(&got), "{env:?}: {got:?}");
    }
}

#[test]
fn bad_environment_values_are_named() {
    let check = |env: &[(&str, &str)], want: &str| {
        let err = connect(TWO_CLUSTERS, Some("home"), env).unwrap_err();
        assert_eq!(err.message(), want, "{env:?}");
    };
    let secret = ("HOME_SECRET", "x");
    check(
        &[secret, ("PROXMOX_PORT", "http")],
        "environment variable PROXMOX_PORT: `http` is not a port number",
    );
    check(
        &[secret, ("PROXMOX_VERIFY_SSL", "maybe")],
        "environment variable PROXMOX_VERIFY_SSL: `maybe` is not a boolean",
    );
    check(
        &[secret, ("PROXMOX_USER", "root")],
        "environment variable PROXMOX_USER: user `root` needs a realm: write e.g. root@pam or alice@pve",
    );
    check(
        &[("PROXMOX_TOKEN_ID", "cli")],
        "environment variable PROXMOX_TOKEN_ID: token ID `cli` needs its user: write `user@realm!cli`",
    );
    check(
        &[secret, ("PROXMOX_HOST", "https://x")],
        "environment variable PROXMOX_HOST: `https://x` is a URL: write only the host name or address; the port goes in `port`",
    );
    check(
        &[],
        "secret `clusters.home.auth.token_secret`: environment variable HOME_SECRET is not set",
    );
    let lab_pw = connect(TWO_CLUSTERS, Some("lab"), &[("PROXMOX_TOKEN_SECRET", "s")]).unwrap_err();
    assert_eq!(
        lab_pw.message(),
        "environment variable PROXMOX_TOKEN_SECRET: is set but there is no token ID"
    );
}

#[test]
fn secret_sources_in_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "from-file\n").unwrap();
    let text = |source: &str| {
        format!(
            "clusters:\n  c:\n    nodes: [{{ host: h }}]\n    auth: {{ token_id: \"a@pam!t\", token_secret: {source} }}\n"
        )
    };
    let check = |source: String, want: Result<&str, &str>| {
        let got = connect(&text(&source), None, &[("S", "from-env")]);
        let got = got.map(|c| match c.auth {
            AuthSettings::Token { secret, .. } => secret.expose().to_string(),
            other => format!("{other:?}"),
        });
        assert_eq!(
            got.map_err(|e| e.message()),
            want.map(str::to_string).map_err(str::to_string),
            "{source}"
        );
    };
    check("{ env: S }".into(), Ok("from-env"));
    check(
        format!("{{ file: \"{}\" }}", file.display()),
        Ok("from-file"),
    );
    check("{ command: \"echo s3cret\" }".into(), Ok("s3cret"));
    check(
        "{ command: \"echo nope; false\" }".into(),
        Err("secret `clusters.c.auth.token_secret`: command `echo …` failed (exit status: 1)"),
    );
    check("lit-value".into(), Ok("lit-value"));
}

#[test]
fn debug_output_never_contains_secret_values() {
    let text = "clusters:\n  c:\n    nodes: [{ host: h }]\n    auth: { user: root@pam, password: hunter2, totp: { command: \"false --seed SEEDSEED\" } }\n";
    let config = parse(text).unwrap();
    let settings = config.connection(None, &env_of(&[])).unwrap_err();
    // The TOTP command fails; its error must not echo its arguments, which may hold a seed.
    assert!(!settings.to_string().contains("SEEDSEED"), "{settings}");
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("SEEDSEED"),
        "{debug}"
    );

    let text = "clusters:\n  c:\n    nodes: [{ host: h }]\n    auth: { user: root@pam, password: hunter2, totp: { command: \"echo 424242\" } }\n";
    let settings = parse(text).unwrap().connection(None, &env_of(&[])).unwrap();
    let debug = format!("{settings:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("424242"),
        "{debug}"
    );
    assert!(debug.contains("<redacted>"));
    let token = connect(
        TWO_CLUSTERS,
        Some("home"),
        &[("HOME_SECRET", "uuid-secret")],
    )
    .unwrap();
    assert!(!format!("{token:?}").contains("uuid-secret"));
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
fn tilde_expansion() {
    let home = dirs::home_dir().unwrap();
    assert_eq!(expand_tilde(Path::new("~/a/b")), home.join("a/b"));
    assert_eq!(expand_tilde(Path::new("~")), home);
    assert_eq!(expand_tilde(Path::new("/abs/~x")), Path::new("/abs/~x"));
    assert_eq!(expand_tilde(Path::new("~other/x")), Path::new("~other/x"));
}
