//! Which library items a check-in runs, in which order, under which timeout.
//!
//! Pure: the same blueprint, kind and device markers always give the same plan,
//! so the ordering rule is tested without running anything. Order is by type
//! priority (custom scripts first, managed OS last), then by name in byte order
//! (uppercase before lowercase, `_` between them, non-ASCII last), then by id.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::blueprint::{Blueprint, Frequency, LibraryItem};
use crate::config::Timeouts;

/// The kinds of check-in: the two the schedule runs, one item asked for in Self
/// Service, and one item run from Terminal (`agent library --item`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckinKind {
    /// Every 15 minutes: every item but the daily ones.
    Recurring,
    /// Every 24 hours: every item that is due, daily ones included.
    Daily,
    /// The one offered item someone asked for (see [`self_service_plan`]); the
    /// schedule never runs it and it moves none of the schedule's markers.
    SelfService,
    /// The one library item an admin ran with `agent library --item` (see
    /// [`item_plan`]); the schedule never runs it and it moves none of the
    /// schedule's markers.
    Item,
}

impl CheckinKind {
    /// The name used in status, history and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckinKind::Recurring => "recurring",
            CheckinKind::Daily => "daily",
            CheckinKind::SelfService => "self_service",
            CheckinKind::Item => "item",
        }
    }

    /// The kind named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "recurring" => Some(CheckinKind::Recurring),
            "daily" => Some(CheckinKind::Daily),
            "self_service" => Some(CheckinKind::SelfService),
            "item" => Some(CheckinKind::Item),
            _ => None,
        }
    }

    /// Whether this run holds one item someone asked for (Self Service, or
    /// `agent library --item`): it enforces no parameters, sends no inventory
    /// and updates no agent; those wait for the schedule's check-ins.
    pub fn is_on_request(self) -> bool {
        matches!(self, CheckinKind::SelfService | CheckinKind::Item)
    }
}

impl fmt::Display for CheckinKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What the check-in does with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run it, within this limit (besides the run's own budget).
    Run {
        /// The item's own time limit, if its type has one.
        timeout: Option<Duration>,
    },
    /// Leave it alone, for this reason (shown to admins).
    Skip {
        /// Why the item is rightly skipped.
        reason: String,
    },
}

/// One item in the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedItem {
    /// The library item.
    pub item: LibraryItem,
    /// Whether and how it runs.
    pub decision: Decision,
}

/// The items of one check-in in execution order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Which check-in this is.
    pub kind: CheckinKind,
    /// Every library item of the blueprint, in execution order.
    pub items: Vec<PlannedItem>,
}

/// Plans a check-in of `kind` over `blueprint`.
///
/// `succeeded_once` holds the ids of `once` items that already succeeded on this
/// device. Every item appears in the plan, skipped ones with their reason, so the
/// run record shows the whole blueprint. An item's own time limit is the one of
/// `timeouts` its type names (see [`crate::blueprint::ItemType::timeout`]).
pub fn plan(blueprint: &Blueprint, kind: CheckinKind, succeeded_once: &HashSet<String>, timeouts: &Timeouts) -> Plan {
    let items = in_run_order(blueprint)
        .into_iter()
        .map(|item| PlannedItem { decision: decide(item, kind, succeeded_once, timeouts), item: item.clone() })
        .collect();
    Plan { kind, items }
}

/// Every library item of `blueprint`, in the order a check-in runs them.
pub fn in_run_order(blueprint: &Blueprint) -> Vec<&LibraryItem> {
    let mut ordered: Vec<&LibraryItem> = blueprint.library_items.iter().collect();
    ordered.sort_by(|left, right| run_order(left).cmp(&run_order(right)));
    ordered
}

/// The sort key: type priority, then name bytes, then id bytes.
fn run_order(item: &LibraryItem) -> (u8, &[u8], &[u8]) {
    (item.item_type().priority(), item.name.as_bytes(), item.id.as_bytes())
}

/// Why an item asked for by name (in Self Service, or with `agent library
/// --item`) cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelfServiceError {
    /// No item of the blueprint has this id or name.
    #[error("no library item {asked:?} in blueprint {blueprint:?}")]
    NoSuchItem {
        /// The id or name asked for.
        asked: String,
        /// The blueprint searched.
        blueprint: String,
    },
    /// The item exists but its admin did not offer it in Self Service.
    #[error("library item {name:?} ({id}) is not offered in Self Service (it has no self_service key)")]
    NotOffered {
        /// The item's id.
        id: String,
        /// The item's name.
        name: String,
    },
}

/// Plans a Self Service run: the one item of `blueprint` whose id (or else name)
/// is `asked`, run under its type's own timeout whatever its frequency or
/// enforcement says, since someone asked for it. Only an item with a
/// `self_service` offer may be asked for, or one of `waiting` (the ids of the
/// items whose disruptive work is pending: "Update Now" runs work already due,
/// whatever the item's offer).
pub fn self_service_plan(
    blueprint: &Blueprint,
    asked: &str,
    waiting: &HashSet<String>,
    timeouts: &Timeouts,
) -> Result<Plan, SelfServiceError> {
    let item = find_item(blueprint, asked)?;
    if item.self_service.is_none() && !waiting.contains(&item.id) {
        return Err(SelfServiceError::NotOffered { id: item.id.clone(), name: item.name.clone() });
    }
    let decision = Decision::Run { timeout: item.item_type().timeout(timeouts) };
    Ok(Plan { kind: CheckinKind::SelfService, items: vec![PlannedItem { item: item.clone(), decision }] })
}

/// The item of `blueprint` whose id, or else whose name, is `asked`.
pub fn find_item<'a>(blueprint: &'a Blueprint, asked: &str) -> Result<&'a LibraryItem, SelfServiceError> {
    blueprint
        .library_items
        .iter()
        .find(|item| item.id == asked)
        .or_else(|| blueprint.library_items.iter().find(|item| item.name == asked))
        .ok_or_else(|| SelfServiceError::NoSuchItem { asked: asked.to_string(), blueprint: blueprint.id.clone() })
}

/// Plans an `agent library --item` run: the one item of `blueprint` whose id
/// (or else name) is `asked`. Without `force` its frequency decides as in a
/// recurring check-in (a `once` item already done, a `no_enforcement`, `daily`
/// or Self Service only item is skipped with the reason); with `force` it runs
/// whatever its frequency says.
pub fn item_plan(
    blueprint: &Blueprint,
    asked: &str,
    succeeded_once: &HashSet<String>,
    force: bool,
    timeouts: &Timeouts,
) -> Result<Plan, SelfServiceError> {
    let item = find_item(blueprint, asked)?;
    let decision = if force {
        Decision::Run { timeout: item.item_type().timeout(timeouts) }
    } else {
        decide(item, CheckinKind::Item, succeeded_once, timeouts)
    };
    Ok(Plan { kind: CheckinKind::Item, items: vec![PlannedItem { item: item.clone(), decision }] })
}

/// Why an item offered in Self Service alone is skipped by every scheduled check-in.
pub const ON_REQUEST_ONLY: &str = "offered in Self Service: runs only when someone asks for it";

fn decide(item: &LibraryItem, kind: CheckinKind, succeeded_once: &HashSet<String>, timeouts: &Timeouts) -> Decision {
    let skip = |reason: &str| Decision::Skip { reason: reason.to_string() };
    if item.on_request_only() {
        return skip(ON_REQUEST_ONLY);
    }
    match item.frequency {
        Frequency::Daily if kind != CheckinKind::Daily => skip("daily item: runs in the daily check-in"),
        Frequency::Once if succeeded_once.contains(&item.id) => skip("once item: already succeeded on this device"),
        Frequency::NoEnforcement => skip("no enforcement: never run by schedule"),
        _ => Decision::Run { timeout: item.item_type().timeout(timeouts) },
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;
    use crate::blueprint::ItemType;
    use crate::config::AgentConfig;

    const HOUR: Duration = Duration::from_secs(3600);

    /// The configured limits: 1 h per custom script, 3 h per printer, 6 h per auto app.
    fn timeouts() -> Timeouts {
        let timeouts = AgentConfig::default().timeouts;
        assert_eq!(
            (timeouts.custom_script, timeouts.custom_printer, timeouts.auto_app),
            (HOUR, 3 * HOUR, 6 * HOUR),
            "the defaults these tests expect"
        );
        timeouts
    }

    /// One item of `item_type` with the fewest keys that type needs, read as a blueprint would be.
    fn item(id: &str, name: &str, item_type: ItemType, frequency: Frequency) -> LibraryItem {
        item_with(id, name, item_type, json!({ "frequency": frequency.as_str() }))
    }

    /// One item of `item_type` with the fewest keys that type needs and `extra` keys.
    fn item_with(id: &str, name: &str, item_type: ItemType, extra: Value) -> LibraryItem {
        let sha256 = "0".repeat(64);
        let keys = match item_type.as_str() {
            "custom_script" => json!({ "audit": "#!/bin/sh\n" }),
            "custom_printer" => json!({ "printer_name": "office", "uri": "ipp://127.0.0.1/ipp/print" }),
            "custom_app" => {
                json!({ "source": "zip", "enforcement": "install_once", "url": "file:///Foo.zip", "sha256": sha256, "app_name": "Foo.app" })
            }
            "auto_app" => json!({ "catalog": { "name": "Foo", "bundle_id": "com.example.foo", "version": "1.0",
                                               "install_type": "zip", "url": "file:///Foo.zip", "sha256": sha256,
                                               "app_name": "Foo.app" } }),
            "managed_os" => json!({ "minimum_version": "14" }),
            other => panic!("no sample keys for {other}"),
        };
        let mut object = json!({ "id": id, "name": name, "type": item_type.as_str() });
        object.as_object_mut().unwrap().extend(keys.as_object().unwrap().clone());
        object.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let document = json!({ "id": "bp", "library_items": [object] });
        let mut blueprint = crate::blueprint::from_value(&document, Path::new("bp.json")).unwrap();
        blueprint.library_items.remove(0)
    }

    fn blueprint(library_items: Vec<LibraryItem>) -> Blueprint {
        Blueprint {
            id: "bp".into(),
            name: "bp".into(),
            team_id: None,
            minimum_agent_version: None,
            parameters: Default::default(),
            library_items,
        }
    }

    #[test]
    fn order_is_type_priority_then_name_bytes_then_id() {
        let every = Frequency::Every15Minutes;
        let items = vec![
            item("os", "A", ItemType::ManagedOs, every),
            item("auto", "A", ItemType::AutoApp, every),
            item("app", "A", ItemType::CustomApp, every),
            item("printer", "A", ItemType::CustomPrinter, every),
            item("7", "b", ItemType::CustomScript, every),
            item("6", "ä", ItemType::CustomScript, every),
            item("5", "a", ItemType::CustomScript, every),
            item("4", "_x", ItemType::CustomScript, every),
            item("3", "Z9", ItemType::CustomScript, every),
            item("2", "B", ItemType::CustomScript, every),
            item("1b", "A", ItemType::CustomScript, every),
            item("1a", "A", ItemType::CustomScript, every),
        ];
        let plan = plan(&blueprint(items), CheckinKind::Daily, &HashSet::new(), &timeouts());
        let order: Vec<&str> = plan.items.iter().map(|planned| planned.item.id.as_str()).collect();
        assert_eq!(order, ["1a", "1b", "2", "3", "4", "5", "7", "6", "printer", "app", "auto", "os"]);
    }

    #[test]
    fn each_type_gets_its_own_timeout_or_none() {
        let cases = [
            (ItemType::CustomScript, Some(HOUR)),
            (ItemType::CustomPrinter, Some(3 * HOUR)),
            (ItemType::CustomApp, None),
            (ItemType::AutoApp, Some(6 * HOUR)),
            (ItemType::ManagedOs, None),
        ];
        for (item_type, timeout) in cases {
            let plan = plan(
                &blueprint(vec![item("x", "x", item_type, Frequency::Every15Minutes)]),
                CheckinKind::Recurring,
                &HashSet::new(),
                &timeouts(),
            );
            assert_eq!(plan.items[0].decision, Decision::Run { timeout }, "{item_type}");
        }
    }

    #[test]
    fn frequency_decides_what_each_kind_runs() {
        let done: HashSet<String> = ["once-done".to_string()].into();
        let cases = [
            (Frequency::Every15Minutes, "x", CheckinKind::Recurring, true),
            (Frequency::Every15Minutes, "x", CheckinKind::Daily, true),
            (Frequency::Daily, "x", CheckinKind::Recurring, false),
            (Frequency::Daily, "x", CheckinKind::Daily, true),
            (Frequency::Once, "x", CheckinKind::Recurring, true),
            (Frequency::Once, "once-done", CheckinKind::Daily, false),
            (Frequency::NoEnforcement, "x", CheckinKind::Daily, false),
            (Frequency::NoEnforcement, "x", CheckinKind::Recurring, false),
        ];
        for (frequency, id, kind, runs) in cases {
            let plan =
                plan(&blueprint(vec![item(id, id, ItemType::CustomScript, frequency)]), kind, &done, &timeouts());
            let ran = matches!(plan.items[0].decision, Decision::Run { .. });
            assert_eq!(ran, runs, "{frequency:?} {id} in a {kind} check-in");
        }
    }

    #[test]
    fn an_item_offered_alone_is_skipped_by_every_check_in_and_an_offered_ordinary_item_runs() {
        let offer = json!({ "category": "Tools" });
        let items = vec![
            item_with(
                "asked",
                "asked",
                ItemType::CustomScript,
                json!({ "frequency": "self_service", "self_service": offer }),
            ),
            item_with("offered", "offered", ItemType::CustomScript, json!({ "self_service": offer })),
            item_with(
                "app",
                "app",
                ItemType::CustomApp,
                json!({ "enforcement": "self_service", "self_service": offer }),
            ),
            item_with(
                "auto",
                "auto",
                ItemType::AutoApp,
                json!({ "enforcement": "self_service", "self_service": offer }),
            ),
            item_with("enforced", "enforced", ItemType::AutoApp, json!({ "self_service": offer })),
        ];
        let skipped = Decision::Skip { reason: ON_REQUEST_ONLY.to_string() };
        for kind in [CheckinKind::Recurring, CheckinKind::Daily] {
            let plan = plan(&blueprint(items.clone()), kind, &HashSet::new(), &timeouts());
            let decisions: Vec<(&str, &Decision)> =
                plan.items.iter().map(|planned| (planned.item.id.as_str(), &planned.decision)).collect();
            let (script_timeout, auto_timeout) = (Some(HOUR), Some(6 * HOUR));
            assert_eq!(
                decisions,
                [
                    ("asked", &skipped),
                    ("offered", &Decision::Run { timeout: script_timeout }),
                    ("app", &skipped),
                    ("auto", &skipped),
                    ("enforced", &Decision::Run { timeout: auto_timeout }),
                ],
                "in a {kind} check-in"
            );
        }
    }

    #[test]
    fn a_self_service_plan_holds_the_one_offered_item_asked_for_by_id_or_name() {
        let offer = json!({ "category": "Tools" });
        let on_request = json!({ "frequency": "self_service", "self_service": offer });
        let items = vec![
            item_with("asked", "Tool", ItemType::CustomScript, on_request),
            item_with("auto", "Browser", ItemType::AutoApp, json!({ "self_service": offer })),
            item_with("os", "Ventura", ItemType::ManagedOs, json!({ "self_service": offer })),
            item("plain", "Plain", ItemType::CustomScript, Frequency::Every15Minutes),
            item("Tool2", "asked", ItemType::CustomScript, Frequency::NoEnforcement),
        ];
        let blueprint = blueprint(items);
        let cases = [
            ("asked", "asked", Some(HOUR)),
            ("Tool", "asked", Some(HOUR)),
            ("Browser", "auto", Some(6 * HOUR)),
            ("os", "os", None),
        ];
        for (asked, id, timeout) in cases {
            let plan = self_service_plan(&blueprint, asked, &HashSet::new(), &timeouts()).unwrap();
            assert_eq!(plan.kind, CheckinKind::SelfService);
            let decisions: Vec<(&str, &Decision)> =
                plan.items.iter().map(|planned| (planned.item.id.as_str(), &planned.decision)).collect();
            assert_eq!(decisions, [(id, &Decision::Run { timeout })], "asked for {asked:?}");
        }
        let refused = [
            ("plain", SelfServiceError::NotOffered { id: "plain".into(), name: "Plain".into() }),
            ("Plain", SelfServiceError::NotOffered { id: "plain".into(), name: "Plain".into() }),
            ("missing", SelfServiceError::NoSuchItem { asked: "missing".into(), blueprint: "bp".into() }),
        ];
        for (asked, error) in refused {
            assert_eq!(self_service_plan(&blueprint, asked, &HashSet::new(), &timeouts()), Err(error), "{asked:?}");
        }
        let waiting = HashSet::from(["plain".to_string()]);
        let plan = self_service_plan(&blueprint, "Plain", &waiting, &timeouts()).expect("its work waits");
        assert_eq!(plan.items[0].decision, Decision::Run { timeout: Some(HOUR) });
    }

    #[test]
    fn an_item_plan_holds_the_one_item_its_frequency_deciding_unless_forced() {
        let items = vec![
            item("plain", "Plain", ItemType::CustomScript, Frequency::Every15Minutes),
            item("done", "Done", ItemType::CustomScript, Frequency::Once),
            item("never", "Never", ItemType::CustomScript, Frequency::NoEnforcement),
            item("daily", "Daily", ItemType::CustomScript, Frequency::Daily),
            item("printer", "Office", ItemType::CustomPrinter, Frequency::Every15Minutes),
        ];
        let blueprint = blueprint(items);
        let done: HashSet<String> = ["done".to_string()].into();
        let cases = [
            ("plain", false, true),
            ("Done", false, false),
            ("done", true, true),
            ("never", false, false),
            ("Never", true, true),
            ("daily", false, false),
            ("daily", true, true),
            ("Office", false, true),
        ];
        for (asked, force, runs) in cases {
            let plan = item_plan(&blueprint, asked, &done, force, &timeouts()).unwrap();
            assert_eq!(plan.kind, CheckinKind::Item);
            assert_eq!(plan.items.len(), 1, "{asked:?}");
            let ran = matches!(plan.items[0].decision, Decision::Run { .. });
            assert_eq!(ran, runs, "{asked:?} forced {force}");
        }
        let printer = item_plan(&blueprint, "printer", &done, true, &timeouts()).unwrap();
        assert_eq!(printer.items[0].decision, Decision::Run { timeout: Some(3 * HOUR) });
        let missing = item_plan(&blueprint, "missing", &done, true, &timeouts());
        assert_eq!(missing, Err(SelfServiceError::NoSuchItem { asked: "missing".into(), blueprint: "bp".into() }));
    }

    #[test]
    fn kinds_read_back_and_only_one_item_runs_are_on_request() {
        for kind in [CheckinKind::Recurring, CheckinKind::Daily, CheckinKind::SelfService, CheckinKind::Item] {
            assert_eq!(CheckinKind::parse(kind.as_str()), Some(kind));
        }
        let on_request: Vec<bool> =
            [CheckinKind::Recurring, CheckinKind::Daily, CheckinKind::SelfService, CheckinKind::Item]
                .map(CheckinKind::is_on_request)
                .to_vec();
        assert_eq!(on_request, [false, false, true, true]);
    }
}
