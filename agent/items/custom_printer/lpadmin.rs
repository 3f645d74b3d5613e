//! The `lpadmin` command lines: add a queue, put back what drifted, make it the default.
//!
//! `-E` always follows `-p NAME`: before it, lpadmin reads it as "encrypt the
//! connection" instead of "enable the queue and accept jobs".

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::super::ItemReport;
use super::audit::Difference;
use crate::blueprint::{CustomPrinter, PrinterDriver};

/// `lpadmin` arguments that create the queue with every setting of the item.
pub(super) fn add_arguments(settings: &CustomPrinter, ppd: Option<&Path>) -> Vec<OsString> {
    let mut arguments = start(settings);
    arguments.extend(["-v".into(), settings.uri.clone().into()]);
    arguments.extend(driver_arguments(&settings.driver, ppd));
    if let Some(display_name) = &settings.display_name {
        arguments.extend(["-D".into(), display_name.into()]);
    }
    if let Some(location) = &settings.location {
        arguments.extend(["-L".into(), location.into()]);
    }
    arguments.extend(sharing(settings));
    for name in settings.options.keys() {
        arguments.extend(option(settings, name));
    }
    arguments
}

/// `lpadmin` arguments that put back what `differences` found, and only that;
/// `None` when nothing but the default printer differs (see [`default_arguments`]).
///
/// A new driver is a fresh setup: its PPD comes with its own defaults, and
/// lpadmin only installs the named model when other settings come along (given
/// `-m` alone it may keep the queue's current PPD), so everything is set again.
pub(super) fn reapply_arguments(
    settings: &CustomPrinter,
    differences: &[Difference],
    ppd: Option<&Path>,
) -> Option<Vec<OsString>> {
    if differences.iter().all(|difference| matches!(difference, Difference::NotDefault(_))) {
        return None;
    }
    if applies_driver(Some(differences)) {
        return Some(add_arguments(settings, ppd));
    }
    let mut arguments = start(settings);
    let mut options = BTreeSet::new();
    for difference in differences {
        match difference {
            Difference::Uri(_) => arguments.extend(["-v".into(), settings.uri.clone().into()]),
            Difference::DisplayName(_) => {
                arguments.extend(["-D".into(), settings.display_name.clone().unwrap_or_default().into()]);
            }
            Difference::Location(_) => {
                arguments.extend(["-L".into(), settings.location.clone().unwrap_or_default().into()]);
            }
            Difference::Shared(_) => arguments.extend(sharing(settings)),
            Difference::Option { name, .. } => {
                options.insert(name);
            }
            // `-E`, always given, enables the queue and makes it accept jobs.
            Difference::Driver(_) | Difference::Disabled(_) | Difference::NotDefault(_) => {}
        }
    }
    for name in options {
        arguments.extend(option(settings, name));
    }
    Some(arguments)
}

/// `lpadmin -d NAME`: make the queue the system's default printer.
pub(super) fn default_arguments(settings: &CustomPrinter) -> Vec<OsString> {
    vec!["-d".into(), settings.printer_name.clone().into()]
}

/// Whether applying `differences` (or adding the queue, when `None`) sets the driver.
pub(super) fn applies_driver(differences: Option<&[Difference]>) -> bool {
    differences
        .is_none_or(|differences| differences.iter().any(|difference| matches!(difference, Difference::Driver(_))))
}

/// Where the item's PPD is on this device: the blueprint's path under the agent's root.
///
/// # Errors
///
/// The item's report when the file is not there, so lpadmin never runs half-configured.
pub(super) fn ppd_on_device(driver: &PrinterDriver, root: &Path) -> Result<Option<PathBuf>, ItemReport> {
    let PrinterDriver::Ppd(path) = driver else {
        return Ok(None);
    };
    let on_device = root.join(path.strip_prefix("/").unwrap_or(path));
    if !on_device.is_file() {
        return Err(ItemReport::failed(format!(
            "the PPD {} is not on this device (looked for {}); install the printer's driver first",
            path.display(),
            on_device.display()
        )));
    }
    Ok(Some(on_device))
}

fn start(settings: &CustomPrinter) -> Vec<OsString> {
    vec!["-p".into(), settings.printer_name.clone().into(), "-E".into()]
}

fn driver_arguments(driver: &PrinterDriver, ppd: Option<&Path>) -> Vec<OsString> {
    match (driver, ppd) {
        (PrinterDriver::Everywhere, _) => vec!["-m".into(), "everywhere".into()],
        (PrinterDriver::Model(model), _) => vec!["-m".into(), model.into()],
        (PrinterDriver::Ppd(_), Some(on_device)) => vec!["-P".into(), on_device.into()],
        (PrinterDriver::Ppd(path), None) => vec!["-P".into(), path.into()],
    }
}

fn sharing(settings: &CustomPrinter) -> Vec<OsString> {
    vec!["-o".into(), format!("printer-is-shared={}", settings.shared).into()]
}

fn option(settings: &CustomPrinter, name: &str) -> Vec<OsString> {
    let value = settings.options.get(name).map_or("", String::as_str);
    vec!["-o".into(), format!("{name}={value}").into()]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::items::custom_printer::audit::DriverDrift;

    fn office() -> CustomPrinter {
        CustomPrinter {
            printer_name: "office".into(),
            display_name: Some("Office 1".into()),
            location: None,
            uri: "socket://127.0.0.1:9100".into(),
            driver: PrinterDriver::Model("drv:///sample.drv/generic.ppd".into()),
            options: BTreeMap::from([("PageSize".into(), "A4".into()), ("number-up-default".into(), "2".into())]),
            shared: false,
            default: true,
        }
    }

    fn text(arguments: &[OsString]) -> Vec<String> {
        arguments.iter().map(|argument| argument.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn adding_sets_everything_with_enable_after_the_name() {
        let arguments = text(&add_arguments(&office(), None)).join(" ");
        let expected = "-p office -E -v socket://127.0.0.1:9100 -m drv:///sample.drv/generic.ppd -D Office 1 \
                        -o printer-is-shared=false -o PageSize=A4 -o number-up-default=2";
        assert_eq!(arguments, expected);
    }

    #[test]
    fn reapplying_sets_only_what_drifted() {
        let settings = office();
        let drifted =
            [Difference::Uri("ipp://old/".into()), Difference::Option { name: "PageSize".into(), found: None }];
        let arguments = text(&reapply_arguments(&settings, &drifted, None).unwrap()).join(" ");
        assert_eq!(arguments, "-p office -E -v socket://127.0.0.1:9100 -o PageSize=A4");
        let enable = text(&reapply_arguments(&settings, &[Difference::Disabled("stopped")], None).unwrap());
        assert_eq!(enable, ["-p", "office", "-E"]);
        assert!(reapply_arguments(&settings, &[Difference::NotDefault(None)], None).is_none());
        assert_eq!(text(&default_arguments(&settings)), ["-d", "office"]);
    }

    #[test]
    fn a_new_driver_brings_every_setting_again() {
        let mut settings = office();
        settings.driver = PrinterDriver::Ppd("/Library/Printers/PPDs/x.ppd".into());
        let drifted = [Difference::Driver(DriverDrift::Unrecorded), Difference::Shared(true)];
        let ppd = Path::new("/root/Library/Printers/PPDs/x.ppd");
        let arguments = text(&reapply_arguments(&settings, &drifted, Some(ppd)).unwrap()).join(" ");
        let expected = "-p office -E -v socket://127.0.0.1:9100 -P /root/Library/Printers/PPDs/x.ppd -D Office 1 \
                        -o printer-is-shared=false -o PageSize=A4 -o number-up-default=2";
        assert_eq!(arguments, expected);
        assert!(applies_driver(Some(&drifted)) && applies_driver(None));
        assert!(!applies_driver(Some(&[Difference::Shared(true)])));
    }

    #[test]
    fn a_ppd_is_found_under_the_root_or_refused() {
        let root = tempfile::tempdir().unwrap();
        let driver = PrinterDriver::Ppd("/Library/Printers/PPDs/x.ppd".into());
        let message = ppd_on_device(&driver, root.path()).unwrap_err().message;
        assert!(message.contains("/Library/Printers/PPDs/x.ppd is not on this device"), "{message}");
        let file = root.path().join("Library/Printers/PPDs/x.ppd");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "*PPD-Adobe: \"4.3\"\n").unwrap();
        assert_eq!(ppd_on_device(&driver, root.path()).unwrap(), Some(file));
        assert_eq!(ppd_on_device(&PrinterDriver::Everywhere, root.path()).unwrap(), None);
    }
}
