//! Structural validation of untrusted BSON bytes.
//!
//! [`validate_document`] walks the bytes once, iteratively (an explicit, fixed-size stack of
//! open documents; no recursion, no allocation), and checks everything a reader of the
//! bytes relies on, so that the rest of the code may treat a validated document as
//! well-formed.
//!
//! # Nesting depth
//! The top-level document is at depth 0; a document, array or code-with-scope scope that
//! is the value of an element of a container at depth `d` is at depth `d + 1`. A document
//! is accepted when no container is deeper than [`MAX_NESTING_DEPTH`], i.e. a top-level
//! document may contain 100 levels of nested documents/arrays, but not 101.
//!
//! # Not checked
//! Array keys are not required to be `"0"`, `"1"`, ... (MongoDB does not require it
//! either), regular expression options are not checked against a flag alphabet, and
//! decimal128 / double bit patterns are not canonicalised.
use bson::RawDocument;
use documentdb_errors::{bail, docdb_error, DocDbResult};

/// MongoDB's maximum user document size (16 MiB).
pub const MAX_BSON_SIZE: usize = 16 * 1024 * 1024;
/// MongoDB's maximum nesting depth of documents and arrays (see the module documentation
/// for how depth is counted).
pub const MAX_NESTING_DEPTH: usize = 100;

/// MongoDB's `BSONDepth::getMaxAllowableDepth()`: the deepest nesting (counted as for
/// [`MAX_NESTING_DEPTH`]) a value built at run time may reach, e.g. an aggregation result
/// converted to BSON or a value accumulated by `$reduce` (MongoDB: Overflow, "cannot convert
/// document to BSON because it exceeds the limit of 200 levels of nesting").
pub const MAX_VALUE_DEPTH: usize = 200;

/// The message of the nesting-depth error (code Overflow, 15), shared with the parser.
pub(crate) const DEPTH_MESSAGE: &str = "BSON nesting depth exceeds the maximum of 100";

/// Fully validates `bytes` as one BSON document: the length prefix equals `bytes.len()`,
/// every element's type byte is known, every nested length is consistent and in bounds,
/// keys and regular expression parts are NUL-terminated valid UTF-8, strings are valid
/// UTF-8 ending in NUL (interior NULs allowed), booleans are 0 or 1, binary subtype 2
/// carries a consistent inner length, nesting is at most [`MAX_NESTING_DEPTH`] and the
/// size at most `max_size`.
///
/// Errors: InvalidBSON (22) for malformed bytes (the message says what and at which byte
/// offset), BSONObjectTooLarge (10334) over size, Overflow (15) for nesting deeper than
/// [`MAX_NESTING_DEPTH`].
pub fn validate_document(bytes: &[u8], max_size: usize) -> DocDbResult<&RawDocument> {
    if bytes.len() > max_size {
        bail!(BSONObjectTooLarge, "BSON document size {} exceeds the maximum of {} bytes", bytes.len(), max_size);
    }
    if bytes.len() < 5 {
        bail!(InvalidBSON, "Invalid BSON: document of {} bytes is shorter than the minimum of 5", bytes.len());
    }
    let declared = read_i32(bytes, 0).unwrap_or(-1);
    if usize::try_from(declared) != Ok(bytes.len()) {
        bail!(
            InvalidBSON,
            "Invalid BSON: document length prefix {declared} does not match its size of {} bytes",
            bytes.len()
        );
    }
    walk(bytes)?;
    RawDocument::from_bytes(bytes).map_err(|e| docdb_error!(InvalidBSON, "Invalid BSON: {e}"))
}

/// Whether the document `doc` (its bytes, length prefix included) nests documents, arrays
/// or code-with-scope scopes deeper than `max` (depth counted as in the module
/// documentation: the top-level document is at depth 0). Walks iteratively, with no
/// recursion; a malformed element ends the walk of its container.
pub fn nesting_depth_exceeds(doc: &[u8], max: usize) -> bool {
    use crate::raw_reader::{Elements, Val};
    let mut open: Vec<Elements<'_>> = vec![Elements::new(doc)];
    while let Some(current) = open.last_mut() {
        match current.next() {
            None => {
                open.pop();
            }
            Some((_, Val::Document(child) | Val::Array(child) | Val::CodeWithScope { scope: child, .. })) => {
                // The child sits at depth `open.len()`.
                if open.len() > max {
                    return true;
                }
                open.push(Elements::new(child));
            }
            Some(_) => {}
        }
    }
    false
}

fn invalid(what: &str, offset: usize) -> documentdb_errors::DocDbError {
    docdb_error!(InvalidBSON, "Invalid BSON: {what} at offset {offset}")
}

#[inline]
fn read_i32(bytes: &[u8], at: usize) -> Option<i32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a non-negative i32 length at `at`.
#[inline]
fn read_len(bytes: &[u8], at: usize, limit: usize, what: &str) -> DocDbResult<usize> {
    if at.saturating_add(4) > limit {
        return Err(docdb_error!(InvalidBSON, "Invalid BSON: {what} length at offset {at} exceeds document"));
    }
    let value = read_i32(bytes, at).ok_or_else(|| invalid("truncated length", at))?;
    usize::try_from(value)
        .map_err(|_| docdb_error!(InvalidBSON, "Invalid BSON: negative {what} length {value} at offset {at}"))
}

/// Checks a NUL-terminated UTF-8 C string starting at `start`, which must end before
/// `limit`; returns the offset just past its NUL.
#[inline]
fn cstring(bytes: &[u8], start: usize, limit: usize, what: &str) -> DocDbResult<usize> {
    let region = bytes.get(start..limit).unwrap_or(&[]);
    let Some(nul) = region.iter().position(|b| *b == 0) else {
        return Err(docdb_error!(
            InvalidBSON,
            "Invalid BSON: {what} at offset {start} is not NUL-terminated within its document"
        ));
    };
    if std::str::from_utf8(&region[..nul]).is_err() {
        return Err(docdb_error!(InvalidBSON, "Invalid BSON: {what} at offset {start} is not valid UTF-8"));
    }
    Ok(start + nul + 1)
}

/// Checks a length-prefixed BSON string at `at` that must end at or before `limit`;
/// returns the offset just past it.
#[inline]
fn string(bytes: &[u8], at: usize, limit: usize, what: &str) -> DocDbResult<usize> {
    let len = read_len(bytes, at, limit, what)?;
    let start = at + 4;
    if len < 1 {
        return Err(docdb_error!(
            InvalidBSON,
            "Invalid BSON: {what} length 0 at offset {at} (must include the trailing NUL)"
        ));
    }
    let end = start
        .checked_add(len)
        .filter(|e| *e <= limit)
        .ok_or_else(|| docdb_error!(InvalidBSON, "Invalid BSON: {what} length at offset {at} exceeds document"))?;
    if bytes.get(end - 1) != Some(&0) {
        return Err(docdb_error!(InvalidBSON, "Invalid BSON: {what} at offset {at} is not NUL-terminated"));
    }
    if std::str::from_utf8(bytes.get(start..end - 1).unwrap_or(&[])).is_err() {
        return Err(docdb_error!(InvalidBSON, "Invalid BSON: {what} at offset {at} is not valid UTF-8"));
    }
    Ok(end)
}

/// Checks that a fixed-size value of `size` bytes at `at` ends at or before `limit`.
#[inline]
fn fixed(at: usize, size: usize, limit: usize, what: &str) -> DocDbResult<usize> {
    let end = at + size;
    if end > limit {
        return Err(docdb_error!(InvalidBSON, "Invalid BSON: {what} value at offset {at} exceeds document"));
    }
    Ok(end)
}

/// The single pass over all elements. `bytes` has a correct length prefix already.
fn walk(bytes: &[u8]) -> DocDbResult<()> {
    // ends[i] is the offset one past the document open at depth i; its terminating NUL
    // is at ends[i] - 1. Elements of that document must end at or before ends[i] - 1.
    let mut ends = [0usize; MAX_NESTING_DEPTH + 1];
    let mut depth = 0usize;
    ends[0] = bytes.len();
    let mut pos = 4usize;

    loop {
        let end = ends[depth];
        let limit = end - 1; // offset of the terminating NUL
        if pos == limit {
            if bytes.get(limit) != Some(&0) {
                return Err(invalid("document is not NUL-terminated", limit));
            }
            if depth == 0 {
                return Ok(());
            }
            depth -= 1;
            pos = end;
            continue;
        }
        let type_byte = match bytes.get(pos) {
            Some(t) if pos < limit => *t,
            _ => return Err(invalid("element extends past the end of its document", pos)),
        };
        if type_byte == 0 {
            return Err(invalid("unexpected end-of-document marker", pos));
        }
        let value = cstring(bytes, pos + 1, limit, "key")?;
        pos = match type_byte {
            0x01 | 0x09 | 0x11 | 0x12 => fixed(value, 8, limit, "8-byte")?,
            0x10 => fixed(value, 4, limit, "int32")?,
            0x07 => fixed(value, 12, limit, "ObjectId")?,
            0x13 => fixed(value, 16, limit, "decimal128")?,
            0x06 | 0x0A | 0x7F | 0xFF => value,
            0x08 => {
                let next = fixed(value, 1, limit, "boolean")?;
                if !matches!(bytes.get(value), Some(0 | 1)) {
                    return Err(invalid("boolean value is neither 0 nor 1", value));
                }
                next
            }
            0x02 => string(bytes, value, limit, "string")?,
            0x0D => string(bytes, value, limit, "JavaScript code")?,
            0x0E => string(bytes, value, limit, "symbol")?,
            0x0C => {
                let next = string(bytes, value, limit, "DBPointer namespace")?;
                fixed(next, 12, limit, "DBPointer ObjectId")?
            }
            0x0B => {
                let next = cstring(bytes, value, limit, "regular expression pattern")?;
                cstring(bytes, next, limit, "regular expression options")?
            }
            0x05 => {
                let len = read_len(bytes, value, limit, "binary")?;
                let data = value + 5;
                let next = data.checked_add(len).filter(|e| *e <= limit).ok_or_else(|| {
                    docdb_error!(InvalidBSON, "Invalid BSON: binary length at offset {value} exceeds document")
                })?;
                if bytes.get(value + 4) == Some(&2) {
                    // The deprecated "old binary" subtype wraps its payload in a second
                    // length prefix, which must account for the rest of the payload.
                    let inner = read_i32(bytes, data).filter(|_| len >= 4);
                    if inner.and_then(|i| usize::try_from(i).ok()) != Some(len.wrapping_sub(4)) {
                        return Err(invalid("binary subtype 2 inner length is inconsistent", data));
                    }
                }
                next
            }
            0x03 | 0x04 => {
                let len = read_len(bytes, value, limit, "embedded document")?;
                if len < 5 {
                    return Err(invalid("embedded document length is less than 5", value));
                }
                let child_end = value.checked_add(len).filter(|e| *e <= limit).ok_or_else(|| {
                    docdb_error!(
                        InvalidBSON,
                        "Invalid BSON: embedded document length at offset {value} exceeds document"
                    )
                })?;
                depth = push(&mut ends, depth, child_end)?;
                value + 4
            }
            0x0F => {
                let total = read_len(bytes, value, limit, "code with scope")?;
                let cws_end = value.checked_add(total).filter(|e| *e <= limit).ok_or_else(|| {
                    docdb_error!(InvalidBSON, "Invalid BSON: code with scope length at offset {value} exceeds document")
                })?;
                if total < 4 + 4 + 1 + 5 {
                    return Err(invalid("code with scope length is too small", value));
                }
                let scope = string(bytes, value + 4, cws_end, "code with scope code")?;
                let scope_len = read_len(bytes, scope, cws_end, "code with scope scope")?;
                if scope.checked_add(scope_len) != Some(cws_end) || scope_len < 5 {
                    return Err(invalid("code with scope total length does not match its code and scope", value));
                }
                depth = push(&mut ends, depth, cws_end)?;
                scope + 4
            }
            other => {
                return Err(docdb_error!(
                    InvalidBSON,
                    "Invalid BSON: unknown element type 0x{other:02x} at offset {pos}"
                ))
            }
        };
    }
}

#[inline]
fn push(ends: &mut [usize; MAX_NESTING_DEPTH + 1], depth: usize, child_end: usize) -> DocDbResult<usize> {
    let next = depth + 1;
    match ends.get_mut(next) {
        Some(slot) => {
            *slot = child_end;
            Ok(next)
        }
        None => bail!(Overflow, "{DEPTH_MESSAGE}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use documentdb_errors::ErrorCode;

    fn doc(body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 5) as i32).to_le_bytes().to_vec();
        out.extend_from_slice(body);
        out.push(0);
        out
    }

    fn code(bytes: &[u8]) -> ErrorCode {
        match validate_document(bytes, MAX_BSON_SIZE) {
            Ok(_) => ErrorCode::OK,
            Err(e) => e.code,
        }
    }

    fn nested(levels: usize) -> Vec<u8> {
        // levels = number of documents nested inside the top-level one.
        let mut inner = doc(b"");
        for _ in 0..levels {
            let mut body = vec![0x03, b'a', 0];
            body.extend_from_slice(&inner);
            inner = doc(&body);
        }
        inner
    }

    #[test]
    fn nesting_depth_exceeds_counts_like_validation() {
        assert!(!nesting_depth_exceeds(&nested(0), 0));
        assert!(nesting_depth_exceeds(&nested(1), 0));
        assert!(!nesting_depth_exceeds(&nested(MAX_NESTING_DEPTH), MAX_NESTING_DEPTH));
        assert!(nesting_depth_exceeds(&nested(MAX_NESTING_DEPTH + 1), MAX_NESTING_DEPTH));
        // Arrays and code-with-scope scopes count too; siblings do not.
        let arrays = doc(b"\x04a\0\x0d\0\0\0\x04\x30\0\x05\0\0\0\0\0\x10b\0\x01\0\0\0");
        assert!(!nesting_depth_exceeds(&arrays, 2));
        assert!(nesting_depth_exceeds(&arrays, 1));
        let scope = doc(b"\x0fc\0\x0f\0\0\0\x02\0\0\0x\0\x05\0\0\0\0");
        assert!(!nesting_depth_exceeds(&scope, 1));
        assert!(nesting_depth_exceeds(&scope, 0));
    }

    #[test]
    fn nesting_depth_exceeds_is_iterative() {
        // 100,000 levels: a recursive walk would overflow the test thread's stack.
        let levels = 100_000;
        let total = 5 + 8 * levels;
        let mut deep = Vec::with_capacity(total);
        for i in 0..levels {
            deep.extend_from_slice(&((total - 8 * i) as i32).to_le_bytes());
            deep.extend_from_slice(b"\x03a\0");
        }
        deep.extend_from_slice(&doc(b""));
        deep.resize(total, 0);
        assert!(nesting_depth_exceeds(&deep, MAX_NESTING_DEPTH));
        assert!(!nesting_depth_exceeds(&deep, 100_000));
        assert_eq!(code(&deep), ErrorCode::Overflow);
    }

    #[test]
    fn accepts_minimal_and_simple() {
        assert_eq!(code(&doc(b"")), ErrorCode::OK);
        assert_eq!(code(&doc(b"\x10a\0\x01\0\0\0")), ErrorCode::OK);
        assert_eq!(code(&doc(b"\x02s\0\x03\0\0\0a\0\0")), ErrorCode::OK, "interior NUL in string");
        assert_eq!(code(&doc(b"\x08b\0\x01")), ErrorCode::OK);
        assert_eq!(code(&doc(b"\x0Br\0a\0ix\0")), ErrorCode::OK);
        assert_eq!(code(&doc(b"\x05b\0\x06\0\0\0\x02\x02\0\0\0\xff\xff")), ErrorCode::OK);
        assert_eq!(code(&doc(b"\x7Fk\0\xFFm\0\x06u\0\x0An\0")), ErrorCode::OK);
    }

    #[test]
    fn depth_limit_is_exact() {
        assert_eq!(code(&nested(MAX_NESTING_DEPTH)), ErrorCode::OK);
        let err = validate_document(&nested(MAX_NESTING_DEPTH + 1), MAX_BSON_SIZE).unwrap_err();
        assert_eq!(err.code, ErrorCode::Overflow);
        assert_eq!(err.message, "BSON nesting depth exceeds the maximum of 100");
        // Very deep input errors rather than overflowing the stack.
        assert_eq!(code(&nested(10_000)), ErrorCode::Overflow);
    }

    #[test]
    fn size_limit() {
        let d = doc(b"\x10a\0\x01\0\0\0");
        let err = validate_document(&d, d.len() - 1).unwrap_err();
        assert_eq!(err.code, ErrorCode::BSONObjectTooLarge);
        assert_eq!(err.message, format!("BSON document size {} exceeds the maximum of {} bytes", d.len(), d.len() - 1));
        assert!(validate_document(&d, d.len()).is_ok());
    }

    #[test]
    fn rejects_malformed() {
        let bad: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "shorter"),
            (vec![5, 0, 0, 0], "shorter"),
            (vec![6, 0, 0, 0, 0], "length prefix"),
            (vec![5, 0, 0, 0, 1], "not NUL-terminated"),
            (doc(b"\x10a\0\x01\0\0"), "exceeds"),
            (doc(b"\x20a\0"), "unknown element type 0x20"),
            (doc(b"\x02s\0\x10\0\0\0ab\0"), "string length at offset 7 exceeds document"),
            (doc(b"\x02s\0\x00\0\0\0"), "length 0"),
            (doc(b"\x02s\0\x02\0\0\0ab"), "not NUL-terminated"),
            (doc(b"\x02s\0\x02\0\0\0\xff\0"), "not valid UTF-8"),
            (doc(b"\x02s\0\xff\xff\xff\xff\0"), "negative"),
            (doc(b"\x10\xffa\0\x01\0\0\0"), "key at offset 5 is not valid UTF-8"),
            (doc(b"\x10abc"), "not NUL-terminated"),
            (doc(b"\x08b\0\x02"), "boolean"),
            (doc(b"\x0Br\0a\0ix"), "options"),
            (doc(b"\x05b\0\x10\0\0\0\0ab"), "binary length"),
            (doc(b"\x05b\0\x03\0\0\0\x02\x02\0\0"), "subtype 2"),
            (doc(b"\x05b\0\x06\0\0\0\x02\x03\0\0\0\xff\xff"), "subtype 2"),
            (doc(b"\x03d\0\x04\0\0\0"), "less than 5"),
            (doc(b"\x03d\0\x06\0\0\0\0"), "exceeds"),
            (doc(b"\x03d\0\x05\0\0\0\x01"), "not NUL-terminated"),
            (doc(b"\x0Cp\0\x02\0\0\0a\0abcdefghijk"), "DBPointer ObjectId"),
            (doc(b"\0\0\0"), "end-of-document marker"),
        ];
        for (bytes, expect) in bad {
            let err = validate_document(&bytes, MAX_BSON_SIZE).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidBSON, "{bytes:?}: {}", err.message);
            assert!(err.message.contains(expect), "{bytes:?}: {} (expected {expect})", err.message);
            assert!(err.message.starts_with("Invalid BSON"));
        }
    }

    #[test]
    fn code_with_scope() {
        // total = 4 + (4 + 2) + 5 = 15
        let good = doc(b"\x0Fc\0\x0F\0\0\0\x02\0\0\0x\0\x05\0\0\0\0");
        assert_eq!(code(&good), ErrorCode::OK);
        let bad_total = doc(b"\x0Fc\0\x10\0\0\0\x02\0\0\0x\0\x05\0\0\0\0\0");
        assert_eq!(code(&bad_total), ErrorCode::InvalidBSON);
        let bad_str = doc(b"\x0Fc\0\x0F\0\0\0\x09\0\0\0x\0\x05\0\0\0\0");
        assert_eq!(code(&bad_str), ErrorCode::InvalidBSON);
        // scope with a bad element
        let bad_scope = doc(b"\x0Fc\0\x10\0\0\0\x02\0\0\0x\0\x06\0\0\0\x08\0");
        assert_eq!(code(&bad_scope), ErrorCode::InvalidBSON);
    }

    #[test]
    fn every_truncation_is_rejected_without_panic() {
        let d = doc(
            b"\x02s\0\x02\0\0\0a\0\x03d\0\x0C\0\0\0\x10x\0\x01\0\0\0\0\x0F\x63\0\x0F\0\0\0\x02\0\0\0x\0\x05\0\0\0\0",
        );
        assert_eq!(code(&d), ErrorCode::OK);
        for cut in 0..d.len() {
            let mut t = d[..cut].to_vec();
            if t.len() >= 4 {
                t[..4].copy_from_slice(&(cut as i32).to_le_bytes());
            }
            assert_ne!(code(&t), ErrorCode::OK, "cut {cut}");
        }
    }
}
