//! An enrollment secret is not a device credential, end to end against the
//! reference tenant on 127.0.0.1: the secret a profile delivers is exchanged once
//! for a device token stored root-only; the secret cannot act as the device and no
//! token reaches the devices API; a rotated token is stored and the old one serves
//! one grace request; a revoked token is dropped and the device enrolls again;
//! `agent enroll` replaces a stored token with the token or secret an admin gives.

use std::os::unix::fs::PermissionsExt;

use reqwest::Method;
use serde_json::{Value, json};

use crate::end_to_end::harness::{ENROLLMENT_SECRET, TOKEN, Tenant};
use crate::mdm::{mac_with_updates, update_mdm_json};
use crate::support::{Device, blueprint, check_in, script};

const MANAGED_PREFERENCES: &str = "Library/Managed Preferences/io.endpointagent.agent.plist";
const TOKEN_FILE: &str = "Library/Application Support/EndpointAgent/state/device-token.json";

/// A tenant and a device whose profile delivers the tenant's URL and enrollment secret.
fn enrolled_by_profile(secret: &str) -> (Device, Tenant) {
    let device = Device::new();
    let tenant = Tenant::start(blueprint(vec![script("li-ok", "Succeed", "#!/bin/sh\nexit 0\n")]));
    let profile = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>tenant.url</key><string>{}</string>
<key>tenant.enrollment_secret</key><string>{secret}</string>
</dict></plist>"#,
        tenant.url()
    );
    device.write_file(MANAGED_PREFERENCES, &profile);
    (device, tenant)
}

/// The token file as JSON, or `None` when there is none.
fn token_file(device: &Device) -> Option<Value> {
    let text = std::fs::read_to_string(device.root().join(TOKEN_FILE)).ok()?;
    Some(serde_json::from_str(&text).expect("the token file is JSON"))
}

/// The device token in use.
fn device_token(device: &Device) -> String {
    let file = token_file(device).expect("a token file");
    file["device_token"].as_str().expect("a device token").to_string()
}

/// Every log line the agent wrote.
fn all_logs(device: &Device) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(device.log_dir()).expect("a log folder") {
        text.push_str(&std::fs::read_to_string(entry.expect("an entry").path()).unwrap_or_default());
    }
    text
}

/// A check-in that succeeded, talking to the tenant without a refused token left over.
fn checked_in(device: &Device) -> Value {
    let run = check_in(device, &[]);
    assert_eq!((&run["outcome"], &run["drift"]["stale_token"]), (&json!("succeeded"), &json!(false)), "{run:#}");
    run
}

#[test]
fn a_profile_s_secret_is_exchanged_once_for_a_private_device_token_that_alone_acts_as_the_device() {
    let (device, tenant) = enrolled_by_profile(ENROLLMENT_SECRET);
    checked_in(&device);
    let path = device.root().join(TOKEN_FILE);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let token = device_token(&device);
    let stored = std::fs::read_to_string(&path).unwrap();
    assert!(!stored.contains(ENROLLMENT_SECRET), "the file holds no secret: {stored}");
    assert_eq!(tenant.checkins().len(), 1);
    assert_eq!(tenant.reports("results").len(), 1, "the results went with the device token");

    checked_in(&device);
    assert_eq!(device_token(&device), token, "enrolled once: the next check-in uses the stored token");
    assert_eq!(tenant.checkins().len(), 2);
    let logs = all_logs(&device);
    assert!(logs.contains("Enrolled with the tenant"), "{logs}");
    assert!(!logs.contains(&token) && !logs.contains(ENROLLMENT_SECRET), "no credential in the logs");

    let (status, reply) = tenant.request_with(ENROLLMENT_SECRET, Method::POST, "/api/v1/agent/checkin");
    assert_eq!(status, 403, "the secret cannot check in: {reply}");
    let device_id = tenant.device_id();
    for credential in [token.as_str(), ENROLLMENT_SECRET, TOKEN] {
        for (method, path) in [
            (Method::GET, "/api/v1/devices".to_string()),
            (Method::POST, format!("/api/v1/devices/{device_id}/action/blankpush")),
            (Method::DELETE, format!("/api/v1/devices/{device_id}")),
        ] {
            let (status, reply) = tenant.request_with(credential, method, &path);
            assert_eq!(status, 403, "{path}: {reply}");
        }
    }
    assert_eq!(tenant.device()["removed"], false);
}

#[test]
fn a_rotated_token_is_stored_at_once_and_the_old_one_serves_one_grace_request() {
    let (device, tenant) = enrolled_by_profile(ENROLLMENT_SECRET);
    checked_in(&device);
    let first = device_token(&device);
    let device_id = tenant.device_id();
    tenant.rotate_token(&device_id);
    checked_in(&device);
    let second = device_token(&device);
    assert_ne!(second, first, "the check-in reply carried the rotated token");
    assert_eq!(token_file(&device).unwrap().get("previous_token"), None, "used once: the old one is dropped");
    assert_eq!(tenant.request_with(&first, Method::POST, "/api/v1/agent/checkin").0, 401);

    // The token an `update-mdm` reply rotates to is never used before the admin
    // rotates again: the next check-in's first request is refused with it, and the
    // previous token, kept for this, serves that request.
    let stand_ins = mac_with_updates(&device);
    tenant.rotate_token(&device_id);
    update_mdm_json(&device, Some(&stand_ins));
    let unconfirmed = token_file(&device).unwrap();
    assert_eq!(unconfirmed["previous_token"], second.as_str(), "{unconfirmed}");
    tenant.rotate_token(&device_id);
    checked_in(&device);
    let last = token_file(&device).unwrap();
    assert_eq!(last.get("previous_token"), None, "{last}");
    assert_ne!(last["device_token"], unconfirmed["device_token"], "the refused token is gone");
    assert_ne!(last["device_token"], second.as_str(), "the newest rotation arrived in the grace request's reply");
    assert!(all_logs(&device).contains("trying once more with the previous one"));
    assert_eq!(tenant.checkins().len(), 3, "every check-in reached the tenant");
}

#[test]
fn a_revoked_token_is_dropped_and_the_device_enrolls_again_then_a_refused_secret_shows_stale_token() {
    let (device, mut tenant) = enrolled_by_profile(ENROLLMENT_SECRET);
    checked_in(&device);
    let first = device_token(&device);
    tenant.revoke_token(&tenant.device_id());
    checked_in(&device);
    let second = device_token(&device);
    assert_ne!(second, first, "enrolled again");
    assert_eq!(tenant.checkins().len(), 2, "the refused check-in was sent again with the new token");
    assert!(all_logs(&device).contains("it is revoked"));

    tenant.revoke_token(&tenant.device_id());
    tenant.restart(|seed| seed.enrollment_secrets.clear());
    for round in 1..=3 {
        let run = check_in(&device, &[]);
        assert_eq!(run["outcome"], "succeeded", "the saved blueprint still runs: {run:#}");
        assert_eq!(run["drift"]["stale_token"], round == 3, "after {round} refused check-ins: {run:#}");
    }
    assert_eq!(token_file(&device), None, "the revoked token is gone");
    assert_eq!(tenant.checkins().len(), 2);
}

#[test]
fn agent_enroll_replaces_the_stored_device_token_with_what_the_admin_gives() {
    let (device, tenant) = enrolled_by_profile(ENROLLMENT_SECRET);
    checked_in(&device);
    let issued = device_token(&device);

    let token_file_path = device.write_file("token.txt", &format!("{TOKEN}\n"));
    let output = device.run(&["enroll", "--url", &tenant.url(), "--token-file", token_file_path.to_str().unwrap()]);
    assert_eq!(crate::support::code(&output), 0, "{}", crate::support::text(&output.stderr));
    assert_eq!(token_file(&device), None, "the stored device token is removed");
    checked_in(&device);
    assert_eq!(token_file(&device), None, "a token set directly is used as it is, without enrolling");
    assert_eq!(tenant.checkins().len(), 2);

    let secret_file = device.write_file("secret.txt", &format!("{ENROLLMENT_SECRET}\n"));
    let arguments = ["enroll", "--url", &tenant.url(), "--enrollment-secret-file", secret_file.to_str().unwrap()];
    let output = device.run(&arguments);
    assert_eq!(crate::support::code(&output), 0, "{}", crate::support::text(&output.stderr));
    assert!(crate::support::text(&output.stdout).contains("the enrollment secret is stored"));
    std::fs::remove_file(device.root().join(MANAGED_PREFERENCES)).unwrap();
    let fragment = device.root().join("Library/Application Support/EndpointAgent/config.d/50-enrollment.plist");
    let written = std::fs::read_to_string(fragment).unwrap();
    assert!(written.contains("tenant.enrollment_secret") && !written.contains("tenant.token"), "{written}");
    checked_in(&device);
    let enrolled = device_token(&device);
    assert_ne!(enrolled, issued, "enrolled again with the secret the admin gave");
    assert_eq!(tenant.checkins().len(), 3);
}
