//! Test inputs shared by the unit tests of several modules.

use bson::RawDocumentBuf;

/// `{a: {a: ... {} ...}}`: `depth` documents nested below the top level.
pub(crate) fn deeply_nested(depth: usize) -> RawDocumentBuf {
    // A document holding k nested levels is 5 + 8k bytes: its length, the element
    // header (type 0x03, key "a\0"), the inner document, and its closing NUL.
    let mut bytes = Vec::with_capacity(5 + 8 * depth);
    for k in (1..=depth).rev() {
        bytes.extend_from_slice(&((5 + 8 * k) as i32).to_le_bytes());
        bytes.extend_from_slice(&[0x03, b'a', 0]);
    }
    bytes.extend_from_slice(&[5, 0, 0, 0, 0]);
    bytes.resize(5 + 8 * depth, 0);
    RawDocumentBuf::from_bytes(bytes).unwrap()
}
