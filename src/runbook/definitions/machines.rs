//! `machines.md`: a markdown table of a group of guests, from their live state.

/// One guest's row of `machines.md`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineRow {
    /// The cluster it is on, for a table of several clusters' guests (a column then).
    pub cluster: Option<String>,
    pub name: String,
    pub vmid: u32,
    pub node: String,
    /// `qemu` or `lxc`.
    pub kind: String,
    pub status: String,
    pub cores: u64,
    /// Bytes.
    pub memory: u64,
    /// Bytes.
    pub disk: u64,
    pub addresses: Vec<String>,
    pub tags: Vec<String>,
}

/// The markdown of `machines.md`: a heading, a line of what it is, then one table row per
/// guest. `export machines.md` and `profile up` both write it.
pub fn machines_md(title: &str, intro: &str, rows: &[MachineRow]) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
    let several = rows.iter().any(|r| r.cluster.is_some());
    let mut out = format!("# {}\n\n{}\n\n", cell(title), cell(intro));
    if several {
        out.push_str("| cluster ");
    }
    out.push_str(
        "| name | vmid | node | type | status | cores | memory | disk | addresses | tags |\n",
    );
    if several {
        out.push_str("|---");
    }
    out.push_str("|---|---:|---|---|---|---:|---:|---:|---|---|\n");
    for r in rows {
        if let Some(c) = &r.cluster {
            out.push_str(&format!("| {} ", cell(c)));
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&r.name),
            r.vmid,
            cell(&r.node),
            cell(&r.kind),
            cell(&r.status),
            r.cores,
            crate::lang::format_size(r.memory),
            crate::lang::format_size(r.disk),
            cell(&r.addresses.join(", ")),
            cell(&r.tags.join(", ")),
        ));
    }
    if rows.is_empty() {
        out.push_str("\n(no guests)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_row_per_guest() {
        let row = MachineRow {
            name: "cp-1".into(),
            vmid: 300,
            node: "pve1".into(),
            kind: "qemu".into(),
            status: "running".into(),
            cores: 2,
            memory: 4 << 30,
            disk: 32 << 30,
            addresses: vec!["10.0.0.5".into()],
            tags: vec!["k8s".into(), "c|p".into()],
            cluster: None,
        };
        let md = machines_md("k8s", "a profile", std::slice::from_ref(&row));
        assert!(
            md.starts_with("# k8s\n\na profile\n\n| name | vmid |"),
            "{md}"
        );
        assert!(
            md.ends_with(
                "| cp-1 | 300 | pve1 | qemu | running | 2 | 4.0 GiB | 32.0 GiB | 10.0.0.5 | k8s, c\\|p |\n"
            ),
            "{md}"
        );
        // Rows of several clusters get a cluster column.
        let md = machines_md(
            "t",
            "i",
            &[MachineRow {
                cluster: Some("lab".into()),
                ..row
            }],
        );
        assert!(md.contains("| cluster | name |"), "{md}");
        assert!(md.contains("| lab | cp-1 | 300 |"), "{md}");
    }
}
