//! A minimal reader over raw BSON bytes for the matcher's hot paths: finding a field and
//! iterating array elements. It skips elements by their length prefixes without decoding
//! or re-validating them (the bson crate's iterator re-validates every key and costs
//! several times more per element); only the value finally returned is decoded. Malformed
//! bytes end the iteration (treated as "no more fields"), never panic.

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{RawBinaryRef, RawBsonRef, RawDocument, RawJavaScriptCodeWithScopeRef, RawRegexRef};

#[inline]
fn read_i32(bytes: &[u8], at: usize) -> Option<i32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_le_bytes(b))
}

#[inline]
fn read_8(bytes: &[u8], at: usize) -> Option<[u8; 8]> {
    bytes.get(at..at.checked_add(8)?)?.try_into().ok()
}

#[inline]
fn len_at(bytes: &[u8], at: usize) -> Option<usize> {
    usize::try_from(read_i32(bytes, at)?).ok()
}

/// Length of the NUL-terminated string starting at `at` (without the NUL).
#[inline]
fn cstr_len(bytes: &[u8], at: usize) -> Option<usize> {
    bytes.get(at..)?.iter().position(|&b| b == 0)
}

/// One element: its type byte, key bytes and value bytes.
#[derive(Clone, Copy)]
pub(crate) struct Element<'a> {
    pub(crate) kind: u8,
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
    /// Position of the element in its document (for the slow-path decoding).
    pub(crate) index: usize,
}

/// Iterates the elements of a document (or array) without decoding them.
pub(crate) struct Elements<'a> {
    bytes: &'a [u8],
    pos: usize,
    index: usize,
}

impl<'a> Elements<'a> {
    #[inline]
    pub(crate) fn new(doc: &'a RawDocument) -> Elements<'a> {
        Elements { bytes: doc.as_bytes(), pos: 4, index: 0 }
    }
}

/// Size of a value of type `kind` starting at `at`.
#[inline]
fn value_size(kind: u8, bytes: &[u8], at: usize) -> Option<usize> {
    Some(match kind {
        0x01 | 0x09 | 0x11 | 0x12 => 8,
        0x10 => 4,
        0x13 => 16,
        0x07 => 12,
        0x08 => 1,
        0x06 | 0x0A | 0x7F | 0xFF => 0,
        0x02 | 0x0D | 0x0E => len_at(bytes, at)?.checked_add(4)?,
        0x03 | 0x04 | 0x0F => len_at(bytes, at)?,
        0x05 => len_at(bytes, at)?.checked_add(5)?,
        0x0C => len_at(bytes, at)?.checked_add(16)?,
        0x0B => {
            let pattern = cstr_len(bytes, at)?;
            let options = cstr_len(bytes, at + pattern + 1)?;
            pattern + options + 2
        }
        _ => return None,
    })
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    #[inline]
    fn next(&mut self) -> Option<Element<'a>> {
        let bytes = self.bytes;
        let kind = *bytes.get(self.pos)?;
        if kind == 0 {
            return None;
        }
        let key_start = self.pos + 1;
        let key_len = cstr_len(bytes, key_start)?;
        let value_start = key_start + key_len + 1;
        let size = value_size(kind, bytes, value_start)?;
        let value_end = value_start.checked_add(size)?;
        let value = bytes.get(value_start..value_end);
        let key = bytes.get(key_start..key_start + key_len);
        let (Some(key), Some(value)) = (key, value) else {
            self.pos = bytes.len();
            return None;
        };
        self.pos = value_end;
        let index = self.index;
        self.index += 1;
        Some(Element { kind, key, value, index })
    }
}

#[inline]
fn string(value: &[u8]) -> Option<&str> {
    let len = len_at(value, 0)?;
    let body = value.get(4..4 + len.checked_sub(1)?)?;
    if value.get(4 + len - 1) != Some(&0) {
        return None;
    }
    std::str::from_utf8(body).ok()
}

fn cstr(bytes: &[u8]) -> Option<&bson::raw::CStr> {
    std::str::from_utf8(bytes).ok()?.try_into().ok()
}

/// Decodes an element of `parent` (the document it was read from).
#[inline]
pub(crate) fn decode<'a>(parent: &'a RawDocument, e: Element<'a>) -> Option<RawBsonRef<'a>> {
    let v = e.value;
    Some(match e.kind {
        0x01 => RawBsonRef::Double(f64::from_le_bytes(read_8(v, 0)?)),
        0x02 => RawBsonRef::String(string(v)?),
        0x03 => RawBsonRef::Document(RawDocument::from_bytes(v).ok()?),
        0x05 => {
            let subtype = BinarySubtype::from(*v.get(4)?);
            let data = v.get(5..)?;
            let data = if subtype == BinarySubtype::BinaryOld { data.get(4..)? } else { data };
            RawBsonRef::Binary(RawBinaryRef { subtype, bytes: data })
        }
        0x06 => RawBsonRef::Undefined,
        0x07 => RawBsonRef::ObjectId(ObjectId::from_bytes(v.try_into().ok()?)),
        0x08 => match v.first()? {
            0 => RawBsonRef::Boolean(false),
            1 => RawBsonRef::Boolean(true),
            _ => return None,
        },
        0x09 => RawBsonRef::DateTime(bson::DateTime::from_millis(i64::from_le_bytes(read_8(v, 0)?))),
        0x0A => RawBsonRef::Null,
        0x0B => {
            let p = cstr_len(v, 0)?;
            let o = cstr_len(v, p + 1)?;
            RawBsonRef::RegularExpression(RawRegexRef {
                pattern: cstr(v.get(..p)?)?,
                options: cstr(v.get(p + 1..p + 1 + o)?)?,
            })
        }
        0x0D => RawBsonRef::JavaScriptCode(string(v)?),
        0x0E => RawBsonRef::Symbol(string(v)?),
        0x0F => {
            let code_len = len_at(v, 4)?;
            let code = string(v.get(4..)?)?;
            let scope = RawDocument::from_bytes(v.get(8 + code_len..)?).ok()?;
            RawBsonRef::JavaScriptCodeWithScope(RawJavaScriptCodeWithScopeRef { code, scope })
        }
        0x10 => RawBsonRef::Int32(read_i32(v, 0)?),
        0x11 => {
            let b = read_8(v, 0)?;
            let increment = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let time = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            RawBsonRef::Timestamp(bson::Timestamp { time, increment })
        }
        0x12 => RawBsonRef::Int64(i64::from_le_bytes(read_8(v, 0)?)),
        0x13 => RawBsonRef::Decimal128(bson::Decimal128::from_bytes(v.try_into().ok()?)),
        0x7F => RawBsonRef::MaxKey,
        0xFF => RawBsonRef::MinKey,
        // Arrays and DBPointers can only be borrowed through the bson crate's own reader.
        _ => parent.iter_elements().nth(e.index)?.ok()?.value().ok()?,
    })
}

/// An array reached while matching, kept as a view over its bytes (`{"0": ..., "1": ...}`).
/// Two arrays compare like these documents (their keys coincide position by position),
/// so the matcher never needs the bson crate's `&RawArray`, which only its slow reader can
/// produce.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArrayRef<'a> {
    pub(crate) doc: &'a RawDocument,
}

impl<'a> ArrayRef<'a> {
    pub(crate) fn from_raw(arr: &'a bson::RawArray) -> ArrayRef<'a> {
        ArrayRef { doc: array_document(arr) }
    }

    /// The elements, arrays among them kept lazy.
    #[inline]
    pub(crate) fn items(self) -> Items<'a> {
        Items { doc: self.doc, fast: Elements::new(self.doc) }
    }

    pub(crate) fn len(self) -> usize {
        Elements::new(self.doc).count()
    }
}

/// A value reached while matching.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    Value(RawBsonRef<'a>),
    Array(ArrayRef<'a>),
}

impl<'a> Item<'a> {
    #[inline]
    pub(crate) fn from_ref(value: RawBsonRef<'a>) -> Item<'a> {
        match value {
            RawBsonRef::Array(a) => Item::Array(ArrayRef::from_raw(a)),
            v => Item::Value(v),
        }
    }
}

#[inline]
fn decode_item<'a>(parent: &'a RawDocument, e: Element<'a>) -> Option<Item<'a>> {
    if e.kind == 0x04 {
        let doc = RawDocument::from_bytes(e.value).ok()?;
        return Some(Item::Array(ArrayRef { doc }));
    }
    decode(parent, e).map(Item::Value)
}

/// A field of a document as an [`Item`], decoding only that field.
#[inline]
pub(crate) fn get_item<'a>(doc: &'a RawDocument, key: &str) -> Option<Item<'a>> {
    let key = key.as_bytes();
    let e = Elements::new(doc).find(|e| e.key == key)?;
    decode_item(doc, e)
}

/// Iterator of [`ArrayRef::items`].
pub(crate) struct Items<'a> {
    doc: &'a RawDocument,
    fast: Elements<'a>,
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    #[inline]
    fn next(&mut self) -> Option<Item<'a>> {
        let e = self.fast.next()?;
        decode_item(self.doc, e)
    }
}

/// A field of a document, decoding only that field.
#[inline]
pub(crate) fn get<'a>(doc: &'a RawDocument, key: &str) -> Option<RawBsonRef<'a>> {
    let key = key.as_bytes();
    let e = Elements::new(doc).find(|e| e.key == key)?;
    decode(doc, e)
}

/// The array elements as values, in order (stops at malformed bytes).
#[inline]
pub(crate) fn values(arr: &bson::RawArray) -> Values<'_> {
    let doc = array_document(arr);
    Values { doc, fast: Elements::new(doc), slow: None }
}

/// Iterator of [`values`]. Elements the fast reader cannot borrow (nested arrays) are
/// taken from a lazily created bson-crate iterator kept in step, so a whole pass stays
/// linear.
pub(crate) struct Values<'a> {
    doc: &'a RawDocument,
    fast: Elements<'a>,
    slow: Option<(bson::raw::RawIter<'a>, usize)>,
}

impl<'a> Iterator for Values<'a> {
    type Item = RawBsonRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<RawBsonRef<'a>> {
        let e = self.fast.next()?;
        if e.kind != 0x04 && e.kind != 0x0C {
            return decode(self.doc, e);
        }
        let (iter, next_index) = self.slow.get_or_insert_with(|| (self.doc.iter_elements(), 0));
        let skip = e.index.checked_sub(*next_index)?;
        let element = iter.nth(skip)?.ok()?;
        *next_index = e.index + 1;
        element.value().ok()
    }
}

/// The array's bytes viewed as the document they are (`{"0": ..., "1": ...}`).
#[inline]
pub(crate) fn array_document(arr: &bson::RawArray) -> &RawDocument {
    // An array's bytes always frame a document; fall back to an empty document otherwise.
    RawDocument::from_bytes(arr.as_bytes()).unwrap_or_else(|_| empty_document())
}

fn empty_document() -> &'static RawDocument {
    static EMPTY: std::sync::OnceLock<bson::RawDocumentBuf> = std::sync::OnceLock::new();
    EMPTY.get_or_init(bson::RawDocumentBuf::new)
}
