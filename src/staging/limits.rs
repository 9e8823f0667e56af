//! Default parallelism of bulk work: how many tasks run at once, per node and overall.
//!
//! The rule ([`default_limits`]): **4 tasks per node, at most 32 at once overall**, i.e.
//! `per_node = 4`, `overall = clamp(4 × nodes touched, 4, 32)`. Since the executor enforces the
//! per-node bound itself, [`Limits::DEFAULT`] (32 overall, 4 per node) behaves exactly like that
//! for any number of nodes; it is what `ExecOptions::default()` uses. `--parallel N` overrides
//! `overall` (the per-node bound stays).
//!
//! Why these numbers, from PVE itself (pve-manager; `apidata.json` for the texts):
//! - datacenter.cfg `max_workers` "defines how many workers (per node) are maximal started on
//!   actions like 'stopall VMs' or task from the ha-manager": PVE thinks of bulk concurrency
//!   per node.
//! - `POST /nodes/{node}/startall|stopall|suspendall` `max-workers`: "If not set, uses
//!   'max_workers' from datacenter.cfg, and if that's not set, the available CPU threads,
//!   clamped to a maximum of 8" (1–64). So PVE's own ceiling for one node is 8.
//! - The cluster-wide bulk actions (`POST /cluster/bulk-action/guest/start|shutdown|...`,
//!   `PVE/API2/Cluster/BulkAction/Guest.pm`) default `max-workers` to 4.
//!
//! 4 per node is PVE's cluster bulk default and half its node ceiling of 8: it leaves a node's
//! workers to everyone else using it (we do not know its CPU threads or `max_workers` without
//! asking). Tasks on different nodes do not compete for a node's workers, so the overall bound
//! grows with the nodes the plan touches. It stops at 32 because every request, for every node,
//! goes through the one pveproxy we talk to (it proxies to the others), and each running task
//! costs about one status poll per task duration plus a few short ones; 32 tasks at once keep
//! that to a few hundred requests a second even for sub-second tasks, and on 8 nodes or more a
//! bulk action runs 32 wide, 4× what a client with a pool of 8 threads gets.

/// How many tasks may run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Over the whole cluster.
    pub overall: usize,
    /// On one node.
    pub per_node: usize,
}

impl Limits {
    /// 4 per node, 32 overall: [`default_limits`] for any plan, given the per-node bound.
    pub const DEFAULT: Limits = Limits {
        overall: OVERALL_MAX,
        per_node: PER_NODE,
    };
}

/// Tasks at once on one node.
pub const PER_NODE: usize = 4;
/// Tasks at once over the whole cluster, however many nodes.
pub const OVERALL_MAX: usize = 32;

/// The default limits for a plan whose actions run on `nodes` distinct nodes (0 is taken as 1).
pub fn default_limits(nodes: usize) -> Limits {
    Limits {
        overall: PER_NODE
            .saturating_mul(nodes.max(1))
            .clamp(PER_NODE, OVERALL_MAX),
        per_node: PER_NODE,
    }
}

/// [`default_limits`] for the distinct node names in `nodes`.
pub fn limits_for_nodes<'a>(nodes: impl IntoIterator<Item = &'a str>) -> Limits {
    let distinct: std::collections::HashSet<&str> = nodes.into_iter().collect();
    default_limits(distinct.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_per_node_up_to_thirty_two() {
        let overall: Vec<usize> = [0, 1, 2, 3, 8, 9, 32, 1000]
            .into_iter()
            .map(|n| default_limits(n).overall)
            .collect();
        assert_eq!(overall, [4, 4, 8, 12, 32, 32, 32, 32]);
        assert!((0..100).all(|n| default_limits(n).per_node == 4));
        // With the per-node bound, DEFAULT allows exactly default_limits(n).overall on n nodes.
        assert!((0..100).all(|n| {
            Limits::DEFAULT
                .overall
                .min(Limits::DEFAULT.per_node * n.max(1))
                == default_limits(n).overall
        }));
    }

    #[test]
    fn nodes_are_counted_once() {
        let l = limits_for_nodes(["pve1", "pve2", "pve1", "pve3"]);
        assert_eq!(
            l,
            Limits {
                overall: 12,
                per_node: 4
            }
        );
    }
}
