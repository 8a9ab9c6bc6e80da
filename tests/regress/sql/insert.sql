-- insert: generated _id placed first, duplicate keys, ordered/unordered, limits.
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never

-- _id is moved to the front; collections are created implicitly.
SELECT p_result, p_success FROM insert('regress_ins', '{"insert": "c", "documents": [{"a": 1, "_id": 1}, {"_id": {"k": [1, 2]}, "b": null}]}');
SELECT document FROM collection('regress_ins', 'c') ORDER BY object_id;
-- A generated _id is an ObjectId and comes first.
SELECT insert_one('regress_ins', 'gen', '{"z": 1}');
SELECT bson_get_value(document, '_id') IS NOT NULL AS has_id,
       (SELECT k FROM bson_object_keys(document) k LIMIT 1) AS first_key,
       bson_get_value_text(document, '_id', true) ~ '"\$oid"' AS is_object_id
  FROM collection('regress_ins', 'gen');

-- Duplicate _id: write error 11000 with keyPattern/keyValue; ordered stops at the first error.
SELECT p_result, p_success FROM insert('regress_ins', '{"insert": "c", "documents": [{"_id": 5}, {"_id": 1}, {"_id": 6}]}');
SELECT bson_get_value_text(document, '_id') FROM collection('regress_ins', 'c') ORDER BY object_id;
-- Unordered goes on after errors; duplicates inside the batch too. 1 and 1.0 are the same key.
SELECT p_result FROM insert('regress_ins', '{"insert": "c", "documents": [{"_id": 6}, {"_id": 1.0}, {"_id": 7}, {"_id": 7}], "ordered": false}');
SELECT bson_get_value_text(document, '_id') FROM collection('regress_ins', 'c') ORDER BY object_id;

-- Documents as a bsonsequence (the OP_MSG document sequence form).
SELECT p_result FROM insert('regress_ins', '{"insert": "seq"}', '[{"_id": 1}, {"_id": 2}]'::bsonsequence);

-- Invalid _id values are per-document write errors.
SELECT p_result FROM insert('regress_ins', '{"insert": "c", "documents": [{"_id": [1, 2]}, {"_id": {"$regularExpression": {"pattern": "a", "options": ""}}}], "ordered": false}');
-- $-prefixed field names are allowed in inserts (MongoDB 5.0+).
SELECT p_result FROM insert('regress_ins', '{"insert": "c", "documents": [{"_id": 10, "$price": 5}]}');

-- Command errors name the problem.
SELECT p_result FROM insert('regress_ins', '{"insert": "c"}');
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM insert('regress_ins', '{"insert": "c", "documents": []}');
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM insert('regress_ins', '{"insert": "c", "documents": [{}], "nope": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM insert('regress_ins', '{"insert": "c", "documents": [1]}');
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM insert('regress_ins', '{"insert": 5, "documents": [{}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT p_result FROM insert('regress_ins', ('{"insert": "c", "documents": [{"big": "' || repeat('x', 16 * 1024 * 1024) || '"}]}')::bson);
\echo :LAST_ERROR_SQLSTATE

-- Writes with a validator.
SELECT create_collection_view('regress_ins', '{"create": "val", "validator": {"$jsonSchema": {"required": ["name"], "properties": {"age": {"bsonType": "int", "minimum": 0}}}}}');
SELECT p_result FROM insert('regress_ins', '{"insert": "val", "documents": [{"_id": 1, "name": "a", "age": 3}, {"_id": 2, "age": 4}, {"_id": 3, "name": "c", "age": -1}], "ordered": false}');
SELECT p_result FROM insert('regress_ins', '{"insert": "val", "documents": [{"_id": 4, "age": 4}], "bypassDocumentValidation": true}');
SELECT drop_database('regress_ins');
