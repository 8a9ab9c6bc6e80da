-- find, count, distinct: query operators, projection, sort/skip/limit.
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never
SELECT p_success FROM insert('regress_find', '{"insert": "inv", "documents": [
  {"_id": 1, "item": "journal", "qty": 25, "size": {"h": 14, "w": 21, "uom": "cm"}, "status": "A", "tags": ["blank", "red"], "dim": [14, 21]},
  {"_id": 2, "item": "notebook", "qty": 50, "size": {"h": 8.5, "w": 11, "uom": "in"}, "status": "A", "tags": ["red", "blank"], "dim": [14, 21]},
  {"_id": 3, "item": "paper", "qty": 100, "size": {"h": 8.5, "w": 11, "uom": "in"}, "status": "D", "tags": ["red", "blank", "plain"], "dim": [14, 21]},
  {"_id": 4, "item": "planner", "qty": 75, "size": {"h": 22.85, "w": 30, "uom": "cm"}, "status": "D", "tags": ["blank", "red"], "dim": [22.85, 30]},
  {"_id": 5, "item": "postcard", "qty": 45, "size": {"h": 10, "w": 15.25, "uom": "cm"}, "status": "A", "tags": ["blue"], "dim": [10, 15.25]},
  {"_id": 6, "item": null, "qty": {"$numberLong": "25"}, "instock": [{"warehouse": "A", "qty": 5}, {"warehouse": "C", "qty": 15}]},
  {"_id": 7, "qty": 25.0, "instock": [{"warehouse": "B", "qty": 15}]}
]}');

-- A helper showing just the matched _ids.
CREATE FUNCTION ids(q text) RETURNS text LANGUAGE sql AS $$
  SELECT (bson_get_value(cursorpage, 'cursor.firstBatch._id')::json -> '')::text
    FROM documentdb_api.find_cursor_first_page('regress_find', ('{"find": "inv", "filter": ' || q || ', "sort": {"_id": 1}}')::bson)
$$;

-- Equality, numeric across types, embedded documents, dotted paths, arrays.
SELECT ids('{"status": "D"}') AS eq, ids('{"qty": 25}') AS numeric_eq,
       ids('{"size": {"h": 14, "w": 21, "uom": "cm"}}') AS embedded_exact,
       ids('{"size": {"w": 21, "h": 14, "uom": "cm"}}') AS embedded_order_matters,
       ids('{"size.uom": "in"}') AS dotted, ids('{"tags": "red"}') AS array_contains,
       ids('{"tags": ["red", "blank"]}') AS array_exact, ids('{"dim.1": {"$gt": 25}}') AS array_index,
       ids('{"instock.qty": 15}') AS array_of_docs;
-- null matches null and missing; $exists; $type.
SELECT ids('{"item": null}') AS null_or_missing, ids('{"item": {"$exists": false}}') AS missing,
       ids('{"item": {"$type": "null"}}') AS type_null, ids('{"qty": {"$type": "long"}}') AS type_long,
       ids('{"qty": {"$type": "number"}}') AS type_number, ids('{"tags": {"$type": "array"}}') AS type_array;
-- Comparison and logical operators.
SELECT ids('{"qty": {"$gt": 30, "$lte": 75}}') AS range, ids('{"item": {"$in": ["paper", null]}}') AS in_null,
       ids('{"status": {"$nin": ["A", "D"]}}') AS nin, ids('{"status": {"$ne": "A"}}') AS ne,
       ids('{"$or": [{"qty": {"$lt": 30}}, {"item": "paper"}]}') AS "or",
       ids('{"$nor": [{"status": "A"}, {"status": "D"}]}') AS nor,
       ids('{"qty": {"$not": {"$gt": 40}}}') AS "not", ids('{"item": {"$gt": 1}}') AS type_bracketing;
-- Evaluation, array and bitwise operators.
SELECT ids('{"item": {"$regex": "^p", "$options": "i"}}') AS regex, ids('{"item": {"$regularExpression": {"pattern": "ER$", "options": "i"}}}') AS regex_literal,
       ids('{"qty": {"$mod": [50, 0]}}') AS "mod", ids('{"$expr": {"$gt": ["$size.w", "$size.h"]}}') AS expr,
       ids('{"tags": {"$all": ["red", "blank"]}}') AS "all", ids('{"tags": {"$size": 3}}') AS size,
       ids('{"instock": {"$elemMatch": {"warehouse": "C", "qty": {"$gte": 10}}}}') AS elem_match,
       ids('{"qty": {"$bitsAllSet": [0, 3]}}') AS bits_all_set,
       ids('{"$jsonSchema": {"required": ["instock"]}}') AS json_schema;

-- Projection: inclusion, exclusion, dotted, $slice, $elemMatch, positional $, expressions.
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "filter": {"_id": 1}, "projection": {"item": 1, "size.uom": 1}}');
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "filter": {"_id": 1}, "projection": {"size": 0, "tags": 0, "dim": 0, "_id": 0}}');
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "filter": {"_id": 3}, "projection": {"tags": {"$slice": -2}, "item": 1}}');
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "filter": {"_id": 6}, "projection": {"instock": {"$elemMatch": {"qty": {"$gt": 10}}}}}');
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "filter": {"instock.warehouse": "C"}, "projection": {"instock.$": 1}}');
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "filter": {"_id": 5}, "projection": {"area": {"$multiply": ["$size.h", "$size.w"]}, "_id": 0}}');
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "projection": {"a": 1, "b": 0}}');
\echo :LAST_ERROR_SQLSTATE

-- Sort (arrays sort by their min ascending / max descending), skip, limit, batchSize.
SELECT (bson_get_value(cursorpage, 'cursor.firstBatch._id')::json -> '')::text AS ids FROM find_cursor_first_page('regress_find', '{"find": "inv", "filter": {"dim": {"$exists": true}}, "sort": {"dim": 1, "_id": -1}}');
SELECT (bson_get_value(cursorpage, 'cursor.firstBatch._id')::json -> '')::text AS ids FROM find_cursor_first_page('regress_find', '{"find": "inv", "filter": {"dim": {"$exists": true}}, "sort": {"dim": -1, "_id": 1}}');
SELECT (bson_get_value(cursorpage, 'cursor.firstBatch._id')::json -> '')::text AS ids FROM find_cursor_first_page('regress_find', '{"find": "inv", "sort": {"qty": -1, "_id": 1}, "skip": 1, "limit": 3}');
SELECT (bson_get_value(cursorpage, 'cursor.firstBatch._id')::json -> '')::text AS ids FROM find_cursor_first_page('regress_find', '{"find": "inv", "sort": {"item": 1, "_id": 1}}');
SELECT cursorid = 0 AS exhausted, (bson_get_value(cursorpage, 'cursor.firstBatch._id')::json -> '')::text AS ids
  FROM find_cursor_first_page('regress_find', '{"find": "inv", "sort": {"_id": 1}, "batchSize": 2, "singleBatch": true}');
SELECT bson_get_value_text(cursorpage, 'cursor.firstBatch') FROM find_cursor_first_page('regress_find', '{"find": "nope"}');

-- count and distinct.
SELECT document FROM count_query('regress_find', '{"count": "inv", "query": {"status": "A"}}');
SELECT document FROM count_query('regress_find', '{"count": "inv", "skip": 2, "limit": 3}');
SELECT document FROM count_query('regress_find', '{"count": "nope"}');
SELECT document FROM distinct_query('regress_find', '{"distinct": "inv", "key": "tags"}');
SELECT document FROM distinct_query('regress_find', '{"distinct": "inv", "key": "instock.warehouse", "query": {"qty": {"$lt": 30}}}');
SELECT document FROM distinct_query('regress_find', '{"distinct": "inv", "key": "qty"}');

-- Errors: MongoDB codes and messages.
SELECT ids('{"qty": {"$foo": 1}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ids('{"$foo": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT ids('{"qty": {"$in": 5}}');
\echo :LAST_ERROR_SQLSTATE
SELECT ids('{"$where": "this.qty > 1"}');
\echo :LAST_ERROR_SQLSTATE
SELECT ids('{"item": {"$regex": "("}}');
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "sort": {"a": 2}}');
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "limit": -1}');
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM find_cursor_first_page('regress_find', '{"find": "inv", "tailable": true}');
\echo :LAST_ERROR_SQLSTATE
SELECT document FROM distinct_query('regress_find', '{"distinct": "inv"}');
\echo :LAST_ERROR_SQLSTATE
-- The query operators generated WHERE clauses use (documentdb_api_catalog): each is
-- { path: { $op: value } } with MongoDB's array and null semantics.
SELECT document -> '_id' AS id FROM collection('regress_find', 'inv')
  WHERE document OPERATOR(documentdb_api_catalog.@=) '{"tags": "blue"}' ORDER BY 1;
SELECT document -> '_id' AS id FROM collection('regress_find', 'inv')
  WHERE document OPERATOR(documentdb_api_catalog.@>=) '{"instock.qty": 15}' ORDER BY 1;
SELECT document -> '_id' AS id FROM collection('regress_find', 'inv')
  WHERE document OPERATOR(documentdb_api_catalog.@<) '{"qty": 30}' ORDER BY 1;
SELECT document -> '_id' AS id FROM collection('regress_find', 'inv')
  WHERE document OPERATOR(documentdb_api_catalog.@*=) '{"item": [null, "paper"]}' ORDER BY 1;
SELECT document -> '_id' AS id FROM collection('regress_find', 'inv')
  WHERE document OPERATOR(documentdb_api_catalog.@?) '{"instock": true}' ORDER BY 1;
SELECT '{"a": 1}'::bson OPERATOR(documentdb_api_catalog.@>) '{"a": 1, "b": 2}';
\echo :LAST_ERROR_SQLSTATE
-- find pushes those operators into its WHERE clause; the full match is the recheck only when
-- something is left over.
CREATE FUNCTION plan_filter(spec text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(m[1], ' AND ') FROM regexp_matches(
    (documentdb_api_internal.explain('regress_find', spec::bson) -> 'queryPlanner.postgresPlan')::text,
    '(@[=<>*?]+|bson_query_match)', 'g') AS m
$$;
SELECT plan_filter('{"explain": {"find": "inv", "filter": {"qty": {"$gt": 30, "$lte": 75}}}}');
SELECT plan_filter('{"explain": {"find": "inv", "filter": {"status": "A", "tags": {"$size": 1}}}}');
DROP FUNCTION plan_filter(text);
DROP FUNCTION ids(text);
SELECT drop_database('regress_find');
