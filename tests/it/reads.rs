//! The read commands through the real binary against the simulator: ps, storage, content, pools,
//! tags, templates, snapshots, backups, config, ip, usage; the request counts behind `backups`;
//! server validation errors from `get`; backup-jobs; the simulator's network, HA, group and RRD reads.

use pvesh_plus::sim::{Faults, Scenario, SimOptions};

use crate::common::TestSim;

/// Runs `line` and returns stdout, failing the test on a non-zero exit.
fn ok(sim: &TestSim, line: &str) -> String {
    let (code, out, err) = sim.run(line);
    assert_eq!(code, 0, "`{line}` failed: {err}");
    out
}

fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

#[test]
fn ps_lists_running_guests_only() {
    let sim = TestSim::demo();
    let running = ok(&sim, "ls | where status=running | count");
    assert_eq!(ok(&sim, "ps | count"), running);
    assert_eq!(ok(&sim, "ps | where status!=running | count").trim(), "0");
    let busiest = ok(&sim, "ps | first 1 | get name");
    assert_eq!(busiest.trim(), "web01", "ps sorts by CPU load");
}

#[test]
fn storage_tables_and_json() {
    let sim = TestSim::demo();
    insta::assert_snapshot!("storage_pve1_table", ok(&sim, "storage pve1"));
    insta::assert_snapshot!(
        "storage_shared_json",
        ok(&sim, "storage | where shared=true | to json")
    );
    let backup_targets = ok(
        &sim,
        "storage | where content has backup | get storage | uniq",
    );
    assert_eq!(lines(&backup_targets), ["local", "backup"]);
    let (code, _, err) = sim.run("storage pve9");
    assert_eq!(code, 1);
    assert!(
        err.contains("no node 'pve9'") && err.contains("pve1"),
        "{err}"
    );
}

#[test]
fn content_of_a_storage_by_type() {
    let sim = TestSim::demo();
    let isos = ok(&sim, "content local --type iso | get volid");
    assert!(!isos.is_empty());
    assert!(
        lines(&isos).iter().all(|v| v.starts_with("local:iso/")),
        "{isos}"
    );
    let on_pve2 = ok(
        &sim,
        "content backup --node pve2 --type backup | where vmid=101 | get node | uniq",
    );
    assert_eq!(on_pve2.trim(), "pve2");
    let (code, _, err) = sim.run("content nowhere");
    assert_eq!(code, 1);
    assert!(
        err.contains("no storage 'nowhere'") && err.contains("local-lvm"),
        "{err}"
    );
}

#[test]
fn pools_tags_templates() {
    let sim = TestSim::demo();
    assert_eq!(ok(&sim, "pools | get poolid").trim(), "lab");
    let lab = ok(&sim, "ls | where pool=lab | count");
    assert_eq!(ok(&sim, "pools | get guests"), lab);
    insta::assert_snapshot!("tags_table", ok(&sim, "tags"));
    let prod = ok(&sim, "ls | where tags has prod | count");
    assert_eq!(ok(&sim, "tags | where tag=prod | get count"), prod);
    assert_eq!(
        lines(&ok(&sim, "templates | get name")),
        ["debian-12-cloud", "ubuntu-24.04-cloud"]
    );
}

#[test]
fn snapshots_in_tree_order_with_current_marked() {
    let sim = TestSim::demo();
    insta::assert_snapshot!("snapshots_web01_table", ok(&sim, "snapshots web01"));
    let names = ok(&sim, "snapshots web01 | get name");
    assert_eq!(lines(&names), ["pre-upgrade", "after-upgrade", "current"]);
    let current = ok(&sim, "snapshots web01 | where current=true | get parent");
    assert_eq!(current.trim(), "after-upgrade");
}

#[test]
fn backups_for_all_and_for_one_guest() {
    let sim = TestSim::demo();
    let all = ok(&sim, "backups | count");
    assert!(all.trim().parse::<usize>().unwrap() >= 2, "{all}");
    let web01 = ok(&sim, "backups web01 | get vmid | uniq");
    assert_eq!(web01.trim(), "101");
    insta::assert_snapshot!(
        "backups_web01_json",
        ok(
            &sim,
            "backups web01 | select vmid guest volid ctime size storage protected | to json"
        )
    );
}

#[test]
fn backups_read_each_shared_storage_once() {
    let nodes = 16;
    let sim = TestSim::start(SimOptions {
        scenario: Scenario::Generated { guests: 300, nodes },
        ..SimOptions::logical()
    });
    let (code, _, err) = sim.run("backups | count");
    assert_eq!(code, 0, "{err}");
    let log = sim.handle.request_log();
    let content: Vec<_> = log
        .iter()
        .filter(|r| r.template == "/nodes/{node}/storage/{storage}/content")
        .collect();
    let shared = content
        .iter()
        .filter(|r| r.path.contains("/storage/backup/"))
        .count();
    assert_eq!(
        shared, 1,
        "the shared storage 'backup' is read through one node"
    );
    // `local` holds backups and is per node; `local-lvm` holds none and is never asked.
    assert_eq!(content.len(), nodes + 1, "{content:?}");
    assert!(content.iter().all(|r| !r.path.contains("local-lvm")));
}

#[test]
fn config_merges_and_marks_pending_changes() {
    let sim = TestSim::demo();
    sim.handle.with_state(|s| {
        let g = s.guests.get_mut(&101).unwrap();
        g.pending.insert("memory".into(), Some("8192".into()));
        g.pending.insert("onboot".into(), None);
    });
    let out = ok(&sim, "config web01 | to json");
    insta::assert_snapshot!("config_web01_json", out);
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    let v = &all[0];
    // Config memory is MiB in PVE: a size here, bytes in JSON.
    assert_eq!(v["memory"], 8192u64 << 20);
    assert_eq!(v["pending"]["memory"], "4.0 GiB → 8.0 GiB");
    assert_eq!(v["tags"], serde_json::json!(["prod", "web"]));
    assert_eq!(v["pending"]["onboot"], "delete (now 1)");
    assert_eq!(v["net0.bridge"], "vmbr0");
    assert_eq!(v["scsi0.size"], 32u64 << 30);
    let on_vmbr0 = ok(&sim, "config @all | where net0.bridge=vmbr0 | count");
    assert!(on_vmbr0.trim().parse::<usize>().unwrap() > 10, "{on_vmbr0}");
    let ct = ok(&sim, "config dns01 | get rootfs.volume");
    assert_eq!(ct.trim(), "local-lvm:vm-200-disk-0");
}

#[test]
fn ip_reports_trouble_per_guest() {
    let sim = TestSim::demo();
    // Guest agents answer once the guest has been up a few seconds.
    sim.handle.advance(60.0);
    let out = ok(&sim, "ip web01 dev-box lb01 dns01 build-cache | to json");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let by = |name: &str| -> Vec<&serde_json::Value> {
        rows.iter().filter(|r| r["name"] == name).collect()
    };
    assert!(
        by("web01")
            .iter()
            .any(|r| r["family"] == "ipv4" && r["error"].is_null())
    );
    assert_eq!(by("dev-box")[0]["error"], "VM is stopped");
    assert_eq!(by("lb01")[0]["error"], "No QEMU guest agent configured");
    assert_eq!(by("dns01")[0]["family"], "ipv4");
    assert_eq!(by("build-cache")[0]["error"], "container is stopped");
}

#[test]
fn usage_shows_parameters_from_the_servers_schema() {
    let sim = TestSim::demo();
    let cache = tempfile::tempdir().unwrap();
    let run = |line: &str| {
        let out = sim
            .cmd()
            .env("XDG_CACHE_HOME", cache.path())
            .args(["-c", line])
            .output()
            .unwrap();
        crate::common::split(out)
    };
    let (code, out, err) = run("usage /nodes/{node}/qemu/{vmid}/status/start");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("skiplock"), "{out}");
    assert!(
        err.contains("POST /nodes/{node}/qemu/{vmid}/status/start"),
        "{err}"
    );
    assert_eq!(sim.handle.count("GET", "/pve-docs/api-viewer/apidoc.js"), 1);
    let cached: Vec<_> = std::fs::read_dir(cache.path().join("pvesh-plus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(cached[0].starts_with("apidoc-9."), "{cached:?}");
    // A second session reads the disk cache instead of downloading again.
    let (code, out, _) = run(
        "usage /nodes/pve1/qemu/101/status/start --method POST | where optional=false | get name",
    );
    assert_eq!(code, 0);
    assert_eq!(lines(&out), ["node", "vmid"]);
    assert_eq!(sim.handle.count("GET", "/pve-docs/api-viewer/apidoc.js"), 1);
    let (code, _, err) = run("usage /nodes/pve1/nope");
    assert_eq!(code, 1);
    assert!(
        err.contains("no path /nodes/pve1/nope") && err.contains("qemu"),
        "{err}"
    );
    let (code, _, err) = run("usage /version --method POST");
    assert_eq!(code, 1);
    assert!(err.contains("it has: GET"), "{err}");
}

#[test]
fn get_shows_each_bad_parameter() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("get /nodes/pve1/qemu/101/config snapshot=x/y current=maybe");
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("Parameter verification failed."), "{err}");
    assert!(
        err.contains("current: type check ('boolean') failed - got 'maybe'"),
        "{err}"
    );
    assert!(err.contains("snapshot: invalid format"), "{err}");
    assert!(err.contains("usage /nodes/pve1/qemu/101/config"), "{err}");
}

#[test]
fn every_example_of_the_read_commands_runs() {
    let sim = TestSim::demo();
    sim.handle.advance(60.0);
    let mine = [
        "ps",
        "storage",
        "content",
        "pools",
        "tags",
        "templates",
        "snapshots",
        "backups",
        "config",
        "ip",
        "usage",
    ];
    let mut ran = 0;
    for name in mine {
        let cmd = pvesh_plus::commands::find(name).unwrap();
        for example in cmd.sig.examples {
            let (code, _, err) = sim.run(example.line);
            assert_eq!(code, 0, "example `{}` failed: {err}", example.line);
            ran += 1;
        }
    }
    assert!(ran >= 2 * mine.len(), "only {ran} examples");
}

#[test]
fn backup_jobs_show_selection_retention_and_next_run() {
    let sim = TestSim::demo();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&sim, "backup-jobs | to json")).expect("backup-jobs JSON");
    let jobs = json.as_array().expect("a list of jobs");
    assert_eq!(jobs.len(), 2, "{json}");
    let nightly = &jobs[0];
    assert_eq!(nightly["id"], "backup-prod-nightly");
    assert_eq!(nightly["guests"], "101,102,103,104");
    assert_eq!(nightly["retention"], "keep-last=3,keep-daily=7");
    assert_eq!(nightly["enabled"], true);
    // The simulated clock starts at 2026-01-01T00:00Z: the daily 21:00 job runs that evening.
    assert_eq!(nightly["next_run"], 1_767_301_200);
    let weekly = &jobs[1];
    assert_eq!(weekly["guests"], "all except 9000,9001");
    assert_eq!(weekly["enabled"], false);
    assert_eq!(
        ok(&sim, "backup-jobs | where enabled = false | get id").trim(),
        "backup-weekly-all"
    );
}

/// The simulator's reads third-party clients need (issue 10), through `get`.
#[test]
fn sim_serves_network_ha_groups_and_rrd() {
    let sim = TestSim::demo();
    let json = |line: &str| -> serde_json::Value {
        serde_json::from_str(&ok(&sim, &format!("{line} | to json"))).expect("JSON")
    };
    let ifaces = json("get /nodes/pve2/network");
    let names: Vec<&str> = ifaces
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["iface"].as_str())
        .collect();
    assert_eq!(names, ["eno1", "eno2", "vmbr0"]);
    let bridges = json("get /nodes/pve2/network type=any_bridge");
    assert_eq!(bridges.as_array().unwrap().len(), 1, "{bridges}");
    assert_eq!(bridges[0]["cidr"], "10.0.0.12/24");
    assert_eq!(bridges[0]["bridge_ports"], "eno1");
    assert_eq!(
        json("get /nodes/pve1/network type=bond"),
        serde_json::json!([])
    );

    assert_eq!(json("get /nodes/pve3/version")[0]["release"], "9.1");
    assert_eq!(
        json("get /access/groups | get groupid"),
        serde_json::json!(["admins", "auditors"])
    );
    assert_eq!(json("get /cluster/ha/resources")[0]["sid"], "vm:103");
    assert_eq!(json("get /cluster/ha/rules")[0]["nodes"], "pve1:2,pve2:1");
    assert_eq!(json("get /cluster/ha/groups"), serde_json::json!([]));
    let status = json("get /cluster/ha/status/current");
    let service = status
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "service")
        .expect("a service entry");
    assert_eq!(service["status"], "vm:103 (pve1, started)");
    // `to json` prints a single record as a one-element list.
    let ms = &json("get /cluster/ha/status/manager_status")[0];
    assert_eq!(ms["manager_status"]["master_node"], "pve1");
    assert_eq!(ms["lrm_status"]["pve1"]["state"], "active");
    assert_eq!(ms["lrm_status"]["pve3"]["state"], "wait_for_agent_lock");

    // RRD: PVE 9's point counts per timeframe; a stopped guest reads zero CPU.
    assert_eq!(
        ok(
            &sim,
            "get /nodes/pve1/qemu/101/rrddata timeframe=hour | count"
        )
        .trim(),
        "60"
    );
    assert_eq!(
        ok(
            &sim,
            "get /nodes/pve1/rrddata timeframe=week cf=MAX | count"
        )
        .trim(),
        "336"
    );
    let web = json("get /nodes/pve1/qemu/101/rrddata timeframe=hour");
    let last = &web.as_array().unwrap()[59];
    assert!(last["cpu"].as_f64().unwrap() > 0.0, "{last}");
    let dev = json("get /nodes/pve3/qemu/120/rrddata timeframe=hour");
    assert_eq!(dev[59]["cpu"].as_f64(), Some(0.0), "dev-box is stopped");
    let (code, _, err) = sim.run("get /cluster/backup/nope");
    assert_ne!(code, 0);
    assert!(err.contains("No such job 'nope'"), "{err}");
}

/// A simulator that answers these routes 501, as an older PVE without them does.
fn older_pve(missing: &[&str]) -> TestSim {
    TestSim::start(SimOptions {
        faults: Faults {
            missing_routes: missing.iter().map(|m| m.to_string()).collect(),
            ..Faults::default()
        },
        ..SimOptions::logical()
    })
}

#[test]
fn the_missing_route_knob_answers_like_a_server_without_the_call() {
    let sim = older_pve(&["GET /cluster/tasks"]);
    let (code, _, err) = sim.run("get /cluster/tasks");
    assert_ne!(code, 0);
    assert!(
        err.contains("Method 'GET /cluster/tasks' not implemented"),
        "{err}"
    );
    // Only that method of that route.
    assert!(!ok(&sim, "get /version | get release").trim().is_empty());
    let bad = SimOptions {
        faults: Faults {
            missing_routes: vec!["GET /no/such/route".into()],
            ..Faults::default()
        },
        ..SimOptions::logical()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Err(err) = runtime.block_on(pvesh_plus::sim::start(bad)) else {
        panic!("an unknown route is refused");
    };
    assert!(err.to_string().contains("'GET /no/such/route'"), "{err}");
}

#[test]
fn config_falls_back_to_the_config_where_there_is_no_pending_call() {
    let sim = older_pve(&[
        "GET /nodes/{node}/qemu/{vmid}/pending",
        "GET /nodes/{node}/lxc/{vmid}/pending",
    ]);
    let (code, out, err) = sim.run("config web01");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("has no GET /nodes/pve1/qemu/101/pending"),
        "{err}"
    );
    assert!(out.contains("cores:"), "{out}");
    assert!(out.contains("net0.bridge:"), "{out}");
    assert_eq!(
        sim.handle.count("GET", "/nodes/{node}/qemu/{vmid}/config"),
        1
    );
    // Many guests, a container among them: the note comes once.
    let (code, out, err) = sim.run("ls | where tags has prod | config | count");
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().parse::<usize>().unwrap() >= 2, "{out}");
    assert_eq!(
        err.matches("showing the config without pending").count(),
        1,
        "{err}"
    );
}

#[test]
fn tasks_read_the_node_lists_where_there_is_no_cluster_list() {
    let sim = older_pve(&["GET /cluster/tasks"]);
    let (code, out, err) = sim.run("start dev-box; tag add maintenance web01; tasks");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no GET /cluster/tasks"), "{err}");
    assert!(out.contains("qmstart"), "{out}");
    assert!(out.contains("qmconfig"), "{out}");
    let online = 3;
    assert_eq!(sim.handle.count("GET", "/nodes/{node}/tasks"), online);
}

#[test]
fn tasks_of_one_node_come_from_its_list_and_say_the_total() {
    let sim = TestSim::demo();
    ok(&sim, "tag add a web01; tag add b web01; tag add c db01");
    let before = sim.handle.count("GET", "/cluster/tasks");
    let (code, out, err) = sim.run("tasks --node pve1 --limit 2");
    assert_eq!(code, 0, "{err}");
    assert_eq!(sim.handle.count("GET", "/cluster/tasks"), before);
    assert_eq!(sim.handle.count("GET", "/nodes/{node}/tasks"), 1);
    assert_eq!(out.matches("qmconfig").count(), 2, "{out}");
    assert!(
        err.contains("2 of 3 tasks; --limit 3 lists them all"),
        "{err}"
    );
    let (code, _, err) = sim.run("tasks --node pve9");
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("no node 'pve9'"), "{err}");
}
