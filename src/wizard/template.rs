//! `new-template`: a cloud-init template from a cloud image URL, the seed's runbook as one
//! command. [`TemplatePlan`] decides everything first (the node, the storage the image is
//! downloaded to, the file name, the disk storage, a VMID from the range); [`build`] then
//! downloads the image (`download-url`, content `import`), creates the VM with its disk imported
//! from it (`scsi0: STORAGE:0,import-from=VOLID`), a cloud-init drive, a serial console and the
//! boot order, and converts it to a template. Each task is followed to its end, progress goes
//! through `ctx.note`, and a failure removes the VM and the image this run created.
//!
//! Must not: touch the terminal, or change anything in `resolve` (`--dry-run` only reads).

use serde_json::Value as Json;

use crate::api::{ApiError, GuestKind, WaitOptions, endpoints, log_length, log_progress};
use crate::config::{Config, Size};
use crate::error::{Error, Result};
use crate::inventory::Inventory;
use crate::lang::{Record, Value};
use crate::render::progress::{Bar, Unit};
use crate::session::Ctx;
use crate::staging::{self, Action, Executor, Op, Params};

use super::facts::DEFAULT_BRIDGE;
use super::plan;
use super::provision::{self, BuildOptions, Guard, Target, failed, rollback, run_step};
use super::validate;

/// The storage for the imported disk when neither `--storage` nor the config names one.
const DEFAULT_STORAGE: &str = "local-lvm";
/// The file types a storage's `import` content accepts for a disk image.
const IMAGE_TYPES: &[&str] = &["qcow2", "raw", "vmdk"];

/// What the arguments of `new-template` say; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct TemplateArgs {
    pub url: String,
    pub name: Option<String>,
    pub storage: Option<String>,
    pub node: Option<String>,
    pub vmid: Option<u32>,
}

/// A template to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplatePlan {
    pub url: String,
    pub name: String,
    pub vmid: u32,
    pub node: String,
    pub placement: String,
    /// The storage the image is downloaded to (one with `import` content).
    pub image_storage: String,
    /// The file name on it (`.img` images are saved as `.qcow2`).
    pub file: String,
    /// The image is already there: no download.
    pub reuse_image: bool,
    /// The storage of the imported disk and the cloud-init drive.
    pub storage: String,
    pub bridge: String,
    pub cores: u32,
    pub memory: Size,
}

impl TemplatePlan {
    /// The downloaded image's volume: `local:import/debian-12.qcow2`.
    pub fn image_volid(&self) -> String {
        format!("{}:import/{}", self.image_storage, self.file)
    }

    /// `POST .../download-url` with content `import`.
    pub fn download_action(&self) -> Action {
        let params = Params::default()
            .param("url", &self.url)
            .param("content", "import")
            .param("filename", &self.file);
        let op = Op::Download {
            storage: self.image_storage.clone(),
            params: params.0,
        };
        Action::on(op, staging::Target::node(&self.node), "")
    }

    /// `POST /nodes/{node}/qemu`: the VM with its disk imported from the image, a cloud-init
    /// drive, a serial console and one NIC.
    pub fn create_action(&self) -> Action {
        let params = Params::default()
            .param("name", &self.name)
            .param("cores", self.cores)
            .param("memory", self.memory.mib())
            .param("scsihw", "virtio-scsi-single")
            .param(
                "scsi0",
                format!("{}:0,import-from={}", self.storage, self.image_volid()),
            )
            .param("ide2", format!("{}:cloudinit", self.storage))
            .param("net0", format!("virtio,bridge={}", self.bridge))
            .param("serial0", "socket")
            .param("vga", "serial0")
            .param("boot", "order=scsi0")
            .param("ostype", "l26")
            .param("ipconfig0", "ip=dhcp")
            .flag("agent", true);
        Action::on(Op::Create { params: params.0 }, self.target().staging(), "")
    }

    pub fn steps(&self) -> Vec<String> {
        let mut steps = Vec::new();
        if self.reuse_image {
            steps.push(format!(
                "use {} (already on {} on {})",
                self.image_volid(),
                self.image_storage,
                self.node
            ));
        } else {
            steps.push(format!(
                "download {} to {} on {} ({})",
                self.url,
                self.image_volid(),
                self.node,
                self.placement
            ));
        }
        steps.push(format!(
            "create VM {} ({}): disk imported from it onto {}, cloud-init drive, serial console, {} core(s), {} memory",
            self.name, self.vmid, self.storage, self.cores, self.memory
        ));
        steps.push(format!(
            "convert {} ({}) to a template",
            self.name, self.vmid
        ));
        steps
    }

    pub fn preview(&self) -> String {
        super::plan::numbered(&format!("Plan for template {}", self.name), &self.steps())
    }

    pub fn to_value(&self) -> Value {
        let mut r = Record::new();
        r.insert("vmid", Value::Int(i64::from(self.vmid)));
        r.insert("name", Value::String(self.name.clone()));
        r.insert("node", Value::String(self.node.clone()));
        r.insert("image", Value::String(self.image_volid()));
        r.insert("download", Value::Bool(!self.reuse_image));
        r.insert("storage", Value::String(self.storage.clone()));
        r.insert("url", Value::String(self.url.clone()));
        Value::Record(r)
    }

    fn target(&self) -> Target {
        Target {
            node: self.node.clone(),
            vmid: self.vmid,
            name: self.name.clone(),
            kind: GuestKind::Qemu,
        }
    }
}

/// The file name an image URL is saved as: its last path segment, `.img` saved as `.qcow2`
/// (cloud `.img` files are qcow2 images, and `import` storage wants a disk-image suffix).
pub fn file_name(url: &str) -> std::result::Result<String, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("'{url}' is not an http:// or https:// URL"))?;
    let path = rest.split(['?', '#']).next().unwrap_or(rest);
    let file = path
        .rsplit_once('/')
        .map(|(_, f)| f)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| format!("'{url}' names no file"))?;
    let (stem, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| format!("'{file}' has no type suffix"))?;
    match ext {
        "img" => Ok(format!("{stem}.qcow2")),
        e if IMAGE_TYPES.contains(&e) => Ok(file.to_string()),
        e => Err(format!(
            "'{file}' is a .{e} file; a cloud image is .qcow2, .img, .raw or .vmdk"
        )),
    }
}

/// A template name from the image's file name: `debian-12-genericcloud-amd64`.
pub fn name_from_file(file: &str) -> String {
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let mut out = String::new();
    for ch in stem.chars() {
        let ch = ch.to_ascii_lowercase();
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// The node: the one asked for, else the online node with the most free memory; it must have a
/// storage with `import` content and the disk storage. Returns (node, why, image storage).
fn place(inv: &Inventory, storage: &str, asked: Option<&str>) -> Result<(String, String, String)> {
    let import_on = |node: &str| {
        inv.storages()
            .iter()
            .filter(|s| s.node == node && s.content.iter().any(|c| c == "import"))
            .map(|s| s.storage.clone())
            .min()
    };
    let has_storage = |node: &str| {
        inv.storages()
            .iter()
            .any(|s| s.storage == storage && s.node == node)
    };
    if let Some(node) = asked {
        if !inv
            .nodes()
            .iter()
            .any(|n| n.node == node && n.status == "online")
        {
            return Err(
                Error::not_found(format!("no online node '{node}'")).hinted("`nodes` lists them")
            );
        }
        let image = import_on(node).ok_or_else(|| {
            Error::usage(format!(
                "node {node} has no storage that takes imported images (content 'import')"
            ))
            .hinted("enable the 'import' content type on a directory storage of that node")
        })?;
        if !has_storage(node) {
            return Err(
                Error::usage(format!("node {node} has no storage {storage}"))
                    .hinted("name another one with --storage"),
            );
        }
        return Ok((node.to_string(), "asked for".to_string(), image));
    }
    inv.nodes()
        .iter()
        .filter(|n| n.status == "online" && has_storage(&n.node))
        .filter_map(|n| import_on(&n.node).map(|s| (n, s)))
        .max_by_key(|(n, _)| (n.maxmem.saturating_sub(n.mem), std::cmp::Reverse(n.node.clone())))
        .map(|(n, s)| (n.node.clone(), "most free memory".to_string(), s))
        .ok_or_else(|| {
            Error::not_found(format!(
                "no online node has both {storage} and a storage that takes imported images (content 'import')"
            ))
            .hinted("enable the 'import' content type on a directory storage")
        })
}

/// Plans the template. Reads only.
pub async fn resolve(ctx: &mut Ctx, config: &Config, args: &TemplateArgs) -> Result<TemplatePlan> {
    let bad = |m: String| Error::usage(m);
    let file = file_name(&args.url).map_err(|m| {
        bad(m).hinted("new-template https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2")
    })?;
    let name = match &args.name {
        Some(n) => validate::name(n).map_err(bad)?,
        None => validate::name(&name_from_file(&file))
            .map_err(|m| bad(m).hinted("give the template's name after the URL"))?,
    };
    let inv = ctx.refresh().await?;
    if let Some(g) = inv.guests().iter().find(|g| g.name == name) {
        return Err(Error::usage(format!(
            "a guest named {name} already exists ({} on {})",
            g.vmid, g.node
        ))
        .hinted("give the template another name after the URL"));
    }
    plan::check_vm_count(config, &inv)?;
    let storage = args
        .storage
        .clone()
        .or_else(|| config.defaults.storage.clone())
        .unwrap_or_else(|| DEFAULT_STORAGE.to_string());
    let (node, placement, image_storage) = place(&inv, &storage, args.node.as_deref())?;
    let volid = format!("{image_storage}:import/{file}");
    let listed = ctx
        .get(&endpoints::storage_content(
            &node,
            &image_storage,
            Some("import"),
            None,
        ))
        .await?;
    let reuse_image = listed
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| v.get("volid").and_then(Json::as_str) == Some(volid.as_str()));
    let vmid = provision::allocate_vmid(ctx, config, &inv, args.vmid, None).await?;
    Ok(TemplatePlan {
        url: args.url.clone(),
        name,
        vmid,
        node,
        placement,
        image_storage,
        file,
        reuse_image,
        storage,
        bridge: config
            .defaults
            .bridge
            .clone()
            .unwrap_or_else(|| DEFAULT_BRIDGE.to_string()),
        cores: 2,
        memory: Size::from_bytes(2 << 30),
    })
}

/// Runs a task, showing the progress its log reports under `label` (a bar on a terminal, else
/// a line at each tenth through `ctx.note`); when it ends well after reporting its size, says
/// `finished` with the size.
async fn run_noting(
    ctx: &mut Ctx,
    exec: &Executor,
    action: &Action,
    opts: &BuildOptions,
    (label, finished): (&str, Option<String>),
) -> std::result::Result<(), ApiError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let wait = WaitOptions {
        timeout: Some(opts.task_timeout),
        ..WaitOptions::default()
    };
    let label = label.to_string();
    let work = async move {
        let mut bar = Bar::with_lines(&label, Unit::Percent, move |line| {
            let _ = tx.send(line.to_string());
        });
        let mut last = None;
        let mut length = None;
        let done = {
            let mut on_log = |line: &str| {
                if let Some(n) = log_length(line) {
                    length = Some(n);
                }
                if let Some(p) = log_progress(line).map(|p| p.of_total(length)) {
                    bar.update(&p);
                    last = Some(p);
                }
            };
            exec.call(action, &wait, &mut on_log).await.map(|_| ())
        };
        match (&done, last.and_then(|p| p.total), finished) {
            (Ok(()), Some(total), Some(msg)) => {
                bar.finish(&format!("{msg} ({})", crate::lang::format_size(total)));
            }
            (Ok(()), None, Some(msg)) => bar.finish(&msg),
            _ => bar.clear(),
        }
        done
    };
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => {
                while let Ok(line) = rx.try_recv() {
                    ctx.note(&line);
                }
                return done;
            }
            Some(line) = rx.recv() => ctx.note(&line),
        }
    }
}

/// Removes the image this run downloaded, if it is there.
async fn remove_image(ctx: &mut Ctx, plan: &TemplatePlan, opts: &BuildOptions) -> Option<String> {
    let volid = plan.image_volid();
    let listed = ctx
        .client
        .get(&endpoints::storage_content(
            &plan.node,
            &plan.image_storage,
            Some("import"),
            None,
        ))
        .await
        .ok()?;
    let there = listed
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| v.get("volid").and_then(Json::as_str) == Some(volid.as_str()));
    if !there {
        return None;
    }
    ctx.note(&format!("rolling back: removing {volid}…"));
    let remove = Action::on(
        Op::DeleteVolume {
            storage: plan.image_storage.clone(),
            volume: volid.clone(),
        },
        staging::Target::node(&plan.node),
        "",
    );
    let exec = ctx.staging.executor(&ctx.client);
    match run_step(&exec, &remove, opts).await {
        Ok(()) => None,
        Err(e) => Some(format!(
            "{volid} could not be removed ({e}): remove it by hand"
        )),
    }
}

/// Builds the template of `plan`. On failure removes the VM and the image this run created.
pub async fn build(ctx: &mut Ctx, plan: &TemplatePlan, opts: &BuildOptions) -> Result<()> {
    let target = plan.target();
    let mut work: Vec<(&str, Action)> = Vec::new();
    if !plan.reuse_image {
        work.push(("download", plan.download_action()));
    }
    work.push(("create", plan.create_action()));
    work.push((
        "template",
        Action::on(Op::Template, target.staging(), "stopped"),
    ));
    let total = work.len();
    // An interrupted run destroys the VM once it exists (see `Guard`); the image stays.
    let exec = ctx.staging.executor(&ctx.client);
    let mut guard = Guard::new(&exec, opts);
    guard.arm(target.clone());
    for (i, (what, req)) in work.iter().enumerate() {
        ctx.note(&format!(
            "[{}/{total}] {what} {} ({})…",
            i + 1,
            plan.name,
            plan.vmid
        ));
        let shown = match *what {
            "download" => (
                format!("  download {}", plan.file),
                Some(format!("  downloaded {}", plan.file)),
            ),
            _ => (format!("  {what} {}", plan.name), None),
        };
        if let Err(e) = run_noting(ctx, &exec, req, opts, (&shown.0, shown.1)).await {
            let cleanup = rollback(ctx, &target, opts).await;
            let image = if plan.reuse_image {
                None
            } else {
                remove_image(ctx, plan, opts).await
            };
            guard.disarm();
            let err = failed(&target, what, e, cleanup);
            return Err(match image {
                Some(left) => Error::new(err.kind, format!("{}; {left}", err.message)),
                None => err,
            });
        }
    }
    guard.disarm();
    let example = match ctx.refresh().await {
        Ok(inv) => free_name(&inv, "vm"),
        Err(_) => "NAME".to_string(),
    };
    ctx.note(&format!(
        "{} ({}) is a template: new {example} --template {}",
        plan.name, plan.vmid, plan.name
    ));
    Ok(())
}

/// A name no guest has, for an example line: `vm01`, else `vm02`, ...
fn free_name(inv: &Inventory, stem: &str) -> String {
    (1..)
        .map(|i| format!("{stem}{i:02}"))
        .find(|name| !inv.guests().iter().any(|g| g.name == *name))
        .unwrap_or_else(|| stem.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_name_is_free() {
        let inv = Inventory::from_resources(&serde_json::json!([
            {"type": "qemu", "vmid": 101, "name": "vm01", "node": "pve1", "status": "running"},
            {"type": "qemu", "vmid": 102, "name": "vm03", "node": "pve1", "status": "running"},
        ]))
        .unwrap();
        assert_eq!(free_name(&inv, "vm"), "vm02");
        assert_eq!(free_name(&Inventory::default(), "vm"), "vm01");
    }

    #[test]
    fn file_names_from_urls() {
        let check = |url: &str, want: std::result::Result<&str, &str>| {
            let got = file_name(url);
            match want {
                Ok(f) => assert_eq!(got.as_deref(), Ok(f), "{url}"),
                Err(part) => assert!(
                    got.as_ref().is_err_and(|e| e.contains(part)),
                    "{url}: {got:?}"
                ),
            }
        };
        check(
            "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2",
            Ok("debian-12-genericcloud-amd64.qcow2"),
        );
        check(
            "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img",
            Ok("noble-server-cloudimg-amd64.qcow2"),
        );
        check("https://example.com/x.raw?sig=1", Ok("x.raw"));
        check("ftp://example.com/x.qcow2", Err("not an http"));
        check("https://example.com/", Err("names no file"));
        check("https://example.com/x.iso", Err("a .iso file"));
        check("https://example.com/image", Err("no type suffix"));
    }

    #[test]
    fn names_from_files() {
        let check = |file: &str, want: &str| assert_eq!(name_from_file(file), want, "{file}");
        check(
            "debian-12-genericcloud-amd64.qcow2",
            "debian-12-genericcloud-amd64",
        );
        check("Noble_Server.cloudimg.qcow2", "noble-server-cloudimg");
        check("--x--.raw", "x");
    }

    #[test]
    fn the_create_request_imports_the_disk() {
        let plan = TemplatePlan {
            url: "https://example.com/debian.qcow2".into(),
            name: "debian-12-cloud".into(),
            vmid: 9100,
            node: "pve1".into(),
            placement: "asked for".into(),
            image_storage: "local".into(),
            file: "debian.qcow2".into(),
            reuse_image: false,
            storage: "local-lvm".into(),
            bridge: "vmbr0".into(),
            cores: 2,
            memory: Size::from_bytes(2 << 30),
        };
        let req = plan.create_action().request();
        let get = |k: &str| req.value(k).map(str::to_string);
        assert_eq!(
            get("scsi0").as_deref(),
            Some("local-lvm:0,import-from=local:import/debian.qcow2")
        );
        assert_eq!(get("ide2").as_deref(), Some("local-lvm:cloudinit"));
        assert_eq!(get("serial0").as_deref(), Some("socket"));
        let dl = plan.download_action().request();
        assert_eq!(dl.path, "/nodes/pve1/storage/local/download-url");
        assert_eq!(dl.value("content"), Some("import"));
        assert_eq!(plan.steps().len(), 3);
    }
}
