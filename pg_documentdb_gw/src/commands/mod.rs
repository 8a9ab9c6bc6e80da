//! The command table (one row per command: name, aliases, handler, auth, help), the
//! command request, argument readers and dispatch to the handlers, which are grouped by
//! command family in the submodules. The same table answers `listCommands`.

mod auth;
mod collections;
mod crud;
mod cursors;
mod diagnostics;
mod handshake;
mod indexes;
mod operations;
mod sessions;
mod sql_call;
mod transactions;
mod users;
pub mod write_concern;

use bson::{doc, Document, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_bson::type_name;
use documentdb_errors::ErrorCode;

use crate::connection::{AuthenticatedUser, ClientConnection};
use crate::error::{CommandError, CommandResult};
use crate::gateway::Gateway;
use crate::protocol::{OpMsg, OpQuery};
use crate::session_cache::SessionKey;

pub use sessions::close_session_cursors;

/// One command as received: its name, database, body, and the OP_MSG document sequence
/// that goes to SQL as `$3` (insert/update/delete).
#[derive(Debug, Clone)]
pub struct CommandRequest {
    pub name: String,
    pub db: String,
    pub body: RawDocumentBuf,
    pub sequence: Option<Vec<u8>>,
}

/// The document sequence each write command takes as `$3`.
fn sequence_identifier(command: &str) -> Option<&'static str> {
    match command {
        "insert" => Some("documents"),
        "update" => Some("updates"),
        "delete" => Some("deletes"),
        _ => None,
    }
}

fn first_key(body: &RawDocument) -> CommandResult<String> {
    match body.iter().next() {
        Some(Ok((key, _))) => Ok(key.as_str().to_owned()),
        Some(Err(e)) => Err(e.into()),
        None => Err(CommandError::new(ErrorCode::CommandNotFound, "no such command: ''")),
    }
}

impl CommandRequest {
    pub fn from_op_msg(msg: &OpMsg) -> CommandResult<CommandRequest> {
        let mut body = RawDocumentBuf::from_bytes(msg.body.clone())?;
        let name = first_key(&body)?;
        let db = match body.get("$db")? {
            Some(RawBsonRef::String(db)) => db.to_owned(),
            Some(_) => return Err(CommandError::type_mismatch("$db is not a string")),
            None => return Err(CommandError::new(ErrorCode::new(40571), "OP_MSG requests require a $db argument")),
        };
        let mut sequence = None;
        match (sequence_identifier(&name), msg.sequences.as_slice()) {
            (_, []) => {}
            (Some(expected), [only]) if only.identifier == expected && body.get(expected)?.is_none() => {
                sequence = Some(only.documents.clone());
            }
            (_, sequences) => {
                // Any other sequence becomes an array field of the body, as if sent inline.
                for seq in sequences {
                    if body.get(&seq.identifier)?.is_some() {
                        return Err(CommandError::bad_value(format!(
                            "duplicate document sequence field '{}' in the command body",
                            seq.identifier
                        )));
                    }
                    let mut array = bson::RawArrayBuf::new();
                    for d in seq.iter() {
                        array.push(d.to_owned());
                    }
                    let key = bson::raw::CString::try_from(seq.identifier.as_str())
                        .map_err(|e| CommandError::bad_value(e.to_string()))?;
                    body.append(key, array);
                }
            }
        }
        Ok(CommandRequest { name, db, body, sequence })
    }

    /// A command sent as OP_QUERY on `<db>.$cmd`; `None` for a legacy OP_QUERY on a collection.
    pub fn from_op_query(query: &OpQuery) -> CommandResult<Option<CommandRequest>> {
        let Some(db) = query.full_collection_name.strip_suffix(".$cmd") else {
            return Ok(None);
        };
        let raw = RawDocument::from_bytes(&query.query)?;
        // Legacy wrapped form: {$query: {...}, $readPreference: ...}.
        let inner = match raw.iter().next() {
            Some(Ok((k, RawBsonRef::Document(d)))) if k == "$query" || k == "query" => d,
            _ => raw,
        };
        let mut body = inner.to_owned();
        if body.get("$db")?.is_none() {
            body.append(bson::raw::cstr!("$db"), db);
        }
        let name = first_key(&body)?;
        Ok(Some(CommandRequest { name, db: db.to_owned(), body, sequence: None }))
    }
}

/// What a handler works with.
pub struct Ctx<'a> {
    pub gw: &'a Gateway,
    pub connection: &'a mut ClientConnection,
    /// The logical session (`lsid`) the command runs in, once dispatch has recorded it.
    pub lsid: Option<SessionKey>,
    /// A retryable write's `txnNumber` (with `lsid`), once dispatch has checked it.
    pub txn_number: Option<i64>,
    /// The session's transaction state, locked while a statement of its open transaction
    /// runs (the statement borrows the transaction's connection: see `sql_call`).
    pub txn: Option<crate::transactions::SessionGuard>,
    /// With `txn`, when it is the snapshot of a snapshot read: its cluster time.
    pub snapshot: Option<bson::Timestamp>,
}

impl Ctx<'_> {
    pub fn user(&self) -> Option<&str> {
        self.connection.pg_role()
    }

    /// The authenticated user, for commands that act on the user's own sessions/operations.
    pub fn authenticated(&self) -> CommandResult<AuthenticatedUser> {
        self.connection.user.clone().ok_or_else(|| CommandError::unauthorized("this command requires authentication"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    // Answered by the gateway.
    Hello,
    Ping,
    BuildInfo,
    HostInfo,
    GetParameter,
    SetParameter,
    GetCmdLineOpts,
    ListCommands,
    ConnectionStatus,
    ServerStatus,
    ReplSetGetStatus,
    ReplSetGetConfig,
    WhatsMyUri,
    StartSession,
    EndSessions,
    KillSessions,
    KillAllSessions,
    RefreshSessions,
    CurrentOp,
    KillOp,
    GetLastError,
    SaslStart,
    SaslContinue,
    Logout,
    GetMore,
    KillCursors,
    // Routed to SQL.
    Explain,
    Insert,
    Update,
    Delete,
    FindAndModify,
    Find,
    Aggregate,
    ListCollections,
    ListIndexes,
    Count,
    Distinct,
    Create,
    Drop,
    DropDatabase,
    RenameCollection,
    CollMod,
    CollStats,
    DbStats,
    ListDatabases,
    CreateIndexes,
    DropIndexes,
    ReIndex,
    /// Atlas Search index commands: refused as a mongod without Atlas Search does.
    SearchIndexes,
    /// Users and roles (`createUser` ... `rolesInfo`): one SQL function each.
    UserAdmin,
    ConfigureFailPoint,
    CommitTransaction,
    AbortTransaction,
}

pub struct CommandSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub handler: Handler,
    pub requires_auth: bool,
    /// Only on the `admin` database.
    pub admin_only: bool,
    /// The command's value names a collection (a non-empty string).
    pub collection: bool,
    /// Runs one SQL call in the user's database (which must be a valid name).
    pub sql: bool,
    pub help: &'static str,
}

const fn local(
    name: &'static str,
    aliases: &'static [&'static str],
    handler: Handler,
    auth: bool,
    help: &'static str,
) -> CommandSpec {
    CommandSpec { name, aliases, handler, requires_auth: auth, admin_only: false, collection: false, sql: false, help }
}

const fn sql(
    name: &'static str,
    aliases: &'static [&'static str],
    handler: Handler,
    collection: bool,
    help: &'static str,
) -> CommandSpec {
    CommandSpec { name, aliases, handler, requires_auth: true, admin_only: false, collection, sql: true, help }
}

const fn admin(mut spec: CommandSpec) -> CommandSpec {
    spec.admin_only = true;
    spec
}

use Handler as H;

pub static COMMANDS: &[CommandSpec] = &[
    local("hello", &[], H::Hello, false, "describes this server and negotiates compression"),
    local("isMaster", &["ismaster"], H::Hello, false, "legacy form of hello"),
    local("ping", &[], H::Ping, false, "a no-op to test whether the server is up"),
    local("buildInfo", &["buildinfo"], H::BuildInfo, false, "version and build information"),
    local("hostInfo", &[], H::HostInfo, true, "information about the host"),
    admin(local("getParameter", &[], H::GetParameter, true, "reads server parameters ('*' for all)")),
    admin(local(
        "setParameter",
        &[],
        H::SetParameter,
        true,
        "changes a runtime parameter (transactionLifetimeLimitSeconds)",
    )),
    admin(local("getCmdLineOpts", &[], H::GetCmdLineOpts, true, "the gateway's startup options")),
    local("listCommands", &[], H::ListCommands, false, "lists the commands this server answers"),
    local("connectionStatus", &[], H::ConnectionStatus, false, "the users and roles authenticated on this connection"),
    local("serverStatus", &[], H::ServerStatus, true, "server statistics"),
    admin(local("replSetGetStatus", &[], H::ReplSetGetStatus, true, "the single-node replica set's status")),
    admin(local("replSetGetConfig", &[], H::ReplSetGetConfig, true, "the single-node replica set's configuration")),
    local("whatsmyuri", &[], H::WhatsMyUri, false, "the client's address as the server sees it"),
    local("startSession", &[], H::StartSession, true, "starts a logical session"),
    local("endSessions", &[], H::EndSessions, false, "ends logical sessions and closes their cursors"),
    local("killAllSessions", &[], H::KillAllSessions, true, "closes the cursors of all sessions of the given users"),
    local("killSessions", &[], H::KillSessions, true, "closes the cursors of logical sessions"),
    local("refreshSessions", &[], H::RefreshSessions, true, "marks logical sessions as used"),
    admin(local("currentOp", &[], H::CurrentOp, true, "lists running operations (filter on their fields)")),
    admin(local("killOp", &[], H::KillOp, true, "interrupts a running operation")),
    local("getLastError", &["getlasterror"], H::GetLastError, true, "legacy write acknowledgement (always ok)"),
    local("saslStart", &[], H::SaslStart, false, "starts a SCRAM-SHA-1 or SCRAM-SHA-256 authentication"),
    local("saslContinue", &[], H::SaslContinue, false, "continues a SCRAM authentication"),
    local("logout", &[], H::Logout, false, "logs the connection's user out"),
    local("getMore", &[], H::GetMore, true, "the next batch of a cursor"),
    local("killCursors", &[], H::KillCursors, true, "closes cursors"),
    sql("explain", &[], H::Explain, false, "explains a find, aggregate, count or distinct"),
    sql("find", &[], H::Find, true, "queries a collection"),
    sql("aggregate", &[], H::Aggregate, false, "runs an aggregation pipeline"),
    sql("count", &[], H::Count, true, "counts matching documents"),
    sql("distinct", &[], H::Distinct, true, "distinct values of a field"),
    sql("insert", &[], H::Insert, true, "inserts documents"),
    sql("update", &[], H::Update, true, "updates documents"),
    sql("delete", &[], H::Delete, true, "deletes documents"),
    sql("findAndModify", &["findandmodify"], H::FindAndModify, true, "updates or deletes one document and returns it"),
    sql("create", &[], H::Create, true, "creates a collection or view"),
    sql("drop", &[], H::Drop, true, "drops a collection"),
    sql("dropDatabase", &[], H::DropDatabase, false, "drops the database"),
    sql("listCollections", &[], H::ListCollections, false, "lists the database's collections"),
    admin(sql("listDatabases", &[], H::ListDatabases, false, "lists databases")),
    admin(sql("renameCollection", &[], H::RenameCollection, false, "renames a collection")),
    sql("collMod", &[], H::CollMod, true, "changes collection options"),
    sql("collStats", &[], H::CollStats, true, "collection statistics"),
    sql("dbStats", &[], H::DbStats, false, "database statistics"),
    sql("createIndexes", &[], H::CreateIndexes, true, "creates indexes"),
    sql("dropIndexes", &["deleteIndexes"], H::DropIndexes, true, "drops indexes"),
    sql("listIndexes", &[], H::ListIndexes, true, "lists a collection's indexes"),
    sql("reIndex", &[], H::ReIndex, true, "rebuilds a collection's indexes"),
    local("createSearchIndexes", &[], H::SearchIndexes, true, "Atlas Search indexes (not enabled: SearchNotEnabled)"),
    local("dropSearchIndex", &[], H::SearchIndexes, true, "Atlas Search indexes (not enabled: SearchNotEnabled)"),
    local("updateSearchIndex", &[], H::SearchIndexes, true, "Atlas Search indexes (not enabled: SearchNotEnabled)"),
    sql("createUser", &[], H::UserAdmin, false, "creates a user"),
    sql("dropUser", &[], H::UserAdmin, false, "drops a user"),
    sql("updateUser", &[], H::UserAdmin, false, "changes a user's password, roles or customData"),
    sql("usersInfo", &[], H::UserAdmin, false, "describes users"),
    sql("grantRolesToUser", &[], H::UserAdmin, false, "grants roles to a user"),
    sql("revokeRolesFromUser", &[], H::UserAdmin, false, "revokes roles from a user"),
    sql("dropAllUsersFromDatabase", &[], H::UserAdmin, false, "drops every user of the database"),
    sql("createRole", &[], H::UserAdmin, false, "creates a user-defined role"),
    sql("updateRole", &[], H::UserAdmin, false, "replaces a role's privileges or inherited roles"),
    sql("dropRole", &[], H::UserAdmin, false, "drops a user-defined role"),
    sql("dropAllRolesFromDatabase", &[], H::UserAdmin, false, "drops every user-defined role of the database"),
    sql("rolesInfo", &[], H::UserAdmin, false, "describes roles (with showPrivileges, showBuiltinRoles)"),
    sql("grantRolesToRole", &[], H::UserAdmin, false, "adds inherited roles to a role"),
    sql("revokeRolesFromRole", &[], H::UserAdmin, false, "removes inherited roles from a role"),
    sql("grantPrivilegesToRole", &[], H::UserAdmin, false, "adds privileges to a role"),
    sql("revokePrivilegesFromRole", &[], H::UserAdmin, false, "removes privileges from a role"),
    admin(local("commitTransaction", &[], H::CommitTransaction, true, "commits the session's transaction")),
    admin(local("abortTransaction", &[], H::AbortTransaction, true, "aborts the session's transaction")),
    admin(local(
        "configureFailPoint",
        &[],
        H::ConfigureFailPoint,
        true,
        "test-only: injects failures (enable with --enable-test-commands)",
    )),
];

pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name || c.aliases.contains(&name))
}

/// Whether this gateway answers `spec`: test-only commands exist only when enabled.
fn is_available(gw: &Gateway, spec: &CommandSpec) -> bool {
    gw.config.enable_test_commands || !matches!(spec.handler, Handler::ConfigureFailPoint)
}

/// The commands this gateway answers.
pub fn available(gw: &Gateway) -> impl Iterator<Item = &'static CommandSpec> + '_ {
    COMMANDS.iter().filter(|c| is_available(gw, c))
}

/// Commands whose replies are never compressed (compression spec).
pub fn reply_may_be_compressed(name: &str) -> bool {
    !matches!(
        name,
        "hello"
            | "isMaster"
            | "ismaster"
            | "saslStart"
            | "saslContinue"
            | "getnonce"
            | "authenticate"
            | "createUser"
            | "updateUser"
            | "copydbSaslStart"
            | "copydbgetnonce"
            | "copydb"
    )
}

/// A database name MongoDB accepts.
pub fn validate_db_name(db: &str) -> CommandResult<()> {
    let bad =
        db.is_empty() || db.len() >= 64 || db.chars().any(|c| matches!(c, '/' | '\\' | '.' | ' ' | '"' | '$' | '\0'));
    if bad {
        return Err(CommandError::new(ErrorCode::InvalidNamespace, format!("Invalid database name: '{db}'")));
    }
    Ok(())
}

/// The collection named by the command's first field.
pub fn collection_name(req: &CommandRequest) -> CommandResult<&str> {
    match req.body.iter().next() {
        // PostgreSQL text cannot hold NUL: such a name would fail in SQL as an internal error.
        Some(Ok((_, RawBsonRef::String(s)))) if s.contains('\0') => Err(CommandError::new(
            ErrorCode::InvalidNamespace,
            format!("Invalid collection name: {:?} contains the null character", s),
        )),
        Some(Ok((_, RawBsonRef::String(s)))) if !s.is_empty() => Ok(s),
        Some(Ok((_, RawBsonRef::String(_)))) => {
            Err(CommandError::new(ErrorCode::InvalidNamespace, format!("Invalid namespace specified '{}.'", req.db)))
        }
        Some(Ok((_, v))) => Err(CommandError::new(
            ErrorCode::InvalidNamespace,
            format!("collection name has invalid type {}", type_name(v.element_type())),
        )),
        Some(Err(e)) => Err(e.into()),
        None => Err(CommandError::internal("empty command")),
    }
}

/// A numeric field as an integer (int32, int64, or a double with no fraction).
pub fn get_integer(body: &RawDocument, key: &str) -> CommandResult<Option<i64>> {
    match body.get(key)? {
        None => Ok(None),
        Some(RawBsonRef::Int32(i)) => Ok(Some(i as i64)),
        Some(RawBsonRef::Int64(i)) => Ok(Some(i)),
        Some(RawBsonRef::Double(d)) if d.fract() == 0.0 && d.abs() < 9.2e18 => Ok(Some(d as i64)),
        Some(RawBsonRef::Double(d)) => Err(CommandError::bad_value(format!("{key} must be an integer, got {d}"))),
        Some(v) => {
            Err(CommandError::type_mismatch(format!("{key} must be a number, not {}", type_name(v.element_type()))))
        }
    }
}

pub fn get_number(body: &RawDocument, key: &str) -> CommandResult<Option<f64>> {
    match body.get(key)? {
        None => Ok(None),
        Some(RawBsonRef::Int32(i)) => Ok(Some(i as f64)),
        Some(RawBsonRef::Int64(i)) => Ok(Some(i as f64)),
        Some(RawBsonRef::Double(d)) => Ok(Some(d)),
        Some(v) => {
            Err(CommandError::type_mismatch(format!("{key} must be a number, not {}", type_name(v.element_type()))))
        }
    }
}

/// Truthiness as MongoDB reads flags: booleans, and numbers (non-zero is true).
pub fn get_flag(body: &RawDocument, key: &str) -> CommandResult<bool> {
    Ok(match body.get(key)? {
        None | Some(RawBsonRef::Null) | Some(RawBsonRef::Undefined) => false,
        Some(RawBsonRef::Boolean(b)) => b,
        Some(RawBsonRef::Int32(i)) => i != 0,
        Some(RawBsonRef::Int64(i)) => i != 0,
        Some(RawBsonRef::Double(d)) => d != 0.0,
        Some(_) => true,
    })
}

/// `maxTimeMS` as a statement timeout (None: no limit).
pub fn max_time_ms(body: &RawDocument) -> CommandResult<Option<u64>> {
    let v = match body.get("maxTimeMS")? {
        None | Some(RawBsonRef::Null) => return Ok(None),
        Some(RawBsonRef::Int32(i)) => i as f64,
        Some(RawBsonRef::Int64(i)) => i as f64,
        Some(RawBsonRef::Double(d)) => d,
        Some(RawBsonRef::Decimal128(_)) => {
            return Err(CommandError::bad_value("maxTimeMS must be a number"));
        }
        Some(v) => {
            return Err(CommandError::bad_value(format!(
                "maxTimeMS must be a number, not {}",
                type_name(v.element_type())
            )))
        }
    };
    if v.is_nan() || v < 0.0 {
        return Err(CommandError::bad_value(format!("{v} value for maxTimeMS is out of range [0, 2147483647]")));
    }
    if v > i32::MAX as f64 {
        return Err(CommandError::bad_value(format!("{v} value for maxTimeMS is out of range [0, 2147483647]")));
    }
    if v.fract() != 0.0 {
        return Err(CommandError::bad_value(format!("maxTimeMS has non-integral value {v}")));
    }
    Ok(if v == 0.0 { None } else { Some(v as u64) })
}

/// Serializes a reply built by the gateway.
pub fn reply(doc: Document) -> CommandResult<Vec<u8>> {
    doc.to_vec().map_err(|e| CommandError::internal(format!("could not encode reply: {e}")))
}

pub fn ok() -> Document {
    doc! { "ok": 1.0 }
}

/// Users and roles changed through this gateway since the connection's user read its
/// cluster privileges: read them again (MongoDB invalidates its user cache the same way).
async fn refresh_privileges(ctx: &mut Ctx<'_>) {
    let epoch = ctx.gw.pool.role_epoch();
    let Some(user) = ctx.connection.user.as_ref().filter(|u| u.privileges_epoch != epoch) else { return };
    let actions = auth::cluster_actions(ctx.gw, &user.role).await;
    if let Some(user) = ctx.connection.user.as_mut() {
        user.cluster_actions = actions;
        user.privileges_epoch = epoch;
    }
}

/// The read concern levels a replica set member knows.
const READ_CONCERN_LEVELS: &[&str] = &["local", "majority", "linearizable", "available", "snapshot"];

/// Does an aggregate's pipeline end in `$out` or `$merge` (a write)?
pub(crate) fn pipeline_ends_in_write(body: &RawDocument) -> bool {
    match body.get("pipeline") {
        Ok(Some(RawBsonRef::Array(stages))) => stages.into_iter().last().is_some_and(|s| {
            matches!(s, Ok(RawBsonRef::Document(d))
                if d.iter().next().is_some_and(|e| matches!(e, Ok((k, _)) if k.as_str() == "$out" || k.as_str() == "$merge")))
        }),
        _ => false,
    }
}

/// What a `snapshot` read concern outside a transaction asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotRead {
    /// A new snapshot, whose time the reply reports (`atClusterTime`).
    Latest,
    /// The snapshot taken at this cluster time.
    At(bson::Timestamp),
}

/// `readConcern`: MongoDB's levels have their single-node meaning here (every committed write
/// is majority-committed and linearizable, `afterClusterTime` is always reached). `snapshot`
/// is a transaction's level (its REPEATABLE READ snapshot), and outside transactions the
/// snapshot read of find, aggregate and distinct (returned). `atClusterTime` picks a snapshot
/// taken before; a transaction cannot start at a chosen time.
fn check_read_concern(
    body: &RawDocument,
    starts_transaction: bool,
    command: &str,
) -> CommandResult<Option<SnapshotRead>> {
    let rc = match body.get("readConcern")? {
        None => return Ok(None),
        Some(RawBsonRef::Document(rc)) => rc,
        Some(other) => {
            return Err(CommandError::type_mismatch(format!(
                "BSON field 'readConcern' is the wrong type '{}', expected type 'object'",
                type_name(other.element_type())
            )))
        }
    };
    let mut snapshot = false;
    let mut at_cluster_time = None;
    for element in rc {
        let (key, value) = element?;
        match (key.as_str(), value) {
            ("level", RawBsonRef::String("linearizable")) if command == "aggregate" && pipeline_ends_in_write(body) => {
                return Err(CommandError::new(
                    ErrorCode::InvalidOptions,
                    "$out and $merge cannot be used with readConcern level 'linearizable'",
                ))
            }
            ("level", RawBsonRef::String(level)) if READ_CONCERN_LEVELS.contains(&level) => {
                snapshot = level == "snapshot"
            }
            ("level", RawBsonRef::String(level)) => {
                return Err(CommandError::new(
                    ErrorCode::FailedToParse,
                    format!(
                        "readConcern level '{level}' is not one of local, majority, linearizable, available, snapshot"
                    ),
                ))
            }
            ("level", _) => return Err(CommandError::type_mismatch("readConcern.level must be a string")),
            ("afterClusterTime", RawBsonRef::Timestamp(_)) => {}
            ("atClusterTime", RawBsonRef::Timestamp(t)) => at_cluster_time = Some(t),
            ("afterClusterTime" | "atClusterTime", _) => {
                return Err(CommandError::type_mismatch(format!("readConcern.{} must be a timestamp", key.as_str())))
            }
            ("afterOpTime" | "provenance", _) => {}
            (other, _) => {
                return Err(CommandError::new(
                    ErrorCode::new(40415),
                    format!("BSON field 'ReadConcernArgs.{other}' is an unknown field."),
                ))
            }
        }
    }
    if at_cluster_time.is_some() && !snapshot {
        return Err(CommandError::new(
            ErrorCode::InvalidOptions,
            "atClusterTime is only allowed with readConcern level 'snapshot'",
        ));
    }
    if !snapshot {
        return Ok(None);
    }
    if starts_transaction {
        if at_cluster_time.is_some() {
            return Err(CommandError::new(
                ErrorCode::NotImplemented,
                "a transaction cannot start at a chosen atClusterTime yet; it reads the latest snapshot",
            ));
        }
        return Ok(None);
    }
    // Drivers repeat the session's read concern on getMore; the cursor reads at its own
    // snapshot already.
    if command == "getMore" {
        return Ok(None);
    }
    if !matches!(command, "find" | "aggregate" | "distinct") {
        return Err(CommandError::new(
            ErrorCode::InvalidOptions,
            format!(
                "readConcern level 'snapshot' is only valid in multi-document transactions or for find, aggregate \
                 and distinct, not {command}"
            ),
        ));
    }
    Ok(Some(at_cluster_time.map_or(SnapshotRead::Latest, SnapshotRead::At)))
}

/// The command's `txnNumber` (a long; an int is accepted).
pub fn txn_number(body: &RawDocument) -> CommandResult<Option<i64>> {
    match body.get("txnNumber")? {
        Some(RawBsonRef::Int64(n)) => Ok(Some(n)),
        Some(RawBsonRef::Int32(n)) => Ok(Some(i64::from(n))),
        Some(other) => Err(CommandError::type_mismatch(format!(
            "BSON field 'txnNumber' is the wrong type '{}', expected type 'long'",
            type_name(other.element_type())
        ))),
        None => Ok(None),
    }
}

/// Runs one command: lookup, auth and namespace checks, then its handler.
pub async fn dispatch(ctx: &mut Ctx<'_>, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    let spec = match lookup(&req.name) {
        Some(spec) if is_available(ctx.gw, spec) => spec,
        _ => {
            return Err(CommandError::new(ErrorCode::CommandNotFound, format!("no such command: '{}'", req.name)));
        }
    };
    if spec.requires_auth && ctx.connection.user.is_none() {
        return Err(CommandError::unauthorized(format!("Command {} requires authentication", spec.name)));
    }
    if spec.admin_only && req.db != "admin" {
        return Err(CommandError::unauthorized(format!("{} may only be run against the admin database.", spec.name)));
    }
    let txn_number = txn_number(&req.body)?;
    let mode = transactions::mode(&req.body)?;
    let commit_or_abort = matches!(spec.handler, H::CommitTransaction | H::AbortTransaction);
    let in_transaction = mode != transactions::Mode::None || commit_or_abort;
    if (txn_number.is_some() || in_transaction) && !ctx.gw.config.is_replica_set() {
        return Err(CommandError::new(
            ErrorCode::IllegalOperation,
            "Transaction numbers are only allowed on a replica set member or mongos",
        ));
    }
    if in_transaction {
        transactions::check_statement(spec, req, mode)?;
    }
    let snapshot_read = check_read_concern(&req.body, mode == transactions::Mode::Start, spec.name)?;
    write_concern::check(&req.body)?;
    ctx.lsid = sessions::record_use(ctx, req)?;
    let transaction_number = match (in_transaction, txn_number) {
        (false, _) => None,
        (true, Some(n)) => Some(n),
        (true, None) => {
            return Err(CommandError::new(
                ErrorCode::InvalidOptions,
                "'autocommit' field requires a transaction number to also be specified",
            ))
        }
    };
    if let Some(n) = txn_number.filter(|_| !in_transaction) {
        if !matches!(spec.handler, H::Insert | H::Update | H::Delete | H::FindAndModify) {
            return Err(CommandError::new(
                ErrorCode::new(50768),
                format!(
                    "txnNumber may only be provided for multi-document transactions and retryable write commands. \
                     autocommit:false was not provided, and {} is not a retryable write command.",
                    spec.name
                ),
            ));
        }
        if ctx.lsid.is_none() {
            return Err(CommandError::new(
                ErrorCode::InvalidOptions,
                "Transaction number requires a session ID to also be specified",
            ));
        }
        if let Some(key) = ctx.lsid {
            // Numbers go up per session: an older one is TransactionTooOld, one a
            // transaction used cannot be retried as a write.
            let mut state = ctx.gw.transactions.lock(key).await;
            let request = crate::transactions::Request::RetryableWrite;
            ctx.gw.transactions.begin_or_continue(&mut state, &ctx.gw.pool, ctx.user(), n, request).await?;
        }
        ctx.txn_number = Some(n);
    }
    refresh_privileges(ctx).await;
    if spec.sql {
        validate_db_name(&req.db)?;
    }
    if spec.collection {
        collection_name(req)?;
    }
    if let Some(read) = snapshot_read {
        return transactions::read_at_snapshot(ctx, spec, req, read).await;
    }
    if let Some(n) = transaction_number {
        if let Some(reply) = transactions::enter(ctx, spec, n, mode).await? {
            return Ok(reply);
        }
        let result = run(ctx, spec, req).await;
        transactions::leave(ctx, &result).await;
        return result;
    }
    run(ctx, spec, req).await
}

/// Runs the command's handler.
pub(super) async fn run(ctx: &mut Ctx<'_>, spec: &CommandSpec, req: &CommandRequest) -> CommandResult<Vec<u8>> {
    match spec.handler {
        H::Hello => handshake::hello(ctx, req).await,
        H::Ping => reply(ok()),
        H::BuildInfo => diagnostics::build_info(),
        H::HostInfo => {
            ctx.authenticated()?.require_cluster_action("hostInfo", "hostInfo", &req.db)?;
            diagnostics::host_info()
        }
        H::GetParameter => {
            ctx.authenticated()?.require_cluster_action("getParameter", "getParameter", &req.db)?;
            diagnostics::get_parameter(ctx, req)
        }
        H::SetParameter => {
            ctx.authenticated()?.require_cluster_action("setParameter", "setParameter", &req.db)?;
            diagnostics::set_parameter(ctx, req)
        }
        H::GetCmdLineOpts => {
            ctx.authenticated()?.require_cluster_action("getCmdLineOpts", "getCmdLineOpts", &req.db)?;
            diagnostics::get_cmd_line_opts(ctx)
        }
        H::ListCommands => diagnostics::list_commands(ctx),
        H::ConnectionStatus => diagnostics::connection_status(ctx, req).await,
        H::ReplSetGetStatus => {
            ctx.authenticated()?.require_cluster_action("replSetGetStatus", "replSetGetStatus", &req.db)?;
            handshake::repl_set_get_status(ctx)
        }
        H::ReplSetGetConfig => {
            ctx.authenticated()?.require_cluster_action("replSetGetConfig", "replSetGetConfig", &req.db)?;
            handshake::repl_set_get_config(ctx)
        }
        H::ServerStatus => {
            ctx.authenticated()?.require_cluster_action("serverStatus", "serverStatus", &req.db)?;
            diagnostics::server_status(ctx)
        }
        H::WhatsMyUri => diagnostics::whats_my_uri(ctx),
        H::StartSession => sessions::start_session(ctx),
        H::EndSessions => sessions::end_sessions(ctx, req).await,
        H::KillSessions => sessions::kill_sessions(ctx, req).await,
        H::KillAllSessions => sessions::kill_all_sessions(ctx, req).await,
        H::RefreshSessions => sessions::refresh_sessions(ctx, req),
        H::CurrentOp => operations::current_op(ctx, req).await,
        H::KillOp => operations::kill_op(ctx, req).await,
        H::GetLastError => crud::get_last_error(),
        H::SaslStart => auth::sasl_start(ctx, req).await,
        H::SaslContinue => auth::sasl_continue(ctx, req).await,
        H::Logout => auth::logout(ctx),
        H::GetMore => cursors::get_more(ctx, req).await,
        H::KillCursors => cursors::kill_cursors(ctx, req).await,
        H::Find => crud::find(ctx, req).await,
        H::Aggregate => crud::aggregate(ctx, req).await,
        H::Count => crud::count(ctx, req).await,
        H::Distinct => crud::distinct(ctx, req).await,
        H::Explain => crud::explain(ctx, req).await,
        H::Insert => crud::insert(ctx, req).await,
        H::Update => crud::update(ctx, req).await,
        H::Delete => crud::delete(ctx, req).await,
        H::FindAndModify => crud::find_and_modify(ctx, req).await,
        H::Create => collections::create(ctx, req).await,
        H::Drop => collections::drop(ctx, req).await,
        H::DropDatabase => collections::drop_database(ctx, req).await,
        H::ListCollections => collections::list_collections(ctx, req).await,
        H::ListDatabases => collections::list_databases(ctx, req).await,
        H::RenameCollection => collections::rename_collection(ctx, req).await,
        H::CollMod => collections::coll_mod(ctx, req).await,
        H::CollStats => collections::coll_stats(ctx, req).await,
        H::DbStats => collections::db_stats(ctx, req).await,
        H::CreateIndexes => indexes::create_indexes(ctx, req).await,
        H::DropIndexes => indexes::drop_indexes(ctx, req).await,
        H::ReIndex => indexes::re_index(ctx, req).await,
        H::ListIndexes => indexes::list_indexes(ctx, req).await,
        H::UserAdmin => users::run(ctx, req).await,
        H::SearchIndexes => {
            Err(CommandError::new(ErrorCode::SearchNotEnabled, documentdb_errors::SEARCH_NOT_ENABLED_MESSAGE))
        }
        H::ConfigureFailPoint => reply(ctx.gw.failpoints.configure(&req.body)?),
        // Answered by transactions::enter.
        H::CommitTransaction | H::AbortTransaction => {
            Err(CommandError::internal(format!("{} reached no transaction", spec.name)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::DocumentSequence;
    use bson::rawdoc;

    /// Manual (read concern): the five levels; snapshot reads are refused until implemented.
    #[test]
    fn read_concerns() {
        let code = |rc: bson::RawDocumentBuf| {
            check_read_concern(&rawdoc! { "find": "c", "readConcern": rc }, false, "count").err().map(|e| e.code.code())
        };
        for level in ["local", "majority", "linearizable", "available"] {
            assert_eq!(code(rawdoc! { "level": level }), None, "{level}");
        }
        assert_eq!(code(rawdoc! { "afterClusterTime": bson::Timestamp { time: 1, increment: 1 } }), None);
        assert_eq!(code(rawdoc! { "level": "snapshot" }), Some(72), "count has no snapshot reads");
        assert_eq!(code(rawdoc! { "level": "eventual" }), Some(9));
        assert_eq!(code(rawdoc! { "level": 1 }), Some(14));
        assert_eq!(code(rawdoc! { "atClusterTime": bson::Timestamp { time: 1, increment: 1 } }), Some(72));
        assert_eq!(code(rawdoc! { "bogus": 1 }), Some(40415));
        assert!(check_read_concern(&rawdoc! { "find": "c" }, false, "find").unwrap().is_none());
        // $out/$merge refuse linearizable reads (crud spec aggregate-out-readConcern).
        let out =
            rawdoc! { "aggregate": "c", "pipeline": [{ "$out": "o" }], "readConcern": { "level": "linearizable" } };
        assert_eq!(check_read_concern(&out, false, "aggregate").unwrap_err().code.code(), 72);
        let plain = rawdoc! { "aggregate": "c", "pipeline": [], "readConcern": { "level": "linearizable" } };
        assert!(check_read_concern(&plain, false, "aggregate").unwrap().is_none());
        let snapshot = rawdoc! { "find": "c", "readConcern": { "level": "snapshot" } };
        assert!(check_read_concern(&snapshot, true, "find").unwrap().is_none(), "a transaction's level");
        assert_eq!(check_read_concern(&snapshot, false, "find").unwrap(), Some(SnapshotRead::Latest));
        let t = bson::Timestamp { time: 7, increment: 2 };
        let at = rawdoc! { "find": "c", "readConcern": { "level": "snapshot", "atClusterTime": t } };
        assert_eq!(check_read_concern(&at, false, "distinct").unwrap(), Some(SnapshotRead::At(t)));
        assert_eq!(check_read_concern(&at, true, "find").unwrap_err().code.code(), 238);
    }

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            for a in c.aliases {
                assert!(seen.insert(a), "duplicate alias {a}");
            }
            assert!(!c.help.is_empty());
            assert!(!c.sql || c.requires_auth, "{} runs SQL without auth", c.name);
        }
        for name in [
            "hello",
            "isMaster",
            "ismaster",
            "ping",
            "buildInfo",
            "hostInfo",
            "getParameter",
            "getCmdLineOpts",
            "listCommands",
            "connectionStatus",
            "serverStatus",
            "whatsmyuri",
            "endSessions",
            "killAllSessions",
            "startSession",
            "saslStart",
            "saslContinue",
            "logout",
            "getMore",
            "killCursors",
            "explain",
            "getLastError",
            "find",
            "aggregate",
            "count",
            "distinct",
            "insert",
            "update",
            "delete",
            "findAndModify",
            "create",
            "drop",
            "dropDatabase",
            "listCollections",
            "listDatabases",
            "renameCollection",
            "collMod",
            "collStats",
            "dbStats",
            "createIndexes",
            "dropIndexes",
            "listIndexes",
            "reIndex",
            "createUser",
            "dropUser",
            "updateUser",
            "usersInfo",
        ] {
            assert!(lookup(name).is_some(), "missing {name}");
        }
        assert!(lookup("foo").is_none());
        assert!(lookup("FIND").is_none());
    }

    #[test]
    fn pre_auth_commands() {
        let open: Vec<&str> = COMMANDS.iter().filter(|c| !c.requires_auth).map(|c| c.name).collect();
        for name in ["hello", "isMaster", "ping", "buildInfo", "saslStart", "saslContinue", "logout", "endSessions"] {
            assert!(open.contains(&name), "{name} should not need auth");
        }
        for name in ["find", "insert", "listDatabases", "getMore", "serverStatus", "createUser"] {
            assert!(lookup(name).unwrap().requires_auth, "{name} must need auth");
        }
    }

    #[test]
    fn sequences_become_sql_param_or_body_fields() {
        let seq = |id: &str| DocumentSequence {
            identifier: id.into(),
            documents: [rawdoc! {"a": 1}.into_bytes(), rawdoc! {"a": 2}.into_bytes()].concat(),
            count: 2,
        };
        let msg = OpMsg {
            flags: 0,
            body: rawdoc! {"insert": "c", "$db": "d"}.into_bytes(),
            sequences: vec![seq("documents")],
        };
        let req = CommandRequest::from_op_msg(&msg).unwrap();
        assert_eq!((req.name.as_str(), req.db.as_str()), ("insert", "d"));
        assert_eq!(req.sequence.as_ref().map(Vec::len), Some(seq("documents").documents.len()));
        // Another command's sequence is merged into the body.
        let msg = OpMsg { flags: 0, body: rawdoc! {"foo": "c", "$db": "d"}.into_bytes(), sequences: vec![seq("docs")] };
        let req = CommandRequest::from_op_msg(&msg).unwrap();
        assert!(req.sequence.is_none());
        assert_eq!(req.body.get_array("docs").unwrap().into_iter().count(), 2);
        // $db is required.
        let msg = OpMsg { flags: 0, body: rawdoc! {"ping": 1}.into_bytes(), sequences: vec![] };
        assert_eq!(CommandRequest::from_op_msg(&msg).unwrap_err().code.code(), 40571);
    }

    #[test]
    fn op_query_commands() {
        let q = OpQuery {
            flags: 0,
            full_collection_name: "admin.$cmd".into(),
            number_to_skip: 0,
            number_to_return: -1,
            query: rawdoc! {"$query": {"isMaster": 1}, "$readPreference": {"mode": "primary"}}.into_bytes(),
            return_fields_selector: None,
        };
        let req = CommandRequest::from_op_query(&q).unwrap().unwrap();
        assert_eq!((req.name.as_str(), req.db.as_str()), ("isMaster", "admin"));
        assert_eq!(req.body.get_str("$db").unwrap(), "admin");
        let q2 = OpQuery { full_collection_name: "test.coll".into(), ..q };
        assert!(CommandRequest::from_op_query(&q2).unwrap().is_none());
    }

    #[test]
    fn field_helpers() {
        let d = rawdoc! {"a": 5, "b": 2.0, "c": 2.5, "d": "x", "m": 100i64, "n": -1, "t": true};
        assert_eq!(get_integer(&d, "a").unwrap(), Some(5));
        assert_eq!(get_integer(&d, "b").unwrap(), Some(2));
        assert!(get_integer(&d, "c").is_err());
        assert!(get_integer(&d, "d").is_err());
        assert_eq!(get_integer(&d, "zz").unwrap(), None);
        assert!(get_flag(&d, "t").unwrap() && !get_flag(&d, "zz").unwrap());
        assert_eq!(max_time_ms(&rawdoc! {"maxTimeMS": 100i64}).unwrap(), Some(100));
        assert_eq!(max_time_ms(&rawdoc! {"maxTimeMS": 0}).unwrap(), None);
        assert!(max_time_ms(&rawdoc! {"maxTimeMS": -1}).is_err());
        assert!(max_time_ms(&rawdoc! {"maxTimeMS": "x"}).is_err());
        let req =
            |body: bson::RawDocumentBuf| CommandRequest { name: "find".into(), db: "d".into(), body, sequence: None };
        assert_eq!(collection_name(&req(rawdoc! {"find": "c"})).unwrap(), "c");
        for bad in [rawdoc! {"find": ""}, rawdoc! {"find": "a\0b"}, rawdoc! {"find": 1}] {
            assert_eq!(collection_name(&req(bad)).unwrap_err().code, ErrorCode::InvalidNamespace);
        }
        assert!(validate_db_name("test").is_ok());
        for bad in ["", "a.b", "a b", "a$", "a/b"] {
            assert!(validate_db_name(bad).is_err(), "{bad}");
        }
    }
}
