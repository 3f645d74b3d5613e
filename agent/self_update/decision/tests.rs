use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;

const SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

fn version(text: &str) -> Version {
    Version::parse(text).unwrap()
}

fn offer_json(version: &str) -> Value {
    json!({ "version": version, "url": format!("https://updates.example.com/agent-{version}.pkg"), "sha256": SHA })
}

fn advice(minimum: Option<&str>, latest: Option<Value>) -> Advice {
    Advice { minimum_agent_version: minimum.map(str::to_string), latest_agent: latest }
}

/// One row: ours, minimum, latest, the decision as text, how many problems.
type Case = (&'static str, Option<&'static str>, Option<Value>, &'static str, usize);

/// The decision, as text: `nothing`, `update 2.0.0`, `cannot comply 2.0.0 (offered 1.5.0)`.
fn decided(ours: &str, minimum: Option<&str>, latest: Option<Value>) -> (String, usize) {
    let decided = decide(&version(ours), &advice(minimum, latest));
    let text = match decided.decision {
        Decision::Nothing => "nothing".to_string(),
        Decision::Update(offer) => format!("update {}", offer.version),
        Decision::CannotComply { minimum, offered: None } => format!("cannot comply {minimum}"),
        Decision::CannotComply { minimum, offered: Some(offered) } => {
            format!("cannot comply {minimum} (offered {offered})")
        }
    };
    (text, decided.problems.len())
}

#[test]
fn the_advice_decides_between_nothing_an_update_and_cannot_comply() {
    let cases: [Case; 16] = [
        ("1.0.0", None, None, "nothing", 0),
        ("1.0.0", None, Some(offer_json("1.1.0")), "update 1.1.0", 0),
        ("1.0.0", None, Some(offer_json("1.0.0")), "nothing", 0),
        ("1.0.0", None, Some(offer_json("0.9.9")), "nothing", 0),
        ("1.0.0", None, Some(offer_json("1.0.0+build.7")), "nothing", 0),
        ("1.0.0", None, Some(offer_json("1.1.0-beta.1")), "update 1.1.0-beta.1", 0),
        ("1.1.0-beta.1", None, Some(offer_json("1.1.0")), "update 1.1.0", 0),
        ("1.0.0", Some("1.0.0"), None, "nothing", 0),
        ("1.0.0", Some("0.5.0"), Some(offer_json("0.9.0")), "nothing", 0),
        ("1.0.0", Some("2.0.0"), None, "cannot comply 2.0.0", 0),
        ("1.0.0", Some("2.0.0"), Some(offer_json("1.5.0")), "cannot comply 2.0.0 (offered 1.5.0)", 0),
        ("1.0.0", Some("2.0.0"), Some(offer_json("2.0.0")), "update 2.0.0", 0),
        ("1.0.0", Some("2.0.0"), Some(offer_json("2.1.0")), "update 2.1.0", 0),
        ("1.0.0", Some("two"), Some(offer_json("1.1.0")), "update 1.1.0", 1),
        ("1.0.0", Some("2.0.0"), Some(offer_json("2.x")), "cannot comply 2.0.0", 1),
        ("1.0.0", Some("2"), Some(json!("2.0.0")), "nothing", 2),
    ];
    for (ours, minimum, latest, expected, problems) in cases {
        let shown = format!("ours {ours}, minimum {minimum:?}, latest {latest:?}");
        assert_eq!(decided(ours, minimum, latest), (expected.to_string(), problems), "{shown}");
    }
}

#[test]
fn an_offer_is_checked_key_by_key() {
    let ours = version("1.0.0");
    let problem = |latest: Value| decide(&ours, &advice(None, Some(latest))).problems.join("; ");
    let http = json!({ "version": "2.0.0", "url": "http://updates.example.com/agent.pkg", "sha256": SHA });
    assert_eq!(problem(http), "latest_agent.url: must be https://, or http:// to a loopback host");
    let file = json!({ "version": "2.0.0", "url": "file:///tmp/agent.pkg", "sha256": SHA });
    assert_eq!(problem(file), "latest_agent.url: must be https://, or http:// to a loopback host");
    let short = json!({ "version": "2.0.0", "url": "https://u.example.com/a.pkg", "sha256": "abc" });
    assert_eq!(problem(short), "latest_agent.sha256: must be 64 hexadecimal digits (the package's SHA-256)");
    let missing = json!({ "version": "2.0.0", "sha256": SHA });
    assert!(problem(missing).starts_with("latest_agent.url: missing"));
    let bad_version = problem(json!({ "version": "v2", "url": "https://u.example.com/a.pkg", "sha256": SHA }));
    assert!(
        bad_version.starts_with("latest_agent.version: \"v2\" is not a version such as \"1.2.3\""),
        "{bad_version}"
    );

    let loopback =
        json!({ "version": "2.0.0", "url": "http://127.0.0.1:8700/a.pkg?sig=x", "sha256": SHA.to_uppercase() });
    let Decision::Update(offer) = decide(&ours, &advice(None, Some(loopback))).decision else { panic!("an update") };
    assert_eq!(offer.sha256, SHA, "the digest is lowercased");
    assert_eq!(offer.url.redacted(), "http://127.0.0.1:8700/a.pkg");
}

fn attempt(outcome: AgentUpdateOutcome, to: &str) -> AgentUpdate {
    AgentUpdate {
        id: 1,
        at: Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap(),
        from: "1.0.0".into(),
        to: Some(to.into()),
        sha256: Some(SHA.into()),
        outcome,
        message: String::new(),
    }
}

#[test]
fn an_offer_tried_before_waits_for_a_daily_check_in() {
    assert_eq!(gate(None, CheckinKind::Recurring), Gate::Go);
    for outcome in [
        AgentUpdateOutcome::Failed,
        AgentUpdateOutcome::ChecksumMismatch,
        AgentUpdateOutcome::DownloadFailed,
        AgentUpdateOutcome::Installed,
    ] {
        let previous = attempt(outcome, "2.0.0");
        assert_eq!(gate(Some(&previous), CheckinKind::Daily), Gate::Go, "{outcome}");
        let Gate::Wait(reason) = gate(Some(&previous), CheckinKind::Recurring) else { panic!("{outcome} waits") };
        assert_eq!(
            reason,
            format!(
                "this offer ended {outcome} at 2026-11-25T09:00:00.000Z; it is tried again in the next daily check-in"
            )
        );
    }
}

#[test]
fn an_install_the_agent_did_not_live_through_is_judged_by_the_version_now_running() {
    let cases = [
        ("2.0.0", "2.0.0", Some(AgentUpdateOutcome::Installed)),
        ("2.0.0+build.7", "2.0.0", Some(AgentUpdateOutcome::Installed)),
        ("2.0.0", "2.0.1", Some(AgentUpdateOutcome::Failed)),
        ("2.0.0", "1.0.0", Some(AgentUpdateOutcome::Failed)),
        ("garbage", "1.0.0", Some(AgentUpdateOutcome::Failed)),
    ];
    for (to, ours, expected) in cases {
        let settled = settle(&attempt(AgentUpdateOutcome::Installing, to), &version(ours));
        assert_eq!(settled.as_ref().map(|(outcome, _)| *outcome), expected, "{to} with {ours} running");
    }
    let (_, message) = settle(&attempt(AgentUpdateOutcome::Installing, "2.0.0"), &version("2.0.0")).unwrap();
    assert_eq!(message, "the agent restarted while the installer ran and now runs 2.0.0");
    let (_, message) = settle(&attempt(AgentUpdateOutcome::Installing, "2.0.0"), &version("2.0.1")).unwrap();
    assert_eq!(message, "the agent restarted while the installer ran and runs 2.0.1, not 2.0.0");
    assert_eq!(settle(&attempt(AgentUpdateOutcome::Failed, "2.0.0"), &version("2.0.0")), None);
}

#[test]
fn the_running_version_is_the_package_version() {
    assert_eq!(running_version().to_string(), env!("CARGO_PKG_VERSION"));
}
