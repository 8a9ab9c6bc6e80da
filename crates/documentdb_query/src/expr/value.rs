//! Helpers over owned `bson::Bson` values with MongoDB's aggregation semantics: type
//! names, truthiness, the cross-type comparison order, string coercion.
use std::cmp::Ordering;

use bson::spec::ElementType;
use bson::{Bson, Document, RawBson, RawBsonRef};
use documentdb_bson::compare::canonical_type_rank;
use documentdb_bson::number::Number;
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::arith::{self, Num};
use crate::Value;

/// MongoDB's `typeName` for a value, `"missing"` for a missing one (the names of the BSON
/// types live in `documentdb_bson::type_name`).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        None => "missing",
        Some(b) => documentdb_bson::type_name(b.element_type()),
    }
}

/// Null, undefined or missing.
pub(crate) fn is_nullish(v: &Value) -> bool {
    matches!(v, None | Some(Bson::Null) | Some(Bson::Undefined))
}

pub(crate) fn num(v: &Value) -> Option<Num> {
    v.as_ref().and_then(Num::from_bson)
}

/// MongoDB's `coerceToBool`: false for missing, null, undefined, false and numeric zero.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => false,
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        Some(Bson::Double(d)) => *d != 0.0,
        Some(Bson::Decimal128(d)) => !arith::decimal_info(d).zero,
        Some(_) => true,
    }
}

/// MongoDB's canonical type rank (`documentdb_bson::compare::canonical_type_rank`);
/// missing ranks with undefined.
pub(crate) fn type_rank(v: &Value) -> i32 {
    canonical_type_rank(v.as_ref().map_or(ElementType::Undefined, Bson::element_type))
}

/// Compares two values in MongoDB's order (missing sorts with undefined, before null).
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => compare(x, y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    compare_values(a, b) == Ordering::Equal
}

/// Compares two owned values in MongoDB's order. The order is defined once, on raw BSON,
/// by `documentdb_bson::compare`: here documents and arrays are walked as that walks
/// their bytes (type rank, field name, value; the shorter first) and every other value is
/// compared through a raw view of it.
pub(crate) fn compare(a: &Bson, b: &Bson) -> Ordering {
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => compare_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => compare_arrays(x, y),
        // The common cases without the raw view: strings (and symbols) by their bytes, as
        // `documentdb_bson` compares them, numbers by its numeric order.
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => {
            if let (Some(x), Some(y)) = (number(a), number(b)) {
                return x.compare(&y);
            }
            let (ra, rb) = (rank(a), rank(b));
            if ra != rb {
                return ra.cmp(&rb);
            }
            with_raw(a, |x| with_raw(b, |y| documentdb_bson::compare_values(x, y)))
        }
    }
}

#[inline]
fn rank(v: &Bson) -> i32 {
    canonical_type_rank(v.element_type())
}

#[inline]
fn number(v: &Bson) -> Option<Number> {
    match v {
        Bson::Int32(i) => Some(Number::Int32(*i)),
        Bson::Int64(i) => Some(Number::Int64(*i)),
        Bson::Double(d) => Some(Number::Double(*d)),
        Bson::Decimal128(d) => Some(Number::Decimal(*d)),
        _ => None,
    }
}

/// Runs `f` on a raw view of a value that is neither a document nor an array: borrowed,
/// except for code with scope and DBPointer, which `bson` can only view once serialized.
fn with_raw<R>(v: &Bson, f: impl FnOnce(RawBsonRef<'_>) -> R) -> R {
    let borrowed = match v {
        Bson::Double(d) => RawBsonRef::Double(*d),
        Bson::String(s) => RawBsonRef::String(s),
        Bson::Binary(b) => RawBsonRef::Binary(bson::RawBinaryRef { subtype: b.subtype, bytes: &b.bytes }),
        Bson::Undefined => RawBsonRef::Undefined,
        Bson::ObjectId(o) => RawBsonRef::ObjectId(*o),
        Bson::Boolean(b) => RawBsonRef::Boolean(*b),
        Bson::DateTime(d) => RawBsonRef::DateTime(*d),
        Bson::Null => RawBsonRef::Null,
        Bson::RegularExpression(r) => {
            RawBsonRef::RegularExpression(bson::RawRegexRef { pattern: &r.pattern, options: &r.options })
        }
        Bson::JavaScriptCode(c) => RawBsonRef::JavaScriptCode(c),
        Bson::Symbol(s) => RawBsonRef::Symbol(s),
        Bson::Int32(i) => RawBsonRef::Int32(*i),
        Bson::Timestamp(t) => RawBsonRef::Timestamp(*t),
        Bson::Int64(i) => RawBsonRef::Int64(*i),
        Bson::Decimal128(d) => RawBsonRef::Decimal128(*d),
        Bson::MinKey => RawBsonRef::MinKey,
        Bson::MaxKey => RawBsonRef::MaxKey,
        Bson::Document(_) | Bson::Array(_) | Bson::JavaScriptCodeWithScope(_) | Bson::DbPointer(_) => {
            // Cannot fail for a value read from BSON (no NUL in its names).
            return match RawBson::try_from(v.clone()) {
                Ok(raw) => f(raw.as_raw_bson_ref()),
                Err(_) => f(RawBsonRef::MaxKey),
            };
        }
    };
    f(borrowed)
}

pub(crate) fn compare_documents(a: &Document, b: &Document) -> Ordering {
    let mut ia = a.iter();
    let mut ib = b.iter();
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ka, va)), Some((kb, vb))) => {
                let c = rank(va)
                    .cmp(&rank(vb))
                    .then_with(|| ka.as_bytes().cmp(kb.as_bytes()))
                    .then_with(|| compare(va, vb));
                if c != Ordering::Equal {
                    return c;
                }
            }
        }
    }
}

pub(crate) fn compare_arrays(a: &[Bson], b: &[Bson]) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let c = compare(x, y);
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

/// Sorts and removes duplicates (by BSON equality), as MongoDB's ordered `ValueSet`.
pub(crate) fn sorted_set(mut values: Vec<Bson>) -> Vec<Bson> {
    values.sort_by(compare);
    values.dedup_by(|x, y| compare(x, y) == Ordering::Equal);
    values
}

/// Membership by BSON equality.
pub(crate) fn contains(haystack: &[Bson], needle: &Bson) -> bool {
    haystack.iter().any(|v| compare(v, needle) == Ordering::Equal)
}

/// Raw value to owned; malformed values read as missing.
pub(crate) fn raw_to_bson(v: RawBsonRef<'_>) -> Value {
    Bson::try_from(v).ok()
}

/// C's `printf("%g", x)`: 6 significant digits, shortest of fixed/scientific, trailing
/// zeros removed (how MongoDB's string builder prints doubles).
pub(crate) fn format_double_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".to_string() } else { "inf".to_string() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".to_string() } else { "0".to_string() };
    }
    const P: i32 = 6;
    let sci = format!("{:.*e}", (P - 1) as usize, x);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (sci.clone(), 0),
    };
    if !(-4..P).contains(&exp) {
        let m = trim_fraction_zeros(&mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = usize::try_from(P - 1 - exp).unwrap_or(0);
        trim_fraction_zeros(&format!("{x:.decimals$}"))
    }
}

fn trim_fraction_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// MongoDB's `coerceToString` (used by `$toLower`, `$toUpper`, `$substr*`,
/// `$strcasecmp`): null/missing/undefined become `""`; other non-scalars are errors.
pub(crate) fn coerce_to_string(v: &Value) -> DocDbResult<String> {
    Ok(match v {
        None | Some(Bson::Null) | Some(Bson::Undefined) => String::new(),
        Some(Bson::String(s)) | Some(Bson::Symbol(s)) | Some(Bson::JavaScriptCode(s)) => s.clone(),
        Some(Bson::Double(d)) => format_double_g(*d),
        Some(Bson::Int32(i)) => i.to_string(),
        Some(Bson::Int64(i)) => i.to_string(),
        Some(Bson::Decimal128(d)) => arith::decimal_to_string(d),
        Some(Bson::Timestamp(t)) => format!("Timestamp({}, {})", t.time, t.increment),
        Some(Bson::DateTime(d)) => super::date::format_iso(d.timestamp_millis())?,
        Some(other) => {
            return Err(DocDbError::new(
                ErrorCode::new(16007),
                format!("can't convert from BSON type {} to String", documentdb_bson::type_name(other.element_type())),
            ))
        }
    })
}

/// MongoDB's `Value::toString()`-like rendering used inside error messages.
pub(crate) fn display(v: &Value) -> String {
    match v {
        None => "MISSING".to_string(),
        Some(Bson::String(s)) => format!("\"{s}\""),
        Some(Bson::Double(d)) => format_double_g(*d),
        Some(Bson::Decimal128(d)) => arith::decimal_to_string(d),
        Some(Bson::DateTime(d)) => super::date::format_iso(d.timestamp_millis()).unwrap_or_default(),
        Some(other) => {
            let mut out = String::new();
            write_display(other, &mut out);
            out
        }
    }
}

fn write_display(v: &Bson, out: &mut String) {
    use std::fmt::Write;
    match v {
        Bson::String(s) => {
            let _ = write!(out, "\"{s}\"");
        }
        Bson::Double(d) => out.push_str(&format_double_g(*d)),
        Bson::Int32(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Decimal128(d) => out.push_str(&arith::decimal_to_string(d)),
        Bson::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        Bson::Null => out.push_str("null"),
        Bson::Undefined => out.push_str("undefined"),
        Bson::Document(d) => {
            out.push('{');
            for (i, (k, val)) in d.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{k}: ");
                write_display(val, out);
            }
            out.push('}');
        }
        Bson::Array(a) => {
            out.push('[');
            for (i, val) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_display(val, out);
            }
            out.push(']');
        }
        Bson::DateTime(d) => {
            let _ = write!(out, "{}", super::date::format_iso(d.timestamp_millis()).unwrap_or_default());
        }
        Bson::ObjectId(o) => {
            let _ = write!(out, "{o}");
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Can the value be coerced to a date (`coercibleToDate`): dates, timestamps, ObjectIds.
pub(crate) fn coerce_to_date_millis(v: &Bson) -> Option<i64> {
    match v {
        Bson::DateTime(d) => Some(d.timestamp_millis()),
        Bson::Timestamp(t) => Some(i64::from(t.time) * 1000),
        Bson::ObjectId(o) => Some(o.timestamp().timestamp_millis()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::spec::BinarySubtype;
    use bson::{bson, Binary, Decimal128};
    use std::str::FromStr;

    /// The owned order is the raw order: every pair of a sample of values of every type
    /// (old binary, whose length counts its inner prefix, decimals against doubles,
    /// documents against arrays, nested values) compares the same both ways.
    #[test]
    fn owned_order_agrees_with_raw_order() {
        let dec = |s: &str| Bson::Decimal128(Decimal128::from_str(s).expect("decimal"));
        let bin = |subtype: u8, bytes: &[u8]| {
            Bson::Binary(Binary { subtype: BinarySubtype::from(subtype), bytes: bytes.to_vec() })
        };
        let samples = vec![
            Bson::MinKey,
            Bson::Undefined,
            Bson::Null,
            Bson::Double(f64::NAN),
            Bson::Int32(1),
            Bson::Int64(1),
            Bson::Double(0.1),
            dec("0.1"),
            dec("0.1000000000000000055511151231257827"),
            Bson::Int64(i64::MAX),
            Bson::String("a".into()),
            Bson::Symbol("a".into()),
            Bson::String("ab".into()),
            bson!({ "a": 1 }),
            bson!({ "a": 1.0, "b": [1, { "c": "x" }] }),
            bson!({ "b": 1 }),
            bson!([]),
            bson!([1, "a"]),
            bson!([[1], { "a": null }]),
            bin(0, &[1, 2, 3, 4, 5]),
            bin(2, &[1]),
            bin(0x80, &[9]),
            Bson::ObjectId(bson::oid::ObjectId::from_bytes([1; 12])),
            Bson::Boolean(false),
            Bson::Boolean(true),
            Bson::DateTime(bson::DateTime::from_millis(-5)),
            Bson::Timestamp(bson::Timestamp { time: 1, increment: 2 }),
            Bson::RegularExpression(bson::Regex {
                pattern: "a".to_string().try_into().expect("pattern"),
                options: "i".to_string().try_into().expect("options"),
            }),
            Bson::JavaScriptCode("f".into()),
            Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
                code: "f".into(),
                scope: bson::doc! { "x": 1 },
            }),
            Bson::MaxKey,
        ];
        for a in &samples {
            for b in &samples {
                let raw_a = RawBson::try_from(a.clone()).expect("raw");
                let raw_b = RawBson::try_from(b.clone()).expect("raw");
                let expected = documentdb_bson::compare_values(raw_a.as_raw_bson_ref(), raw_b.as_raw_bson_ref());
                assert_eq!(compare(a, b), expected, "{a:?} vs {b:?}");
            }
        }
    }
}
