//! The MDM report for people: one line per response (its status and how many
//! items or facts it holds), then what was left out and which collectors failed.

use std::fmt::Write;

use super::envelope::{RequestType, Status};
use super::report::MdmReport;
use crate::render::printable;

/// What a response counts, singular and plural.
fn noun(request_type: RequestType) -> (&'static str, &'static str) {
    match request_type {
        RequestType::ProfileList => ("profile", "profiles"),
        RequestType::InstalledApplicationList => ("application", "applications"),
        RequestType::CertificateList => ("certificate", "certificates"),
        RequestType::AvailableOsUpdates => ("update", "updates"),
        RequestType::SecurityInfo | RequestType::DeviceInformation => ("fact", "facts"),
    }
}

/// The report as text.
pub fn render(report: &MdmReport) -> String {
    let mut out = String::new();
    let udid = report.responses.first().map(|response| response.udid.as_str()).unwrap_or_default();
    let _ = writeln!(out, "MDM daily check-in for UDID {} (report {})", printable(udid), report.report_id);
    for (response, count) in report.responses.iter().zip(&report.counts) {
        let detail = match response.status {
            Status::Acknowledged => {
                let (one, many) = noun(response.request_type);
                format!("{count} {}", if *count == 1 { one } else { many })
            }
            Status::Error => {
                let failed: Vec<&str> = report
                    .errors
                    .iter()
                    .filter(|error| error.request_type == response.request_type)
                    .map(|error| error.collector.as_str())
                    .collect();
                format!("not collected: {} failed", failed.join(", "))
            }
        };
        let status = format!("{:?}", response.status);
        let _ = writeln!(out, "  {:<26}{status:<14}{detail}", response.request_type.as_str());
    }
    if !report.left_out.is_empty() {
        let _ = writeln!(out, "Left out (a key Apple requires is unknown):");
        for left_out in &report.left_out {
            let _ = writeln!(out, "  {}: {}", left_out.request_type.as_str(), printable(&left_out.what));
        }
    }
    if !report.errors.is_empty() {
        let _ = writeln!(out, "Collectors that failed:");
        for error in &report.errors {
            let what = format!("{}: {}: {}", error.request_type.as_str(), error.collector, error.message);
            let _ = writeln!(out, "  {}", printable(&what));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Application, CollectorError, Inventory};
    use crate::mdm::build_report;

    #[test]
    fn the_summary_reads_well() {
        let mut inventory = Inventory::default();
        inventory.device.udid = Some("00006000-001A2B3C4D5E801E".into());
        inventory.operating_system.version = Some("14.6.1".into());
        inventory.applications = vec![Application {
            name: "Foo".into(),
            bundle_id: Some("com.example.foo".into()),
            version: Some("210".into()),
            short_version: Some("2.1".into()),
            size_bytes: 1,
            path: "/Applications/Foo.app".into(),
        }];
        inventory.errors.push(CollectorError {
            collector: "identities".into(),
            message: "/usr/bin/security exited 1: no keychain\u{1b}[2J".into(),
        });
        let mut report = build_report(&inventory, "device-1").unwrap();
        report.report_id = "0192f0c4-0000-7000-8000-000000000001".into();
        report.left_out.push(crate::mdm::LeftOut {
            request_type: RequestType::ProfileList,
            what: "profile com.example.x: its PayloadUUID is unknown".into(),
        });
        insta::assert_snapshot!(render(&report));
    }
}
