//! Rules every stored document follows: `_id` present, first, and of a storable type;
//! size within MongoDB's 16 MiB limit.

use bson::oid::ObjectId;
use bson::spec::ElementType;
use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbResult};

/// MongoDB's maximum size of a stored document.
pub const MAX_DOCUMENT_SIZE: usize = 16 * 1024 * 1024;

/// Checks that `value` may be a document's `_id` (MongoDB: not an array, regex or
/// undefined; a document `_id` may not hold `$`-prefixed fields).
pub fn validate_id(value: RawBsonRef<'_>) -> DocDbResult<()> {
    match value.element_type() {
        ElementType::Array => bail!(BadValue, "The '_id' value cannot be of type array"),
        ElementType::RegularExpression => bail!(BadValue, "The '_id' value cannot be of type regex"),
        ElementType::Undefined => bail!(BadValue, "The '_id' value cannot be of type undefined"),
        _ => {}
    }
    if let RawBsonRef::Document(doc) = value {
        for element in doc {
            let (key, _) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
            if key.as_str().starts_with('$') {
                bail!(
                    DollarPrefixedFieldName,
                    "_id fields may not contain '$'-prefixed fields: {} is not valid for storage.",
                    key.as_str()
                );
            }
        }
    }
    Ok(())
}

/// Returns the document as it is stored: `_id` first (generated as a new ObjectId when
/// absent), every other field in its original order. Errors for an invalid `_id` or a
/// document over 16 MiB.
pub fn prepare_for_insert(doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let mut id: Option<RawBsonRef<'_>> = None;
    let mut id_first = false;
    for (position, element) in doc.iter().enumerate() {
        let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        if key.as_str() == "_id" {
            if id.is_some() {
                bail!(BadValue, "can't have multiple _id fields in one document");
            }
            validate_id(value)?;
            id = Some(value);
            id_first = position == 0;
        }
    }
    let out = if id_first {
        doc.to_owned()
    } else {
        let mut out = RawDocumentBuf::new();
        let id_key: &bson::raw::CStr = "_id".try_into().map_err(|_| docdb_error!(InternalError, "bad key"))?;
        match id {
            Some(value) => out.append(id_key, value),
            None => out.append(id_key, ObjectId::new()),
        }
        for element in doc.iter_elements() {
            let element = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
            if element.key().as_str() != "_id" {
                let value = element.value().map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
                out.append(element.key(), value);
            }
        }
        out
    };
    check_size(&out)?;
    Ok(out)
}

/// MongoDB's 16 MiB limit on stored documents.
pub fn check_size(doc: &RawDocument) -> DocDbResult<()> {
    let size = doc.as_bytes().len();
    if size > MAX_DOCUMENT_SIZE {
        bail!(BSONObjectTooLarge, "object to insert too large. size in bytes: {size}, max size: {MAX_DOCUMENT_SIZE}");
    }
    Ok(())
}

/// The `_id` of a stored document (always its first field).
pub fn document_id(doc: &RawDocument) -> Option<RawBsonRef<'_>> {
    match doc.iter().next() {
        Some(Ok((key, value))) if key.as_str() == "_id" => Some(value),
        _ => doc.get("_id").ok().flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn generated_id_is_an_object_id_placed_first() {
        let out = prepare_for_insert(&rawdoc! { "a": 1 }).unwrap();
        let first = out.iter().next().unwrap().unwrap();
        assert_eq!(first.0.as_str(), "_id");
        assert!(matches!(first.1, RawBsonRef::ObjectId(_)));
        assert_eq!(out.get_i32("a").unwrap(), 1);
    }

    #[test]
    fn existing_id_moves_to_front_keeping_other_order() {
        let out = prepare_for_insert(&rawdoc! { "a": 1, "_id": "x", "b": 2 }).unwrap();
        let keys: Vec<_> = out.iter().map(|e| e.unwrap().0.as_str().to_owned()).collect();
        assert_eq!(keys, ["_id", "a", "b"]);
    }

    #[test]
    fn id_first_is_stored_as_is() {
        let input = rawdoc! { "_id": 1, "a": { "b": [1, 2] } };
        assert_eq!(prepare_for_insert(&input).unwrap(), input);
    }

    // MongoDB manual, "Documents > The _id Field": the _id may not be an array, regex or undefined.
    #[test]
    fn id_may_not_be_array_regex_or_undefined() {
        for bad in [
            rawdoc! { "_id": [1] },
            bson::RawDocumentBuf::try_from(&bson::doc! { "_id": bson::Regex { pattern: "a".to_string().try_into().unwrap(), options: String::new().try_into().unwrap() } }).unwrap(),
            bson::RawDocumentBuf::try_from(&bson::doc! { "_id": bson::Bson::Undefined }).unwrap(),
        ] {
            assert_eq!(prepare_for_insert(&bad).unwrap_err().code, documentdb_errors::ErrorCode::BadValue);
        }
    }

    #[test]
    fn id_document_may_not_hold_dollar_fields() {
        let err = prepare_for_insert(&rawdoc! { "_id": { "$a": 1 } }).unwrap_err();
        assert_eq!(err.code, documentdb_errors::ErrorCode::DollarPrefixedFieldName);
    }

    // "Field Names with Periods and Dollar Signs": $-prefixed fields are allowed on insert.
    #[test]
    fn dollar_prefixed_fields_are_allowed_on_insert() {
        assert!(prepare_for_insert(&rawdoc! { "$price": 50.0, "q": 30 }).is_ok());
    }
}
