#!/usr/bin/env python3
"""Indexes through the gateway with pymongo (issue #10): the same documents with and without an
index for every operator over generated data (arrays, arrays of documents, nulls, missing
fields, mixed numeric types, strings, dates), the planner reading the index (explain), sort +
limit served by the index, hint (name, key pattern, $natural, unknown -> error 2), hidden
indexes, cursors paging over index scans, MongoDB's multikey flag, explain of writes, and
per-index sizes.

Run:   python3 tests/e2e/test_indexes.py --uri 'mongodb://user:pw@127.0.0.1:10260/?directConnection=true'
Prints PASS/FAIL per test, then 'N passed, N failed, N skipped', and exits non-zero on any failure.
"""
import datetime
import json
import os
import random
import sys
import time
import uuid

import pymongo
from bson.int64 import Int64
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402 - tests/harness.py, the runner shared by the suites

URI = os.environ.get("GATEWAY_URI", "")
DB = "e2e_indexes_" + uuid.uuid4().hex[:8]
UTC = datetime.timezone.utc
_clients = []


def db():
    if not _clients:
        _clients.append(pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000, tz_aware=True))
    return _clients[0][DB]


def scalar(rnd):
    kind = rnd.randrange(9)
    if kind == 0:
        return None
    if kind == 1:
        return rnd.randrange(-20, 60)
    if kind == 2:
        return Int64(rnd.randrange(-20, 60))
    if kind == 3:
        return rnd.randrange(-200, 600) / 10
    if kind == 4:
        return rnd.choice(["", "a", "ab", "b", "k", "kz", "z", "Zeta"])
    if kind == 5:
        return datetime.datetime(2020, 1, 1, tzinfo=UTC) + datetime.timedelta(days=rnd.randrange(400))
    if kind == 6:
        return rnd.random() < 0.5
    if kind == 7:
        return {"x": rnd.randrange(5)}
    return rnd.randrange(10)


def value(rnd, depth=0):
    kind = rnd.randrange(10)
    if kind == 0 and depth == 0:
        return [scalar(rnd) for _ in range(rnd.randrange(4))]
    if kind == 1 and depth == 0:
        return [[scalar(rnd)], scalar(rnd)]
    return scalar(rnd)


def make_docs(n, seed, arrays=True):
    rnd = random.Random(seed)
    docs = []
    for i in range(n):
        d = {"_id": i}
        if rnd.random() < 0.9:
            d["a"] = value(rnd) if arrays else scalar(rnd)
        if rnd.random() < 0.8:
            if arrays and rnd.random() < 0.3:
                d["b"] = [{"c": scalar(rnd)} for _ in range(rnd.randrange(3))]
            else:
                d["b"] = {"c": scalar(rnd)}
        d["s"] = rnd.choice(["red", "green", "blue", None])
        docs.append(d)
    return docs


FILTERS = [
    {"a": 5}, {"a": 5.0}, {"a": Int64(5)}, {"a": {"$gt": 10}}, {"a": {"$gte": 10, "$lt": 30}},
    {"a": {"$lt": 0}}, {"a": {"$lte": -5.5}}, {"a": None}, {"a": {"$ne": None}}, {"a": {"$gte": None}},
    {"a": {"$in": [1, 2, "k", None]}}, {"a": {"$in": [3.5, Int64(7), datetime.datetime(2020, 2, 1, tzinfo=UTC)]}},
    {"a": {"$nin": [1, 2]}}, {"a": {"$exists": True}}, {"a": {"$exists": False}}, {"a": {"$gt": "k"}},
    {"a": {"$lte": "ab"}}, {"a": {"$regex": "^k"}}, {"a": {"x": 2}}, {"a": {"$gt": {"x": 2}}},
    {"a": True}, {"a": {"$gte": datetime.datetime(2020, 6, 1, tzinfo=UTC)}}, {"a": []}, {"a": [5]},
    {"a": {"$elemMatch": {"$gt": 40}}}, {"a": {"$all": [1, 2]}}, {"a": {"$size": 2}},
    {"a": {"$type": "string"}}, {"a": {"$type": "array"}}, {"a": {"$not": {"$gt": 10}}},
    {"b.c": 3}, {"b.c": {"$gt": 20}}, {"b.c": None}, {"b.c": {"$in": ["z", 4]}}, {"b": {"$elemMatch": {"c": 3}}},
    {"a": {"$gt": 0}, "b.c": {"$lt": 10}}, {"$or": [{"a": 1}, {"b.c": 2}]}, {"a": {"$gte": 0}, "s": "red"},
    {"s": "blue", "a": {"$lt": 30}}, {"_id": {"$gt": 1900}}, {"_id": {"$in": [3, 5, 7000]}},
    {"a": {"$ne": 5}}, {"a": {"$nin": [None, "k", 5]}}, {"a": {"$not": {"$eq": 5}}}, {"a": {"$not": {"$in": [1, None]}}},
    {"a": {"$type": "number"}}, {"a": {"$type": ["int", "long"]}}, {"a": {"$type": "null"}}, {"a": {"$type": "date"}},
    {"a": {"$type": "object"}}, {"a": {"$type": ["string", "int"]}}, {"b.c": {"$ne": 3}}, {"b.c": {"$type": "string"}},
    {"b.c": {"$exists": False}}, {"s": {"$ne": "red"}, "a": {"$type": "number"}},
]


def explain_find(coll, verbosity="queryPlanner", **find):
    return db().command("explain", {"find": coll.name, **find}, verbosity=verbosity)


def ids(coll, filt, **kw):
    return sorted(d["_id"] for d in coll.find(filt, {"_id": 1}, **kw))


def check_same_documents(coll):
    before = {json.dumps(f, default=str): ids(coll, f) for f in FILTERS}
    coll.create_index("a")
    coll.create_index([("b.c", -1)])
    coll.create_index([("s", 1), ("a", -1)])
    for f in FILTERS:
        key = json.dumps(f, default=str)
        assert ids(coll, f) == before[key], f"{f}: different documents with indexes"
        assert coll.count_documents(f) == len(before[key]), f"{f}: count differs"
        got = sorted(d["_id"] for d in coll.aggregate([{"$match": f}, {"$project": {"_id": 1}}]))
        assert got == before[key], f"{f}: aggregate $match differs"


def test_same_documents_with_and_without_indexes_single_valued():
    coll = db().single
    coll.insert_many(make_docs(2000, 1, arrays=False))
    check_same_documents(coll)
    flags = {i["name"]: i for i in coll.list_indexes()}
    assert set(flags) == {"_id_", "a_1", "b.c_-1", "s_1_a_-1"}, flags
    plan = coll.find({"a": {"$gt": 10}}).explain()["queryPlanner"]["winningPlan"]
    assert "IXSCAN" in json.dumps(plan), plan
    assert plan["inputStage"]["isMultiKey"] is False


def test_same_documents_with_and_without_indexes_multikey():
    coll = db().multi
    coll.insert_many(make_docs(2000, 2))
    check_same_documents(coll)
    assert [i["name"] for i in coll.list_indexes()] == ["_id_", "a_1", "b.c_-1", "s_1_a_-1"]


def test_multikey_equality_reads_the_btree_and_the_gin_of_keys():
    coll = db().tags
    rnd = random.Random(4)
    coll.insert_many([{"_id": i, "t": [f"x{rnd.randrange(3000)}" for _ in range(3)], "n": i} for i in range(6000)])
    coll.insert_many([{"_id": 10000 + i, "t": f"x{i}"} for i in range(50)])  # single values too
    coll.create_index("t")
    for filt in [{"t": "x7"}, {"t": {"$in": ["x1", "x2", "x3"]}}]:
        plan = json.dumps(coll.find(filt).explain()["queryPlanner"]["winningPlan"])
        assert '"isMultiKey": true' in plan and '"indexName": "t_1"' in plan and "COLLSCAN" not in plan, plan
        assert ids(coll, filt) == ids(coll, filt, hint=[("$natural", 1)]), filt
    assert 10007 in ids(coll, {"t": "x7"})
    # Ranges: an array's largest element above the lower bound, its smallest below the upper.
    coll.create_index("n")
    coll.insert_many([{"_id": 20000 + i, "n": [i, i + 100000]} for i in range(20)])
    for filt in [{"n": {"$gt": 5990}}, {"n": {"$gte": 100010}}, {"n": {"$lt": 3}}, {"n": {"$gte": 100, "$lt": 110}},
                 {"n": {"$elemMatch": {"$gte": 100005, "$lt": 100007}}}, {"t": {"$elemMatch": {"$eq": "x9"}}}]:
        plan = json.dumps(coll.find(filt).explain()["queryPlanner"]["winningPlan"])
        assert '"isMultiKey": true' in plan and "COLLSCAN" not in plan, (filt, plan)
        assert ids(coll, filt) == ids(coll, filt, hint=[("$natural", 1)]), filt


def test_index_created_before_data_tracks_multikey():
    # As ODMs do: indexes first, then documents; an array later makes the index multikey.
    coll = db().early
    coll.create_index("a")
    coll.insert_many(make_docs(1500, 3, arrays=False))
    before = {json.dumps(f, default=str): ids(coll, f) for f in FILTERS}
    coll.insert_one({"_id": 5000, "a": [5, 45, "k"]})
    coll.update_one({"_id": 10}, {"$set": {"a": [1, 2]}})
    for f in FILTERS:
        got = ids(coll, f)
        plain = [i for i in ids(coll, f, hint=[("$natural", 1)])]
        assert got == plain, f"{f}: index and collection scan disagree after the array"
    assert 5000 in ids(coll, {"a": 45}) and 5000 in ids(coll, {"a": {"$gt": 40}})
    assert 10 in ids(coll, {"a": {"$all": [1, 2]}})
    assert before  # the single-valued results were computed with the index in use


def test_planner_reads_the_index_on_a_fresh_collection():
    coll = db().fresh
    coll.insert_many([{"_id": i, "k": f"key{i:06d}", "n": i % 1000} for i in range(20000)])
    coll.create_index("k")
    coll.create_index("n")
    for filt in [{"k": "key000123"}, {"n": {"$gte": 990}}, {"n": {"$in": [1, 2, 3]}}, {"k": {"$regex": "^key0001"}}]:
        plan = json.dumps(coll.find(filt).explain()["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan, (filt, plan)
    # A regex anchored at the start reads the prefix's range (MongoDB's tight bounds).
    bounds = coll.find({"k": {"$regex": "^key0001"}}).explain()["queryPlanner"]["winningPlan"]["inputStage"]["indexBounds"]
    assert bounds == {"k": ['["key0001", "key0002")', "/^key0001/"]}, bounds
    bounds = coll.find({"n": {"$gte": 990}}).explain()["queryPlanner"]["winningPlan"]["inputStage"]["indexBounds"]
    assert bounds == {"n": ["[990, inf.0]"]}, bounds
    assert ids(coll, {"k": {"$regex": "^key0001"}}) == list(range(100, 200))
    assert ids(coll, {"k": {"$regex": "^key0001", "$options": "i"}}) == list(range(100, 200))
    assert ids(coll, {"k": {"$regex": "^key00012?3"}}) == [123] + list(range(130, 140))
    stats = explain_find(coll, "executionStats", filter={"k": "key000123"})["executionStats"]
    assert stats["nReturned"] == 1 and stats["totalDocsExamined"] == 1, stats


def test_negations_types_and_missing_read_index_intervals():
    """MongoDB's bounds for $ne / $nin (the intervals around the values), $type (the type's
    bracket) and $exists: false (the null key) on a single-valued index."""
    coll = db().sparse_values
    docs = []
    for i in range(20000):
        d = {"_id": i, "n": i % 1000}
        if i % 100 == 1:
            d["s"] = f"s{i}"
        elif i % 100 == 2:
            d["s"] = i
        docs.append(d)
    coll.insert_many(docs)
    before = {}
    cases = [({"s": {"$ne": None}}, {"s": ["[MinKey, null)", "(null, MaxKey]"]}),
             ({"s": {"$type": "string"}}, {"s": ['["", {})']}),
             ({"s": {"$type": "number"}}, {"s": ["[-inf.0, inf.0]"]}),
             ({"n": {"$nin": list(range(3, 1000))}}, None),
             ({"n": {"$nin": [5, 7]}}, None)]
    for filt, _ in cases:
        before[json.dumps(filt)] = ids(coll, filt)
    coll.create_index("s")
    coll.create_index("n")
    for filt, bounds in cases:
        assert ids(coll, filt) == before[json.dumps(filt)], filt
        if bounds is None:
            continue
        plan = coll.find(filt).explain()["queryPlanner"]["winningPlan"]
        text = json.dumps(plan)
        assert "IXSCAN" in text, (filt, plan)
        assert f'"indexBounds": {json.dumps(bounds)}' in text, (filt, plan)
    assert len(before[json.dumps({"s": {"$ne": None}})]) == 400
    assert before[json.dumps({"n": {"$nin": list(range(3, 1000))}})] == [i for i in range(20000) if i % 1000 < 3]


def test_current_op_shows_an_index_build_with_progress():
    """Issue #10: currentOp shows a running build with its progress (PostgreSQL's
    pg_stat_progress_create_index: the phase, done / total), as MongoDB's msg/progress."""
    import threading

    coll = db().build_progress
    coll.insert_many(({"_id": i, "a": i * 7919 % 1000003, "b": f"s{i % 9973}", "c": i % 17} for i in range(300000)),
                     ordered=False)
    seen, errors = [], []

    def build():
        try:
            coll.create_index([("b", 1), ("a", -1), ("c", 1)])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    builder = threading.Thread(target=build)
    builder.start()
    admin = db().client.admin
    other, slowest, n = db().build_neighbour, 0.0, 0
    while builder.is_alive():
        for op in admin.command("currentOp")["inprog"]:
            if op.get("command", {}).get("createIndexes") == coll.name and "progress" in op:
                seen.append(op)
        # The build locks only its own collection: another one reads and writes meanwhile.
        started = time.monotonic()
        other.insert_one({"_id": n})
        assert other.find_one({"_id": n}) == {"_id": n}
        slowest, n = max(slowest, time.monotonic() - started), n + 1
    builder.join()
    assert not errors, errors
    assert slowest < 0.5, f"a write beside the build took {slowest:.2f}s"
    assert seen, "no currentOp entry of the build carried progress"
    op = seen[-1]
    assert op["msg"].startswith("Index Build: ") and 0 <= op["progress"]["done"] <= op["progress"]["total"], op
    assert op["ns"] == f"{db().name}.{coll.name}" and op["op"] == "command", op


def test_compound_multikey_index_serves_its_leading_path():
    """A compound index whose leading field holds arrays answers equality, $in and ranges
    on that field (the GIN of keys and the btree of arrays' ends beside it), with the
    documents MongoDB returns; two array fields in one document are refused (171)."""
    coll = db().compound_multikey
    rnd = random.Random(11)
    docs = []
    for i in range(6000):
        a = [rnd.randrange(200) for _ in range(rnd.randrange(4))] if i % 3 == 0 else rnd.randrange(200)
        docs.append({"_id": i, "a": a, "b": rnd.randrange(50), "s": rnd.choice(["x", "y"])})
    coll.insert_many(docs)
    filters = [{"a": 7}, {"a": {"$in": [3, 150]}}, {"a": {"$gte": 190}}, {"a": {"$lt": 2}}, {"a": 7, "b": {"$lt": 10}},
               {"a": {"$gt": 50, "$lt": 52}}, {"a": []}, {"a": None}, {"b": 4}]
    before = {json.dumps(f): ids(coll, f) for f in filters}
    coll.create_index([("a", 1), ("b", -1)])
    assert [i for i in coll.list_indexes() if i["name"] == "a_1_b_-1"]
    for f in filters:
        assert ids(coll, f) == before[json.dumps(f)], f
    for f in [{"a": 7}, {"a": {"$in": [3, 150]}}, {"a": {"$gte": 190}}]:
        plan = coll.find(f).explain()["queryPlanner"]["winningPlan"]
        assert "IXSCAN" in json.dumps(plan), (f, plan)
    # Manual (multikey indexes): a compound multikey index keys one array per document.
    for bad in [{"_id": "p1", "a": [1, 2], "b": [3, 4]}]:
        try:
            coll.insert_one(bad)
            raise AssertionError("parallel arrays were indexed")
        except OperationFailure as e:
            assert e.code == 171 and "cannot index parallel arrays" in str(e), e
    try:
        coll.update_one({"_id": 0}, {"$set": {"b": [1, 2]}})
        raise AssertionError("an update made parallel arrays")
    except OperationFailure as e:
        assert e.code == 171, e
    coll.insert_one({"_id": "shared", "a": [{"x": 1}], "b": 1})
    other = db().parallel_build
    other.insert_many([{"_id": 1, "a": [1], "b": [2]}])
    try:
        other.create_index([("a", 1), ("b", 1)])
        raise AssertionError("a build over parallel arrays succeeded")
    except OperationFailure as e:
        assert e.code == 171, e
    assert [i["name"] for i in other.list_indexes()] == ["_id_"]
    nested = db().parallel_nested
    nested.create_index([("a.b", 1), ("a.c", 1)])
    nested.insert_one({"a": [{"b": 1, "c": 2}, {"b": 3, "c": 4}]})  # one array: fine


def test_sort_and_limit_read_only_limit_entries():
    coll = db().fresh
    explain = explain_find(coll, "executionStats", filter={"n": {"$gte": 10}}, sort={"n": 1}, limit=5)
    plan = json.dumps(explain["queryPlanner"]["winningPlan"])
    assert "SORT" not in plan and "IXSCAN" in plan, plan
    assert explain["executionStats"]["totalKeysExamined"] <= 10, explain["executionStats"]
    got = [d["n"] for d in coll.find({"n": {"$gte": 10}}).sort("n", -1).limit(3)]
    assert got == [999, 999, 999], got
    assert [d["_id"] for d in coll.find().sort("_id", -1).limit(2)] == [19999, 19998]


def test_cursor_pages_over_an_index_scan_return_each_document_once():
    coll = db().fresh
    seen = [d["_id"] for d in coll.find({"n": {"$lt": 300}}, batch_size=97)]
    assert len(seen) == len(set(seen)) == 6000, len(seen)


def test_hint_by_name_key_and_natural():
    coll = db().fresh
    plan = lambda cur: json.dumps(cur.explain()["queryPlanner"]["winningPlan"])
    assert '"indexName": "k_1"' in plan(coll.find({"n": 5}).hint("k_1"))
    assert '"indexName": "n_1"' in plan(coll.find({"n": 5, "k": "key000005"}).hint([("n", 1)]))
    assert "COLLSCAN" in plan(coll.find({"k": "key000005"}).hint([("$natural", 1)]))
    assert coll.count_documents({"n": 5}, hint="k_1") == 20
    assert len(coll.distinct("k", {"n": 5}, hint="n_1")) == 20
    assert [d["_id"] for d in coll.find({"n": 7}).hint("n_1")] == [i for i in range(20000) if i % 1000 == 7]
    assert coll.update_many({"n": 7}, {"$set": {"t": 1}}, hint="n_1").modified_count == 20
    assert coll.delete_one({"k": "key000007"}, hint={"k": 1}).deleted_count == 1
    assert coll.find_one_and_update({"n": 8}, {"$set": {"t": 2}}, hint="n_1") is not None
    assert len(list(coll.aggregate([{"$match": {"n": 9}}], hint="n_1"))) == 20
    for call in (lambda: coll.find({}).hint("nope").to_list(), lambda: coll.find({}).hint([("zz", 1)]).to_list(),
                 lambda: coll.count_documents({}, hint="nope"), lambda: coll.delete_one({}, hint="nope")):
        try:
            call()
            raise AssertionError("an unknown hint was accepted")
        except OperationFailure as e:
            assert e.code == 2 and "hint provided does not correspond to an existing index" in str(e), e


def test_hidden_index_is_maintained_but_never_chosen():
    coll = db().fresh
    assert db().command("collMod", "fresh", index={"name": "n_1", "hidden": True})["hidden_new"] is True
    assert "IXSCAN" not in json.dumps(coll.find({"n": 5}).explain()["queryPlanner"]["winningPlan"])
    assert [i.get("hidden") for i in coll.list_indexes() if i["name"] == "n_1"] == [True]
    try:
        coll.find({"n": 5}).hint("n_1").to_list()
        raise AssertionError("a hidden index was hinted")
    except OperationFailure as e:
        assert e.code == 2, e
    coll.insert_one({"_id": 99999, "k": "hidden-time", "n": 123456})
    db().command("collMod", "fresh", index={"keyPattern": {"n": 1}, "hidden": False})
    assert [d["_id"] for d in coll.find({"n": 123456})] == [99999]
    assert "IXSCAN" in json.dumps(coll.find({"n": 123456}).explain()["queryPlanner"]["winningPlan"])


def test_unique_compound_violations_carry_key_pattern_and_value():
    coll = db().uniq
    coll.create_index([("u", 1), ("v", -1)], unique=True)
    coll.insert_one({"u": 1, "v": "x"})
    try:
        coll.insert_one({"u": 1, "v": "x"})
        raise AssertionError("duplicate accepted")
    except DuplicateKeyError as e:
        assert e.details["keyPattern"] == {"u": 1, "v": -1} and e.details["keyValue"] == {"u": 1, "v": "x"}, e.details
    for ordered in (True, False):
        try:
            coll.insert_many([{"u": 2, "v": "y"}, {"u": 1, "v": "x"}, {"u": 3, "v": "z"}], ordered=ordered)
            raise AssertionError("duplicate accepted")
        except BulkWriteError as e:
            errors = e.details["writeErrors"]
            assert [w["index"] for w in errors] == [1] and errors[0]["code"] == 11000, errors
            assert e.details["nInserted"] == (1 if ordered else 2), e.details
        coll.delete_many({"u": {"$in": [2, 3]}})


def test_unique_multikey_index_compares_array_elements():
    # MongoDB's rule: a value shared by two documents' arrays (or an array and a scalar) is a
    # duplicate; repeats inside one document are not.
    coll = db().uniq_multi
    coll.create_index("tags", unique=True)
    coll.insert_one({"_id": 1, "tags": [1, 2]})
    for doc in [{"_id": 2, "tags": [2, 3]}, {"_id": 3, "tags": 2}, {"_id": 4, "tags": [5, 1]}]:
        try:
            coll.insert_one(doc)
            raise AssertionError(f"{doc} accepted")
        except DuplicateKeyError as e:
            assert e.code == 11000 and e.details["keyPattern"] == {"tags": 1}, e.details
    coll.insert_one({"_id": 5, "tags": [7, 7]})
    coll.insert_one({"_id": 6, "tags": 8})
    for ordered in (True, False):
        try:
            coll.insert_many([{"_id": 10 + ordered, "tags": [20 + ordered]}, {"_id": 12 + 10 * ordered, "tags": [8, 9]},
                              {"_id": 30 + ordered, "tags": 40 + ordered}], ordered=ordered)
            raise AssertionError("duplicate accepted")
        except BulkWriteError as e:
            assert [(w["index"], w["code"]) for w in e.details["writeErrors"]] == [(1, 11000)], e.details
            assert e.details["nInserted"] == (1 if ordered else 2), e.details
    try:
        coll.update_one({"_id": 6}, {"$set": {"tags": [9, 1]}})
        raise AssertionError("update to a shared element accepted")
    except DuplicateKeyError as e:
        assert e.code == 11000, e
    assert sorted(d["_id"] for d in coll.find()) == [1, 5, 6, 10, 11, 30]
    existing = db().uniq_build
    existing.insert_many([{"t": [1, 2]}, {"t": [2, 3]}])
    try:
        existing.create_index("t", unique=True)
        raise AssertionError("unique index built over shared elements")
    except OperationFailure as e:
        assert e.code == 11000 and "dup key: { \"t\" : 2 }" in str(e), e
    assert [i["name"] for i in existing.list_indexes()] == ["_id_"]


def test_unique_compound_index_compares_key_tuples_of_array_elements():
    # MongoDB's compound multikey keys: one (a, b) per element of the array; two documents
    # sharing a tuple are duplicates, sharing an element with different partners is not.
    coll = db().uniq_compound
    coll.create_index([("a", 1), ("b", 1)], unique=True)
    coll.insert_one({"_id": 1, "a": [1, 2], "b": "x"})
    coll.insert_one({"_id": 2, "a": [2, 3], "b": "y"})  # (2, "y") is new
    coll.insert_one({"_id": 3, "a": 3, "b": "x"})
    for doc in [{"_id": 4, "a": [5, 2], "b": "x"}, {"_id": 5, "a": 1, "b": "x"}, {"_id": 6, "a": [9, 3], "b": "y"}]:
        try:
            coll.insert_one(doc)
            raise AssertionError(f"{doc} accepted")
        except DuplicateKeyError as e:
            assert e.code == 11000 and e.details["keyPattern"] == {"a": 1, "b": 1}, e.details
    try:
        coll.update_one({"_id": 3}, {"$set": {"a": [7, 1]}})
        raise AssertionError("update to a shared tuple accepted")
    except DuplicateKeyError as e:
        assert e.code == 11000, e
    nested = db().uniq_compound_nested
    nested.create_index([("p.b", 1), ("p.c", 1)], unique=True)
    nested.insert_one({"p": [{"b": 1, "c": 2}, {"b": 3, "c": 4}]})
    nested.insert_one({"p": [{"b": 1, "c": 4}]})  # (1, 4) pairs values of one element only
    try:
        nested.insert_one({"p": {"b": 3, "c": 4}})
        raise AssertionError("a shared tuple under the array accepted")
    except DuplicateKeyError as e:
        assert e.code == 11000, e
    existing = db().uniq_compound_build
    existing.insert_many([{"a": [1, 2], "b": 7}, {"a": [2, 3], "b": 7}])
    try:
        existing.create_index([("a", 1), ("b", 1)], unique=True)
        raise AssertionError("unique compound index built over shared tuples")
    except OperationFailure as e:
        assert e.code == 11000 and 'dup key: { "a" : 2, "b" : 7 }' in str(e), e


def test_explain_of_writes_names_the_index():
    d = db()
    e = d.command("explain", {"update": "fresh", "updates": [{"q": {"k": "key000042"}, "u": {"$set": {"z": 1}}}]},
                  verbosity="executionStats")
    assert e["queryPlanner"]["winningPlan"]["stage"] == "UPDATE", e
    assert '"indexName": "k_1"' in json.dumps(e["queryPlanner"]["winningPlan"])
    assert e["executionStats"]["totalDocsExamined"] == 1
    e = d.command("explain", {"delete": "fresh", "deletes": [{"q": {"n": {"$gt": 995}}, "limit": 0}]})
    assert e["queryPlanner"]["winningPlan"]["stage"] == "DELETE", e
    e = d.command("explain", {"findAndModify": "fresh", "query": {"k": "key000043"}, "remove": True})
    assert e["queryPlanner"]["winningPlan"]["stage"] == "DELETE", e
    assert d.fresh.count_documents({"k": "key000043"}) == 1  # explain does not write


def test_reindex_and_index_stats():
    d = db()
    coll = d.reidx
    coll.insert_many([{"_id": i, "a": i, "t": ["x", "y"] if i == 3 else "z"} for i in range(200)])
    coll.create_index("a")
    coll.create_index("t")
    stats = list(coll.aggregate([{"$indexStats": {}}, {"$sort": {"name": 1}}]))
    assert [s["name"] for s in stats] == ["_id_", "a_1", "t_1"], stats
    assert all(isinstance(s["accesses"]["ops"], int) and s["accesses"]["since"] for s in stats), stats
    assert stats[1]["key"] == {"a": 1} and stats[1]["spec"]["name"] == "a_1"
    coll.update_one({"_id": 3}, {"$set": {"t": "w"}})
    reply = d.command("reIndex", "reidx")
    assert (reply["nIndexesWas"], reply["nIndexes"]) == (3, 3) and len(reply["indexes"]) == 3, reply
    # The rebuild recomputes the multikey flag from the data, as MongoDB's does.
    plan = json.dumps(coll.find({"t": {"$gt": "v"}}).hint("t_1").explain()["queryPlanner"]["winningPlan"])
    assert '"isMultiKey": false' in plan, plan
    assert ids(coll, {"t": {"$gt": "v"}}) == ids(coll, {"t": {"$gt": "v"}}, hint=[("$natural", 1)])
    try:
        d.command("reIndex", "no_such_collection")
        raise AssertionError("reIndex of a missing collection")
    except OperationFailure as e:
        assert e.code == 26, e
    try:
        list(coll.aggregate([{"$match": {}}, {"$indexStats": {}}]))
        raise AssertionError("$indexStats accepted after another stage")
    except OperationFailure as e:
        assert e.code == 40602, e


def test_index_sizes_and_drop_counts():
    d = db()
    stats = d.command("collStats", "fresh")
    assert set(stats["indexSizes"]) == {"_id_", "k_1", "n_1"}, stats["indexSizes"]
    assert all(size > 0 for size in stats["indexSizes"].values()), stats["indexSizes"]
    assert stats["nindexes"] == 3
    assert d.command("dropIndexes", "fresh", index="k_1")["nIndexesWas"] == 3
    assert d.command("dropIndexes", "fresh", index="*")["nIndexesWas"] == 2
    assert [i["name"] for i in d.fresh.list_indexes()] == ["_id_"]


def test_partial_and_sparse_indexes_serve_the_queries_that_imply_their_filter():
    # The manual's rule: a query uses a partial index when it implies the filter.
    coll = db().partial
    coll.insert_many([{"_id": i, "rating": i % 10, **({"z": i} if i % 4 == 0 else {})} for i in range(8000)])
    coll.create_index("rating", partialFilterExpression={"rating": {"$gt": 5}})
    coll.create_index("z", sparse=True)
    cases = [({"rating": {"$gte": 8}}, True), ({"rating": 9}, True), ({"rating": {"$lt": 8}}, False),
             ({"rating": 5}, False), ({"z": 400}, True), ({"z": {"$gt": 7990}}, True), ({"z": None}, False),
             ({"z": {"$exists": False}}, False)]
    for filt, uses_index in cases:
        plan = json.dumps(coll.find(filt).explain()["queryPlanner"]["winningPlan"])
        assert ("IXSCAN" in plan) == uses_index, (filt, plan)
        assert ids(coll, filt) == ids(coll, filt, hint=[("$natural", 1)]), filt


def test_hashed_indexes_serve_equality_and_refuse_arrays():
    coll = db().hashed
    coll.insert_many([{"_id": i, "a": i % 500, "b": {"c": f"s{i % 50}"}} for i in range(10000)])
    assert coll.create_index([("a", "hashed")]) == "a_hashed"
    coll.create_index([("b.c", "hashed"), ("a", 1)])
    for filt in [{"a": 7}, {"a": 7.0}, {"a": Int64(7)}, {"a": {"$in": [1, 2, 3]}}, {"b.c": "s3"}, {"b.c": "s3", "a": 3}]:
        plan = json.dumps(coll.find(filt).explain()["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan and "hashed" in plan, (filt, plan)
        assert ids(coll, filt) == ids(coll, filt, hint=[("$natural", 1)]), filt
    try:
        coll.insert_one({"a": [1, 2]})
        raise AssertionError("an array under a hashed index was stored")
    except OperationFailure as e:
        assert e.code == 16766, e
    for keys, opts, code in [([("x", "hashed")], {"unique": True}, 67), ([("x", "hashed"), ("y", "hashed")], {}, 31303)]:
        try:
            coll.create_index(keys, **opts)
            raise AssertionError(f"{keys} {opts} accepted")
        except OperationFailure as e:
            assert e.code == code, e


def test_text_index_and_text_search():
    # The manual's $text examples: terms are OR-ed, phrases required, -terms excluded,
    # words stemmed by language; textScore in projection and sort.
    coll = db().articles
    coll.insert_many([
        {"_id": 1, "subject": "coffee", "author": "xyz", "views": 50},
        {"_id": 2, "subject": "Coffee Shopping", "author": "efg", "views": 5},
        {"_id": 3, "subject": "Baking a cake", "author": "abc", "views": 90},
        {"_id": 4, "subject": "baking", "author": "xyz", "views": 100},
        {"_id": 5, "subject": "Café Con Leche", "author": "abc", "views": 200},
        {"_id": 6, "subject": "Сырники", "author": "jkl", "views": 80, "language": "russian"},
        {"_id": 7, "subject": "coffee and cream", "author": "efg", "views": 10},
        {"_id": 8, "subject": "Cafe con Leche", "author": "xyz", "views": 10},
    ] + [{"_id": 100 + i, "subject": f"filler text number {i}", "views": i} for i in range(3000)])
    assert coll.create_index([("subject", "text")]) == "subject_text"
    spec = [i for i in coll.list_indexes() if i["name"] == "subject_text"][0]
    assert spec["key"] == {"_fts": "text", "_ftsx": 1} and spec["weights"] == {"subject": 1}, spec
    assert spec["default_language"] == "english" and spec["textIndexVersion"] == 3, spec
    search = lambda s, **kw: sorted(d["_id"] for d in coll.find({"$text": {"$search": s, **kw}}))
    assert search("coffee") == [1, 2, 7]
    assert search("bake coffee cake") == [1, 2, 3, 4, 7]
    assert search('"coffee shop"') == [2]
    assert search("coffee -shop") == [1, 7]
    assert search("leche", **{"$language": "es"}) == [5, 8]
    assert search("сырники", **{"$language": "ru"}) == [6]
    assert search("-coffee") == []
    # The manual's case- and diacritic-sensitivity examples ($text): the index ignores both;
    # case-sensitive terms match whole words as written, diacritic-sensitive ones keep accents.
    assert search("cafe") == [5, 8] and search("CAFÉ") == [5, 8]
    assert search("Coffee", **{"$caseSensitive": True}) == [2]
    assert search('"Café Con Leche"', **{"$caseSensitive": True}) == [5]
    assert search("Coffee -shop", **{"$caseSensitive": True}) == [2]
    assert search("CAFÉ", **{"$diacriticSensitive": True}) == [5]
    assert search("leches -cafés", **{"$diacriticSensitive": True}) == [8]
    assert search("Café", **{"$caseSensitive": True, "$diacriticSensitive": True}) == [5]
    plan = json.dumps(coll.find({"$text": {"$search": "coffee"}}).explain()["queryPlanner"]["winningPlan"])
    assert '"indexName": "subject_text"' in plan, plan
    scored = list(coll.find({"$text": {"$search": "coffee"}}, {"score": {"$meta": "textScore"}})
                  .sort([("score", {"$meta": "textScore"})]))
    assert [d["_id"] for d in scored][0] == 1 and all(isinstance(d["score"], float) for d in scored), scored
    assert scored[0]["score"] > scored[-1]["score"] and "subject" in scored[0], scored
    assert coll.count_documents({"$text": {"$search": "coffee"}, "views": {"$gt": 20}}) == 1
    assert [d["_id"] for d in coll.aggregate([{"$match": {"$text": {"$search": "cake"}}}])] == [3]
    # {$meta: "textScore"} in aggregation: $project, $addFields (after other stages), $sort.
    by_find = {d["_id"]: d["score"] for d in scored}
    agg = list(coll.aggregate([{"$match": {"$text": {"$search": "coffee"}}},
                               {"$project": {"score": {"$meta": "textScore"}}},
                               {"$sort": {"score": {"$meta": "textScore"}}}]))
    assert [d["_id"] for d in agg] == [d["_id"] for d in scored] and set(agg[0]) == {"_id", "score"}, agg
    assert all(abs(d["score"] - by_find[d["_id"]]) < 1e-9 for d in agg), agg
    agg = list(coll.aggregate([{"$match": {"$text": {"$search": "coffee"}}}, {"$limit": 10},
                               {"$addFields": {"s": {"$meta": "textScore"}}}, {"$sort": {"s": -1}}]))
    assert [d["_id"] for d in agg] == [d["_id"] for d in scored] and "subject" in agg[0], agg
    for call, code in [
        (lambda: db().notext.insert_one({}) and db().notext.find_one({"$text": {"$search": "x"}}), 27),
        (lambda: coll.create_index([("author", "text")]), 85),
        (lambda: coll.find_one({}, {"score": {"$meta": "textScore"}}), 40218),
        (lambda: list(coll.aggregate([{"$project": {"score": {"$meta": "textScore"}}}])), 40218),
        (lambda: list(coll.aggregate([{"$match": {"$text": {"$search": "x"}}}, {"$group": {"_id": 1}},
                                      {"$sort": {"s": {"$meta": "textScore"}}}])), 40218),
        (lambda: list(coll.aggregate([{"$project": {"a": 1}}, {"$match": {"$text": {"$search": "x"}}}])), 17313),
        (lambda: coll.find_one({"$or": [{"$text": {"$search": "x"}}, {"a": 1}]}), 2),
    ]:
        try:
            call()
            raise AssertionError(f"no error {code}")
        except OperationFailure as e:
            assert e.code == code, (code, e)


def test_wildcard_indexes_serve_equality_on_any_covered_path():
    coll = db().wild
    coll.insert_many([{"_id": i, "attrs": {"color": ["red", "blue", "green"][i % 3], "size": i % 50},
                       "tags": [f"t{i % 100}", f"u{i % 7}"], "name": f"n{i}"} for i in range(20000)])
    assert coll.create_index([("$**", 1)]) == "$**_1"
    coll.create_index([("attrs.$**", 1)], name="attrs_wc")
    for filt in [{"attrs.size": 7}, {"tags": "t42"}, {"name": "n123"}, {"attrs.color": {"$in": ["red"]}, "attrs.size": 3}]:
        plan = json.dumps(coll.find(filt).explain()["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan, (filt, plan)
        assert ids(coll, filt) == ids(coll, filt, hint=[("$natural", 1)]), filt
    # Ranges read the path's keys from the GIN by partial match (gin_range.rs), each
    # comparison alone (an array's elements may satisfy two of them separately).
    for filt in [{"attrs.size": {"$gt": 48}}, {"attrs.size": {"$gte": 10, "$lt": 12}}, {"tags": {"$lt": "t11"}},
                 {"name": {"$gte": "n9998"}}, {"attrs.size": {"$gte": None}}, {"tags": {"$gt": "u5", "$lt": "t2"}}]:
        assert ids(coll, filt) == ids(coll, filt, hint=[("$natural", 1)]), filt
    for filt in [{"attrs.size": {"$gt": 48}}, {"tags": {"$lt": "t11"}}, {"name": {"$gte": "n9998"}}]:
        plan = json.dumps(coll.find(filt).explain()["queryPlanner"]["winningPlan"])
        assert "IXSCAN" in plan, (filt, plan)
    projected = db().wild_projected
    projected.create_index([("$**", 1)], wildcardProjection={"a": 1})
    projected.insert_many([{"_id": 1, "a": 1, "b": 1}, {"_id": 2, "a": 2, "b": 2}])
    assert '"indexName": "$**_1"' in json.dumps(projected.find({"a": 1}).hint("$**_1").explain()["queryPlanner"])
    assert ids(projected, {"a": 1}, hint="$**_1") == [1] and ids(projected, {"b": 2}) == [2]
    for keys, opts, code in [([("$**", 1), ("a", 1)], {}, 67), ([("a.$**", 1)], {"wildcardProjection": {"b": 1}}, 9),
                             ([("$**", 1)], {"unique": True}, 67), ([("$**", 1)], {"wildcardProjection": {"a": 1, "b": 0}}, 9)]:
        try:
            db().wild_bad.create_index(keys, **opts)
            raise AssertionError(f"{keys} {opts} accepted")
        except OperationFailure as e:
            assert e.code == code, (keys, opts, e)


def test_ttl_index_deletes_expired_documents():
    # The TTL monitor runs every documentdb.ttl_task_interval_seconds (5 s on the dev
    # cluster, 60 s by default as mongod); an array expires by its earliest date.
    coll = db().ttl
    now = datetime.datetime.now(UTC)
    coll.insert_many([
        {"_id": 1, "at": now - datetime.timedelta(hours=2)},
        {"_id": 2, "at": now + datetime.timedelta(hours=2)},
        {"_id": 3, "at": [now + datetime.timedelta(hours=5), now - datetime.timedelta(hours=3)]},
        {"_id": 4, "at": "not a date"},
        {"_id": 5},
    ])
    coll.create_index("at", expireAfterSeconds=3600)
    assert [i.get("expireAfterSeconds") for i in coll.list_indexes() if i["name"] == "at_1"] == [3600]
    deadline = time.time() + 75
    while time.time() < deadline and sorted(d["_id"] for d in coll.find()) != [2, 4, 5]:
        time.sleep(0.5)
    assert sorted(d["_id"] for d in coll.find()) == [2, 4, 5]
    reply = db().command("collMod", "ttl", index={"name": "at_1", "expireAfterSeconds": 0})
    assert (reply["expireAfterSeconds_old"], reply["expireAfterSeconds_new"]) == (3600, 0), reply
    coll.insert_one({"_id": 6, "at": now - datetime.timedelta(seconds=1)})
    deadline = time.time() + 75
    while time.time() < deadline and coll.count_documents({"_id": 6}):
        time.sleep(0.5)
    assert coll.count_documents({"_id": 6}) == 0
    for bad, code in [({"expireAfterSeconds": -1}, 67), ({"expireAfterSeconds": "x"}, 67)]:
        try:
            db().ttl_bad.create_index("y", **bad)
            raise AssertionError(f"{bad} accepted")
        except OperationFailure as e:
            assert e.code == code, e
    try:
        db().ttl_bad.create_index([("a", 1), ("b", 1)], expireAfterSeconds=5)
        raise AssertionError("compound TTL accepted")
    except OperationFailure as e:
        assert e.code == 67 and "compound" in str(e), e


def test_concurrent_create_index_of_one_index_all_succeed():
    """Manual (createIndexes): creating an index that exists is a no-op, also when several
    clients create it at once on a new collection (Mongoose's init does): every call
    succeeds and the index exists once (a race used to fail one with E11000 on the catalog)."""
    import threading

    db().drop_collection("racing")
    errors = []
    barrier = threading.Barrier(8)

    def create():
        c = pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000)
        try:
            barrier.wait()
            c[DB].racing.create_index("email", unique=True)
        except PyMongoError as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    names = sorted(db().racing.index_information())
    assert names == ["_id_", "email_1"], names


# ---------------------------------------------------------------- runner


def cleanup():
    harness.drop_and_close(URI, DB, _clients)


if __name__ == "__main__":
    sys.exit(harness.main(sys.argv[1:], globals(), title="indexes",
                          ping=lambda: db().client.admin.command("ping"), cleanup=cleanup))
