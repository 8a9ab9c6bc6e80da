-- Catalog of the documentdb extension: one row per collection (or view), one per index.
-- Each collection's documents live in documentdb_data.documents_<collection_id>.

CREATE SEQUENCE documentdb_api_catalog.collections_collection_id_seq;
CREATE SEQUENCE documentdb_api_catalog.collection_indexes_index_id_seq;

CREATE TABLE documentdb_api_catalog.collections (
    database_name text NOT NULL,
    collection_name text NOT NULL,
    collection_id bigint NOT NULL UNIQUE
        DEFAULT nextval('documentdb_api_catalog.collections_collection_id_seq'),
    shard_key documentdb_core.bson,
    collection_uuid uuid NOT NULL DEFAULT gen_random_uuid(),
    validator documentdb_core.bson,
    validation_level text,
    validation_action text,
    view_definition documentdb_core.bson,
    options documentdb_core.bson,
    PRIMARY KEY (database_name, collection_name)
);
COMMENT ON TABLE documentdb_api_catalog.collections
    IS 'One row per collection or view; documents in documentdb_data.documents_<collection_id>';

CREATE TABLE documentdb_api_catalog.collection_indexes (
    collection_id bigint NOT NULL
        REFERENCES documentdb_api_catalog.collections (collection_id) ON DELETE CASCADE,
    index_id bigint NOT NULL PRIMARY KEY
        DEFAULT nextval('documentdb_api_catalog.collection_indexes_index_id_seq'),
    index_name text NOT NULL,
    index_spec documentdb_core.bson NOT NULL,
    index_is_valid boolean NOT NULL DEFAULT true,
    -- Whether some document has held an array along one of the key's paths since the
    -- index was built (MongoDB's multikey flag): then the index serves sorts only.
    index_is_multikey boolean NOT NULL DEFAULT false,
    UNIQUE (collection_id, index_name)
);
COMMENT ON TABLE documentdb_api_catalog.collection_indexes
    IS 'MongoDB index specifications ({v, key, name, ...}) of each collection';

-- Readable by all; written only by the extension (as its owner, after checking the
-- MongoDB privilege the command needs: pg_documentdb/src/authz).
GRANT SELECT ON documentdb_api_catalog.collections, documentdb_api_catalog.collection_indexes TO PUBLIC;

-- Every database that has had a collection, a user, a role or a role grant: its id names
-- its built-in PostgreSQL roles (documentdb_db<id>_read, ..._readwrite, ..._dbadmin,
-- ..._useradmin, ..._dbowner). Dropping a database keeps its row and roles, as MongoDB
-- keeps the users and role grants of a dropped database.
CREATE TABLE documentdb_api_catalog.databases (
    database_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database_name text NOT NULL UNIQUE
);
GRANT SELECT ON documentdb_api_catalog.databases TO PUBLIC;

-- MongoDB's SCRAM-SHA-1 credentials of users (PostgreSQL stores only SCRAM-SHA-256
-- verifiers). Readable by superusers only: the gateway authenticates with them.
CREATE TABLE documentdb_api_catalog.scram_sha1_credentials (
    role_name text PRIMARY KEY,
    salt text NOT NULL,
    iterations integer NOT NULL,
    stored_key text NOT NULL,
    server_key text NOT NULL
);
REVOKE ALL ON documentdb_api_catalog.scram_sha1_credentials FROM PUBLIC;

-- MongoDB users: `user_name` on its authentication database `database_name` is the
-- PostgreSQL login role `role_name` (the user's own name on admin, `user@db` elsewhere;
-- see pg_documentdb/src/commands/users.rs). Its roles are its PostgreSQL role memberships.
CREATE TABLE documentdb_api_catalog.users (
    role_name text PRIMARY KEY,
    user_name text NOT NULL,
    database_name text NOT NULL,
    custom_data documentdb_core.bson,
    UNIQUE (database_name, user_name)
);
GRANT SELECT ON documentdb_api_catalog.users TO PUBLIC;

-- MongoDB user-defined roles: `role_name` on `database_name` is the PostgreSQL role
-- `pg_role` (documentdb_role<id>); its inherited roles are PostgreSQL memberships, its
-- privileges ({privileges: [...]}) are kept here and granted on the tables they cover.
CREATE TABLE documentdb_api_catalog.roles (
    role_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    role_name text NOT NULL,
    database_name text NOT NULL,
    privileges documentdb_core.bson NOT NULL,
    UNIQUE (database_name, role_name)
);
GRANT SELECT ON documentdb_api_catalog.roles TO PUBLIC;

-- Retryable writes (pg_documentdb/src/commands/retryable.rs): what a write sent with a
-- logical session's txnNumber answered, recorded with its effects, so a retry answers the
-- same without applying it again. Dropped with the session timeout by the TTL monitor.
CREATE TABLE documentdb_api_catalog.retryable_writes (
    session_id text NOT NULL,
    txn_number bigint NOT NULL,
    reply documentdb_core.bson NOT NULL,
    success boolean NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, txn_number)
);
REVOKE ALL ON documentdb_api_catalog.retryable_writes FROM PUBLIC;

-- The replica set's cluster time (the gateway's `cluster_time.rs`): the last second it
-- recorded, so a restarted gateway never hands out an earlier time.
CREATE TABLE documentdb_api_catalog.cluster_time (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seconds bigint NOT NULL
);
REVOKE ALL ON documentdb_api_catalog.cluster_time FROM PUBLIC;
