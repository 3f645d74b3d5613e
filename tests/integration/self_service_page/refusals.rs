//! What the page's server refuses: a request without the page's cookie, a
//! state-changing request from another origin, the one-time secret used twice;
//! and what the page says when its cookie is gone or the daemon is not running.

use super::open_page;
use crate::daemon::harness::runs;

#[test]
fn requests_without_the_cookie_or_from_another_origin_are_refused() {
    let page = open_page();
    let server = &page.server;
    let cookie = format!("Cookie: {}", page.browser.cookies().join("; "));
    let own_origin = format!("Origin: {}", server.origin());
    let foreign = "Origin: http://evil.example".to_string();
    let ran_before = runs(&page.device).len();

    let (status, answer) = server.request("GET /api/catalog", std::slice::from_ref(&cookie));
    assert_eq!(status, 200, "with the page's cookie: {answer}");
    for (line, headers) in [
        ("GET /", vec![]),
        ("GET /api/catalog", vec![]),
        ("GET /api/device", vec![]),
        ("POST /api/sync", vec![own_origin.clone()]),
        ("POST /api/install", vec![own_origin.clone()]),
        ("GET /api/catalog", vec!["Cookie: self_service=forged".to_string()]),
    ] {
        let (status, answer) = server.request(line, &headers);
        assert_eq!(status, 401, "{line} {headers:?}: {answer}");
    }
    for (line, headers) in [
        ("POST /api/sync", vec![cookie.clone(), foreign.clone()]),
        ("POST /api/install", vec![cookie.clone(), foreign.clone()]),
        ("POST /api/sync", vec![cookie.clone(), "Origin: null".to_string()]),
    ] {
        let (status, answer) = server.request(line, &headers);
        assert_eq!(status, 403, "{line} {headers:?}: {answer}");
    }
    let secret_url = server.url.trim_start_matches(&server.origin()).to_string();
    let (status, answer) = server.request(&format!("GET {secret_url}"), &[]);
    assert!((400..500).contains(&status), "the secret opens the page once: {answer}");
    assert_eq!(runs(&page.device).len(), ran_before, "nothing ran");
}

#[test]
fn the_page_says_when_it_has_expired_or_the_daemon_is_not_running() {
    let mut page = open_page();
    let browser = &page.browser;
    browser.wait_for_text("#device-facts dd[data-fact=blueprint_name]", |name| name == "Test");

    page.daemon.stop();
    browser.click(&format!("{} .install", super::card("handbook")));
    let shown = browser.wait_for_text("#alert", |text| !text.is_empty());
    assert!(shown.contains("not running"), "{shown}");
    let role = browser.evaluate("document.getElementById('alert').getAttribute('role')");
    assert_eq!(role, "alert");

    browser.clear_cookies();
    browser.click("#sync");
    let shown = browser.wait_for_text("#alert", |text| text.contains("expired"));
    assert_eq!(shown, "This page has expired. Open Self Service again.");
}
