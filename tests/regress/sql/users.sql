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
