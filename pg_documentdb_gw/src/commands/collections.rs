//! Collection and database commands: create, drop, dropDatabase, renameCollection, collMod,
//! listCollections, listDatabases, collStats, dbStats.

use bson::{doc, RawBsonRef};
use documentdb_errors::ErrorCode;

use super::cursors::{close_cursors_on, first_page};
use super::sql_call::{call, db_and_spec, spec_only, user_connection};
use super::{collection_name, reply, CommandRequest, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::pg::BsonParam;
use crate::sql;

pub async fn create(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_and_spec(ctx, req, sql::CREATE).await
}

pub async fn list_collections(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    first_page(ctx, req, sql::LIST_COLLECTIONS).await
}

pub async fn list_databases(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    spec_only(ctx, req, sql::LIST_DATABASES).await
}

pub async fn drop(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let coll = collection_name(req)?;
    let ns = format!("{}.{coll}", req.db);
    close_cursors_on(ctx, |n| n == ns, &req.db, Some(vec![coll.to_string()])).await;
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
    let prefix = format!("{}.", req.db);
    close_cursors_on(ctx, |n| n.starts_with(&prefix), &req.db, None).await;
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
    close_cursors_on(ctx, |n| n == from || n == to, from_db, Some(vec![from_coll.to_owned(), to_coll.to_owned()]))
        .await;
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
