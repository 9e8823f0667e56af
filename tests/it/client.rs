//! The library's API client against the simulator over real HTTPS: both kinds of login, CSRF,
//! ticket renewal, token limits, certificate pinning, PVE's error shapes, and tasks followed to
//! their end — successful and failed inside PVE.

use std::time::Duration;

use pvesh_plus::api::{
    ApiError, ApiRequest, Auth, Client, ConnectOptions, GuestKind, PowerAction, TlsMode,
    WaitOptions, endpoints,
};
use pvesh_plus::error::Error;
use pvesh_plus::secret::Secret;
use pvesh_plus::sim::{Faults, SimOptions};

use crate::common::{PASSWORD, TestSim};

const TOKEN_ID: &str = "root@pam!ci";
const TOKEN_SECRET: &str = "0f6c1c5e-7d5e-4c1b-9a57-client-test";

fn sim(faults: Faults) -> TestSim {
    TestSim::start(SimOptions {
        speed: 0.0,
        tokens: vec![(TOKEN_ID.into(), Secret::new(TOKEN_SECRET))],
        faults,
        ..SimOptions::default()
    })
}

fn options(sim: &TestSim, auth: Auth) -> ConnectOptions {
    ConnectOptions {
        url: sim.handle.url(),
        auth,
        tls: TlsMode::Fingerprint(sim.handle.fingerprint()),
        timeout: Duration::from_secs(10),
        tfa: None,
    }
}

fn password() -> Auth {
    Auth::Password {
        username: "root@pam".into(),
        password: Secret::new(PASSWORD),
        otp: None,
    }
}

fn token() -> Auth {
    Auth::Token {
        tokenid: TOKEN_ID.into(),
        secret: Secret::new(TOKEN_SECRET),
    }
}

fn connect(sim: &TestSim, auth: Auth) -> Client {
    sim._runtime
        .block_on(Client::connect(options(sim, auth)))
        .unwrap()
}

#[test]
fn both_kinds_of_login_read_the_cluster() {
    let sim = sim(Faults::default());
    for auth in [password(), token()] {
        let client = connect(&sim, auth);
        let data = sim
            ._runtime
            .block_on(client.get(&endpoints::cluster_resources(Some("vm"))))
            .unwrap();
        let names: Vec<&str> = data
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"web01"), "{names:?}");
    }
}

#[test]
fn a_write_without_the_csrf_token_is_refused() {
    let sim = sim(Faults::default());
    let rt = &sim._runtime;
    // Log in by hand, then write with the cookie alone.
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let login: serde_json::Value = rt
        .block_on(async {
            http.post(format!("{}/api2/json/access/ticket", sim.handle.url()))
                .form(&[("username", "root@pam"), ("password", PASSWORD)])
                .send()
                .await?
                .json()
                .await
        })
        .unwrap();
    let ticket = login["data"]["ticket"].as_str().unwrap().to_string();
    let status = rt
        .block_on(async {
            http.post(format!(
                "{}/api2/json/nodes/pve1/qemu/101/snapshot",
                sim.handle.url()
            ))
            .header("Cookie", format!("PVEAuthCookie={ticket}"))
            .form(&[("snapname", "nocsrf")])
            .send()
            .await
        })
        .unwrap();
    assert_eq!(status.status().as_u16(), 401);
    assert_eq!(status.status().canonical_reason(), Some("Unauthorized"));
    // The client sends it, so the same write succeeds.
    let client = connect(&sim, password());
    let upid = rt
        .block_on(client.start_task(&endpoints::snapshot_create(
            GuestKind::Qemu,
            "pve1",
            101,
            "withcsrf",
            None,
        )))
        .unwrap();
    assert!(upid.is_some());
}

#[test]
fn an_expired_ticket_is_renewed_transparently() {
    let sim = sim(Faults {
        ticket_lifetime_secs: Some(600),
        ..Faults::default()
    });
    let client = connect(&sim, password());
    let rt = &sim._runtime;
    let logins_before = sim.handle.count("POST", "/access/ticket");
    sim.handle.advance(3.0 * 3600.0);
    let data = rt.block_on(client.get(&endpoints::version())).unwrap();
    assert!(data["version"].is_string());
    assert!(
        sim.handle.count("POST", "/access/ticket") > logins_before,
        "no new login after expiry"
    );
    let refused = sim
        .handle
        .request_log()
        .iter()
        .filter(|r| r.status == 401)
        .count();
    assert!(refused <= 1, "more than one request was refused: {refused}");
}

#[test]
fn a_token_is_refused_where_the_schema_forbids_tokens() {
    let sim = sim(Faults::default());
    let client = connect(&sim, token());
    let req = ApiRequest::put("/access/password")
        .param("userid", "root@pam")
        .param("password", "newpassword1");
    let err = sim._runtime.block_on(client.call(&req)).unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let shown = Error::from(err).to_string();
    assert!(shown.contains("not available with API token"), "{shown}");
    assert!(
        !shown.contains("newpassword1"),
        "the secret parameter leaked: {shown}"
    );
}

#[test]
fn a_pinned_certificate_is_trusted_and_another_refused() {
    let sim = sim(Faults::default());
    let good = sim
        ._runtime
        .block_on(Client::connect(options(&sim, password())));
    assert!(good.is_ok());
    let mut wrong = options(&sim, password());
    let other = "00:".repeat(31) + "00";
    wrong.tls = TlsMode::Fingerprint(other.clone());
    match sim._runtime.block_on(Client::connect(wrong)) {
        Err(ApiError::FingerprintMismatch {
            expected,
            presented,
        }) => {
            assert_eq!(expected, other);
            assert_eq!(presented, sim.handle.fingerprint());
        }
        other => panic!("expected a fingerprint mismatch, got {other:?}"),
    }
    let mut system = options(&sim, password());
    system.tls = TlsMode::System;
    assert!(
        sim._runtime.block_on(Client::connect(system)).is_err(),
        "a self-signed cert passed system trust"
    );
}

#[test]
fn a_parameter_error_lists_each_bad_parameter() {
    let sim = sim(Faults::default());
    let client = connect(&sim, password());
    let req = endpoints::cluster_nextid(Some(101));
    let err = sim._runtime.block_on(client.call(&req)).unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.has_param_error("vmid"));
    let shown = Error::from(err).to_string();
    assert!(shown.contains("vmid: VM 101 already exists"), "{shown}");
    // The same through the binary: the user sees the parameter and PVE's message.
    let (code, _, stderr) = sim.run("get /cluster/nextid vmid=101");
    assert_eq!(code, 1);
    assert!(stderr.contains("vmid: VM 101 already exists"), "{stderr}");
}

#[test]
fn tasks_are_followed_to_their_end() {
    let sim = sim(Faults::default());
    let client = connect(&sim, password());
    let rt = &sim._runtime;
    let waiter = WaitOptions {
        poll_min: Duration::from_millis(5),
        poll_max: Duration::from_millis(20),
        ..Default::default()
    };
    // dev-box (120) is stopped: starting it succeeds once the simulated clock moves on.
    let upid = rt
        .block_on(client.start_task(&endpoints::guest_power(
            GuestKind::Qemu,
            "pve3",
            120,
            PowerAction::Start,
        )))
        .unwrap()
        .unwrap();
    sim.handle.advance(30.0);
    let mut lines = Vec::new();
    let outcome = rt
        .block_on(client.wait_task(&upid, &waiter, &mut |l| lines.push(l.to_string())))
        .unwrap();
    assert_eq!(outcome.exitstatus, "OK");
    assert!(lines.iter().any(|l| l.contains("TASK OK")), "{lines:?}");
    // web01 is running: PVE accepts the start and fails inside the task.
    let upid = rt
        .block_on(client.start_task(&endpoints::guest_power(
            GuestKind::Qemu,
            "pve1",
            101,
            PowerAction::Start,
        )))
        .unwrap()
        .unwrap();
    sim.handle.advance(30.0);
    let err = rt
        .block_on(client.wait_task(&upid, &waiter, &mut |_| {}))
        .unwrap_err();
    match &err {
        ApiError::TaskFailed { exitstatus, .. } => {
            assert!(exitstatus.contains("already running"), "{exitstatus}")
        }
        other => panic!("expected a failed task, got {other:?}"),
    }
}

#[test]
fn injected_task_failures_surface_with_pves_exit_status() {
    let sim = sim(Faults {
        fail_tasks: Some("qmsnapshot".into()),
        ..Faults::default()
    });
    let client = connect(&sim, token());
    let rt = &sim._runtime;
    let upid = rt
        .block_on(client.start_task(&endpoints::snapshot_create(
            GuestKind::Qemu,
            "pve1",
            101,
            "doomed",
            None,
        )))
        .unwrap()
        .unwrap();
    sim.handle.advance(60.0);
    let err = rt
        .block_on(client.wait_task(&upid, &WaitOptions::default(), &mut |_| {}))
        .unwrap_err();
    assert!(err.to_string().contains("simulated task failure"), "{err}");
}
