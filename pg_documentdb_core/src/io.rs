//! Text and binary I/O of the bson types, and casts between them and bytea / json.

use std::ffi::{CStr, CString};

use bson::RawDocumentBuf;
use documentdb_bson::extjson;
use documentdb_bson::validate::validate_document;
use documentdb_errors::{bail, docdb_error, DocDbResult};
use documentdb_pgbson::{ok_or_throw, Bson, BsonQuery, BsonRef, BsonSequence, BsonSequenceRef};
use pgrx::prelude::*;
use pgrx::Internal;

/// The largest bson value the types accept: MongoDB's internal object limit (16 MiB plus
/// 16 KiB of room for command envelopes). Stored user documents are held to 16 MiB by the
/// write paths, as in MongoDB.
pub const MAX_BSON_VALUE_SIZE: usize = documentdb_bson::MAX_BSON_SIZE + 16 * 1024;

/// Prefix of the hex text form of a sequence.
const SEQUENCE_HEX_PREFIX: &str = "BSONSEQUENCE";

fn cstring_from(text: String) -> CString {
    // Printers escape NUL, so this cannot fail; degrade visibly rather than panic.
    CString::new(text).unwrap_or_else(|e| {
        let lossy: String = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\\u0000");
        CString::new(lossy).unwrap_or_default()
    })
}

fn input_text(input: &CStr) -> DocDbResult<&str> {
    input.to_str().map_err(|_| docdb_error!(FailedToParse, "bson text input is not valid UTF-8"))
}

pub(crate) fn parse_bson_text(text: &str) -> DocDbResult<Bson> {
    let doc = extjson::parse_document(text)?;
    if doc.as_bytes().len() > MAX_BSON_VALUE_SIZE {
        bail!(
            BSONObjectTooLarge,
            "BSON document size {} exceeds the maximum of {} bytes",
            doc.as_bytes().len(),
            MAX_BSON_VALUE_SIZE
        );
    }
    Ok(Bson::from(doc))
}

pub(crate) fn validated_bson(bytes: &[u8]) -> DocDbResult<Bson> {
    validate_document(bytes, MAX_BSON_VALUE_SIZE)?;
    Ok(Bson(bytes.to_vec()))
}

/// A document built here, validated as a whole (its parts were each valid, the whole may
/// be too deep or too large) and kept without copying.
pub(crate) fn validated_built(doc: RawDocumentBuf) -> DocDbResult<Bson> {
    validate_document(doc.as_bytes(), MAX_BSON_VALUE_SIZE)?;
    Ok(Bson::from(doc))
}

/// Reads the unread rest of a binary-receive buffer.
fn read_receive_buffer(buf: &mut Internal) -> &[u8] {
    // SAFETY: a type's receive function is called with a StringInfo as its only argument.
    unsafe {
        let Some(info) = buf.get_mut::<pg_sys::StringInfoData>() else {
            return &[];
        };
        let start = info.cursor as usize;
        let len = (info.len as usize).saturating_sub(start);
        let bytes = std::slice::from_raw_parts((info.data as *const u8).add(start), len);
        info.cursor = info.len;
        bytes
    }
}

// ---- bson -------------------------------------------------------------------------------

#[pg_extern(sql = false)]
fn bson_in(input: &CStr) -> Bson {
    ok_or_throw(input_text(input).and_then(parse_bson_text))
}

#[pg_extern(sql = false)]
fn bson_out(doc: BsonRef<'_>) -> CString {
    cstring_from(extjson::to_canonical_string(doc.document()))
}

#[pg_extern(sql = false)]
fn bson_recv(mut buf: Internal) -> Bson {
    ok_or_throw(validated_bson(read_receive_buffer(&mut buf)))
}

#[pg_extern(sql = false)]
fn bson_send(doc: BsonRef<'_>) -> Vec<u8> {
    doc.as_bytes().to_vec()
}

// ---- bsonquery: a bson used as a query operand; same representation ---------------------

#[pg_extern(sql = false)]
fn bsonquery_in(input: &CStr) -> BsonQuery {
    BsonQuery(ok_or_throw(input_text(input).and_then(parse_bson_text)).0)
}

#[pg_extern(sql = false)]
fn bsonquery_out(doc: documentdb_pgbson::BsonQueryRef<'_>) -> CString {
    cstring_from(extjson::to_canonical_string(doc.document()))
}

#[pg_extern(sql = false)]
fn bsonquery_recv(mut buf: Internal) -> BsonQuery {
    BsonQuery(ok_or_throw(validated_bson(read_receive_buffer(&mut buf))).0)
}

#[pg_extern(sql = false)]
fn bsonquery_send(doc: documentdb_pgbson::BsonQueryRef<'_>) -> Vec<u8> {
    doc.as_bytes().to_vec()
}

// ---- bsonsequence: concatenated documents (an OP_MSG document sequence) ------------------

/// Validates a concatenation of BSON documents.
pub(crate) fn validate_sequence(bytes: &[u8]) -> DocDbResult<()> {
    let mut offset = 0usize;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        if rest.len() < 4 {
            bail!(InvalidBSON, "Invalid bsonsequence: {} trailing bytes at offset {offset}", rest.len());
        }
        let declared = i32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let len = usize::try_from(declared).ok().filter(|l| *l >= 5 && *l <= rest.len()).ok_or_else(|| {
            docdb_error!(
                InvalidBSON,
                "Invalid bsonsequence: document at offset {offset} declares length {declared} but {} bytes remain",
                rest.len()
            )
        })?;
        validate_document(&rest[..len], MAX_BSON_VALUE_SIZE)?;
        offset += len;
    }
    Ok(())
}

fn parse_sequence_text(text: &str) -> DocDbResult<BsonSequence> {
    let trimmed = text.trim();
    if let Some(hex_digits) = trimmed.strip_prefix(SEQUENCE_HEX_PREFIX) {
        let bytes = hex::decode(hex_digits.trim())
            .map_err(|e| docdb_error!(FailedToParse, "Invalid {SEQUENCE_HEX_PREFIX} hex: {e}"))?;
        validate_sequence(&bytes)?;
        return Ok(BsonSequence(bytes));
    }
    // Text form: a JSON array of documents, parsed as the value of a wrapper document.
    let wrapper = extjson::parse_document(&format!("{{ \"s\" : {trimmed} }}"))?;
    let Some(Ok(bson::RawBsonRef::Array(items))) = wrapper.get("s").transpose() else {
        bail!(FailedToParse, "bsonsequence text must be a JSON array of documents or BSONSEQUENCE<hex>");
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Ok(bson::RawBsonRef::Document(doc)) => out.extend_from_slice(doc.as_bytes()),
            _ => bail!(FailedToParse, "bsonsequence text must be a JSON array of documents"),
        }
    }
    Ok(BsonSequence(out))
}

fn sequence_to_text(seq: BsonSequenceRef<'_>) -> String {
    let mut out = String::from("[");
    for (i, doc) in seq.documents().enumerate() {
        out.push_str(if i == 0 { " " } else { ", " });
        out.push_str(&extjson::to_canonical_string(doc));
    }
    out.push_str(" ]");
    out
}

#[pg_extern(sql = false)]
fn bsonsequence_in(input: &CStr) -> BsonSequence {
    ok_or_throw(input_text(input).and_then(parse_sequence_text))
}

#[pg_extern(sql = false)]
fn bsonsequence_out(seq: BsonSequenceRef<'_>) -> CString {
    cstring_from(sequence_to_text(seq))
}

#[pg_extern(sql = false)]
fn bsonsequence_recv(mut buf: Internal) -> BsonSequence {
    let bytes = read_receive_buffer(&mut buf).to_vec();
    match validate_sequence(&bytes) {
        Ok(()) => BsonSequence(bytes),
        Err(err) => {
            drop(bytes);
            documentdb_pgbson::throw(err)
        }
    }
}

#[pg_extern(sql = false)]
fn bsonsequence_send(seq: BsonSequenceRef<'_>) -> Vec<u8> {
    seq.as_bytes().to_vec()
}

// ---- casts ------------------------------------------------------------------------------

#[pg_extern(immutable, parallel_safe)]
fn bson_from_bytea(bytes: &[u8]) -> Bson {
    ok_or_throw(validated_bson(bytes))
}

#[pg_extern(immutable, parallel_safe)]
fn bson_to_bytea(doc: BsonRef<'_>) -> Vec<u8> {
    doc.as_bytes().to_vec()
}

#[pg_extern(immutable, parallel_safe)]
fn bsonsequence_from_bytea(bytes: &[u8]) -> BsonSequence {
    ok_or_throw(validate_sequence(bytes));
    BsonSequence(bytes.to_vec())
}

#[pg_extern(immutable, parallel_safe)]
fn bsonsequence_to_bytea(seq: BsonSequenceRef<'_>) -> Vec<u8> {
    seq.as_bytes().to_vec()
}

#[pg_extern(immutable, parallel_safe)]
fn bson_to_bsonsequence(doc: BsonRef<'_>) -> BsonSequence {
    BsonSequence(doc.as_bytes().to_vec())
}

/// The documents of a sequence, one row each.
#[pg_extern(immutable, parallel_safe)]
fn bsonsequence_get_bson(seq: BsonSequenceRef<'_>) -> SetOfIterator<'_, Bson> {
    SetOfIterator::new(seq.documents().map(|d| Bson(d.as_bytes().to_vec())))
}

/// Parses Extended JSON text (same as the type's input function, callable on text).
#[pg_extern(immutable, parallel_safe)]
fn bson_json_to_bson(text: &str) -> Bson {
    ok_or_throw(parse_bson_text(text))
}

/// Canonical Extended JSON text of a document (same as the type's output).
#[pg_extern(immutable, parallel_safe)]
fn bson_to_json_string(doc: BsonRef<'_>) -> CString {
    cstring_from(extjson::to_canonical_string(doc.document()))
}

/// Relaxed Extended JSON text, valid JSON; used by the json/jsonb casts.
#[pg_extern(immutable, parallel_safe)]
fn bson_to_relaxed_json_text(doc: BsonRef<'_>) -> String {
    extjson::to_relaxed_string(doc.document())
}

#[pg_extern(immutable, parallel_safe)]
fn bson_hex_to_bson(input: &CStr) -> Bson {
    ok_or_throw(input_text(input).and_then(|text| {
        let text = text.trim();
        let digits = text.strip_prefix("BSONHEX").unwrap_or(text);
        let bytes = hex::decode(digits).map_err(|e| docdb_error!(FailedToParse, "Invalid BSONHEX input: {e}"))?;
        validated_bson(&bytes)
    }))
}

#[pg_extern(immutable, parallel_safe)]
fn bson_to_bson_hex(doc: BsonRef<'_>) -> CString {
    cstring_from(format!("BSONHEX{}", hex::encode(doc.as_bytes())))
}
