//! App bundles made on disk: XML and binary `Info.plist` files (the binary one
//! written with the plist crate, as Xcode writes them), missing keys, a broken
//! plist, vendor subfolders, users' own Applications folders and links.

use super::*;

/// Makes `relative` under `root` an app bundle with these `Info.plist` keys and
/// an executable of `size` bytes.
fn bundle(root: &Path, relative: &str, keys: &[(&str, &str)], binary: bool, size: usize) -> PathBuf {
    let app = root.join(relative);
    std::fs::create_dir_all(app.join("Contents/MacOS")).unwrap();
    let mut dictionary = plist::Dictionary::new();
    for (key, value) in keys {
        dictionary.insert((*key).to_string(), plist::Value::String((*value).to_string()));
    }
    let info = app.join("Contents/Info.plist");
    let value = plist::Value::Dictionary(dictionary);
    if binary { value.to_file_binary(&info) } else { value.to_file_xml(&info) }.unwrap();
    std::fs::write(app.join("Contents/MacOS/main"), vec![0u8; size]).unwrap();
    app
}

fn never() -> bool {
    false
}

#[test]
fn every_bundle_is_found_and_read_from_xml_and_binary_plists() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let firefox = [
        ("CFBundleDisplayName", "Firefox"),
        ("CFBundleIdentifier", "org.mozilla.firefox"),
        ("CFBundleShortVersionString", "128.0"),
        ("CFBundleVersion", "12824.6.2"),
    ];
    let firefox_app = bundle(root, "Applications/Firefox.app", &firefox, true, 1000);
    assert!(std::fs::read(firefox_app.join("Contents/Info.plist")).unwrap().starts_with(b"bplist00"));
    let word = [("CFBundleName", "Microsoft Word"), ("CFBundleIdentifier", "com.microsoft.Word")];
    bundle(root, "Applications/Microsoft Office/Microsoft Word.app", &word, false, 10);
    bundle(root, "Users/jane/Applications/Tool.app", &[("CFBundleIdentifier", "com.example.tool")], false, 5);
    let broken = root.join("Applications/Broken.app/Contents");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("Info.plist"), "not a plist").unwrap();
    bundle(root, "Applications/Firefox.app/Contents/Helpers/Helper.app", &[("CFBundleName", "Helper")], false, 1);
    std::os::unix::fs::symlink(&firefox_app, root.join("Applications/Firefox link.app")).unwrap();
    std::fs::write(root.join("Applications/notes.app"), "a file named like an app").unwrap();

    let applications = scan_applications(root, &never).unwrap().applications;
    let summary: Vec<_> = applications
        .iter()
        .map(|app| {
            let path = Path::new(&app.path).strip_prefix(root).unwrap().display().to_string();
            (app.name.as_str(), app.bundle_id.as_deref(), app.short_version.as_deref(), path)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("Broken", None, None, "Applications/Broken.app".to_string()),
            ("Firefox", Some("org.mozilla.firefox"), Some("128.0"), "Applications/Firefox.app".to_string()),
            (
                "Microsoft Word",
                Some("com.microsoft.Word"),
                None,
                "Applications/Microsoft Office/Microsoft Word.app".to_string()
            ),
            ("Tool", Some("com.example.tool"), None, "Users/jane/Applications/Tool.app".to_string()),
        ]
    );
    let firefox = &applications[1];
    assert_eq!(firefox.version.as_deref(), Some("12824.6.2"));
    let info_size = std::fs::metadata(firefox_app.join("Contents/Info.plist")).unwrap().len();
    let helper_size =
        std::fs::metadata(firefox_app.join("Contents/Helpers/Helper.app/Contents/Info.plist")).unwrap().len();
    assert_eq!(firefox.size_bytes, 1000 + info_size + 1 + helper_size, "every file inside the bundle, nested ones too");
}

#[test]
fn no_applications_folder_is_an_empty_list_and_a_stop_ends_the_walk() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(scan_applications(root.path(), &never).unwrap(), ApplicationScan::default());
    bundle(root.path(), "Applications/Foo.app", &[], false, 1);
    let error = scan_applications(root.path(), &|| true).unwrap_err();
    assert!(error.to_string().starts_with("the scan of the Applications folders was stopped"), "{error}");
}

#[test]
fn a_bundle_whose_info_plist_is_over_the_limits_is_skipped_and_named() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    bundle(root, "Applications/Good.app", &[("CFBundleName", "Good")], false, 1);
    let deep = bundle(root, "Users/eve/Applications/Deep.app", &[], false, 1);
    let nested = format!("<plist>{}{}</plist>", "<array>".repeat(100_000), "</array>".repeat(100_000));
    std::fs::write(deep.join("Contents/Info.plist"), nested).unwrap();
    let large = bundle(root, "Applications/Large.app", &[], false, 1);
    let info = std::fs::File::create(large.join("Contents/Info.plist")).unwrap();
    info.set_len(InputKind::InfoPlist.max_bytes() + 1).unwrap();

    let scan = scan_applications(root, &never).unwrap();
    let names: Vec<&str> = scan.applications.iter().map(|app| app.name.as_str()).collect();
    assert_eq!(names, ["Good"]);
    assert_eq!(scan.skipped.len(), 2, "{:?}", scan.skipped);
    assert!(
        scan.skipped[0].contains("Large.app/Contents/Info.plist: is larger than the 4 MiB limit"),
        "{:?}",
        scan.skipped
    );
    assert!(scan.skipped[1].contains("Deep.app/Contents/Info.plist: nests arrays"), "{:?}", scan.skipped);
    assert!(scan.skipped[1].ends_with("; the app is not listed"), "{:?}", scan.skipped);
}
