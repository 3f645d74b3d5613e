//! The package's scripts and uninstaller run against a scratch root, as installer
//! runs them, with a stand-in `launchctl` that keeps launchd's state in a folder and
//! records every call.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{Workspace, unpack};

/// A stand-in for `launchctl`: `print`, `bootstrap`, `bootout` and `kickstart` on
/// the system domain, answering as launchd does (a job loaded twice or booted out
/// when absent is an error). `failures` in the state folder makes that many
/// `bootstrap` calls fail first, as they do while launchd is still busy.
const LAUNCHCTL: &str = r#"#!/bin/sh
state="$LAUNCHCTL_STATE"
echo "launchctl $*" >> "$state/calls"
case "$1" in
print)
    [ -f "$state/loaded" ] && { echo "$2 = { state = running }"; exit 0; }
    echo "Could not find service \"$2\" in domain for system" >&2; exit 113 ;;
bootstrap)
    [ "$2" = system ] && [ -f "$3" ] || { echo "Bootstrap failed: 2: No such file or directory" >&2; exit 2; }
    grep -q '<string>io.endpointagent.agent</string>' "$3" || { echo "Bootstrap failed: 22" >&2; exit 22; }
    failures=$(cat "$state/failures" 2>/dev/null || echo 0)
    if [ "$failures" -gt 0 ]; then
        echo $((failures - 1)) > "$state/failures"
        echo "Bootstrap failed: 5: Input/output error" >&2; exit 5
    fi
    [ -f "$state/loaded" ] && { echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; }
    touch "$state/loaded" ;;
bootout)
    [ -f "$state/loaded" ] || { echo "Boot-out failed: 3: No such process" >&2; exit 3; }
    rm "$state/loaded" ;;
kickstart)
    [ -f "$state/loaded" ] || { echo "Could not find service" >&2; exit 113; } ;;
*)
    exit 64 ;;
esac
"#;

/// A stand-in for `pkgutil` that records its calls.
const PKGUTIL: &str = "#!/bin/sh\necho \"pkgutil $*\" >> \"$LAUNCHCTL_STATE/calls\"\n";

/// The label every launchctl call names.
const SERVICE: &str = "system/io.endpointagent.agent";

/// A Mac in a folder: the package's payload under `root`, its scripts under
/// `scripts`, and the stand-ins on `PATH`.
struct ScratchMac {
    /// Holds everything.
    workspace: Workspace,
}

impl ScratchMac {
    /// Builds the package and lays its payload and scripts out.
    fn new() -> Self {
        Self::pinned(None)
    }

    /// Builds the package, pinning the agent's updates to `team_id` when given, and
    /// lays its payload and scripts out.
    fn pinned(team_id: Option<&str>) -> Self {
        let workspace = Workspace::new();
        let package = workspace.build_pinned(team_id);
        unpack(&package, &workspace.path("archive"));
        let component = workspace.path("archive/endpoint-agent.pkg");
        unpack(&component.join("Payload"), &workspace.path("root"));
        unpack(&component.join("Scripts"), &workspace.path("scripts"));
        for (name, text) in [("launchctl", LAUNCHCTL), ("pkgutil", PKGUTIL)] {
            let path = workspace.path(&format!("bin/{name}"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        std::fs::create_dir_all(workspace.path("launchd")).unwrap();
        Self { workspace }
    }

    /// Lays the package's payload down again, as installer does after preinstall.
    fn lay_down_payload(&self) {
        unpack(&self.workspace.path("archive/endpoint-agent.pkg/Payload"), &self.root());
    }

    /// The scratch root (the target volume).
    fn root(&self) -> PathBuf {
        self.workspace.path("root")
    }

    /// A command with the stand-ins first on `PATH` and retries without delay.
    fn command(&self, program: &Path) -> Command {
        let path = format!("{}:/usr/bin:/bin", self.workspace.path("bin").display());
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", path)
            .env("LAUNCHCTL_STATE", self.workspace.path("launchd"))
            .env("AGENT_PKG_BOOTSTRAP_DELAY", "0");
        command
    }

    /// Runs the package script `name` as installer would for the target volume
    /// `volume` on a system whose root is `system`.
    fn script(&self, name: &str, volume: &Path, system: &Path) -> Output {
        let package = self.workspace.path("out/endpoint-agent-0.1.0.pkg");
        let mut command = self.command(&self.workspace.path(&format!("scripts/{name}")));
        command.arg(package).arg(volume).arg(volume).arg(system);
        command.output().unwrap()
    }

    /// Runs `name` for the scratch root as the running system.
    fn install_script(&self, name: &str) -> Output {
        let output = self.script(name, &self.root(), &self.root());
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        output
    }

    /// Runs the installed uninstaller on the scratch root (the repository's copy once
    /// the installed one has removed itself).
    fn uninstall(&self, arguments: &[&str]) -> Output {
        let script = self.root().join("Library/Application Support/EndpointAgent/uninstall.sh");
        let script = if script.exists() { script } else { crate::support::repository().join("pkg/uninstall.sh") };
        self.command(&script).env("AGENT_ROOT", self.root()).args(arguments).output().unwrap()
    }

    /// The calls recorded since the last look, with the root written as `ROOT`.
    fn calls(&self) -> Vec<String> {
        let path = self.workspace.path("launchd/calls");
        let calls = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::remove_file(&path).ok();
        let root = self.root().display().to_string();
        calls.lines().map(|line| line.replace(&root, "ROOT")).collect()
    }

    /// Makes the next `count` bootstraps fail.
    fn fail_bootstraps(&self, count: u32) {
        std::fs::write(self.workspace.path("launchd/failures"), count.to_string()).unwrap();
    }

    /// Writes the marker the running agent keeps while it installs its own package,
    /// naming `pid` and expiring `expires_in` seconds from now (negative: passed).
    fn mark_self_update(&self, pid: u32, expires_in: i64) {
        let state = self.root().join("Library/Application Support/EndpointAgent/state");
        std::fs::create_dir_all(&state).unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let text = format!("pid={pid}\nversion=99.0.0\nexpires={}\n", now + expires_in);
        std::fs::write(state.join("agent-update.pending"), text).unwrap();
    }

    /// Whether `relative` exists under the root.
    fn has(&self, relative: &str) -> bool {
        self.root().join(relative).exists()
    }
}

/// `launchctl print`, as every script asks first.
fn print() -> String {
    format!("launchctl print {SERVICE}")
}

/// `launchctl bootstrap` of the installed job.
fn bootstrap() -> String {
    "launchctl bootstrap system ROOT/Library/LaunchDaemons/io.endpointagent.agent.plist".to_string()
}

#[test]
fn install_upgrade_and_uninstall_drive_launchd_in_order() {
    let mac = ScratchMac::new();
    let app = "Applications/Endpoint Self Service.app";
    assert!(mac.has("usr/local/bin/agent") && mac.has("Library/LaunchDaemons/io.endpointagent.agent.plist"));
    assert!(mac.has(&format!("{app}/Contents/MacOS/Endpoint Self Service")));
    let (bootout, kickstart) = (format!("launchctl bootout {SERVICE}"), format!("launchctl kickstart {SERVICE}"));

    mac.install_script("preinstall");
    assert_eq!(mac.calls(), [print()], "a fresh install has nothing to stop");
    mac.install_script("postinstall");
    assert_eq!(mac.calls(), [print(), bootstrap(), kickstart.clone()]);

    mac.install_script("preinstall");
    assert_eq!(mac.calls(), [print(), bootout.clone()], "an upgrade stops the daemon first");
    mac.install_script("postinstall");
    assert_eq!(mac.calls(), [print(), bootstrap(), kickstart.clone()]);

    mac.install_script("postinstall");
    assert_eq!(mac.calls(), [print(), bootout.clone(), bootstrap(), kickstart], "a re-push restarts the new binary");

    let support = "Library/Application Support/EndpointAgent";
    std::fs::create_dir_all(mac.root().join(format!("{support}/state"))).unwrap();
    std::fs::write(mac.root().join(format!("{support}/config.plist")), "<plist/>").unwrap();
    let output = mac.uninstall(&[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(mac.calls(), [print(), bootout, "pkgutil --volume ROOT --forget io.endpointagent.agent".to_string()]);
    for removed in ["usr/local/bin/agent", "Library/LaunchDaemons/io.endpointagent.agent.plist", app] {
        assert!(!mac.has(removed), "{removed} is still there");
    }
    assert!(mac.has("Applications"), "the system's folder stays");
    assert!(!mac.has(&format!("{support}/uninstall.sh")));
    assert!(
        mac.has(&format!("{support}/config.plist")) && mac.has(&format!("{support}/state")),
        "kept without --purge"
    );

    let output = mac.uninstall(&["--purge"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(mac.calls()[0], print(), "nothing left to boot out");
    assert!(!mac.has(support), "--purge removes configuration and state");
}

#[test]
fn postinstall_retries_a_bootstrap_that_races_launchd() {
    let mac = ScratchMac::new();
    mac.fail_bootstraps(2);
    let output = mac.install_script("postinstall");
    assert_eq!(mac.calls(), [print(), bootstrap(), bootstrap(), bootstrap(), format!("launchctl kickstart {SERVICE}")]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("attempt 2 of 10"));
}

#[test]
fn postinstall_fails_once_its_attempts_are_spent() {
    let mac = ScratchMac::new();
    mac.fail_bootstraps(5);
    let root = mac.root();
    let output = mac
        .command(&mac.workspace.path("scripts/postinstall"))
        .env("AGENT_PKG_BOOTSTRAP_ATTEMPTS", "3")
        .args(["package.pkg".as_ref(), root.as_os_str(), root.as_os_str(), root.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(mac.calls(), [print(), bootstrap(), bootstrap(), bootstrap()], "no kickstart after giving up");
}

#[test]
fn a_running_agent_updating_itself_is_left_alone_by_both_scripts() {
    let mac = ScratchMac::new();
    mac.install_script("postinstall");
    mac.calls();
    // This test process stands for the daemon waiting on installer.
    mac.mark_self_update(std::process::id(), 600);
    for name in ["preinstall", "postinstall"] {
        let output = mac.install_script(name);
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(said.contains(&format!("running agent (pid {}) is updating itself", std::process::id())), "{said}");
        assert_eq!(mac.calls(), Vec::<String>::new(), "{name} asked launchd while the agent installs itself");
    }
    assert!(mac.workspace.path("launchd/loaded").exists(), "the daemon stays loaded");
}

#[test]
fn a_marker_whose_agent_is_gone_or_whose_time_passed_is_ignored() {
    let mac = ScratchMac::new();
    mac.install_script("postinstall");
    mac.calls();
    let mut exited = Command::new("true").spawn().unwrap();
    let gone = exited.id();
    exited.wait().unwrap();
    let (bootout, kickstart) = (format!("launchctl bootout {SERVICE}"), format!("launchctl kickstart {SERVICE}"));
    for (pid, expires_in, why) in [(gone, 600, "its process is gone"), (std::process::id(), -1, "it expired")] {
        mac.mark_self_update(pid, expires_in);
        mac.install_script("preinstall");
        assert_eq!(mac.calls(), [print(), bootout.clone()], "an ordinary upgrade: {why}");
        mac.install_script("postinstall");
        assert_eq!(mac.calls(), [print(), bootstrap(), kickstart.clone()], "an ordinary upgrade: {why}");
    }
}

#[test]
fn another_volume_is_left_for_launchd_to_load_at_its_boot() {
    let mac = ScratchMac::new();
    for name in ["preinstall", "postinstall"] {
        let output = mac.script(name, &mac.root(), Path::new("/"));
        assert!(output.status.success(), "{name}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("not the running system"));
    }
    assert_eq!(mac.calls(), Vec::<String>::new(), "launchd of the running system is not asked");
}

#[test]
fn uninstall_refuses_arguments_it_does_not_know() {
    let mac = ScratchMac::new();
    let output = mac.uninstall(&["--everything"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown argument: --everything"));
    assert!(mac.has("usr/local/bin/agent"), "nothing removed");
    assert_eq!(mac.calls(), Vec::<String>::new());
}

#[test]
fn the_package_pin_is_the_last_package_installed_and_goes_with_the_uninstaller() {
    let mac = ScratchMac::pinned(Some("ABCDE12345"));
    let dropin = "Library/Application Support/EndpointAgent/config.d";
    let pin = format!("{dropin}/00-package.plist");
    assert!(mac.has(&pin), "the payload carries the pin");
    std::fs::write(mac.root().join(format!("{dropin}/10-admin.plist")), "<plist/>").unwrap();

    mac.install_script("preinstall");
    assert!(!mac.has(&pin), "preinstall removes the pin an earlier package laid down");
    assert!(mac.has(&format!("{dropin}/10-admin.plist")), "an admin's fragment stays");
    mac.lay_down_payload();
    mac.install_script("postinstall");
    assert!(mac.has(&pin), "an upgrade to a pinned package lays the pin down again");

    let output = mac.uninstall(&[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!mac.has(&pin), "the uninstaller removes the package's pin");
    assert!(mac.has(&format!("{dropin}/10-admin.plist")), "and keeps the admin's fragments without --purge");

    let mac = ScratchMac::pinned(Some("ABCDE12345"));
    let output = mac.uninstall(&[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!mac.has(dropin), "a drop-in folder holding only the pin goes with it");
    assert!(mac.has("Library/Application Support/EndpointAgent"), "the configuration folder is kept");
}
