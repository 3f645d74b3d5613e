//! Writing to the state store on a thread of its own, so a check-in hands over
//! what to write and goes on with its next item, and waits only where it must know
//! the write is in the store (before an item's program starts, at the run's end).
//!
//! Writes run in the order they were handed over, on one connection. The first
//! that fails stops the writer: those after it are not run, and every wait from
//! then on returns the failure.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::store::{Store, StoreError};

/// One write, run on the writer's connection.
type Write = Box<dyn FnOnce(&Store) -> Result<(), StoreError> + Send>;

/// A writer thread with its own connection to the store at one path.
pub(crate) struct StoreWriter {
    path: PathBuf,
    writes: Option<Sender<Write>>,
    tally: Arc<(Mutex<Tally>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

/// How far the writer got.
#[derive(Default)]
struct Tally {
    handed_over: u64,
    done: u64,
    /// The first failure, until a wait returns it.
    failure: Option<StoreError>,
    /// What that failure said, for every wait after.
    failed: Option<String>,
}

impl StoreWriter {
    /// Starts a writer for the store at `path`, opened on the writer's thread.
    pub(crate) fn start(path: &Path) -> Self {
        let tally = Arc::new((Mutex::new(Tally::default()), Condvar::new()));
        let (writes, received) = channel::<Write>();
        let (opened_path, thread_tally) = (path.to_path_buf(), Arc::clone(&tally));
        let spawned = std::thread::Builder::new().name("agent-store-writer".into()).spawn(move || {
            let (store, mut open_failure) = match Store::open(&opened_path) {
                Ok(store) => (Some(store), None),
                Err(error) => (None, Some(error)),
            };
            for write in received {
                let stopped = lock(&thread_tally.0).failed.is_some();
                let outcome = match &store {
                    _ if stopped => Ok(()),
                    Some(store) => write(store),
                    None => Err(open_failure.take().unwrap_or_else(|| StoreError::Stopped {
                        path: opened_path.clone(),
                        reason: "the store could not be opened".into(),
                    })),
                };
                let mut tally = lock(&thread_tally.0);
                if let Err(error) = outcome {
                    if tally.failed.is_none() {
                        tally.failed = Some(error.to_string());
                        tally.failure = Some(error);
                    }
                }
                tally.done += 1;
                thread_tally.1.notify_all();
            }
        });
        let (writes, thread) = match spawned {
            Ok(thread) => (Some(writes), Some(thread)),
            Err(error) => {
                lock(&tally.0).failed = Some(format!("cannot start the writer thread: {error}"));
                (None, None)
            }
        };
        StoreWriter { path: path.to_path_buf(), writes, tally, thread }
    }

    /// Hands `write` over and returns at once; its outcome comes with the next
    /// [`StoreWriter::written`].
    pub(crate) fn write_later(&self, write: impl FnOnce(&Store) -> Result<(), StoreError> + Send + 'static) {
        let mut tally = lock(&self.tally.0);
        let sent = self.writes.as_ref().is_some_and(|writes| writes.send(Box::new(write)).is_ok());
        if sent {
            tally.handed_over += 1;
        } else if tally.failed.is_none() {
            tally.failed = Some("the writer thread is gone".into());
        }
    }

    /// Waits until everything handed over is in the store.
    ///
    /// # Errors
    ///
    /// The first write that failed, or any failure before it started.
    pub(crate) fn written(&self) -> Result<(), StoreError> {
        let (tally, done) = &*self.tally;
        let mut tally = lock(tally);
        while tally.done < tally.handed_over {
            tally = done.wait(tally).unwrap_or_else(PoisonError::into_inner);
        }
        self.failure(&mut tally)
    }

    /// A failure already known, without waiting for what is on its way.
    pub(crate) fn failed_so_far(&self) -> Result<(), StoreError> {
        self.failure(&mut lock(&self.tally.0))
    }

    fn failure(&self, tally: &mut Tally) -> Result<(), StoreError> {
        match (tally.failure.take(), &tally.failed) {
            (Some(error), _) => Err(error),
            (None, Some(reason)) => Err(StoreError::Stopped { path: self.path.clone(), reason: reason.clone() }),
            (None, None) => Ok(()),
        }
    }
}

impl Drop for StoreWriter {
    /// Lets the thread finish what was handed over, then joins it.
    fn drop(&mut self) {
        drop(self.writes.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device_id(store: &Store) -> Result<(), StoreError> {
        store.device_id().map(drop)
    }

    #[test]
    fn writes_run_in_order_and_a_wait_sees_them_all() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent.sqlite3");
        let writer = StoreWriter::start(&path);
        let order = Arc::new(Mutex::new(Vec::new()));
        for step in 0..50 {
            let order = Arc::clone(&order);
            writer.write_later(move |_| {
                order.lock().unwrap().push(step);
                Ok(())
            });
        }
        writer.written().unwrap();
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        writer.write_later(device_id);
        writer.written().unwrap();
    }

    #[test]
    fn the_first_failure_stops_the_writer_and_every_wait_reports_it() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent.sqlite3");
        let writer = StoreWriter::start(&path);
        let refused = StoreError::Corrupt { path, message: "refused".into() };
        writer.write_later(move |_| Err(refused));
        let ran_after = Arc::new(Mutex::new(false));
        let flag = Arc::clone(&ran_after);
        writer.write_later(move |_| {
            *flag.lock().unwrap() = true;
            Ok(())
        });
        let first = writer.written().unwrap_err();
        assert!(first.to_string().contains("refused"), "{first}");
        assert!(!*ran_after.lock().unwrap(), "nothing runs after a failure");
        let later = writer.failed_so_far().unwrap_err();
        assert!(later.to_string().contains("refused"), "{later}");
        writer.write_later(device_id);
        assert!(writer.written().is_err());
    }

    #[test]
    fn a_store_that_cannot_be_opened_fails_the_first_wait() {
        let folder = tempfile::tempdir().unwrap();
        let blocker = folder.path().join("file");
        std::fs::write(&blocker, "not a folder").unwrap();
        let writer = StoreWriter::start(&blocker.join("agent.sqlite3"));
        writer.write_later(device_id);
        assert!(writer.written().is_err());
    }
}
