//! Logical, element, evaluation, array and bitwise query operators. Test names cite the
//! MongoDB manual page they follow.

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Decimal128, Document, RawDocumentBuf};
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

fn ids(f: Document, docs: &[Document]) -> Vec<i32> {
    let fl = filter(f);
    docs.iter().filter(|d| fl.matches(&raw(d)).unwrap()).map(|d| d.get_i32("_id").unwrap()).collect()
}

fn dec(s: &str) -> Bson {
    Bson::Decimal128(Decimal128::from_str(s).unwrap())
}

fn bin(bytes: &[u8]) -> Bson {
    Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: bytes.to_vec() })
}

fn regex(p: &str, o: &str) -> Bson {
    Bson::RegularExpression(bson::Regex { pattern: p.try_into().unwrap(), options: o.try_into().unwrap() })
}

// ---------------------------------------------------------------- logical

#[test]
fn and_or_nor_per_manual_logical_query_operators() {
    let docs = [
        doc! {"_id": 1, "price": 1.99, "qty": 5, "sale": true},
        doc! {"_id": 2, "price": 1.99, "qty": 25, "sale": false},
        doc! {"_id": 3, "price": 3.0, "qty": 5},
        doc! {"_id": 4, "qty": 30, "sale": true},
    ];
    assert_eq!(ids(doc! {"$and": [{"price": {"$ne": 1.99}}, {"price": {"$exists": true}}]}, &docs), vec![3]);
    assert_eq!(ids(doc! {"$or": [{"qty": {"$lt": 20}}, {"price": 3.0}]}, &docs), vec![1, 3]);
    // $nor also matches documents missing the fields.
    assert_eq!(ids(doc! {"$nor": [{"price": 1.99}, {"sale": true}]}, &docs), vec![3]);
    assert_eq!(ids(doc! {"$nor": [{"price": 1.99}, {"qty": {"$lt": 20}}]}, &docs), vec![4]);
}

#[test]
fn nested_logical_operators_per_manual_and_multiple_expressions() {
    let docs = [
        doc! {"_id": 1, "price": 0.99, "sale": true, "qty": 5},
        doc! {"_id": 2, "price": 2.0, "sale": false, "qty": 5},
        doc! {"_id": 3, "price": 0.5, "sale": false, "qty": 50},
    ];
    let f = doc! {"$and": [
        {"$or": [{"qty": {"$lt": 10}}, {"qty": {"$gt": 50}}]},
        {"$or": [{"sale": true}, {"price": {"$lt": 5}}]},
    ]};
    assert_eq!(ids(f, &docs), vec![1, 2]);
}

#[test]
fn not_negates_operator_expression_and_matches_missing_per_manual_not() {
    let docs = [doc! {"_id": 1, "price": 1.99}, doc! {"_id": 2, "price": 2.5}, doc! {"_id": 3}];
    assert_eq!(ids(doc! {"price": {"$not": {"$gt": 1.99}}}, &docs), vec![1, 3]);
    assert_eq!(ids(doc! {"price": {"$not": {"$gt": 1, "$lt": 2}}}, &docs), vec![2, 3]);
}

#[test]
fn not_with_regex_per_manual_not_regular_expressions() {
    let docs = [
        doc! {"_id": 1, "item": "pen"},
        doc! {"_id": 2, "item": "pencil"},
        doc! {"_id": 3, "item": "book"},
        doc! {"_id": 4},
    ];
    assert_eq!(ids(doc! {"item": {"$not": regex("^p.*", "")}}, &docs), vec![3, 4]);
    assert_eq!(ids(doc! {"item": {"$not": {"$regex": "^p.*"}}}, &docs), vec![3, 4]);
    assert_eq!(ids(doc! {"item": {"$not": {"$regex": regex("^P", "i")}}}, &docs), vec![3, 4]);
}

#[test]
fn always_true_and_always_false_per_manual_alwaystrue_alwaysfalse() {
    assert!(m(doc! {"$alwaysTrue": 1}, doc! {"a": 1}));
    assert!(!m(doc! {"$alwaysFalse": 1}, doc! {"a": 1}));
    assert!(m(doc! {"$or": [{"$alwaysFalse": 1}, {"a": 1}]}, doc! {"a": 1}));
    assert!(m(doc! {"$alwaysTrue": 1.0}, doc! {}));
}

#[test]
fn comment_is_ignored_per_manual_comment() {
    assert!(m(doc! {"a": 1, "$comment": "find a"}, doc! {"a": 1}));
    assert!(m(doc! {"$and": [{"$comment": "x"}, {"a": 1}]}, doc! {"a": 1}));
}

#[test]
fn sample_rate_bounds_per_manual_samplerate() {
    assert!(!m(doc! {"$sampleRate": 0.0}, doc! {}));
    assert!(m(doc! {"$sampleRate": 1}, doc! {}));
    let f = filter(doc! {"$sampleRate": 0.5});
    let hits = (0..2000).filter(|_| f.matches(&raw(&doc! {})).unwrap()).count();
    assert!((600..1400).contains(&hits), "{hits}");
}

// ---------------------------------------------------------------- element

#[test]
fn exists_per_manual_exists() {
    let docs = [
        doc! {"_id": 1, "a": 5, "b": 5, "c": null},
        doc! {"_id": 2, "a": 3, "b": null, "c": 8},
        doc! {"_id": 3, "a": null, "b": 3, "c": 9},
        doc! {"_id": 4, "a": 1, "b": 2, "c": 3},
        doc! {"_id": 5, "a": 2, "c": 5},
        doc! {"_id": 6, "a": 3, "b": 2},
        doc! {"_id": 7, "a": 4},
        doc! {"_id": 8, "b": 2, "c": 4},
        doc! {"_id": 9, "b": 2},
        doc! {"_id": 10, "c": 6},
    ];
    assert_eq!(ids(doc! {"a": {"$exists": true}}, &docs), vec![1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(ids(doc! {"b": {"$exists": false}}, &docs), vec![5, 7, 10]);
    // Any truthy / falsy value.
    assert_eq!(ids(doc! {"c": {"$exists": 1}}, &docs), vec![1, 2, 3, 4, 5, 8, 10]);
    assert_eq!(ids(doc! {"c": {"$exists": 0}}, &docs), vec![6, 7, 9]);
    assert_eq!(ids(doc! {"c": {"$exists": null}}, &docs), vec![6, 7, 9]);
    assert_eq!(ids(doc! {"c": {"$exists": "no"}}, &docs), ids(doc! {"c": {"$exists": true}}, &docs));
    assert_eq!(ids(doc! {"c": {"$exists": dec("0")}}, &docs), vec![6, 7, 9]);
}

#[test]
fn exists_on_dotted_paths_through_arrays() {
    assert!(m(doc! {"a.b": {"$exists": true}}, doc! {"a": [{"c": 1}, {"b": null}]}));
    assert!(!m(doc! {"a.b": {"$exists": true}}, doc! {"a": [{"c": 1}]}));
    assert!(!m(doc! {"a.b": {"$exists": true}}, doc! {"a": [1, 2]}));
    assert!(m(doc! {"a.1": {"$exists": true}}, doc! {"a": [1, 2]}));
}

#[test]
fn type_by_number_and_alias_per_manual_type() {
    let docs = [
        doc! {"_id": 1, "z": 1.5},
        doc! {"_id": 2, "z": "x"},
        doc! {"_id": 3, "z": 3},
        doc! {"_id": 4, "z": 3_i64},
        doc! {"_id": 5, "z": dec("2")},
        doc! {"_id": 6, "z": [1, "a"]},
        doc! {"_id": 7, "z": {"x": 1}},
        doc! {"_id": 8, "z": Bson::MinKey},
        doc! {"_id": 9, "z": Bson::MaxKey},
        doc! {"_id": 10},
    ];
    assert_eq!(ids(doc! {"z": {"$type": 2}}, &docs), vec![2, 6]);
    assert_eq!(ids(doc! {"z": {"$type": "string"}}, &docs), vec![2, 6]);
    assert_eq!(ids(doc! {"z": {"$type": "number"}}, &docs), vec![1, 3, 4, 5, 6]);
    assert_eq!(ids(doc! {"z": {"$type": ["long", "decimal"]}}, &docs), vec![4, 5]);
    assert_eq!(ids(doc! {"z": {"$type": [16, "double"]}}, &docs), vec![1, 3, 6]);
    assert_eq!(ids(doc! {"z": {"$type": -1}}, &docs), vec![8]);
    assert_eq!(ids(doc! {"z": {"$type": 127}}, &docs), vec![9]);
    assert_eq!(ids(doc! {"z": {"$type": "minKey"}}, &docs), vec![8]);
    assert_eq!(ids(doc! {"z": {"$type": "object"}}, &docs), vec![7]);
    assert_eq!(ids(doc! {"z": {"$type": 2.0}}, &docs), vec![2, 6]);
}

#[test]
fn type_array_matches_array_fields_per_manual_type_querying_by_array_type() {
    let docs =
        [doc! {"_id": 1, "a": [1, 2]}, doc! {"_id": 2, "a": []}, doc! {"_id": 3, "a": 1}, doc! {"_id": 4, "a": [[1]]}];
    assert_eq!(ids(doc! {"a": {"$type": "array"}}, &docs), vec![1, 2, 4]);
    assert_eq!(ids(doc! {"a": {"$type": 4}}, &docs), vec![1, 2, 4]);
    assert_eq!(ids(doc! {"a": {"$type": "int"}}, &docs), vec![1, 3]);
}

// ---------------------------------------------------------------- evaluation

#[test]
fn regex_options_per_manual_regex() {
    let docs = [
        doc! {"_id": 100, "sku": "abc123", "description": "Single line description."},
        doc! {"_id": 101, "sku": "abc789", "description": "First line\nSecond line"},
        doc! {"_id": 102, "sku": "xyz456", "description": "Many spaces before     line"},
        doc! {"_id": 103, "sku": "xyz789", "description": "Multiple\nline description"},
        doc! {"_id": 104, "sku": "Abc789", "description": "SKU starts with A"},
    ];
    assert_eq!(ids(doc! {"sku": {"$regex": "^ABC", "$options": "i"}}, &docs), vec![100, 101, 104]);
    assert_eq!(ids(doc! {"description": {"$regex": "^S", "$options": "m"}}, &docs), vec![100, 101, 104]);
    assert_eq!(ids(doc! {"description": {"$regex": "^S"}}, &docs), vec![100, 104]);
    assert_eq!(ids(doc! {"description": {"$regex": "m.*line", "$options": "si"}}, &docs), vec![102, 103]);
    assert_eq!(ids(doc! {"description": {"$regex": "m.*line", "$options": "i"}}, &docs), vec![102]);
    let extended = "abc #category code\n123 #item number";
    assert_eq!(ids(doc! {"sku": {"$regex": extended, "$options": "x"}}, &docs), vec![100]);
    // $options may precede $regex; a regex literal in $regex carries its own flags.
    assert_eq!(ids(doc! {"sku": {"$options": "i", "$regex": "^ABC"}}, &docs), vec![100, 101, 104]);
    assert_eq!(ids(doc! {"sku": regex("^ABC", "i")}, &docs), vec![100, 101, 104]);
}

#[test]
fn regex_is_unicode_aware_per_manual_regex_pcre() {
    assert!(m(doc! {"a": {"$regex": "^.$"}}, doc! {"a": "é"}));
    assert!(m(doc! {"a": {"$regex": "^CAFÉ$", "$options": "i"}}, doc! {"a": "café"}));
    assert!(m(doc! {"a": {"$regex": "^.$", "$options": "u"}}, doc! {"a": "日"}));
}

#[test]
fn regex_matches_symbols_and_identical_regex_values_per_regex_match_expression() {
    assert!(m(doc! {"a": {"$regex": "^x"}}, doc! {"a": Bson::Symbol("xy".into())}));
    assert!(m(doc! {"a": regex("^x", "i")}, doc! {"a": regex("^x", "i")}));
    assert!(!m(doc! {"a": regex("^x", "i")}, doc! {"a": regex("^x", "")}));
    assert!(!m(doc! {"a": regex("1", "")}, doc! {"a": 1}));
}

#[test]
fn mod_per_manual_mod() {
    let docs = [doc! {"_id": 1, "qty": 0}, doc! {"_id": 2, "qty": 5}, doc! {"_id": 3, "qty": 12}, doc! {"_id": 4}];
    assert_eq!(ids(doc! {"qty": {"$mod": [4, 0]}}, &docs), vec![1, 3]);
}

#[test]
fn mod_truncates_floating_point_arguments_per_manual_mod_floating_point_arguments() {
    let docs = [doc! {"_id": 1, "qty": 0}, doc! {"_id": 2, "qty": 5}, doc! {"_id": 3, "qty": 12}];
    for divisor in [Bson::Double(4.0), Bson::Double(4.5), Bson::Double(4.99), dec("4.99"), Bson::Int64(4)] {
        assert_eq!(ids(doc! {"qty": {"$mod": [divisor.clone(), 0]}}, &docs), vec![1, 3], "{divisor:?}");
    }
    assert_eq!(ids(doc! {"qty": {"$mod": [4, 0.9]}}, &docs), vec![1, 3]);
}

#[test]
fn mod_negative_dividend_keeps_sign_per_manual_mod_negative_dividend() {
    let docs = [
        doc! {"_id": 1, "qty": -5},
        doc! {"_id": 2, "qty": -4.9},
        doc! {"_id": 3, "qty": 5},
        doc! {"_id": 4, "qty": dec("-5.5")},
    ];
    assert_eq!(ids(doc! {"qty": {"$mod": [3, -2]}}, &docs), vec![1, 4]);
    assert_eq!(ids(doc! {"qty": {"$mod": [-3, 2]}}, &docs), vec![3]);
    assert_eq!(ids(doc! {"qty": {"$mod": [4, 0]}}, &docs), vec![2]);
}

#[test]
fn mod_ignores_nan_infinity_and_non_numbers_per_manual_mod() {
    for v in [
        Bson::Double(f64::NAN),
        Bson::Double(f64::INFINITY),
        dec("Infinity"),
        Bson::String("4".into()),
        Bson::Double(1e300),
    ] {
        assert!(!m(doc! {"a": {"$mod": [2, 0]}}, doc! {"a": v.clone()}), "{v:?}");
    }
    // i64::MIN % -1 does not overflow.
    assert!(m(doc! {"a": {"$mod": [-1, 0]}}, doc! {"a": i64::MIN}));
    // Array elements.
    assert!(m(doc! {"a": {"$mod": [2, 1]}}, doc! {"a": [2, 4, 7]}));
}

// ---------------------------------------------------------------- array

#[test]
fn all_per_manual_all() {
    let docs = [
        doc! {"_id": 1, "tags": ["appliance", "school", "book"]},
        doc! {"_id": 2, "tags": ["school", "book"]},
        doc! {"_id": 3, "tags": ["electronics", "school"]},
        doc! {"_id": 4, "tags": "school"},
        doc! {"_id": 5, "tags": [["school", "book"]]},
    ];
    assert_eq!(ids(doc! {"tags": {"$all": ["school", "book"]}}, &docs), vec![1, 2]);
    assert_eq!(ids(doc! {"tags": {"$all": ["school"]}}, &docs), vec![1, 2, 3, 4]);
    // Nested array operand matches like equality.
    assert_eq!(ids(doc! {"tags": {"$all": [["school", "book"]]}}, &docs), vec![2, 5]);
    // Empty $all matches nothing.
    assert_eq!(ids(doc! {"tags": {"$all": []}}, &docs), Vec::<i32>::new());
    // Regexes.
    assert_eq!(ids(doc! {"tags": {"$all": [regex("^sch", ""), "book"]}}, &docs), vec![1, 2]);
}

#[test]
fn all_with_elem_match_per_manual_all_with_elemmatch() {
    let docs = [
        doc! {"_id": 5, "qty": [{"size": "S", "num": 10, "color": "blue"}, {"size": "M", "num": 45, "color": "blue"}, {"size": "L", "num": 100, "color": "green"}]},
        doc! {"_id": 6, "qty": [{"size": "6", "num": 100, "color": "green"}, {"size": "6", "num": 50, "color": "blue"}, {"size": "8", "num": 100, "color": "brown"}]},
        doc! {"_id": 7, "qty": [{"size": "S", "num": 10, "color": "blue"}, {"size": "M", "num": 100, "color": "blue"}, {"size": "L", "num": 100, "color": "green"}]},
        doc! {"_id": 8, "qty": [{"size": "M", "num": 100, "color": "green"}]},
    ];
    let f = doc! {"qty": {"$all": [
        {"$elemMatch": {"size": "M", "num": {"$gt": 50}}},
        {"$elemMatch": {"num": 100, "color": "green"}},
    ]}};
    assert_eq!(ids(f, &docs), vec![7, 8]);
}

#[test]
fn elem_match_value_form_per_manual_elemmatch_element_match() {
    let docs = [doc! {"_id": 1, "results": [82, 85, 88]}, doc! {"_id": 2, "results": [75, 88, 89]}];
    assert_eq!(ids(doc! {"results": {"$elemMatch": {"$gte": 80, "$lt": 85}}}, &docs), vec![1]);
}

#[test]
fn elem_match_document_form_per_manual_elemmatch_array_of_embedded_documents() {
    let docs = [
        doc! {"_id": 1, "results": [{"product": "abc", "score": 10}, {"product": "xyz", "score": 5}]},
        doc! {"_id": 2, "results": [{"product": "abc", "score": 8}, {"product": "xyz", "score": 7}]},
        doc! {"_id": 3, "results": [{"product": "abc", "score": 7}, {"product": "xyz", "score": 8}]},
        doc! {"_id": 4, "results": [{"product": "abc", "score": 7}, {"product": "def", "score": 8}]},
        doc! {"_id": 5, "results": {"product": "xyz", "score": 9}},
    ];
    assert_eq!(ids(doc! {"results": {"$elemMatch": {"product": "xyz", "score": {"$gte": 8}}}}, &docs), vec![3]);
    // Single query condition.
    assert_eq!(ids(doc! {"results": {"$elemMatch": {"product": "xyz"}}}, &docs), vec![1, 2, 3]);
    // $elemMatch needs an array field.
    assert_eq!(ids(doc! {"results": {"$elemMatch": {"product": {"$ne": "xyz"}}}}, &docs), vec![1, 2, 3, 4]);
}

#[test]
fn elem_match_edge_cases() {
    // Empty $elemMatch matches arrays that contain a document or array.
    assert!(m(doc! {"a": {"$elemMatch": {}}}, doc! {"a": [1, {"x": 1}]}));
    assert!(m(doc! {"a": {"$elemMatch": {}}}, doc! {"a": [[1]]}));
    assert!(!m(doc! {"a": {"$elemMatch": {}}}, doc! {"a": [1, 2]}));
    // Nested arrays are not flattened in the value form.
    assert!(!m(doc! {"a": {"$elemMatch": {"$gt": 1}}}, doc! {"a": [[5]]}));
    assert!(m(doc! {"a": {"$elemMatch": {"$elemMatch": {"$gt": 1}}}}, doc! {"a": [[5]]}));
    // Logical operators make it the document form.
    assert!(m(doc! {"a": {"$elemMatch": {"$or": [{"b": 1}, {"c": 1}]}}}, doc! {"a": [{"c": 1}]}));
    // $not in the value form.
    assert!(m(doc! {"a": {"$elemMatch": {"$not": {"$gt": 5}}}}, doc! {"a": [10, 3]}));
    assert!(!m(doc! {"a": {"$elemMatch": {"$not": {"$gt": 5}}}}, doc! {"a": [10, 6]}));
    // Array elements are matched as documents with index keys.
    assert!(m(doc! {"a": {"$elemMatch": {"0": 1}}}, doc! {"a": [[1, 2]]}));
    // Dotted path to the array.
    assert!(m(doc! {"a.b": {"$elemMatch": {"$eq": 2}}}, doc! {"a": [{"b": [1, 2]}]}));
    // $size / $type inside the value form.
    assert!(m(doc! {"a": {"$elemMatch": {"$size": 2}}}, doc! {"a": [[1, 2]]}));
    assert!(m(doc! {"a": {"$elemMatch": {"$type": "string", "$regex": "^x"}}}, doc! {"a": [1, "xy"]}));
}

#[test]
fn size_per_manual_size() {
    let docs = [
        doc! {"_id": 1, "field": [1, 2]},
        doc! {"_id": 2, "field": [1]},
        doc! {"_id": 3, "field": [[1, 2, 3]]},
        doc! {"_id": 4, "field": "ab"},
        doc! {"_id": 5},
        doc! {"_id": 6, "field": []},
    ];
    assert_eq!(ids(doc! {"field": {"$size": 2}}, &docs), vec![1]);
    assert_eq!(ids(doc! {"field": {"$size": 1}}, &docs), vec![2, 3]);
    assert_eq!(ids(doc! {"field": {"$size": 0}}, &docs), vec![6]);
    assert_eq!(ids(doc! {"field": {"$size": 2.0}}, &docs), vec![1]);
    assert_eq!(ids(doc! {"field": {"$size": 2_i64}}, &docs), vec![1]);
    assert_eq!(ids(doc! {"field": {"$size": dec("2")}}, &docs), vec![1]);
    // Arrays reached through arrays of documents.
    assert!(m(doc! {"a.b": {"$size": 2}}, doc! {"a": [{"b": [1]}, {"b": [1, 2]}]}));
}

// ---------------------------------------------------------------- bitwise

fn bit_docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "a": 54, "binaryValueofA": "00110110"},
        doc! {"_id": 2, "a": 20, "binaryValueofA": "00010100"},
        doc! {"_id": 3, "a": 20.0, "binaryValueofA": "00010100"},
        doc! {"_id": 4, "a": bin(&[0x66]), "binaryValueofA": "01100110"},
    ]
}

#[test]
fn bits_all_set_per_manual_bitsallset() {
    let docs = bit_docs();
    assert_eq!(ids(doc! {"a": {"$bitsAllSet": [1, 5]}}, &docs), vec![1, 4]);
    assert_eq!(ids(doc! {"a": {"$bitsAllSet": 50}}, &docs), vec![1]);
    assert_eq!(ids(doc! {"a": {"$bitsAllSet": bin(&[0x30])}}, &docs), vec![1]);
}

#[test]
fn bits_any_set_per_manual_bitsanyset() {
    let docs = bit_docs();
    assert_eq!(ids(doc! {"a": {"$bitsAnySet": [1, 5]}}, &docs), vec![1, 4]);
    assert_eq!(ids(doc! {"a": {"$bitsAnySet": 35}}, &docs), vec![1, 4]);
    assert_eq!(ids(doc! {"a": {"$bitsAnySet": bin(&[0x30])}}, &docs), vec![1, 2, 3, 4]);
}

#[test]
fn bits_all_clear_per_manual_bitsallclear() {
    let docs = bit_docs();
    assert_eq!(ids(doc! {"a": {"$bitsAllClear": [1, 5]}}, &docs), vec![2, 3]);
    assert_eq!(ids(doc! {"a": {"$bitsAllClear": 35}}, &docs), vec![2, 3]);
    assert_eq!(ids(doc! {"a": {"$bitsAllClear": bin(&[0x20])}}, &docs), vec![2, 3]);
}

#[test]
fn bits_any_clear_per_manual_bitsanyclear() {
    let docs = bit_docs();
    assert_eq!(ids(doc! {"a": {"$bitsAnyClear": [1, 5]}}, &docs), vec![2, 3]);
    assert_eq!(ids(doc! {"a": {"$bitsAnyClear": 35}}, &docs), vec![1, 2, 3, 4]);
    assert_eq!(ids(doc! {"a": {"$bitsAnyClear": bin(&[0x30])}}, &docs), vec![2, 3, 4]);
}

#[test]
fn bits_negative_numbers_are_sign_extended_per_manual_bitsallset_behavior() {
    // -5 is ...11111011: bit 2 clear, every bit above 2 set, even positions > 63.
    assert!(m(doc! {"a": {"$bitsAllSet": [0, 1, 3, 63, 200]}}, doc! {"a": -5}));
    assert!(m(doc! {"a": {"$bitsAllClear": [2]}}, doc! {"a": -5}));
    assert!(!m(doc! {"a": {"$bitsAllSet": [200]}}, doc! {"a": 5}));
    assert!(m(doc! {"a": {"$bitsAllClear": [200]}}, doc! {"a": 5}));
}

#[test]
fn bits_only_integral_int64_numbers_and_bindata_match_per_manual_bitsallset_floating_point() {
    for v in [Bson::Double(1.5), Bson::Double(f64::NAN), Bson::Double(1e20), dec("1.5"), Bson::String("1".into())] {
        assert!(!m(doc! {"a": {"$bitsAnySet": 1}}, doc! {"a": v.clone()}), "{v:?}");
        assert!(!m(doc! {"a": {"$bitsAllClear": 2}}, doc! {"a": v.clone()}), "{v:?}");
    }
    assert!(m(doc! {"a": {"$bitsAnySet": 1}}, doc! {"a": dec("3")}));
    assert!(m(doc! {"a": {"$bitsAnySet": 1}}, doc! {"a": 3_i64}));
    // BinData is zero-extended: positions past its end are clear.
    assert!(m(doc! {"a": {"$bitsAllClear": [100]}}, doc! {"a": bin(&[0xff])}));
    assert!(!m(doc! {"a": {"$bitsAnySet": [100]}}, doc! {"a": bin(&[0xff])}));
    // Numbers tested against a long BinData mask: bytes past 8 test the sign bit.
    assert!(m(doc! {"a": {"$bitsAllSet": bin(&[0, 0, 0, 0, 0, 0, 0, 0, 1])}}, doc! {"a": -1}));
    assert!(!m(doc! {"a": {"$bitsAllSet": bin(&[0, 0, 0, 0, 0, 0, 0, 0, 1])}}, doc! {"a": 1}));
}

// ---------------------------------------------------------------- $jsonSchema in queries

#[test]
fn json_schema_in_query_per_manual_jsonschema() {
    let docs = [
        doc! {"_id": 1, "item": "journal", "qty": 25, "size": {"h": 14, "w": 21, "uom": "cm"}, "instock": true},
        doc! {"_id": 2, "item": "notebook", "qty": 50, "size": {"h": 8.5, "w": 11.0, "uom": "in"}, "instock": true},
        doc! {"_id": 3, "item": "paper", "qty": 100, "size": {"h": 8.5, "w": 11, "uom": "in"}, "instock": 1},
        doc! {"_id": 4, "item": "planner", "qty": 75, "size": {"h": 22.85, "w": 30, "uom": "cm"}, "instock": 1},
        doc! {"_id": 5, "item": "postcard", "qty": 45, "size": {"h": 10, "w": 15.25, "uom": "cm"}, "instock": true},
        doc! {"_id": 6, "item": "apple", "qty": 45, "status": "A", "instock": true},
        doc! {"_id": 7, "item": "pears", "qty": 50, "status": "A", "instock": true},
    ];
    let schema = doc! {
        "required": ["item", "qty", "instock"],
        "properties": {
            "item": {"bsonType": "string"},
            "qty": {"bsonType": "int"},
            "size": {
                "bsonType": "object",
                "required": ["uom"],
                "properties": {
                    "uom": {"bsonType": "string"},
                    "h": {"bsonType": "double"},
                    "w": {"bsonType": "double"}
                }
            },
            "instock": {"bsonType": "bool"}
        }
    };
    assert_eq!(ids(doc! {"$jsonSchema": schema.clone()}, &docs), vec![2, 6, 7]);
    assert_eq!(ids(doc! {"$nor": [{"$jsonSchema": schema}]}, &docs), vec![1, 3, 4, 5]);
}
