//! The one reader of raw BSON bytes: iterating a document's elements and viewing values
//! over borrowed bytes, without allocating or re-validating UTF-8 (comparisons are
//! byte-wise) and without the `bson` crate's iterator, which re-validates every key and
//! costs several times more per element.
//!
//! * [`RawElements`] walks a document (or an array: its bytes are a document with keys
//!   `"0"`, `"1"`, ...) element by element, skipping values by their length prefixes;
//!   comparison, hashing, paths and validation view each value as a `Val` (every value
//!   type, DBPointer included, whose fields `bson` keeps private), the matcher decodes
//!   only the values it reaches ([`get`], [`get_item`], [`values`]).
//! * Malformed input never panics: it ends the iteration. Where the caller must see it
//!   (ordering puts undecodable values after MaxKey), the offending element is reported
//!   once as `Val::Invalid` with an empty key.

use crate::number::Number;
use bson::raw::cstr;
use bson::{RawBsonRef, RawDocument, RawDocumentBuf};

/// One BSON value viewed over borrowed bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Number(Number),
    /// UTF-8 string bytes (without the terminating NUL).
    String(&'a [u8]),
    Symbol(&'a [u8]),
    /// Whole embedded document bytes (length prefix through terminating NUL).
    Document(&'a [u8]),
    Array(&'a [u8]),
    /// `len` is the declared BSON length (for subtype 2 it includes the inner length
    /// prefix, which `data` excludes, as `bson` does).
    Binary {
        len: u32,
        subtype: u8,
        data: &'a [u8],
    },
    Undefined,
    ObjectId([u8; 12]),
    Boolean(bool),
    DateTime(i64),
    Null,
    Regex {
        pattern: &'a [u8],
        options: &'a [u8],
    },
    DbPointer {
        namespace: &'a [u8],
        oid: [u8; 12],
    },
    Code(&'a [u8]),
    CodeWithScope {
        code: &'a [u8],
        scope: &'a [u8],
    },
    /// `(t << 32) | i`, compared unsigned.
    Timestamp(u64),
    MinKey,
    MaxKey,
    /// Undecodable bytes: sorts after MaxKey, equal to any other invalid value.
    Invalid,
}

/// Canonical rank of an undecodable element (MaxKey + 1).
pub(crate) const INVALID_RANK: i32 = 128;

impl<'a> Val<'a> {
    /// MongoDB's canonical type rank (see [`crate::compare::canonical_type_rank`]).
    #[inline]
    pub(crate) fn rank(&self) -> i32 {
        match self {
            Val::MinKey => -1,
            Val::Undefined => 0,
            Val::Null => 5,
            Val::Number(_) => 10,
            Val::String(_) | Val::Symbol(_) => 15,
            Val::Document(_) => 20,
            Val::Array(_) => 25,
            Val::Binary { .. } => 30,
            Val::ObjectId(_) => 35,
            Val::Boolean(_) => 40,
            Val::DateTime(_) => 45,
            Val::Timestamp(_) => 47,
            Val::Regex { .. } => 50,
            Val::DbPointer { .. } => 55,
            Val::Code(_) => 60,
            Val::CodeWithScope { .. } => 65,
            Val::MaxKey => 127,
            Val::Invalid => INVALID_RANK,
        }
    }

    /// Converts a `RawBsonRef`. DBPointer cannot be converted without copying (its fields
    /// are private in `bson`): it yields `Invalid` here; use [`with_val`] instead.
    #[inline]
    pub(crate) fn from_ref(v: RawBsonRef<'a>) -> Val<'a> {
        match v {
            RawBsonRef::Double(d) => Val::Number(Number::Double(d)),
            RawBsonRef::Int32(i) => Val::Number(Number::Int32(i)),
            RawBsonRef::Int64(i) => Val::Number(Number::Int64(i)),
            RawBsonRef::Decimal128(d) => Val::Number(Number::Decimal(d)),
            RawBsonRef::String(s) => Val::String(s.as_bytes()),
            RawBsonRef::Symbol(s) => Val::Symbol(s.as_bytes()),
            RawBsonRef::Document(d) => Val::Document(d.as_bytes()),
            RawBsonRef::Array(a) => Val::Array(a.as_bytes()),
            RawBsonRef::Binary(b) => {
                let subtype = u8::from(b.subtype);
                let extra = if subtype == 2 { 4 } else { 0 };
                Val::Binary { len: u32::try_from(b.bytes.len() + extra).unwrap_or(u32::MAX), subtype, data: b.bytes }
            }
            RawBsonRef::Undefined => Val::Undefined,
            RawBsonRef::ObjectId(o) => Val::ObjectId(o.bytes()),
            RawBsonRef::Boolean(b) => Val::Boolean(b),
            RawBsonRef::DateTime(d) => Val::DateTime(d.timestamp_millis()),
            RawBsonRef::Null => Val::Null,
            RawBsonRef::RegularExpression(r) => {
                Val::Regex { pattern: r.pattern.as_str().as_bytes(), options: r.options.as_str().as_bytes() }
            }
            RawBsonRef::JavaScriptCode(c) => Val::Code(c.as_bytes()),
            RawBsonRef::JavaScriptCodeWithScope(c) => {
                Val::CodeWithScope { code: c.code.as_bytes(), scope: c.scope.as_bytes() }
            }
            RawBsonRef::Timestamp(t) => Val::Timestamp((u64::from(t.time) << 32) | u64::from(t.increment)),
            RawBsonRef::MinKey => Val::MinKey,
            RawBsonRef::MaxKey => Val::MaxKey,
            RawBsonRef::DbPointer(_) => Val::Invalid,
        }
    }
}

impl<'a> Val<'a> {
    /// Back to a `RawBsonRef` borrowing the same bytes. `None` for arrays and DBPointers
    /// (`bson` offers no public constructor for those from bytes: get them through
    /// `bson`'s own iterators), for invalid values and for strings that are not UTF-8.
    #[inline]
    pub(crate) fn to_raw_ref(self) -> Option<RawBsonRef<'a>> {
        let text = |b: &'a [u8]| std::str::from_utf8(b).ok();
        let cstr = |b: &'a [u8]| -> Option<&'a bson::raw::CStr> { text(b)?.try_into().ok() };
        Some(match self {
            Val::Number(n) => n.to_raw(),
            Val::String(s) => RawBsonRef::String(text(s)?),
            Val::Symbol(s) => RawBsonRef::Symbol(text(s)?),
            Val::Document(d) => RawBsonRef::Document(bson::RawDocument::from_bytes(d).ok()?),
            Val::Binary { subtype, data, .. } => RawBsonRef::Binary(bson::RawBinaryRef {
                subtype: bson::spec::BinarySubtype::from(subtype),
                bytes: data,
            }),
            Val::Undefined => RawBsonRef::Undefined,
            Val::ObjectId(o) => RawBsonRef::ObjectId(bson::oid::ObjectId::from_bytes(o)),
            Val::Boolean(b) => RawBsonRef::Boolean(b),
            Val::DateTime(ms) => RawBsonRef::DateTime(bson::DateTime::from_millis(ms)),
            Val::Null => RawBsonRef::Null,
            Val::Regex { pattern, options } => {
                RawBsonRef::RegularExpression(bson::RawRegexRef { pattern: cstr(pattern)?, options: cstr(options)? })
            }
            Val::Code(c) => RawBsonRef::JavaScriptCode(text(c)?),
            Val::CodeWithScope { code, scope } => {
                RawBsonRef::JavaScriptCodeWithScope(bson::RawJavaScriptCodeWithScopeRef {
                    code: text(code)?,
                    scope: bson::RawDocument::from_bytes(scope).ok()?,
                })
            }
            Val::Timestamp(t) => RawBsonRef::Timestamp(bson::Timestamp { time: (t >> 32) as u32, increment: t as u32 }),
            Val::MinKey => RawBsonRef::MinKey,
            Val::MaxKey => RawBsonRef::MaxKey,
            Val::Array(_) | Val::DbPointer { .. } | Val::Invalid => return None,
        })
    }
}

/// Runs `f` on the [`Val`] view of `v`. A DBPointer is first serialized into a small
/// temporary document (the only allocating case) so its namespace and id can be read.
#[inline]
pub(crate) fn with_val<R>(v: RawBsonRef<'_>, f: impl FnOnce(Val<'_>) -> R) -> R {
    match v {
        RawBsonRef::DbPointer(_) => {
            let mut buf = RawDocumentBuf::new();
            buf.append(cstr!("v"), v);
            let val = Elements::new(buf.as_bytes()).next().map_or(Val::Invalid, |(_, val)| val);
            f(val)
        }
        other => f(Val::from_ref(other)),
    }
}

/// One element of a document: its type byte, key and value bytes (exactly the value).
#[derive(Debug, Clone, Copy)]
pub struct RawElement<'a> {
    pub kind: u8,
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// Position of the element in its document (0 for the first).
    pub index: usize,
}

/// Iterates the elements of a document's bytes (4-byte length, elements, NUL) without
/// decoding them; ends at the terminating NUL or at the first malformed element.
#[derive(Debug, Clone)]
pub struct RawElements<'a> {
    buf: &'a [u8],
    pos: usize,
    index: usize,
}

impl<'a> RawElements<'a> {
    /// `doc` is the whole document (4-byte length, elements, NUL).
    #[inline]
    pub fn new(doc: &'a [u8]) -> Self {
        RawElements { buf: doc, pos: 4, index: 0 }
    }

    /// The elements of a document.
    #[inline]
    pub fn of(doc: &'a RawDocument) -> Self {
        RawElements::new(doc.as_bytes())
    }

    /// The type byte and key of the next element and where its value starts: `None` at
    /// the end, `Some(None)` when the key is malformed.
    #[inline]
    fn next_key(&mut self) -> Option<Option<Key<'a>>> {
        let kind = *self.buf.get(self.pos)?;
        if kind == 0 {
            self.pos = usize::MAX;
            return None;
        }
        Some(self.buf.get(self.pos + 1..).and_then(|rest| {
            let nul = find_nul(rest)?;
            Some(Key { kind, key: rest.get(..nul)?, value_start: self.pos + 1 + nul + 1 })
        }))
    }

    /// The next element with its value viewed (and checked) as a [`Val`]. A malformed
    /// element is reported once as `(&[], Val::Invalid)` and ends the iteration.
    #[inline]
    pub(crate) fn next_val(&mut self) -> Option<(&'a [u8], Val<'a>)> {
        let parsed = self.next_key()?.and_then(|k| {
            let (val, size) = parse_value(k.kind, self.buf.get(k.value_start..)?)?;
            Some((k.key, val, k.value_start + size))
        });
        match parsed {
            Some((key, val, end)) => {
                self.pos = end;
                self.index += 1;
                Some((key, val))
            }
            None => {
                self.pos = usize::MAX;
                Some((&[], Val::Invalid))
            }
        }
    }
}

/// What [`RawElements`] reads before a value.
#[derive(Clone, Copy)]
struct Key<'a> {
    kind: u8,
    key: &'a [u8],
    value_start: usize,
}

impl<'a> Iterator for RawElements<'a> {
    type Item = RawElement<'a>;

    #[inline]
    fn next(&mut self) -> Option<RawElement<'a>> {
        let bytes = self.buf;
        let kind = *bytes.get(self.pos)?;
        if kind == 0 {
            self.pos = usize::MAX;
            return None;
        }
        // Keys are short: a byte loop beats the word-at-a-time search here.
        let key_start = self.pos + 1;
        let element = bytes.get(key_start..).and_then(|rest| {
            let key_len = rest.iter().position(|&b| b == 0)?;
            let value_start = key_start + key_len + 1;
            let value_end = value_start.checked_add(value_size(kind, bytes, value_start)?)?;
            Some((rest.get(..key_len)?, bytes.get(value_start..value_end)?, value_end))
        });
        let Some((key, value, end)) = element else {
            self.pos = usize::MAX;
            return None;
        };
        self.pos = end;
        let index = self.index;
        self.index += 1;
        Some(RawElement { kind, key, value, index })
    }
}

/// Iterator over the elements of a document's bytes, yielding `(key, value)`, a
/// malformed element once as `(&[], Val::Invalid)` (see [`RawElements::next_val`]).
pub(crate) struct Elements<'a> {
    inner: RawElements<'a>,
}

impl<'a> Elements<'a> {
    /// `doc` is the whole document (4-byte length, elements, NUL).
    #[inline]
    pub(crate) fn new(doc: &'a [u8]) -> Self {
        Elements { inner: RawElements::new(doc) }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = (&'a [u8], Val<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next_val()
    }
}

/// Size of a value of type `kind` starting at `bytes[at]`, read from its length prefix
/// (or, for a regex, its two C strings) without looking inside.
#[inline]
fn value_size(kind: u8, bytes: &[u8], at: usize) -> Option<usize> {
    let len = |at: usize| -> Option<usize> { usize::try_from(i32::from_le_bytes(arr(bytes.get(at..)?)?)).ok() };
    Some(match kind {
        0x01 | 0x09 | 0x11 | 0x12 => 8,
        0x10 => 4,
        0x13 => 16,
        0x07 => 12,
        0x08 => 1,
        0x06 | 0x0A | 0x7F | 0xFF => 0,
        0x02 | 0x0D | 0x0E => len(at)?.checked_add(4)?,
        0x03 | 0x04 | 0x0F => len(at)?,
        0x05 => len(at)?.checked_add(5)?,
        0x0C => len(at)?.checked_add(16)?,
        0x0B => {
            let rest = bytes.get(at..)?;
            let pattern = rest.iter().position(|&b| b == 0)?;
            let options = rest.get(pattern + 1..)?.iter().position(|&b| b == 0)?;
            pattern + options + 2
        }
        _ => return None,
    })
}

#[inline]
fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.get(..N)?.try_into().ok()
}

#[inline]
fn read_len(b: &[u8]) -> Option<usize> {
    usize::try_from(i32::from_le_bytes(arr::<4>(b)?)).ok()
}

/// A BSON string (int32 length incl. NUL, bytes, NUL) → (bytes, total size).
#[inline]
fn string(b: &[u8]) -> Option<(&[u8], usize)> {
    let len = read_len(b)?;
    let body = b.get(4..4usize.checked_add(len)?)?;
    let (&last, s) = body.split_last()?;
    if last != 0 {
        return None;
    }
    Some((s, 4 + len))
}

/// An embedded document → its bytes.
#[inline]
fn document(b: &[u8]) -> Option<&[u8]> {
    let len = read_len(b)?;
    if len < 5 {
        return None;
    }
    let d = b.get(..len)?;
    if d.last() != Some(&0) {
        return None;
    }
    Some(d)
}

#[inline]
fn cstring(b: &[u8]) -> Option<&[u8]> {
    b.get(..find_nul(b)?)
}

/// Index of the first NUL byte, eight bytes at a time (keys are usually short).
#[inline]
pub(crate) fn find_nul(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes(arr(c)?);
        // Exact for the lowest zero byte (borrows only propagate upwards).
        let z = w.wrapping_sub(LO) & !w & HI;
        if z != 0 {
            return Some(base + (z.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks.remainder().iter().position(|&x| x == 0).map(|p| base + p)
}

/// Parses the value of type `tag` at the start of `b` → (value, byte size).
#[inline]
fn parse_value(tag: u8, b: &[u8]) -> Option<(Val<'_>, usize)> {
    Some(match tag {
        0x01 => (Val::Number(Number::Double(f64::from_le_bytes(arr(b)?))), 8),
        0x02 => {
            let (s, n) = string(b)?;
            (Val::String(s), n)
        }
        0x03 => {
            let d = document(b)?;
            (Val::Document(d), d.len())
        }
        0x04 => {
            let d = document(b)?;
            (Val::Array(d), d.len())
        }
        0x05 => {
            let len = read_len(b)?;
            let subtype = *b.get(4)?;
            let mut data = b.get(5..5usize.checked_add(len)?)?;
            if subtype == 2 {
                // Old binary: an inner int32 length that must equal len - 4.
                let inner = read_len(data)?;
                if inner.checked_add(4)? != len {
                    return None;
                }
                data = data.get(4..)?;
            }
            let len32 = u32::try_from(len).ok()?;
            (Val::Binary { len: len32, subtype, data }, 5 + len)
        }
        0x06 => (Val::Undefined, 0),
        0x07 => (Val::ObjectId(arr(b)?), 12),
        0x08 => match *b.first()? {
            0 => (Val::Boolean(false), 1),
            1 => (Val::Boolean(true), 1),
            _ => return None,
        },
        0x09 => (Val::DateTime(i64::from_le_bytes(arr(b)?)), 8),
        0x0A => (Val::Null, 0),
        0x0B => {
            let pattern = cstring(b)?;
            let options = cstring(b.get(pattern.len() + 1..)?)?;
            (Val::Regex { pattern, options }, pattern.len() + options.len() + 2)
        }
        0x0C => {
            let (namespace, n) = string(b)?;
            let oid = arr(b.get(n..)?)?;
            (Val::DbPointer { namespace, oid }, n + 12)
        }
        0x0D => {
            let (s, n) = string(b)?;
            (Val::Code(s), n)
        }
        0x0E => {
            let (s, n) = string(b)?;
            (Val::Symbol(s), n)
        }
        0x0F => {
            let total = read_len(b)?;
            let whole = b.get(..total)?;
            let (code, n) = string(whole.get(4..)?)?;
            let scope = document(whole.get(4 + n..)?)?;
            if 4 + n + scope.len() != total {
                return None;
            }
            (Val::CodeWithScope { code, scope }, total)
        }
        0x10 => (Val::Number(Number::Int32(i32::from_le_bytes(arr(b)?))), 4),
        0x11 => (Val::Timestamp(u64::from_le_bytes(arr(b)?)), 8),
        0x12 => (Val::Number(Number::Int64(i64::from_le_bytes(arr(b)?))), 8),
        0x13 => (Val::Number(Number::Decimal(bson::Decimal128::from_bytes(arr(b)?))), 16),
        0x7F => (Val::MaxKey, 0),
        0xFF => (Val::MinKey, 0),
        _ => return None,
    })
}

/// Iterator over `(key, start, end)` byte spans of a document's elements, where
/// `doc[start..end]` is the whole element (type byte, key, value). Stops at the first
/// malformed element.
pub struct ElementSpans<'a> {
    inner: RawElements<'a>,
}

impl<'a> ElementSpans<'a> {
    pub(crate) fn new(doc: &'a [u8]) -> Self {
        ElementSpans { inner: RawElements::new(doc) }
    }
}

impl<'a> Iterator for ElementSpans<'a> {
    type Item = (&'a [u8], usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.inner.pos;
        let (key, val) = self.inner.next_val()?;
        if matches!(val, Val::Invalid) {
            return None;
        }
        Some((key, start, self.inner.pos))
    }
}

/// Decodes an element read from `parent` (`None` at malformed bytes). Arrays and
/// DBPointers, which `bson` lends only through its own reader, are taken from that.
///
/// This and the field lookups below are the matcher's innermost steps, called from
/// another crate: always inlined (measured: about 15% of a filter's time otherwise).
#[inline(always)]
pub fn decode<'a>(parent: &'a RawDocument, e: RawElement<'a>) -> Option<RawBsonRef<'a>> {
    let v = e.value;
    let text = |b: &'a [u8]| std::str::from_utf8(b).ok();
    Some(match e.kind {
        0x01 => RawBsonRef::Double(f64::from_le_bytes(arr(v)?)),
        0x02 => RawBsonRef::String(text(string(v)?.0)?),
        0x03 => RawBsonRef::Document(RawDocument::from_bytes(v).ok()?),
        0x08 => match v.first()? {
            0 => RawBsonRef::Boolean(false),
            1 => RawBsonRef::Boolean(true),
            _ => return None,
        },
        0x09 => RawBsonRef::DateTime(bson::DateTime::from_millis(i64::from_le_bytes(arr(v)?))),
        0x0A => RawBsonRef::Null,
        0x10 => RawBsonRef::Int32(i32::from_le_bytes(arr(v)?)),
        0x12 => RawBsonRef::Int64(i64::from_le_bytes(arr(v)?)),
        // Arrays and DBPointers: only `bson`'s own reader lends them.
        0x04 | 0x0C => parent.iter_elements().nth(e.index)?.ok()?.value().ok()?,
        kind => parse_value(kind, v)?.0.to_raw_ref()?,
    })
}

/// A field of a document, decoding only that field.
#[inline(always)]
pub fn get<'a>(doc: &'a RawDocument, key: &str) -> Option<RawBsonRef<'a>> {
    let key = key.as_bytes();
    let e = RawElements::of(doc).find(|e| e.key == key)?;
    decode(doc, e)
}

/// A field of a document as an [`Item`], decoding only that field.
#[inline(always)]
pub fn get_item<'a>(doc: &'a RawDocument, key: &str) -> Option<Item<'a>> {
    let key = key.as_bytes();
    let e = RawElements::of(doc).find(|e| e.key == key)?;
    decode_item(doc, e)
}

/// An array kept as a view over its bytes (`{"0": ..., "1": ...}`). Two arrays compare
/// like these documents (their keys coincide position by position), so readers never need
/// the bson crate's `&RawArray`, which only its slow reader can produce.
#[derive(Debug, Clone, Copy)]
pub struct ArrayRef<'a> {
    pub doc: &'a RawDocument,
}

impl<'a> ArrayRef<'a> {
    pub fn from_raw(arr: &'a bson::RawArray) -> ArrayRef<'a> {
        ArrayRef { doc: array_document(arr) }
    }

    /// The elements, arrays among them kept as views.
    #[inline]
    pub fn items(self) -> Items<'a> {
        Items { doc: self.doc, elements: RawElements::of(self.doc) }
    }

    pub fn len(self) -> usize {
        RawElements::of(self.doc).count()
    }

    pub fn is_empty(self) -> bool {
        RawElements::of(self.doc).next().is_none()
    }
}

/// A value read from a document, an array kept as a view.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    Value(RawBsonRef<'a>),
    Array(ArrayRef<'a>),
}

impl<'a> Item<'a> {
    #[inline]
    pub fn from_ref(value: RawBsonRef<'a>) -> Item<'a> {
        match value {
            RawBsonRef::Array(a) => Item::Array(ArrayRef::from_raw(a)),
            v => Item::Value(v),
        }
    }
}

#[inline(always)]
fn decode_item<'a>(parent: &'a RawDocument, e: RawElement<'a>) -> Option<Item<'a>> {
    if e.kind == 0x04 {
        let doc = RawDocument::from_bytes(e.value).ok()?;
        return Some(Item::Array(ArrayRef { doc }));
    }
    decode(parent, e).map(Item::Value)
}

/// Iterator of [`ArrayRef::items`].
pub struct Items<'a> {
    doc: &'a RawDocument,
    elements: RawElements<'a>,
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    #[inline]
    fn next(&mut self) -> Option<Item<'a>> {
        let e = self.elements.next()?;
        decode_item(self.doc, e)
    }
}

/// The array elements as values, in order (stops at malformed bytes).
#[inline]
pub fn values(arr: &bson::RawArray) -> Values<'_> {
    let doc = array_document(arr);
    Values { doc, elements: RawElements::of(doc), slow: None }
}

/// Iterator of [`values`]. Elements the fast reader cannot lend (nested arrays,
/// DBPointers) are taken from a lazily created bson-crate iterator kept in step, so a whole
/// pass stays linear.
pub struct Values<'a> {
    doc: &'a RawDocument,
    elements: RawElements<'a>,
    slow: Option<(bson::raw::RawIter<'a>, usize)>,
}

impl<'a> Iterator for Values<'a> {
    type Item = RawBsonRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<RawBsonRef<'a>> {
        let e = self.elements.next()?;
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
pub fn array_document(arr: &bson::RawArray) -> &RawDocument {
    // An array's bytes always frame a document; fall back to an empty document otherwise.
    RawDocument::from_bytes(arr.as_bytes()).unwrap_or_else(|_| empty_document())
}

fn empty_document() -> &'static RawDocument {
    static EMPTY: std::sync::OnceLock<RawDocumentBuf> = std::sync::OnceLock::new();
    EMPTY.get_or_init(RawDocumentBuf::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{rawdoc, RawBson};

    #[test]
    fn elements_are_read_with_exact_value_bytes_and_decode_as_bson_reads_them() {
        let code = bson::RawJavaScriptCodeWithScope { code: "f".into(), scope: rawdoc! { "x": 1 } };
        let doc = rawdoc! {
            "d": 1.5, "s": "é", "o": { "a": 1 }, "a": [1, [2]], "b": bson::Binary { subtype: bson::spec::BinarySubtype::BinaryOld, bytes: vec![7] },
            "u": RawBson::Undefined, "i": bson::oid::ObjectId::from_bytes([3; 12]), "t": true, "dt": bson::DateTime::from_millis(-1),
            "n": RawBson::Null, "re": bson::Regex { pattern: "p".to_string().try_into().unwrap(), options: "i".to_string().try_into().unwrap() },
            "js": RawBson::JavaScriptCode("c".into()), "sy": RawBson::Symbol("y".into()), "cws": RawBson::JavaScriptCodeWithScope(code),
            "i32": 5, "ts": bson::Timestamp { time: 1, increment: 2 }, "i64": 6i64, "dec": bson::Decimal128::from_bytes([1; 16]),
            "max": RawBson::MaxKey, "min": RawBson::MinKey,
        };
        let elements: Vec<RawElement<'_>> = RawElements::of(&doc).collect();
        let expected: Vec<(String, RawBsonRef<'_>)> =
            doc.iter().map(|e| e.map(|(k, v)| (k.as_str().to_string(), v)).unwrap()).collect();
        assert_eq!(elements.len(), expected.len());
        for (e, (key, value)) in elements.iter().zip(&expected) {
            assert_eq!(e.key, key.as_bytes());
            assert_eq!(decode(&doc, *e), Some(*value), "{key}");
            assert_eq!(get(&doc, key), Some(*value), "{key}");
        }
        // The sizing reader and the viewing reader step over the same bytes.
        let mut viewing = RawElements::of(&doc);
        for e in RawElements::of(&doc) {
            let (key, val) = viewing.next_val().expect("same length");
            assert_eq!(key, e.key);
            assert!(!matches!(val, Val::Invalid));
        }
        assert!(viewing.next_val().is_none());
    }

    #[test]
    fn a_malformed_element_ends_the_iteration() {
        // {a: 1, b: <string whose length runs past the end>}
        let bytes = b"\x17\0\0\0\x10a\0\x01\0\0\0\x02b\0\xff\0\0\0x\0\0";
        let sized: Vec<_> = RawElements::new(bytes).map(|e| e.key).collect();
        assert_eq!(sized, [b"a".as_slice()]);
        let viewed: Vec<_> = Elements::new(bytes).map(|(k, v)| (k, matches!(v, Val::Invalid))).collect();
        assert_eq!(viewed, [(b"a".as_slice(), false), (b"".as_slice(), true)]);
    }

    #[test]
    fn arrays_are_read_as_views() {
        let doc = rawdoc! { "a": [1, [2, 3], "x"] };
        let Some(Item::Array(arr)) = get_item(&doc, "a") else { panic!("array") };
        assert_eq!(arr.len(), 3);
        let items: Vec<_> = arr.items().map(|i| matches!(i, Item::Array(_))).collect();
        assert_eq!(items, [false, true, false]);
        let RawBsonRef::Array(raw) = doc.get("a").unwrap().unwrap() else { panic!("array") };
        assert_eq!(values(raw).count(), 3);
    }

    #[test]
    fn find_nul_matches_naive_search() {
        let mut buf = vec![0x80u8; 40];
        for len in 0..40 {
            for nul in 0..=len {
                let mut b = buf[..len].to_vec();
                if nul < len {
                    b[nul] = 0;
                }
                // Bytes 0x01 right after the NUL must not create a false earlier match.
                if nul + 1 < len {
                    b[nul + 1] = 1;
                }
                let naive = b.iter().position(|&x| x == 0);
                assert_eq!(find_nul(&b), naive, "len {len} nul {nul}");
            }
        }
        buf[3] = 0x01;
        buf[5] = 0;
        assert_eq!(find_nul(&buf), Some(5));
    }
}
