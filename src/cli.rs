//! The command line: argv, the runtime, how the session is connected (the embedded demo
//! simulator or a configured cluster), and the three ways lines arrive — interactive, `-c LINE`,
//! and `-f FILE` (or standard input when it is not a terminal). Exit codes are decided by
//! [`crate::error::Error::exit_code`]; this module only passes them on.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::{Auth, Client, ConnectOptions, TfaPrompt, TlsMode};
use crate::config::{AuthSettings, Config, TlsSettings};
use crate::error::{Error, ErrorKind, Result, exit};
use crate::output::run_and_print;
use crate::render::Style;
use crate::render::progress::note;
use crate::secret::Secret;
use crate::session::{Ctx, OutputFormat};
use crate::sim::{self, Scenario, SimHandle, SimOptions};

#[derive(Debug, Parser)]
#[command(
    name = "pvesh-plus",
    version,
    max_term_width = 80,
    about = "pvesh+ — an interactive shell for Proxmox VE clusters",
    after_help = "Exit codes: 0 ok, 1 a command failed, 2 usage or parse error, 3 a commit partly failed\n\
                  (or a run ended inside a confirm window and rolled back), 4 refused by policy,\n\
                  5 a -f or standard-input batch ended with changes still pending (kept, not applied),\n\
                  6 needs a person's approval (or the approval is expired, changed or unknown),\n\
                  130 interrupted. For scripts and AI agents: pvesh-plus --demo -c 'help agents'.\n\n\
                  Try it without a cluster: pvesh-plus --demo"
)]
pub struct Cli {
    #[command(subcommand)]
    pub sub: Option<Sub>,
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Debug, Args)]
pub struct SessionArgs {
    /// Start the embedded simulated cluster and connect to it.
    #[arg(long)]
    pub demo: bool,
    /// Connect to the demo cluster a running `pvesh-plus mcp --demo` shares, e.g. to approve
    /// what an agent staged there: pvesh-plus --join-demo approve ID
    #[arg(long, conflicts_with_all = ["demo", "url", "cluster"])]
    pub join_demo: bool,
    /// Run one line and exit.
    #[arg(short = 'c', value_name = "LINE", conflicts_with = "file")]
    pub command: Option<String>,
    /// Run the lines of a file (`#` comments); stops at the first error.
    #[arg(short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// With -f or standard input: go on after a failing line.
    #[arg(long)]
    pub keep_going: bool,
    /// The server: https://HOST:PORT, HOST:PORT or HOST (port 8006).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The cluster to use from the config file; several (`a,b`): each line's first read runs
    /// on all of them, merged, with a `cluster` field (the first one is current).
    #[arg(long, value_name = "NAME[,NAME]")]
    pub cluster: Option<String>,
    /// Every line's first read runs on every cluster of the config, merged (see --cluster).
    #[arg(long, conflicts_with_all = ["cluster", "demo", "url"])]
    pub all_clusters: bool,
    /// The config file (default: ~/.config/pvesh-plus/cluster-config.yaml; with --demo, a built-in policy).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Accept any server certificate (prints a warning).
    #[arg(long)]
    pub insecure: bool,
    /// Pin the server certificate's SHA-256 fingerprint (AA:BB:... as PVE shows it).
    #[arg(long, value_name = "SHA256")]
    pub fingerprint: Option<String>,
    /// Trust this CA (PEM) for the server certificate.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Print every result as JSON (same as -o json).
    #[arg(long)]
    pub json: bool,
    /// Output format: table, json, yaml, csv, md.
    #[arg(short = 'o', long = "output", value_name = "FORMAT")]
    pub output: Option<String>,
    /// Never page long output (default on a terminal: $PVESH_PLUS_PAGER, $PAGER, less -FRX).
    #[arg(long)]
    pub no_pager: bool,
    /// With --demo: generate this many guests instead of the demo cluster.
    #[arg(long, value_name = "N", requires = "demo")]
    pub guests: Option<usize>,
    /// With --demo and --guests: spread them over this many nodes.
    #[arg(long, value_name = "N", requires = "guests")]
    pub nodes: Option<usize>,
    /// With --demo: delay every simulated answer by this many milliseconds (to try a slow link).
    #[arg(long, value_name = "MS", requires = "demo")]
    pub sim_latency: Option<u64>,
    /// With -c, -f or standard input: at the end, ask a person to approve what is pending
    /// instead of leaving it (prints the approval id with the plan; see `help agents`).
    #[arg(long)]
    pub request_approval: bool,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Run the PVE API simulator on its own, for other clients (proxmoxer, curl, ...).
    Sim(SimArgs),
    /// Serve the Model Context Protocol on standard input and output, for AI agents: the same
    /// session, config and policy as the shell; destructive changes need a human's approval.
    Mcp(McpArgs),
    /// Approve a request a script or agent made: shows its plan and diff, asks, then applies it
    /// (needs a terminal). Connection options go before it: pvesh-plus --cluster lab approve ID
    Approve {
        /// The approval id (`approvals` lists them).
        id: String,
    },
    /// Reject a request a script or agent made (the plan stays pending).
    Reject {
        /// The approval id.
        id: String,
    },
    /// List the approval requests waiting for a person (with an id: its plan and diff).
    Approvals {
        /// An approval id.
        id: Option<String>,
    },
    /// Answer as an Ansible inventory script (`export ansible`): a two-line script that runs
    /// `exec pvesh-plus --cluster lab inventory "$@"` is one for `ansible -i`.
    Inventory {
        /// Print the whole inventory (what Ansible asks first).
        #[arg(long, conflicts_with = "host")]
        list: bool,
        /// Print one host's variables.
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub session: SessionArgs,
    /// Let the `run` tool use commands that change the cluster (policy and staging still
    /// apply); by default it is read-only.
    #[arg(long)]
    pub allow_run_writes: bool,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8006")]
    pub listen: std::net::SocketAddr,
    /// A password user (default root@pam).
    #[arg(long, default_value = "root@pam")]
    pub user: String,
    /// That user's password (default: a random one, printed).
    #[arg(long)]
    pub password: Option<String>,
    /// An API token: USER@REALM!NAME=SECRET (repeatable).
    #[arg(long, value_name = "ID=SECRET")]
    pub token: Vec<String>,
    /// Generate this many guests instead of the demo cluster.
    #[arg(long)]
    pub guests: Option<usize>,
    /// Spread generated guests over this many nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Simulated seconds per real second for tasks (0: wall time does not move the clock).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Simulated seconds each API request moves the clock by (a logical clock: tasks progress
    /// as clients poll them; with --speed 0 every run is reproducible).
    #[arg(long, default_value_t = 0.0)]
    pub tick: f64,
    /// Seed for generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Answer this route 501 "not implemented", as a PVE version without it does: METHOD and
    /// the route template, e.g. 'GET /cluster/tasks' (repeatable).
    #[arg(long, value_name = "'METHOD /PATH'")]
    pub missing_route: Vec<String>,
    /// Print a line for every request answered: `request: METHOD PATH STATUS`.
    #[arg(long)]
    pub log_requests: bool,
}

/// Parses argv, runs, and returns the process exit code.
pub fn main() -> i32 {
    let json = argv_wants_json(std::env::args().skip(1));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return exit::OK;
            }
            if json {
                crate::output::print_error_as(&clap_error(&e), None, OutputFormat::Json);
            } else {
                let _ = e.print();
            }
            return exit::USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::FAILED;
        }
    };
    let result = runtime.block_on(async {
        match cli.sub {
            Some(Sub::Sim(args)) => run_sim(args).await,
            Some(Sub::Mcp(args)) => run_mcp(args).await,
            Some(Sub::Approve { id }) => run_approve(cli.session, &id).await,
            Some(Sub::Reject { id }) => run_one_line(cli.session, &format!("reject {id}")).await,
            Some(Sub::Approvals { id }) => {
                let line = match id {
                    Some(id) => format!("approvals {id}"),
                    None => "approvals".to_string(),
                };
                run_one_line(cli.session, &line).await
            }
            Some(Sub::Inventory { list, host }) => match (list, host) {
                (_, Some(host))
                    if !host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) =>
                {
                    Err(
                        Error::usage(format!("inventory --host: '{host}' is not a guest name"))
                            .hinted(
                                "a name as `export ansible` lists them: letters, digits, . _ -",
                            ),
                    )
                }
                (_, Some(host)) => {
                    run_one_line(cli.session, &format!("export ansible --host {host}")).await
                }
                (true, None) => run_one_line(cli.session, "export ansible").await,
                (false, None) => Err(Error::usage("inventory: --list or --host NAME?")
                    .hinted("as Ansible asks an inventory script: pvesh-plus inventory --list")),
            },
            None => run_session(cli.session).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            let format = if json {
                OutputFormat::Json
            } else {
                OutputFormat::Table
            };
            crate::output::print_error_as(&e, None, format);
            e.exit_code()
        }
    }
}

/// True when the arguments ask for JSON (`--json`, `-o json`, `--output json`, `-ojson`,
/// `--output=json`): read before parsing, so that a command line that does not parse still
/// gets its error as JSON.
pub fn argv_wants_json(args: impl Iterator<Item = String>) -> bool {
    let args: Vec<String> = args.collect();
    args.iter().enumerate().any(|(i, a)| match a.as_str() {
        "--json" | "-ojson" | "--output=json" => true,
        "-o" | "--output" => args.get(i + 1).is_some_and(|v| v == "json"),
        _ => false,
    })
}

/// A command-line parse error as the one user-facing error: its first line as the message,
/// the usage line as a hint.
fn clap_error(e: &clap::Error) -> Error {
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("bad arguments");
    let mut err = Error::usage(first.strip_prefix("error: ").unwrap_or(first));
    for line in lines {
        if line.starts_with("Usage:") || line.starts_with("tip:") {
            err = err.hinted(line);
        }
    }
    err.hinted("`pvesh-plus --help` lists the options")
}

async fn run_sim(args: SimArgs) -> Result<i32> {
    let password = Secret::new(args.password.unwrap_or_else(random_password));
    let mut tokens = Vec::new();
    for t in &args.token {
        let (id, secret) = t.rsplit_once('=').ok_or_else(|| {
            Error::usage(format!(
                "--token needs USER@REALM!NAME=SECRET, got '{}'",
                redact_token(t)
            ))
        })?;
        if !id.contains('!') || !id.contains('@') {
            return Err(Error::usage(format!(
                "--token id '{id}' must look like root@pam!name"
            )));
        }
        tokens.push((id.to_string(), Secret::new(secret)));
    }
    let scenario = match args.guests {
        Some(guests) => Scenario::Generated {
            guests,
            nodes: args.nodes,
        },
        None => Scenario::Demo,
    };
    let opts = SimOptions {
        listen: args.listen,
        scenario,
        users: vec![(args.user.clone(), password.clone())],
        tokens: tokens.clone(),
        speed: args.speed,
        tick: args.tick,
        seed: args.seed,
        faults: sim::Faults {
            missing_routes: args.missing_route.clone(),
            ..sim::Faults::default()
        },
        request_tap: None,
    };
    let mut opts = opts;
    if args.log_requests {
        let (tx, rx) = std::sync::mpsc::channel::<sim::RequestRecord>();
        opts.request_tap = Some(tx);
        std::thread::spawn(move || {
            for r in rx {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "request: {} {} {}", r.method, r.path, r.status);
                let _ = stdout.flush();
            }
        });
    }
    let handle = sim::start(opts).await.map_err(|e| match e {
        sim::SimError::Option(m) => Error::usage(m),
        e => Error::new(ErrorKind::Internal, e.to_string()),
    })?;
    // A reader that goes away (a closed pipe) must not take the simulator down with it.
    let banner = {
        let mut b = format!(
            "pvesh+ simulator listening on {}\ncertificate fingerprint (SHA-256): {}\nuser: {}  password: {}\n",
            handle.url(),
            handle.fingerprint(),
            args.user,
            password.expose()
        );
        for (id, secret) in &tokens {
            b.push_str(&format!("token: {id}  secret: {}\n", secret.expose()));
        }
        b.push_str(&format!(
            "example: curl -k -d username={} -d password=... {}/api2/json/access/ticket\npress Ctrl-C to stop\n",
            args.user,
            handle.url()
        ));
        b
    };
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(banner.as_bytes());
    let _ = stdout.flush();
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(exit::OK)
}

fn redact_token(t: &str) -> String {
    match t.rsplit_once('=') {
        Some((id, _)) => format!("{id}=<redacted>"),
        None => t.to_string(),
    }
}

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A connected session: the command context and, for `--demo`, the simulator behind it.
struct Session {
    ctx: Ctx,
    config: Config,
    /// Which cluster this is, for the pending buffer and the confirm window.
    identity: crate::staging::ClusterIdentity,
    _sim: Option<SimHandle>,
    banner: String,
    /// A demo's simulator, as `mcp --demo` shares it with `--join-demo`.
    demo: Option<crate::mcp::share::SharedDemo>,
}

async fn connect(args: &SessionArgs) -> Result<Session> {
    if args.demo {
        return connect_demo(args).await;
    }
    if args.join_demo {
        return join_demo(args).await;
    }
    let mut config = Config::load(args.config.as_deref())?;
    config.quotas.apply_env(&|name| std::env::var(name).ok())?;
    let set = cluster_set(args, &config)?;
    let mut session = connect_to(&config, set.first().map(String::as_str), Some(args)).await?;
    if set.len() > 1 {
        session.ctx.contexts.default_set = set;
    }
    Ok(session)
}

/// The clusters `--cluster a,b` or `--all-clusters` name, the current one first; empty for the
/// config's default.
fn cluster_set(args: &SessionArgs, config: &Config) -> Result<Vec<String>> {
    if args.all_clusters {
        let mut names: Vec<String> = config.clusters.keys().cloned().collect();
        if names.is_empty() {
            return Err(
                Error::usage("--all-clusters: the config names no clusters").hinted(format!(
                    "add them under `clusters:` in {}",
                    config.where_to_change()
                )),
            );
        }
        // The default cluster, when there is one, is the current one.
        if let Some(default) = config.default_cluster_name()
            && let Some(i) = names.iter().position(|n| n == default)
        {
            let d = names.remove(i);
            names.insert(0, d);
        }
        return Ok(names);
    }
    let Some(list) = &args.cluster else {
        return Ok(Vec::new());
    };
    let names: Vec<String> = list
        .split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() > 1 && args.url.is_some() {
        return Err(
            Error::usage("--url names one server: it cannot go with several clusters")
                .hinted("leave --url out: each cluster's nodes come from the config"),
        );
    }
    Ok(names)
}

/// Connects to one cluster of the config. `args` carries the command line's overrides (`--url`,
/// certificate flags) and lets PROXMOX_* variables apply: those are for the cluster the run
/// starts on, not for others it switches to (`context use`), which come from the file alone.
async fn connect_to(
    config: &Config,
    cluster: Option<&str>,
    args: Option<&SessionArgs>,
) -> Result<Session> {
    // `--url` names the server: it stands in for PROXMOX_HOST/PROXMOX_PORT (and so beats the file).
    let url_parts = args.and_then(|a| a.url.as_deref()).map(host_and_port);
    let from_env = args.is_some();
    let env = |name: &str| match (name, &url_parts) {
        ("PROXMOX_HOST", Some((host, _))) => Some(host.clone()),
        ("PROXMOX_PORT", Some((_, Some(port)))) => Some(port.clone()),
        _ if !from_env && name.starts_with("PROXMOX_") => None,
        _ => std::env::var(name).ok(),
    };
    let settings = config.connection(cluster, &env)?;
    for warning in &settings.warnings {
        note(&format!("warning: {warning}"));
    }
    let url = match args.and_then(|a| a.url.as_ref()) {
        Some(u) => u.clone(),
        None => format!("https://{}:{}", settings.host, settings.port),
    };
    let tls = match args {
        Some(a) if a.insecure => TlsMode::Insecure,
        Some(SessionArgs {
            fingerprint: Some(fp),
            ..
        }) => TlsMode::Fingerprint(fp.clone()),
        Some(SessionArgs { ca: Some(ca), .. }) => TlsMode::CaFile(ca.clone()),
        _ => match &settings.tls {
            TlsSettings::System => TlsMode::System,
            TlsSettings::CaFile(p) => TlsMode::CaFile(p.clone()),
            TlsSettings::Fingerprint(f) => TlsMode::Fingerprint(f.clone()),
            TlsSettings::Insecure => TlsMode::Insecure,
        },
    };
    // Insecure from the file or PROXMOX_VERIFY_SSL has been warned about with the settings'
    // warnings already: warn once.
    if matches!(tls, TlsMode::Insecure) && settings.tls != TlsSettings::Insecure {
        note(
            "warning: TLS certificate checks are off (--insecure): anyone on the path can read your credentials; \
             pin the fingerprint instead (--fingerprint, shown by `nodes` or the PVE web UI)",
        );
    }
    let auth = match &settings.auth {
        AuthSettings::Token { token_id, secret } => Auth::Token {
            tokenid: token_id.clone(),
            secret: secret.clone(),
        },
        AuthSettings::Password {
            user,
            password,
            totp,
        } => Auth::Password {
            username: user.clone(),
            password: password.clone(),
            otp: totp.clone(),
        },
        AuthSettings::None => {
            return Err(Error::new(ErrorKind::Config, "no credentials: nothing says how to log in")
                .hinted("set PROXMOX_TOKEN_ID and PROXMOX_TOKEN_SECRET (or PROXMOX_USER and PROXMOX_PASSWORD), or add `auth` to the cluster in cluster-config.yaml")
                .hinted("or try the simulated cluster: pvesh-plus --demo"));
        }
    };
    let tfa: Option<Arc<dyn TfaPrompt>> = Some(Arc::new(TerminalTfa));
    let client = Client::connect(ConnectOptions {
        url: url.clone(),
        auth,
        tls,
        timeout: Duration::from_secs(30),
        tfa,
    })
    .await?;
    let banner = format!(
        "pvesh+ connected to {} as {} — type `help`",
        client.base_url(),
        client.username()
    );
    let endpoints: Vec<String> = settings
        .endpoints
        .iter()
        .map(|e| format!("{}:{}", e.host, e.port))
        .collect();
    Ok(Session {
        ctx: Ctx::new(client, settings.cluster.clone()),
        config: config.clone(),
        identity: crate::staging::ClusterIdentity::cluster(&settings.cluster, &endpoints),
        _sim: None,
        banner,
        demo: None,
    })
}

/// The host and port of `https://host:port/...`, `host:port` or `host` (IPv6 in brackets kept).
fn host_and_port(url: &str) -> (String, Option<String>) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(end) = authority.find(']') {
        let host = authority[..=end].to_string();
        let port = authority[end + 1..].strip_prefix(':').map(str::to_string);
        return (host, port);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), Some(p.to_string())),
        None => (authority.to_string(), None),
    }
}

/// Asks for a TOTP code on the terminal, without echo into history.
struct TerminalTfa;

impl TfaPrompt for TerminalTfa {
    fn totp_code(&self) -> std::result::Result<Secret, crate::api::ApiError> {
        if !std::io::stdin().is_terminal() {
            return Err(crate::api::ApiError::Auth {
                message: "the server asks for a TOTP code; set it with PROXMOX_TOTP... or `totp:` in the config for batch runs"
                    .into(),
            });
        }
        eprint!("TOTP code: ");
        let _ = std::io::stderr().flush();
        let mut code = String::new();
        std::io::stdin()
            .read_line(&mut code)
            .map_err(|e| crate::api::ApiError::Auth {
                message: format!("cannot read the TOTP code: {e}"),
            })?;
        Ok(Secret::new(code.trim()))
    }
}

async fn connect_demo(args: &SessionArgs) -> Result<Session> {
    // The policy: `--config FILE` when given (its clusters are not used: the demo connects to
    // its own simulator), else the built-in demo policy; the quotas of the environment (the
    // seed tool's PROXMOX_MAX_*) override the policy's.
    let config = demo_config(args)?;
    let password = Secret::new(random_password());
    let scenario = match args.guests {
        Some(guests) => Scenario::Generated {
            guests,
            nodes: args.nodes.unwrap_or(8),
        },
        None => Scenario::Demo,
    };
    let opts = SimOptions {
        scenario,
        users: vec![("root@pam".to_string(), password.clone())],
        // The logical clock: tasks end as the shell polls them, and a demo run is the same
        // every time (UPIDs, start times), however loaded the machine is.
        speed: 0.0,
        tick: sim::LOGICAL_TICK,
        faults: sim::Faults {
            latency_ms: args.sim_latency.unwrap_or(0),
            ..sim::Faults::default()
        },
        ..SimOptions::default()
    };
    let handle = sim::start(opts)
        .await
        .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
    let shared = crate::mcp::share::SharedDemo {
        url: handle.url(),
        fingerprint: handle.fingerprint(),
        user: "root@pam".into(),
        password: password.expose().to_string(),
        pid: std::process::id(),
    };
    let client = Client::connect(ConnectOptions {
        url: handle.url(),
        auth: Auth::Password {
            username: "root@pam".into(),
            password,
            otp: None,
        },
        tls: TlsMode::Fingerprint(handle.fingerprint()),
        timeout: Duration::from_secs(30),
        tfa: None,
    })
    .await?;
    let mut ctx = Ctx::new(client, "demo");
    let nodes = handle.clone();
    ctx.node_shell = Some(std::sync::Arc::new(move |argv: &[String]| {
        nodes.node_command(argv)
    }));
    let inv = ctx.refresh().await?;
    let banner = format!(
        "pvesh+ demo of {} nodes, {} guests on {}; type `help`",
        inv.nodes().len(),
        inv.guests().len(),
        handle.url()
    );
    Ok(Session {
        ctx,
        config,
        identity: crate::staging::ClusterIdentity::DemoRun,
        _sim: Some(handle),
        banner,
        demo: Some(shared),
    })
}

/// The demo policy (or `--config FILE`) with the environment's quotas, as a demo uses.
fn demo_config(args: &SessionArgs) -> Result<Config> {
    let mut config = match &args.config {
        Some(path) => Config::load(Some(path))?,
        None => Config::demo_policy()?,
    };
    config.quotas.apply_env(&|name| std::env::var(name).ok())?;
    Ok(config)
}

/// `--join-demo`: the demo cluster a running `mcp --demo` shares, with its policy.
async fn join_demo(args: &SessionArgs) -> Result<Session> {
    let config = demo_config(args)?;
    let shared = crate::mcp::share::join()?;
    let client = Client::connect(ConnectOptions {
        url: shared.url.clone(),
        auth: Auth::Password {
            username: shared.user.clone(),
            password: shared.password(),
            otp: None,
        },
        tls: TlsMode::Fingerprint(shared.fingerprint.clone()),
        timeout: Duration::from_secs(30),
        tfa: None,
    })
    .await
    .map_err(|e| {
        Error::from(e).hinted(
            "the `pvesh-plus mcp --demo` that shared it may have ended: start its MCP client again",
        )
    })?;
    let ctx = Ctx::new(client, "demo");
    Ok(Session {
        ctx,
        config,
        identity: shared.identity(),
        _sim: None,
        banner: format!(
            "pvesh+ on the demo cluster of `pvesh-plus mcp --demo` at {}; type `help`",
            shared.url
        ),
        demo: None,
    })
}

/// `pvesh-plus mcp`: connects as a `-c` run does, then serves MCP until the client leaves.
async fn run_mcp(args: McpArgs) -> Result<i32> {
    if args.session.command.is_some() || args.session.file.is_some() {
        return Err(
            Error::usage("mcp takes its calls from the MCP client, not -c or -f").hinted(
                "run `pvesh-plus mcp --demo` (or with --cluster NAME) from the client's config",
            ),
        );
    }
    let mut session = connect(&args.session).await?;
    // A demo's cluster is shared, so that a person can approve from another terminal
    // (`--join-demo`): its plan and approvals then live in files, as a real cluster's.
    let _published = match session.demo.take() {
        Some(shared) => {
            session.identity = shared.identity();
            let published = crate::mcp::share::publish(&shared)?;
            note(
                "pvesh+ MCP server on a demo cluster; a person approves what it stages from \
                 another terminal with `pvesh-plus --join-demo approve ID`",
            );
            Some(published)
        }
        None => None,
    };
    setup_staging(
        &mut session.ctx,
        session.config.clone(),
        &session.identity,
        false,
    )?;
    let options = crate::mcp::Options {
        allow_run_writes: args.allow_run_writes,
    };
    crate::mcp::serve(&mut session.ctx, options).await
}

async fn run_session(args: SessionArgs) -> Result<i32> {
    let format = output_format(&args)?;
    let mut session = connect(&args).await?;
    session.ctx.format = format;
    let interactive =
        args.command.is_none() && args.file.is_none() && std::io::stdin().is_terminal();
    setup_staging(
        &mut session.ctx,
        session.config.clone(),
        &session.identity,
        interactive,
    )?;
    // Long tasks draw progress bars when standard error is a terminal (plain lines otherwise).
    if crate::render::progress::use_terminal() {
        session.ctx.staging.progress = Some(crate::render::progress::task_bars());
    }
    // The other clusters of the config connect when first used (`context use`, `--cluster a,b`).
    if session.demo.is_none() && session._sim.is_none() && !args.join_demo {
        session.ctx.contexts.connector =
            Some(connector(session.config.clone(), format, interactive));
        for line in pending_elsewhere(&session.config, &session.ctx) {
            note(&line);
        }
    }
    let detected = Style::detect();
    let style = Style {
        pager: detected.pager && !args.no_pager,
        ..detected
    };
    if let Some(line) = &args.command {
        let code = run_and_print(&mut session.ctx, line, style, None).await;
        let code = request_approval_at_end(&mut session.ctx, &args, style, code).await;
        return Ok(crate::commands::finish_run(&mut session.ctx, false, code).await);
    }
    if let Some(path) = &args.file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::usage(format!("cannot read {}: {e}", path.display()))
                .hinted("check the path given to -f")
        })?;
        let mut lines = text.lines().map(|l| Ok(l.to_string()));
        let code = run_batch(
            &mut session.ctx,
            &mut lines,
            &path.display().to_string(),
            args.keep_going,
            style,
        )
        .await?;
        let code = request_approval_at_end(&mut session.ctx, &args, style, code).await;
        return Ok(crate::commands::finish_run(&mut session.ctx, true, code).await);
    }
    if !interactive {
        // Lines run as they arrive, so a script can wait for one line's effect before the next.
        let stdin = std::io::stdin();
        let mut lines = std::iter::from_fn(|| {
            let mut buf = String::new();
            match tokio::task::block_in_place(|| stdin.lock().read_line(&mut buf)) {
                Ok(0) => None,
                Ok(_) => Some(Ok(buf.trim_end_matches(['\n', '\r']).to_string())),
                Err(e) => Some(Err(e)),
            }
        });
        let code = run_batch(
            &mut session.ctx,
            &mut lines,
            "<stdin>",
            args.keep_going,
            style,
        )
        .await?;
        let code = request_approval_at_end(&mut session.ctx, &args, style, code).await;
        return Ok(crate::commands::finish_run(&mut session.ctx, true, code).await);
    }
    if args.request_approval {
        eprintln!(
            "warning: --request-approval is for -c, -f and standard input; in the shell, \
             `commit --request-approval` asks for one"
        );
    }
    println!("{}", session.banner);
    if let Some(notice) = crate::commands::restore_notice(&session.ctx) {
        note(&notice);
    }
    let code = crate::shell::run(&mut session.ctx, style).await;
    // Leaving the shell inside a confirm window rolls back, as the end of a batch does.
    Ok(crate::commands::finish_run(&mut session.ctx, false, code).await)
}

/// A line for each other cluster of the config whose plan an earlier session left pending:
/// a session only loads its own cluster's buffer, so say where the others are.
fn pending_elsewhere(config: &Config, ctx: &Ctx) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, cluster) in &config.clusters {
        if *name == ctx.cluster || ctx.contexts.default_set.contains(name) {
            continue;
        }
        // The endpoints as the file gives them (as a session started on that cluster names
        // it); its secrets are not read.
        let endpoints: Vec<String> = cluster
            .nodes
            .iter()
            .map(|e| format!("{}:{}", e.host, e.port))
            .collect();
        let identity = crate::staging::ClusterIdentity::cluster(name, &endpoints);
        let left = crate::staging::PendingBuffer::for_cluster(&identity).map_or(0, |b| b.len());
        if left > 0 {
            lines.push(format!(
                "cluster {name} has {left} change(s) pending from an earlier session: \
                 `context use {name}` then `pending` shows them"
            ));
        }
    }
    lines
}

/// Connects to another cluster of the config and sets its session up as the first one's.
fn connector(config: Config, format: OutputFormat, interactive: bool) -> crate::session::Connector {
    std::rc::Rc::new(move |name: String| {
        let config = config.clone();
        Box::pin(async move {
            let session = connect_to(&config, Some(&name), None).await?;
            let mut ctx = session.ctx;
            ctx.format = format;
            setup_staging(&mut ctx, session.config, &session.identity, interactive)?;
            if crate::render::progress::use_terminal() {
                ctx.staging.progress = Some(crate::render::progress::task_bars());
            }
            Ok(ctx)
        })
    })
}

/// `--request-approval`: after the lines ran well, what is pending is put up for approval
/// (`commit --request-approval`) instead of being left; the run then exits 0 and the plan
/// waits, pending, for a person.
async fn request_approval_at_end(
    ctx: &mut Ctx,
    args: &SessionArgs,
    style: Style,
    code: i32,
) -> i32 {
    if !args.request_approval || code != exit::OK {
        return code;
    }
    if ctx.staging.buffer.is_empty() {
        let e = Error::usage(
            "--request-approval: nothing is pending, so there is nothing to approve",
        )
        .hinted("stage the change in the same run: pvesh-plus -c 'stop web01' --request-approval");
        crate::output::print_error_as(&e, None, ctx.format);
        return e.exit_code();
    }
    run_and_print(ctx, "commit --request-approval", style, None).await
}

/// A session that runs one line (`pvesh-plus reject ID`, `pvesh-plus approvals`).
async fn run_one_line(mut args: SessionArgs, line: &str) -> Result<i32> {
    args.command = Some(line.to_string());
    run_session(args).await
}

/// `pvesh-plus approve ID`: a person at a terminal sees the plan and its diff (re-checked
/// against the cluster), answers, and only then is it applied. Without a terminal it refuses:
/// an agent cannot approve its own request.
async fn run_approve(args: SessionArgs, id: &str) -> Result<i32> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Error::new(
            ErrorKind::Approval,
            "approve needs a person at a terminal: a script or an agent cannot approve a request",
        )
        .hinted(format!("run `pvesh-plus approve {id}` in a terminal")));
    }
    let format = output_format(&args)?;
    let mut session = connect(&args).await?;
    session.ctx.format = format;
    setup_staging(
        &mut session.ctx,
        session.config.clone(),
        &session.identity,
        true,
    )?;
    let style = Style::detect();
    let client = session.ctx.client.clone();
    // The same checks approving makes (plan unchanged, not expired, digests): a request that
    // cannot be approved says so before anyone is asked.
    let request = match session.ctx.staging.check_approval(&client, id).await {
        Ok(r) => r,
        Err(e) => {
            crate::output::print_error_as(&e, None, format);
            return Ok(e.exit_code());
        }
    };
    let now = session.ctx.staging.clock.now(&client).await?;
    eprint!("{}", crate::commands::approval_plan_text(&request));
    eprintln!(
        "the plan is unchanged and no guest changed since; the request expires in {}",
        crate::lang::format_duration(request.seconds_left(now))
    );
    eprint!("apply this plan now? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        eprintln!(
            "not approved: nothing was sent; the request stays until it expires or is rejected"
        );
        return Ok(exit::APPROVAL);
    }
    let code = run_and_print(&mut session.ctx, &format!("approve {id}"), style, None).await;
    Ok(crate::commands::finish_run(&mut session.ctx, false, code).await)
}

fn output_format(args: &SessionArgs) -> Result<OutputFormat> {
    if args.json {
        return Ok(OutputFormat::Json);
    }
    match &args.output {
        None => Ok(OutputFormat::Table),
        Some(name) => OutputFormat::parse(name).ok_or_else(|| {
            Error::usage(format!("unknown output format '{name}'"))
                .hinted(format!("formats: {}", OutputFormat::NAMES.join(", ")))
        }),
    }
}

/// Gives the session its config, its pending buffer (this cluster's, restored from disk with a
/// notice; a demo run's starts empty), its audit log and its clock. Interactive sessions also
/// get a background timer for confirm windows.
fn setup_staging(
    ctx: &mut Ctx,
    config: Config,
    identity: &crate::staging::ClusterIdentity,
    interactive: bool,
) -> Result<()> {
    let cluster = ctx.cluster.clone();
    ctx.staging.buffer = crate::staging::PendingBuffer::for_cluster(identity)?;
    ctx.staging.approvals = crate::staging::ApprovalStore::for_cluster(identity);
    ctx.staging.interactive = interactive;
    ctx.staging.local_user = Some(crate::staging::local_user());
    let audit_path = config.audit.enabled.then(|| config.audit.path.clone());
    ctx.staging.audit = Arc::new(crate::staging::AuditLog::new(
        audit_path,
        &cluster,
        ctx.client.username(),
    ));
    ctx.staging.clock = crate::staging::clock_from_env();
    ctx.staging.confirm = Arc::new(crate::staging::ConfirmWindow::restore(
        identity.state_file("confirm"),
    ));
    if let Some(plan) = ctx.staging.confirm.peek() {
        note(&format!(
            "!!! an earlier session left a confirmed commit unconfirmed ({} guest(s), snapshot {}): \
             type `confirm` to keep it; otherwise it rolls back when its window ends or when this run ends",
            plan.guests.len(),
            plan.snapname
        ));
    }
    if interactive {
        // The line editor holds the terminal in raw mode: end lines with \r\n.
        ctx.staging.timer_notify = Some(Arc::new(|msg: &str| {
            let msg = crate::render::wrap::for_stderr(msg);
            eprint!("\r\n{}\r\n", msg.replace('\n', "\r\n"));
        }));
    } else if let Some(notice) = crate::commands::restore_notice(ctx) {
        note(&notice);
    }
    ctx.set_config(config);
    Ok(())
}

/// Runs the lines of a script: `#` comments and blank lines are skipped; the first failing line
/// stops the run (unless `keep_going`) and its exit code is returned.
async fn run_batch(
    ctx: &mut Ctx,
    lines: &mut dyn Iterator<Item = std::io::Result<String>>,
    name: &str,
    keep_going: bool,
    style: Style,
) -> Result<i32> {
    let mut first_failure = exit::OK;
    for (i, line) in lines.enumerate() {
        let line = line.map_err(|e| Error::usage(format!("cannot read {name}: {e}")))?;
        let line = line.as_str();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let location = format!("{name}:{}", i + 1);
        let code = run_and_print(ctx, line, style, Some(&location)).await;
        if code != exit::OK {
            if first_failure == exit::OK {
                first_failure = code;
            }
            if !keep_going {
                break;
            }
        }
    }
    Ok(first_failure)
}
