//! Credentials, each good for one thing: an enrollment secret only enrolls, the
//! device token it yields acts only for its device, an admin rotates and revokes
//! that token, and only an admin token reaches the devices API.

use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, DEVICE_TOKEN, ENROLLMENT_SECRET, TOKEN, Tenant, seed};

fn checkin_body(device_id: &str) -> serde_json::Value {
    json!({ "device_id": device_id, "kind": "recurring", "agent_version": "0.1.0" })
}

/// `POST path` with `token` and `body`; the status and the `X-Device-Token` header.
fn post(tenant: &Tenant, token: &str, path: &str, body: serde_json::Value) -> (u16, Option<String>) {
    let response = tenant.raw(Method::POST, path).bearer_auth(token).json(&body).send().expect("an answer");
    let rotated = response.headers().get("x-device-token").map(|value| value.to_str().unwrap().to_string());
    (response.status().as_u16(), rotated)
}

/// Enrolls `device_id` with the secret; the issued token.
fn enroll(tenant: &Tenant, device_id: &str) -> String {
    let request = tenant.raw(Method::POST, "/api/v1/agent/enroll").bearer_auth(ENROLLMENT_SECRET);
    let reply = tenant.json(request.json(&json!({ "device_id": device_id, "serial_number": "C02XYZ" })), 201);
    reply["device_token"].as_str().expect("a device token").to_string()
}

#[test]
fn an_enrollment_secret_only_enrolls_and_the_issued_token_acts_only_for_its_device() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let token = enroll(&tenant, "DEVICE-7");
    assert!(token.len() >= 64 && token != enroll(&tenant, "DEVICE-8"), "random per device: {token}");
    assert_eq!(post(&tenant, &token, "/api/v1/agent/checkin", checkin_body("DEVICE-7")), (200, None));
    assert_eq!(post(&tenant, &token, "/api/v1/agent/checkin", checkin_body("DEVICE-8")).0, 403);

    let refused = tenant.raw(Method::POST, "/api/v1/agent/checkin").bearer_auth(ENROLLMENT_SECRET);
    let reply = tenant.json(refused.json(&checkin_body("DEVICE-7")), 403);
    assert!(reply["error"].as_str().unwrap().contains("can only enroll"), "{reply}");
    let blueprint =
        tenant.raw(Method::GET, "/api/v1/agent/blueprint?device_id=DEVICE-7").bearer_auth(ENROLLMENT_SECRET);
    tenant.json(blueprint, 403);
    let results = json!({ "device_id": "DEVICE-7", "run_id": "run-1", "run": {} });
    assert_eq!(post(&tenant, ENROLLMENT_SECRET, "/api/v1/agent/results", results).0, 403);
    assert_eq!(post(&tenant, ADMIN_TOKEN, "/api/v1/agent/checkin", checkin_body("DEVICE-7")).0, 403);

    for not_a_secret in [TOKEN, DEVICE_TOKEN, ADMIN_TOKEN, token.as_str()] {
        assert_eq!(post(&tenant, not_a_secret, "/api/v1/agent/enroll", json!({ "device_id": "DEVICE-9" })).0, 403);
    }
    assert_eq!(post(&tenant, "wrong-secret", "/api/v1/agent/enroll", json!({ "device_id": "DEVICE-9" })).0, 401);
    assert_eq!(post(&tenant, ENROLLMENT_SECRET, "/api/v1/agent/enroll", json!({ "device_id": " " })).0, 400);
}

#[test]
fn the_devices_api_takes_the_admin_token_alone() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let issued = enroll(&tenant, "DEVICE-1");
    let paths = ["/api/v1/devices", "/api/v1/devices/DEVICE-1", "/api/v1/devices/DEVICE-1/commands"];
    for path in paths {
        tenant.json(tenant.admin_get(path), 200);
        for token in [TOKEN, DEVICE_TOKEN, ENROLLMENT_SECRET, issued.as_str()] {
            let reply = tenant.json(tenant.raw(Method::GET, path).bearer_auth(token), 403);
            assert_eq!(reply["error"], "the devices API needs an admin token", "{path}");
        }
    }
    for token in [TOKEN, DEVICE_TOKEN, ENROLLMENT_SECRET, issued.as_str()] {
        assert_eq!(post(&tenant, token, "/api/v1/devices/DEVICE-1/action/blankpush", json!({})).0, 403);
        assert_eq!(post(&tenant, token, "/api/v1/devices/DEVICE-1/token/rotate", json!({})).0, 403);
        let removed = tenant.raw(Method::DELETE, "/api/v1/devices/DEVICE-1").bearer_auth(token).send();
        assert_eq!(removed.expect("an answer").status(), 403);
        let revoked = tenant.raw(Method::DELETE, "/api/v1/devices/DEVICE-1/token").bearer_auth(token).send();
        assert_eq!(revoked.expect("an answer").status(), 403);
    }
    let device = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1"), 200);
    assert_eq!(device["removed"], false, "nothing was removed");
}

#[test]
fn a_rotated_token_is_sent_until_used_and_a_revoked_one_is_refused_until_the_device_enrolls_again() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let old = enroll(&tenant, "DEVICE-7");
    tenant.json(tenant.admin_post("/api/v1/devices/DEVICE-7/token/rotate", json!({})), 202);
    let (status, announced) = post(&tenant, &old, "/api/v1/agent/checkin", checkin_body("DEVICE-7"));
    let new = announced.expect("the reply carries the rotated token");
    assert_eq!(status, 200);
    assert_ne!(new, old);
    let results = json!({ "device_id": "DEVICE-7", "run_id": "run-1", "run": {} });
    assert_eq!(post(&tenant, &old, "/api/v1/agent/results", results), (201, Some(new.clone())), "old still works");
    assert_eq!(post(&tenant, &new, "/api/v1/agent/checkin", checkin_body("DEVICE-7")), (200, None), "new in use");
    assert_eq!(post(&tenant, &old, "/api/v1/agent/checkin", checkin_body("DEVICE-7")).0, 401, "old dropped");
    tenant.json(tenant.admin_post("/api/v1/devices/NOPE/token/rotate", json!({})), 404);

    let revoke = |device: &str| tenant.raw(Method::DELETE, &format!("/api/v1/devices/{device}/token"));
    assert_eq!(revoke("DEVICE-7").bearer_auth(ADMIN_TOKEN).send().expect("an answer").status(), 204);
    assert_eq!(post(&tenant, &new, "/api/v1/agent/checkin", checkin_body("DEVICE-7")).0, 401, "revoked");
    assert_eq!(revoke("DEVICE-7").bearer_auth(ADMIN_TOKEN).send().expect("an answer").status(), 404);
    let again = enroll(&tenant, "DEVICE-7");
    assert_eq!(post(&tenant, &again, "/api/v1/agent/checkin", checkin_body("DEVICE-7")), (200, None));
    assert_eq!(post(&tenant, &new, "/api/v1/agent/checkin", checkin_body("DEVICE-7")).0, 401);
}
