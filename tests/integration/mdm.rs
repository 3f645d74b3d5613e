//! `agent update-mdm`: the six MDM responses built from one inventory, each
//! checked against Apple's own schema of its command (`mdm_schema`), from the
//! fixtures (stand-in macOS tools printing them) and from the live Linux machine.

use std::process::Output;

use serde_json::{Value, json};

use crate::mdm_schema::schema_for;
use crate::support::{Device, code, text};
use crate::tenant::inventory::{StandIns, fixture, install_app};

/// The request types in the order the agent answers them.
pub const REQUEST_TYPES: [&str; 6] = [
    "ProfileList",
    "InstalledApplicationList",
    "SecurityInfo",
    "CertificateList",
    "AvailableOSUpdates",
    "DeviceInformation",
];

/// Stand-ins of a Mac with FileVault on and three updates on offer.
pub fn mac_with_updates(device: &Device) -> StandIns {
    let stand_ins = StandIns::mac(device);
    stand_ins.tool("fdesetup", &format!("cat '{}'", fixture("inventory/fdesetup/on.txt")));
    stand_ins.tool("softwareupdate", &format!("cat '{}'", fixture("softwareupdate/sonoma-and-sequoia.txt")));
    install_app(device.root());
    stand_ins
}

/// `agent update-mdm` with the stand-ins' flags and `extra`.
pub fn update_mdm(device: &Device, stand_ins: Option<&StandIns>, extra: &[&str]) -> Output {
    let mut arguments: Vec<String> = stand_ins.map(StandIns::flags).unwrap_or_default();
    arguments.push("update-mdm".to_string());
    arguments.extend(extra.iter().map(|argument| argument.to_string()));
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    device.run(&arguments)
}

/// `agent update-mdm --json`, asserting it exited 0; the report.
pub fn update_mdm_json(device: &Device, stand_ins: Option<&StandIns>) -> Value {
    let output = update_mdm(device, stand_ins, &["--json"]);
    assert_eq!(code(&output), 0, "update-mdm failed: {}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("report JSON: {}", text(&output.stdout)))
}

/// Asserts the report holds the six responses in order, each conforming to
/// Apple's schema, all for `udid`; returns them by request type.
pub fn assert_six_conform(report: &Value, udid: &str) -> std::collections::BTreeMap<String, Value> {
    let responses = report["responses"].as_array().expect("a response list");
    let types: Vec<&str> = responses.iter().map(|response| response["RequestType"].as_str().unwrap()).collect();
    assert_eq!(types, REQUEST_TYPES);
    let mut by_type = std::collections::BTreeMap::new();
    for response in responses {
        let request_type = response["RequestType"].as_str().unwrap();
        let violations = schema_for(request_type).violations(response);
        assert_eq!(violations, Vec::<String>::new(), "{request_type} departs from Apple's schema: {response:#}");
        assert_eq!(response["UDID"], udid, "{response:#}");
        by_type.insert(request_type.to_string(), response.clone());
    }
    let mut uuids: Vec<&str> = responses.iter().map(|response| response["CommandUUID"].as_str().unwrap()).collect();
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), 6, "a fresh CommandUUID per response");
    by_type
}

#[test]
fn the_fixtures_answer_all_six_queries_in_apples_schema_with_the_macs_facts() {
    let device = Device::new();
    let stand_ins = mac_with_updates(&device);
    let report = update_mdm_json(&device, Some(&stand_ins));
    assert_eq!(report["errors"], json!([]), "{report:#}");
    assert!(report["report_id"].as_str().is_some_and(|id| !id.is_empty()));
    let responses = assert_six_conform(&report, "00006000-001A2B3C4D5E801E");
    assert!(responses.values().all(|response| response["Status"] == "Acknowledged"));

    let device_information = &responses["DeviceInformation"]["QueryResponses"];
    assert_eq!(device_information["SerialNumber"], "C02FK3ZXQ6L4");
    assert_eq!(
        (&device_information["OSVersion"], &device_information["BuildVersion"]),
        (&json!("14.6.1"), &json!("23G93"))
    );
    assert_eq!(
        (&device_information["Model"], &device_information["IsAppleSilicon"]),
        (&json!("MacBookPro18,3"), &json!(true))
    );
    assert_eq!(responses["SecurityInfo"]["SecurityInfo"]["FDE_Enabled"], true);
    assert_eq!(responses["SecurityInfo"]["SecurityInfo"]["ManagementStatus"]["EnrolledViaDEP"], true);

    let profiles = responses["ProfileList"]["ProfileList"].as_array().unwrap();
    let identifiers: Vec<&str> =
        profiles.iter().map(|profile| profile["PayloadIdentifier"].as_str().unwrap()).collect();
    assert_eq!(identifiers, ["com.example.mdm.enrollment", "com.example.wifi"], "device profiles only");
    assert_eq!(profiles[0]["PayloadUUID"], "5ACABE91-CE30-4C05-93E3-B235C152404E");
    assert_eq!(profiles[0]["PayloadContent"][1]["PayloadType"], "com.apple.mdm");

    let application = &responses["InstalledApplicationList"]["InstalledApplicationList"][0];
    assert_eq!((&application["Identifier"], &application["ShortVersion"]), (&json!("com.example.foo"), &json!("2.1")));

    let certificates = responses["CertificateList"]["CertificateList"].as_array().unwrap();
    let names: Vec<(&str, bool)> = certificates
        .iter()
        .map(|certificate| (certificate["CommonName"].as_str().unwrap(), certificate["IsIdentity"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("Example Corp Root CA", false), ("Mac (C02FK3ZXQ6L4) – Gerät", true)]);

    let updates = responses["AvailableOSUpdates"]["AvailableOSUpdates"].as_array().unwrap();
    let sonoma = updates.iter().find(|update| update["ProductKey"] == "macOS Sonoma 14.7.1-23H222").expect("14.7.1");
    assert_eq!((&sonoma["Build"], &sonoma["DownloadSize"]), (&json!("23H222"), &json!(1_676_288_u64 * 1024)));
    assert_eq!((&sonoma["IsMajorOSUpdate"], &updates[0]["IsMajorOSUpdate"]), (&json!(false), &json!(true)));

    let saved: Value =
        serde_json::from_slice(&std::fs::read(device.state_dir().join("inventory.json")).unwrap()).unwrap();
    assert_eq!(saved["device"]["serial_number"], "C02FK3ZXQ6L4", "the one inventory collected is saved");
    let again = update_mdm_json(&device, Some(&stand_ins));
    assert_eq!(again["device_id"], report["device_id"], "the device keeps its id");
    assert_ne!(again["report_id"], report["report_id"], "each report has its own id");
}

#[test]
fn the_summary_says_which_responses_and_how_many_items_each() {
    let device = Device::new();
    let stand_ins = mac_with_updates(&device);
    let output = update_mdm(&device, Some(&stand_ins), &[]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let page = text(&output.stdout);
    for line in [
        "MDM daily check-in for UDID 00006000-001A2B3C4D5E801E (report ",
        "  ProfileList               Acknowledged  2 profiles",
        "  InstalledApplicationList  Acknowledged  1 application",
        "  SecurityInfo              Acknowledged  4 facts",
        "  CertificateList           Acknowledged  2 certificates",
        "  AvailableOSUpdates        Acknowledged  3 updates",
        "No tenant is configured (tenant.url): nothing was sent.",
    ] {
        assert!(page.contains(line), "{line:?} not in:\n{page}");
    }
    let bad = update_mdm(&device, Some(&stand_ins), &["--set", "inventory.collector_timeout=banana"]);
    assert_eq!(code(&bad), 2, "bad configuration: {}", text(&bad.stderr));
    assert!(text(&bad.stderr).contains("inventory.collector_timeout"), "{}", text(&bad.stderr));
    assert_eq!(text(&bad.stdout), "", "nothing was collected or built");
}

#[test]
fn a_failing_collector_makes_its_response_an_error_that_still_fits_the_schema() {
    let device = Device::new();
    let stand_ins = mac_with_updates(&device);
    let certificates = fixture("inventory/security-find-certificate.txt");
    stand_ins.tool(
        "security",
        &format!("case \"$1\" in find-certificate) cat '{certificates}' ;; *) echo 'security: keychain locked' >&2; exit 51 ;; esac"),
    );
    let report = update_mdm_json(&device, Some(&stand_ins));
    let responses = assert_six_conform(&report, "00006000-001A2B3C4D5E801E");
    let statuses: Vec<(&str, &str)> = REQUEST_TYPES
        .iter()
        .map(|request_type| (*request_type, responses[*request_type]["Status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses[3], ("CertificateList", "Error"));
    assert!(statuses.iter().filter(|(_, status)| *status == "Error").count() == 1, "{statuses:?}");
    assert_eq!(responses["CertificateList"].get("CertificateList"), None, "an Error carries no result");
    let error = &report["errors"][0];
    assert_eq!((&error["request_type"], &error["collector"]), (&json!("CertificateList"), &json!("identities")));
    assert!(error["message"].as_str().unwrap().ends_with("exited 51: security: keychain locked"), "{error}");
}

#[test]
fn the_live_linux_machine_answers_all_six_in_apples_schema() {
    let device = Device::new();
    let bare = update_mdm(&device, None, &["--json"]);
    assert_eq!(code(&bare), 1, "without any identifier there is no UDID to answer for");
    assert!(text(&bare.stderr).contains("the device's UDID is unknown"), "{}", text(&bare.stderr));

    // The agent reads the machine's own files under its root: give it this machine's.
    let machine_id = std::fs::read_to_string("/etc/machine-id").expect("this Linux machine has /etc/machine-id");
    device.write_file("etc/machine-id", &machine_id);
    let os_release =
        std::fs::read_to_string("/etc/os-release").or_else(|_| std::fs::read_to_string("/usr/lib/os-release"));
    let os_release = os_release.expect("this Linux machine has an os-release");
    device.write_file("etc/os-release", &os_release);
    let report = update_mdm_json(&device, None);
    let responses = assert_six_conform(&report, machine_id.trim());
    assert_eq!(report["errors"], json!([]), "macOS tools that do not exist are not errors on Linux");
    assert!(responses.values().all(|response| response["Status"] == "Acknowledged"));
    let facts = &responses["DeviceInformation"]["QueryResponses"];
    let hostname = nix::unistd::gethostname().unwrap().to_string_lossy().into_owned();
    assert_eq!(facts["HostName"], hostname.as_str());
    assert!(facts["DeviceCapacity"].as_f64().is_some_and(|gigabytes| gigabytes > 0.0), "{facts:#}");
    let version_id = os_release.lines().find_map(|line| line.strip_prefix("VERSION_ID="));
    if let Some(version_id) = version_id {
        assert_eq!(facts["OSVersion"], version_id.trim_matches('"'));
    }
    assert_eq!(facts.get("IsAppleSilicon"), None, "only said of a Mac");
    assert_eq!(responses["ProfileList"]["ProfileList"], json!([]));
}
