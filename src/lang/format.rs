//! Output formats for `to json|yaml|csv|md`: a list of values to text.
//!
//! Owns the machine formats (JSON, YAML and CSV carry sizes, durations and times as plain numbers
//! so scripts can compute with them) and the Markdown table (human forms, for pasting into
//! tickets). It must not write anywhere or colour anything: the caller prints the string.
//! Columns are the union of the records' fields in order of first appearance; a list of
//! non-records becomes one `value` column.

use super::value::Value;

/// An output format failed (only YAML serialisation can fail).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot write {format}: {message}")]
pub struct FormatError {
    pub format: &'static str,
    pub message: String,
}

/// Pretty JSON: an array of objects, with a trailing newline.
pub fn to_json(items: &[Value]) -> String {
    let json = serde_json::Value::Array(items.iter().map(Value::to_json).collect());
    // Serialising a `serde_json::Value` to a string cannot fail; an empty array is a safe fallback.
    let mut out = serde_json::to_string_pretty(&json).unwrap_or_else(|_| "[]".to_string());
    out.push('\n');
    out
}

/// YAML: a sequence of mappings.
pub fn to_yaml(items: &[Value]) -> Result<String, FormatError> {
    let json = serde_json::Value::Array(items.iter().map(Value::to_json).collect());
    serde_saphyr::to_string(&json).map_err(|e| FormatError {
        format: "yaml",
        message: e.to_string(),
    })
}

/// CSV with a header row, RFC 4180 quoting (fields holding `,`, `"`, CR or LF, or leading or
/// trailing spaces are quoted, quotes doubled) and `\n` line ends. Lists are joined with `;`
/// (as PVE writes tags), nested records are written as JSON, null is an empty field.
pub fn to_csv(items: &[Value]) -> String {
    let columns = columns(items);
    let mut out = String::new();
    push_csv_row(&mut out, columns.iter().map(|c| c.to_string()));
    for item in items {
        push_csv_row(&mut out, cells(item, &columns).map(csv_text));
    }
    out
}

/// A GitHub Markdown table with human forms (`4.0 GiB`, `3d 4h`); `|` is escaped and line breaks
/// become `<br>`. An empty input gives an empty string.
pub fn to_md(items: &[Value]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let columns = columns(items);
    let mut out = String::new();
    push_md_row(&mut out, columns.iter().map(|c| c.to_string()));
    push_md_row(&mut out, columns.iter().map(|_| "---".to_string()));
    for item in items {
        push_md_row(
            &mut out,
            cells(item, &columns).map(|v| v.map(Value::display).unwrap_or_default()),
        );
    }
    out
}

/// The column name used for a list of non-record values.
const VALUE_COLUMN: &str = "value";

fn columns(items: &[Value]) -> Vec<&str> {
    let mut columns: Vec<&str> = Vec::new();
    for item in items {
        match item {
            Value::Record(r) => {
                for field in r.fields() {
                    if !columns.contains(&field) {
                        columns.push(field);
                    }
                }
            }
            _ => {
                if !columns.contains(&VALUE_COLUMN) {
                    columns.push(VALUE_COLUMN);
                }
            }
        }
    }
    columns
}

/// The item's value for each column (`None` where it has none).
fn cells<'a>(item: &'a Value, columns: &'a [&str]) -> impl Iterator<Item = Option<&'a Value>> {
    columns.iter().map(move |column| match item {
        Value::Record(r) => r.get(column),
        other => (*column == VALUE_COLUMN).then_some(other),
    })
}

fn csv_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::List(items)) => items
            .iter()
            .map(|v| csv_text(Some(v)))
            .collect::<Vec<_>>()
            .join(";"),
        Some(other) => other.to_json().to_string(),
    }
}

fn push_csv_row(out: &mut String, cells: impl Iterator<Item = String>) {
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let needs_quotes =
            cell.contains([',', '"', '\r', '\n']) || cell.starts_with(' ') || cell.ends_with(' ');
        if needs_quotes {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push('\n');
}

fn push_md_row(out: &mut String, cells: impl Iterator<Item = String>) {
    out.push('|');
    for cell in cells {
        let cell = cell
            .replace('\\', "\\\\")
            .replace('|', "\\|")
            .replace("\r\n", "<br>")
            .replace('\n', "<br>");
        out.push(' ');
        out.push_str(&cell);
        out.push_str(" |");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rows() -> Vec<Value> {
        let json = json!([
            {"vmid": 100, "name": "web01", "mem": 4294967296u64, "uptime": 273600, "tags": ["a", "b"]},
            {"vmid": 101, "name": "say \"hi\", ok", "mem": null, "note": "x|y\nz", "cpu": 0.5},
        ]);
        match Value::from_pve_json(&json) {
            Value::List(items) => items,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_is_machine_readable() {
        insta::assert_snapshot!(to_json(&rows()[..1]), @r#"
        [
          {
            "vmid": 100,
            "name": "web01",
            "mem": 4294967296,
            "uptime": 273600,
            "tags": [
              "a",
              "b"
            ]
          }
        ]
        "#);
        assert_eq!(to_json(&[]), "[]\n");
    }

    #[test]
    fn yaml_is_a_sequence_of_mappings() {
        insta::assert_snapshot!(to_yaml(&rows()).unwrap(), @r#"
        - vmid: 100
          name: web01
          mem: 4294967296
          uptime: 273600
          tags:
          - a
          - b
        - vmid: 101
          name: say "hi", ok
          mem: null
          note: |-
            x|y
            z
          cpu: 0.5
        "#);
    }

    #[test]
    fn csv_quotes_per_rfc_4180() {
        insta::assert_snapshot!(to_csv(&rows()), @r#"
        vmid,name,mem,uptime,tags,note,cpu
        100,web01,4294967296,273600,a;b,,
        101,"say ""hi"", ok",,,,"x|y
        z",0.5
        "#);
        assert_eq!(
            to_csv(&[Value::from(" a"), Value::Int(2)]),
            "value\n\" a\"\n2\n"
        );
    }

    #[test]
    fn markdown_uses_human_forms() {
        insta::assert_snapshot!(to_md(&rows()), @r#"
        | vmid | name | mem | uptime | tags | note | cpu |
        | --- | --- | --- | --- | --- | --- | --- |
        | 100 | web01 | 4.0 GiB | 3d 4h | a, b |  |  |
        | 101 | say "hi", ok |  |  |  | x\|y<br>z | 50.0% |
        "#);
        assert_eq!(to_md(&[]), "");
    }
}
