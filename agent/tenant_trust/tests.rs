//! The pins, the CA file's checks and the connection check's decisions.

use std::os::unix::fs::PermissionsExt;

use super::connection_check::{BoxError, ConnectionRefused, check_pin, renamed};
use super::*;
use crate::config::TrustedWriters;

/// A self-signed P-256 certificate made with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=Pin Fixture"`.
const FIXTURE: &str = include_str!("../../tests/fixtures/tls/pin-fixture.pem");

/// Its pin, from
/// `openssl x509 -in pin-fixture.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`.
const FIXTURE_PIN: &str = "5R6EUlmy6iVE9Ox5exbqmOJ3D86UGKoo8NFD6gHVUEk=";

/// The same, from `... | openssl dgst -sha256` (hex).
const FIXTURE_PIN_HEX: &str = "e51e845259b2ea2544f4ec797b16ea98e2770fce9418aa28f0d143ea01d55049";

fn fixture_der() -> Vec<u8> {
    pem_certificates(FIXTURE).unwrap().remove(0)
}

#[test]
fn the_pin_of_a_certificate_is_the_sha256_of_its_public_key_as_openssl_computes_it() {
    let pin = SpkiPin::of_certificate(&fixture_der()).unwrap();
    assert_eq!(pin.to_string(), FIXTURE_PIN);
    assert_eq!(SpkiPin::parse(FIXTURE_PIN).unwrap(), pin);
    assert_eq!(SpkiPin::parse(FIXTURE_PIN_HEX).unwrap(), pin);
    assert_eq!(SpkiPin::parse(&FIXTURE_PIN_HEX.to_uppercase()).unwrap(), pin);
    let der = fixture_der();
    let key = subject_public_key_info(&der).unwrap();
    assert_eq!(key[0], 0x30, "the element with its tag");
    assert_eq!(key.len(), 91, "a P-256 SubjectPublicKeyInfo is 91 bytes");
}

#[test]
fn malformed_pins_are_refused() {
    let cases = [
        "",
        "not base64!",
        "5R6EUlmy6iVE9Ox5exbqmOJ3D86UGKoo8NFD6gHVUE=",
        "e51e845259b2ea2544f4ec797b16ea98e2770fce9418aa28f0d143ea01d5504",
        "e51e845259b2ea2544f4ec797b16ea98e2770fce9418aa28f0d143ea01d5504g",
        "sha256//5R6EUlmy6iVE9Ox5exbqmOJ3D86UGKoo8NFD6gHVUEk=",
        "AAAA",
    ];
    for text in cases {
        assert!(matches!(SpkiPin::parse(text), Err(TrustProblem::NotAPin { .. })), "{text:?}");
    }
}

#[test]
fn pins_come_one_or_several_separated_by_commas_or_spaces() {
    let other = "A".repeat(43) + "=";
    let list = SpkiPin::parse_list(&format!(" {FIXTURE_PIN},{other}\n{FIXTURE_PIN_HEX} ")).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0], list[2]);
    assert_eq!(list[1].to_string(), other);
    assert!(SpkiPin::parse_list(" , ").is_err());
    let problem = SpkiPin::parse_list(&format!("{FIXTURE_PIN}, oops")).unwrap_err();
    assert_eq!(
        problem.to_string(),
        r#"expected the base64 (44 characters) or hex (64 digits) of a SHA-256, found "oops""#
    );
}

#[test]
fn pem_blocks_are_read_and_text_around_them_skipped() {
    let bundle = format!("# the tenant's CA\n{FIXTURE}\nsome note\n{FIXTURE}");
    assert_eq!(pem_certificates(&bundle).unwrap().len(), 2);
    let cases = [
        ("", "no -----BEGIN CERTIFICATE----- block"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no -----BEGIN CERTIFICATE----- block"),
        (
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "certificate 1 is not base64 of a DER certificate",
        ),
        (
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
            "certificate 1 is not base64 of a DER certificate",
        ),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n", "certificate 1 has no -----END CERTIFICATE----- line"),
    ];
    for (text, expected) in cases {
        assert_eq!(pem_certificates(text).unwrap_err(), expected, "{text:?}");
    }
}

#[test]
fn no_bytes_are_a_certificate_unless_whole() {
    let der = fixture_der();
    for length in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
        assert!(subject_public_key_info(&der[..length]).is_none(), "{length} bytes");
    }
    let mut longer = der.clone();
    longer.push(0);
    assert!(subject_public_key_info(&longer).is_none(), "trailing bytes");
}

/// Writes `bytes` to a file in `folder` with `mode`.
fn file_with(folder: &tempfile::TempDir, bytes: &[u8], mode: u32) -> PathBuf {
    let path = folder.path().join("tenant-ca.pem");
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn a_ca_file_must_be_pem_bounded_and_written_by_root_alone_in_folders_only_root_may_write() {
    let folder = tempfile::tempdir().unwrap();
    let writers = TrustedWriters::for_root(folder.path());
    let read = |path: &Path| writers.read_ca_file(path);
    let good = file_with(&folder, FIXTURE.as_bytes(), 0o644);
    assert_eq!(read(&good).unwrap().der, [fixture_der()]);
    assert!(TenantTrust::new(Some(&read(&good).unwrap()), &[]).is_ok());

    let missing = folder.path().join("missing.pem");
    assert!(matches!(read(&missing), Err(TrustProblem::Unreadable { .. })));
    if !nix::unistd::geteuid().is_root() {
        let closed = file_with(&folder, FIXTURE.as_bytes(), 0o000);
        assert!(matches!(read(&closed), Err(TrustProblem::ClosedToThisUser { .. })), "root's alone");
    }
    let writable = file_with(&folder, FIXTURE.as_bytes(), 0o664);
    let problem = read(&writable).unwrap_err();
    assert_eq!(
        problem.to_string(),
        format!(
            "the CA file {} cannot be believed: writable by group or others (mode 0664) (it decides whom the agent trusts)",
            writable.display()
        )
    );
    assert!(read(folder.path()).is_err(), "a folder is no CA file");

    // A folder on the way that others may write: the file could be swapped.
    let open_folder = folder.path().join("shared");
    std::fs::create_dir(&open_folder).unwrap();
    std::fs::set_permissions(&open_folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let swappable = open_folder.join("ca.pem");
    std::fs::write(&swappable, FIXTURE).unwrap();
    std::fs::set_permissions(&swappable, std::fs::Permissions::from_mode(0o644)).unwrap();
    let problem = read(&swappable).unwrap_err().to_string();
    assert!(problem.contains(&format!("folder {} is writable by group or others", open_folder.display())), "{problem}");

    let good = file_with(&folder, FIXTURE.as_bytes(), 0o644);
    std::fs::write(&good, b"\x00\x01 not a certificate").unwrap();
    let problem = read(&good).unwrap_err();
    assert_eq!(
        problem.to_string(),
        format!("the CA file {} is not PEM certificates: no -----BEGIN CERTIFICATE----- block", good.display())
    );
    let mut huge = FIXTURE.repeat(1 + (MAX_CA_FILE_BYTES as usize) / FIXTURE.len()).into_bytes();
    huge.truncate(MAX_CA_FILE_BYTES as usize + 1);
    let too_large = file_with(&folder, &huge, 0o644);
    assert!(matches!(read(&too_large), Err(TrustProblem::TooLarge { .. })));
    huge.truncate(MAX_CA_FILE_BYTES as usize - 100);
    let at_the_limit = file_with(&folder, &huge, 0o644);
    assert!(!matches!(read(&at_the_limit), Err(TrustProblem::TooLarge { .. })), "1 MiB is read");
}

#[test]
fn a_connection_passes_only_with_a_pinned_key() {
    let der = fixture_der();
    let pin = SpkiPin::parse(FIXTURE_PIN).unwrap();
    let other = SpkiPin::parse(&("A".repeat(43) + "=")).unwrap();
    let tenant = "https://tenant.example:8443/";
    assert!(check_pin(Some(&der), &[other, pin], tenant).is_ok());
    let refused = check_pin(Some(&der), &[other], tenant).unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!(
            "the tenant's public key matches no tenant.pinned_spki_sha256 (https://tenant.example:8443/): the server's is {FIXTURE_PIN}"
        )
    );
    assert!(matches!(check_pin(None, &[pin], tenant), Err(ConnectionRefused::NotTls { .. })));
    assert!(matches!(check_pin(Some(b"garbage"), &[pin], tenant), Err(ConnectionRefused::PinMismatch { .. })));
}

#[test]
fn a_connection_failing_on_the_certificate_is_named_by_that_check() {
    let tenant = "https://tenant.example";
    let wrapped = |text: &str| -> BoxError {
        Box::new(std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, text.to_string())))
    };
    let renamed_text = |text: &str| renamed(wrapped(text), tenant).to_string();
    assert_eq!(
        renamed_text("invalid peer certificate: UnknownIssuer"),
        "the tenant's certificate is not trusted (https://tenant.example): invalid peer certificate: UnknownIssuer"
    );
    assert_eq!(
        renamed_text("The certificate was not trusted."),
        "the tenant's certificate is not trusted (https://tenant.example): The certificate was not trusted."
    );
    assert_eq!(renamed_text("Connection refused (os error 111)"), "Connection refused (os error 111)");
}
