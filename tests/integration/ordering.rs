//! Items run by type priority, then by name in byte order, then by id.

use serde_json::json;

use crate::support::{Device, blueprint, code, last_items, text};

#[test]
fn mixed_types_and_awkward_names_run_in_contract_order() {
    let device = Device::new();
    let recorder = |name: &str| format!("#!/bin/sh\nprintf '%s\\n' '{name}' >> \"$AGENT_ROOT/order.txt\"\n");
    let mut items = Vec::new();
    // Listed deliberately out of order, other types first.
    items.push(json!({ "id": "os", "name": "!", "type": "managed_os", "minimum_version": "1" }));
    // The two app items point at a file that is not there, so they fail quickly.
    let sha256 = "0".repeat(64);
    items.push(json!({ "id": "auto", "name": "0", "type": "auto_app", "catalog": {
        "name": "Missing", "bundle_id": "com.example.missing", "version": "1.0", "install_type": "zip",
        "url": "file:///missing.zip", "sha256": sha256, "app_name": "Missing.app" } }));
    items.push(json!({ "id": "app", "name": "A", "type": "custom_app", "source": "zip", "enforcement": "install_once",
        "url": "file:///missing.zip", "sha256": sha256, "app_name": "Missing.app" }));
    // Never enforced, so the test never talks to the machine's own CUPS.
    items.push(json!({
        "id": "printer", "name": "zzz", "type": "custom_printer", "frequency": "no_enforcement",
        "printer_name": "zzz", "uri": "ipp://127.0.0.1:9/ipp/print"
    }));
    for (id, name) in [
        ("s-b", "b"),
        ("s-ae", "ä"),
        ("s-a2", "a"),
        ("s-x", "_x"),
        ("s-z9", "Z9"),
        ("s-B", "B"),
        ("s-a1", "a"),
        ("s-A", "A"),
    ] {
        items.push(
            json!({ "id": id, "name": name, "type": "custom_script", "audit": recorder(&format!("{name} {id}")) }),
        );
    }
    let path = device.write_blueprint(&blueprint(items));

    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 1, "unbuilt handlers fail the run: {}", text(&output.stdout));

    let status = device.status();
    let recorded: Vec<String> = last_items(&status)
        .iter()
        .map(|item| format!("{} {}", item["type"].as_str().unwrap(), item["id"].as_str().unwrap()))
        .collect();
    let expected = [
        "custom_script s-A",
        "custom_script s-B",
        "custom_script s-z9",
        "custom_script s-x",
        "custom_script s-a1",
        "custom_script s-a2",
        "custom_script s-b",
        "custom_script s-ae",
        "custom_printer printer",
        "custom_app app",
        "auto_app auto",
        "managed_os os",
    ];
    assert_eq!(recorded, expected);

    let executed = std::fs::read_to_string(device.root().join("order.txt")).unwrap();
    let executed: Vec<&str> = executed.lines().collect();
    assert_eq!(executed, ["A s-A", "B s-B", "Z9 s-z9", "_x s-x", "a s-a1", "a s-a2", "b s-b", "ä s-ae"]);
}
