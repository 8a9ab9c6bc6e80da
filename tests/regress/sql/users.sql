-- Users from psql. updateUser with roles used to crash the backend (signal 11): the list of
-- the user's current role memberships is read from pg_roles.rolname, a `name` column, and
-- the SPI reader took every non-integer column for a varlena.
SET search_path TO documentdb_api, documentdb_core, public;
\set SHOW_CONTEXT never

SELECT create_user('{"createUser": "regress_user_u", "pwd": "Pw-1-regress", "roles": ["readWrite"], "$db": "admin"}');
-- roles alone, as names and as {role, db} documents.
SELECT update_user('{"updateUser": "regress_user_u", "roles": ["readAnyDatabase"], "$db": "admin"}');
SELECT update_user('{"updateUser": "regress_user_u", "roles": [{"role": "readAnyDatabase", "db": "admin"}], "$db": "admin"}');
SELECT update_user('{"updateUser": "regress_user_u", "roles": [], "$db": "admin"}');
-- roles with pwd, with customData, with both.
SELECT update_user('{"updateUser": "regress_user_u", "roles": ["readWrite", "userAdmin"], "pwd": "Pw-2-regress", "$db": "admin"}');
SELECT update_user('{"updateUser": "regress_user_u", "roles": ["read"], "customData": {"team": "a"}, "$db": "admin"}');
SELECT update_user('{"updateUser": "regress_user_u", "roles": ["root"], "pwd": "Pw-3-regress", "customData": {"team": "b"}, "$db": "admin"}');
-- pwd alone, customData alone, both.
SELECT update_user('{"updateUser": "regress_user_u", "pwd": "Pw-4-regress", "$db": "admin"}');
SELECT update_user('{"updateUser": "regress_user_u", "customData": {"team": "c"}, "$db": "admin"}');
SELECT update_user('{"updateUser": "regress_user_u", "pwd": "Pw-5-regress", "customData": {"team": "d"}, "$db": "admin"}');
-- What updateUser left: roles and customData from the catalog, memberships from PostgreSQL.
SELECT bson_get_value(users_info('{"usersInfo": "regress_user_u"}'), 'users');
SELECT r.rolname, u.rolcreaterole FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
  JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'regress_user_u' ORDER BY 1;
-- Errors: nothing to update is BadValue (2); an unknown user is UserNotFound (11); an
-- unknown role is RoleNotFound (31).
SELECT update_user('{"updateUser": "regress_user_u", "$db": "admin"}');
\echo :LAST_ERROR_SQLSTATE
SELECT update_user('{"updateUser": "regress_no_such_user", "roles": ["read"], "$db": "admin"}');
\echo :LAST_ERROR_SQLSTATE
SELECT update_user('{"updateUser": "regress_user_u", "roles": ["noSuchRole"], "$db": "admin"}');
\echo :LAST_ERROR_SQLSTATE
SELECT update_user('{"updateUser": "regress_user_u", "roles": [1], "$db": "admin"}');
\echo :LAST_ERROR_SQLSTATE
SELECT drop_user('{"dropUser": "regress_user_u", "$db": "admin"}');
SELECT count(*) FROM pg_roles WHERE rolname = 'regress_user_u';

-- Users belong to their database (issue #11): alice on two databases is two PostgreSQL
-- login roles; the admin user keeps its own name.
SELECT create_user('{"createUser": "regress_alice", "pwd": "Pw-a1", "roles": ["read"], "$db": "regress_app1"}');
SELECT create_user('{"createUser": "regress_alice", "pwd": "Pw-a2", "roles": ["readWrite", {"role": "read", "db": "regress_app1"}], "$db": "regress_app2"}');
SELECT create_user('{"createUser": "regress_alice", "pwd": "Pw-a3", "roles": [], "$db": "admin"}');
SELECT role_name, user_name, database_name FROM documentdb_api_catalog.users WHERE user_name = 'regress_alice' ORDER BY 1;
SELECT bson_get_value(users_info('{"usersInfo": "regress_alice", "$db": "regress_app2"}'), 'users');
-- A second createUser of the same user on the same database is 51003 (Location51003).
SELECT create_user('{"createUser": "regress_alice", "pwd": "Pw-a1", "roles": [], "$db": "regress_app1"}');
\echo :LAST_ERROR_SQLSTATE
-- Built-in roles of the AnyDatabase/cluster kind exist only on admin (31 RoleNotFound).
SELECT create_user('{"createUser": "regress_bob", "pwd": "Pw-b1", "roles": ["readAnyDatabase"], "$db": "regress_app1"}');
\echo :LAST_ERROR_SQLSTATE
-- No MongoDB role gives CREATEROLE or SUPERUSER.
SELECT count(*) FROM pg_roles WHERE (rolcreaterole OR rolsuper) AND (rolname LIKE 'documentdb%' OR rolname LIKE 'regress_alice%');
-- PostgreSQL enforces the data grants: read@regress_app1 reads, does not write, and reads
-- nothing of regress_app2.
SELECT documentdb_api.insert_one('regress_app1', 'c', '{"_id": 1}');
SELECT documentdb_api.insert_one('regress_app2', 'c', '{"_id": 1}');
SET ROLE "regress_alice@regress_app1";
SELECT cursorpage FROM find_cursor_first_page('regress_app1', '{"find": "c"}');
SELECT documentdb_api.insert_one('regress_app1', 'c', '{"_id": 2}');
\echo :LAST_ERROR_SQLSTATE
SELECT cursorpage FROM find_cursor_first_page('regress_app2', '{"find": "c"}');
\echo :LAST_ERROR_SQLSTATE
DO $$ BEGIN PERFORM count(*) FROM documentdb_api.collection('regress_app2', 'c');
EXCEPTION WHEN insufficient_privilege THEN RAISE NOTICE 'reading regress_app2.c directly: %', SQLSTATE; END $$;
-- Escalation from psql: no way to the catalog, to role management, or to other grants.
INSERT INTO documentdb_api_catalog.users VALUES ('x', 'x', 'admin', NULL);
GRANT documentdb_admin_role TO "regress_alice@regress_app1";
ALTER ROLE "regress_alice@regress_app1" CREATEROLE;
SELECT create_user('{"createUser": "regress_evil", "pwd": "Pw-e", "roles": ["root"], "$db": "admin"}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT drop_user('{"dropUser": "regress_alice", "$db": "regress_app1"}');
SELECT drop_user('{"dropUser": "regress_alice", "$db": "regress_app2"}');
SELECT drop_user('{"dropUser": "regress_alice", "$db": "admin"}');
SELECT documentdb_api.drop_database('regress_app1');
SELECT documentdb_api.drop_database('regress_app2');
SELECT count(*) FROM pg_roles WHERE rolname LIKE 'regress_alice%';
-- SCRAM iteration counts: MongoDB's defaults (15000 SHA-256, 10000 SHA-1), settable.
SET documentdb.scram_sha256_iteration_count = 5000;
SELECT create_user('{"createUser": "regress_iter", "pwd": "Pw-i", "roles": [], "$db": "admin"}');
SELECT split_part(rolpassword, ':', 1) FROM pg_authid WHERE rolname = 'regress_iter';
RESET documentdb.scram_sha256_iteration_count;
SELECT update_user('{"updateUser": "regress_iter", "pwd": "Pw-j", "$db": "admin"}');
SELECT split_part(rolpassword, ':', 1) FROM pg_authid WHERE rolname = 'regress_iter';
SELECT iterations FROM documentdb_api_catalog.scram_sha1_credentials WHERE role_name = 'regress_iter';
SELECT drop_user('{"dropUser": "regress_iter", "$db": "admin"}');
