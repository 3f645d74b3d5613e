//! What a browser cannot do with the page: another web page cannot make it run
//! anything; and what the page says when its cookie is gone or the daemon is not
//! running. (The server's own refusals, request by request, are tested over
//! plain HTTP in `daemon::self_service_page`.)

use std::time::Duration;

use serde_json::json;

use super::{card, open_page, start_daemon};
use crate::daemon::harness::runs;
use crate::http_server::FileServer;
use crate::support::{PATIENCE, poll};

#[test]
fn a_page_on_another_origin_cannot_make_the_agent_run_anything() {
    let page = open_page();
    let browser = &page.browser;
    assert!(!browser.cookies().is_empty(), "signed in to the Self Service page");
    let ran_before = runs(&page.device).len();
    // Another local web page (another port of 127.0.0.1: the same site, so the
    // browser sends the page's cookie along) posting to the page's server.
    let elsewhere = FileServer::start();
    elsewhere.serve("/lure.html", b"<!doctype html><title>Lure</title><p>Nothing to see.</p>".to_vec());
    browser.open(&elsewhere.url("/lure.html"));
    let server = page.server.origin();
    let attempts = browser.evaluate(&format!(
        r#"Promise.all([
            fetch("{server}/api/sync", {{ method: "POST", mode: "no-cors", credentials: "include" }})
                .then(() => "sent", () => "not sent"),
            fetch("{server}/api/install", {{ method: "POST", mode: "no-cors", credentials: "include",
                                             body: JSON.stringify({{ item: "handbook" }}) }})
                .then(() => "sent", () => "not sent"),
            fetch("{server}/api/catalog", {{ credentials: "include" }}).then(r => r.text(), () => "unreadable"),
        ])"#
    ));
    assert_eq!(
        attempts,
        json!(["sent", "sent", "unreadable"]),
        "the posts reached the server, the catalog stayed private"
    );
    let refused = poll(
        "the page server's refusals",
        PATIENCE,
        Duration::from_millis(50),
        || page.server.log(),
        |log| log.matches("request refused").count() >= 2,
    );
    for path in ["/api/sync", "/api/install"] {
        let line = refused.lines().find(|line| line.contains(&format!("path=\"{path}\""))).unwrap_or_default();
        assert!(line.contains("Origin"), "{path} refused for its Origin: {refused}");
    }
    assert_eq!(runs(&page.device).len(), ran_before, "nothing ran");
    assert!(!page.device.root().join("handbook").exists());
}

#[test]
fn the_page_says_when_it_has_expired_or_the_daemon_is_not_running() {
    let mut page = open_page();
    let browser = &page.browser;
    browser.wait_for_text("#device-facts dd[data-fact=blueprint_name]", |name| name == "Test");

    page.daemon.stop();
    browser.click(&format!("{} .install", card("handbook")));
    let shown = browser.wait_for_text("#alert", |text| !text.is_empty());
    assert!(shown.contains("not running"), "{shown}");
    let role = browser.evaluate("document.getElementById('alert').getAttribute('role')");
    assert_eq!(role, "alert");

    // The service back: the same page works again, and the banner goes.
    page.daemon = start_daemon(&page.device);
    browser.click(&format!("{} .install", card("handbook")));
    browser.wait_for_text(&format!("{} .progress", card("handbook")), |text| text == "Installed");
    assert_eq!(browser.text("#alert"), "", "the banner is gone once a request succeeds");

    browser.clear_cookies();
    browser.click("#sync");
    let shown = browser.wait_for_text("#alert", |text| text.contains("expired"));
    assert_eq!(shown, "This page has expired. Open Self Service again.");
}
