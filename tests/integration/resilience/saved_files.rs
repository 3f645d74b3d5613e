//! A saved blueprint that no longer parses is treated as absent, and a self-update is
//! installed only when the new binary says so.

use serde_json::Value;

use crate::support::{Device, check_in, code, logged, text};
use crate::tenant::self_update::{bare_installer, offering};
use crate::tenant::server::TestTenant;
use crate::tenant::{configure, counting_blueprint, dead_url};

const BLUEPRINT: &str = "/api/v1/agent/blueprint";
const DAMAGE_LOGGED: &str = "The saved blueprint is damaged";

/// A device that checked in once with a test tenant, so `state/blueprint.json` and
/// its `ETag` are saved.
fn checked_in_once() -> (Device, TestTenant) {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    assert_eq!(check_in(&device, &[])["outcome"], "succeeded");
    (device, tenant)
}

fn saved_blueprint(device: &Device) -> std::path::PathBuf {
    device.state_dir().join("blueprint.json")
}

/// Damages the saved blueprint with `damaged`, checks in again, and checks the
/// tenant's full copy was fetched (no `If-None-Match`), ran, and replaced it.
fn heals_from_the_tenant(damaged: &[u8]) {
    let (device, tenant) = checked_in_once();
    let healthy = std::fs::read(saved_blueprint(&device)).unwrap();
    std::fs::write(saved_blueprint(&device), damaged).unwrap();

    let output = device.run(&["run", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let run: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(run["blueprint_id"], "bp-test");
    let ran = std::fs::read_to_string(device.root().join("ran.txt")).unwrap();
    assert_eq!(ran.lines().count(), 2, "the tenant's blueprint ran again");

    let requests = tenant.seen_at(BLUEPRINT);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].if_none_match, None, "no ETag for a damaged blueprint");
    assert_eq!(requests[1].status, 200, "the full copy was sent");
    let saved = std::fs::read(saved_blueprint(&device)).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&saved).unwrap(), serde_json::from_slice::<Value>(&healthy).unwrap());
    let log = logged(&device);
    assert_eq!(log.matches(DAMAGE_LOGGED).count(), 1, "logged once: {log}");
    let line = log.lines().find(|line| line.contains(DAMAGE_LOGGED)).unwrap();
    assert!(line.contains("state/blueprint.json"), "names the file: {line}");

    let third = check_in(&device, &[]);
    assert_eq!(third["outcome"], "succeeded");
    assert_eq!(tenant.seen_at(BLUEPRINT)[2].status, 304, "healthy again: the ETag is sent and matches");
}

#[test]
fn a_garbage_saved_blueprint_is_replaced_by_the_tenants_copy() {
    heals_from_the_tenant(b"\x00\xffnot json at all");
}

#[test]
fn a_truncated_saved_blueprint_is_replaced_by_the_tenants_copy() {
    let (device, _tenant) = checked_in_once();
    let healthy = std::fs::read(saved_blueprint(&device)).unwrap();
    heals_from_the_tenant(&healthy[..healthy.len() / 2]);
}

#[test]
fn a_too_deep_saved_blueprint_is_replaced_by_the_tenants_copy() {
    heals_from_the_tenant("[".repeat(100_000).as_bytes());
}

#[test]
fn a_damaged_saved_blueprint_and_a_down_tenant_say_there_is_no_usable_blueprint() {
    let (device, _tenant) = checked_in_once();
    std::fs::write(saved_blueprint(&device), b"{\"id\": \"bp-").unwrap();
    configure(&device, &dead_url(), "tok-1");

    let output = device.run(&["run"]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no usable blueprint") && stderr.contains("state/blueprint.json"), "{stderr}");
    let ran = std::fs::read_to_string(device.root().join("ran.txt")).unwrap();
    assert_eq!(ran.lines().count(), 1, "nothing ran");
    assert_eq!(logged(&device).matches(DAMAGE_LOGGED).count(), 1, "the damage is logged once");
}

const OURS: &str = env!("CARGO_PKG_VERSION");

/// Checks in with a tenant offering 99.0.0 and an `installer` that exits 0 but
/// installs nothing; the `agent_update` then shown.
fn update_with_an_installer_that_installs_nothing(device: &Device) -> Value {
    let _tenant = offering(device, "99.0.0", None);
    let set_installer = bare_installer(device, "echo 'installer: The upgrade was successful.'\nexit 0\n");
    let run = check_in(device, &["--set", &set_installer]);
    assert_eq!(run["outcome"], "succeeded", "a failed self-update does not fail the check-in: {run:#}");
    assert!(logged(device).contains("Agent update failed."));
    assert!(!logged(device).contains("Agent updated;"));
    device.status()["agent_update"].clone()
}

#[test]
fn an_installer_that_exits_0_but_leaves_the_old_agent_is_a_failed_update() {
    let device = Device::new();
    let binary = device.write_file("usr/local/bin/agent", &format!("#!/bin/sh\necho 'agent {OURS}'\n"));
    std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let update = update_with_an_installer_that_installs_nothing(&device);
    assert_eq!(update["outcome"], "failed", "{update:#}");
    let expected = format!("agent 99.0.0: the installer exited 0, but the installed agent reports {OURS}, not 99.0.0");
    assert_eq!(update["message"], expected.as_str());
}

#[test]
fn an_installer_that_exits_0_but_leaves_no_agent_is_a_failed_update() {
    let device = Device::new();
    let update = update_with_an_installer_that_installs_nothing(&device);
    assert_eq!(update["outcome"], "failed", "{update:#}");
    let message = update["message"].as_str().unwrap();
    assert!(message.contains("the installed agent") && message.contains("usr/local/bin/agent"), "{message}");
    assert!(message.contains("could not run"), "{message}");
}
