"""Aggregation stages through the gateway with pymongo (issue #13): what ODMs and
dashboards send, checked against MongoDB's documented results.

Run: python3 tests/e2e/test_aggregation.py --uri "$(cat data/mongodb.uri)"
"""
import datetime
import time
import os
import sys

import pymongo
from pymongo.errors import OperationFailure

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
    # The pipeline's accumulators read its variables, per local document.
    totals = list(orders.aggregate([{"$lookup": {"from": "warehouses", "let": {"q": "$ordered"}, "pipeline": [
        {"$group": {"_id": None, "t": {"$sum": {"$multiply": ["$instock", "$$q"]}}}},
        {"$project": {"_id": 0}}], "as": "w"}}]))
    assert [d["w"] for d in totals] == [[{"t": 760}], [{"t": 380}], [{"t": 22800}]]
    running = list(orders.aggregate([{"$match": {"_id": 2}}, {"$lookup": {"from": "warehouses", "let": {"q": "$ordered"}, "pipeline": [
        {"$setWindowFields": {"sortBy": {"_id": 1}, "output": {"r": {"$sum": "$$q", "window": {"documents": ["unbounded", "current"]}}}}},
        {"$project": {"_id": 0, "r": 1}}], "as": "w"}}]))
    assert [x["r"] for x in running[0]["w"]] == [1, 2, 3, 4, 5]
    expect_code(51047, lambda: list(orders.aggregate([{"$lookup": {
        "from": "warehouses", "pipeline": [{"$out": "x"}], "as": "w"}}])))
    expect_code(9, lambda: list(orders.aggregate([{"$lookup": {
        "from": "warehouses", "localField": "item", "pipeline": [], "as": "w"}}])))


def test_lookup_then_unwind_is_one_join():
    """MongoDB coalesces $lookup + $unwind of its `as` field; ours joins: the results equal
    the two stages run apart (an $addFields between them keeps them apart), for scalar,
    array, missing and nested-array local values, with and without
    preserveNullAndEmptyArrays, on _id and on an indexed field."""
    fresh("lu_items", [{"_id": i, "sku": f"s{i % 4}", "n": i} for i in range(8)])
    db().lu_items.create_index("sku")
    orders = fresh("lu_orders", [
        {"_id": 1, "item": 3, "sku": "s1"}, {"_id": 2, "item": [1, 2, 2.0], "sku": ["s0", "s2"]},
        {"_id": 3}, {"_id": 4, "item": 42, "sku": "none"}, {"_id": 5, "item": [[1]], "sku": [["s1"]]},
        {"_id": 6, "item": None, "sku": None}, {"_id": 7, "item": [3], "sku": ["s3"]},
    ])
    # Inputs: the collection (joined as read), filtered (still the table), and after a stage
    # that is not the table's (numbered and materialized).
    for before in [[], [{"$match": {"_id": {"$ne": 4}}}], [{"$skip": 1}]]:
        for local, foreign in [("item", "_id"), ("sku", "sku")]:
            for preserve in [False, True]:
                lookup = {"$lookup": {"from": "lu_items", "localField": local, "foreignField": foreign, "as": "m"}}
                unwind = {"$unwind": {"path": "$m", "preserveNullAndEmptyArrays": preserve}}
                key = lambda d: (d["_id"], d.get("m", {}).get("_id", -1))  # noqa: E731
                joined = list(orders.aggregate(before + [lookup, unwind]))
                apart = list(orders.aggregate(before + [lookup, {"$addFields": {"x": 1}}, unwind, {"$unset": "x"}]))
                assert sorted(joined, key=key) == sorted(apart, key=key), (before, local, preserve, joined, apart)
                # The input's order is kept: each document's matches come together, in turn.
                assert [d["_id"] for d in joined] == [d["_id"] for d in apart], (before, local, preserve)
                assert len(joined) > 0
    # Input order is kept: each order's matches follow the sorted orders.
    out = list(orders.aggregate([{"$sort": {"_id": -1}}, {"$lookup": {
        "from": "lu_items", "localField": "item", "foreignField": "_id", "as": "m"}}, {"$unwind": "$m"}]))
    assert [d["_id"] for d in out] == sorted((d["_id"] for d in out), reverse=True)


def test_lookup_on_id_is_a_join():
    """`$lookup` on foreignField `_id` over the collection (ODMs resolving references) joins
    the documents with one local value and keeps the correlated path for the others: the
    results and their order equal the correlated path's (an $addFields before the $lookup
    keeps it), for scalar, array, missing, null and unmatched local values, a foreign
    document whose `_id` is null, and a dotted `as`."""
    fresh("li_customers", [{"_id": i, "name": f"c{i}"} for i in range(6)] + [{"_id": None, "name": "nobody"}])
    orders = fresh("li_orders", [
        {"_id": 1, "cust": 3}, {"_id": 2, "cust": [1, 2, 2.0]}, {"_id": 3}, {"_id": 4, "cust": 42},
        {"_id": 5, "cust": [[1]]}, {"_id": 6, "cust": None}, {"_id": 7, "cust": [3]}, {"_id": 8, "cust": 4.0},
        {"_id": 9, "cust": "3"},
    ])
    for before in [[], [{"$match": {"_id": {"$gte": 2}}}]]:
        for as_field in ["c", "link.c"]:
            lookup = {"$lookup": {"from": "li_customers", "localField": "cust", "foreignField": "_id", "as": as_field}}
            joined = list(orders.aggregate(before + [lookup]))
            correlated = list(orders.aggregate(before + [{"$addFields": {"x_": 1}}, lookup, {"$unset": "x_"}]))
            assert joined == correlated, (before, as_field, joined, correlated)
            assert len(joined) == (9 if not before else 8)
    out = {d["_id"]: [c["name"] for c in d["c"]] for d in orders.aggregate([{"$lookup": {
        "from": "li_customers", "localField": "cust", "foreignField": "_id", "as": "c"}}])}
    assert out == {1: ["c3"], 2: ["c1", "c2"], 3: ["nobody"], 4: [], 5: [], 6: ["nobody"], 7: ["c3"], 8: ["c4"], 9: []}, out


def test_group_folded_into_lookup_join():
    """A $group right after $lookup + $unwind reads the local and the foreign document
    apart when each of its expressions reads one side; its results equal the stages run
    apart (an $addFields between the $unwind and the $group keeps it apart), for scalar,
    array, missing and unmatched local values, and an `as` naming a local field."""
    fresh("fg_items", [{"_id": i, "sku": f"s{i % 4}", "n": i, "tier": ["gold", "silver"][i % 2]} for i in range(8)])
    db().fg_items.create_index("sku")
    orders = fresh("fg_orders", [
        {"_id": 1, "item": 3, "sku": "s1", "qty": 2, "m": "local"}, {"_id": 2, "item": [1, 2, 2.0], "sku": ["s0", "s2"], "qty": 5},
        {"_id": 3, "qty": 7}, {"_id": 4, "item": 42, "sku": "none", "qty": 1}, {"_id": 5, "item": [[1]], "sku": [["s1"]]},
        {"_id": 6, "item": None, "sku": None, "qty": 3}, {"_id": 7, "item": [3], "sku": ["s3"], "qty": 4},
        {"_id": 8, "item": 5, "sku": "s1", "qty": 10, "status": "A"},
    ])
    groups = [
        {"_id": "$m.tier", "total": {"$sum": "$qty"}, "n": {"$count": {}}},
        {"_id": "$status", "top": {"$max": "$m.n"}, "avg": {"$avg": "$m.n"}, "tiers": {"$addToSet": "$m.tier"}},
        {"_id": {"t": "$m.tier", "s": "$m.sku"}, "qty": {"$sum": {"$multiply": ["$qty", 2]}}},
        {"_id": None, "all": {"$sum": 1}, "items": {"$addToSet": "$m._id"}},
        # Reads both sides in one expression: not folded, same results.
        {"_id": "$m.tier", "x": {"$sum": {"$multiply": ["$qty", "$m.n"]}}},
    ]
    for before in [[], [{"$match": {"_id": {"$ne": 4}}}], [{"$skip": 1}]]:
        for local, foreign in [("item", "_id"), ("sku", "sku")]:
            for group in groups:
                stages = [{"$lookup": {"from": "fg_items", "localField": local, "foreignField": foreign, "as": "m"}},
                          {"$unwind": "$m"}]
                folded = list(orders.aggregate(before + stages + [{"$group": group}]))
                apart = list(orders.aggregate(before + stages + [{"$addFields": {"x_": 1}}, {"$group": group}]))
                key = lambda d: repr(d["_id"])  # noqa: E731
                norm = lambda docs: sorted(({k: (sorted(v, key=repr) if isinstance(v, list) else v)  # noqa: E731
                                             for k, v in d.items()} for d in docs), key=key)
                assert norm(folded) == norm(apart), (before, local, group, folded, apart)
                assert folded, (before, local, group)


def test_graph_lookup():
    """Manual ($graphLookup): the employees' reporting hierarchy with depthField; the
    airports within two connections, with and without restrictSearchWithMatch and an index
    on connectToField, and from views; cycles end the search; errors 40101 / 40104."""
    employees = fresh("employees", [
        {"_id": 1, "name": "Dev"}, {"_id": 2, "name": "Eliot", "reportsTo": "Dev"},
        {"_id": 3, "name": "Ron", "reportsTo": "Eliot"}, {"_id": 4, "name": "Andrew", "reportsTo": "Eliot"},
        {"_id": 5, "name": "Asya", "reportsTo": "Ron"}, {"_id": 6, "name": "Dan", "reportsTo": "Andrew"},
    ])
    out = list(employees.aggregate([{"$graphLookup": {
        "from": "employees", "startWith": "$reportsTo", "connectFromField": "reportsTo",
        "connectToField": "name", "as": "reportingHierarchy", "depthField": "depth"}}]))
    got = {d["name"]: sorted((h["name"], h["depth"]) for h in d["reportingHierarchy"]) for d in out}
    assert got["Dev"] == [] and got["Eliot"] == [("Dev", 0)]
    assert got["Asya"] == [("Dev", 2), ("Eliot", 1), ("Ron", 0)], got
    fresh("airports", [
        {"_id": 0, "airport": "JFK", "connects": ["BOS", "ORD"]}, {"_id": 1, "airport": "BOS", "connects": ["JFK", "PWM"]},
        {"_id": 2, "airport": "ORD", "connects": ["JFK"]}, {"_id": 3, "airport": "PWM", "connects": ["BOS", "LHR"]},
        {"_id": 4, "airport": "LHR", "connects": ["PWM"]},
    ])
    travelers = fresh("travelers", [{"_id": 1, "name": "Dev", "nearestAirport": "JFK"},
                                    {"_id": 3, "name": "Jeff", "nearestAirport": "BOS"}])
    stage = {"from": "airports", "startWith": "$nearestAirport", "connectFromField": "connects",
             "connectToField": "airport", "maxDepth": 2, "depthField": "numConnections", "as": "destinations"}

    def run(extra=None):
        spec = dict(stage, **(extra or {}))
        return {d["name"]: sorted((x["airport"], x["numConnections"]) for x in d["destinations"])
                for d in travelers.aggregate([{"$graphLookup": spec}])}
    expected = {"Dev": [("BOS", 1), ("JFK", 0), ("ORD", 1), ("PWM", 2)],
                "Jeff": [("BOS", 0), ("JFK", 1), ("LHR", 2), ("ORD", 2), ("PWM", 1)]}
    assert run() == expected
    db().airports.create_index("airport")
    assert run() == expected
    assert run({"restrictSearchWithMatch": {"airport": {"$ne": "PWM"}}}) == {
        "Dev": [("BOS", 1), ("JFK", 0), ("ORD", 1)], "Jeff": [("BOS", 0), ("JFK", 1), ("ORD", 2)]}
    assert len(run({"maxDepth": 100})["Jeff"]) == 5
    # From a view (the manual's Views page lists $graphLookup's `from` among the places a
    # view may be named): the search reads the view's documents, computed fields included.
    for view in ["airports_open", "airports_coded"]:
        db().drop_collection(view)
    db().command("create", "airports_open", viewOn="airports", pipeline=[{"$match": {"airport": {"$ne": "LHR"}}}])
    db().command("create", "airports_coded", viewOn="airports", pipeline=[{"$addFields": {"code": "$airport"}}])
    assert run({"from": "airports_open"}) == {
        "Dev": expected["Dev"], "Jeff": [("BOS", 0), ("JFK", 1), ("ORD", 2), ("PWM", 1)]}
    assert run({"from": "airports_coded", "connectToField": "code"}) == expected
    assert run({"from": "airports_coded", "connectToField": "code",
                "restrictSearchWithMatch": {"code": {"$ne": "PWM"}}})["Jeff"] == [("BOS", 0), ("JFK", 1), ("ORD", 2)]
    expect_code(40101, lambda: run({"maxDepth": -1}))
    expect_code(40104, lambda: run({"bogus": 1}))


def test_densify():
    """Manual ($densify): hourly readings filled within explicit bounds; coffee altitudes by
    variety with full and partition bounds; the whole range without any document."""
    hour = lambda h: datetime.datetime(2021, 5, 18, h)  # noqa: E731
    weather = fresh("weather", [{"timestamp": hour(h), "temp": t} for h, t in [(0, 12), (4, 11), (8, 11), (12, 12)]])
    out = list(weather.aggregate([{"$densify": {"field": "timestamp", "range": {
        "step": 1, "unit": "hour", "bounds": [hour(0), hour(8)]}}}]))
    assert [d["timestamp"].hour for d in out] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 12]
    assert [d.get("temp") for d in out][:5] == [12, None, None, None, 11]
    coffee = fresh("coffee", [
        {"altitude": 600, "variety": "Arabica Typica", "score": 68.3},
        {"altitude": 750, "variety": "Arabica Typica", "score": 69.5},
        {"altitude": 950, "variety": "Arabica Typica", "score": 70.5},
        {"altitude": 1250, "variety": "Gesha", "score": 88.15},
        {"altitude": 1700, "variety": "Gesha", "score": 95.5, "price": 1029},
    ])

    def run(bounds):
        stage = {"field": "altitude", "partitionByFields": ["variety"], "range": {"bounds": bounds, "step": 200}}
        return [(d["variety"][0], d["altitude"]) for d in coffee.aggregate([{"$densify": stage}])]
    assert run("full") == [("A", 600), ("A", 750), ("A", 800), ("A", 950), ("A", 1000), ("A", 1200), ("A", 1400),
                           ("A", 1600), ("G", 600), ("G", 800), ("G", 1000), ("G", 1200), ("G", 1250), ("G", 1400),
                           ("G", 1600), ("G", 1700)]
    assert run("partition") == [("A", 600), ("A", 750), ("A", 800), ("A", 950),
                                ("G", 1250), ("G", 1450), ("G", 1650), ("G", 1700)]
    fresh("nothing", [])
    out = list(db().nothing.aggregate([{"$densify": {"field": "x", "range": {"bounds": [0, 3], "step": 1}}}]))
    assert [d["x"] for d in out] == [0, 1, 2]


def test_views_over_new_stages():
    """Issue #13: a view over a pipeline using the new stages works with find, aggregate,
    count and distinct."""
    fresh("vsales", CAKE_SALES)
    db().drop_collection("vsales_running")
    db().command("create", "vsales_running", viewOn="vsales", pipeline=[
        {"$setWindowFields": {"partitionBy": "$state", "sortBy": {"orderDate": 1},
                              "output": {"running": {"$sum": "$quantity", "window": {"documents": ["unbounded", "current"]}}}}},
        {"$lookup": {"from": "vsales", "localField": "type", "foreignField": "type", "as": "same"}},
        {"$bucketAuto": {"groupBy": "$running", "buckets": 2, "output": {"n": {"$sum": 1}, "states": {"$addToSet": "$state"}}}},
    ])
    view = db().vsales_running
    found = list(view.find({}, {"_id": 1, "n": 1}))
    assert [d["n"] for d in found] == [3, 3], found
    assert view.count_documents({}) == 2
    assert sorted(view.distinct("states")) == ["CA", "WA"]
    assert list(view.aggregate([{"$match": {"n": 3}}, {"$count": "c"}])) == [{"c": 2}]


def test_explain_aggregate():
    """Issue #13: `{aggregate, explain: true}` and the explain command show the stages and
    the PostgreSQL plan (queryPlanner; executionStats with the explain command)."""
    coll = fresh("explained", [{"_id": i, "k": i % 3} for i in range(30)])
    pipeline = [{"$match": {"k": 1}}, {"$group": {"_id": "$k", "n": {"$sum": 1}}}]
    reply = db().command("aggregate", coll.name, pipeline=pipeline, explain=True)
    assert [next(iter(s)) for s in reply["stages"]] == ["$cursor", "$match", "$group"]
    assert "postgresPlan" in reply["queryPlanner"] and "executionStats" not in reply
    reply = db().command("explain", {"aggregate": coll.name, "pipeline": pipeline, "cursor": {}},
                         verbosity="executionStats")
    assert reply["executionStats"]["nReturned"] == 1
    assert reply["stages"][0]["$cursor"]["queryPlanner"]["namespace"] == f"{DB}.explained"


def test_list_sessions():
    """$listSessions on config.system.sessions: the sessions the gateway knows, in
    MongoDB's shape ({_id: {id, uid}, lastUse, user}), the current user's by default."""
    client = db().client
    with client.start_session() as session:
        db().sessions_probe.find_one({}, session=session)
        listed = list(client.config["system.sessions"].aggregate([{"$listSessions": {}}]))
        ids = [d["_id"]["id"] for d in listed]
        assert session.session_id["id"] in ids, (session.session_id, listed[:3])
        assert all("lastUse" in d for d in listed)
        # Later stages run on the listing.
        counted = list(client.config["system.sessions"].aggregate([{"$listSessions": {}}, {"$count": "n"}]))
        assert counted and counted[0]["n"] == len(listed)


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


def test_merge_applies_results_sharing_an_on_value_in_turn():
    """$merge writes its results one after another: a result sharing its `on` value with an
    earlier one meets the document that one inserted or updated, and whenMatched applies
    (replace: the last wins; merge: fields accumulate; keepExisting: the first stays;
    a pipeline runs once per result; fail: 11000)."""
    src = fresh("md_src", [{"_id": 1, "k": "a", "n": 1, "x": 1}, {"_id": 2, "k": "a", "n": 2, "y": 2},
                           {"_id": 3, "k": "b", "n": 5}, {"_id": 4, "k": "a", "n": 3}])
    by_k = [{"$sort": {"_id": 1}}, {"$project": {"_id": "$k", "n": 1, "x": 1, "y": 1}}]

    def merged(when_matched, when_not_matched="insert", existing=()):
        target = fresh("md_tgt", list(existing))
        list(src.aggregate(by_k + [{"$merge": {"into": "md_tgt", "whenMatched": when_matched,
                                                "whenNotMatched": when_not_matched}}]))
        return list(target.find().sort("_id", 1))
    assert merged("replace") == [{"_id": "a", "n": 3}, {"_id": "b", "n": 5}]
    assert merged("merge") == [{"_id": "a", "n": 3, "x": 1, "y": 2}, {"_id": "b", "n": 5}]
    assert merged("keepExisting") == [{"_id": "a", "n": 1, "x": 1}, {"_id": "b", "n": 5}]
    assert merged([{"$set": {"n": {"$add": ["$n", "$$new.n"]}}}]) == [{"_id": "a", "n": 6, "x": 1}, {"_id": "b", "n": 5}]
    assert merged("replace", "discard", [{"_id": "a", "n": 100}]) == [{"_id": "a", "n": 3}]
    expect_code(11000, lambda: merged("fail"))
    # On a unique field other than _id.
    target = fresh("md_tgt", [])
    target.create_index("k", unique=True)
    list(src.aggregate([{"$sort": {"_id": 1}}, {"$project": {"_id": 0, "k": 1, "n": 1}},
                        {"$merge": {"into": "md_tgt", "on": "k", "whenMatched": "replace"}}]))
    assert sorted((d["k"], d["n"]) for d in target.find()) == [("a", 3), ("b", 5)]
    # A duplicate key of the target's own stays MongoDB's 11000.
    target = fresh("md_tgt", [{"_id": "z", "u": 1}])
    target.create_index("u", unique=True)
    expect_code(11000, lambda: list(src.aggregate([{"$match": {"_id": 3}}, {"$project": {"_id": "$k", "u": {"$literal": 1}}},
                                                   {"$merge": {"into": "md_tgt"}}])))


CAKE_SALES = [
    {"_id": 0, "type": "chocolate", "orderDate": datetime.datetime(2020, 5, 18, 14, 10, 30), "state": "CA",
     "price": 13, "quantity": 120},
    {"_id": 1, "type": "chocolate", "orderDate": datetime.datetime(2021, 3, 20, 11, 30, 5), "state": "WA",
     "price": 14, "quantity": 140},
    {"_id": 2, "type": "vanilla", "orderDate": datetime.datetime(2021, 1, 11, 6, 31, 15), "state": "CA",
     "price": 12, "quantity": 145},
    {"_id": 3, "type": "vanilla", "orderDate": datetime.datetime(2020, 2, 8, 13, 13, 23), "state": "WA",
     "price": 13, "quantity": 104},
    {"_id": 4, "type": "strawberry", "orderDate": datetime.datetime(2019, 5, 18, 16, 9, 1), "state": "CA",
     "price": 41, "quantity": 162},
    {"_id": 5, "type": "strawberry", "orderDate": datetime.datetime(2019, 1, 8, 6, 12, 3), "state": "WA",
     "price": 43, "quantity": 134},
]


def test_set_window_fields():
    """Manual ($setWindowFields and its operators' pages, cakeSales): cumulative and moving
    windows, rank functions, $shift, range windows with and without unit, covariance, and the
    output sorted by partition then sortBy."""
    cakes = fresh("cakeSales", CAKE_SALES)

    def run(output, partition="$state", sort=None):
        stage = {"partitionBy": partition, "sortBy": sort or {"orderDate": 1}, "output": output}
        return list(cakes.aggregate([{"$setWindowFields": stage}]))

    out = run({"cumulativeQuantityForState": {"$sum": "$quantity", "window": {"documents": ["unbounded", "current"]}}})
    assert [(d["_id"], d["cumulativeQuantityForState"]) for d in out] == \
        [(4, 162), (0, 282), (2, 427), (5, 134), (3, 238), (1, 378)]
    out = run({"averageQuantity": {"$avg": "$quantity", "window": {"documents": [-1, 0]}}},
              partition={"$year": "$orderDate"})
    assert [d["averageQuantity"] for d in out] == [134, 148, 104, 112, 145, 142.5]
    out = run({"rankQuantityForState": {"$rank": {}}, "n": {"$documentNumber": {}},
               "next": {"$shift": {"output": "$quantity", "by": 1, "default": "Not available"}}},
              sort={"quantity": -1})
    assert [(d["_id"], d["rankQuantityForState"], d["n"], d["next"]) for d in out] == [
        (4, 1, 1, 145), (2, 2, 2, 120), (0, 3, 3, "Not available"),
        (1, 1, 1, 134), (5, 2, 2, 104), (3, 3, 3, "Not available")]
    out = run({"recentOrders": {"$push": "$orderDate", "window": {"range": ["unbounded", 10], "unit": "month"}}})
    assert [len(d["recentOrders"]) for d in out] == [1, 3, 3, 1, 2, 3]
    out = run({"q": {"$addToSet": "$quantity", "window": {"range": [-10, 10]}}}, sort={"price": 1})
    assert [sorted(d["q"]) for d in out] == [[120, 145], [120, 145], [162], [104, 140], [104, 140], [134]]
    out = run({"c": {"$covariancePop": [{"$year": "$orderDate"}, "$quantity"],
                     "window": {"documents": ["unbounded", "current"]}}})
    assert [round(d["c"], 6) for d in out] == [0, -10.5, -5.666667, 0, -7.5, 2]
    expect_code(5371602, lambda: run({"r": {"$rank": {}}}, sort={"a": 1, "b": 1}))
    # $derivative and $integral over time ranges (the manual's deliveryFleet and
    # powerConsumption examples).
    t = lambda m, s: datetime.datetime(2020, 5, 18, 14, m, s)  # noqa: E731
    fleet = fresh("deliveryFleet", [{"truckID": "1", "timeStamp": t(m, s), "miles": v} for (m, s), v in
                                    zip([(10, 30), (11, 0), (11, 30), (12, 0)], [1295.1, 1295.63, 1296.25, 1296.76])])
    out = list(fleet.aggregate([{"$setWindowFields": {"partitionBy": "$truckID", "sortBy": {"timeStamp": 1}, "output": {
        "speed": {"$derivative": {"input": "$miles", "unit": "hour"}, "window": {"range": [-30, 0], "unit": "second"}}}}}]))
    assert [round(d["speed"], 6) if d["speed"] is not None else None for d in out] == [None, 63.6, 74.4, 61.2]
    power = fresh("powerConsumption", [{"powerMeterID": "1", "timeStamp": t(m, s), "kilowatts": v} for (m, s), v in
                                       zip([(10, 30), (11, 0), (11, 30), (12, 0)], [2.95, 2.7, 2.6, 2.98])])
    out = list(power.aggregate([{"$setWindowFields": {"partitionBy": "$powerMeterID", "sortBy": {"timeStamp": 1}, "output": {
        "kwh": {"$integral": {"input": "$kilowatts", "unit": "hour"}, "window": {"range": ["unbounded", "current"], "unit": "minute"}}}}}]))
    assert [round(d["kwh"], 6) for d in out] == [0, 0.023542, 0.045625, 0.068875]
    expect_code(5429413, lambda: run({"s": {"$sum": 1, "window": {"range": [-1, 0]}}}, sort={"type": 1}))


def test_linear_fill_locf_and_fill():
    """Manual ($linearFill, $locf, $fill): gaps filled by interpolation or the last value."""
    hour = lambda h: datetime.datetime(2021, 3, 8, h)  # noqa: E731
    stock = fresh("stock", [{"time": hour(9), "price": 500}, {"time": hour(10)}, {"time": hour(11), "price": 515},
                            {"time": hour(12)}, {"time": hour(13)}, {"time": hour(14), "price": 485}])
    out = list(stock.aggregate([
        {"$setWindowFields": {"sortBy": {"time": 1}, "output": {"lf": {"$linearFill": "$price"}, "lo": {"$locf": "$price"}}}}]))
    assert [d["lf"] for d in out] == [500, 507.5, 515, 505, 495, 485]
    assert [d["lo"] for d in out] == [500, 500, 515, 515, 515, 485]
    out = list(stock.aggregate([{"$fill": {"sortBy": {"time": 1}, "output": {"price": {"method": "linear"}}}}]))
    assert [d["price"] for d in out] == [500, 507.5, 515, 505, 495, 485]
    out = list(stock.aggregate([{"$fill": {"output": {"price": {"value": 0}}}}, {"$sort": {"time": 1}}]))
    assert [d["price"] for d in out] == [500, 0, 515, 0, 0, 485]


def test_redact():
    """Manual ($redact): subdocuments whose tags the user may not see are pruned."""
    forecasts = fresh("forecasts", [{
        "_id": 1, "title": "123 Department Report", "tags": ["G", "STLW"], "year": 2014,
        "subsections": [
            {"subtitle": "Section 1: Overview", "tags": ["SI", "G"], "content": "Section 1"},
            {"subtitle": "Section 2: Analysis", "tags": ["STLW"], "content": "Section 2"},
            {"subtitle": "Section 3: Budgeting", "tags": ["TK"], "content": {"text": "Section 3", "tags": ["HCS"]}},
        ]}])
    access = ["STLW", "G"]
    out = list(forecasts.aggregate([{"$match": {"year": 2014}}, {"$redact": {"$cond": {
        "if": {"$gt": [{"$size": {"$setIntersection": ["$tags", access]}}, 0]},
        "then": "$$DESCEND", "else": "$$PRUNE"}}}]))
    assert [s["subtitle"] for s in out[0]["subsections"]] == ["Section 1: Overview", "Section 2: Analysis"]
    assert list(forecasts.aggregate([{"$redact": "$$PRUNE"}])) == []


def test_bucket_auto():
    """Manual ($bucketAuto, artwork): four buckets by price; buckets by year with missing
    years as null; granularity R5 boundaries."""
    art = fresh("artwork", [
        {"_id": 1, "year": 1926, "price": 199.99}, {"_id": 2, "year": 1902, "price": 280.00},
        {"_id": 3, "year": 1925, "price": 76.04}, {"_id": 4, "price": 167.30},
        {"_id": 5, "year": 1931, "price": 483.00}, {"_id": 6, "year": 1913, "price": 385.00},
        {"_id": 7, "price": 159.00}, {"_id": 8, "year": 1918, "price": 118.42},
    ])
    out = list(art.aggregate([{"$bucketAuto": {"groupBy": "$price", "buckets": 4}}]))
    assert out == [
        {"_id": {"min": 76.04, "max": 159.0}, "count": 2}, {"_id": {"min": 159.0, "max": 199.99}, "count": 2},
        {"_id": {"min": 199.99, "max": 385.0}, "count": 2}, {"_id": {"min": 385.0, "max": 483.0}, "count": 2}]
    out = list(art.aggregate([{"$bucketAuto": {
        "groupBy": "$year", "buckets": 3, "output": {"count": {"$sum": 1}, "years": {"$push": "$year"}}}}]))
    assert out == [
        {"_id": {"min": None, "max": 1913}, "count": 3, "years": [1902]},
        {"_id": {"min": 1913, "max": 1926}, "count": 3, "years": [1913, 1918, 1925]},
        {"_id": {"min": 1926, "max": 1931}, "count": 2, "years": [1926, 1931]}]
    things = fresh("things", [{"_id": i} for i in range(100)])
    out = list(things.aggregate([{"$bucketAuto": {"groupBy": "$_id", "buckets": 5, "granularity": "R5"}}]))
    assert [(d["_id"]["min"], d["_id"]["max"], d["count"]) for d in out] == \
        [(0, 25.0, 25), (25.0, 63.0, 38), (63.0, 100.0, 37)]


def pg_idle_in_transaction():
    """Gateway backends holding an open transaction (None without data/postgres.uri)."""
    import subprocess
    uri_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "postgres.uri")
    if not os.path.exists(uri_file):
        return None
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'documentdb_gateway' "
           "AND state LIKE 'idle in transaction%'")
    out = subprocess.run(["psql", open(uri_file).read().strip(), "-Atc", sql], capture_output=True, text=True)
    return int(out.stdout.strip()) if out.returncode == 0 else None


def generated(name, n_thousands):
    """A collection of n_thousands * 1000 documents {_id: i, k: i * 7919 mod 1000003} (k
    distinct, in no order of _id), generated by the server ($documents, $range, $unwind, $out)
    instead of sent by the client."""
    db().drop_collection(name)
    i = {"$add": [{"$multiply": ["$a", 1000]}, "$b"]}
    db().aggregate([
        {"$documents": [{}]},
        {"$project": {"a": {"$range": [0, n_thousands]}, "b": {"$range": [0, 1000]}}},
        {"$unwind": "$a"}, {"$unwind": "$b"},
        {"$replaceWith": {"_id": i, "k": {"$mod": [{"$multiply": [i, 7919]}, 1000003]}}},
        {"$out": name},
    ])
    return db()[name]


def test_cursor_streams_and_is_released():
    """Issue #13: a cursor abandoned after one batch of a 1M-document sort keeps one pinned
    backend (its portal streams inside a transaction) and killing it releases that backend
    at once, for a sort an index serves (the first batch reads ten index entries) and for a
    sort none serves (PostgreSQL sorts first); dropping the collection closes the gateway's
    cursors on it instead of waiting."""
    big = generated("stream_big", 1000)
    assert big.estimated_document_count() == 1_000_000
    big.create_index("k")
    admin = db().client.admin

    def pinned():
        return admin.command("serverStatus")["metrics"]["cursor"]["open"]["pinned"]
    base = pinned()
    # Other suites' sessions may hold transactions (snapshot reads): count relative to them.
    idle_before = pg_idle_in_transaction()
    for sort, served in [([("k", 1)], True), ([("k", 1), ("_id", -1)], False)]:
        started = time.time()
        cursor = big.find().sort(sort).batch_size(10)
        first = [next(cursor) for _ in range(10)]
        took = time.time() - started
        assert [d["k"] for d in first] == list(range(10)), first
        if served:
            # Streaming: the first batch doesn't wait for the other 999,990 documents.
            assert took < 1.0, took
        assert pinned() == base + 1
        if idle_before is not None:
            assert pg_idle_in_transaction() == idle_before + 1
        cursor.close()
        assert pinned() == base
        if idle_before is not None:
            # The backend's transaction ends once the gateway closes the cursor.
            deadline = time.time() + 5
            while pg_idle_in_transaction() != idle_before and time.time() < deadline:
                time.sleep(0.05)
            assert pg_idle_in_transaction() == idle_before
    big.drop()
    coll = fresh("stream", [{"_id": i, "k": (i * 7919) % 20000} for i in range(20000)])
    coll.create_index("k")
    # A streamed cursor reads every document once, in order, across batches.
    keys = [d["k"] for d in coll.find({}, {"k": 1}).sort("k", 1).batch_size(1000)]
    assert keys == sorted(keys) and len(keys) == 20000
    # An open cursor doesn't make drop wait; its next getMore finds it gone (43).
    agg = coll.aggregate([{"$sort": {"k": -1}}], batchSize=5)
    next(agg)
    coll.drop()
    try:
        list(agg)
        raise AssertionError("getMore after drop should fail")
    except OperationFailure as e:
        assert e.code == 43, e.details


def test_drop_closes_cursors_reading_the_collection_elsewhere():
    """A streaming cursor that reads a collection through a view or a $lookup holds a lock on
    it: dropping or renaming the collection closes such cursors of the gateway (as it closes
    the cursors on the collection itself) instead of waiting until they end or expire."""
    def open_cursors():
        fresh("base", [{"_id": i, "k": i % 50} for i in range(2000)])
        db().drop_collection("base_view")
        db().command("create", "base_view", viewOn="base", pipeline=[{"$match": {"k": {"$gte": 0}}}])
        outer = fresh("outer", [{"_id": i, "b": i} for i in range(300)])
        via_view = db().base_view.find().sort("k", 1).batch_size(5)
        via_lookup = outer.aggregate([{"$lookup": {"from": "base", "localField": "b", "foreignField": "_id",
                                                   "as": "m"}}, {"$sort": {"_id": 1}}], batchSize=5)
        next(via_view)
        next(via_lookup)
        return via_view, via_lookup

    def assert_closed(cursor):
        try:
            list(cursor)
            raise AssertionError("getMore after the collection went should fail")
        except OperationFailure as e:
            assert e.code == 43, e.details

    # Its own client, whose socket timeout turns a drop that waits into a failure.
    ddl = pymongo.MongoClient(URI, serverSelectionTimeoutMS=10000, socketTimeoutMS=20000)
    _clients.append(ddl)
    for change in [lambda: ddl[DB].base.drop(),
                   lambda: ddl[DB].base.rename("base_renamed", dropTarget=True),
                   lambda: ddl.drop_database(DB)]:
        via_view, via_lookup = open_cursors()
        started = time.time()
        change()
        assert time.time() - started < 10
        assert_closed(via_view)
        assert_closed(via_lookup)


def test_meta_index_key_and_return_key():
    """`{$meta: "indexKey"}` (manual, $meta: "Returns an index key for the document if a
    non-text index is used"; left out when no index is used) in find and aggregation
    projections, and find's `returnKey` (empty documents without an index)."""
    c = fresh("ikey", [{"_id": i, "qty": i, "item": "abc%d" % (i % 3), "tags": ["x", "y"]} for i in range(5000)])
    c.create_index([("qty", 1)])
    c.create_index([("tags", 1), ("_id", 1)])
    # A range served by the qty index: the key is the document's qty. (Hints make the
    # planner's choice certain on a table just loaded, without statistics.)
    qty = [("qty", 1)]
    found = list(c.find({"qty": {"$gt": 4997}}, {"k": {"$meta": "indexKey"}, "qty": 1}).sort("qty", 1).hint(qty))
    assert found == [{"_id": 4998, "qty": 4998, "k": {"qty": 4998}}, {"_id": 4999, "qty": 4999, "k": {"qty": 4999}}], found
    # The metadata overwrites a field of the same name, and joins an exclusion projection.
    found = list(c.find({"qty": 4999}, {"item": {"$meta": "indexKey"}, "tags": 0}).hint(qty))
    assert found == [{"_id": 4999, "qty": 4999, "item": {"qty": 4999}}], found
    # `_id` equality reads the `_id` index.
    assert list(c.find({"_id": 7}, {"k": {"$meta": "indexKey"}, "_id": 1}).hint("_id_")) == [{"_id": 7, "k": {"_id": 7}}]
    # A multikey index reports one key of the document.
    found = list(c.find({"tags": "y", "_id": {"$lt": 2}}, {"k": {"$meta": "indexKey"}}).hint([("tags", 1), ("_id", 1)]))
    assert [d["k"]["_id"] for d in found] == [0, 1] and all(d["k"]["tags"] in ("x", "y") for d in found), found
    # No index read: the field is left out, and returnKey gives empty documents.
    assert list(c.find({"item": "abc1", "qty": {"$lt": 5}}, {"k": {"$meta": "indexKey"}}).hint({"$natural": 1})) == [
        {"_id": 1, "qty": 1, "item": "abc1", "tags": ["x", "y"]},
        {"_id": 4, "qty": 4, "item": "abc1", "tags": ["x", "y"]},
    ]
    assert list(c.find({"item": "abc1", "qty": {"$lt": 5}}, return_key=True).hint({"$natural": 1})) == [{}, {}]
    assert list(c.find({"qty": {"$lt": 2}}, return_key=True).sort("qty", 1).hint(qty)) == [{"qty": 0}, {"qty": 1}]
    # A cursor of several batches keeps reporting the key.
    found = list(c.find({"qty": {"$gte": 4990}}, {"k": {"$meta": "indexKey"}, "_id": 0, "qty": 1})
                 .sort("qty", -1).batch_size(3).hint(qty))
    assert found == [{"qty": q, "k": {"qty": q}} for q in range(4999, 4989, -1)], found
    # Aggregation: $project / $addFields after a $match the index serves.
    found = list(c.aggregate([{"$match": {"qty": {"$gte": 4998}}}, {"$sort": {"qty": 1}},
                              {"$project": {"k": {"$meta": "indexKey"}}}], hint={"qty": 1}))
    assert found == [{"_id": 4998, "k": {"qty": 4998}}, {"_id": 4999, "k": {"qty": 4999}}], found
    found = list(c.aggregate([{"$match": {"qty": 4999}}, {"$addFields": {"k": {"$meta": "indexKey"}}},
                              {"$project": {"k": 1}}], hint={"qty": 1}))
    assert found == [{"_id": 4999, "k": {"qty": 4999}}], found
    # MongoDB sorts by text and search scores only: any other $meta sort is illegal (31138).
    expect_code(31138, lambda: list(c.aggregate([{"$sort": {"k": {"$meta": "indexKey"}}}])))
    expect_code(31138, lambda: list(c.find().sort([("k", {"$meta": "indexKey"})])))


def cleanup():
    harness.drop_and_close(URI, DB, _clients)


if __name__ == "__main__":
    sys.exit(harness.main(sys.argv[1:], globals(), title="aggregation",
                          ping=lambda: db().client.admin.command("ping"), cleanup=cleanup))
