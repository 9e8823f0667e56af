//! Guest operations (issue 10) through the real binary against the simulator: clone, migrate,
//! resize, disk add/move/detach, backup and restore change the simulator's state as PVE would;
//! what cannot work is refused before any request; `--dry-run` sends nothing; every mutating
//! request is audited; `ssh` hands over to the system's ssh and `wait-ssh` reads a banner.

use std::io::Write;

use crate::common::{TestSim, refused, run_audited as run, state};

fn cfg(sim: &TestSim, vmid: u32, key: &str) -> Option<String> {
    state(sim, |s| {
        s.guests.get(&vmid).and_then(|g| g.config.get(key).cloned())
    })
}

#[test]
fn clone_makes_a_linked_copy_of_a_template_and_refuses_a_taken_name() {
    let sim = TestSim::demo();
    let (out, err) = run(&sim, "clone debian-12-cloud web03", 0);
    assert!(out.contains("clone to web03"), "{out}");
    assert!(err.contains("is ready on pve1"), "{err}");
    let (id, disk) = state(&sim, |s| {
        let g = s.guests.values().find(|g| g.name() == "web03").unwrap();
        (g.vmid, g.config.get("scsi0").cloned().unwrap_or_default())
    });
    // A linked clone's disk is based on the template's base volume.
    assert!(disk.contains("base-9000-disk-0/vm-"), "{disk}");
    assert_eq!(
        cfg(&sim, id, "lock"),
        None,
        "the clone is unlocked at the end"
    );
    refused(&sim, "clone debian-12-cloud web03", 2, "already exists");
    // From a guest that is not a template: a full copy, and PVE's behaviour is said.
    refused(
        &sim,
        "clone web01 web01-copy --target pve2",
        2,
        "PVE clones to another node only from shared storage",
    );
    let (_, err) = run(&sim, "clone web01 web01-copy --vmid 170", 0);
    assert!(
        err.contains("not a template: PVE makes a full clone"),
        "{err}"
    );
    assert!(err.contains("is running"), "{err}");
    let disk = cfg(&sim, 170, "scsi0").unwrap();
    assert!(
        disk.starts_with("local-lvm:vm-170-disk-0"),
        "a full copy: {disk}"
    );
    refused(
        &sim,
        "clone debian-12-cloud web05 --storage local-lvm",
        2,
        "--storage needs --full",
    );
}

#[test]
fn migrate_stages_checks_pves_precondition_and_moves_at_commit() {
    let sim = TestSim::demo();
    refused(
        &sim,
        "migrate monitoring pve3",
        4,
        "storage fast-zfs is not available there",
    );
    refused(&sim, "migrate web01 pve2", 2, "`--online` migrates it live");
    refused(&sim, "migrate web01 pve2 --online", 2, "--with-local-disks");
    refused(&sim, "migrate web01 pve9", 1, "no node pve9");
    let sent = sim.handle.mutating_count();
    let (out, _) = run(&sim, "migrate web01 pve2 --online --with-local-disks", 0);
    assert!(out.contains("migrate to pve2 --online"), "{out}");
    run(&sim, "migrate dev-box pve1", 0);
    assert_eq!(sim.handle.mutating_count(), sent, "staging sends nothing");
    let (diff, _) = run(&sim, "diff", 0);
    assert!(diff.contains("pve1") && diff.contains("pve2"), "{diff}");
    assert!(diff.contains("online (live), local disks copied"), "{diff}");
    assert!(diff.contains("offline"), "{diff}");
    run(&sim, "commit", 0);
    let nodes = state(&sim, |s| {
        (s.guests[&101].node.clone(), s.guests[&120].node.clone())
    });
    assert_eq!(nodes, ("pve2".to_string(), "pve1".to_string()));
    let still_running = state(&sim, |s| s.guests[&101].is_running());
    assert!(still_running, "a live migration keeps the VM running");
}

#[test]
fn resize_grows_only_and_stages() {
    let sim = TestSim::demo();
    refused(&sim, "resize web02 scsi0 20G", 2, "a disk can only grow");
    refused(&sim, "resize web02 scsi0 40", 2, "is not a disk size");
    refused(&sim, "resize web02 scsi7 +1G", 1, "has no disk scsi7");
    let (out, _) = run(&sim, "resize web01 scsi0 +10G", 0);
    assert!(out.contains("resize scsi0 +10G"), "{out}");
    let (diff, _) = run(&sim, "diff", 0);
    assert!(
        diff.contains("32G") && diff.contains("42G (+10G)"),
        "{diff}"
    );
    run(&sim, "commit", 0);
    let disk = cfg(&sim, 101, "scsi0").unwrap();
    assert!(disk.contains("size=42G"), "{disk}");
}

#[test]
fn disks_are_added_moved_and_detached() {
    let sim = TestSim::demo();
    run(&sim, "disk add web01 50G", 0);
    let disk = cfg(&sim, 101, "scsi1").unwrap();
    assert_eq!(disk, "local-lvm:vm-101-disk-1,size=50G");
    run(&sim, "disk move web01 scsi1 fast-zfs --delete", 0);
    assert_eq!(
        cfg(&sim, 101, "scsi1").unwrap(),
        disk,
        "staged, not moved yet"
    );
    run(&sim, "commit", 0);
    let moved = cfg(&sim, 101, "scsi1").unwrap();
    assert!(moved.starts_with("fast-zfs:vm-101-disk-"), "{moved}");
    let old_gone = state(&sim, |s| {
        !s.volumes
            .iter()
            .any(|v| v.volid == "local-lvm:vm-101-disk-1")
    });
    assert!(old_gone, "--delete removes the old volume");
    run(&sim, "disk detach web01 scsi1", 0);
    run(&sim, "commit", 0);
    assert_eq!(cfg(&sim, 101, "scsi1"), None);
    let unused = cfg(&sim, 101, "unused0").unwrap();
    assert!(unused.starts_with("fast-zfs:vm-101-disk-"), "{unused}");
    refused(
        &sim,
        "disk move web01 scsi0 nowhere",
        1,
        "no storage 'nowhere'",
    );
    refused(&sim, "disk add dns01 8G", 2, "containers take mount points");
}

#[test]
fn backup_then_restore_to_a_new_vmid_and_over_the_guest() {
    let sim = TestSim::demo();
    run(
        &sim,
        "backup old-app --storage backup --protected --notes 'before {{vmid}}'",
        0,
    );
    let (volid, notes, protected) = state(&sim, |s| {
        let v = s
            .volumes
            .iter()
            .find(|v| v.vmid == Some(150) && v.content == "backup")
            .unwrap();
        (v.volid.clone(), v.notes.clone(), v.protected)
    });
    assert!(
        volid.starts_with("backup:backup/vzdump-qemu-150-"),
        "{volid}"
    );
    assert_eq!(notes.as_deref(), Some("before 150"));
    assert!(protected);
    // To a new VMID: at once.
    let (_, err) = run(&sim, &format!("restore {volid} --vmid 300"), 0);
    assert!(err.contains("its name too"), "{err}");
    let disk = cfg(&sim, 300, "scsi0").unwrap();
    assert!(disk.starts_with("local-lvm:vm-300-disk-0"), "{disk}");
    assert_eq!(cfg(&sim, 300, "name").as_deref(), Some("old-app"));
    // Over the existing guest: refused without --force, staged with it.
    refused(
        &sim,
        &format!("restore {volid}"),
        2,
        "`--force` restores over it",
    );
    run(&sim, "set memory=4G 150", 0);
    assert_eq!(cfg(&sim, 150, "memory").as_deref(), Some("4096"));
    let sent = sim.handle.mutating_count();
    let (out, _) = run(&sim, &format!("restore {volid} --force"), 0);
    assert!(out.contains("restores over an existing guest"), "{out}");
    assert_eq!(sim.handle.mutating_count(), sent);
    run(&sim, "commit", 0);
    let memory = cfg(&sim, 150, "memory");
    assert_eq!(
        memory.as_deref(),
        Some("2048"),
        "the restore brought the old config back"
    );
    // Over a running guest: refused.
    let web01 = state(&sim, |s| {
        s.volumes
            .iter()
            .find(|v| v.vmid == Some(101) && v.content == "backup")
            .map(|v| v.volid.clone())
            .unwrap()
    });
    refused(&sim, &format!("restore {web01} --force"), 2, "is running");
}

#[test]
fn dry_run_sends_nothing_and_stages_nothing() {
    let sim = TestSim::demo();
    let lines = [
        "clone debian-12-cloud web09 --dry-run",
        "migrate dev-box pve1 --dry-run",
        "resize web01 scsi0 +1G --dry-run",
        "disk add web01 1G --dry-run",
        "disk move web01 scsi0 fast-zfs --dry-run",
        "disk detach monitoring scsi1 --dry-run",
        "backup web01 --dry-run",
        "backups web01 | first | restore --vmid 301 --dry-run",
    ];
    for line in lines {
        let sent = sim.handle.mutating_count();
        let (out, err) = run(&sim, line, 0);
        assert!(
            err.contains("dry run: nothing staged, nothing sent"),
            "{line}: {err}"
        );
        assert!(out.contains("action"), "{line} shows its plan: {out}");
        assert_eq!(sim.handle.mutating_count(), sent, "{line} sent a request");
    }
    let (pending, err) = run(&sim, "pending", 0);
    assert!(
        !pending.contains("disk-move") && !err.contains("pending —"),
        "{pending}"
    );
}

#[test]
fn ssh_hands_over_to_the_system_ssh_with_the_agents_address() {
    let sim = TestSim::demo();
    let path = crate::common::path_with_fake(&sim, "ssh", "echo \"ssh called: $*\"\nexit 7");
    let out = sim
        .cmd()
        .env("PATH", &path)
        .args(["-c", "ssh web01 --user root -- uptime -p"])
        .output()
        .unwrap();
    let (code, stdout, stderr) = crate::common::split(out);
    assert_eq!(code, 7, "ssh's exit code is the line's: {stdout}{stderr}");
    assert_eq!(stdout.trim(), "ssh called: -l root 10.0.0.103 uptime -p");
    assert!(
        stderr.contains("connecting to web01 (101) at 10.0.0.103 as root"),
        "{stderr}"
    );
    let (code, _, err) = sim.run("ssh dev-box");
    assert_ne!(code, 0);
    assert!(err.contains("no address known for dev-box (120)"), "{err}");
}

/// A TCP server on 127.0.0.1 that greets every connection with `greeting`.
fn greeter(greeting: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(greeting.as_bytes());
        }
    });
    port
}

#[test]
fn wait_ssh_reads_the_banner_and_refuses_what_is_not_ssh() {
    let sim = TestSim::demo();
    let port = greeter("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    let (out, _) = run(
        &sim,
        &format!("wait-ssh 127.0.0.1 --port {port} --timeout 5"),
        0,
    );
    assert!(out.contains("SSH-2.0-OpenSSH_9.2p1"), "{out}");
    let web = greeter("HTTP/1.1 400 Bad Request\r\n\r\n");
    let (_, err) = run(
        &sim,
        &format!("wait-ssh 127.0.0.1 --port {web} --timeout 0"),
        1,
    );
    assert!(
        err.contains("it answers, but not as SSH: HTTP/1.1 400"),
        "{err}"
    );
}

#[test]
fn containers_clone_migrate_resize_back_up_and_restore() {
    let sim = TestSim::demo();
    refused(&sim, "migrate dns01 pve2", 2, "restarts it on the target");
    run(
        &sim,
        "migrate dns01 pve2 --online; resize build-cache rootfs +2G; commit",
        0,
    );
    let (node, running) = state(&sim, |s| {
        (s.guests[&200].node.clone(), s.guests[&200].is_running())
    });
    assert_eq!(node, "pve2");
    assert!(running, "a restart migration starts it again");
    let rootfs = cfg(&sim, 202, "rootfs").unwrap();
    assert!(rootfs.contains("size=10G"), "{rootfs}");
    run(&sim, "clone build-cache build-cache-2 --vmid 210", 0);
    assert_eq!(cfg(&sim, 210, "hostname").as_deref(), Some("build-cache-2"));
    run(&sim, "backup build-cache --storage backup", 0);
    let volid = state(&sim, |s| {
        s.volumes
            .iter()
            .find(|v| v.vmid == Some(202) && v.content == "backup")
            .map(|v| v.volid.clone())
            .unwrap()
    });
    assert!(volid.contains("vzdump-lxc-202-"), "{volid}");
    run(&sim, &format!("restore {volid} --vmid 211"), 0);
    assert_eq!(cfg(&sim, 211, "hostname").as_deref(), Some("build-cache"));
    run(&sim, &format!("restore {volid} --force; commit"), 0);
    let rootfs = cfg(&sim, 202, "rootfs").unwrap();
    assert!(rootfs.starts_with("local-lvm:vm-202-disk-"), "{rootfs}");
}

#[test]
fn clone_obeys_the_quotas_and_a_batch_file_stages_and_commits() {
    let sim = TestSim::demo();
    let config = sim.home.path().join("quota.yaml");
    std::fs::write(&config, "quotas:\n  max_memory: 8G\n").unwrap();
    let sent = sim.handle.mutating_count();
    let out = sim
        .cmd()
        .args([
            "--config",
            config.to_str().unwrap(),
            "-c",
            "clone db01 db02",
        ])
        .output()
        .unwrap();
    let (code, _, err) = crate::common::split(out);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("quotas.max_memory"), "{err}");
    assert_eq!(sim.handle.mutating_count(), sent);
    let script = sim.home.path().join("grow.pve");
    std::fs::write(
        &script,
        "resize web01 scsi0 +1G\nmigrate dev-box pve2\ncommit\n",
    )
    .unwrap();
    let out = sim.cmd().arg("-f").arg(&script).output().unwrap();
    let (code, out, err) = crate::common::split(out);
    assert_eq!(code, 0, "{out}{err}");
    assert!(cfg(&sim, 101, "scsi0").unwrap().contains("size=33G"));
    assert_eq!(state(&sim, |s| s.guests[&120].node.clone()), "pve2");
}

#[test]
fn ssh_dry_run_shows_the_command_and_runs_nothing() {
    let sim = TestSim::demo();
    // No ssh on PATH at all: a dry run must not try to run it.
    let out = sim
        .cmd()
        .env("PATH", "/nonexistent")
        .args(["--json", "-c", "ssh web01 --dry-run -- hostname"])
        .output()
        .unwrap();
    let (code, stdout, stderr) = crate::common::split(out);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["command"], "ssh 10.0.0.103 hostname");
    assert!(stderr.contains("would connect to web01 (101)"), "{stderr}");
}
