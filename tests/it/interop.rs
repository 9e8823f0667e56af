//! Interop with fakepve, a PVE fake that no one here wrote (PyPI). `.ci/run` installs it into a
//! venv and runs these with `--ignored`, setting `PVESH_FAKEPVE_PYTHON` to that venv's python.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::{bin, split};

struct FakePve {
    child: Child,
    url: String,
    ca: String,
}

impl Drop for FakePve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const LAUNCHER: &str = r#"
import asyncio, sys, tempfile
from fakepve import FakePve
from fakepve.certs import make_cert

async def main():
    tmp = tempfile.mkdtemp(prefix="fakepve-")
    cert, key, _ = make_cert(tmp, hosts=("127.0.0.1",))
    pve = FakePve(user="root@pam", password="interop-pw", host="127.0.0.1", port=0)
    pve.time_scale = 0
    pve.apitokens["root@pam!ci"] = "interop-token-secret"
    pve.add_vm(100, "alpha", status="running", config={"scsi0": "local-lvm:vm-100-disk-0,size=8G", "memory": "2048"})
    pve.add_vm(101, "beta", status="stopped")
    await pve.start(cert, key)
    print("CA " + cert, flush=True)
    print("URL https://{0}:{1}".format(pve.host, pve.port), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"#;

fn start() -> FakePve {
    let python = std::env::var("PVESH_FAKEPVE_PYTHON")
        .expect("set PVESH_FAKEPVE_PYTHON to a python with fakepve installed (.ci/run does)");
    let mut child = Command::new(python)
        .args(["-c", LAUNCHER])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut ca = String::new();
    let url = loop {
        let line = lines
            .next()
            .expect("fakepve exited before printing its URL")
            .unwrap();
        if let Some(path) = line.strip_prefix("CA ") {
            ca = path.to_string();
        }
        if let Some(url) = line.strip_prefix("URL ") {
            break url.to_string();
        }
    };
    FakePve { child, url, ca }
}

fn run(fake: &FakePve, token: bool, line: &str) -> (i32, String, String) {
    let mut cmd = bin();
    cmd.args(["--url", &fake.url, "--ca", &fake.ca, "-c", line]);
    if token {
        cmd.env("PROXMOX_TOKEN_ID", "root@pam!ci")
            .env("PROXMOX_TOKEN_SECRET", "interop-token-secret");
    } else {
        cmd.env("PROXMOX_USER", "root@pam")
            .env("PROXMOX_PASSWORD", "interop-pw");
    }
    split(cmd.output().unwrap())
}

#[test]
#[ignore = "needs fakepve; .ci/run runs it"]
fn interop_fakepve_password_and_token() {
    let fake = start();
    for token in [false, true] {
        let (code, out, err) = run(&fake, token, "version");
        assert_eq!(code, 0, "version (token={token}): {err}");
        assert!(out.contains("version:"), "{out}");
        let (code, out, err) = run(&fake, token, "nodes | get node");
        assert_eq!(code, 0, "nodes (token={token}): {err}");
        assert!(!out.trim().is_empty(), "no nodes: {out}");
        let (code, out, err) = run(&fake, token, "ls | get name");
        assert_eq!(code, 0, "ls (token={token}): {err}");
        assert_eq!(out.lines().collect::<Vec<_>>(), ["alpha", "beta"]);
        let (code, out, err) = run(&fake, token, "status alpha");
        assert_eq!(code, 0, "status (token={token}): {err}");
        assert!(out.contains("running"), "{out}");
    }
}

#[test]
#[ignore = "needs fakepve; .ci/run runs it"]
fn interop_fakepve_usage_falls_back_to_the_live_index() {
    let fake = start();
    let (code, out, err) = run(&fake, false, "usage /nodes");
    assert_eq!(code, 0, "usage: {err}");
    assert!(err.contains("does not serve the API schema"), "{err}");
    assert!(out.contains("pve1"), "the live index of /nodes: {out}");
    let (code, out, err) = run(&fake, false, "config alpha | get scsi0.size");
    assert_eq!(code, 0, "config: {err}");
    assert_eq!(out.trim(), "8.0 GiB");
}
