//! Collection validators (`validator`, `validationLevel`, `validationAction`).

use bson::rawdoc;
use bson::RawDocument;
use documentdb_errors::{bail, DocDbError, DocDbResult, ErrorCode};

use super::write_result::cstr;
use documentdb_query::filter::Filter;

use crate::catalog::Collection;

/// A collection's active validator.
pub struct Validator {
    filter: Filter,
    /// `moderate`: updates to documents that already fail validation are not checked.
    moderate: bool,
    /// `warn`: violations are logged, not rejected.
    warn_only: bool,
    namespace: String,
    /// The validator document, for the errInfo of failures.
    spec: bson::RawDocumentBuf,
}

impl Validator {
    /// Parses and checks a validator document (for `create`/`collMod`).
    pub fn parse(validator: &RawDocument) -> DocDbResult<Filter> {
        for element in validator {
            let (key, _) = element.map_err(|e| documentdb_errors::docdb_error!(InvalidBSON, "{e}"))?;
            if matches!(key.as_str(), "$where" | "$text" | "$near" | "$nearSphere") {
                bail!(QueryFeatureNotAllowed, "{} is not allowed in this context", key.as_str());
            }
        }
        Filter::parse(validator)
    }

    /// The validator in force for writes to `collection`, if any.
    pub fn for_collection(collection: &Collection) -> DocDbResult<Option<Validator>> {
        let Some(doc) = &collection.validator else {
            return Ok(None);
        };
        if collection.validation_level == "off" || doc.is_empty() {
            return Ok(None);
        }
        Ok(Some(Validator {
            filter: Self::parse(doc)?,
            moderate: collection.validation_level == "moderate",
            warn_only: collection.validation_action == "warn",
            namespace: collection.namespace(),
            spec: doc.clone(),
        }))
    }

    /// The validator as one document, for per-row SQL functions that check the documents a
    /// statement writes (`$out`, `$merge`): [`Validator::from_spec`] reads it back.
    pub fn to_spec(&self) -> bson::RawDocumentBuf {
        rawdoc! {
            "validator": self.spec.clone(),
            "moderate": self.moderate,
            "warn": self.warn_only,
            "ns": self.namespace.as_str(),
        }
    }

    /// The validator [`Validator::to_spec`] describes.
    pub fn from_spec(spec: &RawDocument) -> DocDbResult<Validator> {
        let invalid = |e: bson::error::Error| DocDbError::new(ErrorCode::InternalError, e.to_string());
        let doc = spec.get_document("validator").map_err(invalid)?;
        Ok(Validator {
            filter: Self::parse(doc)?,
            moderate: spec.get_bool("moderate").map_err(invalid)?,
            warn_only: spec.get_bool("warn").map_err(invalid)?,
            namespace: spec.get_str("ns").map_err(invalid)?.to_owned(),
            spec: doc.to_owned(),
        })
    }

    fn violation(&self, doc: &RawDocument) -> DocDbResult<()> {
        if self.warn_only {
            pgrx::warning!(
                "Document would fail validation collection: {} document: {}",
                self.namespace,
                documentdb_bson::extjson::to_canonical_string(doc)
            );
            return Ok(());
        }
        Err(DocDbError::new(ErrorCode::DocumentValidationFailure, "Document failed validation")
            .with_details(self.error_info(doc).into_bytes()))
    }

    /// MongoDB's `errInfo`: the failing document's `_id` and what in the validator failed.
    fn error_info(&self, doc: &RawDocument) -> bson::RawDocumentBuf {
        let operator = match self.spec.iter().next() {
            Some(Ok((key, _))) if key.as_str().starts_with('$') && self.spec.iter().count() == 1 => {
                key.as_str().to_owned()
            }
            _ => "$and".to_owned(),
        };
        let mut details = rawdoc! { "operatorName": operator.as_str(), "specifiedAs": self.spec.clone() };
        if let Ok(schema_doc) = self.spec.get_document("$jsonSchema") {
            if let Ok(schema) = documentdb_query::schema::JsonSchema::parse(schema_doc) {
                if let Err(reason) = schema.validate_with_reason(doc) {
                    details.append(cstr("reason"), reason);
                }
            }
        }
        let mut info = bson::RawDocumentBuf::new();
        if let Some(id) = documentdb_query::document::document_id(doc) {
            info.append(cstr("failingDocumentId"), id);
        }
        info.append(cstr("details"), details);
        rawdoc! { "errInfo": info }
    }

    pub fn check_insert(&self, doc: &RawDocument) -> DocDbResult<()> {
        if self.filter.matches(doc)? {
            Ok(())
        } else {
            self.violation(doc)
        }
    }

    /// Updates: with `moderate`, a document that was already invalid may stay invalid.
    pub fn check_update(&self, old: &RawDocument, new: &RawDocument) -> DocDbResult<()> {
        if self.filter.matches(new)? {
            return Ok(());
        }
        if self.moderate && !self.filter.matches(old)? {
            return Ok(());
        }
        self.violation(new)
    }
}
