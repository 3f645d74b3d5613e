//! The run writer's thread: one connection to the store, the writes run in the
//! order they were handed over, and what the store refuses kept and tried again.
//!
//! A write that fails (a full disk, an I/O error, a store that cannot be opened)
//! is kept, with every write after it, in memory and in order, and tried again,
//! from the first kept, at each later hand-over and each wait: what a full disk
//! held back reaches the store as soon as there is room, and nothing is written
//! out of order. A wait ([`WriterThread::written`]) is a message like the writes:
//! once the thread reaches it, everything handed over before it is in the store
//! or kept, and the thread answers on a oneshot channel, which the caller awaits:
//! no runtime thread is blocked. The writer runs on tokio's blocking pool (see
//! [`WriterThread::start`]), so to a paused clock (`tokio::time::pause`, in tests)
//! a run's writes are work, not idle time it may skip ahead over.
//!
//! The groups whose end the process module reported are forgotten in the
//! transaction of the next write handed over after it (taken once: should that
//! write be refused, they are forgotten when it is retried).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, PoisonError};

use chrono::Utc;
use tokio::sync::oneshot;

use crate::state::{RecordedGroup, Store, StoreError};

/// One write, run on the writer's connection; run again while it fails.
type Write = Box<dyn FnMut(&Store) -> Result<(), StoreError> + Send>;

/// A write handed over, with how many results it carries.
struct Handed {
    write: Write,
    results: usize,
}

/// What the writer thread is asked to do, in order.
enum Message {
    /// Write this after everything kept, with forgetting the groups that ended.
    Write(Handed),
    /// Record this process group, which just started.
    GroupStarted(RecordedGroup),
    /// This process group ended: forget it with the next write.
    GroupEnded(i32),
    /// Try the kept writes again, then say what is still kept.
    Written(oneshot::Sender<Result<(), Unwritten>>),
}

/// Results the store has not taken yet: kept in memory and tried again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the state store could not record {} {}: {error}", results, if *results == 1 { "result" } else { "results" })]
pub(crate) struct Unwritten {
    /// How many results the kept writes carry.
    pub(crate) results: usize,
    /// What the store said the last time it refused one.
    pub(crate) error: String,
}

/// A writer thread with its own connection to the store at one path.
pub(super) struct WriterThread {
    messages: Option<Sender<Message>>,
    /// Hangs up when the writer has finished what was handed over (in a mutex
    /// only so the writer may be shared; just its drop reads it).
    finished: Mutex<Option<Receiver<()>>>,
    /// Why the thread could not start, if it could not.
    not_started: Option<String>,
    /// The results of writes no thread took (it could not start, or is gone):
    /// kept for ever.
    unsent_results: AtomicUsize,
}

impl WriterThread {
    /// Starts a writer for the store at `path`, opened on the writer's thread.
    ///
    /// Inside a tokio runtime the writer runs on its blocking pool: the run adds
    /// no thread beside the pool's (nor, with glibc, a memory arena that would
    /// outlive it), and while it runs a paused clock (`tokio::time::pause`, in
    /// tests) does not skip ahead over the store's work as if the runtime were
    /// idle. Elsewhere (unit tests without a runtime) it gets a thread of its own.
    pub(super) fn start(path: &Path) -> Self {
        let (messages, received) = channel::<Message>();
        let (finishing, finished) = channel::<()>();
        let opened_path = path.to_path_buf();
        let write = move || {
            write_as_handed_over(opened_path, &received);
            drop(finishing);
        };
        let spawned = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                drop(runtime.spawn_blocking(write));
                Ok(())
            }
            Err(_) => std::thread::Builder::new().name("agent-store-writer".into()).spawn(write).map(drop),
        };
        let (messages, finished, not_started) = match spawned {
            Ok(()) => (Some(messages), Mutex::new(Some(finished)), None),
            Err(error) => (None, Mutex::new(None), Some(format!("cannot start the writer thread: {error}"))),
        };
        WriterThread { messages, finished, not_started, unsent_results: AtomicUsize::new(0) }
    }

    /// Hands `write`, which carries `results` results, over and returns at once.
    /// Should it fail, it is kept and run again later (see the module's docs).
    pub(super) fn write_later(
        &self,
        results: usize,
        write: impl FnMut(&Store) -> Result<(), StoreError> + Send + 'static,
    ) {
        if let Err(Message::Write(handed)) = self.send(Message::Write(Handed { write: Box::new(write), results })) {
            self.unsent_results.fetch_add(handed.results, Ordering::Relaxed);
        }
    }

    /// Hands over the record of a group that just started; returns at once. A
    /// failure costs only the record, as a hard stop before it would: it is
    /// logged and not tried again.
    pub(super) fn group_started(&self, group: RecordedGroup) {
        let _ = self.send(Message::GroupStarted(group));
    }

    /// Says that `group` ended: it is forgotten with the next write.
    pub(super) fn group_ended(&self, group: i32) {
        let _ = self.send(Message::GroupEnded(group));
    }

    /// Tries the kept writes again, then waits until everything handed over is in
    /// the store or kept.
    ///
    /// # Errors
    ///
    /// The results still kept, and why.
    pub(super) async fn written(&self) -> Result<(), Unwritten> {
        let (reply, replied) = oneshot::channel();
        let answer = match self.send(Message::Written(reply)) {
            // Awaited: the caller's task yields and no runtime thread is blocked.
            Ok(()) => replied.await.ok(),
            Err(_) => None,
        };
        let unsent = self.unsent_results.load(Ordering::Relaxed);
        match answer {
            Some(Ok(())) if unsent == 0 => Ok(()),
            Some(Err(mut kept)) => {
                kept.results += unsent;
                Err(kept)
            }
            // No thread to answer, or none to take some of the writes.
            _ => Err(Unwritten { results: unsent, error: self.gone() }),
        }
    }

    /// Sends `message` to the thread; gives it back when there is no thread.
    fn send(&self, message: Message) -> Result<(), Message> {
        match &self.messages {
            Some(messages) => messages.send(message).map_err(|unsent| unsent.0),
            None => Err(message),
        }
    }

    /// Why writes handed over reach no thread.
    fn gone(&self) -> String {
        self.not_started.clone().unwrap_or_else(|| "the writer thread is gone".into())
    }
}

impl Drop for WriterThread {
    /// Lets the writer finish what was handed over, and waits until it has.
    fn drop(&mut self) {
        drop(self.messages.take());
        if let Some(finished) = self.finished.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
            // Hangs up (an error) once the writer is done; nothing is ever sent.
            let _ = finished.recv();
        }
    }
}

/// What the writer thread holds between messages.
struct Writing {
    path: PathBuf,
    /// Opened at the first write (and again after a failure to open it).
    store: Option<Store>,
    /// Writes handed over and not in the store yet, in order.
    kept: VecDeque<Handed>,
    /// Groups that ended since the last write handed over.
    ended: Vec<i32>,
    /// What the store said the last time it refused a write.
    error: Option<String>,
}

/// The writer thread: runs each write handed over after those kept, in order.
fn write_as_handed_over(path: PathBuf, received: &Receiver<Message>) {
    let mut writing = Writing { path, store: None, kept: VecDeque::new(), ended: Vec::new(), error: None };
    for message in received {
        match message {
            Message::Write(handed) => {
                let handed = writing.forgetting_ended(handed);
                writing.kept.push_back(handed);
            }
            Message::GroupStarted(group) => {
                // The pid of a group that ended may come back: the new group's
                // record is not to be forgotten with the old one.
                writing.ended.retain(|ended| *ended != group.process_group);
                writing.kept.push_back(Handed { write: record_group(group), results: 0 });
            }
            Message::GroupEnded(group) => {
                writing.ended.push(group);
                continue;
            }
            Message::Written(reply) => {
                writing.write_kept();
                let _ = reply.send(writing.unwritten());
                continue;
            }
        }
        writing.write_kept();
    }
}

impl Writing {
    /// `handed`, forgetting in its transaction the groups that ended before it.
    fn forgetting_ended(&mut self, handed: Handed) -> Handed {
        let forgotten = std::mem::take(&mut self.ended);
        let Handed { mut write, results } = handed;
        let write: Write = Box::new(move |store: &Store| {
            store.in_transaction(|| {
                write(store)?;
                forgotten.iter().try_for_each(|group| store.forget_process_group(*group))
            })
        });
        Handed { write, results }
    }

    /// Runs the kept writes from the first until one fails, and says when the
    /// store starts or stops taking them.
    fn write_kept(&mut self) {
        if self.kept.is_empty() {
            return;
        }
        let path = self.path.display().to_string();
        match self.run_kept() {
            Ok(()) if self.error.take().is_some() => {
                tracing::info!(path = %path, "The state store takes writes again; the results kept in memory are written.");
            }
            Ok(()) => {}
            Err(error) => {
                let error = format!("{:#}", anyhow::Error::from(error));
                if self.error.is_none() {
                    tracing::error!(path = %path, error = %error, "Cannot write to the state store; the results are kept in memory and written when it can take them.");
                }
                self.error = Some(error);
            }
        }
    }

    /// Runs the kept writes from the first until one fails, opening the store
    /// first if it is not open yet.
    fn run_kept(&mut self) -> Result<(), StoreError> {
        let store = match &mut self.store {
            Some(store) => store,
            None => self.store.insert(Store::open(&self.path)?),
        };
        while let Some(first) = self.kept.front_mut() {
            (first.write)(store)?;
            self.kept.pop_front();
        }
        Ok(())
    }

    /// What is still kept, and why.
    fn unwritten(&self) -> Result<(), Unwritten> {
        if self.kept.is_empty() {
            return Ok(());
        }
        Err(Unwritten {
            results: self.kept.iter().map(|handed| handed.results).sum(),
            error: self.error.clone().unwrap_or_else(|| "unknown error".into()),
        })
    }
}

/// The write that records `group`; never refused (see [`WriterThread::group_started`]).
fn record_group(recorded: RecordedGroup) -> Write {
    Box::new(move |store| {
        if let Err(error) = store.record_process_group(&recorded, Utc::now()) {
            tracing::warn!(process_group = recorded.process_group, run_id = %recorded.run_id, error = %error, "Cannot record the item's process group; a hard stop now could leave it running.");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    use super::*;

    fn device_id(store: &Store) -> Result<(), StoreError> {
        store.device_id().map(drop)
    }

    /// A write of `results` results that pushes `step` onto `order`, refused while
    /// `refusing` is set.
    fn step(
        order: &Arc<Mutex<Vec<u32>>>,
        refusing: &Arc<AtomicBool>,
        step: u32,
    ) -> impl FnMut(&Store) -> Result<(), StoreError> + Send + 'static {
        let (order, refusing) = (Arc::clone(order), Arc::clone(refusing));
        move |_: &Store| {
            if refusing.load(Ordering::SeqCst) {
                return Err(StoreError::Corrupt { path: PathBuf::from("agent.sqlite3"), message: "disk full".into() });
            }
            order.lock().unwrap().push(step);
            Ok(())
        }
    }

    #[tokio::test]
    async fn writes_run_in_order_and_a_wait_sees_them_all() {
        let (_folder, path) = Store::scratch_file();
        let writer = WriterThread::start(&path);
        let (order, refusing) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        for index in 0..50 {
            writer.write_later(1, step(&order, &refusing, index));
        }
        writer.written().await.unwrap();
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        writer.write_later(0, device_id);
        writer.written().await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_write_is_kept_with_those_after_it_and_written_once_the_store_takes_it() {
        let (_folder, path) = Store::scratch_file();
        let writer = WriterThread::start(&path);
        let (order, refusing) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        writer.write_later(1, step(&order, &refusing, 1));
        writer.written().await.unwrap();
        refusing.store(true, Ordering::SeqCst);
        writer.write_later(2, step(&order, &refusing, 2));
        let accepting = Arc::new(AtomicBool::new(false));
        writer.write_later(3, step(&order, &accepting, 3));
        let kept = writer.written().await.unwrap_err();
        assert_eq!(kept.results, 5, "{kept}");
        assert!(kept.to_string().contains("could not record 5 results"), "{kept}");
        assert!(kept.to_string().contains("disk full"), "{kept}");
        assert_eq!(*order.lock().unwrap(), [1], "nothing after a refused write runs before it");

        // Still refused: a later wait tries again and keeps them.
        assert_eq!(writer.written().await.unwrap_err().results, 5);
        refusing.store(false, Ordering::SeqCst);
        writer.write_later(0, step(&order, &accepting, 4));
        writer.written().await.unwrap();
        assert_eq!(*order.lock().unwrap(), [1, 2, 3, 4], "written in the order handed over");
    }

    #[tokio::test]
    async fn a_wait_alone_tries_the_kept_writes_again() {
        let (_folder, path) = Store::scratch_file();
        let writer = WriterThread::start(&path);
        let (order, refusing) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(true)));
        writer.write_later(1, step(&order, &refusing, 1));
        assert_eq!(writer.written().await.unwrap_err().results, 1);
        refusing.store(false, Ordering::SeqCst);
        writer.written().await.unwrap();
        assert_eq!(*order.lock().unwrap(), [1]);
    }

    #[tokio::test]
    async fn a_store_that_cannot_be_opened_is_opened_again_later() {
        let folder = tempfile::tempdir().unwrap();
        let blocker = folder.path().join("state");
        std::fs::write(&blocker, "not a folder").unwrap();
        let writer = WriterThread::start(&blocker.join("agent.sqlite3"));
        writer.write_later(1, device_id);
        assert_eq!(writer.written().await.unwrap_err().results, 1);
        std::fs::remove_file(&blocker).unwrap();
        writer.written().await.unwrap();
        assert!(blocker.join("agent.sqlite3").exists());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_wait_leaves_the_runtime_thread_to_other_tasks() {
        let (_folder, path) = Store::scratch_file();
        let writer = WriterThread::start(&path);
        // The write ends only once another task on this runtime's one thread has
        // run: a wait that blocked the thread would keep it from running.
        let (ran, heard) = std::sync::mpsc::channel::<()>();
        writer.write_later(1, move |_: &Store| {
            heard.recv_timeout(std::time::Duration::from_secs(10)).map_err(|_| StoreError::Corrupt {
                path: PathBuf::from("agent.sqlite3"),
                message: "the other task never ran".into(),
            })
        });
        let other_task = async { ran.send(()).unwrap() };
        let (written, ()) = tokio::join!(writer.written(), other_task);
        written.unwrap();
    }
}
