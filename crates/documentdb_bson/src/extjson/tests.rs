use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};

use super::*;

fn canon(text: &str) -> String {
    match parse_document(text) {
        Ok(doc) => to_canonical_string(&doc),
        Err(e) => panic!("{text}: {e:?}"),
    }
}

fn relaxed(text: &str) -> String {
    match parse_document(text) {
        Ok(doc) => to_relaxed_string(&doc),
        Err(e) => panic!("{text}: {e:?}"),
    }
}

fn fails(text: &str) -> DocDbError {
    match parse_document(text) {
        Ok(doc) => panic!("{text} parsed to {}", to_canonical_string(&doc)),
        Err(e) => e,
    }
}

fn fails_with(text: &str, code: ErrorCode, needle: &str) {
    let err = fails(text);
    assert_eq!(err.code, code, "{text}: {}", err.message);
    assert!(err.message.contains(needle), "{text}: {:?} does not mention {needle:?}", err.message);
}

/// `{"v": <value>}` canonical form, checked to round-trip through the parser byte for byte.
fn value(json: &str) -> String {
    let doc = parse_document(&format!("{{\"v\": {json}}}")).unwrap_or_else(|e| panic!("{json}: {e:?}"));
    let text = to_canonical_string(&doc);
    let again = parse_document(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    assert_eq!(again.as_bytes(), doc.as_bytes(), "{text}");
    let prefix = "{ \"v\" : ";
    assert!(text.starts_with(prefix) && text.ends_with(" }"), "{text}");
    text[prefix.len()..text.len() - 2].to_owned()
}

fn bytes_of(text: &str) -> Vec<u8> {
    parse_document(text).unwrap_or_else(|e| panic!("{text}: {e:?}")).into_bytes()
}

fn doc_from_body(body: &[u8]) -> RawDocumentBuf {
    let mut out = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    out.extend_from_slice(body);
    out.push(0);
    RawDocumentBuf::from_bytes(out).unwrap()
}

#[test]
fn spacing() {
    assert_eq!(canon("{}"), "{ }");
    assert_eq!(canon(" \n\t{ }\r\n "), "{ }");
    assert_eq!(canon(r#"{"a":[]}"#), r#"{ "a" : [ ] }"#);
    assert_eq!(canon(r#"{"a":{}}"#), r#"{ "a" : { } }"#);
    assert_eq!(
        canon(r#"{"a":1,"b":[1,"x",{"c":null}]}"#),
        r#"{ "a" : { "$numberInt" : "1" }, "b" : [ { "$numberInt" : "1" }, "x", { "c" : null } ] }"#
    );
}

#[test]
fn plain_json_numbers() {
    assert_eq!(value("0"), r#"{ "$numberInt" : "0" }"#);
    assert_eq!(value("-0"), r#"{ "$numberInt" : "0" }"#);
    assert_eq!(value("2147483647"), r#"{ "$numberInt" : "2147483647" }"#);
    assert_eq!(value("-2147483648"), r#"{ "$numberInt" : "-2147483648" }"#);
    assert_eq!(value("2147483648"), r#"{ "$numberLong" : "2147483648" }"#);
    assert_eq!(value("-2147483649"), r#"{ "$numberLong" : "-2147483649" }"#);
    assert_eq!(value("9223372036854775807"), r#"{ "$numberLong" : "9223372036854775807" }"#);
    assert_eq!(value("-9223372036854775808"), r#"{ "$numberLong" : "-9223372036854775808" }"#);
    assert_eq!(value("9223372036854775808"), r#"{ "$numberDouble" : "9.223372036854776E+18" }"#);
    assert_eq!(value("-9223372036854775809"), r#"{ "$numberDouble" : "-9.223372036854776E+18" }"#);
    assert_eq!(value("123456789012345678901234567890"), r#"{ "$numberDouble" : "1.2345678901234568E+29" }"#);
    assert_eq!(value("1.5"), r#"{ "$numberDouble" : "1.5" }"#);
    assert_eq!(value("1.0"), r#"{ "$numberDouble" : "1.0" }"#);
    assert_eq!(value("-0.0"), r#"{ "$numberDouble" : "-0.0" }"#);
    assert_eq!(value("1e2"), r#"{ "$numberDouble" : "100.0" }"#);
    assert_eq!(value("1E+2"), r#"{ "$numberDouble" : "100.0" }"#);
    assert_eq!(value("0.1"), r#"{ "$numberDouble" : "0.1" }"#);
    assert_eq!(value("3.14159"), r#"{ "$numberDouble" : "3.14159" }"#);
    assert_eq!(value("1.0001220703125"), r#"{ "$numberDouble" : "1.0001220703125" }"#);
    assert_eq!(value("1e300"), r#"{ "$numberDouble" : "1.0E+300" }"#);
    assert_eq!(value("5e-324"), r#"{ "$numberDouble" : "5.0E-324" }"#);
    assert_eq!(value("1e-7"), r#"{ "$numberDouble" : "1.0E-7" }"#);
    assert_eq!(value("1e-5"), r#"{ "$numberDouble" : "0.00001" }"#);
    assert_eq!(value("1.2345678921232E+18"), r#"{ "$numberDouble" : "1.2345678921232E+18" }"#);
    assert_eq!(value("999999999999999"), r#"{ "$numberLong" : "999999999999999" }"#);
    assert_eq!(value("999999999999999.0"), r#"{ "$numberDouble" : "999999999999999.0" }"#);
    assert_eq!(value("1e15"), r#"{ "$numberDouble" : "1.0E+15" }"#);
    assert_eq!(value("-1.5e-7"), r#"{ "$numberDouble" : "-1.5E-7" }"#);
    assert_eq!(value("1.7976931348623157e308"), r#"{ "$numberDouble" : "1.7976931348623157E+308" }"#);
    // Correct rounding (a classic hard case).
    assert_eq!(value("2.2250738585072011e-308"), r#"{ "$numberDouble" : "2.225073858507201E-308" }"#);
    // Overflowing literals become infinities.
    assert_eq!(value("1e400"), r#"{ "$numberDouble" : "Infinity" }"#);
}

#[test]
fn plain_json_strings_and_literals() {
    assert_eq!(value("true"), "true");
    assert_eq!(value("false"), "false");
    assert_eq!(value("null"), "null");
    assert_eq!(value(r#""""#), r#""""#);
    assert_eq!(
        value(r#""a\"b\\c\/d\b\f\n\r\t\u0001\u001F\u00e9\ud83d\ude00 é""#),
        "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001fé😀 é\""
    );
    assert_eq!(value(r#""x\u0000y""#), r#""x\u0000y""#);
    assert_eq!(bytes_of(r#"{"a":"x\u0000y"}"#), b"\x10\0\0\0\x02a\0\x04\0\0\0x\0y\0\0");
    assert_eq!(value("\"\u{7f}\""), "\"\u{7f}\"");
}

#[test]
fn arrays_duplicates_and_keys() {
    assert_eq!(bytes_of(r#"{"a":[true,false]}"#), b"\x15\0\0\0\x04a\0\x0d\0\0\0\x080\0\x01\x081\0\x00\0\0");
    assert_eq!(canon(r#"{"a":1,"a":2}"#), r#"{ "a" : { "$numberInt" : "1" }, "a" : { "$numberInt" : "2" } }"#);
    let long: String = format!("{{\"a\":[{}]}}", ["1"; 12].join(","));
    let doc = parse_document(&long).unwrap();
    let keys: Vec<String> = doc.get_array("a").unwrap().into_iter().enumerate().map(|(i, _)| i.to_string()).collect();
    assert_eq!(keys.len(), 12);
    assert!(doc.as_bytes().windows(3).any(|w| w == b"11\0"));
    assert_eq!(canon(r#"{"\u00e9\"k":1}"#), r#"{ "é\"k" : { "$numberInt" : "1" } }"#);
    assert_eq!(canon(r#"{"":1}"#), r#"{ "" : { "$numberInt" : "1" } }"#);
    fails_with(r#"{"a\u0000b":1}"#, ErrorCode::FailedToParse, "NUL");
}

#[test]
fn wrapper_numbers() {
    assert_eq!(value(r#"{"$numberInt":"-12"}"#), r#"{ "$numberInt" : "-12" }"#);
    assert_eq!(value(r#"{"$numberLong":"-12"}"#), r#"{ "$numberLong" : "-12" }"#);
    assert_eq!(value(r#"{"$numberLong":"9223372036854775807"}"#), r#"{ "$numberLong" : "9223372036854775807" }"#);
    assert_eq!(value(r#"{"$numberDouble":"1.5"}"#), r#"{ "$numberDouble" : "1.5" }"#);
    assert_eq!(value(r#"{"$numberDouble":"1"}"#), r#"{ "$numberDouble" : "1.0" }"#);
    assert_eq!(value(r#"{"$numberDouble":"Infinity"}"#), r#"{ "$numberDouble" : "Infinity" }"#);
    assert_eq!(value(r#"{"$numberDouble":"-Infinity"}"#), r#"{ "$numberDouble" : "-Infinity" }"#);
    assert_eq!(value(r#"{"$numberDouble":"NaN"}"#), r#"{ "$numberDouble" : "NaN" }"#);
    assert_eq!(value(r#"{"$numberDouble":"-0.0"}"#), r#"{ "$numberDouble" : "-0.0" }"#);
    assert_eq!(value(r#"{"$numberDouble":"1E+300"}"#), r#"{ "$numberDouble" : "1.0E+300" }"#);
    assert_eq!(value(r#"{"$numberDouble":"-1.0E-7"}"#), r#"{ "$numberDouble" : "-1.0E-7" }"#);
    for (input, output) in [
        ("1.0", "1.0"),
        ("1", "1"),
        ("-0", "-0"),
        ("-0.0", "-0.0"),
        ("0E+3", "0E+3"),
        ("1.23E+20", "1.23E+20"),
        ("1.23e20", "1.23E+20"),
        ("123E-10", "1.23E-8"),
        ("0.000001234", "0.000001234"),
        ("1E-7", "1E-7"),
        ("12345678901234567890123456789012.34", "12345678901234567890123456789012.34"),
        ("9.999999999999999999999999999999999E+6144", "9.999999999999999999999999999999999E+6144"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
        ("-inf", "-Infinity"),
        ("-NaN", "NaN"),
        (".5", "0.5"),
    ] {
        assert_eq!(
            value(&format!(r#"{{"$numberDecimal":"{input}"}}"#)),
            format!(r#"{{ "$numberDecimal" : "{output}" }}"#),
            "{input}"
        );
    }
}

#[test]
fn wrapper_other_types() {
    assert_eq!(value(r#"{"$oid":"5F1D3A6A8B9C0D1E2F3A4B5C"}"#), r#"{ "$oid" : "5f1d3a6a8b9c0d1e2f3a4b5c" }"#);
    assert_eq!(value(r#"{"$symbol":"sym"}"#), r#"{ "$symbol" : "sym" }"#);
    assert_eq!(
        value(r#"{"$binary":{"base64":"AQID","subType":"0"}}"#),
        r#"{ "$binary" : { "base64" : "AQID", "subType" : "00" } }"#
    );
    assert_eq!(
        value(r#"{"$binary":{"subType":"80","base64":""}}"#),
        r#"{ "$binary" : { "base64" : "", "subType" : "80" } }"#
    );
    assert_eq!(
        value(r#"{"$binary":{"base64":"AQ","subType":"Ff"}}"#),
        r#"{ "$binary" : { "base64" : "AQ==", "subType" : "ff" } }"#
    );
    assert_eq!(
        value(r#"{"$binary":"AQID","$type":"5"}"#),
        r#"{ "$binary" : { "base64" : "AQID", "subType" : "05" } }"#
    );
    assert_eq!(
        value(r#"{"$type":"05","$binary":"AQID"}"#),
        r#"{ "$binary" : { "base64" : "AQID", "subType" : "05" } }"#
    );
    // Old binary (subtype 2) stores an inner length prefix, prints only the payload.
    assert_eq!(
        bytes_of(r#"{"x":{"$binary":{"base64":"//8=","subType":"02"}}}"#),
        hex::decode("13000000057800060000000202000000FFFF00").unwrap()
    );
    assert_eq!(
        value(r#"{"$binary":{"base64":"//8=","subType":"02"}}"#),
        r#"{ "$binary" : { "base64" : "//8=", "subType" : "02" } }"#
    );
    assert_eq!(
        value(r#"{"$uuid":"73ffd264-44b3-4c69-90e8-e7d1dfc035d4"}"#),
        r#"{ "$binary" : { "base64" : "c//SZESzTGmQ6OfR38A11A==", "subType" : "04" } }"#
    );
    assert_eq!(value(r#"{"$code":"x = 1"}"#), r#"{ "$code" : "x = 1" }"#);
    assert_eq!(
        value(r#"{"$code":"x","$scope":{"a":1}}"#),
        r#"{ "$code" : "x", "$scope" : { "a" : { "$numberInt" : "1" } } }"#
    );
    assert_eq!(value(r#"{"$code":"x","$scope":{}}"#), r#"{ "$code" : "x", "$scope" : { } }"#);
    assert_eq!(
        value(r#"{"$scope":{"a":1},"$code":"x"}"#),
        r#"{ "$code" : "x", "$scope" : { "a" : { "$numberInt" : "1" } } }"#
    );
    assert_eq!(value(r#"{"$timestamp":{"t":123,"i":456}}"#), r#"{ "$timestamp" : { "t" : 123, "i" : 456 } }"#);
    assert_eq!(
        value(r#"{"$timestamp":{"i":4294967295,"t":4294967295}}"#),
        r#"{ "$timestamp" : { "t" : 4294967295, "i" : 4294967295 } }"#
    );
    assert_eq!(bytes_of(r#"{"a":{"$timestamp":{"t":1,"i":2}}}"#), b"\x10\0\0\0\x11a\0\x02\0\0\0\x01\0\0\0\0");
    assert_eq!(
        value(r#"{"$regularExpression":{"pattern":"a/b\"","options":"xsmi"}}"#),
        r#"{ "$regularExpression" : { "pattern" : "a/b\"", "options" : "imsx" } }"#
    );
    assert_eq!(
        value(r#"{"$regularExpression":{"options":"","pattern":""}}"#),
        r#"{ "$regularExpression" : { "pattern" : "", "options" : "" } }"#
    );
    assert_eq!(
        value(r#"{"$regex":"ab","$options":"ui"}"#),
        r#"{ "$regularExpression" : { "pattern" : "ab", "options" : "iu" } }"#
    );
    assert_eq!(
        value(r#"{"$options":"l","$regex":"ab"}"#),
        r#"{ "$regularExpression" : { "pattern" : "ab", "options" : "l" } }"#
    );
    assert_eq!(
        value(r#"{"$dbPointer":{"$ref":"db.c","$id":{"$oid":"5f1d3a6a8b9c0d1e2f3a4b5c"}}}"#),
        r#"{ "$dbPointer" : { "$ref" : "db.c", "$id" : { "$oid" : "5f1d3a6a8b9c0d1e2f3a4b5c" } } }"#
    );
    assert_eq!(
        value(r#"{"$dbPointer":{"$id":{"$oid":"5f1d3a6a8b9c0d1e2f3a4b5c"},"$ref":"db.c"}}"#),
        r#"{ "$dbPointer" : { "$ref" : "db.c", "$id" : { "$oid" : "5f1d3a6a8b9c0d1e2f3a4b5c" } } }"#
    );
    let date = r#"{ "$date" : { "$numberLong" : "1356351330501" } }"#;
    assert_eq!(value(r#"{"$date":{"$numberLong":"1356351330501"}}"#), date);
    assert_eq!(value(r#"{"$date":"2012-12-24T12:15:30.501Z"}"#), date);
    assert_eq!(value(r#"{"$date":"2012-12-24T12:15:30.501999Z"}"#), date);
    assert_eq!(value(r#"{"$date":"2012-12-24T13:15:30.501+01:00"}"#), date);
    assert_eq!(value(r#"{"$date":"2012-12-24T07:15:30.501-0500"}"#), date);
    assert_eq!(value(r#"{"$date":1356351330501}"#), date);
    assert_eq!(value(r#"{"$date":-1}"#), r#"{ "$date" : { "$numberLong" : "-1" } }"#);
    assert_eq!(value(r#"{"$date":"0000-01-01T00:00:00Z"}"#), r#"{ "$date" : { "$numberLong" : "-62167219200000" } }"#);
    assert_eq!(value(r#"{"$minKey":1}"#), r#"{ "$minKey" : 1 }"#);
    assert_eq!(value(r#"{"$maxKey":1}"#), r#"{ "$maxKey" : 1 }"#);
    assert_eq!(value(r#"{"$undefined":true}"#), r#"{ "$undefined" : true }"#);
}

#[test]
fn dollar_keys_that_are_not_wrappers() {
    assert_eq!(canon(r#"{"a":{"$gt":1}}"#), r#"{ "a" : { "$gt" : { "$numberInt" : "1" } } }"#);
    assert_eq!(canon(r#"{"a":{"$regex":"x"}}"#), r#"{ "a" : { "$regex" : "x" } }"#);
    assert_eq!(
        canon(r#"{"a":{"$regex":"x","$gt":1}}"#),
        r#"{ "a" : { "$regex" : "x", "$gt" : { "$numberInt" : "1" } } }"#
    );
    assert_eq!(
        canon(r#"{"a":{"$regex":{"$regularExpression":{"pattern":"x","options":""}},"$options":"i"}}"#),
        r#"{ "a" : { "$regex" : { "$regularExpression" : { "pattern" : "x", "options" : "" } }, "$options" : "i" } }"#
    );
    assert_eq!(
        canon(r#"{"a":{"$regex":"x","$options":"i","$ne":1}}"#),
        r#"{ "a" : { "$regex" : "x", "$options" : "i", "$ne" : { "$numberInt" : "1" } } }"#
    );
    assert_eq!(canon(r#"{"a":{"$type":"string"}}"#), r#"{ "a" : { "$type" : "string" } }"#);
    assert_eq!(
        canon(r#"{"a":{"$type":"string","$exists":true}}"#),
        r#"{ "a" : { "$type" : "string", "$exists" : true } }"#
    );
    assert_eq!(canon(r#"{"a":{"$in":[1]}}"#), r#"{ "a" : { "$in" : [ { "$numberInt" : "1" } ] } }"#);
    assert_eq!(canon(r#"{"a":{"$scope":{}}}"#), r#"{ "a" : { "$scope" : { } } }"#);
    assert_eq!(canon(r#"{"r":{"$ref":"c","$id":1}}"#), r#"{ "r" : { "$ref" : "c", "$id" : { "$numberInt" : "1" } } }"#);
    // Wrapper keys not in first position, and at the top level, are ordinary keys.
    assert_eq!(canon(r#"{"a":{"b":1,"$oid":"x"}}"#), r#"{ "a" : { "b" : { "$numberInt" : "1" }, "$oid" : "x" } }"#);
    assert_eq!(canon(r#"{"$oid":"x"}"#), r#"{ "$oid" : "x" }"#);
    assert_eq!(canon(r#"{"$regex":"x","$options":"i"}"#), r#"{ "$regex" : "x", "$options" : "i" }"#);
}

#[test]
fn wrapper_errors() {
    let f = ErrorCode::FailedToParse;
    fails_with(r#"{"a":{"$numberInt":"abc"}}"#, f, r#"Invalid $numberInt value "abc""#);
    fails_with(r#"{"a":{"$numberInt":"2147483648"}}"#, f, "Invalid $numberInt value \"2147483648\"");
    fails_with(r#"{"a":{"$numberInt":1}}"#, f, "Invalid $numberInt value 1");
    fails_with(r#"{"a":{"$numberInt":"1","x":1}}"#, f, "unexpected extra field \"x\"");
    fails_with(r#"{"a":{"$numberLong":"9223372036854775808"}}"#, f, "Invalid $numberLong");
    fails_with(r#"{"a":{"$numberLong":"1.5"}}"#, f, "Invalid $numberLong");
    fails_with(r#"{"a":{"$numberDouble":"abc"}}"#, f, "Invalid $numberDouble");
    fails_with(r#"{"a":{"$numberDouble":"inf"}}"#, f, "Invalid $numberDouble");
    fails_with(r#"{"a":{"$numberDouble":1.5}}"#, f, "Invalid $numberDouble");
    fails_with(r#"{"a":{"$numberDecimal":"abc"}}"#, f, "Invalid $numberDecimal");
    fails_with(r#"{"a":{"$numberDecimal":""}}"#, f, "Invalid $numberDecimal");
    fails_with(r#"{"a":{"$numberDecimal":"."}}"#, f, "Invalid $numberDecimal");
    fails_with(r#"{"a":{"$numberDecimal":"1e"}}"#, f, "Invalid $numberDecimal");
    fails_with(r#"{"a":{"$numberDecimal":"1E+99999"}}"#, f, "Invalid $numberDecimal");
    fails_with(r#"{"a":{"$oid":"123"}}"#, f, "Invalid $oid");
    fails_with(r#"{"a":{"$oid":"zz1d3a6a8b9c0d1e2f3a4b5c"}}"#, f, "Invalid $oid");
    fails_with(r#"{"a":{"$symbol":1}}"#, f, "Invalid $symbol");
    fails_with(r#"{"a":{"$binary":{"base64":"!!!!","subType":"00"}}}"#, f, "base64");
    fails_with(r#"{"a":{"$binary":{"base64":"AQID","subType":"100"}}}"#, f, "subtype");
    fails_with(r#"{"a":{"$binary":{"base64":"AQID"}}}"#, f, "Invalid $binary");
    fails_with(r#"{"a":{"$binary":{"base64":"AQID","subType":"00","x":1}}}"#, f, "Invalid $binary");
    fails_with(r#"{"a":{"$binary":"AQID"}}"#, f, "Invalid $binary");
    fails_with(r#"{"a":{"$binary":"AQID","$type":"zz"}}"#, f, "subtype");
    fails_with(r#"{"a":{"$type":"zz","$binary":"AQID"}}"#, f, "subtype");
    fails_with(r#"{"a":{"$uuid":"73ffd264-44b3-4c69-90e8-e7d1dfc035d"}}"#, f, "Invalid $uuid");
    fails_with(r#"{"a":{"$uuid":"73ffd26444b34c6990e8e7d1dfc035d4"}}"#, f, "Invalid $uuid");
    fails_with(r#"{"a":{"$code":1}}"#, f, "Invalid $code");
    fails_with(r#"{"a":{"$code":"x","$scope":1}}"#, f, "Invalid $scope");
    fails_with(r#"{"a":{"$code":"x","y":1}}"#, f, "Invalid $code");
    fails_with(r#"{"a":{"$timestamp":{"t":-1,"i":0}}}"#, f, "Invalid $timestamp");
    fails_with(r#"{"a":{"$timestamp":{"t":4294967296,"i":0}}}"#, f, "Invalid $timestamp");
    fails_with(r#"{"a":{"$timestamp":{"t":1.0,"i":0}}}"#, f, "Invalid $timestamp");
    fails_with(r#"{"a":{"$timestamp":{"t":1}}}"#, f, "Invalid $timestamp");
    fails_with(r#"{"a":{"$regularExpression":{"pattern":"x","options":"q"}}}"#, f, "options");
    fails_with(r#"{"a":{"$regularExpression":{"pattern":"x\u0000","options":""}}}"#, f, "NUL");
    fails_with(r#"{"a":{"$regularExpression":{"pattern":"x"}}}"#, f, "Invalid $regularExpression");
    fails_with(r#"{"a":{"$regex":"x","$options":"q"}}"#, f, "options");
    fails_with(r#"{"a":{"$dbPointer":{"$ref":"c","$id":"x"}}}"#, f, "Invalid $dbPointer");
    fails_with(r#"{"a":{"$dbPointer":{"$ref":1,"$id":{"$oid":"5f1d3a6a8b9c0d1e2f3a4b5c"}}}}"#, f, "Invalid $dbPointer");
    fails_with(r#"{"a":{"$date":"2012-13-24T12:15:30.501Z"}}"#, f, "Invalid $date");
    fails_with(r#"{"a":{"$date":"2012-12-24"}}"#, f, "Invalid $date");
    fails_with(r#"{"a":{"$date":"yesterday"}}"#, f, "Invalid $date");
    fails_with(r#"{"a":{"$date":1.5}}"#, f, "Invalid $date");
    fails_with(r#"{"a":{"$date":{"$numberLong":"x"}}}"#, f, "Invalid $date");
    fails_with(r#"{"a":{"$date":{"$numberInt":"1"}}}"#, f, "Invalid $date");
    fails_with(r#"{"a":{"$date":99999999999999999999}}"#, f, "Invalid $date");
    fails_with(r#"{"a":{"$minKey":0}}"#, f, "Invalid $minKey");
    fails_with(r#"{"a":{"$maxKey":"1"}}"#, f, "Invalid $maxKey");
    fails_with(r#"{"a":{"$undefined":false}}"#, f, "Invalid $undefined");
    fails_with(r#"{"a":{"$oid":[1]}}"#, f, "array");
    fails_with(r#"{"a":{"$date":{"$numberLong":{"a":{"b":{"c":1}}}}}}"#, f, "nested too deeply");
}

#[test]
fn syntax_errors() {
    let f = ErrorCode::FailedToParse;
    for (text, needle) in [
        ("", "expected '{'"),
        ("   ", "expected '{'"),
        ("[1]", "top level must be a JSON object"),
        ("1", "expected '{'"),
        ("{", "expected a string field name"),
        ("{\"a\"", "expected ':'"),
        ("{\"a\":", "unexpected end of input"),
        ("{\"a\":1", "expected ',' or '}'"),
        ("{\"a\":1,}", "expected a string field name"),
        ("{\"a\":[1,]}", "unexpected ']'"),
        ("{\"a\":[1 2]}", "expected ',' or ']'"),
        ("{a:1}", "expected a string field name"),
        ("{'a':1}", "expected a string field name"),
        ("{\"a\":tru}", "invalid literal"),
        ("{\"a\":nul}", "invalid literal"),
        ("{\"a\":01}", "leading zeros"),
        ("{\"a\":-}", "expected a digit"),
        ("{\"a\":1.}", "after the decimal point"),
        ("{\"a\":1e}", "in the exponent"),
        ("{\"a\":+1}", "unexpected '+'"),
        ("{\"a\":NaN}", "unexpected 'N'"),
        ("{\"a\":\"x}", "unterminated string"),
        ("{\"a\":\"\\x\"}", "invalid escape sequence '\\x'"),
        ("{\"a\":\"\\u12\"}", "expected 4 hex digits"),
        ("{\"a\":\"\\ud800\"}", "lone high surrogate"),
        ("{\"a\":\"\\ud800\\u0041\"}", "not followed by a low surrogate"),
        ("{\"a\":\"\\udc00\"}", "lone low surrogate"),
        ("{\"a\":\"tab\there\"}", "control character"),
        ("{} x", "after the end of the document"),
        ("{}{}", "after the end of the document"),
        ("BSONHEXzz", "Invalid BSONHEX"),
    ] {
        fails_with(text, f, needle);
    }
    let err = fails("{\n  \"a\": 1,\n  \"b\": tru\n}");
    assert!(err.message.contains("line 3, column 8"), "{}", err.message);
    assert!(err.message.contains("byte offset 19"), "{}", err.message);
}

fn nested_objects(levels: usize) -> String {
    format!("{}{{}}{}", "{\"a\":".repeat(levels), "}".repeat(levels))
}

fn nested_arrays(levels: usize, leaf: &str) -> String {
    format!("{{\"a\":{}{leaf}{}}}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn depth_limit() {
    // Top-level document plus 100 nested levels is fine; 101 is not.
    let ok = parse_document(&nested_objects(100)).unwrap();
    assert!(crate::validate_document(ok.as_bytes(), MAX_BSON_SIZE).is_ok());
    let err = fails(&nested_objects(101));
    assert_eq!(err.code, ErrorCode::Overflow);
    assert_eq!(err.message, "BSON nesting depth exceeds the maximum of 100");
    assert!(parse_document(&nested_arrays(100, "1")).is_ok());
    assert_eq!(fails(&nested_arrays(101, "1")).code, ErrorCode::Overflow);
    assert_eq!(fails(&nested_arrays(100, "{}")).code, ErrorCode::Overflow);
    assert_eq!(fails(&nested_arrays(100, "[]")).code, ErrorCode::Overflow);
    // Type wrappers are values, not levels.
    let wrapped = parse_document(&nested_arrays(100, r#"{"$numberInt":"1"}"#)).unwrap();
    assert!(crate::validate_document(wrapped.as_bytes(), MAX_BSON_SIZE).is_ok());
    let legacy = parse_document(&nested_arrays(100, r#"{"$regex":"x","$options":"i"}"#)).unwrap();
    assert!(crate::validate_document(legacy.as_bytes(), MAX_BSON_SIZE).is_ok());
    let legacy = parse_document(&nested_arrays(100, r#"{"$type":"00","$binary":"AQ=="}"#)).unwrap();
    assert!(crate::validate_document(legacy.as_bytes(), MAX_BSON_SIZE).is_ok());
    for not_legacy in [
        r#"{"$regex":"x"}"#,
        r#"{"$regex":"x","$options":1}"#,
        r#"{"$regex":{"$regex":"x"}}"#,
        r#"{"$scope":{},"$code":"x"}"#,
    ] {
        assert_eq!(fails(&nested_arrays(100, not_legacy)).code, ErrorCode::Overflow, "{not_legacy}");
    }
    let chain = format!("{}1{}", r#"{"$regex":"#.repeat(100_000), "}".repeat(100_000));
    assert_eq!(fails(&format!("{{\"a\":{chain}}}")).code, ErrorCode::Overflow);
    // A scope sits where the wrapper is.
    let scope = parse_document(&nested_arrays(99, r#"{"$code":"x","$scope":{}}"#)).unwrap();
    assert!(crate::validate_document(scope.as_bytes(), MAX_BSON_SIZE).is_ok());
    assert!(parse_document(&nested_arrays(100, r#"{"$code":"x","$scope":{}}"#)).is_err());
    // Pathological input errors without exhausting the stack.
    assert_eq!(fails(&"[".repeat(1_000_000)).code, ErrorCode::FailedToParse);
    assert_eq!(fails(&format!("{{\"a\":{}", "[".repeat(1_000_000))).code, ErrorCode::Overflow);
    assert_eq!(fails(&"{\"a\":".repeat(1_000_000)).code, ErrorCode::Overflow);
}

#[test]
fn size_limit() {
    let big = "x".repeat(MAX_BSON_SIZE);
    let err = fails(&format!("{{\"a\":\"{big}\"}}"));
    assert_eq!(err.code, ErrorCode::BSONObjectTooLarge);
    assert!(err.message.contains("exceeds the maximum of 16777216 bytes"), "{}", err.message);
    // Just under the limit is fine: 4 + 1 + 2 + 4 + len + 1 + 1 bytes.
    let fits = "x".repeat(MAX_BSON_SIZE - 13);
    let doc = parse_document(&format!("{{\"a\":\"{fits}\"}}")).unwrap();
    assert_eq!(doc.as_bytes().len(), MAX_BSON_SIZE);
    let many = format!(
        "{{\"a\":[{}]}}",
        vec!["\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\""; 400_000].join(",")
    );
    assert_eq!(fails(&many).code, ErrorCode::BSONObjectTooLarge);
}

#[test]
fn bson_hex() {
    assert_eq!(parse_document("BSONHEX0500000000").unwrap().as_bytes(), b"\x05\0\0\0\0");
    assert_eq!(
        parse_document("  BSONHEX0c0000001061000100000000 \n").unwrap().as_bytes(),
        b"\x0c\0\0\0\x10a\0\x01\0\0\0\0"
    );
    assert_eq!(fails("BSONHEX0600000000").code, ErrorCode::InvalidBSON);
    assert_eq!(fails("BSONHEX0c0000001061000100000001").code, ErrorCode::InvalidBSON);
    assert_eq!(fails("BSONHEX050000000").code, ErrorCode::FailedToParse);
}

#[test]
fn relaxed_output() {
    assert_eq!(
        relaxed(
            r#"{"i":1,"l":{"$numberLong":"5"},"d":1.5,"z":-0.0,"w":2.0,"e":1e300,"n":{"$numberDouble":"NaN"},"p":{"$numberDouble":"Infinity"}}"#
        ),
        r#"{ "i" : 1, "l" : 5, "d" : 1.5, "z" : -0.0, "w" : 2.0, "e" : 1.0E+300, "n" : { "$numberDouble" : "NaN" }, "p" : { "$numberDouble" : "Infinity" } }"#
    );
    assert_eq!(
        relaxed(
            r#"{"d":{"$date":{"$numberLong":"1356351330501"}},"e":{"$date":0},"f":{"$date":-1},"g":{"$date":253402300800000},"h":{"$date":"9999-12-31T23:59:59.999Z"}}"#
        ),
        r#"{ "d" : { "$date" : "2012-12-24T12:15:30.501Z" }, "e" : { "$date" : "1970-01-01T00:00:00Z" }, "f" : { "$date" : { "$numberLong" : "-1" } }, "g" : { "$date" : { "$numberLong" : "253402300800000" } }, "h" : { "$date" : "9999-12-31T23:59:59.999Z" } }"#
    );
    assert_eq!(
        relaxed(
            r#"{"a":[{"$numberInt":"1"},{"$oid":"5f1d3a6a8b9c0d1e2f3a4b5c"},{"$numberDecimal":"1.0"}],"c":{"$code":"x","$scope":{"n":1}}}"#
        ),
        r#"{ "a" : [ 1, { "$oid" : "5f1d3a6a8b9c0d1e2f3a4b5c" }, { "$numberDecimal" : "1.0" } ], "c" : { "$code" : "x", "$scope" : { "n" : 1 } } }"#
    );
    // Relaxed output is valid JSON, and parses back to the same values.
    let text = relaxed(r#"{"a":1,"b":[1.5,"x\u0001",{"c":null}],"t":true,"d":{"$date":5}}"#);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["b"][1], "x\u{1}");
    assert_eq!(relaxed(&text), text);
}

#[test]
fn printing_every_type_from_bytes() {
    // One element of every BSON type, written by hand.
    let mut body = Vec::new();
    let mut add = |t: u8, key: &str, value: &[u8]| {
        body.push(t);
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value);
    };
    add(0x01, "dbl", &1.5f64.to_le_bytes());
    add(0x02, "str", b"\x02\0\0\0x\0");
    add(0x03, "doc", b"\x05\0\0\0\0");
    add(0x04, "arr", b"\x0c\0\0\0\x100\0\x07\0\0\0\0");
    add(0x05, "bin", b"\x02\0\0\0\x80\x01\x02");
    add(0x06, "und", b"");
    add(0x07, "oid", &hex::decode("5f1d3a6a8b9c0d1e2f3a4b5c").unwrap());
    add(0x08, "bool", b"\x01");
    add(0x09, "date", &(-5i64).to_le_bytes());
    add(0x0A, "null", b"");
    add(0x0B, "re", b"a\"\0im\0");
    let mut dbp = b"\x05\0\0\0db.c\0".to_vec();
    dbp.extend_from_slice(&hex::decode("5f1d3a6a8b9c0d1e2f3a4b5c").unwrap());
    add(0x0C, "dbp", &dbp);
    add(0x0D, "code", b"\x02\0\0\0f\0");
    add(0x0E, "sym", b"\x02\0\0\0s\0");
    add(0x0F, "cws", b"\x0f\0\0\0\x02\0\0\0f\0\x05\0\0\0\0");
    add(0x10, "i32", &(-7i32).to_le_bytes());
    add(0x11, "ts", b"\x02\0\0\0\x01\0\0\0");
    add(0x12, "i64", &(1i64 << 40).to_le_bytes());
    add(0x13, "dec", &"1.0".parse::<bson::Decimal128>().unwrap().bytes());
    add(0xFF, "min", b"");
    add(0x7F, "max", b"");
    let doc = doc_from_body(&body);
    crate::validate_document(doc.as_bytes(), MAX_BSON_SIZE).unwrap();
    let expected = concat!(
        r#"{ "dbl" : { "$numberDouble" : "1.5" }, "str" : "x", "doc" : { }, "arr" : [ { "$numberInt" : "7" } ], "#,
        r#""bin" : { "$binary" : { "base64" : "AQI=", "subType" : "80" } }, "und" : { "$undefined" : true }, "#,
        r#""oid" : { "$oid" : "5f1d3a6a8b9c0d1e2f3a4b5c" }, "bool" : true, "#,
        r#""date" : { "$date" : { "$numberLong" : "-5" } }, "null" : null, "#,
        r#""re" : { "$regularExpression" : { "pattern" : "a\"", "options" : "im" } }, "#,
        r#""dbp" : { "$dbPointer" : { "$ref" : "db.c", "$id" : { "$oid" : "5f1d3a6a8b9c0d1e2f3a4b5c" } } }, "#,
        r#""code" : { "$code" : "f" }, "sym" : { "$symbol" : "s" }, "#,
        r#""cws" : { "$code" : "f", "$scope" : { } }, "i32" : { "$numberInt" : "-7" }, "#,
        r#""ts" : { "$timestamp" : { "t" : 1, "i" : 2 } }, "i64" : { "$numberLong" : "1099511627776" }, "#,
        r#""dec" : { "$numberDecimal" : "1.0" }, "min" : { "$minKey" : 1 }, "max" : { "$maxKey" : 1 } }"#
    );
    let text = to_canonical_string(&doc);
    assert_eq!(text, expected);
    assert_eq!(parse_document(&text).unwrap().as_bytes(), doc.as_bytes());

    // The value printers agree with the document printer, element by element.
    let mut pieces = Vec::new();
    for element in doc.iter() {
        let (key, value) = element.unwrap();
        let mut s = String::new();
        write_canonical_value(value, &mut s);
        pieces.push(format!("\"{key}\" : {s}"));
    }
    assert_eq!(format!("{{ {} }}", pieces.join(", ")), expected);
    let mut relaxed_pieces = Vec::new();
    for element in doc.iter() {
        let (key, value) = element.unwrap();
        let mut s = String::new();
        write_relaxed_value(value, &mut s);
        relaxed_pieces.push(format!("\"{key}\" : {s}"));
    }
    assert_eq!(format!("{{ {} }}", relaxed_pieces.join(", ")), to_relaxed_string(&doc));
}

#[test]
fn value_printer_edge_cases() {
    let mut s = String::new();
    write_canonical_value(RawBsonRef::Double(f64::NAN), &mut s);
    assert_eq!(s, r#"{ "$numberDouble" : "NaN" }"#);
    s.clear();
    write_canonical_value(RawBsonRef::Double(-f64::INFINITY), &mut s);
    assert_eq!(s, r#"{ "$numberDouble" : "-Infinity" }"#);
    s.clear();
    write_relaxed_value(RawBsonRef::Double(f64::INFINITY), &mut s);
    assert_eq!(s, r#"{ "$numberDouble" : "Infinity" }"#);
    s.clear();
    write_canonical_value(RawBsonRef::String("\u{0}\u{1f}\"\\"), &mut s);
    assert_eq!(s, r#""\u0000\u001f\"\\""#);
    s.clear();
    let empty = RawDocument::from_bytes(b"\x05\0\0\0\0").unwrap();
    write_canonical_value(RawBsonRef::Document(empty), &mut s);
    assert_eq!(s, "{ }");
    s.clear();
    // bson's RawBsonRef for old binary already holds the bare payload.
    let doc = parse_document(r#"{"b":{"$binary":{"base64":"//8=","subType":"02"}}}"#).unwrap();
    write_canonical_value(doc.get("b").unwrap().unwrap(), &mut s);
    assert_eq!(s, r#"{ "$binary" : { "base64" : "//8=", "subType" : "02" } }"#);
}

#[test]
fn printers_survive_malformed_bytes() {
    // Truncated string length: visible marker, still valid JSON.
    let bad = doc_from_body(b"\x10a\0\x01\0\0\0\x02s\0\x50\0\0\0x\0");
    let text = to_canonical_string(&bad);
    assert_eq!(text, r#"{ "a" : { "$numberInt" : "1" }, "<invalid bson>" : null }"#);
    serde_json::from_str::<serde_json::Value>(&text).unwrap();
    let nested = doc_from_body(b"\x04a\0\x0d\0\0\0\x100\0\x01\0\0\0\x20\0");
    let text = to_canonical_string(&nested);
    assert_eq!(text, r#"{ "a" : [ { "$numberInt" : "1" }, "<invalid bson>" ] }"#);
    let bad_doc = doc_from_body(b"\x03a\0\x03\0\0\0");
    assert_eq!(to_relaxed_string(&bad_doc), r#"{ "a" : "<invalid bson>" }"#);
    // Every truncation / corruption of a valid document prints without panicking.
    let good = bytes_of(
        r#"{"a":[1,{"b":"x","c":{"$code":"f","$scope":{"d":{"$binary":{"base64":"//8=","subType":"02"}}}}}],"e":{"$dbPointer":{"$ref":"n","$id":{"$oid":"5f1d3a6a8b9c0d1e2f3a4b5c"}}}}"#,
    );
    for i in 4..good.len() {
        for v in [0u8, 1, 0x7f, 0xff, 0x13] {
            let mut m = good.clone();
            m[i] = v;
            if let Ok(doc) = RawDocument::from_bytes(&m) {
                let _ = to_canonical_string(doc);
                let _ = to_relaxed_string(doc);
            }
        }
    }
}

#[test]
fn double_format_examples() {
    let cases: &[(f64, &str)] = &[
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (100.0, "100.0"),
        (0.1, "0.1"),
        (1e-5, "0.00001"),
        (9.99e-6, "9.99E-6"),
        (123456789012345.0, "123456789012345.0"),
        (123456789012345.6, "123456789012345.6"),
        (1e15, "1.0E+15"),
        (1.2345678921232e18, "1.2345678921232E+18"),
        (f64::MAX, "1.7976931348623157E+308"),
        (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
        (5e-324, "5.0E-324"),
        (-1e-7, "-1.0E-7"),
    ];
    for (d, expected) in cases {
        let mut s = String::new();
        print::write_double(*d, &mut s);
        assert_eq!(&s, expected);
        assert_eq!(s.parse::<f64>().unwrap().to_bits(), d.to_bits());
    }
}
