#![no_main]
//! parse_document on arbitrary UTF-8; accepted documents must validate and round-trip.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        documentdb_fuzz::check_text(text);
    }
});
