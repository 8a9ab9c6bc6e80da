// `#[pg_test]`s of the SQL surface of documentdb_core.
use pgrx::prelude::*;

fn text(sql: &str) -> Option<String> {
    Spi::get_one::<String>(sql).expect("query failed")
}

fn boolean(sql: &str) -> bool {
    Spi::get_one::<bool>(sql).expect("query failed").expect("NULL result")
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

#[pg_test]
fn arrow_returns_the_value_wrapped() {
    assert_eq!(
        text(r#"SELECT ('{"a": [1, {"b": 2}]}'::documentdb_core.bson -> 'a')::text"#).as_deref(),
        Some(r#"{ "" : [ { "$numberInt" : "1" }, { "b" : { "$numberInt" : "2" } } ] }"#)
    );
}

#[pg_test]
fn arrow_follows_dotted_paths_through_arrays() {
    assert_eq!(
        text(r#"SELECT ('{"a": [{"b": 1}, {"b": 2}, {"c": 3}]}'::documentdb_core.bson -> 'a.b')::text"#).as_deref(),
        Some(r#"{ "" : [ { "$numberInt" : "1" }, { "$numberInt" : "2" } ] }"#)
    );
    assert_eq!(
        text(r#"SELECT ('{"a": [10, 20]}'::documentdb_core.bson -> 'a.1')::text"#).as_deref(),
        Some(r#"{ "" : { "$numberInt" : "20" } }"#)
    );
    assert!(boolean(r#"SELECT ('{"a": 1}'::documentdb_core.bson -> 'b') IS NULL"#));
}

#[pg_test]
fn double_arrow_returns_castable_text() {
    assert_eq!(text(r#"SELECT '{"a": {"$numberInt": "10"}}'::documentdb_core.bson ->> 'a'"#).as_deref(), Some("10"));
    assert_eq!(text(r#"SELECT '{"a": "x"}'::documentdb_core.bson ->> 'a'"#).as_deref(), Some("x"));
    assert_eq!(text(r#"SELECT ('{"a": 12}'::documentdb_core.bson ->> 'a')::int::text"#).as_deref(), Some("12"));
    assert!(boolean(r#"SELECT ('{"a": null}'::documentdb_core.bson ->> 'a') IS NULL"#));
    assert_eq!(
        text(r#"SELECT documentdb_core.bson_get_value_text('{"a": "x"}', 'a', true)"#).as_deref(),
        Some(r#""x""#)
    );
}

// MongoDB compares numbers by value across types: {a: 1} equals {a: 1.0} and NumberLong(1).
#[pg_test]
fn equality_is_numeric_across_types_and_hashes_alike() {
    assert!(boolean(r#"SELECT '{"a": 1}'::documentdb_core.bson = '{"a": 1.0}'::documentdb_core.bson"#));
    assert!(boolean(
        r#"SELECT '{"a": {"$numberLong": "1"}}'::documentdb_core.bson = '{"a": {"$numberDecimal": "1.00"}}'::documentdb_core.bson"#
    ));
    assert!(boolean(
        r#"SELECT documentdb_core.bson_hash_int4('{"a": 1}') = documentdb_core.bson_hash_int4('{"a": 1.0}')"#
    ));
    assert!(boolean(
        r#"SELECT documentdb_core.bson_hash_int8('{"a": 1}', 7) = documentdb_core.bson_hash_int8('{"a": {"$numberDecimal": "1.0"}}', 7)"#
    ));
}

// BSON comparison order: MinKey < null < numbers < string < object < array < binData <
// ObjectId < bool < date < timestamp < regex < MaxKey.
#[pg_test]
fn sort_follows_the_bson_type_order() {
    let order = text(
        r#"SELECT string_agg(v::text, ' ' ORDER BY d) FROM (VALUES
            (1, '{"v": {"$maxKey": 1}}'::documentdb_core.bson),
            (2, '{"v": {"$regularExpression": {"pattern": "a", "options": ""}}}'),
            (3, '{"v": {"$timestamp": {"t": 1, "i": 1}}}'),
            (4, '{"v": {"$date": {"$numberLong": "0"}}}'),
            (5, '{"v": true}'),
            (6, '{"v": {"$oid": "000000000000000000000000"}}'),
            (7, '{"v": {"$binary": {"base64": "", "subType": "00"}}}'),
            (8, '{"v": []}'),
            (9, '{"v": {}}'),
            (10, '{"v": "a"}'),
            (11, '{"v": 1}'),
            (12, '{"v": null}'),
            (13, '{"v": {"$minKey": 1}}')) AS t(v, d)"#,
    );
    assert!(order.is_some());
    let sorted = text(
        r#"SELECT string_agg(n::text, ' ' ORDER BY d, n) FROM (VALUES
            (1, '{"v": {"$maxKey": 1}}'::documentdb_core.bson),
            (2, '{"v": {"$regularExpression": {"pattern": "a", "options": ""}}}'),
            (3, '{"v": {"$timestamp": {"t": 1, "i": 1}}}'),
            (4, '{"v": {"$date": {"$numberLong": "0"}}}'),
            (5, '{"v": true}'),
            (6, '{"v": {"$oid": "000000000000000000000000"}}'),
            (7, '{"v": {"$binary": {"base64": "", "subType": "00"}}}'),
            (8, '{"v": []}'),
            (9, '{"v": {}}'),
            (10, '{"v": "a"}'),
            (11, '{"v": 1}'),
            (12, '{"v": null}'),
            (13, '{"v": {"$minKey": 1}}')) AS t(n, d)"#,
    );
    assert_eq!(sorted.as_deref(), Some("13 12 11 10 9 8 7 6 5 4 3 2 1"));
}

#[pg_test]
fn btree_and_hash_indexes_use_mongodb_equality() {
    Spi::run("CREATE TEMP TABLE t (b documentdb_core.bson)").unwrap();
    Spi::run(r#"INSERT INTO t VALUES ('{"a": 1}'), ('{"a": 2}'), ('{"a": 1.0}')"#).unwrap();
    Spi::run("CREATE INDEX ON t USING hash (b)").unwrap();
    Spi::run("CREATE INDEX ON t USING btree (b)").unwrap();
    assert_eq!(
        Spi::get_one::<i64>(r#"SELECT count(*) FROM t WHERE b = '{"a": 1}'"#).unwrap(),
        Some(2)
    );
    assert_eq!(Spi::get_one::<i64>("SELECT count(DISTINCT b) FROM t").unwrap(), Some(2));
}

#[pg_test]
fn text_output_uses_canonical_extended_json_with_libbson_spacing() {
    assert_eq!(
        text(r#"SELECT '{"a": 1, "b": {}, "c": [], "d": 2.5, "e": {"$numberLong": "3"}}'::documentdb_core.bson::text"#)
            .as_deref(),
        Some(
            r#"{ "a" : { "$numberInt" : "1" }, "b" : { }, "c" : [ ], "d" : { "$numberDouble" : "2.5" }, "e" : { "$numberLong" : "3" } }"#
        )
    );
}

#[pg_test]
fn bsonhex_round_trips() {
    assert!(boolean(
        r#"SELECT documentdb_core.bson_hex_to_bson(documentdb_core.bson_to_bson_hex('{"a": "x"}'))::text = '{"a": "x"}'::documentdb_core.bson::text"#
    ));
    assert_eq!(text(r#"SELECT 'BSONHEX0500000000'::documentdb_core.bson::text"#).as_deref(), Some("{ }"));
}

#[pg_test]
fn bytea_casts_validate() {
    assert_eq!(
        text(r#"SELECT documentdb_core.bson_to_bytea('{}')::documentdb_core.bson::text"#).as_deref(),
        Some("{ }")
    );
    // A length prefix that lies about the size is rejected with InvalidBSON (22 -> M000M).
    assert_eq!(error_state(r"SELECT '\x0600000000'::bytea::documentdb_core.bson"), "M000M");
}

// Errors carry MongoDB codes as class-M SQLSTATEs: FailedToParse is 9 -> M0009.
#[pg_test]
fn malformed_json_is_failed_to_parse() {
    assert_eq!(error_state(r#"SELECT '{"a": }'::documentdb_core.bson"#), "M0009");
    assert_eq!(error_state(r#"SELECT '{"a": {"$numberInt": "x"}}'::documentdb_core.bson"#), "M0009");
}

#[pg_test]
fn nesting_beyond_100_levels_is_rejected() {
    // The top-level document plus 100 nested levels is the most MongoDB allows.
    let deep_ok = format!("{}1{}", r#"{"a":"#.repeat(101), "}".repeat(101));
    assert!(boolean(&format!("SELECT '{deep_ok}'::documentdb_core.bson IS NOT NULL")));
    let too_deep = format!("{}1{}", r#"{"a":"#.repeat(102), "}".repeat(102));
    assert_eq!(error_state(&format!("SELECT '{too_deep}'::documentdb_core.bson")), "M000F");
}

#[pg_test]
fn documents_over_16_mib_are_rejected() {
    assert_eq!(
        error_state(r#"SELECT ('{"a": "' || repeat('x', 17 * 1024 * 1024) || '"}')::documentdb_core.bson"#),
        "M07Z2"
    );
}

#[pg_test]
fn build_document_converts_sql_values() {
    assert_eq!(
        text(
            r#"SELECT documentdb_core.bson_build_document('i', 1, 'l', 2::int8, 'd', 1.5::float8, 't', 'x'::text,
                   'b', true, 'n', NULL::text, 'arr', ARRAY[1, 2], 'v', '{"": 5}'::documentdb_core.bson)::text"#
        )
        .as_deref(),
        Some(
            r#"{ "i" : { "$numberInt" : "1" }, "l" : { "$numberLong" : "2" }, "d" : { "$numberDouble" : "1.5" }, "t" : "x", "b" : true, "n" : null, "arr" : [ { "$numberInt" : "1" }, { "$numberInt" : "2" } ], "v" : { "$numberInt" : "5" } }"#
        )
    );
}

#[pg_test]
fn row_get_bson_keys_by_column() {
    assert_eq!(
        text(r#"WITH r AS (SELECT 1 AS a, 'x'::text AS b, 1.1::numeric AS c) SELECT documentdb_core.row_get_bson(r)::text FROM r"#)
            .as_deref(),
        Some(r#"{ "a" : { "$numberInt" : "1" }, "b" : "x", "c" : { "$numberDouble" : "1.1" } }"#)
    );
}

#[pg_test]
fn array_agg_collects_values() {
    assert_eq!(
        text(
            r#"SELECT documentdb_core.bson_array_agg(b, 'all')::text FROM (VALUES ('{"a": 1}'::documentdb_core.bson), ('{"": 2}')) t(b)"#
        )
        .as_deref(),
        Some(r#"{ "all" : [ { "a" : { "$numberInt" : "1" } }, { "$numberInt" : "2" } ] }"#)
    );
    assert!(boolean("SELECT documentdb_core.bson_array_agg(NULL::documentdb_core.bson, 'x') IS NULL FROM generate_series(1, 0)"));
}

#[pg_test]
fn json_and_jsonb_casts_use_relaxed_extended_json() {
    assert_eq!(
        text(r#"SELECT '{"a": 1, "b": [true, "x"]}'::documentdb_core.bson::jsonb::text"#).as_deref(),
        Some(r#"{"a": 1, "b": [true, "x"]}"#)
    );
    assert_eq!(
        text(r#"SELECT '{"a": 1}'::jsonb::documentdb_core.bson::text"#).as_deref(),
        Some(r#"{ "a" : { "$numberInt" : "1" } }"#)
    );
}

#[pg_test]
fn bsonsequence_round_trips() {
    assert_eq!(
        text(r#"SELECT '[{"a": 1}, {"b": 2}]'::documentdb_core.bsonsequence::text"#).as_deref(),
        Some(r#"[ { "a" : { "$numberInt" : "1" } }, { "b" : { "$numberInt" : "2" } } ]"#)
    );
    assert_eq!(
        Spi::get_one::<i64>(r#"SELECT count(*) FROM documentdb_core.bsonsequence_get_bson('[{"a": 1}, {"b": 2}]')"#).unwrap(),
        Some(2)
    );
}

#[pg_test]
fn object_keys_in_document_order() {
    assert_eq!(
        text(r#"SELECT string_agg(k, ',') FROM documentdb_core.bson_object_keys('{"b": 1, "a": 2}') k"#).as_deref(),
        Some("b,a")
    );
}

#[pg_test]
fn binary_send_is_raw_bytes() {
    assert_eq!(
        text(r#"SELECT encode(documentdb_core.bson_send('{}'), 'hex')"#).as_deref(),
        Some("0500000000")
    );
}

#[pg_test]
fn error_state_reports_postgres_codes() {
    assert_eq!(error_state("SELECT 1/0"), "22012");
}
