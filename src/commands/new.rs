//! Creating guests: `new` (a VM cloned from a cloud-init template, asked for by the wizard or
//! given as flags), `new --iso` (an empty VM booting an installer ISO), `new NAME --lxc` (a
//! container from a template archive, from flags), and `new-template` (a cloud-init template
//! from a cloud image URL).
//!
//! These commands only translate arguments: the wizard, the plan and the provisioning live in
//! `crate::wizard`. `new` with no NAME on a terminal runs the interactive wizard; with a NAME it
//! asks nothing and takes the flags, the profile and the config's defaults, with the same checks.

use super::{Arg, ArgKind, Call, Category, Command, Example, Output, Signature, flag_text};
use crate::error::{Error, Result};
use crate::lang::{Record, Value};
use crate::wizard::DialoguerPrompter;
use crate::wizard::engine::{Answers, DefaultsOnly};
use crate::wizard::iso::{self as iso_flow, IsoOutcome};
use crate::wizard::lxc::{self as lxc_flow, LxcArgs};
use crate::wizard::new::{self as flow, NewOptions, NewOutcome};
use crate::wizard::provision::{BuildOptions, Built};
use crate::wizard::template::{self as template_flow, TemplateArgs};

const RESULT_COLUMNS: &[&str] = &["vmid", "name", "node", "status", "ip", "ssh"];
const PLAN_COLUMNS: &[&str] = &[
    "vmid",
    "name",
    "node",
    "template",
    "cores",
    "memory",
    "disk",
    "ipconfig0",
    "tags",
];

pub static NEW: Command = Command {
    sig: Signature {
        name: "new",
        category: Category::Create,
        about: "Create a VM from a cloud-init template (or, with --lxc, a container from a template archive): the wizard asks (no NAME, on a terminal), or flags say (with NAME). Shows the plan, builds it, waits for its IP address, and removes what it made if a step fails.",
        args: &[
            Arg::opt(
                "name",
                ArgKind::Text,
                "the new VM's name; given, nothing is asked",
            ),
            Arg::flag(
                "--profile",
                ArgKind::Profile,
                "a profile: webserver, development, monitoring, media-server, or one of the config's (prefills sizes, tags, template)",
            ),
            Arg::flag(
                "--template",
                ArgKind::Template,
                "the template to clone, by name or VMID",
            ),
            Arg::flag("--cores", ArgKind::Count, "cores per socket"),
            Arg::flag("--memory", ArgKind::Text, "memory, such as 4G"),
            Arg::flag(
                "--disk",
                ArgKind::Text,
                "boot disk size, such as 32G (disks only grow)",
            ),
            Arg::flag(
                "--node",
                ArgKind::Node,
                "the node (default: the one with the most free memory that can hold the template's disk)",
            ),
            Arg::flag(
                "--ip",
                ArgKind::Text,
                "a static address in CIDR notation (default: DHCP)",
            ),
            Arg::flag("--gw", ArgKind::Text, "the gateway for --ip"),
            Arg::flag("--nameserver", ArgKind::Text, "name servers for cloud-init"),
            Arg::flag("--user", ArgKind::Text, "the cloud-init user"),
            Arg::flag(
                "--ssh-keys",
                ArgKind::Text,
                "a file of SSH public keys, such as ~/.ssh/authorized_keys (default: the config's cloudinit.ssh_keys)",
            ),
            Arg::flag(
                "--vmid",
                ArgKind::Count,
                "use this VMID (inside vmid_ranges.vm)",
            ),
            Arg::switch("--no-start", "leave the VM stopped"),
            Arg::switch(
                "--dry-run",
                "resolve everything and show the plan; change nothing",
            ),
            Arg::switch(
                "--iso",
                "an empty VM that boots an installer ISO (asks for the ISO, or give --image)",
            ),
            Arg::flag(
                "--image",
                ArgKind::Text,
                "with --iso: the ISO, by file name or volid",
            ),
            Arg::switch(
                "--lxc",
                "a container from a template archive (the wizard asks without NAME; --template picks the archive, default debian-12-standard)",
            ),
            Arg::flag(
                "--storage",
                ArgKind::Text,
                "with --lxc: the storage for the root disk (default: the config's, else local-lvm)",
            ),
            Arg::switch(
                "--privileged",
                "with --lxc: a privileged container (default: unprivileged)",
            ),
            Arg::flag(
                "--if-exists",
                ArgKind::Choice(&["fail", "return"]),
                "when a guest of that name exists: fail (default), or return it as it is (an idempotent create)",
            ),
        ],
        action: None,
        fields: &["vmid", "name", "node", "status", "ip", "ssh", "existed"],
        examples: &[
            Example {
                line: "new web03 --profile webserver --template debian-12-cloud --dry-run",
                about: "the plan for a web server, without building it",
            },
            Example {
                line: "new web04 --template debian-12-cloud --ip 10.0.5.20/24 --gw 10.0.5.1",
                about: "a VM with a static address, built at once",
            },
            Example {
                line: "new ct01 --lxc --template debian-12-standard --cores 2 --memory 1G --disk 8G",
                about: "an unprivileged container from a template archive, started, with its address",
            },
            Example {
                line: "new web01 --profile webserver --if-exists return",
                about: "web01 exists: it is returned, nothing is created",
            },
            Example {
                line: "new",
                about: "the interactive wizard (on a terminal)",
            },
        ],
    },
    run: |ctx, call| Box::pin(run_new(ctx, call)),
};

pub static NEW_TEMPLATE: Command = Command {
    sig: Signature {
        name: "new-template",
        category: Category::Create,
        about: "Make a cloud-init template from a cloud image URL: download it to a storage that takes imported images, create a VM with the disk imported from it, a cloud-init drive and a serial console, convert it to a template. Removes what it made if a step fails.",
        args: &[
            Arg::pos(
                "url",
                ArgKind::Text,
                "the cloud image URL (.qcow2, .img, .raw, .vmdk)",
            ),
            Arg::opt(
                "name",
                ArgKind::Text,
                "the template's name (default: from the file name)",
            ),
            Arg::flag(
                "--storage",
                ArgKind::Text,
                "the storage for the imported disk (default: the config's, else local-lvm)",
            ),
            Arg::flag(
                "--node",
                ArgKind::Node,
                "the node (default: the one with the most free memory)",
            ),
            Arg::flag(
                "--vmid",
                ArgKind::Count,
                "use this VMID (inside vmid_ranges.vm)",
            ),
            Arg::switch(
                "--dry-run",
                "resolve everything and show the plan; change nothing",
            ),
        ],
        action: None,
        fields: &["vmid", "name", "node", "template"],
        examples: &[
            Example {
                line: "new-template https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2 debian-12-gc --dry-run",
                about: "the plan: download, create with the imported disk, convert",
            },
            Example {
                line: "new-template https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img ubuntu-noble-cloud --node pve2",
                about: "build an Ubuntu template on pve2",
            },
        ],
    },
    run: |ctx, call| Box::pin(run_new_template(ctx, call)),
};

async fn run_new_template(ctx: &mut super::Ctx, call: Call) -> Result<Output> {
    let mut pos = call.args.positionals.iter().map(|w| w.text.clone());
    let args = TemplateArgs {
        url: pos.next().ok_or_else(|| {
            Error::usage("new-template needs the image URL").hinted(
                "new-template https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2",
            )
        })?,
        name: pos.next(),
        storage: flag_text(&call, "storage"),
        node: flag_text(&call, "node"),
        vmid: parse_vmid(&call)?,
    };
    if !call.args.has_flag("dry-run") {
        ctx.staging.check_creation_gate("creating a template")?;
    }
    let config = ctx.config.clone();
    let plan = template_flow::resolve(ctx, &config, &args).await?;
    for line in plan.preview().lines() {
        ctx.note(line);
    }
    if call.args.has_flag("dry-run") {
        return Ok(Output::value(plan.to_value()));
    }
    template_flow::build(ctx, &plan, &BuildOptions::default()).await?;
    let mut r = Record::new();
    r.insert("vmid", Value::Int(i64::from(plan.vmid)));
    r.insert("name", Value::String(plan.name.clone()));
    r.insert("node", Value::String(plan.node.clone()));
    r.insert("template", Value::Bool(true));
    r.insert("image", Value::String(plan.image_volid()));
    Ok(Output::value(Value::Record(r)))
}

/// The answers the flags give, keyed like `prompts/new.yaml`.
fn given_answers(call: &Call) -> Answers {
    let mut given = Answers::new();
    if let Some(name) = call.args.positionals.first() {
        given.insert("name".into(), name.text.clone());
    }
    for (key, flag) in flow::FLAGS {
        if let Some(flag) = flag.strip_prefix("--")
            && let Some(v) = flag_text(call, flag)
        {
            given.insert((*key).to_string(), v);
        }
    }
    if given.contains_key("ip") {
        given.insert("network".into(), "static".into());
    }
    if call.args.has_flag("no-start") {
        given.insert("start".into(), "no".into());
    }
    given
}

async fn run_new(ctx: &mut super::Ctx, call: Call) -> Result<Output> {
    if let Some(existing) = if_exists(ctx, &call).await? {
        return Ok(existing);
    }
    if !call.args.has_flag("dry-run") {
        ctx.staging.check_creation_gate("creating a guest")?;
    }
    if call.args.has_flag("lxc") {
        return run_lxc(ctx, &call).await;
    }
    for f in ["storage", "privileged"] {
        if call.args.has_flag(f) {
            return Err(Error::usage(format!("--{f} goes with --lxc"))
                .hinted("new ct01 --lxc --storage local-lvm"));
        }
    }
    if call.args.has_flag("gw") && !call.args.has_flag("ip") {
        return Err(
            Error::usage("--gw needs --ip").hinted("new web03 --ip 10.0.5.20/24 --gw 10.0.5.1")
        );
    }
    let vmid = parse_vmid(&call)?;
    let config = ctx.config.clone();
    if let Some(p) = flag_text(&call, "profile") {
        config.profile(&p)?;
    }
    let iso = call.args.has_flag("iso");
    if iso {
        for f in ["template", "ip", "gw", "nameserver", "user", "ssh-keys"] {
            if call.args.has_flag(f) {
                return Err(Error::usage(format!("--{f} does not apply to new --iso"))
                    .hinted("an ISO VM is set up by its installer, not by cloud-init"));
            }
        }
    } else if call.args.has_flag("image") {
        return Err(Error::usage("--image goes with --iso")
            .hinted("new inst01 --iso --image debian-12.9.0-amd64-netinst.iso"));
    }
    let spec = if iso {
        flow::load_iso_spec()?
    } else {
        flow::load_spec()?
    };
    let given = given_answers(&call);
    let interactive = call.args.positionals.is_empty();
    let mut opts = NewOptions {
        vmid,
        dry_run: call.args.has_flag("dry-run"),
        confirm: interactive,
        ..NewOptions::default()
    };
    let flag_for = |prompt: &str| flow::flag_for_prompt(&spec, prompt);
    let mut defaults = DefaultsOnly {
        flag_for: &flag_for,
    };
    let mut terminal;
    let prompter: &mut dyn crate::wizard::Prompter = if interactive {
        terminal = DialoguerPrompter::if_terminal().ok_or_else(|| {
            Error::usage("new without a NAME runs the wizard, which needs a terminal")
                .hinted("in scripts give the name and flags: new web03 --profile webserver --template debian-12-cloud")
        })?;
        &mut terminal
    } else {
        opts.confirm = false;
        &mut defaults
    };
    if iso {
        let outcome = iso_flow::run(ctx, &spec, &config, prompter, &given, &opts).await?;
        return Ok(match outcome {
            IsoOutcome::Planned(plan) => Output::value(plan.to_value()),
            IsoOutcome::Built(plan, built) => {
                let mut r = Record::new();
                r.insert("vmid", Value::Int(i64::from(built.vmid)));
                r.insert("name", Value::String(built.name.clone()));
                r.insert("node", Value::String(built.node.clone()));
                let status = if built.started { "running" } else { "stopped" };
                r.insert("status", Value::String(status.into()));
                r.insert("iso", Value::String(plan.iso));
                Output::value(Value::Record(r))
            }
        });
    }
    let outcome = flow::run(ctx, &spec, &config, prompter, &given, &opts).await?;
    Ok(match outcome {
        NewOutcome::Planned(plan) => Output::value(plan.to_value()).with_columns(PLAN_COLUMNS),
        NewOutcome::Built(_, built) => {
            if let Some(ssh) = built.ssh() {
                ctx.note(&format!("{} is up: {ssh}", built.name));
            }
            built_output(&built)
        }
    })
}

/// `--if-exists return`: a guest of that name (of the kind asked for) is returned as it is,
/// with `existed: true`, and nothing is created. `fail` (the default) leaves the check to the
/// wizard, which refuses the name.
async fn if_exists(ctx: &mut super::Ctx, call: &Call) -> Result<Option<Output>> {
    let mode = flag_text(call, "if-exists");
    match mode.as_deref() {
        None | Some("fail") => return Ok(None),
        Some("return") => {}
        Some(other) => {
            return Err(
                Error::usage(format!("--if-exists takes fail or return, got '{other}'"))
                    .with_param("if-exists", "expected fail or return"),
            );
        }
    }
    let Some(name) = call.args.positionals.first().map(|w| w.text.clone()) else {
        return Err(
            Error::usage("--if-exists return needs the NAME to look for")
                .hinted("new web03 --profile webserver --if-exists return"),
        );
    };
    let inv = ctx.refresh().await?;
    let Some(g) = inv.guests().iter().find(|g| g.name == name).cloned() else {
        return Ok(None);
    };
    let want = if call.args.has_flag("lxc") {
        crate::api::GuestKind::Lxc
    } else {
        crate::api::GuestKind::Qemu
    };
    if g.kind != want || g.template {
        let what = if g.template {
            "a template"
        } else if g.kind == crate::api::GuestKind::Lxc {
            "a container"
        } else {
            "a VM"
        };
        return Err(Error::usage(format!(
            "{} exists but is {what}, not what `new` was asked for; nothing was created",
            g.label()
        ))
        .hinted("choose another name"));
    }
    ctx.note(&format!(
        "{} exists on {}: returned as it is (--if-exists return); nothing was created or changed",
        g.label(),
        g.node
    ));
    let ip = super::guest_ip::reach_address(ctx, &g).await.ok();
    let mut r = Record::new();
    r.insert("vmid", Value::Int(i64::from(g.vmid)));
    r.insert("name", Value::String(g.name.clone()));
    r.insert("node", Value::String(g.node.clone()));
    r.insert("status", Value::String(g.status.clone()));
    r.insert("ip", ip.map_or(Value::Null, Value::String));
    r.insert("ssh", Value::Null);
    r.insert("existed", Value::Bool(true));
    Ok(Some(
        Output::value(Value::Record(r)).with_columns(RESULT_COLUMNS),
    ))
}

fn parse_vmid(call: &Call) -> Result<Option<u32>> {
    flag_text(call, "vmid")
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| Error::usage(format!("--vmid must be a number, got '{v}'")))
        })
        .transpose()
}

/// `new NAME --lxc ...`: a container from a template archive, from flags only.
async fn run_lxc(ctx: &mut super::Ctx, call: &Call) -> Result<Output> {
    for f in ["iso", "image", "profile", "user"] {
        if call.args.has_flag(f) {
            return Err(Error::usage(format!("--{f} does not apply to new --lxc"))
                .hinted("new ct01 --lxc --template debian-12-standard --cores 2 --memory 1G"));
        }
    }
    let config = ctx.config.clone();
    let Some(name) = call.args.positionals.first() else {
        let mut terminal = DialoguerPrompter::if_terminal().ok_or_else(|| {
            Error::usage("new --lxc without a NAME runs the wizard, which needs a terminal").hinted(
                "in scripts give the name and flags: new ct01 --lxc --template debian-12-standard",
            )
        })?;
        let spec = lxc_flow::load_spec()?;
        let dry_run = call.args.has_flag("dry-run");
        let opts = BuildOptions::default();
        return Ok(
            match lxc_flow::run_wizard(ctx, &spec, &config, &mut terminal, dry_run, &opts).await? {
                lxc_flow::LxcOutcome::Planned(plan) => Output::value(plan.to_value()),
                lxc_flow::LxcOutcome::Built(_, built) => built_output(&built),
            },
        );
    };
    let args = LxcArgs {
        name: name.text.clone(),
        template: flag_text(call, "template"),
        cores: flag_text(call, "cores"),
        memory: flag_text(call, "memory"),
        disk: flag_text(call, "disk"),
        node: flag_text(call, "node"),
        storage: flag_text(call, "storage"),
        ip: flag_text(call, "ip"),
        gw: flag_text(call, "gw"),
        nameserver: flag_text(call, "nameserver"),
        ssh_keys: flag_text(call, "ssh-keys"),
        vmid: parse_vmid(call)?,
        privileged: call.args.has_flag("privileged"),
        start: !call.args.has_flag("no-start"),
    };
    let plan = lxc_flow::resolve(ctx, &config, &args).await?;
    for line in plan.preview().lines() {
        ctx.note(line);
    }
    if call.args.has_flag("dry-run") {
        return Ok(Output::value(plan.to_value()));
    }
    let built = lxc_flow::build(ctx, &plan, &BuildOptions::default()).await?;
    if let Some(ssh) = built.ssh() {
        ctx.note(&format!("{} is up: {ssh}", built.name));
    }
    Ok(built_output(&built))
}

fn built_output(built: &Built) -> Output {
    let mut r = Record::new();
    r.insert("vmid", Value::Int(i64::from(built.vmid)));
    r.insert("name", Value::String(built.name.clone()));
    r.insert("node", Value::String(built.node.clone()));
    let status = if built.started { "running" } else { "stopped" };
    r.insert("status", Value::String(status.into()));
    r.insert("ip", built.ip.clone().map_or(Value::Null, Value::String));
    r.insert("ssh", built.ssh().map_or(Value::Null, Value::String));
    r.insert("existed", Value::Bool(false));
    Output::value(Value::Record(r)).with_columns(RESULT_COLUMNS)
}
