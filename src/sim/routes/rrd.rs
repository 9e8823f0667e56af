//! RRD statistics: `GET /nodes/{node}/rrddata` and the guests' `rrddata` (pve-cluster
//! `PVE::RRD::create_rrd_data`, PVE 9 resolutions). The series are deterministic: each point
//! derives from the guest's or node's current load and a hash of (id, time), so two reads at the
//! same simulated time agree and nothing depends on the wall clock.

use serde_json::{Map, Value, json};

use super::guest::find;
use super::{ApiError, Ctx, NODE, Perm, Reply, Route, VMID, route};
use crate::sim::state::GuestKind;

const CF: &str = "cf?:string enum=AVERAGE|MAX";
const GUEST_TIMEFRAME: &str = "timeframe:string enum=hour|day|week|month|year";
const VM_AUDIT: Perm = Perm::Privs {
    path: "/vms/{vmid}",
    privs: &["VM.Audit"],
    any: false,
};

pub fn routes() -> Vec<Route> {
    vec![
        route(
            "GET",
            "/nodes/{node}/rrddata",
            "rrddata",
            "array",
            Perm::Privs {
                path: "/nodes/{node}",
                privs: &["Sys.Audit"],
                any: false,
            },
            &[
                NODE,
                "timeframe:string enum=hour|day|week|month|year|decade",
                CF,
            ],
            node_rrd,
        )
        .protected()
        .desc("Read node RRD statistics"),
        route(
            "GET",
            "/nodes/{node}/qemu/{vmid}/rrddata",
            "rrddata",
            "array",
            VM_AUDIT,
            &[NODE, VMID, GUEST_TIMEFRAME, CF],
            |c| guest_rrd(c, GuestKind::Qemu),
        )
        .protected()
        .desc("Read VM RRD statistics"),
        route(
            "GET",
            "/nodes/{node}/lxc/{vmid}/rrddata",
            "rrddata",
            "array",
            VM_AUDIT,
            &[NODE, VMID, GUEST_TIMEFRAME, CF],
            |c| guest_rrd(c, GuestKind::Lxc),
        )
        .protected()
        .desc("Read VM RRD statistics"),
    ]
}

/// (resolution in seconds, number of points) per timeframe, as PVE 9 stores them.
fn setup(timeframe: &str) -> (i64, i64) {
    match timeframe {
        "day" => (60, 1440),
        "week" => (1800, 336),
        "month" => (6 * 3600, 121),
        "year" => (6 * 3600, 1140),
        "decade" => (7 * 86400, 570),
        _ => (60, 60),
    }
}

/// The sample times: `count` steps of `reso` ending at the last full step before now.
fn times(c: &Ctx) -> (Vec<i64>, i64) {
    let (reso, count) = setup(c.str("timeframe").unwrap_or("hour"));
    let ctime = reso * c.now().div_euclid(reso);
    let start = ctime - reso * count;
    ((0..count).map(|k| start + k * reso).collect(), reso)
}

/// A deterministic factor in [0.75, 1.25) for series `id` at `t` (splitmix64); `MAX` samples
/// run a fifth higher than `AVERAGE` ones.
fn wobble(id: u64, t: i64, max: bool) -> f64 {
    let mut z = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (t as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let f = 0.75 + (z >> 11) as f64 / (1u64 << 53) as f64 * 0.5;
    if max { f * 1.2 } else { f }
}

fn guest_rrd(c: &mut Ctx, kind: GuestKind) -> Result<Reply, ApiError> {
    let g = find(c, kind)?;
    let max = c.str("cf") == Some("MAX");
    let (ts, reso) = times(c);
    let (maxcpu, maxmem, maxdisk) = (g.maxcpu() as f64, g.maxmem() as f64, g.maxdisk() as f64);
    let rows: Vec<Value> = ts
        .into_iter()
        .map(|t| {
            // A guest counts as running for a sample that ends after it started.
            let up = g.is_running() && g.started_at.is_none_or(|s| t + reso > s);
            let w = wobble(u64::from(g.vmid), t, max);
            let (cpu, mem, netin, netout) = if up {
                (
                    (g.cpu * w).min(1.0),
                    (g.mem as f64 * w).min(maxmem),
                    g.netin as f64 / 3600.0 * w,
                    g.netout as f64 / 3600.0 * w,
                )
            } else {
                (0.0, 0.0, 0.0, 0.0)
            };
            let mut o = Map::new();
            o.insert("time".into(), json!(t));
            o.insert("maxcpu".into(), json!(maxcpu));
            o.insert("cpu".into(), json!(cpu));
            o.insert("maxmem".into(), json!(maxmem));
            o.insert("mem".into(), json!(mem));
            o.insert("maxdisk".into(), json!(maxdisk));
            o.insert("disk".into(), json!(0.0));
            o.insert("netin".into(), json!(netin));
            o.insert("netout".into(), json!(netout));
            o.insert(
                "diskread".into(),
                json!(if up { 4096.0 * 64.0 * w } else { 0.0 }),
            );
            o.insert(
                "diskwrite".into(),
                json!(if up { 4096.0 * 32.0 * w } else { 0.0 }),
            );
            if kind == GuestKind::Qemu {
                o.insert("memhost".into(), json!(if up { mem * 1.05 } else { 0.0 }));
            }
            for p in [
                "pressurecpusome",
                "pressurecpufull",
                "pressureiosome",
                "pressureiofull",
                "pressurememorysome",
                "pressurememoryfull",
            ] {
                o.insert(
                    p.into(),
                    json!(if up {
                        (cpu * 0.02 * 100.0).round() / 100.0
                    } else {
                        0.0
                    }),
                );
            }
            Value::Object(o)
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}

fn node_rrd(c: &mut Ctx) -> Result<Reply, ApiError> {
    c.check_node()?;
    let Some(n) = c.state.node(c.node()) else {
        return Err(ApiError::fail("node vanished"));
    };
    let max = c.str("cf") == Some("MAX");
    let (ts, _) = times(c);
    let id = c
        .state
        .nodes
        .iter()
        .position(|x| x.name == n.name)
        .unwrap_or(0) as u64
        + 1;
    let rows: Vec<Value> = ts
        .into_iter()
        .map(|t| {
            let w = wobble(id << 40, t, max);
            let cpu = (n.cpu * w).min(1.0);
            let memused = (c.state.node_mem(n) as f64 * w).min(n.maxmem as f64);
            json!({
                "time": t, "loadavg": cpu * f64::from(n.maxcpu), "maxcpu": n.maxcpu, "cpu": cpu,
                "iowait": cpu * 0.05, "memtotal": n.maxmem as f64, "memused": memused,
                "memavailable": n.maxmem as f64 - memused, "swaptotal": (8u64 << 30) as f64,
                "swapused": 0.0, "roottotal": n.maxdisk as f64, "rootused": n.disk as f64,
                "netin": 250_000.0 * w, "netout": 180_000.0 * w,
            })
        })
        .collect();
    Ok(Reply::data(Value::Array(rows)))
}
