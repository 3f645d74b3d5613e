//! A script's child that leaves the item's process group (`setsid`, a double fork) is
//! stopped when the item ends, and each one is logged.

use serde_json::Value;

use crate::support::{Device, blueprint, code, is_alive, item, read_pid, script, text};

/// Kills a test's escapee should the agent have left it running.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.0), nix::sys::signal::SIGKILL);
    }
}

/// An audit that starts `escape` in the background (a command line that writes its
/// own pid to `$AGENT_ROOT/escapee.pid`), waits for that pid, and exits 0.
fn audit_starting(escape: &str) -> String {
    format!(
        "#!/bin/sh\n{escape} </dev/null >/dev/null 2>&1 &\n\
         while [ ! -s \"$AGENT_ROOT/escapee.pid\" ]; do sleep 0.01; done\nexit 0\n"
    )
}

/// Runs one item with `audit`, and returns the escapee's pid and the records logged
/// as "Stopped a process that left the item's group."
fn check_in_with(audit: &str) -> (i32, KillOnDrop, Vec<Value>) {
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(vec![script("escape", "Escape", audit)]));
    let ran = device.check_in(&path, &["--set", "timeouts.termination_grace=1s"]);
    let pid = read_pid(&device.root().join("escapee.pid"));
    let guard = KillOnDrop(pid);
    assert_eq!(code(&ran), 0, "{}", text(&ran.stderr));
    assert_eq!(item(&device.status(), "Escape")["status"], "succeeded");
    let logs = device.run(&["logs", "--json"]);
    let stopped = text(&logs.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["message"] == "Stopped a process that left the item's group.")
        .collect();
    (pid, guard, stopped)
}

#[test]
fn a_child_that_calls_setsid_is_stopped_when_the_item_ends_and_logged() {
    let escape = "setsid sh -c 'echo $$ > \"$AGENT_ROOT/escapee.pid\"; exec sleep 300'";
    let (pid, _guard, stopped) = check_in_with(&audit_starting(escape));
    assert!(!is_alive(pid), "the setsid escapee {pid} outlived the check-in");
    assert_eq!(stopped.len(), 1, "{stopped:#?}");
    assert_eq!(stopped[0]["pid"], pid);
    assert_eq!(stopped[0]["name"], "sleep");
}

#[test]
fn a_double_forked_daemon_in_a_new_session_is_stopped_when_the_item_ends() {
    // The new session's leader exits at once: its child is orphaned while the item still runs.
    let escape = "setsid sh -c 'sh -c \"echo \\$\\$ > \\\"$AGENT_ROOT/escapee.pid\\\"; exec sleep 300\" & exit 0'";
    let (pid, _guard, stopped) = check_in_with(&audit_starting(escape));
    assert!(!is_alive(pid), "the double-forked process {pid} outlived the check-in");
    assert_eq!(stopped.len(), 1, "{stopped:#?}");
    assert_eq!(stopped[0]["pid"], pid);
    assert_eq!(stopped[0]["name"], "sleep");
}
