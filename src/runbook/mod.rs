//! Runbooks: `runbooks/*.md` files of parameters and steps of pvesh+ lines (the format is
//! [`format`], documented in `runbooks/README.md`), found here, and run step by step by
//! [`runner`] through the same language and executor as typed lines. [`definitions`]: a guests
//! file (`guests.yaml`) with its plan against the live cluster, and cluster profiles (named
//! groups of its guests).
//!
//! Where they come from, later ones replacing earlier ones of the same name: the runbooks
//! shipped in the binary, `runbooks/` of the current directory, then
//! `~/.config/pvesh-plus/runbooks/` (or under `$XDG_CONFIG_HOME`). A user file that replaces
//! another says so. `README.md` and files starting with `_` (`_template.md`) are not runbooks.
//!
//! Must not: run commands itself (the runner is handed a [`runner::LineRunner`]), or touch the
//! terminal.

pub mod definitions;
pub mod format;
pub mod runner;

use std::path::{Path, PathBuf};

pub use format::{Param, ParamType, Runbook, Step};

use crate::error::{Error, ErrorKind, Result};

/// The runbooks shipped in the binary: (name, text).
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "create-cloudinit-template",
        include_str!("../../runbooks/create-cloudinit-template.md"),
    ),
    (
        "create-iso-template",
        include_str!("../../runbooks/create-iso-template.md"),
    ),
    (
        "import-qcow2-template",
        include_str!("../../runbooks/import-qcow2-template.md"),
    ),
    (
        "rolling-restart",
        include_str!("../../runbooks/rolling-restart.md"),
    ),
    (
        "patch-window",
        include_str!("../../runbooks/patch-window.md"),
    ),
];

/// Where runbook files are looked for.
#[derive(Debug, Clone, Default)]
pub struct Dirs {
    /// `runbooks/` of the current directory.
    pub project: Option<PathBuf>,
    /// `~/.config/pvesh-plus/runbooks/`.
    pub user: Option<PathBuf>,
}

impl Dirs {
    pub fn from_env() -> Dirs {
        let env = |name: &str| std::env::var(name).ok();
        Dirs {
            project: std::env::current_dir().ok().map(|d| d.join("runbooks")),
            user: crate::config::default_path(&env)
                .and_then(|p| p.parent().map(|d| d.join("runbooks"))),
        }
    }
}

/// One runbook found: where, and whether it parsed.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file's name without `.md`.
    pub name: String,
    /// `runbooks/x.md`, `~/.config/pvesh-plus/runbooks/x.md` or `built-in`.
    pub source: String,
    pub loaded: Result<Runbook>,
    /// The source of the runbook this one replaces, when a user file replaces another.
    pub replaces: Option<String>,
}

fn shown_path(path: &Path, dirs: &Dirs) -> String {
    if let Some(p) = &dirs.project
        && let Ok(rest) = path.strip_prefix(p)
    {
        return format!("runbooks/{}", rest.display());
    }
    if let Some(home) = dirs::home_dir()
        && let Ok(rest) = path.strip_prefix(&home)
    {
        return format!("~/{}", rest.display());
    }
    path.display().to_string()
}

fn load(name: &str, text: &str, source: &str) -> Result<Runbook> {
    let rb = Runbook::parse(text, source)?;
    if rb.name != name {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "{source}:2: `name: {}` differs from the file's name `{name}`",
                rb.name
            ),
        )
        .hinted(format!(
            "rename the file to {}.md, or the runbook to {name}",
            rb.name
        )));
    }
    Ok(rb)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            p.extension().is_some_and(|e| e == "md")
                && name.is_some_and(|n| !n.starts_with('_') && n != "README.md")
        })
        .collect();
    files.sort();
    files
}

/// Every runbook, by name, in name order.
pub fn discover(dirs: &Dirs) -> Vec<Entry> {
    let mut out: Vec<Entry> = EMBEDDED
        .iter()
        .map(|(name, text)| Entry {
            name: name.to_string(),
            source: "built-in".into(),
            loaded: load(name, text, &format!("runbooks/{name}.md (built-in)")),
            replaces: None,
        })
        .collect();
    let layers = [(dirs.project.as_ref(), false), (dirs.user.as_ref(), true)];
    for (dir, user) in layers {
        let Some(dir) = dir else { continue };
        for path in files_in(dir) {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let source = shown_path(&path, dirs);
            let loaded = match std::fs::read_to_string(&path) {
                Ok(text) => load(&name, &text, &source),
                Err(e) => Err(Error::new(
                    ErrorKind::Config,
                    format!("cannot read {source}: {e}"),
                )),
            };
            let entry = Entry {
                name: name.clone(),
                source,
                loaded,
                replaces: None,
            };
            match out.iter_mut().find(|e| e.name == name) {
                Some(old) => {
                    let replaces = user.then(|| old.source.clone());
                    *old = Entry { replaces, ..entry };
                }
                None => out.push(entry),
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The runbook called `name`, or an error naming the ones there are.
pub fn find(dirs: &Dirs, name: &str) -> Result<(Runbook, Option<String>)> {
    let all = discover(dirs);
    match all.iter().find(|e| e.name == name) {
        Some(e) => {
            let note = e
                .replaces
                .as_ref()
                .map(|r| format!("runbook {name}: {} replaces {r}", e.source));
            e.loaded.clone().map(|rb| (rb, note))
        }
        None => {
            let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
            let close: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| strsim::osa_distance(n, name) <= 3 || n.starts_with(name))
                .collect();
            let mut err = Error::not_found(format!("no runbook '{name}'"));
            if !close.is_empty() {
                err = err.hinted(format!("did you mean {}?", close.join(", ")));
            }
            Err(err.hinted(format!(
                "`runbook ls` lists them ({}); add one as runbooks/{name}.md or \
                 ~/.config/pvesh-plus/runbooks/{name}.md",
                names.join(", ")
            )))
        }
    }
}
