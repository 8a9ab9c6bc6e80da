-- Schemas of the documentdb extension (documentdb_api_internal is the extension schema).
CREATE SCHEMA IF NOT EXISTS documentdb_api;
CREATE SCHEMA IF NOT EXISTS documentdb_api_catalog;
CREATE SCHEMA IF NOT EXISTS documentdb_data;
GRANT USAGE ON SCHEMA documentdb_api, documentdb_api_catalog, documentdb_api_internal TO PUBLIC;

-- MongoDB's built-in roles defined on the admin database, as PostgreSQL roles (cluster-wide,
-- so they may already exist from another database). Users and roles hold them by
-- membership. Each database gets its own read/readWrite/dbAdmin/userAdmin/dbOwner roles
-- when first used (pg_documentdb/src/authz/pg_roles.rs), and the *AnyDatabase roles become
-- members of them. What each role allows is `documentdb_authz::BuiltinRole::privileges`;
-- PostgreSQL enforces the table privileges, the extension the rest
-- (docs/authorization.md). None of these roles has CREATEROLE or SUPERUSER.
DO $roles$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[
        'documentdb_admin_role',            -- root
        'documentdb_readonly_role',         -- readAnyDatabase
        'documentdb_readwrite_any_role',    -- readWriteAnyDatabase
        'documentdb_dbadmin_any_role',      -- dbAdminAnyDatabase
        'documentdb_user_admin_role',       -- userAdminAnyDatabase
        'documentdb_cluster_monitor_role',  -- clusterMonitor
        'documentdb_cluster_manager_role',  -- clusterManager
        'documentdb_host_manager_role',     -- hostManager
        'documentdb_cluster_admin_role',    -- clusterAdmin
        'documentdb_backup_role',           -- backup
        'documentdb_restore_role'           -- restore
    ] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
        END IF;
    END LOOP;
END
$roles$;
-- The inheritance of MongoDB's built-in roles that PostgreSQL's table privileges need,
-- exactly: memberships between these roles left by an earlier installation go first.
DO $memberships$
DECLARE
    m record;
BEGIN
    FOR m IN
        SELECT r.rolname AS granted, u.rolname AS member
        FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles u ON u.oid = a.member
        WHERE r.rolname IN ('documentdb_admin_role', 'documentdb_readonly_role', 'documentdb_readwrite_any_role',
                'documentdb_dbadmin_any_role', 'documentdb_user_admin_role', 'documentdb_cluster_monitor_role',
                'documentdb_cluster_manager_role', 'documentdb_host_manager_role', 'documentdb_cluster_admin_role',
                'documentdb_backup_role', 'documentdb_restore_role')
          AND u.rolname LIKE 'documentdb\_%\_role'
    LOOP
        EXECUTE format('REVOKE %I FROM %I', m.granted, m.member);
    END LOOP;
END
$memberships$;
-- restore inserts only (no find/update/remove): each table grants it INSERT directly.
GRANT documentdb_readonly_role TO documentdb_readwrite_any_role, documentdb_backup_role;
GRANT documentdb_cluster_monitor_role, documentdb_cluster_manager_role, documentdb_host_manager_role
    TO documentdb_cluster_admin_role;
GRANT documentdb_readwrite_any_role, documentdb_dbadmin_any_role, documentdb_user_admin_role,
    documentdb_cluster_admin_role, documentdb_backup_role, documentdb_restore_role TO documentdb_admin_role;
-- Tables are reached by their own grants; creating them is the extension's (as its owner).
GRANT USAGE ON SCHEMA documentdb_data TO PUBLIC;
