//! The exit codes every verb uses, and which failure maps to which.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | every item succeeded or was rightly skipped (or the verb did its job) |
//! | 1 | an item failed or timed out, `agent doctor` found a failing check, or the agent itself failed |
//! | 2 | bad input or configuration: nothing ran; the message says what and where |
//! | 3 | could not get the run: another check-in holds it and waiting was refused |

use crate::blueprint::BlueprintErrors;
use crate::checkin::CheckinError;
use crate::cli::BadArgument;
use crate::config::ConfigErrors;
use crate::run_lock::LockError;

/// Everything went as it should.
pub const SUCCESS: u8 = 0;
/// An item failed or timed out, or the agent itself hit an error.
pub const FAILURE: u8 = 1;
/// Bad input or configuration; nothing ran.
pub const BAD_INPUT: u8 = 2;
/// Another check-in is running and waiting was refused.
pub const BUSY: u8 = 3;

/// The exit code for an error that ended a verb.
pub fn for_error(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<ConfigErrors>().is_some()
        || error.downcast_ref::<BlueprintErrors>().is_some()
        || error.downcast_ref::<BadArgument>().is_some()
    {
        return BAD_INPUT;
    }
    match error.downcast_ref::<CheckinError>() {
        Some(
            CheckinError::NoBlueprint
            | CheckinError::NoBlueprintYet
            | CheckinError::SavedBlueprintDamaged { .. }
            | CheckinError::Blueprint(_)
            | CheckinError::SelfService(_),
        ) => BAD_INPUT,
        Some(CheckinError::Lock(LockError::Busy { .. })) => BUSY,
        _ => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_flag_value_is_bad_input_and_other_errors_are_failures() {
        let bad_flag = BadArgument { flag: "--level", value: "loud".into(), reason: "not a level".into() };
        assert_eq!(for_error(&anyhow::Error::from(bad_flag).context("agent logs")), BAD_INPUT);
        assert_eq!(for_error(&anyhow::anyhow!("disk full")), FAILURE);
    }
}
