//! The log folder, each day's log file and the control socket's folder are reached
//! without following a symbolic link, so nothing is written outside `AGENT_ROOT`;
//! `agent logs` never reads a file through a link at a log file's name.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Device, blueprint, code, script, text};

const LOG_DIR: &str = "Library/Logs/EndpointAgent";

/// A folder outside the device's root, with `agent` links pointing into it.
fn outside() -> tempfile::TempDir {
    tempfile::tempdir().expect("a folder outside the root")
}

fn entries(folder: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(folder).unwrap().map(|entry| entry.unwrap().path()).collect()
}

/// Today's log file name, as the agent names it (UTC).
fn todays_log_file() -> String {
    format!("agent.{}.log", chrono::Utc::now().format("%Y-%m-%d"))
}

fn check_in(device: &Device) -> std::process::Output {
    let blueprint = device.write_blueprint(&blueprint(vec![script("li-1", "Ran", "#!/bin/sh\nexit 0\n")]));
    device.check_in(&blueprint, &[])
}

#[test]
fn a_symlinked_log_folder_is_refused_and_the_check_in_runs() {
    let device = Device::new();
    let outside = outside();
    std::fs::create_dir_all(device.root().join("Library/Logs")).unwrap();
    std::os::unix::fs::symlink(outside.path(), device.root().join(LOG_DIR)).unwrap();
    let output = check_in(&device);
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 0, "{stderr}");
    assert_eq!(entries(outside.path()), Vec::<PathBuf>::new(), "nothing written through the link");
    let warnings: Vec<&str> = stderr.lines().filter(|line| line.contains("Cannot write log files")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains(LOG_DIR) && warnings[0].contains("symbolic link"), "{stderr}");
    assert_eq!(crate::support::last_items(&device.status())[0]["status"], "succeeded");
}

#[test]
fn a_symlinked_parent_of_the_log_folder_is_refused() {
    let device = Device::new();
    let outside = outside();
    std::fs::create_dir_all(device.root().join("Library")).unwrap();
    std::os::unix::fs::symlink(outside.path(), device.root().join("Library/Logs")).unwrap();
    let output = check_in(&device);
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 0, "{stderr}");
    assert_eq!(entries(outside.path()), Vec::<PathBuf>::new(), "nothing made through the link");
    assert!(stderr.contains("Library/Logs") && stderr.contains("symbolic link"), "{stderr}");
}

#[test]
fn a_link_at_todays_log_file_name_is_replaced_and_its_target_untouched() {
    let device = Device::new();
    let outside = outside();
    let target = outside.path().join("target");
    std::fs::write(&target, "keep\n").unwrap();
    let log_dir = device.root().join(LOG_DIR);
    std::fs::create_dir_all(&log_dir).unwrap();
    std::os::unix::fs::symlink(&target, log_dir.join(todays_log_file())).unwrap();
    let output = check_in(&device);
    let stderr = text(&output.stderr);
    assert_eq!(code(&output), 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
    let file = log_dir.join(todays_log_file());
    assert!(std::fs::symlink_metadata(&file).unwrap().is_file(), "a plain file in the link's place");
    assert!(std::fs::read_to_string(&file).unwrap().contains("Item finished."));
    assert!(stderr.contains("Replaced") && stderr.contains(&todays_log_file()), "{stderr}");
}

#[test]
fn agent_logs_never_reads_through_a_link_at_a_log_file_name() {
    let device = Device::new();
    let outside = outside();
    let secret = outside.path().join("secret");
    let line = r#"{"timestamp":"2026-01-05T00:00:00Z","level":"INFO","message":"SECRET-LINE"}"#;
    std::fs::write(&secret, format!("{line}\n")).unwrap();
    assert_eq!(code(&check_in(&device)), 0);
    let log_dir = device.root().join(LOG_DIR);
    std::os::unix::fs::symlink(&secret, log_dir.join("agent.2026-01-05.log")).unwrap();
    for arguments in [&["logs"][..], &["logs", "--json"]] {
        let output = device.run(arguments);
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(code(&output), 0, "{stderr}");
        assert!(!stdout.contains("SECRET-LINE"), "{stdout}");
        assert!(stdout.contains("Item finished."), "the real file is still read: {stdout}");
        assert!(stderr.contains("agent.2026-01-05.log") && stderr.contains("symbolic link"), "{stderr}");
    }
}

#[test]
fn a_symlinked_socket_folder_stops_the_daemon_and_nothing_is_made_outside() {
    let device = Device::new();
    let outside = outside();
    std::fs::create_dir_all(device.root().join("var")).unwrap();
    std::os::unix::fs::symlink(outside.path(), device.root().join("var/run")).unwrap();
    let mut daemon = device.spawn(&["daemon"]);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            daemon.kill().unwrap();
            panic!("the daemon started through a symlinked socket folder");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = daemon.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("var/run") && stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(entries(outside.path()), Vec::<PathBuf>::new(), "no socket outside the root");
}
