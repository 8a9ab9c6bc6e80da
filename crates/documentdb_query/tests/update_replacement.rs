//! Replacement documents and aggregation-pipeline updates (MongoDB 7.0 manual:
//! "db.collection.replaceOne()", "Updates with Aggregation Pipeline").
use bson::{doc, Bson, Document, RawArrayBuf, RawBsonRef, RawDocumentBuf, Timestamp};
use documentdb_errors::{DocDbError, ErrorCode};
use documentdb_query::update::{Update, UpdateOutcome};

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("encodable test document")
}

fn pipeline(stages: &[Document]) -> RawArrayBuf {
    let mut a = RawArrayBuf::new();
    for s in stages {
        a.push(raw(s));
    }
    a
}

fn replace(doc: Document, r: Document) -> Result<UpdateOutcome, DocDbError> {
    Update::parse(RawBsonRef::Document(&raw(&r)), None)?.apply(&raw(&doc), None)
}

fn run_pipeline(doc: Document, stages: &[Document]) -> Result<UpdateOutcome, DocDbError> {
    let p = pipeline(stages);
    Update::parse(RawBsonRef::Array(&p), None)?.apply(&raw(&doc), None)
}

fn parse_pipeline_err(stages: &[Document]) -> (ErrorCode, String) {
    let p = pipeline(stages);
    let e = Update::parse(RawBsonRef::Array(&p), None).expect_err("pipeline should not parse");
    (e.code, e.message)
}

// ---- replacement ----

// "replaceOne ... The replacement document ... _id field is preserved": a replacement
// without `_id` keeps the original one, first.
#[test]
fn replacement_keeps_id() {
    let u = Update::parse(RawBsonRef::Document(&raw(&doc! { "c": 3, "d": [1] })), None).unwrap();
    assert!(u.is_replacement());
    let out = u.apply(&raw(&doc! { "_id": 1, "a": 1, "b": 2 }), None).unwrap();
    assert!(out.modified);
    assert_eq!(out.document, raw(&doc! { "_id": 1, "c": 3, "d": [1] }));
}

// A replacement may repeat the `_id` (anywhere); `_id` ends up first.
#[test]
fn replacement_with_same_id() {
    let out = replace(doc! { "_id": 1, "a": 1 }, doc! { "b": 2, "_id": 1 }).unwrap();
    assert_eq!(out.document, raw(&doc! { "_id": 1, "b": 2 }));
}

// "you cannot ... replace the _id": a different `_id` is ImmutableField.
#[test]
fn replacement_with_different_id_is_immutable_field() {
    let e = replace(doc! { "_id": 1, "a": 1 }, doc! { "_id": 2, "a": 1 }).unwrap_err();
    assert_eq!(e.code, ErrorCode::ImmutableField);
    assert_eq!(
        e.message,
        "After applying the update, the (immutable) field '_id' was found to have been altered to _id: 2"
    );
}

// "The replacement document ... cannot contain update operator expressions".
#[test]
fn replacement_with_operator_is_rejected() {
    let e = replace(doc! { "_id": 1 }, doc! { "a": 1, "$set": { "b": 1 } }).unwrap_err();
    assert_eq!(e.code, ErrorCode::DollarPrefixedFieldName);
    assert_eq!(
        e.message,
        "The dollar ($) prefixed field '$set' in '$set' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith."
    );
    // Nested `$`-prefixed names are allowed (MongoDB 5.0+).
    let out = replace(doc! { "_id": 1 }, doc! { "a": { "$b": 1 } }).unwrap();
    assert_eq!(out.document, raw(&doc! { "_id": 1, "a": { "$b": 1 } }));
}

// An identical replacement is not a modification.
#[test]
fn identical_replacement_is_a_no_op() {
    let out = replace(doc! { "_id": 1, "a": 1 }, doc! { "a": 1 }).unwrap();
    assert!(!out.modified);
}

// `_id` may not become an array.
#[test]
fn replacement_id_type_rules() {
    let e = replace(doc! { "a": 1 }, doc! { "_id": [1] }).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::InvalidIdField, "The '_id' value cannot be of type array"));
}

// "Timestamps": an empty timestamp in a top-level field of a replacement becomes the
// current time.
#[test]
fn replacement_fills_empty_timestamps() {
    let out = replace(doc! { "_id": 1 }, doc! { "ts": Timestamp { time: 0, increment: 0 } }).unwrap();
    let d = Document::try_from(&out.document).unwrap();
    match d.get("ts") {
        Some(Bson::Timestamp(ts)) => assert!(ts.time > 0),
        other => panic!("expected a timestamp, got {other:?}"),
    }
}

// ---- pipeline updates ----

// "Updates with Aggregation Pipeline": $set and $unset stages.
#[test]
fn pipeline_set_and_unset() {
    let out =
        run_pipeline(doc! { "_id": 1, "a": 5, "c": 1 }, &[doc! { "$set": { "b": "$a" } }, doc! { "$unset": "a" }])
            .unwrap();
    assert!(out.modified);
    assert_eq!(out.document, raw(&doc! { "_id": 1, "c": 1, "b": 5 }));
}

// $project keeps `_id` by default.
#[test]
fn pipeline_project() {
    let out = run_pipeline(doc! { "_id": 1, "a": 1, "b": 2 }, &[doc! { "$project": { "a": 1 } }]).unwrap();
    assert_eq!(out.document, raw(&doc! { "_id": 1, "a": 1 }));
}

// $replaceWith: the new root keeps the original `_id` when it has none, and may not change it.
#[test]
fn pipeline_replace_with() {
    let out = run_pipeline(doc! { "_id": 1, "sub": { "x": 1 } }, &[doc! { "$replaceWith": "$sub" }]).unwrap();
    assert_eq!(out.document, raw(&doc! { "_id": 1, "x": 1 }));
    let e = run_pipeline(doc! { "_id": 1, "sub": { "_id": 2 } }, &[doc! { "$replaceWith": "$sub" }]).unwrap_err();
    assert_eq!(e.code, ErrorCode::ImmutableField);
}

// "$replaceRoot ... If <replacementDocument> is not a document, $replaceRoot errors and fails."
#[test]
fn pipeline_replace_root_non_document() {
    let e = run_pipeline(doc! { "_id": 1 }, &[doc! { "$replaceRoot": { "newRoot": "$missing" } }]).unwrap_err();
    assert_eq!(e.code, ErrorCode::new(40228));
    assert_eq!(
        e.message,
        "'newRoot' expression must evaluate to an object, but resulting value was: MISSING. Type of resulting value: 'missing'. Input document: {_id: 1}"
    );
}

// "$replaceRoot" stage shape errors.
#[test]
fn pipeline_replace_root_spec_errors() {
    assert_eq!(parse_pipeline_err(&[doc! { "$replaceRoot": 1 }]).0, ErrorCode::new(40229));
    assert_eq!(parse_pipeline_err(&[doc! { "$replaceRoot": { "x": 1 } }]).0, ErrorCode::new(40415));
    assert_eq!(parse_pipeline_err(&[doc! { "$replaceRoot": {} }]).0, ErrorCode::new(40414));
}

// "The pipeline can consist of the following stages: $addFields/$set, $project/$unset,
// $replaceRoot/$replaceWith"; other stages are refused.
#[test]
fn pipeline_stage_restrictions() {
    assert_eq!(
        parse_pipeline_err(&[doc! { "$match": { "a": 1 } }]),
        (ErrorCode::InvalidOptions, "$match is not allowed to be used within an update".to_owned())
    );
    assert_eq!(
        parse_pipeline_err(&[doc! { "$foo": 1 }]),
        (ErrorCode::new(40324), "Unrecognized pipeline stage name: '$foo'".to_owned())
    );
    assert_eq!(parse_pipeline_err(&[doc! { "$set": { "a": 1 }, "$unset": "b" }]).0, ErrorCode::new(40323));
    let mut p = RawArrayBuf::new();
    p.push(1);
    let e = Update::parse(RawBsonRef::Array(&p), None).unwrap_err();
    assert_eq!(e.code, ErrorCode::TypeMismatch);
}

// "arrayFilters ... not available for updates that use an aggregation pipeline".
#[test]
fn pipeline_with_array_filters_is_rejected() {
    let p = pipeline(&[doc! { "$set": { "a": 1 } }]);
    let mut af = RawArrayBuf::new();
    af.push(raw(&doc! { "x": 1 }));
    let e = Update::parse(RawBsonRef::Array(&p), Some(&af)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::FailedToParse, "arrayFilters may not be specified for pipeline-style updates")
    );
}

// A pipeline that changes nothing is not a modification.
#[test]
fn pipeline_no_op() {
    let out = run_pipeline(doc! { "_id": 1, "a": 5 }, &[doc! { "$set": { "a": 5 } }]).unwrap();
    assert!(!out.modified);
}
