//! The binary end to end: `--demo`, `-c`, `-f`, standard input, `--json`, errors and exit codes.

use crate::common::{TestSim, bin, demo, split};

#[test]
fn demo_ls_lists_the_demo_guests() {
    let (code, out, err) = demo("ls");
    assert_eq!(code, 0, "stderr: {err}");
    for name in ["web01", "web02", "db01", "ci-runner-01", "debian-12-cloud"] {
        assert!(out.contains(name), "ls output lacks {name}:\n{out}");
    }
    let header = out.lines().next().unwrap();
    assert!(
        header.starts_with("vmid") && header.contains("status"),
        "{header}"
    );
}

#[test]
fn pipeline_filters_and_counts() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("ls | where tags has ci | count");
    assert_eq!((code, out.trim()), (0, "3"), "stderr: {err}");
    let (code, out, _) = sim.run("ls | where status=running and tags has prod | get name");
    assert_eq!(code, 0);
    let names: Vec<&str> = out.lines().collect();
    assert_eq!(
        names,
        ["web01", "web02", "db01", "db-replica", "cache01", "lb01"]
    );
}

#[test]
fn status_by_name_and_vmid_agree() {
    let sim = TestSim::demo();
    let (code, by_name, err) = sim.run("status web01");
    assert_eq!(code, 0, "{err}");
    let (_, by_id, _) = sim.run("status 101");
    assert!(
        by_name.contains("vmid:") && by_name.contains("101"),
        "{by_name}"
    );
    assert!(by_name.contains("running"), "{by_name}");
    assert_eq!(by_name.lines().next(), by_id.lines().next());
}

/// What the simulator received since request `from`: (method, route template).
fn received_since(sim: &TestSim, from: usize) -> Vec<(String, String)> {
    sim.handle.request_log()[from..]
        .iter()
        .map(|r| (r.method.clone(), r.template.clone()))
        .collect()
}

#[test]
fn a_listing_is_one_request_with_a_token_and_a_login_plus_one_with_a_password() {
    use pvesh_plus::secret::Secret;
    let sim = TestSim::start(pvesh_plus::sim::SimOptions {
        tokens: vec![("root@pam!ls".into(), Secret::new("ls-token-secret"))],
        ..pvesh_plus::sim::SimOptions::logical()
    });
    let listing = [("GET".to_string(), "/cluster/resources".to_string())];
    let token = |args: &[&str]| {
        let from = sim.handle.request_log().len();
        let (code, out, err) = split(
            crate::common::std_cmd(sim.home.path())
                .args([
                    "--url",
                    &sim.handle.url(),
                    "--fingerprint",
                    &sim.handle.fingerprint(),
                ])
                .args(args)
                .env("PROXMOX_TOKEN_ID", "root@pam!ls")
                .env("PROXMOX_TOKEN_SECRET", "ls-token-secret")
                .output()
                .unwrap(),
        );
        assert_eq!(code, 0, "{args:?}: {err}");
        (out, received_since(&sim, from))
    };
    for args in [
        &["-c", "ls"][..],
        &["--json", "-c", "ls"],
        &["-c", "ls | count"],
    ] {
        let (out, sent) = token(args);
        assert!(
            out.contains("web01") || out.trim().parse::<u32>().is_ok(),
            "{out}"
        );
        assert_eq!(sent, listing, "{args:?}: one request with a token");
    }
    let from = sim.handle.request_log().len();
    let (code, out, err) = sim.run("ls");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("web01"), "{out}");
    assert_eq!(
        received_since(&sim, from),
        [
            ("POST".to_string(), "/access/ticket".to_string()),
            listing[0].clone()
        ],
        "a login, then the listing"
    );
}

#[test]
fn sim_log_requests_prints_each_request_answered() {
    use std::io::{BufRead, BufReader};
    let mut sim = std::process::Command::new(env!("CARGO_BIN_EXE_pvesh-plus"))
        .args(["sim", "--listen", "127.0.0.1:0", "--password", "log-pw"])
        .args(["--speed", "0", "--log-requests"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = sim.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // A safety net against a hung test, not a timing assumption.
    let next = || rx.recv_timeout(crate::common::WAIT_LIMIT).unwrap();
    let (mut url, mut fp) = (String::new(), String::new());
    while url.is_empty() || fp.is_empty() {
        let line = next();
        if let Some(u) = line.strip_prefix("pvesh+ simulator listening on ") {
            url = u.to_string();
        }
        if let Some(f) = line.strip_prefix("certificate fingerprint (SHA-256): ") {
            fp = f.to_string();
        }
    }
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = split(
        crate::common::std_cmd(home.path())
            .args(["--url", &url, "--fingerprint", &fp, "-c", "ls | count"])
            .env("PROXMOX_USER", "root@pam")
            .env("PROXMOX_PASSWORD", "log-pw")
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{err}");
    let mut logged = Vec::new();
    while logged.len() < 2 {
        let line = next();
        if line.starts_with("request: ") {
            logged.push(line);
        }
    }
    let _ = sim.kill();
    let _ = sim.wait();
    assert_eq!(
        logged,
        [
            "request: POST /api2/json/access/ticket 200",
            "request: GET /api2/json/cluster/resources 200"
        ]
    );
}

#[test]
fn json_of_ls_is_every_guest_record_in_order() {
    let sim = TestSim::demo();
    let json = |line: &str| -> serde_json::Value {
        let (code, out, err) = split(sim.cmd().args(["--json", "-c", line]).output().unwrap());
        assert_eq!(code, 0, "{line}: {err}");
        assert!(out.ends_with("]\n"), "{out}");
        let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
        // Each request moves the simulated clock, and with it the uptimes.
        for g in v.as_array_mut().unwrap() {
            assert!(g["uptime"].is_u64(), "{g}");
            g["uptime"] = serde_json::Value::Null;
        }
        v
    };
    // `ls` streams the guests; `ls | first 1000` goes through records: the same JSON.
    let streamed = json("ls");
    assert_eq!(streamed, json("ls | first 1000"));
    let first = streamed[0].as_object().unwrap();
    assert_eq!(first["name"], "web01");
    assert_eq!(
        first.keys().map(String::as_str).collect::<Vec<_>>(),
        pvesh_plus::inventory::Guest::FIELDS
    );
    assert_eq!(json("ls --type lxc"), json("ls | where type = lxc"));
}

#[test]
fn json_output_is_machine_readable() {
    let sim = TestSim::demo();
    let (code, out, err) = split(
        sim.cmd()
            .args(["--json", "-c", "ls | where name = web01"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "web01");
    assert_eq!(v[0]["vmid"], 101);
    assert!(
        v[0]["maxmem"].as_u64().unwrap() > 0,
        "sizes are plain numbers in JSON: {v}"
    );
}

#[test]
fn aggregates_in_json_stay_numbers() {
    let sim = TestSim::demo();
    let json = |line: &str| {
        let (code, out, err) = split(sim.cmd().args(["--json", "-c", line]).output().unwrap());
        assert_eq!(code, 0, "{line}: {err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let total = json("ls | sum maxmem");
    assert!(
        total.as_u64().unwrap() > 0,
        "a sum of sizes is bytes: {total}"
    );
    assert!(json("ls | avg cpu").is_f64());
    let groups =
        json("ls | group-by node --sum maxmem --max uptime | select node sum.maxmem max.uptime");
    let per_node: u64 = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["sum.maxmem"].as_u64().unwrap())
        .sum();
    assert_eq!(per_node, total.as_u64().unwrap());
    assert!(groups[0]["max.uptime"].as_u64().is_some(), "{groups}");
}

#[test]
fn nodes_version_and_tasks_answer() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("nodes | get node");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["pve1", "pve2", "pve3"]);
    let (code, out, err) = sim.run("version");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version:"), "{out}");
    let (code, _, err) = sim.run("tasks --limit 3");
    assert_eq!(code, 0, "{err}");
}

#[test]
fn unknown_guest_suggests_names() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("status webb");
    assert_eq!(code, 1);
    assert!(
        err.contains("no guest 'webb'") && err.contains("did you mean web01, web02"),
        "{err}"
    );
}

#[test]
fn parse_error_exits_2_with_a_caret() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("ls | where mem >");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains('^'), "no caret in: {err}");
    let (code, _, err) = sim.run("lss");
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown command 'lss'") && err.contains("did you mean ls"),
        "{err}"
    );
}

#[test]
fn batch_file_stops_at_the_first_error_and_names_the_line() {
    let sim = TestSim::demo();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.pve");
    std::fs::write(&script, "# a comment\nversion\n\nstatus nosuchvm\nnodes\n").unwrap();
    let (code, out, err) = split(sim.cmd().arg("-f").arg(&script).output().unwrap());
    assert_eq!(code, 1);
    assert!(
        err.contains("script.pve:4: error: no guest 'nosuchvm'"),
        "{err}"
    );
    assert!(!out.contains("pve1"), "the line after the error ran: {out}");

    let (code, out, err) = split(
        sim.cmd()
            .arg("-f")
            .arg(&script)
            .arg("--keep-going")
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("pve1"),
        "--keep-going did not run the rest: {out}"
    );
}

#[test]
fn batch_parse_error_exits_2() {
    let sim = TestSim::demo();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.pve");
    std::fs::write(&script, "ls | where (status = running\n").unwrap();
    let (code, _, err) = split(sim.cmd().arg("-f").arg(&script).output().unwrap());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.pve:1:"), "{err}");
}

#[test]
fn lines_from_standard_input() {
    let sim = TestSim::demo();
    let (code, out, err) = split(
        sim.cmd()
            .write_stdin("ls | where name = db01 | get vmid\n")
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "103");
}

#[test]
fn wrong_fingerprint_is_refused_with_both_fingerprints() {
    let sim = TestSim::demo();
    let wrong = "AA:".repeat(31) + "AA";
    let (code, _, err) = split(
        bin()
            .args([
                "--url",
                &sim.handle.url(),
                "--fingerprint",
                &wrong,
                "-c",
                "version",
            ])
            .env("PROXMOX_USER", "root@pam")
            .env("PROXMOX_PASSWORD", crate::common::PASSWORD)
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&wrong), "expected fingerprint missing: {err}");
    assert!(
        err.contains(&sim.handle.fingerprint()),
        "presented fingerprint missing: {err}"
    );
}

#[test]
fn bad_password_is_an_auth_error_without_the_secret() {
    let sim = TestSim::demo();
    let (code, _, err) = split(
        bin()
            .args([
                "--url",
                &sim.handle.url(),
                "--fingerprint",
                &sim.handle.fingerprint(),
                "-c",
                "version",
            ])
            .env("PROXMOX_USER", "root@pam")
            .env("PROXMOX_PASSWORD", "wrong-secret-xyz")
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("authentication failure"), "{err}");
    assert!(
        !err.contains("wrong-secret-xyz"),
        "the password leaked: {err}"
    );
}

#[test]
fn ls_is_one_request_whatever_the_node_count() {
    let sim = TestSim::start(pvesh_plus::sim::SimOptions {
        scenario: pvesh_plus::sim::Scenario::Generated {
            guests: 2000,
            nodes: 32,
        },
        ..pvesh_plus::sim::SimOptions::logical()
    });
    let before = sim.handle.count("GET", "/cluster/resources");
    let (code, out, err) = sim.run("ls | count");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "2000");
    assert_eq!(sim.handle.count("GET", "/cluster/resources") - before, 1);
    let per_node: usize = sim
        .handle
        .request_log()
        .iter()
        .filter(|r| {
            r.template.starts_with("/nodes/{node}/qemu")
                || r.template.starts_with("/nodes/{node}/lxc")
        })
        .count();
    assert_eq!(per_node, 0, "ls asked nodes one by one");
}

#[test]
fn help_lists_commands_and_examples() {
    let (code, out, _) = split(
        bin()
            .args(["--demo", "-c", "help status"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("status [VM]") && out.contains("status web01"),
        "{out}"
    );
    let (_, out, _) = split(bin().args(["--demo", "-c", "help"]).output().unwrap());
    assert!(
        out.contains("Exit codes") && out.contains("sort-by"),
        "{out}"
    );
}

/// The column of `needle` in the line of `text` that holds it.
fn column_of(text: &str, needle: &str) -> usize {
    text.lines()
        .find_map(|l| l.find(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in {text}"))
}

#[test]
fn parse_error_carets_sit_under_the_bad_spot_in_c_and_f_runs() {
    let sim = TestSim::demo();
    let (code, _, err) = sim.run("ls | where mem >");
    assert_eq!(code, 2, "{err}");
    assert_eq!(column_of(&err, "^"), column_of(&err, ">"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.pve");
    std::fs::write(&script, "ls | where mem >\n").unwrap();
    let (code, _, err) = split(sim.cmd().arg("-f").arg(&script).output().unwrap());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("script.pve:1: error: ls | where mem >"),
        "{err}"
    );
    assert_eq!(column_of(&err, "^"), column_of(&err, ">"), "{err}");
}

#[test]
fn a_misspelt_field_is_an_error_that_suggests_the_right_one() {
    let sim = TestSim::demo();
    for line in [
        "ls | where stauts=running",
        "ls | select vmid stauts",
        "ls | get stauts",
        "ls | sort-by stauts",
    ] {
        let (code, out, err) = sim.run(line);
        assert_ne!(code, 0, "{line}: {out}");
        assert!(
            err.contains("no field 'stauts' (did you mean status?); available fields: vmid, name"),
            "{line}: {err}"
        );
    }
}

#[test]
fn semicolons_separate_pipelines_and_stop_at_the_first_error() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("ls | where tags has ci | count; nodes | count");
    assert_eq!((code, out.as_str()), (0, "3\n3\n"), "{err}");
    // The second fails: the third does not run, and the code is the failure's.
    let (code, out, err) = sim.run("nodes | count; status nosuch; ls | count");
    assert_eq!((code, out.as_str()), (1, "3\n"), "{err}");
    assert!(err.contains("no guest 'nosuch'"), "{err}");
    // Inside quotes or inside a word, ';' is text.
    let (_, all, _) = sim.run("ls | count");
    let (code, out, err) = sim.run("ls | where name != 'x; y' and name != x;y | count");
    assert_eq!((code, out.as_str()), (0, all.as_str()), "{err}");
    let (code, _, err) = sim.run("ls;nodes");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("put a space after the ';'"), "{err}");
    // A parse error in the second pipeline points into it.
    let (code, out, err) = sim.run("nodes | count; ls | where mem >");
    assert_eq!((code, out.as_str()), (2, "3\n"), "{err}");
    assert_eq!(column_of(&err, "^"), column_of(&err, ">"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.pve");
    std::fs::write(&script, "nodes | count; status nosuch; version\nversion\n").unwrap();
    let (code, out, err) = split(sim.cmd().arg("-f").arg(&script).output().unwrap());
    assert_eq!((code, out.as_str()), (1, "3\n"), "{err}");
    assert!(
        err.contains("script.pve:1: error: no guest 'nosuch'"),
        "{err}"
    );
}

#[test]
fn hints_fit_the_failure_token_refusal_tls_off_once_and_501() {
    let sim = TestSim::demo();
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) = split(
        crate::common::std_cmd(home.path())
            .args(["--url", &sim.handle.url(), "-c", "version"])
            .env("PROXMOX_VERIFY_SSL", "false")
            .env("PROXMOX_TOKEN_ID", "root@pam!nosuch")
            .env("PROXMOX_TOKEN_SECRET", "wrong")
            .output()
            .unwrap(),
    );
    assert_ne!(code, 0, "{err}");
    assert_eq!(
        err.matches("warning:").count(),
        1,
        "the TLS warning once: {err}"
    );
    assert!(err.contains("the API token was refused"), "{err}");
    assert!(
        err.contains("token id") && err.contains("privilege separation"),
        "{err}"
    );
    assert!(!err.contains("TOTP"), "{err}");

    // No schema loaded: a neutral 501 hint; with the schema: what it knows.
    let (_, _, err) = sim.run("get /nosuch/thing");
    assert!(!err.contains("does not have this API call"), "{err}");
    let (_, _, err) = sim.run("usage /version; get /nosuch/thing");
    assert!(err.contains("no such API path: /nosuch/thing"), "{err}");
    let (_, _, err) = sim.run("usage /version; create /version");
    assert!(
        err.contains("/version has no POST method; it has: GET"),
        "{err}"
    );
}

/// `--help`, and each subcommand's, fits 80 columns (clap wraps at words).
#[test]
fn command_line_help_fits_80_columns() {
    for sub in [&[][..], &["mcp"], &["sim"], &["approve"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pvesh-plus"))
            .args(sub)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{sub:?}: {text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{sub:?}: {line}");
        }
    }
}
