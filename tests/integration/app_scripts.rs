//! A custom app's own scripts through the real binary: an audit script that
//! exits 0 installs nothing, one that does not installs; a failing preinstall
//! script places nothing; a postinstall script writes a licence file under the
//! root, and a failing one fails the item with the app in place. An app with
//! `restart: true` restarts the Mac (a stand-in `shutdown`) at the end of the
//! check-in, after a countdown notice when someone is logged in.

use serde_json::{Value, json};

use crate::app_fixtures::{app_zip, custom_app, installed_app, installed_version, recorded, sha256, stand_in};
use crate::http_server::FileServer;
use crate::support::person::PersonStandIns;
use crate::support::{Device, blueprint, code, item};

/// A zip custom app for `Foo.app` 2.1 served by `server`, with `scripts` added.
fn app_with(server: &FileServer, scripts: Value) -> Value {
    let zip = app_zip("2.1", 0);
    server.serve("/Foo.zip", zip.clone());
    let mut app = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", Some("2.0"));
    app.as_object_mut().unwrap().extend(scripts.as_object().unwrap().clone());
    app
}

/// The item `Foo` of the last run: status, message, exit code and output.
fn foo(device: &Device) -> (String, String, Value, String) {
    let status = device.status();
    let recorded = item(&status, "Foo");
    let text = |key: &str| recorded[key].as_str().unwrap_or_default().to_string();
    (text("status"), text("message"), recorded["exit_code"].clone(), text("output"))
}

#[test]
fn an_audit_script_replaces_the_built_in_check() {
    let (device, server) = (Device::new(), FileServer::start());
    let audit = "#!/bin/sh\necho \"auditing $AGENT_ITEM_ID\"\ntest -f licence.txt\n";
    let path = device.write_blueprint(&blueprint(vec![app_with(&server, json!({ "audit_script": audit }))]));

    device.write_file("licence.txt", "key");
    device.check_in_ok(&path, &[]);
    let (status, message, exit_code, output) = foo(&device);
    assert_eq!(
        (status.as_str(), message.as_str(), exit_code),
        ("succeeded", "compliant: the audit script exited 0", json!(0))
    );
    assert!(output.starts_with("--- audit_script (exit 0) ---\nauditing li-foo\n"), "{output}");
    assert!(!installed_app(&device).exists(), "a compliant audit installs nothing, even with the app missing");
    assert!(server.requests("/Foo.zip").is_empty(), "nothing downloaded");

    std::fs::remove_file(device.root().join("licence.txt")).unwrap();
    device.check_in_ok(&path, &[]);
    let (status, message, _, output) = foo(&device);
    assert_eq!(status, "succeeded");
    assert!(message.starts_with("installed: Foo.app 2.1 from the zip"), "{message}");
    assert!(output.starts_with("--- audit_script (exit 1) ---\nauditing li-foo\n"), "{output}");
    assert_eq!(installed_version(&device).as_deref(), Some("2.1"));

    device.check_in_ok(&path, &[]);
    let (_, message, _, _) = foo(&device);
    assert!(message.starts_with("re-installed: the audit script exited 1; installed Foo.app 2.1"), "{message}");
    assert_eq!(device.status()["drift"]["reapplied"], 1, "what the audit script finds is drift");
    assert_eq!(server.requests("/Foo.zip").len(), 2);
}

#[test]
fn a_failing_preinstall_script_places_nothing_and_a_passing_one_runs_before_the_app_is_there() {
    let (device, server) = (Device::new(), FileServer::start());
    let failing = "#!/bin/sh\necho 'no licence server'\nexit 3\n";
    let path = device.write_blueprint(&blueprint(vec![app_with(&server, json!({ "preinstall_script": failing }))]));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let (status, message, exit_code, output) = foo(&device);
    assert_eq!(
        (status.as_str(), message.as_str(), exit_code),
        ("failed", "the preinstall script exited 3; nothing was installed", json!(3))
    );
    assert_eq!(output, "--- preinstall_script (exit 3) ---\nno licence server\n");
    assert!(!installed_app(&device).exists(), "nothing placed");
    assert_eq!(server.requests("/Foo.zip").len(), 1, "the download was verified first");

    let passing = "#!/bin/sh\nif [ -e Applications/Foo.app ]; then echo placed; else echo 'not yet placed'; fi\n";
    let path = device.write_blueprint(&blueprint(vec![app_with(&server, json!({ "preinstall_script": passing }))]));
    device.check_in_ok(&path, &[]);
    let (status, message, _, output) = foo(&device);
    assert_eq!(status, "succeeded", "{message}");
    assert!(output.contains("--- preinstall_script (exit 0) ---\nnot yet placed\n"), "{output}");
    assert_eq!(installed_version(&device).as_deref(), Some("2.1"));
}

#[test]
fn a_postinstall_script_writes_its_licence_and_a_failing_one_fails_the_item_with_the_app_in_place() {
    let (device, server) = (Device::new(), FileServer::start());
    let licence = "#!/bin/sh\nmkdir -p Library/Foo\n\
                   if [ -f Applications/Foo.app/Contents/Info.plist ]; then echo \"licensed to $AGENT_ITEM_ID\" > Library/Foo/licence.txt; fi\n\
                   echo done\n";
    let path = device.write_blueprint(&blueprint(vec![app_with(&server, json!({ "postinstall_script": licence }))]));
    device.check_in_ok(&path, &[]);
    let (status, message, exit_code, output) = foo(&device);
    assert_eq!((status.as_str(), exit_code), ("succeeded", json!(0)), "{message}");
    assert!(output.ends_with("--- postinstall_script (exit 0) ---\ndone\n"), "{output}");
    let written = std::fs::read_to_string(device.root().join("Library/Foo/licence.txt")).unwrap();
    assert_eq!(written, "licensed to li-foo\n", "ran from the root after the app was placed");

    std::fs::remove_dir_all(installed_app(&device)).unwrap();
    let failing = "#!/bin/sh\necho 'licence refused' >&2\nexit 5\n";
    let path = device.write_blueprint(&blueprint(vec![app_with(&server, json!({ "postinstall_script": failing }))]));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let (status, message, exit_code, output) = foo(&device);
    assert_eq!((status.as_str(), exit_code), ("failed", json!(5)));
    assert!(message.starts_with("re-installed: Foo.app was missing; installed 2.1"), "{message}");
    assert!(message.ends_with("but the postinstall script exited 5; the app stays"), "{message}");
    assert!(output.ends_with("--- postinstall_script (exit 5) ---\nlicence refused\n"), "{output}");
    assert_eq!(installed_version(&device).as_deref(), Some("2.1"), "the app stays");
}

#[test]
fn a_script_that_outlives_the_script_timeout_fails_the_item() {
    let (device, server) = (Device::new(), FileServer::start());
    let slow = "#!/bin/sh\necho started\nsleep 30\n";
    let path = device.write_blueprint(&blueprint(vec![app_with(&server, json!({ "preinstall_script": slow }))]));
    assert_eq!(code(&device.check_in(&path, &["--set", "timeouts.custom_script=1s"])), 1);
    let (status, message, _, output) = foo(&device);
    let expected = "the preinstall_script ran past timeouts.custom_script (1s); its processes were stopped";
    assert_eq!((status.as_str(), message.as_str()), ("failed", expected));
    assert!(output.starts_with("--- preinstall_script (timed out) ---\nstarted\n"), "{output}");
    assert!(!installed_app(&device).exists());
}

#[test]
fn a_script_without_a_shebang_is_refused_with_its_key() {
    let (device, server) = (Device::new(), FileServer::start());
    let path = device.write_blueprint(&blueprint(vec![app_with(&server, json!({ "audit_script": "exit 0" }))]));
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 2);
    let stderr = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(stderr.contains("\"library_items[0].audit_script\": must start with a shebang line"), "{stderr}");
}

/// An app that asks for a restart and whose audit script always fails, so each
/// check-in installs it again; the check-in's flags point at the person's
/// stand-ins and a `shutdown` that exits `shutdown_exit`.
fn restarting(
    device: &Device,
    server: &FileServer,
    person: &PersonStandIns,
    shutdown_exit: i32,
) -> (std::path::PathBuf, Vec<String>) {
    let app = app_with(server, json!({ "restart": true, "audit_script": "#!/bin/sh\nexit 1\n" }));
    let path = device.write_blueprint(&blueprint(vec![app]));
    let shutdown = stand_in(device, "shutdown", &format!("exit {shutdown_exit}\n"));
    let mut flags = person.flags();
    flags.extend(["--set".to_string(), format!("commands.shutdown={}", shutdown.display())]);
    flags.extend(["--set".to_string(), "notices.restart_countdown=1s".to_string()]);
    (path, flags)
}

#[test]
fn a_restart_is_counted_down_for_the_person_then_done_at_the_end_of_the_check_in() {
    let (device, server) = (Device::new(), FileServer::start());
    let person = PersonStandIns::install(&device, Some(65534), "intel");
    let (path, flags) = restarting(&device, &server, &person, 0);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();

    person.answer(&["Restart Now"]);
    device.check_in_ok(&path, &flags);
    let (status, message, _, _) = foo(&device);
    assert_eq!(status, "succeeded");
    assert!(message.ends_with("; the Mac restarts at the end of this check-in"), "{message}");
    assert_eq!(recorded(&device, "shutdown"), ["-r now"]);
    let dialogs = person.dialogs();
    assert_eq!(dialogs.len(), 1, "{dialogs:?}");
    assert_eq!(
        dialogs[0][1..],
        [
            "Restart required",
            "The install of Foo needs a restart. Your Mac will restart in 1 minute. Save your work now.",
            "Restart Now",
            "Restart Now"
        ]
    );
    assert_eq!(device.status()["pending_work"], json!([]), "the restart is done");

    person.answer(&[""]);
    device.check_in_ok(&path, &flags);
    assert_eq!(person.dialogs().len(), 2);
    assert_eq!(recorded(&device, "shutdown"), ["-r now", "-r now"], "restarted when the countdown ended");
}

#[test]
fn with_nobody_logged_in_the_mac_restarts_at_once_and_a_failed_restart_stays_pending() {
    let (device, server) = (Device::new(), FileServer::start());
    let person = PersonStandIns::install(&device, None, "intel");
    let (path, flags) = restarting(&device, &server, &person, 1);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    device.check_in_ok(&path, &flags);
    assert!(person.dialogs().is_empty(), "nobody to tell");
    assert_eq!(recorded(&device, "shutdown"), ["-r now"]);
    let pending = device.status()["pending_work"].clone();
    assert_eq!(pending[0]["item_id"], "li-foo", "{pending:#}");
    assert_eq!(pending[0]["action"], "restart the Mac after installing Foo.app");
    let state = pending[0]["state"].as_str().unwrap();
    assert!(state.starts_with("the restart failed (shutdown ended: exit 1)"), "{state}");

    let without_restart = app_with(&server, json!({ "audit_script": "#!/bin/sh\nexit 0\n" }));
    let path = device.write_blueprint(&blueprint(vec![without_restart]));
    let shutdown = stand_in(&device, "shutdown", "exit 0\n");
    device.check_in_ok(&path, &["--set", &format!("commands.shutdown={}", shutdown.display())]);
    assert_eq!(recorded(&device, "shutdown"), ["-r now", "-r now"], "the next check-in's end tried again");
    assert_eq!(device.status()["pending_work"], json!([]));
}
