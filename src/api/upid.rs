//! `Upid`: PVE's unique task id, parsed into its fields and printed back.
//!
//! Format (pve-common `UPID.pm`): `UPID:<node>:<pid 8 hex>:<pstart 8-9 hex>:<starttime 8 hex>:
//! <type>:<id>:<user>:` with a trailing colon; `id` may be empty and `user` may be a token user
//! (`root@pam!ci`). PVE writes the hex fields upper-case with `%08X`; we accept either case and
//! print upper-case, which is exactly what the server produced. This module does no IO.

use std::fmt;
use std::str::FromStr;

/// A parsed task id. `Display` prints the canonical `UPID:...:` string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upid {
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub starttime: i64,
    /// The task type (`qmstart`, `vzdump`, ...); `type` in PVE's JSON.
    pub kind: String,
    /// The object the task works on (often a VMID); may be empty.
    pub id: String,
    /// The user that started it, `user@realm` or `user@realm!token`.
    pub user: String,
}

/// Why a string is not a UPID. The message names the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a task id (UPID): {reason}")]
pub struct UpidParseError {
    pub input: String,
    pub reason: String,
}

impl Upid {
    /// The guest id when the task's `id` field is a VMID.
    pub fn vmid(&self) -> Option<u32> {
        self.id.parse().ok()
    }
}

fn hex_field(s: &str, name: &str, min: usize, max: usize) -> Result<u64, String> {
    let ok_len = (min..=max).contains(&s.len());
    if !ok_len || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let digits = if min == max {
            format!("{min}")
        } else {
            format!("{min}-{max}")
        };
        return Err(format!("{name} must be {digits} hex digits, got '{s}'"));
    }
    u64::from_str_radix(s, 16).map_err(|e| format!("{name}: {e}"))
}

fn valid_node(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn free_text(s: &str) -> bool {
    !s.chars().any(|c| c == ':' || c.is_whitespace())
}

impl FromStr for Upid {
    type Err = UpidParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| UpidParseError {
            input: input.to_string(),
            reason,
        };
        let rest = input
            .strip_prefix("UPID:")
            .ok_or_else(|| fail("it must start with 'UPID:'".into()))?;
        let body = rest
            .strip_suffix(':')
            .ok_or_else(|| fail("it must end with ':'".into()))?;
        let parts: Vec<&str> = body.split(':').collect();
        let [node, pid, pstart, starttime, kind, id, user] = parts[..] else {
            return Err(fail(format!(
                "expected 7 fields between 'UPID:' and the final ':', found {}",
                parts.len()
            )));
        };
        if !valid_node(node) {
            return Err(fail(format!("'{node}' is not a node name")));
        }
        let pid = hex_field(pid, "pid", 8, 8).map_err(fail)?;
        let pstart = hex_field(pstart, "pstart", 8, 9).map_err(fail)?;
        let starttime = hex_field(starttime, "starttime", 8, 8).map_err(fail)?;
        if kind.is_empty() || !free_text(kind) {
            return Err(fail("the task type is empty or has spaces".into()));
        }
        if !free_text(id) {
            return Err(fail("the task id has spaces".into()));
        }
        if user.is_empty() || !free_text(user) {
            return Err(fail("the user is empty or has spaces".into()));
        }
        Ok(Upid {
            node: node.to_string(),
            // Eight hex digits always fit in u32 / i64.
            pid: u32::try_from(pid).map_err(|e| fail(e.to_string()))?,
            pstart,
            starttime: i64::try_from(starttime).map_err(|e| fail(e.to_string()))?,
            kind: kind.to_string(),
            id: id.to_string(),
            user: user.to_string(),
        })
    }
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UPID:{}:{:08X}:{:08X}:{:08X}:{}:{}:{}:",
            self.node, self.pid, self.pstart, self.starttime, self.kind, self.id, self.user
        )
    }
}

impl serde::Serialize for Upid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Upid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    /// Parses `input`, checks the fields, and checks that printing gives `input` back.
    fn check(
        input: &str,
        node: &str,
        pid: u32,
        pstart: u64,
        start: i64,
        kind: &str,
        id: &str,
        user: &str,
    ) {
        let upid: Upid = input.parse().unwrap();
        let want = Upid {
            node: node.into(),
            pid,
            pstart,
            starttime: start,
            kind: kind.into(),
            id: id.into(),
            user: user.into(),
        };
        assert_eq!(upid, want, "{input}");
        assert_eq!(upid.to_string(), input);
    }

    #[test]
    fn parses_and_prints_every_form() {
        check(
            "UPID:pve1:000A1B2C:00B3C4D5:6541F0A2:qmstart:100:root@pam:",
            "pve1",
            0xA1B2C,
            0xB3C4D5,
            0x6541F0A2,
            "qmstart",
            "100",
            "root@pam",
        );
        check(
            "UPID:n:00001234:00005678:65000000:aptupdate::root@pam:",
            "n",
            0x1234,
            0x5678,
            0x65000000,
            "aptupdate",
            "",
            "root@pam",
        );
        check(
            "UPID:pve-2:0000BEEF:1DEADBEEF:6541F0A2:vzdump:101:root@pam!ci:",
            "pve-2",
            0xBEEF,
            0x1DEADBEEF,
            0x6541F0A2,
            "vzdump",
            "101",
            "root@pam!ci",
        );
        check(
            "UPID:node3:00000001:00000002:00000003:qmigrate:9000:alice@pve:",
            "node3",
            1,
            2,
            3,
            "qmigrate",
            "9000",
            "alice@pve",
        );
        check(
            "UPID:pve1:00001111:00002222:65000000:vncproxy:100:bob@ldap!token-1:",
            "pve1",
            0x1111,
            0x2222,
            0x65000000,
            "vncproxy",
            "100",
            "bob@ldap!token-1",
        );
    }

    #[test]
    fn accepts_lower_case_hex() {
        let upid: Upid = "UPID:pve1:0000beef:0000abcd:6541f0a2:qmstart:100:root@pam:"
            .parse()
            .unwrap();
        assert_eq!(upid.pid, 0xBEEF);
        assert_eq!(
            upid.to_string(),
            "UPID:pve1:0000BEEF:0000ABCD:6541F0A2:qmstart:100:root@pam:"
        );
    }

    fn check_err(input: &str, reason_part: &str) {
        let err = input.parse::<Upid>().unwrap_err();
        assert!(err.to_string().contains(reason_part), "{input}: {err}");
    }

    #[test]
    fn rejects_malformed_ids() {
        check_err("", "must start with 'UPID:'");
        check_err(
            "UPID:pve1:000A1B2C:00B3C4D5:6541F0A2:qmstart:100:root@pam",
            "end with ':'",
        );
        check_err(
            "UPID:pve1:000A1B2C:00B3C4D5:6541F0A2:qmstart:root@pam:",
            "expected 7 fields",
        );
        check_err(
            "UPID:pve1:A1B2C:00B3C4D5:6541F0A2:qmstart:100:root@pam:",
            "pid must be 8 hex digits",
        );
        check_err(
            "UPID:pve1:000A1B2C:0B3C4D5:6541F0A2:qmstart:100:root@pam:",
            "pstart must be 8-9 hex digits",
        );
        check_err(
            "UPID:pve1:000A1B2C:00B3C4D5:6541F0AZ:qmstart:100:root@pam:",
            "starttime must be 8 hex digits",
        );
        check_err(
            "UPID:-pve:000A1B2C:00B3C4D5:6541F0A2:qmstart:100:root@pam:",
            "not a node name",
        );
        check_err(
            "UPID:pve1:000A1B2C:00B3C4D5:6541F0A2::100:root@pam:",
            "task type",
        );
        check_err("UPID:pve1:000A1B2C:00B3C4D5:6541F0A2:qmstart:100::", "user");
    }

    #[test]
    fn serde_round_trip() {
        let s = "\"UPID:pve1:000A1B2C:00B3C4D5:6541F0A2:qmstart:100:root@pam:\"";
        let upid: Upid = serde_json::from_str(s).unwrap();
        assert_eq!(upid.vmid(), Some(100));
        assert_eq!(serde_json::to_string(&upid).unwrap(), s);
    }
}
