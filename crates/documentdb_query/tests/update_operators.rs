//! Field update operators ($set, $unset, $inc, $mul, $min, $max, $rename, $currentDate,
//! $setOnInsert, $bit), following the examples and rules of the MongoDB 7.0 manual's
//! "Update Operators" pages. Results are compared byte-for-byte (field order and types).
use bson::{doc, Bson, Decimal128, Document, RawBsonRef, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};
use documentdb_query::update::{Update, UpdateOutcome};
use std::str::FromStr;

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("encodable test document")
}

fn parse(u: Document) -> Result<Update, DocDbError> {
    Update::parse(RawBsonRef::Document(&raw(&u)), None)
}

fn apply(doc: Document, u: Document) -> Result<UpdateOutcome, DocDbError> {
    parse(u)?.apply(&raw(&doc), None)
}

/// Applies and checks the exact resulting bytes.
fn check(doc: Document, u: Document, expected: Document) {
    let out = apply(doc, u).expect("update applies");
    let got = Document::try_from(&out.document).expect("decodes");
    assert_eq!(out.document.as_bytes(), raw(&expected).as_bytes(), "\n got:      {got:?}\n expected: {expected:?}");
}

fn err(doc: Document, u: Document) -> DocDbError {
    match apply(doc, u) {
        Ok(out) => panic!("expected an error, got {:?}", Document::try_from(&out.document)),
        Err(e) => e,
    }
}

fn dec(s: &str) -> Bson {
    Bson::Decimal128(Decimal128::from_str(s).expect("decimal literal"))
}

// ---- $set ("$set" manual page) ----

// "Set Top-Level Fields": existing fields are replaced in place.
#[test]
fn set_top_level_fields() {
    let d = doc! { "_id": 100, "quantity": 250, "instock": true, "details": { "model": "14QQ", "make": "Clothes Corp" }, "tags": ["apparel", "clothing"] };
    check(
        d,
        doc! { "$set": { "quantity": 500, "details": { "model": "2600", "make": "Fashionaires" }, "tags": ["coats", "outerwear", "clothing"] } },
        doc! { "_id": 100, "quantity": 500, "instock": true, "details": { "model": "2600", "make": "Fashionaires" }, "tags": ["coats", "outerwear", "clothing"] },
    );
}

// "Set Fields in Embedded Documents" with dot notation.
#[test]
fn set_embedded_field() {
    check(
        doc! { "_id": 100, "details": { "model": "14QQ", "make": "Clothes Corp" } },
        doc! { "$set": { "details.make": "Kustom Kidz" } },
        doc! { "_id": 100, "details": { "model": "14QQ", "make": "Kustom Kidz" } },
    );
}

// "Set Elements in Arrays": numeric path components index arrays.
#[test]
fn set_array_elements_by_index() {
    check(
        doc! { "_id": 100, "tags": ["apparel", "clothing"], "ratings": [{ "by": "Customer007", "rating": 4 }] },
        doc! { "$set": { "tags.1": "rain gear", "ratings.0.rating": 2 } },
        doc! { "_id": 100, "tags": ["apparel", "rain gear"], "ratings": [{ "by": "Customer007", "rating": 2 }] },
    );
}

// "$set ... If the field does not exist, $set will add a new field"; dotted paths create
// embedded documents; new fields are appended in field-name order.
#[test]
fn set_creates_missing_paths_in_field_name_order() {
    check(
        doc! { "_id": 1 },
        doc! { "$set": { "z": 1, "a.b.c": 2, "m": 3 } },
        doc! { "_id": 1, "a": { "b": { "c": 2 } }, "m": 3, "z": 1 },
    );
}

// "Update Operators > Behavior": since 5.0, fields with numeric names are processed in
// numeric order ("a.2" before "a.10"), other names (including zero-padded numbers)
// lexicographically.
#[test]
fn numeric_field_names_are_processed_in_numeric_order() {
    check(
        doc! { "_id": 1 },
        doc! { "$set": { "a.b": 1, "a.10": 1, "a.2": 1, "a.02": 1 } },
        doc! { "_id": 1, "a": { "02": 1, "2": 1, "10": 1, "b": 1 } },
    );
}

// Setting past the end of an array pads with nulls (update path rules).
#[test]
fn set_past_array_end_pads_with_null() {
    check(
        doc! { "_id": 1, "a": [1] },
        doc! { "$set": { "a.3": 4 } },
        doc! { "_id": 1, "a": [1, Bson::Null, Bson::Null, 4] },
    );
    check(
        doc! { "_id": 1, "a": [] },
        doc! { "$set": { "a.1.b": 4 } },
        doc! { "_id": 1, "a": [Bson::Null, { "b": 4 }] },
    );
}

// Creating intermediate path components never creates arrays: numeric names under a
// missing parent become document fields.
#[test]
fn set_numeric_component_under_missing_parent_is_a_field() {
    check(doc! { "_id": 1 }, doc! { "$set": { "a.0.b": 1 } }, doc! { "_id": 1, "a": { "0": { "b": 1 } } });
}

// "Starting in MongoDB 5.0, mongod no longer raises an error when you use an update
// operator like $set with an empty operand expression ( { } )".
#[test]
fn empty_operand_is_a_no_op() {
    let out = apply(doc! { "_id": 1, "a": 1 }, doc! { "$set": {} }).unwrap();
    assert!(!out.modified);
}

// $set to an identical value (same type and bytes) does not modify the document.
#[test]
fn set_identical_value_is_not_a_modification() {
    let input = raw(&doc! { "_id": 1, "a": 1.0, "b": { "c": [1, 2] } });
    let out = parse(doc! { "$set": { "a": 1.0, "b": { "c": [1, 2] } } }).unwrap().apply(&input, None).unwrap();
    assert!(!out.modified);
    assert_eq!(out.document, input);
}

// ...but int 1 over double 1.0 is a change (the type differs).
#[test]
fn set_int_over_equal_double_is_a_modification() {
    let out = apply(doc! { "_id": 1, "a": 1.0 }, doc! { "$set": { "a": 1 } }).unwrap();
    assert!(out.modified);
    assert_eq!(Document::try_from(&out.document).unwrap().get("a"), Some(&Bson::Int32(1)));
}

// "$set": creating a field inside a scalar fails with PathNotViable.
#[test]
fn set_inside_scalar_is_path_not_viable() {
    let e = err(doc! { "_id": 1, "a": 1 }, doc! { "$set": { "a.b": 2 } });
    assert_eq!(e.code, ErrorCode::PathNotViable);
    assert_eq!(e.message, "Cannot create field 'b' in element {a: 1}");
    let e = err(doc! { "_id": 1, "a": [1, 2] }, doc! { "$set": { "a.b": 2 } });
    assert_eq!(e.code, ErrorCode::PathNotViable);
    assert_eq!(e.message, "Cannot create field 'b' in element {a: [ 1, 2 ]}");
}

// Array padding is capped (MongoDB's kMaxPaddingAllowed).
#[test]
fn set_far_past_array_end_cannot_backfill() {
    let e = err(doc! { "_id": 1, "a": [] }, doc! { "$set": { "a.1500001": 1 } });
    assert_eq!(e.code, ErrorCode::CannotBackfillArray);
}

// ---- $unset ----

// "$unset" manual example: remove fields; missing fields are a no-op.
#[test]
fn unset_removes_fields() {
    check(
        doc! { "_id": 1, "sku": "unknown", "quantity": 2, "instock": true },
        doc! { "$unset": { "quantity": "", "instock": "", "missing": "" } },
        doc! { "_id": 1, "sku": "unknown" },
    );
}

// "$unset ... If the field does not exist, then $unset does nothing": also through scalars.
#[test]
fn unset_missing_or_non_viable_path_is_a_no_op() {
    let out = apply(doc! { "_id": 1, "a": 1 }, doc! { "$unset": { "a.b": 1, "x.y": 1 } }).unwrap();
    assert!(!out.modified);
}

// "$unset ... array element": sets the element to null instead of removing it.
#[test]
fn unset_array_element_sets_null() {
    check(
        doc! { "_id": 1, "a": [1, 2, 3] },
        doc! { "$unset": { "a.1": 1 } },
        doc! { "_id": 1, "a": [1, Bson::Null, 3] },
    );
}

// ---- $inc ----

// "$inc" manual example: negative and dotted increments.
#[test]
fn inc_manual_example() {
    check(
        doc! { "_id": 1, "sku": "abc123", "quantity": 10, "metrics": { "orders": 2, "ratings": 3.5 } },
        doc! { "$inc": { "quantity": -2, "metrics.orders": 1 } },
        doc! { "_id": 1, "sku": "abc123", "quantity": 8, "metrics": { "orders": 3, "ratings": 3.5 } },
    );
}

// "If the field does not exist, $inc creates the field and sets the field to the specified value."
#[test]
fn inc_missing_field_sets_value() {
    check(doc! { "_id": 1 }, doc! { "$inc": { "n": 5_i64 } }, doc! { "_id": 1, "n": 5_i64 });
}

// Numeric promotion: int32 overflow widens to int64; int with double gives double;
// anything with decimal gives decimal.
#[test]
fn inc_numeric_promotion() {
    check(
        doc! { "_id": 1, "a": i32::MAX },
        doc! { "$inc": { "a": 1 } },
        doc! { "_id": 1, "a": i64::from(i32::MAX) + 1 },
    );
    check(doc! { "_id": 1, "a": 1 }, doc! { "$inc": { "a": 0.5 } }, doc! { "_id": 1, "a": 1.5 });
    check(doc! { "_id": 1, "a": 1_i64 }, doc! { "$inc": { "a": 2 } }, doc! { "_id": 1, "a": 3_i64 });
    check(doc! { "_id": 1, "a": dec("1.5") }, doc! { "$inc": { "a": 1 } }, doc! { "_id": 1, "a": dec("2.5") });
    // A double meets a decimal as 15 significant digits (0.5 -> 0.500000000000000).
    check(
        doc! { "_id": 1, "a": dec("1") },
        doc! { "$inc": { "a": 0.5 } },
        doc! { "_id": 1, "a": dec("1.500000000000000") },
    );
}

// int64 overflow is an error (MongoDB's SafeNum reports it instead of wrapping).
#[test]
fn inc_int64_overflow_is_bad_value() {
    let e = err(doc! { "_id": 1, "a": i64::MAX }, doc! { "$inc": { "a": 1 } });
    assert_eq!(e.code, ErrorCode::BadValue);
    assert_eq!(
        e.message,
        "Failed to apply $inc operations to current value ((NumberLong)9223372036854775807) for document {_id: 1}"
    );
}

// "$inc" on a non-numeric field.
#[test]
fn inc_non_numeric_field_is_type_mismatch() {
    let e = err(doc! { "_id": 1, "a": "x" }, doc! { "$inc": { "a": 1 } });
    assert_eq!(e.code, ErrorCode::TypeMismatch);
    assert_eq!(
        e.message,
        "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 'a' of non-numeric type string"
    );
}

// "$inc" with a non-numeric argument fails at parse time.
#[test]
fn inc_non_numeric_argument_is_type_mismatch() {
    let e = parse(doc! { "$inc": { "a": "x" } }).unwrap_err();
    assert_eq!(e.code, ErrorCode::TypeMismatch);
    assert_eq!(e.message, "Cannot increment with non-numeric argument: {a: \"x\"}");
    let e = parse(doc! { "$mul": { "a": true } }).unwrap_err();
    assert_eq!(e.message, "Cannot multiply with non-numeric argument: {a: true}");
}

// Incrementing by zero keeps the value and type: not a modification.
#[test]
fn inc_by_zero_is_a_no_op() {
    assert!(!apply(doc! { "_id": 1, "a": 5 }, doc! { "$inc": { "a": 0 } }).unwrap().modified);
    // ...but 0.0 turns an int into a double.
    assert!(apply(doc! { "_id": 1, "a": 5 }, doc! { "$inc": { "a": 0.0 } }).unwrap().modified);
}

// ---- $mul ----

// "$mul" manual: "Multiply the Value of a Field" (decimal and int).
#[test]
fn mul_manual_example() {
    check(
        doc! { "_id": 1, "item": "Hats", "price": dec("10.99"), "quantity": 25 },
        doc! { "$mul": { "price": dec("1.25"), "quantity": 2 } },
        doc! { "_id": 1, "item": "Hats", "price": dec("13.7375"), "quantity": 50 },
    );
}

// "Apply $mul Operator to a Non-existing Field": creates 0 of the argument's type.
#[test]
fn mul_missing_field_creates_typed_zero() {
    check(
        doc! { "_id": 2, "item": "Unknown" },
        doc! { "$mul": { "price": dec("100.00") } },
        doc! { "_id": 2, "item": "Unknown", "price": dec("0.00") },
    );
    check(doc! { "_id": 2 }, doc! { "$mul": { "n": 5_i64 } }, doc! { "_id": 2, "n": 0_i64 });
    check(doc! { "_id": 2 }, doc! { "$mul": { "n": 2.5 } }, doc! { "_id": 2, "n": 0.0 });
}

// "Multiply Mixed Numeric Types": decimal times long stays decimal; int32 overflow widens.
#[test]
fn mul_mixed_types() {
    check(
        doc! { "_id": 3, "price": dec("10") },
        doc! { "$mul": { "price": 5_i64 } },
        doc! { "_id": 3, "price": dec("50") },
    );
    check(
        doc! { "_id": 3, "n": 100_000 },
        doc! { "$mul": { "n": 100_000 } },
        doc! { "_id": 3, "n": 10_000_000_000_i64 },
    );
    check(doc! { "_id": 3, "n": 3 }, doc! { "$mul": { "n": 1.5 } }, doc! { "_id": 3, "n": 4.5 });
    let e = err(doc! { "_id": 3, "n": i64::MAX }, doc! { "$mul": { "n": 2 } });
    assert_eq!(e.code, ErrorCode::BadValue);
}

// ---- $min / $max ----

// "$min" manual: "Use $min to Compare Numbers".
#[test]
fn min_compares_numbers() {
    check(
        doc! { "_id": 1, "highScore": 800, "lowScore": 200 },
        doc! { "$min": { "lowScore": 150 } },
        doc! { "_id": 1, "highScore": 800, "lowScore": 150 },
    );
    assert!(!apply(doc! { "_id": 1, "lowScore": 150 }, doc! { "$min": { "lowScore": 250 } }).unwrap().modified);
}

// "$max" manual: "Use $max to Compare Numbers".
#[test]
fn max_compares_numbers() {
    check(
        doc! { "_id": 1, "highScore": 800 },
        doc! { "$max": { "highScore": 950 } },
        doc! { "_id": 1, "highScore": 950 },
    );
    assert!(!apply(doc! { "_id": 1, "highScore": 950 }, doc! { "$max": { "highScore": 870 } }).unwrap().modified);
}

// "$min ... the comparison follows the BSON comparison order for values of different types";
// equal values of another numeric type do not replace the field.
#[test]
fn min_max_across_types_use_bson_order() {
    // null < numbers < strings.
    check(doc! { "_id": 1, "a": "x" }, doc! { "$min": { "a": 5 } }, doc! { "_id": 1, "a": 5 });
    check(doc! { "_id": 1, "a": 5 }, doc! { "$max": { "a": "x" } }, doc! { "_id": 1, "a": "x" });
    check(doc! { "_id": 1, "a": Bson::Null }, doc! { "$max": { "a": 1 } }, doc! { "_id": 1, "a": 1 });
    assert!(!apply(doc! { "_id": 1, "a": 1 }, doc! { "$min": { "a": 1.0 } }).unwrap().modified);
    // Missing field: set to the value.
    check(doc! { "_id": 1 }, doc! { "$max": { "a": 3 } }, doc! { "_id": 1, "a": 3 });
}

// "$min ... Use $min to Compare Dates".
#[test]
fn min_compares_dates() {
    let early = bson::DateTime::from_millis(1_000);
    let late = bson::DateTime::from_millis(2_000);
    check(doc! { "_id": 1, "d": late }, doc! { "$min": { "d": early } }, doc! { "_id": 1, "d": early });
}

// ---- $rename ----

// "$rename" manual: "Rename a Field" — the renamed field moves to the end.
#[test]
fn rename_field_moves_to_end() {
    check(
        doc! { "_id": 1, "alias": ["a", "b"], "mobile": "555", "nmae": { "first": "george", "last": "washington" } },
        doc! { "$rename": { "nmae": "name" } },
        doc! { "_id": 1, "alias": ["a", "b"], "mobile": "555", "name": { "first": "george", "last": "washington" } },
    );
}

// "Rename a Field in an Embedded Document".
#[test]
fn rename_embedded_field() {
    check(
        doc! { "_id": 1, "name": { "first": "george", "last": "washington" } },
        doc! { "$rename": { "name.first": "name.fname" } },
        doc! { "_id": 1, "name": { "last": "washington", "fname": "george" } },
    );
}

// "Rename a Field That Does Not Exist": no-op. An existing destination is overwritten in
// place.
#[test]
fn rename_missing_source_and_existing_destination() {
    assert!(!apply(doc! { "_id": 1, "a": 1 }, doc! { "$rename": { "wife": "spouse" } }).unwrap().modified);
    check(
        doc! { "_id": 1, "a": 1, "b": 2, "c": 3 },
        doc! { "$rename": { "c": "a" } },
        doc! { "_id": 1, "a": 3, "b": 2 },
    );
}

// "$rename does not work on embedded documents in arrays".
#[test]
fn rename_through_array_is_bad_value() {
    let e = err(doc! { "_id": 1, "a": [{ "b": 1 }] }, doc! { "$rename": { "a.0.b": "c" } });
    assert_eq!(e.code, ErrorCode::BadValue);
    assert_eq!(
        e.message,
        "The source field cannot be an array element, 'a.0.b' in doc with _id: 1 has an array field called 'a'"
    );
    let e = err(doc! { "_id": 1, "x": 1, "a": [{ "b": 1 }] }, doc! { "$rename": { "x": "a.0.c" } });
    assert_eq!(e.code, ErrorCode::BadValue);
}

// $rename argument rules.
#[test]
fn rename_argument_errors() {
    let e = parse(doc! { "$rename": { "a": 1 } }).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::BadValue, "The 'to' field for $rename must be a string: a: 1")
    );
    let e = parse(doc! { "$rename": { "a": "a" } }).unwrap_err();
    assert_eq!(e.message, "The source and target field for $rename must differ: a: \"a\"");
    let e = parse(doc! { "$rename": { "a": "a.b" } }).unwrap_err();
    assert_eq!(e.message, "The source and target field for $rename must not be on the same path: a: \"a.b\"");
    let e = parse(doc! { "$rename": { "a.$": "b" } }).unwrap_err();
    assert_eq!(e.message, "The source field for $rename may not be dynamic: a.$");
    // Source and destination paths take part in conflict detection.
    let e = parse(doc! { "$rename": { "a": "b" }, "$set": { "b": 1 } }).unwrap_err();
    assert_eq!(e.code, ErrorCode::ConflictingUpdateOperators);
}

// ---- $currentDate ----

// "$currentDate" manual example: `true` and {$type: "timestamp"} with $set.
#[test]
fn current_date_sets_date_and_timestamp() {
    let out = apply(
        doc! { "_id": 1, "status": "a" },
        doc! { "$currentDate": { "lastModified": true, "cancellation.date": { "$type": "timestamp" } }, "$set": { "cancellation.reason": "user request", "status": "D" } },
    )
    .unwrap();
    let d = Document::try_from(&out.document).unwrap();
    assert!(matches!(d.get("lastModified"), Some(Bson::DateTime(_))));
    let c = d.get_document("cancellation").unwrap();
    assert!(matches!(c.get("date"), Some(Bson::Timestamp(_))));
    assert_eq!(c.get_str("reason").unwrap(), "user request");
    assert_eq!(d.get_str("status").unwrap(), "D");
    let keys: Vec<_> = d.keys().cloned().collect();
    assert_eq!(keys, ["_id", "status", "cancellation", "lastModified"]);
}

#[test]
fn current_date_argument_errors() {
    let e = parse(doc! { "$currentDate": { "a": 1 } }).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadValue);
    assert_eq!(e.message, "int is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).");
    let e = parse(doc! { "$currentDate": { "a": { "$type": "int" } } }).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadValue);
    let e = parse(doc! { "$currentDate": { "a": { "x": 1 } } }).unwrap_err();
    assert_eq!(e.message, "Unrecognized $currentDate option: x");
}

// ---- $setOnInsert ----

// "If an update operation with upsert: true results in an update of an existing document,
// $setOnInsert does nothing."
#[test]
fn set_on_insert_is_ignored_for_updates() {
    let out = apply(
        doc! { "_id": 1, "item": "x" },
        doc! { "$set": { "item": "apple" }, "$setOnInsert": { "defaultQty": 100 } },
    )
    .unwrap();
    assert_eq!(out.document, raw(&doc! { "_id": 1, "item": "apple" }));
}

// ---- $bit ----

// "$bit" manual: "Bitwise AND", "Bitwise OR", "Bitwise XOR".
#[test]
fn bit_manual_examples() {
    check(
        doc! { "_id": 1, "expdata": 13 },
        doc! { "$bit": { "expdata": { "and": 10 } } },
        doc! { "_id": 1, "expdata": 8 },
    );
    check(
        doc! { "_id": 2, "expdata": 3_i64 },
        doc! { "$bit": { "expdata": { "or": 5 } } },
        doc! { "_id": 2, "expdata": 7_i64 },
    );
    check(
        doc! { "_id": 3, "expdata": 1_i64 },
        doc! { "$bit": { "expdata": { "xor": 5 } } },
        doc! { "_id": 3, "expdata": 4_i64 },
    );
    // int32 with an int64 operand widens; a missing field starts from int 0.
    check(doc! { "_id": 4, "a": 1 }, doc! { "$bit": { "a": { "or": 2_i64 } } }, doc! { "_id": 4, "a": 3_i64 });
    check(doc! { "_id": 4 }, doc! { "$bit": { "a": { "or": 6 } } }, doc! { "_id": 4, "a": 6 });
}

// "$bit ... only works with integers (int32/int64)".
#[test]
fn bit_errors() {
    let e = parse(doc! { "$bit": { "a": { "and": 1.0 } } }).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadValue);
    assert_eq!(
        e.message,
        "The $bit modifier field must be an Integer(32/64 bit); a 'double' is not supported here: {and: 1.0}"
    );
    let e = parse(doc! { "$bit": { "a": { "nand": 1 } } }).unwrap_err();
    assert_eq!(
        e.message,
        "The $bit modifier only supports 'and', 'or', and 'xor', not 'nand' which is an unknown operator: {nand: 1}"
    );
    let e = parse(doc! { "$bit": { "a": {} } }).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadValue);
    let e = parse(doc! { "$bit": { "a": 1 } }).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadValue);
    let e = err(doc! { "_id": 1, "a": 1.5 }, doc! { "$bit": { "a": { "and": 1 } } });
    assert_eq!(e.code, ErrorCode::BadValue);
}

// ---- several operators in one update ----

// Operators apply together in field-name order, each to its own path.
#[test]
fn several_operators_in_one_update() {
    check(
        doc! { "_id": 1, "a": 1, "b": [1], "c": "x" },
        doc! { "$inc": { "a": 1 }, "$push": { "b": 2 }, "$unset": { "c": 1 }, "$set": { "d": true } },
        doc! { "_id": 1, "a": 2, "b": [1, 2], "d": true },
    );
}
