//! `find`, `count` and `distinct` (their SQL is built by `query_sql`; on views they run as
//! aggregations).

use crate::authz;
use bson::{rawdoc, RawDocument, RawDocumentBuf};
use documentdb_authz::Action;
use documentdb_errors::{bail, DocDbResult};

use super::cursor::{self, CursorOptions, FirstPage, OwnedParam};
use super::query_sql::{is_single_id_equality, select_sql, validate_projection, QuerySpec, SqlBuilder};
use super::spec::{self, read_fields, Field};
use super::write_result::{append_count, cstr};
use crate::catalog;
use crate::spi::{self, Param, Value};
use crate::sql_names;
use documentdb_query::filter::Filter;

fn empty_page(ns: &str) -> FirstPage {
    let reply = rawdoc! { "cursor": { "firstBatch": [], "id": 0i64, "ns": ns }, "ok": 1.0 };
    FirstPage { reply, continuation: None, persist_connection: false, cursor_id: 0 }
}

/// Options of `find` that we accept but which have no effect on a standalone server or
/// with our storage, and those we reject because we can't honour them.
fn unsupported(field: &Field<'_>) -> DocDbResult<bool> {
    match field.name {
        "tailable" | "awaitData" | "oplogReplay" | "showRecordId" | "min" | "max" => {
            if field.bool().unwrap_or(true) {
                bail!(CommandNotSupported, "find option '{}' is not supported", field.name);
            }
            Ok(true)
        }
        "collation" => field.simple_collation().map(|()| true),
        "allowDiskUse"
        | "noCursorTimeout"
        | "allowPartialResults"
        | "readOnce"
        | "$_requestResumeToken"
        | "$_resumeAfter"
        | "maxScan"
        | "snapshot" => Ok(true),
        _ => Ok(false),
    }
}

/// Reads a `find` command: (collection, query parts, cursor options).
pub fn parse_find(spec_doc: &RawDocument) -> DocDbResult<(&str, QuerySpec<'_>, CursorOptions)> {
    let coll = spec::collection_name(spec_doc, "find")?;
    let mut q = QuerySpec {
        filter: None,
        sort: None,
        projection: None,
        skip: 0,
        limit: 0,
        vars: None,
        hint: None,
        return_key: false,
    };
    let mut opts = CursorOptions { batch_size: None, limit: 0, single_batch: false };
    read_fields(spec_doc, "find", |field| {
        match field.name {
            "filter" => q.filter = field.optional_document()?,
            "sort" => q.sort = field.optional_document()?,
            "projection" => q.projection = field.optional_document()?,
            "skip" => q.skip = field.non_negative()?,
            "limit" => {
                let limit = field.i64()?;
                if limit < 0 {
                    bail!(BadValue, "Limit value must be non-negative, but received: {limit}");
                }
                q.limit = limit;
            }
            "batchSize" => opts.batch_size = Some(field.non_negative()?),
            "singleBatch" => opts.single_batch = field.bool()?,
            "let" => q.vars = Some(super::vars::evaluate_let(field.document()?)?),
            "hint" => q.hint = Some(field.value),
            "returnKey" => q.return_key = field.bool()?,
            _ => return unsupported(&field),
        }
        Ok(true)
    })?;
    Ok((coll, q, opts))
}

/// `find_cursor_first_page`.
pub fn find_first_page(db: &str, spec_doc: &RawDocument, cursor_id: i64) -> DocDbResult<FirstPage> {
    let (coll, q, mut opts) = parse_find(spec_doc)?;
    catalog::validate_database_name(db)?;
    let ns = format!("{db}.{coll}");
    // Validate the query parts even when there is no collection, as MongoDB does.
    if let Some(f) = q.filter {
        SqlBuilder::with_vars(q.vars.clone()).parse_filter(f)?;
    }
    if let Some(s) = q.sort {
        super::query_text::validate_sort(s)?;
    }
    let found = catalog::lookup(db, coll)?;
    authz::require_data(found.as_ref(), Action::Find, db, coll, spec_doc)?;
    let Some(collection) = found else {
        validate_projection(&q)?;
        return Ok(empty_page(&ns));
    };
    if collection.is_view() {
        return super::aggregate::find_on_view(&collection, &q, opts, cursor_id);
    }
    opts.limit = q.limit;
    // `_id` equality matches at most one document: one statement answers it, with no
    // resumable scan or portal, and the cursor is exhausted in the first batch (as mongod's
    // _id lookup is), unless `batchSize: 0` asks for an empty first batch.
    let at_most_one = q.filter.is_some_and(is_single_id_equality);
    if at_most_one && opts.batch_size != Some(0) {
        opts.single_batch = true;
    }
    let resumable = !at_most_one && q.sort.is_none_or(|s| s.is_empty()) && q.skip == 0;
    let mut query = select_sql(&collection, &q, resumable)?;
    super::meta_fields::bind_index_key(&mut query, &collection)?;
    cursor::first_page(query, &ns, opts, cursor_id)
}

/// `count_query`: `{ n, ok }`.
pub fn count(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "count")?;
    let mut filter = None;
    let mut skip = 0;
    let mut limit = 0;
    let mut hint = None;
    read_fields(spec_doc, "count", |field| {
        match field.name {
            "query" => filter = field.optional_document()?,
            "skip" => skip = field.non_negative()?,
            // A negative limit counts like its absolute value.
            "limit" => limit = field.i64()?.saturating_abs(),
            "hint" => hint = Some(field.value),
            "fields" => {}
            "collation" => {
                unsupported(&field)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if let Some(f) = filter {
        Filter::parse(f)?;
    }
    let found = catalog::lookup(db, coll)?;
    authz::require_data(found.as_ref(), Action::Find, db, coll, spec_doc)?;
    let n = match found {
        None => 0,
        Some(collection) if collection.is_view() => super::aggregate::count_on_view(&collection, filter, skip, limit)?,
        Some(collection) => {
            let mut b = SqlBuilder::new();
            if let Some(hint) = hint {
                b.use_hint(&collection, hint)?;
            }
            let where_clause = b.where_clause(&collection, filter)?;
            let mut inner = format!("SELECT 1 FROM {} WHERE {where_clause}", collection.table());
            if skip > 0 {
                inner.push_str(&format!(" OFFSET {skip}"));
            }
            if limit > 0 {
                inner.push_str(&format!(" LIMIT {limit}"));
            }
            let sql = if skip == 0 && limit == 0 {
                format!("SELECT count(*) FROM {} WHERE {where_clause}", collection.table())
            } else {
                format!("SELECT count(*) FROM ({inner}) s")
            };
            let params: Vec<Param<'_>> = b.params.iter().map(OwnedParam::as_param).collect();
            let rows = spi::execute_planned(&sql, &params, true, 1, &b.planning())?;
            rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0)
        }
    };
    let mut reply = RawDocumentBuf::new();
    append_count(&mut reply, "n", n);
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

/// `distinct_query`: `{ values: [...], ok }`, values in BSON order.
pub fn distinct(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "distinct")?;
    let mut key: Option<&str> = None;
    let mut filter = None;
    let mut hint = None;
    read_fields(spec_doc, "distinct", |field| {
        match field.name {
            "key" => key = Some(field.str()?),
            "query" => filter = field.optional_document()?,
            "hint" => hint = Some(field.value),
            "collation" => {
                unsupported(&field)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let Some(key) = key else {
        return Err(spec::missing("distinct", "key"));
    };
    if key.is_empty() {
        bail!(BadValue, "FieldPath cannot be constructed with empty string");
    }
    if let Some(f) = filter {
        Filter::parse(f)?;
    }
    let found = catalog::lookup(db, coll)?;
    authz::require_data(found.as_ref(), Action::Find, db, coll, spec_doc)?;
    let values = match found {
        None => rawdoc! { "values": [] },
        Some(collection) if collection.is_view() => super::aggregate::distinct_on_view(&collection, key, filter)?,
        Some(collection) => {
            let mut b = SqlBuilder::new();
            if let Some(hint) = hint {
                b.use_hint(&collection, hint)?;
            }
            let where_clause = b.where_clause(&collection, filter)?;
            let k = b.param(OwnedParam::Text(key.to_owned()));
            let sql = format!(
                "SELECT {}(v, 'values') FROM \
                   (SELECT DISTINCT v FROM {} t, {}(t.document, {k}::text) v \
                    WHERE {where_clause} ORDER BY v) d",
                sql_names::ARRAY_AGG,
                collection.table(),
                sql_names::DISTINCT_UNWIND
            );
            let params: Vec<Param<'_>> = b.params.iter().map(OwnedParam::as_param).collect();
            let rows = spi::execute_planned(&sql, &params, true, 1, &b.planning())?;
            rows.into_iter()
                .next()
                .and_then(|r| r.into_iter().next()?.into_bson())
                .and_then(|b| RawDocumentBuf::from_bytes(b).ok())
                .unwrap_or_else(|| rawdoc! { "values": [] })
        }
    };
    let mut reply = values;
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}
