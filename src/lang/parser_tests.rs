use super::*;

/// Renders a pipeline as `name arg arg | name ...` with the stage spans.
fn show(p: &Pipeline) -> String {
    let stages: Vec<String> = p
        .stages
        .iter()
        .map(|s| {
            let words: Vec<&str> = s.words.iter().map(|w| w.text.as_str()).collect();
            format!("[{}]@{}..{}", words.join(" "), s.span.start, s.span.end)
        })
        .collect();
    stages.join(" | ")
}

fn check(line: &str, expected: &str) {
    let p = parse_pipeline(line).unwrap_or_else(|e| panic!("{line:?}: {}", e.render(line)));
    assert_eq!(show(&p), expected, "line {line:?}");
}

fn check_err(line: &str, rendered: &str, incomplete: bool) {
    let err = parse_pipeline(line).expect_err(line);
    assert_eq!(err.render(line), rendered, "line {line:?}");
    assert_eq!(err.incomplete, incomplete, "incomplete for {line:?}");
}

#[test]
fn pipelines() {
    check("", "");
    check("# only a comment", "");
    check("ls", "[ls]@0..2");
    check("ls | count", "[ls]@0..2 | [count]@5..10");
    check(
        "ls|where 'a|b'|first 3",
        "[ls]@0..2 | [where a|b]@3..14 | [first 3]@15..22",
    );
    check("ls | where x # note | y", "[ls]@0..2 | [where x]@5..12");
}

#[test]
fn stage_accessors() {
    let p = parse_pipeline("ls | where mem > 4G").unwrap();
    let stage = &p.stages[1];
    assert_eq!(stage.name(), "where");
    assert_eq!(stage.name_span(), Span::new(5, 10));
    assert_eq!(stage.args().len(), 3);
    assert_eq!(stage.args_span(), Some(Span::new(11, 19)));
    assert_eq!(p.stages[0].args_span(), None);
    assert_eq!(p.span, Span::new(0, 19));
}

#[test]
fn empty_stages_are_errors_with_a_caret() {
    check_err("| ls", "| ls\n^ expected a command before '|'", false);
    check_err(
        "ls | | x",
        "ls | | x\n     ^ empty stage: expected a command between the two '|'",
        false,
    );
    check_err("ls |", "ls |\n   ^ expected a command after '|'", true);
    check_err(
        "ls | # c",
        "ls | # c\n   ^ expected a command after '|'",
        true,
    );
    check_err(
        "ls 'x",
        "ls 'x\n   ^^ unterminated single quote: add a closing '",
        true,
    );
}

/// Renders split arguments: positionals, then `--flag[=value]`, then `key=value`.
fn show_args(args: &Args) -> String {
    let mut out: Vec<String> = args
        .positionals
        .iter()
        .map(|w| format!("<{}>", w.text))
        .collect();
    for f in &args.flags {
        let dashes = if f.long { "--" } else { "-" };
        match &f.value {
            Some(v) => out.push(format!("{dashes}{}={}", f.name, v.text)),
            None => out.push(format!("{dashes}{}", f.name)),
        }
    }
    for p in &args.pairs {
        out.push(format!("{}:={}", p.key, p.value.text));
    }
    out.join(" ")
}

fn check_args(line: &str, expected: &str) {
    let p = parse_pipeline(line).unwrap();
    let args = split_args(p.stages[0].args(), &["limit", "o", "n"]).unwrap();
    assert_eq!(show_args(&args), expected, "line {line:?}");
}

#[test]
fn argument_splitting() {
    check_args("x", "");
    check_args("x a b", "<a> <b>");
    check_args("x --reverse", "--reverse");
    check_args("x --limit 5 a", "<a> --limit=5");
    check_args("x --limit=5", "--limit=5");
    check_args("x -o json", "-o=json");
    check_args("x -r -5 -1.5 -", "<-5> <-1.5> <-> -r");
    check_args("x -- --reverse", "<--reverse>");
    check_args("x '--reverse' \\-r", "<--reverse> <-r>");
    check_args("x name=web01 memory=2048", "name:=web01 memory:=2048");
    check_args(
        "x name='web 01' 'a=b' =x 1=2",
        "<a=b> <=x> <1=2> name:=web 01",
    );
    check_args("x net0=virtio,bridge=vmbr0", "net0:=virtio,bridge=vmbr0");
    check_args("x --limit '5 6'", "--limit=5 6");
    check_args("x --limit -5", "--limit=-5");
    check_args("x --limit '-r'", "--limit=-r");
    check_args("x -o=json", "-o=json");
}

#[test]
fn argument_spans() {
    let line = "x --limit=5 name='a b'";
    let p = parse_pipeline(line).unwrap();
    let args = split_args(p.stages[0].args(), &["limit"]).unwrap();
    let limit = args.flag("limit").unwrap();
    assert_eq!(limit.span, Span::new(2, 11));
    assert_eq!(limit.value.as_ref().unwrap().span, Span::new(10, 11));
    let pair = args.pair("name").unwrap();
    assert_eq!(pair.key_span, Span::new(12, 16));
    assert_eq!(pair.value.span, Span::new(17, 22));
    assert!(pair.value.quoted);
}

#[test]
fn argument_errors() {
    let err_of = |line: &str| {
        let p = parse_pipeline(line).unwrap();
        split_args(p.stages[0].args(), &["limit"])
            .unwrap_err()
            .render(line)
    };
    assert_eq!(
        err_of("x --limit"),
        "x --limit\n         ^ flag '--limit' needs a value"
    );
    assert_eq!(
        err_of("x --reverse=1"),
        "x --reverse=1\n  ^^^^^^^^^^^ flag '--reverse' takes no value"
    );
}

#[test]
fn statements_split_at_semicolons_outside_quotes_and_words() {
    let texts = |line: &str| -> Vec<String> {
        crate::lang::statements(line)
            .into_iter()
            .map(|s| line[s.start..s.end].trim().to_string())
            .collect()
    };
    assert_eq!(texts("ls | count; nodes"), ["ls | count", "nodes"]);
    assert_eq!(texts("ls;  ;nodes;"), ["ls", "nodes"]);
    assert_eq!(texts("ls ;nodes"), ["ls", "nodes"]);
    assert_eq!(texts("set tags=prod;web"), ["set tags=prod;web"]);
    assert_eq!(
        texts("where name = 'a; b'; ls"),
        ["where name = 'a; b'", "ls"]
    );
    assert_eq!(texts("ls # a; b"), ["ls # a; b"]);
    assert_eq!(texts("ls 'open; x"), ["ls 'open; x"]);
    assert!(texts("").is_empty());
    // A pipeline holding a ';' is an error with a caret (each statement is parsed alone).
    assert!(parse_pipeline("ls; nodes").is_err());
}
