//! Extension `documentdb`: the MongoDB command surface (`documentdb_api`), its catalog
//! (`documentdb_api_catalog`) and one table per collection (`documentdb_data`).

use pgrx::prelude::*;

mod aggregates;
mod api;
mod catalog;
mod catalog_cache;
mod commands;
mod functions;
mod gucs;
mod record;
mod spi;
mod subxact;
mod users;

::pgrx::pg_module_magic!(name, version);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    documentdb_pgbson::install_stack_guard();
    gucs::define();
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
    // Declarations of the command functions (OUT parameters and defaults as in API_SURFACE.md)
    // and of the aggregates; emitted after everything pgrx generates.
    extension_sql_file!("../../sql/documentdb_api.sql", name = "documentdb_api", finalize);
}

#[pg_schema]
mod documentdb_api {
    use pgrx::prelude::*;

    /// The extension's version.
    #[pg_extern(immutable, parallel_safe)]
    fn binary_version() -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    /// Version with build details.
    #[pg_extern(immutable, parallel_safe)]
    fn binary_extended_version() -> String {
        format!("documentdb-rs {} (MongoDB wire version 21, compatible with 7.0)", env!("CARGO_PKG_VERSION"))
    }
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
