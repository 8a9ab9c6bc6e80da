//! How a command joins a session's transaction: the `autocommit`/`startTransaction` fields,
//! which commands a transaction may run, and the `commitTransaction` / `abortTransaction`
//! commands, over the gateway's [`Transactions`] table.
//!
//! [`Transactions`]: crate::transactions::Transactions

use bson::{RawBsonRef, RawDocument};
use documentdb_bson::type_name;
use documentdb_errors::ErrorCode;

use super::{reply, CommandRequest, CommandSpec, Ctx, Handler};
use crate::error::{CommandError, CommandResult};
use crate::transactions::{Decision, Request};

/// What a command's `autocommit` / `startTransaction` fields ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No `autocommit`: not part of a transaction.
    None,
    /// `autocommit: false, startTransaction: true`.
    Start,
    /// `autocommit: false`.
    Continue,
}

fn boolean(body: &RawDocument, key: &str) -> CommandResult<Option<bool>> {
    match body.get(key)? {
        None => Ok(None),
        Some(RawBsonRef::Boolean(b)) => Ok(Some(b)),
        Some(other) => Err(CommandError::type_mismatch(format!(
            "BSON field 'OperationSessionInfo.{key}' is the wrong type '{}', expected type 'bool'",
            type_name(other.element_type())
        ))),
    }
}

/// Reads `autocommit` and `startTransaction` (mongod's OperationSessionInfo rules).
pub fn mode(body: &RawDocument) -> CommandResult<Mode> {
    let autocommit = boolean(body, "autocommit")?;
    let start = boolean(body, "startTransaction")?;
    match (autocommit, start) {
        (None, None) => Ok(Mode::None),
        (Some(true), _) => {
            Err(CommandError::new(ErrorCode::InvalidOptions, "Specifying autocommit=true is not allowed."))
        }
        (None, Some(_)) => Err(CommandError::new(
            ErrorCode::InvalidOptions,
            "'startTransaction' field requires 'autocommit' field to also be specified",
        )),
        (Some(false), Some(false)) => {
            Err(CommandError::new(ErrorCode::InvalidOptions, "Specifying startTransaction=false is not allowed."))
        }
        (Some(false), Some(true)) => Ok(Mode::Start),
        (Some(false), None) => Ok(Mode::Continue),
    }
}

/// The commands a transaction may run (mongod's allow-list; DDL on collections as in 4.4+).
fn allowed(spec: &CommandSpec) -> bool {
    matches!(
        spec.handler,
        Handler::Find
            | Handler::Aggregate
            | Handler::Distinct
            | Handler::Insert
            | Handler::Update
            | Handler::Delete
            | Handler::FindAndModify
            | Handler::GetMore
            | Handler::KillCursors
            | Handler::Create
            | Handler::CreateIndexes
            | Handler::CommitTransaction
            | Handler::AbortTransaction
            | Handler::Hello
            | Handler::BuildInfo
            | Handler::ConnectionStatus
            | Handler::Logout
    )
}

fn not_in_transaction(message: String) -> CommandError {
    CommandError::new(ErrorCode::OperationNotSupportedInTransaction, message)
}

/// The checks of a command sent with `autocommit: false` (or commit/abort) before it touches
/// the session's state: what may run in a transaction, and with which options.
pub fn check_statement(spec: &CommandSpec, req: &CommandRequest, mode: Mode) -> CommandResult<()> {
    let commit_or_abort = matches!(spec.handler, Handler::CommitTransaction | Handler::AbortTransaction);
    if mode == Mode::None {
        return Err(CommandError::new(
            ErrorCode::InvalidOptions,
            format!("{} must be run within a transaction (with autocommit: false)", spec.name),
        ));
    }
    if !allowed(spec) {
        return Err(not_in_transaction(format!("Cannot run '{}' in a multi-document transaction.", spec.name)));
    }
    if !commit_or_abort && matches!(req.db.as_str(), "admin" | "config" | "local") {
        return Err(not_in_transaction(format!(
            "Cannot run command against the '{}' database in a transaction.",
            req.db
        )));
    }
    if spec.handler == Handler::Aggregate && writes_output(&req.body)? {
        return Err(not_in_transaction(
            "Cannot run aggregate with $out or $merge in a multi-document transaction.".into(),
        ));
    }
    if !commit_or_abort && req.body.get("writeConcern")?.is_some() {
        return Err(CommandError::new(
            ErrorCode::InvalidOptions,
            "writeConcern is not allowed within a multi-statement transaction; set it on commitTransaction",
        ));
    }
    if let Some(rc) = req.body.get("readConcern")? {
        if mode != Mode::Start || commit_or_abort {
            return Err(CommandError::new(
                ErrorCode::InvalidOptions,
                "Only the first command in a transaction may specify a readConcern",
            ));
        }
        if let RawBsonRef::Document(rc) = rc {
            if let Some(RawBsonRef::String(level)) = rc.get("level")? {
                if !matches!(level, "local" | "majority" | "snapshot") {
                    return Err(CommandError::new(
                        ErrorCode::InvalidOptions,
                        format!(
                            "The readConcern level must be either 'local' (default), 'majority' or 'snapshot' in \
                             order to run in a transaction, not '{level}'"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Whether an aggregate's pipeline ends in `$out` or `$merge`.
fn writes_output(body: &RawDocument) -> CommandResult<bool> {
    let Some(RawBsonRef::Array(stages)) = body.get("pipeline")? else { return Ok(false) };
    for stage in stages {
        if let RawBsonRef::Document(stage) = stage? {
            if let Some(Ok((name, _))) = stage.iter().next() {
                if matches!(name.as_str(), "$out" | "$merge") {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// Locks the session and applies the command to its transaction state: starts the
/// transaction, continues it, or (commit/abort) ends it. Returns the reply of a commit or
/// abort; for any other statement the session stays locked in `ctx.txn` while it runs.
pub async fn enter(ctx: &mut Ctx<'_>, spec: &CommandSpec, number: i64, mode: Mode) -> CommandResult<Option<Vec<u8>>> {
    let Some(key) = ctx.lsid else {
        return Err(CommandError::new(
            ErrorCode::InvalidOptions,
            "Transaction number requires a session ID to also be specified",
        ));
    };
    let request = match (spec.handler, mode) {
        (Handler::CommitTransaction, _) => Request::Commit,
        (Handler::AbortTransaction, _) => Request::Abort,
        (_, Mode::Start) => Request::Start,
        _ => Request::Continue,
    };
    let gw = ctx.gw;
    let mut state = gw.transactions.lock(key).await;
    let decision = gw.transactions.begin_or_continue(&mut state, &gw.pool, ctx.user(), number, request).await?;
    match (request, decision) {
        (Request::Commit, Decision::AlreadyCommitted) => reply(super::ok()).map(Some),
        (Request::Commit, _) => {
            let result = state.commit().await;
            gw.cursors.remove_transaction(&key, number);
            result?;
            reply(super::ok()).map(Some)
        }
        (Request::Abort, _) => {
            state.abort("abortTransaction was called").await;
            gw.cursors.remove_transaction(&key, number);
            reply(super::ok()).map(Some)
        }
        _ => {
            ctx.txn = Some(state);
            Ok(None)
        }
    }
}

/// A snapshot read (find, aggregate or distinct with `readConcern: {level: "snapshot"}`
/// outside a transaction): runs at a new snapshot, or at the one taken at `atClusterTime`, on
/// that snapshot's connection; the reply reports the snapshot's time as `atClusterTime` (in
/// `cursor`, or at the top for distinct), which the driver sends with the session's later
/// reads. A cursor continues at its snapshot.
pub async fn read_at_snapshot(
    ctx: &mut Ctx<'_>,
    spec: &CommandSpec,
    req: &CommandRequest,
    read: super::SnapshotRead,
) -> CommandResult<Vec<u8>> {
    let gw = ctx.gw;
    let time = match read {
        super::SnapshotRead::At(time) => time,
        super::SnapshotRead::Latest => gw.transactions.open_snapshot(&gw.pool, &gw.clock).await?,
    };
    enter_snapshot(ctx, time, super::max_time_ms(&req.body)?).await?;
    let result = super::run(ctx, spec, req).await;
    leave_snapshot(ctx, result.is_ok()).await;
    result.map(|body| with_at_cluster_time(body, time, spec.handler == Handler::Distinct))
}

/// Makes the next statements run at the snapshot taken at `time`: a connection of the pool
/// imports it in a read-only transaction, which the statements borrow as a transaction's.
pub async fn enter_snapshot(ctx: &mut Ctx<'_>, time: bson::Timestamp, timeout_ms: Option<u64>) -> CommandResult<()> {
    let gw = ctx.gw;
    let Some(id) = gw.transactions.snapshot_id(time) else {
        if time > gw.clock.now() {
            return Err(CommandError::new(
                ErrorCode::InvalidOptions,
                format!("readConcern atClusterTime {time} is later than the current cluster time {}", gw.clock.now()),
            ));
        }
        return Err(CommandError::new(
            ErrorCode::new(239),
            format!(
                "Read timestamp {time} is older than the oldest available timestamp: no snapshot is kept at that \
                 time (snapshots are kept while read, and released after transactionLifetimeLimitSeconds unused)"
            ),
        ));
    };
    let conn = crate::transactions::Transactions::begin_at_snapshot(&gw.pool, ctx.user(), timeout_ms, &id).await?;
    ctx.txn = Some(crate::transactions::SessionTransaction::statement(conn).await);
    ctx.snapshot = Some(time);
    Ok(())
}

/// Ends the statements [`enter_snapshot`] began (a cursor left open keeps the connection).
pub async fn leave_snapshot(ctx: &mut Ctx<'_>, succeeded: bool) {
    ctx.snapshot = None;
    if let Some(state) = ctx.txn.take() {
        crate::transactions::SessionTransaction::finish_statement(state, succeeded).await;
    }
}

/// `reply` with `atClusterTime: time` in its `cursor` document (or at the top level).
fn with_at_cluster_time(reply: Vec<u8>, time: bson::Timestamp, top_level: bool) -> Vec<u8> {
    let Ok(doc) = bson::RawDocumentBuf::from_bytes(reply.clone()) else { return reply };
    let key = bson::raw::cstr!("atClusterTime");
    if top_level {
        let mut doc = doc;
        doc.append(key, time);
        return doc.into_bytes();
    }
    let mut out = bson::RawDocumentBuf::new();
    for element in doc.iter() {
        let Ok((name, value)) = element else { return reply };
        match value {
            RawBsonRef::Document(cursor) if name == "cursor" => {
                let mut cursor = cursor.to_owned();
                cursor.append(key, time);
                out.append(name, cursor);
            }
            other => out.append(name, other),
        }
    }
    out.into_bytes()
}

/// After a statement of a transaction: a failed statement, or a write that reported write
/// errors, aborts the transaction (as in MongoDB, whose next statement then gets
/// NoSuchTransaction); the session is unlocked.
pub async fn leave(ctx: &mut Ctx<'_>, result: &CommandResult<Vec<u8>>) {
    let Some(mut state) = ctx.txn.take() else { return };
    let failed = match result {
        Err(_) => true,
        Ok(body) => RawDocument::from_bytes(body).is_ok_and(|d| d.get("writeErrors").ok().flatten().is_some()),
    };
    if failed {
        state.abort("an earlier command in this transaction failed").await;
        if let (Some(key), Some(number)) = (ctx.lsid, state.active) {
            ctx.gw.cursors.remove_transaction(&key, number);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn snapshot_time_goes_into_the_cursor() {
        let time = bson::Timestamp { time: 9, increment: 3 };
        let reply = rawdoc! {"cursor": {"firstBatch": [], "id": 0i64, "ns": "d.c"}, "ok": 1.0};
        let out = with_at_cluster_time(reply.into_bytes(), time, false);
        let out = RawDocument::from_bytes(&out).unwrap();
        assert_eq!(out.get_document("cursor").unwrap().get_timestamp("atClusterTime").unwrap(), time);
        let distinct = with_at_cluster_time(rawdoc! {"values": [], "ok": 1.0}.into_bytes(), time, true);
        assert_eq!(RawDocument::from_bytes(&distinct).unwrap().get_timestamp("atClusterTime").unwrap(), time);
    }

    #[test]
    fn autocommit_and_start_transaction() {
        assert_eq!(mode(&rawdoc! {"find": "c"}).unwrap(), Mode::None);
        assert_eq!(mode(&rawdoc! {"autocommit": false, "startTransaction": true}).unwrap(), Mode::Start);
        assert_eq!(mode(&rawdoc! {"autocommit": false}).unwrap(), Mode::Continue);
        let code = |d: bson::RawDocumentBuf| mode(&d).unwrap_err().code.code();
        assert_eq!(code(rawdoc! {"autocommit": true}), 72);
        assert_eq!(code(rawdoc! {"startTransaction": true}), 72);
        assert_eq!(code(rawdoc! {"autocommit": false, "startTransaction": false}), 72);
        assert_eq!(code(rawdoc! {"autocommit": 0}), 14);
    }

    fn req(name: &str, db: &str, body: bson::RawDocumentBuf) -> CommandRequest {
        CommandRequest { name: name.into(), db: db.into(), body, sequence: None }
    }

    /// transactions spec count.json; mongod's allow-list and option rules.
    #[test]
    fn what_a_transaction_may_run() {
        let check = |name: &str, db: &str, body: bson::RawDocumentBuf, mode: Mode| {
            let spec = super::super::lookup(name).unwrap();
            check_statement(spec, &req(name, db, body), mode).err().map(|e| e.code.code())
        };
        assert_eq!(check("insert", "d", rawdoc! {"insert": "c"}, Mode::Start), None);
        assert_eq!(check("count", "d", rawdoc! {"count": "c"}, Mode::Continue), Some(263));
        assert_eq!(check("listCollections", "d", rawdoc! {"listCollections": 1}, Mode::Continue), Some(263));
        assert_eq!(check("insert", "admin", rawdoc! {"insert": "c"}, Mode::Continue), Some(263));
        assert_eq!(check("commitTransaction", "admin", rawdoc! {"commitTransaction": 1}, Mode::Continue), None);
        assert_eq!(check("commitTransaction", "admin", rawdoc! {"commitTransaction": 1}, Mode::None), Some(72));
        let out = rawdoc! {"aggregate": "c", "pipeline": [{"$match": {}}, {"$out": "x"}]};
        assert_eq!(check("aggregate", "d", out, Mode::Continue), Some(263));
        let wc = rawdoc! {"insert": "c", "writeConcern": {"w": 1}};
        assert_eq!(check("insert", "d", wc, Mode::Start), Some(72));
        let wc = rawdoc! {"commitTransaction": 1, "writeConcern": {"w": "majority"}};
        assert_eq!(check("commitTransaction", "admin", wc, Mode::Continue), None);
        let rc = |level: &str| rawdoc! {"find": "c", "readConcern": {"level": level}};
        assert_eq!(check("find", "d", rc("snapshot"), Mode::Start), None);
        assert_eq!(check("find", "d", rc("majority"), Mode::Start), None);
        assert_eq!(check("find", "d", rc("linearizable"), Mode::Start), Some(72));
        assert_eq!(check("find", "d", rc("local"), Mode::Continue), Some(72));
    }
}
