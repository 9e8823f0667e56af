//! File uploads (`POST /nodes/{node}/storage/{storage}/upload`): the multipart body PVE's
//! REST handler reads, streamed from disk with a byte count.
//!
//! pveproxy takes the text fields (`content`, `checksum`, `checksum-algorithm`) and one file
//! part named `filename`, whose file name becomes the `filename` parameter; it writes the part
//! to `/var/tmp/pveupload-*` and passes that as `tmpfilename` (pve-http-server, and
//! pve-storage `API2/Storage/Status.pm` `upload`). The text fields go first, as browsers send
//! them, so the server knows them before the bytes arrive.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::multipart::{Form, Part};
use tokio_util::io::ReaderStream;

use super::endpoints::ApiRequest;

/// The longest a transfer may take (a 5 GiB ISO over a slow uplink).
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(12 * 3600);

/// Read size of the file stream.
const CHUNK: usize = 256 * 1024;

/// A local file to send, and the name it has on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    pub path: PathBuf,
    pub name: String,
}

/// Told `(bytes sent, total bytes)` as the file goes out.
#[derive(Clone)]
pub struct ByteProgress(Arc<dyn Fn(u64, u64) + Send + Sync>);

impl ByteProgress {
    pub fn new(f: impl Fn(u64, u64) + Send + Sync + 'static) -> ByteProgress {
        ByteProgress(Arc::new(f))
    }

    /// Tells nobody.
    pub fn none() -> ByteProgress {
        ByteProgress::new(|_, _| {})
    }

    pub fn report(&self, sent: u64, total: u64) {
        (self.0)(sent, total)
    }
}

impl std::fmt::Debug for ByteProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByteProgress")
    }
}

/// The multipart form for `req`: every parameter but `filename` as a text field, then the file.
pub async fn form(
    req: &ApiRequest,
    file: &UploadFile,
    progress: ByteProgress,
) -> std::io::Result<Form> {
    let handle = tokio::fs::File::open(&file.path).await?;
    let total = handle.metadata().await?.len();
    let sent = Arc::new(AtomicU64::new(0));
    progress.report(0, total);
    let stream = ReaderStream::with_capacity(handle, CHUNK).map(move |chunk| {
        if let Ok(bytes) = &chunk {
            let now = sent.fetch_add(bytes.len() as u64, Ordering::Relaxed) + bytes.len() as u64;
            progress.report(now, total);
        }
        chunk
    });
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(stream), total)
        .file_name(file.name.clone())
        .mime_str("application/octet-stream")
        .map_err(std::io::Error::other)?;
    let mut form = Form::new();
    for (k, v) in req.params.iter().filter(|(k, _)| k != "filename") {
        form = form.text(k.clone(), v.clone());
    }
    Ok(form.part("filename", part))
}
