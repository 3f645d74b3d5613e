//! Just enough DER to read a certificate's subject common name, its validity
//! and its public key (for the inventory's certificates and the tenant's pins).
//!
//! A certificate is `SEQUENCE { tbsCertificate, signatureAlgorithm, signature }`
//! and `tbsCertificate` is `SEQUENCE { [0] version OPTIONAL, serialNumber,
//! signature, issuer, validity, subject, … }` (RFC 5280). The subject is a
//! sequence of sets of `{ type, value }`; the common name has type 2.5.4.3. When
//! a subject has several, the last (the most specific) is taken. The validity is
//! `SEQUENCE { notBefore, notAfter }`, each a UTCTime (`YYMMDDHHMMSSZ`, years 50–99
//! meaning 19xx) or a GeneralizedTime (`YYYYMMDDHHMMSSZ`).

use chrono::{DateTime, NaiveDateTime, Utc};

/// The DER of the object identifier 2.5.4.3 (`commonName`), without tag and length.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OBJECT_IDENTIFIER: u8 = 0x06;
const EXPLICIT_VERSION: u8 = 0xA0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// When a certificate starts and stops being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    /// Not valid before this.
    pub(crate) not_before: DateTime<Utc>,
    /// Not valid after this: when it expires.
    pub(crate) not_after: DateTime<Utc>,
}

/// One element: its tag and its content.
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
    /// The whole element: tag, length and content.
    whole: &'a [u8],
}

/// The subject's common name of the certificate `der`; `None` when it has none
/// or the bytes are not a certificate.
pub(crate) fn subject_common_name(der: &[u8]) -> Option<String> {
    let fields = to_be_signed_fields(der)?;
    let subject = fields.get(4).filter(|field| field.tag == SEQUENCE)?;
    let mut found = None;
    for set in children(subject.content)?.iter().filter(|element| element.tag == SET) {
        for pair in children(set.content)?.iter().filter(|element| element.tag == SEQUENCE) {
            let parts = children(pair.content)?;
            if let [kind, value] = parts.as_slice() {
                if kind.tag == OBJECT_IDENTIFIER && kind.content == COMMON_NAME {
                    found = text(value).or(found);
                }
            }
        }
    }
    found
}

/// The validity of the certificate `der`; `None` when the bytes are not a
/// certificate or a time cannot be read.
pub(crate) fn certificate_validity(der: &[u8]) -> Option<Validity> {
    let fields = to_be_signed_fields(der)?;
    let validity = fields.get(3).filter(|field| field.tag == SEQUENCE)?;
    match children(validity.content)?.as_slice() {
        [not_before, not_after] => Some(Validity { not_before: time(not_before)?, not_after: time(not_after)? }),
        _ => None,
    }
}

/// The whole `subjectPublicKeyInfo` element (tag and length included, as a pin
/// hashes it) of the certificate `der`; `None` when the bytes are not a certificate.
pub(crate) fn subject_public_key_info(der: &[u8]) -> Option<&[u8]> {
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    let field = to_be_signed_fields(der)?.into_iter().nth(5)?;
    (field.tag == SEQUENCE).then_some(field.whole)
}

/// The fields of `tbsCertificate` from the serial number on (the version, when
/// present, left out), so the validity is field 3 and the subject field 4.
fn to_be_signed_fields(der: &[u8]) -> Option<Vec<Element<'_>>> {
    let certificate = single(der, SEQUENCE)?;
    let to_be_signed = first(certificate.content, SEQUENCE)?;
    let mut fields = children(to_be_signed.content)?;
    if fields.first().is_some_and(|field| field.tag == EXPLICIT_VERSION) {
        fields.remove(0);
    }
    Some(fields)
}

/// A UTCTime or GeneralizedTime in UTC (`Z`), as DER requires them.
fn time(element: &Element<'_>) -> Option<DateTime<Utc>> {
    let text = std::str::from_utf8(element.content).ok()?.strip_suffix('Z')?;
    let full = match element.tag {
        UTC_TIME if text.len() == 12 => {
            let century = if text[..2].parse::<u8>().ok()? >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        GENERALIZED_TIME if text.len() == 14 => text.to_string(),
        _ => return None,
    };
    NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S").ok().map(|time| time.and_utc())
}

/// A certificate skeleton for other modules' tests: `common_name`, valid from
/// `not_before` to `not_after`. Unsigned: only its fields are ever read.
#[cfg(test)]
pub(crate) fn test_certificate(common_name: &str, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Vec<u8> {
    let time = |time: DateTime<Utc>| time.format("%Y%m%d%H%M%SZ").to_string().into_bytes();
    let (from, to) = (time(not_before), time(not_after));
    tests::certificate_valid(
        &[(0x0C, common_name.as_bytes())],
        true,
        (GENERALIZED_TIME, &from),
        (GENERALIZED_TIME, &to),
    )
}

/// A directory string as text: UTF8String, PrintableString, IA5String,
/// TeletexString (read as Latin-1) or BMPString (UTF-16).
fn text(element: &Element<'_>) -> Option<String> {
    match element.tag {
        0x0C | 0x13 | 0x16 => std::str::from_utf8(element.content).ok().map(str::to_string),
        0x14 => Some(element.content.iter().map(|byte| char::from(*byte)).collect()),
        0x1E => {
            let units: Vec<u16> =
                element.content.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]])).collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// `bytes` holds exactly one element, with tag `tag`.
fn single(bytes: &[u8], tag: u8) -> Option<Element<'_>> {
    let (element, rest) = read(bytes)?;
    (element.tag == tag && rest.is_empty()).then_some(element)
}

/// The first element of `bytes`, with tag `tag`.
fn first(bytes: &[u8], tag: u8) -> Option<Element<'_>> {
    read(bytes).map(|(element, _)| element).filter(|element| element.tag == tag)
}

/// Every element of `bytes`, in order; `None` when one is malformed.
fn children(mut bytes: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut elements = Vec::new();
    while !bytes.is_empty() {
        let (element, rest) = read(bytes)?;
        elements.push(element);
        bytes = rest;
    }
    Some(elements)
}

/// The element at the start of `bytes` and what follows it. Only one-byte tags
/// and definite lengths, as DER has.
fn read(bytes: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first_length, rest) = rest.split_first()?;
    let (length, rest) = if first_length < 0x80 {
        (usize::from(first_length), rest)
    } else {
        let count = usize::from(first_length & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count].iter().fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    let header = bytes.len() - rest.len();
    (rest.len() >= length)
        .then(|| (Element { tag, content: &rest[..length], whole: &bytes[..header + length] }, &rest[length..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of `tag` around `content`.
    fn element(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut bytes = vec![tag];
        if content.len() < 0x80 {
            bytes.push(content.len() as u8);
        } else {
            bytes.extend([0x82, (content.len() >> 8) as u8, content.len() as u8]);
        }
        bytes.extend_from_slice(content);
        bytes
    }

    /// A certificate skeleton whose subject holds `names` as (string tag, bytes).
    fn certificate(names: &[(u8, &[u8])], with_version: bool) -> Vec<u8> {
        certificate_valid(names, with_version, (UTC_TIME, b"240501000000Z"), (UTC_TIME, b"340501000000Z"))
    }

    /// A certificate skeleton valid from `not_before` to `not_after` (time tag, text).
    pub(super) fn certificate_valid(
        names: &[(u8, &[u8])],
        with_version: bool,
        not_before: (u8, &[u8]),
        not_after: (u8, &[u8]),
    ) -> Vec<u8> {
        let mut subject = Vec::new();
        for (tag, name) in names {
            let pair = [element(OBJECT_IDENTIFIER, COMMON_NAME), element(*tag, name)].concat();
            subject.extend(element(SET, &element(SEQUENCE, &pair)));
        }
        let issuer_pair = [element(OBJECT_IDENTIFIER, COMMON_NAME), element(0x0C, b"Issuer CA")].concat();
        let issuer = element(SEQUENCE, &element(SET, &element(SEQUENCE, &issuer_pair)));
        let mut to_be_signed = Vec::new();
        if with_version {
            to_be_signed.extend(element(EXPLICIT_VERSION, &element(0x02, &[2])));
        }
        to_be_signed.extend(element(0x02, &[0x01, 0x23]));
        to_be_signed.extend(element(SEQUENCE, &element(OBJECT_IDENTIFIER, &[0x2A, 0x86, 0x48])));
        to_be_signed.extend(issuer);
        let validity = [element(not_before.0, not_before.1), element(not_after.0, not_after.1)].concat();
        to_be_signed.extend(element(SEQUENCE, &validity));
        to_be_signed.extend(element(SEQUENCE, &subject));
        to_be_signed.extend(element(SEQUENCE, &[0u8; 200]));
        element(SEQUENCE, &[element(SEQUENCE, &to_be_signed), element(0x03, &[0, 1, 2])].concat())
    }

    /// Subject names as (string tag, bytes).
    type Names<'a> = &'a [(u8, &'a [u8])];

    #[test]
    fn the_subject_common_name_reads_in_every_string_form() {
        let bmp: Vec<u8> = "Gerät".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let cases: [(Names<'_>, bool, Option<&str>); 6] = [
            (&[(0x0C, "Mac – Gerät".as_bytes())], true, Some("Mac – Gerät")),
            (&[(0x13, b"Example Root")], false, Some("Example Root")),
            (&[(0x14, &[0x47, 0x65, 0x72, 0xE4, 0x74])], true, Some("Gerät")),
            (&[(0x1E, &bmp)], true, Some("Gerät")),
            (&[(0x13, b"Outer"), (0x0C, b"Inner")], true, Some("Inner")),
            (&[], true, None),
        ];
        for (names, with_version, expected) in cases {
            assert_eq!(subject_common_name(&certificate(names, with_version)).as_deref(), expected, "{names:?}");
        }
    }

    #[test]
    fn bytes_that_are_no_certificate_have_no_name() {
        let whole = certificate(&[(0x0C, b"Name")], true);
        for broken in [&[][..], &[0x30], &[0x30, 0x85, 1, 1, 1, 1, 1], &whole[..whole.len() - 1], b"not der"] {
            assert_eq!(subject_common_name(broken), None, "{broken:?}");
        }
    }

    #[test]
    fn the_validity_reads_in_both_time_forms() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        let name: Names<'_> = &[(0x0C, b"Mac")];
        type Time<'a> = (u8, &'a [u8]);
        type Case<'a> = (Time<'a>, Time<'a>, Option<(&'a str, &'a str)>);
        let cases: [Case<'_>; 5] = [
            (
                (UTC_TIME, b"240501093012Z"),
                (UTC_TIME, b"260501093012Z"),
                Some(("2024-05-01T09:30:12Z", "2026-05-01T09:30:12Z")),
            ),
            (
                (UTC_TIME, b"991231235959Z"),
                (GENERALIZED_TIME, b"20500101000000Z"),
                Some(("1999-12-31T23:59:59Z", "2050-01-01T00:00:00Z")),
            ),
            ((UTC_TIME, b"240501093012"), (UTC_TIME, b"260501093012Z"), None),
            ((UTC_TIME, b"241301000000Z"), (UTC_TIME, b"260501093012Z"), None),
            ((0x0C, b"240501093012Z"), (UTC_TIME, b"260501093012Z"), None),
        ];
        for (not_before, not_after, expected) in cases {
            let validity = certificate_validity(&certificate_valid(name, true, not_before, not_after));
            let expected = expected.map(|(from, to)| Validity { not_before: at(from), not_after: at(to) });
            assert_eq!(validity, expected, "{not_before:?} {not_after:?}");
        }
        assert_eq!(certificate_validity(b"not der"), None);
    }

    #[test]
    fn the_fixtures_identity_is_valid_from_its_issue_date() {
        let output = include_str!("../tests/fixtures/inventory/security-find-certificate.txt");
        let pem: String = output
            .split("-----BEGIN CERTIFICATE-----")
            .nth(2)
            .and_then(|rest| rest.split("-----END CERTIFICATE-----").next())
            .unwrap()
            .split_whitespace()
            .collect();
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD.decode(pem).unwrap();
        let validity = certificate_validity(&der).expect("a real certificate's validity");
        assert_eq!(validity.not_before, "2026-11-26T01:22:53Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(validity.not_after, "2029-02-28T01:22:53Z".parse::<DateTime<Utc>>().unwrap());
    }

    proptest::proptest! {
        /// Whatever bytes the keychain hands over, reading them never panics.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = subject_common_name(&bytes);
            let _ = certificate_validity(&bytes);
        }

        /// Nor does a real certificate cut short or with one byte changed.
        #[test]
        fn a_damaged_certificate_never_panics(cut in 0_usize..400, position in 0_usize..400, byte in proptest::num::u8::ANY) {
            let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
            let mut der = test_certificate("Device Identity", start, start + chrono::TimeDelta::days(365));
            let length = der.len();
            der[position % length] = byte;
            der.truncate(cut.min(length));
            let _ = subject_common_name(&der);
            let _ = certificate_validity(&der);
        }
    }
}
