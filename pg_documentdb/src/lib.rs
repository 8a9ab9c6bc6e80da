//! Extension `documentdb`: the MongoDB command surface (`documentdb_api`), its catalog
//! (`documentdb_api_catalog`) and one table per collection (`documentdb_data`).

// pgrx glue: SPI, fcinfo and memory contexts are PostgreSQL's C API (see spi.rs, record.rs).
#![allow(unsafe_code)]

use pgrx::prelude::*;

mod authz;
mod call_cache;
mod catalog;
mod commands;
mod gin_range;
mod gucs;
mod index_policy;
mod record;
mod spi;
mod sql_api;
mod sql_names;
mod subxact;
mod ttl_worker;

::pgrx::pg_module_magic!(name, version);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    documentdb_pgbson::install_stack_guard();
    gucs::define();
    index_policy::install();
    ttl_worker::register();
}

/// Hand-written SQL, in a submodule so pgrx doesn't attach it to a crate-root schema.
mod sql {
    use pgrx::prelude::*;

    extension_sql_file!("../../sql/documentdb_schemas.sql", name = "documentdb_schemas", bootstrap);
    extension_sql_file!(
        "../../sql/documentdb_catalog.sql",
        name = "documentdb_catalog",
        requires = ["documentdb_schemas"]
    );
    // Declarations of every Rust entry point (src/sql_api): the internal per-row functions,
    // then the public commands (OUT parameters and defaults as in DocumentDB's API); the
    // last is emitted after everything pgrx generates.
    extension_sql_file!(
        "../../sql/documentdb_api_internal.sql",
        name = "documentdb_api_internal",
        requires = ["documentdb_catalog"]
    );
    extension_sql_file!("../../sql/documentdb_api.sql", name = "documentdb_api", finalize);
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    include!("tests.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
