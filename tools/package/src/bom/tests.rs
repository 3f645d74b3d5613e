//! The Bom read back by `apple-bom`, a parser written apart from this writer.

use apple_bom::{BomPathType, ParsedBom};

use super::*;
use crate::tree::ADMIN_GROUP;

/// One path as read back: (path, mode, uid, gid, size, crc, link target).
type ReadPath = (String, u16, u32, u32, usize, Option<u32>, Option<String>);

/// Every path of `bytes`.
fn read_back(bytes: &[u8]) -> Vec<ReadPath> {
    let parsed = ParsedBom::parse(bytes).expect("the Bom parses");
    parsed.bom_info().expect("BomInfo");
    parsed.hl_index().expect("HLIndex");
    parsed.size64().expect("Size64");
    parsed.vindex().expect("VIndex");
    parsed
        .paths()
        .expect("Paths")
        .into_iter()
        .map(|path| {
            (
                path.path().to_string(),
                path.file_mode(),
                path.user_id(),
                path.group_id(),
                path.size(),
                path.crc32(),
                path.link_name().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn every_path_reads_back_with_its_metadata() {
    let mut tree = FileTree::new(0o755, 0, 0);
    tree.add_directory("./Library", 0o755, 0, 0).unwrap();
    tree.add_directory("./Library/Application Support", 0o755, 0, ADMIN_GROUP).unwrap();
    tree.add_file("./Library/Application Support/uninstall.sh", b"#!/bin/sh\n".to_vec(), 0o755).unwrap();
    tree.add(Entry {
        path: "./Library/agent".into(),
        kind: EntryKind::Symlink("Application Support/uninstall.sh".into()),
        permissions: 0o755,
        uid: 0,
        gid: 0,
    })
    .unwrap();
    let paths = read_back(&bom(&tree, 1_700_000_000).unwrap());
    assert_eq!(
        paths,
        vec![
            (".".into(), 0o40755, 0, 0, 0, None, None),
            ("./Library".into(), 0o40755, 0, 0, 0, None, None),
            ("./Library/Application Support".into(), 0o40755, 0, ADMIN_GROUP, 0, None, None),
            (
                "./Library/agent".into(),
                0o120755,
                0,
                0,
                32,
                Some(posix_cksum(b"Application Support/uninstall.sh")),
                Some("Application Support/uninstall.sh".into())
            ),
            (
                "./Library/Application Support/uninstall.sh".into(),
                0o100755,
                0,
                0,
                10,
                Some(posix_cksum(b"#!/bin/sh\n")),
                None
            ),
        ]
    );
}

#[test]
fn many_paths_spread_over_linked_leaves_under_a_branch() {
    let mut tree = FileTree::new(0o755, 0, 0);
    for folder in 0..3 {
        tree.add_directory(&format!("./d{folder}"), 0o755, 0, 0).unwrap();
        for file in 0..200 {
            tree.add_file(&format!("./d{folder}/f{file:03}"), vec![file as u8], 0o644).unwrap();
        }
    }
    let bytes = bom(&tree, 0).unwrap();
    let paths = read_back(&bytes);
    assert_eq!(paths.len(), tree.len());
    let parsed = ParsedBom::parse(&bytes).unwrap();
    let paths_tree = parsed.block_as_tree(parsed.find_variable("Paths").unwrap().block_index as usize).unwrap();
    assert_eq!(paths_tree.path_count as usize, tree.len());
    assert_eq!(paths_tree.paths(&parsed).unwrap().is_path_info, 0, "a branch node above the leaves");
    let mut read: Vec<&str> = paths.iter().map(|path| path.0.as_str()).collect();
    read.sort_unstable();
    let expected: Vec<&str> = tree.entries().map(|entry| entry.path.as_str()).collect();
    assert_eq!(read, expected);
    let last = paths.iter().find(|path| path.0 == "./d2/f199").unwrap();
    assert_eq!((last.1, last.4), (0o100644, 1));
    assert!(parsed.paths().unwrap().iter().all(|path| !matches!(path.path_type(), BomPathType::Other(_))));
}

#[test]
fn the_header_points_at_the_tables() {
    let tree = FileTree::new(0o755, 0, 0);
    let bytes = bom(&tree, 0).unwrap();
    assert_eq!(&bytes[..8], b"BOMStore");
    let word = |offset: usize| u32::from_be_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
    assert_eq!(word(8), 1, "version");
    let (table_offset, table_length) = (word(16), word(20));
    assert_eq!(table_offset + table_length, bytes.len(), "the block table and free list end the file");
    assert_eq!(word(table_offset), word(12) + 1, "the table counts the null block too");
    let variables = ParsedBom::parse(&bytes).unwrap().vars.vars;
    let names: Vec<&str> = variables.iter().map(|variable| variable.name.as_str()).collect();
    assert_eq!(names, ["BomInfo", "Paths", "HLIndex", "VIndex", "Size64"]);
}
