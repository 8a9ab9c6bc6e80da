#![no_main]
//! The gateway's command layer against a live PostgreSQL with the documentdb extension.
//!
//! Each input becomes client messages that go through `server::handle_frame`, exactly what a
//! connection task runs for every message it reads (fail points, dispatch to the handler,
//! SQL, error replies, reply encoding and compression), on a connection authenticated as the
//! PostgreSQL superuser. Checked for every message: the gateway never panics, answers
//! within a time limit, answers only when a reply is due (moreToCome), and answers with a
//! well-formed message whose body is a valid document with `ok` (and `code`/`errmsg` when
//! it is an error). A lost PostgreSQL connection (a backend crash in the extension) or an
//! exhausted connection pool (a leak) is a failure too.
//!
//! Input: a first byte with `b % 4 == 3` makes the rest one OP_MSG body, raw (its length
//! prefix fixed up); otherwise the bytes drive `command_gen` to build up to four commands
//! (typed fields, operators, stages, document sequences, flags, compression, OP_QUERY).
//!
//! Settings, read once from the environment (see fuzz/README.md):
//! `DOCUMENTDB_FUZZ_PG_SOCKET_DIR` (default /work/main/data), `DOCUMENTDB_FUZZ_PG_PORT`
//! (9712), `DOCUMENTDB_FUZZ_PG_USER` (postgres; peer authentication: run as that OS user),
//! `DOCUMENTDB_FUZZ_PG_DATABASE` (documentdb_fuzz, created with the extension when missing),
//! `DOCUMENTDB_FUZZ_RESET=1` (drop and recreate that database and the fuzz users first),
//! `DOCUMENTDB_FUZZ_ALLOW_UPDATE_USER_ROLES=1` (let `updateUser` with `roles` through),
//! `DOCUMENTDB_FUZZ_INTERNAL_ERRORS_FATAL=1` (an InternalError reply is a failure; by
//! default each distinct one is printed once), `DOCUMENTDB_FUZZ_STATS=1` (every 5000
//! messages, print how many replies each command got per outcome), `DOCUMENTDB_FUZZ_TRACE=1`
//! (print every error reply).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bson::raw::RawIter;
use bson::{rawdoc, RawBsonRef, RawDocument};
use documentdb_fuzz::command_gen::{self, Context, FUZZ_USERS};
use documentdb_gateway::commands::{self, CommandRequest};
use documentdb_gateway::compression::{self, Compressor};
use documentdb_gateway::connection::{AuthenticatedUser, ClientConnection};
use documentdb_gateway::gateway::Gateway;
use documentdb_gateway::protocol::{self, Header, Request, HEADER_LEN, OP_COMPRESSED, OP_MSG, OP_REPLY};
use documentdb_gateway::server;
use documentdb_gateway::session_cache::SessionCache;
use documentdb_gateway::{Config, TlsMode};
use documentdb_scram::Mechanism;
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

/// Longer than anything legitimate: the statement timeout of the fuzz database (10 s) and
/// the pool's wait for a connection (60 s).
const COMMAND_DEADLINE: Duration = Duration::from_secs(90);
/// Commands per structured input.
const MAX_COMMANDS: usize = 4;

struct Harness {
    runtime: tokio::runtime::Runtime,
    gw: Gateway,
    user: String,
    allow_update_user_roles: bool,
    internal_errors_fatal: bool,
    internal_errors: Mutex<HashSet<String>>,
    next_connection: AtomicI64,
    /// (command, "ok" or the error code) -> replies, when DOCUMENTDB_FUZZ_STATS is set.
    stats: Option<Mutex<BTreeMap<(String, String), u64>>>,
    trace: bool,
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

fn flag(name: &str) -> bool {
    matches!(setting(name, "").as_str(), "1" | "true" | "yes" | "on")
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(setup)
}

fn setup() -> Harness {
    let socket_dir = PathBuf::from(setting("DOCUMENTDB_FUZZ_PG_SOCKET_DIR", "/work/main/data"));
    let port: u16 = setting("DOCUMENTDB_FUZZ_PG_PORT", "9712").parse().expect("DOCUMENTDB_FUZZ_PG_PORT: a port number");
    let user = setting("DOCUMENTDB_FUZZ_PG_USER", "postgres");
    let database = setting("DOCUMENTDB_FUZZ_PG_DATABASE", "documentdb_fuzz");
    assert!(
        database != "postgres",
        "DOCUMENTDB_FUZZ_PG_DATABASE must not be the dev database: the fuzzer drops databases and collections"
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(prepare_database(&socket_dir, port, &user, &database, flag("DOCUMENTDB_FUZZ_RESET")));
    let config = Config {
        pg_socket_dir: socket_dir,
        pg_port: port,
        pg_user: user.clone(),
        database,
        tls_mode: TlsMode::Disabled,
        pool_size: 4,
        max_pinned_cursors: 2,
        cursor_timeout: Duration::from_secs(60),
        enable_test_commands: true,
        ..Config::default()
    };
    let mut gw = Gateway::new(config).expect("the gateway's state");
    // Fuzzed lsids would fill mongod's default of a million sessions; idle ones expire
    // between inputs.
    gw.sessions = SessionCache::new(10_000, Duration::from_secs(30));
    Harness {
        runtime,
        gw,
        user,
        allow_update_user_roles: flag("DOCUMENTDB_FUZZ_ALLOW_UPDATE_USER_ROLES"),
        internal_errors_fatal: flag("DOCUMENTDB_FUZZ_INTERNAL_ERRORS_FATAL"),
        internal_errors: Mutex::new(HashSet::new()),
        next_connection: AtomicI64::new(1),
        stats: flag("DOCUMENTDB_FUZZ_STATS").then(|| Mutex::new(BTreeMap::new())),
        trace: flag("DOCUMENTDB_FUZZ_TRACE"),
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the fuzzer's own PostgreSQL database with the extension, so that nothing it
/// does (dropDatabase, $out, renameCollection, ...) touches the dev database. Users are
/// cluster-wide: only the `FUZZ_USERS` names are ever created.
async fn prepare_database(socket_dir: &Path, port: u16, user: &str, database: &str, reset: bool) {
    let connect = |db: &str| {
        let mut config = tokio_postgres::Config::new();
        config.host_path(socket_dir).port(port).user(user).dbname(db).application_name("documentdb_fuzz");
        async move {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap_or_else(|e| {
                panic!(
                    "cannot connect to PostgreSQL at {}/.s.PGSQL.{port} as {user}: {e}\n(is the dev cluster \
                     running? With peer authentication this process must run as the OS user {user}, e.g. \
                     `runuser -u {user} -- <fuzz binary> ...`)",
                    socket_dir.display()
                )
            });
            tokio::spawn(connection);
            client
        }
    };
    let admin = connect("postgres").await;
    if reset {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(database)))
            .await
            .expect("drop the fuzz database");
        for name in FUZZ_USERS {
            if let Err(e) = admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", quote_ident(name))).await {
                eprintln!("command_dispatch: could not drop role {name}: {e}");
            }
        }
    }
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .expect("look up the fuzz database")
        .is_some();
    if !exists {
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(database)))
            .await
            .expect("create the fuzz database");
    }
    let db = connect(database).await;
    db.batch_execute(&format!(
        "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS documentdb CASCADE; \
         ALTER DATABASE {0} SET statement_timeout = '10s'; \
         ALTER DATABASE {0} SET log_min_messages = 'fatal'; \
         ALTER DATABASE {0} SET log_min_error_statement = 'panic'",
        quote_ident(database)
    ))
    .await
    .expect("create the documentdb extension in the fuzz database");
}

/// A connection that authenticated as the superuser (as a driver with its credentials).
fn new_connection(h: &Harness) -> ClientConnection {
    let id = h.next_connection.fetch_add(1, Ordering::Relaxed);
    let mut connection = ClientConnection::new(id, "127.0.0.1:40000".parse().expect("an address"), false);
    connection.user = Some(AuthenticatedUser {
        name: h.user.clone(),
        db: "admin".into(),
        roles: Vec::new(),
        manages_other_users: true,
        mechanism: Mechanism::Sha256,
    });
    connection
}

/// Commands the harness does not send, and why.
fn refused(h: &Harness, req: &CommandRequest) -> Option<&'static str> {
    let name = commands::lookup(&req.name).map(|spec| spec.name);
    if matches!(name, Some("createUser" | "dropUser" | "updateUser")) {
        match req.body.iter().next() {
            Some(Ok((_, RawBsonRef::String(user)))) if FUZZ_USERS.contains(&user) => {}
            Some(Ok((
                _,
                RawBsonRef::String(_)
                | RawBsonRef::Symbol(_)
                | RawBsonRef::Document(_)
                | RawBsonRef::Array(_)
                | RawBsonRef::JavaScriptCode(_)
                | RawBsonRef::Binary(_),
            ))) => return Some("a user other than the fuzz users: roles are cluster-wide"),
            _ => {}
        }
    }
    if name == Some("updateUser")
        && !h.allow_update_user_roles
        && req.body.iter().flatten().any(|(k, _)| k.as_str() == "roles")
    {
        return Some("updateUser with roles crashes the installed extension (known)");
    }
    None
}

/// Walks a whole document without recursion; panics on any malformed element.
fn check_well_formed(doc: &RawDocument, what: &str) {
    let mut open: Vec<RawIter> = vec![doc.iter_elements()];
    while let Some(elements) = open.last_mut() {
        let Some(element) = elements.next() else {
            open.pop();
            continue;
        };
        let element = element.unwrap_or_else(|e| panic!("{what}: malformed element: {e}"));
        match element.value().unwrap_or_else(|e| panic!("{what}: malformed value: {e}")) {
            RawBsonRef::Document(d) => open.push(d.iter_elements()),
            RawBsonRef::Array(a) => open.push(
                RawDocument::from_bytes(a.as_bytes())
                    .unwrap_or_else(|e| panic!("{what}: malformed array: {e}"))
                    .iter_elements(),
            ),
            RawBsonRef::JavaScriptCodeWithScope(c) => open.push(c.scope.iter_elements()),
            _ => {}
        }
    }
}

/// The body document of a reply message (OP_MSG, or OP_REPLY to an OP_QUERY), checking the
/// framing on the way.
fn reply_body(reply: &[u8], legacy: bool) -> Vec<u8> {
    let header = Header::parse(reply).expect("reply: a header");
    assert_eq!(header.length as usize, reply.len(), "reply: the header's length");
    let (op, payload) = if header.op_code == OP_COMPRESSED {
        let p = &reply[HEADER_LEN..];
        assert!(p.len() >= 9, "reply: a truncated OP_COMPRESSED");
        let op = i32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let size = i32::from_le_bytes([p[4], p[5], p[6], p[7]]);
        let compressor = Compressor::from_id(p[8]).expect("reply: a known compressor");
        let size = usize::try_from(size).expect("reply: a non-negative uncompressed size");
        (op, compression::decompress(compressor, &p[9..], size).expect("reply: decompresses"))
    } else {
        (header.op_code, reply[HEADER_LEN..].to_vec())
    };
    if legacy {
        assert_eq!(op, OP_REPLY, "reply to OP_QUERY: an OP_REPLY");
        assert!(payload.len() >= 20, "reply: a truncated OP_REPLY");
        assert_eq!(&payload[16..20], &1i32.to_le_bytes(), "reply: one document");
        return payload[20..].to_vec();
    }
    assert_eq!(op, OP_MSG, "reply to OP_MSG: an OP_MSG");
    let mut full = Vec::with_capacity(HEADER_LEN + payload.len());
    full.extend_from_slice(&((HEADER_LEN + payload.len()) as i32).to_le_bytes());
    full.extend_from_slice(&header.request_id.to_le_bytes());
    full.extend_from_slice(&header.response_to.to_le_bytes());
    full.extend_from_slice(&OP_MSG.to_le_bytes());
    full.extend_from_slice(&payload);
    match protocol::parse_frame(&full).expect("reply: a well-formed OP_MSG").request {
        Request::Msg(msg) => {
            assert!(msg.sequences.is_empty(), "reply: no document sequences");
            msg.body
        }
        Request::Query(_) => panic!("reply: an OP_QUERY"),
    }
}

fn number(value: Option<RawBsonRef<'_>>) -> Option<f64> {
    match value? {
        RawBsonRef::Double(d) => Some(d),
        RawBsonRef::Int32(i) => Some(i.into()),
        RawBsonRef::Int64(i) => Some(i as f64),
        _ => None,
    }
}

/// A reply saying PostgreSQL went away: a backend crash (every backend is restarted),
/// the cluster restarting, or a leaked pool.
struct Lost(String);

/// Checks a reply body; records cursor and session ids for the input's next commands.
fn check_reply(h: &Harness, ctx: &mut Context, body: &[u8], command: &str) -> Result<(), Lost> {
    let doc = RawDocument::from_bytes(body).unwrap_or_else(|e| panic!("{command}: reply body is not a document: {e}"));
    check_well_formed(doc, command);
    let ok = number(doc.get("ok").ok().flatten()).unwrap_or_else(|| panic!("{command}: reply without a numeric ok"));
    if let Some(stats) = &h.stats {
        let outcome = match doc.get("code") {
            Ok(Some(RawBsonRef::Int32(code))) if ok == 0.0 => code.to_string(),
            _ if ok == 0.0 => "error".into(),
            _ => "ok".into(),
        };
        let mut stats = stats.lock().unwrap_or_else(|p| p.into_inner());
        *stats.entry((command.to_owned(), outcome)).or_default() += 1;
        if stats.values().sum::<u64>() % 5000 == 0 {
            let lines: Vec<String> = stats.iter().map(|((c, o), n)| format!("{c} {o}: {n}")).collect();
            eprintln!("command_dispatch: replies so far: {}", lines.join(", "));
        }
    }
    if ok != 0.0 {
        if let Ok(Some(RawBsonRef::Document(cursor))) = doc.get("cursor") {
            if let Ok(Some(RawBsonRef::Int64(id))) = cursor.get("id") {
                if id != 0 && !ctx.cursor_ids.contains(&id) {
                    ctx.cursor_ids.push(id);
                }
            }
        }
        if let Ok(Some(RawBsonRef::Document(lsid))) = doc.get("id") {
            if let Ok(Some(RawBsonRef::Binary(b))) = lsid.get("id") {
                if let Ok(id) = <[u8; 16]>::try_from(b.bytes) {
                    ctx.session_ids.push(id);
                }
            }
        }
        return Ok(());
    }
    let code = match doc.get("code") {
        Ok(Some(RawBsonRef::Int32(code))) => code,
        other => panic!("{command}: error reply without an int32 code: {other:?}"),
    };
    let message = match doc.get("errmsg") {
        Ok(Some(RawBsonRef::String(m))) => m,
        _ => match doc.get("$err") {
            Ok(Some(RawBsonRef::String(m))) => m,
            other => panic!("{command}: error reply without errmsg: {other:?}"),
        },
    };
    if h.trace {
        eprintln!("command_dispatch: {command}: error {code}: {message}");
    }
    // A backend died (a crash restarts every backend), the cluster restarted, or the pool leaked.
    let lost = matches!(code, 6 | 11600 | 91)
        || message.contains("terminating connection")
        || message.contains("timed out waiting for a PostgreSQL connection");
    if lost {
        return Err(Lost(format!("{command}: code {code}: {message}")));
    }
    if code == 1 || message.contains("panicked") {
        let key = format!("{command}: {message}");
        if h.internal_errors_fatal {
            panic!("InternalError reply: {key}");
        }
        let mut seen = h.internal_errors.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() < 1000 && seen.insert(key.clone()) {
            eprintln!("command_dispatch: InternalError reply (code {code}): {key}");
        }
    }
    Ok(())
}

/// Sends one message. A message that loses PostgreSQL is sent again once the cluster is
/// back: losing it again is a failure (the message crashes a backend); otherwise something
/// else restarted the cluster (another client's crash, a restart).
async fn send(h: &Harness, connection: &mut ClientConnection, ctx: &mut Context, bytes: &[u8]) {
    let Err(Lost(first)) = send_once(h, connection, ctx, bytes).await else { return };
    eprintln!("command_dispatch: PostgreSQL went away ({first}); waiting for it, then sending the message again");
    wait_for_postgres(h).await;
    *connection = new_connection(h);
    if let Err(Lost(again)) = send_once(h, connection, ctx, bytes).await {
        panic!(
            "the message loses PostgreSQL every time it is sent: {again}\n(a backend crash? look for \
             'terminated by signal' in the server log)"
        );
    }
    eprintln!("command_dispatch: the message went through the second time: not a crash it causes");
}

/// Waits until a command reaches PostgreSQL again (crash recovery takes a few seconds).
async fn wait_for_postgres(h: &Harness) {
    let probe = rawdoc! { "listCollections": 1, "$db": command_gen::FUZZ_DB };
    let message = protocol::encode_op_msg_with_sequences(1, 0, probe.as_bytes(), &[]);
    for _ in 0..180 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let frame = protocol::parse_frame(&message).expect("the probe message");
        let mut connection = new_connection(h);
        let Some(reply) = server::handle_frame(&h.gw, &mut connection, frame).await else { continue };
        let body = reply_body(&reply, false);
        if number(RawDocument::from_bytes(&body).ok().and_then(|d| d.get("ok").ok().flatten())) == Some(1.0) {
            return;
        }
    }
    panic!("PostgreSQL did not come back within 3 minutes");
}

async fn send_once(
    h: &Harness,
    connection: &mut ClientConnection,
    ctx: &mut Context,
    bytes: &[u8],
) -> Result<(), Lost> {
    // A message the frame parser refuses closes the connection; wire_frame covers those.
    let Ok(frame) = protocol::parse_frame(bytes) else { return Ok(()) };
    let (request, legacy, wants_reply) = match &frame.request {
        Request::Msg(msg) => (CommandRequest::from_op_msg(msg).ok(), false, !msg.more_to_come()),
        Request::Query(query) => (CommandRequest::from_op_query(query).ok().flatten(), true, true),
    };
    if let Some(req) = &request {
        if refused(h, req).is_some() {
            return Ok(());
        }
    }
    let command = request.as_ref().map_or("<no command>", |r| r.name.as_str()).to_owned();
    let reply = tokio::time::timeout(COMMAND_DEADLINE, server::handle_frame(&h.gw, connection, frame))
        .await
        .unwrap_or_else(|_| panic!("{command}: no reply within {COMMAND_DEADLINE:?}"));
    if connection.close_requested {
        // A closeConnection fail point: the client reconnects (and authenticates again).
        *connection = new_connection(h);
        return Ok(());
    }
    let result = match (reply, wants_reply) {
        (None, false) => Ok(()),
        (Some(_), false) => panic!("{command}: a reply to a moreToCome message"),
        (None, true) => panic!("{command}: no reply"),
        (Some(reply), true) => check_reply(h, ctx, &reply_body(&reply, legacy), &command),
    };
    if connection.user.is_none() {
        // logout: log in again, or the rest of the input only tests "requires authentication".
        *connection = new_connection(h);
    }
    result
}

/// Leaves nothing of one input to the next: cursors (and their pinned connections), the
/// fail point, expired sessions.
async fn clean_up(h: &Harness) {
    for (id, cursor) in h.gw.cursors.drain() {
        cursor.close(id).await;
    }
    h.gw.failpoints
        .configure(&rawdoc! { "configureFailPoint": "failCommand", "mode": "off" })
        .expect("turn the fail point off");
    h.gw.sessions.expire();
}

async fn run(h: &Harness, data: &[u8]) {
    let mut connection = new_connection(h);
    let mut ctx = Context::default();
    match data.split_first() {
        None => {}
        Some((mode, raw)) if mode % 4 == 3 => {
            let mut body = raw.to_vec();
            if body.len() >= 5 {
                let len = body.len() as i32;
                body[..4].copy_from_slice(&len.to_le_bytes());
            }
            let message = protocol::encode_op_msg_with_sequences(1, 0, &body, &[]);
            send(h, &mut connection, &mut ctx, &message).await;
        }
        Some((_, rest)) => {
            let mut u = Unstructured::new(rest);
            for i in 0..MAX_COMMANDS {
                if u.is_empty() {
                    break;
                }
                let Ok(message) = command_gen::message(&mut u, &ctx) else { break };
                send(h, &mut connection, &mut ctx, &message.encode(i as i32 + 1)).await;
            }
        }
    }
    clean_up(h).await;
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    h.runtime.block_on(run(h, data));
});
