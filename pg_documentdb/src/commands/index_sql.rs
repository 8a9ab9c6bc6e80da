//! The SQL of index keys, one text for `createIndexes` (which builds indexes over it) and the
//! queries (whose conditions and sorts name it, so PostgreSQL's planner matches the two):
//! sort keys of btree indexes, the `_id` column, the multikey keys and array ends beside
//! single-field indexes, hashed and wildcard keys, partial index predicates.

use bson::{rawdoc, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::DocDbResult;

use crate::catalog::Collection;
use crate::spi::quote_literal;
use crate::sql_names::{self, BSON};

/// An index key as stored and compared: `{ "" : value }` (the `object_id` column, the
/// btree key expressions, the multikey terms).
pub(crate) fn key_bytes(value: RawBsonRef<'_>) -> Vec<u8> {
    documentdb_query::document::single_value_document(value).into_bytes()
}

/// The `_id` key column (second column of the primary key).
pub const PRIMARY_KEY: &str = "object_id";

/// The SQL expression of an index key for `path` that key bounds may restrict: the primary
/// key's `object_id` for `_id`, or the key expression of a secondary index holding one
/// single-valued key per document for the path (hidden indexes are never chosen).
pub(crate) fn index_key_expression(collection: &Collection, path: &str) -> DocDbResult<Option<String>> {
    index_key_expression_of(collection, path, "")
}

/// [`index_key_expression`] over the columns of the table aliased `alias` (`"f."`; empty
/// for unqualified columns).
pub(crate) fn index_key_expression_of(collection: &Collection, path: &str, alias: &str) -> DocDbResult<Option<String>> {
    if path == "_id" {
        return Ok(Some(format!("{alias}{PRIMARY_KEY}")));
    }
    for index in collection.indexes.iter().filter(|i| i.bounds_keys() && !i.is_hidden()) {
        if let Some(ascending) = index.ascending_on(path) {
            return sort_key_expression(&format!("{alias}document"), path, ascending).map(Some);
        }
    }
    Ok(None)
}

/// The multikey keys of a document at `path`, as SQL: the expression of the GIN index
/// beside a single-field index, which holds only the documents with an array along the
/// path (the btree's one key per document answers for the others; see
/// `query_sql::SqlBuilder::index_bound_conditions`).
pub fn terms_expression(path: &str) -> String {
    format!("{}(document, {}::text)", sql_names::INDEX_TERMS, quote_literal(path))
}

/// `document` holds an array along a path of `key`, as SQL: the GIN index's predicate.
pub fn has_array_condition(key: &RawDocument) -> String {
    format!(
        "{}(document, {}::{BSON})",
        sql_names::HAS_ARRAY_ON_KEY_PATHS,
        quote_literal(&documentdb_bson::extjson::to_canonical_string(key))
    )
}

/// The filter an index holds its documents by (`partialFilterExpression`, and `{path:
/// {$exists: true}}` for each key of a sparse index), as a document; `None` for an index of
/// every document.
pub fn index_filter(spec: &RawDocument) -> Option<RawDocumentBuf> {
    let mut filter = RawDocumentBuf::new();
    if spec.get_bool("sparse").unwrap_or(false) {
        for (path, _) in spec.get_document("key").ok()?.iter().flatten() {
            filter.append(path, rawdoc! { "$exists": true });
        }
    }
    if let Ok(partial) = spec.get_document("partialFilterExpression") {
        for (k, v) in partial.iter().flatten() {
            filter.append(k, v);
        }
    }
    (!filter.is_empty()).then_some(filter)
}

/// The predicates of a partial or sparse index as SQL: its `CREATE INDEX ... WHERE` and,
/// verbatim, the condition a query that implies the index filter adds so that PostgreSQL
/// proves the index applies (one `bson_query_match` per part, sparse first).
pub fn index_predicates(spec: &RawDocument) -> Vec<String> {
    let mut parts = Vec::new();
    if spec.get_bool("sparse").unwrap_or(false) {
        let mut exists = RawDocumentBuf::new();
        for (path, _) in spec.get_document("key").map(|k| k.iter().flatten().collect::<Vec<_>>()).unwrap_or_default() {
            exists.append(path, rawdoc! { "$exists": true });
        }
        parts.push(exists);
    }
    if let Ok(partial) = spec.get_document("partialFilterExpression") {
        parts.push(partial.to_owned());
    }
    parts
        .iter()
        .map(|p| {
            format!(
                "{}(document, {}::{BSON})",
                sql_names::QUERY_MATCH.plain,
                quote_literal(&documentdb_bson::extjson::to_canonical_string(p))
            )
        })
        .collect()
}

/// The wildcard index a stored spec describes (key `$**` or `<path>.$**`), if it is one.
pub fn wildcard_index(spec: &RawDocument) -> DocDbResult<Option<documentdb_query::wildcard_index::WildcardIndex>> {
    let Some((path, _)) = spec.get_document("key").ok().and_then(|k| k.iter().flatten().next()) else {
        return Ok(None);
    };
    documentdb_query::wildcard_index::WildcardIndex::new(path.as_str(), spec.get_document("wildcardProjection").ok())
}

/// The keys of a wildcard index, as SQL: the spec literal carries only its key pattern and
/// `wildcardProjection`, what the keys depend on.
pub fn wildcard_keys_expression(spec: &RawDocument) -> String {
    let mut literal = RawDocumentBuf::new();
    for name in ["key", "wildcardProjection"] {
        if let Ok(Some(value)) = spec.get(name) {
            if let Ok(key) = <&bson::raw::CStr>::try_from(name) {
                literal.append(key, value);
            }
        }
    }
    format!(
        "{}(document, {}::{BSON})",
        sql_names::WILDCARD_KEYS,
        quote_literal(&documentdb_bson::extjson::to_canonical_string(&literal))
    )
}

/// The key of a hashed index for `path`, as SQL: the expression `createIndexes` indexes and
/// equality on the path compares.
pub fn hashed_key_expression(path: &str) -> String {
    format!("{}(document, {}::text)", sql_names::HASHED_KEY, quote_literal(path))
}

/// The sort key of a document for `path` in one direction, as SQL: the very expression
/// `createIndexes` builds btree indexes over, so PostgreSQL's planner matches the two.
pub fn sort_key_expression(document_column: &str, path: &str, ascending: bool) -> DocDbResult<String> {
    let mut one = RawDocumentBuf::new();
    one.append(cstr_key(path)?, if ascending { 1 } else { -1 });
    let literal = quote_literal(&documentdb_bson::extjson::to_canonical_string(&one));
    Ok(format!("{}({document_column}, {literal}::{BSON})", sql_names::ORDER_BY))
}

pub(crate) fn cstr_key(key: &str) -> DocDbResult<&bson::raw::CStr> {
    key.try_into().map_err(|_| documentdb_errors::docdb_error!(BadValue, "field names cannot contain NUL"))
}
