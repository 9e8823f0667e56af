//! Every command's help examples, run as tests with their results (DESIGN §7).
//!
//! For each command in the registry ([`commands::COMMANDS`]) and each of its examples, the
//! example's line runs in-process through [`commands::run_line`] against a fresh demo simulator
//! on the logical clock, after the command's setup lines ([`SETUP`]). What the line shows — its
//! notes (stderr in the CLI), its rendered output (a table 80 columns wide, no colour), its error
//! with hints, and its exit code — is compared to the insta snapshot `examples__CMD-I` under
//! `tests/it/snapshots/`. A changed output fails the test; so does a command that gains an
//! example without a snapshot, a snapshot whose example is gone, or a setup entry for a
//! command that no longer exists. Accept new output with `INSTA_UPDATE=always` (or
//! `cargo insta review`), then read every changed snapshot.
//!
//! Determinism: the simulator's logical clock makes UPIDs, task times and uptimes the same on
//! every run; the confirm window reads the server's clock. What still differs between runs is
//! replaced by [`redact`] before snapshotting (each replacement is documented there).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use pvesh_plus::commands::{self, Ctx};
use pvesh_plus::render::Style;

use crate::common::TestSim;

/// Lines run before each example of a command, so it shows the command doing its work rather
/// than failing (or saying "nothing") for want of state. Their lines are part of the snapshot,
/// their output is not; each must succeed.
const SETUP: &[(&str, &[&str])] = &[
    // Three staged stops, so `commit` (and `--parallel`, `--confirm`) has work to do.
    ("commit", &["ls | where tags has ci and type = qemu | stop"]),
    // A confirmed commit waiting for `confirm`.
    ("confirm", &["reboot web01", "commit --confirm 5m"]),
    // Config changes staged (a reduction stages) so `diff` has a before and after.
    ("diff", &["set memory=2G web01", "stop web02"]),
    // Three staged changes: `discard 2 3` drops two of them, `discard` all.
    (
        "discard",
        &["ls | where tags has ci and type = qemu | stop"],
    ),
    ("pending", &["stop web01", "set memory=2G web02"]),
    // An agent's request waiting for a person (its id is the same on every run: it derives
    // from the plan and the simulator's clock).
    ("approvals", &["stop web01", "commit --request-approval"]),
    ("approve", &["stop web01", "commit --request-approval"]),
    ("reject", &["stop web01", "commit --request-approval"]),
    // The pool `delete /pools poolid=staging` removes.
    (
        "delete",
        &["create /pools poolid=staging comment='for the rollout'"],
    ),
    // A paused VM to resume.
    ("resume", &["suspend web01", "commit"]),
    // A memory change pending until the next reboot, for `config web01 | get pending`.
    ("config", &["set memory=8G web01"]),
    // pve3 filled up (its stopped guests started), so `balance` has something to even out.
    (
        "balance",
        &["start dev-box", "start dev-win11", "start lab-k8s-03"],
    ),
    // Some task history (the demo cluster starts with none).
    (
        "tasks",
        &[
            "start dev-box",
            "tag add maintenance web01",
            "tag add staging web01",
        ],
    ),
];

/// Local files the examples name (`upload`): created, with this many bytes, before they run.
const FILES: &[(&str, usize)] = &[("/tmp/tools.iso", 1 << 20)];

/// Examples run on this many threads at once (each has its own simulator).
const WORKERS: usize = 4;

/// The table width of every snapshot.
const WIDTH: usize = 80;

/// One example to run: `(command, index, line)`.
type Job = (&'static str, usize, &'static str);

fn setup_of(cmd: &str) -> &'static [&'static str] {
    SETUP
        .iter()
        .find(|(name, _)| *name == cmd)
        .map_or(&[], |(_, lines)| *lines)
}

/// The snapshot name of example `i` (0-based) of `cmd`.
fn snapshot_name(cmd: &str, i: usize) -> String {
    format!("{cmd}-{i}")
}

#[test]
fn every_example_of_every_command_shows_its_result() {
    for (name, _) in SETUP {
        assert!(
            commands::find(name).is_some(),
            "SETUP names '{name}', which is no command"
        );
    }
    for (path, len) in FILES {
        std::fs::write(path, vec![0x5a; *len]).expect("an example's file");
    }
    let jobs: Vec<Job> = commands::COMMANDS
        .iter()
        .flat_map(|c| {
            c.sig
                .examples
                .iter()
                .enumerate()
                .map(|(i, e)| (c.sig.name, i, e.line))
        })
        .collect();
    let queue = Arc::new(Mutex::new(jobs.clone().into_iter()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let queue = queue.clone();
            let results = results.clone();
            std::thread::spawn(move || {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some((cmd, i, line)) = next else { break };
                    let text = run_example(setup_of(cmd), line);
                    results.lock().unwrap().push((snapshot_name(cmd, i), text));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("an example panicked");
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    results.sort();
    assert_eq!(results.len(), jobs.len());
    for (name, text) in &results {
        insta::assert_snapshot!(name.as_str(), text);
    }
    stale_snapshots_are_gone(&results);
}

/// A snapshot of an example that no longer exists fails the test (insta alone ignores it).
fn stale_snapshots_are_gone(results: &[(String, String)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots");
    let prefix = "it__examples__";
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(name) = file
            .strip_prefix(prefix)
            .and_then(|f| f.strip_suffix(".snap"))
        else {
            continue;
        };
        if !results.iter().any(|(n, _)| n == name) {
            stale.push(file);
        }
    }
    assert!(stale.is_empty(), "snapshots of no example: {stale:?}");
}

/// Runs the setup lines, then `line`, and returns what the line shows.
fn run_example(setup: &[&str], line: &str) -> String {
    let sim = TestSim::demo();
    let mut ctx = ctx(&sim);
    let notes = Rc::new(RefCell::new(String::new()));
    let sink = notes.clone();
    ctx.set_note_sink(move |msg| {
        let mut n = sink.borrow_mut();
        n.push_str(msg);
        n.push('\n');
    });
    let mut text = String::new();
    for pre in setup {
        let (code, shown) = run_line(&sim, &mut ctx, pre, &notes);
        assert_eq!(code, 0, "setup line `{pre}` of `{line}` failed:\n{shown}");
        text.push_str(&format!("# setup: {pre}\n"));
    }
    let (code, shown) = run_line(&sim, &mut ctx, line, &notes);
    text.push_str(&format!("> {line}\n{shown}[exit {code}]\n"));
    redact(&sim, &text)
}

/// One line as the CLI shows it: notes, then the rendered output, then the error; and the exit
/// code.
fn run_line(sim: &TestSim, ctx: &mut Ctx, line: &str, notes: &RefCell<String>) -> (i32, String) {
    let result = sim._runtime.block_on(async {
        commands::check_confirm_window(ctx).await;
        commands::run_line(ctx, line).await
    });
    let style = Style {
        width: WIDTH,
        color: false,
        shorten: true,
        pager: false,
    };
    let mut shown = std::mem::take(&mut *notes.borrow_mut());
    let (code, failure) = match result {
        Ok(out) => {
            shown.push_str(&pvesh_plus::output::format_output(&out, ctx.format, style));
            let code = out.failure.as_ref().map_or(0, |e| e.exit_code());
            (code, out.failure)
        }
        Err(e) => (e.exit_code(), Some(e)),
    };
    if let Some(e) = failure {
        let mut lines = e.message.lines();
        shown.push_str(&format!("error: {}\n", lines.next().unwrap_or_default()));
        for l in lines {
            shown.push_str(&format!("{l}\n"));
        }
        for hint in &e.hints {
            shown.push_str(&format!("  hint: {hint}\n"));
        }
    }
    (code, shown)
}

/// A session like `--demo`'s: password login with a pinned certificate, the built-in demo
/// policy as its config, an in-memory pending buffer, no audit log, and the confirm window on the server's clock (the
/// logical one) instead of the wall clock.
fn ctx(sim: &TestSim) -> Ctx {
    let client = sim.client();
    let mut ctx = Ctx::new(client, "demo");
    ctx.set_config(pvesh_plus::config::Config::demo_policy().unwrap());
    ctx.staging.clock = Arc::new(pvesh_plus::staging::ServerClock::default());
    // A person typing at the shell (examples are what they type): `approve` is theirs.
    ctx.staging.interactive = true;
    ctx
}

/// What differs between runs of the same example, replaced or reordered:
/// - the simulator's port (`127.0.0.1:PORT`): an ephemeral port;
/// - its certificate fingerprint (`<FINGERPRINT>`, `<FINGERPRINT>…` where a table cuts it): a new
///   self-signed certificate per run;
/// - the progress notes of an action over several guests (`[2/3] web02 (102): ...`): the guests
///   run in parallel, so the notes interleave differently and the guests' tasks get their PIDs
///   and start times in a different order each run. Each block of such notes is sorted by item
///   number (keeping each item's own notes in order), and in those notes the PID, PSTART and
///   start time of each UPID become `…`. A note of a single action is kept as it is, UPID too.
fn redact(sim: &TestSim, text: &str) -> String {
    let port = sim.handle.addr().port().to_string();
    let fingerprint = sim.handle.fingerprint();
    let mut text = text
        .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:PORT")
        .replace(&fingerprint, "<FINGERPRINT>");
    // The fingerprint cut to fit a table column (`nodes`): `B4:C4:55:…`.
    for len in (2..fingerprint.len()).rev() {
        text = text.replace(&format!("{}…", &fingerprint[..len]), "<FINGERPRINT>…");
    }
    sort_parallel_notes(&text)
}

fn sort_parallel_notes(text: &str) -> String {
    let item = regex::Regex::new(r"^\[(\d+)/(\d+)\] ").unwrap();
    let upid = regex::Regex::new(r"UPID:([^:]+):[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:").unwrap();
    let mut out: Vec<String> = Vec::new();
    let mut block: Vec<(u32, String)> = Vec::new();
    let flush = |block: &mut Vec<(u32, String)>, out: &mut Vec<String>| {
        block.sort_by_key(|(n, _)| *n);
        out.extend(block.drain(..).map(|(_, l)| l));
    };
    for line in text.lines() {
        let parallel = item.captures(line).and_then(|c| {
            let n: u32 = c[1].parse().ok()?;
            let total: u32 = c[2].parse().ok()?;
            (total > 1).then_some(n)
        });
        match parallel {
            Some(n) => block.push((n, upid.replace_all(line, "UPID:$1:…:…:…:").into_owned())),
            None => {
                flush(&mut block, &mut out);
                out.push(line.to_string());
            }
        }
    }
    flush(&mut block, &mut out);
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}
