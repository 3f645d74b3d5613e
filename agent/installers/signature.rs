//! Checking who signed what is about to be installed, before anything is placed,
//! when the item names a `team_id` ([`SignatureRequirement`]).
//!
//! - A pkg: `pkgutil --check-signature` must show a Developer ID Installer
//!   certificate of the team, with a chain to Apple's root that `pkgutil`
//!   trusts; then, when notarization is required, `spctl --assess --type
//!   install -vv` must accept it with `source=Notarized Developer ID`.
//! - An app (from a zip or a dmg, checked in its staging folder, after it was
//!   made safe and before it is swapped in): `codesign -dv --verbose=2` must
//!   show a Developer ID Application certificate of the team (its
//!   `TeamIdentifier`), `codesign --verify --deep --strict` must pass, and
//!   when notarization is required `spctl --assess --type execute -vv` must
//!   accept it as a notarized Developer ID.
//!
//! Every tool's output goes into the item's transcript; the parsers
//! ([`pkgutil`], [`codesign`], [`spctl`]) are plain functions tested against
//! the tools' real output. A mismatch is [`InstallError::Signature`], naming
//! what was found.

mod codesign;
mod pkgutil;
mod signer;
mod spctl;

use std::ffi::OsString;
use std::path::Path;

use signer::Signer;

use super::error::InstallError;
use super::tools::Tools;
use crate::blueprint::SignatureRequirement;
use crate::config::Commands;
use crate::tool_runner::{ToolRunner, Transcript};

/// A signature check to make: who must have signed, and where the tools are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignatureCheck<'a> {
    /// The team, and whether notarization is required.
    pub required: &'a SignatureRequirement,
    /// `commands.pkgutil`, `commands.codesign`, `commands.spctl`.
    pub commands: &'a Commands,
}

/// Checks the flat package at `package` against `check`.
pub(super) async fn check_package(
    tools: &mut Tools<'_>,
    check: SignatureCheck<'_>,
    package: &Path,
) -> Result<(), InstallError> {
    let refuse = |found: String| InstallError::Signature { subject: "the pkg".into(), found };
    let args = vec!["--check-signature".into(), package.into()];
    let checked = tools.inspect("pkgutil --check-signature", &check.commands.pkgutil, args).await?;
    let signer = pkgutil::signer(&checked.output, checked.succeeded());
    same_team(&signer, &check.required.team_id).map_err(refuse)?;
    if check.required.require_notarized {
        let assessed = tools.inspect("spctl --assess", &check.commands.spctl, assess("install", package)).await?;
        if let Some(problem) = spctl::assessment(&assessed.output).notarization_problem(&check.required.team_id) {
            return Err(refuse(problem));
        }
    }
    tracing::info!(team_id = %check.required.team_id, "Package signature matches its team.");
    Ok(())
}

/// [`check_package`] for a caller outside the installers (the agent's own
/// update): the tools run with `runner`, their output goes to `transcript`.
pub(crate) async fn check_package_with(
    runner: ToolRunner<'_>,
    check: SignatureCheck<'_>,
    package: &Path,
    transcript: &mut Transcript,
) -> Result<(), InstallError> {
    check_package(&mut Tools::new(runner, transcript), check, package).await
}

/// Checks the app bundle at `app` (staged, not yet placed) against `check`.
pub(super) async fn check_app(
    tools: &mut Tools<'_>,
    check: SignatureCheck<'_>,
    app: &Path,
) -> Result<(), InstallError> {
    let subject = app.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let refuse = |found: String| InstallError::Signature { subject: subject.clone(), found };
    let codesign = &check.commands.codesign;
    let display: Vec<OsString> = vec!["-dv".into(), "--verbose=2".into(), app.into()];
    let shown = tools.inspect("codesign -dv", codesign, display).await?;
    same_team(&codesign::signer(&shown.output), &check.required.team_id).map_err(refuse)?;
    let verify: Vec<OsString> = vec!["--verify".into(), "--deep".into(), "--strict".into(), app.into()];
    let verified = tools.inspect("codesign --verify", codesign, verify).await?;
    if !verified.succeeded() {
        return Err(refuse(format!("signature invalid: {}", codesign::verify_failure(&verified.output))));
    }
    if check.required.require_notarized {
        let assessed = tools.inspect("spctl --assess", &check.commands.spctl, assess("execute", app)).await?;
        if let Some(problem) = spctl::assessment(&assessed.output).notarization_problem(&check.required.team_id) {
            return Err(refuse(problem));
        }
    }
    tracing::info!(app = %subject, team_id = %check.required.team_id, "App signature matches its team.");
    Ok(())
}

/// `spctl --assess --type KIND -vv PATH`.
fn assess(kind: &str, path: &Path) -> Vec<OsString> {
    vec!["--assess".into(), "--type".into(), kind.into(), "-vv".into(), path.into()]
}

/// Nothing when `signer` is a Developer ID of `team_id`; else what was found instead.
fn same_team(signer: &Signer, team_id: &str) -> Result<(), String> {
    match signer {
        Signer::DeveloperId { team_id: found, .. } if found == team_id => Ok(()),
        Signer::DeveloperId { .. } => Err(format!("{signer}, not {team_id}")),
        _ => Err(signer.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_team_is_named_with_the_one_required() {
        let other = Signer::DeveloperId {
            team_id: "XYZ9876543".into(),
            certificate: "Developer ID Installer: Other Corp".into(),
        };
        assert_eq!(
            same_team(&other, "ABCDE12345").unwrap_err(),
            "signed by team XYZ9876543 (\"Developer ID Installer: Other Corp\"), not ABCDE12345"
        );
        assert_eq!(same_team(&other, "XYZ9876543"), Ok(()));
        assert_eq!(same_team(&Signer::AdHoc, "ABCDE12345").unwrap_err(), "ad-hoc signature");
        assert_eq!(same_team(&Signer::NotSigned, "ABCDE12345").unwrap_err(), "not signed");
    }
}
