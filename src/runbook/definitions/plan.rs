//! The plan of a definitions file against the live cluster: which guests to create, which keys
//! to change (and when each takes effect), which live guests are not declared, and what
//! conflicts. Pure: the caller reads the cluster and passes it in; [`diff`] returns the rows of
//! the plan and the [`Action`]s that carry it out (the clone, create, set, resize, disk and
//! destroy actions every other command stages).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value as Json};

use super::format::{DefinitionsFile, GuestDef, Mode, Nic, VmidSpec, disk_spec};
use crate::api::GuestKind;
use crate::config::Config;
use crate::staging::{Action, ConfigChange, Op, Precondition, Target, policy};

/// A live guest as the plan sees it; `config` is read for the guests the file names (and
/// templates it clones), empty for the others.
#[derive(Debug, Clone, Default)]
pub struct LiveGuest {
    pub vmid: u32,
    pub name: String,
    pub node: String,
    pub kind: Option<GuestKind>,
    pub status: String,
    pub template: bool,
    pub tags: Vec<String>,
    pub config: Map<String, Json>,
}

impl LiveGuest {
    fn target(&self) -> Target {
        Target {
            vmid: self.vmid,
            node: self.node.clone(),
            guest_kind: self.kind.unwrap_or(GuestKind::Qemu),
            name: self.name.clone(),
        }
    }

    fn precondition(&self) -> Precondition {
        Precondition {
            digest: policy::config_text(&self.config, "digest"),
            node: self.node.clone(),
            status: self.status.clone(),
        }
    }
}

/// What a row of the plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Create,
    Set,
    Resize,
    AddDisk,
    /// Live, not declared: reported only.
    Undeclared,
    /// Live, not declared, and `--prune`: destroyed.
    Destroy,
    /// Declared and live, different, and not changed by `apply` (the node).
    Differs,
    /// A change to an imported guest (or a protected one): `apply` refuses.
    Refused,
    /// The file and the cluster disagree in a way no change resolves.
    Conflict,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Set => "set",
            Change::Resize => "resize",
            Change::AddDisk => "add-disk",
            Change::Undeclared => "undeclared",
            Change::Destroy => "destroy",
            Change::Differs => "differs",
            Change::Refused => "refused",
            Change::Conflict => "conflict",
        }
    }
}

/// One row of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub change: Change,
    pub guest: String,
    pub vmid: Option<u32>,
    pub node: String,
    pub key: String,
    pub from: String,
    pub to: String,
    /// `applies now`, `waits for a reboot`, or empty.
    pub when: String,
    pub note: String,
}

/// A guest the plan creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub name: String,
    pub vmid: u32,
    pub node: String,
    /// The cloud-init user, for the hooks' SSH.
    pub user: Option<String>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub rows: Vec<Row>,
    pub actions: Vec<Action>,
    pub created: Vec<Created>,
}

impl Plan {
    /// The rule-naming messages of the refused rows.
    pub fn refusals(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.change == Change::Refused)
            .collect()
    }

    pub fn conflicts(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| r.change == Change::Conflict)
            .collect()
    }
}

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Stage the destruction of live guests in scope that the file does not declare.
    pub prune: bool,
    /// Only these declared guests (a cluster profile); undeclared guests are not looked at.
    pub only: Option<BTreeSet<String>>,
}

/// Whether the plan needs `g`'s config: the file names it, or clones it.
pub fn needs_config(file: &DefinitionsFile, g: &LiveGuest) -> bool {
    file.guests.iter().any(|d| {
        d.name == g.name
            || d.vmid.is_some_and(|v| v.contains(g.vmid))
            || d.template
                .as_deref()
                .is_some_and(|t| t == g.name || t == g.vmid.to_string())
    })
}

fn row(change: Change, d: &str, vmid: Option<u32>, node: &str) -> Row {
    Row {
        change,
        guest: d.to_string(),
        vmid,
        node: node.to_string(),
        key: String::new(),
        from: String::new(),
        to: String::new(),
        when: String::new(),
        note: String::new(),
    }
}

fn conflict(d: &str, vmid: Option<u32>, note: String) -> Row {
    Row {
        note,
        ..row(Change::Conflict, d, vmid, "")
    }
}

fn normal_tags(text: &str) -> Vec<String> {
    let mut t: Vec<String> = text
        .split([';', ',', ' '])
        .filter(|t| !t.is_empty())
        .map(|t| t.to_ascii_lowercase())
        .collect();
    t.sort();
    t.dedup();
    t
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The property string of a network device: `cfg` as it is with the declared fields put in.
const MODELS: &[&str] = &["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"];

fn nic_value(live: Option<&str>, nic: &Nic, config: &Config) -> String {
    let mut parts: Vec<(String, String)> = live
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();
    if parts.is_empty() {
        let model = nic.model.clone().unwrap_or_else(|| "virtio".into());
        let bridge = nic
            .bridge
            .clone()
            .or_else(|| config.defaults.bridge.clone())
            .unwrap_or_else(|| "vmbr0".into());
        parts.push((model, String::new()));
        parts.push(("bridge".into(), bridge));
    }
    if let Some(m) = &nic.model
        && let Some(p) = parts.iter_mut().find(|(k, _)| MODELS.contains(&k.as_str()))
    {
        p.0 = m.clone();
    }
    let mut put = |key: &str, value: String| match parts.iter_mut().find(|(k, _)| k == key) {
        Some(p) => p.1 = value,
        None => parts.push((key.to_string(), value)),
    };
    if let Some(b) = &nic.bridge {
        put("bridge", b.clone());
    }
    if let Some(v) = nic.vlan {
        put("tag", v.to_string());
    }
    if let Some(f) = nic.firewall {
        put("firewall", u8::from(f).to_string());
    }
    parts
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect::<Vec<_>>()
        .join(",")
}

/// The config keys a definition sets, in PVE's form, given the config it starts from.
fn desired(d: &GuestDef, cfg: &Map<String, Json>, config: &Config) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let r = &d.resources;
    if let Some(c) = r.cores {
        out.insert("cores".into(), c.to_string());
    }
    if let Some(s) = r.sockets {
        out.insert("sockets".into(), s.to_string());
    }
    if let Some(m) = d.memory_mib() {
        out.insert("memory".into(), m.to_string());
    }
    if let Some(b) = d.balloon_mib() {
        out.insert("balloon".into(), b.to_string());
    }
    if let Some(o) = d.onboot {
        out.insert("onboot".into(), u8::from(o).to_string());
    }
    if let Some(t) = &d.description {
        out.insert("description".into(), t.clone());
    }
    if let Some(t) = &d.tags {
        out.insert("tags".into(), t.join(";"));
    }
    if let Some(ci) = &d.cloudinit {
        if let Some(u) = &ci.user {
            out.insert("ciuser".into(), u.clone());
        }
        if !ci.ssh_keys.is_empty() {
            out.insert(
                "sshkeys".into(),
                crate::wizard::plan::encode_sshkeys(&ci.ssh_keys.join("\n")),
            );
        }
        if let Some(i) = &ci.ipconfig {
            out.insert("ipconfig0".into(), i.clone());
        }
        if let Some(n) = &ci.nameserver {
            out.insert("nameserver".into(), n.clone());
        }
    }
    for (key, nic) in &d.network {
        let live = policy::config_text(cfg, key);
        out.insert(key.clone(), nic_value(live.as_deref(), nic, config));
    }
    out
}

/// Whether the live value of `key` already is `want`.
fn same(key: &str, live: Option<&str>, want: &str) -> bool {
    let live = live.unwrap_or_default();
    match key {
        "tags" => normal_tags(live) == normal_tags(want),
        "sshkeys" => decode(live).trim() == decode(want).trim(),
        "description" => live.trim_end() == want.trim_end(),
        "onboot" => (if live.is_empty() { "0" } else { live }) == want,
        _ => live == want,
    }
}

/// A disk's size in GiB from its config value (`local-lvm:vm-1-disk-0,size=32G`).
fn disk_gib(value: &str) -> Option<u64> {
    let size = value.split(',').find_map(|p| p.strip_prefix("size="))?;
    let bytes = crate::lang::parse_size(size)?;
    Some(bytes.div_ceil(1 << 30))
}

/// The disk actions and rows that bring `cfg`'s disks to the declared ones.
fn disk_changes(
    d: &GuestDef,
    cfg: &Map<String, Json>,
    config: &Config,
    target: &Target,
    status: &str,
    rows: &mut Vec<Row>,
    actions: &mut Vec<Action>,
) {
    for (disk, spec) in &d.disks {
        let Some((storage, gib)) = disk_spec(spec) else {
            continue;
        };
        let base = row(Change::Resize, &d.name, Some(target.vmid), &target.node);
        match policy::config_text(cfg, disk).as_deref().and_then(disk_gib) {
            Some(have) if have == gib => {}
            Some(have) if have > gib => rows.push(Row {
                key: disk.clone(),
                from: format!("{have}G"),
                to: format!("{gib}G"),
                note: "disks only grow: shrink it by hand or fix the file".into(),
                ..row(Change::Conflict, &d.name, Some(target.vmid), &target.node)
            }),
            Some(have) => {
                rows.push(Row {
                    key: disk.clone(),
                    from: format!("{have}G"),
                    to: format!("{gib}G"),
                    when: "applies now".into(),
                    ..base
                });
                actions.push(Action::on(
                    Op::Resize {
                        disk: disk.clone(),
                        size: format!("{gib}G"),
                        from: Some(format!("{have}G")),
                        to: Some(format!("{gib}G")),
                    },
                    target.clone(),
                    status,
                ));
            }
            None => {
                let storage = storage
                    .or_else(|| config.defaults.storage.clone())
                    .unwrap_or_else(|| "local-lvm".into());
                rows.push(Row {
                    change: Change::AddDisk,
                    key: disk.clone(),
                    to: format!("{storage}:{gib}G"),
                    when: "applies now".into(),
                    ..base
                });
                actions.push(Action::on(
                    Op::DiskAdd {
                        disk: disk.clone(),
                        storage,
                        size_gib: gib,
                    },
                    target.clone(),
                    status,
                ));
            }
        }
    }
}

/// Stop (when running) and destroy `g`, unless it is protected: then a refused row.
pub fn destroy(
    g: &LiveGuest,
    config: &Config,
    why: &str,
    rows: &mut Vec<Row>,
    actions: &mut Vec<Action>,
) {
    let cfg = (!g.config.is_empty()).then_some(&g.config);
    if let Some(reason) = policy::protection_reason(config, g.vmid, &g.name, &g.tags, cfg) {
        rows.push(Row {
            note: format!("protected: {reason}"),
            ..row(Change::Refused, &g.name, Some(g.vmid), &g.node)
        });
        return;
    }
    rows.push(Row {
        note: why.to_string(),
        ..row(Change::Destroy, &g.name, Some(g.vmid), &g.node)
    });
    let pre = Precondition {
        digest: None,
        ..g.precondition()
    };
    if g.status == "running" {
        actions.push(Action::new(Op::Stop, g.target(), pre.clone()));
    }
    actions.push(Action::new(
        Op::Destroy {
            purge: true,
            unreferenced_disks: false,
        },
        g.target(),
        pre,
    ));
}

/// Compares the file with the cluster. `nodes` are the cluster's node names.
pub fn diff(
    file: &DefinitionsFile,
    live: &[LiveGuest],
    nodes: &[String],
    config: &Config,
    opts: &Options,
) -> Plan {
    let mut plan = Plan::default();
    let by_vmid: HashMap<u32, &LiveGuest> = live.iter().map(|g| (g.vmid, g)).collect();
    let mut by_name: HashMap<&str, Vec<&LiveGuest>> = HashMap::new();
    for g in live {
        by_name.entry(g.name.as_str()).or_default().push(g);
    }
    // Duplicates in the file.
    let mut seen_names = BTreeSet::new();
    let mut seen_vmids = BTreeMap::new();
    let mut skip = BTreeSet::new();
    for (i, d) in file.guests.iter().enumerate() {
        if !seen_names.insert(d.name.as_str()) {
            plan.rows.push(conflict(
                &d.name,
                None,
                format!("the name {} is declared twice", d.name),
            ));
            skip.insert(i);
        }
        if let Some(VmidSpec::One(v)) = d.vmid
            && let Some(first) = seen_vmids.insert(v, d.name.as_str())
        {
            plan.rows.push(conflict(
                &d.name,
                Some(v),
                format!("VMID {v} is declared for {first} too"),
            ));
            skip.insert(i);
        }
    }
    // VMIDs no new guest may take: every live one and every one declared.
    let mut claimed: BTreeSet<u32> = live.iter().map(|g| g.vmid).collect();
    claimed.extend(seen_vmids.keys());
    let mut matched: BTreeSet<u32> = BTreeSet::new();
    for (i, d) in file.guests.iter().enumerate() {
        if skip.contains(&i) {
            continue;
        }
        // Guests of the file outside the profile still count as declared.
        let in_scope = opts.only.as_ref().is_none_or(|o| o.contains(&d.name));
        let named = by_name.get(d.name.as_str()).cloned().unwrap_or_default();
        let found: Result<Option<&LiveGuest>, String> = match d.vmid {
            Some(VmidSpec::One(v)) => match by_vmid.get(&v) {
                Some(g) if g.name == d.name => Ok(Some(*g)),
                Some(g) => Err(format!(
                    "VMID {v} is taken by {} on {}",
                    if g.name.is_empty() {
                        "a guest"
                    } else {
                        &g.name
                    },
                    g.node
                )),
                None => match named.first() {
                    Some(g) => Err(format!(
                        "{} exists as VMID {}, the file says {v}",
                        d.name, g.vmid
                    )),
                    None => Ok(None),
                },
            },
            spec => match named.as_slice() {
                [] => Ok(None),
                [g] if spec.is_none_or(|s| s.contains(g.vmid)) => Ok(Some(*g)),
                [g] => Err(format!(
                    "{} exists as VMID {}, outside the declared range",
                    d.name, g.vmid
                )),
                many => Err(format!(
                    "{} guests are named {}: give its vmid",
                    many.len(),
                    d.name
                )),
            },
        };
        let found = match found {
            Ok(f) => f,
            Err(why) => {
                if in_scope {
                    plan.rows.push(conflict(&d.name, d.vmid.and_then(one), why));
                }
                if let Some(g) = named.first() {
                    matched.insert(g.vmid);
                }
                continue;
            }
        };
        if let Some(g) = found {
            matched.insert(g.vmid);
        }
        if !in_scope {
            continue;
        }
        match found {
            Some(g) => existing(d, g, config, &mut plan),
            None => create(d, live, nodes, config, &mut claimed, &mut plan),
        }
    }
    if opts.only.is_some() {
        return plan;
    }
    for g in live {
        if g.template || matched.contains(&g.vmid) || !in_file_scope(file, g) {
            continue;
        }
        if opts.prune {
            destroy(
                g,
                config,
                "not declared (--prune)",
                &mut plan.rows,
                &mut plan.actions,
            );
        } else {
            plan.rows.push(Row {
                note: "not declared: kept (--prune destroys it)".into(),
                ..row(Change::Undeclared, &g.name, Some(g.vmid), &g.node)
            });
        }
    }
    plan
}

fn one(v: VmidSpec) -> Option<u32> {
    match v {
        VmidSpec::One(v) => Some(v),
        VmidSpec::Range(..) => None,
    }
}

fn in_file_scope(file: &DefinitionsFile, g: &LiveGuest) -> bool {
    let Some(scope) = &file.scope else {
        return true;
    };
    let by_vmid = scope.vmids.as_ref().is_some_and(|v| {
        let text = match v {
            super::format::Number::Int(n) => n.to_string(),
            super::format::Number::Text(t) => t.clone(),
        };
        VmidSpec::parse(&text).is_some_and(|s| s.contains(g.vmid))
    });
    by_vmid
        || scope
            .tags
            .iter()
            .any(|t| g.tags.iter().any(|h| h.eq_ignore_ascii_case(t)))
}

/// The rows and actions for a declared guest that exists.
fn existing(d: &GuestDef, g: &LiveGuest, config: &Config, plan: &mut Plan) {
    let imported = d.mode == Mode::Imported;
    if !imported && g.kind == Some(GuestKind::Lxc) {
        plan.rows.push(conflict(
            &d.name,
            Some(g.vmid),
            format!(
                "{} is a container: definitions manage VMs (a container may be `mode: imported`)",
                d.name
            ),
        ));
        return;
    }
    let mut rows = Vec::new();
    let mut actions = Vec::new();
    if let Some(node) = d.node.as_ref().filter(|n| **n != g.node) {
        rows.push(Row {
            key: "node".into(),
            from: g.node.clone(),
            to: node.clone(),
            note: format!("apply moves no guest: `migrate {} {node}`", d.name),
            ..row(Change::Differs, &d.name, Some(g.vmid), &g.node)
        });
    }
    let want = desired(d, &g.config, config);
    let changes: BTreeMap<String, String> = want
        .into_iter()
        .filter(|(k, v)| !same(k, policy::config_text(&g.config, k).as_deref(), v))
        .collect();
    let running = g.status == "running";
    if !changes.is_empty() {
        let mut change = ConfigChange {
            risk: policy::set_risk(&changes, &g.config),
            ..ConfigChange::default()
        };
        for (k, v) in &changes {
            let before = policy::config_text(&g.config, k).unwrap_or_default();
            let when = policy::effect(k, v, running, true, &g.config);
            change.effect.insert(k.clone(), when.to_string());
            change.before.insert(k.clone(), before.clone());
            let shown = |s: &str| {
                if k == "sshkeys" {
                    decode(s)
                } else {
                    s.to_string()
                }
            };
            rows.push(Row {
                key: k.clone(),
                from: shown(&before),
                to: shown(v),
                when: when.to_string(),
                note: change.risk.clone().unwrap_or_default(),
                ..row(Change::Set, &d.name, Some(g.vmid), &g.node)
            });
        }
        if let Err(e) = policy::check_quotas(config, &d.name, &changes, &g.config) {
            rows.push(conflict(&d.name, Some(g.vmid), e.message));
        }
        change.changes = changes;
        actions.push(Action::new(Op::Set(change), g.target(), g.precondition()));
    }
    disk_changes(
        d,
        &g.config,
        config,
        &g.target(),
        &g.status,
        &mut rows,
        &mut actions,
    );
    if imported {
        for r in &mut rows {
            if matches!(r.change, Change::Set | Change::Resize | Change::AddDisk) {
                r.note = format!(
                    "{} is `mode: imported`: imported guests are read-only",
                    d.name
                );
                r.change = Change::Refused;
            }
        }
        actions.clear();
    }
    plan.rows.extend(rows);
    plan.actions.extend(actions);
}

/// The rows and actions that create a declared guest.
fn create(
    d: &GuestDef,
    live: &[LiveGuest],
    nodes: &[String],
    config: &Config,
    claimed: &mut BTreeSet<u32>,
    plan: &mut Plan,
) {
    if d.mode == Mode::Imported {
        plan.rows.push(conflict(
            &d.name,
            d.vmid.and_then(one),
            format!(
                "{} is `mode: imported` but not in the cluster: imported guests are never created",
                d.name
            ),
        ));
        return;
    }
    let template = match &d.template {
        None => None,
        Some(t) => {
            let found = live
                .iter()
                .filter(|g| g.name == *t || g.vmid.to_string() == *t)
                .min_by_key(|g| !g.template);
            match found {
                Some(g) => Some(g),
                None => {
                    plan.rows.push(conflict(
                        &d.name,
                        None,
                        format!("no template '{t}' to clone"),
                    ));
                    return;
                }
            }
        }
    };
    let node = match (&d.node, template) {
        (Some(n), _) => n.clone(),
        (None, Some(t)) => t.node.clone(),
        (None, None) => match nodes.first() {
            Some(n) => n.clone(),
            None => return,
        },
    };
    if !nodes.contains(&node) {
        plan.rows.push(conflict(
            &d.name,
            None,
            format!("no node '{node}' (nodes: {})", nodes.join(", ")),
        ));
        return;
    }
    let vmid = match d.vmid {
        Some(VmidSpec::One(v)) => v,
        Some(VmidSpec::Range(a, b)) => match (a..=b).find(|v| !claimed.contains(v)) {
            Some(v) => v,
            None => {
                plan.rows.push(conflict(
                    &d.name,
                    None,
                    format!("no free VMID left in the range {a}-{b}"),
                ));
                return;
            }
        },
        None => {
            let (a, b) = config
                .vmid_ranges
                .vm
                .map_or((100, 999_999_999), |r| (r.min(), r.max()));
            match (a..=b).find(|v| !claimed.contains(v)) {
                Some(v) => v,
                None => {
                    plan.rows.push(conflict(
                        &d.name,
                        None,
                        format!("no free VMID in vmid_ranges.vm ({a}-{b})"),
                    ));
                    return;
                }
            }
        }
    };
    if let Err(e) = crate::wizard::plan::check_vmid(config, vmid) {
        plan.rows.push(conflict(&d.name, Some(vmid), e.message));
        return;
    }
    claimed.insert(vmid);
    let target = Target {
        vmid,
        node: node.clone(),
        guest_kind: GuestKind::Qemu,
        name: d.name.clone(),
    };
    let empty = Map::new();
    let base_cfg = template.map_or(&empty, |t| &t.config);
    let mut want = desired(d, base_cfg, config);
    // A clone gets a MAC address of its own: the template's is not carried over.
    for (k, v) in want.iter_mut() {
        if k.starts_with("net") {
            *v = v
                .split(',')
                .map(|p| match p.split_once('=') {
                    Some((m, _)) if MODELS.contains(&m) => m,
                    _ => p,
                })
                .collect::<Vec<_>>()
                .join(",");
        }
    }
    if let Err(e) = policy::check_quotas(config, &d.name, &want, &empty) {
        plan.rows.push(conflict(&d.name, Some(vmid), e.message));
        return;
    }
    plan.rows.push(Row {
        note: match template {
            Some(t) => format!("clone of {} ({})", t.name, t.vmid),
            None => "an empty VM".into(),
        },
        ..row(Change::Create, &d.name, Some(vmid), &node)
    });
    plan.created.push(Created {
        name: d.name.clone(),
        vmid,
        node: node.clone(),
        user: d.cloudinit.as_ref().and_then(|c| c.user.clone()),
    });
    match template {
        Some(t) => {
            plan.actions.push(Action::on(
                Op::Clone {
                    newid: vmid,
                    name: d.name.clone(),
                    full: false,
                    target_node: (node != t.node).then(|| node.clone()),
                    storage: None,
                    pool: None,
                },
                t.target(),
                &t.status,
            ));
            if !want.is_empty() {
                plan.actions.push(Action::on(
                    Op::Set(ConfigChange::of(want)),
                    target.clone(),
                    "stopped",
                ));
            }
            let mut rows = Vec::new();
            disk_changes(
                d,
                base_cfg,
                config,
                &target,
                "stopped",
                &mut rows,
                &mut plan.actions,
            );
            // The new guest's disks are part of its creation, not rows of their own; a
            // template disk larger than declared is still a conflict.
            plan.rows
                .extend(rows.into_iter().filter(|r| r.change == Change::Conflict));
        }
        None => {
            let mut params: Vec<(String, String)> = vec![("name".into(), d.name.clone())];
            let storage = config
                .defaults
                .storage
                .clone()
                .unwrap_or_else(|| "local-lvm".into());
            if let Some(s) = config.defaults.scsihw {
                params.push(("scsihw".into(), s.as_str().to_string()));
            }
            if let Some(o) = config.defaults.ostype {
                params.push(("ostype".into(), o.as_str().to_string()));
            }
            for (disk, spec) in &d.disks {
                if let Some((st, gib)) = disk_spec(spec) {
                    let st = st.unwrap_or_else(|| storage.clone());
                    params.push((disk.clone(), format!("{st}:{gib}")));
                }
            }
            params.extend(want);
            plan.actions
                .push(Action::on(Op::Create { params }, target.clone(), "stopped"));
        }
    }
}
