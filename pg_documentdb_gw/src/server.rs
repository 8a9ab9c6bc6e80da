//! The server: listeners, the accept loop with its connection limit, TLS detection on the
//! first byte, one task per client connection reading frames and writing replies, and the
//! answer to one message (fail points, dispatch, error replies, reply compression).

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use documentdb_errors::ErrorCode;
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::commands::{self, CommandRequest, Ctx};
use crate::compression::Compressor;
use crate::config::{Config, TlsMode};
use crate::connection::ClientConnection;
use crate::error::{CommandError, CommandResult};
use crate::error_labels::{self, CommandKind};
use crate::gateway::Gateway;
use crate::protocol::{self, Frame, Header, Request, HEADER_LEN};

/// Decrements the connection count when a connection task ends, however it ends.
struct ConnectionSlot(Arc<Gateway>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections_current.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Binds the listeners: `listen_address` may list several addresses separated by commas;
/// `*` means every IPv4 address.
pub async fn bind(config: &Config) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for addr in config.listen_address.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let host = if addr == "*" { "0.0.0.0" } else { addr };
        let listener = TcpListener::bind((host, config.port))
            .await
            .map_err(|e| format!("could not listen on {host}:{}: {e}", config.port))?;
        listeners.push(listener);
    }
    if listeners.is_empty() {
        return Err("no listen address configured".into());
    }
    Ok(listeners)
}

/// Serves until `shutdown` completes.
pub async fn serve(gw: Arc<Gateway>, listeners: Vec<TcpListener>, shutdown: impl Future<Output = ()>) {
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            tracing::info!(
                "documentdb gateway listening on {addr} (TLS {:?}; PostgreSQL socket {}/.s.PGSQL.{}, database {}, pool {})",
                gw.config.tls_mode,
                gw.config.pg_socket_dir.display(),
                gw.config.pg_port,
                gw.config.database,
                gw.config.pool_size
            );
        }
    }
    let mut tasks = Vec::new();
    for l in listeners {
        tasks.push(tokio::spawn(accept_loop(gw.clone(), l)));
    }
    tasks.push(tokio::spawn(reap_cursors(gw.clone())));
    tasks.push(tokio::spawn(reap_transactions(gw.clone())));
    if gw.config.is_replica_set() {
        tasks.push(tokio::spawn(record_cluster_time(gw.clone())));
    }
    shutdown.await;
    tracing::info!("documentdb gateway shutting down");
    for t in tasks {
        t.abort();
    }
    drop(gw.cursors.drain());
}

/// Runs the gateway on the current tokio runtime until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let listeners = bind(&config).await?;
    let gw = Arc::new(Gateway::new(config)?);
    serve(gw, listeners, shutdown).await;
    Ok(())
}

/// A gateway running on its own thread (the host extension's background worker uses this).
pub struct GatewayHandle {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GatewayHandle {
    /// Whether the gateway thread has stopped (on its own, it means it failed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops accepting, closes every connection and waits for the thread to end.
    pub fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Builds a runtime on a new thread, binds the listeners and serves. Returns once the
/// listeners are bound, or with the startup error. Threads created here inherit the
/// caller's signal mask (the host blocks every signal before calling).
pub fn start(config: Config) -> Result<GatewayHandle, String> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let workers = if config.worker_threads > 0 {
        config.worker_threads
    } else {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).max(2)
    };
    let thread = std::thread::Builder::new()
        .name("documentdb-gateway".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("documentdb-gw-worker")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("could not start the tokio runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let started = async {
                    let listeners = bind(&config).await?;
                    let gw = Gateway::new(config)?;
                    Ok::<_, String>((listeners, Arc::new(gw)))
                }
                .await;
                match started {
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                    Ok((listeners, gw)) => {
                        let _ = ready_tx.send(Ok(()));
                        serve(gw, listeners, async {
                            let _ = shutdown_rx.await;
                        })
                        .await;
                    }
                }
            });
            runtime.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(|e| format!("could not start the gateway thread: {e}"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(GatewayHandle { shutdown: Some(shutdown_tx), thread: Some(thread) }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err("the gateway thread ended during startup".into())
        }
    }
}

async fn accept_loop(gw: Arc<Gateway>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let current = gw.connections_current.fetch_add(1, Ordering::Relaxed) + 1;
        let slot = ConnectionSlot(gw.clone());
        if current > gw.config.max_connections {
            tracing::warn!(
                peer = %peer,
                "connection refused because too many open connections: {} (documentdb_gateway.max_connections)",
                gw.config.max_connections
            );
            drop(stream);
            drop(slot);
            continue;
        }
        gw.connections_total.fetch_add(1, Ordering::Relaxed);
        let id = gw.next_connection_id.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let gw = gw.clone();
        tokio::spawn(async move {
            let _slot = slot;
            handle_connection(gw, stream, peer, id).await;
        });
    }
}

async fn handle_connection(gw: Arc<Gateway>, stream: TcpStream, peer: SocketAddr, id: i64) {
    // Peek at the first bytes without consuming them: a TLS ClientHello record or a
    // MongoDB frame (see `protocol::looks_like_tls`).
    let mut first = [0u8; 6];
    let mut seen = 0;
    for _ in 0..2000 {
        match stream.peek(&mut first).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen = n,
        }
        if seen >= first.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let is_tls = protocol::looks_like_tls(&first[..seen]);
    match (is_tls, gw.config.tls_mode, gw.tls.clone()) {
        (true, TlsMode::Disabled, _) | (true, _, None) => {
            tracing::info!(conn = id, peer = %peer, "closing TLS connection: TLS is disabled on this gateway");
        }
        (false, TlsMode::Require, _) => {
            tracing::info!(conn = id, peer = %peer, "closing plain-text connection: TLS is required");
        }
        (true, _, Some(acceptor)) => match acceptor.accept(stream).await {
            Ok(tls) => serve_stream(gw, tls, peer, id, true).await,
            Err(e) => tracing::info!(conn = id, peer = %peer, "TLS handshake failed: {e}"),
        },
        (false, _, _) => serve_stream(gw, stream, peer, id, false).await,
    }
}

/// Read buffer of a client connection: holds typical commands whole.
const READ_BUFFER: usize = 16 * 1024;

async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin + Send>(
    gw: Arc<Gateway>,
    stream: S,
    peer: SocketAddr,
    id: i64,
    tls: bool,
) {
    tracing::debug!(conn = id, peer = %peer, tls, "connection accepted");
    // Buffered reads: a frame's header and body (and pipelined frames) arrive in one read
    // instead of one per read_exact; bodies larger than the buffer are read straight into
    // the frame. Writes pass through unbuffered.
    let mut stream = tokio::io::BufReader::with_capacity(READ_BUFFER, stream);
    let mut connection = ClientConnection::new(id, peer, tls);
    let mut header = [0u8; HEADER_LEN];
    loop {
        if stream.read_exact(&mut header).await.is_err() {
            break; // EOF or reset: the client went away.
        }
        let len = match Header::parse(&header).and_then(|h| h.checked_length()) {
            Ok(len) => len,
            Err(e) => {
                tracing::warn!(conn = id, peer = %peer, "closing connection: {e}");
                break;
            }
        };
        let mut buf = vec![0u8; len];
        buf[..HEADER_LEN].copy_from_slice(&header);
        if stream.read_exact(&mut buf[HEADER_LEN..]).await.is_err() {
            break;
        }
        let frame = match protocol::parse_frame(&buf) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(conn = id, peer = %peer, "closing connection: malformed message: {e}");
                break;
            }
        };
        drop(buf);
        let handled = AssertUnwindSafe(handle_frame(&gw, &mut connection, frame)).catch_unwind().await;
        let reply = match handled {
            Ok(reply) => reply,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(conn = id, peer = %peer, "internal error (panic) while handling a command: {msg}; closing connection");
                break;
            }
        };
        if connection.close_requested {
            tracing::info!(conn = id, peer = %peer, "closing connection: failCommand fail point (closeConnection)");
            break;
        }
        if let Some(bytes) = reply {
            if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
                break;
            }
        }
    }
    let _ = stream.shutdown().await;
    tracing::debug!(conn = id, peer = %peer, "connection closed");
}

/// Runs a command and turns any error into its reply document, logging the failure.
async fn execute(gw: &Gateway, connection: &mut ClientConnection, req: &CommandRequest) -> Vec<u8> {
    let kind = if gw.config.is_replica_set() { CommandKind::of(&req.name, &req.body) } else { CommandKind::Other };
    let failpoint = if gw.config.enable_test_commands {
        let name = commands::lookup(&req.name).map_or(req.name.as_str(), |spec| spec.name);
        gw.failpoints.check(name, connection.app_name.as_deref())
    } else {
        None
    };
    if let Some(action) = &failpoint {
        if let Some(delay) = action.block_for {
            tokio::time::sleep(delay).await;
        }
        if action.close_connection {
            connection.close_requested = true;
            return Vec::new();
        }
        if let Some(e) = action.error() {
            // Labels the fail point names replace the ones the error would get.
            let e = if action.error_labels.is_some() { e } else { with_error_labels(kind, e) };
            return error_reply(connection, &req.name, &e);
        }
    }
    // onPrimaryTransactionalWrite (retryable-writes spec tests): the write fails before
    // committing, or commits; either way the connection may close instead of replying.
    // mongod hits the fail point when it executes a write: not for a retry it answers from
    // the record of the first execution.
    let transactional =
        if gw.config.enable_test_commands && kind == CommandKind::RetryableWrite && !is_retry(gw, connection, req) {
            gw.failpoints.check_transactional_write()
        } else {
            None
        };
    if let Some(tw) = transactional {
        if let Some(code) = tw.fail_before_commit {
            if tw.close_connection {
                connection.close_requested = true;
                return Vec::new();
            }
            let e =
                CommandError::new(ErrorCode::new(code), "Failing write via 'onPrimaryTransactionalWrite' failpoint");
            return error_reply(connection, &req.name, &with_error_labels(kind, e));
        }
    }
    let result: CommandResult<Vec<u8>> = {
        let mut ctx = Ctx { gw, connection, lsid: None, txn_number: None, txn: None, snapshot: None };
        commands::dispatch(&mut ctx, req).await
    };
    if transactional.is_some_and(|tw| tw.close_connection) {
        connection.close_requested = true;
        return Vec::new();
    }
    let succeeded = result.is_ok();
    // What a single member cannot satisfy of a valid write concern: reported after the work.
    let result = result.map(|body| match commands::write_concern::check(&req.body) {
        Ok(outcome) => match commands::write_concern::error_document(&outcome, &req.body) {
            Some(wce) => with_write_concern_error(body, wce),
            None => body,
        },
        Err(_) => body,
    });
    let explicit_labels = failpoint.as_ref().is_some_and(|action| action.error_labels.is_some());
    let body = match (result, failpoint) {
        (Ok(body), Some(action)) => action.decorate_reply(body),
        (Ok(body), None) => body,
        (Err(e), _) => error_reply(connection, &req.name, &with_error_labels(kind, e)),
    };
    let body = if explicit_labels { body } else { with_write_concern_error_labels(kind, body) };
    with_cluster_time(gw, req, body, succeeded)
}

/// `reply` with a `writeConcernError` (kept when the reply already has one, e.g. from a fail
/// point, or is not ok).
fn with_write_concern_error(reply: Vec<u8>, wce: bson::Document) -> Vec<u8> {
    let Ok(mut doc) = bson::RawDocumentBuf::from_bytes(reply.clone()) else { return reply };
    let ok = matches!(doc.get("ok"), Ok(Some(bson::RawBsonRef::Double(v))) if v == 1.0)
        || matches!(doc.get("ok"), Ok(Some(bson::RawBsonRef::Int32(1))));
    if !ok || doc.get("writeConcernError").ok().flatten().is_some() {
        return reply;
    }
    match bson::RawDocumentBuf::try_from(&wce) {
        Ok(raw) => {
            doc.append(bson::raw::cstr!("writeConcernError"), raw);
            doc.into_bytes()
        }
        Err(_) => reply,
    }
}

/// A retryable write whose `txnNumber` its session already used (a driver's retry).
fn is_retry(gw: &Gateway, connection: &ClientConnection, req: &CommandRequest) -> bool {
    let Some(user) = connection.user.as_ref() else { return false };
    let Ok(Some(id)) = crate::session_cache::command_session_id(&req.body) else { return false };
    let Ok(Some(number)) = commands::txn_number(&req.body) else { return false };
    let key = crate::session_cache::SessionKey { id, uid: user.session_uid() };
    gw.transactions.active_number(&key) == Some(number)
}

/// `e` with the labels its command kind gives it (see error_labels).
fn with_error_labels(kind: CommandKind, mut e: CommandError) -> CommandError {
    for label in error_labels::for_error(kind, e.code) {
        e = e.with_label(label);
    }
    e
}

/// An ok reply with a `writeConcernError`, with the labels that error gives it.
fn with_write_concern_error_labels(kind: CommandKind, reply: Vec<u8>) -> Vec<u8> {
    if kind == CommandKind::Other {
        return reply;
    }
    let Ok(mut doc) = bson::RawDocumentBuf::from_bytes(reply.clone()) else { return reply };
    let Some(code) = error_labels::unlabelled_write_concern_error(&doc) else { return reply };
    let labels = error_labels::for_write_concern_error(kind, code);
    if labels.is_empty() {
        return reply;
    }
    let mut array = bson::RawArrayBuf::new();
    for label in labels {
        array.push(label);
    }
    doc.append(bson::raw::cstr!("errorLabels"), array);
    doc.into_bytes()
}

/// A replica set member's reply carries `$clusterTime` (with the zero signature of a
/// member without keys) and `operationTime`: a write's own new time, else the current one.
fn with_cluster_time(gw: &Gateway, req: &CommandRequest, body: Vec<u8>, succeeded: bool) -> Vec<u8> {
    if !gw.config.is_replica_set() || body.is_empty() {
        return body;
    }
    let Ok(mut doc) = bson::RawDocumentBuf::from_bytes(body.clone()) else { return body };
    let write = error_labels::is_write_command(&req.name) || req.name == "commitTransaction";
    let time = if write && succeeded { gw.clock.tick() } else { gw.clock.now() };
    let signature = bson::rawdoc! {
        "hash": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0; 20] },
        "keyId": 0_i64,
    };
    doc.append(bson::raw::cstr!("$clusterTime"), bson::rawdoc! { "clusterTime": time, "signature": signature });
    doc.append(bson::raw::cstr!("operationTime"), time);
    doc.into_bytes()
}

fn error_reply(connection: &ClientConnection, command: &str, e: &CommandError) -> Vec<u8> {
    let internal = matches!(e.code, ErrorCode::InternalError | ErrorCode::HostUnreachable);
    if internal {
        tracing::warn!(
            conn = connection.connection_id,
            command,
            kind = e.kind,
            code = e.code.code(),
            code_name = %e.code,
            "command failed: {}",
            e.message
        );
    } else {
        tracing::info!(
            conn = connection.connection_id,
            command,
            kind = e.kind,
            code = e.code.code(),
            code_name = %e.code,
            "command failed: {}",
            e.message
        );
    }
    e.to_document().to_vec().unwrap_or_else(|_| {
        // Cannot fail for these documents; keep a well-formed reply all the same.
        bson::doc! { "ok": 0.0, "errmsg": "internal error", "code": 1 }.to_vec().unwrap_or_default()
    })
}

fn compress_reply(message: Vec<u8>, frame_compressor: Option<Compressor>, command: &str) -> Vec<u8> {
    match frame_compressor {
        Some(c) if commands::reply_may_be_compressed(command) => {
            protocol::compress_message(&message, c).unwrap_or(message)
        }
        _ => message,
    }
}

/// Answers one client message as a connection task does once it has read and parsed it:
/// fail points, dispatch, error replies, reply encoding and compression. Returns the reply
/// message, or None when the client wants none (moreToCome). Public for the command fuzzer
/// (`fuzz/fuzz_targets/command_dispatch.rs`); unlike the connection task it does not catch
/// panics.
pub async fn handle_frame(gw: &Gateway, connection: &mut ClientConnection, frame: Frame) -> Option<Vec<u8>> {
    let request_id = gw.next_request_id();
    let response_to = frame.header.request_id;
    let compressor = frame.compressor;
    match frame.request {
        Request::Msg(msg) => {
            let (name, body) = match CommandRequest::from_op_msg(&msg) {
                Ok(req) => {
                    let body = execute(gw, connection, &req).await;
                    (req.name, body)
                }
                Err(e) => (String::new(), error_reply(connection, "", &e)),
            };
            if msg.more_to_come() {
                return None; // Unacknowledged (w: 0): the client expects no reply.
            }
            let out = protocol::encode_op_msg(request_id, response_to, 0, &body, msg.checksum_present());
            Some(compress_reply(out, compressor, &name))
        }
        Request::Query(query) => {
            let (name, body, flags) = match CommandRequest::from_op_query(&query) {
                Ok(Some(req)) => {
                    let body = execute(gw, connection, &req).await;
                    (req.name, body, 0)
                }
                Ok(None) => {
                    let doc = bson::doc! {
                        "$err": "OP_QUERY is no longer supported. The client driver may require an upgrade.",
                        "code": 5739101,
                        "ok": 0.0,
                    };
                    (String::new(), doc.to_vec().unwrap_or_default(), protocol::REPLY_FLAG_QUERY_FAILURE)
                }
                Err(e) => (String::new(), error_reply(connection, "", &e), 0),
            };
            let out = protocol::encode_op_reply(request_id, response_to, flags, &[&body]);
            Some(compress_reply(out, compressor, &name))
        }
    }
}

/// Keeps the cluster time ahead of what a restart could hand out again: at start, moves the
/// clock past the recorded second (plus the recording period); then records the current
/// second every period. Without PostgreSQL (yet), retries.
async fn record_cluster_time(gw: Arc<Gateway>) {
    let mut started = false;
    loop {
        let seconds = i64::from(gw.clock.seconds());
        match gw.pool.get(None, None).await {
            Ok(conn) => {
                if let Ok(row) =
                    conn.query_one(crate::sql::CLUSTER_TIME_RECORD, &[&if started { seconds } else { 0 }]).await
                {
                    if !started {
                        let recorded: i64 = row.try_get(0).unwrap_or(0);
                        gw.clock.start_after(u32::try_from(recorded).unwrap_or(0));
                        started = true;
                        continue;
                    }
                }
                conn.release();
            }
            Err(e) => tracing::warn!("could not record the cluster time: {}", e.message),
        }
        tokio::time::sleep(crate::cluster_time::PERSIST_PERIOD).await;
    }
}

/// Aborts transactions past transactionLifetimeLimitSeconds (returning their connections to
/// the pool) and forgets the transaction state of sessions idle past the session timeout.
async fn reap_transactions(gw: Arc<Gateway>) {
    let idle = Duration::from_secs(60 * crate::session_cache::SESSION_TIMEOUT_MINUTES as u64);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        gw.transactions.reap(idle).await;
    }
}

/// Closes idle cursors, and expires idle logical sessions with the cursors they opened.
async fn reap_cursors(gw: Arc<Gateway>) {
    let timeout = gw.config.cursor_timeout;
    let period = (timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        for (id, cursor) in gw.cursors.expire(timeout) {
            tracing::info!(cursor = id, "closing cursor idle for longer than {} ms", timeout.as_millis());
            cursor.close(id).await;
        }
        let expired = gw.sessions.expire();
        if !expired.is_empty() {
            tracing::info!("{} logical sessions expired", expired.len());
            commands::close_session_cursors(&gw, |k| expired.contains(k)).await;
            gw.transactions.abort_sessions(|k| expired.contains(k)).await;
        }
    }
}
