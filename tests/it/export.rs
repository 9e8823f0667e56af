//! `export ansible | machines.md | terraform` against the simulator: what each writes is
//! checked by what reads it (JSON, a Markdown table, an HCL parser), and `inventory` answers
//! as an Ansible inventory script. (`ansible-inventory` itself reads it in `interop`.)

use crate::common::{TestSim, state};

fn non_templates(sim: &TestSim) -> Vec<(u32, String)> {
    state(sim, |s| {
        s.guests
            .values()
            .filter(|g| !g.is_template())
            .map(|g| (g.vmid, g.name().to_string()))
            .collect()
    })
}

#[test]
fn terraform_output_parses_as_hcl_with_an_import_and_a_resource_per_guest() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("export terraform");
    assert_eq!(code, 0, "{err}");
    let body = hcl::parse(&out).unwrap_or_else(|e| panic!("not HCL: {e}\n{out}"));
    let guests = non_templates(&sim);
    let imports: Vec<_> = body
        .blocks()
        .filter(|b| b.identifier() == "import")
        .collect();
    let resources: Vec<_> = body
        .blocks()
        .filter(|b| b.identifier() == "resource")
        .collect();
    assert_eq!(imports.len(), guests.len());
    assert_eq!(resources.len(), guests.len());
    let kinds: Vec<String> = resources
        .iter()
        .map(|b| b.labels()[0].as_str().to_string())
        .collect();
    assert!(kinds.contains(&"proxmox_virtual_environment_vm".to_string()));
    assert!(kinds.contains(&"proxmox_virtual_environment_container".to_string()));
    // web01's resource: its name, node and VMID, and the import names it by NODE/VMID.
    let web01 = resources
        .iter()
        .find(|b| b.labels()[1].as_str() == "web01_101")
        .expect("a resource for web01");
    let attr = |name: &str| {
        web01
            .body()
            .attributes()
            .find(|a| a.key() == name)
            .map(|a| a.expr().to_string())
    };
    assert_eq!(attr("name").as_deref(), Some("\"web01\""));
    assert_eq!(attr("node_name").as_deref(), Some("\"pve1\""));
    assert_eq!(attr("vm_id").as_deref(), Some("101"));
    assert!(out.contains("id = \"pve1/101\""), "{out}");

    // Piped guests only.
    let (_, one, _) = sim.run("ls | where name=web01 | export terraform");
    let body = hcl::parse(&one).unwrap();
    assert_eq!(
        body.blocks()
            .filter(|b| b.identifier() == "resource")
            .count(),
        1
    );
}

#[test]
fn ansible_inventory_groups_by_tag_pool_node_and_type() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("export ansible");
    assert_eq!(code, 0, "{err}");
    let inv: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hostvars = inv["_meta"]["hostvars"].as_object().unwrap();
    assert_eq!(hostvars.len(), non_templates(&sim).len());
    let web01 = &hostvars["web01"];
    assert_eq!(web01["vmid"], 101);
    assert_eq!(web01["status"], "running");
    assert_eq!(web01["type"], "qemu");
    assert!(web01["ansible_host"].as_str().unwrap().contains('.'));
    // A stopped guest with no static address has no ansible_host, but is listed.
    let hosts = |group: &str| -> Vec<String> {
        inv[group]["hosts"]
            .as_array()
            .unwrap_or_else(|| panic!("no group {group}: {out}"))
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect()
    };
    assert!(hosts("tag_prod").contains(&"web01".to_string()));
    assert!(hosts("node_pve1").contains(&"web01".to_string()));
    assert!(hosts("type_lxc").contains(&"dns01".to_string()));
    assert!(hosts("pool_lab").len() >= 3);
    let children = inv["all"]["children"].as_array().unwrap();
    assert!(children.contains(&serde_json::json!("tag_prod")));

    // As an inventory script: --list is the same document, --host one host's variables.
    let list = sim.cmd().args(["inventory", "--list"]).output().unwrap();
    assert!(list.status.success());
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&list.stdout).unwrap(),
        inv
    );
    let host = sim
        .cmd()
        .args(["inventory", "--host", "web01"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&host.stdout).unwrap(),
        *web01
    );
    let bad = sim.cmd().args(["inventory"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn machines_md_is_a_table_of_the_piped_guests() {
    let sim = TestSim::demo();
    let (code, out, err) = sim.run("ls | where tags has db | export machines.md");
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    // The header and one row per database guest.
    let db = state(&sim, |s| {
        s.guests
            .values()
            .filter(|g| {
                g.config
                    .get("tags")
                    .is_some_and(|t| t.split(';').any(|t| t == "db"))
            })
            .count()
    });
    assert_eq!(rows.len(), db + 1, "{out}");
    assert!(rows[0].starts_with("| name | vmid | node |"), "{out}");
    assert!(
        out.contains("| db01 | 103 | pve1 | qemu | running |"),
        "{out}"
    );
    // Every row has as many cells as the header.
    let cells = |l: &str| l.matches(" | ").count();
    assert!(rows.iter().all(|r| cells(r) == cells(rows[0])), "{out}");

    let (code, _, err) = sim.run("export yaml");
    assert_eq!(code, 2);
    assert!(err.contains("unknown format 'yaml'"), "{err}");
}
