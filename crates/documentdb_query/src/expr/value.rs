//! Helpers over owned `bson::Bson` values with MongoDB's aggregation semantics: type
//! names, truthiness, the cross-type comparison order, string coercion.
use std::cmp::Ordering;

use bson::spec::BinarySubtype;
use bson::{Bson, Document, RawBsonRef};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::arith::{self, Num};
use crate::Value;

/// MongoDB's `typeName` for a value (`"missing"` for a missing value).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        None => "missing",
        Some(b) => bson_type_name(b),
    }
}

pub(crate) fn bson_type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::DbPointer(_) => "dbPointer",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
    }
}

/// BSON type number (`$type`'s numeric aliases, `$convert`'s numeric `to`).
pub(crate) fn type_from_name(name: &str) -> Option<i32> {
    Some(match name {
        "double" => 1,
        "string" => 2,
        "object" => 3,
        "array" => 4,
        "binData" => 5,
        "undefined" => 6,
        "objectId" => 7,
        "bool" => 8,
        "date" => 9,
        "null" => 10,
        "regex" => 11,
        "dbPointer" => 12,
        "javascript" => 13,
        "symbol" => 14,
        "javascriptWithScope" => 15,
        "int" => 16,
        "timestamp" => 17,
        "long" => 18,
        "decimal" => 19,
        "minKey" => -1,
        "maxKey" => 127,
        _ => return None,
    })
}

pub(crate) fn type_name_from_number(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "double",
        2 => "string",
        3 => "object",
        4 => "array",
        5 => "binData",
        6 => "undefined",
        7 => "objectId",
        8 => "bool",
        9 => "date",
        10 => "null",
        11 => "regex",
        12 => "dbPointer",
        13 => "javascript",
        14 => "symbol",
        15 => "javascriptWithScope",
        16 => "int",
        17 => "timestamp",
        18 => "long",
        19 => "decimal",
        -1 => "minKey",
        127 => "maxKey",
        _ => return None,
    })
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

/// MongoDB's canonical type rank; missing ranks with undefined.
pub(crate) fn type_rank(v: &Value) -> i32 {
    match v {
        None => 0,
        Some(b) => bson_rank(b),
    }
}

fn bson_rank(v: &Bson) -> i32 {
    match v {
        Bson::MinKey => -1,
        Bson::Undefined => 0,
        Bson::Null => 5,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 10,
        Bson::String(_) | Bson::Symbol(_) => 15,
        Bson::Document(_) => 20,
        Bson::Array(_) => 25,
        Bson::Binary(_) => 30,
        Bson::ObjectId(_) => 35,
        Bson::Boolean(_) => 40,
        Bson::DateTime(_) => 45,
        Bson::Timestamp(_) => 47,
        Bson::RegularExpression(_) => 50,
        Bson::DbPointer(_) => 55,
        Bson::JavaScriptCode(_) => 60,
        Bson::JavaScriptCodeWithScope(_) => 65,
        Bson::MaxKey => 127,
    }
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

/// Compares two BSON values in MongoDB's order (type rank first; numbers by value; strings
/// by bytes; documents field by field comparing type rank, name, then value).
pub(crate) fn compare(a: &Bson, b: &Bson) -> Ordering {
    let (ra, rb) = (bson_rank(a), bson_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        _ if ra == 10 => match (Num::from_bson(a), Num::from_bson(b)) {
            (Some(x), Some(y)) => arith::compare(x, y),
            _ => Ordering::Equal,
        },
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::Document(x), Bson::Document(y)) => compare_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => compare_arrays(x, y),
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then_with(|| u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then_with(|| x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => (x.time, x.increment).cmp(&(y.time, y.increment)),
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => x
            .pattern
            .as_str()
            .as_bytes()
            .cmp(y.pattern.as_str().as_bytes())
            .then_with(|| x.options.as_str().as_bytes().cmp(y.options.as_str().as_bytes())),
        (Bson::DbPointer(_), Bson::DbPointer(_)) => {
            let ea = bson::doc! { "": a.clone() }.to_vec().unwrap_or_default();
            let eb = bson::doc! { "": b.clone() }.to_vec().unwrap_or_default();
            ea.len().cmp(&eb.len()).then_with(|| ea.cmp(&eb))
        }
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code.as_bytes().cmp(y.code.as_bytes()).then_with(|| compare_documents(&x.scope, &y.scope))
        }
        _ => Ordering::Equal,
    }
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
                let c = bson_rank(va)
                    .cmp(&bson_rank(vb))
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
        let c = bson_rank(x).cmp(&bson_rank(y)).then_with(|| compare(x, y));
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
                format!("can't convert from BSON type {} to String", bson_type_name(other)),
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

/// A container inside a value, for [`nesting_exceeds`].
enum Container<'a> {
    Document(&'a Document),
    Array(&'a [Bson]),
}

fn container(v: &Bson) -> Option<Container<'_>> {
    match v {
        Bson::Document(d) => Some(Container::Document(d)),
        Bson::Array(a) => Some(Container::Array(a)),
        Bson::JavaScriptCodeWithScope(c) => Some(Container::Document(&c.scope)),
        _ => None,
    }
}

/// Whether `value` nests documents/arrays deeper than `max`, counting as
/// `documentdb_bson::validate` does (the value itself is at depth 0, the containers in it
/// at depth 1, ...). Iterative: safe on values of any depth.
pub(crate) fn nesting_exceeds(value: &Bson, max: usize) -> bool {
    match container(value) {
        Some(root) => container_nesting_exceeds(root, max),
        None => false,
    }
}

/// [`nesting_exceeds`] for a document.
pub(crate) fn document_nesting_exceeds(doc: &Document, max: usize) -> bool {
    container_nesting_exceeds(Container::Document(doc), max)
}

fn container_nesting_exceeds(root: Container<'_>, max: usize) -> bool {
    fn push_children<'a>(
        children: impl Iterator<Item = &'a Bson>,
        depth: usize,
        max: usize,
        pending: &mut Vec<(Container<'a>, usize)>,
    ) -> bool {
        for child in children {
            if let Some(c) = container(child) {
                if depth + 1 > max {
                    return true;
                }
                pending.push((c, depth + 1));
            }
        }
        false
    }
    let mut pending = vec![(root, 0usize)];
    while let Some((c, depth)) = pending.pop() {
        let exceeded = match c {
            Container::Document(d) => push_children(d.values(), depth, max, &mut pending),
            Container::Array(a) => push_children(a.iter(), depth, max, &mut pending),
        };
        if exceeded {
            return true;
        }
    }
    false
}

/// MongoDB's check when a value built at run time is converted to BSON: Overflow, nested
/// deeper than [`MAX_VALUE_DEPTH`](documentdb_bson::MAX_VALUE_DEPTH).
pub(crate) fn check_value_depth(value: &Bson) -> DocDbResult<()> {
    if nesting_exceeds(value, documentdb_bson::MAX_VALUE_DEPTH) {
        return Err(value_too_deep());
    }
    Ok(())
}

/// [`check_value_depth`] for a document.
pub(crate) fn check_document_depth(doc: &Document) -> DocDbResult<()> {
    if document_nesting_exceeds(doc, documentdb_bson::MAX_VALUE_DEPTH) {
        return Err(value_too_deep());
    }
    Ok(())
}

#[cold]
fn value_too_deep() -> DocDbError {
    DocDbError::new(
        ErrorCode::Overflow,
        format!(
            "cannot convert document to BSON because it exceeds the limit of {} levels of nesting",
            documentdb_bson::MAX_VALUE_DEPTH
        ),
    )
}

/// Approximate in-memory size of a value (for limits only).
pub(crate) fn approximate_size(v: &Bson) -> usize {
    match v {
        Bson::String(s) => 16 + s.len(),
        Bson::Document(d) => 16 + d.iter().map(|(k, v)| k.len() + approximate_size(v)).sum::<usize>(),
        Bson::Array(a) => 16 + a.iter().map(approximate_size).sum::<usize>(),
        Bson::Binary(b) => 16 + b.bytes.len(),
        _ => 16,
    }
}

/// Is this binary a UUID (subtype 4)?
#[allow(dead_code)]
pub(crate) fn is_uuid(b: &bson::Binary) -> bool {
    b.subtype == BinarySubtype::Uuid
}
