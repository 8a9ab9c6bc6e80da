//! Multi-document transactions: each logical session's transaction state, as a replica set
//! member keeps it (the active `txnNumber` and whether its transaction is in progress,
//! committed or aborted), and the PostgreSQL connection an open transaction is pinned to.
//!
//! A transaction is one PostgreSQL transaction at REPEATABLE READ (the snapshot is taken by
//! its first statement, as MongoDB's is), on one pooled connection that every statement of
//! the transaction borrows ([`PgConn::lend`]) until commit or abort hands it back to the
//! pool. Statements run with a short `lock_timeout`, so a write to a document another open
//! transaction has written fails at once with WriteConflict instead of waiting (MongoDB's
//! behaviour); a document changed by a transaction that committed after the snapshot is a
//! serialization failure, also WriteConflict. See docs/transactions.md.
//!
//! The state machine ([`decide`]) is pure; [`Transactions`] adds the table, the pinned
//! connections, the lifetime limit and the cap on connections held by transactions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use documentdb_errors::ErrorCode;

use crate::error::{CommandError, CommandResult};
use crate::pg::{ConnSlot, PgConn, PgPool};
use crate::session_cache::SessionKey;

/// Starts the PostgreSQL transaction of a MongoDB transaction. A statement waits at most
/// 5 ms for a row or table lock before failing with WriteConflict (MongoDB's
/// `maxTransactionLockRequestTimeoutMillis` default is 5 ms too).
const BEGIN: &str = "START TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET LOCAL lock_timeout = '5ms'";

/// Takes the snapshot of snapshot reads (`readConcern: {level: "snapshot"}` outside a
/// transaction) and exports it: a read-only REPEATABLE READ transaction that reads no table
/// (so it holds no lock a DDL statement would wait for), kept open while the snapshot is.
const EXPORT_SNAPSHOT: &str = "START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// A snapshot taken for snapshot reads: the transaction that exported it, and its id.
struct HeldSnapshot {
    exporter: PgConn,
    id: String,
    last_use: Instant,
    _counted: OpenCount,
}

/// What the command asks of the session's transaction state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A retryable write (`txnNumber` without `autocommit`).
    RetryableWrite,
    /// The first statement of a transaction (`startTransaction: true`).
    Start,
    /// A later statement (`autocommit: false`).
    Continue,
    Commit,
    Abort,
}

/// Where the session's active transaction number stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// No transaction number used yet.
    Fresh,
    /// The active number was used by a retryable write.
    RetryableWrite,
    InProgress,
    Committed,
    /// Aborted, explicitly or because a statement failed or the lifetime limit passed.
    Aborted,
}

/// What to do, when the request is valid in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Abandon (roll back) whatever is open and start a transaction at the new number.
    Begin,
    /// Run in the open transaction.
    Continue,
    /// A retried commit of a committed transaction: answer ok again.
    AlreadyCommitted,
    /// A retryable write at a new (`true`) or the current number.
    RetryableWrite { new: bool },
}

fn no_such_transaction(message: String) -> CommandError {
    CommandError::new(ErrorCode::NoSuchTransaction, message)
}

/// MongoDB's transaction state rules (TransactionParticipant::beginOrContinue and the
/// commit/abort commands) for request `request` at `number`, with `active` the session's
/// current number and `phase` where it stands.
pub fn decide(active: Option<i64>, phase: &Phase, number: i64, request: Request) -> CommandResult<Decision> {
    if let Some(active) = active.filter(|a| number < *a) {
        let what = if *phase == Phase::RetryableWrite { "retryable write" } else { "transaction" };
        let message = match request {
            Request::RetryableWrite => format!(
                "Retryable write with txnNumber {number} is prohibited on session because a newer {what} with \
                 txnNumber {active} has already started on this session."
            ),
            _ => format!(
                "Cannot start transaction {number} on session because a newer {what} with txnNumber {active} has \
                 already started on this session."
            ),
        };
        return Err(CommandError::new(ErrorCode::TransactionTooOld, message));
    }
    let current = active == Some(number);
    match request {
        Request::RetryableWrite if !current => Ok(Decision::RetryableWrite { new: true }),
        Request::RetryableWrite => match phase {
            Phase::RetryableWrite | Phase::Fresh => Ok(Decision::RetryableWrite { new: false }),
            _ => Err(CommandError::new(
                ErrorCode::IncompleteTransactionHistory,
                "Cannot retry a retryable write that has been converted into a transaction",
            )),
        },
        Request::Start if !current => Ok(Decision::Begin),
        Request::Start => Err(CommandError::new(
            ErrorCode::ConflictingOperationInProgress,
            format!(
                "Cannot start a transaction at transaction number {number}: a transaction or retryable write with \
                 that number already ran on this session (only servers in a sharded cluster may restart one)"
            ),
        )),
        _ if !current || matches!(phase, Phase::Fresh | Phase::RetryableWrite) => {
            let active = active.map_or_else(|| "none".to_owned(), |a| a.to_string());
            Err(no_such_transaction(format!(
                "Given transaction number {number} does not match any in-progress transactions. The active \
                 transaction number is {active}"
            )))
        }
        Request::Commit => match phase {
            Phase::InProgress => Ok(Decision::Continue),
            Phase::Committed => Ok(Decision::AlreadyCommitted),
            _ => Err(no_such_transaction(format!("Transaction with {{ txnNumber: {number} }} has been aborted."))),
        },
        Request::Abort | Request::Continue => match phase {
            Phase::InProgress => Ok(Decision::Continue),
            Phase::Committed => Err(CommandError::new(
                ErrorCode::TransactionCommitted,
                format!("Transaction with {{ txnNumber: {number} }} has been committed."),
            )),
            _ => Err(no_such_transaction(format!("Transaction with {{ txnNumber: {number} }} has been aborted."))),
        },
    }
}

/// An open transaction's resources.
pub struct OpenTransaction {
    /// Its PostgreSQL connection between statements.
    pub slot: ConnSlot,
    pub expires_at: Instant,
    /// Releases the transaction's share of the connection cap when dropped (None: a
    /// snapshot read's statement, which holds its connection only while it runs).
    _counted: Option<OpenCount>,
    /// Where its outcome is counted (serverStatus), and whether it committed.
    stats: Option<Arc<Stats>>,
    committed: bool,
}

/// serverStatus' `transactions` counters.
#[derive(Default)]
pub struct Stats {
    pub started: AtomicU64,
    pub committed: AtomicU64,
    pub aborted: AtomicU64,
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        if let Some(stats) = &self.stats {
            let counter = if self.committed { &stats.committed } else { &stats.aborted };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct OpenCount(Arc<AtomicUsize>);

impl Drop for OpenCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One session's transaction state.
pub struct SessionTransaction {
    pub active: Option<i64>,
    pub phase: Phase,
    pub open: Option<OpenTransaction>,
    /// Why the active transaction was aborted (shown in NoSuchTransaction messages).
    pub abort_reason: Option<&'static str>,
    last_use: Instant,
}

impl SessionTransaction {
    fn new() -> SessionTransaction {
        SessionTransaction {
            active: None,
            phase: Phase::Fresh,
            open: None,
            abort_reason: None,
            last_use: Instant::now(),
        }
    }

    /// Holds `conn`, already inside a transaction, for one statement (a snapshot read), so
    /// the statement borrows it as a transaction's statement does.
    pub async fn statement(conn: PgConn) -> SessionGuard {
        let mut state = SessionTransaction::new();
        state.phase = Phase::InProgress;
        state.open = Some(OpenTransaction {
            slot: Arc::new(std::sync::Mutex::new(Some(conn))),
            expires_at: Instant::now() + Duration::from_secs(86_400),
            _counted: None,
            stats: None,
            committed: false,
        });
        Arc::new(tokio::sync::Mutex::new(state)).lock_owned().await
    }

    /// Ends a [`SessionTransaction::statement`]: commits its connection's transaction (or
    /// rolls it back after a failure) and returns it to the pool, unless a cursor took it.
    pub async fn finish_statement(mut state: SessionGuard, succeeded: bool) {
        let Some(open) = state.open.take() else { return };
        let Some(conn) = PgConn::take(&open.slot) else { return };
        let _ = end_transaction(conn, if succeeded { "COMMIT" } else { "ROLLBACK" }).await;
    }

    /// The open transaction's connection slot, when the active number's transaction is open.
    pub fn slot(&self) -> Option<&ConnSlot> {
        self.open.as_ref().map(|o| &o.slot)
    }

    /// Rolls back the open transaction (if any) and records the number as aborted.
    pub async fn abort(&mut self, reason: &'static str) {
        if let Some(open) = self.open.take() {
            rollback(&open.slot).await;
        }
        if self.phase == Phase::InProgress {
            self.phase = Phase::Aborted;
            self.abort_reason = Some(reason);
        }
    }

    /// Commits the open transaction. A failed COMMIT leaves the transaction aborted, a lost
    /// connection leaves its outcome unknown (reported as such by the error labels).
    pub async fn commit(&mut self) -> CommandResult<()> {
        let Some(mut open) = self.open.take() else {
            return Err(no_such_transaction("the transaction has no open PostgreSQL transaction".into()));
        };
        let Some(conn) = PgConn::take(&open.slot) else {
            self.phase = Phase::Aborted;
            self.abort_reason = Some("its PostgreSQL connection was lost or interrupted");
            return Err(no_such_transaction(
                "Transaction has been aborted: its PostgreSQL connection was lost or interrupted".into(),
            ));
        };
        match end_transaction(conn, "COMMIT").await {
            Ok(()) => {
                open.committed = true;
                self.phase = Phase::Committed;
                Ok(())
            }
            Err(e) => {
                self.phase = Phase::Aborted;
                self.abort_reason = Some("its commit failed");
                Err(e)
            }
        }
    }

    /// Moves to a new active number, abandoning whatever was open at the old one.
    async fn advance(&mut self, number: i64, phase: Phase) {
        self.abort("a newer transaction or retryable write started on its session").await;
        self.active = Some(number);
        self.phase = phase;
        self.abort_reason = None;
    }

    fn expired(&self, now: Instant) -> bool {
        self.open.as_ref().is_some_and(|o| o.expires_at <= now)
    }
}

/// Ends the transaction that exported a snapshot; its connection goes back to the pool.
async fn release_snapshot(held: HeldSnapshot) {
    let _ = end_transaction(held.exporter, "ROLLBACK").await;
}

fn snapshot_key(time: bson::Timestamp) -> u64 {
    (u64::from(time.time) << 32) | u64::from(time.increment)
}

/// Rolls back a transaction's PostgreSQL transaction, if it still has its connection.
async fn rollback(slot: &ConnSlot) {
    if let Some(conn) = PgConn::take(slot) {
        let _ = end_transaction(conn, "ROLLBACK").await;
    }
}

/// Ends the PostgreSQL transaction on `conn` with `end` (`COMMIT` or `ROLLBACK`) and returns
/// the connection to the pool. After a rollback its session settings are set again before
/// its next command (the role and statement timeout set inside were rolled back too); a
/// connection whose end failed is closed.
async fn end_transaction(mut conn: PgConn, end: &'static str) -> CommandResult<()> {
    let result = conn.execute_simple(end).await;
    match &result {
        Ok(()) if end == "ROLLBACK" => conn.forget_session_state(),
        Ok(()) => {}
        Err(e) => {
            tracing::debug!("{end} failed (closing its connection): {e:?}");
            conn.discard();
        }
    }
    result
}

/// A session's transaction state, locked for one command (commands of one session run one
/// at a time, as mongod checks a session out per command).
pub type SessionGuard = tokio::sync::OwnedMutexGuard<SessionTransaction>;

/// Every session's transaction state.
pub struct Transactions {
    sessions: std::sync::Mutex<HashMap<SessionKey, Arc<tokio::sync::Mutex<SessionTransaction>>>>,
    /// Snapshots of snapshot reads by their cluster time (`atClusterTime`): reads at that
    /// time, from any session, import the snapshot into a transaction of their own.
    snapshots: std::sync::Mutex<HashMap<u64, HeldSnapshot>>,
    open: Arc<AtomicUsize>,
    /// Outcomes of transactions (serverStatus).
    pub stats: Arc<Stats>,
    /// `transactionLifetimeLimitSeconds` (setParameter changes it for later transactions).
    lifetime_seconds: AtomicU64,
    /// At most this many transactions hold a pooled connection at once.
    max_open: usize,
}

impl Transactions {
    pub fn new(lifetime: Duration, pool_size: usize) -> Transactions {
        Transactions {
            sessions: Default::default(),
            snapshots: Default::default(),
            open: Default::default(),
            stats: Default::default(),
            lifetime_seconds: AtomicU64::new(lifetime.as_secs().max(1)),
            // One connection always stays for work outside transactions.
            max_open: pool_size.saturating_sub(1).max(1),
        }
    }

    /// `transactionLifetimeLimitSeconds`.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.lifetime_seconds.load(Ordering::Relaxed))
    }

    /// Sets `transactionLifetimeLimitSeconds` for transactions started from now on; returns
    /// the previous value.
    pub fn set_lifetime(&self, seconds: u64) -> u64 {
        self.lifetime_seconds.swap(seconds.max(1), Ordering::Relaxed)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, Arc<tokio::sync::Mutex<SessionTransaction>>>> {
        // Every update is one insert/remove: usable after a panic.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Transactions currently open.
    pub fn open_count(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The session's active transaction number, without waiting (None when unknown or the
    /// session is busy).
    pub fn active_number(&self, key: &SessionKey) -> Option<i64> {
        let entry = self.table().get(key).cloned()?;
        let state = entry.try_lock().ok()?;
        state.active
    }

    /// Locks `key`'s state for one command (waiting for a command of the same session).
    pub async fn lock(&self, key: SessionKey) -> SessionGuard {
        let entry = self
            .table()
            .entry(key)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(SessionTransaction::new())))
            .clone();
        let mut guard = entry.lock_owned().await;
        guard.last_use = Instant::now();
        guard
    }

    /// Applies `request` at `number` to the locked session state: aborts an expired
    /// transaction, then decides, and for a new transaction pins a connection running as
    /// `user` and starts the PostgreSQL transaction.
    pub async fn begin_or_continue(
        &self,
        state: &mut SessionTransaction,
        pool: &PgPool,
        user: Option<&str>,
        number: i64,
        request: Request,
    ) -> CommandResult<Decision> {
        if state.expired(Instant::now()) {
            state.abort("it exceeded transactionLifetimeLimitSeconds").await;
        }
        let decision = match decide(state.active, &state.phase, number, request) {
            Ok(d) => d,
            Err(mut e) => {
                if let (ErrorCode::NoSuchTransaction, Some(reason)) = (e.code, state.abort_reason) {
                    if state.active == Some(number) {
                        e.message = format!("{} It was aborted because {reason}.", e.message);
                    }
                }
                return Err(e);
            }
        };
        match decision {
            Decision::Begin => {
                state.advance(number, Phase::Aborted).await;
                state.abort_reason = Some("it could not start");
                state.open = Some(self.open_transaction(pool, user, BEGIN).await?);
                state.phase = Phase::InProgress;
                state.abort_reason = None;
            }
            Decision::RetryableWrite { new: true } => state.advance(number, Phase::RetryableWrite).await,
            Decision::Continue if state.slot().is_some_and(crate::pg::slot_is_empty) => {
                // Its connection was lost or a statement was interrupted (killOp).
                state.abort("its PostgreSQL connection was lost or interrupted").await;
                state.phase = Phase::Aborted;
                return Err(no_such_transaction(format!(
                    "Transaction with {{ txnNumber: {number} }} has been aborted: its PostgreSQL connection was lost \
                     or interrupted."
                )));
            }
            _ => {}
        }
        Ok(decision)
    }

    async fn open_transaction(
        &self,
        pool: &PgPool,
        user: Option<&str>,
        begin: &'static str,
    ) -> CommandResult<OpenTransaction> {
        let counted = self.reserve_connection(pool, "start a transaction").await?;
        let conn = pool.get(user, None).await?;
        self.stats.started.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = conn.execute_simple(begin).await {
            self.stats.aborted.fetch_add(1, Ordering::Relaxed);
            let mut conn = conn;
            conn.discard();
            return Err(e);
        }
        Ok(OpenTransaction {
            slot: Arc::new(std::sync::Mutex::new(Some(conn))),
            expires_at: Instant::now() + self.lifetime(),
            _counted: Some(counted),
            stats: Some(self.stats.clone()),
            committed: false,
        })
    }

    /// Takes and exports a new snapshot for snapshot reads; returns its cluster time.
    pub async fn open_snapshot(
        &self,
        pool: &PgPool,
        clock: &crate::cluster_time::ClusterClock,
    ) -> CommandResult<bson::Timestamp> {
        let counted = self.reserve_connection(pool, "take a snapshot").await?;
        let exporter = pool.get(None, None).await?;
        let exported = async {
            exporter.execute_simple(EXPORT_SNAPSHOT).await?;
            let row = exporter.query_one(crate::sql::EXPORT_SNAPSHOT, &[]).await?;
            row.try_get::<_, String>(0).map_err(|e| CommandError::internal(format!("pg_export_snapshot: {e}")))
        }
        .await;
        let id = match exported {
            Ok(id) => id,
            Err(e) => {
                let mut exporter = exporter;
                exporter.discard();
                return Err(e);
            }
        };
        // Every write acknowledged before has an earlier operation time.
        let time = clock.tick();
        let held = HeldSnapshot { exporter, id, last_use: Instant::now(), _counted: counted };
        self.snapshot_table().insert(snapshot_key(time), held);
        Ok(time)
    }

    /// The id of the snapshot taken at `time` (for `SET TRANSACTION SNAPSHOT`); None when
    /// there is none (never taken here, or released after going unused).
    pub fn snapshot_id(&self, time: bson::Timestamp) -> Option<String> {
        let mut table = self.snapshot_table();
        let held = table.get_mut(&snapshot_key(time))?;
        held.last_use = Instant::now();
        Some(held.id.clone())
    }

    /// A connection running as `user` inside a read-only transaction at the snapshot `id`
    /// (the caller commits it, or a cursor keeps it).
    pub async fn begin_at_snapshot(
        pool: &PgPool,
        user: Option<&str>,
        timeout_ms: Option<u64>,
        id: &str,
    ) -> CommandResult<PgConn> {
        // Ids come from pg_export_snapshot (hex digits and dashes); never quote anything else.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(CommandError::internal(format!("unexpected snapshot id {id:?}")));
        }
        let mut conn = pool.get(user, timeout_ms).await?;
        let begin =
            format!("START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{id}'");
        if let Err(e) = conn.execute_simple(&begin).await {
            conn.discard();
            return Err(e);
        }
        Ok(conn)
    }

    fn snapshot_table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, HeldSnapshot>> {
        self.snapshots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more connection held by a transaction or snapshot. At the cap, the least
    /// recently used snapshot is released first (a later read at its time gets 239
    /// SnapshotTooOld, as when mongod's snapshot history is gone); with none, an error.
    async fn reserve_connection(&self, pool: &PgPool, what: &str) -> CommandResult<OpenCount> {
        loop {
            let previously_open = self.open.fetch_add(1, Ordering::Relaxed);
            let counted = OpenCount(self.open.clone());
            if previously_open < self.max_open {
                return Ok(counted);
            }
            drop(counted);
            let oldest = {
                let mut table = self.snapshot_table();
                let key = table.iter().min_by_key(|(_, h)| h.last_use).map(|(k, _)| *k);
                key.and_then(|k| table.remove(&k))
            };
            match oldest {
                Some(held) => release_snapshot(held).await,
                None => return Err(self.pool_full(pool, what)),
            }
        }
    }

    fn pool_full(&self, pool: &PgPool, what: &str) -> CommandError {
        CommandError::new(
            ErrorCode::LockTimeout,
            format!(
                "cannot {what}: all {} PostgreSQL connections that transactions and snapshots may hold are pinned \
                 (the pool has {}); commit or abort some, or raise the pool size",
                self.max_open,
                pool.settings().pool_size
            ),
        )
    }

    /// Aborts the open transactions of the sessions `selected` picks (killSessions,
    /// endSessions), waiting for a command running in one to finish.
    pub async fn abort_sessions(&self, selected: impl Fn(&SessionKey) -> bool) {
        let entries: Vec<_> = self.table().iter().filter(|(k, _)| selected(k)).map(|(_, v)| v.clone()).collect();
        for entry in entries {
            let mut state = entry.lock_owned().await;
            state.abort("its session was killed or ended").await;
        }
    }

    /// Aborts transactions past their lifetime limit and forgets idle sessions' states
    /// (once their transaction is over and the session timeout has passed). A transaction
    /// whose statement is running is left to that statement's session lock holder.
    pub async fn reap(&self, idle_after: Duration) {
        let now = Instant::now();
        let entries: Vec<_> = self.table().iter().map(|(k, v)| (*k, v.clone())).collect();
        let mut forget = Vec::new();
        for (key, entry) in entries {
            let Ok(mut state) = entry.try_lock_owned() else { continue };
            if state.expired(now) {
                tracing::info!("aborting a transaction that exceeded transactionLifetimeLimitSeconds");
                state.abort("it exceeded transactionLifetimeLimitSeconds").await;
            }
            if state.open.is_none() && now.duration_since(state.last_use) > idle_after {
                forget.push(key);
            }
        }
        // Snapshots are kept while used, and released after the lifetime limit without use.
        let unused: Vec<HeldSnapshot> = {
            let mut table = self.snapshot_table();
            let old: Vec<u64> = table
                .iter()
                .filter(|(_, h)| now.duration_since(h.last_use) > self.lifetime())
                .map(|(k, _)| *k)
                .collect();
            old.iter().filter_map(|k| table.remove(k)).collect()
        };
        for held in unused {
            release_snapshot(held).await;
        }
        if !forget.is_empty() {
            let mut table = self.table();
            for key in forget {
                // Only if nobody took it meanwhile.
                if table.get(&key).is_some_and(|e| Arc::strong_count(e) == 1) {
                    table.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: CommandResult<Decision>) -> i32 {
        r.err().map_or(0, |e| e.code.code())
    }

    /// transactions spec (errors.json, commit.json, abort.json) and mongod's rules.
    #[test]
    fn state_rules() {
        use Phase::*;
        use Request::*;
        // Starting: a new number begins; the active number cannot start again.
        assert_eq!(decide(None, &Fresh, 1, Start).unwrap(), Decision::Begin);
        assert_eq!(decide(Some(1), &Committed, 2, Start).unwrap(), Decision::Begin);
        assert_eq!(code(decide(Some(1), &InProgress, 1, Start)), 117);
        assert_eq!(code(decide(Some(1), &Aborted, 1, Start)), 117);
        // An older number is too old, for transactions and retryable writes alike.
        assert_eq!(code(decide(Some(5), &InProgress, 4, Start)), 225);
        assert_eq!(code(decide(Some(5), &Phase::RetryableWrite, 4, Request::RetryableWrite)), 225);
        // Continuing needs the active number's transaction in progress.
        assert_eq!(decide(Some(1), &InProgress, 1, Continue).unwrap(), Decision::Continue);
        assert_eq!(code(decide(Some(1), &InProgress, 2, Continue)), 251);
        assert_eq!(code(decide(None, &Fresh, 1, Continue)), 251);
        assert_eq!(code(decide(Some(1), &Aborted, 1, Continue)), 251);
        assert_eq!(code(decide(Some(1), &Committed, 1, Continue)), 256);
        assert_eq!(code(decide(Some(1), &Phase::RetryableWrite, 1, Continue)), 251);
        // Commit: a retried commit of a committed transaction is ok; an aborted one is gone.
        assert_eq!(decide(Some(1), &InProgress, 1, Commit).unwrap(), Decision::Continue);
        assert_eq!(decide(Some(1), &Committed, 1, Commit).unwrap(), Decision::AlreadyCommitted);
        assert_eq!(code(decide(Some(1), &Aborted, 1, Commit)), 251);
        assert_eq!(code(decide(None, &Fresh, 1, Commit)), 251);
        // Abort after commit is TransactionCommitted; twice is NoSuchTransaction.
        assert_eq!(code(decide(Some(1), &Committed, 1, Abort)), 256);
        assert_eq!(code(decide(Some(1), &Aborted, 1, Abort)), 251);
        // Retryable writes: new numbers, retries, and numbers used by a transaction.
        assert_eq!(
            decide(Some(1), &Committed, 2, Request::RetryableWrite).unwrap(),
            Decision::RetryableWrite { new: true }
        );
        assert_eq!(
            decide(Some(2), &Phase::RetryableWrite, 2, Request::RetryableWrite).unwrap(),
            Decision::RetryableWrite { new: false }
        );
        assert_eq!(code(decide(Some(2), &Committed, 2, Request::RetryableWrite)), 217);
    }

    #[tokio::test]
    async fn sessions_are_locked_one_command_at_a_time() {
        let table = Transactions::new(Duration::from_secs(60), 4);
        let key = SessionKey { id: [1; 16], uid: [2; 32] };
        let first = table.lock(key).await;
        let entry = table.table().get(&key).cloned().unwrap();
        assert!(entry.try_lock().is_err(), "a second command of the session waits");
        drop(first);
        assert!(entry.try_lock().is_ok());
        // Idle, finished sessions are forgotten.
        drop(entry);
        table.reap(Duration::ZERO).await;
        assert!(table.table().is_empty());
    }
}
