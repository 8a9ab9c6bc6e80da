//! Writes and the single-result reads: `insert`, `insert_one`, `update`, `delete`,
//! `find_and_modify`, `count_query`, `distinct_query`.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef, BsonSequenceRef};
use pgrx::prelude::*;

use crate::commands::write_result::WriteResult;
use crate::commands::{find, insert, update_delete};
use crate::record::{Column, Record};
use crate::spi::with_spi;

/// `(p_result bson, p_success bool)`.
fn write_record(fcinfo: pg_sys::FunctionCallInfo, result: WriteResult) -> Record {
    let success = result.success();
    Record::build(fcinfo, vec![Column::Bson(result.to_reply().into_bytes()), Column::Bool(success)])
}

#[pg_extern(sql = false)]
fn insert(
    p_database_name: &str,
    p_insert: BsonRef<'_>,
    p_insert_documents: Option<BsonSequenceRef<'_>>,
    _p_transaction_id: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let result = docdb_guard(|| with_spi(|| insert::insert(p_database_name, p_insert.document(), p_insert_documents)));
    write_record(fcinfo, result)
}

#[pg_extern(sql = false)]
fn insert_one(
    p_database_name: &str,
    p_collection_name: &str,
    p_document: BsonRef<'_>,
    _p_transaction_id: Option<&str>,
) -> Bson {
    docdb_guard(|| {
        let spec = bson::rawdoc! { "insert": p_collection_name, "documents": [p_document.document().to_owned()] };
        with_spi(|| insert::insert(p_database_name, &spec, None)).map(|r| Bson::from(r.to_reply()))
    })
}

#[pg_extern(sql = false)]
fn update(
    p_database_name: &str,
    p_update: BsonRef<'_>,
    p_insert_documents: Option<BsonSequenceRef<'_>>,
    _p_transaction_id: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let result =
        docdb_guard(|| with_spi(|| update_delete::update(p_database_name, p_update.document(), p_insert_documents)));
    write_record(fcinfo, result)
}

#[pg_extern(sql = false)]
fn delete(
    p_database_name: &str,
    p_delete: BsonRef<'_>,
    p_insert_documents: Option<BsonSequenceRef<'_>>,
    _p_transaction_id: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let result =
        docdb_guard(|| with_spi(|| update_delete::delete(p_database_name, p_delete.document(), p_insert_documents)));
    write_record(fcinfo, result)
}

#[pg_extern(sql = false)]
fn find_and_modify(
    p_database_name: &str,
    p_message: BsonRef<'_>,
    _p_transaction_id: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let reply = docdb_guard(|| with_spi(|| update_delete::find_and_modify(p_database_name, p_message.document())));
    Record::build(fcinfo, vec![Column::Bson(reply.into_bytes()), Column::Bool(true)])
}

#[pg_extern(sql = false)]
fn count_query(database: &str, countspec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| find::count(database, countspec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn distinct_query(database: &str, distinctspec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| find::distinct(database, distinctspec.document())).map(Bson::from))
}
