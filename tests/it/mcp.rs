//! `pvesh-plus mcp` driven by a real MCP client no one here wrote: the Python `mcp` package
//! (PyPI), from the venv `.ci/run` sets up (`PVESH_CI_PYTHON`). The server runs against a
//! simulator of this test (password login, pinned certificate), so the test can count the
//! mutating requests it receives, and a person then approves what the agent staged with
//! `pvesh-plus approve ID` in another (pseudo-)terminal.

use std::process::Command;

use crate::agents::{approve_in_terminal, exit_code};
use crate::common::{PASSWORD, TestSim, state, std_cmd};

/// The client's side: initialize, list the tools, read, stage a destructive change, try a
/// write through `run`, read the pending plan. Prints one JSON object with what it saw.
const CLIENT: &str = r#"
import asyncio, json, os, sys
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

async def main():
    bin, url, fp = sys.argv[1:4]
    params = StdioServerParameters(
        command=bin, args=["mcp", "--url", url, "--fingerprint", fp], env=dict(os.environ))
    seen = {}
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            init = await s.initialize()
            seen["server"] = init.server_info.name
            tools = (await s.list_tools()).tools
            seen["tools"] = {t.name: {"readOnly": t.annotations.read_only_hint,
                                      "destructive": t.annotations.destructive_hint,
                                      "schema": t.input_schema} for t in tools}
            async def call(name, args):
                res = await s.call_tool(name, args)
                return {"isError": res.is_error, "body": res.structured_content}
            seen["list"] = await call("list_guests", {"where": "status=running and tags has prod",
                                                      "fields": ["vmid", "name"]})
            seen["status"] = await call("status", {"vm": "web01"})
            seen["stop"] = await call("stop", {"vm": "web01"})
            seen["reboot"] = await call("reboot", {"vm": "web02"})
            seen["run_write"] = await call("run", {"line": "ls | where tags has ci | stop"})
            seen["bad_arg"] = await call("stop", {"guest": "web01"})
            pending = await s.read_resource("pvesh://pending")
            seen["pending"] = json.loads(pending.contents[0].text)
    print(json.dumps(seen))

asyncio.run(main())
"#;

fn python() -> String {
    std::env::var("PVESH_CI_PYTHON")
        .expect("set PVESH_CI_PYTHON to a python with the mcp package installed (.ci/run does)")
}

#[test]
#[ignore = "needs the Python mcp package; .ci/run runs it"]
fn interop_mcp_an_agent_stages_a_stop_and_a_person_approves_it() {
    let sim = TestSim::demo();
    let sent = sim.handle.mutating_count();
    let mut cmd = Command::new(python());
    cmd.args([
        "-c",
        CLIENT,
        env!("CARGO_BIN_EXE_pvesh-plus"),
        &sim.handle.url(),
        &sim.handle.fingerprint(),
    ]);
    for (k, v) in std_cmd(sim.home.path()).get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env("PROXMOX_USER", "root@pam")
        .env("PROXMOX_PASSWORD", PASSWORD);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the client failed:\n{stderr}");
    let seen: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));

    assert_eq!(seen["server"], "pvesh-plus");
    let tools = &seen["tools"];
    assert_eq!(tools["status"]["readOnly"], true);
    assert_eq!(tools["stop"]["destructive"], true);
    assert_eq!(tools["start"]["destructive"], false);
    assert!(tools["stop"]["schema"]["properties"]["vm"]["description"].is_string());

    let list = &seen["list"]["body"];
    assert_eq!(list["ok"], true, "{list}");
    let names: Vec<&str> = list["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"web01") && !names.contains(&"dev-box"),
        "{names:?}"
    );
    assert_eq!(seen["status"]["body"]["result"]["status"], "running");

    // A destructive call stages and comes back as an approval request: id, plan, diff, expiry.
    let stop = &seen["stop"]["body"];
    assert_eq!(stop["status"], "waiting_for_approval", "{stop}");
    assert_eq!(stop["line"], "stop web01");
    let approval = &stop["approval"];
    let first = approval["approval"].as_str().unwrap().to_string();
    assert_eq!(approval["status"], "waiting");
    assert_eq!(approval["actions"][0]["action"], "stop");
    assert!(
        approval["diff"].as_array().is_some_and(|d| !d.is_empty()),
        "{approval}"
    );
    assert!(approval["expires_at"].is_number(), "{approval}");
    assert_eq!(approval["expires_in"], "1h", "the default expiry");
    // A second one asks again for the whole plan, now two changes: a new id.
    let reboot = &seen["reboot"]["body"]["approval"];
    let second = reboot["approval"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(reboot["changes"], 2, "{reboot}");

    let write = &seen["run_write"];
    assert_eq!(write["isError"], true);
    assert_eq!(write["body"]["error"]["kind"], "policy", "{write}");
    assert_eq!(write["body"]["error"]["exit_code"], 4);
    let bad = &seen["bad_arg"]["body"]["error"]["message"];
    assert!(
        bad.as_str().unwrap().contains("no argument `guest`"),
        "{bad}"
    );

    let pending = seen["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert_eq!(pending[0]["action"], "stop");

    // Reading, staging and asking sent nothing that changes the cluster.
    assert_eq!(sim.handle.mutating_count(), sent);
    assert!(state(&sim, |s| s.guests[&101].is_running()));

    // The first request was for a plan that has changed since: refused, nothing sent.
    let mut p = approve_in_terminal(&sim, &first, &[]);
    p.exp_string("the pending plan changed since approval request")
        .unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 6);
    assert_eq!(sim.handle.mutating_count(), sent);
    // The second is the plan as it is: a person reads it and says yes; it is applied.
    let mut p = approve_in_terminal(&sim, &second, &[]);
    p.exp_string("stop on web01 (101)").unwrap();
    p.exp_string("apply this plan now? [y/N]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string(&format!("approved {second}")).unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert!(
        !state(&sim, |s| s.guests[&101].is_running()),
        "web01 stopped"
    );
    assert!(sim.handle.mutating_count() > sent);
}

/// The client's side against `mcp --demo`: stage a stop of web01, print the approval id, wait
/// for a line on stdin (the person approves meanwhile), then read web01's status.
const DEMO_CLIENT: &str = r#"
import asyncio, json, os, sys
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

async def main():
    params = StdioServerParameters(command=sys.argv[1], args=["mcp", "--demo"], env=dict(os.environ))
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await s.call_tool("stop", {"vm": "web01"})
            print(json.dumps(res.structured_content["approval"]["approval"]), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            res = await s.call_tool("status", {"vm": "web01"})
            pending = await s.read_resource("pvesh://pending")
            print(json.dumps({"status": res.structured_content["result"]["status"],
                              "pending": json.loads(pending.contents[0].text)}), flush=True)

asyncio.run(main())
"#;

/// The issue's "done when": an MCP client explores the demo cluster and stages a stop of
/// web01; a person approves it from another terminal (`--join-demo`); the agent sees it done.
#[test]
#[ignore = "needs the Python mcp package; .ci/run runs it"]
fn interop_mcp_on_the_demo_a_person_approves_from_another_terminal() {
    use std::io::{BufRead, BufReader, Write};
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(python());
    cmd.args(["-c", DEMO_CLIENT, env!("CARGO_BIN_EXE_pvesh-plus")]);
    for (k, v) in std_cmd(home.path()).get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let mut agent = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(agent.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let id: String = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));

    let mut person = std_cmd(home.path());
    person
        .args(["--join-demo", "approve", &id])
        .env("USER", "alice")
        .env("TERM", "xterm");
    let mut p = crate::common::Pty::spawn(person, 30_000);
    p.exp_string("stop on web01 (101)").unwrap();
    p.exp_string("apply this plan now? [y/N]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string(&format!("approved {id}")).unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&mut p), 0);

    writeln!(agent.stdin.take().unwrap(), "go").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    let seen: serde_json::Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(seen["status"], "stopped", "{seen}");
    assert_eq!(seen["pending"], serde_json::json!([]), "{seen}");
    assert!(agent.wait().unwrap().success());
    assert!(
        !home
            .path()
            .join("state/pvesh-plus/demo-shared.json")
            .exists(),
        "the shared demo's file goes with its server"
    );
}
