-- Statements that used to overflow the backend's stack (SIGSEGV: the postmaster then
-- restarts every connection). Each must now fail with MongoDB's error, or succeed, and
-- leave the backend alive: very long field paths (MongoDB's FieldPath limit, 200
-- components, Overflow 15; query paths 180, 5729100), values nested without bound at run
-- time ($reduce; Overflow 15 past 200 levels) and documents produced by writes nested
-- deeper than storage allows (Overflow 15 past 100 levels).
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never

-- "a.a. ... .a" with n components, and {"a": {"a": ... 1 ...}} with n documents nested
-- below the top-level one.
CREATE FUNCTION long_path(n int) RETURNS text LANGUAGE sql AS $$ SELECT rtrim(repeat('a.', n), '.') $$;
CREATE FUNCTION nested_doc(n int) RETURNS text LANGUAGE sql AS $$ SELECT repeat('{"a": ', n + 1) || '1' || repeat('}', n + 1) $$;

SELECT insert_one('crash_regress', 'c', '{"_id": 1, "x": 1}');

-- The confirmed reproducer: a $set path of 200,000 components.
SELECT p_result FROM update('crash_regress', format('{"update": "c", "updates": [{"q": {}, "u": {"$set": {"%s": 1}}}]}', long_path(200000))::bson);
-- The same through a multi-document update, $unset, $inc and $rename.
SELECT p_result FROM update('crash_regress', format('{"update": "c", "updates": [{"q": {}, "u": {"$set": {"%s": 1}}, "multi": true}]}', long_path(200000))::bson);
SELECT p_result FROM update('crash_regress', format('{"update": "c", "updates": [{"q": {}, "u": {"$unset": {"%s": ""}}}]}', long_path(200000))::bson);
SELECT p_result FROM update('crash_regress', format('{"update": "c", "updates": [{"q": {}, "u": {"$inc": {"%s": 1}}}]}', long_path(201))::bson);
SELECT p_result FROM update('crash_regress', format('{"update": "c", "updates": [{"q": {}, "u": {"$rename": {"x": "%s"}}}]}', long_path(200000))::bson);
-- findAndModify.
SELECT p_result FROM find_and_modify('crash_regress', format('{"findAndModify": "c", "query": {"_id": 1}, "update": {"$set": {"%s": 1}}}', long_path(200000))::bson);
\echo :LAST_ERROR_SQLSTATE

-- Paths short enough to parse, but the documents they would store are nested deeper than
-- 100 levels: refused before they are written (single, multi, findAndModify, upsert).
SELECT p_result FROM update('crash_regress', format('{"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"%s": 1}}}]}', long_path(150))::bson);
SELECT p_result FROM update('crash_regress', format('{"update": "c", "updates": [{"q": {}, "u": {"$set": {"%s": 1}}, "multi": true}]}', long_path(150))::bson);
SELECT p_result FROM find_and_modify('crash_regress', format('{"findAndModify": "c", "query": {"_id": 1}, "update": {"$set": {"%s": 1}}}', long_path(150))::bson);
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM update('crash_regress', format('{"update": "c", "updates": [{"q": {"_id": 2, "%s": 1}, "u": {"$set": {"y": 1}}, "upsert": true}]}', long_path(150))::bson);
-- A stored 100-level document: growing it by one more level is refused.
SELECT insert_one('crash_regress', 'deep', nested_doc(100)::bson);
SELECT p_result FROM update('crash_regress', format('{"update": "deep", "updates": [{"q": {}, "u": {"$set": {"%s.b": 1}}}]}', long_path(100))::bson);
SELECT p_result FROM update('crash_regress', format('{"update": "deep", "updates": [{"q": {}, "u": {"$set": {"%s.b.c": 1}}}]}', long_path(100))::bson);
SELECT p_result FROM update('crash_regress', format('{"update": "deep", "updates": [{"q": {}, "u": {"$set": {"%s.b.c": 1}}, "multi": true}]}', long_path(100))::bson);
-- An update pipeline building a deep value.
SELECT p_result FROM update('crash_regress', '{"update": "c", "updates": [{"q": {"_id": 1}, "u": [{"$set": {"deep": {"$reduce": {"input": {"$range": [0, 150]}, "initialValue": [], "in": ["$$value"]}}}}]}]}');
-- Nothing was written.
SELECT document FROM documentdb_api.collection('crash_regress', 'c') ORDER BY object_id;

-- Query paths: more than 180 components is 5729100.
SELECT cursorpage FROM find_cursor_first_page('crash_regress', format('{"find": "c", "filter": {"%s": 1}}', long_path(200000))::bson);
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM find_cursor_first_page('crash_regress', format('{"find": "c", "filter": {"$or": [{"%s": {"$exists": true}}, {"x": 1}]}}', long_path(181))::bson);
\echo :LAST_ERROR_SQLSTATE
SELECT bson_get_value(cursorpage, 'cursor.firstBatch') FROM find_cursor_first_page('crash_regress', format('{"find": "c", "filter": {"%s": {"$exists": false}}, "projection": {"_id": 1}}', long_path(180))::bson);
SELECT document FROM count_query('crash_regress', format('{"count": "c", "query": {"%s": 1}}', long_path(200000))::bson);
\echo :LAST_ERROR_SQLSTATE
SELECT document FROM distinct_query('crash_regress', format('{"distinct": "c", "key": "%s"}', long_path(200000))::bson);
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM delete('crash_regress', format('{"delete": "c", "deletes": [{"q": {"%s": 1}, "limit": 0}]}', long_path(200000))::bson);

-- Projection and sort paths: more than 200 components is Overflow.
SELECT cursorpage FROM find_cursor_first_page('crash_regress', format('{"find": "c", "projection": {"%s": 1}}', long_path(200000))::bson);
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM find_cursor_first_page('crash_regress', format('{"find": "c", "projection": {"%s": {"$slice": 1}}}', long_path(201))::bson);
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM find_cursor_first_page('crash_regress', format('{"find": "c", "sort": {"%s": 1}}', long_path(200000))::bson);
\echo :LAST_ERROR_SQLSTATE
SELECT bson_get_value(cursorpage, 'cursor.firstBatch') FROM find_cursor_first_page('crash_regress', format('{"find": "c", "sort": {"%s": 1}, "projection": {"_id": 1}}', long_path(200))::bson);

-- Aggregation: field paths in expressions, group keys, $unwind, $sort, $project.
CREATE FUNCTION agg(p text) RETURNS text LANGUAGE sql AS $$
  SELECT (bson_get_value(cursorpage, 'cursor.firstBatch')::json -> '')::text
    FROM documentdb_api.aggregate_cursor_first_page('crash_regress', ('{"aggregate": "c", "pipeline": ' || p || ', "cursor": {}}')::bson)
$$;
SELECT agg(format('[{"$project": {"v": "$%s"}}]', long_path(200000)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$project": {"v": "$$ROOT.%s"}}]', long_path(200)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$addFields": {"%s": 1}}]', long_path(200000)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$group": {"_id": "$%s"}}]', long_path(200000)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$group": {"_id": null, "v": {"$push": "$%s"}}}]', long_path(200000)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$unwind": "$%s"}]', long_path(200000)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$unwind": {"path": "$x", "includeArrayIndex": "%s"}}]', long_path(200000)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$sort": {"%s": 1}}]', long_path(200000)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$match": {"%s": 1}}]', long_path(200000)));
\echo :LAST_ERROR_SQLSTATE
SELECT agg(format('[{"$project": {"v": {"$sortArray": {"input": [], "sortBy": {"%s": 1}}}}}]', long_path(201)));
\echo :LAST_ERROR_SQLSTATE
-- At the limit, paths work.
SELECT agg(format('[{"$project": {"_id": 1, "v": "$%s"}}]', long_path(200)));

-- Values nested without bound at run time: $reduce wrapping its value at every step.
SELECT agg('[{"$project": {"x": {"$reduce": {"input": {"$range": [0, 300000]}, "initialValue": [], "in": ["$$value"]}}}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$project": {"x": {"$reduce": {"input": {"$range": [0, 300000]}, "initialValue": [], "in": {"a": "$$value"}}}}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$group": {"_id": null, "x": {"$push": {"$reduce": {"input": {"$range": [0, 300000]}, "initialValue": {}, "in": {"a": "$$value"}}}}}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$match": {"$expr": {"$eq": [{"$reduce": {"input": {"$range": [0, 300000]}, "initialValue": [], "in": ["$$value"]}}, []]}}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$replaceWith": {"$reduce": {"input": {"$range": [0, 300000]}, "initialValue": {}, "in": {"a": "$$value"}}}}]');
\echo :LAST_ERROR_SQLSTATE
-- A value nested below the limit is fine, and so is a long flat accumulation.
SELECT agg('[{"$project": {"_id": 0, "depth": {"$size": {"$reduce": {"input": {"$range": [0, 150]}, "initialValue": [], "in": ["$$value"]}}}}}]');
SELECT agg('[{"$project": {"_id": 0, "sum": {"$reduce": {"input": {"$range": [0, 300000]}, "initialValue": 0, "in": {"$add": ["$$value", "$$this"]}}}}}]');

-- Path access on the bson type with a 200,000-component path.
SELECT '{"a": {"a": 1}}'::bson -> long_path(200000) IS NULL AS missing;
SELECT bson_get_value('{"a": {"a": 1}}', long_path(200000)) IS NULL AS missing;

-- The backend survived all of the above.
SELECT 1 AS alive;

DROP FUNCTION agg(text);
DROP FUNCTION nested_doc(int);
DROP FUNCTION long_path(int);
SELECT drop_database('crash_regress');
