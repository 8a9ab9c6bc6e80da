-- The bson family of types. The I/O functions are Rust functions declared `sql = false`
-- in pg_documentdb_core/src/io.rs; their symbols are pgrx's `<name>_wrapper`.

CREATE TYPE documentdb_core.bson;
CREATE TYPE documentdb_core.bsonquery;
CREATE TYPE documentdb_core.bsonsequence;

CREATE FUNCTION documentdb_core.bson_in(cstring) RETURNS documentdb_core.bson
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_in_wrapper';
CREATE FUNCTION documentdb_core.bson_out(documentdb_core.bson) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_out_wrapper';
CREATE FUNCTION documentdb_core.bson_recv(internal) RETURNS documentdb_core.bson
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_recv_wrapper';
CREATE FUNCTION documentdb_core.bson_send(documentdb_core.bson) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bson_send_wrapper';

CREATE TYPE documentdb_core.bson (
    INPUT = documentdb_core.bson_in,
    OUTPUT = documentdb_core.bson_out,
    RECEIVE = documentdb_core.bson_recv,
    SEND = documentdb_core.bson_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE documentdb_core.bson IS 'A BSON document (raw bytes); text I/O is MongoDB Extended JSON';

CREATE FUNCTION documentdb_core.bsonquery_in(cstring) RETURNS documentdb_core.bsonquery
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bsonquery_in_wrapper';
CREATE FUNCTION documentdb_core.bsonquery_out(documentdb_core.bsonquery) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bsonquery_out_wrapper';
CREATE FUNCTION documentdb_core.bsonquery_recv(internal) RETURNS documentdb_core.bsonquery
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bsonquery_recv_wrapper';
CREATE FUNCTION documentdb_core.bsonquery_send(documentdb_core.bsonquery) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bsonquery_send_wrapper';

CREATE TYPE documentdb_core.bsonquery (
    INPUT = documentdb_core.bsonquery_in,
    OUTPUT = documentdb_core.bsonquery_out,
    RECEIVE = documentdb_core.bsonquery_recv,
    SEND = documentdb_core.bsonquery_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE documentdb_core.bsonquery IS 'A BSON document used as a query operand';

CREATE FUNCTION documentdb_core.bsonsequence_in(cstring) RETURNS documentdb_core.bsonsequence
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bsonsequence_in_wrapper';
CREATE FUNCTION documentdb_core.bsonsequence_out(documentdb_core.bsonsequence) RETURNS cstring
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bsonsequence_out_wrapper';
CREATE FUNCTION documentdb_core.bsonsequence_recv(internal) RETURNS documentdb_core.bsonsequence
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bsonsequence_recv_wrapper';
CREATE FUNCTION documentdb_core.bsonsequence_send(documentdb_core.bsonsequence) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'bsonsequence_send_wrapper';

CREATE TYPE documentdb_core.bsonsequence (
    INPUT = documentdb_core.bsonsequence_in,
    OUTPUT = documentdb_core.bsonsequence_out,
    RECEIVE = documentdb_core.bsonsequence_recv,
    SEND = documentdb_core.bsonsequence_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE documentdb_core.bsonsequence IS 'Concatenated BSON documents (an OP_MSG document sequence)';
