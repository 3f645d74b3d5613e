//! The Bom ("bill of materials"): the list of paths Installer lays down and records
//! in the receipt (`lsbom`, `pkgutil --files`).
//!
//! Written from the published descriptions of the format (bomutils' `bom.h`, the
//! stuckliste format reference); nothing is taken from Apple's tools. A BOMStore is a
//! 512-byte header, numbered blocks, a table of where each block lies, and named
//! variables that point at blocks. Everything is big-endian.
//!
//! ```text
//! variables:  BomInfo ─> counts      Paths ─> tree ─> leaf node(s) of (path info, file) pairs
//!             HLIndex, Size64 ─> empty trees       │     path info: id + record block
//!             VIndex ─> empty 128-byte tree        │     file: parent id + name
//!                                                  └> a branch node above the leaves when
//!                                                     there are more than 256 paths
//! ```
//!
//! Paths are numbered breadth first from 1 (the root `.`); each names its parent by
//! that number. A record holds the type, mode (file type included), owner, mtime,
//! size and the POSIX `cksum` CRC of a file or of a link's target.

use std::collections::HashMap;

use crate::cksum::posix_cksum;
use crate::tree::{Entry, EntryKind, FileTree};

/// How long the header is; blocks start after it.
const HEADER_LENGTH: usize = 512;
/// How many (path info, file) pairs one leaf node holds.
const PATHS_PER_LEAF: usize = 256;
/// The node size the Paths, HLIndex and Size64 trees declare.
const TREE_BLOCK_SIZE: u32 = 4096;
/// The node size the VIndex tree declares.
const VINDEX_BLOCK_SIZE: u32 = 128;
/// A record's flags: full metadata (low nibble set), not a Mach-O binary.
const RECORD_FLAGS: u16 = 0x000f;

/// Why a tree cannot be described by a Bom.
#[derive(Debug, thiserror::Error)]
pub enum BomError {
    /// Sizes of 4 GiB and more go into the Size64 tree, which this writer leaves empty.
    #[error("{path:?} is {size} bytes; files of 4 GiB or more are not supported")]
    FileTooLarge { path: String, size: usize },
    /// The file grew past what 32-bit offsets address.
    #[error("the Bom would be larger than 4 GiB")]
    TooLarge,
}

/// Blocks as they are added; block 0 is the null block every Bom starts with.
struct Blocks {
    /// Each block's bytes, by index.
    contents: Vec<Vec<u8>>,
}

impl Blocks {
    /// Only the null block.
    fn new() -> Self {
        Self { contents: vec![Vec::new()] }
    }

    /// Appends `bytes` as a new block and returns its index.
    fn add(&mut self, bytes: Vec<u8>) -> u32 {
        self.contents.push(bytes);
        (self.contents.len() - 1) as u32
    }

    /// Replaces a block reserved earlier.
    fn set(&mut self, index: u32, bytes: Vec<u8>) {
        self.contents[index as usize] = bytes;
    }
}

/// Big-endian helpers on a byte vector.
trait PutBigEndian {
    /// Appends a `u16`.
    fn put_u16(&mut self, value: u16);
    /// Appends a `u32`.
    fn put_u32(&mut self, value: u32);
}

impl PutBigEndian for Vec<u8> {
    fn put_u16(&mut self, value: u16) {
        self.extend_from_slice(&value.to_be_bytes());
    }
    fn put_u32(&mut self, value: u32) {
        self.extend_from_slice(&value.to_be_bytes());
    }
}

/// A tree node: `is_leaf`, entry count, next and previous sibling nodes, then the
/// (key, value) block pairs.
fn node(is_leaf: bool, pairs: &[(u32, u32)], next: u32, previous: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(12 + pairs.len() * 8);
    bytes.put_u16(u16::from(is_leaf));
    bytes.put_u16(pairs.len() as u16);
    bytes.put_u32(next);
    bytes.put_u32(previous);
    for &(key, value) in pairs {
        bytes.put_u32(key);
        bytes.put_u32(value);
    }
    bytes
}

/// A tree header: magic, version 1, root node, node size, entry count, a zero byte.
fn tree_header(root: u32, block_size: u32, count: u32) -> Vec<u8> {
    let mut bytes = b"tree".to_vec();
    bytes.put_u32(1);
    bytes.put_u32(root);
    bytes.put_u32(block_size);
    bytes.put_u32(count);
    bytes.push(0);
    bytes
}

/// The record describing one path.
fn path_record(entry: &Entry, modification_time: u32) -> Result<Vec<u8>, BomError> {
    let data = entry.data();
    let size =
        u32::try_from(data.len()).map_err(|_| BomError::FileTooLarge { path: entry.path.clone(), size: data.len() })?;
    let path_type: u8 = match entry.kind {
        EntryKind::File(_) => 1,
        EntryKind::Directory => 2,
        EntryKind::Symlink(_) => 3,
    };
    let mut bytes = vec![path_type, 1];
    bytes.put_u16(RECORD_FLAGS);
    bytes.put_u16(entry.mode() as u16);
    bytes.put_u32(entry.uid);
    bytes.put_u32(entry.gid);
    bytes.put_u32(modification_time);
    bytes.put_u32(size);
    bytes.push(1);
    match &entry.kind {
        EntryKind::Directory => {}
        EntryKind::File(contents) => bytes.put_u32(posix_cksum(contents)),
        EntryKind::Symlink(target) => {
            bytes.put_u32(posix_cksum(target.as_bytes()));
            bytes.put_u32(target.len() as u32 + 1);
            bytes.extend_from_slice(target.as_bytes());
            bytes.push(0);
        }
    }
    bytes.extend_from_slice(&[0; 8]);
    Ok(bytes)
}

/// Adds the records, path infos and file names of every path, breadth first, and
/// returns the (path info, file) pairs for the leaves.
fn add_paths(blocks: &mut Blocks, tree: &FileTree, modification_time: u32) -> Result<Vec<(u32, u32)>, BomError> {
    let mut identifiers: HashMap<&str, u32> = HashMap::new();
    let mut pairs = Vec::with_capacity(tree.len());
    for (index, entry) in tree.breadth_first().into_iter().enumerate() {
        let identifier = index as u32 + 1;
        identifiers.insert(&entry.path, identifier);
        let record = blocks.add(path_record(entry, modification_time)?);
        let mut info = Vec::with_capacity(8);
        info.put_u32(identifier);
        info.put_u32(record);
        let info = blocks.add(info);
        let parent = entry.parent().and_then(|parent| identifiers.get(parent)).copied().unwrap_or(0);
        let mut file = Vec::with_capacity(entry.name().len() + 5);
        file.put_u32(parent);
        file.extend_from_slice(entry.name().as_bytes());
        file.push(0);
        pairs.push((info, blocks.add(file)));
    }
    Ok(pairs)
}

/// Lays the pairs out in linked leaves (with a branch node above them when there is
/// more than one) and returns the root node's block.
fn add_path_nodes(blocks: &mut Blocks, pairs: &[(u32, u32)]) -> u32 {
    let chunks: Vec<&[(u32, u32)]> = if pairs.is_empty() { vec![&[]] } else { pairs.chunks(PATHS_PER_LEAF).collect() };
    let leaves: Vec<u32> = chunks.iter().map(|_| blocks.add(Vec::new())).collect();
    for (position, chunk) in chunks.iter().enumerate() {
        let next = leaves.get(position + 1).copied().unwrap_or(0);
        let previous = if position == 0 { 0 } else { leaves[position - 1] };
        blocks.set(leaves[position], node(true, chunk, next, previous));
    }
    if leaves.len() == 1 {
        return leaves[0];
    }
    let branch: Vec<(u32, u32)> =
        leaves.iter().zip(&chunks).map(|(&leaf, chunk)| (leaf, chunk.last().map_or(0, |&(_, file)| file))).collect();
    blocks.add(node(false, &branch, 0, 0))
}

/// An empty tree of `block_size` nodes; returns the tree header's block.
fn add_empty_tree(blocks: &mut Blocks, block_size: u32) -> u32 {
    let leaf = blocks.add(node(true, &[], 0, 0));
    blocks.add(tree_header(leaf, block_size, 0))
}

/// The Bom describing `tree`, every path stamped with `modification_time`.
pub fn bom(tree: &FileTree, modification_time: u32) -> Result<Vec<u8>, BomError> {
    let mut blocks = Blocks::new();
    let mut information = Vec::with_capacity(28);
    information.put_u32(1);
    information.put_u32(tree.len() as u32 + 1);
    information.put_u32(1);
    // One architecture entry: "not a Mach-O" (CPU type 0) and the bytes of all files.
    information.put_u32(0);
    information.put_u32(0);
    information.put_u32(u32::try_from(tree.data_size()).map_err(|_| BomError::TooLarge)?);
    information.put_u32(0);
    let information = blocks.add(information);

    let pairs = add_paths(&mut blocks, tree, modification_time)?;
    let root = add_path_nodes(&mut blocks, &pairs);
    let paths = blocks.add(tree_header(root, TREE_BLOCK_SIZE, pairs.len() as u32));
    let hard_links = add_empty_tree(&mut blocks, TREE_BLOCK_SIZE);
    let virtual_tree = add_empty_tree(&mut blocks, VINDEX_BLOCK_SIZE);
    let mut virtual_index = Vec::with_capacity(13);
    virtual_index.put_u32(1);
    virtual_index.put_u32(virtual_tree);
    virtual_index.put_u32(0);
    virtual_index.push(0);
    let virtual_index = blocks.add(virtual_index);
    let sizes = add_empty_tree(&mut blocks, TREE_BLOCK_SIZE);

    let variables = [
        ("BomInfo", information),
        ("Paths", paths),
        ("HLIndex", hard_links),
        ("VIndex", virtual_index),
        ("Size64", sizes),
    ];
    serialize(&blocks, &variables)
}

/// Header, block contents, the variables, then the block table and an empty free
/// list (a count of zero and two empty slots, as Apple's tools leave it).
fn serialize(blocks: &Blocks, variables: &[(&str, u32)]) -> Result<Vec<u8>, BomError> {
    let mut output = vec![0u8; HEADER_LENGTH];
    let mut table = Vec::with_capacity(4 + blocks.contents.len() * 8 + 20);
    table.put_u32(blocks.contents.len() as u32);
    for (index, contents) in blocks.contents.iter().enumerate() {
        let address = if index == 0 { 0 } else { output.len() };
        table.put_u32(u32::try_from(address).map_err(|_| BomError::TooLarge)?);
        table.put_u32(contents.len() as u32);
        output.extend_from_slice(contents);
    }
    table.put_u32(0);
    table.extend_from_slice(&[0; 16]);

    let variables_offset = output.len();
    output.put_u32(variables.len() as u32);
    for &(name, block) in variables {
        output.put_u32(block);
        output.push(name.len() as u8);
        output.extend_from_slice(name.as_bytes());
    }
    let variables_length = output.len() - variables_offset;
    let table_offset = output.len();
    output.extend_from_slice(&table);

    let mut header = b"BOMStore".to_vec();
    header.put_u32(1);
    header.put_u32(blocks.contents.len() as u32 - 1);
    for value in [table_offset, table.len(), variables_offset, variables_length] {
        header.put_u32(u32::try_from(value).map_err(|_| BomError::TooLarge)?);
    }
    output[..header.len()].copy_from_slice(&header);
    Ok(output)
}

#[cfg(test)]
mod tests;
