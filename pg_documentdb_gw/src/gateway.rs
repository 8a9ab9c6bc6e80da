//! The gateway's shared state: configuration, the PostgreSQL pool, open cursors, logical
//! sessions, running operations, fail points and connection counters, shared by every
//! client connection.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio_rustls::TlsAcceptor;

use crate::auth_throttle::AuthThrottle;
use crate::cluster_time::ClusterClock;
use crate::config::{Config, TlsMode};
use crate::cursor_store::CursorStore;
use crate::failpoints::FailPoints;
use crate::pg::{PgPool, PgSettings};
use crate::running_ops::RunningOps;
use crate::session_cache::{SessionCache, DEFAULT_MAX_SESSIONS, SESSION_TIMEOUT_MINUTES};
use crate::transactions::Transactions;

/// State shared by every connection.
pub struct Gateway {
    pub config: Config,
    pub pool: PgPool,
    pub cursors: CursorStore,
    pub sessions: SessionCache,
    /// Each session's transaction state and open transactions' connections.
    pub transactions: Transactions,
    /// Commands running on a PostgreSQL connection (currentOp lists them; killOp and
    /// killSessions interrupt them).
    pub running: RunningOps,
    pub started: Instant,
    pub failpoints: FailPoints,
    /// Slows repeated authentication failures per client address.
    pub auth_failures: AuthThrottle,
    /// The replica set's cluster time.
    pub clock: ClusterClock,
    /// This gateway process's id (hello's topologyVersion).
    pub process_id: bson::oid::ObjectId,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) connections_current: AtomicUsize,
    pub(crate) connections_total: AtomicU64,
    pub(crate) next_connection_id: AtomicI64,
    next_request_id: AtomicI32,
}

impl Gateway {
    pub fn new(config: Config) -> Result<Gateway, String> {
        let tls = match config.tls_mode {
            TlsMode::Disabled => None,
            _ => Some(TlsAcceptor::from(crate::tls::server_config(
                config.tls_cert_file.as_deref(),
                config.tls_key_file.as_deref(),
                config.data_dir.as_deref(),
            )?)),
        };
        let pool = PgPool::new(PgSettings {
            socket_dir: config.pg_socket_dir.clone(),
            port: config.pg_port,
            user: config.pg_user.clone(),
            database: config.database.clone(),
            pool_size: config.pool_size,
        })?;
        let transactions = Transactions::new(config.transaction_lifetime, config.pool_size);
        let auth_failures = AuthThrottle::new(config.auth_failures_before_delay, config.auth_failure_delay);
        Ok(Gateway {
            auth_failures,
            clock: ClusterClock::default(),
            process_id: bson::oid::ObjectId::new(),
            config,
            pool,
            cursors: CursorStore::default(),
            sessions: SessionCache::new(DEFAULT_MAX_SESSIONS, Duration::from_secs(60 * SESSION_TIMEOUT_MINUTES as u64)),
            transactions,
            running: Default::default(),
            started: Instant::now(),
            failpoints: Default::default(),
            tls,
            connections_current: AtomicUsize::new(0),
            connections_total: AtomicU64::new(0),
            next_connection_id: AtomicI64::new(1),
            next_request_id: AtomicI32::new(1),
        })
    }

    pub fn connections_current(&self) -> usize {
        self.connections_current.load(Ordering::Relaxed)
    }

    pub fn connections_total(&self) -> u64 {
        self.connections_total.load(Ordering::Relaxed)
    }

    pub(crate) fn next_request_id(&self) -> i32 {
        self.next_request_id.fetch_add(1, Ordering::Relaxed)
    }
}
