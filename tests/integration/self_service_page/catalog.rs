//! What a person sees: the catalog by category with Recommended first, Device
//! Info, the search box, the keyboard path through the page, light and dark mode,
//! and nothing loaded from anywhere but the page's own server.

use serde_json::Value;

use super::{card, open_page};

#[test]
fn the_page_opens_from_the_printed_url_with_the_catalog_by_category_recommended_first() {
    let page = open_page();
    let browser = &page.browser;
    assert_eq!(browser.evaluate("document.title"), "Self Service");
    assert!(browser.cookies().iter().any(|cookie| !cookie.is_empty()), "the secret was exchanged for a cookie");
    assert!(!browser.evaluate("location.search").as_str().unwrap().contains("secret"), "the secret left the address");

    assert_eq!(browser.texts("#catalog h3"), ["Utilities", "Design"], "categories, Recommended first");
    assert_eq!(browser.texts("#catalog .card-name"), ["Company handbook", "Broken helper", "Brand fonts"]);
    assert_eq!(browser.texts(&format!("{} .badge", card("handbook"))), ["Recommended"]);
    assert_eq!(browser.texts("#catalog .badge").len(), 1, "only the recommended item has the badge");
    assert_eq!(browser.text(&format!("{} .description", card("handbook"))), "The staff handbook, on the Desktop.");
    assert_eq!(browser.texts("#catalog .card-facts dd:first-of-type"), ["Script", "Script", "Script"]);
    assert_eq!(browser.texts("#catalog .state"), ["Not installed", "Not installed", "Installed"]);
    assert_eq!(browser.texts("#catalog .install"), ["Install", "Install", "Reinstall"]);
    let labels = browser.evaluate("[...document.querySelectorAll('#catalog .install')].map(b => b.ariaLabel)");
    assert_eq!(
        labels,
        serde_json::json!(["Install Company handbook", "Install Broken helper", "Reinstall Brand fonts"])
    );
    assert_eq!(browser.text("#search-count"), "3 items offered.");

    let fact = |key: &str| browser.text(&format!("#device-facts dd[data-fact={key}]"));
    browser.wait_for_text("#device-facts dd[data-fact=blueprint_name]", |name| name == "Test");
    assert_eq!(fact("last_outcome"), "Succeeded");
    assert!(super::time_of(browser, "#device-facts dd[data-fact=last_checkin]").is_string());
    for key in ["computer_name", "serial_number", "model", "os_version"] {
        assert!(!fact(key).is_empty() && fact(key) != "…", "{key}: {:?}", fact(key));
    }
    assert_eq!(browser.text("#alert"), "", "no error shown");
}

#[test]
fn typing_in_the_search_box_filters_the_catalog_and_says_how_many_match() {
    let page = open_page();
    let browser = &page.browser;
    let shown = || browser.texts("#catalog .card:not([hidden]) .card-name");
    let headings = || browser.texts("#catalog .category:not([hidden]) h3");

    browser.type_into("#search", "font");
    browser.wait_for_text("#search-count", |count| count == "1 item matches your search.");
    assert_eq!((shown(), headings()), (vec!["Brand fonts".to_string()], vec!["Design".to_string()]));

    for _ in "font".chars() {
        browser.press("Backspace");
    }
    browser.type_into("#search", "UTILITIES");
    browser.wait_for_text("#search-count", |count| count == "2 items match your search.");
    assert_eq!(shown(), ["Company handbook", "Broken helper"], "a category matches its items");

    for _ in "UTILITIES".chars() {
        browser.press("Backspace");
    }
    browser.type_into("#search", "typefaces");
    browser.wait_for_text("#search-count", |count| count == "1 item matches your search.");
    assert_eq!(shown(), ["Brand fonts"], "the description matches");

    browser.type_into("#search", " nowhere");
    browser.wait_for_text("#search-count", |count| count == "No items match your search.");
    assert!(shown().is_empty() && headings().is_empty());
}

#[test]
fn the_keyboard_alone_reaches_every_control_in_order_and_installs() {
    let page = open_page();
    let browser = &page.browser;
    browser.wait_for_text("#device-facts dd[data-fact=blueprint_name]", |name| name == "Test");
    let focused = "document.activeElement.id || document.activeElement.ariaLabel || document.activeElement.tagName";
    let mut order = Vec::new();
    for _ in 0..5 {
        browser.press("Tab");
        order.push(browser.evaluate(focused));
    }
    assert_eq!(
        order,
        ["search", "Install Company handbook", "Install Broken helper", "Reinstall Brand fonts", "sync"],
        "header, search, catalog, Device Info"
    );
    let ring = browser.evaluate("getComputedStyle(document.activeElement).outlineStyle");
    assert_eq!(ring, "solid", "the focused control shows a focus ring");

    browser.evaluate("document.getElementById('search').focus()");
    browser.press("Tab");
    assert_eq!(browser.evaluate(focused), "Install Company handbook");
    browser.press("Enter");
    browser.wait_for_text(&format!("{} .progress", card("handbook")), |text| text == "Installed");
    assert!(page.device.root().join("handbook").exists(), "the item ran");
}

#[test]
fn light_and_dark_screenshots_of_the_catalog_and_device_info_are_kept() {
    let page = open_page();
    let browser = &page.browser;
    browser.wait_for_text("#device-facts dd[data-fact=blueprint_name]", |name| name == "Test");
    let background = || browser.evaluate("getComputedStyle(document.body).backgroundColor");

    browser.prefer_dark(false);
    let light = background();
    let mut saved =
        vec![browser.screenshot("#catalog-panel", "catalog"), browser.screenshot("#device-panel", "device-info")];
    browser.prefer_dark(true);
    let dark = background();
    assert_ne!(light, dark, "the page follows the dark colour scheme");
    assert_eq!(dark, "rgb(28, 28, 30)");
    saved.push(browser.screenshot("#catalog-panel", "catalog-dark"));
    saved.push(browser.screenshot("#device-panel", "device-info-dark"));
    for path in saved {
        let png = std::fs::read(&path).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 1000, "{}", path.display());
    }
}

#[test]
fn the_page_loads_nothing_from_anywhere_but_its_own_server_on_127_0_0_1() {
    // Loaded, searched and used to install: every request went to the page's own
    // server, and its Content-Security-Policy blocked nothing.
    let page = open_page();
    let browser = &page.browser;
    browser.wait_for_text("#device-facts dd[data-fact=blueprint_name]", |name| name == "Test");
    browser.type_into("#search", "hand");
    browser.click(&format!("{} .install", card("handbook")));
    browser.wait_for_text(&format!("{} .progress", card("handbook")), |text| text == "Installed");

    let own = format!("{}/", page.server.origin());
    let requests = browser.requests();
    assert!(requests.iter().any(|url| url.ends_with("/assets/page.js")), "{requests:?}");
    assert!(requests.iter().any(|url| url.ends_with("/assets/page.css")), "{requests:?}");
    let elsewhere: Vec<&String> =
        requests.iter().filter(|url| !url.starts_with(&own) && !url.starts_with("data:")).collect();
    assert!(elsewhere.is_empty(), "requests beyond the page's server: {elsewhere:?}");

    assert_eq!(browser.policy_violations(), Vec::<String>::new(), "the page keeps to its own policy");
    let fonts = browser.evaluate("[...document.fonts].length");
    assert_eq!(fonts, Value::from(0), "no web fonts: the system font stack");
}

#[test]
fn a_screen_reader_finds_landmarks_headings_and_a_name_for_every_control() {
    let page = open_page();
    let browser = &page.browser;
    browser.wait_for_text("#device-facts dd[data-fact=blueprint_name]", |name| name == "Test");
    // What is hidden (the Updates section while nothing waits) is left out, as a screen reader leaves it.
    let kinds = ["header", "main", "aside", "section", "h1", "h2", "h3", "h4", "button", "input", "[role]"];
    let shown = kinds.map(|kind| format!("{kind}:not([hidden], [hidden] *)")).join(", ");
    let tree = browser.accessible(&shown);
    let named = |roles: &[&str]| -> Vec<(String, String)> {
        tree.iter().filter(|(role, _)| roles.contains(&role.as_str())).cloned().collect()
    };
    let pairs = |expected: &[(&str, &str)]| -> Vec<(String, String)> {
        expected.iter().map(|(role, name)| (role.to_string(), name.to_string())).collect()
    };

    let landmarks = [
        ("banner", ""),
        ("main", "Catalog"),
        ("region", "Utilities"),
        ("region", "Design"),
        ("complementary", "Device Info"),
    ];
    assert_eq!(named(&["banner", "main", "region", "complementary"]), pairs(&landmarks));
    let headings: Vec<String> = named(&["heading"]).into_iter().map(|(_, name)| name).collect();
    let outline = ["Self Service", "Catalog", "Utilities", "Company handbook", "Broken helper", "Design"];
    assert_eq!(headings, [&outline[..], &["Brand fonts", "Device Info"]].concat());
    let controls = [
        ("searchbox", "Search the catalog"),
        ("button", "Install Company handbook"),
        ("button", "Install Broken helper"),
        ("button", "Reinstall Brand fonts"),
        ("button", "Sync"),
    ];
    assert_eq!(named(&["searchbox", "button"]), pairs(&controls), "every control named, in focus order");
    let live = named(&["status", "alert"]).into_iter().map(|(role, _)| role).collect::<Vec<_>>();
    assert_eq!(
        live,
        ["alert", "status", "status", "status", "status", "status"],
        "the banner, the count, 3 cards, Sync"
    );
}
