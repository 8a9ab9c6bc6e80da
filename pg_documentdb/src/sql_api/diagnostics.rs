//! `explain` and the extension's version.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef};
use pgrx::prelude::*;

use crate::spi::with_spi;

/// `explain`: the MongoDB-shaped explain of a find/aggregate/count/distinct.
#[pg_extern(sql = false)]
fn explain(database: &str, spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| crate::commands::explain::explain(database, spec.document())).map(Bson::from))
}

/// The extension's version.
#[pg_extern(sql = false)]
fn binary_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Version with build details.
#[pg_extern(sql = false)]
fn binary_extended_version() -> String {
    format!("documentdb-rs {} (MongoDB wire version 21, compatible with 7.0)", env!("CARGO_PKG_VERSION"))
}
