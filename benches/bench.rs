//! Benchmarks that print numbers (`cargo bench`); nothing here asserts a time.
//!
//! - completion latency (median, p99) with 10 000 guests cached, and the inventory's memory (RSS delta);
//! - evaluating `where | sort-by | first 10` over 10 000 guest records, without the network;
//! - the simulator's requests per second for `GET /cluster/resources` (10 000 guests);
//! - `--demo` cold start to a first answer, and `-c ls` wall time and peak memory against a
//!   10 000-guest simulator (the release binary, measured with /usr/bin/time);
//! - `placement`: the evacuation planner for a node of 1000 guests in a 10 000-guest, 32-node
//!   cluster, and the balancer over the whole cluster (median of 20 runs);
//! - `bulk`: a snapshot of 500 guests through the staging executor at `--parallel` 4, 8 and 16
//!   (at most 2 per node, 8 nodes) against the ideal ceil(500/parallel)·T and a sequential loop,
//!   where T is the simulated task time (`BULK_T_MS`, default 50 ms);
//! - `dashboard`: the frame time for 10 000 guests on 32 nodes: the numbers from the inventory,
//!   the 80-column text frame, and a 200×60 screen drawn into a ratatui buffer (median, p99).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use pvesh_plus::inventory::Inventory;
use pvesh_plus::lang::{self, Value};
use pvesh_plus::secret::Secret;
use pvesh_plus::sim::{self, Scenario, SimOptions};

/// The process's resident memory in KiB, from /proc (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn generated_resources(guests: usize, nodes: usize) -> serde_json::Value {
    let mut rows = Vec::new();
    for n in 0..nodes {
        rows.push(serde_json::json!({"type":"node","node":format!("node{n:02}"),"status":"online","maxmem":137438953472u64}));
    }
    for i in 0..guests {
        rows.push(serde_json::json!({
            "type": "qemu", "id": format!("qemu/{}", 1000 + i), "vmid": 1000 + i,
            "name": format!("gen-{i:05}"), "node": format!("node{:02}", i % nodes),
            "status": if i % 3 == 0 { "stopped" } else { "running" },
            "tags": if i % 5 == 0 { "prod;web" } else { "dev" },
            "mem": (i as u64 % 64) * 268435456, "maxmem": 8589934592u64, "cpu": 0.05, "maxcpu": 4,
            "uptime": i * 60, "disk": 0, "maxdisk": 34359738368u64, "template": 0
        }));
    }
    serde_json::Value::Array(rows)
}

fn bench_completion() {
    let data = generated_resources(10_000, 32);
    let before = rss_kib();
    let inv = Inventory::from_resources(&data).unwrap();
    let inventory_kib = rss_kib().saturating_sub(before);
    drop(data);
    let lines = [
        "status gen-0",
        "status gen-09",
        "use gen-04",
        "status 10",
        "status 1999",
        "status @tag:p",
        "ls | where status=r",
        "ls | sort-by ma",
        "sta",
        "status zzz",
    ];
    let mut samples = Vec::new();
    for round in 0..200 {
        for line in lines {
            let start = Instant::now();
            let c = pvesh_plus::shell::complete::complete(line, line.len(), Some(&inv));
            samples.push(start.elapsed());
            std::hint::black_box((c, round));
        }
    }
    samples.sort();
    println!(
        "completion, 10 000 guests cached: median {:?}, p99 {:?}, max {:?} over {} completions",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
        samples.len()
    );
    println!(
        "inventory of 10 000 guests + 32 nodes: about {:.1} MiB more resident memory",
        inventory_kib as f64 / 1024.0
    );
}

fn bench_pipeline() {
    let data = generated_resources(10_000, 32);
    let inv = Inventory::from_resources(&data).unwrap();
    let records: Vec<Value> = inv
        .guests()
        .iter()
        .map(pvesh_plus::commands::guest_record)
        .collect();
    let expr = lang::parse_filter("status=running and tags has prod and mem > 1G").unwrap();
    let mut samples = Vec::new();
    for _ in 0..50 {
        let input = records.clone();
        let start = Instant::now();
        let kept = lang::filter(input, &expr).unwrap();
        let sorted = lang::sort_by(kept, "mem", true).unwrap();
        let top = lang::first(sorted, 10);
        samples.push(start.elapsed());
        std::hint::black_box(top);
    }
    samples.sort();
    println!(
        "`where status=running and tags has prod and mem > 1G | sort-by mem --reverse | first 10` over 10 000 guests: median {:?}, p99 {:?}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    );
}

fn bench_sim_rps(rt: &tokio::runtime::Runtime) {
    let handle = rt
        .block_on(sim::start(SimOptions {
            scenario: Scenario::Generated {
                guests: 10_000,
                nodes: 32,
            },
            tokens: vec![("root@pam!bench".into(), Secret::new("bench-secret"))],
            ..SimOptions::default()
        }))
        .unwrap();
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let url = format!("{}/api2/json/cluster/resources", handle.url());
    let run = |concurrency: usize, total: usize| {
        rt.block_on(async {
            let start = Instant::now();
            let per = total / concurrency;
            let mut tasks = Vec::new();
            for _ in 0..concurrency {
                let client = client.clone();
                let url = url.clone();
                tasks.push(tokio::spawn(async move {
                    for _ in 0..per {
                        let r = client
                            .get(&url)
                            .header("Authorization", "PVEAPIToken=root@pam!bench=bench-secret")
                            .send()
                            .await
                            .unwrap();
                        assert!(r.status().is_success());
                        std::hint::black_box(r.bytes().await.unwrap());
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            (per * concurrency) as f64 / start.elapsed().as_secs_f64()
        })
    };
    run(2, 20);
    println!(
        "simulator GET /cluster/resources (10 000 guests, ~4 MB): {:.0} req/s with 4 clients",
        run(4, 200)
    );
    let small = format!("{}/api2/json/version", handle.url());
    let rps = rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let client = client.clone();
            let url = small.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..1000 {
                    let r = client
                        .get(&url)
                        .header("Authorization", "PVEAPIToken=root@pam!bench=bench-secret")
                        .send()
                        .await
                        .unwrap();
                    std::hint::black_box(r.bytes().await.unwrap());
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        4000.0 / start.elapsed().as_secs_f64()
    });
    println!("simulator GET /version: {rps:.0} req/s with 4 clients");
}

/// Runs the release binary under /usr/bin/time; returns (wall seconds, max RSS KiB, exit ok).
fn timed(args: &[&str], env: &[(&str, &str)]) -> (f64, u64, bool) {
    let bin = env!("CARGO_BIN_EXE_pvesh-plus");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%e %M").arg(bin).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let mut parts = last.split_whitespace();
    let wall: f64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    let rss: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (wall, rss, out.status.success())
}

fn bench_binary(rt: &tokio::runtime::Runtime) {
    let mut walls = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_pvesh-plus"))
            .args(["--demo", "-c", "version"])
            .output()
            .unwrap();
        walls.push(start.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    walls.sort();
    println!(
        "--demo cold start to a first answer (simulator up, login, inventory, `version`): median {:?}",
        walls[2]
    );

    let handle = rt
        .block_on(sim::start(SimOptions {
            scenario: Scenario::Generated {
                guests: 10_000,
                nodes: 32,
            },
            users: vec![("root@pam".into(), Secret::new("bench-pw"))],
            ..SimOptions::default()
        }))
        .unwrap();
    let url = handle.url();
    let fp = handle.fingerprint();
    let env = [
        ("PROXMOX_USER", "root@pam"),
        ("PROXMOX_PASSWORD", "bench-pw"),
        ("NO_COLOR", "1"),
    ];
    let mut runs = Vec::new();
    for _ in 0..5 {
        let (wall, rss, ok) = timed(&["--url", &url, "--fingerprint", &fp, "-c", "ls"], &env);
        assert!(ok);
        runs.push((wall, rss));
    }
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (wall, rss) = runs[2];
    println!(
        "-c ls against a 10 000-guest simulator: median wall {wall:.2} s, peak RSS {:.1} MiB",
        rss as f64 / 1024.0
    );
    let (wall, rss, _) = timed(
        &["--url", &url, "--fingerprint", &fp, "-c", "ls | count"],
        &env,
    );
    println!(
        "-c 'ls | count' (no table): wall {wall:.2} s, peak RSS {:.1} MiB",
        rss as f64 / 1024.0
    );
}

fn bench_bulk(rt: &tokio::runtime::Runtime) {
    use pvesh_plus::api::{Auth, Client, ConnectOptions, TlsMode, endpoints};
    use pvesh_plus::staging::{Action, AuditLog, ExecOptions, Executor, Op, Precondition, Target};
    const GUESTS: usize = 500;
    // A snapshot task takes 3 simulated seconds; the clock speed makes that T of real time.
    let t_ms: f64 = std::env::var("BULK_T_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50.0);
    let handle = rt
        .block_on(sim::start(SimOptions {
            scenario: Scenario::Generated {
                guests: 800,
                nodes: 8,
            },
            tokens: vec![("root@pam!bench".into(), Secret::new("bench-secret"))],
            speed: 3000.0 / t_ms,
            ..SimOptions::default()
        }))
        .unwrap();
    let client = rt
        .block_on(Client::connect(ConnectOptions {
            url: handle.url(),
            auth: Auth::Token {
                tokenid: "root@pam!bench".into(),
                secret: Secret::new("bench-secret"),
            },
            tls: TlsMode::Fingerprint(handle.fingerprint()),
            timeout: Duration::from_secs(30),
            tfa: None,
        }))
        .unwrap();
    let data = rt
        .block_on(client.get(&endpoints::cluster_resources(None)))
        .unwrap();
    let inv = Inventory::from_resources(&data).unwrap();
    let targets: Vec<Target> = inv
        .guests()
        .iter()
        .filter(|g| g.kind == pvesh_plus::api::GuestKind::Qemu && !g.template)
        .take(GUESTS)
        .map(|g| Target {
            vmid: g.vmid,
            node: g.node.clone(),
            guest_kind: g.kind,
            name: g.name.clone(),
        })
        .collect();
    assert_eq!(
        targets.len(),
        GUESTS,
        "the generated cluster has too few VMs"
    );
    let plan = |snap: &str| -> Vec<Action> {
        targets
            .iter()
            .map(|t| {
                Action::new(
                    Op::Snapshot {
                        name: snap.to_string(),
                        vmstate: false,
                        description: None,
                    },
                    t.clone(),
                    Precondition {
                        digest: None,
                        node: t.node.clone(),
                        status: String::new(),
                    },
                )
            })
            .collect()
    };
    let audit = std::sync::Arc::new(AuditLog::new(None, "bench", "root@pam!bench"));
    let t = t_ms / 1000.0;
    println!(
        "bulk snapshot of {GUESTS} guests on 8 nodes, T = {t_ms} ms per task (at most 2 tasks per node)"
    );
    println!("  parallel   wall      ideal ceil(N/p)·T   ratio");
    for parallel in [4usize, 8, 16] {
        let opts = ExecOptions {
            parallel,
            check_preconditions: false,
            keep_going: true,
            ..ExecOptions::default()
        };
        let start = Instant::now();
        let exec = Executor::new(client.clone(), audit.clone());
        let outcomes = rt.block_on(exec.run(
            plan(&format!("bulk-p{parallel}")),
            &Default::default(),
            &opts,
            &mut |_: &str| {},
        ));
        let wall = start.elapsed().as_secs_f64();
        let ok = outcomes.iter().filter(|o| o.outcome.is_done()).count();
        assert_eq!(
            ok,
            GUESTS,
            "{:?}",
            outcomes.iter().find(|o| !o.outcome.is_done())
        );
        let ideal = GUESTS.div_ceil(parallel) as f64 * t;
        println!(
            "  {parallel:>8}   {wall:>6.2} s   {ideal:>6.2} s            {:.2}x",
            wall / ideal
        );
    }
    // The sequential loop a script would write: send, wait, next.
    let start = Instant::now();
    rt.block_on(async {
        let wait = ExecOptions::default().wait;
        for a in plan("bulk-seq") {
            client
                .run_task(&a.request(), &wait, &mut |_: &str| {})
                .await
                .unwrap();
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let ideal = GUESTS as f64 * t;
    println!(
        "  sequential {wall:>6.2} s   {ideal:>6.2} s (N·T)       {:.2}x",
        wall / ideal
    );
}

fn bench_placement() {
    use pvesh_plus::api::GuestKind;
    use pvesh_plus::staging::placement::{self, EvacuateOptions, GuestFacts, NodeCap};
    const G: u64 = 1 << 30;
    let nodes: Vec<NodeCap> = (0..32)
        .map(|n| NodeCap {
            name: format!("node{n:02}"),
            online: true,
            maintenance: false,
            maxmem: 512 * G,
            mem: (100 + (n as u64 * 7) % 200) * G,
            maxcpu: 64,
            cpu: 0.1 + (n as f64) / 100.0,
            storages: vec!["local-lvm".into(), "ceph".into()],
        })
        .collect();
    // 10 000 guests; node00 holds 1000 of them, the rest are spread over the others.
    let guests: Vec<GuestFacts> = (0..10_000u32)
        .map(|i| GuestFacts {
            vmid: 1000 + i,
            name: format!("gen-{i:05}"),
            kind: if i % 10 == 0 {
                GuestKind::Lxc
            } else {
                GuestKind::Qemu
            },
            node: if i < 1000 {
                "node00".into()
            } else {
                format!("node{:02}", 1 + i % 31)
            },
            running: i % 3 != 0,
            maxmem: (1 + u64::from(i % 16)) * G / 2,
            mem: (1 + u64::from(i % 16)) * G / 4,
            template: false,
            hold: None,
            ha: i % 50 == 0,
            local_storages: if i % 4 == 0 {
                vec!["local-lvm".into()]
            } else {
                Vec::new()
            },
            local_resources: Vec::new(),
        })
        .collect();
    let opts = EvacuateOptions {
        with_local_disks: true,
        include_templates: false,
    };
    let mut times = Vec::new();
    let mut placed = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let plan = placement::evacuate("node00", &guests, &nodes, &[], opts);
        times.push(t.elapsed());
        placed = plan.placements.iter().filter(|p| p.to.is_some()).count();
    }
    times.sort();
    println!(
        "placement: evacuate 1000 guests of 10000 on 32 nodes: median {:.2} ms, p99 {:.2} ms ({placed} placed)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3
    );
    let mut times = Vec::new();
    let mut moves = 0;
    for _ in 0..20 {
        let t = Instant::now();
        moves = placement::balance(&guests, &nodes, 20, true).len();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "placement: balance 10000 guests on 32 nodes (20 moves max): median {:.2} ms ({moves} moves)",
        percentile(&times, 0.5).as_secs_f64() * 1e3
    );
}

fn bench_dashboard() {
    use pvesh_plus::render::dashboard::{Dashboard, Thresholds, draw, frame_text};
    let inv = Inventory::from_resources(&generated_resources(10_000, 32)).unwrap();
    let thresholds = Thresholds::from(&pvesh_plus::config::DashboardConfig::default());
    let (mut build, mut text, mut screen) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..200 {
        let start = Instant::now();
        let d = Dashboard::build(&inv, thresholds);
        build.push(start.elapsed());
        let start = Instant::now();
        let frame = frame_text(&d);
        text.push(start.elapsed());
        assert!(frame.contains("node31"));
        let start = Instant::now();
        let area = ratatui::layout::Rect::new(0, 0, 200, 60);
        let mut buf = ratatui::buffer::Buffer::empty(area);
        draw(&d, area, &mut buf);
        screen.push(start.elapsed());
    }
    for (what, samples) in [
        ("numbers (Dashboard::build)", &mut build),
        ("text frame, 80 columns", &mut text),
        ("screen 200x60 into a buffer", &mut screen),
    ] {
        samples.sort();
        println!(
            "dashboard, 10 000 guests on 32 nodes: {what}: median {:?}, p99 {:?}",
            percentile(samples, 0.5),
            percentile(samples, 0.99)
        );
    }
}

fn main() {
    let filter = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if "completion".contains(filter.as_str()) {
        bench_completion();
    }
    if "pipeline".contains(filter.as_str()) {
        bench_pipeline();
    }
    if "sim".contains(filter.as_str()) {
        bench_sim_rps(&rt);
    }
    if "binary".contains(filter.as_str()) {
        bench_binary(&rt);
    }
    if "placement".contains(filter.as_str()) {
        bench_placement();
    }
    if "bulk".contains(filter.as_str()) {
        bench_bulk(&rt);
    }
    if "dashboard".contains(filter.as_str()) {
        bench_dashboard();
    }
}
