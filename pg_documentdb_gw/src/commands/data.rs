//! Commands routed to SQL: one `documentdb_api` call each, run as the authenticated user.

use bson::{doc, RawBsonRef};
use documentdb_errors::ErrorCode;
use tokio_postgres::types::ToSql;

use super::{collection_name, reply, CommandRequest, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::pg::{required_bson, BsonParam, PgConn};
use crate::sql;

/// A pooled connection running as the session's user, with the command's maxTimeMS.
pub async fn user_connection(ctx: &Ctx<'_>, req: &CommandRequest, honour_max_time: bool) -> CommandResult<PgConn> {
    let timeout = if honour_max_time { super::max_time_ms(&req.body)? } else { None };
    let mut conn = ctx.gw.pool.get(ctx.user(), timeout).await?;
    if let Some(token) = conn.cancel_token() {
        conn.attach_op(ctx.gw.running.register(super::operations::op_info(ctx, req), token));
    }
    Ok(conn)
}

/// Runs one statement and returns the bson in the first column of its row.
async fn call(
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

/// insert / update / delete: `($1 db, $2 command, $3 document sequence)`.
pub async fn write(ctx: &mut Ctx<'_>, req: &CommandRequest, statement: &'static str) -> CommandResult<Vec<u8>> {
    let body = BsonParam(req.body.as_bytes());
    let sequence = req.sequence.as_deref().map(BsonParam);
    call(ctx, req, statement, &[&req.db, &body, &sequence]).await
}

/// Commands taking `($1 db, $2 command)` and returning the reply in the first column.
pub async fn db_and_spec(ctx: &mut Ctx<'_>, req: &CommandRequest, statement: &'static str) -> CommandResult<Vec<u8>> {
    let body = BsonParam(req.body.as_bytes());
    call(ctx, req, statement, &[&req.db, &body]).await
}

/// Commands taking only the command document (users, listDatabases).
pub async fn spec_only(ctx: &mut Ctx<'_>, req: &CommandRequest, statement: &'static str) -> CommandResult<Vec<u8>> {
    let body = BsonParam(req.body.as_bytes());
    call(ctx, req, statement, &[&body]).await
}

/// dropUser/updateUser: afterwards pooled connections set to some role set it afresh before
/// their next command (a re-created user is a new PostgreSQL role).
pub async fn role_change(ctx: &mut Ctx<'_>, req: &CommandRequest, statement: &'static str) -> CommandResult<Vec<u8>> {
    let result = spec_only(ctx, req, statement).await;
    ctx.gw.pool.invalidate_roles();
    result
}

pub async fn explain(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    match req.body.get("explain")? {
        Some(RawBsonRef::Document(_)) => {}
        _ => return Err(CommandError::type_mismatch("explain command requires a nested object")),
    }
    db_and_spec(ctx, req, sql::EXPLAIN).await
}

pub async fn drop(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let coll = collection_name(req)?;
    let conn = user_connection(ctx, req, true).await?;
    let result = conn.query_one(sql::DROP_COLLECTION, &[&req.db, &coll]).await;
    conn.release();
    let existed: bool = result?.try_get::<_, Option<bool>>(0).ok().flatten().unwrap_or(false);
    if existed {
        reply(doc! { "nIndexesWas": 1, "ns": format!("{}.{}", req.db, coll), "ok": 1.0 })
    } else {
        reply(doc! { "ok": 1.0 })
    }
}

pub async fn drop_database(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let conn = user_connection(ctx, req, true).await?;
    let result = conn.query(sql::DROP_DATABASE, &[&req.db]).await;
    conn.release();
    result?;
    reply(doc! { "dropped": req.db.as_str(), "ok": 1.0 })
}

fn split_namespace(ns: &str) -> CommandResult<(&str, &str)> {
    match ns.split_once('.') {
        Some((db, coll)) if !db.is_empty() && !coll.is_empty() && !coll.contains('\0') => Ok((db, coll)),
        _ => Err(CommandError::new(ErrorCode::InvalidNamespace, format!("Invalid namespace specified '{ns}'"))),
    }
}

pub async fn rename_collection(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let from = match req.body.get("renameCollection")? {
        Some(RawBsonRef::String(s)) => s,
        _ => return Err(CommandError::type_mismatch("'renameCollection' must be of type string")),
    };
    let to = match req.body.get("to")? {
        Some(RawBsonRef::String(s)) => s,
        Some(_) => return Err(CommandError::type_mismatch("'to' must be of type string")),
        None => {
            return Err(CommandError::bad_value("BSON field 'renameCollection.to' is missing but a required field"))
        }
    };
    let (from_db, from_coll) = split_namespace(from)?;
    let (to_db, to_coll) = split_namespace(to)?;
    super::validate_db_name(from_db)?;
    super::validate_db_name(to_db)?;
    if from_db != to_db {
        return Err(CommandError::new(
            ErrorCode::IllegalOperation,
            format!("renameCollection cannot move a collection between databases ('{from}' to '{to}')"),
        ));
    }
    let drop_target = super::get_flag(&req.body, "dropTarget")?;
    let conn = user_connection(ctx, req, true).await?;
    let result = conn.query(sql::RENAME_COLLECTION, &[&from_db, &from_coll, &to_coll, &drop_target]).await;
    conn.release();
    result?;
    reply(doc! { "ok": 1.0 })
}

pub async fn coll_mod(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let coll = collection_name(req)?;
    let body = BsonParam(req.body.as_bytes());
    call(ctx, req, sql::COLL_MOD, &[&req.db, &coll, &body]).await
}

fn scale(req: &CommandRequest) -> CommandResult<f64> {
    match super::get_number(&req.body, "scale")? {
        None => Ok(1.0),
        Some(s) if s >= 1.0 => Ok(s.trunc()),
        Some(s) if s > 0.0 => Ok(1.0),
        Some(_) => Err(CommandError::new(ErrorCode::new(51024), "scale has to be > 0")),
    }
}

pub async fn coll_stats(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let coll = collection_name(req)?;
    let scale = scale(req)?;
    call(ctx, req, sql::COLL_STATS, &[&req.db, &coll, &scale]).await
}

pub async fn db_stats(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let scale = scale(req)?;
    call(ctx, req, sql::DB_STATS, &[&req.db, &scale]).await
}
