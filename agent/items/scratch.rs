//! A scratch device for a handler's unit tests: everything an [`ItemContext`]
//! borrows, owned in one place under a temporary root.
//!
//! ```ignore
//! let mut scratch = ScratchItem::new();
//! let report = custom_script::run(&settings, &mut scratch.context()).await;
//! assert_eq!(scratch.phases(), ["audit"]);
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ItemContext, RunFolder};
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::plan::CheckinKind;
use crate::state::{RunRecord, Store, Trigger};

/// How long a handler under test may take before its programs are stopped.
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// The id of the run the scratch item belongs to, begun in the store.
pub(crate) const SCRATCH_RUN: &str = "scratch-run";

/// One item's run on a scratch device: the default configuration, the layout
/// under a temporary root, a fresh store and the run's private folder, made.
pub(crate) struct ScratchItem {
    root: tempfile::TempDir,
    /// The configuration the handler reads (command paths, timeouts); change it freely.
    pub(crate) config: AgentConfig,
    paths: AgentPaths,
    store: Store,
    run_folder: RunFolder,
    work_dir: PathBuf,
    cancel: CancellationToken,
    phases: Arc<Mutex<Vec<String>>>,
    on_phase: Box<dyn FnMut(&str) + Send>,
}

impl ScratchItem {
    /// A scratch device with nothing on it yet.
    pub(crate) fn new() -> Self {
        let root = tempfile::tempdir().expect("a scratch root");
        let paths = AgentPaths::under(root.path());
        let store = Store::open(&paths.store_file).expect("a scratch store");
        let run = RunRecord::begun(SCRATCH_RUN, CheckinKind::Recurring, Trigger::Schedule, chrono::Utc::now());
        store.begin_run(&run, std::process::id()).expect("the scratch run begins");
        let run_folder = RunFolder::new(paths.root.clone(), paths.scripts_dir.join(SCRATCH_RUN));
        run_folder.make().expect("the run's folder");
        let work_dir = run_folder.item_path(0);
        let phases = Arc::new(Mutex::new(Vec::new()));
        let told = Arc::clone(&phases);
        let on_phase = Box::new(move |phase: &str| told.lock().unwrap().push(phase.to_string()));
        let config = AgentConfig::default();
        let cancel = CancellationToken::new();
        Self { root, config, paths, store, run_folder, work_dir, cancel, phases, on_phase }
    }

    /// The device's root: programs start here, and the agent's paths are under it.
    pub(crate) fn root(&self) -> &Path {
        self.root.path()
    }

    /// The context of the item `scratch-item`, at the first position of the run,
    /// due within a minute.
    pub(crate) fn context(&mut self) -> ItemContext<'_> {
        ItemContext {
            item_id: "scratch-item",
            item_name: "Scratch item",
            run_id: SCRATCH_RUN,
            requested_by: None,
            config: &self.config,
            paths: &self.paths,
            store: &self.store,
            now: chrono::Utc::now(),
            work_dir: &self.work_dir,
            run_folder: &self.run_folder,
            root: &self.paths.root,
            deadline: tokio::time::Instant::now() + TIME_LIMIT,
            termination_grace: self.config.timeouts.termination_grace,
            cancel: &self.cancel,
            environment: vec![("AGENT_ITEM_ID".into(), "scratch-item".into())],
            on_phase: &mut *self.on_phase,
        }
    }

    /// The phases the handler announced, in order.
    pub(crate) fn phases(&self) -> Vec<String> {
        self.phases.lock().unwrap().clone()
    }
}
