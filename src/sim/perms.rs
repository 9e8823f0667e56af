//! Built-in roles, ACL entries and privilege checks (FACTS §3, pve-access-control
//! `AccessControl.pm` role definitions).
//!
//! The privilege lists follow PVE 9's built-in roles; `root@pam` always has every privilege.
//! This module decides "may user U do P on path X"; it does not know about HTTP.

use std::collections::{BTreeMap, BTreeSet};

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

/// The roles made with `POST /access/roles`: name and privileges.
pub type Roles = BTreeMap<String, BTreeSet<String>>;

/// Whether `name` is one of PVE 9's privileges.
pub fn is_privilege(name: &str) -> bool {
    ALL_PRIVS.contains(&name)
}

/// Whether `role` is a built-in role (PVE: "special", it cannot be changed or deleted).
pub fn is_builtin(role: &str) -> bool {
    ROLES.iter().any(|(n, _)| *n == role)
}

/// The privileges of `role`: a built-in one, or one of `custom`.
pub fn role_privs<'a>(custom: &'a Roles, role: &str) -> Option<Vec<&'a str>> {
    if let Some((_, privs)) = ROLES.iter().find(|(n, _)| *n == role) {
        return Some(privs.to_vec());
    }
    custom
        .get(role)
        .map(|privs| privs.iter().map(String::as_str).collect())
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

/// The privileges `ugid` has on `path`, each with whether it propagates below `path`: the most
/// specific ACL level that names the user wins, and entries on a parent path count only when
/// they propagate.
pub fn privileges<'a>(
    acl: &[AclEntry],
    roles: &'a Roles,
    ugid: &str,
    path: &str,
) -> BTreeMap<&'a str, bool> {
    if ugid == "root@pam" {
        return ALL_PRIVS.iter().map(|p| (*p, true)).collect();
    }
    let mut levels = vec!["/".to_string()];
    let mut acc = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        acc.push('/');
        acc.push_str(seg);
        levels.push(acc.clone());
    }
    let mut result = BTreeMap::new();
    for (i, level) in levels.iter().enumerate() {
        let exact = i + 1 == levels.len();
        let here: Vec<&AclEntry> = acl
            .iter()
            .filter(|e| e.ugid == ugid && &e.path == level && (exact || e.propagate))
            .collect();
        if !here.is_empty() {
            result = BTreeMap::new();
            for e in here {
                for p in role_privs(roles, &e.role).unwrap_or_default() {
                    let propagates = result.get(p).copied().unwrap_or(false) || e.propagate;
                    result.insert(p, propagates);
                }
            }
        }
    }
    result
}

/// What `ugid` (a userid, or a privilege-separated token id) holds on `path`: for a token, what
/// both it and its user hold.
pub fn effective<'a>(
    acl: &[AclEntry],
    roles: &'a Roles,
    ugid: &str,
    path: &str,
) -> BTreeMap<&'a str, bool> {
    match ugid.split_once('!') {
        Some((user, _)) => {
            let of_user = privileges(acl, roles, user, path);
            privileges(acl, roles, ugid, path)
                .into_iter()
                .filter(|(p, _)| of_user.contains_key(p))
                .collect()
        }
        None => privileges(acl, roles, ugid, path),
    }
}

/// Whether `ugid` (a userid, or a privilege-separated token id) holds `privs` on `path` (all of
/// them, or any one when `any`).
pub fn has(
    acl: &[AclEntry],
    roles: &Roles,
    ugid: &str,
    path: &str,
    privs: &[&str],
    any: bool,
) -> bool {
    if ugid == "root@pam" {
        return true;
    }
    let held = effective(acl, roles, ugid, path);
    if any {
        privs.iter().any(|p| held.contains_key(p))
    } else {
        privs.iter().all(|p| held.contains_key(p))
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
                has(&acl, &Roles::new(), user, path, &[privilege], false),
                want,
                "{user} {path} {privilege}"
            );
        }
    }
}
