use serde_json::json;

use super::*;
use crate::lang::ops::{group_by, group_by_with};

const GIB: u64 = 1 << 30;

fn guests() -> Vec<Value> {
    let json = json!([
        {"name": "db01", "node": "pve2", "maxmem": 2 * GIB, "cpu": 0.5, "uptime": 100, "cores": 2, "ctime": 1700000000},
        {"name": "web01", "node": "pve1", "maxmem": 4 * GIB, "cpu": 0.25, "uptime": 300, "cores": 4, "ctime": 1600000000},
        {"name": "ci01", "node": "pve1", "maxmem": null, "cpu": null, "cores": 1},
        {"name": "web02", "node": "pve2", "maxmem": GIB, "cpu": 0.0, "uptime": 200, "cores": 1, "ctime": 1650000000},
    ]);
    match Value::from_pve_json(&json) {
        Value::List(items) => items,
        other => panic!("{other:?}"),
    }
}

fn agg(items: &[Value], field: &str, op: Aggregate) -> Value {
    aggregate(items, field, op).unwrap()
}

#[test]
fn sizes_stay_sizes_and_nulls_are_skipped() {
    let g = guests();
    assert!(matches!(agg(&g, "maxmem", Aggregate::Sum), Value::Size(n) if n == 7 * GIB));
    assert_eq!(agg(&g, "maxmem", Aggregate::Sum).display(), "7.0 GiB");
    // Three sizes (ci01's null is skipped): 7 GiB / 3 rounded to whole bytes, still a size.
    let avg = agg(&g, "maxmem", Aggregate::Avg);
    assert!(matches!(avg, Value::Size(n) if n == 2505397589), "{avg:?}");
    assert!(matches!(agg(&g, "maxmem", Aggregate::Min), Value::Size(n) if n == GIB));
    assert!(matches!(agg(&g, "maxmem", Aggregate::Max), Value::Size(n) if n == 4 * GIB));
    // JSON keeps numbers: sizes as bytes.
    assert_eq!(agg(&g, "maxmem", Aggregate::Sum).to_json(), json!(7 * GIB));
}

#[test]
fn durations_numbers_and_times_keep_their_kind() {
    let g = guests();
    // uptime is missing in ci01: skipped.
    assert!(matches!(
        agg(&g, "uptime", Aggregate::Sum),
        Value::Duration(600)
    ));
    assert!(matches!(
        agg(&g, "uptime", Aggregate::Avg),
        Value::Duration(200)
    ));
    assert!(matches!(agg(&g, "cores", Aggregate::Sum), Value::Int(8)));
    assert!(matches!(agg(&g, "cores", Aggregate::Avg), Value::Float(x) if x == 2.0));
    assert!(matches!(agg(&g, "cpu", Aggregate::Sum), Value::Percent(x) if x == 0.75));
    assert!(matches!(agg(&g, "cpu", Aggregate::Avg), Value::Percent(x) if x == 0.25));
    assert!(matches!(
        agg(&g, "ctime", Aggregate::Min),
        Value::Time(1600000000)
    ));
    assert!(matches!(
        agg(&g, "ctime", Aggregate::Max),
        Value::Time(1700000000)
    ));
    assert!(matches!(
        agg(&g, "ctime", Aggregate::Avg),
        Value::Time(1650000000)
    ));
    assert_eq!(agg(&g, "cores", Aggregate::Sum).to_json(), json!(8));
    assert_eq!(agg(&g, "cpu", Aggregate::Avg).to_json(), json!(0.25));
}

#[test]
fn min_and_max_work_on_strings() {
    let g = guests();
    assert_eq!(agg(&g, "name", Aggregate::Min), Value::from("ci01"));
    assert_eq!(agg(&g, "name", Aggregate::Max), Value::from("web02"));
}

#[test]
fn empty_input_and_only_nulls() {
    assert_eq!(agg(&[], "maxmem", Aggregate::Sum), Value::Int(0));
    for op in [Aggregate::Avg, Aggregate::Min, Aggregate::Max] {
        assert!(agg(&[], "maxmem", op).is_null(), "{op:?}");
    }
    let nulls = Value::from_pve_json(&json!([{"mem": null}, {"mem": null}]));
    let Value::List(nulls) = nulls else { panic!() };
    assert_eq!(agg(&nulls, "mem", Aggregate::Sum), Value::Int(0));
    assert!(agg(&nulls, "mem", Aggregate::Avg).is_null());
    assert!(agg(&nulls, "mem", Aggregate::Max).is_null());
}

#[test]
fn mixed_kinds() {
    // Plain integers join sizes as bytes; a float makes an integer sum a float.
    let items = vec![
        Value::Record(Record::from_pairs([("x", Value::Size(1024))])),
        Value::Record(Record::from_pairs([("x", Value::Int(1024))])),
    ];
    assert!(matches!(
        agg(&items, "x", Aggregate::Sum),
        Value::Size(2048)
    ));
    let items = vec![
        Value::Record(Record::from_pairs([("x", Value::Int(1))])),
        Value::Record(Record::from_pairs([("x", Value::Float(0.5))])),
    ];
    assert!(matches!(agg(&items, "x", Aggregate::Sum), Value::Float(x) if x == 1.5));
    // Sizes and durations do not add up.
    let items = vec![
        Value::Record(Record::from_pairs([("x", Value::Size(1))])),
        Value::Record(Record::from_pairs([("x", Value::Duration(1))])),
    ];
    let err = aggregate(&items, "x", Aggregate::Sum).unwrap_err();
    assert_eq!(
        err.message,
        "sum cannot add sizes and durations (field 'x')"
    );
    // Strings and numbers do not compare.
    let items = vec![
        Value::Record(Record::from_pairs([("x", Value::from("a"))])),
        Value::Record(Record::from_pairs([("x", Value::Int(1))])),
    ];
    let err = aggregate(&items, "x", Aggregate::Max).unwrap_err();
    assert_eq!(
        err.message,
        "max cannot compare an int '1' with a string 'a' (field 'x')"
    );
}

#[test]
fn errors_name_the_field() {
    let g = guests();
    let err = aggregate(&g, "name", Aggregate::Sum).unwrap_err();
    assert_eq!(
        err.message,
        "sum needs numbers, but field 'name' holds a string 'db01' (min and max also work on \
         strings)"
    );
    let err = aggregate(&g, "ctime", Aggregate::Sum).unwrap_err();
    assert!(err.message.starts_with("sum cannot add times"), "{err}");
    let err = aggregate(&g, "maxmme", Aggregate::Avg).unwrap_err();
    assert!(
        err.message
            .starts_with("no field 'maxmme' (did you mean maxmem?)"),
        "{err}"
    );
}

#[test]
fn group_by_carries_aggregates_between_count_and_items() {
    let aggs = [
        (Aggregate::Sum, "maxmem".to_string()),
        (Aggregate::Avg, "cpu".to_string()),
        (Aggregate::Max, "uptime".to_string()),
    ];
    let groups = group_by_with(guests(), "node", &aggs).unwrap();
    let first = groups[0].as_record().unwrap();
    let fields: Vec<&str> = first.fields().collect();
    assert_eq!(
        fields,
        [
            "node",
            "count",
            "sum.maxmem",
            "avg.cpu",
            "max.uptime",
            "items"
        ]
    );
    assert_eq!(first.get("node"), Some(&Value::from("pve2")));
    assert!(matches!(first.get("sum.maxmem"), Some(Value::Size(n)) if *n == 3 * GIB));
    assert!(matches!(first.get("avg.cpu"), Some(Value::Percent(x)) if *x == 0.25));
    assert!(matches!(
        first.get("max.uptime"),
        Some(Value::Duration(200))
    ));
    // pve1: ci01 has no maxmem and no uptime; they are skipped.
    let second = groups[1].as_record().unwrap();
    assert!(matches!(second.get("sum.maxmem"), Some(Value::Size(n)) if *n == 4 * GIB));
    assert!(matches!(
        second.get("max.uptime"),
        Some(Value::Duration(300))
    ));
    // A dotted aggregate name is a real field: select and sort-by take it.
    let picked = crate::lang::select(groups.clone(), &["node", "sum.maxmem"]).unwrap();
    assert_eq!(
        picked[1].to_json(),
        json!({"node": "pve1", "sum.maxmem": 4 * GIB})
    );
    let sorted = crate::lang::sort_by(groups, "sum.maxmem", true).unwrap();
    assert_eq!(
        sorted[0].as_record().unwrap().get("node"),
        Some(&Value::from("pve1"))
    );
    // Without aggregates, group-by is as before; an unknown aggregated field is an error.
    let plain = group_by(guests(), "node").unwrap();
    let fields: Vec<&str> = plain[0].as_record().unwrap().fields().collect();
    assert_eq!(fields, ["node", "count", "items"]);
    let err = group_by_with(guests(), "node", &[(Aggregate::Sum, "mme".into())]).unwrap_err();
    assert!(err.message.starts_with("no field 'mme'"), "{err}");
}
