//! Commands an admin queues through the devices API: `dailycheckin` makes the
//! device's next check-in the daily one.

use serde_json::{Value, json};

use super::harness::{TOKEN, Tenant, enroll};
use crate::support::{Device, blueprint, check_in, script};

#[test]
fn a_queued_dailycheckin_action_makes_the_next_check_in_daily() {
    let device = Device::new();
    let tenant = Tenant::start(blueprint(vec![script("li-ok", "Succeed", "#!/bin/sh\nexit 0\n")]));
    enroll(&device, &tenant.url(), TOKEN);
    assert_eq!(check_in(&device, &[])["kind"], "daily", "a device that never completed a daily check-in");
    assert_eq!(check_in(&device, &[])["kind"], "recurring");

    let queued = tenant.queue_action(&tenant.device_id(), "dailycheckin");
    assert_eq!(tenant.commands()[0]["delivered_at"], Value::Null, "waiting for the next check-in");
    assert_eq!(check_in(&device, &[])["kind"], "recurring", "the command arrives during this check-in");
    let command = &tenant.commands()[0];
    assert_eq!(command["id"], queued["id"]);
    let checkins = tenant.checkins();
    assert_eq!(command["delivered_at"], checkins[2]["received_at"], "handed over at the third check-in");

    assert_eq!(check_in(&device, &[])["kind"], "daily");
    assert_eq!(check_in(&device, &[])["kind"], "recurring", "one daily check-in per command");
    let kinds: Vec<Value> = tenant.checkins().iter().map(|checkin| checkin["kind"].clone()).collect();
    assert_eq!(kinds, [json!("daily"), json!("recurring"), json!("recurring"), json!("daily"), json!("recurring")]);
    let reported: Vec<Value> =
        tenant.reports("results").iter().map(|report| report["body"]["run"]["kind"].clone()).collect();
    assert_eq!(reported, kinds, "the results say the same");
}
