use super::*;

/// Renders a request as `METHOD /path?query` (GET/DELETE) or `METHOD /path | body` (POST/PUT).
fn show(r: &ApiRequest) -> String {
    if r.method.params_in_query() {
        format!("{} {}", r.method, r.path_and_query())
    } else {
        format!("{} {} | {}", r.method, r.path, r.form_body())
    }
}

fn check(r: ApiRequest, expected: &str) {
    assert_eq!(show(&r), expected);
}

fn upid() -> Upid {
    "UPID:pve1:000A1B2C:00B3C4D5:6541F0A2:qmstart:100:root@pam!ci:"
        .parse()
        .unwrap()
}

#[test]
fn cluster_and_nodes() {
    check(version(), "GET /version");
    check(cluster_resources(None), "GET /cluster/resources");
    check(
        cluster_resources(Some("vm")),
        "GET /cluster/resources?type=vm",
    );
    check(cluster_status(), "GET /cluster/status");
    check(cluster_nextid(None), "GET /cluster/nextid");
    check(cluster_nextid(Some(200)), "GET /cluster/nextid?vmid=200");
    check(cluster_tasks(), "GET /cluster/tasks");
    check(nodes(), "GET /nodes");
    check(pools(), "GET /pools");
}

#[test]
fn tasks() {
    check(
        task_status("pve1", &upid()),
        "GET /nodes/pve1/tasks/UPID%3Apve1%3A000A1B2C%3A00B3C4D5%3A6541F0A2%3Aqmstart%3A100%3Aroot%40pam%21ci%3A/status",
    );
    check(
        task_log("pve1", &upid(), 7, 500),
        "GET /nodes/pve1/tasks/UPID%3Apve1%3A000A1B2C%3A00B3C4D5%3A6541F0A2%3Aqmstart%3A100%3Aroot%40pam%21ci%3A/log?start=7&limit=500",
    );
    check(
        node_tasks("pve2", 20, TaskSource::All, None),
        "GET /nodes/pve2/tasks?start=0&limit=20&source=all",
    );
    check(
        node_tasks("pve1", 5, TaskSource::Active, Some(101)),
        "GET /nodes/pve1/tasks?start=0&limit=5&source=active&vmid=101",
    );
}

#[test]
fn storage() {
    check(storage_list("pve1"), "GET /nodes/pve1/storage");
    check(
        storage_content("pve1", "local", None, None),
        "GET /nodes/pve1/storage/local/content",
    );
    check(
        storage_content("pve1", "pbs-main", Some("backup"), Some(100)),
        "GET /nodes/pve1/storage/pbs-main/content?content=backup&vmid=100",
    );
}

#[test]
fn guests() {
    use GuestKind::{Lxc, Qemu};
    check(
        guest_status_current(Lxc, "pve2", 200),
        "GET /nodes/pve2/lxc/200/status/current",
    );
    check(
        guest_power(Qemu, "pve1", 100, PowerAction::Shutdown),
        "POST /nodes/pve1/qemu/100/status/shutdown | ",
    );
    check(
        guest_power(Qemu, "pve1", 100, PowerAction::Stop).flag("skiplock", true),
        "POST /nodes/pve1/qemu/100/status/stop | skiplock=1",
    );
    check(
        guest_power(Lxc, "pve1", 101, PowerAction::Resume),
        "POST /nodes/pve1/lxc/101/status/resume | ",
    );
    check(qemu_config("pve1", 100), "GET /nodes/pve1/qemu/100/config");
    check(
        qemu_config("pve1", 100).flag("current", true),
        "GET /nodes/pve1/qemu/100/config?current=1",
    );
    check(
        qemu_pending("pve1", 100),
        "GET /nodes/pve1/qemu/100/pending",
    );
    check(
        guest_destroy(Lxc, "pve1", 101).flag("purge", true),
        "DELETE /nodes/pve1/lxc/101?purge=1",
    );
    assert!(!PowerAction::Reset.supported_by(Lxc));
    assert!(PowerAction::Reset.supported_by(Qemu));
}

#[test]
fn config_updates() {
    let changes = vec![
        ("memory".to_string(), "4096".to_string()),
        ("net0".to_string(), "virtio,bridge=vmbr0".to_string()),
        ("delete".to_string(), "ide2,unused0".to_string()),
    ];
    check(
        qemu_config_update_async("pve1", 100, &changes, Some("abc123")),
        "POST /nodes/pve1/qemu/100/config | memory=4096&net0=virtio%2Cbridge%3Dvmbr0&delete=ide2%2Cunused0&digest=abc123",
    );
    check(
        lxc_config_update("pve1", 101, &changes[..1], None),
        "PUT /nodes/pve1/lxc/101/config | memory=4096",
    );
}

#[test]
fn snapshots() {
    use GuestKind::{Lxc, Qemu};
    check(
        snapshot_list(Qemu, "pve1", 100),
        "GET /nodes/pve1/qemu/100/snapshot",
    );
    check(
        snapshot_create(Qemu, "pve1", 100, "pre-upgrade", Some("before apt")).flag("vmstate", true),
        "POST /nodes/pve1/qemu/100/snapshot | snapname=pre-upgrade&description=before%20apt&vmstate=1",
    );
    check(
        snapshot_create(Lxc, "pve1", 101, "s1", None),
        "POST /nodes/pve1/lxc/101/snapshot | snapname=s1",
    );
    check(
        snapshot_delete(Qemu, "pve1", 100, "s1", false),
        "DELETE /nodes/pve1/qemu/100/snapshot/s1",
    );
    check(
        snapshot_delete(Qemu, "pve1", 100, "s1", true),
        "DELETE /nodes/pve1/qemu/100/snapshot/s1?force=1",
    );
    check(
        snapshot_rollback(Qemu, "pve1", 100, "s1", true),
        "POST /nodes/pve1/qemu/100/snapshot/s1/rollback | start=1",
    );
    check(
        snapshot_rollback(Lxc, "pve1", 101, "s1", false),
        "POST /nodes/pve1/lxc/101/snapshot/s1/rollback | ",
    );
}

#[test]
fn lifecycle() {
    use GuestKind::{Lxc, Qemu};
    check(
        clone(Qemu, "pve1", 9000, 123)
            .param("name", "web03")
            .flag("full", true),
        "POST /nodes/pve1/qemu/9000/clone | newid=123&name=web03&full=1",
    );
    check(
        clone(Lxc, "pve1", 9001, 124),
        "POST /nodes/pve1/lxc/9001/clone | newid=124",
    );
    check(
        template(Qemu, "pve1", 100),
        "POST /nodes/pve1/qemu/100/template | ",
    );
    check(
        resize(Qemu, "pve1", 100, "scsi0", "+10G", Some("d1")),
        "PUT /nodes/pve1/qemu/100/resize | disk=scsi0&size=%2B10G&digest=d1",
    );
    check(
        resize(Lxc, "pve1", 101, "rootfs", "8G", None),
        "PUT /nodes/pve1/lxc/101/resize | disk=rootfs&size=8G",
    );
    check(
        agent_network("pve1", 100),
        "GET /nodes/pve1/qemu/100/agent/network-get-interfaces",
    );
}

#[test]
fn access() {
    check(
        access_ticket("root@pam", "p@ss word", None),
        "POST /access/ticket | username=root%40pam&password=p%40ss%20word",
    );
    check(
        access_ticket("root@pam", "x", Some("123456")),
        "POST /access/ticket | username=root%40pam&password=x&otp=123456",
    );
    check(
        access_ticket_tfa("root@pam", "PVE:!tfa!abc", "123456"),
        "POST /access/ticket | username=root%40pam&tfa-challenge=PVE%3A%21tfa%21abc&password=123456",
    );
}

#[test]
fn node_names_are_encoded() {
    check(
        storage_content("pve1", "a/b", None, None),
        "GET /nodes/pve1/storage/a%2Fb/content",
    );
}
