//! Reading archives with `bsdtar` (libarchive), a reader written apart from ours.
//!
//! libarchive checks a XAR's table of contents against its SHA-1 in the heap and
//! every file against its archived and extracted checksums, and fails the read on
//! a mismatch. A cpio archive is listed by converting it to an mtree manifest
//! (`bsdtar -cf - --format=mtree @archive`), which states each entry's type, mode,
//! owner, size and link target exactly as the archive holds them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The program that reads archives; `BSDTAR` overrides it.
fn bsdtar() -> Command {
    Command::new(std::env::var_os("BSDTAR").unwrap_or_else(|| "bsdtar".into()))
}

/// Why `bsdtar` could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Not installed (Debian: `apt-get install libarchive-tools`).
    #[error("could not run bsdtar (install libarchive-tools): {0}")]
    Missing(#[source] std::io::Error),
    /// It ran and refused the archive.
    #[error("bsdtar {action} {archive} failed: {message}")]
    Refused { action: &'static str, archive: String, message: String },
    /// The manifest it printed is not one this reader understands.
    #[error("unexpected mtree line from bsdtar: {0:?}")]
    Manifest(String),
}

/// Runs `command`, returning its standard output or why it failed.
fn run(mut command: Command, action: &'static str, archive: &Path) -> Result<Vec<u8>, ArchiveError> {
    let output = command.output().map_err(ArchiveError::Missing)?;
    if output.status.success() && output.stderr.is_empty() {
        return Ok(output.stdout);
    }
    let message = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let message = if message.is_empty() { output.status.to_string() } else { message };
    Err(ArchiveError::Refused { action, archive: archive.display().to_string(), message })
}

/// Extracts `archive` (any format libarchive reads) into the folder `destination`.
pub(crate) fn extract(archive: &Path, destination: &Path) -> Result<(), ArchiveError> {
    let mut command = bsdtar();
    command.arg("-xf").arg(archive).arg("-C").arg(destination);
    run(command, "extracting", archive).map(|_| ())
}

/// One entry of an archive as libarchive read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// `file`, `dir` or `link`.
    pub(crate) kind: String,
    /// The permission bits.
    pub(crate) permissions: u32,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// A file's size.
    pub(crate) size: Option<u64>,
    /// A link's target.
    pub(crate) link: Option<String>,
}

impl Listed {
    /// The full `st_mode`, file type included.
    pub(crate) fn mode(&self) -> u32 {
        let file_type = match self.kind.as_str() {
            "dir" => crate::tree::DIRECTORY_TYPE,
            "link" => crate::tree::SYMLINK_TYPE,
            _ => crate::tree::FILE_TYPE,
        };
        file_type | self.permissions
    }
}

/// Every entry of `archive` by its path (`./usr/local/bin/agent`).
pub(crate) fn list(archive: &Path) -> Result<BTreeMap<String, Listed>, ArchiveError> {
    let mut command = bsdtar();
    command
        .args(["-cf", "-", "--format=mtree", "--options=!all,type,mode,uid,gid,size,link"])
        .arg(format!("@{}", archive.display()));
    let manifest = run(command, "listing", archive)?;
    parse_mtree(&String::from_utf8_lossy(&manifest))
}

/// Undoes mtree's escaping of names (`\040` for a space, `\\` for a backslash).
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut output = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let octal = bytes.get(index + 1..index + 4).and_then(|digits| {
            let digits = std::str::from_utf8(digits).ok()?;
            u8::from_str_radix(digits, 8).ok().filter(|_| digits.bytes().all(|byte| byte.is_ascii_digit()))
        });
        match (bytes[index], octal) {
            (b'\\', Some(value)) => {
                output.push(value);
                index += 4;
            }
            (b'\\', None) if bytes.get(index + 1) == Some(&b'\\') => {
                output.push(b'\\');
                index += 2;
            }
            (byte, _) => {
                output.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&output).into_owned()
}

/// Reads the lines `bsdtar --format=mtree` prints.
fn parse_mtree(manifest: &str) -> Result<BTreeMap<String, Listed>, ArchiveError> {
    let mut entries = BTreeMap::new();
    for line in manifest.lines().filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let bad = || ArchiveError::Manifest(line.to_string());
        let mut words = line.split(' ');
        let path = unescape(words.next().ok_or_else(bad)?);
        let mut listed = Listed { kind: String::new(), permissions: 0, uid: 0, gid: 0, size: None, link: None };
        for word in words {
            let (key, value) = word.split_once('=').ok_or_else(bad)?;
            match key {
                "type" => listed.kind = value.to_string(),
                "mode" => listed.permissions = u32::from_str_radix(value, 8).map_err(|_| bad())?,
                "uid" => listed.uid = value.parse().map_err(|_| bad())?,
                "gid" => listed.gid = value.parse().map_err(|_| bad())?,
                "size" => listed.size = Some(value.parse().map_err(|_| bad())?),
                "link" => listed.link = Some(unescape(value)),
                _ => return Err(bad()),
            }
        }
        if listed.kind.is_empty() {
            return Err(bad());
        }
        entries.insert(path, listed);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_with_escaped_names() {
        let manifest = "#mtree\n. mode=755 gid=0 uid=0 type=dir\n./a\\040b mode=750 gid=80 uid=0 type=dir\n\
                        ./a\\040b/f mode=644 gid=0 uid=0 type=file size=3\n./l mode=777 gid=0 uid=0 type=link link=a\\040b/f\n";
        let entries = parse_mtree(manifest).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries["./a b"].gid, 80);
        assert_eq!(entries["./a b"].mode(), 0o40750);
        assert_eq!(entries["./a b/f"].size, Some(3));
        assert_eq!(entries["./l"].link.as_deref(), Some("a b/f"));
        assert!(parse_mtree("./x mode=7z9 type=file\n").is_err());
        assert!(parse_mtree("./x mode=755\n").is_err(), "no type");
    }

    #[test]
    fn unescape_handles_octal_and_backslashes() {
        assert_eq!(unescape(r"a\040b\\c\07"), r"a b\c\07");
    }
}
