-- Operators, operator classes, casts and aggregates of documentdb_core.
-- Comparison follows MongoDB's BSON comparison/sort order (see documentdb_bson::compare).

-- bson comparison operators ------------------------------------------------------------
CREATE OPERATOR documentdb_core.= (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    FUNCTION = documentdb_core.bson_equal,
    COMMUTATOR = OPERATOR(documentdb_core.=), NEGATOR = OPERATOR(documentdb_core.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR documentdb_core.<> (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    FUNCTION = documentdb_core.bson_not_equal,
    COMMUTATOR = OPERATOR(documentdb_core.<>), NEGATOR = OPERATOR(documentdb_core.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR documentdb_core.< (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    FUNCTION = documentdb_core.bson_lt,
    COMMUTATOR = OPERATOR(documentdb_core.>), NEGATOR = OPERATOR(documentdb_core.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR documentdb_core.<= (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    FUNCTION = documentdb_core.bson_lte,
    COMMUTATOR = OPERATOR(documentdb_core.>=), NEGATOR = OPERATOR(documentdb_core.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR documentdb_core.> (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    FUNCTION = documentdb_core.bson_gt,
    COMMUTATOR = OPERATOR(documentdb_core.<), NEGATOR = OPERATOR(documentdb_core.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR documentdb_core.>= (
    LEFTARG = documentdb_core.bson, RIGHTARG = documentdb_core.bson,
    FUNCTION = documentdb_core.bson_gte,
    COMMUTATOR = OPERATOR(documentdb_core.<=), NEGATOR = OPERATOR(documentdb_core.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS documentdb_core.bson_btree_ops
    DEFAULT FOR TYPE documentdb_core.bson USING btree AS
        OPERATOR 1 documentdb_core.<,
        OPERATOR 2 documentdb_core.<=,
        OPERATOR 3 documentdb_core.=,
        OPERATOR 4 documentdb_core.>=,
        OPERATOR 5 documentdb_core.>,
        FUNCTION 1 documentdb_core.bson_compare(documentdb_core.bson, documentdb_core.bson);

CREATE OPERATOR CLASS documentdb_core.bson_hash_ops
    DEFAULT FOR TYPE documentdb_core.bson USING hash AS
        OPERATOR 1 documentdb_core.=,
        FUNCTION 1 documentdb_core.bson_hash_int4(documentdb_core.bson),
        FUNCTION 2 documentdb_core.bson_hash_int8(documentdb_core.bson, bigint);

-- bsonquery comparison operators -------------------------------------------------------
CREATE OPERATOR documentdb_core.= (
    LEFTARG = documentdb_core.bsonquery, RIGHTARG = documentdb_core.bsonquery,
    FUNCTION = documentdb_core.bsonquery_equal,
    COMMUTATOR = OPERATOR(documentdb_core.=), NEGATOR = OPERATOR(documentdb_core.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, MERGES
);
CREATE OPERATOR documentdb_core.<> (
    LEFTARG = documentdb_core.bsonquery, RIGHTARG = documentdb_core.bsonquery,
    FUNCTION = documentdb_core.bsonquery_not_equal,
    COMMUTATOR = OPERATOR(documentdb_core.<>), NEGATOR = OPERATOR(documentdb_core.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR documentdb_core.< (
    LEFTARG = documentdb_core.bsonquery, RIGHTARG = documentdb_core.bsonquery,
    FUNCTION = documentdb_core.bsonquery_lt,
    COMMUTATOR = OPERATOR(documentdb_core.>), NEGATOR = OPERATOR(documentdb_core.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR documentdb_core.<= (
    LEFTARG = documentdb_core.bsonquery, RIGHTARG = documentdb_core.bsonquery,
    FUNCTION = documentdb_core.bsonquery_lte,
    COMMUTATOR = OPERATOR(documentdb_core.>=), NEGATOR = OPERATOR(documentdb_core.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR documentdb_core.> (
    LEFTARG = documentdb_core.bsonquery, RIGHTARG = documentdb_core.bsonquery,
    FUNCTION = documentdb_core.bsonquery_gt,
    COMMUTATOR = OPERATOR(documentdb_core.<), NEGATOR = OPERATOR(documentdb_core.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR documentdb_core.>= (
    LEFTARG = documentdb_core.bsonquery, RIGHTARG = documentdb_core.bsonquery,
    FUNCTION = documentdb_core.bsonquery_gte,
    COMMUTATOR = OPERATOR(documentdb_core.<=), NEGATOR = OPERATOR(documentdb_core.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS documentdb_core.bsonquery_btree_ops
    DEFAULT FOR TYPE documentdb_core.bsonquery USING btree AS
        OPERATOR 1 documentdb_core.<,
        OPERATOR 2 documentdb_core.<=,
        OPERATOR 3 documentdb_core.=,
        OPERATOR 4 documentdb_core.>=,
        OPERATOR 5 documentdb_core.>,
        FUNCTION 1 documentdb_core.bsonquery_compare(documentdb_core.bsonquery, documentdb_core.bsonquery);

-- field access -------------------------------------------------------------------------
CREATE OPERATOR documentdb_core.-> (
    LEFTARG = documentdb_core.bson, RIGHTARG = text,
    FUNCTION = documentdb_core.bson_get_value
);
CREATE OPERATOR documentdb_core.->> (
    LEFTARG = documentdb_core.bson, RIGHTARG = text,
    FUNCTION = documentdb_core.bson_get_value_text
);

-- casts --------------------------------------------------------------------------------
CREATE CAST (bytea AS documentdb_core.bson)
    WITH FUNCTION documentdb_core.bson_from_bytea(bytea) AS IMPLICIT;
CREATE CAST (documentdb_core.bson AS bytea)
    WITH FUNCTION documentdb_core.bson_to_bytea(documentdb_core.bson);
CREATE CAST (bytea AS documentdb_core.bsonsequence)
    WITH FUNCTION documentdb_core.bsonsequence_from_bytea(bytea) AS IMPLICIT;
CREATE CAST (documentdb_core.bsonsequence AS bytea)
    WITH FUNCTION documentdb_core.bsonsequence_to_bytea(documentdb_core.bsonsequence);
CREATE CAST (documentdb_core.bson AS documentdb_core.bsonsequence)
    WITH FUNCTION documentdb_core.bson_to_bsonsequence(documentdb_core.bson);

-- bson -> json/jsonb: relaxed Extended JSON (numbers as JSON numbers where lossless)
CREATE FUNCTION documentdb_core.bson_to_json(documentdb_core.bson) RETURNS json
    LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
    RETURN documentdb_core.bson_to_relaxed_json_text($1)::json;
CREATE FUNCTION documentdb_core.bson_to_jsonb(documentdb_core.bson) RETURNS jsonb
    LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
    RETURN documentdb_core.bson_to_relaxed_json_text($1)::jsonb;
CREATE CAST (documentdb_core.bson AS json)
    WITH FUNCTION documentdb_core.bson_to_json(documentdb_core.bson);
CREATE CAST (documentdb_core.bson AS jsonb)
    WITH FUNCTION documentdb_core.bson_to_jsonb(documentdb_core.bson);

-- json/jsonb -> bson: the text is read as Extended JSON
CREATE FUNCTION documentdb_core.bson_from_json(json) RETURNS documentdb_core.bson
    LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
    RETURN documentdb_core.bson_json_to_bson($1::text);
CREATE FUNCTION documentdb_core.bson_from_jsonb(jsonb) RETURNS documentdb_core.bson
    LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
    RETURN documentdb_core.bson_json_to_bson($1::text);
CREATE CAST (json AS documentdb_core.bson)
    WITH FUNCTION documentdb_core.bson_from_json(json);
CREATE CAST (jsonb AS documentdb_core.bson)
    WITH FUNCTION documentdb_core.bson_from_jsonb(jsonb);

-- functions over "any" / record / internal (Rust, read their arguments from fcinfo) ------
CREATE FUNCTION documentdb_core.bson_build_document(VARIADIC "any") RETURNS documentdb_core.bson
    LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_build_document_wrapper';
COMMENT ON FUNCTION documentdb_core.bson_build_document(VARIADIC "any")
    IS 'Builds a document from alternating keys and values of any type';

CREATE FUNCTION documentdb_core.row_get_bson(record) RETURNS documentdb_core.bson
    LANGUAGE C STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'row_get_bson_wrapper';
COMMENT ON FUNCTION documentdb_core.row_get_bson(record)
    IS 'Converts a row to a document keyed by column name';

CREATE FUNCTION documentdb_core.bson_array_agg_transition(internal, documentdb_core.bson, text)
    RETURNS internal
    LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_array_agg_transition_wrapper';
CREATE FUNCTION documentdb_core.bson_array_agg_final(internal) RETURNS documentdb_core.bson
    LANGUAGE C STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_array_agg_final_wrapper';
CREATE AGGREGATE documentdb_core.bson_array_agg(documentdb_core.bson, text) (
    SFUNC = documentdb_core.bson_array_agg_transition,
    STYPE = internal,
    FINALFUNC = documentdb_core.bson_array_agg_final
);
COMMENT ON AGGREGATE documentdb_core.bson_array_agg(documentdb_core.bson, text)
    IS 'Collects values into { key : [ ... ] }';

-- Everyone may use the types and functions (PostgreSQL grants on collection tables decide
-- data access).
GRANT USAGE ON SCHEMA documentdb_core TO PUBLIC;
