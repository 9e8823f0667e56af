//! `export ansible | machines.md | terraform`: the guests piped in (or every guest but the
//! templates) written for other tools. Everything here reads; nothing changes the cluster.
//!
//! - `ansible`: an Ansible dynamic inventory (JSON): groups from tags, pools, nodes and types
//!   (and clusters, for a merged set), `_meta.hostvars` with `ansible_host` from the guest agent
//!   (or the static address of the config). `pvesh-plus inventory --list` prints it, so the
//!   binary can be an inventory script; `--host NAME` gives one host's variables.
//! - `machines.md`: a Markdown table of the guests with their resources, addresses and tags.
//! - `terraform`: an `import` block and a resource for each guest, for the bpg/proxmox provider
//!   (`proxmox_virtual_environment_vm` / `_container`, imported by `NODE/VMID`).
//!
//! Records of several clusters (`ls --all-clusters | export ansible`) are looked up each in its
//! own cluster's session, and the output says which cluster a guest is on.

use futures_util::future::join_all;
use serde_json::{Map, Value as Json, json};

use super::{Arg, ArgKind, Call, Category, Command, Ctx, Output, Signature, ex, flag_text};
use crate::error::{Error, Result};
use crate::inventory::{Guest, GuestKind};
use crate::lang::Value;

pub static EXPORT: Command = Command {
    sig: Signature {
        name: "export",
        category: Category::Read,
        about: "Write the guests (piped in, or all but templates) for other tools: an Ansible inventory (JSON), a machines.md table, or Terraform import blocks and resources (bpg/proxmox).",
        args: &[
            Arg::pos(
                "format",
                ArgKind::Choice(FORMATS),
                "ansible, machines.md or terraform",
            ),
            Arg::flag(
                "--host",
                ArgKind::Vm,
                "ansible: only this host's variables (an inventory script's --host)",
            ),
        ],
        action: None,
        fields: &[],
        examples: &[
            ex("export ansible", "an Ansible inventory of every guest"),
            ex(
                "ls | where tags has db | export machines.md",
                "a Markdown table of the database guests",
            ),
            ex(
                "ls | where name=web01 | export terraform",
                "an import block and a resource for web01",
            ),
        ],
    },
    run: |ctx, call| Box::pin(run(ctx, call)),
};

const FORMATS: &[&str] = &["ansible", "machines.md", "terraform"];

/// A guest to write, with what was looked up for it.
struct Entry {
    /// The cluster it is on, when the records came from several.
    cluster: Option<String>,
    guest: Guest,
    /// Where to reach it: agent address or static IP; `None` when there is none.
    address: Option<String>,
    /// Its configuration (Terraform only).
    config: Option<Json>,
}

async fn run(ctx: &mut Ctx, call: Call) -> Result<Output> {
    let format = call
        .args
        .positionals
        .first()
        .map(|w| w.text.clone())
        .ok_or_else(|| {
            Error::usage("export: which format?").hinted(format!("export {}", FORMATS.join(" | ")))
        })?;
    if !FORMATS.contains(&format.as_str()) {
        return Err(Error::usage(format!("export: unknown format '{format}'"))
            .hinted(format!("formats: {}", FORMATS.join(", "))));
    }
    let host = flag_text(&call, "host");
    if host.is_some() && format != "ansible" {
        return Err(Error::usage("export: --host is for `export ansible`")
            .hinted("export ansible --host web01"));
    }
    let terraform = format == "terraform";
    let mut entries = entries(ctx, &call.input, terraform).await?;
    entries.sort_by(|a, b| (&a.cluster, a.guest.vmid).cmp(&(&b.cluster, b.guest.vmid)));
    let text = match format.as_str() {
        "ansible" => {
            let inventory = ansible(&entries);
            let doc = match &host {
                Some(h) => inventory["_meta"]["hostvars"]
                    .get(h)
                    .cloned()
                    .unwrap_or_else(|| json!({})),
                None => inventory,
            };
            let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
            text.push('\n');
            text
        }
        "machines.md" => machines_md(&ctx.cluster, &entries),
        _ => terraform_text(&ctx.cluster, &entries),
    };
    Ok(Output::value(Value::String(text)).raw())
}

/// The guests of the records piped in (each in its cluster's session), or every guest of the
/// current cluster but the templates; with addresses, and configs for Terraform.
async fn entries(ctx: &mut Ctx, input: &Value, with_config: bool) -> Result<Vec<Entry>> {
    let mut wanted: Vec<(Option<String>, u32)> = Vec::new();
    let items: &[Value] = match input {
        Value::List(items) => items,
        Value::Record(_) => std::slice::from_ref(input),
        Value::Null => &[],
        other => {
            return Err(Error::usage(format!(
                "export takes guest records, not {}",
                other.type_name()
            ))
            .hinted("ls | where tags has prod | export ansible"));
        }
    };
    for item in items {
        let Some(r) = item.as_record() else { continue };
        let vmid = r
            .get("vmid")
            .and_then(|v| v.display().parse::<u32>().ok())
            .ok_or_else(|| {
                Error::usage("export: a record piped in has no vmid")
                    .hinted("pipe guests: ls | where ... | export ansible")
            })?;
        let cluster = r.get("cluster").and_then(Value::as_str).map(str::to_string);
        wanted.push((cluster, vmid));
    }
    let several = {
        let mut clusters: Vec<&Option<String>> = wanted.iter().map(|(c, _)| c).collect();
        clusters.dedup();
        clusters.len() > 1 || clusters.first().is_some_and(|c| c.is_some())
    };
    let mut entries: Vec<Entry> = Vec::new();
    if matches!(input, Value::Null) {
        let inv = ctx.inventory().await?;
        for g in inv.guests().iter().filter(|g| !g.template) {
            entries.push(entry(None, g.clone()));
        }
        fill(ctx, &mut entries, with_config).await;
        return Ok(entries);
    }
    // Grouped by cluster, each looked up in that cluster's session.
    let mut clusters: Vec<Option<String>> = Vec::new();
    for (c, _) in &wanted {
        if !clusters.contains(c) {
            clusters.push(c.clone());
        }
    }
    let current = ctx.cluster.clone();
    for cluster in clusters {
        let name = cluster.clone().unwrap_or_else(|| current.clone());
        let Some(session) = ctx.on_cluster(&name) else {
            return Err(Error::usage(format!(
                "export: guests of cluster {name}, which this session is not connected to"
            ))
            .hinted(format!(
                "read them in this session: ls --cluster {name} | export ..."
            )));
        };
        let inv = session.inventory().await?;
        let mut mine: Vec<Entry> = Vec::new();
        for (_, vmid) in wanted.iter().filter(|(c, _)| *c == cluster) {
            let g = inv.guest(*vmid).ok_or_else(|| {
                Error::not_found(format!("export: no guest {vmid} on cluster {name}"))
            })?;
            let label = several.then(|| name.clone());
            mine.push(entry(label, g.clone()));
        }
        fill(session, &mut mine, with_config).await;
        entries.extend(mine);
    }
    Ok(entries)
}

fn entry(cluster: Option<String>, guest: Guest) -> Entry {
    Entry {
        cluster,
        guest,
        address: None,
        config: None,
    }
}

/// Looks up addresses (and configs) eight guests at a time.
async fn fill(ctx: &Ctx, entries: &mut [Entry], with_config: bool) {
    for chunk in entries.chunks_mut(8) {
        let looked = join_all(chunk.iter().map(|e| async {
            let address = super::guest_ip::reach_address(ctx, &e.guest).await.ok();
            let config = if with_config {
                let req =
                    crate::api::endpoints::guest_config(e.guest.kind, &e.guest.node, e.guest.vmid);
                ctx.get(&req).await.ok()
            } else {
                None
            };
            (address, config)
        }))
        .await;
        for (e, (address, config)) in chunk.iter_mut().zip(looked) {
            e.address = address;
            e.config = config;
        }
    }
}

/// An Ansible group name: letters, digits and `_` only.
fn group_name(prefix: &str, value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{clean}")
}

/// Each entry's host name: its guest name, made unique with the VMID (and cluster) when two
/// guests share one.
fn host_names(entries: &[Entry]) -> Vec<String> {
    let count = |name: &str| entries.iter().filter(|e| e.guest.name == name).count();
    let mut names: Vec<String> = entries
        .iter()
        .map(|e| {
            if count(&e.guest.name) > 1 {
                format!("{}-{}", e.guest.name, e.guest.vmid)
            } else {
                e.guest.name.clone()
            }
        })
        .collect();
    for i in 0..names.len() {
        if names.iter().filter(|n| **n == names[i]).count() > 1
            && let Some(c) = &entries[i].cluster
        {
            names[i] = format!("{}-{c}-{}", entries[i].guest.name, entries[i].guest.vmid);
        }
    }
    names
}

/// The dynamic-inventory document `ansible-inventory --list` expects.
fn ansible(entries: &[Entry]) -> Json {
    let names = host_names(entries);
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut hostvars = Map::new();
    for (e, host) in entries.iter().zip(&names) {
        let g = &e.guest;
        let mut member = |group: String| groups.entry(group).or_default().push(host.clone());
        for tag in &g.tags {
            member(group_name("tag", tag));
        }
        if let Some(pool) = &g.pool {
            member(group_name("pool", pool));
        }
        member(group_name("node", &g.node));
        member(group_name("type", g.kind.as_str()));
        if let Some(c) = &e.cluster {
            member(group_name("cluster", c));
        }
        let mut vars = Map::new();
        if let Some(a) = &e.address {
            vars.insert("ansible_host".into(), json!(a));
        }
        vars.insert("vmid".into(), json!(g.vmid));
        vars.insert("node".into(), json!(g.node));
        vars.insert("status".into(), json!(g.status));
        vars.insert("type".into(), json!(g.kind.as_str()));
        vars.insert("tags".into(), json!(g.tags));
        if let Some(pool) = &g.pool {
            vars.insert("pool".into(), json!(pool));
        }
        if let Some(c) = &e.cluster {
            vars.insert("cluster".into(), json!(c));
        }
        hostvars.insert(host.clone(), Json::Object(vars));
    }
    let mut doc = Map::new();
    let children: Vec<&String> = groups.keys().collect();
    doc.insert("all".into(), json!({ "children": children }));
    for (group, hosts) in &groups {
        doc.insert(group.clone(), json!({ "hosts": hosts }));
    }
    doc.insert("_meta".into(), json!({ "hostvars": hostvars }));
    Json::Object(doc)
}

/// The machines.md document of the guests, as they are now (one renderer with `profile up`'s).
fn machines_md(cluster: &str, entries: &[Entry]) -> String {
    let rows: Vec<crate::runbook::definitions::MachineRow> = entries
        .iter()
        .map(|e| crate::runbook::definitions::MachineRow {
            cluster: e.cluster.clone(),
            name: e.guest.name.clone(),
            vmid: e.guest.vmid,
            node: e.guest.node.clone(),
            kind: e.guest.kind.as_str().to_string(),
            status: e.guest.status.clone(),
            cores: e.guest.maxcpu,
            memory: e.guest.maxmem,
            disk: e.guest.maxdisk,
            addresses: e.address.iter().cloned().collect(),
            tags: e.guest.tags.clone(),
        })
        .collect();
    let intro = if rows.iter().any(|r| r.cluster.is_some()) {
        "Written by pvesh+ from the live state of several clusters.".to_string()
    } else {
        format!("Written by pvesh+ from the live state of cluster {cluster}.")
    };
    crate::runbook::definitions::machines_md("Machines", &intro, &rows)
}

/// A string in HCL: quotes, backslashes and template sequences escaped.
fn hcl_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Terraform resource name for a guest: `web01_101`.
fn hcl_label(e: &Entry) -> String {
    let mut name: String = e
        .guest
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert(0, '_');
    }
    match &e.cluster {
        Some(c) => format!(
            "{name}_{}_{}",
            group_name("", c).trim_start_matches('_'),
            e.guest.vmid
        ),
        None => format!("{name}_{}", e.guest.vmid),
    }
}

fn cfg_u64(cfg: Option<&Json>, key: &str) -> Option<u64> {
    let v = cfg?.get(key)?;
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

fn cfg_str<'a>(cfg: Option<&'a Json>, key: &str) -> Option<&'a str> {
    cfg?.get(key)?.as_str()
}

/// The Terraform text: an import block and a resource per guest.
fn terraform_text(cluster: &str, entries: &[Entry]) -> String {
    let mut out = format!(
        "# Written by pvesh+ from cluster {cluster}: an import block and a resource for\n\
         # each guest, for the bpg/proxmox provider. `terraform plan` shows what it\n\
         # would still change.\n"
    );
    for e in entries {
        let g = &e.guest;
        let cfg = e.config.as_ref();
        let kind = match g.kind {
            GuestKind::Qemu => "proxmox_virtual_environment_vm",
            GuestKind::Lxc => "proxmox_virtual_environment_container",
        };
        let label = hcl_label(e);
        out.push_str(&format!(
            "\nimport {{\n  to = {kind}.{label}\n  id = {}\n}}\n\n",
            hcl_string(&format!("{}/{}", g.node, g.vmid))
        ));
        out.push_str(&format!("resource \"{kind}\" \"{label}\" {{\n"));
        let mut attr = |k: &str, v: String| out.push_str(&format!("  {k:<11} = {v}\n"));
        if g.kind == GuestKind::Qemu {
            attr("name", hcl_string(&g.name));
        }
        attr("node_name", hcl_string(&g.node));
        attr("vm_id", g.vmid.to_string());
        if let Some(d) = cfg_str(cfg, "description") {
            attr("description", hcl_string(d.trim_end()));
        }
        let tags: Vec<String> = g.tags.iter().map(|t| hcl_string(t)).collect();
        attr("tags", format!("[{}]", tags.join(", ")));
        if g.template {
            attr("template", "true".into());
        } else {
            attr("started", (g.status == "running").to_string());
        }
        if g.kind == GuestKind::Qemu
            && let Some(onboot) = cfg_u64(cfg, "onboot")
        {
            attr("on_boot", (onboot == 1).to_string());
        }
        let cores = cfg_u64(cfg, "cores").unwrap_or(g.maxcpu.max(1));
        let memory = cfg_u64(cfg, "memory").unwrap_or(g.maxmem >> 20);
        out.push_str("\n  cpu {\n");
        out.push_str(&format!("    cores = {cores}\n"));
        if g.kind == GuestKind::Qemu {
            out.push_str(&format!(
                "    sockets = {}\n",
                cfg_u64(cfg, "sockets").unwrap_or(1)
            ));
            if let Some(t) = cfg_str(cfg, "cpu") {
                let t = t.split(',').next().unwrap_or(t);
                out.push_str(&format!("    type = {}\n", hcl_string(t)));
            }
        }
        out.push_str("  }\n\n  memory {\n");
        out.push_str(&format!("    dedicated = {memory}\n"));
        match g.kind {
            GuestKind::Qemu => {
                if let Some(b) = cfg_u64(cfg, "balloon") {
                    out.push_str(&format!("    floating = {b}\n"));
                }
            }
            GuestKind::Lxc => {
                if let Some(s) = cfg_u64(cfg, "swap") {
                    out.push_str(&format!("    swap = {s}\n"));
                }
            }
        }
        out.push_str("  }\n");
        if g.kind == GuestKind::Lxc {
            out.push_str(&format!(
                "\n  initialization {{\n    hostname = {}\n  }}\n",
                hcl_string(cfg_str(cfg, "hostname").unwrap_or(&g.name))
            ));
        }
        out.push_str("}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_escape_quotes_and_templates() {
        assert_eq!(hcl_string(r#"a "b" \ c"#), r#""a \"b\" \\ c""#);
        assert_eq!(hcl_string("${x} %{y} $z"), r#""$${x} %%{y} $z""#);
        assert_eq!(hcl_string("two\nlines"), r#""two\nlines""#);
    }

    #[test]
    fn group_names_are_identifiers() {
        assert_eq!(group_name("tag", "k8s-prod.eu"), "tag_k8s_prod_eu");
        assert_eq!(group_name("node", "pve1"), "node_pve1");
    }
}
