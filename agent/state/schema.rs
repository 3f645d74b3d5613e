//! The tables of the store and how an older store is brought up to date: a base
//! schema, then numbered steps, each applied once in its own transaction.

use super::store::{Store, StoreError};

/// The version [`SCHEMA`] brings a new store to.
const BASE_SCHEMA_VERSION: i64 = 3;

/// The newest schema this version writes: the base, then every step in [`SCHEMA_STEPS`].
pub(super) const SCHEMA_VERSION: i64 = BASE_SCHEMA_VERSION + SCHEMA_STEPS.len() as i64;

/// The columns of `item_results` (one row per item of a run): the base schema
/// creates the table with them, and step 6 rebuilt it with the same columns and
/// no rowid. They never change here: a new column is a new step.
macro_rules! item_results_columns {
    () => {
        "
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    message TEXT NOT NULL DEFAULT '',
    output TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, position)
"
    };
}

/// The tables of a new store, at [`BASE_SCHEMA_VERSION`].
const SCHEMA: &str = concat!(
    "
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT,
    blueprint_id TEXT,
    pid INTEGER NOT NULL,
    drift TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE TABLE IF NOT EXISTS item_results (",
    item_results_columns!(),
    ");
CREATE TABLE IF NOT EXISTS once_items (
    item_id TEXT PRIMARY KEY,
    succeeded_at TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS item_markers (
    item_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (item_id, name)
);
CREATE TABLE IF NOT EXISTS device (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spool (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    parked INTEGER NOT NULL DEFAULT 0
);
"
);

/// The changes after the base schema, oldest first; step `n` (from 0) takes a store
/// to version `BASE_SCHEMA_VERSION + n + 1`, in one transaction. A step that adds
/// tables uses `IF NOT EXISTS`; one that rebuilds a table copies every row.
const SCHEMA_STEPS: &[&str] = &[
    // 4: the agent's own updates (`self_update`): one row per attempt; `outcome` is
    // NULL while the installer runs.
    "CREATE TABLE IF NOT EXISTS agent_updates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        from_version TEXT NOT NULL,
        to_version TEXT,
        sha256 TEXT,
        outcome TEXT,
        message TEXT NOT NULL DEFAULT '',
        reported_run_id TEXT
    );",
    // 5: check-ins the tenant asked for (blankpush, dailycheckin), kept until a
    // check-in serves them; the process group of the program an item runs, so the
    // next agent can stop it after a kill -9.
    "CREATE TABLE IF NOT EXISTS tenant_requests (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        command_id TEXT NOT NULL UNIQUE,
        command TEXT NOT NULL,
        received_at TEXT NOT NULL,
        run_at_once INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS running_process_groups (
        process_group INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        leader_started_at INTEGER NOT NULL,
        program TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    );",
    // 6: item results stored in their key's order, (run, position), without a
    // separate rowid table: one B-tree written per result instead of two.
    concat!(
        "CREATE TABLE item_results_by_run (",
        item_results_columns!(),
        ") WITHOUT ROWID;
    INSERT INTO item_results_by_run
        SELECT run_id, position, item_id, name, type, status, started_at, finished_at, duration_ms,
               exit_code, message, output
        FROM item_results;
    DROP TABLE item_results;
    ALTER TABLE item_results_by_run RENAME TO item_results;"
    ),
    // 7: the plan of each run not yet ended, so one cut short still lists every
    // item; and whether its report goes to the tenant (see `interrupted`).
    "CREATE TABLE IF NOT EXISTS run_plans (
        run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        items TEXT NOT NULL,
        reports_to_tenant INTEGER NOT NULL
    );",
    // 8: what is wrong with a run's record, when something is (results or its end
    // the store could not take, e.g. on a full disk; see `checkin`'s run writer).
    "CREATE TABLE IF NOT EXISTS run_messages (
        run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        message TEXT NOT NULL
    );",
    // 9: the user who asked for a Self Service run (an install or a sync); other
    // runs have no row.
    "CREATE TABLE IF NOT EXISTS run_requesters (
        run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
        requested_by TEXT NOT NULL
    );",
    // 10: disruptive work waiting on the person at the Mac or a deadline, one row
    // per item (see `pending_work`); the person's deferrals, with their run.
    "CREATE TABLE IF NOT EXISTS pending_work (
        item_id TEXT PRIMARY KEY,
        item_name TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        deadline TEXT,
        state TEXT NOT NULL,
        notice_shown_at TEXT,
        deferrals_used INTEGER NOT NULL DEFAULT 0,
        countdown_ends_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS deferrals (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        item_id TEXT NOT NULL,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        choice TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS deferrals_by_run ON deferrals (run_id);",
    // 11: a served tenant request is kept (with when it was served) instead of
    // removed, so the same command arriving again, through the command channel and
    // then a check-in, is acted on once; served rows go after 30 days.
    "ALTER TABLE tenant_requests ADD COLUMN served_at TEXT;",
];

impl Store {
    /// The schema version the store's file is at (0: none yet).
    pub(super) fn schema_version(&self) -> Result<i64, StoreError> {
        self.connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(self.failed("cannot read the schema version"))
    }

    /// The error for a store written by a newer agent.
    pub(super) fn newer_schema(&self, version: i64) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message: format!("schema version {version} is newer than this agent understands ({SCHEMA_VERSION})"),
        }
    }

    /// Brings the schema to [`SCHEMA_VERSION`] (the base schema when it has none,
    /// then each step it lacks) in one transaction that holds the write lock from
    /// its start, so another process sees the store either before or after, never
    /// in between, and two processes never both migrate it.
    pub(super) fn migrate(&self) -> Result<(), StoreError> {
        let version = self.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(self.newer_schema(version));
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let failed = self.failed("cannot update the schema");
        self.connection.execute_batch("BEGIN IMMEDIATE").map_err(&failed)?;
        let migrated = self.migrate_in_transaction();
        let ended = if migrated.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.connection.execute_batch(ended).map_err(&failed);
        migrated.and(ended)
    }

    /// The steps from the version the store holds now (read again under the lock).
    fn migrate_in_transaction(&self) -> Result<(), StoreError> {
        let version = self.schema_version()?;
        if version < BASE_SCHEMA_VERSION {
            self.connection.execute_batch(SCHEMA).map_err(self.failed("cannot create the schema"))?;
        }
        let done = (version.max(BASE_SCHEMA_VERSION) - BASE_SCHEMA_VERSION) as usize;
        for step in SCHEMA_STEPS.iter().skip(done) {
            self.connection.execute_batch(step).map_err(self.failed("cannot update the schema"))?;
        }
        let version = format!("PRAGMA user_version = {SCHEMA_VERSION}");
        self.connection.execute_batch(&version).map_err(self.failed("cannot update the schema"))
    }
}
