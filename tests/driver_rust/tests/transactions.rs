//! Multi-document transactions through the MongoDB wire gateway with the official Rust driver.
//!
//! Run: `MONGODB_URI="$(cat data/mongodb.uri)" cargo test -p driver_rust_tests --test transactions`.
//! Every test connects to `MONGODB_URI` and fails when it is unset or unreachable. Each test
//! works in a database of its own (`rust_txn_<test>_<pid>_<nanos>`), dropped when the test ends
//! (also when it fails). The rules checked are MongoDB's (manual: "Transactions", "Drivers
//! API", "In-progress transactions and write conflicts"); docs/transactions.md says how the
//! gateway maps them onto PostgreSQL transactions.
//!
//! The one answer tolerated besides MongoDB's is the gateway's documented LockTimeout (24,
//! TransientTransactionError) to the first statement of a transaction while every pool
//! connection transactions may pin is pinned (e.g. by a stress run sharing the cluster): a
//! transaction's first statement is a probe that waits and retries on it ([`begin`],
//! [`probe`]), and the callback tests count such attempts apart.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{FutureExt, TryStreamExt};
use mongodb::bson::{doc, Document};
use mongodb::error::{Error, ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, ReturnDocument};
use mongodb::{Client, ClientSession, Collection, Database};

fn uri() -> String {
    match std::env::var("MONGODB_URI") {
        Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
        _ => panic!("MONGODB_URI is not set: point it at the gateway (e.g. $(cat data/mongodb.uri))"),
    }
}

/// A client that has proven it can reach and authenticate to the gateway.
async fn connect() -> Client {
    let mut opts = ClientOptions::parse(uri()).await.expect("MONGODB_URI does not parse");
    opts.server_selection_timeout = Some(Duration::from_secs(5));
    opts.app_name = Some("driver_rust_tests/transactions".to_string());
    let client = Client::with_options(opts).expect("client options rejected");
    client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .unwrap_or_else(|e| panic!("gateway at MONGODB_URI is not reachable: {e}"));
    client
}

/// A database for one test; dropped (with a client of its own) when the guard goes out of
/// scope, so a failing test cleans up too.
struct TestDb {
    client: Client,
    name: String,
}

impl TestDb {
    async fn new(test: &str) -> Self {
        let client = connect().await;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("rust_txn_{test}_{}_{nanos:08x}", std::process::id());
        let db = Self { client, name };
        db.db().drop().await.expect("dropDatabase");
        db
    }

    fn db(&self) -> Database {
        self.client.database(&self.name)
    }

    /// A new, empty collection (created outside any transaction).
    async fn coll(&self, name: &str) -> Collection<Document> {
        self.db().create_collection(name).await.unwrap_or_else(|e| panic!("create {name}: {e}"));
        self.db().collection(name)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // The test's runtime is busy running this drop: clean up on a runtime of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok(opts) = ClientOptions::parse(uri()).await {
                    if let Ok(client) = Client::with_options(opts) {
                        let _ = client.database(&name).drop().await;
                    }
                }
            });
        })
        .join();
    }
}

/// The server-side error code of a command error, or a panic describing what came instead.
fn command_code(err: &Error) -> i32 {
    match err.kind.as_ref() {
        ErrorKind::Command(c) => c.code,
        other => panic!("expected a command error, got {other:?}"),
    }
}

/// LockTimeout (24, TransientTransactionError): the gateway's answer to the first statement
/// of a transaction while every connection transactions may pin is pinned
/// (docs/transactions.md, "Connections").
fn is_pool_full(err: &Error) -> bool {
    matches!(err.kind.as_ref(), ErrorKind::Command(c) if c.code == 24)
        && err.contains_label("TransientTransactionError")
}

/// The first statement of a transaction (it pins a connection and takes the snapshot): a read
/// of a document that does not exist. Counts, and returns, a pool-full LockTimeout.
async fn probe(
    coll: &Collection<Document>,
    session: &mut ClientSession,
    pool_full: &mut u32,
) -> mongodb::error::Result<()> {
    match coll.find_one(doc! {"_id": "__probe__"}).session(session).await {
        Ok(found) => {
            assert_eq!(found, None);
            Ok(())
        }
        Err(e) => {
            if is_pool_full(&e) {
                *pool_full += 1;
            }
            Err(e)
        }
    }
}

/// Starts a transaction on `session` and runs its first statement, waiting (up to 30 s) while
/// the gateway answers that the pool is full.
async fn begin(session: &mut ClientSession, coll: &Collection<Document>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pool_full = 0;
    loop {
        session.start_transaction().await.unwrap();
        match probe(coll, session, &mut pool_full).await {
            Ok(()) => return,
            Err(e) if is_pool_full(&e) && Instant::now() < deadline => {
                session.abort_transaction().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20 * u64::from(pool_full.min(10)))).await;
            }
            Err(e) => panic!("the first statement of a transaction failed: {e:?}"),
        }
    }
}

/// Every document of `coll`, sorted by `_id`, read outside any transaction.
async fn all(coll: &Collection<Document>) -> Vec<Document> {
    coll.find(doc! {}).sort(doc! {"_id": 1}).await.unwrap().try_collect().await.unwrap()
}

/// Every document of `coll`, sorted by `_id`, read inside `session`'s transaction.
async fn all_in(coll: &Collection<Document>, session: &mut ClientSession) -> Vec<Document> {
    let mut cursor = coll.find(doc! {}).sort(doc! {"_id": 1}).session(&mut *session).await.unwrap();
    cursor.stream(session).try_collect().await.unwrap()
}

/// The `n` field of the document with `_id: 1`, read outside any transaction.
async fn n_of_doc_1(coll: &Collection<Document>) -> i32 {
    coll.find_one(doc! {"_id": 1}).await.unwrap().expect("document 1").get_i32("n").unwrap()
}

// ------------------------------------------------------------------ commit and abort

/// Until a transaction commits, its writes are visible inside it only; after the commit every
/// one of them is visible to other clients at once.
#[tokio::test]
async fn commit_makes_the_writes_visible_only_after_commit() {
    let t = TestDb::new("commit").await;
    let coll = t.coll("accounts").await;
    coll.insert_one(doc! {"_id": 0, "balance": 10}).await.unwrap();
    // Another application: a client of its own (and so a connection pool of its own).
    let other_client = connect().await;
    let other = other_client.database(&t.name).collection::<Document>("accounts");

    let mut s = t.client.start_session().await.unwrap();
    begin(&mut s, &coll).await;
    coll.insert_one(doc! {"_id": 1, "balance": 100}).session(&mut s).await.unwrap();
    coll.insert_many([doc! {"_id": 2, "balance": 200}, doc! {"_id": 3, "balance": 300}]).session(&mut s).await.unwrap();
    let r = coll.update_one(doc! {"_id": 0}, doc! {"$inc": {"balance": 5}}).session(&mut s).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count), (1, 1));
    let r = coll.delete_one(doc! {"_id": 3}).session(&mut s).await.unwrap();
    assert_eq!(r.deleted_count, 1);

    let expected =
        vec![doc! {"_id": 0, "balance": 15}, doc! {"_id": 1, "balance": 100}, doc! {"_id": 2, "balance": 200}];
    assert_eq!(all_in(&coll, &mut s).await, expected, "the transaction sees its own writes");
    assert_eq!(coll.count_documents(doc! {}).session(&mut s).await.unwrap(), 3);

    let before = vec![doc! {"_id": 0, "balance": 10}];
    assert_eq!(all(&other).await, before, "another client sees none of the uncommitted writes");
    assert_eq!(all(&coll).await, before, "another session of the same client neither");
    let mut other_session = other_client.start_session().await.unwrap();
    let found = other.find_one(doc! {"_id": 1}).session(&mut other_session).await.unwrap();
    assert_eq!(found, None, "an explicit session outside the transaction neither");

    s.commit_transaction().await.unwrap();
    assert_eq!(all(&other).await, expected, "after commit every write is visible");
    assert_eq!(all(&coll).await, expected);

    // The session is reusable for the next transaction.
    begin(&mut s, &coll).await;
    coll.insert_one(doc! {"_id": 4}).session(&mut s).await.unwrap();
    assert_eq!(other.count_documents(doc! {}).await.unwrap(), 3);
    s.commit_transaction().await.unwrap();
    assert_eq!(other.count_documents(doc! {}).await.unwrap(), 4);
}

/// abortTransaction discards every write of the transaction; nothing was ever visible.
#[tokio::test]
async fn abort_discards_every_write() {
    let t = TestDb::new("abort").await;
    let coll = t.coll("accounts").await;
    coll.insert_one(doc! {"_id": 0, "balance": 10}).await.unwrap();
    let before = all(&coll).await;

    let mut s = t.client.start_session().await.unwrap();
    begin(&mut s, &coll).await;
    coll.insert_one(doc! {"_id": 1, "balance": 100}).session(&mut s).await.unwrap();
    coll.update_one(doc! {"_id": 0}, doc! {"$set": {"balance": 0}}).session(&mut s).await.unwrap();
    coll.insert_one(doc! {"_id": 2}).session(&mut s).await.unwrap();
    coll.delete_one(doc! {"_id": 2}).session(&mut s).await.unwrap();
    assert_eq!(
        all_in(&coll, &mut s).await,
        vec![doc! {"_id": 0, "balance": 0}, doc! {"_id": 1, "balance": 100}],
        "the transaction sees its own writes"
    );
    assert_eq!(all(&coll).await, before, "uncommitted writes are not visible outside");
    s.abort_transaction().await.unwrap();

    assert_eq!(all(&coll).await, before, "abort discards every write");
    // The session is reusable and the aborted writes do not come back with the next commit.
    begin(&mut s, &coll).await;
    coll.insert_one(doc! {"_id": 3}).session(&mut s).await.unwrap();
    s.commit_transaction().await.unwrap();
    assert_eq!(all(&coll).await, vec![doc! {"_id": 0, "balance": 10}, doc! {"_id": 3}]);
}

// ------------------------------------------------------------------ the callback API

/// Drivers API (`withTransaction`; `start_transaction().and_run(..)` / `and_run2(..)` in the
/// 3.x Rust driver): starts a transaction, runs the callback, commits, returns its value.
#[tokio::test]
async fn and_run_commits_the_callbacks_writes() {
    let t = TestDb::new("and_run").await;
    let coll = t.coll("accounts").await;
    let mut s = t.client.start_session().await.unwrap();

    // and_run: the callback borrows what it needs through the context argument.
    let (mut calls, mut pool_full) = (0, 0);
    let got = s
        .start_transaction()
        .and_run((&coll, &mut calls, &mut pool_full), |session, (coll, calls, pool_full)| {
            async move {
                **calls += 1;
                probe(coll, session, pool_full).await?;
                coll.insert_one(doc! {"_id": "a", "balance": 100}).session(&mut *session).await?;
                coll.update_one(doc! {"_id": "a"}, doc! {"$inc": {"balance": -30}}).session(&mut *session).await?;
                coll.insert_one(doc! {"_id": "b", "balance": 30}).session(&mut *session).await?;
                // Not visible outside until the driver commits after the callback returns.
                assert_eq!(coll.count_documents(doc! {}).await?, 0);
                Ok("transferred")
            }
            .boxed()
        })
        .await
        .unwrap();
    assert_eq!(got, "transferred");
    assert_eq!(calls - pool_full, 1, "no retry without a transient error");
    assert_eq!(all(&coll).await, vec![doc! {"_id": "a", "balance": 70}, doc! {"_id": "b", "balance": 30}]);

    // and_run2: the same with an async closure.
    let (mut calls, mut pool_full) = (0, 0);
    let got = s
        .start_transaction()
        .and_run2(async |session| {
            calls += 1;
            probe(&coll, session, &mut pool_full).await?;
            coll.update_one(doc! {"_id": "a"}, doc! {"$inc": {"balance": -20}}).session(&mut *session).await?;
            coll.update_one(doc! {"_id": "b"}, doc! {"$inc": {"balance": 20}}).session(&mut *session).await?;
            coll.insert_one(doc! {"_id": "log", "amount": 20}).session(&mut *session).await?;
            let sum: i32 = all_in(&coll, session).await.iter().filter_map(|d| d.get_i32("balance").ok()).sum();
            Ok(sum)
        })
        .await
        .unwrap();
    assert_eq!(got, 100, "the callback's reads see its own writes");
    assert_eq!(calls - pool_full, 1, "no retry without a transient error");
    assert_eq!(
        all(&coll).await,
        vec![doc! {"_id": "a", "balance": 50}, doc! {"_id": "b", "balance": 50}, doc! {"_id": "log", "amount": 20}]
    );
}

/// A callback that returns an error that is not a transient transaction error: the driver
/// aborts the transaction (its writes are discarded), does not retry, and returns the error.
#[tokio::test]
async fn and_run_aborts_when_the_callback_fails() {
    #[derive(Debug, PartialEq)]
    struct InsufficientFunds(i32);

    let t = TestDb::new("and_run_err").await;
    let coll = t.coll("accounts").await;
    coll.insert_one(doc! {"_id": "a", "balance": 10}).await.unwrap();
    let before = all(&coll).await;
    let mut s = t.client.start_session().await.unwrap();

    // and_run2: the callback writes, then fails with an application error.
    let (mut calls, mut pool_full) = (0, 0);
    let err = s
        .start_transaction()
        .and_run2(async |session| {
            calls += 1;
            probe(&coll, session, &mut pool_full).await?;
            coll.insert_one(doc! {"_id": "b", "balance": 50}).session(&mut *session).await?;
            let a = coll
                .find_one_and_update(doc! {"_id": "a"}, doc! {"$inc": {"balance": -50}})
                .session(&mut *session)
                .return_document(ReturnDocument::After)
                .await?
                .expect("account a");
            let balance = a.get_i32("balance").unwrap();
            if balance < 0 {
                return Err(Error::custom(InsufficientFunds(balance)));
            }
            Ok(())
        })
        .await
        .expect_err("the callback's error is returned");
    assert_eq!(err.get_custom::<InsufficientFunds>(), Some(&InsufficientFunds(-40)), "{err:?}");
    assert_eq!(calls - pool_full, 1, "a non-transient error is not retried");
    assert_eq!(all(&coll).await, before, "the transaction was aborted");

    // and_run: a driver error from the callback (a duplicate key) aborts too.
    let (mut calls, mut pool_full) = (0, 0);
    let err = s
        .start_transaction()
        .and_run((&coll, &mut calls, &mut pool_full), |session, (coll, calls, pool_full)| {
            async move {
                **calls += 1;
                probe(coll, session, pool_full).await?;
                coll.insert_one(doc! {"_id": "c", "balance": 1}).session(&mut *session).await?;
                coll.insert_one(doc! {"_id": "a", "balance": 1}).session(&mut *session).await?;
                Ok(())
            }
            .boxed()
        })
        .await
        .expect_err("duplicate key inside the callback");
    assert!(matches!(err.kind.as_ref(), ErrorKind::Write(WriteFailure::WriteError(we)) if we.code == 11000), "{err:?}");
    assert!(!err.contains_label("TransientTransactionError"), "{err:?}");
    assert_eq!(calls - pool_full, 1, "a non-transient error is not retried");
    assert_eq!(all(&coll).await, before, "the transaction was aborted");

    // The session is still usable afterwards.
    s.start_transaction()
        .and_run2(async |session| {
            coll.insert_one(doc! {"_id": "d"}).session(session).await?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(all(&coll).await, vec![doc! {"_id": "a", "balance": 10}, doc! {"_id": "d"}]);
}

// ------------------------------------------------------------------ write conflicts

/// Manual, "In-progress transactions and write conflicts": a write to a document that another
/// open transaction has written fails at once with WriteConflict (112) labelled
/// TransientTransactionError; the first transaction commits; the failed one is aborted and,
/// retried from the start afterwards, succeeds on top of the first one's write.
#[tokio::test]
async fn concurrent_write_conflicts_at_once_and_the_retry_succeeds() {
    let t = TestDb::new("conflict").await;
    let coll = t.coll("counters").await;
    coll.insert_one(doc! {"_id": 1, "n": 0}).await.unwrap();
    // Two applications, each with a client (and a connection pool) of its own.
    let coll2 = connect().await.database(&t.name).collection::<Document>("counters");

    let mut s1 = t.client.start_session().await.unwrap();
    let mut s2 = coll2.client().start_session().await.unwrap();
    begin(&mut s1, &coll).await;
    begin(&mut s2, &coll2).await;
    let r = coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}}).session(&mut s1).await.unwrap();
    assert_eq!(r.modified_count, 1);

    let started = Instant::now();
    let err = coll2
        .update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 10}})
        .session(&mut s2)
        .await
        .expect_err("the second transaction's write should conflict");
    let waited = started.elapsed();
    assert_eq!(command_code(&err), 112, "{err:?}");
    if let ErrorKind::Command(c) = err.kind.as_ref() {
        assert_eq!(c.code_name, "WriteConflict", "{c:?}");
    }
    assert!(err.contains_label("TransientTransactionError"), "labels {:?} of {err:?}", err.labels());
    assert!(waited < Duration::from_secs(2), "the conflict is reported without waiting ({waited:?})");

    s1.commit_transaction().await.unwrap();
    assert_eq!(n_of_doc_1(&coll).await, 1, "the first transaction committed");
    // The conflict aborted the second transaction on the server; its abort is a no-op.
    s2.abort_transaction().await.unwrap();
    assert_eq!(n_of_doc_1(&coll).await, 1);

    // Retrying the second transaction from the start now succeeds.
    begin(&mut s2, &coll2).await;
    let r = coll2.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 10}}).session(&mut s2).await.unwrap();
    assert_eq!(r.modified_count, 1);
    s2.commit_transaction().await.unwrap();
    assert_eq!(n_of_doc_1(&coll).await, 11, "both increments are in");
}

/// The callback API retries a callback that failed with a TransientTransactionError (here the
/// WriteConflict of a concurrent transaction, which commits before the callback returns).
#[tokio::test]
async fn and_run_retries_after_a_write_conflict() {
    let t = TestDb::new("conflict_retry").await;
    let coll = t.coll("counters").await;
    coll.insert_one(doc! {"_id": 1, "n": 0}).await.unwrap();

    let mut s1 = t.client.start_session().await.unwrap();
    begin(&mut s1, &coll).await;
    coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}}).session(&mut s1).await.unwrap();
    let mut first = Some(s1);

    let mut s2 = t.client.start_session().await.unwrap();
    let (mut attempts, mut pool_full) = (0, 0);
    let mut first_error = None;
    s2.start_transaction()
        .and_run2(async |session| {
            attempts += 1;
            probe(&coll, session, &mut pool_full).await?;
            let r = coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 10}}).session(&mut *session).await;
            if let Err(e) = &r {
                first_error.get_or_insert_with(|| (command_code(e), e.contains_label("TransientTransactionError")));
            }
            // The conflicting transaction commits; the retry then sees its write.
            if let Some(mut s1) = first.take() {
                s1.commit_transaction().await?;
            }
            r.map(|_| ())
        })
        .await
        .unwrap();
    assert_eq!(first_error, Some((112, true)), "the first attempt conflicts with the open transaction");
    assert_eq!(attempts - pool_full, 2, "the callback was retried once");
    assert_eq!(n_of_doc_1(&coll).await, 11, "both increments are in");
}
