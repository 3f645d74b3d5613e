//! The runs the page starts: Install streams its item's progress into the card
//! and ends in the outcome (Installed, or Failed with the reason), Sync runs the
//! daily check-in and refreshes Device Info and the catalog.

use serde_json::Value;

use super::{card, open_page, person, time_of};
use crate::daemon::harness::{runs, time};

fn header(run: &Value) -> (&str, &str, &str) {
    (run["kind"].as_str().unwrap(), run["trigger"].as_str().unwrap(), run["requested_by"].as_str().unwrap_or("-"))
}

#[test]
fn install_runs_the_item_and_shows_that_it_is_installed() {
    let page = open_page();
    let browser = &page.browser;
    let handbook = card("handbook");
    assert!(time_of(browser, &handbook).is_null(), "it never ran");

    browser.click(&format!("{handbook} .install"));
    let outcome = browser.wait_for_text(&format!("{handbook} .progress"), |text| text == "Installed");
    assert_eq!(outcome, "Installed");
    assert!(page.device.root().join("handbook").exists(), "the item ran");
    let history = runs(&page.device);
    let user = person();
    assert_eq!(header(history.last().unwrap()), ("self_service", "self_service", user.as_str()));

    browser.wait_for_text(&format!("{handbook} .install"), |label| label == "Reinstall");
    assert_eq!(browser.text(&format!("{handbook} .state")), "Installed");
    assert!(time_of(browser, &handbook).is_string(), "its last run is shown");
    let disabled = browser.evaluate(&format!("document.querySelector('{handbook} .install').disabled"));
    assert_eq!(disabled, Value::Bool(false), "the button is back once the run ended");
    assert_eq!(browser.text("#alert"), "");
    browser.screenshot(&handbook, "install-succeeded");
}

#[test]
fn a_failing_install_streams_its_phase_disables_its_button_and_says_why() {
    let page = open_page();
    let browser = &page.browser;
    let helper = card("helper");
    let button = format!("document.querySelector('{helper} .install').disabled");

    browser.click(&format!("{helper} .install"));
    // The item's audit takes a second: the page shows it running meanwhile.
    let progress = format!("{helper} .progress");
    let running = browser.wait_for_text(&progress, |text| text == "Checking…" || text.starts_with("Failed"));
    if running == "Checking…" {
        assert_eq!(browser.evaluate(&button), Value::Bool(true), "disabled while its run streams");
    }
    let outcome = browser.wait_for_text(&progress, |text| text.starts_with("Failed: "));
    assert!(outcome.len() > "Failed: ".len(), "{outcome}");
    assert_eq!(browser.evaluate(&button), Value::Bool(false));
    browser.wait_for_text(&format!("{helper} .install"), |label| label == "Retry");
    assert_eq!(browser.text(&format!("{helper} .state")), "Failed");
    let status = browser.evaluate(&format!("document.querySelector('{progress}').getAttribute('role')"));
    assert_eq!(status, "status", "the outcome is announced");
    browser.screenshot(&helper, "install-failed");
}

#[test]
fn sync_runs_the_daily_check_in_and_shows_its_outcome() {
    let page = open_page();
    let browser = &page.browser;
    let last_checkin = "#device-facts dd[data-fact=last_checkin]";
    browser.wait_for_text("#device-facts dd[data-fact=blueprint_name]", |name| name == "Test");
    let before = time_of(browser, last_checkin);
    assert!(before.is_string(), "{before}");

    browser.click("#sync");
    let outcome =
        browser.wait_for_text("#sync-status", |text| text.starts_with("Sync finished") || text.starts_with("Failed"));
    assert_eq!(outcome, "Sync finished: everything is in order.");
    let history = runs(&page.device);
    let user = person();
    let headers: Vec<_> = history.iter().map(header).collect();
    assert_eq!(headers, [("daily", "schedule", "-"), ("daily", "self_service", user.as_str())]);

    let refreshed = crate::support::poll(
        "Device Info's last check-in",
        crate::support::PATIENCE,
        std::time::Duration::from_millis(50),
        || time_of(browser, last_checkin),
        |after| after != &before,
    );
    assert_eq!(time(&refreshed), time(&history[1]["finished_at"]), "Device Info shows the sync's check-in");
    assert_eq!(browser.text("#device-facts dd[data-fact=last_outcome]"), "Succeeded");
    browser.screenshot("#device-panel", "device-info-after-sync");
}
