"""Aggregation stages through the gateway with pymongo (issue #13): what ODMs and
dashboards send, checked against MongoDB's documented results.

Run: python3 tests/e2e/test_aggregation.py --uri "$(cat data/mongodb.uri)"
"""
import argparse
import os
import sys

import pymongo
from pymongo.errors import OperationFailure, PyMongoError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402 - tests/harness.py, the runner shared by the suites

URI = os.environ.get("GATEWAY_URI", "")
DB = "e2e_aggregation"
_clients = []


def db():
    if not _clients:
        _clients.append(pymongo.MongoClient(URI, serverSelectionTimeoutMS=10000))
    return _clients[0][DB]


def fresh(name, docs):
    c = db()[name]
    c.drop()
    if docs:
        c.insert_many(docs)
    return c


def expect_code(code, fn):
    try:
        fn()
    except OperationFailure as e:
        assert e.code == code, (e.code, e.details)
        return
    raise AssertionError(f"expected error {code}")


def test_lookup_equality_join():
    """Manual ($lookup, equality match): each order gets the array of inventory documents
    whose sku equals its item; a missing local field matches null and missing foreign ones."""
    orders = fresh("orders", [
        {"_id": 1, "item": "almonds", "price": 12, "quantity": 2},
        {"_id": 2, "item": "pecans", "price": 20, "quantity": 1},
        {"_id": 3},
    ])
    fresh("inventory", [
        {"_id": 1, "sku": "almonds", "description": "product 1", "instock": 120},
        {"_id": 2, "sku": "bread", "description": "product 2", "instock": 80},
        {"_id": 3, "sku": "cashews", "description": "product 3", "instock": 60},
        {"_id": 4, "sku": "pecans", "description": "product 4", "instock": 70},
        {"_id": 5, "sku": None, "description": "Incomplete"},
        {"_id": 6},
    ])
    out = list(orders.aggregate([
        {"$lookup": {"from": "inventory", "localField": "item", "foreignField": "sku", "as": "inventory_docs"}},
        {"$sort": {"_id": 1}},
    ]))
    assert [[d["_id"] for d in o["inventory_docs"]] for o in out] == [[1], [4], [5, 6]], out


def test_lookup_with_arrays_and_an_index():
    """Manual ($lookup): an array localField matches each element; a foreign array matches by
    element; the result is the same with an index on foreignField (which serves the join)."""
    classes = fresh("classes", [
        {"_id": 1, "title": "Reading is ...", "enrollmentlist": ["giraffe2", "pandabear", "artie"]},
        {"_id": 2, "title": "But Writing ...", "enrollmentlist": ["giraffe1", "artie"]},
    ])
    members = fresh("members", [
        {"_id": 1, "name": "artie", "tags": ["a"]},
        {"_id": 2, "name": "giraffe", "tags": ["giraffe1", "x"]},
        {"_id": 3, "name": "giraffe1"},
        {"_id": 4, "name": "pandabear"},
        {"_id": 5, "name": "giraffe2"},
    ])
    pipeline = [
        {"$lookup": {"from": "members", "localField": "enrollmentlist", "foreignField": "name", "as": "info"}},
        {"$project": {"names": "$info.name"}},
        {"$sort": {"_id": 1}},
    ]
    before = [sorted(d["names"]) for d in classes.aggregate(pipeline)]
    assert before == [["artie", "giraffe2", "pandabear"], ["artie", "giraffe1"]], before
    members.create_index("name")
    assert [sorted(d["names"]) for d in classes.aggregate(pipeline)] == before
    by_tag = list(classes.aggregate([
        {"$match": {"_id": 2}},
        {"$lookup": {"from": "members", "localField": "enrollmentlist", "foreignField": "tags", "as": "t"}},
    ]))
    assert [m["_id"] for m in by_tag[0]["t"]] == [2], by_tag


def test_lookup_errors():
    orders = fresh("orders_err", [{"_id": 1}])
    expect_code(9, lambda: list(orders.aggregate([{"$lookup": {"from": "x", "localField": "a", "foreignField": "b"}}])))
    expect_code(9, lambda: list(orders.aggregate([{"$lookup": "x"}])))


def test_bucket():
    """Manual ($bucket): documents grouped by the boundary range their groupBy value falls in,
    the rest in the default bucket; buckets in boundary order; count by default."""
    artists = fresh("artists", [
        {"_id": 1, "last_name": "Bernard", "year_born": 1845},
        {"_id": 2, "last_name": "Rippl-Ronai", "year_born": 1861},
        {"_id": 3, "last_name": "Ostroumova", "year_born": 1871},
        {"_id": 4, "last_name": "Van Gogh", "year_born": 1853},
        {"_id": 5, "last_name": "Maurer", "year_born": 1868},
        {"_id": 6, "last_name": "Munch", "year_born": 1863},
        {"_id": 7, "last_name": "Redon", "year_born": 1840},
        {"_id": 8, "last_name": "Khokhlova", "year_born": 1956},
    ])
    out = list(artists.aggregate([{"$bucket": {
        "groupBy": "$year_born", "boundaries": [1840, 1850, 1860, 1870, 1880], "default": "Other",
        "output": {"count": {"$sum": 1}, "artists": {"$push": "$last_name"}},
    }}]))
    assert [(b["_id"], b["count"]) for b in out] == [(1840, 2), (1850, 1), (1860, 3), (1870, 1), ("Other", 1)], out
    expect_code(40066, lambda: list(artists.aggregate([{"$bucket": {"groupBy": "$year_born", "boundaries": [1840, 1900]}}])))


def test_sample():
    """Manual ($sample): size documents chosen at random, each at most once."""
    c = fresh("sample", [{"_id": i} for i in range(50)])
    seen = set()
    for _ in range(5):
        ids = [d["_id"] for d in c.aggregate([{"$sample": {"size": 10}}])]
        assert len(ids) == 10 and len(set(ids)) == 10, ids
        seen.update(ids)
    assert len(seen) > 10, "different samples"
    assert len(list(c.aggregate([{"$sample": {"size": 500}}]))) == 50
    expect_code(28747, lambda: list(c.aggregate([{"$sample": {"size": -1}}])))


def test_union_with():
    """Manual ($unionWith): the documents of this pipeline, then those of the other
    collection through its pipeline."""
    s2019 = fresh("sales_2019", [{"store": "A", "item": "Chocolates", "quantity": 150},
                                 {"store": "B", "item": "Chocolates", "quantity": 50}])
    fresh("sales_2020", [{"store": "A", "item": "Cookies", "quantity": 100},
                         {"store": "C", "item": "Chocolates", "quantity": 20}])
    out = list(s2019.aggregate([
        {"$set": {"_id": "2019"}},
        {"$unionWith": {"coll": "sales_2020", "pipeline": [{"$set": {"_id": "2020"}}]}},
        {"$group": {"_id": "$item", "total": {"$sum": "$quantity"}}},
        {"$sort": {"total": -1}},
    ]))
    assert out == [{"_id": "Chocolates", "total": 220}, {"_id": "Cookies", "total": 100}], out


def test_facet():
    """Manual ($facet): several sub-pipelines over the same input, one output document."""
    c = fresh("artwork", [
        {"_id": i, "price": p, "tags": t} for i, (p, t) in enumerate(
            [(199, ["painting", "satire"]), (280, ["woodcut"]), (76, ["oil", "painting"]), (167, ["woodblock"])])
    ])
    [out] = list(c.aggregate([{"$facet": {
        "categorizedByTags": [{"$unwind": "$tags"}, {"$sortByCount": "$tags"}, {"$limit": 1}],
        "priceBuckets": [{"$bucket": {"groupBy": "$price", "boundaries": [0, 150, 200, 300]}}],
        "count": [{"$count": "n"}],
    }}]))
    assert out["categorizedByTags"] == [{"_id": "painting", "count": 2}], out
    assert out["priceBuckets"] == [{"_id": 0, "count": 1}, {"_id": 150, "count": 2}, {"_id": 200, "count": 1}], out
    assert out["count"] == [{"n": 4}], out
    expect_code(40600, lambda: list(c.aggregate([{"$facet": {"a": [{"$facet": {"b": []}}]}}])))


def test_coll_stats():
    """Manual ($collStats): a first stage reporting the collection's count and storage
    statistics (latencyStats in MongoDB's shape)."""
    c = fresh("stats", [{"_id": i} for i in range(7)])
    c.create_index("x")
    [out] = list(c.aggregate([{"$collStats": {"count": {}, "storageStats": {}, "latencyStats": {}}}]))
    assert out["ns"] == f"{DB}.stats" and out["count"] == 7, out
    assert out["storageStats"]["count"] == 7 and out["storageStats"]["nindexes"] == 2, out
    assert set(out["latencyStats"]) == {"reads", "writes", "commands", "transactions"}, out
    expect_code(40602, lambda: list(c.aggregate([{"$match": {}}, {"$collStats": {}}])))


def cleanup():
    try:
        c = pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000)
        c.drop_database(DB)
        c.close()
    except PyMongoError as e:
        print(f"cleanup failed: {e}", file=sys.stderr)
    for c in _clients:
        c.close()
    _clients.clear()


def main(argv):
    global URI
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", default=URI, help="the gateway's MongoDB URI (default: $GATEWAY_URI)")
    URI = ap.parse_args(argv).uri
    if not URI:
        ap.error("--uri (or GATEWAY_URI) is required")
    if not harness.reachable(lambda: db().client.admin.command("ping")):
        return 1
    return harness.run(harness.tests_in(globals()), cleanup=cleanup, title="aggregation")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
