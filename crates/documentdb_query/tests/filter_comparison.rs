//! Comparison operators, implicit equality, null/missing and array semantics, dotted
//! paths. Test names cite the MongoDB manual page or rule they check.

use bson::{doc, Bson, Decimal128, Document, RawDocumentBuf};
use documentdb_query::filter::Filter;
use std::str::FromStr;

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).unwrap()
}

fn filter(f: Document) -> Filter {
    Filter::parse(&raw(&f)).unwrap_or_else(|e| panic!("parse {f}: {e:?}"))
}

fn m(f: Document, d: Document) -> bool {
    filter(f).matches(&raw(&d)).unwrap()
}

/// The `_id`s of `docs` that match `f`.
fn ids(f: Document, docs: &[Document]) -> Vec<i32> {
    let fl = filter(f);
    docs.iter().filter(|d| fl.matches(&raw(d)).unwrap()).map(|d| d.get_i32("_id").unwrap()).collect()
}

fn dec(s: &str) -> Bson {
    Bson::Decimal128(Decimal128::from_str(s).unwrap())
}

fn regex(p: &str, o: &str) -> Bson {
    Bson::RegularExpression(bson::Regex { pattern: p.try_into().unwrap(), options: o.try_into().unwrap() })
}

#[test]
fn eq_matches_scalar_per_manual_eq_equals_specified_value() {
    let docs = [doc! {"_id": 1, "qty": 20}, doc! {"_id": 2, "qty": 25}, doc! {"_id": 3}];
    assert_eq!(ids(doc! {"qty": {"$eq": 20}}, &docs), vec![1]);
    assert_eq!(ids(doc! {"qty": 20}, &docs), vec![1]);
}

#[test]
fn eq_matches_embedded_field_per_manual_eq_field_in_embedded_document() {
    let docs = [doc! {"_id": 1, "item": {"name": "ab", "code": "123"}}, doc! {"_id": 2, "item": {"name": "cd"}}];
    assert_eq!(ids(doc! {"item.name": {"$eq": "ab"}}, &docs), vec![1]);
}

#[test]
fn eq_matches_array_element_per_manual_query_arrays() {
    let docs = [
        doc! {"_id": 1, "tags": ["A", "B"]},
        doc! {"_id": 2, "tags": ["B", "C"]},
        doc! {"_id": 3, "tags": "B"},
        doc! {"_id": 4, "tags": ["C"]},
    ];
    assert_eq!(ids(doc! {"tags": "B"}, &docs), vec![1, 2, 3]);
    assert_eq!(ids(doc! {"tags": {"$eq": "B"}}, &docs), vec![1, 2, 3]);
}

#[test]
fn eq_array_operand_matches_whole_array_exactly_per_manual_query_arrays() {
    let docs = [
        doc! {"_id": 1, "tags": ["red", "blank"]},
        doc! {"_id": 2, "tags": ["blank", "red"]},
        doc! {"_id": 3, "tags": ["red", "blank", "plain"]},
        doc! {"_id": 4, "tags": [["red", "blank"], "x"]},
    ];
    assert_eq!(ids(doc! {"tags": ["red", "blank"]}, &docs), vec![1, 4]);
}

#[test]
fn eq_empty_array_operand_matches_empty_array_per_manual_query_arrays() {
    let docs = [doc! {"_id": 1, "a": []}, doc! {"_id": 2, "a": [[]]}, doc! {"_id": 3, "a": [1]}, doc! {"_id": 4}];
    assert_eq!(ids(doc! {"a": []}, &docs), vec![1, 2]);
}

#[test]
fn eq_nested_arrays_are_not_flattened_per_manual_query_arrays() {
    assert!(!m(doc! {"a": 1}, doc! {"a": [[1]]}));
    assert!(m(doc! {"a": [1]}, doc! {"a": [[1], 2]}));
}

#[test]
fn eq_document_is_exact_and_field_order_sensitive_per_manual_query_embedded_documents() {
    let docs = [
        doc! {"_id": 1, "size": {"h": 14, "w": 21, "uom": "cm"}},
        doc! {"_id": 2, "size": {"w": 21, "h": 14, "uom": "cm"}},
        doc! {"_id": 3, "size": {"h": 14, "w": 21}},
    ];
    assert_eq!(ids(doc! {"size": {"h": 14, "w": 21, "uom": "cm"}}, &docs), vec![1]);
    assert_eq!(ids(doc! {"size": {"w": 21, "h": 14, "uom": "cm"}}, &docs), vec![2]);
}

#[test]
fn eq_document_element_of_array_per_manual_query_array_of_embedded_documents() {
    let docs = [
        doc! {"_id": 1, "instock": [{"warehouse": "A", "qty": 5}, {"warehouse": "C", "qty": 15}]},
        doc! {"_id": 2, "instock": [{"qty": 5, "warehouse": "A"}]},
    ];
    assert_eq!(ids(doc! {"instock": {"warehouse": "A", "qty": 5}}, &docs), vec![1]);
}

#[test]
fn numeric_types_compare_by_value_per_manual_comparison_sort_order() {
    for v in [Bson::Int32(1), Bson::Int64(1), Bson::Double(1.0), dec("1.00"), dec("1")] {
        assert!(m(doc! {"a": 1}, doc! {"a": v.clone()}), "{{a: 1}} vs {v:?}");
        assert!(m(doc! {"a": dec("1.0")}, doc! {"a": v.clone()}), "decimal operand vs {v:?}");
        assert!(m(doc! {"a": {"$in": [Bson::Int64(1)]}}, doc! {"a": v.clone()}));
    }
    assert!(!m(doc! {"a": 1}, doc! {"a": 1.5}));
    assert!(m(doc! {"a": {"$gt": 1}}, doc! {"a": dec("1.000000000000000000000000000000001")}));
    // int64 vs double is exact: 2^53 + 1 is not equal to the double 2^53.
    assert!(!m(doc! {"a": 9_007_199_254_740_992.0_f64}, doc! {"a": 9_007_199_254_740_993_i64}));
}

#[test]
fn range_operators_per_manual_gt_gte_lt_lte() {
    let docs = [doc! {"_id": 1, "q": 15}, doc! {"_id": 2, "q": 20}, doc! {"_id": 3, "q": 25}, doc! {"_id": 4}];
    assert_eq!(ids(doc! {"q": {"$gt": 20}}, &docs), vec![3]);
    assert_eq!(ids(doc! {"q": {"$gte": 20}}, &docs), vec![2, 3]);
    assert_eq!(ids(doc! {"q": {"$lt": 20}}, &docs), vec![1]);
    assert_eq!(ids(doc! {"q": {"$lte": 20}}, &docs), vec![1, 2]);
    assert_eq!(ids(doc! {"q": {"$gt": 15, "$lt": 25}}, &docs), vec![2]);
}

#[test]
fn range_operators_use_type_bracketing_per_manual_comparison_sort_order() {
    let docs = [
        doc! {"_id": 1, "a": "10"},
        doc! {"_id": 2, "a": 10},
        doc! {"_id": 3, "a": true},
        doc! {"_id": 4, "a": null},
        doc! {"_id": 5, "a": {"x": 1}},
        doc! {"_id": 6, "a": bson::DateTime::from_millis(10)},
    ];
    assert_eq!(ids(doc! {"a": {"$gt": 5}}, &docs), vec![2]);
    assert_eq!(ids(doc! {"a": {"$lt": 100}}, &docs), vec![2]);
    assert_eq!(ids(doc! {"a": {"$gte": ""}}, &docs), vec![1]);
    assert_eq!(ids(doc! {"a": {"$gt": {}}}, &docs), vec![5]);
    assert_eq!(ids(doc! {"a": {"$gte": bson::DateTime::from_millis(0)}}, &docs), vec![6]);
}

#[test]
fn range_on_array_matches_elements_in_combination_per_manual_query_arrays_compound_filter() {
    let docs = [
        doc! {"_id": 1, "dim_cm": [14, 21]},
        doc! {"_id": 2, "dim_cm": [22.85, 30]},
        doc! {"_id": 3, "dim_cm": [10, 15.25]},
        doc! {"_id": 4, "dim_cm": [25]},
    ];
    assert_eq!(ids(doc! {"dim_cm": {"$gt": 25}}, &docs), vec![2]);
    // One element may satisfy $gt and another $lt.
    assert_eq!(ids(doc! {"dim_cm": {"$gt": 15, "$lt": 20}}, &docs), vec![1, 3]);
    // $elemMatch requires one element to satisfy both.
    assert_eq!(ids(doc! {"dim_cm": {"$elemMatch": {"$gt": 22, "$lt": 30}}}, &docs), vec![2, 4]);
    // Index position.
    assert_eq!(ids(doc! {"dim_cm.1": {"$gt": 25}}, &docs), vec![2]);
}

#[test]
fn range_on_arrays_compares_whole_array_too_per_manual_comparison_sort_order_arrays() {
    // [1, 2] < [1, 3] element-wise; the whole array is a candidate besides its elements.
    assert!(m(doc! {"a": {"$lt": [1, 3]}}, doc! {"a": [1, 2]}));
    assert!(!m(doc! {"a": {"$gt": [1, 3]}}, doc! {"a": [1, 2]}));
}

#[test]
fn null_matches_null_missing_and_undefined_per_manual_query_null_or_missing_fields() {
    let docs = [
        doc! {"_id": 1, "item": null},
        doc! {"_id": 2},
        doc! {"_id": 3, "item": Bson::Undefined},
        doc! {"_id": 4, "item": 0},
        doc! {"_id": 5, "item": [1, null]},
        doc! {"_id": 6, "item": [1, 2]},
        doc! {"_id": 7, "item": false},
    ];
    assert_eq!(ids(doc! {"item": null}, &docs), vec![1, 2, 3, 5]);
    assert_eq!(ids(doc! {"item": {"$eq": null}}, &docs), vec![1, 2, 3, 5]);
    assert_eq!(ids(doc! {"item": {"$in": [null]}}, &docs), vec![1, 2, 3, 5]);
    // Type check matches only the null value.
    assert_eq!(ids(doc! {"item": {"$type": 10}}, &docs), vec![1, 5]);
    // Existence check matches only the missing field.
    assert_eq!(ids(doc! {"item": {"$exists": false}}, &docs), vec![2]);
    // $ne null is the negation.
    assert_eq!(ids(doc! {"item": {"$ne": null}}, &docs), vec![4, 6, 7]);
}

#[test]
fn null_on_dotted_paths_per_manual_query_null_or_missing_fields() {
    let docs = [
        doc! {"_id": 1, "a": {}},
        doc! {"_id": 2, "a": {"b": null}},
        doc! {"_id": 3, "a": {"b": 1}},
        doc! {"_id": 4, "a": [{"b": 1}, {"c": 2}]},
        doc! {"_id": 5, "a": [{"b": 1}, {"b": 2}]},
        doc! {"_id": 6, "a": 4},
        doc! {"_id": 7},
        // MongoDB's element iterator yields nothing for scalars inside an array when the
        // path continues, so no "missing" candidate exists.
        doc! {"_id": 8, "a": [1, 2]},
        doc! {"_id": 9, "a": []},
    ];
    assert_eq!(ids(doc! {"a.b": null}, &docs), vec![1, 2, 4, 6, 7]);
    assert_eq!(ids(doc! {"a.b": {"$ne": null}}, &docs), vec![3, 5, 8, 9]);
}

#[test]
fn gte_null_is_equality_to_null_and_lt_null_matches_nothing_per_comparison_rules() {
    let docs =
        [doc! {"_id": 1, "a": null}, doc! {"_id": 2}, doc! {"_id": 3, "a": 1}, doc! {"_id": 4, "a": Bson::Undefined}];
    assert_eq!(ids(doc! {"a": {"$gte": null}}, &docs), vec![1, 2, 4]);
    assert_eq!(ids(doc! {"a": {"$lte": null}}, &docs), vec![1, 2, 4]);
    assert_eq!(ids(doc! {"a": {"$lt": null}}, &docs), Vec::<i32>::new());
    assert_eq!(ids(doc! {"a": {"$gt": null}}, &docs), Vec::<i32>::new());
}

#[test]
fn minkey_maxkey_bound_every_value_per_manual_comparison_sort_order() {
    let docs = [
        doc! {"_id": 1, "a": 1},
        doc! {"_id": 2, "a": "x"},
        doc! {"_id": 3, "a": Bson::MinKey},
        doc! {"_id": 4, "a": Bson::MaxKey},
        doc! {"_id": 5},
    ];
    assert_eq!(ids(doc! {"a": {"$gt": Bson::MinKey}}, &docs), vec![1, 2, 4, 5]);
    assert_eq!(ids(doc! {"a": {"$gte": Bson::MinKey}}, &docs), vec![1, 2, 3, 4, 5]);
    assert_eq!(ids(doc! {"a": {"$lt": Bson::MaxKey}}, &docs), vec![1, 2, 3, 5]);
    assert_eq!(ids(doc! {"a": {"$lte": Bson::MaxKey}}, &docs), vec![1, 2, 3, 4, 5]);
    assert_eq!(ids(doc! {"a": Bson::MinKey}, &docs), vec![3]);
    assert_eq!(ids(doc! {"a": {"$lt": Bson::MinKey}}, &docs), Vec::<i32>::new());
}

#[test]
fn nan_equals_only_nan_and_never_orders_per_comparison_rules() {
    let docs = [
        doc! {"_id": 1, "a": f64::NAN},
        doc! {"_id": 2, "a": 1},
        doc! {"_id": 3, "a": dec("NaN")},
        doc! {"_id": 4, "a": f64::NEG_INFINITY},
    ];
    assert_eq!(ids(doc! {"a": f64::NAN}, &docs), vec![1, 3]);
    assert_eq!(ids(doc! {"a": {"$gt": f64::NAN}}, &docs), Vec::<i32>::new());
    assert_eq!(ids(doc! {"a": {"$gte": f64::NAN}}, &docs), vec![1, 3]);
    assert_eq!(ids(doc! {"a": {"$lt": 5}}, &docs), vec![2, 4]);
    assert_eq!(ids(doc! {"a": {"$lte": f64::NAN}}, &docs), vec![1, 3]);
    assert_eq!(ids(doc! {"a": {"$in": [f64::NAN]}}, &docs), vec![1, 3]);
}

#[test]
fn ne_matches_missing_and_excludes_arrays_containing_value_per_manual_ne() {
    let docs = [
        doc! {"_id": 1, "qty": 20},
        doc! {"_id": 2, "qty": 25},
        doc! {"_id": 3},
        doc! {"_id": 4, "qty": [20, 30]},
        doc! {"_id": 5, "qty": [30]},
    ];
    assert_eq!(ids(doc! {"qty": {"$ne": 20}}, &docs), vec![2, 3, 5]);
}

#[test]
fn in_matches_any_value_or_array_element_per_manual_in() {
    let docs = [
        doc! {"_id": 1, "q": 5, "tags": ["school", "home"]},
        doc! {"_id": 2, "q": 15, "tags": ["appliance"]},
        doc! {"_id": 3, "q": 20, "tags": "home"},
        doc! {"_id": 4},
    ];
    assert_eq!(ids(doc! {"q": {"$in": [5, 15]}}, &docs), vec![1, 2]);
    assert_eq!(ids(doc! {"tags": {"$in": ["home", "school"]}}, &docs), vec![1, 3]);
    assert_eq!(ids(doc! {"q": {"$in": []}}, &docs), Vec::<i32>::new());
}

#[test]
fn in_with_regex_per_manual_in_use_regex() {
    let docs = [
        doc! {"_id": 1, "tags": ["best", "x"]},
        doc! {"_id": 2, "tags": ["stone"]},
        doc! {"_id": 3, "tags": ["abest"]},
    ];
    assert_eq!(ids(doc! {"tags": {"$in": [regex("^be", ""), regex("^st", "")]}}, &docs), vec![1, 2]);
}

#[test]
fn in_with_many_values_uses_sorted_lookup_per_manual_in() {
    let values: Vec<Bson> = (0..500).rev().map(|i| Bson::Int32(i * 2)).chain([Bson::String("x".into())]).collect();
    let f = filter(doc! {"a": {"$in": values}});
    for i in 0..1000 {
        let d = raw(&doc! {"a": Bson::Int64(i)});
        assert_eq!(f.matches(&d).unwrap(), i % 2 == 0, "value {i}");
    }
    assert!(f.matches(&raw(&doc! {"a": "x"})).unwrap());
    assert!(f.matches(&raw(&doc! {"a": 998.0})).unwrap());
}

#[test]
fn nin_matches_missing_and_negates_in_per_manual_nin() {
    let docs =
        [doc! {"_id": 1, "q": 5, "tags": ["school"]}, doc! {"_id": 2, "q": 15, "tags": ["home"]}, doc! {"_id": 3}];
    assert_eq!(ids(doc! {"q": {"$nin": [5, 15]}}, &docs), vec![3]);
    assert_eq!(ids(doc! {"tags": {"$nin": ["school"]}}, &docs), vec![2, 3]);
    assert_eq!(ids(doc! {"q": {"$nin": [null]}}, &docs), vec![1, 2]);
}

#[test]
fn regex_operand_matches_strings_per_manual_regex() {
    let docs = [
        doc! {"_id": 1, "sku": "abc123"},
        doc! {"_id": 2, "sku": "abc789"},
        doc! {"_id": 3, "sku": "xyz456"},
        doc! {"_id": 4, "sku": "XYZ789"},
        doc! {"_id": 5, "sku": ["x", "abc"]},
        doc! {"_id": 6, "sku": 789},
    ];
    assert_eq!(ids(doc! {"sku": regex("789$", "")}, &docs), vec![2, 4]);
    assert_eq!(ids(doc! {"sku": {"$regex": "^ABC", "$options": "i"}}, &docs), vec![1, 2, 5]);
    assert_eq!(ids(doc! {"sku": {"$regex": regex("^ABC", "i")}}, &docs), vec![1, 2, 5]);
}

#[test]
fn eq_with_regex_operand_matches_regex_values_only_per_manual_eq_regex_match_behaviour() {
    let docs = [doc! {"_id": 1, "company": "MongoDB"}, doc! {"_id": 2, "company": regex("MongoDB", "")}];
    assert_eq!(ids(doc! {"company": regex("MongoDB", "")}, &docs), vec![1, 2]);
    assert_eq!(ids(doc! {"company": {"$eq": regex("MongoDB", "")}}, &docs), vec![2]);
    assert_eq!(ids(doc! {"company": {"$in": [regex("MongoDB", "")]}}, &docs), vec![1, 2]);
}

#[test]
fn dotted_path_descends_into_arrays_of_documents_per_manual_query_array_of_embedded_documents() {
    let docs = [
        doc! {"_id": 1, "instock": [{"warehouse": "A", "qty": 5}, {"warehouse": "C", "qty": 15}]},
        doc! {"_id": 2, "instock": [{"warehouse": "C", "qty": 5}]},
        doc! {"_id": 3, "instock": [{"warehouse": "A", "qty": 40}, {"warehouse": "B", "qty": 5}]},
        doc! {"_id": 4, "instock": {"warehouse": "A", "qty": 5}},
    ];
    assert_eq!(ids(doc! {"instock.qty": {"$lte": 20}}, &docs), vec![1, 2, 3, 4]);
    assert_eq!(ids(doc! {"instock.0.qty": {"$lte": 20}}, &docs), vec![1, 2]);
    assert_eq!(ids(doc! {"instock": {"$elemMatch": {"qty": 5, "warehouse": "A"}}}, &docs), vec![1]);
    // Without $elemMatch the conditions may hold on different elements.
    assert_eq!(ids(doc! {"instock.qty": 5, "instock.warehouse": "A"}, &docs), vec![1, 3, 4]);
}

#[test]
fn dotted_path_through_nested_arrays_of_documents() {
    let d = doc! {"a": [{"b": [{"c": 1}, {"c": 2}]}, {"b": {"c": 3}}]};
    assert!(m(doc! {"a.b.c": 2}, d.clone()));
    assert!(m(doc! {"a.b.c": 3}, d.clone()));
    assert!(!m(doc! {"a.b.c": 4}, d.clone()));
    // Arrays directly nested in arrays are not traversed by a field name.
    assert!(!m(doc! {"a.b": 1}, doc! {"a": [[{"b": 1}]]}));
    // A scalar in the middle of the path reaches nothing.
    assert!(!m(doc! {"a.b": 1}, doc! {"a": 1}));
}

#[test]
fn numeric_path_component_indexes_arrays_and_matches_fields_named_like_indexes() {
    assert!(m(doc! {"a.0": 1}, doc! {"a": [1, 2]}));
    assert!(!m(doc! {"a.1": 1}, doc! {"a": [1, 2]}));
    assert!(m(doc! {"a.0.b": 1}, doc! {"a": [{"b": 1}]}));
    // Fields named "0"/"1" in element documents also match.
    assert!(m(doc! {"a.1": 5}, doc! {"a": [{"1": 5}]}));
    assert!(m(doc! {"a.0.b": 1}, doc! {"a": [{"0": {"b": 1}}]}));
    // A document with a field "0".
    assert!(m(doc! {"a.0": 5}, doc! {"a": {"0": 5}}));
    // An index into a nested array continues into it.
    assert!(m(doc! {"a.0.1": 5}, doc! {"a": [[4, 5]]}));
    assert!(m(doc! {"a.0.b": 1}, doc! {"a": [[{"b": 1}]]}));
    // The element at an index is not traversed further when it is itself an array.
    assert!(!m(doc! {"a.0": 1}, doc! {"a": [[1]]}));
    assert!(m(doc! {"a.0": [1]}, doc! {"a": [[1]]}));
    // Non-canonical indexes are plain field names.
    assert!(!m(doc! {"a.00": 1}, doc! {"a": [1]}));
    // Out of range.
    assert!(!m(doc! {"a.5": 1}, doc! {"a": [1]}));
    assert!(m(doc! {"a.5": null}, doc! {"a": [{"x": 1}]}));
}

#[test]
fn strings_compare_binary_and_symbols_equal_strings_per_manual_comparison_sort_order() {
    assert!(m(doc! {"a": {"$lt": "b"}}, doc! {"a": "B"}));
    assert!(!m(doc! {"a": "A"}, doc! {"a": "a"}));
    assert!(m(doc! {"a": "x"}, doc! {"a": Bson::Symbol("x".into())}));
}

#[test]
fn empty_filter_matches_everything() {
    let f = filter(doc! {});
    assert!(f.is_empty());
    assert!(f.matches(&raw(&doc! {"a": 1})).unwrap());
    let f = filter(doc! {"$comment": "only a comment"});
    assert!(f.is_empty());
    assert!(f.matches(&raw(&doc! {})).unwrap());
}

#[test]
fn dbref_document_is_compared_by_equality_per_manual_database_references() {
    let oid = bson::oid::ObjectId::new();
    let r = doc! {"$ref": "users", "$id": oid};
    assert!(m(doc! {"owner": r.clone()}, doc! {"owner": r.clone()}));
    assert!(!m(doc! {"owner": r}, doc! {"owner": {"$ref": "users", "$id": 1}}));
    // Top-level $id is a field of the queried document (DBRef fields).
    assert!(m(doc! {"$id": 1}, doc! {"$ref": "x", "$id": 1}));
}

#[test]
fn undefined_values_match_null_but_not_each_other_per_mongodb_7_eq_null() {
    assert!(m(doc! {"a": null}, doc! {"a": [Bson::Undefined]}));
    assert!(!m(doc! {"a": {"$exists": false}}, doc! {"a": Bson::Undefined}));
}

#[test]
fn arrays_of_arrays_match_elements_and_whole_arrays_per_manual_query_arrays() {
    let d = doc! {"a": [[1, 2], [3]]};
    assert!(m(doc! {"a": [3]}, d.clone()));
    assert!(m(doc! {"a": [[1, 2], [3]]}, d.clone()));
    assert!(!m(doc! {"a": 3}, d.clone()));
    assert!(m(doc! {"a": {"$in": [[3], 7]}}, d.clone()));
    assert!(m(doc! {"a": {"$gt": [2]}}, d.clone()));
    assert!(m(doc! {"a": {"$lt": [1, 3]}}, d.clone()));
    assert!(!m(doc! {"a": {"$lt": [1]}}, d.clone()));
    assert!(m(doc! {"a": {"$lte": [1, 2]}}, d.clone()));
    assert!(m(doc! {"a": {"$size": 2}}, d.clone()));
    assert!(m(doc! {"a.1": [3]}, d.clone()));
    assert!(m(doc! {"a": {"$elemMatch": {"$size": 1}}}, d.clone()));
    assert!(m(doc! {"a": {"$type": "array"}}, d));
    // Found by the $in/$nin property test.
    assert!(m(doc! {"a": {"$in": [[]]}}, doc! {"a": []}));
    assert!(m(doc! {"a": {"$nin": [[]]}}, doc! {"a": [1]}));
}

#[test]
fn matching_large_arrays_of_arrays_stays_linear() {
    let inner: Vec<Bson> = (0..20_000).map(|i| Bson::Array(vec![Bson::Int32(i)])).collect();
    let d = raw(&doc! {"a": inner});
    let start = std::time::Instant::now();
    let f = filter(doc! {"a": [19_999]});
    let g = filter(doc! {"a": {"$in": [[-1], [19_999]]}});
    let h = filter(doc! {"a": {"$elemMatch": {"$eq": [19_999]}}});
    for _ in 0..3 {
        assert!(f.matches(&d).unwrap());
        assert!(g.matches(&d).unwrap());
        assert!(h.matches(&d).unwrap());
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(3), "{:?}", start.elapsed());
}
