//! Tests of the header check, the damage codes, the mark an error leaves and the
//! damaged sets moved aside and kept.

use super::*;

fn header(page_size: u16, pages: u32, counter_matches: bool) -> [u8; HEADER_LENGTH] {
    let mut header = [0_u8; HEADER_LENGTH];
    header[..16].copy_from_slice(SQLITE_MAGIC);
    header[16..18].copy_from_slice(&page_size.to_be_bytes());
    header[24..28].copy_from_slice(&7_u32.to_be_bytes());
    header[28..32].copy_from_slice(&pages.to_be_bytes());
    let valid_for: u32 = if counter_matches { 7 } else { 6 };
    header[92..96].copy_from_slice(&valid_for.to_be_bytes());
    header
}

#[test]
fn the_header_check_tells_a_store_from_garbage_and_cut_short_files() {
    // (header, file length, write-ahead log waiting, damaged)
    let cases = [
        (header(4096, 3, true), 3 * 4096, false, false),
        (header(4096, 3, true), 2 * 4096, false, true),
        (header(4096, 3, true), 2 * 4096, true, false),
        (header(4096, 3, false), 2 * 4096, false, false),
        (header(4096, 3, true), 3 * 4096 - 10, false, true),
        (header(1, 1, true), 65_536, false, false),
        (header(1000, 1, true), 1000, false, true),
        (header(256, 1, true), 256, false, true),
        ([b'x'; HEADER_LENGTH], 8192, false, true),
    ];
    for (index, (bytes, length, log_waits, damaged)) in cases.into_iter().enumerate() {
        let checked = check_header_bytes(&bytes, length, log_waits);
        assert_eq!(checked.is_err(), damaged, "case {index}: {checked:?}");
    }
}

#[test]
fn a_missing_empty_or_tiny_file_is_judged_by_its_length() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("agent.sqlite3");
    assert_eq!(check_header(&path), Ok(()), "missing: not created yet");
    std::fs::write(&path, "").unwrap();
    assert_eq!(check_header(&path), Ok(()), "empty: a store about to be created");
    std::fs::write(&path, "SQLite format 3\0").unwrap();
    assert!(check_header(&path).unwrap_err().contains("shorter than a SQLite header"));
}

#[test]
fn damage_is_told_by_sqlite_s_codes() {
    let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
    assert!(is_damage(&failure(rusqlite::ffi::SQLITE_CORRUPT)));
    assert!(is_damage(&failure(rusqlite::ffi::SQLITE_NOTADB)));
    assert!(!is_damage(&failure(rusqlite::ffi::SQLITE_FULL)));
    assert!(!is_damage(&failure(rusqlite::ffi::SQLITE_BUSY)));
    assert!(!is_damage(&rusqlite::Error::QueryReturnedNoRows));
}

#[test]
fn an_error_saying_malformed_makes_the_next_open_check_again() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("agent.sqlite3");
    checked(&path);
    assert!(!quick_check_due(&path));
    suspect(&path);
    assert!(quick_check_due(&path));
    assert!(suspect_marker(&path).exists(), "another process sees it too");
    checked(&path);
    assert!(!quick_check_due(&path) && !suspect_marker(&path).exists());
}

#[test]
fn damaged_files_move_aside_as_a_set_and_only_the_newest_sets_stay() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("agent.sqlite3");
    let start = Utc::now();
    let mut moved = Vec::new();
    for round in 0..5 {
        for suffix in ["", "-wal", "-shm"] {
            std::fs::write(companion(&path, suffix), format!("round {round}")).unwrap();
        }
        moved.push(move_aside(&path, start + chrono::Duration::seconds(round)).unwrap());
    }
    let mut names: Vec<String> = std::fs::read_dir(folder.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let expected: Vec<String> = moved[2..]
        .iter()
        .flat_map(|file| {
            let name = file.file_name().unwrap().to_str().unwrap().to_string();
            [name.clone(), format!("{name}-shm"), format!("{name}-wal")]
        })
        .collect();
    assert_eq!(names, expected);
    assert_eq!(std::fs::read_to_string(&moved[4]).unwrap(), "round 4");
    let stamp = start.format("%Y%m%dT%H%M%S").to_string();
    assert!(moved[0].to_str().unwrap().contains(&format!("agent.sqlite3.damaged-{stamp}.")), "{moved:?}");
}

#[test]
fn sets_of_other_stores_and_other_files_are_left_alone() {
    let names: Vec<OsString> = [
        "agent.sqlite3",
        "agent.sqlite3.damaged-1",
        "agent.sqlite3.damaged-2-wal",
        "agent.sqlite3.damaged-2",
        "agent.sqlite3.damaged-3",
        "agent.sqlite3.damaged-4",
        "other.sqlite3.damaged-0",
        "blueprint.json",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    let removed = sets_beyond_kept(&names, OsStr::new("agent.sqlite3"));
    assert_eq!(removed, [OsString::from("agent.sqlite3.damaged-1")]);
}
