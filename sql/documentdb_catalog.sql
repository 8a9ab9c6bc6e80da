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

GRANT SELECT ON documentdb_api_catalog.collections, documentdb_api_catalog.collection_indexes TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON documentdb_api_catalog.collections,
    documentdb_api_catalog.collection_indexes TO documentdb_admin_role;
GRANT USAGE ON SEQUENCE documentdb_api_catalog.collections_collection_id_seq,
    documentdb_api_catalog.collection_indexes_index_id_seq TO documentdb_admin_role;

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
GRANT SELECT, INSERT, UPDATE, DELETE ON documentdb_api_catalog.scram_sha1_credentials TO documentdb_user_admin_role;

-- Per-user data MongoDB keeps with a user (customData, the roles as given).
CREATE TABLE documentdb_api_catalog.users (
    role_name text PRIMARY KEY,
    database_name text NOT NULL,
    roles documentdb_core.bson NOT NULL,
    custom_data documentdb_core.bson
);
GRANT SELECT ON documentdb_api_catalog.users TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON documentdb_api_catalog.users TO documentdb_user_admin_role;
