//! Every SQL statement the gateway sends, in one place.
//!
//! Parameters: `$1` database name (text), `$2` the command document (binary
//! `documentdb_core.bson`), `$3` the OP_MSG kind-1 document sequence (binary
//! `documentdb_core.bsonsequence`, or NULL).

// ---- CRUD: return (reply bson, success bool) ----
// `$4` (`$3` for findAndModify) is the retryable write's `session:txnNumber`, or NULL.
pub const INSERT: &str = "SELECT * FROM documentdb_api.insert($1, $2, $3, $4)";
pub const UPDATE: &str = "SELECT * FROM documentdb_api.update($1, $2, $3, $4)";
pub const DELETE: &str = "SELECT * FROM documentdb_api.delete($1, $2, $3, $4)";
pub const FIND_AND_MODIFY: &str = "SELECT * FROM documentdb_api.find_and_modify($1, $2, $3)";

// ---- Cursors: return (cursorpage, continuation, persistconnection, cursorid) ----
pub const FIND: &str = "SELECT cursorpage, continuation, persistconnection, cursorid \
     FROM documentdb_api.find_cursor_first_page($1, $2)";
pub const AGGREGATE: &str = "SELECT cursorpage, continuation, persistconnection, cursorid \
     FROM documentdb_api.aggregate_cursor_first_page($1, $2)";
pub const LIST_COLLECTIONS: &str = "SELECT cursorpage, continuation, persistconnection, cursorid \
     FROM documentdb_api.list_collections_cursor_first_page($1, $2)";
pub const LIST_INDEXES: &str = "SELECT cursorpage, continuation, persistconnection, cursorid \
     FROM documentdb_api.list_indexes_cursor_first_page($1, $2)";
/// `$3` is the continuation stored with the cursor. Returns (cursorpage, continuation).
pub const GET_MORE: &str = "SELECT cursorpage, continuation FROM documentdb_api.cursor_get_more($1, $2, $3)";
/// `$1` bigint[]: closes the portals of pinned cursors on their connection.
pub const DELETE_CURSORS: &str = "SELECT documentdb_api_internal.delete_cursors($1)";
/// The backends among `$3` (int4[]) holding a lock on collections `$2` (text[], NULL: all)
/// of database `$1`: pinned cursors a drop or rename of those collections would wait for.
pub const BACKENDS_LOCKING_COLLECTIONS: &str =
    "SELECT documentdb_api_internal.backends_locking_collections($1, $2, $3)";

// ---- Single-document results ----
pub const COUNT: &str = "SELECT document FROM documentdb_api.count_query($1, $2)";
pub const DISTINCT: &str = "SELECT document FROM documentdb_api.distinct_query($1, $2)";
/// `$2` is the whole explain command `{explain: {...}, verbosity}`; returns the reply.
pub const EXPLAIN: &str = "SELECT documentdb_api_internal.explain($1, $2)";

// ---- Collections and databases ----
pub const CREATE: &str = "SELECT documentdb_api.create_collection_view($1, $2)";
/// `$2` collection name (text); returns whether it existed.
pub const DROP_COLLECTION: &str = "SELECT documentdb_api.drop_collection($1, $2)";
pub const DROP_DATABASE: &str = "SELECT documentdb_api.drop_database($1)";
/// `$2` from, `$3` to (collection names), `$4` dropTarget.
pub const RENAME_COLLECTION: &str = "SELECT documentdb_api.rename_collection($1, $2, $3, $4)";
/// `$2` collection name, `$3` the command document.
pub const COLL_MOD: &str = "SELECT documentdb_api.coll_mod($1, $2, $3)";
/// `$1` the command document.
pub const LIST_DATABASES: &str = "SELECT documentdb_api.list_databases($1)";
/// `$2` collection name, `$3` scale (double precision).
pub const COLL_STATS: &str = "SELECT documentdb_api.coll_stats($1, $2, $3)";
/// `$2` scale (double precision).
pub const DB_STATS: &str = "SELECT documentdb_api.db_stats($1, $2, false)";

// ---- Indexes ----
/// Returns (retval bson, ok bool, requests bson).
pub const CREATE_INDEXES: &str = "SELECT * FROM documentdb_api.create_indexes_background($1, $2)";
/// A procedure with an INOUT retval.
pub const DROP_INDEXES: &str = "CALL documentdb_api.drop_indexes($1, $2, NULL)";
pub const RE_INDEX: &str = "CALL documentdb_api.re_index($1, $2, NULL)";

// ---- Users: `$1` is the command document ----
pub const CREATE_USER: &str = "SELECT documentdb_api.create_user($1)";
pub const DROP_USER: &str = "SELECT documentdb_api.drop_user($1)";
pub const UPDATE_USER: &str = "SELECT documentdb_api.update_user($1)";
pub const USERS_INFO: &str = "SELECT documentdb_api.users_info($1)";
pub const GRANT_ROLES_TO_USER: &str = "SELECT documentdb_api.grant_roles_to_user($1)";
pub const REVOKE_ROLES_FROM_USER: &str = "SELECT documentdb_api.revoke_roles_from_user($1)";
pub const DROP_ALL_USERS_FROM_DATABASE: &str = "SELECT documentdb_api.drop_all_users_from_database($1)";
// ---- Roles: `$1` is the command document ----
pub const CREATE_ROLE: &str = "SELECT documentdb_api.create_role($1)";
pub const UPDATE_ROLE: &str = "SELECT documentdb_api.update_role($1)";
pub const DROP_ROLE: &str = "SELECT documentdb_api.drop_role($1)";
pub const DROP_ALL_ROLES_FROM_DATABASE: &str = "SELECT documentdb_api.drop_all_roles_from_database($1)";
pub const ROLES_INFO: &str = "SELECT documentdb_api.roles_info($1)";
pub const GRANT_ROLES_TO_ROLE: &str = "SELECT documentdb_api.grant_roles_to_role($1)";
pub const REVOKE_ROLES_FROM_ROLE: &str = "SELECT documentdb_api.revoke_roles_from_role($1)";
pub const GRANT_PRIVILEGES_TO_ROLE: &str = "SELECT documentdb_api.grant_privileges_to_role($1)";
pub const REVOKE_PRIVILEGES_FROM_ROLE: &str = "SELECT documentdb_api.revoke_privileges_from_role($1)";

// ---- Authentication (run as the gateway's superuser, before any SET ROLE) ----
/// The login role of MongoDB user `$2` of database `$1` (NULL: no such user).
pub const AUTHENTICATION_ROLE: &str = "SELECT documentdb_api_internal.authentication_role($1, $2)";
/// The SCRAM-SHA-256 verifier of a login role.
pub const SCRAM_SHA256_VERIFIER: &str = "SELECT rolpassword FROM pg_catalog.pg_authid \
     WHERE rolname = $1 AND rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil > now())";
/// MongoDB SCRAM-SHA-1 credentials written by createUser (the table may not exist).
pub const SCRAM_SHA1_CREDENTIALS: &str = "SELECT c.salt, c.iterations, c.stored_key, c.server_key \
     FROM documentdb_api_catalog.scram_sha1_credentials c \
     JOIN pg_catalog.pg_authid a ON a.rolname = c.role_name \
     WHERE c.role_name = $1 AND a.rolcanlogin \
     AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil > now())";
/// The actions the current (SET ROLE) user holds on the cluster resource.
pub const CLUSTER_ACTIONS: &str = "SELECT documentdb_api_internal.cluster_actions()";
/// Records cluster-time second `$1` (int8; never lowering the recorded one) and returns the
/// recorded second (pass 0 to read it).
pub const CLUSTER_TIME_RECORD: &str = "SELECT documentdb_api_internal.record_cluster_time($1)";
/// The backend process id of a new pool connection.
pub const BACKEND_PID: &str = "SELECT pg_catalog.pg_backend_pid()";

/// The snapshot of snapshot reads, exported for the reads to import (transactions.rs).
pub const EXPORT_SNAPSHOT: &str = "SELECT pg_catalog.pg_export_snapshot()";
/// Index builds running on the backends `$1` (int4[]): pid, phase, and the phase's progress
/// (tuples when PostgreSQL counts them, else blocks).
pub const INDEX_BUILD_PROGRESS: &str = "SELECT pid, phase, \
     CASE WHEN tuples_total > 0 THEN tuples_done ELSE blocks_done END, \
     CASE WHEN tuples_total > 0 THEN tuples_total ELSE blocks_total END \
     FROM pg_catalog.pg_stat_progress_create_index WHERE pid = ANY($1)";
/// connectionStatus of the current user (`$1` the command document).
pub const CONNECTION_STATUS: &str = "SELECT documentdb_api.connection_status($1)";

// ---- Session state (before running a command as the authenticated user) ----
/// Runs the connection's next statements as role `$1` (NULL: the session user, as `RESET
/// ROLE`) with statement timeout `$2` milliseconds (NULL: the server's default, as `RESET
/// statement_timeout`). `set_config` takes the role name as a value, so nothing is quoted
/// into SQL text.
pub const PREPARE_SESSION: &str = "SELECT pg_catalog.set_config('role', coalesce($1::text, 'none'), false), \
     pg_catalog.set_config('statement_timeout', coalesce($2::text, \
         (SELECT reset_val FROM pg_catalog.pg_settings WHERE name = 'statement_timeout')), false)";

/// Lifts the statement timeout before the session statement changes the settings (which runs
/// under the previous command's limit otherwise).
pub const LIFT_STATEMENT_TIMEOUT: &str = "SELECT pg_catalog.set_config('statement_timeout', '0', false)";

/// Every statement above, for tests and for `EXPLAIN`-style inspection.
pub const ALL: &[&str] = &[
    INSERT,
    UPDATE,
    DELETE,
    FIND_AND_MODIFY,
    FIND,
    AGGREGATE,
    LIST_COLLECTIONS,
    LIST_INDEXES,
    GET_MORE,
    DELETE_CURSORS,
    BACKENDS_LOCKING_COLLECTIONS,
    COUNT,
    DISTINCT,
    EXPLAIN,
    CREATE,
    DROP_COLLECTION,
    DROP_DATABASE,
    RENAME_COLLECTION,
    COLL_MOD,
    LIST_DATABASES,
    COLL_STATS,
    DB_STATS,
    CREATE_INDEXES,
    DROP_INDEXES,
    RE_INDEX,
    CREATE_USER,
    DROP_USER,
    UPDATE_USER,
    USERS_INFO,
    GRANT_ROLES_TO_USER,
    REVOKE_ROLES_FROM_USER,
    DROP_ALL_USERS_FROM_DATABASE,
    CREATE_ROLE,
    UPDATE_ROLE,
    DROP_ROLE,
    DROP_ALL_ROLES_FROM_DATABASE,
    ROLES_INFO,
    GRANT_ROLES_TO_ROLE,
    REVOKE_ROLES_FROM_ROLE,
    GRANT_PRIVILEGES_TO_ROLE,
    REVOKE_PRIVILEGES_FROM_ROLE,
    AUTHENTICATION_ROLE,
    SCRAM_SHA256_VERIFIER,
    SCRAM_SHA1_CREDENTIALS,
    CLUSTER_ACTIONS,
    CONNECTION_STATUS,
    BACKEND_PID,
    EXPORT_SNAPSHOT,
    CLUSTER_TIME_RECORD,
    INDEX_BUILD_PROGRESS,
    PREPARE_SESSION,
    LIFT_STATEMENT_TIMEOUT,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_single_calls() {
        for s in ALL {
            assert!(!s.contains(';'), "{s}");
            assert!(s.starts_with("SELECT") || s.starts_with("CALL"), "{s}");
        }
    }
}
