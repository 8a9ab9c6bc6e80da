//! Logical session commands (startSession, refreshSessions, endSessions, killSessions,
//! killAllSessions), the `$listLocalSessions` listing, and the use of a command's `lsid`,
//! over the gateway's [`SessionCache`].
//!
//! [`SessionCache`]: crate::session_cache::SessionCache

use bson::{doc, RawArrayBuf, RawBsonRef, RawDocumentBuf};
use documentdb_errors::ErrorCode;

use super::{reply, CommandRequest, Ctx};
use crate::connection::AuthenticatedUser;
use crate::error::{CommandError, CommandResult};
use crate::gateway::Gateway;
use crate::protocol::MAX_BSON_OBJECT_SIZE;
use crate::session_cache::{
    command_session_id, parse_session_id, session_document, user_digest, Owners, SessionKey, SESSION_TIMEOUT_MINUTES,
};

/// Records the command's `lsid` as a use of that session by the authenticated user, and
/// returns the session (cursors opened by the command belong to it).
pub fn record_use(ctx: &Ctx<'_>, req: &CommandRequest) -> CommandResult<Option<SessionKey>> {
    let Some(user) = &ctx.connection.user else { return Ok(None) };
    let Some(id) = command_session_id(&req.body)? else { return Ok(None) };
    let key = SessionKey { id, uid: user.session_uid() };
    ctx.gw.sessions.touch(key, || user.qualified_name())?;
    Ok(Some(key))
}

/// The `[{id: UUID}, ...]` argument of endSessions, killSessions and refreshSessions, as the
/// caller's sessions.
fn session_ids(req: &CommandRequest, user: &AuthenticatedUser) -> CommandResult<Vec<SessionKey>> {
    let name = req.name.as_str();
    let Some(RawBsonRef::Array(items)) = req.body.get(name)? else {
        return Err(CommandError::type_mismatch(format!("BSON field '{name}' must be an array of {{id: UUID}}")));
    };
    let uid = user.session_uid();
    let mut keys = Vec::new();
    for item in items {
        keys.push(SessionKey { id: parse_session_id(item?, name)?, uid });
    }
    Ok(keys)
}

/// Kills the sessions `killed` selects: interrupts their running statements (they fail
/// with 11601 Interrupted), closes their cursors and aborts their transactions.
async fn kill(gw: &Gateway, killed: impl Fn(&SessionKey) -> bool) {
    super::operations::interrupt(gw, |_, op| op.session.as_ref().is_some_and(&killed)).await;
    close_session_cursors(gw, &killed).await;
    gw.transactions.abort_sessions(killed).await;
}

/// Closes the cursors opened in the sessions `killed` selects.
pub async fn close_session_cursors(gw: &Gateway, killed: impl Fn(&SessionKey) -> bool) {
    for (id, cursor) in gw.cursors.kill_sessions(killed) {
        tracing::info!(cursor = id, "closing cursor of a killed or ended session");
        cursor.close(id).await;
    }
}

pub fn start_session(ctx: &Ctx<'_>) -> CommandResult<Vec<u8>> {
    let user = ctx.authenticated()?;
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| CommandError::internal(format!("no randomness: {e}")))?;
    // RFC 4122 version 4.
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    ctx.gw.sessions.touch(SessionKey { id, uid: user.session_uid() }, || user.qualified_name())?;
    let id = bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: id.to_vec() };
    reply(doc! { "id": { "id": id }, "timeoutMinutes": SESSION_TIMEOUT_MINUTES, "ok": 1.0 })
}

/// `refreshSessions`: marks the caller's sessions as used now (creating unknown ones).
pub fn refresh_sessions(ctx: &Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let user = ctx.authenticated()?;
    for key in session_ids(req, &user)? {
        ctx.gw.sessions.touch(key, || user.qualified_name())?;
    }
    reply(doc! { "ok": 1.0 })
}

/// `endSessions`: forgets the caller's sessions and closes their cursors. Drivers send it
/// when they close, possibly on a connection that never authenticated: such a caller owns
/// no sessions, so there is nothing to end.
pub async fn end_sessions(ctx: &Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let Some(user) = ctx.connection.user.clone() else {
        return reply(doc! { "ok": 1.0 });
    };
    let keys = session_ids(req, &user)?;
    ctx.gw.sessions.end(&keys);
    close_session_cursors(ctx.gw, |k| keys.contains(k)).await;
    ctx.gw.transactions.abort_sessions(|k| keys.contains(k)).await;
    reply(doc! { "ok": 1.0 })
}

/// `killSessions`: interrupts the running commands and closes the cursors of the caller's
/// listed sessions (all of the caller's sessions for `[]`). As in mongod, the sessions
/// themselves stay usable and listed.
pub async fn kill_sessions(ctx: &Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let user = ctx.authenticated()?;
    let keys = session_ids(req, &user)?;
    let uid = user.session_uid();
    if keys.is_empty() {
        kill(ctx.gw, |k| k.uid == uid).await;
    } else {
        kill(ctx.gw, |k| keys.contains(k)).await;
    }
    reply(doc! { "ok": 1.0 })
}

/// `[{user, db}, ...]` as digests.
fn user_list(value: RawBsonRef<'_>, field: &str) -> CommandResult<Vec<[u8; 32]>> {
    let RawBsonRef::Array(items) = value else {
        return Err(CommandError::type_mismatch(format!("BSON field '{field}' must be an array of {{user, db}}")));
    };
    let mut out = Vec::new();
    for item in items {
        let RawBsonRef::Document(d) = item? else {
            return Err(CommandError::type_mismatch(format!(
                "each element of '{field}' must be an object {{user, db}}"
            )));
        };
        match (d.get("user")?, d.get("db")?) {
            (Some(RawBsonRef::String(u)), Some(RawBsonRef::String(db))) => out.push(user_digest(u, db)),
            _ => {
                return Err(CommandError::type_mismatch(format!(
                    "each element of '{field}' must have string fields 'user' and 'db'"
                )))
            }
        }
    }
    Ok(out)
}

/// Acting on other users' sessions takes MongoDB's killAnySession (kill) or listSessions
/// (list) on the cluster.
fn check_may_act_on(user: &AuthenticatedUser, owners: &Owners, action: &str) -> CommandResult<()> {
    let uid = user.session_uid();
    if matches!(owners, Owners::Users(uids) if uids.iter().all(|u| *u == uid)) {
        return Ok(());
    }
    let (privilege, command) =
        if action == "kill" { ("killAnySession", "killAllSessions") } else { ("listSessions", "aggregate") };
    user.require_cluster_action(privilege, command, "admin")
}

/// `killAllSessions`: interrupts the running commands and closes the cursors of every
/// session of the listed users (of all users for `[]`).
pub async fn kill_all_sessions(ctx: &Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let user = ctx.authenticated()?;
    let value = req.body.get(&req.name)?.unwrap_or(RawBsonRef::Null);
    let uids = user_list(value, &req.name)?;
    let owners = if uids.is_empty() { Owners::All } else { Owners::Users(uids) };
    check_may_act_on(&user, &owners, "kill")?;
    match &owners {
        Owners::All => kill(ctx.gw, |_| true).await,
        Owners::Users(uids) => kill(ctx.gw, |k| uids.contains(&k.uid)).await,
    }
    reply(doc! { "ok": 1.0 })
}

/// The documents `$listLocalSessions: spec` lists.
pub fn local_sessions(ctx: &Ctx<'_>, spec: RawBsonRef<'_>) -> CommandResult<RawArrayBuf> {
    let user = ctx.authenticated()?;
    let owners = list_spec_owners(spec, &user)?;
    check_may_act_on(&user, &owners, "list")?;
    let mut sessions = RawArrayBuf::new();
    for (key, record) in ctx.gw.sessions.list(&owners) {
        let d = RawDocumentBuf::try_from(&session_document(&key, &record))
            .map_err(|e| CommandError::internal(format!("could not encode a session: {e}")))?;
        sessions.push(d);
        // The listing goes to the extension inside one command document.
        if sessions.as_bytes().len() > MAX_BSON_OBJECT_SIZE {
            return Err(CommandError::new(
                ErrorCode::BSONObjectTooLarge,
                format!("$listLocalSessions: the sessions listed exceed {MAX_BSON_OBJECT_SIZE} bytes; filter by user"),
            ));
        }
    }
    Ok(sessions)
}

/// `{}` (the caller's sessions), `{allUsers: true}` or `{users: [{user, db}, ...]}`.
fn list_spec_owners(spec: RawBsonRef<'_>, user: &AuthenticatedUser) -> CommandResult<Owners> {
    let RawBsonRef::Document(spec) = spec else {
        return Err(CommandError::type_mismatch(
            "$listLocalSessions takes an object: {}, {allUsers: true} or {users: [...]}",
        ));
    };
    let mut all_users = false;
    let mut users = None;
    for element in spec {
        let (k, v) = element?;
        match (k.as_str(), v) {
            ("allUsers", RawBsonRef::Boolean(b)) => all_users = b,
            ("allUsers", _) => {
                return Err(CommandError::type_mismatch("$listLocalSessions.allUsers must be a boolean"))
            }
            ("users", v) => users = Some(user_list(v, "$listLocalSessions.users")?),
            (other, _) => {
                return Err(CommandError::new(
                    ErrorCode::new(40415),
                    format!("BSON field '$listLocalSessions.{other}' is an unknown field."),
                ))
            }
        }
    }
    match (all_users, users) {
        (true, Some(_)) => {
            Err(CommandError::bad_value("$listLocalSessions: allUsers: true cannot be combined with a list of users"))
        }
        (true, None) => Ok(Owners::All),
        (false, Some(uids)) if !uids.is_empty() => Ok(Owners::Users(uids)),
        (false, _) => Ok(Owners::Users(vec![user.session_uid()])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use documentdb_scram::Mechanism;

    fn user(name: &str, admin: bool) -> AuthenticatedUser {
        AuthenticatedUser {
            name: name.into(),
            db: "admin".into(),
            role: name.into(),
            cluster_actions: if admin { vec!["listSessions".into(), "killAnySession".into()] } else { Vec::new() },
            privileges_epoch: 0,
            mechanism: Mechanism::Sha256,
        }
    }

    #[test]
    fn list_spec_forms() {
        let alice = user("alice", false);
        let own = Owners::Users(vec![user_digest("alice", "admin")]);
        let spec = bson::rawdoc! {};
        assert_eq!(list_spec_owners(RawBsonRef::Document(&spec), &alice).unwrap(), own);
        let spec = bson::rawdoc! { "allUsers": true };
        assert_eq!(list_spec_owners(RawBsonRef::Document(&spec), &alice).unwrap(), Owners::All);
        let spec = bson::rawdoc! { "users": [{ "user": "bob", "db": "admin" }] };
        assert_eq!(
            list_spec_owners(RawBsonRef::Document(&spec), &alice).unwrap(),
            Owners::Users(vec![user_digest("bob", "admin")])
        );
        let spec = bson::rawdoc! { "allUsers": true, "users": [] };
        assert!(list_spec_owners(RawBsonRef::Document(&spec), &alice).is_err());
        let spec = bson::rawdoc! { "bogus": 1 };
        assert_eq!(list_spec_owners(RawBsonRef::Document(&spec), &alice).unwrap_err().code.code(), 40415);
    }

    #[test]
    fn other_users_sessions_need_the_privilege() {
        let alice = user("alice", false);
        let root = user("root", true);
        let own = Owners::Users(vec![user_digest("alice", "admin")]);
        assert!(check_may_act_on(&alice, &own, "list").is_ok());
        assert!(check_may_act_on(&alice, &Owners::All, "list").is_err());
        assert!(check_may_act_on(&root, &Owners::All, "list").is_ok());
    }
}
