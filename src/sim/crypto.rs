//! Tickets, CSRF tokens and TOTP for the simulator.
//!
//! Tickets look like PVE's (`PVE:user@realm:HEXTIME::<base64 sig>`, FACTS §3) but are signed with
//! a per-start HMAC-SHA256 key instead of RSA. TOTP follows RFC 6238 (HMAC-SHA1, 6 digits, 30 s)
//! on the simulated clock. Nothing here does IO.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// Ticket lifetime in PVE: 2 hours.
pub const TICKET_LIFETIME: i64 = 7200;

pub struct Keys {
    ticket: hmac::Key,
    csrf: hmac::Key,
}

impl Keys {
    pub fn generate() -> Self {
        let a: [u8; 32] = rand::random();
        let b: [u8; 32] = rand::random();
        Keys {
            ticket: hmac::Key::new(hmac::HMAC_SHA256, &a),
            csrf: hmac::Key::new(hmac::HMAC_SHA256, &b),
        }
    }

    fn sign(key: &hmac::Key, data: &str) -> String {
        STANDARD.encode(hmac::sign(key, data.as_bytes()).as_ref())
    }

    /// A ticket for `subject` (a userid, or `!tfa!...` for a half-finished TFA login).
    pub fn ticket(&self, subject: &str, time: i64) -> String {
        let plain = format!("PVE:{subject}:{:08X}", time);
        let sig = Self::sign(&self.ticket, &plain);
        format!("{plain}::{sig}")
    }

    /// Checks a ticket; returns its subject when the signature is ours and it is not expired.
    pub fn verify_ticket(&self, ticket: &str, now: i64, lifetime: i64) -> Option<String> {
        let (plain, sig) = ticket.split_once("::")?;
        let rest = plain.strip_prefix("PVE:")?;
        let (subject, hex_time) = rest.rsplit_once(':')?;
        let time = i64::from_str_radix(hex_time, 16).ok()?;
        if Self::sign(&self.ticket, plain) != sig {
            return None;
        }
        // PVE accepts tickets from slightly in the future (clock skew) up to the lifetime.
        let age = now - time;
        if !(-300..lifetime).contains(&age) {
            return None;
        }
        Some(subject.to_string())
    }

    pub fn csrf(&self, user: &str, time: i64) -> String {
        let stamp = format!("{:08X}", time);
        let sig = Self::sign(&self.csrf, &format!("{stamp}:{user}"));
        format!("{stamp}:{sig}")
    }

    pub fn verify_csrf(&self, user: &str, token: &str, now: i64, lifetime: i64) -> bool {
        let Some((stamp, sig)) = token.split_once(':') else {
            return false;
        };
        let Ok(time) = i64::from_str_radix(stamp, 16) else {
            return false;
        };
        let age = now - time;
        Self::sign(&self.csrf, &format!("{stamp}:{user}")) == sig && (-300..lifetime).contains(&age)
    }
}

/// A random alphanumeric-ish token (hex) of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// Decodes RFC 4648 base32 (upper or lower case, `=` padding and spaces ignored).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits: u64 = 0;
    let mut nbits = 0u32;
    let mut out = Vec::new();
    for c in text.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => return None,
        };
        bits = (bits << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

/// RFC 6238 TOTP (HMAC-SHA1, 30 s step, 6 digits) for a raw key at unix time `time`.
pub fn totp_raw(key: &[u8], time: i64, digits: u32) -> String {
    let counter = (time.max(0) / 30) as u64;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let h = mac.as_ref();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    let code = bin % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

/// The 6-digit TOTP code for a base32 secret at simulated time `time` (e.g. for tests that log in
/// as the demo TFA user). Returns `None` when the secret is not valid base32.
pub fn totp_code(base32_secret: &str, time: i64) -> Option<String> {
    base32_decode(base32_secret).map(|k| totp_raw(&k, time, 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA1 seed "12345678901234567890", 8 digits.
        let key = b"12345678901234567890";
        let cases = [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ];
        for (t, want) in cases {
            assert_eq!(totp_raw(key, t, 8), want, "t={t}");
        }
    }

    #[test]
    fn base32_roundtrip() {
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert!(base32_decode("not base32!").is_none());
    }

    #[test]
    fn tickets_verify_and_expire() {
        let k = Keys::generate();
        let t = k.ticket("root@pam", 1000);
        assert!(t.starts_with("PVE:root@pam:000003E8::"));
        assert_eq!(k.verify_ticket(&t, 1000, 7200).as_deref(), Some("root@pam"));
        assert_eq!(k.verify_ticket(&t, 1000 + 7200, 7200), None);
        let forged = t.replace("root@pam", "evil@pam");
        assert_eq!(k.verify_ticket(&forged, 1000, 7200), None);
        let c = k.csrf("root@pam", 1000);
        assert!(k.verify_csrf("root@pam", &c, 1001, 7200));
        assert!(!k.verify_csrf("other@pve", &c, 1001, 7200));
    }
}
