//! Parse errors: MongoDB 7.0's codes and messages (src/mongo/db/matcher/expression_parser.cpp,
//! BSONElement::parseIntegerElementTo*), and the unsupported operators.

use bson::{doc, Bson, Document, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};
use documentdb_query::filter::Filter;

fn err(f: Document) -> DocDbError {
    let raw = RawDocumentBuf::try_from(&f).unwrap();
    match Filter::parse(&raw) {
        Ok(_) => panic!("expected an error for {f}"),
        Err(e) => e,
    }
}

fn check(f: Document, code: ErrorCode, message: &str) {
    let e = err(f.clone());
    assert_eq!((e.code, e.message.as_str()), (code, message), "filter {f}");
}

fn regex(p: &str, o: &str) -> Bson {
    Bson::RegularExpression(bson::Regex { pattern: p.try_into().unwrap(), options: o.try_into().unwrap() })
}

const BAD: ErrorCode = ErrorCode::BadValue;

#[test]
fn unknown_top_level_operator_is_bad_value() {
    check(
        doc! {"$foo": 1},
        BAD,
        "unknown top level operator: $foo. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.",
    );
    check(
        doc! {"$not": {"a": 1}},
        BAD,
        "unknown top level operator: $not. If you are trying to negate an entire expression, use $nor.",
    );
    assert!(err(doc! {"$and": [{"$bar": 1}]}).message.starts_with("unknown top level operator: $bar"));
}

#[test]
fn unknown_field_operator_is_bad_value() {
    check(doc! {"a": {"$foo": 1}}, BAD, "unknown operator: $foo");
    check(doc! {"a": {"$gt": 1, "b": 2}}, BAD, "unknown operator: b");
    check(doc! {"a": {"$elemMatch": {"$gt": 1, "b": 2}}}, BAD, "unknown operator: b");
    check(doc! {"a": {"$not": {"b": 1}}}, BAD, "unknown operator: b");
}

#[test]
fn in_and_nin_operand_errors() {
    check(doc! {"a": {"$in": 1}}, BAD, "$in needs an array");
    check(doc! {"a": {"$nin": {"x": 1}}}, BAD, "$nin needs an array");
    check(doc! {"a": {"$in": [{"$gt": 1}]}}, BAD, "cannot nest $ under $in");
    check(doc! {"a": {"$in": [Bson::Undefined]}}, BAD, "InMatchExpression equality cannot be undefined");
}

#[test]
fn comparison_operand_errors() {
    check(doc! {"a": Bson::Undefined}, BAD, "cannot compare to undefined");
    check(doc! {"a": {"$lt": Bson::Undefined}}, BAD, "cannot compare to undefined");
    check(doc! {"a": {"$gt": regex("x", "")}}, BAD, "Can't have RegEx as arg to predicate over field 'a'.");
    check(doc! {"a": {"$ne": regex("x", "")}}, BAD, "Can't have regex as arg to $ne.");
    check(doc! {"a": {"$all": [Bson::Undefined]}}, BAD, "cannot compare to undefined");
}

#[test]
fn logical_operand_errors() {
    check(doc! {"$and": {}}, BAD, "$and must be an array");
    check(doc! {"$or": 1}, BAD, "$or must be an array");
    check(doc! {"$or": []}, BAD, "$and/$or/$nor must be a nonempty array");
    check(doc! {"$nor": [1]}, BAD, "$or/$and/$nor entries need to be full objects");
    check(doc! {"a": {"$not": 5}}, BAD, "$not needs a regex or a document");
    check(doc! {"a": {"$not": {}}}, BAD, "$not cannot be empty");
}

#[test]
fn size_operand_errors() {
    check(doc! {"a": {"$size": -1}}, BAD, "Failed to parse $size. Expected a non-negative number in: $size: -1");
    check(doc! {"a": {"$size": 1.5}}, BAD, "Failed to parse $size. Expected an integer: $size: 1.5");
    check(doc! {"a": {"$size": "1"}}, BAD, "Failed to parse $size. Expected a number in: $size: \"1\"");
    check(
        doc! {"a": {"$size": f64::NAN}},
        BAD,
        "Failed to parse $size. Expected an integer, but found NaN in: $size: nan",
    );
    check(
        doc! {"a": {"$size": i64::MAX}},
        BAD,
        "Failed to parse $size. Cannot represent $size: 9223372036854775807 in an int",
    );
    for v in [Bson::Null, Bson::Boolean(true), Bson::Document(doc! {"$gt": 1}), Bson::Double(f64::INFINITY)] {
        assert_eq!(err(doc! {"a": {"$size": v}}).code, BAD);
    }
}

#[test]
fn type_operand_errors() {
    check(doc! {"a": {"$type": "foo"}}, BAD, "Unknown type name alias: foo");
    check(doc! {"a": {"$type": "String"}}, BAD, "Unknown type name alias: String");
    check(doc! {"a": {"$type": 99}}, BAD, "Invalid numerical type code: 99");
    check(doc! {"a": {"$type": 1.5}}, BAD, "Invalid numerical type code: 1.5");
    check(doc! {"a": {"$type": true}}, ErrorCode::TypeMismatch, "type must be represented as a number or a string");
    check(
        doc! {"a": {"$type": ["int", {}]}},
        ErrorCode::TypeMismatch,
        "type must be represented as a number or a string",
    );
    check(doc! {"a": {"$type": []}}, ErrorCode::FailedToParse, "a must match at least one type");
}

#[test]
fn mod_operand_errors_per_manual_mod() {
    check(doc! {"a": {"$mod": 4}}, BAD, "malformed mod, needs to be an array");
    check(doc! {"a": {"$mod": []}}, BAD, "malformed mod, not enough elements");
    check(doc! {"a": {"$mod": [4]}}, BAD, "malformed mod, not enough elements");
    check(doc! {"a": {"$mod": ["4", 0]}}, BAD, "malformed mod, divisor not a number");
    check(doc! {"a": {"$mod": [4, "0"]}}, BAD, "malformed mod, remainder not a number");
    check(doc! {"a": {"$mod": [4, 1, 2]}}, BAD, "malformed mod, too many elements");
    check(doc! {"a": {"$mod": [0, 1]}}, BAD, "divisor cannot be 0");
    check(doc! {"a": {"$mod": [0.5, 1]}}, BAD, "divisor cannot be 0");
    check(
        doc! {"a": {"$mod": [f64::NAN, 1]}},
        BAD,
        "malformed mod, divisor value is invalid :: caused by :: Unable to coerce NaN/Inf to integral type",
    );
    check(
        doc! {"a": {"$mod": [1e300, 1]}},
        BAD,
        "malformed mod, divisor value is invalid :: caused by :: Out of bounds coercing to integral value",
    );
    check(
        doc! {"a": {"$mod": [1, f64::NEG_INFINITY]}},
        BAD,
        "malformed mod, remainder value is invalid :: caused by :: Unable to coerce NaN/Inf to integral type",
    );
}

#[test]
fn regex_operand_errors() {
    check(doc! {"a": {"$regex": 5}}, BAD, "$regex has to be a string");
    check(doc! {"a": {"$regex": "x", "$options": 5}}, BAD, "$options has to be a string");
    check(doc! {"a": {"$options": "i"}}, BAD, "$options needs a $regex");
    check(
        doc! {"a": {"$regex": regex("x", "i"), "$options": "m"}},
        ErrorCode::new(51075),
        "options set in both $regex and $options",
    );
    check(
        doc! {"a": {"$options": "m", "$regex": regex("x", "i")}},
        ErrorCode::new(51074),
        "options set in both $regex and $options",
    );
    check(doc! {"a": {"$regex": "x", "$options": "iz"}}, ErrorCode::new(51108), "invalid flag in regex options: z");
    let e = err(doc! {"a": {"$regex": "(unclosed"}});
    assert_eq!(e.code, ErrorCode::new(51091));
    assert!(e.message.starts_with("Regular expression is invalid: "), "{}", e.message);
    check(doc! {"a": {"$regex": "a\0b"}}, BAD, "Regular expression cannot contain an embedded null byte");
    assert_eq!(err(doc! {"a": regex("[", "")}).code, ErrorCode::new(51091));
    assert_eq!(err(doc! {"a": {"$in": [regex("(", "")]}}).code, ErrorCode::new(51091));
}

#[test]
fn array_operator_operand_errors() {
    check(doc! {"a": {"$elemMatch": 1}}, BAD, "$elemMatch needs an Object");
    check(doc! {"a": {"$all": 1}}, BAD, "$all needs an array");
    check(doc! {"a": {"$all": [{"$elemMatch": {"b": 1}}, 1]}}, BAD, "$all/$elemMatch has to be consistent");
    check(doc! {"a": {"$all": [{"$elemMatch": {"b": 1}}, {"b": 1}]}}, BAD, "$all/$elemMatch has to be consistent");
    check(doc! {"a": {"$all": [1, {"$gt": 1}]}}, BAD, "no $ expressions in $all");
}

#[test]
fn bitwise_operand_errors_per_manual_bitsallset() {
    check(
        doc! {"a": {"$bitsAllSet": "x"}},
        BAD,
        "a takes an Array, a number, or a BinData but received: $bitsAllSet: \"x\"",
    );
    check(
        doc! {"a": {"$bitsAnySet": -1}},
        ErrorCode::FailedToParse,
        "Expected a non-negative number in: $bitsAnySet: -1",
    );
    check(doc! {"a": {"$bitsAllClear": 1.5}}, ErrorCode::FailedToParse, "Expected an integer: $bitsAllClear: 1.5");
    check(
        doc! {"a": {"$bitsAnyClear": [1, -1]}},
        BAD,
        "Failed to parse bit position. Expected a non-negative number in: 1: -1",
    );
    check(doc! {"a": {"$bitsAllSet": [0.5]}}, BAD, "Failed to parse bit position. Expected an integer: 0: 0.5");
    check(doc! {"a": {"$bitsAllSet": ["1"]}}, BAD, "Failed to parse bit position. Expected a number in: 0: \"1\"");
}

#[test]
fn always_boolean_operand_errors() {
    check(doc! {"$alwaysTrue": 2}, ErrorCode::FailedToParse, "$alwaysTrue must be an integer value of 1");
    check(doc! {"$alwaysFalse": "1"}, ErrorCode::FailedToParse, "Expected a number in: $alwaysFalse: \"1\"");
}

#[test]
fn where_text_and_geo_are_rejected_not_ignored() {
    check(doc! {"$where": "this.a == 1"}, ErrorCode::NotImplemented, "$where is not supported");
    check(doc! {"a": {"$where": "x"}}, BAD, "$where cannot be applied to a field");
    // A top-level $text is answered by the text index (the SQL layer); nested ones are not
    // served, so they are errors rather than silently matching everything.
    assert!(Filter::parse(&RawDocumentBuf::try_from(&doc! {"$text": {"$search": "coffee"}}).unwrap()).is_ok());
    check(doc! {"$or": [{"$text": {"$search": "coffee"}}]}, BAD, "$text is only supported at the top level of a query");
    assert_eq!(err(doc! {"$text": {"$search": 1}}).code, ErrorCode::TypeMismatch);
    check(
        doc! {"a": {"$elemMatch": {"$text": {"$search": "x"}}}},
        BAD,
        "$text can only be applied to the top-level document",
    );
    for op in ["$near", "$nearSphere", "$geoWithin", "$geoIntersects", "$within", "$geoNear"] {
        let e = err(doc! {"loc": {op: [0, 0]}});
        assert_eq!(e.code, ErrorCode::NotImplemented, "{op}");
        assert!(e.message.starts_with(op), "{}", e.message);
    }
}

#[test]
fn expr_and_json_schema_placement_errors() {
    check(
        doc! {"a": {"$elemMatch": {"$expr": {"$eq": [1, 1]}}}},
        BAD,
        "$expr can only be applied to the top-level document",
    );
    check(doc! {"$jsonSchema": 1}, ErrorCode::TypeMismatch, "$jsonSchema must be an object");
    check(doc! {"$jsonSchema": {"foo": 1}}, ErrorCode::FailedToParse, "Unknown $jsonSchema keyword: foo");
}

#[test]
fn sample_rate_operand_errors_per_manual_samplerate() {
    check(doc! {"$sampleRate": 2}, BAD, "numeric argument to $sampleRate must be in [0, 1]");
    check(doc! {"$sampleRate": f64::NAN}, BAD, "numeric argument to $sampleRate must be in [0, 1]");
    check(doc! {"$sampleRate": "x"}, BAD, "argument to $sampleRate must be a numeric type");
    check(
        doc! {"a": {"$elemMatch": {"$sampleRate": 0.5}}},
        BAD,
        "$sampleRate can only be applied to the top-level document",
    );
}

#[test]
fn excessive_nesting_is_rejected() {
    let mut f = doc! {"a": 1};
    for _ in 0..150 {
        f = doc! {"$and": [f]};
    }
    let e = err(f);
    assert_eq!(e.code, BAD);
    assert!(e.message.starts_with("exceeded maximum query tree depth of 100"), "{}", e.message);
    let mut ok = doc! {"a": 1};
    for _ in 0..50 {
        ok = doc! {"$or": [ok]};
    }
    assert!(Filter::parse(&RawDocumentBuf::try_from(&ok).unwrap()).is_ok());
}
