//! The XAR container a flat package is: header, zlib-compressed XML table of
//! contents, then the heap.
//!
//! ```text
//! header (28 bytes, big-endian): "xar!", header size 28, version 1,
//!        compressed TOC length (u64), uncompressed TOC length (u64), checksum kind 1 (SHA-1)
//! TOC    zlib(XML): <checksum style="sha1"> at heap offset 0, size 20, then one <file>
//!        per entry with its metadata and, for files, where its data lies in the heap
//! heap   SHA-1 of the compressed TOC (20 bytes), then each file's bytes in TOC order
//! ```
//!
//! Files are stored as they are (`application/octet-stream`): the Payload and
//! Scripts are already gzipped. Each carries the SHA-1 of its archived and extracted
//! bytes (the same here). `productsign` signs such an archive by adding a signature
//! to a copy.

use std::io::Write;
use std::time::SystemTime;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use sha1::{Digest, Sha1};

/// The header's magic.
pub(crate) const MAGIC: &[u8; 4] = b"xar!";
/// The header's length, which the header states too.
pub(crate) const HEADER_LENGTH: u16 = 28;
/// The checksum kind SHA-1 in the header.
pub(crate) const CHECKSUM_SHA1: u32 = 1;
/// The length of a SHA-1 digest, the first thing in the heap.
const SHA1_LENGTH: usize = 20;

/// One entry of the archive.
#[derive(Debug, Clone)]
pub enum XarNode {
    /// A file stored in the heap.
    File {
        /// Its name inside its folder.
        name: String,
        /// Its bytes.
        data: Vec<u8>,
        /// Permission bits.
        permissions: u32,
    },
    /// A folder and what it holds.
    Directory {
        /// Its name inside its folder.
        name: String,
        /// Permission bits.
        permissions: u32,
        /// Its entries.
        children: Vec<XarNode>,
    },
}

/// The TOC being written and the heap it refers to.
struct Writer {
    /// The XML so far.
    xml: String,
    /// The heap so far (starting with room for the TOC checksum).
    heap: Vec<u8>,
    /// The last `id` given to a `<file>`.
    last_identifier: u64,
    /// Every time stamp in the TOC.
    time: String,
}

/// `text` with XML's special characters escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Lowercase hexadecimal.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Writer {
    /// Appends one indented line.
    fn line(&mut self, depth: usize, text: &str) {
        self.xml.push_str(&"  ".repeat(depth));
        self.xml.push_str(text);
        self.xml.push('\n');
    }

    /// The metadata every `<file>` carries: times, owner (root:wheel), mode, type
    /// and name.
    fn metadata(&mut self, depth: usize, kind: &str, name: &str, permissions: u32) {
        let time = self.time.clone();
        for element in ["ctime", "mtime", "atime"] {
            self.line(depth, &format!("<{element}>{time}</{element}>"));
        }
        self.line(depth, "<group>wheel</group>");
        self.line(depth, "<gid>0</gid>");
        self.line(depth, "<user>root</user>");
        self.line(depth, "<uid>0</uid>");
        self.line(depth, &format!("<mode>{permissions:04o}</mode>"));
        self.line(depth, &format!("<type>{kind}</type>"));
        self.line(depth, &format!("<name>{}</name>", escape(name)));
    }

    /// A `<file>` element for `node` (and its children), its data appended to the
    /// heap.
    fn node(&mut self, depth: usize, node: &XarNode) {
        self.last_identifier += 1;
        self.line(depth, &format!("<file id=\"{}\">", self.last_identifier));
        match node {
            XarNode::File { name, data, permissions } => {
                let offset = self.heap.len();
                self.heap.extend_from_slice(data);
                let digest = hex(&Sha1::digest(data));
                let inner = depth + 2;
                self.line(depth + 1, "<data>");
                self.line(inner, &format!("<length>{}</length>", data.len()));
                self.line(inner, &format!("<offset>{offset}</offset>"));
                self.line(inner, &format!("<size>{}</size>", data.len()));
                self.line(inner, "<encoding style=\"application/octet-stream\"/>");
                self.line(inner, &format!("<archived-checksum style=\"sha1\">{digest}</archived-checksum>"));
                self.line(inner, &format!("<extracted-checksum style=\"sha1\">{digest}</extracted-checksum>"));
                self.line(depth + 1, "</data>");
                self.metadata(depth + 1, "file", name, *permissions);
            }
            XarNode::Directory { name, permissions, children } => {
                self.metadata(depth + 1, "directory", name, *permissions);
                for child in children {
                    self.node(depth + 1, child);
                }
            }
        }
        self.line(depth, "</file>");
    }
}

/// The archive holding `nodes`, every time stamp `creation_time`.
pub fn xar_archive(nodes: &[XarNode], creation_time: SystemTime) -> std::io::Result<Vec<u8>> {
    let time = humantime::format_rfc3339_seconds(creation_time).to_string();
    let mut writer = Writer { xml: String::new(), heap: vec![0; SHA1_LENGTH], last_identifier: 0, time };
    writer.line(0, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    writer.line(0, "<xar>");
    writer.line(1, "<toc>");
    writer.line(2, "<checksum style=\"sha1\">");
    writer.line(3, "<offset>0</offset>");
    writer.line(3, &format!("<size>{SHA1_LENGTH}</size>"));
    writer.line(2, "</checksum>");
    let creation = format!("<creation-time>{}</creation-time>", writer.time);
    writer.line(2, &creation);
    for node in nodes {
        writer.node(2, node);
    }
    writer.line(1, "</toc>");
    writer.line(0, "</xar>");

    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(writer.xml.as_bytes())?;
    let toc = encoder.finish()?;
    writer.heap[..SHA1_LENGTH].copy_from_slice(&Sha1::digest(&toc));

    let mut archive = Vec::with_capacity(usize::from(HEADER_LENGTH) + toc.len() + writer.heap.len());
    archive.extend_from_slice(MAGIC);
    archive.extend_from_slice(&HEADER_LENGTH.to_be_bytes());
    archive.extend_from_slice(&1u16.to_be_bytes());
    archive.extend_from_slice(&(toc.len() as u64).to_be_bytes());
    archive.extend_from_slice(&(writer.xml.len() as u64).to_be_bytes());
    archive.extend_from_slice(&CHECKSUM_SHA1.to_be_bytes());
    archive.extend_from_slice(&toc);
    archive.extend_from_slice(&writer.heap);
    Ok(archive)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<u8> {
        let nodes = vec![
            XarNode::File { name: "Distribution".into(), data: b"<d/>".to_vec(), permissions: 0o644 },
            XarNode::Directory {
                name: "a & b.pkg".into(),
                permissions: 0o755,
                children: vec![XarNode::File { name: "Payload".into(), data: vec![7; 100], permissions: 0o644 }],
            },
        ];
        xar_archive(&nodes, SystemTime::UNIX_EPOCH).unwrap()
    }

    #[test]
    fn the_header_states_the_toc_and_the_heap_starts_with_its_sha1() {
        let archive = sample();
        assert_eq!(&archive[..4], MAGIC);
        assert_eq!(u16::from_be_bytes([archive[4], archive[5]]), 28);
        let compressed = u64::from_be_bytes(archive[8..16].try_into().unwrap()) as usize;
        let uncompressed = u64::from_be_bytes(archive[16..24].try_into().unwrap()) as usize;
        assert_eq!(u32::from_be_bytes(archive[24..28].try_into().unwrap()), CHECKSUM_SHA1);
        let toc = &archive[28..28 + compressed];
        let mut xml = String::new();
        flate2::read::ZlibDecoder::new(toc).read_to_string(&mut xml).unwrap();
        assert_eq!(xml.len(), uncompressed);
        let heap = &archive[28 + compressed..];
        assert_eq!(&heap[..20], &Sha1::digest(toc)[..]);
        assert!(xml.contains("<name>a &amp; b.pkg</name>"), "{xml}");
        assert!(xml.contains("<offset>24</offset>"), "the Payload follows the 4-byte Distribution: {xml}");
        assert_eq!(&heap[24..124], &[7; 100][..]);
        assert_eq!(heap.len(), 124);
    }

    #[test]
    fn escape_covers_the_markup_characters() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;");
    }
}
