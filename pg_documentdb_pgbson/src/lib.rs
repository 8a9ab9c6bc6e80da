//! pgrx glue shared by `documentdb_core` and `documentdb`.
//!
//! This crate must never define SQL entities (`#[pg_extern]`, `extension_sql!`): whatever
//! SQL-generating code is linked into an extension ends up in that extension's script.
//! The `bson` family of types is *declared* by `documentdb_core`; here they are only
//! described to pgrx as external SQL types named `documentdb_core.<type>`.

// pgrx glue: datum conversion and raising errors go through PostgreSQL's C API.
#![allow(unsafe_code)]

pub mod datum;
pub mod error;
pub mod stack;

pub use datum::{Bson, BsonQuery, BsonQueryRef, BsonRef, BsonSequence, BsonSequenceRef};
pub use error::{docdb_guard, ok_or_throw, throw};
pub use stack::install_stack_guard;
