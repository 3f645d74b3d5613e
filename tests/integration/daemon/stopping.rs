//! Stopping the daemon: SIGTERM within its deadline, a second SIGTERM at once;
//! no process an item started survives, and the run is recorded `interrupted`.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::harness::{Daemon, assert_interrupted, hanging_blueprint, setting};
use crate::support::{Device, PATIENCE, is_alive, logged_records, read_pid};

#[test]
fn sigterm_during_a_long_item_stops_its_processes_and_records_an_interrupted_run() {
    let device = Device::new();
    let blueprint_file = setting("blueprint_file", &hanging_blueprint(&device, false));
    let settings = ["schedule.daily_interval=1h", "timeouts.termination_grace=1s", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let child = read_pid(&device.wait_for_file("child.pid", PATIENCE));
    daemon.signal(Signal::SIGTERM);
    let (status, took) = daemon.wait_exit(PATIENCE);
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    assert!(!is_alive(child), "the item's background child is gone");
    assert!(!daemon.socket.exists(), "the socket is removed");
    assert_interrupted(&device, &["failed", "not_run"]);
    assert_eq!(logged_records(&device, "Daemon stopped.").len(), 1);
}

#[test]
fn a_second_sigterm_stops_at_once_even_when_the_item_ignores_sigterm() {
    let device = Device::new();
    let blueprint_file = setting("blueprint_file", &hanging_blueprint(&device, true));
    let settings = ["schedule.daily_interval=1h", "timeouts.termination_grace=30s", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let child = read_pid(&device.wait_for_file("child.pid", PATIENCE));
    daemon.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.child.try_wait().unwrap().is_none(), "the first SIGTERM waits for the item's grace");
    daemon.signal(Signal::SIGTERM);
    let (status, took) = daemon.wait_exit(PATIENCE);
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(10), "stopped in {took:?}, not after the 30s grace");
    assert!(!is_alive(child), "SIGKILL reached the item's background child");
    // Cut short, the run still lists every item: the one it was in failed, the rest not run.
    assert_interrupted(&device, &["failed", "not_run"]);
}

#[test]
fn the_shutdown_timeout_bounds_a_stop_whatever_the_item_does() {
    let device = Device::new();
    let blueprint_file = setting("blueprint_file", &hanging_blueprint(&device, true));
    let settings =
        ["schedule.daily_interval=1h", "timeouts.termination_grace=30s", "daemon.shutdown_timeout=1s", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let child = read_pid(&device.wait_for_file("child.pid", PATIENCE));
    daemon.signal(Signal::SIGTERM);
    let (status, took) = daemon.wait_exit(PATIENCE);
    assert!(status.success(), "{status:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(10), "stopped in {took:?}");
    assert!(!is_alive(child));
    assert_interrupted(&device, &["failed", "not_run"]);
}
