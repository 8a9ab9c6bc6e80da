-- aggregate: the core stages translated to SQL.
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never
SELECT p_success FROM insert('regress_agg', '{"insert": "sales", "documents": [
  {"_id": 1, "item": "abc", "price": {"$numberDecimal": "10"}, "quantity": 2, "date": {"$date": "2014-03-01T08:00:00Z"}},
  {"_id": 2, "item": "jkl", "price": {"$numberDecimal": "20"}, "quantity": 1, "date": {"$date": "2014-03-01T09:00:00Z"}},
  {"_id": 3, "item": "xyz", "price": {"$numberDecimal": "5"}, "quantity": 10, "date": {"$date": "2014-03-15T09:00:00Z"}},
  {"_id": 4, "item": "xyz", "price": {"$numberDecimal": "5"}, "quantity": 20, "date": {"$date": "2014-04-04T11:21:39.736Z"}},
  {"_id": 5, "item": "abc", "price": {"$numberDecimal": "10"}, "quantity": 10, "date": {"$date": "2014-04-04T21:23:13.331Z"}},
  {"_id": 6, "item": "def", "price": {"$numberDecimal": "7.5"}, "quantity": 5, "date": {"$date": "2015-06-04T05:08:13Z"}},
  {"_id": 7, "item": "def", "price": {"$numberDecimal": "7.5"}, "quantity": 10, "date": {"$date": "2015-09-10T08:43:00Z"}},
  {"_id": 8, "item": "abc", "price": {"$numberDecimal": "10"}, "quantity": 5, "date": {"$date": "2016-02-06T20:20:13Z"}}]}');
CREATE FUNCTION agg(p text) RETURNS text LANGUAGE sql AS $$
  SELECT (bson_get_value(cursorpage, 'cursor.firstBatch')::json -> '')::text
    FROM documentdb_api.aggregate_cursor_first_page('regress_agg', ('{"aggregate": "sales", "pipeline": ' || p || ', "cursor": {}}')::bson)
$$;

-- $group with accumulators (manual's "Group by Item Having" and "Calculate Count, Sum, and Average").
SELECT agg('[{"$group": {"_id": "$item", "totalSaleAmount": {"$sum": {"$multiply": ["$price", "$quantity"]}}}},
             {"$match": {"totalSaleAmount": {"$gte": 100}}}, {"$sort": {"_id": 1}}]');
SELECT agg('[{"$match": {"date": {"$gte": {"$date": "2014-01-01T00:00:00Z"}, "$lt": {"$date": "2015-01-01T00:00:00Z"}}}},
             {"$group": {"_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$date"}},
                         "totalSaleAmount": {"$sum": {"$multiply": ["$price", "$quantity"]}},
                         "averageQuantity": {"$avg": "$quantity"}, "count": {"$sum": 1}}},
             {"$sort": {"totalSaleAmount": -1}}]');
SELECT agg('[{"$group": {"_id": null, "n": {"$count": {}}, "avgQty": {"$avg": "$quantity"}, "maxQty": {"$max": "$quantity"},
             "minPrice": {"$min": "$price"}, "items": {"$addToSet": "$item"}}}, {"$project": {"_id": 0, "n": 1, "avgQty": 1, "maxQty": 1, "minPrice": 1, "nItems": {"$size": "$items"}}}]');
-- $first/$last follow the preceding $sort.
SELECT agg('[{"$sort": {"date": 1}}, {"$group": {"_id": "$item", "first": {"$first": "$_id"}, "last": {"$last": "$_id"}, "qtys": {"$push": "$quantity"}}}, {"$sort": {"_id": 1}}]');

-- $match/$sort/$skip/$limit/$project/$addFields/$set/$unset/$count/$unwind/$replaceWith.
SELECT agg('[{"$match": {"item": "abc"}}, {"$sort": {"quantity": -1}}, {"$skip": 1}, {"$limit": 1}, {"$project": {"quantity": 1}}]');
SELECT agg('[{"$match": {"_id": {"$lte": 2}}}, {"$addFields": {"total": {"$multiply": ["$price", "$quantity"]}}}, {"$unset": ["date", "price"]}]');
SELECT agg('[{"$match": {"quantity": {"$gt": 5}}}, {"$count": "bigOrders"}]');
SELECT agg('[{"$match": {"quantity": {"$gt": 500}}}, {"$count": "none"}]');
SELECT agg('[{"$match": {"_id": 1}}, {"$set": {"parts": ["a", "b"]}}, {"$unwind": {"path": "$parts", "includeArrayIndex": "i"}}, {"$project": {"parts": 1, "i": 1}}]');
SELECT agg('[{"$match": {"_id": 2}}, {"$replaceWith": {"name": "$item", "q": "$quantity"}}]');
SELECT agg('[{"$sortByCount": "$item"}]');

-- Errors.
SELECT agg('[{"$bogus": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$group": {"total": {"$sum": 1}}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$limit": 0}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$project": {"a": {"$unknownOp": 1}}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM aggregate_cursor_first_page('regress_agg', '{"aggregate": "sales", "pipeline": []}');
\echo :LAST_ERROR_SQLSTATE
-- Evaluation errors surface with their code (here through the SQL executor).
SELECT agg('[{"$project": {"x": {"$divide": ["$quantity", 0]}}}]');
\echo :LAST_ERROR_SQLSTATE

-- Cursors over aggregations (a portal inside a transaction block).
BEGIN;
SELECT cursorid = 4242 AS cursor_open, persistconnection
  FROM aggregate_cursor_first_page('regress_agg', '{"aggregate": "sales", "pipeline": [{"$sort": {"_id": 1}}], "cursor": {"batchSize": 3}}', 4242);
COMMIT;
-- Collection-less aggregation: $documents (MongoDB 5.1) is the source; other first stages
-- need a collection (73 InvalidNamespace); $documents must evaluate to an array (5858203).
SELECT cursorpage FROM aggregate_cursor_first_page('regress_agg', '{"aggregate": 1, "pipeline": [{"$documents": [{"x": 1}, {"x": 2}]}, {"$match": {"x": 2}}], "cursor": {}}');
SELECT cursorpage FROM aggregate_cursor_first_page('regress_agg', '{"aggregate": 1, "pipeline": [{"$documents": "$$d"}], "let": {"d": []}, "cursor": {}}');
SELECT cursorpage FROM aggregate_cursor_first_page('regress_agg', '{"aggregate": 1, "pipeline": [{"$documents": 1}], "cursor": {}}');
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM aggregate_cursor_first_page('regress_agg', '{"aggregate": 1, "pipeline": [{"$match": {}}], "cursor": {}}');
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM aggregate_cursor_first_page('regress_agg', '{"aggregate": "sales", "pipeline": [{"$documents": []}], "cursor": {}}');
\echo :LAST_ERROR_SQLSTATE
-- $bucket (manual): buckets by lower boundary, sorted, count by default; a default bucket
-- for values outside; output accumulators; no bucket and no default is 40066.
SELECT agg('[{"$bucket": {"groupBy": "$quantity", "boundaries": [0, 5, 15, 25]}}]');
SELECT agg('[{"$bucket": {"groupBy": "$quantity", "boundaries": [0, 5], "default": "Other", "output": {"items": {"$push": "$item"}, "n": {"$sum": 1}}}}]');
SELECT agg('[{"$bucket": {"groupBy": "$quantity", "boundaries": [0, 5]}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$bucket": {"groupBy": "$quantity", "boundaries": [5, 0]}}]');
\echo :LAST_ERROR_SQLSTATE
-- $lookup, equality form (manual): localField values (array elements too; missing is null)
-- equal to foreignField values (arrays by element; null matches missing); a missing
-- collection gives []; a dotted `as` sets a nested field; the pipeline form is not yet.
SELECT p_success FROM insert('regress_agg', '{"insert": "items", "documents": [
  {"_id": "abc", "desc": "pen", "tags": ["a", "b"]}, {"_id": "xyz", "desc": "ink"},
  {"_id": "n1", "code": null}, {"_id": "n2"}, {"_id": "k", "codes": ["jkl", "def"]}]}');
SELECT agg('[{"$match": {"_id": {"$in": [1, 3]}}}, {"$lookup": {"from": "items", "localField": "item", "foreignField": "_id", "as": "found"}}, {"$project": {"item": 1, "found.desc": 1}}]');
SELECT agg('[{"$match": {"_id": 2}}, {"$lookup": {"from": "items", "localField": "item", "foreignField": "codes", "as": "by_element"}}, {"$project": {"ids": "$by_element._id"}}]');
SELECT agg('[{"$match": {"_id": 1}}, {"$set": {"list": ["abc", "xyz"]}}, {"$lookup": {"from": "items", "localField": "list", "foreignField": "_id", "as": "x.y"}}, {"$project": {"n": {"$size": "$x.y"}}}]');
SELECT agg('[{"$match": {"_id": 1}}, {"$lookup": {"from": "items", "localField": "nothing", "foreignField": "code", "as": "nulls"}}, {"$project": {"ids": "$nulls._id"}}]');
SELECT agg('[{"$match": {"_id": 1}}, {"$lookup": {"from": "no_such", "localField": "item", "foreignField": "_id", "as": "none"}}, {"$project": {"none": 1}}]');
SELECT agg('[{"$lookup": {"from": "items", "localField": "item", "foreignField": "_id"}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$lookup": {"from": "items", "pipeline": [], "as": "p"}}]');
\echo :LAST_ERROR_SQLSTATE
-- $unionWith (4.4): this pipeline's documents then another collection's, optionally through
-- its own pipeline (parameters of both numbered apart); without coll, a $documents source.
SELECT agg('[{"$match": {"_id": {"$lte": 2}}}, {"$project": {"item": 1}}, {"$unionWith": {"coll": "items", "pipeline": [{"$match": {"desc": "ink"}}, {"$project": {"desc": 1}}]}}]');
SELECT agg('[{"$match": {"_id": 1}}, {"$project": {"_id": 1}}, {"$unionWith": "no_such"}]');
SELECT agg('[{"$match": {"_id": 1}}, {"$project": {"_id": 1}}, {"$unionWith": {"pipeline": [{"$documents": [{"x": 1}]}]}}]');
SELECT agg('[{"$unionWith": {"coll": "items", "bogus": 1}}]');
\echo :LAST_ERROR_SQLSTATE
-- $facet: one document, each facet the array of its sub-pipeline's results over the input.
SELECT agg('[{"$match": {"quantity": {"$gte": 5}}}, {"$facet": {"byItem": [{"$group": {"_id": "$item", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}], "total": [{"$count": "n"}], "none": [{"$match": {"item": "zzz"}}]}}]');
SELECT agg('[{"$facet": {"a": [{"$facet": {}}]}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$facet": {"a": 1}}]');
\echo :LAST_ERROR_SQLSTATE
-- $collStats (first stage): the collection's count, storage statistics, latencyStats' shape.
SELECT bson_get_value(d, 'ns') AS ns, bson_get_value(d, 'count') AS count,
       bson_get_value(d, 'storageStats.count') AS storage_count, bson_get_value(d, 'storageStats.nindexes') AS nindexes,
       bson_get_value(d, 'latencyStats.reads.ops') AS read_ops
  FROM (SELECT (agg('[{"$collStats": {"count": {}, "storageStats": {}, "latencyStats": {}}}]')::json -> 0)::text::bson AS d) s;
SELECT agg('[{"$match": {}}, {"$collStats": {}}]');
\echo :LAST_ERROR_SQLSTATE
SELECT agg('[{"$collStats": {"bogus": {}}}]');
\echo :LAST_ERROR_SQLSTATE
-- $sample: size documents in random order, each at most once; all when size exceeds them.
SELECT count(DISTINCT e->>'_id') AS distinct_sampled FROM json_array_elements(agg('[{"$sample": {"size": 3}}]')::json) e;
SELECT json_array_length(agg('[{"$sample": {"size": 100}}]')::json) = (SELECT json_array_length(agg('[]')::json)) AS all_when_larger;
SELECT agg('[{"$sample": {"size": -1}}]');
\echo :LAST_ERROR_SQLSTATE
-- $group's aggregate combines partial states: parallel workers give the sequential results
-- (sums, averages, extremes, counts, sets, standard deviation, $push of every value).
SELECT collection_id AS sales_id FROM documentdb_api_catalog.collections
 WHERE database_name = 'regress_agg' AND collection_name = 'sales' \gset
CREATE TEMP VIEW group_states AS
  SELECT documentdb_api_internal.bson_group_accumulate(document, '{"$sum": "$quantity"}')::text AS s,
         documentdb_api_internal.bson_group_accumulate(document, '{"$avg": "$price"}')::text AS a,
         documentdb_api_internal.bson_group_accumulate(document, '{"$max": "$quantity"}')::text AS mx,
         documentdb_api_internal.bson_group_accumulate(document, '{"$count": {}}')::text AS n,
         documentdb_api_internal.bson_group_accumulate(document, '{"$stdDevPop": "$quantity"}')::text AS sd,
         documentdb_api_internal.bson_group_accumulate(document, '{"$addToSet": "$item"}') AS items,
         documentdb_api_internal.bson_group_accumulate(document, '{"$push": "$_id"}') AS ids
    FROM documentdb_data.documents_:sales_id;
CREATE TEMP TABLE sequential AS SELECT * FROM group_states;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;
CREATE FUNCTION plan_has(query text, pattern text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
    IF line LIKE pattern THEN RETURN true; END IF;
  END LOOP;
  RETURN false;
END $$;
SELECT plan_has('SELECT * FROM group_states', '%Partial Aggregate%') AS partial_aggregate,
       plan_has('SELECT * FROM group_states', '%Workers Planned: 2%') AS two_workers;
SELECT p.s = q.s AS sum_same, p.a = q.a AS avg_same, p.mx = q.mx AS max_same, p.n = q.n AS count_same, p.sd = q.sd AS stddev_same,
       json_array_length(p.items::json -> '') = json_array_length(q.items::json -> '') AS set_same,
       (SELECT array_agg(e::text ORDER BY e::text) FROM json_array_elements(p.ids::json -> '') e)
       = (SELECT array_agg(e::text ORDER BY e::text) FROM json_array_elements(q.ids::json -> '') e) AS push_same
  FROM group_states p, sequential q;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
DROP TABLE sequential; DROP VIEW group_states; DROP FUNCTION plan_has(text, text);
DROP FUNCTION agg(text);
SELECT drop_database('regress_agg');
