//! Cursor commands: getMore and killCursors, and the first page of every command that
//! opens a cursor (find, aggregate, listCollections, listIndexes, currentOp), which
//! registers the cursor in the gateway's [`CursorStore`].
//!
//! [`CursorStore`]: crate::cursor_store::CursorStore

use bson::{doc, Bson, RawBsonRef, RawDocument};
use documentdb_bson::type_name;
use documentdb_errors::ErrorCode;

use super::sql_call::user_connection;
use super::{reply, CommandRequest, Ctx};
use crate::cursor_store::{Cursor, KillOutcome};
use crate::error::{CommandError, CommandResult};
use crate::pg::{bson_column, required_bson, BsonParam};
use crate::sql;

/// `cursor.id` of a reply page.
fn page_cursor_id(page: &[u8]) -> Option<i64> {
    let doc = RawDocument::from_bytes(page).ok()?;
    match doc.get("cursor").ok()?? {
        RawBsonRef::Document(c) => match c.get("id").ok()?? {
            RawBsonRef::Int64(id) => Some(id),
            RawBsonRef::Int32(id) => Some(id as i64),
            _ => None,
        },
        _ => None,
    }
}

/// `cursor.ns` of a reply page.
fn page_namespace(page: &[u8]) -> Option<String> {
    let doc = RawDocument::from_bytes(page).ok()?;
    match doc.get("cursor").ok()?? {
        RawBsonRef::Document(c) => c.get_str("ns").ok().map(str::to_owned),
        _ => None,
    }
}

/// Whether a find or aggregate may leave a cursor open after its first batch: then it runs
/// in a transaction block, so its portal streams (a portal outlives its statement only
/// inside a transaction, or WITH HOLD, which computes and stores the whole rest of the
/// result first). Single-batch finds, finds whose limit fits the first batch and pipelines
/// ending in a write stage never leave one.
fn may_stream(statement: &'static str, body: &RawDocument) -> bool {
    let flag = |key| matches!(body.get(key), Ok(Some(RawBsonRef::Boolean(true))));
    let number = |key| match body.get(key) {
        Ok(Some(RawBsonRef::Int32(i))) => Some(i64::from(i)),
        Ok(Some(RawBsonRef::Int64(i))) => Some(i),
        Ok(Some(RawBsonRef::Double(d))) => Some(d as i64),
        _ => None,
    };
    if statement == sql::FIND {
        if flag("singleBatch") {
            return false;
        }
        let limit = number("limit").unwrap_or(0).abs();
        let batch = number("batchSize").unwrap_or(101);
        return limit == 0 || limit > batch;
    }
    if statement == sql::AGGREGATE {
        return !super::pipeline_ends_in_write(body) && !flag("explain");
    }
    false
}

/// Runs a statement returning `(cursorpage, continuation, persistconnection, cursorid)` and
/// keeps the cursor when it is not exhausted.
///
/// Outside sessions' transactions, a find or aggregate that may leave a cursor open runs in
/// a transaction block on its connection: a cursor left open keeps that connection pinned
/// with the transaction (its portal then continues where the first batch stopped, see
/// docs/aggregation.md); otherwise the block is committed at once.
pub async fn first_page(ctx: &mut Ctx<'_>, req: &CommandRequest, statement: &'static str) -> CommandResult<Vec<u8>> {
    let mut conn = user_connection(ctx, req, true).await?;
    let body = BsonParam(req.body.as_bytes());
    let streaming = ctx.txn.is_none() && ctx.snapshot.is_none() && may_stream(statement, &req.body);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&req.db, &body];
    let result = if streaming {
        // One round trip: BEGIN is pipelined with the statement.
        match tokio::join!(conn.execute_simple("BEGIN"), conn.query_one(statement, &params)) {
            (Ok(()), result) => result,
            (Err(e), _) => Err(e),
        }
    } else {
        conn.query_one(statement, &params).await
    };
    let row = match result {
        Ok(row) => row,
        Err(e) => {
            if streaming {
                end_block(conn, "ROLLBACK").await;
            } else {
                conn.release();
            }
            return Err(e);
        }
    };
    let page = required_bson(&row, 0);
    let continuation = bson_column(&row, 1);
    let persist: bool = row.try_get::<_, Option<bool>>(2).ok().flatten().unwrap_or(false);
    let column_id: i64 = row.try_get::<_, Option<i64>>(3).ok().flatten().unwrap_or(0);
    let (page, continuation) = match (page, continuation) {
        (Ok(p), Ok(c)) => (p, c),
        (Err(e), _) | (_, Err(e)) => {
            // Don't keep a connection whose portal state we can't account for.
            if persist || streaming {
                conn.discard();
            }
            conn.release();
            return Err(e);
        }
    };
    let id = page_cursor_id(&page).unwrap_or(column_id);
    if streaming && (id == 0 || !persist) {
        // No portal stays open on this connection: end the (read-only) block before the
        // connection serves anyone else, off the reply's path.
        tokio::spawn(end_block(conn, "COMMIT"));
        if id != 0 {
            let owner = ctx.user().map(str::to_owned);
            let cursor = Cursor::new(owner, req.db.clone(), continuation, None)
                .on_namespace(page_namespace(&page))
                .in_session(ctx.lsid);
            ctx.gw.cursors.insert(id, cursor);
        }
        return Ok(page);
    }
    if id == 0 {
        conn.release();
        return Ok(page);
    }
    // In a transaction the cursor's portal lives on the transaction's connection, which
    // goes back to the transaction; getMores borrow it again. A snapshot read's portal keeps
    // its connection (and the transaction that imported the snapshot) pinned.
    let transaction = ctx.txn.as_ref().and_then(|state| state.active);
    let pinned = if ctx.txn.is_some() && ctx.snapshot.is_none() {
        conn.release();
        None
    } else if persist {
        if ctx.gw.pool.detached.load(std::sync::atomic::Ordering::Relaxed) >= ctx.gw.config.max_pinned_cursors {
            conn.discard();
            return Err(CommandError::new(
                ErrorCode::OperationFailed,
                format!(
                    "too many open cursors holding a PostgreSQL connection ({}); exhaust or kill some cursors",
                    ctx.gw.config.max_pinned_cursors
                ),
            ));
        }
        // getMores on this connection run without the first page's maxTimeMS.
        conn.prepare_session(ctx.user(), None).await?;
        conn.detach();
        Some(conn)
    } else {
        conn.release();
        None
    };
    let owner = ctx.user().map(str::to_owned);
    let cursor = Cursor::new(owner, req.db.clone(), continuation, pinned)
        .on_namespace(page_namespace(&page))
        .in_session(ctx.lsid)
        .in_transaction(transaction)
        .at_snapshot(ctx.snapshot);
    ctx.gw.cursors.insert(id, cursor);
    Ok(page)
}

/// Ends a first page's transaction block after a failure; a connection whose block can't
/// be ended is closed.
async fn end_block(mut conn: crate::pg::PgConn, statement: &str) {
    if conn.execute_simple(statement).await.is_err() {
        conn.discard();
    }
    conn.release();
}

/// Closes this gateway's cursors that a drop or rename of `collections` of `db` (all of
/// its collections when None) would wait for, as a streaming cursor's open transaction
/// holds a lock on what it reads: first those on the namespaces `matches` selects, then
/// any other whose backend holds a lock on those collections' tables (one reading them
/// through a view, a `$lookup` or a `$unionWith`). MongoDB kills such cursors too.
pub async fn close_cursors_on(
    ctx: &Ctx<'_>,
    matches: impl Fn(&str) -> bool,
    db: &str,
    collections: Option<Vec<String>>,
) {
    for (id, cursor) in ctx.gw.cursors.kill_namespaces(matches) {
        cursor.close(id).await;
    }
    let pids = ctx.gw.cursors.pinned_backends();
    if pids.is_empty() {
        return;
    }
    // The gateway's own role: the lock table and the catalog are not every user's to read.
    let Ok(conn) = ctx.gw.pool.get(None, None).await else { return };
    let locking = conn.query(sql::BACKENDS_LOCKING_COLLECTIONS, &[&db, &collections, &pids]).await;
    conn.release();
    let locking: Vec<i32> = match locking {
        Ok(rows) => rows.iter().filter_map(|r| r.try_get::<_, Option<i32>>(0).ok().flatten()).collect(),
        Err(e) => {
            tracing::debug!("looking up the cursors locking {db}: {e:?}");
            return;
        }
    };
    let holds_lock = |c: &crate::cursor_store::Cursor| {
        c.pinned.as_ref().and_then(crate::pg::PgConn::backend_pid).is_some_and(|pid| locking.contains(&pid))
    };
    for (id, cursor) in ctx.gw.cursors.take_idle(holds_lock) {
        cursor.close(id).await;
    }
}

fn cursor_id_field(body: &RawDocument, key: &str) -> CommandResult<i64> {
    match body.get(key)? {
        Some(RawBsonRef::Int64(i)) => Ok(i),
        Some(RawBsonRef::Int32(i)) => Ok(i as i64),
        Some(v) => Err(CommandError::type_mismatch(format!(
            "Field '{key}' must be of type long, not {}",
            type_name(v.element_type())
        ))),
        None => Err(CommandError::bad_value(format!("Field '{key}' is missing"))),
    }
}

pub async fn get_more(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let id = cursor_id_field(&req.body, "getMore")?;
    match req.body.get("collection")? {
        Some(RawBsonRef::String(_)) => {}
        _ => return Err(CommandError::type_mismatch("Field 'collection' must be of type string")),
    }
    let user = ctx.user().map(str::to_owned);
    let cursors = &ctx.gw.cursors;
    let cursor = cursors.checkout(id, user.as_deref())?;
    if cursor.db != req.db {
        let db = cursor.db.clone();
        if let Some(killed) = cursors.checkin(id, cursor) {
            killed.close(id).await;
        }
        return Err(CommandError::unauthorized(format!(
            "Requested getMore on database '{}', but cursor {id} belongs to database '{db}'",
            req.db
        )));
    }
    // A snapshot read's cursor that holds no connection continues at its snapshot.
    let at_snapshot = cursor.snapshot.filter(|_| cursor.pinned.is_none() && ctx.txn.is_none());
    if let Some(time) = at_snapshot {
        if let Err(e) = super::transactions::enter_snapshot(ctx, time, None).await {
            ctx.gw.cursors.finish(id);
            return Err(e);
        }
    }
    let result = continue_cursor(ctx, req, id, cursor).await;
    if at_snapshot.is_some() {
        super::transactions::leave_snapshot(ctx, result.is_ok()).await;
    }
    result
}

/// getMore on a checked-out cursor: the next page, on the cursor's pinned connection, its
/// transaction's or snapshot's connection, or a pooled one.
async fn continue_cursor(ctx: &Ctx<'_>, req: &CommandRequest, id: i64, mut cursor: Cursor) -> CommandResult<Vec<u8>> {
    let user = ctx.user().map(str::to_owned);
    let cursors = &ctx.gw.cursors;
    let in_transaction = ctx.txn.as_ref().and_then(|state| state.active);
    if cursor.transaction.is_some() && (cursor.transaction != in_transaction || cursor.session != ctx.lsid) {
        let number = cursor.transaction.unwrap_or_default();
        if let Some(killed) = cursors.checkin(id, cursor) {
            killed.close(id).await;
        }
        return Err(CommandError::new(
            ErrorCode::CursorNotFound,
            format!(
                "cursor id {id} was opened by transaction {number} of its session: only a getMore of that \
                 transaction can continue it"
            ),
        ));
    }
    let (mut conn, pinned) = match cursor.pinned.take() {
        Some(c) => (c, true),
        None if ctx.txn.is_some() => match user_connection(ctx, req, false).await {
            Ok(c) => (c, false),
            Err(e) => {
                cursors.finish(id);
                return Err(e);
            }
        },
        None => match ctx.gw.pool.get(user.as_deref(), None).await {
            Ok(c) => (c, false),
            Err(e) => {
                if let Some(killed) = cursors.checkin(id, cursor) {
                    killed.close(id).await;
                }
                return Err(e);
            }
        },
    };
    let result = async {
        conn.prepare_session(user.as_deref(), None).await?;
        let body = BsonParam(req.body.as_bytes());
        let continuation = cursor.continuation.as_deref().map(BsonParam);
        let row = conn.query_one(sql::GET_MORE, &[&req.db, &body, &continuation]).await?;
        Ok::<_, CommandError>((required_bson(&row, 0)?, bson_column(&row, 1)?))
    }
    .await;
    match result {
        Err(e) => {
            // A failed getMore kills the cursor, as in MongoDB.
            cursors.finish(id);
            if pinned {
                conn.discard();
            } else {
                conn.release();
            }
            Err(e)
        }
        Ok((page, continuation)) => {
            let next = page_cursor_id(&page).unwrap_or(if continuation.is_some() { id } else { 0 });
            if next == 0 {
                cursors.finish(id);
                if pinned {
                    // Off the reply's path: end the block, keep the backend for reuse.
                    tokio::spawn(conn.retire());
                } else {
                    conn.release();
                }
            } else {
                cursor.continuation = continuation;
                if pinned {
                    cursor.pinned = Some(conn);
                } else {
                    conn.release();
                }
                if let Some(killed) = cursors.checkin(id, cursor) {
                    killed.close(id).await;
                }
            }
            Ok(page)
        }
    }
}

pub async fn kill_cursors(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let ids: Vec<i64> = match req.body.get("cursors")? {
        Some(RawBsonRef::Array(a)) => {
            let mut out = Vec::new();
            for v in a {
                match v? {
                    RawBsonRef::Int64(i) => out.push(i),
                    RawBsonRef::Int32(i) => out.push(i as i64),
                    other => {
                        return Err(CommandError::type_mismatch(format!(
                            "Field 'cursors' contains an element of type {}, expected long",
                            type_name(other.element_type())
                        )))
                    }
                }
            }
            out
        }
        _ => return Err(CommandError::type_mismatch("Field 'cursors' must be an array of cursor ids")),
    };
    let user = ctx.user().map(str::to_owned);
    let mut killed = Vec::new();
    let mut not_found = Vec::new();
    for id in ids {
        match ctx.gw.cursors.kill(id, user.as_deref()) {
            (KillOutcome::Killed, cursor) => {
                if let Some(c) = cursor {
                    c.close(id).await;
                }
                killed.push(Bson::Int64(id));
            }
            (KillOutcome::NotFound, _) => not_found.push(Bson::Int64(id)),
        }
    }
    reply(doc! {
        "cursorsKilled": killed,
        "cursorsNotFound": not_found,
        "cursorsAlive": [],
        "cursorsUnknown": [],
        "ok": 1.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn cursor_id_from_page() {
        let p = rawdoc! {"cursor": {"firstBatch": [], "id": 42i64, "ns": "a.b"}, "ok": 1.0};
        assert_eq!(page_cursor_id(p.as_bytes()), Some(42));
        let p = rawdoc! {"ok": 1.0};
        assert_eq!(page_cursor_id(p.as_bytes()), None);
        assert_eq!(page_cursor_id(b"junk"), None);
    }
}
