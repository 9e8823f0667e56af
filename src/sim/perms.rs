//! Built-in roles, ACL entries and privilege checks (FACTS §3, pve-access-control
//! `AccessControl.pm` role definitions).
//!
//! The privilege lists follow PVE 9's built-in roles; `root@pam` always has every privilege.
//! This module decides "may user U do P on path X"; it does not know about HTTP.

use std::collections::BTreeSet;

/// Every privilege PVE 9 knows (used for Administrator and `root@pam`).
pub const ALL_PRIVS: &[&str] = &[
    "Datastore.Allocate",
    "Datastore.AllocateSpace",
    "Datastore.AllocateTemplate",
    "Datastore.Audit",
    "Group.Allocate",
    "Mapping.Audit",
    "Mapping.Modify",
    "Mapping.Use",
    "Permissions.Modify",
    "Pool.Allocate",
    "Pool.Audit",
    "Realm.Allocate",
    "Realm.AllocateUser",
    "SDN.Allocate",
    "SDN.Audit",
    "SDN.Use",
    "Sys.AccessNetwork",
    "Sys.Audit",
    "Sys.Console",
    "Sys.Incoming",
    "Sys.Modify",
    "Sys.PowerMgmt",
    "Sys.Syslog",
    "User.Modify",
    "VM.Allocate",
    "VM.Audit",
    "VM.Backup",
    "VM.Clone",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
    "VM.GuestAgent.Unrestricted",
    "VM.Migrate",
    "VM.PowerMgmt",
    "VM.Replicate",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
];

const VM_ADMIN: &[&str] = &[
    "VM.Allocate",
    "VM.Audit",
    "VM.Backup",
    "VM.Clone",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
    "VM.GuestAgent.Unrestricted",
    "VM.Migrate",
    "VM.PowerMgmt",
    "VM.Replicate",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
    "Mapping.Use",
    "Datastore.AllocateSpace",
    "Datastore.Audit",
];

/// The built-in roles: name and privileges.
pub const ROLES: &[(&str, &[&str])] = &[
    ("Administrator", ALL_PRIVS),
    ("NoAccess", &[]),
    (
        "PVEAuditor",
        &[
            "Datastore.Audit",
            "Mapping.Audit",
            "Pool.Audit",
            "SDN.Audit",
            "Sys.Audit",
            "VM.Audit",
            "VM.GuestAgent.Audit",
        ],
    ),
    ("PVEVMAdmin", VM_ADMIN),
    (
        "PVEVMUser",
        &[
            "VM.Audit",
            "VM.Backup",
            "VM.Config.CDROM",
            "VM.Config.Cloudinit",
            "VM.Console",
            "VM.GuestAgent.Audit",
            "VM.PowerMgmt",
            "Datastore.AllocateSpace",
            "Datastore.Audit",
        ],
    ),
    (
        "PVEAdmin",
        &[
            "Datastore.Allocate",
            "Datastore.AllocateSpace",
            "Datastore.AllocateTemplate",
            "Datastore.Audit",
            "Group.Allocate",
            "Mapping.Audit",
            "Mapping.Modify",
            "Mapping.Use",
            "Pool.Allocate",
            "Pool.Audit",
            "Realm.AllocateUser",
            "SDN.Allocate",
            "SDN.Audit",
            "SDN.Use",
            "Sys.Audit",
            "Sys.Console",
            "Sys.Syslog",
            "User.Modify",
            "VM.Allocate",
            "VM.Audit",
            "VM.Backup",
            "VM.Clone",
            "VM.Config.CDROM",
            "VM.Config.CPU",
            "VM.Config.Cloudinit",
            "VM.Config.Disk",
            "VM.Config.HWType",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.Options",
            "VM.Console",
            "VM.GuestAgent.Audit",
            "VM.GuestAgent.FileRead",
            "VM.GuestAgent.FileSystemMgmt",
            "VM.GuestAgent.FileWrite",
            "VM.GuestAgent.Unrestricted",
            "VM.Migrate",
            "VM.PowerMgmt",
            "VM.Replicate",
            "VM.Snapshot",
            "VM.Snapshot.Rollback",
        ],
    ),
    ("PVEPoolAdmin", &["Pool.Allocate", "Pool.Audit"]),
    (
        "PVEDatastoreAdmin",
        &[
            "Datastore.Allocate",
            "Datastore.AllocateSpace",
            "Datastore.AllocateTemplate",
            "Datastore.Audit",
        ],
    ),
];

pub fn role_privs(role: &str) -> Option<&'static [&'static str]> {
    ROLES.iter().find(|(n, _)| *n == role).map(|(_, p)| *p)
}

/// One ACL entry: `ugid` is a userid or a token id (`user@realm!name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    pub path: String,
    pub ugid: String,
    pub role: String,
    pub propagate: bool,
    pub is_token: bool,
}

/// The privileges `ugid` has on `path`: the most specific ACL level that names the user wins,
/// and entries on a parent path count only when they propagate.
pub fn privileges(acl: &[AclEntry], ugid: &str, path: &str) -> BTreeSet<&'static str> {
    if ugid == "root@pam" {
        return ALL_PRIVS.iter().copied().collect();
    }
    let mut levels = vec!["/".to_string()];
    let mut acc = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        acc.push('/');
        acc.push_str(seg);
        levels.push(acc.clone());
    }
    let mut result = BTreeSet::new();
    for (i, level) in levels.iter().enumerate() {
        let exact = i + 1 == levels.len();
        let here: Vec<&AclEntry> = acl
            .iter()
            .filter(|e| e.ugid == ugid && &e.path == level && (exact || e.propagate))
            .collect();
        if !here.is_empty() {
            result = here
                .iter()
                .filter_map(|e| role_privs(&e.role))
                .flat_map(|p| p.iter().copied())
                .collect();
        }
    }
    result
}

/// Whether `ugid` (a userid, or a privilege-separated token id) holds `privs` on `path` (all of
/// them, or any one when `any`).
pub fn has(acl: &[AclEntry], ugid: &str, path: &str, privs: &[&str], any: bool) -> bool {
    if ugid == "root@pam" {
        return true;
    }
    // A token with privilege separation holds what both it and its user hold.
    let held = match ugid.split_once('!') {
        Some((user, _)) => {
            let of_user = privileges(acl, user, path);
            privileges(acl, ugid, path)
                .intersection(&of_user)
                .copied()
                .collect()
        }
        None => privileges(acl, ugid, path),
    };
    if any {
        privs.iter().any(|p| held.contains(p))
    } else {
        privs.iter().all(|p| held.contains(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, ugid: &str, role: &str, propagate: bool) -> AclEntry {
        AclEntry {
            path: path.into(),
            ugid: ugid.into(),
            role: role.into(),
            propagate,
            is_token: false,
        }
    }

    #[test]
    fn propagation_and_override() {
        let acl = vec![
            entry("/", "auditor@pve", "PVEAuditor", true),
            entry("/vms", "tfa@pve", "PVEVMAdmin", true),
            entry("/vms/103", "tfa@pve", "NoAccess", false),
            entry("/storage", "x@pve", "PVEAuditor", false),
            entry("/vms", "auditor@pve!sep", "PVEVMAdmin", true),
            entry("/", "auditor@pve!wide", "Administrator", true),
        ];
        let cases = [
            ("auditor@pve", "/vms/101", "VM.Audit", true),
            ("auditor@pve", "/vms/101", "VM.PowerMgmt", false),
            ("tfa@pve", "/vms/101", "VM.PowerMgmt", true),
            ("tfa@pve", "/vms/103", "VM.Audit", false),
            ("tfa@pve", "/", "Sys.Audit", false),
            ("x@pve", "/storage", "Datastore.Audit", true),
            ("x@pve", "/storage/local", "Datastore.Audit", false),
            ("root@pam", "/anything", "Sys.Modify", true),
            ("auditor@pve!sep", "/vms/101", "VM.Audit", true),
            ("auditor@pve!sep", "/storage", "Datastore.Audit", false),
            ("auditor@pve!wide", "/vms/101", "VM.PowerMgmt", false),
        ];
        for (user, path, privilege, want) in cases {
            assert_eq!(
                has(&acl, user, path, &[privilege], false),
                want,
                "{user} {path} {privilege}"
            );
        }
    }
}
