//! Extension `documentdb_core`: the `bson`, `bsonquery` and `bsonsequence` types, MongoDB's
//! comparison order as operators with btree and hash opclasses, dotted-path access, and
//! conversions. The logic lives in the `documentdb_bson` crate; this crate is thin glue.

// pgrx glue: the bson types' I/O and the SQL-value conversions use PostgreSQL's C API.
#![allow(unsafe_code)]

mod access;
mod compare;
mod construct;
mod io;
mod pg_value;

::pgrx::pg_module_magic!(name, version);

/// Module load: the recursive BSON code checks PostgreSQL's stack depth from now on.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    documentdb_pgbson::install_stack_guard();
}

/// Hand-written SQL. (Not `bootstrap`: a bootstrap block becomes a graph neighbour of every
/// schema, and pgrx would then schema-qualify our types as `tests.documentdb_core.bson` in
/// test builds. The `creates` list orders it before every user of the types.)
mod sql {
    use pgrx::prelude::*;

    // The types themselves: shell types, their I/O functions (declared `sql = false` in
    // `io.rs` and created here by hand) and the full CREATE TYPE statements. Everything else
    // that mentions the types is ordered after this block by the `creates` list.
    extension_sql_file!(
        "../../sql/documentdb_core_types.sql",
        name = "documentdb_core_types",
        creates =
            [Type(documentdb_pgbson::Bson), Type(documentdb_pgbson::BsonQuery), Type(documentdb_pgbson::BsonSequence)]
    );

    // Operators, opclasses, casts and aggregates over the functions pgrx generates.
    extension_sql_file!("../../sql/documentdb_core_operators.sql", name = "documentdb_core_operators", finalize);
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    include!("tests.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["search_path = '\"$user\", public, documentdb_core'"]
    }
}
