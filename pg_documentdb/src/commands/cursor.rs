//! Cursor pages for `find`, `aggregate` and the list commands.
//!
//! Two ways to continue a cursor, chosen per query:
//! * **scan**: an unsorted scan of one collection resumes from the last row position it
//!   returned (`ctid > last`); the continuation document carries everything needed, so no
//!   state is held between calls and any connection can serve the next page.
//! * **portal**: any other query (sorted, aggregated, skipped...) keeps a named PostgreSQL
//!   portal open and reports `persistConnection`, so the gateway pins the connection to
//!   the cursor. Inside a transaction block the portal streams; outside one it is made
//!   holdable so that it survives the statement (PostgreSQL then materialises the rest).
//!
//! Replies are capped at 16 MiB of documents; documents fetched from a portal beyond the
//! cap travel in the continuation and lead the next page.

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbResult};

use super::spec::{self, read_fields};
use super::write_result::cstr;
use crate::spi::{self, Param, ParamType, Planning, Value};

/// MongoDB's cap on the documents of one reply batch.
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Default size of a first batch (MongoDB's 101).
pub const DEFAULT_FIRST_BATCH: i64 = 101;
/// Rows fetched from a portal per SPI round.
const PORTAL_CHUNK: i64 = 64;

/// An owned statement parameter.
#[derive(Debug, Clone)]
pub enum OwnedParam {
    Bson(Vec<u8>),
    Text(String),
    Int8(i64),
    /// `bson[]`.
    BsonArray(Vec<Vec<u8>>),
    Null(ParamType),
}

impl OwnedParam {
    pub fn as_param(&self) -> Param<'_> {
        match self {
            OwnedParam::Bson(b) => Param::Bson(b),
            OwnedParam::Text(t) => Param::Text(t),
            OwnedParam::Int8(i) => Param::Int8(*i),
            OwnedParam::BsonArray(a) => Param::BsonArray(a),
            OwnedParam::Null(t) => Param::Null(*t),
        }
    }
}

/// A query whose first column is the result document. For resumable scans the second
/// column is `ctid` and `ctid_param` is the 1-based number of the `tid` parameter the
/// SQL compares against (`ctid > $n`).
#[derive(Debug, Clone)]
pub struct PageQuery {
    pub sql: String,
    pub params: Vec<OwnedParam>,
    pub resumable_scan: bool,
    /// How to plan it (custom plans where index key ranges make the values matter; the
    /// indexes a hint allows).
    pub planning: Planning,
    /// The parameter that receives the key pattern of the index the plan reads, when the
    /// results report it (`{$meta: "indexKey"}`, `returnKey`; `meta_fields.rs`).
    pub index_key_param: Option<usize>,
}

/// What a first page returns (the OUT parameters of `*_cursor_first_page`).
pub struct FirstPage {
    pub reply: RawDocumentBuf,
    pub continuation: Option<RawDocumentBuf>,
    pub persist_connection: bool,
    pub cursor_id: i64,
}

/// Limits of a cursor.
#[derive(Debug, Clone, Copy)]
pub struct CursorOptions {
    /// Documents in the first batch (`batchSize`), default 101.
    pub batch_size: Option<i64>,
    /// Total documents to return (find's `limit`), 0 = unlimited.
    pub limit: i64,
    pub single_batch: bool,
}

fn new_cursor_id(requested: i64) -> i64 {
    if requested != 0 {
        return requested;
    }
    // Random positive 63-bit id, as MongoDB's.
    let mut bytes = [0u8; 8];
    let id = if crate::spi::strong_random(&mut bytes) { i64::from_le_bytes(bytes) & i64::MAX } else { 0 };
    if id == 0 {
        std::process::id() as i64 + 1
    } else {
        id
    }
}

// Portals this backend opened for cursors, with when they were last used. Idle ones are
// closed (their cursors expire, as MongoDB's do after cursorTimeoutMillis) whenever a
// cursor function runs.
thread_local! {
    static OPEN_PORTALS: std::cell::RefCell<std::collections::HashMap<String, std::time::Instant>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn touch_portal(name: &str) {
    OPEN_PORTALS.with(|p| p.borrow_mut().insert(name.to_owned(), std::time::Instant::now()));
}

fn forget_portal(name: &str) {
    OPEN_PORTALS.with(|p| p.borrow_mut().remove(name));
}

/// Closes portals idle for longer than `documentdb.cursor_timeout_ms`.
pub fn expire_idle_cursors() {
    let timeout = std::time::Duration::from_millis(crate::gucs::cursor_timeout_ms());
    let expired: Vec<String> = OPEN_PORTALS.with(|p| {
        let mut portals = p.borrow_mut();
        let now = std::time::Instant::now();
        let expired: Vec<String> =
            portals.iter().filter(|(_, used)| now.duration_since(**used) > timeout).map(|(n, _)| n.clone()).collect();
        for name in &expired {
            portals.remove(name);
        }
        expired
    });
    for name in expired {
        spi::close_cursor(&name);
    }
}

pub fn portal_name(cursor_id: i64) -> String {
    format!("documentdb_cursor_{cursor_id}")
}

/// Accumulates documents of one batch within the byte cap.
struct Batch {
    docs: Vec<Vec<u8>>,
    bytes: usize,
}

impl Batch {
    fn new() -> Batch {
        Batch { docs: Vec::new(), bytes: 0 }
    }
    /// Whether `doc` fits (the first document always fits).
    fn fits(&self, doc: &[u8]) -> bool {
        self.docs.is_empty() || self.bytes + doc.len() <= MAX_BATCH_BYTES
    }
    fn push(&mut self, doc: Vec<u8>) {
        self.bytes += doc.len();
        self.docs.push(doc);
    }
    fn to_array(&self) -> DocDbResult<RawArrayBuf> {
        let mut array = RawArrayBuf::new();
        for doc in &self.docs {
            let doc = RawDocument::from_bytes(doc).map_err(|e| docdb_error!(InternalError, "{e}"))?;
            array.push(doc);
        }
        Ok(array)
    }
}

/// `{ cursor: { firstBatch|nextBatch: [...], id, ns }, ok: 1 }`.
fn cursor_reply(batch: &Batch, cursor_id: i64, ns: &str, first: bool) -> DocDbResult<RawDocumentBuf> {
    let mut cursor = RawDocumentBuf::new();
    cursor.append(cstr(if first { "firstBatch" } else { "nextBatch" }), batch.to_array()?);
    cursor.append(cstr("id"), cursor_id);
    cursor.append(cstr("ns"), ns);
    let mut reply = RawDocumentBuf::new();
    reply.append(cstr("cursor"), cursor);
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

/// Serialisable cursor state.
#[derive(Debug, Clone)]
struct Continuation {
    ns: String,
    /// Documents still to return in total (-1 = unlimited).
    remaining: i64,
    kind: ContinuationKind,
    /// Documents fetched but not yet returned (portal mode, over the byte cap).
    pending: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
enum ContinuationKind {
    Scan {
        query: PageQuery,
        last: (u32, u16),
    },
    Portal {
        name: String,
    },
    /// All remaining documents travel in `pending` (small listings built in memory).
    Buffered,
}

impl Continuation {
    fn to_document(&self) -> DocDbResult<RawDocumentBuf> {
        let mut doc = rawdoc! { "v": 1, "ns": self.ns.as_str(), "remaining": self.remaining };
        match &self.kind {
            ContinuationKind::Scan { query, last } => {
                doc.append(cstr("kind"), "scan");
                doc.append(cstr("sql"), query.sql.as_str());
                let mut params = RawArrayBuf::new();
                for p in &query.params {
                    match p {
                        OwnedParam::Bson(b) => {
                            let d = RawDocument::from_bytes(b).map_err(|e| docdb_error!(InternalError, "{e}"))?;
                            params.push(rawdoc! { "bson": d.to_owned() });
                        }
                        OwnedParam::Text(t) => params.push(rawdoc! { "text": t.as_str() }),
                        OwnedParam::Int8(i) => params.push(rawdoc! { "int8": *i }),
                        OwnedParam::BsonArray(values) => {
                            let mut array = RawArrayBuf::new();
                            for v in values {
                                let d = RawDocument::from_bytes(v).map_err(|e| docdb_error!(InternalError, "{e}"))?;
                                array.push(d.to_owned());
                            }
                            params.push(rawdoc! { "bsonArray": array });
                        }
                        OwnedParam::Null(_) => params.push(rawdoc! { "null": true }),
                    }
                }
                doc.append(cstr("params"), params);
                doc.append(cstr("block"), i64::from(last.0));
                doc.append(cstr("offset"), i32::from(last.1));
            }
            ContinuationKind::Portal { name } => {
                doc.append(cstr("kind"), "portal");
                doc.append(cstr("portal"), name.as_str());
            }
            ContinuationKind::Buffered => doc.append(cstr("kind"), "buffered"),
        }
        if !self.pending.is_empty() {
            let mut pending = RawArrayBuf::new();
            for p in &self.pending {
                pending.push(RawDocument::from_bytes(p).map_err(|e| docdb_error!(InternalError, "{e}"))?);
            }
            doc.append(cstr("pending"), pending);
        }
        Ok(doc)
    }

    fn from_document(doc: &RawDocument) -> DocDbResult<Continuation> {
        let bad = || docdb_error!(BadValue, "invalid cursor continuation document");
        let ns = doc.get_str("ns").map_err(|_| bad())?.to_owned();
        let remaining = doc.get_i64("remaining").map_err(|_| bad())?;
        let pending = match doc.get_array("pending") {
            Ok(items) => items
                .into_iter()
                .filter_map(|i| match i {
                    Ok(RawBsonRef::Document(d)) => Some(d.as_bytes().to_vec()),
                    _ => None,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let kind = match doc.get_str("kind").map_err(|_| bad())? {
            "scan" => {
                let sql = doc.get_str("sql").map_err(|_| bad())?.to_owned();
                if !sql.starts_with("SELECT ") {
                    return Err(bad());
                }
                let mut params = Vec::new();
                for item in doc.get_array("params").map_err(|_| bad())? {
                    let Ok(RawBsonRef::Document(p)) = item else {
                        return Err(bad());
                    };
                    let param = if let Ok(b) = p.get_document("bson") {
                        OwnedParam::Bson(b.as_bytes().to_vec())
                    } else if let Ok(t) = p.get_str("text") {
                        OwnedParam::Text(t.to_owned())
                    } else if let Ok(i) = p.get_i64("int8") {
                        OwnedParam::Int8(i)
                    } else if let Ok(values) = p.get_array("bsonArray") {
                        let mut out = Vec::new();
                        for v in values {
                            let Ok(RawBsonRef::Document(d)) = v else { return Err(bad()) };
                            out.push(d.as_bytes().to_vec());
                        }
                        OwnedParam::BsonArray(out)
                    } else {
                        OwnedParam::Null(ParamType::Bson)
                    };
                    params.push(param);
                }
                let block = doc.get_i64("block").map_err(|_| bad())?;
                let offset = doc.get_i32("offset").map_err(|_| bad())?;
                ContinuationKind::Scan {
                    query: PageQuery {
                        sql,
                        params,
                        resumable_scan: true,
                        planning: Planning::default(),
                        index_key_param: None,
                    },
                    last: (u32::try_from(block).map_err(|_| bad())?, u16::try_from(offset).map_err(|_| bad())?),
                }
            }
            "portal" => ContinuationKind::Portal { name: doc.get_str("portal").map_err(|_| bad())?.to_owned() },
            "buffered" => ContinuationKind::Buffered,
            _ => return Err(bad()),
        };
        Ok(Continuation { ns, remaining, kind, pending })
    }
}

/// Runs a scan page: rows after `after`, at most `want` documents within the byte cap.
/// Returns the batch, the last row position, and whether the scan may have more.
fn scan_page(query: &PageQuery, after: (u32, u16), want: i64) -> DocDbResult<(Batch, (u32, u16), bool)> {
    let mut params: Vec<Param<'_>> = query.params.iter().map(OwnedParam::as_param).collect();
    params.push(Param::Tid(after.0, after.1));
    let sql = format!("{} LIMIT {}", query.sql, want.max(1));
    let rows = spi::execute(&sql, &params, true, 0)?;
    let fetched = rows.len() as i64;
    let mut batch = Batch::new();
    let mut last = after;
    for row in rows {
        let mut cols = row.into_iter();
        let doc = cols.next().and_then(Value::into_bson).unwrap_or_default();
        if !batch.fits(&doc) {
            return Ok((batch, last, true));
        }
        if let Some(Value::Tid(b, o)) = cols.next() {
            last = (b, o);
        }
        batch.push(doc);
    }
    Ok((batch, last, fetched >= want))
}

/// Fetches from a portal into a batch of at most `want` documents; documents fetched past
/// the byte cap are returned as `pending`. Returns (batch, pending, exhausted).
fn portal_page(
    name: &str,
    mut pending: Vec<Vec<u8>>,
    want: i64,
    cursor_id: i64,
) -> DocDbResult<(Batch, Vec<Vec<u8>>, bool)> {
    let mut batch = Batch::new();
    let mut queue: std::collections::VecDeque<Vec<u8>> = pending.drain(..).collect();
    let mut exhausted = false;
    while (batch.docs.len() as i64) < want {
        if queue.is_empty() {
            let chunk = (want - batch.docs.len() as i64).min(PORTAL_CHUNK);
            let Some(rows) = spi::fetch_cursor(name, chunk)? else {
                bail!(CursorNotFound, "cursor id {cursor_id} not found");
            };
            if (rows.len() as i64) < chunk {
                exhausted = true;
            }
            queue.extend(rows.into_iter().filter_map(|r| r.into_iter().next()?.into_bson()));
            if queue.is_empty() {
                break;
            }
        }
        let Some(doc) = queue.pop_front() else { break };
        if !batch.fits(&doc) {
            queue.push_front(doc);
            break;
        }
        batch.push(doc);
    }
    let leftover: Vec<Vec<u8>> = queue.into_iter().collect();
    let exhausted = exhausted && leftover.is_empty();
    Ok((batch, leftover, exhausted))
}

/// Produces the first page of a cursor over `query`.
pub fn first_page(query: PageQuery, ns: &str, opts: CursorOptions, requested_id: i64) -> DocDbResult<FirstPage> {
    let batch_size = opts.batch_size.unwrap_or(DEFAULT_FIRST_BATCH);
    let remaining = if opts.limit > 0 { opts.limit } else { -1 };
    let want = if remaining > 0 { batch_size.min(remaining) } else { batch_size };
    let unlimited_batch = opts.batch_size.is_none() && opts.single_batch;
    let want = if unlimited_batch {
        if remaining > 0 {
            remaining
        } else {
            i64::MAX
        }
    } else {
        want
    };

    if query.resumable_scan {
        let (batch, last, more) = scan_page(&query, (0, 0), want.max(0))?;
        let returned = batch.docs.len() as i64;
        let remaining = if remaining > 0 { remaining - returned } else { -1 };
        let more = more && remaining != 0 && !opts.single_batch && want > 0 || (want == 0 && !opts.single_batch);
        let cursor_id = if more { new_cursor_id(requested_id) } else { 0 };
        let reply = cursor_reply(&batch, cursor_id, ns, true)?;
        let continuation = if more {
            Some(
                Continuation {
                    ns: ns.to_owned(),
                    remaining,
                    kind: ContinuationKind::Scan { query, last },
                    pending: Vec::new(),
                }
                .to_document()?,
            )
        } else {
            None
        };
        return Ok(FirstPage { reply, continuation, persist_connection: false, cursor_id });
    }

    // Everything fits in one batch: run it directly, no cursor needed.
    if opts.single_batch || (remaining > 0 && remaining <= want) {
        let params: Vec<Param<'_>> = query.params.iter().map(OwnedParam::as_param).collect();
        let limit = if want == i64::MAX { 0 } else { want };
        let rows = spi::execute_planned(&query.sql, &params, true, limit, &query.planning)?;
        let mut batch = Batch::new();
        for row in rows {
            let doc = row.into_iter().next().and_then(Value::into_bson).unwrap_or_default();
            if !batch.fits(&doc) {
                break;
            }
            batch.push(doc);
        }
        return Ok(FirstPage {
            reply: cursor_reply(&batch, 0, ns, true)?,
            continuation: None,
            persist_connection: false,
            cursor_id: 0,
        });
    }

    let cursor_id = new_cursor_id(requested_id);
    let name = portal_name(cursor_id);
    spi::close_cursor(&name);
    let params: Vec<Param<'_>> = query.params.iter().map(OwnedParam::as_param).collect();
    expire_idle_cursors();
    spi::open_cursor(&name, &query.sql, &params, !spi::in_transaction_block(), &query.planning)?;
    touch_portal(&name);
    let (batch, pending, exhausted) = portal_page(&name, Vec::new(), want, cursor_id)?;
    let returned = batch.docs.len() as i64;
    let remaining = if remaining > 0 { remaining - returned } else { -1 };
    if exhausted || remaining == 0 {
        spi::close_cursor(&name);
        return Ok(FirstPage {
            reply: cursor_reply(&batch, 0, ns, true)?,
            continuation: None,
            persist_connection: false,
            cursor_id: 0,
        });
    }
    let continuation = Continuation { ns: ns.to_owned(), remaining, kind: ContinuationKind::Portal { name }, pending };
    Ok(FirstPage {
        reply: cursor_reply(&batch, cursor_id, ns, true)?,
        continuation: Some(continuation.to_document()?),
        persist_connection: true,
        cursor_id,
    })
}

/// `getMore`: the next page of a cursor, given its continuation.
pub fn get_more(
    spec: &RawDocument,
    continuation: &RawDocument,
) -> DocDbResult<(RawDocumentBuf, Option<RawDocumentBuf>)> {
    let cursor_id = match spec::command_target(spec, "getMore")? {
        RawBsonRef::Int64(id) => id,
        RawBsonRef::Int32(id) => i64::from(id),
        _ => bail!(TypeMismatch, "BSON field 'getMore.getMore' is the wrong type, expected type 'long'"),
    };
    let mut batch_size: Option<i64> = None;
    let mut collection: Option<&str> = None;
    read_fields(spec, "getMore", |field| {
        match field.name {
            "batchSize" => batch_size = Some(field.non_negative()?),
            "collection" => collection = Some(field.str()?),
            "term" | "lastKnownCommittedOpTime" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if collection.is_none() {
        return Err(spec::missing("getMore", "collection"));
    }
    let mut state = Continuation::from_document(continuation)?;
    let want = match (batch_size, state.remaining) {
        (Some(b), r) if b > 0 && r > 0 => b.min(r),
        (Some(b), _) if b > 0 => b,
        (_, r) if r > 0 => r,
        _ => i64::MAX,
    };
    let (batch, next) = match &mut state.kind {
        ContinuationKind::Scan { query, last } => {
            let (batch, new_last, more) = scan_page(query, *last, if want == i64::MAX { 10_000 } else { want })?;
            *last = new_last;
            let more = more || (want == i64::MAX && batch.docs.len() as i64 >= 10_000);
            (batch, more)
        }
        ContinuationKind::Portal { name } => {
            let name = name.clone();
            touch_portal(&name);
            let (batch, pending, exhausted) = portal_page(&name, std::mem::take(&mut state.pending), want, cursor_id)?;
            state.pending = pending;
            if exhausted {
                spi::close_cursor(&name);
            }
            (batch, !exhausted)
        }
        ContinuationKind::Buffered => {
            let (batch, rest) = buffered_page(std::mem::take(&mut state.pending), want);
            let more = !rest.is_empty();
            state.pending = rest;
            (batch, more)
        }
    };
    if state.remaining > 0 {
        state.remaining -= batch.docs.len() as i64;
    }
    let more = next && state.remaining != 0;
    if !more {
        if let ContinuationKind::Portal { name } = &state.kind {
            spi::close_cursor(name);
        }
    }
    let id = if more { cursor_id } else { 0 };
    let reply = cursor_reply(&batch, id, &state.ns, false)?;
    let continuation = if more { Some(state.to_document()?) } else { None };
    Ok((reply, continuation))
}

fn buffered_page(docs: Vec<Vec<u8>>, want: i64) -> (Batch, Vec<Vec<u8>>) {
    let mut batch = Batch::new();
    let mut rest = Vec::new();
    for doc in docs {
        if rest.is_empty() && (batch.docs.len() as i64) < want && batch.fits(&doc) {
            batch.push(doc);
        } else {
            rest.push(doc);
        }
    }
    (batch, rest)
}

/// A cursor over documents already in memory (listCollections, listIndexes).
pub fn first_page_from_documents(
    docs: Vec<Vec<u8>>,
    ns: &str,
    batch_size: Option<i64>,
    requested_id: i64,
) -> DocDbResult<FirstPage> {
    let want = batch_size.unwrap_or(i64::MAX);
    let (batch, rest) = buffered_page(docs, want);
    if rest.is_empty() {
        return Ok(FirstPage {
            reply: cursor_reply(&batch, 0, ns, true)?,
            continuation: None,
            persist_connection: false,
            cursor_id: 0,
        });
    }
    let cursor_id = new_cursor_id(requested_id);
    let continuation =
        Continuation { ns: ns.to_owned(), remaining: -1, kind: ContinuationKind::Buffered, pending: rest };
    Ok(FirstPage {
        reply: cursor_reply(&batch, cursor_id, ns, true)?,
        continuation: Some(continuation.to_document()?),
        persist_connection: false,
        cursor_id,
    })
}

/// Closes the portals of the given cursors (killCursors of pinned cursors).
pub fn close_cursors(ids: &[i64]) -> Vec<i64> {
    ids.iter()
        .copied()
        .filter(|id| {
            let name = portal_name(*id);
            forget_portal(&name);
            spi::close_cursor(&name)
        })
        .collect()
}
