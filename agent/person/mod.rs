//! The person at the Mac: who is logged in at its screen, what kind of Mac it is,
//! and how they are told about disruptive work (an OS update's restart, an app
//! that must quit) and asked when it may happen.
//!
//! Every message reaches the person's own session through `launchctl asuser UID`
//! and runs as them (`sudo -u NAME`), never as root; its texts are arguments of
//! the AppleScript, never part of its source. Every notice gives up after a
//! timeout, and the caller decides what no answer means. A restart is counted
//! down in one notice ([`countdown`]).

mod architecture;
mod at_the_mac;
mod console_user;
mod countdown;
mod notice;

pub(crate) use architecture::{Architecture, architecture};
pub(crate) use at_the_mac::{PersonAtTheMac, QuitTarget};
pub(crate) use console_user::console_user;
pub(crate) use countdown::{Countdown, show, time_left, wait_until};
pub(crate) use notice::{Answer, Notice};
