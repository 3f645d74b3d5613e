//! Just enough DER to read a certificate's subject common name.
//!
//! A certificate is `SEQUENCE { tbsCertificate, signatureAlgorithm, signature }`
//! and `tbsCertificate` is `SEQUENCE { [0] version OPTIONAL, serialNumber,
//! signature, issuer, validity, subject, … }` (RFC 5280). The subject is a
//! sequence of sets of `{ type, value }`; the common name has type 2.5.4.3. When
//! a subject has several, the last (the most specific) is taken.

/// The DER of the object identifier 2.5.4.3 (`commonName`), without tag and length.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OBJECT_IDENTIFIER: u8 = 0x06;
const EXPLICIT_VERSION: u8 = 0xA0;

/// One element: its tag and its content.
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
}

/// The subject's common name of the certificate `der`; `None` when it has none
/// or the bytes are not a certificate.
pub(crate) fn subject_common_name(der: &[u8]) -> Option<String> {
    let certificate = single(der, SEQUENCE)?;
    let to_be_signed = first(certificate.content, SEQUENCE)?;
    let mut fields = children(to_be_signed.content)?;
    if fields.first().is_some_and(|field| field.tag == EXPLICIT_VERSION) {
        fields.remove(0);
    }
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
    (rest.len() >= length).then(|| (Element { tag, content: &rest[..length] }, &rest[length..]))
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
        to_be_signed
            .extend(element(SEQUENCE, &[element(0x17, b"240501000000Z"), element(0x17, b"340501000000Z")].concat()));
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
}
