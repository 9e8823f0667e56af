//! Record commands: `where select sort-by first last count get uniq group-by to`.
//!
//! Thin wrappers over the pure operations in `lang`: they take the records piped in, check their
//! arguments, and return new records. They never touch the network.

use super::{Arg, ArgKind, Call, Category, Command, Example, Output, Signature};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{self, Value};

/// The records piped into a stage; a lone record counts as a list of one.
fn records(call: &mut Call, name: &str) -> Result<Vec<Value>> {
    match std::mem::take(&mut call.input) {
        Value::List(items) => Ok(items),
        Value::Null if call.first => {
            Err(Error::usage(format!("{name} works on records from a pipe"))
                .hinted(format!("for example: ls | {name} ...")))
        }
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![other]),
    }
}

fn op_err(e: lang::OpError) -> Error {
    Error::usage(e.message)
}

fn positional_texts(call: &Call) -> Vec<String> {
    call.args
        .positionals
        .iter()
        .map(|w| w.text.clone())
        .collect()
}

fn one_field(call: &Call, name: &str) -> Result<String> {
    let fields = positional_texts(call);
    match fields.as_slice() {
        [f] => Ok(f.clone()),
        [] => Err(Error::usage(format!("{name} needs a field name"))
            .hinted(format!("for example: ls | {name} node"))),
        _ => Err(Error::usage(format!(
            "{name} takes one field name, got {}",
            fields.len()
        ))),
    }
}

fn count_arg(call: &Call, name: &str) -> Result<usize> {
    let words = positional_texts(call);
    match words.as_slice() {
        [] => Ok(1),
        [n] => n.parse().map_err(|_| {
            Error::usage(format!("{name} needs a whole number, got '{n}'"))
                .hinted(format!("for example: ls | {name} 5"))
        }),
        _ => Err(Error::usage(format!("{name} takes one number"))),
    }
}

pub static WHERE: Command = Command {
    sig: Signature {
        name: "where",
        category: Category::Records,
        about: "Keep the records that match a filter (see `help where` for the language).",
        args: &[Arg::pos(
            "filter",
            ArgKind::Filter,
            "e.g. status=running and tags has prod",
        )],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "ls | where status=running",
                about: "running guests",
            },
            Example {
                line: "ls | where mem > 1G and tags has prod",
                about: "production guests using more than 1 GiB",
            },
            Example {
                line: "ls | where name =~ '^web' or node in [pve2,pve3]",
                about: "regex and set membership",
            },
        ],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "where")?;
            let Some(span) = call.args_span else {
                return Err(Error::usage("where needs a filter")
                    .hinted("for example: ls | where status=running"));
            };
            let expr = lang::parse_filter_in(&call.line, span).map_err(|e| {
                let mut err = super::engine::parse_error(&e, &call.line);
                err.kind = ErrorKind::Parse;
                err.hinted("`help where` describes the filter language")
            })?;
            Ok(
                Output::value(Value::List(lang::filter(items, &expr).map_err(op_err)?))
                    .with_empty("no records match"),
            )
        })
    },
};

pub static SELECT: Command = Command {
    sig: Signature {
        name: "select",
        category: Category::Records,
        about: "Keep only the named fields, in the order given.",
        args: &[Arg::pos("fields", ArgKind::Field, "field names")],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "ls | select vmid name node mem",
            about: "four columns",
        }],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "select")?;
            let fields = positional_texts(&call);
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            Ok(Output::value(Value::List(
                lang::select(items, &refs).map_err(op_err)?,
            )))
        })
    },
};

pub static SORT_BY: Command = Command {
    sig: Signature {
        name: "sort-by",
        category: Category::Records,
        about: "Sort records by a field (numbers as numbers, sizes as bytes; empty values last).",
        args: &[
            Arg::pos("field", ArgKind::Field, "the field to sort by"),
            Arg::switch("--reverse", "largest first"),
        ],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "ls | sort-by mem --reverse | first 5",
            about: "the five biggest guests by memory",
        }],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "sort-by")?;
            let field = one_field(&call, "sort-by")?;
            let reverse = call.args.has_flag("reverse");
            Ok(Output::value(Value::List(
                lang::sort_by(items, &field, reverse).map_err(op_err)?,
            )))
        })
    },
};

pub static FIRST: Command = Command {
    sig: Signature {
        name: "first",
        category: Category::Records,
        about: "Keep the first N records (default 1).",
        args: &[Arg::opt("n", ArgKind::Count, "how many")],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "ls | first 3",
            about: "the first three guests",
        }],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "first")?;
            let n = count_arg(&call, "first")?;
            Ok(Output::value(Value::List(lang::first(items, n))))
        })
    },
};

pub static LAST: Command = Command {
    sig: Signature {
        name: "last",
        category: Category::Records,
        about: "Keep the last N records (default 1).",
        args: &[Arg::opt("n", ArgKind::Count, "how many")],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "ls | last 2",
            about: "the last two guests",
        }],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "last")?;
            let n = count_arg(&call, "last")?;
            Ok(Output::value(Value::List(lang::last(items, n))))
        })
    },
};

pub static COUNT: Command = Command {
    sig: Signature {
        name: "count",
        category: Category::Records,
        about: "Count the records.",
        args: &[],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "ls | where status=stopped | count",
            about: "how many guests are stopped",
        }],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "count")?;
            Ok(Output::value(lang::count(&items)))
        })
    },
};

pub static GET: Command = Command {
    sig: Signature {
        name: "get",
        category: Category::Records,
        about: "In a pipe: one field's values. First in a line: GET an API path, as pvesh does.",
        args: &[
            Arg::pos(
                "field",
                ArgKind::Field,
                "a field name (in a pipe) or an API path (first)",
            ),
            Arg::opt("params", ArgKind::ApiParam, "k=v API parameters"),
        ],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "ls | where tags has web | get name",
                about: "names of the web guests",
            },
            Example {
                line: "get /cluster/resources type=node | select node status",
                about: "raw API access",
            },
        ],
    },
    run: |ctx, mut call| {
        Box::pin(async move {
            if call.first {
                let Some(path) = call.args.positionals.first().map(|w| w.text.clone()) else {
                    return Err(
                        Error::usage("get needs an API path here, or records from a pipe")
                            .hinted("for example: get /version, or ls | get name"),
                    );
                };
                let params: Vec<(String, String)> = call
                    .args
                    .pairs
                    .iter()
                    .map(|p| (p.key.clone(), p.value.text.clone()))
                    .collect();
                return Ok(Output::value(
                    super::session::get_path(ctx, &path, &params).await?,
                ));
            }
            let items = records(&mut call, "get")?;
            let field = one_field(&call, "get")?;
            Ok(Output::value(Value::List(
                lang::get(&items, &field).map_err(op_err)?,
            )))
        })
    },
};

pub static UNIQ: Command = Command {
    sig: Signature {
        name: "uniq",
        category: Category::Records,
        about: "Drop repeated records (or values), keeping the first.",
        args: &[],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "ls | get node | uniq",
            about: "the nodes that run guests",
        }],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "uniq")?;
            Ok(Output::value(Value::List(lang::uniq(items))))
        })
    },
};

pub static GROUP_BY: Command = Command {
    sig: Signature {
        name: "group-by",
        category: Category::Records,
        about: "Group records by a field: one record per value, with a count and the items.",
        args: &[Arg::pos("field", ArgKind::Field, "the field to group by")],
        action: None,
        fields: &[],
        examples: &[Example {
            line: "ls | group-by node | select node count",
            about: "guests per node",
        }],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "group-by")?;
            let field = one_field(&call, "group-by")?;
            let groups = lang::group_by(items, &field).map_err(op_err)?;
            Ok(Output::value(Value::List(groups)).with_columns(&[field.as_str(), "count"]))
        })
    },
};

pub static TO: Command = Command {
    sig: Signature {
        name: "to",
        category: Category::Records,
        about: "Write the records as json, yaml, csv, md (a Markdown table) or table.",
        args: &[Arg::pos(
            "format",
            ArgKind::Choice(&["json", "yaml", "csv", "md", "table"]),
            "the output format",
        )],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "ls | select vmid name | to json",
                about: "JSON for scripts",
            },
            Example {
                line: "nodes | to csv",
                about: "CSV for a spreadsheet",
            },
        ],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "to")?;
            let format = one_field(&call, "to")?;
            let text = match format.as_str() {
                "json" => lang::to_json(&items),
                "yaml" => lang::to_yaml(&items).map_err(|e| Error::internal(e.to_string()))?,
                "csv" => lang::to_csv(&items),
                "md" | "markdown" => lang::to_md(&items),
                "table" => crate::render::render_value(
                    &Value::List(items),
                    crate::render::Style::default(),
                    "no results",
                ),
                other => {
                    return Err(Error::usage(format!("unknown format '{other}'"))
                        .hinted("formats: json, yaml, csv, md, table"));
                }
            };
            Ok(Output::value(Value::String(text)).raw())
        })
    },
};
