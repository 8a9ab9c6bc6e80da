//! `createIndexes` and `dropIndexes`.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef};
use pgrx::prelude::*;

use super::out_record::reply_record;
use crate::commands::indexes;
use crate::record::{Column, Record};
use crate::spi::with_spi;

/// `createIndexes`. Indexes are built synchronously, so `requests` is always NULL and the
/// gateway never needs to poll `check_build_index_status`.
#[pg_extern(sql = false)]
fn create_indexes_background(
    p_database_name: &str,
    p_index_spec: BsonRef<'_>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let reply = docdb_guard(|| with_spi(|| indexes::create_indexes(p_database_name, p_index_spec.document())));
    reply_record(fcinfo, reply, [Column::Bool(true), Column::Null])
}

/// `dropIndexes` (the body of the `drop_indexes` procedure).
#[pg_extern(sql = false)]
fn drop_indexes_internal(p_database_name: &str, p_arg: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| indexes::drop_indexes(p_database_name, p_arg.document())).map(Bson::from))
}

/// `reIndex` (the body of the `re_index` procedure).
#[pg_extern(sql = false)]
fn re_index_internal(p_database_name: &str, p_arg: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| indexes::re_index(p_database_name, p_arg.document())).map(Bson::from))
}

/// Whether `document` holds an array along one of the paths of `key_pattern` (so its index
/// keys for that pattern are multikey).
/// True, or MongoDB's 171 when two of the key's paths hold different arrays.
#[pg_extern(sql = false)]
fn bson_no_parallel_arrays(document: BsonRef<'_>, key_pattern: BsonRef<'_>) -> bool {
    docdb_guard(|| {
        let paths: Vec<&str> = key_pattern.document().iter().flatten().map(|(p, _)| p.as_str()).collect();
        match documentdb_query::index_bounds::parallel_arrays(document.document(), &paths) {
            Some((later, earlier)) => {
                documentdb_errors::bail!(
                    CannotIndexParallelArrays,
                    "cannot index parallel arrays [{later}] [{earlier}]"
                )
            }
            None => Ok(true),
        }
    })
}

#[pg_extern(sql = false)]
fn bson_has_array_on_key_paths(document: BsonRef<'_>, key_pattern: BsonRef<'_>) -> bool {
    indexes::has_array_on_key_paths(document.document(), key_pattern.document())
}

/// The multikey trigger's WHEN clause: `document` makes index `index_id` multikey and the
/// catalog does not record it yet.
#[pg_extern(sql = false)]
fn bson_index_becomes_multikey(document: BsonRef<'_>, index_id: i64, key_pattern: BsonRef<'_>) -> bool {
    indexes::has_array_on_key_paths(document.document(), key_pattern.document())
        && !docdb_guard(|| with_spi(|| crate::catalog::index_is_multikey(index_id)))
}

/// The keys a multikey index holds for `document` at `path` (`documentdb_query::index_bounds::
/// multikey_terms`), each as `{ "" : value }` so the bson operators compare them: the
/// expression of the GIN index beside each single-field index.
#[pg_extern(sql = false)]
fn bson_index_terms(document: BsonRef<'_>, path: &str) -> Vec<Bson> {
    documentdb_query::index_bounds::multikey_terms(document.document(), path)
        .into_iter()
        .map(super::per_row::wrap)
        .collect()
}

/// One pass of the TTL monitor: deletes the documents TTL indexes have expired (at most
/// `batch_size` per index and statement, repeated until none is left); returns how many.
#[pg_extern(sql = false)]
fn delete_expired_documents(batch_size: i32) -> i64 {
    docdb_guard(|| with_spi(|| crate::commands::ttl::delete_expired_documents(i64::from(batch_size.max(1)))))
}

/// The key a hashed index holds for `document` at `path`; MongoDB's error 16766 for an
/// array along the path (documents with arrays cannot be stored under a hashed index).
#[pg_extern(sql = false)]
fn bson_hashed_key(document: BsonRef<'_>, path: &str) -> i64 {
    docdb_guard(|| {
        documentdb_query::index_bounds::hashed_key(document.document(), path).ok_or_else(|| {
            documentdb_errors::DocDbError::new(
                documentdb_errors::ErrorCode::new(16766),
                "Error: hashed indexes do not currently support array values",
            )
        })
    })
}

/// The key `document` has in an index with `key_pattern` (`{$meta: "indexKey"}`,
/// `returnKey`); NULL for indexes whose keys are not the document's values.
#[pg_extern(sql = false)]
fn bson_index_key(document: BsonRef<'_>, key_pattern: BsonRef<'_>) -> Option<Bson> {
    documentdb_query::index_bounds::index_key_document(document.document(), key_pattern.document()).map(Bson::from)
}

/// `document` with `field` set to its index key `key`, unchanged when there is none (MongoDB
/// leaves a `{$meta: "indexKey"}` field out when no index was read).
#[pg_extern(sql = false)]
fn bson_with_index_key(document: BsonRef<'_>, field: &str, key: Option<BsonRef<'_>>) -> Bson {
    docdb_guard(|| match key {
        Some(key) => documentdb_query::document::with_last_field(
            document.document(),
            field,
            bson::RawBsonRef::Document(key.document()),
        )
        .map(Bson::from),
        None => Ok(Bson::from(document.document().to_owned())),
    })
}

/// The keys a wildcard index (`index_spec`: its key pattern and `wildcardProjection`) holds
/// for `document` (`documentdb_query::wildcard_index`).
#[pg_extern(sql = false)]
fn bson_wildcard_keys(document: BsonRef<'_>, index_spec: BsonRef<'_>) -> Vec<Bson> {
    docdb_guard(|| {
        let index = crate::commands::index_sql::wildcard_index(index_spec.document())?
            .ok_or_else(|| documentdb_errors::docdb_error!(InternalError, "not a wildcard index spec"))?;
        Ok(index.keys(document.document()).into_iter().map(Bson::from).collect())
    })
}

/// The keys a unique multikey index compares for `document` at `path` (array elements, not
/// arrays), each as `{ "" : value }`.
#[pg_extern(sql = false)]
fn bson_index_unique_keys(document: BsonRef<'_>, path: &str) -> Vec<Bson> {
    documentdb_query::index_bounds::unique_keys(document.document(), path)
        .into_iter()
        .map(super::per_row::wrap)
        .collect()
}

/// The keys a unique compound index compares for `document` (one tuple per element of the
/// array its paths go through), each as `{ "" : [v1, v2, ...] }`.
#[pg_extern(sql = false)]
fn bson_index_unique_key_tuples(document: BsonRef<'_>, key_pattern: BsonRef<'_>) -> Vec<Bson> {
    let paths: Vec<&str> = key_pattern.document().iter().flatten().map(|(p, _)| p.as_str()).collect();
    documentdb_query::index_bounds::unique_key_tuples(document.document(), &paths)
        .iter()
        .map(|t| super::per_row::wrap(t.as_raw_bson_ref()))
        .collect()
}

/// The WHEN clause of a unique index's element check: `document` holds an array along the
/// key's path, or the catalog records the index as multikey (arrays elsewhere may share one
/// of its keys).
#[pg_extern(sql = false)]
fn bson_unique_keys_need_check(document: BsonRef<'_>, index_id: i64, key_pattern: BsonRef<'_>) -> bool {
    indexes::has_array_on_key_paths(document.document(), key_pattern.document())
        || docdb_guard(|| with_spi(|| crate::catalog::index_is_multikey(index_id)))
}
