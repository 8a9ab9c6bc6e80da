//! Sort specifications and keys: MongoDB manual "Comparison/Sort Order" (arrays sort by
//! their smallest element ascending and largest descending; an empty array sorts before
//! null/missing) and `$sort`/`cursor.sort()`.

use bson::{doc, Bson, Decimal128, Document, RawBson, RawDocumentBuf};
use documentdb_errors::ErrorCode;
use documentdb_query::sort::{sort_key, SortSpec};
use proptest::prelude::*;
use std::str::FromStr;

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).unwrap()
}

fn spec(s: Document) -> SortSpec {
    SortSpec::parse(&raw(&s)).unwrap()
}

/// `_id`s of `docs` in sorted order (stable).
fn sorted(s: Document, docs: &[Document]) -> Vec<i32> {
    let sp = spec(s);
    let mut raws: Vec<RawDocumentBuf> = docs.iter().map(raw).collect();
    raws.sort_by(|a, b| sp.compare(a, b));
    raws.iter().map(|d| d.get_i32("_id").unwrap()).collect()
}

fn key(d: Document, path: &str, asc: bool) -> Bson {
    Bson::try_from(sort_key(&raw(&d), path, asc)).unwrap()
}

#[test]
fn parse_accepts_one_and_minus_one_of_any_numeric_type_per_manual_sort() {
    let s = spec(
        doc! {"a": 1, "b.c": -1, "d": 1.0, "e": -1_i64, "f": Bson::Decimal128(Decimal128::from_str("-1").unwrap())},
    );
    assert_eq!(s.len(), 5);
    assert!(!s.is_empty());
    assert_eq!(s.key(0), ("a", true));
    assert_eq!(s.key(1), ("b.c", false));
    assert_eq!(s.key(2), ("d", true));
    assert_eq!(s.key(3), ("e", false));
    assert_eq!(s.key(4), ("f", false));
    assert_eq!(s.key(9), ("", true));
    assert!(spec(doc! {}).is_empty());
}

#[test]
fn parse_errors_per_mongodb_sort_pattern() {
    let e = |s: Document| SortSpec::parse(&raw(&s)).unwrap_err();
    for bad in [doc! {"a": 0}, doc! {"a": 2}, doc! {"a": -0.5}, doc! {"a": f64::NAN}] {
        let err = e(bad);
        assert_eq!(err.code, ErrorCode::new(15975));
        assert_eq!(err.message, "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
    }
    let err = e(doc! {"a": "asc"});
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::new(15974), "Illegal key in $sort specification: a: \"asc\"")
    );
    assert_eq!(e(doc! {"a": true}).code, ErrorCode::new(15974));
    assert_eq!(e(doc! {"a": {"$meta": "textScore"}}).code, ErrorCode::NotImplemented);
    assert_eq!(e(doc! {"a": {"$meta": "textScore", "x": 1}}).code, ErrorCode::FailedToParse);
    assert_eq!(e(doc! {"a": {"$foo": 1}}).code, ErrorCode::new(17312));
    assert_eq!(e(doc! {"": 1}).code, ErrorCode::new(40352));
    assert_eq!(e(doc! {"a..b": 1}).code, ErrorCode::new(15998));
    assert_eq!(e(doc! {"$a": 1}).code, ErrorCode::new(16410));
}

#[test]
fn sorts_numbers_across_types_per_manual_comparison_sort_order() {
    let docs = [
        doc! {"_id": 1, "a": 2.5},
        doc! {"_id": 2, "a": 1_i64},
        doc! {"_id": 3, "a": Bson::Decimal128(Decimal128::from_str("1.5").unwrap())},
        doc! {"_id": 4, "a": -3},
    ];
    assert_eq!(sorted(doc! {"a": 1}, &docs), vec![4, 2, 3, 1]);
    assert_eq!(sorted(doc! {"a": -1}, &docs), vec![1, 3, 2, 4]);
}

#[test]
fn sorts_by_bson_type_order_per_manual_comparison_sort_order() {
    let docs = [
        doc! {"_id": 1, "a": "x"},
        doc! {"_id": 2, "a": 5},
        doc! {"_id": 3, "a": null},
        doc! {"_id": 4, "a": {"b": 1}},
        doc! {"_id": 5, "a": true},
        doc! {"_id": 6, "a": Bson::MinKey},
        doc! {"_id": 7, "a": Bson::MaxKey},
        doc! {"_id": 8, "a": bson::DateTime::from_millis(0)},
        doc! {"_id": 9, "a": bson::oid::ObjectId::from_bytes([0; 12])},
    ];
    assert_eq!(sorted(doc! {"a": 1}, &docs), vec![6, 3, 2, 1, 4, 9, 5, 8, 7]);
}

#[test]
fn missing_sorts_as_null_and_ties_keep_input_order_per_manual_sort_consistency() {
    let docs = [
        doc! {"_id": 1, "a": 1},
        doc! {"_id": 2},
        doc! {"_id": 3, "a": null},
        doc! {"_id": 4},
        doc! {"_id": 5, "a": 0},
    ];
    assert_eq!(sorted(doc! {"a": 1}, &docs), vec![2, 3, 4, 5, 1]);
    assert_eq!(sorted(doc! {"a": -1}, &docs), vec![1, 5, 2, 3, 4]);
    assert_eq!(key(doc! {"x": 1}, "a", true), Bson::Null);
}

#[test]
fn arrays_sort_by_min_ascending_and_max_descending_per_manual_comparison_sort_order_arrays() {
    let docs = [
        doc! {"_id": 1, "a": [1, 5]},
        doc! {"_id": 2, "a": 3},
        doc! {"_id": 3, "a": [2, 4]},
        doc! {"_id": 4, "a": [6]},
    ];
    assert_eq!(sorted(doc! {"a": 1}, &docs), vec![1, 3, 2, 4]);
    assert_eq!(sorted(doc! {"a": -1}, &docs), vec![4, 1, 3, 2]);
    assert_eq!(key(doc! {"a": [3, 1, 2]}, "a", true), Bson::Int32(1));
    assert_eq!(key(doc! {"a": [3, 1, 2]}, "a", false), Bson::Int32(3));
    // Mixed types in one array: the type order decides.
    assert_eq!(key(doc! {"a": ["x", 7, null]}, "a", true), Bson::Null);
    assert_eq!(key(doc! {"a": ["x", 7, null]}, "a", false), Bson::String("x".into()));
}

#[test]
fn empty_array_sorts_before_null_and_missing_per_manual_comparison_sort_order_arrays() {
    let docs = [doc! {"_id": 1, "a": null}, doc! {"_id": 2, "a": []}, doc! {"_id": 3}, doc! {"_id": 4, "a": 1}];
    assert_eq!(sorted(doc! {"a": 1}, &docs), vec![2, 1, 3, 4]);
    assert_eq!(sorted(doc! {"a": -1}, &docs), vec![4, 1, 3, 2]);
    assert_eq!(key(doc! {"a": []}, "a", true), Bson::Undefined);
}

#[test]
fn nested_arrays_are_not_flattened_per_manual_comparison_sort_order_arrays() {
    // Elements of [[1], 2] are [1] and 2: numbers sort before arrays.
    assert_eq!(key(doc! {"a": [[1], 2]}, "a", true), Bson::Int32(2));
    assert_eq!(key(doc! {"a": [[1], 2]}, "a", false), Bson::Array(vec![Bson::Int32(1)]));
}

#[test]
fn dotted_paths_gather_values_through_arrays_of_documents() {
    let d = doc! {"a": [{"b": 3}, {"b": [1, 7]}, {"b": 2}]};
    assert_eq!(key(d.clone(), "a.b", true), Bson::Int32(1));
    assert_eq!(key(d, "a.b", false), Bson::Int32(7));
    // An element document missing the field contributes null.
    let d = doc! {"a": [{"b": 2}, {"c": 1}]};
    assert_eq!(key(d.clone(), "a.b", true), Bson::Null);
    assert_eq!(key(d, "a.b", false), Bson::Int32(2));
    // Scalars in the array contribute null too; an empty array contributes null.
    assert_eq!(key(doc! {"a": [5, {"b": 2}]}, "a.b", true), Bson::Null);
    assert_eq!(key(doc! {"a": []}, "a.b", true), Bson::Null);
    // Positional components select one element.
    assert_eq!(key(doc! {"a": [{"b": 9}, {"b": 1}]}, "a.0.b", true), Bson::Int32(9));
    assert_eq!(key(doc! {"a": [[4, 3], 1]}, "a.0", true), Bson::Int32(3));
    // Embedded documents.
    assert_eq!(key(doc! {"a": {"b": {"c": "x"}}}, "a.b.c", true), Bson::String("x".into()));
    assert_eq!(key(doc! {"a": {"b": 1}}, "a", true), Bson::Document(doc! {"b": 1}));
    assert_eq!(key(doc! {"a": 1}, "a.b", true), Bson::Null);
}

#[test]
fn compound_sort_uses_later_keys_for_ties_per_manual_sort_on_multiple_fields() {
    let docs = [
        doc! {"_id": 1, "age": 30, "name": "b"},
        doc! {"_id": 2, "age": 25, "name": "z"},
        doc! {"_id": 3, "age": 30, "name": "a"},
        doc! {"_id": 4, "age": 25, "name": "a"},
    ];
    assert_eq!(sorted(doc! {"age": -1, "name": 1}, &docs), vec![3, 1, 4, 2]);
    assert_eq!(sorted(doc! {"name": 1, "age": 1}, &docs), vec![4, 3, 1, 2]);
}

#[test]
fn sort_key_returns_borrowed_value_types_unchanged() {
    let k = sort_key(&raw(&doc! {"a": [2_i64, 1.5]}), "a", true);
    assert_eq!(k, RawBson::Double(1.5));
}

fn value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        (-3i32..3).prop_map(Bson::Int32),
        prop::sample::select(vec![-1.5, 0.5, f64::NAN]).prop_map(Bson::Double),
        prop::sample::select(vec!["a", "b"]).prop_map(|s: &str| Bson::String(s.into())),
        Just(Bson::Null),
        Just(Bson::Boolean(false)),
        Just(Bson::MinKey),
    ];
    leaf.prop_recursive(3, 10, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Bson::Array),
            inner.prop_map(|v| Bson::Document(doc! {"b": v})),
        ]
    })
}

fn document() -> impl Strategy<Value = Document> {
    prop::option::of(value()).prop_map(|v| v.map_or_else(|| doc! {}, |v| doc! {"a": v}))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `compare` is a total preorder: antisymmetric and transitive, for every direction.
    #[test]
    fn sort_key_ordering_is_a_total_preorder(
        x in document(), y in document(), z in document(),
        s in prop::sample::select(vec![doc! {"a": 1}, doc! {"a": -1}, doc! {"a.b": 1}, doc! {"a.b": -1}, doc! {"a.0": 1}]),
    ) {
        let sp = SortSpec::parse(&raw(&s)).unwrap();
        let (x, y, z) = (raw(&x), raw(&y), raw(&z));
        prop_assert_eq!(sp.compare(&x, &y), sp.compare(&y, &x).reverse());
        prop_assert_eq!(sp.compare(&x, &x), std::cmp::Ordering::Equal);
        if sp.compare(&x, &y).is_le() && sp.compare(&y, &z).is_le() {
            prop_assert!(sp.compare(&x, &z).is_le());
        }
    }
}
