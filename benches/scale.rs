//! `cargo bench --bench scale`: listing guests at scale, pvesh+ side by side with other clients.
//!
//! For 1 000, 5 000 and 10 000 guests on 8 nodes (`SCALE_SIZES=1000,5000` to choose), it starts
//! `pvesh-plus sim --log-requests` and, when a python with fakepve is found (`PVESH_CI_PYTHON`,
//! else `target/ci-venv/bin/python` as `.ci/run` makes it), fakepve with the same guests.
//! Against each server it runs, `SCALE_RUNS` times (default 7, after one warm-up run):
//! - `pvesh-plus -c ls` with an API token, and with a password;
//! - `proxctl vm list` (when `proxctl` is on PATH or in that venv, else "not installed");
//! - one `curl` of `GET /cluster/resources` with the token;
//!
//! and prints the median wall time, the median peak RSS (`/usr/bin/time`) and the requests each
//! run sent (read from the servers' own request logs). Then each server's throughput for
//! `GET /cluster/resources` (sequential requests on one connection, by curl), and the checks of
//! issue 16: `-c ls` against proxctl and curl, its peak RSS, requests per token listing.
//! Every process measured is a separate one (the simulator too), so `PVESH_PLUS_BIN` may name
//! another build of pvesh-plus to measure (default: the one cargo built for this bench).
//! It prints; it asserts nothing, and `cargo test` does not run it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN_ID: &str = "root@pam!bench";
const TOKEN_SECRET: &str = "bench-token-secret";
const PASSWORD: &str = "bench-pw";
const NODES: usize = 8;

/// One server under test.
struct Server<'a> {
    name: &'static str,
    url: String,
    /// `--fingerprint FP` or `--ca FILE` for pvesh+.
    trust: [String; 2],
    requests: Box<dyn Fn() -> usize + 'a>,
}

/// One measured client run: wall seconds, peak RSS KiB, requests sent, ok.
struct Run {
    wall: f64,
    rss: u64,
    requests: usize,
    ok: bool,
    err: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs `argv` under /usr/bin/time; counts the requests the server saw meanwhile.
fn measure(argv: &[String], env: &[(&str, String)], home: &Path, server: &Server<'_>) -> Run {
    let before = (server.requests)();
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("BENCH-RSS %M").args(argv);
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_STATE_HOME", home.join(".state"))
        .env("XDG_DATA_HOME", home.join(".data"))
        .env("NO_COLOR", "1")
        .env_remove("PROXMOX_TOKEN_ID")
        .env_remove("PROXMOX_TOKEN_SECRET")
        .env_remove("PROXMOX_USER")
        .env_remove("PROXMOX_PASSWORD")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let wall = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("BENCH-RSS "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let err: String = stderr
        .lines()
        .filter(|l| !l.starts_with("BENCH-RSS"))
        .take(3)
        .collect::<Vec<_>>()
        .join(" / ");
    Run {
        wall,
        rss,
        requests: (server.requests)() - before,
        ok: out.status.success(),
        err,
    }
}

/// The pvesh-plus measured (client and simulator): `PVESH_PLUS_BIN`, else cargo's build.
fn pvesh_bin() -> String {
    std::env::var("PVESH_PLUS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pvesh-plus").to_string())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn venv_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PVESH_CI_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin/python");
    p.is_file().then_some(p)
}

fn proxctl() -> Option<PathBuf> {
    which("proxctl").or_else(|| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-venv/bin/proxctl");
        p.is_file().then_some(p)
    })
}

/// fakepve with the guests of `guests.json`; prints `REQ` for every request it records and
/// echoes what it reads on stdin (a marker: every `REQ` before it has been written).
const LAUNCHER: &str = r#"
import asyncio, json, sys, tempfile, threading
from fakepve import FakePve
from fakepve.certs import make_cert

async def main():
    tmp = tempfile.mkdtemp(prefix="fakepve-bench-")
    cert, key, _ = make_cert(tmp, hosts=("127.0.0.1",))
    pve = FakePve(user="root@pam", password=sys.argv[3], host="127.0.0.1", port=0)
    pve.time_scale = 0
    tid, secret = sys.argv[2].split("=", 1)
    pve.apitokens[tid] = secret
    for g in json.load(open(sys.argv[1])):
        if g["type"] == "lxc":
            pve.add_ct(g["vmid"], g["name"], node=g["node"], status=g["status"], config=g["config"])
        else:
            pve.add_vm(g["vmid"], g["name"], node=g["node"], status=g["status"], config=g["config"])
    record = pve._record
    def counted(request, body):
        sys.stdout.write("REQ\n")
        sys.stdout.flush()
        return record(request, body)
    pve._record = counted
    def echo():
        for line in sys.stdin:
            sys.stdout.write(line)
            sys.stdout.flush()
    threading.Thread(target=echo, daemon=True).start()
    await pve.start(cert, key)
    print("CA " + cert, flush=True)
    print("URL https://{0}:{1}".format(pve.host, pve.port), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"#;

struct FakePve {
    child: Child,
    url: String,
    ca: String,
    lines: mpsc::Receiver<String>,
    count: std::cell::Cell<usize>,
    marks: std::cell::Cell<usize>,
}

impl Drop for FakePve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakePve {
    fn start(python: &Path, guests: &[serde_json::Value], dir: &Path) -> Option<FakePve> {
        let file = dir.join(format!("guests-{}.json", guests.len()));
        std::fs::write(&file, serde_json::to_vec(&guests).unwrap()).unwrap();
        let mut child = Command::new(python)
            .arg("-c")
            .arg(LAUNCHER)
            .arg(&file)
            .arg(format!("{TOKEN_ID}={TOKEN_SECRET}"))
            .arg(PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take()?;
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut url, mut ca) = (String::new(), String::new());
        while url.is_empty() {
            let line = rx.recv_timeout(Duration::from_secs(120)).ok()?;
            if let Some(c) = line.strip_prefix("CA ") {
                ca = c.to_string();
            }
            if let Some(u) = line.strip_prefix("URL ") {
                url = u.to_string();
            }
        }
        Some(FakePve {
            child,
            url,
            ca,
            lines: rx,
            count: Default::default(),
            marks: Default::default(),
        })
    }

    /// The requests fakepve recorded so far: sends a marker and reads up to it.
    fn requests(&self) -> usize {
        let mark = self.marks.get() + 1;
        self.marks.set(mark);
        if let Some(stdin) = self.child.stdin.as_ref() {
            let mut stdin = stdin;
            let _ = writeln!(stdin, "MARK {mark}");
            let _ = stdin.flush();
        }
        let want = format!("MARK {mark}");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(30)) {
            if line == "REQ" {
                self.count.set(self.count.get() + 1);
            } else if line == want {
                break;
            }
        }
        self.count.get()
    }
}

/// `pvesh-plus sim --log-requests` in its own process.
struct Sim {
    child: Child,
    url: String,
    fingerprint: String,
    lines: mpsc::Receiver<String>,
    count: std::cell::Cell<usize>,
    marks: std::cell::Cell<usize>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    fn start(bin: &str, guests: usize) -> Sim {
        let mut child = Command::new(bin)
            .args(["sim", "--listen", "127.0.0.1:0", "--log-requests"])
            .args([
                "--guests",
                &guests.to_string(),
                "--nodes",
                &NODES.to_string(),
            ])
            .args(["--password", PASSWORD])
            .arg("--token")
            .arg(format!("{TOKEN_ID}={TOKEN_SECRET}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut url, mut fingerprint) = (String::new(), String::new());
        while url.is_empty() || fingerprint.is_empty() {
            let line = rx
                .recv_timeout(Duration::from_secs(120))
                .expect("the simulator did not start");
            if let Some(u) = line.strip_prefix("pvesh+ simulator listening on ") {
                url = u.trim().to_string();
            }
            if let Some(f) = line.strip_prefix("certificate fingerprint (SHA-256): ") {
                fingerprint = f.trim().to_string();
            }
        }
        Sim {
            child,
            url,
            fingerprint,
            lines: rx,
            count: Default::default(),
            marks: Default::default(),
        }
    }

    /// The requests the simulator answered so far (its own, not the markers): asks for a
    /// marker path and reads its log up to it.
    fn requests(&self, rt: &tokio::runtime::Runtime) -> usize {
        let mark = self.marks.get() + 1;
        self.marks.set(mark);
        let path = format!("/api2/json/bench-marker-{mark}");
        let client = insecure_client();
        let url = format!("{}{path}", self.url);
        rt.block_on(async {
            let _ = client.get(&url).send().await;
        });
        let want = format!("request: GET {path} ");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(30)) {
            if line.starts_with(&want) {
                break;
            }
            if line.starts_with("request: ") {
                self.count.set(self.count.get() + 1);
            }
        }
        self.count.get()
    }
}

fn insecure_client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// The simulator's guests as fakepve's launcher takes them (from its `/cluster/resources`).
fn guests_of(rt: &tokio::runtime::Runtime, url: &str) -> Vec<serde_json::Value> {
    let body: serde_json::Value = rt.block_on(async {
        insecure_client()
            .get(format!("{url}/api2/json/cluster/resources?type=vm"))
            .header(
                "Authorization",
                format!("PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let mut config = serde_json::json!({
                "memory": (g["maxmem"].as_u64().unwrap_or(0) >> 20).to_string(),
                "cores": g["maxcpu"].as_u64().unwrap_or(1).to_string(),
            });
            if let Some(tags) = g["tags"].as_str() {
                config["tags"] = tags.into();
            }
            serde_json::json!({
                "vmid": g["vmid"], "name": g["name"], "node": g["node"],
                "status": g["status"], "type": g["type"], "config": config,
            })
        })
        .collect()
}

/// Requests per second for `GET /cluster/resources` with the token, sequential on one
/// connection: curl fetching it `n` times, else this process's own client.
fn throughput(rt: &tokio::runtime::Runtime, url: &str, n: usize) -> f64 {
    let resources = format!("{url}/api2/json/cluster/resources");
    if let Some(curl) = which("curl") {
        let start = Instant::now();
        let ok = Command::new(curl)
            .args(["-sSfk", "-H"])
            .arg(format!(
                "Authorization: PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"
            ))
            .args(std::iter::repeat_n(&resources, n))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let secs = start.elapsed().as_secs_f64();
        return if ok { n as f64 / secs } else { f64::NAN };
    }
    let client = insecure_client();
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..n {
            let r = client
                .get(&resources)
                .header(
                    "Authorization",
                    format!("PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"),
                )
                .send()
                .await
                .unwrap();
            std::hint::black_box(r.bytes().await.unwrap());
        }
        n as f64 / start.elapsed().as_secs_f64()
    })
}

struct Row {
    client: String,
    runs: Vec<Run>,
}

impl Row {
    fn wall(&self) -> f64 {
        median(self.runs.iter().map(|r| r.wall).collect())
    }
    fn rss_mib(&self) -> f64 {
        median(self.runs.iter().map(|r| r.rss as f64).collect()) / 1024.0
    }
    fn requests(&self) -> f64 {
        median(self.runs.iter().map(|r| r.requests as f64).collect())
    }
}

/// A client to run: its name, argv and environment.
type Client = (String, Vec<String>, Vec<(&'static str, String)>);

fn clients(server: &Server<'_>) -> Vec<Client> {
    let mut pvesh = vec![pvesh_bin(), "--url".into(), server.url.clone()];
    pvesh.extend(server.trust.iter().cloned());
    pvesh.extend(["-c".into(), "ls".into()]);
    let token_env = vec![
        ("PROXMOX_TOKEN_ID", TOKEN_ID.to_string()),
        ("PROXMOX_TOKEN_SECRET", TOKEN_SECRET.to_string()),
    ];
    let password_env = vec![
        ("PROXMOX_USER", "root@pam".to_string()),
        ("PROXMOX_PASSWORD", PASSWORD.to_string()),
    ];
    let mut out = vec![
        ("pvesh+ -c ls (token)".to_string(), pvesh.clone(), token_env),
        ("pvesh+ -c ls (password)".to_string(), pvesh, password_env),
    ];
    let host = server
        .url
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    if let Some(p) = proxctl() {
        out.push((
            "proxctl vm list".into(),
            vec![
                p.display().to_string(),
                "--host".into(),
                host,
                "--token".into(),
                format!("{TOKEN_ID}={TOKEN_SECRET}"),
                "--insecure".into(),
                "-o".into(),
                "text".into(),
                "vm".into(),
                "list".into(),
            ],
            Vec::new(),
        ));
    }
    if let Some(curl) = which("curl") {
        out.push((
            "curl (1 request)".into(),
            vec![
                curl.display().to_string(),
                "-sSfk".into(),
                "-o".into(),
                "/dev/null".into(),
                "-H".into(),
                format!("Authorization: PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"),
                format!("{}/api2/json/cluster/resources", server.url),
            ],
            Vec::new(),
        ));
    }
    out
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sizes: Vec<usize> = std::env::var("SCALE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 5_000, 10_000]);
    let runs: usize = std::env::var("SCALE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(7);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let python = venv_python();
    println!("pvesh-plus: {}", pvesh_bin());
    match proxctl() {
        Some(p) => println!("proxctl: {}", p.display()),
        None => println!("proxctl: not installed (skipped)"),
    }
    if which("curl").is_none() {
        println!("curl: not installed (skipped)");
    }
    if python.is_none() {
        println!(
            "fakepve: not installed (skipped; .ci/run makes target/ci-venv, or set PVESH_CI_PYTHON)"
        );
    }
    for &n in &sizes {
        let sim = std::rc::Rc::new(Sim::start(&pvesh_bin(), n));
        let counter = sim.clone();
        let rt_handle = &rt;
        let mut servers = vec![Server {
            name: "sim",
            url: sim.url.clone(),
            trust: ["--fingerprint".into(), sim.fingerprint.clone()],
            requests: Box::new(move || counter.requests(rt_handle)),
        }];
        let fake = python.as_deref().and_then(|py| {
            let guests = guests_of(&rt, &sim.url);
            FakePve::start(py, &guests, home.path())
        });
        let fake = fake.map(std::rc::Rc::new);
        if let Some(f) = &fake {
            let counter = f.clone();
            servers.push(Server {
                name: "fakepve",
                url: f.url.clone(),
                trust: ["--ca".into(), f.ca.clone()],
                requests: Box::new(move || counter.requests()),
            });
        } else if python.is_some() {
            println!("fakepve: did not start (skipped)");
        }
        println!();
        println!("{n} guests on {NODES} nodes, median of {runs} runs");
        println!(
            "  {:<8} {:<24} {:>9} {:>10} {:>13}",
            "server", "client", "wall", "peak RSS", "requests/run"
        );
        let mut results: Vec<(&str, Vec<Row>)> = Vec::new();
        for server in &servers {
            let mut rows = Vec::new();
            for (name, argv, env) in clients(server) {
                // One warm-up run (page cache, the server's first answer), not counted.
                let _ = measure(&argv, &env, home.path(), server);
                let runs: Vec<Run> = (0..runs)
                    .map(|_| measure(&argv, &env, home.path(), server))
                    .collect();
                let row = Row { client: name, runs };
                if let Some(bad) = row.runs.iter().find(|r| !r.ok) {
                    println!(
                        "  {:<8} {:<24} failed: {}",
                        server.name, row.client, bad.err
                    );
                } else {
                    println!(
                        "  {:<8} {:<24} {:>7.3} s {:>6.1} MiB {:>13}",
                        server.name,
                        row.client,
                        row.wall(),
                        row.rss_mib(),
                        row.requests()
                    );
                }
                rows.push(row);
            }
            results.push((server.name, rows));
        }
        let sim_rps = throughput(&rt, &sim.url, 20);
        match &fake {
            Some(f) => {
                let fake_rps = throughput(&rt, &f.url, 5);
                println!(
                    "  GET /cluster/resources, sequential: sim {sim_rps:.1} req/s, fakepve {fake_rps:.1} req/s (sim {:.1}x)",
                    sim_rps / fake_rps
                );
            }
            None => println!("  GET /cluster/resources, sequential: sim {sim_rps:.1} req/s"),
        }
        for (server, rows) in &results {
            let find = |prefix: &str| rows.iter().find(|r| r.client.starts_with(prefix));
            let Some(ls) = find("pvesh+ -c ls (token)") else {
                continue;
            };
            let mut checks = vec![format!("requests per token listing {}", ls.requests())];
            // A client that failed has no time to compare with.
            match find("proxctl") {
                Some(p) if p.runs.iter().all(|r| r.ok) => {
                    checks.push(format!("ls/proxctl {:.2}x", ls.wall() / p.wall()));
                }
                Some(_) => checks.push("ls/proxctl n/a (proxctl failed)".into()),
                None => {}
            }
            if let Some(c) = find("curl") {
                checks.push(format!("ls/curl {:.2}x", ls.wall() / c.wall()));
            }
            checks.push(format!("ls peak RSS {:.1} MiB", ls.rss_mib()));
            println!("  {server}: {}", checks.join(", "));
        }
        drop(servers);
        drop(fake);
        drop(sim);
    }
}
