//! Who is logged in at the Mac's screen: the owner of `/dev/console` (read under
//! the agent's root, like every other device fact). macOS gives the console to
//! the user of the login window's session; root owns it at the login window.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::accounts::user_name;

/// The user logged in at the Mac's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConsoleUser {
    /// Their uid.
    pub uid: u32,
    /// Their user name (the uid in digits when it has none).
    pub name: String,
}

/// The owner of `<root>/dev/console`; `None` when root owns it (nobody is logged
/// in) or it cannot be read (no console: a server, a container).
pub(crate) fn console_user(root: &Path) -> Option<ConsoleUser> {
    let metadata = std::fs::metadata(root.join("dev/console")).ok()?;
    let uid = metadata.uid();
    (uid != 0).then(|| ConsoleUser { uid, name: user_name(uid) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_of_the_console_is_logged_in_and_root_or_no_console_is_nobody() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(console_user(root.path()), None, "no console");
        std::fs::create_dir_all(root.path().join("dev")).unwrap();
        let console = root.path().join("dev/console");
        std::fs::write(&console, "").unwrap();
        let owner = nix::unistd::geteuid().as_raw();
        let found = console_user(root.path());
        if owner == 0 {
            assert_eq!(found, None, "root owns the console at the login window");
            nix::unistd::chown(&console, Some(65534.into()), None).unwrap();
            let found = console_user(root.path()).expect("someone is logged in");
            assert_eq!((found.uid, found.name), (65534, user_name(65534)));
        } else {
            assert_eq!(found, Some(ConsoleUser { uid: owner, name: user_name(owner) }));
        }
    }
}
