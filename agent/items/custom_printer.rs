//! Custom printers: added and kept in line through CUPS.
//!
//! The audit reads the queue back (`lpstat -e`, `lpoptions -p`, and when the
//! item needs them `lpoptions -l` and `lpstat -d`). A queue that is present and
//! identical is left alone: no `lpadmin` runs. A missing queue is added with
//! every setting; a drifted one gets back only what drifted, and counts as
//! re-applied. Either way the audit runs again to confirm before success is claimed.

mod audit;
mod cups_output;
mod lpadmin;
mod memory;
mod tools;

use std::ffi::OsString;

use self::audit::{Difference, Observed};
use self::memory::DriverRecord;
use self::tools::{last_line, run_tool};
use super::{ItemContext, ItemReport};
use crate::blueprint::CustomPrinter;
use crate::state::ItemStatus;
use crate::tool_runner::Transcript;

/// Audits the printer, and adds or repairs it when needed.
pub async fn run(settings: &CustomPrinter, context: &mut ItemContext<'_>) -> ItemReport {
    let mut transcript = Transcript::default();
    let mut report = match enforce(settings, context, &mut transcript).await {
        Ok(report) | Err(report) => report,
    };
    report.output = transcript.into_text();
    report
}

async fn enforce(
    settings: &CustomPrinter,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    (context.on_phase)("audit");
    let record = memory::recall(context)?;
    let Some(observed) = audit::read(settings, context, transcript).await? else {
        return apply(settings, None, context, transcript).await;
    };
    let differences = audit::differences(settings, &observed, record.as_ref());
    if differences.is_empty() {
        return Ok(succeeded(compliant_message(settings), false));
    }
    apply(settings, Some(&differences), context, transcript).await
}

/// Adds the queue (`differences` is `None`) or puts back what differs, then audits again.
async fn apply(
    settings: &CustomPrinter,
    differences: Option<&[Difference]>,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<ItemReport, ItemReport> {
    let name = &settings.printer_name;
    let doing = if differences.is_some() { "re-apply" } else { "add" };
    let ppd = if lpadmin::applies_driver(differences) {
        lpadmin::ppd_on_device(&settings.driver, context.root)?
    } else {
        None
    };
    let arguments = match differences {
        None => Some(lpadmin::add_arguments(settings, ppd.as_deref())),
        Some(differences) => lpadmin::reapply_arguments(settings, differences, ppd.as_deref()),
    };
    if let Some(arguments) = arguments {
        (context.on_phase)(doing);
        administer(&arguments, &format!("cannot {doing} printer {name}"), context, transcript).await?;
    }
    let wants_default = differences.map_or(settings.default, |found| found.iter().any(is_not_default));
    if wants_default {
        (context.on_phase)("set default");
        let failure = format!("cannot make printer {name} the default");
        administer(&lpadmin::default_arguments(settings), &failure, context, transcript).await?;
    }
    (context.on_phase)("verify");
    let observed = audit::read(settings, context, transcript).await?.ok_or_else(|| {
        ItemReport::failed(format!("lpadmin succeeded but printer {name} is still not listed by lpstat -e"))
    })?;
    let record = driver_record(settings, &observed, lpadmin::applies_driver(differences), context)?;
    let remaining = audit::differences(settings, &observed, Some(&record));
    if !remaining.is_empty() {
        let message = format!(
            "printer {name} still differs after lpadmin: {}",
            describe(settings, &remaining, Telling::Remaining)
        );
        return Err(ItemReport::failed(message));
    }
    memory::remember(&record, context)?;
    Ok(match differences {
        None => succeeded(added_message(settings), false),
        Some(differences) => succeeded(
            format!("re-applied: printer {name}: {}", describe(settings, differences, Telling::Repaired)),
            true,
        ),
    })
}

/// Runs `lpadmin`; a non-zero exit fails the item with what lpadmin said.
async fn administer(
    arguments: &[OsString],
    failure: &str,
    context: &ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<(), ItemReport> {
    let ran = run_tool("lpadmin", &context.config.commands.lpadmin, arguments, context, transcript).await?;
    if ran.succeeded() {
        return Ok(());
    }
    let message = format!("{failure}: lpadmin exited {}: {}", ran.exit_code().unwrap_or(-1), last_line(&ran));
    Err(ItemReport::tool_ended(ran.end, message))
}

/// The driver record after applying: a new one when the driver was just set,
/// else the one kept (or, if none was kept, the queue as it stands).
fn driver_record(
    settings: &CustomPrinter,
    observed: &Observed,
    driver_applied: bool,
    context: &ItemContext<'_>,
) -> Result<DriverRecord, ItemReport> {
    let fresh = DriverRecord {
        printer_name: settings.printer_name.clone(),
        driver: settings.driver.to_string(),
        make_and_model: observed.make_and_model().to_string(),
    };
    if driver_applied {
        return Ok(fresh);
    }
    Ok(memory::recall(context)?.unwrap_or(fresh))
}

fn is_not_default(difference: &Difference) -> bool {
    matches!(difference, Difference::NotDefault(_))
}

/// Whether differences are told as repaired or as still there.
#[derive(Clone, Copy)]
enum Telling {
    /// "uri was X, set to Y".
    Repaired,
    /// "uri is X, expected Y".
    Remaining,
}

/// Every difference in one line, separated by semicolons.
fn describe(settings: &CustomPrinter, differences: &[Difference], telling: Telling) -> String {
    let parts: Vec<String> = differences
        .iter()
        .map(|difference| {
            let (subject, found, wanted) = difference.parts(settings);
            match telling {
                Telling::Repaired => format!("{subject} was {found}, set to {wanted}"),
                Telling::Remaining => format!("{subject} is {found}, expected {wanted}"),
            }
        })
        .collect();
    parts.join("; ")
}

fn added_message(settings: &CustomPrinter) -> String {
    let default = if settings.default { ", as the default printer" } else { "" };
    format!("added: printer {} at {} with driver {}{default}", settings.printer_name, settings.uri, settings.driver)
}

fn compliant_message(settings: &CustomPrinter) -> String {
    let mut checked = vec!["URI", "driver"];
    checked.extend(settings.display_name.as_ref().map(|_| "display name"));
    checked.extend(settings.location.as_ref().map(|_| "location"));
    checked.push("sharing");
    match settings.options.len() {
        0 => {}
        1 => checked.push("option"),
        _ => checked.push("options"),
    }
    let last = checked.pop().unwrap_or_default();
    let default = if settings.default { ", as the default printer" } else { "" };
    format!(
        "compliant: printer {} present with the expected {} and {last}{default}",
        settings.printer_name,
        checked.join(", ")
    )
}

fn succeeded(message: String, reapplied: bool) -> ItemReport {
    ItemReport { status: ItemStatus::Succeeded, message, exit_code: None, output: String::new(), reapplied }
}

#[cfg(test)]
mod tests;
