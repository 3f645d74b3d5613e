//! Custom printers against a real, private `cupsd`: added, left alone when
//! identical, repaired after changes made by hand with the real `lpadmin`.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;

use serde_json::{Value, json};

use crate::cups::{Cups, program};
use crate::support::{Device, blueprint, code, item, text};

/// A device whose agent talks to a private scheduler, with `lpadmin` wrapped so
/// every call the agent makes is recorded.
struct PrinterDevice {
    device: Device,
    cups: Cups,
    calls: PathBuf,
    wrapper: PathBuf,
}

impl PrinterDevice {
    fn new() -> Self {
        let device = Device::new();
        let cups = Cups::start();
        let calls = device.root().join("lpadmin-calls.txt");
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            program("lpadmin").display()
        );
        let wrapper = device.write_file("bin/lpadmin-recorder", &script);
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { device, cups, calls, wrapper }
    }

    /// `agent run` with `items`, against the private scheduler.
    fn check_in(&self, items: Vec<Value>, extra: &[&str]) -> Output {
        let path = self.device.write_blueprint(&blueprint(items));
        let settings = [
            format!("commands.lpadmin={}", self.wrapper.display()),
            format!("commands.lpstat={}", program("lpstat").display()),
            format!("commands.lpoptions={}", program("lpoptions").display()),
        ];
        let mut command = self.device.agent();
        command.env("CUPS_SERVER", self.cups.server());
        for setting in &settings {
            command.args(["--set", setting]);
        }
        command.args(["run", "--blueprint", path.to_str().unwrap()]).args(extra);
        let output = command.output().expect("agent runs");
        assert!(!text(&output.stderr).contains("panicked"), "{}", text(&output.stderr));
        output
    }

    /// The lpadmin calls the agent made so far, one line each.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.calls).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// The status of the item named `name` after the last run, and the run's re-applied count.
    fn outcome(&self, name: &str) -> (String, String, u64) {
        let status = self.device.status();
        let found = item(&status, name);
        let reapplied = status["drift"]["reapplied"].as_u64().expect("drift.reapplied");
        (found["status"].as_str().unwrap().into(), found["message"].as_str().unwrap().into(), reapplied)
    }
}

/// A TCP port on 127.0.0.1 that stands for the printer; kept open while the test runs.
fn printer_port() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("socket://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, uri)
}

/// A printer on the sample PostScript driver CUPS ships, which works offline
/// (IPP Everywhere would ask the printer itself, and there is none).
fn office(uri: &str) -> Value {
    json!({
        "id": "li-office", "name": "Office printer", "type": "custom_printer",
        "printer_name": "office-1", "display_name": "Office, 1st floor", "location": "Building A",
        "uri": uri, "driver": "drv:///sample.drv/generic.ppd",
        "options": { "PageSize": "A4", "number-up-default": 2 }
    })
}

fn option_line<'a>(listing: &'a str, keyword: &str) -> &'a str {
    listing.lines().find(|line| line.starts_with(&format!("{keyword}/"))).unwrap_or_default()
}

#[test]
fn a_printer_is_added_then_left_alone_then_repaired_after_its_uri_is_changed_by_hand() {
    let printer = PrinterDevice::new();
    let (_device_port, uri) = printer_port();
    let (_other_port, other_uri) = printer_port();

    let output = printer.check_in(vec![office(&uri)], &[]);
    assert_eq!(code(&output), 0, "{}{}\n{}", text(&output.stdout), text(&output.stderr), printer.cups.logs());
    let (status, message, reapplied) = printer.outcome("Office printer");
    assert_eq!(status, "succeeded");
    assert_eq!(message, format!("added: printer office-1 at {uri} with driver drv:///sample.drv/generic.ppd"));
    assert_eq!(reapplied, 0, "a first install is not drift");
    assert_eq!(printer.cups.run("lpstat", &["-v", "office-1"]).trim(), format!("device for office-1: {uri}"));
    let options = printer.cups.run("lpoptions", &["-p", "office-1"]);
    assert!(options.contains("printer-info='Office, 1st floor'") && options.contains("number-up=2"), "{options}");
    assert!(option_line(&printer.cups.run("lpoptions", &["-p", "office-1", "-l"]), "PageSize").contains("*A4"));
    assert_eq!(printer.calls().len(), 1, "{:?}", printer.calls());
    assert!(printer.calls()[0].starts_with("-p office-1 -E -v socket://"), "{:?}", printer.calls());

    assert_eq!(code(&printer.check_in(vec![office(&uri)], &[])), 0);
    let (status, message, reapplied) = printer.outcome("Office printer");
    assert_eq!(status, "succeeded");
    assert_eq!(
        message,
        "compliant: printer office-1 present with the expected URI, driver, display name, location, sharing and options"
    );
    assert_eq!(reapplied, 0);
    assert_eq!(printer.calls().len(), 1, "a compliant printer costs no lpadmin call: {:?}", printer.calls());

    printer.cups.run("lpadmin", &["-p", "office-1", "-v", &other_uri]);
    assert_eq!(code(&printer.check_in(vec![office(&uri)], &[])), 0);
    let (status, message, reapplied) = printer.outcome("Office printer");
    assert_eq!(status, "succeeded");
    assert_eq!(message, format!("re-applied: printer office-1: uri was {other_uri}, set to {uri}"));
    assert_eq!(reapplied, 1);
    assert_eq!(printer.calls().last().unwrap(), &format!("-p office-1 -E -v {uri}"), "only what drifted is set");
    assert_eq!(printer.cups.run("lpstat", &["-v", "office-1"]).trim(), format!("device for office-1: {uri}"));

    assert_eq!(code(&printer.check_in(vec![office(&uri)], &[])), 0);
    assert!(printer.outcome("Office printer").1.starts_with("compliant"));
    assert_eq!(printer.calls().len(), 2);

    let human = text(&printer.device.run(&["status"]).stdout);
    assert!(human.contains("compliant: printer office-1"), "{human}");
    let logs = text(&printer.device.run(&["logs", "--item", "Office printer", "--json"]).stdout);
    for expected in ["added: printer office-1", "re-applied: printer office-1: uri was", "custom_printer"] {
        assert!(logs.contains(expected), "{expected:?} not in the logs: {logs}");
    }
}

#[test]
fn changed_options_labels_sharing_state_and_default_are_put_back() {
    let printer = PrinterDevice::new();
    let (_device_port, uri) = printer_port();
    let mut wanted = office(&uri);
    wanted["default"] = json!(true);
    assert_eq!(code(&printer.check_in(vec![wanted.clone()], &[])), 0, "{}", printer.cups.logs());
    let (_, message, _) = printer.outcome("Office printer");
    assert!(message.ends_with(", as the default printer"), "{message}");
    assert_eq!(printer.cups.run("lpstat", &["-d"]).trim(), "system default destination: office-1");

    printer.cups.run("lpadmin", &["-p", "office-1", "-o", "PageSize=Letter", "-o", "number-up-default=1"]);
    printer.cups.run("lpadmin", &["-p", "office-1", "-L", "Somewhere else", "-o", "printer-is-shared=true"]);
    printer.cups.run("cupsreject", &["office-1"]);
    printer.cups.run("lpadmin", &["-p", "other", "-v", "file:///dev/null", "-m", "drv:///sample.drv/generic.ppd"]);
    printer.cups.run("lpadmin", &["-d", "other"]);

    assert_eq!(code(&printer.check_in(vec![wanted.clone()], &[])), 0);
    let (status, message, reapplied) = printer.outcome("Office printer");
    assert_eq!((status.as_str(), reapplied), ("succeeded", 1), "{message}");
    assert_eq!(
        message,
        "re-applied: printer office-1: location was \"Somewhere else\", set to \"Building A\"; sharing was on, set to \
         off; the queue was rejecting jobs, set to enabled and accepting jobs; option PageSize was Letter, set to A4; \
         option number-up-default was 1, set to 2; default printer was other, set to office-1"
    );
    assert!(option_line(&printer.cups.run("lpoptions", &["-p", "office-1", "-l"]), "PageSize").contains("*A4"));
    let options = printer.cups.run("lpoptions", &["-p", "office-1"]);
    for expected in
        ["number-up=2", "printer-is-shared=false", "printer-is-accepting-jobs=true", "printer-location='Building A'"]
    {
        assert!(options.contains(expected), "{expected} not in {options}");
    }
    assert_eq!(printer.cups.run("lpstat", &["-d"]).trim(), "system default destination: office-1");

    assert_eq!(code(&printer.check_in(vec![wanted], &[])), 0);
    assert!(printer.outcome("Office printer").1.starts_with("compliant"));
}

#[test]
fn a_new_driver_in_the_blueprint_is_applied_with_every_option_again() {
    let printer = PrinterDevice::new();
    let (_device_port, uri) = printer_port();
    assert_eq!(code(&printer.check_in(vec![office(&uri)], &[])), 0, "{}", printer.cups.logs());

    let mut pcl = office(&uri);
    pcl["driver"] = json!("drv:///sample.drv/generpcl.ppd");
    assert_eq!(code(&printer.check_in(vec![pcl], &[])), 0);
    let (status, message, reapplied) = printer.outcome("Office printer");
    assert_eq!((status.as_str(), reapplied), ("succeeded", 1));
    assert_eq!(
        message,
        "re-applied: printer office-1: driver was drv:///sample.drv/generic.ppd, set to \
         drv:///sample.drv/generpcl.ppd"
    );
    let options = printer.cups.run("lpoptions", &["-p", "office-1"]);
    assert!(options.contains("printer-make-and-model='Generic PCL Laser Printer'"), "{options}");
    let listing = printer.cups.run("lpoptions", &["-p", "office-1", "-l"]);
    assert!(option_line(&listing, "PageSize").contains("*A4"), "the new PPD's default was replaced: {listing}");

    // A PPD file the device has, found under the agent's root.
    let ppd = "Library/Printers/PPDs/Contents/Resources/Office.ppd";
    let generic = std::fs::read_to_string(printer.cups.server_root().join("ppd/office-1.ppd")).unwrap();
    printer.device.write_file(ppd, &generic);
    let mut from_file = office(&uri);
    from_file.as_object_mut().unwrap().remove("driver");
    from_file["ppd"] = json!(format!("/{ppd}"));
    assert_eq!(code(&printer.check_in(vec![from_file.clone()], &[])), 0);
    let (_, message, _) = printer.outcome("Office printer");
    assert!(message.contains(&format!("set to PPD /{ppd}")), "{message}");
    let root_ppd = printer.device.root().join(ppd);
    assert!(printer.calls().last().unwrap().contains(&format!("-P {}", root_ppd.display())), "{:?}", printer.calls());

    assert_eq!(code(&printer.check_in(vec![from_file.clone()], &[])), 0);
    assert!(printer.outcome("Office printer").1.starts_with("compliant"));

    // A driver changed by hand shows as another model, and the PPD (a copy of
    // the PCL one) goes back.
    let by_hand = ["-p", "office-1", "-m", "drv:///sample.drv/generic.ppd", "-o", "PageSize=A4"];
    printer.cups.run("lpadmin", &by_hand);
    assert_eq!(code(&printer.check_in(vec![from_file], &[])), 0);
    let (_, message, reapplied) = printer.outcome("Office printer");
    assert_eq!(reapplied, 1);
    let expected = "re-applied: printer office-1: driver was changed on the device (model \"Generic PostScript Printer\", \
                    was \"Generic PCL Laser Printer\"), set to PPD /Library/Printers/PPDs/Contents/Resources/Office.ppd";
    assert!(message.starts_with(expected), "{message}");
    let options = printer.cups.run("lpoptions", &["-p", "office-1"]);
    assert!(options.contains("printer-make-and-model='Generic PCL Laser Printer'"), "{options}");
}

#[test]
fn lpadmin_failures_and_missing_ppds_fail_the_item_with_the_reason() {
    let printer = PrinterDevice::new();
    let (_device_port, uri) = printer_port();
    let mut unknown_model = office(&uri);
    unknown_model["driver"] = json!("drv:///nope.drv/missing.ppd");
    let mut missing_ppd = office(&uri);
    missing_ppd["id"] = json!("li-missing");
    missing_ppd["name"] = json!("Missing PPD");
    missing_ppd["printer_name"] = json!("office-2");
    missing_ppd.as_object_mut().unwrap().remove("driver");
    missing_ppd["ppd"] = json!("/Library/Printers/PPDs/Contents/Resources/Missing.gz");

    let output = printer.check_in(vec![unknown_model, missing_ppd], &[]);
    assert_eq!(code(&output), 1, "{}", text(&output.stdout));
    let status = printer.device.status();
    let failed = item(&status, "Office printer");
    assert_eq!(failed["status"], "failed");
    let message = failed["message"].as_str().unwrap();
    assert!(message.starts_with("cannot add printer office-1: lpadmin exited 1: lpadmin: "), "{message}");
    assert!(failed["output"].as_str().unwrap().contains("--- lpadmin -p office-1 -E"), "{failed}");
    let missing = item(&status, "Missing PPD");
    assert_eq!(missing["status"], "failed");
    assert!(missing["message"].as_str().unwrap().contains("Missing.gz is not on this device"), "{missing}");
    assert_eq!(printer.calls().len(), 1, "no lpadmin call without the PPD: {:?}", printer.calls());
    assert!(!printer.cups.run("lpstat", &["-e"]).contains("office"), "nothing half-added");
}

#[test]
fn a_hung_cups_tool_is_stopped_at_the_item_timeout() {
    let device = Device::new();
    let hanging = device.write_file("bin/lpstat", "#!/bin/sh\nsleep 30\n");
    std::fs::set_permissions(&hanging, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = device.write_blueprint(&blueprint(vec![office("socket://127.0.0.1:9")]));
    let started = std::time::Instant::now();
    let output = device
        .agent()
        .args(["--set", "timeouts.custom_printer=1s", "--set", &format!("commands.lpstat={}", hanging.display())])
        .args(["run", "--blueprint", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    assert!(started.elapsed().as_secs() < 20, "stopped near its timeout");
    let status = device.status();
    let stopped = item(&status, "Office printer");
    assert_eq!(stopped["status"], "timed_out");
    assert_eq!(stopped["message"], "exceeded its 1s timeout: timed out while running lpstat -e");
}

#[test]
fn bad_printer_items_are_refused_before_anything_runs() {
    let device = Device::new();
    let items = vec![
        json!({ "id": "a", "name": "Bad name", "type": "custom_printer", "printer_name": "Office #1", "uri": "ipp://h/" }),
        json!({ "id": "b", "name": "No uri", "type": "custom_printer", "printer_name": "office" }),
        json!({ "id": "c", "name": "Socket", "type": "custom_printer", "printer_name": "s", "uri": "socket://h:9100" }),
    ];
    let path = device.write_blueprint(&blueprint(items));
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    let message = text(&output.stderr);
    for expected in [
        path.to_str().unwrap(),
        "library_items[0].printer_name",
        "\"Office #1\" is not a CUPS queue name",
        "library_items[1].uri",
        "is required",
        "library_items[2].driver",
        "the default driver \"everywhere\" needs an IPP printer",
    ] {
        assert!(message.contains(expected), "{expected:?} missing from: {message}");
    }
    assert!(!device.state_dir().exists(), "nothing ran");
}
