//! Building a package from this repository into a scratch folder, and unpacking it
//! with `bsdtar`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use endpoint_package::product::{self, BuildInputs};
use endpoint_package::tree::FileTree;
use endpoint_package::verify::{VerifyError, verify};

/// The repository this test is part of.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixed build time, so two builds can be compared byte for byte.
pub fn build_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// A scratch folder holding a small stand-in for the agent binary.
pub struct Workspace {
    /// Everything the test writes.
    pub folder: tempfile::TempDir,
}

impl Workspace {
    /// A scratch folder with `agent` in it (a script that prints a version).
    pub fn new() -> Self {
        let folder = tempfile::tempdir().expect("scratch folder");
        std::fs::write(folder.path().join("agent"), "#!/bin/sh\necho 'agent 0.1.0'\n").unwrap();
        Self { folder }
    }

    /// A path under the scratch folder.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.folder.path().join(relative)
    }

    /// The inputs for building from the repository with the stand-in binary.
    pub fn inputs(&self) -> BuildInputs {
        BuildInputs {
            source_dir: repository(),
            binary: self.path("agent"),
            version: product::manifest_version(&repository().join("Cargo.toml")).unwrap(),
            timestamp: build_time(),
            host_architectures: "arm64,x86_64".to_string(),
            self_update_team_id: None,
        }
    }

    /// Builds the package into `out/` and returns its path.
    pub fn build(&self) -> PathBuf {
        self.build_pinned(None)
    }

    /// Builds the package into `out/`, pinning the agent's updates to `team_id`
    /// when given, and returns its path.
    pub fn build_pinned(&self, team_id: Option<&str>) -> PathBuf {
        let inputs = BuildInputs { self_update_team_id: team_id.map(str::to_string), ..self.inputs() };
        product::write_package(&inputs, &self.path("out")).expect("the package builds")
    }

    /// Writes a package made of `parts` and returns its path.
    pub fn write_parts(&self, name: &str, parts: product::Parts) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, product::product_archive(parts, build_time()).unwrap()).unwrap();
        path
    }
}

/// Extracts `archive` into `destination` (created) with `bsdtar`.
pub fn unpack(archive: &Path, destination: &Path) {
    std::fs::create_dir_all(destination).unwrap();
    let status = Command::new("bsdtar").arg("-xf").arg(archive).arg("-C").arg(destination).status().unwrap();
    assert!(status.success(), "bsdtar could not extract {}", archive.display());
}

/// The problems `verify` reports for `package`; panics if it passes.
pub fn problems(package: &Path) -> Vec<String> {
    match verify(package, None) {
        Err(VerifyError::Problems { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

/// Whether any problem contains every one of `words`.
pub fn reported(problems: &[String], words: &[&str]) -> bool {
    problems.iter().any(|problem| words.iter().all(|word| problem.contains(word)))
}

/// `tree` without the entry at `path`.
pub fn rebuilt_without(tree: &FileTree, path: &str) -> FileTree {
    let root = tree.get(".").unwrap();
    let mut copy = FileTree::new(root.permissions, root.uid, root.gid);
    for entry in tree.entries().filter(|entry| entry.path != "." && entry.path != path) {
        copy.add(entry.clone()).unwrap();
    }
    copy
}
