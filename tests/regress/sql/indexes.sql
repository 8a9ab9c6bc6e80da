-- createIndexes / listIndexes / dropIndexes; unique indexes are enforced.
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never
SELECT p_success FROM insert('regress_idx', '{"insert": "c", "documents": [{"_id": 1, "a": 1, "b": "x"}, {"_id": 2, "a": 2}]}');
SELECT retval, ok, requests IS NULL AS built FROM create_indexes_background('regress_idx', '{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1", "unique": true}, {"key": {"b": -1, "a": 1}, "name": "b_-1_a_1"}]}');
-- Creating the same index again is a no-op; a conflicting one is an error.
SELECT retval FROM create_indexes_background('regress_idx', '{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1", "unique": true}]}');
SELECT retval FROM create_indexes_background('regress_idx', '{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "other"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT retval FROM create_indexes_background('regress_idx', '{"createIndexes": "c", "indexes": [{"key": {"b": 1}, "name": "a_1"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT retval FROM create_indexes_background('regress_idx', '{"createIndexes": "c", "indexes": [{"key": {"a": 0}, "name": "bad"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT retval FROM create_indexes_background('regress_idx', '{"createIndexes": "c", "indexes": [{"key": {"a": 1}}]}');
\echo :LAST_ERROR_SQLSTATE
-- New collections are created implicitly.
SELECT retval FROM create_indexes_background('regress_idx', '{"createIndexes": "new", "indexes": [{"key": {"z": 1}, "name": "z_1", "sparse": true}]}');
SELECT cursorpage FROM list_indexes_cursor_first_page('regress_idx', '{"listIndexes": "c"}');

-- The unique index rejects duplicates with MongoDB's error shape.
SELECT p_result FROM insert('regress_idx', '{"insert": "c", "documents": [{"_id": 3, "a": 1}, {"_id": 4, "a": 4}], "ordered": false}');
SELECT p_result FROM update('regress_idx', '{"update": "c", "updates": [{"q": {"_id": 4}, "u": {"$set": {"a": 2}}}]}');

-- Sorting by an indexed key can use the index.
CREATE FUNCTION uses_index_scan(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text; found boolean := false;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
        found := found OR line ~ 'Index Scan using documents_[0-9]+_idx_';
    END LOOP;
    RETURN found;
END $$;
SELECT collection_id AS cid FROM documentdb_api_catalog.collections WHERE database_name = 'regress_idx' AND collection_name = 'c' \gset
SET enable_seqscan = off;
SELECT uses_index_scan(format('SELECT document FROM documentdb_data.documents_%s
  ORDER BY documentdb_api_internal.bson_orderby(document, ''{ "a" : 1 }''::bson)', :cid)) AS sort_uses_index;
RESET enable_seqscan;
DROP FUNCTION uses_index_scan(text);

CALL drop_indexes('regress_idx', '{"dropIndexes": "c", "index": "a_1"}');
CALL drop_indexes('regress_idx', '{"dropIndexes": "c", "index": {"b": -1, "a": 1}}');
CALL drop_indexes('regress_idx', '{"dropIndexes": "c", "index": "_id_"}');
\echo :LAST_ERROR_SQLSTATE
CALL drop_indexes('regress_idx', '{"dropIndexes": "c", "index": "nope"}');
\echo :LAST_ERROR_SQLSTATE
CALL drop_indexes('regress_idx', '{"dropIndexes": "new", "index": "*"}');
SELECT cursorpage FROM list_indexes_cursor_first_page('regress_idx', '{"listIndexes": "new"}');
SELECT drop_database('regress_idx');
