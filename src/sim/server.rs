//! The simulator's HTTP layer: TLS accept loop, request decoding, authentication (tickets, CSRF,
//! API tokens), validation, permission checks, faults, the PVE envelope and error shapes, and the
//! request log (FACTS §1-3).
//!
//! It owns no cluster logic: it finds the route, checks the caller, and runs the handler on the
//! locked state. It never blocks while holding the lock.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use indexmap::IndexMap;
use serde_json::{Value, json};

use super::clock::Clock;
use super::crypto::{Keys, TICKET_LIFETIME};
use super::params::{Params, validate};
use super::routes::{self, ApiError, Ctx, Perm, Reply};
use super::{RequestRecord, Shared, lock_shared};

#[derive(Clone)]
pub struct Server {
    pub shared: Arc<Mutex<Shared>>,
    pub clock: Arc<Clock>,
    pub keys: Arc<Keys>,
    /// Told the number of answered requests after each one is logged.
    pub answered: Arc<tokio::sync::watch::Sender<usize>>,
}

/// A request whose connection the drop fault closes without an answer.
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    server: Server,
    shutdown: Arc<tokio::sync::Notify>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shutdown.notified() => break,
        };
        let Ok((tcp, _peer)) = accepted else { continue };
        // Answers go out whole as soon as they are written: with Nagle's algorithm on, the last
        // short segment of an answer can wait on the client's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { server.handle(req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tls), service)
                .with_upgrades()
                .await;
        });
    }
}

/// The decoded request, independent of hyper.
struct Incoming2 {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Server {
    async fn handle(&self, mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
        // A websocket upgrade: pveproxy answers it only for `vncwebsocket`, after the API call
        // itself (auth, parameters, the vncticket check) succeeded.
        let upgrade = wants_websocket(req.headers()).then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let multipart = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(super::upload::boundary);
        let (body, tmpfile) = match multipart {
            Some(boundary) => match self
                .receive_upload(body, boundary, &mut parts.headers)
                .await
            {
                Ok(received) => received,
                Err(text) => return Ok(render(Outcome::Err(ApiError::new(400, text), false))),
            },
            None => (
                body.collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default(),
                None,
            ),
        };
        let inc = Incoming2 {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or("").to_string(),
            headers: parts.headers,
            body,
        };
        // Every request moves the logical clock (when there is one) and is handled at that time.
        let now_f = self.clock.tick();
        let (latency, drop) = {
            let mut shared = lock_shared(&self.shared);
            shared.note_arrival(&inc.path);
            let f = shared.faults.clone();
            let roll = dice(&mut shared.dice);
            (f.latency_ms, f.drop_rate > 0.0 && roll < f.drop_rate)
        };
        // Wake the waiters of `SimHandle::arrived` (they read the arrivals, not this value).
        self.answered.send_modify(|_| {});
        if latency > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
        }
        if drop {
            self.record(&inc, &inc.path.clone(), 0);
            return Err(Dropped);
        }
        let (template, out) = self.dispatch(&inc, now_f);
        // pveproxy removes the temporary file after the call, whatever became of it.
        if let Some(tmp) = tmpfile {
            lock_shared(&self.shared).state.uploads.remove(&tmp);
        }
        if let (Some(on), Outcome::Ok(reply)) = (upgrade, &out)
            && template.ends_with("/vncwebsocket")
        {
            let port = reply
                .data
                .get("port")
                .and_then(Value::as_str)
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or_default();
            let Some(resp) = switching_protocols(&inc.headers) else {
                self.record(&inc, &template, 400);
                return Ok(render(Outcome::Err(
                    ApiError::new(400, "missing Sec-WebSocket-Key"),
                    false,
                )));
            };
            self.record(&inc, &template, 101);
            let env = super::console::Env {
                shared: self.shared.clone(),
                clock: self.clock.clone(),
                answered: self.answered.clone(),
            };
            tokio::spawn(async move {
                if let Ok(upgraded) = on.await {
                    let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        tokio_tungstenite::tungstenite::protocol::Role::Server,
                        None,
                    )
                    .await;
                    super::console::serve(ws, env, port).await;
                }
            });
            return Ok(resp);
        }
        let status = match &out {
            Outcome::Ok(..) | Outcome::Raw(..) => 200,
            Outcome::Err(e, _) => e.status,
        };
        self.record(&inc, &template, status);
        Ok(render(out))
    }

    fn record(&self, inc: &Incoming2, template: &str, status: u16) {
        let answered = {
            let mut shared = lock_shared(&self.shared);
            shared.log_request(RequestRecord {
                method: inc.method.clone(),
                path: inc.path.clone(),
                template: template.to_string(),
                status,
            })
        };
        self.answered.send_replace(answered);
    }

    /// Handles one request at simulated time `now_f`.
    fn dispatch(&self, inc: &Incoming2, now_f: f64) -> (String, Outcome) {
        if inc.path == "/pve-docs/api-viewer/apidoc.js" && inc.method == "GET" {
            return (
                inc.path.clone(),
                Outcome::Raw(
                    super::apidoc::render(),
                    "application/javascript; charset=utf-8",
                ),
            );
        }
        let Some(rest) = inc.path.strip_prefix("/api2/") else {
            return (
                inc.path.clone(),
                Outcome::Err(ApiError::new(404, "Not found"), false),
            );
        };
        let (format, rel) = rest
            .split_once('/')
            .map(|(f, r)| (f, format!("/{r}")))
            .unwrap_or((rest, "/".to_string()));
        if format != "json" {
            return (
                inc.path.clone(),
                Outcome::Err(ApiError::new(501, "no such uri"), false),
            );
        }
        let rel = rel.trim_end_matches('/').to_string();
        let rel = if rel.is_empty() { "/".to_string() } else { rel };
        if (inc.method == "GET" || inc.method == "DELETE") && !inc.body.is_empty() {
            return (
                rel,
                Outcome::Err(
                    ApiError::new(
                        501,
                        format!("Unexpected content for method '{}'", inc.method),
                    ),
                    false,
                ),
            );
        }
        let not_impl = || {
            ApiError::new(
                501,
                format!("Method '{} {}' not implemented", inc.method, rel),
            )
        };
        let Ok(table) = routes::table() else {
            return (
                rel.clone(),
                Outcome::Err(
                    ApiError::fail("simulator route table failed to load"),
                    false,
                ),
            );
        };
        let segments: Vec<String> = rel
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let matched = routes::lookup(table, &segments);
        let Some((compiled, vars)) = matched
            .into_iter()
            .find(|(c, _)| c.route.method == inc.method)
        else {
            return (rel.clone(), Outcome::Err(not_impl(), false));
        };
        let route = &compiled.route;
        let missing = lock_shared(&self.shared)
            .faults
            .missing_routes
            .iter()
            .any(|m| m.split_once(' ') == Some((route.method, route.path)));
        if missing {
            return (rel.clone(), Outcome::Err(not_impl(), false));
        }
        let template = route.path.to_string();
        let mut params = match decode_params(inc) {
            Ok(p) => p,
            Err(e) => return (template, Outcome::Err(e, false)),
        };
        let mut dup = IndexMap::new();
        for (name, value) in vars {
            match params.get(name) {
                Some(v) if *v != value => {
                    dup.insert(
                        name.to_string(),
                        "duplicate parameter (already defined in URI) with conflicting values!"
                            .to_string(),
                    );
                }
                _ => {
                    params.insert(name.to_string(), value);
                }
            }
        }
        if !dup.is_empty() {
            return (template, Outcome::Err(ApiError::params(dup), false));
        }
        let now = now_f.floor() as i64;
        let mut shared = lock_shared(&self.shared);
        let lifetime = shared
            .faults
            .ticket_lifetime_secs
            .unwrap_or(TICKET_LIFETIME);
        shared.state.run_due_tasks(now_f);
        let auth = if matches!(route.perm, Perm::World) {
            Auth {
                user: String::new(),
                auth_id: String::new(),
                perm_id: String::new(),
            }
        } else {
            match self.authenticate(&shared.state, inc, route.allowtoken, &rel, now, lifetime) {
                Ok(a) => a,
                Err(e) => return (template, Outcome::Err(e, true)),
            }
        };
        if let Err(errors) = validate(&compiled.specs, &params) {
            return (template, Outcome::Err(ApiError::params(errors), false));
        }
        if let Perm::Privs { path, privs, any } = route.perm {
            let path = substitute(path, &params);
            if !super::perms::has(
                &shared.state.acl,
                &shared.state.roles,
                &auth.perm_id,
                &path,
                privs,
                any,
            ) {
                let detail = format!("{path}, {}", privs.join(if any { "|" } else { ", " }));
                return (template, Outcome::Err(ApiError::perm(Some(detail)), false));
            }
        }
        let error_rate = shared.faults.error_rate;
        if error_rate > 0.0 && route.path != "/access/ticket" && dice(&mut shared.dice) < error_rate
        {
            return (
                template,
                Outcome::Err(ApiError::fail("simulated failure"), false),
            );
        }
        let shared = &mut *shared;
        let mut ctx = Ctx {
            state: &mut shared.state,
            params,
            user: auth.user,
            perm_id: auth.perm_id,
            auth_id: auth.auth_id,
            now: now_f,
            keys: &self.keys,
            ticket_lifetime: lifetime,
            template: route.path,
        };
        let out = match (route.handler)(&mut ctx) {
            Ok(r) => Outcome::Ok(r),
            Err(e) => Outcome::Err(e, false),
        };
        (template, out)
    }

    /// Reads a multipart upload as pveproxy does: the file part goes to a temporary file
    /// (here: its size and checksums, under its path in `State::uploads`), and the request
    /// goes on as a form with `tmpfilename` set to that path.
    async fn receive_upload(
        &self,
        body: Incoming,
        boundary: String,
        headers: &mut HeaderMap,
    ) -> Result<(Bytes, Option<String>), String> {
        let got = super::upload::receive(body.into_data_stream(), boundary).await?;
        let mut fields = got.fields;
        let mut tmpfile = None;
        if let Some(file) = got.file {
            let tmp = {
                let mut shared = lock_shared(&self.shared);
                let n = shared.state.next_random();
                let tmp = format!("/var/tmp/pveupload-{n:016x}");
                shared.state.uploads.insert(tmp.clone(), file);
                tmp
            };
            fields.push(("tmpfilename".to_string(), tmp.clone()));
            tmpfile = Some(tmp);
        }
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let form = serde_urlencoded::to_string(&fields)
            .map_err(|e| format!("failed to encode the upload's fields: {e}"))?;
        Ok((Bytes::from(form), tmpfile))
    }

    /// Finds the caller: API token header, or ticket cookie/header (+ CSRF for writes).
    fn authenticate(
        &self,
        state: &super::state::State,
        inc: &Incoming2,
        allowtoken: bool,
        rel: &str,
        now: i64,
        lifetime: i64,
    ) -> Result<Auth, ApiError> {
        let authz = inc
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some(tok) = authz
            .strip_prefix("PVEAPIToken")
            .and_then(|t| t.strip_prefix(['=', ' ']))
        {
            let (id, secret) = tok
                .trim()
                .rsplit_once('=')
                .ok_or_else(|| ApiError::new(401, "Authentication failed!"))?;
            let (user, name) = id
                .split_once('!')
                .ok_or_else(|| ApiError::new(401, "Authentication failed!"))?;
            let token = state
                .users
                .get(user)
                .filter(|u| u.enable)
                .and_then(|u| u.tokens.iter().find(|t| t.id == name))
                .filter(|t| t.secret.expose() == secret && (t.expire == 0 || t.expire > now))
                .ok_or_else(|| ApiError::new(401, "Authentication failed!"))?;
            if !allowtoken {
                return Err(ApiError::perm(Some(format!(
                    "URI '{rel}' not available with API token, need proper ticket."
                ))));
            }
            return Ok(Auth {
                user: user.to_string(),
                auth_id: id.to_string(),
                perm_id: if token.privsep {
                    id.to_string()
                } else {
                    user.to_string()
                },
            });
        }
        let ticket = authz
            .strip_prefix("PVEAuthCookie=")
            .map(str::to_string)
            .or_else(|| cookie(&inc.headers, "PVEAuthCookie"))
            .ok_or_else(|| ApiError::new(401, "No ticket"))?;
        let subject = self
            .keys
            .verify_ticket(&ticket, now, lifetime)
            .ok_or_else(|| ApiError::new(401, "No ticket"))?;
        if subject.starts_with("!tfa!") || !state.users.get(&subject).is_some_and(|u| u.enable) {
            return Err(ApiError::new(401, "No ticket"));
        }
        if inc.method != "GET" {
            let csrf = inc
                .headers
                .get("csrfpreventiontoken")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !self.keys.verify_csrf(&subject, csrf, now, lifetime) {
                return Err(ApiError::new(401, "Permission denied - invalid csrf token"));
            }
        }
        Ok(Auth {
            user: subject.clone(),
            auth_id: subject.clone(),
            perm_id: subject,
        })
    }
}

struct Auth {
    user: String,
    auth_id: String,
    /// Whose privileges count: the user, or the token id when it has privilege separation.
    perm_id: String,
}

enum Outcome {
    Ok(Reply),
    /// The error, and whether it is an auth-layer error (empty body, like PVE's `error()`).
    Err(ApiError, bool),
    Raw(String, &'static str),
}

/// True for a websocket upgrade request (`Connection: Upgrade`, `Upgrade: websocket`).
fn wants_websocket(headers: &HeaderMap) -> bool {
    let has = |name: &str, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    has("connection", "upgrade") && has("upgrade", "websocket")
}

/// The `101 Switching Protocols` answer to a websocket handshake (RFC 6455 §4.2.2), choosing the
/// `binary` subprotocol when offered, as pveproxy does; `None` without a key.
fn switching_protocols(headers: &HeaderMap) -> Option<Response<Full<Bytes>>> {
    let key = headers.get("sec-websocket-key")?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    h.insert("connection", HeaderValue::from_static("Upgrade"));
    h.insert("sec-websocket-accept", HeaderValue::from_str(&accept).ok()?);
    let binary = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "binary");
    if binary {
        h.insert("sec-websocket-protocol", HeaderValue::from_static("binary"));
    }
    Some(r)
}

/// A deterministic roll in [0, 1) from the seed sequence.
fn dice(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
}

/// `/vms/{vmid}` with the request's parameters filled in.
fn substitute(path: &str, params: &Params) -> String {
    let mut out = path.to_string();
    for (k, v) in params {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Query string merged over the body (form or JSON by Content-Type).
fn decode_params(inc: &Incoming2) -> Result<Params, ApiError> {
    let mut params = Params::new();
    let ctype = inc
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !inc.body.is_empty() {
        if ctype.starts_with("application/json") {
            let v: Value = serde_json::from_slice(&inc.body)
                .map_err(|e| ApiError::new(400, format!("failed to parse JSON body: {e}")))?;
            let Value::Object(map) = v else {
                return Err(ApiError::new(400, "JSON body must be an object"));
            };
            for (k, v) in map {
                let s = match v {
                    Value::String(s) => s,
                    Value::Bool(b) => {
                        if b {
                            "1".into()
                        } else {
                            "0".into()
                        }
                    }
                    Value::Null => continue,
                    Value::Array(a) => a
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| x.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join("\0"),
                    other => other.to_string(),
                };
                params.insert(k, s);
            }
        } else {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&inc.body)
                .map_err(|e| ApiError::new(400, format!("failed to parse form body: {e}")))?;
            params.extend(pairs);
        }
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&inc.query)
        .map_err(|e| ApiError::new(400, format!("failed to parse query string: {e}")))?;
    params.extend(pairs);
    Ok(params)
}

fn render(out: Outcome) -> Response<Full<Bytes>> {
    let json_type = HeaderValue::from_static("application/json;charset=UTF-8");
    match out {
        Outcome::Raw(text, ctype) => {
            let mut r = Response::new(Full::new(Bytes::from(text)));
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(ctype));
            r
        }
        Outcome::Ok(reply) => {
            let body: Bytes = match reply.raw {
                Some(mut raw) => {
                    // Closed in place: this answer can be megabytes.
                    if let Some(t) = reply.total {
                        raw.extend_from_slice(format!(",\"total\":{t}").as_bytes());
                    }
                    raw.push(b'}');
                    Bytes::from(raw)
                }
                None => {
                    let mut body = json!({ "data": reply.data });
                    if let (Some(total), Some(o)) = (reply.total, body.as_object_mut()) {
                        o.insert("total".into(), json!(total));
                    }
                    Bytes::from(body.to_string())
                }
            };
            let mut r = Response::new(Full::new(body));
            r.headers_mut().insert("content-type", json_type);
            r
        }
        Outcome::Err(e, auth_layer) => {
            let body = if auth_layer {
                String::new()
            } else {
                let mut b = json!({ "data": null, "message": format!("{}\n", e.message) });
                if let (Some(errors), Some(o)) = (e.errors, b.as_object_mut()) {
                    o.insert("errors".into(), json!(errors));
                }
                b.to_string()
            };
            let mut r = Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if !auth_layer {
                r.headers_mut().insert("content-type", json_type);
            }
            r.headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
            let phrase: String = e
                .message
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| c.is_ascii() && !c.is_ascii_control())
                .take(200)
                .collect();
            if let Ok(p) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
                r.extensions_mut().insert(p);
            }
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(method: &str, query: &str, ctype: &str, body: &str) -> Incoming2 {
        let mut headers = HeaderMap::new();
        if !ctype.is_empty() {
            headers.insert("content-type", HeaderValue::from_str(ctype).unwrap());
        }
        Incoming2 {
            method: method.into(),
            path: "/api2/json/x".into(),
            query: query.into(),
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    fn check(i: Incoming2, want: &[(&str, &str)]) {
        let got = decode_params(&i).unwrap();
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn params_from_query_form_and_json() {
        check(
            inc("GET", "a=1&b=x%20y", "", ""),
            &[("a", "1"), ("b", "x y")],
        );
        check(
            inc(
                "POST",
                "",
                "application/x-www-form-urlencoded",
                "net0=virtio%2Cbridge%3Dvmbr0",
            ),
            &[("net0", "virtio,bridge=vmbr0")],
        );
        check(inc("POST", "b=2", "", "a=1&b=1"), &[("a", "1"), ("b", "2")]);
        check(
            inc(
                "POST",
                "",
                "application/json",
                r#"{"start":true,"cores":2,"name":"x","skip":null}"#,
            ),
            &[("start", "1"), ("cores", "2"), ("name", "x")],
        );
        assert_eq!(
            decode_params(&inc("POST", "", "application/json", "[1]"))
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn cookies_and_substitution() {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            HeaderValue::from_static("a=b; PVEAuthCookie=PVE%3Aroot%40pam%3A1::x"),
        );
        assert_eq!(
            cookie(&h, "PVEAuthCookie").as_deref(),
            Some("PVE:root@pam:1::x")
        );
        assert_eq!(cookie(&h, "nope"), None);
        let p: Params = [("vmid".to_string(), "101".to_string())]
            .into_iter()
            .collect();
        assert_eq!(substitute("/vms/{vmid}", &p), "/vms/101");
    }

    #[test]
    fn dice_is_deterministic_and_in_range() {
        let (mut a, mut b) = (42, 42);
        for _ in 0..100 {
            let x = dice(&mut a);
            assert_eq!(x, dice(&mut b));
            assert!((0.0..1.0).contains(&x));
        }
    }
}
