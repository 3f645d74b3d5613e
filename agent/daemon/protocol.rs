//! The control socket's protocol: line-delimited JSON over a Unix domain socket.
//!
//! The socket lives at `paths.socket` (`/var/run/io.endpointagent.agent.sock`),
//! is created by root with mode 0666: every local user may connect. Each request is
//! checked against the peer's credentials (read from the kernel, `SO_PEERCRED` /
//! `getpeereid`): uid 0 (or the daemon's own uid) may make every request; anyone
//! else only the Self Service ones (`self_service_list`, `self_service_install`,
//! `sync`, `device_summary`, `pending_updates`, `update_now`), and gets one
//! `refused` reply for the others.
//!
//! A client sends exactly one request, one JSON object on one line:
//!
//! ```text
//! {"request":"run","reset_daily":false,"blueprint":null,"wait":true}
//! {"request":"status"}
//! ```
//!
//! `run` asks for one check-in: `reset_daily` makes it the daily one, `blueprint`
//! (an absolute path, optional) replaces the configured blueprint for this run, and
//! `wait: false` (`agent run --no-wait`) refuses to queue behind a running check-in.
//! The daemon answers with a stream of lines, each a JSON object whose `reply` says
//! what it is, and closes the connection after the last one:
//!
//! ```text
//! {"reply":"progress","event":"waiting","holder":{"pid":812,"started_at":"…"}}
//! {"reply":"progress","event":"run_started","run":{…},"items":3}
//! {"reply":"progress","event":"item_started","position":0,"total":3,"item_type":"custom_script","name":"…"}
//! {"reply":"progress","event":"item_phase","phase":"audit"}
//! {"reply":"progress","event":"item_finished","position":0,"total":3,"record":{…}}
//! {"reply":"progress","event":"run_finished","run":{…}}
//! {"reply":"finished","run":{…}}                         last: the run record
//! {"reply":"busy","holder":{…}}                          last: `wait` was false and a check-in runs
//! {"reply":"failed","message":"…","exit_code":2}         last: the check-in could not run
//! {"reply":"refused","reason":"…"}                       only: the peer is not allowed
//! ```
//!
//! `progress` events are [`ProgressEvent`]s, the ones an in-process `agent run`
//! shows; `waiting` comes first when the request is queued behind a running
//! check-in. A `sync` asked while another sync waits or runs follows that one:
//! `joined` comes first (`{"reply":"progress","event":"joined","requested_by":"ada",
//! "asked_at":"…"}`), then the same replies as its first requester gets. A `sync`
//! by someone who is not root within `self_service.sync_interval` of the end of the
//! last one is answered with one `failed` line, `exit_code` 3. `update_now`
//! (`{"request":"update_now","item":"ID"}`) streams like `self_service_install`;
//! an item with no pending work is answered with one `failed` line, `exit_code` 2.
//! `pending_updates` is answered with one `{"reply":"updates","updates":[…]}` line.
//! `run_item` (`{"request":"run_item","item":"ID|NAME","force":false}`, root's
//! `agent library --item`) runs that one item as a run of kind `item`, trigger
//! `cli`, queued and streamed like `run`; `force` runs it whatever its frequency
//! says.
//! `status` is answered with one `{"reply":"status",…}` line
//! ([`DaemonStatus`]). A client that closes its side (or shuts down its writing
//! half, as `agent run` does on Ctrl-C) cancels its check-in: the running item's
//! processes are stopped and the run is recorded `interrupted`, and the replies
//! continue until the run record.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checkin::ProgressEvent;
use crate::plan::CheckinKind;
use crate::run_lock::Holder;
use crate::self_service::{DeviceSummary, OfferedItem, PendingUpdate};
use crate::state::RunRecord;

/// The longest request line the daemon reads; a request is a few hundred bytes.
pub(crate) const LONGEST_REQUEST: u64 = 64 * 1024;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Run one check-in and stream its progress.
    Run(RunRequest),
    /// Say what the daemon is doing.
    Status,
    /// Self Service: run the one offered item `item` (its id or name) and stream
    /// its progress; a run of kind `self_service`.
    SelfServiceInstall {
        /// The item's id, or else its name.
        item: String,
    },
    /// Self Service's Sync: the daily check-in now, with trigger `self_service`.
    Sync,
    /// Self Service: the offered items and how each stands on this Mac.
    SelfServiceList,
    /// Self Service: the Device Info summary.
    DeviceSummary,
    /// Self Service's Updates: the disruptive work waiting on this Mac.
    PendingUpdates,
    /// Self Service's "Update Now": run the item `item` (its id or name), whose
    /// work waits, now, as a run of kind `self_service`, whatever its offer.
    UpdateNow {
        /// The item's id, or else its name.
        item: String,
    },
    /// `agent library --item`: run the one library item `item` (its id or
    /// name) now, as a run of kind `item`, and stream its progress. Root's.
    RunItem {
        /// The item's id, or else its name.
        item: String,
        /// Run it even when its frequency would skip it (`-F`).
        #[serde(default)]
        force: bool,
    },
}

impl Request {
    /// Whether a local user who is not root may make this request: the Self
    /// Service ones (list, install an offered item, sync, Device Info, the
    /// updates and "Update Now"). Every other request is root's.
    ///
    /// The updates are safe to show: they say only what the notices already told
    /// the person at the Mac. "Update Now" is safe to allow: it runs only work
    /// the blueprint already holds and that is due on this Mac anyway, sooner.
    pub fn is_self_service(&self) -> bool {
        matches!(
            self,
            Request::SelfServiceInstall { .. }
                | Request::Sync
                | Request::SelfServiceList
                | Request::DeviceSummary
                | Request::PendingUpdates
                | Request::UpdateNow { .. }
        )
    }

    /// The request's name on the wire (`run`, `status`, …), for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Run(_) => "run",
            Request::Status => "status",
            Request::SelfServiceInstall { .. } => "self_service_install",
            Request::Sync => "sync",
            Request::SelfServiceList => "self_service_list",
            Request::DeviceSummary => "device_summary",
            Request::PendingUpdates => "pending_updates",
            Request::UpdateNow { .. } => "update_now",
            Request::RunItem { .. } => "run_item",
        }
    }

    /// What the request asks, for a refusal (`run a check-in`).
    pub fn what_it_asks(&self) -> &'static str {
        match self {
            Request::Run(_) => "run a check-in",
            Request::Status => "show its status",
            Request::SelfServiceInstall { .. } => "install an offered item",
            Request::Sync => "sync",
            Request::SelfServiceList => "list the offered items",
            Request::DeviceSummary => "show Device Info",
            Request::PendingUpdates => "list the pending updates",
            Request::UpdateNow { .. } => "update an item now",
            Request::RunItem { .. } => "run a library item",
        }
    }
}

/// One check-in, as `agent run` asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// Make it the daily check-in whatever the schedule says.
    #[serde(default)]
    pub reset_daily: bool,
    /// Enforce this blueprint file (absolute) instead of the configured one.
    #[serde(default)]
    pub blueprint: Option<PathBuf>,
    /// Queue behind a running check-in; `false` answers `busy` instead.
    #[serde(default = "waits_by_default")]
    pub wait: bool,
}

fn waits_by_default() -> bool {
    true
}

/// One line the daemon sends back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// A step of the check-in.
    Progress(ProgressEvent),
    /// The check-in ended; the last line.
    Finished {
        /// Its record, as `agent status --json` shows it.
        run: RunRecord,
    },
    /// A check-in runs and the request would not wait; the last line.
    Busy {
        /// Who runs it.
        holder: Option<Holder>,
    },
    /// The check-in could not run (no blueprint, a bad one, the daemon stopping).
    Failed {
        /// What went wrong, with its causes.
        message: String,
        /// The exit code `agent run` ends with (see [`crate::exit_code`]).
        exit_code: u8,
    },
    /// The peer may not use the socket; the only line.
    Refused {
        /// Why, for the person who tried.
        reason: String,
    },
    /// The answer to a `status` request.
    Status(DaemonStatus),
    /// The answer to a `self_service_list` request.
    Offered {
        /// The offered items, Recommended first.
        items: Vec<OfferedItem>,
    },
    /// The answer to a `device_summary` request.
    Device(DeviceSummary),
    /// The answer to a `pending_updates` request.
    Updates {
        /// The pending work, the nearest deadline first.
        updates: Vec<PendingUpdate>,
    },
}

impl Reply {
    /// Whether nothing follows this reply.
    pub(crate) fn is_last(&self) -> bool {
        !matches!(self, Reply::Progress(_))
    }

    /// This reply as one line of JSON, newline included.
    pub(crate) fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|error| {
            format!(r#"{{"reply":"failed","message":"cannot encode the reply: {error}","exit_code":1}}"#)
        });
        line.push('\n');
        line
    }
}

/// What the daemon is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// The daemon's process id.
    pub pid: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The check-in it runs now, if any.
    pub running: Option<Holder>,
    /// How many requested check-ins wait behind it.
    pub queued: usize,
    /// The next scheduled check-in, once the schedule has been read.
    pub next_checkin: Option<ScheduledCheckin>,
}

/// When the next scheduled check-in is due, and which kind it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledCheckin {
    /// When it is due.
    pub at: DateTime<Utc>,
    /// Recurring or daily.
    pub kind: CheckinKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_documented() {
        let cases = [
            (
                r#"{"request":"run","reset_daily":true,"blueprint":"/tmp/b.json","wait":false}"#,
                Request::Run(RunRequest {
                    reset_daily: true,
                    blueprint: Some(PathBuf::from("/tmp/b.json")),
                    wait: false,
                }),
            ),
            (r#"{"request":"run"}"#, Request::Run(RunRequest { reset_daily: false, blueprint: None, wait: true })),
            (r#"{"request":"status"}"#, Request::Status),
        ];
        for (line, expected) in cases {
            assert_eq!(serde_json::from_str::<Request>(line).unwrap(), expected, "{line}");
        }
        let install = r#"{"request":"self_service_install","item":"li-1"}"#;
        assert_eq!(
            serde_json::from_str::<Request>(install).unwrap(),
            Request::SelfServiceInstall { item: "li-1".into() }
        );
        assert_eq!(serde_json::from_str::<Request>(r#"{"request":"sync"}"#).unwrap(), Request::Sync);
        assert!(serde_json::from_str::<Request>(r#"{"request":"reboot"}"#).is_err());
        let list = serde_json::from_str::<Request>(r#"{"request":"self_service_list"}"#).unwrap();
        let device = serde_json::from_str::<Request>(r#"{"request":"device_summary"}"#).unwrap();
        assert_eq!((&list, &device), (&Request::SelfServiceList, &Request::DeviceSummary));
        let updates = serde_json::from_str::<Request>(r#"{"request":"pending_updates"}"#).unwrap();
        let update = serde_json::from_str::<Request>(r#"{"request":"update_now","item":"os"}"#).unwrap();
        assert_eq!((updates, update), (Request::PendingUpdates, Request::UpdateNow { item: "os".into() }));
    }

    #[test]
    fn only_the_self_service_requests_are_open_to_people_without_admin_rights() {
        let open = [
            Request::SelfServiceList,
            Request::DeviceSummary,
            Request::Sync,
            Request::SelfServiceInstall { item: "li-1".into() },
            Request::PendingUpdates,
            Request::UpdateNow { item: "os".into() },
        ];
        assert!(open.iter().all(Request::is_self_service));
        let run = Request::Run(RunRequest { reset_daily: false, blueprint: None, wait: true });
        assert!(!run.is_self_service());
        assert!(!Request::Status.is_self_service());
        assert!(!Request::RunItem { item: "li-1".into(), force: true }.is_self_service());
    }

    #[test]
    fn a_run_item_request_reads_as_documented() {
        let forced = serde_json::from_str::<Request>(r#"{"request":"run_item","item":"Set hostname","force":true}"#);
        assert_eq!(forced.unwrap(), Request::RunItem { item: "Set hostname".into(), force: true });
        let plain = serde_json::from_str::<Request>(r#"{"request":"run_item","item":"li-1"}"#);
        assert_eq!(plain.unwrap(), Request::RunItem { item: "li-1".into(), force: false });
    }

    #[test]
    fn progress_replies_are_flat_lines_that_read_back() {
        let holder = Holder { pid: 812, started_at: DateTime::UNIX_EPOCH };
        let replies = [
            Reply::Progress(ProgressEvent::Waiting { holder: Some(holder.clone()) }),
            Reply::Progress(ProgressEvent::ItemPhase { phase: "audit".into() }),
            Reply::Busy { holder: Some(holder) },
            Reply::Failed { message: "no blueprint".into(), exit_code: 2 },
            Reply::Refused { reason: "root only".into() },
        ];
        for reply in replies {
            let line = reply.to_line();
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1, "{line}");
            assert_eq!(serde_json::from_str::<Reply>(&line).unwrap(), reply, "{line}");
        }
        let line = Reply::Progress(ProgressEvent::ItemPhase { phase: "audit".into() }).to_line();
        assert_eq!(line, "{\"reply\":\"progress\",\"event\":\"item_phase\",\"phase\":\"audit\"}\n");
    }

    #[test]
    fn only_progress_is_followed_by_more() {
        assert!(!Reply::Progress(ProgressEvent::ItemPhase { phase: "audit".into() }).is_last());
        assert!(Reply::Refused { reason: String::new() }.is_last());
        assert!(Reply::Busy { holder: None }.is_last());
    }
}
