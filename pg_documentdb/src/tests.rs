// `#[pg_test]`s of documentdb_api, mostly error paths: MongoDB codes travel as class-M
// SQLSTATEs (base 36) or as writeErrors entries.
use pgrx::prelude::*;

fn text(sql: &str) -> Option<String> {
    Spi::get_one::<String>(sql).expect("query failed")
}

/// The SQLSTATE `sql` fails with (caught in a PL/pgSQL exception block).
fn error_state(sql: &str) -> String {
    Spi::run(&format!(
        "DO $$ BEGIN EXECUTE {}; EXCEPTION WHEN OTHERS THEN PERFORM set_config('test.sqlstate', SQLSTATE, false); END $$",
        pgrx::spi::quote_literal(sql)
    ))
    .expect("DO block failed");
    text("SELECT current_setting('test.sqlstate', true)").unwrap_or_default()
}

fn sqlstate(code: i32) -> String {
    documentdb_errors::ErrorCode::new(code).sqlstate_str()
}

#[pg_test]
fn binary_version_is_the_crate_version() {
    assert_eq!(text("SELECT documentdb_api.binary_version()").as_deref(), Some(env!("CARGO_PKG_VERSION")));
}

#[pg_test]
fn duplicate_id_is_write_error_11000() {
    Spi::run(r#"SELECT documentdb_api.insert_one('t', 'c', '{"_id": 1}')"#).unwrap();
    let reply = text(
        r#"SELECT documentdb_core.bson_get_value_text(p_result, 'writeErrors.0.code') FROM documentdb_api.insert('t', '{"insert": "c", "documents": [{"_id": 1}]}')"#,
    );
    assert_eq!(reply.as_deref(), Some("11000"));
}

#[pg_test]
fn unknown_command_field_is_40415() {
    assert_eq!(
        error_state(r#"SELECT documentdb_api.find_cursor_first_page('t', '{"find": "c", "nope": 1}')"#),
        sqlstate(40415)
    );
}

#[pg_test]
fn unknown_query_operator_is_bad_value() {
    Spi::run(r#"SELECT documentdb_api.insert_one('t', 'c', '{"_id": 1}')"#).unwrap();
    assert_eq!(
        error_state(r#"SELECT documentdb_api.find_cursor_first_page('t', '{"find": "c", "filter": {"a": {"$nope": 1}}}')"#),
        sqlstate(2)
    );
}

// Errors raised by our SQL functions while the executor runs a generated query keep their
// MongoDB code (pgrx would otherwise turn them into XX000 when crossing SPI).
#[pg_test]
fn evaluation_errors_inside_sql_keep_their_code() {
    Spi::run(r#"SELECT documentdb_api.insert_one('t', 'c', '{"_id": 1, "a": 1}')"#).unwrap();
    assert_eq!(
        error_state(
            r#"SELECT documentdb_api.aggregate_cursor_first_page('t', '{"aggregate": "c", "pipeline": [{"$project": {"x": {"$divide": ["$a", 0]}}}], "cursor": {}}')"#
        ),
        sqlstate(2)
    );
}

#[pg_test]
fn invalid_namespace_is_73() {
    assert_eq!(error_state("SELECT documentdb_api.create_collection('a.b', 'c')"), sqlstate(73));
    assert_eq!(error_state("SELECT documentdb_api.create_collection('db', '')"), sqlstate(73));
}

#[pg_test]
fn create_existing_collection_is_48() {
    Spi::run("SELECT documentdb_api.create_collection('t', 'c')").unwrap();
    assert_eq!(error_state(r#"SELECT documentdb_api.create_collection_view('t', '{"create": "c"}')"#), sqlstate(48));
}

#[pg_test]
fn missing_collection_operations_are_26() {
    assert_eq!(error_state(r#"SELECT documentdb_api.coll_mod('t', 'missing', '{"collMod": "missing"}')"#), sqlstate(26));
    assert_eq!(error_state("SELECT documentdb_api.rename_collection('t', 'missing', 'x')"), sqlstate(26));
}

#[pg_test]
fn immutable_id_is_write_error_66() {
    Spi::run(r#"SELECT documentdb_api.insert_one('t', 'c', '{"_id": 1}')"#).unwrap();
    let code = text(
        r#"SELECT documentdb_core.bson_get_value_text(p_result, 'writeErrors.0.code') FROM documentdb_api.update('t', '{"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"_id": 2}}}]}')"#,
    );
    assert_eq!(code.as_deref(), Some("66"));
}

#[pg_test]
fn get_more_without_cursor_is_43() {
    assert_eq!(
        error_state(r#"SELECT documentdb_api.cursor_get_more('t', '{"getMore": {"$numberLong": "5"}, "collection": "c"}', NULL)"#),
        sqlstate(43)
    );
    assert_eq!(
        error_state(
            r#"SELECT documentdb_api.cursor_get_more('t', '{"getMore": {"$numberLong": "5"}, "collection": "c"}', '{"v": 1, "ns": "t.c", "remaining": {"$numberLong": "-1"}, "kind": "portal", "portal": "documentdb_cursor_5"}')"#
        ),
        sqlstate(43)
    );
}

#[pg_test]
fn killed_cursor_is_gone() {
    Spi::run(r#"SELECT documentdb_api.insert('t', '{"insert": "c", "documents": [{"_id": 1}, {"_id": 2}, {"_id": 3}]}')"#)
        .unwrap();
    let id = Spi::get_one::<i64>(
        r#"SELECT cursorid FROM documentdb_api.find_cursor_first_page('t', '{"find": "c", "sort": {"_id": 1}, "batchSize": 1}', 9)"#,
    )
    .unwrap();
    assert_eq!(id, Some(9));
    assert_eq!(
        text("SELECT array_to_string(documentdb_api_internal.delete_cursors(ARRAY[9, 10]::bigint[]), ',')").as_deref(),
        Some("9")
    );
}

/// A statement we run may call our functions, which prepare statements of their own; when
/// those fill the plan cache past its cap, the plan still executing must not be freed (it
/// crashed the backend: SPI reads the plan after its run returns).
#[pg_test]
fn nested_statements_filling_the_plan_cache_keep_the_running_plan() {
    Spi::run(r#"SELECT documentdb_api.insert_one('evict', 'c', '{"_id": 1}')"#).unwrap();
    let table = text(
        "SELECT 'documentdb_data.documents_' || collection_id FROM documentdb_api_catalog.collections \
         WHERE database_name = 'evict' AND collection_name = 'c'",
    )
    .expect("collection table");
    let get_more = r#"{"getMore": {"$numberLong": "5"}, "collection": "c"}"#;
    // 700 distinct statements, each run by a nested getMore of a scan continuation.
    let nested_continuation = format!(
        r#"{{"v": 1, "ns": "evict.c", "remaining": {{"$numberLong": "-1"}}, "kind": "scan", "sql": "SELECT document, ctid FROM {table} WHERE ctid > $1 AND %s = %s", "params": [], "block": {{"$numberLong": "0"}}, "offset": 0}}"#
    );
    let running = format!(
        "SELECT document, ctid FROM {table} WHERE ctid > $1 AND (SELECT count(*) FROM generate_series(1, 700) g, \
         LATERAL documentdb_api.cursor_get_more('evict', '{get_more}', format('{nested_continuation}', g, g)::documentdb_core.bson)) = 700"
    );
    let json_string = running.replace('\\', "\\\\").replace('"', "\\\"");
    let continuation = format!(
        r#"{{"v": 1, "ns": "evict.c", "remaining": {{"$numberLong": "-1"}}, "kind": "scan", "sql": "{json_string}", "params": [], "block": {{"$numberLong": "0"}}, "offset": 0}}"#
    );
    for _ in 0..3 {
        let batch = text(&format!(
            "SELECT documentdb_core.bson_get_value_text(cursorpage, 'cursor.nextBatch.0._id') \
             FROM documentdb_api.cursor_get_more('evict', '{get_more}', {})",
            pgrx::spi::quote_literal(&continuation)
        ));
        assert_eq!(batch.as_deref(), Some("1"));
    }
}

#[pg_test]
fn invalid_bson_continuation_is_rejected() {
    assert_eq!(
        error_state(
            r#"SELECT documentdb_api.cursor_get_more('t', '{"getMore": {"$numberLong": "5"}, "collection": "c"}', '{"bogus": 1}')"#
        ),
        sqlstate(2)
    );
}

#[pg_test]
fn users_are_roles_with_scram_verifiers() {
    Spi::run(r#"SELECT documentdb_api.create_user('{"createUser": "u1", "pwd": "pw", "roles": ["readWrite"]}')"#).unwrap();
    assert_eq!(
        text("SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'u1'").as_deref(),
        Some("SCRAM-SHA-256$")
    );
    assert_eq!(
        error_state(r#"SELECT documentdb_api.create_user('{"createUser": "u1", "pwd": "pw", "roles": []}')"#),
        sqlstate(51003)
    );
    assert_eq!(
        error_state(r#"SELECT documentdb_api.create_user('{"createUser": "u2", "pwd": "pw", "roles": ["nosuchrole"]}')"#),
        sqlstate(31)
    );
    Spi::run(r#"SELECT documentdb_api.drop_user('{"dropUser": "u1"}')"#).unwrap();
    assert_eq!(error_state(r#"SELECT documentdb_api.drop_user('{"dropUser": "u1"}')"#), sqlstate(11));
}

#[pg_test]
fn explain_reports_a_winning_plan() {
    Spi::run(r#"SELECT documentdb_api.insert_one('t', 'c', '{"_id": 1}')"#).unwrap();
    let plan = text(
        r#"SELECT documentdb_core.bson_get_value_text(documentdb_api_internal.explain('t', '{"explain": {"find": "c"}, "verbosity": "queryPlanner"}'), 'queryPlanner.winningPlan.stage')"#,
    );
    assert_eq!(plan.as_deref(), Some("COLLSCAN"));
}

fn count_of(db: &str, coll: &str) -> i64 {
    Spi::get_one::<i64>(&format!(
        "SELECT count(*) FROM documentdb_api.collection({}, {})",
        pgrx::spi::quote_literal(db),
        pgrx::spi::quote_literal(coll)
    ))
    .expect("count failed")
    .unwrap_or(-1)
}

fn find_count(db: &str, coll: &str) -> Option<String> {
    text(&format!(
        r#"SELECT documentdb_core.bson_get_value_text(document, 'n') FROM documentdb_api.count_query({}, '{{"count": "{coll}"}}')"#,
        pgrx::spi::quote_literal(db)
    ))
}

// Collection lookups are cached per backend; every catalog change (our commands, a rolled
// back subtransaction, a hand-made UPDATE) must be seen by the next command.
#[pg_test]
fn cached_collection_lookups_follow_catalog_changes() {
    assert_eq!(find_count("cache", "a").as_deref(), Some("0")); // caches "no such collection"
    Spi::run(r#"SELECT documentdb_api.insert_one('cache', 'a', '{"_id": 1}')"#).unwrap();
    assert_eq!(find_count("cache", "a").as_deref(), Some("1"));
    Spi::run(r#"SELECT documentdb_api.rename_collection('cache', 'a', 'b')"#).unwrap();
    assert_eq!(find_count("cache", "a").as_deref(), Some("0"));
    assert_eq!(find_count("cache", "b").as_deref(), Some("1"));
    Spi::run("SELECT documentdb_api.drop_collection('cache', 'b')").unwrap();
    assert_eq!(find_count("cache", "b").as_deref(), Some("0"));
    Spi::run(r#"SELECT documentdb_api.insert_one('cache', 'b', '{"_id": 2}')"#).unwrap();
    Spi::run(r#"SELECT documentdb_api.insert_one('cache', 'b', '{"_id": 3}')"#).unwrap();
    assert_eq!(find_count("cache", "b").as_deref(), Some("2"));
    // A collection created in a subtransaction that rolls back does not linger in the cache.
    Spi::run(
        r#"DO $$ BEGIN
             PERFORM documentdb_api.insert_one('cache', 'gone', '{"_id": 1}');
             PERFORM documentdb_api.count_query('cache', '{"count": "gone"}');
             RAISE EXCEPTION 'roll back';
           EXCEPTION WHEN OTHERS THEN NULL; END $$"#,
    )
    .unwrap();
    assert_eq!(find_count("cache", "gone").as_deref(), Some("0"));
    assert_eq!(count_of("cache", "gone"), 0);
    // Changes made by hand to the catalog are seen too.
    Spi::run("UPDATE documentdb_api_catalog.collections SET collection_name = 'c' WHERE database_name = 'cache' AND collection_name = 'b'").unwrap();
    assert_eq!(find_count("cache", "b").as_deref(), Some("0"));
    assert_eq!(find_count("cache", "c").as_deref(), Some("2"));
}
