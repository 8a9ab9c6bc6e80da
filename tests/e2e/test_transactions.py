"""Multi-document transactions through the gateway with pymongo (issue #12).

Each test states the MongoDB rule it checks (manual: "Transactions", "Production
Considerations", "Drivers API"; the transactions specification for labels and codes):
commit makes every write visible at once, abort and failed statements discard them, reads
inside see a snapshot, a write to a document another open transaction wrote fails at once
with WriteConflict + TransientTransactionError, `with_transaction` retries such errors,
killSessions/endSessions abort, cursors continue inside their transaction, and a pool
full of open transactions answers with an error instead of hanging.

Run: python3 tests/e2e/test_transactions.py --uri "$(cat data/mongodb.uri)"
"""
import os
import sys
import threading
import time

import pymongo
from pymongo.errors import OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402 - tests/harness.py, the runner shared by the suites

URI = os.environ.get("GATEWAY_URI", "")
DB = "e2e_transactions"
_clients = []


def client(**opts):
    c = pymongo.MongoClient(URI, serverSelectionTimeoutMS=10000, **opts)
    _clients.append(c)
    return c


def coll(name):
    c = client()[DB][name]
    c.drop()
    c.database.create_collection(name)
    return c


def labels(e):
    return set((e.details or {}).get("errorLabels", []))


def test_commit_makes_all_writes_visible_at_once():
    """Manual: until a transaction commits, its writes are not visible outside it."""
    c = coll("commit")
    with c.database.client.start_session() as s:
        s.start_transaction()
        c.insert_one({"_id": 1}, session=s)
        c.insert_one({"_id": 2}, session=s)
        c.update_one({"_id": 1}, {"$set": {"x": 1}}, session=s)
        assert c.count_documents({}, session=s) == 2, "the transaction sees its own writes"
        assert c.count_documents({}) == 0, "others do not see uncommitted writes"
        s.commit_transaction()
    assert sorted(d["_id"] for d in c.find()) == [1, 2]
    assert c.find_one({"_id": 1})["x"] == 1


def test_abort_discards_every_write():
    c = coll("abort")
    c.insert_one({"_id": 0, "v": 0})
    with c.database.client.start_session() as s:
        s.start_transaction()
        c.insert_one({"_id": 1}, session=s)
        c.update_one({"_id": 0}, {"$set": {"v": 1}}, session=s)
        c.delete_one({"_id": 0}, session=s)
        s.abort_transaction()
    assert list(c.find()) == [{"_id": 0, "v": 0}]


def test_with_transaction_runs_the_callback_and_commits():
    """Drivers API: with_transaction starts, runs the callback, commits."""
    c = coll("callback")

    def transfer(s):
        c.insert_one({"_id": "a", "balance": 100}, session=s)
        c.update_one({"_id": "a"}, {"$inc": {"balance": -30}}, session=s)
        c.insert_one({"_id": "b", "balance": 30}, session=s)
        return "done"

    with c.database.client.start_session() as s:
        assert s.with_transaction(transfer) == "done"
    assert {d["_id"]: d["balance"] for d in c.find()} == {"a": 70, "b": 30}


def test_reads_inside_see_a_snapshot():
    """Manual (read concern "snapshot" in transactions): reads see the data as of the
    transaction's first read, not writes committed after it."""
    c = coll("snapshot")
    c.insert_one({"_id": 1, "v": "before"})
    with c.database.client.start_session() as s:
        s.start_transaction(read_concern=ReadConcern("snapshot"))
        assert c.find_one({"_id": 1}, session=s)["v"] == "before"
        c.update_one({"_id": 1}, {"$set": {"v": "after"}})  # outside, committed at once
        c.insert_one({"_id": 2})
        assert c.find_one({"_id": 1}, session=s)["v"] == "before"
        assert c.count_documents({}, session=s) == 1
        s.commit_transaction()
    assert c.find_one({"_id": 1})["v"] == "after"


def test_write_conflict_fails_at_once_with_transient_label():
    """Manual (In-progress transactions and write conflicts): a write to a document another
    open transaction modified fails with WriteConflict (112), labelled
    TransientTransactionError, without waiting for the other transaction."""
    c = coll("conflict")
    c.insert_one({"_id": 1, "n": 0})
    mc = c.database.client
    with mc.start_session() as s1, mc.start_session() as s2:
        s1.start_transaction()
        c.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=s1)
        s2.start_transaction()
        started = time.monotonic()
        try:
            c.update_one({"_id": 1}, {"$inc": {"n": 10}}, session=s2)
            raise AssertionError("the second write should conflict")
        except OperationFailure as e:
            assert e.code == 112, e.details
            assert "TransientTransactionError" in labels(e), e.details
        assert time.monotonic() - started < 2, "the conflict is reported without waiting"
        s1.commit_transaction()
        try:
            s2.commit_transaction()
            raise AssertionError("the failed transaction was aborted")
        except OperationFailure as e:
            assert e.code == 251, e.details
    assert c.find_one({"_id": 1})["n"] == 1


def test_conflict_with_a_later_commit_is_a_write_conflict():
    """A document committed by another writer after this transaction's snapshot cannot be
    overwritten by it: WriteConflict, as MongoDB."""
    c = coll("late_conflict")
    c.insert_one({"_id": 1, "n": 0})
    with c.database.client.start_session() as s:
        s.start_transaction()
        c.find_one({"_id": 1}, session=s)  # the snapshot is taken
        c.update_one({"_id": 1}, {"$set": {"n": 5}})
        try:
            c.update_one({"_id": 1}, {"$set": {"n": 6}}, session=s)
            raise AssertionError("expected a write conflict")
        except OperationFailure as e:
            assert e.code == 112 and "TransientTransactionError" in labels(e), e.details
    assert c.find_one({"_id": 1})["n"] == 5


def test_with_transaction_retries_transient_errors():
    """Drivers API: with_transaction retries the callback after TransientTransactionError;
    concurrent increments in transactions all land."""
    c = coll("retry")
    c.insert_one({"_id": 1, "n": 0})
    errors = []

    def worker():
        try:
            wc = client()
            wcoll = wc[DB]["retry"]
            for _ in range(5):
                with wc.start_session() as s:
                    s.with_transaction(lambda s: wcoll.update_one({"_id": 1}, {"$inc": {"n": 1}}, session=s))
        except PyMongoError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert c.find_one({"_id": 1})["n"] == 20


def test_a_failed_statement_aborts_the_transaction():
    """transactions spec (abort.json): after a duplicate key error the transaction is gone;
    the next statement gets NoSuchTransaction (251) with TransientTransactionError."""
    c = coll("failed_statement")
    with c.database.client.start_session() as s:
        s.start_transaction()
        c.insert_one({"_id": 1}, session=s)
        try:
            c.insert_one({"_id": 1}, session=s)
            raise AssertionError("duplicate key expected")
        except OperationFailure as e:
            assert e.code == 11000 and "TransientTransactionError" not in labels(e), e.details
        try:
            c.insert_one({"_id": 2}, session=s)
            raise AssertionError("the transaction should be aborted")
        except OperationFailure as e:
            assert e.code == 251 and "TransientTransactionError" in labels(e), e.details
        s.abort_transaction()
    assert c.count_documents({}) == 0


def test_collection_created_inside_exists_after_commit():
    """Manual (create collections in transactions, 4.4+): created with the transaction."""
    db = client()[DB]
    db.drop_collection("created_inside")
    with db.client.start_session() as s:
        s.start_transaction()
        db["created_inside"].insert_one({"_id": 1}, session=s)
        db["created_inside"].create_index("x", session=s)
        assert "created_inside" not in db.list_collection_names()
        s.commit_transaction()
    assert "created_inside" in db.list_collection_names()
    assert "x_1" in db["created_inside"].index_information()


def test_operations_not_allowed_inside():
    """count and listCollections are not allowed in a transaction (263)."""
    c = coll("not_allowed")
    with c.database.client.start_session() as s:
        s.start_transaction()
        try:
            c.database.command("count", "not_allowed", session=s)
            raise AssertionError("count is not allowed")
        except OperationFailure as e:
            assert e.code == 263, e.details
        s.abort_transaction()


def test_cursor_continues_inside_its_transaction():
    """getMore of a cursor opened in a transaction reads the transaction's data."""
    c = coll("cursor")
    with c.database.client.start_session() as s:
        s.start_transaction()
        c.insert_many([{"_id": i} for i in range(25)], session=s)
        got = [d["_id"] for d in c.find({}, session=s).sort("_id", -1).batch_size(4)]
        assert got == list(range(24, -1, -1)), got
        got = [d["_id"] for d in c.aggregate([{"$sort": {"_id": 1}}], session=s, batchSize=3)]
        assert got == list(range(25))
        s.commit_transaction()
    assert c.count_documents({}) == 25


def test_commit_is_retryable_and_idempotent():
    """transactions spec (commit.json): a commit retried after success answers ok."""
    c = coll("commit_twice")
    with c.database.client.start_session() as s:
        s.start_transaction(write_concern=WriteConcern(w="majority"))
        c.insert_one({"_id": 1}, session=s)
        s.commit_transaction()
        s.commit_transaction()
    assert c.count_documents({}) == 1


def test_kill_sessions_aborts_the_open_transaction():
    """Manual (killSessions): killing a session aborts its in-progress transaction."""
    c = coll("killed")
    mc = c.database.client
    s = mc.start_session()
    s.start_transaction()
    c.insert_one({"_id": 1}, session=s)
    mc.admin.command("killSessions", [s.session_id])
    try:
        s.commit_transaction()
        raise AssertionError("the killed session's transaction cannot commit")
    except OperationFailure as e:
        assert e.code == 251, e.details
    s.end_session()
    assert c.count_documents({}) == 0


def test_full_pool_of_transactions_is_an_error_not_a_hang():
    """Open transactions each hold a PostgreSQL connection; when they would take the last one
    the next start fails at once with LockTimeout (24, TransientTransactionError)."""
    mc = client(maxPoolSize=64)
    c = mc[DB]["pool"]
    c.drop()
    # Created outside: transactions creating the same collection would conflict instead.
    c.database.create_collection("pool")
    sessions = []
    refused = None
    try:
        for i in range(200):
            s = mc.start_session()
            sessions.append(s)
            s.start_transaction()
            started = time.monotonic()
            try:
                c.insert_one({"_id": i}, session=s)
            except OperationFailure as e:
                refused = (e, time.monotonic() - started)
                break
    finally:
        for s in sessions:
            try:
                s.abort_transaction()
            except PyMongoError:
                pass
            s.end_session()
    assert refused is not None, "some start must be refused"
    e, waited = refused
    assert e.code == 24 and "TransientTransactionError" in labels(e), e.details
    assert waited < 5, f"refused after {waited:.1f}s"
    # Everything was returned: a new transaction works.
    with mc.start_session() as s:
        s.start_transaction()
        c.insert_one({"_id": "after"}, session=s)
        s.commit_transaction()
    assert c.count_documents({"_id": "after"}) == 1


def test_transaction_past_its_lifetime_is_aborted_and_its_connection_returns():
    """Manual (transactionLifetimeLimitSeconds): a transaction open longer is aborted by the
    server; its connection goes back to the pool (serverStatus before and after)."""
    c = coll("lifetime")
    admin = c.database.client.admin
    was = admin.command("setParameter", 1, transactionLifetimeLimitSeconds=1)["was"]
    try:
        held_before = admin.command("serverStatus")["postgres"]["heldByTransactionsAndSnapshots"]
        with c.database.client.start_session() as s:
            s.start_transaction()
            c.insert_one({"_id": 1}, session=s)
            status = admin.command("serverStatus")
            assert status["postgres"]["heldByTransactionsAndSnapshots"] == held_before + 1, status["postgres"]
            assert status["transactions"]["currentOpen"] >= 1, status["transactions"]
            time.sleep(3)
            status = admin.command("serverStatus")
            assert status["postgres"]["heldByTransactionsAndSnapshots"] == held_before, status["postgres"]
            try:
                c.insert_one({"_id": 2}, session=s)
                raise AssertionError("the expired transaction should be gone")
            except OperationFailure as e:
                assert e.code == 251 and "transactionLifetimeLimitSeconds" in str(e), e.details
            s.abort_transaction()
        assert c.count_documents({}) == 0
    finally:
        admin.command("setParameter", 1, transactionLifetimeLimitSeconds=was)
    assert admin.command("getParameter", 1, transactionLifetimeLimitSeconds=1)["transactionLifetimeLimitSeconds"] == was


def test_snapshot_session_reads_one_point_in_time():
    """Manual (read concern "snapshot" outside transactions, 5.0+): every read of a snapshot
    session sees the data as of its first read, across find, aggregate, distinct and later
    batches of a cursor, while writes go on."""
    c = coll("snapshot_session")
    c.insert_many([{"_id": i, "x": 1} for i in range(10)])
    with c.database.client.start_session(snapshot=True) as s:
        assert c.count_documents({}, session=s) == 10
        c.insert_one({"_id": 100, "x": 2})
        c.update_many({}, {"$set": {"x": 3}})
        assert c.count_documents({}, session=s) == 10
        assert c.distinct("x", session=s) == [1]
        cursor = c.find({}, session=s).sort("_id", 1).batch_size(3)
        first = [next(cursor) for _ in range(3)]
        c.delete_many({})
        rest = list(cursor)
        assert [d["x"] for d in first + rest] == [1] * 10
    assert c.count_documents({}) == 0


def test_snapshot_reads_do_not_block_ddl():
    """A kept snapshot holds no table lock: dropping a collection read at a snapshot does
    not wait for the snapshot to be released."""
    c = coll("snapshot_ddl")
    c.insert_one({"_id": 1})
    with c.database.client.start_session(snapshot=True) as s:
        assert c.find_one({}, session=s) == {"_id": 1}
        started = time.monotonic()
        c.drop()
        assert time.monotonic() - started < 5


def cleanup():
    harness.drop_and_close(URI, DB, _clients)


if __name__ == "__main__":
    sys.exit(harness.main(sys.argv[1:], globals(), title="transactions",
                          ping=lambda: client().admin.command("ping"), cleanup=cleanup))
