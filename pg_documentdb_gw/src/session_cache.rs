//! The cache of logical sessions (the `lsid` drivers attach to commands): the gateway's
//! equivalent of mongod's in-memory session cache, which `$listLocalSessions` lists and the
//! session commands (`startSession`, `refreshSessions`, `endSessions`, `killSessions`,
//! `killAllSessions`) act on.
//!
//! As in mongod, a session is identified by its UUID together with a digest of the user that
//! uses it (SHA-256 of `user@db`), so one user can neither see nor end another's session by
//! guessing its id. Sessions unused for `logicalSessionTimeoutMinutes` expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use bson::{doc, spec::BinarySubtype, Binary, Document, RawBsonRef, RawDocument};
use documentdb_errors::ErrorCode;
use sha2::{Digest, Sha256};

use crate::error::{CommandError, CommandResult};

/// mongod's default `maxSessions`.
pub const DEFAULT_MAX_SESSIONS: usize = 1_000_000;

/// `logicalSessionTimeoutMinutes`: sessions unused for this long expire (hello reports it).
pub const SESSION_TIMEOUT_MINUTES: i32 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub id: [u8; 16],
    /// SHA-256 of the owner's `user@db`.
    pub uid: [u8; 32],
}

impl SessionKey {
    /// `{id: UUID, uid: BinData}`, as lsid appears in listings.
    pub fn document(&self) -> Document {
        doc! {
            "id": Binary { subtype: BinarySubtype::Uuid, bytes: self.id.to_vec() },
            "uid": Binary { subtype: BinarySubtype::Generic, bytes: self.uid.to_vec() },
        }
    }
}

/// SHA-256 of `user@db`, the `uid` part of a session id.
pub fn user_digest(user: &str, db: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update(b"@");
    h.update(db.as_bytes());
    h.finalize().into()
}

/// Reads a session UUID (`{id: UUID}` element of lsid and the session commands).
pub fn parse_session_id(value: RawBsonRef<'_>, field: &str) -> CommandResult<[u8; 16]> {
    let RawBsonRef::Document(d) = value else {
        return Err(CommandError::type_mismatch(format!("BSON field '{field}' must be an object")));
    };
    match d.get("id")? {
        Some(RawBsonRef::Binary(b)) if b.subtype == BinarySubtype::Uuid && b.bytes.len() == 16 => {
            let mut id = [0u8; 16];
            id.copy_from_slice(b.bytes);
            Ok(id)
        }
        Some(_) => Err(CommandError::type_mismatch(format!("BSON field '{field}.id' must be a UUID"))),
        None => Err(CommandError::new(
            ErrorCode::new(40414),
            format!("BSON field '{field}.id' is missing but a required field"),
        )),
    }
}

/// The `lsid` of a command, when it has one.
pub fn command_session_id(body: &RawDocument) -> CommandResult<Option<[u8; 16]>> {
    match body.get("lsid")? {
        None => Ok(None),
        Some(v) => parse_session_id(v, "OperationSessionInfo.lsid").map(Some),
    }
}

#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// `user@db` of the owner.
    pub user: String,
    pub last_use: SystemTime,
    touched: Instant,
}

/// Which sessions a listing or kill applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owners {
    All,
    /// Sessions of these users (digests of `user@db`).
    Users(Vec<[u8; 32]>),
}

impl Owners {
    fn includes(&self, key: &SessionKey) -> bool {
        match self {
            Owners::All => true,
            Owners::Users(uids) => uids.contains(&key.uid),
        }
    }
}

pub struct SessionCache {
    sessions: Mutex<HashMap<SessionKey, SessionRecord>>,
    max_sessions: usize,
    timeout: Duration,
}

impl SessionCache {
    pub fn new(max_sessions: usize, timeout: Duration) -> SessionCache {
        SessionCache { sessions: Mutex::new(HashMap::new()), max_sessions, timeout }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, SessionRecord>> {
        // Every update is one insert/remove/field write: a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a use of a session (creating it, owned by `user()`: `user@db`), as every
    /// command carrying an lsid does.
    pub fn touch(&self, key: SessionKey, user: impl FnOnce() -> String) -> CommandResult<()> {
        let mut sessions = self.lock();
        if let Some(r) = sessions.get_mut(&key) {
            r.last_use = SystemTime::now();
            r.touched = Instant::now();
            return Ok(());
        }
        if sessions.len() >= self.max_sessions {
            return Err(CommandError::new(
                ErrorCode::TooManyLogicalSessions,
                format!(
                    "Unable to add session into the cache because the number of active sessions is too high \
                     ({} sessions); end unused sessions (endSessions) or wait for idle ones to expire",
                    sessions.len()
                ),
            ));
        }
        sessions.insert(key, SessionRecord { user: user(), last_use: SystemTime::now(), touched: Instant::now() });
        Ok(())
    }

    /// Forgets sessions (endSessions); returns those that existed.
    pub fn end(&self, keys: &[SessionKey]) -> Vec<SessionKey> {
        let mut sessions = self.lock();
        keys.iter().filter(|k| sessions.remove(k).is_some()).copied().collect()
    }

    /// The sessions of `owners`, sorted by last use (most recent first).
    pub fn list(&self, owners: &Owners) -> Vec<(SessionKey, SessionRecord)> {
        let mut out: Vec<_> =
            self.lock().iter().filter(|(k, _)| owners.includes(k)).map(|(k, r)| (*k, r.clone())).collect();
        out.sort_by_key(|(_, r)| std::cmp::Reverse(r.touched));
        out
    }

    /// Removes sessions unused for longer than the timeout and returns them.
    pub fn expire(&self) -> Vec<SessionKey> {
        let now = Instant::now();
        let mut sessions = self.lock();
        let expired: Vec<SessionKey> =
            sessions.iter().filter(|(_, r)| now.duration_since(r.touched) > self.timeout).map(|(k, _)| *k).collect();
        for k in &expired {
            sessions.remove(k);
        }
        expired
    }
}

/// A `$listLocalSessions` output document: `{_id: {id, uid}, lastUse, user: {name}}`.
pub fn session_document(key: &SessionKey, record: &SessionRecord) -> Document {
    doc! {
        "_id": key.document(),
        "lastUse": bson::DateTime::from_system_time(record.last_use),
        "user": { "name": record.user.as_str() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    fn key(n: u8, user: &str) -> SessionKey {
        SessionKey { id: [n; 16], uid: user_digest(user, "admin") }
    }

    #[test]
    fn touch_list_end() {
        let cache = SessionCache::new(10, Duration::from_secs(60));
        cache.touch(key(1, "alice"), || "alice@admin".into()).unwrap();
        cache.touch(key(2, "bob"), || "bob@admin".into()).unwrap();
        cache.touch(key(1, "alice"), || "alice@admin".into()).unwrap();
        assert_eq!(cache.len(), 2);
        let alice = Owners::Users(vec![user_digest("alice", "admin")]);
        let listed = cache.list(&alice);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].1.user, "alice@admin");
        assert_eq!(cache.list(&Owners::All).len(), 2);
        // The same UUID under another user is another session: bob cannot end alice's.
        assert!(cache.end(&[key(1, "bob")]).is_empty());
        assert_eq!(cache.end(&[key(1, "alice")]), vec![key(1, "alice")]);
        assert!(cache.list(&alice).is_empty());
    }

    #[test]
    fn cache_limit_is_too_many_logical_sessions() {
        let cache = SessionCache::new(2, Duration::from_secs(60));
        cache.touch(key(1, "a"), || "a@admin".into()).unwrap();
        cache.touch(key(2, "a"), || "a@admin".into()).unwrap();
        let err = cache.touch(key(3, "a"), || "a@admin".into()).unwrap_err();
        assert_eq!(err.code, ErrorCode::TooManyLogicalSessions);
        // Known sessions are still usable at the limit.
        cache.touch(key(1, "a"), || "a@admin".into()).unwrap();
    }

    #[test]
    fn idle_sessions_expire() {
        let cache = SessionCache::new(10, Duration::from_millis(1));
        cache.touch(key(1, "a"), || "a@admin".into()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.expire(), vec![key(1, "a")]);
        assert!(cache.is_empty());
    }

    #[test]
    fn lsid_parsing() {
        let id = Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] };
        let body = rawdoc! { "find": "c", "lsid": { "id": id } };
        assert_eq!(command_session_id(&body).unwrap(), Some([7; 16]));
        assert_eq!(command_session_id(&rawdoc! { "find": "c" }).unwrap(), None);
        let err = command_session_id(&rawdoc! { "find": "c", "lsid": 1 }).unwrap_err();
        assert_eq!(err.code, ErrorCode::TypeMismatch);
        let err = command_session_id(&rawdoc! { "find": "c", "lsid": {} }).unwrap_err();
        assert_eq!(err.code.code(), 40414);
        let generic = Binary { subtype: BinarySubtype::Generic, bytes: vec![7; 16] };
        let err = command_session_id(&rawdoc! { "find": "c", "lsid": { "id": generic } }).unwrap_err();
        assert_eq!(err.code, ErrorCode::TypeMismatch);
    }

    #[test]
    fn listing_document_shape() {
        let k = key(3, "carol");
        let r = SessionRecord { user: "carol@admin".into(), last_use: SystemTime::UNIX_EPOCH, touched: Instant::now() };
        let d = session_document(&k, &r);
        let id = d.get_document("_id").unwrap();
        assert_eq!(id.get_binary_generic("uid").unwrap().len(), 32);
        assert_eq!(d.get_document("user").unwrap().get_str("name").unwrap(), "carol@admin");
        assert!(d.get_datetime("lastUse").is_ok());
    }
}
