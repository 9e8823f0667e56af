//! sim — the embedded Proxmox VE API simulator.
//!
//! A faithful fake PVE API server that runs in-process over real HTTPS on loopback. It is used by
//! `pvesh-plus --demo`, by `pvesh-plus sim` and by the integration tests. Its behaviour follows
//! `shared/pve-api/FACTS.md` and the official schema, never our own client: this module must not
//! import `crate::api`, `crate::commands` or `crate::cli` (the two sides are checked against the
//! schema separately, so they cannot drift together).
//!
//! Layout:
//! - `mod.rs`      the public API: [`SimOptions`], [`start`], [`SimHandle`], [`Faults`].
//! - `clock`       the simulated clock (fixed epoch + real elapsed × speed + `advance` + ticks).
//! - `tls`         the self-signed certificate and its fingerprint.
//! - `crypto`      HMAC tickets, CSRF tokens and RFC 6238 TOTP.
//! - `params`      the parameter-spec mini-language and PVE-style validation.
//! - `perms`       built-in roles, ACLs and privilege checks.
//! - `state`       the cluster state ([`State`]) and its JSON views.
//! - `tasks`       UPIDs, task lifecycles and logs.
//! - `effects`     what a finished task does to the state.
//! - `scenario`    the demo cluster and the generated clusters.
//! - `routes`      the route table (data) and the handlers.
//! - `server`      the HTTP layer: envelope, errors, auth, faults, request log.
//! - `apidoc`      the API viewer's `apidoc.js` generated from the route table.
//!
//! Time. Tasks, tickets, UPIDs and log progress all read one simulated clock, and nothing
//! happens in the background: every request (and [`SimHandle::advance`]) first finishes the
//! tasks that are due. The clock has three drives, chosen by [`SimOptions`]:
//! - wall time: `speed` simulated seconds per real second (`pvesh-plus sim --speed`, default 1);
//! - manual: `speed: 0.0`, the clock moves only by [`SimHandle::advance`] (a test that wants to
//!   see a task running, then done);
//! - logical: `tick: T` moves the clock by `T` simulated seconds at every HTTP request, before
//!   the request is handled. A client that waits for a task polls its status, each poll moves
//!   the clock, and the task ends after `ceil(duration / T)` requests, with no wall time
//!   passing. With `speed: 0.0` too ([`SimOptions::logical`], what the integration tests use)
//!   the simulated time of each request depends only on how many requests came before it, so
//!   UPIDs, start and end times and task outcomes are the same on every run, however loaded the
//!   machine is, as long as the client sends its requests in the same order (requests sent
//!   concurrently, e.g. by a parallel commit, are timed in the order they arrive). [`LOGICAL_TICK`] is 5 s: most tasks (1-5 s) end by the first status poll, the
//!   longest (vzdump, 8 s) by the second, a created VM's agent (15 s of boot) answers by the
//!   third request after its start, a TOTP code stays valid across a login, and a 2 h ticket
//!   lasts 1440 requests. A client that backs off between polls therefore waits little wall
//!   time. `--demo` runs on it too (`pvesh-plus sim --speed 0 --tick 5` for other clients).
//!
//! Observing requests. Tests count what the simulator received with
//! [`SimHandle::mutating_count`], [`SimHandle::mutating_counts`] and [`SimHandle::count`], and
//! wait for a request without polling with [`SimHandle::answered`],
//! [`SimHandle::mutating_answered`] and [`SimHandle::wait_for_state`].

mod apidoc;
mod clock;
pub mod console;
mod crypto;
mod effects;
mod guest_config;
mod ha_maintenance;
mod params;
mod perms;
pub mod routes;
pub mod scenario;
mod server;
mod state;
mod tasks;
mod tls;
pub mod upload;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::secret::Secret;

pub use crypto::totp_code;
pub use perms::{AclEntry, ROLES};
pub use scenario::{DEMO_TFA_SECRET, Scenario};
pub use state::{
    ApiToken, Guest, GuestKind, Node, Pool, Snapshot, State, Storage, Task, User, Volume,
};
pub use tasks::Effect;

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where to listen; default `127.0.0.1:0` (an ephemeral port).
    pub listen: SocketAddr,
    /// Which cluster to simulate.
    pub scenario: Scenario,
    /// Extra or overriding password users, e.g. `("root@pam", pw)`.
    pub users: Vec<(String, Secret)>,
    /// API tokens, e.g. `("root@pam!ci", secret)`; privilege separation off.
    pub tokens: Vec<(String, Secret)>,
    /// Simulated seconds per real second; 0 means wall time does not move the clock (only
    /// [`SimHandle::advance`] and `tick` do).
    pub speed: f64,
    /// The logical clock: simulated seconds every HTTP request moves the clock by before it is
    /// handled; 0 (the default) turns it off. See the module docs and [`SimOptions::logical`].
    pub tick: f64,
    /// The seed all randomness derives from (MACs, generated scenario, fault dice).
    pub seed: u64,
    /// Injected faults; default none.
    pub faults: Faults,
    /// Told every request as it is logged (`pvesh-plus sim --log-requests` prints them).
    pub request_tap: Option<std::sync::mpsc::Sender<RequestRecord>>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            scenario: Scenario::Demo,
            users: Vec::new(),
            tokens: Vec::new(),
            speed: 1.0,
            tick: 0.0,
            seed: 0x5eed,
            faults: Faults::default(),
            request_tap: None,
        }
    }
}

/// The tick of [`SimOptions::logical`]: five simulated seconds per request.
pub const LOGICAL_TICK: f64 = 5.0;

impl SimOptions {
    /// The deterministic clock: no wall time (`speed: 0.0`), [`LOGICAL_TICK`] simulated seconds
    /// per request; the rest as [`SimOptions::default`].
    pub fn logical() -> SimOptions {
        SimOptions {
            speed: 0.0,
            tick: LOGICAL_TICK,
            ..SimOptions::default()
        }
    }
}

/// Faults injected into the simulator, applied deterministically from the seed.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every response.
    pub latency_ms: u64,
    /// Fraction of API requests answered 500 "simulated failure" (never `/access/ticket`).
    pub error_rate: f64,
    /// Fraction of requests whose connection is closed without a response.
    pub drop_rate: f64,
    /// Tasks whose type matches this regex end with exit status "simulated task failure".
    pub fail_tasks: Option<String>,
    /// Overrides the 2 h ticket lifetime.
    pub ticket_lifetime_secs: Option<i64>,
    /// Routes answered as a server without them answers (older PVE versions lack some):
    /// `"GET /cluster/tasks"`, `"GET /nodes/{node}/qemu/{vmid}/pending"` — a method and a route
    /// template of the simulator's table, answered 501 "Method '... ' not implemented" like any
    /// unknown path.
    pub missing_routes: Vec<String>,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up TLS for the simulator: {0}")]
    Tls(String),
    #[error("invalid simulator option: {0}")]
    Option(String),
}

/// One request the simulator served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// The path as requested, without the query string.
    pub path: String,
    /// The route template that answered (e.g. `/cluster/resources`), or the path when none did.
    pub template: String,
    /// The HTTP status sent; 0 when the drop fault closed the connection instead.
    pub status: u16,
}

impl RequestRecord {
    /// A request that may change something: any method but GET, except logins
    /// (`POST /access/ticket`).
    pub fn is_mutating(&self) -> bool {
        self.method != "GET" && !(self.method == "POST" && self.template == "/access/ticket")
    }
}

/// How many requests the request log keeps (the latest); older ones are dropped, so a
/// simulator that runs for days stays the same size. Counts and waits see these.
pub const REQUEST_LOG_CAP: usize = 20_000;

/// Everything behind the server's lock.
pub(crate) struct Shared {
    pub state: State,
    pub faults: Faults,
    pub tap: Option<std::sync::mpsc::Sender<RequestRecord>>,
    /// The latest [`REQUEST_LOG_CAP`] requests.
    pub log: std::collections::VecDeque<RequestRecord>,
    /// Requests logged since the start (the log's older ones included).
    pub logged: usize,
    /// The paths of the latest requests received, noted before any injected latency (a test
    /// waits on it to know a slow request is on its way); at most [`REQUEST_LOG_CAP`].
    pub arrivals: std::collections::VecDeque<String>,
    pub dice: u64,
}

impl Shared {
    /// Adds a request to the log, dropping the oldest beyond the cap; returns how many
    /// requests were logged since the start.
    pub(crate) fn log_request(&mut self, record: RequestRecord) -> usize {
        if self.log.len() >= REQUEST_LOG_CAP {
            self.log.pop_front();
        }
        if let Some(tap) = &self.tap {
            let _ = tap.send(record.clone());
        }
        self.log.push_back(record);
        self.logged += 1;
        self.logged
    }

    pub(crate) fn note_arrival(&mut self, path: &str) {
        if self.arrivals.len() >= REQUEST_LOG_CAP {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(path.to_string());
    }
}

/// A running simulator. Cloning gives another handle to the same server.
///
/// For tests, besides its address and credentials:
/// - time: [`SimHandle::now`], [`SimHandle::advance`] (see the module docs for the clocks);
/// - state: [`SimHandle::with_state`], and [`SimHandle::wait_for_state`] to wait for a condition;
/// - requests: [`SimHandle::request_log`], [`SimHandle::count`] (one method and route template),
///   [`SimHandle::mutating_count`], [`SimHandle::mutating_requests`] and
///   [`SimHandle::mutating_counts`] (per method and template) for the mutating ones (not GET, not
///   a login: [`RequestRecord::is_mutating`]), and [`SimHandle::answered`] /
///   [`SimHandle::mutating_answered`] to wait, without polling, until the Nth request matching a
///   predicate has been answered (e.g. to kill a client in the middle of a commit);
/// - faults: [`SimHandle::set_faults`].
#[derive(Clone)]
pub struct SimHandle {
    addr: SocketAddr,
    fingerprint: String,
    cert_pem: String,
    credentials: Vec<(String, Secret)>,
    pub(crate) shared: Arc<Mutex<Shared>>,
    pub(crate) clock: Arc<clock::Clock>,
    /// The number of requests answered so far; bumped after each one is logged.
    answered: Arc<tokio::sync::watch::Sender<usize>>,
    shutdown: Arc<tokio::sync::Notify>,
    done: Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Binds, spawns the server on the current tokio runtime and returns once it is listening.
pub async fn start(opts: SimOptions) -> Result<SimHandle, SimError> {
    if !(opts.speed >= 0.0 && opts.speed.is_finite()) {
        return Err(SimError::Option(format!(
            "speed must be a finite number >= 0, got {}",
            opts.speed
        )));
    }
    if !(opts.tick >= 0.0 && opts.tick.is_finite()) {
        return Err(SimError::Option(format!(
            "tick must be a finite number >= 0, got {}",
            opts.tick
        )));
    }
    let fail_tasks = compile_fail_tasks(&opts.faults)?;
    check_missing_routes(&opts.faults)?;
    let clock = Arc::new(clock::Clock::new(opts.speed, opts.tick));
    let answered = Arc::new(tokio::sync::watch::Sender::new(0usize));
    let cert = tls::SelfSigned::generate()?;
    let mut state =
        scenario::build(&opts.scenario, opts.seed).map_err(|e| SimError::Option(e.to_string()))?;
    for node in &mut state.nodes {
        node.ssl_fingerprint = cert.fingerprint.clone();
    }
    let root_pw = Secret::new(crypto::random_token(16));
    state.set_password("root@pam", root_pw);
    for (user, pw) in &opts.users {
        state.set_password(user, pw.clone());
    }
    for (token, secret) in &opts.tokens {
        state
            .add_api_token(token, secret.clone())
            .map_err(SimError::Option)?;
    }
    let credentials = state.password_credentials();
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: opts.listen,
        source,
    })?;
    state.fail_tasks = fail_tasks;
    let shared = Arc::new(Mutex::new(Shared {
        state,
        faults: opts.faults.clone(),
        tap: opts.request_tap.clone(),
        log: Default::default(),
        logged: 0,
        arrivals: Default::default(),
        dice: opts.seed,
    }));
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let server = server::Server {
        shared: shared.clone(),
        clock: clock.clone(),
        keys: Arc::new(crypto::Keys::generate()),
        answered: answered.clone(),
    };
    let acceptor = cert.acceptor()?;
    let join = tokio::spawn(server::serve(listener, acceptor, server, shutdown.clone()));
    Ok(SimHandle {
        addr,
        fingerprint: cert.fingerprint,
        cert_pem: cert.cert_pem,
        credentials,
        shared,
        clock,
        answered,
        shutdown,
        done: Arc::new(tokio::sync::Mutex::new(Some(join))),
    })
}

/// Each of `missing_routes` must be `METHOD /template` of a route the simulator has.
fn check_missing_routes(faults: &Faults) -> Result<(), SimError> {
    let table = routes::table().map_err(SimError::Option)?;
    for entry in &faults.missing_routes {
        let known = entry.split_once(' ').is_some_and(|(method, path)| {
            table
                .iter()
                .any(|c| c.route.method == method && c.route.path == path)
        });
        if !known {
            return Err(SimError::Option(format!(
                "missing route '{entry}' is not a route of the simulator; give METHOD and the \
                 template, e.g. 'GET /cluster/tasks' or 'GET /nodes/{{node}}/qemu/{{vmid}}/pending'"
            )));
        }
    }
    Ok(())
}

fn compile_fail_tasks(faults: &Faults) -> Result<Option<regex::Regex>, SimError> {
    match &faults.fail_tasks {
        None => Ok(None),
        Some(re) => regex::Regex::new(re)
            .map(Some)
            .map_err(|e| SimError::Option(format!("fail_tasks is not a valid regex: {e}"))),
    }
}

impl SimHandle {
    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// SHA-256 of the DER certificate, upper-case hex with colons (like PVE's `ssl_fingerprint`).
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// The self-signed certificate in PEM.
    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// The password users the simulator accepts (root@pam and the demo users included).
    pub fn credentials(&self) -> Vec<(String, Secret)> {
        self.credentials.clone()
    }

    /// The requests served so far, in order (the latest [`REQUEST_LOG_CAP`]).
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.lock().log.iter().cloned().collect()
    }

    /// How many requests were served since the start (also those the log no longer holds).
    pub fn requests_served(&self) -> usize {
        self.lock().logged
    }

    /// How many requests hit `template` with `method`.
    pub fn count(&self, method: &str, template: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.template == template)
            .count()
    }

    /// How many mutating requests (see [`RequestRecord::is_mutating`]: not GET, not a login)
    /// the simulator received, whatever their answer.
    pub fn mutating_count(&self) -> usize {
        self.lock().log.iter().filter(|r| r.is_mutating()).count()
    }

    /// The mutating requests received so far, in order.
    pub fn mutating_requests(&self) -> Vec<RequestRecord> {
        self.lock()
            .log
            .iter()
            .filter(|r| r.is_mutating())
            .cloned()
            .collect()
    }

    /// The mutating requests received so far, counted per `(method, route template)`, e.g.
    /// `("POST", "/nodes/{node}/qemu/{vmid}/snapshot") => 2`.
    pub fn mutating_counts(&self) -> BTreeMap<(String, String), usize> {
        let mut counts = BTreeMap::new();
        for r in self.lock().log.iter().filter(|r| r.is_mutating()) {
            *counts
                .entry((r.method.clone(), r.template.clone()))
                .or_insert(0) += 1;
        }
        counts
    }

    /// Waits until `n` requests (n >= 1) for which `matches` holds have been answered, and
    /// returns the `n`th. "Answered" means its handler has run (its effect on the state is
    /// done), it is in the request log, and its response is being sent: the client may not have
    /// read it yet. Returns at once if that already happened. It waits on a notification the
    /// server sends after each request, never by polling; wrap it in `tokio::time::timeout` to
    /// bound it.
    pub async fn answered(
        &self,
        n: usize,
        matches: impl Fn(&RequestRecord) -> bool,
    ) -> RequestRecord {
        let mut rx = self.answered.subscribe();
        loop {
            let found = self
                .lock()
                .log
                .iter()
                .filter(|r| matches(r))
                .nth(n.saturating_sub(1))
                .cloned();
            if let Some(r) = found {
                return r;
            }
            if rx.changed().await.is_err() {
                // The sender lives in this handle, so this cannot happen; never return early.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Waits until `n` requests for `path` have been received (noted when they arrive, before
    /// any injected latency or handling): a test knows a slow request is on its way.
    pub async fn arrived(&self, n: usize, path: &str) {
        let mut rx = self.answered.subscribe();
        while self.lock().arrivals.iter().filter(|p| *p == path).count() < n {
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// [`SimHandle::answered`] over the mutating requests only: waits for the `n`th mutating
    /// request for which `matches` holds, e.g.
    /// `sim.mutating_answered(2, |r| r.template.ends_with("/snapshot")).await`.
    pub async fn mutating_answered(
        &self,
        n: usize,
        matches: impl Fn(&RequestRecord) -> bool,
    ) -> RequestRecord {
        self.answered(n, |r| r.is_mutating() && matches(r)).await
    }

    /// Waits until `f` returns `Some` on the cluster state, checking once now and again after
    /// every answered request (the only moments the state changes, besides `advance`), never
    /// by polling. `f` runs under the state lock: keep it short.
    pub async fn wait_for_state<R>(&self, mut f: impl FnMut(&mut State) -> Option<R>) -> R {
        let mut rx = self.answered.subscribe();
        loop {
            if let Some(r) = self.with_state(&mut f) {
                return r;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Replaces the injected faults. An invalid `fail_tasks` regex is ignored (no task fails).
    pub fn set_faults(&self, faults: Faults) {
        let compiled = compile_fail_tasks(&faults).ok().flatten();
        let mut shared = self.lock();
        shared.state.fail_tasks = compiled;
        shared.faults = faults;
    }

    /// Runs a command on a simulated node's shell, as `ssh root@NODE ARGV...` would: only
    /// `ha-manager crm-command node-maintenance enable|disable NODE` (PVE 9.1 has no API call
    /// for maintenance mode). Returns what it printed, or its error.
    pub fn node_command(&self, argv: &[String]) -> Result<String, String> {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (enable, node) = match words.as_slice() {
            ["ha-manager", "crm-command", "node-maintenance", verb, node] => match *verb {
                "enable" => (true, *node),
                "disable" => (false, *node),
                other => return Err(format!("unknown command 'node-maintenance {other}'")),
            },
            _ => {
                return Err(format!(
                    "{}: the simulated node runs only `ha-manager crm-command node-maintenance`",
                    words.first().copied().unwrap_or("")
                ));
            }
        };
        let now = self.clock.now_f64();
        let said = self.lock().state.node_maintenance(node, enable, now)?;
        self.answered.send_modify(|_| {});
        Ok(said.join("\n"))
    }

    /// Moves the simulated clock forward; tasks due by then finish on the next request.
    pub fn advance(&self, secs: f64) {
        self.clock.advance(secs);
        let now = self.clock.now_f64();
        self.lock().state.run_due_tasks(now);
    }

    /// The simulated unix time.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Runs `f` on the cluster state (after finishing the tasks that are due).
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let now = self.clock.now_f64();
        let mut shared = self.lock();
        shared.state.run_due_tasks(now);
        f(&mut shared.state)
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.shutdown.notify_waiters();
        self.shutdown.notify_one();
        if let Some(join) = self.done.lock().await.take() {
            let _ = join.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock_shared(&self.shared)
    }
}

/// Locks the shared state, recovering from a poisoned lock (a panicking handler must not wedge
/// the simulator for every later request).
pub(crate) fn lock_shared(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_log_is_bounded_and_counts_all() {
        let mut shared = Shared {
            state: State::default(),
            faults: Faults::default(),
            tap: None,
            log: Default::default(),
            logged: 0,
            arrivals: Default::default(),
            dice: 0,
        };
        let total = 3 * REQUEST_LOG_CAP + 7;
        for i in 0..total {
            let path = format!("/api2/json/nodes/n{i}");
            shared.note_arrival(&path);
            let logged = shared.log_request(RequestRecord {
                method: "GET".into(),
                path,
                template: "/nodes/{node}".into(),
                status: 200,
            });
            assert_eq!(logged, i + 1);
            assert!(shared.log.len() <= REQUEST_LOG_CAP);
            assert!(shared.arrivals.len() <= REQUEST_LOG_CAP);
        }
        assert_eq!(shared.log.len(), REQUEST_LOG_CAP);
        assert_eq!(shared.arrivals.len(), REQUEST_LOG_CAP);
        assert_eq!(
            shared.log.back().map(|r| r.path.as_str()),
            Some(format!("/api2/json/nodes/n{}", total - 1).as_str()),
            "the latest are kept"
        );
    }
}
