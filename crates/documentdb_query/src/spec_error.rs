//! The errors of parsing stage and operator specifications, in one place: MongoDB's
//! "Location" codes, FailedToParse, malformed BSON, and the IDL's wrong-type message.

use bson::RawBsonRef;
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

/// A MongoDB "Location" error.
pub(crate) fn loc(code: i32, msg: impl Into<String>) -> DocDbError {
    DocDbError::new(ErrorCode::new(code), msg)
}

pub(crate) fn failed(msg: impl Into<String>) -> DocDbError {
    DocDbError::new(ErrorCode::FailedToParse, msg)
}

pub(crate) fn invalid_bson(e: impl std::fmt::Display) -> DocDbError {
    DocDbError::new(ErrorCode::InvalidBSON, e.to_string())
}

pub(crate) fn raw_type_name(v: RawBsonRef<'_>) -> &'static str {
    documentdb_bson::type_name(v.element_type())
}

/// The IDL's error for a field of the wrong type (`expected` as "type 'string'").
pub(crate) fn wrong_type(path: &str, found: RawBsonRef<'_>, expected: &str) -> DocDbError {
    DocDbError::new(
        ErrorCode::TypeMismatch,
        format!("BSON field '{path}' is the wrong type '{}', expected {expected}", raw_type_name(found)),
    )
}

/// An array of strings (`partitionByFields`), each element's wrong type named by its index.
pub(crate) fn string_array<'a>(path: &str, value: RawBsonRef<'a>) -> DocDbResult<Vec<&'a str>> {
    let RawBsonRef::Array(items) = value else {
        return Err(wrong_type(path, value, "type 'array'"));
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item.map_err(invalid_bson)? {
            RawBsonRef::String(s) => out.push(s),
            other => return Err(wrong_type(&format!("{path}.{i}"), other, "type 'string'")),
        }
    }
    Ok(out)
}
