//! Interop with software no one here wrote, run by `.ci/run` (`--ignored`) with
//! `PVESH_CI_PYTHON` set to a venv that has fakepve and proxmoxer:
//! - pvesh+ against fakepve (a PVE fake from PyPI), with a password and with a token;
//! - proxmoxer against `pvesh-plus sim` (list, start, snapshot, a multipart upload);
//! - pvecontrol (Enix's PVE CLI, on proxmoxer) against `pvesh-plus sim`: status, node/vm/storage/
//!   task lists, and a VM migration seen in the next listing;
//! - pvesh+'s requests through `../shared/pve-api/pve-schema-proxy`: zero violations.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common::{bin, split, std_cmd};

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

fn ci_python() -> String {
    std::env::var("PVESH_CI_PYTHON").expect(
        "set PVESH_CI_PYTHON to a python with fakepve and proxmoxer installed (.ci/run does)",
    )
}

/// A child process killed when dropped.
struct Child2(Child);

impl Drop for Child2 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `pvesh-plus sim` and returns it with its URL and fingerprint, read from what it prints.
fn start_sim(extra: &[&str]) -> (Child2, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pvesh-plus"))
        .args([
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--password",
            "sim-pw",
            "--speed",
            "0",
            "--tick",
            "5",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut fingerprint) = (String::new(), String::new());
    while url.is_empty() || fingerprint.is_empty() {
        let line = lines.next().expect("the simulator exited early").unwrap();
        if let Some(u) = line.strip_prefix("pvesh+ simulator listening on ") {
            url = u.trim().to_string();
        }
        if let Some(f) = line.strip_prefix("certificate fingerprint (SHA-256): ") {
            fingerprint = f.trim().to_string();
        }
    }
    // Keep reading what it prints, so it never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Child2(child), url, fingerprint)
}

const PROXMOXER: &str = r#"
import sys
from urllib.parse import urlparse
from proxmoxer import ProxmoxAPI
from proxmoxer.tools import Tasks
u = urlparse(sys.argv[1])
px = ProxmoxAPI(u.hostname, port=u.port, user="root@pam", password="sim-pw", verify_ssl=False)
vms = px.cluster.resources.get(type="vm")
names = {v["name"]: v for v in vms}
assert "web01" in names and "db01" in names, names.keys()
dev = names["dev-box"]
assert dev["status"] == "stopped"
upid = px.nodes(dev["node"]).qemu(dev["vmid"]).status.start.post()
st = Tasks.blocking_status(px, upid, timeout=60, polling_interval=0.05)
assert st["exitstatus"] == "OK", st
assert px.nodes(dev["node"]).qemu(dev["vmid"]).status.current.get()["status"] == "running"
web = names["web01"]
upid = px.nodes(web["node"]).qemu(web["vmid"]).snapshot.post(snapname="from_proxmoxer", description="interop")
st = Tasks.blocking_status(px, upid, timeout=60, polling_interval=0.05)
assert st["exitstatus"] == "OK", st
snaps = [s["name"] for s in px.nodes(web["node"]).qemu(web["vmid"]).snapshot.get()]
assert "from_proxmoxer" in snaps, snaps
# A multipart upload as proxmoxer sends it (file part named `filename`), checksum checked by PVE.
import hashlib, os, tempfile
data = os.urandom(200_000)
with tempfile.NamedTemporaryFile(suffix=".iso", delete=False) as f:
    f.write(data)
with open(f.name, "rb") as fh:
    upid = px.nodes("pve1").storage("local").upload.post(
        content="iso", filename=fh, checksum=hashlib.sha256(data).hexdigest(),
        **{"checksum-algorithm": "sha256"})
st = Tasks.blocking_status(px, upid, timeout=60, polling_interval=0.05)
assert st["exitstatus"] == "OK", st
name = os.path.basename(f.name)
isos = {c["volid"]: c for c in px.nodes("pve1").storage("local").content.get(content="iso")}
assert isos["local:iso/" + name]["size"] == len(data), isos
print("proxmoxer ok:", len(vms), "guests")
"#;

#[test]
#[ignore = "needs proxmoxer; .ci/run runs it"]
fn interop_proxmoxer_drives_the_simulator() {
    let (_sim, url, _) = start_sim(&[]);
    let out = Command::new(ci_python())
        .args(["-c", PROXMOXER, &url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "proxmoxer failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("proxmoxer ok: 22 guests"), "{stdout}");
}

/// Runs pvecontrol (`python -m pvecontrol`) with `config`, returning stdout; fails on a
/// non-zero exit with both streams.
fn pvecontrol(home: &std::path::Path, config: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(ci_python())
        .args(["-m", "pvecontrol", "--no-color", "--config"])
        .arg(config)
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("CLUSTER")
        .env_remove("PVECONTROL_CLUSTER")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pvecontrol {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json_rows(text: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("pvecontrol printed no JSON ({e}): {text}"));
    v.as_array().cloned().unwrap_or_default()
}

#[test]
#[ignore = "needs pvecontrol; .ci/run runs it"]
fn interop_pvecontrol_drives_the_simulator() {
    let (_sim, url, _) = start_sim(&[]);
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("pvecontrol.yaml");
    let host = url.trim_start_matches("https://").trim_end_matches('/');
    std::fs::write(
        &config,
        format!(
            "clusters:\n  - name: demo\n    host: {host}\n    user: root@pam\n    password: sim-pw\n    ssl_verify: false\n\
             node:\n  cpufactor: 2.5\n  memoryminimum: 1073741824\nvm:\n  max_last_backup: 100\n"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| pvecontrol(home.path(), &config, args);

    let status = run(&["status"]);
    for want in [
        "Name: demo",
        "Status: healthy",
        "VMs: 17",
        "Templates: 2",
        "Online: 3",
    ] {
        assert!(status.contains(want), "status lacks '{want}':\n{status}");
    }

    let nodes = json_rows(&run(&["-o", "json", "node", "list"]));
    let names: Vec<&str> = nodes.iter().filter_map(|n| n["node"].as_str()).collect();
    assert_eq!(names, ["pve1", "pve2", "pve3"], "{nodes:?}");

    let vms = json_rows(&run(&["-o", "json", "vm", "list"]));
    let find = |vms: &[serde_json::Value], name: &str| {
        vms.iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no VM {name} in {vms:?}"))
    };
    assert_eq!(vms.len(), 19, "17 VMs and 2 templates: {vms:?}");
    assert_eq!(find(&vms, "web01")["node"], "pve1");
    assert_eq!(find(&vms, "dev-box")["node"], "pve3");

    let storages = json_rows(&run(&["-o", "json", "storage", "list"]));
    let backup = storages
        .iter()
        .find(|s| s["storage"] == "backup")
        .unwrap_or_else(|| panic!("no shared backup storage: {storages:?}"));
    assert_eq!(backup["nodes"], "pve1, pve2, pve3");
    assert_eq!(backup["shared"], "shared");
    let lvm = storages
        .iter()
        .filter(|s| s["storage"] == "local-lvm")
        .count();
    assert_eq!(lvm, 3, "local-lvm once per node: {storages:?}");

    // dev-box (120) is stopped on pve3: an offline migration to pve1.
    let migrate = run(&["vm", "migrate", "120", "--target", "pve1"]);
    assert!(migrate.contains("qmigrate"), "{migrate}");
    let vms = json_rows(&run(&["-o", "json", "vm", "list"]));
    assert_eq!(find(&vms, "dev-box")["node"], "pve1", "after vm migrate");

    let tasks = json_rows(&run(&["-o", "json", "task", "list"]));
    let mig = tasks
        .iter()
        .find(|t| t["type"] == "qmigrate")
        .unwrap_or_else(|| panic!("no qmigrate task: {tasks:?}"));
    assert_eq!(mig["node"], "pve3");
    assert_eq!(mig["exitstatus"], "OK");
}

#[test]
#[ignore = "needs ../shared/pve-api/pve-schema-proxy and openssl; .ci/run runs it"]
fn interop_requests_pass_the_schema_proxy() {
    let proxy =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pve-api/pve-schema-proxy");
    assert!(proxy.exists(), "{} is missing", proxy.display());
    let (_sim, url, _) = start_sim(&["--token", "root@pam!ci=ci-secret"]);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.jsonl");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut proxy_child = Command::new("python3")
        .arg(&proxy)
        .args([
            "--tls",
            "--quiet",
            "--port",
            &port.to_string(),
            "--upstream",
            &url,
            "--log",
        ])
        .arg(&log)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The proxy announces itself on stderr once it listens.
    let mut banner = BufReader::new(proxy_child.stderr.take().unwrap()).lines();
    let started = banner
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.starts_with("pve-schema-proxy: https://"));
    assert!(started, "the schema proxy did not start");
    std::thread::spawn(move || banner.for_each(drop));
    let _proxy = Child2(proxy_child);
    let proxy_url = format!("https://127.0.0.1:{port}");
    let lines = [
        "version",
        "nodes",
        "ls | where status=running | count",
        "status web01",
        "status @tag:ci",
        "tasks --limit 5",
        "get /cluster/resources type=node",
        "ls /nodes/pve1",
        "use web01",
        "config web01",
        "snapshots web01",
        "backups web01",
        "ip web01",
        "storage pve1",
        "content local --type iso",
        "usage /nodes/{node}/qemu/{vmid}/clone",
        "snapshot proxy-check-TOKEN web02",
        "set cores=3 web02",
        "ls | where tags has ci | stop",
        "commit",
        "new proxy-vm-TOKEN --template debian-12-cloud --cores 1 --memory 1G --disk 8G",
        "rbac bootstrap --token proxy-TOKEN --show-secret",
        "whoami --privs",
    ];
    let home = tempfile::tempdir().unwrap();
    for token in [false, true] {
        for line in lines {
            let line = line.replace("TOKEN", if token { "t" } else { "p" });
            let mut cmd = std_cmd(home.path());
            cmd.args(["--url", &proxy_url, "--insecure", "-c", &line]);
            if token {
                cmd.env("PROXMOX_TOKEN_ID", "root@pam!ci")
                    .env("PROXMOX_TOKEN_SECRET", "ci-secret");
            } else {
                cmd.env("PROXMOX_USER", "root@pam")
                    .env("PROXMOX_PASSWORD", "sim-pw");
            }
            let (code, _, err) = split(cmd.output().unwrap());
            assert_eq!(code, 0, "{line} (token={token}): {err}");
        }
    }
    let report = Command::new("python3")
        .arg(&proxy)
        .arg("report")
        .arg(&log)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "request violations:\n{text}");
    assert!(
        text.contains("/cluster/resources"),
        "the proxy saw no traffic: {text}"
    );
}

fn start() -> FakePve {
    let mut child = Command::new(ci_python())
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
fn interop_fakepve_usage_without_a_schema_says_so_and_config_works() {
    let fake = start();
    // fakepve serves no apidoc.js: `usage` says so and never calls the path it describes.
    let (code, out, err) = run(&fake, false, "usage /nodes");
    assert_ne!(code, 0, "usage: {out}");
    assert!(err.contains("does not serve the API schema"), "{err}");
    assert!(!out.contains("pve1"), "usage must not GET the path: {out}");
    let (code, out, err) = run(&fake, false, "config alpha | get scsi0.size");
    assert_eq!(code, 0, "config: {err}");
    assert_eq!(out.trim(), "8.0 GiB");
}

#[test]
#[ignore = "needs ansible-core; .ci/run runs it"]
fn interop_ansible_inventory_reads_pvesh_plus_inventory() {
    use crate::common::{PASSWORD, TestSim, state};
    use std::os::unix::fs::PermissionsExt;
    let sim = TestSim::demo();
    // An inventory script as the README shows it: two lines that run `pvesh-plus inventory`.
    let script = sim.home.path().join("pve-inventory");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec '{}' --url '{}' --fingerprint '{}' inventory \"$@\"\n",
            env!("CARGO_BIN_EXE_pvesh-plus"),
            sim.handle.url(),
            sim.handle.fingerprint()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let python = ci_python();
    let bin = std::path::Path::new(&python).parent().unwrap();
    let out = std::process::Command::new(bin.join("ansible-inventory"))
        .args(["-i", script.to_str().unwrap(), "--list"])
        .env("HOME", sim.home.path())
        .env("XDG_CONFIG_HOME", sim.home.path().join("config"))
        .env("XDG_STATE_HOME", sim.home.path().join("state"))
        .env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_PASSWORD", PASSWORD)
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let hostvars = inv["_meta"]["hostvars"].as_object().unwrap();
    // Every guest but the templates, by name.
    let expected: Vec<String> = state(&sim, |s| {
        s.guests
            .values()
            .filter(|g| !g.is_template())
            .map(|g| g.name().to_string())
            .collect()
    });
    assert_eq!(hostvars.len(), expected.len(), "{stdout}");
    for name in &expected {
        assert!(hostvars.contains_key(name), "{name} missing: {stdout}");
    }
    assert_eq!(hostvars["web01"]["vmid"], 101);
    assert_eq!(hostvars["web01"]["node"], "pve1");
    assert!(hostvars["web01"]["ansible_host"].is_string(), "{stdout}");
    let prod = inv["tag_prod"]["hosts"].as_array().unwrap();
    assert!(prod.contains(&serde_json::json!("web01")), "{stdout}");
    assert!(inv["node_pve1"]["hosts"].as_array().unwrap().len() > 1);
}
