//! MongoDB's comparison/sort order across BSON types.
//!
//! Implements the "Comparison/Sort Order" of the MongoDB manual's "BSON Types" page
//! (MinKey < Undefined < Null < Numbers < Symbol, String < Object < Array < BinData <
//! ObjectId < Boolean < Date < Timestamp < Regular Expression < DBPointer < JavaScript <
//! JavaScript with scope < MaxKey) with the per-type value rules of MongoDB's
//! `compareElementValues` and `BSONObj::woCompare`.
//!
//! Everything works on borrowed bytes: documents and arrays are walked with
//! [`crate::raw_reader`], which neither allocates nor re-validates UTF-8.

use crate::raw_reader::{with_val, Elements, Val};

use bson::spec::ElementType;
use bson::{RawArray, RawBsonRef, RawDocument};
use std::cmp::Ordering;

/// Nesting depth beyond which documents/arrays are compared (and hashed) by their raw
/// bytes instead of structurally, to bound recursion on hostile input. Valid documents
/// never get there (`validate::MAX_NESTING_DEPTH` is far lower).
pub(crate) const MAX_STRUCTURAL_DEPTH: usize = 256;

/// MongoDB's canonical type rank (`canonicalizeBSONType`): values of different ranks
/// order by rank; all numeric types share rank 10 and String/Symbol share rank 15.
pub fn canonical_type_rank(t: ElementType) -> i32 {
    match t {
        ElementType::MinKey => -1,
        ElementType::Undefined => 0,
        ElementType::Null => 5,
        ElementType::Int32 | ElementType::Int64 | ElementType::Double | ElementType::Decimal128 => 10,
        ElementType::String | ElementType::Symbol => 15,
        ElementType::EmbeddedDocument => 20,
        ElementType::Array => 25,
        ElementType::Binary => 30,
        ElementType::ObjectId => 35,
        ElementType::Boolean => 40,
        ElementType::DateTime => 45,
        ElementType::Timestamp => 47,
        ElementType::RegularExpression => 50,
        ElementType::DbPointer => 55,
        ElementType::JavaScriptCode => 60,
        ElementType::JavaScriptCodeWithScope => 65,
        ElementType::MaxKey => 127,
    }
}

/// Total order of two values as MongoDB sorts them (type order first, numbers by value
/// across int32/int64/double/decimal128 with NaN below all numbers and equal to itself,
/// strings by bytes, documents/arrays element-wise comparing type, field name, value).
pub fn compare_values(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> Ordering {
    // Hot path: two values of the same common type need no conversion machinery.
    match (a, b) {
        (RawBsonRef::Int32(x), RawBsonRef::Int32(y)) => return x.cmp(&y),
        (RawBsonRef::String(x), RawBsonRef::String(y)) => return x.as_bytes().cmp(y.as_bytes()),
        (RawBsonRef::ObjectId(x), RawBsonRef::ObjectId(y)) => return x.bytes().cmp(&y.bytes()),
        (RawBsonRef::Document(x), RawBsonRef::Document(y)) => return compare_documents(x, y),
        _ => {}
    }
    with_val(a, |va| with_val(b, |vb| cmp_val(&va, &vb, 0)))
}

/// Document comparison as MongoDB's BSONObj::woCompare with field names considered.
pub fn compare_documents(a: &RawDocument, b: &RawDocument) -> Ordering {
    cmp_elements(a.as_bytes(), b.as_bytes(), true, 1)
}

/// Array comparison: element by element (type rank, then value); a proper prefix sorts
/// first. Index keys are not compared (they are equal position-wise).
pub fn compare_arrays(a: &RawArray, b: &RawArray) -> Ordering {
    cmp_elements(a.as_bytes(), b.as_bytes(), false, 1)
}

/// Compares two values of any types; `depth` is the nesting depth of `a`/`b` (0 for a
/// top-level value; the elements of a top-level document are at depth 1). The hash walks
/// with the same depths so that both switch to the byte fallback at the same level.
#[inline]
pub(crate) fn cmp_val(a: &Val<'_>, b: &Val<'_>, depth: usize) -> Ordering {
    let (ra, rb) = (a.rank(), b.rank());
    if ra != rb {
        return ra.cmp(&rb);
    }
    cmp_same_rank(a, b, depth)
}

/// Compares two values already known to have the same canonical rank.
fn cmp_same_rank(a: &Val<'_>, b: &Val<'_>, depth: usize) -> Ordering {
    match (a, b) {
        (Val::Number(x), Val::Number(y)) => x.compare(y),
        (Val::String(x) | Val::Symbol(x), Val::String(y) | Val::Symbol(y)) => x.cmp(y),
        (Val::Document(x), Val::Document(y)) => cmp_elements(x, y, true, depth + 1),
        (Val::Array(x), Val::Array(y)) => cmp_elements(x, y, false, depth + 1),
        (Val::Binary { len: la, subtype: sa, data: da }, Val::Binary { len: lb, subtype: sb, data: db }) => {
            la.cmp(lb).then(sa.cmp(sb)).then_with(|| da.cmp(db))
        }
        (Val::ObjectId(x), Val::ObjectId(y)) => x.cmp(y),
        (Val::Boolean(x), Val::Boolean(y)) => x.cmp(y),
        (Val::DateTime(x), Val::DateTime(y)) => x.cmp(y),
        (Val::Timestamp(x), Val::Timestamp(y)) => x.cmp(y),
        (Val::Regex { pattern: pa, options: oa }, Val::Regex { pattern: pb, options: ob }) => {
            pa.cmp(pb).then_with(|| oa.cmp(ob))
        }
        (Val::DbPointer { namespace: na, oid: ia }, Val::DbPointer { namespace: nb, oid: ib }) => {
            // MongoDB: value size first (i.e. namespace length), then the raw bytes.
            na.len().cmp(&nb.len()).then_with(|| na.cmp(nb)).then_with(|| ia.cmp(ib))
        }
        (Val::Code(x), Val::Code(y)) => x.cmp(y),
        (Val::CodeWithScope { code: ca, scope: sa }, Val::CodeWithScope { code: cb, scope: sb }) => {
            ca.cmp(cb).then_with(|| cmp_elements(sa, sb, true, depth + 1))
        }
        // MinKey, Undefined, Null, MaxKey, Invalid: a single value per rank.
        _ => Ordering::Equal,
    }
}

/// Element-wise comparison of two documents' (or arrays') bytes as `BSONObj::woCompare`:
/// per element compare canonical type rank, then (for documents) the field name, then
/// the value; the one that runs out of elements first is smaller.
pub(crate) fn cmp_elements(a: &[u8], b: &[u8], field_names: bool, depth: usize) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    if depth > MAX_STRUCTURAL_DEPTH {
        return a.cmp(b);
    }
    let mut ia = Elements::new(a);
    let mut ib = Elements::new(b);
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ka, va)), Some((kb, vb))) => {
                let (ra, rb) = (va.rank(), vb.rank());
                if ra != rb {
                    return ra.cmp(&rb);
                }
                if field_names {
                    let o = ka.cmp(kb);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                let o = cmp_same_rank(&va, &vb, depth);
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! One test per rule of the MongoDB manual, "BSON Types" → "Comparison/Sort Order",
    //! and of MongoDB's `compareElementValues` for the per-type value rules.
    use super::*;
    use bson::oid::ObjectId;
    use bson::spec::BinarySubtype;
    use bson::{rawdoc, Binary, DateTime, Decimal128, RawBson, RawDocumentBuf, Regex, Timestamp};
    use std::str::FromStr;

    fn dec(s: &str) -> RawBson {
        RawBson::Decimal128(Decimal128::from_str(s).expect("decimal literal"))
    }

    fn cmp(a: &RawBson, b: &RawBson) -> Ordering {
        let o = compare_values(a.as_raw_bson_ref(), b.as_raw_bson_ref());
        // Every rule must hold both ways.
        assert_eq!(
            compare_values(b.as_raw_bson_ref(), a.as_raw_bson_ref()),
            o.reverse(),
            "antisymmetry for {a:?} vs {b:?}"
        );
        o
    }

    fn assert_ascending(values: &[RawBson]) {
        for (i, a) in values.iter().enumerate() {
            for (j, b) in values.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a:?} vs {b:?}");
            }
        }
    }

    fn doc_value(d: RawDocumentBuf) -> RawBson {
        RawBson::Document(d)
    }

    fn regex(p: &str, o: &str) -> RawBson {
        RawBson::RegularExpression(Regex {
            pattern: bson::raw::CString::try_from(p).expect("pattern"),
            options: bson::raw::CString::try_from(o).expect("options"),
        })
    }

    fn dbpointer(ns: &str, oid: [u8; 12]) -> RawBson {
        // bson keeps DbPointer's fields private: build it from Extended JSON bytes.
        let mut bytes = Vec::new();
        let ns = ns.as_bytes();
        let len = (ns.len() + 1) as i32;
        let body_len = 4 + 1 + 2 + 4 + ns.len() + 1 + 12 + 1;
        bytes.extend_from_slice(&(body_len as i32).to_le_bytes());
        bytes.push(0x0C);
        bytes.extend_from_slice(b"v\0");
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(ns);
        bytes.push(0);
        bytes.extend_from_slice(&oid);
        bytes.push(0);
        let doc = RawDocumentBuf::from_bytes(bytes).expect("dbpointer doc");
        let v = doc.get("v").expect("decodes").expect("present");
        RawBson::from(v)
    }

    #[test]
    fn canonical_type_ranks_match_mongodb() {
        use ElementType::*;
        let order = [
            MinKey,
            Undefined,
            Null,
            Double,
            String,
            EmbeddedDocument,
            Array,
            Binary,
            ObjectId,
            Boolean,
            DateTime,
            Timestamp,
            RegularExpression,
            DbPointer,
            JavaScriptCode,
            JavaScriptCodeWithScope,
            MaxKey,
        ];
        for w in order.windows(2) {
            assert!(canonical_type_rank(w[0]) < canonical_type_rank(w[1]));
        }
        assert_eq!(canonical_type_rank(Int32), canonical_type_rank(Decimal128));
        assert_eq!(canonical_type_rank(Int64), canonical_type_rank(Double));
        assert_eq!(canonical_type_rank(Symbol), canonical_type_rank(String));
    }

    #[test]
    fn type_order_follows_bson_types_sort_order() {
        // MongoDB manual, BSON Types, Comparison/Sort Order.
        let oid = ObjectId::from_bytes([1; 12]);
        assert_ascending(&[
            RawBson::MinKey,
            RawBson::Undefined,
            RawBson::Null,
            RawBson::Int32(i32::MAX),
            RawBson::String(String::new()),
            doc_value(rawdoc! {}),
            RawBson::Array(bson::RawArrayBuf::new()),
            RawBson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![] }),
            RawBson::ObjectId(oid),
            RawBson::Boolean(false),
            RawBson::DateTime(DateTime::from_millis(i64::MIN)),
            RawBson::Timestamp(Timestamp { time: 0, increment: 0 }),
            regex("", ""),
            dbpointer("", [0; 12]),
            RawBson::JavaScriptCode(String::new()),
            RawBson::JavaScriptCodeWithScope(bson::RawJavaScriptCodeWithScope {
                code: String::new(),
                scope: rawdoc! {},
            }),
            RawBson::MaxKey,
        ]);
    }

    #[test]
    fn min_key_below_undefined_below_null() {
        assert_ascending(&[RawBson::MinKey, RawBson::Undefined, RawBson::Null]);
        assert_eq!(cmp(&RawBson::Null, &RawBson::Null), Ordering::Equal);
        assert_eq!(cmp(&RawBson::MaxKey, &RawBson::MaxKey), Ordering::Equal);
    }

    #[test]
    fn numbers_compare_by_value_across_types() {
        let ones =
            [RawBson::Int32(1), RawBson::Int64(1), RawBson::Double(1.0), dec("1.00"), dec("1E+0"), dec("0.1E+1")];
        for a in &ones {
            for b in &ones {
                assert_eq!(cmp(a, b), Ordering::Equal, "{a:?} vs {b:?}");
            }
        }
        assert_ascending(&[
            RawBson::Double(f64::NEG_INFINITY),
            RawBson::Int64(i64::MIN),
            RawBson::Int32(-1),
            dec("-0.5"),
            RawBson::Int32(0),
            RawBson::Double(0.5),
            dec("1.5"),
            RawBson::Int64(2),
            dec("Infinity"),
        ]);
    }

    #[test]
    fn nan_sorts_below_all_numbers() {
        let nans = [RawBson::Double(f64::NAN), RawBson::Double(-f64::NAN), dec("NaN"), dec("-NaN")];
        for a in &nans {
            for b in &nans {
                assert_eq!(cmp(a, b), Ordering::Equal);
            }
            for n in [
                RawBson::Double(f64::NEG_INFINITY),
                dec("-Infinity"),
                RawBson::Int64(i64::MIN),
                RawBson::Int32(i32::MIN),
            ] {
                assert_eq!(cmp(a, &n), Ordering::Less);
            }
            // But numbers (NaN included) still sort above null.
            assert_eq!(cmp(a, &RawBson::Null), Ordering::Greater);
        }
    }

    #[test]
    fn negative_zero_equals_zero() {
        for z in [RawBson::Int32(0), RawBson::Double(0.0), dec("0"), dec("-0E+5")] {
            assert_eq!(cmp(&RawBson::Double(-0.0), &z), Ordering::Equal);
        }
    }

    #[test]
    fn infinities_are_ordered() {
        assert_ascending(&[
            RawBson::Double(f64::NEG_INFINITY),
            RawBson::Double(-f64::MAX),
            RawBson::Double(f64::MAX),
            RawBson::Double(f64::INFINITY),
        ]);
        assert_eq!(cmp(&RawBson::Double(f64::INFINITY), &dec("Infinity")), Ordering::Equal);
        assert_eq!(cmp(&dec("9.9E+6144"), &RawBson::Double(f64::INFINITY)), Ordering::Less);
    }

    #[test]
    fn int64_beyond_2_53_vs_double_exact() {
        let two53 = 1i64 << 53;
        assert_eq!(cmp(&RawBson::Int64(two53 + 1), &RawBson::Double(two53 as f64)), Ordering::Greater);
        assert_eq!(cmp(&RawBson::Int64(two53), &RawBson::Double(two53 as f64)), Ordering::Equal);
        assert_eq!(cmp(&RawBson::Int64(i64::MAX), &RawBson::Double(i64::MAX as f64)), Ordering::Less);
        assert_eq!(cmp(&RawBson::Int64(i64::MIN), &RawBson::Double(i64::MIN as f64)), Ordering::Equal);
    }

    #[test]
    fn decimal_vs_decimal_exact() {
        assert_eq!(cmp(&dec("1.0"), &dec("1.000")), Ordering::Equal);
        assert_eq!(cmp(&dec("1.000000000000000000000000000000001"), &dec("1")), Ordering::Greater);
        assert_eq!(cmp(&dec("-1E+6111"), &dec("-Infinity")), Ordering::Greater);
    }

    #[test]
    fn decimal_vs_int_exact() {
        assert_eq!(cmp(&dec("9223372036854775807"), &RawBson::Int64(i64::MAX)), Ordering::Equal);
        assert_eq!(cmp(&dec("9223372036854775807.0000000000001"), &RawBson::Int64(i64::MAX)), Ordering::Greater);
        assert_eq!(cmp(&dec("-2147483648.5"), &RawBson::Int32(i32::MIN)), Ordering::Less);
    }

    #[test]
    fn decimal_vs_double_uses_34_digit_rounding() {
        // MongoDB converts the double to Decimal128 with 34 significant digits:
        // 0.1 → 0.1000000000000000055511151231257827 (exact value ...827021181...).
        let d = RawBson::Double(0.1);
        assert_eq!(cmp(&dec("0.1"), &d), Ordering::Less);
        assert_eq!(cmp(&dec("0.1000000000000000055511151231257827"), &d), Ordering::Equal);
        // Digits beyond the 34th of the double do not count…
        assert_eq!(cmp(&dec("0.1000000000000000055511151231257826"), &d), Ordering::Less);
        assert_eq!(cmp(&dec("0.1000000000000000055511151231257828"), &d), Ordering::Greater);
        // …and exactly representable doubles compare exactly.
        assert_eq!(cmp(&dec("0.5"), &RawBson::Double(0.5)), Ordering::Equal);
        assert_eq!(cmp(&dec("9007199254740993"), &RawBson::Double(9007199254740992.0)), Ordering::Greater);
        assert_eq!(cmp(&dec("NaN"), &RawBson::Double(f64::NAN)), Ordering::Equal);
    }

    #[test]
    fn non_canonical_decimal_compares_as_zero() {
        let v = ((6176u128) << 113) | 10u128.pow(34);
        let d = RawBson::Decimal128(Decimal128::from_bytes(v.to_le_bytes()));
        assert_eq!(cmp(&d, &RawBson::Int32(0)), Ordering::Equal);
    }

    #[test]
    fn string_compares_bytewise_shorter_prefix_first() {
        let s = |x: &str| RawBson::String(x.to_owned());
        assert_ascending(&[s(""), s("A"), s("B"), s("a"), s("ab"), s("b"), s("é")]);
    }

    #[test]
    fn string_and_symbol_compare_as_strings() {
        let sym = RawBson::Symbol("abc".to_owned());
        assert_eq!(cmp(&sym, &RawBson::String("abc".into())), Ordering::Equal);
        assert_eq!(cmp(&sym, &RawBson::String("abd".into())), Ordering::Less);
        assert_eq!(cmp(&RawBson::Symbol("b".into()), &RawBson::String("abc".into())), Ordering::Greater);
    }

    #[test]
    fn document_compares_type_before_field_name() {
        // {b: 1} < {a: "x"}: number rank (10) < string rank (15) decides first.
        assert_eq!(cmp(&doc_value(rawdoc! {"b": 1}), &doc_value(rawdoc! {"a": "x"})), Ordering::Less);
    }

    #[test]
    fn document_compares_field_name_before_value() {
        assert_eq!(cmp(&doc_value(rawdoc! {"a": 5}), &doc_value(rawdoc! {"b": 1})), Ordering::Less);
        // Same-rank types: field name first, then the value across numeric types.
        assert_eq!(cmp(&doc_value(rawdoc! {"a": 1i64}), &doc_value(rawdoc! {"a": 1.0})), Ordering::Equal);
    }

    #[test]
    fn document_with_fewer_elements_is_smaller() {
        assert_ascending(&[
            doc_value(rawdoc! {}),
            doc_value(rawdoc! {"a": 1}),
            doc_value(rawdoc! {"a": 1, "b": 1}),
            doc_value(rawdoc! {"a": 2}),
        ]);
    }

    #[test]
    fn document_recursion_compares_nested_values() {
        assert_eq!(
            cmp(
                &doc_value(rawdoc! {"a": {"x": [1, {"y": 2.0}]}}),
                &doc_value(rawdoc! {"a": {"x": [1i64, {"y": 2i32}]}})
            ),
            Ordering::Equal
        );
        assert_eq!(
            cmp(&doc_value(rawdoc! {"a": {"x": [1, {"y": 2.0}]}}), &doc_value(rawdoc! {"a": {"x": [1, {"y": 2.5}]}})),
            Ordering::Less
        );
    }

    #[test]
    fn array_compares_elementwise_then_length() {
        let arr = |d: RawDocumentBuf| RawBson::from(d.get("a").expect("decodes").expect("present"));
        assert_ascending(&[
            arr(rawdoc! {"a": []}),
            arr(rawdoc! {"a": [null]}),
            arr(rawdoc! {"a": [1]}),
            arr(rawdoc! {"a": [1, 2]}),
            arr(rawdoc! {"a": [1, "a"]}),
            arr(rawdoc! {"a": [2]}),
            arr(rawdoc! {"a": ["a"]}),
        ]);
    }

    #[test]
    fn array_index_keys_are_ignored() {
        // Index keys that are not "0", "1", ... (not valid in practice) do not matter.
        let a = rawdoc! {"0": 1, "1": 2};
        let b = rawdoc! {"x": 1, "y": 2};
        assert_eq!(cmp_elements(a.as_bytes(), b.as_bytes(), false, 0), Ordering::Equal);
        assert_ne!(cmp_elements(a.as_bytes(), b.as_bytes(), true, 0), Ordering::Equal);
    }

    #[test]
    fn binary_compares_length_then_subtype_then_bytes() {
        let bin = |subtype: u8, bytes: &[u8]| {
            RawBson::Binary(Binary { subtype: BinarySubtype::from(subtype), bytes: bytes.to_vec() })
        };
        assert_ascending(&[
            bin(0x80, &[9]),
            bin(0x00, &[0, 0]),
            bin(0x00, &[0, 1]),
            bin(0x04, &[0, 0]),
            bin(0x00, &[0, 0, 0]),
        ]);
        // Old binary (subtype 2): its BSON length counts the inner length prefix.
        assert_eq!(cmp(&bin(2, &[1]), &bin(0, &[1, 2, 3, 4])), Ordering::Greater);
        assert_eq!(cmp(&bin(2, &[1]), &bin(0, &[1, 2, 3, 4, 5])), Ordering::Greater);
        assert_eq!(cmp(&bin(2, &[1]), &bin(0, &[1, 2, 3, 4, 5, 6])), Ordering::Less);
    }

    #[test]
    fn object_id_compares_bytes() {
        let o = |b: u8| RawBson::ObjectId(ObjectId::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b]));
        assert_ascending(&[o(0), o(1), o(255)]);
    }

    #[test]
    fn boolean_false_below_true() {
        assert_ascending(&[RawBson::Boolean(false), RawBson::Boolean(true)]);
    }

    #[test]
    fn datetime_compares_signed() {
        let d = |ms: i64| RawBson::DateTime(DateTime::from_millis(ms));
        assert_ascending(&[d(i64::MIN), d(-1), d(0), d(1), d(i64::MAX)]);
    }

    #[test]
    fn timestamp_compares_unsigned_time_then_increment() {
        let t = |time: u32, increment: u32| RawBson::Timestamp(Timestamp { time, increment });
        assert_ascending(&[t(0, 0), t(0, u32::MAX), t(1, 0), t(1 << 31, 0), t(u32::MAX, 5)]);
    }

    #[test]
    fn regex_compares_pattern_then_options() {
        assert_ascending(&[regex("a", "x"), regex("ab", ""), regex("ab", "i"), regex("b", "")]);
    }

    #[test]
    fn dbpointer_compares_size_then_bytes() {
        // Longer namespace → larger regardless of content (value size first).
        assert_ascending(&[
            dbpointer("z", [9; 12]),
            dbpointer("aa", [0; 12]),
            dbpointer("aa", [1; 12]),
            dbpointer("ab", [0; 12]),
        ]);
    }

    #[test]
    fn code_compares_as_string() {
        let c = |s: &str| RawBson::JavaScriptCode(s.to_owned());
        assert_ascending(&[c(""), c("a"), c("b")]);
        // Code is its own type, above DBPointer and below code-with-scope.
        assert_eq!(cmp(&c("a"), &RawBson::String("a".into())), Ordering::Greater);
    }

    #[test]
    fn code_with_scope_compares_code_then_scope() {
        let c = |code: &str, scope: RawDocumentBuf| {
            RawBson::JavaScriptCodeWithScope(bson::RawJavaScriptCodeWithScope { code: code.to_owned(), scope })
        };
        assert_ascending(&[
            c("a", rawdoc! {"z": 1}),
            c("b", rawdoc! {}),
            c("b", rawdoc! {"x": 1}),
            c("b", rawdoc! {"x": 2}),
        ]);
    }

    #[test]
    fn compare_documents_matches_compare_values() {
        let a = rawdoc! {"a": 1, "b": [1, 2]};
        let b = rawdoc! {"a": 1, "b": [1, 3]};
        assert_eq!(compare_documents(&a, &b), Ordering::Less);
        assert_eq!(compare_values(RawBsonRef::Document(&a), RawBsonRef::Document(&b)), Ordering::Less);
    }

    #[test]
    fn undecodable_element_sorts_above_max_key_without_panic() {
        // {a: <element with unknown type 0x20>} — not valid BSON.
        let bad = RawDocument::from_bytes(b"\x0c\0\0\0\x20a\0\x01\x02\x03\x04\0").expect("frame is well-formed");
        let max = rawdoc! {"a": bson::RawBson::MaxKey};
        assert_eq!(compare_documents(bad, &max), Ordering::Greater);
        assert_eq!(compare_documents(&max, bad), Ordering::Less);
        assert_eq!(compare_documents(bad, bad), Ordering::Equal);
        // Truncated string length inside a well-framed document.
        let bad2 = RawDocument::from_bytes(b"\x0e\0\0\0\x02a\0\xff\0\0\0b\0\0").expect("frame is well-formed");
        assert_eq!(compare_documents(bad2, &max), Ordering::Greater);
        assert_eq!(compare_documents(bad, bad2), Ordering::Equal);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // 2000 levels of {a: {a: ...}}: falls back to byte order below the depth cap.
        fn nested(depth: usize, leaf: i32) -> Vec<u8> {
            let mut d = rawdoc! {"a": leaf}.into_bytes();
            for _ in 0..depth {
                let mut out = Vec::with_capacity(d.len() + 8);
                out.extend_from_slice(&((d.len() + 8) as i32).to_le_bytes());
                out.push(0x03);
                out.extend_from_slice(b"a\0");
                out.extend_from_slice(&d);
                out.push(0);
                d = out;
            }
            d
        }
        let a = nested(2000, 1);
        let b = nested(2000, 2);
        let a = RawDocument::from_bytes(&a).expect("valid");
        let b = RawDocument::from_bytes(&b).expect("valid");
        assert_eq!(compare_documents(a, b), Ordering::Less);
        assert_eq!(compare_documents(a, a), Ordering::Equal);
    }
}
