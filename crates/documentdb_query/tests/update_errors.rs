//! Parse errors, path rules, conflicting paths and `_id` immutability of operator updates,
//! as MongoDB 7.0 reports them (codes and messages).
use bson::{doc, rawdoc, Bson, Document, RawBsonRef, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};
use documentdb_query::update::{Update, UpdateOutcome};

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("encodable test document")
}

fn parse(u: Document) -> Result<Update, DocDbError> {
    Update::parse(RawBsonRef::Document(&raw(&u)), None)
}

fn parse_err(u: Document) -> (ErrorCode, String) {
    let e = parse(u).expect_err("parse should fail");
    (e.code, e.message)
}

fn apply(doc: Document, u: Document) -> Result<UpdateOutcome, DocDbError> {
    parse(u)?.apply(&raw(&doc), None)
}

fn apply_err(doc: Document, u: Document) -> (ErrorCode, String) {
    match apply(doc, u) {
        Ok(out) => panic!("expected an error, got {:?}", Document::try_from(&out.document)),
        Err(e) => (e.code, e.message),
    }
}

fn result(doc: Document, u: Document) -> Document {
    Document::try_from(&apply(doc, u).expect("update applies").document).expect("decodes")
}

// ---- update document shape ----

// "Update Operators": an unknown `$` field is not a modifier.
#[test]
fn unknown_modifier() {
    assert_eq!(
        parse_err(doc! { "$foo": { "a": 1 } }),
        (
            ErrorCode::FailedToParse,
            "Unknown modifier: $foo. Expected a valid update modifier or pipeline-style update specified as an array"
                .to_owned()
        )
    );
    // A plain field after an operator is an unknown modifier too.
    assert_eq!(
        parse_err(doc! { "$set": { "a": 1 }, "b": 1 }).1,
        "Unknown modifier: b. Expected a valid update modifier or pipeline-style update specified as an array"
    );
}

// Operator arguments must be documents.
#[test]
fn modifier_argument_must_be_a_document() {
    assert_eq!(
        parse_err(doc! { "$set": 1 }),
        (
            ErrorCode::FailedToParse,
            "Modifiers operate on fields but we found type int instead. For example: {$mod: {<field>: ...}} not {$set: 1}".to_owned()
        )
    );
}

// "db.collection.updateOne(): <update> ... document or pipeline".
#[test]
fn update_argument_must_be_document_or_array() {
    let e = Update::parse(RawBsonRef::Int32(1), None).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::FailedToParse, "Update argument must be either an object or an array")
    );
}

// An empty update document is a replacement with an empty document.
#[test]
fn empty_update_is_a_replacement() {
    let u = parse(doc! {}).unwrap();
    assert!(u.is_replacement());
    let out = u.apply(&raw(&doc! { "_id": 1, "a": 1 }), None).unwrap();
    assert_eq!(out.document, raw(&doc! { "_id": 1 }));
    assert!(out.modified);
    assert!(!parse(doc! { "$set": { "a": 1 } }).unwrap().is_replacement());
}

// ---- paths ----

// Empty field names in update paths.
#[test]
fn empty_path_components() {
    assert_eq!(
        parse_err(doc! { "$set": { "": 1 } }),
        (ErrorCode::EmptyFieldName, "An empty update path is not valid.".to_owned())
    );
    assert_eq!(
        parse_err(doc! { "$set": { "a..b": 1 } }),
        (
            ErrorCode::EmptyFieldName,
            "The update path 'a..b' contains an empty field name, which is not allowed.".to_owned()
        )
    );
    assert_eq!(parse_err(doc! { "$inc": { "a.": 1 } }).0, ErrorCode::EmptyFieldName);
    assert_eq!(parse_err(doc! { "$unset": { ".a": 1 } }).0, ErrorCode::EmptyFieldName);
}

// "Field Names with Periods and Dollar Signs": update operators cannot create top-level
// `$`-prefixed fields; nested ones are allowed.
#[test]
fn dollar_prefixed_field_names() {
    assert_eq!(
        apply_err(doc! { "_id": 1 }, doc! { "$set": { "$a": 1 } }),
        (
            ErrorCode::DollarPrefixedFieldName,
            "The dollar ($) prefixed field '$a' in '$a' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.".to_owned()
        )
    );
    assert_eq!(result(doc! { "_id": 1 }, doc! { "$set": { "a.$b": 1 } }), doc! { "_id": 1, "a": { "$b": 1 } });
    assert_eq!(result(doc! { "_id": 1 }, doc! { "$set": { "a": { "$b": 1 } } }), doc! { "_id": 1, "a": { "$b": 1 } });
}

// Creating a field below a scalar: PathNotViable, for every creating operator.
#[test]
fn path_not_viable_for_creating_operators() {
    for u in [
        doc! { "$inc": { "a.b": 1 } },
        doc! { "$push": { "a.b": 1 } },
        doc! { "$max": { "a.b": 1 } },
        doc! { "$currentDate": { "a.b": true } },
    ] {
        let (code, msg) = apply_err(doc! { "_id": 1, "a": "s" }, u);
        assert_eq!(code, ErrorCode::PathNotViable);
        assert_eq!(msg, "Cannot create field 'b' in element {a: \"s\"}");
    }
}

// ---- conflicting paths ----

// "Update Operators ... you cannot update the same field or a field and its subfield in
// one update" → ConflictingUpdateOperators.
#[test]
fn conflicting_paths() {
    assert_eq!(
        parse_err(doc! { "$set": { "a": 1, "a.b": 2 } }),
        (ErrorCode::ConflictingUpdateOperators, "Updating the path 'a.b' would create a conflict at 'a'".to_owned())
    );
    assert_eq!(
        parse_err(doc! { "$set": { "a.b": 1 }, "$inc": { "a": 1 } }),
        (ErrorCode::ConflictingUpdateOperators, "Updating the path 'a' would create a conflict at 'a'".to_owned())
    );
    assert_eq!(parse_err(doc! { "$set": { "a": 1 }, "$unset": { "a": 1 } }).0, ErrorCode::ConflictingUpdateOperators);
    assert_eq!(
        parse_err(doc! { "$set": { "a.b.c": 1 }, "$push": { "a.b": 1 } }).1,
        "Updating the path 'a.b' would create a conflict at 'a.b'"
    );
    // Sibling paths are fine.
    assert!(parse(doc! { "$set": { "a.b": 1, "a.c": 1 }, "$inc": { "ab": 1 } }).is_ok());
}

// The same path twice inside one operator (a BSON document may repeat a field).
#[test]
fn repeated_field_in_one_operator_conflicts() {
    let u = rawdoc! { "$set": { "a": 1, "a": 2 } };
    let e = Update::parse(RawBsonRef::Document(&u), None).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (ErrorCode::ConflictingUpdateOperators, "Updating the path 'a' would create a conflict at 'a'")
    );
}

// ---- _id ----

// "Once set, you cannot update the value of the _id field".
#[test]
fn id_is_immutable() {
    let expected = (
        ErrorCode::ImmutableField,
        "Performing an update on the path '_id' would modify the immutable field '_id'".to_owned(),
    );
    assert_eq!(apply_err(doc! { "_id": 1, "a": 1 }, doc! { "$set": { "_id": 2 } }), expected);
    assert_eq!(apply_err(doc! { "_id": 1 }, doc! { "$inc": { "_id": 1 } }), expected);
    assert_eq!(apply_err(doc! { "_id": 1 }, doc! { "$unset": { "_id": 1 } }), expected);
    // An equal value of another type is still a change of the stored bytes.
    assert_eq!(apply_err(doc! { "_id": 1 }, doc! { "$set": { "_id": 1.0 } }), expected);
    assert_eq!(
        apply_err(doc! { "_id": { "a": 1 } }, doc! { "$set": { "_id.a": 2 } }),
        (
            ErrorCode::ImmutableField,
            "Performing an update on the path '_id.a' would modify the immutable field '_id'".to_owned()
        )
    );
    assert_eq!(
        apply_err(doc! { "_id": { "a": 1 } }, doc! { "$set": { "_id.b": 2 } }),
        (
            ErrorCode::ImmutableField,
            "Updating the path '_id' to _id: { a: 1, b: 2 } would modify the immutable field '_id'".to_owned()
        )
    );
    assert_eq!(apply_err(doc! { "_id": 1, "x": 2 }, doc! { "$rename": { "x": "_id" } }).0, ErrorCode::ImmutableField);
    assert_eq!(apply_err(doc! { "_id": 1 }, doc! { "$rename": { "_id": "x" } }).0, ErrorCode::ImmutableField);
}

// Setting `_id` to its current value (same type) is allowed and is not a modification.
#[test]
fn id_set_to_identical_value_is_fine() {
    let out = apply(doc! { "_id": 1, "a": 1 }, doc! { "$set": { "_id": 1 } }).unwrap();
    assert!(!out.modified);
    let out = apply(doc! { "_id": 1, "a": 1 }, doc! { "$inc": { "_id": 0 } }).unwrap();
    assert!(!out.modified);
    let out = apply(doc! { "_id": { "a": 1 } }, doc! { "$set": { "_id": { "a": 1 } } }).unwrap();
    assert!(!out.modified);
}

// `_id` stays the first field.
#[test]
fn id_stays_first() {
    assert_eq!(
        apply(doc! { "a": 1, "_id": 1 }, doc! { "$set": { "b": 1 } }).unwrap().document,
        raw(&doc! { "_id": 1, "a": 1, "b": 1 })
    );
}

// A no-op leaves even an out-of-order document untouched.
#[test]
fn no_op_keeps_input_bytes() {
    let input = raw(&doc! { "a": 1, "_id": 1 });
    let out = parse(doc! { "$set": { "a": 1 } }).unwrap().apply(&input, None).unwrap();
    assert!(!out.modified);
    assert_eq!(out.document, input);
}

// ---- no-op detection ----

// nModified counts documents whose bytes changed; a no-op returns the input unchanged.
#[test]
fn no_op_updates_return_the_input() {
    let input = raw(&doc! { "_id": 1, "a": [1, 2], "b": 5, "c": Bson::Null });
    for u in [
        doc! { "$set": { "b": 5 } },
        doc! { "$max": { "b": 1 } },
        doc! { "$addToSet": { "a": 2 } },
        doc! { "$pull": { "a": 7 } },
        doc! { "$unset": { "zzz": 1 } },
        doc! { "$rename": { "nope": "x" } },
        doc! { "$mul": { "b": 1 } },
        doc! { "$bit": { "b": { "or": 0 } } },
        doc! { "$push": { "a": { "$each": [] } } },
    ] {
        let out = parse(u.clone()).unwrap().apply(&input, None).unwrap();
        assert!(!out.modified, "{u:?}");
        assert_eq!(out.document, input, "{u:?}");
    }
}
