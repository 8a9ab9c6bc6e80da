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
/// Parses `{ "$op": arg [, "$$vars": { ...let variables } ] }`: the accumulator and the
/// variables (kept to serialize partial states with).
fn accumulator_of(spec: &bson::RawDocument) -> documentdb_errors::DocDbResult<(Accumulator, Option<Vec<u8>>)> {
    let mut op_arg = None;
    let mut ctx = documentdb_query::expr::ExprContext::default();
    let mut vars_bytes = None;
    for element in spec {
        let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        if key.as_str() == crate::commands::aggregate::ACCUMULATOR_VARS {
            if let RawBsonRef::Document(vars) = value {
                ctx = crate::commands::vars::context_of(vars)?;
                vars_bytes = Some(vars.as_bytes().to_vec());
            }
        } else if op_arg.is_none() {
            op_arg = Some((key.as_str(), value));
        }
    }
    let (op, arg) = op_arg.ok_or_else(|| docdb_error!(InternalError, "empty accumulator spec"))?;
    // Specs come from the translator, which validated them for their stage ($group with
    // the group accumulators; $setWindowFields also with the window-only ones).
    let arg = bson::Bson::try_from(arg).map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
    Ok((Accumulator::parse_window(op, &arg, &ctx)?, vars_bytes))
}

struct GroupState {
    accumulator: Accumulator,
    /// The command's `let` variables (the argument's parse context), as document bytes.
    vars: Option<Vec<u8>>,
}

/// Transition: (state internal, document bson, spec bson) -> state.
#[pg_extern(sql = false)]
fn bson_group_accumulate_transition(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::Internal {
    // SAFETY: declared (internal, bson, bson) with STYPE internal; the state lives in the
    // aggregate context and is dropped when that context goes away.
    unsafe {
        // Checked on every call: outside an aggregate, a non-NULL state could be another
        // function's `internal` result passed in from SQL. The node tag is read directly
        // (what AggCheckCallContext tests) rather than through a guarded call per row.
        let context = (*fcinfo).context;
        if !pgrx::is_a(context, pg_sys::NodeTag::T_AggState) && !pgrx::is_a(context, pg_sys::NodeTag::T_WindowAggState)
        {
            throw(docdb_error!(InternalError, "bson_group_accumulate called outside an aggregate"));
        }
        let state = if pg_arg_is_null(fcinfo, 0) {
            let mut agg_context: pg_sys::MemoryContext = std::ptr::null_mut();
            if pg_sys::AggCheckCallContext(fcinfo, &mut agg_context) == 0 {
                throw(docdb_error!(InternalError, "bson_group_accumulate called outside an aggregate"));
            }
            let Some(spec) = BsonRef::from_datum(pg_getarg_datum_raw(fcinfo, 2), pg_arg_is_null(fcinfo, 2)) else {
                throw(docdb_error!(InternalError, "bson_group_accumulate needs an accumulator spec"));
            };
            let (accumulator, vars) = ok_or_throw(accumulator_of(spec.document()));
            PgMemoryContexts::For(agg_context).leak_and_drop_on_delete(GroupState { accumulator, vars })
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

/// The aggregate context of an aggregate support function call.
///
/// # Safety
/// `fcinfo` must be the call's own.
unsafe fn aggregate_context(fcinfo: pg_sys::FunctionCallInfo, function: &str) -> pg_sys::MemoryContext {
    let mut agg_context: pg_sys::MemoryContext = std::ptr::null_mut();
    // SAFETY: the caller's fcinfo (see the function's contract).
    if unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut agg_context) } == 0 {
        throw(docdb_error!(InternalError, "{function} called outside an aggregate"));
    }
    agg_context
}

/// Combine (parallel aggregation): (state, state) -> state, the second's documents merged
/// into the first's.
#[pg_extern(sql = false)]
fn bson_group_accumulate_combine(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::Internal {
    // SAFETY: declared (internal, internal) -> internal; both are GroupState pointers of
    // this aggregate (or NULL), the result lives in the aggregate context.
    unsafe {
        let agg_context = aggregate_context(fcinfo, "bson_group_accumulate_combine");
        let left = if pg_arg_is_null(fcinfo, 0) {
            None
        } else {
            pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<GroupState>().as_mut()
        };
        let right = if pg_arg_is_null(fcinfo, 1) {
            None
        } else {
            pg_getarg_datum_raw(fcinfo, 1).cast_mut_ptr::<GroupState>().as_ref()
        };
        let result: *mut GroupState = match (left, right) {
            (Some(l), Some(r)) => {
                ok_or_throw(l.accumulator.merge(&r.accumulator));
                l
            }
            (Some(l), None) => l,
            (None, Some(r)) => PgMemoryContexts::For(agg_context)
                .leak_and_drop_on_delete(GroupState { accumulator: r.accumulator.clone(), vars: r.vars.clone() }),
            (None, None) => return pgrx::Internal::from(None),
        };
        pgrx::Internal::from(Some(pg_sys::Datum::from(result)))
    }
}

/// Serialize (parallel aggregation): state -> bytea `{ s: <state>, v?: <variables> }`.
#[pg_extern(sql = false)]
fn bson_group_accumulate_serialize(fcinfo: pg_sys::FunctionCallInfo) -> Vec<u8> {
    // SAFETY: declared STRICT (internal) -> bytea; argument 0 is a GroupState pointer.
    unsafe {
        let Some(state) = pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<GroupState>().as_ref() else {
            throw(docdb_error!(InternalError, "bson_group_accumulate_serialize without a state"));
        };
        let mut doc = bson::RawDocumentBuf::new();
        doc.append(
            bson::raw::cstr!("s"),
            bson::RawBson::Binary(bson::Binary {
                subtype: bson::spec::BinarySubtype::Generic,
                bytes: state.accumulator.serialize_state(),
            }),
        );
        if let Some(vars) = state.vars.as_ref().and_then(|v| bson::RawDocumentBuf::from_bytes(v.clone()).ok()) {
            doc.append(bson::raw::cstr!("v"), vars);
        }
        doc.into_bytes()
    }
}

/// Deserialize (parallel aggregation): (bytea, internal) -> state in the aggregate context.
#[pg_extern(sql = false)]
fn bson_group_accumulate_deserialize(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::Internal {
    // SAFETY: declared STRICT (bytea, internal) -> internal; argument 0 is what
    // bson_group_accumulate_serialize returned.
    unsafe {
        let agg_context = aggregate_context(fcinfo, "bson_group_accumulate_deserialize");
        let Some(bytes) = <&[u8]>::from_datum(pg_getarg_datum_raw(fcinfo, 0), pg_arg_is_null(fcinfo, 0)) else {
            throw(docdb_error!(InternalError, "bson_group_accumulate_deserialize without bytes"));
        };
        let state = ok_or_throw((|| {
            let doc = bson::RawDocument::from_bytes(bytes).map_err(|e| docdb_error!(InternalError, "{e}"))?;
            let vars = doc.get_document("v").ok().map(|v| v.as_bytes().to_vec());
            let ctx = match doc.get_document("v") {
                Ok(v) => crate::commands::vars::context_of(v)?,
                Err(_) => documentdb_query::expr::ExprContext::default(),
            };
            let state_bytes = doc.get_binary("s").map_err(|e| docdb_error!(InternalError, "{e}"))?.bytes;
            let accumulator = Accumulator::deserialize_state_with_context(state_bytes, &ctx)?;
            Ok(GroupState { accumulator, vars })
        })());
        let state = PgMemoryContexts::For(agg_context).leak_and_drop_on_delete(state);
        pgrx::Internal::from(Some(pg_sys::Datum::from(state)))
    }
}

/// An accumulator spec with the variables of a `$lookup` pipeline, computed per local
/// document: `spec` plus `"$$vars": vars`.
#[pg_extern(sql = false)]
fn bson_accumulator_with_vars(spec: BsonRef<'_>, vars: BsonRef<'_>) -> Bson {
    let mut out = spec.document().to_owned();
    out.append(
        crate::commands::write_result::cstr(crate::commands::aggregate::ACCUMULATOR_VARS),
        vars.document().to_owned(),
    );
    Bson::from(out)
}
