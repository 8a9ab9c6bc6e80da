-- Declarations of the internal per-row functions that generated queries call (their names
-- are in pg_documentdb/src/sql_names.rs; implementations in pg_documentdb/src/sql_api/per_row.rs,
-- symbols `<name>_wrapper`). All are IMMUTABLE STRICT PARALLEL SAFE: pure functions of their
-- arguments. A `_let` twin takes the command's evaluated `let` variables as its last argument.

-- Query match, and its index-servable predicates (the operators @= @> @>= @< @<= @*= @? in documentdb_api.sql).
CREATE FUNCTION documentdb_api_internal.bson_query_match(document documentdb_core.bson, query documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_query_match_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_query_match_let(document documentdb_core.bson, query documentdb_core.bson, vars documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_query_match_let_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_eq(document documentdb_core.bson, operand documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_eq_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_gt(document documentdb_core.bson, operand documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_gt_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_gte(document documentdb_core.bson, operand documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_gte_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_lt(document documentdb_core.bson, operand documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_lt_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_lte(document documentdb_core.bson, operand documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_lte_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_in(document documentdb_core.bson, operand documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_in_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_exists(document documentdb_core.bson, operand documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_exists_wrapper';

-- Projections and per-document stages.
CREATE FUNCTION documentdb_api_internal.bson_project_find(document documentdb_core.bson, projection documentdb_core.bson, query documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_project_find_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_project_find_let(document documentdb_core.bson, projection documentdb_core.bson, query documentdb_core.bson, vars documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_project_find_let_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_project(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_project_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_project_let(document documentdb_core.bson, spec documentdb_core.bson, vars documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_project_let_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_add_fields(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_add_fields_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_add_fields_let(document documentdb_core.bson, spec documentdb_core.bson, vars documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_add_fields_let_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_unset(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_unset_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_replace_root(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_replace_root_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_replace_root_let(document documentdb_core.bson, spec documentdb_core.bson, vars documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_replace_root_let_wrapper';
-- $lookup (equality form): the foreign-side $in operand of one local document, and the
-- output document with the matches set at `as` (matches NULL: no match).
CREATE FUNCTION documentdb_api_internal.bson_lookup_condition(document documentdb_core.bson, local_field text, foreign_field text)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_condition_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_lookup_key(document documentdb_core.bson, local_field text)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_key_wrapper';
-- Does the document have exactly one key (what bson_lookup_key returns non-NULL for)?
-- Without building it: the $lookup + $unwind join reads the others apart.
CREATE FUNCTION documentdb_api_internal.bson_lookup_has_one_key(document documentdb_core.bson, local_field text)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_has_one_key_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_lookup_keys(document documentdb_core.bson, local_field text)
RETURNS documentdb_core.bson[] LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_keys_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_lookup_set(document documentdb_core.bson, as_field text, matches documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_set_wrapper';
-- The foreign document an unwound $lookup row holds at `as` (a $group folded into the join reads it).
CREATE FUNCTION documentdb_api_internal.bson_lookup_match(document documentdb_core.bson, as_field text)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_match_wrapper';
-- $lookup's output when at most one foreign document matches: `as` is [matched] or [].
CREATE FUNCTION documentdb_api_internal.bson_lookup_set_matched(document documentdb_core.bson, as_field text, matched documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_set_matched_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_lookup_set_one(document documentdb_core.bson, as_field text, matched documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_set_one_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_lookup_let(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_lookup_let_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_unwind(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS SETOF documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_unwind_wrapper';

-- Expressions, sort keys, distinct.
CREATE FUNCTION documentdb_api_internal.bson_expression_get(document documentdb_core.bson, expression documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_expression_get_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_expression_get_let(document documentdb_core.bson, expression documentdb_core.bson, vars documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_expression_get_let_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_orderby(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_orderby_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_distinct_unwind(document documentdb_core.bson, path text)
RETURNS SETOF documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_distinct_unwind_wrapper';

-- Multi-document updates.
CREATE FUNCTION documentdb_api_internal.bson_update_document(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_update_document_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_bytes_equal("left" documentdb_core.bson, "right" documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_bytes_equal_wrapper';

-- Called by the collections catalog's trigger (documentdb_api.sql): every backend drops its
-- cached collection lookups (pg_documentdb/src/catalog/cache.rs).
CREATE FUNCTION documentdb_api_internal.invalidate_collection_cache(relid oid)
RETURNS void LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'invalidate_collection_cache_wrapper';

-- Index maintenance (pg_documentdb/src/sql_api/indexes.rs): whether a document holds an
-- array along one of an index key pattern's paths, and the multikey trigger's WHEN clause
-- (the same test, false once the catalog already records the index as multikey).
CREATE FUNCTION documentdb_api_internal.bson_has_array_on_key_paths(document documentdb_core.bson, key_pattern documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_has_array_on_key_paths_wrapper';
-- A compound index's CHECK constraint: true, or MongoDB's 171 "cannot index parallel arrays".
CREATE FUNCTION documentdb_api_internal.bson_no_parallel_arrays(document documentdb_core.bson, key_pattern documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_no_parallel_arrays_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_index_becomes_multikey(document documentdb_core.bson, index_id bigint, key_pattern documentdb_core.bson)
RETURNS boolean LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'bson_index_becomes_multikey_wrapper';
-- The keys a multikey index holds for a document at a path (one per element and per array),
-- for the GIN index (array_ops) beside each single-field index; see commands/indexes.rs.
CREATE FUNCTION documentdb_api_internal.bson_index_terms(document documentdb_core.bson, path text)
RETURNS documentdb_core.bson[] LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_index_terms_wrapper';
-- One pass of the TTL monitor (pg_documentdb/src/ttl_worker.rs runs it every
-- documentdb.ttl_task_interval_seconds); superusers only.
CREATE FUNCTION documentdb_api_internal.delete_expired_documents(batch_size integer DEFAULT 10000)
RETURNS bigint LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'delete_expired_documents_wrapper';
REVOKE ALL ON FUNCTION documentdb_api_internal.delete_expired_documents(integer) FROM PUBLIC;
-- The key of a hashed index (an int8 hash of the value at a path; arrays refused).
CREATE FUNCTION documentdb_api_internal.bson_hashed_key(document documentdb_core.bson, path text)
RETURNS bigint LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_hashed_key_wrapper';
-- Text indexes (sql_api/text_search.rs): the strings a document contributes to a weight
-- class and the configuration of its language, fed to to_tsvector by the index expression
-- (commands/query_sql.rs text_vector_expression); the textScore projection.
CREATE FUNCTION documentdb_api_internal.bson_text_content(document documentdb_core.bson, index_spec documentdb_core.bson, class text)
RETURNS text LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_text_content_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_text_config(document documentdb_core.bson, index_spec documentdb_core.bson)
RETURNS regconfig LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_text_config_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_text_written(document documentdb_core.bson, index_spec documentdb_core.bson)
RETURNS text LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_text_written_wrapper';
-- `{"": <$text operand>}`: whether the document holds a case- or diacritic-sensitive search's words.
CREATE FUNCTION documentdb_api_internal.bson_text_matches_sensitively(document documentdb_core.bson, index_spec documentdb_core.bson, operand documentdb_core.bson)
RETURNS boolean LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_text_matches_sensitively_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_with_text_score(document documentdb_core.bson, field text, score float8)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_with_text_score_wrapper';
-- The key a document has in an index with the given key pattern ({$meta: "indexKey"}, returnKey).
CREATE FUNCTION documentdb_api_internal.bson_index_key(document documentdb_core.bson, key_pattern documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_index_key_wrapper';
-- The document with a {$meta: "indexKey"} field set to its key, unchanged when the key is NULL.
CREATE FUNCTION documentdb_api_internal.bson_with_index_key(document documentdb_core.bson, field text, key documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_with_index_key_wrapper';
-- The keys of a wildcard index ({p: path, v: value} for every covered path), for its GIN.
CREATE FUNCTION documentdb_api_internal.bson_wildcard_keys(document documentdb_core.bson, index_spec documentdb_core.bson)
RETURNS documentdb_core.bson[] LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_wildcard_keys_wrapper';
-- Unique multikey indexes (commands/indexes.rs): the keys compared (array elements), the
-- check's WHEN clause, and the check: another document sharing one of the new document's
-- keys is a duplicate, as MongoDB's unique multikey indexes rule.
CREATE FUNCTION documentdb_api_internal.bson_index_unique_keys(document documentdb_core.bson, path text)
RETURNS documentdb_core.bson[] LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_index_unique_keys_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_index_unique_key_tuples(document documentdb_core.bson, key_pattern documentdb_core.bson)
RETURNS documentdb_core.bson[] LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_index_unique_key_tuples_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_unique_keys_need_check(document documentdb_core.bson, index_id bigint, key_pattern documentdb_core.bson)
RETURNS boolean LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'bson_unique_keys_need_check_wrapper';
CREATE FUNCTION documentdb_api_internal.check_unique_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE shared boolean;
BEGIN
    -- TG_ARGV[0]: the unique index (documents_<collection>_idx_<id>); TG_ARGV[1]: the query
    -- telling whether another document shares one of the new document's keys. Writers of
    -- the index take turns, so two concurrent writes cannot both miss each other.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext(TG_ARGV[0]));
    EXECUTE TG_ARGV[1] INTO shared USING NEW.document, NEW.object_id;
    IF shared THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation',
            MESSAGE = pg_catalog.format('duplicate key value violates unique constraint "%s"', TG_ARGV[0]);
    END IF;
    RETURN NEW;
END
$$;

-- The gateway's cluster time (pg_documentdb_gw/src/cluster_time.rs): records a second, never
-- lowering the recorded one, and returns the recorded second.
CREATE FUNCTION documentdb_api_internal.record_cluster_time(p_seconds bigint) RETURNS bigint
LANGUAGE sql VOLATILE STRICT AS $$
    INSERT INTO documentdb_api_catalog.cluster_time (seconds) VALUES (p_seconds)
    ON CONFLICT (only_row) DO UPDATE
        SET seconds = GREATEST(EXCLUDED.seconds, documentdb_api_catalog.cluster_time.seconds)
    RETURNING seconds
$$;
REVOKE ALL ON FUNCTION documentdb_api_internal.record_cluster_time(bigint) FROM PUBLIC;

-- $out and $merge (sql_api/out_merge.rs): per result document; VOLATILE since they may
-- generate an ObjectId.
CREATE FUNCTION documentdb_api_internal.bson_out_document(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'bson_out_document_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_merge_source(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'bson_merge_source_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_merge_matched(target documentdb_core.bson, source documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'bson_merge_matched_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_merge_unmatched(source documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C VOLATILE STRICT AS 'MODULE_PATHNAME', 'bson_merge_unmatched_wrapper';

-- $redact (sql_api/per_row.rs): NULL when the document is pruned.
CREATE FUNCTION documentdb_api_internal.bson_dollar_redact(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_redact_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_dollar_redact_let(document documentdb_core.bson, spec documentdb_core.bson, vars documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_dollar_redact_let_wrapper';

-- $setWindowFields (sql_api/window.rs).
CREATE FUNCTION documentdb_api_internal.bson_set_field(document documentdb_core.bson, path text, value documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_set_field_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_window_range_key(document documentdb_core.bson, path text, unit text)
RETURNS float8 LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_window_range_key_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_linear_fill(x documentdb_core.bson, own documentdb_core.bson, previous documentdb_core.bson, next documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_linear_fill_wrapper';

-- $bucketAuto (sql_api/bucket_auto.rs): keys, the running bucket numbering, outputs.
CREATE FUNCTION documentdb_api_internal.bson_bucket_auto_key(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_bucket_auto_key_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_bucket_auto_assign_transition(internal, documentdb_core.bson, bigint, documentdb_core.bson)
RETURNS internal LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'bson_bucket_auto_assign_transition_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_bucket_auto_assign_final(internal)
RETURNS int4 LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'bson_bucket_auto_assign_final_wrapper';
CREATE AGGREGATE documentdb_api_internal.bson_bucket_auto_assign(documentdb_core.bson, bigint, documentdb_core.bson) (
    SFUNC = documentdb_api_internal.bson_bucket_auto_assign_transition,
    STYPE = internal,
    FINALFUNC = documentdb_api_internal.bson_bucket_auto_assign_final
);
CREATE FUNCTION documentdb_api_internal.bson_bucket_auto_output(min documentdb_core.bson, max documentdb_core.bson, next_min documentdb_core.bson, previous_max documentdb_core.bson, fields documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_bucket_auto_output_wrapper';

-- $graphLookup (sql_api/per_row.rs): the search from one document; it queries the foreign
-- collection, so STABLE (it sees the calling statement's snapshot).
CREATE FUNCTION documentdb_api_internal.bson_graph_lookup(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'bson_graph_lookup_wrapper';

-- $densify (sql_api/densify.rs).
CREATE FUNCTION documentdb_api_internal.bson_densify_partition(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_densify_partition_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_densify_value(document documentdb_core.bson, spec documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_densify_value_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_densify_generate(document documentdb_core.bson, partition documentdb_core.bson,
    value documentdb_core.bson, next documentdb_core.bson, first_in_partition boolean,
    partition_min documentdb_core.bson, partition_max documentdb_core.bson,
    global_min documentdb_core.bson, global_max documentdb_core.bson, spec documentdb_core.bson)
RETURNS SETOF documentdb_core.bson LANGUAGE C IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_densify_generate_wrapper';
CREATE FUNCTION documentdb_api_internal.bson_densify_without_documents(spec documentdb_core.bson)
RETURNS SETOF documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_densify_without_documents_wrapper';

-- An accumulator spec with a $lookup pipeline's per-document variables (sql_api/group_accumulator.rs).
CREATE FUNCTION documentdb_api_internal.bson_accumulator_with_vars(spec documentdb_core.bson, vars documentdb_core.bson)
RETURNS documentdb_core.bson LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_accumulator_with_vars_wrapper';
