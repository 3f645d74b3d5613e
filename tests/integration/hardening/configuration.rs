//! Configuration trusted only when only root could have written it, as sshd's
//! StrictModes: a file, fragment or folder another user could have written is
//! skipped with a warning naming it, whichever layer it belongs to. The agent's own
//! files get tight modes whatever the umask. Any value of any key is in `values`.

mod links;
mod values;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::User;
use serde_json::Value;

use crate::support::{Device, PATIENCE, blueprint, code, running_as_root, script, text};

const SUPPORT: &str = "Library/Application Support/EndpointAgent";
const MANAGED_PREFERENCES: &str = "Library/Managed Preferences/io.endpointagent.agent.plist";
const ONLY_ROOT: &str = "only root may write the agent's configuration";

/// The unprivileged user another process is dropped to.
fn nobody() -> User {
    User::from_name("nobody").expect("user database read").expect("a nobody user")
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `agent config --json --show-origin` plus `arguments`: the effective values by key,
/// and stderr.
fn effective_config(device: &Device) -> (Value, String) {
    let output = device.run(&["config", "--json", "--show-origin"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    (serde_json::from_slice(&output.stdout).expect("config is JSON"), text(&output.stderr))
}

/// Asserts `key` kept its default and one warning line names `path` and says why.
fn assert_skipped(device: &Device, key: &str, default: &str, path: &Path, why: &str) {
    let (config, stderr) = effective_config(device);
    assert_eq!(config[key]["value"], default, "the skipped value must not apply: {stderr}");
    assert_eq!(config[key]["origin"], "default");
    let line = stderr.lines().find(|line| line.contains(&path.display().to_string())).unwrap_or_else(|| {
        panic!("no warning names {}: {stderr}", path.display());
    });
    assert!(line.contains("skipped") && line.contains(why) && line.contains(ONLY_ROOT), "{line}");
}

/// `text` written at `path` by a shell running as `nobody`, in a scratch folder
/// nobody may write; returns where it was written.
fn written_by_nobody(scratch: &Path, name: &str, contents: &str) -> PathBuf {
    chmod(scratch, 0o777);
    let path = scratch.join(name);
    let user = nobody();
    let status = Command::new("/bin/sh")
        .args(["-c", "umask 022; printf '%s' \"$0\" > \"$1\"", contents, path.to_str().unwrap()])
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .status()
        .expect("shell starts");
    assert!(status.success());
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), user.uid.as_raw(), "nobody wrote it");
    path
}

#[test]
fn a_fragment_a_process_dropped_to_nobody_wrote_is_skipped_and_named() {
    if !running_as_root("dropping to nobody") {
        return;
    }
    let device = Device::new();
    device.write_file(&format!("{SUPPORT}/config.d/10-root.json"), r#"{"timeouts": {"auto_app": "2h"}}"#);
    let scratch = tempfile::tempdir().unwrap();
    let written = written_by_nobody(scratch.path(), "20-user.json", r#"{"timeouts": {"run": "1s"}}"#);
    // An admin's careless `mv` keeps the owner.
    let fragment = device.root().join(format!("{SUPPORT}/config.d/20-user.json"));
    std::fs::rename(&written, &fragment).unwrap();

    assert_skipped(&device, "timeouts.run", "12h", &fragment, "owned by nobody");
    let (config, _) = effective_config(&device);
    assert_eq!(config["timeouts.auto_app"]["value"], "2h", "root's fragment beside it still applies");
}

#[test]
fn a_world_writable_fragment_is_skipped() {
    let device = Device::new();
    let fragment = device.write_file(&format!("{SUPPORT}/config.d/20-x.json"), r#"{"timeouts.run": "1s"}"#);
    chmod(&fragment, 0o666);
    assert_skipped(&device, "timeouts.run", "12h", &fragment, "writable by group or others (mode 0666)");
    chmod(&fragment, 0o644);
    let (config, stderr) = effective_config(&device);
    assert_eq!(config["timeouts.run"]["value"], "1s", "once only root may write it, it applies: {stderr}");
}

#[test]
fn a_group_writable_config_file_is_skipped() {
    let device = Device::new();
    let config_file = device.write_file(
        &format!("{SUPPORT}/config.plist"),
        r#"<?xml version="1.0"?><plist version="1.0"><dict><key>timeouts.run</key><string>1s</string></dict></plist>"#,
    );
    chmod(&config_file, 0o664);
    assert_skipped(&device, "timeouts.run", "12h", &config_file, "writable by group or others (mode 0664)");
}

#[test]
fn a_world_writable_dropin_folder_is_skipped_whole() {
    let device = Device::new();
    device.write_file(&format!("{SUPPORT}/config.d/10-a.json"), r#"{"timeouts.run": "1s"}"#);
    device.write_file(&format!("{SUPPORT}/config.d/20-b.json"), r#"{"timeouts.auto_app": "2h"}"#);
    let folder = device.root().join(format!("{SUPPORT}/config.d"));
    chmod(&folder, 0o777);
    assert_skipped(&device, "timeouts.run", "12h", &folder, "writable by group or others (mode 0777)");
    let (config, stderr) = effective_config(&device);
    assert_eq!(config["timeouts.auto_app"]["value"], "6h", "{stderr}");
    assert!(stderr.contains("every fragment in it"), "{stderr}");
}

#[test]
fn a_folder_on_the_way_others_may_write_skips_the_file_below_it() {
    let device = Device::new();
    device.write_file(
        &format!("{SUPPORT}/config.plist"),
        r#"<?xml version="1.0"?><plist version="1.0"><dict><key>timeouts.run</key><string>1s</string></dict></plist>"#,
    );
    let support = device.root().join(SUPPORT);
    chmod(&support, 0o775);
    let real = std::fs::canonicalize(&support).unwrap();
    let why = format!("folder {} is writable by group or others (mode 0775)", real.display());
    assert_skipped(&device, "timeouts.run", "12h", &device.root().join(format!("{SUPPORT}/config.plist")), &why);
}

#[test]
fn managed_preferences_owned_by_nobody_are_skipped() {
    if !running_as_root("giving a file to nobody") {
        return;
    }
    let device = Device::new();
    let managed = device.write_file(
        MANAGED_PREFERENCES,
        r#"<?xml version="1.0"?><plist version="1.0"><dict><key>timeouts.run</key><string>1s</string></dict></plist>"#,
    );
    nix::unistd::chown(&managed, Some(nobody().uid), None).unwrap();
    assert_skipped(&device, "timeouts.run", "12h", &managed, "owned by nobody");
}

#[test]
fn a_skipped_fragment_does_not_reach_a_check_in() {
    let device = Device::new();
    let marker = device.root().join("ran.txt");
    let blueprint_file = device.write_blueprint(&blueprint(vec![script(
        "li-1",
        "Marker",
        &format!("#!/bin/sh\necho ran > '{}'\n", marker.display()),
    )]));
    let fragment = device.write_file(&format!("{SUPPORT}/config.d/20-x.json"), r#"{"timeouts.run": "1ns"}"#);
    chmod(&fragment, 0o646);
    let output = device.check_in(&blueprint_file, &[]);
    assert_eq!(code(&output), 0, "the 1ns budget did not apply: {}", text(&output.stderr));
    assert!(marker.exists());
    assert!(text(&output.stderr).contains(&fragment.display().to_string()), "{}", text(&output.stderr));
}

/// The real binary started by a shell under `umask 000`, with the device's environment.
fn agent_under_open_umask(device: &Device, arguments: &[&str]) -> Command {
    let agent = device.agent();
    let mut command = Command::new("/bin/sh");
    command.env_clear();
    for (name, value) in agent.get_envs() {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    command.args(["-c", "umask 000; exec \"$0\" \"$@\""]).arg(agent.get_program()).args(arguments);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display())).permissions().mode() & 0o777
}

/// Waits (bounded) until `path` exists.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < PATIENCE, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn state_and_log_folders_another_user_made_first_become_the_agents_own() {
    if !running_as_root("giving folders to nobody") {
        return;
    }
    let device = Device::new();
    let nobody = nobody();
    let (state, logs) = (device.state_dir(), device.root().join("Library/Logs/EndpointAgent"));
    for folder in [&state, &logs] {
        std::fs::create_dir_all(folder).unwrap();
        chmod(folder, 0o777);
        nix::unistd::chown(folder, Some(nobody.uid), None).unwrap();
    }
    let blueprint_file = device.write_blueprint(&blueprint(vec![script("li-1", "Pass", "#!/bin/sh\nexit 0\n")]));
    device.check_in_ok(&blueprint_file, &[]);
    for (folder, expected) in [(&state, 0o700), (&logs, 0o750)] {
        let metadata = std::fs::metadata(folder).unwrap();
        assert_eq!(metadata.uid(), 0, "{} belongs to the agent, not nobody", folder.display());
        assert_eq!(mode(folder), expected, "{}", folder.display());
    }
}

#[test]
fn under_an_open_umask_the_store_its_journal_and_the_logs_stay_private() {
    let device = Device::new();
    let (started, release) = (device.root().join("started"), device.root().join("release"));
    let audit = format!(
        "#!/bin/sh\ntouch '{}'\ni=0\nwhile [ ! -e '{}' ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n",
        started.display(),
        release.display()
    );
    let blueprint_file = device.write_blueprint(&blueprint(vec![script("li-1", "Wait", &audit)]));
    let agent = agent_under_open_umask(&device, &["run", "--blueprint", blueprint_file.to_str().unwrap()])
        .spawn()
        .expect("agent starts");
    wait_for(&started);

    // While the check-in runs, SQLite's write-ahead log and shared memory exist.
    let state = device.state_dir();
    assert_eq!(mode(&state), 0o700);
    for name in ["agent.sqlite3", "agent.sqlite3-wal", "agent.sqlite3-shm"] {
        assert_eq!(mode(&state.join(name)), 0o600, "{name}");
    }
    let logs = device.root().join("Library/Logs/EndpointAgent");
    assert_eq!(mode(&logs) & 0o007, 0, "the log folder is not open to others: {:o}", mode(&logs));
    let log_files: Vec<PathBuf> =
        std::fs::read_dir(&logs).unwrap().map(|entry| entry.unwrap().path()).filter(|path| path.is_file()).collect();
    assert!(!log_files.is_empty());
    for file in &log_files {
        assert_eq!(mode(file), 0o640, "{}", file.display());
    }

    std::fs::write(&release, "").unwrap();
    let output = agent.wait_with_output().unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(mode(&state.join("agent.sqlite3")), 0o600);
    assert_eq!(mode(&state.join("scripts")), 0o700);
}
