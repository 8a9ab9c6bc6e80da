//! A GIN operator class over `bson[]` that adds key *ranges* to PostgreSQL's array
//! operators, for the wildcard index (whose keys are `{p: path, v: value}` documents, one per
//! value and array element a covered path reaches).
//!
//! Strategies 1-4 (`&&`, `@>`, `<@`, `=`) are PostgreSQL's own `array_ops` functions, called
//! with the same arguments. Strategy 5 is `keys @~ range` (`range`: `{lo, loInc, hi, hiInc}`,
//! bounds being keys): GIN's partial match starts the scan of the key tree at `lo` and
//! `comparePartial` stops it past `hi`, so a range reads just its keys, in MongoDB's order
//! (the opclass compares keys with `bson_compare`). Matches are rechecked.
//!
//! Unsafe: these are GIN support functions, called by PostgreSQL with `internal` pointers
//! (the fmgr calling convention of ginarrayproc.c). Each use says what it relies on.

use std::cmp::Ordering;

use bson::RawDocument;
use documentdb_bson::compare_documents;
use documentdb_pgbson::datum::bytes_to_varlena_datum;
use pgrx::prelude::*;
use pgrx::{fcinfo::pg_getarg_datum_raw, Internal};

/// The strategy number of `@~` in the operator class (after array_ops' 1-4).
const RANGE_STRATEGY: u16 = 5;

/// Borrows a bson datum's bytes (detoasting into the current memory context if needed).
///
/// # Safety
/// `datum` must be a non-null bson (varlena) datum.
unsafe fn bson_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    // SAFETY: per the contract, a varlena datum.
    unsafe {
        let varlena = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        pgrx::varlena::varlena_to_byte_slice(varlena)
    }
}

/// A parsed range: its bounds (keys) and whether each is included.
struct KeyRange<'a> {
    lo: &'a RawDocument,
    lo_inclusive: bool,
    hi: &'a RawDocument,
    hi_inclusive: bool,
}

impl<'a> KeyRange<'a> {
    fn parse(bytes: &'a [u8]) -> Option<KeyRange<'a>> {
        let spec = RawDocument::from_bytes(bytes).ok()?;
        Some(KeyRange {
            lo: spec.get_document("lo").ok()?,
            lo_inclusive: spec.get_bool("loInc").ok()?,
            hi: spec.get_document("hi").ok()?,
            hi_inclusive: spec.get_bool("hiInc").ok()?,
        })
    }

    /// GIN's comparePartial answer for `key`: 0 inside, < 0 before (keep scanning), > 0
    /// past the upper bound (stop).
    fn position(&self, key: &RawDocument) -> i32 {
        match compare_documents(key, self.lo) {
            Ordering::Less => return -1,
            Ordering::Equal if !self.lo_inclusive => return -1,
            _ => {}
        }
        match compare_documents(key, self.hi) {
            Ordering::Greater => 1,
            Ordering::Equal if !self.hi_inclusive => 1,
            _ => 0,
        }
    }
}

/// `keys @~ range`: some key lies in the range (the operator's own evaluation, and the
/// recheck of index matches).
#[pg_extern(sql = false, immutable, parallel_safe)]
fn bson_array_has_key_in_range(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: a STRICT function of (bson[], bson): both arguments are non-null; the array's
    // elements are bson varlenas (typlen -1, not by value, int alignment).
    unsafe {
        let Some(range) = KeyRange::parse(bson_bytes(pg_getarg_datum_raw(fcinfo, 1))) else { return false };
        let array = pg_sys::pg_detoast_datum(pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr()) as *mut pg_sys::ArrayType;
        let mut elements: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut count = 0i32;
        pg_sys::deconstruct_array(
            array,
            documentdb_pgbson::Bson::type_oid(),
            -1,
            false,
            pg_sys::TYPALIGN_INT as std::ffi::c_char,
            &mut elements,
            &mut nulls,
            &mut count,
        );
        (0..count as usize).any(|i| {
            !*nulls.add(i)
                && RawDocument::from_bytes(bson_bytes(*elements.add(i))).is_ok_and(|k| range.position(k) == 0)
        })
    }
}

/// GIN extractQuery: array strategies are `ginqueryarrayextract`'s; a range is one partial
/// match key (its lower bound) with the range as extra data for comparePartial.
#[pg_extern(sql = false)]
fn bson_gin_range_extract_query(fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    // SAFETY: PostgreSQL's GIN calls this with extractQuery's seven arguments; the strategy
    // is argument 2 (int16).
    let strategy = unsafe { pg_getarg_datum_raw(fcinfo, 2).value() as u16 };
    if strategy != RANGE_STRATEGY {
        // SAFETY: the same arguments ginqueryarrayextract takes for the array strategies.
        return Internal::from(Some(unsafe { pg_sys::ginqueryarrayextract(fcinfo) }));
    }
    // SAFETY: argument 0 is the query (a bson range), 1 `int32 *nkeys`, 3 `bool
    // **pmatch`, 4 `Pointer **extra_data`; what we palloc lives in GIN's scan context.
    unsafe {
        let query = bson_bytes(pg_getarg_datum_raw(fcinfo, 0));
        let nkeys = pg_getarg_datum_raw(fcinfo, 1).cast_mut_ptr::<i32>();
        let Some(range) = KeyRange::parse(query) else {
            *nkeys = 0;
            return Internal::from(Some(pg_sys::Datum::null()));
        };
        let entries = pg_sys::palloc(std::mem::size_of::<pg_sys::Datum>()) as *mut pg_sys::Datum;
        *entries = bytes_to_varlena_datum(range.lo.as_bytes());
        let pmatch = pg_getarg_datum_raw(fcinfo, 3).cast_mut_ptr::<*mut bool>();
        *pmatch = pg_sys::palloc0(std::mem::size_of::<bool>()) as *mut bool;
        **pmatch = true;
        let extra = pg_getarg_datum_raw(fcinfo, 4).cast_mut_ptr::<*mut pg_sys::Pointer>();
        *extra = pg_sys::palloc(std::mem::size_of::<pg_sys::Pointer>()) as *mut pg_sys::Pointer;
        **extra = bytes_to_varlena_datum(query).cast_mut_ptr();
        *nkeys = 1;
        Internal::from(Some(pg_sys::Datum::from(entries)))
    }
}

/// GIN comparePartial for the range strategy: where the index key lies against the range
/// kept as extra data.
#[pg_extern(sql = false)]
fn bson_gin_range_compare_partial(fcinfo: pg_sys::FunctionCallInfo) -> i32 {
    // SAFETY: comparePartial's arguments: 0 the partial key, 1 the index key (bson
    // datums), 2 the strategy, 3 the extra data set by extractQuery (a bson varlena).
    unsafe {
        let key = bson_bytes(pg_getarg_datum_raw(fcinfo, 1));
        let extra = pg_getarg_datum_raw(fcinfo, 3);
        if extra.is_null() {
            return 1;
        }
        let range = bson_bytes(extra);
        match (KeyRange::parse(range), RawDocument::from_bytes(key)) {
            (Some(range), Ok(key)) => range.position(key),
            _ => 1,
        }
    }
}

/// GIN consistent: array strategies are `ginarrayconsistent`'s; a range matches when its
/// one partial key matched, rechecked against the row.
#[pg_extern(sql = false)]
fn bson_gin_range_consistent(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    // SAFETY: consistent's eight arguments; strategy at 1, `bool check[]` at 0, `bool
    // *recheck` at 5.
    unsafe {
        let strategy = pg_getarg_datum_raw(fcinfo, 1).value() as u16;
        if strategy != RANGE_STRATEGY {
            return pg_sys::ginarrayconsistent(fcinfo).value() != 0;
        }
        let check = pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<bool>();
        let recheck = pg_getarg_datum_raw(fcinfo, 5).cast_mut_ptr::<bool>();
        *recheck = true;
        *check
    }
}
