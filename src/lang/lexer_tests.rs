use super::*;

/// Renders tokens compactly: `text@start..end` for words (with `'` suffix when quoted), `|@n`
/// for pipes and `#@start..end` for comments.
fn show(tokens: &[Token]) -> String {
    let parts: Vec<String> = tokens
        .iter()
        .map(|t| match t {
            Token::Word(w) => {
                let q = if w.quoted { "'" } else { "" };
                format!("{}{q}@{}..{}", w.text, w.span.start, w.span.end)
            }
            Token::Pipe(s) => format!("|@{}", s.start),
            Token::Comment(s) => format!("#@{}..{}", s.start, s.end),
            Token::Semi(s) => format!(";@{}", s.start),
        })
        .collect();
    parts.join(" ")
}

fn check(input: &str, expected: &str) {
    let tokens = lex(input).unwrap_or_else(|e| panic!("lex({input:?}) failed: {e}"));
    assert_eq!(show(&tokens), expected, "input {input:?}");
    // The tolerant lexer agrees on every valid line.
    assert_eq!(
        lex_partial(input),
        tokens,
        "lex_partial differs on {input:?}"
    );
}

fn check_err(input: &str, message_part: &str, span: (usize, usize), incomplete: bool) {
    let err = lex(input).expect_err(input);
    assert!(
        err.message.contains(message_part),
        "{input:?}: {}",
        err.message
    );
    assert_eq!((err.span.start, err.span.end), span, "span for {input:?}");
    assert_eq!(err.incomplete, incomplete, "incomplete for {input:?}");
}

#[test]
fn words_and_spans() {
    check("", "");
    check("   ", "");
    check("ls", "ls@0..2");
    check("  ls  -l ", "ls@2..4 -l@6..8");
    check("a\tb\nc", "a@0..1 b@2..3 c@4..5");
    check("ls|count", "ls@0..2 |@2 count@3..8");
    check(
        "ls | where x | count",
        "ls@0..2 |@3 where@5..10 x@11..12 |@13 count@15..20",
    );
    check("||", "|@0 |@1");
    check("é ü", "é@0..2 ü@3..5");
    check("$HOME *.txt ~", "$HOME@0..5 *.txt@6..11 ~@12..13");
}

#[test]
fn quotes_and_escapes() {
    check("'a b'", "a b'@0..5");
    check("\"a b\"", "a b'@0..5");
    check("'a|b' c", "a|b'@0..5 c@6..7");
    check("x'y'z", "xyz'@0..5");
    check("''", "'@0..2");
    check("'\\n'", "\\n'@0..4");
    check(r#""a\"b""#, "a\"b'@0..6");
    check(r#""a\\b""#, "a\\b'@0..6");
    check(r#""\$x""#, "$x'@0..5");
    check(r#""\q""#, "\\q'@0..4");
    check(r#""it's""#, "it's'@0..6");
    check(r#"'say "hi"'"#, "say \"hi\"'@0..10");
    check(r"a\ b", "a b'@0..4");
    check(r"\|", "|'@0..2");
    check(r"\#x", "#x'@0..3");
    check("a\\\nb", "ab'@0..4");
    check("a \\\n b", "a@0..1 b@5..6");
    check("\"a\\\nb\"", "ab'@0..6");
}

#[test]
fn comments() {
    check("# all", "#@0..5");
    check("ls # list | count", "ls@0..2 #@3..17");
    check("ls#x", "ls#x@0..4");
    check("ls '#x'", "ls@0..2 #x'@3..7");
    check("a # c\nb", "a@0..1 #@2..5 b@6..7");
}

#[test]
fn plain_prefix_tracks_the_unquoted_start() {
    let tokens = lex(r#"name='a=b' 'k=v' -x \-y"#).unwrap();
    let words: Vec<(&str, &str)> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some((w.text.as_str(), w.plain_text())),
            _ => None,
        })
        .collect();
    assert_eq!(
        words,
        [("name=a=b", "name="), ("k=v", ""), ("-x", "-x"), ("-y", "")]
    );
}

#[test]
fn errors() {
    check_err("ls 'abc", "unterminated single quote", (3, 7), true);
    check_err("ls \"abc", "unterminated double quote", (3, 7), true);
    check_err("ls \"a\\\"", "unterminated double quote", (3, 7), true);
    check_err("ls \\", "ends with a backslash", (3, 4), true);
    check_err("x 'a' 'b", "single quote", (6, 8), true);
}

#[test]
fn partial_lexing_is_tolerant() {
    let show_partial = |s: &str| show(&lex_partial(s));
    assert_eq!(show_partial("ls 'ab"), "ls@0..2 ab'@3..6");
    assert_eq!(show_partial("ls \"a b"), "ls@0..2 a b'@3..7");
    assert_eq!(show_partial("ls \\"), "ls@0..2 '@3..4");
    assert_eq!(
        show_partial("ls | where name = 'we"),
        "ls@0..2 |@3 where@5..10 name@11..15 =@16..17 we'@18..21"
    );
}

#[test]
fn quoting_for_reinsertion() {
    let cases: &[(&str, &str)] = &[
        ("web01", "web01"),
        ("web 01", "'web 01'"),
        ("", "''"),
        ("it's", "'it'\\''s'"),
        ("a|b", "'a|b'"),
        ("#x", "'#x'"),
        ("x=1", "'x=1'"),
        ("local-lvm", "local-lvm"),
        ("vm-100-disk-0", "vm-100-disk-0"),
    ];
    for (text, expected) in cases {
        let quoted = quote(text);
        assert_eq!(quoted, *expected, "quote({text:?})");
        let words: Vec<String> = lex(&quoted)
            .unwrap()
            .into_iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w.text),
                _ => None,
            })
            .collect();
        assert_eq!(words, [text.to_string()], "lexing {quoted:?}");
    }
}

#[test]
fn semicolons_at_word_boundaries_separate_pipelines() {
    check("ls; nodes", "ls@0..2 ;@2 nodes@4..9");
    check("ls ;nodes", "ls@0..2 ;@3 nodes@4..9");
    check("count;", "count@0..5 ;@5");
    check("tags=prod;web", "tags=prod;web@0..13");
    check("'a; b'", "a; b'@0..6");
    check("a\\; b", "a;'@0..3 b@4..5");
}
