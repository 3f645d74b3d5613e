//! InstalledApplicationList: every `.app` bundle of the inventory's application
//! scan (the Applications folders, each user's included), from its `Info.plist`.

use serde::Serialize;

use super::built::Built;
use crate::inventory::{Application, Inventory};

#[derive(Serialize)]
struct InstalledApplicationListBody {
    #[serde(rename = "InstalledApplicationList")]
    applications: Vec<InstalledApplication>,
}

#[derive(Serialize)]
struct InstalledApplication {
    #[serde(rename = "Identifier", skip_serializing_if = "Option::is_none")]
    identifier: Option<String>,
    #[serde(rename = "Version", skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(rename = "ShortVersion", skip_serializing_if = "Option::is_none")]
    short_version: Option<String>,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "BundleSize")]
    bundle_size: u64,
}

/// The InstalledApplicationList keys.
pub(crate) fn build(inventory: &Inventory) -> Built {
    let applications: Vec<InstalledApplication> = inventory.applications.iter().map(application).collect();
    let count = applications.len();
    Built::from_body(&InstalledApplicationListBody { applications }, count, Vec::new())
}

fn application(application: &Application) -> InstalledApplication {
    InstalledApplication {
        identifier: application.bundle_id.clone(),
        version: application.version.clone(),
        short_version: application.short_version.clone(),
        name: application.name.clone(),
        bundle_size: application.size_bytes,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_bundle_is_an_item_with_its_known_keys() {
        let inventory = Inventory {
            applications: vec![
                Application {
                    name: "Firefox".into(),
                    bundle_id: Some("org.mozilla.firefox".into()),
                    version: Some("13024.11.5".into()),
                    short_version: Some("130.0".into()),
                    size_bytes: 389_021_696,
                    path: "/Applications/Firefox.app".into(),
                },
                Application {
                    name: "Odd".into(),
                    bundle_id: None,
                    version: None,
                    short_version: None,
                    size_bytes: 12,
                    path: "/Applications/Odd.app".into(),
                },
            ],
            ..Inventory::default()
        };
        let built = build(&inventory);
        assert_eq!(built.count, 2);
        assert_eq!(
            serde_json::Value::Object(built.keys),
            json!({ "InstalledApplicationList": [
                { "Identifier": "org.mozilla.firefox", "Version": "13024.11.5", "ShortVersion": "130.0",
                  "Name": "Firefox", "BundleSize": 389_021_696 },
                { "Name": "Odd", "BundleSize": 12 }
            ]})
        );
    }
}
