//! Storage writes: `POST .../download-url` (a `download` task that fetches a file from a URL into
//! the storage; the simulator invents the bytes), `POST .../upload` (an `imgcopy` task that
//! copies a file the REST handler received, see `sim::upload`) and `DELETE .../content/{volume}`.
//!
//! The download never touches the network: any `https://` URL "exists", except one containing
//! `notfound`, which fails the task with a 404 as PVE reports it. Must not: modify guests.

use super::{ApiError, Ctx, NODE, Perm, Reply, Route, route};
use crate::sim::state::Volume;
use crate::sim::tasks::Effect;

const STORAGE: &str = "storage:string fmt=pve-storage-id";
/// The size of a downloaded image: a typical generic cloud image (about 330 MiB).
const IMAGE_BYTES: u64 = 330 << 20;

pub fn routes() -> Vec<Route> {
    vec![
        route(
            "POST",
            "/nodes/{node}/storage/{storage}/download-url",
            "download_url",
            "string",
            Perm::Custom(
                r#"["and",["perm","/storage/{storage}",["Datastore.AllocateTemplate"]],["or",["perm","/",["Sys.Audit","Sys.Modify"]],["perm","/nodes/{node}",["Sys.AccessNetwork"]]]]"#,
            ),
            &[
                NODE,
                STORAGE,
                "content:string fmt=pve-storage-content enum=iso|vztmpl|import",
                "filename:string maxlen=255",
                "url:string pattern=https?://.*",
                "checksum?:string",
                "checksum-algorithm?:string enum=md5|sha1|sha224|sha256|sha384|sha512",
            ],
            download_url,
        )
        .protected()
        .desc("Download templates, ISO images, OVAs and VM images by using an URL."),
        route(
            "POST",
            "/nodes/{node}/storage/{storage}/upload",
            "upload",
            "string",
            Perm::Privs {
                path: "/storage/{storage}",
                privs: &["Datastore.AllocateTemplate"],
                any: false,
            },
            &[
                NODE,
                STORAGE,
                "content:string fmt=pve-storage-content enum=iso|vztmpl|import",
                "filename:string maxlen=255",
                "checksum?:string",
                "checksum-algorithm?:string enum=md5|sha1|sha224|sha256|sha384|sha512",
                "tmpfilename?:string pattern=/var/tmp/pveupload-[0-9a-f]+",
            ],
            upload,
        )
        .protected()
        .desc("Upload templates, ISO images, OVAs and VM images."),
        route(
            "DELETE",
            "/nodes/{node}/storage/{storage}/content/{volume}",
            "delete",
            "string",
            Perm::All,
            &[NODE, "storage?:string fmt=pve-storage-id", "volume:string", "delay?:integer min=1 max=30"],
            delete_volume,
        )
        .protected()
        .desc("Delete volume"),
    ]
}

/// The volid for a file of `content` on `storage`: `local:import/x.qcow2`.
fn volid_of(storage: &str, content: &str, file: &str) -> String {
    format!("{storage}:{content}/{file}")
}

fn format_of(file: &str) -> &str {
    match file.rsplit_once('.') {
        Some((_, "iso")) => "iso",
        Some((_, "qcow2")) => "qcow2",
        Some((_, "vmdk")) => "vmdk",
        Some((_, "ova")) => "ova",
        Some((_, "zst")) => "tzst",
        _ => "raw",
    }
}

/// What `wget --progress=dot:giga` writes while fetching `total` bytes (PVE's
/// `download_file_from_url` runs it and its output is the task log): the length, then a line per
/// 32 MiB of dots (each dot 1 MiB), each ending in the percentage so far.
fn wget_lines(total: u64) -> Vec<String> {
    const LINE: u64 = 32 << 20;
    let mut lines = vec![
        format!(
            "Length: {total} ({}M) [application/octet-stream]",
            total >> 20
        ),
        "Saving to: 'download.tmp'".to_string(),
        String::new(),
    ];
    let mut done = 0;
    while done < total {
        let step = LINE.min(total - done);
        let mib = step >> 20;
        let dots: Vec<String> = (0..mib.div_ceil(8))
            .map(|g| ".".repeat((mib - g * 8).min(8) as usize))
            .collect();
        let pct = (done + step) * 100 / total;
        lines.push(format!(
            "{:>7}K {:<35} {pct:>3}%  112M {}s",
            done >> 10,
            dots.join(" "),
            (total - done - step) / (112 << 20)
        ));
        done += step;
    }
    lines
}

fn download_url(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let storage = c.req("storage")?.to_string();
    c.check(
        &format!("/storage/{storage}"),
        &["Datastore.AllocateTemplate"],
        false,
    )?;
    if !c.can("/", &["Sys.Audit", "Sys.Modify"])
        && !c.can(&format!("/nodes/{node}"), &["Sys.AccessNetwork"])
    {
        return Err(ApiError::perm(None));
    }
    let content = c.req("content")?.to_string();
    let file = c.req("filename")?.to_string();
    let url = c.req("url")?.to_string();
    let Some(s) = c.state.storage(&storage) else {
        return Err(ApiError::fail(format!(
            "storage '{storage}' does not exist"
        )));
    };
    if !s.content.contains(&content) {
        return Err(ApiError::fail(format!(
            "storage '{storage}' does not support content-type '{content}'"
        )));
    }
    let shared = s.shared;
    let volid = volid_of(&storage, &content, &file);
    if c.state
        .volumes
        .iter()
        .any(|v| v.volid == volid && (shared || v.node.as_deref().is_none_or(|n| n == node)))
    {
        return Err(ApiError::fail(format!(
            "refusing to override existing file '{file}'"
        )));
    }
    let mut lines = vec![format!("downloading {url} to {volid}")];
    let outcome = if url.contains("notfound") {
        lines.push(format!("download failed: 404 Not Found ({url})"));
        Err("download failed: 404 Not Found".to_string())
    } else {
        lines.extend(wget_lines(IMAGE_BYTES));
        lines.push(format!("download of '{url}' to '{volid}' finished"));
        c.state.volumes.push(Volume {
            storage: storage.clone(),
            node: if shared { None } else { Some(node) },
            volid: volid.clone(),
            content: content.clone(),
            format: format_of(&file).to_string(),
            size: IMAGE_BYTES,
            ctime: c.now(),
            vmid: None,
            notes: None,
            protected: false,
        });
        Ok(())
    };
    Ok(c.spawn("download", storage, lines, outcome, Effect::None, None))
}

/// Storage plugins with a path (PVE: `$scfg->{path}` is defined): the ones files go to.
const FILE_BASED: &[&str] = &["dir", "nfs", "cifs", "cephfs", "btrfs", "glusterfs"];

/// `PVE::Storage::normalize_content_filename`: the base name, with every character outside
/// `[a-zA-Z0-9-.+=_]` made `_`.
pub fn normalize_filename(name: &str) -> String {
    let base = name.trim_end_matches('\n');
    let base = base.rsplit(['/', '\\']).next().unwrap_or(base);
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

/// Whether `file` has an extension PVE accepts for `content` (`ISO_EXT_RE_0`,
/// `VZTMPL_EXT_RE_1`, `UPLOAD_IMPORT_EXT_RE_1`), and the error it raises when not.
pub fn extension_error(content: &str, file: &str) -> Option<&'static str> {
    let lower = file.to_ascii_lowercase();
    let ends = |exts: &[&str]| {
        exts.iter()
            .any(|e| lower.ends_with(e) && lower.len() > e.len())
    };
    match content {
        "iso" if !ends(&[".iso", ".img"]) => Some("wrong file extension"),
        "vztmpl" if !ends(&[".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"]) => {
            Some("wrong file extension")
        }
        "import" if !ends(&[".ova", ".qcow2", ".raw", ".vmdk"]) => {
            Some("invalid filename or wrong extension")
        }
        _ => None,
    }
}

/// The directory PVE keeps `content` in on a directory storage.
fn content_dir(storage: &str, content: &str) -> String {
    let base = if storage == "local" {
        "/var/lib/vz".to_string()
    } else {
        format!("/mnt/pve/{storage}")
    };
    match content {
        "iso" => format!("{base}/template/iso"),
        "vztmpl" => format!("{base}/template/cache"),
        _ => format!("{base}/import"),
    }
}

fn upload(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let storage = c.req("storage")?.to_string();
    let Some(s) = c.state.storage(&storage).cloned() else {
        return Err(ApiError::fail(format!(
            "storage '{storage}' does not exist"
        )));
    };
    if !c.state.storage_on(&storage, &node) {
        return Err(ApiError::fail(format!(
            "storage '{storage}' is not available on node '{node}'"
        )));
    }
    if !FILE_BASED.contains(&s.stype.as_str()) {
        return Err(ApiError::fail(format!(
            "can't upload to storage type '{}'",
            s.stype
        )));
    }
    let content = c.req("content")?.to_string();
    let Some(tmp) = c.str("tmpfilename").map(str::to_string) else {
        return Err(ApiError::fail("missing temporary file name"));
    };
    let Some(received) = c.state.uploads.remove(&tmp) else {
        return Err(ApiError::fail(format!(
            "temporary file '{tmp}' does not exist"
        )));
    };
    let file = normalize_filename(c.req("filename")?);
    if let Some(e) = extension_error(&content, &file) {
        return Err(ApiError::param("filename", e));
    }
    if !s.content.contains(&content) {
        return Err(ApiError::fail(format!(
            "storage '{storage}' does not support '{content}' content"
        )));
    }
    let dest = format!("{}/{file}", content_dir(&storage, &content));
    let mut lines = vec![format!("starting file import from: {tmp}")];
    let mut outcome = Ok(());
    if let (Some(algo), Some(want)) = (c.str("checksum-algorithm"), c.str("checksum")) {
        let got = received.digests.get(algo).cloned().unwrap_or_default();
        if got.eq_ignore_ascii_case(want) {
            lines.push("calculating checksum...OK, checksum verified".into());
        } else {
            let e = format!("checksum mismatch: got '{got}' != expect '{want}'");
            lines.push("calculating checksum...".into());
            lines.push(e.clone());
            outcome = Err(e);
        }
    }
    if outcome.is_ok() {
        lines.extend([
            format!("target node: {node}"),
            format!("target file: {dest}"),
            format!("file size is: {}", received.size),
            format!("command: cp -- {tmp} {dest}"),
            "finished file import successfully".into(),
        ]);
        // PVE overwrites a file of the same name.
        let volid = volid_of(&storage, &content, &file);
        let here = (!s.shared).then(|| node.clone());
        c.state
            .volumes
            .retain(|v| !(v.volid == volid && (s.shared || v.node == here)));
        c.state.volumes.push(Volume {
            storage: storage.clone(),
            node: here,
            volid,
            content: content.clone(),
            format: format_of(&file).to_string(),
            size: received.size,
            ctime: c.now(),
            vmid: None,
            notes: None,
            protected: false,
        });
    }
    Ok(c.spawn("imgcopy", String::new(), lines, outcome, Effect::None, None))
}

fn delete_volume(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let node = c.node().to_string();
    let storage = c.req("storage")?.to_string();
    c.check(
        &format!("/storage/{storage}"),
        &["Datastore.Allocate"],
        false,
    )?;
    let volume = c.req("volume")?.to_string();
    let volid = if volume.contains(':') {
        volume
    } else {
        format!("{storage}:{volume}")
    };
    let Some(i) = c
        .state
        .volumes
        .iter()
        .position(|v| v.volid == volid && v.node.as_deref().is_none_or(|n| n == node))
    else {
        return Err(ApiError::fail(format!("volume '{volid}' does not exist")));
    };
    // PVE deletes what it is asked to: whether a guest still uses the volume is the client's
    // concern (the web interface refuses it); a protected volume fails the `imgdel` task.
    let volname = volid.split_once(':').map_or(volid.as_str(), |(_, n)| n);
    if c.state.volumes[i].protected {
        let why = format!("cannot remove protected volume '{volname}' on '{storage}'");
        return Ok(c.spawn(
            "imgdel",
            volid.clone(),
            vec![why.clone()],
            Err(why),
            Effect::None,
            None,
        ));
    }
    c.state.volumes.remove(i);
    let lines = vec![format!("Removed volume '{volid}'")];
    Ok(c.spawn("imgdel", volid, lines, Ok(()), Effect::None, None))
}
