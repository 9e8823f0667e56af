//! The filter grammar: text into tokens into an [`Expr`].
//!
//! Owns the tokens of the filter language (words quoted as in the command line, operators with
//! or without spaces around them, `and or not has in` unless quoted, `( ) [ ] ,`), the
//! recursive-descent parser with its precedence (`not` > `and` > `or`), literal pre-typing and
//! regex compilation, and every filter syntax error with its span. Evaluation lives in the parent.

use regex::Regex;

use super::{CmpOp, Comparison, Expr, Literal, Rhs};
use crate::lang::error::{ParseError, Span};
use crate::lang::lexer::{Word, scan_word};

/// Parses a whole filter text, e.g. `status=running and tags has prod`.
pub fn parse_filter(text: &str) -> Result<Expr, ParseError> {
    parse_from(text, 0)
}

/// Parses the part `span` of `line` as a filter, with every span (in errors and in the
/// expression) relative to the whole line: pass a `where` stage's
/// [`crate::lang::Stage::args_span`], or `Span::at(stage.span.end)` when it has no arguments
/// (which gives the error "expected a filter" with a caret after `where`).
pub fn parse_filter_in(line: &str, span: Span) -> Result<Expr, ParseError> {
    match line.get(..span.end) {
        Some(src) if src.is_char_boundary(span.start) && span.start <= span.end => {
            parse_from(src, span.start)
        }
        _ => Err(ParseError::new(
            "the filter's span does not fit the line",
            span,
        )),
    }
}

/// Parses `src[start..]`; spans index `src`.
fn parse_from(src: &str, start: usize) -> Result<Expr, ParseError> {
    let tokens = tokenize(src, start, false)?;
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
        depth: 0,
        end: src.len(),
    };
    if tokens.is_empty() {
        return Err(
            ParseError::new("expected a filter, e.g. status=running", Span::at(start))
                .expected("a field name"),
        );
    }
    let expr = parser.or()?;
    match parser.peek() {
        None => Ok(expr),
        Some(tok) => Err(ParseError::new(
            format!(
                "unexpected {}: expected 'and', 'or' or the end of the filter",
                tok.describe()
            ),
            tok.span,
        )
        .expected("and, or")),
    }
}

/// What a part of a filter is, for highlighting and completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterPart {
    /// A field name (the left side of a comparison, or a bare field).
    Field,
    /// `= != < <= > >= =~ !~ has in`.
    Operator,
    /// `and or not`.
    Keyword,
    /// A literal on the right of an operator or inside `[...]`.
    Value,
    /// `( ) [ ] ,`.
    Punct,
}

/// Classifies the parts of the filter in `line[span]`, for a highlighter or a completer working
/// on a half-typed line. Never fails: unterminated quotes run to the end of the span, and a span
/// that does not fit the line gives nothing. Spans are relative to `line`.
pub fn classify_filter(line: &str, span: Span) -> Vec<(Span, FilterPart)> {
    let tokens = match line.get(..span.end) {
        Some(src) if src.is_char_boundary(span.start) && span.start <= span.end => {
            tokenize(src, span.start, true).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let mut expect_value = false;
    let mut in_list = false;
    let mut parts = Vec::with_capacity(tokens.len());
    for tok in tokens {
        let part = match tok.kind {
            Kind::Word(_) if expect_value || in_list => {
                expect_value = false;
                FilterPart::Value
            }
            Kind::Word(_) => FilterPart::Field,
            Kind::Op(op) => {
                expect_value = op != CmpOp::In;
                FilterPart::Operator
            }
            Kind::And | Kind::Or | Kind::Not => {
                expect_value = false;
                FilterPart::Keyword
            }
            Kind::LBracket => {
                in_list = true;
                FilterPart::Punct
            }
            Kind::RBracket => {
                in_list = false;
                FilterPart::Punct
            }
            Kind::LParen | Kind::RParen | Kind::Comma => FilterPart::Punct,
        };
        parts.push((tok.span, part));
    }
    parts
}

#[derive(Clone, Debug)]
enum Kind {
    Word(Word),
    Op(CmpOp),
    And,
    Or,
    Not,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

#[derive(Clone, Debug)]
struct Tok {
    kind: Kind,
    span: Span,
}

impl Tok {
    fn describe(&self) -> String {
        match &self.kind {
            Kind::Word(w) => format!("'{}'", w.text),
            Kind::Op(op) => format!("'{}'", op.as_str()),
            Kind::And => "'and'".into(),
            Kind::Or => "'or'".into(),
            Kind::Not => "'not'".into(),
            Kind::LParen => "'('".into(),
            Kind::RParen => "')'".into(),
            Kind::LBracket => "'['".into(),
            Kind::RBracket => "']'".into(),
            Kind::Comma => "','".into(),
        }
    }
}

const OPERATORS: [(&str, CmpOp); 9] = [
    ("==", CmpOp::Eq),
    ("=~", CmpOp::Match),
    ("!=", CmpOp::Ne),
    ("!~", CmpOp::NotMatch),
    ("<=", CmpOp::Le),
    (">=", CmpOp::Ge),
    ("=", CmpOp::Eq),
    ("<", CmpOp::Lt),
    (">", CmpOp::Gt),
];

fn is_delim(rest: &str) -> bool {
    rest.starts_with(|c: char| c.is_whitespace() || "()[],=<>".contains(c))
        || rest.starts_with("!=")
        || rest.starts_with("!~")
}

/// Splits `text[start..]` into filter tokens. In tolerant mode an unterminated quote runs to the
/// end instead of failing.
fn tokenize(text: &str, start: usize, tolerant: bool) -> Result<Vec<Tok>, ParseError> {
    let mut tokens = Vec::new();
    let mut pos = start;
    while let Some(c) = text[pos..].chars().next() {
        if c.is_whitespace() {
            pos += c.len_utf8();
            continue;
        }
        let punct = match c {
            '(' => Some(Kind::LParen),
            ')' => Some(Kind::RParen),
            '[' => Some(Kind::LBracket),
            ']' => Some(Kind::RBracket),
            ',' => Some(Kind::Comma),
            _ => None,
        };
        if let Some(kind) = punct {
            tokens.push(Tok {
                kind,
                span: Span::new(pos, pos + 1),
            });
            pos += 1;
            continue;
        }
        if let Some((sym, op)) = OPERATORS
            .iter()
            .find(|(sym, _)| text[pos..].starts_with(sym))
        {
            tokens.push(Tok {
                kind: Kind::Op(*op),
                span: Span::new(pos, pos + sym.len()),
            });
            pos += sym.len();
            continue;
        }
        let word = scan_word(text, pos, is_delim, tolerant)?;
        pos = word.span.end;
        let keyword = if word.quoted {
            None
        } else {
            keyword(&word.text)
        };
        let span = word.span;
        tokens.push(Tok {
            kind: keyword.unwrap_or(Kind::Word(word)),
            span,
        });
    }
    Ok(tokens)
}

fn keyword(text: &str) -> Option<Kind> {
    let is = |k: &str| text.eq_ignore_ascii_case(k);
    if is("and") {
        Some(Kind::And)
    } else if is("or") {
        Some(Kind::Or)
    } else if is("not") {
        Some(Kind::Not)
    } else if is("has") {
        Some(Kind::Op(CmpOp::Has))
    } else if is("in") {
        Some(Kind::Op(CmpOp::In))
    } else {
        None
    }
}

/// Nesting deeper than this (parentheses and `not`) is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    tokens: &'a [Tok],
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&Tok> {
        let tok = self.tokens.get(self.pos);
        self.pos += 1;
        tok
    }

    fn end_span(&self) -> Span {
        Span::at(self.end)
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some(Tok { kind: Kind::Or, .. })) {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        while matches!(
            self.peek(),
            Some(Tok {
                kind: Kind::And,
                ..
            })
        ) {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let span = self.peek().map_or(self.end_span(), |t| t.span);
            return Err(ParseError::new(
                format!("the filter nests deeper than {MAX_DEPTH} levels"),
                span,
            ));
        }
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Expr, ParseError> {
        let end = self.end_span();
        let Some(tok) = self.next().cloned() else {
            return Err(
                ParseError::new("expected a condition, e.g. status=running", end)
                    .expected("a field name"),
            );
        };
        match tok.kind {
            Kind::Not => Ok(Expr::Not(Box::new(self.unary()?))),
            Kind::LParen => {
                let inner = self.or()?;
                match self.next() {
                    Some(Tok {
                        kind: Kind::RParen, ..
                    }) => Ok(inner),
                    Some(other) => Err(ParseError::new(
                        format!(
                            "expected ')' to close the '(' but found {}",
                            other.describe()
                        ),
                        other.span,
                    )
                    .expected("')'")),
                    None => {
                        Err(ParseError::new("unclosed '(': add a ')'", tok.span).expected("')'"))
                    }
                }
            }
            Kind::Word(field) => self.comparison(field),
            _ => Err(ParseError::new(
                format!("expected a field name but found {}", tok.describe()),
                tok.span,
            )
            .expected("a field name")),
        }
    }

    fn comparison(&mut self, field: Word) -> Result<Expr, ParseError> {
        let op = match self.peek() {
            Some(Tok {
                kind: Kind::Op(op),
                span,
            }) => (*op, *span),
            None
            | Some(Tok {
                kind: Kind::And | Kind::Or | Kind::RParen,
                ..
            }) => {
                return Ok(Expr::Truthy {
                    field: field.text,
                    span: field.span,
                });
            }
            Some(other) => {
                return Err(ParseError::new(
                    format!(
                        "expected an operator after '{}' (= != < <= > >= =~ !~ has in) but found {}",
                        field.text,
                        other.describe()
                    ),
                    other.span,
                )
                .expected("an operator"));
            }
        };
        self.pos += 1;
        let (op, op_span) = op;
        let (rhs, rhs_span) = if op == CmpOp::In {
            self.list(op_span)?
        } else {
            let value = self.value(op, op_span)?;
            let span = value.span;
            let rhs = if matches!(op, CmpOp::Match | CmpOp::NotMatch) {
                Rhs::Regex(compile_regex(&value)?)
            } else {
                Rhs::Literal(Literal::new(value.text))
            };
            (rhs, span)
        };
        Ok(Expr::Compare(Comparison {
            field: field.text,
            field_span: field.span,
            op,
            span: field.span.to(rhs_span),
            rhs,
        }))
    }

    fn value(&mut self, op: CmpOp, op_span: Span) -> Result<Word, ParseError> {
        match self.peek() {
            Some(Tok {
                kind: Kind::Word(w),
                ..
            }) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(
                ParseError::new(format!("expected a value after '{}'", op.as_str()), op_span)
                    .expected("a value"),
            ),
        }
    }

    /// `[a, b, c]` (commas optional) after `in`.
    fn list(&mut self, op_span: Span) -> Result<(Rhs, Span), ParseError> {
        let open = match self.next() {
            Some(Tok {
                kind: Kind::LBracket,
                span,
            }) => *span,
            _ => {
                return Err(ParseError::new(
                    "expected a list after 'in', e.g. node in [pve1,pve2]",
                    op_span,
                )
                .expected("'['"));
            }
        };
        let mut items = Vec::new();
        loop {
            match self.next().cloned() {
                Some(Tok {
                    kind: Kind::RBracket,
                    span,
                }) => {
                    return Ok((Rhs::List(items), open.to(span)));
                }
                Some(Tok {
                    kind: Kind::Comma, ..
                }) => {}
                Some(Tok {
                    kind: Kind::Word(w),
                    ..
                }) => items.push(Literal::new(w.text)),
                Some(other) => {
                    return Err(ParseError::new(
                        format!("expected a list item or ']' but found {}", other.describe()),
                        other.span,
                    )
                    .expected("']'"));
                }
                None => {
                    return Err(ParseError::new("unclosed '[': add a ']'", open).expected("']'"));
                }
            }
        }
    }
}

/// Regexes are limited in size so a pasted monster cannot eat memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn compile_regex(word: &Word) -> Result<Regex, ParseError> {
    regex::RegexBuilder::new(&word.text)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let detail = match &e {
                regex::Error::Syntax(text) => text
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("syntax error")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_string(),
                regex::Error::CompiledTooBig(_) => "the regex is too large".to_string(),
                other => other.to_string(),
            };
            ParseError::new(format!("invalid regex: {detail}"), word.span).expected("a regex")
        })
}
