#![no_main]
//! validate_document on arbitrary bytes; valid documents must print and round-trip.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    documentdb_fuzz::check_bytes(data);
});
