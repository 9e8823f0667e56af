//! `POST /nodes/{node}/lxc`: creating a container from a template archive (a `vztmpl` volume).
//!
//! The container exists (locked `create`) as soon as the call returns, as in PVE; the
//! `vzcreate` task unpacks the archive and releases the lock, and starts the container when
//! asked. The root file system (`rootfs: STORAGE:GiB`) becomes a new volume. With `restore`
//! the call is a restore from a backup (`qemu_ops::restore`). Must not touch other guests.

use indexmap::IndexMap;

use super::guest::allocate_disk;
use super::{ApiError, Ctx, NODE, Perm, Reply, Route, VMID, route};
use crate::sim::state::{Guest, GuestKind};
use crate::sim::tasks::Effect;

pub fn routes() -> Vec<Route> {
    vec![
        route(
            "POST",
            "/nodes/{node}/lxc",
            "create_vm",
            "string",
            Perm::All,
            &[
                NODE, VMID,
                "ostemplate:string maxlen=255",
                "arch?:string enum=amd64|i386|arm64|armhf|riscv32|riscv64",
                "cores?:integer min=1 max=8192",
                "description?:string maxlen=8192",
                "force?:boolean",
                "hostname?:string fmt=dns-name maxlen=255",
                "memory?:integer min=16",
                "nameserver?:string fmt=lxc-ip-with-ll-iface-list",
                "net[n]?:string idx=0..31 props=lxcnet",
                "onboot?:boolean",
                "ostype?:string enum=debian|devuan|ubuntu|centos|fedora|opensuse|archlinux|alpine|gentoo|nixos|unmanaged",
                "pool?:string fmt=pve-poolid",
                "restore?:boolean",
                "rootfs?:string props=lxcdisk",
                "searchdomain?:string fmt=dns-name-list",
                "ssh-public-keys?:string",
                "start?:boolean",
                "storage?:string fmt=pve-storage-id",
                "swap?:integer min=0",
                "tags?:string fmt=pve-tag-list",
                "unique?:boolean",
                "unprivileged?:boolean",
            ],
            create_ct,
        )
        .protected()
        .desc("Create or restore a container."),
    ]
}

/// The OS type PVE detects from the archive; here, from its file name.
fn ostype_of(template: &str) -> &'static str {
    let file = template.rsplit('/').next().unwrap_or(template);
    [
        "ubuntu",
        "alpine",
        "centos",
        "fedora",
        "archlinux",
        "devuan",
    ]
    .into_iter()
    .find(|o| file.starts_with(o))
    .unwrap_or("debian")
}

fn create_ct(c: &mut Ctx) -> Result<Reply, ApiError> {
    if c.flag("restore") {
        let archive = c.req("ostemplate")?.to_string();
        return super::qemu_ops::restore(c, &archive, GuestKind::Lxc);
    }
    c.check_node()?;
    let vmid = c.vmid();
    let pool = c.str("pool").map(str::to_string);
    match &pool {
        Some(p) => c.check(&format!("/pool/{p}"), &["VM.Allocate"], false)?,
        None => c.check(&format!("/vms/{vmid}"), &["VM.Allocate"], false)?,
    }
    if let Some(g) = c.state.guests.get(&vmid) {
        return Err(ApiError::fail(format!(
            "unable to create CT {vmid} - CT {vmid} already exists on node '{}'",
            g.node
        )));
    }
    if let Some(p) = &pool
        && !c.state.pools.contains_key(p)
    {
        return Err(ApiError::fail(format!("pool '{p}' does not exist")));
    }
    let node = c.node().to_string();
    let template = c.req("ostemplate")?.to_string();
    let found = c.state.volumes.iter().any(|v| {
        v.volid == template && v.content == "vztmpl" && v.node.as_deref().is_none_or(|n| n == node)
    });
    if !found {
        return Err(ApiError::param(
            "ostemplate",
            format!("volume '{template}' does not exist"),
        ));
    }
    let mut config: IndexMap<String, String> = IndexMap::new();
    config.insert("arch".into(), c.str("arch").unwrap_or("amd64").into());
    for key in [
        "cores",
        "description",
        "hostname",
        "nameserver",
        "onboot",
        "searchdomain",
        "tags",
    ] {
        if let Some(v) = c.str(key) {
            config.insert(key.into(), v.to_string());
        }
    }
    config.insert("memory".into(), c.str("memory").unwrap_or("512").into());
    let ostype = c.str("ostype").unwrap_or(ostype_of(&template)).to_string();
    config.insert("ostype".into(), ostype);
    let storage = c.str("storage").unwrap_or("local").to_string();
    let rootfs = c
        .str("rootfs")
        .map_or(format!("{storage}:4"), str::to_string);
    let mut new_vols = Vec::new();
    let rootfs = allocate_disk(c, vmid, &node, "rootfs", &rootfs, &mut new_vols)?;
    config.insert("rootfs".into(), rootfs);
    let mut nets: Vec<(String, String)> = c
        .params
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix("net")
                .is_some_and(|d| d.parse::<u32>().is_ok())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    nets.sort();
    for (key, value) in nets {
        let value = if value.contains("hwaddr=") {
            value
        } else {
            format!("{value},hwaddr={}", c.state.random_mac())
        };
        config.insert(key, value);
    }
    config.insert("swap".into(), c.str("swap").unwrap_or("512").into());
    if c.flag("unprivileged") {
        config.insert("unprivileged".into(), "1".into());
    }
    c.state.volumes.extend(new_vols);
    c.state.guests.insert(
        vmid,
        Guest::new_stopped(vmid, GuestKind::Lxc, node, config, pool.clone()),
    );
    if let Some(p) = pool.and_then(|p| c.state.pools.get_mut(&p)) {
        p.vms.push(vmid);
    }
    let effect = if c.flag("start") {
        Effect::Start { vmid }
    } else {
        Effect::None
    };
    let lines = vec![
        format!("extracting archive '{template}'"),
        "Total bytes read: 524288000 (500MiB, 250MiB/s)".to_string(),
        "Detected container architecture: amd64".to_string(),
    ];
    Ok(c.spawn(
        "vzcreate",
        vmid.to_string(),
        lines,
        Ok(()),
        effect,
        Some((vmid, "create")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ostype_from_the_archive_name() {
        let check = |t: &str, want: &str| assert_eq!(ostype_of(t), want, "{t}");
        check(
            "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            "debian",
        );
        check(
            "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
            "ubuntu",
        );
        check(
            "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz",
            "alpine",
        );
        check("local:vztmpl/other.tar.gz", "debian");
    }
}
