//! The Self Service app: `verify` catches an app that would not open Self Service,
//! and the app's executable becomes the installed agent's `self-service open`, or
//! says in a dialog that the agent is missing.

use std::path::Path;
use std::process::Command;

use endpoint_package::app::{AppFiles, EXECUTABLE_PATH, PKG_INFO_PATH};
use endpoint_package::bom::bom;
use endpoint_package::cpio::{gzip, odc_archive};
use endpoint_package::product;
use endpoint_package::tree::FileTree;

use crate::support::{Workspace, problems, rebuilt_without, reported, repository, unpack};

/// The payload the repository builds, with the app made of `info_plist` and
/// `executable` instead.
fn payload_with_app(info_plist: &str, executable: &str) -> FileTree {
    let read = |relative: &str| std::fs::read(repository().join(relative)).unwrap();
    let app = AppFiles { info_plist: info_plist.as_bytes().to_vec(), executable: executable.as_bytes().to_vec() };
    let launchd_job = read("launchd/io.endpointagent.agent.plist");
    product::payload_tree(b"#!/bin/sh\n".to_vec(), launchd_job, read("pkg/uninstall.sh"), app).unwrap()
}

/// A package built from the repository whose Payload and Bom hold `tree`.
fn package_with_payload(workspace: &Workspace, name: &str, tree: &FileTree) -> std::path::PathBuf {
    let mut parts = product::build_parts(&workspace.inputs()).unwrap();
    parts.payload = gzip(&odc_archive(tree, 0).unwrap()).unwrap();
    parts.bom = bom(tree, 0).unwrap();
    workspace.write_parts(name, parts)
}

/// The repository's Info.plist template filled in for `version`.
fn info_plist(version: &str) -> String {
    let template = std::fs::read_to_string(repository().join("pkg/self-service-app/Info.plist")).unwrap();
    template.replace("{{VERSION}}", version).replace("{{MINIMUM_MACOS}}", product::MINIMUM_MACOS)
}

#[test]
fn an_app_that_would_not_open_self_service_is_reported() {
    let workspace = Workspace::new();
    let mut tree = payload_with_app(&info_plist("0.0.9"), "#!/bin/sh\nexec /usr/local/bin/agent self-service list\n");
    let mut executable = tree.get(EXECUTABLE_PATH).unwrap().clone();
    executable.permissions = 0o664;
    tree = rebuilt_without(&tree, EXECUTABLE_PATH);
    tree.add(executable).unwrap();
    let problems = problems(&package_with_payload(&workspace, "wrong-app.pkg", &tree));
    assert!(
        reported(&problems, &["Info.plist: CFBundleVersion is Some(\"0.0.9\"), expected \"0.1.0\""]),
        "{problems:#?}"
    );
    assert!(reported(&problems, &["Info.plist: CFBundleShortVersionString"]), "{problems:#?}");
    assert!(reported(&problems, &["Endpoint Self Service never runs /usr/local/bin/agent self-service open"]));
    assert!(reported(&problems, &["Endpoint Self Service is not executable by everyone"]), "{problems:#?}");
    assert!(reported(&problems, &["writable by root alone, not 0:0 mode 664"]), "{problems:#?}");
}

#[test]
fn an_app_missing_a_file_is_reported() {
    let workspace = Workspace::new();
    let tree = payload_with_app(&info_plist("0.1.0"), "#!/bin/sh\nexec /usr/local/bin/agent self-service open\n");
    let tree = rebuilt_without(&tree, PKG_INFO_PATH);
    let problems = problems(&package_with_payload(&workspace, "no-pkginfo.pkg", &tree));
    assert!(reported(&problems, &["the Payload holds no file", "Contents/PkgInfo"]), "{problems:#?}");
}

/// Runs `launcher` with `bin` first on `PATH`, as LaunchServices starts an app.
fn open_app(launcher: &Path, bin: &Path) -> std::process::Output {
    let path = format!("{}:/usr/bin:/bin", bin.display());
    Command::new(launcher).env_clear().env("PATH", path).output().unwrap()
}

#[test]
fn the_app_becomes_the_installed_agents_self_service_page_or_says_it_is_missing() {
    let workspace = Workspace::new();
    unpack(&workspace.build(), &workspace.path("archive"));
    unpack(&workspace.path("archive/endpoint-agent.pkg/Payload"), &workspace.path("root"));
    let installed = std::fs::read_to_string(workspace.path("root").join(EXECUTABLE_PATH)).unwrap();
    // The same script with the agent's path pointing at a stand-in that records how
    // it was started (this machine's /usr/local/bin is not the test's to change).
    let agent = workspace.path("agent-stand-in");
    let launcher = workspace.path("launcher");
    std::fs::write(&launcher, installed.replace("/usr/local/bin/agent", &agent.display().to_string())).unwrap();
    let bin = workspace.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = workspace.path("calls");
    let record = format!("#!/bin/sh\necho \"$(basename \"$0\") $*\" >> '{}'\nexit 7\n", calls.display());
    std::fs::write(&agent, &record).unwrap();
    std::fs::write(bin.join("osascript"), &record).unwrap();
    for script in [&launcher, &agent, &bin.join("osascript")] {
        std::fs::set_permissions(script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }

    let output = open_app(&launcher, &bin);
    assert_eq!(output.status.code(), Some(7), "the agent's own exit status: the app became the agent");
    assert_eq!(std::fs::read_to_string(&calls).unwrap(), "agent-stand-in self-service open\n");

    std::fs::remove_file(&agent).unwrap();
    std::fs::remove_file(&calls).unwrap();
    let output = open_app(&launcher, &bin);
    assert_eq!(output.status.code(), Some(1));
    let said = std::fs::read_to_string(&calls).unwrap();
    assert!(said.starts_with("osascript -e display alert \"Endpoint Self Service\""), "{said}");
    assert!(said.contains("Endpoint Agent is not installed on this Mac"), "{said}");
}
