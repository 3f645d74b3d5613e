//! `verify` passes what `build` writes and catches what a broken package gets wrong.

use endpoint_package::app::AppFiles;
use endpoint_package::bom::bom;
use endpoint_package::cpio::{gzip, odc_archive};
use endpoint_package::product::{self, BINARY_PATH};
use endpoint_package::tree::FileTree;
use endpoint_package::verify::{VerifyError, verify};

use crate::support::{Workspace, problems, rebuilt_without, reported};

#[test]
fn a_built_package_reads_back_whole() {
    let workspace = Workspace::new();
    let package = workspace.build();
    assert_eq!(package.file_name().unwrap(), "endpoint-agent-0.1.0.pkg");
    let report = verify(&package, Some("0.1.0")).expect("the package is well formed");
    assert_eq!(report.version, "0.1.0");
    assert_eq!(
        report.payload_paths,
        [
            ".",
            "./Applications",
            "./Applications/Endpoint Self Service.app",
            "./Applications/Endpoint Self Service.app/Contents",
            "./Applications/Endpoint Self Service.app/Contents/Info.plist",
            "./Applications/Endpoint Self Service.app/Contents/MacOS",
            "./Applications/Endpoint Self Service.app/Contents/MacOS/Endpoint Self Service",
            "./Applications/Endpoint Self Service.app/Contents/PkgInfo",
            "./Library",
            "./Library/Application Support",
            "./Library/Application Support/EndpointAgent",
            "./Library/Application Support/EndpointAgent/uninstall.sh",
            "./Library/LaunchDaemons",
            "./Library/LaunchDaemons/io.endpointagent.agent.plist",
            "./usr",
            "./usr/local",
            "./usr/local/bin",
            "./usr/local/bin/agent",
        ]
    );
}

#[test]
fn the_same_inputs_build_the_same_bytes() {
    let workspace = Workspace::new();
    let first = std::fs::read(workspace.build()).unwrap();
    let second = std::fs::read(workspace.build()).unwrap();
    assert!(first == second, "two builds from the same inputs differ");
}

#[test]
fn a_damaged_table_of_contents_checksum_is_caught() {
    let workspace = Workspace::new();
    let package = workspace.build();
    let mut bytes = std::fs::read(&package).unwrap();
    let heap = 28 + u64::from_be_bytes(bytes[8..16].try_into().unwrap()) as usize;
    bytes[heap] ^= 0xff;
    std::fs::write(&package, &bytes).unwrap();
    let problems = problems(&package);
    assert!(reported(&problems, &["does not read back", "Sumcheck error"]), "{problems:#?}");
}

#[test]
fn a_damaged_file_in_the_heap_is_caught() {
    let workspace = Workspace::new();
    let package = workspace.build();
    let mut bytes = std::fs::read(&package).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&package, &bytes).unwrap();
    let problems = problems(&package);
    assert!(reported(&problems, &["endpoint-agent.pkg/Scripts: Sumcheck error"]), "{problems:#?}");
}

#[test]
fn a_bom_that_disagrees_with_the_payload_is_reported() {
    let workspace = Workspace::new();
    let mut parts = product::build_parts(&workspace.inputs()).unwrap();
    let app = AppFiles { info_plist: b"plist".to_vec(), executable: b"#!/bin/sh\n".to_vec() };
    let mut tree = product::payload_tree(b"other".to_vec(), b"job".to_vec(), b"un".to_vec(), app).unwrap();
    let mut binary = tree.get(BINARY_PATH).unwrap().clone();
    binary.permissions = 0o644;
    tree = rebuilt_without(&tree, BINARY_PATH);
    tree.add(binary).unwrap();
    tree.add_file("./usr/local/bin/extra", b"x".to_vec(), 0o755).unwrap();
    parts.bom = bom(&tree, 0).unwrap();
    let problems = problems(&workspace.write_parts("wrong-bom.pkg", parts));
    assert!(reported(&problems, &["./usr/local/bin/agent", "mode 100644", "100755"]), "{problems:#?}");
    assert!(reported(&problems, &["./usr/local/bin/agent", "CRC"]), "{problems:#?}");
    assert!(reported(&problems, &["Bom lists ./usr/local/bin/extra"]), "{problems:#?}");
}

#[test]
fn scripts_that_cannot_run_are_reported() {
    let workspace = Workspace::new();
    let mut parts = product::build_parts(&workspace.inputs()).unwrap();
    let mut scripts = FileTree::new(0o755, 0, 0);
    scripts.add_file("./preinstall", b"#!/bin/sh\nexit 0\n".to_vec(), 0o644).unwrap();
    scripts.add_file("./postinstall", b"exit 0\n".to_vec(), 0o755).unwrap();
    parts.scripts = gzip(&odc_archive(&scripts, 0).unwrap()).unwrap();
    let problems = problems(&workspace.write_parts("bad-scripts.pkg", parts));
    assert!(reported(&problems, &["./preinstall is not an executable file"]), "{problems:#?}");
    assert!(reported(&problems, &["./postinstall does not start with #!"]), "{problems:#?}");
}

#[test]
fn documents_that_name_the_wrong_package_are_reported() {
    let workspace = Workspace::new();
    let mut parts = product::build_parts(&workspace.inputs()).unwrap();
    parts.package_info = parts
        .package_info
        .replace("identifier=\"io.endpointagent.agent\"", "identifier=\"com.other\"")
        .replace("<relocate/>", "<relocate><bundle id=\"io.endpointagent.selfservice\"/></relocate>");
    parts.distribution = parts.distribution.replace("enable_localSystem=\"true\"", "enable_localSystem=\"false\"");
    let package = workspace.write_parts("wrong-documents.pkg", parts);
    let problems = problems(&package);
    assert!(reported(&problems, &["PackageInfo: identifier", "com.other"]), "{problems:#?}");
    assert!(reported(&problems, &["<relocate> names \"io.endpointagent.selfservice\""]), "{problems:#?}");
    assert!(reported(&problems, &["enable_localSystem"]), "{problems:#?}");
    let Err(VerifyError::Problems { problems, .. }) = verify(&workspace.build(), Some("9.9.9")) else {
        panic!("a version other than the expected one passed");
    };
    assert!(reported(&problems, &["expected \"9.9.9\""]), "{problems:#?}");
}

#[test]
fn a_version_that_is_not_semver_is_refused() {
    let workspace = Workspace::new();
    let mut inputs = workspace.inputs();
    inputs.version = "1.2".to_string();
    let error = product::write_package(&inputs, &workspace.path("out")).unwrap_err();
    assert!(error.to_string().contains("\"1.2\" is not a semantic version"), "{error}");
}
