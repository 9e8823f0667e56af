//! Every kind of config error, with its exact message: file:line:column, key, and the fix.

use super::*;

#[test]
fn errors_name_file_line_and_key() {
    let check = |text: &str, want: &str| {
        let err = parse(text).map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), want, "for:\n{text}");
    };
    let cluster = "clusters:\n  lab:\n    nodes: [{ host: h }]\n";
    check(
        "defaults:\n  storage: local\n  strage: x\n",
        "c.yaml:3:3: unknown key `strage` in `defaults` (did you mean `storage`?)\n  \
         hint: valid keys here: storage, bridge, bios, machine, cpu, scsihw, agent, ostype",
    );
    check(
        "defautls: {}\n",
        "c.yaml:1:1: unknown key `defautls` at the top level (did you mean `defaults`?)\n  hint: valid keys here: \
         default_cluster, clusters, defaults, vmid_ranges, tags, cloudinit, protected, readonly, quotas, profiles, staging, audit, dashboard, agent",
    );
    check(
        "dashboard:\n  cpu_overcommit: 4\n  memory: 1\n",
        "c.yaml:3:3: unknown key `memory` in `dashboard`\n  hint: valid keys here: cpu_overcommit, memory_overcommit",
    );
    check(
        "profiles:\n  web:\n    memory: 2X\n",
        "c.yaml:3:13: `profiles.web.memory`: invalid size `2X`: write a number and a unit, e.g. 512M, 2G, 1.5T",
    );
    check(
        "quotas:\n  max_disk: 500\n",
        "c.yaml:2:13: `quotas.max_disk`: size `500` has no unit: write e.g. 500M or 500G",
    );
    check(
        "vmid_ranges:\n  vm: [900, 100]\n",
        "c.yaml:2:7: `vmid_ranges.vm`: range [900, 100] is empty: the first number must not exceed the second",
    );
    check(
        "vmid_ranges:\n  ct: [5, 10]\n",
        "c.yaml:2:7: `vmid_ranges.ct`: VMIDs must be between 100 and 999999999, got [5, 10]",
    );
    check(
        "defaults:\n  bios: uefi\n",
        "c.yaml:2:9: `defaults.bios`: unknown value `uefi`\n  hint: valid values: seabios, ovmf",
    );
    check(
        "staging:\n  policy: destructiv\n",
        "c.yaml:2:11: `staging.policy`: unknown value `destructiv` (did you mean `destructive`?)\n  \
         hint: valid values: destructive, all, none",
    );
    check(
        &format!("{cluster}    auth:\n      token_id: \"a@pam!t\"\n"),
        "c.yaml:5:7: `clusters.lab.auth`: `token_id` needs `token_secret` (e.g. token_secret: { env: PVE_TOKEN_SECRET })",
    );
    check(
        &format!("{cluster}    auth:\n      user: root\n      password: {{ env: P }}\n"),
        "c.yaml:5:7: `clusters.lab.auth`: user `root` needs a realm: write e.g. root@pam or alice@pve",
    );
    check(
        &format!("{cluster}    auth:\n      user: root@pam\n      password: {{ enf: P }}\n"),
        "c.yaml:6:17: `clusters.lab.auth.password`: unknown secret source `enf` (did you mean `env`?); use env, file or command",
    );
    check(
        &format!("{cluster}    tls: {{ insecure: true, fingerprint: \"AA\" }}\n"),
        "c.yaml:4:10: `clusters.lab.tls`: choose one of `fingerprint`, `ca_file` or `insecure: true`",
    );
    check(
        "clusters:\n  lab:\n    nodes:\n      - { host: \"https://pve:8006\" }\n",
        "c.yaml:4:17: `clusters.lab.nodes[0].host`: `https://pve:8006` is a URL: write only the host name or address; \
         the port goes in `port`",
    );
    check(
        "clusters:\n  lab:\n    nodes: []\n",
        "c.yaml:3:12: `clusters.lab.nodes`: a cluster needs at least one node: - { host: 192.168.1.10 }",
    );
    check(
        &format!("default_cluster: lba\n{cluster}"),
        "c.yaml:1: `default_cluster`: no cluster named `lba` under `clusters`\n  hint: did you mean `lab`?",
    );
    check(
        "quotas: { max_cores: 4 }\nprofiles:\n  big:\n    cores: 8\n",
        "c.yaml:4: `profiles.big.cores`: 8 is over the quota `quotas.max_cores` (4)\n  hint: lower the profile or raise the quota",
    );
    check(
        "tags:\n  known: [\"bad tag\"]\n",
        "c.yaml:2:11: `tags.known[0]`: `bad tag` is not a valid PVE tag: use letters, digits and _ + - . (not first)",
    );
    check(
        "defaults:\n  storage: a\n  storage: b\n",
        "c.yaml:3:3: `defaults`: key `storage` appears twice\n  hint: keep one of them",
    );
    check(
        "defaults: {\n",
        "c.yaml:1:11: `defaults`: unclosed bracket '{'",
    );
    check(
        "defaults: [1]\n",
        "c.yaml:1:11: `defaults`: expected a mapping: `key: value` lines or `{ key: value }`",
    );
    check(
        "protected:\n  vmids: 103\n",
        "c.yaml:2:10: `protected.vmids`: expected a list: `- item` lines or `[a, b]`",
    );
    check(
        "quotas:\n  max_vms: lots\n",
        "c.yaml:2:12: `quotas.max_vms`: expected a whole number (u32)",
    );
    check(
        "defaults:\n  agent: maybe\n",
        "c.yaml:2:10: `defaults.agent`: expected true or false",
    );
    check(
        "clusters:\n  lab:\n    nodes: [{ host: h }]\n    auth: { token_idd: x }\n",
        "c.yaml:4:13: unknown key `token_idd` in `clusters.lab.auth` (did you mean `token_id`?)\n  \
         hint: valid keys here: token_id, token_secret, user, password, totp",
    );
    check(
        "clusters:\n  lab:\n    nodes:\n      - { hots: h }\n",
        "c.yaml:4:11: unknown key `hots` in `clusters.lab.nodes[0]` (did you mean `host`?)\n  \
         hint: valid keys here: name, host, port",
    );
    check(
        "clusters:\n  lab:\n    nodes:\n      - { name: pve1 }\n",
        "c.yaml:4:11: `clusters.lab.nodes[0]`: missing required key `host`",
    );
    check(
        "profiles:\n  web: { cores: 2, memroy: 2G }\n",
        "c.yaml:2:20: unknown key `memroy` in `profiles.web` (did you mean `memory`?)\n  \
         hint: valid keys here: description, cores, sockets, memory, disk, tags, template, storage, bridge, ostype, cpu",
    );
    check(
        "quotas: { max_memory: 4G }\nprofiles:\n  small: { memory: 1G }\n  big: { memory: 8G }\n",
        "c.yaml:4: `profiles.big.memory`: 8G is over the quota `quotas.max_memory` (4G)\n  \
         hint: lower the profile or raise the quota",
    );
}

#[test]
fn the_agent_section_is_checked() {
    let ok = parse("agent:\n  require_approval: destructive\n  approval_ttl: 30m\n").unwrap();
    assert_eq!(
        ok.agent.require_approval,
        crate::config::RequireApproval::Destructive
    );
    assert_eq!(ok.agent.approval_ttl, 1800);
    let default = parse("agent:\n").unwrap();
    assert_eq!(
        default.agent.require_approval,
        crate::config::RequireApproval::None
    );
    assert_eq!(default.agent.approval_ttl, 3600);
    let bad = parse("agent:\n  require_approval: sometimes\n")
        .unwrap_err()
        .to_string();
    assert!(
        bad.contains("c.yaml:2") && bad.contains("agent.require_approval"),
        "{bad}"
    );
    let bad = parse("agent:\n  approval_ttl: soon\n")
        .unwrap_err()
        .to_string();
    assert!(bad.contains("expected a duration such as 1h"), "{bad}");
}
