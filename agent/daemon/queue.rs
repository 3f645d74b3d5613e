//! The daemon's one line of work: check-ins requested over the control socket wait
//! here, first come first served, and the scheduler takes them one at a time
//! between (never during) check-ins.
//!
//! The queue also knows which check-in runs right now, so a request arriving while
//! one runs is told whom it waits for, and a request that may not wait is refused
//! at once instead of being queued.
//!
//! A Self Service sync asked while another sync waits here or runs joins that one
//! ([`super::audience`]) instead of queueing a second daily check-in. A person
//! without admin rights may ask for a new sync only once `self_service.sync_interval`
//! has passed since the last one ended (kept in memory: a restarted daemon forgets
//! it, which allows at most one more sync).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::audience::{Audience, Seat};
use super::protocol::{Reply, ScheduledCheckin};
use crate::checkin::CheckinRequest;
use crate::run_lock::Holder;

/// A check-in asked for over the control socket.
#[derive(Debug)]
pub(crate) struct Asked {
    /// What was asked for.
    pub(crate) request: CheckinRequest,
    /// Where the requester's progress and final reply go.
    pub(crate) replies: mpsc::UnboundedSender<Reply>,
    /// Fires when the daemon stops (a child of its shutdown token).
    pub(crate) cancel: CancellationToken,
    /// When it was asked.
    pub(crate) at: DateTime<Utc>,
    /// For a sync asked by someone without admin rights: the least time since the
    /// last sync ended (`self_service.sync_interval`); `None` for root.
    pub(crate) sync_interval: Option<Duration>,
}

/// A requested check-in and who follows it.
#[derive(Debug)]
pub(crate) struct Job {
    /// What was asked for.
    pub(crate) request: CheckinRequest,
    /// Everyone its progress and final reply go to; its token calls it off.
    pub(crate) audience: Arc<Audience>,
    /// When it was first asked.
    pub(crate) asked_at: DateTime<Utc>,
}

/// Why a request was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// A check-in runs (or waits) and the request may not wait.
    Busy(Option<Holder>),
    /// A sync by someone without admin rights, within `self_service.sync_interval`
    /// of the end of the last one.
    TooSoon {
        /// When the last sync ended.
        last_ended: DateTime<Utc>,
        /// When the next may be asked for.
        next_from: DateTime<Utc>,
    },
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
    /// A sync was already under way (waiting or running); the request follows it.
    Joined {
        /// Who asked for that sync.
        requested_by: Option<String>,
        /// When.
        asked_at: DateTime<Utc>,
    },
}

/// A submitted request: what happened to it, and the requester's place among
/// those who follow its check-in.
#[derive(Debug)]
pub(crate) struct Submitted {
    /// Queued, or joined.
    pub(crate) queued: Queued,
    /// For the connection to leave by when its requester goes away.
    pub(crate) seat: Seat,
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
    /// The sync running now, for later syncs to join.
    running_sync: Option<SyncUnderWay>,
    /// When the last sync ended, for `self_service.sync_interval`.
    last_sync_ended: Option<DateTime<Utc>>,
    next_checkin: Option<ScheduledCheckin>,
    closed: bool,
}

/// A running sync, as a joiner is told of it.
#[derive(Debug)]
struct SyncUnderWay {
    audience: Arc<Audience>,
    requested_by: Option<String>,
    asked_at: DateTime<Utc>,
}

impl WorkQueue {
    /// Queues the request, or joins it to the sync under way; refuses it when it
    /// may not wait and something runs or waits already, when it is a limited sync
    /// asked too soon after the last, or when the daemon is stopping.
    pub(crate) fn submit(&self, asked: Asked) -> Result<Submitted, Rejection> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Rejection::Stopping);
        }
        if asked.request.is_sync() {
            if let Some(joined) = inner.join_sync(&asked.replies) {
                return Ok(joined);
            }
            if let Some(rejection) = inner.too_soon(asked.sync_interval, asked.at) {
                return Err(rejection);
            }
        }
        let occupied = inner.running.is_some() || inner.jobs.iter().any(|queued| !queued.audience.is_called_off());
        if !asked.request.wait && occupied {
            return Err(Rejection::Busy(inner.running.clone()));
        }
        let queued = inner.running.clone().map_or(Queued::Next, Queued::Behind);
        let (audience, seat) = Audience::new(asked.replies, asked.cancel);
        inner.jobs.push_back(Job { request: asked.request, audience, asked_at: asked.at });
        drop(inner);
        self.arrived.notify_one();
        Ok(Submitted { queued, seat })
    }

    /// The oldest job whose requesters are still there, now marked running.
    pub(crate) fn take(&self, now: DateTime<Utc>) -> Option<Job> {
        let mut inner = self.lock();
        while let Some(job) = inner.jobs.pop_front() {
            if !job.audience.is_called_off() {
                inner.running = Some(Holder { pid: std::process::id(), started_at: now });
                if job.request.is_sync() {
                    inner.running_sync = Some(SyncUnderWay {
                        audience: Arc::clone(&job.audience),
                        requested_by: job.request.requested_by.clone(),
                        asked_at: job.asked_at,
                    });
                }
                return Some(job);
            }
        }
        None
    }

    /// Marks a scheduled check-in running, unless a requested one waits (it goes
    /// first, and counts as the check-in the schedule wanted).
    pub(crate) fn begin_scheduled(&self, now: DateTime<Utc>) -> bool {
        let mut inner = self.lock();
        if inner.jobs.iter().any(|job| !job.audience.is_called_off()) {
            return false;
        }
        inner.running = Some(Holder { pid: std::process::id(), started_at: now });
        true
    }

    /// The running check-in ended at `now`.
    pub(crate) fn finished(&self, now: DateTime<Utc>) {
        let mut inner = self.lock();
        inner.running = None;
        if inner.running_sync.take().is_some() {
            inner.last_sync_ended = Some(now);
        }
    }

    /// Remembers when the next scheduled check-in is due, for `status`.
    pub(crate) fn set_next_checkin(&self, next: ScheduledCheckin) {
        self.lock().next_checkin = Some(next);
    }

    /// What runs, how many wait, and what is due next.
    pub(crate) fn snapshot(&self) -> (Option<Holder>, usize, Option<ScheduledCheckin>) {
        let inner = self.lock();
        let waiting = inner.jobs.iter().filter(|job| !job.audience.is_called_off()).count();
        (inner.running.clone(), waiting, inner.next_checkin)
    }

    /// Takes no more work and hands back what still waits, for the daemon to answer.
    pub(crate) fn close(&self) -> Vec<Job> {
        let mut inner = self.lock();
        inner.closed = true;
        inner.jobs.drain(..).collect()
    }

    /// The command channel saved a tenant's request: the scheduler looks at the
    /// store again (as for an arrival), and runs its check-in next.
    pub(crate) fn tenant_asked(&self) {
        self.arrived.notify_one();
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

impl Inner {
    /// Follows the sync that runs, or else the first that waits, unless it was
    /// called off.
    fn join_sync(&self, replies: &mpsc::UnboundedSender<Reply>) -> Option<Submitted> {
        let running = self.running_sync.iter().map(|sync| (&sync.audience, &sync.requested_by, sync.asked_at));
        let waiting = self
            .jobs
            .iter()
            .filter(|job| job.request.is_sync())
            .map(|job| (&job.audience, &job.request.requested_by, job.asked_at));
        running.chain(waiting).find_map(|(audience, requested_by, asked_at)| {
            let seat = audience.join(replies.clone())?;
            Some(Submitted { queued: Queued::Joined { requested_by: requested_by.clone(), asked_at }, seat })
        })
    }

    /// Refuses a limited sync asked at `now` within `interval` of the end of the last.
    fn too_soon(&self, interval: Option<Duration>, now: DateTime<Utc>) -> Option<Rejection> {
        let last_ended = self.last_sync_ended?;
        let interval = TimeDelta::from_std(interval?).unwrap_or(TimeDelta::MAX);
        let next_from = last_ended.checked_add_signed(interval).unwrap_or(DateTime::<Utc>::MAX_UTC);
        (now < next_from).then_some(Rejection::TooSoon { last_ended, next_from })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Trigger;

    /// A request as `agent run` asks it.
    fn run(wait: bool) -> CheckinRequest {
        CheckinRequest {
            reset_daily: false,
            blueprint: None,
            trigger: Trigger::Cli,
            wait,
            item: None,
            force: false,
            requested_by: None,
        }
    }

    /// `request` asked at `at`, limited to syncs `interval` apart.
    fn ask(
        request: CheckinRequest,
        at: DateTime<Utc>,
        interval: Option<Duration>,
    ) -> (Asked, mpsc::UnboundedReceiver<Reply>) {
        let (replies, receiver) = mpsc::unbounded_channel();
        (Asked { request, replies, cancel: CancellationToken::new(), at, sync_interval: interval }, receiver)
    }

    fn submit(queue: &WorkQueue, request: CheckinRequest) -> Result<Queued, Rejection> {
        queue.submit(ask(request, Utc::now(), None).0).map(|submitted| submitted.queued)
    }

    fn sync(user: &str) -> CheckinRequest {
        CheckinRequest::self_service(None, user.to_string())
    }

    #[test]
    fn a_request_runs_next_when_idle_and_waits_behind_a_running_one() {
        let queue = WorkQueue::default();
        let now = Utc::now();
        assert_eq!(submit(&queue, run(true)), Ok(Queued::Next));
        let taken = queue.take(now).expect("queued");
        assert!(taken.request.wait);
        let holder = Holder { pid: std::process::id(), started_at: now };
        assert_eq!(submit(&queue, run(true)), Ok(Queued::Behind(holder.clone())));
        assert_eq!(submit(&queue, run(false)), Err(Rejection::Busy(Some(holder))));
        assert_eq!(queue.snapshot().1, 1);
        queue.finished(now);
        assert!(queue.take(now).is_some());
    }

    #[test]
    fn a_waiting_request_goes_before_the_schedule_and_a_cancelled_one_is_dropped() {
        let queue = WorkQueue::default();
        let now = Utc::now();
        let submitted = queue.submit(ask(run(true), now, None).0).unwrap();
        assert!(!submitted.seat.leave(), "its only requester left");
        assert!(queue.begin_scheduled(now), "a cancelled request does not hold up the schedule");
        queue.finished(now);
        submit(&queue, run(true)).unwrap();
        assert!(!queue.begin_scheduled(now));
        assert!(queue.take(now).is_some());
        assert!(queue.take(now).is_none());
    }

    #[test]
    fn a_closed_queue_takes_nothing_and_returns_what_waited() {
        let queue = WorkQueue::default();
        submit(&queue, run(true)).unwrap();
        assert_eq!(queue.close().len(), 1);
        assert_eq!(submit(&queue, run(true)), Err(Rejection::Stopping));
    }

    #[test]
    fn a_sync_joins_the_one_waiting_then_the_one_running_and_each_hears_its_end() {
        let queue = WorkQueue::default();
        let at = DateTime::UNIX_EPOCH;
        submit(&queue, run(true)).unwrap();
        queue.take(at).expect("a check-in runs");
        let (first, mut first_hears) = ask(sync("alice"), at, Some(Duration::from_secs(300)));
        assert!(matches!(queue.submit(first).unwrap().queued, Queued::Behind(_)));
        let joined = Queued::Joined { requested_by: Some("alice".into()), asked_at: at };
        let (waiting_joiner, mut waiting_joiner_hears) = ask(sync("bob"), at, Some(Duration::from_secs(300)));
        assert_eq!(queue.submit(waiting_joiner).unwrap().queued, joined, "joins the sync that waits");
        assert_eq!(submit(&queue, sync("root")), Ok(joined.clone()), "root's sync joins too");
        assert_eq!(queue.snapshot().1, 1, "one sync waits");
        queue.finished(at);

        let job = queue.take(at).expect("the sync runs");
        let (running_joiner, mut running_joiner_hears) = ask(sync("carol"), at, Some(Duration::from_secs(300)));
        assert_eq!(queue.submit(running_joiner).unwrap().queued, joined, "joins the sync that runs");
        assert_eq!(submit(&queue, run(true)), Ok(Queued::Behind(Holder { pid: std::process::id(), started_at: at })));
        job.audience.send(&Reply::Busy { holder: None });
        for hears in [&mut first_hears, &mut waiting_joiner_hears, &mut running_joiner_hears] {
            assert_eq!(hears.try_recv().ok(), Some(Reply::Busy { holder: None }));
        }
        queue.finished(at);
        assert!(!queue.take(at).expect("the run waited").request.is_sync(), "one sync ran, not four");
    }

    #[test]
    fn a_sync_whose_first_requester_left_runs_for_its_joiner_and_is_called_off_once_all_left() {
        let queue = WorkQueue::default();
        let at = DateTime::UNIX_EPOCH;
        let first = queue.submit(ask(sync("alice"), at, None).0).unwrap();
        let joiner = queue.submit(ask(sync("bob"), at, None).0).unwrap();
        assert!(first.seat.leave(), "bob still follows");
        assert_eq!(queue.snapshot().1, 1);
        assert!(!joiner.seat.leave());
        assert!(queue.take(at).is_none(), "called off once nobody follows");
        assert!(matches!(submit(&queue, sync("carol")), Ok(Queued::Next)), "a new sync is queued, not joined");
    }

    #[test]
    fn a_limited_sync_waits_the_interval_after_the_last_one_ended_and_root_never_does() {
        let queue = WorkQueue::default();
        let start = DateTime::UNIX_EPOCH;
        let interval = Some(Duration::from_secs(300));
        let minutes = |count: i64| start + TimeDelta::minutes(count);
        queue.submit(ask(sync("alice"), start, interval).0).unwrap();
        queue.take(start).expect("the sync runs");
        queue.finished(minutes(1));

        let refused = queue.submit(ask(sync("bob"), minutes(5), interval).0).map(|submitted| submitted.queued);
        assert_eq!(refused, Err(Rejection::TooSoon { last_ended: minutes(1), next_from: minutes(6) }));
        let root = queue.submit(ask(sync("root"), minutes(5), None).0).map(|submitted| submitted.queued);
        assert_eq!(root, Ok(Queued::Next), "root is never limited");
        queue.take(minutes(5)).expect("root's sync runs");
        queue.finished(minutes(5));
        let refused = queue.submit(ask(sync("bob"), minutes(9), interval).0).map(|submitted| submitted.queued);
        assert_eq!(refused, Err(Rejection::TooSoon { last_ended: minutes(5), next_from: minutes(10) }));
        let allowed = queue.submit(ask(sync("bob"), minutes(10), interval).0).map(|submitted| submitted.queued);
        assert_eq!(allowed, Ok(Queued::Next));
        assert_eq!(submit(&queue, run(true)), Ok(Queued::Next), "other requests are not limited");
    }

    #[tokio::test]
    async fn a_submission_wakes_the_scheduler_even_when_it_was_not_listening_yet() {
        let queue = WorkQueue::default();
        submit(&queue, run(true)).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), queue.arrival()).await.expect("woken");
    }
}
