//! Running operations: `currentOp`, the `$currentOp` stage and `killOp`, over the commands
//! registered in [`RunningOps`] while they hold a PostgreSQL connection.
//!
//! [`RunningOps`]: crate::logical_sessions::RunningOps

use bson::{doc, rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::ErrorCode;

use super::{reply, CommandRequest, Ctx};
use crate::error::{CommandError, CommandResult};
use crate::logical_sessions::{op_document, OpInfo};
use crate::server::Gateway;
use crate::session::AuthenticatedUser;

/// Command documents above this size show only their first field, as mongod truncates them.
const MAX_SHOWN_COMMAND: usize = 1024;

/// How a command is described while it runs.
pub fn op_info(ctx: &Ctx<'_>, req: &CommandRequest) -> OpInfo {
    let collection = match req.body.iter().next() {
        Some(Ok((_, RawBsonRef::String(c)))) => Some(c),
        _ => None,
    };
    OpInfo {
        session: ctx.lsid,
        user: ctx.session.user.as_ref().map(|u| u.name.clone()),
        user_full: ctx.session.user.as_ref().map(|u| format!("{}@{}", u.name, u.db)),
        connection_id: ctx.session.connection_id,
        client: ctx.session.peer.to_string(),
        app_name: ctx.session.app_name.clone(),
        op: match req.name.as_str() {
            "find" => "query",
            "getMore" => "getmore",
            "insert" => "insert",
            "update" => "update",
            "delete" => "remove",
            _ => "command",
        },
        ns: match collection {
            Some(c) => format!("{}.{c}", req.db),
            None => format!("{}.$cmd", req.db),
        },
        command: shown_command(&req.body),
        started_at: std::time::Instant::now(),
    }
}

/// The command document as currentOp shows it: whole up to 1 KiB, else its first field
/// and `$truncated: true`.
fn shown_command(body: &RawDocument) -> RawDocumentBuf {
    if body.as_bytes().len() <= MAX_SHOWN_COMMAND {
        return body.to_owned();
    }
    let mut shown = RawDocumentBuf::new();
    if let Some(Ok((k, v))) = body.iter().next() {
        shown.append(k, v);
    }
    shown.append(bson::raw::cstr!("$truncated"), true);
    shown
}

fn caller(ctx: &Ctx<'_>) -> CommandResult<AuthenticatedUser> {
    ctx.session.user.clone().ok_or_else(|| CommandError::unauthorized("this command requires authentication"))
}

fn others_need_privilege(user: &AuthenticatedUser, what: &str) -> CommandResult<()> {
    if user.manages_other_users {
        return Ok(());
    }
    Err(CommandError::unauthorized(format!(
        "not authorized to {what} other users' operations (requires a superuser or a role that can manage users)"
    )))
}

/// The operation documents `user` may see: all with `all_users`, else the user's own.
fn op_documents(gw: &Gateway, user: &AuthenticatedUser, all_users: bool) -> CommandResult<RawArrayBuf> {
    let host = format!("{}:{}", super::host_name(), gw.config.port);
    let mut out = RawArrayBuf::new();
    for (opid, info) in gw.running.snapshot() {
        if all_users || info.user.as_deref() == Some(user.name.as_str()) {
            let d = RawDocumentBuf::try_from(&op_document(opid, &info, &host))
                .map_err(|e| CommandError::internal(format!("could not encode an operation: {e}")))?;
            out.push(d);
        }
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
    let user = caller(ctx)?;
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
        others_need_privilege(&user, "list")?;
    }
    op_documents(ctx.gw, &user, all_users)
}

/// `currentOp` (admin): `{currentOp: 1, $ownOps, $all, <filter on the operation documents>}`.
/// The filter runs in the extension, over `$documents` of the operations.
pub async fn current_op(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let user = caller(ctx)?;
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
        others_need_privilege(&user, "list")?;
    }
    let docs = op_documents(ctx.gw, &user, !own_ops)?;
    let body = rawdoc! {
        "aggregate": 1,
        "pipeline": [{ "$documents": { "$literal": docs } }, { "$match": filter }],
        "cursor": { "batchSize": i32::MAX },
        "$db": "admin",
    };
    let listing = CommandRequest { name: "aggregate".into(), db: "admin".into(), body, sequence: None };
    let page = super::cursor::first_page(ctx, &listing, crate::sql::AGGREGATE).await?;
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
    let user = caller(ctx)?;
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
    let running = ctx.gw.running.snapshot();
    if let Some((_, info)) = running.iter().find(|(id, _)| *id == opid) {
        if info.user.as_deref() != Some(user.name.as_str()) {
            others_need_privilege(&user, "kill")?;
        }
    }
    for token in ctx.gw.running.cancel(|id, _| id == opid) {
        if let Err(e) = ctx.gw.pool.cancel(&token).await {
            tracing::warn!(opid, "could not interrupt operation: {e}");
        }
    }
    reply(doc! { "info": "attempting to kill op", "ok": 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logical_sessions::SessionKey;

    #[test]
    fn long_commands_are_truncated() {
        let small = rawdoc! { "find": "c", "filter": { "a": 1 } };
        assert_eq!(shown_command(&small), small);
        let big = rawdoc! { "insert": "c", "documents": [{ "pad": "x".repeat(2000) }] };
        assert_eq!(shown_command(&big), rawdoc! { "insert": "c", "$truncated": true });
    }

    #[test]
    fn operation_document_shape() {
        let info = OpInfo {
            session: Some(SessionKey { id: [1; 16], uid: [2; 32] }),
            user: Some("alice".into()),
            user_full: Some("alice@admin".into()),
            connection_id: 7,
            client: "127.0.0.1:5000".into(),
            app_name: Some("app".into()),
            op: "query",
            ns: "db.c".into(),
            command: rawdoc! { "find": "c" },
            started_at: std::time::Instant::now(),
        };
        let d = op_document(42, &info, "host:10260");
        assert_eq!(d.get_i32("opid").unwrap(), 42);
        assert_eq!(d.get_str("desc").unwrap(), "conn7");
        assert_eq!(d.get_str("op").unwrap(), "query");
        assert_eq!(d.get_str("appName").unwrap(), "app");
        assert_eq!(d.get_document("command").unwrap().get_str("find").unwrap(), "c");
        assert!(d.get_document("lsid").is_ok());
        let users = d.get_array("effectiveUsers").unwrap();
        assert_eq!(users[0].as_document().unwrap().get_str("user").unwrap(), "alice");
        assert!(d.get_bool("active").unwrap());
    }
}
