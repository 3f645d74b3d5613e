//! The audit: what CUPS has for the item's queue, and how it differs from the blueprint.

use std::collections::BTreeMap;
use std::ffi::OsString;

use super::super::{ItemContext, ItemReport};
use super::cups_output::{
    Choice, DefaultDestination, parse_default_destination, parse_destinations, parse_driver_choices,
    parse_printer_options,
};
use super::memory::DriverRecord;
use super::tools::{last_line, run_tool};
use crate::blueprint::CustomPrinter;
use crate::tool_runner::Transcript;

/// What CUPS reported about an existing queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Observed {
    /// `lpoptions -p NAME`: the queue's attributes and server defaults.
    pub(super) attributes: BTreeMap<String, String>,
    /// `lpoptions -p NAME -l`: the PPD's options; read only when the item sets some.
    pub(super) choices: BTreeMap<String, Choice>,
    /// `lpstat -d`: the system's default printer; read only when the item wants to be it.
    pub(super) system_default: Option<String>,
}

impl Observed {
    fn attribute(&self, name: &str) -> &str {
        self.attributes.get(name).map_or("", String::as_str)
    }

    /// The model CUPS describes the queue's driver with.
    pub(super) fn make_and_model(&self) -> &str {
        self.attribute("printer-make-and-model")
    }
}

/// Reads the queue from CUPS; `None` when there is no such (permanent) queue.
///
/// # Errors
///
/// The item's report when a tool cannot run, or CUPS' answers cannot be read.
pub(super) async fn read(
    settings: &CustomPrinter,
    context: &ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<Option<Observed>, ItemReport> {
    let commands = &context.config.commands;
    let name = settings.printer_name.as_str();
    let listed = run_tool("lpstat", &commands.lpstat, &arguments(&["-e"]), context, transcript).await?;
    if !parse_destinations(&listed.output).iter().any(|listed| listed.eq_ignore_ascii_case(name)) {
        return Ok(None);
    }
    let printed = run_tool("lpoptions", &commands.lpoptions, &arguments(&["-p", name]), context, transcript).await?;
    let attributes = parse_printer_options(&printed.output);
    if !attributes.contains_key("device-uri") {
        let message =
            format!("cannot read printer {name}'s settings: lpoptions -p {name} said: {}", last_line(&printed));
        return Err(ItemReport::failed(message));
    }
    // A queue CUPS made on its own for a printer it found on the network lasts
    // only while used; `lpadmin -p` makes it permanent, as when it is missing.
    if attributes.get("printer-is-temporary").is_some_and(|value| value == "true") {
        return Ok(None);
    }
    let mut observed = Observed { attributes, ..Observed::default() };
    if settings.sets_driver_options() {
        let listed =
            run_tool("lpoptions", &commands.lpoptions, &arguments(&["-p", name, "-l"]), context, transcript).await?;
        observed.choices = parse_driver_choices(&listed.output);
    }
    if settings.default {
        let answer = run_tool("lpstat", &commands.lpstat, &arguments(&["-d"]), context, transcript).await?;
        observed.system_default = match parse_default_destination(&answer.output) {
            Ok(DefaultDestination::Named(default)) => Some(default),
            Ok(DefaultDestination::Nothing) => None,
            Err(problem) => {
                return Err(ItemReport::failed(format!("cannot read the default printer: lpstat -d said: {problem}")));
            }
        };
    }
    Ok(Some(observed))
}

fn arguments(parts: &[&str]) -> Vec<OsString> {
    parts.iter().map(OsString::from).collect()
}

/// One way an existing queue differs from the blueprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Difference {
    /// The device URI, as found.
    Uri(String),
    /// The display name (`printer-info`), as found.
    DisplayName(String),
    /// The location, as found.
    Location(String),
    /// Whether the queue is shared, as found.
    Shared(bool),
    /// The queue is stopped or refuses jobs (which of the two).
    Disabled(&'static str),
    /// An option differs.
    Option {
        /// The option's name, as the blueprint spells it.
        name: String,
        /// Its value as found, or why there is none; `None` when a server default is not set.
        found: Option<String>,
    },
    /// The driver may not be the blueprint's.
    Driver(DriverDrift),
    /// The item should be the default printer; the default as found.
    NotDefault(Option<String>),
}

/// Why the driver is applied again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DriverDrift {
    /// The device has no record of the agent applying a driver to this queue.
    Unrecorded,
    /// The blueprint names another driver than the one last applied.
    ChangedInBlueprint(String),
    /// CUPS reports another model than after the agent applied the driver.
    ChangedOnDevice { recorded: String, found: String },
}

/// Every way `observed` differs from `settings`, in the order `lpadmin` takes them.
pub(super) fn differences(
    settings: &CustomPrinter,
    observed: &Observed,
    record: Option<&DriverRecord>,
) -> Vec<Difference> {
    let mut found = Vec::new();
    if let Some(drift) = driver_drift(settings, observed, record) {
        found.push(Difference::Driver(drift));
    }
    if observed.attribute("device-uri") != settings.uri {
        found.push(Difference::Uri(observed.attribute("device-uri").to_string()));
    }
    if let Some(display_name) = &settings.display_name
        && observed.attribute("printer-info") != display_name
    {
        found.push(Difference::DisplayName(observed.attribute("printer-info").to_string()));
    }
    if let Some(location) = &settings.location
        && observed.attribute("printer-location") != location
    {
        found.push(Difference::Location(observed.attribute("printer-location").to_string()));
    }
    let shared = observed.attribute("printer-is-shared") == "true";
    if shared != settings.shared {
        found.push(Difference::Shared(shared));
    }
    if observed.attribute("printer-state") == "5" {
        found.push(Difference::Disabled("stopped"));
    } else if observed.attribute("printer-is-accepting-jobs") == "false" {
        found.push(Difference::Disabled("rejecting jobs"));
    }
    for (name, wanted) in &settings.options {
        let current = current_option(observed, name);
        if !option_matches(current.as_ref(), wanted) {
            let found_text = describe_option(observed, name, current.as_ref());
            found.push(Difference::Option { name: name.clone(), found: found_text });
        }
    }
    if settings.default
        && !observed.system_default.as_ref().is_some_and(|default| default.eq_ignore_ascii_case(&settings.printer_name))
    {
        found.push(Difference::NotDefault(observed.system_default.clone()));
    }
    found
}

fn driver_drift(settings: &CustomPrinter, observed: &Observed, record: Option<&DriverRecord>) -> Option<DriverDrift> {
    let Some(record) = record.filter(|record| record.printer_name.eq_ignore_ascii_case(&settings.printer_name)) else {
        return Some(DriverDrift::Unrecorded);
    };
    if record.driver != settings.driver.to_string() {
        return Some(DriverDrift::ChangedInBlueprint(record.driver.clone()));
    }
    (record.make_and_model != observed.make_and_model()).then(|| DriverDrift::ChangedOnDevice {
        recorded: record.make_and_model.clone(),
        found: observed.make_and_model().to_string(),
    })
}

/// A server default (`number-up-default`) is listed by lpoptions without its
/// `-default` suffix; any other option is a choice of the PPD.
fn current_option(observed: &Observed, name: &str) -> Option<Choice> {
    if CustomPrinter::is_server_default(name) {
        let listed = &name[..name.len() - "-default".len()];
        return observed.attributes.get(listed).map(|value| Choice::Listed(value.clone()));
    }
    let exact = observed.choices.get(name);
    exact
        .or_else(|| {
            observed.choices.iter().find(|(keyword, _)| keyword.eq_ignore_ascii_case(name)).map(|(_, choice)| choice)
        })
        .cloned()
}

/// PPD choices compare without case, as CUPS marks them; lpoptions does not
/// print a custom value, so any custom choice stands for the wanted one.
fn option_matches(current: Option<&Choice>, wanted: &str) -> bool {
    match current {
        Some(Choice::Listed(value)) => value.eq_ignore_ascii_case(wanted),
        Some(Choice::Custom) => wanted.to_ascii_lowercase().starts_with("custom."),
        Some(Choice::Unmarked) | None => false,
    }
}

/// An option's value for messages; a PPD option the driver does not list is
/// told apart from a listing that could not be read.
fn describe_option(observed: &Observed, name: &str, current: Option<&Choice>) -> Option<String> {
    match current {
        Some(Choice::Listed(value)) => Some(value.clone()),
        Some(Choice::Custom) => Some("a custom value".into()),
        Some(Choice::Unmarked) => Some("no choice".into()),
        None if CustomPrinter::is_server_default(name) => None,
        None if observed.choices.is_empty() => Some("unknown (lpoptions -l listed no driver options)".into()),
        None => Some("not offered by the driver".into()),
    }
}

impl Difference {
    /// What differs, what it was, and what the blueprint wants, for messages.
    pub(super) fn parts(&self, settings: &CustomPrinter) -> (String, String, String) {
        let quoted = |text: &str| format!("{text:?}");
        let sharing = |on: bool| if on { "on" } else { "off" }.to_string();
        let wanted_text = |wanted: &Option<String>| quoted(wanted.as_deref().unwrap_or_default());
        match self {
            Difference::Uri(found) => ("uri".into(), found.clone(), settings.uri.clone()),
            Difference::DisplayName(found) => {
                ("display name".into(), quoted(found), wanted_text(&settings.display_name))
            }
            Difference::Location(found) => ("location".into(), quoted(found), wanted_text(&settings.location)),
            Difference::Shared(found) => ("sharing".into(), sharing(*found), sharing(settings.shared)),
            Difference::Disabled(state) => ("the queue".into(), state.to_string(), "enabled and accepting jobs".into()),
            Difference::Option { name, found } => {
                let wanted = settings.options.get(name).cloned().unwrap_or_default();
                (format!("option {name}"), found.clone().unwrap_or_else(|| "not set".into()), wanted)
            }
            Difference::Driver(drift) => {
                let found = match drift {
                    DriverDrift::Unrecorded => "unknown to the agent".to_string(),
                    DriverDrift::ChangedInBlueprint(was) => was.clone(),
                    DriverDrift::ChangedOnDevice { recorded, found } => {
                        format!("changed on the device (model {found:?}, was {recorded:?})")
                    }
                };
                ("driver".into(), found, settings.driver.to_string())
            }
            Difference::NotDefault(found) => (
                "default printer".into(),
                found.clone().unwrap_or_else(|| "none".into()),
                settings.printer_name.clone(),
            ),
        }
    }
}

#[cfg(test)]
mod tests;
