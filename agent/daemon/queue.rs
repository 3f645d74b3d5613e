//! The daemon's one line of work: check-ins requested over the control socket wait
//! here, first come first served, and the scheduler takes them one at a time
//! between (never during) check-ins.
//!
//! The queue also knows which check-in runs right now, so a request arriving while
//! one runs is told whom it waits for, and a request that may not wait is refused
//! at once instead of being queued.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::protocol::{Reply, ScheduledCheckin};
use crate::checkin::CheckinRequest;
use crate::run_lock::Holder;

/// A requested check-in and where its replies go.
#[derive(Debug)]
pub(crate) struct Job {
    /// What was asked for.
    pub(crate) request: CheckinRequest,
    /// Progress and the final reply, streamed to the requester.
    pub(crate) replies: mpsc::UnboundedSender<Reply>,
    /// Fires when the requester goes away or the daemon stops.
    pub(crate) cancel: CancellationToken,
}

/// Why a request was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// A check-in runs (or waits) and the request may not wait.
    Busy(Option<Holder>),
    /// The daemon is stopping and takes no more work.
    Stopping,
}

/// What [`WorkQueue::submit`] did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Nothing runs; the request is next.
    Next,
    /// It waits behind this running check-in.
    Behind(Holder),
}

/// The queue, shared by the control socket's connections and the scheduler.
#[derive(Debug, Default)]
pub(crate) struct WorkQueue {
    inner: Mutex<Inner>,
    arrived: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: VecDeque<Job>,
    running: Option<Holder>,
    next_checkin: Option<ScheduledCheckin>,
    closed: bool,
}

impl WorkQueue {
    /// Queues `job`, unless it may not wait and something runs or waits already, or
    /// the daemon is stopping.
    pub(crate) fn submit(&self, job: Job) -> Result<Queued, Rejection> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Rejection::Stopping);
        }
        let occupied = inner.running.is_some() || inner.jobs.iter().any(|queued| !queued.cancel.is_cancelled());
        if !job.request.wait && occupied {
            return Err(Rejection::Busy(inner.running.clone()));
        }
        let queued = inner.running.clone().map_or(Queued::Next, Queued::Behind);
        inner.jobs.push_back(job);
        drop(inner);
        self.arrived.notify_one();
        Ok(queued)
    }

    /// The oldest job whose requester is still there, now marked running.
    pub(crate) fn take(&self, now: DateTime<Utc>) -> Option<Job> {
        let mut inner = self.lock();
        while let Some(job) = inner.jobs.pop_front() {
            if !job.cancel.is_cancelled() {
                inner.running = Some(Holder { pid: std::process::id(), started_at: now });
                return Some(job);
            }
        }
        None
    }

    /// Marks a scheduled check-in running, unless a requested one waits (it goes
    /// first, and counts as the check-in the schedule wanted).
    pub(crate) fn begin_scheduled(&self, now: DateTime<Utc>) -> bool {
        let mut inner = self.lock();
        if inner.jobs.iter().any(|job| !job.cancel.is_cancelled()) {
            return false;
        }
        inner.running = Some(Holder { pid: std::process::id(), started_at: now });
        true
    }

    /// The running check-in ended.
    pub(crate) fn finished(&self) {
        self.lock().running = None;
    }

    /// Remembers when the next scheduled check-in is due, for `status`.
    pub(crate) fn set_next_checkin(&self, next: ScheduledCheckin) {
        self.lock().next_checkin = Some(next);
    }

    /// What runs, how many wait, and what is due next.
    pub(crate) fn snapshot(&self) -> (Option<Holder>, usize, Option<ScheduledCheckin>) {
        let inner = self.lock();
        let waiting = inner.jobs.iter().filter(|job| !job.cancel.is_cancelled()).count();
        (inner.running.clone(), waiting, inner.next_checkin)
    }

    /// Takes no more work and hands back what still waits, for the daemon to answer.
    pub(crate) fn close(&self) -> Vec<Job> {
        let mut inner = self.lock();
        inner.closed = true;
        inner.jobs.drain(..).collect()
    }

    /// Resolves once a job was submitted since the last call (a submission made
    /// while nobody listened counts too).
    pub(crate) async fn arrival(&self) {
        self.arrived.notified().await;
    }

    /// The lock; a panic while holding it cannot leave the queue half-changed, so a
    /// poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Trigger;

    fn job(wait: bool) -> (Job, mpsc::UnboundedReceiver<Reply>) {
        let (replies, receiver) = mpsc::unbounded_channel();
        let request = CheckinRequest {
            reset_daily: false,
            blueprint: None,
            trigger: Trigger::Cli,
            wait,
            item: None,
            requested_by: None,
        };
        (Job { request, replies, cancel: CancellationToken::new() }, receiver)
    }

    #[test]
    fn a_request_runs_next_when_idle_and_waits_behind_a_running_one() {
        let queue = WorkQueue::default();
        let now = Utc::now();
        assert_eq!(queue.submit(job(true).0), Ok(Queued::Next));
        let taken = queue.take(now).expect("queued");
        assert!(taken.request.wait);
        let holder = Holder { pid: std::process::id(), started_at: now };
        assert_eq!(queue.submit(job(true).0), Ok(Queued::Behind(holder.clone())));
        assert_eq!(queue.submit(job(false).0), Err(Rejection::Busy(Some(holder))));
        assert_eq!(queue.snapshot().1, 1);
        queue.finished();
        assert!(queue.take(now).is_some());
    }

    #[test]
    fn a_waiting_request_goes_before_the_schedule_and_a_cancelled_one_is_dropped() {
        let queue = WorkQueue::default();
        let now = Utc::now();
        let (cancelled, _) = job(true);
        cancelled.cancel.cancel();
        queue.submit(cancelled).unwrap();
        assert!(queue.begin_scheduled(now), "a cancelled request does not hold up the schedule");
        queue.finished();
        queue.submit(job(true).0).unwrap();
        assert!(!queue.begin_scheduled(now));
        assert!(queue.take(now).is_some());
        assert!(queue.take(now).is_none());
    }

    #[test]
    fn a_closed_queue_takes_nothing_and_returns_what_waited() {
        let queue = WorkQueue::default();
        queue.submit(job(true).0).unwrap();
        assert_eq!(queue.close().len(), 1);
        assert_eq!(queue.submit(job(true).0), Err(Rejection::Stopping));
    }

    #[tokio::test]
    async fn a_submission_wakes_the_scheduler_even_when_it_was_not_listening_yet() {
        let queue = WorkQueue::default();
        queue.submit(job(true).0).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), queue.arrival()).await.expect("woken");
    }
}
