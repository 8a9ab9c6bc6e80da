//! Commands that return a cursor: the first page of `find`, `aggregate`,
//! `listCollections`, `listIndexes`; `getMore`; closing pinned cursors (`killCursors`).

use documentdb_pgbson::{docdb_guard, BsonRef};
use pgrx::prelude::*;

use crate::commands::{aggregate, collection, cursor, find};
use crate::record::{Column, Record};
use crate::spi::with_spi;

/// `(cursorpage bson, continuation bson, persistconnection bool, cursorid int8)`.
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

/// Closes the portals of pinned cursors (`killCursors`); returns the ids it closed.
#[pg_extern(sql = false)]
fn delete_cursors(cursor_ids: Vec<i64>) -> Vec<i64> {
    cursor::close_cursors(&cursor_ids)
}
