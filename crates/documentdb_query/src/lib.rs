//! MongoDB's query language as pure Rust over borrowed BSON: filters (`find`'s query),
//! projection, update operators, sort keys, aggregation expressions and accumulators,
//! and `$jsonSchema`. No PostgreSQL here; the `documentdb` extension calls into it.
//!
//! Module ownership and the API each module offers to the others are fixed in the stub
//! signatures; extend them, don't change them without updating every caller.

pub mod accumulators;
pub mod distinct;
pub mod expr;
pub mod filter;
pub mod projection;
pub mod schema;
pub mod sort;
pub mod unwind;
pub mod update;

/// An evaluated value; `None` where MongoDB distinguishes "missing" from `null`.
pub type Value = Option<bson::Bson>;

pub mod arith;
pub mod document;
