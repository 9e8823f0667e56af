//! Placement plans: where the guests of a node go when it is evacuated, and which migrations
//! even out memory use across the cluster. Pure functions of what the caller read (nodes,
//! guests, their disks and devices): no IO, so they are tested table-driven and benchmarked.
//!
//! Evacuation: guests are placed largest memory first (first-fit decreasing) on the allowed
//! node with the most free memory, ties to the least CPU load; a running guest needs its
//! memory free there, a stopped one only a node that has its storages. What PVE cannot move is
//! reported with the reason, not planned: passthrough devices, a running guest on local disks
//! without `with_local_disks`, a storage the target lacks. Guests tagged `pinned` and templates
//! (unless asked) stay.
//!
//! Balancing: while the gap between the most and the least memory-used node (in percent of
//! their memory) is over [`BALANCE_GAP`] points, move the running guest from the fullest node to
//! the emptiest that narrows the gap most, never making the target fuller than the source; at
//! most `max_moves` moves. Memory is what runs out first on most clusters and what a migration
//! moves exactly; CPU load is too noisy to plan on from one sample.

use std::collections::BTreeMap;

use crate::api::GuestKind;

/// The gap, in percentage points of memory use, that balancing closes to.
pub const BALANCE_GAP: f64 = 10.0;

/// A node as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCap {
    pub name: String,
    pub online: bool,
    /// In HA maintenance: it takes no guests (PVE's CRM treats it so too).
    pub maintenance: bool,
    pub maxmem: u64,
    /// Memory in use now.
    pub mem: u64,
    pub maxcpu: u64,
    /// CPU load, 0.0–1.0.
    pub cpu: f64,
    /// The storages this node has (for guests on local storage).
    pub storages: Vec<String>,
}

/// A guest as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestFacts {
    pub vmid: u32,
    pub name: String,
    pub kind: GuestKind,
    pub node: String,
    pub running: bool,
    pub maxmem: u64,
    /// Memory in use now (what a live migration moves).
    pub mem: u64,
    pub template: bool,
    /// Why it must stay where it is (tagged `pinned`, protected by the policy), if it must.
    pub hold: Option<String>,
    /// Managed by HA: PVE moves it through the HA manager.
    pub ha: bool,
    /// The storages of its disks that are not shared.
    pub local_storages: Vec<String>,
    /// Passthrough devices (`hostpci0`, `usb0`): it cannot move.
    pub local_resources: Vec<String>,
}

/// How a planned move runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A running VM, live.
    Online,
    /// A running container: stop, move, start.
    Restart,
    /// A stopped guest.
    Offline,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Online => "online",
            Mode::Restart => "restart",
            Mode::Offline => "offline",
        }
    }
}

/// One guest's line of a plan: where it goes, or why it stays.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub vmid: u32,
    pub name: String,
    pub from: String,
    /// `None`: it stays (see `why`).
    pub to: Option<String>,
    pub mode: Option<Mode>,
    /// Copies its local disks.
    pub with_local_disks: bool,
    pub why: String,
}

/// An evacuation plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evacuation {
    pub placements: Vec<Placement>,
    /// Memory of running guests that found no room anywhere.
    pub missing_memory: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct EvacuateOptions {
    pub with_local_disks: bool,
    pub include_templates: bool,
}

fn mode_of(g: &GuestFacts) -> Mode {
    match (g.running, g.kind) {
        (false, _) => Mode::Offline,
        (true, GuestKind::Qemu) => Mode::Online,
        (true, GuestKind::Lxc) => Mode::Restart,
    }
}

fn stay(g: &GuestFacts, why: impl Into<String>) -> Placement {
    Placement {
        vmid: g.vmid,
        name: g.name.clone(),
        from: g.node.clone(),
        to: None,
        mode: None,
        with_local_disks: false,
        why: why.into(),
    }
}

/// Where each guest of `node` goes. `targets` limits the nodes it may go to (empty: every
/// other online node).
pub fn evacuate(
    node: &str,
    guests: &[GuestFacts],
    nodes: &[NodeCap],
    targets: &[String],
    opts: EvacuateOptions,
) -> Evacuation {
    // Free memory per candidate node, updated as guests are placed.
    let mut free: BTreeMap<&str, (i128, f64, &NodeCap)> = nodes
        .iter()
        .filter(|n| n.online && !n.maintenance && n.name != node)
        .filter(|n| targets.is_empty() || targets.contains(&n.name))
        .map(|n| {
            let free = i128::from(n.maxmem) - i128::from(n.mem);
            (n.name.as_str(), (free, n.cpu, n))
        })
        .collect();
    let mut order: Vec<&GuestFacts> = guests.iter().filter(|g| g.node == node).collect();
    // Largest first; the VMID keeps the order stable.
    order.sort_by(|a, b| {
        b.running
            .cmp(&a.running)
            .then(b.maxmem.cmp(&a.maxmem))
            .then(a.vmid.cmp(&b.vmid))
    });
    let mut plan = Evacuation::default();
    for g in order {
        if let Some(why) = &g.hold {
            plan.placements.push(stay(g, why.clone()));
            continue;
        }
        if g.template && !opts.include_templates {
            plan.placements
                .push(stay(g, "a template (--templates moves them)"));
            continue;
        }
        if !g.local_resources.is_empty() {
            plan.placements.push(stay(
                g,
                format!(
                    "uses local devices ({}): cannot move",
                    g.local_resources.join(", ")
                ),
            ));
            continue;
        }
        let mode = mode_of(g);
        let local = !g.local_storages.is_empty();
        if local && mode == Mode::Online && !opts.with_local_disks {
            plan.placements.push(stay(
                g,
                "running on local disks: --with-local-disks copies them live",
            ));
            continue;
        }
        let need = if g.running { i128::from(g.maxmem) } else { 0 };
        let has_storages = |n: &NodeCap| g.local_storages.iter().all(|s| n.storages.contains(s));
        let fits: Vec<(&str, i128, f64)> = free
            .iter()
            .filter(|(_, (_, _, n))| has_storages(n))
            .map(|(name, (f, cpu, _))| (*name, *f, *cpu))
            .collect();
        if fits.is_empty() {
            plan.placements.push(stay(
                g,
                format!("no target has its storage {}", g.local_storages.join(", ")),
            ));
            continue;
        }
        let best = fits
            .iter()
            .filter(|(_, f, _)| *f >= need)
            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)).then(b.0.cmp(a.0)));
        let Some(&(to, _, _)) = best else {
            plan.missing_memory += g.maxmem;
            let most = fits.iter().map(|f| f.1).max().unwrap_or(0).max(0);
            plan.placements.push(stay(
                g,
                format!(
                    "needs {} of memory; the most free on a target is {}",
                    crate::lang::format_size(g.maxmem),
                    crate::lang::format_size(u64::try_from(most).unwrap_or(0))
                ),
            ));
            continue;
        };
        if let Some(e) = free.get_mut(to) {
            e.0 -= need;
        }
        let why = match (g.ha, local) {
            (true, _) => "HA-managed: moved by the HA manager".to_string(),
            (false, true) => "most free memory; local disks are copied".to_string(),
            (false, false) => "most free memory".to_string(),
        };
        plan.placements.push(Placement {
            vmid: g.vmid,
            name: g.name.clone(),
            from: g.node.clone(),
            to: Some(to.to_string()),
            mode: Some(mode),
            with_local_disks: local && mode == Mode::Online,
            why,
        });
    }
    plan
}

fn used_pct(mem: i128, maxmem: u64) -> f64 {
    if maxmem == 0 {
        0.0
    } else {
        mem as f64 * 100.0 / maxmem as f64
    }
}

/// Migrations that even out memory use (see the module doc for the rule).
pub fn balance(
    guests: &[GuestFacts],
    nodes: &[NodeCap],
    max_moves: usize,
    with_local_disks: bool,
) -> Vec<Placement> {
    let online: Vec<&NodeCap> = nodes
        .iter()
        .filter(|n| n.online && !n.maintenance && n.maxmem > 0)
        .collect();
    let mut used: BTreeMap<&str, i128> = online
        .iter()
        .map(|n| (n.name.as_str(), i128::from(n.mem)))
        .collect();
    let cap: BTreeMap<&str, &NodeCap> = online.iter().map(|n| (n.name.as_str(), *n)).collect();
    let mut at: BTreeMap<u32, String> = guests.iter().map(|g| (g.vmid, g.node.clone())).collect();
    let mut moves = Vec::new();
    while moves.len() < max_moves {
        let pct = |name: &str, used: &BTreeMap<&str, i128>| used_pct(used[name], cap[name].maxmem);
        let Some(hi) = used
            .keys()
            .copied()
            .max_by(|a, b| pct(a, &used).total_cmp(&pct(b, &used)).then(b.cmp(a)))
        else {
            break;
        };
        let Some(lo) = used
            .keys()
            .copied()
            .min_by(|a, b| pct(a, &used).total_cmp(&pct(b, &used)).then(a.cmp(b)))
        else {
            break;
        };
        let gap = pct(hi, &used) - pct(lo, &used);
        if hi == lo || gap <= BALANCE_GAP {
            break;
        }
        let movable = guests.iter().filter(|g| {
            at.get(&g.vmid).map(String::as_str) == Some(hi)
                && g.running
                && g.hold.is_none()
                && !g.template
                && g.local_resources.is_empty()
                && g.local_storages
                    .iter()
                    .all(|s| cap[lo].storages.contains(s))
                && (g.local_storages.is_empty() || g.kind == GuestKind::Lxc || with_local_disks)
        });
        let mut best: Option<(&GuestFacts, f64)> = None;
        for g in movable {
            let m = i128::from(g.mem);
            let new_hi = used_pct(used[hi] - m, cap[hi].maxmem);
            let new_lo = used_pct(used[lo] + m, cap[lo].maxmem);
            if new_lo > new_hi {
                continue;
            }
            let new_gap = new_hi - new_lo;
            if new_gap < gap && best.is_none_or(|(_, b)| new_gap < b) {
                best = Some((g, new_gap));
            }
        }
        let Some((g, _)) = best else {
            break;
        };
        let m = i128::from(g.mem);
        *used.entry(hi).or_default() -= m;
        *used.entry(lo).or_default() += m;
        at.insert(g.vmid, lo.to_string());
        moves.push(Placement {
            vmid: g.vmid,
            name: g.name.clone(),
            from: hi.to_string(),
            to: Some(lo.to_string()),
            mode: Some(mode_of(g)),
            with_local_disks: !g.local_storages.is_empty() && g.kind == GuestKind::Qemu,
            why: format!(
                "{hi} at {:.0}% memory, {lo} at {:.0}%",
                used_pct(used[hi] + m, cap[hi].maxmem),
                used_pct(used[lo] - m, cap[lo].maxmem)
            ),
        });
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: u64 = 1 << 30;

    fn node(name: &str, maxmem_g: u64, mem_g: u64, storages: &[&str]) -> NodeCap {
        NodeCap {
            name: name.into(),
            online: true,
            maintenance: false,
            maxmem: maxmem_g * G,
            mem: mem_g * G,
            maxcpu: 16,
            cpu: 0.1,
            storages: storages.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn guest(vmid: u32, node: &str, mem_g: u64) -> GuestFacts {
        GuestFacts {
            vmid,
            name: format!("g{vmid}"),
            kind: GuestKind::Qemu,
            node: node.into(),
            running: true,
            maxmem: mem_g * G,
            mem: mem_g * G,
            template: false,
            hold: None,
            ha: false,
            local_storages: Vec::new(),
            local_resources: Vec::new(),
        }
    }

    const OPTS: EvacuateOptions = EvacuateOptions {
        with_local_disks: false,
        include_templates: false,
    };

    fn targets(p: &Evacuation) -> Vec<(u32, Option<&str>)> {
        p.placements
            .iter()
            .map(|x| (x.vmid, x.to.as_deref()))
            .collect()
    }

    #[test]
    fn largest_first_onto_the_most_free_memory() {
        let nodes = [
            node("a", 64, 60, &[]),
            node("b", 64, 10, &[]),
            node("c", 64, 30, &[]),
        ];
        let guests = [guest(1, "a", 8), guest(2, "a", 32), guest(3, "a", 16)];
        let plan = evacuate("a", &guests, &nodes, &[], OPTS);
        // 32 → b (54 free), 16 → c (34 free vs b's 22), 8 → c (18 vs 22) → b.
        assert_eq!(
            targets(&plan),
            [(2, Some("b")), (3, Some("c")), (1, Some("b"))]
        );
        assert_eq!(plan.missing_memory, 0);
    }

    #[test]
    fn what_does_not_fit_is_reported_with_the_memory_missing() {
        let nodes = [node("a", 64, 60, &[]), node("b", 32, 28, &[])];
        let guests = [guest(1, "a", 8), guest(2, "a", 2)];
        let plan = evacuate("a", &guests, &nodes, &[], OPTS);
        assert_eq!(targets(&plan), [(1, None), (2, Some("b"))]);
        assert_eq!(plan.missing_memory, 8 * G);
        assert!(plan.placements[0].why.contains("needs 8.0 GiB"));
    }

    #[test]
    fn local_disks_passthrough_pins_templates_and_ha() {
        let nodes = [
            node("a", 64, 10, &["local-lvm", "fast"]),
            node("b", 64, 10, &["local-lvm"]),
        ];
        let mut on_fast = guest(1, "a", 1);
        on_fast.running = false;
        on_fast.local_storages = vec!["fast".into()];
        let mut live_local = guest(2, "a", 1);
        live_local.local_storages = vec!["local-lvm".into()];
        let mut passthrough = guest(3, "a", 1);
        passthrough.local_resources = vec!["hostpci0".into()];
        let mut pinned = guest(4, "a", 1);
        pinned.hold = Some("tagged pinned".into());
        let mut template = guest(5, "a", 1);
        template.template = true;
        template.running = false;
        let mut ha = guest(6, "a", 1);
        ha.ha = true;
        let guests = [on_fast, live_local, passthrough, pinned, template, ha];
        let plan = evacuate("a", &guests, &nodes, &[], OPTS);
        let why = |id: u32| {
            plan.placements
                .iter()
                .find(|p| p.vmid == id)
                .map(|p| (p.to.clone(), p.why.clone()))
                .unwrap()
        };
        assert_eq!(why(1).0, None);
        assert!(why(1).1.contains("storage fast"));
        assert!(why(2).1.contains("--with-local-disks"));
        assert!(why(3).1.contains("hostpci0"));
        assert_eq!(why(4).1, "tagged pinned");
        assert!(why(5).1.contains("template"));
        assert_eq!(why(6).0.as_deref(), Some("b"));
        assert!(why(6).1.contains("HA"));
        let with = EvacuateOptions {
            with_local_disks: true,
            include_templates: true,
        };
        let plan = evacuate("a", &guests, &nodes, &[], with);
        let p2 = plan.placements.iter().find(|p| p.vmid == 2).unwrap();
        assert_eq!(p2.to.as_deref(), Some("b"));
        assert!(p2.with_local_disks);
        let p5 = plan.placements.iter().find(|p| p.vmid == 5).unwrap();
        assert_eq!(
            (p5.to.as_deref(), p5.mode),
            (Some("b"), Some(Mode::Offline))
        );
    }

    #[test]
    fn nodes_in_maintenance_take_no_guests_in_plans() {
        let mut resting = node("c", 512, 0, &[]);
        resting.maintenance = true;
        let nodes = [node("a", 64, 60, &[]), node("b", 64, 50, &[]), resting];
        let guests = [guest(1, "a", 4), guest(2, "a", 4)];
        let plan = evacuate("a", &guests, &nodes, &[], OPTS);
        assert_eq!(targets(&plan), [(1, Some("b")), (2, Some("b"))]);
        // Balancing does not fill the empty node in maintenance either.
        assert!(
            balance(&guests, &nodes, 10, false)
                .iter()
                .all(|p| p.to.as_deref() != Some("c"))
        );
    }

    #[test]
    fn targets_limit_where_guests_go_and_offline_nodes_take_none() {
        let mut down = node("c", 512, 0, &[]);
        down.online = false;
        let nodes = [node("a", 64, 10, &[]), node("b", 64, 50, &[]), down];
        let guests = [guest(1, "a", 4)];
        let plan = evacuate("a", &guests, &nodes, &["b".to_string()], OPTS);
        assert_eq!(targets(&plan), [(1, Some("b"))]);
        let plan = evacuate("a", &guests, &nodes, &[], OPTS);
        assert_eq!(targets(&plan), [(1, Some("b"))], "c is offline");
    }

    #[test]
    fn balance_moves_from_the_fullest_to_the_emptiest_until_the_gap_closes() {
        let nodes = [node("a", 100, 80, &[]), node("b", 100, 20, &[])];
        let guests = [guest(1, "a", 40), guest(2, "a", 25), guest(3, "a", 10)];
        let moves = balance(&guests, &nodes, 10, false);
        // 80/20: moving 25 gives 55/45 (gap 10), the best single move; then done.
        assert_eq!(moves.len(), 1);
        assert_eq!((moves[0].vmid, moves[0].to.as_deref()), (2, Some("b")));
        assert!(balance(&guests, &nodes, 0, false).is_empty());
        let even = [node("a", 100, 50, &[]), node("b", 100, 45, &[])];
        assert!(
            balance(&guests, &even, 10, false).is_empty(),
            "already even"
        );
    }
}
