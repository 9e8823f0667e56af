//! Storage writes: `POST .../download-url` (a `download` task that fetches a file from a URL into
//! the storage; the simulator invents the bytes) and `DELETE .../content/{volume}`.
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
        // One progress statement per line (`transferred 82.5 MiB of 330.0 MiB (25.00%)`).
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20));
        lines.extend((1..=4u64).map(|i| {
            let done = IMAGE_BYTES / 4 * i;
            format!(
                "transferred {} of {} ({:.2}%)",
                mib(done),
                mib(IMAGE_BYTES),
                i as f64 * 25.0
            )
        }));
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
