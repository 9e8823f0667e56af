//! Tables: a list of records as aligned columns that fit the width, and a single record as
//! `key: value` lines.
//!
//! Column order is the order fields first appear (stable: the same records always give the same
//! columns). A table wider than [`Style::width`] is fitted ([`fit`]): columns with no value in
//! any row go first (only their header would show); then, on a terminal, free-text
//! columns (`description`, `notes`, `tags`, ...) are shortened with `…` to a floor; then the
//! low-priority columns are dropped (`uptime` first); on a terminal, long values (an
//! action, a volume id) are shortened to a floor; then the important columns are dropped too
//! (`name` and `status` last; the first column is always kept); on a terminal, what is still too
//! wide is shortened last. A note line names the
//! columns left out and how to choose them (`select`). Output that is not a terminal never has a
//! value shortened ([`Style::shorten`]): it only loses whole columns, and only when `COLUMNS`
//! asks for a width.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{Style, paint_status};
use crate::inventory::{Field, GuestList};
use crate::lang::{Record, Value};

/// The narrowest a shortened column gets.
const MIN_COL: usize = 6;
/// The narrowest free text is shortened to before any column is dropped.
const TEXT_FLOOR: usize = 16;
/// The narrowest a long value is shortened to before an important column is dropped.
const LONG_FLOOR: usize = 32;
const GAP: usize = 2;

/// Free text, shortened first on a terminal: its start says enough.
const FREE_TEXT: &[&str] = &[
    "description",
    "notes",
    "comment",
    "detail",
    "why",
    "effect",
    "tags",
    "tree",
    "ssh",
    "ssl_fingerprint",
];

/// How long a column stays when the table is too wide: low ranks are dropped first, columns of
/// equal rank from the right. Columns not named here rank in the middle (2).
fn rank(column: &str) -> u8 {
    match column {
        "uptime" | "maxcpu" | "netin" | "netout" | "pid" | "pstart" | "subtype" | "plugintype"
        | "level" | "depth" | "qmpstatus" | "hastate" | "pool" | "lock" => 0,
        // `type` says qemu/lxc in `ls` but what a task did in `tasks`: it outlasts the end time.
        "type" | "maxdisk" | "disk" | "endtime" | "format" | "content" | "shared" | "protected"
        | "user" | "template" => 1,
        "tags" | "description" | "notes" | "mem" | "cpu" | "snaptime" | "ctime" | "size"
        | "starttime" | "detail" | "why" | "effect" | "ip" | "ssl_fingerprint" => 3,
        "vmid" | "name" | "guest" | "node" | "status" | "n" | "action" | "outcome" | "volid"
        | "storage" | "tree" | "id" | "upid" | "key" | "tag" => 4,
        _ => 2,
    }
}

/// Renders any value: a list of records as a table, one record as `key: value` lines, a list of
/// scalars one per line, a scalar as itself. `empty` is what an empty list says.
pub fn render_value(value: &Value, style: Style, empty: &str) -> String {
    match value {
        Value::List(items) if items.is_empty() => format!("({empty})\n"),
        Value::List(items) if items.iter().all(|v| matches!(v, Value::Record(_))) => {
            render_records(items, style)
        }
        Value::List(items) => items.iter().map(|v| format!("{}\n", v.display())).collect(),
        Value::Record(r) => render_record(r, style),
        Value::Null => String::new(),
        other => format!("{}\n", other.display()),
    }
}

/// A single record as aligned `key: value` lines.
fn render_record(record: &Record, style: Style) -> String {
    let key_w = record
        .fields()
        .map(UnicodeWidthStr::width)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in record.iter() {
        let text = cell_text(v);
        let shown = if k == "status" {
            paint_status(&text, style)
        } else {
            text
        };
        let pad = key_w - k.width();
        out.push_str(&format!("{k}:{} {shown}\n", " ".repeat(pad)));
    }
    out
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Float(f) if f.fract() != 0.0 => format!("{f:.2}"),
        Value::Record(_) | Value::List(_) => v.display().replace('\n', " "),
        _ => v.display().replace('\n', " "),
    }
}

fn right_aligned(v: &Value) -> bool {
    matches!(
        v,
        Value::Int(_) | Value::Float(_) | Value::Percent(_) | Value::Size(_) | Value::Duration(_)
    )
}

/// The cells of a table, row by row, as one text with the end of each cell: a table of 10 000
/// rows costs two allocations, not one string per cell.
#[derive(Default)]
pub struct Grid {
    text: String,
    ends: Vec<u32>,
    right: Vec<bool>,
    /// The cell being written starts here.
    start: usize,
}

impl Grid {
    pub fn with_capacity(cells: usize) -> Grid {
        Grid {
            text: String::with_capacity(cells * 8),
            ends: Vec::with_capacity(cells),
            right: Vec::with_capacity(cells),
            start: 0,
        }
    }

    /// The text of the cell being written (append to it, then call [`Grid::end_cell`]).
    pub fn cell(&mut self) -> &mut String {
        &mut self.text
    }

    /// Ends the cell written since the last one; `right`: it is a number. Line breaks in it
    /// become spaces.
    pub fn end_cell(&mut self, right: bool) {
        if self.text[self.start..].contains('\n') {
            let fixed = self.text[self.start..].replace('\n', " ");
            self.text.truncate(self.start);
            self.text.push_str(&fixed);
        }
        self.start = self.text.len();
        self.ends.push(self.text.len() as u32);
        self.right.push(right);
    }

    /// A cell with a value's text.
    pub fn push_value(&mut self, v: &Value) {
        use std::fmt::Write;
        match v {
            Value::Float(f) if f.fract() != 0.0 => {
                let _ = write!(self.text, "{f:.2}");
            }
            Value::String(s) => self.text.push_str(s),
            _ => {
                let _ = write!(self.text, "{v}");
            }
        }
        self.end_cell(right_aligned(v));
    }

    fn get(&self, k: usize) -> (&str, bool) {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        (&self.text[start..self.ends[k] as usize], self.right[k])
    }
}

/// Records as a table that fits `style.width`.
pub fn render_records(items: &[Value], style: Style) -> String {
    let mut columns: Vec<String> = Vec::new();
    for item in items {
        if let Value::Record(r) = item {
            for f in r.fields() {
                if !columns.iter().any(|c| c == f) {
                    columns.push(f.to_string());
                }
            }
        }
    }
    let mut grid = Grid::with_capacity(items.len() * columns.len());
    for item in items {
        for c in &columns {
            match item {
                Value::Record(r) => match r.get(c) {
                    Some(v) => grid.push_value(v),
                    None => grid.end_cell(false),
                },
                _ => grid.end_cell(false),
            }
        }
    }
    render_grid(&columns, &grid, style)
}

/// A table of `columns` whose cells are in `grid`, row after row, fitted to `style.width`.
pub fn render_grid(columns: &[String], grid: &Grid, style: Style) -> String {
    let ncols = columns.len();
    let nrows = grid.ends.len().checked_div(ncols).unwrap_or(0);
    let mut natural: Vec<usize> = columns.iter().map(|c| c.width()).collect();
    // A column is right-aligned (header included) when all its cells are numbers.
    let mut seen = vec![false; ncols];
    let mut right_col = vec![true; ncols];
    for k in 0..nrows * ncols {
        let (text, right) = grid.get(k);
        let i = k % ncols;
        if text.is_empty() {
            continue;
        }
        natural[i] = natural[i].max(width_of(text));
        seen[i] = true;
        right_col[i] &= right;
    }
    for i in 0..ncols {
        right_col[i] &= seen[i];
    }
    let (widths, shown) = fit(&natural, &seen, columns, style);

    let line_width: usize = shown.iter().map(|&i| widths[i] + GAP).sum();
    let mut out = String::with_capacity((nrows + 1) * (line_width + 1));
    let header: Vec<String> = shown
        .iter()
        .map(|&i| pad(&truncate(&columns[i], widths[i]), widths[i], right_col[i]))
        .collect();
    let header = header.join(&" ".repeat(GAP));
    let header = header.trim_end();
    if style.color {
        out.push_str(&nu_ansi_term::Style::new().bold().paint(header).to_string());
    } else {
        out.push_str(header);
    }
    out.push('\n');
    for row in 0..nrows {
        let line_start = out.len();
        for (n, &i) in shown.iter().enumerate() {
            if n > 0 {
                push_spaces(&mut out, GAP);
            }
            let (text, right) = grid.get(row * ncols + i);
            let w = width_of(text);
            let cut = if w <= widths[i] {
                std::borrow::Cow::Borrowed(text)
            } else {
                std::borrow::Cow::Owned(truncate(text, widths[i]))
            };
            let fill = widths[i].saturating_sub(if w <= widths[i] { w } else { cut.width() });
            if right {
                push_spaces(&mut out, fill);
            }
            if columns[i] == "status" && style.color {
                out.push_str(&paint_status(&cut, style));
            } else {
                out.push_str(&cut);
            }
            if !right {
                push_spaces(&mut out, fill);
            }
        }
        let kept = out[line_start..].trim_end().len();
        out.truncate(line_start + kept);
        out.push('\n');
    }
    if shown.len() < columns.len() {
        let hidden: Vec<&str> = (0..columns.len())
            .filter(|i| !shown.contains(i))
            .map(|i| columns[i].as_str())
            .collect();
        out.push_str(&dropped_note(&hidden, style.width));
    }
    out
}

/// The display width of a cell: its length when it is printable ASCII (most cells), else
/// what unicode-width says.
fn width_of(text: &str) -> usize {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        text.len()
    } else {
        text.width()
    }
}

fn push_spaces(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// Guests as the table of their records' `columns`, read in place: no record is made.
pub fn render_guests(guests: &GuestList, columns: &[String], style: Style, empty: &str) -> String {
    if guests.is_empty() {
        return format!("({empty})\n");
    }
    let mut grid = Grid::with_capacity(guests.len() * columns.len());
    for g in guests.iter() {
        for c in columns {
            match g.field(c) {
                Some(Field::Str(text)) => {
                    grid.cell().push_str(text);
                    grid.end_cell(false);
                }
                Some(Field::Tags(tags)) => {
                    for (i, t) in tags.iter().enumerate() {
                        if i > 0 {
                            grid.cell().push_str(", ");
                        }
                        grid.cell().push_str(t);
                    }
                    grid.end_cell(false);
                }
                Some(Field::Value(v)) => grid.push_value(&v),
                None => grid.end_cell(false),
            }
        }
    }
    render_grid(columns, &grid, style)
}

/// The one line that names the columns a table left out: `(not shown: type uptime; `select`
/// picks columns)`, shortened to `(+3 columns not shown; ...)` when the names do not fit.
fn dropped_note(hidden: &[&str], width: usize) -> String {
    let named = format!(
        "(not shown: {}; `select` picks columns)\n",
        hidden.join(" ")
    );
    if named.width() <= width.saturating_add(1) {
        return named;
    }
    format!(
        "(+{} columns not shown; `select` picks columns)\n",
        hidden.len()
    )
}

/// Column widths that fit `style.width`, and the columns shown (indices, in order). See the
/// module docs for the order of the steps.
/// `seen[i]`: column `i` has a value in some row.
fn fit(
    natural: &[usize],
    seen: &[bool],
    columns: &[String],
    style: Style,
) -> (Vec<usize>, Vec<usize>) {
    let width = style.width;
    let mut widths = natural.to_vec();
    let mut shown: Vec<usize> = (0..widths.len()).collect();
    let total = |w: &[usize], shown: &[usize]| {
        shown.iter().map(|&i| w[i]).sum::<usize>() + GAP * shown.len().saturating_sub(1)
    };
    // A column without a value anywhere is only its header: the first to give its room.
    if total(&widths, &shown) > width {
        shown.retain(|&i| i == 0 || seen[i]);
    }
    // Shortens the widest column among `pick` by one while above its floor; false when none is.
    let shorten = |widths: &mut Vec<usize>, shown: &[usize], pick: &dyn Fn(usize) -> usize| {
        let candidate = shown
            .iter()
            .copied()
            .filter(|&i| widths[i] > pick(i))
            .max_by_key(|&i| (widths[i], i));
        match candidate {
            Some(i) => {
                widths[i] -= 1;
                true
            }
            None => false,
        }
    };
    let free_text = |i: usize| {
        if FREE_TEXT.contains(&columns[i].as_str()) {
            TEXT_FLOOR.max(columns[i].width())
        } else {
            usize::MAX
        }
    };
    if style.shorten {
        while total(&widths, &shown) > width && shorten(&mut widths, &shown, &free_text) {}
    }
    // Drops the lowest-ranked column below `below` (the rightmost among equals; never the
    // first) while too wide.
    let drop = |widths: &Vec<usize>, shown: &mut Vec<usize>, below: u8| {
        while total(widths, shown) > width {
            let pos = (1..shown.len())
                .filter(|&p| rank(&columns[shown[p]]) < below)
                .min_by_key(|&p| (rank(&columns[shown[p]]), usize::MAX - p));
            match pos {
                Some(p) => {
                    shown.remove(p);
                }
                None => break,
            }
        }
    };
    drop(&widths, &mut shown, 3);
    if style.shorten {
        // Long values (an action, a volume id) lose their end before an important column goes.
        let long = |i: usize| if i == 0 { natural[0] } else { LONG_FLOOR };
        while total(&widths, &shown) > width && shorten(&mut widths, &shown, &long) {}
    }
    drop(&widths, &mut shown, u8::MAX);
    // A drop may leave room: shortened free text gets it back, leftmost first.
    for &i in &shown {
        let room = width.saturating_sub(total(&widths, &shown));
        widths[i] += room.min(natural[i] - widths[i]);
    }
    if style.shorten {
        let any = |i: usize| {
            if i == 0 {
                natural[0]
            } else {
                MIN_COL.min(natural[i])
            }
        };
        while total(&widths, &shown) > width && shorten(&mut widths, &shown, &any) {}
    }
    (widths, shown)
}

fn pad(text: &str, width: usize, right: bool) -> String {
    let w = text.width();
    if w >= width {
        return text.to_string();
    }
    let fill = " ".repeat(width - w);
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > width {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pairs: &[(&str, Value)]) -> Value {
        Value::Record(Record::from_pairs(pairs.iter().cloned()))
    }

    fn guests() -> Vec<Value> {
        vec![
            rec(&[
                ("vmid", Value::Int(101)),
                ("name", "web01".into()),
                ("status", "running".into()),
                ("mem", Value::Size(2 * 1024 * 1024 * 1024)),
            ]),
            rec(&[
                ("vmid", Value::Int(9000)),
                ("name", "debian-12-cloud".into()),
                ("status", "stopped".into()),
                ("mem", Value::Size(0)),
            ]),
        ]
    }

    #[test]
    fn table_aligns_and_right_aligns_numbers() {
        let out = render_records(
            &guests(),
            Style {
                width: 80,
                color: false,
                shorten: true,
                pager: false,
            },
        );
        insta::assert_snapshot!(out, @r"
        vmid  name             status       mem
         101  web01            running  2.0 GiB
        9000  debian-12-cloud  stopped      0 B
        ");
    }

    #[test]
    fn narrow_terminal_truncates_then_drops_columns() {
        let out = render_records(
            &guests(),
            Style {
                width: 30,
                color: false,
                shorten: true,
                pager: false,
            },
        );
        for line in out.lines().take(3) {
            assert!(line.width() <= 30, "{line:?} is wider than 30");
        }
        assert!(out.contains('…') || out.contains("not shown"), "{out}");
    }

    #[test]
    fn a_column_without_values_gives_its_room_first() {
        let rows: Vec<Value> = (0..2)
            .map(|i| {
                rec(&[
                    ("n", Value::Int(i)),
                    ("why", "destroys the guest and its disks, for good".into()),
                    ("effect", "".into()),
                ])
            })
            .collect();
        let style = Style {
            width: 50,
            color: false,
            shorten: true,
            pager: false,
        };
        let out = render_records(&rows, style);
        assert_eq!(
            out,
            "n  why\n0  destroys the guest and its disks, for good\n\
             1  destroys the guest and its disks, for good\n\
             (not shown: effect; `select` picks columns)\n"
        );
        // With room for all, the empty column stays (its header says what it is).
        let wide = render_records(&rows, Style { width: 80, ..style });
        assert!(
            wide.starts_with("n  why                                         effect\n"),
            "{wide}"
        );
    }

    #[test]
    fn empty_list_says_so() {
        let out = render_value(&Value::List(vec![]), Style::default(), "no guests");
        assert_eq!(out, "(no guests)\n");
    }

    #[test]
    fn record_as_key_value_lines() {
        let out = render_value(&guests()[0], Style::default(), "");
        assert_eq!(
            out,
            "vmid:   101\nname:   web01\nstatus: running\nmem:    2.0 GiB\n"
        );
    }

    #[test]
    fn colours_only_when_asked() {
        let plain = render_records(
            &guests(),
            Style {
                width: 80,
                color: false,
                shorten: true,
                pager: false,
            },
        );
        assert!(!plain.contains('\u{1b}'));
        let coloured = render_records(
            &guests(),
            Style {
                width: 80,
                color: true,
                shorten: true,
                pager: false,
            },
        );
        assert!(coloured.contains('\u{1b}'));
    }

    /// Guests as `ls` shows them: the ten columns, with long names and tags.
    fn ls_rows() -> Vec<Value> {
        let row = |vmid: i64, name: &str, kind: &str, tags: &[&str]| {
            rec(&[
                ("vmid", Value::Int(vmid)),
                ("name", name.into()),
                ("node", "pve1".into()),
                ("type", kind.into()),
                ("status", "running".into()),
                ("cpu", Value::Percent(0.17)),
                ("mem", Value::Size(368 << 20)),
                ("maxmem", Value::Size(16 << 30)),
                ("uptime", Value::Duration(263_000)),
                (
                    "tags",
                    Value::List(tags.iter().map(|t| Value::from(*t)).collect()),
                ),
            ])
        };
        vec![
            row(101, "web01", "qemu", &["prod", "web"]),
            row(140, "lab-k8s-worker-1", "qemu", &["lab", "k8s"]),
            row(9000, "ubuntu-24.04-cloud", "qemu", &["template"]),
            row(201, "proxy01", "lxc", &["infra", "edge", "prod"]),
        ]
    }

    fn at(width: usize, shorten: bool) -> Style {
        Style {
            width,
            color: false,
            shorten,
            pager: false,
        }
    }

    /// The table of guests read in place is the table of their records, at every width and
    /// with colour, for the `ls` columns and for every field.
    #[test]
    fn guests_in_place_render_as_their_records() {
        use std::sync::Arc;
        let inv = Arc::new(
            crate::inventory::Inventory::from_resources(&serde_json::json!([
                {"type":"qemu","vmid":101,"name":"web01","node":"pve1","status":"running",
                 "tags":"prod;web","cpu":0.125,"mem":1073741824u64,"maxmem":4294967296u64,"uptime":93784},
                {"type":"lxc","vmid":"200","name":"dns\n01","node":"pve2","status":"stopped","pool":"lab"},
                {"type":"qemu","vmid":9000,"name":"tmpl","node":"pve1","status":"stopped","template":1,"lock":"backup"},
            ]))
            .unwrap(),
        );
        let guests = GuestList::new(inv, |_| true);
        let records = match guests.records() {
            Value::List(items) => items,
            other => panic!("{other:?}"),
        };
        let ls = [
            "vmid", "name", "node", "type", "status", "cpu", "mem", "maxmem", "uptime", "tags",
        ];
        for cols in [&ls[..], crate::inventory::Guest::FIELDS] {
            let columns: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
            let picked: Vec<Value> = records
                .iter()
                .map(|r| {
                    let r = r.as_record().unwrap();
                    Value::Record(
                        cols.iter()
                            .map(|c| (c.to_string(), r.get(c).unwrap().clone()))
                            .collect(),
                    )
                })
                .collect();
            for width in [40, 80, 200] {
                for color in [false, true] {
                    let style = Style {
                        color,
                        ..at(width, color)
                    };
                    assert_eq!(
                        render_guests(&guests, &columns, style, "no guests"),
                        render_value(&Value::List(picked.clone()), style, "no guests"),
                        "width {width}, color {color}, {} columns",
                        cols.len()
                    );
                }
            }
        }
        let none = GuestList::new(guests_inventory(), |_| false);
        assert_eq!(
            render_guests(&none, &[], at(80, false), "no guests"),
            "(no guests)\n"
        );
    }

    fn guests_inventory() -> std::sync::Arc<crate::inventory::Inventory> {
        std::sync::Arc::new(crate::inventory::Inventory::default())
    }

    fn header(out: &str) -> Vec<&str> {
        out.lines().next().unwrap().split_whitespace().collect()
    }

    /// Each row: the width, whether values may be shortened (a terminal), the columns kept and
    /// the note line naming the others.
    #[test]
    fn tables_fit_60_80_and_120_columns() {
        let all = [
            "vmid", "name", "node", "type", "status", "cpu", "mem", "maxmem", "uptime", "tags",
        ];
        let cases: &[(usize, bool, &[&str], Option<&str>)] = &[
            (120, true, &all, None),
            (120, false, &all, None),
            (100, false, &all, None),
            (
                90,
                true,
                &[
                    "vmid", "name", "node", "status", "cpu", "mem", "maxmem", "tags",
                ],
                Some("(not shown: type uptime; `select` picks columns)"),
            ),
            (
                80,
                true,
                &["vmid", "name", "node", "status", "cpu", "mem", "tags"],
                Some("(not shown: type maxmem uptime; `select` picks columns)"),
            ),
            (
                80,
                false,
                &["vmid", "name", "node", "status", "cpu", "mem", "tags"],
                Some("(not shown: type maxmem uptime; `select` picks columns)"),
            ),
            (
                60,
                true,
                &["vmid", "name", "node", "status", "cpu", "mem"],
                Some("(not shown: type maxmem uptime tags; `select` picks columns)"),
            ),
            (
                60,
                false,
                &["vmid", "name", "node", "status", "cpu", "mem"],
                Some("(not shown: type maxmem uptime tags; `select` picks columns)"),
            ),
        ];
        for (width, shorten, kept, note) in cases {
            let out = render_records(&ls_rows(), at(*width, *shorten));
            for line in out.lines() {
                assert!(
                    line.width() <= *width,
                    "{width}: {line:?} is too wide\n{out}"
                );
            }
            assert_eq!(header(&out), *kept, "{width} {shorten}\n{out}");
            let last = out.lines().last().unwrap();
            match note {
                Some(n) => assert_eq!(last, *n, "{width} {shorten}"),
                None => assert!(!out.contains("not shown"), "{out}"),
            }
            // Names are never shortened while other columns can go.
            assert!(
                out.contains("ubuntu-24.04-cloud"),
                "{width} {shorten}\n{out}"
            );
            if !shorten {
                assert!(!out.contains('…'), "piped output keeps values whole\n{out}");
            }
        }
    }

    #[test]
    fn free_text_is_shortened_on_a_terminal_and_dropped_when_piped() {
        let rows = vec![rec(&[
            ("vmid", Value::Int(101)),
            ("guest", "web01".into()),
            ("tree", "pre-upgrade".into()),
            ("snaptime", Value::Time(1_766_620_800)),
            (
                "description",
                "before apt full-upgrade, with the kernel pinned and the old one kept".into(),
            ),
        ])];
        let term = render_records(&rows, at(80, true));
        assert!(
            term.contains("description") && term.contains("before apt"),
            "{term}"
        );
        assert!(term.contains('…') && !term.contains("not shown"), "{term}");
        assert!(term.lines().all(|l| l.width() <= 80), "{term}");
        let piped = render_records(&rows, at(80, false));
        assert!(!piped.contains('…'), "{piped}");
        assert!(
            piped.ends_with("(not shown: description; `select` picks columns)\n"),
            "{piped}"
        );
        // Without a width nothing is dropped or cut.
        let whole = render_records(&rows, at(Style::UNLIMITED, false));
        assert!(
            whole.contains("the old one kept") && !whole.contains("not shown"),
            "{whole}"
        );
    }

    #[test]
    fn the_width_comes_from_the_terminal_then_columns() {
        use super::super::fit_width;
        type Case<'a> = (bool, Option<usize>, Option<&'a str>, (usize, bool));
        let cases: &[Case] = &[
            (true, Some(100), Some("80"), (100, true)),
            (true, None, Some("90"), (90, true)),
            (true, None, None, (80, true)),
            (true, Some(0), Some("junk"), (80, true)),
            (false, None, Some("80"), (80, false)),
            (false, None, None, (Style::UNLIMITED, false)),
            (false, None, Some(""), (Style::UNLIMITED, false)),
            (false, None, Some("5"), (20, false)),
        ];
        for (tty, size, columns, want) in cases {
            assert_eq!(
                fit_width(*tty, *size, *columns),
                *want,
                "{tty} {size:?} {columns:?}"
            );
        }
    }
}
