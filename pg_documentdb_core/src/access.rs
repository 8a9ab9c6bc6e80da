//! Field access: `->`, `->>`, `bson_get_value*`, `bson_object_keys`.

use bson::raw::CStr as BsonKey;
use bson::{RawBsonRef, RawDocumentBuf};
use documentdb_bson::extjson;
use documentdb_bson::path::{get_path, PathValue};
use documentdb_pgbson::{Bson, BsonRef};
use pgrx::prelude::*;

/// Wraps one value as `{ "" : value }`, the form `->` returns so that scalars, arrays and
/// documents can all be carried by the bson type (and unwrapped again by
/// `bson_build_document` / `bson_array_agg`).
pub(crate) fn wrap_value(value: RawBsonRef<'_>) -> Bson {
    let mut doc = RawDocumentBuf::new();
    let empty: &BsonKey = match "".try_into() {
        Ok(key) => key,
        Err(_) => unreachable!("the empty string is a valid BSON key"),
    };
    doc.append(empty, value);
    Bson::from(doc)
}

fn with_path_value<T>(doc: &BsonRef<'_>, path: &str, f: impl FnOnce(RawBsonRef<'_>) -> T) -> Option<T> {
    match get_path(doc.document(), path)? {
        PathValue::Borrowed(value) => Some(f(value)),
        PathValue::Gathered(owned) => Some(f(owned.as_raw_bson_ref())),
    }
}

/// The value at a dotted path as `{ "" : value }`; NULL when the path reaches nothing.
/// Numeric components index arrays (`a.0`); other components applied to an array collect
/// the field from each element (`a.b` over `[{b: 1}, {b: 2}]` is `[1, 2]`).
#[pg_extern(immutable, parallel_safe, strict)]
fn bson_get_value(doc: BsonRef<'_>, path: &str) -> Option<Bson> {
    with_path_value(&doc, path, wrap_value)
}

/// Text of a value as `->>` returns it: strings unquoted, numbers and booleans as literals
/// PostgreSQL can cast (`('…'::bson ->> 'n')::int`), dates as ISO-8601, ObjectIds as hex,
/// documents and arrays as canonical Extended JSON; BSON null gives SQL NULL.
pub(crate) fn value_as_text(value: RawBsonRef<'_>) -> Option<String> {
    Some(match value {
        RawBsonRef::Null | RawBsonRef::Undefined => return None,
        RawBsonRef::String(s) => s.to_owned(),
        RawBsonRef::Symbol(s) => s.to_owned(),
        RawBsonRef::Int32(i) => i.to_string(),
        RawBsonRef::Int64(i) => i.to_string(),
        RawBsonRef::Boolean(b) => b.to_string(),
        RawBsonRef::Double(d) => {
            let mut text = String::new();
            extjson::write_canonical_value(RawBsonRef::Double(d), &mut text);
            // `{ "$numberDouble" : "1.5" }` -> `1.5`
            text.split('"').nth(3).map(str::to_owned).unwrap_or(text)
        }
        RawBsonRef::Decimal128(d) => d.to_string(),
        RawBsonRef::ObjectId(oid) => oid.to_hex(),
        RawBsonRef::DateTime(dt) => dt.try_to_rfc3339_string().unwrap_or_else(|_| dt.timestamp_millis().to_string()),
        other => {
            let mut text = String::new();
            extjson::write_canonical_value(other, &mut text);
            text
        }
    })
}

#[pg_extern(immutable, parallel_safe, strict)]
fn bson_get_value_text(doc: BsonRef<'_>, path: &str) -> Option<String> {
    with_path_value(&doc, path, value_as_text).flatten()
}

/// `bson_get_value_text(doc, path, as_extended_json)`: with `true`, every value (strings
/// included) is returned as its canonical Extended JSON text.
#[pg_extern(immutable, parallel_safe, strict, name = "bson_get_value_text")]
fn bson_get_value_text_json(doc: BsonRef<'_>, path: &str, as_extended_json: bool) -> Option<String> {
    if !as_extended_json {
        return bson_get_value_text(doc, path);
    }
    with_path_value(&doc, path, |value| {
        let mut text = String::new();
        extjson::write_canonical_value(value, &mut text);
        text
    })
}

/// The top-level field names, in document order (duplicates included, as stored).
#[pg_extern(immutable, parallel_safe, strict)]
fn bson_object_keys(doc: BsonRef<'_>) -> SetOfIterator<'_, String> {
    SetOfIterator::new(
        doc.document().iter_elements().filter_map(|element| element.ok().map(|e| e.key().as_str().to_owned())),
    )
}
