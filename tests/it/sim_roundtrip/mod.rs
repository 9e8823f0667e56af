//! HTTPS round trips against the simulator with a real client (reqwest + rustls): login and
//! CSRF, API tokens, PVE's error shapes (400 map, 401, 403, 501) and tasks that succeed or fail
//! inside the task, with the clock moved only by `advance()`.

mod auth;
mod errors;
mod lifecycle;

use pvesh_plus::secret::Secret;
use pvesh_plus::sim::{self, DEMO_TFA_SECRET, Faults, SimHandle, SimOptions};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

const TOKEN: &str = "root@pam!ci";
const TOKEN_SECRET: &str = "5ec2e7a0-0000-4000-8000-000000000001";

pub(crate) async fn start() -> SimHandle {
    sim::start(SimOptions {
        speed: 0.0,
        tokens: vec![(TOKEN.into(), Secret::new(TOKEN_SECRET))],
        users: vec![("root@pam".into(), Secret::new("rootpw"))],
        ..SimOptions::default()
    })
    .await
    .unwrap()
}

pub(crate) fn client(h: &SimHandle) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = reqwest::Certificate::from_pem(h.cert_pem().as_bytes()).unwrap();
    Client::builder()
        .add_root_certificate(cert)
        .build()
        .unwrap()
}

pub(crate) struct Resp {
    status: StatusCode,
    reason: String,
    body: Value,
    raw: String,
    close: bool,
}

pub(crate) struct Session {
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

pub(crate) fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
