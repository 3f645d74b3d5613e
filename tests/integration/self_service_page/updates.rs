//! The Updates section: with work pending in the store it shows above the
//! catalog, a card per item (what will happen, the deadline in the person's own
//! time, where it stands) whose Update Now button, pressed from the keyboard,
//! runs the item through the daemon and shows the outcome; with nothing pending
//! it stays hidden until a sync finds some.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{Page, PageServer, open_page, person, start_daemon, time_of};
use crate::browser::Browser;
use crate::daemon::harness::{finished, runs, wait_for_runs};
use crate::support::pending_work::{in_three_days, pending_os_update, save_pending_work};
use crate::support::{Device, PATIENCE, blueprint, last_items, script};

/// The card of item `id` in the Updates section, for a selector.
fn update_card(id: &str) -> String {
    format!("#updates .card[data-item-id=\"{id}\"]")
}

/// A page whose blueprint holds an offered script and `os` (offered nowhere, run
/// by no check-in; it writes `$AGENT_ROOT/updated`), with `os`'s update pending.
fn page_with_a_pending_update(deadline: DateTime<Utc>) -> Page {
    let device = Device::new();
    let mut os = script("os", "macOS Sequoia", "#!/bin/sh\nsleep 0.3\ntouch \"$AGENT_ROOT/updated\"\n");
    os["frequency"] = json!("no_enforcement");
    let mut fonts = script("fonts", "Brand fonts", "#!/bin/sh\nexit 0\n");
    fonts["self_service"] = json!({ "category": "Design", "description": "The typefaces of the brand." });
    device.write_blueprint(&blueprint(vec![os, fonts]));
    let daemon = start_daemon(&device);
    wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    save_pending_work(&device, &pending_os_update("os", "macOS Sequoia", Some(deadline)));
    let server = PageServer::start(&device);
    let browser = Browser::start();
    browser.open(&server.url);
    browser.wait_for(&update_card("os"));
    Page { browser, server, daemon, device }
}

fn header(run: &Value) -> (&str, &str, &str) {
    (run["kind"].as_str().unwrap(), run["trigger"].as_str().unwrap(), run["requested_by"].as_str().unwrap_or("-"))
}

#[test]
fn the_updates_section_shows_the_pending_item_and_update_now_runs_it() {
    let deadline = in_three_days();
    let page = page_with_a_pending_update(deadline);
    let browser = &page.browser;
    let os = update_card("os");
    assert_eq!(browser.evaluate("document.getElementById('updates-panel').hidden"), Value::Bool(false));
    let above =
        "document.getElementById('updates-panel').compareDocumentPosition(document.getElementById('catalog-panel'))";
    assert_eq!(browser.evaluate(&format!("({above}) & Node.DOCUMENT_POSITION_FOLLOWING")), json!(4), "above");
    assert_eq!(browser.accessible("#updates-title"), [("heading".to_string(), "Updates".to_string())]);
    assert_eq!(browser.text(&format!("{os} .card-name")), "macOS Sequoia");
    assert_eq!(browser.text(&format!("{os} .action")), "Install macOS Sequoia 15.2 and restart.");
    assert_eq!(browser.text(&format!("{os} .state")), "Deferred by ada (1 of 3)");
    let rfc3339 = deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(time_of(browser, &format!("{os} .deadline")), json!(rfc3339));
    let local = browser.evaluate(&format!("new Date('{rfc3339}').toLocaleString()"));
    assert_eq!(json!(browser.text(&format!("{os} .deadline"))), local, "in the person's own time");
    let button = format!("{os} .update-now");
    assert_eq!(browser.accessible(&button), [("button".to_string(), "Update Now: macOS Sequoia".to_string())]);
    assert_eq!(browser.accessible(&format!("{os} .progress")).first().map(|(role, _)| role.as_str()), Some("status"));
    assert!(!page.device.root().join("updated").exists(), "no check-in ran it by itself");

    browser.evaluate(&format!("document.querySelector('{button}').focus()"));
    browser.press("Enter");
    let outcome =
        browser.wait_for_text(&format!("{os} .progress"), |text| text == "Updated" || text.starts_with("Fail"));
    assert_eq!(outcome, "Updated");
    assert!(page.device.root().join("updated").exists(), "the item ran");
    let last = runs(&page.device).pop().unwrap();
    let user = person();
    assert_eq!(header(&last), ("self_service", "self_service", user.as_str()), "{last:#}");
    let items = last_items(&page.device.status());
    let ran: Vec<(&str, &str)> =
        items.iter().map(|item| (item["id"].as_str().unwrap(), item["status"].as_str().unwrap())).collect();
    assert_eq!(ran, [("os", "succeeded")], "the one item whose update waits");
    assert_eq!(browser.evaluate(&format!("document.querySelector('{button}').disabled")), Value::Bool(false));
    assert_eq!(browser.text("#alert"), "");
    browser.screenshot("#updates-panel", "updates-update-now");
    browser.prefer_dark(true);
    browser.screenshot("#updates-panel", "updates-update-now-dark");
}

#[test]
fn the_updates_section_is_hidden_when_nothing_is_pending_until_a_sync_finds_some() {
    let page = open_page();
    let browser = &page.browser;
    browser.wait_for("#updates[aria-busy=false]");
    assert_eq!(browser.evaluate("document.getElementById('updates-panel').hidden"), Value::Bool(true));
    assert_eq!(browser.texts("#updates .card"), Vec::<String>::new());
    assert!(browser.requests().iter().any(|url| url.ends_with("/api/updates")), "{:?}", browser.requests());

    save_pending_work(&page.device, &pending_os_update("fonts", "Brand fonts", Some(in_three_days())));
    browser.click("#sync");
    browser.wait_for(&update_card("fonts"));
    assert_eq!(browser.evaluate("document.getElementById('updates-panel').hidden"), Value::Bool(false));
    assert_eq!(browser.text(&format!("{} .card-name", update_card("fonts"))), "Brand fonts");
}
