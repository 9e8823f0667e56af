//! `new-template` through the binary against the simulator: a template built from a URL has the
//! imported disk and a cloud-init drive, a failed download or a failure after it leaves nothing
//! behind, and `--dry-run` sends no mutating request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pvesh_plus::sim::Faults;

use crate::common::TestSim;

const URL: &str =
    "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2";

/// The config of the guest named `name`, if there is one.
fn config_of(sim: &TestSim, name: &str) -> Option<(u32, indexmap::IndexMap<String, String>)> {
    sim.handle.with_state(|s| {
        s.guests
            .values()
            .find(|g| g.cfg("name") == Some(name))
            .map(|g| (g.vmid, g.config.to_map()))
    })
}

fn counts(sim: &TestSim) -> (usize, usize) {
    sim.handle.with_state(|s| (s.guests.len(), s.volumes.len()))
}

#[test]
fn a_template_from_a_url() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run(&format!("new-template {URL} deb12 --node pve2"));
    assert_eq!(code, 0, "{out}\n{err}");
    // The download's progress reads once per line, then what it got.
    assert!(
        err.contains(
            "  download debian-12-genericcloud-amd64.qcow2: 100% (330.0 MiB of 330.0 MiB)\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("  downloaded debian-12-genericcloud-amd64.qcow2 (330.0 MiB)\n"),
        "{err}"
    );
    for line in err.lines().filter(|l| l.contains('%')) {
        assert_eq!(line.matches('%').count(), 1, "{line}");
        assert!(!line.contains("transferred"), "{line}");
    }
    let (vmid, config) = config_of(&sim, "deb12").expect("the template exists");
    let check = |k: &str, want: &str| {
        assert_eq!(
            config.get(k).map(String::as_str),
            Some(want),
            "{k}: {config:?}"
        )
    };
    check("template", "1");
    check("serial0", "socket");
    check("boot", "order=scsi0");
    let scsi0 = &config["scsi0"];
    assert!(
        scsi0.starts_with(&format!("local-lvm:base-{vmid}-disk-0"))
            && scsi0.ends_with("size=330M")
            && !scsi0.contains("import-from"),
        "{scsi0}"
    );
    assert!(config["ide2"].contains("cloudinit"), "{:?}", config["ide2"]);
    let image = sim.handle.with_state(|s| {
        s.volumes.iter().any(|v| {
            v.volid == "local:import/debian-12-genericcloud-amd64.qcow2"
                && v.node.as_deref() == Some("pve2")
        })
    });
    assert!(image, "the downloaded image is kept on pve2");
    assert_eq!(
        sim.handle
            .count("POST", "/nodes/{node}/qemu/{vmid}/template"),
        1
    );
}

#[test]
fn failures_leave_nothing_behind() {
    let check = |fault: Option<&str>, url: &str, step: &str| {
        let sim = TestSim::demo();
        let before = counts(&sim);
        if let Some(f) = fault {
            sim.handle.set_faults(Faults {
                fail_tasks: Some(f.into()),
                ..Faults::default()
            });
        }
        let (code, out, err) = sim.run(&format!("new-template {url} tpl1"));
        assert_ne!(code, 0, "{url}: {out}");
        assert!(
            err.contains(&format!("building tpl1 failed at step '{step}'")),
            "{err}"
        );
        assert!(config_of(&sim, "tpl1").is_none(), "the VM is left behind");
        assert_eq!(counts(&sim), before, "guests or volumes left behind: {err}");
    };
    check(None, "https://example.com/notfound/x.qcow2", "download");
    check(Some("download"), URL, "download");
    check(Some("qmcreate"), URL, "create");
    check(Some("qmtemplate"), URL, "template");
}

#[test]
fn dry_run_changes_nothing() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run(&format!("new-template {URL} --dry-run"));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("debian-12-genericcloud-amd64"), "{out}");
    assert_eq!(
        sim.handle.mutating_count(),
        0,
        "{:?}",
        sim.handle.request_log()
    );
}

#[test]
fn bad_arguments_are_refused_before_anything_changes() {
    let sim = TestSim::demo();
    let check = |line: &str, want: &str| {
        let (code, out, err) = sim.run(line);
        assert_ne!(code, 0, "{line}: {out}");
        assert!(err.contains(want), "{line}: {err}");
    };
    check("new-template ftp://example.com/x.qcow2", "not an http");
    check("new-template https://example.com/x.iso", "a .iso file");
    check(&format!("new-template {URL} web01"), "already exists");
    check(
        &format!("new-template {URL} --node nope"),
        "no online node 'nope'",
    );
    assert_eq!(sim.handle.mutating_count(), 0);
}

#[test]
fn an_image_already_downloaded_is_reused() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run(&format!("new-template {URL} tpl-a --node pve1"));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = sim.run(&format!("new-template {URL} tpl-b --node pve1"));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("already on local"), "{err}");
    assert_eq!(
        sim.handle
            .count("POST", "/nodes/{node}/storage/{storage}/download-url"),
        1
    );
    assert!(config_of(&sim, "tpl-b").is_some_and(|(_, c)| c["template"] == "1"));
}
