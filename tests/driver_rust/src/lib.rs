//! End-to-end tests of the MongoDB wire gateway with the official Rust `mongodb` driver.
//!
//! The tests live in `tests/flows.rs`; they read the gateway URI from `MONGODB_URI` and fail
//! when it is unset or unreachable. Run: `MONGODB_URI="$(cat data/mongodb.uri)" cargo test -p
//! driver_rust_tests`.
