//! Inventory end to end: the daily check-in's inventory reaches the reference
//! tenant, which then counts the device as `verified` (its MDM profile is
//! installed) and judges the profile's age; a recurring check-in sends none until an admin queues
//! `updateinventory`.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use super::harness::{TOKEN, Tenant, enroll};
use crate::support::{Device, blueprint, check_in, script};

/// Points the device's `profiles` at a stand-in printing an enrolled Mac's
/// profile list (`profiles -C -o stdout-xml`) and enrollment status, through a
/// configuration fragment, so plain `agent run` uses it.
fn enrolled_mac_profiles(device: &Device) {
    let fixtures = format!("{}/tests/fixtures/inventory", env!("CARGO_MANIFEST_DIR"));
    let tool = device.root().join("stand-ins/profiles");
    std::fs::create_dir_all(tool.parent().unwrap()).unwrap();
    let body = format!(
        "#!/bin/sh\ncase \"$1\" in status) cat '{fixtures}/profiles-status/dep-user-approved.txt' ;; \
         -C) cat '{fixtures}/profiles-computer.xml' ;; *) exit 64 ;; esac\n"
    );
    std::fs::write(&tool, body).unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fragment = json!({ "commands": { "profiles": tool } });
    device.write_file("Library/Application Support/EndpointAgent/config.d/30-tools.json", &fragment.to_string());
}

#[test]
fn the_daily_inventory_reaches_the_tenant_and_the_device_turns_verified() {
    let device = Device::new();
    let tenant = Tenant::start(blueprint(vec![script("li-ok", "Succeed", "#!/bin/sh\nexit 0\n")]));
    enroll(&device, &tenant.url(), TOKEN);
    enrolled_mac_profiles(&device);

    let daily = check_in(&device, &[]);
    assert_eq!((&daily["kind"], &daily["outcome"]), (&json!("daily"), &json!("succeeded")), "{daily:#}");
    let inventories = tenant.reports("inventory");
    assert_eq!(inventories.len(), 1, "{inventories:#?}");
    let sent = &inventories[0]["body"];
    assert_eq!(sent["device_id"], tenant.device_id());
    assert_eq!(sent["report_id"], inventories[0]["report_id"]);
    assert_eq!(sent["inventory"]["mdm_profile_installed"], true, "{:#}", sent["inventory"]);
    assert!(sent["inventory"]["mdm_enrolled_at"].is_string(), "{:#}", sent["inventory"]);
    let saved: Value =
        serde_json::from_slice(&std::fs::read(device.root().join(STATE_INVENTORY)).expect("the saved inventory"))
            .unwrap();
    assert_eq!(saved, sent["inventory"], "the tenant got what the device saved");

    let seen = tenant.device();
    assert_eq!(seen["verified"], true, "{seen:#}");
    assert_eq!(seen["mdm_enrolled_at"], sent["inventory"]["mdm_enrolled_at"]);
    // The fixture's MDM profile was installed on 2024-05-01: more than two years ago,
    // so its identity has expired and the tenant says so.
    assert_eq!(seen["out_of_control"], true, "{seen:#}");
    assert_eq!(seen["out_of_control_because"], json!(["MDM profile expired (enrolled more than 2 years ago)"]));

    assert_eq!(check_in(&device, &[])["kind"], "recurring");
    assert_eq!(tenant.reports("inventory").len(), 1, "a recurring check-in sends no inventory");

    tenant.queue_action(&tenant.device_id(), "updateinventory");
    assert_eq!(check_in(&device, &[])["kind"], "recurring", "the command arrives in a recurring check-in");
    let inventories = tenant.reports("inventory");
    assert_eq!(inventories.len(), 2, "updateinventory sends one at once: {inventories:#?}");
    assert_ne!(inventories[1]["report_id"], inventories[0]["report_id"]);
    check_in(&device, &[]);
    assert_eq!(tenant.reports("inventory").len(), 2, "one inventory per command");
}

/// The last inventory, under the root.
const STATE_INVENTORY: &str = "Library/Application Support/EndpointAgent/state/inventory.json";
