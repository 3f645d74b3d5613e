//! What kind of Mac this is: Apple silicon or Intel. On Apple silicon
//! `softwareupdate --install` needs a volume owner's credentials, so the agent
//! never installs an OS update unattended there.
//!
//! Read from `sysctl -n hw.optional.arm64`, which prints `1` on Apple silicon
//! (even for a process running under Rosetta) and `0`, or fails, on Intel.
//! Where the program does not exist or does not know the key (Linux), it is the
//! architecture the agent was built for.

use std::ffi::OsString;
use std::path::Path;

use crate::process::{ChildEnd, SpawnError};
use crate::tool_runner::{ToolRunner, Transcript};

/// The Mac's processor family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Architecture {
    /// An M-series Mac.
    AppleSilicon,
    /// An Intel Mac.
    Intel,
}

impl Architecture {
    /// The architecture the agent was built for.
    fn of_this_build() -> Self {
        if cfg!(target_arch = "aarch64") { Architecture::AppleSilicon } else { Architecture::Intel }
    }
}

/// What `sysctl -n hw.optional.arm64` says, if it says anything: `1` Apple
/// silicon, `0` Intel; anything else (Linux's "cannot stat
/// /proc/sys/hw/optional/arm64") nothing.
pub(crate) fn parse_arm64_flag(output: &str) -> Option<Architecture> {
    match output.trim() {
        "1" => Some(Architecture::AppleSilicon),
        "0" => Some(Architecture::Intel),
        _ => None,
    }
}

/// This Mac's architecture, asked of `sysctl` (see the module's notes).
pub(crate) async fn architecture(tools: &ToolRunner<'_>, sysctl: &Path, transcript: &mut Transcript) -> Architecture {
    let args = vec![OsString::from("-n"), OsString::from("hw.optional.arm64")];
    let run = match tools.run(sysctl, args).await {
        Ok(run) => run,
        Err(SpawnError::NotFound { .. }) => return Architecture::of_this_build(),
        Err(error) => {
            tracing::warn!(error = %error, "Could not ask sysctl for the architecture; using the build's.");
            return Architecture::of_this_build();
        }
    };
    transcript.add("sysctl -n hw.optional.arm64", &run);
    match (parse_arm64_flag(&run.output), run.end) {
        (Some(architecture), _) => architecture,
        // On an Intel Mac before macOS 11 the key does not exist: sysctl fails quietly.
        (None, ChildEnd::Exited { code }) if code != 0 && cfg!(target_os = "macos") => Architecture::Intel,
        (None, _) => Architecture::of_this_build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arm64_flag_reads_as_sysctl_prints_it() {
        let cases = [
            ("1\n", Some(Architecture::AppleSilicon)),
            ("0\n", Some(Architecture::Intel)),
            ("", None),
            ("sysctl: cannot stat /proc/sys/hw/optional/arm64: No such file or directory\n", None),
            ("sysctl: unknown oid 'hw.optional.arm64'\n", None),
        ];
        for (output, expected) in cases {
            assert_eq!(parse_arm64_flag(output), expected, "{output:?}");
        }
    }

    #[tokio::test]
    async fn sysctl_says_which_and_without_it_the_build_decides() {
        use std::os::unix::fs::PermissionsExt;
        let scratch = tempfile::tempdir().unwrap();
        let cancel = tokio_util::sync::CancellationToken::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let grace = std::time::Duration::from_secs(1);
        let tools = ToolRunner { root: scratch.path(), environment: &[], deadline, grace, cancel: &cancel };
        let sysctl = scratch.path().join("sysctl");
        let answers = [
            ("echo 1", Architecture::AppleSilicon),
            ("echo 0", Architecture::Intel),
            ("echo 'sysctl: cannot stat /proc/sys/hw/optional/arm64' >&2; exit 255", Architecture::of_this_build()),
        ];
        for (body, expected) in answers {
            std::fs::write(&sysctl, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&sysctl, std::fs::Permissions::from_mode(0o755)).unwrap();
            let mut transcript = Transcript::default();
            assert_eq!(architecture(&tools, &sysctl, &mut transcript).await, expected, "{body}");
            assert!(transcript.into_text().starts_with("--- sysctl -n hw.optional.arm64 ("));
        }
        let missing = scratch.path().join("missing");
        assert_eq!(architecture(&tools, &missing, &mut Transcript::default()).await, Architecture::of_this_build());
    }
}
