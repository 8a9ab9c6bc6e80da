//! PostgreSQL access: raw bson parameters, the connection pool over the unix socket, and the
//! per-connection session state (current role, statement timeout).
//!
//! Invariant: a connection sitting in the pool has its session defaults (no `SET ROLE`, no
//! statement timeout). A connection whose state was changed is reset before it goes back
//! (off the reply path), or discarded when that is not possible.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime};
use documentdb_errors::ErrorCode;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::{NoTls, Row};

use crate::error::{CommandError, CommandResult};
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

/// The pool of connections to PostgreSQL.
pub struct PgPool {
    pool: Pool,
    settings: PgSettings,
    /// Connections taken out of the pool for pinned cursors.
    pub detached: Arc<AtomicUsize>,
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
            .options("-c search_path=documentdb_api_catalog,documentdb_api,public")
            .connect_timeout(Duration::from_secs(10));
        let manager = Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(60)))
            .create_timeout(Some(Duration::from_secs(15)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(PgPool { pool, settings, detached: Arc::new(AtomicUsize::new(0)) })
    }

    pub fn settings(&self) -> &PgSettings {
        &self.settings
    }

    pub fn superuser(&self) -> &str {
        &self.settings.user
    }

    /// (size, available, waiting) of the pool.
    pub fn status(&self) -> (usize, usize, usize) {
        let s = self.pool.status();
        (s.size, s.available, s.waiting)
    }

    /// A connection in its default state (superuser, no timeout).
    pub async fn get(&self) -> CommandResult<PgConn> {
        match self.pool.get().await {
            Ok(obj) => Ok(PgConn {
                inner: Some(Inner::Pooled(obj)),
                role: None,
                timeout_ms: None,
                superuser: self.settings.user.clone(),
                detached: self.detached.clone(),
            }),
            Err(PoolError::Timeout(_)) => Err(CommandError::new(
                ErrorCode::ExceededTimeLimit,
                "timed out waiting for a PostgreSQL connection from the gateway's pool",
            )),
            Err(PoolError::Backend(e)) => {
                let mut err = CommandError::from_postgres(&e);
                if e.as_db_error().is_none() {
                    err.message = format!(
                        "could not connect to PostgreSQL at {}/.s.PGSQL.{}: {}",
                        self.settings.socket_dir.display(),
                        self.settings.port,
                        err.message
                    );
                }
                Err(err)
            }
            Err(e) => Err(CommandError::new(ErrorCode::new(6), format!("could not connect to PostgreSQL: {e}"))),
        }
    }
}

enum Inner {
    Pooled(Object),
    /// Taken out of the pool (a pinned cursor's connection): closed when dropped.
    Detached(ClientWrapper),
}

/// One checked-out connection and the session state we set on it.
pub struct PgConn {
    inner: Option<Inner>,
    /// The role set with `SET ROLE`; `None` is the session default (the superuser).
    role: Option<String>,
    timeout_ms: Option<u64>,
    superuser: String,
    detached: Arc<AtomicUsize>,
}

impl PgConn {
    fn client(&self) -> CommandResult<&ClientWrapper> {
        match &self.inner {
            Some(Inner::Pooled(o)) => Ok(o),
            Some(Inner::Detached(c)) => Ok(c),
            None => Err(CommandError::internal("PostgreSQL connection already released")),
        }
    }

    fn dirty(&self) -> bool {
        self.role.is_some() || self.timeout_ms.is_some()
    }

    pub fn is_closed(&self) -> bool {
        self.client().map(|c| c.is_closed()).unwrap_or(true)
    }

    /// Runs the next statements as `user` (None: the superuser) with `timeout_ms` (None or
    /// 0: no statement timeout). One round trip, only when something changes.
    pub async fn prepare_session(&mut self, user: Option<&str>, timeout_ms: Option<u64>) -> CommandResult<()> {
        let role = user.filter(|u| *u != self.superuser).map(str::to_owned);
        let timeout_ms = timeout_ms.filter(|t| *t > 0);
        let mut batch = Vec::new();
        if role != self.role {
            batch.push(match &role {
                Some(r) => sql::set_role(r),
                None => "RESET ROLE".to_owned(),
            });
        }
        if timeout_ms != self.timeout_ms {
            batch.push(match timeout_ms {
                Some(ms) => sql::set_statement_timeout(ms),
                None => "RESET statement_timeout".to_owned(),
            });
        }
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.client()?.batch_execute(&batch.join("; ")).await;
        match result {
            Ok(()) => {
                self.role = role;
                self.timeout_ms = timeout_ms;
                Ok(())
            }
            Err(e) => {
                // The state of the connection is unknown now: never reuse it.
                self.discard();
                let mut err = CommandError::from_postgres(&e);
                if e.as_db_error().is_some() && role.is_some() {
                    err = CommandError::unauthorized(format!(
                        "could not run as user {:?}: {}",
                        user.unwrap_or_default(),
                        err.message
                    ));
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

    /// Returns the connection to the pool, resetting its session state first when needed.
    /// The reset runs in a background task so the reply isn't delayed by it.
    pub fn release(mut self) {
        if !self.dirty() {
            return; // Drop returns a pooled connection as it is and closes a detached one.
        }
        match self.inner.take() {
            Some(Inner::Pooled(obj)) => {
                self.role = None;
                self.timeout_ms = None;
                tokio::spawn(async move {
                    if obj.is_closed() || obj.batch_execute(sql::RESET_SESSION).await.is_err() {
                        drop(Object::take(obj));
                    }
                    // Otherwise dropping `obj` returns it to the pool, reset.
                });
            }
            other => self.inner = other, // detached: closed by Drop
        }
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        match self.inner.take() {
            // Dropped without `release`: never return a connection in an unknown role.
            Some(Inner::Pooled(obj)) if self.dirty() => drop(Object::take(obj)),
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
