//! The client's session logic against a scripted local HTTPS server: login, CSRF, TFA,
//! renewal, re-login after 401, retries, reason-phrase errors and the task waiter.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::test_server::{self, Reply, Seen, TestServer, ok};
use super::*;
use crate::secret::Secret;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn ticket_json(issued: i64) -> serde_json::Value {
    json!({"username":"root@pam","ticket":format!("PVE:root@pam:{issued:08X}::sig"),"CSRFPreventionToken":"T:csrf","cap":{}})
}

fn password(otp: Option<&str>) -> Auth {
    Auth::Password {
        username: "root@pam".into(),
        password: Secret::new("pw d"),
        otp: otp.map(Secret::new),
    }
}

fn token() -> Auth {
    Auth::Token {
        tokenid: "root@pam!ci".into(),
        secret: Secret::new("uuid"),
    }
}

async fn connect(
    server: &TestServer,
    auth: Auth,
    tfa: Option<Arc<dyn TfaPrompt>>,
) -> Result<Client, ApiError> {
    Client::connect(ConnectOptions {
        url: server.url(),
        auth,
        tls: TlsMode::Fingerprint(server.fingerprint.clone()),
        timeout: Duration::from_secs(5),
        tfa,
    })
    .await
}

fn fail(status: u16, reason: &str) -> Reply {
    (status, reason.into(), r#"{"data":null}"#.into())
}

/// A PVE-like server: password `pw d`, ticket cookie and CSRF checks, and `extra` for the rest.
async fn pve(issued: i64, extra: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> TestServer {
    test_server::start(Arc::new(move |req: &Seen| {
        let cookie_ok = req
            .header("cookie")
            .is_some_and(|c| c.starts_with("PVEAuthCookie=PVE:root@pam:"));
        match (req.method.as_str(), req.target.as_str()) {
            ("POST", "/api2/json/access/ticket") if req.body.contains("password=pw%20d") => {
                ok(ticket_json(issued))
            }
            ("POST", "/api2/json/access/ticket") if req.body.contains("password=PVE%3A") => {
                ok(ticket_json(now()))
            }
            ("POST", "/api2/json/access/ticket") => fail(401, "authentication failure"),
            _ if !cookie_ok && req.header("authorization").is_none() => fail(401, "No ticket"),
            ("GET", _) if req.header("csrfpreventiontoken").is_some() => {
                fail(400, "CSRF token on a GET")
            }
            (_, _)
                if req.method != "GET"
                    && cookie_ok
                    && req.header("csrfpreventiontoken") != Some("T:csrf") =>
            {
                fail(401, "Permission denied - invalid csrf token")
            }
            _ => extra(req),
        }
    }))
    .await
}

fn targets(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.target))
        .collect()
}

#[tokio::test]
async fn password_login_sends_cookie_and_csrf() {
    let server = pve(now(), |req| match req.target.as_str() {
        "/api2/json/nodes" => ok(json!([{"node":"pve1"}])),
        _ => ok(json!(
            "UPID:pve1:00000001:00000002:65000000:qmstart:100:root@pam:"
        )),
    })
    .await;
    let client = connect(&server, password(None), None).await.unwrap();
    assert_eq!(client.username(), "root@pam");
    assert_eq!(
        client.get(&endpoints::nodes()).await.unwrap()[0]["node"],
        "pve1"
    );
    let start = endpoints::guest_power(GuestKind::Qemu, "pve1", 100, PowerAction::Start);
    let upid: Upid = client.get_typed(&start).await.unwrap();
    assert_eq!(upid.kind, "qmstart");
    assert_eq!(
        targets(&server),
        [
            "POST /api2/json/access/ticket",
            "GET /api2/json/nodes",
            "POST /api2/json/nodes/pve1/qemu/100/status/start"
        ]
    );
    let login = &server.requests()[0];
    assert_eq!(login.body, "username=root%40pam&password=pw%20d");
    assert_eq!(
        login.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn bad_password_is_an_auth_error() {
    let server = pve(now(), |_| ok(json!(null))).await;
    let err = connect(
        &server,
        Auth::Password {
            username: "root@pam".into(),
            password: Secret::new("nope"),
            otp: None,
        },
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        err,
        ApiError::Auth {
            message: "authentication failure".into()
        }
    );
}

struct FixedCode;
impl TfaPrompt for FixedCode {
    fn totp_code(&self) -> Result<Secret, ApiError> {
        Ok(Secret::new("123456"))
    }
}

async fn tfa_server() -> TestServer {
    test_server::start(Arc::new(|req: &Seen| {
        if req.body.contains("tfa-challenge=PVE%3A%21tfa%21abc")
            && req.body.contains("password=totp%3A123456")
        {
            ok(ticket_json(now()))
        } else if req.body.contains("password=pw%20d") {
            ok(json!({"username":"root@pam","ticket":"PVE:!tfa!abc","NeedTFA":1}))
        } else {
            fail(401, "authentication failure")
        }
    }))
    .await
}

#[tokio::test]
async fn tfa_with_prompt_or_otp() {
    let server = tfa_server().await;
    connect(&server, password(None), Some(Arc::new(FixedCode)))
        .await
        .unwrap();
    connect(&server, password(Some("123456")), None)
        .await
        .unwrap();
    let first = &server.requests()[0];
    assert!(
        !first.body.contains("otp"),
        "the code is sent only when asked for: {}",
        first.body
    );
    let err = connect(&server, password(None), None).await.err().unwrap();
    assert!(err.to_string().contains("two-factor"), "{err}");
    let err = connect(&server, password(Some("999999")), None)
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        ApiError::Auth {
            message: "authentication failure".into()
        }
    );
}

#[tokio::test]
async fn old_ticket_is_renewed_before_the_next_request() {
    let server = pve(now(), |_| ok(json!([]))).await;
    let client = connect(&server, password(None), None).await.unwrap();
    client.advance_clock(104 * 60);
    client.get(&endpoints::nodes()).await.unwrap();
    client.advance_clock(2 * 60);
    client.get(&endpoints::nodes()).await.unwrap();
    client.get(&endpoints::nodes()).await.unwrap();
    assert_eq!(
        targets(&server),
        [
            "POST /api2/json/access/ticket",
            "GET /api2/json/nodes",
            "POST /api2/json/access/ticket",
            "GET /api2/json/nodes",
            "GET /api2/json/nodes"
        ]
    );
    assert!(
        server.requests()[2]
            .body
            .starts_with("username=root%40pam&password=PVE%3Aroot%40pam%3A")
    );
}

#[tokio::test]
async fn a_401_logs_in_again_once() {
    let first = Arc::new(AtomicUsize::new(0));
    let counter = first.clone();
    let server = pve(now(), move |req| match req.target.as_str() {
        "/api2/json/nodes" if counter.fetch_add(1, Ordering::SeqCst) == 0 => {
            fail(401, "Authentication failed!")
        }
        "/api2/json/nodes" => ok(json!([])),
        _ => fail(401, "Authentication failed!"),
    })
    .await;
    let client = connect(&server, password(None), None).await.unwrap();
    client.get(&endpoints::nodes()).await.unwrap();
    let logins = |s: &TestServer| {
        s.requests()
            .iter()
            .filter(|r| r.target == "/api2/json/access/ticket")
            .count()
    };
    assert_eq!(logins(&server), 2);
    // Refused again after a fresh login: the error comes back, no loop.
    let err = client.get(&endpoints::cluster_status()).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(logins(&server), 3);
}

#[tokio::test]
async fn gets_are_retried_on_503_but_posts_are_not() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = pve(now(), move |req| {
        match (req.method.as_str(), counter.fetch_add(1, Ordering::SeqCst)) {
            ("GET", 0 | 1) => fail(503, "Service Unavailable"),
            ("GET", _) => ok(json!({"version":"9.1.1"})),
            _ => fail(503, "Service Unavailable"),
        }
    })
    .await;
    let client = connect(&server, token(), None).await.unwrap();
    assert_eq!(client.request_count(), 0, "a token is not checked apart");
    client.get(&endpoints::version()).await.unwrap();
    assert_eq!(
        client.request_count(),
        3,
        "two 503s, then the GET succeeded"
    );
    let err = client
        .call(&endpoints::guest_power(
            GuestKind::Qemu,
            "pve1",
            100,
            PowerAction::Stop,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(client.request_count(), 4, "a POST is sent once");
}

#[tokio::test]
async fn errors_keep_pves_message() {
    let server = pve(now(), |req| match req.target.as_str() {
        "/api2/json/version" => ok(json!({"version":"9.1.1"})),
        "/api2/json/cluster/nextid?vmid=100" => (
            400,
            "Parameter verification failed.".into(),
            r#"{"data":null,"errors":{"vmid":"VM 100 already exists"}}"#.into(),
        ),
        _ => fail(500, "VM 100 already running"),
    })
    .await;
    let client = connect(&server, token(), None).await.unwrap();
    let err = client
        .call(&endpoints::guest_power(
            GuestKind::Qemu,
            "pve1",
            100,
            PowerAction::Start,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "POST /nodes/pve1/qemu/100/status/start: VM 100 already running (HTTP 500)"
    );
    let err = client
        .call(&endpoints::cluster_nextid(Some(100)))
        .await
        .unwrap_err();
    assert!(err.has_param_error("vmid"), "{err:?}");
}

const UPID: &str = "UPID:pve1:00000001:00000002:65000000:qmstart:100:root@pam!ci:";

/// A task that runs for `polls` status calls, logging one line per call, then ends with `exit`.
async fn task_server(polls: usize, exit: &'static str) -> TestServer {
    let calls = Arc::new(AtomicUsize::new(0));
    test_server::start(Arc::new(move |req: &Seen| {
        let t = &req.target;
        if t.ends_with("/status") {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n > polls {
                ok(json!({"status":"stopped","exitstatus":exit,"upid":UPID}))
            } else {
                ok(json!({"status":"running","upid":UPID}))
            }
        } else if let Some(q) = t.split_once("/log?").map(|(_, q)| q) {
            let start: usize = q
                .split('&')
                .find_map(|kv| kv.strip_prefix("start="))
                .unwrap()
                .parse()
                .unwrap();
            let written = calls.load(Ordering::SeqCst).min(polls + 1);
            if written == 0 {
                return ok(json!([{"n":1,"t":"no content"}]));
            }
            let lines: Vec<_> = (start + 1..=written)
                .map(|n| json!({"n":n,"t":format!("line {n}")}))
                .collect();
            ok(json!(lines))
        } else {
            ok(json!({"version":"9.1.1"}))
        }
    }))
    .await
}

fn fast() -> WaitOptions {
    WaitOptions {
        poll_min: Duration::from_millis(1),
        poll_max: Duration::from_millis(5),
        ..WaitOptions::default()
    }
}

#[tokio::test]
async fn wait_task_streams_the_log_once() {
    let server = task_server(3, "OK").await;
    let client = connect(&server, token(), None).await.unwrap();
    let upid: Upid = UPID.parse().unwrap();
    let mut lines = Vec::new();
    let outcome = client
        .wait_task(&upid, &fast(), &mut |l: &str| lines.push(l.to_string()))
        .await
        .unwrap();
    assert_eq!(lines, ["line 1", "line 2", "line 3", "line 4"]);
    assert_eq!(
        outcome,
        TaskOutcome {
            upid,
            exitstatus: "OK".into(),
            log_lines: 4
        }
    );
}

#[tokio::test]
async fn a_status_poll_is_one_request_and_the_log_is_read_only_when_asked() {
    let upid: Upid = UPID.parse().unwrap();
    // Three polls say "running", the fourth "stopped".
    for (log, lines_wanted, requests) in [
        (TaskLog::Skip, 0, 4),
        (TaskLog::AtEnd, 4, 5),
        (TaskLog::Stream, 4, 8),
    ] {
        let server = task_server(3, "OK").await;
        let client = connect(&server, token(), None).await.unwrap();
        let before = client.request_count();
        let opts = WaitOptions {
            log,
            times: Some(Arc::new(TaskTimes::default())),
            ..fast()
        };
        let mut lines = Vec::new();
        let outcome = client
            .wait_task(&upid, &opts, &mut |l: &str| lines.push(l.to_string()))
            .await
            .unwrap();
        assert_eq!(lines.len(), lines_wanted, "{log:?}");
        assert_eq!(outcome.log_lines, lines_wanted, "{log:?}");
        assert_eq!(client.request_count() - before, requests, "{log:?}");
        let learned = opts.times.as_ref().unwrap().estimate("qmstart");
        assert!(
            learned.is_some(),
            "{log:?}: the wait recorded how long qmstart took"
        );
    }
}

#[tokio::test]
async fn run_task_starts_and_follows() {
    let server = task_server(1, "OK").await;
    let client = connect(&server, token(), None).await.unwrap();
    // The fake answers the start request (neither status nor log) with `data` = version info,
    // which is not a UPID.
    let start = endpoints::guest_power(GuestKind::Qemu, "pve1", 100, PowerAction::Start);
    let err = client.start_task(&start).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a task id (UPID) or null"),
        "{err}"
    );

    let upid_server = test_server::start(Arc::new(|req: &Seen| match req.target.as_str() {
        "/api2/json/version" => ok(json!({"version":"9.1.1"})),
        "/api2/json/nodes/pve1/qemu/100/config" => ok(json!(null)),
        _ => ok(json!(UPID)),
    }))
    .await;
    let client = connect(&upid_server, token(), None).await.unwrap();
    assert_eq!(
        client.start_task(&start).await.unwrap(),
        Some(UPID.parse().unwrap())
    );
    let config =
        endpoints::qemu_config_update_async("pve1", 100, &[("memory".into(), "2048".into())], None);
    assert_eq!(
        client
            .run_task(&config, &fast(), &mut |_: &str| {})
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn wait_task_maps_exit_statuses() {
    let upid: Upid = UPID.parse().unwrap();
    let server = task_server(0, "WARNINGS: 2").await;
    let client = connect(&server, token(), None).await.unwrap();
    let outcome = client
        .wait_task(&upid, &fast(), &mut |_: &str| {})
        .await
        .unwrap();
    assert_eq!(outcome.exitstatus, "WARNINGS: 2");

    let server = task_server(1, "VM 100 already running").await;
    let client = connect(&server, token(), None).await.unwrap();
    let err = client
        .wait_task(&upid, &fast(), &mut |_: &str| {})
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ApiError::TaskFailed {
            upid: UPID.into(),
            exitstatus: "VM 100 already running".into()
        }
    );
}

#[tokio::test]
async fn wait_task_times_out_and_cancels() {
    let upid: Upid = UPID.parse().unwrap();
    let server = task_server(usize::MAX, "OK").await;
    let client = connect(&server, token(), None).await.unwrap();
    let opts = WaitOptions {
        timeout: Some(Duration::from_millis(100)),
        ..fast()
    };
    let err = client
        .wait_task(&upid, &opts, &mut |_: &str| {})
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");

    let cancel = CancellationToken::new();
    cancel.cancel();
    let opts = WaitOptions {
        cancel: Some(cancel),
        ..fast()
    };
    let err = client
        .wait_task(&upid, &opts, &mut |_: &str| {})
        .await
        .unwrap_err();
    assert_eq!(err, ApiError::Cancelled);
}

#[tokio::test]
async fn fetch_text_reads_raw_files() {
    let server = pve(now(), |req| match req.target.as_str() {
        "/pve-docs/api-viewer/apidoc.js" => (200, "OK".into(), "const apiSchema = [];".into()),
        _ => ok(json!({"version":"9.1.1"})),
    })
    .await;
    let client = connect(&server, token(), None).await.unwrap();
    assert_eq!(
        client
            .fetch_text("/pve-docs/api-viewer/apidoc.js")
            .await
            .unwrap(),
        "const apiSchema = [];"
    );
}

/// The lead spawns these futures on the runtime: they must be `Send`.
#[allow(dead_code)]
fn futures_are_send(client: Client, opts: ConnectOptions, upid: Upid) {
    fn send<T: Send>(_: T) {}
    send(Client::connect(opts));
    send(client.call(&endpoints::nodes()));
    send(client.get_typed::<Vec<models::NodeInfo>>(&endpoints::nodes()));
    send(client.wait_task(
        &upid,
        &WaitOptions::default(),
        Box::leak(Box::new(|_: &str| {})),
    ));
    send(client.fetch_text("/x"));
}
