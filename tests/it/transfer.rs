//! Files into storages (issue 11) through the real binary against the simulator: `upload`
//! streams a generated file as PVE's multipart upload (the simulator hashes what arrives, so
//! size and checksum prove the bytes went through), PVE's checksum check fails a wrong digest
//! in the task, and what PVE would refuse is refused before a byte is sent. `download-url`
//! plans PVE's download task.

use std::io::Write;

use sha2::Digest;

use crate::common::{TestSim, refused, run_audited as run, state};

/// A file of `len` pseudo-random bytes named `name` in the simulator's home, and its sha256.
fn generated(sim: &TestSim, name: &str, len: usize) -> (String, String) {
    let path = sim.home.path().join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    f.write_all(&bytes).unwrap();
    (
        path.display().to_string(),
        hex::encode(sha2::Sha256::digest(&bytes)),
    )
}

fn volume_size(sim: &TestSim, volid: &str) -> Option<u64> {
    state(sim, |s| {
        s.volumes.iter().find(|v| v.volid == volid).map(|v| v.size)
    })
}

#[test]
fn upload_streams_the_file_and_pve_checks_its_checksum() {
    let sim = TestSim::demo();
    // Over 3 MiB: many chunks of the stream, several quarters of progress.
    let len = 3 * 1024 * 1024 + 17;
    let (path, sum) = generated(&sim, "tools.iso", len);
    let (out, err) = run(&sim, &format!("upload {path} local --checksum {sum}"), 0);
    assert!(out.contains("done"), "{out}");
    assert!(err.contains("sent 50%"), "progress by quarters:\n{err}");
    assert!(err.contains("imgcopy"), "{err}");
    assert_eq!(volume_size(&sim, "local:iso/tools.iso"), Some(len as u64));
    let task = state(&sim, |s| {
        s.tasks.iter().rev().find(|t| t.kind == "imgcopy").map(|t| {
            t.lines
                .iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
    })
    .expect("an imgcopy task");
    assert!(task.contains("OK, checksum verified"), "{task}");
    assert!(task.contains(&format!("file size is: {len}")), "{task}");
    // The same name again is refused before sending, unless --force.
    refused(
        &sim,
        &format!("upload {path} local"),
        2,
        "local:iso/tools.iso exists",
    );
    run(&sim, &format!("upload {path} local --force"), 0);
}

#[test]
fn a_wrong_checksum_fails_the_task_and_keeps_nothing() {
    let sim = TestSim::demo();
    let (path, _) = generated(&sim, "bad.iso", 100_000);
    let wrong = "ab".repeat(32);
    let (out, err) = run(&sim, &format!("upload {path} local --checksum {wrong}"), 3);
    assert!(out.contains("failed"), "{out}");
    assert!(err.contains("checksum mismatch: got '"), "{err}");
    assert_eq!(volume_size(&sim, "local:iso/bad.iso"), None);
    // The simulator keeps no temporary file after the call.
    assert!(state(&sim, |s| s.uploads.is_empty()));
}

#[test]
fn what_pve_would_refuse_is_refused_before_sending() {
    let sim = TestSim::demo();
    let (path, _) = generated(&sim, "disk.bin", 1000);
    let (iso, _) = generated(&sim, "x.iso", 1000);
    for (line, says) in [
        (
            format!("upload {path} local"),
            "cannot tell what disk.bin is",
        ),
        (
            format!("upload {path} local --type iso"),
            "only ending in .iso, .img",
        ),
        (format!("upload {iso} local-lvm"), "PVE puts files only on"),
        (format!("upload {iso} nosuch"), "no storage 'nosuch'"),
        (
            format!("upload {iso} local --checksum abc"),
            "not the length of any digest",
        ),
        (
            format!(
                "upload {iso} local --checksum {} --algorithm md5",
                "0".repeat(64)
            ),
            "not a md5 digest",
        ),
        ("upload /no/such/file.iso local".to_string(), "cannot read"),
    ] {
        let code = if says.starts_with("no storage") { 1 } else { 2 };
        refused(&sim, &line, code, says);
    }
}

#[test]
fn upload_dry_run_sends_nothing_and_names_the_target() {
    let sim = TestSim::demo();
    let (path, _) = generated(&sim, "My Tools (v2).iso", 2048);
    let sent = sim.handle.mutating_count();
    let (out, err) = run(&sim, &format!("upload '{path}' local --dry-run"), 0);
    assert_eq!(sim.handle.mutating_count(), sent);
    assert!(err.contains("dry run"), "{err}");
    // PVE's name normalisation, shown before sending.
    assert!(out.contains("My_Tools__v2_.iso to local"), "{out}");
}

#[test]
fn download_url_runs_pves_download_task() {
    let sim = TestSim::demo();
    let (out, err) = run(
        &sim,
        "download-url https://example.org/images/noble.qcow2 local",
        0,
    );
    assert!(out.contains("done"), "{out}");
    // wget's dot lines read as one wording, with the size its `Length:` line gave.
    assert!(
        err.contains("[1/1] node pve1: download 100% (330.0 MiB of 330.0 MiB)\n"),
        "task progress lines:\n{err}"
    );
    assert!(!err.contains("........"), "{err}");
    assert!(volume_size(&sim, "local:import/noble.qcow2").is_some());
    refused(
        &sim,
        "download-url https://example.org/images/noble.qcow2 local",
        2,
        "refuses to download over it",
    );
    refused(
        &sim,
        "download-url https://example.org/ local",
        2,
        "ends in no file name",
    );
}
