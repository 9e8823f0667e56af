//! The simulator's self-signed certificate (for `localhost` and `127.0.0.1`) and its
//! SHA-256 fingerprint in PVE's `ssl_fingerprint` form. Uses rustls with the ring provider.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::SimError;

pub struct SelfSigned {
    pub cert_pem: String,
    pub fingerprint: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl SelfSigned {
    pub fn generate() -> Result<Self, SimError> {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|e| SimError::Tls(format!("certificate generation failed: {e}")))?;
        let cert_der = certified.cert.der().to_vec();
        Ok(SelfSigned {
            cert_pem: certified.cert.pem(),
            fingerprint: fingerprint_of(&cert_der),
            cert_der,
            key_der: certified.signing_key.serialize_der(),
        })
    }

    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, SimError> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .map_err(|e| SimError::Tls(e.to_string()))?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// `AB:CD:...` — SHA-256 of the DER bytes, upper-case hex joined by colons.
pub fn fingerprint_of(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_format() {
        let fp = fingerprint_of(b"abc");
        assert_eq!(fp.len(), 32 * 3 - 1);
        assert!(fp.starts_with("BA:78:16:BF"));
    }
}
