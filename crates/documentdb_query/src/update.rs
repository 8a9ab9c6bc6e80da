//! Update specifications: operator updates (`$set`, `$inc`, `$push` ...), replacement
//! documents and aggregation-pipeline updates; positional `$`, `$[]`, `$[<id>]`.
//!
//! Behaviour follows MongoDB 7.0's update subsystem: an operator update is parsed into a
//! tree with one node per path component (conflicting paths are rejected while parsing)
//! and applied in field-name order; new fields are appended, existing ones keep their
//! place, `_id` is immutable and stays first. The document is decoded once, updated as a
//! `bson::Document` and encoded once; `modified` compares the encoded bytes.
use std::collections::BTreeMap;

use bson::{Bson, Document, RawArray, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};

use crate::filter::Filter;

mod apply;
mod field_ref;
mod fmt;
mod ops;
mod pipeline;
mod tree;

/// MongoDB's limit on a stored document.
const MAX_DOCUMENT_SIZE: usize = 16 * 1024 * 1024;

/// A parsed update (the `u` of an update statement plus its `arrayFilters`).
#[derive(Debug, Clone)]
pub struct Update {
    kind: Kind,
    filters: BTreeMap<String, Filter>,
}

#[derive(Debug, Clone)]
enum Kind {
    Operators(tree::OperatorUpdate),
    Replacement(Document),
    Pipeline(Vec<pipeline::Stage>),
}

/// What applying an update produced.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateOutcome {
    /// The new document (equal bytes to the input when nothing changed).
    pub document: RawDocumentBuf,
    /// Whether the document changed (MongoDB's nModified counts these).
    pub modified: bool,
}

fn bson_err(e: impl std::fmt::Display) -> DocDbError {
    docdb_error!(InvalidBSON, "{e}")
}

impl Update {
    /// Parses the `u` of an update statement (document or pipeline array) with its
    /// `arrayFilters`. Errors: FailedToParse(9), BadValue(2), ConflictingUpdateOperators(40)...
    pub fn parse(spec: bson::RawBsonRef<'_>, array_filters: Option<&bson::RawArray>) -> DocDbResult<Update> {
        Self::parse_with_context(spec, array_filters, &crate::expr::ExprContext::default())
    }

    /// [`Update::parse`] with `let` variables available to pipeline-update expressions.
    pub fn parse_with_context(
        spec: bson::RawBsonRef<'_>,
        array_filters: Option<&bson::RawArray>,
        ctx: &crate::expr::ExprContext,
    ) -> DocDbResult<Update> {
        match spec {
            RawBsonRef::Array(stages) => {
                if array_filters.is_some_and(|a| !a.is_empty()) {
                    bail!(FailedToParse, "arrayFilters may not be specified for pipeline-style updates");
                }
                Ok(Update { kind: Kind::Pipeline(pipeline::parse_pipeline(stages, ctx)?), filters: BTreeMap::new() })
            }
            RawBsonRef::Document(doc) => {
                let filters = parse_array_filters(array_filters)?;
                let first = doc.iter().next().transpose().map_err(bson_err)?;
                let kind = match first {
                    Some((key, _)) if key.as_str().starts_with('$') => {
                        Kind::Operators(tree::parse_operators(doc, &filters)?)
                    }
                    _ => Kind::Replacement(Document::try_from(doc).map_err(bson_err)?),
                };
                Ok(Update { kind, filters })
            }
            _ => bail!(FailedToParse, "Update argument must be either an object or an array"),
        }
    }

    /// Is this a replacement document (no operators)?
    pub fn is_replacement(&self) -> bool {
        matches!(self.kind, Kind::Replacement(_))
    }

    /// Is this an aggregation-pipeline update?
    pub fn is_pipeline(&self) -> bool {
        matches!(self.kind, Kind::Pipeline(_))
    }

    /// Applies to an existing document. `positional` is the index recorded by the query
    /// match (for `$`). Errors: ImmutableField(66) when `_id` would change, etc.
    pub fn apply(&self, doc: &RawDocument, positional: Option<usize>) -> DocDbResult<UpdateOutcome> {
        let mut updated = Document::try_from(doc).map_err(bson_err)?;
        match &self.kind {
            Kind::Operators(u) => apply::apply_operators(u, &self.filters, &mut updated, positional, false)?,
            Kind::Replacement(r) => {
                updated = replace_document(&updated, stamp_timestamps(r), false, true)?;
            }
            Kind::Pipeline(stages) => {
                let transformed = pipeline::run(stages, &updated)?;
                updated = replace_document(&updated, transformed, true, true)?;
            }
        }
        let mut out = ops::to_raw_document(&updated)?;
        if out.as_bytes() == doc.as_bytes() {
            return Ok(UpdateOutcome { document: doc.to_owned(), modified: false });
        }
        if updated.keys().next().is_some_and(|k| k != "_id") && updated.contains_key("_id") {
            ensure_id_first(&mut updated);
            out = ops::to_raw_document(&updated)?;
        }
        if out.as_bytes() == doc.as_bytes() {
            return Ok(UpdateOutcome { document: doc.to_owned(), modified: false });
        }
        if out.as_bytes().len() > MAX_DOCUMENT_SIZE {
            return Err(DocDbError::new(
                ErrorCode::new(17419),
                format!("Resulting document after update is larger than {MAX_DOCUMENT_SIZE}"),
            ));
        }
        Ok(UpdateOutcome { document: out, modified: true })
    }

    /// Builds the document an upsert inserts: `seed` holds the query's equality fields
    /// (from `Filter::equality_fields`); applies the update with `$setOnInsert` active.
    /// `_id` is left for the caller to generate when absent.
    pub fn apply_upsert(&self, seed: &[(String, bson::RawBson)]) -> DocDbResult<RawDocumentBuf> {
        let mut doc = apply::seed_document(seed, self.is_replacement())?;
        match &self.kind {
            Kind::Operators(u) => apply::apply_operators(u, &self.filters, &mut doc, None, true)?,
            Kind::Replacement(r) => doc = replace_document(&doc, stamp_timestamps(r), false, true)?,
            Kind::Pipeline(stages) => {
                let transformed = pipeline::run(stages, &doc)?;
                doc = replace_document(&doc, transformed, true, false)?;
            }
        }
        ensure_id_first(&mut doc);
        if let Some(id) = doc.get("_id") {
            validate_id(id)?;
        }
        let out = ops::to_raw_document(&doc)?;
        if out.as_bytes().len() > MAX_DOCUMENT_SIZE {
            return Err(DocDbError::new(
                ErrorCode::new(17420),
                format!("Document to upsert is larger than {MAX_DOCUMENT_SIZE}"),
            ));
        }
        Ok(out)
    }
}

/// Parses `arrayFilters` into identifier → filter (MongoDB's `parseArrayFilters` and
/// `ExpressionWithPlaceholder::make`).
fn parse_array_filters(filters: Option<&RawArray>) -> DocDbResult<BTreeMap<String, Filter>> {
    let mut out = BTreeMap::new();
    let Some(filters) = filters else {
        return Ok(out);
    };
    let caused_by =
        |e: DocDbError| DocDbError::new(e.code, format!("Error parsing array filter :: caused by :: {}", e.message));
    for (i, element) in filters.into_iter().enumerate() {
        let element = element.map_err(bson_err)?;
        let RawBsonRef::Document(doc) = element else {
            let value = Bson::try_from(element).unwrap_or(Bson::Null);
            bail!(
                TypeMismatch,
                "BSON field 'update.updates.arrayFilters.{i}' is the wrong type '{}', expected type 'object'",
                documentdb_bson::type_name(value.element_type())
            );
        };
        if contains_expr(doc)? {
            bail!(
                QueryFeatureNotAllowed,
                "Error parsing array filter :: caused by :: $expr is not allowed in this context"
            );
        }
        let filter = Filter::parse(doc).map_err(caused_by)?;
        let Some(identifier) = placeholder(doc).map_err(caused_by)? else {
            bail!(FailedToParse, "Cannot use an expression without a top-level field name in arrayFilters");
        };
        let valid = identifier.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && identifier.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid {
            return Err(caused_by(docdb_error!(
                BadValue,
                "The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '{identifier}'"
            )));
        }
        if out.contains_key(&identifier) {
            bail!(FailedToParse, "Found multiple array filters with the same top-level field name {identifier}");
        }
        out.insert(identifier, filter);
    }
    Ok(out)
}

/// Does the filter use `$expr` at its top level (or inside `$and`/`$or`/`$nor`)?
fn contains_expr(doc: &RawDocument) -> DocDbResult<bool> {
    documentdb_bson::stack::guard()?;
    for field in doc {
        let (key, value) = field.map_err(bson_err)?;
        match key.as_str() {
            "$expr" => return Ok(true),
            "$and" | "$or" | "$nor" => {
                if let RawBsonRef::Array(items) = value {
                    for item in items {
                        if let RawBsonRef::Document(d) = item.map_err(bson_err)? {
                            if contains_expr(d)? {
                                return Ok(true);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

/// The single top-level field name (before the first `.`) the filter's predicates use.
fn placeholder(doc: &RawDocument) -> DocDbResult<Option<String>> {
    documentdb_bson::stack::guard()?;
    let mut found: Option<String> = None;
    for field in doc {
        let (key, value) = field.map_err(bson_err)?;
        let key = key.as_str();
        let names: Vec<Option<String>> = if let Some(op) = key.strip_prefix('$') {
            match (op, value) {
                ("and" | "or" | "nor", RawBsonRef::Array(items)) => {
                    let mut names = Vec::new();
                    for item in items {
                        if let RawBsonRef::Document(d) = item.map_err(bson_err)? {
                            names.push(placeholder(d)?);
                        }
                    }
                    names
                }
                _ => vec![None],
            }
        } else {
            vec![Some(key.split('.').next().unwrap_or(key).to_owned())]
        };
        for name in names {
            match (&found, name) {
                (None, name) => found = name,
                (Some(current), Some(name)) if *current != name => {
                    bail!(FailedToParse, "Expected a single top-level field name, found '{current}' and '{name}'")
                }
                _ => {}
            }
        }
    }
    Ok(found)
}

/// `ObjectReplaceExecutor`: top-level zero timestamps (other than `_id`) become "now".
fn stamp_timestamps(replacement: &Document) -> Document {
    let mut out = replacement.clone();
    for (key, value) in out.iter_mut() {
        if key != "_id" {
            if let Bson::Timestamp(ts) = value {
                if ts.time == 0 && ts.increment == 0 {
                    *ts = ops::new_timestamp();
                }
            }
        }
    }
    out
}

/// `ObjectReplaceExecutor::applyReplacementUpdate`: the replacement (keeping the original
/// `_id` when it has none), storage-validated, with `_id` unchanged.
fn replace_document(
    original: &Document,
    replacement: Document,
    allow_top_level_dollar: bool,
    validate: bool,
) -> DocDbResult<Document> {
    if ops::documents_identical(original, &replacement) {
        return Ok(original.clone());
    }
    let new = if replacement.contains_key("_id") {
        replacement
    } else {
        let mut doc = Document::new();
        if let Some(id) = original.get("_id") {
            doc.insert("_id", id.clone());
        }
        doc.extend(replacement);
        doc
    };
    if validate {
        if !allow_top_level_dollar {
            for key in new.keys().filter(|k| k.starts_with('$')) {
                apply::validate_dollar_field(&new, key)?;
            }
        }
        if let Some(id) = new.get("_id") {
            validate_id(id)?;
        }
    }
    if let Some(old_id) = original.get("_id") {
        match new.get("_id") {
            None => bail!(
                ImmutableField,
                "After applying the update, the '_id' (required and immutable) field was found to have been removed --{}",
                fmt::document(original)
            ),
            Some(Bson::Array(_)) => bail!(
                NotSingleValueField,
                "After applying the update to the document, the (immutable) field '_id' was found to be an array or array descendant."
            ),
            Some(new_id) => {
                if ops::compare(new_id, old_id)? != std::cmp::Ordering::Equal {
                    bail!(
                        ImmutableField,
                        "After applying the update, the (immutable) field '_id' was found to have been altered to {}",
                        fmt::element("_id", new_id)
                    );
                }
            }
        }
    }
    Ok(new)
}

/// `storage_validation::storageValidIdField`.
fn validate_id(id: &Bson) -> DocDbResult<()> {
    match id {
        Bson::Array(_) | Bson::RegularExpression(_) | Bson::Undefined => {
            bail!(InvalidIdField, "The '_id' value cannot be of type {}", documentdb_bson::type_name(id.element_type()))
        }
        Bson::Document(d) => {
            if let Some(name) = first_dollar_field(d) {
                bail!(
                    DollarPrefixedFieldName,
                    "_id fields may not contain '$'-prefixed fields: The dollar ($) prefixed field '{name}' in '{name}' is not valid for storage."
                );
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A `$`-prefixed field name anywhere inside `doc` (DBRef fields excepted).
fn first_dollar_field(doc: &Document) -> Option<String> {
    for (k, v) in doc {
        if documentdb_bson::path::is_dollar_component(k) {
            return Some(k.clone());
        }
        let nested = match v {
            Bson::Document(d) => first_dollar_field(d),
            Bson::Array(items) => items.iter().find_map(|i| match i {
                Bson::Document(d) => first_dollar_field(d),
                _ => None,
            }),
            _ => None,
        };
        if nested.is_some() {
            return nested;
        }
    }
    None
}

/// Moves `_id` to the front (`update::ensureIdFieldIsFirst`).
fn ensure_id_first(doc: &mut Document) {
    if doc.keys().next().is_none_or(|k| k == "_id") {
        return;
    }
    let Some(id) = doc.remove("_id") else {
        return;
    };
    let mut out = Document::new();
    out.insert("_id", id);
    out.extend(std::mem::take(doc));
    *doc = out;
}
