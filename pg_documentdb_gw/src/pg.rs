//! PostgreSQL access: raw bson parameters, the connection pool over the unix socket, and the
//! per-connection session state (current role, statement timeout).
//!
//! Invariant: the gateway knows the role and statement timeout of every pooled connection
//! (or marks them unknown), and every checkout names the settings its command runs with.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use deadpool::managed;
use deadpool_postgres::{ClientWrapper, Connect, Manager, ManagerConfig, PoolError, RecyclingMethod, Runtime};
use documentdb_errors::ErrorCode;
use futures_util::future::BoxFuture;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{NoTls, Row};

use crate::error::{CommandError, CommandResult};
use crate::pg_socket::PgUnixStream;
use crate::sql;

/// A `documentdb_core.bson` / `bsonsequence` parameter: the raw bytes are the binary format.
#[derive(Debug, Clone, Copy)]
pub struct BsonParam<'a>(pub &'a [u8]);

fn is_bson_type(ty: &Type) -> bool {
    matches!(ty.name(), "bson" | "bsonsequence" | "bytea")
}

impl ToSql for BsonParam<'_> {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        is_bson_type(ty)
    }

    to_sql_checked!();
}

/// A `documentdb_core.bson` result column, as raw BSON bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BsonValue(pub Vec<u8>);

impl<'a> FromSql<'a> for BsonValue {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        bson::RawDocument::from_bytes(raw)?;
        Ok(BsonValue(raw.to_vec()))
    }

    fn accepts(ty: &Type) -> bool {
        is_bson_type(ty)
    }
}

/// Where and how the gateway connects to PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Directory of PostgreSQL's unix socket (never TCP).
    pub socket_dir: PathBuf,
    pub port: u16,
    /// A superuser: it reads verifiers and `SET ROLE`s to the authenticated user.
    pub user: String,
    pub database: String,
    pub pool_size: usize,
}

impl PgSettings {
    /// PostgreSQL's socket file: `<socket_dir>/.s.PGSQL.<port>`.
    pub fn socket_path(&self) -> PathBuf {
        self.socket_dir.join(format!(".s.PGSQL.{}", self.port))
    }
}

/// The session settings of a connection, as the gateway last set them. `Unknown` after a
/// change that may not have completed: the next use sets everything again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SessionState {
    Known { role: Option<String>, timeout_ms: Option<u64> },
    Unknown,
}

/// A pooled PostgreSQL connection and the session settings it is in. Connections keep the
/// role and statement timeout of their last command when they go back to the pool, so a
/// command from the same user needs no extra round trip; every checkout states the settings
/// it needs ([`PgPool::get`]) and only a difference is sent.
pub struct PgSession {
    client: ClientWrapper,
    state: SessionState,
    /// The pool's role epoch when `state` was recorded (see [`PgPool::invalidate_roles`]).
    epoch: u64,
    /// The PostgreSQL backend's process id (currentOp joins PostgreSQL's progress views on it).
    backend_pid: Option<i32>,
}

/// Opens pool connections on [`PgUnixStream`] (read-readiness-only registration; see there).
struct UnixSocketConnect {
    socket: PathBuf,
}

impl Connect for UnixSocketConnect {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>> {
        let pg_config = pg_config.clone();
        Box::pin(async move {
            match PgUnixStream::connect(&self.socket).await {
                Ok(stream) => {
                    let (client, connection) = pg_config.connect_raw(stream, NoTls).await?;
                    Ok((client, spawn_connection(connection)))
                }
                // The socket is not there (PostgreSQL down or restarting): let tokio-postgres
                // make the attempt, so the error reported is its own, naming the socket.
                Err(_) => {
                    let (client, connection) = pg_config.connect(NoTls).await?;
                    Ok((client, spawn_connection(connection)))
                }
            }
        })
    }
}

/// Drives a tokio-postgres connection in its own task, logging how it ended.
fn spawn_connection(
    connection: impl std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("PostgreSQL connection ended: {e}");
        }
    })
}

/// Connections whose pinned cursor ended, kept open for the pool's next new connection:
/// closing them would make the next query pay for a new backend (its start and its cold
/// caches: measured, one per multi-batch aggregate, about a fifth of a 40 ms `$group`).
type Spares = Arc<std::sync::Mutex<Vec<PgSession>>>;

fn lock_spares(spares: &Spares) -> std::sync::MutexGuard<'_, Vec<PgSession>> {
    // The list is only pushed to and popped: usable after a panic.
    spares.lock().unwrap_or_else(|p| p.into_inner())
}

/// deadpool-postgres' manager, with each connection's session state alongside it.
struct SessionManager(Manager, Spares);

impl managed::Manager for SessionManager {
    type Type = PgSession;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<PgSession, tokio_postgres::Error> {
        // A spare comes with its session state (its role is set again when it differs).
        while let Some(spare) = lock_spares(&self.1).pop() {
            if !spare.client.is_closed() {
                return Ok(spare);
            }
        }
        let client = self.0.create().await?;
        let backend_pid = client.query_one(crate::sql::BACKEND_PID, &[]).await.ok().and_then(|r| r.try_get(0).ok());
        Ok(PgSession { client, state: SessionState::Known { role: None, timeout_ms: None }, epoch: 0, backend_pid })
    }

    async fn recycle(
        &self,
        session: &mut PgSession,
        metrics: &managed::Metrics,
    ) -> managed::RecycleResult<Self::Error> {
        self.0.recycle(&mut session.client, metrics).await
    }

    fn detach(&self, session: &mut PgSession) {
        self.0.detach(&mut session.client)
    }
}

type Pool = managed::Pool<SessionManager>;
/// Spare connections kept at most (more were pinned at once than are worth keeping idle).
const SPARES_KEPT: usize = 8;
type Object = managed::Object<SessionManager>;

/// The pool of connections to PostgreSQL.
pub struct PgPool {
    pool: Pool,
    settings: PgSettings,
    /// Connections taken out of the pool for pinned cursors.
    pub detached: Arc<AtomicUsize>,
    role_epoch: Arc<AtomicU64>,
    spares: Spares,
}

impl PgPool {
    pub fn new(settings: PgSettings) -> Result<PgPool, String> {
        if !settings.socket_dir.is_absolute() {
            return Err(format!(
                "the PostgreSQL socket directory must be an absolute path (the gateway connects over \
                 the unix socket only), got {:?}",
                settings.socket_dir
            ));
        }
        let mut cfg = tokio_postgres::Config::new();
        cfg.host_path(&settings.socket_dir)
            .port(settings.port)
            .user(&settings.user)
            .dbname(&settings.database)
            .application_name("documentdb_gateway")
            // No JIT: generated queries spend their time in our per-row functions, which
            // JIT cannot inline, and compiling a large aggregation costs 80-145 ms
            // (bench/aggregation_bench.py, 100k-document $lookup) for no gain.
            // work_mem 32 MB (hash tables up to 64 MB with the default hash_mem_multiplier,
            // MongoDB's per-stage budget is 100 MB): the planner can't estimate how many
            // groups a $group key has and assumes one per row; at 4 MB it then sorts
            // instead of hashing (60 ms vs 35 ms for 33k documents into 1,000 groups).
            // Larger inputs still spill, so memory stays bounded.
            .options("-c search_path=documentdb_api_catalog,documentdb_api,public -c jit=off -c work_mem=32MB")
            .connect_timeout(Duration::from_secs(10));
        let socket = settings.socket_path();
        let manager = Manager::from_connect(
            cfg,
            UnixSocketConnect { socket },
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let spares: Spares = Arc::default();
        let pool = Pool::builder(SessionManager(manager, spares.clone()))
            .max_size(settings.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(60)))
            .create_timeout(Some(Duration::from_secs(15)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(PgPool {
            pool,
            settings,
            detached: Arc::new(AtomicUsize::new(0)),
            role_epoch: Arc::new(AtomicU64::new(0)),
            spares,
        })
    }

    pub fn settings(&self) -> &PgSettings {
        &self.settings
    }

    pub fn superuser(&self) -> &str {
        &self.settings.user
    }

    /// Users were dropped or changed: a connection set to some role before now sets its
    /// role again before its next command (a re-created user is a new PostgreSQL role).
    /// The current role epoch (advanced by [`PgPool::invalidate_roles`]).
    pub fn role_epoch(&self) -> u64 {
        self.role_epoch.load(Ordering::Relaxed)
    }

    pub fn invalidate_roles(&self) {
        self.role_epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// (size, available, waiting) of the pool.
    pub fn status(&self) -> (usize, usize, usize) {
        let s = self.pool.status();
        (s.size, s.available, s.waiting)
    }

    /// Asks PostgreSQL to cancel the statement running on the connection of `token` (over
    /// a new socket connection, as libpq's PQcancel does).
    pub async fn cancel(&self, token: &tokio_postgres::CancelToken) -> Result<(), String> {
        let socket = self.settings.socket_path();
        let stream =
            tokio::net::UnixStream::connect(&socket).await.map_err(|e| format!("{}: {e}", socket.display()))?;
        token.cancel_query_raw(stream, NoTls).await.map_err(|e| e.to_string())
    }

    /// A connection running as `user` (None: the gateway's superuser) with `timeout_ms` as
    /// statement timeout (None or 0: none).
    pub async fn get(&self, user: Option<&str>, timeout_ms: Option<u64>) -> CommandResult<PgConn> {
        let obj = match self.pool.get().await {
            Ok(obj) => obj,
            Err(PoolError::Timeout(_)) => {
                return Err(CommandError::new(
                    ErrorCode::ExceededTimeLimit,
                    "timed out waiting for a PostgreSQL connection from the gateway's pool",
                ))
            }
            Err(PoolError::Backend(e)) => {
                let mut err = CommandError::from_postgres(&e);
                if e.as_db_error().is_none() {
                    err.message = format!(
                        "could not connect to PostgreSQL at {}: {}",
                        self.settings.socket_path().display(),
                        err.message
                    );
                }
                return Err(err);
            }
            Err(e) => {
                return Err(CommandError::new(
                    ErrorCode::HostUnreachable,
                    format!("could not connect to PostgreSQL: {e}"),
                ))
            }
        };
        let mut conn = PgConn {
            inner: Some(Inner::Pooled(obj)),
            op: None,
            superuser: self.settings.user.clone(),
            detached: self.detached.clone(),
            role_epoch: self.role_epoch.clone(),
            spares: self.spares.clone(),
            home: None,
        };
        conn.prepare_session(user, timeout_ms).await?;
        Ok(conn)
    }
}

/// Where an open transaction keeps its connection between its statements (see
/// `transactions.rs`): a statement borrows it with [`PgConn::lend`] and gives it back when the
/// borrowed `PgConn` is dropped. Empty while lent, and for good once the connection was lost,
/// discarded or cancelled (the transaction is then over).
pub type ConnSlot = Arc<std::sync::Mutex<Option<PgConn>>>;

enum Inner {
    Pooled(Object),
    /// Taken out of the pool (a pinned cursor's connection): closed when dropped.
    Detached(PgSession),
}

/// One checked-out connection.
pub struct PgConn {
    inner: Option<Inner>,
    /// The running command's registration (killOp/killSessions may cancel it).
    op: Option<crate::running_ops::OpGuard>,
    superuser: String,
    detached: Arc<AtomicUsize>,
    role_epoch: Arc<AtomicU64>,
    spares: Spares,
    /// Set while lent out of a transaction's slot: dropping puts the connection back there.
    home: Option<ConnSlot>,
}

fn lock_slot(slot: &ConnSlot) -> std::sync::MutexGuard<'_, Option<PgConn>> {
    // The slot holds one value that is only ever replaced whole: usable after a panic.
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a transaction's connection is gone (lost, discarded or cancelled); only
/// meaningful while no statement has it lent.
pub fn slot_is_empty(slot: &ConnSlot) -> bool {
    lock_slot(slot).is_none()
}

impl PgConn {
    /// Takes a transaction's connection for one statement; None when the slot is empty (the
    /// connection is gone or already lent).
    pub fn lend(slot: &ConnSlot) -> Option<PgConn> {
        let mut conn = lock_slot(slot).take()?;
        conn.home = Some(slot.clone());
        Some(conn)
    }

    /// Takes a transaction's connection out of its slot for good (commit or abort); it goes
    /// back to the pool when dropped.
    pub fn take(slot: &ConnSlot) -> Option<PgConn> {
        lock_slot(slot).take()
    }

    /// Runs a transaction-control statement (`START TRANSACTION ...`, `COMMIT`, `ROLLBACK`)
    /// over the simple query protocol.
    pub async fn execute_simple(&self, statements: &str) -> CommandResult<()> {
        self.client()?.batch_execute(statements).await.map_err(|e| CommandError::from_postgres(&e))
    }

    /// The session settings may have been rolled back with a transaction: set them again
    /// before the next command.
    pub fn forget_session_state(&mut self) {
        if let Ok(session) = self.session_mut() {
            session.state = SessionState::Unknown;
        }
    }

    fn session(&self) -> CommandResult<&PgSession> {
        match &self.inner {
            Some(Inner::Pooled(o)) => Ok(o),
            Some(Inner::Detached(c)) => Ok(c),
            None => Err(CommandError::internal("PostgreSQL connection already released")),
        }
    }

    fn session_mut(&mut self) -> CommandResult<&mut PgSession> {
        match &mut self.inner {
            Some(Inner::Pooled(o)) => Ok(o),
            Some(Inner::Detached(c)) => Ok(c),
            None => Err(CommandError::internal("PostgreSQL connection already released")),
        }
    }

    fn client(&self) -> CommandResult<&ClientWrapper> {
        self.session().map(|s| &s.client)
    }

    pub fn is_closed(&self) -> bool {
        self.client().map(|c| c.is_closed()).unwrap_or(true)
    }

    /// Runs the next statements as `user` (None: the superuser) with `timeout_ms` (None or
    /// 0: no statement timeout). One round trip, only when something changes.
    pub async fn prepare_session(&mut self, user: Option<&str>, timeout_ms: Option<u64>) -> CommandResult<()> {
        let role = user.filter(|u| *u != self.superuser).map(str::to_owned);
        let timeout_ms = timeout_ms.filter(|t| *t > 0);
        let epoch = self.role_epoch.load(Ordering::Relaxed);
        let session = self.session()?;
        let (current_role, current_timeout) = match &session.state {
            SessionState::Known { role, timeout_ms } if session.epoch == epoch => {
                (Some(role.clone()), Some(*timeout_ms))
            }
            SessionState::Known { timeout_ms, .. } => (None, Some(*timeout_ms)),
            SessionState::Unknown => (None, None),
        };
        if current_role.as_ref() == Some(&role) && current_timeout == Some(timeout_ms) {
            return Ok(());
        }
        // Until the change is confirmed the state is unknown (a cancelled command leaves it so).
        self.session_mut()?.state = SessionState::Unknown;
        // The statement that changes the settings runs under the current ones: a tiny limit
        // left by the previous command's maxTimeMS could cancel it. Lift it first (a SET
        // takes microseconds), unless the connection is known to have none.
        if !matches!(current_timeout, Some(None)) {
            if let Err(e) = self.query(sql::LIFT_STATEMENT_TIMEOUT, &[]).await {
                self.discard();
                return Err(e);
            }
        }
        let timeout_text = timeout_ms.map(|ms| ms.to_string());
        let result = self.query(sql::PREPARE_SESSION, &[&role, &timeout_text]).await.map(drop);
        match result {
            Ok(()) => {
                let session = self.session_mut()?;
                session.state = SessionState::Known { role, timeout_ms };
                session.epoch = epoch;
                Ok(())
            }
            Err(err) => {
                // The state of the connection is unknown now: never reuse it.
                self.discard();
                // PostgreSQL refused the role (not a lost connection): the user may not run.
                if err.kind == "postgres" && err.code != ErrorCode::HostUnreachable && role.is_some() {
                    return Err(CommandError::unauthorized(format!(
                        "could not run as user {:?}: {}",
                        user.unwrap_or_default(),
                        err.message
                    )));
                }
                Err(err)
            }
        }
    }

    /// Runs one of the statements of [`sql`] (prepared once per connection) and returns its rows.
    pub async fn query(&self, statement: &'static str, params: &[&(dyn ToSql + Sync)]) -> CommandResult<Vec<Row>> {
        let client = self.client()?;
        let prepared = match client.prepare_cached(statement).await {
            Ok(p) => p,
            Err(e) => return Err(CommandError::from_postgres(&e)),
        };
        match client.query(&prepared, params).await {
            Ok(rows) => Ok(rows),
            Err(e) => {
                // Anything but a MongoDB error raised by the extension may mean the cached
                // plan is stale (types or functions recreated): prepare afresh next time.
                let state = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
                if !state.starts_with('M') {
                    client.statement_cache.remove(statement, &[]);
                }
                Err(CommandError::from_postgres(&e))
            }
        }
    }

    pub async fn query_one(&self, statement: &'static str, params: &[&(dyn ToSql + Sync)]) -> CommandResult<Row> {
        let rows = self.query(statement, params).await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| CommandError::internal(format!("no result row from PostgreSQL for: {statement}")))
    }

    /// Takes the connection out of the pool for good (a pinned cursor lives on it); it is
    /// closed when this `PgConn` is dropped.
    pub fn detach(&mut self) {
        // A connection lent by a snapshot read's slot leaves it for good (see
        // commands::transactions); a transaction's connection is never detached.
        self.home = None;
        // The command is over; the pinned connection now only serves getMores.
        if let Some(op) = self.op.take() {
            op.finish();
        }
        if let Some(Inner::Pooled(obj)) = self.inner.take() {
            self.detached.fetch_add(1, Ordering::Relaxed);
            self.inner = Some(Inner::Detached(Object::take(obj)));
        }
    }

    /// Closes the connection instead of returning it to the pool.
    pub fn discard(&mut self) {
        match self.inner.take() {
            Some(Inner::Pooled(obj)) => drop(Object::take(obj)),
            Some(Inner::Detached(c)) => {
                self.detached.fetch_sub(1, Ordering::Relaxed);
                drop(c)
            }
            None => {}
        }
    }

    /// A pinned cursor's connection once its cursor is over: its transaction block (and the
    /// portal in it) is ended, and the connection kept as a spare for the pool (at most
    /// [`SPARES_KEPT`]) instead of closing its backend. Closed when that fails.
    pub async fn retire(mut self) {
        if self.execute_simple("COMMIT").await.is_err() {
            self.discard();
            return;
        }
        if let Some(Inner::Detached(session)) = self.inner.take() {
            self.detached.fetch_sub(1, Ordering::Relaxed);
            let mut spares = lock_spares(&self.spares);
            if spares.len() < SPARES_KEPT {
                spares.push(session);
            }
        }
    }

    /// Returns the connection to the pool (with its session state recorded), or closes it
    /// when detached.
    pub fn release(self) {
        drop(self)
    }

    /// The token that cancels this connection's running statement.
    /// The PostgreSQL backend process running this connection's statements.
    pub fn backend_pid(&self) -> Option<i32> {
        self.session().ok().and_then(|s| s.backend_pid)
    }

    pub fn cancel_token(&self) -> Option<tokio_postgres::CancelToken> {
        self.client().ok().map(|c| c.cancel_token())
    }

    /// Ties the command's registration to this connection until it is released.
    pub fn attach_op(&mut self, op: crate::running_ops::OpGuard) {
        self.op = Some(op);
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        let cancelled = self.op.take().is_some_and(|op| op.finish());
        if let Some(home) = self.home.take() {
            // Back to its transaction, unless a cancel was sent to it (then it is closed and
            // the transaction is over: see OpGuard::finish).
            if let Some(inner) = if cancelled { None } else { self.inner.take() } {
                *lock_slot(&home) = Some(PgConn {
                    inner: Some(inner),
                    op: None,
                    superuser: self.superuser.clone(),
                    detached: self.detached.clone(),
                    role_epoch: self.role_epoch.clone(),
                    spares: self.spares.clone(),
                    home: None,
                });
                return;
            }
        }
        match self.inner.take() {
            // A connection a cancel was sent to is closed, never reused (see OpGuard::finish).
            Some(Inner::Pooled(obj)) if cancelled => drop(Object::take(obj)),
            Some(Inner::Pooled(obj)) => drop(obj),
            Some(Inner::Detached(c)) => {
                self.detached.fetch_sub(1, Ordering::Relaxed);
                drop(c)
            }
            None => {}
        }
    }
}

/// Reads a bson column that may be NULL.
pub fn bson_column(row: &Row, idx: usize) -> CommandResult<Option<Vec<u8>>> {
    row.try_get::<_, Option<BsonValue>>(idx)
        .map(|v| v.map(|b| b.0))
        .map_err(|e| CommandError::internal(format!("unexpected result from PostgreSQL: {e}")))
}

/// Reads a bson column that must be present.
pub fn required_bson(row: &Row, idx: usize) -> CommandResult<Vec<u8>> {
    bson_column(row, idx)?
        .ok_or_else(|| CommandError::internal("PostgreSQL returned NULL where a document was expected"))
}
