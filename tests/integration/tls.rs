//! A tenant with its own CA: TLS on 127.0.0.1 with a certificate from a private
//! CA made in the test. A check-in fails without `tenant.ca_file` and passes
//! with it; a pin of another key refuses the tenant before a byte of a request
//! reaches it, the right pin passes; a package the tenant serves downloads with
//! the same CA file; a bad CA file or pin stops the agent with a configuration
//! error naming the key.

mod proxy;

use std::os::unix::fs::PermissionsExt;

use proxy::{PrivateCa, TlsFront};
use serde_json::{Value, json};

use crate::app_fixtures::{app_zip, custom_app, installed_version, sha256};
use crate::http_server::FileServer;
use crate::support::{Device, blueprint, check_in, code, item, text};
use crate::tenant::counting_blueprint;
use crate::tenant::server::TestTenant;

const TOKEN: &str = "tok-tls";

/// Points the device at the tenant `url` with `trust` added to its `tenant` keys.
fn configure(device: &Device, url: &str, trust: Value) {
    let mut tenant = json!({ "url": url, "token": TOKEN });
    tenant.as_object_mut().unwrap().extend(trust.as_object().unwrap().clone());
    let fragment = json!({ "tenant": tenant });
    device.write_file("Library/Application Support/EndpointAgent/config.d/20-tenant.json", &fragment.to_string());
}

/// `ca`'s certificate copied onto the device, as an admin would install it.
fn installed_ca_file(device: &Device, ca: &PrivateCa) -> String {
    let path = device.write_file("etc/tenant-ca.pem", &std::fs::read_to_string(ca.ca_file()).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path.display().to_string()
}

/// `agent run`, expected to fail for want of a blueprint (the tenant refused):
/// its stderr.
fn failed_check_in(device: &Device) -> String {
    let output = device.run(&["run"]);
    let stderr = text(&output.stderr);
    assert_ne!(code(&output), 0, "the check-in should fail: {stderr}");
    stderr
}

#[test]
fn a_tenant_with_its_own_ca_is_trusted_with_its_ca_file_and_not_without() {
    let device = Device::new();
    let ca = PrivateCa::new();
    let tenant = TestTenant::start(TOKEN, counting_blueprint(&device));
    let front = TlsFront::start(&ca, &tenant.url());

    configure(&device, &front.url(), json!({}));
    let stderr = failed_check_in(&device);
    let expected = format!("the tenant's certificate is not trusted ({}", front.url());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(tenant.seen().is_empty(), "nothing reached the tenant");
    assert_eq!(front.received(), "", "no request was sent over the refused connection");

    configure(&device, &front.url(), json!({ "ca_file": installed_ca_file(&device, &ca) }));
    let run = check_in(&device, &[]);
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(run["blueprint_id"], "bp-test");
    let checkins = tenant.seen_at("/api/v1/agent/checkin");
    assert_eq!(checkins.len(), 1);
    assert_eq!(checkins[0].authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
}

#[test]
fn a_pin_of_another_key_refuses_the_tenant_before_any_request_and_the_right_pin_passes() {
    let device = Device::new();
    let ca = PrivateCa::new();
    let tenant = TestTenant::start(TOKEN, counting_blueprint(&device));
    let front = TlsFront::start(&ca, &tenant.url());
    let ca_file = installed_ca_file(&device, &ca);

    configure(&device, &front.url(), json!({ "ca_file": ca_file, "pinned_spki_sha256": ca.ca_pin() }));
    let stderr = failed_check_in(&device);
    let expected = format!("the tenant's public key matches no tenant.pinned_spki_sha256 ({}", front.url());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains(&ca.server_pin()), "the message shows the key found: {stderr}");
    assert_eq!(front.received(), "", "not a byte of a request (nor its Authorization header) was sent");
    assert!(tenant.seen().is_empty());

    let pins = format!("{}, {}", ca.ca_pin(), ca.server_pin());
    configure(&device, &front.url(), json!({ "ca_file": ca_file, "pinned_spki_sha256": pins }));
    let run = check_in(&device, &[]);
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert!(front.received().to_ascii_lowercase().contains(&format!("authorization: bearer {TOKEN}")));
    assert_eq!(tenant.seen_at("/api/v1/agent/checkin").len(), 1);
}

#[test]
fn a_bad_ca_file_or_pin_is_a_configuration_error_naming_the_key() {
    let device = Device::new();
    let not_pem = device.write_file("etc/not-a-ca.pem", "just some text\n");
    std::fs::set_permissions(&not_pem, std::fs::Permissions::from_mode(0o644)).unwrap();
    let missing = device.root().join("etc/missing.pem");
    let cases = [
        (json!({ "ca_file": missing.display().to_string() }), "tenant.ca_file", "cannot read the CA file"),
        (json!({ "ca_file": not_pem.display().to_string() }), "tenant.ca_file", "is not PEM certificates"),
        (json!({ "pinned_spki_sha256": "not-a-pin" }), "tenant.pinned_spki_sha256", "of a SHA-256"),
    ];
    for (trust, key, problem) in cases {
        configure(&device, "https://tenant.example.com", trust.clone());
        let output = device.run(&["run"]);
        let stderr = text(&output.stderr);
        assert_eq!(code(&output), 2, "{trust}: {stderr}");
        assert!(stderr.contains(key) && stderr.contains(problem), "{trust}: {stderr}");
    }
}

#[test]
fn a_package_served_under_the_tenants_own_ca_downloads_with_its_ca_file() {
    let (device, server, ca) = (Device::new(), FileServer::start(), PrivateCa::new());
    let front = TlsFront::start(&ca, &server.url(""));
    let zip = app_zip("2.1", 1024);
    server.serve("/Foo.zip", zip.clone());
    let url = format!("{}/Foo.zip", front.url());
    let path =
        device.write_blueprint(&blueprint(vec![custom_app("zip", &url, &sha256(&zip), "audit_and_enforce", None)]));

    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let message = item(&device.status(), "Foo")["message"].as_str().unwrap().to_string();
    assert!(message.contains("certificate"), "{message}");
    assert_eq!(installed_version(&device), None);

    let ca_file = installed_ca_file(&device, &ca);
    let fragment = json!({ "tenant": { "ca_file": ca_file } });
    device.write_file("Library/Application Support/EndpointAgent/config.d/20-tenant.json", &fragment.to_string());
    device.check_in_ok(&path, &[]);
    assert_eq!(installed_version(&device).as_deref(), Some("2.1"));
    assert_eq!(server.requests("/Foo.zip").len(), 1, "only the trusted connection fetched it");
}
