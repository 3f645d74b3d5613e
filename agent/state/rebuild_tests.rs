//! Tests of healing under the check-in lock: garbage, a failed full check, an
//! error saying malformed; the device id survives.

use super::*;

/// A real store with a device id and one value in it, then `damage` done to it.
fn damaged_store(folder: &Path, damage: impl FnOnce(&Path)) -> (std::path::PathBuf, String) {
    let path = folder.join("agent.sqlite3");
    let store = Store::open(&path).unwrap();
    let device_id = store.device_id().unwrap();
    store.set_tenant_value("etag", Some("\"v1\"")).unwrap();
    store.make_durable().unwrap();
    drop(store);
    damage(&path);
    (path, device_id)
}

#[test]
fn a_garbage_store_is_moved_aside_and_a_fresh_one_keeps_the_device_id() {
    let folder = tempfile::tempdir().unwrap();
    let (path, device_id) = damaged_store(folder.path(), |path| std::fs::write(path, vec![b'x'; 8192]).unwrap());
    assert!(Store::open(&path).err().expect("damaged").is_damage());
    let (store, rebuilt) = Store::open_healing(&path).unwrap();
    let rebuilt = rebuilt.expect("rebuilt");
    assert!(rebuilt.reason.contains("not a database"), "{}", rebuilt.reason);
    assert_eq!(std::fs::read(&rebuilt.moved_to).unwrap(), vec![b'x'; 8192]);
    assert_eq!(store.device_id().unwrap(), device_id);
    assert_eq!(store.tenant_value("etag").unwrap(), None, "the rest is gone");
    assert_eq!(store.store_rebuilt().unwrap(), Some(rebuilt));
    assert!(store.store_rebuilt_drift().unwrap());
    store.settle_store_rebuilt_drift().unwrap();
    assert!(!store.store_rebuilt_drift().unwrap());
}

#[test]
fn a_store_that_fails_its_check_is_rebuilt_and_a_sound_one_is_not() {
    let folder = tempfile::tempdir().unwrap();
    let (path, _) = damaged_store(folder.path(), |_| {});
    let (_store, rebuilt) = Store::open_healing(&path).unwrap();
    assert_eq!(rebuilt, None, "a sound store stays");
    drop(_store);
    // Page 2 onwards overwritten: the header still reads, the tables do not.
    let mut bytes = std::fs::read(&path).unwrap();
    let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    for byte in &mut bytes[page_size..] {
        *byte = 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    damage::suspect(&path);
    let (_store, rebuilt) = Store::open_healing(&path).unwrap();
    assert!(rebuilt.is_some(), "the full check found the damage");
}

#[test]
fn an_error_saying_malformed_marks_the_store_for_the_next_check_in() {
    let folder = tempfile::tempdir().unwrap();
    let (path, _) = damaged_store(folder.path(), |_| {});
    let (store, _) = Store::open_healing(&path).unwrap();
    let corrupt = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT), None);
    let error = store.failed("cannot read runs")(corrupt);
    assert!(error.is_damage(), "{error}");
    assert!(damage::quick_check_due(&path), "checked again at the next open under the lock");
    assert!(damage::companion(&path, ".suspect").exists());
    let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
    assert!(!store.failed("cannot write")(full).is_damage(), "a full disk is not damage");
    drop(store);
    let (_store, rebuilt) = Store::open_healing(&path).unwrap();
    assert_eq!(rebuilt, None, "a sound store passes its check and stays");
    assert!(!damage::companion(&path, ".suspect").exists());
}
