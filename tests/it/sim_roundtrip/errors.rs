//! PVE's error shapes (400 map, 401, 403, 500 reason phrases, 501) and injected faults.

use super::*;

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
