//! HTTPS round trips against the simulator with a real client (reqwest + rustls): login and
//! CSRF, API tokens, PVE's error shapes (400 map, 401, 403, 501) and tasks that succeed or fail
//! inside the task, with the clock moved only by `advance()`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pvesh_plus::secret::Secret;
use pvesh_plus::sim::{self, DEMO_TFA_SECRET, Faults, SimHandle, SimOptions};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

const TOKEN: &str = "root@pam!ci";
const TOKEN_SECRET: &str = "5ec2e7a0-0000-4000-8000-000000000001";

async fn start() -> SimHandle {
    sim::start(SimOptions {
        speed: 0.0,
        tokens: vec![(TOKEN.into(), Secret::new(TOKEN_SECRET))],
        users: vec![("root@pam".into(), Secret::new("rootpw"))],
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

fn client(h: &SimHandle) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = reqwest::Certificate::from_pem(h.cert_pem().as_bytes()).unwrap();
    Client::builder()
        .add_root_certificate(cert)
        .build()
        .unwrap()
}

struct Resp {
    status: StatusCode,
    reason: String,
    body: Value,
    raw: String,
    close: bool,
}

struct Session {
    h: SimHandle,
    c: Client,
    ticket: Option<String>,
    csrf: Option<String>,
    /// `(token id, secret)` sent as `PVEAPIToken`.
    token: Option<(String, String)>,
}

impl Session {
    async fn new() -> Session {
        let h = start().await;
        let c = client(&h);
        Session {
            h,
            c,
            ticket: None,
            csrf: None,
            token: None,
        }
    }

    async fn login(&mut self, user: &str, pw: &str) -> Resp {
        let r = self
            .call(
                Method::POST,
                "/access/ticket",
                &[("username", user), ("password", pw)],
            )
            .await;
        if r.status == 200 && r.body["data"]["NeedTFA"].is_null() {
            self.ticket = r.body["data"]["ticket"].as_str().map(str::to_string);
            self.csrf = r.body["data"]["CSRFPreventionToken"]
                .as_str()
                .map(str::to_string);
        }
        r
    }

    async fn call(&self, method: Method, path: &str, params: &[(&str, &str)]) -> Resp {
        let url = format!("{}/api2/json{path}", self.h.url());
        let mut rb = self.c.request(method.clone(), &url);
        rb = if method == Method::GET || method == Method::DELETE {
            rb.query(params)
        } else {
            rb.form(params)
        };
        if let Some(t) = &self.ticket {
            rb = rb.header("Cookie", format!("PVEAuthCookie={}", urlencode(t)));
        }
        if let (Some(c), true) = (&self.csrf, method != Method::GET) {
            rb = rb.header("CSRFPreventionToken", c);
        }
        if let Some((id, secret)) = &self.token {
            rb = rb.header("Authorization", format!("PVEAPIToken={id}={secret}"));
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let close = resp
            .headers()
            .get("connection")
            .is_some_and(|v| v == "close");
        let reason = status.canonical_reason().unwrap_or("").to_string();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .unwrap_or(reason);
        let raw = resp.text().await.unwrap();
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Resp {
            status,
            reason,
            body,
            raw,
            close,
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, &[]).await
    }

    async fn task_status(&self, upid: &str) -> Value {
        let r = self
            .get(&format!("/nodes/pve1/tasks/{}/status", urlencode(upid)))
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        r.body["data"].clone()
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn login_csrf_and_auth_errors() {
    let mut s = Session::new().await;
    let r = s.get("/cluster/resources").await;
    assert_eq!((r.status.as_u16(), r.reason.as_str()), (401, "No ticket"));
    assert!(r.close);
    let creds = s.h.credentials();
    assert_eq!(creds[0].0, "root@pam");
    assert_eq!(creds[0].1.expose(), "rootpw");
    assert!(
        creds
            .iter()
            .any(|(u, p)| u == "auditor@pve" && p.expose() == "auditor")
    );
    let bad = s.login("root@pam", "wrong").await;
    assert_eq!(
        (bad.status.as_u16(), bad.reason.as_str()),
        (401, "authentication failure")
    );
    let ok = s.login("root@pam", "rootpw").await;
    assert_eq!(ok.status, 200, "{}", ok.raw);
    assert!(s.ticket.as_deref().unwrap().starts_with("PVE:root@pam:"));
    assert_eq!(ok.body["data"]["clustername"], "demo");
    let r = s.get("/cluster/resources?type=vm").await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "web01" && g["vmid"] == 101)
    );
    let csrf = s.csrf.take();
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/101/snapshot",
            &[("snapname", "x1")],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.reason.as_str()),
        (401, "Permission denied - invalid csrf token")
    );
    s.csrf = csrf;
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/101/snapshot",
            &[("snapname", "x1")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.body["data"].as_str().unwrap().starts_with("UPID:pve1:"));
    // Renewal: the ticket itself is a password.
    let ticket = s.ticket.clone().unwrap();
    let r = s.login("root@pam", &ticket).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    // Expiry on the simulated clock.
    s.h.advance(7201.0);
    let r = s.get("/version").await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn totp_second_factor() {
    let mut s = Session::new().await;
    let r = s.login("tfa@pve", "tfa").await;
    assert_eq!(r.body["data"]["NeedTFA"], 1, "{}", r.raw);
    let half = r.body["data"]["ticket"].as_str().unwrap().to_string();
    assert!(half.starts_with("PVE:!tfa!"));
    s.ticket = Some(half.clone());
    assert_eq!(
        s.get("/version").await.status,
        401,
        "a half ticket is no ticket"
    );
    s.ticket = None;
    let code = sim::totp_code(DEMO_TFA_SECRET, s.h.now()).unwrap();
    let r = s
        .call(
            Method::POST,
            "/access/ticket",
            &[
                ("username", "tfa@pve"),
                ("tfa-challenge", &half),
                ("password", "000000x"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = s
        .call(
            Method::POST,
            "/access/ticket",
            &[
                ("username", "tfa@pve"),
                ("tfa-challenge", &half),
                ("password", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(
        r.body["data"]["ticket"]
            .as_str()
            .unwrap()
            .starts_with("PVE:tfa@pve:")
    );
}

#[tokio::test]
async fn tokens_and_permissions() {
    let mut s = Session::new().await;
    s.token = Some((TOKEN.into(), TOKEN_SECRET.into()));
    let r = s.get("/nodes/pve1/qemu/101/status/current").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["data"]["status"], "running");
    let r = s
        .call(
            Method::PUT,
            "/access/password",
            &[("userid", "root@pam"), ("password", "new-password")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.reason,
        "Permission check failed (URI '/access/password' not available with API token, need proper ticket.)"
    );
    // A task started by a token names the token in its UPID.
    let r = s
        .call(Method::POST, "/nodes/pve1/qemu/120/status/start", &[])
        .await;
    assert_eq!(r.status, 500, "dev-box lives on pve3: {}", r.raw);
    let r = s
        .call(Method::POST, "/nodes/pve3/qemu/120/status/start", &[])
        .await;
    assert!(
        r.body["data"]
            .as_str()
            .unwrap()
            .ends_with(":qmstart:120:root@pam!ci:"),
        "{}",
        r.raw
    );
    // The auditor may read but not act.
    s.token = None;
    s.login("auditor@pve", "auditor").await;
    assert_eq!(s.get("/nodes/pve1/qemu/101/config").await.status, 200);
    let r = s
        .call(Method::POST, "/nodes/pve1/qemu/101/status/stop", &[])
        .await;
    assert_eq!(
        (r.status.as_u16(), r.reason.as_str()),
        (403, "Permission check failed (/vms/101, VM.PowerMgmt)")
    );
}

#[tokio::test]
async fn error_shapes() {
    let mut s = Session::new().await;
    s.login("root@pam", "rootpw").await;
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/101/snapshot",
            &[("snapname", "1bad"), ("vmstate", "true"), ("bogus", "1")],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.reason.as_str()),
        (400, "Parameter verification failed.")
    );
    assert_eq!(r.body["message"], "Parameter verification failed.\n");
    let errors = r.body["errors"].as_object().unwrap();
    assert_eq!(
        errors["vmstate"],
        "type check ('boolean') failed - got 'true'"
    );
    assert_eq!(
        errors["snapname"],
        "invalid format - invalid configuration ID '1bad'\n"
    );
    assert_eq!(
        errors["bogus"],
        "property is not defined in schema and the schema does not allow additional properties"
    );
    let r = s.get("/nodes/pve1/nonsense").await;
    assert_eq!(
        (r.status.as_u16(), r.reason.as_str()),
        (501, "Method 'GET /nodes/pve1/nonsense' not implemented")
    );
    let r = s
        .call(
            Method::POST,
            "/nodes/pve1/qemu/101/snapshot",
            &[("snapname", "a"), ("node", "pve2")],
        )
        .await;
    assert_eq!(
        r.body["errors"]["node"],
        "duplicate parameter (already defined in URI) with conflicting values!"
    );
    let r = s.get("/cluster/nextid?vmid=101").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"]["vmid"], "VM 101 already exists");
    let r = s.call(Method::DELETE, "/nodes/pve1/qemu/103", &[]).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.reason, "can't remove VM 103 - protection mode enabled");
    let url = format!("{}/api2/json/version", s.h.url());
    let r =
        s.c.get(url)
            .header(
                "Cookie",
                format!("PVEAuthCookie={}", urlencode(s.ticket.as_deref().unwrap())),
            )
            .body("x=1")
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 501);
    let js =
        s.c.get(format!("{}/pve-docs/api-viewer/apidoc.js", s.h.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    let body = js
        .strip_prefix("const apiSchema = ")
        .unwrap()
        .trim_end()
        .strip_suffix(';')
        .unwrap();
    assert!(serde_json::from_str::<Value>(body).unwrap().is_array());
}

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
async fn faults_and_shutdown() {
    let mut s = Session::new().await;
    s.h.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    assert_eq!(
        s.login("root@pam", "rootpw").await.status,
        200,
        "login is never failed"
    );
    let r = s.get("/version").await;
    assert_eq!(
        (r.status.as_u16(), r.reason.as_str()),
        (500, "simulated failure")
    );
    s.h.set_faults(Faults {
        ticket_lifetime_secs: Some(60),
        ..Faults::default()
    });
    assert_eq!(s.get("/version").await.status, 200);
    s.h.advance(61.0);
    assert_eq!(s.get("/version").await.status, 401);
    s.h.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let url = format!("{}/api2/json/version", s.h.url());
    assert!(
        s.c.get(&url).send().await.is_err(),
        "the connection is closed without a response"
    );
    s.h.set_faults(Faults::default());
    let h = s.h.clone();
    h.shutdown().await;
    let fresh = client(&s.h);
    assert!(
        fresh.get(&url).send().await.is_err(),
        "nothing listens after shutdown"
    );
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

#[tokio::test]
async fn privilege_separated_tokens() {
    let mut s = Session::new().await;
    s.login("root@pam", "rootpw").await;
    let r = s
        .call(Method::POST, "/access/users/auditor@pve/token/sep", &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["data"]["full-tokenid"], "auditor@pve!sep");
    let secret = r.body["data"]["value"].as_str().unwrap().to_string();

    let mut t = Session {
        h: s.h.clone(),
        c: s.c.clone(),
        ticket: None,
        csrf: None,
        token: Some(("auditor@pve!sep".into(), secret.clone())),
    };
    assert_eq!(
        vm_count(&t).await,
        0,
        "a privsep token without ACL sees nothing"
    );
    let r = s
        .call(
            Method::PUT,
            "/access/acl",
            &[
                ("path", "/vms/101"),
                ("roles", "PVEAuditor"),
                ("tokens", "auditor@pve!sep"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(vm_count(&t).await, 1);
    t.token = Some(("auditor@pve!sep".into(), "wrong".into()));
    let r = t.get("/version").await;
    assert_eq!(
        (r.status.as_u16(), r.reason.as_str()),
        (401, "Authentication failed!")
    );
}

async fn vm_count(s: &Session) -> usize {
    s.get("/cluster/resources?type=vm").await.body["data"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn default_options_give_a_random_root_password() {
    let h = sim::start(SimOptions::default()).await.unwrap();
    assert!(h.url().starts_with("https://127.0.0.1:"));
    assert_eq!(h.fingerprint().len(), 95);
    let (user, pw) = h.credentials().into_iter().next().unwrap();
    assert_eq!(user, "root@pam");
    assert_eq!(pw.expose().len(), 32);
    let c = client(&h);
    let mut s = Session {
        h,
        c,
        ticket: None,
        csrf: None,
        token: None,
    };
    assert_eq!(s.login("root@pam", pw.expose()).await.status, 200);
    let nodes = s.get("/nodes").await;
    assert_eq!(nodes.body["data"][0]["ssl_fingerprint"], s.h.fingerprint());
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

async fn volume_count(s: &Session, path: &str) -> usize {
    s.get(path).await.body["data"].as_array().unwrap().len()
}
