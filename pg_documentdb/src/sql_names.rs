//! The SQL names generated queries call, in one table (the extension's twin of the
//! gateway's `sql.rs`): a builder names the function through a constant here, and the
//! constant's comment names the Rust function behind it.

/// The bson type every generated parameter is cast to.
pub const BSON: &str = "documentdb_core.bson";

/// A per-row function and its twin for commands with `let` variables (the same function
/// with the evaluated variables as an extra last argument). `sql_api/per_row.rs`.
#[derive(Debug, Clone, Copy)]
pub struct PerRow {
    pub plain: &'static str,
    pub with_vars: &'static str,
}

/// `document` matches a MongoDB filter (`bson_query_match`).
pub const QUERY_MATCH: PerRow = PerRow {
    plain: "documentdb_api_internal.bson_query_match",
    with_vars: "documentdb_api_internal.bson_query_match_let",
};
/// A `find` projection, with the filter for positional `$` (`bson_project_find`).
pub const PROJECT_FIND: PerRow = PerRow {
    plain: "documentdb_api_internal.bson_project_find",
    with_vars: "documentdb_api_internal.bson_project_find_let",
};
/// A `$project` stage (`bson_dollar_project`).
pub const PROJECT: PerRow = PerRow {
    plain: "documentdb_api_internal.bson_dollar_project",
    with_vars: "documentdb_api_internal.bson_dollar_project_let",
};
/// An `$addFields` / `$set` stage (`bson_dollar_add_fields`).
pub const ADD_FIELDS: PerRow = PerRow {
    plain: "documentdb_api_internal.bson_dollar_add_fields",
    with_vars: "documentdb_api_internal.bson_dollar_add_fields_let",
};
/// A `$replaceRoot` / `$replaceWith` stage (`bson_dollar_replace_root`).
pub const REPLACE_ROOT: PerRow = PerRow {
    plain: "documentdb_api_internal.bson_dollar_replace_root",
    with_vars: "documentdb_api_internal.bson_dollar_replace_root_let",
};
/// The value of an aggregation expression (`bson_expression_get`).
pub const EXPRESSION_GET: PerRow = PerRow {
    plain: "documentdb_api_internal.bson_expression_get",
    with_vars: "documentdb_api_internal.bson_expression_get_let",
};

/// An `$unset` stage (`bson_dollar_unset`; no expressions, so no variables).
pub const UNSET: &str = "documentdb_api_internal.bson_dollar_unset";
/// `$lookup`: the foreign condition of one local document (`bson_lookup_condition`) and
/// the output with the matches set (`bson_lookup_set`).
pub const LOOKUP_CONDITION: &str = "documentdb_api_internal.bson_lookup_condition";
pub const LOOKUP_SET: &str = "documentdb_api_internal.bson_lookup_set";
/// `$lookup`'s output with at most one match, joined (`bson_lookup_set_matched`).
pub const LOOKUP_SET_MATCHED: &str = "documentdb_api_internal.bson_lookup_set_matched";
/// `$lookup` + `$unwind` of its `as` field: the output for one match (`bson_lookup_set_one`).
pub const LOOKUP_SET_ONE: &str = "documentdb_api_internal.bson_lookup_set_one";
/// `$lookup`: the variables of its pipeline for one local document (`bson_lookup_let`).
pub const LOOKUP_LET: &str = "documentdb_api_internal.bson_lookup_let";
/// `$lookup`: the one foreign index key of a local document with one value (`bson_lookup_key`).
/// The match an unwound `$lookup` row holds at `as` (`sql_api/per_row.rs`).
pub const LOOKUP_MATCH: &str = "documentdb_api_internal.bson_lookup_match";
pub const LOOKUP_KEY: &str = "documentdb_api_internal.bson_lookup_key";
pub const LOOKUP_HAS_ONE_KEY: &str = "documentdb_api_internal.bson_lookup_has_one_key";
/// `$lookup`: the foreign index keys of one local document (`bson_lookup_keys`).
pub const LOOKUP_KEYS: &str = "documentdb_api_internal.bson_lookup_keys";
/// `$unwind` of one document, a set of rows (`bson_dollar_unwind`).
pub const UNWIND: &str = "documentdb_api_internal.bson_dollar_unwind";
/// The values `distinct` collects from one document, a set of rows (`bson_distinct_unwind`).
pub const DISTINCT_UNWIND: &str = "documentdb_api_internal.bson_distinct_unwind";
/// Sort key of a document for one sort key (`bson_orderby`).
pub const ORDER_BY: &str = "documentdb_api_internal.bson_orderby";
/// A multi-document update's new document (`bson_update_document`).
pub const UPDATE_DOCUMENT: &str = "documentdb_api_internal.bson_update_document";
/// Byte equality of two documents (`bson_bytes_equal`).
pub const BYTES_EQUAL: &str = "documentdb_api_internal.bson_bytes_equal";
/// The `$group` accumulator aggregate (`sql_api/group_accumulator.rs`).
pub const GROUP_ACCUMULATE: &str = "documentdb_api_internal.bson_group_accumulate";
/// Builds a document from alternating keys and values (documentdb_core, `construct.rs`).
pub const BUILD_DOCUMENT: &str = "documentdb_core.bson_build_document";
/// Aggregates values into `{ key: [...] }` (documentdb_core, `construct.rs`).
pub const ARRAY_AGG: &str = "documentdb_core.bson_array_agg";
/// A document holds an array along an index key pattern's paths (`sql_api/indexes.rs`
/// `bson_has_array_on_key_paths`).
pub const HAS_ARRAY_ON_KEY_PATHS: &str = "documentdb_api_internal.bson_has_array_on_key_paths";
/// A compound index's check that a document keys one array at most (`sql_api/indexes.rs`).
pub const NO_PARALLEL_ARRAYS: &str = "documentdb_api_internal.bson_no_parallel_arrays";
/// The keys a multikey index holds for a document at a path (`sql_api/indexes.rs`
/// `bson_index_terms`).
pub const INDEX_TERMS: &str = "documentdb_api_internal.bson_index_terms";
/// The multikey trigger's WHEN clause (`sql_api/indexes.rs` `bson_index_becomes_multikey`).
pub const INDEX_BECOMES_MULTIKEY: &str = "documentdb_api_internal.bson_index_becomes_multikey";
/// The multikey trigger's function (plpgsql, `sql/documentdb_api.sql`).
pub const MARK_INDEX_MULTIKEY: &str = "documentdb_api_internal.mark_index_multikey";
/// The bson comparison operators (`documentdb_core.bson_btree_ops`), for index key bounds.
pub const BSON_EQ: &str = "OPERATOR(documentdb_core.=)";
/// The key of a hashed index (`sql_api/indexes.rs` `bson_hashed_key`).
pub const HASHED_KEY: &str = "documentdb_api_internal.bson_hashed_key";
/// The strings a document contributes to a text index's weight class (`sql_api/text_search.rs`).
pub const TEXT_CONTENT: &str = "documentdb_api_internal.bson_text_content";
/// The text search configuration of a document's language (`sql_api/text_search.rs`).
pub const TEXT_CONFIG: &str = "documentdb_api_internal.bson_text_config";
/// Every string a text index holds of a document, as written (`sql_api/text_search.rs`).
pub const TEXT_WRITTEN: &str = "documentdb_api_internal.bson_text_written";
/// Whether a document holds a `$caseSensitive` / `$diacriticSensitive` search's words as
/// written (`sql_api/text_search.rs`).
pub const TEXT_MATCHES_SENSITIVELY: &str = "documentdb_api_internal.bson_text_matches_sensitively";
/// The key a document has in an index of a given key pattern (`sql_api/indexes.rs`).
pub const INDEX_KEY: &str = "documentdb_api_internal.bson_index_key";
/// A result document with its `{$meta: "indexKey"}` field (`sql_api/indexes.rs`).
pub const WITH_INDEX_KEY: &str = "documentdb_api_internal.bson_with_index_key";
/// A result document with its `{$meta: "textScore"}` field (`sql_api/text_search.rs`).
pub const WITH_TEXT_SCORE: &str = "documentdb_api_internal.bson_with_text_score";
/// The GIN operator class of wildcard indexes: array_ops plus key ranges (`gin_range.rs`).
pub const BSON_ARRAY_RANGE_OPS: &str = "documentdb_api_internal.bson_array_range_ops";
/// "Some key of the array lies in the range" (strategy 5 of `BSON_ARRAY_RANGE_OPS`).
pub const KEY_IN_RANGE: &str = "OPERATOR(documentdb_api_catalog.@~)";
/// The keys of a wildcard index (`sql_api/indexes.rs` `bson_wildcard_keys`).
pub const WILDCARD_KEYS: &str = "documentdb_api_internal.bson_wildcard_keys";
/// The keys a unique multikey index compares (`sql_api/indexes.rs` `bson_index_unique_keys`).
pub const INDEX_UNIQUE_KEYS: &str = "documentdb_api_internal.bson_index_unique_keys";
/// The key tuples a unique compound index compares (`sql_api/indexes.rs`).
pub const INDEX_UNIQUE_KEY_TUPLES: &str = "documentdb_api_internal.bson_index_unique_key_tuples";
/// The WHEN clause of the unique element check (`sql_api/indexes.rs`).
pub const UNIQUE_KEYS_NEED_CHECK: &str = "documentdb_api_internal.bson_unique_keys_need_check";
/// The unique element check's trigger function (plpgsql, `sql/documentdb_api_internal.sql`).
pub const CHECK_UNIQUE_KEYS: &str = "documentdb_api_internal.check_unique_keys";
/// `$out` / `$merge`: the document written for one result document (`sql_api/out_merge.rs`
/// `bson_out_document`, `bson_merge_source`, `bson_merge_matched`, `bson_merge_unmatched`).
pub const OUT_DOCUMENT: &str = "documentdb_api_internal.bson_out_document";
pub const MERGE_SOURCE: &str = "documentdb_api_internal.bson_merge_source";
pub const MERGE_MATCHED: &str = "documentdb_api_internal.bson_merge_matched";
pub const MERGE_UNMATCHED: &str = "documentdb_api_internal.bson_merge_unmatched";
/// `$setWindowFields`: a document with one output field set (`sql_api/window.rs`
/// `bson_set_field`), the sort value a range window orders by (`bson_window_range_key`),
/// and `$linearFill`'s interpolation (`bson_linear_fill`).
pub const SET_FIELD: &str = "documentdb_api_internal.bson_set_field";
pub const WINDOW_RANGE_KEY: &str = "documentdb_api_internal.bson_window_range_key";
pub const LINEAR_FILL: &str = "documentdb_api_internal.bson_linear_fill";
/// A `$redact` stage (`sql_api/window.rs` `bson_dollar_redact`; NULL when pruned).
pub const REDACT: PerRow = PerRow {
    plain: "documentdb_api_internal.bson_dollar_redact",
    with_vars: "documentdb_api_internal.bson_dollar_redact_let",
};
/// `$bucketAuto` (`sql_api/bucket_auto.rs`): a document's key, the running aggregate that
/// numbers the buckets, and a bucket's output document.
pub const BUCKET_AUTO_KEY: &str = "documentdb_api_internal.bson_bucket_auto_key";
pub const BUCKET_AUTO_ASSIGN: &str = "documentdb_api_internal.bson_bucket_auto_assign";
pub const BUCKET_AUTO_OUTPUT: &str = "documentdb_api_internal.bson_bucket_auto_output";
/// `$graphLookup`'s search from one document (`sql_api/per_row.rs` `bson_graph_lookup`).
pub const GRAPH_LOOKUP: &str = "documentdb_api_internal.bson_graph_lookup";
/// `$densify` (`sql_api/densify.rs`): a document's partition key and value, the documents
/// generated around one document, and those generated without any document.
pub const DENSIFY_PARTITION: &str = "documentdb_api_internal.bson_densify_partition";
pub const DENSIFY_VALUE: &str = "documentdb_api_internal.bson_densify_value";
pub const DENSIFY_GENERATE: &str = "documentdb_api_internal.bson_densify_generate";
pub const DENSIFY_WITHOUT_DOCUMENTS: &str = "documentdb_api_internal.bson_densify_without_documents";
/// An accumulator spec with per-document variables (`sql_api/group_accumulator.rs`
/// `bson_accumulator_with_vars`).
pub const ACCUMULATOR_WITH_VARS: &str = "documentdb_api_internal.bson_accumulator_with_vars";
