//! `ip`: guest IP addresses, from the QEMU guest agent or a container's interfaces.
//!
//! Trouble that is normal operation (a stopped guest, no agent configured, an agent not running
//! or not supporting the command) goes into that guest's row as `error`; only failures of the
//! session itself (connection, permissions) fail the command. Reads only.

use super::read::target_guests;
use super::{Arg, ArgKind, Category, Command, Ctx, Example, Output, Signature};
use crate::api::{ApiError, ApiRequest, GuestKind, endpoints};
use crate::error::Error;
use crate::inventory::Guest;
use crate::lang::{Record, Value};

const IP_FIELDS: &[&str] = &[
    "vmid", "name", "node", "iface", "mac", "address", "family", "prefix", "error",
];

/// Why a guest has no addresses to show, for its `error` field: the server's own words when the
/// guest side is at fault (a 500 such as "QEMU guest agent is not running"); `None` otherwise.
fn ip_trouble(e: &ApiError) -> Option<String> {
    match e {
        ApiError::Http {
            status: 500 | 501,
            message,
            ..
        } => Some(message.clone()),
        _ => None,
    }
}

fn ip_rows(g: &Guest, data: &serde_json::Value) -> Vec<Value> {
    let ifaces = data
        .get("result")
        .and_then(|r| r.as_array())
        .or_else(|| data.as_array())
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for iface in ifaces {
        let name = iface
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        if name == "lo" {
            continue;
        }
        let mac = iface
            .get("hardware-address")
            .or_else(|| iface.get("hwaddr"))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let addrs = iface
            .get("ip-addresses")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        for a in addrs {
            let mut r = ip_head(g);
            r.insert("iface", Value::String(name.clone()));
            r.insert("mac", Value::String(mac.clone()));
            let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            r.insert("address", Value::String(text("ip-address")));
            // Containers say inet/inet6 where the guest agent says ipv4/ipv6.
            let family = match text("ip-address-type").as_str() {
                "inet" => "ipv4".to_string(),
                "inet6" => "ipv6".to_string(),
                other => other.to_string(),
            };
            r.insert("family", Value::String(family));
            r.insert(
                "prefix",
                a.get("prefix").map_or(Value::Null, Value::from_json),
            );
            r.insert("error", Value::Null);
            out.push(Value::Record(r));
        }
    }
    out
}

/// Why an answer holds no addresses: the agent's own error (`{"result":{"error":{"desc":..}}}`,
/// seen when a guest's agent does not support the command), else a plain statement.
fn agent_error(data: &serde_json::Value) -> String {
    data.pointer("/result/error/desc")
        .and_then(|d| d.as_str())
        .map_or_else(
            || "no addresses reported".to_string(),
            |d| format!("guest agent: {d}"),
        )
}

fn ip_head(g: &Guest) -> Record {
    Record::from_pairs([
        ("vmid", Value::Int(i64::from(g.vmid))),
        ("name", Value::String(g.name.clone())),
        ("node", Value::String(g.node.clone())),
    ])
}

fn ip_error_row(g: &Guest, why: String) -> Value {
    let mut r = ip_head(g);
    for f in ["iface", "mac", "address", "family", "prefix"] {
        r.insert(f, Value::Null);
    }
    r.insert("error", Value::String(why));
    Value::Record(r)
}

pub static IP: Command = Command {
    sig: Signature {
        name: "ip",
        category: Category::Read,
        about: "Guest IP addresses; a stopped guest or a missing agent is reported in its row.",
        args: &[Arg::opt(
            "vm",
            ArgKind::Vm,
            "VMID, name, unique prefix or @selector",
        )],
        action: None,
        fields: IP_FIELDS,
        examples: &[
            Example {
                line: "ip web01",
                about: "web01's addresses",
            },
            Example {
                line: "ip @tag:prod | where family=ipv4 | select name address",
                about: "the IPv4 addresses of the prod guests",
            },
        ],
    },
    run: |ctx, call| {
        Box::pin(async move {
            let guests = target_guests(ctx, &call).await?;
            let mut out = Vec::new();
            for g in &guests {
                if g.status != "running" {
                    out.push(ip_error_row(
                        g,
                        format!(
                            "{} is {}",
                            if g.kind == GuestKind::Qemu {
                                "VM"
                            } else {
                                "container"
                            },
                            g.status
                        ),
                    ));
                    continue;
                }
                let req = match g.kind {
                    GuestKind::Qemu => endpoints::agent_network(&g.node, g.vmid),
                    GuestKind::Lxc => ApiRequest::get(format!("{}/interfaces", g.api_path())),
                };
                match ctx.get_or_api_error(&req).await {
                    Ok(data) => {
                        let rows = ip_rows(g, &data);
                        if rows.is_empty() {
                            out.push(ip_error_row(g, agent_error(&data)));
                        }
                        out.extend(rows);
                    }
                    Err(api) => match ip_trouble(&api) {
                        Some(why) => out.push(ip_error_row(g, why)),
                        None => return Err(Error::from(api)),
                    },
                }
            }
            Ok(Output::value(Value::List(out))
                .with_columns(&["vmid", "name", "iface", "address", "prefix", "error"])
                .with_empty("no guests"))
        })
    },
};

/// The address to reach a guest at: its first IPv4 address from the guest agent (a container's
/// interfaces), else a global IPv6 one, else the static `ip=` of its config (`ipconfig0` for a
/// VM, `net0` for a container). `Err` says why there is none.
pub(super) async fn reach_address(ctx: &Ctx, g: &Guest) -> std::result::Result<String, String> {
    let mut why = format!("{} is {}", g.label(), g.status);
    if g.status == "running" {
        let req = match g.kind {
            GuestKind::Qemu => endpoints::agent_network(&g.node, g.vmid),
            GuestKind::Lxc => ApiRequest::get(format!("{}/interfaces", g.api_path())),
        };
        match ctx.get_or_api_error(&req).await {
            Ok(data) => {
                let rows = ip_rows(g, &data);
                let field = |r: &Value, k: &str| match r {
                    Value::Record(r) => r.get(k).map(|v| v.to_string()).unwrap_or_default(),
                    _ => String::new(),
                };
                let usable = |r: &&Value, family: &str| {
                    let a = field(r, "address");
                    field(r, "family") == family
                        && !a.starts_with("127.")
                        && !a.starts_with("fe80")
                        && a != "::1"
                };
                if let Some(r) = rows
                    .iter()
                    .find(|r| usable(r, "ipv4"))
                    .or_else(|| rows.iter().find(|r| usable(r, "ipv6")))
                {
                    return Ok(field(r, "address"));
                }
                why = format!("the guest agent of {} reports no address", g.label());
            }
            Err(e) => match ip_trouble(&e) {
                Some(m) => why = format!("{}: {m}", g.label()),
                None => return Err(Error::from(e).to_string()),
            },
        }
    }
    let cfg = ctx
        .get(&endpoints::guest_config(g.kind, &g.node, g.vmid))
        .await
        .map_err(|e| e.to_string())?;
    let key = match g.kind {
        GuestKind::Qemu => "ipconfig0",
        GuestKind::Lxc => "net0",
    };
    let static_ip = cfg
        .get(key)
        .and_then(|v| v.as_str())
        .and_then(|v| v.split(',').find_map(|p| p.strip_prefix("ip=")))
        .filter(|ip| *ip != "dhcp" && *ip != "manual")
        .map(|ip| ip.split('/').next().unwrap_or(ip).to_string());
    static_ip.ok_or(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_text(v: &Value, field: &str) -> String {
        v.as_record()
            .and_then(|r| r.get(field))
            .map(Value::display)
            .unwrap_or_default()
    }

    #[test]
    fn agent_answers_without_addresses() {
        let unsupported =
            json!({"result": {"error": {"class": "Unsupported", "desc": "command not supported"}}});
        assert_eq!(
            agent_error(&unsupported),
            "guest agent: command not supported"
        );
        assert_eq!(agent_error(&json!({"result": []})), "no addresses reported");
        let g = Guest {
            vmid: 101,
            name: "web01".into(),
            node: "pve1".into(),
            kind: GuestKind::Qemu,
            status: "running".into(),
            template: false,
            tags: Vec::new(),
            pool: None,
            lock: None,
            hastate: None,
            cpu: 0.0,
            maxcpu: 1,
            mem: 0,
            maxmem: 0,
            disk: 0,
            maxdisk: 0,
            uptime: 0,
            netin: 0,
            netout: 0,
        };
        // Interfaces without `ip-addresses` (FACTS §9) and `lo` give no rows.
        let data = json!({"result": [
            {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1"}]},
            {"name": "eth1", "hardware-address": "aa:bb"},
            {"name": "eth0", "hardware-address": "bc:24", "ip-addresses": [
                {"ip-address": "10.0.0.5", "ip-address-type": "ipv4", "prefix": 24}]}
        ]});
        let rows = ip_rows(&g, &data);
        assert_eq!(rows.len(), 1);
        assert_eq!(field_text(&rows[0], "address"), "10.0.0.5");
        assert_eq!(field_text(&rows[0], "mac"), "bc:24");
    }
}
