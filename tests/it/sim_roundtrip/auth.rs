//! Authentication: tickets and CSRF, renewal and expiry, TOTP, API tokens (with and without
//! privilege separation) and ACL-based permission errors.

use super::*;

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
