//! What an app item says after an install, in each type's words.

use std::path::PathBuf;

use super::super::test_items::{package, present};
use super::*;
use crate::blueprint::{Enforcement, InstallSource};
use crate::downloads::{Downloaded, Obtained};

fn delivered(identifier: &str, version: &str) -> Delivered {
    let found = present(identifier, Some(version));
    let download = Downloaded { path: PathBuf::from("/cache/x.pkg"), bytes: 5, obtained: Obtained::Copied };
    Delivered { download, found }
}

#[test]
fn the_app_is_read_again_after_an_install_and_named_in_each_types_words() {
    let (package, two) = (package(InstallSource::Pkg), AppVersion::parse("2.0").unwrap());
    let custom = AppItem {
        package: &package,
        enforcement: Enforcement::AuditAndEnforce,
        wanted: Wanted::Minimum(Some(&two)),
        remembered: "",
        blocking: &super::super::test_items::NO_BLOCKING,
    };
    let auto = AppItem { wanted: Wanted::Catalog { title: "Foo", version: &two }, ..custom };
    let foo = "com.example.foo";
    let cases = [
        (&custom, delivered(foo, "2.1"), Ok("installed: Foo.app 2.1 from the pkg (copied 5 bytes, sha256 verified)")),
        (&auto, delivered(foo, "2.1"), Ok("installed: Foo 2.0 (copied 5 bytes, sha256 verified)")),
        (&custom, delivered(foo, "1.0"), Err("the pkg installed Foo.app 1.0, still below the required 2.0")),
        (&auto, delivered(foo, "1.0"), Err("the catalog's download installed Foo 1.0, not 2.0")),
        (
            &custom,
            delivered("com.other", "2.0"),
            Err("the pkg installed Foo.app with bundle id com.other, not the expected com.example.foo"),
        ),
        (
            &auto,
            delivered("com.other", "2.0"),
            Err("the catalog's download installed Foo.app with bundle id com.other"),
        ),
    ];
    for (app, delivered, expected) in cases {
        let expected = expected.map(str::to_string).map_err(str::to_string);
        assert_eq!(installed(app, &delivered, &Reason::FirstInstall), expected);
    }
}
