//! Property tests: random documents of every BSON type validate, print, and parse back.
mod common;

use bson::{RawBsonRef, RawDocument};
use documentdb_bson::extjson::{parse_document, to_canonical_string, to_relaxed_string};
use documentdb_bson::{validate_document, MAX_BSON_SIZE};
use proptest::prelude::*;

/// Value equality for relaxed round trips: relaxed Extended JSON prints int64 as a plain
/// number, which reads back as int32 when it fits; doubles compare by bit pattern.
fn relaxed_equal(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> bool {
    match (a, b) {
        (RawBsonRef::Int64(x), RawBsonRef::Int32(y)) => x == i64::from(y),
        (RawBsonRef::Double(x), RawBsonRef::Double(y)) => x.to_bits() == y.to_bits(),
        (RawBsonRef::Document(x), RawBsonRef::Document(y)) => documents_equal(x, y),
        (RawBsonRef::Array(x), RawBsonRef::Array(y)) => {
            let xs: Vec<_> = x.into_iter().collect();
            let ys: Vec<_> = y.into_iter().collect();
            xs.len() == ys.len()
                && xs.into_iter().zip(ys).all(|(p, q)| match (p, q) {
                    (Ok(p), Ok(q)) => relaxed_equal(p, q),
                    _ => false,
                })
        }
        (RawBsonRef::JavaScriptCodeWithScope(x), RawBsonRef::JavaScriptCodeWithScope(y)) => {
            x.code == y.code && documents_equal(x.scope, y.scope)
        }
        (x, y) => x == y,
    }
}

fn documents_equal(a: &RawDocument, b: &RawDocument) -> bool {
    let xs: Vec<_> = a.iter().collect();
    let ys: Vec<_> = b.iter().collect();
    xs.len() == ys.len()
        && xs.into_iter().zip(ys).all(|(p, q)| match (p, q) {
            (Ok((kp, vp)), Ok((kq, vq))) => kp == kq && relaxed_equal(vp, vq),
            _ => false,
        })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn canonical_round_trip_is_byte_identical(doc in common::arb_document()) {
        let bytes = doc.as_bytes();
        let validated = validate_document(bytes, MAX_BSON_SIZE);
        prop_assert!(validated.is_ok(), "{:?}", validated.err());
        let text = to_canonical_string(&doc);
        let parsed = parse_document(&text);
        prop_assert!(parsed.is_ok(), "{text}: {:?}", parsed.err());
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.as_bytes(), bytes, "{}", text);
        // The canonical text is valid JSON.
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "{}", text);
    }

    #[test]
    fn relaxed_round_trip_preserves_values(doc in common::arb_document()) {
        let text = to_relaxed_string(&doc);
        prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok(), "not JSON: {}", text);
        let parsed = parse_document(&text);
        prop_assert!(parsed.is_ok(), "{text}: {:?}", parsed.err());
        let parsed = parsed.unwrap();
        prop_assert!(documents_equal(&doc, &parsed), "{}\n{}", text, to_canonical_string(&parsed));
        // Relaxed printing is a fixpoint after one round.
        prop_assert_eq!(to_relaxed_string(&parsed), text);
    }

    #[test]
    fn value_printers_match_document_printer(value in common::arb_value()) {
        let mut doc = bson::RawDocumentBuf::new();
        doc.append(bson::raw::cstr!("v"), value.clone());
        let mut canonical = String::new();
        documentdb_bson::extjson::write_canonical_value(value.as_raw_bson_ref(), &mut canonical);
        prop_assert_eq!(format!("{{ \"v\" : {canonical} }}"), to_canonical_string(&doc));
        let mut relaxed = String::new();
        documentdb_bson::extjson::write_relaxed_value(value.as_raw_bson_ref(), &mut relaxed);
        prop_assert_eq!(format!("{{ \"v\" : {relaxed} }}"), to_relaxed_string(&doc));
    }
}

proptest! {
    #![proptest_config(config(3000))]

    /// Random corruptions of valid documents never panic the validator or the printers;
    /// whatever validates also prints and re-parses without panicking, and whatever the
    /// parser accepts validates.
    #[test]
    fn mutations_never_panic(
        doc in common::arb_document(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let mut bytes = doc.as_bytes().to_vec();
        for (index, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = index.index(bytes.len());
            match kind {
                0 => bytes[at] = byte,
                1 => bytes[at] ^= 1 << (byte % 8),
                2 => { bytes.truncate(at); }
                _ => { bytes.insert(at, byte); }
            }
        }
        // Sometimes keep the length prefix consistent so the walk goes deeper.
        if bytes.len() >= 5 && bytes[0] % 2 == 0 {
            let len = (bytes.len() as i32).to_le_bytes();
            bytes[..4].copy_from_slice(&len);
        }
        if let Ok(doc) = RawDocument::from_bytes(&bytes) {
            let _ = to_canonical_string(doc);
            let _ = to_relaxed_string(doc);
        }
        if let Ok(valid) = validate_document(&bytes, MAX_BSON_SIZE) {
            let text = to_canonical_string(valid);
            if let Ok(reparsed) = parse_document(&text) {
                prop_assert!(validate_document(reparsed.as_bytes(), MAX_BSON_SIZE).is_ok());
            }
            let relaxed = to_relaxed_string(valid);
            prop_assert!(serde_json::from_str::<serde_json::Value>(&relaxed).is_ok(), "{}", relaxed);
        }
    }

    /// Arbitrary text never panics the parser, and anything it accepts is valid BSON.
    #[test]
    fn parser_never_panics_on_text(text in "[{}\\[\\]\":,0-9a-z$ .eE+\\-\\\\u]{0,64}") {
        if let Ok(doc) = parse_document(&text) {
            prop_assert!(validate_document(doc.as_bytes(), MAX_BSON_SIZE).is_ok());
        }
    }

    /// Canonical text of generated documents, with one character deleted or replaced,
    /// either fails to parse or parses into valid BSON.
    #[test]
    fn corrupted_text_never_panics(doc in common::arb_document(), at in any::<prop::sample::Index>(), c in any::<char>()) {
        let text = to_canonical_string(&doc);
        let mut chars: Vec<char> = text.chars().collect();
        let i = at.index(chars.len());
        if c.is_ascii_digit() { chars.remove(i); } else { chars[i] = c; }
        let corrupted: String = chars.into_iter().collect();
        if let Ok(parsed) = parse_document(&corrupted) {
            prop_assert!(validate_document(parsed.as_bytes(), MAX_BSON_SIZE).is_ok());
        }
    }
}
