//! Pending disruptive work written into a device's store as the managed OS item
//! saves it, for the tests of what reads it (status, Self Service's Updates).

use chrono::{DateTime, TimeDelta, Utc};
use endpoint_agent::state::PendingWork;

use super::{Device, store};

/// What a pending OS update will do, in the words the managed OS item uses.
pub const OS_UPDATE_ACTION: &str = "install macOS Sequoia 15.2 and restart";

/// The pending work of the managed OS item `item_id` (named `item_name`) after
/// the person chose Later once, due at `deadline`.
pub fn pending_os_update(item_id: &str, item_name: &str, deadline: Option<DateTime<Utc>>) -> PendingWork {
    PendingWork {
        item_id: item_id.into(),
        item_name: item_name.into(),
        action: OS_UPDATE_ACTION.into(),
        subject: "macOS Sequoia 15.2".into(),
        deadline,
        state: "deferred by ada (1 of 3)".into(),
        notice_shown_at: Some(Utc::now()),
        deferrals_used: 1,
        countdown_ends_at: None,
        updated_at: Utc::now(),
    }
}

/// Saves `work` in `device`'s store.
pub fn save_pending_work(device: &Device, work: &PendingWork) {
    store(device).save_pending_work(work).unwrap();
}

/// Three days from now, to the second (as the store keeps times).
pub fn in_three_days() -> DateTime<Utc> {
    DateTime::from_timestamp((Utc::now() + TimeDelta::days(3)).timestamp(), 0).unwrap()
}
