//! Query and write commands: find, aggregate, count, distinct, explain, insert, update,
//! delete, findAndModify (and the legacy getLastError).

use bson::{doc, RawArrayBuf, RawBsonRef, RawDocumentBuf};

use super::cursors::first_page;
use super::sql_call::{db_and_spec, db_spec_and_sequence};
use super::{reply, CommandRequest, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::sql;

pub async fn find(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    first_page(ctx, req, sql::FIND).await
}

pub async fn aggregate(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    match rewrite_source_stage(ctx, req)? {
        Some(listing) => first_page(ctx, &listing, sql::AGGREGATE).await,
        None => first_page(ctx, req, sql::AGGREGATE).await,
    }
}

pub async fn count(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_and_spec(ctx, req, sql::COUNT).await
}

pub async fn distinct(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_and_spec(ctx, req, sql::DISTINCT).await
}

pub async fn explain(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    match req.body.get("explain")? {
        Some(RawBsonRef::Document(_)) => {}
        _ => return Err(CommandError::type_mismatch("explain command requires a nested object")),
    }
    db_and_spec(ctx, req, sql::EXPLAIN).await
}

pub async fn insert(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_spec_and_sequence(ctx, req, sql::INSERT, retryable_write_id(ctx)).await
}

pub async fn update(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_spec_and_sequence(ctx, req, sql::UPDATE, retryable_write_id(ctx)).await
}

pub async fn delete(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    db_spec_and_sequence(ctx, req, sql::DELETE, retryable_write_id(ctx)).await
}

pub async fn find_and_modify(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let id = retryable_write_id(ctx);
    let body = crate::pg::BsonParam(req.body.as_bytes());
    super::sql_call::call(ctx, req, sql::FIND_AND_MODIFY, &[&req.db, &body, &id]).await
}

/// A retryable write's `session:txnNumber` (the extension applies it once: see
/// `pg_documentdb/src/commands/retryable.rs`); the session is the lsid with its owner.
fn retryable_write_id(ctx: &Ctx<'_>) -> Option<String> {
    let (lsid, n) = (ctx.lsid.as_ref()?, ctx.txn_number?);
    let hex: String = lsid.id.iter().chain(lsid.uid.iter()).map(|b| format!("{b:02x}")).collect();
    Some(format!("{hex}:{n}"))
}

/// Legacy write acknowledgement: writes are acknowledged by their own replies.
pub fn get_last_error() -> CommandResult<Vec<u8>> {
    reply(doc! { "n": 0, "err": bson::Bson::Null, "ok": 1.0 })
}

/// `{aggregate: 1, pipeline: [{$listLocalSessions | $currentOp: spec}, ...]}` becomes the
/// same command with `{$documents: [the sessions | operations]}` as its first stage, which
/// the extension runs like any pipeline. Returns None for any other command.
fn rewrite_source_stage(ctx: &Ctx<'_>, req: &CommandRequest) -> CommandResult<Option<CommandRequest>> {
    let collectionless = matches!(
        req.body.get("aggregate")?,
        Some(RawBsonRef::Int32(1) | RawBsonRef::Int64(1) | RawBsonRef::Double(1.0))
    );
    // `$listSessions` reads config.system.sessions, where mongod persists the sessions of
    // every router; here the gateway's session cache is that record (one gateway per
    // cluster), so it lists what `$listLocalSessions` lists.
    let sessions_collection =
        req.db == "config" && matches!(req.body.get("aggregate")?, Some(RawBsonRef::String("system.sessions")));
    if !collectionless && !sessions_collection {
        return Ok(None);
    }
    let Some(RawBsonRef::Array(pipeline)) = req.body.get("pipeline")? else { return Ok(None) };
    let Some(Ok(RawBsonRef::Document(first))) = pipeline.into_iter().next() else { return Ok(None) };
    let Some(Ok((stage, spec))) = first.iter().next() else { return Ok(None) };
    let documents = match (stage.as_str(), collectionless) {
        ("$listLocalSessions", true) => super::sessions::local_sessions(ctx, spec)?,
        ("$currentOp", true) => super::operations::current_op_stage(ctx, &req.db, spec)?,
        ("$listSessions", false) => super::sessions::local_sessions(ctx, spec)?,
        _ => return Ok(None),
    };
    let mut stages = RawArrayBuf::new();
    // $literal: the documents are data, not expressions (an operation's command has
    // `$db` and other `$` fields).
    stages.push(bson::rawdoc! { "$documents": { "$literal": documents } });
    for s in pipeline.into_iter().skip(1) {
        stages.push(s?);
    }
    // Only the first `pipeline` (the one read above) is replaced: copying the listing for
    // every duplicate key would multiply its size by their number.
    let mut stages = Some(stages);
    let mut body = RawDocumentBuf::new();
    for element in req.body.iter() {
        let (k, v) = element?;
        match stages.take_if(|_| k.as_str() == "pipeline") {
            Some(stages) => body.append(k, stages),
            // The listing is the source: the pipeline no longer reads the collection.
            None if k.as_str() == "aggregate" => body.append(k, 1),
            None => body.append(k, v),
        }
    }
    Ok(Some(CommandRequest { name: req.name.clone(), db: req.db.clone(), body, sequence: None }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{AuthenticatedUser, ClientConnection};
    use crate::gateway::Gateway;
    use crate::session_cache::SessionKey;
    use documentdb_scram::Mechanism;

    fn user(name: &str) -> AuthenticatedUser {
        AuthenticatedUser {
            name: name.into(),
            db: "admin".into(),
            role: name.into(),
            cluster_actions: Vec::new(),
            privileges_epoch: 0,
            mechanism: Mechanism::Sha256,
        }
    }

    #[test]
    fn only_the_first_pipeline_is_rewritten() {
        let config = crate::Config {
            tls_mode: crate::TlsMode::Disabled,
            pg_socket_dir: "/nonexistent".into(),
            ..crate::Config::default()
        };
        let gw = Gateway::new(config).unwrap();
        let mut connection = ClientConnection::new(1, "127.0.0.1:1".parse().unwrap(), false);
        connection.user = Some(user("alice"));
        let alice = user("alice");
        for n in 0..3u8 {
            gw.sessions.touch(SessionKey { id: [n; 16], uid: alice.session_uid() }, || "alice@admin".into()).unwrap();
        }
        let ctx = Ctx { gw: &gw, connection: &mut connection, lsid: None, txn_number: None, txn: None, snapshot: None };
        let mut body = bson::rawdoc! { "aggregate": 1, "pipeline": [{ "$listLocalSessions": {} }] };
        for _ in 0..3 {
            body.append(bson::raw::cstr!("pipeline"), bson::rawdoc! { "x": 1 });
        }
        let req = CommandRequest { name: "aggregate".into(), db: "admin".into(), body, sequence: None };
        let rewritten = rewrite_source_stage(&ctx, &req).unwrap().unwrap();
        let pipelines: Vec<_> =
            rewritten.body.iter().filter_map(Result::ok).filter(|(k, _)| *k == "pipeline").collect();
        assert_eq!(pipelines.len(), 4);
        let RawBsonRef::Array(first) = pipelines[0].1 else { panic!("not an array") };
        let stage = first.get_document(0).unwrap().get_document("$documents").unwrap();
        assert_eq!(stage.get_array("$literal").unwrap().into_iter().count(), 3);
        for (_, later) in &pipelines[1..] {
            assert_eq!(later.as_document().unwrap(), &*bson::rawdoc! { "x": 1 });
        }
    }
}
