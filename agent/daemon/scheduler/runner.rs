//! What starts a check-in for the scheduler: the one seam between deciding when
//! a check-in runs and running it.
//!
//! The daemon runs the real check-in ([`SystemCheckins`]). The scheduler's tests
//! under paused time give it a stand-in that records its run by their fake wall
//! clock: a real check-in dates its run by the system clock, which paused time
//! does not move, so hours of schedule could not pass in milliseconds.

use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::checkin::{CheckedIn, CheckinError, CheckinRequest, ProgressEvent, run_checkin};
use crate::config::AgentConfig;
use crate::paths::AgentPaths;

/// One check-in under way, borrowing what it was started with.
pub(crate) type Running<'a> = Pin<Box<dyn Future<Output = Result<CheckedIn, CheckinError>> + 'a>>;

/// Runs one check-in, as [`run_checkin`] does.
pub(crate) trait CheckinRunner {
    /// Starts the check-in `request` asks for with `config`; `progress` hears of
    /// it, `cancel` stops it.
    fn run<'a>(
        &'a self,
        paths: &'a AgentPaths,
        config: &'a AgentConfig,
        request: &'a CheckinRequest,
        progress: &'a mut dyn FnMut(ProgressEvent),
        cancel: &'a CancellationToken,
    ) -> Running<'a>;
}

/// The real check-in, by the system clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemCheckins;

impl CheckinRunner for SystemCheckins {
    fn run<'a>(
        &'a self,
        paths: &'a AgentPaths,
        config: &'a AgentConfig,
        request: &'a CheckinRequest,
        progress: &'a mut dyn FnMut(ProgressEvent),
        cancel: &'a CancellationToken,
    ) -> Running<'a> {
        Box::pin(run_checkin(paths, config, request, progress, cancel))
    }
}
