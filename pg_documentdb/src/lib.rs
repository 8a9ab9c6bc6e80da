//! Extension `documentdb`: the MongoDB command surface (`documentdb_api`), its catalog
//! (`documentdb_api_catalog`) and one table per collection (`documentdb_data`).

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../../sql/documentdb_schemas.sql", name = "documentdb_schemas", bootstrap);

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
    use pgrx::prelude::*;

    #[pg_test]
    fn binary_version_is_the_crate_version() {
        let v = Spi::get_one::<String>("SELECT documentdb_api.binary_version()").unwrap();
        assert_eq!(v.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    }
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
