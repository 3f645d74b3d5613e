//! How a queue as CUPS reports it is compared with the blueprint.

use super::*;
use crate::blueprint::PrinterDriver;

fn office() -> CustomPrinter {
    CustomPrinter {
        printer_name: "office".into(),
        display_name: Some("Office 1".into()),
        location: Some("Floor 1".into()),
        uri: "socket://127.0.0.1:9100".into(),
        driver: PrinterDriver::Model("drv:///sample.drv/generic.ppd".into()),
        options: BTreeMap::from([("PageSize".into(), "A4".into()), ("number-up-default".into(), "2".into())]),
        shared: false,
        default: true,
    }
}

/// The queue exactly as `office()` wants it.
fn compliant() -> Observed {
    let printed = "device-uri=socket://127.0.0.1:9100 number-up=2 printer-info='Office 1' \
printer-is-accepting-jobs=true printer-is-shared=false printer-location='Floor 1' \
printer-make-and-model='Generic PostScript Printer' printer-state=3";
    Observed {
        attributes: parse_printer_options(printed),
        choices: parse_driver_choices("PageSize/Media Size: Letter *A4\nDuplex/2-Sided Printing: *None DuplexTumble\n"),
        system_default: Some("OFFICE".into()),
    }
}

fn record() -> DriverRecord {
    DriverRecord {
        printer_name: "office".into(),
        driver: "drv:///sample.drv/generic.ppd".into(),
        make_and_model: "Generic PostScript Printer".into(),
    }
}

#[test]
fn an_identical_queue_has_no_differences() {
    assert_eq!(differences(&office(), &compliant(), Some(&record())), []);
}

#[test]
fn unmanaged_labels_and_the_default_are_left_alone() {
    let mut settings = office();
    (settings.display_name, settings.location, settings.default) = (None, None, false);
    let mut observed = compliant();
    observed.attributes.insert("printer-info".into(), "Someone's name".into());
    observed.attributes.insert("printer-location".into(), String::new());
    observed.system_default = None;
    assert_eq!(differences(&settings, &observed, Some(&record())), []);
}

#[test]
fn each_drift_is_found_with_what_was_there() {
    let mut observed = compliant();
    for (name, value) in [
        ("device-uri", "ipp://old/ipp/print"),
        ("printer-info", "Old name"),
        ("printer-location", ""),
        ("printer-is-shared", "true"),
        ("printer-state", "5"),
        ("number-up", "1"),
    ] {
        observed.attributes.insert(name.into(), value.into());
    }
    observed.choices.insert("PageSize".into(), Choice::Listed("Letter".into()));
    observed.system_default = None;
    let found = differences(&office(), &observed, Some(&record()));
    assert_eq!(
        found,
        [
            Difference::Uri("ipp://old/ipp/print".into()),
            Difference::DisplayName("Old name".into()),
            Difference::Location(String::new()),
            Difference::Shared(true),
            Difference::Disabled("stopped"),
            Difference::Option { name: "PageSize".into(), found: Some("Letter".into()) },
            Difference::Option { name: "number-up-default".into(), found: Some("1".into()) },
            Difference::NotDefault(None),
        ]
    );
    let told: Vec<String> = found
        .iter()
        .map(|difference| {
            let (subject, was, wanted) = difference.parts(&office());
            format!("{subject}: {was} -> {wanted}")
        })
        .collect();
    assert_eq!(
        told,
        [
            "uri: ipp://old/ipp/print -> socket://127.0.0.1:9100",
            "display name: \"Old name\" -> \"Office 1\"",
            "location: \"\" -> \"Floor 1\"",
            "sharing: on -> off",
            "the queue: stopped -> enabled and accepting jobs",
            "option PageSize: Letter -> A4",
            "option number-up-default: 1 -> 2",
            "default printer: none -> office",
        ]
    );
}

#[test]
fn a_queue_refusing_jobs_is_disabled() {
    let mut observed = compliant();
    observed.attributes.insert("printer-is-accepting-jobs".into(), "false".into());
    assert_eq!(differences(&office(), &observed, Some(&record())), [Difference::Disabled("rejecting jobs")]);
}

#[test]
fn options_compare_as_cups_marks_them() {
    let mut settings = office();
    settings.options = BTreeMap::from([
        ("pagesize".into(), "a4".into()),
        ("PageRegion".into(), "A4".into()),
        ("Darkness".into(), "Custom.5".into()),
        ("Duplex".into(), "Custom.1".into()),
    ]);
    let mut observed = compliant();
    observed.choices.insert("Darkness".into(), Choice::Custom);
    observed.choices.insert("Duplex".into(), Choice::Unmarked);
    let found = differences(&settings, &observed, Some(&record()));
    assert_eq!(
        found,
        [
            Difference::Option { name: "Duplex".into(), found: Some("no choice".into()) },
            Difference::Option { name: "PageRegion".into(), found: Some("not offered by the driver".into()) },
        ],
        "case is ignored and a custom choice stands for the custom value"
    );
    observed.choices.clear();
    let unread = differences(&settings, &observed, Some(&record()));
    assert_eq!(unread[0].parts(&settings).1, "unknown (lpoptions -l listed no driver options)");
    settings.options = BTreeMap::from([("media-default".into(), "iso_a4_210x297mm".into())]);
    let unset = differences(&settings, &observed, Some(&record()));
    assert_eq!(unset, [Difference::Option { name: "media-default".into(), found: None }]);
    assert_eq!(unset[0].parts(&settings).1, "not set");
}

#[test]
fn the_driver_is_applied_again_when_unrecorded_or_changed() {
    let settings = office();
    let observed = compliant();
    let drift = |record: Option<&DriverRecord>| differences(&settings, &observed, record);
    assert_eq!(drift(None), [Difference::Driver(DriverDrift::Unrecorded)]);
    let other_queue = DriverRecord { printer_name: "elsewhere".into(), ..record() };
    assert_eq!(drift(Some(&other_queue)), [Difference::Driver(DriverDrift::Unrecorded)]);
    let other_driver = DriverRecord { driver: "everywhere".into(), ..record() };
    assert_eq!(drift(Some(&other_driver)), [Difference::Driver(DriverDrift::ChangedInBlueprint("everywhere".into()))]);
    let other_model = DriverRecord { make_and_model: "HP LaserJet".into(), ..record() };
    let found = drift(Some(&other_model));
    assert_eq!(
        found,
        [Difference::Driver(DriverDrift::ChangedOnDevice {
            recorded: "HP LaserJet".into(),
            found: "Generic PostScript Printer".into()
        })]
    );
    let (subject, was, wanted) = found[0].parts(&settings);
    assert_eq!(subject, "driver");
    assert_eq!(was, "changed on the device (model \"Generic PostScript Printer\", was \"HP LaserJet\")");
    assert_eq!(wanted, "drv:///sample.drv/generic.ppd");
    assert_eq!(drift(None)[0].parts(&settings).1, "unknown to the agent");
}
