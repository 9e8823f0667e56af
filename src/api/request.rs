//! `ApiRequest`: one API call as plain data (method, path, parameters), and its wire encoding.
//!
//! Requests are built by pure functions (see `endpoints`) and tested as strings; only
//! `client` turns them into HTTP. Parameter values are percent-encoded with `%20` for spaces
//! and booleans go on the wire as `0`/`1` (PVE rejects `true`/`false`). `Debug` redacts the
//! values of secret parameters (passwords, OTP codes, TFA challenges).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are in a path segment or a form value: RFC 3986 "unreserved".
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Parameters whose values never appear in `Debug` output.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "otp",
    "tfa-challenge",
    "cipassword",
    "new-password",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// GET and DELETE carry parameters in the query string; POST and PUT in a form body.
    pub fn params_in_query(self) -> bool {
        matches!(self, Method::Get | Method::Delete)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One API call. `path` is below `/api2/json` and already percent-encoded per segment
/// (the `endpoints` builders do that; use [`encode_segment`] when building paths by hand).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub params: Vec<(String, String)>,
}

impl ApiRequest {
    /// A request for `path`, normalised to one leading `/` and no trailing `/`
    /// (`nodes/pve1/` → `/nodes/pve1`), as pvesh accepts both.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        ApiRequest {
            method,
            path: normalize_path(&path.into()),
            params: Vec::new(),
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::Post, path)
    }

    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::Put, path)
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::Delete, path)
    }

    /// Adds `k=v`.
    pub fn param(mut self, k: &str, v: impl ToString) -> Self {
        self.params.push((k.to_string(), v.to_string()));
        self
    }

    /// Adds a boolean parameter as PVE wants it: `1` or `0`.
    pub fn flag(self, k: &str, v: bool) -> Self {
        self.param(k, if v { "1" } else { "0" })
    }

    /// Adds `k=v` only when `v` is `Some`.
    pub fn opt(self, k: &str, v: Option<impl ToString>) -> Self {
        match v {
            Some(v) => self.param(k, v),
            None => self,
        }
    }

    /// Adds `k=1` only when `v` is true (for flags whose default is off).
    pub fn flag_if(self, k: &str, v: bool) -> Self {
        if v { self.flag(k, true) } else { self }
    }

    /// `k1=v1&k2=v2`, percent-encoded; the query string of a GET/DELETE.
    pub fn query_string(&self) -> String {
        encode_pairs(&self.params)
    }

    /// The `application/x-www-form-urlencoded` body of a POST/PUT (same encoding).
    pub fn form_body(&self) -> String {
        encode_pairs(&self.params)
    }

    /// The path with the query string appended for GET/DELETE: what goes after `/api2/json`.
    pub fn path_and_query(&self) -> String {
        if self.method.params_in_query() && !self.params.is_empty() {
            format!("{}?{}", self.path, self.query_string())
        } else {
            self.path.clone()
        }
    }

    /// The value of parameter `k`, if set (the last one wins, as on the server).
    pub fn value(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| {
                if SECRET_PARAMS.contains(&k.as_str()) {
                    format!("{k}=<redacted>")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("params", &params)
            .finish()
    }
}

fn normalize_path(path: &str) -> String {
    format!("/{}", path.trim().trim_matches('/'))
}

/// Percent-encodes one path segment or form value (everything but `A-Za-z0-9-._~`).
pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

fn encode_pairs(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_segment(k), encode_segment(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_zero_and_one() {
        let r = ApiRequest::post("/x")
            .flag("a", true)
            .flag("b", false)
            .flag_if("c", false)
            .flag_if("d", true);
        assert_eq!(r.form_body(), "a=1&b=0&d=1");
    }

    #[test]
    fn opt_skips_none() {
        let r = ApiRequest::get("/x")
            .opt("a", None::<u32>)
            .opt("b", Some(5))
            .param("c", "x y");
        assert_eq!(r.query_string(), "b=5&c=x%20y");
        assert_eq!(r.path_and_query(), "/x?b=5&c=x%20y");
    }

    #[test]
    fn encodes_reserved_characters() {
        let r = ApiRequest::put("/x")
            .param("net0", "virtio,bridge=vmbr0")
            .param("sshkeys", "ssh-ed25519 AAA+/=");
        assert_eq!(
            r.form_body(),
            "net0=virtio%2Cbridge%3Dvmbr0&sshkeys=ssh-ed25519%20AAA%2B%2F%3D"
        );
        assert_eq!(r.path_and_query(), "/x", "POST/PUT params go in the body");
        assert_eq!(
            encode_segment("UPID:n:1:a@pam!t:"),
            "UPID%3An%3A1%3Aa%40pam%21t%3A"
        );
    }

    #[test]
    fn paths_are_normalised() {
        for (input, want) in [
            ("nodes/pve1/", "/nodes/pve1"),
            ("/version", "/version"),
            ("", "/"),
            ("//x//", "/x"),
        ] {
            assert_eq!(ApiRequest::get(input).path, want, "{input}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let r = ApiRequest::post("/access/ticket")
            .param("username", "root@pam")
            .param("password", "hunter2");
        let dbg = format!("{r:?}");
        assert!(dbg.contains("username=root@pam"), "{dbg}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}
