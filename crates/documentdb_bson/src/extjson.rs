//! MongoDB Extended JSON v2 (canonical and relaxed, plus the legacy forms libbson accepts)
//! to BSON, and BSON to canonical / relaxed Extended JSON with libbson's spacing.
//!
//! # Parsing
//! [`parse_document`] is a one-pass recursive-descent parser that writes BSON bytes
//! directly (no intermediate JSON tree). Accepted input: one JSON object, optionally
//! surrounded by whitespace, or `BSONHEX` followed by the hex of raw BSON bytes.
//!
//! * Plain JSON: strings (all escapes; lone surrogates are errors), `true`/`false`/`null`,
//!   integers as int32 when they fit, else int64, else double; numbers with a fraction or
//!   exponent as (correctly rounded) doubles; arrays with keys `"0"`, `"1"`, ...;
//!   duplicate keys kept. Field names may not contain NUL; string values may.
//! * An object whose *first* key is a type-wrapper key (`$oid`, `$symbol`, `$numberInt`,
//!   `$numberLong`, `$numberDouble`, `$numberDecimal`, `$binary`, `$uuid`, `$code`,
//!   `$timestamp`, `$regularExpression`, `$dbPointer`, `$date`, `$minKey`, `$maxKey`,
//!   `$undefined`) must be exactly that wrapper's form, otherwise it is an error. The
//!   wrappers' inner objects accept their keys in any order.
//! * Legacy two-key forms are recognised only when the object has exactly those two keys
//!   with string values (document for `$scope`), in either order:
//!   `{"$regex": s, "$options": s}`, `{"$binary": s, "$type": s}`,
//!   `{"$code": s, "$scope": {..}}`. A lone `$regex`, `$type`, `$options` or `$scope`
//!   (query operators) is an ordinary key, as is every other `$`-prefixed key.
//! * The top-level object (and a `$scope` document) is always a document: a wrapper key
//!   as its first key is an ordinary field name there.
//! * Nesting: the top-level document is depth 0; a document or array deeper than
//!   [`MAX_NESTING_DEPTH`](crate::MAX_NESTING_DEPTH) is an error (Overflow, 15). Type
//!   wrappers are values and do not count as a level; a `$scope` document sits at the
//!   depth a plain document in the wrapper's place would have.
//! * A result over [`MAX_BSON_SIZE`] is BSONObjectTooLarge (10334); every other problem
//!   is FailedToParse (9) with the line, column and byte offset where it was found.
//!
//! # Printing
//! [`to_canonical_string`] / [`write_canonical_value`] print canonical Extended JSON v2,
//! [`to_relaxed_string`] / [`write_relaxed_value`] relaxed Extended JSON (valid JSON),
//! both with libbson's spacing: `{ "a" : 1 }`, `{ }`, `[ 1, 2 ]`, `[ ]`.
use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{docdb_error, DocDbResult};

use crate::validate::{validate_document, MAX_BSON_SIZE};

mod date;
mod parse;
mod print;
#[cfg(test)]
mod tests;

use print::Mode;

/// Parses one JSON object in Extended JSON (canonical or relaxed v2, legacy forms), or
/// `BSONHEX<hex bytes>`, into a validated BSON document. Errors carry MongoDB codes
/// (FailedToParse 9 for bad JSON / bad wrappers, InvalidBSON 22 for bad BSONHEX bytes,
/// Overflow 15 for nesting deeper than 100, BSONObjectTooLarge 10334 over 16 MiB).
pub fn parse_document(text: &str) -> DocDbResult<RawDocumentBuf> {
    let mut parser = parse::Parser::new(text);
    parser.skip_leading_ws();
    if let Some(hex_text) = parser.rest().strip_prefix("BSONHEX") {
        return parse_bson_hex(hex_text);
    }
    parser.parse_top_level()?;
    RawDocumentBuf::from_bytes(parser.out)
        .map_err(|e| docdb_error!(InternalError, "Extended JSON parser produced malformed BSON: {e}"))
}

fn parse_bson_hex(hex_text: &str) -> DocDbResult<RawDocumentBuf> {
    let bytes =
        hex::decode(hex_text.trim_end()).map_err(|e| docdb_error!(FailedToParse, "Invalid BSONHEX input: {e}"))?;
    validate_document(&bytes, MAX_BSON_SIZE)?;
    RawDocumentBuf::from_bytes(bytes).map_err(|e| docdb_error!(InvalidBSON, "Invalid BSON: {e}"))
}

/// Canonical Extended JSON with libbson spacing: `{ "a" : { "$numberInt" : "1" } }`,
/// `{ }`, `[ ]`, `[ { "$numberInt" : "1" }, "x" ]`.
pub fn to_canonical_string(doc: &RawDocument) -> String {
    let mut out = String::with_capacity(doc.as_bytes().len() * 2);
    print::write_document(doc.as_bytes(), Mode::Canonical, &mut out);
    out
}

/// Appends the canonical form of one value (e.g. `{ "$numberInt" : "1" }`, `"x"`, `[ ]`).
pub fn write_canonical_value(value: RawBsonRef<'_>, out: &mut String) {
    print::write_raw_value(value, Mode::Canonical, out);
}

/// Relaxed Extended JSON with the same spacing (numbers as plain JSON numbers where finite,
/// dates as `{ "$date" : "ISO-8601" }` when in range), used for bson -> json/jsonb casts.
pub fn to_relaxed_string(doc: &RawDocument) -> String {
    let mut out = String::with_capacity(doc.as_bytes().len() * 2);
    print::write_document(doc.as_bytes(), Mode::Relaxed, &mut out);
    out
}

/// Appends the relaxed form of one value: int32/int64 and finite doubles as JSON numbers
/// (doubles always with a `.` or exponent), dates from 1970 to 9999 as
/// `{ "$date" : "2012-12-24T12:15:30.501Z" }`, everything else as in canonical form.
pub fn write_relaxed_value(value: RawBsonRef<'_>, out: &mut String) {
    print::write_raw_value(value, Mode::Relaxed, out);
}
