//! `rbac bootstrap`, `rbac features` and `whoami --privs` against the simulator: the token it
//! makes logs in and can do what its role grants and nothing more, and its secret goes only to
//! the store command.

use std::path::Path;

use crate::common::{TestSim, refused, run_audited, split, state};

/// Every file under `dir`, as text (lossy), with its path.
fn files(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
}

/// Runs the bootstrap with `cat > FILE` as the store; returns (stdout, stderr, what the store
/// command got on its standard input).
fn bootstrap(sim: &TestSim, store: &Path, extra: &str) -> (String, String, String) {
    let line = format!("rbac bootstrap --store 'cat > {}' {extra}", store.display());
    let (out, err) = run_audited(sim, &line, 0);
    let stored = std::fs::read_to_string(store).expect("the store command ran");
    (out, err, stored)
}

/// The binary logged in with an API token instead of root's password.
fn as_token(sim: &TestSim, id: &str, secret: &str, line: &str) -> (i32, String, String) {
    split(
        sim.cmd()
            .env_remove("PROXMOX_USER")
            .env_remove("PROXMOX_PASSWORD")
            .env("PROXMOX_TOKEN_ID", id)
            .env("PROXMOX_TOKEN_SECRET", secret)
            .args(["-c", line])
            .output()
            .unwrap(),
    )
}

#[test]
fn bootstrap_makes_a_least_privilege_token_whose_secret_only_the_store_sees() {
    let sim = TestSim::demo();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("stored");
    let (out, err, stored) = bootstrap(&sim, &store, "");
    // The store got the secret on its first line and the token's id after it.
    let mut lines = stored.lines();
    let secret = lines.next().unwrap().to_string();
    assert_eq!(secret.len(), 36, "{stored}");
    assert_eq!(lines.next(), Some("token_id: pveshplus@pve!cli"));
    assert!(out.contains("piped to `cat > "), "{out}");
    assert!(
        err.contains("holds exactly the role's 27 privileges on /"),
        "{err}"
    );
    // The cluster now has the role, the user, the ACL and a token without privilege separation.
    let (privs, acl, privsep) = state(&sim, |s| {
        let privs = s
            .roles
            .get("ShellPlus.Operator")
            .cloned()
            .unwrap_or_default();
        let acl = s
            .acl
            .iter()
            .any(|e| e.path == "/" && e.ugid == "pveshplus@pve" && e.role == "ShellPlus.Operator");
        let privsep = s
            .users
            .get("pveshplus@pve")
            .map(|u| u.tokens.iter().find(|t| t.id == "cli").map(|t| t.privsep));
        (privs, acl, privsep)
    });
    assert!(privs.contains("VM.Snapshot") && privs.contains("VM.PowerMgmt"));
    for admin in [
        "Sys.Modify",
        "Permissions.Modify",
        "User.Modify",
        "Sys.PowerMgmt",
    ] {
        assert!(!privs.contains(admin), "the role holds {admin}");
    }
    assert!(acl, "no ACL on / for the user");
    assert_eq!(privsep, Some(Some(false)));

    // The secret is nowhere else: not in the output, the audit log, the journal or any file
    // of the session's home.
    assert!(!out.contains(&secret) && !err.contains(&secret));
    let mut all = Vec::new();
    files(sim.home.path(), &mut all);
    assert!(all.iter().any(|(p, _)| p.ends_with("audit.jsonl")));
    for (path, text) in &all {
        assert!(!text.contains(&secret), "the secret is in {path}");
    }

    // The token logs in; it may do what the role grants, not what it leaves out.
    let id = "pveshplus@pve!cli";
    let (code, out, err) = as_token(&sim, id, &secret, "whoami --privs");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("snapshots") && !out.contains(" no "), "{out}");
    assert!(err.contains("27 privilege(s) on /"), "{err}");
    assert!(!err.contains("Sys.Modify"), "{err}");
    let (code, out, err) = as_token(&sim, id, &secret, "snapshot web01 via-token; commit");
    assert_eq!(code, 0, "{out}\n{err}");
    let snapped = state(&sim, |s| {
        s.guests
            .values()
            .find(|g| g.name() == "web01")
            .is_some_and(|g| g.snapshots.iter().any(|n| n.name == "via-token"))
    });
    assert!(snapped, "the token's snapshot is not there");
    let (code, _, err) = as_token(
        &sim,
        id,
        &secret,
        "create /access/roles roleid=Mine privs=VM.Audit",
    );
    assert_ne!(code, 0);
    assert!(err.contains("Sys.Modify"), "{err}");
    // Nor can it bootstrap another account.
    let (code, _, err) = as_token(
        &sim,
        id,
        &secret,
        "rbac bootstrap --token two --show-secret",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "needs an administrator session: pveshplus@pve!cli lacks Sys.Modify on /access"
        ),
        "{err}"
    );
}

#[test]
fn bootstrap_refuses_what_it_cannot_finish_before_sending_anything() {
    let sim = TestSim::demo();
    refused(&sim, "rbac bootstrap", 2, "PVE shows it only once");
    refused(
        &sim,
        "rbac bootstrap --role PVEPlus --show-secret",
        2,
        "'PVE' namespace",
    );
    refused(
        &sim,
        "rbac bootstrap --user nobody --show-secret",
        2,
        "is not name@realm",
    );
    refused(
        &sim,
        "rbac bootstrap --features read,fly --show-secret",
        2,
        "no feature 'fly'",
    );
    refused(
        &sim,
        "rbac bootstrap --role Administrator --show-secret",
        2,
        "a built-in role cannot be changed",
    );
    // A dry run prints the four calls and sends none.
    let sent = sim.handle.mutating_count();
    let (out, _) = run_audited(&sim, "rbac bootstrap --dry-run", 0);
    assert_eq!(sim.handle.mutating_count(), sent);
    for call in [
        "/access/roles",
        "/access/users",
        "/access/acl",
        "/access/users/pveshplus%40pve/token/cli",
    ] {
        assert!(out.contains(call), "{call} missing:\n{out}");
    }
    // Once the token exists, a second bootstrap of it is refused: its secret is gone.
    let dir = tempfile::tempdir().unwrap();
    bootstrap(&sim, &dir.path().join("s"), "--features read");
    refused(
        &sim,
        "rbac bootstrap --show-secret",
        2,
        "token pveshplus@pve!cli exists already",
    );
}

#[test]
fn a_failing_store_command_takes_the_token_back_and_a_rerun_finishes() {
    let sim = TestSim::demo();
    let (err, _) = {
        let (out, err) = run_audited(&sim, "rbac bootstrap --store 'cat >/dev/null; exit 3'", 1);
        (err, out)
    };
    assert!(err.contains("the store command"), "{err}");
    assert!(err.contains("the token was deleted again"), "{err}");
    let tokens = state(&sim, |s| {
        s.users.get("pveshplus@pve").map(|u| u.tokens.len())
    });
    assert_eq!(tokens, Some(0), "the user stays, without a token");
    // The same bootstrap again: the role is updated, the user found, the token made.
    let dir = tempfile::tempdir().unwrap();
    let (_, err, stored) = bootstrap(&sim, &dir.path().join("s"), "");
    assert!(err.contains("role ShellPlus.Operator (updated"), "{err}");
    assert!(!err.contains("] user "), "the user was made twice:\n{err}");
    assert!(stored.contains("token_id: pveshplus@pve!cli"));
}

#[test]
fn the_simulator_checks_role_ids_and_privilege_names_as_pve_does() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("create /access/roles roleid=Plus privs=VM.Audit,VM.Monitor");
    assert_ne!(code, 0);
    assert!(err.contains("invalid privilege 'VM.Monitor'"), "{err}");
    let (code, _, err) = sim.run("create /access/roles roleid=pveMine privs=VM.Audit");
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot use role ID starting with the (case-insensitive) 'PVE' namespace"),
        "{err}"
    );
    let (code, out, err) = sim.run("create /access/roles roleid=Plus privs=VM.Audit");
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, _, err) = sim.run("create /access/roles roleid=Plus privs=VM.Audit");
    assert_ne!(code, 0);
    assert!(err.contains("role 'Plus' already exists"), "{err}");
    let (code, _, err) = sim.run("set /access/roles/PVEAuditor privs=VM.Audit");
    assert_ne!(code, 0);
    assert!(
        err.contains("auto-generated role 'PVEAuditor' cannot be modified"),
        "{err}"
    );
}
