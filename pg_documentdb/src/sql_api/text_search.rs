//! The per-row functions of text indexes (`documentdb_query::text_index::TextIndex`): the
//! strings a document contributes to each weight class and the text search configuration
//! of its language, which the index expression feeds to PostgreSQL's `to_tsvector`; and
//! the `{$meta: "textScore"}` field added to results.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;

use documentdb_errors::{docdb_error, DocDbResult};
use documentdb_pgbson::{docdb_guard, Bson, BsonRef};
use documentdb_query::text_index::TextIndex;
use pgrx::prelude::*;

fn text_index(spec: BsonRef<'_>) -> DocDbResult<TextIndex> {
    TextIndex::from_spec(spec.document()).ok_or_else(|| docdb_error!(InternalError, "not a text index spec"))
}

/// The strings of `document` that text index `index_spec` holds in weight class `class`.
#[pg_extern(sql = false)]
fn bson_text_content(document: BsonRef<'_>, index_spec: BsonRef<'_>, class: &str) -> String {
    docdb_guard(|| {
        let class = class.chars().next().unwrap_or('A');
        Ok(text_index(index_spec)?.content(document.document(), class))
    })
}

/// Every string of `document` that text index `index_spec` holds, as written (diacritics
/// kept), for diacritic-sensitive searches.
#[pg_extern(sql = false)]
fn bson_text_written(document: BsonRef<'_>, index_spec: BsonRef<'_>) -> String {
    docdb_guard(|| Ok(text_index(index_spec)?.all_content(document.document())))
}

/// Whether `document`'s indexed strings hold the words of a `$caseSensitive` /
/// `$diacriticSensitive` search as written (`operand` is `{"": <$text operand>}`).
#[pg_extern(sql = false)]
fn bson_text_matches_sensitively(document: BsonRef<'_>, index_spec: BsonRef<'_>, operand: BsonRef<'_>) -> bool {
    docdb_guard(|| {
        let value = operand.document().get("").map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        let query = documentdb_query::text_search::parse_text_operand(
            value.ok_or_else(|| docdb_error!(InternalError, "no $text operand"))?,
        )?;
        let text = text_index(index_spec)?.all_content(document.document());
        Ok(documentdb_query::text_search::matches_sensitively(&text, &query))
    })
}

thread_local! {
    /// Text search configuration OIDs by name (they never change for a database).
    static CONFIGS: RefCell<HashMap<&'static str, pg_sys::Oid>> = RefCell::new(HashMap::new());
}

/// The text search configuration `document` is indexed in (its language field, or the
/// index's default language), as a `regconfig`.
#[pg_extern(sql = false)]
fn bson_text_config(document: BsonRef<'_>, index_spec: BsonRef<'_>) -> pg_sys::Oid {
    docdb_guard(|| {
        let name = text_index(index_spec)?.config_of(document.document())?;
        if let Some(oid) = CONFIGS.with(|c| c.borrow().get(name).copied()) {
            return Ok(oid);
        }
        let qualified = CString::new(format!("pg_catalog.{name}")).map_err(|e| docdb_error!(InternalError, "{e}"))?;
        // SAFETY: a qualified name parsed by PostgreSQL into a List of String nodes and
        // looked up with missing_ok; nothing is kept but the OID.
        let oid = unsafe { pg_sys::get_ts_config_oid(pg_sys::stringToQualifiedNameList(qualified.as_ptr()), true) };
        if oid == pg_sys::InvalidOid {
            return Err(docdb_error!(InternalError, "text search configuration {name} is missing"));
        }
        CONFIGS.with(|c| c.borrow_mut().insert(name, oid));
        Ok(oid)
    })
}

/// `document` with `field` set to `score` (MongoDB's `{$meta: "textScore"}` projection).
#[pg_extern(sql = false)]
fn bson_with_text_score(document: BsonRef<'_>, field: &str, score: f64) -> Bson {
    docdb_guard(|| {
        documentdb_query::document::with_last_field(document.document(), field, bson::RawBsonRef::Double(score))
            .map(Bson::from)
    })
}
