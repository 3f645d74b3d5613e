//! An inventory assembled from every fixture, as a Mac would give it, and the
//! precedence and unknowns when collectors fail or do not apply.

use std::path::Path;

use super::*;
use crate::inventory::model::{Disk, User};
use crate::inventory::{certificates, enrollment, fdesetup, ioreg, profiles, render, system_profiler};
use crate::operating_system::{parse_os_release, parse_sw_vers};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/fixtures/inventory/", $name))
    };
}

fn system() -> SystemFacts {
    SystemFacts {
        hostname: Some("janes-mbp.local".into()),
        processor: Some("Apple M1 Pro".into()),
        processor_cores: Some(10),
        architecture: Some("aarch64".into()),
        memory_bytes: Some(17_179_869_184),
        kernel_version: Some("Darwin 23.6.0".into()),
        uptime_seconds: Some(183_245),
        boot_time: Some("2024-09-01T07:20:16Z".parse().unwrap()),
        disks: vec![Disk {
            name: "Macintosh HD".into(),
            mount_point: "/".into(),
            file_system: "apfs".into(),
            total_bytes: 494_384_795_648,
            available_bytes: 128_849_018_880,
            removable: false,
        }],
        users: vec![User { name: "jane".into(), uid: 501 }],
    }
}

/// Everything a Mac gives, read from the fixtures.
fn mac() -> Collected {
    let updates = parse_software_update_list_fixture();
    let firefox = Application {
        name: "Firefox".into(),
        bundle_id: Some("org.mozilla.firefox".into()),
        version: Some("12824.6.2".into()),
        short_version: Some("128.0".into()),
        size_bytes: 389_021_696,
        path: "/Applications/Firefox.app".into(),
    };
    Collected {
        system: Some(system()),
        profiler: Some(system_profiler::parse_system_profiler(fixture!("system_profiler-apple-silicon.xml")).unwrap()),
        ioreg: Some(ioreg::parse_ioreg(fixture!("ioreg-apple-silicon.txt")).unwrap()),
        sw_vers: Some(
            parse_sw_vers("ProductName:\t\tmacOS\nProductVersion:\t\t14.6.1\nBuildVersion:\t\t23G93\n").unwrap(),
        ),
        filevault: Some(fdesetup::parse_fdesetup_status(fixture!("fdesetup/on.txt"))),
        enrollment: Some(enrollment::parse_enrollment_status(fixture!("profiles-status/dep-user-approved.txt"))),
        profiles: Some(profiles::parse_profiles(fixture!("profiles-computer.xml")).unwrap()),
        certificates: Some(certificates::parse_certificates(fixture!("security-find-certificate.txt")).unwrap()),
        identities: Some(certificates::parse_identities(fixture!("security-find-identity.txt"))),
        software_updates: Some(updates),
        applications: Some(vec![firefox]),
        linux: None,
        errors: Vec::new(),
    }
}

fn parse_software_update_list_fixture() -> Vec<SoftwareUpdate> {
    let output = include_str!("../../tests/fixtures/softwareupdate/sonoma-update.txt");
    crate::operating_system::parse_software_update_list(output)
        .into_iter()
        .map(|update| SoftwareUpdate {
            is_os_update: update.os_version().is_some(),
            build: update.build(),
            version_extra: update.security_response_extra(),
            size_bytes: update.size_bytes,
            product_key: update.label,
            title: update.title,
            version: update.version,
            recommended: update.recommended,
            restart_required: update.restart_required,
        })
        .collect()
}

fn at() -> DateTime<Utc> {
    "2024-09-03T08:14:21Z".parse().unwrap()
}

#[test]
fn a_mac_shows_every_seed_field() {
    let mut inventory = assemble(mac(), at());
    inventory.agent_version = "1.2.3".into();
    let device = &inventory.device;
    assert_eq!(device.serial_number.as_deref(), Some("C02FK3ZXQ6L4"));
    assert_eq!(device.udid.as_deref(), Some("00006000-001A2B3C4D5E801E"), "the provisioning UDID");
    assert_eq!(device.platform_uuid.as_deref(), Some("5E4D3C2B-1A09-5F8E-9D7C-6B5A4F3E2D1C"));
    assert_eq!(inventory.mdm_profile_installed, Some(true));
    assert_eq!(inventory.mdm_enrolled_at, Some("2024-05-01T09:30:12Z".parse().unwrap()));
    assert_eq!(inventory.operating_system.build.as_deref(), Some("23G93"));
    assert_eq!(inventory.certificates.iter().filter(|certificate| certificate.is_identity).count(), 1);
    insta::assert_snapshot!("inventory_as_text", render(&inventory));
    let json = serde_json::to_value(&inventory).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    insta::assert_json_snapshot!("inventory_json_keys", keys);
    assert_eq!(json["device"]["model_identifier"], "MacBookPro18,3");
    assert_eq!(json["security"]["filevault"]["state"], "on");
    assert_eq!(json["available_updates"][0]["product_key"], "macOS Sonoma 14.7.1-23H222");
}

#[test]
fn failed_collectors_leave_their_facts_unknown_not_false() {
    let mut collected = mac();
    collected.profiles = None;
    collected.ioreg = None;
    collected.profiler = None;
    collected.errors.push(CollectorError { collector: "profiles".into(), message: "exited 1".into() });
    let inventory = assemble(collected, at());
    assert_eq!(inventory.mdm_profile_installed, Some(true), "the enrollment status stands in");
    assert_eq!(inventory.mdm_enrolled_at, None);
    assert_eq!(inventory.device.serial_number, None);
    assert_eq!(inventory.device.device_name.as_deref(), Some("janes-mbp.local"), "the host name stands in");
    assert_eq!(inventory.operating_system.description.as_deref(), Some("macOS 14.6.1 (23G93)"));
    assert_eq!(inventory.errors.len(), 1);
    let nothing = assemble(Collected::default(), at());
    assert_eq!((nothing.mdm_profile_installed, nothing.device.serial_number), (None, None));
}

#[test]
fn on_linux_the_dmi_and_os_release_facts_fill_in() {
    let linux = LinuxFacts {
        manufacturer: Some("LENOVO".into()),
        model: Some("20XW0055GE".into()),
        serial_number: Some("PF2ABCDE".into()),
        uuid: Some("4C4C4544-0042-3510-8052-B4C04F4A3232".into()),
        asset_tag: Some("IT-0042".into()),
        machine_id: Some("0a1b2c".into()),
        operating_system: Some(parse_os_release("NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n").unwrap()),
        description: Some("Debian GNU/Linux 12 (bookworm)".into()),
    };
    let collected = Collected { system: Some(system()), linux: Some(linux), ..Collected::default() };
    let inventory = assemble(collected, at());
    let device = &inventory.device;
    assert_eq!(
        (device.serial_number.as_deref(), device.udid.as_deref(), device.asset_tag.as_deref()),
        (Some("PF2ABCDE"), Some("4C4C4544-0042-3510-8052-B4C04F4A3232"), Some("IT-0042"))
    );
    assert_eq!(inventory.operating_system.version.as_deref(), Some("12"));
    assert_eq!(inventory.operating_system.description.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
    assert_eq!(inventory.hardware.processor.as_deref(), Some("Apple M1 Pro"));
    assert_eq!(inventory.mdm_profile_installed, None);
    assert!(Path::new(&inventory.disks[0].mount_point).is_absolute());
}
