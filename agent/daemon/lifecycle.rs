//! The daemon from start to exit: bind the control socket, serve it, keep the
//! command channel open ([`super::command_channel`]) and run the schedule, and on SIGTERM stop within `daemon.shutdown_timeout`, which is
//! shorter than the launchd job's `ExitTimeOut` so launchd never has to kill it.
//!
//! Stopping: no new requests; the running check-in is cancelled (its item's
//! process group gets SIGTERM, then SIGKILL after `timeouts.termination_grace`)
//! and records itself `interrupted`. If it has not ended by the deadline, or a
//! second signal says "stop now", it is dropped: the item's process group is
//! killed, and the run is closed as `interrupted` in the store, every item of its
//! plan listed (those it never reached `not_run`) and its report spooled for the
//! tenant (sent by the next start). Then telemetry not
//! yet sent is flushed (bounded by `otel.export_timeout`), requests still queued
//! are answered, the socket file is removed, and the daemon exits 0.
//!
//! A check-in that installed a newer agent ends the same way, without a signal:
//! the scheduler cancels the shutdown token once that check-in is over, and the
//! daemon exits 0 so launchd (KeepAlive) starts the new binary.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::command_channel::{CheckinsEnded, CommandChannel};
use super::control::{self, Control, SocketFile};
use super::protocol::Reply;
use super::queue::WorkQueue;
use super::reload::{ConfigSource, Reload};
use super::scheduler::{ScheduleMemory, Scheduler, SystemCheckins};
use super::signals::{self, Reactions, Signals};
use crate::config::{AgentConfig, LoadedConfig};
use crate::paths::AgentPaths;
use crate::run_lock;
use crate::schedule::SystemClock;
use crate::state::Store;

/// How long open control connections get to pass on their last reply at exit.
const LAST_REPLIES_WAIT: Duration = Duration::from_secs(2);

/// What the daemon starts from.
pub struct DaemonSetup {
    /// Where everything lives.
    pub paths: AgentPaths,
    /// The configuration at start.
    pub loaded: LoadedConfig,
    /// Loads the configuration again, on SIGHUP and when a source changed.
    pub reload: Reload,
}

/// Runs the daemon until it is asked to stop. Call inside a multi-threaded tokio
/// runtime (the control socket is served on its worker threads while the
/// check-ins run on this one).
pub async fn serve(setup: DaemonSetup) -> anyhow::Result<()> {
    let DaemonSetup { paths, loaded, reload } = setup;
    let signals = Signals::install()?;
    let (listener, socket_file) = control::bind(&paths.root, &paths.socket)?;
    let config = &loaded.config;
    tracing::info!(
        pid = std::process::id(), socket = %paths.socket.display(),
        recurring_interval = %humantime::format_duration(config.schedule.recurring_interval),
        daily_interval = %humantime::format_duration(config.schedule.daily_interval),
        "Daemon started."
    );
    warn_about_a_short_deadline(config);
    let (config_sender, config_receiver) = watch::channel(Arc::new(config.clone()));
    let queue = Arc::new(WorkQueue::default());
    let shutdown = CancellationToken::new();
    let stop_now = CancellationToken::new();
    let own_uid = nix::unistd::geteuid().as_raw();
    let control = Arc::new(Control {
        queue: Arc::clone(&queue),
        shutdown: shutdown.clone(),
        started_at: Utc::now(),
        own_uid,
        paths: paths.clone(),
        config: config_receiver.clone(),
        connections: Arc::default(),
    });
    let server = tokio::spawn(control::serve(listener, control));
    let source = Arc::new(ConfigSource::new(paths.clone(), loaded.clone(), reload, config_sender));
    let reactions = Reactions { shutdown: shutdown.clone(), stop_now: stop_now.clone(), config: Arc::clone(&source) };
    let watcher = tokio::spawn(signals::watch(signals, reactions));
    let (ended, channel) = open_command_channel(&paths, &config_receiver, &queue, &shutdown);
    let scheduler = Scheduler {
        paths: &paths,
        config: config_receiver.clone(),
        source: &source,
        queue: &queue,
        clock: &SystemClock,
        checkins: &SystemCheckins,
        shutdown: &shutdown,
        ended: &ended,
        memory: ScheduleMemory::default(),
    };
    let stopped_in_time = tokio::select! {
        () = scheduler.run() => true,
        () = deadline(&shutdown, &stop_now, &config_receiver) => false,
    };
    if !stopped_in_time {
        close_abandoned_run(&paths, Utc::now()).await;
    }
    watcher.abort();
    // The channel ends on the shutdown token (keeping its state `closed`); a poll
    // that does not let go is cut off.
    if tokio::time::timeout(LAST_REPLIES_WAIT, channel).await.is_err() {
        tracing::warn!("The command channel did not close in time; it was cut off.");
    }
    wind_down(&paths, &queue, server, socket_file).await;
    Ok(())
}

/// Starts the command channel; the sender is the scheduler's count of ended check-ins.
fn open_command_channel(
    paths: &AgentPaths,
    config: &watch::Receiver<Arc<AgentConfig>>,
    queue: &Arc<WorkQueue>,
    shutdown: &CancellationToken,
) -> (watch::Sender<CheckinsEnded>, JoinHandle<()>) {
    let (ended, ended_receiver) = watch::channel(CheckinsEnded::default());
    let channel = CommandChannel {
        paths: paths.clone(),
        config: config.clone(),
        ended: ended_receiver,
        queue: Arc::clone(queue),
        shutdown: shutdown.clone(),
    };
    (ended, tokio::spawn(channel.listen()))
}

/// After the schedule stopped: flushes telemetry, answers the requests still
/// queued, lets control connections pass on their last reply, and removes the socket.
async fn wind_down(paths: &AgentPaths, queue: &WorkQueue, server: JoinHandle<()>, socket_file: SocketFile) {
    // A check-in flushes its own telemetry; one cut short at the deadline did not.
    crate::telemetry::flush().await;
    answer_the_queue(queue);
    if tokio::time::timeout(LAST_REPLIES_WAIT, server).await.is_err() {
        tracing::warn!("Control connections still open at exit were closed.");
    }
    if let Err(error) = socket_file.remove() {
        tracing::warn!(error = %error, socket = %paths.socket.display(), "Cannot remove the control socket.");
    }
    tracing::info!("Daemon stopped.");
}

/// Resolves when the daemon must stop at once: a second signal, or the shutdown
/// deadline after the first.
async fn deadline(
    shutdown: &CancellationToken,
    stop_now: &CancellationToken,
    config: &watch::Receiver<Arc<AgentConfig>>,
) {
    shutdown.cancelled().await;
    let timeout = config.borrow().daemon.shutdown_timeout;
    tokio::select! {
        () = tokio::time::sleep(timeout) => tracing::warn!(
            shutdown_timeout = %humantime::format_duration(timeout),
            "The running check-in did not stop within the shutdown timeout; stopping it now."
        ),
        () = stop_now.cancelled() => {}
    }
}

/// After the running check-in was dropped at `stopped_at` (its process group
/// killed on the way): records it `interrupted` with every item of its plan, those
/// it never reached `not_run`, and spools its report for the next start to send;
/// under the lock as always.
async fn close_abandoned_run(paths: &AgentPaths, stopped_at: chrono::DateTime<Utc>) {
    let closed = async {
        let _lock = run_lock::acquire(&paths.checkin_lock, Utc::now(), false, |_| {}).await?;
        let (store, _) = Store::open_healing(&paths.store_file)?;
        anyhow::Ok(crate::checkin::close_interrupted_runs(paths, &store, Some(stopped_at))?)
    };
    match closed.await {
        Ok(run_ids) => {
            for run_id in run_ids {
                tracing::warn!(run_id = %run_id, "Recorded the check-in cut short by the stop as interrupted.");
            }
        }
        Err(error) => {
            let error = format!("{error:#}");
            tracing::warn!(error = %error, "Cannot record the cut-short check-in; the next check-in will.");
        }
    }
}

/// Tells every requester still waiting that its check-in will not run.
fn answer_the_queue(queue: &WorkQueue) {
    for job in queue.close() {
        let message = "the agent daemon stopped before running this check-in".to_string();
        job.audience.send(&Reply::Failed { message, exit_code: crate::exit_code::FAILURE });
    }
}

/// A deadline shorter than the grace items get between SIGTERM and SIGKILL would
/// cut every stop short; say so once.
fn warn_about_a_short_deadline(config: &AgentConfig) {
    if config.daemon.shutdown_timeout <= config.timeouts.termination_grace {
        tracing::warn!(
            shutdown_timeout = %humantime::format_duration(config.daemon.shutdown_timeout),
            termination_grace = %humantime::format_duration(config.timeouts.termination_grace),
            "daemon.shutdown_timeout is not longer than timeouts.termination_grace; a stop will kill items without their grace."
        );
    }
}
