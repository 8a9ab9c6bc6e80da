//! BSON to canonical / relaxed Extended JSON with libbson's spacing, written straight
//! into a `String` by an iterative walk over the raw bytes (an explicit stack of open
//! containers, so arbitrarily deep input cannot overflow the call stack).
//!
//! The printers expect validated input but never panic on anything else: an element that
//! cannot be decoded is printed as `"<invalid bson>"` (with a `null` value in a document)
//! and printing stops there, closing every open container so the text stays valid JSON.
use std::fmt::Write as _;

use base64::Engine as _;
use bson::{Decimal128, RawBsonRef, RawDocumentBuf};

use super::date;

/// Canonical or relaxed Extended JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Canonical,
    Relaxed,
}

const INVALID: &str = "\"<invalid bson>\"";

/// One decoded value; containers keep their raw bytes (length prefix and terminator
/// included) and are printed by the walker.
#[derive(Clone, Copy)]
enum Value<'a> {
    Double(f64),
    Str(&'a str),
    Doc(&'a [u8]),
    Arr(&'a [u8]),
    /// Subtype and the payload as printed (old binary's inner length already removed).
    Binary(u8, &'a [u8]),
    Undefined,
    Oid(&'a [u8]),
    Bool(bool),
    Date(i64),
    Null,
    Regex(&'a str, &'a str),
    DbPointer(&'a str, &'a [u8]),
    Code(&'a str),
    Symbol(&'a str),
    CodeWithScope(&'a str, &'a [u8]),
    Int32(i32),
    Timestamp(u32, u32),
    Int64(i64),
    Decimal([u8; 16]),
    MinKey,
    MaxKey,
}

struct Frame<'a> {
    bytes: &'a [u8],
    pos: usize,
    array: bool,
    first: bool,
    /// Closes a `{ "$code" : ..., "$scope" : ` wrapper after the scope document.
    close_wrapper: bool,
}

/// Appends the text of a whole document.
pub(super) fn write_document(bytes: &[u8], mode: Mode, out: &mut String) {
    write_root(Value::Doc(bytes), mode, out);
}

/// Appends the text of one value.
pub(super) fn write_raw_value(value: RawBsonRef<'_>, mode: Mode, out: &mut String) {
    let converted = match value {
        RawBsonRef::Double(d) => Value::Double(d),
        RawBsonRef::String(s) => Value::Str(s),
        RawBsonRef::Array(a) => Value::Arr(a.as_bytes()),
        RawBsonRef::Document(d) => Value::Doc(d.as_bytes()),
        RawBsonRef::Boolean(b) => Value::Bool(b),
        RawBsonRef::Null => Value::Null,
        RawBsonRef::RegularExpression(r) => Value::Regex(r.pattern.as_str(), r.options.as_str()),
        RawBsonRef::JavaScriptCode(c) => Value::Code(c),
        RawBsonRef::JavaScriptCodeWithScope(c) => Value::CodeWithScope(c.code, c.scope.as_bytes()),
        RawBsonRef::Int32(i) => Value::Int32(i),
        RawBsonRef::Int64(i) => Value::Int64(i),
        RawBsonRef::Timestamp(ts) => Value::Timestamp(ts.time, ts.increment),
        RawBsonRef::Binary(b) => Value::Binary(u8::from(b.subtype), b.bytes),
        RawBsonRef::ObjectId(oid) => {
            let bytes = oid.bytes();
            write_oid(&bytes, out);
            return;
        }
        RawBsonRef::DateTime(dt) => Value::Date(dt.timestamp_millis()),
        RawBsonRef::Symbol(s) => Value::Symbol(s),
        RawBsonRef::Decimal128(d) => Value::Decimal(d.bytes()),
        RawBsonRef::Undefined => Value::Undefined,
        RawBsonRef::MaxKey => Value::MaxKey,
        RawBsonRef::MinKey => Value::MinKey,
        RawBsonRef::DbPointer(_) => {
            // The namespace and id of a RawDbPointerRef are private: serialise the value
            // into a one-element document and decode that.
            let mut tmp = RawDocumentBuf::new();
            tmp.append(bson::raw::cstr!("v"), value);
            match next_element(tmp.as_bytes(), 4) {
                Some((_, decoded, _)) => write_root(decoded, mode, out),
                None => out.push_str(INVALID),
            }
            return;
        }
    };
    write_root(converted, mode, out);
}

fn write_root(value: Value<'_>, mode: Mode, out: &mut String) {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    if !emit(value, mode, out, &mut stack) {
        out.push_str(INVALID);
        return;
    }
    while let Some(frame) = stack.last_mut() {
        if frame.pos + 1 >= frame.bytes.len() {
            out.push_str(if frame.array { " ]" } else { " }" });
            if frame.close_wrapper {
                out.push_str(" }");
            }
            stack.pop();
            continue;
        }
        out.push_str(if frame.first { " " } else { ", " });
        frame.first = false;
        let array = frame.array;
        let decoded = next_element(frame.bytes, frame.pos);
        if let Some((key, _, next)) = decoded {
            frame.pos = next;
            if !array {
                write_json_string(key, out);
                out.push_str(" : ");
            }
        }
        let ok = match decoded {
            Some((_, value, _)) => emit(value, mode, out, &mut stack),
            None => false,
        };
        if !ok {
            if decoded.is_none() && !array {
                out.push_str(INVALID);
                out.push_str(" : null");
            } else {
                out.push_str(INVALID);
            }
            for open in stack.iter_mut() {
                open.pos = open.bytes.len();
            }
        }
    }
}

/// Writes a scalar, or opens a container and pushes its frame. `false` if the value is
/// malformed (nothing written).
fn emit<'a>(value: Value<'a>, mode: Mode, out: &mut String, stack: &mut Vec<Frame<'a>>) -> bool {
    let relaxed = mode == Mode::Relaxed;
    match value {
        Value::Doc(bytes) | Value::Arr(bytes) => {
            if bytes.len() < 5 {
                return false;
            }
            let array = matches!(value, Value::Arr(_));
            out.push(if array { '[' } else { '{' });
            stack.push(Frame { bytes, pos: 4, array, first: true, close_wrapper: false });
        }
        Value::CodeWithScope(code, scope) => {
            if scope.len() < 5 {
                return false;
            }
            out.push_str("{ \"$code\" : ");
            write_json_string(code, out);
            out.push_str(", \"$scope\" : {");
            stack.push(Frame { bytes: scope, pos: 4, array: false, first: true, close_wrapper: true });
        }
        Value::Double(d) => {
            if relaxed && d.is_finite() {
                write_double(d, out);
            } else {
                out.push_str("{ \"$numberDouble\" : \"");
                write_double(d, out);
                out.push_str("\" }");
            }
        }
        Value::Str(s) => write_json_string(s, out),
        Value::Binary(subtype, payload) => {
            out.push_str("{ \"$binary\" : { \"base64\" : \"");
            base64::engine::general_purpose::STANDARD.encode_string(payload, out);
            let _ = write!(out, "\", \"subType\" : \"{subtype:02x}\" }} }}");
        }
        Value::Undefined => out.push_str("{ \"$undefined\" : true }"),
        Value::Oid(bytes) => write_oid(bytes, out),
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Date(millis) => {
            if relaxed && (0..=date::MAX_RELAXED_MILLIS).contains(&millis) {
                out.push_str("{ \"$date\" : \"");
                date::write_iso8601(millis, out);
                out.push_str("\" }");
            } else {
                let _ = write!(out, "{{ \"$date\" : {{ \"$numberLong\" : \"{millis}\" }} }}");
            }
        }
        Value::Null => out.push_str("null"),
        Value::Regex(pattern, options) => {
            out.push_str("{ \"$regularExpression\" : { \"pattern\" : ");
            write_json_string(pattern, out);
            out.push_str(", \"options\" : ");
            write_json_string(options, out);
            out.push_str(" } }");
        }
        Value::DbPointer(namespace, oid) => {
            out.push_str("{ \"$dbPointer\" : { \"$ref\" : ");
            write_json_string(namespace, out);
            out.push_str(", \"$id\" : ");
            write_oid(oid, out);
            out.push_str(" } }");
        }
        Value::Code(code) => {
            out.push_str("{ \"$code\" : ");
            write_json_string(code, out);
            out.push_str(" }");
        }
        Value::Symbol(symbol) => {
            out.push_str("{ \"$symbol\" : ");
            write_json_string(symbol, out);
            out.push_str(" }");
        }
        Value::Int32(i) => {
            if relaxed {
                let _ = write!(out, "{i}");
            } else {
                let _ = write!(out, "{{ \"$numberInt\" : \"{i}\" }}");
            }
        }
        Value::Int64(i) => {
            if relaxed {
                let _ = write!(out, "{i}");
            } else {
                let _ = write!(out, "{{ \"$numberLong\" : \"{i}\" }}");
            }
        }
        Value::Timestamp(t, i) => {
            let _ = write!(out, "{{ \"$timestamp\" : {{ \"t\" : {t}, \"i\" : {i} }} }}");
        }
        Value::Decimal(bytes) => {
            let _ = write!(out, "{{ \"$numberDecimal\" : \"{}\" }}", Decimal128::from_bytes(bytes));
        }
        Value::MinKey => out.push_str("{ \"$minKey\" : 1 }"),
        Value::MaxKey => out.push_str("{ \"$maxKey\" : 1 }"),
    }
    true
}

fn write_oid(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("{ \"$oid\" : \"");
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
    out.push_str("\" }");
}

/// A JSON string: `"` and `\` escaped, control characters as `\b \f \n \r \t` or
/// `\u00XX`, everything else (non-ASCII included) as raw UTF-8.
pub(super) fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0C => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1F => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or(""));
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or(""));
    out.push('"');
}

/// A fixed-capacity formatting buffer, so number formatting needs no allocation.
struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The `$numberDouble` text of a double: `NaN`, `Infinity`, `-Infinity`, or the shortest
/// digits that round-trip: integral values below 1e15 as `1.0` / `-0.0` / `100.0`, other
/// values with 1e-5 <= |x| < 1e15 in plain decimal (`0.1`), everything else in scientific
/// notation with at least one fractional digit (`1.0E+300`, `5.0E-324`, `1.5E-7`).
pub(super) fn write_double(d: f64, out: &mut String) {
    if d.is_nan() {
        out.push_str("NaN");
        return;
    }
    if d.is_infinite() {
        out.push_str(if d > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let magnitude = d.abs();
    let mut buf = StackBuf { buf: [0; 64], len: 0 };
    if magnitude == 0.0 || (1e-5..1e15).contains(&magnitude) {
        let _ = write!(buf, "{d}");
        let text = buf.as_str();
        out.push_str(text);
        if !text.contains('.') {
            out.push_str(".0");
        }
        return;
    }
    let _ = write!(buf, "{d:e}");
    let text = buf.as_str();
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    out.push_str(mantissa);
    if !mantissa.contains('.') {
        out.push_str(".0");
    }
    out.push('E');
    if !exponent.starts_with('-') {
        out.push('+');
    }
    out.push_str(exponent);
}

#[inline]
fn le_i32(bytes: &[u8], at: usize) -> Option<i32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[inline]
fn le_8(bytes: &[u8], at: usize) -> Option<[u8; 8]> {
    bytes.get(at..at.checked_add(8)?)?.try_into().ok()
}

/// A NUL-terminated UTF-8 string at `at` ending before `limit`; returns it and the offset
/// after the NUL.
fn cstr(bytes: &[u8], at: usize, limit: usize) -> Option<(&str, usize)> {
    let region = bytes.get(at..limit)?;
    let nul = region.iter().position(|b| *b == 0)?;
    let text = std::str::from_utf8(region.get(..nul)?).ok()?;
    Some((text, at + nul + 1))
}

/// A length-prefixed BSON string at `at` ending at or before `limit`.
fn lstr(bytes: &[u8], at: usize, limit: usize) -> Option<(&str, usize)> {
    let len = usize::try_from(le_i32(bytes, at)?).ok()?;
    let start = at + 4;
    let end = start.checked_add(len).filter(|e| *e <= limit && len >= 1)?;
    let text = std::str::from_utf8(bytes.get(start..end - 1)?).ok()?;
    Some((text, end))
}

/// Decodes the element at `pos` of the document `bytes`: (key, value, offset after it).
fn next_element(bytes: &[u8], pos: usize) -> Option<(&str, Value<'_>, usize)> {
    let limit = bytes.len().checked_sub(1)?;
    let element_type = *bytes.get(pos)?;
    let (key, v) = cstr(bytes, pos + 1, limit)?;
    let fixed = |size: usize| -> Option<(&[u8], usize)> {
        let end = v.checked_add(size).filter(|e| *e <= limit)?;
        Some((bytes.get(v..end)?, end))
    };
    let (value, next) = match element_type {
        0x01 => {
            let (_, next) = fixed(8)?;
            (Value::Double(f64::from_le_bytes(le_8(bytes, v)?)), next)
        }
        0x02 => {
            let (s, next) = lstr(bytes, v, limit)?;
            (Value::Str(s), next)
        }
        0x0D => {
            let (s, next) = lstr(bytes, v, limit)?;
            (Value::Code(s), next)
        }
        0x0E => {
            let (s, next) = lstr(bytes, v, limit)?;
            (Value::Symbol(s), next)
        }
        0x03 | 0x04 => {
            let len = usize::try_from(le_i32(bytes, v)?).ok()?;
            let (doc, next) = fixed(len)?;
            if element_type == 0x03 {
                (Value::Doc(doc), next)
            } else {
                (Value::Arr(doc), next)
            }
        }
        0x05 => {
            let len = usize::try_from(le_i32(bytes, v)?).ok()?;
            let (all, next) = fixed(5 + len)?;
            let subtype = *all.get(4)?;
            let mut payload = all.get(5..)?;
            if subtype == 2 {
                if let Some(inner) = le_i32(payload, 0) {
                    if usize::try_from(inner).ok() == Some(len.wrapping_sub(4)) {
                        payload = payload.get(4..)?;
                    }
                }
            }
            (Value::Binary(subtype, payload), next)
        }
        0x06 => (Value::Undefined, v),
        0x07 => {
            let (oid, next) = fixed(12)?;
            (Value::Oid(oid), next)
        }
        0x08 => {
            let (b, next) = fixed(1)?;
            (Value::Bool(b.first() != Some(&0)), next)
        }
        0x09 => {
            let (_, next) = fixed(8)?;
            (Value::Date(i64::from_le_bytes(le_8(bytes, v)?)), next)
        }
        0x0A => (Value::Null, v),
        0x0B => {
            let (pattern, after) = cstr(bytes, v, limit)?;
            let (options, next) = cstr(bytes, after, limit)?;
            (Value::Regex(pattern, options), next)
        }
        0x0C => {
            let (namespace, after) = lstr(bytes, v, limit)?;
            let end = after.checked_add(12).filter(|e| *e <= limit)?;
            (Value::DbPointer(namespace, bytes.get(after..end)?), end)
        }
        0x0F => {
            let total = usize::try_from(le_i32(bytes, v)?).ok()?;
            let (_, next) = fixed(total)?;
            let (code, scope_start) = lstr(bytes, v + 4, next)?;
            (Value::CodeWithScope(code, bytes.get(scope_start..next)?), next)
        }
        0x10 => {
            let (_, next) = fixed(4)?;
            (Value::Int32(le_i32(bytes, v)?), next)
        }
        0x11 => {
            let (raw, next) = fixed(8)?;
            let increment = u32::from_le_bytes(raw.get(..4)?.try_into().ok()?);
            let time = u32::from_le_bytes(raw.get(4..)?.try_into().ok()?);
            (Value::Timestamp(time, increment), next)
        }
        0x12 => {
            let (_, next) = fixed(8)?;
            (Value::Int64(i64::from_le_bytes(le_8(bytes, v)?)), next)
        }
        0x13 => {
            let (raw, next) = fixed(16)?;
            (Value::Decimal(raw.try_into().ok()?), next)
        }
        0xFF => (Value::MinKey, v),
        0x7F => (Value::MaxKey, v),
        _ => return None,
    };
    Some((key, value, next))
}
