-- Collection and database management through documentdb_api.
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never

SELECT create_collection('regress_coll', 'a');
SELECT create_collection('regress_coll', 'a') AS created_again;
SELECT create_collection_view('regress_coll', '{"create": "b", "validator": {"x": {"$type": "int"}}, "validationAction": "error"}');
-- An existing name is NamespaceExists (48).
SELECT create_collection_view('regress_coll', '{"create": "b"}');
\echo :LAST_ERROR_SQLSTATE
-- Invalid names are InvalidNamespace (73).
SELECT create_collection('regress_coll', 'bad$name');
\echo :LAST_ERROR_SQLSTATE
SELECT create_collection('bad.db', 'c');
\echo :LAST_ERROR_SQLSTATE
-- Unknown create options are rejected, naming the field (40415).
SELECT create_collection_view('regress_coll', '{"create": "c", "bogus": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT create_collection_view('regress_coll', '{"create": "c", "capped": true, "size": 100}');
\echo :LAST_ERROR_SQLSTATE

-- Views.
SELECT insert_one('regress_coll', 'a', '{"_id": 1, "x": 1, "y": "one"}');
SELECT insert_one('regress_coll', 'a', '{"_id": 2, "x": 2, "y": "two"}');
SELECT create_collection_view('regress_coll', '{"create": "v", "viewOn": "a", "pipeline": [{"$match": {"x": {"$gt": 1}}}, {"$project": {"y": 1}}]}');
SELECT cursorpage FROM find_cursor_first_page('regress_coll', '{"find": "v"}');
SELECT document FROM count_query('regress_coll', '{"count": "v"}');
SELECT insert_one('regress_coll', 'v', '{"x": 3}');
\echo :LAST_ERROR_SQLSTATE

-- listCollections (names and types; uuids vary).
SELECT bson_get_value(cursorpage, 'cursor.firstBatch.name'), bson_get_value(cursorpage, 'cursor.firstBatch.type')
  FROM list_collections_cursor_first_page('regress_coll', '{"listCollections": 1}');
SELECT cursorpage FROM list_collections_cursor_first_page('regress_coll', '{"listCollections": 1, "nameOnly": true, "filter": {"type": "view"}}');
SELECT cursorpage FROM list_indexes_cursor_first_page('regress_coll', '{"listIndexes": "a"}');
SELECT cursorpage FROM list_indexes_cursor_first_page('regress_coll', '{"listIndexes": "missing"}');
\echo :LAST_ERROR_SQLSTATE

-- collMod: validator and level/action.
SELECT coll_mod('regress_coll', 'a', '{"collMod": "a", "validator": {"x": {"$lt": 100}}, "validationLevel": "strict"}');
SELECT p_result FROM insert('regress_coll', '{"insert": "a", "documents": [{"_id": 3, "x": 500}]}');
SELECT coll_mod('regress_coll', 'a', '{"collMod": "a", "validationAction": "warn"}');
SELECT p_result FROM insert('regress_coll', '{"insert": "a", "documents": [{"_id": 3, "x": 500}]}');
SELECT coll_mod('regress_coll', 'a', '{"collMod": "a", "validator": {}}');
SELECT coll_mod('regress_coll', 'missing', '{"collMod": "missing"}');
\echo :LAST_ERROR_SQLSTATE
SELECT coll_mod('regress_coll', 'a', '{"collMod": "a", "validationLevel": "sometimes"}');
\echo :LAST_ERROR_SQLSTATE

-- renameCollection.
SELECT rename_collection('regress_coll', 'a', 'a2');
SELECT document FROM count_query('regress_coll', '{"count": "a2"}');
SELECT rename_collection('regress_coll', 'nope', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT create_collection('regress_coll', 'target');
SELECT rename_collection('regress_coll', 'a2', 'target');
\echo :LAST_ERROR_SQLSTATE
SELECT rename_collection('regress_coll', 'a2', 'target', true);

-- Stats (sizes vary: show the shape).
SELECT bson_get_value_text(coll_stats('regress_coll', 'target'), 'count') AS count,
       bson_get_value_text(coll_stats('regress_coll', 'target'), 'nindexes') AS nindexes;
SELECT bson_get_value_text(db_stats('regress_coll'), 'collections') AS collections,
       bson_get_value_text(db_stats('regress_coll'), 'views') AS views,
       bson_get_value_text(db_stats('regress_coll'), 'objects') AS objects;
SELECT coll_stats('regress_coll', 'missing');
\echo :LAST_ERROR_SQLSTATE

-- listDatabases.
SELECT list_databases('{"listDatabases": 1, "nameOnly": true, "filter": {"name": "regress_coll"}}');

-- Drops.
SELECT drop_collection('regress_coll', 'b');
SELECT drop_collection('regress_coll', 'b') AS dropped_again;
SELECT drop_database('regress_coll');
SELECT list_databases('{"listDatabases": 1, "nameOnly": true, "filter": {"name": "regress_coll"}}');
SELECT count(*) FROM documentdb_api.collection('regress_coll', 'target');
