//! `/access` routes: tickets (password, renewal, TOTP second factor), realms, users, API tokens,
//! roles, ACLs, and `/version` (FACTS §3).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{ApiError, Ctx, Perm, Reply, Route, TOKENID, USERID, index, route};
use crate::secret::Secret;
use crate::sim::crypto::totp_code;
use crate::sim::perms::{self, AclEntry, ROLES};
use crate::sim::state::ApiToken;

const SELF_OR_MODIFY: Perm =
    Perm::Custom(r#"["or",["userid-param","self"],["userid-group",["User.Modify"]]]"#);

const SYS_MODIFY_ACCESS: Perm = Perm::Privs {
    path: "/access",
    privs: &["Sys.Modify"],
    any: false,
};
const ROLEID: &str = "roleid:string fmt=pve-roleid";
const PRIVS: &str = "privs?:string fmt=pve-priv-list";

pub fn routes() -> Vec<Route> {
    vec![
        route("GET", "/access", "index", "array", Perm::All, &[], |c| Ok(index(c, "subdir"))).desc("Directory index."),
        route("GET", "/access/ticket", "get_ticket", "null", Perm::World, &[], |_| Ok(Reply::null())).desc("Dummy. Useful for formatters which want to provide a login page."),
        route("POST", "/access/ticket", "create_ticket", "object", Perm::World, &[
            "username:string maxlen=64", "password:string", "realm?:string fmt=pve-realm maxlen=32",
            "otp?:string", "tfa-challenge?:string", "new-format?:boolean", "path?:string maxlen=64",
            "privs?:string fmt=pve-priv-list maxlen=64",
        ], create_ticket).protected().no_token().desc("Create or verify authentication ticket."),
        route("GET", "/access/domains", "index", "array", Perm::World, &[], domains).desc("Authentication domain index."),
        route("GET", "/access/users", "index", "array", Perm::All, &["enabled?:boolean", "full?:boolean"], users).protected().desc("User index."),
        route("POST", "/access/users", "create_user", "null",
            Perm::Custom(r#"["and",["userid-param","Realm.AllocateUser"],["userid-group",["User.Modify"],"groups_param","create"]]"#),
            &[USERID, "comment?:string maxlen=2048", "email?:string maxlen=254", "enable?:boolean",
              "expire?:integer min=0", "firstname?:string maxlen=1024", "lastname?:string maxlen=1024",
              "groups?:string", "keys?:string", "password?:string minlen=8 maxlen=64"],
            create_user).protected().desc("Create new user."),
        route("DELETE", "/access/users/{userid}", "delete_user", "null",
            Perm::Custom(r#"["and",["userid-param","Realm.AllocateUser"],["userid-group",["User.Modify"]]]"#),
            &[USERID], delete_user).protected().desc("Delete user."),
        route("GET", "/access/users/{userid}", "read_user", "object", Perm::Custom(r#"["userid-group",["User.Modify","Sys.Audit"]]"#), &[USERID], read_user).desc("Get user configuration."),
        route("GET", "/access/users/{userid}/token", "token_index", "array", SELF_OR_MODIFY, &[USERID], token_index).desc("Get user API tokens."),
        route("GET", "/access/users/{userid}/token/{tokenid}", "read_token", "object", SELF_OR_MODIFY, &[USERID, TOKENID], read_token).desc("Get specific API token information."),
        route("POST", "/access/users/{userid}/token/{tokenid}", "generate_token", "object", SELF_OR_MODIFY, &[
            USERID, TOKENID, "comment?:string", "expire?:integer min=0", "privsep?:boolean",
        ], generate_token).protected().desc("Generate a new API token for a specific user. NOTE: returns API token value, which needs to be stored as it cannot be retrieved afterwards!"),
        route("DELETE", "/access/users/{userid}/token/{tokenid}", "remove_token", "null", SELF_OR_MODIFY, &[USERID, TOKENID], remove_token).protected().desc("Remove API token for a specific user."),
        route("PUT", "/access/password", "change_password", "null",
            Perm::Custom(r#"["or",["userid-param","self"],["and",["userid-param","Realm.AllocateUser"],["userid-group",["User.Modify"]]]]"#),
            &[USERID, "password:string minlen=8 maxlen=64", "confirmation-password?:string minlen=5 maxlen=64"],
            change_password).protected().no_token().desc("Change user password."),
        route("GET", "/access/groups", "index", "array", Perm::All, &[], groups).desc("Group index."),
        route("GET", "/access/roles", "index", "array", Perm::All, &[], roles).desc("Role index."),
        route("POST", "/access/roles", "create_role", "null", SYS_MODIFY_ACCESS, &[ROLEID, PRIVS], create_role).protected().desc("Create new role."),
        route("GET", "/access/roles/{roleid}", "read_role", "object", Perm::All, &[ROLEID], read_role).desc("Get role configuration."),
        route("PUT", "/access/roles/{roleid}", "update_role", "null", SYS_MODIFY_ACCESS, &[ROLEID, PRIVS, "append?:boolean"], update_role).protected().desc("Update an existing role."),
        route("DELETE", "/access/roles/{roleid}", "delete_role", "null", SYS_MODIFY_ACCESS, &[ROLEID], delete_role).protected().desc("Delete role."),
        route("GET", "/access/permissions", "permissions", "object", Perm::All, &[
            "path?:string", r"userid?:string pattern=^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+(![A-Za-z][A-Za-z0-9.\-_]+)?$",
        ], permissions).desc("Retrieve effective permissions of given user/token."),
        route("GET", "/access/acl", "read_acl", "array", Perm::All, &[], read_acl).desc("Get Access Control List (ACLs)."),
        route("PUT", "/access/acl", "update_acl", "null", Perm::Custom(r#"["perm-modify","{path}"]"#), &[
            "path:string", "roles:string fmt=pve-roleid-list", "users?:string fmt=pve-userid-list",
            "groups?:string fmt=pve-groupid-list", "tokens?:string fmt=pve-tokenid-list",
            "propagate?:boolean", "delete?:boolean",
        ], update_acl).protected().desc("Update Access Control List (add or remove permissions)."),
        route("GET", "/version", "version", "object", Perm::All, &[], |_| {
            use super::nodes::{PVE_RELEASE, PVE_REPOID, PVE_VERSION};
            Ok(Reply::data(json!({ "version": PVE_VERSION, "release": PVE_RELEASE, "repoid": PVE_REPOID, "console": "xtermjs" })))
        }).desc("API version details, including some parts of the global datacenter config."),
    ]
}

fn auth_failure() -> ApiError {
    ApiError::new(401, "authentication failure")
}

fn create_ticket(c: &mut Ctx) -> Result<Reply, ApiError> {
    let mut username = c.req("username")?.to_string();
    if !username.contains('@') {
        match c.str("realm") {
            Some(realm) => username = format!("{username}@{realm}"),
            None => return Err(auth_failure()),
        }
    }
    let password = c.req("password")?.to_string();
    let now = c.now();
    let user = c
        .state
        .users
        .get(&username)
        .filter(|u| u.enable)
        .cloned()
        .ok_or_else(auth_failure)?;
    if let Some(challenge) = c.str("tfa-challenge") {
        // Second step: the half ticket must be ours and for this user; the password is the code.
        let subject = c
            .keys
            .verify_ticket(challenge, now, c.ticket_lifetime)
            .ok_or_else(auth_failure)?;
        if subject != format!("!tfa!{username}") {
            return Err(auth_failure());
        }
        let code = password.strip_prefix("totp:").unwrap_or(&password);
        let secret = user.totp.as_deref().ok_or_else(auth_failure)?;
        let ok = [-30, 0, 30]
            .iter()
            .any(|d| totp_code(secret, now + d).as_deref() == Some(code));
        if !ok {
            return Err(auth_failure());
        }
        return Ok(Reply::data(full_ticket(c, &username)));
    }
    let renewal = password.starts_with("PVE:")
        && c.keys
            .verify_ticket(&password, now, c.ticket_lifetime)
            .as_deref()
            == Some(username.as_str());
    if !renewal {
        let good = user
            .password
            .as_ref()
            .is_some_and(|p| p.expose() == password);
        if !good {
            return Err(auth_failure());
        }
        if user.totp.is_some() {
            let half = c.keys.ticket(&format!("!tfa!{username}"), now);
            return Ok(Reply::data(
                json!({ "username": username, "ticket": half, "NeedTFA": 1 }),
            ));
        }
    }
    Ok(Reply::data(full_ticket(c, &username)))
}

fn full_ticket(c: &Ctx, username: &str) -> Value {
    let now = c.now();
    let mut cap = Map::new();
    let groups = [
        ("vms", "/vms", "VM."),
        ("storage", "/storage", "Datastore."),
        ("nodes", "/nodes", "Sys."),
        ("dc", "/", "Sys.Audit"),
        ("access", "/access", "User."),
        ("sdn", "/sdn", "SDN."),
    ];
    for (name, path, prefix) in groups {
        let held = perms::privileges(&c.state.acl, &c.state.roles, username, path);
        let m: Map<String, Value> = held
            .into_iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(p, _)| (p.to_string(), json!(1)))
            .collect();
        cap.insert(name.to_string(), Value::Object(m));
    }
    json!({
        "username": username,
        "ticket": c.keys.ticket(username, now),
        "CSRFPreventionToken": c.keys.csrf(username, now),
        "cap": cap,
        "clustername": c.state.cluster_name,
    })
}

fn domains(_c: &mut Ctx) -> Result<Reply, ApiError> {
    Ok(Reply::data(json!([
        { "realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication" },
        { "realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server", "default": 1 },
    ])))
}

fn may_see_user(c: &Ctx, userid: &str) -> bool {
    c.user == userid || c.can("/access/groups", &["User.Modify", "Sys.Audit"])
}

fn user_json(u: &crate::sim::state::User, full: bool) -> Value {
    let mut v = json!({
        "userid": u.userid, "enable": u8::from(u.enable), "expire": 0,
        "comment": u.comment, "email": u.email,
        "realm-type": u.userid.rsplit('@').next().unwrap_or(""),
    });
    if full && let Some(o) = v.as_object_mut() {
        let tokens: Vec<Value> = u.tokens.iter().map(token_json).collect();
        o.insert("tokens".into(), json!(tokens));
    }
    v
}

fn token_json(t: &ApiToken) -> Value {
    json!({ "tokenid": t.id, "comment": t.comment, "expire": t.expire, "privsep": u8::from(t.privsep) })
}

fn users(c: &mut Ctx) -> Result<Reply, ApiError> {
    let full = c.flag("full");
    let only_enabled = c.str("enabled");
    let rows: Vec<Value> = c
        .state
        .users
        .values()
        .filter(|u| may_see_user(c, &u.userid))
        .filter(|u| only_enabled.is_none_or(|e| (e == "1") == u.enable))
        .map(|u| user_json(u, full))
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn read_user(c: &mut Ctx) -> Result<Reply, ApiError> {
    let userid = c.req("userid")?.to_string();
    if !may_see_user(c, &userid) {
        return Err(ApiError::perm(None));
    }
    let u = c
        .state
        .users
        .get(&userid)
        .ok_or_else(|| ApiError::fail(format!("no such user ('{userid}')")))?;
    let mut v = user_json(u, false);
    if let Some(o) = v.as_object_mut() {
        o.shift_remove("userid");
        o.shift_remove("realm-type");
        let tokens: Map<String, Value> = u.tokens.iter().map(|t| (t.id.clone(), json!({ "comment": t.comment, "expire": t.expire, "privsep": u8::from(t.privsep) }))).collect();
        o.insert("tokens".into(), Value::Object(tokens));
    }
    Ok(Reply::data(v))
}

fn self_or_modify(c: &Ctx) -> Result<String, ApiError> {
    let userid = c.req("userid")?.to_string();
    if c.user == userid || c.can("/access/groups", &["User.Modify"]) {
        Ok(userid)
    } else {
        Err(ApiError::perm(None))
    }
}

fn token_index(c: &mut Ctx) -> Result<Reply, ApiError> {
    let userid = self_or_modify(c)?;
    let u = c
        .state
        .users
        .get(&userid)
        .ok_or_else(|| ApiError::fail(format!("no such user ('{userid}')")))?;
    Ok(Reply::data(Value::Array(
        u.tokens.iter().map(token_json).collect(),
    )))
}

fn find_token<'a>(c: &'a Ctx, userid: &str, tokenid: &str) -> Result<&'a ApiToken, ApiError> {
    c.state
        .users
        .get(userid)
        .and_then(|u| u.tokens.iter().find(|t| t.id == tokenid))
        .ok_or_else(|| ApiError::fail(format!("no such token '{tokenid}' for user '{userid}'")))
}

fn read_token(c: &mut Ctx) -> Result<Reply, ApiError> {
    let userid = self_or_modify(c)?;
    let t = find_token(c, &userid, c.req("tokenid")?)?;
    let mut v = token_json(t);
    if let Some(o) = v.as_object_mut() {
        o.shift_remove("tokenid");
    }
    Ok(Reply::data(v))
}

fn generate_token(c: &mut Ctx) -> Result<Reply, ApiError> {
    let userid = self_or_modify(c)?;
    let tokenid = c.req("tokenid")?.to_string();
    let comment = c.str("comment").unwrap_or("").to_string();
    let expire = c.int("expire").unwrap_or(0);
    let privsep = c.str("privsep").is_none_or(|v| v == "1");
    let user = c
        .state
        .users
        .get_mut(&userid)
        .ok_or_else(|| ApiError::fail(format!("no such user ('{userid}')")))?;
    if user.tokens.iter().any(|t| t.id == tokenid) {
        return Err(ApiError::param("tokenid", "Token already exists."));
    }
    // Secrets are real random values (not from the seed): they are credentials.
    let value = crate::sim::tasks::uuid_like(rand::random(), rand::random());
    let token = ApiToken {
        id: tokenid.clone(),
        secret: Secret::new(value.clone()),
        comment,
        expire,
        privsep,
    };
    let info = token_json(&token);
    if let Some(u) = c.state.users.get_mut(&userid) {
        u.tokens.push(token);
    }
    Ok(Reply::data(
        json!({ "full-tokenid": format!("{userid}!{tokenid}"), "info": info, "value": value }),
    ))
}

fn remove_token(c: &mut Ctx) -> Result<Reply, ApiError> {
    let userid = self_or_modify(c)?;
    let tokenid = c.req("tokenid")?.to_string();
    find_token(c, &userid, &tokenid)?;
    if let Some(u) = c.state.users.get_mut(&userid) {
        u.tokens.retain(|t| t.id != tokenid);
    }
    c.state
        .acl
        .retain(|e| e.ugid != format!("{userid}!{tokenid}"));
    Ok(Reply::null())
}

/// Groups the caller may see (User.Modify, Sys.Audit or Group.Allocate on the group), with
/// their members as a comma-separated list.
fn groups(c: &mut Ctx) -> Result<Reply, ApiError> {
    let rows: Vec<Value> = c
        .state
        .groups
        .iter()
        .filter(|g| {
            c.can(
                &format!("/access/groups/{}", g.groupid),
                &["User.Modify", "Sys.Audit", "Group.Allocate"],
            )
        })
        .map(|g| {
            let mut row = json!({ "groupid": g.groupid, "comment": g.comment });
            if !g.users.is_empty()
                && let Some(o) = row.as_object_mut()
            {
                o.insert("users".into(), json!(g.users.join(",")));
            }
            row
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn roles(c: &mut Ctx) -> Result<Reply, ApiError> {
    let mut rows: Vec<Value> = ROLES
        .iter()
        .map(|(name, privs)| json!({ "roleid": name, "privs": privs.join(","), "special": 1 }))
        .collect();
    rows.extend(c.state.roles.iter().map(|(name, privs)| {
        let privs: Vec<&str> = privs.iter().map(String::as_str).collect();
        json!({ "roleid": name, "privs": privs.join(","), "special": 0 })
    }));
    Ok(Reply::data(Value::Array(rows)))
}

/// The privileges of a `privs` parameter (checked against PVE's list by its format).
fn privs_param(c: &Ctx) -> BTreeSet<String> {
    c.str("privs")
        .unwrap_or("")
        .split([',', ';', ' '])
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// `POST /access/roles` (pve-access-control `API2/Role.pm`): not in the PVE namespace, not
/// taken.
fn create_role(c: &mut Ctx) -> Result<Reply, ApiError> {
    let role = c.req("roleid")?.to_string();
    if role.to_ascii_lowercase().starts_with("pve") {
        return Err(ApiError::param(
            "roleid",
            "cannot use role ID starting with the (case-insensitive) 'PVE' namespace",
        ));
    }
    if perms::role_privs(&c.state.roles, &role).is_some() {
        return Err(ApiError::fail(format!(
            "create role failed: role '{role}' already exists"
        )));
    }
    let privs = privs_param(c);
    c.state.roles.insert(role, privs);
    Ok(Reply::null())
}

fn read_role(c: &mut Ctx) -> Result<Reply, ApiError> {
    let role = c.req("roleid")?;
    let privs = perms::role_privs(&c.state.roles, role)
        .ok_or_else(|| ApiError::fail(format!("role '{role}' does not exist")))?;
    let m: Map<String, Value> = privs.iter().map(|p| (p.to_string(), json!(1))).collect();
    Ok(Reply::data(Value::Object(m)))
}

fn update_role(c: &mut Ctx) -> Result<Reply, ApiError> {
    let role = c.req("roleid")?.to_string();
    if perms::is_builtin(&role) {
        return Err(ApiError::fail(format!(
            "auto-generated role '{role}' cannot be modified"
        )));
    }
    let append = c.flag("append");
    let privs = privs_param(c);
    let Some(held) = c.state.roles.get_mut(&role) else {
        return Err(ApiError::fail(format!(
            "update role failed: role '{role}' does not exist"
        )));
    };
    if !append {
        held.clear();
    }
    held.extend(privs);
    Ok(Reply::null())
}

fn delete_role(c: &mut Ctx) -> Result<Reply, ApiError> {
    let role = c.req("roleid")?.to_string();
    if perms::is_builtin(&role) {
        return Err(ApiError::fail(format!(
            "auto-generated role '{role}' cannot be deleted"
        )));
    }
    if c.state.roles.remove(&role).is_none() {
        return Err(ApiError::fail(format!(
            "delete role failed: role '{role}' does not exist"
        )));
    }
    Ok(Reply::null())
}

/// `Realm.AllocateUser` on the user's realm and `User.Modify` on `/access/groups`.
fn may_allocate_user(c: &Ctx, userid: &str) -> Result<(), ApiError> {
    let realm = userid.rsplit('@').next().unwrap_or("");
    c.check(
        &format!("/access/realm/{realm}"),
        &["Realm.AllocateUser"],
        false,
    )?;
    c.check("/access/groups", &["User.Modify"], false)
}

/// `POST /access/users` (`API2/User.pm`): a new user of a known realm.
fn create_user(c: &mut Ctx) -> Result<Reply, ApiError> {
    let userid = c.req("userid")?.to_string();
    may_allocate_user(c, &userid)?;
    let realm = userid.rsplit('@').next().unwrap_or("");
    if !matches!(realm, "pam" | "pve") {
        return Err(ApiError::fail(format!(
            "create user failed: domain '{realm}' does not exist"
        )));
    }
    if c.state.users.contains_key(&userid) {
        return Err(ApiError::fail(format!(
            "create user failed: user '{userid}' already exists"
        )));
    }
    if let Some(groups) = c.str("groups").filter(|g| !g.is_empty()) {
        for g in groups.split([',', ';', ' ']).filter(|g| !g.is_empty()) {
            if !c.state.groups.iter().any(|x| x.groupid == g) {
                return Err(ApiError::fail(format!(
                    "create user failed: no such group '{g}'"
                )));
            }
        }
    }
    let user = crate::sim::state::User {
        userid: userid.clone(),
        password: c.str("password").map(Secret::new),
        totp: None,
        enable: c.str("enable").is_none_or(|v| v == "1"),
        comment: c.str("comment").unwrap_or("").to_string(),
        email: c.str("email").unwrap_or("").to_string(),
        tokens: Vec::new(),
    };
    c.state.users.insert(userid, user);
    Ok(Reply::null())
}

fn delete_user(c: &mut Ctx) -> Result<Reply, ApiError> {
    let userid = c.req("userid")?.to_string();
    may_allocate_user(c, &userid)?;
    if c.state.users.remove(&userid).is_none() {
        return Err(ApiError::fail(format!(
            "delete user failed: no such user ('{userid}')"
        )));
    }
    let token_prefix = format!("{userid}!");
    c.state
        .acl
        .retain(|e| e.ugid != userid && !e.ugid.starts_with(&token_prefix));
    Ok(Reply::null())
}

/// `GET /access/permissions`: `{path: {privilege: propagate}}` for the caller (or a user or
/// token it may see: its own tokens, anyone's with `Sys.Audit` on `/access`), over the paths
/// PVE lists (the top levels and every ACL path), or only `path`.
fn permissions(c: &mut Ctx) -> Result<Reply, ApiError> {
    let me = c.auth_id.clone();
    let who = c.str("userid").unwrap_or(&me).to_string();
    let own = who == me || who.split_once('!').is_some_and(|(u, _)| u == c.user);
    if !own && !c.can("/access", &["Sys.Audit"]) {
        return Err(ApiError::perm(Some("/access, Sys.Audit".into())));
    }
    // A token without privilege separation holds what its user holds.
    let subject = match who.split_once('!') {
        Some((user, name))
            if c.state
                .users
                .get(user)
                .and_then(|u| u.tokens.iter().find(|t| t.id == name))
                .is_some_and(|t| !t.privsep) =>
        {
            user.to_string()
        }
        _ => who.clone(),
    };
    let paths: BTreeSet<String> = match c.str("path") {
        Some(p) => [p.to_string()].into(),
        None => [
            "/",
            "/access",
            "/access/groups",
            "/nodes",
            "/pool",
            "/sdn",
            "/storage",
            "/vms",
        ]
        .iter()
        .map(|p| p.to_string())
        .chain(c.state.acl.iter().map(|e| e.path.clone()))
        .collect(),
    };
    let mut out = Map::new();
    for path in paths {
        let held = perms::effective(&c.state.acl, &c.state.roles, &subject, &path);
        if held.is_empty() {
            continue;
        }
        let m: Map<String, Value> = held
            .into_iter()
            .map(|(p, propagate)| (p.to_string(), json!(u8::from(propagate))))
            .collect();
        out.insert(path, Value::Object(m));
    }
    Ok(Reply::data(Value::Object(out)))
}

fn read_acl(c: &mut Ctx) -> Result<Reply, ApiError> {
    let rows: Vec<Value> = c
        .state
        .acl
        .iter()
        .filter(|e| c.can(&e.path, &["Sys.Audit", "Permissions.Modify"]))
        .map(|e| json!({ "path": e.path, "type": if e.is_token { "token" } else { "user" }, "ugid": e.ugid, "roleid": e.role, "propagate": u8::from(e.propagate) }))
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn update_acl(c: &mut Ctx) -> Result<Reply, ApiError> {
    let path = c.req("path")?.to_string();
    c.check(&path, &["Permissions.Modify"], false)?;
    let roles: Vec<String> = c
        .req("roles")?
        .split([',', ';', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    for r in &roles {
        if perms::role_privs(&c.state.roles, r).is_none() {
            return Err(ApiError::fail(format!("role '{r}' does not exist")));
        }
    }
    let propagate = c.str("propagate").is_none_or(|v| v == "1");
    let delete = c.flag("delete");
    let list = |k: &str| -> Vec<String> {
        c.str(k)
            .unwrap_or("")
            .split([',', ';', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut subjects: Vec<(String, bool)> = list("users").into_iter().map(|u| (u, false)).collect();
    subjects.extend(list("tokens").into_iter().map(|t| (t, true)));
    for (ugid, is_token) in &subjects {
        if !is_token && !c.state.users.contains_key(ugid) {
            return Err(ApiError::fail(format!("user '{ugid}' does not exist")));
        }
    }
    for (ugid, is_token) in subjects {
        for role in &roles {
            c.state
                .acl
                .retain(|e| !(e.path == path && e.ugid == ugid && &e.role == role));
            if !delete {
                c.state.acl.push(AclEntry {
                    path: path.clone(),
                    ugid: ugid.clone(),
                    role: role.clone(),
                    propagate,
                    is_token,
                });
            }
        }
    }
    Ok(Reply::null())
}

fn change_password(c: &mut Ctx) -> Result<Reply, ApiError> {
    let userid = c.req("userid")?.to_string();
    if c.user != userid && !c.is_root() {
        return Err(ApiError::perm(None));
    }
    if !c.state.users.contains_key(&userid) {
        return Err(ApiError::fail(format!("no such user ('{userid}')")));
    }
    let password = Secret::new(c.req("password")?);
    c.state.set_password(&userid, password);
    Ok(Reply::null())
}
