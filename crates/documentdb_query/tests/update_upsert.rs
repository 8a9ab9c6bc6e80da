//! Upserts: the inserted document starts from the query's equality fields and the update
//! runs with `$setOnInsert` active (MongoDB 7.0 manual: "Upsert Behavior", "$setOnInsert").
use bson::{doc, Bson, Document, RawArrayBuf, RawBson, RawBsonRef, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};
use documentdb_query::update::Update;

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("encodable test document")
}

fn seed(fields: &[(&str, Bson)]) -> Vec<(String, RawBson)> {
    fields.iter().map(|(k, v)| (k.to_string(), RawBson::try_from(v.clone()).expect("raw value"))).collect()
}

fn upsert(u: Document, fields: &[(&str, Bson)]) -> Result<RawDocumentBuf, DocDbError> {
    Update::parse(RawBsonRef::Document(&raw(&u)), None)?.apply_upsert(&seed(fields))
}

fn upsert_err(u: Document, fields: &[(&str, Bson)]) -> (ErrorCode, String) {
    let e = upsert(u, fields).expect_err("upsert should fail");
    (e.code, e.message)
}

fn check(u: Document, fields: &[(&str, Bson)], expected: Document) {
    let got = upsert(u, fields).expect("upsert builds a document");
    assert_eq!(
        got.as_bytes(),
        raw(&expected).as_bytes(),
        "\n got: {:?}\n expected: {expected:?}",
        Document::try_from(&got)
    );
}

// "$setOnInsert" manual example: the inserted document has the query's `_id`, the $set
// field and the $setOnInsert field (fields created in field-name order).
#[test]
fn set_on_insert_applies_on_upsert() {
    check(
        doc! { "$set": { "item": "apple" }, "$setOnInsert": { "defaultQty": 100 } },
        &[("_id", Bson::Int32(1))],
        doc! { "_id": 1, "defaultQty": 100, "item": "apple" },
    );
}

// "Upsert with Dotted _id Query" / "Upsert Behavior": equality fields, dotted paths
// expanded into documents; `_id` is not generated here.
#[test]
fn seed_fields_are_expanded() {
    check(
        doc! { "$set": { "d": 1 } },
        &[("a.b", Bson::Int32(1)), ("c", Bson::Int32(2))],
        doc! { "a": { "b": 1 }, "c": 2, "d": 1 },
    );
    check(doc! { "$inc": { "n": 1 } }, &[], doc! { "n": 1 });
}

// Seed fields are placed in path order (MongoDB keeps them in a sorted map); `_id` first.
#[test]
fn seed_fields_sorted_id_first() {
    check(
        doc! { "$set": { "z": 1 } },
        &[("b", Bson::Int32(1)), ("A", Bson::Int32(2)), ("_id", Bson::Int32(5))],
        doc! { "_id": 5, "A": 2, "b": 1, "z": 1 },
    );
}

// The update operates on the seeded values.
#[test]
fn update_operates_on_seed() {
    check(doc! { "$inc": { "n": 2 } }, &[("_id", Bson::Int32(1)), ("n", Bson::Int32(5))], doc! { "_id": 1, "n": 7 });
    let (code, msg) = upsert_err(doc! { "$push": { "a": 1 } }, &[("_id", Bson::Int32(1)), ("a", Bson::Int32(1))]);
    assert_eq!(code, ErrorCode::BadValue);
    assert_eq!(msg, "The field 'a' must be an array but is of type int in document {_id: 1}");
}

// arrayFilters apply to arrays that came from the query.
#[test]
fn array_filters_on_seeded_array() {
    let u = raw(&doc! { "$set": { "a.$[x]": 0 } });
    let mut af = RawArrayBuf::new();
    af.push(raw(&doc! { "x": { "$gt": 2 } }));
    let out = Update::parse(RawBsonRef::Document(&u), Some(&af))
        .unwrap()
        .apply_upsert(&seed(&[("a", Bson::Array(vec![Bson::Int32(1), Bson::Int32(5)]))]))
        .unwrap();
    assert_eq!(out, raw(&doc! { "a": [1, 0] }));
}

// "cannot infer query fields to set": the same path or a path and its prefix twice.
#[test]
fn conflicting_seed_paths() {
    assert_eq!(
        upsert_err(doc! { "$set": { "x": 1 } }, &[("a", Bson::Int32(1)), ("a.b", Bson::Int32(2))]),
        (
            ErrorCode::NotSingleValueField,
            "cannot infer query fields to set, both paths 'a.b' and 'a' are matched".to_owned()
        )
    );
    assert_eq!(
        upsert_err(doc! { "$set": { "x": 1 } }, &[("a", Bson::Int32(1)), ("a", Bson::Int32(2))]),
        (ErrorCode::NotSingleValueField, "cannot infer query fields to set, path 'a' is matched twice".to_owned())
    );
}

// `_id` from the query is immutable during the upsert; without one, `$set` may create it.
#[test]
fn upsert_id_rules() {
    assert_eq!(upsert_err(doc! { "$set": { "_id": 2 } }, &[("_id", Bson::Int32(1))]).0, ErrorCode::ImmutableField);
    check(doc! { "$set": { "_id": 2, "a": 1 } }, &[], doc! { "_id": 2, "a": 1 });
    assert_eq!(
        upsert_err(doc! { "$set": { "_id": [1] } }, &[]),
        (ErrorCode::InvalidIdField, "The '_id' value cannot be of type array".to_owned())
    );
}

// The positional `$` has no match to use in an upsert.
#[test]
fn positional_in_upsert_is_bad_value() {
    assert_eq!(
        upsert_err(doc! { "$set": { "a.$": 1 } }, &[("a", Bson::Array(vec![Bson::Int32(1)]))]),
        (ErrorCode::BadValue, "The positional operator did not find the match needed from the query.".to_owned())
    );
}

// "$[] ... upsert ... the array field must exist".
#[test]
fn all_positional_in_upsert_needs_the_array() {
    assert_eq!(upsert_err(doc! { "$set": { "a.$[]": 1 } }, &[]).0, ErrorCode::BadValue);
}

// "Replacement document upsert": only the query's `_id` is kept, plus the replacement.
#[test]
fn replacement_upsert() {
    check(doc! { "y": 2 }, &[("_id", Bson::Int32(1)), ("x", Bson::Int32(5))], doc! { "_id": 1, "y": 2 });
    check(doc! { "y": 2, "_id": 1 }, &[("_id", Bson::Int32(1))], doc! { "_id": 1, "y": 2 });
    check(doc! { "y": 2 }, &[("x", Bson::Int32(5))], doc! { "y": 2 });
    assert_eq!(upsert_err(doc! { "_id": 2 }, &[("_id", Bson::Int32(1))]).0, ErrorCode::ImmutableField);
    assert_eq!(
        upsert_err(doc! { "y": 2 }, &[("_id.a", Bson::Int32(1))]),
        (
            ErrorCode::NotExactValueField,
            "field at '_id' must be exactly specified, field at sub-path '_id.a'found".to_owned()
        )
    );
}

// Pipeline upserts start from every equality field.
#[test]
fn pipeline_upsert() {
    let mut p = RawArrayBuf::new();
    p.push(raw(&doc! { "$set": { "b": "$a" } }));
    let out = Update::parse(RawBsonRef::Array(&p), None)
        .unwrap()
        .apply_upsert(&seed(&[("_id", Bson::Int32(1)), ("a", Bson::Int32(2))]))
        .unwrap();
    assert_eq!(out, raw(&doc! { "_id": 1, "a": 2, "b": 2 }));
}
