//! The one place that turns an HTTP answer into data or an [`ApiError`].
//!
//! PVE's envelope (FACTS §2): success is `{"data": ..., "total"?: n}`; an error has its message
//! in the reason phrase, since pve-http-server 5.2 also in body `message` (with a trailing
//! newline), parameter errors in body `errors`, and server-level errors a plain-text body.
//! This module is pure: it gets the status, reason phrase and body bytes, and does no IO.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::ApiError;
use super::request::Method;

/// A decoded success: `data` and, for paginated calls, `total`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub data: Value,
    pub total: Option<u64>,
}

/// Decodes one answer. `reason` is the HTTP reason phrase as sent (empty if unknown).
pub fn decode(
    method: Method,
    path: &str,
    status: u16,
    reason: &str,
    body: &[u8],
) -> Result<ApiResponse, ApiError> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if (200..300).contains(&status) {
        let Some(Value::Object(mut obj)) = json else {
            return Err(ApiError::Decode {
                path: path.to_string(),
                detail: format!("expected a JSON object with 'data', got {}", preview(body)),
            });
        };
        let data = obj.remove("data").unwrap_or(Value::Null);
        let total = obj.get("total").and_then(number_or_string);
        return Ok(ApiResponse { data, total });
    }
    let mut message = None;
    let mut errors = BTreeMap::new();
    if let Some(Value::Object(obj)) = &json {
        message = obj
            .get("message")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(String::from);
        if let Some(Value::Object(errs)) = obj.get("errors") {
            for (k, v) in errs {
                let text = match v {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                };
                errors.insert(k.clone(), text);
            }
        }
    }
    let reason = reason.trim();
    let canonical = canonical_reason(status);
    let message = message
        .or_else(|| (!reason.is_empty() && Some(reason) != canonical).then(|| reason.to_string()))
        .or_else(|| {
            if json.is_none() {
                first_line(body)
            } else {
                None
            }
        })
        .or_else(|| (!reason.is_empty()).then(|| reason.to_string()))
        .or_else(|| canonical.map(String::from))
        .unwrap_or_else(|| format!("HTTP error {status}"));
    Err(ApiError::Http {
        status,
        message,
        errors,
        method: method.as_str(),
        path: path.to_string(),
    })
}

/// Decodes one answer's `data` straight into `T` from the body's bytes: no JSON tree is built
/// (the `/cluster/resources` of a big cluster is megabytes). Errors decode as [`decode`] does.
pub fn decode_data<T: serde::de::DeserializeOwned>(
    method: Method,
    path: &str,
    status: u16,
    reason: &str,
    body: &[u8],
) -> Result<T, ApiError> {
    if !(200..300).contains(&status) {
        return Err(match decode(method, path, status, reason, body) {
            Err(e) => e,
            Ok(_) => ApiError::Decode {
                path: path.to_string(),
                detail: format!("unexpected HTTP status {status}"),
            },
        });
    }
    #[derive(serde::Deserialize)]
    struct Envelope<T> {
        data: T,
    }
    // Checked as UTF-8 once, the text's strings need no check of their own each.
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str::<Envelope<T>>(text),
        Err(_) => serde_json::from_slice::<Envelope<T>>(body),
    }
    .map(|e| e.data)
    .map_err(|e| ApiError::Decode {
        path: path.to_string(),
        detail: if body.first() == Some(&b'{') {
            e.to_string()
        } else {
            format!("expected a JSON object with 'data', got {}", preview(body))
        },
    })
}

fn number_or_string(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn first_line(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect())
}

fn preview(body: &[u8]) -> String {
    if body.is_empty() {
        return "an empty body".to_string();
    }
    let text: String = String::from_utf8_lossy(body).chars().take(80).collect();
    format!("'{text}'")
}

fn canonical_reason(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, reason: &str, body: &str) -> ApiError {
        decode(
            Method::Post,
            "/nodes/pve1/qemu",
            status,
            reason,
            body.as_bytes(),
        )
        .unwrap_err()
    }

    /// Checks the status, message and errors an error answer decodes to.
    fn check(status: u16, reason: &str, body: &str, message: &str, errors: &[(&str, &str)]) {
        match err(status, reason, body) {
            ApiError::Http {
                status: s,
                message: m,
                errors: e,
                method,
                path,
            } => {
                assert_eq!(
                    (s, m.as_str(), method, path.as_str()),
                    (status, message, "POST", "/nodes/pve1/qemu")
                );
                let want: BTreeMap<String, String> = errors
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                assert_eq!(e, want);
            }
            other => panic!("expected Http, got {other:?}"),
        }
    }

    #[test]
    fn error_answers() {
        // 400 on PVE >= 8.4: message in the body, per-parameter errors.
        check(
            400,
            "Parameter verification failed.",
            r#"{"data":null,"errors":{"vmid":"VM 200 already exists\n"},"message":"Parameter verification failed.\n"}"#,
            "Parameter verification failed.",
            &[("vmid", "VM 200 already exists")],
        );
        // Older servers: the message is only in the reason phrase.
        check(
            500,
            "VM 100 already running",
            r#"{"data":null}"#,
            "VM 100 already running",
            &[],
        );
        check(
            401,
            "authentication failure",
            "",
            "authentication failure",
            &[],
        );
        check(401, "No ticket", "", "No ticket", &[]);
        // Server-level errors: plain-text body, canonical reason.
        check(
            501,
            "Not Implemented",
            "Method 'GET /foo' not implemented\n",
            "Method 'GET /foo' not implemented",
            &[],
        );
        check(
            502,
            "Bad Gateway",
            "<html>proxy</html>",
            "<html>proxy</html>",
            &[],
        );
        check(503, "", "", "Service Unavailable", &[]);
        check(599, "", "", "HTTP error 599", &[]);
        // A non-string error value is kept as JSON text.
        check(
            400,
            "Parameter verification failed.",
            r#"{"data":null,"errors":{"n":5}}"#,
            "Parameter verification failed.",
            &[("n", "5")],
        );
    }

    #[test]
    fn success_answers() {
        let ok = |body: &str| decode(Method::Get, "/x", 200, "OK", body.as_bytes()).unwrap();
        assert_eq!(
            ok(r#"{"data":{"version":"9.1.1"}}"#).data["version"],
            "9.1.1"
        );
        assert_eq!(ok(r#"{"data":null}"#).data, Value::Null);
        assert_eq!(ok(r#"{"data":"UPID:x"}"#).data, "UPID:x");
        let page = ok(r#"{"data":[{"n":1,"t":"a"}],"total":13}"#);
        assert_eq!(page.total, Some(13));
        assert_eq!(page.data.as_array().map(Vec::len), Some(1));
        assert_eq!(ok(r#"{"data":[],"total":"7"}"#).total, Some(7));
        assert_eq!(ok("{}").data, Value::Null);
    }

    #[test]
    fn bad_success_bodies() {
        let e = decode(Method::Get, "/version", 200, "OK", b"<html>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected response from /version: expected a JSON object with 'data', got '<html>'"
        );
        let e = decode(Method::Get, "/version", 200, "OK", b"").unwrap_err();
        assert!(e.to_string().contains("an empty body"), "{e}");
    }
}
