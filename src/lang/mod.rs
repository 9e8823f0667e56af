//! lang — the command language: lexer, parser, values, filters, record operations and formats.
//!
//! Pure: no IO, no async, no terminal, and no dependency on the rest of the crate (not even
//! `crate::error`). Errors are [`ParseError`] (with a span and a caret renderer) and
//! [`OpError`]; the command layer turns them into the user-facing error.
//!
//! ```text
//! error.rs   Span, ParseError and its caret rendering
//! lexer.rs   line → words / pipes / comments with byte spans (POSIX-like quoting)
//! parser.rs  tokens → Pipeline { stages }, and the flag / key=value / positional split
//! units.rs   size, duration, time and boolean literals and their human display
//! value.rs   Value, Record, cross-type comparison, JSON in and out
//! filter.rs  the `where` expression language: parse once, evaluate per record
//! ops.rs     select, sort-by, first, last, count, get, uniq, group-by
//! format.rs  to json | yaml | csv | md
//! ```

mod error;
mod filter;
mod format;
mod lexer;
mod ops;
mod parser;
mod units;
mod value;

pub use error::{ParseError, Span};
pub use filter::{CmpOp, Expr, parse_filter, parse_filter_in};
pub use format::{FormatError, to_csv, to_json, to_md, to_yaml};
pub use lexer::{Token, Word, lex, lex_partial};
pub use ops::{OpError, count, filter, first, get, group_by, last, select, sort_by, uniq};
pub use parser::{Args, Flag, Pair, Pipeline, Stage, parse_pipeline, split_args};
pub use units::{
    format_duration, format_size, format_time, parse_bool, parse_duration, parse_size, parse_time,
};
pub use value::{Record, Value, pve_field_kind};
