//! Reading `profiles status -type enrollment`.
//!
//! The tool prints `Key: value` lines: `Enrolled via DEP: Yes`, `MDM enrollment:
//! Yes (User Approved)` (or `Yes`, or `No`), and on recent macOS `MDM server:
//! URL`. A line it does not know (another wording, another language) leaves its
//! fact unknown rather than read as "No".

use super::model::Enrollment;

/// Reads the output of `profiles status -type enrollment`.
pub(crate) fn parse_enrollment_status(output: &str) -> Enrollment {
    let mut enrollment = Enrollment::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match key.trim() {
            "Enrolled via DEP" => enrollment.enrolled_via_dep = yes_or_no(value),
            "MDM enrollment" => {
                enrollment.mdm_enrolled = yes_or_no(value);
                enrollment.user_approved = match enrollment.mdm_enrolled {
                    Some(true) => Some(value.contains("User Approved")),
                    Some(false) => Some(false),
                    None => None,
                };
            }
            "MDM server" => enrollment.mdm_server = Some(value.to_string()).filter(|url| !url.is_empty()),
            _ => {}
        }
    }
    // Automated Device Enrollment counts as approved by the user.
    if enrollment.enrolled_via_dep == Some(true) && enrollment.mdm_enrolled == Some(true) {
        enrollment.user_approved = Some(true);
    }
    enrollment
}

fn yes_or_no(value: &str) -> Option<bool> {
    let word = value.split_whitespace().next().unwrap_or_default();
    match word {
        "Yes" => Some(true),
        "No" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/inventory/profiles-status/", $name))
        };
    }

    fn enrollment(dep: Option<bool>, mdm: Option<bool>, approved: Option<bool>, server: Option<&str>) -> Enrollment {
        Enrollment {
            enrolled_via_dep: dep,
            mdm_enrolled: mdm,
            user_approved: approved,
            mdm_server: server.map(str::to_string),
        }
    }

    #[test]
    fn every_enrollment_reads_as_it_is() {
        let cases = [
            (
                fixture!("dep-user-approved.txt"),
                enrollment(Some(true), Some(true), Some(true), Some("https://mdm.example.com/mdm/checkin")),
            ),
            (fixture!("manual.txt"), enrollment(Some(false), Some(true), Some(false), None)),
            (fixture!("not-enrolled.txt"), enrollment(Some(false), Some(false), Some(false), None)),
            (fixture!("german.txt"), enrollment(None, None, None, None)),
            ("Enrolled via DEP: Yes\nMDM enrollment: Yes\n", enrollment(Some(true), Some(true), Some(true), None)),
            ("", Enrollment::default()),
        ];
        for (output, expected) in cases {
            assert_eq!(parse_enrollment_status(output), expected, "{output:?}");
        }
    }
}
