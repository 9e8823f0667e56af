//! The four TLS modes against a real local rustls server.

use std::sync::Arc;
use std::time::Duration;

use super::test_server::{self, TestServer};
use super::*;
use crate::secret::Secret;

async fn version_server() -> TestServer {
    test_server::start(Arc::new(|_| {
        test_server::ok(serde_json::json!({"version": "9.1.1"}))
    }))
    .await
}

fn opts(url: String, tls: TlsMode) -> ConnectOptions {
    ConnectOptions {
        url,
        auth: Auth::Token {
            tokenid: "root@pam!ci".into(),
            secret: Secret::new("s3cret-uuid"),
        },
        tls,
        timeout: Duration::from_secs(5),
        tfa: None,
    }
}

/// Connects and sends a first request; returns the error of either.
async fn first_request(opts: ConnectOptions) -> ApiError {
    match Client::connect(opts).await {
        Err(e) => e,
        Ok(client) => client.get(&endpoints::version()).await.unwrap_err(),
    }
}

#[tokio::test]
async fn fingerprint_pin_is_accepted() {
    let server = version_server().await;
    let pin = server.fingerprint.to_lowercase().replace(':', "");
    let client = Client::connect(opts(server.url(), TlsMode::Fingerprint(pin)))
        .await
        .unwrap();
    let v: models::VersionInfo = client.get_typed(&endpoints::version()).await.unwrap();
    assert_eq!(v.version, "9.1.1");
    assert_eq!(client.username(), "root@pam!ci");
    assert_eq!(
        client.request_count(),
        1,
        "only our call: a token is not checked apart"
    );
    let seen = server.requests();
    assert_eq!(seen[0].target, "/api2/json/version");
    assert_eq!(
        seen[0].header("authorization"),
        Some("PVEAPIToken=root@pam!ci=s3cret-uuid")
    );
}

#[tokio::test]
async fn wrong_pin_is_refused_with_both_fingerprints() {
    let server = version_server().await;
    let wrong = "00:".repeat(31) + "00";
    let err = first_request(opts(server.url(), TlsMode::Fingerprint(wrong.clone()))).await;
    assert_eq!(
        err,
        ApiError::FingerprintMismatch {
            expected: wrong.clone(),
            presented: server.fingerprint.clone()
        }
    );
    let text = err.to_string();
    assert!(
        text.contains(&wrong) && text.contains(&server.fingerprint),
        "{text}"
    );
    assert!(
        server.requests().is_empty(),
        "nothing may be sent to an unpinned server"
    );
}

#[tokio::test]
async fn ca_file_is_accepted() {
    let server = version_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("pve-root-ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let client = Client::connect(opts(server.url(), TlsMode::CaFile(ca)))
        .await
        .unwrap();
    assert_eq!(client.base_url(), server.url());
}

#[tokio::test]
async fn ca_file_of_another_ca_is_refused() {
    let server = version_server().await;
    let other = version_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other.pem");
    std::fs::write(&ca, &other.ca_pem).unwrap();
    let err = first_request(opts(server.url(), TlsMode::CaFile(ca))).await;
    assert!(matches!(err, ApiError::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn system_roots_refuse_a_private_ca() {
    let server = version_server().await;
    let err = first_request(opts(server.url(), TlsMode::System)).await;
    assert!(matches!(err, ApiError::Tls { .. }), "{err:?}");
    assert!(server.requests().is_empty());
    let user_facing = crate::error::Error::from(err);
    assert!(
        user_facing.hints.join(" ").contains("--fingerprint"),
        "{user_facing}"
    );
}

#[tokio::test]
async fn insecure_accepts_anything() {
    let server = version_server().await;
    let client = Client::connect(opts(server.url(), TlsMode::Insecure))
        .await
        .unwrap();
    assert_eq!(
        client.get(&endpoints::version()).await.unwrap()["version"],
        "9.1.1"
    );
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = first_request(opts(format!("127.0.0.1:{port}"), TlsMode::Insecure)).await;
    assert!(matches!(err, ApiError::Connect { .. }), "{err:?}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
