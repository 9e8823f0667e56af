//! Normalising the server address the user gave into `https://host:port`.
//!
//! Accepts `host`, `host:port`, `https://host[:port][/]`, `https://host:8006/api2/json`,
//! IPv6 (`[::1]`, `[::1]:8006`, bare `::1`). Default port 8006. Plain `http://` is refused:
//! pveproxy serves only HTTPS. Pure; no IO.

use super::error::ApiError;

pub const DEFAULT_PORT: u16 = 8006;

/// `https://host:port` (no trailing slash), or a message saying what is wrong with `input`.
pub fn normalize(input: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::Options {
        message: format!("'{input}' is not a usable server address: {why}"),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(bad(
            "it is empty; give a host name or address such as pve1.example.com",
        ));
    }
    let rest = if let Some(r) = s.strip_prefix("https://") {
        r
    } else if s.starts_with("http://") {
        return Err(bad(
            "Proxmox VE serves its API over HTTPS only; use https:// or just the host name",
        ));
    } else if s.contains("://") {
        return Err(bad("only https:// addresses are supported"));
    } else {
        s
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = path.trim_end_matches('/');
    if !(path.is_empty() || path == "/api2/json") {
        return Err(bad("give only the host and port, without a path"));
    }
    if authority.is_empty() || authority.starts_with(':') {
        return Err(bad("the host name is missing"));
    }
    let authority = if authority.starts_with('[') {
        if authority.ends_with(']') {
            format!("{authority}:{DEFAULT_PORT}")
        } else {
            authority.to_string()
        }
    } else if authority.matches(':').count() > 1 {
        format!("[{authority}]:{DEFAULT_PORT}")
    } else if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:{DEFAULT_PORT}")
    };
    let url = format!("https://{authority}");
    let parsed = reqwest::Url::parse(&url).map_err(|e| bad(&e.to_string()))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("the host name is missing"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Not `bad`: that would echo the password.
        return Err(ApiError::Options {
            message: "the server address holds a user name or password; give them in the auth settings instead".into(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(normalize(input).unwrap(), expected, "{input}");
    }

    fn check_err(input: &str, part: &str) {
        let e = normalize(input).unwrap_err().to_string();
        assert!(e.contains(part), "{input}: {e}");
    }

    #[test]
    fn forms() {
        check("pve1", "https://pve1:8006");
        check("pve1.example.com:443", "https://pve1.example.com:443");
        check("https://pve1", "https://pve1:8006");
        check("https://pve1:8006/", "https://pve1:8006");
        check("https://10.0.0.5:8006/api2/json", "https://10.0.0.5:8006");
        check(" 10.0.0.5 ", "https://10.0.0.5:8006");
        check("[::1]", "https://[::1]:8006");
        check("[::1]:9000", "https://[::1]:9000");
        check("fe80::1", "https://[fe80::1]:8006");
    }

    #[test]
    fn refusals() {
        check_err("", "empty");
        check_err("http://pve1", "HTTPS only");
        check_err("ftp://pve1", "only https://");
        check_err("https://pve1/nodes", "without a path");
        check_err("https://:8006", "host name is missing");
        check_err("pve1:notaport", "not a usable server address");
        check_err("https://root:pw@pve1", "auth settings");
        assert!(
            !normalize("https://root:pw@pve1")
                .unwrap_err()
                .to_string()
                .contains("pw")
        );
    }
}
