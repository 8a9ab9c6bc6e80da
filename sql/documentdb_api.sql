-- The public command functions of documentdb_api, declared to match DocumentDB's SQL API
-- (names, OUT parameters, defaults). Implementations are Rust functions in
-- pg_documentdb/src/sql_api/ (one file per command family), symbols `<name>_wrapper`.

CREATE FUNCTION documentdb_api.insert(
    p_database_name text, p_insert documentdb_core.bson,
    p_insert_documents documentdb_core.bsonsequence DEFAULT NULL, p_transaction_id text DEFAULT NULL,
    OUT p_result documentdb_core.bson, OUT p_success boolean)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'insert_wrapper';

CREATE FUNCTION documentdb_api.insert_one(
    p_database_name text, p_collection_name text, p_document documentdb_core.bson,
    p_transaction_id text DEFAULT NULL)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'insert_one_wrapper';

CREATE PROCEDURE documentdb_api.insert_bulk(
    IN p_database_name text, IN p_insert documentdb_core.bson,
    IN p_insert_documents documentdb_core.bsonsequence DEFAULT NULL, IN p_transaction_id text DEFAULT NULL,
    INOUT p_result documentdb_core.bson DEFAULT NULL, INOUT p_success boolean DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.p_result, r.p_success INTO p_result, p_success
    FROM documentdb_api.insert(p_database_name, p_insert, p_insert_documents, p_transaction_id) r;
END
$$;

CREATE FUNCTION documentdb_api.update(
    p_database_name text, p_update documentdb_core.bson,
    p_insert_documents documentdb_core.bsonsequence DEFAULT NULL, p_transaction_id text DEFAULT NULL,
    OUT p_result documentdb_core.bson, OUT p_success boolean)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'update_wrapper';

CREATE PROCEDURE documentdb_api.update_bulk(
    IN p_database_name text, IN p_update documentdb_core.bson,
    IN p_insert_documents documentdb_core.bsonsequence DEFAULT NULL, IN p_transaction_id text DEFAULT NULL,
    INOUT p_result documentdb_core.bson DEFAULT NULL, INOUT p_success boolean DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT r.p_result, r.p_success INTO p_result, p_success
    FROM documentdb_api.update(p_database_name, p_update, p_insert_documents, p_transaction_id) r;
END
$$;

CREATE FUNCTION documentdb_api.delete(
    p_database_name text, p_delete documentdb_core.bson,
    p_insert_documents documentdb_core.bsonsequence DEFAULT NULL, p_transaction_id text DEFAULT NULL,
    OUT p_result documentdb_core.bson, OUT p_success boolean)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'delete_wrapper';

CREATE FUNCTION documentdb_api.find_and_modify(
    p_database_name text, p_message documentdb_core.bson, p_transaction_id text DEFAULT NULL,
    OUT p_result documentdb_core.bson, OUT p_success boolean)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'find_and_modify_wrapper';

CREATE FUNCTION documentdb_api.find_cursor_first_page(
    database text, commandspec documentdb_core.bson, cursorid bigint DEFAULT 0,
    OUT cursorpage documentdb_core.bson, OUT continuation documentdb_core.bson,
    OUT persistconnection boolean, OUT cursorid bigint)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'find_cursor_first_page_wrapper';

CREATE FUNCTION documentdb_api.aggregate_cursor_first_page(
    database text, commandspec documentdb_core.bson, cursorid bigint DEFAULT 0,
    OUT cursorpage documentdb_core.bson, OUT continuation documentdb_core.bson,
    OUT persistconnection boolean, OUT cursorid bigint)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'aggregate_cursor_first_page_wrapper';

CREATE FUNCTION documentdb_api.list_collections_cursor_first_page(
    database text, commandspec documentdb_core.bson, cursorid bigint DEFAULT 0,
    OUT cursorpage documentdb_core.bson, OUT continuation documentdb_core.bson,
    OUT persistconnection boolean, OUT cursorid bigint)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'list_collections_cursor_first_page_wrapper';

CREATE FUNCTION documentdb_api.list_indexes_cursor_first_page(
    database text, commandspec documentdb_core.bson, cursorid bigint DEFAULT 0,
    OUT cursorpage documentdb_core.bson, OUT continuation documentdb_core.bson,
    OUT persistconnection boolean, OUT cursorid bigint)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'list_indexes_cursor_first_page_wrapper';

CREATE FUNCTION documentdb_api.cursor_get_more(
    database text, getmorespec documentdb_core.bson, continuationspec documentdb_core.bson,
    OUT cursorpage documentdb_core.bson, OUT continuation documentdb_core.bson)
RETURNS record LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'cursor_get_more_wrapper';

CREATE FUNCTION documentdb_api.count_query(
    database text, countspec documentdb_core.bson, OUT document documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'count_query_wrapper';

CREATE FUNCTION documentdb_api.distinct_query(
    database text, distinctspec documentdb_core.bson, OUT document documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'distinct_query_wrapper';

CREATE FUNCTION documentdb_api.create_collection(p_database_name text, p_collection_name text)
RETURNS boolean LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'create_collection_wrapper';

CREATE FUNCTION documentdb_api.create_collection_view(dbname text, createspec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'create_collection_view_wrapper';

CREATE FUNCTION documentdb_api.drop_collection(
    p_database_name text, p_collection_name text, p_write_concern documentdb_core.bson DEFAULT NULL,
    p_collection_uuid uuid DEFAULT NULL, p_track_changes boolean DEFAULT true)
RETURNS boolean LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'drop_collection_wrapper';

CREATE FUNCTION documentdb_api.drop_database(p_database_name text, p_write_concern documentdb_core.bson DEFAULT NULL)
RETURNS void LANGUAGE C VOLATILE AS 'MODULE_PATHNAME', 'drop_database_wrapper';

CREATE FUNCTION documentdb_api.rename_collection(
    p_database_name text, p_collection_name text, p_target_name text, p_drop_target boolean DEFAULT false)
RETURNS void LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'rename_collection_wrapper';

CREATE FUNCTION documentdb_api.coll_mod(p_database_name text, p_collection_name text, p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'coll_mod_wrapper';

CREATE FUNCTION documentdb_api.list_databases(p_list_databases_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'list_databases_wrapper';

CREATE FUNCTION documentdb_api.coll_stats(p_database_name text, p_collection_name text, p_scale double precision DEFAULT 1)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'coll_stats_wrapper';

CREATE FUNCTION documentdb_api.db_stats(p_database_name text, p_scale double precision DEFAULT 1, p_freestorage boolean DEFAULT false)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'db_stats_wrapper';

CREATE FUNCTION documentdb_api_internal.delete_cursors(cursor_ids bigint[])
RETURNS bigint[] LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'delete_cursors_wrapper';

-- The backends among p_pids holding a lock on the table of a collection of p_database_name
-- (of p_collection_names, or any when NULL): the gateway closes the cursors pinned on them
-- before a drop or rename of those collections, which would otherwise wait for them (a
-- cursor reads a collection under another name through a view, $lookup or $unionWith).
CREATE FUNCTION documentdb_api_internal.backends_locking_collections(
    p_database_name text, p_collection_names text[], p_pids int4[])
RETURNS SETOF int4 LANGUAGE sql STABLE AS $$
    SELECT DISTINCT l.pid FROM pg_catalog.pg_locks l
    JOIN documentdb_api_catalog.collections c
      ON l.relation = pg_catalog.to_regclass(pg_catalog.format('documentdb_data.documents_%s', c.collection_id))
    WHERE l.locktype = 'relation'
      AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
      AND c.database_name = p_database_name
      AND (p_collection_names IS NULL OR c.collection_name = ANY (p_collection_names))
      AND l.pid = ANY (p_pids)
$$;

CREATE FUNCTION documentdb_api_internal.collection_table(p_database_name text, p_collection_name text)
RETURNS text LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'collection_table_wrapper';

-- The documents of a collection as rows (empty when it doesn't exist).
CREATE FUNCTION documentdb_api.collection(
    p_database_name text, p_collection_name text,
    OUT shard_key_value bigint, OUT object_id documentdb_core.bson, OUT document documentdb_core.bson)
RETURNS SETOF record LANGUAGE plpgsql STABLE STRICT AS $$
DECLARE
    v_table text := documentdb_api_internal.collection_table(p_database_name, p_collection_name);
BEGIN
    IF v_table IS NOT NULL THEN
        RETURN QUERY EXECUTE format('SELECT shard_key_value, object_id, document FROM %s', v_table);
    END IF;
END
$$;

-- $group accumulators
-- (partial states combine, so PostgreSQL may aggregate in parallel workers)
CREATE FUNCTION documentdb_api_internal.bson_group_accumulate_transition(internal, documentdb_core.bson, documentdb_core.bson)
RETURNS internal LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_group_accumulate_transition_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_group_accumulate_final(internal)
RETURNS documentdb_core.bson LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_group_accumulate_final_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_group_accumulate_combine(internal, internal)
RETURNS internal LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_group_accumulate_combine_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_group_accumulate_serialize(internal)
RETURNS bytea LANGUAGE C STRICT STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_group_accumulate_serialize_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_group_accumulate_deserialize(bytea, internal)
RETURNS internal LANGUAGE C STRICT STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_group_accumulate_deserialize_wrapper';
CREATE AGGREGATE documentdb_api_internal.bson_group_accumulate(documentdb_core.bson, documentdb_core.bson) (
    SFUNC = documentdb_api_internal.bson_group_accumulate_transition,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = documentdb_api_internal.bson_group_accumulate_final,
    COMBINEFUNC = documentdb_api_internal.bson_group_accumulate_combine,
    SERIALFUNC = documentdb_api_internal.bson_group_accumulate_serialize,
    DESERIALFUNC = documentdb_api_internal.bson_group_accumulate_deserialize,
    PARALLEL = SAFE
);

-- Users (pg_documentdb/src/sql_api/users.rs).
CREATE FUNCTION documentdb_api.create_user(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'create_user_wrapper';
CREATE FUNCTION documentdb_api.drop_user(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'drop_user_wrapper';
CREATE FUNCTION documentdb_api.update_user(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'update_user_wrapper';
CREATE FUNCTION documentdb_api.users_info(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'users_info_wrapper';
CREATE FUNCTION documentdb_api.connection_status(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'connection_status_wrapper';
CREATE FUNCTION documentdb_api.grant_roles_to_user(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'grant_roles_to_user_wrapper';
CREATE FUNCTION documentdb_api.revoke_roles_from_user(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'revoke_roles_from_user_wrapper';
CREATE FUNCTION documentdb_api.drop_all_users_from_database(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'drop_all_users_from_database_wrapper';
-- Roles (pg_documentdb/src/sql_api/users.rs, commands/roles.rs).
CREATE FUNCTION documentdb_api.create_role(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'create_role_wrapper';
CREATE FUNCTION documentdb_api.drop_role(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'drop_role_wrapper';
CREATE FUNCTION documentdb_api.update_role(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'update_role_wrapper';
CREATE FUNCTION documentdb_api.roles_info(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'roles_info_wrapper';
CREATE FUNCTION documentdb_api.grant_roles_to_role(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'grant_roles_to_role_wrapper';
CREATE FUNCTION documentdb_api.revoke_roles_from_role(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'revoke_roles_from_role_wrapper';
CREATE FUNCTION documentdb_api.grant_privileges_to_role(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'grant_privileges_to_role_wrapper';
CREATE FUNCTION documentdb_api.revoke_privileges_from_role(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'revoke_privileges_from_role_wrapper';
CREATE FUNCTION documentdb_api.drop_all_roles_from_database(p_spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'drop_all_roles_from_database_wrapper';
-- The gateway's SCRAM lookup (as its superuser): which login role is user $2 of database $1.
CREATE FUNCTION documentdb_api_internal.authentication_role(p_db text, p_user text)
RETURNS text LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'authentication_role_wrapper';
REVOKE ALL ON FUNCTION documentdb_api_internal.authentication_role(text, text) FROM PUBLIC;
-- The current user's actions on the cluster resource (for the commands the gateway answers).
CREATE FUNCTION documentdb_api_internal.cluster_actions()
RETURNS text[] LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'cluster_actions_wrapper';

-- Versions (pg_documentdb/src/sql_api/diagnostics.rs).
CREATE FUNCTION documentdb_api.binary_version()
RETURNS text LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'binary_version_wrapper';
CREATE FUNCTION documentdb_api.binary_extended_version()
RETURNS text LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'binary_extended_version_wrapper';

GRANT USAGE ON SCHEMA documentdb_api TO PUBLIC;

-- Indexes.
CREATE FUNCTION documentdb_api.create_indexes_background(
    p_database_name text, p_index_spec documentdb_core.bson,
    OUT retval documentdb_core.bson, OUT ok boolean, OUT requests documentdb_core.bson)
RETURNS record LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'create_indexes_background_wrapper';

CREATE FUNCTION documentdb_api_internal.drop_indexes_internal(p_database_name text, p_arg documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'drop_indexes_internal_wrapper';

CREATE PROCEDURE documentdb_api.drop_indexes(
    IN p_database_name text, IN p_arg documentdb_core.bson, INOUT retval documentdb_core.bson DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
    retval := documentdb_api_internal.drop_indexes_internal(p_database_name, p_arg);
END
$$;

CREATE FUNCTION documentdb_api_internal.re_index_internal(p_database_name text, p_arg documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 're_index_internal_wrapper';

CREATE PROCEDURE documentdb_api.re_index(
    IN p_database_name text, IN p_arg documentdb_core.bson, INOUT retval documentdb_core.bson DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
    retval := documentdb_api_internal.re_index_internal(p_database_name, p_arg);
END
$$;

-- Index builds are synchronous: any request is complete.
CREATE FUNCTION documentdb_api_internal.check_build_index_status(
    p_index_build_context documentdb_core.bson, OUT retval documentdb_core.bson, OUT ok boolean, OUT complete boolean)
RETURNS record LANGUAGE sql STABLE AS $$
    SELECT '{ "ok" : 1 }'::documentdb_core.bson, true, true
$$;

CREATE FUNCTION documentdb_api_internal.explain(database text, explainspec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'explain_wrapper';

-- Query operators for the index-servable parts of a filter: `document <op> '{ "path" : value }'`
-- means `{ path: { $op: value } }` with MongoDB's semantics (array elements match, null matches
-- missing, type bracketing). Generated WHERE clauses AND them with the full match; index
-- opclasses attach to them. matchingsel estimates selectivity by running the operator over
-- the column's statistics sample.
CREATE OPERATOR documentdb_api_catalog.@= (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    PROCEDURE = documentdb_api_internal.bson_dollar_eq, RESTRICT = matchingsel, JOIN = matchingjoinsel);
CREATE OPERATOR documentdb_api_catalog.@> (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    PROCEDURE = documentdb_api_internal.bson_dollar_gt, RESTRICT = matchingsel, JOIN = matchingjoinsel);
CREATE OPERATOR documentdb_api_catalog.@>= (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    PROCEDURE = documentdb_api_internal.bson_dollar_gte, RESTRICT = matchingsel, JOIN = matchingjoinsel);
CREATE OPERATOR documentdb_api_catalog.@< (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    PROCEDURE = documentdb_api_internal.bson_dollar_lt, RESTRICT = matchingsel, JOIN = matchingjoinsel);
CREATE OPERATOR documentdb_api_catalog.@<= (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    PROCEDURE = documentdb_api_internal.bson_dollar_lte, RESTRICT = matchingsel, JOIN = matchingjoinsel);
CREATE OPERATOR documentdb_api_catalog.@*= (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    PROCEDURE = documentdb_api_internal.bson_dollar_in, RESTRICT = matchingsel, JOIN = matchingjoinsel);
CREATE OPERATOR documentdb_api_catalog.@? (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    PROCEDURE = documentdb_api_internal.bson_dollar_exists, RESTRICT = matchingsel, JOIN = matchingjoinsel);

-- Key ranges for the wildcard index's GIN (pg_documentdb/src/gin_range.rs): array_ops plus
-- strategy 5, `keys @~ {lo, loInc, hi, hiInc}` (some key in the range), by partial match.
CREATE FUNCTION documentdb_api_internal.bson_array_has_key_in_range(documentdb_core.bson[], documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_array_has_key_in_range_wrapper';
CREATE OPERATOR documentdb_api_catalog.@~ (
    LEFTARG = documentdb_core.bson[], RIGHTARG = documentdb_core.bson,
    PROCEDURE = documentdb_api_internal.bson_array_has_key_in_range, RESTRICT = matchingsel, JOIN = matchingjoinsel);
CREATE FUNCTION documentdb_api_internal.bson_gin_range_extract_query(documentdb_core.bson[], internal, int2, internal, internal, internal, internal)
RETURNS internal LANGUAGE C IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'bson_gin_range_extract_query_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_gin_range_consistent(internal, int2, documentdb_core.bson[], int4, internal, internal, internal, internal)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'bson_gin_range_consistent_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_gin_range_compare_partial(documentdb_core.bson, documentdb_core.bson, int2, internal)
RETURNS int4 LANGUAGE C IMMUTABLE STRICT AS 'MODULE_PATHNAME', 'bson_gin_range_compare_partial_wrapper';
CREATE OPERATOR CLASS documentdb_api_internal.bson_array_range_ops FOR TYPE documentdb_core.bson[] USING gin AS
    OPERATOR 1 pg_catalog.&& (anyarray, anyarray),
    OPERATOR 2 pg_catalog.@> (anyarray, anyarray),
    OPERATOR 3 pg_catalog.<@ (anyarray, anyarray),
    OPERATOR 4 pg_catalog.= (anyarray, anyarray),
    OPERATOR 5 documentdb_api_catalog.@~ (documentdb_core.bson[], documentdb_core.bson),
    FUNCTION 1 documentdb_core.bson_compare(documentdb_core.bson, documentdb_core.bson),
    FUNCTION 2 pg_catalog.ginarrayextract(anyarray, internal, internal),
    FUNCTION 3 documentdb_api_internal.bson_gin_range_extract_query(documentdb_core.bson[], internal, int2, internal, internal, internal, internal),
    FUNCTION 4 documentdb_api_internal.bson_gin_range_consistent(internal, int2, documentdb_core.bson[], int4, internal, internal, internal, internal),
    FUNCTION 5 documentdb_api_internal.bson_gin_range_compare_partial(documentdb_core.bson, documentdb_core.bson, int2, internal),
    STORAGE documentdb_core.bson;

-- Every change to the collections catalog, by our functions or by hand, invalidates the
-- backends' cached collection lookups (pg_documentdb/src/catalog/cache.rs).
REVOKE ALL ON FUNCTION documentdb_api_internal.invalidate_collection_cache(oid) FROM PUBLIC;
CREATE FUNCTION documentdb_api_internal.collections_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    PERFORM documentdb_api_internal.invalidate_collection_cache('documentdb_api_catalog.collections'::regclass);
    RETURN NULL;
END
$$;
CREATE TRIGGER collections_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON documentdb_api_catalog.collections
    FOR EACH STATEMENT EXECUTE FUNCTION documentdb_api_internal.collections_changed();
-- A collection's cached lookup carries its indexes: index changes invalidate it too.
CREATE TRIGGER collection_indexes_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON documentdb_api_catalog.collection_indexes
    FOR EACH STATEMENT EXECUTE FUNCTION documentdb_api_internal.collections_changed();

-- MongoDB's multikey flag. While an index is not multikey, a row trigger on its collection's
-- table watches writes (pg_documentdb/src/commands/indexes.rs creates it): its WHEN clause,
-- evaluated per row in Rust, is true only for the first document that puts an array along
-- one of the key's paths; this function then records the flag (queries stop using the
-- index's key bounds, which hold only for single-valued keys).
CREATE FUNCTION documentdb_api_internal.mark_index_multikey() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    UPDATE documentdb_api_catalog.collection_indexes SET index_is_multikey = true
    WHERE index_id = TG_ARGV[0]::bigint AND NOT index_is_multikey;
    RETURN NEW;
END
$$;
