-- Schemas of the documentdb extension (documentdb_api_internal is the extension schema).
CREATE SCHEMA IF NOT EXISTS documentdb_api;
CREATE SCHEMA IF NOT EXISTS documentdb_api_catalog;
CREATE SCHEMA IF NOT EXISTS documentdb_data;
GRANT USAGE ON SCHEMA documentdb_api, documentdb_api_catalog, documentdb_api_internal TO PUBLIC;

-- Roles that MongoDB users (PostgreSQL roles) are granted: admins own the collection
-- tables and may write the catalog; readers may read. Roles are cluster-wide, so they may
-- already exist from another database.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'documentdb_admin_role') THEN
        CREATE ROLE documentdb_admin_role NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'documentdb_readonly_role') THEN
        CREATE ROLE documentdb_readonly_role NOLOGIN;
    END IF;
    -- User administrators (MongoDB's root/userAdmin): may write user credentials.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'documentdb_user_admin_role') THEN
        CREATE ROLE documentdb_user_admin_role NOLOGIN;
    END IF;
END
$roles$;
GRANT documentdb_readonly_role TO documentdb_admin_role;
GRANT USAGE, CREATE ON SCHEMA documentdb_data TO documentdb_admin_role;
GRANT USAGE ON SCHEMA documentdb_data TO documentdb_readonly_role;
