//! The daemon after installing a newer agent: it exits 0 by itself, the usual
//! bounded way, so launchd (the job is KeepAlive) starts the new binary.

use std::time::Duration;

use super::harness::Daemon;
use crate::support::{Device, logged_records};
use crate::tenant::self_update::{MARKER, installer, offering};

#[test]
fn after_installing_a_newer_agent_the_daemon_exits_0_by_itself_to_restart_onto_it() {
    let device = Device::new();
    let tenant = offering(&device, "99.0.0", None);
    // Long enough for the harness to see the daemon answer before it exits.
    let set_installer = installer(&device, "sleep 1\necho 'installer: The upgrade was successful.'\n");
    let mut daemon = Daemon::start(&device, &["schedule.daily_interval=1h", &set_installer]);
    let (status, _) = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");

    let exiting = logged_records(&device, "Agent updated to 99.0.0; exiting so launchd starts the new binary.");
    assert_eq!(exiting.len(), 1, "one exit, logged once");
    assert_eq!(exiting[0]["agent_version"], "99.0.0", "{:#}", exiting[0]);
    assert_eq!(logged_records(&device, "Daemon stopped.").len(), 1);
    assert!(!daemon.socket.exists(), "the socket is removed");
    assert!(!device.root().join(MARKER).exists());
    let status = device.status();
    assert_eq!(status["agent_update"]["outcome"], "installed", "{status:#}");
    assert_eq!(status["last_run"]["outcome"], "succeeded", "the check-in ended before the exit: {status:#}");
    assert_eq!(tenant.seen_at("/api/v1/agent/results").len(), 1, "its results were reported");
}
