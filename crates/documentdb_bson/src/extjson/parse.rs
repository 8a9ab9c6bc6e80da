//! A one-pass recursive-descent Extended JSON parser that writes BSON bytes directly.
//!
//! Documents and arrays are streamed: a 4-byte length placeholder is written when a
//! container opens and patched when it closes, and each element's type byte is a
//! placeholder patched once its value has been parsed. An object whose first key is a
//! type-wrapper key (`$oid`, `$date`, ...) is parsed by a small dedicated routine that
//! buffers the few values of the wrapper ([`Mini`]); the legacy two-key forms whose first
//! key is ambiguous (`$regex`/`$options`, `$type`/`$binary`, `$scope`/`$code`) are streamed
//! as a document and converted afterwards when they turn out to match exactly.
//!
//! Recursion depth is bounded by [`MAX_NESTING_DEPTH`]: a document or array deeper than
//! that is an error before anything inside it is parsed, and wrapper bodies nest at most
//! [`MINI_DEPTH`] levels.
use std::fmt::Display;
use std::str::FromStr;

use base64::Engine as _;
use bson::Decimal128;
use documentdb_errors::{docdb_error, DocDbError, DocDbResult};

use super::date;
use crate::validate::{DEPTH_MESSAGE, MAX_BSON_SIZE, MAX_NESTING_DEPTH};

/// Maximum nesting of objects inside a type wrapper (`$dbPointer.$id.$oid` needs 2).
const MINI_DEPTH: usize = 3;

const T_DOUBLE: u8 = 0x01;
const T_STRING: u8 = 0x02;
const T_DOCUMENT: u8 = 0x03;
const T_ARRAY: u8 = 0x04;
const T_BINARY: u8 = 0x05;
const T_UNDEFINED: u8 = 0x06;
const T_OID: u8 = 0x07;
const T_BOOL: u8 = 0x08;
const T_DATE: u8 = 0x09;
const T_NULL: u8 = 0x0A;
const T_REGEX: u8 = 0x0B;
const T_DBPOINTER: u8 = 0x0C;
const T_CODE: u8 = 0x0D;
const T_SYMBOL: u8 = 0x0E;
const T_CODE_W_SCOPE: u8 = 0x0F;
const T_INT32: u8 = 0x10;
const T_TIMESTAMP: u8 = 0x11;
const T_INT64: u8 = 0x12;
const T_DECIMAL: u8 = 0x13;
const T_MINKEY: u8 = 0xFF;
const T_MAXKEY: u8 = 0x7F;

/// Bytes that end a run of literal string characters: `"`, `\` and control characters.
static STRING_STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The type-wrapper keys: an object whose first key is one of these must be exactly
/// that wrapper's form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wrapper {
    Oid,
    Symbol,
    NumberInt,
    NumberLong,
    NumberDouble,
    NumberDecimal,
    Binary,
    Uuid,
    Code,
    Timestamp,
    RegularExpression,
    DbPointer,
    Date,
    MinKey,
    MaxKey,
    Undefined,
}

impl Wrapper {
    fn from_key(key: &[u8]) -> Option<Wrapper> {
        Some(match key {
            b"$oid" => Wrapper::Oid,
            b"$symbol" => Wrapper::Symbol,
            b"$numberInt" => Wrapper::NumberInt,
            b"$numberLong" => Wrapper::NumberLong,
            b"$numberDouble" => Wrapper::NumberDouble,
            b"$numberDecimal" => Wrapper::NumberDecimal,
            b"$binary" => Wrapper::Binary,
            b"$uuid" => Wrapper::Uuid,
            b"$code" => Wrapper::Code,
            b"$timestamp" => Wrapper::Timestamp,
            b"$regularExpression" => Wrapper::RegularExpression,
            b"$dbPointer" => Wrapper::DbPointer,
            b"$date" => Wrapper::Date,
            b"$minKey" => Wrapper::MinKey,
            b"$maxKey" => Wrapper::MaxKey,
            b"$undefined" => Wrapper::Undefined,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Wrapper::Oid => "$oid",
            Wrapper::Symbol => "$symbol",
            Wrapper::NumberInt => "$numberInt",
            Wrapper::NumberLong => "$numberLong",
            Wrapper::NumberDouble => "$numberDouble",
            Wrapper::NumberDecimal => "$numberDecimal",
            Wrapper::Binary => "$binary",
            Wrapper::Uuid => "$uuid",
            Wrapper::Code => "$code",
            Wrapper::Timestamp => "$timestamp",
            Wrapper::RegularExpression => "$regularExpression",
            Wrapper::DbPointer => "$dbPointer",
            Wrapper::Date => "$date",
            Wrapper::MinKey => "$minKey",
            Wrapper::MaxKey => "$maxKey",
            Wrapper::Undefined => "$undefined",
        }
    }
}

/// Legacy two-key forms whose first key is not a wrapper key (it is also a query
/// operator or may come second), recognised after the object has been parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Legacy {
    None,
    /// `{"$regex": s, "$options": s}`
    Regex,
    /// `{"$options": s, "$regex": s}`
    Options,
    /// `{"$type": s, "$binary": s}`
    Type,
    /// `{"$scope": doc, "$code": s}`
    Scope,
}

impl Legacy {
    fn from_key(key: &[u8]) -> Legacy {
        match key {
            b"$regex" => Legacy::Regex,
            b"$options" => Legacy::Options,
            b"$type" => Legacy::Type,
            b"$scope" => Legacy::Scope,
            _ => Legacy::None,
        }
    }
}

/// A buffered JSON value inside a type wrapper.
enum Mini {
    Str(String),
    /// A JSON number: its text and whether it is an integer (no fraction or exponent).
    Num(String, bool),
    Bool(bool),
    Null,
    Obj(Vec<(String, Mini)>),
}

impl Mini {
    /// How the value reads in an error message.
    fn describe(&self) -> String {
        match self {
            Mini::Str(s) => format!("{s:?}"),
            Mini::Num(n, _) => n.clone(),
            Mini::Bool(b) => b.to_string(),
            Mini::Null => "null".to_owned(),
            Mini::Obj(members) => {
                let keys: Vec<String> = members.iter().map(|(k, _)| format!("{k:?}")).collect();
                format!("an object with keys [{}]", keys.join(", "))
            }
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Mini::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The members named `names` (each exactly once, nothing else, any order).
    fn fields<const N: usize>(&self, names: [&str; N]) -> Option<[&Mini; N]> {
        let Mini::Obj(members) = self else {
            return None;
        };
        if members.len() != N {
            return None;
        }
        let mut found: [Option<&Mini>; N] = [None; N];
        for (key, value) in members {
            let slot = names.iter().position(|n| *n == key)?;
            let entry = found.get_mut(slot)?;
            if entry.is_some() {
                return None;
            }
            *entry = Some(value);
        }
        let mut out = Vec::with_capacity(N);
        for value in found {
            out.push(value?);
        }
        out.try_into().ok()
    }
}

pub(super) struct Parser<'a> {
    text: &'a str,
    src: &'a [u8],
    pos: usize,
    pub(super) out: Vec<u8>,
}

type R<T> = DocDbResult<T>;

fn too_large(size: usize) -> DocDbError {
    docdb_error!(BSONObjectTooLarge, "BSON document size {size} exceeds the maximum of {MAX_BSON_SIZE} bytes")
}

/// Validates regular expression options and returns them sorted.
fn sorted_options(options: &str) -> Option<String> {
    let mut bytes: Vec<u8> = options.bytes().collect();
    if !bytes.iter().all(|b| b"ilmsux".contains(b)) {
        return None;
    }
    bytes.sort_unstable();
    String::from_utf8(bytes).ok()
}

fn parse_hex_byte(text: &str) -> Option<u8> {
    if text.is_empty() || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(text, 16).ok()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    ENGINE.decode(text).ok()
}

/// `Infinity`, `-Infinity`, `NaN` or a decimal number (`1`, `-0.0`, `1.5E+300`, `.5`).
fn parse_double_text(text: &str) -> Option<f64> {
    match text {
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        "NaN" | "-NaN" | "+NaN" => return Some(f64::NAN),
        _ => {}
    }
    let numeric = text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    if !numeric || !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<f64>().ok()
}

/// The decimal128 grammar: `[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?`, or
/// `Infinity` / `Inf` / `NaN` (any case, optional sign).
fn parse_decimal_text(text: &str) -> Option<Decimal128> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.eq_ignore_ascii_case("nan") {
        // MongoDB prints every NaN as "NaN"; store the one NaN that prints and reads back
        // the same way (no sign).
        return Decimal128::from_str("NaN").ok();
    }
    let special = ["inf", "infinity"].iter().any(|s| unsigned.eq_ignore_ascii_case(s));
    if !special {
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(i) => (unsigned.get(..i)?, Some(unsigned.get(i + 1..)?)),
            None => (unsigned, None),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((a, b)) => (a, b),
            None => (mantissa, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int_part) || !digits(frac_part) || (int_part.is_empty() && frac_part.is_empty()) {
            return None;
        }
        if let Some(exp) = exponent {
            let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if exp.is_empty() || !digits(exp) {
                return None;
            }
        }
    }
    Decimal128::from_str(text).ok()
}

/// `8-4-4-4-12` hex digits.
fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut hex = Vec::with_capacity(32);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if *b != b'-' {
                return None;
            }
        } else {
            hex.push(*b);
        }
    }
    hex::decode_to_slice(&hex, &mut out).ok()?;
    Some(out)
}

fn parse_oid(text: &str) -> Option<[u8; 12]> {
    let mut out = [0u8; 12];
    if text.len() != 24 {
        return None;
    }
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A JSON integer (no fraction/exponent) in `0..=u32::MAX`.
fn mini_u32(value: &Mini) -> Option<u32> {
    match value {
        Mini::Num(text, true) => text.parse::<u32>().ok(),
        _ => None,
    }
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Parser<'a> {
        // BSON is usually a little smaller than its JSON text; one allocation suffices.
        let capacity = text.len().min(MAX_BSON_SIZE) + 16;
        Parser { text, src: text.as_bytes(), pos: 0, out: Vec::with_capacity(capacity) }
    }

    /// A FailedToParse error locating byte offset `at`.
    fn err_at(&self, at: usize, msg: impl Display) -> DocDbError {
        let before = self.src.get(..at).unwrap_or(self.src);
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        let column = self.text.get(line_start..at).map_or(at - line_start, |s| s.chars().count()) + 1;
        docdb_error!(FailedToParse, "{msg} at line {line}, column {column} (byte offset {at})")
    }

    fn err(&self, msg: impl Display) -> DocDbError {
        self.err_at(self.pos, msg)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    fn found(&self) -> String {
        match self.text.get(self.pos..).and_then(|s| s.chars().next()) {
            Some(c) => format!("'{}'", c.escape_debug()),
            None => "end of input".to_owned(),
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> R<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected {what}, found {}", self.found())))
        }
    }

    pub(super) fn skip_leading_ws(&mut self) {
        self.skip_ws();
    }

    pub(super) fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    /// Parses the top-level document and checks nothing but whitespace follows.
    pub(super) fn parse_top_level(&mut self) -> R<()> {
        self.skip_ws();
        if self.peek() != Some(b'{') {
            return Err(self.err(format!(
                "expected '{{' at the start of the document (the top level must be a JSON object), found {}",
                self.found()
            )));
        }
        self.pos += 1;
        self.parse_object(0, false)?;
        self.skip_ws();
        if self.pos < self.src.len() {
            return Err(self.err(format!("unexpected {} after the end of the document", self.found())));
        }
        if self.out.len() > MAX_BSON_SIZE {
            return Err(too_large(self.out.len()));
        }
        Ok(())
    }

    #[inline]
    fn check_size(&self) -> R<()> {
        if self.out.len() > MAX_BSON_SIZE {
            return Err(too_large(self.out.len()));
        }
        Ok(())
    }

    /// Patches the 4-byte length placeholder at `start` with `out.len() - start`.
    #[inline]
    fn patch_len(&mut self, start: usize) -> R<()> {
        self.patch_i32(start, self.out.len() - start)
    }

    #[inline]
    fn patch_i32(&mut self, at: usize, value: usize) -> R<()> {
        let value = i32::try_from(value).map_err(|_| too_large(value))?;
        if let Some(slot) = self.out.get_mut(at..at + 4) {
            slot.copy_from_slice(&value.to_le_bytes());
        }
        Ok(())
    }

    #[inline]
    fn set_type(&mut self, at: usize, element_type: u8) {
        if let Some(slot) = self.out.get_mut(at) {
            *slot = element_type;
        }
    }

    /// Parses an object's members after its `{`; writes a document (returning
    /// [`T_DOCUMENT`]) or, if `allow_wrapper` and the object is a type wrapper, that value
    /// (returning its type). `depth` is the nesting depth the object has as a document.
    fn parse_object(&mut self, depth: usize, allow_wrapper: bool) -> R<u8> {
        let open = self.pos - 1;
        let doc_start = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        self.skip_ws();
        if self.peek() == Some(b'}') {
            if depth > MAX_NESTING_DEPTH {
                return Err(docdb_error!(Overflow, "{DEPTH_MESSAGE}"));
            }
            self.pos += 1;
            self.out.push(0);
            self.patch_len(doc_start)?;
            return Ok(T_DOCUMENT);
        }
        let mut count = 0usize;
        let mut legacy = Legacy::None;
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.err(format!("expected a string field name or '}}', found {}", self.found())));
            }
            let key_at = self.pos;
            self.pos += 1;
            let type_pos = self.out.len();
            self.out.push(0);
            let key_start = self.out.len();
            let has_nul = self.parse_string_body()?;
            if count == 0 {
                let key = self.out.get(key_start..).unwrap_or(&[]);
                if allow_wrapper && key.first() == Some(&b'$') {
                    if let Some(wrapper) = Wrapper::from_key(key) {
                        self.out.truncate(doc_start);
                        return self.parse_wrapper(wrapper, depth, open);
                    }
                    legacy = Legacy::from_key(key);
                }
                // One level too deep is still fine for a legacy `$regex` / `$binary` /
                // `$code` form, which is a value rather than a document: decided at the
                // end (its members are parsed one level deeper still, where every
                // document or array is an error, so recursion stays bounded).
                let deferred = legacy != Legacy::None && depth == MAX_NESTING_DEPTH + 1;
                if depth > MAX_NESTING_DEPTH && !deferred {
                    return Err(docdb_error!(Overflow, "{DEPTH_MESSAGE}"));
                }
            }
            if has_nul {
                return Err(self.err_at(key_at, "field names cannot contain a NUL character (\\u0000)"));
            }
            self.out.push(0);
            self.skip_ws();
            self.expect(b':', "':' after the field name")?;
            self.skip_ws();
            self.parse_value(type_pos, depth + 1)?;
            count += 1;
            self.check_size()?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.err(format!("expected ',' or '}}' after an object member, found {}", self.found())))
                }
            }
        }
        self.out.push(0);
        if legacy != Legacy::None && count == 2 {
            if let Some(element_type) = self.convert_legacy(legacy, doc_start, open)? {
                return Ok(element_type);
            }
        }
        if depth > MAX_NESTING_DEPTH {
            return Err(docdb_error!(Overflow, "{DEPTH_MESSAGE}"));
        }
        self.patch_len(doc_start)?;
        Ok(T_DOCUMENT)
    }

    fn parse_array(&mut self, depth: usize) -> R<()> {
        if depth > MAX_NESTING_DEPTH {
            return Err(docdb_error!(Overflow, "{DEPTH_MESSAGE}"));
        }
        let start = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.out.push(0);
            return self.patch_len(start);
        }
        let mut index: u32 = 0;
        loop {
            let type_pos = self.out.len();
            self.out.push(0);
            write_index(&mut self.out, index);
            self.out.push(0);
            self.parse_value(type_pos, depth + 1)?;
            index = index.wrapping_add(1);
            self.check_size()?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.err(format!("expected ',' or ']' after an array element, found {}", self.found())))
                }
            }
        }
        self.out.push(0);
        self.patch_len(start)
    }

    /// Parses one value (positioned at its first byte) and patches the element type at
    /// `type_pos`. `depth` is the depth the value has if it is a document or array.
    fn parse_value(&mut self, type_pos: usize, depth: usize) -> R<()> {
        let element_type = match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                let start = self.out.len();
                self.out.extend_from_slice(&[0; 4]);
                self.parse_string_body()?;
                self.out.push(0);
                self.patch_i32(start, self.out.len() - start - 4)?;
                T_STRING
            }
            Some(b'{') => {
                self.pos += 1;
                self.parse_object(depth, true)?
            }
            Some(b'[') => {
                self.pos += 1;
                self.parse_array(depth)?;
                T_ARRAY
            }
            Some(b't') => {
                self.literal(b"true")?;
                self.out.push(1);
                T_BOOL
            }
            Some(b'f') => {
                self.literal(b"false")?;
                self.out.push(0);
                T_BOOL
            }
            Some(b'n') => {
                self.literal(b"null")?;
                T_NULL
            }
            Some(b'-' | b'0'..=b'9') => self.parse_number()?,
            Some(_) => return Err(self.err(format!("unexpected {}, expected a value", self.found()))),
            None => return Err(self.err("unexpected end of input, expected a value")),
        };
        self.set_type(type_pos, element_type);
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.src.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.err(format!("invalid literal, expected '{}'", String::from_utf8_lossy(word))))
        }
    }

    /// Scans a JSON number; returns its byte range and whether it is an integer.
    fn lex_number(&mut self) -> R<(usize, usize, bool)> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.err_at(start, "invalid number: leading zeros are not allowed"));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.err(format!("invalid number: expected a digit, found {}", self.found()))),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number: expected a digit after the decimal point"));
            }
            self.skip_digits();
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number: expected a digit in the exponent"));
            }
            self.skip_digits();
            integer = false;
        }
        Ok((start, self.pos, integer))
    }

    #[inline]
    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    /// A plain JSON number: int32 if it fits, else int64, else double.
    fn parse_number(&mut self) -> R<u8> {
        let (start, end, integer) = self.lex_number()?;
        if integer {
            let digits = self.src.get(start..end).unwrap_or(&[]);
            let (negative, digits) = match digits.split_first() {
                Some((b'-', rest)) => (true, rest),
                _ => (false, digits),
            };
            let mut magnitude: u64 = 0;
            let mut fits = true;
            for d in digits {
                match magnitude.checked_mul(10).and_then(|m| m.checked_add(u64::from(d - b'0'))) {
                    Some(m) => magnitude = m,
                    None => {
                        fits = false;
                        break;
                    }
                }
            }
            let value = if !fits {
                None
            } else if negative {
                (magnitude <= 1 << 63).then(|| (magnitude as i64).wrapping_neg())
            } else {
                i64::try_from(magnitude).ok()
            };
            if let Some(value) = value {
                return Ok(match i32::try_from(value) {
                    Ok(small) => {
                        self.out.extend_from_slice(&small.to_le_bytes());
                        T_INT32
                    }
                    Err(_) => {
                        self.out.extend_from_slice(&value.to_le_bytes());
                        T_INT64
                    }
                });
            }
        }
        let value = self
            .text
            .get(start..end)
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| self.err_at(start, "invalid number"))?;
        self.out.extend_from_slice(&value.to_le_bytes());
        Ok(T_DOUBLE)
    }

    /// Decodes a JSON string (positioned after its opening quote) onto `out`; returns
    /// whether it contained a NUL character.
    fn parse_string_body(&mut self) -> R<bool> {
        let open = self.pos - 1;
        let mut has_nul = false;
        loop {
            let rest = self.src.get(self.pos..).unwrap_or(&[]);
            let Some(run) = rest.iter().position(|b| STRING_STOP[usize::from(*b)]) else {
                return Err(self.err_at(open, "unterminated string"));
            };
            self.out.extend_from_slice(rest.get(..run).unwrap_or(&[]));
            self.pos += run;
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(has_nul);
                }
                Some(b'\\') => {
                    if self.parse_escape()? == 0 {
                        has_nul = true;
                    }
                }
                _ => {
                    return Err(self.err("unescaped control character in string (use \\n, \\t, \\u00XX, ...)"));
                }
            }
        }
    }

    /// Decodes one escape sequence (positioned at its backslash); returns the code point.
    fn parse_escape(&mut self) -> R<u32> {
        let at = self.pos;
        self.pos += 1;
        let simple = match self.peek() {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0C,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4(at)?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        if self.src.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.err_at(at, "invalid \\u escape: lone high surrogate"));
                        }
                        self.pos += 2;
                        let low = self.hex4(at)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(
                                self.err_at(at, "invalid \\u escape: high surrogate not followed by a low surrogate")
                            );
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.err_at(at, "invalid \\u escape: lone low surrogate")),
                    other => other,
                };
                let c = char::from_u32(code).ok_or_else(|| self.err_at(at, "invalid \\u escape"))?;
                let mut buf = [0u8; 4];
                self.out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                return Ok(code);
            }
            _ => {
                return Err(self.err_at(at, format!("invalid escape sequence '\\{}'", self.found().trim_matches('\''))))
            }
        };
        self.pos += 1;
        self.out.push(simple);
        Ok(u32::from(simple))
    }

    fn hex4(&mut self, escape_at: usize) -> R<u32> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err_at(escape_at, "invalid \\u escape: expected 4 hex digits"))?;
        let mut value = 0u32;
        for d in digits {
            let v = char::from(*d)
                .to_digit(16)
                .ok_or_else(|| self.err_at(escape_at, "invalid \\u escape: expected 4 hex digits"))?;
            value = value * 16 + v;
        }
        self.pos += 4;
        Ok(value)
    }

    /// A JSON string (positioned at its opening quote) as an owned String.
    fn parse_owned_string(&mut self) -> R<String> {
        self.expect(b'"', "a string")?;
        let start = self.out.len();
        self.parse_string_body()?;
        let bytes = self.out.split_off(start);
        String::from_utf8(bytes).map_err(|_| self.err("invalid UTF-8 in string"))
    }

    /// A buffered value inside a type wrapper.
    fn parse_mini(&mut self, budget: usize) -> R<Mini> {
        Ok(match self.peek() {
            Some(b'"') => Mini::Str(self.parse_owned_string()?),
            Some(b'{') => {
                if budget == 0 {
                    return Err(self.err("objects are nested too deeply inside a type wrapper"));
                }
                self.pos += 1;
                self.skip_ws();
                let mut members = Vec::new();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Mini::Obj(members));
                }
                loop {
                    let key = self.parse_owned_string()?;
                    self.skip_ws();
                    self.expect(b':', "':' after the field name")?;
                    self.skip_ws();
                    let value = self.parse_mini(budget - 1)?;
                    members.push((key, value));
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => {
                            self.pos += 1;
                            self.skip_ws();
                        }
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => {
                            return Err(self
                                .err(format!("expected ',' or '}}' after an object member, found {}", self.found())))
                        }
                    }
                }
                Mini::Obj(members)
            }
            Some(b'[') => return Err(self.err("unexpected array inside a type wrapper")),
            Some(b't') => {
                self.literal(b"true")?;
                Mini::Bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                Mini::Bool(false)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                Mini::Null
            }
            Some(b'-' | b'0'..=b'9') => {
                let (start, end, integer) = self.lex_number()?;
                Mini::Num(self.text.get(start..end).unwrap_or("").to_owned(), integer)
            }
            Some(_) => return Err(self.err(format!("unexpected {}, expected a value", self.found()))),
            None => return Err(self.err("unexpected end of input, expected a value")),
        })
    }

    /// Parses a type wrapper after its first key and writes its value; returns the type.
    fn parse_wrapper(&mut self, wrapper: Wrapper, depth: usize, open: usize) -> R<u8> {
        self.skip_ws();
        self.expect(b':', "':' after the field name")?;
        self.skip_ws();
        if wrapper == Wrapper::Code {
            return self.parse_code(depth, open);
        }
        let first = self.parse_mini(MINI_DEPTH)?;
        let mut extra: Vec<(String, Mini)> = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                    let key = self.parse_owned_string()?;
                    self.skip_ws();
                    self.expect(b':', "':' after the field name")?;
                    self.skip_ws();
                    let value = self.parse_mini(MINI_DEPTH)?;
                    extra.push((key, value));
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.err(format!("expected ',' or '}}' after an object member, found {}", self.found())))
                }
            }
        }
        let name = wrapper.name();
        let bad = |this: &Self, value: &Mini| this.err_at(open, format!("Invalid {name} value {}", value.describe()));
        if wrapper != Wrapper::Binary {
            if let Some((key, _)) = extra.first() {
                return Err(self.err_at(
                    open,
                    format!(
                        "Invalid {name}: unexpected extra field {key:?} (a {name} object must have exactly one field)"
                    ),
                ));
            }
        }
        let out_type = match wrapper {
            Wrapper::Oid => {
                let oid = first.as_str().and_then(parse_oid).ok_or_else(|| bad(self, &first))?;
                self.out.extend_from_slice(&oid);
                T_OID
            }
            Wrapper::Symbol => {
                let text = first.as_str().ok_or_else(|| bad(self, &first))?;
                write_bson_string(&mut self.out, text)?;
                T_SYMBOL
            }
            Wrapper::NumberInt => {
                let value = first.as_str().and_then(|s| s.parse::<i32>().ok()).ok_or_else(|| bad(self, &first))?;
                self.out.extend_from_slice(&value.to_le_bytes());
                T_INT32
            }
            Wrapper::NumberLong => {
                let value = first.as_str().and_then(|s| s.parse::<i64>().ok()).ok_or_else(|| bad(self, &first))?;
                self.out.extend_from_slice(&value.to_le_bytes());
                T_INT64
            }
            Wrapper::NumberDouble => {
                let value = first.as_str().and_then(parse_double_text).ok_or_else(|| bad(self, &first))?;
                self.out.extend_from_slice(&value.to_le_bytes());
                T_DOUBLE
            }
            Wrapper::NumberDecimal => {
                let value = first.as_str().and_then(parse_decimal_text).ok_or_else(|| bad(self, &first))?;
                self.out.extend_from_slice(&value.bytes());
                T_DECIMAL
            }
            Wrapper::Binary => self.emit_binary(&first, &extra, open)?,
            Wrapper::Uuid => {
                let uuid = first.as_str().and_then(parse_uuid).ok_or_else(|| bad(self, &first))?;
                write_binary(&mut self.out, 4, &uuid)?;
                T_BINARY
            }
            Wrapper::Timestamp => {
                let [t, i] = first.fields(["t", "i"]).ok_or_else(|| bad(self, &first))?;
                let (Some(t), Some(i)) = (mini_u32(t), mini_u32(i)) else {
                    return Err(self.err_at(
                        open,
                        format!(
                            "Invalid $timestamp value {}: \"t\" and \"i\" must be integers between 0 and 4294967295",
                            first.describe()
                        ),
                    ));
                };
                self.out.extend_from_slice(&i.to_le_bytes());
                self.out.extend_from_slice(&t.to_le_bytes());
                T_TIMESTAMP
            }
            Wrapper::RegularExpression => {
                let [pattern, options] = first.fields(["pattern", "options"]).ok_or_else(|| bad(self, &first))?;
                let (Some(pattern), Some(options)) = (pattern.as_str(), options.as_str()) else {
                    return Err(bad(self, &first));
                };
                self.write_regex(pattern, options, open)?;
                T_REGEX
            }
            Wrapper::DbPointer => {
                let [reference, id] = first.fields(["$ref", "$id"]).ok_or_else(|| bad(self, &first))?;
                let oid = id.fields(["$oid"]).and_then(|[oid]| oid.as_str()).and_then(parse_oid);
                let (Some(namespace), Some(oid)) = (reference.as_str(), oid) else {
                    return Err(self.err_at(
                        open,
                        format!(
                            "Invalid $dbPointer value {}: expected {{\"$ref\": string, \"$id\": {{\"$oid\": hex}}}}",
                            first.describe()
                        ),
                    ));
                };
                write_bson_string(&mut self.out, namespace)?;
                self.out.extend_from_slice(&oid);
                T_DBPOINTER
            }
            Wrapper::Date => {
                let millis = match &first {
                    Mini::Str(text) => date::parse_iso8601(text),
                    Mini::Num(text, true) => text.parse::<i64>().ok(),
                    Mini::Obj(_) => {
                        first.fields(["$numberLong"]).and_then(|[n]| n.as_str()).and_then(|s| s.parse::<i64>().ok())
                    }
                    _ => None,
                };
                let millis = millis.ok_or_else(|| bad(self, &first))?;
                self.out.extend_from_slice(&millis.to_le_bytes());
                T_DATE
            }
            Wrapper::MinKey | Wrapper::MaxKey => {
                if !matches!(&first, Mini::Num(n, true) if n == "1") {
                    return Err(self.err_at(open, format!("Invalid {name} value {}: must be 1", first.describe())));
                }
                if wrapper == Wrapper::MinKey {
                    T_MINKEY
                } else {
                    T_MAXKEY
                }
            }
            Wrapper::Undefined => {
                if !matches!(first, Mini::Bool(true)) {
                    return Err(
                        self.err_at(open, format!("Invalid $undefined value {}: must be true", first.describe()))
                    );
                }
                T_UNDEFINED
            }
            Wrapper::Code => return Err(self.err_at(open, "internal error: $code handled elsewhere")),
        };
        Ok(out_type)
    }

    fn emit_binary(&mut self, first: &Mini, extra: &[(String, Mini)], open: usize) -> R<u8> {
        let (data, subtype) = match (first, extra) {
            (Mini::Obj(_), []) => {
                let [data, subtype] = first.fields(["base64", "subType"]).ok_or_else(|| {
                    self.err_at(open, format!("Invalid $binary value {}: expected {{\"base64\": string, \"subType\": hex string}}", first.describe()))
                })?;
                (data, subtype)
            }
            (Mini::Str(_), [(key, subtype)]) if key == "$type" => (first, subtype),
            _ => {
                return Err(self.err_at(
                    open,
                    format!(
                        "Invalid $binary value {}: expected {{\"$binary\": {{\"base64\": string, \"subType\": hex string}}}} or {{\"$binary\": string, \"$type\": hex string}}",
                        first.describe()
                    ),
                ))
            }
        };
        let subtype = subtype.as_str().and_then(parse_hex_byte).ok_or_else(|| {
            self.err_at(open, format!("Invalid $binary subtype {}: expected 1 or 2 hex digits", subtype.describe()))
        })?;
        let bytes = data
            .as_str()
            .and_then(decode_base64)
            .ok_or_else(|| self.err_at(open, format!("Invalid $binary base64 payload {}", data.describe())))?;
        write_binary(&mut self.out, subtype, &bytes)?;
        Ok(T_BINARY)
    }

    fn write_regex(&mut self, pattern: &str, options: &str, open: usize) -> R<()> {
        if pattern.contains('\0') {
            return Err(self.err_at(open, "Invalid regular expression: the pattern cannot contain a NUL character"));
        }
        let sorted = sorted_options(options).ok_or_else(|| {
            self.err_at(
                open,
                format!(
                    "Invalid regular expression options {options:?}: only the flags i, l, m, s, u and x are allowed"
                ),
            )
        })?;
        self.out.extend_from_slice(pattern.as_bytes());
        self.out.push(0);
        self.out.extend_from_slice(sorted.as_bytes());
        self.out.push(0);
        Ok(())
    }

    /// `{"$code": s}` or `{"$code": s, "$scope": {...}}`, positioned at the value of `$code`.
    fn parse_code(&mut self, depth: usize, open: usize) -> R<u8> {
        if self.peek() != Some(b'"') {
            let value = self.parse_mini(MINI_DEPTH)?;
            return Err(self.err_at(open, format!("Invalid $code value {}: must be a string", value.describe())));
        }
        self.pos += 1;
        // Layout: [total length][string length][code bytes][NUL][scope]; the total is
        // dropped again for plain code.
        let start = self.out.len();
        self.out.extend_from_slice(&[0; 8]);
        self.parse_string_body()?;
        self.out.push(0);
        let code_len = self.out.len() - start - 8;
        self.skip_ws();
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                self.out.drain(start..start + 4);
                self.patch_i32(start, code_len)?;
                Ok(T_CODE)
            }
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
                let key_at = self.pos;
                let key = self.parse_owned_string()?;
                if key != "$scope" {
                    return Err(self.err_at(
                        key_at,
                        format!("Invalid $code: unexpected field {key:?} (only \"$scope\" may follow \"$code\")"),
                    ));
                }
                self.skip_ws();
                self.expect(b':', "':' after the field name")?;
                self.skip_ws();
                if self.peek() != Some(b'{') {
                    return Err(self.err(format!("Invalid $scope value: expected a document, found {}", self.found())));
                }
                self.pos += 1;
                // The scope sits where a plain document in this position would.
                self.parse_object(depth, false)?;
                self.skip_ws();
                self.expect(b'}', "'}' closing the $code/$scope object")?;
                self.patch_i32(start, self.out.len() - start)?;
                self.patch_i32(start + 4, code_len)?;
                Ok(T_CODE_W_SCOPE)
            }
            _ => Err(self.err(format!("expected ',' or '}}' after an object member, found {}", self.found()))),
        }
    }

    /// Converts a just-parsed two-member document at `doc_start` (terminator written,
    /// length not yet patched) into a legacy `$regex`, `$binary` or `$code` value if it
    /// matches that form exactly; returns the new type, or `None` to keep the document.
    fn convert_legacy(&mut self, legacy: Legacy, doc_start: usize, open: usize) -> R<Option<u8>> {
        let body = self.out.get(doc_start + 4..).unwrap_or(&[]);
        let Some((t1, k1, v1, next)) = read_element(body, 0) else {
            return Ok(None);
        };
        let Some((t2, k2, v2, _)) = read_element(body, next) else {
            return Ok(None);
        };
        let string = |t: u8, v: &[u8]| -> Option<String> {
            if t != T_STRING {
                return None;
            }
            let text = v.get(4..v.len().saturating_sub(1))?;
            String::from_utf8(text.to_vec()).ok()
        };
        match legacy {
            Legacy::Regex | Legacy::Options => {
                let (pattern_key, pattern, options) = if legacy == Legacy::Regex {
                    (k1, string(t1, v1), string(t2, v2))
                } else {
                    (k2, string(t2, v2), string(t1, v1))
                };
                let options_key = if legacy == Legacy::Regex { k2 } else { k1 };
                if pattern_key != b"$regex" || options_key != b"$options" {
                    return Ok(None);
                }
                let (Some(pattern), Some(options)) = (pattern, options) else {
                    return Ok(None);
                };
                self.out.truncate(doc_start);
                self.write_regex(&pattern, &options, open)?;
                Ok(Some(T_REGEX))
            }
            Legacy::Type => {
                if k2 != b"$binary" {
                    return Ok(None);
                }
                let (Some(subtype), Some(data)) = (string(t1, v1), string(t2, v2)) else {
                    return Ok(None);
                };
                let subtype = parse_hex_byte(&subtype).ok_or_else(|| {
                    self.err_at(open, format!("Invalid $binary subtype {subtype:?}: expected 1 or 2 hex digits"))
                })?;
                let bytes = decode_base64(&data)
                    .ok_or_else(|| self.err_at(open, format!("Invalid $binary base64 payload {data:?}")))?;
                self.out.truncate(doc_start);
                write_binary(&mut self.out, subtype, &bytes)?;
                Ok(Some(T_BINARY))
            }
            Legacy::Scope => {
                if k2 != b"$code" || t1 != T_DOCUMENT || t2 != T_STRING {
                    return Ok(None);
                }
                let scope = v1.to_vec();
                let code = v2.to_vec(); // length-prefixed string, NUL included
                self.out.truncate(doc_start);
                let total = 4 + code.len() + scope.len();
                self.out.extend_from_slice(&[0; 4]);
                self.patch_i32(doc_start, total)?;
                self.out.extend_from_slice(&code);
                self.out.extend_from_slice(&scope);
                Ok(Some(T_CODE_W_SCOPE))
            }
            Legacy::None => Ok(None),
        }
    }
}

/// Reads one string- or document-valued element of freshly written bytes: (type, key,
/// value bytes, offset after it). Other types give `None` (no legacy form uses them).
fn read_element(body: &[u8], at: usize) -> Option<(u8, &[u8], &[u8], usize)> {
    let element_type = *body.get(at)?;
    let key_start = at + 1;
    let key_len = body.get(key_start..)?.iter().position(|b| *b == 0)?;
    let key = body.get(key_start..key_start + key_len)?;
    let value_start = key_start + key_len + 1;
    let len_bytes = body.get(value_start..value_start + 4)?;
    let len = usize::try_from(i32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]])).ok()?;
    let value_end = match element_type {
        T_STRING => value_start + 4 + len,
        T_DOCUMENT => value_start + len,
        _ => return None,
    };
    Some((element_type, key, body.get(value_start..value_end)?, value_end))
}

fn write_bson_string(out: &mut Vec<u8>, text: &str) -> R<()> {
    let len = i32::try_from(text.len() + 1).map_err(|_| too_large(text.len()))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.push(0);
    Ok(())
}

/// Binary value; subtype 2 ("old binary") wraps the payload in a second length prefix.
fn write_binary(out: &mut Vec<u8>, subtype: u8, bytes: &[u8]) -> R<()> {
    let inner = i32::try_from(bytes.len()).map_err(|_| too_large(bytes.len()))?;
    if subtype == 2 {
        let total = inner.checked_add(4).ok_or_else(|| too_large(bytes.len()))?;
        out.extend_from_slice(&total.to_le_bytes());
        out.push(subtype);
        out.extend_from_slice(&inner.to_le_bytes());
    } else {
        out.extend_from_slice(&inner.to_le_bytes());
        out.push(subtype);
    }
    out.extend_from_slice(bytes);
    Ok(())
}

#[inline]
fn write_index(out: &mut Vec<u8>, index: u32) {
    if index < 10 {
        out.push(b'0' + index as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut n = index;
    let mut i = buf.len();
    while n > 0 {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(buf.get(i..).unwrap_or(&[]));
}
