//! Table-driven checks of a printer item's keys.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::blueprint::{ItemDetails, from_value};

/// Resolves one printer item made of `keys` plus the common ones.
fn check(keys: Value) -> Result<CustomPrinter, Vec<String>> {
    let mut item = json!({ "id": "p", "name": "Printer", "type": "custom_printer" });
    item.as_object_mut().unwrap().extend(keys.as_object().unwrap().clone());
    let blueprint = json!({ "id": "bp", "library_items": [item] });
    match from_value(&blueprint, Path::new("/bp.json")) {
        Ok(blueprint) => match &blueprint.library_items[0].details {
            ItemDetails::CustomPrinter(printer) => Ok(printer.clone()),
            other => panic!("not a printer: {other:?}"),
        },
        Err(errors) => Err(errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect()),
    }
}

#[test]
fn a_complete_printer_resolves_with_its_driver_and_options() {
    let printer = check(json!({
        "printer_name": "HQ_2nd-Floor", "display_name": "HQ 2nd floor “Colour”", "location": "Building A",
        "uri": "socket://10.0.0.5:9100", "driver": "drv:///sample.drv/generic.ppd",
        "options": { "PageSize": "A4", "number-up-default": 2, "Collate": true },
        "shared": true, "default": true
    }))
    .unwrap();
    assert_eq!(printer.printer_name, "HQ_2nd-Floor");
    assert_eq!(printer.display_name.as_deref(), Some("HQ 2nd floor “Colour”"));
    assert_eq!(printer.driver, PrinterDriver::Model("drv:///sample.drv/generic.ppd".into()));
    let options: Vec<(&str, &str)> =
        printer.options.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    assert_eq!(options, [("Collate", "true"), ("PageSize", "A4"), ("number-up-default", "2")]);
    assert!(printer.shared && printer.default);
}

#[test]
fn the_defaults_are_everywhere_unshared_and_unmanaged_labels() {
    let printer = check(json!({ "printer_name": "office", "uri": "ipps://printer.example.com/ipp/print" })).unwrap();
    assert_eq!(printer.driver, PrinterDriver::Everywhere);
    assert_eq!((printer.display_name, printer.location), (None, None));
    assert!(!printer.shared && !printer.default && printer.options.is_empty());
    let bonjour = check(json!({ "printer_name": "b", "uri": "dnssd://Office._ipps._tcp.local./?uuid=1" })).unwrap();
    assert_eq!(bonjour.driver, PrinterDriver::Everywhere);
    let ppd = check(json!({ "printer_name": "p", "uri": "lpd://10.0.0.5/queue", "ppd": "/Library/Printers/x.gz" }));
    assert_eq!(ppd.unwrap().driver, PrinterDriver::Ppd("/Library/Printers/x.gz".into()));
}

#[test]
fn queue_names_follow_cups_rules() {
    for good in ["a", "Office_1", "HP-LaserJet.4050", "x:y", &"n".repeat(127)] {
        assert!(is_queue_name(good), "{good:?} should be accepted");
    }
    for bad in [
        "",
        "with space",
        "a/b",
        "a\\b",
        "a#b",
        "a?b",
        "a@host",
        "it's",
        "say\"x\"",
        "tab\there",
        "é",
        &"n".repeat(128),
    ] {
        assert!(!is_queue_name(bad), "{bad:?} should be refused");
    }
}

#[test]
fn ipp_everywhere_needs_an_ipp_address() {
    for uri in ["ipp://h/ipp/print", "IPPS://h/ipp/print", "dnssd://P._ipp._tcp.local./", "mdns://P._ipps._tcp.local."]
    {
        assert!(speaks_ipp(uri), "{uri}");
    }
    for uri in [
        "socket://h:9100",
        "lpd://h/q",
        "usb://HP/LaserJet",
        "file:///dev/null",
        "dnssd://P._pdl-datastream._tcp.local./",
    ] {
        assert!(!speaks_ipp(uri), "{uri}");
    }
}

#[test]
fn every_problem_is_reported_at_its_key() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["library_items[0].printer_name: is required", "library_items[0].uri: is required"]),
        (
            json!({ "printer_name": "bad name", "uri": "not a uri" }),
            vec![
                "library_items[0].printer_name: \"bad name\" is not a CUPS queue name",
                "library_items[0].uri: \"not a uri\" is not a device URI",
            ],
        ),
        (
            json!({ "printer_name": "p", "uri": "socket://h:9100" }),
            vec!["library_items[0].driver: the default driver \"everywhere\" needs an IPP printer"],
        ),
        (
            json!({ "printer_name": "p", "uri": "lpd://h/q", "driver": "everywhere" }),
            vec!["library_items[0].driver: driver \"everywhere\" needs an IPP printer"],
        ),
        (
            json!({ "printer_name": "p", "uri": "ipp://h/", "driver": "a model", "display_name": "", "location": "a\nb" }),
            vec![
                "library_items[0].driver: \"a model\" is not a driver",
                "library_items[0].display_name: must not be empty",
                "library_items[0].location: must not contain control characters",
            ],
        ),
        (
            json!({ "printer_name": "p", "uri": "ipp://h/", "driver": "raw", "ppd": "/x.ppd" }),
            vec!["library_items[0].ppd: set either driver or ppd, not both"],
        ),
        (
            json!({ "printer_name": "p", "uri": "ipp://h/", "ppd": "relative.ppd", "shared": "yes", "default": 1 }),
            vec![
                "library_items[0].ppd: \"relative.ppd\" is not an absolute path",
                "library_items[0].shared: expected true or false, found the string \"yes\"",
                "library_items[0].default: expected true or false, found the number 1",
            ],
        ),
        (
            json!({ "printer_name": "p", "uri": "ipp://h/", "ppd": "/Library/../etc/x.ppd" }),
            vec!["library_items[0].ppd: \"/Library/../etc/x.ppd\" must not contain \"..\""],
        ),
        (
            json!({ "printer_name": "p", "uri": "ipp://h/", "options": [] }),
            vec!["library_items[0].options: expected an object"],
        ),
        (
            json!({ "printer_name": "p", "uri": "ipp://h/", "location": "x".repeat(128), "options": {
                "device-uri": "ipp://other/", "printer-error-policy": "abort-job", "bad name": "x",
                "PageSize": ["A4"], "Duplex": " ", "number-up-default": "1\n2", "InputSlot": "Upper Tray"
            } }),
            vec![
                "library_items[0].location: is longer than 127 bytes",
                "library_items[0].options.device-uri: is set with the item's own key \"uri\"",
                "library_items[0].options.printer-error-policy: printer attributes other than",
                "library_items[0].options.bad name: is not an option name",
                "library_items[0].options.PageSize: expected a string, number or boolean, found an array",
                "library_items[0].options.Duplex: must not be empty",
                "library_items[0].options.number-up-default: must not contain control characters",
                "library_items[0].options.InputSlot: \"Upper Tray\" must be one word",
            ],
        ),
        (
            json!({ "printer_name": "p", "uri": "socket://h:9100", "driver": "raw",
                    "options": { "PageSize": "A4", "number-up-default": "2" } }),
            vec!["library_items[0].options.PageSize: the \"raw\" driver has no PPD"],
        ),
    ];
    for (keys, expected) in cases {
        let errors = check(keys.clone()).expect_err("invalid");
        for fragment in &expected {
            assert!(errors.iter().any(|error| error.starts_with(fragment)), "{fragment:?} not in {errors:#?}");
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?} for {keys}");
    }
}

#[test]
fn drivers_name_themselves_for_messages() {
    assert_eq!(PrinterDriver::Everywhere.to_string(), "everywhere");
    assert_eq!(PrinterDriver::Model("raw".into()).to_string(), "raw");
    assert_eq!(PrinterDriver::Ppd("/x.ppd".into()).to_string(), "PPD /x.ppd");
    assert!(!PrinterDriver::Model("raw".into()).has_ppd());
    assert!(PrinterDriver::Everywhere.has_ppd());
}
