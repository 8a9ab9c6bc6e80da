//! Projection fields given by `$meta`: `{$meta: "textScore"}` (a `$text` query's rank,
//! `query_text.rs`) and `{$meta: "indexKey"}` (the key of the index the plan reads). Both
//! are taken out of a projection before it is parsed, and set on each result afterwards.
//!
//! The index key is known only once PostgreSQL has planned the statement: the statement
//! is built with the key pattern as a NULL parameter ([`PageQuery::index_key_param`],
//! `SqlBuilder::index_key_of_document`), and [`bind_index_key`] plans it, finds the index
//! the plan reads on the collection's table, and passes that index's key pattern. Without one (a sequential scan), the fields are
//! left out, as MongoDB leaves them out when no index is used.

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{docdb_error, DocDbResult};

use super::cursor::{OwnedParam, PageQuery};
use super::query_text::is_text_score;
use crate::catalog::Collection;

/// Whether a projection value is `{$meta: "indexKey"}`.
pub fn is_index_key(value: RawBsonRef<'_>) -> bool {
    matches!(value, RawBsonRef::Document(d) if d.get_str("$meta").is_ok_and(|m| m == "indexKey") && d.iter().count() == 1)
}

/// The `$meta` fields of a projection, by name.
#[derive(Debug, Default)]
pub struct MetaFields {
    pub text_score: Vec<String>,
    pub index_key: Vec<String>,
}

impl MetaFields {
    pub fn is_empty(&self) -> bool {
        self.text_score.is_empty() && self.index_key.is_empty()
    }
}

/// A projection without its `$meta` fields, and those fields.
pub fn split_meta_projection(projection: &RawDocument) -> DocDbResult<(RawDocumentBuf, MetaFields)> {
    let mut rest = RawDocumentBuf::new();
    let mut meta = MetaFields::default();
    for element in projection {
        let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        if is_text_score(value) {
            meta.text_score.push(key.as_str().to_owned());
        } else if is_index_key(value) {
            meta.index_key.push(key.as_str().to_owned());
        } else {
            rest.append(key, value);
        }
    }
    Ok((rest, meta))
}

/// Plans `query` and binds its index key parameter to the key pattern of the index the
/// plan reads on `collection`'s table (left NULL when it reads none).
pub fn bind_index_key(query: &mut PageQuery, collection: &Collection) -> DocDbResult<()> {
    let Some(position) = query.index_key_param else { return Ok(()) };
    if let Some(key_pattern) = super::query_plan::index_read(query, collection)? {
        if let Some(param) = query.params.get_mut(position) {
            *param = OwnedParam::Bson(key_pattern.into_bytes());
        }
    }
    Ok(())
}
