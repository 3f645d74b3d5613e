//! The Payload and Scripts archives: portable (odc) cpio, gzipped.
//!
//! odc is the format `pkgbuild` wrote before pbzx and the one Installer reads from
//! a gzipped Payload: a 76-byte header of octal ASCII fields per entry
//! (`070707`, device, inode, mode, uid, gid, link count, rdev, mtime, name size,
//! file size), the NUL-terminated name, the data, and a `TRAILER!!!` entry at the
//! end. Owners and modes come from the [`FileTree`] as they are, never from the
//! build machine.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::tree::{EntryKind, FileTree};

/// The magic that starts every odc header.
pub(crate) const ODC_MAGIC: &[u8; 6] = b"070707";

/// The name of the entry that ends the archive.
const TRAILER: &str = "TRAILER!!!";

/// Why an entry does not fit an odc header.
#[derive(Debug, thiserror::Error)]
pub enum CpioError {
    /// A field's value has more octal digits than the field holds.
    #[error("{path:?}: {field} {value} does not fit the odc header ({digits} octal digits)")]
    FieldTooLarge { path: String, field: &'static str, value: u64, digits: usize },
}

/// Writes `value` as `digits` zero-padded octal digits.
fn octal(output: &mut Vec<u8>, path: &str, field: &'static str, value: u64, digits: usize) -> Result<(), CpioError> {
    let text = format!("{value:0digits$o}");
    if text.len() > digits {
        return Err(CpioError::FieldTooLarge { path: path.to_string(), field, value, digits });
    }
    output.extend_from_slice(text.as_bytes());
    Ok(())
}

/// What one odc header describes.
struct Header<'a> {
    /// The entry's name, as stored.
    path: &'a str,
    /// The full `st_mode`.
    mode: u32,
    /// Owner.
    uid: u32,
    /// Group.
    gid: u32,
    /// Distinct per entry: readers pair hard links by it when `link_count` > 1.
    inode: u64,
    /// 2 for a folder, 1 otherwise.
    link_count: u64,
    /// Seconds since the Unix epoch.
    modification_time: u64,
    /// The file's contents or the link's target.
    data: &'a [u8],
}

/// One header, name and data.
fn write_entry(output: &mut Vec<u8>, header: &Header) -> Result<(), CpioError> {
    let path = header.path;
    output.extend_from_slice(ODC_MAGIC);
    octal(output, path, "device", 0, 6)?;
    octal(output, path, "inode", header.inode, 6)?;
    octal(output, path, "mode", u64::from(header.mode), 6)?;
    octal(output, path, "uid", u64::from(header.uid), 6)?;
    octal(output, path, "gid", u64::from(header.gid), 6)?;
    octal(output, path, "link count", header.link_count, 6)?;
    octal(output, path, "rdev", 0, 6)?;
    octal(output, path, "mtime", header.modification_time, 11)?;
    octal(output, path, "name size", path.len() as u64 + 1, 6)?;
    octal(output, path, "file size", header.data.len() as u64, 11)?;
    output.extend_from_slice(path.as_bytes());
    output.push(0);
    output.extend_from_slice(header.data);
    Ok(())
}

/// The whole tree as an uncompressed odc archive, entries in the tree's order
/// (folders first), every entry stamped with `modification_time`.
pub fn odc_archive(tree: &FileTree, modification_time: u64) -> Result<Vec<u8>, CpioError> {
    let mut output = Vec::with_capacity(tree.data_size() as usize + tree.len() * 128);
    for (index, entry) in tree.entries().enumerate() {
        let header = Header {
            path: &entry.path,
            mode: entry.mode(),
            uid: entry.uid,
            gid: entry.gid,
            inode: index as u64 + 1,
            link_count: if matches!(entry.kind, EntryKind::Directory) { 2 } else { 1 },
            modification_time,
            data: entry.data(),
        };
        write_entry(&mut output, &header)?;
    }
    let trailer =
        Header { path: TRAILER, mode: 0, uid: 0, gid: 0, inode: 0, link_count: 1, modification_time: 0, data: &[] };
    write_entry(&mut output, &trailer)?;
    Ok(output)
}

/// `bytes` gzipped, with no file name and a zero timestamp in the gzip header so
/// the same input always gives the same output.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 2), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::ADMIN_GROUP;

    fn header_field(archive: &[u8], offset: usize, width: usize) -> u64 {
        u64::from_str_radix(std::str::from_utf8(&archive[offset..offset + width]).unwrap(), 8).unwrap()
    }

    #[test]
    fn headers_are_octal_with_the_trees_owners_and_modes() {
        let mut tree = FileTree::new(0o755, 0, 0);
        tree.add_directory("./Library", 0o755, 0, ADMIN_GROUP).unwrap();
        tree.add_file("./Library/agent", b"#!/bin/sh\n".to_vec(), 0o755).unwrap();
        let archive = odc_archive(&tree, 0o17).unwrap();
        assert_eq!(&archive[..6], ODC_MAGIC);
        assert_eq!(header_field(&archive, 18, 6), 0o40755, "root mode");
        assert_eq!(&archive[76..78], b".\0");
        let second = 78;
        assert_eq!(header_field(&archive, second + 18, 6), 0o40755);
        assert_eq!(header_field(&archive, second + 30, 6), u64::from(ADMIN_GROUP));
        assert_eq!(header_field(&archive, second + 48, 11), 0o17, "mtime");
        let third = second + 76 + "./Library\0".len();
        assert_eq!(header_field(&archive, third + 18, 6), 0o100755);
        assert_eq!(header_field(&archive, third + 65, 11), 10, "file size");
        assert!(archive.ends_with(b"TRAILER!!!\0"));
        let trailer = archive.len() - 76 - 11;
        assert_eq!(header_field(&archive, trailer + 18, 6), 0);
    }

    #[test]
    fn a_value_too_large_for_its_field_is_an_error() {
        let tree = FileTree::new(0o755, 0o1_000_000, 0);
        assert!(matches!(odc_archive(&tree, 0), Err(CpioError::FieldTooLarge { field: "uid", .. })));
    }

    #[test]
    fn gzip_is_deterministic_and_round_trips() {
        use std::io::Read;
        let first = gzip(b"payload").unwrap();
        assert_eq!(first, gzip(b"payload").unwrap());
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&first[..]).read_to_end(&mut decoded).unwrap();
        assert_eq!(decoded, b"payload");
    }
}
