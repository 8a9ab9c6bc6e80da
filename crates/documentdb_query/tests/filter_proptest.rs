//! Property tests: `$ne` is the negation of `$eq`, `$nin` of `$in`, `$not` of its operand,
//! on random documents (MongoDB's parser builds exactly these negations).

use bson::{doc, Bson, Document, RawDocumentBuf};
use documentdb_query::filter::Filter;
use proptest::prelude::*;

fn scalar() -> impl Strategy<Value = Bson> {
    prop_oneof![
        (-3i32..3).prop_map(Bson::Int32),
        (-3i64..3).prop_map(Bson::Int64),
        prop::sample::select(vec![-1.5, 0.0, 1.0, 2.5, f64::NAN, f64::INFINITY]).prop_map(Bson::Double),
        prop::sample::select(vec!["", "a", "b"]).prop_map(|s: &str| Bson::String(s.to_string())),
        Just(Bson::Null),
        Just(Bson::Boolean(true)),
        Just(Bson::MinKey),
        Just(Bson::MaxKey),
    ]
}

fn stored_scalar() -> impl Strategy<Value = Bson> {
    prop_oneof![9 => scalar(), 1 => Just(Bson::Undefined)]
}

/// A value for field `a`: scalars, arrays, documents {b: ...}, arrays of documents.
fn value() -> impl Strategy<Value = Bson> {
    let leaf = stored_scalar();
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Bson::Array),
            inner.clone().prop_map(|v| Bson::Document(doc! {"b": v})),
            prop::collection::vec(inner.prop_map(|v| Bson::Document(doc! {"b": v})), 0..3).prop_map(Bson::Array),
        ]
    })
}

fn operand() -> impl Strategy<Value = Bson> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(Bson::Array),
        1 => scalar().prop_map(|v| Bson::Document(doc! {"b": v})),
    ]
}

fn document() -> impl Strategy<Value = Document> {
    prop::option::of(value()).prop_map(|v| match v {
        Some(v) => doc! {"a": v},
        None => doc! {"x": 1},
    })
}

fn matches(f: Document, d: &RawDocumentBuf) -> bool {
    let f = Filter::parse(&RawDocumentBuf::try_from(&f).unwrap()).unwrap();
    f.matches(d).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ne_is_negation_of_eq(d in document(), v in operand(), path in prop::sample::select(vec!["a", "a.b", "a.0", "a.0.b"])) {
        let raw = RawDocumentBuf::try_from(&d).unwrap();
        let eq = matches(doc! {path: {"$eq": v.clone()}}, &raw);
        let ne = matches(doc! {path: {"$ne": v}}, &raw);
        prop_assert_eq!(eq, !ne);
    }

    #[test]
    fn nin_is_negation_of_in(d in document(), vs in prop::collection::vec(operand(), 0..4), path in prop::sample::select(vec!["a", "a.b", "a.1"])) {
        let raw = RawDocumentBuf::try_from(&d).unwrap();
        let inn = matches(doc! {path: {"$in": vs.clone()}}, &raw);
        let nin = matches(doc! {path: {"$nin": vs.clone()}}, &raw);
        prop_assert_eq!(inn, !nin);
        // $in is the disjunction of equalities.
        let any_eq = vs.iter().any(|v| matches(doc! {path: {"$eq": v.clone()}}, &raw));
        prop_assert_eq!(inn, any_eq);
    }

    #[test]
    fn not_is_negation_of_operator(d in document(), v in scalar(), op in prop::sample::select(vec!["$gt", "$gte", "$lt", "$lte", "$eq"])) {
        let raw = RawDocumentBuf::try_from(&d).unwrap();
        let pos = matches(doc! {"a": {op: v.clone()}}, &raw);
        let neg = matches(doc! {"a": {"$not": {op: v.clone()}}}, &raw);
        prop_assert_eq!(pos, !neg);
        let nor = matches(doc! {"$nor": [{"a": {op: v}}]}, &raw);
        prop_assert_eq!(pos, !nor);
    }

    #[test]
    fn implicit_equality_equals_explicit_eq(d in document(), v in operand()) {
        let raw = RawDocumentBuf::try_from(&d).unwrap();
        let implicit_doc = match &v {
            Bson::Document(inner) if inner.keys().any(|k| k.starts_with('$')) => return Ok(()),
            _ => doc! {"a": v.clone()},
        };
        prop_assert_eq!(matches(implicit_doc, &raw), matches(doc! {"a": {"$eq": v}}, &raw));
    }

    #[test]
    fn exists_false_is_negation_of_exists_true(d in document(), path in prop::sample::select(vec!["a", "a.b", "a.0"])) {
        let raw = RawDocumentBuf::try_from(&d).unwrap();
        prop_assert_eq!(matches(doc! {path: {"$exists": true}}, &raw), !matches(doc! {path: {"$exists": false}}, &raw));
    }
}
