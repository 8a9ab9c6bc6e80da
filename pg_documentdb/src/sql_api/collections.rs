//! Collection and database management: `create`, `drop`, `dropDatabase`,
//! `renameCollection`, `collMod`, `listDatabases`, `collStats`, `dbStats`, and the
//! collection lookups behind `documentdb_api.collection()` and the catalog trigger.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef};
use pgrx::prelude::*;

use crate::commands::collection;
use crate::spi::with_spi;

#[pg_extern(sql = false)]
fn create_collection(p_database_name: &str, p_collection_name: &str) -> bool {
    docdb_guard(|| with_spi(|| collection::create_collection(p_database_name, p_collection_name)))
}

#[pg_extern(sql = false)]
fn create_collection_view(dbname: &str, createspec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| collection::create(dbname, createspec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn drop_collection(
    p_database_name: &str,
    p_collection_name: &str,
    _p_write_concern: Option<BsonRef<'_>>,
    _p_collection_uuid: Option<pgrx::Uuid>,
    _p_track_changes: Option<bool>,
) -> bool {
    docdb_guard(|| with_spi(|| collection::drop_collection(p_database_name, p_collection_name)))
}

#[pg_extern(sql = false)]
fn drop_database(p_database_name: &str, _p_write_concern: Option<BsonRef<'_>>) {
    docdb_guard(|| with_spi(|| collection::drop_database(p_database_name)))
}

#[pg_extern(sql = false)]
fn rename_collection(p_database_name: &str, p_collection_name: &str, p_target_name: &str, p_drop_target: bool) {
    docdb_guard(|| {
        with_spi(|| collection::rename_collection(p_database_name, p_collection_name, p_target_name, p_drop_target))
    })
}

#[pg_extern(sql = false)]
fn coll_mod(p_database_name: &str, p_collection_name: &str, p_spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| {
        with_spi(|| collection::coll_mod(p_database_name, p_collection_name, p_spec.document())).map(Bson::from)
    })
}

#[pg_extern(sql = false)]
fn list_databases(p_list_databases_spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| collection::list_databases(p_list_databases_spec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn coll_stats(p_database_name: &str, p_collection_name: &str, p_scale: f64) -> Bson {
    docdb_guard(|| with_spi(|| collection::coll_stats(p_database_name, p_collection_name, p_scale)).map(Bson::from))
}

#[pg_extern(sql = false)]
fn db_stats(p_database_name: &str, p_scale: f64, _p_freestorage: bool) -> Bson {
    docdb_guard(|| with_spi(|| collection::db_stats(p_database_name, p_scale)).map(Bson::from))
}

/// The table behind `documentdb_api.collection(db, coll)`, for the SQL wrapper.
#[pg_extern(sql = false)]
fn collection_table(p_database_name: &str, p_collection_name: &str) -> Option<String> {
    docdb_guard(|| {
        with_spi(|| {
            Ok(crate::catalog::lookup(p_database_name, p_collection_name)?.filter(|c| !c.is_view()).map(|c| c.table()))
        })
    })
}

/// Called by the catalog table's trigger: every backend drops its cached lookups.
#[pg_extern(sql = false)]
fn invalidate_collection_cache(relid: pg_sys::Oid) {
    crate::catalog::cache::invalidate_everywhere(relid);
}
