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

/// What `fdesetup status` prints in each state, in the exact wording of macOS.
#[cfg(test)]
pub(crate) mod fixtures {
    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../tests/fixtures/inventory/fdesetup/", $name))
        };
    }

    pub(crate) const ON: &str = fixture!("on.txt");
    pub(crate) const OFF: &str = fixture!("off.txt");
    pub(crate) const ENCRYPTING: &str = fixture!("encrypting.txt");
    pub(crate) const DECRYPTING: &str = fixture!("decrypting.txt");
    pub(crate) const DEFERRED: &str = fixture!("deferred.txt");
    pub(crate) const GERMAN: &str = fixture!("german.txt");
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn every_wording_reads_to_its_state() {
        let cases = [
            (ON, FileVaultState::On, None, None, "FileVault is On."),
            (OFF, FileVaultState::Off, None, None, "FileVault is Off."),
            (
                ENCRYPTING,
                FileVaultState::Encrypting,
                Some(37.41),
                None,
                "FileVault is On. Encryption in progress: Percent completed = 37.41",
            ),
            (
                DECRYPTING,
                FileVaultState::Decrypting,
                Some(82.0),
                None,
                "FileVault is Off. Decryption in progress: Percent completed = 82",
            ),
            (
                DEFERRED,
                FileVaultState::Off,
                None,
                Some("jane"),
                "FileVault is Off. Deferred enablement appears to be active for user 'jane'.",
            ),
            (GERMAN, FileVaultState::Unknown, None, None, "FileVault ist aktiviert."),
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
