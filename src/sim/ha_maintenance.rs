//! HA node maintenance, as `ha-manager crm-command node-maintenance enable|disable NODE` does it
//! on a real node (PVE 9.1 has no API call for it; pve-ha-manager `CLI/ha_manager.pm`,
//! `HA/Manager.pm`): the node's LRM goes into `maintenance` mode at once, and the CRM moves the
//! HA-managed guests on it to the other nodes (a migration task each, by `root@pam`), keeping
//! in mind where they came from; disabling it moves them back.
//!
//! Where PVE's CRM places a service (its rules and CRS scheduler) is not modelled: the node
//! with the most free memory takes it. The commands are reached through
//! [`super::SimHandle::node_command`], the simulated node's shell.

use super::state::{GuestKind, State};
use super::tasks::{Effect, TaskSpec};

impl State {
    /// Puts `node` into maintenance (or takes it out); returns what the CRM did, a line each.
    pub fn node_maintenance(
        &mut self,
        node: &str,
        enable: bool,
        now: f64,
    ) -> Result<Vec<String>, String> {
        let Some(n) = self.node(node) else {
            return Err(format!("node '{node}' does not exist"));
        };
        if !n.online {
            return Err("crm command error - node not online".to_string());
        }
        if let Some(n) = self.nodes.iter_mut().find(|n| n.name == node) {
            n.maintenance = enable;
        }
        let moves: Vec<(u32, String)> = if enable {
            self.managed_on(node)
                .into_iter()
                .filter_map(|vmid| self.roomiest_except(node).map(|to| (vmid, to)))
                .collect()
        } else {
            let back: Vec<(u32, String)> = self
                .maintenance_moved
                .iter()
                .filter(|(_, home)| home.as_str() == node)
                .map(|(vmid, home)| (*vmid, home.clone()))
                .collect();
            for (vmid, _) in &back {
                self.maintenance_moved.remove(vmid);
            }
            back
        };
        let mut said = vec![format!(
            "{} maintenance mode on node '{node}'",
            if enable { "enabled" } else { "disabled" }
        )];
        for (vmid, to) in moves {
            let Some(g) = self.guests.get(&vmid) else {
                continue;
            };
            let from = g.node.clone();
            if enable {
                self.maintenance_moved.insert(vmid, from.clone());
            }
            let kind = match g.kind {
                GuestKind::Qemu => "qmigrate",
                GuestKind::Lxc => "vzmigrate",
            };
            let spec = TaskSpec {
                node: from.clone(),
                kind,
                id: vmid.to_string(),
                user: "root@pam".into(),
                lines: vec![
                    format!("starting migration of VM {vmid} to node '{to}'"),
                    "migration finished successfully".into(),
                ],
                outcome: Ok(()),
                effect: Effect::Migrate {
                    vmid,
                    target: to.clone(),
                },
                lock: Some((vmid, "migrate")),
            };
            let upid = self.spawn_task(spec, now);
            said.push(format!("moving {vmid} from {from} to {to} ({upid})"));
        }
        Ok(said)
    }

    /// The HA-managed guests (not `ignored`) on `node`.
    fn managed_on(&self, node: &str) -> Vec<u32> {
        self.ha_resources
            .iter()
            .filter(|r| r.state != "ignored")
            .filter_map(|r| r.sid.split_once(':')?.1.parse::<u32>().ok())
            .filter(|vmid| self.guests.get(vmid).is_some_and(|g| g.node == node))
            .collect()
    }

    /// The online node, not in maintenance and not `node`, with the most free memory.
    fn roomiest_except(&self, node: &str) -> Option<String> {
        self.nodes
            .iter()
            .filter(|n| n.online && !n.maintenance && n.name != node)
            .max_by_key(|n| n.maxmem.saturating_sub(self.node_mem(n)))
            .map(|n| n.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::scenario;

    fn demo() -> crate::sim::State {
        scenario::build(&scenario::Scenario::Demo, 1).expect("the demo builds")
    }

    #[test]
    fn maintenance_moves_ha_guests_away_and_back() {
        let mut s = demo();
        let home = s.guests[&103].node.clone();
        let said = s.node_maintenance(&home, true, 100.0).expect("enabled");
        assert!(said[0].contains("enabled maintenance mode"), "{said:?}");
        assert!(said.iter().any(|l| l.contains("moving 103")), "{said:?}");
        assert!(s.node(&home).is_some_and(|n| n.maintenance));
        s.run_due_tasks(1000.0);
        let away = s.guests[&103].node.clone();
        assert_ne!(away, home);
        // Only HA-managed guests move: the others stay on the node.
        assert!(s.guests.values().any(|g| g.node == home));
        s.node_maintenance(&home, false, 1001.0).expect("disabled");
        s.run_due_tasks(2000.0);
        assert_eq!(s.guests[&103].node, home, "moved back");
        assert!(s.node(&home).is_some_and(|n| !n.maintenance));
    }

    #[test]
    fn an_unknown_or_offline_node_is_refused() {
        let mut s = demo();
        assert!(s.node_maintenance("nope", true, 0.0).is_err());
        s.nodes[0].online = false;
        let name = s.nodes[0].name.clone();
        assert_eq!(
            s.node_maintenance(&name, true, 0.0),
            Err("crm command error - node not online".to_string())
        );
    }
}
