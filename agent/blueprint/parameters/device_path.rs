//! A path on the managed Mac, as a blueprint names it (`/etc/motd`).
//!
//! Blueprint paths are absolute and never climb (`..`): the agent places them under
//! its root (`AGENT_ROOT`, or `/`), and a path that could step outside that root is
//! refused when the blueprint is checked, not when something is written.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// An absolute path on the device, normalised (`/a/./b/` is `/a/b`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DevicePath(PathBuf);

impl DevicePath {
    /// Checks `text`: absolute, no `..`, not the root itself, no NUL byte.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.contains('\0') {
            return Err("must not contain a NUL character".into());
        }
        if !text.starts_with('/') {
            return Err(format!("{text:?} is not an absolute path (it must start with /)"));
        }
        let mut normalised = PathBuf::from("/");
        for component in Path::new(text).components() {
            match component {
                Component::Normal(part) => normalised.push(part),
                Component::ParentDir => return Err(format!("{text:?} must not contain \"..\"")),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
        if normalised == Path::new("/") {
            return Err("must name something below /, not / itself".into());
        }
        Ok(Self(normalised))
    }

    /// The path as the blueprint names it on the Mac.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// Where the path lives for an agent whose root is `root`.
    pub fn under(&self, root: &Path) -> PathBuf {
        root.join(self.0.strip_prefix("/").unwrap_or(&self.0))
    }
}

impl fmt::Display for DevicePath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_absolute_normalised_and_never_climb() {
        let cases: [(&str, Result<&str, &str>); 9] = [
            ("/etc/motd", Ok("/etc/motd")),
            ("/Library/Application Support/", Ok("/Library/Application Support")),
            ("//etc/./motd", Ok("/etc/motd")),
            ("etc/motd", Err("is not an absolute path")),
            ("", Err("is not an absolute path")),
            ("/etc/../../outside", Err("must not contain \"..\"")),
            ("/..", Err("must not contain \"..\"")),
            ("/", Err("not / itself")),
            ("/etc/mo\0td", Err("NUL")),
        ];
        for (text, expected) in cases {
            match (DevicePath::parse(text), expected) {
                (Ok(path), Ok(normalised)) => assert_eq!(path.to_string(), normalised, "{text:?}"),
                (Err(message), Err(fragment)) => assert!(message.contains(fragment), "{text:?}: {message}"),
                (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_device_path_lives_under_the_root() {
        let path = DevicePath::parse("/etc/motd").unwrap();
        assert_eq!(path.under(Path::new("/scratch/root")), Path::new("/scratch/root/etc/motd"));
        assert_eq!(path.under(Path::new("/")), Path::new("/etc/motd"));
    }
}
