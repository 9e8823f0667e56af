//! The session a command runs in: the API client, the cached inventory, the current VM and the
//! output settings.
//!
//! Commands reach the cluster only through [`Ctx::get`] and friends, so every API error becomes
//! the one user-facing error in one place. Progress and notices go through [`Ctx::note`]; the
//! caller decides where they are shown (stderr in the CLI, a buffer in tests).

use serde_json::Value as Json;

pub use crate::api::BoxFuture;
use crate::api::schema::SharedSchema;
use crate::api::{ApiRequest, Client, endpoints};
use crate::error::Result;
use std::sync::Arc;

use crate::config::Config;
use crate::inventory::{Guest, Inventory, SharedInventory};
use crate::staging::StagingState;
use crate::staging::policy::Guard;

/// How the final value of a line is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Yaml,
    Csv,
    Md,
}

impl OutputFormat {
    pub const NAMES: &'static [&'static str] = &["table", "json", "yaml", "csv", "md"];

    pub fn parse(name: &str) -> Option<OutputFormat> {
        Some(match name {
            "table" => OutputFormat::Table,
            "json" => OutputFormat::Json,
            "yaml" => OutputFormat::Yaml,
            "csv" => OutputFormat::Csv,
            "md" | "markdown" => OutputFormat::Md,
            _ => return None,
        })
    }
}

type NoteSink = Box<dyn FnMut(&str)>;

/// Runs a command on a node, as `ssh root@NODE ARGV...` would, and returns what it printed.
pub type NodeShell = std::sync::Arc<dyn Fn(&[String]) -> Result<String, String> + Send + Sync>;

pub struct Ctx {
    pub client: Client,
    /// The cluster's name as the user knows it (`demo`, `homelab`), for the prompt and the audit log.
    pub cluster: String,
    /// The current VM (`use NAME`), by VMID.
    pub current: Option<u32>,
    /// The current node (`use node NAME`).
    pub current_node: Option<String>,
    /// The current API path for `cd`/`pwd`/`ls PATH`, always absolute.
    pub cwd: String,
    pub format: OutputFormat,
    /// The configuration (policy, protected and read-only guests, quotas, profiles); for
    /// `--demo` its `--config` or the built-in demo policy. Set it with [`Ctx::set_config`].
    pub config: Config,
    /// The nodes' shell for what PVE has no API call for (`maintenance`): the simulated
    /// nodes' in the demo; `None` means the system's ssh.
    pub node_shell: Option<NodeShell>,
    /// The pending buffer, audit log, clock and confirm window.
    pub staging: StagingState,
    /// The other clusters this session has connected to (`context use`, `--cluster a,b`),
    /// each a whole session of its own, parked while this one is current.
    pub contexts: Contexts,
    /// Put before every note while a line runs on several clusters (`lab: `), so progress
    /// says whose it is.
    pub note_prefix: Option<String>,
    inventory: SharedInventory,
    schema: SharedSchema,
    notes: NoteSink,
}

/// Connects to a cluster of the config by name, giving a session set up like the first one
/// (config, pending buffer, audit log, output format).
pub type Connector = std::rc::Rc<dyn Fn(String) -> BoxFuture<'static, Result<Ctx>>>;

/// The clusters of a session besides the current one. A parked session keeps everything that
/// belongs to its cluster (client, inventory, pending buffer, current VM), so `context use`
/// back and forth loses nothing.
#[derive(Default)]
pub struct Contexts {
    pub parked: indexmap::IndexMap<String, Ctx>,
    /// How to connect to another cluster; `None` when the session has only one (`--demo`).
    pub connector: Option<Connector>,
    /// The clusters every line's first read runs on when it names none (`pvesh-plus --cluster
    /// a,b` or `--all-clusters` at start); empty: the current cluster only.
    pub default_set: Vec<String>,
}

impl Ctx {
    pub fn new(client: Client, cluster: impl Into<String>) -> Ctx {
        let cluster = cluster.into();
        let inventory = SharedInventory::default();
        let mut staging = StagingState::in_memory(&cluster);
        staging.guard = Guard::new(&Config::default(), inventory.clone());
        Ctx {
            client,
            staging,
            config: Config::default(),
            node_shell: None,
            cluster,
            current: None,
            current_node: None,
            cwd: "/".to_string(),
            format: OutputFormat::Table,
            contexts: Contexts::default(),
            note_prefix: None,
            inventory,
            schema: SharedSchema::default(),
            notes: Box::new(crate::render::progress::note),
        }
    }

    /// Makes `other`, a session on another cluster, the current one and parks this one in its
    /// place. What belongs to the run and not to a cluster stays: the output format and where
    /// notes go.
    pub fn switch_to(&mut self, mut other: Ctx) {
        let contexts = std::mem::take(&mut self.contexts);
        std::mem::swap(self, &mut other);
        std::mem::swap(&mut self.notes, &mut other.notes);
        self.format = other.format;
        self.contexts = contexts;
        self.contexts.parked.insert(other.cluster.clone(), other);
    }

    /// The session on `cluster`, this one or a parked one.
    pub fn on_cluster(&mut self, cluster: &str) -> Option<&mut Ctx> {
        if self.cluster == cluster {
            Some(self)
        } else {
            self.contexts.parked.get_mut(cluster)
        }
    }

    /// Sets the configuration, and with it the read-only rule the staging module enforces.
    pub fn set_config(&mut self, config: Config) {
        self.staging.guard = Guard::new(&config, self.inventory.clone());
        self.staging.agent = config.agent.clone();
        self.config = config;
    }

    /// Sends notices and progress somewhere else (tests collect them).
    pub fn set_note_sink(&mut self, sink: impl FnMut(&str) + 'static) {
        self.notes = Box::new(sink);
    }

    pub fn note(&mut self, msg: &str) {
        match &self.note_prefix {
            Some(prefix) => (self.notes)(&format!("{prefix}{msg}")),
            None => (self.notes)(msg),
        }
    }

    /// The staging state and a note callback at once, for work on the buffer that reports
    /// progress as it goes (`commit`).
    pub fn staging_and_notes(&mut self) -> (&mut StagingState, impl FnMut(&str) + '_) {
        let notes = &mut self.notes;
        let prefix = self.note_prefix.as_deref();
        (&mut self.staging, move |msg: &str| match prefix {
            Some(p) => notes(&format!("{p}{msg}")),
            None => notes(msg),
        })
    }

    /// A GET (or any request) whose `data` is returned.
    pub async fn get(&self, req: &ApiRequest) -> Result<Json> {
        Ok(self.client.get(req).await?)
    }

    /// Like [`Ctx::get`], but hands back the API error itself, for commands that report some
    /// failures as data (`ip` shows "VM is stopped" in that guest's row).
    pub async fn get_or_api_error(
        &self,
        req: &ApiRequest,
    ) -> std::result::Result<Json, crate::api::ApiError> {
        self.client.get(req).await
    }

    /// The inventory, loading it with one `GET /cluster/resources` if there is none yet.
    pub async fn inventory(&mut self) -> Result<Arc<Inventory>> {
        match self.inventory.get() {
            Some(inv) => Ok(inv),
            None => self.refresh().await,
        }
    }

    /// Reloads the inventory from the cluster: one `GET /cluster/resources`, decoded from the
    /// answer's bytes straight into the inventory (no JSON tree in between).
    pub async fn refresh(&mut self) -> Result<Arc<Inventory>> {
        let inv: Inventory = self
            .client
            .get_data(&endpoints::cluster_resources(None))
            .await?;
        Ok(self.inventory.set(inv))
    }

    /// The inventory as last loaded, without any request (completion reads this).
    pub fn cached_inventory(&self) -> Option<Arc<Inventory>> {
        self.inventory.get()
    }

    /// A handle on the shared inventory, for the line editor.
    pub fn shared_inventory(&self) -> SharedInventory {
        self.inventory.clone()
    }

    /// A handle on the API schema slot: `usage` fills it on first use, the interactive session
    /// in the background at start, and completion reads it.
    pub fn shared_schema(&self) -> SharedSchema {
        self.schema.clone()
    }

    /// Resolves target words to guests; with no words, the current VM.
    pub async fn targets(&mut self, words: &[String]) -> Result<Vec<Guest>> {
        let current = self.current;
        let inv = self.inventory().await?;
        if words.is_empty() {
            let vmid = current.ok_or_else(|| {
                crate::error::Error::usage("no VM given and no current VM")
                    .hinted("name one (`status web01`), or set one with `use web01`")
            })?;
            return inv.guest(vmid).cloned().map(|g| vec![g]).ok_or_else(|| {
                crate::error::Error::not_found(format!("the current VM {vmid} is gone"))
            });
        }
        let mut out: Vec<Guest> = Vec::new();
        for w in words {
            for g in inv.resolve(w)? {
                if !out.iter().any(|o| o.vmid == g.vmid) {
                    out.push(g.clone());
                }
            }
        }
        Ok(out)
    }
}
