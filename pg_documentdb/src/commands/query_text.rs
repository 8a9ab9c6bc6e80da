//! `$text` queries on a collection's text index: the index expression (PostgreSQL text
//! search over the strings `documentdb_query::text_index::TextIndex` picks, per weight
//! class and document language), the `@@` condition a `$search` string becomes, and the
//! rank behind `{$meta: "textScore"}`.

use bson::{rawdoc, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};
use documentdb_query::text_index::TextIndex;

use crate::catalog::Collection;
use crate::spi::quote_literal;
use crate::sql_names::{self, BSON};

/// The spec literal a text index expression carries: only what the expression depends on
/// (so changing other options, such as `hidden`, keeps the index usable).
fn spec_literal(index: &TextIndex) -> String {
    let mut weights = RawDocumentBuf::new();
    for (path, weight) in &index.fields {
        if let Ok(key) = <&bson::raw::CStr>::try_from(path.as_str()) {
            weights.append(key, *weight as i32);
        }
    }
    let spec = rawdoc! {
        "key": { "_fts": "text", "_ftsx": 1 },
        "weights": weights,
        "default_language": index.default_language.as_str(),
        "language_override": index.language_override.as_str(),
    };
    quote_literal(&documentdb_bson::extjson::to_canonical_string(&spec))
}

/// The `tsvector` a text index holds for a document, as SQL: the same text in
/// `createIndexes` and in queries, so the planner matches the two.
pub fn text_vector_expression(index: &TextIndex) -> String {
    let spec = spec_literal(index);
    index
        .classes()
        .iter()
        .map(|class| {
            format!(
                "pg_catalog.setweight(pg_catalog.to_tsvector({}(document, {spec}::{BSON}), \
                 {}(document, {spec}::{BSON}, '{class}'::text)), '{class}'::\"char\")",
                sql_names::TEXT_CONFIG,
                sql_names::TEXT_CONTENT
            )
        })
        .collect::<Vec<_>>()
        .join(" OPERATOR(pg_catalog.||) ")
}

/// The collection's text index (MongoDB allows one), visible to queries.
pub fn text_index_of(collection: &Collection) -> Option<TextIndex> {
    collection.indexes.iter().filter(|i| !i.is_hidden()).find_map(|i| TextIndex::from_spec(&i.spec))
}

/// The stored spec of the collection's visible text index.
pub fn text_index_spec_of(collection: &Collection) -> Option<RawDocumentBuf> {
    collection
        .indexes
        .iter()
        .filter(|i| !i.is_hidden())
        .find(|i| TextIndex::from_spec(&i.spec).is_some())
        .map(|i| i.spec.clone())
}

/// `filter` without its top-level `$text`, and that operand, when it has one.
pub fn split_text(filter: &RawDocument) -> DocDbResult<Option<(RawDocumentBuf, RawBsonRef<'_>)>> {
    let mut text = None;
    let mut rest = RawDocumentBuf::new();
    for element in filter {
        let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        if key.as_str() == "$text" {
            if text.is_some() {
                bail!(BadValue, "Too many text expressions");
            }
            text = Some(value);
        } else {
            rest.append(key, value);
        }
    }
    Ok(text.map(|t| (rest, t)))
}

/// Whether a projection or sort value is `{$meta: "textScore"}`.
pub fn is_text_score(value: RawBsonRef<'_>) -> bool {
    matches!(value, RawBsonRef::Document(d) if d.get_str("$meta").is_ok_and(|m| m == "textScore") && d.iter().count() == 1)
}

/// Validates a sort spec whose keys may include `{$meta: "textScore"}`.
pub fn validate_sort(sort: &RawDocument) -> DocDbResult<()> {
    let mut rest = RawDocumentBuf::new();
    for element in sort {
        let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        if !is_text_score(value) {
            rest.append(key, value);
        }
    }
    if !rest.is_empty() || sort.is_empty() {
        documentdb_query::sort::SortSpec::parse(&rest)?;
    }
    Ok(())
}

/// MongoDB's error for `{$meta: "textScore"}` without a `$text` query.
pub fn no_text_score() -> DocDbError {
    DocDbError::new(ErrorCode::new(40218), "query requires text score metadata, but it is not available")
}
