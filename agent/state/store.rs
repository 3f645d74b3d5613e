//! Opening the SQLite store: folder permissions, WAL, the header check; the
//! tables it holds and their migrations are `schema`'s.

use super::damage::{self, COMPANION_SUFFIXES, companion};
use crate::safe_path::{Folder, Missing, SafePathError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags};

/// A failure of the on-disk store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state folder could not be created or secured.
    #[error("cannot prepare the state folder {path}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file of the store could not be created or made private to its owner.
    #[error("cannot make {path} readable by its owner alone")]
    Private {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("state store {path}: {action}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What was being done, as a lowercase fragment.
        action: &'static str,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The file holds something this version cannot read.
    #[error("state store {path}: {message}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The store is damaged: not a database, cut short, or failing its check.
    #[error("state store {path} is damaged: {reason}")]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// What is wrong, as SQLite or the header check said it.
        reason: String,
    },
}

impl StoreError {
    /// Whether this error says the store's file is damaged (healed by moving it
    /// aside, see [`Store::open_healing`]), not merely unwritable or busy.
    pub fn is_damage(&self) -> bool {
        match self {
            StoreError::Damaged { .. } => true,
            StoreError::Database { source, .. } => damage::is_damage(source),
            _ => false,
        }
    }
}

/// The store: one SQLite connection.
pub struct Store {
    pub(super) connection: Connection,
    pub(super) path: PathBuf,
    /// Counts this connection among the process's open ones until it is closed
    /// (declared after `connection`, so dropped after it).
    _open: OpenConnection,
}

/// The stores this process has connections to, by path, with how many each.
///
/// SQLite's locks on a database file belong to the process, and closing any
/// descriptor of that file in the process drops all of them (POSIX advisory
/// locks; SQLite's "How To Corrupt" page, 2.2). Another process closing its last
/// connection then believes itself the last user: it copies the write-ahead log
/// into the file and deletes it under this process's connections, whose next
/// commits are lost. So the file is read outside SQLite (the header check) only
/// when this process has no connection to it.
static OPEN_CONNECTIONS: Mutex<Vec<(PathBuf, usize)>> = Mutex::new(Vec::new());

/// One connection counted in [`OPEN_CONNECTIONS`]; uncounted when dropped.
struct OpenConnection {
    path: PathBuf,
}

impl OpenConnection {
    /// Counts a connection about to be opened to `path`; the first of this
    /// process checks the file's header first (see [`damage`]).
    fn count(path: &Path) -> Result<Self, StoreError> {
        let mut open = OPEN_CONNECTIONS.lock().unwrap_or_else(PoisonError::into_inner);
        match open.iter_mut().find(|(open_path, _)| open_path == path) {
            Some((_, connections)) => *connections += 1,
            None => {
                check_header(path)?;
                open.push((path.to_path_buf(), 1));
            }
        }
        Ok(OpenConnection { path: path.to_path_buf() })
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut open = OPEN_CONNECTIONS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(index) = open.iter().position(|(path, _)| *path == self.path) {
            open[index].1 -= 1;
            if open[index].1 == 0 {
                open.swap_remove(index);
            }
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`; its folder is made 0700, its
    /// files 0600 (see [`make_store_files_private`]).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(folder) = path.parent() {
            // The check-in made it first without following links; SQLite opens by path.
            create_store_folder(folder)?;
        }
        make_store_files_private(path)?;
        let open = OpenConnection::count(path)?;
        let connection = Connection::open(path).map_err(database(path, "cannot open"))?;
        let store = Self { connection, path: path.to_path_buf(), _open: open };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store without creating anything; `None` when there is none yet.
    pub fn open_existing(path: &Path) -> Result<Option<Self>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        make_store_files_private(path)?;
        let open = OpenConnection::count(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(database(path, "cannot open"))?;
        let store = Self { connection, path: path.to_path_buf(), _open: open };
        store.configure()?;
        let version = store.schema_version()?;
        if version == 0 {
            return Ok(None);
        }
        // A store an older agent left is brought up to date, as a check-in would.
        store.migrate()?;
        Ok(Some(store))
    }

    fn configure(&self) -> Result<(), StoreError> {
        self.connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(self.failed("cannot set the busy timeout"))?;
        self.connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(self.failed("cannot configure the journal"))
    }

    /// Makes everything committed so far survive a power cut, not only a crash of
    /// the agent: the write-ahead log is synced and copied into the database file
    /// (a checkpoint). Commits in between reach the operating system at once, so a
    /// `kill -9` loses none of them; only a power cut could undo the newest.
    pub fn make_durable(&self) -> Result<(), StoreError> {
        self.connection
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(self.failed("cannot write the journal into the store"))
    }

    /// Runs one statement through the connection's statement cache: for writes made
    /// for every item or program, where parsing the SQL each time costs more than
    /// the write.
    pub(super) fn execute_cached(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.connection.prepare_cached(sql).and_then(|mut statement| statement.execute(params))
    }

    /// Runs `write` in one transaction, so what it writes costs one commit; inside
    /// a transaction already open on this connection, it simply joins it.
    pub(crate) fn in_transaction<T>(&self, write: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        if !self.connection.is_autocommit() {
            return write();
        }
        let failed = self.failed("cannot write a transaction");
        let transaction = self.connection.unchecked_transaction().map_err(&failed)?;
        let written = write()?;
        transaction.commit().map_err(failed)?;
        Ok(written)
    }

    /// Whether the store has the table `name`: a store an older agent wrote,
    /// which `agent status` opens without changing, may lack the newer ones.
    pub(super) fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        self.connection
            .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1)", [name], |row| row.get(0))
            .map_err(self.failed("cannot read the schema"))
    }

    /// Maps a rusqlite error to a [`StoreError`] naming this store and the action.
    pub(super) fn failed(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        database(&self.path, action)
    }
}

#[cfg(test)]
impl Store {
    /// Where a unit test keeps a store of its own: `state/agent.sqlite3` (as below
    /// the agent's root) in a new temporary folder, nothing created in it yet. For
    /// tests that need the file's path (to reopen, damage or watch it); the others
    /// take [`Store::scratch`]. The folder and all in it are deleted when the
    /// returned `TempDir` is dropped: bind it (`let (_folder, path)`, never
    /// `let (_, path)`) for as long as the file is used.
    pub(crate) fn scratch_file() -> (tempfile::TempDir, PathBuf) {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let path = folder.path().join("state/agent.sqlite3");
        (folder, path)
    }

    /// A fresh, empty store for a unit test, opened at [`Store::scratch_file`]. It
    /// lives as long as the returned `TempDir`: bind it (`let (_folder, store)`).
    pub(crate) fn scratch() -> (tempfile::TempDir, Store) {
        let (folder, path) = Store::scratch_file();
        let store = Store::open(&path).expect("a scratch store opens");
        (folder, store)
    }

    /// The file this store was opened from: for a test that opens a second
    /// connection to it, or reopens it.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Maps a rusqlite error to a [`StoreError`] naming the store at `path` and the
/// action; one saying the file is damaged leaves the mark that has the next open
/// under the check-in lock check it (see [`damage`]).
fn database<'path>(path: &'path Path, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + 'path {
    move |source| {
        if damage::is_damage(&source) {
            damage::suspect(path);
        }
        StoreError::Database { path: path.to_path_buf(), action, source }
    }
}

/// The cheap test of every open: the header of the file at `path` (see [`damage`]).
fn check_header(path: &Path) -> Result<(), StoreError> {
    damage::check_header(path).map_err(|reason| StoreError::Damaged { path: path.to_path_buf(), reason })
}

/// Creates `folder` (and parents) and makes it readable by its owner only.
fn create_store_folder(folder: &Path) -> Result<(), StoreError> {
    let failed = |source| StoreError::Folder { path: folder.to_path_buf(), source };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(folder).map_err(failed)?;
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700)).map_err(failed)
}

/// Makes the store's files readable and writable by their owner alone (0600),
/// whatever the umask. The database is created 0600 before SQLite opens it (an
/// empty file is an empty database), and SQLite gives the `-wal` and `-shm` files it
/// creates the database's mode; files left wider by an older version are narrowed.
fn make_store_files_private(path: &Path) -> Result<(), StoreError> {
    let failed = |file: &Path| {
        let path = file.to_path_buf();
        move |source| StoreError::Private { path, source }
    };
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(PRIVATE_FILE_MODE).open(path) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(failed(path)(error)),
    }
    let files = [path.to_path_buf(), companion(path, COMPANION_SUFFIXES[0]), companion(path, COMPANION_SUFFIXES[1])];
    for file in &files {
        match std::fs::symlink_metadata(file) {
            Ok(metadata) if metadata.is_file() && metadata.permissions().mode() & 0o777 != PRIVATE_FILE_MODE => {
                let private = std::fs::Permissions::from_mode(PRIVATE_FILE_MODE);
                std::fs::set_permissions(file, private).map_err(failed(file))?;
            }
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(failed(file)(error)),
        }
    }
    Ok(())
}

/// The mode of the store's files: the owner (root) reads and writes, nobody else.
const PRIVATE_FILE_MODE: u32 = 0o600;

/// Opens `folder` below the agent's `root` without following a link, creating
/// what is missing (0700), and makes it the agent's own and readable by it only.
pub fn create_private_folder(root: &Path, folder: &Path) -> Result<Folder, StoreError> {
    let failed = |error: SafePathError| StoreError::Folder { path: folder.to_path_buf(), source: error.into() };
    let opened = Folder::beneath(root, folder, Missing::Create(0o700)).map_err(failed)?;
    opened.make_own().map_err(failed)?;
    opened.set_mode(0o700).map_err(failed)?;
    Ok(opened)
}

/// The one text form of a time in the store: RFC 3339, UTC, milliseconds.
/// Fixed width, so text order is time order.
pub(crate) fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a time written by [`time_text`].
pub(crate) fn parse_time(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_store_and_its_journal_are_private_to_their_owner() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("state/agent.sqlite3");
        let store = Store::open(&path).unwrap();
        store.device_id().unwrap();
        assert_eq!(mode(&folder.path().join("state")), 0o700);
        for name in ["agent.sqlite3", "agent.sqlite3-wal", "agent.sqlite3-shm"] {
            assert_eq!(mode(&folder.path().join("state").join(name)), 0o600, "{name}");
        }
    }

    #[test]
    fn files_left_wider_are_narrowed_when_the_store_opens() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent.sqlite3");
        drop(Store::open(&path).unwrap());
        let wal = folder.path().join("agent.sqlite3-wal");
        std::fs::write(&wal, "").unwrap();
        for file in [&path, &wal] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o666)).unwrap();
        }
        let _store = Store::open_existing(&path).unwrap();
        assert_eq!((mode(&path), mode(&wal)), (0o600, 0o600));
    }

    /// Set in the environment of the child process that opens and closes the store.
    const CHILD_STORE: &str = "ENDPOINT_AGENT_STORE_TEST_FILE";

    /// In the child: opens the store at the path it was given, reads, and closes it.
    #[test]
    fn open_and_close_in_this_process() {
        let Some(path) = std::env::var_os(CHILD_STORE) else {
            return;
        };
        let store = Store::open(Path::new(&path)).expect("the child opens the store");
        store.device_id().expect("the child reads it");
    }

    /// SQLite's locks on the database file are the process's: closing any other
    /// descriptor of that file in the process drops them all, and another process
    /// closing its last connection then believes itself the store's last user: it
    /// copies the write-ahead log into the file and deletes it under the agent's
    /// open connections, whose next commits are lost. Opening a second
    /// connection while one is open (the run writer's, the control socket's) must
    /// therefore not read the file through a descriptor of its own.
    #[test]
    fn a_second_connection_keeps_the_first_ones_locks() {
        let (_folder, path) = Store::scratch_file();
        let first = Store::open(&path).unwrap();
        first.device_id().unwrap();
        first.connection.execute_batch("CREATE TABLE kept (value INTEGER); INSERT INTO kept VALUES (1);").unwrap();
        let second = Store::open(&path).unwrap();
        second.device_id().unwrap();
        let module = module_path!().split_once("::").map_or(module_path!(), |(_, rest)| rest);
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &format!("{module}::open_and_close_in_this_process"), "--test-threads=1"])
            .env(CHILD_STORE, &path)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"), "{output:?}");
        let wal = companion(&path, COMPANION_SUFFIXES[0]);
        assert!(wal.exists(), "the other process took the store for its own and removed {}", wal.display());
        first.connection.execute_batch("INSERT INTO kept VALUES (2);").unwrap();
        drop((first, second));
        let reopened = Store::open(&path).unwrap();
        let kept: i64 = reopened.connection.query_row("SELECT count(*) FROM kept", [], |row| row.get(0)).unwrap();
        assert_eq!(kept, 2, "a commit made after the other process closed was lost");
    }
}
