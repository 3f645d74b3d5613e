//! Self-update against the test tenant: its check-in reply offers a newer agent
//! (`latest_agent`) or requires one (`minimum_agent_version`); the package comes
//! from the tenant and a stand-in `installer` records its arguments and the
//! package it received.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::server::TestTenant;
use super::{configure, counting_blueprint};
use crate::app_fixtures::{cache_files, recorded, sha256, stand_in};
use crate::support::{Device, check_in, logged};

const OURS: &str = env!("CARGO_PKG_VERSION");
const RESULTS: &str = "/api/v1/agent/results";

/// What the tenant serves as the agent's package: text, so the stand-in can keep it.
fn package(version: &str) -> String {
    format!("xar!fake agent package\nversion {version}\n")
}

/// The marker the agent keeps while it runs the installer on its own package.
pub(crate) const MARKER: &str = "Library/Application Support/EndpointAgent/state/agent-update.pending";

/// A tenant offering `version` at `/packages/agent-<version>.pkg`, announced
/// with `announced_sha256` (the package's own unless a test lies), to a device
/// whose signing team is pinned and whose `pkgutil` and `spctl` find the
/// package signed by it and notarized.
pub(crate) fn offering(device: &Device, version: &str, announced_sha256: Option<&str>) -> TestTenant {
    let tenant = TestTenant::start("tok-1", counting_blueprint(device));
    configure(device, &tenant.url(), "tok-1");
    crate::signatures::pin_signed_release(device);
    let path = format!("/packages/agent-{version}.pkg");
    let sha = announced_sha256.map_or_else(|| sha256(package(version).as_bytes()), str::to_string);
    let latest = json!({ "version": version, "url": format!("{}{path}", tenant.url()), "sha256": sha });
    tenant.change(|state| {
        state.latest_agent = Some(latest);
        state.files.push((path, package(version)));
    });
    tenant
}

/// A stand-in `installer` that keeps the package it was given at `tools/received.pkg`
/// and, as the real package does, installs `usr/local/bin/agent` on the target: a
/// script answering `--version` with the package's version.
pub(crate) fn installer(device: &Device, body_after_copy: &str) -> String {
    bare_installer(device, &format!("{LAY_DOWN_AGENT}{body_after_copy}"))
}

/// Writes `$4/usr/local/bin/agent` printing `agent <the package's version line>`.
const LAY_DOWN_AGENT: &str = r#"version=$(sed -n 's/^version //p' "$2")
mkdir -p "$4/usr/local/bin"
printf '#!/bin/sh\necho "agent %s"\n' "$version" > "$4/usr/local/bin/agent"
chmod 755 "$4/usr/local/bin/agent"
"#;

/// Like [`installer`], but installing nothing: only `body_after_copy` runs.
pub(crate) fn bare_installer(device: &Device, body_after_copy: &str) -> String {
    let received = device.root().join("tools/received.pkg");
    let body = format!("cat \"$2\" > '{}'\n{body_after_copy}", received.display());
    format!("commands.installer={}", stand_in(device, "installer", &body).display())
}

fn package_requests(tenant: &TestTenant) -> usize {
    tenant.seen().iter().filter(|seen| seen.path.starts_with("/packages/")).count()
}

/// The `agent_update` of each results report the tenant received, in order.
fn reported_updates(tenant: &TestTenant) -> Vec<Value> {
    let results = tenant.seen_at(RESULTS);
    results.iter().map(|seen| serde_json::from_str::<Value>(&seen.body).unwrap()["agent_update"].clone()).collect()
}

#[test]
fn a_newer_agent_is_downloaded_verified_and_installed_after_the_results_then_reported_once() {
    let device = Device::new();
    let tenant = offering(&device, "99.0.0", None);
    let set_installer = installer(&device, "echo 'installer: The upgrade was successful.'\n");
    let run = check_in(&device, &["--set", &set_installer]);
    assert_eq!(run["outcome"], "succeeded", "{run:#}");

    let sha = sha256(package("99.0.0").as_bytes());
    let cached = device.state_dir().join(format!("downloads/{sha}.pkg"));
    let root = device.root().display();
    assert_eq!(recorded(&device, "installer"), [format!("-pkg {} -target {root}", cached.display())]);
    let received = std::fs::read_to_string(device.root().join("tools/received.pkg")).unwrap();
    assert_eq!(received, package("99.0.0"), "the installer got the verified package");
    assert!(cache_files(&device).is_empty(), "the installed package is not kept: {:?}", cache_files(&device));

    let paths: Vec<_> = tenant.seen().iter().map(|seen| seen.path.clone()).collect();
    let results_at = paths.iter().position(|path| path == RESULTS).unwrap();
    let package_at = paths.iter().position(|path| path.starts_with("/packages/")).unwrap();
    assert!(results_at < package_at, "the results are reported before the update: {paths:?}");
    let download = &tenant.seen()[package_at];
    assert_eq!(download.authorization, None, "the tenant's token goes to the tenant's API only");

    let update = &device.status()["agent_update"];
    assert_eq!((update["outcome"].as_str(), update["from"].as_str()), (Some("installed"), Some(OURS)), "{update:#}");
    assert_eq!(update["to"], "99.0.0");
    assert!(update["message"].as_str().unwrap().starts_with(&format!("installed agent 99.0.0 over {OURS}")));
    let log = logged(&device);
    for step in ["Agent update started", "verified against its sha256", "Running the installer", "Agent updated"] {
        assert!(log.contains(step), "no {step:?} line in the log");
    }

    // Still the old binary (nothing restarted it): the same offer waits for a daily check-in.
    check_in(&device, &["--set", &set_installer]);
    check_in(&device, &["--set", &set_installer]);
    assert_eq!(recorded(&device, "installer").len(), 1, "not installed again at once");
    assert_eq!(package_requests(&tenant), 1);
    assert!(logged(&device).contains("Agent update waits."));
    let reported = reported_updates(&tenant);
    assert_eq!(reported.len(), 3);
    assert_eq!(reported[0], Value::Null, "the first report went out before the update");
    assert_eq!((reported[1]["outcome"].as_str(), reported[1]["to"].as_str()), (Some("installed"), Some("99.0.0")));
    assert_eq!(reported[2], Value::Null, "each outcome is carried once");
}

#[test]
fn the_package_scripts_see_the_running_agent_updating_itself_and_leave_launchd_alone() {
    let device = Device::new();
    let _tenant = offering(&device, "99.0.0", None);
    let tools = device.root().join("tools");
    stand_in(&device, "launchctl", "exit 0\n");
    device.write_file("Library/LaunchDaemons/io.endpointagent.agent.plist", "<string>io.endpointagent.agent</string>");
    // As installer would: the package's own scripts, for the target volume as the running system.
    let repository = env!("CARGO_MANIFEST_DIR");
    let mut body =
        format!("cp \"$4/{MARKER}\" '{0}/marker.seen'\necho $PPID > '{0}/installer.parent'\n", tools.display());
    for script in ["preinstall", "postinstall"] {
        body.push_str(&format!(
            "PATH='{0}':\"$PATH\" sh '{repository}/pkg/scripts/{script}' \"$2\" \"$4\" \"$4\" \"$4\" >> '{0}/scripts.out' 2>&1 || exit 1\n",
            tools.display()
        ));
    }
    let set_installer = installer(&device, &body);
    check_in(&device, &["--set", &set_installer]);

    let update = &device.status()["agent_update"];
    assert_eq!(update["outcome"], "installed", "{update:#}");
    let seen = std::fs::read_to_string(tools.join("marker.seen")).expect("the marker existed while the installer ran");
    let parent = std::fs::read_to_string(tools.join("installer.parent")).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[..2], [format!("pid={}", parent.trim()), "version=99.0.0".to_string()], "{seen}");
    let expires: u64 = lines[2].strip_prefix("expires=").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(expires > now && expires <= now + 31 * 60, "the installer's deadline (30 min) plus its grace: {expires}");
    let said = std::fs::read_to_string(tools.join("scripts.out")).unwrap();
    assert_eq!(said.matches("is updating itself").count(), 2, "{said}");
    assert!(recorded(&device, "launchctl").is_empty(), "launchd was asked: {:?}", recorded(&device, "launchctl"));
    assert!(!device.root().join(MARKER).exists(), "the marker is removed once the installer ended");
}

#[test]
fn the_marker_is_removed_after_a_failed_install_too() {
    let device = Device::new();
    let _tenant = offering(&device, "99.0.0", None);
    let seen = device.root().join("tools/marker.seen");
    let set_installer = installer(&device, &format!("cp \"$4/{MARKER}\" '{}'\nexit 1\n", seen.display()));
    check_in(&device, &["--set", &set_installer]);
    assert_eq!(device.status()["agent_update"]["outcome"], "failed");
    assert!(seen.exists(), "the marker existed while the installer ran");
    assert!(!device.root().join(MARKER).exists(), "the marker is removed after a failure");
}

#[test]
fn a_bad_sha256_is_refused_before_the_installer_and_nothing_stays_in_the_cache() {
    let device = Device::new();
    let wrong = sha256(b"some other package");
    let tenant = offering(&device, "99.0.0", Some(&wrong));
    let set_installer = installer(&device, "exit 0\n");
    let run = check_in(&device, &["--set", &set_installer]);
    assert_eq!(run["outcome"], "succeeded", "a failed self-update does not fail the check-in: {run:#}");
    assert_eq!(package_requests(&tenant), 1);
    assert!(recorded(&device, "installer").is_empty(), "the installer never ran");
    assert!(cache_files(&device).is_empty(), "{:?}", cache_files(&device));
    let update = &device.status()["agent_update"];
    assert_eq!(update["outcome"], "checksum_mismatch", "{update:#}");
    let message = update["message"].as_str().unwrap();
    assert!(message.contains(&format!("expected {wrong}")), "{message}");
    assert!(message.contains(&format!("got {}", sha256(package("99.0.0").as_bytes()))), "{message}");

    check_in(&device, &["--set", &set_installer]);
    assert_eq!(package_requests(&tenant), 1, "the same offer is not fetched again in a recurring check-in");
    assert_eq!(reported_updates(&tenant)[1]["outcome"], "checksum_mismatch");
    check_in(&device, &["--reset-daily", "--set", &set_installer]);
    assert_eq!(package_requests(&tenant), 2, "a daily check-in tries it again");
    assert!(recorded(&device, "installer").is_empty());
}

#[test]
fn an_offer_equal_to_or_older_than_ours_is_not_downloaded() {
    let device = Device::new();
    for version in [OURS, "0.0.1"] {
        let tenant = offering(&device, version, None);
        let set_installer = installer(&device, "exit 0\n");
        check_in(&device, &["--reset-daily", "--set", &set_installer]);
        assert_eq!(package_requests(&tenant), 0, "offered {version}");
    }
    assert!(recorded(&device, "installer").is_empty());
    assert_eq!(device.status()["agent_update"], Value::Null);
}

#[test]
fn a_minimum_above_ours_without_an_offer_cannot_comply_and_says_so_once() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    tenant.change(|state| state.minimum_agent_version = Some("99.0.0".to_string()));
    for _ in 0..3 {
        assert_eq!(check_in(&device, &[])["outcome"], "succeeded");
    }
    let update = &device.status()["agent_update"];
    assert_eq!(update["outcome"], "cannot_comply", "{update:#}");
    assert_eq!((update["from"].as_str(), update["to"].as_str()), (Some(OURS), None));
    assert_eq!(update["message"], "the tenant requires agent 99.0.0 or newer but offers no update");
    assert_eq!(device.status()["drift"]["outdated_client"], true, "the tenant's minimum makes the client outdated");
    let log = logged(&device);
    assert_eq!(log.matches("Cannot comply with the tenant's minimum agent version.").count(), 3, "logged each time");
    let outcomes: Vec<_> = reported_updates(&tenant).iter().map(|update| update["outcome"].clone()).collect();
    assert_eq!(outcomes, [Value::Null, json!("cannot_comply"), Value::Null], "reported once while unchanged");
}

#[test]
fn a_hung_installer_is_stopped_at_the_agent_update_timeout() {
    let device = Device::new();
    let _tenant = offering(&device, "99.0.0", None);
    let pid_file = device.root().join("tools/installer.pid");
    let body = format!("echo $$ > '{}'\nsleep 60 &\nwait\n", pid_file.display());
    let set_installer = installer(&device, &body);
    let clock = Instant::now();
    check_in(
        &device,
        &["--set", &set_installer, "--set", "timeouts.agent_update=2s", "--set", "timeouts.termination_grace=1s"],
    );
    assert!(clock.elapsed() < Duration::from_secs(20), "the check-in took {:?}", clock.elapsed());
    let pid = crate::support::read_pid(&pid_file);
    assert!(!crate::support::is_alive(pid), "the installer outlived its timeout");
    let update = &device.status()["agent_update"];
    assert_eq!(update["outcome"], "failed", "{update:#}");
    assert_eq!(update["message"], "agent 99.0.0: installer ran out of time; its processes were stopped");
    assert!(cache_files(&device).is_empty(), "{:?}", cache_files(&device));
}

#[test]
fn an_install_the_agent_did_not_live_through_is_settled_by_the_next_check_in_and_reported() {
    let device = Device::new();
    let tenant = offering(&device, "99.0.0", None);
    let pid_file = device.root().join("tools/installer.pid");
    let set_installer = installer(&device, &format!("echo $$ > '{}'\nexec sleep 60\n", pid_file.display()));
    let mut agent = device.spawn(&["run", "--set", &set_installer]);
    let installer_pid = crate::support::read_pid(&pid_file);
    assert!(device.root().join(MARKER).exists(), "the marker is there while the installer runs");
    agent.kill().unwrap();
    agent.wait().unwrap();
    let killed = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{installer_pid}")]).status();
    assert!(killed.unwrap().success(), "the installer ran in its own process group");

    let shown = &device.status()["agent_update"];
    assert_eq!(shown["outcome"], "failed", "shown as the next check-in will settle it: {shown:#}");
    check_in(&device, &["--set", &set_installer]);
    let expected =
        format!("the agent stopped while the installer ran and still runs {OURS}: the install did not complete");
    assert_eq!(device.status()["agent_update"]["message"], expected.as_str());
    let reported = reported_updates(&tenant);
    assert_eq!(reported.last().unwrap()["outcome"], "failed", "{reported:?}");
    assert_eq!(recorded(&device, "installer").len(), 1, "the offer waits for a daily check-in");
    assert!(logged(&device).contains("Settled an agent update the agent did not see end."));
    assert!(!device.root().join(MARKER).exists(), "the marker the killed agent left is removed");
    assert!(logged(&device).contains("Removed the agent update marker an earlier agent left behind."));
}
