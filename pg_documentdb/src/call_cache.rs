//! The per-call-site cache of parsed specs: a per-row SQL function parses its constant spec
//! argument (filter, projection, update, expression) once per query, keeps it in the call
//! site's `fn_extra` keyed by the spec bytes, and then runs on borrowed bytes.

use std::cell::RefCell;
use std::rc::Rc;

use documentdb_errors::DocDbResult;
use pgrx::{pg_sys, PgMemoryContexts};

/// The per-call-site cache slot: the spec bytes and what was parsed from them.
struct CacheSlot<T> {
    entry: RefCell<Option<(Vec<u8>, Rc<T>)>>,
}

/// Returns the value parsed from `key` for this call site, parsing on first use (or when
/// the spec changes between calls, e.g. a parameter in a generic plan).
///
/// Each SQL function must call this with one `T` only (the slot is typed by the first
/// call), and set-returning functions must not: pgrx keeps their state in `fn_extra`.
pub fn cached<T: 'static>(
    fcinfo: pg_sys::FunctionCallInfo,
    key: &[u8],
    parse: impl FnOnce() -> DocDbResult<T>,
) -> DocDbResult<Rc<T>> {
    // SAFETY: fn_extra is ours for this FmgrInfo; the slot lives in fn_mcxt (which lives
    // as long as the FmgrInfo) and is dropped when that context is reset or deleted.
    let slot: &CacheSlot<T> = unsafe {
        let flinfo = (*fcinfo).flinfo;
        if (*flinfo).fn_extra.is_null() {
            let slot = PgMemoryContexts::For((*flinfo).fn_mcxt)
                .leak_and_drop_on_delete(CacheSlot::<T> { entry: RefCell::new(None) });
            (*flinfo).fn_extra = slot.cast();
        }
        &*((*flinfo).fn_extra as *const CacheSlot<T>)
    };
    if let Some((cached_key, value)) = slot.entry.borrow().as_ref() {
        if cached_key.as_slice() == key {
            return Ok(Rc::clone(value));
        }
    }
    let value = Rc::new(parse()?);
    *slot.entry.borrow_mut() = Some((key.to_vec(), Rc::clone(&value)));
    Ok(value)
}

/// One cache key for several spec arguments (length-prefixed, so no two lists collide).
pub fn cache_key(parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::new();
    for part in parts {
        key.extend_from_slice(&(part.len() as u32).to_le_bytes());
        key.extend_from_slice(part);
    }
    key
}
