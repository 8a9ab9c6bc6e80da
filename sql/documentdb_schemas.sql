-- Schemas of the documentdb extension (documentdb_api_internal is the extension schema).
CREATE SCHEMA IF NOT EXISTS documentdb_api;
CREATE SCHEMA IF NOT EXISTS documentdb_api_catalog;
CREATE SCHEMA IF NOT EXISTS documentdb_data;
GRANT USAGE ON SCHEMA documentdb_api, documentdb_api_catalog, documentdb_api_internal TO PUBLIC;
