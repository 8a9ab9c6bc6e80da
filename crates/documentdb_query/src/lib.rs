//! MongoDB's query language as pure Rust over borrowed BSON: filters (`find`'s query),
//! projection, update operators, sort keys, aggregation expressions and accumulators,
//! and `$jsonSchema`. No PostgreSQL here; the `documentdb` extension calls into it.
//!
//! Layering, with no import cycles between modules (`scripts/module_cycles.py`): `filter`
//! (with `$jsonSchema`) uses `expr` for `$expr`; `expr` (with the accumulators its
//! expression forms share with `$group`) uses `arith`, `value_bounds` and
//! `documentdb_bson`; `projection`, `update`, `sort` and `unwind` build on them.

// A pure crate: no PostgreSQL, no unsafe.
#![forbid(unsafe_code)]

pub mod bucket;
pub mod bucket_auto;
pub mod densify;
pub mod distinct;
pub mod expr;
pub mod fill;
pub use expr::accumulators;
pub mod filter;
pub mod graph_lookup;
pub mod index_bounds;
pub mod lookup;
pub mod merge;
pub mod partial_index;
pub mod text_index;
pub mod text_search;
pub mod wildcard_index;
/// `$jsonSchema` (its home is `filter::json_schema`; this path is the one callers use).
pub use filter::json_schema as schema;
pub mod projection;
pub mod redact;
pub mod sort;
pub(crate) mod spec_error;
pub mod unwind;
pub mod update;
pub mod window;

/// An evaluated value; `None` where MongoDB distinguishes "missing" from `null`.
pub type Value = Option<bson::Bson>;

pub mod arith;
pub mod document;
pub(crate) mod value_bounds;
