//! Recurring and daily check-ins, and the `once` and `no_enforcement` frequencies.

use serde_json::{Value, json};

use crate::support::{Device, blueprint, code, item, text};

fn counting(id: &str, frequency: &str) -> Value {
    json!({
        "id": id, "name": id, "type": "custom_script", "frequency": frequency,
        "audit": format!("#!/bin/sh\necho ran >> \"$AGENT_ROOT/{id}.count\"\n"),
    })
}

fn times_ran(device: &Device, id: &str) -> usize {
    std::fs::read_to_string(device.root().join(format!("{id}.count"))).map(|text| text.lines().count()).unwrap_or(0)
}

#[test]
fn the_first_check_in_is_daily_then_recurring_skips_daily_items_until_reset() {
    let device = Device::new();
    let items = vec![
        counting("every", "every_15_min"),
        counting("daily", "daily"),
        counting("once", "once"),
        counting("never", "no_enforcement"),
    ];
    let path = device.write_blueprint(&blueprint(items));

    let first = device.check_in(&path, &[]);
    assert_eq!(code(&first), 0, "{}", text(&first.stdout));
    let status = device.status();
    assert_eq!(status["last_run"]["kind"], "daily", "a device that never completed a daily gets one first");
    assert!(status["last_daily_at"].is_string());
    assert_eq!(item(&status, "never")["status"], "skipped");

    let second = device.check_in(&path, &[]);
    assert_eq!(code(&second), 0);
    let status = device.status();
    assert_eq!(status["last_run"]["kind"], "recurring");
    let daily = item(&status, "daily");
    assert_eq!(daily["status"], "skipped");
    assert!(daily["message"].as_str().unwrap().contains("daily check-in"), "{daily}");
    assert_eq!(item(&status, "once")["status"], "skipped");

    let reset = device.check_in(&path, &["--reset-daily"]);
    assert_eq!(code(&reset), 0);
    assert_eq!(device.status()["last_run"]["kind"], "daily");

    assert_eq!(times_ran(&device, "every"), 3);
    assert_eq!(times_ran(&device, "daily"), 2);
    assert_eq!(times_ran(&device, "once"), 1);
    assert_eq!(times_ran(&device, "never"), 0);
}

#[test]
fn a_daily_check_in_is_due_again_after_the_daily_interval() {
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(vec![counting("daily", "daily")]));
    let interval = ["--set", "schedule.daily_interval=1s"];
    assert_eq!(code(&device.check_in(&path, &interval)), 0);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(code(&device.check_in(&path, &interval)), 0);
    assert_eq!(device.status()["last_run"]["kind"], "daily");
    assert_eq!(times_ran(&device, "daily"), 2);
}

#[test]
fn a_once_item_that_fails_runs_again_until_it_succeeds() {
    let device = Device::new();
    let audit = "#!/bin/sh\necho try >> \"$AGENT_ROOT/tries\"\n[ $(wc -l < \"$AGENT_ROOT/tries\") -ge 2 ]\n";
    let once = json!({ "id": "once", "name": "once", "type": "custom_script", "frequency": "once", "audit": audit });
    let path = device.write_blueprint(&blueprint(vec![once]));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    assert_eq!(item(&device.status(), "once")["status"], "skipped");
    let tries = std::fs::read_to_string(device.root().join("tries")).unwrap();
    assert_eq!(tries.lines().count(), 2);
}

#[test]
fn items_offered_in_self_service_alone_are_skipped_by_schedule_and_an_offered_ordinary_item_runs() {
    use crate::app_fixtures::{app_zip, custom_app, installed_app, sha256};
    let device = Device::new();
    let zip = app_zip("2.1", 0);
    std::fs::create_dir_all(device.root().join("Users/Shared")).unwrap();
    std::fs::write(device.root().join("Users/Shared/Foo.zip"), &zip).unwrap();
    let offer = json!({ "category": "Tools", "description": "Asked for by people.", "recommended": true });
    let mut asked = counting("asked", "self_service");
    asked["self_service"] = offer.clone();
    let mut app = custom_app("zip", "file:///Users/Shared/Foo.zip", &sha256(&zip), "self_service", None);
    app["self_service"] = offer.clone();
    let mut offered = counting("offered", "every_15_min");
    offered["self_service"] = offer;
    let path = device.write_blueprint(&blueprint(vec![asked, app, offered]));

    for flags in [&[][..], &[][..], &["--reset-daily"][..]] {
        let output = device.check_in(&path, flags);
        assert_eq!(code(&output), 0, "{}", text(&output.stdout));
        let status = device.status();
        for name in ["asked", "Foo"] {
            let skipped = item(&status, name);
            assert_eq!(skipped["status"], "skipped", "{skipped}");
            assert!(skipped["message"].as_str().unwrap().contains("offered in Self Service"), "{skipped}");
        }
        assert_eq!(item(&status, "offered")["status"], "succeeded");
    }
    assert_eq!((times_ran(&device, "asked"), times_ran(&device, "offered")), (0, 3));
    assert!(!installed_app(&device).exists(), "an app offered alone is never installed by schedule");
}
