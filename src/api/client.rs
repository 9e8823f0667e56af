//! `Client`: one authenticated HTTPS session to a PVE server, and the only place that does
//! HTTP IO for the API.
//!
//! It builds TLS (`tls`), logs in (ticket, TFA, renewal before the 2 h expiry, one fresh login
//! and one retry after a 401) or checks an API token, sends [`ApiRequest`]s, and hands every
//! answer to [`envelope::decode`]. Idempotent GETs are retried (at most twice, small backoff)
//! on connection errors and 502/503/504; POST/PUT/DELETE never are. Must not print or prompt:
//! a second factor is asked through [`TfaPrompt`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::{self, LoginAnswer, Ticket};
pub use super::auth::{Auth, TfaPrompt};
use super::endpoints::{self, ApiRequest, Method};
use super::envelope::{self, ApiResponse};
use super::error::{ApiError, whole_secs};
use super::tls::{self, PinState, TlsMode};
use crate::secret::Secret;

/// Everything needed to open a session.
#[derive(Clone)]
pub struct ConnectOptions {
    /// `https://host:8006`, `host` or `host:port`; normalised, default port 8006.
    pub url: String,
    pub auth: Auth,
    pub tls: TlsMode,
    /// Per request (connect included).
    pub timeout: Duration,
    /// Asked for a TOTP code when the server wants one and `otp` was not given.
    pub tfa: Option<Arc<dyn TfaPrompt>>,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .field("tfa", &self.tfa.is_some())
            .finish()
    }
}

/// A websocket opened by [`Client::websocket`].
pub type WebSocket =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// A session; cheap to clone (an `Arc` inside) and safe to share between tasks.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("username", &self.inner.username)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    base_url: String,
    auth: Auth,
    username: String,
    timeout: Duration,
    tfa: Option<Arc<dyn TfaPrompt>>,
    pin: Option<(String, Arc<PinState>)>,
    /// The same TLS config as `http`'s, for the websockets of consoles.
    tls: Arc<rustls::ClientConfig>,
    /// The ticket session (password auth only) and a generation counter bumped on each login.
    session: tokio::sync::Mutex<Option<(Ticket, u64)>>,
    requests: AtomicU64,
    /// Added to the local clock; zero except in tests that let time pass.
    clock_shift: AtomicI64,
}

/// How a request's parameters travel: urlencoded (or in the query), or as a multipart upload.
enum Body {
    Form,
    Multipart(reqwest::multipart::Form),
}

/// The auth headers of one request, taken from the session when it is sent.
#[derive(Clone)]
enum Creds {
    None,
    Token(Secret),
    Ticket {
        cookie: Secret,
        csrf: Secret,
        generation: u64,
    },
}

/// Turns an answer (status, reason phrase, body) into a result.
type Decoder<'a, T> = dyn Fn(u16, &str, &[u8]) -> Result<T, ApiError> + Sync + 'a;

/// A 401 to an API token: the token itself was refused (PVE answers a token without the
/// privileges with 403, never 401).
fn token_refused(creds: &Creds, e: ApiError) -> ApiError {
    match e {
        ApiError::Http {
            status: 401,
            message,
            ..
        } if matches!(creds, Creds::Token(_)) => ApiError::Auth {
            message: format!("{} ({message})", super::error::TOKEN_REFUSED),
        },
        e => e,
    }
}

const RETRY_BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Client {
    /// Builds TLS, then logs in (password). An API token is not checked here: it goes with
    /// the first request, and a 401 to it is reported as the token refused, so a listing with a
    /// token costs one request.
    pub async fn connect(opts: ConnectOptions) -> Result<Client, ApiError> {
        let base_url = super::url::normalize(&opts.url)?;
        let setup = tls::build(&opts.tls, &base_url)?;
        // Our config names ring itself; also make ring the process default (ignored when one is
        // set) so that no other rustls user in the process panics for want of a provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = Arc::new(setup.config.clone());
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(setup.config)
            .http1_only()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            .user_agent(concat!("pvesh-plus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Tls {
                url: base_url.clone(),
                detail: error_chain(&e),
            })?;
        if let Auth::Token { tokenid, .. } = &opts.auth {
            auth::check_tokenid(tokenid)?;
        }
        let mut inner = Inner {
            http,
            username: opts.auth.username().to_string(),
            base_url,
            auth: opts.auth,
            timeout: opts.timeout,
            tfa: opts.tfa,
            pin: setup.pin,
            tls,
            session: tokio::sync::Mutex::new(None),
            requests: AtomicU64::new(0),
            clock_shift: AtomicI64::new(0),
        };
        if let Auth::Password { .. } = &inner.auth {
            let ticket = inner.login().await?;
            inner.username = ticket.username.clone();
            *inner.session.get_mut() = Some((ticket, 1));
        }
        let client = Client {
            inner: Arc::new(inner),
        };
        Ok(client)
    }

    /// Opens a websocket to `path_and_query` (below `/api2/json`, e.g. a `vncwebsocket`) with
    /// this session's TLS trust and credentials, asking for the `binary` subprotocol as PVE's
    /// consoles do. The query may hold a ticket: errors name only the path.
    pub async fn websocket(&self, path_and_query: &str) -> Result<WebSocket, ApiError> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::http::HeaderValue;
        let inner = &self.inner;
        let path = path_and_query
            .split_once('?')
            .map_or(path_and_query, |(p, _)| p)
            .to_string();
        let what = format!("GET {path}");
        let uri: http::Uri = inner.base_url.parse().map_err(|_| ApiError::Options {
            message: format!("cannot read the server address {}", inner.base_url),
        })?;
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_string();
        let port = uri.port_u16().unwrap_or(8006);
        let connect_err = |detail: String| ApiError::Connect {
            url: inner.base_url.clone(),
            detail,
        };
        let ws_url = format!(
            "wss://{}/api2/json{path_and_query}",
            uri.authority().map_or("", |a| a.as_str())
        );
        let mut request = ws_url
            .into_client_request()
            .map_err(|e| connect_err(format!("bad websocket address for {path}: {e}")))?;
        let headers = request.headers_mut();
        headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("binary"));
        let header = |v: &str| {
            HeaderValue::from_str(v).map_err(|_| ApiError::Auth {
                message: "the session's credentials cannot go in a header".into(),
            })
        };
        match inner.creds().await? {
            Creds::None => {}
            Creds::Token(h) => {
                headers.insert("Authorization", header(h.expose())?);
            }
            Creds::Ticket { cookie, .. } => {
                headers.insert("Cookie", header(cookie.expose())?);
            }
        }
        let timeout = inner.timeout;
        let timed = |e: tokio::time::error::Elapsed| {
            let _ = e;
            ApiError::Timeout {
                what: what.clone(),
                secs: whole_secs(timeout),
            }
        };
        let tcp = tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        .map_err(timed)?
        .map_err(|e| connect_err(e.to_string()))?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| connect_err(format!("bad server name {host}: {e}")))?;
        let connector = tokio_rustls::TlsConnector::from(inner.tls.clone());
        let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
            .await
            .map_err(timed)?
            .map_err(|e| {
                if let Some((expected, state)) = &inner.pin
                    && let Some(presented) = state.take_refused()
                {
                    return ApiError::FingerprintMismatch {
                        expected: expected.clone(),
                        presented,
                    };
                }
                ApiError::Tls {
                    url: inner.base_url.clone(),
                    detail: explain_tls(&e.to_string()),
                }
            })?;
        inner.requests.fetch_add(1, Ordering::Relaxed);
        let handshake = tokio_tungstenite::client_async(request, tls);
        match tokio::time::timeout(timeout, handshake)
            .await
            .map_err(timed)?
        {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let status = resp.status().as_u16();
                let body = resp
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                let message = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                    .map(|m| m.trim_end().to_string())
                    .filter(|m| !m.is_empty())
                    .or_else(|| resp.status().canonical_reason().map(String::from))
                    .unwrap_or_default();
                Err(ApiError::Http {
                    status,
                    message,
                    errors: Default::default(),
                    method: "GET",
                    path,
                })
            }
            Err(e) => Err(connect_err(format!("the websocket to {path} failed: {e}"))),
        }
    }

    /// Sends one request and decodes PVE's envelope. Renews the ticket when it is old, and
    /// after a 401 in a ticket session logs in once afresh and retries once.
    pub async fn call(&self, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        self.call_with(req, &|status, reason, body| {
            envelope::decode(req.method, &req.path, status, reason, body)
        })
        .await
    }

    /// Like [`Client::call`], with the answer decoded by `decode` from the body's bytes, so a
    /// large answer can go straight into its typed form without a JSON tree first.
    async fn call_with<T>(&self, req: &ApiRequest, decode: &Decoder<'_, T>) -> Result<T, ApiError> {
        let creds = self.inner.creds().await?;
        let result = match self.inner.send_with_retries(req, &creds, decode).await {
            Err(ApiError::Http { status: 401, .. }) if matches!(creds, Creds::Ticket { .. }) => {
                let creds = self.inner.relogin(&creds).await?;
                self.inner.send_with_retries(req, &creds, decode).await
            }
            other => other,
        };
        result.map_err(|e| token_refused(&creds, e))
    }

    /// `data` decoded straight from the answer's bytes into `T` (no JSON tree in between):
    /// what `/cluster/resources` uses, megabytes with 10 000 guests.
    pub async fn get_data<T: DeserializeOwned>(&self, req: &ApiRequest) -> Result<T, ApiError> {
        self.call_with(req, &|status, reason, body| {
            envelope::decode_data(req.method, &req.path, status, reason, body)
        })
        .await
    }

    /// Sends `req` as `multipart/form-data`: its parameters as text fields, then `file` as the
    /// `filename` part, streamed from disk (never read whole into memory) with `progress` told
    /// the bytes sent so far and the total. Like [`Client::call`], a ticket session logs in
    /// afresh after a 401 and sends the file once more; nothing else is retried.
    pub async fn upload(
        &self,
        req: &ApiRequest,
        file: &super::upload::UploadFile,
        progress: &super::upload::ByteProgress,
    ) -> Result<ApiResponse, ApiError> {
        let creds = self.inner.creds().await?;
        let url = format!("{}/api2/json{}", self.inner.base_url, req.path);
        let send = async |creds: Creds| {
            let form = super::upload::form(req, file, progress.clone())
                .await
                .map_err(|e| ApiError::Connect {
                    url: self.inner.base_url.clone(),
                    detail: format!("cannot read {}: {e}", file.path.display()),
                })?;
            let (status, reason, body) = self
                .inner
                .send_raw(req, &url, &creds, Body::Multipart(form))
                .await?;
            envelope::decode(req.method, &req.path, status, &reason, &body)
        };
        let result = match send(creds.clone()).await {
            Err(ApiError::Http { status: 401, .. }) if matches!(creds, Creds::Ticket { .. }) => {
                let creds = self.inner.relogin(&creds).await?;
                send(creds.clone()).await
            }
            other => other,
        };
        result.map_err(|e| token_refused(&creds, e))
    }

    /// `data` only.
    pub async fn get(&self, req: &ApiRequest) -> Result<Value, ApiError> {
        Ok(self.call(req).await?.data)
    }

    /// `data` decoded into `T`.
    pub async fn get_typed<T: DeserializeOwned>(&self, req: &ApiRequest) -> Result<T, ApiError> {
        let data = self.get(req).await?;
        serde_json::from_value(data).map_err(|e| ApiError::Decode {
            path: req.path.clone(),
            detail: e.to_string(),
        })
    }

    /// Raw GET of a path outside `/api2/json`, e.g. `/pve-docs/api-viewer/apidoc.js`.
    pub async fn fetch_text(&self, path: &str) -> Result<String, ApiError> {
        let creds = self.inner.creds().await?;
        let req = ApiRequest::get(path);
        let url = format!("{}{}", self.inner.base_url, path);
        let (status, reason, body) = self.inner.send_raw(&req, &url, &creds, Body::Form).await?;
        if !(200..300).contains(&status) {
            envelope::decode(Method::Get, path, status, &reason, &body)
                .map_err(|e| token_refused(&creds, e))?;
        }
        String::from_utf8(body.to_vec()).map_err(|e| ApiError::Decode {
            path: path.to_string(),
            detail: e.to_string(),
        })
    }

    /// `root@pam` or `root@pam!ci`.
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    /// `https://host:port`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Lets `secs` of local time pass, for tests of ticket renewal.
    #[cfg(test)]
    pub(crate) fn advance_clock(&self, secs: i64) {
        self.inner.clock_shift.fetch_add(secs, Ordering::Relaxed);
    }

    /// HTTP requests sent so far (logins and retries included).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn now(&self) -> i64 {
        now_unix() + self.clock_shift.load(Ordering::Relaxed)
    }

    async fn creds(&self) -> Result<Creds, ApiError> {
        match &self.auth {
            Auth::Token { tokenid, secret } => Ok(Creds::Token(Secret::new(auth::token_header(
                tokenid, secret,
            )))),
            Auth::Password { .. } => {
                let mut session = self.session.lock().await;
                let stale = session
                    .as_ref()
                    .is_none_or(|(t, _)| t.needs_renewal(self.now()));
                if stale {
                    let previous = session.take();
                    let generation = previous.as_ref().map_or(0, |(_, g)| *g) + 1;
                    let renewed = match &previous {
                        Some((old, _)) => self.renew(old).await.ok(),
                        None => None,
                    };
                    let ticket = match renewed {
                        Some(t) => t,
                        None => self.login().await?,
                    };
                    *session = Some((ticket, generation));
                }
                Ok(session
                    .as_ref()
                    .map_or(Creds::None, |(t, g)| Creds::Ticket {
                        cookie: Secret::new(t.cookie()),
                        csrf: t.csrf.clone(),
                        generation: *g,
                    }))
            }
        }
    }

    /// Logs in afresh after a 401, unless another request already did since `used` was taken.
    async fn relogin(&self, used: &Creds) -> Result<Creds, ApiError> {
        let Creds::Ticket {
            generation: used_gen,
            ..
        } = used
        else {
            return Ok(used.clone());
        };
        let mut session = self.session.lock().await;
        let current = session.as_ref().map_or(0, |(_, g)| *g);
        if current == *used_gen {
            let ticket = self.login().await?;
            *session = Some((ticket, current + 1));
        }
        Ok(session
            .as_ref()
            .map_or(Creds::None, |(t, g)| Creds::Ticket {
                cookie: Secret::new(t.cookie()),
                csrf: t.csrf.clone(),
                generation: *g,
            }))
    }

    /// Renews a ticket by posting it as the password.
    async fn renew(&self, old: &Ticket) -> Result<Ticket, ApiError> {
        let req = endpoints::access_ticket(&old.username, old.ticket.expose(), None);
        let data = self.login_request(&req).await?;
        match auth::read_login(&data, &old.username, self.now())? {
            LoginAnswer::Ticket(t) => Ok(t),
            LoginAnswer::NeedTfa { .. } => Err(ApiError::Auth {
                message: "ticket renewal asked for a second factor".into(),
            }),
        }
    }

    /// A full login with the password, answering a TFA challenge when asked.
    async fn login(&self) -> Result<Ticket, ApiError> {
        let Auth::Password {
            username,
            password,
            otp,
        } = &self.auth
        else {
            return Err(ApiError::Auth {
                message: "an API token session cannot log in with a password".into(),
            });
        };
        let req = endpoints::access_ticket(username, password.expose(), None);
        let data = self.login_request(&req).await?;
        let (challenge, user) = match auth::read_login(&data, username, self.now())? {
            LoginAnswer::Ticket(t) => return Ok(t),
            LoginAnswer::NeedTfa {
                challenge,
                username,
            } => (challenge, username),
        };
        let code = match (otp, &self.tfa) {
            (Some(code), _) => code.clone(),
            (None, Some(prompt)) => {
                let prompt = prompt.clone();
                tokio::task::spawn_blocking(move || prompt.totp_code())
                    .await
                    .map_err(|e| ApiError::Auth {
                        message: format!("the TOTP prompt failed: {e}"),
                    })??
            }
            (None, None) => {
                return Err(ApiError::Auth {
                    message: format!(
                        "user {username} has two-factor authentication enabled; give a TOTP code"
                    ),
                });
            }
        };
        let req = endpoints::access_ticket_tfa(
            &user,
            challenge.expose(),
            &auth::tfa_response(code.expose()),
        );
        let data = self.login_request(&req).await?;
        match auth::read_login(&data, &user, self.now())? {
            LoginAnswer::Ticket(t) => Ok(t),
            LoginAnswer::NeedTfa { .. } => Err(ApiError::Auth {
                message: "the server asked for another second factor after the TOTP code".into(),
            }),
        }
    }

    /// Sends a `POST /access/ticket` (no session headers); a 401 becomes `ApiError::Auth`.
    async fn login_request(&self, req: &ApiRequest) -> Result<Value, ApiError> {
        let decode = |status, reason: &str, body: &[u8]| {
            envelope::decode(req.method, &req.path, status, reason, body)
        };
        match self.send_once(req, &Creds::None, &decode).await {
            Ok(resp) => Ok(resp.data),
            Err(ApiError::Http {
                status: 401,
                message,
                ..
            }) => Err(ApiError::Auth { message }),
            Err(e) => Err(e),
        }
    }

    async fn send_with_retries<T>(
        &self,
        req: &ApiRequest,
        creds: &Creds,
        decode: &Decoder<'_, T>,
    ) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            let result = self.send_once(req, creds, decode).await;
            let retriable = req.method == Method::Get
                && match &result {
                    Err(ApiError::Connect { .. }) => true,
                    Err(ApiError::Http { status, .. }) => matches!(status, 502..=504),
                    _ => false,
                };
            match RETRY_BACKOFF.get(attempt) {
                Some(pause) if retriable => {
                    tracing::debug!("retrying {} {} after {:?}", req.method, req.path, pause);
                    tokio::time::sleep(*pause).await;
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    async fn send_once<T>(
        &self,
        req: &ApiRequest,
        creds: &Creds,
        decode: &Decoder<'_, T>,
    ) -> Result<T, ApiError> {
        let url = format!("{}/api2/json{}", self.base_url, req.path_and_query());
        let (status, reason, body) = self.send_raw(req, &url, creds, Body::Form).await?;
        decode(status, &reason, &body)
    }

    /// Sends the request to `url`; returns status, reason phrase and body.
    async fn send_raw(
        &self,
        req: &ApiRequest,
        url: &str,
        creds: &Creds,
        body: Body,
    ) -> Result<(u16, String, bytes::Bytes), ApiError> {
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.http.request(method, url);
        match creds {
            Creds::None => {}
            Creds::Token(header) => builder = builder.header("Authorization", header.expose()),
            Creds::Ticket { cookie, csrf, .. } => {
                builder = builder.header("Cookie", cookie.expose());
                if req.method != Method::Get {
                    builder = builder.header("CSRFPreventionToken", csrf.expose());
                }
            }
        }
        match body {
            Body::Multipart(form) => {
                // A big file takes longer than any API call: the session's timeout is for
                // answers, not for the transfer.
                builder = builder
                    .multipart(form)
                    .timeout(super::upload::TRANSFER_TIMEOUT);
            }
            Body::Form if !req.method.params_in_query() => {
                builder = builder
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(req.form_body());
            }
            Body::Form => {}
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let what = format!("{} {}", req.method, req.path);
        let resp = builder
            .send()
            .await
            .map_err(|e| self.transport_error(&e, &what))?;
        let status = resp.status().as_u16();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| resp.status().canonical_reason().map(String::from))
            .unwrap_or_default();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e, &what))?;
        Ok((status, reason, body))
    }

    /// Classifies a transport failure: pin mismatch, timeout, TLS, or connection.
    fn transport_error(&self, e: &reqwest::Error, what: &str) -> ApiError {
        if let Some((expected, state)) = &self.pin
            && let Some(presented) = state.take_refused()
        {
            return ApiError::FingerprintMismatch {
                expected: expected.clone(),
                presented,
            };
        }
        if e.is_timeout() {
            return ApiError::Timeout {
                what: what.to_string(),
                secs: whole_secs(self.timeout),
            };
        }
        let detail = innermost(e);
        if find_tls_error(e).is_some() || looks_like_tls(&detail) {
            return ApiError::Tls {
                url: self.base_url.clone(),
                detail: explain_tls(&detail),
            };
        }
        ApiError::Connect {
            url: self.base_url.clone(),
            detail,
        }
    }
}

/// rustls's messages, for when its error is boxed out of reach of `downcast_ref` in the chain.
fn looks_like_tls(detail: &str) -> bool {
    [
        "invalid peer certificate",
        "received fatal alert",
        "peer is incompatible",
        "peer misbehaved",
        "tls handshake",
    ]
    .iter()
    .any(|m| detail.to_ascii_lowercase().contains(m))
}

/// Adds a plain explanation to rustls's terse certificate errors.
fn explain_tls(detail: &str) -> String {
    let why = if detail.contains("UnknownIssuer") {
        "the certificate is not signed by a trusted CA"
    } else if detail.contains("BadSignature") {
        "the certificate is not signed by the given CA"
    } else if detail.contains("NotValidForName") {
        "the certificate is not valid for this host name"
    } else if detail.contains("Expired") {
        "the certificate has expired"
    } else {
        return detail.to_string();
    };
    format!("{why} ({detail})")
}

/// The innermost message of an error chain (e.g. "Connection refused (os error 111)").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The rustls error somewhere in `e`'s source chain, if any.
fn find_tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// `a: b: c` from an error and its sources, without repeats.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}
