use super::*;

fn tool(name: &str) -> Tool {
    catalogue()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
}

fn args(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn the_catalogue_has_the_read_tools_and_one_tool_per_action_kind() {
    let names: Vec<String> = catalogue().into_iter().map(|t| t.name).collect();
    for want in [
        "list_guests",
        "run",
        "status",
        "config",
        "ip",
        "nodes",
        "storage",
        "tasks",
        "snapshots",
        "backups",
        "start",
        "stop",
        "shutdown",
        "snapshot",
        "rollback",
        "destroy",
        "migrate",
        "clone",
        "set",
        "backup",
        "restore",
        "evacuate",
    ] {
        assert!(names.iter().any(|n| n == want), "no tool {want}: {names:?}");
    }
    for not in ["dashboard", "console", "commit", "discard", "wait_ssh"] {
        assert!(!names.iter().any(|n| n == not), "{not} is no tool");
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "tool names are unique");
}

#[test]
fn annotations_say_what_is_read_only_and_what_destructive() {
    let stop = tool("stop").to_json();
    assert_eq!(stop["annotations"]["destructiveHint"], true);
    assert_eq!(stop["annotations"]["readOnlyHint"], false);
    let start = tool("start").to_json();
    assert_eq!(start["annotations"]["destructiveHint"], false);
    let status = tool("status").to_json();
    assert_eq!(status["annotations"]["readOnlyHint"], true);
    assert_eq!(status["inputSchema"]["type"], "object");
    assert!(status["inputSchema"]["properties"]["vm"].is_object());
}

#[test]
fn a_call_becomes_a_line_with_its_words_quoted() {
    let stop = tool("stop");
    assert_eq!(
        line_for(&stop, &args(json!({"vm": "web01"}))).unwrap(),
        "stop web01"
    );
    // A value that is no plain word is quoted: it can add no stage or statement.
    assert_eq!(
        line_for(&stop, &args(json!({"vm": "web01; destroy db01"}))).unwrap(),
        "stop 'web01; destroy db01'"
    );
    assert_eq!(
        line_for(
            &tool("set"),
            &args(json!({"vm": "web01", "key_value": ["cores=2", "memory=4G"]}))
        )
        .map_err(|e| e.message),
        Ok("set cores=2 memory=4G web01".to_string())
    );
    let tasks = line_for(&tool("tasks"), &args(json!({"limit": 5}))).unwrap();
    assert_eq!(tasks, "tasks --limit 5");
}

#[test]
fn unknown_and_mistyped_arguments_are_named() {
    let err = line_for(&tool("stop"), &args(json!({"guest": "web01"}))).unwrap_err();
    assert!(
        err.message.contains("no argument `guest`"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("vm"),
        "it lists what it takes: {}",
        err.message
    );
    let err = line_for(&tool("list_guests"), &args(json!({"limit": "ten"}))).unwrap_err();
    assert!(err.message.contains("`limit`"), "{}", err.message);
    let err = line_for(&tool("run"), &args(json!({}))).unwrap_err();
    assert!(err.message.contains("`line`"), "{}", err.message);
}

#[test]
fn list_guests_builds_one_pipeline_and_refuses_a_pipe_in_where() {
    let line = line_for(
        &tool("list_guests"),
        &args(
            json!({"where": "status=running", "sort_by": "mem", "reverse": true, "limit": 3,
                     "fields": ["vmid", "name"]}),
        ),
    )
    .unwrap();
    assert_eq!(
        line,
        "ls | where status=running | sort-by mem --reverse | first 3 | select vmid name"
    );
    for evil in ["status=running | stop", "status=running; stop web01"] {
        let err = line_for(&tool("list_guests"), &args(json!({"where": evil}))).unwrap_err();
        assert!(
            err.message.contains("one filter expression"),
            "{evil}: {}",
            err.message
        );
    }
}

#[test]
fn run_is_read_only() {
    assert!(check_read_only("ls | where status=running | count").is_ok());
    assert!(check_read_only("help stop").is_ok());
    assert!(check_read_only("get /nodes").is_ok());
    let err = check_read_only("ls | where tags has ci | stop").unwrap_err();
    assert_eq!(err.kind, crate::error::ErrorKind::Policy);
    assert!(err.message.contains("`stop`"), "{}", err.message);
    for line in [
        "commit",
        "set web01 cores=2",
        "create /pools poolid=x",
        "ls; stop web01",
    ] {
        assert!(check_read_only(line).is_err(), "{line} must be refused");
    }
}

#[test]
fn with_writes_allowed_run_still_leaves_the_plan_to_a_human() {
    assert!(check_writes("ls | where tags has ci | stop").is_ok());
    for line in ["commit", "ls; commit --yes", "discard", "dashboard"] {
        let err = check_writes(line).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Policy, "{line}");
    }
}

#[test]
fn new_is_a_tool_that_runs_at_once() {
    let new = tool("new");
    assert!(!new.destructive() && !new.read_only());
    let line = line_for(
        &new,
        &args(json!({"name": "web09", "template": "debian-12-cloud"})),
    );
    assert_eq!(
        line.map_err(|e| e.message),
        Ok("new web09 --template debian-12-cloud".into())
    );
}
