//! What the daemon's command channel last said about itself (listening, off, not
//! enrolled, not offered, refused, unreachable, closed), kept in the store when it changes so
//! `agent status` can show it without asking the daemon.
//!
//! The daemon that wrote it is named by its pid: one that is gone (a crash, a
//! `kill -9`) left its last word behind, so a reader shows the channel closed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::{Store, StoreError};

/// The store's key for it.
const KEY: &str = "command_channel";

/// The longest message kept.
const MAX_MESSAGE_CHARS: usize = 300;

/// Where the channel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    /// A request is held open with the tenant.
    Listening,
    /// `tenant.command_channel` is off, or no tenant is configured.
    Off,
    /// The device holds no token yet: it listens once a check-in enrolled it.
    NotEnrolled,
    /// The tenant answered `404`: asked again after the next daily check-in.
    NotOffered,
    /// The tenant refused the device token (`401`): asked again after the next check-in.
    Unauthorized,
    /// The tenant cannot be reached; retried after pauses.
    Unreachable,
    /// The daemon stopped (or is gone).
    Closed,
}

/// The channel's state, since when, and what the daemon said about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStatus {
    /// Where it stands.
    pub state: ChannelState,
    /// Since when.
    pub since: DateTime<Utc>,
    /// The error, for `unreachable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The daemon that keeps it.
    pub daemon_pid: u32,
}

impl ChannelStatus {
    /// This daemon's channel in `state` from now, with `message`.
    pub(crate) fn now(state: ChannelState, message: Option<String>) -> Self {
        let message = message.map(|text| text.chars().filter(|c| !c.is_control()).take(MAX_MESSAGE_CHARS).collect());
        Self { state, since: Utc::now(), message, daemon_pid: std::process::id() }
    }
}

/// Keeps `status` as the channel's last word.
pub(crate) fn record(store: &Store, status: &ChannelStatus) -> Result<(), StoreError> {
    let text = serde_json::to_string(status).unwrap_or_default();
    store.set_tenant_value(KEY, Some(&text))
}

/// The channel's last word, `closed` when the daemon that wrote it is gone;
/// `None` when no daemon ever kept a channel here (or the record is unreadable).
pub(crate) fn load(store: &Store) -> Result<Option<ChannelStatus>, StoreError> {
    let Some(text) = store.tenant_value(KEY)? else { return Ok(None) };
    let Ok(mut status) = serde_json::from_str::<ChannelStatus>(&text) else { return Ok(None) };
    if status.state != ChannelState::Closed && !process_alive(status.daemon_pid) {
        status.state = ChannelState::Closed;
        status.message = None;
    }
    Ok(Some(status))
}

/// Whether a process with this pid runs (signal 0 reaches it, or it is someone
/// else's: `EPERM`).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(error) => error == nix::errno::Errno::EPERM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_is_kept_and_a_gone_daemons_channel_reads_closed() {
        let (_folder, store) = Store::scratch();
        assert_eq!(load(&store).unwrap(), None, "no daemon kept a channel yet");
        let status = ChannelStatus::now(ChannelState::Unreachable, Some(format!("refused\n{}", "x".repeat(500))));
        record(&store, &status).unwrap();
        let loaded = load(&store).unwrap().unwrap();
        assert_eq!(loaded.state, ChannelState::Unreachable, "this process is alive");
        assert_eq!(loaded.message.as_deref().map(str::len), Some(MAX_MESSAGE_CHARS), "bounded, no control characters");
        let gone = ChannelStatus { daemon_pid: i32::MAX as u32, ..status };
        record(&store, &gone).unwrap();
        let loaded = load(&store).unwrap().unwrap();
        assert_eq!((loaded.state, loaded.message), (ChannelState::Closed, None));
        store.set_tenant_value(KEY, Some("{garbage")).unwrap();
        assert_eq!(load(&store).unwrap(), None, "unreadable: as if none");
    }
}
