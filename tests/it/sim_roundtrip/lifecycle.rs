//! Tasks and guest lifecycle: failures inside tasks, locks, clone, config (hotplug/pending,
//! digest, unused disks), resize, migrate, backup, create/destroy, stopping tasks, and the
//! generated scenario.

use super::*;

#[tokio::test]
async fn tasks_succeed_and_fail_inside_the_task() {
    let mut s = Session::new().await;
    s.login("root@pam", "rootpw").await;
    // Starting a running VM is accepted; the task fails.
    let r = s
        .call(Method::POST, "/nodes/pve1/qemu/101/status/start", &[])
        .await;
    assert_eq!(r.status, 200);
    let failing = r.body["data"].as_str().unwrap().to_string();
    // A snapshot takes the lock while it runs and appears at the end.
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/101/snapshot",
            &[("snapname", "before"), ("description", "d")],
        )
        .await;
    let snap = r.body["data"].as_str().unwrap().to_string();
    assert_eq!(s.task_status(&snap).await["status"], "running");
    let cur = s.get("/nodes/pve1/qemu/101/status/current").await;
    assert_eq!(cur.body["data"]["lock"], "snapshot");
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/101/snapshot",
            &[("snapname", "again")],
        )
        .await;
    let locked = r.body["data"].as_str().unwrap().to_string();
    s.h.advance(5.0);
    let st = s.task_status(&failing).await;
    assert_eq!(
        (st["status"].as_str(), st["exitstatus"].as_str()),
        (Some("stopped"), Some("VM 101 already running"))
    );
    assert_eq!(s.task_status(&snap).await["exitstatus"], "OK");
    assert_eq!(
        s.task_status(&locked).await["exitstatus"],
        "VM is locked (snapshot)"
    );
    let log = s
        .get(&format!("/nodes/pve1/tasks/{}/log", urlencode(&failing)))
        .await;
    assert_eq!(
        log.body["data"].as_array().unwrap().last().unwrap()["t"],
        "TASK ERROR: VM 101 already running"
    );
    assert!(log.body["total"].as_u64().unwrap() >= 1);
    let snaps = s.get("/nodes/pve1/qemu/101/snapshot").await;
    let names: Vec<&str> = snaps.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pre-upgrade", "after-upgrade", "before", "current"]);
    assert!(s.get("/nodes/pve1/qemu/101/status/current").await.body["data"]["lock"].is_null());
    // fail_tasks turns a matching task into a failure.
    s.h.set_faults(Faults {
        fail_tasks: Some("^qmstop$".into()),
        ..Faults::default()
    });
    let r = s
        .call(Method::POST, "/nodes/pve1/qemu/101/status/stop", &[])
        .await;
    let stop = r.body["data"].as_str().unwrap().to_string();
    s.h.advance(2.0);
    assert_eq!(
        s.task_status(&stop).await["exitstatus"],
        "simulated task failure"
    );
    let tasks = s.get("/nodes/pve1/tasks?limit=2").await;
    assert_eq!(tasks.body["data"].as_array().unwrap().len(), 2);
    assert!(tasks.body["total"].as_u64().unwrap() >= 4);
    assert!(s.h.count("POST", "/nodes/{node}/qemu/{vmid}/snapshot") >= 2);
    assert!(s.h.mutating_count() >= 4);
}

/// Runs a call that must return a UPID, advances the clock past it, and returns its exit status.
async fn run_task(
    s: &Session,
    method: Method,
    path: &str,
    params: &[(&str, &str)],
    secs: f64,
) -> String {
    let r = s.call(method, path, params).await;
    assert_eq!(r.status, 200, "{path}: {}", r.raw);
    let upid = r.body["data"].as_str().unwrap().to_string();
    s.h.advance(secs);
    let node = upid.split(':').nth(1).unwrap().to_string();
    let st = s
        .get(&format!("/nodes/{node}/tasks/{}/status", urlencode(&upid)))
        .await;
    st.body["data"]["exitstatus"]
        .as_str()
        .unwrap_or("running")
        .to_string()
}

#[tokio::test]
async fn clone_config_resize_migrate_backup() {
    let mut s = Session::new().await;
    s.login("root@pam", "rootpw").await;
    // Linked clones come only from templates and take no storage.
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "300"), ("storage", "local-lvm")],
        )
        .await;
    assert_eq!(
        r.body["errors"]["storage"], "parameter 'storage' not allowed for linked clones",
        "{}",
        r.raw
    );
    let exit = run_task(
        &s,
        Method::POST,
        "/nodes/pve1/qemu/9000/clone",
        &[("newid", "300"), ("name", "app01")],
        10.0,
    )
    .await;
    assert_eq!(exit, "OK");
    let cfg = s.get("/nodes/pve1/qemu/300/config").await.body["data"].clone();
    assert_eq!(cfg["name"], "app01");
    assert!(
        cfg["scsi0"]
            .as_str()
            .unwrap()
            .starts_with("local-lvm:base-9000-disk-0/vm-300-disk-0"),
        "{cfg}"
    );
    assert!(cfg["template"].is_null());
    // A full clone of a normal VM logs its progress.
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/101/clone",
            &[("newid", "301"), ("full", "1")],
        )
        .await;
    let upid = r.body["data"].as_str().unwrap().to_string();
    assert_eq!(
        s.get("/cluster/nextid?vmid=301").await.status,
        400,
        "newid 301 is reserved at once"
    );
    s.h.advance(10.0);
    let log = s
        .get(&format!("/nodes/pve1/tasks/{}/log", urlencode(&upid)))
        .await;
    assert!(
        log.raw.contains("transferred 8.0 GiB of 32.0 GiB (25.00%)"),
        "{}",
        log.raw
    );
    // PUT config: digest check, hotplug vs pending on a running VM.
    let digest = s.get("/nodes/pve1/qemu/101/config").await.body["data"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .call(
            Method::PUT,
            "/nodes/pve1/qemu/101/config",
            &[("cores", "4"), ("digest", "0000")],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.reason.as_str()),
        (
            500,
            "detected modified configuration - file changed by other user? Try again."
        )
    );
    let r = s
        .call(
            Method::PUT,
            "/nodes/pve1/qemu/101/config",
            &[
                ("cores", "4"),
                ("tags", "prod;web;big"),
                ("digest", &digest),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.body["data"].is_null());
    let current = s.get("/nodes/pve1/qemu/101/config?current=1").await.body["data"].clone();
    assert_eq!(
        (current["cores"].as_i64(), current["tags"].as_str()),
        (Some(2), Some("prod;web;big"))
    );
    let pending = s.get("/nodes/pve1/qemu/101/pending").await.body["data"].clone();
    let cores = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "cores")
        .unwrap();
    assert_eq!(
        (cores["value"].as_i64(), cores["pending"].as_i64()),
        (Some(2), Some(4))
    );
    // Resize: relative grow, shrink refused.
    assert_eq!(
        run_task(
            &s,
            Method::PUT,
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "+8G")],
            2.0
        )
        .await,
        "OK"
    );
    let cfg = s.get("/nodes/pve1/qemu/101/config").await.body["data"].clone();
    assert!(
        cfg["scsi0"].as_str().unwrap().ends_with("size=40G"),
        "{cfg}"
    );
    let r = s
        .call(
            Method::PUT,
            "/nodes/pve1/qemu/101/resize",
            &[("disk", "scsi0"), ("size", "10G")],
        )
        .await;
    assert_eq!(r.reason, "shrinking disks is not supported");
    // Migrate: running needs online; a stopped VM moves.
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/101/migrate",
            &[("target", "pve2")],
        )
        .await;
    assert_eq!(r.reason, "can't migrate running VM without --online");
    let pre = s.get("/nodes/pve3/qemu/120/migrate").await;
    assert_eq!(pre.body["data"]["running"], 0);
    assert_eq!(
        run_task(
            &s,
            Method::POST,
            "/nodes/pve3/qemu/120/migrate",
            &[("target", "pve2")],
            10.0
        )
        .await,
        "OK"
    );
    assert_eq!(
        s.get("/nodes/pve2/qemu/120/status/current").await.status,
        200
    );
    // Backup: a volume with notes appears on the shared store.
    let exit = run_task(
        &s,
        Method::POST,
        "/nodes/pve1/vzdump",
        &[
            ("vmid", "130"),
            ("storage", "backup"),
            ("notes-template", "{{guestname}} manual"),
        ],
        10.0,
    )
    .await;
    assert_eq!(exit, "OK");
    let backups = s
        .get("/nodes/pve2/storage/backup/content?content=backup&vmid=130")
        .await;
    let rows = backups.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", backups.raw);
    assert_eq!(rows[0]["notes"], "monitoring manual");
    // Create with disk allocation, then destroy.
    let exit = run_task(
        &s,
        Method::POST,
        "/nodes/pve2/qemu",
        &[
            ("vmid", "400"),
            ("name", "new01"),
            ("scsi0", "local-lvm:16"),
            ("net0", "virtio,bridge=vmbr0"),
            ("pool", "lab"),
        ],
        5.0,
    )
    .await;
    assert_eq!(exit, "OK");
    let cfg = s.get("/nodes/pve2/qemu/400/config").await.body["data"].clone();
    assert_eq!(cfg["scsi0"], "local-lvm:vm-400-disk-0,size=16G");
    assert!(
        cfg["net0"]
            .as_str()
            .unwrap()
            .starts_with("virtio=BC:24:11:"),
        "{cfg}"
    );
    let pool = s.get("/pools?poolid=lab").await;
    assert!(pool.raw.contains("\"vmid\":400"), "{}", pool.raw);
    assert_eq!(
        run_task(
            &s,
            Method::DELETE,
            "/nodes/pve2/qemu/400",
            &[("purge", "1")],
            5.0
        )
        .await,
        "OK"
    );
    assert_eq!(s.get("/nodes/pve2/qemu/400/config").await.status, 500);
}

#[tokio::test]
async fn stopping_a_task_interrupts_it() {
    let mut s = Session::new().await;
    s.login("root@pam", "rootpw").await;
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/vzdump",
            &[("vmid", "106"), ("storage", "backup")],
        )
        .await;
    let upid = r.body["data"].as_str().unwrap().to_string();
    s.h.advance(3.0);
    let status = s.get("/nodes/pve1/qemu/106/status/current").await;
    assert_eq!(status.body["data"]["lock"], "backup");
    let enc = urlencode(&upid);
    let r = s
        .call(Method::DELETE, &format!("/nodes/pve1/tasks/{enc}"), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    s.h.advance(10.0);
    assert_eq!(
        s.task_status(&upid).await["exitstatus"],
        "interrupted by signal"
    );
    let status = s.get("/nodes/pve1/qemu/106/status/current").await;
    assert!(status.body["data"]["lock"].is_null());
    let log = s.get(&format!("/nodes/pve1/tasks/{enc}/log")).await;
    assert!(!log.raw.contains("Finished Backup"), "{}", log.raw);
    let backups = s.get("/nodes/pve1/storage/backup/content?vmid=106").await;
    assert_eq!(backups.body["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn config_disks_unused_and_protection() {
    let mut s = Session::new().await;
    s.login("root@pam", "rootpw").await;
    let r = s
        .call(
            Method::PUT,
            "/nodes/pve1/qemu/103/config",
            &[("delete", "scsi0")],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.reason.as_str()),
        (500, "can't remove drive 'scsi0' - protection mode enabled")
    );
    let put = |params: &'static [(&'static str, &'static str)]| {
        s.call(Method::PUT, "/nodes/pve2/qemu/150/config", params)
    };
    assert_eq!(put(&[("scsi1", "local-lvm:4")]).await.status, 200);
    let cfg = s.get("/nodes/pve2/qemu/150/config").await.body["data"].clone();
    assert_eq!(cfg["scsi1"], "local-lvm:vm-150-disk-1,size=4G");
    assert_eq!(
        volume_count(&s, "/nodes/pve2/storage/local-lvm/content?vmid=150").await,
        2
    );
    assert_eq!(put(&[("delete", "scsi1")]).await.status, 200);
    let cfg = s.get("/nodes/pve2/qemu/150/config").await.body["data"].clone();
    assert_eq!(cfg["unused0"], "local-lvm:vm-150-disk-1");
    assert_eq!(
        volume_count(&s, "/nodes/pve2/storage/local-lvm/content?vmid=150").await,
        2,
        "an unused disk keeps its volume"
    );
    assert_eq!(put(&[("delete", "unused0")]).await.status, 200);
    assert_eq!(
        volume_count(&s, "/nodes/pve2/storage/local-lvm/content?vmid=150").await,
        1,
        "deleting unused0 destroys the volume"
    );
    let r = put(&[("cores", "2"), ("delete", "cores")]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn generated_scenario_serves_resources() {
    let h = sim::start(SimOptions {
        scenario: sim::Scenario::Generated {
            guests: 2000,
            nodes: 8,
        },
        users: vec![("root@pam".into(), Secret::new("rootpw"))],
        speed: 0.0,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let c = client(&h);
    let mut s = Session {
        h,
        c,
        ticket: None,
        csrf: None,
        token: None,
    };
    s.login("root@pam", "rootpw").await;
    let r = s.get("/cluster/resources?type=vm").await;
    let rows = r.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2000);
    assert!(rows.iter().any(|g| g["name"] == "gen-00042"));
    assert!(rows.iter().any(|g| g["type"] == "lxc"));
}

async fn volume_count(s: &Session, path: &str) -> usize {
    s.get(path).await.body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn containers() {
    let mut s = Session::new().await;
    s.login("root@pam", "rootpw").await;
    let r = s
        .call(
            Method::PUT,
            "/nodes/pve1/lxc/200/config",
            &[("memory", "1024"), ("net0", "name=eth0,brige=vmbr0")],
        )
        .await;
    assert_eq!(
        r.body["errors"]["net0"],
        "invalid format - invalid key in comma-separated list property: brige\n"
    );
    let r = s
        .call(
            Method::PUT,
            "/nodes/pve1/lxc/200/config",
            &[("memory", "1024")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let cfg = s.get("/nodes/pve1/lxc/200/config").await.body["data"].clone();
    assert_eq!(cfg["memory"], 1024);
    assert_eq!(
        run_task(
            &s,
            Method::POST,
            "/nodes/pve1/lxc/200/snapshot",
            &[("snapname", "pre")],
            5.0
        )
        .await,
        "OK"
    );
    let snaps = s.get("/nodes/pve1/lxc/200/snapshot").await;
    assert_eq!(snaps.body["data"][0]["name"], "pre");
    assert_eq!(snaps.body["data"][1]["name"], "current");
    let r = s.call(Method::DELETE, "/nodes/pve1/lxc/200", &[]).await;
    assert_eq!(r.reason, "CT 200 is running - destroy failed");
    assert_eq!(
        run_task(
            &s,
            Method::POST,
            "/nodes/pve1/lxc/200/status/shutdown",
            &[],
            5.0
        )
        .await,
        "OK"
    );
    assert_eq!(
        run_task(&s, Method::DELETE, "/nodes/pve1/lxc/200", &[], 5.0).await,
        "OK"
    );
    assert_eq!(
        s.get("/nodes/pve1/lxc/200/config").await.reason,
        "Configuration file 'nodes/pve1/lxc/200.conf' does not exist"
    );
}

#[tokio::test]
async fn with_state_changes_are_seen_by_clients() {
    let mut s = Session::new().await;
    s.login("root@pam", "rootpw").await;
    let digest = s.get("/nodes/pve1/qemu/101/config").await.body["data"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    s.h.with_state(|st| {
        st.guests
            .get_mut(&101)
            .unwrap()
            .config
            .insert("description".into(), "changed behind your back".into());
    });
    let r = s
        .call(
            Method::PUT,
            "/nodes/pve1/qemu/101/config",
            &[("cores", "4"), ("digest", &digest)],
        )
        .await;
    assert_eq!(
        r.reason,
        "detected modified configuration - file changed by other user? Try again."
    );
    let now = s.h.now();
    s.h.advance(30.0);
    assert_eq!(s.h.now(), now + 30);
}
