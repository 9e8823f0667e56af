use serde_json::json;

use super::*;

/// A guest as `/cluster/resources` would give it, typed the PVE way.
fn guest() -> Record {
    let json = json!({
        "vmid": 101, "name": "web01", "node": "pve1", "status": "running", "type": "qemu",
        "mem": 4294967296u64 + 1, "maxmem": 8589934592u64, "cpu": 0.25, "uptime": 10800,
        "tags": "prod;web", "template": 0, "starttime": 1795255200, "lock": null,
        "ips": ["10.0.0.5", "10.0.0.6"], "memory": "2048", "version": "8.2-1", "config": {"cores": 2}, "label": "a b",
    });
    match Value::from_pve_json(&json) {
        Value::Record(r) => r,
        other => panic!("not a record: {other:?}"),
    }
}

fn check(filter: &str, expected: bool) {
    let expr = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?}:\n{}", e.render(filter)));
    assert_eq!(
        expr.eval(&guest()),
        expected,
        "filter {filter:?} parsed as {expr:?}"
    );
}

#[test]
fn comparisons() {
    check("status=running", true);
    check("status = running", true);
    check("status == running", true);
    check("status = stopped", false);
    check("status != stopped", true);
    check("status != running", false);
    check("vmid = 101", true);
    check("vmid >= 101", true);
    check("vmid > 101", false);
    check("vmid < 200", true);
    check("vmid <= 100", false);
    check("vmid=101", true);
    check("vmid>100", true);
    check("name = 'web01'", true);
    check("name < web02", true);
    check("label = 'a b'", true);
    check("label = \"a b\"", true);
    check("cpu > 0.2", true);
    check("cpu < 0.2", false);
    check("cpu = 0.25", true);
    check("memory > 512", true);
    check("memory = 2048", true);
    check("memory = 2048.0", true);
    check("memory < 10000", true);
    check("memory = '2048'", true);
    check("memory > abc", false);
    check("version > 8", true);
    check("version = 8.2-1", true);
}

#[test]
fn literals_coerce_to_the_field_type() {
    check("mem > 4G", true);
    check("mem > 4096M", true);
    check("mem < 5G", true);
    check("maxmem = 8G", true);
    check("maxmem = 8589934592", true);
    check("maxmem >= 8GiB", true);
    check("uptime > 2h", true);
    check("uptime = 3h", true);
    check("uptime < 179m", false);
    check("uptime = 10800", true);
    check("starttime > 2026-11-01", true);
    check("starttime = 2026-11-21T10:00:00Z", true);
    check("starttime < 2026-11-21", false);
    check("template = 0", true);
    check("template = false", false);
    check("vmid > 1K", false);
    check("mem > lots", false);
    // `cpu` is a share: `50%` reads as a percentage, a bare number as the fraction.
    check("cpu < 50%", true);
    check("cpu = 25%", true);
    check("cpu > 20%", true);
    check("cpu > 0.2", true);
    check("cpu >= 0.3", false);
    check("cpu > 25.5%", false);
}

#[test]
fn has_in_and_regex() {
    check("tags has prod", true);
    check("tags has pro", false);
    check("tags has web", true);
    check("ips has 10.0.0.6", true);
    check("ips = 10.0.0.5", true);
    check("ips != 10.0.0.5", false);
    check("ips != 10.0.0.7", true);
    check("config has cores", true);
    check("config has sockets", false);
    check("config.cores = 2", true);
    check("node in [pve1,pve2]", true);
    check("node in [pve2, pve3]", false);
    check("node in [pve2 pve1]", true);
    check("node in []", false);
    check("vmid in [100,101]", true);
    check("ips in [10.0.0.6]", true);
    check("name =~ '^web'", true);
    check("name =~ ^web", true);
    check("name =~ '^db'", false);
    check("name !~ '^db'", true);
    check("mem =~ GiB", true);
    check("ips =~ '\\.6$'", true);
    check("ips !~ '^10\\.'", false);
}

#[test]
fn missing_fields_are_false_not_errors() {
    check("nosuch = 1", false);
    check("nosuch != 1", false);
    check("nosuch has x", false);
    check("nosuch =~ x", false);
    check("lock = x", false);
    check("not nosuch = 1", true);
    check("nosuch", false);
}

#[test]
fn boolean_structure_and_precedence() {
    check("status=running and tags has prod", true);
    check("status=stopped or vmid=101", true);
    check("status=stopped or vmid=102", false);
    check("not status=stopped", true);
    check("not (status = stopped or template = 1)", true);
    check("NOT status = running", false);
    check("status=running AND vmid=101", true);
    // not > and > or: `a or b and c` is `a or (b and c)`.
    check("vmid=101 or vmid=1 and vmid=2", true);
    check("(vmid=101 or vmid=1) and vmid=2", false);
    // `not a and b` is `(not a) and b`.
    check("not vmid=1 and vmid=101", true);
    check("not (vmid=101 and vmid=1)", true);
    check("((status=running))", true);
    check("template", false);
    check("name", true);
    check("not template and name", true);
    check("'and' = x", false);
}

fn check_err(filter: &str, rendered: &str) {
    let err = parse_filter(filter).expect_err(filter);
    assert_eq!(err.render(filter), rendered, "filter {filter:?}");
}

#[test]
fn errors_point_at_the_problem() {
    check_err("", "\n^ expected a filter, e.g. status=running");
    check_err("mem >", "mem >\n    ^ expected a value after '>'");
    check_err(
        "mem > and x",
        "mem > and x\n    ^ expected a value after '>'",
    );
    check_err(
        "status running",
        "status running\n       ^^^^^^^ expected an operator after 'status' (= != < <= > >= =~ !~ has in) but found 'running'",
    );
    check_err("= 3", "= 3\n^ expected a field name but found '='");
    check_err(
        "a=1 and",
        "a=1 and\n       ^ expected a condition, e.g. status=running",
    );
    check_err("(a=1", "(a=1\n^ unclosed '(': add a ')'");
    check_err(
        "(a=1 b",
        "(a=1 b\n     ^ expected ')' to close the '(' but found 'b'",
    );
    check_err(
        "a=1)",
        "a=1)\n   ^ unexpected ')': expected 'and', 'or' or the end of the filter",
    );
    check_err(
        "node in pve1",
        "node in pve1\n     ^^ expected a list after 'in', e.g. node in [pve1,pve2]",
    );
    check_err(
        "node in [a, b",
        "node in [a, b\n        ^ unclosed '[': add a ']'",
    );
    check_err(
        "node in [a (",
        "node in [a (\n           ^ expected a list item or ']' but found '('",
    );
    check_err(
        "name =~ '(web'",
        "name =~ '(web'\n        ^^^^^^ invalid regex: unclosed group",
    );
    check_err(
        "name = 'x",
        "name = 'x\n       ^^ unterminated single quote: add a closing '",
    );
}

#[test]
fn errors_inside_a_line_are_shifted() {
    let line = "ls | where mem > | count";
    let span = Span::new(11, 16);
    let err = parse_filter_in(line, span).unwrap_err();
    assert_eq!(
        err.render(line),
        "ls | where mem > | count\n               ^ expected a value after '>'"
    );
    assert!(parse_filter_in(line, Span::new(11, 99)).is_err());
    let line = "ls | where | count";
    let err = parse_filter_in(line, Span::at(10)).unwrap_err();
    assert_eq!(
        err.render(line),
        "ls | where | count\n          ^ expected a filter, e.g. status=running"
    );
    let line = "ls | where name = 名前 and mem > 4G";
    let expr = parse_filter_in(line, Span::new(11, line.len())).unwrap();
    let fields: Vec<(&str, Span)> = expr.fields();
    assert_eq!(
        fields,
        [("name", Span::new(11, 15)), ("mem", Span::new(29, 32))]
    );
}

#[test]
fn deep_nesting_is_refused() {
    let deep = format!("{}a=1{}", "(".repeat(200), ")".repeat(200));
    let err = parse_filter(&deep).unwrap_err();
    assert!(err.message.contains("nests deeper"), "{}", err.message);
    let nots = format!("{}a=1", "not ".repeat(200));
    assert!(parse_filter(&nots).is_err());
    let ok = format!("{}a=1{}", "(".repeat(20), ")".repeat(20));
    assert!(parse_filter(&ok).is_ok());
}

#[test]
fn fields_are_listed_with_spans() {
    let expr = parse_filter("status=running and (mem > 4G or not tags has x)").unwrap();
    let fields: Vec<(&str, usize)> = expr
        .fields()
        .into_iter()
        .map(|(f, s)| (f, s.start))
        .collect();
    assert_eq!(fields, [("status", 0), ("mem", 20), ("tags", 36)]);
}

/// Renders the classification as `text:kind` pairs.
fn classified(line: &str, span: Span) -> String {
    let parts: Vec<String> = classify_filter(line, span)
        .into_iter()
        .map(|(s, part)| format!("{}:{part:?}", &line[s.start..s.end]))
        .collect();
    parts.join(" ")
}

#[test]
fn classification_for_highlighting() {
    let check = |filter: &str, expected: &str| {
        assert_eq!(
            classified(filter, Span::new(0, filter.len())),
            expected,
            "{filter:?}"
        );
    };
    check("", "");
    check("status=running", "status:Field =:Operator running:Value");
    check(
        "not (mem > 4G or tags has prod)",
        "not:Keyword (:Punct mem:Field >:Operator 4G:Value or:Keyword tags:Field \
         has:Operator prod:Value ):Punct",
    );
    check(
        "node in [a, 'b c'] and template",
        "node:Field in:Operator [:Punct a:Value ,:Punct 'b c':Value ]:Punct and:Keyword \
         template:Field",
    );
    check("name =~ '^we", "name:Field =~:Operator '^we:Value");
    check("mem >", "mem:Field >:Operator");
    let line = "ls | where vmid > 100";
    assert_eq!(
        classified(line, Span::new(11, line.len())),
        "vmid:Field >:Operator 100:Value"
    );
    assert_eq!(classified(line, Span::new(11, 99)), "");
}
