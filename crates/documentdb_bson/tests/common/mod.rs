//! Shared proptest strategies: random BSON values and documents covering every BSON
//! type, in forms whose canonical Extended JSON round-trips byte for byte (canonical NaN,
//! canonical decimal128 encodings, sorted regex options, array keys "0", "1", ..., and
//! field names that are not `$`-prefixed, so no nested document reads as a type wrapper).
#![allow(dead_code)]

use bson::oid::ObjectId;
use bson::raw::{CString, RawArrayBuf, RawBson, RawDocument, RawDocumentBuf, RawJavaScriptCodeWithScope};
use bson::spec::BinarySubtype;
use bson::{Binary, DateTime, Decimal128, Regex, Timestamp};
use proptest::prelude::*;

/// Strings mixing arbitrary Unicode with the characters that need escaping in JSON:
/// quotes, backslashes, NUL and other control characters.
pub fn arb_string() -> impl Strategy<Value = String> {
    let interesting = prop_oneof![
        4 => any::<char>(),
        2 => (0u8..0x20).prop_map(char::from),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('/'),
        1 => Just('\u{7f}'),
        1 => Just('\u{2028}'),
        1 => Just('😀'),
        4 => proptest::char::range('a', 'z'),
    ];
    proptest::collection::vec(interesting, 0..12).prop_map(String::from_iter)
}

/// Strings without NUL (for C strings: keys, regex parts).
pub fn arb_cstring() -> impl Strategy<Value = String> {
    arb_string().prop_map(|s| s.replace('\0', ""))
}

/// Field names: no NUL and not starting with `$`.
pub fn arb_key() -> impl Strategy<Value = String> {
    arb_cstring().prop_map(|s| match s.strip_prefix('$') {
        Some(rest) => format!("_{rest}"),
        None => s,
    })
}

pub fn arb_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => any::<f64>().prop_map(|d| if d.is_nan() { f64::NAN } else { d }),
        2 => (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
        2 => (-1_000_000i64..1_000_000, 1u32..8).prop_map(|(i, p)| i as f64 / 10f64.powi(p as i32)),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(0.0),
        1 => Just(5e-324),
        1 => Just(f64::MAX),
        1 => Just(1e15),
        1 => Just(1e-5),
        1 => Just(9.999999999999999e-6),
    ]
}

pub fn arb_decimal() -> impl Strategy<Value = Decimal128> {
    let special = prop_oneof![
        Just("NaN"),
        Just("Infinity"),
        Just("-Infinity"),
        Just("0"),
        Just("-0"),
        Just("-0.0"),
        Just("0E+3"),
        Just("1.0"),
        Just("1.23E+20"),
        Just("-1E-6176"),
        Just("9.999999999999999999999999999999999E+6144"),
        Just("0.000001234"),
    ]
    .prop_map(str::to_owned);
    let finite = (any::<bool>(), 0u128..10_000_000_000_000_000_000_000_000_000_000_000, -6176i32..=6111).prop_map(
        |(negative, coefficient, exponent)| format!("{}{coefficient}E{exponent}", if negative { "-" } else { "" }),
    );
    let small = (-100_000i64..100_000, -8i32..4).prop_map(|(c, e)| format!("{c}E{e}"));
    prop_oneof![special, finite, small].prop_map(|s| s.parse::<Decimal128>().unwrap_or_else(|e| panic!("{s}: {e}")))
}

pub fn arb_binary() -> impl Strategy<Value = Binary> {
    let subtype = prop_oneof![0u8..=9, Just(0x80u8), any::<u8>()];
    (subtype, proptest::collection::vec(any::<u8>(), 0..24))
        .prop_map(|(subtype, bytes)| Binary { subtype: BinarySubtype::from(subtype), bytes })
}

pub fn arb_regex() -> impl Strategy<Value = Regex> {
    (arb_cstring(), proptest::collection::vec(any::<bool>(), 6)).prop_map(|(pattern, flags)| {
        let options: String = "ilmsux".chars().zip(flags).filter(|(_, on)| *on).map(|(c, _)| c).collect();
        Regex {
            pattern: CString::try_from(pattern).expect("no NUL"),
            options: CString::try_from(options).expect("no NUL"),
        }
    })
}

/// A DBPointer value (its fields are private in `bson`, so it is read out of bytes).
pub fn db_pointer(namespace: &str, oid: [u8; 12]) -> RawBson {
    let mut body = vec![0x0C, b'v', 0];
    body.extend_from_slice(&((namespace.len() + 1) as i32).to_le_bytes());
    body.extend_from_slice(namespace.as_bytes());
    body.push(0);
    body.extend_from_slice(&oid);
    let mut bytes = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&body);
    bytes.push(0);
    let doc = RawDocument::from_bytes(&bytes).expect("valid");
    RawBson::from(doc.get("v").expect("valid").expect("present"))
}

pub fn arb_scalar() -> impl Strategy<Value = RawBson> {
    prop_oneof![
        arb_double().prop_map(RawBson::Double),
        arb_string().prop_map(RawBson::String),
        any::<bool>().prop_map(RawBson::Boolean),
        Just(RawBson::Null),
        arb_regex().prop_map(RawBson::RegularExpression),
        arb_string().prop_map(RawBson::JavaScriptCode),
        any::<i32>().prop_map(RawBson::Int32),
        any::<i64>().prop_map(RawBson::Int64),
        (any::<u32>(), any::<u32>()).prop_map(|(time, increment)| RawBson::Timestamp(Timestamp { time, increment })),
        arb_binary().prop_map(RawBson::Binary),
        any::<[u8; 12]>().prop_map(|b| RawBson::ObjectId(ObjectId::from_bytes(b))),
        prop_oneof![any::<i64>(), -62_167_219_200_000i64..253_402_300_800_000]
            .prop_map(|ms| RawBson::DateTime(DateTime::from_millis(ms))),
        arb_string().prop_map(RawBson::Symbol),
        arb_decimal().prop_map(RawBson::Decimal128),
        Just(RawBson::Undefined),
        Just(RawBson::MaxKey),
        Just(RawBson::MinKey),
        (arb_string(), any::<[u8; 12]>()).prop_map(|(ns, oid)| db_pointer(&ns, oid)),
    ]
}

fn document_from(members: Vec<(String, RawBson)>) -> RawDocumentBuf {
    let mut doc = RawDocumentBuf::new();
    for (key, value) in members {
        doc.append(CString::try_from(key).expect("no NUL"), value);
    }
    doc
}

/// Any BSON value, containers nested up to 4 levels.
pub fn arb_value() -> impl Strategy<Value = RawBson> {
    arb_scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec((arb_key(), inner.clone()), 0..6)
                .prop_map(|members| RawBson::Document(document_from(members))),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(|items| {
                let mut array = RawArrayBuf::new();
                for item in items {
                    array.push(item);
                }
                RawBson::Array(array)
            }),
            (arb_string(), proptest::collection::vec((arb_key(), inner), 0..4)).prop_map(|(code, members)| {
                RawBson::JavaScriptCodeWithScope(RawJavaScriptCodeWithScope { code, scope: document_from(members) })
            }),
        ]
    })
}

/// A document of random values.
pub fn arb_document() -> impl Strategy<Value = RawDocumentBuf> {
    proptest::collection::vec((arb_key(), arb_value()), 0..8).prop_map(document_from)
}
