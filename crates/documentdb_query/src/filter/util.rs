//! Small helpers shared by the filter parser, the matcher, sort and `$jsonSchema`:
//! MongoDB-style value printing for error messages, MongoDB's integer-argument parsing
//! (`BSONElement::parseIntegerElementToLong` and friends), truthiness and type sets.

use bson::spec::ElementType;
use bson::{RawBson, RawBsonRef, RawDocument};
use documentdb_bson::number::{decimal_parts, DecimalKind, Number};
use std::fmt::Write as _;

/// Maximum nesting printed in error messages.
const MAX_PRINT_DEPTH: usize = 20;

/// Prints a value the way MongoDB's `BSONElement::toString(false, true)` does.
pub(crate) fn value_string(value: RawBsonRef<'_>) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

/// Prints `name: value` the way MongoDB's `BSONElement::toString(true, true)` does.
pub(crate) fn element_string(name: &str, value: RawBsonRef<'_>) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    out.push_str(name);
    out.push_str(": ");
    write_value(&mut out, value, 0);
    out
}

/// Prints a document as MongoDB's `BSONObj::toString()` does (`{ a: 1, b: "x" }`).
pub(crate) fn document_string(doc: &RawDocument) -> String {
    let mut out = String::new();
    write_document(&mut out, doc, 0);
    out
}

fn write_document(out: &mut String, doc: &RawDocument, depth: usize) {
    if depth > MAX_PRINT_DEPTH {
        out.push_str("...");
        return;
    }
    let mut first = true;
    out.push('{');
    for (key, value) in doc.iter().flatten() {
        out.push_str(if first { " " } else { ", " });
        first = false;
        out.push_str(key.as_str());
        out.push_str(": ");
        write_value(out, value, depth + 1);
    }
    out.push_str(if first { "}" } else { " }" });
}

fn write_value(out: &mut String, value: RawBsonRef<'_>, depth: usize) {
    match value {
        RawBsonRef::Double(d) => write_double(out, d),
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        RawBsonRef::Document(d) => write_document(out, d, depth),
        RawBsonRef::Array(a) => {
            if depth > MAX_PRINT_DEPTH {
                out.push_str("...");
                return;
            }
            let mut first = true;
            out.push('[');
            for v in a.into_iter().flatten() {
                out.push_str(if first { " " } else { ", " });
                first = false;
                write_value(out, v, depth + 1);
            }
            out.push_str(if first { "]" } else { " ]" });
        }
        RawBsonRef::Boolean(b) => out.push_str(if b { "true" } else { "false" }),
        RawBsonRef::Null => out.push_str("null"),
        RawBsonRef::Undefined => out.push_str("undefined"),
        RawBsonRef::MinKey => out.push_str("MinKey"),
        RawBsonRef::MaxKey => out.push_str("MaxKey"),
        RawBsonRef::RegularExpression(r) => {
            let _ = write!(out, "/{}/{}", r.pattern.as_str(), r.options.as_str());
        }
        RawBsonRef::JavaScriptCode(c) => out.push_str(c),
        RawBsonRef::JavaScriptCodeWithScope(c) => {
            out.push_str("CodeWScope( ");
            out.push_str(c.code);
            out.push_str(", ");
            write_document(out, c.scope, depth + 1);
            out.push(')');
        }
        RawBsonRef::Int32(i) => {
            let _ = write!(out, "{i}");
        }
        RawBsonRef::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        RawBsonRef::Timestamp(t) => {
            let _ = write!(out, "Timestamp({}, {})", t.time, t.increment);
        }
        RawBsonRef::Binary(b) => {
            let _ = write!(out, "BinData({}, ", u8::from(b.subtype));
            for byte in b.bytes.iter().take(80) {
                let _ = write!(out, "{byte:02X}");
            }
            out.push(')');
        }
        RawBsonRef::ObjectId(oid) => {
            let _ = write!(out, "ObjectId('{}')", oid.to_hex());
        }
        RawBsonRef::DateTime(dt) => {
            let _ = write!(out, "new Date({})", dt.timestamp_millis());
        }
        RawBsonRef::Decimal128(d) => {
            let _ = write!(out, "{d}");
        }
        RawBsonRef::DbPointer(_) => out.push_str("DBRef(...)"),
    }
}

/// MongoDB's `StringBuilder::appendDoubleNice`.
fn write_double(out: &mut String, d: f64) {
    if d.is_nan() {
        out.push_str("nan");
    } else if d.is_infinite() {
        out.push_str(if d > 0.0 { "inf" } else { "-inf" });
    } else if d == d.trunc() && d.abs() < 1e15 {
        let _ = write!(out, "{d:.1}");
    } else {
        let _ = write!(out, "{d}");
    }
}

/// MongoDB's `BSONElement::trueValue()` (used by `$exists`).
pub(crate) fn true_value(value: Option<RawBsonRef<'_>>) -> bool {
    match value {
        None | Some(RawBsonRef::Null) | Some(RawBsonRef::Undefined) => false,
        Some(RawBsonRef::Boolean(b)) => b,
        Some(RawBsonRef::Int32(i)) => i != 0,
        Some(RawBsonRef::Int64(i)) => i != 0,
        Some(RawBsonRef::Double(d)) => d != 0.0,
        Some(RawBsonRef::Decimal128(d)) => {
            let parts = decimal_parts(&d);
            !(parts.kind == DecimalKind::Finite && parts.coefficient == 0)
        }
        Some(_) => true,
    }
}

/// Whether a value is a number of any of the four numeric types.
pub(crate) fn is_number(value: RawBsonRef<'_>) -> bool {
    matches!(value, RawBsonRef::Int32(_) | RawBsonRef::Int64(_) | RawBsonRef::Double(_) | RawBsonRef::Decimal128(_))
}

/// Whether a number is NaN (double or decimal).
pub(crate) fn is_nan(value: RawBsonRef<'_>) -> bool {
    Number::from_raw(value).is_some_and(|n| n.is_nan())
}

/// MongoDB's `BSONElement::parseIntegerElementToLong`: the failure reason is the message
/// MongoDB reports (code FailedToParse unless the caller rewraps it).
pub(crate) fn parse_integer_to_long(name: &str, value: RawBsonRef<'_>) -> Result<i64, String> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    match value {
        RawBsonRef::Int32(i) => Ok(i64::from(i)),
        RawBsonRef::Int64(i) => Ok(i),
        RawBsonRef::Double(d) => {
            if d.is_nan() {
                Err(format!("Expected an integer, but found NaN in: {}", element_string(name, value)))
            } else if !(-TWO_63..TWO_63).contains(&d) {
                Err(format!("Cannot represent as a 64-bit integer: {}", element_string(name, value)))
            } else if d.fract() != 0.0 {
                Err(format!("Expected an integer: {}", element_string(name, value)))
            } else {
                Ok(d as i64)
            }
        }
        RawBsonRef::Decimal128(d) => decimal_parts(&d)
            .to_i64_exact()
            .ok_or_else(|| format!("Cannot represent as a 64-bit integer: {}", element_string(name, value))),
        _ => Err(format!("Expected a number in: {}", element_string(name, value))),
    }
}

/// MongoDB's `parseIntegerElementToNonNegativeLong`.
pub(crate) fn parse_integer_to_non_negative_long(name: &str, value: RawBsonRef<'_>) -> Result<i64, String> {
    let n = parse_integer_to_long(name, value)?;
    if n < 0 {
        return Err(format!("Expected a non-negative number in: {}", element_string(name, value)));
    }
    Ok(n)
}

/// MongoDB's `parseIntegerElementToNonNegativeInt`.
pub(crate) fn parse_integer_to_non_negative_int(name: &str, value: RawBsonRef<'_>) -> Result<i32, String> {
    let n = parse_integer_to_long(name, value)?;
    let n = i32::try_from(n).map_err(|_| format!("Cannot represent {} in an int", element_string(name, value)))?;
    if n < 0 {
        return Err(format!("Expected a non-negative number in: {}", element_string(name, value)));
    }
    Ok(n)
}

/// MongoDB's `BSONElement::tryCoerce(long long*)` as used by `$mod`: doubles and decimals
/// are truncated toward zero; NaN, infinities and out-of-range values fail.
pub(crate) fn coerce_to_long(value: RawBsonRef<'_>) -> Result<i64, &'static str> {
    const NAN_INF: &str = "Unable to coerce NaN/Inf to integral type";
    const OUT_OF_BOUNDS: &str = "Out of bounds coercing to integral value";
    match value {
        RawBsonRef::Int32(i) => Ok(i64::from(i)),
        RawBsonRef::Int64(i) => Ok(i),
        RawBsonRef::Double(d) => {
            if !d.is_finite() {
                return Err(NAN_INF);
            }
            truncate_f64(d).ok_or(OUT_OF_BOUNDS)
        }
        RawBsonRef::Decimal128(d) => {
            let parts = decimal_parts(&d);
            if !parts.is_finite() {
                return Err(NAN_INF);
            }
            truncate_decimal(&parts).ok_or(OUT_OF_BOUNDS)
        }
        _ => Err("Unable to coerce value to integral type"),
    }
}

/// `trunc(d)` as an `i64` when it fits.
pub(crate) fn truncate_f64(d: f64) -> Option<i64> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let t = d.trunc();
    if t.is_finite() && (-TWO_63..TWO_63).contains(&t) {
        Some(t as i64)
    } else {
        None
    }
}

/// A finite decimal rounded toward zero as an `i64` when it fits.
pub(crate) fn truncate_decimal(parts: &documentdb_bson::number::Decimal128Parts) -> Option<i64> {
    if !parts.is_finite() {
        return None;
    }
    let mut c = parts.coefficient;
    let mut e = parts.exponent;
    if c == 0 {
        return Some(0);
    }
    while e < 0 {
        c /= 10;
        e += 1;
        if c == 0 {
            return Some(0);
        }
    }
    while e > 0 {
        c = c.checked_mul(10)?;
        e -= 1;
    }
    if parts.negative {
        if c <= u128::from(i64::MAX.unsigned_abs()) + 1 {
            Some((c as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(c).ok()
    }
}

/// A set of BSON types as `$type`/`bsonType`/`type` name them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TypeSet {
    /// Bit per BSON type (see [`type_bit`]).
    bits: u32,
    /// The alias "number" (any numeric type).
    all_numbers: bool,
}

fn type_bit(t: ElementType) -> u32 {
    let index = match t {
        ElementType::MinKey => 20,
        ElementType::MaxKey => 21,
        other => other as u32 & 0x1f,
    };
    1u32 << index
}

impl TypeSet {
    pub(crate) fn is_empty(&self) -> bool {
        self.bits == 0 && !self.all_numbers
    }

    pub(crate) fn add(&mut self, t: ElementType) {
        self.bits |= type_bit(t);
    }

    pub(crate) fn add_all_numbers(&mut self) {
        self.all_numbers = true;
    }

    /// A value of the one comparison bracket every type of the set sorts in (numbers form
    /// one bracket, strings and symbols another, ...), if they share one: `$type` on a
    /// single-valued index key then scans that bracket. `None` for mixed brackets and for
    /// types no bracket range describes (arrays, regexes, MinKey ...).
    pub(crate) fn bracket_sample(&self) -> Option<RawBson> {
        const NUMERIC: [ElementType; 4] =
            [ElementType::Int32, ElementType::Int64, ElementType::Double, ElementType::Decimal128];
        let brackets: [(&[ElementType], RawBson); 9] = [
            (&NUMERIC, RawBson::Int32(0)),
            (&[ElementType::String, ElementType::Symbol], RawBson::String(String::new())),
            (&[ElementType::EmbeddedDocument], RawBson::Document(bson::RawDocumentBuf::new())),
            (
                &[ElementType::Binary],
                RawBson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: Vec::new() }),
            ),
            (&[ElementType::ObjectId], RawBson::ObjectId(bson::oid::ObjectId::from_bytes([0; 12]))),
            (&[ElementType::Boolean], RawBson::Boolean(false)),
            (&[ElementType::DateTime], RawBson::DateTime(bson::DateTime::from_millis(0))),
            (&[ElementType::Timestamp], RawBson::Timestamp(bson::Timestamp { time: 0, increment: 0 })),
            (&[ElementType::Null], RawBson::Null),
        ];
        let mut bits = self.bits;
        if self.all_numbers {
            bits |= NUMERIC.iter().map(|t| type_bit(*t)).fold(0, |a, b| a | b);
        }
        brackets.into_iter().find_map(|(types, sample)| {
            let mask = types.iter().map(|t| type_bit(*t)).fold(0, |a, b| a | b);
            (bits != 0 && bits & !mask == 0).then_some(sample)
        })
    }

    pub(crate) fn contains(&self, t: ElementType) -> bool {
        if self.all_numbers
            && matches!(t, ElementType::Int32 | ElementType::Int64 | ElementType::Double | ElementType::Decimal128)
        {
            return true;
        }
        self.bits & type_bit(t) != 0
    }
}

/// JSON Schema `type` alias → BSON type (`None` for "number" and unknown names).
pub(crate) fn json_type_alias(alias: &str) -> Option<ElementType> {
    Some(match alias {
        "array" => ElementType::Array,
        "boolean" => ElementType::Boolean,
        "null" => ElementType::Null,
        "object" => ElementType::EmbeddedDocument,
        "string" => ElementType::String,
        _ => return None,
    })
}

/// A field of a raw document (`None` when missing or at malformed bytes). Skipped
/// elements are not decoded.
#[inline]
pub(crate) fn doc_get<'a>(doc: &'a RawDocument, key: &str) -> Option<RawBsonRef<'a>> {
    documentdb_bson::raw_reader::get(doc, key)
}
