//! How a command calls SQL: a pooled connection running as the command's user (with its
//! maxTimeMS, registered as a running operation), and the generic calls of the
//! `documentdb_api` functions that take the command document and return the reply.

use tokio_postgres::types::ToSql;

use documentdb_errors::ErrorCode;

use super::{CommandRequest, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::pg::{required_bson, BsonParam, PgConn};
use crate::running_ops::{shown_command, OpInfo};

/// How a command is described while it runs (recorded for every command that takes a
/// PostgreSQL connection, so only cheap copies; the rest is derived when listed).
fn op_info(ctx: &Ctx<'_>, req: &CommandRequest, backend_pid: Option<i32>) -> OpInfo {
    OpInfo {
        session: ctx.lsid,
        user: ctx.connection.user.as_ref().map(|u| (u.name.clone(), u.db.clone())),
        connection_id: ctx.connection.connection_id,
        client: ctx.connection.peer,
        app_name: ctx.connection.app_name.clone(),
        db: req.db.clone(),
        command: shown_command(&req.body),
        started_at: std::time::Instant::now(),
        backend_pid,
    }
}

/// A pooled connection running as the connection's user, with the command's maxTimeMS; in a
/// transaction, the transaction's own connection (lent for this statement).
pub async fn user_connection(ctx: &Ctx<'_>, req: &CommandRequest, honour_max_time: bool) -> CommandResult<PgConn> {
    let timeout = if honour_max_time { super::max_time_ms(&req.body)? } else { None };
    let mut conn = match ctx.txn.as_ref() {
        Some(state) => {
            let lent = state.slot().and_then(PgConn::lend);
            let mut conn = lent.ok_or_else(|| {
                CommandError::new(ErrorCode::NoSuchTransaction, "the transaction's PostgreSQL connection is gone")
            })?;
            conn.prepare_session(ctx.user(), timeout).await?;
            conn
        }
        None => ctx.gw.pool.get(ctx.user(), timeout).await?,
    };
    if let Some(token) = conn.cancel_token() {
        let pid = conn.backend_pid();
        conn.attach_op(ctx.gw.running.register(op_info(ctx, req, pid), token));
    }
    Ok(conn)
}

/// Runs one statement and returns the bson in the first column of its row.
pub async fn call(
    ctx: &Ctx<'_>,
    req: &CommandRequest,
    statement: &'static str,
    params: &[&(dyn ToSql + Sync)],
) -> CommandResult<Vec<u8>> {
    let conn = user_connection(ctx, req, true).await?;
    let result = conn.query_one(statement, params).await;
    conn.release();
    required_bson(&result?, 0)
}

/// Statements taking `($1 db, $2 command, $3 document sequence, $4 retryable write id)`
/// (insert, update, delete).
pub async fn db_spec_and_sequence(
    ctx: &Ctx<'_>,
    req: &CommandRequest,
    statement: &'static str,
    retryable_write: Option<String>,
) -> CommandResult<Vec<u8>> {
    let body = BsonParam(req.body.as_bytes());
    let sequence = req.sequence.as_deref().map(BsonParam);
    call(ctx, req, statement, &[&req.db, &body, &sequence, &retryable_write]).await
}

/// Statements taking `($1 db, $2 command)` and returning the reply in the first column.
pub async fn db_and_spec(ctx: &Ctx<'_>, req: &CommandRequest, statement: &'static str) -> CommandResult<Vec<u8>> {
    let body = BsonParam(req.body.as_bytes());
    call(ctx, req, statement, &[&req.db, &body]).await
}

/// Statements taking only the command document (users, listDatabases).
pub async fn spec_only(ctx: &Ctx<'_>, req: &CommandRequest, statement: &'static str) -> CommandResult<Vec<u8>> {
    let body = BsonParam(req.body.as_bytes());
    call(ctx, req, statement, &[&body]).await
}
