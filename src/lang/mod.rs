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
//! fields.rs  field types per record kind (guest, node, config, snapshot, ...)
//! filter/    the `where` language: tree and evaluation (mod.rs), grammar and highlighting
//!            classes (parse.rs), printing back (display.rs)
//! ops.rs     select, sort-by, first, last, count, get, uniq, group-by
//! aggregate.rs  sum, avg, min, max over one field (also group-by's --sum FIELD ...)
//! format.rs  to json | yaml | csv | md
//! ```
//!
//! How the command layer drives it: parse the line, then let each stage's command read its
//! words; `where` re-reads its raw argument span with the filter grammar, so errors and spans
//! point into the line the user typed.
//!
//! ```
//! use pvesh_plus::lang::{Value, filter, first, parse_filter_in, parse_pipeline, sort_by};
//!
//! let line = "ls | where mem > 4G and tags has prod | sort-by name | first 1";
//! let pipeline = parse_pipeline(line)?;
//! let names: Vec<&str> = pipeline.stages.iter().map(|s| s.name()).collect();
//! assert_eq!(names, ["ls", "where", "sort-by", "first"]);
//!
//! let guests = Value::from_pve_json(&serde_json::json!([
//!     {"vmid": 101, "name": "web01", "mem": 8589934592u64, "tags": "prod;web"},
//!     {"vmid": 102, "name": "app01", "mem": 6442450944u64, "tags": "prod"},
//!     {"vmid": 103, "name": "ci01", "mem": 1073741824u64, "tags": "prod"},
//! ]));
//! let Value::List(items) = guests else { unreachable!() };
//! let span = pipeline.stages[1].args_span().ok_or("where needs a filter")?;
//! let expr = parse_filter_in(line, span)?;
//! let items = first(sort_by(filter(items, &expr)?, "name", false)?, 1);
//! assert_eq!(items[0].as_record().and_then(|r| r.get("vmid")), Some(&Value::Int(102)));
//!
//! let bad = "ls | where mem >";
//! let err = parse_filter_in(bad, parse_pipeline(bad)?.stages[1].args_span().ok_or("none")?);
//! assert_eq!(err.unwrap_err().render(bad), "ls | where mem >\n               ^ expected a value after '>'");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aggregate;
mod error;
pub mod fields;
mod filter;
mod format;
mod lexer;
mod ops;
mod parser;
mod units;
mod value;

pub use aggregate::{Aggregate, aggregate};
pub use error::{ParseError, Span};
pub use filter::{
    CmpOp, Comparison, Expr, FilterPart, classify_filter, parse_filter, parse_filter_in,
};
pub use format::{FormatError, to_csv, to_json, to_md, to_yaml};
pub use lexer::{Token, Word, lex, lex_partial, quote};
pub use ops::{
    OpError, count, did_you_mean, filter, first, get, group_by, group_by_with, last, select,
    sort_by, uniq,
};
pub use parser::{Args, Flag, Pair, Pipeline, Stage, parse_pipeline, split_args, statements};
pub use units::{
    format_duration, format_size, format_time, parse_bool, parse_duration, parse_percent,
    parse_size, parse_time,
};
pub use value::{Record, Value};
