//! Array update operators ($push with $each/$position/$sort/$slice, $addToSet, $pop,
//! $pull, $pullAll) and the positional operators ($, $[], $[<identifier>] with
//! arrayFilters), following the MongoDB 7.0 manual's "Array Update Operators" pages.
use bson::{doc, Bson, Document, RawArrayBuf, RawBsonRef, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};
use documentdb_query::update::{Update, UpdateOutcome};

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("encodable test document")
}

fn filters(fs: &[Document]) -> RawArrayBuf {
    let mut a = RawArrayBuf::new();
    for f in fs {
        a.push(raw(f));
    }
    a
}

fn parse_with(u: Document, fs: &[Document]) -> Result<Update, DocDbError> {
    let af = filters(fs);
    Update::parse(RawBsonRef::Document(&raw(&u)), if fs.is_empty() { None } else { Some(&af) })
}

fn apply_with(
    doc: Document,
    u: Document,
    fs: &[Document],
    positional: Option<usize>,
) -> Result<UpdateOutcome, DocDbError> {
    parse_with(u, fs)?.apply(&raw(&doc), positional)
}

fn check_with(doc: Document, u: Document, fs: &[Document], positional: Option<usize>, expected: Document) {
    let out = apply_with(doc, u, fs, positional).expect("update applies");
    let got = Document::try_from(&out.document).expect("decodes");
    assert_eq!(out.document.as_bytes(), raw(&expected).as_bytes(), "\n got:      {got:?}\n expected: {expected:?}");
}

fn check(doc: Document, u: Document, expected: Document) {
    check_with(doc, u, &[], None, expected);
}

fn err_with(doc: Document, u: Document, fs: &[Document], positional: Option<usize>) -> DocDbError {
    match apply_with(doc, u, fs, positional) {
        Ok(out) => panic!("expected an error, got {:?}", Document::try_from(&out.document)),
        Err(e) => e,
    }
}

fn err(doc: Document, u: Document) -> DocDbError {
    err_with(doc, u, &[], None)
}

// ---- $push ----

// "$push" manual: "Append a Value to an Array" and "Append Multiple Values" ($each).
#[test]
fn push_appends_values() {
    check(
        doc! { "_id": 1, "scores": [44, 78] },
        doc! { "$push": { "scores": 89 } },
        doc! { "_id": 1, "scores": [44, 78, 89] },
    );
    check(
        doc! { "_id": 1, "scores": [44] },
        doc! { "$push": { "scores": { "$each": [90, 92, 85] } } },
        doc! { "_id": 1, "scores": [44, 90, 92, 85] },
    );
    // An array value is pushed as one element.
    check(doc! { "_id": 1, "a": [] }, doc! { "$push": { "a": [1, 2] } }, doc! { "_id": 1, "a": [[1, 2]] });
}

// "If the field is absent in the document to update, $push adds the array field with the
// value as its element."
#[test]
fn push_creates_missing_array() {
    check(doc! { "_id": 1 }, doc! { "$push": { "a.b": 1 } }, doc! { "_id": 1, "a": { "b": [1] } });
}

// "If the field is not an array, the operation will fail."
#[test]
fn push_to_non_array_is_bad_value() {
    let e = err(doc! { "_id": 1, "a": 1 }, doc! { "$push": { "a": 2 } });
    assert_eq!(e.code, ErrorCode::BadValue);
    assert_eq!(e.message, "The field 'a' must be an array but is of type int in document {_id: 1}");
}

// "Use $push Operator with Multiple Modifiers": $each, then $sort, then $slice.
#[test]
fn push_with_each_sort_slice() {
    check(
        doc! { "_id": 5, "quizzes": [{ "wk": 1, "score": 10 }, { "wk": 2, "score": 8 }, { "wk": 3, "score": 5 }, { "wk": 4, "score": 6 }] },
        doc! { "$push": { "quizzes": { "$each": [{ "wk": 5, "score": 8 }, { "wk": 6, "score": 7 }, { "wk": 7, "score": 6 }], "$sort": { "score": -1 }, "$slice": 3 } } },
        doc! { "_id": 5, "quizzes": [{ "wk": 1, "score": 10 }, { "wk": 2, "score": 8 }, { "wk": 5, "score": 8 }] },
    );
}

// "$position" manual: add at the beginning, in the middle, and with a negative index.
#[test]
fn push_position() {
    check(
        doc! { "_id": 1, "scores": [100] },
        doc! { "$push": { "scores": { "$each": [50, 60, 70], "$position": 0 } } },
        doc! { "_id": 1, "scores": [50, 60, 70, 100] },
    );
    check(
        doc! { "_id": 1, "scores": [50, 60, 70, 100] },
        doc! { "$push": { "scores": { "$each": [20, 30], "$position": 2 } } },
        doc! { "_id": 1, "scores": [50, 60, 20, 30, 70, 100] },
    );
    check(
        doc! { "_id": 1, "scores": [50, 60, 20, 30, 70, 100] },
        doc! { "$push": { "scores": { "$each": [90, 80], "$position": -2 } } },
        doc! { "_id": 1, "scores": [50, 60, 20, 30, 90, 80, 70, 100] },
    );
    // Past either end: append / prepend.
    check(
        doc! { "_id": 1, "a": [1] },
        doc! { "$push": { "a": { "$each": [2], "$position": 9 } } },
        doc! { "_id": 1, "a": [1, 2] },
    );
    check(
        doc! { "_id": 1, "a": [1] },
        doc! { "$push": { "a": { "$each": [2], "$position": -9 } } },
        doc! { "_id": 1, "a": [2, 1] },
    );
}

// "$slice" manual: negative keeps the last elements, positive the first, $each: [] only slices.
#[test]
fn push_slice() {
    check(
        doc! { "_id": 1, "scores": [40, 50, 60] },
        doc! { "$push": { "scores": { "$each": [80, 78, 86], "$slice": -5 } } },
        doc! { "_id": 1, "scores": [50, 60, 80, 78, 86] },
    );
    check(
        doc! { "_id": 2, "scores": [89, 90] },
        doc! { "$push": { "scores": { "$each": [100, 20], "$slice": 3 } } },
        doc! { "_id": 2, "scores": [89, 90, 100] },
    );
    check(
        doc! { "_id": 3, "scores": [89, 70, 100, 20] },
        doc! { "$push": { "scores": { "$each": [], "$slice": -3 } } },
        doc! { "_id": 3, "scores": [70, 100, 20] },
    );
    check(
        doc! { "_id": 3, "scores": [1, 2] },
        doc! { "$push": { "scores": { "$each": [3], "$slice": 0 } } },
        doc! { "_id": 3, "scores": [] },
    );
}

// "$sort" manual: whole-value sort of numbers; sort of documents by a field; $each: [] sorts only.
#[test]
fn push_sort() {
    check(
        doc! { "_id": 2, "tests": [89, 70, 89, 50] },
        doc! { "$push": { "tests": { "$each": [40, 60], "$sort": 1 } } },
        doc! { "_id": 2, "tests": [40, 50, 60, 70, 89, 89] },
    );
    check(
        doc! { "_id": 3, "tests": [89, 70, 100, 20] },
        doc! { "$push": { "tests": { "$each": [], "$sort": -1 } } },
        doc! { "_id": 3, "tests": [100, 89, 70, 20] },
    );
    check(
        doc! { "_id": 1, "quizzes": [{ "id": 1, "score": 6 }, { "id": 2, "score": 9 }] },
        doc! { "$push": { "quizzes": { "$each": [{ "id": 3, "score": 8 }, { "id": 4, "score": 7 }, { "id": 5, "score": 6 }], "$sort": { "score": 1 } } } },
        doc! { "_id": 1, "quizzes": [{ "id": 1, "score": 6 }, { "id": 5, "score": 6 }, { "id": 4, "score": 7 }, { "id": 3, "score": 8 }, { "id": 2, "score": 9 }] },
    );
    // Elements without the sort field (and non-documents) sort as null, i.e. first.
    check(
        doc! { "_id": 1, "a": [{ "s": 2 }, 5, { "t": 1 }] },
        doc! { "$push": { "a": { "$each": [], "$sort": { "s": 1 } } } },
        doc! { "_id": 1, "a": [5, { "t": 1 }, { "s": 2 }] },
    );
    // Mixed types sort in BSON order.
    check(
        doc! { "_id": 1, "a": ["b", 2, Bson::Null, 1.5] },
        doc! { "$push": { "a": { "$each": [], "$sort": 1 } } },
        doc! { "_id": 1, "a": [Bson::Null, 1.5, 2, "b"] },
    );
}

#[test]
fn push_modifier_errors() {
    let cases: Vec<(Document, &str)> = vec![
        (
            doc! { "$push": { "a": { "$each": 1 } } },
            "The argument to $each in $push must be an array but it was of type: int",
        ),
        (doc! { "$push": { "a": { "$each": [], "$foo": 1 } } }, "Unrecognized clause in $push: $foo"),
        (
            doc! { "$push": { "a": { "$each": [], "$slice": "x" } } },
            "The value for $slice must be an integer value but was given type: string",
        ),
        (
            doc! { "$push": { "a": { "$each": [], "$position": 1.5 } } },
            "The value for $position must be an integer value, not of type: double",
        ),
        (doc! { "$push": { "a": { "$each": [], "$sort": 2 } } }, "The $sort element value must be either 1 or -1"),
        (
            doc! { "$push": { "a": { "$each": [], "$sort": {} } } },
            "The sort pattern is empty when it should be a set of fields.",
        ),
        (
            doc! { "$push": { "a": { "$each": [], "$sort": { "b": 0 } } } },
            "The sort element value must be either 1 or -1",
        ),
        (
            doc! { "$push": { "a": { "$each": [], "$sort": "x" } } },
            "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields",
        ),
    ];
    for (u, msg) in cases {
        let e = parse_with(u.clone(), &[]).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (ErrorCode::BadValue, msg), "{u:?}");
    }
}

// Without $each the modifiers are just part of the pushed document.
#[test]
fn push_without_each_pushes_the_document() {
    check(
        doc! { "_id": 1, "a": [] },
        doc! { "$push": { "a": { "$slice": 1 } } },
        doc! { "_id": 1, "a": [{ "$slice": 1 }] },
    );
}

// ---- $addToSet ----

// "$addToSet" manual: "Value to Add is An Array" adds the array as one element.
#[test]
fn add_to_set_array_value() {
    check(
        doc! { "_id": 1, "letters": ["a", "b"] },
        doc! { "$addToSet": { "letters": ["c", "d"] } },
        doc! { "_id": 1, "letters": ["a", "b", ["c", "d"]] },
    );
}

// "Add to Array" / "Value Already Exists".
#[test]
fn add_to_set_adds_once() {
    check(
        doc! { "_id": 1, "tags": ["electronics", "camera"] },
        doc! { "$addToSet": { "tags": "accessories" } },
        doc! { "_id": 1, "tags": ["electronics", "camera", "accessories"] },
    );
    assert!(
        !apply_with(doc! { "_id": 1, "tags": ["camera"] }, doc! { "$addToSet": { "tags": "camera" } }, &[], None)
            .unwrap()
            .modified
    );
}

// "$each Modifier": only missing values are appended, in order, without duplicates.
#[test]
fn add_to_set_each() {
    check(
        doc! { "_id": 2, "tags": ["electronics", "supplies"] },
        doc! { "$addToSet": { "tags": { "$each": ["camera", "electronics", "accessories", "camera"] } } },
        doc! { "_id": 2, "tags": ["electronics", "supplies", "camera", "accessories"] },
    );
}

// Duplicates are judged by value comparison: 1, 1.0 and NumberLong(1) are the same value.
#[test]
fn add_to_set_numeric_duplicates() {
    assert!(!apply_with(doc! { "_id": 1, "a": [1] }, doc! { "$addToSet": { "a": 1.0 } }, &[], None).unwrap().modified);
    check(
        doc! { "_id": 1, "a": [] },
        doc! { "$addToSet": { "a": { "$each": [1, 1.0, 1_i64, 2] } } },
        doc! { "_id": 1, "a": [1, 2] },
    );
    // Documents compare field by field, in order.
    check(
        doc! { "_id": 1, "a": [{ "x": 1, "y": 2 }] },
        doc! { "$addToSet": { "a": { "y": 2, "x": 1 } } },
        doc! { "_id": 1, "a": [{ "x": 1, "y": 2 }, { "y": 2, "x": 1 }] },
    );
}

// "If the field is absent ... $addToSet creates the array field"; non-array fields fail.
#[test]
fn add_to_set_missing_and_non_array() {
    check(doc! { "_id": 1 }, doc! { "$addToSet": { "a": { "$each": [1, 2] } } }, doc! { "_id": 1, "a": [1, 2] });
    let e = err(doc! { "_id": 1, "a": 1 }, doc! { "$addToSet": { "a": 2 } });
    assert_eq!(e.code, ErrorCode::BadValue);
    assert_eq!(e.message, "Cannot apply $addToSet to non-array field. Field named 'a' has non-array type int");
}

#[test]
fn add_to_set_each_errors() {
    let e = parse_with(doc! { "$addToSet": { "a": { "$each": 1 } } }, &[]).unwrap_err();
    assert_eq!(e.code, ErrorCode::TypeMismatch);
    let e = parse_with(doc! { "$addToSet": { "a": { "$each": [1], "b": 1 } } }, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "Found unexpected fields after $each in $addToSet: { $each: [ 1 ], b: 1 }")
    );
}

// ---- $pop ----

// "$pop" manual: -1 removes the first element, 1 the last.
#[test]
fn pop_first_and_last() {
    check(
        doc! { "_id": 1, "scores": [8, 9, 10] },
        doc! { "$pop": { "scores": -1 } },
        doc! { "_id": 1, "scores": [9, 10] },
    );
    check(doc! { "_id": 1, "scores": [9, 10] }, doc! { "$pop": { "scores": 1 } }, doc! { "_id": 1, "scores": [9] });
    assert!(!apply_with(doc! { "_id": 1, "a": [] }, doc! { "$pop": { "a": 1 } }, &[], None).unwrap().modified);
    assert!(!apply_with(doc! { "_id": 1 }, doc! { "$pop": { "a": 1 } }, &[], None).unwrap().modified);
}

#[test]
fn pop_errors() {
    let e = parse_with(doc! { "$pop": { "a": 2 } }, &[]).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::FailedToParse, "$pop expects 1 or -1, found: 2"));
    let e = parse_with(doc! { "$pop": { "a": "x" } }, &[]).unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::FailedToParse, "Expected a number in: a: \"x\""));
    let e = err(doc! { "_id": 1, "a": 1 }, doc! { "$pop": { "a": 1 } });
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::TypeMismatch, "Path 'a' contains an element of non-array type 'int'")
    );
    // A missing path below a scalar is not viable.
    let e = err(doc! { "_id": 1, "a": 1 }, doc! { "$pop": { "a.b": 1 } });
    assert_eq!(e.code, ErrorCode::PathNotViable);
    assert_eq!(e.message, "Cannot use the part (b) of (a.b) to traverse the element ({a: 1})");
}

// ---- $pull / $pullAll ----

// "$pull" manual: "Remove All Items That Equal a Specified Value" and "... That Match a
// Specified $pull Condition".
#[test]
fn pull_values_and_conditions() {
    check(
        doc! { "_id": 1, "fruits": ["apples", "pears", "oranges", "grapes", "bananas"], "vegetables": ["carrots", "celery", "squash", "carrots"] },
        doc! { "$pull": { "fruits": { "$in": ["apples", "oranges"] }, "vegetables": "carrots" } },
        doc! { "_id": 1, "fruits": ["pears", "grapes", "bananas"], "vegetables": ["celery", "squash"] },
    );
    check(
        doc! { "_id": 1, "votes": [3, 5, 6, 7, 7, 8] },
        doc! { "$pull": { "votes": { "$gte": 6 } } },
        doc! { "_id": 1, "votes": [3, 5] },
    );
}

// "Remove Items from an Array of Documents": the condition is a query on each element
// document, as if it were a top-level document.
#[test]
fn pull_document_condition() {
    check(
        doc! { "_id": 1, "results": [{ "item": "A", "score": 5 }, { "item": "B", "score": 8 }, { "item": "C", "score": 8 }] },
        doc! { "$pull": { "results": { "score": 8, "item": "B" } } },
        doc! { "_id": 1, "results": [{ "item": "A", "score": 5 }, { "item": "C", "score": 8 }] },
    );
}

// "If the specified <value> to remove is an array, $pull removes only the elements in the
// array that match the specified <value> exactly"; equality is by value (1 == 1.0).
#[test]
fn pull_equality() {
    check(
        doc! { "_id": 1, "a": [[1, 2], [2, 1], 1, 1.0] },
        doc! { "$pull": { "a": [1, 2] } },
        doc! { "_id": 1, "a": [[2, 1], 1, 1.0] },
    );
    check(doc! { "_id": 1, "a": [1, 1.0, 2] }, doc! { "$pull": { "a": 1 } }, doc! { "_id": 1, "a": [2] });
}

// "$pullAll" manual example.
#[test]
fn pull_all_removes_all_instances() {
    check(
        doc! { "_id": 1, "scores": [0, 2, 5, 5, 1, 0] },
        doc! { "$pullAll": { "scores": [0, 5] } },
        doc! { "_id": 1, "scores": [2, 1] },
    );
    let e = parse_with(doc! { "$pullAll": { "a": 1 } }, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "$pullAll requires an array argument but was given a int")
    );
}

#[test]
fn pull_non_array_and_missing() {
    let e = err(doc! { "_id": 1, "a": 1 }, doc! { "$pull": { "a": 1 } });
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::BadValue, "Cannot apply $pull to a non-array value"));
    assert!(!apply_with(doc! { "_id": 1 }, doc! { "$pull": { "a": 1 } }, &[], None).unwrap().modified);
}

// ---- positional $ ----

// "$ (update)" manual: "Update Values in an Array" with the index the query matched.
#[test]
fn positional_updates_matched_element() {
    check_with(
        doc! { "_id": 1, "grades": [85, 80, 80] },
        doc! { "$set": { "grades.$": 82 } },
        &[],
        Some(1),
        doc! { "_id": 1, "grades": [85, 82, 80] },
    );
}

// "Update Documents in an Array" / "Update Embedded Documents Using Multiple Field Matches".
#[test]
fn positional_updates_field_of_matched_document() {
    check_with(
        doc! { "_id": 4, "grades": [{ "grade": 80, "mean": 75, "std": 8 }, { "grade": 85, "mean": 90, "std": 5 }] },
        doc! { "$set": { "grades.$.std": 6 } },
        &[],
        Some(1),
        doc! { "_id": 4, "grades": [{ "grade": 80, "mean": 75, "std": 8 }, { "grade": 85, "mean": 90, "std": 6 }] },
    );
}

// "the positional $ operator ... must appear as part of the query document": no recorded
// match → BadValue.
#[test]
fn positional_without_match_is_bad_value() {
    let e = err(doc! { "_id": 1, "a": [1] }, doc! { "$set": { "a.$": 2 } });
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "The positional operator did not find the match needed from the query.")
    );
}

// The positional child is applied together with (merged into) a same-named child; two leaf
// updates of the same element conflict.
#[test]
fn positional_merges_with_same_index() {
    check_with(
        doc! { "_id": 1, "a": [{ "x": 1 }, { "x": 2 }] },
        doc! { "$set": { "a.$.y": 1, "a.1.z": 2 } },
        &[],
        Some(1),
        doc! { "_id": 1, "a": [{ "x": 1 }, { "x": 2, "y": 1, "z": 2 }] },
    );
    let e = err_with(doc! { "_id": 1, "a": [1, 2] }, doc! { "$set": { "a.$": 5 }, "$inc": { "a.0": 1 } }, &[], Some(0));
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::ConflictingUpdateOperators, "Update created a conflict at 'a.0'")
    );
}

// "$ ... Only one positional $ operator" / "cannot be the first element".
#[test]
fn positional_path_errors() {
    let e = parse_with(doc! { "$set": { "a.$.b.$": 1 } }, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "Too many positional (i.e. '$') elements found in path 'a.$.b.$'")
    );
    let e = parse_with(doc! { "$set": { "$.a": 1 } }, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "Cannot have positional (i.e. '$') element in the first position in path '$.a'")
    );
}

// ---- $[] ----

// "$[]" manual: "Update All Elements in an Array".
#[test]
fn all_positional_updates_every_element() {
    check(
        doc! { "_id": 1, "grades": [85, 82, 80] },
        doc! { "$inc": { "grades.$[]": 10 } },
        doc! { "_id": 1, "grades": [95, 92, 90] },
    );
    check(
        doc! { "_id": 1, "grades": [{ "grade": 80, "std": 8 }, { "grade": 85, "std": 5 }] },
        doc! { "$inc": { "grades.$[].std": -2 } },
        doc! { "_id": 1, "grades": [{ "grade": 80, "std": 6 }, { "grade": 85, "std": 3 }] },
    );
}

// "$unset ... array element" through $[]: elements become null; fields of elements go away.
#[test]
fn all_positional_unset() {
    check(
        doc! { "_id": 1, "a": [1, 2] },
        doc! { "$unset": { "a.$[]": 1 } },
        doc! { "_id": 1, "a": [Bson::Null, Bson::Null] },
    );
    check(
        doc! { "_id": 1, "a": [{ "b": 1, "c": 1 }, { "c": 2 }, 3] },
        doc! { "$unset": { "a.$[].b": 1 } },
        doc! { "_id": 1, "a": [{ "c": 1 }, { "c": 2 }, 3] },
    );
}

// "$[] ... If the array field is absent ... the operation results in an error"; non-arrays too.
#[test]
fn all_positional_requires_an_array() {
    let e = err(doc! { "_id": 1 }, doc! { "$set": { "a.$[]": 1 } });
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "The path 'a' must exist in the document in order to apply array updates.")
    );
    let e = err(doc! { "_id": 1, "grades": "abc" }, doc! { "$set": { "grades.$[]": 1 } });
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "Cannot apply array updates to non-array element grades: \"abc\"")
    );
}

// ---- $[<identifier>] ----

// "$[<identifier>]" manual: "Update All Array Elements That Match arrayFilters".
#[test]
fn filtered_positional_updates_matching_elements() {
    let u = doc! { "$set": { "grades.$[element]": 100 } };
    let f = [doc! { "element": { "$gte": 100 } }];
    let out = apply_with(doc! { "_id": 1, "grades": [95, 92, 90] }, u.clone(), &f, None).unwrap();
    assert!(!out.modified);
    check_with(doc! { "_id": 2, "grades": [98, 100, 102] }, u, &f, None, doc! { "_id": 2, "grades": [98, 100, 100] });
}

// "Update All Documents That Match arrayFilters in an Array".
#[test]
fn filtered_positional_on_documents() {
    check_with(
        doc! { "_id": 3, "grades": [{ "grade": 80, "mean": 75, "std": 6 }, { "grade": 85, "mean": 90, "std": 4 }, { "grade": 85, "mean": 85, "std": 6 }] },
        doc! { "$set": { "grades.$[elem].mean": 100 } },
        &[doc! { "elem.grade": { "$gte": 85 } }],
        None,
        doc! { "_id": 3, "grades": [{ "grade": 80, "mean": 75, "std": 6 }, { "grade": 85, "mean": 100, "std": 4 }, { "grade": 85, "mean": 100, "std": 6 }] },
    );
}

// "Update Nested Arrays in Conjunction with $[]": `grades.$[].questions.$[score]`.
#[test]
fn nested_all_and_filtered_positional() {
    check_with(
        doc! { "_id": 1, "grades": [{ "type": "quiz", "questions": [10, 8, 5] }, { "type": "quiz", "questions": [8, 9, 6] }, { "type": "hw", "questions": [5, 4, 3] }, { "type": "exam", "questions": [25, 10, 23, 0] }] },
        doc! { "$inc": { "grades.$[].questions.$[score]": 2 } },
        &[doc! { "score": { "$gte": 8 } }],
        None,
        doc! { "_id": 1, "grades": [{ "type": "quiz", "questions": [12, 10, 5] }, { "type": "quiz", "questions": [10, 11, 6] }, { "type": "hw", "questions": [5, 4, 3] }, { "type": "exam", "questions": [27, 12, 25, 0] }] },
    );
}

// Several identifiers matching one element are merged; two leaves on it conflict.
#[test]
fn filtered_positional_merging() {
    check_with(
        doc! { "_id": 1, "a": [{ "v": 1 }, { "v": 5 }] },
        doc! { "$set": { "a.$[x].big": true, "a.$[y].odd": true } },
        &[doc! { "x.v": { "$gt": 2 } }, doc! { "y.v": { "$in": [1, 5] } }],
        None,
        doc! { "_id": 1, "a": [{ "v": 1, "odd": true }, { "v": 5, "big": true, "odd": true }] },
    );
    let e = err_with(
        doc! { "_id": 1, "a": [1, 5] },
        doc! { "$set": { "a.$[x]": 0, "a.$[y]": 1 } },
        &[doc! { "x": { "$gt": 2 } }, doc! { "y": 5 }],
        None,
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::ConflictingUpdateOperators, "Update created a conflict at 'a.1'")
    );
}

// arrayFilters rules: every identifier needs a filter, every filter must be used.
#[test]
fn array_filter_identifier_errors() {
    let e = parse_with(doc! { "$set": { "a.$[x]": 1 } }, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "No array filter found for identifier 'x' in path 'a.$[x]'")
    );
    let e = parse_with(doc! { "$set": { "a.$[x]": 1 } }, &[doc! { "x": 1 }, doc! { "y": 2 }]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::FailedToParse,
            "The array filter for identifier 'y' was not used in the update { $set: { a.$[x]: 1 } }"
        )
    );
    let e = parse_with(doc! { "$set": { "$[x].a": 1 } }, &[doc! { "x": 1 }]).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadValue);
    let e = parse_with(doc! { "$set": { "a.$[x]": 1 } }, &[doc! { "x": 1 }, doc! { "x": 2 }]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::FailedToParse, "Found multiple array filters with the same top-level field name x")
    );
    let e = parse_with(doc! { "$set": { "a.$[X]": 1 } }, &[doc! { "X": 1 }]).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadValue);
    assert!(e.message.starts_with(
        "Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string"
    ));
    let e = parse_with(doc! { "$set": { "a.$[x]": 1 } }, &[doc! { "x": 1, "y": 2 }]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            ErrorCode::FailedToParse,
            "Error parsing array filter :: caused by :: Expected a single top-level field name, found 'x' and 'y'"
        )
    );
    let e = parse_with(doc! { "$set": { "a.$[x]": 1 } }, &[doc! {}]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::FailedToParse, "Cannot use an expression without a top-level field name in arrayFilters")
    );
}

// A non-document arrayFilters entry.
#[test]
fn array_filter_must_be_a_document() {
    let mut af = RawArrayBuf::new();
    af.push(1);
    let u = raw(&doc! { "$set": { "a.$[x]": 1 } });
    let e = Update::parse(RawBsonRef::Document(&u), Some(&af)).unwrap_err();
    assert_eq!(e.code, ErrorCode::TypeMismatch);
}

// $[] and $[id] paths conflict with plain paths through the same array.
#[test]
fn array_paths_conflict_with_field_paths() {
    let e = parse_with(doc! { "$set": { "a.$[]": 1, "a.b": 2 } }, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::ConflictingUpdateOperators, "Updating the path 'a.b' would create a conflict at 'a'")
    );
}
