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


def test_lookup_pipeline_forms():
    """Manual ($lookup, join conditions and subqueries): let + pipeline with $expr, the
    concise localField/foreignField + pipeline form (5.0), an uncorrelated pipeline, a
    $documents pipeline (6.0), and a view as the foreign collection."""
    orders = fresh("orders2", [
        {"_id": 1, "item": "almonds", "price": 12, "ordered": 2},
        {"_id": 2, "item": "pecans", "price": 20, "ordered": 1},
        {"_id": 3, "item": "cookies", "price": 10, "ordered": 60},
    ])
    warehouses = fresh("warehouses", [
        {"_id": 1, "stock_item": "almonds", "warehouse": "A", "instock": 120},
        {"_id": 2, "stock_item": "pecans", "warehouse": "A", "instock": 80},
        {"_id": 3, "stock_item": "almonds", "warehouse": "B", "instock": 60},
        {"_id": 4, "stock_item": "cookies", "warehouse": "B", "instock": 40},
        {"_id": 5, "stock_item": "cookies", "warehouse": "A", "instock": 80},
    ])
    correlated = [{"$lookup": {
        "from": "warehouses", "let": {"order_item": "$item", "order_qty": "$ordered"},
        "pipeline": [
            {"$match": {"$expr": {"$and": [{"$eq": ["$stock_item", "$$order_item"]},
                                           {"$gte": ["$instock", "$$order_qty"]}]}}},
            {"$project": {"stock_item": 0, "_id": 0}},
        ],
        "as": "stockdata"}}]
    expected = {
        1: [{"warehouse": "A", "instock": 120}, {"warehouse": "B", "instock": 60}],
        2: [{"warehouse": "A", "instock": 80}],
        3: [{"warehouse": "A", "instock": 80}],
    }
    assert {d["_id"]: d["stockdata"] for d in orders.aggregate(correlated)} == expected
    # The same with an index on the equated field (it serves each probe).
    warehouses.create_index("stock_item")
    assert {d["_id"]: d["stockdata"] for d in orders.aggregate(correlated)} == expected
    concise = [{"$lookup": {
        "from": "warehouses", "localField": "item", "foreignField": "stock_item", "let": {"q": "$ordered"},
        "pipeline": [{"$match": {"$expr": {"$gte": ["$instock", "$$q"]}}}, {"$project": {"_id": 0, "warehouse": 1}}],
        "as": "w"}}]
    got = {d["_id"]: d["w"] for d in orders.aggregate(concise)}
    assert got == {1: [{"warehouse": "A"}, {"warehouse": "B"}], 2: [{"warehouse": "A"}], 3: [{"warehouse": "A"}]}, got
    uncorrelated = [{"$match": {"_id": 1}}, {"$lookup": {
        "from": "warehouses", "pipeline": [{"$group": {"_id": "$warehouse", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}],
        "as": "w"}}]
    assert list(orders.aggregate(uncorrelated))[0]["w"] == [{"_id": "A", "n": 3}, {"_id": "B", "n": 2}]
    documents = [{"$match": {"_id": 1}}, {"$lookup": {"pipeline": [{"$documents": [{"x": 1}, {"x": 2}]}], "as": "w"}}]
    assert list(orders.aggregate(documents))[0]["w"] == [{"x": 1}, {"x": 2}]
    db().drop_collection("warehouse_a")
    db().command("create", "warehouse_a", viewOn="warehouses", pipeline=[{"$match": {"warehouse": "A"}}])
    from_view = [{"$lookup": {"from": "warehouse_a", "localField": "item", "foreignField": "stock_item", "as": "w"}},
                 {"$project": {"n": {"$size": "$w"}}}]
    assert [d["n"] for d in orders.aggregate(from_view)] == [1, 1, 1]
    expect_code(51047, lambda: list(orders.aggregate([{"$lookup": {
        "from": "warehouses", "pipeline": [{"$out": "x"}], "as": "w"}}])))
    expect_code(9, lambda: list(orders.aggregate([{"$lookup": {
        "from": "warehouses", "localField": "item", "pipeline": [], "as": "w"}}])))


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


def test_out_replaces_the_target_and_keeps_its_indexes():
    """Manual ($out): the target's documents are replaced by the results, its indexes stay;
    a duplicate key leaves the target as it was (11000); $out must be last (40601); $out to
    the collection the pipeline reads works."""
    books = fresh("books", [
        {"_id": 8751, "title": "The Banquet", "author": "Dante", "copies": 2},
        {"_id": 8752, "title": "Divine Comedy", "author": "Dante", "copies": 1},
        {"_id": 8645, "title": "Eclogues", "author": "Dante", "copies": 2},
        {"_id": 7000, "title": "The Odyssey", "author": "Homer", "copies": 10},
        {"_id": 7020, "title": "Iliad", "author": "Homer", "copies": 10},
    ])
    authors = fresh("authors", [{"_id": "old", "books": []}])
    authors.create_index("books")
    assert list(books.aggregate([
        {"$group": {"_id": "$author", "books": {"$push": "$title"}}},
        {"$out": "authors"},
    ])) == []
    got = {d["_id"]: d["books"] for d in authors.find()}
    assert got == {"Dante": ["The Banquet", "Divine Comedy", "Eclogues"], "Homer": ["The Odyssey", "Iliad"]}, got
    assert "books_1" in [i["name"] for i in authors.list_indexes()]
    # Results with the same _id: nothing of the failed run is visible.
    expect_code(11000, lambda: list(books.aggregate([{"$project": {"_id": "$author"}}, {"$out": "authors"}])))
    assert authors.count_documents({}) == 2
    expect_code(40601, lambda: list(books.aggregate([{"$out": "authors"}, {"$match": {}}])))
    # Into another database, and over the collection being read.
    list(books.aggregate([{"$match": {"author": "Homer"}}, {"$out": {"db": DB + "_other", "coll": "homer"}}]))
    assert db().client[DB + "_other"].homer.count_documents({}) == 2
    db().client.drop_database(DB + "_other")
    list(books.aggregate([{"$match": {"copies": {"$gt": 1}}}, {"$out": "books"}]))
    assert sorted(d["_id"] for d in books.find()) == [7000, 7020, 8645, 8751]


def test_out_is_atomic_for_readers():
    """Issue #13: a reader running during $out sees the old or the new collection, never a
    partial one."""
    import threading
    src = fresh("out_src", [{"_id": i, "g": i % 2} for i in range(30000)])
    target = fresh("out_target", [{"_id": i} for i in range(20000)])
    seen = set()
    done = threading.Event()

    def reader():
        client = pymongo.MongoClient(URI)
        coll = client[DB].out_target
        while not done.is_set():
            seen.add(coll.count_documents({}))
        client.close()

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(3):
            stages = [{"$match": {"g": i % 2}}] if i % 2 == 0 else []
            list(src.aggregate(stages + [{"$out": "out_target"}]))
    finally:
        done.set()
        t.join()
    assert seen <= {20000, 15000, 30000}, seen
    assert target.count_documents({}) == 15000


def test_merge_modes():
    """Manual ($merge): whenMatched merge/replace/keepExisting/fail/pipeline and
    whenNotMatched insert/discard/fail; on fields need a unique index (51183); result
    documents need their on values (51132); unsupported combinations (51181)."""
    fresh("salaries", [
        {"_id": 1, "employee": "Ant", "dept": "A", "salary": 100000, "fiscal_year": 2017},
        {"_id": 2, "employee": "Bee", "dept": "A", "salary": 120000, "fiscal_year": 2017},
        {"_id": 3, "employee": "Cat", "dept": "Z", "salary": 115000, "fiscal_year": 2017},
        {"_id": 4, "employee": "Ant", "dept": "A", "salary": 115000, "fiscal_year": 2018},
        {"_id": 5, "employee": "Bee", "dept": "A", "salary": 145000, "fiscal_year": 2018},
    ])
    budgets = fresh("budgets", [])
    salaries = db().salaries
    group = {"$group": {"_id": {"fiscal_year": "$fiscal_year", "dept": "$dept"}, "salaries": {"$sum": "$salary"}}}
    list(salaries.aggregate([group, {"$merge": {"into": "budgets", "whenMatched": "replace"}}]))
    got = {(d["_id"]["fiscal_year"], d["_id"]["dept"]): d["salaries"] for d in budgets.find()}
    assert got == {(2017, "A"): 220000, (2017, "Z"): 115000, (2018, "A"): 260000}, got
    # merge: fields set on the existing document; discard: no new documents.
    salaries.insert_one({"_id": 6, "employee": "Dog", "dept": "Z", "salary": 5, "fiscal_year": 2018})
    salaries.update_one({"_id": 3}, {"$set": {"salary": 1}})
    list(salaries.aggregate([group, {"$addFields": {"note": "re-run"}},
                             {"$merge": {"into": "budgets", "whenMatched": "merge", "whenNotMatched": "discard"}}]))
    assert budgets.count_documents({}) == 3
    assert budgets.find_one({"_id": {"fiscal_year": 2017, "dept": "Z"}}) == \
        {"_id": {"fiscal_year": 2017, "dept": "Z"}, "salaries": 1, "note": "re-run"}
    # keepExisting inserts only the new group.
    list(salaries.aggregate([group, {"$merge": {"into": "budgets", "whenMatched": "keepExisting"}}]))
    assert budgets.count_documents({}) == 4
    assert budgets.find_one({"_id": {"fiscal_year": 2017, "dept": "Z"}})["note"] == "re-run"
    # A pipeline: $$new is the result document; let variables are evaluated over it.
    list(salaries.aggregate([group, {"$merge": {
        "into": "budgets", "let": {"s": "$salaries"},
        "whenMatched": [{"$set": {"salaries": {"$add": ["$salaries", "$$s"]}, "runs": {"$add": [{"$ifNull": ["$runs", 1]}, 1]}}}],
    }}]))
    assert budgets.find_one({"_id": {"fiscal_year": 2018, "dept": "Z"}}) == \
        {"_id": {"fiscal_year": 2018, "dept": "Z"}, "salaries": 10, "runs": 2}
    expect_code(11000, lambda: list(salaries.aggregate([group, {"$merge": {"into": "budgets", "whenMatched": "fail"}}])))
    fresh("budgets2", [])
    expect_code(13113, lambda: list(salaries.aggregate(
        [group, {"$merge": {"into": "budgets2", "whenMatched": "replace", "whenNotMatched": "fail"}}])))
    assert db().budgets2.count_documents({}) == 0
    expect_code(51181, lambda: list(salaries.aggregate(
        [{"$merge": {"into": "budgets", "whenMatched": "keepExisting", "whenNotMatched": "fail"}}])))
    # on: fields of a unique index; a result without them is an error.
    by_name = fresh("by_name", [{"employee": "Ant", "total": 0}])
    expect_code(51183, lambda: list(salaries.aggregate([{"$merge": {"into": "by_name", "on": "employee"}}])))
    by_name.create_index("employee", unique=True)
    list(salaries.aggregate([
        {"$group": {"_id": "$employee", "total": {"$sum": "$salary"}}},
        {"$project": {"_id": 0, "employee": "$_id", "total": 1}},
        {"$merge": {"into": "by_name", "on": "employee", "whenMatched": "replace"}},
    ]))
    got = {d["employee"]: d["total"] for d in by_name.find()}
    assert got == {"Ant": 215000, "Bee": 265000, "Cat": 1, "Dog": 5}, got
    expect_code(51132, lambda: list(salaries.aggregate([
        {"$project": {"_id": 0, "dept": 1}}, {"$merge": {"into": "by_name", "on": "employee"}}])))
    # A result with another _id than the matched document's.
    expect_code(66, lambda: list(salaries.aggregate([
        {"$match": {"_id": 1}}, {"$project": {"employee": 1}}, {"$merge": {"into": "by_name", "on": "employee"}}])))


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
