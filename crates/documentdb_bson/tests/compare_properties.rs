//! Property tests of MongoDB's BSON comparison order ("BSON Types" → "Comparison/Sort
//! Order" in the MongoDB manual) and of the hash consistent with it.
//!
//! Values are generated across every BSON type, biased toward numbers that are equal
//! across int32/int64/double/decimal128 (1, 1i64, 1.0, 1.00, 1E+0, NaNs, ±0, 2^53 and its
//! neighbours, huge and tiny decimals) and nested in documents and arrays.

use documentdb_bson::bson::oid::ObjectId;
use documentdb_bson::bson::spec::BinarySubtype;
use documentdb_bson::bson::{
    Binary, DateTime, Decimal128, RawArrayBuf, RawBson, RawDocumentBuf, RawJavaScriptCodeWithScope, Regex, Timestamp,
};
use documentdb_bson::compare::{compare_documents, compare_values};
use documentdb_bson::hash::hash_value;
use documentdb_bson::number::{
    decimal_parts, decimal_to_f64, encode_decimal128, f64_to_decimal, f64_to_decimal128, Decimal128Parts, DecimalKind,
    DECIMAL_MAX_COEFFICIENT, DECIMAL_MAX_EXPONENT, DECIMAL_MIN_EXPONENT,
};
use proptest::prelude::*;
use std::cmp::Ordering;
use std::str::FromStr;

fn dec(s: &str) -> RawBson {
    RawBson::Decimal128(Decimal128::from_str(s).expect("decimal literal"))
}

fn dec_parts(p: &Decimal128Parts) -> Option<RawBson> {
    encode_decimal128(p).map(|b| RawBson::Decimal128(Decimal128::from_bytes(b)))
}

/// A DBPointer value (bson keeps its fields private, so it is decoded from bytes).
fn dbpointer(ns: &str, oid: [u8; 12]) -> RawBson {
    let ns = ns.as_bytes();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&((4 + 1 + 2 + 4 + ns.len() + 1 + 12 + 1) as i32).to_le_bytes());
    bytes.push(0x0C);
    bytes.extend_from_slice(b"v\0");
    bytes.extend_from_slice(&((ns.len() + 1) as i32).to_le_bytes());
    bytes.extend_from_slice(ns);
    bytes.push(0);
    bytes.extend_from_slice(&oid);
    bytes.push(0);
    let doc = RawDocumentBuf::from_bytes(bytes).expect("dbpointer doc");
    RawBson::from(doc.get("v").expect("decodes").expect("present"))
}

const TWO_53: i64 = 1 << 53;

/// Integers around interesting boundaries.
fn interesting_int() -> impl Strategy<Value = i64> {
    prop_oneof![
        -3i64..=3,
        Just(TWO_53 - 1),
        Just(TWO_53),
        Just(TWO_53 + 1),
        Just(-TWO_53 - 1),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MIN)),
        Just(i64::from(i32::MAX) + 1),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(i64::MAX - 1),
        Just(1_000_000_000_000_000_000),
        any::<i64>(),
    ]
}

fn interesting_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::from_bits(0x7ff8_0000_dead_beef)),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.1),
        Just(0.5),
        Just(1.0),
        Just(1.5),
        Just(TWO_53 as f64),
        Just(TWO_53 as f64 + 2.0),
        Just(9_223_372_036_854_775_808.0),
        Just(-9_223_372_036_854_775_808.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        interesting_int().prop_map(|i| i as f64),
        (-1000i32..1000).prop_map(|i| f64::from(i) / 8.0),
        any::<f64>(),
    ]
}

fn decimal_strings() -> impl Strategy<Value = RawBson> {
    prop_oneof![
        Just("0"),
        Just("-0"),
        Just("0E+300"),
        Just("1"),
        Just("1.00"),
        Just("1E+0"),
        Just("0.1E+1"),
        Just("-1.0"),
        Just("0.1"),
        Just("0.5"),
        Just("0.1000000000000000055511151231257827"),
        Just("0.1000000000000000055511151231257826"),
        Just("9007199254740993"),
        Just("9007199254740992.0"),
        Just("9223372036854775807"),
        Just("9223372036854775808"),
        Just("-9223372036854775808"),
        Just("1E+6111"),
        Just("-1E-6176"),
        Just("9999999999999999999999999999999999E+6111"),
        Just("NaN"),
        Just("-NaN"),
        Just("Infinity"),
        Just("-Infinity"),
    ]
    .prop_map(dec)
}

fn random_decimal() -> impl Strategy<Value = RawBson> {
    (
        any::<bool>(),
        prop_oneof![0u128..1000, 0u128..=DECIMAL_MAX_COEFFICIENT],
        prop_oneof![-40i32..40, DECIMAL_MIN_EXPONENT..=DECIMAL_MAX_EXPONENT],
    )
        .prop_filter_map("encodable", |(neg, c, e)| dec_parts(&Decimal128Parts::finite(neg, c, e)))
}

fn number() -> impl Strategy<Value = RawBson> {
    prop_oneof![
        interesting_int().prop_map(|i| match i32::try_from(i) {
            Ok(small) => RawBson::Int32(small),
            Err(_) => RawBson::Int64(i),
        }),
        interesting_int().prop_map(RawBson::Int64),
        interesting_double().prop_map(RawBson::Double),
        decimal_strings(),
        random_decimal(),
        // Decimals equal to a double under the 34-digit rule.
        interesting_double().prop_map(|d| RawBson::Decimal128(f64_to_decimal128(d))),
    ]
}

fn short_string() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[ab]{1,3}", "\\PC{0,6}"]
}

fn leaf() -> impl Strategy<Value = RawBson> {
    prop_oneof![
        6 => number(),
        2 => short_string().prop_map(RawBson::String),
        1 => short_string().prop_map(RawBson::Symbol),
        1 => (prop_oneof![Just(0u8), Just(2u8), Just(4u8), Just(0x80u8)], proptest::collection::vec(0u8..3, 0..4))
            .prop_map(|(subtype, bytes)| RawBson::Binary(Binary { subtype: BinarySubtype::from(subtype), bytes })),
        1 => (0u8..3).prop_map(|b| RawBson::ObjectId(ObjectId::from_bytes([b; 12]))),
        1 => any::<bool>().prop_map(RawBson::Boolean),
        1 => prop_oneof![Just(i64::MIN), -2i64..2, Just(i64::MAX)]
            .prop_map(|ms| RawBson::DateTime(DateTime::from_millis(ms))),
        1 => (prop_oneof![Just(0u32), Just(1), Just(u32::MAX)], 0u32..2)
            .prop_map(|(time, increment)| RawBson::Timestamp(Timestamp { time, increment })),
        1 => ("[ab]{0,2}", "[im]{0,1}").prop_map(|(p, o)| RawBson::RegularExpression(Regex {
            pattern: p.as_str().try_into().expect("no NUL"),
            options: o.as_str().try_into().expect("no NUL"),
        })),
        1 => ("[ab]{0,2}", 0u8..2).prop_map(|(ns, b)| dbpointer(&ns, [b; 12])),
        1 => "[ab]{0,2}".prop_map(RawBson::JavaScriptCode),
        1 => ("[ab]{0,2}", prop_oneof![Just(0i32), Just(1)]).prop_map(|(code, x)| {
            let mut scope = RawDocumentBuf::new();
            if x == 1 {
                scope.append(documentdb_bson::bson::raw::cstr!("x"), 1i32);
            }
            RawBson::JavaScriptCodeWithScope(RawJavaScriptCodeWithScope { code, scope })
        }),
        1 => prop_oneof![
            Just(RawBson::Null),
            Just(RawBson::Undefined),
            Just(RawBson::MinKey),
            Just(RawBson::MaxKey),
        ],
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![Just("a".to_owned()), Just("b".to_owned()), Just("".to_owned()), "[a-c]{2}"]
}

fn build_doc(fields: Vec<(String, RawBson)>) -> RawDocumentBuf {
    let mut d = RawDocumentBuf::new();
    for (k, v) in fields {
        let k: &documentdb_bson::bson::raw::CStr = k.as_str().try_into().expect("no NUL");
        d.append(k, v);
    }
    d
}

fn value() -> impl Strategy<Value = RawBson> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec((key(), inner.clone()), 0..4)
                .prop_map(|fields| RawBson::Document(build_doc(fields))),
            proptest::collection::vec(inner, 0..4)
                .prop_map(|items| RawBson::Array(items.into_iter().collect::<RawArrayBuf>())),
        ]
    })
}

fn cmp(a: &RawBson, b: &RawBson) -> Ordering {
    compare_values(a.as_raw_bson_ref(), b.as_raw_bson_ref())
}

fn hash(a: &RawBson, seed: u64) -> u64 {
    hash_value(a.as_raw_bson_ref(), seed)
}

/// A tiny deterministic generator for choosing among equal variants.
struct Choices(u64);

impl Choices {
    fn pick(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// An equal-but-differently-typed/encoded variant of a number, if one is picked.
fn equal_number(v: &RawBson, ch: &mut Choices) -> RawBson {
    let as_int = match v {
        RawBson::Int32(i) => Some(i64::from(*i)),
        RawBson::Int64(i) => Some(*i),
        RawBson::Double(d)
            if d.fract() == 0.0 && *d >= -9_223_372_036_854_775_808.0 && *d < 9_223_372_036_854_775_808.0 =>
        {
            Some(*d as i64)
        }
        RawBson::Decimal128(d) => decimal_parts(d).to_i64_exact(),
        _ => None,
    };
    if let Some(i) = as_int {
        let exact_double = (i as f64) as i128 == i128::from(i);
        return match ch.pick(6) {
            0 => i32::try_from(i).map_or(RawBson::Int64(i), RawBson::Int32),
            1 => RawBson::Int64(i),
            2 if exact_double => RawBson::Double(i as f64),
            3 if i == 0 => RawBson::Double(-0.0),
            3 => dec(&format!("{i}.000")),
            4 => dec(&format!("{i}")),
            _ => dec(&format!("{i}E+0")),
        };
    }
    match v {
        RawBson::Double(d) if d.is_nan() => match ch.pick(3) {
            0 => RawBson::Double(f64::NAN),
            1 => dec("-NaN"),
            _ => dec("NaN"),
        },
        RawBson::Double(d) => {
            let p = f64_to_decimal(*d);
            match ch.pick(3) {
                0 => RawBson::Double(*d),
                1 => dec_parts(&p).unwrap_or(RawBson::Double(*d)),
                _ => dec_parts(&p.normalized()).unwrap_or(RawBson::Double(*d)),
            }
        }
        RawBson::Decimal128(x) => {
            let p = decimal_parts(x);
            match p.kind {
                DecimalKind::NaN { .. } => RawBson::Double(f64::NAN),
                DecimalKind::Infinity => RawBson::Double(decimal_to_f64(&p)),
                DecimalKind::Finite => {
                    let n = p.normalized();
                    let nearest = decimal_to_f64(&p);
                    match ch.pick(3) {
                        0 if cmp(&RawBson::Double(nearest), v) == Ordering::Equal => RawBson::Double(nearest),
                        1 => dec_parts(&n).unwrap_or_else(|| v.clone()),
                        _ => {
                            // Pad with trailing zeros where the encoding allows.
                            let mut q = n;
                            while q.coefficient * 10 <= DECIMAL_MAX_COEFFICIENT
                                && q.exponent > DECIMAL_MIN_EXPONENT
                                && ch.pick(2) == 0
                            {
                                q.coefficient *= 10;
                                q.exponent -= 1;
                            }
                            if q.exponent > DECIMAL_MAX_EXPONENT {
                                v.clone()
                            } else {
                                dec_parts(&q).unwrap_or_else(|| v.clone())
                            }
                        }
                    }
                }
            }
        }
        other => other.clone(),
    }
}

/// A value equal to `v` under MongoDB's comparison but (usually) encoded differently.
fn equal_variant(v: &RawBson, ch: &mut Choices) -> RawBson {
    match v {
        RawBson::Int32(_) | RawBson::Int64(_) | RawBson::Double(_) | RawBson::Decimal128(_) => equal_number(v, ch),
        RawBson::String(s) if ch.pick(2) == 0 => RawBson::Symbol(s.clone()),
        RawBson::Symbol(s) if ch.pick(2) == 0 => RawBson::String(s.clone()),
        RawBson::Document(d) => {
            let fields = d
                .iter()
                .map(|r| {
                    let (k, v) = r.expect("generated documents decode");
                    (k.as_str().to_owned(), equal_variant(&RawBson::from(v), ch))
                })
                .collect();
            RawBson::Document(build_doc(fields))
        }
        RawBson::Array(a) => RawBson::Array(
            a.into_iter().map(|r| equal_variant(&RawBson::from(r.expect("decodes")), ch)).collect::<RawArrayBuf>(),
        ),
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn reflexive(a in value()) {
        prop_assert_eq!(cmp(&a, &a), Ordering::Equal);
        prop_assert_eq!(hash(&a, 3), hash(&a, 3));
    }

    #[test]
    fn antisymmetric(a in value(), b in value()) {
        prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
    }

    #[test]
    fn antisymmetric_numbers(a in number(), b in number()) {
        prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
    }

    #[test]
    fn transitive(a in value(), b in value(), c in value()) {
        check_transitive(&a, &b, &c)?;
    }

    #[test]
    fn transitive_numbers(a in number(), b in number(), c in number()) {
        check_transitive(&a, &b, &c)?;
    }

    #[test]
    fn equal_implies_same_hash(a in value(), b in value(), seed in any::<u64>()) {
        if cmp(&a, &b) == Ordering::Equal {
            prop_assert_eq!(hash(&a, seed), hash(&b, seed));
        }
    }

    #[test]
    fn equal_numbers_implies_same_hash(a in number(), b in number()) {
        if cmp(&a, &b) == Ordering::Equal {
            prop_assert_eq!(hash(&a, 0), hash(&b, 0), "{:?} == {:?}", a, b);
        }
    }

    #[test]
    fn constructed_equal_pairs_compare_equal_and_hash_equal(
        a in value(),
        choice in any::<u64>(),
        seed in any::<u64>(),
    ) {
        let b = equal_variant(&a, &mut Choices(choice));
        prop_assert_eq!(cmp(&a, &b), Ordering::Equal, "{:?} vs {:?}", a, b);
        prop_assert_eq!(hash(&a, seed), hash(&b, seed), "{:?} vs {:?}", a, b);
    }

    #[test]
    fn constructed_equal_numbers_hash_equal(a in number(), choice in any::<u64>()) {
        let b = equal_variant(&a, &mut Choices(choice));
        prop_assert_eq!(cmp(&a, &b), Ordering::Equal, "{:?} vs {:?}", a, b);
        prop_assert_eq!(hash(&a, 0), hash(&b, 0), "{:?} vs {:?}", a, b);
    }

    #[test]
    fn compare_documents_agrees_with_compare_values(
        fa in proptest::collection::vec((key(), value()), 0..4),
        fb in proptest::collection::vec((key(), value()), 0..4),
    ) {
        let (da, db) = (build_doc(fa), build_doc(fb));
        prop_assert_eq!(
            compare_documents(&da, &db),
            cmp(&RawBson::Document(da.clone()), &RawBson::Document(db.clone()))
        );
    }

    #[test]
    fn double_vs_decimal_matches_34_digit_conversion(d in interesting_double(), x in random_decimal()) {
        // The rule itself: compare(double, decimal) == compare(decimal34(double), decimal).
        let as_decimal = RawBson::Decimal128(f64_to_decimal128(d));
        prop_assert_eq!(cmp(&RawBson::Double(d), &x), cmp(&as_decimal, &x));
    }

    #[test]
    fn decimal_near_double_matches_34_digit_conversion(d in interesting_double(), delta in -2i64..=2) {
        // Decimals within a few units of the double's 34-digit image: the close cases.
        let mut p = f64_to_decimal(d);
        if p.is_finite() {
            p.coefficient = p.coefficient.saturating_add_signed(i128::from(delta));
        }
        if let Some(x) = dec_parts(&p) {
            let as_decimal = RawBson::Decimal128(f64_to_decimal128(d));
            prop_assert_eq!(cmp(&RawBson::Double(d), &x), cmp(&as_decimal, &x));
            prop_assert_eq!(cmp(&x, &RawBson::Double(d)), cmp(&x, &as_decimal));
        }
    }

    #[test]
    fn int64_vs_double_matches_i128_oracle(i in interesting_int(), d in interesting_double()) {
        let expected = if d.is_nan() {
            Ordering::Greater
        } else if d >= 1.0e38 {
            Ordering::Less
        } else if d <= -1.0e38 {
            Ordering::Greater
        } else {
            // |d| < 2^127: floor(d) is exact in i128.
            let fl = d.floor();
            match i128::from(i).cmp(&(fl as i128)) {
                Ordering::Equal if d > fl => Ordering::Less,
                o => o,
            }
        };
        prop_assert_eq!(cmp(&RawBson::Int64(i), &RawBson::Double(d)), expected);
    }
}

fn check_transitive(a: &RawBson, b: &RawBson, c: &RawBson) -> Result<(), TestCaseError> {
    // Every ordering of the triple: x <= y <= z implies x <= z, strict if either step is.
    let all = [a, b, c];
    for (i, j, k) in [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)] {
        let (x, y, z) = (all[i], all[j], all[k]);
        let (xy, yz, xz) = (cmp(x, y), cmp(y, z), cmp(x, z));
        if xy != Ordering::Greater && yz != Ordering::Greater {
            let expected =
                if xy == Ordering::Equal && yz == Ordering::Equal { Ordering::Equal } else { Ordering::Less };
            prop_assert_eq!(xz, expected, "{:?} {:?} {:?}", x, y, z);
        }
    }
    Ok(())
}
