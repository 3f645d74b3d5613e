//! The one-line messages admins read in `agent status` and `agent logs`.

use std::collections::BTreeMap;

use super::*;
use crate::blueprint::PrinterDriver;

fn minimal() -> CustomPrinter {
    CustomPrinter {
        printer_name: "office".into(),
        display_name: None,
        location: None,
        uri: "ipps://printer.example.com/ipp/print".into(),
        driver: PrinterDriver::Everywhere,
        options: BTreeMap::new(),
        shared: false,
        default: false,
    }
}

#[test]
fn compliance_names_what_was_checked() {
    assert_eq!(
        compliant_message(&minimal()),
        "compliant: printer office present with the expected URI, driver and sharing"
    );
    let full = CustomPrinter {
        display_name: Some("Office".into()),
        location: Some("Floor 1".into()),
        options: BTreeMap::from([("PageSize".into(), "A4".into()), ("Duplex".into(), "None".into())]),
        default: true,
        ..minimal()
    };
    assert_eq!(
        compliant_message(&full),
        "compliant: printer office present with the expected URI, driver, display name, location, sharing and \
         options, as the default printer"
    );
}

#[test]
fn additions_name_the_address_and_driver() {
    assert_eq!(
        added_message(&minimal()),
        "added: printer office at ipps://printer.example.com/ipp/print with driver everywhere"
    );
    let default = CustomPrinter { default: true, ..minimal() };
    assert!(added_message(&default).ends_with(", as the default printer"));
}

#[test]
fn differences_read_as_repaired_or_remaining() {
    let found = [Difference::Uri("ipp://old/".into()), Difference::Shared(true)];
    assert_eq!(
        describe(&minimal(), &found, Telling::Repaired),
        "uri was ipp://old/, set to ipps://printer.example.com/ipp/print; sharing was on, set to off"
    );
    assert_eq!(
        describe(&minimal(), &found[..1], Telling::Remaining),
        "uri is ipp://old/, expected ipps://printer.example.com/ipp/print"
    );
}
