//! `$group` accumulators as one PostgreSQL aggregate:
//! `documentdb_api_internal.bson_group_accumulate(document, '{ "$sum" : "$x" }')`.
//! The transition state is a Rust accumulator living in the aggregate's memory context
//! (dropped with it); the final function returns `{ "" : result }` and leaves the state
//! as it was, so the aggregate also runs over `$setWindowFields` windows.

use bson::RawBsonRef;
use documentdb_errors::docdb_error;
use documentdb_pgbson::{ok_or_throw, throw, Bson, BsonRef};
use documentdb_query::accumulators::Accumulator;
use pgrx::fcinfo::{pg_arg_is_null, pg_getarg_datum_raw};
use pgrx::prelude::*;
use pgrx::{FromDatum, PgMemoryContexts};

use super::per_row::wrap;
/// Parses `{ "$op": arg [, "$$vars": { ...let variables } ] }`.
fn accumulator_of(spec: &bson::RawDocument) -> documentdb_errors::DocDbResult<Accumulator> {
    let mut op_arg = None;
    let mut ctx = documentdb_query::expr::ExprContext::default();
    for element in spec {
        let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        if key.as_str() == crate::commands::aggregate::ACCUMULATOR_VARS {
            if let RawBsonRef::Document(vars) = value {
                ctx = crate::commands::vars::context_of(vars)?;
            }
        } else if op_arg.is_none() {
            op_arg = Some((key.as_str(), value));
        }
    }
    let (op, arg) = op_arg.ok_or_else(|| docdb_error!(InternalError, "empty accumulator spec"))?;
    // Specs come from the translator, which validated them for their stage ($group with
    // the group accumulators; $setWindowFields also with the window-only ones).
    let arg = bson::Bson::try_from(arg).map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
    Accumulator::parse_window(op, &arg, &ctx)
}

struct GroupState {
    accumulator: Accumulator,
}

/// Transition: (state internal, document bson, spec bson) -> state.
#[pg_extern(sql = false)]
fn bson_group_accumulate_transition(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::Internal {
    // SAFETY: declared (internal, bson, bson) with STYPE internal; the state lives in the
    // aggregate context and is dropped when that context goes away.
    unsafe {
        let mut agg_context: pg_sys::MemoryContext = std::ptr::null_mut();
        if pg_sys::AggCheckCallContext(fcinfo, &mut agg_context) == 0 {
            throw(docdb_error!(InternalError, "bson_group_accumulate called outside an aggregate"));
        }
        let state = if pg_arg_is_null(fcinfo, 0) {
            let Some(spec) = BsonRef::from_datum(pg_getarg_datum_raw(fcinfo, 2), pg_arg_is_null(fcinfo, 2)) else {
                throw(docdb_error!(InternalError, "bson_group_accumulate needs an accumulator spec"));
            };
            let parsed = accumulator_of(spec.document());
            let accumulator = ok_or_throw(parsed);
            PgMemoryContexts::For(agg_context).leak_and_drop_on_delete(GroupState { accumulator })
        } else {
            pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<GroupState>()
        };
        if !pg_arg_is_null(fcinfo, 1) {
            if let (Some(state), Some(doc)) =
                (state.as_mut(), BsonRef::from_datum(pg_getarg_datum_raw(fcinfo, 1), false))
            {
                let result = state.accumulator.accumulate_document(doc.document());
                ok_or_throw(result);
            }
        }
        pgrx::Internal::from(Some(pg_sys::Datum::from(state)))
    }
}

/// Final: state -> `{ "" : result }` (the accumulator's value over no rows when NULL).
#[pg_extern(sql = false)]
fn bson_group_accumulate_final(fcinfo: pg_sys::FunctionCallInfo) -> Option<Bson> {
    // SAFETY: argument 0 is the state pointer produced by the transition function.
    unsafe {
        if pg_arg_is_null(fcinfo, 0) {
            return Some(wrap(RawBsonRef::Null));
        }
        let state = pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<GroupState>().as_ref()?;
        let value = ok_or_throw(state.accumulator.finish_checked());
        let raw = ok_or_throw(documentdb_query::document::to_raw_value(&value));
        Some(wrap(raw.as_raw_bson_ref()))
    }
}
