//! Several clusters in one session: two simulators, one config naming both (and a third that
//! never answers), `context ls` / `context use`, merged reads with `--cluster a,b`, actions on a
//! merged set staged and committed per cluster, and a cluster going away mid-run.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use crate::common::{PASSWORD, TestSim, split, state, std_cmd};

/// Two simulators (`home`: the demo cluster; `lab`: five generated guests) and a home whose
/// config names them, plus `gone`, a port nothing listens on.
struct Two {
    home: TestSim,
    lab: TestSim,
    dir: tempfile::TempDir,
}

fn port_of(url: &str) -> String {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string()
}

impl Two {
    fn start() -> Two {
        let home = TestSim::demo();
        let lab = TestSim::start(pvesh_plus::sim::SimOptions {
            scenario: pvesh_plus::sim::Scenario::Generated {
                guests: 5,
                nodes: 2,
            },
            // The seed `pvesh-plus sim` uses: guest 101 runs.
            seed: 1,
            ..pvesh_plus::sim::SimOptions::logical()
        });
        let dir = tempfile::tempdir().unwrap();
        // A port that was free a moment ago: nothing answers there.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone_port = free.local_addr().unwrap().port();
        drop(free);
        let config = format!(
            "default_cluster: home\nclusters:\n{}{}{}",
            Self::entry("home", &home.handle.url(), &home.handle.fingerprint()),
            Self::entry("lab", &lab.handle.url(), &lab.handle.fingerprint()),
            Self::entry(
                "gone",
                &format!("https://127.0.0.1:{gone_port}"),
                &lab.handle.fingerprint()
            ),
        );
        let conf_dir = dir.path().join("config/pvesh-plus");
        std::fs::create_dir_all(&conf_dir).unwrap();
        std::fs::write(conf_dir.join("cluster-config.yaml"), config).unwrap();
        Two { home, lab, dir }
    }

    fn entry(name: &str, url: &str, fingerprint: &str) -> String {
        format!(
            "  {name}:\n    nodes: [{{ host: 127.0.0.1, port: {} }}]\n    \
             auth: {{ user: root@pam, password: {{ env: TEST_PW }} }}\n    \
             tls: {{ fingerprint: \"{fingerprint}\" }}\n",
            port_of(url)
        )
    }

    fn cmd(&self) -> std::process::Command {
        let mut cmd = std_cmd(self.dir.path());
        cmd.env("TEST_PW", PASSWORD);
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        split(self.cmd().args(args).output().unwrap())
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("state/pvesh-plus/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn json(out: &str) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn context_ls_marks_the_current_cluster_and_says_which_answer() {
    let two = Two::start();
    let (code, out, err) = two.run(&["--json", "-c", "context ls"]);
    assert_eq!(code, 0, "{err}");
    let rows = json(&out);
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["cluster"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["home", "lab", "gone"]);
    assert_eq!(rows[0]["current"], true);
    assert_eq!(rows[1]["current"], false);
    assert_eq!(rows[0]["reachable"], true);
    assert_eq!(rows[1]["reachable"], true);
    assert_eq!(
        rows[1]["server"],
        two.lab.handle.url().trim_end_matches('/')
    );
    assert_eq!(rows[2]["reachable"], false);
    assert!(
        rows[2]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{out}"
    );
}

#[test]
fn a_read_on_two_clusters_merges_their_records_with_a_cluster_field() {
    let two = Two::start();
    let home_guests = state(&two.home, |s| s.guests.len());
    let lab_guests = state(&two.lab, |s| s.guests.len());
    assert_ne!(home_guests, lab_guests);
    let (code, out, err) = two.run(&["--json", "-c", "ls --cluster home,lab"]);
    assert_eq!(code, 0, "{err}");
    let rows = json(&out);
    assert_eq!(rows.len(), home_guests + lab_guests);
    let on = |c: &str| rows.iter().filter(|r| r["cluster"] == c).count();
    assert_eq!(on("home"), home_guests);
    assert_eq!(on("lab"), lab_guests);
    // The current cluster's rows come first, in the order named.
    assert_eq!(rows[0]["cluster"], "home");
    assert_eq!(rows.last().unwrap()["cluster"], "lab");

    // The same from the command line for every line, and through a pipe.
    let (code, out, _) = two.run(&[
        "--json",
        "--cluster",
        "home,lab",
        "-c",
        "ls | group-by cluster | select cluster count",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!([
            {"cluster": "home", "count": home_guests},
            {"cluster": "lab", "count": lab_guests}
        ])
    );

    // A cluster the config does not name is a usage error that lists those it does.
    let (code, _, err) = two.run(&["-c", "ls --cluster home,labb"]);
    assert_eq!(code, 2);
    assert!(err.contains("no cluster 'labb'"), "{err}");
    assert!(err.contains("did you mean lab?"), "{err}");

    // --cluster is for a line's first read.
    let (code, _, err) = two.run(&["-c", "ls | stop --cluster lab"]);
    assert_eq!(code, 2);
    assert!(err.contains("goes on a line's first read"), "{err}");
}

#[test]
fn an_unreachable_cluster_is_reported_in_its_row_and_the_others_answer() {
    let two = Two::start();
    let home_guests = state(&two.home, |s| s.guests.len());
    let lab_guests = state(&two.lab, |s| s.guests.len());
    let (code, out, err) = two.run(&["--json", "-c", "ls --all-clusters"]);
    assert_eq!(code, 0, "{err}");
    let rows = json(&out);
    assert_eq!(rows.len(), home_guests + lab_guests + 1);
    let gone: Vec<_> = rows.iter().filter(|r| r["cluster"] == "gone").collect();
    assert_eq!(gone.len(), 1);
    assert!(
        gone[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
    assert!(err.contains("cluster gone: cannot connect"), "{err}");

    // The same for every line of a run, from the command line.
    let (code, again, _) = two.run(&["--all-clusters", "--json", "-c", "ls"]);
    assert_eq!(code, 0);
    assert_eq!(json(&again).len(), rows.len());
}

#[test]
fn a_cluster_stopped_mid_run_is_reported_while_the_other_still_answers() {
    let mut two = Two::start();
    let lab_guests = state(&two.lab, |s| s.guests.len());
    let mut child = two
        .cmd()
        .args(["--json", "--cluster", "home,lab"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    writeln!(
        stdin,
        "ls | group-by cluster | select cluster count | to json"
    )
    .unwrap();
    let mut first = String::new();
    // `to json` prints the whole array; read up to its closing bracket.
    while !first.trim_end().ends_with(']') {
        assert!(stdout.read_line(&mut first).unwrap() > 0, "{first}");
    }
    assert!(first.contains("\"lab\""), "{first}");
    assert!(
        first.contains(&format!("\"count\": {lab_guests}")),
        "{first}"
    );

    // The lab cluster goes away (open connections drop, new ones are refused); the session's
    // next read still answers for home.
    two.lab.handle.set_faults(pvesh_plus::sim::Faults {
        drop_rate: 1.0,
        ..Default::default()
    });
    let TestSim {
        handle, _runtime, ..
    } = std::mem::replace(&mut two.lab, TestSim::demo());
    _runtime.block_on(handle.shutdown());
    writeln!(stdin, "ls | where cluster=lab | to json").unwrap();
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{rest}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(rest.trim()).unwrap();
    assert_eq!(rows.len(), 1, "{rest}");
    assert!(rows[0]["error"].is_string(), "{rest}");
}

#[test]
fn actions_on_a_merged_set_stage_per_cluster_and_commit_commits_each() {
    let two = Two::start();
    let script = two.dir.path().join("both.pve");
    std::fs::write(
        &script,
        "ls --cluster home,lab | where vmid=101 | stop\npending\ncommit\n",
    )
    .unwrap();
    assert!(state(&two.home, |s| s.guests[&101].is_running()));
    assert!(state(&two.lab, |s| s.guests[&101].is_running()));
    let (code, out, err) = two.run(&["-f", script.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    // `pending` showed each cluster's plan.
    assert!(out.contains("home     1  stop     101  web01"), "{out}");
    assert!(out.contains("lab      1  stop     101  gen-00001"), "{out}");
    // Progress says whose it is.
    assert!(err.contains("lab: staged 1 change(s)"), "{err}");
    assert!(
        err.contains("lab: [1/1] gen-00001 (101): stop done"),
        "{err}"
    );
    assert!(err.contains("home: [1/1] web01 (101): stop done"), "{err}");
    // The outcome table has a row per cluster.
    assert!(
        out.contains("lab      1   101  gen-00001  pve2  stop    done"),
        "{out}"
    );
    assert!(!state(&two.home, |s| s.guests[&101].is_running()));
    assert!(!state(&two.lab, |s| s.guests[&101].is_running()));
    // Each cluster's call is in the audit log under its own cluster.
    let calls: Vec<String> = two
        .audit()
        .iter()
        .filter(|l| l["event"] == "call")
        .map(|l| l["cluster"].as_str().unwrap().to_string())
        .collect();
    assert!(calls.contains(&"home".to_string()), "{calls:?}");
    assert!(calls.contains(&"lab".to_string()), "{calls:?}");
    // Nothing is left pending on either.
    let (_, out, _) = two.run(&["--json", "--cluster", "home,lab", "-c", "pending"]);
    assert_eq!(out.trim(), "[]", "{out}");
}

#[test]
fn context_use_switches_the_session_and_each_cluster_keeps_its_own_plan() {
    let two = Two::start();
    let script = two.dir.path().join("switch.pve");
    std::fs::write(
        &script,
        "use web01\ncontext use lab\ncontext | get cluster\nstop 101\ncontext use home\n\
         context | get vm\npending\n",
    )
    .unwrap();
    let (code, out, err) = two.run(&["-f", script.to_str().unwrap()]);
    // The stop is left pending on lab: a batch that ends so exits 5 and says on which cluster.
    assert_eq!(code, 5, "{out}\n{err}");
    assert!(err.contains("now on cluster lab"), "{err}");
    assert!(err.contains("1 change(s) pending on cluster lab"), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "lab", "{out}");
    // Back on home, its current VM is still set.
    assert!(lines.contains(&"web01 (101)"), "{out}");
    // `pending` shows the lab's plan, with its cluster.
    assert!(out.contains("lab      1  stop     101  gen-00001"), "{out}");
    assert!(state(&two.lab, |s| s.guests[&101].is_running()));

    // A later session on home says lab's plan is waiting, without connecting to lab.
    let served = two.lab.handle.requests_served();
    let (code, _, err) = two.run(&["-c", "version"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("cluster lab has 1 change(s) pending from an earlier session"),
        "{err}"
    );
    assert_eq!(two.lab.handle.requests_served(), served);
    let (_, out, _) = two.run(&["-c", "context use lab; pending"]);
    assert!(out.contains("1  stop     101  gen-00001"), "{out}");

    // An unknown cluster is refused and the session stays where it was.
    let (code, _, err) = two.run(&["-c", "context use nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no cluster 'nope'"), "{err}");
    let (code, _, err) = two.run(&["-c", "context use gone; context | get cluster"]);
    assert_eq!(code, 1);
    assert!(err.contains("still on cluster home"), "{err}");
}

#[test]
fn the_prompt_follows_context_use() {
    let two = Two::start();
    let mut cmd = two.cmd();
    cmd.env("COLUMNS", "80");
    let mut pty = crate::common::Pty::spawn(cmd, 20_000);
    pty.exp_string("home> ").unwrap();
    pty.send_line("context use lab").unwrap();
    pty.exp_string("now on cluster lab").unwrap();
    pty.exp_string("lab> ").unwrap();
    pty.send_line("context use home").unwrap();
    pty.exp_string("home> ").unwrap();
    pty.send_line("exit").unwrap();
    pty.exp_eof().unwrap();
}
