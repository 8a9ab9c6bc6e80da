//! Checks shared by the fuzz targets.
pub mod command_gen;

use documentdb_bson::bson::{Decimal128, RawBsonRef, RawDocument};
use documentdb_bson::extjson::{parse_document, to_canonical_string, to_relaxed_string};
use documentdb_bson::{validate_document, MAX_BSON_SIZE};

/// Whether canonical Extended JSON is expected to reproduce `doc` byte for byte. It is
/// not for bytes that have several encodings of one printed value (NaN payloads,
/// non-canonical decimal128, unsorted or unknown regex flags, array keys other than
/// "0", "1", ...) or whose nested documents start with a `$` key (they read back as type
/// wrappers).
pub fn canonical_round_trip_expected(doc: &RawDocument) -> bool {
    document_ok(doc, false)
}

fn document_ok(doc: &RawDocument, nested: bool) -> bool {
    for (i, element) in doc.iter().enumerate() {
        let Ok((key, value)) = element else {
            return false;
        };
        if i == 0 && nested && key.as_str().starts_with('$') {
            return false;
        }
        if !value_ok(value) {
            return false;
        }
    }
    true
}

fn value_ok(value: RawBsonRef<'_>) -> bool {
    match value {
        RawBsonRef::Double(d) => !d.is_nan() || d.to_bits() == f64::NAN.to_bits(),
        RawBsonRef::Decimal128(d) => d
            .to_string()
            .parse::<Decimal128>()
            .is_ok_and(|back| back == d),
        RawBsonRef::RegularExpression(re) => {
            let options = re.options.as_str().as_bytes();
            options.iter().all(|b| b"ilmsux".contains(b))
                && options.windows(2).all(|w| w[0] <= w[1])
        }
        RawBsonRef::Document(d) => document_ok(d, true),
        RawBsonRef::JavaScriptCodeWithScope(c) => document_ok(c.scope, false),
        RawBsonRef::Array(a) => {
            let Ok(doc) = RawDocument::from_bytes(a.as_bytes()) else {
                return false;
            };
            for (i, element) in doc.iter().enumerate() {
                let Ok((key, value)) = element else {
                    return false;
                };
                if key.as_str() != i.to_string() || !value_ok(value) {
                    return false;
                }
            }
            true
        }
        _ => true,
    }
}

/// Arbitrary bytes: validation never panics; a valid document prints in both forms, the
/// canonical text re-parses to identical bytes (when expected to) and every text the
/// parser accepts again validates.
pub fn check_bytes(data: &[u8]) {
    let Ok(doc) = validate_document(data, MAX_BSON_SIZE) else {
        return;
    };
    check_document(doc, canonical_round_trip_expected(doc));
}

/// Arbitrary text: parsing never panics; an accepted document validates, prints
/// canonically, and re-parses to identical bytes (always for JSON input: the parser only
/// produces canonical encodings; for `BSONHEX` input as for raw bytes).
pub fn check_text(text: &str) {
    let Ok(doc) = parse_document(text) else {
        return;
    };
    if let Err(e) = validate_document(doc.as_bytes(), MAX_BSON_SIZE) {
        panic!("parser output does not validate: {e:?}\ninput: {text:?}");
    }
    let strict = !text.trim_start().starts_with("BSONHEX") || canonical_round_trip_expected(&doc);
    check_document(&doc, strict);
}

fn check_document(doc: &RawDocument, strict: bool) {
    let canonical = to_canonical_string(doc);
    let relaxed = to_relaxed_string(doc);
    if strict {
        match parse_document(&canonical) {
            Ok(again) => assert!(
                again.as_bytes() == doc.as_bytes(),
                "canonical round trip changed the bytes\ntext:  {canonical}\nagain: {}",
                to_canonical_string(&again)
            ),
            Err(e) => panic!("canonical text does not parse: {e:?}\ntext: {canonical}"),
        }
        match parse_document(&relaxed) {
            Ok(again) => assert_eq!(
                to_relaxed_string(&again),
                relaxed,
                "relaxed text is not a fixpoint"
            ),
            Err(e) => panic!("relaxed text does not parse: {e:?}\ntext: {relaxed}"),
        }
    }
    for text in [&canonical, &relaxed] {
        if let Ok(again) = parse_document(text) {
            assert!(
                validate_document(again.as_bytes(), MAX_BSON_SIZE).is_ok(),
                "{text}"
            );
        }
    }
}
