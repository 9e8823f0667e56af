//! Choosing a cluster, environment overrides, secret sources and redaction.

use super::*;

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
