//! `documentdb_api`: the public command functions. Each is a thin wrapper: read the
//! arguments, run the command (which returns `DocDbResult`), raise MongoDB errors with
//! their codes. Their SQL declarations (OUT parameters, defaults) are in
//! `sql/documentdb_api.sql`, written to match API_SURFACE.md exactly.

use documentdb_pgbson::{docdb_guard, Bson, BsonRef, BsonSequenceRef};
use pgrx::prelude::*;

use crate::commands::{aggregate, collection, cursor, find, insert, update_delete};
use crate::record::{Column, Record};
use crate::spi::with_spi;

fn write_record(fcinfo: pg_sys::FunctionCallInfo, result: crate::commands::write_result::WriteResult) -> Record {
    let success = result.success();
    Record::build(fcinfo, vec![Column::Bson(result.to_reply().into_bytes()), Column::Bool(success)])
}

fn page_record(fcinfo: pg_sys::FunctionCallInfo, page: cursor::FirstPage) -> Record {
    Record::build(
        fcinfo,
        vec![
            Column::Bson(page.reply.into_bytes()),
            page.continuation.map_or(Column::Null, |c| Column::Bson(c.into_bytes())),
            Column::Bool(page.persist_connection),
            Column::Int8(page.cursor_id),
        ],
    )
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
fn find_cursor_first_page(
    database: &str,
    commandspec: BsonRef<'_>,
    cursorid: i64,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let page = docdb_guard(|| with_spi(|| find::find_first_page(database, commandspec.document(), cursorid)));
    page_record(fcinfo, page)
}

#[pg_extern(sql = false)]
fn aggregate_cursor_first_page(
    database: &str,
    commandspec: BsonRef<'_>,
    cursorid: i64,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let page = docdb_guard(|| with_spi(|| aggregate::aggregate_first_page(database, commandspec.document(), cursorid)));
    page_record(fcinfo, page)
}

#[pg_extern(sql = false)]
fn list_collections_cursor_first_page(
    database: &str,
    commandspec: BsonRef<'_>,
    cursorid: i64,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let page = docdb_guard(|| with_spi(|| collection::list_collections(database, commandspec.document(), cursorid)));
    page_record(fcinfo, page)
}

#[pg_extern(sql = false)]
fn list_indexes_cursor_first_page(
    database: &str,
    commandspec: BsonRef<'_>,
    cursorid: i64,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let page = docdb_guard(|| with_spi(|| collection::list_indexes(database, commandspec.document(), cursorid)));
    page_record(fcinfo, page)
}

#[pg_extern(sql = false)]
fn cursor_get_more(
    _database: &str,
    getmorespec: BsonRef<'_>,
    continuationspec: Option<BsonRef<'_>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let (reply, continuation) = docdb_guard(|| {
        with_spi(|| {
            let Some(continuation) = continuationspec else {
                let id = getmorespec.document().get_i64("getMore").unwrap_or_default();
                documentdb_errors::bail!(CursorNotFound, "cursor id {id} not found");
            };
            cursor::get_more(getmorespec.document(), continuation.document())
        })
    });
    Record::build(
        fcinfo,
        vec![Column::Bson(reply.into_bytes()), continuation.map_or(Column::Null, |c| Column::Bson(c.into_bytes()))],
    )
}

#[pg_extern(sql = false)]
fn count_query(database: &str, countspec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| find::count(database, countspec.document())).map(Bson::from))
}

#[pg_extern(sql = false)]
fn distinct_query(database: &str, distinctspec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| find::distinct(database, distinctspec.document())).map(Bson::from))
}

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
    docdb_guard(|| with_spi(|| crate::catalog::drop_collection(p_database_name, p_collection_name)))
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

/// Closes the portals of pinned cursors (`killCursors`); returns the ids it closed.
#[pg_extern(sql = false)]
fn delete_cursors(cursor_ids: Vec<i64>) -> Vec<i64> {
    cursor::close_cursors(&cursor_ids)
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

/// `createIndexes`. Indexes are built synchronously, so `requests` is always NULL and the
/// gateway never needs to poll `check_build_index_status`.
#[pg_extern(sql = false)]
fn create_indexes_background(
    p_database_name: &str,
    p_index_spec: BsonRef<'_>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Record {
    let reply =
        docdb_guard(|| with_spi(|| crate::commands::indexes::create_indexes(p_database_name, p_index_spec.document())));
    Record::build(fcinfo, vec![Column::Bson(reply.into_bytes()), Column::Bool(true), Column::Null])
}

/// `dropIndexes` (the body of the `drop_indexes` procedure).
#[pg_extern(sql = false)]
fn drop_indexes_internal(p_database_name: &str, p_arg: BsonRef<'_>) -> Bson {
    docdb_guard(|| {
        with_spi(|| crate::commands::indexes::drop_indexes(p_database_name, p_arg.document())).map(Bson::from)
    })
}

/// `explain`: the MongoDB-shaped explain of a find/aggregate/count/distinct.
#[pg_extern(sql = false)]
fn explain(database: &str, spec: BsonRef<'_>) -> Bson {
    docdb_guard(|| with_spi(|| crate::commands::explain::explain(database, spec.document())).map(Bson::from))
}
