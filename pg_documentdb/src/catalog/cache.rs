//! Backend-local cache of collection lookups (`documentdb_api_catalog.collections` rows by
//! database and name with their indexes, including "no such collection") and of indexes'
//! multikey flags, so a command does not query the catalog tables every time.
//!
//! Invalidation rides on PostgreSQL's relcache invalidation of the collections table:
//! statement-level triggers on it and on `collection_indexes` (sql/documentdb_api.sql) call
//! [`invalidate_collection_cache`] for every INSERT/UPDATE/DELETE/TRUNCATE, whoever runs it.
//! That invalidation is transactional: the writing backend sees it at its next command
//! (and again if the transaction or subtransaction aborts), other backends when they next
//! accept invalidation messages, which PostgreSQL does at the start of every transaction.
//! Dropping the table (DROP EXTENSION) invalidates it too. The callback only clears this
//! cache; it never errors.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::Hash;
use std::thread::LocalKey;

use documentdb_errors::DocDbResult;
use pgrx::pg_sys;

use super::Collection;

/// Entries kept before the cache is dropped wholesale (bounds memory with many collections).
const MAX_ENTRIES: usize = 4096;

thread_local! {
    static ENTRIES: RefCell<HashMap<(String, String), Option<Collection>>> = RefCell::new(HashMap::new());
    /// Multikey flags of indexes by id (read by the multikey triggers' WHEN clause).
    static MULTIKEY: RefCell<HashMap<i64, bool>> = RefCell::new(HashMap::new());
    /// OID of documentdb_api_catalog.collections while entries are cached (invalid: none).
    static CATALOG_OID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// The relcache callback: PostgreSQL calls it with the relation whose cache entry is
/// invalidated (InvalidOid: all of them).
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn relcache_callback(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    let ours = CATALOG_OID.with(Cell::get);
    if relid == pg_sys::InvalidOid || (ours != pg_sys::InvalidOid && relid == ours) {
        clear();
    }
}

fn clear() {
    // try_with/try_borrow_mut: never panic inside a callback PostgreSQL runs.
    let _ = ENTRIES.try_with(|e| {
        if let Ok(mut entries) = e.try_borrow_mut() {
            entries.clear();
        }
    });
    let _ = MULTIKEY.try_with(|e| {
        if let Ok(mut entries) = e.try_borrow_mut() {
            entries.clear();
        }
    });
    let _ = CATALOG_OID.try_with(|oid| oid.set(pg_sys::InvalidOid));
}

/// Makes sure the callback is registered and the catalog table's OID known; false when the
/// table can't be found (then nothing is cached).
fn ready() -> bool {
    if !CALLBACK_REGISTERED.with(Cell::get) {
        // SAFETY: registering a plain function with no argument; PostgreSQL keeps it for
        // the life of the backend (there is no unregister, so register exactly once).
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(relcache_callback), pg_sys::Datum::from(0)) };
        CALLBACK_REGISTERED.with(|r| r.set(true));
    }
    if CATALOG_OID.with(Cell::get) != pg_sys::InvalidOid {
        return true;
    }
    // SAFETY: syscache lookups by name with missing_ok; no allocation is kept.
    let oid = unsafe {
        let namespace = pg_sys::get_namespace_oid(c"documentdb_api_catalog".as_ptr(), true);
        if namespace == pg_sys::InvalidOid {
            return false;
        }
        pg_sys::get_relname_relid(c"collections".as_ptr(), namespace)
    };
    if oid == pg_sys::InvalidOid {
        return false;
    }
    // Entries cached under an older OID (a re-created extension) must not survive.
    ENTRIES.with(|e| e.borrow_mut().clear());
    MULTIKEY.with(|e| e.borrow_mut().clear());
    CATALOG_OID.with(|c| c.set(oid));
    true
}

/// The cached lookup of `db.coll`, or the result of `load` (then cached).
pub fn lookup(
    db: &str,
    coll: &str,
    load: impl FnOnce() -> DocDbResult<Option<Collection>>,
) -> DocDbResult<Option<Collection>> {
    cached(&ENTRIES, (db.to_owned(), coll.to_owned()), load)
}

/// The cached multikey flag of an index, or the result of `load` (then cached). Cleared
/// with the collection lookups: the catalog's triggers invalidate both.
pub fn index_multikey(index_id: i64, load: impl FnOnce() -> DocDbResult<bool>) -> DocDbResult<bool> {
    cached(&MULTIKEY, index_id, load)
}

/// The entry `key` of one of the caches, or the result of `load` (then cached).
fn cached<K: Eq + Hash, V: Clone>(
    map: &'static LocalKey<RefCell<HashMap<K, V>>>,
    key: K,
    load: impl FnOnce() -> DocDbResult<V>,
) -> DocDbResult<V> {
    if !ready() {
        return load();
    }
    if let Some(hit) = map.with(|e| e.borrow().get(&key).cloned()) {
        return Ok(hit);
    }
    // An invalidation that arrives while loading (the load's own lock acquisition accepts
    // pending messages) clears the cache, but this result is still current: it was read
    // after that message was processed.
    let value = load()?;
    map.with(|e| {
        let mut entries = e.borrow_mut();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        // Only when still valid: a callback during load reset the OID.
        if CATALOG_OID.with(Cell::get) != pg_sys::InvalidOid {
            entries.insert(key, value.clone());
        }
    });
    Ok(value)
}

/// Invalidates the relcache entry of `relid` (the catalog table, from its trigger), which
/// clears every backend's collection cache at the right transactional moment.
pub fn invalidate_everywhere(relid: pg_sys::Oid) {
    // SAFETY: relid comes from TG_RELID of a trigger on an existing table.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) };
}
