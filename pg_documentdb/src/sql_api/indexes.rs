//! `createIndexes` and `dropIndexes`.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef};
use pgrx::prelude::*;

use crate::commands::indexes;
use crate::record::{Column, Record};
use crate::spi::with_spi;

/// `createIndexes`. Indexes are built synchronously, so `requests` is always NULL and the
/// gateway never needs to poll `check_build_index_status`.
#[pg_extern(sql = false)]
fn create_indexes_background(
    p_database_name: &str,
    p_index_spec: BsonRef<'_>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let reply = docdb_guard(|| with_spi(|| indexes::create_indexes(p_database_name, p_index_spec.document())));
    Record::build(fcinfo, vec![Column::Bson(reply.into_bytes()), Column::Bool(true), Column::Null])
}

/// `dropIndexes` (the body of the `drop_indexes` procedure).
#[pg_extern(sql = false)]
fn drop_indexes_internal(p_database_name: &str, p_arg: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| indexes::drop_indexes(p_database_name, p_arg.document())).map(Bson::from))
}
