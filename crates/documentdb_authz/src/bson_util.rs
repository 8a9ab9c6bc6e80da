//! Small helpers for reading the raw BSON of privilege and role documents the way MongoDB's
//! IDL parsers do (type names and "wrong type" messages as the server spells them).

use bson::raw::{RawBsonRef, RawDocument};
use documentdb_bson::type_name::type_name;
use documentdb_errors::{docdb_error, DocDbError, DocDbResult};

/// The fields of `doc` in order. Malformed BSON cannot come from a driver (the gateway
/// validates every message), but we still refuse it instead of panicking.
pub(crate) fn fields(doc: &RawDocument) -> DocDbResult<Vec<(&str, RawBsonRef<'_>)>> {
    doc.iter()
        .map(|item| {
            item.map(|(key, value)| (key.as_str(), value))
                .map_err(|e| docdb_error!(InvalidBSON, "invalid BSON in privilege document: {e}"))
        })
        .collect()
}

/// IDL's type-mismatch message for a field that admits one type.
pub(crate) fn wrong_type(path: &str, found: RawBsonRef<'_>, expected: &str) -> DocDbError {
    docdb_error!(
        FailedToParse,
        "BSON field '{path}' is the wrong type '{}', expected type '{expected}'",
        type_name(found.element_type())
    )
}

/// IDL's message for a field given twice.
pub(crate) fn duplicate_field(path: &str) -> DocDbError {
    docdb_error!(FailedToParse, "BSON field '{path}' is a duplicate field")
}

/// IDL's message for a required field that is absent.
pub(crate) fn missing_field(path: &str) -> DocDbError {
    docdb_error!(FailedToParse, "BSON field '{path}' is missing but a required field")
}

/// IDL's `safeBool`: a bool, or any number (non-zero is true), as MongoDB accepts
/// `{cluster: 1}` for `{cluster: true}`.
pub(crate) fn safe_bool(path: &str, value: RawBsonRef<'_>) -> DocDbResult<bool> {
    match value {
        RawBsonRef::Boolean(b) => Ok(b),
        RawBsonRef::Int32(i) => Ok(i != 0),
        RawBsonRef::Int64(i) => Ok(i != 0),
        RawBsonRef::Double(d) => Ok(d != 0.0),
        // NaN and infinities are "not zero", hence true, as in MongoDB's trueValue().
        RawBsonRef::Decimal128(d) => Ok(d.to_string().parse::<f64>() != Ok(0.0)),
        other => Err(docdb_error!(
            FailedToParse,
            "BSON field '{path}' is the wrong type '{}', expected types '[bool, long, int, decimal, double]'",
            type_name(other.element_type())
        )),
    }
}
