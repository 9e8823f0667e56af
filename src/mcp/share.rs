//! The demo cluster of `pvesh-plus mcp --demo`, shared with a person's terminal.
//!
//! A `--demo` run's simulated cluster ends with its process, so a person cannot approve what an
//! agent staged there from another terminal, unless that terminal reaches the same simulator.
//! `mcp --demo` therefore publishes how to reach it (address, certificate fingerprint, its
//! throwaway root password) in `$XDG_STATE_HOME/pvesh-plus/demo-shared.json`, readable by the
//! owner only and removed when the server ends; `pvesh-plus --join-demo approve ID` reads it.
//! Both sides then know the cluster as the same [`ClusterIdentity`] (`demo` at that address),
//! so the pending plan and the approval requests live in files both read. The password is
//! never printed.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;
use crate::staging::ClusterIdentity;

/// How to reach a shared demo cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharedDemo {
    pub url: String,
    pub fingerprint: String,
    pub user: String,
    pub password: String,
    /// The process serving it.
    pub pid: u32,
}

impl SharedDemo {
    /// The identity both sides give the cluster: `demo` at the simulator's address.
    pub fn identity(&self) -> ClusterIdentity {
        let endpoint = self
            .url
            .trim_start_matches("https://")
            .trim_end_matches('/');
        ClusterIdentity::cluster("demo", &[endpoint.to_string()])
    }

    pub fn password(&self) -> Secret {
        Secret::new(&self.password)
    }
}

fn path() -> Result<std::path::PathBuf> {
    crate::staging::state_file("demo", "shared").ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            "no state directory to share the demo cluster in",
        )
        .hinted("set XDG_STATE_HOME (or HOME)")
    })
}

/// Publishes `demo` for [`join`]; the file is removed by [`Published`]'s drop.
pub fn publish(demo: &SharedDemo) -> Result<Published> {
    let path = path()?;
    let text =
        serde_json::to_string(demo).map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
    crate::staging::write_private(&path, &text).map_err(|(step, e)| {
        Error::new(
            ErrorKind::Config,
            format!("cannot {step} {}: {e}", path.display()),
        )
    })?;
    Ok(Published { path })
}

/// The published file, removed when dropped (the simulator it names ends then too).
pub struct Published {
    path: std::path::PathBuf,
}

impl Drop for Published {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The demo cluster a running `pvesh-plus mcp --demo` shares.
pub fn join() -> Result<SharedDemo> {
    let path = path()?;
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Error::new(
            ErrorKind::Connection,
            "no shared demo cluster: --join-demo reaches the one a running `pvesh-plus mcp --demo` serves",
        )
        .hinted("start the MCP client (it runs `pvesh-plus mcp --demo`), then try again")
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("{} is not a shared demo cluster: {e}", path.display()),
        )
        .hinted("remove it; `pvesh-plus mcp --demo` writes it afresh")
    })
}
