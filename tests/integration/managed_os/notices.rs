//! Managed OS with someone at the Mac: reminders before the deadline (once per
//! interval, not per check-in), deferrals counted up to their limit, the restart
//! countdown past the deadline (run out, resumed, or cut short by "Restart Now"),
//! the install at once with nobody logged in, and Apple silicon never installing.
//! The person is the stand-in `osascript` answering as told, reached through
//! stand-in `launchctl asuser` and `sudo -u`.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use endpoint_agent::state::PendingWork;
use serde_json::{Value, json};

use super::{ITEM_NAME, SONOMA_LABEL, SONOMA_UPDATE, StandIns, check_in, managed_os, message};
use crate::support::person::PersonStandIns;
use crate::support::{Device, item, store};

const ITEM_ID: &str = "li-os";
const SOFTWARE_UPDATE_URL: &str = "x-apple.systempreferences:com.apple.Software-Update-Settings.extension";
const REMINDER_BUTTONS: [&str; 2] = ["Update Now", "Later"];

/// A Mac running macOS 14.6.1 offered Sonoma 14.7.1, its person, and its tools.
struct Mac {
    device: Device,
    os: StandIns,
    person: PersonStandIns,
}

impl Mac {
    /// `console`: who is logged in (`None`: nobody); `architecture`: "intel" or "apple_silicon".
    fn new(console: Option<u32>, architecture: &str) -> Self {
        let device = Device::new();
        let os = StandIns::mac(&device, "14.6.1", SONOMA_UPDATE, "", "exit 0");
        let person = PersonStandIns::install(&device, console, architecture);
        Self { device, os, person }
    }

    /// One check-in of a managed OS item with `keys` (minimum 14.7), the
    /// notices' interval `interval`; asserts it exited 0 and returns the status.
    fn check_in(&self, keys: Value, interval: &str) -> Value {
        let mut keys = keys;
        keys["minimum_version"] = json!("14.7");
        let mut flags = self.person.flags();
        flags.extend(["--set".to_string(), format!("notices.interval={interval}")]);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let (exit, status) = check_in(&self.device, &self.os, managed_os(keys), &flags);
        assert_eq!(exit, 0, "{status:#}");
        status
    }

    fn pending_work(&self) -> Option<PendingWork> {
        store(&self.device).pending_work(ITEM_ID).unwrap()
    }

    /// The deferrals the last run recorded: (choice, user).
    fn deferrals(&self, status: &Value) -> Vec<(String, String)> {
        let run_id = status["last_run"]["id"].as_str().expect("a run id");
        let deferrals = store(&self.device).deferrals_of_run(run_id).unwrap();
        deferrals.into_iter().map(|deferral| (deferral.choice, deferral.user)).collect()
    }

    /// Who owns the console: (uid, user name), as `launchctl asuser` and `sudo -u` get them.
    fn console_user(&self) -> (String, String) {
        let uid = std::fs::metadata(self.device.root().join("dev/console")).unwrap().uid();
        let name = nix::unistd::User::from_uid(uid.into()).unwrap().map_or(format!("#{uid}"), |user| user.name);
        (uid.to_string(), name)
    }

    /// Every person's program ran through `launchctl asuser UID sudo -u NAME --`.
    fn assert_all_ran_as_the_person(&self) {
        let (uid, name) = self.console_user();
        let calls = self.person.launchctl_calls();
        assert!(!calls.is_empty(), "nothing ran as the person");
        for call in calls {
            assert_eq!(call[0..2], ["asuser", uid.as_str()], "{call:?}");
            assert_eq!(call[3..6], ["-u", name.as_str(), "--"], "{call:?}");
            assert!(call[2].ends_with("/sudo"), "{call:?}");
        }
    }
}

fn in_days(days: i64) -> String {
    (Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn status_of(status: &Value) -> &str {
    item(status, ITEM_NAME)["status"].as_str().unwrap_or_default()
}

/// Waits until `interval` has passed since `since`: short, as the tests set it in seconds.
fn wait_past(since: DateTime<Utc>, interval: Duration) {
    let end = since + chrono::Duration::from_std(interval).unwrap() + chrono::Duration::milliseconds(100);
    if let Ok(left) = (end - Utc::now()).to_std() {
        std::thread::sleep(left);
    }
}

#[test]
fn a_reminder_days_before_the_deadline_comes_once_per_interval_not_per_check_in() {
    let mac = Mac::new(Some(65534), "intel");
    let deadline = in_days(3);
    let keys = json!({ "deadline": deadline });
    mac.person.answer(&["Later", "Later"]);

    let status = mac.check_in(keys.clone(), "3s");
    assert_eq!(status_of(&status), "deferred", "{status:#}");
    let (_, user) = mac.console_user();
    assert!(message(&status).starts_with(&format!("deferred by {user} (1 of 3): macOS Sonoma 14.7.1, deadline ")));
    let dialogs = mac.person.dialogs();
    assert_eq!(dialogs.len(), 1, "{dialogs:?}");
    let [timeout, title, text, default, buttons @ ..] = dialogs[0].as_slice() else { panic!("{dialogs:?}") };
    assert_eq!((timeout.as_str(), title.as_str(), default.as_str()), ("300", "macOS update required", "Later"));
    assert_eq!(buttons, REMINDER_BUTTONS);
    assert!(text.starts_with("macOS Sonoma 14.7.1 must be installed by "), "{text}");
    assert!(
        text.ends_with(". Your Mac will restart to finish it. Save your work, then choose Update Now, or Later to be reminded in 3 seconds."),
        "{text}"
    );
    mac.assert_all_ran_as_the_person();
    assert_eq!(mac.deferrals(&status), [("later".to_string(), user.clone())]);
    let work = mac.pending_work().expect("the update is pending work");
    assert_eq!((work.deferrals_used, work.subject.as_str()), (1, SONOMA_LABEL));
    assert_eq!(work.action, "install macOS Sonoma 14.7.1 and restart");
    assert_eq!(work.state, format!("deferred by {user} (1 of 3)"));
    assert_eq!(work.deadline.map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true)), Some(deadline));
    let shown_at = work.notice_shown_at.expect("the notice's time is saved");

    let status = mac.check_in(keys.clone(), "3s");
    assert_eq!(mac.person.dialogs().len(), 1, "no second notice within the interval");
    assert_eq!(status_of(&status), "deferred");
    assert!(message(&status).starts_with("deferred: the person was last reminded about macOS Sonoma 14.7.1 at "));
    assert!(mac.deferrals(&status).is_empty(), "nothing asked, nothing recorded");
    assert_eq!(mac.pending_work().unwrap().deferrals_used, 1);

    wait_past(shown_at, Duration::from_secs(3));
    let status = mac.check_in(keys, "3s");
    assert_eq!(mac.person.dialogs().len(), 2, "the reminder comes back after the interval");
    assert!(message(&status).starts_with(&format!("deferred by {user} (2 of 3)")), "{status:#}");
    assert_eq!(mac.os.install_args(), None, "nothing installed before the deadline");
}

#[test]
fn deferrals_are_counted_to_their_limit_then_the_countdown_installs() {
    let mac = Mac::new(Some(65534), "intel");
    let keys = json!({ "deadline": in_days(3), "max_deferrals": 2, "restart_countdown": "2s" });
    let (_, user) = mac.console_user();
    mac.person.answer(&["Later", "", "Later", ""]);

    let first = mac.check_in(keys.clone(), "1s");
    assert_eq!(mac.deferrals(&first), [("later".to_string(), user.clone())]);
    wait_past(mac.pending_work().unwrap().notice_shown_at.unwrap(), Duration::from_secs(1));
    let unanswered = mac.check_in(keys.clone(), "1s");
    assert_eq!(status_of(&unanswered), "deferred");
    assert_eq!(mac.deferrals(&unanswered), [("no_answer".to_string(), user.clone())], "recorded, not counted");
    assert!(
        message(&unanswered).contains("did not answer the reminder about macOS Sonoma 14.7.1 (not counted, 1 of 2")
    );
    assert_eq!(mac.pending_work().unwrap().deferrals_used, 1);
    wait_past(mac.pending_work().unwrap().notice_shown_at.unwrap(), Duration::from_secs(1));
    let last = mac.check_in(keys.clone(), "1s");
    assert!(message(&last).starts_with(&format!("deferred by {user} (2 of 2)")), "{last:#}");
    assert_eq!(mac.os.install_args(), None);

    let quiet = mac.check_in(keys.clone(), "1h");
    assert!(message(&quiet).contains("every deferral is used, so the restart countdown starts after"), "{quiet:#}");
    assert_eq!(mac.person.dialogs().len(), 3);

    wait_past(mac.pending_work().unwrap().notice_shown_at.unwrap(), Duration::from_secs(1));
    let started = Instant::now();
    let status = mac.check_in(keys, "1s");
    let dialogs = mac.person.dialogs();
    assert_eq!(dialogs.len(), 4, "{dialogs:?}");
    assert_eq!(
        dialogs[3][1..],
        [
            "macOS update",
            "macOS Sonoma 14.7.1 is being installed. Your Mac will restart in 1 minute. Save your work now.",
            "Restart Now",
            "Restart Now"
        ]
    );
    assert!(started.elapsed() >= Duration::from_millis(1500), "the install waited for the countdown's end");
    assert_eq!(status_of(&status), "succeeded", "{status:#}");
    assert_eq!(
        message(&status),
        "update started: macOS Sonoma 14.7.1; all 2 deferrals are used and macOS 14.6.1 is below the minimum 14.7"
    );
    assert_eq!(mac.os.install_args().unwrap(), ["--install", SONOMA_LABEL, "--agree-to-license", "--restart"]);
    assert_eq!(mac.pending_work(), None, "nothing pending once installed");
    mac.assert_all_ran_as_the_person();
}

#[test]
fn past_the_deadline_the_countdown_runs_out_then_the_update_installs() {
    let mac = Mac::new(Some(65534), "intel");
    mac.person.answer(&[""]);
    let started = Instant::now();
    let status = mac.check_in(json!({ "deadline": "2000-01-01", "restart_countdown": "2s" }), "1d");
    assert!(started.elapsed() >= Duration::from_millis(1500), "the install waited for the countdown's end");
    let dialogs = mac.person.dialogs();
    assert_eq!(dialogs.len(), 1, "{dialogs:?}");
    let timeout: u64 = dialogs[0][0].parse().unwrap();
    assert!((1..=2).contains(&timeout), "the notice gives up when the countdown ends: {timeout}");
    assert_eq!(dialogs[0][4..], ["Restart Now"], "one button");
    assert_eq!(status_of(&status), "succeeded", "{status:#}");
    assert!(
        message(&status)
            .starts_with("update started: macOS Sonoma 14.7.1; the deadline 2000-01-02T00:00:00Z has passed")
    );
    assert_eq!(mac.os.install_args().unwrap(), ["--install", SONOMA_LABEL, "--agree-to-license", "--restart"]);
    assert_eq!(mac.pending_work(), None);
    mac.assert_all_ran_as_the_person();
}

#[test]
fn restart_now_installs_at_once() {
    let mac = Mac::new(Some(65534), "intel");
    mac.person.answer(&["Restart Now"]);
    let status = mac.check_in(json!({ "deadline": "2000-01-01", "restart_countdown": "24h" }), "1d");
    let dialogs = mac.person.dialogs();
    assert_eq!(
        dialogs[0][1..3],
        [
            "macOS update",
            "macOS Sonoma 14.7.1 is being installed. Your Mac will restart in 1440 minutes. Save your work now."
        ]
    );
    assert_eq!(status_of(&status), "succeeded", "{status:#}");
    assert_eq!(mac.os.install_args().unwrap(), ["--install", SONOMA_LABEL, "--agree-to-license", "--restart"]);
}

#[test]
fn a_countdown_an_earlier_agent_started_resumes_or_installs_once_over() {
    let mac = Mac::new(Some(65534), "intel");
    let saved = |ends_at: DateTime<Utc>| PendingWork {
        item_id: ITEM_ID.into(),
        item_name: ITEM_NAME.into(),
        action: "install macOS Sonoma 14.7.1 and restart".into(),
        subject: SONOMA_LABEL.into(),
        deadline: None,
        state: "restart at …".into(),
        notice_shown_at: Some(Utc::now()),
        deferrals_used: 0,
        countdown_ends_at: Some(ends_at),
        updated_at: Utc::now(),
    };
    let keys = json!({ "deadline": "2000-01-01", "restart_countdown": "24h" });
    mac.check_in(json!({ "deadline": "2999-01-01" }), "1d");
    let started = Instant::now();
    store(&mac.device).save_pending_work(&saved(Utc::now() + chrono::Duration::seconds(3))).unwrap();
    mac.person.answer(&[""]);
    let status = mac.check_in(keys.clone(), "1d");
    assert!(started.elapsed() >= Duration::from_millis(2500), "the install waited for the saved end");
    let dialogs = mac.person.dialogs();
    let timeout: u64 = dialogs[0][0].parse().unwrap();
    assert!(timeout <= 3, "the countdown goes on with the time left, not 24h over: {dialogs:?}");
    assert!(dialogs[0][2].contains("Your Mac will restart in 1 minute."), "{dialogs:?}");
    assert_eq!(status_of(&status), "succeeded", "{status:#}");

    std::fs::remove_file(mac.device.root().join("records/install-args")).unwrap();
    store(&mac.device).save_pending_work(&saved(Utc::now() - chrono::Duration::seconds(1))).unwrap();
    let status = mac.check_in(keys, "1d");
    assert_eq!(mac.person.dialogs().len(), 1, "a countdown already over shows nothing more");
    assert_eq!(status_of(&status), "succeeded", "{status:#}");
    assert!(mac.os.install_args().is_some(), "installed at once");
}

#[test]
fn update_now_on_the_reminder_installs_at_once() {
    let mac = Mac::new(Some(65534), "intel");
    mac.person.answer(&["Update Now"]);
    let status = mac.check_in(json!({ "deadline": in_days(2) }), "1d");
    let (_, user) = mac.console_user();
    assert_eq!(
        message(&status),
        format!("update started: macOS Sonoma 14.7.1; {user} chose Update Now; macOS 14.6.1 is below the minimum 14.7")
    );
    assert_eq!(mac.os.install_args().unwrap(), ["--install", SONOMA_LABEL, "--agree-to-license", "--restart"]);
    assert!(mac.deferrals(&status).is_empty());
    assert_eq!(mac.pending_work(), None);
}

#[test]
fn update_now_in_self_service_installs_at_once_without_a_notice() {
    let mac = Mac::new(Some(65534), "intel");
    mac.person.answer(&["Later"]);
    let before = mac.check_in(json!({ "deadline": in_days(2) }), "1d");
    assert_eq!(status_of(&before), "deferred", "{before:#}");
    assert!(mac.pending_work().is_some());

    let blueprint_file = format!("blueprint_file={}", mac.device.root().join("blueprint.json").display());
    let mut arguments = vec!["--set".to_string(), blueprint_file];
    arguments.extend(mac.os.flags());
    arguments.extend(mac.person.flags());
    arguments.extend(["self-service", "update", ITEM_ID].map(String::from));
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let output = mac.device.run(&arguments);
    assert_eq!(crate::support::code(&output), 0, "{}", crate::support::text(&output.stderr));

    let status = mac.device.status();
    assert_eq!(status["last_run"]["kind"], "self_service", "{status:#}");
    assert_eq!(
        message(&status),
        "update started: macOS Sonoma 14.7.1; root chose Update Now; macOS 14.6.1 is below the minimum 14.7"
    );
    assert_eq!(mac.os.install_args().unwrap(), ["--install", SONOMA_LABEL, "--agree-to-license", "--restart"]);
    assert_eq!(mac.person.dialogs().len(), 1, "only the reminder before: the person asked, nothing more is shown");
    assert_eq!(mac.pending_work(), None);
}

#[test]
fn with_nobody_logged_in_the_update_installs_at_once_past_the_deadline() {
    let mac = Mac::new(None, "intel");
    let before = mac.check_in(json!({ "deadline": in_days(2) }), "1d");
    assert_eq!(status_of(&before), "succeeded", "nobody to remind: pending as before");
    let work = mac.pending_work().expect("pending work for status");
    assert_eq!(work.state, "to be reminded when someone is logged in");
    assert_eq!(mac.os.install_args(), None);

    let status = mac.check_in(json!({ "deadline": "2000-01-01" }), "1d");
    assert_eq!(status_of(&status), "succeeded", "{status:#}");
    assert_eq!(mac.os.install_args().unwrap(), ["--install", SONOMA_LABEL, "--agree-to-license", "--restart"]);
    assert!(mac.person.dialogs().is_empty() && mac.person.launchctl_calls().is_empty(), "nobody was shown anything");
    assert_eq!(mac.pending_work(), None);
}

#[test]
fn apple_silicon_never_installs_and_waits_for_the_person() {
    let mac = Mac::new(Some(65534), "apple_silicon");
    mac.person.answer(&["Open Software Update"]);
    let keys = json!({ "deadline": "2000-01-01" });
    let status = mac.check_in(keys.clone(), "1d");
    assert_eq!(status_of(&status), "waiting_for_user", "{status:#}");
    let (_, user) = mac.console_user();
    assert!(message(&status).starts_with("waiting for the person: macOS Sonoma 14.7.1 can only be installed on this Apple silicon Mac by the person at it (in Software Update) or by the MDM's declarative software update"));
    assert!(message(&status).ends_with(&format!("; {user} chose Open Software Update, and it was opened for them")));
    let deadline = DateTime::parse_from_rfc3339("2000-01-02T00:00:00Z").unwrap().with_timezone(&chrono::Local);
    let due = deadline.format("%A, %-d %B %Y at %H:%M").to_string();
    let dialogs = mac.person.dialogs();
    assert_eq!(
        dialogs[0][1..],
        [
            "macOS update required",
            &format!(
                "macOS Sonoma 14.7.1 was due by {due}. Only you can install it on this Mac: choose Open Software Update, then Update Now."
            ),
            "Later",
            "Open Software Update",
            "Later"
        ]
    );
    assert_eq!(mac.person.opened(), [[SOFTWARE_UPDATE_URL]]);
    mac.assert_all_ran_as_the_person();
    assert_eq!(mac.os.calls(), ["--list"], "never softwareupdate --install");
    assert_eq!(mac.pending_work().unwrap().state, "waiting for the person to install it");

    let again = mac.check_in(keys.clone(), "1d");
    assert_eq!(status_of(&again), "waiting_for_user");
    assert_eq!(mac.person.dialogs().len(), 1, "once per interval");
    assert!(message(&again).contains(&format!("; {user} was last asked at ")), "{again:#}");

    std::fs::remove_file(mac.device.root().join("dev/console")).unwrap();
    let nobody = mac.check_in(keys, "1s");
    assert_eq!(status_of(&nobody), "waiting_for_user");
    assert!(message(&nobody).ends_with("; nobody is logged in"), "{nobody:#}");
    assert_eq!(mac.os.calls(), ["--list", "--list", "--list"], "never softwareupdate --install");
}
