//! Building documents from SQL values: `bson_build_document(VARIADIC "any")`,
//! `row_get_bson(record)` and the aggregate `bson_array_agg(bson, text)`.
//! These take `"any"`/`record`/`internal` arguments, so their SQL is hand-written in
//! `sql/documentdb_core_operators.sql` and they read their arguments from `fcinfo`.

use bson::{RawArrayBuf, RawBson, RawDocumentBuf};
use documentdb_errors::{bail, DocDbResult};
use documentdb_pgbson::{ok_or_throw, Bson, BsonRef};
use pgrx::fcinfo::{pg_arg_is_null, pg_getarg_datum_raw};
use pgrx::prelude::*;
use pgrx::{FromDatum, PgMemoryContexts};

use crate::io::{validated_built, MAX_BSON_VALUE_SIZE};
use crate::pg_value::{bson_argument_value, bson_key, datum_to_bson, is_text_like, record_to_document};

/// `bson_build_document('a', 1, 'b', 'x', …)`: alternating keys and values of any type.
#[pg_extern(sql = false)]
fn bson_build_document(fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    ok_or_throw(build_document(fcinfo))
}

fn build_document(fcinfo: pg_sys::FunctionCallInfo) -> DocDbResult<Bson> {
    // SAFETY: fcinfo is the live call info of a VARIADIC "any" function; argument types come
    // from the call expression, so each datum is read as its declared type.
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        if pg_sys::get_fn_expr_variadic(flinfo) {
            bail!(
                BadValue,
                "bson_build_document does not accept a VARIADIC array; pass keys and values as separate arguments"
            );
        }
        let nargs = usize::try_from((*fcinfo).nargs).unwrap_or(0);
        if nargs % 2 != 0 {
            bail!(BadValue, "bson_build_document needs an even number of arguments (key, value, ...), got {nargs}");
        }
        let mut doc = RawDocumentBuf::new();
        for pair in 0..nargs / 2 {
            let key_index = pair * 2;
            let key_type = pg_sys::get_fn_expr_argtype(flinfo, key_index as i32);
            if pg_arg_is_null(fcinfo, key_index) || !is_text_like(key_type) {
                bail!(BadValue, "bson_build_document argument {} must be a non-null text key", key_index + 1);
            }
            let key_datum = pg_getarg_datum_raw(fcinfo, key_index);
            let key = if key_type == pg_sys::UNKNOWNOID {
                // An untyped literal: a plain C string.
                std::ffi::CStr::from_ptr(key_datum.cast_mut_ptr()).to_string_lossy().into_owned()
            } else if key_type == pg_sys::NAMEOID {
                // `name` is a fixed-length NUL-padded C string by reference, not a varlena.
                let name = key_datum.cast_mut_ptr::<pg_sys::NameData>();
                std::ffi::CStr::from_ptr((*name).data.as_ptr()).to_string_lossy().into_owned()
            } else {
                String::from_polymorphic_datum(key_datum, false, key_type).unwrap_or_default()
            };
            let value_index = key_index + 1;
            let value_type = pg_sys::get_fn_expr_argtype(flinfo, value_index as i32);
            let value = if value_type == pg_sys::UNKNOWNOID && !pg_arg_is_null(fcinfo, value_index) {
                let text = std::ffi::CStr::from_ptr(pg_getarg_datum_raw(fcinfo, value_index).cast_mut_ptr());
                RawBson::String(text.to_string_lossy().into_owned())
            } else {
                datum_to_bson(
                    pg_getarg_datum_raw(fcinfo, value_index),
                    pg_arg_is_null(fcinfo, value_index),
                    value_type,
                )?
            };
            doc.append(bson_key(&key)?, value);
        }
        // Values nest documents that were each valid: the whole may now be too deep or too
        // large, and every bson datum must be valid for the readers that trust it.
        validated_built(doc)
    }
}

/// `row_get_bson(record)`: one document per row, keyed by column name.
#[pg_extern(sql = false)]
fn row_get_bson(fcinfo: pg_sys::FunctionCallInfo) -> Option<Bson> {
    // SAFETY: declared `row_get_bson(record)`; argument 0 is a composite datum when non-null.
    unsafe {
        if pg_arg_is_null(fcinfo, 0) {
            return None;
        }
        let doc = ok_or_throw(record_to_document(pg_getarg_datum_raw(fcinfo, 0)));
        // Moved into the check, so nothing is left to drop when a throw longjmps past here.
        Some(ok_or_throw(validated_built(doc)))
    }
}

/// Transition state of `bson_array_agg`: the array under construction and its key.
struct ArrayAggState {
    key: String,
    items: RawArrayBuf,
}

/// `bson_array_agg(value bson, key text)` transition: appends the value (a `{ "" : v }`
/// document contributes `v`; SQL NULL contributes BSON null).
#[pg_extern(sql = false)]
fn bson_array_agg_transition(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::Internal {
    // SAFETY: declared (internal, bson, text) with STYPE internal; the state pointer we
    // return lives in the aggregate memory context and is dropped when it is reset.
    unsafe {
        let mut agg_context: pg_sys::MemoryContext = std::ptr::null_mut();
        if pg_sys::AggCheckCallContext(fcinfo, &mut agg_context) == 0 {
            ok_or_throw::<()>(Err(documentdb_errors::docdb_error!(
                InternalError,
                "bson_array_agg_transition called outside an aggregate"
            )));
        }
        let state = if pg_arg_is_null(fcinfo, 0) {
            let key = if pg_arg_is_null(fcinfo, 2) {
                String::new()
            } else {
                String::from_datum(pg_getarg_datum_raw(fcinfo, 2), false).unwrap_or_default()
            };
            if let Err(err) = bson_key(&key) {
                drop(key);
                documentdb_pgbson::throw(err);
            }
            PgMemoryContexts::For(agg_context).leak_and_drop_on_delete(ArrayAggState { key, items: RawArrayBuf::new() })
        } else {
            pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<ArrayAggState>()
        };
        let value = if pg_arg_is_null(fcinfo, 1) {
            RawBson::Null
        } else {
            match BsonRef::from_datum(pg_getarg_datum_raw(fcinfo, 1), false) {
                Some(doc) => bson_argument_value(doc.document()),
                None => RawBson::Null,
            }
        };
        if let Some(state) = state.as_mut() {
            state.items.push(value);
            // The result is one document: stop at its size limit instead of growing the
            // array until memory runs out (which aborts the backend).
            if state.items.as_bytes().len() > MAX_BSON_VALUE_SIZE {
                ok_or_throw::<()>(Err(documentdb_errors::DocDbError::new(
                    documentdb_errors::ErrorCode::BSONObjectTooLarge,
                    format!(
                        "the aggregated array exceeds the maximum document size of {} bytes",
                        documentdb_bson::MAX_BSON_SIZE
                    ),
                )));
            }
        }
        pgrx::Internal::from(Some(pg_sys::Datum::from(state)))
    }
}

/// `bson_array_agg` final function: `{ key : [ ...values ] }`; NULL over no rows.
#[pg_extern(sql = false)]
fn bson_array_agg_final(fcinfo: pg_sys::FunctionCallInfo) -> Option<Bson> {
    // SAFETY: argument 0 is the state pointer produced by the transition function.
    unsafe {
        if pg_arg_is_null(fcinfo, 0) {
            return None;
        }
        let state = pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<ArrayAggState>().as_ref()?;
        // The key was validated when the state was created.
        let key = bson_key(&state.key).ok()?;
        let mut doc = RawDocumentBuf::new();
        doc.append(key, state.items.clone());
        Some(ok_or_throw(validated_built(doc)))
    }
}
