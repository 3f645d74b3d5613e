//! Local accounts by their ids, as admins and people read them: the names the
//! system gives a uid or gid, for messages and for who asked for a run.

/// A user's name for messages, or its id when it has none.
pub(crate) fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(uid.into()) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    }
}

/// A group's name for messages, or its id when it has none.
pub(crate) fn group_name(gid: u32) -> String {
    match nix::unistd::Group::from_gid(gid.into()) {
        Ok(Some(group)) => group.name,
        _ => gid.to_string(),
    }
}
