//! Operation commands: `currentOp`, the `$currentOp` stage and `killOp`, over the commands
//! registered in [`RunningOps`] while they hold a PostgreSQL connection.
//!
//! [`RunningOps`]: crate::running_ops::RunningOps

use bson::{doc, rawdoc, Bson, Document, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::ErrorCode;

use super::cursors::first_page;
use super::{reply, CommandRequest, Ctx};
use crate::connection::AuthenticatedUser;
use crate::error::{CommandError, CommandResult};
use crate::gateway::Gateway;
use crate::host::host_name;
use crate::running_ops::OpInfo;

/// An index build's progress, from PostgreSQL's `pg_stat_progress_create_index`.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildProgress {
    pub phase: String,
    pub done: i64,
    pub total: i64,
}

/// The index builds running on the backends of `ops` (the commands that build indexes:
/// createIndexes, and reIndex), by backend pid. Read as the gateway's superuser.
async fn build_progress(gw: &Gateway, ops: &[(i32, OpInfo)]) -> std::collections::HashMap<i32, BuildProgress> {
    let pids: Vec<i32> = ops
        .iter()
        .filter(|(_, info)| {
            matches!(info.command.iter().next().and_then(Result::ok), Some((name, _)) if matches!(name.as_str(), "createIndexes" | "reIndex"))
        })
        .filter_map(|(_, info)| info.backend_pid)
        .collect();
    let mut out = std::collections::HashMap::new();
    if pids.is_empty() {
        return out;
    }
    let Ok(conn) = gw.pool.get(None, None).await else { return out };
    if let Ok(rows) = conn.query(crate::sql::INDEX_BUILD_PROGRESS, &[&pids]).await {
        for row in rows {
            let (Ok(pid), Ok(phase)) = (row.try_get::<_, i32>(0), row.try_get::<_, String>(1)) else { continue };
            let done = row.try_get::<_, Option<i64>>(2).ok().flatten().unwrap_or(0);
            let total = row.try_get::<_, Option<i64>>(3).ok().flatten().unwrap_or(0);
            out.insert(pid, BuildProgress { phase, done, total });
        }
    }
    conn.release();
    out
}

/// A `currentOp` / `$currentOp` output document.
fn op_document(opid: i32, info: &OpInfo, host: &str, progress: Option<&BuildProgress>) -> Document {
    let first = info.command.iter().next().and_then(Result::ok);
    let op = match first.map(|(name, _)| name.as_str()) {
        Some("find") => "query",
        Some("getMore") => "getmore",
        Some("insert") => "insert",
        Some("update") => "update",
        Some("delete") => "remove",
        _ => "command",
    };
    let ns = match first {
        Some((_, RawBsonRef::String(collection))) => format!("{}.{collection}", info.db),
        _ => format!("{}.$cmd", info.db),
    };
    let running = info.started_at.elapsed();
    let mut d = doc! {
        "type": "op",
        "host": host,
        "desc": format!("conn{}", info.connection_id),
        "connectionId": info.connection_id,
        "client": info.client.to_string(),
        "active": true,
        "currentOpTime": bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default(),
        "opid": opid,
        "secs_running": running.as_secs() as i64,
        "microsecs_running": running.as_micros() as i64,
        "op": op,
        "ns": ns,
        "command": Bson::Document(Document::try_from(info.command.as_ref()).unwrap_or_default()),
        "numYields": 0,
        "locks": {},
        "waitingForLock": false,
    };
    if let Some(app) = &info.app_name {
        d.insert("appName", app.as_str());
    }
    if let Some(key) = &info.session {
        d.insert("lsid", key.document());
    }
    if let Some((name, db)) = &info.user {
        d.insert("effectiveUsers", vec![Bson::Document(doc! { "user": name.as_str(), "db": db.as_str() })]);
    }
    if let Some(p) = progress {
        // MongoDB's index build entry: a message with the phase and its progress.
        let percent = if p.total > 0 { p.done * 100 / p.total } else { 0 };
        d.insert("msg", format!("Index Build: {}: {}/{} {percent}%", p.phase, p.done, p.total));
        d.insert("progress", doc! { "done": p.done, "total": p.total });
    }
    d
}

/// Interrupts the running commands `selected` picks (they fail with 11601 Interrupted).
pub async fn interrupt(gw: &Gateway, selected: impl Fn(i32, &OpInfo) -> bool) {
    for token in gw.running.cancel(selected) {
        if let Err(e) = gw.pool.cancel(&token).await {
            tracing::warn!("could not interrupt a running command: {e}");
        }
    }
}

/// The operations `user` may see: all with `all_users`, else the user's own.
fn visible_ops(gw: &Gateway, user: &AuthenticatedUser, all_users: bool) -> Vec<(i32, OpInfo)> {
    let own = |info: &OpInfo| info.user.as_ref().is_some_and(|(name, db)| *name == user.name && *db == user.db);
    gw.running.snapshot().into_iter().filter(|(_, info)| all_users || own(info)).collect()
}

/// The operation documents of `ops`, with the progress of the index builds among them.
fn op_documents(
    gw: &Gateway,
    ops: &[(i32, OpInfo)],
    progress: &std::collections::HashMap<i32, BuildProgress>,
) -> CommandResult<RawArrayBuf> {
    let host = format!("{}:{}", host_name(), gw.config.port);
    let mut out = RawArrayBuf::new();
    for (opid, info) in ops {
        let build = info.backend_pid.and_then(|pid| progress.get(&pid));
        let d = RawDocumentBuf::try_from(&op_document(*opid, info, &host, build))
            .map_err(|e| CommandError::internal(format!("could not encode an operation: {e}")))?;
        out.push(d);
    }
    Ok(out)
}

/// `$currentOp: {allUsers, idleConnections, idleCursors, idleSessions, localOps, ...}` (the
/// idle entries don't apply: only running commands are tracked). Returns the documents
/// that replace the stage.
pub fn current_op_stage(ctx: &Ctx<'_>, db: &str, spec: RawBsonRef<'_>) -> CommandResult<RawArrayBuf> {
    if db != "admin" {
        return Err(CommandError::new(
            ErrorCode::InvalidNamespace,
            "$currentOp must be run against the 'admin' database with {aggregate: 1}",
        ));
    }
    let RawBsonRef::Document(spec) = spec else {
        return Err(CommandError::type_mismatch("$currentOp takes an object of options"));
    };
    let user = ctx.authenticated()?;
    let mut all_users = false;
    for element in spec {
        let (k, v) = element?;
        match (k.as_str(), v) {
            ("allUsers", RawBsonRef::Boolean(b)) => all_users = b,
            (
                "idleConnections" | "idleCursors" | "idleSessions" | "localOps" | "backtrace" | "truncateOps"
                | "targetAllNodes",
                RawBsonRef::Boolean(_),
            ) => {}
            (name, RawBsonRef::Boolean(_)) => {
                return Err(CommandError::new(
                    ErrorCode::new(40415),
                    format!("BSON field '$currentOp.{name}' is an unknown field."),
                ))
            }
            (name, _) => return Err(CommandError::type_mismatch(format!("$currentOp.{name} must be a boolean"))),
        }
    }
    if all_users {
        user.require_cluster_action("inprog", "aggregate", "admin")?;
    }
    op_documents(ctx.gw, &visible_ops(ctx.gw, &user, all_users), &Default::default())
}

/// `currentOp` (admin): `{currentOp: 1, $ownOps, $all, <filter on the operation documents>}`.
/// The filter runs in the extension, over `$documents` of the operations.
pub async fn current_op(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let user = ctx.authenticated()?;
    let mut own_ops = false;
    let mut filter = RawDocumentBuf::new();
    for element in req.body.iter() {
        let (k, v) = element?;
        match k.as_str() {
            "currentOp" | "$db" | "lsid" | "$clusterTime" | "$readPreference" | "comment" | "$all" => {}
            "$ownOps" => own_ops = matches!(v, RawBsonRef::Boolean(true)),
            _ => filter.append(k, v),
        }
    }
    if !own_ops {
        user.require_cluster_action("inprog", "currentOp", "admin")?;
    }
    let ops = visible_ops(ctx.gw, &user, !own_ops);
    let progress = build_progress(ctx.gw, &ops).await;
    let docs = op_documents(ctx.gw, &ops, &progress)?;
    let body = rawdoc! {
        "aggregate": 1,
        "pipeline": [{ "$documents": { "$literal": docs } }, { "$match": filter }],
        "cursor": { "batchSize": i32::MAX },
        "$db": "admin",
    };
    let listing = CommandRequest { name: "aggregate".into(), db: "admin".into(), body, sequence: None };
    let page = first_page(ctx, &listing, crate::sql::AGGREGATE).await?;
    let page = RawDocument::from_bytes(&page)?;
    let inprog = match page.get("cursor")? {
        Some(RawBsonRef::Document(c)) => match c.get("firstBatch")? {
            Some(RawBsonRef::Array(a)) => a.to_owned(),
            _ => RawArrayBuf::new(),
        },
        _ => RawArrayBuf::new(),
    };
    let mut out = RawDocumentBuf::new();
    out.append(bson::raw::cstr!("inprog"), inprog);
    out.append(bson::raw::cstr!("ok"), 1.0);
    Ok(out.into_bytes())
}

/// `killOp` (admin): `{killOp: 1, op: <opid>}` interrupts a running command (it fails with
/// 11601 Interrupted); another user's command takes the privilege.
pub async fn kill_op(ctx: &Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let user = ctx.authenticated()?;
    let opid = match req.body.get("op")? {
        Some(RawBsonRef::Int32(i)) => i64::from(i),
        Some(RawBsonRef::Int64(i)) => i,
        Some(RawBsonRef::Double(d)) if d.fract() == 0.0 => d as i64,
        Some(_) => return Err(CommandError::type_mismatch("killOp: 'op' must be an integer operation id")),
        None => return Err(CommandError::bad_value("Did not provide \"op\" field")),
    };
    let Ok(opid) = i32::try_from(opid) else {
        return Err(CommandError::bad_value(format!("killOp: {opid} is not a valid operation id")));
    };
    // MongoDB: killing any operation but one's own (a missing one included) takes killop.
    if ctx.gw.running.owner(opid) != Some(Some((user.name.clone(), user.db.clone()))) {
        user.require_cluster_action("killop", "killOp", "admin")?;
    }
    interrupt(ctx.gw, |id, _| id == opid).await;
    reply(doc! { "info": "attempting to kill op", "ok": 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session_cache::SessionKey;

    #[test]
    fn operation_document_shape() {
        let info = OpInfo {
            session: Some(SessionKey { id: [1; 16], uid: [2; 32] }),
            user: Some(("alice".into(), "admin".into())),
            connection_id: 7,
            client: "127.0.0.1:5000".parse().unwrap(),
            app_name: Some("app".into()),
            db: "db".into(),
            command: rawdoc! { "find": "c" },
            started_at: std::time::Instant::now(),
            backend_pid: Some(99),
        };
        let progress = BuildProgress { phase: "building index: scanning table".into(), done: 25, total: 100 };
        let d = op_document(42, &info, "host:10260", Some(&progress));
        assert_eq!(d.get_document("progress").unwrap(), &doc! { "done": 25_i64, "total": 100_i64 });
        assert_eq!(d.get_str("msg").unwrap(), "Index Build: building index: scanning table: 25/100 25%");
        assert_eq!(d.get_i32("opid").unwrap(), 42);
        assert_eq!(d.get_str("desc").unwrap(), "conn7");
        assert_eq!(d.get_str("op").unwrap(), "query");
        assert_eq!(d.get_str("ns").unwrap(), "db.c");
        assert_eq!(d.get_str("client").unwrap(), "127.0.0.1:5000");
        assert_eq!(d.get_str("appName").unwrap(), "app");
        assert_eq!(d.get_document("command").unwrap().get_str("find").unwrap(), "c");
        assert!(d.get_document("lsid").is_ok());
        let users = d.get_array("effectiveUsers").unwrap();
        assert_eq!(users[0].as_document().unwrap().get_str("user").unwrap(), "alice");
        assert!(d.get_bool("active").unwrap());
    }
}
