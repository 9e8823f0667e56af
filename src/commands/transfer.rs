//! Files into storages: `upload` (a local file, streamed as PVE's multipart upload with a byte
//! progress bar) and `download-url` (the node fetches a URL itself).
//!
//! Both check what PVE would refuse before sending anything, so a 4 GiB ISO is never sent to
//! be turned down at the end: the storage must exist on the node, be file-based and hold the
//! content type; the file name must have an extension PVE accepts for it. A checksum given is
//! sent with its algorithm (told by its length when not named) and checked by PVE. Both are
//! actions (`upload`, `download`): they run at once through the executor, audited.

use std::path::PathBuf;

use super::changes::positional;
use super::guest_ops::finish;
use super::reads::storage_node;
use super::{Arg, ArgKind, Call, Category, Command, Ctx, Output, Signature, ex, flag_text};
use crate::api::ApiRequest;
use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::staging::{Action, ActionKind, Checksum, OUTCOME_COLUMNS, Op, Params, Target};

/// What PVE accepts per content type (pve-storage `ISO_EXT_RE_0`, `VZTMPL_EXT_RE_1`,
/// `UPLOAD_IMPORT_EXT_RE_1`).
const EXTENSIONS: &[(&str, &[&str])] = &[
    ("iso", &[".iso", ".img"]),
    ("vztmpl", &[".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"]),
    ("import", &[".qcow2", ".raw", ".vmdk", ".ova"]),
];

const TYPE: Arg = Arg::flag(
    "--type",
    ArgKind::Choice(&["iso", "vztmpl", "import"]),
    "what it is (default: told by its name)",
);
const NAME: Arg = Arg::flag("--name", ArgKind::Text, "its name on the storage");
const CHECKSUM: Arg = Arg::flag("--checksum", ArgKind::Text, "the expected hex digest");
const ALGORITHM: Arg = Arg::flag(
    "--algorithm",
    ArgKind::Choice(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"]),
    "the digest's algorithm (default: told by its length)",
);

/// Storage plugins that keep files (PVE: the plugin has a `path`).
const FILE_BASED: &[&str] = &["dir", "nfs", "cifs", "cephfs", "btrfs", "glusterfs"];

/// The content type a file name says, if it says one.
fn content_of(file: &str) -> Option<&'static str> {
    let lower = file.to_ascii_lowercase();
    EXTENSIONS
        .iter()
        .find(|(_, exts)| exts.iter().any(|e| lower.ends_with(e)))
        .map(|(c, _)| *c)
}

/// PVE's `normalize_content_filename`: the base name with every character outside
/// `[a-zA-Z0-9-.+=_]` made `_`.
fn normalize(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || "-.+=_".contains(ch) {
                ch
            } else {
                '_'
            }
        })
        .collect()
}

/// The content type: `--type`, else what the name says; the name must then fit it.
fn content_for(call: &Call, file: &str) -> Result<String> {
    let allowed: Vec<&str> = EXTENSIONS.iter().map(|(c, _)| *c).collect();
    let content = match flag_text(call, "type") {
        Some(t) if !allowed.contains(&t.as_str()) => {
            return Err(Error::usage(format!(
                "--type {t}: not one of {}",
                allowed.join(", ")
            )));
        }
        Some(t) => t,
        None => content_of(file).map(str::to_string).ok_or_else(|| {
            Error::usage(format!("cannot tell what {file} is from its name"))
                .hinted("give --type iso, vztmpl or import")
        })?,
    };
    let exts = EXTENSIONS
        .iter()
        .find(|(c, _)| *c == content)
        .map(|(_, e)| *e)
        .unwrap_or_default();
    let lower = file.to_ascii_lowercase();
    if !exts
        .iter()
        .any(|e| lower.ends_with(e) && lower.len() > e.len())
    {
        return Err(Error::usage(format!(
            "{file}: PVE takes {content} files only ending in {}",
            exts.join(", ")
        ))
        .hinted("name it so with --name"));
    }
    Ok(content)
}

/// `--checksum HEX [--algorithm A]`: the algorithm is told by the length when not named.
fn checksum(call: &Call) -> Result<Option<Checksum>> {
    let Some(value) = flag_text(call, "checksum") else {
        if call.args.flag("algorithm").is_some() {
            return Err(Error::usage("--algorithm needs --checksum"));
        }
        return Ok(None);
    };
    let value = value.trim().to_ascii_lowercase();
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(
            Error::usage(format!("--checksum {value}: not a hex digest"))
                .hinted("for example the line for the file in the vendor's SHA256SUMS"),
        );
    }
    let by_length = match value.len() {
        32 => Some("md5"),
        40 => Some("sha1"),
        56 => Some("sha224"),
        64 => Some("sha256"),
        96 => Some("sha384"),
        128 => Some("sha512"),
        _ => None,
    };
    let algorithm = match flag_text(call, "algorithm") {
        Some(a) => {
            if by_length.is_some_and(|b| b != a) {
                return Err(Error::usage(format!(
                    "--checksum has {} hex digits, which is not a {a} digest",
                    value.len()
                )));
            }
            a
        }
        None => by_length.map(str::to_string).ok_or_else(|| {
            Error::usage(format!(
                "--checksum has {} hex digits: not the length of any digest PVE checks",
                value.len()
            ))
        })?,
    };
    Ok(Some(Checksum { algorithm, value }))
}

/// The node to go through and a check that the storage there can take `content` files.
fn storage_for(
    ctx: &Ctx,
    call: &Call,
    inv: &Inventory,
    storage: &str,
    content: &str,
) -> Result<String> {
    let node = storage_node(ctx, inv, storage, flag_text(call, "node"))?;
    let Some(entry) = inv
        .storages()
        .iter()
        .find(|s| s.storage == storage && s.node == node)
    else {
        return Err(Error::not_found(format!(
            "storage '{storage}' is not available on node '{node}'"
        )));
    };
    let takers: Vec<&str> = inv
        .storages()
        .iter()
        .filter(|s| s.node == node && s.content.iter().any(|c| c == content))
        .map(|s| s.storage.as_str())
        .collect();
    let others = if takers.is_empty() {
        format!("no storage on {node} holds {content} files")
    } else {
        format!("on {node}, {content} files go to: {}", takers.join(", "))
    };
    if !FILE_BASED.contains(&entry.plugintype.as_str()) {
        return Err(Error::usage(format!(
            "storage '{storage}' is of type {}: PVE puts files only on file-based storages",
            entry.plugintype
        ))
        .hinted(others));
    }
    if !entry.content.iter().any(|c| c == content) {
        return Err(Error::usage(format!(
            "storage '{storage}' does not hold {content} files (its content: {})",
            entry.content.join(", ")
        ))
        .hinted(others));
    }
    Ok(node)
}

/// Whether `volid` is already on the storage (read through `node`).
async fn exists(ctx: &Ctx, node: &str, storage: &str, content: &str, volid: &str) -> Result<bool> {
    let req = ApiRequest::get(format!("/nodes/{node}/storage/{storage}/content"))
        .param("content", content);
    let items = ctx.get(&req).await?;
    Ok(items.as_array().is_some_and(|items| {
        items
            .iter()
            .any(|i| i.get("volid").and_then(|v| v.as_str()) == Some(volid))
    }))
}

/// `FILE STORAGE` / `URL STORAGE`: the two words, and no more.
fn two_words(call: &Call, first: &str, usage: &str) -> Result<(String, String)> {
    if let Some(extra) = call.args.positionals.get(2) {
        return Err(
            Error::usage(format!("unexpected '{}'", extra.text)).hinted(format!("usage: {usage}"))
        );
    }
    Ok((
        positional(call, 0, first, usage)?,
        positional(call, 1, "the storage", usage)?,
    ))
}

/// Runs (or with `--dry-run` shows) the transfer on `node`, then says where the file is.
async fn run_op(ctx: &mut Ctx, call: &Call, op: Op, node: &str, volid: &str) -> Result<Output> {
    let out = finish(ctx, call, vec![Action::on(op, Target::node(node), "")]).await?;
    if !call.args.has_flag("dry-run") && out.failure.is_none() {
        ctx.note(&format!("{volid} is there: `content` lists it"));
    }
    Ok(out)
}

async fn upload_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let usage = "upload FILE STORAGE [--type iso|vztmpl|import] [--name NAME] [--checksum HEX]";
    let (file, storage) = two_words(&call, "the file", usage)?;
    let path = PathBuf::from(&file);
    let meta = std::fs::metadata(&path).map_err(|e| {
        Error::usage(format!("cannot read {file}: {e}")).hinted("give the path of a local file")
    })?;
    if !meta.is_file() {
        return Err(Error::usage(format!("{file} is not a file")));
    }
    // Open it now, so a file we may not read fails here and not half-way.
    std::fs::File::open(&path).map_err(|e| Error::usage(format!("cannot read {file}: {e}")))?;
    let name = normalize(&flag_text(&call, "name").unwrap_or_else(|| file.clone()));
    let content = content_for(&call, &name)?;
    let sum = checksum(&call)?;
    let inv = ctx.refresh().await?;
    let node = storage_for(ctx, &call, &inv, &storage, &content)?;
    let volid = format!("{storage}:{content}/{name}");
    if exists(ctx, &node, &storage, &content, &volid).await? && !call.args.has_flag("force") {
        return Err(
            Error::usage(format!("{volid} exists: PVE would overwrite it"))
                .hinted("--force replaces it; --name NAME uploads under another name"),
        );
    }
    let op = Op::Upload {
        storage,
        content,
        filename: name,
        source: std::path::absolute(&path).unwrap_or(path),
        size: meta.len(),
        checksum: sum,
    };
    run_op(ctx, &call, op, &node, &volid).await
}

pub static UPLOAD: Command = Command {
    sig: Signature {
        name: "upload",
        category: Category::Change,
        about: "Send a local file (ISO, container template, disk image) to a storage, with a progress bar; PVE checks --checksum when given.",
        args: &[
            Arg::pos("file", ArgKind::Text, "the local file"),
            Arg::pos("storage", ArgKind::Storage, "a file-based storage"),
            TYPE,
            NAME,
            CHECKSUM,
            ALGORITHM,
            Arg::flag("--node", ArgKind::Node, "send it through this node"),
            Arg::switch("--force", "replace a file of the same name"),
            Arg::switch("--dry-run", "show the plan; send nothing"),
        ],
        action: Some(ActionKind::Upload),
        fields: OUTCOME_COLUMNS,
        examples: &[
            ex(
                "upload /tmp/tools.iso local",
                "an ISO into local, through pve1",
            ),
            ex(
                "upload /tmp/tools.iso local --name 'Tools v2.iso' --dry-run",
                "the name PVE gives it, and nothing sent",
            ),
        ],
    },
    run: |ctx, call| Box::pin(upload_run(ctx, call)),
};

/// The file name at the end of a URL's path: `https://x/a/b.iso?dl=1` → `b.iso`.
fn url_file(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let rest = path.split_once("://").map_or(path, |(_, r)| r);
    let (_, tail) = rest.split_once('/')?;
    let last = tail.rsplit('/').next().filter(|s| !s.is_empty())?;
    Some(normalize(last))
}

async fn download_run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let usage =
        "download-url URL STORAGE [--type iso|vztmpl|import] [--name NAME] [--checksum HEX]";
    let (url, storage) = two_words(&call, "the URL", usage)?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::usage(format!("{url} is not an http(s) URL")));
    }
    let name = match flag_text(&call, "name") {
        Some(n) => normalize(&n),
        None => url_file(&url).ok_or_else(|| {
            Error::usage(format!("{url} ends in no file name")).hinted("give --name NAME")
        })?,
    };
    let content = content_for(&call, &name)?;
    let sum = checksum(&call)?;
    let inv = ctx.refresh().await?;
    let node = storage_for(ctx, &call, &inv, &storage, &content)?;
    let volid = format!("{storage}:{content}/{name}");
    if exists(ctx, &node, &storage, &content, &volid).await? {
        return Err(
            Error::usage(format!("{volid} exists: PVE refuses to download over it"))
                .hinted("--name NAME downloads under another name"),
        );
    }
    let mut params = Params::default()
        .param("url", &url)
        .param("content", &content)
        .param("filename", &name);
    if let Some(c) = sum {
        params = params
            .param("checksum-algorithm", c.algorithm)
            .param("checksum", c.value);
    }
    let op = Op::Download {
        storage,
        params: params.0,
    };
    run_op(ctx, &call, op, &node, &volid).await
}

pub static DOWNLOAD_URL: Command = Command {
    sig: Signature {
        name: "download-url",
        category: Category::Change,
        about: "Have a node download a URL into a storage (an ISO, template or disk image); PVE checks --checksum when given.",
        args: &[
            Arg::pos("url", ArgKind::Text, "an http(s) URL"),
            Arg::pos("storage", ArgKind::Storage, "a file-based storage"),
            TYPE,
            NAME,
            CHECKSUM,
            ALGORITHM,
            Arg::flag("--node", ArgKind::Node, "the node that downloads it"),
            Arg::switch("--dry-run", "show the plan; send nothing"),
        ],
        action: Some(ActionKind::Download),
        fields: OUTCOME_COLUMNS,
        examples: &[ex(
            "download-url https://cdimage.debian.org/debian-13.iso local",
            "pve1 fetches it into local",
        )],
    },
    run: |ctx, call| Box::pin(download_run(ctx, call)),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_from_names() {
        for (name, want) in [
            ("debian-13.iso", Some("iso")),
            ("BOOT.IMG", Some("iso")),
            ("debian-12-standard_12.7-1_amd64.tar.zst", Some("vztmpl")),
            ("alpine.tar.gz", Some("vztmpl")),
            ("noble.qcow2", Some("import")),
            ("appliance.ova", Some("import")),
            ("notes.txt", None),
            ("archive.tar", None),
        ] {
            assert_eq!(content_of(name), want, "{name}");
        }
    }

    #[test]
    fn names_normalised_like_pve() {
        assert_eq!(normalize("/home/me/My ISO (v2).iso"), "My_ISO__v2_.iso");
        assert_eq!(normalize("C:\\isos\\win.iso"), "win.iso");
        assert_eq!(normalize("a+b=c-d_e.iso"), "a+b=c-d_e.iso");
    }

    #[test]
    fn file_names_in_urls() {
        assert_eq!(
            url_file("https://x.org/a/debian.iso?dl=1").as_deref(),
            Some("debian.iso")
        );
        assert_eq!(url_file("https://x.org/"), None);
        assert_eq!(url_file("https://x.org"), None);
        assert_eq!(
            url_file("http://x.org/img%20v2.qcow2").as_deref(),
            Some("img_20v2.qcow2")
        );
    }
}
