//! Reading `fdesetup status`.
//!
//! The tool prints English sentences: `FileVault is On.` or `FileVault is Off.`,
//! then, while the disk changes, `Encryption in progress: Percent completed = 37.41`
//! (or `Decryption …`), and `Deferred enablement appears to be active for user
//! 'jane'.` when enabling waits for that user's next login. Anything else (a
//! translated or future wording) is `unknown` with the tool's words kept, never a
//! guessed on or off.

use super::model::{FileVault, FileVaultState};

/// Reads the output of `fdesetup status`.
pub(crate) fn parse_fdesetup_status(output: &str) -> FileVault {
    let mut state = FileVaultState::Unknown;
    let mut percent_completed = None;
    let mut deferred_user = None;
    for line in output.lines().map(str::trim) {
        if line.starts_with("FileVault is On") {
            state = FileVaultState::On;
        } else if line.starts_with("FileVault is Off") {
            state = FileVaultState::Off;
        } else if let Some(rest) = line.strip_prefix("Encryption in progress") {
            state = FileVaultState::Encrypting;
            percent_completed = percent(rest);
        } else if let Some(rest) = line.strip_prefix("Decryption in progress") {
            state = FileVaultState::Decrypting;
            percent_completed = percent(rest);
        } else if let Some(rest) = line.strip_prefix("Deferred enablement appears to be active for user '") {
            deferred_user = rest.split('\'').next().filter(|user| !user.is_empty()).map(str::to_string);
        }
    }
    let detail = output.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ");
    FileVault { state, percent_completed, deferred_user, detail }
}

/// `: Percent completed = 37.41` → 37.41.
fn percent(rest: &str) -> Option<f64> {
    rest.rsplit_once('=')?.1.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/inventory/fdesetup/", $name))
        };
    }

    #[test]
    fn every_wording_reads_to_its_state() {
        let cases = [
            (fixture!("on.txt"), FileVaultState::On, None, None, "FileVault is On."),
            (fixture!("off.txt"), FileVaultState::Off, None, None, "FileVault is Off."),
            (
                fixture!("encrypting.txt"),
                FileVaultState::Encrypting,
                Some(37.41),
                None,
                "FileVault is On. Encryption in progress: Percent completed = 37.41",
            ),
            (
                fixture!("decrypting.txt"),
                FileVaultState::Decrypting,
                Some(82.0),
                None,
                "FileVault is Off. Decryption in progress: Percent completed = 82",
            ),
            (
                fixture!("deferred.txt"),
                FileVaultState::Off,
                None,
                Some("jane"),
                "FileVault is Off. Deferred enablement appears to be active for user 'jane'.",
            ),
            (fixture!("german.txt"), FileVaultState::Unknown, None, None, "FileVault ist aktiviert."),
            ("", FileVaultState::Unknown, None, None, ""),
        ];
        for (output, state, percent, user, detail) in cases {
            let status = parse_fdesetup_status(output);
            assert_eq!(status.state, state, "{output:?}");
            assert_eq!(status.percent_completed, percent, "{output:?}");
            assert_eq!(status.deferred_user.as_deref(), user, "{output:?}");
            assert_eq!(status.detail, detail);
        }
    }
}
