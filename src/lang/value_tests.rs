use std::cmp::Ordering;

use serde_json::json;

use super::*;

#[test]
fn literal_inference() {
    let cases: &[(&str, Value)] = &[
        ("true", Value::Bool(true)),
        ("no", Value::Bool(false)),
        ("42", Value::Int(42)),
        ("-7", Value::Int(-7)),
        ("0.25", Value::Float(0.25)),
        ("1e3", Value::Float(1000.0)),
        ("4G", Value::Size(4 << 30)),
        ("512M", Value::Size(512 << 20)),
        ("5m", Value::Duration(300)),
        ("2h", Value::Duration(7200)),
        ("1w", Value::Duration(604_800)),
        ("web01", Value::from("web01")),
        ("1-2", Value::from("1-2")),
        ("", Value::from("")),
    ];
    for (text, expected) in cases {
        let got = Value::parse_literal(text);
        assert_eq!(got.type_name(), expected.type_name(), "type of {text:?}");
        assert_eq!(&got, expected, "value of {text:?}");
    }
}

#[test]
fn comparisons_across_numeric_kinds() {
    let cases: &[(Value, Value, Option<Ordering>)] = &[
        (Value::Int(1024), Value::Size(1024), Some(Ordering::Equal)),
        (Value::Int(1), Value::Float(1.0), Some(Ordering::Equal)),
        (Value::Size(1), Value::Float(1.5), Some(Ordering::Less)),
        (Value::Duration(60), Value::Int(59), Some(Ordering::Greater)),
        (Value::Bool(true), Value::Int(1), Some(Ordering::Equal)),
        (
            Value::Int(i64::MAX),
            Value::Size(u64::MAX),
            Some(Ordering::Less),
        ),
        (Value::from("a"), Value::from("b"), Some(Ordering::Less)),
        (Value::from("1"), Value::Int(1), None),
        (Value::Null, Value::Int(0), None),
        (Value::Null, Value::Null, Some(Ordering::Equal)),
        (Value::Float(f64::NAN), Value::Float(f64::NAN), None),
        (
            Value::List(vec![Value::Int(1), Value::Int(2)]),
            Value::List(vec![Value::Int(1)]),
            Some(Ordering::Greater),
        ),
    ];
    for (a, b, expected) in cases {
        assert_eq!(a.compare(b), *expected, "{a:?} vs {b:?}");
    }
}

#[test]
fn sorting_puts_nulls_last_and_never_fails() {
    let mut values = [
        Value::Null,
        Value::from("b"),
        Value::Int(3),
        Value::Float(f64::NAN),
        Value::Size(1),
        Value::from("a"),
    ];
    values.sort_by(Value::sort_cmp);
    let shown: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    assert_eq!(
        shown,
        [
            "Size(1)",
            "Int(3)",
            "Float(NaN)",
            "String(\"a\")",
            "String(\"b\")",
            "Null"
        ]
    );
}

#[test]
fn json_round_trip_keeps_order_and_types() {
    let input = json!({"vmid": 101, "name": "web01", "cpu": 0.5, "tags": "a;b", "x": null,
                       "list": [1, "two"], "nested": {"k": true}});
    let value = Value::from_json(&input);
    assert_eq!(value.to_json(), input);
    let record = value.as_record().unwrap();
    assert_eq!(
        record.fields().collect::<Vec<_>>(),
        ["vmid", "name", "cpu", "tags", "x", "list", "nested"]
    );
    assert_eq!(record.get_path("nested.k"), Some(&Value::Bool(true)));
    assert_eq!(record.get_path("nested.missing"), None);
}

#[test]
fn pve_json_types_well_known_fields() {
    let input =
        json!({"mem": 4294967296u64, "uptime": 273600, "starttime": 1795255200, "name": "x"});
    let value = Value::from_pve_json(&input);
    let r = value.as_record().unwrap();
    assert!(matches!(r.get("mem"), Some(Value::Size(4294967296))));
    assert!(matches!(r.get("uptime"), Some(Value::Duration(273_600))));
    assert!(matches!(
        r.get("starttime"),
        Some(Value::Time(1_795_255_200))
    ));
    assert_eq!(
        value.display(),
        "{mem: 4.0 GiB, uptime: 3d 4h, starttime: 2026-11-21T10:00:00Z, name: x}"
    );
    assert!(matches!(
        crate::lang::fields::typed_field(
            crate::lang::fields::RecordKind::Any,
            "size",
            &json!("32G")
        ),
        Value::String(_)
    ));
    assert!(matches!(
        crate::lang::fields::typed_field(
            crate::lang::fields::RecordKind::Any,
            "size",
            &json!(1024)
        ),
        Value::Size(1024)
    ));
    assert!(matches!(
        crate::lang::fields::typed_field(crate::lang::fields::RecordKind::Any, "vmid", &json!(100)),
        Value::Int(100)
    ));
    // Machine-readable output stays numeric.
    assert_eq!(value.to_json(), input);
}

#[test]
fn display_forms() {
    let cases: &[(Value, &str)] = &[
        (Value::Null, ""),
        (Value::Bool(false), "false"),
        (Value::Float(0.125), "0.125"),
        (Value::Size(4 << 30), "4.0 GiB"),
        (Value::Duration(90), "1m 30s"),
        (
            Value::List(vec![Value::from("a"), Value::from("b")]),
            "a, b",
        ),
        (Value::List(vec![]), ""),
    ];
    for (value, expected) in cases {
        assert_eq!(value.display(), *expected, "{value:?}");
    }
}

#[test]
fn record_editing_keeps_order() {
    let mut r = Record::from_pairs([("a", Value::Int(1)), ("b", Value::Int(2))]);
    r.insert("c", Value::Int(3));
    r.insert("a", Value::Int(9));
    assert_eq!(r.fields().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(r.remove("b"), Some(Value::Int(2)));
    assert_eq!(r.fields().collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!(r.len(), 2);
}

#[test]
fn strings_sort_in_natural_order() {
    let mut names = [
        "web10", "web2", "db", "web02", "web1", "Web3", "web", "a10b2", "a10b10", "",
    ];
    names.sort_by(|a, b| Value::from(*a).sort_cmp(&Value::from(*b)));
    assert_eq!(
        names,
        [
            "", "Web3", "a10b2", "a10b10", "db", "web", "web1", "web02", "web2", "web10"
        ]
    );
}

#[test]
fn serializing_writes_the_same_json_as_to_json() {
    let values = [
        Value::Null,
        Value::Bool(true),
        Value::Int(-3),
        Value::Float(1.5),
        Value::Float(f64::NAN),
        Value::Percent(0.125),
        Value::Percent(f64::INFINITY),
        Value::String("a \"quoted\"\nline".into()),
        Value::Size(4 << 30),
        Value::Duration(93784),
        Value::Time(1_700_000_000),
        Value::List(vec![Value::Int(1), Value::String("x".into())]),
        Value::Record(Record::from_pairs([
            ("b", Value::Int(1)),
            ("a", Value::List(vec![])),
            (
                "nested",
                Value::Record(Record::from_pairs([("z", Value::Null)])),
            ),
        ])),
    ];
    for v in values {
        assert_eq!(
            serde_json::to_string_pretty(&v).unwrap(),
            serde_json::to_string_pretty(&v.to_json()).unwrap(),
            "{v:?}"
        );
    }
}
