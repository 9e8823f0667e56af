//! TLS for the client: the four trust modes and the rustls `ClientConfig` for each.
//!
//! - `System`: the OS trust store (rustls-platform-verifier).
//! - `CaFile`: only the CA certificates in one PEM file (e.g. `/etc/pve/pve-root-ca.pem`).
//! - `Fingerprint`: exactly the certificate whose SHA-256 matches (PVE's `ssl_fingerprint`);
//!   the chain is not checked, but the handshake signature still is, so the peer must hold
//!   the pinned certificate's key. The presented fingerprint is recorded so that a mismatch
//!   error can show both.
//! - `Insecure`: any certificate (the CLI warns). Handshake signatures are still checked.
//!
//! The ring provider is chosen explicitly for every config; nothing here relies on (or panics
//! for want of) a process-wide default provider. This module does no network IO.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// How the server's certificate is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// The operating system's trust store.
    System,
    /// Only the CA (or self-signed) certificates in this PEM file.
    CaFile(PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint: `AA:BB:...` in any case, with or
    /// without colons.
    Fingerprint(String),
    /// Any certificate. Unsafe: for labs only.
    Insecure,
}

/// `AA:BB:...` (32 upper-case hex pairs, as PVE prints `ssl_fingerprint`), or why not.
pub fn normalize_fingerprint(input: &str) -> Result<String, ApiError> {
    let hex: String = input
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::Options {
            message: format!(
                "'{input}' is not a SHA-256 fingerprint: expected 64 hex digits, optionally in pairs \
                 separated by ':' (like 'AB:CD:...', shown as ssl_fingerprint in GET /nodes)"
            ),
        });
    }
    Ok(colon_hex(&hex::decode(&hex).unwrap_or_default()))
}

/// The fingerprint of a DER certificate in PVE's format.
pub fn fingerprint_of(der: &[u8]) -> String {
    colon_hex(&Sha256::digest(der))
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// What a pinning verifier saw: the fingerprint of a refused certificate.
#[derive(Debug, Default)]
pub struct PinState {
    refused: Mutex<Option<String>>,
}

impl PinState {
    /// The fingerprint the server presented when the pin did not match, once.
    pub fn take_refused(&self) -> Option<String> {
        self.refused.lock().ok().and_then(|mut g| g.take())
    }
}

/// A built TLS setup: the rustls config and, for pinning, the expected fingerprint and what
/// the verifier saw.
pub struct TlsSetup {
    pub config: ClientConfig,
    pub pin: Option<(String, Arc<PinState>)>,
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls config for `mode`. `url` is only used in error messages.
pub fn build(mode: &TlsMode, url: &str) -> Result<TlsSetup, ApiError> {
    let provider = provider();
    let tls_err = |detail: String| ApiError::Tls {
        url: url.to_string(),
        detail,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?;
    let mut pin = None;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        TlsMode::System => {
            let v = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| {
                tls_err(format!(
                    "cannot load the system's trusted certificates: {e}"
                ))
            })?;
            Arc::new(v)
        }
        TlsMode::CaFile(path) => {
            let roots = load_roots(path)?;
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| tls_err(e.to_string()))?
        }
        TlsMode::Fingerprint(fp) => {
            let expected = normalize_fingerprint(fp)?;
            let state = Arc::new(PinState::default());
            pin = Some((expected.clone(), state.clone()));
            Arc::new(AnyCert {
                provider: provider.clone(),
                pinned: Some((expected, state)),
            })
        }
        TlsMode::Insecure => Arc::new(AnyCert {
            provider: provider.clone(),
            pinned: None,
        }),
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // pveproxy speaks HTTP/1.1, and its error messages live in the HTTP/1 reason phrase.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsSetup { config, pin })
}

fn load_roots(path: &PathBuf) -> Result<RootCertStore, ApiError> {
    let opt_err = |m: String| ApiError::Options { message: m };
    let pem = std::fs::read(path)
        .map_err(|e| opt_err(format!("cannot read the CA file {}: {e}", path.display())))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| {
            opt_err(format!(
                "the CA file {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
        roots.add(cert).map_err(|e| {
            opt_err(format!(
                "the CA file {} has an unusable certificate: {e}",
                path.display()
            ))
        })?;
    }
    if roots.is_empty() {
        return Err(opt_err(format!(
            "the CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(roots)
}

/// Accepts any certificate (`pinned: None`) or exactly the pinned one; always checks the
/// handshake signature against the presented certificate.
#[derive(Debug)]
struct AnyCert {
    provider: Arc<CryptoProvider>,
    pinned: Option<(String, Arc<PinState>)>,
}

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some((expected, state)) = &self.pinned {
            let presented = fingerprint_of(end_entity.as_ref());
            if &presented != expected {
                if let Ok(mut slot) = state.refused.lock() {
                    *slot = Some(presented);
                }
                return Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                ));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(
            normalize_fingerprint(input).ok().as_deref(),
            expected,
            "{input}"
        );
    }

    #[test]
    fn fingerprint_forms() {
        check(FP, Some(FP));
        check(&FP.to_lowercase(), Some(FP));
        check(&FP.replace(':', ""), Some(FP));
        check(&FP.to_lowercase().replace(':', ""), Some(FP));
        check(&format!(" {FP} "), Some(FP));
        check("AB:CD", None);
        check(&FP.replace('A', "G"), None);
        check("", None);
    }

    #[test]
    fn fingerprint_error_explains() {
        let e = normalize_fingerprint("xyz").unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
    }

    #[test]
    fn fingerprint_of_der() {
        // SHA-256 of the empty input, a known value.
        assert_eq!(
            fingerprint_of(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }

    #[test]
    fn ca_file_errors_name_the_file() {
        let e = build(
            &TlsMode::CaFile("/nonexistent/ca.pem".into()),
            "https://h:8006",
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.pem");
        std::fs::write(&p, "not a cert").unwrap();
        let e = build(&TlsMode::CaFile(p), "https://h:8006").err().unwrap();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
    }
}
