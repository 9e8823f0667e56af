use serde_json::json;

use super::*;
use crate::lang::filter::parse_filter;

fn guests() -> Vec<Value> {
    let json = json!([
        {"vmid": 102, "name": "db01", "node": "pve2", "mem": 2147483648u64, "tags": "prod"},
        {"vmid": 100, "name": "web01", "node": "pve1", "mem": 4294967296u64, "tags": "prod;web"},
        {"vmid": 105, "name": "ci01", "node": "pve1", "mem": null},
        {"vmid": 101, "name": "web02", "node": "pve2", "mem": 536870912u64, "tags": "web"},
    ]);
    match Value::from_pve_json(&json) {
        Value::List(items) => items,
        other => panic!("{other:?}"),
    }
}

/// One compact JSON line per item.
fn show(items: &[Value]) -> String {
    items
        .iter()
        .map(|v| v.to_json().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v.as_record().unwrap().get("name").unwrap().display())
        .collect()
}

#[test]
fn where_select_first_last_count() {
    let expr = parse_filter("tags has web").unwrap();
    let kept = filter(guests(), &expr).unwrap();
    assert_eq!(names(&kept), ["web01", "web02"]);
    let selected = select(kept, &["name", "vmid"]).unwrap();
    insta::assert_snapshot!(show(&selected), @r#"
    {"name":"web01","vmid":100}
    {"name":"web02","vmid":101}
    "#);
    assert_eq!(names(&first(guests(), 2)), ["db01", "web01"]);
    assert_eq!(names(&first(guests(), 0)), Vec::<String>::new());
    assert_eq!(names(&last(guests(), 2)), ["ci01", "web02"]);
    assert_eq!(names(&last(guests(), 10)).len(), 4);
    assert_eq!(count(&guests()), Value::Int(4));
    assert_eq!(count(&[]), Value::Int(0));
}

#[test]
fn select_fills_missing_fields_with_null() {
    let selected = select(guests(), &["vmid", "tags"]).unwrap();
    assert_eq!(show(&selected[2..3]), r#"{"vmid":105,"tags":null}"#);
}

#[test]
fn unknown_fields_list_the_available_ones() {
    let err = select(guests(), &["vmid", "nmae"]).unwrap_err();
    assert_eq!(
        err.message,
        "no field 'nmae' (did you mean name?); available fields: vmid, name, node, mem, tags"
    );
    let err = get(&guests(), "zzzz").unwrap_err();
    assert_eq!(
        err.message,
        "no field 'zzzz'; available fields: vmid, name, node, mem, tags"
    );
    assert!(sort_by(guests(), "x", false).is_err());
    assert!(get(&guests(), "x").is_err());
    assert!(group_by(guests(), "x").is_err());
    assert!(select(guests(), &[]).is_err());
    let err = get(&[Value::Int(1)], "x").unwrap_err();
    assert_eq!(
        err.message,
        "no field 'x': the input is a list of int values, not records"
    );
    // An empty stream has every field.
    assert_eq!(select(vec![], &["x"]).unwrap().len(), 0);
}

#[test]
fn sort_is_typed_stable_and_puts_nulls_last() {
    let by_mem = sort_by(guests(), "mem", false).unwrap();
    assert_eq!(names(&by_mem), ["web02", "db01", "web01", "ci01"]);
    let by_mem_desc = sort_by(guests(), "mem", true).unwrap();
    assert_eq!(names(&by_mem_desc), ["web01", "db01", "web02", "ci01"]);
    let by_node = sort_by(guests(), "node", false).unwrap();
    assert_eq!(names(&by_node), ["web01", "ci01", "db01", "web02"]);
    let by_node_desc = sort_by(guests(), "node", true).unwrap();
    assert_eq!(names(&by_node_desc), ["db01", "web02", "web01", "ci01"]);
    let by_tags = sort_by(guests(), "tags", false).unwrap();
    assert_eq!(names(&by_tags), ["db01", "web01", "web02", "ci01"]);
}

#[test]
fn get_uniq_and_group_by() {
    let nodes = get(&guests(), "node").unwrap();
    assert_eq!(show(&nodes), "\"pve2\"\n\"pve1\"\n\"pve1\"\n\"pve2\"");
    assert_eq!(show(&uniq(nodes)), "\"pve2\"\n\"pve1\"");
    let mixed = vec![
        Value::Int(1),
        Value::Size(1),
        Value::from("1"),
        Value::Null,
        Value::Null,
    ];
    assert_eq!(show(&uniq(mixed)), "1\n\"1\"\nnull");
    let tags = get(&guests(), "tags").unwrap();
    assert_eq!(tags[2], Value::Null);

    let groups = group_by(guests(), "node").unwrap();
    let summary: Vec<String> = groups
        .iter()
        .map(|g| {
            let r = g.as_record().unwrap();
            let fields: Vec<&str> = r.fields().collect();
            assert_eq!(fields, ["node", "count", "items"]);
            let Some(Value::List(items)) = r.get("items") else {
                panic!("items")
            };
            format!(
                "{}={} {:?}",
                r.get("node").unwrap(),
                r.get("count").unwrap(),
                names(items)
            )
        })
        .collect();
    assert_eq!(
        summary,
        [r#"pve2=2 ["db01", "web02"]"#, r#"pve1=2 ["web01", "ci01"]"#]
    );
    let by_tags = group_by(guests(), "tags").unwrap();
    assert_eq!(by_tags.len(), 4);
    assert_eq!(
        by_tags[2].as_record().unwrap().get("tags"),
        Some(&Value::Null)
    );
}

#[test]
fn where_with_an_unknown_field_is_an_error_with_a_suggestion() {
    let expr = crate::lang::parse_filter("vmid > 100 and nmae=web01").unwrap();
    let err = filter(guests(), &expr).unwrap_err();
    assert_eq!(
        err.message,
        "no field 'nmae' (did you mean name?); available fields: vmid, name, node, mem, tags"
    );
    // A field that only some records have is fine; the others read as null.
    let expr = crate::lang::parse_filter("tags has prod").unwrap();
    assert_eq!(filter(guests(), &expr).unwrap().len(), 2);
}
