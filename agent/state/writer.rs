//! Writing to the state store on a thread of its own, so a check-in hands over
//! what to write and goes on with its next item, and waits only where it must know
//! the write is in the store (at the run's end).
//!
//! Writes run in the order they were handed over, on one connection. A write that
//! fails (a full disk, an I/O error, a store that cannot be opened) is kept, with
//! every write after it, in memory and in order, and tried again, from the first
//! kept, at each later hand-over and each wait: what a full disk held back reaches
//! the store as soon as there is room, and nothing is written out of order. A wait
//! says how many results are still kept ([`Unwritten`]); the writer never stops
//! taking writes. What is kept is one run's writes (the writer lives as long as
//! the run), each a copy of results the run holds in memory anyway (each result
//! once, plus a small record per item start): at most about twice the run's own
//! results, an item's output being at most 128 KiB (`process`'s capture limits). Whatever is still kept when the writer is dropped
//! is lost; the caller says so (see `checkin`).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::store::{Store, StoreError};

/// One write, run on the writer's connection; run again while it fails.
type Write = Box<dyn FnMut(&Store) -> Result<(), StoreError> + Send>;

/// A write handed over, with how many results it carries.
struct Handed {
    write: Write,
    results: usize,
}

/// What the writer thread is asked to do.
enum Message {
    /// Write this after everything kept.
    Write(Handed),
    /// Try the kept writes again.
    Retry,
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
pub(crate) struct StoreWriter {
    messages: Option<Sender<Message>>,
    tally: Arc<(Mutex<Tally>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

/// How far the writer got.
#[derive(Default)]
struct Tally {
    handed_over: u64,
    done: u64,
    /// Writes handed over and not in the store, and the results they carry.
    kept: usize,
    kept_results: usize,
    /// What the store said the last time it refused a write.
    error: Option<String>,
}

impl StoreWriter {
    /// Starts a writer for the store at `path`, opened on the writer's thread.
    pub(crate) fn start(path: &Path) -> Self {
        let tally = Arc::new((Mutex::new(Tally::default()), Condvar::new()));
        let (messages, received) = channel::<Message>();
        let (opened_path, thread_tally) = (path.to_path_buf(), Arc::clone(&tally));
        let spawned = std::thread::Builder::new()
            .name("agent-store-writer".into())
            .spawn(move || write_as_handed_over(&opened_path, &received, &thread_tally));
        let (messages, thread) = match spawned {
            Ok(thread) => (Some(messages), Some(thread)),
            Err(error) => {
                lock(&tally.0).error = Some(format!("cannot start the writer thread: {error}"));
                (None, None)
            }
        };
        StoreWriter { messages, tally, thread }
    }

    /// Hands `write`, which carries `results` results, over and returns at once.
    /// Should it fail, it is kept and run again later (see the module's docs).
    pub(crate) fn write_later(
        &self,
        results: usize,
        write: impl FnMut(&Store) -> Result<(), StoreError> + Send + 'static,
    ) {
        self.send(Message::Write(Handed { write: Box::new(write), results }));
    }

    fn send(&self, message: Message) {
        let mut tally = lock(&self.tally.0);
        let unsent = match &self.messages {
            Some(messages) => messages.send(message).err().map(|unsent| unsent.0),
            None => Some(message),
        };
        match unsent {
            None => tally.handed_over += 1,
            // No thread to write it: kept for ever.
            Some(Message::Write(handed)) => {
                (tally.kept, tally.kept_results) = (tally.kept + 1, tally.kept_results + handed.results);
                tally.error.get_or_insert_with(|| "the writer thread is gone".into());
            }
            Some(Message::Retry) => {}
        }
    }

    /// Tries the kept writes again, then waits until everything handed over is in
    /// the store or kept.
    ///
    /// # Errors
    ///
    /// The results still kept, and why.
    pub(crate) fn written(&self) -> Result<(), Unwritten> {
        if lock(&self.tally.0).kept > 0 {
            self.send(Message::Retry);
        }
        let (tally, done) = &*self.tally;
        let mut tally = lock(tally);
        while tally.done < tally.handed_over {
            tally = done.wait(tally).unwrap_or_else(PoisonError::into_inner);
        }
        match (tally.kept, &tally.error) {
            (0, _) => Ok(()),
            (_, error) => Err(Unwritten {
                results: tally.kept_results,
                error: error.clone().unwrap_or_else(|| "unknown error".into()),
            }),
        }
    }
}

impl Drop for StoreWriter {
    /// Lets the thread finish what was handed over, then joins it.
    fn drop(&mut self) {
        drop(self.messages.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: runs each write handed over after those kept, in order.
fn write_as_handed_over(path: &Path, received: &Receiver<Message>, tally: &(Mutex<Tally>, Condvar)) {
    let (tally, done) = tally;
    let mut store = None;
    let mut kept = VecDeque::new();
    for message in received {
        if let Message::Write(handed) = message {
            kept.push_back(handed);
        }
        let outcome = write_kept(path, &mut store, &mut kept);
        let mut tally = lock(tally);
        let was_kept = tally.kept;
        (tally.kept, tally.kept_results) = (kept.len(), kept.iter().map(|handed| handed.results).sum());
        match outcome {
            Ok(()) if was_kept > 0 => {
                tracing::info!(path = %path.display(), "The state store takes writes again; the results kept in memory are written.");
                tally.error = None;
            }
            Ok(()) => {}
            Err(error) => {
                let error = format!("{:#}", anyhow::Error::from(error));
                if was_kept == 0 {
                    tracing::error!(path = %path.display(), error = %error, "Cannot write to the state store; the results are kept in memory and written when it can take them.");
                }
                tally.error = Some(error);
            }
        }
        tally.done += 1;
        done.notify_all();
    }
}

/// Runs the kept writes from the first until one fails, opening the store first
/// if it is not open yet.
fn write_kept(path: &Path, store: &mut Option<Store>, kept: &mut VecDeque<Handed>) -> Result<(), StoreError> {
    if kept.is_empty() {
        return Ok(());
    }
    let store = match store {
        Some(store) => store,
        None => store.insert(Store::open(path)?),
    };
    while let Some(first) = kept.front_mut() {
        (first.write)(store)?;
        kept.pop_front();
    }
    Ok(())
}

fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

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
        move |store| {
            if refusing.load(Ordering::SeqCst) {
                return Err(StoreError::Corrupt { path: store.path.clone(), message: "disk full".into() });
            }
            order.lock().unwrap().push(step);
            Ok(())
        }
    }

    #[test]
    fn writes_run_in_order_and_a_wait_sees_them_all() {
        let folder = tempfile::tempdir().unwrap();
        let writer = StoreWriter::start(&folder.path().join("agent.sqlite3"));
        let (order, refusing) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        for index in 0..50 {
            writer.write_later(1, step(&order, &refusing, index));
        }
        writer.written().unwrap();
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        writer.write_later(0, device_id);
        writer.written().unwrap();
    }

    #[test]
    fn a_refused_write_is_kept_with_those_after_it_and_written_once_the_store_takes_it() {
        let folder = tempfile::tempdir().unwrap();
        let writer = StoreWriter::start(&folder.path().join("agent.sqlite3"));
        let (order, refusing) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        writer.write_later(1, step(&order, &refusing, 1));
        writer.written().unwrap();
        refusing.store(true, Ordering::SeqCst);
        writer.write_later(2, step(&order, &refusing, 2));
        let accepting = Arc::new(AtomicBool::new(false));
        writer.write_later(3, step(&order, &accepting, 3));
        let kept = writer.written().unwrap_err();
        assert_eq!(kept.results, 5, "{kept}");
        assert!(kept.to_string().contains("could not record 5 results"), "{kept}");
        assert!(kept.to_string().contains("disk full"), "{kept}");
        assert_eq!(*order.lock().unwrap(), [1], "nothing after a refused write runs before it");

        // Still refused: a later wait tries again and keeps them.
        assert_eq!(writer.written().unwrap_err().results, 5);
        refusing.store(false, Ordering::SeqCst);
        writer.write_later(0, step(&order, &accepting, 4));
        writer.written().unwrap();
        assert_eq!(*order.lock().unwrap(), [1, 2, 3, 4], "written in the order handed over");
    }

    #[test]
    fn a_wait_alone_tries_the_kept_writes_again() {
        let folder = tempfile::tempdir().unwrap();
        let writer = StoreWriter::start(&folder.path().join("agent.sqlite3"));
        let (order, refusing) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(true)));
        writer.write_later(1, step(&order, &refusing, 1));
        assert_eq!(writer.written().unwrap_err().results, 1);
        refusing.store(false, Ordering::SeqCst);
        writer.written().unwrap();
        assert_eq!(*order.lock().unwrap(), [1]);
    }

    #[test]
    fn a_store_that_cannot_be_opened_is_opened_again_later() {
        let folder = tempfile::tempdir().unwrap();
        let blocker = folder.path().join("state");
        std::fs::write(&blocker, "not a folder").unwrap();
        let writer = StoreWriter::start(&blocker.join("agent.sqlite3"));
        writer.write_later(1, device_id);
        assert_eq!(writer.written().unwrap_err().results, 1);
        std::fs::remove_file(&blocker).unwrap();
        writer.written().unwrap();
        assert!(blocker.join("agent.sqlite3").exists());
    }
}
