//! Printing a filter back as text, in a canonical form that parses to the same expression.
//!
//! Owns only formatting: spaces around operators, single quotes where a word needs them, and
//! parentheses exactly where precedence requires. Staging uses it to say which filter chose a
//! set of guests; the property tests use it to check that parsing is stable.

use std::fmt;

use super::{Comparison, Expr, Literal, Rhs};
use crate::lang::lexer::quote;

/// Binding strength: `or` < `and` < `not` < a comparison.
fn precedence(expr: &Expr) -> u8 {
    match expr {
        Expr::Or(..) => 1,
        Expr::And(..) => 2,
        Expr::Not(_) => 3,
        Expr::Compare(_) | Expr::Truthy { .. } => 4,
    }
}

/// Writes `expr`, in parentheses when it binds less tightly than `min` requires.
fn write_child(f: &mut fmt::Formatter<'_>, expr: &Expr, min: u8) -> fmt::Result {
    if precedence(expr) < min {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

/// A word for the filter: quoted when it holds special characters or reads as a keyword.
fn word(text: &str) -> String {
    const KEYWORDS: [&str; 5] = ["and", "or", "not", "has", "in"];
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(text)) {
        format!("'{text}'")
    } else {
        quote(text).into_owned()
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Both operators are parsed left-associative, so a right operand of the same
            // strength needs parentheses to keep its grouping.
            Expr::Or(a, b) => {
                write_child(f, a, 1)?;
                f.write_str(" or ")?;
                write_child(f, b, 2)
            }
            Expr::And(a, b) => {
                write_child(f, a, 2)?;
                f.write_str(" and ")?;
                write_child(f, b, 3)
            }
            Expr::Not(e) => {
                f.write_str("not ")?;
                write_child(f, e, 3)
            }
            Expr::Truthy { field, .. } => f.write_str(&word(field)),
            Expr::Compare(c) => c.fmt(f),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", word(&self.field), self.op.as_str())?;
        match &self.rhs {
            Rhs::Literal(lit) => f.write_str(&literal(lit)),
            Rhs::Regex(re) => f.write_str(&word(re.as_str())),
            Rhs::List(items) => {
                let items: Vec<String> = items.iter().map(literal).collect();
                write!(f, "[{}]", items.join(", "))
            }
        }
    }
}

fn literal(lit: &Literal) -> String {
    word(&lit.text)
}

#[cfg(test)]
mod tests {
    use super::super::parse_filter;

    fn check(input: &str, expected: &str) {
        let printed = parse_filter(input).unwrap().to_string();
        assert_eq!(printed, expected, "input {input:?}");
        let again = parse_filter(&printed).unwrap().to_string();
        assert_eq!(again, printed, "reprinting {printed:?}");
    }

    #[test]
    fn canonical_forms() {
        check("status=running", "status = running");
        check("a=1 and b=2 or c=3", "a = 1 and b = 2 or c = 3");
        check("a=1 and (b=2 or c=3)", "a = 1 and (b = 2 or c = 3)");
        check("(a=1 or b=2) or c=3", "a = 1 or b = 2 or c = 3");
        check("a=1 or (b=2 or c=3)", "a = 1 or (b = 2 or c = 3)");
        check("not (a=1 and b=2)", "not (a = 1 and b = 2)");
        check("not not a", "not not a");
        check("name = 'web 01'", "name = 'web 01'");
        check("name = \"it's\"", "name = 'it'\\''s'");
        check("'and' = or_not", "'and' = or_not");
        check("x = 'in'", "x = 'in'");
        check("x = ''", "x = ''");
        check("name =~ '^web(0|1)$'", "name =~ '^web(0|1)$'");
        check("node in [pve1,'pve 2']", "node in [pve1, 'pve 2']");
        check("mem>4G", "mem > 4G");
        check("tags has prod", "tags has prod");
    }
}
