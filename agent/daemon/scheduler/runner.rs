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

/// What one check-in is started with.
#[derive(Clone, Copy)]
pub(crate) struct CheckinCall<'a> {
    /// Where everything lives.
    pub(crate) paths: &'a AgentPaths,
    /// The configuration it runs with.
    pub(crate) config: &'a AgentConfig,
    /// What was asked for, and by whom.
    pub(crate) request: &'a CheckinRequest,
    /// Stops it.
    pub(crate) cancel: &'a CancellationToken,
}

/// Runs one check-in, as [`run_checkin`] does.
pub(crate) trait CheckinRunner {
    /// Starts the check-in `call` asks for; `progress` hears of it.
    fn run<'a>(&'a self, call: CheckinCall<'a>, progress: &'a mut dyn FnMut(ProgressEvent)) -> Running<'a>;
}

/// The real check-in, by the system clock.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemCheckins;

impl CheckinRunner for SystemCheckins {
    fn run<'a>(&'a self, call: CheckinCall<'a>, progress: &'a mut dyn FnMut(ProgressEvent)) -> Running<'a> {
        Box::pin(run_checkin(call.paths, call.config, call.request, progress, call.cancel))
    }
}
