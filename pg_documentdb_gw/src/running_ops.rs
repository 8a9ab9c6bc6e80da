//! The registry of running operations: every command that holds a PostgreSQL connection,
//! with what `currentOp` shows of it and the token that cancels it (killOp, killSessions).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bson::{RawDocument, RawDocumentBuf};
use tokio_postgres::CancelToken;

use crate::session_cache::SessionKey;

/// Command documents above this size show only their first field, as mongod truncates them.
const MAX_SHOWN_COMMAND: usize = 1024;

/// What `currentOp` shows of a running command: what it is cheap to record while it runs;
/// `op` and `ns` are derived from `command` when listed.
#[derive(Debug, Clone)]
pub struct OpInfo {
    pub session: Option<SessionKey>,
    /// The authenticated user: (MongoDB user name, authentication database).
    pub user: Option<(String, String)>,
    pub connection_id: i64,
    pub client: std::net::SocketAddr,
    pub app_name: Option<String>,
    pub db: String,
    /// The command document (truncated to its first field past 1 KiB, as mongod does).
    pub command: RawDocumentBuf,
    pub started_at: Instant,
    /// The PostgreSQL backend running it (for index build progress).
    pub backend_pid: Option<i32>,
}

/// Commands running on a PostgreSQL connection, for currentOp, killOp and killSessions.
#[derive(Default, Clone)]
pub struct RunningOps {
    inner: Arc<OpsInner>,
}

#[derive(Default)]
struct OpsInner {
    next_id: AtomicU64,
    ops: Mutex<HashMap<i32, RunningOp>>,
}

struct RunningOp {
    info: OpInfo,
    cancel: CancelToken,
    cancel_requested: bool,
}

impl OpsInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, RunningOp>> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Registration of one running command; ends with [`OpGuard::finish`] or when dropped.
pub struct OpGuard {
    ops: Arc<OpsInner>,
    id: i32,
}

impl OpGuard {
    /// Deregisters the command; true when a cancel was requested for it meanwhile. The
    /// connection must then not be reused: the cancel request may reach its backend late,
    /// while it runs some other command.
    pub fn finish(self) -> bool {
        let cancelled = self.ops.lock().remove(&self.id).is_some_and(|op| op.cancel_requested);
        std::mem::forget(self);
        cancelled
    }
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        self.ops.lock().remove(&self.id);
    }
}

impl RunningOps {
    pub fn register(&self, info: OpInfo, cancel: CancelToken) -> OpGuard {
        // mongod's opids are positive 32-bit integers.
        let id = (self.inner.next_id.fetch_add(1, Ordering::Relaxed) % i32::MAX as u64) as i32 + 1;
        self.inner.lock().insert(id, RunningOp { info, cancel, cancel_requested: false });
        OpGuard { ops: self.inner.clone(), id }
    }

    /// Marks the commands `selected` picks as cancelled and returns their cancel tokens
    /// (for the caller to send).
    pub fn cancel(&self, selected: impl Fn(i32, &OpInfo) -> bool) -> Vec<CancelToken> {
        let mut ops = self.inner.lock();
        ops.iter_mut()
            .filter(|(id, op)| selected(**id, &op.info))
            .map(|(_, op)| {
                op.cancel_requested = true;
                op.cancel.clone()
            })
            .collect()
    }

    /// (opid, description) of the running commands, oldest first.
    pub fn snapshot(&self) -> Vec<(i32, OpInfo)> {
        let mut out: Vec<_> = self.inner.lock().iter().map(|(id, op)| (*id, op.info.clone())).collect();
        out.sort_by_key(|(_, info)| info.started_at);
        out
    }

    /// The user (name, authentication database) running operation `opid` (None: no such
    /// operation).
    pub fn owner(&self, opid: i32) -> Option<Option<(String, String)>> {
        self.inner.lock().get(&opid).map(|op| op.info.user.clone())
    }
}

/// The command document as currentOp shows it: whole up to 1 KiB, else its first field
/// (when that alone fits in 1 KiB) and `$truncated: true`.
pub fn shown_command(body: &RawDocument) -> RawDocumentBuf {
    if body.as_bytes().len() <= MAX_SHOWN_COMMAND {
        return body.to_owned();
    }
    let mut shown = RawDocumentBuf::new();
    if let Some(Ok((k, v))) = body.iter().next() {
        shown.append(k, v);
        // A large first field is dropped too: listing converts the shown command to a
        // Document, recursively, and a deeply nested one would overflow the stack.
        if shown.as_bytes().len() > MAX_SHOWN_COMMAND {
            shown = RawDocumentBuf::new();
        }
    }
    shown.append(bson::raw::cstr!("$truncated"), true);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn long_commands_are_truncated() {
        let small = rawdoc! { "find": "c", "filter": { "a": 1 } };
        assert_eq!(shown_command(&small), small);
        let big = rawdoc! { "insert": "c", "documents": [{ "pad": "x".repeat(2000) }] };
        assert_eq!(shown_command(&big), rawdoc! { "insert": "c", "$truncated": true });
        // A first field too large to show, e.g. nested far too deeply to list.
        let mut deep = RawDocumentBuf::new();
        deep.append(bson::raw::cstr!("aggregate"), crate::test_support::deeply_nested(200_000));
        deep.append(bson::raw::cstr!("$db"), "db");
        assert_eq!(shown_command(&deep), rawdoc! { "$truncated": true });
        let big_name = rawdoc! { "find": "c".repeat(2000) };
        assert_eq!(shown_command(&big_name), rawdoc! { "$truncated": true });
    }
}
