//! The per-document functions of the statements that run `$out` and `$merge`
//! (`commands/out_merge.rs`): each receives one result document and the stage's spec
//! `{ merge?: <$merge spec>, validator?: <Validator::to_spec> }`, parsed once per call site.

use bson::RawDocument;
use documentdb_errors::{docdb_error, DocDbResult};
use documentdb_pgbson::{ok_or_throw, Bson, BsonRef};
use documentdb_query::document::prepare_for_insert;
use documentdb_query::merge::{self, Merge};
use pgrx::prelude::*;

use crate::call_cache::cached;
use crate::commands::validation::Validator;

/// What a write stage's spec parses to.
struct WriteSpec {
    merge: Option<Merge>,
    validator: Option<Validator>,
}

fn write_spec(spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> DocDbResult<std::rc::Rc<WriteSpec>> {
    cached(fcinfo, spec.as_bytes(), || {
        let doc = spec.document();
        let merge = match doc.get("merge").map_err(|e| docdb_error!(InvalidBSON, "{e}"))? {
            Some(value) => Some(merge::parse_merge(value)?),
            None => None,
        };
        let validator = match doc.get_document("validator") {
            Ok(v) => Some(Validator::from_spec(v)?),
            Err(_) => None,
        };
        Ok(WriteSpec { merge, validator })
    })
}

/// A document as inserted: `_id` first (generated when absent), checked by the target's
/// validator.
fn inserted(document: &RawDocument, spec: &WriteSpec) -> DocDbResult<Bson> {
    let prepared = prepare_for_insert(document)?;
    if let Some(v) = &spec.validator {
        v.check_insert(&prepared)?;
    }
    Ok(Bson::from(prepared))
}

/// `$out`: a result document as the target collection stores it.
#[pg_extern(sql = false)]
fn bson_out_document(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    ok_or_throw(write_spec(spec, fcinfo).and_then(|s| inserted(document.document(), &s)))
}

/// `$merge`: a result document ready to be matched and inserted: `_id` first, generated
/// when the document has none (so a document without `_id` matched on `_id` is inserted,
/// as in MongoDB), after MongoDB's check of the `on` fields (51132). Matched documents are
/// updated from the result document as it was (without a generated `_id`).
#[pg_extern(sql = false)]
fn bson_merge_source(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    ok_or_throw((|| {
        let spec = write_spec(spec, fcinfo)?;
        let merge = spec.merge.as_ref().ok_or_else(|| docdb_error!(InternalError, "no $merge spec"))?;
        let doc = document.document();
        if !merge.on_id() {
            merge::check_on_fields(doc, &merge.on_fields())?;
        }
        Ok(Bson::from(prepare_for_insert(doc)?))
    })())
}

/// `$merge`: what a matched target document becomes (`whenMatched` replace, merge or a
/// pipeline), or the error of `whenMatched: fail`.
#[pg_extern(sql = false)]
fn bson_merge_matched(
    target: BsonRef<'_>,
    source: BsonRef<'_>,
    spec: BsonRef<'_>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Bson {
    ok_or_throw((|| {
        let spec = write_spec(spec, fcinfo)?;
        let merge = spec.merge.as_ref().ok_or_else(|| docdb_error!(InternalError, "no $merge spec"))?;
        if merge.when_matched == merge::WhenMatched::Fail {
            return Err(merge::matched_with_fail(&merge.on_fields(), source.document()));
        }
        let updated = merge::matched_document(merge, target.document(), source.document())?;
        if let Some(v) = &spec.validator {
            v.check_update(target.document(), &updated)?;
        }
        Ok(Bson::from(updated))
    })())
}

/// `$merge`: the document inserted for an unmatched result document (`whenNotMatched:
/// insert`), or the error of `whenNotMatched: fail` (13113).
#[pg_extern(sql = false)]
fn bson_merge_unmatched(source: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    ok_or_throw((|| {
        let spec = write_spec(spec, fcinfo)?;
        let merge = spec.merge.as_ref().ok_or_else(|| docdb_error!(InternalError, "no $merge spec"))?;
        if merge.when_not_matched == merge::WhenNotMatched::Fail {
            return Err(merge::no_matching_document());
        }
        inserted(source.document(), &spec)
    })())
}
