//! `$jsonSchema`: MongoDB manual "$jsonSchema" (available keywords, omissions) and "Specify
//! JSON Schema Validation"; parse errors per MongoDB 7.0's JSONSchemaParser.

use bson::{doc, Bson, Decimal128, Document, RawDocumentBuf};
use documentdb_errors::ErrorCode;
use documentdb_query::schema::JsonSchema;
use std::str::FromStr;

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).unwrap()
}

fn schema(s: Document) -> JsonSchema {
    JsonSchema::parse(&raw(&s)).unwrap_or_else(|e| panic!("parse {s}: {e:?}"))
}

fn valid(s: Document, d: Document) -> bool {
    let sc = schema(s);
    let ok = sc.validate(&raw(&d));
    assert_eq!(ok, sc.validate_with_reason(&raw(&d)).is_ok(), "validate and validate_with_reason disagree");
    ok
}

fn parse_err(s: Document) -> (ErrorCode, String) {
    match JsonSchema::parse(&raw(&s)) {
        Ok(_) => panic!("expected an error for {s}"),
        Err(e) => (e.code, e.message),
    }
}

fn dec(s: &str) -> Bson {
    Bson::Decimal128(Decimal128::from_str(s).unwrap())
}

fn students() -> Document {
    doc! {
        "bsonType": "object",
        "title": "Student Object Validation",
        "required": ["address", "major", "name", "year"],
        "properties": {
            "name": {"bsonType": "string", "description": "'name' must be a string and is required"},
            "year": {"bsonType": "int", "minimum": 2017, "maximum": 3017, "description": "'year' must be an integer in [ 2017, 3017 ] and is required"},
            "gpa": {"bsonType": ["double"], "description": "'gpa' must be a double if the field exists"}
        }
    }
}

#[test]
fn students_validator_per_manual_specify_json_schema_validation() {
    let good = doc! {"name": "Alice", "year": 2019, "major": "History", "gpa": 3.0, "address": {"city": "NYC", "street": "33rd Street"}};
    assert!(valid(students(), good.clone()));
    let mut bad = good.clone();
    bad.insert("gpa", 3);
    assert!(!valid(students(), bad.clone()));
    let reason = schema(students()).validate_with_reason(&raw(&bad)).unwrap_err();
    assert!(reason.contains("gpa") && reason.contains("bsonType"), "{reason}");
    let mut missing = good.clone();
    missing.remove("major");
    let reason = schema(students()).validate_with_reason(&raw(&missing)).unwrap_err();
    assert!(reason.contains("required") && reason.contains("major"), "{reason}");
    let mut early = good;
    early.insert("year", 2016);
    let reason = schema(students()).validate_with_reason(&raw(&early)).unwrap_err();
    assert!(reason.contains("year") && reason.contains("minimum"), "{reason}");
}

#[test]
fn bson_type_aliases_and_arrays_per_manual_jsonschema_bsontype() {
    let s = doc! {"properties": {"a": {"bsonType": ["int", "long"]}, "n": {"bsonType": "number"}, "o": {"bsonType": "objectId"}}};
    assert!(valid(s.clone(), doc! {"a": 1, "n": 1.5}));
    assert!(valid(s.clone(), doc! {"a": 1_i64, "n": dec("2")}));
    assert!(!valid(s.clone(), doc! {"a": 1.0}));
    assert!(!valid(s.clone(), doc! {"n": "1"}));
    assert!(!valid(s.clone(), doc! {"o": "x"}));
    // Arrays are values of type array: the type keyword does not look at elements.
    assert!(!valid(s, doc! {"a": [1]}));
    assert!(valid(doc! {"properties": {"a": {"bsonType": "array"}}}, doc! {"a": [1]}));
}

#[test]
fn json_type_keyword_per_manual_jsonschema_type() {
    let s = doc! {"properties": {"s": {"type": "string"}, "n": {"type": "number"}, "b": {"type": "boolean"}, "x": {"type": ["null", "object"]}}};
    assert!(valid(s.clone(), doc! {"s": "x", "n": 1_i64, "b": false, "x": null}));
    assert!(valid(s.clone(), doc! {"x": {"y": 1}}));
    assert!(!valid(s.clone(), doc! {"b": 1}));
    assert!(!valid(s, doc! {"x": []}));
}

#[test]
fn top_level_type_must_allow_object() {
    assert!(valid(doc! {"bsonType": "object"}, doc! {"a": 1}));
    assert!(!valid(doc! {"bsonType": "string"}, doc! {"a": 1}));
    assert!(valid(doc! {"type": ["string", "object"]}, doc! {}));
}

#[test]
fn required_and_properties_per_manual_jsonschema() {
    let s = doc! {"required": ["a"], "properties": {"a": {"bsonType": "int"}, "b": {"bsonType": "string"}}};
    assert!(valid(s.clone(), doc! {"a": 1}));
    assert!(!valid(s.clone(), doc! {"b": "x"}));
    assert!(!valid(s.clone(), doc! {"a": 1, "b": 2}));
    // null and undefined values exist.
    assert!(valid(doc! {"required": ["a"]}, doc! {"a": null}));
    // Nested object schemas only constrain documents.
    let nested = doc! {"properties": {"p": {"required": ["x"], "properties": {"x": {"minimum": 0}}}}};
    assert!(valid(nested.clone(), doc! {"p": {"x": 1}}));
    assert!(!valid(nested.clone(), doc! {"p": {"y": 1}}));
    assert!(!valid(nested.clone(), doc! {"p": {"x": -1}}));
    assert!(valid(nested.clone(), doc! {"p": 5}));
    assert!(valid(nested, doc! {"p": [{"y": 1}]}));
}

#[test]
fn additional_and_pattern_properties_per_manual_jsonschema() {
    let s = doc! {
        "properties": {"_id": {}, "name": {"bsonType": "string"}},
        "patternProperties": {"^x_": {"bsonType": "int"}},
        "additionalProperties": false
    };
    assert!(valid(s.clone(), doc! {"_id": 1, "name": "n", "x_a": 1}));
    assert!(!valid(s.clone(), doc! {"_id": 1, "x_a": "1"}));
    assert!(!valid(s.clone(), doc! {"_id": 1, "other": 1}));
    let reason = schema(s).validate_with_reason(&raw(&doc! {"other": 1})).unwrap_err();
    assert!(reason.contains("other") && reason.contains("additionalProperties"), "{reason}");
    // additionalProperties as a schema; patterns are unanchored searches.
    let s =
        doc! {"patternProperties": {"id": {"bsonType": "objectId"}}, "additionalProperties": {"bsonType": "string"}};
    assert!(valid(s.clone(), doc! {"user_id_ref": bson::oid::ObjectId::new(), "x": "y"}));
    assert!(!valid(s.clone(), doc! {"x": 1}));
    assert!(!valid(s, doc! {"uid": 1}));
    // A field may match several patterns: every matching schema applies.
    let s = doc! {"patternProperties": {"^a": {"minimum": 0}, "b$": {"maximum": 10}}};
    assert!(valid(s.clone(), doc! {"ab": 5}));
    assert!(!valid(s.clone(), doc! {"ab": 11}));
    assert!(!valid(s, doc! {"ab": -1}));
}

#[test]
fn min_and_max_properties_per_manual_jsonschema() {
    let s = doc! {"minProperties": 2, "maxProperties": 3};
    assert!(!valid(s.clone(), doc! {"a": 1}));
    assert!(valid(s.clone(), doc! {"a": 1, "b": 2}));
    assert!(!valid(s.clone(), doc! {"a": 1, "b": 2, "c": 3, "d": 4}));
    assert!(valid(doc! {"properties": {"o": {"maxProperties": 1}}}, doc! {"o": {"x": 1}}));
    assert!(!valid(doc! {"properties": {"o": {"maxProperties": 1}}}, doc! {"o": {"x": 1, "y": 2}}));
}

#[test]
fn array_keywords_per_manual_jsonschema() {
    let s =
        doc! {"properties": {"a": {"minItems": 1, "maxItems": 3, "uniqueItems": true, "items": {"bsonType": "int"}}}};
    assert!(valid(s.clone(), doc! {"a": [1, 2]}));
    assert!(!valid(s.clone(), doc! {"a": []}));
    assert!(!valid(s.clone(), doc! {"a": [1, 2, 3, 4]}));
    assert!(!valid(s.clone(), doc! {"a": [1, 1]}));
    assert!(!valid(s.clone(), doc! {"a": [1, "x"]}));
    // Restrictions ignore non-arrays.
    assert!(valid(s, doc! {"a": "not an array"}));
    // uniqueItems ignores field order and numeric type.
    let u = doc! {"properties": {"a": {"uniqueItems": true}}};
    assert!(!valid(u.clone(), doc! {"a": [{"x": 1, "y": 2}, {"y": 2, "x": 1}]}));
    assert!(!valid(u.clone(), doc! {"a": [1, 1.0]}));
    assert!(valid(u, doc! {"a": [[1, 2], [2, 1]]}));
}

#[test]
fn tuple_items_and_additional_items_per_manual_jsonschema() {
    let s =
        doc! {"properties": {"t": {"items": [{"bsonType": "string"}, {"bsonType": "int"}], "additionalItems": false}}};
    assert!(valid(s.clone(), doc! {"t": ["a", 1]}));
    assert!(valid(s.clone(), doc! {"t": ["a"]}));
    assert!(!valid(s.clone(), doc! {"t": [1, 1]}));
    assert!(!valid(s, doc! {"t": ["a", 1, 2]}));
    let s = doc! {"properties": {"t": {"items": [{"bsonType": "string"}], "additionalItems": {"bsonType": "bool"}}}};
    assert!(valid(s.clone(), doc! {"t": ["a", true, false]}));
    assert!(!valid(s, doc! {"t": ["a", true, 1]}));
    // additionalItems is ignored when items is a single schema.
    let s = doc! {"properties": {"t": {"items": {"bsonType": "int"}, "additionalItems": false}}};
    assert!(valid(s, doc! {"t": [1, 2, 3]}));
}

#[test]
fn numeric_keywords_per_manual_jsonschema() {
    let s = doc! {"properties": {"n": {"minimum": 0, "maximum": 10, "exclusiveMaximum": true}}};
    assert!(valid(s.clone(), doc! {"n": 0}));
    assert!(valid(s.clone(), doc! {"n": 9.99}));
    assert!(!valid(s.clone(), doc! {"n": 10}));
    assert!(!valid(s.clone(), doc! {"n": -0.5}));
    assert!(!valid(s.clone(), doc! {"n": f64::NAN}));
    assert!(valid(s.clone(), doc! {"n": "11"}));
    assert!(valid(s, doc! {"n": [100]}));
    let s = doc! {"properties": {"n": {"minimum": 1, "exclusiveMinimum": true}}};
    assert!(!valid(s.clone(), doc! {"n": 1_i64}));
    assert!(valid(s, doc! {"n": dec("1.0000001")}));
}

#[test]
fn multiple_of_is_exact_decimal_per_manual_jsonschema() {
    let s = doc! {"properties": {"n": {"multipleOf": 0.1}}};
    assert!(valid(s.clone(), doc! {"n": 0.3}));
    assert!(valid(s.clone(), doc! {"n": 5}));
    assert!(!valid(s.clone(), doc! {"n": 0.35}));
    let s = doc! {"properties": {"n": {"multipleOf": 3}}};
    assert!(valid(s.clone(), doc! {"n": -9_i64}));
    assert!(valid(s.clone(), doc! {"n": dec("1.2E+1")}));
    assert!(!valid(s.clone(), doc! {"n": 10}));
    assert!(!valid(s.clone(), doc! {"n": f64::INFINITY}));
    assert!(valid(s, doc! {"n": 0}));
    assert!(valid(doc! {"properties": {"n": {"multipleOf": dec("0.25")}}}, doc! {"n": 1.75}));
}

#[test]
fn string_keywords_count_code_points_per_manual_jsonschema() {
    let s = doc! {"properties": {"s": {"minLength": 2, "maxLength": 3, "pattern": "^[a-zé]+$"}}};
    assert!(valid(s.clone(), doc! {"s": "ab"}));
    assert!(valid(s.clone(), doc! {"s": "éé"}));
    assert!(!valid(s.clone(), doc! {"s": "a"}));
    assert!(!valid(s.clone(), doc! {"s": "abcd"}));
    assert!(!valid(s.clone(), doc! {"s": "AB"}));
    assert!(valid(s, doc! {"s": 12}));
}

#[test]
fn enum_per_manual_jsonschema() {
    let s = doc! {"properties": {"c": {"enum": ["red", "green", null, {"x": 1, "y": 2}]}}};
    assert!(valid(s.clone(), doc! {"c": "red"}));
    assert!(valid(s.clone(), doc! {"c": null}));
    assert!(valid(s.clone(), doc! {"c": {"y": 2, "x": 1}}));
    assert!(!valid(s.clone(), doc! {"c": "blue"}));
    assert!(!valid(s, doc! {"c": ["red"]}));
    assert!(valid(doc! {"properties": {"c": {"enum": [1]}}}, doc! {"c": 1.0}));
    // Top level: the document must equal one of the object values (field order ignored).
    let top = doc! {"enum": [{"a": 1, "b": 2}, 5]};
    assert!(valid(top.clone(), doc! {"b": 2, "a": 1}));
    assert!(!valid(top, doc! {"a": 1}));
}

#[test]
fn logical_keywords_per_manual_jsonschema() {
    let s = doc! {"properties": {"v": {
        "allOf": [{"bsonType": "number"}, {"minimum": 0}],
        "anyOf": [{"maximum": 5}, {"minimum": 100}],
        "oneOf": [{"multipleOf": 2}, {"multipleOf": 3}],
        "not": {"enum": [6]}
    }}};
    assert!(valid(s.clone(), doc! {"v": 4}));
    assert!(valid(s.clone(), doc! {"v": 104}));
    assert!(!valid(s.clone(), doc! {"v": 6}), "6 is a multiple of 2 and 3 (oneOf) and excluded by not");
    assert!(!valid(s.clone(), doc! {"v": 7}));
    assert!(!valid(s.clone(), doc! {"v": 50}));
    assert!(!valid(s.clone(), doc! {"v": -2}));
    assert!(!valid(s, doc! {"v": "4"}));
}

#[test]
fn dependencies_per_manual_jsonschema() {
    let s = doc! {"dependencies": {"card": ["billing"], "vip": {"required": ["level"]}}};
    assert!(valid(s.clone(), doc! {}));
    assert!(valid(s.clone(), doc! {"card": 1, "billing": 2}));
    assert!(!valid(s.clone(), doc! {"card": 1}));
    assert!(!valid(s.clone(), doc! {"vip": true}));
    assert!(valid(s, doc! {"vip": true, "level": 3}));
    // title/description strings are allowed inside dependencies.
    assert!(valid(doc! {"dependencies": {"title": "t", "a": ["b"]}}, doc! {"c": 1}));
}

#[test]
fn title_and_description_are_ignored_but_must_be_strings() {
    assert!(valid(doc! {"title": "t", "description": "d"}, doc! {}));
    assert_eq!(
        parse_err(doc! {"title": 1}),
        (ErrorCode::TypeMismatch, "$jsonSchema keyword 'title' must be of type string".to_string())
    );
}

#[test]
fn unsupported_keywords_per_manual_jsonschema_omissions() {
    for kw in ["$ref", "$schema", "default", "definitions", "format", "id"] {
        assert_eq!(
            parse_err(doc! {kw: "x"}),
            (ErrorCode::FailedToParse, format!("$jsonSchema keyword '{kw}' is not currently supported")),
        );
    }
    assert_eq!(parse_err(doc! {"properties": {"a": {"format": "date"}}}).0, ErrorCode::FailedToParse);
    assert_eq!(parse_err(doc! {"foo": 1}), (ErrorCode::FailedToParse, "Unknown $jsonSchema keyword: foo".to_string()));
    assert_eq!(
        parse_err(doc! {"type": "integer"}),
        (ErrorCode::FailedToParse, "$jsonSchema type 'integer' is not currently supported.".to_string())
    );
}

#[test]
fn bad_keyword_values_are_errors_per_json_schema_parser() {
    let cases: Vec<(Document, ErrorCode, &str)> = vec![
        (
            doc! {"type": "x", "bsonType": "int"},
            ErrorCode::FailedToParse,
            "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'",
        ),
        (
            doc! {"bsonType": 1},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'bsonType' must be either a string or an array of strings",
        ),
        (
            doc! {"bsonType": "integer"},
            ErrorCode::FailedToParse,
            "$jsonSchema type 'integer' is not currently supported.",
        ),
        (doc! {"bsonType": "foo"}, ErrorCode::BadValue, "Unknown type name alias: foo"),
        (doc! {"type": "int"}, ErrorCode::BadValue, "Unknown type name alias: int"),
        (doc! {"bsonType": []}, ErrorCode::FailedToParse, "$jsonSchema keyword 'bsonType' must name at least one type"),
        (
            doc! {"bsonType": ["int", "int"]},
            ErrorCode::FailedToParse,
            "$jsonSchema keyword 'bsonType' has duplicate value: int",
        ),
        (doc! {"type": [1]}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'type' array elements must be strings"),
        (
            doc! {"required": "a"},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'required' must be an array, but found an element of type string",
        ),
        (
            doc! {"required": [1]},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'required' must be an array of strings, but found an element of type: int",
        ),
        (doc! {"required": []}, ErrorCode::FailedToParse, "$jsonSchema keyword 'required' cannot be an empty array"),
        (
            doc! {"required": ["a", "a"]},
            ErrorCode::FailedToParse,
            "$jsonSchema keyword 'required' array cannot contain duplicate values",
        ),
        (doc! {"properties": 1}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'properties' must be an object"),
        (
            doc! {"properties": {"a": 1}},
            ErrorCode::TypeMismatch,
            "Nested schema for $jsonSchema property 'a' must be an object",
        ),
        (
            doc! {"additionalProperties": 1},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'additionalProperties' must be an object or a boolean",
        ),
        (
            doc! {"patternProperties": 1},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'patternProperties' must be an object",
        ),
        (
            doc! {"patternProperties": {"a": 1}},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'patternProperties' has property 'a' which is not an object",
        ),
        (doc! {"minProperties": -1}, ErrorCode::FailedToParse, "Expected a non-negative number in: minProperties: -1"),
        (doc! {"maxItems": 1.5}, ErrorCode::FailedToParse, "Expected an integer: maxItems: 1.5"),
        (doc! {"minLength": "1"}, ErrorCode::FailedToParse, "Expected a number in: minLength: \"1\""),
        (
            doc! {"items": 1},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'items' must be an array or an object, not int",
        ),
        (
            doc! {"items": [1]},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'items' requires that each element of the array is an object, but found a int",
        ),
        (
            doc! {"additionalItems": 1},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'additionalItems' must be either an object or a boolean, but got a int",
        ),
        (doc! {"uniqueItems": 1}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'uniqueItems' must be a boolean"),
        (doc! {"maximum": "1"}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'maximum' must be a number"),
        (
            doc! {"minimum": 1, "exclusiveMinimum": 1},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'exclusiveMinimum' must be a boolean",
        ),
        (
            doc! {"exclusiveMaximum": true},
            ErrorCode::FailedToParse,
            "$jsonSchema keyword 'maximum' must be a present if exclusiveMaximum is present",
        ),
        (doc! {"multipleOf": "1"}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'multipleOf' must be a number"),
        (
            doc! {"multipleOf": 0},
            ErrorCode::FailedToParse,
            "$jsonSchema keyword 'multipleOf' must have a positive value",
        ),
        (
            doc! {"multipleOf": -2.5},
            ErrorCode::FailedToParse,
            "$jsonSchema keyword 'multipleOf' must have a positive value",
        ),
        (doc! {"pattern": 1}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'pattern' must be a string"),
        (doc! {"allOf": {}}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'allOf' must be an array"),
        (doc! {"anyOf": []}, ErrorCode::BadValue, "$jsonSchema keyword 'anyOf' must be a non-empty array"),
        (
            doc! {"oneOf": [1]},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'oneOf' must be an array of objects, but found an element of type int",
        ),
        (
            doc! {"not": []},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'not' must be an object, but found an element of type array",
        ),
        (
            doc! {"enum": 1},
            ErrorCode::TypeMismatch,
            "$jsonSchema keyword 'enum' must be an array, but found an element of type int",
        ),
        (doc! {"enum": []}, ErrorCode::FailedToParse, "$jsonSchema keyword 'enum' cannot be an empty array"),
        (
            doc! {"enum": [{"a": 1, "b": 1}, {"b": 1, "a": 1}]},
            ErrorCode::FailedToParse,
            "$jsonSchema keyword 'enum' array cannot contain duplicate values.",
        ),
        (doc! {"dependencies": 1}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'dependencies' must be an object"),
        (
            doc! {"dependencies": {"a": 1}},
            ErrorCode::TypeMismatch,
            "property 'a' in $jsonSchema keyword 'dependencies' must be either an object or an array",
        ),
        (
            doc! {"dependencies": {"a": []}},
            ErrorCode::FailedToParse,
            "property 'a' in $jsonSchema keyword 'dependencies' cannot be an empty array",
        ),
        (
            doc! {"dependencies": {"a": [1]}},
            ErrorCode::TypeMismatch,
            "array 'a' in $jsonSchema keyword 'dependencies' can only contain strings, but found element of type: int",
        ),
        (
            doc! {"dependencies": {"a": ["b", "b"]}},
            ErrorCode::FailedToParse,
            "array 'a' in $jsonSchema keyword 'dependencies' contains duplicate element: b",
        ),
        (doc! {"description": 1}, ErrorCode::TypeMismatch, "$jsonSchema keyword 'description' must be of type string"),
    ];
    for (s, code, message) in cases {
        assert_eq!(parse_err(s.clone()), (code, message.to_string()), "schema {s}");
    }
    let (code, message) = parse_err(doc! {"pattern": "("});
    assert_eq!(code, ErrorCode::new(51091), "{message}");
}

#[test]
fn deeply_nested_schemas_are_rejected_not_overflowing_the_stack() {
    let mut s = doc! {"bsonType": "int"};
    for _ in 0..200 {
        s = doc! {"not": s};
    }
    assert_eq!(parse_err(s).0, ErrorCode::BadValue);
    let mut ok = doc! {"bsonType": "int"};
    for _ in 0..20 {
        ok = doc! {"properties": {"x": ok}};
    }
    assert!(valid(ok, doc! {"x": {"x": 1}}));
}
