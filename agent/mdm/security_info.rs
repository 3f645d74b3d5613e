//! SecurityInfo: FileVault (`fdesetup status`), System Integrity Protection
//! (`system_profiler`) and how the Mac is enrolled (`profiles status -type
//! enrollment`), from the inventory.
//!
//! `FDE_Enabled` follows the tool's own first line: `FileVault is On` (also while
//! encrypting) is `true`, `FileVault is Off` (also while decrypting or deferred)
//! is `false`, and wording the agent cannot read leaves it out.

use serde::Serialize;

use super::built::{Built, known};
use crate::inventory::{FileVaultState, Inventory};

#[derive(Serialize)]
struct SecurityInfoBody {
    #[serde(rename = "SecurityInfo")]
    security_info: SecurityInfo,
}

#[derive(Serialize)]
struct SecurityInfo {
    #[serde(rename = "FDE_Enabled", skip_serializing_if = "Option::is_none")]
    filevault_enabled: Option<bool>,
    #[serde(rename = "SystemIntegrityProtectionEnabled", skip_serializing_if = "Option::is_none")]
    system_integrity_protection: Option<bool>,
    #[serde(rename = "ManagementStatus", skip_serializing_if = "Option::is_none")]
    management_status: Option<ManagementStatus>,
}

#[derive(Serialize)]
struct ManagementStatus {
    #[serde(rename = "EnrolledViaDEP", skip_serializing_if = "Option::is_none")]
    enrolled_via_dep: Option<bool>,
    #[serde(rename = "UserApprovedEnrollment", skip_serializing_if = "Option::is_none")]
    user_approved: Option<bool>,
}

/// The SecurityInfo keys.
pub(crate) fn build(inventory: &Inventory) -> Built {
    let security = &inventory.security;
    let filevault_enabled = security.filevault.as_ref().and_then(|filevault| match filevault.state {
        FileVaultState::On | FileVaultState::Encrypting => Some(true),
        FileVaultState::Off | FileVaultState::Decrypting => Some(false),
        FileVaultState::Unknown => None,
    });
    let enrollment = security.enrollment.as_ref();
    let enrolled_via_dep = enrollment.and_then(|enrollment| enrollment.enrolled_via_dep);
    let user_approved = enrollment.and_then(|enrollment| enrollment.user_approved);
    let management_status = (enrolled_via_dep.is_some() || user_approved.is_some())
        .then_some(ManagementStatus { enrolled_via_dep, user_approved });
    let count = known(&[
        filevault_enabled.is_some(),
        security.system_integrity_protection.is_some(),
        enrolled_via_dep.is_some(),
        user_approved.is_some(),
    ]);
    let security_info = SecurityInfo {
        filevault_enabled,
        system_integrity_protection: security.system_integrity_protection,
        management_status,
    };
    Built::from_body(&SecurityInfoBody { security_info }, count, Vec::new())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::inventory::{Enrollment, FileVault, Security};

    fn with_filevault(state: FileVaultState) -> Inventory {
        let filevault = FileVault { state, percent_completed: None, deferred_user: None, detail: String::new() };
        Inventory { security: Security { filevault: Some(filevault), ..Security::default() }, ..Inventory::default() }
    }

    #[test]
    fn filevault_follows_the_tools_first_line_and_unknown_stays_out() {
        let cases = [
            (FileVaultState::On, json!({ "FDE_Enabled": true })),
            (FileVaultState::Encrypting, json!({ "FDE_Enabled": true })),
            (FileVaultState::Off, json!({ "FDE_Enabled": false })),
            (FileVaultState::Decrypting, json!({ "FDE_Enabled": false })),
            (FileVaultState::Unknown, json!({})),
        ];
        for (state, expected) in cases {
            let built = build(&with_filevault(state));
            assert_eq!(serde_json::Value::Object(built.keys), json!({ "SecurityInfo": expected }), "{state:?}");
        }
        assert_eq!(build(&Inventory::default()).count, 0, "nothing known on a device without these tools");
    }

    #[test]
    fn enrollment_and_sip_fill_their_keys_when_known() {
        let mut inventory = with_filevault(FileVaultState::On);
        inventory.security.system_integrity_protection = Some(true);
        inventory.security.enrollment =
            Some(Enrollment { enrolled_via_dep: Some(true), user_approved: None, ..Enrollment::default() });
        let built = build(&inventory);
        assert_eq!(
            serde_json::Value::Object(built.keys),
            json!({ "SecurityInfo": { "FDE_Enabled": true, "SystemIntegrityProtectionEnabled": true,
                                      "ManagementStatus": { "EnrolledViaDEP": true } } })
        );
        assert_eq!(built.count, 3);
    }
}
