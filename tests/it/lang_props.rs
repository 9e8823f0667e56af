//! Property tests for `pvesh_plus::lang`: nothing a user can type makes the lexer, parser, filter
//! parser or evaluator panic, spans always index the line, and quoting round-trips.
//!
//! Each of the five properties runs 10 000 cases (set per property below, independent of `PROPTEST_CASES`).

use proptest::prelude::*;
use pvesh_plus::lang::{
    Record, Span, Token, Value, classify_filter, lex, lex_partial, parse_filter, parse_filter_in,
    parse_pipeline, quote, split_args,
};

const CASES: u32 = 10_000;

/// Pieces of the language, to build "token soups" that reach deep into the parsers.
const PIECES: &[&str] = &[
    "'",
    "\"",
    "|",
    "\\",
    "#",
    " ",
    "\t",
    "\n",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "==",
    "!=",
    "=~",
    "!~",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    "~",
    "and",
    "or",
    "not",
    "has",
    "in",
    "AND",
    "status",
    "running",
    "mem",
    "4G",
    "512M",
    "1.5T",
    "2h",
    "5m",
    "1w",
    "-5",
    "0.5",
    "1e3",
    "true",
    "web01",
    "tags",
    "prod",
    "node",
    "ips",
    "config.cores",
    "ls",
    "where",
    "select",
    "--limit",
    "-o",
    "--",
    "x=y",
    "name='a b'",
    "é",
    "名前",
    "*",
    "(?",
    "^web",
    "[a-",
    "2026-11-21",
    "$x",
    "\\'",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(PIECES), prop::bool::ANY), 0..24).prop_map(
        |pieces| {
            let mut line = String::new();
            for (piece, spaced) in pieces {
                line.push_str(piece);
                if spaced {
                    line.push(' ');
                }
            }
            line
        },
    )
}

/// Syntactically valid filters, built from the grammar with random spacing and parentheses.
fn valid_filter() -> impl Strategy<Value = String> {
    let field = prop::sample::select(
        &[
            "status",
            "mem",
            "tags",
            "name",
            "vmid",
            "ips",
            "config.cores",
            "nosuch",
            "'and'",
            "\"a b\"",
            "template",
            "uptime",
            "starttime",
        ][..],
    );
    let op = prop::sample::select(&["=", "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "has"][..]);
    let value = prop::sample::select(
        &[
            "running",
            "4G",
            "512M",
            "2h",
            "prod",
            "'^web'",
            "web01",
            "101",
            "'x y'",
            "0",
            "1",
            "2026-11-21",
            "true",
            "'it''s'",
            "\"or\"",
            "-5",
            "0.5",
        ][..],
    );
    let spaced = prop::bool::ANY;
    let comparison = (field.clone(), op, value.clone(), spaced).prop_map(|(f, o, v, sp)| {
        if sp {
            format!("{f} {o} {v}")
        } else {
            format!("{f}{o}{v}")
        }
    });
    let membership = (field.clone(), prop::collection::vec(value, 0..4))
        .prop_map(|(f, vs)| format!("{f} in [{}]", vs.join(",")));
    let leaf = prop_oneof![4 => comparison, 1 => membership, 1 => field.prop_map(String::from)];
    leaf.prop_recursive(6, 32, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("not {e}")),
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} or {b}")),
        ]
    })
}

fn record() -> Record {
    let json = serde_json::json!({
        "vmid": 101, "name": "web01", "status": "running", "mem": 4294967296u64, "uptime": 7200,
        "tags": "prod;web", "ips": ["10.0.0.5"], "config": {"cores": 2}, "cpu": 0.5, "lock": null,
        "template": 0, "starttime": 1795255200,
    });
    match Value::from_pve_json(&json) {
        Value::Record(r) => r,
        other => panic!("{other:?}"),
    }
}

fn assert_span_ok(line: &str, span: Span) {
    assert!(
        span.start <= span.end && span.end <= line.len(),
        "span {span:?} outside {line:?}"
    );
    assert!(
        line.is_char_boundary(span.start) && line.is_char_boundary(span.end),
        "{span:?} in {line:?}"
    );
}

/// Runs every entry point on a line; panics (failing the property) only on a broken invariant.
fn exercise(line: &str) {
    let partial = lex_partial(line);
    let mut previous_end = 0;
    for token in &partial {
        let span = token.span();
        assert_span_ok(line, span);
        assert!(span.start >= previous_end, "overlapping tokens in {line:?}");
        previous_end = span.end;
    }
    match lex(line) {
        Ok(tokens) => assert_eq!(tokens, partial, "lex and lex_partial differ on {line:?}"),
        Err(e) => {
            assert_span_ok(line, e.span);
            let _ = e.render(line);
        }
    }
    match parse_pipeline(line) {
        Ok(pipeline) => {
            for stage in &pipeline.stages {
                assert!(!stage.words.is_empty());
                let _ = split_args(stage.args(), &["limit", "o"]).map_err(|e| e.render(line));
                if let Some(span) = stage.args_span() {
                    match parse_filter_in(line, span) {
                        Ok(expr) => {
                            let _ = expr.eval(&record());
                            for (_, field_span) in expr.fields() {
                                assert_span_ok(line, field_span);
                            }
                        }
                        Err(e) => {
                            assert_span_ok(line, e.span);
                            let _ = e.render(line);
                        }
                    }
                }
            }
        }
        Err(e) => {
            assert_span_ok(line, e.span);
            let _ = e.render(line);
        }
    }
    match parse_filter(line) {
        Ok(expr) => {
            let _ = expr.eval(&record());
            let _ = expr.eval(&Record::new());
        }
        Err(e) => {
            assert_span_ok(line, e.span);
            let _ = e.render(line);
        }
    }
    for (span, _) in classify_filter(line, Span::new(0, line.len())) {
        assert_span_ok(line, span);
    }
    let _ = Value::parse_literal(line).display();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn arbitrary_strings_never_panic(line in any::<String>()) {
        exercise(&line);
    }

    #[test]
    fn token_soups_never_panic(line in soup()) {
        exercise(&line);
    }

    #[test]
    fn quoted_words_round_trip(words in prop::collection::vec(any::<String>(), 1..6)) {
        let line: Vec<String> = words.iter().map(|w| quote(w).into_owned()).collect();
        let line = line.join(" ");
        let tokens = lex(&line).unwrap();
        let texts: Vec<&str> = tokens
            .iter()
            .map(|t| match t {
                Token::Word(w) => w.text.as_str(),
                other => panic!("unexpected {other:?} in {line:?}"),
            })
            .collect();
        prop_assert_eq!(texts, words.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn valid_filters_parse_and_print_back(line in valid_filter()) {
        let expr = parse_filter(&line).unwrap_or_else(|e| panic!("{line:?}:\n{}", e.render(&line)));
        let printed = expr.to_string();
        let reparsed = parse_filter(&printed)
            .unwrap_or_else(|e| panic!("{line:?} printed as {printed:?}: {}", e.render(&printed)));
        prop_assert_eq!(reparsed.to_string(), printed.clone());
        let (r, empty) = (record(), Record::new());
        prop_assert_eq!(reparsed.eval(&r), expr.eval(&r), "{} vs {}", line, printed);
        prop_assert_eq!(reparsed.eval(&empty), expr.eval(&empty), "{} vs {}", line, printed);
        // Inside a pipeline, the `where` stage's span gives the same filter.
        let full = format!("ls | where {line} | count");
        let pipeline = parse_pipeline(&full).unwrap();
        let span = pipeline.stages[1].args_span().unwrap();
        prop_assert_eq!(parse_filter_in(&full, span).unwrap().to_string(), printed);
    }

    #[test]
    fn sizes_display_and_compare_consistently(a in any::<u64>(), b in any::<u64>()) {
        let (x, y) = (Value::Size(a), Value::Size(b));
        prop_assert_eq!(x.compare(&y), Some(a.cmp(&b)));
        prop_assert!(!x.display().is_empty());
        let expr = parse_filter(&format!("mem >= {a}")).unwrap();
        let mut r = Record::new();
        r.insert("mem", Value::Size(b));
        prop_assert_eq!(expr.eval(&r), b >= a);
    }
}
