//! Rules every stored document follows: `_id` present, first, and of a storable type;
//! size within MongoDB's 16 MiB limit; nesting within [`MAX_NESTING_DEPTH`]. And the
//! conversion of values built at run time to BSON, within MongoDB's nesting limit.

use bson::oid::ObjectId;
use bson::spec::ElementType;
use bson::{Bson, Document, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_bson::validate::nesting_depth_exceeds;
use documentdb_bson::MAX_NESTING_DEPTH;
use documentdb_errors::{bail, docdb_error, DocDbResult};

/// MongoDB's maximum size of a stored document.
pub const MAX_DOCUMENT_SIZE: usize = 16 * 1024 * 1024;

/// Checks that `value` may be a document's `_id` (MongoDB: not an array, regex or
/// undefined; a document `_id` may not hold `$`-prefixed fields).
pub fn validate_id(value: RawBsonRef<'_>) -> DocDbResult<()> {
    match value.element_type() {
        ElementType::Array => bail!(BadValue, "The '_id' value cannot be of type array"),
        ElementType::RegularExpression => {
            bail!(BadValue, "The '_id' value cannot be of type regex")
        }
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

/// Sets the value at `path` in an owned document, replacing non-document values on the way
/// by documents (an existing field keeps its position; a new one is appended: MongoDB's
/// `MutableDocument::setNestedField`).
pub(crate) fn set_path(doc: &mut Document, path: &[String], value: Bson) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        doc.insert(first.clone(), value);
        return;
    }
    if !matches!(doc.get(first), Some(Bson::Document(_))) {
        doc.insert(first.clone(), Document::new());
    }
    if let Some(Bson::Document(sub)) = doc.get_mut(first) {
        set_path(sub, rest, value);
    }
}

/// Returns the document as it is stored: `_id` first (generated as a new ObjectId when
/// absent), every other field in its original order. Errors for an invalid `_id` or a
/// document over 16 MiB. Works by splicing element bytes, without decoding the document.
pub fn prepare_for_insert(doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let bytes = doc.as_bytes();
    let mut id_span: Option<(usize, usize)> = None;
    visit_element_spans(doc, |key, start, end| {
        if key == b"_id" {
            if id_span.is_some() {
                bail!(BadValue, "can't have multiple _id fields in one document");
            }
            id_span = Some((start, end));
        }
        Ok(())
    })?;
    if let Some(id) = document_id_value(doc, id_span) {
        validate_id(id)?;
    }
    let out = match id_span {
        Some((4, _)) => doc.to_owned(),
        Some((start, end)) => {
            // Move the _id element to the front.
            let mut out = Vec::with_capacity(bytes.len());
            out.extend_from_slice(&bytes[..4]);
            out.extend_from_slice(&bytes[start..end]);
            out.extend_from_slice(&bytes[4..start]);
            out.extend_from_slice(&bytes[end..]);
            RawDocumentBuf::from_bytes(out).map_err(|e| docdb_error!(InvalidBSON, "{e}"))?
        }
        None => {
            // type 0x07 (ObjectId), key "_id\0", 12 bytes.
            let oid = ObjectId::new().bytes();
            let total = bytes.len() + 1 + 4 + 12;
            let mut out = Vec::with_capacity(total);
            out.extend_from_slice(&(total as i32).to_le_bytes());
            out.push(0x07);
            out.extend_from_slice(b"_id\0");
            out.extend_from_slice(&oid);
            out.extend_from_slice(&bytes[4..]);
            RawDocumentBuf::from_bytes(out).map_err(|e| docdb_error!(InvalidBSON, "{e}"))?
        }
    };
    check_size(&out)?;
    Ok(out)
}

/// Calls `visit` with the byte span `(key, start, end)` of each of a document's top-level
/// elements, for splicing, without collecting them (per-row paths); InvalidBSON unless
/// they cover the whole document.
pub fn visit_element_spans<'a>(
    doc: &'a RawDocument,
    mut visit: impl FnMut(&'a [u8], usize, usize) -> DocDbResult<()>,
) -> DocDbResult<()> {
    let bytes = doc.as_bytes();
    let mut covered = 4;
    for (key, start, end) in documentdb_bson::element_spans(bytes) {
        visit(key, start, end)?;
        covered = end;
    }
    if covered + 1 != bytes.len() {
        bail!(InvalidBSON, "document has malformed elements");
    }
    Ok(())
}

/// The spans [`visit_element_spans`] visits, collected.
pub fn whole_element_spans(doc: &RawDocument) -> DocDbResult<Vec<(&[u8], usize, usize)>> {
    let mut spans = Vec::new();
    visit_element_spans(doc, |key, start, end| {
        spans.push((key, start, end));
        Ok(())
    })?;
    Ok(spans)
}

/// A document written element by element after a 4-byte placeholder, with its
/// terminating NUL: the length written in.
pub fn finish_document(mut bytes: Vec<u8>) -> DocDbResult<RawDocumentBuf> {
    let total = i32::try_from(bytes.len()).map_err(|_| docdb_error!(BSONObjectTooLarge, "document too large"))?;
    bytes[..4].copy_from_slice(&total.to_le_bytes());
    RawDocumentBuf::from_bytes(bytes).map_err(|e| docdb_error!(InvalidBSON, "{e}"))
}

fn document_id_value(doc: &RawDocument, span: Option<(usize, usize)>) -> Option<RawBsonRef<'_>> {
    span?;
    doc.get("_id").ok().flatten()
}

/// MongoDB's limits on a document about to be stored (inserted, or produced by an update,
/// upsert, replacement or findAndModify): 16 MiB (BSONObjectTooLarge) and the nesting depth
/// of stored documents, [`MAX_NESTING_DEPTH`] levels as [`documentdb_bson::validate`]
/// counts them (Overflow, "Document exceeds maximum nesting depth of 100", as MongoDB's
/// `storage_validation` reports it). The depth walk is iterative.
pub fn check_size(doc: &RawDocument) -> DocDbResult<()> {
    check_document_size(doc)?;
    if nesting_depth_exceeds(doc.as_bytes(), MAX_NESTING_DEPTH) {
        bail!(Overflow, "Document exceeds maximum nesting depth of {MAX_NESTING_DEPTH}");
    }
    Ok(())
}

/// The 16 MiB limit alone (BSONObjectTooLarge), for documents whose nesting is known to
/// be within bounds.
pub fn check_document_size(doc: &RawDocument) -> DocDbResult<()> {
    let size = doc.as_bytes().len();
    if size > MAX_DOCUMENT_SIZE {
        bail!(BSONObjectTooLarge, "object to insert too large. size in bytes: {size}, max size: {MAX_DOCUMENT_SIZE}");
    }
    Ok(())
}

/// MongoDB's check when a value built at run time (an expression result, a projected or
/// computed document, an accumulator's result) is converted to BSON: Overflow, "cannot
/// convert document to BSON because it exceeds the limit of 200 levels of nesting" (see
/// [`documentdb_bson::MAX_VALUE_DEPTH`]). Iterative: safe on values of any depth.
pub fn check_value_depth(value: &Bson) -> DocDbResult<()> {
    crate::value_bounds::check_value_depth(value)
}

/// A document built at run time as BSON bytes, after [`check_value_depth`] (the `bson`
/// crate's serializer recurses once per level).
pub fn to_raw_document(doc: &Document) -> DocDbResult<RawDocumentBuf> {
    crate::value_bounds::check_document_depth(doc)?;
    RawDocumentBuf::try_from(doc).map_err(|e| docdb_error!(InternalError, "cannot serialize document: {e}"))
}

/// A value built at run time as raw BSON, after [`check_value_depth`].
pub fn to_raw_value(value: &Bson) -> DocDbResult<RawBson> {
    check_value_depth(value)?;
    RawBson::try_from(value.clone()).map_err(|e| docdb_error!(InternalError, "cannot serialize value: {e}"))
}

/// `{ "" : value }`: how a single value travels between SQL functions as a bson datum.
/// Written into one buffer of the right size (a per-row function's result: `$group` keys).
pub fn single_value_document(value: RawBsonRef<'_>) -> RawDocumentBuf {
    let mut bytes = Vec::with_capacity(7 + value_size_hint(value));
    bytes.extend_from_slice(&[0; 4]);
    push_element(&mut bytes, bson::raw::cstr!(""), value);
    bytes.push(0);
    finish_document(bytes).unwrap_or_else(|_| {
        // Unreachable: the bytes were just written whole; the slow path gives the same.
        let mut doc = RawDocumentBuf::new();
        doc.append(bson::raw::cstr!(""), value);
        doc
    })
}

/// `doc` with `field` set to `value` as its last field (any earlier `field` removed): how
/// `$meta` projections add a document's metadata (the manual: the metadata "overwrites the
/// existing value").
pub fn with_last_field(doc: &RawDocument, field: &str, value: RawBsonRef<'_>) -> DocDbResult<RawDocumentBuf> {
    let key: &bson::raw::CStr =
        field.try_into().map_err(|_| docdb_error!(BadValue, "field names cannot contain NUL"))?;
    let source = doc.as_bytes();
    let mut bytes = Vec::with_capacity(source.len() + field.len() + 2 + value_size_hint(value));
    bytes.extend_from_slice(&[0; 4]);
    visit_element_spans(doc, |name, start, end| {
        if name != field.as_bytes() {
            bytes.extend_from_slice(&source[start..end]);
        }
        Ok(())
    })?;
    push_element(&mut bytes, key, value);
    bytes.push(0);
    finish_document(bytes)
}

/// Appends the element `key: value` (type byte, key, value) to a document being written.
/// The common types are encoded here straight into `out`; the others by the bson crate.
pub fn push_element(out: &mut Vec<u8>, key: &bson::raw::CStr, value: RawBsonRef<'_>) {
    out.push(value.element_type() as u8);
    out.extend_from_slice(key.as_str().as_bytes());
    out.push(0);
    match value {
        RawBsonRef::Double(d) => out.extend_from_slice(&d.to_le_bytes()),
        RawBsonRef::String(s) => {
            out.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        RawBsonRef::Document(d) => out.extend_from_slice(d.as_bytes()),
        RawBsonRef::Array(a) => out.extend_from_slice(a.as_bytes()),
        RawBsonRef::Boolean(b) => out.push(u8::from(b)),
        RawBsonRef::Null => {}
        RawBsonRef::Int32(i) => out.extend_from_slice(&i.to_le_bytes()),
        RawBsonRef::Int64(i) => out.extend_from_slice(&i.to_le_bytes()),
        RawBsonRef::DateTime(t) => out.extend_from_slice(&t.timestamp_millis().to_le_bytes()),
        RawBsonRef::ObjectId(o) => out.extend_from_slice(&o.bytes()),
        other => {
            // Undo the header written above; the bson crate writes the whole element.
            out.truncate(out.len() - key.as_str().len() - 2);
            let mut one = RawDocumentBuf::new();
            one.append(key, other);
            let one = one.as_bytes();
            out.extend_from_slice(&one[4..one.len() - 1]);
        }
    }
}

/// Bytes a value takes in BSON, near enough to size a buffer.
pub fn value_size_hint(value: RawBsonRef<'_>) -> usize {
    match value {
        RawBsonRef::Document(d) => d.as_bytes().len(),
        RawBsonRef::Array(a) => a.as_bytes().len(),
        RawBsonRef::String(s) => s.len() + 5,
        _ => 16,
    }
}

/// The `_id` of a stored document (always its first field).
pub fn document_id(doc: &RawDocument) -> Option<RawBsonRef<'_>> {
    match doc.iter().next() {
        Some(Ok((key, value))) if key.as_str() == "_id" => Some(value),
        _ => doc.get("_id").ok().flatten(),
    }
}

/// How deep `$**` text indexes look for strings (deeper values are ignored; stored documents
/// are at most 100 levels deep anyway).
pub const MAX_NESTING_FOR_TEXT: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn with_last_field_moves_the_field_to_the_end() {
        let doc = rawdoc! { "_id": 1, "k": "old", "a": 2 };
        assert_eq!(
            with_last_field(&doc, "k", RawBsonRef::Double(1.5)).unwrap(),
            rawdoc! { "_id": 1, "a": 2, "k": 1.5 }
        );
        assert_eq!(
            with_last_field(&doc, "z", RawBsonRef::Document(&rawdoc! { "a": 2 })).unwrap(),
            rawdoc! { "_id": 1, "k": "old", "a": 2, "z": { "a": 2 } }
        );
    }

    #[test]
    fn single_value_document_encodes_as_the_bson_crate_does() {
        let values = rawdoc! {
            "d": 1.5, "s": "héllo", "e": "", "doc": { "a": 1 }, "arr": [1, "x"], "t": true, "f": false,
            "n": null, "i": 7, "l": 1_i64 << 40, "dt": bson::DateTime::from_millis(-5),
            "o": bson::oid::ObjectId::from_bytes([7; 12]), "ts": bson::Timestamp { time: 1, increment: 2 },
            "dec": bson::Decimal128::from_bytes([1; 16]),
        };
        for element in &values {
            let (_, value) = element.unwrap();
            let mut expected = RawDocumentBuf::new();
            expected.append(bson::raw::cstr!(""), value);
            assert_eq!(single_value_document(value).as_bytes(), expected.as_bytes(), "{value:?}");
        }
    }

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
