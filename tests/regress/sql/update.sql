-- update, delete, findAndModify: operators, upserts, multi, write errors.
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never
SELECT p_success FROM insert('regress_upd', '{"insert": "c", "documents": [
  {"_id": 1, "n": 1, "tags": ["a"], "grades": [{"g": 80, "m": 75}, {"g": 85, "m": 90}, {"g": 90, "m": 85}]},
  {"_id": 2, "n": 2, "tags": ["b", "c"], "s": "x"},
  {"_id": 3, "n": 3}]}');
CREATE FUNCTION docs() RETURNS SETOF bson LANGUAGE sql AS $$
  SELECT document FROM documentdb_api.collection('regress_upd', 'c') ORDER BY object_id
$$;

-- Operator updates; n counts matches, nModified real changes.
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [
  {"q": {"_id": 1}, "u": {"$inc": {"n": 5}, "$push": {"tags": {"$each": ["z", "y"], "$sort": 1}}, "$set": {"new.deep": true}}},
  {"q": {"_id": 2}, "u": {"$set": {"s": "x"}}},
  {"q": {"_id": 3}, "u": {"$unset": {"n": ""}, "$currentDate": {"when": true}, "$min": {"lo": 5}, "$max": {"hi": 9}}}]}');
SELECT document FROM docs() d(document) WHERE bson_get_value_text(document, '_id') <> '3';
SELECT bson_get_value_text(document, 'lo') AS lo, bson_get_value_text(document, 'hi') AS hi,
       bson_get_value_text(document, 'n') IS NULL AS n_unset, bson_get_value(document, 'when') IS NOT NULL AS has_date
  FROM docs() d(document) WHERE bson_get_value_text(document, '_id') = '3';

-- Positional operators and arrayFilters.
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [
  {"q": {"_id": 1, "grades.g": 85}, "u": {"$set": {"grades.$.m": 100}}},
  {"q": {"_id": 1}, "u": {"$inc": {"grades.$[].g": 1}}},
  {"q": {"_id": 1}, "u": {"$set": {"grades.$[e].top": true}}, "arrayFilters": [{"e.g": {"$gte": 90}}]}]}');
SELECT bson_get_value(document, 'grades') FROM docs() d(document) WHERE bson_get_value_text(document, '_id') = '1';

-- multi updates touch every match in one statement.
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [{"q": {}, "u": {"$set": {"all": 1}}, "multi": true}]}');
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [{"q": {}, "u": {"$set": {"all": 1}}, "multi": true}]}');

-- Replacement keeps _id; upserts seed from equality predicates.
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [{"q": {"_id": 2}, "u": {"replaced": true}}]}');
SELECT document FROM docs() d(document) WHERE bson_get_value_text(document, '_id') = '2';
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [{"q": {"_id": 10, "k": "v", "x": {"$gt": 1}}, "u": {"$set": {"y": 1}, "$setOnInsert": {"created": true}}, "upsert": true}]}');
SELECT document FROM docs() d(document) WHERE bson_get_value_text(document, '_id') = '10';

-- Write errors: immutable _id (66), type mismatch (14), conflicts (40), unknown modifier (9);
-- ordered stops at the first, unordered continues.
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [
  {"q": {"_id": 1}, "u": {"$set": {"_id": 99}}},
  {"q": {"_id": 1}, "u": {"$inc": {"tags": 1}}},
  {"q": {"_id": 1}, "u": {"$set": {"a": 1}, "$inc": {"a": 1}}},
  {"q": {"_id": 1}, "u": {"$foo": {"a": 1}}}], "ordered": false}');
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [
  {"q": {"_id": 1}, "u": {"$set": {"_id": 99}}}, {"q": {"_id": 3}, "u": {"$set": {"never": 1}}}]}');
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [{"q": {}, "u": {"r": 1}, "multi": true}]}');
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [{"q": {}, "u": {"$set": {"x": 1}}, "bogus": true}]}');
\echo :LAST_ERROR_SQLSTATE

-- Pipeline-style update.
SELECT p_result FROM update('regress_upd', '{"update": "c", "updates": [{"q": {"_id": 3}, "u": [{"$set": {"sum": {"$add": ["$lo", "$hi"]}}}]}]}');
SELECT bson_get_value_text(document, 'sum') FROM docs() d(document) WHERE bson_get_value_text(document, '_id') = '3';

-- delete with limit 1 and 0.
SELECT p_result FROM delete('regress_upd', '{"delete": "c", "deletes": [{"q": {"all": 1}, "limit": 1}]}');
SELECT p_result FROM delete('regress_upd', '{"delete": "c", "deletes": [{"q": {"_id": {"$gte": 3}}, "limit": 0}]}');
SELECT p_result FROM delete('regress_upd', '{"delete": "c", "deletes": [{"q": {}, "limit": 2}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM delete('regress_upd', '{"delete": "nope", "deletes": [{"q": {}, "limit": 0}]}');

-- findAndModify: new/old document, sort, fields, upsert, remove.
SELECT p_success FROM insert('regress_upd', '{"insert": "q", "documents": [{"_id": 1, "p": 3}, {"_id": 2, "p": 1}, {"_id": 3, "p": 2}]}');
SELECT p_result FROM find_and_modify('regress_upd', '{"findAndModify": "q", "query": {}, "sort": {"p": 1}, "update": {"$inc": {"p": 10}}, "new": true, "fields": {"p": 1}}');
SELECT p_result FROM find_and_modify('regress_upd', '{"findAndModify": "q", "query": {"_id": 3}, "update": {"$set": {"x": 1}}}');
SELECT p_result FROM find_and_modify('regress_upd', '{"findAndModify": "q", "query": {"_id": 9}, "update": {"$set": {"x": 1}}, "upsert": true, "new": true}');
SELECT p_result FROM find_and_modify('regress_upd', '{"findAndModify": "q", "query": {"p": {"$gt": 100}}, "update": {"$set": {"x": 1}}}');
SELECT p_result FROM find_and_modify('regress_upd', '{"findAndModify": "q", "query": {"_id": 1}, "remove": true}');
SELECT p_result FROM find_and_modify('regress_upd', '{"findAndModify": "q", "query": {"_id": 1}, "remove": true, "update": {"$set": {"x": 1}}}');
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM find_and_modify('regress_upd', '{"findAndModify": "q", "query": {"_id": 2}}');
\echo :LAST_ERROR_SQLSTATE
DROP FUNCTION docs();
SELECT drop_database('regress_upd');
