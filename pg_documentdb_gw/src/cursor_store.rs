//! The store of open cursors, gateway-wide (a driver may run `getMore` on any of its
//! connections).
//!
//! A cursor is its continuation document, plus, for a persistent cursor (a named portal on
//! one PostgreSQL backend), that pinned connection. Cursors belong to the user that created
//! them and die when exhausted, killed, or idle past the timeout.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use documentdb_errors::ErrorCode;

use crate::error::{CommandError, CommandResult};
use crate::pg::PgConn;
use crate::session_cache::SessionKey;
use crate::sql;

pub struct Cursor {
    pub owner: Option<String>,
    pub db: String,
    pub continuation: Option<Vec<u8>>,
    pub pinned: Option<PgConn>,
    /// The logical session of the command that opened it (killSessions closes it).
    pub session: Option<SessionKey>,
    /// The number of the session's transaction that opened it: it lives on that
    /// transaction's connection and dies with the transaction.
    pub transaction: Option<i64>,
    /// The snapshot (cluster time) of the snapshot read that opened it: it lives on that
    /// snapshot's connection.
    pub snapshot: Option<bson::Timestamp>,
    /// The namespace the cursor reads (`db.coll`), when known: dropping or renaming that
    /// collection closes it, as MongoDB kills the cursors of a dropped collection.
    pub namespace: Option<String>,
    last_used: Instant,
}

impl Cursor {
    pub fn new(owner: Option<String>, db: String, continuation: Option<Vec<u8>>, pinned: Option<PgConn>) -> Cursor {
        Cursor {
            owner,
            db,
            continuation,
            pinned,
            session: None,
            transaction: None,
            snapshot: None,
            namespace: None,
            last_used: Instant::now(),
        }
    }

    pub fn in_session(mut self, session: Option<SessionKey>) -> Cursor {
        self.session = session;
        self
    }

    pub fn in_transaction(mut self, number: Option<i64>) -> Cursor {
        self.transaction = number;
        self
    }

    pub fn on_namespace(mut self, namespace: Option<String>) -> Cursor {
        self.namespace = namespace;
        self
    }

    pub fn at_snapshot(mut self, time: Option<bson::Timestamp>) -> Cursor {
        self.snapshot = time;
        self
    }

    /// Closes a cursor taken out of the store: a pinned cursor's portals are closed, and
    /// its connection with them.
    pub async fn close(self, id: i64) {
        if let Some(conn) = self.pinned {
            close_pinned(id, conn).await;
        }
    }
}

/// Closes the portals of a pinned cursor and ends its transaction; the connection is kept
/// for reuse (see `PgConn::retire`), or closed when that fails.
async fn close_pinned(id: i64, mut conn: PgConn) {
    let ids = vec![id];
    if let Err(e) = conn.query(sql::DELETE_CURSORS, &[&ids]).await {
        tracing::debug!(cursor = id, "delete_cursors failed (the connection is closed): {e:?}");
        conn.discard();
        return;
    }
    conn.retire().await;
}

enum Slot {
    Idle(Box<Cursor>),
    /// Checked out by a running getMore; `kill` is set by a concurrent killCursors.
    InUse {
        owner: Option<String>,
        session: Option<SessionKey>,
        since: Instant,
        kill: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    Killed,
    NotFound,
}

#[derive(Default)]
pub struct CursorStore {
    slots: Mutex<HashMap<i64, Slot>>,
}

fn not_found(id: i64) -> CommandError {
    CommandError::new(ErrorCode::CursorNotFound, format!("cursor id {id} not found"))
}

impl CursorStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Slot>> {
        // A panic while holding this lock cannot leave the map inconsistent (every update
        // is a single insert/remove), so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn pinned_count(&self) -> usize {
        self.lock().values().filter(|s| matches!(s, Slot::Idle(c) if c.pinned.is_some())).count()
    }

    /// Registers a new cursor. An existing cursor with the same id is replaced (and its
    /// connection, if any, closed).
    pub fn insert(&self, id: i64, cursor: Cursor) {
        let old = self.lock().insert(id, Slot::Idle(Box::new(cursor)));
        drop(old);
    }

    /// Takes a cursor for a getMore by `user`.
    pub fn checkout(&self, id: i64, user: Option<&str>) -> CommandResult<Cursor> {
        let mut slots = self.lock();
        let session = match slots.get(&id) {
            None => return Err(not_found(id)),
            Some(Slot::InUse { owner, .. }) => {
                if owner.as_deref() != user {
                    return Err(not_owner(id));
                }
                return Err(CommandError::new(ErrorCode::CursorInUse, format!("cursor id {id} is already in use")));
            }
            Some(Slot::Idle(c)) if c.owner.as_deref() != user => return Err(not_owner(id)),
            Some(Slot::Idle(c)) => c.session,
        };
        let marker = Slot::InUse { owner: user.map(str::to_owned), session, since: Instant::now(), kill: false };
        match slots.insert(id, marker) {
            Some(Slot::Idle(c)) => Ok(*c),
            _ => Err(not_found(id)),
        }
    }

    /// Puts a cursor back after a getMore that left it open. Returns the cursor back when
    /// it was killed meanwhile (the caller closes it).
    pub fn checkin(&self, id: i64, mut cursor: Cursor) -> Option<Cursor> {
        let mut slots = self.lock();
        if let Some(Slot::InUse { kill: true, .. }) = slots.get(&id) {
            slots.remove(&id);
            return Some(cursor);
        }
        cursor.last_used = Instant::now();
        slots.insert(id, Slot::Idle(Box::new(cursor)));
        None
    }

    /// Forgets a checked-out cursor (exhausted or failed).
    pub fn finish(&self, id: i64) {
        let mut slots = self.lock();
        if let Some(Slot::InUse { .. }) = slots.get(&id) {
            slots.remove(&id);
        }
    }

    /// killCursors for one id; an idle cursor is returned so the caller can close its portal.
    pub fn kill(&self, id: i64, user: Option<&str>) -> (KillOutcome, Option<Cursor>) {
        let mut slots = self.lock();
        match slots.get_mut(&id) {
            Some(Slot::Idle(c)) if c.owner.as_deref() == user => match slots.remove(&id) {
                Some(Slot::Idle(c)) => (KillOutcome::Killed, Some(*c)),
                _ => (KillOutcome::NotFound, None),
            },
            Some(Slot::InUse { owner, kill, .. }) if owner.as_deref() == user => {
                *kill = true;
                (KillOutcome::Killed, None)
            }
            _ => (KillOutcome::NotFound, None),
        }
    }

    /// Kills the cursors opened in sessions `killed` selects (killSessions, endSessions,
    /// expired sessions): idle ones are returned for closing, in-use ones are marked.
    pub fn kill_sessions(&self, killed: impl Fn(&SessionKey) -> bool) -> Vec<(i64, Cursor)> {
        let mut slots = self.lock();
        let mut idle = Vec::new();
        for (id, slot) in slots.iter_mut() {
            match slot {
                Slot::Idle(c) if c.session.as_ref().is_some_and(&killed) => idle.push(*id),
                Slot::InUse { session: Some(s), kill, .. } if killed(s) => *kill = true,
                _ => {}
            }
        }
        idle.into_iter()
            .filter_map(|id| match slots.remove(&id) {
                Some(Slot::Idle(c)) => Some((id, *c)),
                _ => None,
            })
            .collect()
    }

    /// Takes out the idle cursors `wanted` selects, for closing (cursors in a getMore are
    /// left alone: their getMore finishes first).
    pub fn take_idle(&self, wanted: impl Fn(&Cursor) -> bool) -> Vec<(i64, Cursor)> {
        let mut slots = self.lock();
        let ids: Vec<i64> =
            slots.iter().filter(|(_, s)| matches!(s, Slot::Idle(c) if wanted(c))).map(|(id, _)| *id).collect();
        ids.into_iter()
            .filter_map(|id| match slots.remove(&id) {
                Some(Slot::Idle(c)) => Some((id, *c)),
                _ => None,
            })
            .collect()
    }

    /// Takes out the idle cursors holding a connection that read a namespace `matches`
    /// selects (a collection about to be dropped or renamed: their open transactions would
    /// make the DDL wait), for closing.
    pub fn kill_namespaces(&self, matches: impl Fn(&str) -> bool) -> Vec<(i64, Cursor)> {
        self.take_idle(|c| c.pinned.is_some() && c.namespace.as_deref().is_some_and(&matches))
    }

    /// The backend processes of the idle cursors holding a connection.
    pub fn pinned_backends(&self) -> Vec<i32> {
        self.lock()
            .values()
            .filter_map(|slot| match slot {
                Slot::Idle(c) => c.pinned.as_ref().and_then(PgConn::backend_pid),
                _ => None,
            })
            .collect()
    }

    /// Removes the cursors a transaction opened (it committed or aborted: their portals are
    /// gone). Its statements hold the session, so none of them is in use.
    pub fn remove_transaction(&self, session: &SessionKey, number: i64) -> usize {
        let mut slots = self.lock();
        let before = slots.len();
        slots.retain(|_, slot| {
            !matches!(slot, Slot::Idle(c) if c.session.as_ref() == Some(session) && c.transaction == Some(number))
        });
        before - slots.len()
    }

    /// Removes cursors idle for longer than `timeout` (and in-use markers stuck for longer,
    /// e.g. after a panic) and returns them for closing.
    pub fn expire(&self, timeout: Duration) -> Vec<(i64, Cursor)> {
        let now = Instant::now();
        let mut slots = self.lock();
        let expired: Vec<i64> = slots
            .iter()
            .filter(|(_, s)| match s {
                Slot::Idle(c) => now.duration_since(c.last_used) > timeout,
                Slot::InUse { since, .. } => now.duration_since(*since) > timeout.saturating_mul(6),
            })
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in expired {
            if let Some(Slot::Idle(c)) = slots.remove(&id) {
                out.push((id, *c));
            }
        }
        out
    }

    /// Removes every cursor (shutdown).
    pub fn drain(&self) -> Vec<(i64, Cursor)> {
        self.lock()
            .drain()
            .filter_map(|(id, s)| match s {
                Slot::Idle(c) => Some((id, *c)),
                Slot::InUse { .. } => None,
            })
            .collect()
    }
}

fn not_owner(id: i64) -> CommandError {
    CommandError::unauthorized(format!("cursor id {id} was not created by the authenticated user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(owner: &str) -> Cursor {
        Cursor::new(Some(owner.into()), "db".into(), Some(vec![5, 0, 0, 0, 0]), None)
    }

    #[test]
    fn ownership_and_in_use() {
        let store = CursorStore::default();
        store.insert(7, cursor("alice"));
        assert_eq!(store.checkout(7, Some("bob")).err().map(|e| e.code), Some(ErrorCode::Unauthorized));
        assert_eq!(store.checkout(8, Some("alice")).err().map(|e| e.code), Some(ErrorCode::CursorNotFound));
        let c = store.checkout(7, Some("alice")).unwrap();
        assert_eq!(store.checkout(7, Some("alice")).err().map(|e| e.code), Some(ErrorCode::CursorInUse));
        assert!(store.checkin(7, c).is_none());
        let c = store.checkout(7, Some("alice")).unwrap();
        drop(c);
        store.finish(7);
        assert!(store.is_empty());
    }

    #[test]
    fn kill_idle_and_in_use() {
        let store = CursorStore::default();
        store.insert(1, cursor("a"));
        store.insert(2, cursor("a"));
        assert_eq!(store.kill(1, Some("b")).0, KillOutcome::NotFound);
        let (o, c) = store.kill(1, Some("a"));
        assert_eq!(o, KillOutcome::Killed);
        assert!(c.is_some());
        let c2 = store.checkout(2, Some("a")).unwrap();
        let (o, c) = store.kill(2, Some("a"));
        assert_eq!(o, KillOutcome::Killed);
        assert!(c.is_none());
        assert!(store.checkin(2, c2).is_some());
        assert!(store.is_empty());
    }

    #[test]
    fn killing_a_session_kills_its_cursors() {
        let session = |n: u8| Some(SessionKey { id: [n; 16], uid: [0; 32] });
        let store = CursorStore::default();
        store.insert(1, cursor("a").in_session(session(1)));
        store.insert(2, cursor("a").in_session(session(2)));
        store.insert(3, cursor("a").in_session(session(1)));
        store.insert(4, cursor("a"));
        let busy = store.checkout(3, Some("a")).unwrap();
        let killed = store.kill_sessions(|k| k.id == [1; 16]);
        assert_eq!(killed.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1]);
        // The in-use cursor is closed when its getMore hands it back.
        assert!(store.checkin(3, busy).is_some());
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn a_transaction_takes_its_cursors_with_it() {
        let session = SessionKey { id: [1; 16], uid: [0; 32] };
        let store = CursorStore::default();
        store.insert(1, cursor("a").in_session(Some(session)).in_transaction(Some(3)));
        store.insert(2, cursor("a").in_session(Some(session)).in_transaction(Some(4)));
        store.insert(3, cursor("a").in_session(Some(session)));
        assert_eq!(store.remove_transaction(&session, 3), 1);
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn expiry() {
        let store = CursorStore::default();
        store.insert(1, cursor("a"));
        assert!(store.expire(Duration::from_secs(60)).is_empty());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(store.expire(Duration::from_millis(1)).len(), 1);
        assert!(store.is_empty());
    }
}
