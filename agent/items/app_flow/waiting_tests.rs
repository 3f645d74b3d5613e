//! What an app item does and says while a blocking application runs.

use chrono::TimeZone;

use super::*;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 31, hour, minute, 0).unwrap()
}

#[test]
fn the_install_waits_with_a_notice_once_per_interval_until_force_install_after() {
    let day = Duration::from_secs(86_400);
    let cases = [
        (None, at(12, 0), None, Step::Wait { notice_due: true }),
        (None, at(12, 0), Some(at(11, 0)), Step::Wait { notice_due: false }),
        (Some(at(17, 0)), at(12, 0), Some(at(11, 0)), Step::Wait { notice_due: false }),
        (Some(at(17, 0)), at(16, 59), None, Step::Wait { notice_due: true }),
        (Some(at(17, 0)), at(17, 0), Some(at(16, 59)), Step::Force),
        (Some(at(9, 0)), at(17, 0), None, Step::Force),
    ];
    for (deadline, now, shown, expected) in cases {
        assert_eq!(step(deadline, now, shown, day), expected, "{deadline:?} {now} {shown:?}");
    }
    let hour = Duration::from_secs(3600);
    assert_eq!(step(None, at(12, 0), Some(at(11, 0)), hour), Step::Wait { notice_due: true }, "a whole interval");
    assert_eq!(step(None, at(12, 0), Some(at(11, 1)), hour), Step::Wait { notice_due: false });
    assert_eq!(step(None, at(12, 0), Some(at(12, 0)), Duration::ZERO), Step::Wait { notice_due: true });
}

#[test]
fn applications_are_named_by_their_outermost_bundle_else_their_process_name() {
    let cases = [
        (RunningApplication::example(1, "Foo", Some("/Applications/Foo.app/Contents/MacOS/Foo")), "Foo"),
        (
            RunningApplication::example(
                2,
                "Helper",
                Some("/Applications/Foo.app/Contents/Frameworks/Helper.app/Contents/MacOS/Helper"),
            ),
            "Foo",
        ),
        (RunningApplication::example(3, "foo-daemon", Some("/usr/local/bin/foo-daemon")), "foo-daemon"),
        (RunningApplication::example(4, "Bar", None), "Bar"),
        (RunningApplication::example(5, "odd", Some("/opt/.app/odd")), "odd"),
    ];
    for (application, expected) in &cases {
        assert_eq!(display_name(application), *expected, "{application:?}");
    }
    let all: Vec<RunningApplication> = cases.into_iter().map(|(application, _)| application).collect();
    assert_eq!(names(&all), ["Foo", "foo-daemon", "Bar", "odd"]);
}

#[test]
fn the_notices_name_the_app_and_what_runs() {
    let foo = ["Foo".to_string()];
    let itself = Texts { app: "Foo", version: Some("2.1"), running: &foo };
    assert_eq!(itself.wait_title(), "Quit Foo to update it");
    assert_eq!(
        itself.wait_message(),
        "Foo needs to quit so it can be updated to 2.1. Quit it when you are ready: the update is installed at the next check-in after it quits."
    );
    assert_eq!(itself.forced_title(), "Updating Foo");
    assert_eq!(itself.forced_message(), "Foo is quitting now to be updated to 2.1.");
    assert_eq!(itself.action("Foo.app"), "replace Foo.app (Foo 2.1)");
    assert_eq!(itself.subject(), "Foo 2.1");
    assert_eq!(itself.state(), "waiting for Foo to quit");

    let others = ["Word".to_string(), "Excel".to_string(), "Teams".to_string()];
    let office = Texts { app: "Office", version: None, running: &others };
    assert_eq!(office.wait_title(), "Quit Word, Excel and Teams to update Office");
    assert_eq!(
        office.wait_message(),
        "Word, Excel and Teams need to quit so Office can be updated. Quit them when you are ready: the update is installed at the next check-in after they quit."
    );
    assert_eq!(office.forced_message(), "Word, Excel and Teams are quitting now so Office can be updated.");
    assert_eq!(office.action("Office.app"), "replace Office.app (Office)");
    assert_eq!(office.state(), "waiting for Word, Excel and Teams to quit");
    let helper = ["Foo Helper".to_string()];
    let one_other = Texts { app: "Foo", version: Some("3"), running: &helper };
    assert_eq!(one_other.forced_message(), "Foo Helper is quitting now so Foo can be updated to 3.");
    assert_eq!(
        one_other.wait_message(),
        "Foo Helper needs to quit so Foo can be updated to 3. Quit it when you are ready: the update is installed at the next check-in after it quits."
    );
}

#[test]
fn the_item_says_what_runs_with_its_pids_and_until_when_it_waits() {
    let foo = RunningApplication::example(123, "Foo", Some("/Applications/Foo.app/Contents/MacOS/Foo"));
    assert_eq!(
        deferred_message(std::slice::from_ref(&foo), Some(at(17, 0))),
        "deferred: Foo is running (pid 123); it is installed once Foo quits, or after 2026-12-31T17:00:00Z"
    );
    assert_eq!(
        deferred_message(std::slice::from_ref(&foo), None),
        "deferred: Foo is running (pid 123); it is installed once Foo quits"
    );
    let second = RunningApplication { pid: 124, ..foo.clone() };
    let daemon = RunningApplication::example(7, "foo-daemon", None);
    let all = [foo.clone(), daemon, second];
    assert_eq!(
        deferred_message(&all, None),
        "deferred: Foo (pids 123, 124) and foo-daemon (pid 7) are running; it is installed once they quit"
    );
    assert_eq!(deferral_reason(&all), "Foo (pids 123, 124) and foo-daemon (pid 7) are running");
    assert_eq!(still_running_with_pids(std::slice::from_ref(&foo)), "Foo is still running (pid 123)");
    assert_eq!(
        forced_note(std::slice::from_ref(&foo), at(17, 0), Quitting::Stopped),
        "Foo was running after force_install_after 2026-12-31T17:00:00Z: asked to quit, then stopped"
    );
    assert_eq!(
        forced_note(&all, at(17, 0), Quitting::Quit),
        "Foo and foo-daemon were running after force_install_after 2026-12-31T17:00:00Z: asked to quit, and quit"
    );
    assert_eq!(quit_on_request_note(&["Foo".to_string()], "ada"), "Foo quit when ada chose \"Quit and Update\"");
}
