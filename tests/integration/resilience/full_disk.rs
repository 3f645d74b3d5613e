//! A full disk costs enforcement nothing it can avoid: when the state store cannot
//! be written, every item still runs, its result is kept in memory and written
//! once there is room, and a run whose record stayed incomplete ends `failed` and
//! says so; the next check-in after room returns runs and is recorded normally.
//!
//! The state folder is a small tmpfs that an early item fills. The scripts folder
//! inside it is a tmpfs of its own, so the items' scripts can still be written:
//! what is tested is the store, not where the scripts go.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::end_to_end::harness::{TOKEN, Tenant, enroll};
use crate::support::{Device, Tmpfs, blueprint, code, script, text};

/// How many items the blueprint holds.
const ITEMS: usize = 60;
/// The item that fills the state folder.
const FILLER: usize = 5;
/// The item that frees it again, in the variant where room returns.
const FREER: usize = 40;

/// A device whose state folder (and the scripts folder in it) are small tmpfs
/// mounts, unmounted when it is dropped; `None` (the test skipped) when not root.
struct SmallDisk {
    // Dropped in this order: the scripts mount, the state mount, the device.
    _scripts: Tmpfs,
    _state: Tmpfs,
    device: Device,
}

impl SmallDisk {
    fn new() -> Option<Self> {
        let device = Device::new();
        let state = Tmpfs::mount_with(device.state_dir(), "size=4m,mode=0700")?;
        let scripts = Tmpfs::mount_with(device.state_dir().join("scripts"), "size=4m,mode=0700")?;
        Some(SmallDisk { _scripts: scripts, _state: state, device })
    }

    fn filler(&self) -> PathBuf {
        self.device.state_dir().join("filler")
    }

    fn markers(&self) -> PathBuf {
        self.device.root().join("markers")
    }

    /// The blueprint: every item leaves a marker outside the state folder and
    /// prints 2 KB (kept with its result); item [`FILLER`] fills the state folder (once)
    /// when `fills` is set, and item [`FREER`] removes what filled it when `frees`
    /// is set too.
    fn blueprint(&self, fills: bool, frees: bool) -> PathBuf {
        self.device.write_blueprint(&self.blueprint_value(fills, frees))
    }

    /// The blueprint [`SmallDisk::blueprint`] writes.
    fn blueprint_value(&self, fills: bool, frees: bool) -> Value {
        std::fs::create_dir_all(self.markers()).unwrap();
        let items = (0..ITEMS)
            .map(|index| {
                let mut body = format!(
                    "#!/bin/sh\ntouch '{}/{index:02}'\nhead -c 2000 /dev/zero | tr '\\0' x\n",
                    self.markers().display()
                );
                if index == FILLER && fills {
                    // Once per device, so a tenant's blueprint can stay the same.
                    let once = self.device.root().join("filled");
                    body += &format!(
                        "[ -f '{once}' ] || {{ touch '{once}'; dd if=/dev/zero of='{}' bs=64k 2>/dev/null; }}\n",
                        self.filler().display(),
                        once = once.display()
                    );
                }
                if index == FREER && fills && frees {
                    body += &format!("rm -f '{}'\n", self.filler().display());
                }
                body += "exit 0\n";
                script(&format!("li-{index:02}"), &format!("{index:02} item"), &body)
            })
            .collect();
        blueprint(items)
    }

    fn markers_left(&self) -> usize {
        std::fs::read_dir(self.markers()).map_or(0, Iterator::count)
    }

    fn history(&self) -> Vec<Value> {
        let output = self.device.run(&["history", "--json"]);
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).unwrap().as_array().cloned().unwrap()
    }
}

fn said(output: &std::process::Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", text(&output.stdout), text(&output.stderr))
}

fn free(path: &Path) {
    std::fs::remove_file(path).unwrap();
}

#[test]
fn a_full_store_keeps_enforcing_and_says_the_record_is_incomplete() {
    let Some(disk) = SmallDisk::new() else { return };
    let output = disk.device.check_in(&disk.blueprint(true, false), &[]);
    let said = said(&output);
    assert_eq!(disk.markers_left(), ITEMS, "every item ran: {said}");
    assert_eq!(code(&output), 1, "a run whose record is incomplete failed: {said}");
    assert!(said.contains("the record of this run is incomplete"), "{said}");
    assert!(said.contains("could not record") && said.contains("results: "), "{said}");
    assert!(said.contains("could not record the end of this run"), "the disk is still full: {said}");

    // Room returns: the next check-in runs and is recorded; the run whose end
    // could not be written is closed as interrupted.
    free(&disk.filler());
    let next = disk.device.check_in(&disk.blueprint(false, false), &[]);
    assert_eq!(code(&next), 0, "{}", self::said(&next));
    let history = disk.history();
    assert_eq!(history.len(), 2, "{history:#?}");
    assert_eq!(history[0]["outcome"], "succeeded", "{history:#?}");
    assert_eq!(history[0]["counts"]["succeeded"], ITEMS, "{history:#?}");
    assert_eq!(history[1]["outcome"], "interrupted", "{history:#?}");
}

#[test]
fn a_check_in_that_starts_on_a_full_store_enforces_every_item() {
    let Some(disk) = SmallDisk::new() else { return };
    let first = disk.device.check_in(&disk.blueprint(true, false), &[]);
    assert_eq!(code(&first), 1, "{}", said(&first));
    std::fs::remove_dir_all(disk.markers()).unwrap();

    // Still full: neither the last run's close nor this run's start can be written.
    let output = disk.device.check_in(&disk.blueprint(false, false), &[]);
    let said = said(&output);
    assert_eq!(disk.markers_left(), ITEMS, "every item ran: {said}");
    assert_eq!(code(&output), 1, "{said}");
    assert!(said.contains("the record of this run is incomplete"), "{said}");

    free(&disk.filler());
    let next = disk.device.check_in(&disk.blueprint(false, false), &[]);
    assert_eq!(code(&next), 0, "{}", self::said(&next));
    let history = disk.history();
    assert_eq!(history[0]["outcome"], "succeeded", "{history:#?}");
    assert!(history[1..].iter().all(|run| run["outcome"] == "interrupted"), "{history:#?}");
}

#[test]
fn results_kept_while_the_store_is_full_are_written_once_room_returns() {
    let Some(disk) = SmallDisk::new() else { return };
    let output = disk.device.check_in(&disk.blueprint(true, true), &[]);
    let said = said(&output);
    assert_eq!(disk.markers_left(), ITEMS, "every item ran: {said}");
    assert_eq!(code(&output), 0, "every result reached the store in the end: {said}");
    let status = disk.device.status();
    let items = status["last_run"]["items"].as_array().unwrap();
    assert_eq!(items.len(), ITEMS, "{status:#}");
    assert!(items.iter().all(|item| item["status"] == "succeeded"), "{status:#}");
    assert_eq!(status["last_run"]["outcome"], "succeeded", "{status:#}");
    assert!(status["last_run"].get("message").is_none_or(Value::is_null), "{status:#}");

    let next = disk.device.check_in(&disk.blueprint(false, false), &[]);
    assert_eq!(code(&next), 0, "{}", self::said(&next));
    assert_eq!(disk.history().len(), 2);
}

#[test]
fn the_tenant_receives_every_result_of_a_run_the_store_could_not_record_once() {
    let Some(disk) = SmallDisk::new() else { return };
    let tenant = Tenant::start(disk.blueprint_value(true, false));
    enroll(&disk.device, &tenant.url(), TOKEN);
    let output = disk.device.run(&["run"]);
    let said = said(&output);
    assert_eq!(code(&output), 1, "{said}");
    assert_eq!(disk.markers_left(), ITEMS, "every item ran: {said}");
    let reports = tenant.reports("results");
    assert_eq!(reports.len(), 1, "sent directly, the spool being full too: {said}");
    let run = &reports[0]["body"]["run"];
    assert_eq!(run["outcome"], "failed", "{run:#}");
    assert_eq!(run["items"].as_array().unwrap().len(), ITEMS, "every result, from memory: {run:#}");
    assert!(run["message"].as_str().unwrap().contains("the record of this run is incomplete"), "{run:#}");

    // Room returns: the run closed as interrupted is not reported a second time.
    free(&disk.filler());
    let next = disk.device.run(&["run"]);
    assert_eq!(code(&next), 0, "{}", self::said(&next));
    let reported = tenant.result_run_ids();
    assert_eq!(reported.len(), 2, "{reported:?}");
    assert_eq!(reported[0], run["id"].as_str().unwrap());
    assert_eq!(tenant.reports("results")[0]["body"]["run"]["outcome"], "failed");
}
