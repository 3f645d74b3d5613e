//! Control characters never reach a terminal raw, and every verb survives its output being cut short.
//!
//! Hostile text (`ESC [2J`, `CR`, `BEL`, the C1 `CSI` `U+009B`, the right-to-left
//! override `U+202E`) comes in through one source per test: a local blueprint, the
//! tenant's blueprint, a broken blueprint's keys, the tenant's refusal message, a
//! configuration fragment, an app's `Info.plist`. What the agent prints (stdout,
//! stderr, JSON) must hold none of it raw; the log files keep the exact text.
//!
//! Then each verb that prints runs with a stdout whose reader is gone before the
//! first write: it must finish quietly with its own exit code, never a panic
//! (exit 101), and `agent run` must still record its run's end, in process or
//! through a daemon that goes on answering.

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::{Value, json};

use crate::daemon::harness::Daemon;
use crate::support::{Device, blueprint, code, script, text};
use crate::tenant::configure;
use crate::tenant::server::TestTenant;

/// Everything a terminal could act on, in one string.
const HOSTILE: &str = "\u{1b}[2J\r\u{7}\u{9b}31m\u{202e}";

/// Whether `character` must never reach a terminal raw (line breaks aside).
fn is_raw_control(character: char) -> bool {
    (character.is_control() && character != '\n')
        || matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Asserts `bytes` (what `what` printed) hold no raw control character but `\n`.
fn assert_printable(what: &str, bytes: &[u8]) {
    let shown = text(bytes);
    let raw: Vec<char> = shown.chars().filter(|character| is_raw_control(*character)).collect();
    assert!(raw.is_empty(), "{what} printed {raw:?} raw:\n{}", shown.escape_debug());
}

/// Asserts neither stream of `output` holds a raw control character.
fn assert_output_printable(what: &str, output: &Output) {
    assert_printable(&format!("{what} (stdout)"), &output.stdout);
    assert_printable(&format!("{what} (stderr)"), &output.stderr);
}

/// A shebang naming an interpreter that does not exist: the failure message
/// repeats it.
fn missing_interpreter_script() -> String {
    format!("#!/nonexistent/{HOSTILE}\nexit 0\n")
}

/// Items carrying `HOSTILE` in their names, their output and a failure message.
fn hostile_items() -> Vec<Value> {
    vec![
        script("li-name", &format!("Name {HOSTILE}"), "#!/bin/sh\nexit 0\n"),
        script(
            "li-output",
            "Output",
            &format!("#!/bin/sh\nprintf '%s\\n' '{HOSTILE}'\nprintf '{HOSTILE}' >&2\nexit 1\n"),
        ),
        script("li-failure", &format!("Failure {HOSTILE}"), &missing_interpreter_script()),
    ]
}

/// A blueprint whose name and items carry `HOSTILE`.
fn hostile_blueprint() -> Value {
    let mut hostile = blueprint(hostile_items());
    hostile["name"] = json!(format!("Blueprint {HOSTILE}"));
    hostile
}

#[test]
fn a_local_blueprint_s_text_is_escaped_in_every_verb_that_shows_it() {
    let device = Device::new();
    let path = device.write_blueprint(&hostile_blueprint());
    let run = device.check_in(&path, &[]);
    assert_eq!(code(&run), 1, "{}", text(&run.stderr));
    assert_output_printable("agent run", &run);
    assert!(text(&run.stdout).contains("Name \\u{1b}[2J\\r\\u{7}\\u{9b}31m\\u{202e}"), "{}", text(&run.stdout));
    assert!(text(&run.stderr).contains("WARN") && text(&run.stderr).contains("/nonexistent/"), "{}", text(&run.stderr));

    let run_id = device.status()["last_run"]["id"].as_str().unwrap().to_string();
    for arguments in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["history"],
        vec!["history", "--json"],
        vec!["history", "--run", &run_id],
        vec!["history", "--run", &run_id, "--json"],
        vec!["logs"],
        vec!["logs", "--json"],
        vec!["run", "--blueprint", path.to_str().unwrap(), "--json"],
    ] {
        let output = device.run(&arguments);
        assert!(code(&output) <= 1, "{arguments:?}: {}", text(&output.stderr));
        assert_output_printable(&format!("agent {}", arguments.join(" ")), &output);
    }
    let shown = text(&device.run(&["history", "--run", &run_id]).stdout);
    assert!(shown.contains("(shebang: #!/nonexistent/\\u{1b}[2J\\r"), "the failure message, escaped: {shown}");

    let record: Value = serde_json::from_slice(&device.run(&["history", "--run", &run_id, "--json"]).stdout).unwrap();
    let output_item = record["items"].as_array().unwrap().iter().find(|item| item["id"] == "li-output").unwrap();
    assert!(output_item["output"].as_str().unwrap().contains(HOSTILE), "JSON keeps the exact text: {output_item:#}");
    let logged = std::fs::read_to_string(log_file(&device)).unwrap();
    assert!(logged.contains(&serde_json::to_string(&format!("Name {HOSTILE}")).unwrap()), "the files keep it exactly");
}

/// Today's log file on `device`.
fn log_file(device: &Device) -> std::path::PathBuf {
    let folder = device.root().join("Library/Logs/EndpointAgent");
    std::fs::read_dir(folder).unwrap().next().unwrap().unwrap().path()
}

#[test]
fn the_tenant_s_blueprint_text_is_escaped_in_progress_and_warnings() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", hostile_blueprint());
    configure(&device, &tenant.url(), "tok-1");
    let run = device.run(&["run"]);
    assert_eq!(code(&run), 1, "{}", text(&run.stderr));
    assert_output_printable("agent run from the tenant's blueprint", &run);
    assert!(text(&run.stdout).contains("Failure \\u{1b}[2J"), "{}", text(&run.stdout));
    assert!(text(&run.stderr).contains("item_name=Failure \\u{1b}[2J"), "{}", text(&run.stderr));
    assert_output_printable("agent status", &device.run(&["status"]));
}

#[test]
fn a_broken_blueprint_s_keys_and_ids_are_escaped_in_its_error() {
    let device = Device::new();
    let mut broken = blueprint(vec![
        json!({ "id": "li-1", "name": "Fine", "type": format!("custom_{HOSTILE}") }),
        json!({ "id": "li-2", "name": "Odd", "type": "custom_script", "audit": "#!/bin/sh\n",
                format!("key\n{HOSTILE}"): true, "frequency": format!("{HOSTILE}\nforged") }),
        script(&format!("li-{HOSTILE}"), "Twice", "#!/bin/sh\n"),
        script(&format!("li-{HOSTILE}"), "Twice again", "#!/bin/sh\n"),
    ]);
    broken[format!("top {HOSTILE}")] = json!(1);
    let output = device.check_in(&device.write_blueprint(&broken), &[]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    assert_output_printable("a broken blueprint's error", &output);
    let message = text(&output.stderr);
    assert!(message.contains("library_items[0].type") && message.contains("custom_\\u{1b}[2J"), "{message}");
    assert!(message.contains("library_items[3].id") && message.contains("li-\\u{1b}[2J"), "{message}");
    assert!(!message.lines().any(|line| line.starts_with("forged")), "no line is forged: {message}");
}

#[test]
fn the_tenant_s_refusal_message_is_escaped_on_the_console() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", blueprint(vec![script("li-1", "Fine", "#!/bin/sh\nexit 0\n")]));
    configure(&device, &tenant.url(), "tok-1");
    tenant.change(|state| {
        state.results_status = 422;
        state.refusal_message = Some(format!("txt.{HOSTILE}exe rejected"));
    });
    let run = device.run(&["run"]);
    assert_eq!(code(&run), 0, "{}", text(&run.stderr));
    assert_output_printable("agent run with a refused report", &run);
    let stderr = text(&run.stderr);
    assert!(stderr.contains("422") && stderr.contains("txt.") && stderr.contains("\\u{202e}exe rejected"), "{stderr}");
}

#[test]
fn a_configuration_fragment_s_keys_and_values_are_escaped() {
    let device = Device::new();
    let fragment = json!({ format!("unknown {HOSTILE}"): 1, "blueprint_file": format!("/tmp/{HOSTILE}\nforged.json") });
    device.write_file("Library/Application Support/EndpointAgent/config.d/30-hostile.json", &fragment.to_string());
    for arguments in [["config"].as_slice(), &["config", "--show-origin"], &["config", "--json"], &["status"]] {
        let output = device.run(arguments);
        assert_eq!(code(&output), 0, "{arguments:?}: {}", text(&output.stderr));
        assert_output_printable(&format!("agent {}", arguments.join(" ")), &output);
        assert!(!text(&output.stdout).lines().any(|line| line.starts_with("forged")), "{}", text(&output.stdout));
    }
    let stderr = text(&device.run(&["config"]).stderr);
    assert!(stderr.contains("key \"unknown ") && stderr.contains("unknown key, ignored"), "named: {stderr}");
}

/// An app whose `Info.plist` (any local user can write one under `~/Applications`)
/// carries `HOSTILE` in its name and version.
fn install_hostile_app(root: &Path) {
    let contents = root.join("Applications/Hostile.app/Contents");
    std::fs::create_dir_all(&contents).unwrap();
    let mut info = plist::Dictionary::new();
    for (key, value) in [
        ("CFBundleIdentifier", "com.example.hostile".to_string()),
        ("CFBundleName", format!("Hostile {HOSTILE}")),
        ("CFBundleShortVersionString", format!("1.0{HOSTILE}")),
    ] {
        info.insert(key.to_string(), plist::Value::String(value));
    }
    plist::Value::Dictionary(info).to_file_xml(contents.join("Info.plist")).unwrap();
}

#[test]
fn an_app_s_info_plist_is_escaped_in_the_inventory() {
    let device = Device::new();
    install_hostile_app(device.root());
    for arguments in [["inventory"].as_slice(), &["inventory", "--json"]] {
        let output = device.run(arguments);
        assert_eq!(code(&output), 0, "{arguments:?}: {}", text(&output.stderr));
        assert_output_printable(&format!("agent {}", arguments.join(" ")), &output);
        assert!(text(&output.stdout).contains("Hostile"), "the app is listed: {}", text(&output.stdout));
    }
}

/// Runs the agent with `arguments`, its stdout a pipe whose reader is closed
/// before the agent can write, and its stderr read; waits for it.
fn run_with_stdout_gone(device: &Device, arguments: &[&str]) -> Output {
    let mut child =
        device.agent().args(arguments).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("agent starts");
    drop(child.stdout.take());
    child.wait_with_output().expect("agent waited for")
}

/// Asserts the agent stopped quietly with `expected` as its exit code.
fn assert_stopped_quietly(what: &str, output: &Output, expected: i32) {
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    assert_eq!(output.status.code(), Some(expected), "{what}: {stderr}");
}

/// A device with a few runs of a blueprint that logs and fails, and a UDID.
fn device_with_history() -> (Device, std::path::PathBuf) {
    let device = Device::new();
    device.write_file("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
    let items = (0..20).map(|index| script(&format!("li-{index}"), &format!("Item {index}"), "#!/bin/sh\nexit 0\n"));
    let path = device.write_blueprint(&blueprint(items.collect()));
    for _ in 0..3 {
        assert_eq!(code(&device.check_in(&path, &[])), 0);
    }
    (device, path)
}

#[test]
fn every_verb_that_prints_stops_quietly_when_its_reader_is_gone() {
    let (device, _) = device_with_history();
    let run_id = device.status()["last_run"]["id"].as_str().unwrap().to_string();
    for arguments in [
        vec!["--version"],
        vec!["--help"],
        vec!["run", "--help"],
        vec!["paths"],
        vec!["paths", "--json"],
        vec!["config"],
        vec!["config", "--show-origin"],
        vec!["config", "--json"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["history"],
        vec!["history", "--json"],
        vec!["history", "--run", &run_id],
        vec!["logs"],
        vec!["logs", "--json"],
        vec!["doctor"],
        vec!["doctor", "--json"],
        vec!["inventory"],
        vec!["inventory", "--json"],
        vec!["update-mdm"],
        vec!["update-mdm", "--json"],
    ] {
        let expected = code(&device.run(&arguments));
        let output = run_with_stdout_gone(&device, &arguments);
        assert_stopped_quietly(&format!("agent {}", arguments.join(" ")), &output, expected);
    }
}

#[test]
fn a_check_in_whose_reader_is_gone_runs_to_its_end_and_records_it() {
    let (device, path) = device_with_history();
    let failing = blueprint(vec![script("li-bad", "Bad", "#!/bin/sh\nexit 1\n")]);
    let failing = device.write_file("failing.json", &failing.to_string());
    for (blueprint, expected) in [(&path, 0), (&failing, 1)] {
        let arguments = ["run", "--blueprint", blueprint.to_str().unwrap()];
        let output = run_with_stdout_gone(&device, &arguments);
        assert_stopped_quietly("agent run", &output, expected);
        let json = run_with_stdout_gone(&device, &[&arguments[..], &["--json"]].concat());
        assert_stopped_quietly("agent run --json", &json, expected);
    }
    let history: Value = serde_json::from_slice(&device.run(&["history", "--json"]).stdout).unwrap();
    let runs = history.as_array().unwrap();
    assert_eq!(runs.len(), 7, "{history:#}");
    assert!(runs.iter().all(|run| run["outcome"].is_string()), "no run is left running: {history:#}");
}

#[test]
fn a_check_in_with_both_streams_gone_still_ends_and_records_its_warnings() {
    let device = Device::new();
    let path = device.write_blueprint(&hostile_blueprint());
    let mut child = device
        .agent()
        .args(["run", "--blueprint", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent starts");
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().expect("agent waited for");
    assert_eq!(status.code(), Some(1), "the failing items' outcome, not a panic (101)");
    let last_run = &device.status()["last_run"];
    assert_eq!(last_run["outcome"], "failed", "{last_run:#}");
    let logged = std::fs::read_to_string(log_file(&device)).unwrap();
    assert!(logged.contains("\"WARN\"") && logged.contains("li-failure"), "the warnings reach the file: {logged}");
}

#[test]
fn a_check_in_through_the_daemon_is_escaped_and_survives_its_reader_going() {
    let device = Device::new();
    let path = device.write_blueprint(&hostile_blueprint());
    let daemon = Daemon::start(&device, &[]);
    let arguments = ["run", "--blueprint", path.to_str().unwrap()];
    let shown = device.run(&arguments);
    assert_eq!(code(&shown), 1, "{}", text(&shown.stderr));
    assert_output_printable("agent run through the daemon", &shown);
    assert!(text(&shown.stdout).contains("Name \\u{1b}[2J"), "the daemon's progress: {}", text(&shown.stdout));

    let cut = run_with_stdout_gone(&device, &arguments);
    assert_stopped_quietly("agent run through the daemon", &cut, 1);
    assert!(daemon.try_status().is_some(), "the daemon still answers after its client's reader went");
    let daemon_stderr = std::fs::read(device.root().join("daemon.stderr")).unwrap();
    assert_printable("the daemon's stderr", &daemon_stderr);
    assert!(text(&daemon_stderr).contains("item_name=Failure \\u{1b}[2J"), "{}", text(&daemon_stderr));
}
