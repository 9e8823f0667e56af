//! `dashboard` through the real binary: `--json`'s shape and its one request, the text frame
//! whenever stdout is not a terminal, the thresholds from the config, and the live screen in a
//! pseudo-terminal (it draws, refreshes, `q` quits, the terminal is restored).

use crate::common::{PASSWORD, Pty, TestSim, std_cmd};

fn json(sim: &TestSim, line: &str) -> serde_json::Value {
    let (code, out, err) = sim.run(line);
    assert_eq!(code, 0, "`{line}` failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn json_has_the_numbers_from_one_request() {
    let sim = TestSim::demo();
    let before = sim.handle.count("GET", "/cluster/resources");
    let d = json(&sim, "dashboard --json");
    assert_eq!(sim.handle.count("GET", "/cluster/resources"), before + 1);
    // (and one rrddata per node, for the rates)
    let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "nodes",
            "storages",
            "busiest",
            "running",
            "stopped",
            "thresholds"
        ]
    );
    assert_eq!(d["thresholds"]["cpu_overcommit"], 4.0);
    assert_eq!(d["thresholds"]["memory_overcommit"], 1.0);
    let nodes = d["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    for key in [
        "node",
        "status",
        "cpu",
        "maxcpu",
        "mem",
        "maxmem",
        "disk",
        "maxdisk",
        "running",
        "stopped",
        "vcpus",
        "cpu_ratio",
        "cpu_overcommitted",
        "allocated_mem",
        "mem_ratio",
        "memory_overcommitted",
    ] {
        assert!(nodes[0].get(key).is_some(), "no {key} in {}", nodes[0]);
    }
    let pve3 = nodes.iter().find(|n| n["node"] == "pve3").unwrap();
    assert_eq!(pve3["memory_overcommitted"], true, "{pve3}");
    assert_eq!(pve3["cpu_overcommitted"], false, "{pve3}");
    let busiest = d["busiest"].as_array().unwrap();
    assert_eq!(busiest.len(), 5);
    let cpus: Vec<f64> = busiest.iter().map(|g| g["cpu"].as_f64().unwrap()).collect();
    assert!(cpus.windows(2).all(|w| w[0] >= w[1]), "{cpus:?}");
    for key in [
        "vmid", "name", "node", "type", "cpu", "maxcpu", "mem", "maxmem",
    ] {
        assert!(busiest[0].get(key).is_some(), "no {key} in {}", busiest[0]);
    }
    // `-o json` gives the same numbers as a record.
    let (code, as_record, err) = json_output(&sim);
    assert_eq!(code, 0, "{err}");
    // The rates are the newest rrd sample, which the simulated clock has moved on from.
    let without_rates = |v: &serde_json::Value| {
        let mut v = v.clone();
        for n in v.as_array_mut().unwrap() {
            n.as_object_mut().unwrap().remove("rates");
        }
        v
    };
    assert_eq!(
        without_rates(&as_record["nodes"]),
        without_rates(&d["nodes"])
    );
}

fn json_output(sim: &TestSim) -> (i32, serde_json::Value, String) {
    let out = sim
        .cmd()
        .args(["-o", "json", "-c", "dashboard"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_frame_off_a_terminal_is_80_columns_of_text() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("dashboard");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("pvesh+ dashboard  3 nodes, 20 guests"),
        "{out}"
    );
    assert!(
        !out.contains('\x1b'),
        "no escape sequences in a pipe: {out:?}"
    );
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
}

#[test]
fn thresholds_come_from_the_config() {
    let sim = TestSim::demo();
    let config = sim.home.path().join("cluster-config.yaml");
    std::fs::write(
        &config,
        "dashboard:\n  cpu_overcommit: 2.0\n  memory_overcommit: 1.5\n",
    )
    .unwrap();
    let out = sim
        .cmd()
        .args([
            "--config",
            config.to_str().unwrap(),
            "-c",
            "dashboard --once",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // pve3: 17 vCPUs on 8 cores (2.12x, above 2.0), 36.5 GiB on 32 GiB (1.14x, below 1.5).
    assert!(text.contains("vcpu 17/8 2.12x!"), "{text}");
    assert!(text.contains("mem 36.5 GiB/32.0 GiB 1.14x\n"), "{text}");
    assert!(text.contains("(vcpu 2.0x, mem 1.5x;"), "{text}");
}

#[test]
fn live_on_a_terminal_redraws_and_q_quits_with_the_terminal_restored() {
    let sim = TestSim::demo();
    let bin = env!("CARGO_BIN_EXE_pvesh-plus");
    let line = format!(
        "stty cols 100 rows 40; before=$(stty -g); \
         '{bin}' --url '{}' --fingerprint '{}' -c 'dashboard'; echo rc=$?; \
         [ \"$before\" = \"$(stty -g)\" ] && echo terminal-restored",
        sim.handle.url(),
        sim.handle.fingerprint()
    );
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", &line]);
    let cmd = std_cmd(sim.home.path());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh.env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_PASSWORD", PASSWORD)
        .env("TERM", "xterm");
    let mut p = Pty::spawn(sh, 20_000);
    // ratatui writes changed cells only, moving the cursor over blanks: words, not lines.
    p.exp_string("dashboard").unwrap();
    p.exp_string("BUSIEST").unwrap();
    p.exp_string("quits;").unwrap();
    // `r` refreshes at once: another inventory request, waited for as an event.
    let drawn = sim.handle.count("GET", "/cluster/resources");
    p.send("r").unwrap();
    p.flush().unwrap();
    sim.wait_answered(drawn + 1, |r| r.template == "/cluster/resources");
    p.send("q").unwrap();
    p.flush().unwrap();
    p.exp_string("rc=0").unwrap();
    p.exp_string("terminal-restored").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn node_rates_come_from_rrddata_on_the_simulated_clock() {
    let sim = TestSim::start(pvesh_plus::sim::SimOptions {
        speed: 0.0,
        ..Default::default()
    });
    let rates = |d: &serde_json::Value| -> Vec<f64> {
        d["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["rates"]["netin"].as_f64().expect("netin"))
            .collect()
    };
    let before = sim.handle.count("GET", "/nodes/{node}/rrddata");
    let first = json(&sim, "dashboard --json");
    assert_eq!(
        sim.handle.count("GET", "/nodes/{node}/rrddata"),
        before + 3,
        "one rrddata per online node"
    );
    assert!(rates(&first).iter().all(|r| *r > 0.0), "{first}");
    // The same simulated minute gives the same sample; ten minutes later, another one.
    assert_eq!(rates(&json(&sim, "dashboard --json")), rates(&first));
    sim.handle.advance(600.0);
    assert_ne!(rates(&json(&sim, "dashboard --json")), rates(&first));
    let (_, text, _) = sim.run("dashboard --once");
    assert!(text.contains("net in "), "{text}");
    assert!(text.contains("io wait"), "{text}");
}
