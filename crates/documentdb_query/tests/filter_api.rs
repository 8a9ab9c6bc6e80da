//! `matches_positional`, `equality_fields`, `pushdown_predicates`, `$pull`-style
//! element filters and the arrayFilters wrapper pattern.

use bson::{doc, Bson, Document, RawBson, RawDocumentBuf};
use documentdb_query::filter::{parse_element_filter, Filter, MatchOutcome, PushdownOp, PushdownPredicate};

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).unwrap()
}

fn filter(f: Document) -> Filter {
    Filter::parse(&raw(&f)).unwrap_or_else(|e| panic!("parse {f}: {e:?}"))
}

fn pos(f: Document, d: Document) -> MatchOutcome {
    filter(f).matches_positional(&raw(&d)).unwrap()
}

fn rb(v: impl Into<Bson>) -> RawBson {
    let d = raw(&doc! {"v": v.into()});
    RawBson::from(d.get("v").unwrap().unwrap())
}

// ------------------------------------------------------- positional $ (manual: $ projection / $ update)

#[test]
fn positional_reports_first_matching_array_element_per_manual_positional_update() {
    // db.students.updateOne({_id: 1, grades: 80}, {$set: {"grades.$": 82}}): grades [85, 80, 80].
    assert_eq!(
        pos(doc! {"_id": 1, "grades": 80}, doc! {"_id": 1, "grades": [85, 80, 80]}),
        MatchOutcome::Matched(Some(1))
    );
    assert_eq!(pos(doc! {"grades": {"$gte": 85}}, doc! {"grades": [80, 85, 90]}), MatchOutcome::Matched(Some(1)));
    assert_eq!(pos(doc! {"grades": 1}, doc! {"grades": [2]}), MatchOutcome::NoMatch);
}

#[test]
fn positional_is_none_without_array_traversal() {
    assert_eq!(pos(doc! {"a": 1}, doc! {"a": 1}), MatchOutcome::Matched(None));
    // Matching the whole array records no element.
    assert_eq!(pos(doc! {"a": [1, 2]}, doc! {"a": [1, 2]}), MatchOutcome::Matched(None));
    // Explicit index: no implicit traversal.
    assert_eq!(pos(doc! {"a.1": 2}, doc! {"a": [1, 2]}), MatchOutcome::Matched(None));
    assert_eq!(pos(doc! {}, doc! {"a": [1]}), MatchOutcome::Matched(None));
}

#[test]
fn positional_uses_outermost_array_per_manual_positional_embedded_documents() {
    // db.students.updateOne({_id: 4, "grades.grade": 85}, {$set: {"grades.$.std": 6}})
    let d = doc! {"_id": 4, "grades": [{"grade": 80, "mean": 75, "std": 8}, {"grade": 85, "mean": 90, "std": 5}, {"grade": 85, "mean": 85, "std": 8}]};
    assert_eq!(pos(doc! {"_id": 4, "grades.grade": 85}, d), MatchOutcome::Matched(Some(1)));
    // Nested arrays: the outer array's index wins.
    assert_eq!(pos(doc! {"a.b": 2}, doc! {"a": [{"b": [0, 1]}, {"b": [1, 2]}]}), MatchOutcome::Matched(Some(1)));
}

#[test]
fn positional_with_elem_match_per_manual_positional_multiple_fields() {
    // db.students.updateOne({_id: 5, grades: {$elemMatch: {grade: {$lte: 90}, mean: {$gt: 80}}}}, ...)
    let d = doc! {"_id": 5, "grades": [{"grade": 80, "mean": 75, "std": 8}, {"grade": 85, "mean": 90, "std": 5}, {"grade": 90, "mean": 85, "std": 3}]};
    let f = doc! {"_id": 5, "grades": {"$elemMatch": {"grade": {"$lte": 90}, "mean": {"$gt": 80}}}};
    assert_eq!(pos(f, d), MatchOutcome::Matched(Some(1)));
    assert_eq!(pos(doc! {"a": {"$elemMatch": {"$gt": 5}}}, doc! {"a": [1, 7]}), MatchOutcome::Matched(Some(1)));
    // Through an outer array of documents, the outer index is reported.
    assert_eq!(
        pos(doc! {"a.b": {"$elemMatch": {"$gt": 5}}}, doc! {"a": [{"b": [1]}, {"b": [1, 2]}, {"b": [9]}]}),
        MatchOutcome::Matched(Some(2))
    );
}

#[test]
fn positional_negations_record_nothing_and_last_and_child_wins() {
    assert_eq!(pos(doc! {"a": {"$ne": 5}}, doc! {"a": [1, 2]}), MatchOutcome::Matched(None));
    assert_eq!(pos(doc! {"a": 2, "b": 1}, doc! {"a": [1, 2], "b": [0, 0, 1]}), MatchOutcome::Matched(Some(2)));
    assert_eq!(pos(doc! {"$or": [{"a": 9}, {"a": 2}]}, doc! {"a": [1, 2]}), MatchOutcome::Matched(Some(1)));
}

// ------------------------------------------------------- equality_fields (upsert seeding)

#[test]
fn equality_fields_collects_top_level_equalities_per_manual_upsert_behavior() {
    let f = filter(doc! {
        "_id": 7, "a": 1, "b": {"$eq": "x"}, "c": {"$gt": 1}, "d": {"$in": [4]}, "e": {"$in": [1, 2]},
        "f.g": null, "$and": [{"h": [1, 2]}, {"i": {"$lt": 3}}], "$or": [{"j": 1}], "k": {"$ne": 1},
    });
    let fields = f.equality_fields();
    let expected = vec![
        ("_id".to_string(), rb(7)),
        ("a".to_string(), rb(1)),
        ("b".to_string(), rb("x")),
        ("d".to_string(), rb(4)),
        ("f.g".to_string(), rb(Bson::Null)),
        ("h".to_string(), rb(vec![Bson::Int32(1), Bson::Int32(2)])),
    ];
    assert_eq!(fields, expected);
}

// ------------------------------------------------------- pushdown

#[test]
fn pushdown_predicates_are_anded_top_level_comparisons() {
    let f = filter(doc! {
        "a": 1, "b": {"$gte": 2, "$lt": 9}, "c": {"$in": [3, 1, 2]}, "d": {"$exists": true},
        "e": {"$exists": false}, "$and": [{"f": "x"}], "$or": [{"g": 1}, {"h": 1}], "i": {"$in": [bson::Regex { pattern: "x".try_into().unwrap(), options: "".try_into().unwrap() }]},
        "j": {"$ne": 1},
    });
    let p = f.pushdown_predicates();
    let expect = |path: &str, op, value: RawBson| PushdownPredicate { path: path.into(), op, value };
    let mut arr = bson::RawArrayBuf::new();
    for i in [1, 2, 3] {
        arr.push(i);
    }
    assert_eq!(
        p,
        vec![
            expect("a", PushdownOp::Eq, rb(1)),
            expect("b", PushdownOp::Gte, rb(2)),
            expect("b", PushdownOp::Lt, rb(9)),
            expect("c", PushdownOp::In, RawBson::Array(arr)),
            expect("d", PushdownOp::Exists, RawBson::Boolean(true)),
            expect("f", PushdownOp::Eq, rb("x")),
        ]
    );
    assert!(filter(doc! {"$or": [{"a": 1}]}).pushdown_predicates().is_empty());
}

#[test]
fn pushdown_is_complete_only_when_every_conjunct_is_pushed() {
    assert!(filter(doc! {"a": 1, "b": {"$gt": 2, "$lte": 5}, "$and": [{"c": {"$in": [1, 2]}}]}).pushdown_is_complete());
    assert!(filter(doc! {"d": {"$exists": true}}).pushdown_is_complete());
    assert!(filter(doc! {}).pushdown_is_complete());
    for partial in [
        doc! {"a": 1, "b": {"$ne": 2}},
        doc! {"a": {"$exists": false}},
        doc! {"$or": [{"a": 1}, {"b": 1}]},
        doc! {"a": {"$size": 1}},
        doc! {"a": {"$elemMatch": {"$gt": 1}}},
        doc! {"$expr": {"$eq": ["$a", 1]}},
        doc! {"a": bson::Regex { pattern: "x".try_into().unwrap(), options: "".try_into().unwrap() }},
    ] {
        assert!(!filter(partial.clone()).pushdown_is_complete(), "{partial}");
    }
}

/// Each pushed predicate, as its SQL operator sees it (`document @> '{path: value}'`), keeps
/// MongoDB's semantics: array elements match, `{a: null}` matches a missing field, and
/// comparisons are type-bracketed (manual: "Query on Embedded/Nested Documents", "Query an
/// Array", "Query for Null or Missing Fields", "Comparison/Sort Order").
#[test]
fn pushdown_operator_filters_match_like_the_full_filter() {
    let docs = [
        doc! {"a": 5},
        doc! {"a": [1, 10]},
        doc! {"a": "5"},
        doc! {"a": null},
        doc! {},
        doc! {"a": {"b": 5}},
        doc! {"a": [{"b": 7}, {"b": 3}]},
        doc! {"a": 5.0},
        doc! {"a": [[5]]},
    ];
    let cases = [
        (PushdownOp::Eq, doc! {"a": 5}),
        (PushdownOp::Eq, doc! {"a": null}),
        (PushdownOp::Eq, doc! {"a": [5]}),
        (PushdownOp::Gt, doc! {"a": 4}),
        (PushdownOp::Gte, doc! {"a.b": 5}),
        (PushdownOp::Lt, doc! {"a": 2}),
        (PushdownOp::Lte, doc! {"a": "5"}),
        (PushdownOp::In, doc! {"a": [null, 10]}),
        (PushdownOp::Exists, doc! {"a.b": true}),
    ];
    for (op, operand) in cases {
        let pushed = Filter::for_pushdown(op, &raw(&operand)).unwrap();
        let (path, value) = operand.iter().next().unwrap();
        let full = filter(doc! { path.clone(): { op.query_operator(): value.clone() } });
        for d in &docs {
            assert_eq!(pushed.matches(&raw(d)).unwrap(), full.matches(&raw(d)).unwrap(), "{op:?} {operand} on {d}");
        }
    }
    // The operand shape is checked, not trusted.
    assert!(Filter::for_pushdown(PushdownOp::Eq, &raw(&doc! {"a": 1, "b": 2})).is_err());
    assert!(Filter::for_pushdown(PushdownOp::Eq, &raw(&doc! {})).is_err());
    assert!(Filter::for_pushdown(PushdownOp::In, &raw(&doc! {"a": 1})).is_err());
    // Spot checks of the semantics themselves.
    let gt4 = Filter::for_pushdown(PushdownOp::Gt, &raw(&doc! {"a": 4})).unwrap();
    assert!(gt4.matches(&raw(&doc! {"a": [1, 10]})).unwrap());
    assert!(!gt4.matches(&raw(&doc! {"a": "5"})).unwrap());
    let null = Filter::for_pushdown(PushdownOp::Eq, &raw(&doc! {"a": null})).unwrap();
    assert!(null.matches(&raw(&doc! {})).unwrap());
}

// ------------------------------------------------------- $pull conditions (manual: $pull)

fn pull_keeps(cond: Bson, values: Vec<Bson>) -> Vec<Bson> {
    let doc = raw(&doc! {"c": cond});
    let f = parse_element_filter(doc.get("c").unwrap().unwrap()).unwrap();
    let arr = raw(&doc! {"v": values});
    let arr = arr.get_array("v").unwrap();
    arr.into_iter()
        .map(|v| v.unwrap())
        .filter(|v| !f.matches_value(*v).unwrap())
        .map(|v| Bson::try_from(RawBson::from(v)).unwrap())
        .collect()
}

#[test]
fn pull_condition_operator_document_applies_to_values_per_manual_pull() {
    // db.profiles.updateOne({_id: 1}, {$pull: {votes: {$gte: 6}}}) with votes [3, 5, 6, 7, 7, 8]
    let kept =
        pull_keeps(Bson::Document(doc! {"$gte": 6}), vec![3.into(), 5.into(), 6.into(), 7.into(), 7.into(), 8.into()]);
    assert_eq!(kept, vec![Bson::Int32(3), Bson::Int32(5)]);
    // $in
    let kept = pull_keeps(
        Bson::Document(doc! {"$in": ["apples", "oranges"]}),
        vec!["apples".into(), "pears".into(), "oranges".into(), "grapes".into()],
    );
    assert_eq!(kept, vec![Bson::from("pears"), Bson::from("grapes")]);
}

#[test]
fn pull_condition_document_is_a_query_on_element_documents_per_manual_pull_array_of_documents() {
    // {$pull: {results: {score: 8, item: "B"}}}
    let values = vec![
        Bson::Document(doc! {"item": "A", "score": 5}),
        Bson::Document(doc! {"item": "B", "score": 8}),
        Bson::Document(doc! {"item": "B", "score": 8, "extra": 1}),
        Bson::Int32(8),
    ];
    let kept = pull_keeps(Bson::Document(doc! {"score": 8, "item": "B"}), values);
    assert_eq!(kept, vec![Bson::Document(doc! {"item": "A", "score": 5}), Bson::Int32(8)]);
    // Nested arrays of documents: {$pull: {results: {answers: {$elemMatch: {q: 2, a: {$gte: 8}}}}}}
    let values = vec![
        Bson::Document(doc! {"answers": [{"q": 1, "a": 4}, {"q": 2, "a": 6}]}),
        Bson::Document(doc! {"answers": [{"q": 1, "a": 0}, {"q": 2, "a": 8}]}),
    ];
    let kept = pull_keeps(Bson::Document(doc! {"answers": {"$elemMatch": {"q": 2, "a": {"$gte": 8}}}}), values);
    assert_eq!(kept, vec![Bson::Document(doc! {"answers": [{"q": 1, "a": 4}, {"q": 2, "a": 6}]})]);
}

#[test]
fn pull_condition_scalar_is_equality_per_manual_pull() {
    let kept = pull_keeps(
        Bson::Int32(1),
        vec![
            Bson::Int32(1),
            Bson::Double(1.0),
            Bson::Int64(2),
            Bson::String("1".into()),
            Bson::Array(vec![Bson::Int32(1)]),
        ],
    );
    assert_eq!(kept, vec![Bson::Int64(2), Bson::String("1".into()), Bson::Array(vec![Bson::Int32(1)])]);
    let kept = pull_keeps(
        Bson::Array(vec![1.into(), 2.into()]),
        vec![Bson::Array(vec![1.into(), 2.into()]), Bson::Array(vec![2.into(), 1.into()])],
    );
    assert_eq!(kept, vec![Bson::Array(vec![2.into(), 1.into()])]);
    // A regex condition matches strings.
    let re =
        Bson::RegularExpression(bson::Regex { pattern: "^a".try_into().unwrap(), options: "".try_into().unwrap() });
    let kept = pull_keeps(re, vec!["ab".into(), "ba".into()]);
    assert_eq!(kept, vec![Bson::from("ba")]);
}

#[test]
fn pull_wrapped_conditions_traverse_array_values() {
    // The operator form matches an array value when one of its elements does (as a query
    // on {"": value} would).
    let kept = pull_keeps(
        Bson::Document(doc! {"$gte": 6}),
        vec![Bson::Array(vec![1.into(), 7.into()]), Bson::Array(vec![1.into()])],
    );
    assert_eq!(kept, vec![Bson::Array(vec![1.into()])]);
}

// ------------------------------------------------------- arrayFilters pattern (manual: arrayFilters)

#[test]
fn array_filters_evaluate_against_wrapper_documents_per_manual_update_arrayfilters() {
    // arrayFilters: [{"element": {$gte: 100}}]
    let f = filter(doc! {"element": {"$gte": 100}});
    let wrapped = raw(&doc! {"element": 102});
    assert!(f.matches(&wrapped).unwrap());
    let values = raw(&doc! {"v": [95, 92, 102, 100]});
    let hits: Vec<bool> =
        values.get_array("v").unwrap().into_iter().map(|v| f.matches_wrapped("element", v.unwrap()).unwrap()).collect();
    assert_eq!(hits, vec![false, false, true, true]);
    // Identifier with sub-fields: arrayFilters: [{"elem.grade": {$gte: 85}}]
    let f = filter(doc! {"elem.grade": {"$gte": 85}, "elem.mean": {"$gt": 80}});
    let grades = raw(&doc! {"g": [{"grade": 80, "mean": 75}, {"grade": 85, "mean": 90}, {"grade": 85, "mean": 85}]});
    let hits: Vec<bool> =
        grades.get_array("g").unwrap().into_iter().map(|v| f.matches_wrapped("elem", v.unwrap()).unwrap()).collect();
    assert_eq!(hits, vec![false, true, true]);
    // Fields other than the identifier are missing in the wrapper.
    let f = filter(doc! {"other": null});
    assert!(f.matches_wrapped("elem", bson::RawBsonRef::Int32(1)).unwrap());
}

#[test]
fn filters_are_cloneable() {
    let f = filter(doc! {"a": {"$regex": "^x"}});
    let g = f.clone();
    assert!(g.matches(&raw(&doc! {"a": "xy"})).unwrap());
}
