//! A minimal, allocation-free reader of BSON element bytes used by comparison and
//! hashing. Unlike `bson::RawIter` it does not validate UTF-8 (comparisons are byte-wise)
//! and it exposes the raw bytes of every value type, including DBPointer whose fields
//! `bson` keeps private. Malformed input never panics: the offending element is reported
//! once as [`Val::Invalid`] (with an empty key) and iteration stops.

use crate::number::Number;
use bson::raw::cstr;
use bson::{RawBsonRef, RawDocumentBuf};

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
    /// MongoDB's canonical type rank (see [`super::canonical_type_rank`]).
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

/// Iterator over the elements of a document's bytes, yielding `(key, value)`.
pub(crate) struct Elements<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Elements<'a> {
    /// `doc` is the whole document (4-byte length, elements, NUL).
    #[inline]
    pub(crate) fn new(doc: &'a [u8]) -> Self {
        Elements { buf: doc, pos: 4 }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = (&'a [u8], Val<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let tag = *self.buf.get(self.pos)?;
        if tag == 0 {
            self.pos = usize::MAX;
            return None;
        }
        let parsed = self
            .buf
            .get(self.pos + 1..)
            .and_then(|rest| {
                let nul = find_nul(rest)?;
                Some((rest.get(..nul)?, rest.get(nul + 1..)?, nul + 1))
            })
            .and_then(|(key, rest, key_len)| {
                let (val, size) = parse_value(tag, rest)?;
                Some((key, val, 1 + key_len + size))
            });
        match parsed {
            Some((key, val, advance)) => {
                self.pos += advance;
                Some((key, val))
            }
            None => {
                self.pos = usize::MAX;
                Some((&[], Val::Invalid))
            }
        }
    }
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
    inner: Elements<'a>,
}

impl<'a> ElementSpans<'a> {
    pub(crate) fn new(doc: &'a [u8]) -> Self {
        ElementSpans { inner: Elements::new(doc) }
    }
}

impl<'a> Iterator for ElementSpans<'a> {
    type Item = (&'a [u8], usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.inner.pos;
        let (key, val) = self.inner.next()?;
        if matches!(val, Val::Invalid) {
            return None;
        }
        Some((key, start, self.inner.pos))
    }
}

#[cfg(test)]
mod tests {
    use super::find_nul;

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
