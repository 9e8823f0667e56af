//! The `dashboard` screen: its numbers, a pure function of the inventory ([`Dashboard::build`]),
//! and its frame, drawn with ratatui widgets into a [`Buffer`] ([`draw`]).
//!
//! The same [`draw`] paints the live screen (the output layer hands it the terminal's buffer)
//! and the one text frame of `dashboard --once` ([`frame_text`], a buffer turned into lines).
//! Nothing here does IO.
//!
//! The numbers: per node its CPU, memory and root-disk use, its guests running and stopped, and
//! what its guests are allocated against what it has: vCPUs (the sum of the guests' `maxcpu`)
//! per physical core and memory (the sum of the guests' `maxmem`) per byte of RAM. A ratio above
//! the configured threshold is flagged. Templates are neither counted nor allocated: they never
//! run. Then per storage its use (a shared storage once), and the five busiest running guests.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph, Widget};
use serde::Serialize;

use crate::config::DashboardConfig;
use crate::inventory::Inventory;
use crate::lang::format_size;

/// How many of the busiest guests the screen lists.
pub const BUSIEST: usize = 5;

/// The width of the text frame (`dashboard --once`).
pub const FRAME_WIDTH: u16 = 80;

/// Everything the screen shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dashboard {
    pub nodes: Vec<NodeLoad>,
    pub storages: Vec<StorageUse>,
    /// The busiest running guests, by CPU load (ties by VMID), at most [`BUSIEST`].
    pub busiest: Vec<BusyGuest>,
    pub running: usize,
    pub stopped: usize,
    pub thresholds: Thresholds,
}

/// The overcommit ratios above which a node is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub cpu_overcommit: f64,
    pub memory_overcommit: f64,
}

impl From<&DashboardConfig> for Thresholds {
    fn from(c: &DashboardConfig) -> Thresholds {
        Thresholds {
            cpu_overcommit: c.cpu_overcommit,
            memory_overcommit: c.memory_overcommit,
        }
    }
}

/// One node's load and allocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeLoad {
    pub node: String,
    pub status: String,
    /// CPU load as a fraction of all its cores (0..1).
    pub cpu: f64,
    /// Physical cores (threads, as PVE counts them).
    pub maxcpu: u64,
    pub mem: u64,
    pub maxmem: u64,
    /// The root disk.
    pub disk: u64,
    pub maxdisk: u64,
    pub running: usize,
    pub stopped: usize,
    /// The sum of its guests' vCPUs (`maxcpu`).
    pub vcpus: u64,
    /// `vcpus / maxcpu`; 0 when the node reports no cores.
    pub cpu_ratio: f64,
    pub cpu_overcommitted: bool,
    /// The sum of its guests' memory (`maxmem`).
    pub allocated_mem: u64,
    /// `allocated_mem / maxmem`; 0 when the node reports no memory.
    pub mem_ratio: f64,
    pub memory_overcommitted: bool,
    /// In HA maintenance (from the HA status): it takes no guests.
    pub maintenance: bool,
    /// Its network and IO rates from `rrddata`, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rates: Option<Rates>,
}

/// A node's rates over the last `rrddata` sample (PVE averages a minute per sample).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// Bytes per second received and sent.
    pub netin: f64,
    pub netout: f64,
    /// The fraction of CPU time waiting for IO (0..1).
    pub iowait: f64,
}

impl Rates {
    /// The newest complete sample of a `GET /nodes/{node}/rrddata` answer: PVE's newest row
    /// may carry only its `time` while the minute is still being averaged.
    pub fn from_rrd(rows: &serde_json::Value) -> Option<Rates> {
        let num = |r: &serde_json::Value, k: &str| r.get(k).and_then(serde_json::Value::as_f64);
        rows.as_array()?.iter().rev().find_map(|r| {
            Some(Rates {
                netin: num(r, "netin")?,
                netout: num(r, "netout")?,
                iowait: num(r, "iowait").unwrap_or(0.0),
            })
        })
    }
}

/// `244.1 KiB/s`.
fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", format_size(bytes_per_sec.max(0.0).round() as u64))
}

/// One storage's use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageUse {
    pub storage: String,
    /// The node it was reported on; `None` for a shared storage (shown once).
    pub node: Option<String>,
    pub status: String,
    pub disk: u64,
    pub maxdisk: u64,
    /// `disk / maxdisk`; 0 when unknown.
    pub used_fraction: f64,
}

/// A busy guest: its load and memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusyGuest {
    pub vmid: u32,
    pub name: String,
    pub node: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// CPU load as a fraction of its vCPUs.
    pub cpu: f64,
    pub maxcpu: u64,
    pub mem: u64,
    pub maxmem: u64,
}

fn ratio(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 / total as f64
    }
}

impl Dashboard {
    /// The numbers from one inventory: no request, no clock.
    pub fn build(inv: &Inventory, thresholds: Thresholds) -> Dashboard {
        let guests: Vec<_> = inv.guests().iter().filter(|g| !g.template).collect();
        let nodes = inv
            .nodes()
            .iter()
            .map(|n| {
                let mine = guests.iter().filter(|g| g.node == n.node);
                let (mut running, mut stopped, mut vcpus, mut allocated_mem) = (0, 0, 0, 0);
                for g in mine {
                    if g.status == "running" {
                        running += 1;
                    } else {
                        stopped += 1;
                    }
                    vcpus += g.maxcpu;
                    allocated_mem += g.maxmem;
                }
                let cpu_ratio = ratio(vcpus, n.maxcpu);
                let mem_ratio = ratio(allocated_mem, n.maxmem);
                NodeLoad {
                    node: n.node.clone(),
                    status: n.status.clone(),
                    cpu: n.cpu.clamp(0.0, 1.0),
                    maxcpu: n.maxcpu,
                    mem: n.mem,
                    maxmem: n.maxmem,
                    disk: n.disk,
                    maxdisk: n.maxdisk,
                    running,
                    stopped,
                    vcpus,
                    cpu_ratio,
                    cpu_overcommitted: cpu_ratio > thresholds.cpu_overcommit,
                    allocated_mem,
                    mem_ratio,
                    memory_overcommitted: mem_ratio > thresholds.memory_overcommit,
                    maintenance: false,
                    rates: None,
                }
            })
            .collect();
        let mut storages: Vec<StorageUse> = Vec::new();
        for s in inv.storages() {
            if s.shared
                && storages
                    .iter()
                    .any(|u| u.node.is_none() && u.storage == s.storage)
            {
                continue;
            }
            storages.push(StorageUse {
                storage: s.storage.clone(),
                node: (!s.shared).then(|| s.node.clone()),
                status: s.status.clone(),
                disk: s.disk,
                maxdisk: s.maxdisk,
                used_fraction: ratio(s.disk, s.maxdisk),
            });
        }
        let mut busy: Vec<_> = guests.iter().filter(|g| g.status == "running").collect();
        busy.sort_by(|a, b| b.cpu.total_cmp(&a.cpu).then(a.vmid.cmp(&b.vmid)));
        let busiest = busy
            .into_iter()
            .take(BUSIEST)
            .map(|g| BusyGuest {
                vmid: g.vmid,
                name: g.name.clone(),
                node: g.node.clone(),
                kind: g.kind.as_str().to_string(),
                cpu: g.cpu,
                maxcpu: g.maxcpu,
                mem: g.mem,
                maxmem: g.maxmem,
            })
            .collect();
        let running = guests.iter().filter(|g| g.status == "running").count();
        Dashboard {
            nodes,
            storages,
            busiest,
            running,
            stopped: guests.len() - running,
            thresholds,
        }
    }

    /// How many rows the whole screen takes.
    pub fn height(&self) -> u16 {
        let busiest = if self.busiest.is_empty() {
            1
        } else {
            self.busiest.len() + 1
        };
        let rated = self
            .nodes
            .iter()
            .filter(|n| n.rates.is_some() || n.maintenance)
            .count();
        let rows =
            2 + 1 + 2 * self.nodes.len() + rated + 2 + self.storages.len().max(1) + 2 + busiest + 2;
        u16::try_from(rows).unwrap_or(u16::MAX)
    }
}

/// A bar: `LABEL  42% ████░░░░`, flagged red from 90 % on (on a colour screen).
fn gauge(label: &str, fraction: f64) -> LineGauge<'static> {
    let fraction = fraction.clamp(0.0, 1.0);
    let colour = if fraction >= 0.9 {
        Color::Red
    } else if fraction >= 0.75 {
        Color::Yellow
    } else {
        Color::Green
    };
    LineGauge::default()
        .ratio(fraction)
        .label(format!("{label} {:>3.0}%", fraction * 100.0))
        .filled_symbol("█")
        .unfilled_symbol("░")
        .filled_style(Style::default().fg(colour))
        .unfilled_style(Style::default().fg(Color::DarkGray))
}

fn heading(text: &str) -> Line<'static> {
    Line::from(Span::styled(
        text.to_string(),
        Style::default().add_modifier(Modifier::BOLD),
    ))
}

/// `1.50x`, and `1.50x!` in red when above its threshold.
fn ratio_span(value: f64, flagged: bool) -> Span<'static> {
    if flagged {
        Span::styled(
            format!("{value:.2}x!"),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )
    } else {
        Span::raw(format!("{value:.2}x"))
    }
}

/// Paints the screen into `area` of `buf`; rows that do not fit are left out.
pub fn draw(d: &Dashboard, area: Rect, buf: &mut Buffer) {
    let mut y = area.top();
    let bottom = area.bottom();
    let line = |buf: &mut Buffer, y: &mut u16, l: Line<'static>| {
        if *y < bottom {
            Paragraph::new(l).render(Rect::new(area.left(), *y, area.width, 1), buf);
        }
        *y = y.saturating_add(1);
    };
    line(
        buf,
        &mut y,
        Line::from(vec![
            Span::styled(
                "pvesh+ dashboard",
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!(
                "  {} nodes, {} guests ({} running, {} stopped)",
                d.nodes.len(),
                d.running + d.stopped,
                d.running,
                d.stopped
            )),
        ]),
    );
    line(buf, &mut y, Line::default());
    line(buf, &mut y, heading("NODES"));
    // name (9) + three bars of 23 with a column between.
    let name_w = 9u16;
    let bar_w = area.width.saturating_sub(name_w + 2) / 3;
    for n in &d.nodes {
        if y < bottom {
            Paragraph::new(n.node.clone()).render(Rect::new(area.left(), y, name_w, 1), buf);
            if n.status == "online" {
                let bars = [
                    ("cpu ", n.cpu),
                    ("mem ", ratio(n.mem, n.maxmem)),
                    ("disk", ratio(n.disk, n.maxdisk)),
                ];
                for (i, (label, f)) in bars.into_iter().enumerate() {
                    let x = area.left() + name_w + (bar_w + 1) * i as u16;
                    gauge(label, f).render(Rect::new(x, y, bar_w, 1), buf);
                }
            } else {
                Paragraph::new(Span::styled(
                    n.status.clone(),
                    Style::default().fg(Color::Red),
                ))
                .render(
                    Rect::new(area.left() + name_w, y, area.width - name_w, 1),
                    buf,
                );
            }
        }
        y = y.saturating_add(1);
        line(
            buf,
            &mut y,
            Line::from(vec![
                Span::raw(format!(
                    "{:w$}{} running, {} stopped   vcpu {}/{} ",
                    "",
                    n.running,
                    n.stopped,
                    n.vcpus,
                    n.maxcpu,
                    w = name_w as usize
                )),
                ratio_span(n.cpu_ratio, n.cpu_overcommitted),
                Span::raw(format!(
                    "   mem {}/{} ",
                    format_size(n.allocated_mem),
                    format_size(n.maxmem)
                )),
                ratio_span(n.mem_ratio, n.memory_overcommitted),
            ]),
        );
        if n.rates.is_some() || n.maintenance {
            let mut spans = vec![Span::raw(" ".repeat(name_w as usize))];
            if let Some(r) = &n.rates {
                spans.push(Span::raw(format!(
                    "net in {}, out {}   io wait {:.1}%",
                    rate(r.netin),
                    rate(r.netout),
                    r.iowait * 100.0,
                )));
            }
            if n.maintenance {
                spans.push(Span::styled(
                    if n.rates.is_some() {
                        "   HA maintenance"
                    } else {
                        "HA maintenance"
                    },
                    Style::default().fg(Color::Yellow),
                ));
            }
            line(buf, &mut y, Line::from(spans));
        }
    }
    line(buf, &mut y, Line::default());
    line(buf, &mut y, heading("STORAGE"));
    if d.storages.is_empty() {
        line(buf, &mut y, Line::from("no storage"));
    }
    let storage_w = 22u16;
    let size_w = 24u16;
    for s in &d.storages {
        if y < bottom {
            let name = match &s.node {
                Some(node) => format!("{}@{node}", s.storage),
                None => format!("{} (shared)", s.storage),
            };
            Paragraph::new(name).render(Rect::new(area.left(), y, storage_w, 1), buf);
            let bar = area.width.saturating_sub(storage_w + size_w + 1);
            gauge("", s.used_fraction).render(Rect::new(area.left() + storage_w, y, bar, 1), buf);
            let sizes = format!("{} / {}", format_size(s.disk), format_size(s.maxdisk));
            Paragraph::new(Line::from(sizes).right_aligned()).render(
                Rect::new(area.left() + storage_w + bar + 1, y, size_w, 1),
                buf,
            );
        }
        y = y.saturating_add(1);
    }
    line(buf, &mut y, Line::default());
    line(buf, &mut y, heading("BUSIEST GUESTS"));
    if d.busiest.is_empty() {
        line(buf, &mut y, Line::from("no running guests"));
    } else {
        line(
            buf,
            &mut y,
            Line::from(Span::styled(
                format!(
                    "{:>6}  {:<20} {:<9} {:>5}  {:>5}  {}",
                    "VMID", "NAME", "NODE", "VCPU", "CPU", "MEM"
                ),
                Style::default().add_modifier(Modifier::BOLD),
            )),
        );
    }
    for g in &d.busiest {
        let name: String = g.name.chars().take(20).collect();
        line(
            buf,
            &mut y,
            Line::from(format!(
                "{:>6}  {:<20} {:<9} {:>5}  {:>4.0}%  {} / {}",
                g.vmid,
                name,
                g.node,
                g.maxcpu,
                g.cpu * 100.0,
                format_size(g.mem),
                format_size(g.maxmem)
            )),
        );
    }
    line(buf, &mut y, Line::default());
    line(
        buf,
        &mut y,
        Line::from(format!(
            "x! above the overcommit threshold (vcpu {:.1}x, mem {:.1}x; set under `dashboard:`)",
            d.thresholds.cpu_overcommit, d.thresholds.memory_overcommit
        )),
    );
}

/// The screen as text, [`FRAME_WIDTH`] columns wide, without styles or trailing blanks.
pub fn frame_text(d: &Dashboard) -> String {
    let area = Rect::new(0, 0, FRAME_WIDTH, d.height());
    let mut buf = Buffer::empty(area);
    draw(d, area, &mut buf);
    buffer_text(&buf)
}

/// A buffer's symbols, row by row, trailing blanks trimmed.
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut row = String::new();
        for x in area.left()..area.right() {
            row.push_str(buf[(x, y)].symbol());
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GIB: u64 = 1 << 30;

    fn inventory() -> Inventory {
        let rows = json!([
            {"type": "node", "node": "a", "status": "online", "cpu": 0.5, "maxcpu": 4,
             "mem": 8 * GIB, "maxmem": 16 * GIB, "disk": 10 * GIB, "maxdisk": 100 * GIB},
            {"type": "node", "node": "b", "status": "offline", "maxcpu": 8, "maxmem": 32 * GIB},
            {"type": "qemu", "vmid": 100, "name": "big", "node": "a", "status": "running",
             "cpu": 0.9, "maxcpu": 16, "mem": 4 * GIB, "maxmem": 12 * GIB},
            {"type": "qemu", "vmid": 101, "name": "idle", "node": "a", "status": "stopped",
             "cpu": 0, "maxcpu": 2, "maxmem": 8 * GIB},
            {"type": "lxc", "vmid": 102, "name": "ct", "node": "a", "status": "running",
             "cpu": 0.1, "maxcpu": 1, "mem": GIB, "maxmem": GIB},
            {"type": "qemu", "vmid": 900, "name": "tpl", "node": "a", "status": "stopped",
             "template": 1, "maxcpu": 64, "maxmem": 64 * GIB},
            {"type": "qemu", "vmid": 200, "name": "b1", "node": "b", "status": "stopped",
             "maxcpu": 4, "maxmem": 4 * GIB},
            {"type": "storage", "storage": "local", "node": "a", "status": "available",
             "disk": 25 * GIB, "maxdisk": 100 * GIB},
            {"type": "storage", "storage": "nfs", "node": "a", "shared": 1,
             "status": "available", "disk": GIB, "maxdisk": 4 * GIB},
            {"type": "storage", "storage": "nfs", "node": "b", "shared": 1,
             "status": "available", "disk": GIB, "maxdisk": 4 * GIB},
        ]);
        Inventory::from_resources(&rows).unwrap()
    }

    #[test]
    fn rates_from_the_newest_complete_rrd_row() {
        let rows = serde_json::json!([
            {"time": 60, "netin": 100.0, "netout": 50.0, "iowait": 0.02},
            {"time": 120, "netin": 200.0, "netout": 80.0},
            {"time": 180}
        ]);
        let r = Rates::from_rrd(&rows).expect("a row");
        assert_eq!((r.netin, r.netout, r.iowait), (200.0, 80.0, 0.0));
        assert_eq!(Rates::from_rrd(&serde_json::json!([{"time": 1}])), None);
        assert_eq!(Rates::from_rrd(&serde_json::json!({"no": "array"})), None);
    }

    fn defaults() -> Thresholds {
        Thresholds::from(&DashboardConfig::default())
    }

    #[test]
    fn allocation_and_overcommit_per_node() {
        let d = Dashboard::build(&inventory(), defaults());
        let a = &d.nodes[0];
        assert_eq!(
            (a.running, a.stopped),
            (2, 1),
            "the template is not counted"
        );
        assert_eq!(a.vcpus, 19);
        assert_eq!(a.cpu_ratio, 19.0 / 4.0);
        assert!(a.cpu_overcommitted, "4.75x is above the default 4.0x");
        assert_eq!(a.allocated_mem, 21 * GIB);
        assert!(a.memory_overcommitted, "21 GiB on 16 GiB is above 1.0x");
        let b = &d.nodes[1];
        assert_eq!((b.vcpus, b.cpu_ratio, b.cpu_overcommitted), (4, 0.5, false));
        assert!(!b.memory_overcommitted);
        assert_eq!((d.running, d.stopped), (2, 2));
    }

    #[test]
    fn the_threshold_decides_the_flag_and_equal_is_not_above() {
        let loose = Thresholds {
            cpu_overcommit: 4.75,
            memory_overcommit: 2.0,
        };
        let a = &Dashboard::build(&inventory(), loose).nodes[0];
        assert!(!a.cpu_overcommitted && !a.memory_overcommitted);
        let strict = Thresholds {
            cpu_overcommit: 0.1,
            memory_overcommit: 0.1,
        };
        let b = &Dashboard::build(&inventory(), strict).nodes[1];
        assert!(b.cpu_overcommitted && b.memory_overcommitted);
    }

    #[test]
    fn a_node_without_cores_or_memory_has_ratio_zero_not_infinity() {
        let rows = json!([
            {"type": "node", "node": "x", "status": "unknown"},
            {"type": "qemu", "vmid": 1, "node": "x", "status": "running", "maxcpu": 2},
        ]);
        let d = Dashboard::build(&Inventory::from_resources(&rows).unwrap(), defaults());
        assert_eq!((d.nodes[0].cpu_ratio, d.nodes[0].mem_ratio), (0.0, 0.0));
        assert!(serde_json::to_string(&d).is_ok());
    }

    #[test]
    fn storages_once_when_shared_and_busiest_by_cpu() {
        let d = Dashboard::build(&inventory(), defaults());
        let names: Vec<_> = d
            .storages
            .iter()
            .map(|s| (s.storage.as_str(), s.node.as_deref()))
            .collect();
        assert_eq!(names, [("local", Some("a")), ("nfs", None)]);
        assert_eq!(d.storages[0].used_fraction, 0.25);
        let busy: Vec<u32> = d.busiest.iter().map(|g| g.vmid).collect();
        assert_eq!(busy, [100, 102], "running guests only, busiest first");
    }

    #[test]
    fn the_frame_is_80_columns_with_bars_and_flags() {
        let d = Dashboard::build(&inventory(), defaults());
        let text = frame_text(&d);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
        }
        let a = text.lines().find(|l| l.starts_with("a ")).unwrap();
        // cpu 50 %: half of the bar's 13 cells (after the label) filled.
        assert!(a.contains("cpu   50% ██████░░░░░░░"), "{a}");
        assert!(a.contains("mem   50%"), "{a}");
        assert!(a.contains("disk  10%"), "{a}");
        assert!(text.contains("vcpu 19/4 4.75x!"), "{text}");
        assert!(text.contains("mem 21.0 GiB/16.0 GiB 1.31x!"), "{text}");
        assert!(text.contains("b        offline"), "{text}");
        assert!(text.contains("vcpu 4/8 0.50x   "), "{text}");
        assert!(text.contains("local@a"), "{text}");
        assert!(text.contains("nfs (shared)"), "{text}");
        assert!(text.contains("   100  big"), "{text}");
    }

    #[test]
    fn a_short_screen_draws_what_fits() {
        let d = Dashboard::build(&inventory(), defaults());
        let area = Rect::new(0, 0, 60, 4);
        let mut buf = Buffer::empty(area);
        draw(&d, area, &mut buf);
        assert_eq!(buffer_text(&buf).lines().count(), 4);
    }
}
