//! Custom scripts: audit → remediation → audit, shebangs, bounded output, hostile names.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::support::{Device, blueprint, code, item, script, text};

#[test]
fn a_failing_audit_is_remediated_and_confirmed_then_left_alone() {
    let device = Device::new();
    let fixer = json!({
        "id": "motd", "name": "Message of the day", "type": "custom_script",
        "audit": "#!/bin/sh\ngrep -q managed \"$AGENT_ROOT/etc/motd\" 2>/dev/null\n",
        "remediation": "#!/bin/sh\nmkdir -p \"$AGENT_ROOT/etc\" && echo managed > \"$AGENT_ROOT/etc/motd\"\n",
    });
    let path = device.write_blueprint(&blueprint(vec![fixer]));
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    let status = device.status();
    let motd = item(&status, "Message of the day");
    assert_eq!(motd["status"], "succeeded");
    assert!(motd["message"].as_str().unwrap().starts_with("remediated"), "{motd}");
    assert_eq!(status["drift"]["reapplied"], 1);

    assert_eq!(code(&device.check_in(&path, &[])), 0);
    let status = device.status();
    assert!(item(&status, "Message of the day")["message"].as_str().unwrap().starts_with("compliant"));
    assert_eq!(status["drift"]["reapplied"], 0);

    std::fs::remove_file(device.root().join("etc/motd")).unwrap();
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    assert_eq!(device.status()["drift"]["reapplied"], 1, "a deleted file is re-applied");
}

#[test]
fn a_remediation_that_does_not_fix_fails_with_the_audit_exit_code() {
    let device = Device::new();
    let stubborn = json!({
        "id": "s", "name": "Stubborn", "type": "custom_script",
        "audit": "#!/bin/sh\necho checking\nexit 4\n",
        "remediation": "#!/bin/sh\necho trying\n",
    });
    let path = device.write_blueprint(&blueprint(vec![stubborn]));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let status = device.status();
    let stubborn = item(&status, "Stubborn");
    assert_eq!(stubborn["status"], "failed");
    assert_eq!(stubborn["exit_code"], 4);
    assert!(stubborn["message"].as_str().unwrap().contains("still not compliant"), "{stubborn}");
    let output = stubborn["output"].as_str().unwrap();
    assert!(output.contains("--- audit (exit 4) ---\nchecking"), "{output}");
    assert!(output.contains("--- remediation (exit 0) ---\ntrying"), "{output}");
}

#[test]
fn the_shebang_picks_the_interpreter_and_a_missing_one_is_explained() {
    let device = Device::new();
    let items = vec![
        script("bash", "Bash", "#!/usr/bin/env bash\n[[ -n ${BASH_VERSION} ]]\n"),
        script("none", "No shebang", "echo hello\n"),
        script("missing", "Missing interpreter", "#!/no/such/interpreter\nexit 0\n"),
    ];
    let path = device.write_blueprint(&blueprint(items));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let status = device.status();
    assert_eq!(item(&status, "Bash")["status"], "succeeded");
    let none = item(&status, "No shebang");
    assert_eq!(none["status"], "failed");
    assert!(none["message"].as_str().unwrap().contains("no shebang line"), "{none}");
    let missing = item(&status, "Missing interpreter");
    assert_eq!(missing["status"], "failed");
    assert!(missing["message"].as_str().unwrap().contains("#!/no/such/interpreter"), "{missing}");
}

#[test]
fn a_script_printing_a_flood_costs_only_the_kept_head_and_tail() {
    let device = Device::new();
    let flood = "#!/bin/sh\necho FIRST-LINE\nhead -c 50000000 /dev/zero | tr '\\0' x\necho\necho LAST-LINE\n";
    let path = device.write_blueprint(&blueprint(vec![script("flood", "Flood", flood)]));
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    let status = device.status();
    let output = item(&status, "Flood")["output"].as_str().unwrap().to_string();
    assert!(output.len() < 200 * 1024, "kept {} bytes", output.len());
    assert!(output.contains("FIRST-LINE") && output.contains("LAST-LINE"));
    assert!(output.contains("bytes omitted"), "the cut is marked");
}

#[test]
fn hostile_names_are_labels_never_paths_and_print_escaped() {
    let device = Device::new();
    let name = "../../../escape\n\u{1b}[2J/evil";
    // An id with a path separator is refused at validation (hardening::structured_input);
    // a name may hold anything.
    let items =
        vec![json!({ "id": "li-hostile", "name": name, "type": "custom_script", "audit": "#!/bin/sh\nexit 0\n" })];
    let path = device.write_blueprint(&blueprint(items));
    let output = device.check_in_ok(&path, &[]);
    assert!(!text(&output.stdout).contains('\u{1b}'), "no raw escape reaches the terminal");
    assert!(text(&output.stdout).contains("escape\\n\\u{1b}[2J/evil"));
    assert_eq!(item(&device.status(), name)["status"], "succeeded");
    let outside: Vec<_> = std::fs::read_dir(device.root().parent().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains("escape") || entry.file_name() == "evil")
        .collect();
    assert!(outside.is_empty(), "nothing named after the item outside the root");
}

#[test]
fn scripts_run_from_a_private_folder_with_the_run_and_item_ids() {
    let device = Device::new();
    let audit = "#!/bin/sh\nstat -c '%a' \"$(dirname \"$0\")\" > \"$AGENT_ROOT/mode\"\necho \"$AGENT_RUN_ID $AGENT_ITEM_ID $AGENT_CHECKIN_KIND\" > \"$AGENT_ROOT/ids\"\n";
    let path = device.write_blueprint(&blueprint(vec![script("li-ids", "Ids", audit)]));
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    assert_eq!(std::fs::read_to_string(device.root().join("mode")).unwrap().trim(), "700");
    let run_id = device.status()["last_run"]["id"].as_str().unwrap().to_string();
    let ids = std::fs::read_to_string(device.root().join("ids")).unwrap();
    assert_eq!(ids.trim(), format!("{run_id} li-ids daily"));
    let scripts = device.state_dir().join("scripts");
    assert_eq!(std::fs::metadata(&scripts).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::read_dir(&scripts).unwrap().count(), 0, "scripts are removed after the item");
}

#[test]
fn the_next_audit_is_written_and_a_script_that_ran_deleted_while_a_script_runs() {
    let device = Device::new();
    // Each waits (at most 5 s) for what the check-in does beside it, in the run's folder.
    let wait_until = |condition: &str, said: &str| {
        format!(
            "#!/bin/sh\ndir=$(dirname \"$0\")\ni=0\nwhile [ $i -lt 50 ]; do\n  if {condition}; then echo {said}; exit 0; fi\n  sleep 0.1; i=$((i+1))\ndone\nexit 1\n"
        )
    };
    let items = vec![
        script("first", "A first", &wait_until("[ -e \"$dir/1.audit\" ]", "the next audit is there")),
        script("second", "B second", &wait_until("[ ! -e \"$dir/0.audit\" ]", "the audit before is gone")),
    ];
    let path = device.write_blueprint(&blueprint(items));
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    let status = device.status();
    for (name, said) in [("A first", "the next audit is there"), ("B second", "the audit before is gone")] {
        let result = item(&status, name);
        assert_eq!(result["status"], "succeeded", "{result}");
        assert!(result["output"].as_str().unwrap().contains(said), "{result}");
    }
}

#[test]
fn a_reader_that_goes_away_never_stops_the_check_in() {
    let device = Device::new();
    let items =
        (0..5).map(|index| script(&format!("i{index}"), &format!("Item {index}"), "#!/bin/sh\nsleep 0.1\n")).collect();
    let path = device.write_blueprint(&blueprint(items));
    let mut agent = device.spawn(&["run", "--blueprint", path.to_str().unwrap()]);
    drop(agent.stdout.take());
    let output = agent.wait_with_output().unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let status = device.status();
    assert_eq!(status["last_run"]["outcome"], "succeeded");
    assert_eq!(crate::support::last_items(&status).len(), 5);
}
