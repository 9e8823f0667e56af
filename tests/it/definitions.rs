//! Declared guests against the demo cluster: `plan`, `apply` and `commit` converge the cluster
//! to a definitions file; undeclared guests are reported (destroyed only with `--prune`);
//! conflicts and changes to imported guests are refused before anything is staged; cluster
//! profiles go up and down as one unit.

use crate::common::{TestSim, refused, run_audited, state};

/// Writes `text` as a definitions file in the simulator's home; returns its path.
fn file(sim: &TestSim, name: &str, text: &str) -> String {
    let path = sim.home.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// web01 as the demo has it.
const WEB01: &str = "scope: {vmids: 101-106}\nguests:\n  - name: web01\n    vmid: 101\n    node: pve1\n    resources: {cores: 2, sockets: 1, memory: 4G}\n    tags: [prod, web]\n    onboot: true\n";

fn declared_rest() -> &'static str {
    "  - {name: web02, mode: imported}\n  - {name: db01, mode: imported}\n  - {name: db-replica, mode: imported}\n  - {name: cache01, mode: imported}\n  - {name: lb01, mode: imported}\n"
}

#[test]
fn plan_of_an_unchanged_cluster_is_empty_and_apply_commit_converges() {
    let sim = TestSim::demo();
    let f = file(&sim, "g.yaml", &format!("{WEB01}{}", declared_rest()));
    let (out, _) = run_audited(&sim, &format!("plan {f}"), 0);
    assert!(
        out.contains("no changes: the cluster matches the file"),
        "{out}"
    );
    // A new guest from the template, and a bigger web01.
    let more = format!(
        "{WEB01}{}  - name: app01\n    vmid: 300-301\n    template: debian-12-cloud\n    resources: {{cores: 2, memory: 2G}}\n    disks: {{scsi0: 10G}}\n    network: {{net0: {{bridge: vmbr0, vlan: 20}}}}\n    cloudinit: {{user: ops, ipconfig: ip=dhcp}}\n    tags: [app]\n    description: made by apply\n",
        declared_rest()
    )
    .replace("memory: 4G}\n    tags: [prod, web]", "memory: 6G}\n    tags: [prod, web]");
    let f = file(&sim, "g.yaml", &more);
    let (out, _) = run_audited(&sim, &format!("plan {f} | to json"), 0);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    let find = |change: &str, guest: &str| {
        rows.iter()
            .find(|r| r["change"] == change && r["guest"] == guest)
            .unwrap_or_else(|| panic!("no {change} row for {guest}: {out}"))
    };
    assert_eq!(find("create", "app01")["vmid"], 300);
    let mem = find("set", "web01");
    assert_eq!(mem["key"], "memory");
    assert_eq!(mem["from"], "4096");
    assert_eq!(mem["to"], "6144");
    assert_eq!(mem["when"], "waits for a reboot", "web01 runs: {mem}");
    assert_eq!(rows.len(), 2, "{out}");
    run_audited(&sim, &format!("apply {f}; commit"), 0);
    let (cfg, web_mem) = state(&sim, |s| {
        (
            s.guests[&300].config.clone(),
            s.guests[&101].pending.get("memory").cloned().flatten(),
        )
    });
    assert_eq!(cfg.get("cores").map(String::as_str), Some("2"));
    assert_eq!(cfg.get("memory").map(String::as_str), Some("2048"));
    assert_eq!(cfg.get("ciuser").map(String::as_str), Some("ops"));
    assert_eq!(
        cfg.get("description").map(String::as_str),
        Some("made by apply")
    );
    assert!(cfg["net0"].contains("tag=20"), "{:?}", cfg.get("net0"));
    assert!(cfg["scsi0"].contains("size=10G"), "{:?}", cfg.get("scsi0"));
    assert_eq!(web_mem.as_deref(), Some("6144"));
    let (out, _) = run_audited(&sim, &format!("plan {f}"), 0);
    assert!(out.contains("no changes"), "apply, commit, plan: {out}");
}

#[test]
fn a_stopped_guest_changes_now_and_undeclared_guests_are_kept_unless_pruned() {
    let sim = TestSim::demo();
    let f = file(
        &sim,
        "g.yaml",
        "scope: {tags: [lab]}\nguests:\n  - name: lab-k8s-03\n    resources: {cores: 4}\n",
    );
    let (out, _) = run_audited(&sim, &format!("plan {f}"), 0);
    let line = out
        .lines()
        .find(|l| l.starts_with("set"))
        .unwrap_or_default();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "set",
            "lab-k8s-03",
            "142",
            "pve3",
            "cores",
            "2",
            "4",
            "applies",
            "now"
        ],
        "lab-k8s-03 is stopped: {out}"
    );
    for name in ["lab-k8s-01", "lab-k8s-02"] {
        assert!(out.contains(&format!("undeclared  {name}")), "{out}");
    }
    assert!(!out.contains("web01"), "out of scope: {out}");
    let (out, _) = run_audited(&sim, &format!("plan {f} --prune"), 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("destroy") && l.contains("lab-k8s-01")),
        "{out}"
    );
    run_audited(&sim, &format!("apply {f} --prune; commit"), 0);
    let (has140, has141, cores142) = state(&sim, |s| {
        (
            s.guests.contains_key(&140),
            s.guests.contains_key(&141),
            s.guests[&142].config.get("cores").cloned(),
        )
    });
    assert!(!has140 && !has141, "pruned guests are destroyed");
    assert_eq!(cores142.as_deref(), Some("4"));
}

#[test]
fn vmid_conflicts_refuse_the_file() {
    let sim = TestSim::demo();
    let f = file(
        &sim,
        "g.yaml",
        "scope: {vmids: 900-901}\nguests:\n  - {name: other, vmid: 101}\n  - {name: a, vmid: 300}\n  - {name: b, vmid: 300}\n  - {name: c, vmid: 101-101}\n  - {name: web01, vmid: 199}\n",
    );
    let (out, _) = run_audited(&sim, &format!("plan {f}"), 0);
    for says in [
        "VMID 101 is taken by web01 on pve1",
        "VMID 300 is declared for a too",
        "no free VMID left in the range 101-101",
        "web01 exists as VMID 101, the file says 199",
    ] {
        assert!(out.contains(says), "{says}: {out}");
    }
    refused(&sim, &format!("apply {f}"), 2, "conflicts with the cluster");
}

#[test]
fn imported_guests_are_read_only() {
    let sim = TestSim::demo();
    let f = file(
        &sim,
        "g.yaml",
        "scope: {vmids: 140}\nguests:\n  - name: lab-k8s-01\n    mode: imported\n    resources: {cores: 8}\n",
    );
    let (out, _) = run_audited(&sim, &format!("plan {f}"), 0);
    assert!(out.contains("refused"), "{out}");
    refused(
        &sim,
        &format!("apply {f}"),
        4,
        "lab-k8s-01 is `mode: imported`: imported guests are read-only",
    );
    let (pending, _) = run_audited(&sim, "pending", 0);
    assert!(!pending.contains("cores"), "{pending}");
}

#[test]
fn parse_errors_name_the_file_line_and_key() {
    let sim = TestSim::demo();
    let f = file(&sim, "bad.yaml", "guests:\n  - name: a\n    tgas: [x]\n");
    let (code, _, err) = sim.run(&format!("plan {f}"));
    assert_ne!(code, 0);
    assert!(
        err.contains("bad.yaml:3:5: unknown key `tgas` in `guests[0]` (did you mean `tags`?)"),
        "{err}"
    );
}

const PROFILE: &str = "scope: {tags: [k8s]}\nguests:\n  - name: kcp\n    vmid: 310-319\n    template: debian-12-cloud\n    resources: {cores: 2, memory: 2G}\n    tags: [k8s]\n  - name: kw1\n    vmid: 310-319\n    template: debian-12-cloud\n    tags: [k8s]\n  - {name: lab-k8s-01, mode: imported}\n  - {name: lab-k8s-02, mode: imported}\n  - {name: lab-k8s-03, mode: imported}\nprofiles:\n  kube:\n    guests: [kcp, kw1]\n";

#[test]
fn a_cluster_profile_goes_up_and_down() {
    let sim = TestSim::demo();
    let f = file(&sim, "g.yaml", PROFILE);
    run_audited(&sim, &format!("profile up kube --file {f}"), 0);
    let up = state(&sim, |s| {
        [310u32, 311].map(|v| {
            s.guests
                .get(&v)
                .map(|g| (g.name().to_string(), g.is_running()))
        })
    });
    assert_eq!(
        up,
        [
            Some(("kcp".to_string(), true)),
            Some(("kw1".to_string(), true))
        ]
    );
    let md = std::fs::read_to_string(sim.home.path().join("machines.md")).unwrap();
    assert!(
        md.contains("| kcp | 310 | pve1 | qemu | running | 2 | 2.0 GiB |"),
        "{md}"
    );
    let (out, _) = run_audited(&sim, &format!("plan {f}"), 0);
    assert!(out.contains("no changes"), "after up: {out}");
    refused(
        &sim,
        &format!("profile down kube --file {f}"),
        2,
        "confirm by typing the profile's name",
    );
    refused(
        &sim,
        &format!("profile down kube --file {f} --yes kub"),
        2,
        "does not name the cluster profile 'kube'",
    );
    run_audited(
        &sim,
        &format!("profile down kube --file {f} --yes kube; commit"),
        0,
    );
    let gone = state(&sim, |s| [310u32, 311].map(|v| s.guests.contains_key(&v)));
    assert_eq!(gone, [false, false]);
    // Up again: the same VMIDs come back.
    run_audited(&sim, &format!("profile up kube --file {f}"), 0);
    assert!(state(&sim, |s| s.guests.contains_key(&311)));
    // Rebuild: down then up in one plan; each clone waits for the destroy of its VMID.
    run_audited(&sim, "set memory=3G kcp", 0);
    let (out, _) = run_audited(
        &sim,
        &format!("profile rebuild kube --file {f} --yes kube"),
        0,
    );
    assert!(out.contains("clone to kcp (310)"), "{out}");
    run_audited(&sim, "commit", 0);
    let (mem, running) = state(&sim, |s| {
        (
            s.guests[&310].config.get("memory").cloned(),
            [310u32, 311].map(|v| s.guests[&v].is_running()),
        )
    });
    assert_eq!(mem.as_deref(), Some("2048"), "rebuilt from the file");
    assert_eq!(running, [true, true]);
}

#[test]
fn hooks_run_once_each_new_guest_answers_ssh() {
    let sim = TestSim::demo();
    let log = sim.home.path().join("calls.log");
    let log = log.display();
    let path = crate::common::path_with_fake(&sim, "ssh", &format!("echo \"ssh $*\" >> {log}"));
    let text = format!(
        "guests:\n  - name: kh\n    vmid: 320\n    template: debian-12-cloud\n    cloudinit: {{user: ops}}\nprofiles:\n  h:\n    guests: [kh]\n    ssh_port: 2222\n    hooks:\n      - \"echo hook {{{{name}}}} {{{{vmid}}}} {{{{ip}}}} >> {log}\"\n"
    );
    let f = file(&sim, "g.yaml", &text);
    let out = sim
        .cmd()
        .env("PATH", &path)
        .args(["-c", &format!("profile up h --file {f}")])
        .output()
        .unwrap();
    let (code, _, err) = crate::common::split(out);
    assert_eq!(code, 0, "{err}");
    let calls = std::fs::read_to_string(sim.home.path().join("calls.log")).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(lines.len(), 2, "{calls}");
    assert!(
        lines[0].starts_with("ssh -o BatchMode=yes")
            && lines[0].contains("-p 2222 -l ops 10.0.")
            && lines[0].ends_with(" true"),
        "{calls}"
    );
    let ip = lines[0].split_whitespace().rev().nth(1).unwrap();
    assert_eq!(lines[1], format!("hook kh 320 {ip}"), "{calls}");
}

#[test]
fn an_empty_vm_is_created_at_commit_and_a_missing_file_is_named() {
    let sim = TestSim::demo();
    let f = file(
        &sim,
        "g.yaml",
        "scope: {vmids: 330}\nguests:\n  - name: blank\n    vmid: 330\n    node: pve2\n    resources: {cores: 1, memory: 1G}\n    disks: {scsi0: 8G}\n    network: {net0: {bridge: vmbr0}}\n",
    );
    run_audited(&sim, &format!("apply {f}; commit"), 0);
    let cfg = state(&sim, |s| {
        s.guests
            .get(&330)
            .map(|g| (g.node.clone(), g.config.to_map()))
    });
    let (node, cfg) = cfg.expect("the empty VM exists after commit");
    assert_eq!(node, "pve2");
    assert_eq!(cfg.get("memory").map(String::as_str), Some("1024"));
    assert!(
        cfg.get("scsi0").is_some_and(|d| d.contains("size=8G")),
        "{cfg:?}"
    );
    let (out, _) = run_audited(&sim, &format!("plan {f}"), 0);
    assert!(out.contains("no changes"), "{out}");
    let (code, _, err) = sim.run("plan nowhere.yaml");
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot read definitions file nowhere.yaml"),
        "{err}"
    );
}

/// Another client (its own home) clones the template to `vmid` at once: the VMID is taken.
fn squat(sim: &TestSim, vmid: u32) {
    let other = tempfile::tempdir().unwrap();
    let line = format!("clone debian-12-cloud squatter --vmid {vmid}");
    let (code, _, err) = crate::common::split(
        sim.cmd_in(other.path())
            .args(["-c", &line])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 0, "{err}");
}

/// The audit log's `call` lines: (action, vmid, outcome).
fn audited_calls(sim: &TestSim) -> Vec<(String, u64, String)> {
    let path = sim.home.path().join("state/pvesh-plus/audit.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "call")
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["vmid"].as_u64().unwrap_or_default(),
                e["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_commit_that_fails_partway_destroys_what_the_apply_created() {
    let sim = TestSim::demo();
    let two = "  - name: app-a\n    vmid: 300\n    template: debian-12-cloud\n    resources: {cores: 3}\n  - name: app-b\n    vmid: 301\n    template: debian-12-cloud\n    resources: {cores: 3}\n";
    let text = format!("{WEB01}{}{two}", declared_rest()).replace("memory: 4G}", "memory: 6G}");
    let f = file(&sim, "g.yaml", &text);
    run_audited(&sim, &format!("apply {f}"), 0);
    let (out, _) = run_audited(&sim, "pending | to json", 0);
    let unit = format!("apply {f}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let units: Vec<&serde_json::Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["unit"])
        .collect();
    assert_eq!(units.len(), 5, "web01's set, two clones, two sets: {out}");
    assert!(units.iter().all(|u| **u == *unit), "{out}");
    // Between apply and commit, 301 is taken: PVE refuses the second clone.
    squat(&sim, 301);
    let (out, err) = run_audited(&sim, "commit", 3);
    assert!(
        err.contains("unable to create VM 301: config file already exists"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{unit} was rolled back: destroyed the guest(s) it created: 300"
        )),
        "{err}"
    );
    assert!(
        err.contains("1 change(s) it made to guests that existed before are not undone"),
        "{err}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("destroy --purge --unreferenced-disks") && l.contains("done")),
        "the table shows the rollback: {out}"
    );
    let (has300, at301, web_mem) = state(&sim, |s| {
        (
            s.guests.contains_key(&300),
            s.guests.get(&301).map(|g| g.name().to_string()),
            s.guests[&101].pending.get("memory").cloned().flatten(),
        )
    });
    assert!(!has300, "the guest the apply created is gone");
    assert_eq!(
        at301.as_deref(),
        Some("squatter"),
        "never the other's guest"
    );
    assert_eq!(web_mem.as_deref(), Some("6144"), "web01's change stays");
    let calls = audited_calls(&sim);
    assert!(
        calls.contains(&("destroy".to_string(), 300, "submitted".to_string())),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|(a, v, _)| a == "destroy" && *v != 300));
    let (pending, _) = run_audited(&sim, "pending", 0);
    assert!(pending.contains("nothing pending"), "{pending}");
}

#[test]
fn a_failed_commit_of_changes_staged_one_by_one_rolls_nothing_back() {
    let sim = TestSim::demo();
    let dir = sim.home.path().join("config/pvesh-plus");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cluster-config.yaml"), "staging:\n  policy: all\n").unwrap();
    run_audited(
        &sim,
        "clone debian-12-cloud one --vmid 300; clone debian-12-cloud two --vmid 301",
        0,
    );
    squat(&sim, 301);
    let (_, err) = run_audited(&sim, "commit", 3);
    assert!(err.contains("config file already exists"), "{err}");
    assert!(!err.contains("rolled back"), "{err}");
    let kept = state(&sim, |s| s.guests.get(&300).map(|g| g.name().to_string()));
    assert_eq!(kept.as_deref(), Some("one"), "no unit: the clone stays");
    assert!(!audited_calls(&sim).iter().any(|(a, _, _)| a == "destroy"));
}
