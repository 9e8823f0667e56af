//! The REST handler's side of a file upload, as pveproxy does it (pve-http-server
//! `AnyEvent.pm`): a `multipart/form-data` body is read as it arrives; its text fields become
//! parameters, its file part (named `filename`) is "written" to `/var/tmp/pveupload-<hex>`,
//! whose path is passed to the API call as `tmpfilename`, and the part's file name becomes
//! `filename`.
//!
//! The simulator keeps no bytes: it streams the part through every checksum PVE offers and
//! keeps the size and the digests, so a multi-GiB upload costs no memory.

use std::collections::BTreeMap;

use bytes::Bytes;
use sha1::Digest;

/// A file the REST handler received, by its temporary path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpUpload {
    pub size: u64,
    /// Hex digests by PVE's `checksum-algorithm` name.
    pub digests: BTreeMap<&'static str, String>,
}

/// What a multipart body carried.
pub struct Received {
    /// The text fields, then `filename` (the file part's file name), in order.
    pub fields: Vec<(String, String)>,
    pub file: Option<TmpUpload>,
}

/// The boundary of a `multipart/form-data` content type, or `None` for other types.
pub fn boundary(content_type: &str) -> Option<String> {
    let (mime, _) = content_type.split_once(';').unwrap_or((content_type, ""));
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    multer::parse_boundary(content_type).ok()
}

struct Hashes {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha224: sha2::Sha224,
    sha256: sha2::Sha256,
    sha384: sha2::Sha384,
    sha512: sha2::Sha512,
}

impl Hashes {
    fn new() -> Hashes {
        Hashes {
            md5: md5::Md5::new(),
            sha1: sha1::Sha1::new(),
            sha224: sha2::Sha224::new(),
            sha256: sha2::Sha256::new(),
            sha384: sha2::Sha384::new(),
            sha512: sha2::Sha512::new(),
        }
    }

    fn update(&mut self, b: &[u8]) {
        self.md5.update(b);
        self.sha1.update(b);
        self.sha224.update(b);
        self.sha256.update(b);
        self.sha384.update(b);
        self.sha512.update(b);
    }

    fn finish(self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("md5", hex::encode(self.md5.finalize())),
            ("sha1", hex::encode(self.sha1.finalize())),
            ("sha224", hex::encode(self.sha224.finalize())),
            ("sha256", hex::encode(self.sha256.finalize())),
            ("sha384", hex::encode(self.sha384.finalize())),
            ("sha512", hex::encode(self.sha512.finalize())),
        ])
    }
}

/// Reads a multipart body to its end. Errors are the texts of a 400.
pub async fn receive<S, E>(body: S, boundary: String) -> Result<Received, String>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut fields = Vec::new();
    let mut file = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("failed to parse multipart body: {e}"))?
    {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(file_name) => {
                if file.is_some() {
                    return Err("more than one file in the upload".into());
                }
                let mut hashes = Hashes::new();
                let mut size = 0u64;
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| format!("upload interrupted: {e}"))?
                {
                    size += chunk.len() as u64;
                    hashes.update(&chunk);
                }
                fields.push((name, file_name));
                file = Some(TmpUpload {
                    size,
                    digests: hashes.finish(),
                });
            }
            None => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| format!("failed to read field '{name}': {e}"))?;
                fields.push((name, text));
            }
        }
    }
    Ok(Received { fields, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &str) -> futures_util::stream::Iter<std::vec::IntoIter<Result<Bytes, String>>> {
        // Split in small chunks, so parts cross chunk borders.
        let chunks: Vec<Result<Bytes, String>> = parts
            .as_bytes()
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures_util::stream::iter(chunks)
    }

    #[test]
    fn boundaries_only_of_multipart_form_data() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[tokio::test]
    async fn fields_then_the_file_hashed_not_kept() {
        let text = "--b\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\niso\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"a.iso\"\r\n\
                    Content-Type: application/octet-stream\r\n\r\nhello\r\n--b--\r\n";
        let got = receive(body(text), "b".into()).await.expect("parses");
        assert_eq!(
            got.fields,
            vec![
                ("content".to_string(), "iso".to_string()),
                ("filename".to_string(), "a.iso".to_string())
            ]
        );
        let file = got.file.expect("a file");
        assert_eq!(file.size, 5);
        assert_eq!(file.digests["md5"], "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(
            file.digests["sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }

    #[tokio::test]
    async fn a_cut_body_is_an_error() {
        let text = "--b\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"a.iso\"\r\n\r\nhel";
        assert!(receive(body(text), "b".into()).await.is_err());
    }
}
