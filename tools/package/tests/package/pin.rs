//! `--self-update-team-id`: a pinned package carries `config.d/00-package.plist`
//! (root:wheel 0644, only `self_update.team_id`), an unpinned one carries no
//! fragment, a bad Team ID is refused, and `verify` names the pinned team and
//! refuses a malformed fragment.

use std::path::Path;
use std::process::{Command, Output};

use endpoint_package::app::AppFiles;
use endpoint_package::bom::bom;
use endpoint_package::cpio::{gzip, odc_archive};
use endpoint_package::pin::{CONFIG_DROPIN_PATH, FRAGMENT_PATH};
use endpoint_package::product::{self, BuildInputs};
use endpoint_package::tree::{Entry, EntryKind, FileTree};
use endpoint_package::verify::verify;

use crate::support::{Workspace, problems, reported, repository, unpack};

/// The fragment a package pinned to ABCDE12345 must carry, without its whitespace.
const PINNED: &str = "<dict><key>self_update</key><dict><key>team_id</key><string>ABCDE12345</string></dict></dict>";

/// The mtree line bsdtar gives for `path` in the cpio archive `archive`: its type,
/// mode and owner exactly as the archive holds them.
fn listed(archive: &Path, path: &str) -> Option<String> {
    let output = Command::new("bsdtar")
        .args(["-cf", "-", "--format=mtree", "--options=!all,type,mode,uid,gid"])
        .arg(format!("@{}", archive.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let escaped = path.replace(' ', "\\040");
    let manifest = String::from_utf8(output.stdout).unwrap();
    manifest.lines().find(|line| line.split(' ').next() == Some(escaped.as_str())).map(|line| {
        let mut words: Vec<&str> = line.split(' ').skip(1).collect();
        words.sort_unstable();
        words.join(" ")
    })
}

/// Runs the `package` binary with `arguments`.
fn package_tool(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_package")).args(arguments).output().unwrap()
}

#[test]
fn a_pinned_package_carries_the_fragment_roots_and_readable_by_all() {
    let workspace = Workspace::new();
    let package = workspace.build_pinned(Some("ABCDE12345"));
    let report = verify(&package, Some("0.1.0")).expect("a pinned package is well formed");
    assert_eq!(report.pinned_team.as_deref(), Some("ABCDE12345"));
    assert!(report.payload_paths.iter().any(|path| path == FRAGMENT_PATH), "{:?}", report.payload_paths);

    unpack(&package, &workspace.path("archive"));
    let payload = workspace.path("archive/endpoint-agent.pkg/Payload");
    assert_eq!(listed(&payload, FRAGMENT_PATH).as_deref(), Some("gid=0 mode=644 type=file uid=0"));
    assert_eq!(listed(&payload, CONFIG_DROPIN_PATH).as_deref(), Some("gid=0 mode=755 type=dir uid=0"));
    unpack(&payload, &workspace.path("root"));
    let text = std::fs::read_to_string(workspace.path("root").join(FRAGMENT_PATH)).unwrap();
    assert!(text.starts_with("<?xml"), "{text}");
    assert!(text.split_whitespace().collect::<String>().contains(PINNED), "{text}");
    let value = plist::Value::from_file(workspace.path("root").join(FRAGMENT_PATH)).unwrap();
    let top = value.as_dictionary().unwrap();
    assert_eq!(top.keys().collect::<Vec<_>>(), ["self_update"]);
    let self_update = top["self_update"].as_dictionary().unwrap();
    assert_eq!(self_update.keys().collect::<Vec<_>>(), ["team_id"]);
    assert_eq!(self_update["team_id"].as_string(), Some("ABCDE12345"));
}

#[test]
fn an_unpinned_package_carries_no_fragment() {
    let workspace = Workspace::new();
    let package = workspace.build();
    let report = verify(&package, None).unwrap();
    assert_eq!(report.pinned_team, None);
    assert!(
        !report.payload_paths.iter().any(|path| path.starts_with(CONFIG_DROPIN_PATH)),
        "{:?}",
        report.payload_paths
    );
    unpack(&package, &workspace.path("archive"));
    assert_eq!(listed(&workspace.path("archive/endpoint-agent.pkg/Payload"), CONFIG_DROPIN_PATH), None);
}

#[test]
fn a_team_id_that_is_not_one_is_refused_and_nothing_is_written() {
    let workspace = Workspace::new();
    for bad in ["abcde12345", "ABCDE1234", "ABCDE123456", "ABCDE 1234", ""] {
        let inputs = BuildInputs { self_update_team_id: Some(bad.to_string()), ..workspace.inputs() };
        let error = product::write_package(&inputs, &workspace.path("out")).unwrap_err().to_string();
        assert!(error.contains(&format!("{bad:?} is not an Apple Developer Team ID")), "{error}");
    }
    assert!(!workspace.path("out").exists(), "no package was written");

    let output = package_tool(&[
        "build",
        "--binary",
        workspace.path("agent").to_str().unwrap(),
        "--output-dir",
        workspace.path("out").to_str().unwrap(),
        "--self-update-team-id",
        "abcde12345",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--self-update-team-id \"abcde12345\" is not an Apple Developer Team ID"), "{said}");
    assert!(!workspace.path("out").exists(), "no package was written");
}

#[test]
fn build_and_verify_print_the_pinned_team() {
    let workspace = Workspace::new();
    let binary = workspace.path("agent");
    let out = workspace.path("out");
    let output = package_tool(&[
        "build",
        "--binary",
        binary.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
        "--self-update-team-id",
        "ABCDE12345",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("self-update pinned to team ABCDE12345"));
    let package = String::from_utf8(output.stdout).unwrap();
    let output = package_tool(&["verify", package.trim()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.lines().any(|line| line == "self-update pinned to team ABCDE12345"), "{said}");
    assert!(said.contains(FRAGMENT_PATH), "{said}");

    let unpinned = workspace.build();
    let output = package_tool(&["verify", unpinned.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("self-update not pinned by the package"), "{said}");
}

/// The repository's payload with `fragments` (path, contents, mode) in the drop-in
/// folder, whose own mode is `folder_mode`.
fn payload_with_fragments(fragments: &[(&str, &str, u32)], folder_mode: u32) -> FileTree {
    let read = |relative: &str| std::fs::read(repository().join(relative)).unwrap();
    let info_plist = std::fs::read_to_string(repository().join("pkg/self-service-app/Info.plist")).unwrap();
    let info_plist = info_plist.replace("{{VERSION}}", "0.1.0").replace("{{MINIMUM_MACOS}}", product::MINIMUM_MACOS);
    let app = AppFiles { info_plist: info_plist.into_bytes(), executable: read("pkg/self-service-app/launcher") };
    let launchd_job = read("launchd/io.endpointagent.agent.plist");
    let mut tree = product::payload_tree(b"#!/bin/sh\n".to_vec(), launchd_job, read("pkg/uninstall.sh"), app).unwrap();
    tree.add_directory(CONFIG_DROPIN_PATH, folder_mode, 0, 0).unwrap();
    for (path, contents, permissions) in fragments {
        let kind = EntryKind::File(contents.as_bytes().to_vec());
        tree.add(Entry { path: path.to_string(), kind, permissions: *permissions, uid: 0, gid: 0 }).unwrap();
    }
    tree
}

/// A package built from the repository whose Payload and Bom hold `tree`.
fn package_with_payload(workspace: &Workspace, name: &str, tree: &FileTree) -> std::path::PathBuf {
    let mut parts = product::build_parts(&workspace.inputs()).unwrap();
    parts.payload = gzip(&odc_archive(tree, 0).unwrap()).unwrap();
    parts.bom = bom(tree, 0).unwrap();
    let start = parts.package_info.find("<payload ").unwrap();
    let end = start + parts.package_info[start..].find("/>").unwrap() + 2;
    let kilobytes = tree.data_size().div_ceil(1024);
    let counts = format!("<payload numberOfFiles=\"{}\" installKBytes=\"{kilobytes}\"/>", tree.len());
    parts.package_info.replace_range(start..end, &counts);
    workspace.write_parts(name, parts)
}

#[test]
fn a_malformed_or_loose_fragment_is_refused() {
    let workspace = Workspace::new();
    let wrong = "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>self_update</key><dict>\
        <key>team_id</key><string>abc</string></dict><key>tenant.url</key><string>https://evil.example</string></dict></plist>";
    let stray = "./Library/Application Support/EndpointAgent/config.d/10-extra.json";
    let tree = payload_with_fragments(&[(FRAGMENT_PATH, wrong, 0o664), (stray, "{}", 0o644)], 0o775);
    let found = problems(&package_with_payload(&workspace, "malformed.pkg", &tree));
    for expected in [
        "00-package.plist: sets \"tenant.url\" besides self_update",
        "00-package.plist: self_update.team_id \"abc\" is not a Team ID",
        "00-package.plist must be a root:wheel file with mode 644, not file 0:0 mode 664",
        "config.d must be a root:wheel folder nobody else can write",
        "holds ./Library/Application Support/EndpointAgent/config.d/10-extra.json; a package ships no fragment but",
    ] {
        assert!(reported(&found, &[expected]), "{expected}: {found:#?}");
    }

    let broken = payload_with_fragments(&[(FRAGMENT_PATH, "<plist><dict>", 0o644)], 0o755);
    let problems = problems(&package_with_payload(&workspace, "broken.pkg", &broken));
    assert!(reported(&problems, &["00-package.plist: does not parse"]), "{problems:#?}");
    assert_eq!(problems.len(), 1, "only the fragment is wrong: {problems:#?}");
}
