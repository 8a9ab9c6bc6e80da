//! End-to-end client flows through the MongoDB wire gateway with the official Rust driver.
//!
//! Run: `MONGODB_URI="$(cat data/mongodb.uri)" cargo test -p driver_rust_tests`.
//! Every test connects to `MONGODB_URI` and fails when it is unset or unreachable. Each test
//! works in a database of its own, dropped when the test ends (also when it fails).

#![recursion_limit = "256"]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::TryStreamExt;
use mongodb::bson::spec::{BinarySubtype, ElementType};
use mongodb::bson::{
    doc, oid::ObjectId, Binary, Bson, DateTime, Decimal128, Document, RawDocumentBuf, Regex, Timestamp, Uuid,
};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::event::command::CommandEvent;
use mongodb::event::EventHandler;
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, Database, IndexModel};

fn uri() -> String {
    match std::env::var("MONGODB_URI") {
        Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
        _ => panic!("MONGODB_URI is not set: point it at the gateway (e.g. $(cat data/mongodb.uri))"),
    }
}

async fn options() -> ClientOptions {
    let mut opts = ClientOptions::parse(uri()).await.expect("MONGODB_URI does not parse");
    opts.server_selection_timeout = Some(Duration::from_secs(5));
    opts.app_name = Some("driver_rust_tests".to_string());
    opts
}

/// A client that has proven it can reach and authenticate to the gateway.
async fn connect(opts: ClientOptions) -> Client {
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
        Self::with_client(test, connect(options().await).await).await
    }

    async fn with_client(test: &str, client: Client) -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("e2e_rust_{test}_{}_{nanos:08x}", std::process::id());
        let db = Self { client, name };
        db.db().drop().await.expect("dropDatabase");
        db
    }

    fn db(&self) -> Database {
        self.client.database(&self.name)
    }

    fn coll(&self, name: &str) -> Collection<Document> {
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
fn command_code(err: &mongodb::error::Error) -> i32 {
    match err.kind.as_ref() {
        ErrorKind::Command(c) => c.code,
        other => panic!("expected a command error, got {other:?}"),
    }
}

// ------------------------------------------------------------------ ids and BSON types

#[tokio::test]
async fn insert_one_returns_generated_object_id() {
    let t = TestDb::new("gen_id").await;
    let coll = t.coll("gen_id");
    let r = coll.insert_one(doc! {"name": "alice", "n": 1}).await.unwrap();
    let oid = match r.inserted_id {
        Bson::ObjectId(oid) => oid,
        other => panic!("inserted_id is not an ObjectId: {other:?}"),
    };
    let age = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .abs_diff(oid.timestamp().timestamp_millis() as u64 / 1000);
    assert!(age < 60, "generated ObjectId timestamp is off by {age}s");
    let found = coll.find_one(doc! {"_id": oid}).await.unwrap().expect("document not found by its id");
    assert_eq!(found, doc! {"_id": oid, "name": "alice", "n": 1});
    let keys: Vec<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(keys, ["_id", "name", "n"]);

    let r2 = coll.insert_one(doc! {"name": "bob"}).await.unwrap();
    let oid2 = r2.inserted_id.as_object_id().expect("second id is an ObjectId");
    assert!(oid2 > oid, "{oid2} should sort after {oid}");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 2);
    let r3 = coll.insert_one(doc! {"_id": "str-id"}).await.unwrap();
    assert_eq!(r3.inserted_id, Bson::String("str-id".into()));
}

fn all_types_document() -> Document {
    let uuid = Uuid::parse_str("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
    doc! {
        "_id": 1,
        "int32": Bson::Int32(42),
        "int32_min": Bson::Int32(i32::MIN),
        "int32_max": Bson::Int32(i32::MAX),
        "int64": Bson::Int64(42),
        "int64_big": Bson::Int64((1 << 62) + 7),
        "int64_min": Bson::Int64(i64::MIN),
        "double": Bson::Double(1.5),
        "double_whole": Bson::Double(3.0),
        "double_neg_zero": Bson::Double(-0.0),
        "double_inf": Bson::Double(f64::INFINITY),
        "double_ninf": Bson::Double(f64::NEG_INFINITY),
        "double_nan": Bson::Double(f64::NAN),
        "double_tiny": Bson::Double(5e-324),
        "decimal": Bson::Decimal128("1234.5678900".parse::<Decimal128>().unwrap()),
        "decimal_neg": Bson::Decimal128("-0.000000000000000000000000000000001".parse::<Decimal128>().unwrap()),
        "decimal_nan": Bson::Decimal128("NaN".parse::<Decimal128>().unwrap()),
        "date": Bson::DateTime(DateTime::from_millis(1_709_212_455_678)),
        "date_pre_epoch": Bson::DateTime(DateTime::from_millis(-1)),
        "date_epoch": Bson::DateTime(DateTime::from_millis(0)),
        "bin_generic": Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, 0xfe, 0xff] }),
        "bin_empty": Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![] }),
        "bin_uuid": Bson::Binary(Binary::from_uuid(uuid)),
        "bin_user": Bson::Binary(Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: b"user".to_vec() }),
        "oid": ObjectId::parse_str("65f0c0ffee0000000000abcd").unwrap(),
        "true": true,
        "false": false,
        "null": Bson::Null,
        "regex": Bson::RegularExpression(Regex { pattern: "^ab.*c$".into(), options: "imsx".into() }),
        "regex_plain": Bson::RegularExpression(Regex { pattern: "x+".into(), options: "".into() }),
        "ts": Bson::Timestamp(Timestamp { time: 1_700_000_000, increment: 7 }),
        "minkey": Bson::MinKey,
        "maxkey": Bson::MaxKey,
        "code": Bson::JavaScriptCode("function () { return this.a > 1; }".into()),
        "str": "plain ascii",
        "str_empty": "",
        "str_unicode": "h\u{e9}llo w\u{f6}rld \u{2713} \u{65e5}\u{672c}\u{8a9e} \u{1f389} \u{645}\u{631}\u{62d}\u{628}\u{627}",
        "str_nul": "a\u{0}b",
        "cl\u{e9}_\u{65e5}\u{672c}": "unicode key",
        "nested": {"a": {"b": {"c": [1, Bson::Int64(2), 3.0]}, "d": Bson::Null}, "e": {}},
        "array": [1, "two", 3.5, Bson::Null, [4, [5, [6, {"seven": 7}]]], {"x": []}, [], true],
        "empty_array": [],
        "empty_doc": {},
        "array_of_docs": [{"k": 0, "v": "v0"}, {"k": 1, "v": "v1"}, {"k": 2, "v": "v2"}],
    }
}

/// Same type and value everywhere (doubles bit for bit, documents in the same key order).
fn assert_same(actual: &Bson, expected: &Bson, path: &str) {
    assert_eq!(actual.element_type(), expected.element_type(), "{path}: type differs: {actual:?} vs {expected:?}");
    match (actual, expected) {
        (Bson::Double(a), Bson::Double(e)) => {
            assert!(a.to_bits() == e.to_bits() || (a.is_nan() && e.is_nan()), "{path}: {a:?} != {e:?}")
        }
        (Bson::Document(a), Bson::Document(e)) => {
            let ak: Vec<&String> = a.keys().collect();
            let ek: Vec<&String> = e.keys().collect();
            assert_eq!(ak, ek, "{path}: keys differ");
            for (k, v) in e {
                assert_same(&a[k], v, &format!("{path}.{k}"));
            }
        }
        (Bson::Array(a), Bson::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{path}: array length differs");
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                assert_same(x, y, &format!("{path}[{i}]"));
            }
        }
        (a, e) => assert_eq!(a, e, "{path}: value differs"),
    }
}

#[tokio::test]
async fn find_one_preserves_every_bson_type() {
    let t = TestDb::new("types").await;
    let coll = t.coll("types");
    let sent = all_types_document();
    coll.insert_one(sent.clone()).await.unwrap();
    let back = coll.find_one(doc! {"_id": 1}).await.unwrap().expect("typed document not found");
    assert_same(&Bson::Document(back.clone()), &Bson::Document(sent.clone()), "doc");

    // The types the brief calls out, spelled out.
    assert_eq!(back.get("int32"), Some(&Bson::Int32(42)));
    assert_eq!(back.get("int64"), Some(&Bson::Int64(42)));
    assert_eq!(back.get("double_whole"), Some(&Bson::Double(3.0)));
    assert_eq!(back.get("decimal").unwrap().element_type(), ElementType::Decimal128);
    assert_eq!(back.get("decimal").unwrap().to_string(), "1234.5678900");
    assert_eq!(back.get_datetime("date").unwrap().timestamp_millis(), 1_709_212_455_678);
    assert_eq!(back.get_binary_generic("bin_generic").unwrap(), &vec![0u8, 1, 2, 0xfe, 0xff]);
    match back.get("bin_uuid") {
        Some(Bson::Binary(b)) => {
            assert_eq!(b.subtype, BinarySubtype::Uuid);
            assert_eq!(b.to_uuid().unwrap().to_string(), "0f8fad5b-d9cb-469f-a165-70867728950e");
        }
        other => panic!("bin_uuid: {other:?}"),
    }
    assert_eq!(back.get("ts"), Some(&Bson::Timestamp(Timestamp { time: 1_700_000_000, increment: 7 })));
    assert_eq!(back.get("minkey"), Some(&Bson::MinKey));
    assert_eq!(back.get("maxkey"), Some(&Bson::MaxKey));
    assert_eq!(back.get("null"), Some(&Bson::Null));
}

#[tokio::test]
async fn bson_bytes_round_trip_exactly() {
    let t = TestDb::new("raw").await;
    let sent = RawDocumentBuf::from_document(&all_types_document()).unwrap();
    let raw: Collection<RawDocumentBuf> = t.db().collection("raw");
    raw.insert_one(sent.clone()).await.unwrap();
    let back = raw.find_one(doc! {"_id": 1}).await.unwrap().expect("raw document not found");
    assert_eq!(back.as_bytes(), sent.as_bytes(), "stored document bytes differ from the sent bytes");
}

#[tokio::test]
async fn query_by_typed_values() {
    let t = TestDb::new("typed_query").await;
    let coll = t.coll("typed_query");
    let d = all_types_document();
    coll.insert_one(d.clone()).await.unwrap();
    for key in ["int64", "decimal", "date", "oid", "ts", "bin_uuid", "str_unicode", "code"] {
        let n = coll.count_documents(doc! {key: d.get(key).unwrap().clone()}).await.unwrap();
        assert_eq!(n, 1, "equality match on {key}");
    }
    for (key, alias) in [
        ("int32", "int"),
        ("int64", "long"),
        ("double", "double"),
        ("decimal", "decimal"),
        ("regex", "regex"),
        ("ts", "timestamp"),
    ] {
        let n = coll.count_documents(doc! {key: {"$type": alias}}).await.unwrap();
        assert_eq!(n, 1, "$type {alias} on {key}");
    }
    assert_eq!(coll.count_documents(doc! {"nested.a.b.c": Bson::Int64(2)}).await.unwrap(), 1);
}

// ------------------------------------------------------------------ bulk inserts

#[tokio::test]
async fn insert_many_ten_thousand_in_one_call() {
    let t = TestDb::new("many").await;
    let coll = t.coll("many");
    let docs: Vec<Document> = (0..10_000).map(|i| doc! {"i": i, "g": i % 10, "s": format!("doc-{i:05}")}).collect();
    let r = coll.insert_many(docs).await.unwrap();
    assert_eq!(r.inserted_ids.len(), 10_000);
    assert!(r.inserted_ids.values().all(|id| matches!(id, Bson::ObjectId(_))));
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 10_000);
    assert_eq!(coll.estimated_document_count().await.unwrap(), 10_000);
    assert_eq!(coll.count_documents(doc! {"g": 3}).await.unwrap(), 1_000);
    let last = coll.find_one(doc! {"i": 9_999}).await.unwrap().unwrap();
    assert_eq!(last.get_str("s").unwrap(), "doc-09999");
    let id = r.inserted_ids[&1234].clone();
    assert_eq!(coll.find_one(doc! {"_id": id}).await.unwrap().unwrap().get_i32("i").unwrap(), 1234);
}

// ------------------------------------------------------------------ errors

#[tokio::test]
async fn invalid_query_operator_is_code_2() {
    let t = TestDb::new("errs").await;
    let coll = t.coll("errs");
    coll.insert_one(doc! {"a": 1}).await.unwrap();
    let err = coll.find_one(doc! {"a": {"$noSuchOperator": 1}}).await.expect_err("invalid operator accepted");
    match err.kind.as_ref() {
        ErrorKind::Command(c) => {
            assert_eq!(c.code, 2, "{c:?}");
            assert_eq!(c.code_name, "BadValue", "{c:?}");
            assert!(c.message.contains("$noSuchOperator"), "{c:?}");
        }
        other => panic!("expected ErrorKind::Command, got {other:?}"),
    }
    let err = coll.count_documents(doc! {"$and": 1}).await.expect_err("$and: 1 accepted");
    assert_eq!(command_code(&err), 2);
    // The client stays usable.
    assert_eq!(coll.count_documents(doc! {"a": 1}).await.unwrap(), 1);
}

#[tokio::test]
async fn duplicate_id_is_write_error_11000() {
    let t = TestDb::new("dup").await;
    let coll = t.coll("dup");
    coll.insert_one(doc! {"_id": 7, "v": "first"}).await.unwrap();
    let err = coll.insert_one(doc! {"_id": 7, "v": "second"}).await.expect_err("duplicate _id accepted");
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(we)) => {
            assert_eq!(we.code, 11000, "{we:?}");
            assert!(we.message.contains("E11000"), "{we:?}");
        }
        other => panic!("expected ErrorKind::Write(WriteError), got {other:?}"),
    }
    assert_eq!(coll.find_one(doc! {"_id": 7}).await.unwrap().unwrap().get_str("v").unwrap(), "first");

    // A unique secondary index too.
    coll.create_index(
        IndexModel::builder().keys(doc! {"email": 1}).options(IndexOptions::builder().unique(true).build()).build(),
    )
    .await
    .unwrap();
    coll.insert_one(doc! {"email": "a@example.com"}).await.unwrap();
    let err = coll.insert_one(doc! {"email": "a@example.com"}).await.expect_err("unique index not enforced");
    assert!(matches!(err.kind.as_ref(), ErrorKind::Write(WriteFailure::WriteError(we)) if we.code == 11000), "{err:?}");
}

#[tokio::test]
async fn insert_many_with_duplicate_ordered_and_unordered() {
    let t = TestDb::new("bulk").await;
    let ordered = t.coll("ordered");
    let err = ordered
        .insert_many([doc! {"_id": 1}, doc! {"_id": 2}, doc! {"_id": 1}, doc! {"_id": 3}, doc! {"_id": 4}])
        .await
        .expect_err("ordered insert_many with a duplicate succeeded");
    match err.kind.as_ref() {
        ErrorKind::InsertMany(e) => {
            let we = e.write_errors.as_ref().expect("write errors");
            assert_eq!(we.len(), 1, "{we:?}");
            assert_eq!((we[0].index, we[0].code), (2, 11000), "{we:?}");
        }
        other => panic!("expected ErrorKind::InsertMany, got {other:?}"),
    }
    assert_eq!(ordered.count_documents(doc! {}).await.unwrap(), 2, "ordered: nInserted");

    let unordered = t.coll("unordered");
    let err = unordered
        .insert_many([
            doc! {"_id": 1},
            doc! {"_id": 2},
            doc! {"_id": 1},
            doc! {"_id": 3},
            doc! {"_id": 2},
            doc! {"_id": 4},
        ])
        .ordered(false)
        .await
        .expect_err("unordered insert_many with duplicates succeeded");
    match err.kind.as_ref() {
        ErrorKind::InsertMany(e) => {
            let we = e.write_errors.as_ref().expect("write errors");
            let got: Vec<(usize, i32)> = we.iter().map(|w| (w.index, w.code)).collect();
            assert_eq!(got, [(2, 11000), (4, 11000)]);
        }
        other => panic!("expected ErrorKind::InsertMany, got {other:?}"),
    }
    assert_eq!(unordered.count_documents(doc! {}).await.unwrap(), 4, "unordered: nInserted");
}

#[tokio::test]
async fn closed_port_is_server_selection_error() {
    let timeout = Duration::from_millis(1500);
    let mut opts = ClientOptions::parse("mongodb://127.0.0.1:1/?directConnection=true").await.unwrap();
    opts.server_selection_timeout = Some(timeout);
    opts.connect_timeout = Some(Duration::from_secs(1));
    let client = Client::with_options(opts).unwrap();
    let started = Instant::now();
    let err =
        client.database("admin").run_command(doc! {"ping": 1}).await.expect_err("ping to a closed port succeeded");
    let elapsed = started.elapsed();
    assert!(matches!(err.kind.as_ref(), ErrorKind::ServerSelection { .. }), "expected ServerSelection, got {err:?}");
    assert!(elapsed < timeout + Duration::from_secs(3), "server selection took {elapsed:?}");
}

// ------------------------------------------------------------------ updates and deletes

#[tokio::test]
async fn update_replace_delete() {
    let t = TestDb::new("upd").await;
    let coll = t.coll("upd");
    coll.insert_many((0..6).map(|i| doc! {"_id": i, "g": i % 2, "n": 0})).await.unwrap();

    let r = coll.update_one(doc! {"g": 1}, doc! {"$inc": {"n": 5}}).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count, r.upserted_id), (1, 1, None));
    let r = coll.update_one(doc! {"_id": 0}, doc! {"$set": {"n": 0}}).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count), (1, 0), "no-op update");
    let r = coll.update_one(doc! {"_id": 99}, doc! {"$set": {"n": 1}}).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count), (0, 0));
    let r = coll.update_one(doc! {"_id": 100}, doc! {"$set": {"n": 1}}).upsert(true).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count, r.upserted_id), (0, 0, Some(Bson::Int32(100))));
    let r = coll.update_one(doc! {"name": "new"}, doc! {"$set": {"n": 2}}).upsert(true).await.unwrap();
    let up = r.upserted_id.expect("upserted_id");
    assert!(matches!(up, Bson::ObjectId(_)), "{up:?}");
    assert_eq!(
        coll.find_one(doc! {"_id": up.clone()}).await.unwrap().unwrap(),
        doc! {"_id": up, "name": "new", "n": 2}
    );

    let r = coll.update_many(doc! {"g": 0}, doc! {"$set": {"flag": true}, "$push": {"tags": "t"}}).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count), (3, 3));
    let r = coll.update_many(doc! {"g": 0}, doc! {"$set": {"flag": true}}).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count), (3, 0));

    let r = coll.replace_one(doc! {"_id": 1}, doc! {"whole": "new"}).await.unwrap();
    assert_eq!((r.matched_count, r.modified_count), (1, 1));
    assert_eq!(coll.find_one(doc! {"_id": 1}).await.unwrap().unwrap(), doc! {"_id": 1, "whole": "new"});
    let r = coll.replace_one(doc! {"_id": 200}, doc! {"r": 1}).upsert(true).await.unwrap();
    assert_eq!(r.upserted_id, Some(Bson::Int32(200)));

    let err =
        coll.update_one(doc! {"_id": 0}, doc! {"$noSuchUpdate": {"n": 1}}).await.expect_err("bad update operator");
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(we)) => assert_eq!(we.code, 9, "{we:?}"),
        ErrorKind::Command(c) => assert_eq!(c.code, 9, "{c:?}"),
        other => panic!("expected a FailedToParse error, got {other:?}"),
    }

    let after = coll
        .find_one_and_update(doc! {"_id": 100}, doc! {"$inc": {"n": 1}})
        .return_document(ReturnDocument::After)
        .await
        .unwrap();
    assert_eq!(after, Some(doc! {"_id": 100, "n": 2}));
    let before = coll
        .find_one_and_update(doc! {"_id": 100}, doc! {"$inc": {"n": 1}})
        .return_document(ReturnDocument::Before)
        .await
        .unwrap();
    assert_eq!(before, Some(doc! {"_id": 100, "n": 2}));
    assert_eq!(coll.find_one_and_update(doc! {"_id": "missing"}, doc! {"$set": {"x": 1}}).await.unwrap(), None);
    assert_eq!(coll.find_one_and_delete(doc! {"_id": 100}).await.unwrap(), Some(doc! {"_id": 100, "n": 3}));

    let total = coll.count_documents(doc! {}).await.unwrap();
    assert_eq!(total, 8);
    assert_eq!(coll.delete_one(doc! {"g": 0}).await.unwrap().deleted_count, 1);
    assert_eq!(coll.delete_one(doc! {"g": 42}).await.unwrap().deleted_count, 0);
    assert_eq!(coll.delete_many(doc! {"g": 1}).await.unwrap().deleted_count, 2);
    assert_eq!(coll.delete_many(doc! {}).await.unwrap().deleted_count, total - 3);
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 0);
}

// ------------------------------------------------------------------ reads

#[tokio::test]
async fn find_sort_skip_limit_projection() {
    let t = TestDb::new("find").await;
    let coll = t.coll("find");
    coll.insert_many((0..20).map(|i| doc! {"_id": i, "n": i * 10, "g": i % 2, "sub": {"a": i, "b": -i}}))
        .await
        .unwrap();
    let got: Vec<Document> = coll
        .find(doc! {"g": 0})
        .projection(doc! {"_id": 0, "n": 1})
        .sort(doc! {"n": -1})
        .skip(2)
        .limit(3)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got, [doc! {"n": 140}, doc! {"n": 120}, doc! {"n": 100}]);
    let got: Vec<Document> = coll
        .find(doc! {})
        .projection(doc! {"sub.a": 1})
        .sort(doc! {"g": 1, "n": -1})
        .limit(2)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got, [doc! {"_id": 18, "sub": {"a": 18}}, doc! {"_id": 16, "sub": {"a": 16}}]);
    let got: Vec<Document> = coll
        .find(doc! {"n": {"$gte": 50, "$lt": 80}})
        .projection(doc! {"sub": 0, "g": 0})
        .sort(doc! {"_id": 1})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got, [doc! {"_id": 5, "n": 50}, doc! {"_id": 6, "n": 60}, doc! {"_id": 7, "n": 70}]);
}

#[tokio::test]
async fn cursor_iteration_uses_get_more() {
    let names: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut opts = options().await;
    let sink = names.clone();
    opts.command_event_handler = Some(EventHandler::callback(move |ev: CommandEvent| {
        if let CommandEvent::Started(s) = ev {
            sink.lock().unwrap().push(s.command_name);
        }
    }));
    let t = TestDb::with_client("cursor", connect(opts).await).await;
    let coll = t.coll("cursor");
    coll.insert_many((0..1000).map(|i| doc! {"_id": i, "v": "x".repeat(20)})).await.unwrap();
    names.lock().unwrap().clear();

    let mut cursor = coll.find(doc! {}).sort(doc! {"_id": 1}).batch_size(100).await.unwrap();
    let mut seen = Vec::with_capacity(1000);
    while let Some(d) = cursor.try_next().await.unwrap() {
        seen.push(d.get_i32("_id").unwrap());
    }
    assert_eq!(seen, (0..1000).collect::<Vec<i32>>());
    let count = |name: &str| names.lock().unwrap().iter().filter(|n| *n == name).count();
    assert_eq!(count("find"), 1);
    let get_mores = count("getMore");
    assert!((9..=10).contains(&get_mores), "expected 9-10 getMore commands, saw {get_mores}");

    names.lock().unwrap().clear();
    let agg: Vec<Document> = coll
        .aggregate([doc! {"$match": {"_id": {"$gte": 500}}}, doc! {"$sort": {"_id": 1}}])
        .batch_size(100)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(agg.len(), 500);
    assert_eq!(agg[0].get_i32("_id").unwrap(), 500);
    assert!(count("getMore") >= 4, "aggregate cursor did not page: {:?}", names.lock().unwrap());
}

#[tokio::test]
async fn aggregate_match_group_sort_and_distinct() {
    let t = TestDb::new("agg").await;
    let coll = t.coll("agg");
    coll.insert_many([
        doc! {"item": "apple", "qty": 5, "price": 1.5, "store": "A"},
        doc! {"item": "apple", "qty": 3, "price": 1.5, "store": "B"},
        doc! {"item": "pear", "qty": 10, "price": 2.0, "store": "A"},
        doc! {"item": "plum", "qty": 1, "price": 4.0, "store": "A"},
        doc! {"item": "pear", "qty": 2, "price": 2.0, "store": "C"},
    ])
    .await
    .unwrap();
    let got: Vec<Document> = coll
        .aggregate([
            doc! {"$match": {"qty": {"$gte": 2}}},
            doc! {"$group": {
                "_id": "$item",
                "total": {"$sum": "$qty"},
                "revenue": {"$sum": {"$multiply": ["$qty", "$price"]}},
                "n": {"$sum": 1},
            }},
            doc! {"$sort": {"total": -1}},
        ])
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        got,
        [
            doc! {"_id": "pear", "total": 12, "revenue": 24.0, "n": 2},
            doc! {"_id": "apple", "total": 8, "revenue": 12.0, "n": 2},
        ]
    );
    let mut stores = coll.distinct("store", doc! {}).await.unwrap();
    stores.sort_by_key(|b| b.to_string());
    assert_eq!(stores, [Bson::from("A"), Bson::from("B"), Bson::from("C")]);
    let items = coll.distinct("item", doc! {"store": "A", "qty": {"$gt": 1}}).await.unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
}

// ------------------------------------------------------------------ indexes and namespaces

#[tokio::test]
async fn indexes_collections_and_databases() {
    let t = TestDb::new("ns").await;
    let coll = t.coll("idx");
    coll.insert_many((0..50).map(|i| doc! {"a": i, "b": -i})).await.unwrap();
    let r = coll.create_index(IndexModel::builder().keys(doc! {"a": 1, "b": -1}).build()).await.unwrap();
    assert_eq!(r.index_name, "a_1_b_-1");
    let mut names = coll.list_index_names().await.unwrap();
    names.sort();
    assert_eq!(names, ["_id_", "a_1_b_-1"]);
    let specs: Vec<IndexModel> = coll.list_indexes().await.unwrap().try_collect().await.unwrap();
    let spec = specs.iter().find(|m| m.keys == doc! {"a": 1, "b": -1}).expect("compound index listed");
    assert_eq!(spec.options.as_ref().and_then(|o| o.name.as_deref()), Some("a_1_b_-1"));
    coll.drop_index("a_1_b_-1").await.unwrap();
    assert_eq!(coll.list_index_names().await.unwrap(), ["_id_"]);
    let err = coll.drop_index("no_such_index").await.expect_err("dropping a missing index");
    assert_eq!(command_code(&err), 27);

    t.coll("two").insert_one(doc! {"x": 2}).await.unwrap();
    t.db().create_collection("three").await.unwrap();
    let mut colls = t.db().list_collection_names().await.unwrap();
    colls.sort();
    assert_eq!(colls, ["idx", "three", "two"]);
    assert!(t.client.list_database_names().await.unwrap().contains(&t.name));
    t.coll("two").drop().await.unwrap();
    let mut colls = t.db().list_collection_names().await.unwrap();
    colls.sort();
    assert_eq!(colls, ["idx", "three"]);
    t.db().drop().await.unwrap();
    assert!(!t.client.list_database_names().await.unwrap().contains(&t.name));
    assert!(t.db().list_collection_names().await.unwrap().is_empty());
}
