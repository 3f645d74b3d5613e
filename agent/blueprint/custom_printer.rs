//! A printer item's keys: the CUPS queue, its device URI, its driver and options.
//!
//! Everything CUPS would refuse, or could not be verified afterwards, is refused
//! here so a broken printer item stops the check-in before anything runs, with
//! the key that is wrong (`library_items[3].uri`).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use super::document::{Problems, join_key};
use super::resolve::COMMON_ITEM_KEYS;

/// A printer added (and kept as described) through CUPS' `lpadmin`.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomPrinter {
    /// The CUPS queue name (`lpadmin -p`): what `lpstat` lists and the item manages.
    pub printer_name: String,
    /// What people see in print dialogs (`-D`, `printer-info`); unmanaged when absent.
    pub display_name: Option<String>,
    /// Where the printer is (`-L`, `printer-location`); unmanaged when absent.
    pub location: Option<String>,
    /// Where CUPS sends jobs (`-v`, `device-uri`), such as `ipps://host/ipp/print`.
    pub uri: String,
    /// How CUPS renders jobs for the printer.
    pub driver: PrinterDriver,
    /// Defaults set with `-o name=value`, by option name.
    pub options: BTreeMap<String, String>,
    /// Whether CUPS shares the queue with other computers (`printer-is-shared`).
    pub shared: bool,
    /// Make this the system's default printer (`lpadmin -d`); when false the
    /// default is left as it is.
    pub default: bool,
}

/// The driver a queue is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterDriver {
    /// IPP Everywhere / AirPrint (`-m everywhere`): CUPS asks the printer itself.
    Everywhere,
    /// A model CUPS knows, as `lpinfo -m` lists it (`-m drv:///sample.drv/generic.ppd`).
    Model(String),
    /// A PPD file on the device (`-P`), as the blueprint names it (absolute, no `..`);
    /// the handler finds it under the agent's root.
    Ppd(PathBuf),
}

impl PrinterDriver {
    /// Whether the queue gets a PPD whose options `lpoptions -l` can list.
    pub fn has_ppd(&self) -> bool {
        !matches!(self, PrinterDriver::Model(model) if model == "raw")
    }
}

impl std::fmt::Display for PrinterDriver {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrinterDriver::Everywhere => formatter.write_str("everywhere"),
            PrinterDriver::Model(model) => formatter.write_str(model),
            PrinterDriver::Ppd(path) => write!(formatter, "PPD {}", path.display()),
        }
    }
}

impl CustomPrinter {
    /// Options named `…-default` set a server-side job default (`number-up-default`);
    /// every other option is a choice of the queue's PPD (`PageSize`, `Duplex`).
    pub fn is_server_default(option: &str) -> bool {
        option.len() > "-default".len() && option.to_ascii_lowercase().ends_with("-default")
    }

    /// Whether some option is a choice of the queue's PPD, which only
    /// `lpoptions -l` can show.
    pub fn sets_driver_options(&self) -> bool {
        self.options.keys().any(|option| !Self::is_server_default(option))
    }
}

const KEYS: [&str; 9] =
    ["printer_name", "display_name", "location", "uri", "driver", "ppd", "options", "shared", "default"];

/// The longest queue name CUPS accepts, and the IPP limit on `printer-info` and
/// `printer-location` (`text(127)`), in bytes.
const MAXIMUM_TEXT_BYTES: usize = 127;

/// The longest device URI CUPS keeps (`HTTP_MAX_URI` less its terminator).
const MAXIMUM_URI_BYTES: usize = 1023;

/// Option names set through their own keys, and the key to use instead.
const OPTIONS_WITH_THEIR_OWN_KEY: [(&str, &str); 5] = [
    ("device-uri", "uri"),
    ("printer-info", "display_name"),
    ("printer-location", "location"),
    ("printer-is-shared", "shared"),
    ("ppd-name", "driver"),
];

/// Checks a printer item's own keys.
pub(crate) fn resolve(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<CustomPrinter> {
    problems.warn_unknown_keys(key, object, &[&COMMON_ITEM_KEYS, &KEYS]);
    let printer_name = problems.required_text(object, key, "printer_name").filter(|name| {
        let valid = is_queue_name(name);
        if !valid {
            let message = format!(
                "{name:?} is not a CUPS queue name: use 1 to 127 printable ASCII characters without spaces, \
                 /, \\, #, ?, @ or quotes"
            );
            problems.error(&join_key(key, "printer_name"), &message);
        }
        valid
    });
    let uri = problems.required_text(object, key, "uri").filter(|uri| check_uri(uri, key, problems));
    let display_name = label(object, key, "display_name", problems);
    let location = label(object, key, "location", problems);
    let driver = resolve_driver(object, key, uri.as_deref(), problems);
    let options = resolve_options(object, key, driver.as_ref(), problems);
    let shared = flag(object, key, "shared", problems);
    let default = flag(object, key, "default", problems);
    Some(CustomPrinter {
        printer_name: printer_name?,
        display_name: display_name?,
        location: location?,
        uri: uri?,
        driver: driver?,
        options: options?,
        shared: shared?,
        default: default?,
    })
}

/// What CUPS accepts as a queue name (see `validate_name` in lpadmin), kept to
/// ASCII so the name reads the same in every tool and log.
pub(crate) fn is_queue_name(name: &str) -> bool {
    let forbidden = ['/', '\\', '#', '?', '@', '\'', '"'];
    (1..=MAXIMUM_TEXT_BYTES).contains(&name.len())
        && name.chars().all(|character| character.is_ascii_graphic() && !forbidden.contains(&character))
}

/// A device URI is `scheme:rest` with a backend scheme and no spaces; the
/// backend itself (`ipp`, `socket`, `lpd`, `usb`, a vendor's) is CUPS' business.
fn check_uri(uri: &str, key: &str, problems: &mut Problems) -> bool {
    let well_formed = match uri.split_once(':') {
        Some((scheme, rest)) => {
            scheme.starts_with(|character: char| character.is_ascii_alphabetic())
                && scheme.chars().all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character))
                && !rest.is_empty()
                && !uri.chars().any(|character| character.is_whitespace() || character.is_control())
        }
        None => false,
    };
    if !well_formed {
        let message = format!(
            "{uri:?} is not a device URI such as ipps://printer.example.com/ipp/print or socket://10.0.0.5:9100"
        );
        problems.error(&join_key(key, "uri"), &message);
    } else if uri.len() > MAXIMUM_URI_BYTES {
        problems.error(&join_key(key, "uri"), &format!("is longer than {MAXIMUM_URI_BYTES} bytes"));
        return false;
    }
    well_formed
}

/// Whether CUPS can build an IPP Everywhere queue for `uri`: only an IPP
/// connection (direct, or found by Bonjour as an IPP service) answers its questions.
pub(crate) fn speaks_ipp(uri: &str) -> bool {
    let lowercase = uri.to_ascii_lowercase();
    lowercase.starts_with("ipp://")
        || lowercase.starts_with("ipps://")
        || ((lowercase.starts_with("dnssd://") || lowercase.starts_with("mdns://")) && lowercase.contains("._ipp"))
}

/// `Some(None)` when absent, `Some(Some(text))` when valid, `None` after an error.
fn label(object: &Map<String, Value>, key: &str, field: &str, problems: &mut Problems) -> Option<Option<String>> {
    let present = object.get(field).is_some_and(|value| !value.is_null());
    let Some(text) = problems.optional_text(object, key, field) else {
        return (!present).then_some(None);
    };
    let problem = if text.trim().is_empty() {
        Some("must not be empty; leave the key out to keep what the printer has".to_string())
    } else if text.chars().any(char::is_control) {
        Some("must not contain control characters such as line breaks".to_string())
    } else if text.len() > MAXIMUM_TEXT_BYTES {
        Some(format!("is longer than {MAXIMUM_TEXT_BYTES} bytes"))
    } else {
        None
    };
    match problem {
        Some(message) => {
            problems.error(&join_key(key, field), &message);
            None
        }
        None => Some(Some(text)),
    }
}

/// A boolean key that is false when absent.
fn flag(object: &Map<String, Value>, key: &str, field: &str, problems: &mut Problems) -> Option<bool> {
    match object.get(field) {
        None | Some(Value::Null) => Some(false),
        Some(Value::Bool(flag)) => Some(*flag),
        Some(other) => {
            problems.wrong_type(&join_key(key, field), "true or false", other);
            None
        }
    }
}

fn resolve_driver(
    object: &Map<String, Value>,
    key: &str,
    uri: Option<&str>,
    problems: &mut Problems,
) -> Option<PrinterDriver> {
    let driver_key = join_key(key, "driver");
    let model = problems.optional_text(object, key, "driver");
    let ppd = problems.optional_text(object, key, "ppd");
    let driver = match (model, ppd) {
        (Some(_), Some(_)) => {
            problems.error(&join_key(key, "ppd"), "set either driver or ppd, not both");
            return None;
        }
        (Some(model), None) if model == "everywhere" => PrinterDriver::Everywhere,
        (Some(model), None)
            if model.is_empty()
                || model.chars().any(|character| character.is_whitespace() || character.is_control()) =>
        {
            let message =
                format!("{model:?} is not a driver: use \"everywhere\" or a model name as `lpinfo -m` lists it");
            problems.error(&driver_key, &message);
            return None;
        }
        (Some(model), None) => PrinterDriver::Model(model),
        (None, Some(ppd)) => PrinterDriver::Ppd(check_ppd_path(&ppd, &join_key(key, "ppd"), problems)?),
        (None, None) => PrinterDriver::Everywhere,
    };
    if driver == PrinterDriver::Everywhere
        && let Some(uri) = uri.filter(|uri| !speaks_ipp(uri))
    {
        let chosen =
            if object.contains_key("driver") { "driver \"everywhere\"" } else { "the default driver \"everywhere\"" };
        let message = format!(
            "{chosen} needs an IPP printer (an ipp://, ipps:// or Bonjour IPP uri) and {uri:?} is not one; \
             set driver to a model from `lpinfo -m` (such as drv:///sample.drv/generic.ppd) or set ppd"
        );
        problems.error(&driver_key, &message);
        return None;
    }
    Some(driver)
}

/// A PPD path must be absolute and free of `..`, since it is found under the root.
fn check_ppd_path(text: &str, key: &str, problems: &mut Problems) -> Option<PathBuf> {
    let path = Path::new(text);
    if !path.is_absolute() {
        problems.error(
            key,
            &format!("{text:?} is not an absolute path such as /Library/Printers/PPDs/Contents/Resources/Model.gz"),
        );
        return None;
    }
    if path.components().any(|component| component == Component::ParentDir) {
        problems.error(key, &format!("{text:?} must not contain \"..\""));
        return None;
    }
    Some(path.to_path_buf())
}

fn resolve_options(
    object: &Map<String, Value>,
    key: &str,
    driver: Option<&PrinterDriver>,
    problems: &mut Problems,
) -> Option<BTreeMap<String, String>> {
    let options_key = join_key(key, "options");
    let entries = match object.get("options") {
        None | Some(Value::Null) => return Some(BTreeMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(other) => {
            problems.wrong_type(&options_key, "an object of option names and values", other);
            return None;
        }
    };
    let mut options = BTreeMap::new();
    let mut valid = true;
    for (name, value) in entries {
        match check_option(name, value, driver) {
            Ok(value) => {
                options.insert(name.clone(), value);
            }
            Err(message) => {
                problems.error(&format!("{options_key}.{name}"), &message);
                valid = false;
            }
        }
    }
    valid.then_some(options)
}

/// One `-o name=value`: a plain option name, a scalar value, and something the
/// audit can read back (`lpoptions -p` for `*-default`, `lpoptions -l` for the rest).
fn check_option(name: &str, value: &Value, driver: Option<&PrinterDriver>) -> Result<String, String> {
    let name_ok = name.starts_with(|character: char| character.is_ascii_alphanumeric())
        && name.chars().all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character));
    if !name_ok {
        return Err("is not an option name: use letters, digits, '-', '_' or '.'".into());
    }
    if let Some((_, own_key)) = OPTIONS_WITH_THEIR_OWN_KEY.iter().find(|(option, _)| option.eq_ignore_ascii_case(name))
    {
        return Err(format!("is set with the item's own key {own_key:?}, not as an option"));
    }
    if name.to_ascii_lowercase().starts_with("printer-") {
        return Err(
            "printer attributes other than the item's own keys cannot be verified, so they are not accepted".into()
        );
    }
    if !CustomPrinter::is_server_default(name) && driver.is_some_and(|driver| !driver.has_ppd()) {
        return Err(
            "the \"raw\" driver has no PPD, so only server defaults (names ending in -default) can be set".into()
        );
    }
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => return Err(format!("expected a string, number or boolean, found {}", kind(value))),
    };
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters such as line breaks".into());
    }
    // PPD choices and IPP keywords are single words; refusing spaces, quotes and
    // backslashes keeps `-o name=value` from being split or unquoted by CUPS.
    if text.chars().any(|character| character.is_whitespace() || "'\"\\".contains(character)) {
        return Err(format!(
            "{text:?} must be one word without quotes or backslashes, as PPD choices and IPP keywords are"
        ));
    }
    Ok(text)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        _ => "a scalar",
    }
}

#[cfg(test)]
mod tests;
