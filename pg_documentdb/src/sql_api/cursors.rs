//! Commands that return a cursor: the first page of `find`, `aggregate`,
//! `listCollections`, `listIndexes`; `getMore`; closing pinned cursors (`killCursors`).

use documentdb_pgbson::{docdb_guard, BsonRef};
use pgrx::prelude::*;

use super::out_record::{continuation_column, reply_record};
use crate::commands::{collection, cursor, explain, find};
use crate::record::{Column, Record};
use crate::spi::with_spi;

/// `(cursorpage bson, continuation bson, persistconnection bool, cursorid int8)`.
fn page_record(fcinfo: pg_sys::FunctionCallInfo, page: cursor::FirstPage) -> Record {
    reply_record(
        fcinfo,
        page.reply,
        [continuation_column(page.continuation), Column::Bool(page.persist_connection), Column::Int8(page.cursor_id)],
    )
}

/// The `*_cursor_first_page` functions share one SQL signature (`database text,
/// commandspec bson, cursorid int8`) and differ only in the command they run.
macro_rules! first_page_functions {
    ($($name:ident => $command:path),+ $(,)?) => {$(
        #[pg_extern(sql = false)]
        fn $name(database: &str, commandspec: BsonRef<'_>, cursorid: i64, fcinfo: pg_sys::FunctionCallInfo) -> Record {
            let page = docdb_guard(|| with_spi(|| $command(database, commandspec.document(), cursorid)));
            page_record(fcinfo, page)
        }
    )+};
}

first_page_functions! {
    find_cursor_first_page => find::find_first_page,
    aggregate_cursor_first_page => explain::aggregate_first_page,
    list_collections_cursor_first_page => collection::list_collections,
    list_indexes_cursor_first_page => collection::list_indexes,
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
    reply_record(fcinfo, reply, [continuation_column(continuation)])
}

/// Closes the portals of pinned cursors (`killCursors`); returns the ids it closed.
#[pg_extern(sql = false)]
fn delete_cursors(cursor_ids: Vec<i64>) -> Vec<i64> {
    cursor::close_cursors(&cursor_ids)
}
