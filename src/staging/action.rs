//! One planned change to one guest: what it does, which guest it was resolved to, what the guest
//! looked like when it was planned, and the API request that carries it out.
//!
//! An [`Action`] is plain data (it is saved as JSON in the pending buffer) and builds its request
//! without any IO. It never decides whether it stages: that is the policy's job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::{ApiRequest, GuestKind, Method, PowerAction, endpoints};

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Start,
    Stop,
    Shutdown,
    Reboot,
    Reset,
    Suspend,
    Resume,
    Destroy,
    Snapshot,
    Rollback,
    Delsnapshot,
    Set,
    Tag,
    Template,
    /// A pvesh-style `set`/`create`/`delete` on an API path below a guest; the method and path
    /// are in [`Action::raw`], the parameters in [`Action::params`].
    Raw,
}

impl ActionKind {
    /// The command word that plans it.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Start => "start",
            ActionKind::Stop => "stop",
            ActionKind::Shutdown => "shutdown",
            ActionKind::Reboot => "reboot",
            ActionKind::Reset => "reset",
            ActionKind::Suspend => "suspend",
            ActionKind::Resume => "resume",
            ActionKind::Destroy => "destroy",
            ActionKind::Snapshot => "snapshot",
            ActionKind::Rollback => "rollback",
            ActionKind::Delsnapshot => "delsnapshot",
            ActionKind::Set => "set",
            ActionKind::Tag => "tag",
            ActionKind::Template => "template",
            ActionKind::Raw => "raw",
        }
    }

    /// The power action behind a lifecycle kind.
    pub fn power(self) -> Option<PowerAction> {
        Some(match self {
            ActionKind::Start => PowerAction::Start,
            ActionKind::Stop => PowerAction::Stop,
            ActionKind::Shutdown => PowerAction::Shutdown,
            ActionKind::Reboot => PowerAction::Reboot,
            ActionKind::Reset => PowerAction::Reset,
            ActionKind::Suspend => PowerAction::Suspend,
            ActionKind::Resume => PowerAction::Resume,
            _ => return None,
        })
    }

    /// Why this kind of action is destructive (DESIGN §2), if it always is.
    pub fn inherent_risk(self) -> Option<&'static str> {
        Some(match self {
            ActionKind::Stop => "stops the guest at once, like pulling the plug",
            ActionKind::Shutdown => "shuts the guest down: its services go away",
            ActionKind::Reboot => "reboots the guest: its services are interrupted",
            ActionKind::Reset => "resets the guest: unsaved data in it is lost",
            ActionKind::Suspend => "suspends the guest: its services pause",
            ActionKind::Destroy => "destroys the guest and its disks: cannot be undone",
            ActionKind::Rollback => "rolls back to a snapshot: changes since are lost",
            ActionKind::Delsnapshot => "deletes a snapshot",
            ActionKind::Template => "converts the guest to a template: it can no longer run",
            ActionKind::Raw => "a raw API write on a guest: pvesh+ cannot tell what it changes",
            _ => return None,
        })
    }

    /// Whether a snapshot taken before can undo it (confirmed commits need that).
    pub fn undoable(self) -> bool {
        !matches!(
            self,
            ActionKind::Destroy | ActionKind::Template | ActionKind::Raw
        )
    }
}

/// The guest an action was resolved to when it was planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub vmid: u32,
    pub node: String,
    pub guest_kind: GuestKind,
    pub name: String,
}

impl Target {
    /// `web01 (101)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.vmid)
    }
}

/// What the guest looked like when the action was planned; re-checked at commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    /// The config `digest`; `None` when it was not read (actions that run at once).
    pub digest: Option<String>,
    pub node: String,
    pub status: String,
}

/// The request of a raw action: what `set`/`create`/`delete PATH` sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawCall {
    /// `PUT`, `POST` or `DELETE`.
    pub method: String,
    /// Absolute, below `/api2/json`: `/nodes/pve1/qemu/101/config`.
    pub path: String,
}

impl RawCall {
    /// The method as the API client knows it; an unknown word (a hand-edited buffer) is `None`.
    pub fn method(&self) -> Option<Method> {
        [Method::Put, Method::Post, Method::Delete]
            .into_iter()
            .find(|m| m.as_str() == self.method)
    }
}

/// Whether a parameter name looks like it holds a secret (`password`, `cipassword`, ...).
pub fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "token", "key", "otp"]
        .iter()
        .any(|s| key.contains(s))
}

/// `text` with the values of the secret parameters among `params` replaced by `<redacted>`.
pub fn scrub_secrets<'a>(
    text: &str,
    params: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> String {
    let mut out = text.to_string();
    for (k, v) in params {
        if is_secret_param(k) && !v.is_empty() {
            out = out.replace(v.as_str(), "<redacted>");
        }
    }
    out
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    pub target: Target,
    /// Parameters: `snapname`, `purge`, config keys for `set` and `tag`, ...
    pub params: BTreeMap<String, String>,
    pub precondition: Precondition,
    /// Why it is destructive, when it is.
    pub destructive_reason: Option<String>,
    /// For `set` and `tag`: the values of the changed keys when planned (for `diff`).
    #[serde(default)]
    pub before: BTreeMap<String, String>,
    /// For `set`: per key, whether it applies live or at the next reboot.
    #[serde(default)]
    pub effect: BTreeMap<String, String>,
    /// For [`ActionKind::Raw`]: the method and path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawCall>,
}

impl Action {
    pub fn new(kind: ActionKind, target: Target, precondition: Precondition) -> Action {
        Action {
            kind,
            target,
            params: BTreeMap::new(),
            precondition,
            destructive_reason: kind.inherent_risk().map(str::to_string),
            before: BTreeMap::new(),
            effect: BTreeMap::new(),
            raw: None,
        }
    }

    /// A raw API write on a guest path, with the parameters given.
    pub fn raw(
        target: Target,
        precondition: Precondition,
        method: Method,
        path: &str,
        params: BTreeMap<String, String>,
    ) -> Action {
        let mut a = Action::new(ActionKind::Raw, target, precondition);
        a.raw = Some(RawCall {
            method: method.as_str().to_string(),
            path: path.to_string(),
        });
        a.params = params;
        a
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Action {
        self.params.insert(key.to_string(), value.into());
        self
    }

    fn p(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    fn yes(&self, key: &str) -> bool {
        self.p(key) == Some("1")
    }

    /// `stop`, `snapshot pre-upgrade`, `set cores=4 memory=8192`, and for raw writes
    /// `PUT /nodes/pve1/qemu/101/config description=x` (secret values redacted).
    pub fn summary(&self) -> String {
        if let Some(raw) = &self.raw {
            let mut out = format!("{} {}", raw.method, raw.path);
            for (k, v) in self.audit_params() {
                out.push_str(&format!(" {k}={v}"));
            }
            return out;
        }
        let mut out = self.kind.as_str().to_string();
        match self.kind {
            ActionKind::Snapshot | ActionKind::Rollback | ActionKind::Delsnapshot => {
                if let Some(s) = self.p("snapname") {
                    out.push(' ');
                    out.push_str(s);
                }
            }
            ActionKind::Set | ActionKind::Tag => {
                for (k, v) in &self.params {
                    out.push_str(&format!(" {k}={v}"));
                }
            }
            _ => {}
        }
        let switches: Vec<&str> = ["purge", "force-stop", "vmstate", "start"]
            .into_iter()
            .filter(|k| self.yes(k))
            .collect();
        for s in switches {
            out.push_str(&format!(" --{s}"));
        }
        if let Some(t) = self.p("timeout") {
            out.push_str(&format!(" --timeout {t}"));
        }
        out
    }

    /// The request that carries the action out. `digest` guards config changes against edits
    /// made in between (PVE answers "detected modified configuration" on a mismatch).
    pub fn request(&self) -> ApiRequest {
        if let Some(raw) = &self.raw {
            // A method word that is not PUT/POST/DELETE cannot come from `set`/`create`/
            // `delete`; a hand-edited buffer gets a GET, which changes nothing and fails loudly
            // at the server if the path does not take it.
            let mut req = ApiRequest::new(raw.method().unwrap_or(Method::Get), raw.path.as_str());
            for (k, v) in &self.params {
                req = req.param(k, v);
            }
            return req;
        }
        let t = &self.target;
        let (kind, node, vmid) = (t.guest_kind, t.node.as_str(), t.vmid);
        if let Some(power) = self.kind.power() {
            let mut req = endpoints::guest_power(kind, node, vmid, power);
            if let Some(timeout) = self.p("timeout") {
                req = req.param("timeout", timeout);
            }
            return req.flag_if("forceStop", self.yes("force-stop"));
        }
        let snap = self.p("snapname").unwrap_or_default();
        match self.kind {
            ActionKind::Destroy => {
                endpoints::guest_destroy(kind, node, vmid).flag_if("purge", self.yes("purge"))
            }
            ActionKind::Snapshot => {
                let req = endpoints::snapshot_create(kind, node, vmid, snap, self.p("description"));
                if kind == GuestKind::Qemu {
                    req.flag_if("vmstate", self.yes("vmstate"))
                } else {
                    req
                }
            }
            ActionKind::Rollback => {
                endpoints::snapshot_rollback(kind, node, vmid, snap, self.yes("start"))
            }
            ActionKind::Delsnapshot => endpoints::snapshot_delete(kind, node, vmid, snap, false),
            ActionKind::Template => endpoints::template(kind, node, vmid),
            _ => {
                let changes: Vec<(String, String)> = self
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let digest = self.precondition.digest.as_deref();
                match kind {
                    GuestKind::Qemu => {
                        endpoints::qemu_config_update_async(node, vmid, &changes, digest)
                    }
                    GuestKind::Lxc => endpoints::lxc_config_update(node, vmid, &changes, digest),
                }
            }
        }
    }

    /// `text` (an error from the server, which may quote a value it refused) with the values of
    /// secret parameters replaced by `<redacted>`.
    pub fn scrub(&self, text: &str) -> String {
        scrub_secrets(text, self.params.iter())
    }

    /// The parameters as written to the audit log: anything that looks like a secret is
    /// replaced (`set` accepts no secret keys today, but the log must never learn one).
    pub fn audit_params(&self) -> BTreeMap<String, String> {
        self.params
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_param(k) {
                    "<redacted>".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: ActionKind) -> Action {
        Action::new(
            kind,
            Target {
                vmid: 101,
                node: "pve1".into(),
                guest_kind: GuestKind::Qemu,
                name: "web01".into(),
            },
            Precondition {
                digest: Some("abc".into()),
                node: "pve1".into(),
                status: "running".into(),
            },
        )
    }

    fn check(a: Action, method: &str, path: &str, params: &[(&str, &str)]) {
        let req = a.request();
        assert_eq!(req.method.as_str(), method, "{}", a.summary());
        assert_eq!(req.path, path, "{}", a.summary());
        let got: Vec<(&str, &str)> = req
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, params, "{}", a.summary());
    }

    #[test]
    fn requests() {
        let base = "/nodes/pve1/qemu/101";
        check(
            action(ActionKind::Stop),
            "POST",
            &format!("{base}/status/stop"),
            &[],
        );
        check(
            action(ActionKind::Shutdown)
                .param("timeout", "60")
                .param("force-stop", "1"),
            "POST",
            &format!("{base}/status/shutdown"),
            &[("timeout", "60"), ("forceStop", "1")],
        );
        check(
            action(ActionKind::Destroy).param("purge", "1"),
            "DELETE",
            base,
            &[("purge", "1")],
        );
        check(
            action(ActionKind::Snapshot).param("snapname", "pre"),
            "POST",
            &format!("{base}/snapshot"),
            &[("snapname", "pre")],
        );
        check(
            action(ActionKind::Rollback)
                .param("snapname", "pre")
                .param("start", "1"),
            "POST",
            &format!("{base}/snapshot/pre/rollback"),
            &[("start", "1")],
        );
        check(
            action(ActionKind::Delsnapshot).param("snapname", "pre"),
            "DELETE",
            &format!("{base}/snapshot/pre"),
            &[],
        );
        check(
            action(ActionKind::Set).param("cores", "4"),
            "POST",
            &format!("{base}/config"),
            &[("cores", "4"), ("digest", "abc")],
        );
        check(
            action(ActionKind::Template),
            "POST",
            &format!("{base}/template"),
            &[],
        );
    }

    #[test]
    fn summaries_and_risk() {
        assert_eq!(
            action(ActionKind::Set).param("cores", "4").summary(),
            "set cores=4"
        );
        assert_eq!(
            action(ActionKind::Destroy).param("purge", "1").summary(),
            "destroy --purge"
        );
        assert!(action(ActionKind::Stop).destructive_reason.is_some());
        assert!(action(ActionKind::Start).destructive_reason.is_none());
        assert!(!ActionKind::Destroy.undoable());
    }

    #[test]
    fn audit_params_hide_secrets() {
        let a = action(ActionKind::Set)
            .param("cipassword", "hunter2")
            .param("name", "x");
        let p = a.audit_params();
        assert_eq!(p["cipassword"], "<redacted>");
        assert_eq!(p["name"], "x");
    }

    #[test]
    fn raw_actions() {
        let a = Action::raw(
            action(ActionKind::Start).target,
            action(ActionKind::Start).precondition,
            Method::Put,
            "/nodes/pve1/qemu/101/config",
            BTreeMap::from([
                ("cipassword".to_string(), "hunter2".to_string()),
                ("description".to_string(), "x".to_string()),
            ]),
        );
        check(
            a.clone(),
            "PUT",
            "/nodes/pve1/qemu/101/config",
            &[("cipassword", "hunter2"), ("description", "x")],
        );
        assert_eq!(
            a.summary(),
            "PUT /nodes/pve1/qemu/101/config cipassword=<redacted> description=x"
        );
        assert_eq!(
            a.scrub("cipassword: value 'hunter2' is too short"),
            "cipassword: value '<redacted>' is too short"
        );
        assert!(a.destructive_reason.is_some());
        assert!(!ActionKind::Raw.undoable());
        let text = serde_json::to_string(&a).unwrap();
        assert!(text.contains(r#""kind":"raw""#), "{text}");
        let back: Action = serde_json::from_str(&text).unwrap();
        assert_eq!(a, back);
        // Buffers saved before raw actions existed have no `raw` field.
        let old = serde_json::to_string(&action(ActionKind::Stop)).unwrap();
        assert!(!old.contains("raw"), "{old}");
    }

    #[test]
    fn round_trips_as_json() {
        let a = action(ActionKind::Snapshot).param("snapname", "x");
        let text = serde_json::to_string(&a).unwrap();
        let back: Action = serde_json::from_str(&text).unwrap();
        assert_eq!(a, back);
    }
}
