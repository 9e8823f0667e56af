//! Record commands: `where select sort-by first last count get uniq group-by to`, and the
//! aggregates `sum avg min max`.
//!
//! Thin wrappers over the pure operations in `lang`: they take the records piped in, check their
//! arguments, and return new records. They never touch the network.

use super::{Arg, ArgKind, Call, Category, Command, Example, Output, Signature};
use crate::error::{Error, ErrorKind, Result};
use crate::lang::{self, Aggregate, Value};

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

/// What `help group-by` adds below its examples.
pub const GROUP_BY_NOTES: &str = "\
Aggregates: --sum F, --avg F, --min F and --max F add the field `sum.F` (and
so on) to each group, between `count` and `items`, in the order given; repeat
a flag, or name several fields at once (`--sum maxmem,maxdisk`). They work as
the commands `sum avg min max` do: sizes stay sizes, durations durations,
numbers numbers; records lacking the field (or null there) are skipped.
`sum.maxmem` is a field name like any other: `select`, `where` and `sort-by`
take it.
";

/// The aggregates a `group-by` line asks for, in the order given: `(Sum, "maxmem")`.
fn group_aggregates(call: &Call) -> Vec<(Aggregate, String)> {
    let mut out = Vec::new();
    for flag in &call.args.flags {
        let Some(op) = Aggregate::from_name(&flag.name) else {
            continue;
        };
        let text = flag.value.as_ref().map(|w| w.text.as_str()).unwrap_or("");
        for field in text.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            out.push((op, field.to_string()));
        }
    }
    out
}

pub static GROUP_BY: Command = Command {
    sig: Signature {
        name: "group-by",
        category: Category::Records,
        about: "Group records by a field: one record per value, with a count, aggregates \
                (--sum FIELD ...) and the items.",
        args: &[
            Arg::pos("field", ArgKind::Field, "the field to group by"),
            Arg::flag(
                "--sum",
                ArgKind::Field,
                "adds sum.FIELD: the group's total of FIELD",
            ),
            Arg::flag(
                "--avg",
                ArgKind::Field,
                "adds avg.FIELD: the group's mean of FIELD",
            ),
            Arg::flag(
                "--min",
                ArgKind::Field,
                "adds min.FIELD: the group's smallest FIELD",
            ),
            Arg::flag(
                "--max",
                ArgKind::Field,
                "adds max.FIELD: the group's largest FIELD",
            ),
        ],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "ls | group-by node | select node count",
                about: "guests per node",
            },
            Example {
                line: "ls | group-by node --sum maxmem --avg cpu --max uptime",
                about: "memory, load and longest uptime per node",
            },
            Example {
                line: "ls | group-by type --sum maxmem,maxdisk | select type sum.maxmem sum.maxdisk",
                about: "two totals per guest type",
            },
            Example {
                line: "ls | group-by node --sum maxmem | where sum.maxmem > 40G | get node",
                about: "nodes whose guests are given more than 40 GiB",
            },
            Example {
                line: "ls | group-by node --sum maxmem | select node sum.maxmem | to json",
                about: "sizes as bytes in JSON",
            },
        ],
    },
    run: |_ctx, mut call| {
        Box::pin(async move {
            let items = records(&mut call, "group-by")?;
            let field = one_field(&call, "group-by")?;
            let aggregates = group_aggregates(&call);
            let groups = lang::group_by_with(items, &field, &aggregates).map_err(op_err)?;
            let mut columns = vec![field.clone(), "count".to_string()];
            for (op, f) in &aggregates {
                let name = op.field_name(f);
                if !columns.contains(&name) {
                    columns.push(name);
                }
            }
            let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
            Ok(Output::value(Value::List(groups)).with_columns(&refs))
        })
    },
};

/// Runs `sum avg min max FIELD` over the records piped in: one value out.
async fn aggregate_stage(mut call: Call, op: Aggregate) -> Result<Output> {
    let name = op.name();
    let items = records(&mut call, name)?;
    if call.args.positionals.is_empty() {
        return Err(Error::usage(format!("{name} needs a field name"))
            .hinted(format!("for example: ls | {name} maxmem")));
    }
    let field = one_field(&call, name)?;
    Ok(Output::value(
        lang::aggregate(&items, &field, op).map_err(op_err)?,
    ))
}

pub static SUM: Command = Command {
    sig: Signature {
        name: "sum",
        category: Category::Records,
        about: "Add up a field over the records: sizes stay sizes, durations durations; \
                empty values are skipped.",
        args: &[Arg::pos("field", ArgKind::Field, "a numeric field")],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "ls | sum maxmem",
                about: "memory given to all guests",
            },
            Example {
                line: "ls | where status=running | sum maxcpu",
                about: "cores of the running guests",
            },
            Example {
                line: "ls | sum mme",
                about: "a typo names the field it meant",
            },
        ],
    },
    run: |_ctx, call| Box::pin(aggregate_stage(call, Aggregate::Sum)),
};

pub static AVG: Command = Command {
    sig: Signature {
        name: "avg",
        category: Category::Records,
        about: "The mean of a field over the records (of sizes a size); empty values are skipped.",
        args: &[Arg::pos("field", ArgKind::Field, "a numeric field")],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "ls | avg maxmem",
                about: "memory per guest",
            },
            Example {
                line: "ls | where status=running | avg cpu",
                about: "the mean load of the running guests",
            },
        ],
    },
    run: |_ctx, call| Box::pin(aggregate_stage(call, Aggregate::Avg)),
};

pub static MIN: Command = Command {
    sig: Signature {
        name: "min",
        category: Category::Records,
        about: "The smallest value of a field (numbers, sizes, durations, times or strings).",
        args: &[Arg::pos("field", ArgKind::Field, "the field")],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "ls | where status=running | min uptime",
                about: "the most recently started guest's uptime",
            },
            Example {
                line: "ls | min name",
                about: "the first name in order",
            },
        ],
    },
    run: |_ctx, call| Box::pin(aggregate_stage(call, Aggregate::Min)),
};

pub static MAX: Command = Command {
    sig: Signature {
        name: "max",
        category: Category::Records,
        about: "The largest value of a field (numbers, sizes, durations, times or strings).",
        args: &[Arg::pos("field", ArgKind::Field, "the field")],
        action: None,
        fields: &[],
        examples: &[
            Example {
                line: "ls | max mem",
                about: "the most memory any guest uses",
            },
            Example {
                line: "nodes | max uptime",
                about: "the longest-running node",
            },
        ],
    },
    run: |_ctx, call| Box::pin(aggregate_stage(call, Aggregate::Max)),
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
