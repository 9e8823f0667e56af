//! `machines.md`: a markdown table of a group of guests, from their live state.

/// One guest's row of `machines.md`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineRow {
    pub name: String,
    pub vmid: u32,
    pub node: String,
    pub status: String,
    pub cores: u64,
    /// Bytes.
    pub memory: u64,
    pub addresses: Vec<String>,
    pub tags: Vec<String>,
}

/// The markdown of `machines.md`: a heading, then one table row per guest.
pub fn machines_md(title: &str, rows: &[MachineRow]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = format!("# {}\n\n", cell(title));
    out.push_str("| name | vmid | node | status | cores | memory | addresses | tags |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&r.name),
            r.vmid,
            cell(&r.node),
            cell(&r.status),
            r.cores,
            crate::lang::format_size(r.memory),
            cell(&r.addresses.join(", ")),
            cell(&r.tags.join(", ")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_row_per_guest() {
        let md = machines_md(
            "k8s",
            &[MachineRow {
                name: "cp-1".into(),
                vmid: 300,
                node: "pve1".into(),
                status: "running".into(),
                cores: 2,
                memory: 4 << 30,
                addresses: vec!["10.0.0.5".into()],
                tags: vec!["k8s".into(), "cp".into()],
            }],
        );
        assert!(md.starts_with("# k8s\n\n| name | vmid |"), "{md}");
        assert!(
            md.ends_with("| cp-1 | 300 | pve1 | running | 2 | 4.0 GiB | 10.0.0.5 | k8s, cp |\n"),
            "{md}"
        );
    }
}
