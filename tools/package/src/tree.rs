//! A file tree as a package carries it: every path with its type, mode and owner,
//! and a file's bytes.
//!
//! The Payload, the Scripts archive and the Bom are all written from one tree, so
//! what the Bom promises is what the Payload holds. Paths are written the way
//! Apple's tools write them, relative and starting at `.` (`./usr/local/bin/agent`),
//! and kept in byte order, which puts every folder before what it holds.

use std::collections::BTreeMap;

/// The group Apple gives `/Library/Application Support` and other shared folders.
pub const ADMIN_GROUP: u32 = 80;

/// The file-type bits of a directory in `st_mode`.
pub(crate) const DIRECTORY_TYPE: u32 = 0o040000;
/// The file-type bits of a regular file in `st_mode`.
pub(crate) const FILE_TYPE: u32 = 0o100000;
/// The file-type bits of a symbolic link in `st_mode`.
pub(crate) const SYMLINK_TYPE: u32 = 0o120000;

/// What a path is, with what a reader needs beyond its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A folder.
    Directory,
    /// A regular file and its contents.
    File(Vec<u8>),
    /// A symbolic link and where it points.
    Symlink(String),
}

/// One path in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `.` or `./a/b`, as it appears in the archive.
    pub path: String,
    /// Folder, file or link.
    pub kind: EntryKind,
    /// The permission bits (`0o755`), without the file type.
    pub permissions: u32,
    /// The owner's user id.
    pub uid: u32,
    /// The owner's group id.
    pub gid: u32,
}

impl Entry {
    /// The full `st_mode`: file type and permissions.
    pub fn mode(&self) -> u32 {
        let file_type = match self.kind {
            EntryKind::Directory => DIRECTORY_TYPE,
            EntryKind::File(_) => FILE_TYPE,
            EntryKind::Symlink(_) => SYMLINK_TYPE,
        };
        file_type | self.permissions
    }

    /// The bytes an archive stores for it: a file's contents, a link's target.
    pub fn data(&self) -> &[u8] {
        match &self.kind {
            EntryKind::Directory => &[],
            EntryKind::File(contents) => contents,
            EntryKind::Symlink(target) => target.as_bytes(),
        }
    }

    /// The last component of the path (`.` for the root).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// The parent's path, or `None` for the root.
    pub fn parent(&self) -> Option<&str> {
        self.path.rsplit_once('/').map(|(parent, _)| parent)
    }
}

/// Why a path could not be added.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// Not `./` followed by plain components.
    #[error("{path:?} is not a relative path such as ./usr/local/bin/agent")]
    BadPath { path: String },
    /// Its folder was never added.
    #[error("{path:?} has no parent folder in the tree")]
    NoParent { path: String },
    /// Added twice.
    #[error("{path:?} is in the tree twice")]
    Duplicate { path: String },
    /// Permission bits outside `0o7777`.
    #[error("{path:?} has mode {permissions:o}, which is more than permission bits")]
    BadPermissions { path: String, permissions: u32 },
}

/// A tree rooted at `.`, paths in byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTree {
    /// Every entry by its path.
    entries: BTreeMap<String, Entry>,
}

impl FileTree {
    /// A tree holding only the root folder, `.`, with these permissions and owner.
    pub fn new(permissions: u32, uid: u32, gid: u32) -> Self {
        let root = Entry { path: ".".to_string(), kind: EntryKind::Directory, permissions, uid, gid };
        Self { entries: BTreeMap::from([(root.path.clone(), root)]) }
    }

    /// Adds `entry`, whose parent folder must already be in the tree.
    pub fn add(&mut self, entry: Entry) -> Result<(), TreeError> {
        let path = entry.path.clone();
        let well_formed = path.strip_prefix("./").is_some_and(|rest| {
            rest.split('/').all(|part| !part.is_empty() && part != "." && part != ".." && !part.contains('\0'))
        });
        if !well_formed {
            return Err(TreeError::BadPath { path });
        }
        if entry.permissions & !0o7777 != 0 {
            return Err(TreeError::BadPermissions { path, permissions: entry.permissions });
        }
        let parent_is_folder = entry
            .parent()
            .and_then(|parent| self.entries.get(parent))
            .is_some_and(|parent| parent.kind == EntryKind::Directory);
        if !parent_is_folder {
            return Err(TreeError::NoParent { path });
        }
        if self.entries.contains_key(&path) {
            return Err(TreeError::Duplicate { path });
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// Adds a folder owned by `uid`:`gid`.
    pub fn add_directory(&mut self, path: &str, permissions: u32, uid: u32, gid: u32) -> Result<(), TreeError> {
        self.add(Entry { path: path.to_string(), kind: EntryKind::Directory, permissions, uid, gid })
    }

    /// Adds a file owned by root (`0:0`).
    pub fn add_file(&mut self, path: &str, contents: Vec<u8>, permissions: u32) -> Result<(), TreeError> {
        self.add(Entry { path: path.to_string(), kind: EntryKind::File(contents), permissions, uid: 0, gid: 0 })
    }

    /// Every entry, folders before what they hold.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// The entry at `path`.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// How many paths, the root included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Never true: the root is always there.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries breadth first: the root, then its children, then theirs, each
    /// level's siblings in byte order. This is the order a Bom numbers paths in.
    pub fn breadth_first(&self) -> Vec<&Entry> {
        let mut order: Vec<&Entry> = self.entries.get(".").into_iter().collect();
        let mut level_start = 0;
        while level_start < order.len() {
            let level_end = order.len();
            for index in level_start..level_end {
                let parent = order[index];
                order.extend(self.children(&parent.path));
            }
            level_start = level_end;
        }
        order
    }

    /// The direct children of `parent`, in byte order.
    fn children<'a>(&'a self, parent: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.values().filter(move |entry| entry.parent() == Some(parent))
    }

    /// The total size of the files and link targets, in bytes.
    pub fn data_size(&self) -> u64 {
        self.entries.values().map(|entry| entry.data().len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileTree {
        let mut tree = FileTree::new(0o755, 0, 0);
        tree.add_directory("./usr", 0o755, 0, 0).unwrap();
        tree.add_directory("./Library", 0o755, 0, 0).unwrap();
        tree.add_directory("./Library/Application Support", 0o755, 0, ADMIN_GROUP).unwrap();
        tree.add_directory("./usr/local", 0o755, 0, 0).unwrap();
        tree.add_file("./Library/Application Support/x", b"x".to_vec(), 0o644).unwrap();
        tree.add_file("./usr/z", b"zz".to_vec(), 0o755).unwrap();
        tree
    }

    #[test]
    fn folders_come_before_what_they_hold() {
        let tree = sample();
        let paths: Vec<&str> = tree.entries().map(|entry| entry.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                ".",
                "./Library",
                "./Library/Application Support",
                "./Library/Application Support/x",
                "./usr",
                "./usr/local",
                "./usr/z"
            ]
        );
    }

    #[test]
    fn breadth_first_goes_level_by_level() {
        let tree = sample();
        let paths: Vec<&str> = tree.breadth_first().into_iter().map(|entry| entry.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                ".",
                "./Library",
                "./usr",
                "./Library/Application Support",
                "./usr/local",
                "./usr/z",
                "./Library/Application Support/x"
            ]
        );
    }

    #[test]
    fn bad_paths_and_orphans_are_refused() {
        let mut tree = sample();
        for path in ["usr/bin", "./usr//bin", "./usr/../etc", "./", "/usr"] {
            assert!(matches!(tree.add_directory(path, 0o755, 0, 0), Err(TreeError::BadPath { .. })), "{path}");
        }
        assert!(matches!(tree.add_file("./opt/x", vec![], 0o644), Err(TreeError::NoParent { .. })));
        assert!(matches!(tree.add_file("./usr/z/y", vec![], 0o644), Err(TreeError::NoParent { .. })));
        assert!(matches!(tree.add_file("./usr/z", vec![], 0o644), Err(TreeError::Duplicate { .. })));
        assert!(matches!(tree.add_file("./usr/w", vec![], 0o100644), Err(TreeError::BadPermissions { .. })));
    }

    #[test]
    fn modes_carry_the_file_type() {
        let tree = sample();
        assert_eq!(tree.get("./usr").unwrap().mode(), 0o40755);
        assert_eq!(tree.get("./usr/z").unwrap().mode(), 0o100755);
        let link =
            Entry { path: "./l".into(), kind: EntryKind::Symlink("usr/z".into()), permissions: 0o755, uid: 0, gid: 0 };
        assert_eq!(link.mode(), 0o120755);
        assert_eq!(link.data(), b"usr/z");
        assert_eq!(tree.data_size(), 3);
    }
}
