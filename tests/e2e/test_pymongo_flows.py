#!/usr/bin/env python3
"""End-to-end client flows through the MongoDB wire gateway with pymongo.

Covers what an application does every day: generated ids, every BSON type round-tripping with
its exact type, a 10,000-document insert_many, server errors surfacing as the right pymongo
exceptions and codes, server selection against a closed port, updates/deletes/finds,
cursors with getMore, aggregation, indexes and database/collection management.

Run:   python3 tests/e2e/test_pymongo_flows.py --uri 'mongodb://user:pw@127.0.0.1:10260/?directConnection=true'
  or:  GATEWAY_URI=... pytest tests/e2e/test_pymongo_flows.py
The user in the URI must be able to create and drop databases (e.g. the admin user).
Prints PASS/FAIL per test, then 'N passed, N failed, N skipped', and exits non-zero on any failure.
"""
import datetime
import math
import os
import sys
import time
import uuid

import bson
import pymongo
from bson import ObjectId
from bson.binary import Binary, UuidRepresentation
from bson.code import Code
from bson.codec_options import CodecOptions
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.raw_bson import RawBSONDocument
from bson.regex import Regex
from bson.son import SON
from bson.timestamp import Timestamp
from pymongo import ReturnDocument, monitoring
from pymongo.errors import (
    BulkWriteError,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402 - tests/harness.py, the runner shared by the suites

URI = os.environ.get("GATEWAY_URI", "")
DB = "e2e_pymongo_" + uuid.uuid4().hex[:8]
UTC = datetime.timezone.utc

_clients = []


def client(uri=None, **opts):
    opts.setdefault("serverSelectionTimeoutMS", 5000)
    opts.setdefault("tz_aware", True)
    opts.setdefault("uuidRepresentation", "standard")
    c = pymongo.MongoClient(uri or URI, **opts)
    _clients.append(c)
    return c


def db():
    return client()[DB]


def fresh(name):
    coll = db()[name]
    coll.drop()
    return coll


def expect_failure(code, fn):
    try:
        fn()
    except OperationFailure as e:
        assert e.code == code, f"expected code {code}, got {e.code}: {e.details}"
        return e
    raise AssertionError(f"expected OperationFailure {code}, got success")


def same_type(actual, expected, path):
    assert type(actual) is type(expected), f"{path}: type {type(actual).__name__} != {type(expected).__name__} ({actual!r})"


# ---------------------------------------------------------------- ids and BSON types


def test_insert_one_returns_generated_object_id():
    coll = fresh("gen_id")
    before = datetime.datetime.now(UTC).replace(microsecond=0) - datetime.timedelta(seconds=5)
    r = coll.insert_one({"name": "alice", "n": 1})
    assert r.acknowledged
    oid = r.inserted_id
    assert type(oid) is ObjectId, type(oid)
    assert oid.generation_time >= before, oid.generation_time
    doc = coll.find_one({"_id": oid})
    assert doc == {"_id": oid, "name": "alice", "n": 1}, doc
    assert type(doc["_id"]) is ObjectId
    assert list(doc.keys()) == ["_id", "name", "n"], list(doc.keys())
    # A second insert gets a different id; both are found.
    oid2 = coll.insert_one({"name": "bob"}).inserted_id
    assert oid2 != oid and oid2 > oid
    assert coll.count_documents({}) == 2
    assert coll.find_one({"_id": oid2})["name"] == "bob"
    # An explicit _id of another type is kept as given.
    assert coll.insert_one({"_id": "str-id"}).inserted_id == "str-id"
    assert coll.find_one({"_id": "str-id"}) == {"_id": "str-id"}


def all_types_document():
    u = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")
    oid = ObjectId("65f0c0ffee0000000000abcd")
    return SON(
        [
            ("_id", 1),
            ("int32", 42),
            ("int32_neg", -(2**31)),
            ("int32_max", 2**31 - 1),
            ("int64", Int64(42)),
            ("int64_big", Int64(2**62 + 7)),
            ("int64_min", Int64(-(2**63))),
            ("double", 1.5),
            ("double_whole", 3.0),
            ("double_neg_zero", -0.0),
            ("double_inf", float("inf")),
            ("double_ninf", float("-inf")),
            ("double_nan", float("nan")),
            ("double_tiny", 5e-324),
            ("decimal", Decimal128("1234.5678900")),
            ("decimal_neg", Decimal128("-0.000000000000000000000000000000001")),
            ("decimal_big", Decimal128("9.999999999999999999999999999999999E+6144")),
            ("decimal_nan", Decimal128("NaN")),
            ("date", datetime.datetime(2024, 2, 29, 13, 14, 15, 678000, tzinfo=UTC)),
            ("date_pre_epoch", datetime.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
            ("date_epoch", datetime.datetime(1970, 1, 1, tzinfo=UTC)),
            ("bin_generic", b"\x00\x01\x02\xfe\xff"),
            ("bin_empty", b""),
            ("bin_uuid", u),
            ("bin_user", Binary(b"user-defined", 128)),
            ("oid", oid),
            ("true", True),
            ("false", False),
            ("null", None),
            ("regex", Regex("^ab.*c$", "imsx")),
            ("regex_plain", Regex("x+", "")),
            ("ts", Timestamp(1700000000, 7)),
            ("minkey", MinKey()),
            ("maxkey", MaxKey()),
            ("code", Code("function () { return this.a > 1; }")),
            ("str", "plain ascii"),
            ("str_empty", ""),
            ("str_unicode", "h\u00e9llo w\u00f6rld \u2713 \u65e5\u672c\u8a9e \U0001f389 \u0645\u0631\u062d\u0628\u0627"),
            ("str_nul", "a\x00b"),
            ("cl\u00e9_\u65e5\u672c", "unicode key"),
            ("nested", SON([("a", SON([("b", SON([("c", [1, Int64(2), 3.0])])), ("d", None)])), ("e", SON())])),
            ("array", [1, "two", 3.5, None, [4, [5, [6, SON([("seven", 7)])]]], SON([("x", [])]), [], True]),
            ("empty_array", []),
            ("empty_doc", SON()),
            ("array_of_docs", [SON([("k", i), ("v", "v%d" % i)]) for i in range(3)]),
        ]
    )


def check_same(actual, expected, path="doc"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not a document"
        assert list(actual.keys()) == list(expected.keys()), f"{path}: keys {list(actual.keys())} != {list(expected.keys())}"
        for k in expected:
            check_same(actual[k], expected[k], f"{path}.{k}")
        return
    if isinstance(expected, list):
        same_type(actual, expected, path)
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            check_same(a, e, f"{path}[{i}]")
        return
    same_type(actual, expected, path)
    if isinstance(expected, float):
        if math.isnan(expected):
            assert math.isnan(actual), f"{path}: {actual!r} is not NaN"
        else:
            assert actual == expected and math.copysign(1, actual) == math.copysign(1, expected), f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, Decimal128):
        assert actual.bid == expected.bid, f"{path}: {actual} != {expected}"
    elif isinstance(expected, datetime.datetime):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
        assert actual.utcoffset() == datetime.timedelta(0), f"{path}: not UTC: {actual!r}"
    elif isinstance(expected, Regex):
        assert (actual.pattern, actual.flags) == (expected.pattern, expected.flags), f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, Binary):
        assert bytes(actual) == bytes(expected) and actual.subtype == expected.subtype, f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, Code):
        assert str(actual) == str(expected) and actual.scope == expected.scope, f"{path}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def test_find_one_preserves_every_bson_type():
    coll = fresh("types")
    doc = all_types_document()
    assert coll.insert_one(doc).inserted_id == 1
    back = coll.find_one({"_id": 1})
    check_same(back, doc)
    # The explicit type checks the brief calls out, spelled out.
    assert type(back["int32"]) is int and back["int32"] == 42
    assert type(back["int64"]) is Int64 and back["int64"] == 42
    assert type(back["double"]) is float and type(back["double_whole"]) is float
    assert type(back["decimal"]) is Decimal128 and str(back["decimal"]) == "1234.5678900"
    assert type(back["date"]) is datetime.datetime and back["date"].microsecond == 678000
    assert type(back["bin_generic"]) is bytes
    assert type(back["bin_uuid"]) is uuid.UUID
    assert type(back["oid"]) is ObjectId
    assert back["true"] is True and back["false"] is False and back["null"] is None
    assert type(back["regex"]) is Regex
    assert type(back["ts"]) is Timestamp and (back["ts"].time, back["ts"].inc) == (1700000000, 7)
    assert type(back["minkey"]) is MinKey and type(back["maxkey"]) is MaxKey
    assert type(back["code"]) is Code


def test_bson_bytes_round_trip_exactly():
    """The stored document comes back byte for byte (field order, types, values)."""
    coll = fresh("raw")
    doc = all_types_document()
    opts = CodecOptions(uuid_representation=UuidRepresentation.STANDARD, tz_aware=True)
    sent = bson.encode(doc, codec_options=opts)
    coll.insert_one(RawBSONDocument(sent))
    raw = coll.with_options(codec_options=CodecOptions(document_class=RawBSONDocument)).find_one({"_id": 1})
    assert raw.raw == sent, f"bytes differ:\n sent {sent.hex()}\n back {raw.raw.hex()}"


def test_binary_subtype_4_without_uuid_representation():
    c = client(uuidRepresentation="unspecified")
    coll = c[DB].bin4
    coll.drop()
    u = uuid.uuid4()
    coll.insert_one({"_id": 1, "u": Binary(u.bytes, 4), "g": Binary(b"\x01\x02", 0)})
    back = coll.find_one({"_id": 1})
    assert type(back["u"]) is Binary and back["u"].subtype == 4 and bytes(back["u"]) == u.bytes, back
    assert type(back["g"]) is bytes and back["g"] == b"\x01\x02", back
    # Queries match on binary values of the right subtype.
    assert coll.count_documents({"u": Binary(u.bytes, 4)}) == 1
    assert coll.count_documents({"u": Binary(u.bytes, 0)}) == 0


def test_query_by_typed_values():
    coll = fresh("typed_query")
    doc = all_types_document()
    coll.insert_one(doc)
    for key in ["int64", "decimal", "date", "oid", "ts", "bin_uuid", "str_unicode", "code"]:
        assert coll.count_documents({key: doc[key]}) == 1, key
    assert coll.count_documents({"int32": {"$type": "int"}}) == 1
    assert coll.count_documents({"int64": {"$type": "long"}}) == 1
    assert coll.count_documents({"double": {"$type": "double"}}) == 1
    assert coll.count_documents({"decimal": {"$type": "decimal"}}) == 1
    assert coll.count_documents({"regex": {"$type": "regex"}}) == 1
    assert coll.count_documents({"ts": {"$type": "timestamp"}}) == 1
    assert coll.count_documents({"minkey": {"$type": "minKey"}}) == 1
    assert coll.count_documents({"null": None}) == 1
    assert coll.count_documents({"nested.a.b.c": Int64(2)}) == 1
    assert coll.count_documents({"date": {"$gt": datetime.datetime(2024, 2, 29, 13, 14, 15, 677000, tzinfo=UTC)}}) == 1
    assert coll.count_documents({"date": {"$gt": doc["date"]}}) == 0


# ---------------------------------------------------------------- bulk inserts


def test_insert_many_ten_thousand_in_one_call():
    coll = fresh("many")
    docs = [{"i": i, "g": i % 10, "s": "doc-%05d" % i} for i in range(10000)]
    r = coll.insert_many(docs)
    assert r.acknowledged
    assert len(r.inserted_ids) == 10000
    assert all(type(x) is ObjectId for x in r.inserted_ids)
    assert len(set(r.inserted_ids)) == 10000
    assert coll.count_documents({}) == 10000
    assert coll.estimated_document_count() == 10000
    assert coll.count_documents({"g": 3}) == 1000
    assert coll.find_one({"i": 9999})["s"] == "doc-09999"
    assert coll.find_one({"_id": r.inserted_ids[1234]})["i"] == 1234


# ---------------------------------------------------------------- errors


def test_invalid_query_operator_is_operation_failure_code_2():
    coll = fresh("errs")
    coll.insert_one({"a": 1})
    e = expect_failure(2, lambda: coll.find_one({"a": {"$noSuchOperator": 1}}))
    assert "$noSuchOperator" in str(e.details.get("errmsg", "")), e.details
    assert e.details.get("codeName") == "BadValue", e.details
    expect_failure(2, lambda: list(coll.find({"$and": 1})))
    # The connection stays usable after an error.
    assert coll.count_documents({"a": 1}) == 1


def test_duplicate_id_is_duplicate_key_error():
    coll = fresh("dup")
    coll.insert_one({"_id": 7, "v": "first"})
    try:
        coll.insert_one({"_id": 7, "v": "second"})
    except DuplicateKeyError as e:
        assert e.code == 11000, e.code
        assert e.details["keyPattern"] == {"_id": 1}, e.details
        assert e.details["keyValue"] == {"_id": 7}, e.details
        assert "E11000" in e.details.get("errmsg", ""), e.details
    else:
        raise AssertionError("duplicate _id accepted")
    assert coll.find_one({"_id": 7})["v"] == "first"


def test_unique_index_violation_is_duplicate_key_error():
    coll = fresh("dup_unique")
    coll.create_index("email", unique=True)
    coll.insert_one({"email": "a@example.com"})
    try:
        coll.insert_one({"email": "a@example.com"})
    except DuplicateKeyError as e:
        assert e.code == 11000, e.code
        assert e.details["keyPattern"] == {"email": 1}, e.details
        assert e.details["keyValue"] == {"email": "a@example.com"}, e.details
    else:
        raise AssertionError("unique index not enforced")
    try:
        coll.update_one({"email": {"$exists": False}}, {"$set": {"email": "a@example.com"}}, upsert=True)
    except DuplicateKeyError as e:
        assert e.code == 11000
    else:
        raise AssertionError("unique index not enforced on upsert")
    assert coll.count_documents({}) == 1


def test_insert_many_duplicate_ordered_bulk_write_error():
    coll = fresh("bulk_ordered")
    docs = [{"_id": 1}, {"_id": 2}, {"_id": 1}, {"_id": 3}, {"_id": 4}]
    try:
        coll.insert_many(docs, ordered=True)
    except BulkWriteError as e:
        assert e.code == 65, e.code  # pymongo's code for a bulk with write errors
        d = e.details
        assert d["nInserted"] == 2, d
        assert len(d["writeErrors"]) == 1, d
        we = d["writeErrors"][0]
        assert we["index"] == 2 and we["code"] == 11000, we
        assert we.get("keyValue") == {"_id": 1}, we
    else:
        raise AssertionError("expected BulkWriteError")
    assert sorted(d["_id"] for d in coll.find()) == [1, 2]


def test_insert_many_duplicate_unordered_bulk_write_error():
    coll = fresh("bulk_unordered")
    docs = [{"_id": 1}, {"_id": 2}, {"_id": 1}, {"_id": 3}, {"_id": 2}, {"_id": 4}]
    try:
        coll.insert_many(docs, ordered=False)
    except BulkWriteError as e:
        d = e.details
        assert d["nInserted"] == 4, d
        assert [(w["index"], w["code"]) for w in d["writeErrors"]] == [(2, 11000), (4, 11000)], d
    else:
        raise AssertionError("expected BulkWriteError")
    assert sorted(d["_id"] for d in coll.find()) == [1, 2, 3, 4]


def test_closed_port_server_selection_timeout():
    timeout_ms = 1500
    c = pymongo.MongoClient("mongodb://127.0.0.1:1/?directConnection=true", serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=1000)
    started = time.monotonic()
    try:
        c.admin.command("ping")
    except ServerSelectionTimeoutError:
        elapsed = time.monotonic() - started
        assert elapsed < timeout_ms / 1000 + 3, f"took {elapsed:.1f}s"
    else:
        raise AssertionError("ping to a closed port succeeded")
    finally:
        c.close()


# ---------------------------------------------------------------- updates and deletes


def test_update_one_update_many_replace_one():
    coll = fresh("upd")
    coll.insert_many([{"_id": i, "g": i % 2, "n": 0} for i in range(6)])
    r = coll.update_one({"g": 1}, {"$inc": {"n": 5}})
    assert (r.matched_count, r.modified_count, r.upserted_id) == (1, 1, None), r.raw_result
    r = coll.update_one({"_id": 0}, {"$set": {"n": 0}})  # no change
    assert (r.matched_count, r.modified_count) == (1, 0), r.raw_result
    r = coll.update_one({"_id": 99}, {"$set": {"n": 1}})
    assert (r.matched_count, r.modified_count) == (0, 0), r.raw_result
    r = coll.update_one({"_id": 100}, {"$set": {"n": 1}}, upsert=True)
    assert (r.matched_count, r.modified_count, r.upserted_id) == (0, 0, 100), r.raw_result
    assert coll.find_one({"_id": 100}) == {"_id": 100, "n": 1}
    r = coll.update_one({"name": "new"}, {"$set": {"n": 2}}, upsert=True)
    assert type(r.upserted_id) is ObjectId, r.raw_result
    assert coll.find_one({"_id": r.upserted_id}) == {"_id": r.upserted_id, "name": "new", "n": 2}
    r = coll.update_many({"g": 0}, {"$set": {"flag": True}, "$push": {"tags": "t"}})
    assert (r.matched_count, r.modified_count) == (3, 3), r.raw_result
    assert coll.count_documents({"flag": True, "tags": "t"}) == 3
    r = coll.update_many({"g": 0}, {"$set": {"flag": True}})
    assert (r.matched_count, r.modified_count) == (3, 0), r.raw_result
    r = coll.replace_one({"_id": 1}, {"whole": "new"})
    assert (r.matched_count, r.modified_count) == (1, 1), r.raw_result
    assert coll.find_one({"_id": 1}) == {"_id": 1, "whole": "new"}
    r = coll.replace_one({"_id": 200}, {"r": 1}, upsert=True)
    assert r.upserted_id == 200 and coll.find_one({"_id": 200}) == {"_id": 200, "r": 1}
    # Update pipeline and array filters.
    coll.update_one({"_id": 2}, [{"$set": {"double_n": {"$multiply": ["$n", 2]}}}])
    assert coll.find_one({"_id": 2})["double_n"] == 0
    coll.insert_one({"_id": "arr", "a": [1, 5, 10]})
    coll.update_one({"_id": "arr"}, {"$set": {"a.$[x]": 0}}, array_filters=[{"x": {"$gt": 3}}])
    assert coll.find_one({"_id": "arr"})["a"] == [1, 0, 0]
    # An invalid update operator is a server error.
    expect_failure(9, lambda: coll.update_one({"_id": 0}, {"$noSuchUpdate": {"n": 1}}))


def test_delete_one_delete_many():
    coll = fresh("del")
    coll.insert_many([{"_id": i, "g": i % 3} for i in range(9)])
    assert coll.delete_one({"g": 1}).deleted_count == 1
    assert coll.delete_one({"g": 99}).deleted_count == 0
    assert coll.delete_many({"g": 2}).deleted_count == 3
    assert coll.count_documents({}) == 5
    assert coll.delete_many({}).deleted_count == 5
    assert coll.count_documents({}) == 0


def test_find_one_and_update_modify():
    coll = fresh("fam")
    coll.insert_one({"_id": "counter", "seq": 0})
    after = coll.find_one_and_update({"_id": "counter"}, {"$inc": {"seq": 1}}, return_document=ReturnDocument.AFTER)
    assert after == {"_id": "counter", "seq": 1}, after
    before = coll.find_one_and_update({"_id": "counter"}, {"$inc": {"seq": 1}}, return_document=ReturnDocument.BEFORE)
    assert before == {"_id": "counter", "seq": 1}, before
    up = coll.find_one_and_update(
        {"_id": "other"}, {"$set": {"seq": 10}}, upsert=True, return_document=ReturnDocument.AFTER, projection={"_id": 0}
    )
    assert up == {"seq": 10}, up
    assert coll.find_one_and_update({"_id": "missing"}, {"$set": {"x": 1}}) is None
    rep = coll.find_one_and_replace({"_id": "other"}, {"seq": 20}, return_document=ReturnDocument.AFTER)
    assert rep == {"_id": "other", "seq": 20}, rep
    gone = coll.find_one_and_delete({"_id": "other"})
    assert gone == {"_id": "other", "seq": 20}, gone
    assert coll.find_one({"_id": "counter"})["seq"] == 2
    assert coll.count_documents({}) == 1


# ---------------------------------------------------------------- reads


def test_find_sort_skip_limit_projection():
    coll = fresh("find")
    coll.insert_many([{"_id": i, "n": i * 10, "g": i % 2, "sub": {"a": i, "b": -i}} for i in range(20)])
    got = list(coll.find({"g": 0}, {"_id": 0, "n": 1}).sort("n", -1).skip(2).limit(3))
    assert got == [{"n": 140}, {"n": 120}, {"n": 100}], got
    got = list(coll.find({}, {"sub.a": 1}).sort([("g", 1), ("n", -1)]).limit(2))
    assert got == [{"_id": 18, "sub": {"a": 18}}, {"_id": 16, "sub": {"a": 16}}], got
    got = list(coll.find({"n": {"$gte": 50, "$lt": 80}}, {"sub": 0, "g": 0}).sort("_id", 1))
    assert got == [{"_id": 5, "n": 50}, {"_id": 6, "n": 60}, {"_id": 7, "n": 70}], got
    got = coll.find_one({"_id": {"$in": [3, 4]}}, sort=[("_id", -1)])
    assert got["_id"] == 4, got
    assert list(coll.find({"nope": 1})) == []
    assert len(list(coll.find().limit(-5))) == 5  # negative limit: a single batch
    assert [d["_id"] for d in coll.find({"$or": [{"_id": 1}, {"n": 190}]}).sort("_id", 1)] == [1, 19]


def test_cursor_iteration_get_more():
    names = []

    class Recorder(monitoring.CommandListener):
        def started(self, event):
            names.append(event.command_name)

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    c = client(event_listeners=[Recorder()])
    coll = c[DB].cursor
    coll.drop()
    coll.insert_many([{"_id": i, "v": "x" * 20} for i in range(1000)])
    names.clear()
    seen = [d["_id"] for d in coll.find({}).sort("_id", 1).batch_size(100)]
    assert seen == list(range(1000)), (len(seen), seen[:5])
    assert names.count("find") == 1, names
    get_mores = names.count("getMore")
    assert 9 <= get_mores <= 10, f"expected 9-10 getMore commands, saw {get_mores}"
    # An aggregate cursor pages too, and a cursor closed early is killed.
    names.clear()
    agg = list(coll.aggregate([{"$match": {"_id": {"$gte": 500}}}, {"$sort": {"_id": 1}}], batchSize=100))
    assert [d["_id"] for d in agg] == list(range(500, 1000))
    assert names.count("getMore") >= 4, names
    names.clear()
    cur = coll.find({}).batch_size(100)
    for _ in range(150):
        next(cur)
    cur.close()
    assert "killCursors" in names, names


def test_aggregate_match_group_sort():
    coll = fresh("agg")
    coll.insert_many(
        [
            {"item": "apple", "qty": 5, "price": 1.5, "store": "A"},
            {"item": "apple", "qty": 3, "price": 1.5, "store": "B"},
            {"item": "pear", "qty": 10, "price": 2.0, "store": "A"},
            {"item": "plum", "qty": 1, "price": 4.0, "store": "A"},
            {"item": "pear", "qty": 2, "price": 2.0, "store": "C"},
        ]
    )
    got = list(
        coll.aggregate(
            [
                {"$match": {"qty": {"$gte": 2}}},
                {"$group": {"_id": "$item", "total": {"$sum": "$qty"}, "revenue": {"$sum": {"$multiply": ["$qty", "$price"]}}, "n": {"$sum": 1}}},
                {"$sort": {"total": -1}},
            ]
        )
    )
    assert got == [
        {"_id": "pear", "total": 12, "revenue": 24.0, "n": 2},
        {"_id": "apple", "total": 8, "revenue": 12.0, "n": 2},
    ], got
    got = list(coll.aggregate([{"$group": {"_id": None, "stores": {"$addToSet": "$store"}, "avg": {"$avg": "$qty"}}}, {"$project": {"_id": 0, "n": {"$size": "$stores"}, "avg": 1}}]))
    assert got == [{"avg": 4.2, "n": 3}], got
    got = list(coll.aggregate([{"$sort": {"qty": 1}}, {"$limit": 2}, {"$project": {"_id": 0, "item": 1}}]))
    assert got == [{"item": "plum"}, {"item": "pear"}], got
    got = list(coll.aggregate([{"$count": "total"}]))
    assert got == [{"total": 5}], got


def test_distinct():
    coll = fresh("distinct")
    coll.insert_many([{"k": "a", "t": [1, 2]}, {"k": "b", "t": [2, 3]}, {"k": "a"}, {"k": 1}, {"t": 4}])
    assert sorted(coll.distinct("k"), key=str) == [1, "a", "b"], coll.distinct("k")
    assert sorted(coll.distinct("t")) == [1, 2, 3, 4]
    assert sorted(coll.distinct("k", {"t": 2})) == ["a", "b"]
    assert coll.distinct("missing") == []


# ---------------------------------------------------------------- indexes and namespaces


def test_create_list_drop_index():
    coll = fresh("idx")
    coll.insert_many([{"a": i, "b": -i, "c": "x%d" % i} for i in range(50)])
    assert coll.create_index([("a", pymongo.ASCENDING), ("b", pymongo.DESCENDING)]) == "a_1_b_-1"
    assert coll.create_index("c", name="c_unique", unique=True) == "c_unique"
    indexes = {ix["name"]: ix for ix in coll.list_indexes()}
    assert set(indexes) == {"_id_", "a_1_b_-1", "c_unique"}, indexes
    assert dict(indexes["_id_"]["key"]) == {"_id": 1}
    assert list(indexes["a_1_b_-1"]["key"].items()) == [("a", 1), ("b", -1)], indexes["a_1_b_-1"]
    assert indexes["c_unique"].get("unique") is True, indexes["c_unique"]
    info = coll.index_information()
    assert info["a_1_b_-1"]["key"] == [("a", 1), ("b", -1)], info
    # Creating the same index again is a no-op.
    assert coll.create_index([("a", 1), ("b", -1)]) == "a_1_b_-1"
    assert coll.find_one({"a": 7, "b": -7})["c"] == "x7"
    coll.drop_index("a_1_b_-1")
    coll.drop_index("c_unique")
    assert [ix["name"] for ix in coll.list_indexes()] == ["_id_"]
    expect_failure(27, lambda: coll.drop_index("no_such_index"))
    names = coll.create_indexes([pymongo.IndexModel([("a", 1)]), pymongo.IndexModel([("c", -1)], name="c_desc")])
    assert names == ["a_1", "c_desc"], names
    coll.drop_indexes()
    assert [ix["name"] for ix in coll.list_indexes()] == ["_id_"]


def test_list_and_drop_collections_and_databases():
    c = client()
    name = DB + "_ns"
    d = c[name]
    d.one.insert_one({"x": 1})
    d.two.insert_one({"x": 2})
    d.create_collection("three")
    assert name in c.list_database_names(), c.list_database_names()
    assert sorted(d.list_collection_names()) == ["one", "three", "two"], d.list_collection_names()
    assert [x["name"] for x in d.list_collections(filter={"name": "two"})] == ["two"]
    d.drop_collection("two")
    assert sorted(d.list_collection_names()) == ["one", "three"], d.list_collection_names()
    assert d.two.count_documents({}) == 0
    d.one.drop()
    assert d.list_collection_names() == ["three"], d.list_collection_names()
    c.drop_database(name)
    assert name not in c.list_database_names()
    assert d.list_collection_names() == []
    # Dropping what is not there is not an error.
    d.drop_collection("never")
    c.drop_database(name + "_never")


def test_database_lifecycle_for_this_run():
    c = client()
    db().marker.insert_one({"run": DB})
    assert DB in c.list_database_names()
    assert "marker" in db().list_collection_names()


# ---------------------------------------------------------------- runner


def teardown_module():
    cleanup()


def cleanup():
    # Not harness.drop_and_close: this one also checks the run's database is gone, the end of
    # test_database_lifecycle_for_this_run.
    try:
        c = pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000)
        c.drop_database(DB)
        c.drop_database(DB + "_ns")
        assert DB not in c.list_database_names()
        c.close()
    except PyMongoError as e:
        print(f"cleanup failed: {e}", file=sys.stderr)
    for c in _clients:
        c.close()
    _clients.clear()


if __name__ == "__main__":
    sys.exit(harness.main(sys.argv[1:], globals(), title="pymongo flows",
                          ping=lambda: client().admin.command("ping"), cleanup=cleanup))
