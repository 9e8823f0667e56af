//! `set` and `tag`: checking `KEY=VALUE` words, putting values in PVE's form, and turning them
//! into a config change against the guest's current config (quotas, reductions, and when each
//! key takes effect). No requests: the caller passes the config it read.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::{Call, Ctx};
use crate::api::GuestKind;
use crate::error::{Error, Result};
use crate::inventory::Guest;
use crate::lang::{parse_bool, parse_size};
use crate::staging::{Action, ActionKind, ConfigChange, Op, policy};

/// The `n`-th positional, or a usage error naming it.
pub(super) fn positional(call: &Call, n: usize, what: &str, usage: &str) -> Result<String> {
    call.args
        .positionals
        .get(n)
        .map(|w| w.text.clone())
        .ok_or_else(|| Error::usage(format!("{what} is missing")).hinted(format!("usage: {usage}")))
}

/// Checks a `key=value` of `set` and puts it in PVE's form.
fn set_value(key: &str, raw: &str, kind: GuestKind) -> Result<(String, String)> {
    let bad = |what: &str| Error::usage(format!("{key}={raw}: {what}"));
    let number = |min: u64| -> Result<String> {
        raw.parse::<u64>()
            .ok()
            .filter(|n| *n >= min)
            .map(|n| n.to_string())
            .ok_or_else(|| bad(&format!("expected a whole number ≥ {min}")))
    };
    let mib = || -> Result<String> {
        let bytes = match raw.parse::<u64>() {
            Ok(n) => n << 20,
            Err(_) => parse_size(raw).ok_or_else(|| bad("expected MiB or a size such as 4G"))?,
        };
        Ok((bytes >> 20).to_string())
    };
    let value = match key {
        "cores" | "sockets" => number(1)?,
        "memory" => mib()?,
        "balloon" => mib()?,
        "onboot" => match (raw, parse_bool(raw)) {
            ("1" | "0", _) => raw.to_string(),
            (_, Some(b)) => u8::from(b).to_string(),
            _ => return Err(bad("expected yes/no, true/false or 1/0")),
        },
        // A serial port: a socket (for `console`) or a host device.
        k if k.starts_with("serial") => {
            if raw == "socket" || (raw.starts_with("/dev/") && raw.len() > 5) {
                raw.to_string()
            } else {
                return Err(bad("expected socket or a host device such as /dev/ttyS0"));
            }
        }
        "tags" => raw
            .split([',', ';', ' '])
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(";"),
        _ => raw.to_string(),
    };
    let key = match (kind, key) {
        (GuestKind::Lxc, "name") => "hostname",
        (GuestKind::Lxc, "sockets" | "balloon" | "serial0" | "serial1" | "serial2" | "serial3") => {
            return Err(bad("containers have no such setting"));
        }
        _ => key,
    };
    Ok((key.to_string(), value))
}

fn set_changes(call: &Call, kind: GuestKind) -> Result<BTreeMap<String, String>> {
    if call.args.pairs.is_empty() {
        return Err(Error::usage("set needs at least one KEY=VALUE")
            .hinted(format!("keys: {}", policy::SET_KEYS.join(", "))));
    }
    let mut out = BTreeMap::new();
    for p in &call.args.pairs {
        if !policy::SET_KEYS.contains(&p.key.as_str()) {
            return Err(Error::usage(format!("set cannot change '{}'", p.key))
                .hinted(format!("keys: {}", policy::SET_KEYS.join(", "))));
        }
        let (k, v) = set_value(&p.key, &p.value.text, kind)?;
        out.insert(k, v);
    }
    Ok(out)
}

fn tag_list(cfg: &Map<String, Json>) -> Vec<String> {
    policy::config_text(cfg, "tags")
        .unwrap_or_default()
        .split([';', ',', ' '])
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Fills in a `set` or `tag` action from the guest's config; `None` when there is nothing to do.
pub(super) fn fill_config_change(
    ctx: &Ctx,
    call: &Call,
    mut a: Action,
    g: &Guest,
    cfg: &Map<String, Json>,
) -> Result<Option<Action>> {
    let mut change = ConfigChange::default();
    if a.kind() == ActionKind::Tag {
        let op = positional(call, 0, "add or rm", "tag add|rm TAG [VM...]")?;
        let tag = positional(call, 1, "the tag", "tag add|rm TAG [VM...]")?;
        let mut tags = tag_list(cfg);
        let has = tags.iter().any(|t| t.eq_ignore_ascii_case(&tag));
        match op.as_str() {
            "add" if has => return Ok(None),
            "add" => tags.push(tag),
            "rm" if !has => return Ok(None),
            "rm" => tags.retain(|t| !t.eq_ignore_ascii_case(&tag)),
            other => {
                return Err(Error::usage(format!("tag takes add or rm, got '{other}'"))
                    .hinted("usage: tag add|rm TAG [VM...]"));
            }
        }
        change.changes = BTreeMap::from([("tags".to_string(), tags.join(";"))]);
    } else {
        let changes = set_changes(call, g.kind)?;
        policy::check_quotas(&ctx.config, &g.label(), &changes, cfg)?;
        change.risk = policy::set_risk(&changes, cfg);
        let running = g.status == "running";
        for (k, v) in &changes {
            let effect = policy::effect(k, v, running, g.kind == GuestKind::Qemu, cfg);
            change.effect.insert(k.clone(), effect.to_string());
        }
        change.changes = changes;
    }
    for k in change.changes.keys() {
        change
            .before
            .insert(k.clone(), policy::config_text(cfg, k).unwrap_or_default());
    }
    a.op = match a.kind() {
        ActionKind::Tag => Op::Tag(change),
        _ => Op::Set(change),
    };
    Ok(Some(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, raw: &str, kind: GuestKind, expected: Result<(&str, &str), &str>) {
        let got = set_value(key, raw, kind);
        match expected {
            Ok((k, v)) => assert_eq!(got.unwrap(), (k.to_string(), v.to_string()), "{key}={raw}"),
            Err(part) => {
                let e = got.unwrap_err();
                assert!(e.message.contains(part), "{key}={raw}: {e}");
            }
        }
    }

    #[test]
    fn set_values() {
        use GuestKind::{Lxc, Qemu};
        check("cores", "4", Qemu, Ok(("cores", "4")));
        check("cores", "0", Qemu, Err("whole number ≥ 1"));
        check("cores", "many", Qemu, Err("whole number"));
        check("memory", "8G", Qemu, Ok(("memory", "8192")));
        check("memory", "2048", Qemu, Ok(("memory", "2048")));
        check("memory", "lots", Qemu, Err("MiB or a size"));
        check("balloon", "0", Qemu, Ok(("balloon", "0")));
        check("onboot", "yes", Qemu, Ok(("onboot", "1")));
        check("onboot", "0", Qemu, Ok(("onboot", "0")));
        check("onboot", "maybe", Qemu, Err("yes/no"));
        check("serial0", "socket", Qemu, Ok(("serial0", "socket")));
        check("serial1", "/dev/ttyS1", Qemu, Ok(("serial1", "/dev/ttyS1")));
        check("serial0", "tcp", Qemu, Err("socket or a host device"));
        check(
            "serial0",
            "socket",
            Lxc,
            Err("containers have no such setting"),
        );
        check("tags", "a,b c", Qemu, Ok(("tags", "a;b;c")));
        check("name", "web09", Lxc, Ok(("hostname", "web09")));
        check("sockets", "2", Lxc, Err("containers have no such setting"));
    }
}
