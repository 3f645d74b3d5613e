//! FileVault, read now with `fdesetup status` (not from the last inventory: an
//! admin who just turned it on wants to see it on).

use std::path::Path;

use super::check::Finding;
use crate::inventory::{FileVaultState, Platform, ToolError, ToolRunner, parse_fdesetup_status};

/// What to do when FileVault is off.
const TURN_ON: &str = "Turn FileVault on: a FileVault configuration profile from the MDM (it turns on at the next login and escrows the recovery key), or `sudo fdesetup enable`.";

/// FileVault is on. Where `fdesetup` does not exist (Linux), the check does not apply.
pub(crate) async fn filevault(fdesetup: &Path, runner: &ToolRunner, platform: Platform) -> Finding {
    let output = match runner.output(fdesetup, &["status"]).await {
        Ok(output) => output,
        Err(ToolError::Missing { program }) if platform == Platform::Other => {
            return Finding::skipped(format!("{} not found: FileVault exists on macOS only", program.display()));
        }
        Err(error) => {
            return Finding::warn(
                format!("cannot read: {error}"),
                "Run `sudo fdesetup status` on the Mac and read it.",
            );
        }
    };
    judge(&output)
}

/// The verdict on what `fdesetup status` printed.
fn judge(output: &str) -> Finding {
    let status = parse_fdesetup_status(output);
    let percent = status.percent_completed.map_or_else(String::new, |percent| format!(", {percent}% done"));
    match (status.state, status.deferred_user) {
        (FileVaultState::On, _) => Finding::pass("On"),
        (FileVaultState::Off, Some(user)) => Finding::warn(
            format!("Off; turning on is deferred to {user}'s next login"),
            format!("FileVault turns on when {user} next logs in: ask them to log out and back in."),
        ),
        (FileVaultState::Off, None) => Finding::fail("Off", TURN_ON),
        (FileVaultState::Encrypting, _) => Finding::warn(
            format!("encrypting{percent}"),
            "Nothing to do but wait: encryption goes on in the background while the Mac is awake.",
        ),
        (FileVaultState::Decrypting, _) => {
            Finding::fail(format!("decrypting{percent}: FileVault is being turned off"), TURN_ON)
        }
        (FileVaultState::Unknown, _) => Finding::warn(
            format!("unknown: fdesetup said {:?}", status.detail),
            "Run `sudo fdesetup status` on the Mac and read it.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::check::Verdict;
    use crate::inventory::fdesetup_fixtures::*;

    #[test]
    fn every_state_has_its_verdict() {
        let cases = [
            (ON, Verdict::Pass, "On"),
            (OFF, Verdict::Fail, "Off"),
            (ENCRYPTING, Verdict::Warn, "encrypting, 37.41% done"),
            (DECRYPTING, Verdict::Fail, "decrypting, 82% done: FileVault is being turned off"),
            (DEFERRED, Verdict::Warn, "Off; turning on is deferred to jane's next login"),
            (GERMAN, Verdict::Warn, "unknown: fdesetup said \"FileVault ist aktiviert.\""),
        ];
        for (output, verdict, value) in cases {
            let finding = judge(output);
            assert_eq!((finding.verdict, finding.value.as_str()), (verdict, value));
        }
    }
}
