//! `$bucketAuto` (`commands/aggregate` `add_bucket_auto`): each document's key, the running
//! aggregate that numbers buckets over the documents in key order, and each bucket's output
//! document. `spec` is `{ spec: <the stage's value>, vars?: {...let variables} }`.

use std::rc::Rc;

use bson::{rawdoc, RawBsonRef};
use documentdb_errors::{docdb_error, DocDbResult};
use documentdb_pgbson::{ok_or_throw, throw, Bson, BsonRef};
use documentdb_query::bucket_auto::{self, BucketAssigner, BucketAuto};
use pgrx::fcinfo::{pg_arg_is_null, pg_getarg_datum_raw};
use pgrx::prelude::*;
use pgrx::{FromDatum, PgMemoryContexts};

use crate::call_cache::cached;

fn parse(spec: &bson::RawDocument) -> DocDbResult<BucketAuto> {
    let value = spec.get("spec").map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
    let value = value.ok_or_else(|| docdb_error!(InternalError, "$bucketAuto spec missing"))?;
    let ctx = match spec.get_document("vars") {
        Ok(vars) => crate::commands::vars::context_of(vars)?,
        Err(_) => documentdb_query::expr::ExprContext::default(),
    };
    bucket_auto::parse(value, &ctx)
}

fn cached_spec(spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> DocDbResult<Rc<BucketAuto>> {
    cached(fcinfo, spec.as_bytes(), || parse(spec.document()))
}

/// The `groupBy` key of a document, as `{ k: key }` (documents compare by their key).
#[pg_extern(sql = false)]
fn bson_bucket_auto_key(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    ok_or_throw((|| {
        let key = cached_spec(spec, fcinfo)?.group_key(document.document())?;
        let mut out = bson::Document::new();
        out.insert("k", key);
        documentdb_query::document::to_raw_document(&out).map(Bson::from)
    })())
}

struct AssignState {
    assigner: BucketAssigner,
    /// The bucket of the latest document.
    bucket: u32,
}

/// Transition of the running bucket numbering: (state, key `{k: key}`, total documents,
/// spec) -> state. Keys arrive in ascending order (the window's ORDER BY).
#[pg_extern(sql = false)]
fn bson_bucket_auto_assign_transition(fcinfo: pg_sys::FunctionCallInfo) -> pgrx::Internal {
    // SAFETY: declared (internal, bson, int8, bson) with STYPE internal; the state lives in
    // the aggregate context and is dropped with it.
    unsafe {
        let mut agg_context: pg_sys::MemoryContext = std::ptr::null_mut();
        if pg_sys::AggCheckCallContext(fcinfo, &mut agg_context) == 0 {
            throw(docdb_error!(InternalError, "bson_bucket_auto_assign called outside an aggregate"));
        }
        let state = if pg_arg_is_null(fcinfo, 0) {
            let total = i64::from_datum(pg_getarg_datum_raw(fcinfo, 2), pg_arg_is_null(fcinfo, 2)).unwrap_or(0);
            let Some(spec) = BsonRef::from_datum(pg_getarg_datum_raw(fcinfo, 3), pg_arg_is_null(fcinfo, 3)) else {
                throw(docdb_error!(InternalError, "bson_bucket_auto_assign needs its spec"));
            };
            let parsed = ok_or_throw(parse(spec.document()));
            let assigner = parsed.assigner(u64::try_from(total).unwrap_or(0));
            PgMemoryContexts::For(agg_context).leak_and_drop_on_delete(AssignState { assigner, bucket: 0 })
        } else {
            pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<AssignState>()
        };
        if let (Some(state), Some(key)) =
            (state.as_mut(), BsonRef::from_datum(pg_getarg_datum_raw(fcinfo, 1), pg_arg_is_null(fcinfo, 1)))
        {
            let value = match key.document().get("k") {
                Ok(Some(v)) => ok_or_throw(bson::Bson::try_from(v).map_err(|e| docdb_error!(InvalidBSON, "{e}"))),
                _ => bson::Bson::Null,
            };
            state.bucket = ok_or_throw(state.assigner.assign(&value));
        }
        pgrx::Internal::from(Some(pg_sys::Datum::from(state)))
    }
}

/// Final: the bucket number of the latest document (the state is left as it was).
#[pg_extern(sql = false)]
fn bson_bucket_auto_assign_final(fcinfo: pg_sys::FunctionCallInfo) -> i32 {
    // SAFETY: argument 0 is the state pointer produced by the transition function.
    unsafe {
        if pg_arg_is_null(fcinfo, 0) {
            return 0;
        }
        let bucket = pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<AssignState>().as_ref().map_or(0, |s| s.bucket);
        i32::try_from(bucket).unwrap_or(i32::MAX)
    }
}

/// A bucket's output document: `_id: {min, max}` (from its smallest and largest keys and
/// its neighbours', each `{ "" : key }`) and the accumulated fields (`fields`).
#[pg_extern(sql = false)]
fn bson_bucket_auto_output(
    min: Option<BsonRef<'_>>,
    max: Option<BsonRef<'_>>,
    next_min: Option<BsonRef<'_>>,
    previous_max: Option<BsonRef<'_>>,
    fields: BsonRef<'_>,
    spec: BsonRef<'_>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Bson {
    ok_or_throw((|| {
        let granularity = cached_spec(spec, fcinfo)?.granularity();
        let value = |d: &Option<BsonRef<'_>>| -> DocDbResult<Option<bson::Bson>> {
            match d.as_ref().and_then(|d| d.document().iter().next()) {
                Some(Ok((_, v))) => bson::Bson::try_from(v).map(Some).map_err(|e| docdb_error!(InvalidBSON, "{e}")),
                _ => Ok(None),
            }
        };
        let min = value(&min)?.unwrap_or(bson::Bson::Null);
        let max = value(&max)?.unwrap_or(bson::Bson::Null);
        let id = bucket_auto::bucket_id(
            &min,
            &max,
            value(&next_min)?.as_ref(),
            value(&previous_max)?.as_ref(),
            granularity,
        )?;
        let mut out = rawdoc! { "_id": documentdb_query::document::to_raw_document(&id)? };
        for element in fields.document() {
            let (key, v): (_, RawBsonRef<'_>) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
            out.append(key, v);
        }
        Ok(Bson::from(out))
    })())
}
