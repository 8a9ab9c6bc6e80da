-- aggregate stages beyond the core ones, with the MongoDB manual's examples and their
-- documented results (tests/e2e/test_aggregation.py checks the same through the gateway).
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never
CREATE FUNCTION stages(coll text, p text) RETURNS text LANGUAGE sql AS $$
  SELECT (bson_get_value(cursorpage, 'cursor.firstBatch')::json -> '')::text
    FROM documentdb_api.aggregate_cursor_first_page('regress_stages', ('{"aggregate": "' || coll || '", "pipeline": ' || p || ', "cursor": {}}')::bson)
$$;

-- $graphLookup (manual: the employees' reporting hierarchy, depthField; the airports within
-- two connections, restrictSearchWithMatch).
SELECT p_success FROM insert('regress_stages', '{"insert": "employees", "documents": [
  {"_id": 1, "name": "Dev"}, {"_id": 2, "name": "Eliot", "reportsTo": "Dev"},
  {"_id": 3, "name": "Ron", "reportsTo": "Eliot"}, {"_id": 4, "name": "Andrew", "reportsTo": "Eliot"},
  {"_id": 5, "name": "Asya", "reportsTo": "Ron"}, {"_id": 6, "name": "Dan", "reportsTo": "Andrew"}]}');
SELECT stages('employees', '[{"$match": {"name": {"$in": ["Eliot", "Asya"]}}},
  {"$graphLookup": {"from": "employees", "startWith": "$reportsTo", "connectFromField": "reportsTo",
                    "connectToField": "name", "as": "chain", "depthField": "depth"}},
  {"$project": {"name": 1, "chain": {"$sortArray": {"input": {"$map": {"input": "$chain", "in": {"n": "$$this.name", "d": "$$this.depth"}}}, "sortBy": {"d": 1}}}}}]');
SELECT p_success FROM insert('regress_stages', '{"insert": "airports", "documents": [
  {"_id": 0, "airport": "JFK", "connects": ["BOS", "ORD"]}, {"_id": 1, "airport": "BOS", "connects": ["JFK", "PWM"]},
  {"_id": 2, "airport": "ORD", "connects": ["JFK"]}, {"_id": 3, "airport": "PWM", "connects": ["BOS", "LHR"]},
  {"_id": 4, "airport": "LHR", "connects": ["PWM"]}]}');
SELECT p_success FROM insert('regress_stages', '{"insert": "travelers", "documents": [
  {"_id": 1, "name": "Dev", "nearestAirport": "JFK"}, {"_id": 3, "name": "Jeff", "nearestAirport": "BOS"}]}');
SELECT stages('travelers', '[{"$graphLookup": {"from": "airports", "startWith": "$nearestAirport", "connectFromField": "connects",
  "connectToField": "airport", "maxDepth": 2, "depthField": "numConnections", "as": "destinations"}},
  {"$project": {"name": 1, "to": {"$sortArray": {"input": {"$map": {"input": "$destinations", "in": ["$$this.airport", "$$this.numConnections"]}}, "sortBy": 1}}}}]');
SELECT stages('travelers', '[{"$graphLookup": {"from": "airports", "startWith": "$nearestAirport", "connectFromField": "connects",
  "connectToField": "airport", "maxDepth": 2, "as": "d", "restrictSearchWithMatch": {"airport": {"$ne": "PWM"}}}},
  {"$project": {"name": 1, "to": {"$sortArray": {"input": "$d.airport", "sortBy": 1}}}}]');
SELECT stages('travelers', '[{"$graphLookup": {"from": "airports", "startWith": "$nearestAirport", "connectFromField": "connects",
  "connectToField": "airport", "maxDepth": -1, "as": "d"}}]');
\echo :LAST_ERROR_SQLSTATE

-- $bucketAuto (manual: artwork by price into 4 buckets; years with missing values).
SELECT p_success FROM insert('regress_stages', '{"insert": "artwork", "documents": [
  {"_id": 1, "year": 1926, "price": 199.99}, {"_id": 2, "year": 1902, "price": 280.00},
  {"_id": 3, "year": 1925, "price": 76.04}, {"_id": 4, "price": 167.30},
  {"_id": 5, "year": 1931, "price": 483.00}, {"_id": 6, "year": 1913, "price": 385.00},
  {"_id": 7, "price": 159.00}, {"_id": 8, "year": 1918, "price": 118.42}]}');
SELECT stages('artwork', '[{"$bucketAuto": {"groupBy": "$price", "buckets": 4}}]');
SELECT stages('artwork', '[{"$bucketAuto": {"groupBy": "$year", "buckets": 3, "output": {"count": {"$sum": 1}, "years": {"$push": "$year"}}}}]');

-- $redact (manual: subsections whose tags the reader may not see are pruned).
SELECT p_success FROM insert('regress_stages', '{"insert": "forecasts", "documents": [
  {"_id": 1, "title": "123 Department Report", "tags": ["G", "STLW"], "year": 2014, "subsections": [
    {"subtitle": "Section 1: Overview", "tags": ["SI", "G"], "content": "Section 1"},
    {"subtitle": "Section 2: Analysis", "tags": ["STLW"], "content": "Section 2"},
    {"subtitle": "Section 3: Budgeting", "tags": ["TK"], "content": {"text": "Section 3", "tags": ["HCS"]}}]}]}');
SELECT stages('forecasts', '[{"$match": {"year": 2014}}, {"$redact": {"$cond": {
  "if": {"$gt": [{"$size": {"$setIntersection": ["$tags", ["STLW", "G"]]}}, 0]}, "then": "$$DESCEND", "else": "$$PRUNE"}}},
  {"$project": {"subtitles": "$subsections.subtitle"}}]');
SELECT stages('forecasts', '[{"$redact": "$$PRUNE"}]');

-- $setWindowFields, $fill, $densify (manual: a stock price's gaps filled linearly and by the
-- last value; a running total; hourly readings densified within bounds).
SELECT p_success FROM insert('regress_stages', '{"insert": "stock", "documents": [
  {"_id": 1, "t": 9, "price": 500}, {"_id": 2, "t": 10}, {"_id": 3, "t": 11, "price": 515},
  {"_id": 4, "t": 12}, {"_id": 5, "t": 13}, {"_id": 6, "t": 14, "price": 485}]}');
SELECT stages('stock', '[{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"lf": {"$linearFill": "$price"}, "lo": {"$locf": "$price"},
  "run": {"$sum": "$price", "window": {"documents": ["unbounded", "current"]}}, "rank": {"$rank": {}}}}}, {"$project": {"_id": 0, "t": 1, "lf": 1, "lo": 1, "run": 1, "rank": 1}}]');
SELECT stages('stock', '[{"$fill": {"sortBy": {"t": 1}, "output": {"price": {"method": "linear"}}}}, {"$project": {"_id": 0, "price": 1}}]');
SELECT stages('stock', '[{"$densify": {"field": "t", "range": {"step": 2, "bounds": [8, 16]}}}, {"$project": {"_id": 0, "t": 1, "price": 1}}]');

-- $lookup on foreignField _id (the join) gives what the correlated path gives, in the
-- input's order: scalar, array, missing, null and unmatched local values; a null _id.
SELECT p_success FROM insert('regress_stages', '{"insert": "customers", "documents": [
  {"_id": 1, "name": "c1"}, {"_id": 2, "name": "c2"}, {"_id": 3, "name": "c3"}, {"_id": null, "name": "nobody"}]}');
SELECT p_success FROM insert('regress_stages', '{"insert": "orders", "documents": [
  {"_id": 1, "cust": 3, "amount": 10}, {"_id": 2, "cust": [1, 2], "amount": 20}, {"_id": 3, "amount": 30},
  {"_id": 4, "cust": 42, "amount": 40}, {"_id": 5, "cust": null, "amount": 50}, {"_id": 6, "cust": 1.0, "amount": 60}]}');
SELECT stages('orders', '[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}}, {"$project": {"names": "$c.name"}}]')
     = stages('orders', '[{"$addFields": {"x": 1}}, {"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}}, {"$project": {"names": "$c.name"}}]')
       AS join_equals_correlated;
SELECT stages('orders', '[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}}, {"$project": {"names": "$c.name"}}]');
-- $lookup + $unwind + $group: the group folded into the join reads each side apart.
SELECT stages('orders', '[{"$lookup": {"from": "customers", "localField": "cust", "foreignField": "_id", "as": "c"}}, {"$unwind": "$c"},
  {"$group": {"_id": "$c.name", "total": {"$sum": "$amount"}, "n": {"$count": {}}}}, {"$sort": {"_id": 1}}]');

-- $out and $merge (manual: whenMatched modes; results sharing an `on` value applied in turn).
SELECT stages('orders', '[{"$match": {"amount": {"$gte": 40}}}, {"$project": {"amount": 1}}, {"$out": "big_orders"}]');
SELECT stages('big_orders', '[{"$sort": {"_id": 1}}]');
SELECT stages('orders', '[{"$sort": {"_id": 1}}, {"$project": {"_id": {"$cond": [{"$gte": ["$amount", 40]}, "high", "low"]}, "amount": 1, "last_id": "$_id"}},
  {"$merge": {"into": "by_band", "whenMatched": "merge"}}]');
SELECT stages('by_band', '[{"$sort": {"_id": 1}}]');
SELECT stages('orders', '[{"$sort": {"_id": 1}}, {"$project": {"_id": {"$cond": [{"$gte": ["$amount", 40]}, "high", "low"]}, "amount": 1}},
  {"$merge": {"into": "by_band", "whenMatched": [{"$set": {"amount": {"$add": ["$amount", "$$new.amount"]}}}]}}]');
SELECT stages('by_band', '[{"$sort": {"_id": 1}}, {"$project": {"amount": 1}}]');
SELECT stages('orders', '[{"$project": {"_id": {"$cond": [{"$gte": ["$amount", 40]}, "high", "low"]}}}, {"$merge": {"into": "by_band", "whenMatched": "fail"}}]');
\echo :LAST_ERROR_SQLSTATE

-- {$meta: "indexKey"} and returnKey: the key of the index the plan reads; nothing without one.
SELECT documentdb_api_internal.bson_index_key('{"_id": 1, "a": {"b": 2}, "t": ["x", "y"]}', '{"a.b": 1, "t": -1, "c": 1}');
SELECT documentdb_api_internal.bson_index_key('{"_id": 1, "a": "x"}', '{"a": "text"}') IS NULL AS text_index_has_no_key;
SELECT stages('orders', '[{"$sort": {"k": {"$meta": "indexKey"}}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT bson_get_value(cursorpage, 'cursor.firstBatch')::text
  FROM find_cursor_first_page('regress_stages', '{"find": "orders", "filter": {"amount": {"$lt": 25}}, "returnKey": true, "hint": {"$natural": 1}}');

DROP FUNCTION stages(text, text);
SELECT drop_database('regress_stages');
