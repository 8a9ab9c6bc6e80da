//! MongoDB's textual rendering of values inside error messages (`BSONElement::toString`,
//! `BSONObj::toString`), so update errors read exactly like the server's:
//! `{_id: 1}`, `a: [ 1, 2 ]`, `{ $set: { a.$[x]: 1 } }`, `1.0`.
use bson::{Bson, Document};
use std::fmt::Write;

/// `BSONElement::toString()` with the field name: `a: 1`, `a: { b: "x" }`.
pub(crate) fn element(name: &str, value: &Bson) -> String {
    let mut out = String::new();
    out.push_str(name);
    out.push_str(": ");
    write_value(&mut out, value);
    out
}

/// `BSONObj::toString()`: `{ a: 1, b: [ 2 ] }`, `{}` when empty.
pub(crate) fn document(doc: &Document) -> String {
    let mut out = String::new();
    write_document(&mut out, doc);
    out
}

fn write_document(out: &mut String, doc: &Document) {
    if doc.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{ ");
    for (i, (k, v)) in doc.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push_str(": ");
        write_value(out, v);
    }
    out.push_str(" }");
}

fn write_array(out: &mut String, items: &[Bson]) {
    if items.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push_str("[ ");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(out, v);
    }
    out.push_str(" ]");
}

fn write_value(out: &mut String, value: &Bson) {
    match value {
        Bson::Document(d) => write_document(out, d),
        Bson::Array(a) => write_array(out, a),
        Bson::DateTime(d) => {
            let _ = write!(out, "new Date({})", d.timestamp_millis());
        }
        Bson::RegularExpression(r) => {
            let _ = write!(out, "/{}/{}", r.pattern.as_str(), r.options.as_str());
        }
        Bson::Double(d) => out.push_str(&double_nice(*d)),
        Bson::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Int32(i) => {
            let _ = write!(out, "{i}");
        }
        Bson::Decimal128(d) => {
            let _ = write!(out, "{d}");
        }
        Bson::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Bson::Undefined => out.push_str("undefined"),
        Bson::Null => out.push_str("null"),
        Bson::MaxKey => out.push_str("MaxKey"),
        Bson::MinKey => out.push_str("MinKey"),
        Bson::JavaScriptCodeWithScope(c) => {
            out.push_str("CodeWScope( ");
            out.push_str(&c.code);
            out.push_str(", ");
            write_document(out, &c.scope);
            out.push(')');
        }
        Bson::JavaScriptCode(code) => {
            if code.len() > 80 {
                out.push_str(truncate(code, 70));
                out.push_str("...");
            } else {
                out.push_str(code);
            }
        }
        Bson::String(s) | Bson::Symbol(s) => {
            out.push('"');
            if s.len() + 1 > 160 {
                out.push_str(truncate(s, 150));
                out.push_str("...\"");
            } else {
                out.push_str(s);
                out.push('"');
            }
        }
        Bson::DbPointer(_) => out.push_str(&db_pointer(value)),
        Bson::ObjectId(oid) => {
            let _ = write!(out, "ObjectId('{}')", oid.to_hex());
        }
        Bson::Binary(b) => {
            let subtype = u8::from(b.subtype);
            if subtype == 4 && b.bytes.len() == 16 {
                let h = hex_lower(&b.bytes);
                let _ =
                    write!(out, "UUID(\"{}-{}-{}-{}-{}\")", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]);
            } else if b.bytes.len() > 80 {
                let _ = write!(out, "BinData({subtype}, {}...)", hex_upper(&b.bytes[..70]));
            } else {
                let _ = write!(out, "BinData({subtype}, {})", hex_upper(&b.bytes));
            }
        }
        Bson::Timestamp(ts) => {
            let _ = write!(out, "Timestamp({}, {})", ts.time, ts.increment);
        }
    }
}

/// The first `max` bytes of `s`, cut back to a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `DBRef('ns', oid)` (the namespace and id are only reachable through the encoding).
fn db_pointer(value: &Bson) -> String {
    let mut doc = Document::new();
    doc.insert("v", value.clone());
    let Ok(bytes) = doc.to_vec() else {
        return "DBRef()".to_owned();
    };
    // Layout: int32 size, type byte, "v\0", int32 string length, string bytes + NUL, 12-byte
    // ObjectId, document terminator.
    let parsed = (|| {
        let len_bytes: [u8; 4] = bytes.get(7..11)?.try_into().ok()?;
        let len = usize::try_from(i32::from_le_bytes(len_bytes)).ok()?;
        let ns = bytes.get(11..11 + len.checked_sub(1)?)?;
        let oid = bytes.get(11 + len..11 + len + 12)?;
        Some(format!("DBRef('{}',{})", String::from_utf8_lossy(ns), hex_lower(oid)))
    })();
    parsed.unwrap_or_else(|| "DBRef()".to_owned())
}

/// `StringBuilder::appendDoubleNice`: C's `%.16g`, with `.0` appended when the text has no
/// `.`, `E` or `N` (so `1.0`, `1e+20.0`, `inf.0`, as the server prints them).
pub(crate) fn double_nice(d: f64) -> String {
    let mut s = format_g16(d);
    if !s.contains('.') && !s.contains('E') && !s.contains('N') {
        s.push_str(".0");
    }
    s
}

/// C's `printf("%.16g", d)`.
pub(crate) fn format_g16(d: f64) -> String {
    const P: i32 = 16;
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan".to_owned() } else { "nan".to_owned() };
    }
    if d.is_infinite() {
        return if d < 0.0 { "-inf".to_owned() } else { "inf".to_owned() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    // Round to P significant digits first to learn the decimal exponent X.
    let sci = format!("{:.*e}", (P - 1) as usize, d);
    let (mantissa, exp) = match sci.split_once('e') {
        Some((m, e)) => (m.to_owned(), e.parse::<i32>().unwrap_or(0)),
        None => (sci.clone(), 0),
    };
    if !(-4..P).contains(&exp) {
        let m = strip_fraction_zeros(&mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = usize::try_from(P - 1 - exp).unwrap_or(0);
        let fixed = format!("{:.*}", decimals, d);
        strip_fraction_zeros(&fixed)
    }
}

fn strip_fraction_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

/// The aggregation `Value`/`Document` rendering used by pipeline-stage errors:
/// `{_id: 1, a: "x"}`, `[1, 2]`.
pub(crate) fn agg_value(value: Option<&Bson>) -> String {
    let mut out = String::new();
    match value {
        None => out.push_str("MISSING"),
        Some(v) => write_agg(&mut out, v),
    }
    out
}

/// Aggregation rendering of a whole document.
pub(crate) fn agg_document(doc: &Document) -> String {
    let mut out = String::new();
    write_agg_document(&mut out, doc);
    out
}

fn write_agg_document(out: &mut String, doc: &Document) {
    out.push('{');
    for (i, (k, v)) in doc.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push_str(": ");
        write_agg(out, v);
    }
    out.push('}');
}

fn write_agg(out: &mut String, value: &Bson) {
    match value {
        Bson::Document(d) => write_agg_document(out, d),
        Bson::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_agg(out, v);
            }
            out.push(']');
        }
        Bson::String(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        other => write_value(out, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn doubles_print_like_mongod() {
        assert_eq!(double_nice(1.0), "1.0");
        assert_eq!(double_nice(2.5), "2.5");
        assert_eq!(double_nice(-0.0), "-0.0");
        assert_eq!(double_nice(0.1), "0.1");
        assert_eq!(double_nice(1e20), "1e+20.0");
        assert_eq!(double_nice(1e15), "1000000000000000.0");
        assert_eq!(double_nice(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(double_nice(0.0001), "0.0001");
        assert_eq!(double_nice(0.00001), "1e-05.0");
        assert_eq!(double_nice(f64::INFINITY), "inf.0");
    }

    #[test]
    fn documents_and_arrays() {
        let d = doc! { "a": 1, "b": [1, "x"], "c": {}, "d": [] };
        assert_eq!(document(&d), "{ a: 1, b: [ 1, \"x\" ], c: {}, d: [] }");
        assert_eq!(element("a", &Bson::Int64(5)), "a: 5");
        assert_eq!(agg_document(&doc! {"_id": 1, "s": "x"}), "{_id: 1, s: \"x\"}");
    }
}
