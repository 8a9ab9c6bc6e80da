//! `#[pg_test]`s of the SQL surface of documentdb_core.
use pgrx::prelude::*;

fn query_text(sql: &str) -> Option<String> {
    Spi::get_one::<String>(sql).expect("query failed")
}

#[pg_test]
fn arrow_returns_the_value_wrapped() {
    assert_eq!(
        query_text(r#"SELECT ('{"a": [1, {"b": 2}]}'::documentdb_core.bson -> 'a')::text"#).as_deref(),
        Some(r#"{ "" : [ { "$numberInt" : "1" }, { "b" : { "$numberInt" : "2" } } ] }"#)
    );
}
