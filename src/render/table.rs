//! Tables: a list of records as aligned columns that fit the width, and a single record as
//! `key: value` lines.
//!
//! Column order is the order fields first appear (stable: the same records always give the same
//! columns). When the table is wider than the terminal, the widest columns are shortened with
//! `…` down to a floor; if that is not enough, columns are dropped from the right and a footer
//! says how many, and how to choose them (`select`).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{Style, paint_status};
use crate::lang::{Record, Value};

/// The narrowest a shortened column gets.
const MIN_COL: usize = 6;
const GAP: usize = 2;

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
    let rows: Vec<Vec<(String, bool)>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| match item {
                    Value::Record(r) => r
                        .get(c)
                        .map(|v| (cell_text(v), right_aligned(v)))
                        .unwrap_or_default(),
                    _ => (String::new(), false),
                })
                .collect()
        })
        .collect();
    let natural: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].0.width())
                .max()
                .unwrap_or(0)
                .max(c.width())
        })
        .collect();
    let (widths, shown) = fit(&natural, &columns, style.width);
    // A column is right-aligned (header included) when all its cells are numbers.
    let right_col: Vec<bool> = (0..columns.len())
        .map(|i| {
            let mut cells = rows
                .iter()
                .map(|r| &r[i])
                .filter(|(t, _)| !t.is_empty())
                .peekable();
            cells.peek().is_some() && cells.all(|(_, right)| *right)
        })
        .collect();

    let mut out = String::new();
    let header: Vec<String> = (0..shown)
        .map(|i| pad(&columns[i], widths[i], right_col[i]))
        .collect();
    let header = header.join(&" ".repeat(GAP));
    let header = header.trim_end();
    if style.color {
        out.push_str(&nu_ansi_term::Style::new().bold().paint(header).to_string());
    } else {
        out.push_str(header);
    }
    out.push('\n');
    for row in &rows {
        let mut line = String::new();
        for i in 0..shown {
            if i > 0 {
                line.push_str(&" ".repeat(GAP));
            }
            let (text, right) = &row[i];
            let cut = truncate(text, widths[i]);
            let padded = pad(&cut, widths[i], *right);
            if columns[i] == "status" && style.color {
                line.push_str(&padded.replacen(&cut, &paint_status(&cut, style), 1));
            } else {
                line.push_str(&padded);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if shown < columns.len() {
        let hidden = &columns[shown..];
        out.push_str(&format!(
            "({} more column{} not shown: {}; use `select` to choose)\n",
            hidden.len(),
            if hidden.len() == 1 { "" } else { "s" },
            hidden.join(" ")
        ));
    }
    out
}

/// Column widths that fit `width`, and how many columns are shown.
fn fit(natural: &[usize], columns: &[String], width: usize) -> (Vec<usize>, usize) {
    let mut widths = natural.to_vec();
    let total = |w: &[usize], n: usize| w[..n].iter().sum::<usize>() + GAP * n.saturating_sub(1);
    let mut shown = widths.len();
    while total(&widths, shown) > width {
        // Shorten the widest shortenable column by one.
        let candidate = (0..shown)
            .filter(|&i| widths[i] > MIN_COL.max(columns[i].width().min(MIN_COL + 4)))
            .max_by_key(|&i| widths[i]);
        match candidate {
            Some(i) => widths[i] -= 1,
            None if shown > 1 => shown -= 1,
            None => break,
        }
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
            },
        );
        for line in out.lines().take(3) {
            assert!(line.width() <= 30, "{line:?} is wider than 30");
        }
        assert!(out.contains('…') || out.contains("not shown"), "{out}");
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
            },
        );
        assert!(!plain.contains('\u{1b}'));
        let coloured = render_records(
            &guests(),
            Style {
                width: 80,
                color: true,
            },
        );
        assert!(coloured.contains('\u{1b}'));
    }
}
